"""Raw captures built for tests: every payload as the device sends it, decoded by the production
path (``firmware_bridge.io.capture_decode.decode_capture``: the live source, protocol and clock).

Byte layouts: the reference frame from the firmware's own encoder (``firmware_bridge/firmware``);
Polar PMD frames ``[type, uint64 LE ns timestamp of the last sample, frame type, content]`` with
raw int16 ACC in mG (frame type 1) and delta-compressed GYRO (frame type 0x80: an int16 reference
sample, then ``[bit width, count]`` blocks of LSB-first packed signed deltas), as polar-ble-sdk
``PmdDataFrame.kt``, ``AccData.kt``, ``GyrData.kt`` and ``BlePMDClient.parseDeltaFramesAll``
define them (see ``firmware_bridge/protocols/polar_pmd.py``).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
from bridge_helpers import firmware_frame_module

from firmware_bridge.io.capture import CaptureWriter
from firmware_bridge.protocols import polar_pmd as pm
from firmware_bridge.transports.base import SERIAL_SRC, RawPayload

T0 = 1_700_000_000.0  # the capture's t0 (Unix s)
POLAR_TS0_NS = 762_000_000 * 10**9  # about 2024 in Polar time (ns since 2000-01-01)
ACC_LSB_PER_G = 8192.0
GYRO_LSB_PER_DPS = 65.5


def write_capture(
    path: Path,
    device: str,
    payloads: Iterable[tuple[float, str, bytes]],
    options: Mapping[str, str] | None = None,
) -> Path:
    """A capture file: header, then one line per ``(seconds after t0, src, bytes)``."""
    header = {"device": device, "transport": "ble" if device.startswith("polar") else "serial", "t0": T0}
    if options:
        header["options"] = dict(options)
    with CaptureWriter(path, header) as w:
        for dt, src, data in payloads:
            w.write(RawPayload(T0 + dt, src, data))
    return path


def reference_frame(
    seq: int, t_us: int, rate_hz: float, rows: np.ndarray, gyro: bool = True, battery: int = 80
) -> bytes:
    """One reference frame on the stream (COBS + delimiter); ``rows`` (n, 3 or 6) in g and
    deg/s, quantised to int16 at the firmware's scales."""
    frame = firmware_frame_module()
    scale = [ACC_LSB_PER_G] * 3 + ([GYRO_LSB_PER_DPS] * 3 if gyro else [])
    raw = np.clip(np.round(np.asarray(rows)[:, : len(scale)] * scale), -32768, 32767).astype(int)
    samples = [tuple(int(v) for v in r) for r in raw]
    data = frame.encode_frame(
        seq & 0xFFFF, t_us & 0xFFFFFFFF, rate_hz, ACC_LSB_PER_G, GYRO_LSB_PER_DPS, samples, battery
    )
    return frame.encode_for_stream(data)


def reference_payloads(
    n_frames: int, per_frame: int = 5, rate_hz: float = 100.0, gyro: bool = True, rng=None
) -> list[tuple[float, str, bytes]]:
    """A steady stream: frame k holds samples k*per_frame.., received when its last was taken."""
    rng = rng or np.random.default_rng(0)
    out = []
    for k in range(n_frames):
        rows = _rows(rng, per_frame, gyro)
        t_us = int(round(k * per_frame * 1e6 / rate_hz))
        host = (k + 1) * per_frame / rate_hz + 0.002
        out.append((host, SERIAL_SRC, reference_frame(k, t_us, rate_hz, rows, gyro)))
    return out


def _rows(rng, n: int, gyro: bool) -> np.ndarray:
    rows = rng.normal(0, 0.01, (n, 6 if gyro else 3))
    rows[:, 2] += 1.0
    if gyro:
        rows[:, 3:] *= 100.0
    return rows


def serial_text_line(t_ms: float, acc, gyro=None) -> bytes:
    fields = [f"{t_ms:.3f}", *(f"{v:.6g}" for v in acc)]
    if gyro is not None:
        fields += [f"{v:.6g}" for v in gyro]
    return (",".join(fields) + "\n").encode()


def polar_acc_frame(ts_ns: int, acc_mg: np.ndarray) -> bytes:
    """A raw int16 ACC frame (mG); ``ts_ns`` is the time of its last sample."""
    a = np.clip(np.round(acc_mg), -32768, 32767).astype("<i2")
    return bytes([pm.TYPE_ACC]) + struct.pack("<Q", ts_ns) + bytes([1]) + a.tobytes()


def polar_gyro_frame(ts_ns: int, gyro_dps: np.ndarray) -> bytes:
    """A delta-compressed (type 0) GYRO frame of whole deg/s (factor 1.0)."""
    g = np.round(np.asarray(gyro_dps)).astype(np.int64)
    content = struct.pack("<3h", *(int(v) for v in g[0]))
    if len(g) > 1:
        deltas = np.diff(g, axis=0)
        content += bytes([16, len(deltas)]) + pack_deltas(deltas, 16)
    return bytes([pm.TYPE_GYRO]) + struct.pack("<Q", ts_ns) + bytes([0x80]) + content


def pack_deltas(deltas: np.ndarray, width: int) -> bytes:
    """Pack signed deltas LSB first, channel by channel (a bit accumulator independent of the
    decoder under test)."""
    acc, nbits, out = 0, 0, bytearray()
    for v in np.asarray(deltas).ravel():
        acc |= (int(v) & ((1 << width) - 1)) << nbits
        nbits += width
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        out.append(acc & 0xFF)
    return bytes(out)


def polar_payloads(
    seconds: float,
    rate_hz: float,
    per_frame: int,
    gyro_between: list[tuple[float, float]] | None = None,
    rng=None,
) -> list[tuple[float, str, bytes]]:
    """ACC frames for ``seconds`` at ``rate_hz`` (the sensor's real rate), and GYRO frames with
    the same sample times during the ``gyro_between`` stretches (s from the start)."""
    rng = rng or np.random.default_rng(0)
    n_frames = int(seconds * rate_hz / per_frame)
    out = []
    step_ns = int(round(1e9 / rate_hz))
    for k in range(n_frames):
        last = POLAR_TS0_NS + ((k + 1) * per_frame - 1) * step_ns
        host = (k + 1) * per_frame / rate_hz + 0.01
        acc = rng.normal(0, 10, (per_frame, 3))
        acc[:, 2] += 1000.0
        out.append((host, pm.DATA, polar_acc_frame(last, acc)))
        if gyro_between and any(a <= host < b for a, b in gyro_between):
            out.append((host + 0.001, pm.DATA, polar_gyro_frame(last, rng.normal(0, 20, (per_frame, 3)))))
    return out
