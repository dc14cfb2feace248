"""Reading the log back: session rows, episodes, minutes, gaps and diary as typed frames."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime
from typing import Any

import pandas as pd

from dsp.events import EPISODE_COLUMNS, MINUTE_COLUMNS
from tremorscope.store.rows import _locked, _typed_frame, _utc_key
from tremorscope.store.schema import _EPISODE_INT, _EPISODE_TEXT


class LogQueries:
    """The read side of :class:`~tremorscope.store.log.Store` (a mixin: it uses the store's
    connection, lock and :meth:`~tremorscope.store.log.Store.sample_count`)."""

    conn: sqlite3.Connection
    _lock: threading.RLock

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
