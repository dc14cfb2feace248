"""Replay of a raw capture as a transport: the live decode path, fed from a file.

Payloads keep their recorded host receive times, so timestamps, gap detection and
the session are exactly what the live session produced. A recorded ``disconnected``
event makes :meth:`recv` raise :class:`TransportLost` as the live link did, and the
next :meth:`open` resumes after it. At the end, :class:`TransportEnded`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from firmware_bridge.io.capture import _iter_lines, read_header
from firmware_bridge.transports.base import (
    Command,
    RawPayload,
    Transport,
    TransportEnded,
    TransportLost,
)


class CaptureTransport(Transport):
    """Delivers a capture's payloads in order; ``speed`` > 0 paces them in real time."""

    kind = "capture"

    def __init__(self, path: str | Path, speed: float = 0.0) -> None:
        super().__init__(queue_len=1)
        self.path = Path(path)
        self.header = read_header(self.path)  # raises CaptureError with file:line
        self.speed = speed
        self.bad_lines: list[str] = []
        self.written: list[Command] = []
        self._lines: Iterator | None = None
        self._pending_lost = False
        self._started: tuple[float, float] | None = None  # (wall clock, capture t)
        self._done = False

    @property
    def description(self) -> str:
        return f"capture {self.path}"

    def open(self, subscriptions: Sequence[str]) -> None:
        if self._lines is None:
            self._lines = _iter_lines(self.path)
            next(self._lines)  # header
        self._pending_lost = False

    def write(self, command: Command) -> None:
        self.written.append(command)  # a capture cannot answer; keep for inspection

    def close(self) -> None:
        return None

    def recv(self, timeout_s: float = 0.1) -> RawPayload | None:
        if self._lines is None:
            raise TransportLost("capture not opened")
        if self._pending_lost:
            raise TransportLost(f"{self.description}: recorded disconnect")
        for _lineno, kind, obj in self._lines:
            if kind == "bad":
                self.bad_lines.append(obj)
                continue
            if kind == "event":
                if obj.get("event") == "disconnected":  # replay the loss as it happened
                    self._pending_lost = True
                    raise TransportLost(f"{self.description}: recorded disconnect")
                continue
            self._pace(obj.t)
            if self.on_payload is not None:
                self.on_payload(obj)
            return obj
        self._done = True
        raise TransportEnded(f"{self.description}: end of capture")

    def _pace(self, t: float) -> None:
        if self.speed <= 0:
            return
        now = time.monotonic()
        if self._started is None:
            self._started = (now, t)
            return
        due = self._started[0] + (t - self._started[1]) / self.speed
        if due > now:
            time.sleep(min(due - now, 5.0))
