"""Research devices' own files (firmware_bridge.io.devices) on the real files in
../shared/real-data/devices/, with expectations from each file's own header; and damaged copies.

The files are not part of the project: the tests skip, saying so, when the folder is absent.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.io import find_format, open_recording
from firmware_bridge.io.recording import RecordingError

DEVICES = Path(__file__).resolve().parents[1].parent / "shared" / "real-data" / "devices"
pytestmark = pytest.mark.skipif(
    not DEVICES.is_dir(), reason=f"real device files not available here ({DEVICES} is absent)"
)
pytest.importorskip("actfast", reason="actfast is not installed (pip install 'tremorscope[cohort]')")
pytest.importorskip("pygt3x", reason="pygt3x is not installed (pip install 'tremorscope[cohort]')")

#: |acc| of a worn or resting device is gravity, 1 g; the files' median must be near it.
GRAVITY_TOLERANCE_G = 0.08
#: A device lying still turns by less than this (the AX6's gyro in deg/s, not rad/s).
STILL_GYRO_DPS = 10.0
#: CWA data sectors are 512 bytes and hold 120 samples at these settings (cwa.h; 17400 / 145).
CWA_SECTOR_BYTES = 512
CWA_SAMPLES_PER_SECTOR = 120


def read_all(path: Path) -> tuple[object, np.ndarray, np.ndarray, np.ndarray | None]:
    reader = open_recording(path)
    with reader:
        blocks = list(reader.blocks())
    t = np.concatenate([b.t for b in blocks])
    acc = np.concatenate([b.acc for b in blocks])
    gyro = np.concatenate([b.gyro for b in blocks]) if reader.has_gyro else None
    return reader, t, acc, gyro


def gravity_ok(acc: np.ndarray) -> bool:
    return abs(float(np.median(np.linalg.norm(acc, axis=1))) - 1.0) < GRAVITY_TOLERANCE_G


def test_ax3_cwa_rate_clock_placement_and_units():
    reader, t, acc, gyro = read_all(DEVICES / "ax3_testfile.cwa")
    assert find_format(DEVICES / "ax3_testfile.cwa").name == "axivity-cwa"
    assert reader.sample_rate_hz == 100.0 and not reader.rate_estimated  # the header's 100 Hz
    assert gyro is None and not reader.has_gyro
    assert len(t) == 17400 and np.all(np.diff(t) > 0)
    assert abs(1.0 / np.median(np.diff(t)) - 100.0) < 0.5  # the samples agree with the header
    assert gravity_ok(acc)
    assert reader.range_g == 8.0
    assert reader.placement == "wrist"  # the annotation's "_p=right+wrist"
    assert reader.start_time.replace(microsecond=0) == datetime(2019, 2, 26, 10, 55, 6)
    assert reader.start_time.tzinfo is None  # CWA clocks carry no zone
    assert "AX3" in reader.device and reader.read_warnings == []


def test_ax6_cwa_gyroscope_in_degrees_per_second():
    reader, t, acc, gyro = read_all(DEVICES / "ax6_testfile.cwa")
    assert reader.has_gyro and gyro.shape == acc.shape == (11320, 3)
    assert gravity_ok(acc) and reader.range_g == 16.0
    assert float(np.median(np.abs(gyro))) < STILL_GYRO_DPS
    assert float(np.median(np.abs(gyro))) > 0.05  # not rad/s (that would be ~0.02 at rest)


def test_geneactiv_bin_rate_and_time_zone():
    reader, t, acc, _ = read_all(DEVICES / "GENEActiv_testfile.bin")
    assert find_format(DEVICES / "GENEActiv_testfile.bin").name == "geneactiv-bin"
    assert reader.sample_rate_hz == 85.7  # "Measurement Frequency: 85.7 Hz"
    assert len(t) == 5031 and gravity_ok(acc)
    assert abs(1.0 / np.median(np.diff(t)) - 85.7) < 0.5
    assert reader.start_time.utcoffset() == timedelta(hours=1)  # "Time Zone: GMT +01:00"
    assert reader.start_time.replace(tzinfo=None, microsecond=0) == datetime(2013, 5, 30, 10, 12, 54)


def test_gt3x_both_files_read_with_local_time_zone():
    small, t, acc, _ = read_all(DEVICES / "actigraph_ISM_Disabled.gt3x")
    assert small.sample_rate_hz == 30.0 and len(t) == 9000 and gravity_ok(acc)
    assert small.idle_samples == 0
    assert small.start_time == datetime(2021, 3, 19, 15, 57, tzinfo=timezone(-timedelta(hours=5)))
    big, t, acc, _ = read_all(DEVICES / "actigraph_small_13h.gt3x")
    assert big.sample_rate_hz == 30.0 and gravity_ok(acc)
    # idle sleep mode: the device did not measure; those samples are left out (a gap), not kept
    assert big.idle_samples > 0 and len(t) + big.idle_samples == 1_467_810
    assert float(np.max(np.diff(t))) > 60.0
    assert t[-1] > 12 * 3600  # the whole 13 h


def test_device_files_found_by_first_bytes_without_suffix(tmp_path: Path):
    for name, fmt in (("ax3_testfile.cwa", "axivity-cwa"), ("GENEActiv_testfile.bin", "geneactiv-bin")):
        copy = tmp_path / (name.split(".")[0] + ".dat")
        shutil.copyfile(DEVICES / name, copy)
        assert find_format(copy).name == fmt


def damaged_copy(src: Path, dst: Path, spans: list[tuple[int, bytes]]) -> Path:
    data = bytearray(src.read_bytes())
    for offset, junk in spans:
        data[offset : offset + len(junk)] = junk
    dst.write_bytes(bytes(data))
    return dst


def test_cwa_corrupt_blocks_skipped_named_and_rest_kept(tmp_path: Path):
    src = DEVICES / "ax3_testfile.cwa"
    bad = damaged_copy(
        src,
        tmp_path / "ax3_damaged.cwa",
        [(CWA_SECTOR_BYTES * 40, b"ZZ"), (CWA_SECTOR_BYTES * 60 + 30, bytes(270))],  # a header, a payload
    )
    reader, t, acc, _ = read_all(bad)
    assert len(reader.read_warnings) == 2
    assert "magic" in reader.read_warnings[0] and "checksum" in reader.read_warnings[1]
    assert len(t) == 17400 - 2 * CWA_SAMPLES_PER_SECTOR  # exactly the two damaged sectors lost
    assert gravity_ok(acc)
    assert float(np.max(np.diff(t))) > 1.0  # the lost sectors are a hole in time, not glued


def test_gt3x_corrupt_archive_is_one_line_error(tmp_path: Path):
    src = DEVICES / "actigraph_ISM_Disabled.gt3x"
    bad = damaged_copy(src, tmp_path / "damaged.gt3x", [(20_000, bytes(range(256)))])  # inside log.bin
    with pytest.raises(RecordingError) as e:
        open_recording(bad)
    text = str(e.value)
    assert "\n" not in text and "damaged.gt3x" in text and "GT3X" in text


def test_not_a_device_file_is_one_line_error(tmp_path: Path):
    junk = tmp_path / "junk.cwa"
    junk.write_bytes(b"MD" + bytes(100))  # a header magic and nothing else
    with pytest.raises(RecordingError) as e:
        open_recording(junk)
    assert "\n" not in str(e.value) and "junk.cwa" in str(e.value)
