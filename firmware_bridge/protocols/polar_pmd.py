"""Polar H10 and Polar Verity Sense over the Polar Measurement Data (PMD) service.

Sources (polarofficial/polar-ble-sdk; Kotlin files under ``sources/Android/android-communications/
library/src/main/java/com/polar/androidcommunications/api/ble/model/gatt/client/``):
- GATT: PMD service FB005C80-02E7-F387-1CAD-8ACD2D8DF0C8, control point ...5C81 (write +
  notify), data ...5C82 (notify) (``pmd/BlePMDClient.kt`` ``PMD_SERVICE``/``PMD_CP``/``PMD_DATA``);
  battery: Battery Service 0x180F, Battery Level 0x2A19, one byte in percent, notified
  (``BleBattClient.kt``).
- Control point commands (``pmd/PmdControlPointCommand.kt``): GET_MEASUREMENT_SETTINGS 1,
  REQUEST_MEASUREMENT_START 2, STOP_MEASUREMENT 3; from the sensor, 1 = ONLINE_MEASUREMENT_STOPPED.
  Measurement types (``pmd/PmdMeasurementType.kt``, low 6 bits): ECG 0, PPG 1, ACC 2, GYRO 5.
- The byte layouts of commands, replies and data frames, with their sources, are in
  ``polar_pmd_frames``.
- Sample times (``pmd/model/PmdTimeStampUtils.kt``): with the previous frame's timestamp the
  spacing is (timestamp - previous) / n, else 1 / sample rate; the last sample gets the frame
  timestamp (polar-ble-sdk commit f83e7bad, ``PmdTimeStampUtils.getTimeStamps``: the configured
  rate is used only for a first frame). So the frame timestamps are trusted over the configured
  rate: the spacing they imply is learned and followed. A spacing more than 50 % longer than
  the learned one is a lost frame (the session clock sees the gap instead of stretched samples)
  unless the next frame confirms it (the sensor streams slower than configured); a shorter one
  is always the sensor's own rate (lost frames only lengthen it). A sensor configured for 50 Hz
  that streams 200 Hz therefore gets 200 Hz sample times, not false gaps.
- Settings per device. H10 ACC (confirmed): sample rates 25/50/100/200 Hz, resolution 16, range
  2/4/8 g, and NO CHANNELS setting. Sources: polar-ble-sdk
  ``technical_documentation/Polar_Measurement_Data_Specification.pdf``, "Request Stream
  Settings, H10 response used as example": ``[01 02]`` is answered ``F0 01 02 00 00 | 00 04 19 00
  32 00 64 00 C8 00 | 01 01 10 00 | 02 03 02 00 04 00 08 00`` (SAMPLE_RATE x4, RESOLUTION x1,
  RANGE x3, nothing else); ``documentation/products/PolarH10.md`` ("sample rates of 25Hz, 50Hz,
  100Hz and 200Hz and range of 2G, 4G and 8G. Axis specific acceleration data in mG"). The same
  specification's "Start Stream" example starts an H10 with ``02 02 | 02 01 08 00 | 00 01 C8 00
  | 01 01 10 00`` (8 g, 200 Hz, 16 bit; settings in any order) answered ``F0 02 02 00 00 01``
  (no FACTOR), and its first data frame ``02 EA54A2428B455208 01 45FF E4FF B503 ...`` is frame
  type 1 (int16) with sample 0 = (-184, -28, 949) mG. polar-ble-sdk issue #124: the H10 refuses
  (ERROR_INVALID_PARAMETER) a start that leaves out one of its settings (there: RESOLUTION), so
  all three are always sent. There is no vendor default start command (the SDK asks the sensor
  for its settings and the app chooses); this project's default is 50 Hz, 16 bit, 4 g, i.e.
  ``02 02 00 01 32 00 01 01 10 00 02 01 04 00`` (fsmeraldi/bleakheart uses 200 Hz, 16, 2 g).
- Verity Sense: in normal mode ACC offers only 52 Hz, 16 bit, 8 g, CHANNELS 3 (same
  specification, "Polar Verity Sense response used as example": ``F0 01 02 00 00 00 01 34 00 01
  01 10 00 02 01 08 00 04 01 03``); the start command ``02 02 00 01 34 00 01 01 10 00 02 01 08 00
  04 01 03`` was answered ``F0 02 02 00 00`` in polar-ble-sdk issues #331 and #443. Other rates
  and ranges need SDK mode (``documentation/SdkModeExplained.md``: online ACC and GYRO 26, 52,
  104, 208, 416 Hz; ACC 2/4/8/16 g; GYRO 250/500/1000/2000 deg/s; resolution 16), entered with
  REQUEST_MEASUREMENT_START of measurement type SDK_MODE = 9 (``[02 09]``) and left with
  ``[03 09]`` (``pmd/BlePMDClient.kt`` ``startSDKMode``/``stopSDKMode``,
  ``PmdMeasurementType.SDK_MODE(9)``); "if the online stream ... is running ... the SDK Mode
  cannot be changed" (SdkModeExplained.md), so streams are stopped first. This module enters SDK
  mode only when the ACC settings asked for are not the normal-mode ones; the gyro's normal-mode
  settings are not documented here, so a gyro start the sensor refuses is reported, not guessed at.
"""

from __future__ import annotations

import math
import struct

import numpy as np

from firmware_bridge.protocols.base import DecodedBatch, Protocol
from firmware_bridge.protocols.polar_pmd_frames import (  # noqa: F401 - re-exported: the wire format
    CP_MEASUREMENT_STOPPED,
    CP_RESPONSE,
    DELTA_FRAME_BIT,
    EPOCH_2000_UNIX_S,
    FRAME_HEADER_BYTES,
    FRAME_TYPE_MASK,
    MAX_DELTA_BITS,
    OP_GET_SETTINGS,
    OP_START,
    OP_STOP,
    RESOLUTION_BITS,
    SETTING_CHANNELS,
    SETTING_FACTOR,
    SETTING_FIELD_BYTES,
    SETTING_RANGE,
    SETTING_RANGE_MILLIUNIT,
    SETTING_RESOLUTION,
    SETTING_SAMPLE_RATE,
    STATUS_NAMES,
    TYPE_ACC,
    TYPE_ECG,
    TYPE_GYRO,
    TYPE_MASK,
    TYPE_PPG,
    TYPE_SDK_MODE,
    parse_delta_frame,
    parse_settings,
    raw_samples,
    settings_bytes,
    signed_values,
)
from firmware_bridge.protocols.registry import DeviceSpec
from firmware_bridge.transports.base import Command, RawPayload

SERVICE = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
CONTROL_POINT = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
BATTERY_SERVICE = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL = "00002a19-0000-1000-8000-00805f9b34fb"

#: Longest gyro/acc backlog (s) waiting for the other stream before acc is passed on alone.
MAX_UNPAIRED_S = 2.0
#: A frame spacing this far (ratio) from the learned one is not jitter: a lost frame or a new rate.
SPACING_TOLERANCE = 0.5
#: Consecutive frames with the same longer spacing (within 10 %) that make it the sensor's rate.
RATE_CONFIRM_FRAMES = 2

MODELS = {
    "h10": {"rates": (25, 50, 100, 200), "ranges_g": (2, 4, 8), "channels": None, "gyro": False},
    "verity": {
        "rates": (26, 52, 104, 208, 416),
        "ranges_g": (2, 4, 8, 16),
        "channels": 3,
        "gyro": True,
        "gyro_ranges_dps": (250, 500, 1000, 2000),
        "normal_mode_acc": (52, 8),  # (Hz, g) offered outside SDK mode
    },
}


class PolarPmdProtocol(Protocol):
    """ACC (and Verity Sense GYRO) streaming from Polar sensors through PMD."""

    name = "polar"
    has_timestamps = True
    ble_service = SERVICE
    notify_uuids = (CONTROL_POINT, DATA, BATTERY_LEVEL)
    write_uuid = CONTROL_POINT

    def __init__(
        self,
        model: str = "h10",
        rate_hz: int | str | None = None,
        range_g: int | str | None = None,
        gyro: bool | int | str = False,
        gyro_range_dps: int | str = 2000,
    ) -> None:
        super().__init__()
        model = str(model).strip().lower()
        if model not in MODELS:
            raise ValueError(f"Polar model {model!r} is not supported; use h10 or verity")
        spec = MODELS[model]
        rate = int(float(rate_hz)) if rate_hz is not None else (50 if model == "h10" else 52)
        if rate not in spec["rates"]:
            raise ValueError(
                f"Polar {model} rate {rate} Hz is not supported; use " + ", ".join(map(str, spec["rates"]))
            )
        rng = int(range_g) if range_g is not None else (4 if model == "h10" else 8)
        if rng not in spec["ranges_g"]:
            raise ValueError(
                f"Polar {model} range {rng} g is not supported; use " + ", ".join(map(str, spec["ranges_g"]))
            )
        self.gyro = str(gyro).strip().lower() in ("1", "true", "yes", "on")
        if self.gyro and not spec["gyro"]:
            raise ValueError("the Polar H10 has no gyroscope; use model=verity for gyro")
        grange = int(gyro_range_dps)
        if self.gyro and grange not in spec["gyro_ranges_dps"]:
            raise ValueError("gyro range must be 250, 500, 1000 or 2000 deg/s")
        self.model = model
        self.range_g = rng
        self.gyro_range_dps = grange
        self.channels = spec["channels"]
        self.nominal_rate_hz = float(rate)
        normal = spec.get("normal_mode_acc")
        #: Enter the Verity Sense's SDK mode (needed for ACC settings outside normal mode).
        self.sdk_mode = normal is not None and (rate, rng) != normal
        self.factor: dict[int, float] = {}
        self.status: dict[int, str] = {}
        self._prev_ts: dict[int, int] = {}
        self._step_ns: dict[int, float] = {}  # per type: the sample spacing the frame timestamps show
        self._longer: dict[int, tuple[float, int]] = {}  # per type: a longer spacing, frames seen
        self._acc_t = np.empty(0)
        self._acc_v = np.empty((0, 3))
        self._gyr_t = np.empty(0)
        self._gyr_v = np.empty((0, 3))

    # --- commands ----------------------------------------------------------------------
    def _types(self) -> list[int]:
        return [TYPE_ACC, TYPE_GYRO] if self.gyro else [TYPE_ACC]

    def start_commands(self, transport_kind: str) -> list[Command]:
        rate = int(self.nominal_rate_hz or 50)
        cmds = [Command(CONTROL_POINT, bytes((OP_STOP, t)), wait_s=0.1) for t in self._types()]
        if self.sdk_mode:  # only while no stream runs (SdkModeExplained.md)
            cmds.append(Command(CONTROL_POINT, bytes((OP_START, TYPE_SDK_MODE)), wait_s=0.2))
        acc = settings_bytes(rate, RESOLUTION_BITS, self.range_g, self.channels)
        cmds.append(Command(CONTROL_POINT, bytes((OP_START, TYPE_ACC)) + acc, wait_s=0.2))
        if self.gyro:
            gyr = settings_bytes(rate, RESOLUTION_BITS, self.gyro_range_dps, self.channels)
            cmds.append(Command(CONTROL_POINT, bytes((OP_START, TYPE_GYRO)) + gyr, wait_s=0.2))
        return cmds

    def stop_commands(self, transport_kind: str) -> list[Command]:
        cmds = [Command(CONTROL_POINT, bytes((OP_STOP, t)), wait_s=0.05) for t in self._types()]
        if self.sdk_mode:  # leave the sensor in its normal mode
            cmds.append(Command(CONTROL_POINT, bytes((OP_STOP, TYPE_SDK_MODE)), wait_s=0.05))
        return cmds

    # --- decoding ----------------------------------------------------------------------
    def reset(self) -> None:
        self._prev_ts.clear()
        self._longer.clear()
        self._acc_t, self._acc_v = np.empty(0), np.empty((0, 3))
        self._gyr_t, self._gyr_v = np.empty(0), np.empty((0, 3))

    def decode(self, payload: RawPayload) -> list[DecodedBatch]:
        src = payload.src.lower()
        if src == BATTERY_LEVEL:
            if len(payload.data) >= 1 and payload.data[0] <= 100:
                self.battery_pct = float(payload.data[0])
            return []
        if src == CONTROL_POINT:
            self._control_point(payload.data)
            return []
        return self._frame(payload.data, payload.t)

    def _control_point(self, d: bytes) -> None:
        if len(d) >= 4 and d[0] == CP_RESPONSE:
            op, kind, status = d[1], d[2] & TYPE_MASK, d[3]
            name = STATUS_NAMES[status] if status < len(STATUS_NAMES) else f"status {status}"
            if op == OP_START:
                self.status[kind] = name
                if kind == TYPE_SDK_MODE:
                    if status not in (0, STATUS_NAMES.index("already in state")):
                        self.counters.last_error = (
                            f"Polar refused SDK mode ({name}), needed for {self.nominal_rate_hz:g} Hz / "
                            f"{self.range_g} g; Verity Sense needs firmware 1.1.5 or later, or use 52 Hz, 8 g"
                        )
                    return
                if status == 0:
                    factors = parse_settings(d[5:]).get(SETTING_FACTOR)
                    factor = float(factors[0]) if factors else 1.0
                    if math.isfinite(factor) and factor > 0:
                        self.factor[kind] = factor
                    else:
                        self.counters.malformed += 1
                        self.counters.last_error = f"start response with an unusable factor {factor!r}"
                else:
                    self.counters.last_error = f"Polar refused to start measurement type {kind}: {name}"
        elif len(d) >= 1 and d[0] == CP_MEASUREMENT_STOPPED:
            types = ", ".join(str(b & TYPE_MASK) for b in d[1:])
            self.counters.last_error = f"the sensor stopped measurement type(s) {types}"

    def _bad(self, size: int, why: str) -> list[DecodedBatch]:
        self.counters.malformed += 1
        self.counters.skipped_bytes += size
        self.counters.last_error = why
        return []

    def _frame(self, d: bytes, host_t: float) -> list[DecodedBatch]:
        if len(d) < FRAME_HEADER_BYTES + 1:
            return self._bad(len(d), f"PMD frame of {len(d)} bytes is too short")
        kind = d[0] & TYPE_MASK
        if kind not in self._types():
            return []  # another measurement (ECG, PPG...) someone else started; not ours
        (ts_ns,) = struct.unpack_from("<Q", d, 1)
        ftype = d[9]
        compressed, sub = bool(ftype & DELTA_FRAME_BIT), ftype & FRAME_TYPE_MASK
        content = d[FRAME_HEADER_BYTES:]
        factor = self.factor.get(kind, 1.0)
        try:
            values = self._values(kind, compressed, sub, content, factor)
        except ValueError as exc:
            return self._bad(len(d), f"PMD {'ACC' if kind == TYPE_ACC else 'GYRO'} frame: {exc}")
        self.counters.frames += 1
        t = self._times(kind, ts_ns, len(values))
        if kind == TYPE_ACC:
            acc = values / 1000.0  # mG -> g
            if not self.gyro:
                return [
                    DecodedBatch(acc=acc, gyro=None, host_t=host_t, sensor_t=t, rate_hz=self._batch_rate_hz())
                ]
            self._acc_t = np.concatenate([self._acc_t, t])
            self._acc_v = np.vstack([self._acc_v, acc])
        else:
            self._gyr_t = np.concatenate([self._gyr_t, t])
            self._gyr_v = np.vstack([self._gyr_v, values])
        return self._pair(host_t)

    def _values(self, kind: int, compressed: bool, sub: int, content: bytes, factor: float) -> np.ndarray:
        if kind == TYPE_ACC:
            if not compressed:
                if sub not in (0, 1, 2):
                    raise ValueError(f"raw frame type {sub} is not an ACC frame type")
                return raw_samples(content, sub + 1).astype(np.float64)
            if sub not in (0, 1):
                raise ValueError(f"compressed frame type {sub} is not an ACC frame type")
            raw = parse_delta_frame(content, 3, RESOLUTION_BITS).astype(np.float64)
            if sub == 0:
                return raw * factor * 1000.0
            return raw * factor
        if not compressed or sub not in (0, 1):
            raise ValueError(
                f"{'compressed' if compressed else 'raw'} frame type {sub} is not a GYRO frame type"
            )
        if sub == 0:
            return parse_delta_frame(content, 3, RESOLUTION_BITS).astype(np.float64) * factor
        bits = parse_delta_frame(content, 3, 32, signed_ref=False) & 0xFFFFFFFF
        floats = bits.astype(np.uint32).view(np.float32).astype(np.float64) * factor
        if not np.all(np.isfinite(floats)):
            raise ValueError("float gyro frame decodes to NaN or infinity")
        return floats

    def _times(self, kind: int, ts_ns: int, n: int) -> np.ndarray:
        """Sample times (s): the last at the frame timestamp, spaced as the timestamps show."""
        step = self._step_ns.get(kind) or 1e9 / float(self.nominal_rate_hz or 50.0)
        prev = self._prev_ts.get(kind)
        if prev is not None and ts_ns > prev:
            measured = (ts_ns - prev) / n
            if measured < (1.0 + SPACING_TOLERANCE) * step:
                step = measured  # jitter, or a faster sensor than configured
                self._longer.pop(kind, None)
            else:  # a lost frame, unless the next frames confirm a slower sensor
                seen = self._longer.get(kind)
                count = seen[1] + 1 if seen and abs(measured - seen[0]) < 0.1 * seen[0] else 1
                self._longer[kind] = (measured, count)
                if count >= RATE_CONFIRM_FRAMES:
                    step = measured
                    self._longer.pop(kind, None)
            self._step_ns[kind] = step
        self._prev_ts[kind] = ts_ns
        return (ts_ns - step * np.arange(n - 1, -1, -1)) / 1e9

    @property
    def frame_rate_hz(self) -> float | None:
        """The sample rate the ACC frame timestamps show (None before two frames)."""
        step = self._step_ns.get(TYPE_ACC)
        return 1e9 / step if step else None

    def _batch_rate_hz(self) -> float | None:
        """The rate a batch declares: the configured one, unless the frames show another."""
        shown = self.frame_rate_hz
        nominal = self.nominal_rate_hz
        if shown is not None and nominal and abs(shown / nominal - 1.0) > SPACING_TOLERANCE:
            return shown
        return nominal

    def _pair(self, host_t: float) -> list[DecodedBatch]:
        """Match Verity Sense ACC and GYRO samples by sensor time (gyro linearly interpolated)."""
        out: list[DecodedBatch] = []
        rate = float(self.nominal_rate_hz or 52.0)
        tol = 0.5 / rate
        if len(self._acc_t) and len(self._gyr_t):
            early = self._acc_t < self._gyr_t[0] - tol  # before the gyro stream began
            if early.any():
                out.append(self._acc_only(early, host_t, "acceleration before the gyro stream began"))
            ready = self._acc_t <= self._gyr_t[-1] + tol
            if ready.any():
                t = self._acc_t[ready]
                gyro = np.column_stack([np.interp(t, self._gyr_t, self._gyr_v[:, k]) for k in range(3)])
                out.append(
                    DecodedBatch(
                        acc=self._acc_v[ready],
                        gyro=gyro,
                        host_t=host_t,
                        sensor_t=t,
                        rate_hz=self._batch_rate_hz(),
                    )
                )
                self._acc_t, self._acc_v = self._acc_t[~ready], self._acc_v[~ready]
                keep = max(0, int(np.searchsorted(self._gyr_t, t[-1], side="right")) - 1)
                self._gyr_t, self._gyr_v = self._gyr_t[keep:], self._gyr_v[keep:]
        if len(self._acc_t) and self._acc_t[-1] - self._acc_t[0] > MAX_UNPAIRED_S:
            out.append(
                self._acc_only(
                    np.ones(len(self._acc_t), bool), host_t, "gyro stream stalled; acc passed on alone"
                )
            )
        if len(self._gyr_t) and self._gyr_t[-1] - self._gyr_t[0] > MAX_UNPAIRED_S and not len(self._acc_t):
            cut = self._gyr_t < self._gyr_t[-1] - MAX_UNPAIRED_S
            self.counters.skipped_bytes += int(cut.sum()) * 6
            self._gyr_t, self._gyr_v = self._gyr_t[~cut], self._gyr_v[~cut]
        return out

    def _acc_only(self, mask: np.ndarray, host_t: float, why: str) -> DecodedBatch:
        batch = DecodedBatch(
            acc=self._acc_v[mask],
            gyro=None,
            host_t=host_t,
            sensor_t=self._acc_t[mask],
            rate_hz=self._batch_rate_hz(),
        )
        self._acc_t, self._acc_v = self._acc_t[~mask], self._acc_v[~mask]
        self.counters.last_error = why
        return batch

    def describe(self) -> dict:
        return {
            **super().describe(),
            "model": self.model,
            "range_g": self.range_g,
            "gyro": self.gyro,
            "gyro_range_dps": self.gyro_range_dps if self.gyro else None,
            "sdk_mode": self.sdk_mode,
            "factor": {str(k): v for k, v in self.factor.items()},
            "timestamp_epoch_unix_s": EPOCH_2000_UNIX_S,
        }


def _verity(**options: str) -> PolarPmdProtocol:
    return PolarPmdProtocol(model="verity", **options)


def _h10(**options: str) -> PolarPmdProtocol:
    return PolarPmdProtocol(model="h10", **options)


# Both models expose the same PMD service, so scans tell them apart by advertised name only.
DEVICES = [
    DeviceSpec(
        name="polar-h10",
        title="Polar H10 chest strap (PMD), acc only, sensor timestamps",
        factory=_h10,
        transports=("ble",),
        ble_name_prefixes=("Polar H10",),
        aliases=("h10", "polar"),
        options_help="rate_hz=25|50|100|200 (default 50), range_g=2|4|8 (default 4)",
    ),
    DeviceSpec(
        name="polar-verity",
        title="Polar Verity Sense (PMD), acc (+gyro), sensor timestamps",
        factory=_verity,
        transports=("ble",),
        ble_name_prefixes=("Polar Sense", "Polar Verity"),
        aliases=("verity", "verity-sense", "polar-verity-sense"),
        options_help=(
            "rate_hz=26|52|104|208|416 (default 52), range_g=2|4|8|16 (default 8), gyro=0|1 (default 0), "
            "gyro_range_dps=250|500|1000|2000 (default 2000); settings other than 52 Hz, 8 g put the "
            "sensor in SDK mode (firmware 1.1.5 or later)"
        ),
    ),
]
