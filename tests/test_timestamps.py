"""Session time mapping, drift, and gap detection (sequence numbers and time jumps)."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_bridge.protocols.base import DecodedBatch
from firmware_bridge.timestamps import SessionClock

ORIGIN = 1_700_000_000.0


def stamped(sensor_t0, n, rate, host_t, seq=None):
    return DecodedBatch(
        acc=np.zeros((n, 3)),
        gyro=None,
        host_t=host_t,
        sensor_t=sensor_t0 + np.arange(n) / rate,
        seq=seq,
        seq_modulus=65536 if seq is not None else None,
        rate_hz=rate,
    )


def counted(n, host_t, rate=100.0):
    return DecodedBatch(acc=np.zeros((n, 3)), gyro=None, host_t=host_t, rate_hz=rate)


def run_stamped(clock, frames):
    return np.concatenate([clock.map(f) for f in frames])


def test_sensor_clock_is_used_exactly_and_drift_is_estimated():
    rng = np.random.default_rng(1)
    clock = SessionClock(ORIGIN, has_timestamps=True)
    drift = 150e-6  # host runs 150 ppm faster than the sensor clock
    frames = []
    for k in range(3000):  # 5 samples per frame at 100 Hz: 150 s
        st0 = 10.0 + k * 0.05
        host = ORIGIN + 2.0 + (st0 + 0.04) * (1 + drift) + rng.uniform(0.005, 0.04)
        frames.append(stamped(st0, 5, 100.0, host, seq=k % 65536))
    t = run_stamped(clock, frames)
    np.testing.assert_allclose(np.diff(t), 0.01, atol=1e-9)  # sensor spacing kept exactly
    assert clock.gaps == [] and clock.lost_samples == 0
    assert clock.drift_ppm == pytest.approx(150, abs=30)


def test_sequence_gap_is_recorded_with_lost_samples():
    clock = SessionClock(ORIGIN, has_timestamps=True)
    frames = [stamped(k * 0.05, 5, 100.0, ORIGIN + k * 0.05 + 0.06, seq=k) for k in range(10)]
    del frames[4:6]  # two frames lost in the air
    t = run_stamped(clock, frames)
    (gap,) = clock.gaps
    assert gap.reason == "lost packets" and gap.lost_samples == 10
    assert gap.start_s == pytest.approx(t[19]) and gap.end_s == pytest.approx(t[20])
    assert gap.end_s - gap.start_s == pytest.approx(0.11)
    assert clock.lost_samples == 10


def test_sequence_wrap_is_not_a_gap():
    clock = SessionClock(ORIGIN, has_timestamps=True)
    frames = [stamped(k * 0.05, 5, 100.0, ORIGIN + k * 0.05, seq=(65534 + k) % 65536) for k in range(5)]
    run_stamped(clock, frames)
    assert clock.gaps == []


def test_reconnect_with_running_device_clock_keeps_anchor():
    clock = SessionClock(ORIGIN, has_timestamps=True)
    a = run_stamped(clock, [stamped(k * 0.05, 5, 100.0, ORIGIN + k * 0.05 + 0.05, seq=k) for k in range(20)])
    clock.mark_reconnected()
    b = run_stamped(
        clock,
        [stamped(5.0 + k * 0.05, 5, 100.0, ORIGIN + 5.0 + k * 0.05 + 0.05, seq=100 + k) for k in range(5)],
    )
    assert b[0] - a[-1] == pytest.approx(5.0 - 0.99)  # exact, from the sensor clock
    (gap,) = clock.gaps
    assert gap.reason == "disconnected" and gap.lost_samples == pytest.approx(400, abs=1)


def test_device_reboot_reanchors_to_host_time_and_stays_monotonic():
    clock = SessionClock(ORIGIN, has_timestamps=True)
    a = run_stamped(clock, [stamped(100 + k * 0.05, 5, 100.0, ORIGIN + k * 0.05, seq=k) for k in range(20)])
    clock.mark_reconnected()  # device rebooted: clock and seq restart at 0, 3 s later
    b = run_stamped(clock, [stamped(k * 0.05, 5, 100.0, ORIGIN + 4.0 + k * 0.05, seq=k) for k in range(5)])
    assert b[0] > a[-1]
    assert b[-1] == pytest.approx(4.0 + 0.2, abs=1e-6)  # last sample anchored to its receive time
    assert clock.gaps[-1].reason == "disconnected"


def test_counted_samples_get_smooth_times_despite_ble_jitter():
    rng = np.random.default_rng(2)
    true_rate = 99.5  # the sensor's crystal is 0.5 % slow
    clock = SessionClock(ORIGIN, has_timestamps=False, nominal_rate_hz=100.0)
    ts = []
    for i in range(6000):  # one sample per notification, 60 s
        host = ORIGIN + 1.0 + i / true_rate + rng.exponential(0.01) + rng.uniform(0, 0.03)
        ts.append(clock.map(counted(1, host))[0])
    d = np.diff(np.array(ts[2000:]))
    assert np.all(np.diff(ts) > 0)
    assert np.median(d) == pytest.approx(1 / true_rate, rel=2e-3)
    assert np.percentile(np.abs(d - 1 / true_rate), 99) < 2e-3  # jitter is not in the times
    assert clock.rate_hz == pytest.approx(true_rate, rel=2e-3)
    assert clock.drift_ppm == pytest.approx(5000, abs=300)  # positive: sensor clock slow
    assert clock.gaps == []


def test_counted_outage_is_a_gap_with_estimated_loss():
    clock = SessionClock(ORIGIN, has_timestamps=False, nominal_rate_hz=100.0)
    for i in range(500):
        clock.map(counted(1, ORIGIN + i * 0.01 + 0.02))
    clock.mark_reconnected()
    t = clock.map(counted(1, ORIGIN + 7.0 + 0.02))
    (gap,) = clock.gaps
    assert gap.reason == "disconnected"
    assert gap.lost_samples == pytest.approx(200, abs=3)
    assert t[0] == pytest.approx(7.0, abs=0.05)
    assert clock.stats()["gap_count"] == 1
