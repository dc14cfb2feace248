"""Everything between a sensor and the DSP core: samples, recordings, replay, transports."""

from firmware_bridge.moved import install_moved

# The recording formats moved into firmware_bridge.io (issue 12); the old names warn.
install_moved(
    {
        "firmware_bridge.recording": "firmware_bridge.io.recording",
        "firmware_bridge.bids": "firmware_bridge.io.bids",
        "firmware_bridge.capture": "firmware_bridge.io.capture",
        "firmware_bridge.capture_decode": "firmware_bridge.io.capture_decode",
    }
)

from firmware_bridge.samples import SampleBlock  # noqa: E402

__all__ = ["SampleBlock"]

from firmware_bridge.io.recording import (  # noqa: E402
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
