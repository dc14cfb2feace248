"""The speed/memory benchmark harness (benchmarks/), on minutes of data, never the 24 h run."""

from __future__ import annotations

import json
import mmap
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
REAL_DATA = REPO.parent / "shared" / "real-data"
sys.path.insert(0, str(BENCH))

import daily_data  # noqa: E402
import memory_probe  # noqa: E402
import paradigma_adapter  # noqa: E402

TWO_MINUTES_H = 2.0 / 60.0


def _bench(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BENCH / "bench_detect.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_harness_measures_our_engines_on_two_minutes(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = _bench(
        "--hours", f"{TWO_MINUTES_H}", "--engines", "batch,stream", "--data", "builtin",
        "--cache-dir", str(tmp_path / "cache"), "--json", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "dsp.detect (batch)" in proc.stdout and "StreamingDetector" in proc.stdout
    report = json.loads(out.read_text())
    run = report["runs"][0]
    assert run["data"]["n_samples"] == 12_000
    assert run["data"]["sample_rate_hz"] == 100.0
    assert 119.0 < run["data"]["duration_s"] < 120.1
    input_mb = 12_000 * 7 * 8 / memory_probe.MIB  # t + 3 acc + 3 gyro, float64
    for engine in ("batch", "stream"):
        res = run["engines"][engine]
        assert "error" not in res, res
        assert res["seconds_median"] > 0 and len(res["seconds_runs"]) == 1
        assert res["x_realtime"] == pytest.approx(run["data"]["duration_s"] / res["seconds_median"])
        assert res["input_mb"] == pytest.approx(input_mb, rel=0.01)
        assert res["rss_extra_mb"] >= 0 and res["rss_exact"] is True
        assert res["traced_peak_mb"] > 0  # the detector allocates while it works
        assert isinstance(res["output"]["episodes"], int)
    stream_events = run["engines"]["stream"]["output"]["events"]
    assert stream_events.get("minute", 0) >= 1  # two minutes of data give minute summaries
    assert "paradigma" not in run["engines"]
    assert run["targets"]["stream_under_64mb_above_input"] is True
    assert report["machine"]["cores"] >= 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hours", "abc"], "--hours must be a comma-separated list"),
        (["--hours", "-1"], "--hours values must be positive"),
        (["--engines", "batch,turbo"], "unknown engine(s) ['turbo']"),
    ],
)
def test_bad_options_give_one_line_error(tmp_path: Path, args: list[str], message: str) -> None:
    proc = _bench(*args, "--cache-dir", str(tmp_path))
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_generator_is_deterministic_and_realistic() -> None:
    t, acc, gyro, truth = daily_data.generate(2 * 3600.0, seed=7)
    t2, acc2, gyro2, truth2 = daily_data.generate(2 * 3600.0, seed=7)
    assert np.array_equal(t, t2) and np.array_equal(acc, acc2) and truth == truth2
    _, acc3, _, _ = daily_data.generate(2 * 3600.0, seed=8)
    assert not np.array_equal(acc, acc3)

    assert t.shape == (720_000,) and acc.shape == gyro.shape == (720_000, 3)
    assert acc.dtype == gyro.dtype == np.int16  # stored as sensor counts (quantised)
    dt = np.diff(t)
    assert np.all(dt > 0)
    jitter_sd_s = np.std(dt) / np.sqrt(2.0)  # each period is the difference of two jitters
    assert 0.0008 < jitter_sd_s < 0.0012

    acc_g = acc * daily_data.ACC_LSB_G
    gyro_dps = gyro * daily_data.GYRO_LSB_DPS
    norm_g = np.linalg.norm(acc_g, axis=1)
    assert 0.95 < np.median(norm_g) < 1.05  # gravity included
    kinds = {b.trial_type for b in truth}
    assert {"rest", "walk"} <= kinds and kinds & set(daily_data.TREMOR_KINDS)

    from scipy import signal

    sos = signal.butter(4, [3.0, 12.0], "bandpass", fs=100.0, output="sos")
    for ep in (b for b in truth if b.trial_type in daily_data.TREMOR_KINDS):
        i0, i1 = int(ep.onset_s * 100) + 200, int((ep.onset_s + ep.duration_s) * 100) - 200
        seg = signal.sosfiltfilt(sos, acc_g[i0:i1], axis=0)
        rms_g = np.sqrt(np.mean(np.sum(seg**2, axis=1)))
        assert 0.5 * ep.amplitude_g < rms_g < 1.5 * ep.amplitude_g + 0.003, ep
        f, p = signal.welch(signal.sosfiltfilt(sos, gyro_dps[i0:i1], axis=0).sum(axis=1), 100.0,
                            nperseg=400)  # fmt: skip
        if ep.trial_type != "dystonic_tremor":  # dystonic frequency wanders on purpose
            assert abs(f[np.argmax(p)] - ep.frequency_hz) < 0.75, ep


def test_cache_is_written_once_and_loads_in_physical_units(tmp_path: Path) -> None:
    path = daily_data.prepare(0.05, seed=3, source="builtin", cache_dir=tmp_path)
    stamp = path.stat().st_mtime_ns
    assert daily_data.prepare(0.05, seed=3, source="builtin", cache_dir=tmp_path) == path
    assert path.stat().st_mtime_ns == stamp  # reused, not regenerated
    data = daily_data.load(path)
    assert data.t.dtype == data.acc.dtype == data.gyro.dtype == np.float64
    assert data.n_samples == 18_000 and data.sample_rate_hz == 100.0 and data.seed == 3
    assert data.nbytes == 18_000 * 7 * 8
    chunks = list(daily_data.iter_chunks(data, 1.0))
    assert len(chunks) == 180 and all(len(c[0]) == 100 for c in chunks)
    assert np.shares_memory(chunks[0][1], data.acc)  # views: feeding them copies nothing


def test_memory_probe_sees_an_allocation() -> None:
    size = 40 * memory_probe.MIB
    with memory_probe.RssWindow() as rss:
        # fresh pages from the kernel, touched: malloc could instead reuse memory that earlier
        # tests freed but that is still resident (then RSS rightly does not grow)
        block = mmap.mmap(-1, size)
        block.write(b"\x01" * size)
    with memory_probe.TracedWindow() as traced:
        block2 = np.ones(size // 8)
    assert block[size - 1] == 1 and float(block2.sum()) > 0
    block.close()
    if rss.exact:
        assert rss.extra_bytes >= 35 * memory_probe.MIB
    assert traced.peak_bytes >= 40 * memory_probe.MIB


def test_gap_detection_for_paradigma() -> None:
    t = np.arange(1000) / 100.0
    assert not paradigma_adapter.has_long_gaps(t, 100.0)
    t[500:] += 0.5
    assert paradigma_adapter.has_long_gaps(t, 100.0)


requires_paradigma = pytest.mark.skipif(
    paradigma_adapter.installed_version() is None,
    reason="ParaDigMa is not installed here (it needs pandas < 3; bench_detect.py runs it in its own venv)",
)
requires_verily = pytest.mark.skipif(
    not (REAL_DATA / "pd_wrist_verily_12min.csv").is_file(),
    reason=f"real recordings folder {REAL_DATA} is absent (fresh clone)",
)


@requires_paradigma
@requires_verily
def test_adapter_reproduces_published_paradigma_windows() -> None:
    """Our call sequence gives exactly the published classifier output on the real recording."""
    raw = pd.read_csv(REAL_DATA / "pd_wrist_verily_12min.csv", comment="#")
    acc = raw[["acc_x", "acc_y", "acc_z"]].to_numpy()
    gyro = raw[["gyro_x", "gyro_y", "gyro_z"]].to_numpy()
    frame = paradigma_adapter.to_paradigma_frame(raw["t"].to_numpy(), acc, gyro)
    windows = paradigma_adapter.run_tremor_windows(frame)
    ref = pd.read_csv(REAL_DATA / "pd_wrist_verily_12min.paradigma_tremor_windows.csv")
    assert len(windows) == len(ref)
    np.testing.assert_allclose(windows["time"].to_numpy(), ref["window_start_s"].to_numpy())
    assert np.array_equal(windows["pred_tremor_checked"].to_numpy(), ref["tremor"].to_numpy())
    assert np.array_equal(windows["pred_arm_at_rest"].to_numpy(), ref["arm_at_rest"].to_numpy())

    result = paradigma_adapter.run_tremor(frame)
    assert (result.n_tremor_windows, result.n_rest_windows) == (15, 89)
    assert result.aggregation["perc_windows_tremor"] == pytest.approx(100 * 15 / 89)
    assert {"preprocessing", "features", "classification"} <= set(result.stage_s)
