"""Per-minute tremor summaries, like the minute results of Apple's Movement Disorder API.

Every bin of analysed time gets a label: a severity class while inside a tremor episode,
``none`` when it was judged and had no tremor, ``unknown`` when there was no data, the filters
were still settling, or voluntary movement was too strong to judge. A minute is reported once
no later decision can change its bins. Minutes with no data at all are not reported.
"""

from __future__ import annotations

import math

import numpy as np

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
        out = []
        while self._minute_start(self.next_minute + 1) + self.delay_s <= now_s:
            out.extend(self._summarise(self.next_minute, open_intervals))
            self.next_minute += 1
        return out

    def flush(self, end_s: float, open_intervals) -> list[MinuteSummary]:
        out = []
        while self._minute_start(self.next_minute) < end_s:
            out.extend(self._summarise(self.next_minute, open_intervals))
            self.next_minute += 1
        return out

    def _minute_start(self, m: int) -> float:
        return self.m0_s + m * MINUTE_S

    def _summarise(self, m: int, open_intervals) -> list[MinuteSummary]:
        a_s, b_s = self._minute_start(m), self._minute_start(m + 1)
        # bins whose centre lies in [a_s, b_s)
        lo = max(0, math.ceil((a_s - self.origin_s) / self.bin_dur_s - 0.5))
        hi = max(0, math.ceil((b_s - self.origin_s) / self.bin_dur_s - 0.5))
        rlo, rhi = lo - self.base_bin, hi - self.base_bin
        st = self.status[max(rlo, 0) : max(min(rhi, self.status.size), 0)]
        first = max(rlo, 0) + self.base_bin
        # forget what no later minute needs
        drop = max(0, min(rhi, self.status.size))
        self.status = self.status[drop:]
        self.base_bin += drop
        intervals = self.intervals + list(open_intervals)
        self.intervals = [iv for iv in self.intervals if iv[1] >= b_s]
        if st.size == 0 or not (st != UNSEEN).any():
            return []
        centres = self.origin_s + (np.arange(first, first + st.size) + 0.5) * self.bin_dur_s
        label = np.where(st == UNSEEN, UNKNOWN, st).astype(np.int64)
        in_ep = np.zeros(st.size, bool)
        contraction = np.zeros(st.size, bool)
        for s, e, sev, is_con in intervals:
            inside = (centres >= s) & (centres <= e)
            if is_con:
                contraction |= inside
                continue
            own = inside & (label >= TREMOR0)
            label[inside & ~own] = TREMOR0 + sev
            in_ep |= inside
        # candidate windows that never became an episode were judged: no tremor
        label[~in_ep & (label >= TREMOR0)] = NONE
        per_bin = self.bin_dur_s / MINUTE_S
        counts = np.bincount(label, minlength=TREMOR0 + len(SEVERITY_CLASSES)).tolist()
        fractions = {c: 0.0 for c in SEVERITY_CLASSES}
        fractions["none"] = float(counts[NONE] * per_bin)
        for i, c in enumerate(SEVERITY_CLASSES[1:], start=1):
            fractions[c] = float(counts[TREMOR0 + i] * per_bin)
        known = sum(fractions.values())
        return [
            MinuteSummary(
                minute_start_s=a_s,
                start_time=self.wall_clock(a_s),
                fractions={k: round(v, 6) for k, v in fractions.items()},
                unknown_frac=round(max(0.0, 1.0 - known), 6),
                contraction_frac=round(float(contraction.sum() * per_bin), 6),
            )
        ]
