"""Serial text lines: separators, units, header, malformed lines, split payloads, fuzzing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.protocols.registry import make_protocol
from firmware_bridge.protocols.serial_text import STANDARD_GRAVITY_MS2, SerialTextProtocol
from firmware_bridge.transports.base import RawPayload


def feed(proto, data: bytes, t: float = 0.0):
    return proto.feed(RawPayload(t, "serial", data))


def test_comma_semicolon_space_and_header():
    p = SerialTextProtocol(time_unit="ms")
    text = b"time_ms,ax,ay,az,gx,gy,gz\r\n0,0,0,1,1,2,3\r\n10;0.5;0;1;0;0;0\n20 0 0 1\t0 0 0\n"
    (b,) = feed(p, text)
    np.testing.assert_allclose(b.sensor_t, [0.0, 0.01, 0.02])
    np.testing.assert_allclose(b.acc[1], [0.5, 0.0, 1.0])
    np.testing.assert_allclose(b.gyro[0], [1.0, 2.0, 3.0])
    assert p.header == ["time_ms", "ax", "ay", "az", "gx", "gy", "gz"]
    assert p.counters.malformed == 0 and p.counters.frames == 3


def test_units_are_converted_exactly():
    p = SerialTextProtocol(acc_unit="m/s2", gyro_unit="rad/s", time_unit="us")
    (b,) = feed(p, f"1000000,{STANDARD_GRAVITY_MS2},0,0,{np.pi},0,0\n".encode())
    assert b.sensor_t[0] == 1.0
    np.testing.assert_allclose(b.acc[0], [1.0, 0.0, 0.0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(b.gyro[0], [180.0, 0.0, 0.0], rtol=1e-15)


def test_accelerometer_only_lines_and_width_change_split_batches():
    p = SerialTextProtocol(time_unit="s")
    out = feed(p, b"0,0,0,1\n0.01,0,0,1\n0.02,0,0,1,5,5,5\n")
    assert [len(b) for b in out] == [2, 1]
    assert out[0].gyro is None and out[1].gyro is not None


def test_malformed_lines_are_counted_and_skipped():
    p = SerialTextProtocol()
    data = b"0,0,0,1\nets Jul 29 2019 boot:0x13\n1,2,3\n5,nan,0,1\n\xff\xfe\n20,0,0,1\n"
    (b,) = feed(p, data)
    assert len(b) == 2
    assert p.counters.malformed == 4
    assert "not a number" in p.counters.last_error or p.counters.last_error


def test_lines_split_across_payloads():
    p = SerialTextProtocol()
    out = feed(p, b"0,0,0,1\n10,0,")
    out += feed(p, b"0,1\n20,0,0,1")
    out += feed(p, b"\n")
    t = np.concatenate([b.sensor_t for b in out])
    np.testing.assert_allclose(t, [0.0, 0.01, 0.02])


def test_endless_line_is_dropped_with_bounded_memory():
    p = SerialTextProtocol()
    feed(p, b"1" * 2000)
    assert p.counters.malformed == 1 and p.counters.skipped_bytes == 2000
    (b,) = feed(p, b"\n0,0,0,1\n")
    assert len(b) == 1


def test_bad_unit_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown acceleration unit"):
        SerialTextProtocol(acc_unit="furlong")
    p = make_protocol("arduino", acc_unit="m/s²", time_unit="s")
    assert isinstance(p, SerialTextProtocol)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=10))
def test_fuzz_random_bytes_only_counted(chunks):
    p = SerialTextProtocol()
    for c in chunks:
        for b in feed(p, c):
            assert b.acc.shape[1] == 3 and np.all(np.isfinite(b.acc))
    assert p.counters.payloads == len(chunks)
