"""The detector's records: the band-pass it uses, one run's window decisions, the state between pushes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dsp.contraction import ConState
from dsp.events import Gap
from dsp.features import FeatureState
from dsp.grid import GridState
from dsp.posture import PostureState
from dsp.tremor_episodes import TrackerState, WindowBatch


@dataclass(frozen=True)
class BandSpec:
    low_hz: float  # decision range
    high_hz: float
    filter_low_hz: float  # band-pass edges (a little wider, so the range is flat)
    filter_high_hz: float


@dataclass
class Windows:
    """The window decisions for one run of bins (``result`` None: no complete window yet)."""

    valid: np.ndarray  # per bin: after the warm-up
    result: object | None  # dsp.windows.WindowResult
    end_bins: np.ndarray | None  # the bin each window ends with
    batch: WindowBatch | None  # what the tremor tracker needs
    codes: np.ndarray | None  # per window: its label for the minute summaries


@dataclass
class DetectorState:
    """Everything the detector carries from one push to the next."""

    grid: GridState = field(default_factory=GridState)
    features: FeatureState | None = None
    tracker: TrackerState = field(default_factory=TrackerState)
    posture: PostureState = field(default_factory=PostureState)
    contraction: ConState = field(default_factory=ConState)
    next_episode_id: int = 1
    next_provisional_id: int = -1  # ids handed out mid-block, renumbered in time order after it
    next_k: int | None = None  # grid index expected next (None: a new segment starts)
    pending: np.ndarray | None = None  # grid samples of the unfinished bin
    pending_filled: np.ndarray | None = None  # which of them were interpolated across a hole
    pending_k0: int = 0
    valid_from_bin: int = 0  # first bin after the warm-up of the current segment
    history: dict | None = None  # per-bin inputs of the last window_bins - 1 bins
    last_window_end_s: float | None = None
    samples: int = 0
    gaps: list[Gap] = field(default_factory=list)
    status: dict = field(default_factory=dict)
    flushed: bool = False
    # contractions as known so far: [id, start_s, detected_at_s, ended_at_s, end_s] (inf: open)
    contractions: list = field(default_factory=list)
    prev_dir: np.ndarray | None = None  # last bin's sliding-window acceleration directions (acc only)
