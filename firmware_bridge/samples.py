"""The sample block: the one data type that crosses from the bridge into the DSP core."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SampleBlock:
    """A run of consecutive IMU samples from one sensor.

    ``t`` is seconds on the source's own clock (any origin, may jitter or jump),
    ``acc`` is acceleration in g with gravity included, ``gyro`` is angular rate
    in deg/s or ``None`` for accelerometer-only sensors. Rows are samples.
    """

    t: np.ndarray  # shape (n,), float64, seconds
    acc: np.ndarray  # shape (n, 3), float, g
    gyro: np.ndarray | None = None  # shape (n, 3), float, deg/s

    def __post_init__(self) -> None:
        t = np.asarray(self.t, dtype=np.float64).reshape(-1)
        acc = np.asarray(self.acc, dtype=np.float64).reshape(-1, 3)
        if acc.shape[0] != t.shape[0]:
            raise ValueError(f"acc has {acc.shape[0]} rows but t has {t.shape[0]}")
        gyro = self.gyro
        if gyro is not None:
            gyro = np.asarray(gyro, dtype=np.float64).reshape(-1, 3)
            if gyro.shape[0] != t.shape[0]:
                raise ValueError(f"gyro has {gyro.shape[0]} rows but t has {t.shape[0]}")
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "acc", acc)
        object.__setattr__(self, "gyro", gyro)

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @property
    def has_gyro(self) -> bool:
        return self.gyro is not None
