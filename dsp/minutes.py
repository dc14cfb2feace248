"""Per-minute tremor summaries, like the minute results of Apple's Movement Disorder API.

Every bin of analysed time gets a label: a severity class while inside a tremor episode,
``none`` when it was judged and had no tremor, ``unknown`` when there was no data, the filters
were still settling, or voluntary movement was too strong to judge. A minute is reported once
no later decision can change its bins. Minutes with no data at all are not reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, types

from dsp.events import SEVERITY_CLASSES, MinuteSummary

UNSEEN, UNKNOWN, NONE = 0, 1, 2
TREMOR0 = 3  # TREMOR0 + severity index (1..4): a candidate window with its own class
MINUTE_S = 60.0


#: Label runs whose minutes are more than this many minutes apart are kept as separate runs (the
#: minutes between have no data), so memory and loops follow the data, not the time between:
#: a clock jump of 1e9 s costs nothing.
JOIN_MINUTES = 2


@dataclass
class _Run:
    """Bin labels ``status`` for global bin indices ``base .. base + status.size - 1``."""

    base: int
    status: np.ndarray  # int8 labels (UNSEEN where no window labelled the bin)

    @property
    def end(self) -> int:
        return self.base + int(self.status.size)


class MinuteAccountant:
    """Per-bin labels -> per-minute summaries, reported once final.

    The labels are kept as runs of consecutive bins; a minute lies inside one run. Every loop
    runs over runs and their bins (the data) or over a few minutes found by arithmetic, never
    over the minutes between two far-apart timestamps.
    """

    def __init__(
        self, bin_dur_s: float, origin_s: float, first_boundary_s: float, delay_s: float, wall_clock
    ) -> None:
        self.bin_dur_s = bin_dur_s
        self.origin_s = origin_s
        self.m0_s = first_boundary_s  # a minute boundary at or before the first sample
        self.delay_s = delay_s
        self.wall_clock = wall_clock
        self.base_bin = 0  # bins below this are summarised (or were never labelled)
        self.runs: list[_Run] = []
        self.intervals: list[tuple[float, float, int, bool]] = []  # start, end, severity, contraction
        self.next_minute = 0

    def record(self, bins: np.ndarray, codes: np.ndarray) -> None:
        """Labels for global bin indices ``bins`` (increasing)."""
        if bins.size == 0:
            return
        b0, top = int(bins[0]), int(bins[-1]) + 1
        runs = self.runs
        if runs and self._minute_of(b0) > self._minute_of(runs[-1].end - 1) + JOIN_MINUTES:
            # far after the last run: close that run at its minute's end, start a new one
            last = runs[-1]
            self._grow(last, self._first_bin(self._minute_of(last.end - 1) + 1))
        if not runs or self._minute_of(b0) > self._minute_of(runs[-1].end - 1) + JOIN_MINUTES:
            floor = runs[-1].end if runs else self.base_bin
            start = max(floor, self._first_bin(self._minute_of(b0)))
            runs.append(_Run(start, np.zeros(0, np.int8)))
        run = runs[-1]
        self._grow(run, top)
        rel = bins - run.base
        ok = rel >= 0
        run.status[rel[ok]] = codes[ok]

    @staticmethod
    def _grow(run: _Run, top: int) -> None:
        if top > run.end:
            run.status = np.concatenate((run.status, np.zeros(top - run.end, np.int8)))

    def add_interval(self, start_s: float, end_s: float, severity: int, contraction: bool = False) -> None:
        self.intervals.append((start_s, end_s, severity, contraction))

    def emit(self, now_s: float, open_intervals: list[tuple[float, float, int, bool]]) -> list[MinuteSummary]:
        """Minutes that are final at stream time ``now_s``."""
        # up to the first minute whose end plus the delay lies after now_s
        until = self._first_minute(
            lambda m: self._minute_start(m + 1) + self.delay_s > now_s, now_s - self.delay_s - MINUTE_S
        )
        return self._summarise(until, open_intervals)

    def final_before(self, end_s: float, open_intervals) -> list[MinuteSummary]:
        """Minutes that end at or before ``end_s`` (no later label can fall in them: a gap)."""
        until = self._first_minute(lambda m: self._minute_start(m + 1) > end_s, end_s - MINUTE_S)
        return self._summarise(until, open_intervals)

    def flush(self, end_s: float, open_intervals) -> list[MinuteSummary]:
        """All minutes with data that start before ``end_s`` (the end of the stream)."""
        until = self._first_minute(lambda m: self._minute_start(m) >= end_s, end_s)
        return self._summarise(until, open_intervals)

    def _first_minute(self, after, at_s: float) -> int:
        """The first minute ``m >= next_minute`` with ``after(m)`` true (``after`` is monotonic),
        found from the minute of ``at_s`` by arithmetic and a step or two for rounding."""
        lo = self.next_minute
        m = max(lo, math.floor((at_s - self.m0_s) / MINUTE_S) - 1)
        while m > lo and after(m - 1):
            m -= 1
        while not after(m):
            m += 1
        return m

    def _minute_start(self, m: int) -> float:
        return self.m0_s + m * MINUTE_S

    def _first_bin(self, m: int) -> int:
        """The first bin whose centre lies in minute ``m`` (as ``_minute_counts`` assigns them)."""
        return max(0, math.ceil((self._minute_start(m) - self.origin_s) / self.bin_dur_s - 0.5))

    def _minute_of(self, k: int) -> int:
        """The minute that bin ``k`` counts in."""
        centre = self.origin_s + (k + 0.5) * self.bin_dur_s
        m = math.floor((centre - self.m0_s) / MINUTE_S)
        while m > 0 and self._first_bin(m) > k:
            m -= 1
        while self._first_bin(m + 1) <= k:
            m += 1
        return m

    def _summarise(self, until: int, open_intervals) -> list[MinuteSummary]:
        """Summaries of minutes ``next_minute .. until - 1`` (those with data)."""
        first = self.next_minute
        if until <= first:
            return []
        intervals = self.intervals + list(open_intervals)
        iv = np.ascontiguousarray(np.array(intervals, dtype=np.float64).reshape(-1, 4))
        per_bin = self.bin_dur_s / MINUTE_S
        out = []
        for run in self.runs:
            if not run.status.size:
                continue
            lo = max(first, self._minute_of(run.base))
            hi = min(until, self._minute_of(run.end - 1) + 1)
            if lo >= hi:
                continue
            counts, contraction, seen = _minute_counts(
                run.status,
                int(run.base),
                float(self.origin_s),
                float(self.bin_dur_s),
                float(self.m0_s),
                int(lo),
                int(hi),
                iv,
            )
            for j, m in enumerate(range(lo, hi)):
                if not seen[j]:  # no data in this minute
                    continue
                out.append(self._summary(m, counts[j].tolist(), float(contraction[j] * per_bin)))
        # forget what no later minute needs
        hi_bin = self._first_bin(until)
        for run in self.runs:
            drop = max(0, min(hi_bin - run.base, run.status.size))
            run.status = run.status[drop:]
            run.base += drop
        end = self.runs[-1].end if self.runs else self.base_bin
        self.base_bin = max(self.base_bin, min(hi_bin, end))
        self.runs = [r for r in self.runs if r.status.size]
        b_s = self._minute_start(until)
        self.intervals = [v for v in self.intervals if v[1] >= b_s]
        self.next_minute = until
        return out

    def _summary(self, m: int, c: list[int], contraction_frac: float) -> MinuteSummary:
        per_bin = self.bin_dur_s / MINUTE_S
        fractions = {k: 0.0 for k in SEVERITY_CLASSES}
        fractions["none"] = float(c[NONE] * per_bin)
        for i, k in enumerate(SEVERITY_CLASSES[1:], start=1):
            fractions[k] = float(c[TREMOR0 + i] * per_bin)
        known = sum(fractions.values())
        a_s = self._minute_start(m)
        return MinuteSummary(
            minute_start_s=a_s,
            start_time=self.wall_clock(a_s),
            fractions={k: round(v, 6) for k, v in fractions.items()},
            unknown_frac=round(max(0.0, 1.0 - known), 6),
            contraction_frac=round(contraction_frac, 6),
        )


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
