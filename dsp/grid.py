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
from numba import njit, types

# Input arrays as the kernels see them: read-only is accepted (a writable array converts to it),
# so a caller's read-only views (pandas copy-on-write) are read in place.
_T_IN = types.Array(types.float64, 1, "C", readonly=True)
_X_IN = types.Array(types.float64, 2, "A", readonly=True)
HOLE_PERIODS = 2.5  # input samples further apart than this many periods leave a short hole
#: Sample times beyond +-2**36 s (2,177 years) are not a clock: float64 spacing there is 15 us and
#: grows with the value, so consecutive samples would merge and time arithmetic stop counting.
#: Such samples are dropped and counted like non-finite ones.
MAX_ABS_TIME_S = float(2**36)
#: Values beyond this (g or deg/s) are corrupt: no accelerometer or gyroscope reads a million, and
#: the float32 grid must stay finite. Dropped and counted like non-finite ones.
MAX_ABS_VALUE = 1e6


@dataclass
class GridState:
    """Explicit resampler state carried between chunks."""

    first_t: float | None = None  # time of the first sample ever seen
    origin_s: float | None = None
    last_t: float | None = None
    last_x: np.ndarray | None = None  # (channels,)
    skipped: int = 0  # input samples dropped: non-finite, out of range or not after the previous sample


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
    """Resample one chunk (``x``: channels x samples) onto the grid by linear interpolation
    (in float64; the grid is float32); updates ``state`` in place."""
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    x = np.asarray(x, dtype=np.float64)
    out = GridOutput()
    if t.size == 0:
        return out
    prev_max = -np.inf if state.last_t is None else state.last_t
    t = np.ascontiguousarray(t)
    if not _clean(t, x, float(prev_max)):  # the usual case is clean: nothing to drop
        with np.errstate(invalid="ignore"):
            finite = (np.abs(t) <= MAX_ABS_TIME_S) & (np.abs(x) <= MAX_ABS_VALUE).all(axis=0)
        state.skipped += int((~finite).sum())
        t, x = t[finite], x[:, finite]
        if t.size == 0:
            return out
        # Keep only strictly increasing times (relative to everything accepted so far).
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
    has_prev = state.last_t is not None
    last_t = state.last_t if has_prev else 0.0
    last_x = state.last_x if has_prev else np.zeros(x.shape[0])
    grid, filled, kinds, k0s, offs, lens, t0s, t1s = _grid_kernel(
        np.ascontiguousarray(t),
        x,
        bool(has_prev),
        float(last_t),
        np.ascontiguousarray(last_x, dtype=np.float64),
        float(state.origin_s),
        fs,
        float(gap_s),
        HOLE_PERIODS / fs,
    )
    state.last_t = float(t[-1])
    state.last_x = x[:, -1].copy()
    for i in range(kinds.size):
        if kinds[i] == HOLE_ITEM:
            out.items.append(Hole(float(t0s[i]), float(t1s[i])))
        else:
            a, n = int(offs[i]), int(lens[i])
            out.items.append(Segment(int(k0s[i]), grid[:, a : a + n], filled[a : a + n]))
    return out


HOLE_ITEM = 1


@njit((_T_IN, _X_IN, types.float64), cache=True, nogil=True)  # on import
def _clean(t, x, prev_t):
    """Every time within +-MAX_ABS_TIME_S and later than the one before (the first later than
    ``prev_t``), every value within +-MAX_ABS_VALUE (NaN fails every comparison)."""
    last = prev_t
    for i in range(t.size):
        v = t[i]
        if not (v > last) or not (abs(v) <= MAX_ABS_TIME_S):
            return False
        last = v
    for c in range(x.shape[0]):
        for i in range(x.shape[1]):
            if not (abs(x[c, i]) <= MAX_ABS_VALUE):
                return False
    return True


@njit(
    (
        _T_IN,  # t: input times (strictly increasing)
        _X_IN,  # x: input samples (channels x times; any strides)
        types.boolean,  # has_prev: a sample came before this chunk
        types.float64,  # last_t: its time
        types.float64[::1],  # last_x: its values
        types.float64,  # origin_s
        types.float64,  # fs
        types.float64,  # gap_s
        types.float64,  # hole_s
    ),
    cache=True,
    nogil=True,
)  # compiled (or loaded from the cache) on import
def _grid_kernel(t, x, has_prev, last_t, last_x, origin_s, fs, gap_s, hole_s):
    """Grid samples between consecutive input samples (the previous chunk's last one first).

    Pair ``p`` (input samples p, p+1) yields grid points ``ceil((t_p - origin) fs)`` up to
    the next one's, linearly interpolated; a pair further apart than ``gap_s`` yields none
    and is a hole. Returns the grid values and filled flags of all runs back to back, and the
    items in time order: kind (0 segment, 1 hole), segment k0/offset/length, hole times."""
    ch = x.shape[0]
    off = 1 if has_prev else 0
    m = t.size + off
    # first grid index at or after each input time (the same arithmetic for every chunking),
    # and how many grid points and gaps there are
    kk = np.empty(m, np.int64)
    tt = np.empty(m)
    if has_prev:
        tt[0] = last_t
    tt[off:] = t
    for v in range(m):
        kk[v] = np.int64(np.ceil((tt[v] - origin_s) * fs))
    inv_fs = 1.0 / fs
    total = 0
    gaps = 0
    for v in range(1, m):
        if tt[v] - tt[v - 1] > gap_s:
            gaps += 1
        elif kk[v] > kk[v - 1]:
            total += kk[v] - kk[v - 1]
    out = np.empty((ch, total), np.float32)
    filled = np.empty(total, np.bool_)
    n_items = 2 * gaps + 1
    kinds = np.zeros(n_items, np.int64)
    k0s = np.zeros(n_items, np.int64)
    offs = np.zeros(n_items, np.int64)
    lens = np.zeros(n_items, np.int64)
    t0s = np.zeros(n_items)
    t1s = np.zeros(n_items)
    items = 0
    j = 0
    run_start = 0  # offset of the current run's first grid point
    run_k0 = -1
    for v in range(1, m):
        t0, t1 = tt[v - 1], tt[v]
        span = t1 - t0
        if span > gap_s:
            if j > run_start:  # close the run
                kinds[items], k0s[items], offs[items], lens[items] = 0, run_k0, run_start, j - run_start
                items += 1
            kinds[items], t0s[items], t1s[items] = HOLE_ITEM, t0, t1
            items += 1
            run_start = j
            run_k0 = -1
            continue
        ka, kb = kk[v - 1], kk[v]
        if kb <= ka:
            continue
        if run_k0 < 0:
            run_k0 = ka
        lost = span > hole_s
        vb = v - off  # the pair's second sample in x
        for k in range(ka, kb):
            w = (origin_s + k * inv_fs - t0) / span
            if vb == 0:  # the pair starts with the previous chunk's last sample
                for c in range(ch):
                    out[c, j] = (x[c, 0] - last_x[c]) * w + last_x[c]
            else:
                for c in range(ch):
                    xa = x[c, vb - 1]
                    out[c, j] = (x[c, vb] - xa) * w + xa
            filled[j] = lost
            j += 1
    if j > run_start:
        kinds[items], k0s[items], offs[items], lens[items] = 0, run_k0, run_start, j - run_start
        items += 1
    return out, filled, kinds[:items], k0s[:items], offs[:items], lens[:items], t0s[:items], t1s[:items]
