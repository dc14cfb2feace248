"""Polar PMD decoder against byte vectors built from the polar-ble-sdk sources and real frames.

Layouts: polar-ble-sdk ``PmdDataFrame.kt`` (``[type, uint64 ns timestamp of the last sample,
frame type, content]``, bit 7 = delta frame), ``AccData.kt`` (raw int8/int16/int24 mG; delta
frames scaled by the start response's factor), ``GyrData.kt``, ``BlePMDClient.parseDeltaFramesAll``
(reference sample, then ``[bit width, count]`` blocks of LSB-first packed signed deltas),
``PmdSetting.kt`` and ``PmdControlPointResponse.kt`` (``[0xF0, op, type, status, more, params]``).
Examples quoted from polar-ble-sdk ``technical_documentation/Polar_Measurement_Data_Specification.pdf``
("Request Stream Settings", "Start Stream") are marked as such.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from capture_helpers import pack_deltas
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.protocols import polar_pmd as pm
from firmware_bridge.protocols.registry import get_device, make_protocol, match_advertisement
from firmware_bridge.transports.base import RawPayload

TS0 = 762_000_000 * 10**9  # about 2024 in Polar time (ns since 2000-01-01)

# A real Verity Sense ACC frame, quoted in polarofficial/polar-ble-sdk issue #443 (its first 48
# bytes: header, the int16 reference sample and the first delta block of 10 8-bit samples; the
# quoted frame is cut off inside its second block). Started with
# 02 02 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03, answered F0 02 02 00 00 (no factor).
REAL_VERITY_FRAME = bytes.fromhex(
    "0200416FC41245930A81EE021FFE82FF080A10DA20D6A30BD9CBE7D6F6C4E6F1E1F3E0151AFE281BF8372C2520131911"
)


def frame(kind: int, ts_ns: int, ftype: int, content: bytes) -> bytes:
    return bytes([kind]) + struct.pack("<Q", ts_ns) + bytes([ftype]) + content


def delta_content(ref: tuple[int, int, int], blocks: list[tuple[int, np.ndarray]]) -> bytes:
    out = struct.pack("<3h", *ref)
    for width, deltas in blocks:
        out += bytes([width, len(deltas)]) + pack_deltas(deltas, width)
    return out


def feed(p, src: str, data: bytes, t: float = 0.0):
    return p.feed(RawPayload(t, src, data))


def started(model: str = "h10", factor: float | None = None, **kw) -> pm.PolarPmdProtocol:
    p = pm.PolarPmdProtocol(model=model, **kw)
    params = b"" if factor is None else bytes([pm.SETTING_FACTOR, 1]) + struct.pack("<f", factor)
    feed(p, pm.CONTROL_POINT, bytes([0xF0, 2, 2, 0, 0]) + params)
    return p


def test_start_and_stop_commands():
    h10 = pm.PolarPmdProtocol(model="h10")
    cmds = h10.start_commands("ble")
    assert cmds[0].data == bytes.fromhex("0302")  # stop a stream a dropped link left running
    assert cmds[1].data == bytes.fromhex("0202 0001 3200 0101 1000 0201 0400")
    assert all(c.target == pm.CONTROL_POINT for c in cmds)
    assert [c.data for c in h10.stop_commands("ble")] == [bytes.fromhex("0302")]
    verity = pm.PolarPmdProtocol(model="verity", gyro="1")
    starts = [c.data for c in verity.start_commands("ble") if c.data[0] == pm.OP_START]
    # The exact command Verity Sense accepted in polar-ble-sdk issues #331/#443.
    assert starts[0] == bytes.fromhex("02 02 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03")
    assert starts[1] == bytes.fromhex("02 05 00 01 34 00 01 01 10 00 02 01 D0 07 04 01 03")
    with pytest.raises(ValueError, match="no gyroscope"):
        pm.PolarPmdProtocol(model="h10", gyro=1)
    with pytest.raises(ValueError, match="not supported"):
        pm.PolarPmdProtocol(model="h10", rate_hz=52)


def test_real_verity_frame_from_issue_443():
    p = started("verity")  # F0 02 02 00 00: no factor, so 1.0
    (b,) = feed(p, pm.DATA, REAL_VERITY_FRAME, 9.0)
    assert len(b) == 11 and p.counters.malformed == 0
    np.testing.assert_allclose(b.acc[0], [0.750, -0.481, -0.126])  # reference EE02 1FFE 82FF mG
    # A sensor lying still: every sample is close to 1 g, and consecutive samples differ by < 0.1 g.
    assert np.all(np.abs(np.linalg.norm(b.acc, axis=1) - 0.95) < 0.06)
    assert np.max(np.abs(np.diff(b.acc, axis=0))) < 0.1
    assert b.sensor_t[-1] == pytest.approx(0x0A934512C46F4100 / 1e9)
    np.testing.assert_allclose(np.diff(b.sensor_t), 1 / 52, rtol=0, atol=1e-6)


@pytest.mark.parametrize("ftype,fmt", [(0, "<3b"), (1, "<3h")])
def test_raw_int8_int16_frames_in_mg(ftype, fmt):
    p = started()
    rows = [(100, -100, 50), (-128 if ftype == 0 else -2000, 1, 0)]
    content = b"".join(struct.pack(fmt, *r) for r in rows)
    (b,) = feed(p, pm.DATA, frame(2, TS0, ftype, content))
    np.testing.assert_allclose(b.acc, np.array(rows) / 1000.0)


def test_raw_int24_frame():
    p = started(factor=0.5)  # raw frames ignore the factor (AccData.dataFromRawType2)
    content = b"".join(v.to_bytes(3, "little", signed=True) for v in (1_000_000, -8_000_000, 7))
    (b,) = feed(p, pm.DATA, frame(2, TS0, 2, content))
    np.testing.assert_allclose(b.acc, [[1000.0, -8000.0, 0.007]])


def test_delta_frame_blocks_and_factor():
    p = started(factor=0.5)
    d1 = np.array([[1, -1, 7], [-8, 0, 2]])  # 4-bit deltas
    d2 = np.array([[-1, 0, -1]])  # 1-bit deltas: 1 means -1
    d3 = np.array([[300, -300, 0]] * 3)  # 10-bit deltas
    content = delta_content((1000, -2000, 500), [(4, d1), (1, d2), (10, d3)])
    (b,) = feed(p, pm.DATA, frame(2, TS0, 0x81, content))
    expect = np.cumsum(np.vstack([[1000, -2000, 500], d1, d2, d3]), axis=0) * 0.5 / 1000.0
    np.testing.assert_allclose(b.acc, expect)
    assert p.factor[2] == 0.5


def test_compressed_type0_factor_is_in_g():
    p = started(factor=2.0**-12)
    content = delta_content((4096, 0, -4096), [(2, np.array([[1, -1, 0]]))])
    (b,) = feed(p, pm.DATA, frame(2, TS0, 0x80, content))
    np.testing.assert_allclose(b.acc, np.array([[4096, 0, -4096], [4097, -1, -4096]]) * 2.0**-12)


def test_sample_times_follow_frame_timestamps():
    p = started(rate_hz=50)
    one = struct.pack("<3h", 0, 0, 1000) * 5
    (a,) = feed(p, pm.DATA, frame(2, TS0, 1, one))
    np.testing.assert_allclose(a.sensor_t - TS0 / 1e9, -np.arange(4, -1, -1) * 0.02, rtol=0, atol=1e-6)
    (b,) = feed(p, pm.DATA, frame(2, TS0 + 5 * 20_100_000, 1, one))  # measured 20.1 ms spacing
    np.testing.assert_allclose(np.diff(b.sensor_t), 0.0201, rtol=0, atol=1e-6)
    assert b.sensor_t[0] == pytest.approx(a.sensor_t[-1] + 0.0201)
    # After a lost frame the spacing is not stretched: the spacing learned from the timestamps
    # (not the configured rate), and the jump stays a gap.
    (c,) = feed(p, pm.DATA, frame(2, TS0 + 15 * 20_100_000, 1, one))
    np.testing.assert_allclose(np.diff(c.sensor_t), 0.0201, rtol=0, atol=1e-6)


def test_verity_gyro_paired_with_acc_by_time():
    p = pm.PolarPmdProtocol(model="verity", gyro=1)
    feed(p, pm.CONTROL_POINT, bytes([0xF0, 2, 2, 0, 0]))
    feed(p, pm.CONTROL_POINT, bytes([0xF0, 2, 5, 0, 0, 5, 1]) + struct.pack("<f", 0.1))
    acc_c = delta_content((0, 0, 1000), [(2, np.zeros((3, 3), int))])
    gyr_c = delta_content((100, -200, 0), [(8, np.array([[10, 0, 0]] * 3))])
    assert feed(p, pm.DATA, frame(2, TS0, 0x81, acc_c)) == []  # waits for gyro
    (b,) = feed(p, pm.DATA, frame(5, TS0, 0x80, gyr_c))
    np.testing.assert_allclose(b.acc, [[0, 0, 1]] * 4)
    np.testing.assert_allclose(b.gyro[:, 0], [10, 11, 12, 13])  # (100 + 10 k) x 0.1 deg/s
    np.testing.assert_allclose(b.gyro[:, 1], -20)


def test_control_point_errors_and_battery():
    p = pm.PolarPmdProtocol(model="h10")
    feed(p, pm.CONTROL_POINT, bytes.fromhex("F002020800"))
    assert "invalid sample rate" in p.counters.last_error and p.status[2] == "invalid sample rate"
    feed(p, pm.CONTROL_POINT, bytes.fromhex("0102"))
    assert "stopped" in p.counters.last_error
    feed(p, pm.BATTERY_LEVEL, bytes([85]))
    assert p.battery_pct == 85.0
    feed(p, pm.BATTERY_LEVEL, bytes([200]))  # not a percentage
    assert p.battery_pct == 85.0


def test_other_measurements_ignored_bad_frames_counted():
    p = started()
    assert feed(p, pm.DATA, frame(0, TS0, 0, b"\x01\x02\x03")) == []  # ECG: not ours
    assert p.counters.malformed == 0
    feed(p, pm.DATA, frame(2, TS0, 1, b"\x01\x02\x03"))  # not whole int16 samples
    truncated = delta_content((0, 0, 0), [(8, np.ones((4, 3), int))])[:-2]
    feed(p, pm.DATA, frame(2, TS0, 0x81, truncated))
    feed(p, pm.DATA, frame(2, TS0, 0x81, struct.pack("<3h", 0, 0, 0) + bytes([40, 1]) + b"\x00" * 15))
    feed(p, pm.DATA, b"\x02\x00")
    assert p.counters.malformed == 4


# Polar_Measurement_Data_Specification.pdf, "Request Stream Settings": the answers to [01 02].
SPEC_H10_ACC_SETTINGS = bytes.fromhex(
    "F0 01 02 00 00 00 04 19 00 32 00 64 00 C8 00 01 01 10 00 02 03 02 00 04 00 08 00"
)
SPEC_VERITY_ACC_SETTINGS = bytes.fromhex("F0 01 02 00 00 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03")


def test_h10_settings_from_the_pmd_specification():
    h10 = pm.parse_settings(SPEC_H10_ACC_SETTINGS[5:])
    assert h10 == {0: [25, 50, 100, 200], 1: [16], 2: [2, 4, 8]}  # no CHANNELS (4) setting
    assert tuple(h10[0]) == pm.MODELS["h10"]["rates"] and tuple(h10[2]) == pm.MODELS["h10"]["ranges_g"]
    assert pm.MODELS["h10"]["channels"] is None and h10[1] == [pm.RESOLUTION_BITS]
    verity = pm.parse_settings(SPEC_VERITY_ACC_SETTINGS[5:])
    assert verity == {0: [52], 1: [16], 2: [8], 4: [3]}  # normal mode: one choice each
    assert (verity[0][0], verity[2][0]) == pm.MODELS["verity"]["normal_mode_acc"]
    # Every H10 setting the sensor lists is sent (issue #124), and nothing else.
    for rate in (25, 50, 100, 200):
        for rng in (2, 4, 8):
            start = pm.PolarPmdProtocol(model="h10", rate_hz=rate, range_g=rng).start_commands("ble")[-1].data
            assert start[:2] == bytes([2, 2])
            assert pm.parse_settings(start[2:]) == {0: [rate], 1: [16], 2: [rng]}


def test_h10_start_stream_example_from_the_pmd_specification():
    # The specification starts an H10 with [02 02 | 02 01 08 00 | 00 01 C8 00 | 01 01 10 00]: the
    # same settings as ours for 200 Hz, 8 g, in another order.
    spec_start = bytes.fromhex("02 02 02 01 08 00 00 01 C8 00 01 01 10 00")
    ours = pm.PolarPmdProtocol(model="h10", rate_hz=200, range_g=8).start_commands("ble")[-1].data
    assert ours == bytes.fromhex("02 02 00 01 C8 00 01 01 10 00 02 01 08 00")
    assert pm.parse_settings(ours[2:]) == pm.parse_settings(spec_start[2:])
    p = pm.PolarPmdProtocol(model="h10", rate_hz=200, range_g=8)
    feed(p, pm.CONTROL_POINT, bytes.fromhex("F0 02 02 00 00 01"))  # its answer: success, no factor
    assert p.status[2] == "success" and p.factor[2] == 1.0 and p.counters.malformed == 0
    # Its first data frame: ACC, timestamp, frame type 1 (int16 LE). The document annotates sample
    # 0 as x "45 FF = -184 millig", y "E4 FF = -28", z "B5 03 = 949"; 0xFF45 is -187 as int16, so
    # its x is an arithmetic slip, while y and z check out.
    frame_hex = "02 EA 54 A2 42 8B 45 52 08 01 45 FF E4 FF B5 03 45 FF E4 FF B8 03"
    (b,) = feed(p, pm.DATA, bytes.fromhex(frame_hex))
    assert struct.unpack("<h", bytes.fromhex("45FF"))[0] == -187
    np.testing.assert_allclose(b.acc, [[-0.187, -0.028, 0.949], [-0.187, -0.028, 0.952]])
    assert b.sensor_t[-1] == pytest.approx(599618164814402794 / 1e9)
    np.testing.assert_allclose(np.diff(b.sensor_t), 1 / 200, atol=1e-6)


def test_verity_delta_frame_example_from_the_pmd_specification():
    # "Host requests start acc stream (delta framed)": answer with FACTOR 0x397FDA40 (0.000244 g);
    # the frame's reference sample (-48, 357, 4068) and its first two 8-bit deltas (the example
    # shows 2 of the 29 deltas, so the block count is 2 here).
    p = pm.PolarPmdProtocol(model="verity")
    feed(p, pm.CONTROL_POINT, bytes.fromhex("F0 02 02 00 00 05 01 40 DA 7F 39"))
    factor = struct.unpack("<f", bytes.fromhex("40DA7F39"))[0]
    assert p.factor[2] == pytest.approx(factor) and factor == pytest.approx(0.000244, rel=1e-3)
    frame_bytes = bytes.fromhex("02 64 6C 76 C4 3C C6 7F 07 80 D0 FF 65 01 E4 0F 08 02 FC 07 FF 0C 13 F2")
    (b,) = feed(p, pm.DATA, frame_bytes)
    raw = np.array([[-48, 357, 4068], [-52, 364, 4067], [-40, 383, 4053]])
    np.testing.assert_allclose(b.acc, raw * factor)  # compressed type 0: factor in g
    assert b.sensor_t[-1] == pytest.approx(540368444604181604 / 1e9)


def test_verity_sdk_mode_only_outside_normal_mode_settings():
    normal = pm.PolarPmdProtocol(model="verity")  # 52 Hz, 8 g
    assert not normal.sdk_mode
    assert bytes([2, 9]) not in [c.data for c in normal.start_commands("ble")]
    fast = pm.PolarPmdProtocol(model="verity", rate_hz=104)
    assert [c.data.hex() for c in fast.start_commands("ble")] == [
        "0302",  # no stream may run while the mode changes
        "0209",  # REQUEST_MEASUREMENT_START, SDK_MODE (BlePMDClient.startSDKMode)
        "0202000168000101100002010800040103",
    ]
    assert [c.data.hex() for c in fast.stop_commands("ble")] == ["0302", "0309"]
    assert pm.PolarPmdProtocol(model="verity", range_g=16).sdk_mode
    assert not pm.PolarPmdProtocol(model="h10", rate_hz=200).sdk_mode
    feed(fast, pm.CONTROL_POINT, bytes.fromhex("F0 02 09 06 00"))  # already in SDK mode: fine
    assert fast.counters.last_error == ""
    feed(fast, pm.CONTROL_POINT, bytes.fromhex("F0 02 09 03 00"))  # not supported (old firmware)
    assert "SDK mode" in fast.counters.last_error and "104 Hz" in fast.counters.last_error
    assert 9 not in fast.factor


def test_registry_and_scan():
    assert get_device("verity").name == "polar-verity"
    assert get_device("h10").name == "polar-h10"
    assert make_protocol("polar-verity", gyro="1").gyro
    assert match_advertisement("Polar H10 9A4B2C1D", []).name == "polar-h10"
    assert match_advertisement("Polar Sense B5A2C3D4", []).name == "polar-verity"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([pm.DATA, pm.CONTROL_POINT]), st.binary(max_size=90)), max_size=10))
def test_fuzz_only_counted_errors_then_resync(packets):
    p = started("verity", gyro=0)
    for src, data in packets:
        data = bytes([2]) + data[1:] if src == pm.DATA and data else data  # mostly ACC frames
        for b in feed(p, src, data):
            assert b.acc.shape[1] == 3
    assert p.counters.payloads == len(packets) + 1
    feed(p, pm.CONTROL_POINT, bytes([0xF0, 2, 2, 0, 0]))  # a fresh start response: factor 1
    (b,) = feed(p, pm.DATA, REAL_VERITY_FRAME)
    np.testing.assert_allclose(b.acc[0], [0.750, -0.481, -0.126])
