"""The spasm's onset speed from bin-long windows slid in sub-bin steps (dsp.pull_rate): a fast
pull reads fast wherever the bin edges fall, a slow reach reads slow, and the sliding means are
the plain moving averages they claim to be."""

from __future__ import annotations

import numpy as np
import pytest

from dsp.pull_rate import gyro_pull_dps, sliding_means, tilt_pull_dps

FS_HZ = 100.0
PER_BIN = 5  # 0.25 s bins of five 0.05 s sub-bins, as the detector has at 100 Hz
BIN_S = 0.25
PULL_DEG = 40.0


def min_jerk(t: np.ndarray, t0: float, dur_s: float) -> np.ndarray:
    """Fraction of a minimum-jerk move done at ``t`` (0 before ``t0``, 1 after ``t0 + dur_s``)."""
    x = np.clip((t - t0) / dur_s, 0.0, 1.0)
    return 10 * x**3 - 15 * x**4 + 6 * x**5


def sub_means(x: np.ndarray) -> np.ndarray:
    """(channels, samples) -> (channels, sub-bins) means of 5 samples (0.05 s)."""
    ch, n = x.shape
    return x[:, : n - n % 5].reshape(ch, -1, 5).mean(axis=2)


def gyro_rate(t0: float, dur_s: float) -> np.ndarray:
    """A rotation of PULL_DEG about one axis as a gyroscope sees it (deg/s; 3 x samples)."""
    t = np.arange(int(4 * FS_HZ)) / FS_HZ
    angle = PULL_DEG * min_jerk(t, t0, dur_s)
    w = np.gradient(angle, 1 / FS_HZ)
    return np.vstack((w, np.zeros_like(w), np.zeros_like(w)))


def test_sliding_means_are_moving_averages_with_the_tail_in_front():
    rng = np.random.default_rng(3)
    subs = rng.normal(size=(2, 4 * PER_BIN))
    tail = rng.normal(size=(2, 9))
    got = sliding_means(subs, PER_BIN, tail)
    allv = np.concatenate((tail[:, -(PER_BIN - 1) :], subs), axis=1)
    for b in range(4):
        for j in range(PER_BIN):
            e = b * PER_BIN + j + PER_BIN - 1  # index in allv of the window's last sub-bin
            np.testing.assert_allclose(got[b, j], allv[:, e - PER_BIN + 1 : e + 1].mean(axis=1))
    # an unknown tail gives unknown windows, not wrong ones
    nan_tail = np.full((2, 9), np.nan)
    first = sliding_means(subs, PER_BIN, nan_tail)[0]
    assert np.isnan(first[:-1]).all() and np.isfinite(first[-1]).all()


@pytest.mark.parametrize("offset_s", np.arange(0.0, 0.25, 0.01))
def test_a_fast_pull_reads_fast_wherever_the_bin_edges_fall(offset_s):
    subs = sub_means(gyro_rate(1.0 + offset_s, 0.3))
    fast = gyro_pull_dps(sliding_means(subs, PER_BIN, np.full((3, 4), np.nan)), None)
    # a 0.3 s minimum-jerk pull turns over 90 % of its angle within its fastest 0.25 s
    assert np.nanmax(fast) >= 0.9 * PULL_DEG / BIN_S
    # ...which plain bin means miss when the pull straddles two bins
    plain = np.abs(subs[0].reshape(-1, PER_BIN).mean(axis=1))
    if 0.07 <= offset_s <= 0.13:  # the pull centred within 0.03 s of a bin edge
        assert plain.max() < 0.75 * PULL_DEG / BIN_S


def test_a_slow_reach_reads_slow():
    subs = sub_means(gyro_rate(1.0, 1.0))
    fast = gyro_pull_dps(sliding_means(subs, PER_BIN, np.full((3, 4), np.nan)), None)
    assert np.nanmax(fast) <= 0.5 * PULL_DEG / BIN_S  # a 1 s reach: 45 % in the fastest 0.25 s


def test_the_gyroscope_offset_is_removed():
    subs = sub_means(gyro_rate(1.0, 0.3)) + np.array([[3.0], [0.0], [0.0]])
    slide = sliding_means(subs, PER_BIN, np.full((3, 4), np.nan))
    bias = np.tile([3.0, 0.0, 0.0], (slide.shape[0], 1))
    assert np.nanmin(gyro_pull_dps(slide, bias)) < 0.5  # at rest, the offset alone is not a turn


@pytest.mark.parametrize("offset_s", [0.0, 0.07, 0.13, 0.2])
def test_tilt_rate_without_a_gyroscope(offset_s):
    t = np.arange(int(4 * FS_HZ)) / FS_HZ
    a = np.radians(PULL_DEG * min_jerk(t, 1.0 + offset_s, 0.3))
    g = np.vstack((np.sin(a), np.zeros_like(a), np.cos(a)))  # gravity tilting by PULL_DEG
    slide = sliding_means(sub_means(g), PER_BIN, np.full((3, 4), np.nan))
    rate, last = tilt_pull_dps(slide, None, BIN_S)
    # consecutive windows' directions: 0.8 of the angle for a 0.3 s pull, at any alignment
    assert np.nanmax(rate) >= 0.75 * PULL_DEG / BIN_S
    assert np.nanmin(rate) < 1.0  # still before and after
    # chunked: the second half, given the first half's last windows, reads the same
    k = slide.shape[0] // 2
    r1, prev = tilt_pull_dps(slide[:k], None, BIN_S)
    r2, _ = tilt_pull_dps(slide[k:], prev, BIN_S)
    np.testing.assert_allclose(np.concatenate((r1, r2)), rate)
    assert last.shape == (PER_BIN, 3)
