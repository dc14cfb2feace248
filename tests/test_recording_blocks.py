"""The streaming recording writer (``firmware_bridge.io.recording.write_recording_blocks``).

It must write exactly the bytes of ``write_recording`` on the whole frame, whatever the
block boundaries, and leave nothing behind when it fails part way.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from firmware_bridge.io.recording import read_recording, write_recording, write_recording_blocks

META = {
    "sample_rate_hz": 100,
    "placement": "neck",
    "start_time": datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc),
}


def _frame(n: int, gyro: bool, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = {"t": 3.25 + np.arange(n) / 100.0 + rng.uniform(-1e-3, 1e-3, n)}
    for axis in "xyz":
        data[f"acc_{axis}"] = rng.normal(0.0, 0.3, n)
    if gyro:
        for axis in "xyz":
            data[f"gyro_{axis}"] = rng.normal(0.0, 50.0, n)
    data["extra"] = rng.normal(size=n)  # not canonical: dropped by both writers
    frame = pd.DataFrame(data)
    frame.loc[7, "acc_y"] = np.nan  # an empty cell in both
    return frame


def _split(frame: pd.DataFrame, cuts: list[int]) -> list[pd.DataFrame]:
    edges = [0, *cuts, len(frame)]
    return [frame.iloc[a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)]


@pytest.mark.parametrize("name", ["rec.csv", "deeper/rec.csv.gz"])
@pytest.mark.parametrize("gyro", [True, False])
def test_blocks_write_the_same_bytes_as_the_whole_frame(tmp_path: Path, name: str, gyro: bool) -> None:
    frame = _frame(25_000, gyro)
    whole = write_recording(tmp_path / "whole" / name, frame, META)
    for cuts in ([], [1], [3, 4, 9000, 24_999], list(range(1000, 25_000, 1000))):
        path = write_recording_blocks(tmp_path / "blocks" / name, iter(_split(frame, cuts)), META)
        assert path.read_bytes() == whole.read_bytes(), cuts
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    back = read_recording(path)
    assert back.has_gyro == gyro and back.placement == "neck"
    assert len(back.frame) == len(frame) - 1  # the row with the empty cell is skipped and counted
    assert back.stats.skipped_missing == 1


def test_progress_from_the_generator_and_empty_input(tmp_path: Path) -> None:
    frame = _frame(3000, True)
    seen: list[int] = []

    def blocks() -> Iterator[pd.DataFrame]:
        for i, block in enumerate(_split(frame, [1000, 2000])):
            yield block
            seen.append(i)  # runs after the writer has taken the block

    write_recording_blocks(tmp_path / "a.csv", blocks(), META)
    assert seen == [0, 1, 2]
    empty = write_recording_blocks(tmp_path / "empty.csv", iter(()), META)
    same = write_recording(tmp_path / "same.csv", frame.iloc[:0][["t", "acc_x", "acc_y", "acc_z"]], META)
    assert empty.read_bytes() == same.read_bytes()
    assert empty.read_text().endswith("\nt,acc_x,acc_y,acc_z\n")


def test_bad_blocks_and_failures_leave_no_file(tmp_path: Path) -> None:
    frame = _frame(3000, True)
    first, second = _split(frame, [1500])
    target = tmp_path / "rec.csv.gz"
    with pytest.raises(ValueError, match="block 1 has columns t, acc_x, acc_y, acc_z; the recording has"):
        write_recording_blocks(
            target, iter([first, second.drop(columns=["gyro_x", "gyro_y", "gyro_z"])]), META
        )
    with pytest.raises(ValueError, match="not all three gyro columns"):
        write_recording_blocks(target, iter([first.drop(columns=["gyro_z"])]), META)
    with pytest.raises(ValueError, match="lacks required column"):
        write_recording_blocks(target, iter([first.drop(columns=["t"])]), META)
    with pytest.raises(ValueError, match="cannot be written as"):
        write_recording_blocks(target, iter([first]), {"bad:key": 1})

    def failing() -> Iterator[pd.DataFrame]:
        yield first
        raise RuntimeError("source died")

    with pytest.raises(RuntimeError, match="source died"):
        write_recording_blocks(target, failing(), META)
    assert list(tmp_path.iterdir()) == []  # no recording, no temporary file

    # An existing recording is replaced only by a complete new one.
    good = write_recording_blocks(target, iter([first, second]), META)
    before = good.read_bytes()
    with pytest.raises(RuntimeError):
        write_recording_blocks(target, failing(), META)
    assert good.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["rec.csv.gz"]
