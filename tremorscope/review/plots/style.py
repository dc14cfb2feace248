"""The figures' shared look: colours (also used by the HTML legends), sizes, axes and hour ticks."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

#: Tremor severity classes drawn, mildest first (``none`` is the white remainder).
DRAWN_CLASSES: tuple[str, ...] = ("slight", "mild", "moderate", "strong")
SEVERITY_COLORS: dict[str, str] = {
    "slight": "#fcd34d",
    "mild": "#f59e0b",
    "moderate": "#ea580c",
    "strong": "#991b1b",
}
UNKNOWN_COLOR = "#d1d5db"  # no data, or too much voluntary movement to judge
GAP_COLOR = "#6b7280"
NOT_RECORDED_COLOR = "#f3f4f6"
CONTRACTION_COLOR = "#7c3aed"
BREAK_COLOR = "#374151"  # where the trends axis skips days without a recording
#: The at-a-glance tremor heat map: a teal ramp, so no shade of it reads as a severity colour
#: (yellow to dark red above) or as a contraction (violet).
GLANCE_TREMOR_RAMP: tuple[str, ...] = ("#ffffff", "#5eead4", "#0d9488", "#134e4a")
GLANCE_CONTRACTION_RAMP: tuple[str, ...] = ("#ffffff", "#c4b5fd", "#6d28d9", "#2e1065")
#: Width of each heat map's colour bar, as a fraction of the map's width (about 18 px).
COLORBAR_WIDTH_FRACTION = 0.04
#: Contraction directions (no blues, greens or reds close to the diary colours).
DIRECTION_PALETTE: tuple[str, ...] = (
    "#0891b2", "#db2777", "#84cc16", "#7c3aed", "#c2410c", "#14b8a6", "#a21caf", "#ca8a04",
    "#6366f1", "#78716c", "#f472b6", "#0e7490",
)  # fmt: skip
DIARY_COLORS: dict[str, str] = {
    "medication": "#1d4ed8",
    "botox": "#7e22ce",
    "dbs": "#047857",
    "stress": "#be123c",
    "fatigue": "#a16207",
    "sleep": "#334155",
    "other": "#6b7280",
}
DPI = 96
_FONT = 8.5


def direction_colors(directions: Sequence[str]) -> dict[str, str]:
    """A stable colour per contraction direction (sorted names take palette colours in turn)."""
    names = sorted({d for d in directions if d})
    return {d: DIRECTION_PALETTE[i % len(DIRECTION_PALETTE)] for i, d in enumerate(names)}


def _figure(width_in: float, height_in: float):  # noqa: ANN202 - matplotlib types
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:  # noqa: ANN001
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _style(ax, grid_axis: str = "y") -> None:  # noqa: ANN001
    ax.tick_params(labelsize=_FONT, length=3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if grid_axis:
        ax.grid(axis=grid_axis, color="#e5e7eb", lw=0.6)
        ax.set_axisbelow(True)


def _step_xy(edges: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points of a step curve over ``edges`` (len n+1) with ``values`` (len n); NaN breaks it."""
    x = np.repeat(edges, 2)[1:-1]
    return x, np.repeat(values, 2)


#: Tick steps for a day timeline, hours (5 min to 2 h).
TICK_STEPS_H = (1 / 12, 1 / 6, 1 / 4, 1 / 2, 1.0, 2.0)


def zoom_hours(spans: Sequence[tuple[float, float]], min_hours: float = 6.0) -> tuple[float, float]:
    """0-24 h, or the recorded part rounded to tick steps when it is shorter than ``min_hours``."""
    if not spans:
        return 0.0, 24.0
    lo = min(a for a, _ in spans)
    hi = max(b for _, b in spans)
    if hi - lo >= min_hours:
        return 0.0, 24.0
    step = next((s for s in TICK_STEPS_H if (hi - lo) / s <= 12), 2.0)
    a = max(0.0, np.floor(lo / step) * step)
    b = min(24.0, np.ceil(hi / step) * step)
    if b - a < step:
        b = min(24.0, a + step)
    return float(a), float(b)


def _hour_ticks(lo: float, hi: float) -> np.ndarray:
    step = next((s for s in TICK_STEPS_H if (hi - lo) / s <= 12), 2.0)
    return np.arange(np.ceil(lo / step - 1e-9) * step, hi + 1e-9, step)


def _hour_label(h: float, clocked: bool) -> str:
    minutes = int(round(h * 60))
    if clocked:
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    return f"{minutes // 60}:{minutes % 60:02d} h"
