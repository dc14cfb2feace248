"""Day figures: one day's timeline and the days-by-hours heat maps at a glance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from tremorscope.review.plots.style import (
    _FONT,
    COLORBAR_WIDTH_FRACTION,
    CONTRACTION_COLOR,
    DIARY_COLORS,
    DRAWN_CLASSES,
    GAP_COLOR,
    GLANCE_CONTRACTION_RAMP,
    GLANCE_TREMOR_RAMP,
    NOT_RECORDED_COLOR,
    SEVERITY_COLORS,
    UNKNOWN_COLOR,
    _figure,
    _hour_label,
    _hour_ticks,
    _png,
    _step_xy,
    _style,
)


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
    outside: set[int] = field(default_factory=set)  # diary numbers outside every recording
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
        outside = number in day.outside  # no recording covers it: dotted, hollow badge, labelled
        for a in (ax, axc):
            a.axvline(x_h, color=color, lw=1.0, ls=":" if outside else "--", zorder=3)
        ax.annotate(
            f"{number} outside recordings" if outside else str(number),
            (x_h, 100),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=_FONT - 0.5,
            color=color if outside else "white",
            annotation_clip=False,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white" if outside else color, "ec": color},
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
    w = COLORBAR_WIDTH_FRACTION
    gs = fig.add_gridspec(
        1,
        5,
        width_ratios=[1, w, 0.1, 1, w],
        wspace=0.03,
        left=0.11,
        right=0.955,
        top=1 - 0.42 / height,
        bottom=0.42 / height,
    )
    ax0 = fig.add_subplot(gs[0])
    axes = [ax0, fig.add_subplot(gs[3], sharey=ax0)]
    caxes = [fig.add_subplot(gs[1]), fig.add_subplot(gs[4])]
    from matplotlib.colors import LinearSegmentedColormap

    cmaps = (
        LinearSegmentedColormap.from_list("tremor", list(GLANCE_TREMOR_RAMP)),
        LinearSegmentedColormap.from_list("contraction", list(GLANCE_CONTRACTION_RAMP)),
    )
    titles = ("Tremor (% of assessable time)", "Contraction (% of time)")
    for ax, cax, data, cmap, title in zip(axes, caxes, (tremor, contraction), cmaps, titles, strict=True):
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
        cb = fig.colorbar(img, cax=cax)
        cb.ax.tick_params(labelsize=_FONT - 1)
        cb.ax.set_title("%", fontsize=_FONT - 1)
    axes[1].tick_params(labelleft=False)
    axes[0].set_yticks(np.arange(n_days) + 0.5)
    axes[0].set_yticklabels(list(day_labels))
    return _png(fig)
