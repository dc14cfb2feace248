"""The simulator: physics (accelerometer and gyroscope from one motion), sensor realism, ground truth.

Everything runs the production simulator (``firmware_bridge.simulator`` and the
``firmware_bridge.simulation`` modules it is built from) on short recordings.
"""

from __future__ import annotations

import filecmp
import importlib.util
import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.signal import butter, sosfiltfilt
from scipy.spatial.transform import Rotation

from firmware_bridge.io.recording import read_recording
from firmware_bridge.simulation.kinematics import (
    STANDARD_GRAVITY_MPS2,
    X_AXIS,
    Y_AXIS,
    Z_AXIS,
    Joint,
    imu_readings,
    pose,
)
from firmware_bridge.simulation.signals import Bumps, Sines, Step
from firmware_bridge.simulator import (
    CONTRACTION_COLUMNS,
    CONTRACTION_SCENARIOS,
    EVENT_COLUMNS,
    SCENARIOS,
    events_path_for,
    iter_simulation,
    read_events,
    simulate,
    simulate_to_file,
    write_simulation,
)

ACC = ["acc_x", "acc_y", "acc_z"]
GYRO = ["gyro_x", "gyro_y", "gyro_z"]
RECORDINGS = Path(__file__).resolve().parent.parent / "recordings"
NEGATIVE = ["physiological", "walking", "gestures", "typing", "vehicle", "toothbrushing"]
NECK_NEGATIVE = ["neck_sway", "neck_turns", "neck_walking"]


def _band(x: np.ndarray, lo: float, hi: float, fs: float) -> np.ndarray:
    sos = butter(4, [lo, hi], btype="band", fs=fs, output="sos")
    return sosfiltfilt(sos, x, axis=0)


def _inside(t: np.ndarray, onset: float, duration: float, margin: float = 0.0) -> np.ndarray:
    return (t >= onset + margin) & (t < onset + duration - margin)


def _tremor(sim) -> pd.DataFrame:
    return sim.events[sim.events.trial_type == "tremor"]


# ---------------------------------------------------------------------- API, determinism


def test_same_seed_same_recording_other_seed_differs():
    a = simulate("rest_tremor", duration_s=40, seed=7)
    b = simulate("rest_tremor", duration_s=40, seed=7)
    c = simulate("rest_tremor", duration_s=40, seed=8)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    pd.testing.assert_frame_equal(a.events, b.events)
    assert a.meta == b.meta
    assert not a.frame[ACC].equals(c.frame[ACC])
    assert a.meta["start_time"] != c.meta["start_time"]


def test_columns_units_and_metadata():
    sim = simulate("postural_tremor", duration_s=30, seed=2)
    assert list(sim.frame.columns) == ["t", *ACC, *GYRO]
    assert sim.frame["t"].iloc[0] == 0.0
    assert (sim.frame.dtypes == np.float64).all()
    m = sim.meta
    assert m["sample_rate_hz"] == "100" and m["placement"] == "wrist"
    assert m["device"] == "tremorscope simulator"
    assert m["units"] == "t=s acc=g gyro=deg/s"
    assert m["scenario"] == "postural_tremor" and m["seed"] == "2"
    start = datetime.fromisoformat(m["start_time"])
    assert start.tzinfo is not None and start.year == 2024
    assert list(sim.events.columns) == list(EVENT_COLUMNS)
    # Units: the accelerometer reads about 1 g of gravity; gyro in deg/s stays small at rest.
    rest = sim.events[sim.events.trial_type == "rest"].iloc[0]
    quiet = _inside(sim.frame.t.values, rest.onset, rest.duration, 2.0)
    norm = np.linalg.norm(sim.frame.loc[quiet, ACC].values, axis=1)
    assert abs(np.median(norm) - 1.0) < 0.05
    assert np.abs(sim.frame.loc[quiet, GYRO].values).max() < 10.0


def test_accelerometer_only_variant_is_the_same_motion_without_gyro_columns():
    both = simulate("rest_tremor", duration_s=30, seed=4)
    acc_only = simulate("rest_tremor", duration_s=30, seed=4, gyro=False)
    assert list(acc_only.frame.columns) == ["t", *ACC]
    assert acc_only.meta["units"] == "t=s acc=g"
    pd.testing.assert_frame_equal(acc_only.frame, both.frame[["t", *ACC]])
    pd.testing.assert_frame_equal(acc_only.events, both.events)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="unknown scenario 'nope'.*rest_tremor.*daily_mix"):
        simulate("nope")
    with pytest.raises(ValueError, match="unknown override.*wobble.*frequency_hz"):
        simulate("rest_tremor", duration_s=5, wobble=3)
    with pytest.raises(ValueError, match="25-1000 Hz"):
        simulate("rest_tremor", duration_s=5, sample_rate_hz=10)
    with pytest.raises(ValueError, match="at least 1 s"):
        simulate("rest_tremor", duration_s=0)
    with pytest.raises(ValueError, match="non-negative integer"):
        simulate("rest_tremor", duration_s=5, seed=-1)
    # 13-18 Hz orthostatic tremor cannot be carried by a 25 Hz stream.
    with pytest.raises(ValueError, match="sample rate of at least"):
        simulate("orthostatic", duration_s=120, sample_rate_hz=25)


def test_every_scenario_runs_with_ground_truth_and_negatives_have_no_tremor():
    for name in SCENARIOS:
        sim = simulate(name, duration_s=90, seed=3, sample_rate_hz=50)
        ev = sim.events
        assert len(sim.frame) > 0.9 * 90 * 50, name
        assert ev.onset.min() >= 0 and (ev.onset + ev.duration).max() <= 90.0 + 1e-6, name
        assert set(ev.trial_type) <= {
            "tremor", "physiological_tremor", "walking", "gesture", "typing", "vehicle",
            "toothbrushing", "rest", "posture", "gap",
            "contraction", "sway", "head_turn", "nod", "head_tilt",
        }, name  # fmt: skip
        if name in NEGATIVE:
            assert "tremor" not in set(ev.trial_type), name
        if name in NECK_NEGATIVE or name not in CONTRACTION_SCENARIOS:
            assert "contraction" not in set(ev.trial_type), name
        assert sim.meta["placement"] == ("neck" if name.startswith("neck") else "leg" if name == "orthostatic"
                                         else "wrist"), name  # fmt: skip
    for name, activity in [("walking", "walking"), ("gestures", "gesture"), ("typing", "typing"),
                           ("vehicle", "vehicle"), ("toothbrushing", "toothbrushing")]:  # fmt: skip
        assert activity in set(simulate(name, duration_s=120, seed=1).events.trial_type)


def test_iter_simulation_and_streamed_file_equal_the_in_memory_simulation(tmp_path):
    sim = simulate("daily_mix", duration_s=150, seed=5)
    stream = iter_simulation("daily_mix", duration_s=150, seed=5)
    blocks = list(stream)
    assert len(blocks) == 3  # 60 s blocks
    pd.testing.assert_frame_equal(pd.concat(blocks, ignore_index=True), sim.frame)
    pd.testing.assert_frame_equal(stream.events(), sim.events)
    assert stream.progress == 1.0

    seen: list[float] = []
    rec, events = simulate_to_file(tmp_path / "a.csv.gz", "daily_mix", 150, 5, progress=seen.append)
    rec2, events2 = write_simulation(sim, tmp_path / "b.csv.gz")
    assert events == tmp_path / "a.events.tsv" and events2 == tmp_path / "b.events.tsv"
    assert filecmp.cmp(rec, rec2, shallow=False) and filecmp.cmp(events, events2, shallow=False)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == 3


def test_written_files_read_back_with_the_recording_reader(tmp_path):
    sim = simulate("walking", duration_s=30, seed=2, gyro=False)
    rec, ev_path = write_simulation(sim, tmp_path / "walk.csv")
    assert ev_path == events_path_for(rec) == tmp_path / "walk.events.tsv"
    back = read_recording(rec)
    assert back.sample_rate_hz == 100 and not back.has_gyro and back.placement == "wrist"
    assert back.stats.skipped == 0 and len(back.frame) == len(sim.frame)
    np.testing.assert_allclose(back.frame[ACC].values, sim.frame[ACC].values, atol=1e-6)
    assert back.meta["scenario"] == "walking"
    text = ev_path.read_text()
    assert text.splitlines()[0].split("\t") == list(EVENT_COLUMNS) and "\tn/a" in text
    ev = read_events(ev_path)
    pd.testing.assert_frame_equal(ev[["onset", "duration"]], sim.events[["onset", "duration"]])
    assert list(ev.trial_type) == list(sim.events.trial_type)


# ---------------------------------------------------------------------- physics


def test_kinematics_match_finite_differences_of_the_same_motion():
    """Specific force and body rate from the chain equal d2p/dt2 and R^T dR/dt of its pose."""
    chain = (
        Joint("a", Z_AXIS, (0.1, 0.2, -0.5)),
        Joint("b", Y_AXIS),
        Joint("c", X_AXIS, (0.02, 0.01, 0.0)),
        Joint("d", None, (0.05, 0.0, 0.03)),
    )
    fs = 4000.0
    t = np.arange(0.0, 3.0, 1.0 / fs)
    comps = {
        "a": Sines(0.0, 3.0, [0.7, 1.3], [0.4, 0.1], [0.2, 1.0]),
        "b": Step(0.5, 1.5, 1.2),
        "c": Sines(0.0, 3.0, [5.0], [0.05], [0.3]),
        "d": Sines(0.0, 3.0, [9.0], [0.01], [0.0]),
    }
    angles = {k: c.eval(t) for k, c in comps.items()}
    axes = {"d": np.array([0.6, 0.8, 0.0])}
    bx = Bumps(np.array([1.0, 2.0]), np.array([20.0, -10.0]), 0.02).eval(t)
    base_p = np.column_stack([bx[0], np.zeros_like(t), np.zeros_like(t)])
    base_a = np.column_stack([bx[2], np.zeros_like(t), np.zeros_like(t)])
    acc, gyro = imu_readings(chain, angles, base_a, axes)
    rot, p = pose(chain, {k: v[0] for k, v in angles.items()}, base_p, axes)
    h = 1.0 / fs
    a_fd = (p[2:] - 2 * p[1:-1] + p[:-2]) / h**2
    expected = rot[1:-1].apply(a_fd + [0, 0, STANDARD_GRAVITY_MPS2], inverse=True)
    np.testing.assert_allclose(acc[1:-1], expected / STANDARD_GRAVITY_MPS2, atol=2e-4)
    rate = np.degrees((rot[:-2].inv() * rot[2:]).as_rotvec() / (2 * h))
    np.testing.assert_allclose(gyro[1:-1], rate, atol=0.02)
    assert np.abs(gyro).max() > 50 and np.abs(acc - acc.mean(0)).max() > 0.5  # not trivial


def test_static_postures_read_gravity_in_the_documented_axes():
    wrist = simulate("rest_tremor", duration_s=5, seed=0, ideal=True)  # palm down-ish on the lap
    up = wrist.frame[ACC].values.mean(0)
    assert abs(np.linalg.norm(up) - 1.0) < 0.01 and up[2] > 0.3  # back of the hand faces up
    walk = simulate("walking", duration_s=4, seed=0, ideal=True)  # arm hanging, fingers down
    assert walk.frame["acc_x"].mean() < -0.95
    leg = simulate("orthostatic", duration_s=8, seed=0, ideal=True)  # seated: thigh horizontal
    np.testing.assert_allclose(leg.frame[ACC].values.mean(0), [1.0, 0.0, 0.0], atol=0.03)


def test_gyro_integrates_to_the_orientation_change_the_accelerometer_sees():
    """Between two still moments, the integrated gyro rotates the first gravity reading into the second."""
    fs = 200.0
    sim = simulate("gestures", duration_s=120, seed=11, sample_rate_hz=fs, ideal=True)
    f = sim.frame
    acc, gyro = f[ACC].values, np.radians(f[GYRO].values)
    rests = sim.events[sim.events.trial_type == "rest"]
    checked = 0
    for (_, r0), (_, r1) in zip(rests.iloc[:-1].iterrows(), rests.iloc[1:].iterrows(), strict=True):
        i0 = int(round((r0.onset + r0.duration - 0.3) * fs))
        i1 = int(round((r1.onset + 0.3) * fs))
        if i1 >= len(f) or i1 - i0 < fs:
            continue
        # Midpoint-rule integration of the body rate (R_{k+1} = R_k exp(w dt)).
        mids = 0.5 * (gyro[i0:i1] + gyro[i0 + 1 : i1 + 1])
        rel = Rotation.identity()
        widest = 0.0
        for w in mids:
            rel = rel * Rotation.from_rotvec(w / fs)
            widest = max(widest, rel.magnitude())
        before, after = acc[i0] / np.linalg.norm(acc[i0]), acc[i1] / np.linalg.norm(acc[i1])
        predicted = rel.apply(before, inverse=True)
        angle = math.degrees(math.acos(np.clip(np.dot(predicted, after), -1, 1)))
        assert angle < 0.5, (r0.onset, angle)
        checked += math.degrees(widest) > 20.0
    assert checked >= 5  # real gestures were crossed


@pytest.mark.parametrize(
    ("scenario", "rate", "seed"),
    [("rest_tremor", 100.0, 2), ("postural_tremor", 50.0, 3), ("orthostatic", 100.0, 4),
     ("strong_tremor", 200.0, 5)],
)  # fmt: skip
def test_tremor_amplitude_frequency_and_gyro_match_ground_truth(scenario, rate, seed):
    """Acceleration amplitude ~= amplitude_g, gyro ~= 2 pi f angle, spectral peak at f."""
    sim = simulate(scenario, duration_s=150, seed=seed, sample_rate_hz=rate, ideal=True)
    f = sim.frame
    t = f.t.values
    episodes = _tremor(sim)
    assert len(episodes) >= 2
    for e in episodes.itertuples():
        inside = _inside(t, e.onset, e.duration, 1.5)
        acc_b = _band(f[ACC].values, 0.7 * e.frequency_hz, 1.3 * e.frequency_hz, rate)[inside]
        gyro_b = _band(f[GYRO].values, 0.7 * e.frequency_hz, 1.3 * e.frequency_hz, rate)[inside]
        # zero-to-peak of a sinusoidal vector oscillation = sqrt(2) x its RMS
        acc_amp = math.sqrt(2 * np.mean(np.sum(acc_b**2, axis=1)))
        gyro_amp = math.sqrt(2 * np.mean(np.sum(gyro_b**2, axis=1)))
        assert acc_amp == pytest.approx(e.amplitude_g, rel=0.15), e
        assert gyro_amp == pytest.approx(2 * math.pi * e.frequency_hz * e.angle_deg, rel=0.15), e
        x = f[ACC].values[inside] - f[ACC].values[inside].mean(0)
        power = (np.abs(np.fft.rfft(x, axis=0)) ** 2).sum(1)
        freqs = np.fft.rfftfreq(len(x), 1.0 / rate)
        sel = freqs > 2.5
        assert freqs[sel][power[sel].argmax()] == pytest.approx(e.frequency_hz, abs=0.3), e
        assert e.displacement_cm == pytest.approx(
            e.amplitude_g * STANDARD_GRAVITY_MPS2 / (2 * math.pi * e.frequency_hz) ** 2 * 100, rel=0.01
        )


def test_frequency_and_amplitude_overrides_fix_the_episodes():
    sim = simulate("rest_tremor", duration_s=90, seed=6, frequency_hz=5.0, amplitude_g=0.05, ideal=True)
    ep = _tremor(sim)
    assert len(ep) >= 1
    assert np.allclose(ep.amplitude_g, 0.05) and np.allclose(ep.frequency_hz, 5.0, atol=0.1)


def test_tremor_ramps_up_over_a_fraction_of_a_second():
    sim = simulate("rest_tremor", duration_s=60, seed=9, amplitude_g=0.2, ideal=True)
    e = _tremor(sim).iloc[0]
    t = sim.frame.t.values
    env = np.abs(_band(sim.frame[ACC].values, 3.0, 8.0, 100.0)).max(axis=1)
    before = env[(t > e.onset - 3.0) & (t < e.onset - 0.6)].max()
    just_after = env[(t > e.onset) & (t < e.onset + 0.15)].max()
    later = env[(t > e.onset + 1.0) & (t < e.onset + 3.0)].max()
    assert before < 0.1 * later  # quiet before the ramp
    assert 0.15 * later < just_after < 0.95 * later  # mid-ramp at the onset: neither 0 nor full


def test_dystonic_tremor_is_irregular_and_regular_tremor_is_not():
    def cycle_cv(scenario: str) -> tuple[float, float]:
        sim = simulate(scenario, duration_s=200, seed=12, ideal=True)
        t = sim.frame.t.values
        cvs, truth = [], []
        for e in _tremor(sim).itertuples():
            inside = _inside(t, e.onset, e.duration, 1.0)
            g = _band(sim.frame[GYRO].values, 2.0, 9.0, 100.0)[inside]
            u, s, vt = np.linalg.svd(g - g.mean(0), full_matrices=False)
            x = u[:, 0] * s[0]  # the oscillation along its main axis
            up = np.flatnonzero((x[:-1] < 0) & (x[1:] >= 0))
            periods = np.diff(t[inside][up])
            cvs.append(periods.std() / periods.mean())
            truth.append(e.regularity)
        return float(np.median(cvs)), float(np.median(truth))

    dyst, dyst_truth = cycle_cv("dystonic_tremor")
    reg, reg_truth = cycle_cv("postural_tremor")
    assert dyst_truth > 0.12 and reg_truth < 0.06
    assert dyst > 2.0 * reg and dyst > 0.1


# ---------------------------------------------------------------------- activities


def _band_rms(
    frame: pd.DataFrame, cols: list[str], mask: np.ndarray, lo: float, hi: float, fs: float
) -> float:
    x = _band(frame[cols].values, lo, hi, fs)[mask]
    return float(np.sqrt(np.mean(np.sum(x**2, axis=1))))


def test_vehicle_and_toothbrushing_are_translation_but_tremor_is_rotation():
    """Gyro-to-accelerometer ratio in 3-12 Hz: rotations (tremor) are high, translations low."""
    ratios = {}
    for scenario, kind in [("vehicle", "vehicle"), ("toothbrushing", "toothbrushing"),
                           ("rest_tremor", "tremor"), ("postural_tremor", "tremor")]:  # fmt: skip
        sim = simulate(scenario, duration_s=150, seed=1)
        t = sim.frame.t.values
        mask = np.zeros(t.size, dtype=bool)
        for e in sim.events[sim.events.trial_type == kind].itertuples():
            mask |= _inside(t, e.onset, e.duration, 2.0)
        acc = _band_rms(sim.frame, ACC, mask, 3.0, 12.0, 100.0)
        gyro = _band_rms(sim.frame, GYRO, mask, 3.0, 12.0, 100.0)
        assert acc > 0.005, scenario
        ratios[scenario] = gyro / acc
    assert ratios["vehicle"] < 10.0 and ratios["toothbrushing"] < 10.0  # deg/s per g
    assert ratios["rest_tremor"] > 50.0 and ratios["postural_tremor"] > 50.0


def test_walking_cadence_arm_swing_and_heel_strikes():
    sim = simulate("walking", duration_s=120, seed=3)
    t = sim.frame.t.values
    for e in sim.events[sim.events.trial_type == "walking"].itertuples():
        assert 1.6 <= e.frequency_hz <= 2.1
        inside = _inside(t, e.onset, e.duration, 3.0)
        if inside.sum() < 1500:
            continue
        norm = np.linalg.norm(sim.frame[ACC].values[inside], axis=1)
        x = norm - norm.mean()
        power = np.abs(np.fft.rfft(x)) ** 2
        freqs = np.fft.rfftfreq(x.size, 0.01)
        sel = (freqs > 0.5) & (freqs < 5)
        ratio = freqs[sel][power[sel].argmax()] / e.frequency_hz  # a harmonic of the step rate
        assert min(abs(ratio - k) for k in (0.5, 1.0, 2.0, 3.0)) < 0.1, ratio
        swing = np.abs(sim.frame[GYRO].values[inside]).max()
        assert 60 < swing < 400  # arm swing of +/-20-30 deg at half the step rate
        assert norm.max() > 1.5  # heel strikes and bounce


def test_typing_has_keystroke_transients():
    sim = simulate("typing", duration_s=90, seed=2)
    t = sim.frame.t.values
    e = sim.events[sim.events.trial_type == "typing"].iloc[0]
    inside = _inside(t, e.onset, e.duration, 1.0)
    hp = _band(sim.frame[ACC].values, 8.0, 40.0, 100.0)[inside]
    peaks = np.linalg.norm(hp, axis=1)
    spikes = np.flatnonzero((peaks[1:-1] > 0.02) & (peaks[1:-1] >= peaks[:-2]) & (peaks[1:-1] > peaks[2:]))
    rate = len(spikes) / (inside.sum() / 100.0)
    assert 2.0 < rate < 12.0  # several transients per second (pauses between words lower the mean)


def test_physiological_tremor_is_small_and_8_to_12_hz():
    sim = simulate("physiological", duration_s=120, seed=4, ideal=True)
    assert "tremor" not in set(sim.events.trial_type)
    t = sim.frame.t.values
    phys = sim.events[sim.events.trial_type == "physiological_tremor"]
    assert len(phys) >= 2
    for e in phys.itertuples():
        assert 8.0 <= e.frequency_hz <= 12.5 and 0.001 <= e.amplitude_g <= 0.004
        inside = _inside(t, e.onset, e.duration, 2.0)
        amp = math.sqrt(2) * _band_rms(sim.frame, ACC, inside, 7.0, 14.0, 100.0)
        assert 0.4 * e.amplitude_g < amp < 2.0 * e.amplitude_g


# ---------------------------------------------------------------------- sensor realism


def test_timestamp_jitter_lost_packets_quantisation_and_noise():
    sim = simulate("rest_tremor", duration_s=300, seed=3)
    t = sim.frame.t.values
    dt = np.diff(t)
    assert (dt > 0).all()
    normal = dt[dt < 0.015]
    assert 0.0005 < normal.std() < 0.003  # about 1 ms of jitter
    lost = dt[dt > 0.04]
    assert 1 <= len(lost) <= 15 and lost.max() < 0.3  # a few 0.05-0.2 s lost-packet runs
    counts = sim.frame[ACC].values * 2048.0
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-6)  # int16 at +/-16 g
    gyro_counts = sim.frame[GYRO].values * 16.4
    np.testing.assert_allclose(gyro_counts, np.round(gyro_counts), atol=1e-6)
    # White noise on a still limb: the sample-to-sample difference is noise, not motion.
    quiet = _inside(t, 0.0, 4.0, 0.5)
    noise_g = np.diff(sim.frame.loc[quiet, "acc_z"].values).std() / math.sqrt(2)
    assert 0.0007 < noise_g < 0.004  # 150-400 ug/sqrt(Hz) over 50 Hz, plus quantisation

    ideal = simulate("rest_tremor", duration_s=60, seed=3, jitter_sd_s=0.0, drops_per_min=0.0)
    np.testing.assert_allclose(np.diff(ideal.frame.t.values), 0.01, atol=1e-9)


def test_gaps_scenario_removes_samples_and_records_gaps():
    sim = simulate("gaps", duration_s=240, seed=2)
    gaps = sim.events[sim.events.trial_type == "gap"]
    tremor = _tremor(sim)
    assert len(gaps) >= 3
    t = sim.frame.t.values
    for g in gaps.itertuples():
        assert 1.0 <= g.duration <= 5.0
        assert not ((t > g.onset + 0.01) & (t < g.onset + g.duration - 0.01)).any()
    within = [
        g for g in gaps.itertuples()
        if ((tremor.onset < g.onset) & (tremor.onset + tremor.duration > g.onset + g.duration)).any()
    ]  # fmt: skip
    assert within  # some gaps interrupt a tremor episode


def test_ground_truth_tremor_band_power_inside_episodes_far_exceeds_outside():
    for scenario, factor in [("rest_tremor", 20.0), ("subtle_tremor", 3.0)]:
        sim = simulate(scenario, duration_s=240, seed=8)
        t = sim.frame.t.values
        ep = _tremor(sim)
        assert len(ep) >= 2
        inside = np.zeros(t.size, dtype=bool)
        near = np.zeros(t.size, dtype=bool)
        for e in ep.itertuples():
            inside |= _inside(t, e.onset, e.duration, 1.0)
            near |= _inside(t, e.onset - 3.0, e.duration + 6.0)
        holds = sim.events[sim.events.trial_type.isin(["rest", "posture"])]
        outside = np.zeros(t.size, dtype=bool)
        for r in holds.itertuples():
            outside |= _inside(t, r.onset, r.duration, 3.0)  # still, away from transitions
        outside &= ~near
        assert outside.sum() > 1000
        band = _band(sim.frame[ACC].values, 3.5, 10.5, 100.0)
        p_in = np.mean(np.sum(band[inside] ** 2, axis=1))
        p_out = np.mean(np.sum(band[outside] ** 2, axis=1))
        assert p_in > factor * p_out, (scenario, p_in, p_out)


@pytest.mark.parametrize("rate", [25.0, 1000.0])
def test_extreme_sample_rates(rate):
    sim = simulate("rest_tremor", duration_s=20, seed=1, sample_rate_hz=rate)
    dt = np.diff(sim.frame.t.values)
    assert np.median(dt) == pytest.approx(1.0 / rate, rel=0.05) and (dt > 0).all()
    assert sim.meta["sample_rate_hz"] == f"{rate:g}"


# ---------------------------------------------------------------------- long recordings, fixtures


def test_daily_mix_first_five_minutes_show_every_activity_and_three_bands():
    sim = simulate("daily_mix", duration_s=300, seed=1)
    kinds = set(sim.events.trial_type)
    assert {"walking", "gesture", "typing", "posture", "rest", "tremor"} <= kinds
    bands = {int(f >= 5) + int(f >= 8) for f in _tremor(sim).frequency_hz}
    assert bands == {0, 1, 2}  # 3-5, 5-8 and 8-12 Hz


def test_long_generation_keeps_bounded_state():
    stream = iter_simulation("daily_mix", duration_s=3 * 3600, seed=2, sample_rate_hz=25, gyro=False)
    live = []
    for i, block in enumerate(stream):
        assert len(block) > 0
        live.append(stream.live_components)
        if i >= 90:  # 90 minutes are enough to cross many activities
            break
    # Components are retired as time passes (the count falls), not accumulated.
    assert sum(b < a for a, b in zip(live, live[1:], strict=False)) >= 5
    assert max(live) < 3000
    assert len(stream.events()) > 20


def test_committed_fixtures_regenerate_exactly():
    spec = importlib.util.spec_from_file_location("make_fixtures", RECORDINGS / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.check(RECORDINGS) == []
    demo = read_events(RECORDINGS / "demo_wrist.events.tsv")
    assert {"walking", "tremor"} <= set(demo.trial_type)
    for name in module.FIXTURES:
        assert (RECORDINGS / name).stat().st_size < 600_000


# ---------------------------------------------------------------------- phase 2: postures and spasms

# The documented sign conventions, written out independently of the simulator's own table:
# direction -> (sensor axis of the rotation, sign). A positive rotation follows the right-hand
# rule about the sensor axis (recordings/README.md, "Simulator: dystonic postures").
CONVENTIONS = {
    "anterocollis": (Y_AXIS, +1), "retrocollis": (Y_AXIS, -1),
    "laterocollis_left": (X_AXIS, -1), "laterocollis_right": (X_AXIS, +1),
    "torticollis_left": (Z_AXIS, +1), "torticollis_right": (Z_AXIS, -1),
    "flexion": (Y_AXIS, +1), "extension": (Y_AXIS, -1),
    "radial_deviation": (Z_AXIS, +1), "ulnar_deviation": (Z_AXIS, -1),
    "supination": (X_AXIS, +1), "pronation": (X_AXIS, -1),
}  # fmt: skip
NECK_DIRECTIONS = set(list(CONVENTIONS)[:6])
WRIST_DIRECTIONS = set(list(CONVENTIONS)[6:])


def _contractions(sim) -> pd.DataFrame:
    return sim.events[sim.events.trial_type == "contraction"]


def _rotation_between(sim, t0: float, t1: float) -> Rotation:
    """Sensor rotation from t0 to t1 integrated from the gyroscope (body rate, midpoint rule)."""
    t = sim.frame.t.values
    w = np.radians(sim.frame[GYRO].values)
    i0, i1 = int(np.searchsorted(t, t0)), int(np.searchsorted(t, t1))
    rel = Rotation.identity()
    for k in range(i0, i1):
        rel = rel * Rotation.from_rotvec(0.5 * (w[k] + w[k + 1]) * (t[k + 1] - t[k]))
    return rel


def _still_acc(sim, t0: float, t1: float) -> np.ndarray:
    t = sim.frame.t.values
    return np.median(sim.frame[ACC].values[(t >= t0) & (t < t1)], axis=0)


@pytest.mark.parametrize(("scenario", "names"), [("neck_postures", NECK_DIRECTIONS),
                                                 ("wrist_spasms", WRIST_DIRECTIONS)])  # fmt: skip
def test_every_direction_is_rotated_about_its_documented_axis_and_sign(scenario, names):
    """During the hold, gravity is the neutral reading turned by the documented rotation, and the
    gyroscope integrated over the ramp gives that rotation (sign and size)."""
    calm = {"sway_deg": 0.0} if scenario.startswith("neck") else {}
    sim = simulate(scenario, seed=2, ideal=True, **calm)
    episodes = _contractions(sim)
    assert set(episodes.direction) == names  # every direction in the default duration
    for e in episodes.itertuples():
        axis, sign = CONVENTIONS[e.direction]
        turn = Rotation.from_rotvec(np.array(axis) * sign * math.radians(e.angle_deg))
        neutral = _still_acc(sim, e.onset - 3.0, e.onset - 0.2)
        held = _still_acc(sim, e.hold_onset + 0.5, e.hold_onset + e.hold_s - 0.5)
        expected = turn.apply(neutral, inverse=True)  # a world vector seen from the turned sensor
        cos = np.dot(expected, held) / np.linalg.norm(expected) / np.linalg.norm(held)
        assert math.degrees(math.acos(min(1.0, cos))) < 0.7, e  # (wrist rest drift: < 0.6 deg)
        rotvec = np.degrees(_rotation_between(sim, e.onset - 0.3, e.hold_onset + 0.3).as_rotvec())
        np.testing.assert_allclose(rotvec, np.degrees(turn.as_rotvec()), atol=1.0, err_msg=str(e))


@pytest.mark.parametrize("scenario", ["neck_postures", "wrist_spasms"])
def test_documented_examples_of_the_sign_conventions(scenario):
    """The README's examples at 30 deg: acc_x -> -sin 30 for anterocollis and flexion, acc_y < 0 for
    laterocollis_left and pronation, > 0 for supination; torticollis and radial/ulnar deviation are
    rotations about the vertical: the accelerometer barely changes, the gyro integrates to +-30."""
    calm = {"sway_deg": 0.0} if scenario.startswith("neck") else {}
    sim = simulate(scenario, seed=4, posture_angle_deg=30.0, **calm)
    bias = np.array([float(b) for b in sim.meta["gyro_bias_dps"].split()])
    assert np.all((np.abs(bias) >= 0.2) & (np.abs(bias) <= 0.5))  # a realistic sensor, with gyro bias
    s30 = math.sin(math.radians(30.0))
    seen = set()
    for e in _contractions(sim).itertuples():
        assert e.angle_deg == 30.0
        n = _still_acc(sim, e.onset - 3.0, e.onset - 0.2)
        h = _still_acc(sim, e.hold_onset + 0.5, e.hold_onset + e.hold_s - 0.5)
        d = h - n
        expect = {  # change of (acc_x, acc_y) from neutral; the neutral is upright within ~8 deg
            "anterocollis": (-s30, 0.0), "retrocollis": (s30, 0.0), "flexion": (-s30, 0.0),
            "extension": (s30, 0.0), "laterocollis_left": (0.0, -s30), "laterocollis_right": (0.0, s30),
            "pronation": (0.0, -s30), "supination": (0.0, s30),
        }.get(e.direction)  # fmt: skip
        if expect is not None:
            np.testing.assert_allclose(d[:2], expect, atol=0.05, err_msg=str(e))
        if e.direction in ("laterocollis_left", "pronation"):
            assert h[1] < -0.3
        if e.direction == "supination":
            assert h[1] > 0.3
        if e.direction.startswith("torticollis") or e.direction.endswith("deviation"):
            assert np.linalg.norm(d) < 0.1  # invisible to the accelerometer (up to the neutral's tilt)
            t = sim.frame.t.values
            inside = (t >= e.onset - 0.5) & (t < e.hold_onset + 0.5)
            yaw = np.sum(sim.frame.gyro_z.values[inside] - bias[2]) * np.mean(np.diff(t[inside]))
            left = e.direction in ("torticollis_left", "radial_deviation")
            assert yaw == pytest.approx(30.0 if left else -30.0, abs=2.0), e
        seen.add(e.direction)
    assert len(seen) == 6


def test_contraction_timing_ramps_hold_and_return():
    """Deviation is ~0 at the onset, half way at mid-ramp (minimum-jerk), full from hold_onset to
    the end of the hold, and back to ~0 at onset + duration."""
    sim = simulate("neck_postures", duration_s=420, seed=6, ideal=True, sway_deg=0.0)
    episodes = _contractions(sim)
    assert len(episodes) >= 5
    for e in episodes.itertuples():
        ret = e.duration - e.ramp_s - e.hold_s
        assert e.hold_onset == pytest.approx(e.onset + e.ramp_s, abs=2e-3)

        def dev(t1: float, e=e) -> float:
            return math.degrees(_rotation_between(sim, e.onset - 1.0, t1).magnitude())

        tremor = e.co_contraction_g > 0  # the co-contraction tremor adds a little angle
        tol = 1.0 + 2.0 * tremor
        one_sample = 1.875 * e.angle_deg / e.ramp_s * 0.01  # peak ramp speed x 10 ms
        assert dev(e.onset) < 0.3
        assert dev(e.onset + 0.5 * e.ramp_s) == pytest.approx(0.5 * e.angle_deg, abs=0.3 + one_sample)
        assert dev(e.hold_onset) == pytest.approx(e.angle_deg, abs=0.3 + tol * (e.ramp_s > 2.9 and tremor))
        assert dev(e.hold_onset + e.hold_s) == pytest.approx(e.angle_deg, abs=tol)
        assert dev(e.hold_onset + e.hold_s + 0.5 * ret) == pytest.approx(0.5 * e.angle_deg, abs=tol)
        assert dev(e.onset + e.duration + 0.02) < 0.5


def test_posture_ground_truth_ranges_columns_and_balance(tmp_path):
    for scenario, hold_max in [("neck_postures", 60.0), ("wrist_spasms", 30.0)]:
        sim = simulate(scenario, seed=3)
        ev = sim.events
        assert list(ev.columns) == [*EVENT_COLUMNS, *CONTRACTION_COLUMNS]
        c = _contractions(sim)
        assert len(c) >= 8
        assert c.angle_deg.between(15.0, 45.0).all()
        fast, slow = c.ramp_s.between(0.3, 1.0), c.ramp_s.between(3.0, 6.0)
        assert (fast | slow).all() and fast.sum() >= 3 and slow.sum() >= 3
        assert c.hold_s.between(4.0, hold_max).all()
        assert (c.duration - c.ramp_s - c.hold_s).between(0.5 - 1e-3, 3.0 + 1e-3).all()
        with_tremor = c[c.co_contraction_g > 0]
        assert 3 <= len(with_tremor) <= len(c) - 3
        assert with_tremor.co_contraction_g.between(0.01, 0.05).all()
        gaps = c.onset.values[1:] - (c.onset + c.duration).values[:-1]
        assert gaps.min() >= 15.0 - 1e-3 and gaps.max() <= 40.0 + 1e-3  # quiet between episodes
        tremor = ev[ev.trial_type == "tremor"]  # the co-contraction tremor, inside each hold
        assert len(tremor) == len(with_tremor)
        for e in with_tremor.itertuples():
            hold_end = e.hold_onset + e.hold_s
            inside = tremor[(tremor.onset >= e.hold_onset) & (tremor.onset + tremor.duration <= hold_end)]
            assert len(inside) == 1
            assert inside.amplitude_g.iloc[0] == pytest.approx(e.co_contraction_g, rel=1e-4)
            assert inside.context.iloc[0] == "posture" and inside.regularity.iloc[0] > 0.1  # irregular
            assert 3.0 <= inside.frequency_hz.iloc[0] <= 7.0
        others = ev[ev.trial_type != "contraction"]
        assert others.direction.isna().all() and others.hold_s.isna().all() and others.ramp_s.isna().all()
        rec, path = write_simulation(sim, tmp_path / f"{scenario}.csv.gz")
        back = read_events(path)
        assert list(back.columns) == list(ev.columns)
        assert list(back.direction[back.trial_type == "contraction"]) == list(c.direction)
        assert back.direction[back.trial_type != "contraction"].map(lambda v: v is None).all()
        pd.testing.assert_frame_equal(back[list(CONTRACTION_COLUMNS[1:])], ev[list(CONTRACTION_COLUMNS[1:])])
        assert "\tn/a\t" in path.read_text()
    # Phase-1 scenarios keep exactly the phase-1 columns.
    assert list(simulate("rest_tremor", duration_s=20, seed=1).events.columns) == list(EVENT_COLUMNS)


def test_contraction_episodes_are_always_complete():
    for seed in range(6):
        for scenario in ("neck_postures", "wrist_spasms", "neck_mix"):
            d = 60.0 + 37.0 * seed
            sim = simulate(scenario, duration_s=d, seed=seed, sample_rate_hz=25)
            c = _contractions(sim)
            assert ((c.onset + c.duration) <= d - 1.0 + 1e-3).all(), (scenario, seed)
            assert ((c.hold_onset + c.hold_s) < c.onset + c.duration).all()


def test_co_contraction_tremor_rides_on_the_hold():
    """co_contraction_g is the tremor's amplitude_g (zero-to-peak per cycle, harmonics included, as
    for every tremor row); sqrt(2) x RMS of its 2.5-7.5 Hz band is 0.5-1.3 of it (jerky, bursting)."""
    ratios = []
    for seed in (8, 9):
        sim = simulate("neck_postures", seed=seed, ideal=True, sway_deg=0.0)
        t = sim.frame.t.values
        band = _band(sim.frame[ACC].values, 2.5, 7.5, 100.0)
        quiet = 0
        for e in _contractions(sim).itertuples():
            inside = _inside(t, e.hold_onset, e.hold_s, 1.0)
            amp = math.sqrt(2 * np.mean(np.sum(band[inside] ** 2, axis=1)))
            if e.co_contraction_g > 0:
                ratios.append(amp / e.co_contraction_g)
            else:
                assert amp < 0.002, e  # a still, quiet hold: no tremor-band motion
                quiet += 1
        assert quiet >= 2
    assert len(ratios) >= 6
    assert 0.45 < min(ratios) and max(ratios) < 1.35 and 0.6 < np.median(ratios) < 1.0, ratios


def test_neck_sway_is_a_few_degrees_and_slow():
    for seed in (1, 2):
        sim = simulate("neck_sway", duration_s=240, seed=seed, ideal=True)
        assert set(sim.events.trial_type) == {"sway", "physiological_tremor"}
        acc = _band(sim.frame[ACC].values, 0.02, 1.0, 100.0) + sim.frame[ACC].values.mean(0)
        g = acc / np.linalg.norm(acc, axis=1, keepdims=True)
        m = np.median(g, axis=0)
        tilt = np.degrees(np.arccos(np.clip(g @ (m / np.linalg.norm(m)), -1, 1)))[500:-500]
        assert 0.5 < np.percentile(tilt, 99) < 6.0  # a few degrees, never near a 15 deg threshold
        gyro = sim.frame[GYRO].values
        freqs = np.fft.rfftfreq(len(gyro), 0.01)
        power = (np.abs(np.fft.rfft(gyro - gyro.mean(0), axis=0)) ** 2).sum(1)
        slow = power[(freqs > 0.08) & (freqs < 0.55)].sum()
        assert slow > 0.8 * power[(freqs > 0.02) & (freqs < 5.0)].sum()  # 0.1-0.5 Hz
        # Heading stays put on average: sway is zero-mean, yaw comes back.
        yaw = np.cumsum(gyro[:, 2]) * 0.01
        assert np.abs(yaw).max() < 10.0


def test_voluntary_head_moves_are_brief_out_and_back():
    sim = simulate("neck_turns", seed=5, ideal=True, sway_deg=0.0)
    ev = sim.events
    assert "contraction" not in set(ev.trial_type)
    moves = ev[ev.trial_type.isin(["head_turn", "nod", "head_tilt"])]
    assert {"head_turn", "nod", "head_tilt"} <= set(moves.trial_type) and len(moves) >= 10
    assert moves.duration.between(0.8 - 1e-3, 2.0 + 1e-3).all()
    turns_nods = moves[moves.trial_type != "head_tilt"]
    assert turns_nods.angle_deg.between(20, 70).all()
    axis_of = {"head_turn": 2, "nod": 1, "head_tilt": 0}
    for e in moves.itertuples():
        t0, t1 = e.onset - 0.2, e.onset + e.duration + 0.2
        t = sim.frame.t.values
        i0, i1 = int(np.searchsorted(t, t0)), int(np.searchsorted(t, t1))
        w = np.radians(sim.frame[GYRO].values[i0:i1])
        rel, peak = Rotation.identity(), 0.0
        for k in range(len(w) - 1):
            rel = rel * Rotation.from_rotvec(0.5 * (w[k] + w[k + 1]) * 0.01)
            peak = max(peak, rel.magnitude())
        assert math.degrees(peak) == pytest.approx(e.angle_deg, abs=1.5), e
        assert math.degrees(rel.magnitude()) < 0.5, e  # back where it started
        main = np.abs(np.degrees(w)).max(axis=0)
        assert main.argmax() == axis_of[e.trial_type], e


def test_neck_walking_gait_and_glances():
    sim = simulate("neck_walking", seed=3, ideal=True)
    ev = sim.events
    assert "contraction" not in set(ev.trial_type)
    t = sim.frame.t.values
    acc = sim.frame[ACC].values
    walks = ev[ev.trial_type == "walking"]
    assert len(walks) >= 2
    spectra = 0
    for e in walks.itertuples():
        assert 1.5 <= e.frequency_hz <= 2.2  # 1.6-2.1 steps/s, +-10 % wander
        inside = _inside(t, e.onset, e.duration, 3.0)
        if e.duration < 20.0:
            continue  # too short for a clean spectrum
        vertical = acc[inside, 2] - acc[inside, 2].mean()
        freqs = np.fft.rfftfreq(vertical.size, 0.01)
        power = np.abs(np.fft.rfft(vertical)) ** 2
        sel = (freqs > 0.5) & (freqs < 5.0)
        assert freqs[sel][power[sel].argmax()] == pytest.approx(e.frequency_hz, abs=0.1)  # head bob
        spectra += 1
        assert 0.1 < vertical.std() < 0.4  # g
        lp = _band(acc, 0.02, 0.5, 100.0) + acc.mean(0)
        g = lp / np.linalg.norm(lp, axis=1, keepdims=True)
        tilt = np.degrees(np.arccos(np.clip(g[inside] @ np.array([0.0, 0.0, 1.0]), -1, 1)))
        assert tilt.max() < 14.0  # walking tilts the head a little, never like a dystonic posture
    assert spectra >= 2
    glances = ev[ev.trial_type == "head_turn"]
    assert len(glances) >= 3 and (glances.duration <= 2.0 + 1e-3).all()
    assert all(((walks.onset <= g.onset) & (walks.onset + walks.duration >= g.onset + g.duration)).any()
               for g in glances.itertuples())  # fmt: skip


def test_posture_scenarios_gyro_bias_is_fixed_and_recorded():
    sim = simulate("neck_sway", duration_s=240, seed=7)
    bias = np.array([float(b) for b in sim.meta["gyro_bias_dps"].split()])
    assert np.all((np.abs(bias) >= 0.2) & (np.abs(bias) <= 0.5))
    np.testing.assert_allclose(sim.frame[GYRO].values.mean(0), bias, atol=0.06)  # sway is zero-mean
    ideal = simulate("neck_sway", duration_s=20, seed=7, ideal=True)
    assert ideal.meta["gyro_bias_dps"] == "0.0000 0.0000 0.0000"
    assert "gyro_bias_dps" not in simulate("neck_sway", duration_s=20, seed=7, gyro=False).meta
    assert "gyro_bias_dps" not in simulate("rest_tremor", duration_s=20, seed=7).meta


def test_posture_scenarios_accelerometer_only_variant_and_streaming():
    both = simulate("neck_postures", duration_s=150, seed=9)
    acc_only = simulate("neck_postures", duration_s=150, seed=9, gyro=False)
    assert list(acc_only.frame.columns) == ["t", *ACC] and acc_only.meta["placement"] == "neck"
    pd.testing.assert_frame_equal(acc_only.frame, both.frame[["t", *ACC]])
    pd.testing.assert_frame_equal(acc_only.events, both.events)
    stream = iter_simulation("neck_mix", duration_s=150, seed=9)
    blocks = list(stream)
    whole = simulate("neck_mix", duration_s=150, seed=9)
    pd.testing.assert_frame_equal(pd.concat(blocks, ignore_index=True), whole.frame)
    pd.testing.assert_frame_equal(stream.events(), whole.events)


def test_posture_overrides_keep_the_scenario_and_bad_ones_are_clear_errors():
    base = simulate("wrist_spasms", duration_s=200, seed=2)
    fixed = simulate("wrist_spasms", duration_s=200, seed=2, posture_angle_deg=25.0)
    assert (_contractions(fixed).angle_deg == 25.0).all()
    cols = ["onset", "duration", "direction", "ramp_s", "hold_s"]
    pd.testing.assert_frame_equal(_contractions(base)[cols], _contractions(fixed)[cols])
    calm = simulate("neck_postures", duration_s=200, seed=2, sway_deg=0.0)
    pd.testing.assert_frame_equal(calm.events, simulate("neck_postures", duration_s=200, seed=2).events)
    with pytest.raises(ValueError, match="apply only to the posture scenarios"):
        simulate("rest_tremor", duration_s=5, posture_angle_deg=30.0)
    with pytest.raises(ValueError, match="posture_angle_deg must be a number of degrees in 1-90"):
        simulate("neck_postures", duration_s=5, posture_angle_deg=-3.0)
    with pytest.raises(ValueError, match="sway_deg must be"):
        simulate("neck_sway", duration_s=5, sway_deg="lots")


def test_neck_mix_shows_everything_and_keeps_postures_apart_from_movement():
    sim = simulate("neck_mix", duration_s=900, seed=1)
    ev = sim.events
    c = _contractions(sim)
    assert set(c.direction) == NECK_DIRECTIONS
    assert {"walking", "head_turn", "nod", "sway"} <= set(ev.trial_type)
    busy = ev[ev.trial_type.isin(["walking", "head_turn", "nod", "head_tilt"])]
    for e in c.itertuples():
        start, end = e.onset - 10.0, e.onset + e.duration
        overlap = (busy.onset < end) & (busy.onset + busy.duration > start)
        assert not overlap.any(), e  # at least 10 s of quiet before, nothing voluntary during
