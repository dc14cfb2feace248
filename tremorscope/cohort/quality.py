"""A recording's data quality, kept block by block: wear time, clipping, the rate it really has.

Everything is accumulated per minute of recording time (count, mean and spread of each axis,
their extremes), so the result is the same however the recording is cut into blocks: a minute
split between two blocks is combined exactly (Chan, Golub and LeVeque's pairwise update).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from firmware_bridge.samples import SampleBlock

#: Length of the minute epochs the wear test is built from.
EPOCH_S = 60.0
#: Non-wear test window: GGIR's default (van Hees et al. 2013, PLoS ONE 8(4): e61691; GGIR
#: documentation "windowsizes"): 60 min of which at least 2 axes are nearly still.
NONWEAR_WINDOW_MIN = 60
#: An axis is still when its standard deviation over the window is below 13 mg (GGIR default) ...
NONWEAR_SD_G = 0.013
#: ... and its range is below 50 mg (GGIR default).
NONWEAR_RANGE_G = 0.050
#: Axes that must be still for non-wear (of 3).
NONWEAR_AXES = 2
#: A sample is clipped when an axis reaches this fraction of the full scale (ADCs saturate a few
#: counts short of it).
CLIP_FRACTION_OF_RANGE = 0.98
#: Samples used for the measured sample rate (median step), from the start of the recording.
RATE_SAMPLES = 10_000


@dataclass
class QualityAccumulator:
    """Per-minute statistics of a recording's acceleration, fed block by block."""

    range_g: float | None = None
    t_first: float | None = None
    t_last: float | None = None
    samples: int = 0
    clipped: int = 0
    _steps: list[np.ndarray] = field(default_factory=list)
    _step_n: int = 0
    _n: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _mean: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    _m2: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    _lo: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    _hi: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))

    def update(self, block: SampleBlock) -> None:
        """Add one block of samples (in time order, after any earlier block)."""
        t, acc = block.t, block.acc
        if t.size == 0:
            return
        if self.t_first is None:
            self.t_first = float(t[0])
        if self._step_n < RATE_SAMPLES:
            prev = [] if self.t_last is None else [self.t_last]
            d = np.diff(np.concatenate([prev, t[: RATE_SAMPLES - self._step_n + 1]]))
            self._steps.append(d)
            self._step_n += d.size
        self.t_last = float(t[-1])
        self.samples += t.size
        if self.range_g:
            self.clipped += int(
                np.count_nonzero((np.abs(acc) >= CLIP_FRACTION_OF_RANGE * self.range_g).any(1))
            )
        idx = np.floor((t - self.t_first) / EPOCH_S).astype(np.int64)
        self._grow(int(idx[-1]) + 1)
        cuts = np.flatnonzero(np.diff(idx)) + 1
        for part_idx, part in zip(np.split(idx, cuts), np.split(acc, cuts)):
            self._add(int(part_idx[0]), part)

    def _grow(self, n: int) -> None:
        if n <= self._n.size:
            return
        extra = n - self._n.size
        self._n = np.concatenate([self._n, np.zeros(extra)])
        for name, fill in (("_mean", 0.0), ("_m2", 0.0), ("_lo", math.inf), ("_hi", -math.inf)):
            setattr(self, name, np.concatenate([getattr(self, name), np.full((extra, 3), fill)]))

    def _add(self, i: int, part: np.ndarray) -> None:
        nb = part.shape[0]
        mb = part.mean(axis=0)
        m2b = ((part - mb) ** 2).sum(axis=0)
        na = self._n[i]
        n = na + nb
        delta = mb - self._mean[i]
        self._mean[i] += delta * nb / n
        self._m2[i] += m2b + delta**2 * na * nb / n
        self._n[i] = n
        self._lo[i] = np.minimum(self._lo[i], part.min(axis=0))
        self._hi[i] = np.maximum(self._hi[i], part.max(axis=0))

    def nonwear_minutes(self) -> np.ndarray:
        """Per minute epoch: inside a window the non-wear test flags (False where no data)."""
        m = self._n.size
        flags = np.zeros(m, dtype=bool)
        w = NONWEAR_WINDOW_MIN
        for a in range(0, max(0, m - w + 1)):
            n = self._n[a : a + w]
            has = n > 0
            if not has.all():
                continue  # a gap in the window: the test needs the whole hour
            total = n.sum()
            mean = (n[:, None] * self._mean[a : a + w]).sum(0) / total
            m2 = self._m2[a : a + w].sum(0) + (n[:, None] * (self._mean[a : a + w] - mean) ** 2).sum(0)
            sd = np.sqrt(m2 / total)
            rng = self._hi[a : a + w].max(0) - self._lo[a : a + w].min(0)
            if int(np.count_nonzero((sd < NONWEAR_SD_G) & (rng < NONWEAR_RANGE_G))) >= NONWEAR_AXES:
                flags[a : a + w] = True
        return flags & (self._n > 0)

    def summary(self, sample_rate_hz: float) -> dict[str, float | int | None]:
        """Wear and non-wear time, clipping and the measured rate, as quality-table columns."""
        steps = np.concatenate(self._steps) if self._steps else np.zeros(0)
        steps = steps[steps > 0]
        measured = round(1.0 / float(np.median(steps)), 2) if steps.size else None
        nonwear = self.nonwear_minutes()
        seconds = self._n / sample_rate_hz  # time covered by samples in each minute
        return {
            "detected_rate_hz": measured,
            "samples": int(self.samples),
            "duration_s": None if self.t_first is None else float(self.t_last - self.t_first),
            "wear_s": float(seconds[~nonwear].sum()),
            "nonwear_s": float(seconds[nonwear].sum()),
            "clipped_frac": None if not self.range_g or not self.samples else self.clipped / self.samples,
        }
