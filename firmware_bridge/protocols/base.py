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
from dataclasses import asdict, dataclass, replace
from typing import Any, ClassVar

import numpy as np

from firmware_bridge.samples import MAX_ABS_TIME_S
from firmware_bridge.transports.base import SERIAL_SRC, Command, RawPayload

#: Slowest sample rate (Hz) a device may declare: no IMU streams slower than 1 Hz (the detector
#: needs 20 Hz); a lower claim (the probe's 1e-30 Hz) is a corrupt frame.
MIN_RATE_HZ = 1.0
#: Fastest sample rate (Hz) a device may declare: MEMS IMU output data rates top out at
#: 6.4-8 kHz; a higher claim is a corrupt frame.
MAX_RATE_HZ = 20000.0
#: How far (s) a device clock may run ahead of the host's receive clock since the last good
#: frame: BLE and serial buffers hold seconds, not minutes; a sample stamped further ahead has a
#: corrupt timestamp (it would drag every later sample after it).
MAX_CLOCK_LEAD_S = 60.0


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
    implausible: int = 0  # frames (or timestamped samples) rejected: impossible rate or clock jump
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
        self._clock_ref: tuple[float, float] | None = None  # host time, sensor time of the last good sample
        self._host_moves = False  # receive times advance (real ones, not a hand-made constant)

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
        rate_before = self.nominal_rate_hz
        try:
            batches = self.decode(payload)
        except Exception as exc:  # noqa: BLE001 - a decoder bug must not end a session
            self.counters.malformed += 1
            self.counters.last_error = f"{type(exc).__name__}: {exc}"
            self.reset()
            return []
        if self.nominal_rate_hz is not None and not _plausible_rate(self.nominal_rate_hz):
            self.nominal_rate_hz = rate_before  # a corrupt frame's claim is not the device's rate
        out = []
        for b in batches:
            b = self._plausible(b, payload.t)
            if b is not None:
                self.counters.samples += len(b)
                out.append(b)
        return out

    def _plausible(self, batch: DecodedBatch, host_t: float) -> DecodedBatch | None:
        """The batch, without samples whose timestamps are impossible; None (counted) when its
        declared rate is impossible or nothing is left. Shared by every protocol, so that one
        corrupt frame with a valid checksum cannot move the session clock."""
        if batch.rate_hz is not None and not _plausible_rate(batch.rate_hz):
            return self._implausible(f"frame declares an impossible sample rate ({batch.rate_hz:.3g} Hz)")
        st = batch.sensor_t
        if st is None or not len(st):
            return batch
        st = np.asarray(st, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            ok = np.abs(st) <= MAX_ABS_TIME_S
        ref = self._clock_ref
        if ref is not None and host_t != ref[0]:
            self._host_moves = True
        if ref is None or not self._host_moves:
            # no earlier frame to go by (or hand-made receive times that never move): within
            # one payload, measured from its first plausible sample
            first = st[ok]
            ref = (host_t, float(first[0])) if first.size else None
        if ref is not None:
            # a device clock cannot run further ahead of the host clock than buffering explains
            limit = ref[1] + max(host_t - ref[0], 0.0) + MAX_CLOCK_LEAD_S
            with np.errstate(invalid="ignore"):
                ok &= st <= limit
        if not ok.any():
            return self._implausible(f"sensor clock jumped to {float(st[0]):.6g} s", len(st))
        if not ok.all():
            self.counters.implausible += int(ok.size - np.count_nonzero(ok))
            self.counters.last_error = "samples with impossible sensor timestamps dropped"
            gyro = None if batch.gyro is None else batch.gyro[ok]
            batch = replace(batch, acc=batch.acc[ok], gyro=gyro, sensor_t=st[ok])
            st = st[ok]
        self._clock_ref = (host_t, float(st.max()))
        return batch

    def _implausible(self, why: str, n: int = 1) -> None:
        self.counters.implausible += n
        self.counters.last_error = why
        return None

    @abstractmethod
    def decode(self, payload: RawPayload) -> list[DecodedBatch]:
        """Decode one payload; may raise on garbage (``feed`` catches and counts)."""

    def reset(self) -> None:
        """Forget partial frames (called after a reconnect, and after a decoder error)."""
        return None

    def describe(self) -> dict[str, Any]:
        """Settings worth recording in a capture header or the session log."""
        return {"protocol": self.name, "nominal_rate_hz": self.nominal_rate_hz}


def _plausible_rate(rate_hz: float) -> bool:
    return bool(MIN_RATE_HZ <= rate_hz <= MAX_RATE_HZ)  # False for NaN


def stack_xyz(rows: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """An (n, 3) float64 array from rows of three numbers."""
    return np.asarray(rows, dtype=np.float64).reshape(-1, 3)


@dataclass
class Unwrapper:
    """Unwraps a counter that wraps at ``modulus`` (a u32 microsecond clock, a u16 sequence).

    With ``max_step``, a forward step larger than that is held as a candidate until the next
    value continues from it: one corrupt value (a valid checksum over a wrong counter) then
    neither fakes a wrap nor moves the counter's base, while a real jump (the device kept
    counting through a long disconnection) is taken on the next value."""

    modulus: int
    max_step: int | None = None
    _last: int | None = None
    _base: int = 0
    _candidate: int | None = None

    def __call__(self, value: int) -> int:
        if self._last is None:
            self._last = value
            return self._base + value
        cand = self._candidate
        if cand is not None:
            self._candidate = None
            if 0 <= (value - cand) % self.modulus <= (self.max_step or 0):
                self._commit(cand)  # the jump was real: the counter goes on from there
        if self.max_step is not None and (value - self._last) % self.modulus > self.max_step:
            self._candidate = value  # not committed yet: unwrapped, but the state is unchanged
            return self._base + value + (self.modulus if self._wraps(value) else 0)
        return self._commit(value)

    def _wraps(self, value: int) -> bool:
        return self._last is not None and value < self._last and self._last - value > self.modulus // 2

    def _commit(self, value: int) -> int:
        if self._wraps(value):
            self._base += self.modulus
        self._last = value
        return self._base + value

    def reset(self) -> None:
        self._last = None
        self._base = 0
        self._candidate = None
