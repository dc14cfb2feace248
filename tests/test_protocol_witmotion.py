"""WitMotion WT901BLECL/WT9011DCL decoder against byte vectors built from WitMotion's docs.

Rate codes: WIT standard protocol ``REG.h`` (WITMOTION/WitStandardProtocol_JY901 ``ESP32/main/
REG.h``: RRATE_10HZ 0x06 ... RRATE_100HZ 0x09, RRATE_125HZ 0x0a only WT931, RRATE_200HZ 0x0b) and
the BLE 5.0 SDK example (``Windows_C#/Wit.Example_BWT901BLE/Form1.cs``: 10 Hz = 0x06, 50 Hz = 0x08).
Register read replies ``55 71 reg 00`` + 8 int16 registers: WT901BLECL datasheet 6.1.2.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.protocols import witmotion as wm
from firmware_bridge.protocols.registry import get_device, match_advertisement
from firmware_bridge.transports.base import RawPayload


def packet(ax, ay, az, gx, gy, gz, roll=0, pitch=0, yaw=0) -> bytes:
    """A 0x55 0x61 packet as in the WT901BLECL datasheet 6.1.1 (int16, low byte first)."""
    return bytes([0x55, 0x61]) + struct.pack("<9h", ax, ay, az, gx, gy, gz, roll, pitch, yaw)


def feed(p, data, t=0.0):
    return p.feed(RawPayload(t, wm.NOTIFY, data))


def test_datasheet_layout_and_scale():
    # 2048 LSB = 1 g (16 g full scale), 16384 LSB = 1000 deg/s (2000 deg/s full scale),
    # 16384 LSB = 90 deg: scale factors from WitMotion's SDK (value / 32768 * range).
    p = wm.WitMotionProtocol()
    (b,) = feed(p, packet(2048, -1024, 0, 16384, 0, -164, 16384, 0, -8192))
    np.testing.assert_allclose(b.acc, [[1.0, -0.5, 0.0]])
    np.testing.assert_allclose(b.gyro, [[1000.0, 0.0, -164 * 2000 / 32768]])
    np.testing.assert_allclose(p.angles_deg, [90.0, 0.0, -45.0])
    assert b.sensor_t is None and b.seq is None
    assert len(packet(0, 0, 0, 0, 0, 0)) == 20


def test_several_packets_per_notification_and_split_packets():
    p = wm.WitMotionProtocol()
    stream = b"".join(packet(i, 0, 2048, 0, 0, 0) for i in range(5))
    out = feed(p, stream[:45]) + feed(p, stream[45:71]) + feed(p, stream[71:])
    acc = np.vstack([b.acc for b in out])
    np.testing.assert_allclose(acc[:, 0] * 32768 / 16, np.arange(5))
    assert p.counters.malformed == 0


def test_garbage_is_skipped_and_counted():
    p = wm.WitMotionProtocol()
    (b,) = feed(p, b"\x01\x55\x02" + packet(1, 2, 3, 4, 5, 6))
    assert len(b) == 1
    assert p.counters.malformed == 1 and p.counters.skipped_bytes == 3


def test_register_reply_from_datasheet_is_not_a_sample():
    # "55 71 3A 00 68 01 69 00 7A 00 ..." (magnetic field read, WT901BLECL manual 7.2.8)
    p = wm.WitMotionProtocol()
    reply = bytes.fromhex("55713A00680169007A0000000000000000000000")
    assert feed(p, reply) == []
    assert p.counters.malformed == 0 and p.battery_pct is None


def test_battery_register_reply():
    p = wm.WitMotionProtocol()
    reply = bytes([0x55, 0x71, 0x64, 0x00]) + struct.pack("<8H", 382, *([0] * 7))
    feed(p, reply)
    assert p.battery_volts == pytest.approx(3.82)
    assert p.battery_pct == pytest.approx(50.0)
    assert wm.battery_percent(4.3) == 100.0 and wm.battery_percent(3.0) == 0.0


def test_start_commands_unlock_then_rate():
    p = wm.WitMotionProtocol(rate_hz="50")
    cmds = p.start_commands("ble")
    assert cmds[0].data == bytes.fromhex("FFAA6988B5")
    assert cmds[1].data == bytes.fromhex("FFAA030800")
    assert all(c.target == wm.WRITE for c in cmds)
    assert wm.WitMotionProtocol().start_commands("ble")[1].data == bytes.fromhex("FFAA030900")
    assert p.poll_commands("ble")[0].data == bytes.fromhex("FFAA276400")
    with pytest.raises(ValueError, match="not supported"):
        wm.WitMotionProtocol(rate_hz=33)


def rrate_reply(code: int) -> bytes:
    """The 20-byte answer to ``FF AA 27 03 00``: start register 0x0003, then 8 registers."""
    return bytes([0x55, 0x71, 0x03, 0x00]) + struct.pack("<8H", code, *([0] * 7))


@pytest.mark.parametrize("rate_hz,code", [(10, 0x06), (20, 0x07), (50, 0x08), (100, 0x09), (200, 0x0B)])
def test_rate_codes_from_the_wit_register_table(rate_hz, code):
    p = wm.WitMotionProtocol(rate_hz=rate_hz)
    data = [c.data for c in p.start_commands("ble")]
    assert data[:4] == [
        bytes.fromhex("FFAA6988B5"),  # unlock
        bytes([0xFF, 0xAA, 0x03, code, 0x00]),  # RRATE
        bytes.fromhex("FFAA270300"),  # read RRATE back
        bytes.fromhex("FFAA276400"),  # battery
    ]
    feed(p, rrate_reply(code))
    assert p.device_rate_hz == rate_hz and p.nominal_rate_hz == rate_hz
    assert p.counters.last_error == "" and p.counters.malformed == 0


def test_sensor_that_keeps_another_rate_is_timed_at_its_own_rate():
    p = wm.WitMotionProtocol(rate_hz=200)
    feed(p, rrate_reply(0x08))  # the sensor stayed at 50 Hz
    assert p.device_rate_hz == 50.0 and p.nominal_rate_hz == 50.0
    assert "50 Hz" in p.counters.last_error and "200 Hz" in p.counters.last_error
    (b,) = feed(p, packet(0, 0, 2048, 0, 0, 0))
    assert b.rate_hz == 50.0
    # A reconnect asks for the rate the user chose again, not the one the sensor kept.
    assert p.start_commands("ble")[1].data == bytes.fromhex("FFAA030B00")
    q = wm.WitMotionProtocol(rate_hz=100)
    feed(q, rrate_reply(0x0C))  # single-shot mode: not streaming
    assert q.device_rate_hz == 0.0 and q.nominal_rate_hz == 100.0
    assert "not streaming" in q.counters.last_error
    r = wm.WitMotionProtocol(rate_hz=100)
    feed(r, rrate_reply(0x1009))  # only RRATE[3:0] is the rate
    assert r.device_rate_hz == 100.0 and r.counters.last_error == ""


def test_registry_and_scan_matching():
    assert get_device("WT9011DCL").name == "witmotion"
    assert match_advertisement(None, ["0000FFE5-0000-1000-8000-00805F9A34FB"]).name == "witmotion"
    assert match_advertisement("WT901BLE68", []).name == "witmotion"
    assert match_advertisement("Some Headphones", ["180d"]) is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=10))
def test_fuzz_random_bytes_only_counted(chunks):
    p = wm.WitMotionProtocol()
    for c in chunks:
        for b in feed(p, c):
            assert np.all(np.abs(b.acc) <= 16.0) and np.all(np.abs(b.gyro) <= 2000.0)
    assert p.counters.payloads == len(chunks)
    assert len(p._buffers.get(wm.NOTIFY, b"")) < 20
