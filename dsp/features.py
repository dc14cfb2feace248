"""Per-bin features of the uniform-grid signal: band power, cycle periods, slow components.

A bin is ``bin_n`` consecutive grid samples starting at a multiple of ``bin_n``. Everything a
later decision needs is reduced to fixed-size per-bin numbers here, so the streaming state is
small and the result does not depend on how samples were chunked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dsp.band_kernel import band_bins, slow_bins
from dsp.filters import steady_state
from dsp.pull_rate import sliding_means


@dataclass
class BandState:
    """Carry-over for one band-pass filter and its zero-crossing tracker."""

    zi: np.ndarray | None = None  # filter state (sections, channels, 2), float64
    prev_y: np.ndarray | None = None  # last filtered sample (NaN: none since the reset)
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

    y: np.ndarray | None  # (channels, bins * bin_n) the band-passed signal (if kept)
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

    lf: np.ndarray | None  # (bins, channels) Hann-weighted mean of the last bins (NaN if unknown)
    mean: np.ndarray | None  # (bins, channels) plain mean of each bin (integrates angular rate)
    band: BandBins
    subs: np.ndarray | None = None  # (channels, sub-bins) sub-bin means, until ``slow`` ran
    #: (bins, sub-bins per bin, slid channels) means over one bin's length ending at each of the bin's
    #: sub-bins (NaN where unknown): a bin-long window slid in sub-bin steps, so a fast pull that
    #: straddles two bins is still seen whole by one window (see ``dsp.pull_rate``)
    slide: np.ndarray | None = None


def join_bins(parts: list[Bins]) -> Bins:
    """Consecutive runs of bins as one run."""
    offsets = np.cumsum([0] + [p.band.ms.shape[0] for p in parts[:-1]])
    bands = [p.band for p in parts]

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(b, name) for b in bands])

    y = None if bands[0].y is None else np.concatenate([b.y for b in bands], axis=1)
    band = BandBins(
        y=y,
        ms=cat("ms"),
        m4=cat("m4"),
        n_cycles=cat("n_cycles"),
        sum_period=cat("sum_period"),
        sum_period_sq=cat("sum_period_sq"),
        cycle_bin=np.concatenate([b.cycle_bin + o for b, o in zip(bands, offsets)]),
        cycle_axis=cat("cycle_axis"),
        cycle_df_hz=cat("cycle_df_hz"),
    )
    return Bins(lf=None, mean=None, band=band, subs=np.concatenate([p.subs for p in parts], axis=1))


class BinFeatures:
    """Turns grid samples (whole bins) into per-bin features; state lives in ``FeatureState``."""

    def __init__(
        self,
        band_sos: np.ndarray,
        sample_rate_hz: float,
        bin_n: int,
        lf_bins: int = 4,
        keep_signal: bool = False,
        slide_channels: tuple[int, int] | None = None,
    ) -> None:
        """``keep_signal``: also return the band-passed samples of the last sensor (the
        gyroscope's where there is one, else the accelerometer's: the spectrum needs them);
        ``slide_channels``: the channels (first, one past the last) whose bin-long means are
        slid in sub-bin steps (``Bins.slide``; None: none)."""
        self.slide_channels = slide_channels
        self.sos = np.ascontiguousarray(band_sos, dtype=np.float64)
        self.keep_signal = keep_signal
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
        self.lf_w = np.ascontiguousarray(w / w.sum())

    def new_state(self) -> FeatureState:
        return FeatureState()

    def reset(self, state: FeatureState, x0: np.ndarray) -> None:
        """Start a new segment (after a gap) whose first sample is ``x0``."""
        bs = state.band
        bs.zi = np.ascontiguousarray(steady_state(self.sos, x0))
        bs.prev_y = np.full(x0.shape[0], np.nan)
        bs.last_cross = np.full(x0.shape[0], np.nan)
        bs.last_freq = np.full(x0.shape[0], np.nan)
        bs.last_filled_k = -1

    def reset_slow(self, state: FeatureState) -> None:
        """The slow components start afresh (a new segment): kept apart from ``reset`` because
        they are computed later, by ``slow``, in the detector's decision stage."""
        state.lf_tail = None

    def process(self, x: np.ndarray, k0: int, state: FeatureState, filled: np.ndarray | None = None) -> Bins:
        """Features of ``x`` (channels x samples) = whole bins of grid samples starting at grid
        index ``k0``. Per-bin outputs are bins x channels.

        ``filled`` marks samples interpolated across lost samples: a cycle spanning one is not
        counted (a straight line through a hole would look like one long, irregular cycle)."""
        n = x.shape[1]
        if filled is None:
            filled = np.zeros(n, bool)
        band, subs = self._band(x, k0, self.sos, state.band, filled)
        return Bins(lf=None, mean=None, band=band, subs=subs)

    def slow(self, bins: Bins, state: FeatureState) -> Bins:
        """Fill in the slow components (``lf``, ``mean``) of bins from ``process``; runs on the
        bins in order (the slow filter carries its last sub-bin means in ``state``)."""
        if bins.lf is None:
            ch = bins.subs.shape[0]
            if state.lf_tail is None:
                state.lf_tail = np.full((ch, self.lf_w.size - 1), np.nan)
            if self.slide_channels is not None:
                c0, c1 = self.slide_channels
                bins.slide = sliding_means(bins.subs[c0:c1], self.sub, state.lf_tail[c0:c1])
            bins.lf, bins.mean = slow_bins(bins.subs, self.sub, self.lf_w, state.lf_tail)
            bins.subs = None
        return bins

    def _band(
        self, x: np.ndarray, k0: int, sos: np.ndarray, bs: BandState, filled: np.ndarray
    ) -> tuple[BandBins, np.ndarray]:
        """Band features and the sub-bin means of the raw samples (one pass, compiled)."""
        ch, n = x.shape
        y = np.empty((3, n) if self.keep_signal else (0, 0), dtype=np.float32)  # the last sensor's
        ms, m4, n_cyc, s_p, s_p2, cyc_bin, cyc_df, cyc_count, bs.last_filled_k, subs = band_bins(
            x,
            sos,
            bs.zi,
            bs.prev_y,
            bs.last_cross,
            bs.last_freq,
            np.ascontiguousarray(filled, dtype=np.bool_),
            int(bs.last_filled_k),
            int(k0),
            self.bin_n,
            self.fs,
            y,
            self.bin_n // self.sub,
        )
        cycle_bin = np.concatenate([cyc_bin[a, : cyc_count[a]] for a in range(ch)])
        cycle_axis = np.repeat(np.arange(ch), cyc_count)
        cycle_df = np.concatenate([cyc_df[a, : cyc_count[a]] for a in range(ch)])
        y_kept = y if self.keep_signal else None
        return BandBins(y_kept, ms, m4, n_cyc, s_p, s_p2, cycle_bin, cycle_axis, cycle_df), subs
