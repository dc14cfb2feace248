"""What the report shows, gathered from the log: sessions, minutes, episodes, gaps and diary.

Times: the report shows wall-clock times in one fixed UTC offset, the recording's own (the
latest recording's offset when recordings differ; this machine's when none has one).
Recordings without a start time appear by time from their start and are left out of
date-range reports.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any

import numpy as np
import pandas as pd

from dsp.config import DetectorConfig
from tremorscope.exports.base import parse_iso
from tremorscope.review.diary import DiaryEntry, covering_session, entries_from_frame, recorded_spans
from tremorscope.store import Store


class ReportError(ValueError):
    """The report cannot be made; ``str()`` is one line saying what to do."""


# --------------------------------------------------------------------------- the data


@dataclass
class ReportSession:
    """A session as the report sees it."""

    id: int
    row: dict[str, Any]
    start_posix: float | None  # wall clock of the first sample (None: no start time)
    t_start_s: float
    t_end_s: float
    config: DetectorConfig

    @property
    def clocked(self) -> bool:
        return self.start_posix is not None

    def posix(self, t_s: np.ndarray | float) -> np.ndarray | float:
        """Wall-clock POSIX seconds of recording times (NaN without a start time)."""
        if self.start_posix is None:
            return np.asarray(t_s, dtype=float) * np.nan
        return self.start_posix + (np.asarray(t_s, dtype=float) - self.t_start_s)


@dataclass
class ReportData:
    """Everything the report shows, gathered from the log."""

    sessions: list[ReportSession]
    tz: tzinfo
    range_posix: tuple[float, float] | None  # date-range reports: [start, end)
    minutes: pd.DataFrame  # session_id, minute_start_s, fractions, ts (POSIX or NaN)
    episodes: pd.DataFrame  # EPISODE_COLUMNS + ts_start, ts_end
    gaps: pd.DataFrame  # session_id, start_s, end_s, origin, ts_start, ts_end (union per session)
    diary: list[DiaryEntry]
    title: str
    notes: list[str] = field(default_factory=list)  # what was left out, and why
    #: diary entry id -> the session whose recording covers it, or None: outside recordings
    diary_session: dict[int, int | None] = field(default_factory=dict)

    def outside_recordings(self, entry_id: int) -> bool:
        """Whether no recording (in the whole log) covers diary entry ``entry_id``."""
        return self.diary_session.get(entry_id) is None

    @property
    def offset_s(self) -> float:
        off = datetime.now(self.tz).utcoffset()
        return 0.0 if off is None else off.total_seconds()

    def local(self, posix: float) -> datetime:
        return datetime.fromtimestamp(posix, self.tz)


def _tz_name(tz: tzinfo) -> str:
    off = datetime.now(tz).utcoffset() or timedelta(0)
    total = int(off.total_seconds() // 60)
    sign = "+" if total >= 0 else "-"
    return f"UTC{sign}{abs(total) // 60:02d}:{abs(total) % 60:02d}"


def _config(row: dict[str, Any]) -> DetectorConfig:
    try:
        stored = json.loads(row.get("config_json") or "{}")
        from tremorscope.reanalysis import parent_config

        known, _ = parent_config({"config_json": json.dumps(stored)})
        return DetectorConfig.from_dict(known)
    except (ValueError, TypeError, KeyError):
        return DetectorConfig()


def _display_tz(rows: Sequence[dict[str, Any]]) -> tzinfo:
    """The latest recording's UTC offset; this machine's when no recording has one."""
    for row in sorted(rows, key=lambda r: r["id"], reverse=True):
        st = parse_iso(row.get("start_time"))
        if st is not None and st.tzinfo is not None:
            off = st.utcoffset()
            if off is not None:
                return timezone(off)
    off = datetime.now().astimezone().utcoffset() or timedelta(0)
    return timezone(off)


def parse_date(text: str | None, what: str) -> date | None:
    """``--from``/``--to`` value: YYYY-MM-DD, ``today`` or ``yesterday``."""
    if text is None or not text.strip():
        return None
    t = text.strip().lower()
    today = datetime.now().date()
    if t == "today":
        return today
    if t == "yesterday":
        return today - timedelta(days=1)
    try:
        return date.fromisoformat(t)
    except ValueError:
        raise ReportError(f"{what} {text!r}: write a date as YYYY-MM-DD (or today, yesterday)") from None


def collect(
    store: Store,
    *,
    session_id: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> ReportData:
    """Gather sessions, minutes, episodes, gaps and diary for the report."""
    if session_id is not None and (date_from or date_to):
        raise ReportError("give either --session or --from/--to, not both")
    if date_from and date_to and date_to < date_from:
        raise ReportError(f"--to {date_to} is before --from {date_from}; swap them")
    # rows one by one: missing values stay None (a frame would turn them into NaN)
    all_rows = [r for r in (store.session(int(i)) for i in store.sessions()["id"]) if r is not None]
    notes: list[str] = []
    if session_id is not None:
        row = store.session(session_id)
        if row is None:
            raise ReportError(f"no session {session_id} in {store.path}; `tremorscope sessions` lists them")
        rows = [row]
    else:
        rows = [r for r in all_rows if (r.get("mode") or "") != "reanalysis"]
        n_re = len(all_rows) - len(rows)
        if n_re:
            notes.append(
                f"{n_re} re-analysis session(s) not included (report one with --session ID to compare)"
            )
        rows = _drop_duplicates(rows, notes)
    rows = [r for r in rows if r.get("t_start_s") is not None and r.get("t_end_s") is not None]
    if not rows:
        where = f"session {session_id}" if session_id is not None else "the log"
        raise ReportError(
            f"{where} has no recorded samples yet ({store.path}); replay or record a session first"
        )
    tz = _display_tz(rows)
    range_posix = None
    if date_from or date_to:
        first = date_from or date(1970, 1, 2)
        last = date_to or date(9998, 12, 31)
        r0 = datetime.combine(first, datetime.min.time(), tz).timestamp()
        r1 = datetime.combine(last + timedelta(days=1), datetime.min.time(), tz).timestamp()
        range_posix = (r0, r1)
    sessions = []
    for r in rows:
        st = parse_iso(r.get("start_time"))
        start_posix = None
        if st is not None:
            start_posix = (st if st.tzinfo is not None else st.replace(tzinfo=tz)).timestamp()
        s = ReportSession(
            int(r["id"]), r, start_posix, float(r["t_start_s"]), float(r["t_end_s"]), _config(r)
        )
        if range_posix is not None:
            if not s.clocked:
                notes.append(f"session {s.id} left out: its recording has no start time, so no date")
                continue
            s0, s1 = s.posix(s.t_start_s), s.posix(s.t_end_s)
            if s1 < range_posix[0] or s0 >= range_posix[1]:
                continue
        sessions.append(s)
    if not sessions:
        span = f"{date_from or '...'} to {date_to or '...'}"
        raise ReportError(f"no recordings from {span} in {store.path}; `tremorscope sessions` lists them")
    minutes, episodes, gaps = [], [], []
    for s in sessions:
        m = store.minutes(s.id)
        m["ts"] = s.posix(m["minute_start_s"].to_numpy())
        minutes.append(m)
        e = store.episodes(s.id)
        e["ts_start"] = s.posix(e["start_s"].to_numpy())
        e["ts_end"] = s.posix(e["end_s"].to_numpy())
        episodes.append(e)
        g = _gap_union(store.gaps(s.id))
        g["ts_start"] = s.posix(g["start_s"].to_numpy())
        g["ts_end"] = s.posix(g["end_s"].to_numpy())
        gaps.append(g)
    minutes_df = pd.concat(minutes, ignore_index=True)
    episodes_df = pd.concat(episodes, ignore_index=True)
    gaps_df = pd.concat(gaps, ignore_index=True)
    if range_posix is not None:
        r0, r1 = range_posix
        minutes_df = minutes_df[(minutes_df["ts"] >= r0) & (minutes_df["ts"] < r1)]
        episodes_df = episodes_df[(episodes_df["ts_end"] >= r0) & (episodes_df["ts_start"] < r1)]
        gaps_df = gaps_df[(gaps_df["ts_end"] >= r0) & (gaps_df["ts_start"] < r1)]
    diary = _diary_entries(store, sessions, tz, range_posix, session_id)
    spans = recorded_spans(store)
    diary_session = {e.id: covering_session(spans, e.at) for e in diary}
    title = _title(sessions, tz, date_from, date_to, session_id)
    return ReportData(
        sessions=sessions,
        tz=tz,
        range_posix=range_posix,
        minutes=minutes_df.reset_index(drop=True),
        episodes=episodes_df.sort_values(["ts_start", "session_id", "start_s"], kind="stable").reset_index(
            drop=True
        ),
        gaps=gaps_df.reset_index(drop=True),
        diary=diary,
        title=title,
        notes=notes,
        diary_session=diary_session,
    )


def _diary_entries(
    store: Store,
    sessions: list[ReportSession],
    tz: tzinfo,
    range_posix: tuple[float, float] | None,
    session_id: int | None,
) -> list[DiaryEntry]:
    """The diary entries a report lists: the whole period asked for (every entry when no
    period or session is given), or one session's calendar days. Entries outside every
    recording are included; the report marks them."""
    if range_posix is not None:
        lo = datetime.fromtimestamp(range_posix[0], tz)
        hi = datetime.fromtimestamp(range_posix[1], tz)
        return entries_from_frame(store.diary(lo, hi))
    if session_id is None:
        return entries_from_frame(store.diary())
    clocked = [s for s in sessions if s.clocked]
    if not clocked:
        return []
    d0 = min(float(s.posix(s.t_start_s)) for s in clocked)
    d1 = max(float(s.posix(s.t_end_s)) for s in clocked)
    # the whole calendar days covered (a dose taken before the sensor went on matters)
    lo = datetime.fromtimestamp(d0, tz).replace(hour=0, minute=0, second=0, microsecond=0)
    hi = datetime.fromtimestamp(d1, tz).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return entries_from_frame(store.diary(lo, hi))


def _drop_duplicates(rows: list[dict[str, Any]], notes: list[str]) -> list[dict[str, Any]]:
    """The same recording replayed twice would count twice: keep its latest analysis."""
    seen: dict[tuple, int] = {}
    keep = []
    for r in sorted(rows, key=lambda r: r["id"], reverse=True):
        key = (r.get("source"), r.get("start_time"), r.get("t_start_s"), r.get("t_end_s"), r.get("samples"))
        if r.get("mode") in ("replay", "demo") and key in seen:
            notes.append(f"session {r['id']} not included: same recording as session {seen[key]}")
            continue
        seen.setdefault(key, r["id"])
        keep.append(r)
    return sorted(keep, key=lambda r: r["id"])


def _gap_union(g: pd.DataFrame) -> pd.DataFrame:
    """Detector and bridge may both report one hole: merge overlapping gaps."""
    if g.empty:
        return g.copy()
    g = g.sort_values("start_s")
    out: list[list[Any]] = []
    for r in g.itertuples(index=False):
        if out and r.start_s <= out[-1][2]:
            out[-1][2] = max(out[-1][2], r.end_s)
            if r.origin not in out[-1][3]:
                out[-1][3] += "+" + r.origin
        else:
            out.append([r.session_id, r.start_s, r.end_s, r.origin])
    return pd.DataFrame(out, columns=["session_id", "start_s", "end_s", "origin"])


def _title(
    sessions: list[ReportSession], tz: tzinfo, d0: date | None, d1: date | None, session_id: int | None
) -> str:
    if session_id is not None:
        return f"Session {session_id}"
    clocked = [s for s in sessions if s.clocked]
    if clocked:
        a = d0 or datetime.fromtimestamp(min(float(s.posix(s.t_start_s)) for s in clocked), tz).date()
        b = d1 or datetime.fromtimestamp(max(float(s.posix(s.t_end_s)) for s in clocked), tz).date()
        return f"{a:%d %b %Y}" if a == b else f"{a:%d %b %Y} to {b:%d %b %Y}"
    return f"{len(sessions)} session(s)"
