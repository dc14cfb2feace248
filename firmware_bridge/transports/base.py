"""The transport contract: something that connects to a sensor and delivers raw payloads.

Modelled on python-can's ``Bus``: a small abstract class, one module per interface
(``serial``, ``ble``, ``capture``, ``virtual``). A transport knows nothing about byte
layouts; it moves bytes. What it delivers is a :class:`RawPayload` (host receive time,
source, bytes), which is also exactly what a raw capture stores, so decoding is the
same for a live sensor and for a capture replay.

Threading model: whatever thread receives bytes (a serial reader thread, bleak's
notification callback on its event loop) calls :meth:`Transport._deliver`, which only
appends to a bounded queue (drop oldest, count drops). The consumer calls
:meth:`Transport.recv` with a short timeout.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: ``RawPayload.src`` for bytes that came from a serial port (not a GATT characteristic).
SERIAL_SRC = "serial"


@dataclass(frozen=True)
class RawPayload:
    """One chunk of bytes as it arrived from a sensor.

    ``t`` is the host receive time (seconds since the Unix epoch), ``src`` the
    characteristic UUID (lower case, 128-bit form) or ``"serial"``, ``data`` the bytes.
    """

    t: float
    src: str
    data: bytes


@dataclass(frozen=True)
class Command:
    """Bytes a protocol asks the transport to send (start, stop, rate, battery query).

    ``target`` is a characteristic UUID for BLE or ``"serial"``; ``wait_s`` is how long
    to pause after sending, for devices that need time to apply a setting;
    ``response`` asks BLE for a write-with-response.
    """

    target: str
    data: bytes
    wait_s: float = 0.0
    response: bool = True


class TransportError(Exception):
    """The transport cannot be opened or used (port missing, device not found)."""


class TransportLost(TransportError):
    """An open connection was lost (BLE disconnect, serial unplug). Reconnect may help."""


class TransportEnded(Exception):
    """A finite source (a capture file) has delivered everything. Do not reconnect."""


class PayloadQueue:
    """Bounded FIFO of payloads shared by a producer thread and a consumer.

    When full, :meth:`put` drops the OLDEST payload and counts it: the newest data is
    the most useful for a live monitor, and memory never grows without limit.
    """

    def __init__(self, maxlen: int = 4096) -> None:
        if maxlen < 1:
            raise ValueError("queue length must be at least 1")
        self._items: deque[RawPayload] = deque()
        self._maxlen = maxlen
        self._cond = threading.Condition()
        self.dropped = 0

    def put(self, item: RawPayload) -> None:
        with self._cond:
            if len(self._items) >= self._maxlen:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify()

    def get(self, timeout_s: float) -> RawPayload | None:
        """The oldest payload, or ``None`` if nothing arrives within ``timeout_s``."""
        with self._cond:
            if not self._items:
                self._cond.wait(timeout_s)
            return self._items.popleft() if self._items else None

    def wake(self) -> None:
        """Wake a waiting :meth:`get` (used when the link state changes)."""
        with self._cond:
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class Transport(ABC):
    """A connection to one sensor that delivers :class:`RawPayload` objects.

    Life cycle: ``open(subscriptions)`` -> ``write(cmd)``/``recv()`` ... -> ``close()``;
    ``open`` may be called again after ``close`` (reconnection). ``recv`` returns queued
    payloads first, so nothing received before a disconnect is lost; once the queue
    is empty it raises :class:`TransportLost` (reconnect) or :class:`TransportEnded`
    (a finished capture).
    """

    #: "ble", "serial", "capture" or "virtual"; written into capture headers.
    kind: str = "abstract"
    #: Longest wait between reconnect attempts this link wants (s), or None for the source's
    #: own backoff: a serial port is cheap to probe, a BLE scan is not.
    retry_max_s: float | None = None

    def __init__(self, queue_len: int = 4096) -> None:
        self.queue = PayloadQueue(queue_len)
        #: Called with every payload as it arrives, before queueing (raw capture hook).
        self.on_payload: Callable[[RawPayload], None] | None = None
        self._lost = threading.Event()

    @property
    def dropped(self) -> int:
        """Payloads dropped because the consumer fell behind."""
        return self.queue.dropped

    @property
    def description(self) -> str:
        """Where this transport connects to (port or address), for logs and headers."""
        return self.kind

    @abstractmethod
    def open(self, subscriptions: Sequence[str]) -> None:
        """Connect and start delivering payloads from ``subscriptions``.

        For BLE these are characteristic UUIDs to subscribe to; serial ignores them.
        Raises :class:`TransportError` if the sensor cannot be reached.
        """

    @abstractmethod
    def write(self, command: Command) -> None:
        """Send bytes to the sensor. Raises :class:`TransportLost` if disconnected."""

    @abstractmethod
    def close(self) -> None:
        """Disconnect and release the device. Safe to call more than once."""

    def recv(self, timeout_s: float = 0.1) -> RawPayload | None:
        """The next payload, ``None`` on timeout; raises once the link is gone and drained."""
        item = self.queue.get(timeout_s)
        if item is not None:
            return item
        if self._lost.is_set() and len(self.queue) == 0:
            raise TransportLost(f"{self.description}: connection lost")
        return None

    # --- for subclasses -------------------------------------------------------------
    def _deliver(self, data: bytes, src: str, t: float | None = None) -> None:
        """Hand received bytes to the consumer. Cheap; called from receiving threads."""
        payload = RawPayload(time.time() if t is None else t, src, bytes(data))
        hook = self.on_payload
        if hook is not None:
            hook(payload)
        self.queue.put(payload)

    def _mark_lost(self) -> None:
        self._lost.set()
        self.queue.wake()

    def _mark_open(self) -> None:
        self._lost.clear()


def normalize_uuid(uuid: str) -> str:
    """A characteristic UUID in bleak's canonical form: lower case, 128-bit.

    16-bit ("ffe4") and 32-bit short forms expand over the Bluetooth base UUID
    (Bluetooth Core Specification, Vol 3, Part B, 2.5.1).
    """
    u = uuid.strip().lower()
    if len(u) == 4:
        return f"0000{u}-0000-1000-8000-00805f9b34fb"
    if len(u) == 8:
        return f"{u}-0000-1000-8000-00805f9b34fb"
    return u
