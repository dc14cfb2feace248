"""Tests for the canonical recording reader and writer (firmware_bridge.io.recording)."""

from __future__ import annotations

import gzip
import os
import stat
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge import SampleBlock
from firmware_bridge.io.recording import (
    ReadStats,
    RecordingError,
    RecordingReader,
    read_recording,
    write_recording,
)

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "real-data"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _frame(n: int, rate_hz: float, gyro: bool = True, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = {
        "t": 12.5 + np.arange(n) / rate_hz,
        "acc_x": rng.normal(0, 0.2, n),
        "acc_y": rng.normal(0, 0.2, n),
        "acc_z": 1 + rng.normal(0, 0.2, n),
    }
    if gyro:
        for axis in "xyz":
            data[f"gyro_{axis}"] = rng.normal(0, 40, n)
    return pd.DataFrame(data)


def _error(path: Path, **kw) -> str:
    with pytest.raises(RecordingError) as info:
        with RecordingReader(path, **kw) as reader:
            for _ in reader.blocks():
                pass
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


# ---------------------------------------------------------------- metadata


def test_metadata_is_parsed_and_all_keys_kept(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "rec.csv",
        "# sample_rate_hz: 50\n"
        "# placement: Neck (collar clip)\n"
        "# device: Acme IMU v2: rev B\n"
        "# start_time: 2021-06-27T16:52:20.25Z\n"
        "# units: t=s acc=g gyro=deg/s\n"
        "# Subject: S01\n"
        "#   free text comment without a colon\n"
        "\n"
        "t,acc_x,acc_y,acc_z\n"
        "100.0,0,0,1\n100.02,0,0,1\n100.04,0,0,1\n",
    )
    with RecordingReader(path) as reader:
        assert reader.sample_rate_hz == 50.0
        assert not reader.rate_estimated
        assert reader.placement == "neck"
        assert reader.device == "Acme IMU v2: rev B"
        assert reader.start_time == datetime(2021, 6, 27, 16, 52, 20, 250000, tzinfo=timezone.utc)
        assert reader.meta["subject"] == "S01"
        assert reader.meta["placement"] == "Neck (collar clip)"
        assert reader.meta["units"] == "t=s acc=g gyro=deg/s"
        assert not reader.has_gyro
        assert reader.header_line == 9
        assert reader.t0_s == 100.0
        assert reader.wall_time(100.04) == reader.start_time + timedelta(seconds=0.04)
        blocks = list(reader.blocks())
    assert [len(b) for b in blocks] == [3]


def test_defaults_when_metadata_absent_and_naive_start_time(tmp_path: Path) -> None:
    body = "\n".join(f"{i / 200:.4f},0,0,1" for i in range(400))
    path = _write(tmp_path / "rec.csv", "# start_time: 2019-03-21T14:58:00.5\nt,acc_x,acc_y,acc_z\n" + body)
    with RecordingReader(path) as reader:
        assert reader.placement == "wrist"
        assert reader.device is None
        assert reader.rate_estimated
        assert reader.sample_rate_hz == pytest.approx(200.0)
        assert reader.start_time == datetime(2019, 3, 21, 14, 58, 0, 500000)
        assert reader.start_time.tzinfo is None


def test_bad_metadata_values_are_clear_errors(tmp_path: Path) -> None:
    rows = "t,acc_x,acc_y,acc_z\n0,0,0,1\n0.01,0,0,1\n"
    bad_time = _write(tmp_path / "a.csv", "# device: x\n# start_time: yesterday\n" + rows)
    assert "line 2: start_time 'yesterday' is not ISO 8601" in _error(bad_time)
    bad_rate = _write(tmp_path / "b.csv", "# sample_rate_hz: fast\n" + rows)
    assert "line 1: sample_rate_hz 'fast' is not a number" in _error(bad_rate)
    bad_units = _write(tmp_path / "c.csv", "# units: t=s acc=m/s^2\n" + rows)
    assert "line 1: units declare acc=m/s^2" in _error(bad_units)


# ---------------------------------------------------------------- errors


def test_missing_column_names_header_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "rec.csv", "# sample_rate_hz: 100\n# a: b\nt,acc_x,acc_z,gyro_x\n0,1,2,3\n")
    message = _error(path)
    assert "line 3: missing required column 'acc_y'" in message


def test_partial_gyro_columns_are_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "rec.csv", "t,acc_x,acc_y,acc_z,gyro_x,gyro_y\n0,1,2,3,4,5\n")
    assert "line 1: has gyro_x, gyro_y but not gyro_z" in _error(path)


def test_non_numeric_value_reports_exact_line_across_blocks(tmp_path: Path) -> None:
    lines = ["# sample_rate_hz: 100", "# device: test", "t,acc_x,acc_y,acc_z"]
    lines += [f"{i / 100:.2f},0.1,0.2,1.0" for i in range(60)]
    lines[3 + 53] = "0.53,0.1,abc,1.0"  # file line 57 (1-based)
    path = _write(tmp_path / "rec.csv", "\n".join(lines) + "\n")
    for chunk_rows in (7, 100_000):
        message = _error(path, chunk_rows=chunk_rows)
        assert message == f"{path}: line 57: column 'acc_y' has non-numeric value 'abc'; " + (
            "fix or delete that row (missing values may be left empty)"
        )


@pytest.mark.parametrize("meta", [[], ["# sample_rate_hz: 100"]])
def test_non_numeric_error_keeps_blocks_before_it(tmp_path: Path, meta: list[str]) -> None:
    lines = [*meta, "t,acc_x,acc_y,acc_z"] + [f"{i / 100:.2f},0,0,1" for i in range(30)]
    lines.append("x,0,0,1")
    path = _write(tmp_path / "rec.csv", "\n".join(lines) + "\n")
    got = 0
    bad_line = 32 + len(meta)
    with pytest.raises(RecordingError, match=f"line {bad_line}: column 't' has non-numeric value"):
        with RecordingReader(path, chunk_rows=10) as reader:
            for block in reader.blocks():
                got += len(block)
    assert got == 30


def test_row_with_too_many_fields(tmp_path: Path) -> None:
    lines = ["t,acc_x,acc_y,acc_z"] + [f"{i / 100:.2f},0,0,1" for i in range(20)]
    lines[11] = "0.10,0,0,1,7"  # line 12; with chunk_rows=5 it is the first row of a parse
    path = _write(tmp_path / "rec.csv", "\n".join(lines) + "\n")
    for chunk_rows in (5, 4, 1000):
        assert "line 12: row has 5 fields but the header has 4" in _error(path, chunk_rows=chunk_rows)


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    assert "empty file" in _error(_write(tmp_path / "empty.csv", ""))
    meta_only = _write(tmp_path / "meta.csv", "# sample_rate_hz: 100\n# placement: wrist\n")
    assert "line 2: no header row after the metadata lines" in _error(meta_only)
    header_only = _write(tmp_path / "header.csv", "# sample_rate_hz: 100\nt,acc_x,acc_y,acc_z\n")
    assert "line 2: header but no data rows" in _error(header_only)


def test_all_rows_skipped_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "rec.csv", "# sample_rate_hz: 100\nt,acc_x,acc_y,acc_z\n0,,0,1\n1,0,,1\n")
    message = _error(path)
    assert "no usable samples: all 2 data rows (lines 3-4) were skipped" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# sample_rate_hz: 20\nt,acc_x,acc_y,acc_z\n0,0,0,1\n", "line 1: sample_rate_hz 20 Hz is outside"),
        ("# sample_rate_hz: 2000\nt,acc_x,acc_y,acc_z\n0,0,0,1\n", "sample_rate_hz 2000 Hz is outside"),
        (
            "t,acc_x,acc_y,acc_z\n" + "".join(f"{i * 10},0,0,1\n" for i in range(50)),
            "estimated sample rate (median step 10 s) 0.1 Hz is outside",
        ),
        ("t,acc_x,acc_y,acc_z\n0,0,0,1\n", "only one usable sample"),
    ],
)
def test_bad_sample_rate(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in _error(_write(tmp_path / "rec.csv", text))


def test_unreadable_gzip(tmp_path: Path) -> None:
    not_gzip = _write(tmp_path / "rec.csv.gz", "t,acc_x,acc_y,acc_z\n0,0,0,1\n")
    assert "unreadable gzip" in _error(not_gzip)
    garbage = tmp_path / "garbage.csv.gz"
    garbage.write_bytes(b"\x1f\x8b" + os.urandom(200))
    assert "unreadable gzip" in _error(garbage)


def test_truncated_gzip_yields_complete_lines_then_errors(tmp_path: Path) -> None:
    frame = _frame(20_000, 100.0, gyro=False)
    full = write_recording(tmp_path / "full.csv.gz", frame, {"sample_rate_hz": 100})
    data = full.read_bytes()
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(data[: len(data) // 2])
    got: list[SampleBlock] = []
    with pytest.raises(RecordingError, match=r"line \d+: unreadable gzip after this line") as info:
        with RecordingReader(cut, chunk_rows=1000) as reader:
            got.extend(reader.blocks())
    t = np.concatenate([b.t for b in got])
    assert 5_000 < t.size < 20_000
    np.testing.assert_allclose(t, frame["t"].to_numpy()[: t.size], atol=1e-6)
    line = int(str(info.value).split("line ")[1].split(":")[0])
    assert line == 2 + t.size  # metadata + header + the complete rows read


def test_missing_file(tmp_path: Path) -> None:
    assert "file not found" in _error(tmp_path / "nope.csv")


# ---------------------------------------------------------------- skipping


def test_skipped_rows_are_counted(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "rec.csv",
        "# sample_rate_hz: 100\n"
        "t,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z,note\n"
        "0.00,0,0,1,0,0,0,ok\n"
        "0.01,0,0,1,0,0,0,\n"  # empty ignored column: kept
        "0.02,0,,1,0,0,0,x\n"  # missing acc: skipped
        "0.03,0,0,1,0,,0,x\n"  # missing gyro: skipped
        "0.01,0,0,1,0,0,0,x\n"  # backwards: skipped
        "0.01,0,0,1,0,0,0,x\n"  # duplicate of last kept: skipped
        ",0,0,1,0,0,0,x\n"  # missing t: skipped
        "\n"  # blank line: missing values
        "0.04,0,0,1,0,0,0,x\n"
        "0.05,0,0,1,0,0,NaN,x\n"  # NaN: skipped
        "0.06,0,0,1,0,0,0,x\n",
    )
    for chunk_rows in (1, 2, 3, 100):
        rec = read_recording(path, chunk_rows=chunk_rows)
        assert rec.frame["t"].tolist() == [0.0, 0.01, 0.04, 0.06]
        assert rec.stats == ReadStats(rows=4, skipped_missing=5, skipped_time=2)
        assert rec.stats.skipped == 7


def test_accelerometer_only_file_ignores_missing_extra_columns(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "rec.csv",
        "# sample_rate_hz: 100\nacc_z,label,t,acc_y,acc_x\n1,,0,0.5,0.25\n1.5,walk,0.01,0,0\n",
    )
    rec = read_recording(path)
    assert not rec.has_gyro
    assert list(rec.frame.columns) == ["t", "acc_x", "acc_y", "acc_z"]
    assert rec.frame.iloc[0].tolist() == [0.0, 0.25, 0.5, 1.0]
    with RecordingReader(path) as reader:
        (block,) = list(reader.blocks())
    assert block.gyro is None and block.acc.shape == (2, 3)


def _reference_filter(t: list[float | None]) -> tuple[list[float], int, int]:
    """The rule from the spec, one row at a time."""
    kept: list[float] = []
    missing = time_bad = 0
    for value in t:
        if value is None:
            missing += 1
        elif kept and value <= kept[-1]:
            time_bad += 1
        else:
            kept.append(value)
    return kept, missing, time_bad


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.one_of(st.none(), st.integers(min_value=-3, max_value=4)), min_size=2, max_size=60),
    chunk_rows=st.integers(min_value=1, max_value=9),
)
def test_skip_rule_matches_reference_across_any_block_size(
    tmp_path_factory: pytest.TempPathFactory, steps: list[int | None], chunk_rows: int
) -> None:
    t: list[float | None] = []
    clock = 0
    for step in steps:
        if step is None:
            t.append(None)
        else:
            clock += step
            t.append(clock / 100)
    kept, missing, time_bad = _reference_filter(t)
    if not kept:
        return
    lines = ["# sample_rate_hz: 100", "t,acc_x,acc_y,acc_z"]
    lines += [("" if v is None else f"{v:.2f}") + ",0,0,1" for v in t]
    path = tmp_path_factory.mktemp("prop") / "rec.csv"
    _write(path, "\n".join(lines) + "\n")
    rec = read_recording(path, chunk_rows=chunk_rows)
    assert rec.frame["t"].tolist() == pytest.approx(kept)
    assert (rec.stats.skipped_missing, rec.stats.skipped_time) == (missing, time_bad)


# ---------------------------------------------------------------- rates, formats, round trip


@pytest.mark.parametrize("rate_hz", [25.0, 1000.0])
def test_extreme_rates_with_jitter(tmp_path: Path, rate_hz: float) -> None:
    n = 2000
    rng = np.random.default_rng(3)
    frame = _frame(n, rate_hz, gyro=False)
    frame["t"] += rng.uniform(-0.1, 0.1, n) / rate_hz  # jitter, still increasing
    path = write_recording(tmp_path / "rec.csv", frame, {"placement": "leg"})
    rec = read_recording(path)
    assert rec.sample_rate_hz == pytest.approx(rate_hz, rel=0.02)
    assert len(rec.frame) == n and rec.stats.skipped == 0
    assert rec.placement == "leg"


@pytest.mark.parametrize("name", ["rec.csv", "sub/dir/rec.csv.gz"])
def test_round_trip(tmp_path: Path, name: str) -> None:
    frame = _frame(3000, 100.0, gyro=True)
    frame.loc[10, "acc_x"] = np.nan  # written as an empty cell, skipped on read
    start = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    meta = {"sample_rate_hz": 100, "placement": "wrist", "device": "sim", "start_time": start}
    path = write_recording(tmp_path / name, frame, meta)
    assert path == tmp_path / name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    rec = read_recording(path)
    expected = frame.drop(index=10).reset_index(drop=True)
    assert rec.stats == ReadStats(rows=2999, skipped_missing=1, skipped_time=0)
    assert rec.has_gyro and rec.device == "sim" and rec.start_time == start
    assert rec.meta["sample_rate_hz"] == "100"
    assert list(rec.frame.columns) == list(expected.columns)
    tol = {"t": 5e-7, "acc_x": 5e-7, "acc_y": 5e-7, "acc_z": 5e-7}
    tol |= {"gyro_x": 5e-5, "gyro_y": 5e-5, "gyro_z": 5e-5}
    for col, atol in tol.items():
        np.testing.assert_allclose(rec.frame[col], expected[col], rtol=0, atol=atol * 1.0001)
    assert not list(path.parent.glob(".*.tmp"))


def test_writer_rejects_bad_input(tmp_path: Path) -> None:
    frame = _frame(10, 100.0, gyro=False)
    with pytest.raises(ValueError, match="acc_z"):
        write_recording(tmp_path / "a.csv", frame.drop(columns="acc_z"), {})
    with pytest.raises(ValueError, match="gyro"):
        write_recording(tmp_path / "b.csv", frame.assign(gyro_x=0.0), {})
    with pytest.raises(ValueError, match="cannot be written"):
        write_recording(tmp_path / "c.csv", frame, {"note": "two\nlines"})
    assert not list(tmp_path.iterdir())


def test_gzip_and_plain_read_identically_and_progress_reaches_one(tmp_path: Path) -> None:
    frame = _frame(30_000, 100.0)
    plain = write_recording(tmp_path / "rec.csv", frame, {"sample_rate_hz": 100})
    packed = tmp_path / "rec.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    results = []
    for path in (plain, packed):
        progress = []
        with RecordingReader(path, chunk_rows=2_000) as reader:
            assert 0.0 <= reader.progress < 1.0
            blocks = []
            for block in reader.blocks():
                blocks.append(block)
                progress.append(reader.progress)
        assert progress == sorted(progress) and progress[-1] <= 1.0
        assert progress[0] < 0.5
        assert reader.progress == 1.0
        assert max(len(b) for b in blocks) <= 2_000
        results.append(np.concatenate([b.gyro for b in blocks]))
    np.testing.assert_array_equal(results[0], results[1])


def test_streaming_memory_is_bounded(tmp_path: Path) -> None:
    n = 200_000
    path = write_recording(tmp_path / "big.csv", _frame(n, 100.0), {"sample_rate_hz": 100})
    whole_bytes = n * 7 * 8
    tracemalloc.start()
    try:
        rows = 0
        with RecordingReader(path, chunk_rows=5_000) as reader:
            for block in reader.blocks():
                rows += len(block)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == n
    # Reading it whole traces about 3x whole_bytes; streaming stays near the read buffer.
    assert peak < whole_bytes / 2, f"peak {peak} bytes while streaming"


def test_blocks_can_be_iterated_once(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "rec.csv", _frame(100, 100.0), {})
    with RecordingReader(path) as reader:
        assert sum(len(b) for b in reader) == 100
        with pytest.raises(RuntimeError, match="only once"):
            reader.blocks()


# ---------------------------------------------------------------- real recordings

REAL_EXPECTED = {  # file -> (gyro present, placement) per the real-data README
    "pd_wrist_verily_12min.csv": (True, "wrist"),
    "nonpd_wrist_2min.csv": (False, "wrist"),
}


def _real_files() -> list[Path]:
    if not REAL_DATA.is_dir():
        return []
    return sorted(p for p in REAL_DATA.glob("*.csv") if not p.name.endswith("_windows.csv"))


@pytest.mark.skipif(
    not REAL_DATA.is_dir(), reason=f"real recordings folder {REAL_DATA} is absent (fresh clone)"
)
def test_all_real_recordings_read(tmp_path: Path) -> None:
    files = _real_files()
    assert len(files) >= 3
    for path in files:
        with path.open(encoding="utf-8") as handle:
            text_lines = handle.read().splitlines()
        n_data = sum(1 for ln in text_lines if ln.strip() and not ln.startswith("#")) - 1
        rec = read_recording(path)
        gyro, placement = REAL_EXPECTED.get(path.name, (False, "leg" if "_leg" in path.name else "hand"))
        assert rec.sample_rate_hz == 100.0, path.name
        assert rec.has_gyro is gyro, path.name
        assert rec.placement == placement, path.name
        assert rec.stats.skipped == 0 and len(rec.frame) == n_data, path.name
        assert np.all(np.diff(rec.frame["t"].to_numpy()) > 0)
        if path.name == "pd_wrist_verily_12min.csv":
            assert rec.start_time == datetime(2021, 6, 27, 16, 52, 20, tzinfo=timezone.utc)
        elif path.name == "nonpd_wrist_2min.csv":
            assert rec.start_time == datetime(2019, 3, 21, 14, 58, 0, 500000)
        else:
            assert rec.start_time is None
        # The rate estimated from the timestamps agrees with the metadata.
        body = "\n".join(ln for ln in text_lines if not ln.startswith("# sample_rate_hz"))
        stripped = _write(tmp_path / path.name, body + "\n")
        with RecordingReader(stripped) as reader:
            assert reader.rate_estimated
            assert reader.sample_rate_hz == pytest.approx(100.0, rel=0.01), path.name
