"""MbientLab MetaMotion / MetaWear boards (Bosch BMI160, BMI270 or BMA255), streaming mode.

Every fact below is from MbientLab's own SDKs: mbientlab/MetaWear-SDK-Cpp (``src/metawear/...``)
and, where named "Android", mbientlab/MetaWear-SDK-Android
(``library/src/main/java/com/mbientlab/metawear/impl/...``):
- GATT: service 326a9000-..., command characteristic 326a9001-..., notification
  characteristic 326a9006-... (``core/connection.h`` ``METAWEAR_SERVICE_NOTIFY_CHAR``,
  ``core/cpp/metawearboard.cpp`` ``METAWEAR_COMMAND_CHAR``). Commands are written WITHOUT
  response except macro commands (``metawearboard.cpp`` ``send_command``).
- Packets in both directions are ``[module, register, payload...]``; a read sets bit 7 of the
  register (``core/cpp/register.h`` ``READ_REGISTER(x) = 0x80 | x``). Modules: accelerometer
  0x03, settings 0x11, gyro 0x13 (``core/module.h``; mirrored in hbldh/pymetawear ``Modules``).
- Module info: read register 0 (``[module, 0x80]``); the reply is ``[module, 0x80,
  implementation, revision, extra...]`` (``core/cpp/moduleinfo.cpp``). Accelerometer
  implementations: BMI160 = 1, BMA255 = 3, BMI270 = 4 (``sensor/accelerometer_bosch.h``;
  Android ``AccelerometerBmi270Impl.IMPLEMENTATION = 0x4``); gyro: BMI160 = 0, BMI270 = 1
  (``sensor/cpp/gyro_bosch.cpp`` ``MBL_MW_MODULE_GYRO_TYPE_*``).
- Accelerometer registers common to the three chips (``sensor/cpp/accelerometer_bosch.cpp``
  addresses them through ``AccelerometerBmi160Register`` for all three;
  ``accelerometer_bosch_register.h``; Android ``AccelerometerBmi270Impl``: POWER_MODE = 1,
  DATA_INTERRUPT_ENABLE = 2, DATA_CONFIG = 3, DATA_INTERRUPT = 4): POWER_MODE 0x01 (``[03 01
  01]`` start, ``[03 01 00]`` stop; the C++ ``mbl_mw_acc_bosch_start`` sends 2 instead of 1 on
  a BMI270 whose config has ``us`` = 0), DATA_INTERRUPT_ENABLE 0x02 (``[03 02 01 00]`` enable,
  ``[03 02 00 01]`` disable), DATA_CONFIG 0x03 (2 config bytes), DATA_INTERRUPT 0x04 (one
  sample, 6 bytes; subscribe ``[03 04 01]``, unsubscribe ``[03 04 00]``,
  ``core/cpp/datasignal.cpp`` ``subscribe``).
- Packed ("high frequency") acceleration, several samples per notification: the register is
  chip-specific. BMI160 and BMA255 use ``AccelerometerBoschRegister::PACKED_ACC_DATA`` = 0x1C
  (``accelerometer_bosch_register.h``), and only on accelerometer module revision >= 1
  (``accelerometer_bosch.cpp`` ``PACKED_ACC_REVISION = 1``, checked in
  ``init_accelerometer_bosch``). The BMI270 uses ``AccelerometerBmi270Register::PACKED_ACC_DATA``
  (``BMI270_PACKED_ACCEL_RESPONSE_HEADER``, registered without a revision check in
  ``init_accelerometer_bmi270``), whose value is 0x05 (Android
  ``AccelerometerBmi270Impl``: ``PACKED_ACC_DATA = 0x5``). Layout: after ``[module, register]``,
  consecutive int16 LE x, y, z samples, 6 bytes each; the C++ ``response_handler_packed_data``
  (``core/cpp/metawearboard.cpp``) walks the payload in steps of ``CARTESIAN_FLOAT_SIZE`` = 6,
  and the Android SDK declares the packed producer with 3 copies
  (``BoschAccCartesianFloatData(PACKED_ACC_DATA, 3)``), i.e. 3 samples = 18 bytes per
  notification. Subscribing is the same ``[03 reg 01]`` as for single samples. The SDK offers
  packed data as the "high frequency" signal
  (``mbl_mw_acc_bosch_get_high_freq_acceleration_data_signal``); this decoder subscribes to it
  above 100 Hz (option ``packed``; the 100 Hz threshold is this project's choice).
- Config bytes (``AccBmi160Config`` / ``AccBmi270Config`` / ``AccBma255Config``): BMI160/BMI270
  byte 0 = odr (bits 0-3) | bwp << 4 | us << 7, with odr code = index in
  {0.78125, 1.5625, 3.125, 6.25, 12.5, 25, 50, 100, 200, 400, 800, 1600} Hz + 1; BMI160 sets
  us=0, bwp=2 at >= 12.5 Hz, BMI270 us=1, bwp=2 (``mbl_mw_acc_bmi160_set_odr``,
  ``mbl_mw_acc_bmi270_set_odr``); BMA255 byte 0 = index in {15.62, 31.26, 62.5, 125, 250, 500,
  1000, 2000} Hz + 8. Byte 1 = range code: BMI160/BMA255 {2 g: 0x3, 4 g: 0x5, 8 g: 0x8,
  16 g: 0xC}, BMI270 {0, 1, 2, 3}; LSB per g 16384, 8192, 4096, 2048 (``FSR_BITMASKS``,
  ``BMI270_FSR_BITMASKS``, ``*_FSR_SCALE``). Samples are int16 little-endian x, y, z.
- Gyro (``sensor/cpp/gyro_bosch.cpp``, ``gyro_bosch_register.h``): POWER_MODE 0x01,
  DATA_INTERRUPT_ENABLE 0x02, CONFIG 0x03 (``GyroBoschConfig``: byte 0 = odr (4 bits) | bwp << 4
  (2 bits) with bwp = 2; byte 1 = range, 3 bits), DATA 0x05 on BMI160 and 0x04 on BMI270,
  PACKED_GYRO_DATA 0x07 (BMI160, module revision >= 1: ``PACKED_ROT_REVISION``) / 0x05
  (BMI270), same 6-byte sample layout and packed handler. ODR codes 25 Hz = 6 ... 3200 Hz = 13;
  range codes 2000, 1000, 500, 250, 125 dps = 0..4 with 16.4, 32.8, 65.6, 131.2, 262.4 LSB per
  dps (``FSR_SCALE``).
- Battery: settings register BATTERY_STATE 0x0C; the read ``[11 8C]`` is answered by
  ``[11 8C charge% voltage_mV(uint16)]`` (``core/cpp/settings.cpp``, ``settings_register.h``).

Pairing acc and gyro (inferred, not an SDK fact): the two streams are separate signals with no
sample counter or timestamp; the SDK stamps each with the receive time
(``response_handler_packed_data``: ``data->epoch = now``) and only combines them through the
on-board "fuser" data processor (``processor/fuser.h``), which this decoder does not use. With
both set to the same ODR the decoder pairs them in arrival order (n-th acc sample with n-th
gyro sample) and, if one stream stalls, passes acceleration on alone rather than hold it.

Streamed samples carry no timestamp, so time comes from the host receive time
(``firmware_bridge.timestamps``). The decoder reads the board's own reply to the config
read-back (``[03 83 b0 b1]``) and scales by the range the board reports, so a wrong ``model``
option cannot silently mis-scale data; a module-info reply naming another chip is reported in
``counters.last_error``, and from then on the data registers of the reported chip are decoded.
"""

from __future__ import annotations

import struct
from collections import deque

import numpy as np

from firmware_bridge.protocols.base import DecodedBatch, Protocol
from firmware_bridge.protocols.registry import DeviceSpec
from firmware_bridge.transports.base import Command, RawPayload

SERVICE = "326a9000-85cb-9195-d9dd-464cfbbae75a"
COMMAND = "326a9001-85cb-9195-d9dd-464cfbbae75a"
NOTIFY = "326a9006-85cb-9195-d9dd-464cfbbae75a"

MODULE_ACC = 0x03
MODULE_SETTINGS = 0x11
MODULE_GYRO = 0x13
READ_BIT = 0x80
REG_INFO = 0x00
REG_POWER = 0x01
REG_INT_ENABLE = 0x02
REG_CONFIG = 0x03
REG_ACC_DATA = 0x04
REG_BATTERY = 0x0C
SAMPLE_BYTES = 6  # int16 x, y, z (CARTESIAN_FLOAT_SIZE)
PACKED_SAMPLES = 3  # Android AccelerometerBmi270Impl: packed producer with 3 copies

ACC_IMPLEMENTATIONS = {1: "bmi160", 3: "bma255", 4: "bmi270"}
GYRO_IMPLEMENTATIONS = {0: "bmi160", 1: "bmi270"}
GYRO_DATA_REG = {"bmi160": 0x05, "bmi270": 0x04}
GYRO_PACKED_REG = {"bmi160": 0x07, "bmi270": 0x05}
ACC_PACKED_REG = {"bmi160": 0x1C, "bma255": 0x1C, "bmi270": 0x05}
#: Module revision from which BMI160/BMA255 acc and BMI160 gyro have packed data (the BMI270
#: registers it unconditionally): PACKED_ACC_REVISION, PACKED_ROT_REVISION.
PACKED_MIN_REVISION = {"bmi160": 1, "bma255": 1, "bmi270": 0}
#: Above this rate the packed ("high frequency") signals are used unless ``packed=0``.
PACKED_ABOVE_HZ = 100.0

BOSCH_ODRS_HZ = (0.78125, 1.5625, 3.125, 6.25, 12.5, 25.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1600.0)
BMA255_ODRS_HZ = (15.62, 31.26, 62.5, 125.0, 250.0, 500.0, 1000.0, 2000.0)
RANGES_G = (2, 4, 8, 16)
BMI160_RANGE_CODES = (0x3, 0x5, 0x8, 0xC)  # also BMA255
BMI270_RANGE_CODES = (0x0, 0x1, 0x2, 0x3)
LSB_PER_G = (16384.0, 8192.0, 4096.0, 2048.0)
GYRO_ODRS_HZ = {25.0: 6, 50.0: 7, 100.0: 8, 200.0: 9, 400.0: 10, 800.0: 11, 1600.0: 12, 3200.0: 13}
GYRO_RANGES_DPS = (2000, 1000, 500, 250, 125)
GYRO_LSB_PER_DPS = (16.4, 32.8, 65.6, 131.2, 262.4)
#: Largest backlog (s of samples) of one stream waiting for its partner (acc <-> gyro).
MAX_UNPAIRED_S = 2.0


def acc_config_bytes(model: str, rate_hz: float, range_g: int) -> bytes:
    """The two DATA_CONFIG bytes for ``model`` at ``rate_hz`` and +-``range_g``."""
    r = RANGES_G.index(range_g)
    if model == "bma255":
        return bytes((BMA255_ODRS_HZ.index(rate_hz) + 8, BMI160_RANGE_CODES[r]))
    odr = BOSCH_ODRS_HZ.index(rate_hz) + 1
    if model == "bmi270":
        us, bwp = (1, 2) if rate_hz >= 12.5 else (0, 2)
        return bytes((odr | bwp << 4 | us << 7, BMI270_RANGE_CODES[r]))
    us, bwp = (0, 2) if rate_hz >= 12.5 else (1, 0)
    return bytes((odr | bwp << 4 | us << 7, BMI160_RANGE_CODES[r]))


def acc_lsb_per_g(model: str, range_byte: int) -> float | None:
    """LSB per g for a DATA_CONFIG range byte as the board reports it, or ``None`` if unknown."""
    codes = BMI270_RANGE_CODES if model == "bmi270" else BMI160_RANGE_CODES
    mask = 0x07 if model == "bmi270" else 0x0F
    code = range_byte & mask
    return LSB_PER_G[codes.index(code)] if code in codes else None


def _cmd(module: int, register: int, *payload: int) -> bytes:
    return bytes((module, register, *payload))


class MetaMotionProtocol(Protocol):
    """Streaming acceleration (and optionally rotation) from a MetaWear/MetaMotion board."""

    name = "metamotion"
    has_timestamps = False
    ble_service = SERVICE
    notify_uuids = (NOTIFY,)
    write_uuid = COMMAND

    def __init__(
        self,
        rate_hz: float | str = 100.0,
        range_g: int | str = 8,
        gyro: bool | int | str = False,
        model: str = "bmi160",
        packed: bool | int | str = "auto",
    ) -> None:
        super().__init__()
        model = str(model).strip().lower()
        if model not in ("bmi160", "bmi270", "bma255"):
            raise ValueError(f"MetaWear model {model!r} is not supported; use bmi160, bmi270 or bma255")
        rate = float(rate_hz)
        rates = BMA255_ODRS_HZ if model == "bma255" else BOSCH_ODRS_HZ
        if rate not in rates:
            raise ValueError(
                f"{model} rate {rate:g} Hz is not supported; use " + ", ".join(f"{r:g}" for r in rates)
            )
        rng = int(range_g)
        if rng not in RANGES_G:
            raise ValueError(f"range {rng} g is not supported; use 2, 4, 8 or 16")
        self.gyro = str(gyro).strip().lower() in ("1", "true", "yes", "on")
        if self.gyro and (model == "bma255" or rate not in GYRO_ODRS_HZ):
            raise ValueError("gyro needs a BMI160/BMI270 board and a rate of 25, 50, 100, 200, 400 or 800 Hz")
        choice = str(packed).strip().lower()
        if choice not in ("auto", "1", "true", "yes", "on", "0", "false", "no", "off"):
            raise ValueError("packed must be auto, 1 or 0")
        #: Subscribe to the packed (3 samples per notification) signals instead of single samples.
        self.packed = rate > PACKED_ABOVE_HZ if choice == "auto" else choice in ("1", "true", "yes", "on")
        self.model = model
        self.range_g = rng
        self.nominal_rate_hz = rate
        self.config = acc_config_bytes(model, rate, rng)
        self.acc_lsb_per_g = LSB_PER_G[RANGES_G.index(rng)]
        self.gyro_range_dps = 2000
        self.gyro_lsb_per_dps = GYRO_LSB_PER_DPS[0]
        self.reported_model: str | None = None
        self.reported_gyro_model: str | None = None
        self.battery_mv: int | None = None
        self._acc: deque[np.ndarray] = deque()
        self._gyr: deque[np.ndarray] = deque()

    # --- commands ----------------------------------------------------------------------
    def _gyro_commands(self, start: bool) -> list[bytes]:
        g = MODULE_GYRO
        regs = GYRO_PACKED_REG if self.packed else GYRO_DATA_REG
        data_reg = regs[self.model]
        if not start:
            return [_cmd(g, REG_POWER, 0), _cmd(g, REG_INT_ENABLE, 0, 1), _cmd(g, data_reg, 0)]
        odr = GYRO_ODRS_HZ[float(self.nominal_rate_hz or 100.0)]
        rng = GYRO_RANGES_DPS.index(self.gyro_range_dps)
        return [
            _cmd(g, READ_BIT | REG_INFO),
            _cmd(g, REG_CONFIG, odr | 2 << 4, rng),
            _cmd(g, data_reg, 1),
            _cmd(g, REG_INT_ENABLE, 1, 0),
            _cmd(g, REG_POWER, 1),
            _cmd(g, READ_BIT | REG_CONFIG),
        ]

    def _acc_signal_reg(self) -> int:
        """The acceleration signal subscribed to: single samples, or the chip's packed register."""
        return ACC_PACKED_REG[self.model] if self.packed else REG_ACC_DATA

    def start_commands(self, transport_kind: str) -> list[Command]:
        a = MODULE_ACC
        power = 2 if self.model == "bmi270" and not self.config[0] & 0x80 else 1
        raw = [
            _cmd(a, READ_BIT | REG_INFO),
            _cmd(a, REG_CONFIG, *self.config),
            _cmd(a, self._acc_signal_reg(), 1),
            _cmd(a, REG_INT_ENABLE, 1, 0),
        ]
        if self.gyro:
            raw += self._gyro_commands(start=True)
        raw += [_cmd(a, REG_POWER, power), _cmd(a, READ_BIT | REG_CONFIG)]
        raw += [_cmd(MODULE_SETTINGS, READ_BIT | REG_BATTERY)]
        return [Command(COMMAND, b, wait_s=0.02, response=False) for b in raw]

    def stop_commands(self, transport_kind: str) -> list[Command]:
        a = MODULE_ACC
        raw = [_cmd(a, REG_POWER, 0), _cmd(a, REG_INT_ENABLE, 0, 1), _cmd(a, self._acc_signal_reg(), 0)]
        if self.gyro:
            raw += self._gyro_commands(start=False)
        return [Command(COMMAND, b, wait_s=0.02, response=False) for b in raw]

    def poll_commands(self, transport_kind: str) -> list[Command]:
        return [Command(COMMAND, _cmd(MODULE_SETTINGS, READ_BIT | REG_BATTERY), response=False)]

    # --- decoding ----------------------------------------------------------------------
    def reset(self) -> None:
        self._acc.clear()
        self._gyr.clear()

    def decode(self, payload: RawPayload) -> list[DecodedBatch]:
        d = payload.data
        if len(d) < 2:
            return self._bad(d, "notification shorter than a [module, register] header")
        module, register, body = d[0], d[1], d[2:]
        # Registers of the chip the board reports (the configured model until it answers).
        acc_chip = self.reported_model or self.model
        gyro_chip = self.reported_gyro_model or self.model
        if module == MODULE_ACC and register == REG_ACC_DATA:
            return self._samples(body, False, payload.t)
        if module == MODULE_ACC and register == ACC_PACKED_REG.get(acc_chip):
            return self._samples(body, True, payload.t)
        if module == MODULE_GYRO and register in (
            GYRO_DATA_REG.get(gyro_chip),
            GYRO_PACKED_REG.get(gyro_chip),
        ):
            if not self.gyro:
                return []  # not asked for; a previous session left it running
            return self._samples(body, register == GYRO_PACKED_REG[gyro_chip], payload.t, gyro=True)
        if register == READ_BIT | REG_INFO and module in (MODULE_ACC, MODULE_GYRO):
            return self._module_info(module, body)
        if register == READ_BIT | REG_CONFIG and module in (MODULE_ACC, MODULE_GYRO) and len(body) >= 2:
            self._config_reply(module, body)
            return []
        if module == MODULE_SETTINGS and register == READ_BIT | REG_BATTERY and len(body) >= 3:
            self.battery_pct = float(min(body[0], 100))
            self.battery_mv = struct.unpack_from("<H", body, 1)[0]
            return []
        return []  # other modules' replies (e.g. to a previous app's setup) are not ours

    def _bad(self, data: bytes, why: str) -> list[DecodedBatch]:
        self.counters.malformed += 1
        self.counters.skipped_bytes += len(data)
        self.counters.last_error = why
        return []

    def _samples(self, body: bytes, packed: bool, host_t: float, gyro: bool = False) -> list[DecodedBatch]:
        """One sample (6 bytes), or a packed run of whole 6-byte samples (normally 3)."""
        what = "rotation" if gyro else "acceleration"
        if packed and (not body or len(body) % SAMPLE_BYTES):
            return self._bad(
                body, f"packed {what} notification with {len(body)} data bytes (not whole 6-byte samples)"
            )
        if not packed and len(body) != SAMPLE_BYTES:
            return self._bad(body, f"{what} notification with {len(body)} data bytes (expected 6)")
        self.counters.frames += 1
        lsb = self.gyro_lsb_per_dps if gyro else self.acc_lsb_per_g
        queue = self._gyr if gyro else self._acc
        rows = np.frombuffer(body, dtype="<i2").reshape(-1, 3).astype(np.float64) / lsb
        if not self.gyro:
            return [DecodedBatch(acc=rows, gyro=None, host_t=host_t, rate_hz=self.nominal_rate_hz)]
        queue.extend(rows)
        return self._pair(host_t)

    def _pair(self, host_t: float) -> list[DecodedBatch]:
        """Pair acceleration and rotation samples in arrival order (same ODR, no timestamps)."""
        out: list[DecodedBatch] = []
        n = min(len(self._acc), len(self._gyr))
        if n:
            acc = np.vstack([self._acc.popleft() for _ in range(n)])
            gyr = np.vstack([self._gyr.popleft() for _ in range(n)])
            out.append(DecodedBatch(acc=acc, gyro=gyr, host_t=host_t, rate_hz=self.nominal_rate_hz))
        limit = int(MAX_UNPAIRED_S * float(self.nominal_rate_hz or 100.0))
        if len(self._acc) > limit:  # rotation stream stalled: keep the acceleration, flag it
            acc = np.vstack(list(self._acc))
            self._acc.clear()
            self.counters.last_error = "rotation stream stalled; acceleration passed on without gyro"
            out.append(DecodedBatch(acc=acc, gyro=None, host_t=host_t, rate_hz=self.nominal_rate_hz))
        while len(self._gyr) > limit:  # rotation without acceleration cannot be used
            self._gyr.popleft()
            self.counters.skipped_bytes += SAMPLE_BYTES
            self.counters.last_error = "acceleration stream stalled; rotation samples dropped"
        return out

    def _module_info(self, module: int, body: bytes) -> list[DecodedBatch]:
        if not body:
            self.counters.last_error = f"module 0x{module:02x} is not present on this board"
            return []
        table = ACC_IMPLEMENTATIONS if module == MODULE_ACC else GYRO_IMPLEMENTATIONS
        chip = table.get(body[0], f"implementation {body[0]}")
        if module == MODULE_ACC:
            self.reported_model = chip if chip in ACC_PACKED_REG else None
        else:
            self.reported_gyro_model = chip if chip in GYRO_DATA_REG else None
        if chip != self.model:
            self.counters.last_error = (
                f"board reports a {chip} ({'accelerometer' if module == MODULE_ACC else 'gyro'}) but "
                f"model={self.model} was configured; restart with -o model={chip}"
            )
        elif self.packed and len(body) >= 2 and body[1] < PACKED_MIN_REVISION.get(chip, 0):
            # BMI160/BMA255 acc and BMI160 gyro have packed data from module revision 1 only.
            self.counters.last_error = (
                f"this board's {chip} (module revision {body[1]}) has no packed data; "
                "restart with -o packed=0"
            )
        return []

    def _config_reply(self, module: int, body: bytes) -> None:
        if module == MODULE_ACC:
            model = self.reported_model or self.model
            lsb = acc_lsb_per_g(model, body[1])
            if lsb is not None:
                self.acc_lsb_per_g = lsb
                self.range_g = RANGES_G[LSB_PER_G.index(lsb)]
        else:
            code = body[1] & 0x07
            if code < len(GYRO_RANGES_DPS):
                self.gyro_range_dps = GYRO_RANGES_DPS[code]
                self.gyro_lsb_per_dps = GYRO_LSB_PER_DPS[code]

    def describe(self) -> dict:
        return {
            **super().describe(),
            "model": self.model,
            "reported_model": self.reported_model,
            "packed": self.packed,
            "range_g": self.range_g,
            "gyro": self.gyro,
            "gyro_range_dps": self.gyro_range_dps if self.gyro else None,
        }


DEVICES = [
    DeviceSpec(
        name="metamotion",
        title="MbientLab MetaMotion/MetaWear (BMI160, BMI270, BMA255), acc (+gyro), no timestamps",
        factory=MetaMotionProtocol,
        transports=("ble",),
        ble_service_uuids=(SERVICE,),
        ble_name_prefixes=("MetaWear", "MetaMotion"),
        aliases=("metawear", "mbientlab", "metamotionr", "metamotions", "metamotionrl"),
        options_help=(
            "rate_hz=12.5|25|50|100|200|... (default 100), range_g=2|4|8|16 (default 8), "
            "gyro=0|1 (default 0), model=bmi160|bmi270|bma255 (default bmi160; MetaMotion S is bmi270), "
            "packed=auto|0|1 (3 samples per notification; auto = above 100 Hz)"
        ),
    )
]
