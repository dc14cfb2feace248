"""Text lines as Arduino and ESP32 sketches print them: ``t,ax,ay,az[,gx,gy,gz]``.

Separators may be ``,``, ``;``, tabs or spaces; an optional header line (any line whose
first field is not a number) is skipped. Units are configurable because sketches print
what their library gives: acceleration in g or m/s², angular rate in deg/s or rad/s,
time in s, ms or µs. A malformed line is counted and skipped, never fatal. Works over
serial and over a BLE Nordic UART (text split across notifications is reassembled).
"""

from __future__ import annotations

import re

import numpy as np

from firmware_bridge.protocols.base import DecodedBatch, Protocol
from firmware_bridge.protocols.reference import NUS_RX, NUS_SERVICE, NUS_TX
from firmware_bridge.protocols.registry import DeviceSpec
from firmware_bridge.transports.base import RawPayload

#: Standard gravity, m/s² per g (CGPM 1901; NIST SP 330).
STANDARD_GRAVITY_MS2 = 9.80665
ACC_UNITS = {"g": 1.0, "m/s2": 1.0 / STANDARD_GRAVITY_MS2, "mg": 1e-3}
GYRO_UNITS = {"dps": 1.0, "deg/s": 1.0, "rad/s": 180.0 / np.pi, "mdps": 1e-3}
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
#: A line longer than this without a newline is garbage (binary noise, wrong baud rate).
MAX_LINE_BYTES = 512
_SPLIT = re.compile(r"[,;\s]+")


def _unit(table: dict[str, float], value: str, what: str) -> float:
    key = value.strip().lower().replace("²", "2").replace("^2", "2").replace("s-2", "/s2")
    if key == "m/s/s":
        key = "m/s2"
    if key not in table:
        raise ValueError(f"unknown {what} unit {value!r}; use one of {', '.join(table)}")
    return table[key]


class SerialTextProtocol(Protocol):
    """CSV-like sample lines; one sample per line, the sensor's own timestamp first."""

    name = "serial-text"
    has_timestamps = True
    ble_service = NUS_SERVICE
    notify_uuids = (NUS_TX,)
    write_uuid = NUS_RX

    def __init__(
        self,
        acc_unit: str = "g",
        gyro_unit: str = "dps",
        time_unit: str = "ms",
        acc_scale: float | str = 1.0,
        gyro_scale: float | str = 1.0,
        rate_hz: float | str | None = None,
    ) -> None:
        super().__init__()
        self.acc_factor = _unit(ACC_UNITS, acc_unit, "acceleration") * float(acc_scale)
        self.gyro_factor = _unit(GYRO_UNITS, gyro_unit, "angular rate") * float(gyro_scale)
        self.time_factor = _unit(TIME_UNITS, time_unit, "time")
        self.units = {"acc": acc_unit, "gyro": gyro_unit, "time": time_unit}
        self.nominal_rate_hz = float(rate_hz) if rate_hz not in (None, "") else None
        self._buffers: dict[str, bytearray] = {}
        self.header: list[str] | None = None
        self.headers_seen = 0
        self._width: int | None = None

    def reset(self) -> None:
        self._buffers.clear()

    def describe(self) -> dict:
        return {**super().describe(), "units": self.units}

    def decode(self, payload: RawPayload) -> list[DecodedBatch]:
        buf = self._buffers.setdefault(payload.src, bytearray())
        buf += payload.data
        rows: list[list[float]] = []
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                if len(buf) > MAX_LINE_BYTES:
                    self._bad(f"no newline within {MAX_LINE_BYTES} bytes", len(buf))
                    buf.clear()
                break
            line = bytes(buf[:nl])
            del buf[: nl + 1]
            row = self._parse(line)
            if row is not None:
                rows.append(row)
        if not rows:
            return []
        return self._batches(rows, payload.t)

    def _bad(self, why: str, nbytes: int) -> None:
        self.counters.malformed += 1
        self.counters.skipped_bytes += nbytes
        self.counters.last_error = why

    def _parse(self, line: bytes) -> list[float] | None:
        text = line.strip(b"\r\x00 \t")
        if not text:
            return None
        try:
            s = text.decode("ascii")
        except UnicodeDecodeError:
            self._bad("non-ASCII bytes in a text line", len(line) + 1)
            return None
        fields = [f for f in _SPLIT.split(s) if f]
        try:
            values = [float(f) for f in fields]
        except ValueError:
            if fields and not _is_number(fields[0]) and self.counters.frames == 0:
                self.header = fields  # a header before any data: expected, not an error
                self.headers_seen += 1
                return None
            self._bad(f"not a number in line {s[:60]!r}", len(line) + 1)
            return None
        if len(values) not in (4, 7):
            self._bad(f"expected 4 or 7 fields, got {len(values)}: {s[:60]!r}", len(line) + 1)
            return None
        if not all(np.isfinite(values)):
            self._bad(f"non-finite value in line {s[:60]!r}", len(line) + 1)
            return None
        self.counters.frames += 1
        return values

    def _batches(self, rows: list[list[float]], host_t: float) -> list[DecodedBatch]:
        out: list[DecodedBatch] = []
        start = 0
        for i in range(1, len(rows) + 1):  # split where the line width changes
            if i == len(rows) or len(rows[i]) != len(rows[start]):
                arr = np.asarray(rows[start:i], dtype=np.float64)
                # a huge value may overflow to inf in the unit conversion: no warning here, the
                # sample is dropped and counted downstream (firmware_bridge.samples.plausible_rows)
                with np.errstate(over="ignore", invalid="ignore"):
                    gyro = arr[:, 4:7] * self.gyro_factor if arr.shape[1] == 7 else None
                    acc = arr[:, 1:4] * self.acc_factor
                    sensor_t = arr[:, 0] * self.time_factor
                out.append(
                    DecodedBatch(
                        acc=acc,
                        gyro=gyro,
                        host_t=host_t,
                        sensor_t=sensor_t,
                        rate_hz=self.nominal_rate_hz,
                    )
                )
                start = i
        return out


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


DEVICES = [
    DeviceSpec(
        name="serial-text",
        title="text lines t,ax,ay,az[,gx,gy,gz] from an Arduino/ESP32 sketch (serial or BLE UART)",
        factory=SerialTextProtocol,
        transports=("serial", "ble"),
        aliases=("arduino", "text"),
        options_help=(
            "acc_unit=g|m/s2|mg, gyro_unit=dps|rad/s|mdps, time_unit=s|ms|us, "
            "acc_scale=F, gyro_scale=F (multiplied after the unit), rate_hz=F"
        ),
        default_baud=115200,
    )
]
