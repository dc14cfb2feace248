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

import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from tremorscope.exports.base import private_file
from tremorscope.review import plots
from tremorscope.review.collect import ReportData, ReportError, collect, parse_date
from tremorscope.review.diary import DIARY_KINDS, OUTSIDE_RECORDINGS
from tremorscope.review.html import _e, _hours, _img, _legend, _pct
from tremorscope.review.sections import (
    ACC_ONLY_LIMITS,
    _diary_html,
    _method_html,
    _overview_html,
    _quality_html,
    _trends_html,
    neutral_text,
    session_limits,
)
from tremorscope.review.summaries import day_panels, diary_numbers, dose_response, glance_arrays, overview
from tremorscope.review.tables import _episodes_html
from tremorscope.review.template import SECTIONS, _page
from tremorscope.store import Store


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
                where = f" ({OUTSIDE_RECORDINGS})" if data.outside_recordings(e.id) else ""
                notes.append(
                    f"<b>{n}</b> {_e(e.at.astimezone(data.tz).strftime('%H:%M'))} {_e(e.kind)}: "
                    f"{_e(e.text)}{where}"
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


__all__ = [
    "ACC_ONLY_LIMITS",
    "SECTIONS",
    "ReportData",
    "ReportError",
    "build_report",
    "collect",
    "dose_response",
    "neutral_text",
    "overview",
    "parse_date",
    "render_html",
    "session_limits",
]
