"""Rendering the episode log for people and tools: aligned tables, the CSV contract, JSON.

The CSV export is a contract other tools read: the header is ``EPISODE_COLUMNS`` exactly, in
order, one row per episode, empty cells for missing values, numbers in full precision. The
tables are for people: times as mm:ss (h:mm:ss past an hour) from the start of the
recording, the wall-clock time of onset when the recording has one.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import IO, Any

import pandas as pd

from dsp.events import ENDED, EPISODE_COLUMNS, STARTED, Event


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and not math.isfinite(v)) or v is pd.NA


def _plain(v: Any) -> Any:
    """A JSON/CSV-friendly Python value: None for missing, int/float/str otherwise."""
    if _missing(v):
        return None
    if hasattr(v, "item"):  # numpy scalar
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def records(df: pd.DataFrame, columns: Iterable[str] = EPISODE_COLUMNS) -> list[dict[str, Any]]:
    """Rows of ``df`` as plain dicts over ``columns`` (missing columns and NaN become None)."""
    cols = list(columns)
    out = []
    for row in df.to_dict("records"):
        out.append({c: _plain(row.get(c)) for c in cols})
    return out


# --------------------------------------------------------------------------- machine formats


def write_episodes_csv(df: pd.DataFrame, out: IO[str]) -> None:
    """The CSV export contract: header ``EPISODE_COLUMNS``, one row per episode, '' for None."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EPISODE_COLUMNS)
    for rec in records(df):
        writer.writerow(["" if v is None else (repr(v) if isinstance(v, float) else v) for v in rec.values()])


def episodes_csv(df: pd.DataFrame) -> str:
    """:func:`write_episodes_csv` to a string."""
    buf = io.StringIO()
    write_episodes_csv(df, buf)
    return buf.getvalue()


def episodes_json(df: pd.DataFrame) -> str:
    """A JSON list of objects with the ``EPISODE_COLUMNS`` keys (null for missing)."""
    return json.dumps(records(df), indent=2)


# --------------------------------------------------------------------------- human formats


def format_elapsed(seconds: float | None) -> str:
    """``mm:ss`` below an hour, ``h:mm:ss`` above; '' for missing."""
    if _missing(seconds):
        return ""
    sign = "-" if seconds < 0 else ""
    total = int(abs(float(seconds)) + 1e-6)  # truncate, like a clock (and format_clock)
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return f"{sign}{h}:{m:02d}:{s:02d}" if h else f"{sign}{m:02d}:{s:02d}"


def format_duration(seconds: float | None) -> str:
    """Short duration: ``12.3 s`` under a minute, else like :func:`format_elapsed`."""
    if _missing(seconds):
        return ""
    return f"{seconds:.1f} s" if abs(seconds) < 60 else format_elapsed(seconds)


def format_clock(iso: str | None) -> str:
    """An ISO timestamp as ``YYYY-MM-DD HH:MM:SS`` on the recording's own clock ('' if None)."""
    if _missing(iso) or not iso:
        return ""
    try:
        dt = datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    except ValueError:
        return str(iso)
    return dt.strftime("%Y-%m-%d %H:%M:%S")


def _num(v: Any, fmt: str) -> str:
    return "" if _missing(v) else format(float(v), fmt)


def render_table(headers: list[str], rows: list[list[str]], right: set[int] | None = None) -> str:
    """Plain aligned text: a header row, a rule, the rows. ``right``: right-aligned columns."""
    right = right or set()
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out)


def episodes_table(df: pd.DataFrame, t_origin_s: Mapping[int, float] | None = None) -> str:
    """Episodes as aligned text for people: tremor and contraction episodes each in their own table.

    The two kinds share no measures (tremor: band, frequency, amplitude, severity, context;
    contraction: direction, angles, onset speed, co-contraction), so one table for both would
    be mostly empty cells. With both kinds present, each table gets a titled section.
    ``t_origin_s`` maps session id to the recording time of its first sample, so start/end
    read as time into the recording. An ``open`` column, when present, marks episodes still
    running (or cut short by an interrupted session).
    """
    if df.empty:
        return "no episodes"
    recs = records(df, list(df.columns))
    origins = t_origin_s or {}
    tremor = [r for r in recs if r.get("kind") != "contraction"]
    contraction = [r for r in recs if r.get("kind") == "contraction"]
    sections = []
    if tremor:
        sections.append((f"tremor episodes ({len(tremor)})", _tremor_table(tremor, origins)))
    if contraction:
        sections.append(
            (f"contraction episodes ({len(contraction)})", _contraction_table(contraction, origins))
        )
    if len(sections) == 1:
        return sections[0][1]
    return "\n\n".join(f"{title}\n{table}" for title, table in sections)


def _when(r: Mapping[str, Any], origins: Mapping[int, float]) -> list[str]:
    """session, #, start, end, duration, clock: the cells both episode tables begin with."""
    t0 = origins.get(int(r["session_id"]), 0.0) or 0.0
    start = None if r.get("start_s") is None else r["start_s"] - t0
    end = None if r.get("end_s") is None else r["end_s"] - t0
    end_txt = format_elapsed(end) + (" (open)" if r.get("open") else "")
    return [
        str(r["session_id"]), str(r.get("episode_id", "")), format_elapsed(start), end_txt,
        format_duration(r.get("duration_s")), format_clock(r.get("start_time")),
    ]  # fmt: skip


_WHEN_HEADERS = ["session", "#", "start", "end", "duration", "clock"]
_WHEN_RIGHT = {0, 1, 2, 3, 4}


def _tremor_table(recs: list[dict[str, Any]], origins: Mapping[int, float]) -> str:
    headers = [*_WHEN_HEADERS, "band", "Hz", "severity", "amp g", "amp dps", "disp cm", "context"]
    rows = [
        _when(r, origins)
        + [
            r.get("band") or "",
            _num(r.get("dominant_hz"), ".1f"),
            r.get("severity") or "",
            _num(r.get("amplitude_g"), ".3g"),
            _num(r.get("amplitude_dps"), ".3g"),
            _num(r.get("displacement_cm"), ".2g"),
            r.get("context") or "",
        ]  # fmt: skip
        for r in recs
    ]
    return render_table(headers, rows, _WHEN_RIGHT | {7, 9, 10, 11})


def _contraction_table(recs: list[dict[str, Any]], origins: Mapping[int, float]) -> str:
    headers = [*_WHEN_HEADERS, "direction", "peak deg", "mean deg", "onset deg/s", "co-contraction g"]
    rows = [
        _when(r, origins)
        + [
            direction_text(r.get("direction")),
            _num(r.get("peak_angle_deg"), ".0f"),
            _num(r.get("mean_angle_deg"), ".0f"),
            _num(r.get("onset_speed_dps"), ".3g"),
            _num(r.get("co_contraction"), ".2g"),
        ]  # fmt: skip
        for r in recs
    ]
    return render_table(headers, rows, _WHEN_RIGHT | {7, 8, 9, 10})


def direction_text(direction: str | None) -> str:
    """A clinical direction for people: ``laterocollis_left`` -> ``laterocollis left``."""
    return "" if _missing(direction) or not direction else str(direction).replace("_", " ")


def sessions_table(df: pd.DataFrame) -> str:
    """Sessions as an aligned table for people (``Store.sessions()`` output)."""
    if df.empty:
        return "no sessions"
    headers = ["id", "status", "mode", "started", "source", "placement", "rate Hz", "gyro",
               "length", "samples", "skipped", "gaps", "episodes"]  # fmt: skip
    rows = []
    for r in records(df, list(df.columns)):
        span = None
        if r.get("t_start_s") is not None and r.get("t_end_s") is not None:
            span = r["t_end_s"] - r["t_start_s"]
        skipped = int(r.get("skipped_missing") or 0) + int(r.get("skipped_time") or 0)
        gyro = {None: "", 0: "no", 1: "yes"}.get(r.get("has_gyro"), "")
        rows.append([
            str(r["id"]), r.get("status") or "", r.get("mode") or "",
            format_clock(r.get("started_at"))[:16], _short_source(r.get("source") or ""),
            r.get("placement") or "", _num(r.get("sample_rate_hz"), "g"), gyro,
            format_elapsed(span), str(r.get("samples") or 0), str(skipped),
            str(r.get("gaps") or 0), str(r.get("episodes") or 0),
        ])  # fmt: skip
    return render_table(headers, rows, {0, 6, 8, 9, 10, 11, 12})


def calibration_line(row: Mapping[str, Any]) -> str:
    """One stored calibration for people (a row of ``Store.calibrations()``)."""
    g = row.get("neutral_g") or []
    d = row.get("details") or {}
    vec = ", ".join(f"{float(v):+.3f}" for v in g)
    still = [f"held {_num(row.get('seconds'), 'g')} s"]
    if d.get("tilt_spread_deg") is not None:
        still.append(f"posture spread {float(d['tilt_spread_deg']):.1f} deg")
    if d.get("turn_dps") is not None:
        still.append(f"turning {float(d['turn_dps']):.1f} deg/s")
    return (
        f"calibration {row.get('id')}: {row.get('device')} at {row.get('placement')}, "
        f"neutral gravity ({vec}) g in the sensor frame; {', '.join(still)}; "
        f"from {row.get('source')} at {format_clock(row.get('created_at'))}"
    )


def calibrations_table(rows: Iterable[Mapping[str, Any]]) -> str:
    """Stored calibrations as an aligned table (newest last)."""
    rows = list(rows)
    if not rows:
        return "no stored calibrations; `tremorscope calibrate --help` says how to make one"
    headers = ["id", "device", "placement", "created", "neutral gravity g", "seconds", "source"]
    cells = [
        [
            str(r.get("id")),
            str(r.get("device")),
            str(r.get("placement")),
            format_clock(r.get("created_at")),
            " ".join(f"{float(v):+.3f}" for v in r.get("neutral_g") or []),
            _num(r.get("seconds"), "g"),
            _short_source(str(r.get("source") or "")),
        ]  # fmt: skip
        for r in rows
    ]
    return render_table(headers, cells, {0, 5})


def _short_source(source: str, width: int = 40) -> str:
    name = os.path.basename(source) or source
    return name if len(name) <= width else "..." + name[-(width - 3) :]


def event_line(event: Event, t_origin_s: float = 0.0) -> str | None:
    """One line for an episode that started or ended; ``None`` for other events."""
    ep = event.episode
    if ep is None or event.type not in (STARTED, ENDED):
        return None
    start = format_elapsed(ep.start_s - t_origin_s)
    what = ep.kind or "episode"
    if event.type == STARTED:
        bits = [f"{start}  {what} #{ep.episode_id} started"]
        if ep.dominant_hz is not None:
            bits.append(f"{ep.dominant_hz:.1f} Hz")
        if ep.band:
            bits.append(f"band {ep.band}")
        if ep.severity:
            bits.append(ep.severity)
        if ep.context:
            bits.append(ep.context)
        if ep.direction:
            bits.append(direction_text(ep.direction))
        if ep.peak_angle_deg is not None:
            bits.append(f"{ep.peak_angle_deg:.0f} deg")
        return ", ".join(bits)
    end = format_elapsed(ep.end_s - t_origin_s)
    bits = [f"{end}  {what} #{ep.episode_id} ended after {format_duration(ep.duration_s)}"]
    if ep.dominant_hz is not None:
        bits.append(f"{ep.dominant_hz:.1f} Hz")
    if ep.severity:
        bits.append(ep.severity)
    if ep.displacement_cm is not None:
        bits.append(f"{ep.displacement_cm:.2g} cm")
    if ep.direction:
        bits.append(direction_text(ep.direction))
    if ep.peak_angle_deg is not None:
        bits.append(f"peak {ep.peak_angle_deg:.0f} deg")
    if ep.mean_angle_deg is not None:
        bits.append(f"mean {ep.mean_angle_deg:.0f} deg")
    if ep.onset_speed_dps is not None:
        bits.append(f"onset {ep.onset_speed_dps:.3g} deg/s")
    return ", ".join(bits)
