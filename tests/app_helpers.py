"""Shared helpers for the application-layer tests (store, session runner, CLI).

Recordings are written here directly in the canonical CSV format (as the issue defines it),
so these tests do not depend on the recording writer they are meant to consume.
"""

from __future__ import annotations

import gzip
import os
import sys
from pathlib import Path

import numpy as np

from firmware_bridge.samples import SampleBlock

TREMOR_HZ = 5.0
#: 50 mg at 5 Hz on the wrist with 30 deg/s of rotation: clearly tremor, "slight" class.
TREMOR_ACC_G = 0.05
TREMOR_GYRO_DPS = 30.0


def synth(
    duration_s: float,
    fs: float = 100.0,
    tremor: list[tuple[float, float]] = ((10.0, 40.0),),
    gyro: bool = True,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """A wrist at rest (gravity on z, MEMS-like noise) with 5 Hz tremor in the given windows."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(duration_s * fs))) / fs
    on = np.zeros(t.shape, bool)
    for a, b in tremor:
        on |= (t >= a) & (t < b)
    acc = np.zeros((t.size, 3))
    acc[:, 2] = 1.0
    acc[:, 0] += TREMOR_ACC_G * np.sin(2 * np.pi * TREMOR_HZ * t) * on
    acc += rng.normal(0, 0.002, acc.shape)
    g = None
    if gyro:
        g = np.zeros((t.size, 3))
        g[:, 1] += TREMOR_GYRO_DPS * np.sin(2 * np.pi * TREMOR_HZ * t) * on
        g += rng.normal(0, 0.3, g.shape)
    return t, acc, g


def blocks_of(t: np.ndarray, acc: np.ndarray, gyro: np.ndarray | None, n: int) -> list[SampleBlock]:
    """Cut arrays into SampleBlocks of ``n`` rows."""
    return [
        SampleBlock(t[i : i + n], acc[i : i + n], None if gyro is None else gyro[i : i + n])
        for i in range(0, len(t), n)
    ]


def write_rec(
    path: Path,
    duration_s: float = 60.0,
    fs: float = 100.0,
    tremor: list[tuple[float, float]] = ((10.0, 40.0),),
    gyro: bool = True,
    start_time: str | None = "2024-03-01T09:00:00+01:00",
    placement: str | None = "wrist",
    t0_s: float = 0.0,
    extra_lines: dict[int, str] | None = None,
) -> Path:
    """Write a canonical recording (gzip if the name ends in .gz).

    ``extra_lines`` maps a data row index to a raw line inserted before it (to plant bad,
    missing or backwards rows).
    """
    t, acc, g = synth(duration_s, fs, list(tremor), gyro)
    t = t + t0_s
    cols = [t, acc[:, 0], acc[:, 1], acc[:, 2]]
    header = "t,acc_x,acc_y,acc_z"
    if g is not None:
        cols += [g[:, 0], g[:, 1], g[:, 2]]
        header += ",gyro_x,gyro_y,gyro_z"
    data = np.column_stack(cols)
    fmt = ["%.4f"] + ["%.5f"] * 3 + (["%.3f"] * 3 if g is not None else [])
    lines = []
    meta = {"sample_rate_hz": f"{fs:g}"}
    if placement:
        meta["placement"] = placement
    if start_time:
        meta["start_time"] = start_time
    lines += [f"# {k}: {v}" for k, v in meta.items()]
    lines.append(header)
    extra_lines = extra_lines or {}
    row_fmt = ",".join(fmt)
    for i, row in enumerate(data):
        if i in extra_lines:
            lines.append(extra_lines[i])
        lines.append(row_fmt % tuple(row))
    text = "\n".join(lines) + "\n"
    path = Path(path)
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def isolated_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a subprocess that must never touch the real user's data folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("TREMORSCOPE_DB", "TREMORSCOPE_DEBUG")}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "xdg-data"),
        LOCALAPPDATA=str(home / "localappdata"),
        PYTHONUNBUFFERED="1",
    )
    return env


def tremorscope_cmd() -> list[str]:
    """The installed ``tremorscope`` entry point (next to this interpreter), else ``-m``."""
    exe = Path(sys.executable).with_name("tremorscope")
    if exe.exists():
        return [str(exe)]
    import shutil

    found = shutil.which("tremorscope")
    return [found] if found else [sys.executable, "-m", "tremorscope.cli"]
