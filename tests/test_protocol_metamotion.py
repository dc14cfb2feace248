"""MetaWear/MetaMotion decoder and commands against byte vectors built from MbientLab's SDKs.

Layout (MetaWear-SDK-Cpp ``src/metawear/sensor/cpp/accelerometer_bosch.cpp``, ``gyro_bosch.cpp``,
``gyro_bosch_register.h``, ``core/cpp/datasignal.cpp``, ``core/cpp/settings.cpp``; MetaWear-SDK-
Android ``impl/AccelerometerBmi270Impl.java``): packets ``[module, register, data]``;
acceleration ``[03 04 x y z]`` int16 LE at 16384/8192/4096/2048 LSB per g for 2/4/8/16 g;
packed acceleration (3 samples, 18 bytes) ``[03 1C ...]`` on BMI160/BMA255 and ``[03 05 ...]``
on BMI270; rotation ``[13 05 ...]`` (BMI160) / ``[13 04 ...]`` (BMI270), packed ``[13 07 ...]``
/ ``[13 05 ...]``, at 16.4 LSB per deg/s for 2000 deg/s; battery ``[11 8C charge mV]``.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.protocols import metamotion as mm
from firmware_bridge.protocols.registry import get_device, make_protocol, match_advertisement
from firmware_bridge.transports.base import RawPayload


def feed(p, data: bytes, t: float = 0.0):
    return p.feed(RawPayload(t, mm.NOTIFY, data))


def acc_packet(*xyz: int, register: int = 0x04) -> bytes:
    return bytes([0x03, register]) + struct.pack(f"<{len(xyz)}h", *xyz)


def test_config_bytes_match_the_sdk_defaults():
    # The SDK's own default configs: BMI160 {0x28, 0x03} = 100 Hz, 2 g; BMI270 {0xa8, 0x02} =
    # 100 Hz, 8 g; BMA255 {0x0a, 0x03} = 62.5 Hz, 2 g (BMI160/BMI270/BMA255_DEFAULT_CONFIG).
    assert mm.acc_config_bytes("bmi160", 100.0, 2) == bytes([0x28, 0x03])
    assert mm.acc_config_bytes("bmi270", 100.0, 8) == bytes([0xA8, 0x02])
    assert mm.acc_config_bytes("bma255", 62.5, 2) == bytes([0x0A, 0x03])
    assert mm.acc_config_bytes("bmi160", 200.0, 16) == bytes([0x29, 0x0C])
    assert mm.acc_config_bytes("bmi160", 6.25, 4) == bytes([0x84, 0x05])  # us=1, bwp=0 below 12.5 Hz


def test_start_and_stop_sequences():
    p = mm.MetaMotionProtocol()  # BMI160, 100 Hz, 8 g
    cmds = p.start_commands("ble")
    assert [c.data.hex() for c in cmds] == [
        "0380",  # module info
        "03032808",  # DATA_CONFIG: 100 Hz, 8 g
        "030401",  # subscribe to the acceleration signal
        "03020100",  # enable acceleration sampling
        "030101",  # start
        "0383",  # read the config back
        "118c",  # battery
    ]
    assert all(c.target == mm.COMMAND and c.response is False for c in cmds)
    assert [c.data.hex() for c in p.stop_commands("ble")] == ["030100", "03020001", "030400"]
    g = mm.MetaMotionProtocol(gyro="1", model="bmi270")
    hexes = [c.data.hex() for c in g.start_commands("ble")]
    assert "13032800" in hexes and "130401" in hexes  # 100 Hz, 2000 dps; BMI270 rotation register 4
    with pytest.raises(ValueError, match="gyro"):
        mm.MetaMotionProtocol(gyro=1, model="bma255", rate_hz=62.5)
    with pytest.raises(ValueError, match="not supported"):
        mm.MetaMotionProtocol(rate_hz=60)


def test_acceleration_scale_and_packed_samples():
    p = mm.MetaMotionProtocol(range_g=8)
    (b,) = feed(p, acc_packet(4096, -2048, 0), 2.0)
    np.testing.assert_allclose(b.acc, [[1.0, -0.5, 0.0]])
    assert b.gyro is None and b.sensor_t is None and b.host_t == 2.0 and b.rate_hz == 100.0
    (b,) = feed(p, acc_packet(1, 2, 3, 4096, 0, 0, -4096, -4096, 4096, register=0x1C))
    assert len(b) == 3
    np.testing.assert_allclose(b.acc[1:], [[1, 0, 0], [-1, -1, 1]])


def test_scale_follows_the_range_the_board_reports():
    p = mm.MetaMotionProtocol(range_g=8)
    feed(p, bytes([0x03, 0x83, 0x28, 0x03]))  # the board says 2 g
    (b,) = feed(p, acc_packet(16384, 0, 0))
    np.testing.assert_allclose(b.acc, [[1.0, 0, 0]])
    assert p.range_g == 2


def test_module_info_mismatch_is_reported():
    p = mm.MetaMotionProtocol(model="bmi160")
    feed(p, bytes([0x03, 0x80, 4, 1]))  # implementation 4 = BMI270
    assert p.reported_model == "bmi270" and "model=bmi270" in p.counters.last_error
    feed(p, bytes([0x03, 0x83, 0xA8, 0x01]))  # BMI270 range code 1 = 4 g
    assert p.acc_lsb_per_g == 8192.0


def test_battery_reply():
    p = mm.MetaMotionProtocol()
    feed(p, bytes([0x11, 0x8C, 87]) + struct.pack("<H", 4012))
    assert p.battery_pct == 87.0 and p.battery_mv == 4012
    assert [c.data for c in p.poll_commands("ble")] == [bytes([0x11, 0x8C])]


def test_gyro_paired_with_acceleration():
    p = mm.MetaMotionProtocol(gyro=1, model="bmi160")
    assert feed(p, acc_packet(4096, 0, 0)) == []
    assert feed(p, acc_packet(0, 4096, 0)) == []
    (b,) = feed(p, bytes([0x13, 0x05]) + struct.pack("<3h", 164, -164, 0))
    np.testing.assert_allclose(b.acc, [[1, 0, 0]])
    np.testing.assert_allclose(b.gyro, [[10.0, -10.0, 0.0]])
    (b,) = feed(p, bytes([0x13, 0x05]) + struct.pack("<3h", 0, 0, 16400 // 10))
    np.testing.assert_allclose(b.acc, [[0, 1, 0]])
    np.testing.assert_allclose(b.gyro, [[0, 0, 100.0]])


def test_stalled_gyro_does_not_hold_acceleration_forever():
    p = mm.MetaMotionProtocol(gyro=1, rate_hz=25)
    out = []
    for _ in range(60):  # 2.4 s at 25 Hz with no rotation samples
        out += feed(p, acc_packet(0, 0, 4096))
    assert sum(len(b) for b in out) == 51 and all(b.gyro is None for b in out)
    assert "stalled" in p.counters.last_error


def test_malformed_packets_counted_and_foreign_ignored():
    p = mm.MetaMotionProtocol()
    feed(p, b"\x03")
    feed(p, acc_packet(1, 2))  # 4 data bytes
    assert p.counters.malformed == 2
    assert feed(p, bytes([0x05, 0x01, 0x00])) == []  # GPIO reply: not ours
    assert p.counters.malformed == 2


def packed(*samples: tuple[int, int, int], module: int = 0x03, register: int = 0x05) -> bytes:
    """A packed notification: [module, register] then consecutive int16 LE x, y, z samples."""
    return bytes([module, register]) + b"".join(struct.pack("<3h", *xyz) for xyz in samples)


def test_bmi270_packed_acceleration_register_5():
    # BMI270 packed acceleration is register 0x05 (Android AccelerometerBmi270Impl PACKED_ACC_DATA
    # = 0x5), three 6-byte samples; 8 g on a BMI270 = range code 2 = 4096 LSB per g.
    p = mm.MetaMotionProtocol(model="bmi270", range_g=8, rate_hz=200)
    (b,) = feed(p, packed((4096, 0, -2048), (0, 8192, 0), (-4096, -4096, 4096)), 3.5)
    np.testing.assert_allclose(b.acc, [[1.0, 0.0, -0.5], [0.0, 2.0, 0.0], [-1.0, -1.0, 1.0]])
    assert b.host_t == 3.5 and b.rate_hz == 200.0 and p.counters.frames == 1
    # The BMI160 packed register means nothing on a BMI270 board, and vice versa.
    assert feed(p, packed((1, 2, 3), (4, 5, 6), (7, 8, 9), register=0x1C)) == []
    b160 = mm.MetaMotionProtocol(model="bmi160", rate_hz=200)
    assert feed(b160, packed((1, 2, 3), (4, 5, 6), (7, 8, 9), register=0x05)) == []
    assert p.counters.malformed == 0 and b160.counters.malformed == 0


def test_reported_bmi270_switches_the_packed_register():
    p = mm.MetaMotionProtocol(model="bmi160", rate_hz=200)  # the user picked the wrong chip
    assert feed(p, packed((4096, 0, 0), (0, 4096, 0), (0, 0, 4096))) == []
    feed(p, bytes([0x03, 0x80, 4, 0]))  # implementation 4: a BMI270
    feed(p, bytes([0x03, 0x83, 0xA9, 0x02]))  # its config: 200 Hz, range code 2 = 8 g
    (b,) = feed(p, packed((4096, 0, 0), (0, 4096, 0), (0, 0, 4096)))
    np.testing.assert_allclose(b.acc, np.eye(3))
    assert "model=bmi270" in p.counters.last_error


def test_packed_lengths_follow_the_sdk_handler():
    # response_handler_packed_data walks the payload 6 bytes at a time: any whole number of samples
    # decodes; a single-sample register takes exactly 6 bytes.
    p = mm.MetaMotionProtocol(model="bmi270", range_g=2)
    (b,) = feed(p, packed((16384, 0, 0), (0, -16384, 0)))
    np.testing.assert_allclose(b.acc, [[1, 0, 0], [0, -1, 0]])
    feed(p, packed((1, 2, 3)) + b"\x00")  # 7 bytes
    feed(p, bytes([0x03, 0x05]))  # no samples
    feed(p, acc_packet(1, 2, 3, 4, 5, 6, 7, 8, 9))  # 18 bytes on the single-sample register
    assert p.counters.malformed == 3 and p.counters.frames == 1


def test_packed_subscription_above_100_hz():
    hexes = [c.data.hex() for c in mm.MetaMotionProtocol(rate_hz=200).start_commands("ble")]
    assert "031c01" in hexes and "030401" not in hexes  # BMI160 packed: [03 1C 01]
    p = mm.MetaMotionProtocol(rate_hz=200, model="bmi270", gyro=1)
    hexes = [c.data.hex() for c in p.start_commands("ble")]
    assert "030501" in hexes and "130501" in hexes and "13032900" in hexes  # 200 Hz gyro, packed
    assert "030400" not in [c.data.hex() for c in p.stop_commands("ble")]
    assert [c.data.hex() for c in p.stop_commands("ble")][:3] == ["030100", "03020001", "030500"]
    g160 = mm.MetaMotionProtocol(rate_hz=400, gyro=1)
    assert "130701" in [c.data.hex() for c in g160.start_commands("ble")]  # BMI160 gyro packed 0x07
    # 100 Hz and below stream single samples unless asked; packed=1 forces the packed signal.
    assert "030401" in [c.data.hex() for c in mm.MetaMotionProtocol().start_commands("ble")]
    assert "031c01" in [c.data.hex() for c in mm.MetaMotionProtocol(packed="1").start_commands("ble")]
    assert "030401" in [
        c.data.hex() for c in mm.MetaMotionProtocol(rate_hz=400, packed=0).start_commands("ble")
    ]
    with pytest.raises(ValueError, match="packed"):
        mm.MetaMotionProtocol(packed="sometimes")


def test_packed_needs_module_revision_1_on_bmi160():
    p = mm.MetaMotionProtocol(rate_hz=200)
    feed(p, bytes([0x03, 0x80, 1, 0]))  # BMI160, module revision 0: no PACKED_ACC_DATA
    assert "packed=0" in p.counters.last_error
    q = mm.MetaMotionProtocol(rate_hz=200)
    feed(q, bytes([0x03, 0x80, 1, 1]))
    assert q.counters.last_error == ""


def test_bmi270_packed_gyro_paired_with_packed_acc():
    p = mm.MetaMotionProtocol(model="bmi270", gyro=1, rate_hz=200)  # 8 g, 2000 deg/s
    assert feed(p, packed((4096, 0, 0), (0, 4096, 0), (0, 0, 4096))) == []
    (b,) = feed(p, packed((164, 0, 0), (0, -328, 0), (0, 0, 1640), module=0x13, register=0x05))
    np.testing.assert_allclose(b.acc, np.eye(3))
    np.testing.assert_allclose(b.gyro, [[10, 0, 0], [0, -20, 0], [0, 0, 100]])
    # A single BMI270 rotation sample (register 0x04) pairs with the oldest waiting acceleration.
    assert feed(p, packed((0, 0, 4096), (0, 0, 2048), (0, 0, 0))) == []
    (c,) = feed(p, packed((0, 0, -164), module=0x13, register=0x04))
    np.testing.assert_allclose(c.acc, [[0, 0, 1]])
    np.testing.assert_allclose(c.gyro, [[0, 0, -10]])
    assert len(p._acc) == 2 and p.counters.malformed == 0


def test_registry_and_scan():
    assert get_device("MetaWear").name == "metamotion"
    assert make_protocol("metamotion", model="bmi270", range_g="4").config == bytes([0xA8, 0x01])
    assert match_advertisement("MetaWear", []).name == "metamotion"
    assert match_advertisement(None, [mm.SERVICE]).name == "metamotion"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=24), max_size=12), st.booleans())
def test_fuzz_only_counted_errors_then_valid(chunks, gyro):
    p = mm.MetaMotionProtocol(gyro=gyro)
    for c in chunks:
        data = bytes([0x03 if len(c) % 2 else 0x13]) + c  # steer towards our modules
        for b in feed(p, data):
            assert b.acc.shape[1] == 3 and np.all(np.isfinite(b.acc))
    assert p.counters.payloads == len(chunks)
    p.reset()
    out = feed(p, acc_packet(0, 0, 4096)) + feed(p, bytes([0x13, 0x05]) + struct.pack("<3h", 0, 0, 0))
    assert len(out) == 1 and len(out[0]) == 1
    assert out[0].acc[0, 2] == pytest.approx(4096 / p.acc_lsb_per_g)
