"""The episode log: one SQLite file with sessions, episodes, minute summaries, gaps and raw samples.

Why SQLite: one private file, readable while a session is writing (WAL), and robust to a
process being killed (everything committed survives; commits happen at least once per
wall-clock second while a session runs, so a crash loses at most the last second).

The file holds health data: it is created readable by its owner only (0600, and so are its
``-wal``/``-shm`` companions, which SQLite creates with the main file's mode), and any folder
created for it is 0700. Nothing here opens a network listener.

This module opens the file and writes it (sessions, raw samples, detector output, commits).
The schema and its migrations are in :mod:`~tremorscope.store.schema`, the raw chunk codec in
:mod:`~tremorscope.store.chunks`, reading back in :mod:`~tremorscope.store.queries`, diary and
calibrations in :mod:`~tremorscope.store.records`.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from dsp.events import Episode, Gap, MinuteSummary
from firmware_bridge.samples import SampleBlock
from tremorscope.paths import make_private_dirs
from tremorscope.store.chunks import CHUNK_CODEC, decode_chunk, encode_chunk
from tremorscope.store.private import Tightened, tighten_log_files
from tremorscope.store.queries import LogQueries
from tremorscope.store.records import PatientRecords
from tremorscope.store.rows import _float_or_none, _locked, now_iso
from tremorscope.store.schema import (
    COMPLETE,
    INTERRUPTED,
    RUNNING,
    SESSION_STATUSES,
    StoreError,
    check_contract_columns,
    check_identity,
    migrate,
)

DEFAULT_CHUNK_ROWS = 4096
DEFAULT_COMMIT_INTERVAL_S = 1.0


def pid_alive(pid: int | None) -> bool:
    """Whether process ``pid`` on this machine is still running (zombies count as dead)."""
    if pid is None or pid <= 0:
        return False
    if sys.platform == "win32":  # os.kill(pid, 0) would send CTRL_C_EVENT on Windows
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return kernel32.GetLastError() == 5  # ERROR_ACCESS_DENIED: exists, not ours
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # Linux: a killed child not yet reaped is a zombie, i.e. dead
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@dataclass
class _Pending:
    """Raw samples received but not yet written as a chunk."""

    blocks: list[SampleBlock] = field(default_factory=list)
    rows: int = 0
    has_gyro: bool | None = None


# Columns a caller may set through begin_session/update_session/finish_session.
_SESSION_WRITABLE = {
    "mode", "source", "device", "placement", "sample_rate_hz", "has_gyro", "start_time",
    "ended_at", "t_start_s", "t_end_s", "samples", "gaps", "gap_s", "skipped_missing",
    "skipped_time", "status", "error", "config_json", "app_version", "notes", "extra_json",
    "pid", "host", "dropped", "malformed", "effective_rate_hz", "parent_session_id",
}  # fmt: skip


class Store(LogQueries, PatientRecords):
    """An open episode log. Use as a context manager.

    Writes are buffered in a transaction: call :meth:`commit`, or :meth:`maybe_commit` after
    each block, to make them durable. While a session runs, :meth:`start_autocommit` also
    commits from a background thread at least every ``commit_interval_s``, so data is durable
    within a second even when the source goes quiet. Methods are serialised by a lock.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        commit_interval_s: float = DEFAULT_COMMIT_INTERVAL_S,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
    ) -> None:
        self.path = Path(path)
        self.commit_interval_s = float(commit_interval_s)
        self.chunk_rows = int(chunk_rows)
        self._pending: dict[int, _Pending] = {}
        self._next_seq: dict[int, int] = {}
        self._last_commit = time.monotonic()
        self._lock = threading.RLock()
        self._ac_thread: threading.Thread | None = None
        self._ac_stop = threading.Event()
        self._ac_error: BaseException | None = None
        #: Files of an existing log that others could read, made 0600 on open (tell the user once).
        self.tightened: list[Tightened] = []
        self.conn = self._open(create)
        self.interrupted_on_open = self.mark_dead_sessions()

    # ----- opening

    def _open(self, create: bool) -> sqlite3.Connection:
        p = self.path
        if p.is_dir():
            raise StoreError(f"{p} is a folder; pass a file path such as {p / 'tremorscope.db'}")
        exists = p.exists()
        if not exists and not create:
            raise StoreError(
                f"no episode log at {p} yet; run `tremorscope demo` or `tremorscope replay REC` "
                "first, or pass --db"
            )
        if not exists:
            try:
                make_private_dirs(p.parent)
            except OSError as e:
                raise StoreError(
                    f"cannot create folder {p.parent} for the episode log: {e.strerror}; "
                    "pass --db with a writable path"
                ) from None
        if exists:  # before SQLite opens it, so companions it creates get the tightened mode
            self.tightened = tighten_log_files(p)
        old_umask = os.umask(0o077)  # the db, -wal and -shm are created owner-only
        try:
            try:
                conn = sqlite3.connect(str(p), isolation_level=None, timeout=10.0, check_same_thread=False)
            except sqlite3.Error as e:
                raise StoreError(
                    f"cannot open episode log {p}: {e}; pass --db with a writable path"
                ) from None
            try:
                check_identity(conn, p)
                conn.execute("PRAGMA busy_timeout = 10000")
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"cannot put episode log {p} in WAL mode (got {mode})")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA foreign_keys = ON")
                migrate(conn)
            except sqlite3.DatabaseError as e:
                conn.close()
                raise StoreError(f"cannot use {p} as an episode log: {e}; pass another --db path") from None
            except BaseException:
                conn.close()
                raise
        finally:
            os.umask(old_umask)
        if not exists:
            for suffix in ("", "-wal", "-shm"):
                q = Path(str(p) + suffix)
                if q.exists():
                    os.chmod(q, 0o600)
        check_contract_columns(conn)
        return conn

    # ----- lifecycle

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Commit what is pending and close the file."""
        self.stop_autocommit()
        with self._lock:
            if self.conn is None:
                return
            try:
                self.commit()
            finally:
                self.conn.close()
                self.conn = None  # type: ignore[assignment]

    @property
    @_locked
    def version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def start_autocommit(self, before_commit: Callable[[], None] | None = None) -> None:
        """Commit pending writes from a background thread at least every ``commit_interval_s``.

        ``before_commit`` runs (under the store lock) just before each such commit, e.g. to
        write a running session's progress. Errors stop the thread and are raised by the
        next :meth:`commit`.
        """
        if self._ac_thread is not None:
            return
        self._ac_stop.clear()
        self._ac_thread = threading.Thread(
            target=self._autocommit_loop, args=(before_commit,), name="tremorscope-autocommit",
            daemon=True,
        )  # fmt: skip
        self._ac_thread.start()

    def stop_autocommit(self) -> None:
        """Stop the background committer (pending writes stay pending until :meth:`commit`)."""
        thread, self._ac_thread = self._ac_thread, None
        if thread is not None:
            self._ac_stop.set()
            thread.join()

    def _autocommit_loop(self, before_commit: Callable[[], None] | None) -> None:
        period_s = max(self.commit_interval_s / 4.0, 0.02)
        while not self._ac_stop.wait(period_s):
            with self._lock:
                if self.conn is None:
                    return
                if not self.commit_due() or not (self.conn.in_transaction or self._pending):
                    continue
                try:
                    if before_commit is not None:
                        before_commit()
                    self.commit()
                except BaseException as e:  # noqa: BLE001 - handed to the writer thread
                    self._ac_error = e
                    return

    def _tx(self) -> None:
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN")

    @_locked
    def commit(self) -> None:
        """Write pending raw chunks and make everything durable."""
        if self._ac_error is not None:
            err, self._ac_error = self._ac_error, None
            raise err
        for sid in list(self._pending):
            self._flush_samples(sid)
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")
        self._last_commit = time.monotonic()

    def commit_due(self) -> bool:
        """True when the last commit is at least ``commit_interval_s`` of wall clock ago."""
        return time.monotonic() - self._last_commit >= self.commit_interval_s

    @_locked
    def maybe_commit(self) -> bool:
        """Commit if one is due (call after every block); returns whether it committed."""
        if self.commit_due():
            self.commit()
            return True
        return False

    # ----- sessions

    @_locked
    def begin_session(self, source: str, **fields: Any) -> int:
        """Open a session row in state ``running`` (committed at once) and return its id."""
        row = {"source": str(source), "started_at": now_iso(), "status": RUNNING}
        row.update({"pid": os.getpid(), "host": socket.gethostname()})
        row.update(self._session_fields(fields))
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self._tx()
        sql = f"INSERT INTO sessions ({cols}) VALUES ({marks})"
        cur = self.conn.execute(sql, list(row.values()))
        sid = int(cur.lastrowid)
        self._next_seq[sid] = 0
        self.commit()
        return sid

    @staticmethod
    def _session_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(fields) - _SESSION_WRITABLE)
        if unknown:
            raise ValueError(f"unknown session column(s): {', '.join(unknown)}")
        out: dict[str, Any] = {}
        for k, v in fields.items():
            if k == "status" and v not in SESSION_STATUSES:
                raise ValueError(f"session status must be one of {SESSION_STATUSES}, not {v!r}")
            if k == "extra_json" and v is not None and not isinstance(v, str):
                v = json.dumps(v, default=str, sort_keys=True)
            if k == "start_time" and isinstance(v, datetime):
                v = v.isoformat()
            if k == "has_gyro" and v is not None:
                v = int(bool(v))
            if isinstance(v, (float, np.floating)):
                v = _float_or_none(v)
            elif isinstance(v, np.integer):
                v = int(v)
            out[k] = v
        return out

    @_locked
    def update_session(self, session_id: int, **fields: Any) -> None:
        """Set session columns (in the current transaction; commit to make durable)."""
        row = self._session_fields(fields)
        if not row:
            return
        sets = ", ".join(f"{k} = ?" for k in row)
        self._tx()
        self.conn.execute(f"UPDATE sessions SET {sets} WHERE id = ?", [*row.values(), session_id])

    @_locked
    def merge_session_extra(self, session_id: int, values: Mapping[str, Any]) -> None:
        """Set keys of a session's ``extra_json`` object, keeping the others (not committed)."""
        row = self.conn.execute("SELECT extra_json FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise ValueError(f"no session {session_id}")
        try:
            extra = json.loads(row[0]) if row[0] else {}
        except json.JSONDecodeError:
            extra = {}
        if not isinstance(extra, dict):
            extra = {}
        extra.update(values)
        self.update_session(session_id, extra_json=extra)

    @_locked
    def finish_session(self, session_id: int, status: str = COMPLETE, **fields: Any) -> None:
        """Close a session: write remaining samples, totals, final status; commit.

        The ``gaps``/``gap_s`` totals count the detector's gaps (what the analysis saw). Link
        gaps the bridge noticed (origin ``bridge``) describe the same holes from the sensor's
        side; they stay in the gaps table for the data-quality report but are not added again.
        """
        self._flush_samples(session_id)
        n_gaps, gap_s = self.conn.execute(
            "SELECT count(*), COALESCE(sum(end_s - start_s), 0) FROM gaps "
            "WHERE session_id = ? AND origin = 'detector'",
            (session_id,),
        ).fetchone()
        totals: dict[str, Any] = {"gaps": n_gaps, "gap_s": gap_s}
        totals.update(fields)
        totals.update(status=status, ended_at=now_iso())
        self.update_session(session_id, **totals)
        self.commit()

    @_locked
    def mark_dead_sessions(self) -> list[int]:
        """Mark ``running`` sessions whose writer process is gone as ``interrupted``.

        Totals are recomputed from what was actually committed (raw chunks and gaps).
        Sessions written from another host are left alone. Returns the ids marked.
        """
        host = socket.gethostname()
        rows = self.conn.execute("SELECT id, pid, host FROM sessions WHERE status = ?", (RUNNING,)).fetchall()
        dead = [sid for sid, pid, h in rows if (h is None or h == host) and not pid_alive(pid)]
        for sid in dead:
            n, t0, t1 = self.conn.execute(
                "SELECT COALESCE(sum(n), 0), min(t0), max(t1) FROM samples WHERE session_id = ?",
                (sid,),
            ).fetchone()
            fields: dict[str, Any] = {}
            if t0 is not None:  # a session without raw chunks (re-analysis) keeps its counts
                fields.update(samples=n, t_start_s=t0, t_end_s=t1)
            fields["error"] = "the recording process ended without closing the session"
            self.finish_session(sid, INTERRUPTED, **fields)
        return dead

    # ----- raw samples

    @_locked
    def add_samples(self, session_id: int, block: SampleBlock) -> None:
        """Buffer raw samples; they are written as chunks of up to ``chunk_rows`` at commit."""
        n = len(block)
        if n == 0:
            return
        p = self._pending.setdefault(session_id, _Pending())
        if p.has_gyro is not None and p.has_gyro != block.has_gyro:
            self._flush_samples(session_id)
            p = self._pending.setdefault(session_id, _Pending())
        p.blocks.append(block)
        p.rows += n
        p.has_gyro = block.has_gyro
        if p.rows >= self.chunk_rows:
            self._flush_samples(session_id)

    def _flush_samples(self, session_id: int) -> None:
        p = self._pending.pop(session_id, None)
        if p is None or not p.blocks:
            return
        t = np.concatenate([b.t for b in p.blocks])
        acc = np.concatenate([b.acc for b in p.blocks])
        gyro = np.concatenate([b.gyro for b in p.blocks]) if p.has_gyro else None
        seq = self._next_seq.get(session_id)
        if seq is None:
            seq = self.conn.execute(
                "SELECT COALESCE(max(seq) + 1, 0) FROM samples WHERE session_id = ?", (session_id,)
            ).fetchone()[0]
        self._tx()
        for start in range(0, len(t), self.chunk_rows):
            sl = slice(start, start + self.chunk_rows)
            blk = SampleBlock(t[sl], acc[sl], None if gyro is None else gyro[sl])
            self.conn.execute(
                "INSERT INTO samples (session_id, seq, t0, t1, n, has_gyro, codec, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id, seq, float(blk.t[0]), float(blk.t[-1]), len(blk),
                    int(blk.has_gyro), CHUNK_CODEC, encode_chunk(blk),
                ),
            )  # fmt: skip
            seq += 1
        self._next_seq[session_id] = seq

    def iter_samples(self, session_id: int) -> Iterator[SampleBlock]:
        """The session's raw samples, chunk by chunk, in arrival order."""
        with self._lock:
            self._flush_samples(session_id)
        last = -1
        while True:
            with self._lock:
                row = self.conn.execute(
                    "SELECT seq, n, has_gyro, codec, data FROM samples "
                    "WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT 1",
                    (session_id, last),
                ).fetchone()
            if row is None:
                return
            last = row[0]
            yield decode_chunk(row[4], int(row[1]), bool(row[2]), row[3])

    @_locked
    def sample_count(self, session_id: int) -> int:
        """Raw samples stored for a session (including ones not yet committed by this store)."""
        n = self.conn.execute(
            "SELECT COALESCE(sum(n), 0) FROM samples WHERE session_id = ?", (session_id,)
        ).fetchone()[0]
        p = self._pending.get(session_id)
        return int(n) + (p.rows if p else 0)

    # ----- detector output

    @_locked
    def upsert_episode(
        self, session_id: int, episode: Episode, *, open: bool, updated_at_s: float | None = None
    ) -> None:
        """Insert or update an episode: started/updated events keep it open, ended closes it."""
        row = episode.as_row(session_id)
        row = {k: (_float_or_none(v) if isinstance(v, float) else v) for k, v in row.items()}
        row["open"] = int(bool(open))
        row["updated_at_s"] = _float_or_none(updated_at_s)
        cols = list(row)
        keys = ("session_id", "episode_id")
        sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in keys)
        self._tx()
        self.conn.execute(
            f"INSERT INTO episodes ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)}) "
            f"ON CONFLICT (session_id, episode_id) DO UPDATE SET {sets}",
            list(row.values()),
        )

    @_locked
    def upsert_minute(self, session_id: int, minute: MinuteSummary) -> None:
        """Insert or replace the summary of one minute."""
        row = {"session_id": session_id, **minute.as_row()}
        row = {k: (_float_or_none(v) if isinstance(v, float) else v) for k, v in row.items()}
        cols = list(row)
        sets = ", ".join(f"{c} = excluded.{c}" for c in cols[2:])
        self._tx()
        self.conn.execute(
            f"INSERT INTO minutes ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)}) "
            f"ON CONFLICT (session_id, minute_start_s) DO UPDATE SET {sets}",
            list(row.values()),
        )

    @_locked
    def add_gap(self, session_id: int, gap: Gap, origin: str = "detector") -> None:
        """Record a stretch with no data (``origin``: who noticed it, detector or bridge)."""
        self._tx()
        self.conn.execute(
            "INSERT INTO gaps (session_id, start_s, end_s, origin) VALUES (?, ?, ?, ?)",
            (session_id, float(gap.start_s), float(gap.end_s), origin),
        )
