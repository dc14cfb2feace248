"""The report's sections as HTML: overview, trends, diary, data quality and how to read the report."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from dsp.config import DetectorConfig
from dsp.events import SEVERITY_CLASSES
from tremorscope import __version__
from tremorscope.review import plots
from tremorscope.review.collect import ReportData, _tz_name
from tremorscope.review.diary import OUTSIDE_RECORDINGS
from tremorscope.review.html import _clock, _e, _hours, _img, _num, _pct, _span
from tremorscope.review.summaries import DayData, Overview, daily_table, dose_response, trend_series
from tremorscope.review.tables import _table, _td
from tremorscope.tables import format_duration

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
        f"{k.replace('_', ' ')} {_pct(v, ctx_total)}"
        for k, v in sorted(ov.context_s.items(), key=lambda kv: -kv[1])
    )
    e = data.episodes
    within = e[(e.kind == "tremor") & (e.context == "within_posture")] if len(e) else e
    found = e[e.kind == "contraction"]["detection_path"].value_counts() if len(e) else None
    facts = [
        f"Tremor episodes: {ov.tremor_episodes}"
        + (f", median {_span(ov.tremor_median_s)}" if ov.tremor_episodes else ""),
        f"Tremor context (share of tremor time): {ctx or '—'}",
        f"Dystonic tremor within a posture: {len(within)} episode(s)"
        + (
            " (in contraction " + ", ".join(f"#{int(c)}" for c in sorted(set(within.contraction_id))) + ")"
            if len(within)
            else ""
        ),
        "Contractions found: "
        + (", ".join(f"{n} {k}" for k, n in found.items()) if found is not None and len(found) else "—"),
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
        f'<p class="hint">Recorded days only, side by side: a dashed dark line marks days without a '
        f"recording that are left out. Top: tremor as % of assessable time per {trend.resolution}, "
        "stacked by severity class. "
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


def _recording_of(data: ReportData, entry_id: int) -> str:
    """'session N' for a diary entry a recording covers, else 'outside recordings'."""
    sid = data.diary_session.get(entry_id)
    return OUTSIDE_RECORDINGS if sid is None else f"session {sid}"


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
                _td(_recording_of(data, e.id)),
            ]
        )
    headers = ["#", "time", "kind", "note", "recording"]
    out.append(_table(headers, rows, cls="compact diary", tid="diary-table"))
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
                _td(device, cls="long"),
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
