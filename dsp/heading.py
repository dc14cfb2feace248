"""Heading excursions (rotation about the vertical) that a drifting gyroscope cannot spoil.

Without a magnetometer the integrated heading drifts with any gyroscope-bias error, so an
absolute "neutral heading" cannot be trusted for minutes. What a gyroscope measures well is
a turn over seconds. So the reference heading follows the integrated heading (time constant
``follow_tau_s``, absorbing drift and slow sway) until the heading leaves it by
``enter_deg``; then the reference freezes and the excursion is measured from it until the
head comes back (within ``exit_deg``, or back by more than ``1 - return_frac`` of the largest
excursion and no longer turning: drift accumulated during the hold does not keep it "turned"),
or until the turn has
been held for ``adopt_after_s`` (it is the person's heading now). The reference then restarts
from the current heading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, types


@dataclass
class HeadingState:
    frozen: bool = False
    ref_deg: float = math.nan  # the reference heading (following, or frozen)
    peak_deg: float = 0.0  # largest |excursion| since it froze
    frozen_bins: int = 0
    last_yaw_deg: float = math.nan  # the heading of the last bin seen


class HeadingTracker:
    def __init__(
        self,
        bin_dur_s: float,
        follow_tau_s: float = 10.0,
        enter_deg: float = 8.0,
        exit_deg: float = 5.0,
        return_frac: float = 0.4,
        adopt_after_s: float = 300.0,
        settle_dps: float = 5.0,
    ) -> None:
        self.a = math.exp(-bin_dur_s / follow_tau_s)
        self.dt = bin_dur_s
        self.settle_dps = settle_dps
        self.enter_deg = enter_deg
        self.exit_deg = exit_deg
        self.return_frac = return_frac
        self.adopt_bins = max(1, int(round(adopt_after_s / bin_dur_s)))

    def reset(self, st: HeadingState) -> None:
        """After a gap: the heading before it says nothing about the heading after it."""
        st.frozen, st.ref_deg, st.peak_deg, st.frozen_bins = False, math.nan, 0.0, 0
        st.last_yaw_deg = math.nan

    def process(self, st: HeadingState, yaw_deg: np.ndarray) -> np.ndarray:
        """Excursion from the reference heading for each bin (degrees, signed)."""
        n = yaw_deg.size
        if n:
            out = self._process(st, yaw_deg)
            st.last_yaw_deg = float(yaw_deg[-1])
            return (out + 180.0) % 360.0 - 180.0  # a turn is at most half a circle either way
        return np.empty(0)

    def _process(self, st: HeadingState, yaw_deg: np.ndarray) -> np.ndarray:
        state = np.array([float(st.frozen), st.ref_deg, st.peak_deg, float(st.frozen_bins)])
        out = _excursions(
            np.ascontiguousarray(yaw_deg, dtype=np.float64),
            state,
            float(st.last_yaw_deg),
            float(self.a),
            float(self.dt),
            float(self.enter_deg),
            float(self.exit_deg),
            float(self.return_frac),
            float(self.adopt_bins),
            float(self.settle_dps),
        )
        st.frozen, st.ref_deg, st.peak_deg = bool(state[0]), float(state[1]), float(state[2])
        st.frozen_bins = int(state[3])
        return out


@njit((types.float64[::1],) * 2 + (types.float64,) * 8, cache=True, nogil=True)  # compiled on import
def _excursions(yaw, state, last_yaw, a, dt, enter_deg, exit_deg, return_frac, adopt_bins, settle_dps):
    """Bin by bin: the excursion from the reference heading; ``state`` = [frozen, reference,
    peak, bins frozen] is updated in place."""
    n = yaw.size
    out = np.empty(n)
    frozen, ref, peak, held = state[0] != 0.0, state[1], state[2], state[3]
    for i in range(n):
        y = yaw[i]
        if math.isnan(y):  # no heading here: start afresh where it resumes
            out[i] = np.nan
            frozen, ref, peak, held = False, np.nan, 0.0, 0.0
            continue
        if math.isnan(ref):
            ref = y
        e = y - ref
        out[i] = e
        if not frozen:
            if abs(e) >= enter_deg:  # a turn begins: the reference stays where it was
                frozen, peak, held = True, abs(e), 1.0
            else:  # follow the heading (a first-order low-pass)
                ref = (1.0 - a) * y + a * ref
            continue
        peak = max(peak, abs(e))
        held += 1.0
        prev = yaw[i - 1] if i > 0 else last_yaw
        rate = abs(y - prev) / dt
        settled = not (rate >= settle_dps)  # NaN (no previous bin) counts as settled
        back = ((abs(e) < exit_deg) or (abs(e) < return_frac * peak)) and settled
        if back or held >= adopt_bins:  # back (or adopted): the reference restarts from here
            frozen, ref, peak, held = False, y, 0.0, 0.0
    state[0], state[1], state[2], state[3] = 1.0 if frozen else 0.0, ref, peak, held
    return out
