"""An in-memory transport for tests and simulators (python-can's ``virtual`` bus).

The test side calls :meth:`VirtualTransport.inject` (as a device would send bytes)
and :meth:`VirtualTransport.disconnect`; commands the host writes are kept in
:attr:`VirtualTransport.written`. ``open`` fails while ``available`` is false, which
simulates a device that is out of range or unplugged.
"""

from __future__ import annotations

from collections.abc import Sequence

from firmware_bridge.transports.base import Command, Transport, TransportError, TransportLost


class VirtualTransport(Transport):
    """A transport whose bytes come from the test, not from hardware."""

    kind = "virtual"

    def __init__(self, queue_len: int = 4096) -> None:
        super().__init__(queue_len)
        self.available = True
        self.is_open = False
        self.opens = 0
        self.subscriptions: list[str] = []
        self.written: list[Command] = []

    def open(self, subscriptions: Sequence[str]) -> None:
        if not self.available:
            raise TransportError("virtual device not available")
        self.subscriptions = list(subscriptions)
        self.is_open = True
        self.opens += 1
        self._mark_open()

    def write(self, command: Command) -> None:
        if not self.is_open:
            raise TransportLost("virtual device not connected")
        self.written.append(command)

    def close(self) -> None:
        self.is_open = False

    # --- the device side ------------------------------------------------------------
    def inject(self, data: bytes, src: str = "serial", t: float | None = None) -> None:
        """Deliver bytes as if the device had sent them."""
        if self.is_open:
            self._deliver(data, src, t)

    def disconnect(self) -> None:
        """Simulate a lost link: queued payloads stay readable, then ``recv`` raises."""
        self.is_open = False
        self._mark_lost()
