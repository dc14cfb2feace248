"""PLACEHOLDER while the core is written: API only. Do not rely on behaviour."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from dsp.config import DetectorConfig
from dsp.events import EPISODE_COLUMNS, Event


class StreamingDetector:
    def __init__(
        self,
        sample_rate_hz: float,
        placement: str = "wrist",
        config: DetectorConfig | None = None,
        start_time: datetime | None = None,
    ) -> None:
        self.sample_rate_hz = float(sample_rate_hz)
        self.placement = placement
        self.config = config or DetectorConfig()
        self.start_time = start_time

    def push(self, t: np.ndarray, acc: np.ndarray, gyro: np.ndarray | None = None) -> list[Event]:
        return []

    def push_block(self, block) -> list[Event]:
        return self.push(block.t, block.acc, block.gyro)

    def flush(self) -> list[Event]:
        return []

    def episodes(self) -> pd.DataFrame:
        return pd.DataFrame(columns=list(EPISODE_COLUMNS))


def detect(frame: pd.DataFrame, sample_rate_hz: float | None = None, placement: str = "wrist") -> pd.DataFrame:
    return pd.DataFrame(columns=list(EPISODE_COLUMNS))
