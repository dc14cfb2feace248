"""The canonical recording format's import path: its reader, writer and shared names in one place.

The code lives in ``canonical_reader`` (streaming reader, whole-file :func:`read_recording`),
``canonical_head`` (sidecar, metadata and header), ``canonical_writer`` and ``rows`` (what every
sample-row reader shares); ``firmware_bridge.io.recording`` keeps importing all of it.
"""

from firmware_bridge.io.canonical_head import CanonicalHead, sidecar_path
from firmware_bridge.io.canonical_reader import (
    RATE_ESTIMATE_SAMPLES,
    RATE_ESTIMATE_TOLERANCE,
    Recording,
    RecordingReader,
    read_recording,
)
from firmware_bridge.io.canonical_writer import WRITE_DECIMALS, write_recording, write_recording_blocks
from firmware_bridge.io.rows import (
    ACC_COLUMNS,
    BACKWARD_RUN_MAX_ROWS,
    DEFAULT_PLACEMENT,
    GYRO_COLUMNS,
    MAX_SAMPLE_RATE_HZ,
    MIN_SAMPLE_RATE_HZ,
    REQUIRED_COLUMNS,
    ReadStats,
    RecordingError,
    SampleRowReader,
)

__all__ = [
    "ACC_COLUMNS",
    "BACKWARD_RUN_MAX_ROWS",
    "DEFAULT_PLACEMENT",
    "GYRO_COLUMNS",
    "MAX_SAMPLE_RATE_HZ",
    "MIN_SAMPLE_RATE_HZ",
    "RATE_ESTIMATE_SAMPLES",
    "RATE_ESTIMATE_TOLERANCE",
    "REQUIRED_COLUMNS",
    "WRITE_DECIMALS",
    "CanonicalHead",
    "ReadStats",
    "Recording",
    "RecordingError",
    "RecordingReader",
    "SampleRowReader",
    "read_recording",
    "sidecar_path",
    "write_recording",
    "write_recording_blocks",
]
