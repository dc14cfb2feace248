"""The batch's quality record (tremorscope.cohort.quality): non-wear, clipping, measured rate,
the same however the recording is cut into blocks."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_bridge.samples import SampleBlock
from tremorscope.cohort.quality import (
    CLIP_FRACTION_OF_RANGE,
    NONWEAR_SD_G,
    NONWEAR_WINDOW_MIN,
    QualityAccumulator,
)

RATE_HZ = 50.0


def recording(minutes_still: int, minutes_worn: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A device lying still (noise far below the non-wear limit), then worn (moving)."""
    rng = np.random.default_rng(seed)
    n_still, n_worn = int(minutes_still * 60 * RATE_HZ), int(minutes_worn * 60 * RATE_HZ)
    still = np.array([0.0, 0.0, 1.0]) + rng.normal(0, NONWEAR_SD_G / 10, (n_still, 3))
    worn = np.array([0.0, 0.0, 1.0]) + rng.normal(0, 10 * NONWEAR_SD_G, (n_worn, 3))
    acc = np.vstack([still, worn])
    t = np.arange(acc.shape[0]) / RATE_HZ + rng.uniform(-0.002, 0.002, acc.shape[0])
    return t, acc


def summarise(t: np.ndarray, acc: np.ndarray, block: int, range_g: float | None = 8.0) -> dict:
    q = QualityAccumulator(range_g=range_g)
    for a in range(0, t.size, block):
        q.update(SampleBlock(t[a : a + block], acc[a : a + block]))
    return q.summary(RATE_HZ)


def test_still_hour_is_nonwear_and_moving_hour_is_wear():
    t, acc = recording(minutes_still=NONWEAR_WINDOW_MIN + 30, minutes_worn=90)
    s = summarise(t, acc, block=10_000)
    assert s["nonwear_s"] == pytest.approx((NONWEAR_WINDOW_MIN + 30) * 60, abs=61)
    assert s["wear_s"] == pytest.approx(90 * 60, abs=61)
    assert s["detected_rate_hz"] == pytest.approx(RATE_HZ, rel=0.01)
    assert s["samples"] == t.size


def test_shorter_than_the_window_still_is_not_nonwear():
    t, acc = recording(minutes_still=NONWEAR_WINDOW_MIN // 2, minutes_worn=60)
    assert summarise(t, acc, block=7_777)["nonwear_s"] == 0.0  # a nap-length stillness stays worn


def test_same_summary_for_any_block_size():
    t, acc = recording(minutes_still=70, minutes_worn=20, seed=3)
    acc[1000:1010, 0] = 8.0  # clipped at full scale
    whole = summarise(t, acc, block=t.size)
    for block in (1, 997, 3001, 60_000):
        if block == 1:
            t1, a1 = t[:5000], acc[:5000]  # sample by sample on a shorter stretch
            assert summarise(t1, a1, 1) == pytest.approx(summarise(t1, a1, t1.size))
            continue
        assert summarise(t, acc, block) == pytest.approx(whole)
    assert whole["clipped_frac"] == pytest.approx(10 / t.size)


def test_clipping_needs_a_known_range():
    t, acc = recording(minutes_still=0, minutes_worn=5)
    acc[:100, 2] = CLIP_FRACTION_OF_RANGE * 4.0
    assert summarise(t, acc, 1000, range_g=4.0)["clipped_frac"] == pytest.approx(100 / t.size)
    assert summarise(t, acc, 1000, range_g=None)["clipped_frac"] is None
