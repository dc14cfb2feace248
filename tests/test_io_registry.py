"""The recording format registry (firmware_bridge.io.registry): reader by name, by first bytes, by path."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from firmware_bridge.io import find_format, open_recording, reader_formats, register_reader, registry
from firmware_bridge.io.recording import RecordingError, RecordingReader, write_recording

RATE_HZ = 50.0


def _frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "t": np.arange(n) / RATE_HZ,
            "acc_x": rng.normal(0, 0.1, n),
            "acc_y": rng.normal(0, 0.1, n),
            "acc_z": 1 + rng.normal(0, 0.1, n),
        }
    )


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    return write_recording(tmp_path / "walk.csv", _frame(), {"sample_rate_hz": RATE_HZ, "placement": "neck"})


@pytest.fixture
def formats(monkeypatch: pytest.MonkeyPatch) -> dict:
    """The registry, restored after the test (tests register formats of their own)."""
    saved = dict(registry._FORMATS)
    monkeypatch.setattr(registry, "_FORMATS", saved)
    return saved


def test_known_formats_and_their_names():
    names = [f.name for f in reader_formats()]
    assert names[:2] == ["canonical-csv", "bids-motion"]
    assert find_format("a.csv").name == find_format("a.csv.gz").name == "canonical-csv"
    assert find_format("sub-01_task-x_tracksys-imu_run-1_motion.tsv").name == "bids-motion"


def test_a_csv_under_any_name_is_read_by_sniffing(recording: Path, tmp_path: Path):
    plain = tmp_path / "walk.txt"
    plain.write_bytes(recording.read_bytes())
    packed = tmp_path / "walk.dat"
    packed.write_bytes(gzip.compress(recording.read_bytes()))
    for path in (plain, packed):
        assert registry.canonical_csv_head(path.read_bytes()[: registry.SNIFF_BYTES]), path
        with open_recording(path) as reader:
            assert isinstance(reader, RecordingReader)
            n = sum(len(b) for b in reader.blocks())
            assert n == 200 and reader.placement == "neck" and reader.sample_rate_hz == RATE_HZ


def test_a_folder_is_bids_motion_and_says_what_it_lacks(tmp_path: Path):
    assert find_format(tmp_path).name == "bids-motion"
    with pytest.raises(RecordingError, match="without any \\*_motion.tsv"):
        open_recording(tmp_path)


def test_unknown_files_get_the_canonical_readers_one_line_error(tmp_path: Path):
    odd = tmp_path / "notes.txt"
    odd.write_text("hello\nworld\n")
    missing = tmp_path / "missing.bin"
    assert not registry.canonical_csv_head(odd.read_bytes())
    for path in (odd, missing):
        assert find_format(path).name == "canonical-csv"
        with pytest.raises(RecordingError) as e:
            with open_recording(path) as reader:
                list(reader.blocks())
        assert "\n" not in str(e.value) and str(e.value).startswith(f"{path}: ")


def test_registering_a_reader_is_one_line_and_it_wins_by_suffix_or_bytes(formats, recording, tmp_path):
    opened = []

    def reader(path: Path, chunk_rows: int) -> RecordingReader:
        """A format whose files are canonical CSV behind a 6-byte magic line."""
        opened.append(path)
        plain = tmp_path / (path.name + ".csv")
        plain.write_bytes(path.read_bytes()[len(b"MAGIC\n") :])
        return RecordingReader(plain, chunk_rows=chunk_rows)

    register_reader("magic", reader, suffixes=(".mgc",), sniff=lambda head: head.startswith(b"MAGIC\n"))
    by_suffix = tmp_path / "a.mgc"
    by_bytes = tmp_path / "b.bin"
    for path in (by_suffix, by_bytes):
        path.write_bytes(b"MAGIC\n" + recording.read_bytes())
        with open_recording(path, chunk_rows=64) as r:
            assert max(len(b) for b in r.blocks()) <= 64
    assert opened == [by_suffix, by_bytes]
    assert find_format(tmp_path / "c.csv").name == "canonical-csv"  # the others are untouched
