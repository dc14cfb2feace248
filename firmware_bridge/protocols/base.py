"""The device-protocol contract: turn raw payloads into samples in g and deg/s.

A protocol knows byte layouts and the start/stop commands of one kind of device and
nothing about how the bytes travel (bleak's shape: the transport is separate). The
same protocol object decodes a live stream and a capture replay.

Decoders are stateful (a serial stream or a BLE UART splits frames anywhere) and must
never raise on bad input: :meth:`Protocol.feed` counts malformed payloads, CRC
failures and skipped bytes in :attr:`Protocol.counters` and resynchronises.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from firmware_bridge.transports.base import SERIAL_SRC, Command, RawPayload


@dataclass
class DecodedBatch:
    """Consecutive samples decoded from one frame or one payload.

    ``acc`` (n, 3) in g with gravity; ``gyro`` (n, 3) deg/s or ``None``;
    ``sensor_t`` (n,) seconds on the device clock (monotonic, already unwrapped) or
    ``None`` when the device sends no timestamps; ``seq`` the frame sequence number
    and ``seq_modulus`` where it wraps (``None`` when the device has none);
    ``rate_hz`` the sample rate the frame declares; ``host_t`` the receive time of the
    payload that completed the batch (epoch s).
    """

    acc: np.ndarray
    gyro: np.ndarray | None
    host_t: float
    sensor_t: np.ndarray | None = None
    seq: int | None = None
    seq_modulus: int | None = None
    rate_hz: float | None = None

    def __len__(self) -> int:
        return int(self.acc.shape[0])


@dataclass
class DecodeCounters:
    """What a decoder has seen; every bad input lands in one of these, never in an exception."""

    payloads: int = 0
    frames: int = 0
    samples: int = 0
    malformed: int = 0  # payloads, frames or lines that could not be decoded
    crc_errors: int = 0  # frames whose checksum did not match
    skipped_bytes: int = 0  # bytes discarded while resynchronising
    last_error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Protocol(ABC):
    """Decoder plus commands for one kind of device. Subclass and fill in the class attributes.

    Class attributes:
      ``name``: registry name; ``has_timestamps``: frames carry a sensor clock;
      ``ble_service``: primary service UUID (for scans); ``notify_uuids``: characteristics
      to subscribe to over BLE; ``write_uuid``: where BLE commands go.
    """

    name: ClassVar[str] = "abstract"
    has_timestamps: ClassVar[bool] = False
    ble_service: ClassVar[str | None] = None
    notify_uuids: ClassVar[tuple[str, ...]] = ()
    write_uuid: ClassVar[str | None] = None

    def __init__(self) -> None:
        self.counters = DecodeCounters()
        #: Battery charge in percent where the device reports it, else ``None``.
        self.battery_pct: float | None = None
        #: Sample rate the device was asked for or declares (Hz); ``None`` if unknown.
        self.nominal_rate_hz: float | None = None

    # --- commands ----------------------------------------------------------------
    def subscriptions(self, transport_kind: str) -> list[str]:
        """What the transport must listen to: characteristic UUIDs for BLE, else ``serial``."""
        return list(self.notify_uuids) if transport_kind == "ble" else [SERIAL_SRC]

    def start_commands(self, transport_kind: str) -> list[Command]:
        """Commands to send after connecting (configure, start streaming)."""
        return []

    def stop_commands(self, transport_kind: str) -> list[Command]:
        """Commands to send before disconnecting cleanly (stop streaming)."""
        return []

    def poll_commands(self, transport_kind: str) -> list[Command]:
        """Commands to send now and then while streaming (e.g. a battery query)."""
        return []

    # --- decoding ----------------------------------------------------------------
    def feed(self, payload: RawPayload) -> list[DecodedBatch]:
        """Decode one payload. Never raises: failures are counted and the decoder resets."""
        self.counters.payloads += 1
        try:
            batches = self.decode(payload)
        except Exception as exc:  # noqa: BLE001 - a decoder bug must not end a session
            self.counters.malformed += 1
            self.counters.last_error = f"{type(exc).__name__}: {exc}"
            self.reset()
            return []
        for b in batches:
            self.counters.samples += len(b)
        return batches

    @abstractmethod
    def decode(self, payload: RawPayload) -> list[DecodedBatch]:
        """Decode one payload; may raise on garbage (``feed`` catches and counts)."""

    def reset(self) -> None:
        """Forget partial frames (called after a reconnect, and after a decoder error)."""
        return None

    def describe(self) -> dict[str, Any]:
        """Settings worth recording in a capture header or the session log."""
        return {"protocol": self.name, "nominal_rate_hz": self.nominal_rate_hz}


def stack_xyz(rows: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """An (n, 3) float64 array from rows of three numbers."""
    return np.asarray(rows, dtype=np.float64).reshape(-1, 3)


@dataclass
class Unwrapper:
    """Unwraps a counter that wraps at ``modulus`` (a u32 microsecond clock, a u16 sequence)."""

    modulus: int
    _last: int | None = None
    _base: int = 0

    def __call__(self, value: int) -> int:
        if self._last is not None and value < self._last and self._last - value > self.modulus // 2:
            self._base += self.modulus
        self._last = value
        return self._base + value

    def reset(self) -> None:
        self._last = None
        self._base = 0
