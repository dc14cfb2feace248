"""Decoder for the project's own reference firmware frame (ESP32 + MPU6050).

The frame layout is defined in ``firmware_bridge/firmware/frame.py`` (the encoder that
runs on the sensor); this module is an independent host-side implementation of the
decoder, and the tests run one against the other. On both USB serial and BLE (Nordic
UART Service) the frames travel COBS-encoded with a 0x00 delimiter, so a split or
merged payload and a corrupted byte cost at most one frame and the decoder resyncs.

Nordic UART Service UUIDs: Nordic Semiconductor, nRF Connect SDK documentation,
"Nordic UART Service (NUS)" (service 6E400001-..., RX write 6E400002-..., TX notify
6E400003-...). CRC-16/CCITT-FALSE is ``binascii.crc_hqx(data, 0xFFFF)`` (poly 0x1021).
"""

from __future__ import annotations

import binascii
import struct

import numpy as np

from firmware_bridge.protocols.base import MAX_CLOCK_LEAD_S, DecodedBatch, Protocol, Unwrapper
from firmware_bridge.protocols.registry import DeviceSpec
from firmware_bridge.transports.base import RawPayload

NUS_SERVICE = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
NUS_RX = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"  # host -> device (write)
NUS_TX = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"  # device -> host (notify)

FRAME_VERSION = 1
FLAG_GYRO = 0x01
_HEADER = struct.Struct("<BBHIfffBB")  # version, flags, seq, t_us, rate, acc_lsb, gyro_lsb, batt, n
HEADER_SIZE = _HEADER.size  # 22
CRC_SIZE = 2
MAX_SAMPLES = 40
BATTERY_UNKNOWN = 255
#: Longest COBS packet we accept: 40 samples x 6 x int16 + header + CRC, plus COBS overhead.
MAX_PACKET_BYTES = 600


class CobsError(ValueError):
    """A COBS packet that cannot be decoded."""


def cobs_decode(packet: bytes) -> bytes:
    """Decode one COBS packet (without its 0x00 delimiter)."""
    out = bytearray()
    i = 0
    n = len(packet)
    while i < n:
        code = packet[i]
        if code == 0:
            raise CobsError("zero byte inside a COBS packet")
        end = i + code
        if end > n:
            raise CobsError("COBS block runs past the end of the packet")
        out += packet[i + 1 : end]
        i = end
        if code < 0xFF and i < n:
            out.append(0)
    return bytes(out)


class FrameError(ValueError):
    """A decoded frame whose content is invalid."""


class CrcError(FrameError):
    """A frame whose CRC does not match."""


class ReferenceFrameProtocol(Protocol):
    """COBS-framed reference frames over serial or BLE Nordic UART."""

    name = "reference"
    has_timestamps = True
    ble_service = NUS_SERVICE
    notify_uuids = (NUS_TX,)
    write_uuid = NUS_RX

    def __init__(self) -> None:
        super().__init__()
        self._buffers: dict[str, bytearray] = {}
        self._clock = Unwrapper(1 << 32, max_step=int(MAX_CLOCK_LEAD_S * 1e6))

    def reset(self) -> None:
        self._buffers.clear()
        self._clock.reset()

    def decode(self, payload: RawPayload) -> list[DecodedBatch]:
        buf = self._buffers.setdefault(payload.src, bytearray())
        buf += payload.data
        out: list[DecodedBatch] = []
        while True:
            end = buf.find(0)
            if end < 0:
                if len(buf) > MAX_PACKET_BYTES:  # no delimiter for too long: garbage
                    self.counters.skipped_bytes += len(buf)
                    self.counters.malformed += 1
                    self.counters.last_error = "no frame delimiter within 600 bytes"
                    buf.clear()
                break
            packet = bytes(buf[:end])
            del buf[: end + 1]
            if not packet:
                continue  # empty packet: a lone delimiter (e.g. a resync flush)
            batch = self._decode_packet(packet, payload.t)
            if batch is not None:
                out.append(batch)
        return out

    def _decode_packet(self, packet: bytes, host_t: float) -> DecodedBatch | None:
        try:
            frame = cobs_decode(packet)
            return self._decode_frame(frame, host_t)
        except CrcError as exc:
            self.counters.crc_errors += 1
            self.counters.last_error = str(exc)
        except (CobsError, FrameError, struct.error) as exc:
            self.counters.malformed += 1
            self.counters.last_error = str(exc)
        self.counters.skipped_bytes += len(packet) + 1
        return None

    def _decode_frame(self, frame: bytes, host_t: float) -> DecodedBatch:
        if len(frame) < HEADER_SIZE + CRC_SIZE:
            raise FrameError(f"frame too short ({len(frame)} bytes)")
        (crc_rx,) = struct.unpack_from("<H", frame, len(frame) - CRC_SIZE)
        crc = binascii.crc_hqx(frame[:-CRC_SIZE], 0xFFFF)
        if crc != crc_rx:
            raise CrcError(f"CRC mismatch (got {crc_rx:04x}, computed {crc:04x})")
        version, flags, seq, t_us, rate, acc_lsb, gyro_lsb, battery, n = _HEADER.unpack_from(frame)
        if version != FRAME_VERSION:
            raise FrameError(f"unsupported frame version {version}")
        width = 6 if flags & FLAG_GYRO else 3
        if not 1 <= n <= MAX_SAMPLES:
            raise FrameError(f"bad sample count {n}")
        if len(frame) != HEADER_SIZE + n * width * 2 + CRC_SIZE:
            raise FrameError(f"frame length {len(frame)} does not match {n} samples")
        if not (0.0 < rate < 10000.0) or not (acc_lsb > 0.0) or (width == 6 and not gyro_lsb > 0):
            raise FrameError("bad rate or scale in frame header")
        raw = np.frombuffer(frame, dtype="<i2", count=n * width, offset=HEADER_SIZE)
        raw = raw.reshape(n, width).astype(np.float64)
        acc = raw[:, :3] / float(acc_lsb)
        gyro = raw[:, 3:] / float(gyro_lsb) if width == 6 else None
        t0_us = self._clock(t_us)
        sensor_t = (t0_us + np.arange(n) * (1e6 / float(rate))) / 1e6
        if battery <= 100:
            self.battery_pct = float(battery)
        self.nominal_rate_hz = float(rate)
        self.counters.frames += 1
        return DecodedBatch(
            acc=acc,
            gyro=gyro,
            host_t=host_t,
            sensor_t=sensor_t,
            seq=seq,
            seq_modulus=1 << 16,
            rate_hz=float(rate),
        )


DEVICES = [
    DeviceSpec(
        name="reference",
        title="tremorscope reference firmware (ESP32 + MPU6050), USB serial or BLE Nordic UART",
        factory=ReferenceFrameProtocol,
        transports=("serial", "ble"),
        ble_service_uuids=(NUS_SERVICE,),
        ble_name_prefixes=("tremorscope",),
        aliases=("tremorscope", "esp32-mpu6050"),
        default_baud=115200,
    )
]
