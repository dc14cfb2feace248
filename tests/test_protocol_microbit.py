"""micro:bit accelerometer service decoder against byte vectors built from microbit-dal.

Layout: ``MicroBitAccelerometerService.cpp`` notifies ``int16_t[3] = {x, y, z}`` in milli-g
(little-endian, 6 bytes) and takes the period as a uint16 in ms.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.protocols import microbit as mb
from firmware_bridge.protocols.registry import get_device, make_protocol, match_advertisement
from firmware_bridge.transports.base import RawPayload


def feed(p, data: bytes, t: float = 0.0):
    return p.feed(RawPayload(t, mb.DATA, data))


def test_sample_layout_and_scale():
    p = mb.MicrobitProtocol()
    (b,) = feed(p, struct.pack("<3h", 1024, -512, -2048), 3.5)
    np.testing.assert_allclose(b.acc, [[1.024, -0.512, -2.048]])
    assert b.gyro is None and b.sensor_t is None and b.host_t == 3.5
    assert b.rate_hz == 50.0
    # little-endian, signed: 0xFC18 = -1000 mg
    (b,) = feed(p, bytes.fromhex("18FC E803 0000"))
    np.testing.assert_allclose(b.acc, [[-1.0, 1.0, 0.0]])


def test_period_command():
    p = mb.MicrobitProtocol(period_ms="10")
    (cmd,) = p.start_commands("ble")
    assert cmd.target == mb.PERIOD and cmd.data == bytes([10, 0])
    assert mb.period_command(640) == bytes.fromhex("8002")
    assert p.nominal_rate_hz == 100.0
    with pytest.raises(ValueError, match="not supported"):
        mb.MicrobitProtocol(period_ms=0)  # writing 0 crashes the board
    with pytest.raises(ValueError, match="not supported"):
        mb.MicrobitProtocol(period_ms=15)


def test_wrong_length_is_counted():
    p = mb.MicrobitProtocol()
    assert feed(p, b"\x01\x02\x03\x04") == []
    assert feed(p, struct.pack("<3h", 1, 2, 3) * 2) == []
    assert p.counters.malformed == 2 and p.counters.skipped_bytes == 16


def test_registry_and_scan():
    assert get_device("micro:bit").name == "microbit"
    assert make_protocol("microbit", period_ms="20").period_ms == 20
    assert match_advertisement("BBC micro:bit [zatov]", []).name == "microbit"
    assert match_advertisement(None, [mb.SERVICE.upper()]).name == "microbit"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=12), max_size=15))
def test_fuzz_only_counted_errors_then_valid(chunks):
    p = mb.MicrobitProtocol()
    for c in chunks:
        for b in feed(p, c):
            assert np.all(np.abs(b.acc) <= 32.768)
    assert p.counters.malformed == sum(len(c) != 6 for c in chunks)
    (b,) = feed(p, struct.pack("<3h", 0, 0, 1000))
    np.testing.assert_allclose(b.acc, [[0, 0, 1]])
