"""tremorscope batch (tremorscope.cohort) on a real Dask LocalCluster of 2 workers.

The property that makes splitting a recording into blocks correct is the streaming core's chunk
invariance: here the batch (blocks of an odd size, on Dask workers) must give exactly the
episodes and minutes of the single-process detector fed each recording at once.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip(
    "distributed", reason="dask.distributed is not installed (pip install 'tremorscope[cohort]')"
)
pytest.importorskip("pyarrow", reason="pyarrow is not installed (pip install 'tremorscope[cohort]')")

from cohort_helpers import two_worker_client  # noqa: E402

import dsp  # noqa: E402
from firmware_bridge import simulator  # noqa: E402
from firmware_bridge.io.recording import read_recording  # noqa: E402
from tremorscope.cohort import run_batch  # noqa: E402
from tremorscope.cohort.outputs import COHORT_COLUMNS  # noqa: E402

DEVICES = Path(__file__).resolve().parents[1].parent / "shared" / "real-data" / "devices"
#: Short recordings keep the test light on a small machine; long enough for several episodes.
SIM_S = 240.0
#: A block size that divides nothing (prime): boundaries fall mid-bin, mid-window, mid-episode.
ODD_BLOCK_SAMPLES = 997


@pytest.fixture(scope="module")
def client():
    # a real scheduler and 2 workers; threads in this process keep it light on a 2-core machine
    yield from two_worker_client(processes=False)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("cohort")
    files = []
    for name, scenario, gyro in (
        ("p01", "rest_tremor", True),
        ("p02", "gaps", False),
        ("p03", "wrist_spasms", True),
    ):
        rec, _ = simulator.simulate_to_file(d / f"{name}.csv", scenario, duration_s=SIM_S, seed=3, gyro=gyro)
        files.append(rec)
    return files


def single_process(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reference: the whole recording fed once to one detector in this process."""
    rec = read_recording(path)
    det = dsp.StreamingDetector(rec.sample_rate_hz, placement=rec.placement, start_time=rec.start_time)
    cols = [rec.frame[c].to_numpy() for c in ("acc_x", "acc_y", "acc_z")]
    gyro = (
        [rec.frame[c].to_numpy() for c in ("gyro_x", "gyro_y", "gyro_z")] if "gyro_x" in rec.frame else None
    )
    events = det.push(rec.frame["t"].to_numpy(), cols, gyro) + det.flush()
    minutes = pd.DataFrame(
        [e.minute.as_row() for e in events if e.type == dsp.MINUTE], columns=dsp.MINUTE_COLUMNS
    )
    return det.episodes(), minutes


def test_batch_on_two_workers_equals_single_process_episode_for_episode(client, cohort, tmp_path):
    summary = run_batch(cohort, tmp_path / "out", client=client, block_samples=ODD_BLOCK_SAMPLES)
    assert summary.analysed == 3 and summary.failed == 0
    workers_used = set()
    total = 0
    for path, result in zip(cohort, summary.results):
        assert result.quality["status"] == "ok", result.quality
        ref_eps, ref_min = single_process(path)
        total += len(ref_eps)
        pd.testing.assert_frame_equal(result.episodes.reset_index(drop=True), ref_eps, check_exact=True)
        pd.testing.assert_frame_equal(result.minutes.reset_index(drop=True), ref_min, check_exact=True)
        # and the files on disk hold the same episodes
        on_disk = pd.read_csv(tmp_path / "out" / "recordings" / result.key / "episodes.csv")
        assert len(on_disk) == len(ref_eps)
        workers_used.add(result.quality["worker"])
    assert len(workers_used) == 2  # both workers ran recordings
    assert total >= 5  # the comparison compares something: tremor and spasm episodes were found
    assert summary.results[1].quality["detection_path"] == "accelerometer only"
    assert summary.results[1].quality["gaps"] > 0  # the gaps scenario's holes are reported


def test_rerun_skips_finished_recordings_by_content_hash(client, cohort, tmp_path):
    out = tmp_path / "out"
    files = [shutil.copy(p, tmp_path / p.name) for p in cohort]
    first = run_batch(files, out, client=client)
    before = (out / "cohort.csv").read_text()
    again = run_batch(files, out, client=client)
    assert (again.analysed, again.skipped) == (0, 3)
    assert (out / "cohort.csv").read_text() == before  # the tables are rebuilt identically
    # a changed recording (same name, new content) is analysed again; the others are not
    frame = pd.read_csv(files[0], comment="#")
    text = (
        Path(files[0])
        .read_text()
        .replace(f"{frame.acc_x.iloc[5]:.6f}", f"{frame.acc_x.iloc[5] + 0.01:.6f}", 1)
    )
    Path(files[0]).write_text(text)
    third = run_batch(files, out, client=client)
    assert (third.analysed, third.skipped) == (1, 2)
    assert third.results[0].key != first.results[0].key
    # a lost result folder (a crash mid-write leaves no quality.json) is simply done again
    shutil.rmtree(out / "recordings" / third.results[1].key)
    fourth = run_batch(files, out, client=client)
    assert (fourth.analysed, fourth.skipped) == (1, 2)


def test_bad_files_get_one_line_errors_and_the_cohort_goes_on(client, cohort, tmp_path):
    bad_csv = tmp_path / "broken.csv"
    rows = "".join(f"{i / 100:.2f},0,0,1\n" for i in range(3000))  # 30 s of good rows, then a bad one
    bad_csv.write_text("# sample_rate_hz: 100\nt,acc_x,acc_y,acc_z\n" + rows + "30.00,zero,0,1\n")
    inputs = [cohort[0], bad_csv, tmp_path / "missing.csv", cohort[1]]
    summary = run_batch(inputs, tmp_path / "out", client=client, block_samples=500)
    q = pd.read_parquet(tmp_path / "out" / "quality.parquet")
    assert list(q["recording"]) == ["p01.csv", "broken.csv", "missing.csv", "p02.csv"]
    assert list(q["status"]) == ["ok", "partial", "error", "ok"]
    for text in q["error"].dropna():
        assert "\n" not in text and len(text) < 300
    assert "line 3003" in q["error"][1]  # the bad row is named; the 30 s before it are kept
    assert q["samples"][1] == 3000
    assert "missing.csv" in q["error"][2]
    cohort_table = pd.read_parquet(tmp_path / "out" / "cohort.parquet")
    assert {"p01", "p02"} <= set(cohort_table["person"])
    assert summary.failed == 1


@pytest.mark.skipif(
    not DEVICES.is_dir(), reason=f"real device files not available here ({DEVICES} is absent)"
)
def test_device_files_and_a_corrupt_block_in_the_batch(client, tmp_path):
    pytest.importorskip("actfast", reason="actfast is not installed")
    pytest.importorskip("pygt3x", reason="pygt3x is not installed")
    cwa = bytearray((DEVICES / "ax3_testfile.cwa").read_bytes())
    cwa[512 * 40 : 512 * 40 + 2] = b"ZZ"  # one data sector's magic broken
    (tmp_path / "ax3_damaged.cwa").write_bytes(bytes(cwa))
    gt3x = bytearray((DEVICES / "actigraph_ISM_Disabled.gt3x").read_bytes())
    gt3x[20_000:20_256] = bytes(range(256))  # inside log.bin: the zip's CRC fails
    (tmp_path / "damaged.gt3x").write_bytes(bytes(gt3x))
    inputs = [tmp_path / "ax3_damaged.cwa", tmp_path / "damaged.gt3x", DEVICES]
    run_batch(inputs, tmp_path / "out", client=client)
    q = pd.read_csv(tmp_path / "out" / "quality.csv").set_index("recording")
    assert q.loc["ax3_damaged.cwa", "status"] == "ok" and q.loc["ax3_damaged.cwa", "read_warnings"] == 1
    assert "magic" in q.loc["ax3_damaged.cwa", "read_warning"]
    assert q.loc["damaged.gt3x", "status"] == "error" and "CRC" in q.loc["damaged.gt3x", "error"]
    for name in (
        "ax3_testfile.cwa",
        "ax6_testfile.cwa",
        "GENEActiv_testfile.bin",
        "actigraph_small_13h.gt3x",
    ):
        assert q.loc[name, "status"] == "ok"
    assert q.loc["ax6_testfile.cwa", "detection_path"] == "accelerometer+gyroscope"
    assert q.loc["GENEActiv_testfile.bin", "detection_path"] == "accelerometer only"
    assert q.loc["actigraph_small_13h.gt3x", "idle_samples"] > 0
    assert q.loc["GENEActiv_testfile.bin", "detected_rate_hz"] == pytest.approx(85.7, abs=0.2)


def test_cohort_table_per_person_and_day(client, cohort, tmp_path):
    run_batch(cohort, tmp_path / "out", client=client)
    table = pd.read_parquet(tmp_path / "out" / "cohort.parquet")
    csv = pd.read_csv(tmp_path / "out" / "cohort.csv")
    assert list(table.columns) == list(COHORT_COLUMNS) == list(csv.columns)
    pd.testing.assert_frame_equal(table.reset_index(drop=True), csv, check_dtype=False)
    episodes = pd.read_parquet(tmp_path / "out" / "episodes.parquet")
    p01 = table[table.person == "p01"].iloc[0]
    tremor = episodes[(episodes.person == "p01") & (episodes.kind == "tremor")]
    assert p01.tremor_episodes == len(tremor) > 0
    assert 3.0 <= p01.dominant_hz <= 7.0  # rest tremor is simulated at 4-6 Hz
    assert 0 < p01.tremor_min <= p01.observed_min <= SIM_S / 60 + 1
    assert np.isclose(p01.tremor_min, tremor.duration_s.sum() / 60, rtol=0.5)  # minutes ~ episode time
    p03 = table[table.person == "p03"].iloc[0]
    spasms = episodes[(episodes.person == "p03") & (episodes.kind == "contraction")]
    assert p03.contraction_count == len(spasms)
    assert p03.contraction_s == pytest.approx(spasms.duration_s.sum())


def test_cli_batch_on_a_scheduler_address(client, cohort, tmp_path):
    from click.testing import CliRunner

    from tremorscope.cli import main

    address = client.scheduler.address  # the running cluster, as dask-jobqueue would hand it over
    out = tmp_path / "out"
    args = [
        "batch",
        str(cohort[0].parent),
        "--out",
        str(out),
        "--scheduler",
        address,
        "--block-samples",
        "5000",
    ]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "3 recordings: 3 analysed, 0 already done, 0 failed" in r.stdout
    assert f"running on {address}" in r.stderr
    for name in ("cohort", "quality", "episodes"):
        assert (out / f"{name}.parquet").is_file() and (out / f"{name}.csv").is_file()
    again = CliRunner().invoke(main, args)
    assert "0 analysed, 3 already done" in again.stdout


def test_cli_batch_unreachable_scheduler_is_one_line_error(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from tremorscope.cli import main
    from tremorscope.cohort import runner

    monkeypatch.setattr(runner, "SCHEDULER_TIMEOUT_S", 1)
    (tmp_path / "a.csv").write_text("t,acc_x,acc_y,acc_z\n")
    r = CliRunner().invoke(
        main,
        ["batch", str(tmp_path / "a.csv"), "--out", str(tmp_path / "o"), "--scheduler", "tcp://127.0.0.1:9"],
    )
    assert r.exit_code != 0
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in r.stderr
    assert r.stderr.strip().count("\n") == 0


def test_output_folder_inside_the_input_folder_is_not_analysed(client, cohort, tmp_path):
    study = tmp_path / "study"
    study.mkdir()
    for p in cohort[:2]:
        shutil.copy(p, study / p.name)
    out = study / "results"  # its tables and per-recording files are CSV too
    run_batch([study], out, client=client)
    again = run_batch([study], out, client=client)
    assert [r.quality["recording"] for r in again.results] == ["p01.csv", "p02.csv"]
    assert (again.analysed, again.skipped, again.failed) == (0, 2, 0)
