"""The compiled kernels of the DSP core against plain NumPy/SciPy references.

Each kernel replaced a NumPy/SciPy formulation; these tests pin that they compute the same
thing (the band-pass is scipy's filter, the grid is linear interpolation, the window sums are
sums), so speed work cannot silently change what is measured.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from scipy import signal

from dsp.band_kernel import band_bins, slow_bins
from dsp.detector import _edges_in_window
from dsp.filters import bandpass_sos, steady_state
from dsp.grid import GridState, Hole, Segment, regrid
from dsp.windows import _window_stats

FS_HZ = 100.0
BIN_N = 25
SUB_LEN = 5


def _run_band(x: np.ndarray, x0: np.ndarray | None = None, want_y: bool = True):
    ch, n = x.shape
    sos = bandpass_sos(2.5, 19.0, FS_HZ)
    zi = np.ascontiguousarray(steady_state(sos, x[:, 0] if x0 is None else x0))
    state = dict(zi=zi.copy(), prev=np.full(ch, np.nan), cross=np.full(ch, np.nan), freq=np.full(ch, np.nan))
    y = np.empty((ch, n) if want_y else (0, 0), np.float32)
    out = band_bins(
        x,
        sos,
        state["zi"],
        state["prev"],
        state["cross"],
        state["freq"],
        np.zeros(n, np.bool_),
        -1,
        0,
        BIN_N,
        FS_HZ,
        y,
        SUB_LEN,
    )
    return sos, zi, y, out


def test_band_pass_is_scipys_filter_and_bin_power_its_mean_square():
    rng = np.random.default_rng(3)
    n = BIN_N * 400
    x = (rng.standard_normal((6, n)) * [[0.05], [0.05], [0.05], [20], [20], [20]] + 1.0).astype(np.float32)
    sos, zi, y, (ms, m4, *_rest) = _run_band(x)
    ref, _ = signal.sosfilt(sos, x.astype(np.float64), axis=-1, zi=zi)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6 * np.abs(ref).max())
    per_bin = ref.reshape(6, -1, BIN_N)
    np.testing.assert_allclose(ms, (per_bin**2).mean(axis=2).T, rtol=1e-9)
    np.testing.assert_allclose(m4, (per_bin**4).mean(axis=2).T, rtol=1e-9)


def test_cycle_periods_of_a_sine_give_its_frequency_and_sub_means_the_raw_means():
    n = BIN_N * 400
    t = np.arange(n) / FS_HZ
    f_hz = 6.3
    x = np.vstack([np.sin(2 * np.pi * f_hz * t + p) for p in (0.0, 1.0, 2.0)]).astype(np.float32)
    *_, (ms, m4, n_cyc, s_p, s_p2, cyc_bin, cyc_df, cyc_count, last_k, subs) = _run_band(x, x0=np.zeros(3))
    settled = slice(40, None)  # after the filter has settled from its (wrong) zero start
    period = s_p[settled].sum(axis=0) / n_cyc[settled].sum(axis=0)
    np.testing.assert_allclose(FS_HZ / period, f_hz, rtol=2e-3)
    # one cycle per 1/f seconds, on every channel
    expected_cycles = (n - 1) / FS_HZ * f_hz
    assert np.all(np.abs(n_cyc.sum(axis=0) - expected_cycles) <= 2)
    assert np.all(cyc_count >= expected_cycles - 3)
    assert np.abs(cyc_df[0, 10 : cyc_count[0]]).max() < 0.05  # a steady sine: no frequency jumps
    np.testing.assert_allclose(subs, x.astype(np.float64).reshape(3, -1, SUB_LEN).mean(axis=2), rtol=1e-6)


def test_a_cycle_spanning_a_filled_sample_is_not_counted():
    n = BIN_N * 200
    t = np.arange(n) / FS_HZ
    x = np.vstack([np.sin(2 * np.pi * 5.0 * t)] * 3).astype(np.float32)
    sos = bandpass_sos(2.5, 19.0, FS_HZ)

    def cycles(filled):
        zi = np.ascontiguousarray(steady_state(sos, np.zeros(3)))
        nan3 = np.full(3, np.nan)
        out = band_bins(
            x, sos, zi, nan3.copy(), nan3.copy(), nan3.copy(), filled, -1, 0, BIN_N, FS_HZ,
            np.empty((0, 0), np.float32), SUB_LEN,
        )  # fmt: skip
        return out[2].sum(axis=0)  # complete cycles per channel

    filled = np.zeros(n, np.bool_)
    clean = cycles(filled)
    filled[n // 2] = True
    np.testing.assert_array_equal(cycles(filled), clean - 1)  # the one spanning it, on each channel


def test_slow_components_are_a_hann_weighted_mean_of_sub_bin_means():
    rng = np.random.default_rng(5)
    per_bin, taps = BIN_N // SUB_LEN, 4 * (BIN_N // SUB_LEN)
    subs = rng.standard_normal((3, per_bin * 50))
    w = np.hanning(taps + 2)[1:-1]
    w = np.ascontiguousarray(w / w.sum())
    tail = np.full((3, taps - 1), np.nan)
    lf, mean = slow_bins(np.ascontiguousarray(subs), per_bin, w, tail)
    ref = sliding_window_view(subs, taps, axis=1) @ w  # windows ending at each sub-bin
    ends = np.arange(per_bin - 1, subs.shape[1], per_bin)  # each bin's last sub-bin
    ok = ends >= taps - 1
    np.testing.assert_allclose(lf[ok], ref[:, ends[ok] - (taps - 1)].T, rtol=1e-12)
    assert np.isnan(lf[~ok]).all()  # not enough history yet
    np.testing.assert_allclose(mean, subs.reshape(3, -1, per_bin).mean(axis=2).T, rtol=1e-12)
    np.testing.assert_array_equal(tail, subs[:, -(taps - 1) :])


def test_grid_is_linear_interpolation_and_a_long_pause_is_a_hole():
    rng = np.random.default_rng(7)
    n = 3000
    t = np.arange(n) / FS_HZ + rng.uniform(-0.002, 0.002, n)
    t[2000:] += 2.0  # a 2 s pause
    x = rng.standard_normal((3, n)).astype(np.float32)
    out = regrid(t, x, GridState(), FS_HZ, gap_s=0.5)
    kinds = [type(item) for item in out.items]
    assert kinds == [Segment, Hole, Segment]
    origin = t[0] + 0.5 / FS_HZ
    for seg in (out.items[0], out.items[2]):
        g = origin + (seg.k0 + np.arange(seg.x.shape[1])) / FS_HZ
        for c in range(3):
            np.testing.assert_allclose(seg.x[c], np.interp(g, t, x[c]), rtol=1e-5, atol=1e-5)
        assert not seg.filled.any()
    hole = out.items[1]
    assert hole.start_s == t[1999] and hole.end_s == t[2000]


def test_window_statistics_are_the_window_sums():
    rng = np.random.default_rng(11)
    n, w = 300, 8
    ms = rng.uniform(0.0, 1.0, (n, 6))
    m4 = rng.uniform(0.0, 1.0, (n, 6))
    n_cycles = rng.integers(0, 3, (n, 6)).astype(float)
    sp = n_cycles * rng.uniform(8, 20, (n, 6))
    sq = sp**2 / np.maximum(n_cycles, 1)
    lf = rng.standard_normal((n, 6))
    valid = (rng.uniform(size=n) > 0.05).astype(float)
    ok, ms_w, osc, gravity, lf_std, lf_rot = _window_stats(valid, ms, m4, n_cycles, sp, sq, lf, w, FS_HZ)

    def wsum(a):
        return sliding_window_view(a, w, axis=0).sum(axis=-1)

    np.testing.assert_array_equal(ok, wsum(valid) == w)
    np.testing.assert_allclose(ms_w, wsum(ms) / w, rtol=1e-12)
    for sensor, chans in ((0, slice(0, 3)), (1, slice(3, 6))):
        axis = np.argmax(ms_w[:, chans], axis=1) + chans.start
        rows = np.arange(axis.size)
        nc = wsum(n_cycles)[rows, axis]
        mp = wsum(sp)[rows, axis] / nc
        with np.errstate(invalid="ignore", divide="ignore"):
            cv = np.sqrt(np.maximum(wsum(sq)[rows, axis] / nc - mp * mp, 0)) / mp
        np.testing.assert_array_equal(osc[sensor, 0], axis)
        np.testing.assert_array_equal(osc[sensor, 1], nc)
        np.testing.assert_allclose(osc[sensor, 2], FS_HZ / mp, rtol=1e-12)
        np.testing.assert_allclose(osc[sensor, 3], cv, rtol=1e-9)
    g = wsum(lf[:, :3]) / w
    np.testing.assert_allclose(gravity, g, rtol=1e-12)
    var = np.maximum(wsum(lf[:, :3] ** 2) / w - g**2, 0).sum(axis=1)
    np.testing.assert_allclose(lf_std, np.sqrt(var), rtol=1e-9)
    np.testing.assert_allclose(lf_rot, wsum(np.sqrt((lf[:, 3:] ** 2).sum(axis=1))) / w, rtol=1e-12)


@pytest.mark.parametrize("has_gyro", [True, False])
def test_window_edges_follow_half_median_power(has_gyro):
    rng = np.random.default_rng(13)
    n, w = 200, 8
    ms = rng.uniform(0.0, 1.0, (n, 6))
    on_s, off_s = _edges_in_window({"ms": ms}, w, has_gyro, 0.25)
    p = sliding_window_view((ms[:, 3:6] if has_gyro else ms[:, 0:3]).sum(axis=1), w)
    half = w // 2
    ref_on = 0.5 * np.median(p[:, half:], axis=1)
    ref_off = 0.5 * np.median(p[:, :half], axis=1)
    on = np.argmax(p >= ref_on[:, None], axis=1)
    off = w - 1 - np.argmax(p[:, ::-1] >= ref_off[:, None], axis=1)
    np.testing.assert_allclose(on_s, on * 0.25)
    np.testing.assert_allclose(off_s, (off + 1) * 0.25)


def test_episode_histograms_match_numpy_binning():
    from dsp.tremor_episodes import DF_BINS, DF_STEP_HZ, FREQ_BINS, FREQ_STEP_HZ, _hist_quantile, _histograms

    rng = np.random.default_rng(17)
    freq = np.concatenate((rng.uniform(-1, 40, 500), [np.nan, -5.0, 0.0, 29.99, 30.0, 1e6]))
    context = rng.integers(0, 3, freq.size)
    df = np.concatenate((rng.normal(0, 2, 500), [-50.0, 50.0, 0.01, -0.01]))
    fh, dh, ch = np.zeros(FREQ_BINS, np.int64), np.zeros(DF_BINS, np.int64), np.zeros(3, np.int64)
    _histograms(fh, dh, ch, freq, context, df)
    with np.errstate(invalid="ignore"):
        fb = np.clip((freq / FREQ_STEP_HZ).astype(np.int64), 0, FREQ_BINS - 1)
    np.testing.assert_array_equal(fh, np.bincount(fb, minlength=FREQ_BINS))
    np.testing.assert_array_equal(ch, np.bincount(context, minlength=3))
    db = np.clip(np.round(df / DF_STEP_HZ).astype(np.int64) + DF_BINS // 2, 0, DF_BINS - 1)
    np.testing.assert_array_equal(dh, np.bincount(db, minlength=DF_BINS))
    for q in (0.25, 0.5, 0.75):
        assert _hist_quantile(fh, q) == np.searchsorted(np.cumsum(fh), q * fh.sum(), side="left")
    assert np.isnan(_hist_quantile(np.zeros(5, np.int64), 0.5))
