"""Polar Measurement Data (PMD) byte layouts: control-point commands and replies, settings,
and the raw and delta-compressed data frames of ACC and GYRO (no state, no I/O).

Sources (polarofficial/polar-ble-sdk, the same Kotlin files as ``polar_pmd``):
- Start = ``[2, type] + settings``, each setting ``[setting type, count=1, value LE]`` with
  SAMPLE_RATE 0 (2 bytes), RESOLUTION 1 (2), RANGE 2 (2), RANGE_MILLIUNIT 3 (4), CHANNELS 4 (1),
  FACTOR 5 (4, IEEE-754 float) (``pmd/PmdSetting.kt`` ``serializeSelected``, ``typeToFieldSize``;
  ``BlePMDClient.kt`` ``startMeasurement``). Stop = ``[3, type]``.
- Replies on the control point: ``[0xF0, op code, type, status, more, parameters...]``; status 0
  is success, the others are named in ``pmd/PmdControlPointResponse.kt``. A successful start may
  carry a FACTOR setting in its parameters (``PmdSetting.updateSelectedFromStartResponse``);
  without one the factor is 1.0 (``BlePMDClient.getFactor``).
- Data frame: ``[type, uint64 LE timestamp (ns since 2000-01-01T00:00:00Z, of the LAST sample),
  frame type, content...]``; bit 7 of the frame type marks a delta-compressed frame
  (``pmd/PmdDataFrame.kt``; epoch: ``technical_documentation/TimeSystemExplained.md``).
- ACC (``pmd/model/AccData.kt``): raw frame types 0/1/2 = int8/int16/int24 x, y, z in mG (no
  factor); compressed type 1 = 16-bit deltas, value x factor in mG; compressed type 0 = 16-bit
  deltas, value x factor x 1000 in mG (the factor is in g there).
- GYRO (``pmd/model/GyrData.kt``; Verity Sense only): compressed type 0 = 16-bit deltas,
  value x factor in deg/s; compressed type 1 = deltas of the IEEE-754 bit patterns (32 bits),
  float x factor. Raw gyro frames are not defined by the SDK and are counted as malformed.
- Delta frames (``BlePMDClient.parseDeltaFramesAll``/``parseDeltaFrame``): a reference sample
  (``channels`` signed little-endian values of ceil(resolution / 8) bytes; "the reference sample
  is always full bytes", issue #187), then blocks ``[bit width, sample count]`` followed by
  ceil(width x count x channels / 8) bytes of deltas packed least-significant bit first,
  each a two's-complement ``width``-bit number added to the previous sample.
"""

from __future__ import annotations

import math
import struct

import numpy as np

OP_GET_SETTINGS = 1
OP_START = 2
OP_STOP = 3
CP_RESPONSE = 0xF0
CP_MEASUREMENT_STOPPED = 0x01
TYPE_ECG, TYPE_PPG, TYPE_ACC, TYPE_GYRO = 0, 1, 2, 5
TYPE_SDK_MODE = 9
TYPE_MASK = 0x3F
DELTA_FRAME_BIT = 0x80
FRAME_TYPE_MASK = 0x7F
FRAME_HEADER_BYTES = 10
SETTING_SAMPLE_RATE, SETTING_RESOLUTION, SETTING_RANGE = 0, 1, 2
SETTING_RANGE_MILLIUNIT, SETTING_CHANNELS, SETTING_FACTOR = 3, 4, 5
SETTING_FIELD_BYTES = {0: 2, 1: 2, 2: 2, 3: 4, 4: 1, 5: 4}
STATUS_NAMES = (
    "success",
    "invalid op code",
    "invalid measurement type",
    "not supported",
    "invalid length",
    "invalid parameter",
    "already in state",
    "invalid resolution",
    "invalid sample rate",
    "invalid range",
    "invalid MTU",
    "invalid number of channels",
    "invalid state",
    "device in charger",
    "disk full",
)
EPOCH_2000_UNIX_S = 946684800  # 2000-01-01T00:00:00Z on the Unix clock (TimeSystemExplained.md)
RESOLUTION_BITS = 16
MAX_DELTA_BITS = 32


def settings_bytes(rate_hz: int, resolution: int, range_value: int, channels: int | None) -> bytes:
    """PMD settings ``[type, 1, value LE]`` for sample rate, resolution, range (and channels)."""
    out = struct.pack("<BBH", SETTING_SAMPLE_RATE, 1, rate_hz)
    out += struct.pack("<BBH", SETTING_RESOLUTION, 1, resolution)
    out += struct.pack("<BBH", SETTING_RANGE, 1, range_value)
    if channels is not None:
        out += bytes((SETTING_CHANNELS, 1, channels))
    return out


def parse_settings(params: bytes) -> dict[int, list[int | float]]:
    """Setting type -> values from a control point reply (FACTOR decoded as a float)."""
    out: dict[int, list[int | float]] = {}
    i = 0
    while i + 2 <= len(params):
        kind, count = params[i], params[i + 1]
        size = SETTING_FIELD_BYTES.get(kind)
        i += 2
        if size is None or i + size * count > len(params):
            break
        values: list[int | float] = []
        for _ in range(count):
            raw = params[i : i + size]
            values.append(
                struct.unpack("<f", raw)[0] if kind == SETTING_FACTOR else int.from_bytes(raw, "little")
            )
            i += size
        out[kind] = values
    return out


def signed_values(values: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement ``bits``-wide integers from their unsigned values."""
    values = values.astype(np.int64)
    return np.where(values >= (1 << (bits - 1)), values - (1 << bits), values)


def parse_delta_frame(content: bytes, channels: int, resolution: int, signed_ref: bool = True) -> np.ndarray:
    """All samples (n, channels) of a delta-compressed PMD frame, as int64 sums.

    Raises ``ValueError`` if a block is truncated or its bit width is impossible.
    """
    ref_bytes = math.ceil(resolution / 8)
    head = channels * ref_bytes
    if len(content) < head:
        raise ValueError("delta frame shorter than its reference sample")
    ref = np.frombuffer(content[:head], dtype=np.uint8).reshape(channels, ref_bytes).astype(np.int64)
    ref = (ref << (8 * np.arange(ref_bytes))).sum(axis=1)
    if signed_ref:
        ref = signed_values(ref, resolution)
    rows = [ref.reshape(1, channels)]
    last = ref
    i = head
    while i < len(content):
        if i + 2 > len(content):
            raise ValueError("delta block header cut off")
        width, count = content[i], content[i + 1]
        i += 2
        if width > MAX_DELTA_BITS:
            raise ValueError(f"delta width {width} bits is impossible")
        n_bits = width * count * channels
        n_bytes = math.ceil(n_bits / 8)
        if i + n_bytes > len(content):
            raise ValueError("delta block runs past the end of the frame")
        if n_bits:
            bits = np.unpackbits(np.frombuffer(content, np.uint8, n_bytes, i), bitorder="little")[:n_bits]
            values = bits.reshape(-1, width).astype(np.int64) @ (
                np.int64(1) << np.arange(width, dtype=np.int64)
            )
            deltas = signed_values(values, width).reshape(count, channels)
            block = last + np.cumsum(deltas, axis=0)
            rows.append(block)
            last = block[-1]
        i += n_bytes
    return np.vstack(rows)


def raw_samples(content: bytes, width_bytes: int) -> np.ndarray:
    """The (n, 3) signed samples of an uncompressed frame of ``width_bytes``-byte x, y, z values."""
    step = 3 * width_bytes
    if not content or len(content) % step:
        raise ValueError(f"raw frame of {len(content)} bytes is not whole {width_bytes}-byte x,y,z samples")
    b = np.frombuffer(content, dtype=np.uint8).reshape(-1, width_bytes).astype(np.int64)
    values = (b << (8 * np.arange(width_bytes))).sum(axis=1)
    return signed_values(values, 8 * width_bytes).reshape(-1, 3)
