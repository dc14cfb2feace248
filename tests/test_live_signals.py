"""Ctrl-C and SIGTERM end a live session cleanly: samples flushed, session closed, exit 0."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import pytest
from bridge_helpers import reference_stream

from tremorscope.cli.live_helpers import LiveFeed, StatusLine
from tremorscope.store import Store

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and ptys")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_ends_live_session_cleanly(tmp_path, sig):
    exe = shutil.which("tremorscope")
    cmd = [exe] if exe else [sys.executable, "-m", "tremorscope.cli"]
    master, slave = os.openpty()
    link = str(tmp_path / "ttyESP32")
    os.symlink(os.ttyname(slave), link)
    stop = threading.Event()
    sent = []

    def device():
        seq = 0
        start = time.monotonic()
        while not stop.is_set():
            time.sleep(max(0.0, start + seq * 0.05 - time.monotonic()))
            os.write(master, reference_stream(seq))
            sent.append(seq)
            seq += 1

    th = threading.Thread(target=device, daemon=True)
    th.start()
    db = tmp_path / "log.db"
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "x")}
    proc = subprocess.Popen(
        [*cmd, "live", "--device", "reference", "--port", link, "--db", str(db)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait until the session has data
            if db.exists():
                with Store(db) as store:
                    row = store.session(1)
                if row and row["samples"] > 0:
                    break
            time.sleep(0.2)
        time.sleep(0.5)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        stop.set()
        th.join()
        if proc.poll() is None:
            proc.kill()
        os.close(master)
        os.close(slave)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert f"stopped by {signal.Signals(sig).name}" in out
    with Store(db) as store:
        row = store.session(1)
    assert row["status"] == "complete" and row["ended_at"] is not None
    assert row["samples"] >= 100 and row["samples"] % 5 == 0  # whole frames, nothing half-done


def test_status_line_shows_link_and_detector_state():
    class Src:
        stats = type(
            "S", (), dict(state="streaming", recent_rate_hz=99.7, dropped=2, malformed=1, crc_errors=1,
                          gaps=[{}], battery_pct=81.0),
        )()  # fmt: skip

    class Det:
        def status(self):
            return {"band_rms_g": 0.0123, "dominant_hz": 5.2, "deviation_deg": 30.4, "calibrated": True}

    info = SimpleNamespace(calibrate_s=None)
    feed = LiveFeed(Src(), iter(()), [], StatusLine(enabled=False))
    feed.runner = SimpleNamespace(detector=Det(), session_id=None, info=info)
    text = feed.status_text()
    for part in ("streaming 100 Hz", "dropped 2", "malformed 2", "gaps 1", "battery 81%",
                 "tremor 0.0123 g 5.2 Hz", "angle 30°", "episodes 0"):  # fmt: skip
        assert part in text, text
    feed.runner = SimpleNamespace(detector=object(), session_id=None, info=info)
    assert "tremor - - | angle -" in feed.status_text()  # a detector without status(): dashes

    class Calibrating:
        def status(self):
            return {"deviation_deg": None, "calibrated": False}

    # --calibrate: the line says to keep still until the detector has the neutral posture
    feed.runner = SimpleNamespace(
        detector=Calibrating(), session_id=None, info=SimpleNamespace(calibrate_s=5.0)
    )
    assert "calibrating: keep still" in feed.status_text()
    feed.runner.info = info  # not calibrating: no neutral yet is just an unknown angle
    assert "| angle - |" in feed.status_text()
