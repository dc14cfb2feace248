"""The live CLI end to end: serial over a pty, BLE with a fake client, capture -> decode/replay."""

from __future__ import annotations

import json
import os
import stat
import struct
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest
from bridge_helpers import reference_stream
from cli_helpers import isolated_home  # noqa: F401 - autouse: no real user data folder
from click.testing import CliRunner

from tremorscope.cli import main
from tremorscope.store import Store

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals need POSIX")


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


class PtyDevice:
    def __init__(self, link):
        self.link = link
        self.master, self.slave = os.openpty()
        os.symlink(os.ttyname(self.slave), link)
        self.stop = threading.Event()

    def stream_reference(self, rate_hz=100.0, per_frame=5):
        """Write reference frames in real time until stopped."""
        start = time.monotonic()
        seq = 0
        while not self.stop.is_set():
            due = start + seq * per_frame / rate_hz
            time.sleep(max(0.0, due - time.monotonic()))
            try:
                os.write(self.master, reference_stream(seq, per_frame, rate_hz))
            except OSError:
                return
            seq += 1

    def close(self):
        self.stop.set()
        os.close(self.master)
        os.close(self.slave)


def test_devices_lists_protocols():
    r = run("devices")
    assert r.exit_code == 0
    for name in ("reference", "serial-text", "witmotion"):
        assert name in r.output


def test_live_serial_with_capture_then_decode_and_replay(tmp_path):
    dev = PtyDevice(str(tmp_path / "ttyESP32"))
    th = threading.Thread(target=dev.stream_reference)
    th.start()
    db = str(tmp_path / "log.db")
    cap = tmp_path / "cap.jsonl"
    try:
        r = run(
            "live", "--device", "reference", "--port", dev.link, "--db", db,
            "--capture", str(cap), "--duration", "2.5",
        )  # fmt: skip
    finally:
        dev.close()
        th.join()
    assert r.exit_code == 0, r.output
    assert "session 1 complete" in r.output
    with Store(db) as store:
        row = store.session(1)
    assert row["mode"] == "live" and row["device"] == "reference"
    assert row["samples"] > 150 and row["dropped"] == 0 and row["malformed"] == 0
    assert row["effective_rate_hz"] == pytest.approx(100.0, rel=0.02)
    live = json.loads(row["extra_json"])["live"]
    assert live["state"] == "stopped" and live["battery_pct"] == 80.0 and live["gaps"] == []

    assert stat.S_IMODE(os.stat(cap).st_mode) == 0o600
    lines = cap.read_text().splitlines()
    head = json.loads(lines[0])
    assert head["capture"] == "tremorscope" and head["version"] == 1
    assert head["device"] == "reference" and head["transport"] == "serial"
    payload = next(json.loads(x) for x in lines[1:] if '"hex"' in x)
    assert payload["src"] == "serial" and bytes.fromhex(payload["hex"])

    out = tmp_path / "rec.csv"
    r = run("decode", str(cap), "-o", str(out))
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out, comment="#")
    assert df["t"].iloc[0] == 0.0
    assert len(df) == row["samples"]  # the capture decodes to exactly what the session saw
    np.testing.assert_allclose(np.diff(df["t"]), 0.01, atol=1e-9)
    ids = np.round(df["acc_x"].to_numpy() * 8192).astype(int)
    assert np.all(np.diff(ids) == 1)  # every sample, in order, exactly once
    np.testing.assert_array_equal(df["acc_z"], 1.0)
    assert "# sample_rate_hz: 100" in out.read_text()

    r = run("replay", "--capture", str(cap), "--db", db)
    assert r.exit_code == 0, r.output
    with Store(db) as store:
        again = store.session(2)
    assert again["samples"] == row["samples"]
    assert again["t_start_s"] == pytest.approx(row["t_start_s"])  # same session times


def test_live_missing_port_is_one_line_error(tmp_path):
    r = CliRunner().invoke(
        main,
        ["live", "--device", "reference", "--port", str(tmp_path / "none"), "--db", str(tmp_path / "d.db")],
    )
    assert r.exit_code != 0
    assert "cannot open" in r.output and "Traceback" not in r.output


def test_live_needs_an_address_for_ble(tmp_path):
    r = CliRunner().invoke(main, ["live", "--device", "witmotion", "--db", str(tmp_path / "d.db")])
    assert r.exit_code != 0 and "--address" in r.output


def test_pair_saves_owner_only_and_live_resolves_the_name(tmp_path, isolated_home, monkeypatch):  # noqa: F811
    r = run("pair", "left-wrist", "c4:2a:11:22:33:44", "--device", "wt901blecl")
    assert r.exit_code == 0, r.output
    path = isolated_home / "xdg-data" / "tremorscope" / "devices.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text())["devices"]["left-wrist"]["address"] == "C4:2A:11:22:33:44"
    assert "left-wrist" in run("devices").output

    bad = CliRunner().invoke(main, ["pair", "x", "not-an-address", "--device", "witmotion"])
    assert bad.exit_code != 0 and "expected AA:BB" in bad.output

    # live over BLE through the CLI, with bleak replaced by a fake client (no adapter here)
    from firmware_bridge.transports import ble

    seen = {}

    class FakeClient:
        def __init__(self, address, disconnected_callback=None, timeout=10.0, **kw):
            seen["address"] = address
            self.cb = disconnected_callback

        async def connect(self):
            pass

        async def disconnect(self):
            task = getattr(self, "task", None)
            if task is not None:
                task.cancel()

        async def start_notify(self, uuid, callback):
            import asyncio
            from types import SimpleNamespace

            async def play():
                k = 0
                while k < 100000:
                    await asyncio.sleep(0.01)
                    data = bytes([0x55, 0x61]) + struct.pack("<9h", 0, 0, 2048, 0, 0, 0, 0, 0, 0)
                    callback(SimpleNamespace(uuid=uuid), bytearray(data))
                    k += 1

            self.task = asyncio.get_running_loop().create_task(play())

        async def write_gatt_char(self, uuid, data, response=None):
            seen.setdefault("writes", []).append(bytes(data).hex())

    monkeypatch.setattr(ble, "_default_client_factory", lambda: FakeClient)
    db = str(tmp_path / "log.db")
    r = run("live", "--device", "left-wrist", "--db", db, "--duration", "2")
    assert r.exit_code == 0, r.output
    assert seen["address"] == "C4:2A:11:22:33:44"
    assert seen["writes"][:2] == ["ffaa6988b5", "ffaa030900"]
    with Store(db) as store:
        row = store.session(1)
    assert row["device"] == "witmotion" and row["samples"] > 100


def test_decode_bad_capture_is_one_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("hello\n")
    r = CliRunner().invoke(main, ["decode", str(bad), "-o", str(tmp_path / "x.csv")])
    assert r.exit_code != 0
    assert "bad.jsonl:1" in r.output and "Traceback" not in r.output
