"""A long recording split into tasks across the workers of a real 2-process LocalCluster.

Each task pushes a few blocks and hands the detector's whole state (pickled, to another
process) to the next task; the episodes and minutes must be exactly those of one detector fed
the recording at once in this process. Block boundaries fall mid-bin, mid-window and mid-episode
(a prime block size), and the tasks are forced to alternate between the two workers.
"""

from __future__ import annotations

import gzip
import pickle
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
from firmware_bridge.io import open_recording  # noqa: E402
from firmware_bridge.io.recording import read_recording  # noqa: E402
from tremorscope.cohort import RecordingResult, analyse_recording, run_batch  # noqa: E402
from tremorscope.cohort.runner import batch_task, continue_task  # noqa: E402

SIM_S = 240.0
#: A block size that divides nothing (prime): boundaries fall mid-bin, mid-window, mid-episode.
ODD_BLOCK_SAMPLES = 997
#: Blocks per task: a 240 s recording in blocks of 997 samples becomes 8 or 9 tasks.
TASK_BLOCKS = 3


@pytest.fixture(scope="module")
def process_client():
    # two worker processes: the state really is pickled and moved between processes
    yield from two_worker_client(processes=True)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("split")
    files = []
    for name, scenario, gyro in (("s01", "rest_tremor", True), ("s02", "wrist_spasms", False)):
        rec, _ = simulator.simulate_to_file(d / f"{name}.csv", scenario, duration_s=SIM_S, seed=5, gyro=gyro)
        files.append(rec)
    return files


def single_process(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reference: the whole recording fed once to one detector in this process."""
    rec = read_recording(path)
    det = dsp.StreamingDetector(rec.sample_rate_hz, placement=rec.placement, start_time=rec.start_time)
    acc = [rec.frame[c].to_numpy() for c in ("acc_x", "acc_y", "acc_z")]
    gyro = (
        [rec.frame[c].to_numpy() for c in ("gyro_x", "gyro_y", "gyro_z")] if "gyro_x" in rec.frame else None
    )
    events = det.push(rec.frame["t"].to_numpy(), acc, gyro) + det.flush()
    minutes = [e.minute.as_row() for e in events if e.type == dsp.MINUTE]
    return det.episodes(), pd.DataFrame(minutes, columns=dsp.MINUTE_COLUMNS)


def _assert_same(result: RecordingResult, path: Path) -> int:
    ref_eps, ref_min = single_process(path)
    assert result.quality["status"] == "ok", result.quality
    pd.testing.assert_frame_equal(result.episodes.reset_index(drop=True), ref_eps, check_exact=True)
    pd.testing.assert_frame_equal(result.minutes.reset_index(drop=True), ref_min, check_exact=True)
    return len(ref_eps)


def test_tasks_alternating_between_two_worker_processes_give_the_single_process_episodes(
    process_client, recordings, tmp_path
):
    workers = sorted(process_client.scheduler_info()["workers"])
    total = 0
    for path in recordings:
        task = process_client.submit(
            batch_task, str(path), str(tmp_path), None, ODD_BLOCK_SAMPLES, TASK_BLOCKS,
            workers=[workers[0]], allow_other_workers=False, pure=False,
        )  # fmt: skip
        hops = 0
        while not isinstance(value := task.result(), RecordingResult):
            hops += 1
            task = process_client.submit(
                continue_task, task, TASK_BLOCKS,
                workers=[workers[hops % 2]], allow_other_workers=False, pure=False,
            )  # fmt: skip
        assert hops >= 7  # the recording really was split (24,000 samples / (3 x 997))
        assert value.quality["tasks"] == hops + 1
        assert len(value.quality["worker"].split(",")) == 2  # both processes ran part of it
        total += _assert_same(value, path)
    assert total >= 3  # the comparison compares something: episodes were found


def test_run_batch_splits_long_recordings_into_exact_tasks(process_client, recordings, tmp_path):
    gz = tmp_path / "s01.csv.gz"
    with open(recordings[0], "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    inputs = [*recordings, gz]
    summary = run_batch(
        inputs, tmp_path / "out", client=process_client, block_samples=ODD_BLOCK_SAMPLES,
        task_blocks=TASK_BLOCKS,
    )  # fmt: skip
    assert summary.analysed == 3 and summary.failed == 0
    for path, result in zip(inputs, summary.results):
        _assert_same(result, recordings[0] if path == gz else path)
    assert [r.quality["tasks"] for r in summary.results][:2] == [9, 9]  # ceil(24,000 / 997 / 3) + end
    assert summary.results[2].quality["tasks"] == 1  # a gzip stream cannot be handed on: one task


def test_what_a_task_hands_on_does_not_grow_with_the_recording(recordings, tmp_path):
    """Each task's finished episodes and minute rows go to an owner-only part file under the
    output folder, not along with the state; the parts come back, in order, at the end."""
    from tremorscope.cohort.runner import PARTIAL_DIR

    path = recordings[1]  # wrist spasms: episodes finish in most tasks
    run = batch_task(str(path), str(tmp_path), None, ODD_BLOCK_SAMPLES, TASK_BLOCKS)
    part_dir = tmp_path / PARTIAL_DIR / run.key
    sizes = []
    while not isinstance(run, RecordingResult):
        assert run.minutes == [] and run.det.episodes().empty  # nothing kept but the state
        sizes.append(len(pickle.dumps((run.det, run.minutes))))  # (the reader's buffer aside)
        assert part_dir.stat().st_mode & 0o777 == 0o700
        assert all(f.stat().st_mode & 0o777 == 0o600 for f in part_dir.iterdir())
        run = continue_task(run, TASK_BLOCKS)
    assert len(sizes) >= 7
    # no growth task by task: only an open episode's running totals come and go
    assert sizes[-1] < 1.25 * sizes[0] and max(sizes) < 4 * min(sizes)
    assert not part_dir.exists()  # read back and removed once the recording is done
    assert _assert_same(run, path) >= 1


def test_reader_pickled_mid_stream_goes_on_with_the_same_blocks(recordings):
    with open_recording(recordings[0], chunk_rows=ODD_BLOCK_SAMPLES) as ref:
        expected = list(ref.blocks())
    reader = open_recording(recordings[0], chunk_rows=ODD_BLOCK_SAMPLES)
    assert reader.resumable
    it = reader.resume_blocks()
    head = [next(it) for _ in range(5)]
    copy = pickle.loads(pickle.dumps(reader))
    rest = list(copy.resume_blocks())
    got = head + rest
    assert len(got) == len(expected) > 10
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a.t, b.t)
        np.testing.assert_array_equal(a.acc, b.acc)
        np.testing.assert_array_equal(a.gyro, b.gyro)
    assert copy.stats.rows == sum(len(b.t) for b in expected)
    reader.close()


def test_gzip_reader_says_it_cannot_be_handed_on(recordings, tmp_path):
    gz = tmp_path / "r.csv.gz"
    with open(recordings[1], "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    with open_recording(gz) as reader:
        assert not reader.resumable
        with pytest.raises(TypeError, match="gzip"):
            pickle.dumps(reader)


def test_a_bad_row_in_a_later_task_keeps_what_came_before_as_one_pass_does(process_client, tmp_path):
    bad = tmp_path / "late_bad.csv"
    rows = "".join(f"{i / 100:.2f},0,0,1\n" for i in range(6000))  # 60 s of good rows, then a bad one
    bad.write_text("# sample_rate_hz: 100\nt,acc_x,acc_y,acc_z\n" + rows + "60.00,zero,0,1\n")
    one_pass = analyse_recording(bad, block_samples=500)
    summary = run_batch([bad], tmp_path / "out", client=process_client, block_samples=500, task_blocks=2)
    (q,) = [r.quality for r in summary.results]
    assert q["tasks"] >= 6  # the bad row was reached several tasks in
    assert (q["status"], q["samples"]) == ("partial", 6000)
    assert (one_pass.quality["status"], one_pass.quality["samples"]) == ("partial", 6000)
    assert "line 6003" in q["error"] and q["error"] == one_pass.quality["error"]
    pd.testing.assert_frame_equal(summary.results[0].minutes, one_pass.minutes, check_exact=True)
