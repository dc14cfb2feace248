"""Chunked rendering: timeline -> exact readings -> simulated sensor output, block by block.

Segments are pulled from the scenario lazily; components are evaluated only on
the blocks they overlap and retired once past (a finished posture change
leaves its final angle behind). Memory therefore stays bounded whatever the
duration. Every block draws its sensor noise from its own seeded stream, so
the output does not depend on how a caller consumes it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from firmware_bridge.simulation.activities import TRANSLATION_CHANNELS, Scene, Segment, TruthRow
from firmware_bridge.simulation.kinematics import X_AXIS, imu_readings
from firmware_bridge.simulation.sensor import ResolvedSensor
from firmware_bridge.simulation.signals import Component

#: Samples generated per block (s of data).
BLOCK_S = 60.0
#: Components may start this long before their segment (fades); load segments this far ahead.
LOOKAHEAD_S = 10.0
#: No lost packet starts this early (the first row anchors start_time).
FIRST_DROP_S = 0.5

ACC_COLUMNS = ("acc_x", "acc_y", "acc_z")
GYRO_COLUMNS = ("gyro_x", "gyro_y", "gyro_z")


class Renderer:
    """Turns a scenario's segments into recording blocks (DataFrames)."""

    def __init__(
        self,
        scene: Scene,
        segments: Iterator[Segment],
        sensor: ResolvedSensor,
        sample_rate_hz: float,
        duration_s: float,
        gyro: bool,
        seed: int,
    ) -> None:
        self.scene = scene
        self._segments = segments
        self.sensor = sensor
        self.rate = float(sample_rate_hz)
        self.duration_s = float(duration_s)
        self.gyro = gyro
        self.seed = int(seed)
        self.rows: list[TruthRow] = []
        self.gaps: list[tuple[float, float]] = []
        self.generated_s = 0.0
        self._active: list[tuple[str, Component]] = []
        self._loaded_until = -np.inf
        self._exhausted = False
        self._base: dict[str, float] | None = None
        self.n_samples = int(np.floor(self.duration_s * self.rate + 1e-9))

    @property
    def live_components(self) -> int:
        """Motion components held in memory now (bounded, whatever the duration)."""
        return len(self._active)

    def _load_until(self, t_s: float) -> None:
        while not self._exhausted and self._loaded_until <= t_s + LOOKAHEAD_S:
            try:
                seg = next(self._segments)
            except StopIteration:
                self._exhausted = True
                break
            if self._base is None:
                self._base = dict(self.scene.initial_pose)
            self._loaded_until = seg.start_s
            self._active.extend(seg.components)
            self.rows.extend(seg.rows)
            self.gaps.extend(seg.gaps)
        if self._base is None:
            self._base = dict(self.scene.initial_pose)

    def blocks(self) -> Iterator[pd.DataFrame]:
        """Yield the recording in blocks of ``BLOCK_S`` seconds (the last may be shorter)."""
        block_n = max(1, int(round(BLOCK_S * self.rate)))
        for b, i0 in enumerate(range(0, self.n_samples, block_n)):
            i1 = min(self.n_samples, i0 + block_n)
            t = np.arange(i0, i1, dtype=np.float64) / self.rate
            self._load_until(float(t[-1]))
            acc, gyro = self._exact(t)
            rng = np.random.default_rng([self.seed, 5, b])
            acc_out = self.sensor.read_acc(acc, self.rate, rng)
            gyro_out = self.sensor.read_gyro(gyro, self.rate, rng)  # drawn even if not output
            t_out = self.sensor.timestamps(t, self.rate, rng)
            if i0 == 0:
                t_out[0] = 0.0
            t_end = float(t[-1]) + 1.0 / self.rate
            lost = self.sensor.drops(max(float(t[0]), FIRST_DROP_S), t_end, rng)
            lost += [(s, e) for s, e in self.gaps if e > t[0] and s < t_end]
            keep = np.ones(t.size, dtype=bool)
            for s, e in lost:
                keep[np.searchsorted(t, s) : np.searchsorted(t, e)] = False
            data = {"t": t_out[keep]}
            for i, c in enumerate(ACC_COLUMNS):
                data[c] = acc_out[keep, i]
            if self.gyro:
                for i, c in enumerate(GYRO_COLUMNS):
                    data[c] = gyro_out[keep, i]
            self.generated_s = min(self.duration_s, t_end)
            yield pd.DataFrame(data)

    def _exact(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact specific force (g) and angular rate (deg/s) at times ``t``."""
        assert self._base is not None
        n = t.size
        chain = self.scene.body.chain
        joint_names = {j.name for j in chain}
        sums: dict[str, list[np.ndarray]] = {}
        tremor_axis = np.tile(np.asarray(X_AXIS), (n, 1))
        still: list[tuple[str, Component]] = []
        for ch, comp in self._active:
            if comp.end_s < t[0]:
                self._base[ch] = self._base.get(ch, 0.0) + comp.hold
                continue
            still.append((ch, comp))
            if comp.start_s > t[-1]:
                continue
            ia = int(np.searchsorted(t, comp.start_s))
            ib = int(np.searchsorted(t, comp.end_s, side="right"))
            acc = sums.setdefault(ch, [np.zeros(n), np.zeros(n), np.zeros(n)])
            if ib > ia:
                x, dx, ddx = comp.eval(t[ia:ib])
                acc[0][ia:ib] += x
                acc[1][ia:ib] += dx
                acc[2][ia:ib] += ddx
                axis = getattr(comp, "axis", None)
                if ch == "tremor" and axis is not None:
                    tremor_axis[ia:ib] = axis
            if ib < n and comp.hold:
                acc[0][ib:] += comp.hold
        self._active = still
        angles = {}
        for name in joint_names:
            base = self._base.get(name, 0.0)
            if name in sums:
                x, dx, ddx = sums[name]
                angles[name] = (x + base, dx, ddx)
            elif base:
                angles[name] = (np.full(n, base), np.zeros(n), np.zeros(n))
        base_acc = np.zeros((n, 3))
        for i, ch in enumerate(TRANSLATION_CHANNELS):
            if ch in sums:
                base_acc[:, i] = sums[ch][2]
        return imu_readings(chain, angles, base_acc, {"tremor": tremor_axis})
