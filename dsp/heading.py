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
from scipy.signal import lfilter


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
        n = yaw_deg.size
        out = np.empty(n)
        a = self.a
        i = 0
        while i < n:
            if math.isnan(yaw_deg[i]):  # no heading here: start afresh where it resumes
                fin = np.flatnonzero(~np.isnan(yaw_deg[i:]))
                j = i + int(fin[0]) if fin.size else n
                out[i:j] = np.nan
                self.reset(st)
                i = j
                continue
            if math.isnan(st.ref_deg):
                st.ref_deg = float(yaw_deg[i])
            if not st.frozen:
                stop = _next_nan(yaw_deg, i)
                ref, _ = lfilter([1.0 - a], [1.0, -a], yaw_deg[i:stop], zi=[a * st.ref_deg])
                ref_before = np.concatenate(([st.ref_deg], ref[:-1]))
                e = yaw_deg[i:stop] - ref_before
                hit = np.flatnonzero(np.abs(e) >= self.enter_deg)
                if hit.size == 0:
                    out[i:stop] = e
                    st.ref_deg = float(ref[-1])
                    i = stop
                    continue
                j = int(hit[0])
                out[i : i + j + 1] = e[: j + 1]
                st.ref_deg = float(ref_before[j])  # the heading before the turn began
                st.frozen, st.peak_deg, st.frozen_bins = True, float(abs(e[j])), 1
                i += j + 1
                continue
            stop = _next_nan(yaw_deg, i)
            e = yaw_deg[i:stop] - st.ref_deg
            peak = np.maximum.accumulate(np.maximum(np.abs(e), st.peak_deg))
            held = st.frozen_bins + np.arange(1, e.size + 1)
            prev = yaw_deg[i - 1] if i > 0 else st.last_yaw_deg
            rate = np.abs(np.diff(np.concatenate(([prev], yaw_deg[i:stop])))) / self.dt
            settled = ~(rate >= self.settle_dps)  # NaN (no previous bin) counts as settled
            back = ((np.abs(e) < self.exit_deg) | (np.abs(e) < self.return_frac * peak)) & settled
            back |= held >= self.adopt_bins
            hit = np.flatnonzero(back)
            if hit.size == 0:
                out[i:stop] = e
                st.peak_deg = float(peak[-1])
                st.frozen_bins += e.size
                i = stop
                continue
            j = int(hit[0])
            out[i : i + j + 1] = e[: j + 1]
            # back (or adopted): the reference restarts from here
            st.frozen, st.ref_deg, st.peak_deg, st.frozen_bins = False, float(yaw_deg[i + j]), 0.0, 0
            i += j + 1
        return out


def _next_nan(a: np.ndarray, i: int) -> int:
    """Index of the first NaN at or after ``i`` (len(a) if none)."""
    nan = np.flatnonzero(np.isnan(a[i:]))
    return i + int(nan[0]) if nan.size else a.size
