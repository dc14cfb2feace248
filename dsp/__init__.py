"""The pure streaming signal-processing core: no file, network or database I/O."""

from dsp.config import DEFAULT_BANDS, ORTHOSTATIC_BAND, Band, DetectorConfig
from dsp.detector import InputWarning, StreamingDetector, detect
from dsp.events import (
    ENDED,
    EPISODE_COLUMNS,
    GAP,
    MINUTE,
    MINUTE_COLUMNS,
    SEVERITY_CLASSES,
    STARTED,
    UPDATED,
    Episode,
    Event,
    Gap,
    MinuteSummary,
)

__all__ = [
    "Band",
    "DEFAULT_BANDS",
    "DetectorConfig",
    "ENDED",
    "EPISODE_COLUMNS",
    "Episode",
    "Event",
    "GAP",
    "InputWarning",
    "Gap",
    "MINUTE",
    "MINUTE_COLUMNS",
    "MinuteSummary",
    "ORTHOSTATIC_BAND",
    "SEVERITY_CLASSES",
    "STARTED",
    "StreamingDetector",
    "UPDATED",
    "detect",
]
