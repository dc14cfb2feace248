"""How fast a limb is moving, at sub-bin timing: the onset-speed cue of the spasm signature.

A spasm's pull takes 0.1-0.5 s, a voluntary reach 0.6 s and more. Read from plain 0.25 s bin
means, a 0.3 s pull that straddles two bins reads half its rate in each and looks like a reach:
bin timing alone cannot tell the two apart. Here the bin-long mean is slid in sub-bin steps
(1/16 s or less) and the fastest window is kept, so a pull is measured by the window that holds
it whole, wherever the bin edges fall. Averaging over a whole bin still cancels tremor and
co-contraction oscillation (3-12 Hz), which would otherwise dominate a sub-bin-resolution rate.

With a gyroscope the rate is the window's mean angular velocity (offset removed); without one it
is the angle between the mean acceleration directions of two consecutive windows, over one bin's
time. For a minimum-jerk move of D deg lasting T s, the fastest bin-long window turns
D x (0.95 at T = 0.35 s, 0.79 at 0.5 s, 0.70 at 0.6 s, 0.45 at 1 s) in 0.25 s.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def sliding_means(subs: np.ndarray, per_bin: int, tail: np.ndarray) -> np.ndarray:
    """Means of ``per_bin`` consecutive sub-bin means ending at each sub-bin of ``subs``
    (channels x sub-bins, whole bins), with ``tail`` (channels x >= per_bin - 1, the sub-bin means
    before them, NaN where unknown) in front. Returns (bins, per_bin, channels)."""
    ch, ns = subs.shape
    keep = per_bin - 1
    allv = np.concatenate((tail[:, tail.shape[1] - keep :], subs), axis=1) if keep else subs
    win = sliding_window_view(allv, per_bin, axis=1).mean(axis=2)  # (channels, sub-bins)
    return np.ascontiguousarray(win.T.reshape(ns // per_bin, per_bin, ch))


def gyro_pull_dps(slide_gyro: np.ndarray, bias_dps: np.ndarray | None) -> np.ndarray:
    """Per bin, the fastest bin-long mean rotation rate (deg/s) among the windows ending in it.
    ``slide_gyro`` (bins, per_bin, 3); ``bias_dps`` (bins, 3) or None (no offset known)."""
    g = slide_gyro if bias_dps is None else slide_gyro - np.nan_to_num(bias_dps)[:, None, :]
    rate = np.sqrt((g * g).sum(axis=2))
    return _nanmax_rows(rate)


def tilt_pull_dps(
    slide_acc: np.ndarray, prev: np.ndarray | None, bin_dur_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per bin, the fastest tilt rate (deg/s): the angle between each bin-long window's mean
    acceleration direction and the window one bin before it, over one bin's time. ``prev``
    (per_bin, 3): the previous run's last bin of windows (None: unknown). Returns the rates and
    this run's last bin of windows, to pass on as ``prev``."""
    nb, per_bin, _ = slide_acc.shape
    with np.errstate(invalid="ignore", divide="ignore"):
        u = slide_acc / np.sqrt((slide_acc * slide_acc).sum(axis=2))[:, :, None]
    before = np.full((1, per_bin, 3), np.nan) if prev is None else prev[None, :, :]
    pu = np.concatenate((before, u[:-1]), axis=0)
    cosang = np.clip((u * pu).sum(axis=2), -1.0, 1.0)
    rate = np.degrees(np.arccos(cosang)) / bin_dur_s
    return _nanmax_rows(rate), u[-1].copy()


def _nanmax_rows(x: np.ndarray) -> np.ndarray:
    """Row maxima ignoring NaN (NaN where a row is all NaN), without NumPy's all-NaN warning."""
    known = np.isfinite(x)
    out = np.where(known, x, -np.inf).max(axis=1)
    return np.where(known.any(axis=1), out, np.nan)
