"""The simulated MEMS IMU: noise, bias, quantisation, range, timestamps and lost packets.

Turns exact motion readings into what a commodity wearable would send.
Defaults follow typical consumer IMU datasheets: accelerometer noise density
150-400 ug/sqrt(Hz) and gyroscope 0.005-0.015 dps/sqrt(Hz) (Bosch BMI270
datasheet BST-BMI270-DS000, "noise density": 160 ug/sqrt(Hz) and
0.007 dps/sqrt(Hz); InvenSense MPU-6000/6050 product specification
PS-MPU-6000A-00, accelerometer and gyroscope specification tables:
400 ug/sqrt(Hz) and 0.005 dps/sqrt(Hz)). Output is int16 at +/-16 g
(2048 LSB/g in both datasheets) and +/-2000 dps (16.4 LSB/dps, MPU-6050;
BMI270 gives 16.384). The sensor's digital low-pass is modelled by leaving
out motion above ``BANDWIDTH_FRACTION`` of the output rate when the motion is
built (see ``activities``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

#: Motion content is kept below this fraction of the output rate (digital low-pass).
BANDWIDTH_FRACTION = 0.4


@dataclass(frozen=True)
class SensorModel:
    """Imperfections of the simulated IMU. ``None`` noise densities are drawn per seed."""

    acc_noise_ug_per_rthz: float | None = None  # white noise density; None: 150-400 per seed
    gyro_noise_dps_per_rthz: float | None = None  # None: 0.005-0.015 per seed
    acc_bias_sd_g: float = 0.01  # constant per-axis offset, drawn once per seed
    gyro_bias_sd_dps: float = 0.3
    # When set, each gyro axis's constant bias has a random sign and a magnitude drawn
    # uniformly from (lo, hi) deg/s instead of N(0, gyro_bias_sd_dps): the posture
    # scenarios use (0.2, 0.5), so a detector must estimate it (integrated, it is drift).
    gyro_bias_range_dps: tuple[float, float] | None = None
    acc_lsb_g: float = 1.0 / 2048.0  # +/-16 g in int16
    acc_range_g: float = 16.0
    gyro_lsb_dps: float = 1.0 / 16.4  # +/-2000 dps in int16
    gyro_range_dps: float = 2000.0
    quantise: bool = True
    jitter_sd_s: float = 0.001  # host timestamp jitter; capped at 0.2 sample periods
    timestamp_resolution_s: float = 1e-3  # the host clock's tick (finer at rates > 100 Hz)
    drops_per_min: float = 1.0  # lost-packet runs per minute (Poisson)
    drop_min_s: float = 0.05
    drop_max_s: float = 0.2

    def __post_init__(self) -> None:
        r = self.gyro_bias_range_dps
        if r is not None and not (len(r) == 2 and 0.0 <= float(r[0]) <= float(r[1])):
            raise ValueError(f"gyro_bias_range_dps must be (lo, hi) with 0 <= lo <= hi, got {r!r}")

    @classmethod
    def ideal(cls) -> SensorModel:
        """A perfect sensor: exact readings on an exact clock, nothing lost."""
        return cls(
            acc_noise_ug_per_rthz=0.0,
            gyro_noise_dps_per_rthz=0.0,
            acc_bias_sd_g=0.0,
            gyro_bias_sd_dps=0.0,
            quantise=False,
            jitter_sd_s=0.0,
            timestamp_resolution_s=0.0,
            drops_per_min=0.0,
            acc_range_g=np.inf,
            gyro_range_dps=np.inf,
        )

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def resolved(self, rng: np.random.Generator) -> ResolvedSensor:
        """Draw the per-seed constants (noise densities, biases)."""
        acc_nd = self.acc_noise_ug_per_rthz
        if acc_nd is None:
            acc_nd = float(rng.uniform(150.0, 400.0))
        gyro_nd = self.gyro_noise_dps_per_rthz
        if gyro_nd is None:
            gyro_nd = float(rng.uniform(0.005, 0.015))
        acc_bias = rng.normal(0.0, 1.0, 3) * self.acc_bias_sd_g
        gyro_bias = rng.normal(0.0, 1.0, 3) * self.gyro_bias_sd_dps
        if self.gyro_bias_range_dps is not None:  # drawn after the others: they stay the same
            lo, hi = (float(v) for v in self.gyro_bias_range_dps)
            gyro_bias = rng.choice([-1.0, 1.0], 3) * rng.uniform(lo, hi, 3)
        return ResolvedSensor(self, acc_nd, gyro_nd, acc_bias, gyro_bias)


@dataclass(frozen=True)
class ResolvedSensor:
    """A :class:`SensorModel` with its per-recording constants drawn."""

    model: SensorModel
    acc_noise_ug_per_rthz: float
    gyro_noise_dps_per_rthz: float
    acc_bias_g: np.ndarray
    gyro_bias_dps: np.ndarray

    def read_acc(self, acc_g: np.ndarray, rate_hz: float, rng: np.random.Generator) -> np.ndarray:
        """Accelerometer output (g): bias, white noise over the Nyquist band, int16 steps, range."""
        sd_g = self.acc_noise_ug_per_rthz * 1e-6 * np.sqrt(rate_hz / 2.0)
        out = acc_g + self.acc_bias_g + rng.standard_normal(acc_g.shape) * sd_g
        return self._digitise(out, self.model.acc_lsb_g, self.model.acc_range_g)

    def read_gyro(self, gyro_dps: np.ndarray, rate_hz: float, rng: np.random.Generator) -> np.ndarray:
        """Gyroscope output (deg/s), as :meth:`read_acc`."""
        sd = self.gyro_noise_dps_per_rthz * np.sqrt(rate_hz / 2.0)
        out = gyro_dps + self.gyro_bias_dps + rng.standard_normal(gyro_dps.shape) * sd
        return self._digitise(out, self.model.gyro_lsb_dps, self.model.gyro_range_dps)

    def _digitise(self, x: np.ndarray, lsb: float, full_scale: float) -> np.ndarray:
        if self.model.quantise:
            top = np.floor(full_scale / lsb)
            return np.clip(np.round(x / lsb), -top - 1, top - 1) * lsb
        return np.clip(x, -full_scale, full_scale)

    def timestamps(self, t_true_s: np.ndarray, rate_hz: float, rng: np.random.Generator) -> np.ndarray:
        """Host timestamps: true sample times plus bounded jitter, on the host clock's tick.

        Jitter is clipped to +/-0.4 sample periods so timestamps stay strictly increasing.
        """
        sd = min(self.model.jitter_sd_s, 0.2 / rate_hz)
        t = t_true_s.copy()
        if sd > 0:
            t += np.clip(rng.standard_normal(t.shape) * sd, -0.4 / rate_hz, 0.4 / rate_hz)
        tick = min(self.model.timestamp_resolution_s, 0.1 / rate_hz)
        if tick > 0:
            t = np.round(t / tick) * tick
        return t

    def drops(self, t0_s: float, t1_s: float, rng: np.random.Generator) -> list[tuple[float, float]]:
        """Lost-packet runs in ``[t0_s, t1_s)``: Poisson in time, each 0.05-0.2 s long."""
        m = self.model
        if m.drops_per_min <= 0 or t1_s <= t0_s:
            return []
        count = rng.poisson(m.drops_per_min * (t1_s - t0_s) / 60.0)
        starts = np.sort(rng.uniform(t0_s, t1_s, count))
        lengths = rng.uniform(m.drop_min_s, m.drop_max_s, count)
        return [(float(s), float(s + d)) for s, d in zip(starts, lengths, strict=True)]
