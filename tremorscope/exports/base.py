"""What every export shares: the writer interface, choosing sessions, clock times, private atomic
files, diary windows.

Exports hold health data. Files are written owner-only (0600) under a temporary name and
renamed into place, so an interrupted export never leaves a half-written file that looks
complete; folders created for them are 0700. Existing files are never overwritten unless
the caller says so.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, Protocol

import pandas as pd

from tremorscope.paths import make_private_dirs
from tremorscope.store import Store


class ExportError(ValueError):
    """An export cannot be written; ``str()`` is one line saying what to do."""


class Exporter(Protocol):
    """What every export writer is: the log (one session, or all that are not re-analyses) to
    ``out``, returning the files written. Format-specific options are keyword arguments with
    defaults (BIDS: ``subject``)."""

    def __call__(
        self,
        store: Store,
        out: str | Path,
        *,
        session_id: int | None = None,
        progress: Callable[[float], None] | None = None,
        force: bool = False,
    ) -> list[Path]: ...


@dataclass(frozen=True)
class SessionSpan:
    """One session to export: its row, the session holding its raw samples, its clock."""

    session_id: int
    row: dict[str, Any]
    raw_session_id: int | None  # itself, its re-analysis parent, or None (no raw samples)
    start_time: datetime | None  # wall clock of the first sample, when the recording had one

    @property
    def t_start_s(self) -> float | None:
        v = self.row.get("t_start_s")
        return None if v is None else float(v)

    @property
    def t_end_s(self) -> float | None:
        v = self.row.get("t_end_s")
        return None if v is None else float(v)

    def wall(self, t_s: float) -> datetime | None:
        """Wall-clock time of recording time ``t_s`` (None without a start time)."""
        if self.start_time is None or self.t_start_s is None:
            return None
        return self.start_time + timedelta(seconds=float(t_s) - self.t_start_s)

    def wall_span(self) -> tuple[datetime, datetime] | None:
        """Wall-clock first and last sample, when known."""
        if self.start_time is None or self.t_start_s is None or self.t_end_s is None:
            return None
        return self.start_time, self.start_time + timedelta(seconds=self.t_end_s - self.t_start_s)


def parse_iso(text: Any) -> datetime | None:
    """An ISO 8601 text from the log as a datetime (None when missing or unreadable)."""
    if text is None or (isinstance(text, float) and text != text) or not str(text).strip():
        return None
    try:
        return datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def select_sessions(store: Store, session_id: int | None) -> list[SessionSpan]:
    """The session asked for, or every session that is not a re-analysis (oldest first)."""
    if session_id is not None:
        ids = [session_id]
    else:
        df = store.sessions()
        ids = [int(r.id) for r in df.itertuples() if (r.mode or "") != "reanalysis"]
    spans = []
    for sid in ids:
        row = store.session(sid)
        if row is None:
            raise ExportError(f"no session {sid} in {store.path}; `tremorscope sessions` lists them")
        spans.append(SessionSpan(sid, row, store.raw_session_id(sid), parse_iso(row.get("start_time"))))
    if not spans:
        raise ExportError(f"no sessions in {store.path} to export; record or replay one first")
    return spans


def diary_for(store: Store, span: SessionSpan, *, same_days: bool = False) -> pd.DataFrame:
    """Diary entries during the session (``same_days``: on the calendar days it covers).

    Entries are returned only for sessions with a wall clock; times compare as instants.
    """
    ws = span.wall_span()
    if ws is None:
        return store.diary().iloc[0:0]
    start, end = ws
    start = _aware(start)
    end = _aware(end)
    if same_days:
        start = start.replace(hour=0, minute=0, second=0, microsecond=0)
        end = end.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    else:
        end = end + timedelta(microseconds=1)
    return store.diary(start, end)


def _aware(dt: datetime) -> datetime:
    """A naive recording time (zone unknown) is taken as this machine's local time."""
    return dt if dt.tzinfo is not None else dt.astimezone()


def check_target(path: Path, force: bool) -> None:
    """Refuse to replace an existing file unless ``force``."""
    if path.exists() and not force:
        raise ExportError(f"{path} already exists; choose another OUT or pass --force to replace it")
    if path.is_dir():
        raise ExportError(f"{path} is a folder; choose another OUT")


def is_file_target(path: Path, suffix: str | None, fmt: str) -> bool:
    """Whether OUT names a file (True) or a folder (False), by what it looks like.

    A path ending in the format's file ``suffix`` (``.edf``) is that file; an existing folder,
    or a new name without a suffix, is a folder that gets the default file names. Anything
    else (``out/x.txt`` for EDF+, ``x.csv`` for the CSV folder) is refused with a clear error
    instead of silently becoming a folder named like a file.
    """
    if path.is_dir():
        return False
    if suffix is not None and path.name.lower().endswith(suffix) and len(path.name) > len(suffix):
        return True
    what = f"a {suffix} file or a folder" if suffix else "a folder"
    if path.exists():
        raise ExportError(f"{path} exists and is not a folder; {fmt} export writes {what}")
    if path.suffix:
        hint = f"end it in {suffix} or " if suffix else ""
        raise ExportError(
            f"OUT {path} looks like a {path.suffix} file, but {fmt} export writes {what}; "
            f"{hint}give a folder name without a suffix"
        )
    return False


def private_dir(path: Path) -> Path:
    """Create ``path`` (0700 for the folders created) and return it."""
    if path.exists() and not path.is_dir():
        raise ExportError(f"{path} exists and is not a folder; choose another OUT")
    try:
        make_private_dirs(path)
    except OSError as e:
        raise ExportError(f"cannot create folder {path}: {e.strerror or e}; choose another OUT") from None
    return path


@contextlib.contextmanager
def private_file(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Write ``path`` owner-only via a temporary file renamed into place on success."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if "b" in mode:
            f: IO[Any] = os.fdopen(fd, "wb")
        else:
            f = io.TextIOWrapper(os.fdopen(fd, "wb"), encoding="utf-8", newline="")
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: Path, text: str) -> Path:
    """Write a small text file privately and atomically."""
    with private_file(path) as f:
        f.write(text)
    return path


def write_json(path: Path, data: Any) -> Path:
    """Write JSON (indented, UTF-8) privately and atomically."""
    return write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def temp_path_for(path: Path) -> Path:
    """A private temporary file beside ``path`` (for writers that need a file name)."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def progress_steps(total: int, progress: Callable[[float], None] | None) -> Callable[[int], None]:
    """A rows-written callback that reports the fraction of ``total`` done (at most 1) to
    ``progress`` (or to nothing)."""
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(min(done / total, 1.0))

    return step
