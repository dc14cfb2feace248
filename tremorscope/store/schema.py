"""The log's schema: its migrations, the version and identity checks, session states, StoreError.

Schema changes go through :data:`MIGRATIONS`: append a function, never edit an old one. The
file's ``PRAGMA user_version`` is the number of migrations applied.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from dsp.events import EPISODE_COLUMNS, MINUTE_COLUMNS

#: ``PRAGMA application_id`` of a tremorscope log ("TRMS"), so we never write into a stranger's db.
APPLICATION_ID = 0x54524D53
#: Session states.
RUNNING, COMPLETE, INTERRUPTED = "running", "complete", "interrupted"
SESSION_STATUSES = (RUNNING, COMPLETE, INTERRUPTED)


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
_EPISODE_TEXT = {"kind", "start_time", "band", "severity", "context", "direction", "detection_path"}
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


def _m5_posture_context(conn: sqlite3.Connection) -> None:
    """Tremor inside a contraction (``contraction_id``, context ``within_posture``), and how a
    contraction was found (``detection_path``: calibrated, adaptive or uncalibrated) and how surely."""
    for s in (
        "ALTER TABLE episodes ADD COLUMN contraction_id INTEGER",
        "ALTER TABLE episodes ADD COLUMN detection_path TEXT",
        "ALTER TABLE episodes ADD COLUMN confidence REAL",
    ):
        conn.execute(s)


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _m1_core_log,
    _m2_liveness_and_quality,
    _m3_diary_and_reanalysis,
    _m4_calibrations,
    _m5_posture_context,
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


def check_identity(conn: sqlite3.Connection, p: Path) -> None:
    """Refuse another program's SQLite file, and a log written by a newer schema."""
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
def check_contract_columns(conn: sqlite3.Connection) -> None:
    """Refuse a schema that lacks a column of the episode or minute contract (a missing migration)."""
    have = {r[1] for r in conn.execute("PRAGMA table_info(episodes)")}
    missing = [c for c in EPISODE_COLUMNS if c not in have]
    have_m = {r[1] for r in conn.execute("PRAGMA table_info(minutes)")}
    missing += [c for c in MINUTE_COLUMNS if c not in have_m]
    if missing:
        raise StoreError(
            f"episode log schema lacks column(s) {', '.join(missing)}: "
            "add a migration to tremorscope/store/schema.py (MIGRATIONS)"
        )
