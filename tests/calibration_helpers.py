"""Neck and wrist recordings with known postures, built from rigid-body rotations (scipy Rotation).

The sensor frame follows dsp/posture.py: x forward, y left, z up when the head is upright, so
the accelerometer reads +1 g on z at rest. A forward flexion (anterocollis; wrist flexion) is a
rotation about +y that tips x down. Gyroscope readings are the body rates of the same motion
in the sensor frame, plus a constant offset, so acc and gyro always agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from firmware_bridge.samples import SampleBlock

GYRO_OFFSET_DPS = (0.5, -0.3, 0.2)


def posture_motion(
    duration_s: float,
    fs: float = 100.0,
    holds: Sequence[tuple[float, float, float, float]] = ((20.0, 2.0, 10.0, 30.0),),
    *,
    seed: int = 0,
    gyro: bool = True,
    mount: Rotation | None = None,
    sway_deg: float = 1.0,
    tremor: tuple[float, float, float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Upright with slow sway; each hold ``(onset_s, ramp_s, hold_s, angle_deg)`` flexes forward.

    ``mount`` turns the sensor on the body (a sensor not worn perfectly level). ``tremor``
    ``(start_s, end_s, hz, deg)`` adds an oscillation about the same axis.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(duration_s * fs))) / fs
    pitch = sway_deg * (1.5 * np.sin(2 * np.pi * 0.2 * t) + np.sin(2 * np.pi * 0.07 * t + 1.0))
    roll = sway_deg * 1.2 * np.sin(2 * np.pi * 0.13 * t + 2.0)
    for onset, ramp, hold, angle in holds:
        up = np.clip((t - onset) / ramp, 0.0, 1.0)
        down = np.clip((t - (onset + ramp + hold)) / ramp, 0.0, 1.0)
        pitch = pitch + angle * (up - down)
    if tremor is not None:
        a, b, hz, deg = tremor
        pitch = pitch + deg * np.sin(2 * np.pi * hz * t) * ((t >= a) & (t < b))
    rot = Rotation.from_euler("xy", np.column_stack([roll, pitch]), degrees=True)
    if mount is not None:
        rot = rot * mount
    acc = rot.inv().apply([0.0, 0.0, 1.0]) + rng.normal(0.0, 0.003, (t.size, 3))
    g = None
    if gyro:
        step = rot[:-1].inv() * rot[1:]  # body-frame rotation between samples
        w = np.degrees(step.as_rotvec()) * fs
        g = np.vstack([w, w[-1:]]) + rng.normal(0.0, 0.3, (t.size, 3)) + GYRO_OFFSET_DPS
    return t, acc, g


def write_posture_rec(
    path: Path,
    duration_s: float = 60.0,
    fs: float = 100.0,
    holds: Sequence[tuple[float, float, float, float]] = ((20.0, 2.0, 10.0, 30.0),),
    *,
    device: str | None = "test-imu",
    placement: str | None = "neck",
    start_time: str | None = "2024-03-01T09:00:00+01:00",
    **motion: object,
) -> Path:
    """Write :func:`posture_motion` as a canonical recording CSV."""
    t, acc, g = posture_motion(duration_s, fs, holds, **motion)  # type: ignore[arg-type]
    cols = [t, *acc.T]
    header = "t,acc_x,acc_y,acc_z"
    fmt = ["%.4f"] + ["%.6f"] * 3
    if g is not None:
        cols += list(g.T)
        header += ",gyro_x,gyro_y,gyro_z"
        fmt += ["%.4f"] * 3
    meta = {"sample_rate_hz": f"{fs:g}", "device": device, "placement": placement, "start_time": start_time}
    lines = [f"# {k}: {v}" for k, v in meta.items() if v]
    lines.append(header)
    np_lines = np.column_stack(cols)
    row_fmt = ",".join(fmt)
    lines += [row_fmt % tuple(r) for r in np_lines]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Path(path)


def blocks(t: np.ndarray, acc: np.ndarray, gyro: np.ndarray | None, n: int = 50) -> list[SampleBlock]:
    """Cut arrays into SampleBlocks of ``n`` rows."""
    return [
        SampleBlock(t[i : i + n], acc[i : i + n], None if gyro is None else gyro[i : i + n])
        for i in range(0, len(t), n)
    ]


def angle_between_deg(a: Sequence[float], b: Sequence[float]) -> float:
    """Angle between two directions, degrees."""
    u, v = np.asarray(a, float), np.asarray(b, float)
    c = float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v)))
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))
