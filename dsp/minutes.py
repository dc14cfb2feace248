"""Per-minute tremor summaries, like the minute results of Apple's Movement Disorder API.

Every bin of analysed time gets a label: a severity class while inside a tremor episode,
``none`` when it was judged and had no tremor, ``unknown`` when there was no data, the filters
were still settling, or voluntary movement was too strong to judge. A minute is reported once
no later decision can change its bins. Minutes with no data at all are not reported.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types

from dsp.events import SEVERITY_CLASSES, MinuteSummary

UNSEEN, UNKNOWN, NONE = 0, 1, 2
TREMOR0 = 3  # TREMOR0 + severity index (1..4): a candidate window with its own class
MINUTE_S = 60.0


class MinuteAccountant:
    def __init__(
        self, bin_dur_s: float, origin_s: float, first_boundary_s: float, delay_s: float, wall_clock
    ) -> None:
        self.bin_dur_s = bin_dur_s
        self.origin_s = origin_s
        self.m0_s = first_boundary_s  # a minute boundary at or before the first sample
        self.delay_s = delay_s
        self.wall_clock = wall_clock
        self.base_bin = 0  # global index of status[0]
        self.status = np.zeros(0, np.int8)
        self.intervals: list[tuple[float, float, int, bool]] = []  # start, end, severity, contraction
        self.next_minute = 0

    def record(self, bins: np.ndarray, codes: np.ndarray) -> None:
        """Labels for global bin indices ``bins`` (increasing)."""
        if bins.size == 0:
            return
        top = int(bins[-1]) + 1 - self.base_bin
        if top > self.status.size:
            self.status = np.concatenate((self.status, np.zeros(top - self.status.size, np.int8)))
        rel = bins - self.base_bin
        ok = rel >= 0
        self.status[rel[ok]] = codes[ok]

    def add_interval(self, start_s: float, end_s: float, severity: int, contraction: bool = False) -> None:
        self.intervals.append((start_s, end_s, severity, contraction))

    def emit(self, now_s: float, open_intervals: list[tuple[float, float, int, bool]]) -> list[MinuteSummary]:
        """Minutes that are final at stream time ``now_s``."""
        last = self.next_minute
        while self._minute_start(last + 1) + self.delay_s <= now_s:
            last += 1
        return self._summarise(last, open_intervals)

    def flush(self, end_s: float, open_intervals) -> list[MinuteSummary]:
        last = self.next_minute
        while self._minute_start(last) < end_s:
            last += 1
        return self._summarise(last, open_intervals)

    def _minute_start(self, m: int) -> float:
        return self.m0_s + m * MINUTE_S

    def _summarise(self, until: int, open_intervals) -> list[MinuteSummary]:
        """Summaries of minutes ``next_minute .. until - 1`` (those with data)."""
        first = self.next_minute
        if until <= first:
            return []
        intervals = self.intervals + list(open_intervals)
        iv = np.array(intervals, dtype=np.float64).reshape(-1, 4)
        counts, contraction, seen = _minute_counts(
            self.status,
            int(self.base_bin),
            float(self.origin_s),
            float(self.bin_dur_s),
            float(self.m0_s),
            int(first),
            int(until),
            np.ascontiguousarray(iv),
        )
        per_bin = self.bin_dur_s / MINUTE_S
        out = []
        for j, m in enumerate(range(first, until)):
            if not seen[j]:  # no data in this minute
                continue
            c = counts[j].tolist()
            fractions = {k: 0.0 for k in SEVERITY_CLASSES}
            fractions["none"] = float(c[NONE] * per_bin)
            for i, k in enumerate(SEVERITY_CLASSES[1:], start=1):
                fractions[k] = float(c[TREMOR0 + i] * per_bin)
            known = sum(fractions.values())
            a_s = self._minute_start(m)
            out.append(
                MinuteSummary(
                    minute_start_s=a_s,
                    start_time=self.wall_clock(a_s),
                    fractions={k: round(v, 6) for k, v in fractions.items()},
                    unknown_frac=round(max(0.0, 1.0 - known), 6),
                    contraction_frac=round(float(contraction[j] * per_bin), 6),
                )
            )
        # forget what no later minute needs
        b_s = self._minute_start(until)
        hi = max(0, math.ceil((b_s - self.origin_s) / self.bin_dur_s - 0.5))
        drop = max(0, min(hi - self.base_bin, self.status.size))
        self.status = self.status[drop:]
        self.base_bin += drop
        self.intervals = [v for v in self.intervals if v[1] >= b_s]
        self.next_minute = until
        return out


@njit(
    (
        types.int8[::1],  # status: label per bin from base_bin on
        types.int64,  # base_bin
        types.float64,  # origin_s
        types.float64,  # bin_dur_s
        types.float64,  # m0_s: start of minute 0
        types.int64,  # first minute
        types.int64,  # end minute (exclusive)
        types.float64[:, ::1],  # intervals: start, end, severity index, is contraction
    ),
    cache=True,
    nogil=True,
)  # compiled (or loaded from the cache) on import
def _minute_counts(status, base_bin, origin_s, bin_dur_s, m0_s, first, until, intervals):
    """Per minute: bins per final label, bins inside a contraction, and whether any bin had
    data. Inside a finished or open tremor episode a bin takes the episode's class unless its
    own window was a candidate (it keeps its own); a candidate outside every episode was judged
    and had none."""
    nm = until - first
    counts = np.zeros((nm, TREMOR0 + 5), np.int64)
    contraction = np.zeros(nm, np.int64)
    seen = np.zeros(nm, np.bool_)
    for j in range(nm):
        a_s = m0_s + (first + j) * MINUTE_S
        b_s = m0_s + (first + j + 1) * MINUTE_S
        # bins whose centre lies in [a_s, b_s)
        lo = max(0, math.ceil((a_s - origin_s) / bin_dur_s - 0.5))
        hi = max(0, math.ceil((b_s - origin_s) / bin_dur_s - 0.5))
        r0 = max(lo - base_bin, 0)
        r1 = max(min(hi - base_bin, status.size), 0)
        for r in range(r0, r1):
            if status[r] != UNSEEN:
                seen[j] = True
        if not seen[j]:
            continue
        for r in range(r0, r1):
            lab = status[r] if status[r] != UNSEEN else UNKNOWN
            centre = origin_s + (r + base_bin + 0.5) * bin_dur_s
            in_ep = False
            in_con = False
            for k in range(intervals.shape[0]):
                if intervals[k, 0] <= centre <= intervals[k, 1]:
                    if intervals[k, 3] != 0.0:
                        in_con = True
                        continue
                    if lab < TREMOR0:
                        lab = TREMOR0 + int(intervals[k, 2])
                    in_ep = True
            if not in_ep and lab >= TREMOR0:  # a candidate that never became an episode
                lab = NONE
            counts[j, lab] += 1
            if in_con:
                contraction[j] += 1
    return counts, contraction, seen
