"""The batch's output folder: one folder per recording, and the cohort tables built from them.

::

    OUT/recordings/<key>/episodes.csv, minutes.csv, quality.json   (quality.json written last)
    OUT/quality.parquet + .csv     one row per recording: ok, partial or a one-line error
    OUT/episodes.parquet + .csv    every episode, with its recording and person
    OUT/cohort.parquet + .csv      per person and day: tremor minutes, contractions, frequency

A recording's folder is complete exactly when its ``quality.json`` exists: it is written last,
through a temporary file and a rename, so a crash leaves no half result that looks finished.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dsp import EPISODE_COLUMNS
from tremorscope.cohort.analyse import RecordingResult

QUALITY_FILE = "quality.json"
#: Statuses that are final: a later run skips these recordings (errors and partial reads are
#: tried again, in case the file or the reader was fixed).
DONE_STATUSES = ("ok",)
#: Seconds per day, for day numbers of recordings without a wall clock.
DAY_S = 86_400.0
COHORT_COLUMNS = (
    "person",
    "day",
    "recordings",
    "observed_min",
    "tremor_min",
    "tremor_episodes",
    "dominant_hz",
    "contraction_count",
    "contraction_s",
    "contraction_median_s",
)


def recording_dir(out: Path, key: str) -> Path:
    return out / "recordings" / key


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_result(out: Path, result: RecordingResult) -> None:
    """Write one recording's files, its quality record last."""
    d = recording_dir(out, result.key)
    d.mkdir(parents=True, exist_ok=True)
    if result.quality.get("status") != "error":
        _atomic_write(d / "episodes.csv", result.episodes.to_csv(index=False, lineterminator="\n"))
        _atomic_write(d / "minutes.csv", result.minutes.to_csv(index=False, lineterminator="\n"))
    _atomic_write(d / QUALITY_FILE, json.dumps(_jsonable(result.quality), indent=1, sort_keys=True) + "\n")


def read_result(out: Path, key: str) -> RecordingResult | None:
    """A finished recording's result, or None when it is not finished (or not ok)."""
    d = recording_dir(out, key)
    try:
        quality = json.loads((d / QUALITY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if quality.get("status") not in DONE_STATUSES:
        return None
    try:
        episodes = pd.read_csv(d / "episodes.csv")
        minutes = pd.read_csv(d / "minutes.csv")
    except (OSError, ValueError, pd.errors.EmptyDataError):
        return None
    return RecordingResult(key, str(quality.get("path")), quality, episodes, minutes, skipped=True)


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        out[k] = v
    return out


def _day(start_time: object, minute_start_s: float, t0_s: float) -> str:
    if isinstance(start_time, str) and start_time:
        return start_time[:10]  # ISO 8601: the recording's own (local) date
    return f"day {int((minute_start_s - t0_s) // DAY_S) + 1}"


def cohort_table(results: list[RecordingResult]) -> pd.DataFrame:
    """Per person and day: observed and tremor minutes, tremor episodes and their dominant
    frequency (duration-weighted median), contraction count and durations."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in results:
        if r.quality.get("status") == "error":
            continue
        person = str(r.quality.get("person") or r.quality.get("recording"))
        m = r.minutes
        t0 = float(m["minute_start_s"].min()) if len(m) else 0.0
        if len(m):
            days = [_day(s, float(t), t0) for s, t in zip(m["start_time"], m["minute_start_s"])]
            tremor = 1.0 - m["none_frac"].astype(float) - m["unknown_frac"].astype(float)
            observed = 1.0 - m["unknown_frac"].astype(float)
            for day, obs, tre in zip(days, observed, tremor):
                row = _row(rows, person, day, r.key)
                row["observed_min"] += float(obs)
                row["tremor_min"] += max(0.0, float(tre))
        e = r.episodes
        for ep in e.itertuples(index=False) if len(e) else ():
            day = _day(ep.start_time, float(ep.start_s), t0)
            row = _row(rows, person, day, r.key)
            if ep.kind == "tremor":
                row["_hz"].append((float(ep.dominant_hz), float(ep.duration_s)))
            else:
                row["_con"].append(float(ep.duration_s))
    out = []
    for row in rows.values():
        hz = [(f, w) for f, w in row.pop("_hz") if math.isfinite(f)]
        con = row.pop("_con")
        row["recordings"] = len(row.pop("_keys"))
        row["tremor_episodes"] = len(hz)
        row["dominant_hz"] = _weighted_median(hz)
        row["contraction_count"] = len(con)
        row["contraction_s"] = float(sum(con))
        row["contraction_median_s"] = float(np.median(con)) if con else math.nan
        out.append(row)
    frame = pd.DataFrame(out, columns=list(COHORT_COLUMNS))
    return frame.sort_values(["person", "day"], kind="stable").reset_index(drop=True)


def _row(rows: dict, person: str, day: str, key: str) -> dict[str, Any]:
    row = rows.setdefault(
        (person, day),
        {
            "person": person,
            "day": day,
            "observed_min": 0.0,
            "tremor_min": 0.0,
            "_hz": [],
            "_con": [],
            "_keys": set(),
        },
    )
    row["_keys"].add(key)
    return row


def _weighted_median(pairs: list[tuple[float, float]]) -> float:
    if not pairs:
        return math.nan
    pairs = sorted(pairs)
    weights = np.array([max(w, 0.0) for _, w in pairs])
    if weights.sum() <= 0:
        return float(np.median([f for f, _ in pairs]))
    cum = np.cumsum(weights)
    return float(pairs[int(np.searchsorted(cum, cum[-1] / 2))][0])


def all_episodes(results: list[RecordingResult]) -> pd.DataFrame:
    """Every episode of the cohort, with its recording, key and person first."""
    parts = []
    for r in results:
        if len(r.episodes):
            e = r.episodes.copy()
            e.insert(0, "person", r.quality.get("person"))
            e.insert(0, "key", r.key)
            e.insert(0, "recording", r.quality.get("recording"))
            parts.append(e)
    if not parts:
        return pd.DataFrame(columns=["recording", "key", "person", *EPISODE_COLUMNS])
    return pd.concat(parts, ignore_index=True)


def write_tables(out: Path, results: list[RecordingResult]) -> dict[str, Path]:
    """The cohort's tables as Parquet (pyarrow) and CSV; returns the Parquet paths by name."""
    quality = pd.DataFrame([_jsonable(r.quality) for r in results])
    tables = {"quality": quality, "episodes": all_episodes(results), "cohort": cohort_table(results)}
    paths = {}
    for name, frame in tables.items():
        frame.to_parquet(out / f"{name}.parquet.tmp", engine="pyarrow", index=False)
        os.replace(out / f"{name}.parquet.tmp", out / f"{name}.parquet")
        _atomic_write(out / f"{name}.csv", frame.to_csv(index=False, lineterminator="\n"))
        paths[name] = out / f"{name}.parquet"
    return paths
