"""Figures over the whole period: the trends with diary markers and the dose response."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tremorscope.review.plots.style import (
    _FONT,
    BREAK_COLOR,
    CONTRACTION_COLOR,
    DIARY_COLORS,
    DRAWN_CLASSES,
    SEVERITY_COLORS,
    _figure,
    _png,
    _step_xy,
    _style,
)


@dataclass
class TrendPlot:
    """Series for the trends figure, on an x axis of days since the first midnight."""

    edges: np.ndarray  # (n+1,) bin edges in days
    tremor: dict[str, np.ndarray]  # class -> (n,) % of assessable time, NaN = no data
    contraction: np.ndarray  # (n,) % of recorded time
    day_labels: list[tuple[float, str]]  # (x in days, label)
    markers: list[tuple[float, int, str]] = field(default_factory=list)  # x days, number, kind
    resolution: str = "hour"
    #: (x, days left out) where days without a recording were skipped between two recorded days
    breaks: list[tuple[float, int]] = field(default_factory=list)


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
        for xb, _ in trend.breaks:  # days without a recording left out here
            a.axvline(xb, color=BREAK_COLOR, lw=2.2, ls=(0, (2, 1.5)), zorder=2)
        _style(a)
    for xb, skipped in trend.breaks:
        ax.annotate(
            f"{skipped} d not recorded",
            (xb, 0.97),
            xycoords=("data", "axes fraction"),
            xytext=(3, 0),
            textcoords="offset points",
            ha="left",
            va="top",
            fontsize=_FONT - 1,
            color=BREAK_COLOR,
        )
    ax.tick_params(labelbottom=False)
    # one label per recorded day, centred on its slot, so the last one is never clipped
    step = max(1, len(trend.day_labels) // 14)
    axc.set_xticks([xd + 0.5 for xd, _ in trend.day_labels])
    axc.set_xticklabels(
        [lab if i % step == 0 else "" for i, (_, lab) in enumerate(trend.day_labels)], ha="center"
    )
    axc.tick_params(axis="x", length=0)
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
