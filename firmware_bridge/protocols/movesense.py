"""Movesense sensors running the ``gatt_sensordata_app`` firmware (GATT SensorData Protocol, GSP).

Sources:
- GATT and commands: Movesense ``movesense-device-lib``, ``samples/gatt_sensordata_app/
  GATTSensorDataClient.cpp`` (mirrored at github.com/alexisduque/movesense-device-lib):
  service 34802252-7185-4d5d-b431-630e7050e8f0, command characteristic 34800001-... (WRITE),
  data characteristic 34800002-... (NOTIFY); commands are ``[command, reference, data...]``
  with HELLO = 0, SUBSCRIBE = 1 (data = the resource path as text), UNSUBSCRIBE = 2; the
  reference must not be 0. Replies are ``[type, reference, ...]`` with COMMAND_RESULT = 1
  (followed by a uint16 HTTP-style status, or "Hello"), DATA = 2 (followed by the SBEM
  serialisation of the notification), and on newer firmware DATA_PART2 = 3 / DATA_PART3 = 4
  ("In case the subscription data is larger than fits in the single BLE packet, continue
  with Part2 & 3"). The same spec is Movesense document GD-77, "GATT SensorData Protocol
  specification" (movesense.com/docs/esw/gatt_sensordata_protocol).
- Continuation layout (confirmed as far as the sources reachable here go): a DATA_PART2/3
  packet is ``[type, reference]`` followed directly by the next bytes of the same notification,
  with no offset, length or part counter (the type byte 3 or 4 is the part number). The
  gatt_sensordata_app Python client joins ``part1 + part2[2:]`` ("Create combined DataView that
  contains the whole data packet (skip type_id + ref num of the data_part2)"; copies of
  ``samples/gatt_sensordata_app/python_client/movesense_sensor_data.py`` that subscribe
  ``/Meas/IMU9/104``). Live streams are split this way from library 2.2.1 ("Bugfix: Live-streams
  missing DATA_PART2 on gatt_sensordata_app", alexisduque/movesense-device-lib ``CHANGES.md``);
  each part can hold at most 156 bytes of the message: the sample firmware's send buffer is
  ``uint8_t mDataMsgBuffer[158]; // (MTU -3)`` (``GATTSensorDataClient.h``) and its generated
  serialiser writes a given byte range of a notification, ``writeToSbemBuffer(buffer, bufferLen,
  startOffset, ...)`` (``MovesenseCoreLib/tools/sbemCodeGenerator/sbemCodeGen.py``). The 2.2.1
  splitting code itself is not in any repository reachable here. Not to be confused with the
  logbook transfer (FETCH_LOG, library 2.2.0 ``GATTSensorDataClient.cpp``
  ``handleSendingLogbookData``), whose DATA and DATA_PART2 packets both carry a uint32 offset
  after ``[type, reference]``; this decoder never fetches logs.
- End of a notification: the protocol does not mark the last part and gives no length (the
  Python client simply knows IMU9/104 arrives as DATA + DATA_PART2). So this decoder keeps a
  notification open until the next DATA packet of the same reference shows it has ended, then
  learns the complete length and closes later notifications as soon as they reach it (no
  added latency after the first one). It does not assume that a part shorter than 158 bytes is
  the last one, since the 2.2.1 split size is not documented.
- Payload: ``uint32 Timestamp`` (ms, "local timestamp of first measurement", Movesense API
  ``meas/acc.yaml`` and ``meas/imu.yaml``, as mirrored in AndyCW/MovesenseDotNet
  ``Model/AccData.cs``) followed by whole arrays: ``ArrayAcc`` then ``ArrayGyro`` (IMU6),
  each an array of float32 x, y, z; acceleration in m/s^2, angular rate in deg/s (dps).
  Paths: ``/Meas/Acc/{rate}``, ``/Meas/IMU6/{rate}`` with rates 13, 26, 52, 104, 208, 416,
  833, 1666 Hz (``meas/imu.yaml``).
- Scale: acceleration m/s^2 -> g with the standard gravity 9.80665 m/s^2 (BIPM, CGPM 1901).
- GSP can only subscribe, so the range cannot be set here (the sensor keeps its configured
  range, default +-8 g); there is no battery reading over GSP (battery is not reported).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from firmware_bridge.protocols.base import MAX_CLOCK_LEAD_S, DecodedBatch, Protocol, Unwrapper
from firmware_bridge.protocols.registry import DeviceSpec
from firmware_bridge.transports.base import Command, RawPayload

SERVICE = "34802252-7185-4d5d-b431-630e7050e8f0"
WRITE = "34800001-7185-4d5d-b431-630e7050e8f0"
NOTIFY = "34800002-7185-4d5d-b431-630e7050e8f0"

CMD_HELLO = 0
CMD_SUBSCRIBE = 1
CMD_UNSUBSCRIBE = 2
RESP_COMMAND_RESULT = 1
RESP_DATA = 2
RESP_DATA_PART2 = 3
RESP_DATA_PART3 = 4

STANDARD_GRAVITY_MS2 = 9.80665
RATES_HZ = (13, 26, 52, 104, 208, 416, 833, 1666)
DEFAULT_REFERENCE = 99
TIMESTAMP_BYTES = 4
VECTOR_BYTES = 12  # float32 x, y, z
#: Longest notification (bytes) we will assemble: far above a 1666 Hz IMU6 packet.
MAX_MESSAGE_BYTES = 4096


def subscribe_command(reference: int, path: str) -> bytes:
    """``[1, reference] + path``: subscribe ``path`` and tag its data with ``reference``."""
    return bytes((CMD_SUBSCRIBE, reference)) + path.encode("ascii")


def unsubscribe_command(reference: int) -> bytes:
    """``[2, reference]``: end the subscription made with ``reference``."""
    return bytes((CMD_UNSUBSCRIBE, reference))


@dataclass
class _Pending:
    """One notification being assembled from DATA (+ DATA_PART2/3) packets."""

    data: bytearray
    host_t: float
    parts: int


class MovesenseProtocol(Protocol):
    """Subscribe/unsubscribe commands and the GSP data decoder for ``/Meas/IMU6`` or ``/Meas/Acc``."""

    name = "movesense"
    has_timestamps = True
    ble_service = SERVICE
    notify_uuids = (NOTIFY,)
    write_uuid = WRITE

    def __init__(self, rate_hz: int | str = 52, gyro: bool | int | str = True, reference: int | str = 99):
        super().__init__()
        rate = int(float(rate_hz))
        if rate not in RATES_HZ:
            raise ValueError(
                f"Movesense rate {rate} Hz is not supported; use " + ", ".join(map(str, RATES_HZ))
            )
        ref = int(reference)
        if not 1 <= ref <= 255:
            raise ValueError("the GSP reference must be 1..255 (0 is reserved)")
        self.gyro = str(gyro).strip().lower() in ("1", "true", "yes", "on")
        self.reference = ref
        self.nominal_rate_hz = float(rate)
        self.path = f"/Meas/{'IMU6' if self.gyro else 'Acc'}/{rate}"
        self._vectors = 2 if self.gyro else 1
        self._pending: _Pending | None = None
        self._complete_len: int | None = None  # learned length of one whole notification
        self._clock = Unwrapper(1 << 32, max_step=int(MAX_CLOCK_LEAD_S * 1e3))
        self._prev: tuple[float, int] | None = None  # (first-sample time s, samples) of the last packet
        self.period_s = 1.0 / rate  # sample spacing, refined from consecutive packet timestamps
        self.last_status: int | None = None

    # --- commands ----------------------------------------------------------------------
    def start_commands(self, transport_kind: str) -> list[Command]:
        # Unsubscribe first: a subscription left over from a dropped link would keep running.
        return [
            Command(WRITE, unsubscribe_command(self.reference), wait_s=0.05),
            Command(WRITE, subscribe_command(self.reference, self.path), wait_s=0.05),
        ]

    def stop_commands(self, transport_kind: str) -> list[Command]:
        return [Command(WRITE, unsubscribe_command(self.reference))]

    # --- decoding ----------------------------------------------------------------------
    def reset(self) -> None:
        self._pending = None
        self._prev = None
        self._clock.reset()

    def _valid_length(self, n: int) -> bool:
        body = n - TIMESTAMP_BYTES
        per_sample = VECTOR_BYTES * self._vectors
        return body > 0 and body % per_sample == 0

    def decode(self, payload: RawPayload) -> list[DecodedBatch]:
        d = payload.data
        if len(d) < 2:
            return self._bad(len(d), "GSP packet shorter than [type, reference]")
        kind, ref = d[0], d[1]
        if kind == RESP_COMMAND_RESULT:
            self._command_result(ref, d[2:])
            return []
        if kind not in (RESP_DATA, RESP_DATA_PART2, RESP_DATA_PART3):
            return self._bad(len(d), f"unknown GSP packet type {kind}")
        if ref != self.reference:
            return []  # another client's subscription on the same sensor; not ours
        out: list[DecodedBatch] = []
        if kind == RESP_DATA:
            if self._pending is not None:  # a new notification starts: the previous one ended
                out += self._finish(learn=True)
            self._pending = _Pending(bytearray(d[2:]), payload.t, 1)
        else:
            if self._pending is None or self._pending.parts != kind - RESP_DATA:
                self._pending = None
                return self._bad(len(d), f"DATA_PART{kind - 1} without the packet before it")
            self._pending.data += d[2:]
            self._pending.host_t = payload.t
            self._pending.parts += 1
            if len(self._pending.data) > MAX_MESSAGE_BYTES:
                size = len(self._pending.data)
                self._pending = None
                return out + self._bad(size, "continuation packets run past any plausible notification")
        if self._pending is not None and len(self._pending.data) == self._complete_len:
            out += self._finish(learn=False)
        return out

    def _finish(self, learn: bool) -> list[DecodedBatch]:
        p = self._pending
        self._pending = None
        if p is None:
            return []
        if not self._valid_length(len(p.data)):
            return self._bad(len(p.data), f"{len(p.data)}-byte notification does not fit {self.path}")
        if not np.all(np.isfinite(np.frombuffer(bytes(p.data), "<f4", offset=TIMESTAMP_BYTES))):
            return self._bad(len(p.data), "notification holds NaN or infinite values")
        if learn:
            self._complete_len = len(p.data)
        return [self._samples(bytes(p.data), p.host_t)]

    def _samples(self, msg: bytes, host_t: float) -> DecodedBatch:
        (t_ms,) = struct.unpack_from("<I", msg, 0)
        n = (len(msg) - TIMESTAMP_BYTES) // (VECTOR_BYTES * self._vectors)
        vec = np.frombuffer(msg, dtype="<f4", offset=TIMESTAMP_BYTES).astype(np.float64)
        acc = vec[: 3 * n].reshape(n, 3) / STANDARD_GRAVITY_MS2
        gyro = vec[3 * n : 6 * n].reshape(n, 3) if self.gyro else None
        t0 = self._clock(t_ms) / 1000.0
        if self._prev is not None:
            # The nominal rates are rounded (13 Hz is the IMU's 12.5 Hz ODR); the timestamps of
            # consecutive packets give the real spacing. A lost packet makes the step too long
            # and is ignored here (the session clock records it as a gap).
            step = (t0 - self._prev[0]) / self._prev[1]
            if 0.8 < step * float(self.nominal_rate_hz or 52.0) < 1.25:
                self.period_s += 0.1 * (step - self.period_s)
        self._prev = (t0, n)
        sensor_t = t0 + np.arange(n) * self.period_s
        self.counters.frames += 1
        return DecodedBatch(
            acc=acc, gyro=gyro, host_t=host_t, sensor_t=sensor_t, rate_hz=self.nominal_rate_hz
        )

    def _command_result(self, ref: int, body: bytes) -> None:
        if ref != self.reference or len(body) < 2 or body[:5] == b"Hello":
            return
        # The status is an HTTP code; the sample firmware writes 507 as bytes 0x01 0xFB, i.e.
        # big-endian (GATTSensorDataClient.cpp, "No free datasub slot").
        status = int.from_bytes(body[:2], "big")
        self.last_status = status
        if status >= 400:
            self.counters.last_error = f"sensor refused {self.path}: status {status}"

    def _bad(self, size: int, why: str) -> list[DecodedBatch]:
        self.counters.malformed += 1
        self.counters.skipped_bytes += size
        self.counters.last_error = why
        return []

    def describe(self) -> dict:
        return {**super().describe(), "path": self.path, "reference": self.reference}


DEVICES = [
    DeviceSpec(
        name="movesense",
        title="Movesense (gatt_sensordata_app firmware), acc + gyro, sensor timestamps",
        factory=MovesenseProtocol,
        transports=("ble",),
        ble_service_uuids=(SERVICE,),
        ble_name_prefixes=("Movesense",),
        aliases=("movesense-gsp", "gatt_sensordata_app"),
        options_help="rate_hz=13|26|52|104|208|416|833|1666 (default 52), gyro=0|1 (default 1)",
    )
]
