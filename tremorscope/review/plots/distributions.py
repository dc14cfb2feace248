"""The distributions figure: how tremor and contraction episodes spread (frequency, amplitude, duration)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from tremorscope.review.plots.style import (
    _FONT,
    CONTRACTION_COLOR,
    _figure,
    _png,
    _style,
)


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


def _log_bins(values, lo: float, hi: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The positive values (others NaN) and ``n`` log-spaced bin edges covering at least
    ``lo``..``hi`` and every positive value."""
    v = np.asarray(values, dtype=float)
    pos = v[np.isfinite(v) & (v > 0)]
    if pos.size:
        lo, hi = min(lo, float(pos.min())), max(hi, float(pos.max()))
    return np.where(v > 0, v, np.nan), np.geomspace(lo, hi, n)
