"""CSV export: episodes, per-minute summaries and raw samples as separate files.

Layout of ``OUT/``::

    episodes.csv            the episode CSV contract (header = EPISODE_COLUMNS)
    minutes.csv             session_id + MINUTE_COLUMNS, one row per minute
    gaps.csv                session_id, start_s, end_s, origin
    diary.csv               id, at, kind, text, session_id (the recording covering the entry,
                            empty outside recordings), outside_recordings (True/False): every
                            entry when all sessions are exported, else those on the session's days
    sessions.csv            one row per session (what was recorded, how, link quality)
    datapackage.json        every table's column types (Frictionless Table Schema), so even an
                            empty table reads back typed (:func:`csv_schema.read_table`)
    samples/session-N.csv.gz  raw samples: a header row and one row per sample, nothing else
    samples/session-N.json    their metadata (rate, placement, device, start time, units)

Every CSV is plain (one header row, no comment lines), so ``pd.read_csv``, spreadsheets and
R's ``read.csv`` open it as it is. The raw sample files are canonical recordings
(``recordings/README.md``) whose metadata sits in the JSON sidecar instead of ``#`` lines,
so ``tremorscope replay`` reads them back (it still reads the older ``#`` form too). A
re-analysis has no raw samples of its own; its file holds the samples it re-ran.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from dsp.events import EPISODE_COLUMNS, MINUTE_COLUMNS
from firmware_bridge.io.recording import ACC_COLUMNS, GYRO_COLUMNS, WRITE_DECIMALS, sidecar_path
from tremorscope.exports.base import (
    ExportError,
    SessionSpan,
    check_target,
    diary_for,
    is_file_target,
    private_dir,
    private_file,
    progress_steps,
    select_sessions,
    write_json,
)
from tremorscope.exports.csv_schema import PACKAGE_FILE, datapackage
from tremorscope.review.diary import covering_session, recorded_spans
from tremorscope.store import Store
from tremorscope.tables import write_episodes_csv

#: Session columns exported (pid and host name stay in the log: they identify a machine).
SESSION_EXPORT_COLUMNS = (
    "id", "mode", "parent_session_id", "source", "device", "placement", "sample_rate_hz",
    "effective_rate_hz", "has_gyro", "start_time", "t_start_s", "t_end_s", "samples", "gaps",
    "gap_s", "skipped_missing", "skipped_time", "dropped", "malformed", "status", "error",
    "started_at", "ended_at", "app_version", "config_json", "extra_json",
)  # fmt: skip
GAP_EXPORT_COLUMNS = ("session_id", "start_s", "end_s", "origin")
DIARY_EXPORT_COLUMNS = ("id", "at", "kind", "text", "session_id", "outside_recordings")
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
    is_file_target(out_dir, None, "CSV")  # a folder: refuses OUT names that look like files
    spans = select_sessions(store, session_id)
    targets = [out_dir / n for n in TABLE_FILES] + [out_dir / PACKAGE_FILE]
    for s in spans:
        if s.raw_session_id:
            targets += [out_dir / "samples" / samples_name(s.session_id)]
            targets += [sidecar_path(targets[-1])]
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
    diary = diary_table(store, spans, every=session_id is None)
    sessions = pd.DataFrame([{c: s.row.get(c) for c in SESSION_EXPORT_COLUMNS} for s in spans])
    for name, df, cols in (
        ("minutes.csv", minutes, ["session_id", *MINUTE_COLUMNS]),
        ("gaps.csv", gaps, list(GAP_EXPORT_COLUMNS)),
        ("diary.csv", diary, list(DIARY_EXPORT_COLUMNS)),
        ("sessions.csv", sessions, list(SESSION_EXPORT_COLUMNS)),
    ):
        with private_file(out_dir / name) as f:
            _write_table(df, cols, f)
    written += [out_dir / n for n in TABLE_FILES]
    write_json(out_dir / PACKAGE_FILE, datapackage(table_columns()))
    written.append(out_dir / PACKAGE_FILE)

    total = sum(store.sample_count(s.raw_session_id) for s in spans if s.raw_session_id) or 1
    step = progress_steps(total, progress)
    for span in spans:
        if span.raw_session_id is None:
            continue
        path = out_dir / "samples" / samples_name(span.session_id)
        write_samples_csv(store, span, path, on_rows=step)
        written += [path, sidecar_path(path)]
    if progress is not None:
        progress(1.0)
    return written


def table_columns() -> dict[str, tuple[str, ...]]:
    """Each exported table's columns, in file order (what ``datapackage.json`` describes)."""
    return {
        "episodes.csv": tuple(EPISODE_COLUMNS),
        "minutes.csv": ("session_id", *MINUTE_COLUMNS),
        "gaps.csv": GAP_EXPORT_COLUMNS,
        "diary.csv": DIARY_EXPORT_COLUMNS,
        "sessions.csv": SESSION_EXPORT_COLUMNS,
    }


def diary_table(store: Store, spans: list[SessionSpan], *, every: bool) -> pd.DataFrame:
    """Diary rows to export (all, or those on the sessions' calendar days), each with the
    recording covering it: a note made while no sensor was on is listed, not dropped."""
    if every:
        diary = store.diary()
    else:
        diary = pd.concat([diary_for(store, s, same_days=True) for s in spans], ignore_index=True)
        diary = diary.drop_duplicates("id").sort_values(["at"], kind="stable") if len(diary) else diary
    recorded = recorded_spans(store)
    covering = [covering_session(recorded, datetime.fromisoformat(str(a))) for a in diary["at"]]
    diary = diary.assign(
        session_id=pd.array(covering, dtype="Int64"), outside_recordings=[c is None for c in covering]
    )
    return diary.reset_index(drop=True)


def _write_table(df: pd.DataFrame, cols: list[str], f: io.TextIOBase) -> None:
    """CSV with a header, '' for missing values, floats in full precision."""
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(cols)
    for rec in df.reindex(columns=cols).itertuples(index=False):
        writer.writerow([_cell(v) for v in rec])


def _cell(v: object) -> object:
    if v is None or v is pd.NA or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    if isinstance(v, (np.floating, float)):
        return repr(float(v))
    if isinstance(v, np.integer):
        return int(v)
    return v


def recording_meta(span: SessionSpan) -> dict[str, object]:
    """The canonical recording metadata of a session's raw samples (its JSON sidecar)."""
    row = span.row
    meta: dict[str, object] = {"sample_rate_hz": float(row.get("sample_rate_hz") or 0)}
    if row.get("placement"):
        meta["placement"] = str(row["placement"])
    if row.get("device"):
        meta["device"] = " ".join(str(row["device"]).split())
    if span.start_time is not None:
        meta["start_time"] = span.start_time.isoformat()
    meta["units"] = "t=s acc=g gyro=deg/s" if row.get("has_gyro") else "t=s acc=g"
    meta["tremorscope_session"] = span.session_id
    if span.raw_session_id != span.session_id:
        meta["raw_samples_of_session"] = span.raw_session_id
    return meta


def write_samples_csv(
    store: Store, span: SessionSpan, path: Path, *, on_rows: Callable[[int], None] | None = None
) -> Path:
    """Stream a session's raw samples to ``path`` (gzip, plain CSV) and its metadata to the JSON
    sidecar beside it (:func:`~firmware_bridge.io.recording.sidecar_path`)."""
    if span.raw_session_id is None:
        raise ExportError(f"session {span.session_id} has no raw samples to export")
    write_json(sidecar_path(path), recording_meta(span))
    with private_file(path, "wb") as raw:
        gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0)
        text = io.TextIOWrapper(gz, encoding="utf-8", newline="")
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
