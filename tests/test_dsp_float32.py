"""float32 input is as safe as float64 (issue 14, item 1).

The fault: the core once took a channel-major view across the float64 temporaries it made of
float32 columns, keeping only the first alive. The episodes then changed from run to run and a
large push could read freed memory (segfaults in ``regrid`` while the stage-A worker thread ran).
These tests fail on that class of fault: values read after the temporaries are gone, run-to-run
repeatability, float32 against float64 on a simulated recording with ground truth, and an hour in
one push in a child process (a segfault fails the test instead of killing pytest). CI also runs
this file with ``NUMBA_BOUNDSCHECK=1``.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dsp
from dsp.detector import MAX_CHUNK_SAMPLES
from dsp.inputs import channel_major
from firmware_bridge.simulator import simulate

ROOT = Path(__file__).resolve().parents[1]
FS_HZ = 100.0
ACC = ["acc_x", "acc_y", "acc_z"]
GYRO = ["gyro_x", "gyro_y", "gyro_z"]
#: Longest one push may take in the child (s): about 10 s on a loaded 2-core machine.
CHILD_TIMEOUT_S = 300
#: Onsets and ends of float32 episodes may differ from float64 ones by this much (s): float32
#: rounding (6e-8 relative) moves a threshold crossing by a bin (0.25 s) at most, two for margin.
EPISODE_TOLERANCE_S = 0.5


def _key(events):
    return [(e.type, e.at_s, e.episode, e.minute, e.gap) for e in events]


@pytest.mark.parametrize("n", [10, 1_000, 65_000, 300_000])
def test_channel_major_of_float32_columns_survives_memory_reuse(n):
    """The channel-major array of float32 columns holds their values after the garbage
    collector ran and fresh arrays filled the freed memory (the old view pointed into it)."""
    rng = np.random.default_rng(n)
    for _ in range(8):
        a = rng.normal(size=(n, 3)).astype(np.float32)
        for cols in ([a[:, 0], a[:, 1], a[:, 2]], [a[:, i].copy() for i in range(3)]):
            out = channel_major(cols)
            gc.collect()
            junk = [np.full(n, 7.0) for _ in range(6)]  # reuses memory the temporaries had
            assert out.dtype == np.float64 and out.shape == (3, n)
            np.testing.assert_array_equal(out, a.T.astype(np.float64))
            del junk


@pytest.fixture(scope="module")
def recording() -> pd.DataFrame:
    """15 minutes of simulated rest tremor with gyroscope (about 90,000 samples: more than the
    ~65,000 at which float32 pushes used to fail)."""
    return simulate("rest_tremor", duration_s=900.0, seed=3, sample_rate_hz=FS_HZ).frame


def _run(t, acc, gyro):
    det = dsp.StreamingDetector(FS_HZ)
    events = det.push(t, acc, gyro) + det.flush()
    return det.episodes(), _key(events)


def test_float32_gives_the_episodes_of_its_float64_values_run_after_run(recording):
    t = recording["t"].to_numpy()
    acc32 = recording[ACC].to_numpy(dtype=np.float32)
    gyro32 = recording[GYRO].to_numpy(dtype=np.float32)
    assert t.size > 65_000
    ref_eps, ref_events = _run(t, acc32.astype(np.float64), gyro32.astype(np.float64))
    assert (ref_eps["kind"] == "tremor").sum() >= 5  # the comparison below means something
    forms = {
        "(n, 3) float32": (acc32, gyro32),
        "float32 columns": (tuple(acc32.T), tuple(gyro32.T)),
        "float32 DataFrame": (pd.DataFrame(acc32), pd.DataFrame(gyro32)),
    }
    for _ in range(3):  # run to run: the fault gave 1 or 5 episodes where float64 gave 8
        for name, (acc, gyro) in forms.items():
            eps, events = _run(t, acc, gyro)
            pd.testing.assert_frame_equal(eps, ref_eps, obj=name)
            assert events == ref_events, name


def test_float32_episodes_match_full_precision_float64_and_ground_truth(recording):
    """Rounding to float32 changes episodes by at most a bin; both find the simulated ones."""
    t = recording["t"].to_numpy()
    eps64, _ = _run(t, recording[ACC].to_numpy(), recording[GYRO].to_numpy())
    eps32, _ = _run(t, recording[ACC].to_numpy(np.float32), recording[GYRO].to_numpy(np.float32))
    trem64 = eps64[eps64["kind"] == "tremor"].reset_index(drop=True)
    trem32 = eps32[eps32["kind"] == "tremor"].reset_index(drop=True)
    assert len(trem32) == len(trem64) >= 5
    np.testing.assert_allclose(trem32["start_s"], trem64["start_s"], atol=EPISODE_TOLERANCE_S)
    np.testing.assert_allclose(trem32["end_s"], trem64["end_s"], atol=EPISODE_TOLERANCE_S)
    truth = simulate("rest_tremor", duration_s=900.0, seed=3, sample_rate_hz=FS_HZ).events
    truth = truth[truth["trial_type"] == "tremor"]
    t0 = float(t[0])
    found = 0
    for onset, duration in zip(truth["onset"], truth["duration"]):
        a, b = t0 + onset, t0 + onset + duration
        found += bool(((trem32["start_s"] < b) & (trem32["end_s"] > a)).any())
    assert found >= 0.8 * len(truth)  # most true episodes overlap a float32 episode


_CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import dsp

    fs, seconds = float(sys.argv[1]), float(sys.argv[2])
    n = int(fs * seconds)
    rng = np.random.default_rng(7)
    t = np.arange(n) / fs + 1000.0 + rng.normal(0, 0.0005, n)
    t.sort()
    env = ((t % 600.0) > 200.0) & ((t % 600.0) < 320.0)  # two minutes of tremor in every ten
    acc = rng.normal(0, 0.002, (n, 3))
    acc[:, 2] += 1.0
    acc[:, 1] += 0.05 * env * np.sin(2 * np.pi * 5.5 * t)
    gyro = rng.normal(0, 0.3, (n, 3))
    gyro[:, 0] += 40.0 * env * np.cos(2 * np.pi * 5.5 * t)
    acc32, gyro32 = acc.astype(np.float32), gyro.astype(np.float32)

    def run(a, g):
        det = dsp.StreamingDetector(fs)
        ev = det.push(t, a, g) + det.flush()
        eps = det.episodes()
        return [len(ev), eps.to_json()]

    ref_det = dsp.StreamingDetector(fs)
    ref_det.push(t, acc32.astype(np.float64), gyro32.astype(np.float64))
    ref_det.flush()
    ref = run(acc32.astype(np.float64), gyro32.astype(np.float64))
    runs = [run(acc32, gyro32), run(tuple(acc32.T), tuple(gyro32.T)), run(acc32, gyro32)]
    tremor = int((ref_det.episodes()["kind"] == "tremor").sum())
    print(json.dumps({"n": n, "ref": ref, "runs": runs, "episodes": tremor}))
    """
)


def test_an_hour_of_float32_in_one_push_in_a_child_process(tmp_path):
    """An hour at 200 Hz (720,000 samples: three slices, so the stage-A worker thread runs) in
    one float32 push, as (n, 3) arrays and as columns: the child exits cleanly (a segfault is a
    negative return code) and every run gives the events of the same values in float64."""
    fs_hz, seconds = 200.0, 3600.0
    assert fs_hz * seconds > 2 * MAX_CHUNK_SAMPLES  # the two-stage path with the worker thread
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, str(script), str(fs_hz), str(seconds)],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, f"child ended with {proc.returncode}: {proc.stderr[-2000:]}"
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["n"] == int(fs_hz * seconds)
    assert out["episodes"] >= 5  # six tremor stretches: the comparison means something
    for run in out["runs"]:
        assert run == out["ref"]
