"""Small HTML pieces of the report: escaping, numbers and durations as text, images, legends."""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from typing import Any

from tremorscope.review.collect import ReportData


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
