"""Stop signals and kill -9 on real commands (issue 14): ``replay``, ``live`` over a pty, others.

SIGINT and SIGTERM must end any command within :data:`STOP_LIMIT_S` with the session closed
in the log; kill -9 must leave a readable log whose session the next open marks interrupted,
having lost at most about the last second. The serial sensor is a pseudo-terminal driven by a
thread writing reference-firmware frames in real time; the command is the production one.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from app_helpers import isolated_env, tremorscope_cmd, write_rec
from bridge_helpers import reference_stream, sample_ids

from tremorscope.store import Store

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and pseudo-terminals")

#: The promise: a stop signal ends any command within 2 s (on a machine that is not overloaded).
STOP_LIMIT_S = 2.0


def stop_limit_s() -> float:
    """:data:`STOP_LIMIT_S`, stretched by how overloaded the machine is right now.

    Wall-clock latency cannot be promised on cores busy with more runnable processes than they
    have (CI runs beside benchmarks): with a load of 5 on 2 cores a process gets about 40 % of a
    core, so the limit grows by that factor. A hang (the 30 s limit below) still fails."""
    load_per_core = os.getloadavg()[0] / (os.cpu_count() or 1)
    return STOP_LIMIT_S * max(1.0, load_per_core)


#: kill -9 loses what was not yet committed: commits run every second, a live block is cut
#: every 0.1 s and a paced replay releases 1 s blocks; 2 s covers the three with scheduling slack.
KILL_LOSS_S = 2.0
#: Waiting for a command to start (imports, numba cache) on two busy cores.
START_LIMIT_S = 90.0
#: A command that should have ended but did not fails here instead of hanging.
HANG_LIMIT_S = 30.0


def committed(db: Path, sid: int = 1) -> int:
    """Raw samples committed for session ``sid`` (read like any other reader of the log)."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            row = conn.execute(
                "SELECT COALESCE(sum(n), 0) FROM samples WHERE session_id = ?", (sid,)
            ).fetchone()
    except sqlite3.OperationalError:  # being created
        return 0
    return int(row[0])


def wait_for_samples(db: Path, proc: subprocess.Popen, n: int) -> tuple[int, float]:
    """Wait until at least ``n`` samples are committed; (count, when it was seen)."""
    deadline = time.monotonic() + START_LIMIT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        count = committed(db)
        if count >= n:
            return count, time.monotonic()
        time.sleep(0.05)
    raise AssertionError(f"no {n} samples committed within {START_LIMIT_S} s")


def stop_and_time(proc: subprocess.Popen, sig: int) -> tuple[float, str, str]:
    sent = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=HANG_LIMIT_S)
    return time.monotonic() - sent, out, err


def stored_ids(db: Path) -> list[int]:
    """The sample numbers (see bridge_helpers.reference_stream) of session 1's raw samples."""
    with Store(db) as store:
        return sample_ids(store.iter_samples(1))


def final_row(db: Path) -> dict:
    with Store(db) as store:  # opening marks a session whose process is gone as interrupted
        row = store.session(1)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    return row


def replay(tmp_path: Path, rec: Path, *extra: str) -> tuple[subprocess.Popen, Path]:
    db = tmp_path / "log.db"
    proc = subprocess.Popen(
        [*tremorscope_cmd(), "replay", str(rec), "--db", str(db), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=isolated_env(tmp_path),
    )  # fmt: skip
    return proc, db


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_ends_a_paced_replay_within_the_limit(tmp_path, sig):
    rec = write_rec(tmp_path / "rec.csv", duration_s=120.0)
    proc, db = replay(tmp_path, rec, "--speed", "1")
    try:
        wait_for_samples(db, proc, 200)
        took, out, err = stop_and_time(proc, sig)
    finally:
        if proc.poll() is None:
            proc.kill()
    name = signal.Signals(sig).name
    assert took <= stop_limit_s(), (took, os.getloadavg())
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err and f"stopped by {name}" in out
    row = final_row(db)
    assert row["status"] == "interrupted" and row["error"] == f"stopped by {name}"
    assert 200 <= row["samples"] == committed(db) < 12000


#: A replay whose detector gets stuck after its 5th block (a fault injected into the production
#: command): in a pure-Python loop, or in a blocking call that resumes after a signal handler.
STUCK = {
    "python_loop": "while True: pass",
    "blocking_call": "time.sleep(3600)",
}
STUCK_SCRIPT = """
import sys, time
import dsp
push = dsp.StreamingDetector.push_block
calls = []
def stuck(self, block):
    calls.append(1)
    if len(calls) > 5:
        {stuck}
    return push(self, block)
dsp.StreamingDetector.push_block = stuck
from tremorscope.cli import main
main(sys.argv[1:], prog_name="tremorscope")
"""


@pytest.mark.parametrize("how", sorted(STUCK))
def test_sigterm_ends_a_replay_stuck_in_the_detector(tmp_path, how):
    """Issue 14 item 2: a replay stuck in the core (a time jump of 1e300 s once made it loop
    for ever) still ends within the limit, its session marked interrupted by the forced end."""
    rec = write_rec(tmp_path / "rec.csv", duration_s=60.0)
    db = tmp_path / "log.db"
    script = STUCK_SCRIPT.format(stuck=STUCK[how])
    proc = subprocess.Popen(
        [sys.executable, "-c", script, "replay", str(rec), "--db", str(db), "--speed", "20"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=isolated_env(tmp_path),
    )  # fmt: skip
    try:
        wait_for_samples(db, proc, 600)  # the 6th block was stored (raw first), then it got stuck
        time.sleep(0.5)
        assert proc.poll() is None, proc.communicate()
        took, out, err = stop_and_time(proc, signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert took <= stop_limit_s(), (took, os.getloadavg())
    assert proc.returncode == 143, err
    assert err.strip().splitlines() == ["stopped by SIGTERM; forced to end after 1.5 s"]
    row = final_row(db)
    assert row["status"] == "interrupted" and row["error"] == "stopped by SIGTERM; forced to end after 1.5 s"
    assert row["samples"] == committed(db) == 600  # the stuck block's samples were committed too


def test_kill9_during_replay_loses_at_most_about_a_second(tmp_path):
    rec = write_rec(tmp_path / "rec.csv", duration_s=120.0)
    proc, db = replay(tmp_path, rec, "--speed", "1")
    try:
        seen, seen_at = wait_for_samples(db, proc, 200)
        time.sleep(4.0)
        killed_at = time.monotonic()
        proc.kill()
        proc.wait(timeout=HANG_LIMIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    row = final_row(db)
    assert row["status"] == "interrupted"
    # at speed 1 and 100 Hz the replay delivered about 100 samples per second after `seen`
    delivered_at_least = seen + int((killed_at - seen_at - 1.0) * 100)
    assert row["samples"] >= delivered_at_least - int(KILL_LOSS_S * 100), (row["samples"], delivered_at_least)
    assert row["samples"] == committed(db)


class PtySensor:
    """A reference-firmware sensor on a pseudo-terminal: 5-sample frames at 100 Hz, in real time."""

    def __init__(self, tmp_path: Path) -> None:
        self.master, self.slave = os.openpty()
        self.port = str(tmp_path / "ttyESP32")
        os.symlink(os.ttyname(self.slave), self.port)
        self.sent: list[tuple[float, int]] = []  # (monotonic time, samples sent so far)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seq = 0
        start = time.monotonic()
        while not self._stop.is_set():
            time.sleep(max(0.0, start + seq * 0.05 - time.monotonic()))
            try:
                os.write(self.master, reference_stream(seq))
            except OSError:
                return
            seq += 1
            self.sent.append((time.monotonic(), seq * 5))

    def sent_before(self, t: float) -> int:
        return max((n for when, n in self.sent if when <= t), default=0)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        os.close(self.master)
        os.close(self.slave)


def live(tmp_path: Path, sensor: PtySensor) -> tuple[subprocess.Popen, Path]:
    db = tmp_path / "log.db"
    proc = subprocess.Popen(
        [*tremorscope_cmd(), "live", "--device", "reference", "--port", sensor.port, "--db", str(db)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=isolated_env(tmp_path),
    )  # fmt: skip
    return proc, db


def test_sigterm_ends_live_within_the_limit_keeping_what_arrived(tmp_path):
    sensor = PtySensor(tmp_path)
    proc, db = live(tmp_path, sensor)
    try:
        wait_for_samples(db, proc, 200)
        time.sleep(1.0)
        signalled = time.monotonic()
        took, out, err = stop_and_time(proc, signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
        sensor.close()
    assert took <= stop_limit_s(), (took, os.getloadavg())
    assert proc.returncode == 0, err  # Ctrl-C/SIGTERM is how a live session normally ends
    assert "stopped by SIGTERM" in out
    row = final_row(db)
    assert row["status"] == "complete"
    # from the first sample logged (frames sent before the port was opened are not the
    # session's), everything the sensor sent until shortly before the signal is in the log, once
    ids = stored_ids(db)
    assert ids == list(range(ids[0], ids[0] + len(ids))) and len(ids) == row["samples"]
    assert ids[-1] + 1 >= sensor.sent_before(signalled - 0.3), (ids[-1], sensor.sent_before(signalled))


def test_kill9_during_live_loses_at_most_about_a_second(tmp_path):
    sensor = PtySensor(tmp_path)
    proc, db = live(tmp_path, sensor)
    try:
        wait_for_samples(db, proc, 200)
        time.sleep(3.0)
        killed_at = time.monotonic()
        proc.kill()
        proc.wait(timeout=HANG_LIMIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
        sensor.close()
    row = final_row(db)
    assert row["status"] == "interrupted"
    assert "ended without closing" in row["error"]
    ids = stored_ids(db)
    assert ids == list(range(ids[0], ids[0] + len(ids))) and len(ids) == row["samples"]
    sent = sensor.sent_before(killed_at - KILL_LOSS_S)
    assert ids[-1] + 1 >= sent > 0, (ids[-1], sent)


def test_sigterm_ends_a_command_without_a_session(tmp_path):
    """`simulate` of a day runs for a long time; SIGTERM ends it at once, leaving no partial file."""
    out = tmp_path / "day.csv"
    proc = subprocess.Popen(
        [*tremorscope_cmd(), "simulate", "--scenario", "daily_mix", "--out", str(out), "--duration", "86400"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=isolated_env(tmp_path),
    )  # fmt: skip
    try:
        time.sleep(8.0)  # started and working
        assert proc.poll() is None, proc.communicate()
        took, _, err = stop_and_time(proc, signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert took <= stop_limit_s(), (took, os.getloadavg())
    assert proc.returncode == 143
    assert [line for line in err.splitlines() if line] == ["stopped by SIGTERM"]
    assert not out.exists() and not list(tmp_path.glob(".day.csv.*"))  # no partial recording
