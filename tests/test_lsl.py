"""Lab Streaming Layer in and out (firmware_bridge.transports.lsl, tremorscope.lsl) with real
liblsl outlets and inlets on this machine (resolution kept on 127.0.0.1 by tests/data/lsl_loopback.cfg).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

# before liblsl first reads its configuration: find streams on loopback only
os.environ["LSLAPICFG"] = str(Path(__file__).with_name("data") / "lsl_loopback.cfg")
pylsl = pytest.importorskip("pylsl", reason="pylsl is not installed (pip install 'tremorscope[cohort]')")

from cli_helpers import isolated_home  # noqa: E402, F401 - autouse: no real user data folder
from click.testing import CliRunner  # noqa: E402

from dsp import ENDED, STARTED  # noqa: E402
from firmware_bridge import simulator  # noqa: E402
from firmware_bridge.samples import SampleBlock  # noqa: E402
from firmware_bridge.transports.lsl import LslError, LslInlet, SampleOutlet, local_clock  # noqa: E402
from tremorscope.cli import main  # noqa: E402
from tremorscope.lsl import EVENTS_SUFFIX, LslPublisher  # noqa: E402
from tremorscope.session import SessionInfo, SessionRunner  # noqa: E402
from tremorscope.store import Store  # noqa: E402

#: LSL carries float32: values come back to float32 precision.
FLOAT32_REL = 1e-6
#: Timestamps travel as float64 on one machine's clock: back within a microsecond.
STAMP_TOL_S = 1e-6
#: liblsl's clock-offset estimate between two processes' views of one machine's clock.
CLOCK_CORRECTION_TOL_S = 1e-3
#: Longest wait for data to arrive on loopback.
ARRIVE_S = 10.0

_names = iter(range(10_000))


def unique(prefix: str) -> str:
    """A stream name no other test (or earlier run) on this machine uses."""
    return f"{prefix}-{os.getpid()}-{next(_names)}"


def pull_all(inlet: LslInlet, n: int) -> SampleBlock:
    got, deadline = [], time.monotonic() + ARRIVE_S
    while sum(len(b) for b in got) < n and time.monotonic() < deadline:
        b = inlet.pull()
        if len(b):
            got.append(b)
    gyro = [b.gyro for b in got] if inlet.has_gyro else None
    return SampleBlock(
        np.concatenate([b.t for b in got]),
        np.concatenate([b.acc for b in got]),
        None if gyro is None else np.concatenate(gyro),
    )


def test_samples_out_and_in_with_units_and_clock():
    name = unique("ts-imu")
    outlet = SampleOutlet(name, 100.0, has_gyro=True, device="test")
    with LslInlet(name) as inlet:
        assert inlet.sample_rate_hz == 100.0 and inlet.has_gyro
        assert inlet.stats.channels == ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")
        rng = np.random.default_rng(0)
        t = np.arange(500) / 100.0
        block = SampleBlock(t, rng.normal(0, 0.5, (500, 3)), rng.normal(0, 50, (500, 3)))
        assert outlet.wait_for_consumers(ARRIVE_S)  # what is pushed before that is not delivered
        t0 = local_clock()
        outlet.push_block(block, t0)
        got = pull_all(inlet, 500)
    outlet.close()
    assert len(got) == 500  # every sample, in order
    np.testing.assert_allclose(got.acc, block.acc, rtol=FLOAT32_REL, atol=1e-7)
    np.testing.assert_allclose(got.gyro, block.gyro, rtol=FLOAT32_REL, atol=1e-5)
    offset = got.t - t0 - t  # the inlet adds liblsl's measured clock offset (tens of us here)
    assert abs(float(np.mean(offset))) < CLOCK_CORRECTION_TOL_S
    np.testing.assert_allclose(offset, np.mean(offset), atol=STAMP_TOL_S)  # the spacing is exact


def test_inlet_converts_another_publishers_si_units():
    name = unique("ts-si")
    info = pylsl.StreamInfo(name, "IMU", 6, 50.0, pylsl.cf_float32, name)
    chans = info.desc().append_child("channels")
    for label, unit in [("AccX", "m/s^2"), ("AccY", "m/s^2"), ("AccZ", "m/s^2")] + [
        (f"Gyro{a}", "rad/s") for a in "XYZ"
    ]:
        ch = chans.append_child("channel")
        ch.append_child_value("label", label)
        ch.append_child_value("unit", unit)
    outlet = pylsl.StreamOutlet(info)
    with LslInlet(name) as inlet:
        assert outlet.wait_for_consumers(ARRIVE_S)
        outlet.push_chunk([[0.0, 0.0, 9.80665, np.pi, 0.0, -np.pi / 2]] * 10, local_clock())
        got = pull_all(inlet, 10)
    np.testing.assert_allclose(got.acc[0], [0, 0, 1.0], rtol=FLOAT32_REL)  # m/s^2 -> g
    np.testing.assert_allclose(got.gyro[0], [180.0, 0, -90.0], rtol=FLOAT32_REL)  # rad/s -> deg/s


def test_missing_stream_is_one_line_error():
    with pytest.raises(LslError) as e:
        LslInlet(unique("nobody"), timeout_s=0.5)
    assert "\n" not in str(e.value) and "nobody" in str(e.value)


def test_session_events_published_as_json_markers(tmp_path):
    sim = simulator.simulate("rest_tremor", duration_s=120.0, seed=1)
    frame = sim.frame
    name = unique("ts-pub")
    publisher = LslPublisher(name, 100.0, has_gyro=True, lsl_offset_s=local_clock())
    markers = pylsl.StreamInlet(pylsl.resolve_byprop("name", name + EVENTS_SUFFIX, 1, ARRIVE_S)[0])
    markers.open_stream(timeout=ARRIVE_S)
    cols = ["acc_x", "acc_y", "acc_z"]
    blocks = [
        SampleBlock(c.t.to_numpy(), c[cols].to_numpy(), c[["gyro_x", "gyro_y", "gyro_z"]].to_numpy())
        for _, c in frame.groupby(np.arange(len(frame)) // 1000)
    ]
    with Store(tmp_path / "log.db") as store:
        runner = SessionRunner(store, SessionInfo("sim", 100.0), on_event=publisher.on_event)
        result = runner.run(publisher.wrap(blocks))
        episodes = store.episodes(result.session_id)
    received, deadline = [], time.monotonic() + ARRIVE_S
    while len(received) < publisher.markers and time.monotonic() < deadline:
        sample, stamp = markers.pull_sample(timeout=0.5)
        if sample:
            received.append((json.loads(sample[0]), stamp))
    publisher.close()
    assert len(episodes) > 0 and publisher.sent == len(frame)
    assert len(received) == publisher.markers
    started = [m for m, _ in received if m["type"] == STARTED]
    ended = [(m, s) for m, s in received if m["type"] == ENDED]
    assert len(started) == len(ended) == len(episodes)
    for m, stamp in ended:  # each marker sits on the LSL clock where the stream says it happened
        assert stamp - publisher.offset_s == pytest.approx(m["at_s"], abs=STAMP_TOL_S)
    assert sorted(round(m["episode"]["start_s"], 3) for m, _ in ended) == sorted(
        round(float(s), 3) for s in episodes["start_s"]
    )


def _push_when_connected(outlet: SampleOutlet, block: SampleBlock, done: threading.Event) -> None:
    deadline = time.monotonic() + ARRIVE_S
    while not outlet.have_consumers() and time.monotonic() < deadline:
        time.sleep(0.05)
    t0 = local_clock() - float(block.t[-1])  # a minute of samples, as if just recorded
    for a in range(0, len(block), 500):
        outlet.push_block(
            SampleBlock(block.t[a : a + 500], block.acc[a : a + 500], block.gyro[a : a + 500]), t0
        )
    done.set()


def test_lsl_in_command_logs_a_session_from_a_stream(tmp_path):
    sim = simulator.simulate("rest_tremor", duration_s=60.0, seed=2)
    f = sim.frame
    block = SampleBlock(
        f.t.to_numpy(),
        f[["acc_x", "acc_y", "acc_z"]].to_numpy(),
        f[["gyro_x", "gyro_y", "gyro_z"]].to_numpy(),
    )
    name = unique("ts-in")
    outlet = SampleOutlet(name, 100.0, has_gyro=True)
    done = threading.Event()
    th = threading.Thread(target=_push_when_connected, args=(outlet, block, done))
    th.start()
    db = tmp_path / "log.db"
    try:
        r = CliRunner().invoke(main, ["lsl-in", "--stream", name, "--db", str(db), "--duration", "4"])
    finally:
        th.join()
        outlet.close()
    assert r.exit_code == 0, r.output
    assert done.is_set()
    with Store(db) as store:
        row = store.session(1)
        episodes = store.episodes(1)
    assert row["samples"] == len(f) and row["device"] == name  # every sample pushed was analysed
    assert len(episodes) > 0  # the simulated rest tremor was found


def test_lsl_in_without_a_stream_is_one_line_error(tmp_path):
    r = CliRunner().invoke(
        main, ["lsl-in", "--stream", unique("none"), "--timeout", "0.5", "--db", str(tmp_path / "d.db")]
    )
    assert r.exit_code != 0
    assert "no LSL stream" in r.output and r.output.strip().count("\n") == 0


def test_live_publishes_on_lsl(tmp_path):
    from test_live_cli import PtyDevice

    dev = PtyDevice(str(tmp_path / "ttyESP32"))
    feeder = threading.Thread(target=dev.stream_reference)
    feeder.start()
    name = unique("ts-live")
    got: dict[str, object] = {}

    def listen() -> None:
        found = pylsl.resolve_byprop("name", name, 1, ARRIVE_S)
        if found:
            with LslInlet(name) as inlet:
                got["block"] = pull_all(inlet, 150)

    listener = threading.Thread(target=listen)
    listener.start()
    try:
        r = CliRunner().invoke(
            main,
            ["live", "--device", "reference", "--port", dev.link, "--db", str(tmp_path / "d.db"),
             "--duration", "4", "--lsl-out", name],
            catch_exceptions=False,
        )  # fmt: skip
    finally:
        dev.close()
        feeder.join()
        listener.join()
    assert r.exit_code == 0, r.output
    block = got.get("block")
    assert block is not None and len(block) >= 50  # published while the session ran
    np.testing.assert_allclose(block.acc[:, 2], 1.0)  # the reference stream's z is exactly 1 g
    ids = np.round(block.acc[:, 0] * 8192).astype(int)
    assert np.all(np.diff(ids) == 1)  # consecutive samples, in order, none twice
