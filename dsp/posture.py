"""Sensor orientation relative to a neutral posture, per bin.

Tilt comes from the slow accelerometer (gravity) direction; with a gyroscope it is fused
with the integrated angular rate in a complementary filter, which keeps it right during
movement, and the rate about the vertical is integrated into a heading (yaw). An
accelerometer alone cannot see rotation about gravity, so yaw is then unknown (NaN).

The gyroscope bias and the neutral posture change only at block boundaries (``block_s``),
from statistics of the block before last: a small sequential recursion over blocks, while
everything per bin stays vectorised. Block statistics are sums of fixed-point integers, so
they are exact whatever the chunking, and the results do not depend on it.

The neutral tilt is either calibrated (fixed), or adaptive: it follows the mean quiet posture
of blocks near it (time constant ``neutral_tau_s``); a posture held quietly away from it for
``adopt_after_s`` becomes the neutral (a voluntary change, not an endless episode). The yaw
deviation is a heading excursion (``dsp.heading``), robust to gyroscope drift.

Deviation angles (degrees) in the neutral frame (up = neutral gravity direction, forward =
the sensor x axis made horizontal, left = up x forward):
  pitch > 0: the forward axis tips down (neck: anterocollis; wrist: flexion)
  roll  > 0: the left axis (+y) tips down (neck: left ear down, laterocollis left; wrist: the
             thumb side goes down, pronation)
  yaw   > 0: rotation about the vertical turning forward toward left (neck: torticollis left;
             wrist: radial deviation). See ``dsp.contraction.DIRECTIONS``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from numba import njit, types

from dsp.heading import HeadingState, HeadingTracker

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
        types.float64[::1],  # [block, bias weight, heading] (updated)
        types.float64[::1],  # [dt, beta, still_tilt_dps, cap_bins, still_dps, still_unknown_dps,
        #                      heading_after_s]
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
    for i in range(n):
        if not has_bias[i]:
            # until the offset is known the fused direction drifts (offset x fusion time
            # constant): the accelerometer's own direction is the better estimate then
            g[i, 0], g[i, 1], g[i, 2] = g_acc[i, 0], g_acc[i, 1], g_acc[i, 2]
        rate_up = 0.0  # deg/s about the vertical
        for c in range(3):
            if g[i, c] == g[i, c]:
                rate_up += w_c[i, c] * g[i, c]
        heading += rate_up * dt  # integrated strictly in order (chunk-invariant)
        yaw[i] = heading
    scal[2] = heading
    return g, w_c, yaw, known


@dataclass
class PostureState:
    """Explicit posture-estimation state carried between chunks."""

    zi_grav: np.ndarray | None = None  # complementary-filter state, one per gravity component
    yaw_deg: float = 0.0  # integrated heading
    bias_dps: np.ndarray | None = None  # gyroscope bias estimate
    neutral_g: np.ndarray | None = None  # unit gravity direction of the neutral posture
    calibrated: bool = False
    calib_from_bin: int | None = None
    calib_until_bin: int | None = None  # calibrating over [from, until)
    calib_sum: np.ndarray = field(default_factory=lambda: np.zeros(4, np.int64))
    calib_end_bin: int | None = None  # the calibrated neutral applies from this bin
    bias_block: int | None = None  # the block being summed (NO_BLOCK: none yet)
    bias_open: np.ndarray = field(default_factory=lambda: np.zeros(4, np.int64))  # still: w xyz, n
    bias_pending: np.ndarray | None = None  # [block, sums...] of the finished block not yet applied
    bias_w: float = 0.0  # weight (bins) behind the bias estimate
    prev_g: np.ndarray | None = None  # last slow gravity direction (for the tilt rate)
    heading: HeadingState = field(default_factory=HeadingState)
    prev_dev: float = math.nan  # last deviation (for the deviation speed)
    post_block: int | None = None
    post_open: np.ndarray = field(default_factory=lambda: np.zeros(4, np.int64))  # g xyz, n
    post_done: deque = field(default_factory=deque)
    far_blocks: int = 0  # consecutive blocks spent quietly away from neutral in one posture
    far_g: np.ndarray | None = None


@dataclass
class PostureBins:
    gravity: np.ndarray  # (n, 3) unit gravity direction (fused)
    pitch_deg: np.ndarray
    roll_deg: np.ndarray
    yaw_deg: np.ndarray  # NaN without a gyroscope
    tilt_deg: np.ndarray  # angle between gravity and neutral gravity
    deviation_deg: np.ndarray  # total deviation (tilt and yaw combined); NaN until neutral known
    rate_dps: np.ndarray  # angular speed of the deviation
    turn_dps: np.ndarray  # angular speed from the gyroscope (bias removed), else rate_dps


class PostureEstimator:
    def __init__(
        self,
        bin_dur_s: float,
        has_gyro: bool,
        fusion_tau_s: float = 2.0,
        neutral_tau_s: float = 60.0,
        bias_tau_s: float = 600.0,
        block_s: float = 10.0,
        still_dps: float = 8.0,
        still_unknown_dps: float = 15.0,
        still_tilt_dps: float = 2.0,
        heading_after_s: float = 15.0,
        near_neutral_deg: float = 10.0,
        adopt_after_s: float = 300.0,
    ) -> None:
        self.dt = bin_dur_s
        self.has_gyro = has_gyro
        self.beta = math.exp(-bin_dur_s / fusion_tau_s)
        self.block_bins = max(1, int(round(block_s / bin_dur_s)))
        self.block_s = self.block_bins * bin_dur_s
        self.neutral_tau_s = neutral_tau_s
        self.bias_tau_s = bias_tau_s
        self.still_dps = still_dps
        self.still_tilt_dps = still_tilt_dps
        self.still_unknown_dps = still_unknown_dps
        self.heading_after_s = heading_after_s
        self.near_neutral_deg = near_neutral_deg
        self.adopt_blocks = max(1, int(math.ceil(adopt_after_s / self.block_s)))
        self.heading = HeadingTracker(bin_dur_s, adopt_after_s=adopt_after_s)
        self._frame_of: np.ndarray | None = None  # the neutral whose frame is cached
        self._frame: np.ndarray | None = None

    # --- calibration --------------------------------------------------------------
    def set_neutral(self, st: PostureState, gravity) -> None:
        """A calibrated neutral: fixed, never adapted."""
        g = np.asarray(gravity, dtype=np.float64)
        st.neutral_g = g / np.linalg.norm(g)
        st.calibrated = True

    def start_calibration(self, st: PostureState, from_bin: int, until_bin: int) -> None:
        """The mean posture over bins [from_bin, until_bin) becomes the fixed neutral."""
        st.calib_from_bin, st.calib_until_bin = from_bin, until_bin
        st.calib_sum = np.zeros(4, np.int64)

    def reset_fusion(self, st: PostureState) -> None:
        """After a gap the filter restarts, and the heading is taken to be neutral again
        (the gyroscope saw nothing of the gap)."""
        st.zi_grav = None
        self.heading.reset(st.heading)
        st.prev_dev = math.nan
        st.prev_g = None

    # --- per bin --------------------------------------------------------------------
    def process(
        self,
        st: PostureState,
        bin0: int,
        lf_acc: np.ndarray,
        gyro_mean: np.ndarray | None,
        quiet: np.ndarray,
    ) -> PostureBins:
        """Angles for bins ``bin0 ..``; ``quiet`` bins (no voluntary movement) teach the neutral."""
        n = lf_acc.shape[0]
        a = lf_acc.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            g_acc = a / np.sqrt((a * a).sum(axis=1))[:, None]
        ok = np.isfinite(g_acc).all(axis=1)
        g_acc[~ok] = np.nan
        idx = np.arange(bin0, bin0 + n)
        blocks = idx // self.block_bins
        seg_start = np.flatnonzero(np.r_[True, blocks[1:] != blocks[:-1]])
        seg_end = np.r_[seg_start[1:], n]

        if self.has_gyro:
            w = np.ascontiguousarray(gyro_mean, dtype=np.float64)
            wq_all = np.round(w * Q_SCALE).astype(np.int64)
            if st.bias_block is None:
                st.bias_block = NO_BLOCK
            if st.bias_pending is None:
                st.bias_pending = np.zeros(5, np.int64)
                st.bias_pending[0] = NO_BLOCK
            bias_now = np.full(3, np.nan) if st.bias_dps is None else np.array(st.bias_dps, dtype=np.float64)
            scal = np.array([float(st.bias_block), st.bias_w, st.yaw_deg])
            prev_g = np.full(3, np.nan) if st.prev_g is None else np.array(st.prev_g, dtype=np.float64)
            zi = np.full(3, np.nan) if st.zi_grav is None else np.array(st.zi_grav, dtype=np.float64)
            g, w_c, yaw, known = _orient(
                g_acc,
                ok,
                w,
                wq_all,
                np.ascontiguousarray(quiet, dtype=np.bool_),
                np.ascontiguousarray(blocks, dtype=np.int64),
                prev_g,
                zi,
                st.bias_open,
                st.bias_pending,
                bias_now,
                scal,
                np.array(
                    [
                        self.dt,
                        self.beta,
                        self.still_tilt_dps,
                        self.bias_tau_s / self.dt,
                        self.still_dps,
                        self.still_unknown_dps,
                        self.heading_after_s,
                    ],
                    dtype=np.float64,
                ),
            )
            st.bias_block = int(scal[0])
            st.bias_w = float(scal[1])
            st.yaw_deg = float(scal[2])
            st.bias_dps = None if np.isnan(bias_now[0]) else bias_now
            st.prev_g = prev_g
            st.zi_grav = None if np.isnan(zi[0]) else zi
        else:
            g = g_acc
            yaw = np.full(n, np.nan)

        # The neutral is learnt from the accelerometer's direction in quiet time, where it is
        # exact; the fused direction would carry any error in the gyroscope offset.
        fin = np.isfinite(g_acc).all(axis=1)
        if st.calib_until_bin is not None:
            self._calibrate(st, idx, g_acc, fin)

        # neutral per block, then angles for every bin at once
        frames = np.full((seg_start.size, 3, 3), np.nan)  # per block: up, forward, left
        if st.calibrated:
            # a calibrated neutral never changes: nothing to learn from the blocks
            frames[:] = self._neutral_frame(st)
        else:
            sel = quiet & fin
            gq = np.where(sel[:, None], np.round(np.nan_to_num(g_acc) * Q_SCALE), 0).astype(np.int64)
            psum = _seg_sums(np.c_[gq, sel.astype(np.int64)], seg_start)
            for j, s in enumerate(seg_start):
                self._enter_post(st, int(blocks[s]))
                if st.neutral_g is not None:
                    frames[j] = self._neutral_frame(st)
                st.post_open += psum[j]
        # no neutral before a calibration has finished
        end = st.calib_until_bin if st.calib_until_bin is not None else st.calib_end_bin
        known_from = 0 if end is None or idx[0] >= end else int(end - idx[0])
        pitch, roll, tilt = _angles(
            np.ascontiguousarray(g), frames, seg_start.astype(np.int64), seg_end.astype(np.int64), known_from
        )
        if self.has_gyro:
            # no heading until the gyroscope offset is known: it would drift by the offset
            yaw_dev = self.heading.process(st.heading, np.where(known, yaw, np.nan))
            yaw_dev[~np.isfinite(tilt)] = np.nan
            dev = np.sqrt(tilt**2 + np.nan_to_num(yaw_dev) ** 2)
        else:
            yaw_dev = np.full(n, np.nan)
            dev = tilt
        rate = np.abs(np.diff(np.r_[st.prev_dev, dev])) / self.dt
        st.prev_dev = float(dev[-1])
        turn = np.sqrt((w_c * w_c).sum(axis=1)) if self.has_gyro else rate
        return PostureBins(g, pitch, roll, yaw_dev, tilt, dev, rate, turn)

    # --- internals ------------------------------------------------------------------
    def _neutral_frame(self, st: PostureState) -> np.ndarray:
        """The neutral frame (``_frame``), computed once per neutral (neutral_g is replaced,
        never changed in place)."""
        if self._frame_of is not st.neutral_g:
            self._frame_of, self._frame = st.neutral_g, _frame(st.neutral_g)
        return self._frame

    def _calibrate(self, st: PostureState, idx, g, fin) -> None:
        sel = (idx >= st.calib_from_bin) & (idx < st.calib_until_bin) & fin
        q = np.round(g[sel] * Q_SCALE).astype(np.int64)
        st.calib_sum[:3] += q.sum(axis=0)
        st.calib_sum[3] += int(sel.sum())
        if idx[-1] + 1 >= st.calib_until_bin and st.calib_sum[3] > 0:
            self.set_neutral(st, st.calib_sum[:3] / (Q_SCALE * st.calib_sum[3]))
            st.calib_end_bin = st.calib_until_bin
            st.calib_until_bin = None

    def _enter_post(self, st: PostureState, b: int) -> None:
        if st.post_block == b:
            return
        if st.post_block is not None:
            st.post_done.append((st.post_block, st.post_open.copy()))
        st.post_block, st.post_open = b, np.zeros(4, np.int64)
        # the first neutral is wanted early (block before), later updates wait for final decisions
        lag = 1 if st.neutral_g is None else 2
        while st.post_done and st.post_done[0][0] <= b - lag:
            _, s = st.post_done.popleft()
            self._update_neutral(st, s)

    def _update_neutral(self, st: PostureState, s: np.ndarray) -> None:
        frac = int(s[3]) / self.block_bins
        if st.calibrated or frac < 0.5:
            st.far_blocks, st.far_g = 0, None  # not a quiet block: no held posture to learn
            return
        m = s[:3].astype(np.float64)
        m /= math.sqrt(float(m @ m))
        if st.neutral_g is None:
            st.neutral_g = m
            return
        if _angle_deg(m, st.neutral_g) < self.near_neutral_deg:
            alpha = min(1.0, frac * self.block_s / self.neutral_tau_s)
            ng = st.neutral_g + alpha * (m - st.neutral_g)
            st.neutral_g = ng / np.linalg.norm(ng)
            st.far_blocks, st.far_g = 0, None
            return
        same = st.far_g is not None and _angle_deg(m, st.far_g) < self.near_neutral_deg
        st.far_blocks = st.far_blocks + 1 if same else 1
        st.far_g = m
        if st.far_blocks >= self.adopt_blocks:
            st.neutral_g = m
            st.far_blocks, st.far_g = 0, None


def _seg_sums(v: np.ndarray, seg_start: np.ndarray) -> np.ndarray:
    """Exact integer sums of rows of ``v`` over segments starting at ``seg_start``."""
    return np.add.reduceat(v, seg_start, axis=0)


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return math.degrees(math.acos(max(-1.0, min(1.0, float(a @ b)))))


def _frame(up: np.ndarray) -> np.ndarray:
    """Rows: up (the neutral gravity direction), forward (the sensor x axis made horizontal;
    y when x is nearly vertical) and left = up x forward."""
    x = np.array([0.0, 1.0, 0.0]) if abs(float(up[0])) > 0.9 else np.array([1.0, 0.0, 0.0])
    f = x - float(x @ up) * up
    f /= np.linalg.norm(f)
    return np.stack((up, f, np.cross(up, f)))


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
