"""The report's numbers: the overview, one panel per day, trends, the at-a-glance map, dose response.

Minutes are placed on one-minute slots of each day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from dsp.events import SEVERITY_CLASSES
from tremorscope.review import plots
from tremorscope.review.collect import ReportData, ReportSession
from tremorscope.review.diary import TREATMENT_KINDS

MINUTE_S = 60.0
DAY_S = 86400.0
SLOTS_PER_DAY = 1440


#: Hourly trend resolution up to this many days, daily beyond.
HOURLY_TREND_MAX_DAYS = 21
#: Time since a dose covered by the wearing-off figure.
DOSE_WINDOW_H = 8.0
DOSE_BIN_H = 0.5


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
    # a day with diary entries but no recording still gets its (empty) timeline: the entries
    # are marked outside recordings there instead of vanishing
    for entry in data.diary:
        clocked_panel(int((entry.at.timestamp() + off) // DAY_S))
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
            if data.outside_recordings(entry.id):
                panels[key].plot.outside.add(numbers[entry.id])
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
    """Tremor % by class (of assessable time) and contraction % per hour or day, over the
    recorded days only: days without a recording are left out (two sessions months apart are
    two stretches side by side, with the break marked), so the axis is never mostly empty."""
    m = data.minutes[np.isfinite(data.minutes["ts"])]
    if m.empty:
        return None
    off = data.offset_s
    local = m["ts"].to_numpy(dtype=float) + off
    day_no = np.floor(local / DAY_S).astype(np.int64)
    days = np.unique(day_no)  # the recorded local days, in order
    n_days = int(days.size)
    hourly = n_days <= HOURLY_TREND_MAX_DAYS
    per_day = 24 if hourly else 1
    bin_s = DAY_S / per_day
    slot = np.searchsorted(days, day_no)
    within = np.clip(((local - day_no * DAY_S) // bin_s).astype(np.int64), 0, per_day - 1)
    n_bins = n_days * per_day
    idx = slot * per_day + within
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
    edges = np.arange(n_bins + 1) / per_day  # x in recorded-day slots
    labels = []
    for k, d_no in enumerate(days):
        d = datetime.fromtimestamp(int(d_no) * DAY_S - off, data.tz)
        labels.append(
            (
                float(k),
                f"{d:%a %d %b %Y}" if k == 0 or d.year != _year(days[k - 1], off, data) else f"{d:%a %d %b}",
            )
        )
    breaks = [
        (float(k), int(days[k] - days[k - 1] - 1)) for k in range(1, n_days) if days[k] - days[k - 1] > 1
    ]
    numbers = diary_numbers(data)
    markers = []
    for e in data.diary:
        lt = e.at.timestamp() + off
        k = int(np.searchsorted(days, math.floor(lt / DAY_S)))
        if k < n_days and days[k] == math.floor(lt / DAY_S):
            markers.append((k + (lt - days[k] * DAY_S) / DAY_S, numbers[e.id], e.kind))
    return plots.TrendPlot(
        edges, tremor, contraction, labels, markers, "hour" if hourly else "day", breaks=breaks
    )


def _year(day_no: int, off: float, data: ReportData) -> int:
    return datetime.fromtimestamp(int(day_no) * DAY_S - off, data.tz).year


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
