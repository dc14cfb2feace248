"""Movesense GSP decoder against byte vectors built from the gatt_sensordata_app protocol.

Layout (movesense-device-lib ``samples/gatt_sensordata_app/GATTSensorDataClient.cpp``; Movesense
GD-77 "GATT SensorData Protocol specification"): commands ``[cmd, ref, data]``; notifications
``[2, ref, uint32 ms timestamp, ArrayAcc float32 xyz..., ArrayGyro float32 xyz...]`` in m/s^2 and
deg/s; a notification too long for one packet continues in ``[3, ref, rest...]`` (DATA_PART2)
and ``[4, ref, rest...]`` (DATA_PART3), joined as ``part1 + part2[2:]`` by the sample's Python
client; the sample firmware's send buffer holds 158 bytes (``GATTSensorDataClient.h``), i.e. at
most 156 message bytes per part.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.protocols import movesense as ms
from firmware_bridge.protocols.registry import get_device, make_protocol, match_advertisement
from firmware_bridge.transports.base import RawPayload

G = 9.80665


def message(t_ms: int, acc: np.ndarray, gyro: np.ndarray | None = None) -> bytes:
    """One SBEM IMU notification body: timestamp, then the whole acc array, then the gyro array."""
    out = struct.pack("<I", t_ms) + struct.pack(f"<{acc.size}f", *acc.ravel())
    if gyro is not None:
        out += struct.pack(f"<{gyro.size}f", *gyro.ravel())
    return out


def feed(p, data: bytes, t: float = 0.0):
    return p.feed(RawPayload(t, ms.NOTIFY, data))


def imu(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    acc = rng.normal(0, 5, (n, 3)).astype(np.float32).astype(np.float64)
    gyro = rng.normal(0, 100, (n, 3)).astype(np.float32).astype(np.float64)
    return acc, gyro


def test_subscribe_and_unsubscribe_bytes():
    p = ms.MovesenseProtocol()
    cmds = p.start_commands("ble")
    assert [c.data for c in cmds] == [bytes([2, 99]), bytes([1, 99]) + b"/Meas/IMU6/52"]
    assert all(c.target == ms.WRITE for c in cmds)
    assert [c.data for c in p.stop_commands("ble")] == [bytes([2, 99])]
    acc_only = ms.MovesenseProtocol(rate_hz="104", gyro="0", reference="7")
    assert acc_only.start_commands("ble")[1].data == b"\x01\x07/Meas/Acc/104"
    with pytest.raises(ValueError, match="not supported"):
        ms.MovesenseProtocol(rate_hz=100)
    with pytest.raises(ValueError, match="reserved"):
        ms.MovesenseProtocol(reference=0)


def test_imu6_scale_layout_and_sample_times():
    p = ms.MovesenseProtocol(rate_hz=52)
    acc1, gyro1 = imu(4, 1)
    acc2, gyro2 = imu(4, 2)
    # The first notification is closed by the start of the next one (the length is not known yet);
    # from then on a notification of the learned length is decoded as soon as it arrives.
    assert feed(p, bytes([2, 99]) + message(1000, acc1, gyro1), 5.0) == []
    b1, b2 = feed(p, bytes([2, 99]) + message(1077, acc2, gyro2), 5.1)
    np.testing.assert_allclose(b1.acc, acc1 / G, rtol=1e-12)
    np.testing.assert_allclose(b1.gyro, gyro1, rtol=1e-12)
    np.testing.assert_allclose(b1.sensor_t, 1.0 + np.arange(4) / 52.0)
    assert b1.host_t == 5.0 and b1.rate_hz == 52.0
    np.testing.assert_allclose(b2.gyro, gyro2, rtol=1e-12)
    assert b2.host_t == 5.1 and b2.sensor_t[0] == pytest.approx(1.077)
    (b3,) = feed(p, bytes([2, 99]) + message(1154, acc1, gyro1), 5.2)
    np.testing.assert_allclose(b3.acc, acc1 / G, rtol=1e-12)
    assert b3.sensor_t[0] == pytest.approx(1.154)
    assert p.counters.malformed == 0 and p.counters.frames == 3


def test_acc_only_path_has_no_gyro():
    p = ms.MovesenseProtocol(gyro=0, rate_hz=13)
    acc = np.array([[0.0, 0.0, G], [G, 0.0, -G]])
    feed(p, bytes([2, 99]) + message(500, acc))
    _, b = feed(p, bytes([2, 99]) + message(654, acc))
    assert b.gyro is None
    np.testing.assert_allclose(b.acc, [[0, 0, 1], [1, 0, -1]], rtol=1e-6)


@pytest.mark.parametrize("cuts", [(150,), (100, 180)])
def test_continuation_packets_are_joined(cuts):
    # 8 IMU6 samples = 4 + 192 bytes: longer than one GSP packet, sent as DATA + DATA_PART2 (+ PART3).
    p = ms.MovesenseProtocol(rate_hz=104)
    notes = [imu(8, s) for s in range(3)]
    out = []
    for k, (acc, gyro) in enumerate(notes):
        msg = message(2000 + 77 * k, acc, gyro)
        bounds = (0, *cuts, len(msg))
        for part, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
            out += feed(p, bytes([ms.RESP_DATA + part, 99]) + msg[lo:hi], float(k))
    # The third notification is complete as soon as its last part arrives (learned length).
    assert len(out) == 3
    for batch, (acc, gyro) in zip(out, notes):
        np.testing.assert_allclose(batch.acc, acc / G, rtol=1e-12)
        np.testing.assert_allclose(batch.gyro, gyro, rtol=1e-12)
    assert p.counters.malformed == 0


def split_like_the_firmware(msg: bytes, ref: int = 99, part_bytes: int = 156) -> list[bytes]:
    """DATA, DATA_PART2, DATA_PART3 packets: [type, ref] + up to 156 message bytes each."""
    chunks = [msg[i : i + part_bytes] for i in range(0, len(msg), part_bytes)]
    return [bytes([ms.RESP_DATA + k, ref]) + c for k, c in enumerate(chunks)]


@pytest.mark.parametrize("samples,parts", [(8, 2), (16, 3)])
def test_notifications_split_at_the_firmware_buffer_size(samples, parts):
    # IMU6 with 8 samples is 4 + 192 bytes: a full 158-byte DATA packet and a 42-byte DATA_PART2;
    # with 16 samples (388 bytes) the third part is a DATA_PART3.
    p = ms.MovesenseProtocol(rate_hz=208)
    notes = [imu(samples, 10 + k) for k in range(3)]
    out = []
    for k, (acc, gyro) in enumerate(notes):
        packets = split_like_the_firmware(message(5000 + 40 * k, acc, gyro))
        assert len(packets) == parts and len(packets[0]) == 158
        assert [pk[0] for pk in packets] == [2, 3, 4][:parts]
        for pk in packets:
            out += feed(p, pk, float(k))
        # The first notification's end is only known when the second begins; from then on each
        # one is decoded as soon as its last part arrives (its length is learned).
        assert len(out) == (0 if k == 0 else k + 1)
    assert len(out) == 3
    for batch, (acc, gyro) in zip(out, notes):
        np.testing.assert_allclose(batch.acc, acc / G, rtol=1e-12)
        np.testing.assert_allclose(batch.gyro, gyro, rtol=1e-12)
    assert [round(b.sensor_t[0], 3) for b in out] == [5.0, 5.04, 5.08]
    assert p.counters.malformed == 0


def test_part2_without_its_first_part_is_counted():
    p = ms.MovesenseProtocol()
    assert feed(p, bytes([3, 99]) + b"\x00" * 40) == []
    assert p.counters.malformed == 1 and "PART2" in p.counters.last_error


def test_timestamp_wrap_and_measured_period():
    p = ms.MovesenseProtocol(rate_hz=13, gyro=0)
    acc = np.zeros((1, 3))
    times = [2**32 - 160, 2**32 - 80, 0, 80, 160, 240]  # 12.5 Hz (80 ms), the clock wraps
    out = []
    for t in times:
        out += feed(p, bytes([2, 99]) + message(t, acc))
    st_ = np.concatenate([b.sensor_t for b in out])
    np.testing.assert_allclose(np.diff(st_), 0.08, atol=1e-9)
    assert p.period_s > 1 / 13.0  # moved from the nominal 13 Hz towards the real 12.5 Hz


def test_command_results():
    p = ms.MovesenseProtocol()
    feed(p, bytes([1, 99]) + b"Hello")
    assert p.last_status is None and p.counters.last_error == ""
    feed(p, bytes([1, 99, 0x01, 0xFB]))  # 507, "No free datasub slot" in the sample firmware
    assert p.last_status == 507 and "507" in p.counters.last_error
    assert p.counters.malformed == 0


def test_foreign_reference_ignored_and_unknown_type_counted():
    p = ms.MovesenseProtocol()
    acc, gyro = imu(2, 3)
    assert feed(p, bytes([2, 42]) + message(1, acc, gyro)) == []
    assert feed(p, bytes([9, 99, 1, 2])) == []
    assert p.counters.malformed == 1


def test_nan_payload_and_bad_length_are_counted():
    p = ms.MovesenseProtocol()
    acc, gyro = imu(2, 4)
    acc[0, 0] = np.nan
    feed(p, bytes([2, 99]) + message(1, acc, gyro))
    feed(p, bytes([2, 99]) + b"\x00" * 7)  # closes the NaN one
    feed(p, bytes([2, 99]) + b"\x00" * 7)  # closes the 7-byte one
    assert p.counters.malformed == 2


def test_registry_and_scan():
    assert get_device("gatt_sensordata_app").name == "movesense"
    assert isinstance(make_protocol("movesense", rate_hz="26"), ms.MovesenseProtocol)
    assert match_advertisement("Movesense 174630000192", []).name == "movesense"
    assert match_advertisement(None, [ms.SERVICE.upper()]).name == "movesense"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=12), st.integers(0, 4))
def test_fuzz_only_counted_errors_then_resync(chunks, lead):
    p = ms.MovesenseProtocol()
    for c in chunks:
        # steer some chunks into GSP-looking packets so the reassembly paths get exercised
        data = bytes([2 + (len(c) % 3), 99]) + c if len(c) % 2 else c
        for b in feed(p, data):
            assert b.acc.shape[1] == 3 and np.all(np.isfinite(b.acc))
    assert p.counters.payloads == len(chunks)
    acc, gyro = imu(3, 5)
    msg = bytes([2, 99]) + message(10_000 + lead, acc, gyro)
    out = feed(p, msg) + feed(p, msg)
    assert any(
        len(b) == 3 and np.allclose(b.acc, acc / G, rtol=1e-12) and np.allclose(b.gyro, gyro) for b in out
    )
