"""The clinician report: one self-contained HTML file summarising the episode log.

What a movement-disorders clinician wants on one screen before a visit: how long the sensor
was worn, how much of that time had tremor (by severity class) and dystonic contractions,
when in the day they happen, how they respond to medication, botulinum toxin or DBS changes
noted in the patient's diary, and whether the data can be trusted. Sections: overview (with
a days x hours "at a glance" map), a timeline per day, distributions, trends across days,
the episode table, the diary, data quality and how to read the report.

The file needs nothing else: figures are PNG images embedded as ``data:`` URIs, styles and
the small table-sorting script are inline, and a Content-Security-Policy forbids every
network request, so it opens offline, can be mailed or archived, and prints (A4 landscape).
The episode table sorts when JavaScript runs and reads in time order when it does not.

Times: the report shows wall-clock times in one fixed UTC offset, the recording's own (the
latest recording's offset when recordings differ; this machine's when none has one).
Recordings without a start time appear by time from their start and are left out of
date-range reports. Minutes are placed on one-minute slots of each day.
"""

from __future__ import annotations

import base64
import html
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dsp.config import DetectorConfig
from dsp.events import SEVERITY_CLASSES
from tremorscope import __version__
from tremorscope import report_plots as plots
from tremorscope.diary import DIARY_KINDS, TREATMENT_KINDS, DiaryEntry, entries_from_frame
from tremorscope.exports import parse_iso, private_file
from tremorscope.store import Store
from tremorscope.tables import format_duration

#: Section ids, in page order (tests and the browser check rely on them).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("overview", "Overview"),
    ("timeline", "Day timelines"),
    ("distributions", "Distributions"),
    ("trends", "Trends across days"),
    ("episodes", "Episodes"),
    ("diary", "Diary"),
    ("quality", "Data quality"),
    ("method", "How to read this report"),
)
MINUTE_S = 60.0
DAY_S = 86400.0
SLOTS_PER_DAY = 1440
#: Episode table rows shown (the CSV export has them all).
MAX_TABLE_ROWS = 5000
#: Hourly trend resolution up to this many days, daily beyond.
HOURLY_TREND_MAX_DAYS = 21
#: Time since a dose covered by the wearing-off figure.
DOSE_WINDOW_H = 8.0
DOSE_BIN_H = 0.5
#: Effective rate this far from the nominal one is flagged.
RATE_WARN_FRACTION = 0.05
#: Live link counters shown in the quality table (``extra_json["live"]`` of a live session).
LINK_FIELDS = (
    ("reconnects", "reconnects"),
    ("lost_samples", "lost samples"),
    ("crc_errors", "CRC errors"),
    ("drift_ppm", "clock drift ppm"),
    ("battery_pct", "battery %"),
)
#: What an accelerometer-only session cannot show, for sessions logged before the session runner
#: stored the detector's own ``limits`` in ``extra_json`` (newer sessions carry their own words).
ACC_ONLY_LIMITS = (
    "accelerometer only: rotation about the vertical (torticollis; radial/ulnar deviation) cannot be "
    "seen, tremor amplitude in deg/s is not available, and posture angles rest on gravity alone"
)


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
    clocked = [s for s in sessions if s.clocked]
    diary: list[DiaryEntry] = []
    if clocked:
        d0 = min(float(s.posix(s.t_start_s)) for s in clocked)
        d1 = max(float(s.posix(s.t_end_s)) for s in clocked)
        if range_posix is not None:
            d0, d1 = max(d0, range_posix[0]), min(d1, range_posix[1])
        # the whole calendar days covered (a dose taken before the sensor went on matters)
        lo = datetime.fromtimestamp(d0, tz).replace(hour=0, minute=0, second=0, microsecond=0)
        hi = datetime.fromtimestamp(d1, tz).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
            days=1
        )
        diary = entries_from_frame(store.diary(lo, hi))
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
    )


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


# --------------------------------------------------------------------------- the numbers


@dataclass
class Overview:
    """The headline numbers."""

    recording_s: float
    gap_s: float
    wear_s: float
    assessable_s: float
    class_s: dict[str, float]
    tremor_s: float
    tremor_episodes: int
    tremor_median_s: float
    context_s: dict[str, float]
    band: str | None
    band_share: float
    median_hz: float
    median_disp_cm: float
    contraction_episodes: int
    contraction_per_h: float
    contraction_total_s: float
    contraction_median_s: float
    contraction_time_s: float
    top_direction: str | None


def _clip(s: ReportSession, data: ReportData) -> tuple[float, float]:
    """A session's recording-time span inside the report's date range."""
    a, b = s.t_start_s, s.t_end_s
    if data.range_posix is not None and s.clocked:
        r0, r1 = data.range_posix
        a = max(a, s.t_start_s + (r0 - float(s.posix(s.t_start_s))))
        b = min(b, s.t_start_s + (r1 - float(s.posix(s.t_start_s))))
    return a, max(a, b)


def overview(data: ReportData) -> Overview:
    """Recording and wear time, tremor by class, contraction rate, dominant band."""
    rec = gap = 0.0
    for s in data.sessions:
        a, b = _clip(s, data)
        rec += b - a
        g = data.gaps[data.gaps["session_id"] == s.id]
        if len(g):
            gap += float((np.minimum(g["end_s"], b) - np.maximum(g["start_s"], a)).clip(lower=0).sum())
    wear = max(rec - gap, 0.0)
    m = data.minutes
    class_s = {c: float(m[f"{c}_frac"].sum() * MINUTE_S) for c in SEVERITY_CLASSES}
    assessable = float(((1.0 - m["unknown_frac"]) * MINUTE_S).sum()) if len(m) else 0.0
    tremor_s = sum(class_s[c] for c in SEVERITY_CLASSES if c != "none")
    e = data.episodes
    tr = e[e["kind"] == "tremor"]
    co = e[e["kind"] == "contraction"]
    context_s = (
        {str(k): float(v) for k, v in tr.groupby("context")["duration_s"].sum().items()} if len(tr) else {}
    )
    band, share = None, 0.0
    if len(tr) and tr["duration_s"].sum() > 0:
        by_band = tr.groupby("band")["duration_s"].sum().sort_values(ascending=False)
        band = str(by_band.index[0])
        share = float(by_band.iloc[0] / by_band.sum())
    directions = co["direction"].dropna()
    return Overview(
        recording_s=rec,
        gap_s=gap,
        wear_s=wear,
        assessable_s=assessable,
        class_s=class_s,
        tremor_s=tremor_s,
        tremor_episodes=len(tr),
        tremor_median_s=float(tr["duration_s"].median()) if len(tr) else math.nan,
        context_s=context_s,
        band=band,
        band_share=share,
        median_hz=_weighted_median(tr["dominant_hz"], tr["duration_s"]),
        median_disp_cm=_weighted_median(tr["displacement_cm"], tr["duration_s"]),
        contraction_episodes=len(co),
        contraction_per_h=len(co) / (wear / 3600.0) if wear > 0 else math.nan,
        contraction_total_s=float(co["duration_s"].sum()),
        contraction_median_s=float(co["duration_s"].median()) if len(co) else math.nan,
        contraction_time_s=float(m["contraction_frac"].sum() * MINUTE_S) if len(m) else 0.0,
        top_direction=str(directions.value_counts().index[0]) if len(directions) else None,
    )


def _weighted_median(values: pd.Series, weights: pd.Series) -> float:
    v = values.to_numpy(dtype=float)
    w = weights.to_numpy(dtype=float)
    ok = np.isfinite(v) & np.isfinite(w) & (w > 0)
    if not ok.any():
        return math.nan
    order = np.argsort(v[ok])
    cw = np.cumsum(w[ok][order])
    return float(v[ok][order][np.searchsorted(cw, cw[-1] / 2)])


# --------------------------------------------------------------------------- days


@dataclass
class DayData:
    """One day panel: its key, and minutes/episodes/gaps/diary placed on it."""

    key: str
    title: str
    origin_posix: float | None  # local midnight (clocked), None for a session without clock
    session_id: int | None  # for unclocked panels
    day_index: int = 0
    plot: plots.DayPlot | None = None
    tremor_s: float = 0.0
    assessable_s: float = 0.0
    class_s: dict[str, float] = field(default_factory=dict)
    wear_s: float = 0.0
    contraction_s: float = 0.0
    tremor_episodes: int = 0
    contraction_episodes: int = 0
    diary_numbers: list[int] = field(default_factory=list)


def diary_numbers(data: ReportData) -> dict[int, int]:
    """Diary entry id -> the number it carries on the figures (1, 2, ... in time order)."""
    return {e.id: i + 1 for i, e in enumerate(data.diary)}


def day_panels(data: ReportData) -> list[DayData]:
    """One panel per local calendar day with data, plus 24-h panels for unclocked sessions."""
    off = data.offset_s
    numbers = diary_numbers(data)
    panels: dict[str, DayData] = {}

    def clocked_panel(day_no: int) -> DayData:
        key = f"d{day_no}"
        if key not in panels:
            midnight_local = day_no * DAY_S
            d = datetime.fromtimestamp(midnight_local - off, data.tz)
            panels[key] = DayData(key, f"{d:%A %d %B %Y}", midnight_local - off, None, day_no)
        return panels[key]

    def plain_panel(s: ReportSession, k: int) -> DayData:
        key = f"s{s.id}-{k}"
        if key not in panels:
            title = f"Session {s.id} (no clock time), hours {24 * k}-{24 * (k + 1)} from its start"
            panels[key] = DayData(key, title, None, s.id, k)
        return panels[key]

    def place(s: ReportSession, t0: float, t1: float) -> list[tuple[DayData, float, float]]:
        """Split [t0, t1] (recording seconds) over day panels as (panel, x0_h, x1_h)."""
        out = []
        if s.clocked:
            a = float(s.posix(t0)) + off
            b = float(s.posix(t1)) + off
            if data.range_posix is not None:
                a = max(a, data.range_posix[0] + off)
                b = min(b, data.range_posix[1] + off)
            if b < a:
                return out
            for day_no in range(int(a // DAY_S), int(b // DAY_S) + 1):
                lo, hi = max(a, day_no * DAY_S), min(b, (day_no + 1) * DAY_S)
                if hi > lo or (hi == lo and a == b):
                    out.append(
                        (clocked_panel(day_no), (lo - day_no * DAY_S) / 3600, (hi - day_no * DAY_S) / 3600)
                    )
        else:
            a, b = t0 - s.t_start_s, t1 - s.t_start_s
            for k in range(int(a // DAY_S), int(b // DAY_S) + 1):
                lo, hi = max(a, k * DAY_S), min(b, (k + 1) * DAY_S)
                if hi >= lo:
                    out.append((plain_panel(s, k), (lo - k * DAY_S) / 3600, (hi - k * DAY_S) / 3600))
        return out

    recorded: dict[str, list[tuple[float, float]]] = {}
    for s in data.sessions:
        for panel, x0, x1 in place(s, s.t_start_s, s.t_end_s):
            recorded.setdefault(panel.key, []).append((x0, x1))
            panel.wear_s += (x1 - x0) * 3600
    for p in panels.values():
        p.plot = plots.DayPlot(
            title=p.title,
            fractions={c: np.full(SLOTS_PER_DAY, np.nan) for c in plots.DRAWN_CLASSES},
            unknown=np.full(SLOTS_PER_DAY, np.nan),
            clocked=p.origin_posix is not None,
        )
        p.plot.not_recorded = _complement(recorded.get(p.key, []))
        p.plot.xlim = plots.zoom_hours(recorded.get(p.key, []))
    by_id = {s.id: s for s in data.sessions}
    # minutes -> slots
    m = data.minutes
    if len(m):
        for sid, group in m.groupby("session_id"):
            s = by_id[int(sid)]
            starts = group["minute_start_s"].to_numpy(dtype=float)
            if s.clocked:
                local = group["ts"].to_numpy(dtype=float) + off
                day_no = np.floor(local / DAY_S).astype(np.int64)
                slot = np.floor((local - day_no * DAY_S) / MINUTE_S).astype(np.int64)
                keys = [clocked_panel(int(d)).key for d in day_no]
            else:
                rel = starts - s.t_start_s
                k = np.floor(rel / DAY_S).astype(np.int64)
                slot = np.floor((rel - k * DAY_S) / MINUTE_S).astype(np.int64)
                keys = [plain_panel(s, int(x)).key for x in k]
            slot = np.clip(slot, 0, SLOTS_PER_DAY - 1)
            fr = {c: group[f"{c}_frac"].to_numpy(dtype=float) for c in SEVERITY_CLASSES}
            unk = group["unknown_frac"].to_numpy(dtype=float)
            con = group["contraction_frac"].to_numpy(dtype=float)
            for key in set(keys):
                p = panels[key]
                if p.plot is None:
                    p.plot = plots.DayPlot(
                        p.title,
                        {c: np.full(SLOTS_PER_DAY, np.nan) for c in plots.DRAWN_CLASSES},
                        np.full(SLOTS_PER_DAY, np.nan),
                        clocked=p.origin_posix is not None,
                    )
                sel = np.array([k_ == key for k_ in keys])
                sl = slot[sel]
                for c in plots.DRAWN_CLASSES:
                    p.plot.fractions[c][sl] = fr[c][sel]
                p.plot.unknown[sl] = unk[sel]
                p.plot.contraction[sl] = con[sel]
                p.assessable_s += float(((1 - unk[sel]) * MINUTE_S).sum())
                for c in SEVERITY_CLASSES:
                    p.class_s[c] = p.class_s.get(c, 0.0) + float(fr[c][sel].sum() * MINUTE_S)
                p.tremor_s += float(sum(fr[c][sel].sum() for c in SEVERITY_CLASSES if c != "none") * MINUTE_S)
                p.contraction_s += float(con[sel].sum() * MINUTE_S)
    # episodes
    for e in data.episodes.itertuples(index=False):
        s = by_id[int(e.session_id)]
        pieces = place(s, float(e.start_s), float(e.end_s))
        for i, (panel, x0, x1) in enumerate(pieces):
            if e.kind == "contraction" and panel.plot is not None:
                panel.plot.contractions.append((x0, x1, e.direction if isinstance(e.direction, str) else ""))
            if i == 0:
                if e.kind == "tremor":
                    panel.tremor_episodes += 1
                elif e.kind == "contraction":
                    panel.contraction_episodes += 1
    for g in data.gaps.itertuples(index=False):
        s = by_id[int(g.session_id)]
        for panel, x0, x1 in place(s, float(g.start_s), float(g.end_s)):
            if panel.plot is not None:
                panel.plot.gaps.append((x0, x1))
            panel.wear_s -= (x1 - x0) * 3600
    for entry in data.diary:
        local = entry.at.timestamp() + off
        key = f"d{int(local // DAY_S)}"
        if key in panels and panels[key].plot is not None:
            x_h = (local - int(local // DAY_S) * DAY_S) / 3600
            panels[key].plot.diary.append((x_h, numbers[entry.id], entry.kind))
            panels[key].diary_numbers.append(numbers[entry.id])
    ordered = sorted(panels.values(), key=lambda p: (p.origin_posix is None, p.origin_posix or 0, p.key))
    return [p for p in ordered if p.plot is not None]


def _complement(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Parts of 0-24 h not covered by ``spans``."""
    out, pos = [], 0.0
    for a, b in sorted(spans):
        if a > pos:
            out.append((pos, a))
        pos = max(pos, b)
    if pos < 24.0:
        out.append((pos, 24.0))
    return [(a, b) for a, b in out if b - a > 1e-6]


# --------------------------------------------------------------------------- trends


def trend_series(data: ReportData) -> plots.TrendPlot | None:
    """Tremor % by class (of assessable time) and contraction % per hour or day, whole period."""
    m = data.minutes[np.isfinite(data.minutes["ts"])]
    if m.empty:
        return None
    off = data.offset_s
    local = m["ts"].to_numpy(dtype=float) + off
    day0 = math.floor(local.min() / DAY_S)
    day1 = math.floor(local.max() / DAY_S) + 1
    n_days = day1 - day0
    hourly = n_days <= HOURLY_TREND_MAX_DAYS
    bin_s = 3600.0 if hourly else DAY_S
    n_bins = int(round(n_days * DAY_S / bin_s))
    idx = np.clip(((local - day0 * DAY_S) // bin_s).astype(np.int64), 0, n_bins - 1)
    assess = np.bincount(idx, (1 - m["unknown_frac"].to_numpy(dtype=float)) * MINUTE_S, n_bins)
    counted = np.bincount(idx, np.full(idx.size, MINUTE_S), n_bins)
    tremor = {}
    for c in plots.DRAWN_CLASSES:
        s = np.bincount(idx, m[f"{c}_frac"].to_numpy(dtype=float) * MINUTE_S, n_bins)
        with np.errstate(invalid="ignore", divide="ignore"):
            tremor[c] = np.where(assess > 0, s / assess * 100, np.nan)
    con = np.bincount(idx, m["contraction_frac"].to_numpy(dtype=float) * MINUTE_S, n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        contraction = np.where(counted > 0, con / counted * 100, np.nan)
    edges = np.arange(n_bins + 1) * (bin_s / DAY_S)
    labels = []
    for k in range(n_days):
        d = datetime.fromtimestamp((day0 + k) * DAY_S - off, data.tz)
        labels.append((float(k), f"{d:%a %d %b}"))
    numbers = diary_numbers(data)
    markers = []
    for e in data.diary:
        x = (e.at.timestamp() + off) / DAY_S - day0
        if 0 <= x <= n_days:
            markers.append((x, numbers[e.id], e.kind))
    return plots.TrendPlot(edges, tremor, contraction, labels, markers, "hour" if hourly else "day")


def daily_table(panels: list[DayData]) -> list[dict[str, Any]]:
    """Per-day numbers for the trends table (clocked days only)."""
    rows = []
    for p in panels:
        if p.origin_posix is None:
            continue
        pct = {
            c: (p.class_s.get(c, 0.0) / p.assessable_s * 100 if p.assessable_s > 0 else math.nan)
            for c in SEVERITY_CLASSES
        }
        rows.append(
            {
                "day": p.title,
                "wear_h": max(p.wear_s, 0.0) / 3600,
                "tremor_pct": p.tremor_s / p.assessable_s * 100 if p.assessable_s > 0 else math.nan,
                **{f"{c}_pct": pct[c] for c in plots.DRAWN_CLASSES},
                "tremor_episodes": p.tremor_episodes,
                "contraction_episodes": p.contraction_episodes,
                "contraction_per_h": p.contraction_episodes / (p.wear_s / 3600) if p.wear_s > 0 else math.nan,
                "contraction_pct": p.contraction_s / p.wear_s * 100 if p.wear_s > 0 else math.nan,
                "diary": p.diary_numbers,
            }
        )
    return rows


def glance_arrays(data: ReportData, panels: list[DayData]) -> tuple[list[str], np.ndarray, np.ndarray, list]:
    """Days x 96 quarter-hours: tremor % of assessable time and contraction % of time."""
    days = [p for p in panels if p.origin_posix is not None and p.plot is not None]
    tremor = np.full((len(days), 96), np.nan)
    contraction = np.full((len(days), 96), np.nan)
    markers = []
    for row, p in enumerate(days):
        assert p.plot is not None
        unk = p.plot.unknown.reshape(96, 15)
        tr = sum(np.nan_to_num(p.plot.fractions[c]) for c in plots.DRAWN_CLASSES).reshape(96, 15)
        have = np.isfinite(unk)
        assess = np.where(have, 1 - unk, 0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            tremor[row] = np.where(assess > 0, np.where(have, tr, 0).sum(axis=1) / assess, np.nan)
        con = np.nan_to_num(p.plot.contraction.reshape(96, 15))
        n = have.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            contraction[row] = np.where(n > 0, np.where(have, con, 0).sum(axis=1) / n, np.nan)
        for x_h, _, kind in p.plot.diary:
            if kind in TREATMENT_KINDS:
                markers.append((row, x_h, kind))
    labels = [datetime.fromtimestamp(p.origin_posix + 1, data.tz).strftime("%a %d %b") for p in days]  # type: ignore[operator]
    return labels, tremor, contraction, markers


def dose_response(data: ReportData) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, int] | None:
    """Mean tremor % of assessable time by time since the latest medication entry."""
    doses = sorted(e.at.timestamp() for e in data.diary if e.kind == "medication")
    m = data.minutes[np.isfinite(data.minutes["ts"])]
    if not doses or m.empty:
        return None
    ts = m["ts"].to_numpy(dtype=float) + MINUTE_S / 2
    d = np.asarray(doses)
    k = np.searchsorted(d, ts, side="right") - 1
    ok = k >= 0
    since_h = np.where(ok, (ts - d[np.clip(k, 0, None)]) / 3600, np.nan)
    edges = np.arange(0, DOSE_WINDOW_H + DOSE_BIN_H / 2, DOSE_BIN_H)
    inside = ok & (since_h < DOSE_WINDOW_H)
    if not inside.any():
        return None
    assess = (1 - m["unknown_frac"].to_numpy(dtype=float)) * MINUTE_S
    trem = sum(m[f"{c}_frac"].to_numpy(dtype=float) for c in plots.DRAWN_CLASSES) * MINUTE_S
    b = np.clip((since_h[inside] // DOSE_BIN_H).astype(np.int64), 0, edges.size - 2)
    a_sum = np.bincount(b, assess[inside], edges.size - 1)
    t_sum = np.bincount(b, trem[inside], edges.size - 1)
    count = np.bincount(b, minlength=edges.size - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(a_sum > 0, t_sum / a_sum * 100, np.nan)
    total_a = assess.sum()
    overall = float(trem.sum() / total_a * 100) if total_a > 0 else math.nan
    return edges, mean, count, overall, len(doses)


# --------------------------------------------------------------------------- HTML


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def _img(png: bytes, alt: str, cls: str = "fig") -> str:
    """An embedded PNG (the width/height attributes keep the layout stable while decoding)."""
    w, h = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="{cls}" src="data:image/png;base64,{data}" width="{w}" height="{h}" alt="{_e(alt)}">'


def _num(v: Any, fmt: str, unit: str = "") -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(f):
        return "—"
    return f"{format(f, fmt)}{unit}"


def _hours(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "—"
    h, rem = divmod(int(round(seconds)), 3600)
    return f"{h} h {rem // 60:02d} min" if h else f"{rem // 60} min"


def _span(seconds: float) -> str:
    """A duration in words for people: 40.0 s, 1 min 20 s, 2 h 05 min."""
    if not math.isfinite(seconds):
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        m, sec = divmod(int(round(seconds)), 60)
        return f"{m} min {sec:02d} s"
    return _hours(seconds)


def _pct(part: float, whole: float) -> str:
    return _num(part / whole * 100, ".1f", " %") if whole > 0 else "—"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, cls: str = "", tid: str = "") -> str:
    """``rows`` hold ready HTML cells (``<td ...>...</td>``)."""
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in headers)
    body = "\n".join(f"<tr>{''.join(r)}</tr>" for r in rows)
    id_attr = f' id="{tid}"' if tid else ""
    return f'<table class="{cls}"{id_attr}><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>'


def _td(text: Any, sort: Any = None, cls: str = "") -> str:
    attrs = ""
    if sort is not None:
        if isinstance(sort, float) and not math.isfinite(sort):
            sort = ""
        attrs += f' data-sort="{_e(sort)}"'
    if cls:
        attrs += f' class="{cls}"'
    return f"<td{attrs}>{_e(text)}</td>"


def _clock(data: ReportData, posix: float, fmt: str = "%a %d %b %H:%M:%S") -> str:
    if not math.isfinite(posix):
        return ""
    return data.local(posix).strftime(fmt)


def _legend(items: Sequence[tuple[str, str, str]]) -> str:
    """(css class, colour, label) swatches."""
    parts = []
    for kind, color, label in items:
        parts.append(
            f'<span class="key"><span class="sw {kind}" style="background:{color}"></span>{_e(label)}</span>'
        )
    return '<p class="legend">' + " ".join(parts) + "</p>"


def render_html(data: ReportData, progress: Callable[[float], None] | None = None) -> str:
    """The whole report as one HTML document."""
    t_start = time.monotonic()
    report = lambda f: progress(f) if progress is not None else None  # noqa: E731
    ov = overview(data)
    panels = day_panels(data)
    report(0.05)
    directions = plots.direction_colors(
        [
            d
            for d in data.episodes.loc[data.episodes["kind"] == "contraction", "direction"]
            if isinstance(d, str)
        ]
    )
    numbers = diary_numbers(data)
    parts: list[str] = []
    # ----- overview
    parts.append(_overview_html(data, ov))
    labels, trem_map, con_map, markers = glance_arrays(data, panels)
    if len(labels) > 1 or (labels and ov.recording_s >= 3 * 3600):
        parts.append("<h3>At a glance</h3>")
        parts.append(
            _img(
                plots.glance_png(labels, trem_map, con_map, markers), "days by hours: tremor and contraction"
            )
        )
        parts.append(
            '<p class="hint">Each row is a day, each cell a quarter of an hour; grey = not recorded. '
            "Triangles mark medication, botulinum toxin and DBS diary entries.</p>"
        )
    parts.append("</section>")
    report(0.15)
    # ----- day timelines
    parts.append('<section id="timeline"><h2>Day timelines</h2>')
    legend = [("sev", plots.SEVERITY_COLORS[c], f"{c} tremor") for c in plots.DRAWN_CLASSES]
    legend += [("unk", plots.UNKNOWN_COLOR, "cannot judge (moving, or no data)")]
    legend += [("gap", "repeating-linear-gradient(45deg,#6b7280 0 2px,#fff 2px 5px)", "data gap")]
    legend += [("nr", plots.NOT_RECORDED_COLOR, "not recorded")]
    legend += [("dir", c, f"contraction: {d.replace('_', ' ')}") for d, c in directions.items()]
    kinds = sorted({e.kind for e in data.diary}, key=DIARY_KINDS.index)
    legend += [("diary", plots.DIARY_COLORS[k], f"diary: {k}") for k in kinds]
    parts.append(_legend(legend))
    parts.append(
        '<p class="hint">Per minute: the share of the minute with tremor, stacked by severity class; '
        "the band "
        "below shows contraction episodes coloured by direction; numbered lines are diary entries.</p>"
    )
    if not panels:
        parts.append("<p>No minutes to show.</p>")
    for i, p in enumerate(panels):
        assert p.plot is not None
        parts.append(f'<figure class="day" id="day-{_e(p.key)}">')
        parts.append(_img(plots.day_timeline_png(p.plot, directions), f"timeline {p.title}"))
        notes = []
        if p.diary_numbers:
            for n in p.diary_numbers:
                e = data.diary[n - 1]
                notes.append(
                    f"<b>{n}</b> {_e(e.at.astimezone(data.tz).strftime('%H:%M'))} {_e(e.kind)}: {_e(e.text)}"
                )
        tremor_txt = _pct(p.tremor_s, p.assessable_s)
        cap = (
            f"{_e(p.title)}: worn {_hours(max(p.wear_s, 0))}, tremor {tremor_txt} of assessable time, "
            f"{p.contraction_episodes} contraction episode(s)"
        )
        if notes:
            cap += "<br>" + "; ".join(notes)
        parts.append(f"<figcaption>{cap}</figcaption></figure>")
        report(0.15 + 0.55 * (i + 1) / max(len(panels), 1))
    parts.append("</section>")
    # ----- distributions
    parts.append('<section id="distributions"><h2>Distributions</h2>')
    e = data.episodes
    tr = e[e["kind"] == "tremor"]
    co = e[e["kind"] == "contraction"]
    cfg = data.sessions[-1].config
    bands = [(b.name, b.low_hz, b.high_hz) for b in cfg.bands]
    parts.append(
        _img(
            plots.distributions_png(
                {
                    k: tr[k].to_numpy(dtype=float)
                    for k in ("dominant_hz", "displacement_cm", "stability", "duration_s")
                },
                {
                    "peak_angle_deg": co["peak_angle_deg"].to_numpy(dtype=float),
                    "duration_s": co["duration_s"].to_numpy(dtype=float),
                    "direction": co["direction"].to_numpy(dtype=object),
                },
                bands,
                tuple(cfg.severity_cm),
                directions,
            ),
            "distributions of tremor frequency, amplitude, stability; contraction angle, duration, direction",
        )
    )
    thresholds = ", ".join(f"{v:g}" for v in cfg.severity_cm)
    parts.append(
        '<p class="hint">Tremor histograms count minutes of tremor (episodes weighted by duration). '
        "Dashed lines "
        f"on the amplitude plot are the severity thresholds ({thresholds} cm).</p>"
    )
    parts.append("</section>")
    report(0.78)
    # ----- trends
    parts.append(_trends_html(data, panels, numbers))
    report(0.9)
    # ----- episodes, diary, quality, method
    parts.append(_episodes_html(data))
    parts.append(_diary_html(data, numbers))
    parts.append(_quality_html(data))
    parts.append(_method_html(data, time.monotonic() - t_start))
    report(1.0)
    return _page(data, "\n".join(parts))


def _overview_html(data: ReportData, ov: Overview) -> str:
    tiles = [
        ("Recording time", _hours(ov.recording_s), f"{len(data.sessions)} session(s)"),
        ("Wear time", _hours(ov.wear_s), f"data gaps {_hours(ov.gap_s)}"),
        ("Tremor", _pct(ov.tremor_s, ov.assessable_s), f"of assessable time ({_hours(ov.assessable_s)})"),
        (
            "Contraction episodes",
            _num(ov.contraction_per_h, ".2f", " per hour"),
            f"{ov.contraction_episodes} in total, {_span(ov.contraction_total_s)}; "
            f"median {_span(ov.contraction_median_s)}",
        ),
        (
            "Dominant tremor band",
            ov.band or "—",
            (
                f"{ov.band_share * 100:.0f} % of tremor time, median {ov.median_hz:.1f} Hz"
                if ov.band
                else "no tremor"
            ),
        ),
    ]
    cells = "".join(
        f'<div class="tile"><div class="tl">{_e(a)}</div><div class="tv">{_e(b)}</div>'
        f'<div class="ts">{_e(c)}</div></div>'
        for a, b, c in tiles
    )
    rows = []
    total = ov.assessable_s
    for c in SEVERITY_CLASSES:
        color = plots.SEVERITY_COLORS.get(c, "#ffffff")
        rows.append(
            [
                f'<td><span class="sw" style="background:{color}"></span>{_e(c)}</td>',
                _td(_hours(ov.class_s.get(c, 0.0))),
                _td(_pct(ov.class_s.get(c, 0.0), total)),
                _td(_pct(ov.class_s.get(c, 0.0), ov.wear_s)),
            ]
        )
    unknown_s = max(ov.wear_s - ov.assessable_s, 0.0)
    rows.append(
        [
            f'<td><span class="sw" style="background:{plots.UNKNOWN_COLOR}"></span>cannot judge</td>',
            _td(_hours(unknown_s)),
            _td("—"),
            _td(_pct(unknown_s, ov.wear_s)),
        ]
    )
    classes = _table(
        ["severity class", "time", "% of assessable time", "% of wear time"],
        rows,
        cls="compact",
        tid="class-table",
    )
    ctx_total = sum(ov.context_s.values())
    ctx = ", ".join(
        f"{k} {_pct(v, ctx_total)}" for k, v in sorted(ov.context_s.items(), key=lambda kv: -kv[1])
    )
    facts = [
        f"Tremor episodes: {ov.tremor_episodes}"
        + (f", median {_span(ov.tremor_median_s)}" if ov.tremor_episodes else ""),
        f"Tremor context (share of tremor time): {ctx or '—'}",
        f"Median tremor displacement: {_num(ov.median_disp_cm, '.2g', ' cm')} (zero to peak)",
        f"Time in contraction: {_hours(ov.contraction_time_s)} "
        f"({_pct(ov.contraction_time_s, ov.wear_s)} of wear time)"
        + (f"; most frequent direction {ov.top_direction.replace('_', ' ')}" if ov.top_direction else ""),
    ]
    notes = "".join(f"<li>{_e(n)}</li>" for n in data.notes)
    fact_items = "".join(f"<li>{_e(f)}</li>" for f in facts)
    return (
        f'<section id="overview"><h2>Overview</h2><div class="tiles">{cells}</div>'
        f'<div class="cols"><div>{classes}</div><ul class="facts">{fact_items}</ul></div>'
        + (f'<ul class="notes">{notes}</ul>' if notes else "")
    )


def _trends_html(data: ReportData, panels: list[DayData], numbers: dict[int, int]) -> str:
    out = ['<section id="trends"><h2>Trends across days</h2>']
    trend = trend_series(data)
    if trend is None:
        out.append("<p>Trends need recordings with a start time.</p></section>")
        return "\n".join(out)
    out.append(
        _img(plots.trends_png(trend), f"tremor and contraction per {trend.resolution} with diary markers")
    )
    out.append(
        f'<p class="hint">Top: tremor as % of assessable time per {trend.resolution}, stacked by '
        "severity class. "
        "Bottom: % of time in a contraction. Solid numbered lines: medication, botulinum toxin, DBS changes; "
        "dotted: other diary entries (numbers as in the diary table).</p>"
    )
    dr = dose_response(data)
    if dr is not None:
        edges, mean, count, overall, n_doses = dr
        out.append(
            _img(
                plots.dose_response_png(edges, mean, count, overall, n_doses),
                "tremor after a dose",
                "fig small",
            )
        )
        out.append(
            '<p class="hint">Each recorded minute counts for the most recent medication entry before '
            "it: a rise "
            "a few hours after doses suggests wearing-off.</p>"
        )
    rows = []
    for r in daily_table(panels):
        rows.append(
            [
                _td(r["day"]),
                _td(_num(r["wear_h"], ".1f"), r["wear_h"]),
                _td(_num(r["tremor_pct"], ".1f"), r["tremor_pct"]),
                *[_td(_num(r[f"{c}_pct"], ".1f"), r[f"{c}_pct"]) for c in plots.DRAWN_CLASSES],
                _td(r["tremor_episodes"], r["tremor_episodes"]),
                _td(r["contraction_episodes"], r["contraction_episodes"]),
                _td(_num(r["contraction_per_h"], ".2f"), r["contraction_per_h"]),
                _td(_num(r["contraction_pct"], ".1f"), r["contraction_pct"]),
                _td(", ".join(str(n) for n in r["diary"])),
            ]
        )
    if rows:
        headers = [
            "day",
            "worn h",
            "tremor %",
            *[f"{c} %" for c in plots.DRAWN_CLASSES],
            "tremor episodes",
            "contraction episodes",
            "contractions / h",
            "contraction %",
            "diary",
        ]
        out.append(_table(headers, rows, cls="compact num", tid="daily-table"))
    out.append("</section>")
    return "\n".join(out)


EPISODE_HEADERS = (
    "session",
    "#",
    "kind",
    "start",
    "end",
    "duration",
    "band",
    "Hz",
    "severity",
    "displacement cm",
    "amplitude g",
    "amplitude deg/s",
    "stability Hz",
    "context",
    "peak angle deg",
    "mean angle deg",
    "direction",
    "onset speed deg/s",
)


def _episodes_html(data: ReportData) -> str:
    e = data.episodes
    by_id = {s.id: s for s in data.sessions}
    shown = e.iloc[:MAX_TABLE_ROWS]
    rows = []
    for r in shown.itertuples(index=False):
        s = by_id[int(r.session_id)]
        if s.clocked:
            start_txt = _clock(data, float(r.ts_start), "%d %b %H:%M:%S")
            end_txt = _clock(data, float(r.ts_end), "%H:%M:%S")
            start_key: Any = float(r.ts_start)
        else:
            start_txt = "+" + format_duration(float(r.start_s) - s.t_start_s)
            end_txt = "+" + format_duration(float(r.end_s) - s.t_start_s)
            start_key = float(r.start_s) - s.t_start_s
        direction = r.direction.replace("_", " ") if isinstance(r.direction, str) else ""
        rows.append(
            [
                _td(r.session_id, int(r.session_id)),
                _td(r.episode_id, int(r.episode_id)),
                _td(r.kind),
                _td(start_txt, start_key),
                _td(end_txt, float(r.ts_end) if s.clocked else float(r.end_s)),
                _td(format_duration(r.duration_s), float(r.duration_s)),
                _td(r.band or ""),
                _td(_num(r.dominant_hz, ".1f", ""), float(r.dominant_hz)),
                _td(
                    r.severity or "",
                    SEVERITY_CLASSES.index(r.severity) if r.severity in SEVERITY_CLASSES else "",
                ),
                _td(_num(r.displacement_cm, ".2g"), float(r.displacement_cm)),
                _td(_num(r.amplitude_g, ".3g"), float(r.amplitude_g)),
                _td(_num(r.amplitude_dps, ".3g"), float(r.amplitude_dps)),
                _td(_num(r.stability, ".2f"), float(r.stability)),
                _td(r.context or ""),
                _td(_num(r.peak_angle_deg, ".0f"), float(r.peak_angle_deg)),
                _td(_num(r.mean_angle_deg, ".0f"), float(r.mean_angle_deg)),
                _td(direction),
                _td(_num(r.onset_speed_dps, ".0f"), float(r.onset_speed_dps)),
            ]
        )
    out = ['<section id="episodes"><h2>Episodes</h2>']
    if e.empty:
        out.append("<p>No episodes detected.</p></section>")
        return "\n".join(out)
    clocked = all(s.clocked for s in data.sessions)
    out.append(
        f'<p class="hint">{len(e)} episode(s). Start and end are local clock times ({_e(_tz_name(data.tz))})'
        + ("" if clocked else "; '+' times are from the start of a recording without a clock")
        + ". Click a column heading to sort (the table reads in time order without JavaScript).</p>"
    )
    if len(e) > MAX_TABLE_ROWS:
        out.append(
            f'<p class="hint">Showing the first {MAX_TABLE_ROWS}; `tremorscope export --format csv` '
            "has all.</p>"
        )
    out.append(
        '<div class="scroll">'
        + _table(EPISODE_HEADERS, rows, cls="sortable num", tid="episode-table")
        + "</div>"
    )
    out.append("</section>")
    return "\n".join(out)


def _diary_html(data: ReportData, numbers: dict[int, int]) -> str:
    out = ['<section id="diary"><h2>Diary</h2>']
    if not data.diary:
        out.append(
            "<p>No diary entries on these days. Patients add them with <code>tremorscope note "
            '"levodopa 100 mg" '
            "--kind medication</code>.</p></section>"
        )
        return "\n".join(out)
    rows = []
    for e in data.diary:
        local = e.at.astimezone(data.tz)
        lived = "" if e.at.utcoffset() == local.utcoffset() else f" (noted at {e.at:%H:%M %z})"
        color = plots.DIARY_COLORS.get(e.kind, "#6b7280")
        rows.append(
            [
                f'<td><span class="num-badge" style="background:{color}">{numbers[e.id]}</span></td>',
                _td(local.strftime("%a %d %b %Y %H:%M") + lived, e.at.timestamp()),
                _td(e.kind),
                _td(e.text),
            ]
        )
    out.append(_table(["#", "time", "kind", "note"], rows, cls="compact diary", tid="diary-table"))
    out.append("</section>")
    return "\n".join(out)


def _extra(row: dict[str, Any]) -> dict[str, Any]:
    try:
        v = json.loads(row.get("extra_json") or "{}")
    except (TypeError, ValueError):
        return {}
    return v if isinstance(v, dict) else {}


def session_limits(row: dict[str, Any]) -> list[str]:
    """What a session's data cannot show: the detector's own words (``extra_json["limits"]``).

    Sessions logged without that key fall back to :data:`ACC_ONLY_LIMITS` when they have no
    gyroscope, so older logs still say what an accelerometer alone misses.
    """
    limits = _extra(row).get("limits")
    if isinstance(limits, list):
        return [str(x) for x in limits if str(x).strip()]
    return [ACC_ONLY_LIMITS] if row.get("has_gyro") == 0 else []


def neutral_text(row: dict[str, Any]) -> str:
    """Whether a session's neutral posture was calibrated, and from what (``extra_json``)."""
    extra = _extra(row)
    if "calibrated" not in extra:
        return "not recorded"
    if not extra.get("calibrated"):
        return "no: learned from quiet posture" if extra.get("neutral_g") is not None else "no"
    source = extra.get("neutral_from")
    if source == "calibrate_s" and extra.get("calibrate_s") is not None:
        how = f"measured over the first {_num(extra['calibrate_s'], 'g')} s"
    elif source == "stored" and extra.get("calibration_id") is not None:
        how = f"stored calibration {extra['calibration_id']}"
    elif source == "parent":
        of = (extra.get("reanalysis") or {}).get("neutral_of_session") or row.get("parent_session_id")
        how = f"as session {of}"
    elif source == "detector_calibrate_s":
        how = "measured by the detector at the start"
    elif source == "given":
        how = "given"
    else:
        return "yes"
    return f"yes: {how}"


def _quality_html(data: ReportData) -> str:
    out = ['<section id="quality"><h2>Data quality</h2>']
    rows = []
    no_gyro = []
    limits: dict[str, list[int]] = {}  # limit text -> sessions, in order of first appearance
    for s in data.sessions:
        r = s.row
        span = s.t_end_s - s.t_start_s
        g = data.gaps[data.gaps["session_id"] == s.id]
        gap_s = float((g["end_s"] - g["start_s"]).sum()) if len(g) else 0.0
        longest = float((g["end_s"] - g["start_s"]).max()) if len(g) else 0.0
        nominal = r.get("sample_rate_hz")
        eff = r.get("effective_rate_hz")
        if eff is None and (r.get("samples") or 0) > 1 and span > 0:
            eff = (int(r["samples"]) - 1) / span
        flag = " ⚠" if nominal and eff and abs(eff / nominal - 1) > RATE_WARN_FRACTION else ""
        live = _extra(r).get("live") or {}
        link = [
            f"{label} {live[key]}" for key, label in LINK_FIELDS if live.get(key) not in (None, 0, 0.0, "")
        ]
        start = _clock(data, float(s.posix(s.t_start_s)), "%Y-%m-%d %H:%M") if s.clocked else "no clock"
        gyro = {None: "?", 0: "no", 1: "yes"}.get(r.get("has_gyro"), "?")
        source = Path(str(r.get("source") or "")).name or str(r.get("source") or "")
        device = " · ".join(x for x in (r.get("device") or "", source) if x)
        status = r.get("status") or ""
        if r.get("error"):
            status += f": {r['error']}"
        if r.get("mode") == "reanalysis":
            status += f" (re-analysis of session {r.get('parent_session_id')})"
        gaps_txt = f"{len(g)}" + (
            f" ({format_duration(gap_s)}, longest {format_duration(longest)})" if len(g) else ""
        )
        skipped = int(r.get("skipped_missing") or 0) + int(r.get("skipped_time") or 0)
        rows.append(
            [
                _td(f"{s.id} {r.get('mode') or ''}", s.id),
                _td(start),
                _td(format_duration(span), span),
                _td(device),
                _td(r.get("placement") or ""),
                _td(neutral_text(r)),
                _td(f"{_num(nominal, 'g')} / {_num(eff, '.2f')}{flag}", eff),
                _td(gyro),
                _td(r.get("samples") or 0, r.get("samples") or 0),
                _td(gaps_txt, gap_s),
                _td(f"{r.get('dropped') or 0} / {r.get('malformed') or 0}"),
                _td(skipped, skipped),
                _td("; ".join(link)),
                _td(status),
            ]
        )
        if r.get("has_gyro") == 0:
            no_gyro.append(s.id)
        for limit in session_limits(r):
            limits.setdefault(limit, []).append(s.id)
    headers = [
        "session",
        "start",
        "length",
        "device · source",
        "placement",
        "neutral posture calibrated",
        "rate Hz nominal / effective",
        "gyro",
        "samples",
        "data gaps",
        "packets dropped / malformed",
        "rows skipped",
        "link",
        "status",
    ]
    out.append(
        '<div class="scroll">' + _table(headers, rows, cls="compact num", tid="quality-table") + "</div>"
    )
    notes = [
        "Data gaps are stretches without samples longer than the detector's gap limit; nothing is inferred "
        "inside them. Dropped packets were lost in the receiving computer's queue, malformed ones could "
        "not be "
        "decoded; skipped rows were empty or out of time order in a recording file. "
        f"⚠ marks an effective rate more than {RATE_WARN_FRACTION * 100:.0f} % from the nominal one."
    ]
    if no_gyro:
        notes.append(f"Session(s) {', '.join(map(str, no_gyro))} recorded without a gyroscope.")
    notes.append(
        "A calibrated neutral posture was measured while the person held still (`tremorscope "
        "calibrate` or --calibrate); without one, sustained postures are judged against posture "
        "learned from quiet time (neck) or not at all (limbs)."
    )
    out.append("".join(f'<p class="hint">{_e(n)}</p>' for n in notes))
    if limits:
        items = []
        for limit, ids in limits.items():
            who = (
                "all sessions"
                if len(ids) == len(data.sessions) > 1
                else "session(s) " + ", ".join(map(str, ids))
            )
            items.append(f'<li data-sessions="{_e(" ".join(map(str, ids)))}">{_e(limit)} — {_e(who)}</li>')
        out.append("<h3>What these data cannot show</h3>")
        out.append(f'<ul class="limits" id="limits-list">{"".join(items)}</ul>')
    g = data.gaps.assign(length=data.gaps["end_s"] - data.gaps["start_s"]).sort_values(
        "length", ascending=False
    )
    if len(g):
        by_id = {s.id: s for s in data.sessions}
        grow = []
        for r in g.head(20).itertuples(index=False):
            s = by_id[int(r.session_id)]
            when = (
                _clock(data, float(r.ts_start))
                if s.clocked
                else "+" + format_duration(r.start_s - s.t_start_s)
            )
            grow.append([_td(r.session_id), _td(when), _td(format_duration(r.length)), _td(r.origin)])
        out.append("<h3>Longest data gaps</h3>")
        out.append(_table(["session", "from", "length", "noticed by"], grow, cls="compact", tid="gap-table"))
    out.append("</section>")
    return "\n".join(out)


def _settings_text(cfg: DetectorConfig) -> str:
    sev = "/".join(f"{v:g}" for v in cfg.severity_cm)
    return (
        f"severity thresholds {sev} cm, tremor from {cfg.min_rms_g:g} g or {cfg.min_rms_dps:g} deg/s "
        "band RMS, "
        f"contraction from {cfg.contraction_threshold_deg:g} deg held {cfg.contraction_min_hold_s:g} s, "
        f"gaps from {cfg.gap_s:g} s"
    )


def _method_html(data: ReportData, build_s: float) -> str:
    cfg = data.sessions[-1].config
    sev = cfg.severity_cm
    items = [
        "Tremor is judged every quarter of a second from the sensor's 3-18 Hz oscillation; each minute is "
        "split "
        "into severity classes by displacement amplitude (zero to peak): "
        f"slight below {sev[0]:g} cm, mild {sev[0]:g}-{sev[1]:g} cm, moderate {sev[1]:g}-{sev[2]:g} cm, "
        "strong "
        f"above {sev[2]:g} cm (MDS-UPDRS 3.15-3.17 anchors halved), and 'cannot judge' when the limb moves "
        "voluntarily or there is no data, as in Apple's Movement Disorder API minute results.",
        "A contraction episode is a deviation from the neutral posture of at least "
        f"{cfg.contraction_threshold_deg:g} degrees held for {cfg.contraction_min_hold_s:g} s while the limb "
        "is otherwise still; its direction is named "
        "for the placement (e.g. flexion, torticollis).",
        "Wear time is time with sensor data (recording time minus data gaps); an unworn but connected sensor "
        "counts as worn (the data show it as quiet, tremor-free time).",
        f"Times are local clock times in {_tz_name(data.tz)}.",
    ]
    settings = {}
    for s in data.sessions:
        settings.setdefault(_settings_text(s.config), []).append(s.id)
    for text, ids in settings.items():
        who = "all sessions" if len(settings) == 1 else "session(s) " + ", ".join(map(str, ids))
        items.append(f"Detector settings ({who}): {text}.")
    for s in data.sessions:
        if s.row.get("mode") == "reanalysis":
            re_info = _extra(s.row).get("reanalysis") or {}
            ch = re_info.get("changed") or {}
            what = (
                ", ".join(f"{k} {v.get('before')} → {v.get('after')}" for k, v in ch.items())
                or "no setting changed"
            )
            items.append(f"Session {s.id} re-analyses session {s.row.get('parent_session_id')}: {what}.")
    items.append(
        f"Made by tremorscope {__version__} on {datetime.now().astimezone():%Y-%m-%d %H:%M %Z} "
        f"in {build_s:.1f} s. "
        "This report supports, and does not replace, clinical examination."
    )
    body = "".join(f"<li>{_e(i)}</li>" for i in items)
    return f'<section id="method"><h2>How to read this report</h2><ul>{body}</ul></section>'


_CSS = """
:root{--ink:#111827;--muted:#4b5563;--line:#e5e7eb;--accent:#1d4ed8}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--ink);
margin:0 auto;max-width:1180px;padding:0 18px 40px}
header{border-bottom:2px solid var(--ink);padding:14px 0 8px;margin-bottom:8px}
h1{font-size:22px;margin:0}h2{font-size:18px;margin:26px 0 8px;border-bottom:1px solid var(--line);
padding-bottom:4px}
h3{font-size:15px;margin:16px 0 6px}
.sub{color:var(--muted);margin:2px 0 0}
nav{position:sticky;top:0;background:#fff;padding:6px 0;border-bottom:1px solid var(--line);z-index:2;
font-size:13px}
nav a{color:var(--accent);margin-right:14px;text-decoration:none}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:10px;margin:10px 0}
.tile{border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.tl{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}.tv{font-size:22px;
font-weight:600}
.ts{color:var(--muted);font-size:12px}
.cols{display:grid;grid-template-columns:minmax(320px,1fr) 1fr;gap:16px;align-items:start}
.facts{margin:0;padding-left:18px}.notes{color:#92400e}
img.fig{max-width:100%;height:auto;display:block;margin:6px 0}img.small{max-width:560px}
figure.day{margin:10px 0 14px}figcaption{font-size:12.5px;color:var(--muted)}
.legend{font-size:12.5px;line-height:1.9}.key{margin-right:12px;white-space:nowrap}
.sw{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;vertical-align:-1px;
border:1px solid rgba(0,0,0,.15)}
.hint{color:var(--muted);font-size:12.5px}
table{border-collapse:collapse;width:100%;font-size:12.5px;margin:6px 0}
th,td{border-bottom:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top}
thead th{background:#f9fafb}
table.num td,table.compact td{white-space:nowrap}
table.num td[data-sort]{text-align:right;font-variant-numeric:tabular-nums}
table.compact{width:auto}
th button{font:inherit;font-weight:600;background:none;border:0;padding:0;cursor:pointer;color:inherit;
text-align:left}
th[aria-sort=ascending] button::after{content:" ▲"}th[aria-sort=descending] button::after{content:" ▼"}
.scroll{overflow-x:auto}
.num-badge{display:inline-block;min-width:18px;padding:0 4px;border-radius:9px;color:#fff;
text-align:center;font-weight:600}
code{background:#f3f4f6;padding:0 3px;border-radius:3px}
@page{size:A4 landscape;margin:10mm}
@media print{
 body{max-width:none;padding:0;font-size:11px}nav{display:none}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 section{break-before:page}section#overview{break-before:auto}
 figure.day,.tile,tr,img{break-inside:avoid}thead{display:table-header-group}thead th{position:static}
 .scroll{overflow:visible}a{color:inherit;text-decoration:none}
}
"""

_JS = """
(function(){
  function key(td){
    var v = td.getAttribute('data-sort'); if (v === null) v = td.textContent.trim();
    if (v === '') return null;
    var n = Number(v); return isNaN(n) ? v.toLowerCase() : n;
  }
  function cmp(a, b){
    if (a === null) return b === null ? 0 : 1; if (b === null) return -1;
    if (typeof a === typeof b) return a < b ? -1 : a > b ? 1 : 0;
    return typeof a === 'number' ? -1 : 1;
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function(table){
    var heads = table.tHead.rows[0].cells, body = table.tBodies[0];
    Array.prototype.forEach.call(heads, function(th, col){
      var b = document.createElement('button'); b.type = 'button'; b.textContent = th.textContent;
      th.textContent = ''; th.appendChild(b);
      b.addEventListener('click', function(){
        var asc = th.getAttribute('aria-sort') !== 'ascending';
        Array.prototype.forEach.call(heads, function(h){ h.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
        var rows = Array.prototype.slice.call(body.rows).map(function(r, i){ return [key(r.cells[col]), i, r];
        });
        rows.sort(function(x, y){
          if (x[0] === null || y[0] === null) return cmp(x[0], y[0]) || x[1] - y[1];
          return (asc ? cmp(x[0], y[0]) : cmp(y[0], x[0])) || x[1] - y[1];
        });
        rows.forEach(function(r){ body.appendChild(r[2]); });
      });
    });
  });
})();
"""


def _page(data: ReportData, body: str) -> str:
    nav = "".join(f'<a href="#{sid}">{_e(name)}</a>' for sid, name in SECTIONS)
    sessions = ", ".join(str(s.id) for s in data.sessions)
    csp = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
        "form-action 'none'"
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="tremorscope {_e(__version__)}">
<meta name="referrer" content="no-referrer">
<title>Tremor and dystonia report: {_e(data.title)}</title>
<style>{_CSS}</style>
</head>
<body>
<header><h1>Tremor and dystonia report: {_e(data.title)}</h1>
<p class="sub">Sessions {_e(sessions)} · times in {_e(_tz_name(data.tz))} · tremorscope {_e(__version__)}
· confidential health data</p></header>
<nav>{nav}</nav>
<main>
{body}
</main>
<script>{_JS}</script>
</body>
</html>
"""


def build_report(
    store: Store,
    out: str | Path,
    *,
    session_id: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    progress: Callable[[float], None] | None = None,
) -> Path:
    """Write the report for a session or a date range (default: every session) to ``out``."""
    out_path = Path(out)
    if out_path.is_dir():
        raise ReportError(f"{out_path} is a folder; give a file name such as {out_path / 'report.html'}")
    data = collect(store, session_id=session_id, date_from=date_from, date_to=date_to)
    text = render_html(data, progress)
    with private_file(out_path) as f:
        f.write(text)
    return out_path
