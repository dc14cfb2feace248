"""The spectrum of a window's band signal: concentration near the fundamental, periodicity, and
the fundamental's frequency with sub-bin accuracy (used by :mod:`dsp.windows`)."""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.fft
from numba import njit, types

CONC_RESOLUTION_HZ = 0.2  # frequency resolution of the spectrum check
EDGE_MARGIN_HZ = 0.3  # cycle frequencies this far outside the bands still count (estimates wobble)
#: A spectral line at half the peak's frequency with at least this share of its power is the
#: fundamental of a non-sinusoidal oscillation. Angular rate weights a harmonic by its order (2x
#: in amplitude): a fundamental under half the harmonic's power would be a waveform whose second
#: harmonic outweighs it 1.4x in angle, which tremor is not (real wrist data has such weak lines).
SUBHARMONIC_MIN_POWER_RATIO_GYRO = 0.5
#: Acceleration weights the harmonic by up to its order squared (4x): a 0.6 second harmonic in
#: angle leaves the fundamental 0.17 of the harmonic's power.
SUBHARMONIC_MIN_POWER_RATIO_ACC = 0.15
#: ...and it must be a line: this many times the power a Hann main lobe's half width (1 Hz for a
#: 2 s window) either side, which a slope of movement or noise power near the band edge is not.
SUBHARMONIC_MIN_PROMINENCE = 3.0
PROMINENCE_OFFSET_HZ = 1.0
SPECTRUM_BATCH = 256  # windows transformed at once (bounds the temporary memory to a few MB)


@njit(
    (types.float32[:, ::1], types.float64[::1], types.float64, types.float64, types.float64, types.int64)
    + (types.float64,),
    cache=True,
    nogil=True,
    error_model="numpy",
)  # compiled (or loaded from the cache) on import
def _peaks(pb, fb, df, band_lo, fund_lo, off, min_sub_ratio):
    """Per window (row of power spectra ``pb`` at frequencies ``fb``): the concentration and
    the fundamental's frequency (see ``_concentration``)."""
    k_n, nb = pb.shape
    conc = np.zeros(k_n)
    comb = np.zeros(k_n)
    hz = np.full(k_n, np.nan)
    top = nb - 1
    for r in range(k_n):
        k = -1
        best = -1.0
        total = 0.0
        for j in range(nb):
            if fb[j] >= band_lo:
                v = pb[r, j]
                total += v
                if v > best:
                    best, k = v, j
        if k < 0:
            continue
        # the fundamental: the strongest bin within one resolution step of half the peak
        # frequency, if it is a line (standing out a main lobe either side) of enough power
        half = int(np.rint((fb[k] / 2.0 - fb[0]) / df))
        kh = min(max(half - 1, 0), top)
        for d in (0, 1):
            c = min(max(half + d, 0), top)
            if pb[r, c] > pb[r, kh]:
                kh = c
        skirt = max(pb[r, max(kh - off, 0)], pb[r, min(kh + off, top)])
        sub = (
            half >= off
            and fb[kh] >= fund_lo
            and pb[r, kh] >= min_sub_ratio * pb[r, k]
            and pb[r, kh] >= SUBHARMONIC_MIN_PROMINENCE * skirt
        )
        k0 = kh if sub else k
        near = 0.0
        for j in range(nb):
            if fb[j] >= band_lo and (abs(fb[j] - fb[k0]) <= 1.0 or (sub and abs(fb[j] - fb[k]) <= 1.0)):
                near += pb[r, j]
        conc[r] = near / total
        # a periodic waveform: the fundamental and its harmonics (2f, 3f) carry the power
        teeth = 0.0
        for j in range(nb):
            if fb[j] >= band_lo:
                for h in (1.0, 2.0, 3.0):
                    if abs(fb[j] - h * fb[k0]) <= 1.0:
                        teeth += pb[r, j]
                        break
        comb[r] = teeth / total
        la = math.log(pb[r, max(k0 - 1, 0)])
        lm = math.log(pb[r, k0])
        lr = math.log(pb[r, min(k0 + 1, top)])
        denom = la - 2.0 * lm + lr
        delta = 0.5 * (la - lr) / denom if denom < 0.0 else 0.0
        if not math.isfinite(delta):
            delta = 0.0
        hz[r] = fb[k0] + min(max(delta, -0.5), 0.5) * df
    return conc, comb, hz


@functools.lru_cache(maxsize=16)
def _spectrum_plan(n: int, fs: float, lo_hz: float, hi_hz: float):
    """FFT length, frequencies, the bins kept and the Hann window for ``n``-sample windows (the
    band, and below it the skirt that a subharmonic's prominence is judged against)."""
    nfft = 1 << int(math.ceil(math.log2(fs / CONC_RESOLUTION_HZ)))
    nfft = max(nfft, 1 << int(math.ceil(math.log2(n))))
    f = np.fft.rfftfreq(nfft, 1.0 / fs)
    band = (f >= lo_hz - 0.5 - PROMINENCE_OFFSET_HZ) & (f <= hi_hz + 0.5)
    return nfft, f, band, np.hanning(n).astype(np.float32)


def _concentration(
    y: np.ndarray,
    w: int,
    which: np.ndarray,
    fs: float,
    lo_hz: float,
    hi_hz: float,
    min_sub_ratio: float,
    axis: np.ndarray | None = None,
):
    """For windows ``which`` (0 and NaN elsewhere): the fraction of band power within
    +/- 1 Hz of the oscillation's fundamental (and of its strongest harmonic, when that is the
    spectral peak), the fraction within 1 Hz of the fundamental or its second or third
    harmonic, and the fundamental's frequency with sub-bin accuracy.

    A non-sinusoidal (jerky) tremor or a gravity-distorted accelerometer signal can put more
    power in the second harmonic than in the fundamental, and zero crossings count the
    harmonic's extra crossings and the noise before an onset: the spectral peak, moved to half
    its frequency when a line with ``min_sub_ratio`` of its power sits there, is
    the fundamental. The peak is refined by Gaussian (log-parabolic) interpolation between bins,
    exact for the Gaussian-like main lobe of a Hann window."""
    out = np.zeros(which.shape)
    comb_out = np.zeros(which.shape)
    peak_hz = np.full(which.shape, np.nan)
    idx = np.flatnonzero(which)
    if idx.size == 0:
        return out, comb_out, peak_hz
    nbins, ch, bin_n = y.shape
    n = w * bin_n
    nfft, f, band, hann = _spectrum_plan(n, fs, lo_hz, hi_hz)
    pb = np.empty((idx.size, int(band.sum())), np.float32)
    for a in range(0, idx.size, SPECTRUM_BATCH):  # bounded memory, single precision
        part = idx[a : a + SPECTRUM_BATCH]
        rows_ = part[:, None] + np.arange(w)[None, :]
        if axis is None:  # all axes
            seg = y[rows_].transpose(0, 2, 1, 3).reshape(part.size, ch, n) * hann  # (k, ch, n)
        else:  # one axis per window
            seg = y[rows_, axis[part][:, None]].reshape(part.size, 1, n) * hann
        spec = scipy.fft.rfft(seg, nfft, axis=-1)[..., band]
        pb[a : a + part.size] = (spec.real**2 + spec.imag**2).sum(axis=1)
    df = f[1] - f[0]
    fb = f[band]
    conc, comb, hz = _peaks(
        pb,
        np.ascontiguousarray(fb),
        float(df),
        float(lo_hz - 0.5),
        float(lo_hz - EDGE_MARGIN_HZ),
        int(round(PROMINENCE_OFFSET_HZ / df)),
        float(min_sub_ratio),
    )
    out[idx] = conc
    comb_out[idx] = comb
    peak_hz[idx] = hz
    return out, comb_out, peak_hz
