"""Per-bin features of the uniform-grid signal: band power, cycle periods, slow components.

A bin is ``bin_n`` consecutive grid samples starting at a multiple of ``bin_n``. Everything a
later decision needs is reduced to fixed-size per-bin numbers here, so the streaming state is
small and the result does not depend on how samples were chunked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dsp.filters import sosfilt_stream, steady_state


@dataclass
class BandState:
    """Carry-over for one band-pass filter and its zero-crossing tracker."""

    zi: np.ndarray | None = None  # filter state (sections, 2, channels)
    prev_y: np.ndarray | None = None  # last filtered sample
    last_cross: np.ndarray | None = None  # grid position of the last upward crossing, per channel
    last_freq: np.ndarray | None = None  # frequency of the last complete cycle, per channel
    last_filled_k: int = -1  # grid index of the latest sample interpolated across a hole


@dataclass
class FeatureState:
    band: BandState = field(default_factory=BandState)
    lf_tail: np.ndarray | None = None  # the last sub-bin means the slow filter still needs


@dataclass
class BandBins:
    """Per-bin results for one band."""

    y: np.ndarray  # (bins * bin_n, channels) the band-passed signal itself
    ms: np.ndarray  # (bins, channels) mean square of the band-passed signal
    m4: np.ndarray  # (bins, channels) mean fourth power (impulsiveness: kurtosis = m4 / ms^2)
    n_cycles: np.ndarray  # (bins, channels) complete cycles ending in the bin
    sum_period: np.ndarray  # (bins, channels) sum of cycle periods (grid samples)
    sum_period_sq: np.ndarray  # (bins, channels)
    cycle_bin: np.ndarray  # (m,) bin index (relative) of each cycle-to-cycle frequency change
    cycle_axis: np.ndarray  # (m,) channel
    cycle_df_hz: np.ndarray  # (m,) change of frequency from the previous cycle


@dataclass
class Bins:
    """Per-bin results for a run of complete bins."""

    lf: np.ndarray  # (bins, channels) Hann-weighted mean of the last bins (NaN if unknown)
    mean: np.ndarray  # (bins, channels) plain mean of each bin (integrates angular rate exactly)
    band: BandBins


class BinFeatures:
    """Turns grid samples (whole bins) into per-bin features; state lives in ``FeatureState``."""

    def __init__(
        self,
        band_sos: np.ndarray,
        sample_rate_hz: float,
        bin_n: int,
        lf_bins: int = 4,
    ) -> None:
        self.sos = np.asarray(band_sos, dtype=np.float32)
        self.fs = float(sample_rate_hz)
        self.bin_n = int(bin_n)
        # Slow components (posture, voluntary movement): means over sub-bins of at most
        # 1/16 s (so tremor up to 8 Hz is not aliased and the boxcar nulls what lies near the
        # sub-bin rate), then a Hann window over the last ``lf_bins`` bins of them. Tremor
        # leaks less than about 3 % into them.
        self.lf_bins = int(lf_bins)
        max_len = max(1, int(self.fs // 16))
        sub_len = max(d for d in range(1, self.bin_n + 1) if self.bin_n % d == 0 and d <= max_len)
        self.sub = self.bin_n // sub_len
        taps = self.lf_bins * self.sub
        w = np.hanning(taps + 2)[1:-1]
        self.lf_w = (w / w.sum()).astype(np.float32)

    def new_state(self) -> FeatureState:
        return FeatureState()

    def reset(self, state: FeatureState, x0: np.ndarray) -> None:
        """Start a new segment (after a gap) whose first sample is ``x0``."""
        bs = state.band
        bs.zi = steady_state(self.sos, x0).astype(np.float32)
        bs.prev_y = None
        bs.last_cross = np.full(x0.shape[0], np.nan)
        bs.last_freq = np.full(x0.shape[0], np.nan)
        bs.last_filled_k = -1
        state.lf_tail = None

    def process(self, x: np.ndarray, k0: int, state: FeatureState, filled: np.ndarray | None = None) -> Bins:
        """Features of ``x`` = whole bins of grid samples starting at grid index ``k0``.

        ``filled`` marks samples interpolated across lost samples: a cycle spanning one is not
        counted (a straight line through a hole would look like one long, irregular cycle)."""
        n, ch = x.shape
        nb = n // self.bin_n
        xb = x.reshape(nb, self.bin_n, ch)
        sub = xb.reshape(nb * self.sub, self.bin_n // self.sub, ch).mean(axis=1)
        lf = self._slow(sub, state)
        mean = sub.reshape(nb, self.sub, ch).mean(axis=1) if self.sub > 1 else sub
        if filled is None:
            filled = np.zeros(n, bool)
        return Bins(lf=lf, mean=mean, band=self._band(x, k0, self.sos, state.band, filled))

    def _slow(self, sub: np.ndarray, state: FeatureState) -> np.ndarray:
        """Hann-weighted mean of sub-bin means over the last ``lf_bins`` bins (NaN until enough)."""
        ch = sub.shape[1]
        taps = self.lf_w.size
        prev = state.lf_tail
        if prev is None:
            prev = np.full((taps - 1, ch), np.nan, dtype=np.float32)
        allv = np.concatenate((prev, sub), axis=0)
        state.lf_tail = allv[-(taps - 1) :].copy()
        m = sub.shape[0]
        out = allv[0:m] * self.lf_w[0]
        for i in range(1, taps):
            out += allv[i : i + m] * self.lf_w[i]
        return out[self.sub - 1 :: self.sub]  # the value at the end of each bin

    def _band(self, x: np.ndarray, k0: int, sos: np.ndarray, bs: BandState, filled: np.ndarray) -> BandBins:
        y, bs.zi = sosfilt_stream(sos, x, bs.zi)
        n, ch = y.shape
        # latest filled grid index at or before each sample (carried across blocks)
        if filled.any():
            latest = np.maximum.accumulate(np.where(filled, np.arange(k0, k0 + n), bs.last_filled_k))
            bs.last_filled_k = int(latest[-1])
        else:
            latest = None
        nb = n // self.bin_n
        y2 = y * y
        ms = y2.reshape(nb, self.bin_n, ch).mean(axis=1)
        y2 *= y2
        m4 = y2.reshape(nb, self.bin_n, ch).mean(axis=1)
        n_cyc = np.zeros((nb, ch))
        s_p = np.zeros((nb, ch))
        s_p2 = np.zeros((nb, ch))
        cb, ca, cdf = [], [], []
        bs_prev_filled = bs.last_filled_k
        prev = bs.prev_y
        for a in range(ch):
            ya = y[:, a]
            if prev is None:
                yfull = ya
                off = 0
            else:
                yfull = np.concatenate(([prev[a]], ya))
                off = 1
            up = np.flatnonzero((yfull[1:] >= 0) & (yfull[:-1] < 0)) + 1  # index of first >= 0
            if up.size == 0:
                continue
            y0 = yfull[up - 1]
            y1 = yfull[up]
            pos = (k0 - off) + (up - 1) + y0 / (y0 - y1)  # grid position of the crossing
            cross = np.concatenate(([bs.last_cross[a]], pos))
            period = np.diff(cross)  # grid samples; NaN for the first after a reset
            lf_k = latest[up - off] if latest is not None else np.full(up.size, bs_prev_filled)
            period[lf_k >= np.floor(cross[:-1])] = np.nan  # the cycle spans a hole
            bs.last_cross[a] = pos[-1]
            ebin = ((k0 - off) + up) // self.bin_n - k0 // self.bin_n
            ok = np.isfinite(period)
            if ok.any():
                b = ebin[ok]
                p = period[ok]
                n_cyc[:, a] = np.bincount(b, minlength=nb)[:nb]
                s_p[:, a] = np.bincount(b, weights=p, minlength=nb)[:nb]
                s_p2[:, a] = np.bincount(b, weights=p * p, minlength=nb)[:nb]
            freq = self.fs / period
            fprev = np.concatenate(([bs.last_freq[a]], freq))
            df = np.diff(fprev)
            bs.last_freq[a] = freq[-1]
            okd = np.isfinite(df)
            if okd.any():
                cb.append(ebin[okd])
                ca.append(np.full(int(okd.sum()), a))
                cdf.append(df[okd])
        bs.prev_y = y[-1].copy()
        if cb:
            cycle_bin = np.concatenate(cb)
            cycle_axis = np.concatenate(ca)
            cycle_df = np.concatenate(cdf)
        else:
            cycle_bin = np.zeros(0, dtype=np.int64)
            cycle_axis = np.zeros(0, dtype=np.int64)
            cycle_df = np.zeros(0)
        return BandBins(y, ms, m4, n_cyc, s_p, s_p2, cycle_bin, cycle_axis, cycle_df)
