"""BLE transport with a fake bleak-like client: notifications -> live source -> session log.

The fake implements the parts of ``bleak.BleakClient`` the transport uses (constructor
with ``disconnected_callback``, ``connect``, ``disconnect``, ``start_notify`` with a sync
callback called on the event loop, ``write_gatt_char``) and replays scripted
notifications, then drops the link like a sensor walking out of range.
"""

from __future__ import annotations

import asyncio
import struct
import time
from types import SimpleNamespace

import numpy as np
import pytest

from firmware_bridge.live import LiveSource
from firmware_bridge.protocols import witmotion as wm
from firmware_bridge.transports.base import TransportError
from firmware_bridge.transports.ble import BleTransport, scan

ADDRESS = "C4:2A:11:22:33:44"


def wit_packet(k: int) -> bytes:
    """WitMotion 0x55 0x61 packet (datasheet 6.1.1) carrying sample number k in acc x."""
    return bytes([0x55, 0x61]) + struct.pack("<9h", k, 0, 2048, 0, 0, 0, 0, 0, 0)


class FakeWorld:
    """What the fake peripheral does on each successive connection."""

    def __init__(self, sessions, fail_first=0):
        self.sessions = list(sessions)  # per connection: list of notification payloads
        self.fail_first = fail_first
        self.connects = 0
        self.writes: list[tuple[str, bytes, bool]] = []
        self.clients = []


def fake_client_factory(world: FakeWorld, interval_s=0.002):
    class FakeBleakClient:
        def __init__(self, address, disconnected_callback=None, timeout=10.0, **kw):
            assert address == ADDRESS  # only the named device is ever contacted
            self.address = address
            self._cb_disc = disconnected_callback
            self.is_connected = False
            world.clients.append(self)

        async def connect(self):
            world.connects += 1
            if world.connects <= world.fail_first:
                raise OSError("Device with address C4:2A:11:22:33:44 was not found")
            self.is_connected = True

        async def disconnect(self):
            self.is_connected = False

        async def start_notify(self, uuid, callback):
            assert uuid == wm.NOTIFY
            payloads = world.sessions.pop(0) if world.sessions else []
            char = SimpleNamespace(uuid=uuid)

            async def play():
                for p in payloads:
                    await asyncio.sleep(interval_s)
                    if not self.is_connected:
                        return
                    callback(char, bytearray(p))  # bleak calls sync callbacks directly
                if world.sessions:  # more connections scripted: drop this one
                    await asyncio.sleep(interval_s)
                    self.is_connected = False
                    self._cb_disc(self)  # the sensor went out of range

            self._task = asyncio.get_running_loop().create_task(play())

        async def write_gatt_char(self, uuid, data, response=None):
            if not self.is_connected:
                raise OSError("Not connected")
            world.writes.append((uuid, bytes(data), response))

    return FakeBleakClient


def test_notifications_reconnect_and_nothing_lost():
    first = [wit_packet(k) for k in range(60)]
    # the second connection: two packets per notification, one split over two
    second_stream = b"".join(wit_packet(k) for k in range(60, 120))
    second = [second_stream[i : i + 30] for i in range(0, len(second_stream), 30)]
    world = FakeWorld([first, second], fail_first=1)
    transport = BleTransport(ADDRESS, client_factory=fake_client_factory(world))
    src = LiveSource(transport, wm.WitMotionProtocol(), backoff_s=(0.02, 0.1), watchdog_s=2.0)
    got = []
    try:
        for b in src:
            got.append(b)
            if sum(len(x) for x in got) >= 120:
                src.stop()
    finally:
        transport.shutdown()
    acc = np.vstack([b.acc for b in got if len(b)])
    ids = np.round(acc[:, 0] * 32768 / 16).astype(int)
    assert ids.tolist() == list(range(120))
    t = np.concatenate([b.t for b in got if len(b)])
    assert np.all(np.diff(t) > 0)
    st = src.stats
    assert st.connects == 2 and st.reconnects == 1  # plus one failed first attempt, retried
    assert world.connects == 3
    sent = [w[1].hex() for w in world.writes]
    assert sent[0] == "ffaa6988b5" and all(w[0] == wm.WRITE for w in world.writes)
    assert sent[sent.index("ffaa030900") - 1] == "ffaa6988b5"  # rate write right after unlock
    assert st.malformed == 0


def test_ble_session_reaches_the_log(tmp_path):
    """The production path from the notification callback to the SQLite session log."""
    from tremorscope.session import SessionInfo, SessionRunner
    from tremorscope.store import Store

    world = FakeWorld([[wit_packet(k) for k in range(300)]])
    transport = BleTransport(ADDRESS, client_factory=fake_client_factory(world, 0.001))
    src = LiveSource(transport, wm.WitMotionProtocol(), watchdog_s=None, reconnect=False)

    def blocks():
        n = 0
        for b in src:
            yield b
            n += len(b)
            if n >= 300:
                src.stop()  # as Ctrl-C would

    info = SessionInfo(source=f"ble:{ADDRESS}", sample_rate_hz=100.0, device="witmotion", mode="live")
    with Store(tmp_path / "log.db") as store:
        runner = SessionRunner(store, info, stats=lambda: src.stats.as_dict(), handle_signals=False)
        result = runner.run(blocks())
        row = store.session(result.session_id)
    transport.shutdown()
    assert result.samples == 300 and row["samples"] == 300
    assert row["dropped"] == 0 and row["malformed"] == 0


def test_connect_failure_is_a_transport_error():
    world = FakeWorld([], fail_first=5)
    transport = BleTransport(ADDRESS, client_factory=fake_client_factory(world))
    with pytest.raises(TransportError, match="cannot connect to C4:2A"):
        transport.open([wm.NOTIFY])
    transport.shutdown()


def test_scan_recognises_supported_sensors():
    dev = lambda addr, name: SimpleNamespace(address=addr, name=name)  # noqa: E731
    adv = lambda name, uuids, rssi: SimpleNamespace(local_name=name, service_uuids=uuids, rssi=rssi)  # noqa: E731

    class FakeScanner:
        @staticmethod
        async def discover(timeout=5.0, return_adv=False, **kw):
            assert return_adv
            return {
                "A": (dev("A", "WT901BLE68"), adv("WT901BLE68", [], -70)),
                "B": (dev("B", None), adv(None, ["6e400001-b5a3-f393-e0a9-e50e24dcca9e"], -50)),
                "C": (
                    dev("C", "Headphones"),
                    adv("Headphones", ["0000110b-0000-1000-8000-00805f9b34fb"], -40),
                ),
            }

    found = scan(0.1, scanner=FakeScanner)
    assert [(f.address, f.device) for f in found] == [("B", "reference"), ("A", "witmotion")]


def test_scan_without_bluetooth_is_a_clear_error():
    class Broken:
        @staticmethod
        async def discover(**kw):
            raise FileNotFoundError("No such file or directory: /run/dbus/system_bus_socket")

    with pytest.raises(TransportError, match="Bluetooth is not available"):
        scan(0.1, scanner=Broken)


def test_late_disconnect_callback_from_an_old_client_is_ignored():
    world = FakeWorld([[], []])
    transport = BleTransport(ADDRESS, client_factory=fake_client_factory(world))
    transport.open([wm.NOTIFY])
    old = world.clients[-1]
    transport.open([wm.NOTIFY])  # reconnect: a new client
    transport._on_disconnected(old)
    assert transport.recv(0.01) is None  # not lost
    transport.shutdown()
    time.sleep(0)
