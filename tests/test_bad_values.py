"""Nothing non-finite or far beyond any sensor's range enters the core or the log (issue 14, item 4).

The fault: ``serial-text`` with ``gyro_unit=rad/s`` turned 1e307 into ``inf`` (87 such samples
entered the stream), and ``acc = 1e308`` in a recording overflowed when the store cast it to
float32. Each source now drops such samples and counts them as bad samples (readers:
``skipped_missing``; the live source: ``bad_samples``), the session runner is the last gate, and
the core itself drops values beyond ``dsp.grid.MAX_ABS_VALUE``. Warnings are errors here, so an
overflow anywhere fails the test.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from capture_helpers import serial_text_line, write_capture

import dsp
from firmware_bridge.io import open_recording
from firmware_bridge.io.capture_decode import decode_capture
from firmware_bridge.samples import MAX_ABS_ACC_G, MAX_ABS_GYRO_DPS, SampleBlock, plausible_rows
from firmware_bridge.transports.base import SERIAL_SRC
from tremorscope.session import SessionInfo, SessionRunner, replay_session
from tremorscope.store import Store

FS_HZ = 100.0
N_BAD = 87


def _within_limits(acc, gyro=None):
    assert np.isfinite(acc).all() and (np.abs(acc) <= MAX_ABS_ACC_G).all()
    if gyro is not None:
        assert np.isfinite(gyro).all() and (np.abs(gyro) <= MAX_ABS_GYRO_DPS).all()


def test_plausible_rows_limits():
    t = np.array([0.0, 1.0, 2.0, 3.0, np.nan, 5.0, 1e300])
    acc = np.zeros((7, 3))
    gyro = np.zeros((7, 3))
    acc[1, 0] = MAX_ABS_ACC_G  # the limit itself is plausible
    acc[2, 1] = -1.01 * MAX_ABS_ACC_G
    gyro[3, 2] = np.inf
    gyro[5, 0] = 1.01 * MAX_ABS_GYRO_DPS
    assert plausible_rows(t, acc, gyro).tolist() == [True, True, False, False, False, False, False]
    assert plausible_rows(t[:2], acc[:2]).tolist() == [True, True]


def test_serial_text_rad_per_s_overflow_never_enters_the_stream(tmp_path):
    """1e307 rad/s is inf deg/s: those samples are dropped and counted, the rest kept in time."""
    rng = np.random.default_rng(0)
    bad = set(rng.choice(2000, N_BAD, replace=False).tolist())
    payloads = []
    for k in range(200):
        lines = b""
        for i in range(10):
            n = k * 10 + i
            gyro = [1e307, 0.0, 0.0] if n in bad else [0.01, -0.02, 0.0]
            lines += serial_text_line(n * 10.0, [0.0, 0.0, 1.0], gyro)
        payloads.append(((k + 1) * 0.1 + 0.002, SERIAL_SRC, lines))
    cap = write_capture(tmp_path / "s.jsonl", "serial-text", payloads, {"gyro_unit": "rad/s"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = decode_capture(cap)
    assert d.stats.bad_samples == N_BAD
    assert len(d.t) == 2000 - N_BAD
    _within_limits(d.acc, d.gyro)
    np.testing.assert_allclose(d.gyro[:, 0], 0.01 * 180.0 / np.pi)
    assert np.all(np.diff(d.t) > 0)
    # the good samples keep their own times (the bad ones are holes, not shifts)
    good = np.array(sorted(set(range(2000)) - bad))
    np.testing.assert_allclose(d.t - d.t[0], (good - good[0]) * 0.01, atol=1e-6)


def _csv(path: Path, n: int = 6000, bad_rows=(), value: float = 1e308) -> Path:
    rng = np.random.default_rng(1)
    t = np.arange(n) / FS_HZ
    acc = rng.normal(0, 0.01, (n, 3))
    acc[:, 2] += 1.0
    gyro = rng.normal(0, 1.0, (n, 3))
    lines = ["# sample_rate_hz: 100", "t,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z"]
    for i in range(n):
        a = list(acc[i])
        if i in bad_rows:
            a[0] = value
        lines.append(",".join(f"{v:.17g}" for v in [t[i], *a, *gyro[i]]))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("value", [1e308, -1e39, 1e4, float("inf")])
def test_a_recording_with_absurd_values_is_logged_without_them(tmp_path, value):
    bad = set(range(100, 100 + N_BAD))
    rec = _csv(tmp_path / "r.csv", bad_rows=bad, value=value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow cast (float32) anywhere fails here
        with Store(tmp_path / "log.db") as store:
            result = replay_session(store, rec)
            raw = list(store.iter_samples(result.session_id))
    assert result.status == "complete"
    assert result.samples == 6000 - N_BAD
    assert result.skipped_missing == N_BAD
    assert sum(len(b) for b in raw) == 6000 - N_BAD
    for b in raw:
        _within_limits(b.acc, b.gyro)


def test_csv_reader_counts_absurd_values_as_skipped(tmp_path):
    rec = _csv(tmp_path / "r.csv", n=500, bad_rows={3, 4, 5})
    with open_recording(rec) as reader:
        blocks = list(reader.blocks())
        assert reader.stats.skipped_missing == 3 and reader.stats.rows == 497
    for b in blocks:
        _within_limits(b.acc, b.gyro)


def test_bids_reader_counts_absurd_values_as_skipped(tmp_path):
    motion = tmp_path / "sub-01" / "ses-1" / "motion"
    motion.mkdir(parents=True)
    stem = "sub-01_ses-1_task-rest_tracksys-imu_motion"
    chans = ["name\tcomponent\ttype\ttracked_point\tunits"]
    chans += [f"acc_{c}\t{c}\tACCEL\tLeftWrist\tg" for c in "xyz"]
    chans += [f"gyr_{c}\t{c}\tGYRO\tLeftWrist\tdeg/s" for c in "xyz"]
    (motion / f"{stem[:-7]}_channels.tsv").write_text("\n".join(chans) + "\n")
    (motion / f"{stem}.json").write_text(json.dumps({"SamplingFrequency": 50, "TaskName": "rest"}))
    rows = ["0\t0\t1\t0\t0\t0"] * 200
    rows[7] = "1e308\t0\t1\t0\t0\t0"
    rows[8] = "0\t0\t1\t0\t0\t1e300"
    (motion / f"{stem}.tsv").write_text("\n".join(rows) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with open_recording(tmp_path) as reader:
            blocks = list(reader.blocks())
            assert reader.stats.skipped_missing == 2 and reader.stats.rows == 198
    for b in blocks:
        _within_limits(b.acc, b.gyro)


def test_the_session_runner_is_the_last_gate(tmp_path):
    """A source that does not check (an API caller's own blocks): the runner drops and counts."""
    rng = np.random.default_rng(2)
    blocks = []
    for k in range(60):
        t = (k * 100 + np.arange(100)) / FS_HZ
        acc = rng.normal(0, 0.01, (100, 3))
        acc[:, 2] += 1.0
        gyro = rng.normal(0, 1.0, (100, 3))
        if k % 10 == 3:
            acc[5, 1] = np.inf
            gyro[6, 0] = 1e300
        blocks.append(SampleBlock(t, acc, gyro))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with Store(tmp_path / "log.db") as store:
            runner = SessionRunner(store, SessionInfo(source="api", sample_rate_hz=FS_HZ))
            result = runner.run(blocks)
    assert result.status == "complete"
    assert result.samples == 6000 - 12
    assert result.skipped_missing == 12


def test_the_core_drops_values_beyond_any_sensor():
    rng = np.random.default_rng(3)
    n = 3000
    t = np.arange(n) / FS_HZ
    acc = rng.normal(0, 0.01, (n, 3))
    acc[:, 2] += 1.0
    acc[[10, 20, 30], 0] = [1e308, -1e300, 1e7]
    det = dsp.StreamingDetector(FS_HZ)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        det.push(t, acc)
        det.flush()
    assert det.skipped == 3
    assert np.isfinite(det.status()["band_rms_g"])
