"""Where band power rises and falls within each window (numba kernels for the tremor onset and offset)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types


def _edges_in_window(joined: dict, w: int, has_gyro: bool, bin_dur_s: float):
    """Where band power rises (falls) within each window: seconds from the window start.

    The first bin reaching half the median power of the window's second half is the onset;
    the last bin reaching half the median of its first half is the offset.
    """
    ms = joined["ms"]
    power = np.ascontiguousarray((ms[:, 3:6] if has_gyro else ms[:, 0:3]).sum(axis=1), dtype=np.float64)
    on_idx, off_idx = _edge_bins(power, w)
    return on_idx * bin_dur_s, (off_idx + 1) * bin_dur_s


@njit(cache=True, nogil=True)
def _median(a, buf):
    """Median of a few values, sorted by insertion into ``buf`` (NaN last, as NumPy sorts)."""
    k = a.size
    for i in range(k):
        v = a[i]
        j = i
        while j > 0 and (buf[j - 1] > v or (math.isnan(buf[j - 1]) and not math.isnan(v))):
            buf[j] = buf[j - 1]
            j -= 1
        buf[j] = v
    return buf[k // 2] if k % 2 else 0.5 * (buf[k // 2 - 1] + buf[k // 2])


@njit((types.float64[::1], types.int64), cache=True, nogil=True)  # compiled on import
def _edge_bins(power, w):
    m = power.size - w + 1
    half = w // 2
    on = np.zeros(m, np.int64)
    off = np.zeros(m, np.int64)
    buf = np.empty(w)
    for r in range(m):
        p = power[r : r + w]
        ref_on = 0.5 * _median(p[half:], buf)
        ref_off = 0.5 * _median(p[:half], buf)
        for i in range(w):  # the first bin at or above (0 if none)
            if p[i] >= ref_on:
                on[r] = i
                break
        off[r] = w - 1
        for i in range(w - 1, -1, -1):  # the last bin at or above (the window's last if none)
            if p[i] >= ref_off:
                off[r] = i
                break
    return on, off
