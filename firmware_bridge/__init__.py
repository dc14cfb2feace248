"""Everything between a sensor and the DSP core: samples, recordings, replay, transports."""

from firmware_bridge.samples import SampleBlock

__all__ = ["SampleBlock"]

from firmware_bridge.recording import (  # noqa: E402
    ReadStats,
    Recording,
    RecordingError,
    RecordingReader,
    read_recording,
    write_recording,
)
from firmware_bridge.replay import ReplaySource  # noqa: E402

__all__ += [
    "ReadStats",
    "Recording",
    "RecordingError",
    "RecordingReader",
    "ReplaySource",
    "read_recording",
    "write_recording",
]
