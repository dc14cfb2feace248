"""The episode log: one SQLite file with sessions, episodes, minute summaries, gaps and raw samples.

Why SQLite: one private file, readable while a session is writing (WAL), and robust to a
process being killed (everything committed survives; commits happen at least once per
wall-clock second while a session runs, so a crash loses at most the last second).

The file holds health data: it is created readable by its owner only (0600, and so are its
``-wal``/``-shm`` companions, which SQLite creates with the main file's mode), and any folder
created for it is 0700. Nothing here opens a network listener.

Schema changes go through :data:`MIGRATIONS`: append a function, never edit an old one. The
file's ``PRAGMA user_version`` is the number of migrations applied.

Raw samples are stored as compact chunks: ``t`` as float64 (exact), acceleration and angular
rate as float32 (relative precision 6e-8: about 1e-6 g at 16 g and 1e-4 deg/s at 2000 deg/s,
far finer than any MEMS sensor's quantisation), each column byte-shuffled and zlib-compressed.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sqlite3
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from dsp.events import EPISODE_COLUMNS, MINUTE_COLUMNS, Episode, Gap, MinuteSummary
from firmware_bridge.samples import SampleBlock
from tremorscope.paths import make_private_dirs

#: ``PRAGMA application_id`` of a tremorscope log ("TRMS"), so we never write into a stranger's db.
APPLICATION_ID = 0x54524D53
#: Session states.
RUNNING, COMPLETE, INTERRUPTED = "running", "complete", "interrupted"
SESSION_STATUSES = (RUNNING, COMPLETE, INTERRUPTED)
#: Raw chunk codec: byte-shuffled float64 t + float32 acc (+ float32 gyro) columns, zlib.
CHUNK_CODEC = "shuf-zlib-1"
DEFAULT_CHUNK_ROWS = 4096
DEFAULT_COMMIT_INTERVAL_S = 1.0
_ZLIB_LEVEL = 6

# The episode and minute contracts as of migration 1 (frozen: a column appended later to
# EPISODE_COLUMNS or MINUTE_COLUMNS needs a migration that adds it; _check_contract_columns
# refuses to run without one).
_V1_EPISODE_COLUMNS = (
    "session_id", "episode_id", "kind", "start_s", "end_s", "duration_s", "detected_at_s",
    "start_time", "dominant_hz", "band", "stability", "amplitude_g", "amplitude_dps",
    "displacement_cm", "severity", "context", "peak_angle_deg", "mean_angle_deg", "direction",
    "onset_speed_dps", "co_contraction",
)  # fmt: skip
_V1_MINUTE_FRACTIONS = (
    "none_frac", "slight_frac", "mild_frac", "moderate_frac", "strong_frac", "unknown_frac",
    "contraction_frac",
)  # fmt: skip
_EPISODE_TEXT = {"kind", "start_time", "band", "severity", "context", "direction"}
_EPISODE_INT = {"session_id", "episode_id"}


class StoreError(Exception):
    """A problem with the episode log file, as one line that says what to do next."""


# --------------------------------------------------------------------------- migrations


def _m1_core_log(conn: sqlite3.Connection) -> None:
    """Sessions, episodes (the CSV contract columns), minutes, gaps and raw sample chunks."""
    ep_cols = []
    for c in _V1_EPISODE_COLUMNS:
        if c == "session_id":
            ep_cols.append("session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE")
        elif c in _EPISODE_INT:
            ep_cols.append(f"{c} INTEGER NOT NULL")
        elif c in _EPISODE_TEXT:
            ep_cols.append(f"{c} TEXT")
        else:
            ep_cols.append(f"{c} REAL")
    min_cols = ["minute_start_s REAL NOT NULL", "start_time TEXT"]
    min_cols += [f"{c} REAL" for c in _V1_MINUTE_FRACTIONS]
    statements = [
        """CREATE TABLE sessions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            mode TEXT NOT NULL DEFAULT 'replay',   -- replay | demo | live | reanalysis
            source TEXT NOT NULL,                   -- recording path or device name/address
            device TEXT,
            placement TEXT,
            sample_rate_hz REAL,
            has_gyro INTEGER,
            start_time TEXT,        -- ISO wall clock of the recording's first sample, if known
            started_at TEXT NOT NULL,  -- ISO wall clock when processing started
            ended_at TEXT,
            t_start_s REAL,         -- recording clock of the first and last sample
            t_end_s REAL,
            samples INTEGER NOT NULL DEFAULT 0,
            gaps INTEGER NOT NULL DEFAULT 0,
            gap_s REAL NOT NULL DEFAULT 0,
            skipped_missing INTEGER NOT NULL DEFAULT 0,
            skipped_time INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'complete', 'interrupted')),
            error TEXT,             -- why the session ended early, one line
            config_json TEXT,       -- the detector configuration used
            app_version TEXT,
            notes TEXT,
            extra_json TEXT         -- anything else the source knows (metadata, firmware...)
        )""",
        f"CREATE TABLE episodes ({', '.join(ep_cols)}, "
        "open INTEGER NOT NULL DEFAULT 0, updated_at_s REAL, "
        "PRIMARY KEY (session_id, episode_id))",
        "CREATE INDEX episodes_by_start ON episodes (session_id, start_s)",
        "CREATE TABLE minutes (session_id INTEGER NOT NULL REFERENCES sessions(id) "
        f"ON DELETE CASCADE, {', '.join(min_cols)}, PRIMARY KEY (session_id, minute_start_s))",
        """CREATE TABLE gaps (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            start_s REAL NOT NULL,
            end_s REAL NOT NULL,
            origin TEXT NOT NULL DEFAULT 'detector'  -- detector | bridge
        )""",
        "CREATE INDEX gaps_by_session ON gaps (session_id, start_s)",
        """CREATE TABLE samples (
            session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            t0 REAL NOT NULL,
            t1 REAL NOT NULL,
            n INTEGER NOT NULL,
            has_gyro INTEGER NOT NULL,
            codec TEXT NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (session_id, seq)
        )""",
    ]
    for s in statements:
        conn.execute(s)


def _m2_liveness_and_quality(conn: sqlite3.Connection) -> None:
    """Who is writing a running session (to spot dead ones), link quality, re-analysis parent."""
    for s in (
        "ALTER TABLE sessions ADD COLUMN pid INTEGER",
        "ALTER TABLE sessions ADD COLUMN host TEXT",
        "ALTER TABLE sessions ADD COLUMN dropped INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE sessions ADD COLUMN malformed INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE sessions ADD COLUMN effective_rate_hz REAL",
        "ALTER TABLE sessions ADD COLUMN parent_session_id INTEGER REFERENCES sessions(id)",
        "CREATE INDEX sessions_by_status ON sessions (status)",
    ):
        conn.execute(s)


#: Applied in order; ``PRAGMA user_version`` = how many have been applied. Append only.
def _m3_diary_and_reanalysis(conn: sqlite3.Connection) -> None:
    """The patient diary (by wall clock, not by session) and quick lookup of re-analyses.

    A re-analysis is a session with ``mode = 'reanalysis'``, ``parent_session_id`` = the
    session whose raw samples it re-ran, and the settings it used in ``config_json``.
    """
    conn.execute(
        """CREATE TABLE diary (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,          -- ISO 8601 wall clock with the UTC offset it was lived in
            at_utc TEXT NOT NULL,      -- the same instant in UTC, fixed width, so it sorts
            kind TEXT NOT NULL,        -- medication | botox | dbs | stress | fatigue | sleep | other
            text TEXT NOT NULL,
            created_at TEXT NOT NULL   -- when the entry was written
        )"""
    )
    conn.execute("CREATE INDEX diary_by_time ON diary (at_utc)")
    conn.execute("CREATE INDEX sessions_by_parent ON sessions (parent_session_id)")


def _m4_calibrations(conn: sqlite3.Connection) -> None:
    """Stored neutral postures per device and placement (``tremorscope calibrate``).

    Later sessions of the same device and placement use the newest one as their neutral.
    """
    conn.execute(
        """CREATE TABLE calibrations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            device TEXT NOT NULL,      -- the sessions' device name (sensor type, or the recording's)
            placement TEXT NOT NULL,   -- neck | wrist | hand | leg | ...
            neutral_g TEXT NOT NULL,   -- JSON [x, y, z]: gravity direction in the sensor frame, g
            created_at TEXT NOT NULL,  -- ISO 8601 wall clock when it was stored
            source TEXT NOT NULL,      -- the recording or live link it was measured from
            seconds REAL,              -- length of the still period averaged
            details_json TEXT          -- stillness measures, sample rate, gyroscope present
        )"""
    )
    conn.execute("CREATE INDEX calibrations_by_key ON calibrations (device, placement, id)")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _m1_core_log,
    _m2_liveness_and_quality,
    _m3_diary_and_reanalysis,
    _m4_calibrations,
]


def schema_version() -> int:
    """The schema version this code writes."""
    return len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, target: int | None = None) -> int:
    """Apply pending migrations up to ``target`` (default: all), each in its own transaction.

    Returns the resulting version. Safe against another process migrating at the same time
    (the version is re-read under an IMMEDIATE lock).
    """
    target = len(MIGRATIONS) if target is None else target
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version >= target:
                conn.execute("COMMIT")
                return version
            MIGRATIONS[version](conn)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


# --------------------------------------------------------------------------- raw chunks


def _shuffle(a: np.ndarray) -> bytes:
    """Byte planes of a little-endian array, similar bytes together (compresses 2-4x better)."""
    a = np.ascontiguousarray(a)
    return a.view(np.uint8).reshape(-1, a.dtype.itemsize).T.tobytes()


def _unshuffle(buf: bytes, dtype: str, count: int) -> np.ndarray:
    itemsize = np.dtype(dtype).itemsize
    planes = np.frombuffer(buf, dtype=np.uint8).reshape(itemsize, count)
    return np.ascontiguousarray(planes.T).view(dtype).reshape(count)


def encode_chunk(block: SampleBlock) -> bytes:
    """Compress a block: t float64 exact, acc/gyro float32, column-wise byte-shuffled, zlib."""
    parts = [_shuffle(block.t.astype("<f8"))]
    parts.append(_shuffle(block.acc.T.astype("<f4").reshape(-1)))
    if block.gyro is not None:
        parts.append(_shuffle(block.gyro.T.astype("<f4").reshape(-1)))
    return zlib.compress(b"".join(parts), _ZLIB_LEVEL)


def decode_chunk(data: bytes, n: int, has_gyro: bool, codec: str = CHUNK_CODEC) -> SampleBlock:
    """Inverse of :func:`encode_chunk`."""
    if codec != CHUNK_CODEC:
        raise StoreError(f"raw chunk codec {codec!r} is unknown here; upgrade tremorscope")
    raw = zlib.decompress(data)
    expected = n * 8 + n * 12 * (2 if has_gyro else 1)
    if len(raw) != expected:
        raise StoreError(f"raw chunk is {len(raw)} bytes, expected {expected}: the log is damaged")
    t = _unshuffle(raw[: n * 8], "<f8", n)
    acc = _unshuffle(raw[n * 8 : n * 20], "<f4", 3 * n).reshape(3, n).T
    gyro = _unshuffle(raw[n * 20 :], "<f4", 3 * n).reshape(3, n).T if has_gyro else None
    return SampleBlock(t, acc, gyro)


# --------------------------------------------------------------------------- helpers


def now_iso() -> str:
    """Local wall clock with its UTC offset, to the second."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


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


def _float_or_none(v: Any) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


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


# --------------------------------------------------------------------------- the store

_F = TypeVar("_F", bound=Callable[..., Any])


def _locked(method: _F) -> _F:
    """Serialise access to the connection (the background committer shares it)."""

    @wraps(method)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class Store:
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
        old_umask = os.umask(0o077)  # the db, -wal and -shm are created owner-only
        try:
            try:
                conn = sqlite3.connect(str(p), isolation_level=None, timeout=10.0, check_same_thread=False)
            except sqlite3.Error as e:
                raise StoreError(
                    f"cannot open episode log {p}: {e}; pass --db with a writable path"
                ) from None
            try:
                self._check_identity(conn, p)
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
        self._check_contract_columns(conn)
        return conn

    @staticmethod
    def _check_identity(conn: sqlite3.Connection, p: Path) -> None:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id not in (0, APPLICATION_ID) or (app_id == 0 and tables):
            raise StoreError(f"{p} is an SQLite file of another program; pass another --db path")
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{p} was written by a newer tremorscope (schema {version} > {len(MIGRATIONS)}); "
                "upgrade tremorscope to read it"
            )

    @staticmethod
    def _check_contract_columns(conn: sqlite3.Connection) -> None:
        have = {r[1] for r in conn.execute("PRAGMA table_info(episodes)")}
        missing = [c for c in EPISODE_COLUMNS if c not in have]
        have_m = {r[1] for r in conn.execute("PRAGMA table_info(minutes)")}
        missing += [c for c in MINUTE_COLUMNS if c not in have_m]
        if missing:
            raise StoreError(
                f"episode log schema lacks column(s) {', '.join(missing)}: "
                "add a migration to tremorscope/store.py (MIGRATIONS)"
            )

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

    # ----- queries

    @_locked
    def session(self, session_id: int) -> dict[str, Any] | None:
        """One session row as a dict, or ``None``."""
        cur = self.conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,))
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row, strict=True))

    @_locked
    def latest_session_id(self) -> int | None:
        """The most recently started session, or ``None`` when the log is empty."""
        row = self.conn.execute("SELECT max(id) FROM sessions").fetchone()
        return None if row[0] is None else int(row[0])

    @_locked
    def sessions(self) -> pd.DataFrame:
        """All sessions, oldest first, with an ``episodes`` count column."""
        cur = self.conn.execute(
            "SELECT s.*, (SELECT count(*) FROM episodes e WHERE e.session_id = s.id) AS episodes "
            "FROM sessions s ORDER BY s.id"
        )
        cols = [d[0] for d in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=cols)

    @_locked
    def episodes(
        self, session_id: int | None = None, *, include_open: bool = True, with_open: bool = False
    ) -> pd.DataFrame:
        """Episodes in ``EPISODE_COLUMNS`` order (plus ``open`` if asked), by session and start."""
        cols = list(EPISODE_COLUMNS) + (["open"] if with_open else [])
        where, args = [], []
        if session_id is not None:
            where.append("session_id = ?")
            args.append(session_id)
        if not include_open:
            where.append("open = 0")
        sql = f"SELECT {', '.join(cols)} FROM episodes"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY session_id, start_s, episode_id"
        rows = self.conn.execute(sql, args).fetchall()
        return _typed_frame(rows, cols, text=_EPISODE_TEXT, ints={*_EPISODE_INT, "open"})

    @_locked
    def minutes(self, session_id: int | None = None) -> pd.DataFrame:
        """Per-minute summaries: ``session_id`` then ``MINUTE_COLUMNS``."""
        cols = ["session_id", *MINUTE_COLUMNS]
        sql = f"SELECT {', '.join(cols)} FROM minutes"
        args: list[Any] = []
        if session_id is not None:
            sql += " WHERE session_id = ?"
            args.append(session_id)
        rows = self.conn.execute(sql + " ORDER BY session_id, minute_start_s", args).fetchall()
        return _typed_frame(rows, cols, text={"start_time"}, ints={"session_id"})

    @_locked
    def gaps(self, session_id: int | None = None) -> pd.DataFrame:
        """Data gaps: ``session_id, start_s, end_s, origin``."""
        cols = ["session_id", "start_s", "end_s", "origin"]
        sql = f"SELECT {', '.join(cols)} FROM gaps"
        args: list[Any] = []
        if session_id is not None:
            sql += " WHERE session_id = ?"
            args.append(session_id)
        rows = self.conn.execute(sql + " ORDER BY session_id, start_s", args).fetchall()
        return _typed_frame(rows, cols, text={"origin"}, ints={"session_id"})

    # ----- patient diary and re-analysis links (migration 3)

    @_locked
    def add_diary_entry(self, at: datetime, kind: str, text: str) -> int:
        """Store a diary entry at wall-clock ``at`` (timezone-aware), committed at once."""
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("a diary time needs its UTC offset (a timezone-aware datetime)")
        self._tx()
        cur = self.conn.execute(
            "INSERT INTO diary (at, at_utc, kind, text, created_at) VALUES (?, ?, ?, ?, ?)",
            (at.isoformat(), _utc_key(at), str(kind), str(text), now_iso()),
        )
        self.commit()
        return int(cur.lastrowid)

    @_locked
    def diary(self, start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
        """Diary entries with ``start <= at < end`` (aware datetimes; None = open), oldest first.

        Columns ``id, at, kind, text, created_at``; ``at`` is ISO 8601 with its UTC offset.
        """
        where, args = [], []
        if start is not None:
            where.append("at_utc >= ?")
            args.append(_utc_key(start))
        if end is not None:
            where.append("at_utc < ?")
            args.append(_utc_key(end))
        sql = "SELECT id, at, kind, text, created_at FROM diary"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.conn.execute(sql + " ORDER BY at_utc, id", args).fetchall()
        cols = ["id", "at", "kind", "text", "created_at"]
        return _typed_frame(rows, cols, text={"at", "kind", "text", "created_at"}, ints={"id"})

    @_locked
    def raw_session_id(self, session_id: int) -> int | None:
        """The session whose raw samples ``session_id`` analysed: itself, or its re-analysis parent."""
        seen: set[int] = set()
        sid: int | None = session_id
        while sid is not None and sid not in seen:
            seen.add(sid)
            if self.sample_count(sid):
                return sid
            row = self.conn.execute("SELECT parent_session_id FROM sessions WHERE id = ?", (sid,)).fetchone()
            sid = None if row is None or row[0] is None else int(row[0])
        return None

    @_locked
    def reanalyses(self, session_id: int) -> list[int]:
        """Ids of the re-analyses made of ``session_id``, oldest first."""
        rows = self.conn.execute(
            "SELECT id FROM sessions WHERE parent_session_id = ? ORDER BY id", (session_id,)
        ).fetchall()
        return [int(r[0]) for r in rows]

    # ----- stored neutral postures (migration 4)

    @_locked
    def add_calibration(
        self,
        device: str,
        placement: str,
        neutral_g: Any,
        source: str,
        *,
        seconds: float | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> int:
        """Store a neutral posture for ``device`` worn at ``placement``; committed at once."""
        g = [float(v) for v in neutral_g]
        if len(g) != 3 or not all(math.isfinite(v) for v in g) or math.hypot(*g) < 0.5:
            raise ValueError(f"a neutral posture is a gravity direction in g (3 numbers), not {neutral_g!r}")
        key_dev, key_place = calibration_key(device), calibration_key(placement)
        if not key_dev or not key_place:
            raise ValueError("a calibration needs a device name and a placement")
        self._tx()
        cur = self.conn.execute(
            "INSERT INTO calibrations (device, placement, neutral_g, created_at, source, seconds, "
            "details_json) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                key_dev, key_place, json.dumps(g), now_iso(), str(source), _float_or_none(seconds),
                None if details is None else json.dumps(dict(details), default=str, sort_keys=True),
            ),
        )  # fmt: skip
        self.commit()
        return int(cur.lastrowid)

    @_locked
    def calibration(self, device: str | None, placement: str | None) -> dict[str, Any] | None:
        """The newest stored calibration of ``device`` at ``placement`` (``neutral_g`` as a list)."""
        if not device or not placement:
            return None
        cur = self.conn.execute(
            "SELECT * FROM calibrations WHERE device = ? AND placement = ? ORDER BY id DESC LIMIT 1",
            (calibration_key(device), calibration_key(placement)),
        )
        row = cur.fetchone()
        if row is None:
            return None
        return _calibration_row(dict(zip([d[0] for d in cur.description], row, strict=True)))

    @_locked
    def calibrations(self) -> list[dict[str, Any]]:
        """Every stored calibration, oldest first (``neutral_g`` and ``details`` parsed)."""
        cur = self.conn.execute("SELECT * FROM calibrations ORDER BY id")
        cols = [d[0] for d in cur.description]
        return [_calibration_row(dict(zip(cols, r, strict=True))) for r in cur.fetchall()]


def calibration_key(name: str | None) -> str:
    """How device and placement names are matched: case and spacing do not matter."""
    return " ".join(str(name or "").split()).lower()


def _calibration_row(row: dict[str, Any]) -> dict[str, Any]:
    row["neutral_g"] = [float(v) for v in json.loads(row["neutral_g"])]
    details = row.pop("details_json", None)
    row["details"] = json.loads(details) if details else {}
    return row


def _utc_key(at: datetime) -> str:
    """A fixed-width UTC text for an aware datetime: sorts like the instants it names."""
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _typed_frame(
    rows: list[tuple[Any, ...]], cols: list[str], *, text: set[str], ints: set[str]
) -> pd.DataFrame:
    """A frame with int64 id columns, float64 numbers (NaN for missing) and object text."""
    data: dict[str, Any] = {}
    for i, c in enumerate(cols):
        values = [r[i] for r in rows]
        if c in ints:
            data[c] = np.array(values, dtype=np.int64)
        elif c in text:
            data[c] = pd.Series(values, dtype=object)
        else:
            data[c] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return pd.DataFrame(data, columns=cols)
