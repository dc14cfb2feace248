"""The streaming core on controlled signals: chunk invariance, gaps, timestamps, latency."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dsp
from dsp.events import ENDED, GAP, MINUTE, STARTED, UPDATED

FS_HZ = 100.0


def tremor_stream(
    duration_s: float = 90.0,
    fs_hz: float = FS_HZ,
    bursts=((20.0, 45.0, 5.5, 0.03), (60.0, 75.0, 9.0, 0.05)),
    gyro: bool = True,
    jitter_s: float = 0.001,
    seed: int = 0,
):
    """Wrist at rest with tremor bursts (start, end, Hz, peak g) as rotation about x."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * fs_hz)
    t = np.arange(n) / fs_hz + 100.0 + rng.normal(0, jitter_s, n)
    t.sort()
    acc = rng.normal(0, 0.002, (n, 3))
    acc[:, 2] += 1.0
    g = rng.normal(0, 0.1, (n, 3))
    for a, b, f, amp in bursts:
        env = np.clip(np.minimum(t - 100 - a, 100 + b - t) / 0.5, 0, 1)
        acc[:, 1] += amp * env * np.sin(2 * np.pi * f * t)
        g[:, 0] += amp * 200.0 * env * np.cos(2 * np.pi * f * t)
    return t, acc, (g if gyro else None)


def run_chunks(t, acc, gyro, sizes, **kw):
    det = dsp.StreamingDetector(FS_HZ, **kw)
    events = []
    i = 0
    k = 0
    while i < t.size:
        n = sizes[k % len(sizes)]
        k += 1
        events += det.push(t[i : i + n], acc[i : i + n], None if gyro is None else gyro[i : i + n])
        i += n
    events += det.flush()
    return det, events


def event_key(events):
    return [(e.type, e.at_s, e.episode, e.minute, e.gap) for e in events]


@pytest.fixture(scope="module")
def stream():
    t, acc, gyro = tremor_stream()
    # a 2 s hole inside the first burst and a short 0.3 s hole that is interpolated
    drop = ((t > 130.0) & (t < 132.0)) | ((t > 150.0) & (t < 150.3))
    return t[~drop], acc[~drop], gyro[~drop]


@pytest.fixture(scope="module")
def reference(stream):
    t, acc, gyro = stream
    return run_chunks(t, acc, gyro, [t.size])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(min_value=1, max_value=3000), min_size=1, max_size=12))
def test_chunk_invariance_with_gyro(stream, reference, sizes):
    t, acc, gyro = stream
    det, events = run_chunks(t, acc, gyro, sizes)
    ref_det, ref_events = reference
    pd.testing.assert_frame_equal(det.episodes(), ref_det.episodes())
    assert event_key(events) == event_key(ref_events)


@settings(max_examples=15, deadline=None)
@given(sizes=st.lists(st.integers(min_value=1, max_value=2000), min_size=1, max_size=8))
def test_chunk_invariance_accelerometer_only(sizes):
    t, acc, _ = tremor_stream(duration_s=60.0, bursts=((10.0, 40.0, 6.0, 0.05),), gyro=False)
    ref, ref_ev = run_chunks(t, acc, None, [t.size])
    det, ev = run_chunks(t, acc, None, sizes)
    assert len(ref.episodes()) == 1
    pd.testing.assert_frame_equal(det.episodes(), ref.episodes())
    assert event_key(ev) == event_key(ref_ev)


def test_episodes_found_with_onset_offset_and_frequency(reference):
    det, events = reference
    eps = det.episodes()
    # burst 1 (120-145 s) is split by the 2 s hole at 130-132 s; burst 2 is 160-175 s
    assert len(eps) == 3, eps
    first, second, third = eps.itertuples()
    assert abs(first.start_s - 120.0) <= 1.0
    assert first.end_s <= 130.0 + 1e-6  # does not bridge the hole
    assert second.start_s >= 132.0 - 1e-6
    assert abs(second.end_s - 145.0) <= 1.0
    assert abs(third.start_s - 160.0) <= 1.0 and abs(third.end_s - 175.0) <= 1.0
    assert abs(first.dominant_hz - 5.5) <= 0.3 and first.band == "5-8 Hz"
    assert abs(third.dominant_hz - 9.0) <= 0.3 and third.band == "8-12 Hz"
    for ep in eps.itertuples():
        assert ep.detected_at_s - ep.start_s <= 3.0
        assert ep.amplitude_dps > 1.0 and ep.amplitude_g > 0.005
        assert ep.context == "rest"
        assert ep.stability is not None and ep.stability < 0.5  # a regular tremor
    # the short hole is interpolated, the long one is a gap event
    gaps = [e.gap for e in events if e.type == GAP]
    assert len(gaps) == 1 and 129.98 <= gaps[0].start_s < 130.0 < 132.0 <= gaps[0].end_s <= 132.02


def test_event_stream_is_consistent(reference):
    _, events = reference
    open_ids = set()
    assert [e.at_s for e in events] == sorted(e.at_s for e in events)
    for e in events:
        if e.type == STARTED:
            assert e.episode.episode_id not in open_ids
            open_ids.add(e.episode.episode_id)
            assert abs(e.at_s - e.episode.detected_at_s) < 1e-3
        elif e.type in (UPDATED, ENDED):
            assert e.episode.episode_id in open_ids
            if e.type == ENDED:
                open_ids.remove(e.episode.episode_id)
    assert not open_ids
    minutes = [e.minute for e in events if e.type == MINUTE]
    assert len(minutes) == 2  # 90 s of data from t=100 s: two minutes with data
    for m in minutes:
        row = m.as_row()
        total = sum(v for k, v in row.items() if k.endswith("_frac") and k != "contraction_frac")
        assert math.isclose(total, 1.0, abs_tol=1e-5)
    assert minutes[0].fractions["slight"] > 0.3  # 120-145 s of tremor lies in the first minute


def test_batch_detect_is_the_streaming_core(stream, reference):
    t, acc, gyro = stream
    frame = pd.DataFrame({"t": t})
    for i, a in enumerate("xyz"):
        frame[f"acc_{a}"] = acc[:, i]
        frame[f"gyro_{a}"] = gyro[:, i]
    out = dsp.detect(frame, sample_rate_hz=FS_HZ)
    pd.testing.assert_frame_equal(out, reference[0].episodes())
    assert list(out.columns) == list(dsp.EPISODE_COLUMNS)
    # the rate is estimated when not given
    pd.testing.assert_frame_equal(dsp.detect(frame), out)


def test_physiological_tremor_and_noise_are_not_episodes():
    t, acc, gyro = tremor_stream(duration_s=60.0, bursts=((0.0, 60.0, 10.0, 0.003),))
    det, _ = run_chunks(t, acc, gyro, [500])
    assert det.episodes().empty


def test_bad_and_repeated_samples_are_skipped_not_fatal():
    t, acc, gyro = tremor_stream(duration_s=30.0, bursts=())
    t = t.copy()
    acc = acc.copy()
    t[100] = t[99]  # duplicate
    t[200] = t[150]  # backwards
    acc[300, 1] = np.nan
    det = dsp.StreamingDetector(FS_HZ)
    det.push(t, acc, gyro)
    det.flush()
    assert det.skipped == 3
    assert det.episodes().empty


def test_wall_clock_times_when_start_time_known():
    from datetime import datetime, timezone

    t, acc, gyro = tremor_stream(duration_s=60.0, bursts=((20.0, 40.0, 5.0, 0.05),))
    start = datetime(2026, 1, 2, 3, 4, 30, tzinfo=timezone.utc)
    det = dsp.StreamingDetector(FS_HZ, start_time=start)
    events = det.push(t, acc, gyro) + det.flush()
    ep = det.episodes().iloc[0]
    onset = datetime.fromisoformat(ep.start_time)
    assert abs((onset - start).total_seconds() - (ep.start_s - t[0])) < 1e-3
    minutes = [e.minute for e in events if e.type == MINUTE]
    # minutes align to the wall clock: the first starts at 03:04:00, 30 s before the data
    assert minutes[0].start_time.startswith("2026-01-02T03:04:00")
    assert minutes[0].unknown_frac >= 0.5


def test_gyroscope_channels_must_not_change():
    det = dsp.StreamingDetector(FS_HZ)
    det.push(np.arange(10) / FS_HZ, np.zeros((10, 3)), np.zeros((10, 3)))
    with pytest.raises(ValueError, match="gyroscope"):
        det.push(np.arange(10, 20) / FS_HZ, np.zeros((10, 3)))


@pytest.mark.parametrize("fs_hz", [25.0, 50.0, 200.0, 1000.0])
def test_sample_rates(fs_hz):
    t, acc, gyro = tremor_stream(
        duration_s=40.0, fs_hz=fs_hz, bursts=((10.0, 30.0, 6.0, 0.05),), jitter_s=0.1 / fs_hz
    )
    det = dsp.StreamingDetector(fs_hz)
    det.push(t, acc, gyro)
    det.flush()
    eps = det.episodes()
    assert len(eps) == 1
    assert abs(eps.iloc[0].dominant_hz - 6.0) <= 0.3
    assert abs(eps.iloc[0].start_s - 110.0) <= 1.0
