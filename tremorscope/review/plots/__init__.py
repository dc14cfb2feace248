"""The report's figures, drawn with matplotlib (Agg, no display) as PNG bytes.

Each function takes plain arrays prepared by :mod:`tremorscope.review.report` and returns PNG bytes
to embed; no figure state is kept between calls (``Figure`` objects, not ``pyplot``), so the
report can be built from any thread and never opens a window. Colours are shared with the
report's HTML legends through the constants in ``style``. One module per plot family: ``days``
(a day's timeline, the heat maps at a glance), ``distributions``, ``trends`` (trends, dose
response); ``style`` holds what they share. Every name stays importable from here.
"""

from tremorscope.review.plots.days import DayPlot, day_timeline_png, glance_png
from tremorscope.review.plots.distributions import distributions_png
from tremorscope.review.plots.style import (
    BREAK_COLOR,
    COLORBAR_WIDTH_FRACTION,
    CONTRACTION_COLOR,
    DIARY_COLORS,
    DIRECTION_PALETTE,
    DPI,
    DRAWN_CLASSES,
    GAP_COLOR,
    GLANCE_CONTRACTION_RAMP,
    GLANCE_TREMOR_RAMP,
    NOT_RECORDED_COLOR,
    SEVERITY_COLORS,
    TICK_STEPS_H,
    UNKNOWN_COLOR,
    direction_colors,
    zoom_hours,
)
from tremorscope.review.plots.trends import TrendPlot, dose_response_png, trends_png

__all__ = [
    "BREAK_COLOR",
    "COLORBAR_WIDTH_FRACTION",
    "CONTRACTION_COLOR",
    "DIARY_COLORS",
    "DIRECTION_PALETTE",
    "DPI",
    "DRAWN_CLASSES",
    "DayPlot",
    "GAP_COLOR",
    "GLANCE_CONTRACTION_RAMP",
    "GLANCE_TREMOR_RAMP",
    "NOT_RECORDED_COLOR",
    "SEVERITY_COLORS",
    "TICK_STEPS_H",
    "TrendPlot",
    "UNKNOWN_COLOR",
    "day_timeline_png",
    "direction_colors",
    "distributions_png",
    "dose_response_png",
    "glance_png",
    "trends_png",
    "zoom_hours",
]
