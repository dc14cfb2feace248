"""Tremor detection on the randomised simulator family (issue 11): held-out seeds only.

Each seed is a new person and sensor (lever arm, watch mounting, sample rate, noise, jitter).
The expectations are the issue's: rhythmic voluntary movement called tremor for at most 0.30 of
its seconds, dominant frequency within 0.5 Hz for at least 0.97 of the episodes, the start
event's frequency within 0.5 Hz of the episode's final one (regular tremor), and no loss of
sensitivity on subtle (1.5-4 deg/s) tremor; and severe tremor (centimetres, carried by the elbow
or shoulder like a voluntary stroke) is found, with or without a gyroscope. The thresholds sit a
margin below the figures measured on these seeds (README, "Beyond fixed cases"). Nothing was
tuned on these seeds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import dsp
from dsp.events import STARTED
from dsp.rhythm import SUSTAINED_RHYTHM_S, sustained
from dsp.tremor_episodes import TrackerState
from dsp.windows import SUBHARMONIC_MIN_POWER_RATIO_GYRO, _concentration
from firmware_bridge.simulation.family import (
    HELD_OUT_SEEDS,
    TUNING_SEEDS,
    VOLUNTARY_KINDS,
    draw_person,
    simulate_family,
)
from firmware_bridge.simulation.scoring import ACC_ONLY_MIN_AMPLITUDE_G, Score, score

SEEDS = HELD_OUT_SEEDS  # all of them: one person more or less moves a fraction by 0.05


def run(scenario: str, seed: int, gyro: bool) -> Score:
    rec = simulate_family(scenario, seed, gyro=gyro)
    f = rec.frame
    det = dsp.StreamingDetector(rec.sample_rate_hz, placement="wrist")
    g = f[["gyro_x", "gyro_y", "gyro_z"]].to_numpy() if gyro else None
    events = det.push(f.t.to_numpy(), f[["acc_x", "acc_y", "acc_z"]].to_numpy(), g) + det.flush()
    start_hz = {e.episode.episode_id: e.episode.dominant_hz for e in events if e.type == STARTED}
    return score(
        rec.events,
        float(f.t.iloc[-1]),
        det.episodes(),
        start_hz,
        min_amplitude_g=0.0 if gyro else ACC_ONLY_MIN_AMPLITUDE_G,
        activities=VOLUNTARY_KINDS,
    )


def total(scenario: str, gyro: bool) -> Score:
    s = Score()
    for seed in SEEDS:
        s += run(scenario, seed, gyro)
    return s


def test_seed_sets_are_disjoint():
    assert not set(TUNING_SEEDS) & set(HELD_OUT_SEEDS)


#: (activity, gyro) -> largest fraction of its seconds called tremor: measured on these seeds
#: 0.035 / 0.096 for toothbrushing, at most 0.026 for the others (the issue's target is 0.30).
CALLED_MAX = {("toothbrushing", True): 0.10, ("toothbrushing", False): 0.15}
CALLED_OTHER_MAX = 0.08
#: Measured 0.839 / 0.835 (per-second recall of severe tremor, acc+gyro / acc only).
SEVERE_RECALL = {True: 0.78, False: 0.78}
SEVERE_FOUND = 0.8  # share of true severe episodes found at all (measured 0.875 with a gyroscope)
JERKY_ACC_RECALL = 0.70  # measured 0.761 (0.51 before the periodicity test)
#: Measured 0.689 / 0.711 (dystonic start event within 0.5 Hz of the final frequency).
DYSTONIC_START = {True: 0.62, False: 0.64}


@pytest.mark.parametrize("gyro", [True, False], ids=["acc+gyro", "acc-only"])
@pytest.mark.parametrize("activity", VOLUNTARY_KINDS)
def test_rhythmic_voluntary_movement_is_not_tremor(activity, gyro):
    s = total(activity, gyro)
    a, n = s.called[activity]
    assert n > 300  # enough seconds of the activity to mean something
    assert a / n <= CALLED_MAX.get((activity, gyro), CALLED_OTHER_MAX), (a, n)


@pytest.mark.parametrize("gyro", [True, False], ids=["acc+gyro", "acc-only"])
def test_severe_tremor_is_not_taken_for_voluntary_movement(gyro):
    """Parkinsonian rest tremor at 2-5 cm and essential tremor at 1-3 cm, carried by the elbow or
    shoulder: as large as a voluntary stroke, but sustained at one frequency."""
    s = total("severe_tremor", gyro)
    assert s.episodes >= 30 and s.tp + s.fn > 1000
    assert s.recall >= SEVERE_RECALL[gyro], (s.tp, s.fn)
    assert s.precision >= 0.95, (s.tp, s.fp)
    assert s.found / s.episodes >= SEVERE_FOUND, (s.found, s.episodes)
    assert s.freq_ok / s.found >= 0.97, (s.freq_ok, s.found)
    assert float(np.median(s.latencies)) <= 6.0, s.latencies


def test_jerky_tremor_without_gyroscope():
    """Strong harmonics (the acceleration weights the 2nd 4x) add zero crossings; the spectrum's
    fundamental-and-harmonics comb still shows the rhythm."""
    s = total("jerky_tremor", False)
    assert s.tp + s.fn > 1000
    assert s.recall >= JERKY_ACC_RECALL, (s.tp, s.fn)
    assert s.precision >= 0.97, (s.tp, s.fp)


@pytest.mark.parametrize("gyro", [True, False], ids=["acc+gyro", "acc-only"])
def test_irregular_tremor_start_frequency(gyro):
    """Dystonic tremor wanders by ~0.5 Hz within seconds: the start event's estimate (up to 4 s
    of candidate windows) is within 0.5 Hz of the episode's final one this often."""
    s = total("dystonic_tremor", gyro)
    assert s.found >= 30
    assert s.start_ok / s.found >= DYSTONIC_START[gyro], (s.start_ok, s.found)


def test_sustained_rhythm_kernel_is_split_invariant():
    """A run of narrow windows at one frequency becomes sustained after SUSTAINED_RHYTHM_S; a
    jump in frequency or a broad window starts it again; pushes split anywhere agree."""
    bin_s = 0.25
    need = int(round(SUSTAINED_RHYTHM_S / bin_s))
    rng = np.random.default_rng(1)
    narrow = np.ones(80, bool)
    narrow[30] = False
    freq = 5.0 + rng.normal(0, 0.05, 80)
    freq[50:] += 1.0  # another rhythm
    whole, since = sustained(TrackerState(), narrow, freq, bin_s)
    assert not whole[: need - 1].any() and whole[need - 1 : 30].all()
    assert not whole[30 : 31 + need - 1].any() and whole[31 + need - 1 : 50].all()
    assert not whole[50 : 50 + need - 1].any() and whole[50 + need - 1 :].all()
    assert since[29] == pytest.approx(29 * bin_s)
    st = TrackerState()
    parts = [sustained(st, narrow[a:b], freq[a:b], bin_s)[0] for a, b in ((0, 7), (7, 45), (45, 80))]
    assert np.array_equal(np.concatenate(parts), whole)


@pytest.mark.parametrize("gyro", [True, False], ids=["acc+gyro", "acc-only"])
def test_frequency_of_jerky_and_regular_tremor(gyro):
    s = total("jerky_tremor", gyro)
    s += total("rest_tremor", gyro)
    assert s.found >= 20
    assert s.freq_ok / s.found >= 0.97, (s.freq_ok, s.found)
    assert s.found_regular >= 10
    assert s.start_ok_regular / s.found_regular >= 0.9, (s.start_ok_regular, s.found_regular)


def test_subtle_tremor_sensitivity_kept():
    """1.5-4 deg/s RMS angular rate: the gyroscope must still see it."""
    s = total("subtle_tremor", True)
    assert s.tp + s.fn > 200
    assert s.recall >= 0.95, (s.tp, s.fn)
    assert s.specificity >= 0.95


def _gyro_window(wave, fs: float = 100.0, seconds: float = 2.0, noise: float = 0.0, seed: int = 0):
    """(1, 3, n) band signal of one 2 s window in the layout ``_concentration`` takes (bins)."""
    t = np.arange(int(seconds * fs)) / fs
    rng = np.random.default_rng(seed)
    y = np.stack([wave(t), 0.3 * wave(t), np.zeros_like(t)]) + noise * rng.standard_normal((3, t.size))
    bin_n = 25
    return y.reshape(3, -1, bin_n).transpose(1, 0, 2).astype(np.float32), bin_n


def _peak(y: np.ndarray, fs: float = 100.0) -> float:
    w = y.shape[0]
    _, _, hz = _concentration(y, w, np.array([True]), fs, 3.0, 18.0, SUBHARMONIC_MIN_POWER_RATIO_GYRO)
    return float(hz[0])


@pytest.mark.parametrize("f0", [4.13, 5.37, 6.81, 9.55])
def test_spectral_frequency_is_sub_bin(f0):
    """The spectrum's bins are 0.2 Hz apart; the interpolated peak is far closer than that."""
    y, _ = _gyro_window(lambda t: np.sin(2 * math.pi * f0 * t + 0.4), noise=0.05)
    assert abs(_peak(y) - f0) <= 0.05


def test_harmonic_stronger_than_fundamental_gives_fundamental():
    """A jerky waveform whose second harmonic outweighs the fundamental in angular rate."""
    f0 = 4.6
    y, _ = _gyro_window(
        lambda t: np.sin(2 * math.pi * f0 * t) + 1.3 * np.sin(4 * math.pi * f0 * t + 1.0), noise=0.05
    )
    assert abs(_peak(y) - f0) <= 0.1


def test_amplitude_modulated_tremor_frequency():
    f0 = 5.9
    y, _ = _gyro_window(lambda t: (1 + 0.8 * np.sin(2 * math.pi * 0.7 * t)) * np.sin(2 * math.pi * f0 * t))
    assert abs(_peak(y) - f0) <= 0.1


def test_no_subharmonic_from_noise_slope():
    """Broadband power rising toward the band edge is not a fundamental at half the peak."""
    f0 = 6.2
    rng = np.random.default_rng(3)
    slope = np.cumsum(rng.standard_normal(200)) * 0.15  # 1/f^2-like movement power
    y, _ = _gyro_window(lambda t: np.sin(2 * math.pi * f0 * t) + slope - slope.mean())
    assert abs(_peak(y) - f0) <= 0.2


def test_family_draws_differ_and_repeat():
    a, b = draw_person(HELD_OUT_SEEDS[0]), draw_person(HELD_OUT_SEEDS[1])
    assert a.body.lever_m != b.body.lever_m or a.sample_rate_hz != b.sample_rate_hz
    assert np.allclose(a.mounting @ a.mounting.T, np.eye(3))  # a rotation
    r1 = simulate_family("toothbrushing", HELD_OUT_SEEDS[0], duration_s=30)
    r2 = simulate_family("toothbrushing", HELD_OUT_SEEDS[0], duration_s=30)
    assert r1.frame.equals(r2.frame)
    rest = r1.frame[r1.frame.t < 5]  # the first seconds are rest: gravity alone, about 1 g
    mag = np.linalg.norm(rest[["acc_x", "acc_y", "acc_z"]].to_numpy(), axis=1)
    assert abs(np.median(mag) - 1.0) < 0.05


@pytest.mark.parametrize("scenario", ["mixed", "severe_tremor"])
def test_chunk_invariance_on_a_family_recording(scenario):
    rec = simulate_family(scenario, HELD_OUT_SEEDS[2], duration_s=120)
    f = rec.frame
    t = f.t.to_numpy()
    acc = f[["acc_x", "acc_y", "acc_z"]].to_numpy()
    gyro = f[["gyro_x", "gyro_y", "gyro_z"]].to_numpy()
    batch = dsp.StreamingDetector(rec.sample_rate_hz)
    batch.push(t, acc, gyro)
    batch.flush()
    stream = dsp.StreamingDetector(rec.sample_rate_hz)
    rng = np.random.default_rng(0)
    i = 0
    while i < t.size:
        j = min(t.size, i + int(rng.integers(1, 400)))
        stream.push(t[i:j], acc[i:j], gyro[i:j])
        i = j
    stream.flush()
    assert batch.episodes().equals(stream.episodes())
