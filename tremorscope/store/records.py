"""What the person adds to the log: diary entries and stored neutral postures (calibrations)."""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tremorscope.store.rows import _float_or_none, _locked, _utc_key, now_iso


class PatientRecords:
    """Diary and calibration writes and calibration reads of :class:`~tremorscope.store.log.Store`
    (a mixin: it uses the store's connection, lock, transaction and commit)."""

    conn: sqlite3.Connection
    _lock: threading.RLock

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
