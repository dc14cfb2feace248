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

The posture scenarios (phase 2) append :data:`CONTRACTION_COLUMNS`:
``direction`` (clinical name), ``ramp_s`` (onset ramp), ``hold_onset`` (s,
plateau start), ``hold_s`` and ``co_contraction_g`` (tremor amplitude during
the hold, 0 if none); their ``angle_deg`` is the plateau deviation from
neutral on contraction rows and the peak excursion of voluntary head moves.
Other scenarios keep exactly :data:`EVENT_COLUMNS`.
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

#: Extra columns of the posture scenarios' events files, after EVENT_COLUMNS.
CONTRACTION_COLUMNS: tuple[str, ...] = ("direction", "ramp_s", "hold_onset", "hold_s", "co_contraction_g")

_ORDER = {name: i for i, name in enumerate(TRIAL_TYPES)}
_NUMERIC = (
    "onset",
    "duration",
    "frequency_hz",
    "amplitude_g",
    "displacement_cm",
    "regularity",
    "angle_deg",
    "ramp_s",
    "hold_onset",
    "hold_s",
    "co_contraction_g",
)


def events_frame(rows: Iterable[TruthRow], duration_s: float, contraction: bool = False) -> pd.DataFrame:
    """Rows clipped to ``[0, duration_s]`` and sorted by onset, as a DataFrame.

    ``contraction`` adds :data:`CONTRACTION_COLUMNS` (the posture scenarios).
    """
    columns = [*EVENT_COLUMNS, *(CONTRACTION_COLUMNS if contraction else ())]
    records = []
    for r in rows:
        start = max(0.0, r.onset_s)
        end = min(duration_s, r.onset_s + r.duration_s)
        if end <= start:
            continue
        extra = {}
        if contraction:
            hold_s = min(end, r.hold_onset_s + r.hold_s) - r.hold_onset_s  # NaN unless a contraction
            extra = {
                "direction": r.direction,
                "ramp_s": _num(r.ramp_s, 3),
                "hold_onset": _num(r.hold_onset_s, 3),
                "hold_s": _num(hold_s if not hold_s < 0.0 else 0.0, 3),
                "co_contraction_g": _num(r.co_contraction_g, 6),
            }
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
                **extra,
            }
        )
    frame = pd.DataFrame.from_records(records, columns=columns)
    if len(frame):
        frame["_order"] = frame["trial_type"].map(_ORDER)
        frame = frame.sort_values(["onset", "_order"], kind="stable").drop(columns="_order")
    frame = frame.reset_index(drop=True)
    for c in _NUMERIC:
        if c in frame.columns:
            frame[c] = frame[c].astype(np.float64)
    return frame


def _num(v: float, digits: int) -> float:
    return round(float(v), digits) if v is not None and math.isfinite(v) else math.nan


def write_events(events: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write the events table as a tab-separated file with ``n/a`` for missing values.

    Columns: :data:`EVENT_COLUMNS`, then whichever :data:`CONTRACTION_COLUMNS` ``events`` has.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    columns = [*EVENT_COLUMNS, *(c for c in CONTRACTION_COLUMNS if c in events.columns)]
    events.loc[:, columns].to_csv(
        out, sep="\t", index=False, na_rep="n/a", lineterminator="\n", float_format="%.6g"
    )
    return out


def read_events(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read an ``events.tsv`` written by :func:`write_events` (``n/a`` becomes NaN/None)."""
    frame = pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False)
    missing = [c for c in ("onset", "duration", "trial_type") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: not an events file: missing column(s) {', '.join(missing)}")
    for c in ("context", "direction"):
        if c in frame.columns:
            frame[c] = frame[c].astype(object).where(frame[c].notna(), None)
    return frame


def events_path_for(recording_path: str | os.PathLike[str]) -> Path:
    """``REC.csv(.gz)`` -> ``REC.events.tsv`` beside it."""
    p = Path(recording_path)
    name = p.name
    for suffix in (".gz", ".csv"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return p.with_name(name + ".events.tsv")
