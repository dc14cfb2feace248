"""Live calibration end to end over a pty: `calibrate --device`, `live --calibrate`, stored neutrals.

A fake sensor streams the reference firmware's frames (its own encoder) in real time: a head
held still (gravity on z, tilted a little about x, with a constant gyroscope offset), or one
that nods during the still period.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import threading
import time

import numpy as np
import pytest
from bridge_helpers import firmware_frame_module
from calibration_helpers import angle_between_deg
from cli_helpers import isolated_home  # noqa: F401 - autouse: no real user data folder
from click.testing import CliRunner

from tremorscope.cli import main
from tremorscope.store import Store

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals need POSIX")

ACC_LSB_PER_G = 8192.0
GYRO_LSB_PER_DPS = 65.5
TILT_DEG = 10.0  # the sensor sits 10 deg off level about x
GYRO_OFFSET_LSB = 98  # 1.5 deg/s zero-rate offset on x
#: The neutral is the still accelerometer's direction (int16 at 8192 LSB/g: ~0.01 deg steps);
#: the gyroscope offset must not tilt it.
NEUTRAL_TOL_DEG = 0.1


def still_gravity() -> np.ndarray:
    a = math.radians(TILT_DEG)
    return np.array([0.0, math.sin(a), math.cos(a)])


class Sensor:
    """A pty that streams reference frames at 100 Hz until closed; ``nod_at_s`` tips it 25 deg."""

    def __init__(self, link: str, nod_at_s: float | None = None) -> None:
        self.link = link
        self.master, self.slave = os.openpty()
        os.symlink(os.ttyname(self.slave), link)
        self.nod_at_s = nod_at_s
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sensor:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        os.close(self.master)
        os.close(self.slave)

    def _sample(self, k: int, rate_hz: float) -> tuple[int, ...]:
        g = still_gravity()
        if self.nod_at_s is not None and k / rate_hz >= self.nod_at_s:
            a = math.radians(25.0)  # pitched forward: x tips down
            g = np.array([-math.sin(a) * g[2], g[1], math.cos(a) * g[2]])
        ax, ay, az = (int(round(v * ACC_LSB_PER_G)) for v in g)
        return (ax, ay, az, GYRO_OFFSET_LSB, 0, 0)

    def _run(self, rate_hz: float = 100.0, per_frame: int = 5) -> None:
        frame = firmware_frame_module()
        start = time.monotonic()
        seq = 0
        while not self.stop.is_set():
            time.sleep(max(0.0, start + seq * per_frame / rate_hz - time.monotonic()))
            samples = [self._sample(seq * per_frame + i, rate_hz) for i in range(per_frame)]
            t_us = int(round(seq * per_frame * 1e6 / rate_hz))
            raw = frame.encode_frame(seq, t_us, rate_hz, ACC_LSB_PER_G, GYRO_LSB_PER_DPS, samples, battery=80)
            try:
                os.write(self.master, frame.encode_for_stream(raw))
            except OSError:
                return
            seq += 1


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def extra(db: str, sid: int) -> dict:
    with Store(db) as st:
        return json.loads(st.session(sid)["extra_json"])


def test_calibrate_live_sensor_then_live_sessions_use_it(tmp_path):
    db = str(tmp_path / "log.db")
    with Sensor(str(tmp_path / "tty")) as dev:
        r = run("calibrate", "--device", "reference", "--port", dev.link, "--placement", "Neck",
                "--seconds", "1", "--db", db)  # fmt: skip
        assert r.exit_code == 0, r.output
        assert "hold the neutral posture still for 2 s" in r.stderr
        assert "stored calibration 1: reference at neck" in r.stdout
        with Store(db) as st:
            cal = st.calibration("reference", "neck")
            assert st.latest_session_id() is None  # calibrating logs no session
        assert cal["source"] == f"serial:{dev.link}" and cal["seconds"] == 1.0
        assert angle_between_deg(cal["neutral_g"], still_gravity()) < NEUTRAL_TOL_DEG
        assert cal["details"]["has_gyro"] is True and cal["details"]["turn_dps"] < 1.0

        r = run("live", "--device", "reference", "--port", dev.link, "--placement", "neck",
                "--db", db, "--duration", "2")  # fmt: skip
        assert r.exit_code == 0, r.output
        assert "neutral posture: calibration 1 of reference at neck" in r.stderr
        assert "neutral posture: stored calibration 1" in r.stdout
        ex = extra(db, 1)
        assert ex["neutral_from"] == "stored" and ex["calibration_id"] == 1 and ex["calibrated"] is True
        assert ex["neutral_g"] == pytest.approx(cal["neutral_g"], abs=1e-5)
        assert ex["live"]["state"] == "stopped"  # live stats merged, posture facts kept

        r = run("live", "--device", "reference", "--port", dev.link, "--placement", "neck",
                "--db", db, "--duration", "1.5", "--no-calibration")  # fmt: skip
        assert r.exit_code == 0, r.output
        assert extra(db, 2)["neutral_from"] == "adaptive"


def test_live_calibrate_hands_the_first_seconds_to_the_detector_and_keeps_raw_data(tmp_path):
    db = str(tmp_path / "log.db")
    with Sensor(str(tmp_path / "tty")) as dev:
        r = run("live", "--device", "reference", "--port", dev.link, "--placement", "neck",
                "--calibrate", "1", "--db", db, "--duration", "4")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "hold the neutral posture still for 2 s" in r.stderr and "calibrated; Ctrl-C stops" in r.stderr
    assert "neutral posture: measured over the first 1 s" in r.stdout
    ex = extra(db, 1)
    assert ex["neutral_from"] == "calibrate_s" and ex["calibrate_s"] == 1.0 and ex["calibrated"] is True
    assert angle_between_deg(ex["neutral_g"], still_gravity()) < NEUTRAL_TOL_DEG
    assert ex["calibration"]["tilt_spread_deg"] < 0.5 and ex["calibration"]["samples"] >= 100
    assert ex["limits"] == [] and ex["live"]["battery_pct"] == 80.0
    with Store(db) as st:
        raw = list(st.iter_samples(1))
    gyro = np.vstack([b.gyro for b in raw])
    # the raw log is what the sensor sent: the offset is not subtracted (the detector tracks it)
    np.testing.assert_allclose(gyro[:, 0], GYRO_OFFSET_LSB / GYRO_LSB_PER_DPS, rtol=1e-6)


def test_live_calibrate_refuses_a_nod_and_logs_nothing(tmp_path):
    db = str(tmp_path / "log.db")
    results = []
    for i, cmd in enumerate((["live", "--calibrate", "1.5"], ["calibrate", "--seconds", "1.5"])):
        with Sensor(str(tmp_path / f"tty{i}"), nod_at_s=1.5) as dev:  # each starts still, then nods
            args = [*cmd, "--device", "reference", "--port", dev.link, "--placement", "neck", "--db", db]
            results.append(CliRunner().invoke(main, args))
    for res in results:
        assert res.exit_code != 0 and "Traceback" not in res.output
        last = res.stderr.strip().splitlines()[-1]  # progress lines first, then one error line
        assert last.startswith("Error: ") and re.search(r"moved while calibrating \(tilted 2\d deg\)", last)
    assert not os.path.exists(db) or Store(db).latest_session_id() is None


def test_capture_replay_chooses_the_neutral_like_replay(tmp_path):
    db = str(tmp_path / "log.db")
    cap = str(tmp_path / "cap.jsonl")
    with Sensor(str(tmp_path / "tty")) as dev:
        r = run("live", "--device", "reference", "--port", dev.link, "--placement", "neck",
                "--db", db, "--duration", "3", "--capture", cap)  # fmt: skip
    assert r.exit_code == 0, r.output
    assert extra(db, 1)["neutral_from"] == "adaptive"
    r = run("replay", "--capture", cap, "--placement", "neck", "--calibrate", "1", "--db", db)
    assert r.exit_code == 0, r.output
    ex = extra(db, 2)
    assert ex["neutral_from"] == "calibrate_s" and ex["calibrated"] is True
    assert ex["calibration"]["samples"] >= 100
    with Store(db) as st:
        cid = st.add_calibration("reference", "neck", [0.0, 0.0, 1.0], "test")
    assert run("replay", "--capture", cap, "--placement", "neck", "--db", db).exit_code == 0
    ex = extra(db, 3)
    assert (
        ex["neutral_from"] == "stored" and ex["calibration_id"] == cid and ex["neutral_g"] == [0.0, 0.0, 1.0]
    )
    r = run("replay", "--capture", cap, "--placement", "neck", "--calibrate", "5", "--db", db)
    assert r.exit_code != 0 and "only" in r.output  # 3 s of data cannot hold a 5 s calibration
