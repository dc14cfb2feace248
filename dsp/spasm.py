"""The spasm signature: how much a held posture looks like an involuntary spasm (0-1).

A spasm is a fast involuntary pull from rest into a posture far from the recent baseline, held
still (a co-contracted joint is locked), often with a jerky low-amplitude co-contraction
oscillation, then a release. A voluntary reach to a held posture is smoother and slower, its hold
sways with ordinary postural sway, and it usually comes at the end of other movement. Every path
reports the signature as the episode's confidence; the uncalibrated limb path (no neutral to
measure a drifting posture against) only keeps episodes that look like a spasm
(:meth:`Signature.is_spasm`). Read from the contraction tracker's recent per-bin history.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SLOW_LAG_S = 0.5  # delay of the slow (1 s Hann) posture signal
#: Peak onset rate over the held deviation (1/s): the fastest bin-long (0.25 s) window's turn,
#: slid in sub-bin steps (dsp.pull_rate), over the whole move. A minimum-jerk move of T s reads
#: 4.0 at T <= 0.25 s, 3.8 at 0.35 s, 3.2 at 0.5 s, 2.8 at 0.6 s, 2.0 at 0.9 s, 1.8 at 1 s. At or
#: below SPASM_SLOW_PER_S the move took >= ~0.9 s, a voluntary reach; at or above
#: SPASM_FAST_PER_S it took <= ~0.45 s, an involuntary pull.
SPASM_SLOW_PER_S = 2.0
SPASM_FAST_PER_S = 3.3
#: The same without a gyroscope, from the angle between consecutive bin-long windows' mean
#: acceleration directions (a smoother derivative: 3.6 at T = 0.15 s, 3.1 at 0.35 s, 2.75 at
#: 0.5 s, 2.5 at 0.6 s, 1.9 at 0.9 s, 1.7 at 1 s), with the same boundaries in time.
SPASM_SLOW_PER_S_ACC = 1.9
SPASM_FAST_PER_S_ACC = 2.9
#: Slow sway of the held deviation (deg, sd) from which a hold is no hold but movement.
SPASM_SWAY_DEG = 1.5
#: Without a gyroscope, stillness is the hold's median rate of the deviation (deg/s): a
#: co-contracted joint holds under ~0.3 deg/s; a voluntary hold's 0.5-2 deg postural sway at
#: 0.2-2 Hz moves it at 0.5 deg/s and more.
SPASM_STILL_DPS_ACC = 0.3
SPASM_SWAY_DPS_ACC = 0.8
#: Band RMS (g) in the hold: co-contraction oscillation from here up, physiological tremor below.
SPASM_OSC_MIN_G = 0.004
SPASM_OSC_FULL_G = 0.008
#: With a gyroscope, stillness is the hold's median rotation rate (deg/s): a co-contracted joint
#: holds under ~0.6 deg/s; a voluntary hold's postural sway turns it at 1.5 deg/s and more.
SPASM_STILL_DPS = 0.6
SPASM_SWAY_DPS = 1.5
#: Hold rotation rate (deg/s, median) from which it is no hold but movement: with a gyroscope its
#: own rate, without it the slow deviation's rate (a locked spasm holds under ~0.6 deg/s either way).
SPASM_MOVING_DPS = (1.5, 2.5)
SPASM_MOVING_DPS_ACC = (1.0, 2.0)
#: Hold band RMS (g) from which the oscillation is no low-amplitude co-contraction but a tremor or
#: activity (parkinsonian tremor reaches 0.1 g): its credit falls to zero over this range.
SPASM_OSC_TREMOR_G = (0.06, 0.09)
#: Weights of onset speed, oscillation and stillness in the confidence. Speed is the surest cue
#: with a gyroscope; without one the bin-to-bin tilt rate blurs the pull, and the hold's rate
#: (the deviation's, read past the ramp's settling tail) separates about as well.
SPASM_WEIGHTS_GYRO = (0.5, 0.2, 0.3)
SPASM_WEIGHTS_ACC = (0.4, 0.2, 0.4)
#: Confidence an uncalibrated limb episode needs: a fully still hold plus an onset-speed score of
#: about 0.3 (a pull that fast is involuntary; a pull within one bin's 0.25 s that straddles two
#: bins reads half its peak rate, so a speed score that low is still a fast pull), or less speed
#: with co-contraction. With a gyroscope 0.45 (= 0.5 x 0.3 + 0.3 x 1); without one 0.5
#: (= 0.4 x 0.25 + 0.4 x 1), the tilt rate being the blurrier cue. Real wrists of people without
#: dystonia (tests/test_real_data.py) stay under both.
SPASM_MIN_CONFIDENCE = 0.45
SPASM_MIN_CONFIDENCE_ACC = 0.5
#: ...and its hold must look like one (stillness or co-contraction score at least this): a fast
#: move into typing, riding or brushing is fast but neither.
SPASM_MIN_HOLD = 0.5
#: ...and it must not have moved further than this (deg) from the resting posture: a wrist's
#: range is ~70-90 deg each way and spasms pull 20-60; more is the whole arm (a hand to the mouth).
SPASM_MAX_DEG = 80.0
#: ...and the pull itself must move the limb at least this far (deg) from the posture it rested in
#: (the release angle): a deviation that only creeps over the threshold, or a small adjustment
#: next to a stale neutral, is no pull "far from the recent baseline".
SPASM_MIN_PULL_DEG = 10.0
#: ...and it must start from rest: before the pull (from PRE_REST_S[0] to PRE_REST_S[1] before its
#: fastest bin; a pull of up to ~1 s has not begun by then) the limb turned slower than this
#: (deg/s, bin rate). A resting limb turns at ~1 deg/s (drift, physiological tremor); at the end
#: of a voluntary movement (a gesture's strokes, typing, a ride's jolts) it was moving at 5-100.
SPASM_REST_DPS = 5.0
PRE_REST_S = (3.0, 0.75)
HOLD_SKIP_S = 1.25  # the slow posture signal (1 s window) is still settling before this
#: Slow sway (deg, sd) over the hold at which it is no hold at all but movement (a gesture's
#: strokes): the confidence falls to zero there, whatever the speed and oscillation.
SPASM_MOVING_DEG = 3.0
#: A move's rotation is summed this long either side of its fastest window (a voluntary reach of
#: up to ~2 s lies within it; rest adds ~1 deg/s of drift and tremor).
MOVE_SPAN_S = 1.0
ONSET_SEARCH_S = 1.0  # the pull is looked for up to this long after the threshold crossing


@dataclass
class Signature:
    """The spasm signature of one held posture."""

    confidence: float  # 0-1 (NaN: no hold to judge)
    held: tuple = (0.0, 0.0, 0.0)  # (pitch, roll, heading) held
    base: tuple | None = None  # ...and the one before its onset, if away from neutral (None: neutral)
    held_like: float = 0.0  # how much the hold looks like a spasm's (still or co-contracting)
    moved: float = 0.0  # how far (deg) the pull moved the limb from the posture it rested in
    speed: float = 0.0  # the onset-speed score (0-1)
    from_rest: bool = True  # the limb was at rest before the pull
    has_gyro: bool = True

    def pull_like(self) -> bool:
        """A spasm's pull (fast, from rest, of a spasm's size), whatever the hold looks like
        (a spasm is a pull: oscillation and stillness alone are not one)."""
        return self.speed > 0.0 and self.from_rest and SPASM_MIN_PULL_DEG <= self.moved <= SPASM_MAX_DEG

    def is_spasm(self) -> bool:
        """Enough of a spasm's signature for the uncalibrated path to keep the episode."""
        return (
            self.confidence >= (SPASM_MIN_CONFIDENCE if self.has_gyro else SPASM_MIN_CONFIDENCE_ACC)
            and self.held_like >= SPASM_MIN_HOLD
            and self.pull_like()
        )


def signature(
    t: np.ndarray,
    d: np.ndarray,
    f: np.ndarray,
    b: np.ndarray,
    a: np.ndarray,
    h: np.ndarray,
    v: np.ndarray,
    cross_s: float,
    start_s: float,
    threshold_deg: float,
    has_gyro: bool,
    bin_s: float,
) -> Signature:
    """From per-bin history: end times ``t``, deviation ``d`` (deg), fast rate ``f`` (deg/s),
    band power ``b`` (g^2), angles ``a`` (n, 3), hold rotation rate ``h`` (deg/s) and bin-mean
    rotation rate ``v`` (deg/s), one per bin of ``bin_s``; the threshold crossing ``cross_s``
    and the traced onset ``start_s``."""
    hold = (t > cross_s + HOLD_SKIP_S) & np.isfinite(d)
    if hold.sum() < 2:
        hold = (t > cross_s) & np.isfinite(d)
    if not hold.any():
        return Signature(math.nan)
    held_d = float(np.median(d[hold]))
    held = tuple(float(v) for v in np.median(a[hold], axis=0))
    before = (t <= start_s + 1e-9) & np.isfinite(d)
    base_d = float(d[before][-1]) if before.any() else 0.0
    base = tuple(float(v) for v in a[before][-1]) if before.any() and base_d > 0.3 * threshold_deg else None
    # the slow deviation lags the movement: the pull may lie before the traced onset
    ramp = (t > start_s - 2 * SLOW_LAG_S) & (t <= cross_s + ONSET_SEARCH_S) & np.isfinite(f)
    peak = float(f[ramp].max()) if ramp.any() else 0.0
    from_rest = True  # (no bins before the pull: nothing says it was moving)
    moved = dist1(held, tuple(a[before][-1])) if before.any() else held_d
    whole = moved  # the whole move, for its speed
    if ramp.any():
        t_peak = float(t[ramp][int(np.argmax(f[ramp]))])
        pre = (t >= t_peak - PRE_REST_S[0]) & (t <= t_peak - PRE_REST_S[1]) & np.isfinite(f)
        from_rest = not (pre.any() and float(f[pre].max()) >= SPASM_REST_DPS)
        # the traced onset may fall inside a slower move (the slow posture signal lags it): the
        # move is measured from where the limb rested before its fastest part as well, so part
        # of a reach left out of ``moved`` does not make the rest of it look fast
        rested = (t <= t_peak - PRE_REST_S[1]) & np.isfinite(d)
        if rested.any():
            whole = max(whole, dist1(held, tuple(a[rested][-1])))
        if has_gyro and t.size > 1:
            # with a gyroscope, the rotation the gyroscope itself saw in the move (its path
            # within MOVE_SPAN_S of the fastest window): the same sensor as the peak, so the
            # speed is the share of the move made in the fastest 0.25 s, whatever the angles
            # (Euler-angle distances over- or under-state a rotation of the wrist)
            span = (t > t_peak - MOVE_SPAN_S) & (t <= t_peak + MOVE_SPAN_S) & np.isfinite(v)
            whole = max(float(v[span].sum()) * bin_s, 1.0) if span.any() else whole
    rise = peak / max(whole, 1.0)
    if has_gyro:
        speed = ramp01(rise, SPASM_SLOW_PER_S, SPASM_FAST_PER_S)
    else:
        speed = ramp01(rise, SPASM_SLOW_PER_S_ACC, SPASM_FAST_PER_S_ACC)
    sway = float(np.std(d[hold]))
    rate = float(np.median(h[hold]))
    if has_gyro:
        still = 1.0 - ramp01(rate, SPASM_STILL_DPS, SPASM_SWAY_DPS)
        moving = ramp01(rate, *SPASM_MOVING_DPS)
    else:
        still = 1.0 - ramp01(rate, SPASM_STILL_DPS_ACC, SPASM_SWAY_DPS_ACC)
        moving = ramp01(rate, *SPASM_MOVING_DPS_ACC)
    moving = max(moving, ramp01(sway, SPASM_SWAY_DEG, SPASM_MOVING_DEG))
    osc_g = math.sqrt(max(float(np.mean(b[hold])), 0.0))
    osc = ramp01(osc_g, SPASM_OSC_MIN_G, SPASM_OSC_FULL_G) * (1.0 - ramp01(osc_g, *SPASM_OSC_TREMOR_G))
    w = SPASM_WEIGHTS_GYRO if has_gyro else SPASM_WEIGHTS_ACC
    return Signature(
        confidence=(1.0 - moving) * (w[0] * speed + w[1] * osc + w[2] * still) / sum(w),
        held=held,
        base=base,
        held_like=max(still, osc) * (1.0 - moving),  # a spasm's hold: still or co-contracting
        moved=moved,
        speed=speed,
        from_rest=from_rest,
        has_gyro=has_gyro,
    )


def dist(ang: np.ndarray, base: tuple) -> np.ndarray:
    """Angle (deg, approximately) of postures ``ang`` (3, n: pitch, roll, heading) from ``base``."""
    d = ang - np.asarray(base)[:, None]
    d[2] = (d[2] + 180.0) % 360.0 - 180.0  # a turn is at most half a circle either way
    return np.sqrt((d * d).sum(axis=0))


def dist1(a: tuple, b: tuple) -> float:
    return float(dist(np.asarray(a, dtype=np.float64)[:, None], b)[0])


def ramp01(x: float, lo: float, hi: float) -> float:
    """0 at or below ``lo``, 1 at or above ``hi``, linear between."""
    return float(min(1.0, max(0.0, (x - lo) / (hi - lo))))
