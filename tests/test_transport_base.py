"""The transport contract: bounded queue with drop-oldest, drain-before-lost, capture hook."""

from __future__ import annotations

import threading

import pytest

from firmware_bridge.transports.base import (
    PayloadQueue,
    RawPayload,
    TransportError,
    TransportLost,
    normalize_uuid,
)
from firmware_bridge.transports.virtual import VirtualTransport


def test_queue_drops_oldest_and_counts():
    q = PayloadQueue(maxlen=3)
    for i in range(5):
        q.put(RawPayload(float(i), "serial", bytes([i])))
    assert q.dropped == 2
    got = [q.get(0.0).data for _ in range(3)]
    assert got == [b"\x02", b"\x03", b"\x04"]
    assert q.get(0.0) is None


def test_queue_get_wakes_on_put_from_other_thread():
    q = PayloadQueue(maxlen=8)
    t = threading.Timer(0.05, lambda: q.put(RawPayload(1.0, "serial", b"x")))
    t.start()
    item = q.get(5.0)
    t.join()
    assert item is not None and item.data == b"x"


def test_payloads_before_a_disconnect_are_delivered_then_lost_is_raised():
    v = VirtualTransport()
    seen: list[RawPayload] = []
    v.on_payload = seen.append
    v.open(["serial"])
    v.inject(b"a")
    v.inject(b"b")
    v.disconnect()
    assert v.recv(0.0).data == b"a"
    assert v.recv(0.0).data == b"b"
    with pytest.raises(TransportLost):
        v.recv(0.0)
    assert [p.data for p in seen] == [b"a", b"b"]
    v.open(["serial"])  # reconnect clears the lost state
    assert v.recv(0.0) is None


def test_unavailable_device_raises_transport_error():
    v = VirtualTransport()
    v.available = False
    with pytest.raises(TransportError):
        v.open([])


def test_normalize_uuid_expands_short_forms():
    assert normalize_uuid("FFE4") == "0000ffe4-0000-1000-8000-00805f9b34fb"
    assert normalize_uuid("6E400003-B5A3-F393-E0A9-E50E24DCCA9E") == ("6e400003-b5a3-f393-e0a9-e50e24dcca9e")
