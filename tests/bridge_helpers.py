"""Shared helpers for the bridge tests: reference-firmware frames from the real encoder."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

FIRMWARE_DIR = Path(__file__).resolve().parents[1] / "firmware_bridge" / "firmware"


def firmware_frame_module():
    """The firmware's own encoder module (``firmware_bridge/firmware/frame.py``)."""
    sys.path.insert(0, str(FIRMWARE_DIR))
    try:
        return importlib.import_module("frame")
    finally:
        sys.path.remove(str(FIRMWARE_DIR))


def reference_stream(seq: int, per_frame: int = 5, rate_hz: float = 100.0, gyro: bool = True) -> bytes:
    """Frame ``seq`` as the firmware sends it on a stream; sample k carries k in acc x.

    Sample k = seq * per_frame + i has acc x = k (int16 LSB), so tests can check that
    every sample arrived, in order, exactly once.
    """
    frame = firmware_frame_module()
    samples = []
    for i in range(per_frame):
        k = seq * per_frame + i
        row = (k % 32768, 0, 8192)
        samples.append(row + (0, 0, 0) if gyro else row)
    t_us = int(round(seq * per_frame * 1e6 / rate_hz))
    raw = frame.encode_frame(seq, t_us, rate_hz, 8192.0, 65.5, samples, battery=80)
    return frame.encode_for_stream(raw)


def sample_ids(blocks) -> list[int]:
    """The sample numbers carried in acc x (see :func:`reference_stream`)."""
    out: list[int] = []
    for b in blocks:
        out.extend(int(round(v)) for v in b.acc[:, 0] * 8192.0)
    return out
