"""Tremor detection accuracy against the simulator's ground truth (fixed seeds).

Per-second scoring: a second counts as tremor in the truth when a ground-truth tremor episode
of at least 10 mg covers more than half of it, and as detected when a detected tremor
episode does. Seconds inside or next to a simulated data gap, and seconds of sub-10 mg
tremor, are left out of both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dsp
from firmware_bridge.simulator import simulate

MIN_AMPLITUDE_G = 0.010
SEEDS = (11, 12)
REGULAR = (
    "rest_tremor",
    "postural_tremor",
    "subtle_tremor",
    "strong_tremor",
    "orthostatic",
    "gaps",
    "daily_mix",
)


def run(scenario: str, seed: int, gyro: bool, rate_hz: float = 100.0):
    sim = simulate(scenario, seed=seed, gyro=gyro, sample_rate_hz=rate_hz)
    eps = dsp.detect(
        sim.frame, sample_rate_hz=float(sim.meta["sample_rate_hz"]), placement=sim.meta["placement"]
    )
    return sim, eps[eps.kind == "tremor"]


#: Without a gyroscope, vehicle vibration and toothbrushing are known limits: they are scored
#: in test_not_tremor with their own stated expectations, and left out of the acc-only totals.
ACC_ONLY_LIMITS = ("vehicle", "toothbrushing")


def per_second(sim, eps: pd.DataFrame, leave_out: tuple[str, ...] = ()) -> np.ndarray:
    """Counts (tp, fn, fp, tn)."""
    duration_s = float(sim.frame.t.iloc[-1])
    sec = np.arange(int(duration_s))

    def covers(a: float, b: float) -> np.ndarray:
        return (np.minimum(b, sec + 1) - np.maximum(a, sec)) > 0.5

    truth = np.zeros(sec.size, bool)
    skip = np.zeros(sec.size, bool)
    for r in sim.events.itertuples():
        a, b = float(r.onset), float(r.onset) + float(r.duration)
        if r.trial_type == "tremor":
            if float(r.amplitude_g) >= MIN_AMPLITUDE_G:
                truth |= covers(a, b)
            else:
                skip |= covers(a - 1, b + 1)
        elif r.trial_type == "gap" or r.trial_type in leave_out:
            skip |= covers(a - 1, b + 1)
    det = np.zeros(sec.size, bool)
    for r in eps.itertuples():
        det |= covers(float(r.start_s), float(r.end_s))
    keep = ~skip
    return np.array(
        [
            (truth & det & keep).sum(),
            (truth & ~det & keep).sum(),
            (~truth & det & keep).sum(),
            (~truth & ~det & keep).sum(),
        ]
    )


def matches(sim, eps: pd.DataFrame):
    """For each true tremor episode >= 10 mg: the detected episode overlapping it most, and
    when any overlapping detected episode was first reported."""
    out = []
    for r in sim.events[sim.events.trial_type == "tremor"].itertuples():
        if float(r.amplitude_g) < MIN_AMPLITUDE_G:
            continue
        a, b = float(r.onset), float(r.onset) + float(r.duration)
        overlap = (np.minimum(eps.end_s, b) - np.maximum(eps.start_s, a)).clip(lower=0)
        if len(eps) and overlap.max() > 0:
            out.append((r, eps.loc[overlap.idxmax()], float(eps.detected_at_s[overlap > 0].min())))
        else:
            out.append((r, None, None))
    return out


@pytest.fixture(scope="module")
def regular_runs():
    return {
        (sc, seed, gyro): run(sc, seed, gyro) for sc in REGULAR for seed in SEEDS for gyro in (True, False)
    }


@pytest.mark.parametrize("gyro", [True, False], ids=["acc+gyro", "acc-only"])
def test_sensitivity_and_specificity(regular_runs, gyro):
    leave_out = () if gyro else ACC_ONLY_LIMITS
    counts = sum(
        per_second(sim, eps, leave_out) for (sc, seed, g), (sim, eps) in regular_runs.items() if g == gyro
    )
    tp, fn, fp, tn = counts
    assert tp + fn > 1000 and tn + fp > 1000  # enough of both to mean something
    assert tp / (tp + fn) >= 0.95, counts
    assert tn / (tn + fp) >= 0.97, counts


@pytest.mark.parametrize("gyro", [True, False], ids=["acc+gyro", "acc-only"])
def test_dominant_frequency_within_half_hertz(regular_runs, gyro):
    """Within 0.5 Hz of the simulated frequency. Irregular tremor (cycle-to-cycle period jitter
    of 10 % or more) wanders by more than that within an episode: within 1 Hz of its mean."""
    errors = []
    for (sc, seed, g), (sim, eps) in regular_runs.items():
        if g != gyro:
            continue
        for truth, det, _ in matches(sim, eps):
            if det is None:
                continue
            err = abs(det.dominant_hz - float(truth.frequency_hz))
            allowed = 0.5 if float(truth.regularity) < 0.1 else 1.0
            errors.append((err - allowed, err, sc, seed, truth.onset))
    assert len(errors) > 50
    worst = max(errors)
    assert worst[0] <= 0, worst


def test_most_true_episodes_are_found_and_reported_within_three_seconds(regular_runs):
    found = late = total = 0
    for sim, eps in regular_runs.values():
        for truth, det, first_report_s in matches(sim, eps):
            total += 1
            if det is None:
                continue
            found += 1
            # the start event comes within 3 s of the onset (short or irregular bouts may not)
            late += first_report_s - float(truth.onset) > 3.0
    assert found / total >= 0.95, (found, total)
    assert late / found <= 0.05, (late, found)


def test_detection_latency_on_clear_tremor():
    sim, eps = run("rest_tremor", 21, True)
    for truth, det, first_report_s in matches(sim, eps):
        assert det is not None
        assert first_report_s - float(truth.onset) <= 3.0
        assert abs(det.start_s - float(truth.onset)) <= 1.0
        assert abs(det.end_s - (float(truth.onset) + float(truth.duration))) <= 1.5


def test_irregular_dystonic_tremor():
    """Dystonic tremor is irregular and jerky: still found, and reported as less stable."""
    tp = fn = 0
    tsi_dystonic, tsi_regular = [], []
    for seed in SEEDS:
        sim, eps = run("dystonic_tremor", seed, True)
        c = per_second(sim, eps)
        tp, fn = tp + c[0], fn + c[1]
        assert c[3] / (c[3] + c[2]) >= 0.97
        tsi_dystonic += [d.stability for _, d, _ in matches(sim, eps) if d is not None]
        sim, eps = run("rest_tremor", seed, True)
        tsi_regular += [d.stability for _, d, _ in matches(sim, eps) if d is not None]
    assert tp / (tp + fn) >= 0.95
    # tremor stability index: irregular tremor varies more from cycle to cycle
    assert np.median(tsi_dystonic) > 2 * np.median(tsi_regular)


def test_amplitude_and_severity_follow_the_truth(regular_runs):
    ratios = []
    for (sc, _seed, _gyro), (sim, eps) in regular_runs.items():
        if sc in ("daily_mix", "orthostatic"):
            continue
        for truth, det, _ in matches(sim, eps):
            if det is not None:
                # reported RMS x sqrt(2) against the simulated peak amplitude
                ratios.append(det.amplitude_g * np.sqrt(2) / float(truth.amplitude_g))
    assert 0.7 <= np.median(ratios) <= 1.3, np.median(ratios)


@pytest.mark.parametrize(
    "scenario", ["walking", "gestures", "typing", "vehicle", "toothbrushing", "physiological"]
)
@pytest.mark.parametrize("gyro", [True, False], ids=["acc+gyro", "acc-only"])
def test_not_tremor(scenario, gyro):
    """Voluntary movement, typing, vehicle vibration and physiological tremor are not tremor."""
    fp = tn = 0
    for seed in SEEDS:
        sim, eps = run(scenario, seed, gyro)
        c = per_second(sim, eps)
        fp, tn = fp + c[2], tn + c[3]
    spec = tn / (tn + fp)
    if not gyro and scenario == "toothbrushing":
        # Without a gyroscope, toothbrushing with the forearm only slightly raised looks like a
        # strong 3-5 Hz tremor; the hand-to-face rule and the narrow-band rule for oscillations
        # of voluntary size catch most of it (measured 0.986).
        assert spec >= 0.93, spec
    elif not gyro and scenario == "vehicle":
        # Known limit: without a gyroscope, road vibration is told apart by its spread
        # spectrum only (measured 0.966).
        assert spec >= 0.9, spec
    else:
        assert spec >= 0.97, spec


@pytest.mark.parametrize("rate_hz,gyro", [(50.0, True), (200.0, False), (25.0, False)])
def test_other_sample_rates(rate_hz, gyro):
    counts = sum(per_second(*run(sc, 13, gyro, rate_hz)) for sc in ("rest_tremor", "postural_tremor"))
    tp, fn, fp, tn = counts
    assert tp / (tp + fn) >= 0.95 and tn / (tn + fp) >= 0.97, counts
