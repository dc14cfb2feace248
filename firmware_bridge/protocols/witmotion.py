"""WitMotion WT901BLECL / WT9011DCL (Bluetooth 5.0) inertial sensors.

Sources (WitMotion's own documents and SDKs):
- GATT: service 0000ffe5-..., notify 0000ffe4-..., write 0000ffe9-...: WitMotion SDK
  ``WITMOTION/WitBluetooth_BWT901BLE5_0``, ``Python/BWT901BLE5.0_python_sdk/device_model.py``.
- Data packet: 20 bytes, ``55 61`` then 9 little-endian int16: acceleration X Y Z,
  angular velocity X Y Z, angle X Y Z; several may share one notification, one may be
  split: WT901BLECL datasheet v20-0707, 6.1.1 "Data Packet (Default)".
- Scale: acc = raw / 32768 * 16 g, gyro = raw / 32768 * 2000 deg/s, angle = raw /
  32768 * 180 deg: same SDK file (``processData``) and ``Android_Java/wit-example-ble5/app/src/
  main/java/com/wit/example/ble5/components/Bwt901bleProcessor.java`` (``OnUpdate``).
- Commands: unlock ``FF AA 69 88 B5``, write register ``FF AA reg lo hi``, save
  ``FF AA 00 00 00``, read register ``FF AA 27 reg 00`` answered by ``55 71 reg 00`` +
  8 registers (20 bytes): datasheet 6.1.2 and ``device_model.py`` (``unlock``,
  ``get_writeBytes``, ``get_readBytes``). The SDK spaces writes 100-150 ms apart.
- Output rate, register RRATE = 0x03 (bits 3-0): the WIT standard protocol register header
  ``WITMOTION/WitStandardProtocol_JY901`` ``ESP32/main/REG.h`` defines RRATE_02HZ 0x01,
  RRATE_05HZ 0x02, RRATE_1HZ 0x03, RRATE_2HZ 0x04, RRATE_5HZ 0x05, RRATE_10HZ 0x06,
  RRATE_20HZ 0x07, RRATE_50HZ 0x08, RRATE_100HZ 0x09, RRATE_125HZ 0x0a ("only WT931"),
  RRATE_200HZ 0x0b, RRATE_ONCE 0x0c, RRATE_NONE 0x0d. The BLE 5.0 SDK's own example sends 0x06
  for 10 Hz and 0x08 for 50 Hz (``Windows_C#/Wit.Example_BWT901BLE/Form1.cs``,
  ``returnRate10_Click`` / ``returnRate50_Click``). Some third-party code sends 0x0A for
  200 Hz; per REG.h that is 125 Hz on a WT931 only, so 200 Hz is 0x0B here.
- Highest rate of the Bluetooth 5.0 models: NOT confirmed by a WT901BLECL/WT9011DCL document
  reachable here. The register table tops out at 200 Hz and the wired WT901 manual (v0513,
  2.4.2) says "the highest return rate supports 200Hz"; the 2018 Bluetooth 4.0 WT901BLECL
  specification said 0.1-50 Hz. So after writing the rate the decoder reads RRATE back
  (``FF AA 27 03 00``) and, if the sensor kept another code, adopts the rate the sensor
  reports (``device_rate_hz``) and says so in ``counters.last_error``, rather than timing
  samples at a rate the sensor is not sending.
- Battery: register 0x64 in 0.01 V, read with ``FF AA 27 64 00``; charge from the single-cell
  curve in ``Bwt901bleProcessor.getEqPercent`` (the BLE SDK reads 0x64, ``readDataThread``;
  the wired modules' REG.h calls 0x5c BATVAL, which these Bluetooth models do not use).
- The packets carry no sensor timestamp and no sequence number: time comes from the
  host receive time (see ``firmware_bridge.timestamps``).
"""

from __future__ import annotations

import struct

import numpy as np

from firmware_bridge.protocols.base import DecodedBatch, Protocol
from firmware_bridge.protocols.registry import DeviceSpec
from firmware_bridge.transports.base import Command, RawPayload

SERVICE = "0000ffe5-0000-1000-8000-00805f9a34fb"
NOTIFY = "0000ffe4-0000-1000-8000-00805f9a34fb"
WRITE = "0000ffe9-0000-1000-8000-00805f9a34fb"

HEADER = 0x55
FLAG_DATA = 0x61
FLAG_REGISTERS = 0x71
PACKET_BYTES = 20
ACC_G_PER_LSB = 16.0 / 32768.0
GYRO_DPS_PER_LSB = 2000.0 / 32768.0
ANGLE_DEG_PER_LSB = 180.0 / 32768.0

UNLOCK = bytes.fromhex("FFAA6988B5")
SAVE = bytes.fromhex("FFAA000000")
REG_RRATE = 0x03
REG_BATTERY = 0x64
#: Streaming rates offered (Hz) -> RRATE code (REG.h).
RATE_CODES = {10.0: 0x06, 20.0: 0x07, 50.0: 0x08, 100.0: 0x09, 200.0: 0x0B}
#: Every RRATE code in REG.h -> Hz (0 = not streaming: single shot or none).
RRATE_HZ = {
    0x01: 0.2,
    0x02: 0.5,
    0x03: 1.0,
    0x04: 2.0,
    0x05: 5.0,
    0x06: 10.0,
    0x07: 20.0,
    0x08: 50.0,
    0x09: 100.0,
    0x0A: 125.0,
    0x0B: 200.0,
    0x0C: 0.0,
    0x0D: 0.0,
}
RRATE_MASK = 0x0F  # RRATE[3:0]
WRITE_GAP_S = 0.15
#: Single-cell Li-ion voltage (V) -> charge (%) breakpoints, from the WitMotion SDK.
BATTERY_CURVE_V = (3.4, 3.5, 3.68, 3.7, 3.73, 3.77, 3.79, 3.82, 3.87, 3.93, 3.96, 3.99)
BATTERY_CURVE_PCT = (0, 5, 10, 15, 20, 30, 40, 50, 60, 75, 90, 100)
_SAMPLE = struct.Struct("<9h")
_MAX_BUFFER = 4 * PACKET_BYTES


def write_register(reg: int, value: int) -> bytes:
    """``FF AA reg lo hi``: write a 16-bit register (needs the unlock first)."""
    return bytes((0xFF, 0xAA, reg & 0xFF, value & 0xFF, (value >> 8) & 0xFF))


def read_register(reg: int) -> bytes:
    """``FF AA 27 reg 00``: ask for 8 registers from ``reg`` (answer: ``55 71 ...``)."""
    return bytes((0xFF, 0xAA, 0x27, reg & 0xFF, 0x00))


def battery_percent(volts: float) -> float:
    """Charge of a single Li-ion cell from its voltage, per WitMotion's curve."""
    return float(np.interp(volts, BATTERY_CURVE_V, BATTERY_CURVE_PCT))


class WitMotionProtocol(Protocol):
    """Decoder and rate/battery commands for WitMotion Bluetooth 5.0 sensors."""

    name = "witmotion"
    has_timestamps = False
    ble_service = SERVICE
    notify_uuids = (NOTIFY,)
    write_uuid = WRITE

    def __init__(self, rate_hz: float | str = 100.0) -> None:
        super().__init__()
        rate = float(rate_hz)
        if rate not in RATE_CODES:
            allowed = ", ".join(f"{r:g}" for r in RATE_CODES)
            raise ValueError(f"WitMotion rate {rate:g} Hz is not supported; use {allowed}")
        self.requested_rate_hz = rate
        self.nominal_rate_hz = rate
        #: Output rate the sensor reports in RRATE after the start commands (None until read).
        self.device_rate_hz: float | None = None
        self.angles_deg: np.ndarray | None = None  # last Euler angles (roll, pitch, yaw)
        self.battery_volts: float | None = None
        self._buffers: dict[str, bytearray] = {}

    def reset(self) -> None:
        self._buffers.clear()

    def describe(self) -> dict:
        return {
            **super().describe(),
            "requested_rate_hz": self.requested_rate_hz,
            "device_rate_hz": self.device_rate_hz,
        }

    def start_commands(self, transport_kind: str) -> list[Command]:
        code = RATE_CODES[self.requested_rate_hz]
        return [
            Command(WRITE, UNLOCK, WRITE_GAP_S),
            Command(WRITE, write_register(REG_RRATE, code), WRITE_GAP_S),
            Command(WRITE, read_register(REG_RRATE), WRITE_GAP_S),  # did the sensor take it?
            Command(WRITE, read_register(REG_BATTERY), WRITE_GAP_S),
        ]

    def poll_commands(self, transport_kind: str) -> list[Command]:
        return [Command(WRITE, read_register(REG_BATTERY))]

    def decode(self, payload: RawPayload) -> list[DecodedBatch]:
        buf = self._buffers.setdefault(payload.src, bytearray())
        buf += payload.data
        rows: list[tuple[int, ...]] = []
        i = 0
        skipped = 0
        n = len(buf)
        while n - i >= 2:
            if buf[i] != HEADER or buf[i + 1] not in (FLAG_DATA, FLAG_REGISTERS):
                i += 1
                skipped += 1
                continue
            if n - i < PACKET_BYTES:
                break  # the rest of this packet comes in the next notification
            if buf[i + 1] == FLAG_DATA:
                rows.append(_SAMPLE.unpack_from(buf, i + 2))
                self.counters.frames += 1
            else:
                self._registers(bytes(buf[i : i + PACKET_BYTES]))
            i += PACKET_BYTES
        if n - i == 1 and buf[i] != HEADER:
            i += 1
            skipped += 1
        del buf[:i]
        if len(buf) > _MAX_BUFFER:  # cannot happen with the loop above; belt and braces
            skipped += len(buf)
            buf.clear()
        if skipped:
            self.counters.malformed += 1
            self.counters.skipped_bytes += skipped
            self.counters.last_error = f"skipped {skipped} bytes outside 55 61/55 71 packets"
        if not rows:
            return []
        raw = np.asarray(rows, dtype=np.float64)
        self.angles_deg = raw[-1, 6:9] * ANGLE_DEG_PER_LSB
        return [
            DecodedBatch(
                acc=raw[:, 0:3] * ACC_G_PER_LSB,
                gyro=raw[:, 3:6] * GYRO_DPS_PER_LSB,
                host_t=payload.t,
                rate_hz=self.nominal_rate_hz,
            )
        ]

    def _registers(self, packet: bytes) -> None:
        start = packet[2] | (packet[3] << 8)
        regs = struct.unpack_from("<8H", packet, 4)
        if start == REG_BATTERY:
            self.battery_volts = regs[0] / 100.0
            self.battery_pct = battery_percent(self.battery_volts)
        elif start == REG_RRATE:
            self._rate_reply(regs[0] & RRATE_MASK)

    def _rate_reply(self, code: int) -> None:
        """Adopt the output rate the sensor reports; say so if it is not the one asked for."""
        hz = RRATE_HZ.get(code)
        self.device_rate_hz = hz
        if code == RATE_CODES[self.requested_rate_hz]:
            return
        if hz:
            self.nominal_rate_hz = hz
            self.counters.last_error = (
                f"sensor kept output rate {hz:g} Hz (RRATE code 0x{code:02X}), "
                f"not the {self.requested_rate_hz:g} Hz asked for; timing samples at {hz:g} Hz"
            )
        else:
            self.counters.last_error = (
                f"sensor reports RRATE code 0x{code:02X} (not streaming), "
                f"not the {self.requested_rate_hz:g} Hz asked for"
            )


DEVICES = [
    DeviceSpec(
        name="witmotion",
        title="WitMotion WT901BLECL / WT9011DCL (Bluetooth 5.0), acc + gyro, no timestamps",
        factory=WitMotionProtocol,
        transports=("ble",),
        ble_service_uuids=(SERVICE,),
        ble_name_prefixes=("WT901", "WT9011"),
        aliases=("wt901blecl", "wt9011dcl", "wt901"),
        options_help="rate_hz=10|20|50|100|200 (default 100)",
    )
]
