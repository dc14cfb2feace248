"""Time jumps cost what the data costs, not what the timestamps say (issue 14, item 2).

The fault: a recording whose time jumps to 1e300 s after 3,000 rows made ``replay`` spin forever
in ``dsp/minutes.py`` (a loop counting minute by minute up to the last timestamp), and a jump of
1e9 s took 16-30 s and a gigabyte. Now the minute accountant keeps labels as runs of bins and
finds minute boundaries by arithmetic; a time beyond ``MAX_ABS_TIME_S`` is dropped and counted.
Every run that could hang runs in a child process with a timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import dsp
from dsp.events import GAP, MINUTE
from dsp.grid import MAX_ABS_TIME_S
from firmware_bridge.simulator import simulate

ROOT = Path(__file__).resolve().parents[1]
FS_HZ = 100.0
JUMP_AT_ROW = 3000
#: Wall time (s) a child may take: import and numba cache load (~5-20 s on a busy machine) plus
#: the run; a hang is killed here.
CHILD_TIMEOUT_S = 120
#: What pushing and flushing one minute of samples with a jump may cost (s); the fault took 16 s
#: for 1e9 s and forever for 1e300 s. Generous for a loaded 2-core CI machine.
MAX_RUN_S = 5.0
#: Minutes with data in one minute of samples split in two: at most two each side of the jump.
MAX_MINUTES = 4

_CHILD = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    import dsp
    from firmware_bridge.simulator import simulate

    jump, at = float(sys.argv[1]), int(sys.argv[2])
    f = simulate("rest_tremor", duration_s=60.0, seed=3, sample_rate_hz=100.0).frame
    t = f["t"].to_numpy().copy()
    t[at:] += jump
    acc = f[["acc_x", "acc_y", "acc_z"]].to_numpy()
    gyro = f[["gyro_x", "gyro_y", "gyro_z"]].to_numpy()
    det = dsp.StreamingDetector(100.0)
    began = time.perf_counter()
    events = det.push(t, acc, gyro) + det.flush()
    took = time.perf_counter() - began
    gaps = [[g.start_s, g.end_s] for g in det.gaps]
    minutes = [e.minute.minute_start_s for e in events if e.type == "minute"]
    print(json.dumps({"took": took, "gaps": gaps, "minutes": minutes, "skipped": det.skipped,
                      "n": int(t.size)}))
    """
)


def _child(jump: float) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, repr(jump), str(JUMP_AT_ROW)],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("jump_s", [1e5, 1e9, 3.0e10])
def test_a_large_time_jump_is_a_gap_and_costs_nothing(jump_s):
    out = _child(jump_s)
    assert out["took"] < MAX_RUN_S
    assert len(out["gaps"]) == 1
    start, end = out["gaps"][0]
    assert end - start == pytest.approx(jump_s, rel=1e-6)
    assert out["skipped"] == 0
    assert 0 < len(out["minutes"]) <= MAX_MINUTES
    assert out["minutes"] == sorted(out["minutes"])


def test_a_time_beyond_any_clock_is_dropped_and_counted_not_iterated():
    """1e300 s: every such row is dropped (counted as skipped); the rest is analysed."""
    out = _child(1e300)
    assert out["took"] < MAX_RUN_S
    assert out["skipped"] == out["n"] - JUMP_AT_ROW
    assert out["gaps"] == []
    assert 0 < len(out["minutes"]) <= 2
    assert all(abs(m) < MAX_ABS_TIME_S for m in out["minutes"])


def test_jumps_keep_the_results_chunk_invariant():
    """Several jumps (within a minute, across minutes, of hours and of a billion seconds) give
    the same events whatever the chunking, and only minutes that hold data."""
    f = simulate("rest_tremor", duration_s=300.0, seed=4, sample_rate_hz=FS_HZ).frame
    t = f["t"].to_numpy().copy()
    for row, by in ((6000, 7.3), (12000, 75.0), (18000, 3600.0), (24000, 1e9)):
        t[row:] += by
    acc = f[["acc_x", "acc_y", "acc_z"]].to_numpy()
    gyro = f[["gyro_x", "gyro_y", "gyro_z"]].to_numpy()

    def run(step):
        det = dsp.StreamingDetector(FS_HZ)
        events = []
        for i in range(0, t.size, step):
            events += det.push(t[i : i + step], acc[i : i + step], gyro[i : i + step])
        return det, events + det.flush()

    det, events = run(t.size)
    key = [(e.type, e.at_s, e.episode, e.minute, e.gap) for e in events]
    for step in (777, 4096):
        _, other = run(step)
        assert [(e.type, e.at_s, e.episode, e.minute, e.gap) for e in other] == key
    assert sum(e.type == GAP for e in events) == 4
    minutes = [e.minute for e in events if e.type == MINUTE]
    assert len(minutes) <= 300 / 60 + 2 * 4 + 1  # minutes with data only, never those in between
    for m in minutes:
        lo, hi = m.minute_start_s, m.minute_start_s + 60.0
        assert ((t >= lo - 60.0) & (t < hi + 60.0)).any()  # data in or next to it


def test_replay_of_a_recording_that_jumps_ends_in_time(tmp_path):
    """The probe's recording: time jumps to 1e300 s (and, separately, by 1e9 s) after 3,000
    rows. ``tremorscope replay`` ends with a complete session within the time limit."""
    f = simulate("rest_tremor", duration_s=60.0, seed=3, sample_rate_hz=FS_HZ).frame
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TREMORSCOPE_DB": str(tmp_path / "log.db")}
    for jump in (1e9, 1e300):
        g = f.copy()
        t = g["t"].to_numpy().copy()
        t[JUMP_AT_ROW:] += jump
        g["t"] = t
        rec = tmp_path / f"jump_{jump:g}.csv"
        with open(rec, "w") as fh:
            fh.write("# sample_rate_hz: 100\n")
            g.to_csv(fh, index=False, float_format="%.17g")
        proc = subprocess.run(
            [sys.executable, "-m", "tremorscope.cli", "replay", str(rec)],
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_S,
            env=env,
            cwd=ROOT,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "complete" in proc.stdout
        if jump == 1e300:  # the impossible times are skipped rows, not a 1e300 s session
            assert f"{len(f) - JUMP_AT_ROW} with missing or impossible values" in proc.stdout
            assert "e+" not in proc.stdout and len(max(proc.stdout.splitlines(), key=len)) < 300
        else:
            assert "1 gaps" in proc.stdout


def test_minute_accountant_state_follows_the_data():
    """After a billion-second jump the accountant holds a few minutes of labels, not a gigabyte."""
    f = simulate("rest_tremor", duration_s=120.0, seed=5, sample_rate_hz=FS_HZ).frame
    t = f["t"].to_numpy().copy()
    t[6000:] += 1e9
    det = dsp.StreamingDetector(FS_HZ)
    det.push(t, f[["acc_x", "acc_y", "acc_z"]].to_numpy(), f[["gyro_x", "gyro_y", "gyro_z"]].to_numpy())
    acct = det._minutes
    held = sum(r.status.size for r in acct.runs)
    assert held <= 3 * 60 / det.bin_dur_s  # a few minutes of bins
    assert np.isfinite(acct.base_bin)
