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

The compiled loops (offset, fusion, heading, angles) are in ``dsp.posture_kernels``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from dsp.heading import HeadingState, HeadingTracker
from dsp.posture_kernels import NO_BLOCK, Q_SCALE, _angles, _orient

#: Only turns are integrated into the heading: a turn starts when the rate about the vertical
#: reaches TURN_START_DPS (above the head's slow sway, 0.1-0.5 Hz of a few degrees, which seldom
#: turns faster than ~6 deg/s) and lasts until it falls under TURN_END_DPS, so its slow tails
#: count. Between turns the rate is sway plus the gyroscope offset error (up to ~1 deg/s while the
#: offset is being learnt), which would otherwise drift a held turn by tens of degrees a minute.
TURN_START_DPS = 7.0
TURN_END_DPS = 2.0
#: Still time behind the offset estimate before the heading is trusted. Short: with only turns integrated a
#: rough offset (error under TURN_END_DPS) already gives a usable heading, and a heading
#: that starts late, inside a held turn, mistakes the return for a turn the other way.
HEADING_AFTER_S = 2.0
#: Bins before the heading comes into use that are kept to re-integrate with the first usable
#: offset (s): the offset takes 20-40 s of still time to learn, and a turn held since then (a
#: torticollis in the first minute) must be measured from where it started.
PRE_HEADING_KEEP_S = 120.0
#: Quiet blocks in another far posture tolerated while a held posture is counted towards adoption
#: (a 10-30 s spasm or gesture between stretches of the same new resting posture).
FAR_MISS_BLOCKS = 3


@dataclass
class PostureState:
    """Explicit posture-estimation state carried between chunks."""

    zi_grav: np.ndarray | None = None  # complementary-filter state, one per gravity component
    yaw_deg: float = 0.0  # integrated heading
    turning: bool = False  # the head (limb) is in a turn about the vertical (see TURN_START_DPS)
    heading_armed: bool = False  # the heading is in use (first known outside a turn; see _orient)
    pre_w: np.ndarray | None = None  # (m, 3) rates of the bins before the heading came into use
    pre_g: np.ndarray | None = None  # ...and their gravity directions (re-integrated once it does)
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
    far_miss: int = 0  # consecutive quiet blocks away from both the neutral and far_g


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
    bias_dps: np.ndarray | None = None  # (n, 3) the gyroscope offset removed in each bin
    heading_deg: np.ndarray | None = None  # the integrated heading itself (turns only; NaN: unknown)


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
        heading_after_s: float = HEADING_AFTER_S,
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
        st.heading_armed = False
        st.pre_w = st.pre_g = None
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

        was_armed = st.heading_armed
        if self.has_gyro:
            w = np.ascontiguousarray(gyro_mean, dtype=np.float64)
            wq_all = np.round(w * Q_SCALE).astype(np.int64)
            if st.bias_block is None:
                st.bias_block = NO_BLOCK
            if st.bias_pending is None:
                st.bias_pending = np.zeros(5, np.int64)
                st.bias_pending[0] = NO_BLOCK
            bias_now = np.full(3, np.nan) if st.bias_dps is None else np.array(st.bias_dps, dtype=np.float64)
            scal = np.array(
                [float(st.bias_block), st.bias_w, st.yaw_deg, float(st.turning), float(st.heading_armed)]
            )
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
                        TURN_START_DPS,
                        TURN_END_DPS,
                    ],
                    dtype=np.float64,
                ),
            )
            st.bias_block = int(scal[0])
            st.bias_w = float(scal[1])
            st.yaw_deg = float(scal[2])
            st.turning = bool(scal[3])
            st.heading_armed = bool(scal[4])
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
            k = 0
            if not was_armed:
                yaw, k = self._first_heading(st, yaw, known, w, g, w - w_c)
            heading = np.where(known, yaw, np.nan)
            yaw_dev = np.full(n, np.nan)
            yaw_dev[k:] = self.heading.process(st.heading, heading[k:])
            yaw_dev[~np.isfinite(tilt)] = np.nan
            dev = np.sqrt(tilt**2 + np.nan_to_num(yaw_dev) ** 2)
        else:
            yaw_dev = np.full(n, np.nan)
            dev = tilt
        rate = np.abs(np.diff(np.r_[st.prev_dev, dev])) / self.dt
        st.prev_dev = float(dev[-1])
        turn = np.sqrt((w_c * w_c).sum(axis=1)) if self.has_gyro else rate
        bias = (w - w_c) if self.has_gyro else None
        return PostureBins(
            g, pitch, roll, yaw_dev, tilt, dev, rate, turn, bias, heading if self.has_gyro else None
        )

    # --- internals ------------------------------------------------------------------
    def _first_heading(self, st: PostureState, yaw, known, w, g, bias) -> tuple[np.ndarray, int]:
        """Until the heading comes into use its bins are kept; when it does (bin k), they are
        re-integrated (turns only) with the offset known then, the excursion's reference is
        followed through them, and the heading from k on continues from theirs. A turn held since
        before (a torticollis at the start of a recording) is then measured from where it began,
        and its return is a return, not a turn the other way."""
        on = np.flatnonzero(known)
        k = int(on[0]) if on.size else yaw.size
        keep = max(1, int(round(PRE_HEADING_KEEP_S / self.dt)))
        pre_w = w[:k] if st.pre_w is None else np.concatenate((st.pre_w, w[:k]))
        pre_g = g[:k] if st.pre_g is None else np.concatenate((st.pre_g, g[:k]))
        st.pre_w, st.pre_g = pre_w[-keep:].copy(), pre_g[-keep:].copy()
        if k == yaw.size:
            return yaw, k
        kept_w, kept_g = st.pre_w, st.pre_g
        st.pre_w = st.pre_g = None
        if not kept_w.shape[0]:
            return yaw, k
        past = _turns(kept_w, kept_g, bias[k], self.dt)
        before = yaw[k - 1] if k > 0 else yaw[k]  # no turn is integrated in the bin it comes into use
        shift = float(past[-1] - before)
        out = yaw.copy()
        out[k:] += shift
        st.yaw_deg += shift
        self.heading.reset(st.heading)
        self.heading.process(st.heading, past)  # the reference, followed through the kept bins
        return out, k

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
            if st.far_g is not None and st.far_miss < FAR_MISS_BLOCKS and not st.calibrated:
                st.far_miss += 1  # a moment of movement between stretches of the held posture
            else:
                st.far_blocks, st.far_g, st.far_miss = 0, None, 0  # no held posture to learn
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
            st.far_blocks, st.far_g, st.far_miss = 0, None, 0
            return
        same = st.far_g is not None and _angle_deg(m, st.far_g) < self.near_neutral_deg
        if same:
            st.far_blocks += 1
            st.far_miss = 0
        elif st.far_g is not None and st.far_miss < FAR_MISS_BLOCKS:
            # one block elsewhere (a spasm, a gesture) does not undo the held posture's count
            st.far_miss += 1
        else:
            st.far_blocks, st.far_g, st.far_miss = 1, m, 0
        if st.far_blocks >= self.adopt_blocks:
            st.neutral_g = m
            st.far_blocks, st.far_g, st.far_miss = 0, None, 0


def _turns(w: np.ndarray, g: np.ndarray, bias: np.ndarray, dt: float) -> np.ndarray:
    """Heading (deg, from 0) over bins of rates ``w`` and gravity ``g`` with offset ``bias``,
    integrating turns only (as ``_orient`` does). The first offset estimate can still be off by a
    few deg/s (slow turns in its still time); about the vertical, what is left of it is the
    median rate over these bins (turns are brief, most of the time the head is not turning)."""
    up = np.nansum((w - bias) * g, axis=1)
    up -= float(np.median(up))
    out = np.empty(up.size)
    heading, turning = 0.0, False
    for i, r in enumerate(up.tolist()):
        turning = abs(r) >= (TURN_END_DPS if turning else TURN_START_DPS)
        if turning:
            heading += r * dt
        out[i] = heading
    return out


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
