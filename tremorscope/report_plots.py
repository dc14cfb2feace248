"""The report's figures, drawn with matplotlib (Agg, no display) as PNG bytes.

Each function takes plain arrays prepared by :mod:`tremorscope.report` and returns PNG bytes
to embed; no figure state is kept between calls (``Figure`` objects, not ``pyplot``), so the
report can be built from any thread and never opens a window. Colours are shared with the
report's HTML legends through the constants below.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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


@dataclass
class DayPlot:
    """Everything one day timeline shows, in hours from the panel's origin (0-24)."""

    title: str
    fractions: dict[str, np.ndarray]  # class -> (1440,) fraction per minute slot, NaN = no data
    unknown: np.ndarray  # (1440,)
    contraction: np.ndarray = field(default_factory=lambda: np.full(1440, np.nan))  # fraction per slot
    contractions: list[tuple[float, float, str]] = field(default_factory=list)  # x0_h, x1_h, direction
    gaps: list[tuple[float, float]] = field(default_factory=list)
    not_recorded: list[tuple[float, float]] = field(default_factory=list)
    diary: list[tuple[float, int, str]] = field(default_factory=list)  # x_h, number, kind
    clocked: bool = True
    xlim: tuple[float, float] = (0.0, 24.0)  # hours shown (a short recording is zoomed in)


def day_timeline_png(day: DayPlot, directions: Mapping[str, str]) -> bytes:
    """Per-minute tremor fraction stacked by class, contractions below, gaps and diary marked."""
    fig = _figure(11.0, 3.0)
    gs = fig.add_gridspec(
        2, 1, height_ratios=[3.2, 0.8], hspace=0.08, left=0.055, right=0.975, top=0.86, bottom=0.13
    )
    ax = fig.add_subplot(gs[0])
    axc = fig.add_subplot(gs[1], sharex=ax)
    slots = day.unknown.size
    edges = np.arange(slots + 1) * (24.0 / slots)
    base = np.zeros(slots)
    for cls in DRAWN_CLASSES:
        frac = np.nan_to_num(day.fractions[cls], nan=0.0)
        top = base + frac
        x, y0 = _step_xy(edges, np.where(np.isnan(day.unknown), np.nan, base))
        _, y1 = _step_xy(edges, np.where(np.isnan(day.unknown), np.nan, top))
        if frac.any():
            ax.fill_between(x, y0 * 100, y1 * 100, color=SEVERITY_COLORS[cls], lw=0)
        base = top
    unk = day.unknown
    x, u0 = _step_xy(edges, (1.0 - unk) * 100)
    _, u1 = _step_xy(edges, np.where(np.isnan(unk), np.nan, 100.0))
    ax.fill_between(x, u0, u1, color=UNKNOWN_COLOR, lw=0, alpha=0.9)
    for x0, x1 in day.not_recorded:
        for a in (ax, axc):
            a.axvspan(x0, x1, color=NOT_RECORDED_COLOR, lw=0, zorder=0)
    for x0, x1 in day.gaps:
        for a in (ax, axc):
            a.axvspan(
                x0, max(x1, x0 + 0.02), facecolor="none", edgecolor=GAP_COLOR, hatch="////", lw=0, zorder=0.5
            )
    for x0, x1, direction in day.contractions:
        axc.broken_barh(
            [(x0, max(x1 - x0, 0.03))], (0.15, 0.7), facecolors=directions.get(direction, CONTRACTION_COLOR)
        )
    for x_h, number, kind in day.diary:
        color = DIARY_COLORS.get(kind, DIARY_COLORS["other"])
        for a in (ax, axc):
            a.axvline(x_h, color=color, lw=1.0, ls="--", zorder=3)
        ax.annotate(
            str(number),
            (x_h, 100),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=_FONT - 0.5,
            color="white",
            annotation_clip=False,
            bbox={"boxstyle": "round,pad=0.2", "fc": color, "ec": "none"},
        )
    ax.set_ylim(0, 100)
    ax.set_xlim(*day.xlim)
    ax.set_yticks([0, 50, 100])
    ax.set_ylabel("% of minute", fontsize=_FONT)
    ax.set_title(day.title, fontsize=_FONT + 1.5, loc="left", pad=14, fontweight="bold")
    _style(ax)
    ax.tick_params(labelbottom=False)
    axc.set_ylim(0, 1)
    axc.set_yticks([])
    axc.set_ylabel("contr.", fontsize=_FONT, rotation=0, ha="right", va="center")
    ticks = _hour_ticks(*day.xlim)
    axc.set_xticks(ticks)
    axc.set_xticklabels([_hour_label(h, day.clocked) for h in ticks])
    _style(axc, grid_axis="")
    return _png(fig)


def glance_png(
    day_labels: Sequence[str],
    tremor: np.ndarray,
    contraction: np.ndarray,
    markers: Sequence[tuple[int, float, str]],
) -> bytes:
    """Days x quarter-hours heat maps: tremor fraction and contraction fraction (NaN = no data).

    ``markers``: (day row, hour, diary kind) drawn as dots, so doses line up with the maps.
    """
    n_days = len(day_labels)
    height = 0.9 + 0.26 * max(n_days, 2)
    fig = _figure(11.0, height)
    axes = fig.subplots(
        1,
        2,
        sharey=True,
        gridspec_kw={
            "wspace": 0.04,
            "left": 0.11,
            "right": 0.985,
            "top": 1 - 0.42 / height,
            "bottom": 0.42 / height,
        },
    )
    from matplotlib.colors import LinearSegmentedColormap

    cmaps = (
        LinearSegmentedColormap.from_list("tremor", ["#ffffff", "#fcd34d", "#ea580c", "#7f1d1d"]),
        LinearSegmentedColormap.from_list("contraction", ["#ffffff", "#c4b5fd", "#6d28d9", "#2e1065"]),
    )
    titles = ("Tremor (% of assessable time)", "Contraction (% of time)")
    for ax, data, cmap, title in zip(axes, (tremor, contraction), cmaps, titles, strict=True):
        cmap = cmap.with_extremes(bad=NOT_RECORDED_COLOR)
        pct = data * 100
        vmax = max(20.0, float(np.nanmax(pct))) if np.isfinite(pct).any() else 20.0
        img = ax.imshow(
            np.ma.masked_invalid(pct),
            aspect="auto",
            cmap=cmap,
            vmin=0,
            vmax=min(vmax, 100.0),
            extent=(0, 24, n_days, 0),
            interpolation="nearest",
        )
        for row, hour, kind in markers:
            ax.plot(
                hour, row + 0.5, marker="v", ms=4, color=DIARY_COLORS.get(kind, "#000"), mec="white", mew=0.4
            )
        ax.set_xticks(np.arange(0, 25, 3))
        ax.set_xticklabels([f"{h:02d}" for h in range(0, 25, 3)])
        ax.set_title(title, fontsize=_FONT + 0.5, loc="left")
        ax.tick_params(labelsize=_FONT, length=2)
        cb = fig.colorbar(img, ax=ax, fraction=0.025, pad=0.01)
        cb.ax.tick_params(labelsize=_FONT - 1)
    axes[0].set_yticks(np.arange(n_days) + 0.5)
    axes[0].set_yticklabels(list(day_labels))
    return _png(fig)


def distributions_png(
    tremor: Mapping[str, np.ndarray],
    contraction: Mapping[str, np.ndarray],
    bands: Sequence[tuple[str, float, float]],
    severity_cm: Sequence[float],
    directions: Mapping[str, str],
) -> bytes:
    """Tremor frequency, amplitude, stability; contraction angle, duration and direction.

    ``tremor``: ``dominant_hz``, ``displacement_cm``, ``stability``, ``duration_s`` arrays;
    ``contraction``: ``peak_angle_deg``, ``duration_s`` arrays and ``direction`` (object).
    Tremor histograms are weighted by episode duration (minutes), so a long episode counts
    for what it lasted.
    """
    fig = _figure(11.0, 5.6)
    axes = fig.subplots(
        2,
        3,
        gridspec_kw={"hspace": 0.55, "wspace": 0.28, "left": 0.06, "right": 0.99, "top": 0.93, "bottom": 0.1},
    )
    w = np.asarray(tremor.get("duration_s", []), dtype=float) / 60.0

    def empty(ax, text: str) -> None:  # noqa: ANN001
        ax.text(
            0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=_FONT, color="#6b7280"
        )
        ax.set_yticks([])

    def hist(ax, values, bins, weights, color, xlabel, ylabel, none_text, logx=False) -> None:  # noqa: ANN001
        v = np.asarray(values, dtype=float)
        ok = np.isfinite(v)
        if weights is not None:
            ok &= np.isfinite(weights)
        if not ok.any():
            empty(ax, none_text)
        else:
            ax.hist(
                v[ok],
                bins=bins,
                weights=None if weights is None else weights[ok],
                color=color,
                edgecolor="white",
                lw=0.4,
            )
            ax.set_ylabel(ylabel, fontsize=_FONT)
        if logx:
            ax.set_xscale("log")
        ax.set_xlabel(xlabel, fontsize=_FONT)
        _style(ax)

    hz = np.asarray(tremor.get("dominant_hz", []), dtype=float)
    hist(
        axes[0, 0],
        hz,
        np.arange(2.5, 18.51, 0.5),
        w,
        "#ea580c",
        "dominant frequency (Hz)",
        "minutes of tremor",
        "no tremor episodes",
    )
    for _name, lo, hi in bands:
        axes[0, 0].axvline(lo, color="#9ca3af", lw=0.7, ls=":")
        axes[0, 0].axvline(hi, color="#9ca3af", lw=0.7, ls=":")
    axes[0, 0].set_title("Tremor frequency", fontsize=_FONT + 1, loc="left")
    disp, disp_edges = _log_bins(tremor.get("displacement_cm", []), 0.01, 20.0, 30)
    hist(
        axes[0, 1],
        disp,
        disp_edges,
        w,
        "#f59e0b",
        "displacement amplitude (cm, zero to peak)",
        "minutes of tremor",
        "no tremor episodes",
        logx=True,
    )
    names = ("slight", "mild", "moderate", "strong")
    for i, thr in enumerate(severity_cm):
        axes[0, 1].axvline(thr, color="#991b1b", lw=0.8, ls="--")
        axes[0, 1].annotate(
            names[i + 1],
            (thr, 1),
            xycoords=("data", "axes fraction"),
            xytext=(2, -2),
            textcoords="offset points",
            fontsize=_FONT - 1.5,
            va="top",
            rotation=90,
            color="#991b1b",
        )
    axes[0, 1].set_title("Tremor amplitude", fontsize=_FONT + 1, loc="left")
    stab = np.asarray(tremor.get("stability", []), dtype=float)
    top = max(2.0, float(np.nanmax(stab))) if np.isfinite(stab).any() else 2.0
    hist(
        axes[0, 2],
        stab,
        np.linspace(0, top, 25),
        w,
        "#b45309",
        "stability index (Hz; lower = more regular)",
        "minutes of tremor",
        "no tremor episodes",
    )
    axes[0, 2].set_title("Tremor stability", fontsize=_FONT + 1, loc="left")
    ang = np.asarray(contraction.get("peak_angle_deg", []), dtype=float)
    hist(
        axes[1, 0],
        ang,
        np.arange(0, 185, 5),
        None,
        CONTRACTION_COLOR,
        "peak angle from neutral (deg)",
        "episodes",
        "no contraction episodes",
    )
    axes[1, 0].set_title("Contraction angle", fontsize=_FONT + 1, loc="left")
    dur, dur_edges = _log_bins(contraction.get("duration_s", []), 1.0, 600.0, 25)
    hist(
        axes[1, 1],
        dur,
        dur_edges,
        None,
        "#6d28d9",
        "duration (s)",
        "episodes",
        "no contraction episodes",
        logx=True,
    )
    axes[1, 1].set_title("Contraction duration", fontsize=_FONT + 1, loc="left")
    ax = axes[1, 2]
    dirs = [d for d in contraction.get("direction", []) if isinstance(d, str) and d]
    if dirs:
        names_d, counts = np.unique(dirs, return_counts=True)
        order = np.argsort(counts)
        ax.barh(
            [str(n).replace("_", " ") for n in names_d[order]],
            counts[order],
            color=[directions.get(str(n), CONTRACTION_COLOR) for n in names_d[order]],
        )
        ax.set_xlabel("episodes", fontsize=_FONT)
        _style(ax, grid_axis="x")
    else:
        empty(ax, "no contraction episodes")
        _style(ax, grid_axis="")
    ax.set_title("Contraction direction", fontsize=_FONT + 1, loc="left")
    return _png(fig)


@dataclass
class TrendPlot:
    """Series for the trends figure, on an x axis of days since the first midnight."""

    edges: np.ndarray  # (n+1,) bin edges in days
    tremor: dict[str, np.ndarray]  # class -> (n,) % of assessable time, NaN = no data
    contraction: np.ndarray  # (n,) % of recorded time
    day_labels: list[tuple[float, str]]  # (x in days, label)
    markers: list[tuple[float, int, str]] = field(default_factory=list)  # x days, number, kind
    resolution: str = "hour"


def trends_png(trend: TrendPlot) -> bytes:
    """Tremor by class and contraction over the whole period, with treatment diary markers."""
    fig = _figure(11.0, 4.4)
    gs = fig.add_gridspec(
        2, 1, height_ratios=[2.2, 1.2], hspace=0.12, left=0.06, right=0.99, top=0.9, bottom=0.1
    )
    ax = fig.add_subplot(gs[0])
    axc = fig.add_subplot(gs[1], sharex=ax)
    edges = trend.edges
    base = np.zeros(edges.size - 1)
    any_data = np.zeros(edges.size - 1, bool)
    for cls in DRAWN_CLASSES:
        v = trend.tremor[cls]
        any_data |= np.isfinite(v)
    for cls in DRAWN_CLASSES:
        v = np.nan_to_num(trend.tremor[cls], nan=0.0)
        x, y0 = _step_xy(edges, np.where(any_data, base, np.nan))
        _, y1 = _step_xy(edges, np.where(any_data, base + v, np.nan))
        if v.any():
            ax.fill_between(x, y0, y1, color=SEVERITY_COLORS[cls], lw=0)
        base = base + v
    top = float(np.nanmax(base[any_data])) if any_data.any() else 0.0
    ax.set_ylim(0, max(10.0, top * 1.15))
    ax.set_ylabel(f"tremor, % per {trend.resolution}", fontsize=_FONT)
    x, c = _step_xy(edges, trend.contraction)
    axc.fill_between(x, 0, c, color=CONTRACTION_COLOR, lw=0, alpha=0.8)
    ctop = float(np.nanmax(trend.contraction)) if np.isfinite(trend.contraction).any() else 0.0
    axc.set_ylim(0, max(10.0, ctop * 1.15))
    axc.set_ylabel("contraction, %", fontsize=_FONT)
    for xd, number, kind in trend.markers:
        color = DIARY_COLORS.get(kind, DIARY_COLORS["other"])
        strong = kind in ("medication", "botox", "dbs")
        for a in (ax, axc):
            a.axvline(xd, color=color, lw=1.3 if strong else 0.8, ls="-" if strong else ":", zorder=3)
        ax.annotate(
            str(number),
            (xd, 1),
            xycoords=("data", "axes fraction"),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=_FONT - 1,
            color="white",
            annotation_clip=False,
            bbox={"boxstyle": "round,pad=0.15", "fc": color, "ec": "none"},
        )
    ax.set_xlim(edges[0], edges[-1])
    for a in (ax, axc):
        for xd, _ in trend.day_labels:
            a.axvline(xd, color="#e5e7eb", lw=0.6, zorder=0)
        _style(a)
    ax.tick_params(labelbottom=False)
    axc.set_xticks([xd for xd, _ in trend.day_labels])
    step = max(1, len(trend.day_labels) // 14)
    axc.set_xticklabels(
        [lab if i % step == 0 else "" for i, (_, lab) in enumerate(trend.day_labels)], ha="left"
    )
    return _png(fig)


def dose_response_png(
    edges_h: np.ndarray, mean_pct: np.ndarray, count: np.ndarray, overall_pct: float, doses: int
) -> bytes:
    """Mean tremor % against time since the latest medication dose (wearing-off curve)."""
    fig = _figure(6.2, 2.9)
    ax = fig.add_axes((0.11, 0.17, 0.86, 0.72))
    centers = (edges_h[:-1] + edges_h[1:]) / 2
    ok = np.isfinite(mean_pct) & (count > 0)
    ax.bar(centers[ok], mean_pct[ok], width=np.diff(edges_h)[ok] * 0.9, color="#f59e0b", edgecolor="none")
    if np.isfinite(overall_pct):
        ax.axhline(overall_pct, color="#374151", lw=0.9, ls="--")
        ax.annotate(
            "average",
            (edges_h[-1], overall_pct),
            xytext=(-2, 2),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=_FONT - 1,
            color="#374151",
        )
    ax.set_xlim(edges_h[0], edges_h[-1])
    ax.set_xlabel("hours since the latest medication entry", fontsize=_FONT)
    ax.set_ylabel("tremor, % of time", fontsize=_FONT)
    entries = "entry" if doses == 1 else "entries"
    ax.set_title(f"Tremor after a dose ({doses} medication {entries})", fontsize=_FONT + 1, loc="left")
    top = float(np.nanmax(mean_pct[ok])) if ok.any() else 0.0
    ax.set_ylim(0, max(5.0, top * 1.2, overall_pct * 1.2 if np.isfinite(overall_pct) else 0))
    _style(ax)
    return _png(fig)


def _log_bins(values, lo: float, hi: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The positive values (others NaN) and ``n`` log-spaced bin edges covering at least
    ``lo``..``hi`` and every positive value."""
    v = np.asarray(values, dtype=float)
    pos = v[np.isfinite(v) & (v > 0)]
    if pos.size:
        lo, hi = min(lo, float(pos.min())), max(hi, float(pos.max()))
    return np.where(v > 0, v, np.nan), np.geomspace(lo, hi, n)
