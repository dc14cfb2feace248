"""Put irregular timestamps on a uniform grid, without interpolating across gaps.

Grid point ``k`` sits at ``origin_s + k / sample_rate_hz``; ``origin_s`` is half a sample
period after the first sample ever seen, so that with a steady clock each grid point falls
between two input samples and the common case needs no search. Each grid point is produced
exactly once, from the pair of input samples that brackets it, so the output does not
depend on how the input was chunked.
A pair further apart than ``gap_s`` is a gap: the grid points inside it are not produced.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

HOLE_PERIODS = 2.5  # input samples further apart than this many periods leave a short hole


@dataclass
class GridState:
    """Explicit resampler state carried between chunks."""

    first_t: float | None = None  # time of the first sample ever seen
    origin_s: float | None = None
    last_t: float | None = None
    last_x: np.ndarray | None = None  # (channels,)
    skipped: int = 0  # input samples dropped: non-finite or not after the previous sample


@dataclass(frozen=True)
class Segment:
    """Consecutive grid samples ``k0 .. k0 + len(x) - 1``."""

    k0: int
    x: np.ndarray  # (channels, n) float32, channel-major
    filled: np.ndarray  # (n,) bool: interpolated across lost samples (a short hole)


@dataclass(frozen=True)
class Hole:
    """A gap: no samples between ``start_s`` (last before) and ``end_s`` (first after)."""

    start_s: float
    end_s: float


@dataclass
class GridOutput:
    items: list[Segment | Hole] = field(default_factory=list)  # in time order


def regrid(
    t: np.ndarray,
    x: np.ndarray,
    state: GridState,
    sample_rate_hz: float,
    gap_s: float,
) -> GridOutput:
    """Resample one chunk (``x``: channels x samples) onto the grid by linear interpolation;
    updates ``state`` in place."""
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    x = np.asarray(x, dtype=np.float32)
    out = GridOutput()
    if t.size == 0:
        return out
    if not (np.isfinite(t.sum()) and np.isfinite(x.sum())):  # NaN and inf propagate into sums
        finite = np.isfinite(t) & np.isfinite(x).all(axis=0)
        state.skipped += int((~finite).sum())
        t, x = t[finite], x[:, finite]
        if t.size == 0:
            return out
    # Keep only strictly increasing times (relative to everything accepted so far).
    prev_max = -np.inf if state.last_t is None else state.last_t
    if not (t[0] > prev_max and (t[1:] > t[:-1]).all()):
        running = np.maximum.accumulate(np.concatenate(([prev_max], t)))[:-1]
        keep = t > running
        state.skipped += int((~keep).sum())
        t, x = t[keep], x[:, keep]
        if t.size == 0:
            return out

    fs = float(sample_rate_hz)
    if state.origin_s is None:
        state.first_t = float(t[0])
        state.origin_s = float(t[0]) + 0.5 / fs
    if state.last_t is None:
        tt, xx = t, x
    else:
        tt = np.concatenate(([state.last_t], t))
        xx = np.concatenate((state.last_x[:, None], x), axis=1)
    state.last_t = float(tt[-1])
    state.last_x = xx[:, -1].copy()
    if tt.size < 2:
        return out

    # First grid index at or after each input time; the same arithmetic for every chunking.
    kk = np.ceil((tt - state.origin_s) * fs).astype(np.int64)
    dts = np.diff(tt)
    is_gap = dts > gap_s
    counts = np.diff(kk)
    counts[is_gap] = 0
    np.maximum(counts, 0, out=counts)

    # Split at gaps into runs of pairs.
    gap_idx = np.flatnonzero(is_gap)
    run_starts = np.concatenate(([0], gap_idx + 1))
    run_ends = np.concatenate((gap_idx, [dts.size]))  # exclusive pair index
    for a, b in zip(run_starts, run_ends):
        if a > 0:
            out.items.append(Hole(float(tt[a - 1]), float(tt[a])))
        if b <= a:
            continue
        c = counts[a:b]
        total = int(c.sum())
        if total == 0:
            continue
        k0 = int(kk[a])
        seg, filled = _interpolate(tt, xx, dts, c, a, b, k0, total, state.origin_s, fs)
        out.items.append(Segment(k0, seg, filled))
    return out


def _interpolate(tt, xx, dts, c, a, b, k0, total, origin_s, fs):
    """Grid samples k0 .. k0 + total - 1 from input pairs a .. b-1 (``c`` grid points each)."""
    irregular = np.flatnonzero(c != 1)
    ch = xx.shape[0]
    out = np.empty((ch, total), dtype=np.float32)
    filled = np.empty(total, dtype=bool)
    if irregular.size * 8 > c.size:  # many: gather once
        spans = [(0, c.size, True)]
    else:  # few: straight slices between them, a small gather at each
        spans = []
        p = 0
        for q in irregular:
            if q > p:
                spans.append((p, q, False))
            spans.append((q, q + 1, True))
            p = q + 1
        if p < c.size:
            spans.append((p, c.size, False))
    j = 0
    hole_s = HOLE_PERIODS / fs
    for p, q, gather in spans:
        cc = c[p:q]
        m = int(cc.sum()) if gather else q - p
        if m == 0:
            continue
        k = np.arange(k0 + j, k0 + j + m, dtype=np.int64)
        g = origin_s + k / fs
        if gather:
            pair = np.repeat(np.arange(a + p, a + q), cc)
            t0, t1 = tt[pair], tt[pair + 1]
            x0, x1 = xx.take(pair, axis=1), xx.take(pair + 1, axis=1)
            filled[j : j + m] = dts[pair] > hole_s
        else:
            t0, t1 = tt[a + p : a + q], tt[a + p + 1 : a + q + 1]
            x0, x1 = xx[:, a + p : a + q], xx[:, a + p + 1 : a + q + 1]
            filled[j : j + m] = dts[a + p : a + q] > hole_s
        w = ((g - t0) / (t1 - t0)).astype(np.float32)
        seg = out[:, j : j + m]
        np.subtract(x1, x0, out=seg)
        seg *= w
        seg += x0
        j += m
    return out, filled
