"""The report's HTML tables: the table and cell builders, and the sortable episode tables.

The episode tables (tremor, contraction) sort when JavaScript runs (``data-sort`` keys on the
cells) and read in time order when it does not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from dsp.events import SEVERITY_CLASSES
from tremorscope.review.collect import ReportData, _tz_name
from tremorscope.review.html import _clock, _e, _num
from tremorscope.tables import format_duration

#: Episode table rows shown (the CSV export has them all).
MAX_TABLE_ROWS = 5000


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


#: Columns of both episode tables (when, how long).
COMMON_HEADERS = ("session", "#", "start", "end", "duration")
#: The tremor table's own columns.
TREMOR_HEADERS = (
    "band", "Hz", "severity", "displacement cm", "amplitude g", "amplitude deg/s", "stability Hz",
    "context", "in contraction #",
)  # fmt: skip
#: The contraction table's own columns (co-contraction as in the CSV).
CONTRACTION_HEADERS = (
    "peak angle deg", "mean angle deg", "direction", "onset speed deg/s", "co-contraction g", "found by",
    "confidence",
)  # fmt: skip
#: Every episode column the report shows (the two tables together).
EPISODE_HEADERS = (*COMMON_HEADERS[:2], "kind", *COMMON_HEADERS[2:], *TREMOR_HEADERS, *CONTRACTION_HEADERS)


def _common_cells(data: ReportData, s: Any, r: Any) -> list[str]:
    if s.clocked:
        start_txt = _clock(data, float(r.ts_start), "%d %b %H:%M:%S")
        end_txt = _clock(data, float(r.ts_end), "%H:%M:%S")
        start_key: Any = float(r.ts_start)
    else:
        start_txt = "+" + format_duration(float(r.start_s) - s.t_start_s)
        end_txt = "+" + format_duration(float(r.end_s) - s.t_start_s)
        start_key = float(r.start_s) - s.t_start_s
    return [
        _td(r.session_id, int(r.session_id)),
        _td(r.episode_id, int(r.episode_id)),
        _td(start_txt, start_key),
        _td(end_txt, float(r.ts_end) if s.clocked else float(r.end_s)),
        _td(format_duration(r.duration_s), float(r.duration_s)),
    ]


def _tremor_cells(r: Any) -> list[str]:
    return [
        _td(r.band or ""),
        _td(_num(r.dominant_hz, ".1f", ""), float(r.dominant_hz)),
        _td(r.severity or "", SEVERITY_CLASSES.index(r.severity) if r.severity in SEVERITY_CLASSES else ""),
        _td(_num(r.displacement_cm, ".2g"), float(r.displacement_cm)),
        _td(_num(r.amplitude_g, ".3g"), float(r.amplitude_g)),
        _td(_num(r.amplitude_dps, ".3g"), float(r.amplitude_dps)),
        _td(_num(r.stability, ".2f"), float(r.stability)),
        _td(r.context or ""),
        _td(_num(r.contraction_id, ".0f", ""), float(r.contraction_id)),
    ]


def _contraction_cells(r: Any) -> list[str]:
    direction = r.direction.replace("_", " ") if isinstance(r.direction, str) else ""
    return [
        _td(_num(r.peak_angle_deg, ".0f"), float(r.peak_angle_deg)),
        _td(_num(r.mean_angle_deg, ".0f"), float(r.mean_angle_deg)),
        _td(direction),
        _td(_num(r.onset_speed_dps, ".0f"), float(r.onset_speed_dps)),
        _td(_num(r.co_contraction, ".3g"), float(r.co_contraction)),
        _td(r.detection_path or ""),
        _td(_num(r.confidence, ".2f"), float(r.confidence)),
    ]


def _episodes_html(data: ReportData) -> str:
    """Two sortable tables, tremor and contraction episodes, each with only its own columns
    (one table of every column is too wide for a 1280 px window or an A4 page)."""
    e = data.episodes
    by_id = {s.id: s for s in data.sessions}
    shown = e.iloc[:MAX_TABLE_ROWS]
    tremor_rows, contraction_rows = [], []
    for r in shown.itertuples(index=False):
        common = _common_cells(data, by_id[int(r.session_id)], r)
        if r.kind == "contraction":
            contraction_rows.append(common + _contraction_cells(r))
        else:
            tremor_rows.append(common + _tremor_cells(r))
    out = ['<section id="episodes"><h2>Episodes</h2>']
    if e.empty:
        out.append("<p>No episodes detected.</p></section>")
        return "\n".join(out)
    clocked = all(s.clocked for s in data.sessions)
    n_c = int((e["kind"] == "contraction").sum())
    out.append(
        f'<p class="hint">{len(e) - n_c} tremor and {n_c} contraction episode(s). Start and end are local '
        f"clock times ({_e(_tz_name(data.tz))})"
        + ("" if clocked else "; '+' times are from the start of a recording without a clock")
        + ". Click a column heading to sort (the tables read in time order without JavaScript).</p>"
    )
    if len(e) > MAX_TABLE_ROWS:
        out.append(
            f'<p class="hint">Showing the first {MAX_TABLE_ROWS}; `tremorscope export --format csv` '
            "has all.</p>"
        )
    for title, headers, rows, tid in (
        ("Tremor episodes", TREMOR_HEADERS, tremor_rows, "tremor-table"),
        ("Contraction episodes", CONTRACTION_HEADERS, contraction_rows, "contraction-table"),
    ):
        out.append(f"<h3>{title}</h3>")
        if not rows:
            out.append(f"<p>No {title.lower()}.</p>")
            continue
        table = _table((*COMMON_HEADERS, *headers), rows, cls="sortable num", tid=tid)
        out.append(f'<div class="scroll">{table}</div>')
    out.append("</section>")
    return "\n".join(out)
