"""BBC micro:bit accelerometer over the micro:bit Bluetooth profile (accelerometer only).

Sources:
- UUIDs: Lancaster University ``microbit-dal``, ``source/bluetooth/MicroBitAccelerometerService.cpp``
  (``MicroBitAccelerometerServiceUUID`` e95d0753-..., ``...DataUUID`` e95dca4b-... READ|NOTIFY,
  ``...PeriodUUID`` e95dfb24-... READ|WRITE), and the micro:bit Bluetooth profile
  (lancaster-university.github.io/microbit-docs/resources/bluetooth/bluetooth_profile.html).
- Data: the same file, ``accelerometerUpdate``: ``int16_t buffer[3] = {getX(), getY(), getZ()}``
  notified as 6 bytes (nRF51 is little-endian); the DAL reports milli-g, so g = raw / 1000
  (as Sandeep Mistry's ``bbc-microbit`` ``accelerometer-service.js``: ``readInt16LE(i) / 1000.0``).
- Period: ``onDataWritten`` takes a little-endian uint16 in ms and the accelerometer picks the
  nearest period it supports (1, 2, 5, 10, 20, 80, 160, 640 ms: ``bbc-microbit`` API.md and
  ``microbit-web-bluetooth`` ``AccelerometerPeriod``). Writing 0 crashes the board
  (microbit-foundation/microbit-connection PR #2), so 0 is refused here.
- One sample per notification, no timestamp, no sequence number, no battery service: sample
  times come from host receive times (``firmware_bridge.timestamps``). The profile requires
  pairing by default (MICROBIT_BLE_SECURITY_LEVEL), so pair the board with the OS first.
"""

from __future__ import annotations

import struct

import numpy as np

from firmware_bridge.protocols.base import DecodedBatch, Protocol
from firmware_bridge.protocols.registry import DeviceSpec
from firmware_bridge.transports.base import Command, RawPayload

SERVICE = "e95d0753-251d-470a-a062-fa1922dfa9a8"
DATA = "e95dca4b-251d-470a-a062-fa1922dfa9a8"
PERIOD = "e95dfb24-251d-470a-a062-fa1922dfa9a8"

SAMPLE_BYTES = 6
G_PER_LSB = 1.0 / 1000.0  # milli-g
#: Periods (ms) the micro:bit accelerometer supports; others are rounded by the board.
SUPPORTED_PERIODS_MS = (1, 2, 5, 10, 20, 80, 160, 640)
_SAMPLE = struct.Struct("<3h")


def period_command(period_ms: int) -> bytes:
    """The uint16 little-endian period value for the period characteristic."""
    return struct.pack("<H", period_ms)


class MicrobitProtocol(Protocol):
    """Decoder and period command for the micro:bit accelerometer service."""

    name = "microbit"
    has_timestamps = False
    ble_service = SERVICE
    notify_uuids = (DATA,)
    write_uuid = PERIOD

    def __init__(self, period_ms: int | str = 20) -> None:
        super().__init__()
        period = int(period_ms)
        if period not in SUPPORTED_PERIODS_MS:
            allowed = ", ".join(str(p) for p in SUPPORTED_PERIODS_MS)
            raise ValueError(f"micro:bit period {period} ms is not supported; use one of {allowed}")
        self.period_ms = period
        self.nominal_rate_hz = 1000.0 / period

    def start_commands(self, transport_kind: str) -> list[Command]:
        return [Command(PERIOD, period_command(self.period_ms), wait_s=0.05)]

    def decode(self, payload: RawPayload) -> list[DecodedBatch]:
        data = payload.data
        if len(data) != SAMPLE_BYTES:
            self.counters.malformed += 1
            self.counters.skipped_bytes += len(data)
            self.counters.last_error = f"accelerometer notification of {len(data)} bytes (expected 6)"
            return []
        self.counters.frames += 1
        acc = np.asarray(_SAMPLE.unpack(data), dtype=np.float64).reshape(1, 3) * G_PER_LSB
        return [DecodedBatch(acc=acc, gyro=None, host_t=payload.t, rate_hz=self.nominal_rate_hz)]

    def describe(self) -> dict:
        return {**super().describe(), "period_ms": self.period_ms}


DEVICES = [
    DeviceSpec(
        name="microbit",
        title="BBC micro:bit accelerometer service (pair first), acc only, no timestamps",
        factory=MicrobitProtocol,
        transports=("ble",),
        ble_service_uuids=(SERVICE,),
        ble_name_prefixes=("BBC micro:bit",),
        aliases=("micro:bit", "bbc-microbit"),
        options_help="period_ms=1|2|5|10|20|80|160|640 (default 20, i.e. 50 Hz)",
    )
]
