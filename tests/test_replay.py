"""Tests for the replay source (firmware_bridge.replay)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from firmware_bridge.io.recording import RecordingError, RecordingReader, write_recording
from firmware_bridge.replay import ReplaySource


def _recording(
    path: Path, duration_s: float, rate_hz: float = 100.0, gyro: bool = True, gap=None
) -> pd.DataFrame:
    n = int(round(duration_s * rate_hz))
    t = 5.0 + np.arange(n) / rate_hz
    if gap is not None:  # (start_s, length_s) of lost packets
        start, length = gap
        keep = (t < 5.0 + start) | (t >= 5.0 + start + length)
        t = t[keep]
        n = t.size
    rng = np.random.default_rng(1)
    data = {"t": t, "acc_x": rng.normal(0, 0.1, n), "acc_y": rng.normal(0, 0.1, n)}
    data["acc_z"] = 1 + rng.normal(0, 0.1, n)
    if gyro:
        data |= {f"gyro_{a}": rng.normal(0, 20, n) for a in "xyz"}
    frame = pd.DataFrame(data).round(4)
    write_recording(path, frame, {"sample_rate_hz": rate_hz, "placement": "neck", "device": "sim"})
    return frame


def test_max_speed_yields_all_samples_in_order_in_one_second_blocks(tmp_path: Path) -> None:
    frame = _recording(tmp_path / "rec.csv.gz", 95.5, gap=(40.0, 3.5))
    # A small reader chunk forces one-second blocks to be stitched across reader blocks.
    reader = RecordingReader(tmp_path / "rec.csv.gz", chunk_rows=333)
    source = ReplaySource(reader, speed=None, block_s=1.0)
    assert source.placement == "neck" and source.has_gyro and source.sample_rate_hz == 100.0
    blocks = list(source)
    t = np.concatenate([b.t for b in blocks])
    np.testing.assert_allclose(t, frame["t"].to_numpy(), atol=1e-9)
    np.testing.assert_allclose(np.concatenate([b.gyro for b in blocks]), frame.filter(like="gyro"))
    np.testing.assert_allclose(np.concatenate([b.acc for b in blocks]), frame.filter(like="acc"))
    # Each block covers one aligned second of stream time; the gap leaves some seconds out.
    seconds = [int(np.floor(b.t[0] - 5.0)) for b in blocks]
    assert all(int(np.floor(b.t[-1] - 5.0)) == s for b, s in zip(blocks, seconds))
    assert seconds == sorted(set(seconds))
    assert {39, 43} <= set(seconds) and not {40, 41, 42} & set(seconds)
    assert all(len(b) == 100 for b in blocks[1:20])
    assert source.progress == 1.0
    assert source.stats.rows == len(frame)


def test_progress_advances_during_replay(tmp_path: Path) -> None:
    _recording(tmp_path / "rec.csv", 60.0)
    source = ReplaySource(tmp_path / "rec.csv", block_s=2.0)
    seen = [source.progress for _ in source]
    assert seen == sorted(seen)
    assert 0.0 < seen[0] < 0.1  # one 30th of the file, not the whole read-ahead
    assert 0.4 < seen[len(seen) // 2] < 0.6
    assert source.progress == 1.0


def test_speed_paces_stream_time_against_wall_time(tmp_path: Path) -> None:
    frame = _recording(tmp_path / "rec.csv", 40.0, rate_hz=50.0, gyro=False)
    span_s = float(frame["t"].iloc[-1] - frame["t"].iloc[0])
    speed = 50.0
    source = ReplaySource(tmp_path / "rec.csv", speed=speed, block_s=0.5)
    started = time.monotonic()
    arrivals = []
    for block in source:
        arrivals.append((time.monotonic() - started, float(block.t[-1] - frame["t"].iloc[0])))
    elapsed = time.monotonic() - started
    expected = span_s / speed  # 0.8 s
    assert elapsed >= 0.8 * expected
    assert elapsed < expected + 2.0
    # No block arrives before its live deadline (small timer slack allowed).
    assert all(wall >= stream / speed - 0.02 for wall, stream in arrivals)
    assert sum(1 for _ in arrivals) == 80


def test_pacing_does_not_drift_when_consumer_is_slow(tmp_path: Path) -> None:
    _recording(tmp_path / "rec.csv", 20.0, gyro=False)
    speed = 20.0  # 1 s of wall time in total, 50 ms per 1 s block
    source = ReplaySource(tmp_path / "rec.csv", speed=speed, block_s=1.0)
    started = time.monotonic()
    for i, _ in enumerate(source):
        if i == 2:
            time.sleep(0.6)  # the consumer stalls for 12 blocks' worth
    elapsed = time.monotonic() - started
    # Deadlines come from one start instant, so the stall is absorbed (about 1.0 s);
    # sleeping a fixed interval per block would take about 1.6 s.
    assert 0.8 * (19.99 / speed) <= elapsed < 1.35


def test_invalid_arguments_and_bad_file(tmp_path: Path) -> None:
    _recording(tmp_path / "rec.csv", 2.0)
    with pytest.raises(ValueError, match="speed"):
        ReplaySource(tmp_path / "rec.csv", speed=0)
    with pytest.raises(ValueError, match="block_s"):
        ReplaySource(tmp_path / "rec.csv", block_s=-1)
    (tmp_path / "bad.csv").write_text("time,x,y,z\n0,0,0,1\n")
    with pytest.raises(RecordingError, match="bad.csv: line 1: missing required column"):
        ReplaySource(tmp_path / "bad.csv")
