"""Numba kernels of the posture estimate: gyroscope offset, fused gravity, heading, neutral-frame angles."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types

RAD = math.pi / 180.0
Q_SCALE = 1e6  # fixed-point scale of block statistics
NO_BLOCK = -(1 << 62)


@njit(cache=True, nogil=True, inline="always")
def _apply_bias(pending, bias, bias_w, cap_bins):
    """Fold a block's still-time mean into the running offset estimate."""
    k = pending[4]
    if k == 0:
        return
    w_old = min(bias_w, cap_bins)
    for j in range(3):
        m = pending[1 + j] / (Q_SCALE * k)
        old = bias[j] if bias[j] == bias[j] else 0.0
        bias[j] = (old * w_old + m * k) / (w_old + k)


@njit(cache=True, nogil=True, inline="always")
def _weight(pending, bias_w, cap_bins):
    k = pending[4]
    return bias_w if k == 0 else min(bias_w, cap_bins) + k


@njit(cache=True, nogil=True)  # compiled as part of _orient, its only caller
def _track_bias(
    blocks,  # (n,) int64 block of each bin
    steady,  # (n,) bool: quiet and not tilting (a candidate for still time)
    w,  # (n, 3) float64 mean angular rate per bin
    wq,  # (n, 3) int64 the same in fixed point
    open_sums,  # (4,) int64 still-time sums of the block being summed (updated)
    pending,  # (5,) int64 [block, sums] of the finished block waiting to be applied (updated)
    bias,  # (3,) float64 current bias, NaN when none yet (updated)
    scal,  # [block being summed, weight (bins) behind the bias] (updated)
    dt,
    cap_bins,  # the running mean forgets beyond this many bins of still time
    still_dps,
    still_unknown_dps,
    heading_after_s,
):
    """Gyroscope offset per bin: the mean rate over still time, from blocks at least two
    blocks back (a block's sums are applied when the block after next begins), so a turn
    in progress never pulls the offset it is judged against."""
    n = blocks.shape[0]
    out = np.zeros((n, 3))  # zero until there is an estimate
    has = np.zeros(n, np.bool_)
    known = np.zeros(n, np.bool_)
    cur = np.int64(scal[0])
    bias_w = scal[1]
    for i in range(n):
        b = blocks[i]
        if b != cur:
            if cur != NO_BLOCK:
                # the finished block waits; an older waiting one is due now or earlier
                if pending[0] != NO_BLOCK:
                    _apply_bias(pending, bias, bias_w, cap_bins)
                    bias_w = _weight(pending, bias_w, cap_bins)
                pending[0] = cur
                pending[1:] = open_sums
            if pending[0] != NO_BLOCK and pending[0] <= b - 2:
                _apply_bias(pending, bias, bias_w, cap_bins)
                bias_w = _weight(pending, bias_w, cap_bins)
                pending[0] = NO_BLOCK
            cur = b
            open_sums[:] = 0
        lim = still_unknown_dps
        if bias[0] == bias[0]:
            out[i] = bias
            has[i] = True
            known[i] = bias_w * dt >= heading_after_s
            lim = still_dps
        d0 = w[i, 0] - (bias[0] if has[i] else 0.0)
        d1 = w[i, 1] - (bias[1] if has[i] else 0.0)
        d2 = w[i, 2] - (bias[2] if has[i] else 0.0)
        if steady[i] and math.sqrt(d0 * d0 + d1 * d1 + d2 * d2) < lim:
            open_sums[0] += wq[i, 0]
            open_sums[1] += wq[i, 1]
            open_sums[2] += wq[i, 2]
            open_sums[3] += 1
    scal[0] = cur
    scal[1] = bias_w
    return out, has, known


@njit(
    (
        types.float64[:, ::1],  # g_acc: unit gravity direction from the accelerometer (NaN: unknown)
        types.boolean[::1],  # ok: g_acc known
        types.float64[:, ::1],  # w: mean angular rate per bin, deg/s
        types.int64[:, ::1],  # wq: the same in fixed point
        types.boolean[::1],  # quiet
        types.int64[::1],  # blocks
        types.float64[::1],  # prev_g: last bin's g_acc (NaN: none) (updated)
        types.float64[::1],  # zi: complementary-filter state (NaN: not started) (updated)
        types.int64[::1],  # bias open sums (updated)
        types.int64[::1],  # bias pending block (updated)
        types.float64[::1],  # bias (updated)
        types.float64[::1],  # [block, bias weight, heading, turning, heading armed] (updated)
        types.float64[::1],  # [dt, beta, still_tilt_dps, cap_bins, still_dps, still_unknown_dps,
        #                      heading_after_s, turn_start_dps, turn_end_dps]
    ),
    cache=True,
    nogil=True,
)  # compiled (or loaded from the cache) on import
def _orient(g_acc, ok, w, wq, quiet, blocks, prev_g, zi, open_sums, pending, bias_now, scal, par):
    """With a gyroscope: the offset-corrected rate, the fused gravity direction (a
    complementary filter, gyro-propagated and pulled toward the accelerometer's direction)
    and the integrated heading. Returns ``(g, w_c, yaw, known)``."""
    dt, beta = par[0], par[1]
    n = g_acc.shape[0]
    # still candidates: quiet, and the accelerometer's direction is not changing
    steady = np.zeros(n, np.bool_)
    for i in range(n):
        if i == 0:
            p0, p1, p2 = prev_g[0], prev_g[1], prev_g[2]
        else:
            p0, p1, p2 = g_acc[i - 1, 0], g_acc[i - 1, 1], g_acc[i - 1, 2]
        d = g_acc[i, 0] * p0 + g_acc[i, 1] * p1 + g_acc[i, 2] * p2
        if d > 1.0:
            d = 1.0
        elif d < -1.0:
            d = -1.0
        tilt_rate = math.degrees(math.acos(d)) / dt  # NaN if either is unknown
        steady[i] = quiet[i] and ok[i] and tilt_rate < par[2]
    prev_g[:] = g_acc[n - 1]
    bias, has_bias, known = _track_bias(
        blocks, steady, w, wq, open_sums, pending, bias_now, scal, dt, par[3], par[4], par[5], par[6]
    )
    w_c = w - bias
    g = np.full((n, 3), np.nan)
    started = zi[0] == zi[0]
    for i in range(n):
        if not started:
            # the filter starts at the first known direction (the same bin whatever the chunking)
            if not ok[i]:
                continue
            started = True
            for c in range(3):
                zi[c] = beta * g_acc[i, c]
        if ok[i]:
            r0, r1, r2 = g_acc[i, 0], g_acc[i, 1], g_acc[i, 2]
        else:
            r0 = r1 = r2 = 0.0
        a0, a1, a2 = w_c[i, 0] * RAD, w_c[i, 1] * RAD, w_c[i, 2] * RAD
        # d(gravity)/dt = -omega x gravity in the sensor frame
        d0 = -(a1 * r2 - a2 * r1) * dt
        d1 = -(a2 * r0 - a0 * r2) * dt
        d2 = -(a0 * r1 - a1 * r0) * dt
        y0 = (beta * d0 + (1 - beta) * r0) + zi[0]
        y1 = (beta * d1 + (1 - beta) * r1) + zi[1]
        y2 = (beta * d2 + (1 - beta) * r2) + zi[2]
        zi[0], zi[1], zi[2] = beta * y0, beta * y1, beta * y2
        if ok[i]:
            norm = math.sqrt(y0 * y0 + y1 * y1 + y2 * y2)
            g[i, 0], g[i, 1], g[i, 2] = y0 / norm, y1 / norm, y2 / norm
    yaw = np.empty(n)
    heading = scal[2]
    turning = scal[3] != 0.0
    armed = scal[4] != 0.0
    for i in range(n):
        if not has_bias[i]:
            # until the offset is known the fused direction drifts (offset x fusion time
            # constant): the accelerometer's own direction is the better estimate then
            g[i, 0], g[i, 1], g[i, 2] = g_acc[i, 0], g_acc[i, 1], g_acc[i, 2]
        rate_up = 0.0  # deg/s about the vertical
        for c in range(3):
            if g[i, c] == g[i, c]:
                rate_up += w_c[i, c] * g[i, c]
        # a turn starts above TURN_START_DPS and lasts until the rate falls below TURN_END_DPS;
        # between turns the rate is offset error and sway and is not integrated
        if turning:
            turning = abs(rate_up) >= par[8]
        else:
            turning = abs(rate_up) >= par[7]
        if turning:
            heading += rate_up * dt  # integrated strictly in order (chunk-invariant)
        yaw[i] = heading
        # the heading is used from the first bin with a known offset that is not inside a turn: a
        # reference taken mid-turn would read the way back as a turn the other way
        armed = armed or (known[i] and not turning)
        known[i] = armed
    scal[2] = heading
    scal[3] = 1.0 if turning else 0.0
    scal[4] = 1.0 if armed else 0.0
    return g, w_c, yaw, known


@njit(
    (types.float64[:, ::1], types.float64[:, :, ::1], types.int64[::1], types.int64[::1], types.int64),
    cache=True,
    nogil=True,
)  # compiled (or loaded from the cache) on import
def _angles(g, frames, seg_start, seg_end, known_from):
    """Pitch, roll and tilt (deg) of gravity directions ``g`` in the neutral frame of each
    block (``_frame`` rows; NaN where the neutral is unknown or before bin ``known_from``)."""
    n = g.shape[0]
    pitch = np.full(n, np.nan)
    roll = np.full(n, np.nan)
    tilt = np.full(n, np.nan)
    for j in range(seg_start.size):
        f = frames[j]
        for i in range(max(seg_start[j], known_from), seg_end[j]):
            # components along up, forward, left
            gu = f[0, 0] * g[i, 0] + f[0, 1] * g[i, 1] + f[0, 2] * g[i, 2]
            gf = f[1, 0] * g[i, 0] + f[1, 1] * g[i, 1] + f[1, 2] * g[i, 2]
            gl = f[2, 0] * g[i, 0] + f[2, 1] * g[i, 1] + f[2, 2] * g[i, 2]
            pitch[i] = math.degrees(math.atan2(-gf, gu))
            roll[i] = math.degrees(math.atan2(-gl, gu))
            tilt[i] = math.degrees(math.acos(min(max(gu, -1.0), 1.0))) if gu == gu else np.nan
    return pitch, roll, tilt
