"""The live source over a virtual transport: reconnection, watchdog, drops, stop, heartbeats."""

from __future__ import annotations

import threading
import time

import pytest
from bridge_helpers import reference_stream, sample_ids

from firmware_bridge.live import LiveSource
from firmware_bridge.protocols.reference import ReferenceFrameProtocol
from firmware_bridge.protocols.witmotion import WitMotionProtocol
from firmware_bridge.transports.base import TransportError
from firmware_bridge.transports.virtual import VirtualTransport


def wait_for(cond, timeout_s=5.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def test_disconnect_reconnect_keeps_everything_and_records_the_gap():
    v = VirtualTransport()
    src = LiveSource(v, ReferenceFrameProtocol(), backoff_s=(0.05, 0.2), watchdog_s=None)

    def device():
        assert wait_for(lambda: v.is_open)
        for seq in range(20):
            v.inject(reference_stream(seq)[:-7])  # frames split across payloads
            v.inject(reference_stream(seq)[-7:])
        v.disconnect()  # link drops; frames 20..29 are never sent (device was away 1 s)
        assert wait_for(lambda: v.opens == 2)
        for seq in range(40, 50):
            v.inject(reference_stream(seq), t=time.time() + 1.0)
        time.sleep(0.2)
        src.stop()

    th = threading.Thread(target=device)
    th.start()
    blocks = [b for b in src if len(b)]
    th.join()
    ids = sample_ids(blocks)
    assert ids == list(range(100)) + list(range(200, 250))  # nothing before the loss is lost
    st = src.stats
    assert st.reconnects == 1 and st.connects == 2 and st.state == "stopped"
    (gap,) = st.gaps
    assert gap["reason"] == "disconnected"
    assert gap["end_s"] - gap["start_s"] == pytest.approx(1.01, abs=1e-6)  # from sensor clock
    assert gap["lost_samples"] == 100
    assert st.battery_pct == 80.0 and st.malformed == 0


def test_watchdog_reconnects_a_silent_sensor():
    v = VirtualTransport()
    src = LiveSource(v, ReferenceFrameProtocol(), backoff_s=(0.01, 0.05), watchdog_s=0.2)

    def device():
        assert wait_for(lambda: v.is_open)
        v.inject(reference_stream(0))
        assert wait_for(lambda: v.opens >= 2)  # watchdog closed and reopened the link
        v.inject(reference_stream(1))
        time.sleep(0.1)
        src.stop()

    th = threading.Thread(target=device)
    th.start()
    ids = sample_ids([b for b in src if len(b)])
    th.join()
    assert ids == list(range(10))
    assert src.stats.watchdog_resets >= 1


def test_bounded_queue_drops_oldest_and_counts_when_core_falls_behind():
    v = VirtualTransport(queue_len=10)
    src = LiveSource(v, ReferenceFrameProtocol(), watchdog_s=None)
    src.connect()
    for seq in range(30):  # the consumer is not reading: 30 frames into a 10-slot queue
        v.inject(reference_stream(seq))
    it = iter(src)
    got = []
    end = time.monotonic() + 2.0
    while time.monotonic() < end and sum(len(b) for b in got) < 50:
        b = next(it)
        if len(b):
            got.append(b)
    src.stop()
    for _ in it:
        pass
    assert sample_ids(got) == list(range(100, 150))  # the newest 10 frames
    assert src.stats.dropped == 20


def test_heartbeats_while_idle_and_stop_ends_iteration():
    v = VirtualTransport()
    proto = WitMotionProtocol()
    src = LiveSource(v, proto, watchdog_s=None)
    beats = 0
    t0 = time.monotonic()
    for b in src:
        assert len(b) == 0
        beats += 1
        if beats == 3:
            src.stop()
    assert beats == 3 and time.monotonic() - t0 < 3.0
    sent = [c.data.hex() for c in v.written]
    assert sent[:2] == ["ffaa6988b5", "ffaa030900"]  # WitMotion unlock + 100 Hz, on connect
    assert not v.is_open


def test_first_connection_gives_up_with_an_error():
    v = VirtualTransport()
    v.available = False
    src = LiveSource(v, ReferenceFrameProtocol(), backoff_s=(0.01, 0.02), first_connect_timeout_s=0.1)
    with pytest.raises(TransportError):
        src.connect()


def test_duration_ends_the_session():
    v = VirtualTransport()
    src = LiveSource(v, ReferenceFrameProtocol(), watchdog_s=None, duration_s=0.3)
    t0 = time.monotonic()
    for _ in src:
        pass
    assert 0.25 < time.monotonic() - t0 < 2.0
