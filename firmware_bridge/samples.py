"""The sample block: the one data type that crosses from the bridge into the DSP core.

Also the plausibility limits every source applies before a sample becomes part of a block
(:func:`plausible_rows`): a value that is not finite, or beyond what any wearable sensor can
read, is a corrupt sample. Readers, the live source and the session runner drop such rows and
count them as bad samples, so nothing non-finite or absurd reaches the core or the log.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Largest plausible |acceleration| (g). Wearable IMUs read up to +-16 g, high-g parts
#: (ADXL375, H3LIS331DL) +-200-400 g; a reading beyond 500 g is corruption, not motion.
MAX_ABS_ACC_G = 500.0
#: Largest plausible |angular rate| (deg/s). MEMS gyroscopes read up to +-2000 deg/s (a few
#: +-4000); beyond 5000 deg/s (14 turns a second) a reading is corruption.
MAX_ABS_GYRO_DPS = 5000.0
#: Largest plausible |time| (s) on any clock, 2**36 s (2,177 years): beyond it float64 spacing
#: exceeds 15 us and keeps growing, so consecutive samples merge (the DSP core refuses the same).
MAX_ABS_TIME_S = float(2**36)


def plausible_rows(t: np.ndarray, acc: np.ndarray, gyro: np.ndarray | None = None) -> np.ndarray:
    """Per row: time and every value finite and within the limits above (NaN fails them all)."""
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    with np.errstate(invalid="ignore"):
        ok = np.abs(t) <= MAX_ABS_TIME_S
        ok &= (np.abs(np.asarray(acc, dtype=np.float64)).reshape(-1, 3) <= MAX_ABS_ACC_G).all(axis=1)
        if gyro is not None:
            ok &= (np.abs(np.asarray(gyro, dtype=np.float64)).reshape(-1, 3) <= MAX_ABS_GYRO_DPS).all(axis=1)
    return ok


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

    def plausible(self) -> tuple[SampleBlock, int]:
        """This block without its implausible rows (see :func:`plausible_rows`), and how many
        rows were dropped (the block itself when none were)."""
        ok = plausible_rows(self.t, self.acc, self.gyro)
        bad = int(ok.size - np.count_nonzero(ok))
        if not bad:
            return self, 0
        gyro = None if self.gyro is None else self.gyro[ok]
        return SampleBlock(self.t[ok], self.acc[ok], gyro), bad
