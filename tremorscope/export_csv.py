"""CSV export: episodes, per-minute summaries and raw samples as separate files.

Layout of ``OUT/``::

    episodes.csv            the episode CSV contract (header = EPISODE_COLUMNS)
    minutes.csv             session_id + MINUTE_COLUMNS, one row per minute
    gaps.csv                session_id, start_s, end_s, origin
    diary.csv               id, at, kind, text (entries on the sessions' calendar days)
    sessions.csv            one row per session (what was recorded, how, link quality)
    samples/session-N.csv.gz  raw samples in the canonical recording format

The raw sample files are canonical recordings (``recordings/README.md``) with the session's
metadata lines, so ``tremorscope replay`` reads them back. A re-analysis has no raw samples
of its own; its file holds the samples it re-ran.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from dsp.events import MINUTE_COLUMNS
from firmware_bridge.recording import ACC_COLUMNS, GYRO_COLUMNS, WRITE_DECIMALS
from tremorscope.exports import (
    ExportError,
    SessionSpan,
    check_target,
    diary_for,
    private_dir,
    private_file,
    progress_steps,
    select_sessions,
)
from tremorscope.store import Store
from tremorscope.tables import write_episodes_csv

#: Session columns exported (pid and host name stay in the log: they identify a machine).
SESSION_EXPORT_COLUMNS = (
    "id", "mode", "parent_session_id", "source", "device", "placement", "sample_rate_hz",
    "effective_rate_hz", "has_gyro", "start_time", "t_start_s", "t_end_s", "samples", "gaps",
    "gap_s", "skipped_missing", "skipped_time", "dropped", "malformed", "status", "error",
    "started_at", "ended_at", "app_version", "config_json", "extra_json",
)  # fmt: skip
TABLE_FILES = ("episodes.csv", "minutes.csv", "gaps.csv", "diary.csv", "sessions.csv")


def samples_name(session_id: int) -> str:
    """File name of a session's raw samples inside ``OUT/samples``."""
    return f"session-{session_id}.csv.gz"


def export_csv(
    store: Store,
    out: str | Path,
    *,
    session_id: int | None = None,
    progress: Callable[[float], None] | None = None,
    force: bool = False,
) -> list[Path]:
    """Write the CSV export of one session (or all that are not re-analyses) into ``out``."""
    out_dir = Path(out)
    spans = select_sessions(store, session_id)
    targets = [out_dir / n for n in TABLE_FILES]
    targets += [out_dir / "samples" / samples_name(s.session_id) for s in spans if s.raw_session_id]
    for t in targets:
        check_target(t, force)
    private_dir(out_dir)
    ids = [s.session_id for s in spans]
    written: list[Path] = []

    episodes = pd.concat([store.episodes(i) for i in ids], ignore_index=True)
    with private_file(out_dir / "episodes.csv") as f:
        write_episodes_csv(episodes, f)
    minutes = pd.concat([store.minutes(i) for i in ids], ignore_index=True)
    gaps = pd.concat([store.gaps(i) for i in ids], ignore_index=True)
    diary = pd.concat([diary_for(store, s, same_days=True) for s in spans], ignore_index=True)
    diary = diary.drop_duplicates("id").sort_values(["at"], kind="stable") if len(diary) else diary
    sessions = pd.DataFrame([{c: s.row.get(c) for c in SESSION_EXPORT_COLUMNS} for s in spans])
    for name, df, cols in (
        ("minutes.csv", minutes, ["session_id", *MINUTE_COLUMNS]),
        ("gaps.csv", gaps, ["session_id", "start_s", "end_s", "origin"]),
        ("diary.csv", diary, ["id", "at", "kind", "text"]),
        ("sessions.csv", sessions, list(SESSION_EXPORT_COLUMNS)),
    ):
        with private_file(out_dir / name) as f:
            _write_table(df, cols, f)
    written += [out_dir / n for n in TABLE_FILES]

    total = sum(store.sample_count(s.raw_session_id) for s in spans if s.raw_session_id) or 1
    step = progress_steps(total, progress)
    for span in spans:
        if span.raw_session_id is None:
            continue
        path = out_dir / "samples" / samples_name(span.session_id)
        write_samples_csv(store, span, path, on_rows=step)
        written.append(path)
    if progress is not None:
        progress(1.0)
    return written


def _write_table(df: pd.DataFrame, cols: list[str], f: io.TextIOBase) -> None:
    """CSV with a header, '' for missing values, floats in full precision."""
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(cols)
    for rec in df.reindex(columns=cols).itertuples(index=False):
        writer.writerow([_cell(v) for v in rec])


def _cell(v: object) -> object:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    if isinstance(v, (np.floating, float)):
        return repr(float(v))
    if isinstance(v, np.integer):
        return int(v)
    return v


def recording_meta(span: SessionSpan) -> dict[str, str]:
    """The canonical ``# key: value`` lines for a session's raw samples."""
    row = span.row
    meta = {"sample_rate_hz": f"{float(row.get('sample_rate_hz') or 0):g}"}
    if row.get("placement"):
        meta["placement"] = str(row["placement"])
    if row.get("device"):
        meta["device"] = " ".join(str(row["device"]).split())
    if span.start_time is not None:
        meta["start_time"] = span.start_time.isoformat()
    meta["units"] = "t=s acc=g gyro=deg/s" if row.get("has_gyro") else "t=s acc=g"
    meta["tremorscope_session"] = str(span.session_id)
    if span.raw_session_id != span.session_id:
        meta["raw_samples_of_session"] = str(span.raw_session_id)
    return meta


def write_samples_csv(
    store: Store, span: SessionSpan, path: Path, *, on_rows: Callable[[int], None] | None = None
) -> Path:
    """Stream a session's raw samples to ``path`` (gzip) as a canonical recording."""
    if span.raw_session_id is None:
        raise ExportError(f"session {span.session_id} has no raw samples to export")
    with private_file(path, "wb") as raw:
        gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0)
        text = io.TextIOWrapper(gz, encoding="utf-8", newline="")
        for k, v in recording_meta(span).items():
            text.write(f"# {k}: {v}\n")
        header_done = False
        for block in store.iter_samples(span.raw_session_id):
            cols = {"t": block.t}
            cols.update({c: block.acc[:, i] for i, c in enumerate(ACC_COLUMNS)})
            if block.gyro is not None:
                cols.update({c: block.gyro[:, i] for i, c in enumerate(GYRO_COLUMNS)})
            frame = pd.DataFrame(cols).round({c: WRITE_DECIMALS[c] for c in cols})
            frame.to_csv(text, index=False, header=not header_done, lineterminator="\n")
            header_done = True
            if on_rows is not None:
                on_rows(len(block))
        text.flush()
        text.detach()
        gz.close()
    return path
