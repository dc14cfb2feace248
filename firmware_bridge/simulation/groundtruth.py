"""Ground truth as a BIDS-style events table (``REC.events.tsv``).

Columns: ``onset`` and ``duration`` (s, on the recording's ``t`` clock),
``trial_type``, then ``frequency_hz``, ``amplitude_g`` (zero-to-peak of the
oscillating acceleration, vector magnitude), ``displacement_cm``
(amplitude_g * 9.80665 / (2 pi f)^2 * 100), ``regularity`` (coefficient of
variation of the cycle periods: about 0.03 for parkinsonian or essential
tremor, 0.15-0.25 for dystonic tremor), ``context`` (rest, posture or movement,
for tremor) and ``angle_deg`` (zero-to-peak rotation of the tremor joint, so a
gyroscope sees about 2 pi f angle_deg). Missing values are written ``n/a`` as
BIDS asks (BIDS specification, "Tabular files" and "Task events").
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from firmware_bridge.simulation.activities import TRIAL_TYPES, TruthRow

EVENT_COLUMNS: tuple[str, ...] = (
    "onset",
    "duration",
    "trial_type",
    "frequency_hz",
    "amplitude_g",
    "displacement_cm",
    "regularity",
    "context",
    "angle_deg",
)

_ORDER = {name: i for i, name in enumerate(TRIAL_TYPES)}


def events_frame(rows: Iterable[TruthRow], duration_s: float) -> pd.DataFrame:
    """Rows clipped to ``[0, duration_s]`` and sorted by onset, as a DataFrame."""
    records = []
    for r in rows:
        start = max(0.0, r.onset_s)
        end = min(duration_s, r.onset_s + r.duration_s)
        if end <= start:
            continue
        records.append(
            {
                "onset": round(start, 3),
                "duration": round(end - start, 3),
                "trial_type": r.trial_type,
                "frequency_hz": _num(r.frequency_hz, 3),
                "amplitude_g": _num(r.amplitude_g, 6),
                "displacement_cm": _num(r.displacement_cm, 6),
                "regularity": _num(r.regularity, 3),
                "context": r.context if r.context else None,
                "angle_deg": _num(r.angle_deg, 5),
            }
        )
    frame = pd.DataFrame.from_records(records, columns=list(EVENT_COLUMNS))
    if len(frame):
        frame["_order"] = frame["trial_type"].map(_ORDER)
        frame = frame.sort_values(["onset", "_order"], kind="stable").drop(columns="_order")
    frame = frame.reset_index(drop=True)
    for c in (
        "onset",
        "duration",
        "frequency_hz",
        "amplitude_g",
        "displacement_cm",
        "regularity",
        "angle_deg",
    ):
        frame[c] = frame[c].astype(np.float64)
    return frame


def _num(v: float, digits: int) -> float:
    return round(float(v), digits) if v is not None and math.isfinite(v) else math.nan


def write_events(events: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write the events table as a tab-separated file with ``n/a`` for missing values."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    events.loc[:, list(EVENT_COLUMNS)].to_csv(
        out, sep="\t", index=False, na_rep="n/a", lineterminator="\n", float_format="%.6g"
    )
    return out


def read_events(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read an ``events.tsv`` written by :func:`write_events` (``n/a`` becomes NaN/None)."""
    frame = pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False)
    missing = [c for c in ("onset", "duration", "trial_type") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: not an events file: missing column(s) {', '.join(missing)}")
    if "context" in frame.columns:
        frame["context"] = frame["context"].astype(object).where(frame["context"].notna(), None)
    return frame


def events_path_for(recording_path: str | os.PathLike[str]) -> Path:
    """``REC.csv(.gz)`` -> ``REC.events.tsv`` beside it."""
    p = Path(recording_path)
    name = p.name
    for suffix in (".gz", ".csv"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return p.with_name(name + ".events.tsv")
