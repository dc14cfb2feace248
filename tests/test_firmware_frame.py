"""The firmware's frame encoder (run under CPython) against the host's independent decoder."""

from __future__ import annotations

import importlib
import math
import random
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.protocols.reference import (
    NUS_TX,
    ReferenceFrameProtocol,
    cobs_decode,
)
from firmware_bridge.transports.base import RawPayload

FIRMWARE_DIR = Path(__file__).resolve().parents[1] / "firmware_bridge" / "firmware"


@pytest.fixture(scope="module")
def fw():
    sys.path.insert(0, str(FIRMWARE_DIR))
    try:
        frame = importlib.import_module("frame")
        main = importlib.import_module("main")
        yield frame, main
    finally:
        sys.path.remove(str(FIRMWARE_DIR))
        sys.modules.pop("frame", None)
        sys.modules.pop("main", None)


def _feed(proto, data: bytes, src: str = "serial", t: float = 0.0):
    return proto.feed(RawPayload(t, src, data))


def test_crc_matches_the_published_check_value(fw):
    frame, _ = fw
    # CRC-16/CCITT-FALSE check value for "123456789" (Greg Cook's CRC catalogue): 0x29B1
    assert frame.crc16_ccitt(b"123456789") == 0x29B1


def test_cobs_encoder_matches_paper_examples(fw):
    frame, _ = fw
    # Examples from Cheshire & Baker (1999) as tabulated in the COBS literature.
    assert frame.cobs_encode(b"\x00") == b"\x01\x01"
    assert frame.cobs_encode(b"\x00\x00") == b"\x01\x01\x01"
    assert frame.cobs_encode(b"\x11\x22\x00\x33") == b"\x03\x11\x22\x02\x33"
    assert frame.cobs_encode(b"\x11\x00\x00\x00") == b"\x02\x11\x01\x01\x01"
    run = bytes(range(1, 256))
    assert frame.cobs_encode(run)[:1] == b"\xff" and 0 not in frame.cobs_encode(run)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=700))
def test_cobs_round_trip_encoder_to_host_decoder(data):
    sys.path.insert(0, str(FIRMWARE_DIR))
    try:
        frame = importlib.import_module("frame")
    finally:
        sys.path.remove(str(FIRMWARE_DIR))
    enc = frame.cobs_encode(data)
    assert 0 not in enc
    assert cobs_decode(enc) == data


def test_known_frame_decodes_to_exact_units(fw):
    frame, _ = fw
    samples = [(8192, 0, -8192, 655, -655, 0), (0, 4096, 8192, 0, 65, -131)]
    raw = frame.encode_frame(7, 1_000_000, 100.0, 8192.0, 65.5, samples, battery=87)
    assert len(raw) == 22 + 2 * 12 + 2
    proto = ReferenceFrameProtocol()
    (b,) = _feed(proto, frame.encode_for_stream(raw), t=123.0)
    np.testing.assert_allclose(b.acc, [[1.0, 0.0, -1.0], [0.0, 0.5, 1.0]])
    np.testing.assert_allclose(b.gyro, [[10.0, -10.0, 0.0], [0.0, 65 / 65.5, -131 / 65.5]])
    np.testing.assert_allclose(b.sensor_t, [1.0, 1.01])
    assert b.seq == 7 and b.seq_modulus == 65536 and b.rate_hz == 100.0 and b.host_t == 123.0
    assert proto.battery_pct == 87.0
    assert proto.counters.frames == 1 and proto.counters.malformed == 0


def test_accelerometer_only_frame(fw):
    frame, _ = fw
    raw = frame.encode_frame(0, 0, 50.0, 16384.0, 0.0, [(16384, 0, 0)] * 4)
    (b,) = _feed(ReferenceFrameProtocol(), frame.encode_for_stream(raw))
    assert b.gyro is None
    np.testing.assert_allclose(b.acc[:, 0], 1.0)
    np.testing.assert_allclose(np.diff(b.sensor_t), 0.02)


int16 = st.integers(-32768, 32767)


@settings(max_examples=150, deadline=None)
@given(
    seq=st.integers(0, 65535),
    t_us=st.integers(0, 2**32 - 1),
    rate=st.sampled_from([12.5, 50.0, 100.0, 200.0, 400.0]),
    gyro=st.booleans(),
    n=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
    cuts=st.lists(st.integers(1, 400), max_size=8),
)
def test_encoder_decoder_round_trip_any_split(seq, t_us, rate, gyro, n, seed, cuts):
    sys.path.insert(0, str(FIRMWARE_DIR))
    try:
        frame = importlib.import_module("frame")
    finally:
        sys.path.remove(str(FIRMWARE_DIR))
    rng = random.Random(seed)
    width = 6 if gyro else 3
    samples = [tuple(rng.randint(-32768, 32767) for _ in range(width)) for _ in range(n)]
    stream = frame.encode_for_stream(frame.encode_frame(seq, t_us, rate, 4096.0, 16.4, samples, battery=255))
    stream = stream * 2  # two identical frames back to back
    proto = ReferenceFrameProtocol()
    batches = []
    pos = 0
    for c in sorted(set(cuts)) + [len(stream)]:  # arbitrary payload boundaries
        batches += _feed(proto, stream[pos:c], src=NUS_TX)
        pos = max(pos, c)
    assert len(batches) == 2
    arr = np.array(samples, dtype=np.float64)
    np.testing.assert_array_equal(batches[0].acc, arr[:, :3] / 4096.0)
    if gyro:
        np.testing.assert_array_equal(batches[0].gyro, arr[:, 3:] / np.float32(16.4))
    assert batches[0].seq == seq
    assert math.isclose(batches[0].sensor_t[0], t_us / 1e6)
    assert proto.counters.crc_errors == 0 and proto.counters.malformed == 0
    assert proto.battery_pct is None


def test_corrupted_frame_is_counted_and_the_next_one_decodes(fw):
    frame, _ = fw
    f1 = bytearray(frame.encode_for_stream(frame.encode_frame(1, 0, 100.0, 8192.0, 65.5, [(1,) * 6])))
    f1[10] ^= 0x40 if f1[10] not in (0, 0x40) else 0x01  # flip a bit inside the payload
    f2 = frame.encode_for_stream(frame.encode_frame(2, 10000, 100.0, 8192.0, 65.5, [(2,) * 6]))
    proto = ReferenceFrameProtocol()
    out = _feed(proto, bytes(f1) + b"ESP32 boot\r\n\x00" + f2)
    assert [b.seq for b in out] == [2]
    assert proto.counters.crc_errors + proto.counters.malformed == 2
    assert proto.counters.skipped_bytes > 0


def test_timestamp_and_sequence_wrap_stay_monotonic(fw):
    frame, _ = fw
    proto = ReferenceFrameProtocol()
    t0 = 2**32 - 30_000  # wraps after 3 frames of 10 ms
    ts = []
    for k in range(6):
        raw = frame.encode_frame(65534 + k, t0 + k * 10_000, 100.0, 8192.0, 65.5, [(0,) * 6])
        (b,) = _feed(proto, frame.encode_for_stream(raw))
        ts.append(b.sensor_t[0])
        assert b.seq == (65534 + k) % 65536
    assert np.all(np.diff(ts) > 0)
    np.testing.assert_allclose(np.diff(ts), 0.01, atol=1e-9)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=10))
def test_fuzz_random_bytes_only_counted(chunks):
    proto = ReferenceFrameProtocol()
    for c in chunks:
        for b in _feed(proto, c):
            assert b.acc.shape[1] == 3  # a valid frame by chance is still well-formed
    c = proto.counters
    assert c.payloads == len(chunks)
    assert c.frames >= 0 and c.malformed >= 0 and c.crc_errors >= 0


class FakeMPU6050I2C:
    """Emulates the MPU6050 registers the firmware uses: a 5 Hz wobble on x, 1 g on z."""

    def __init__(self):
        self.regs = {}
        self.n = 0

    def readfrom_mem(self, addr, reg, n):
        assert addr == 0x68
        if reg == 0x75:
            return bytes([0x68])
        assert reg == 0x3B and n == 14
        afs = (self.regs.get(0x1C, 0) >> 3) & 3
        fs = (self.regs.get(0x1B, 0) >> 3) & 3
        lsb_g = (16384, 8192, 4096, 2048)[afs]
        lsb_dps = (131.0, 65.5, 32.8, 16.4)[fs]
        k = self.n
        self.n += 1
        ax = round(0.1 * math.sin(2 * math.pi * 5 * k / 100) * lsb_g)
        return struct.pack(">hhhhhhh", ax, 0, lsb_g, 0, round(20 * lsb_dps), 0, -round(lsb_dps))

    def writeto_mem(self, addr, reg, data):
        self.regs[reg] = data[0]


class Sink:
    def __init__(self):
        self.data = bytearray()

    def write(self, b):
        self.data += b


def test_firmware_streamer_output_decodes_on_the_host(fw, monkeypatch):
    _, main = fw
    i2c = FakeMPU6050I2C()
    sensor = main.MPU6050(i2c)
    assert i2c.regs[0x19] == 9 and i2c.regs[0x1C] == 1 << 3 and i2c.regs[0x1B] == 1 << 3
    monkeypatch.setattr(main, "sleep_us", lambda us: None)  # run as fast as possible
    sink = Sink()
    main.Streamer(sensor, [sink], rate_hz=100, per_frame=5).run(n_samples=53)
    proto = ReferenceFrameProtocol()
    batches = _feed(proto, bytes(sink.data))
    assert [b.seq for b in batches] == list(range(11))
    acc = np.vstack([b.acc for b in batches])
    gyro = np.vstack([b.gyro for b in batches])
    t = np.concatenate([b.sensor_t for b in batches])
    assert acc.shape == (53, 3)
    expect_x = np.round(0.1 * np.sin(2 * np.pi * 5 * np.arange(53) / 100) * 8192) / 8192
    np.testing.assert_allclose(acc[:, 0], expect_x)
    np.testing.assert_allclose(acc[:, 2], 1.0)
    np.testing.assert_allclose(gyro[:, 0], round(20 * 65.5) / 65.5)
    np.testing.assert_allclose(gyro[:, 2], -round(65.5) / 65.5)
    np.testing.assert_allclose(np.diff(t), 0.01, atol=1e-9)
    assert proto.counters.malformed == 0 and proto.counters.crc_errors == 0


def test_firmware_advertising_fits_in_31_bytes(fw):
    _, main = fw
    adv = main._adv_field(0x01, b"\x06") + main._adv_field(0x09, main.BLE_NAME.encode())
    resp = main._adv_field(0x07, main._uuid128_le(main.NUS_SERVICE))
    assert len(adv) <= 31 and len(resp) == 18
    # 128-bit UUIDs go little-endian on air (Core Spec Vol 3 Part C 11): last byte first.
    assert resp[2] == 0x9E and resp[-1] == 0x6E
