"""A sensor that switches between acc-only and acc+gyro (issue 14, item 5).

The fault: ``decode`` failed with a raw numpy error on captures that switch twice (serial-text,
and Polar Verity Sense with gyro), because ``LiveSource._take_pending`` stacked the two kinds
together when a split-off block was still waiting. ``live`` shares the code. Every case runs the
production path: ``decode_capture`` (the live source over the capture transport), the
``decode`` and ``replay --capture`` commands.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from capture_helpers import polar_payloads, serial_text_line, write_capture
from cli_helpers import isolated_home, run  # noqa: F401 - isolated_home is an autouse fixture

from firmware_bridge.io.capture_decode import capture_source, decode_capture
from firmware_bridge.transports.base import SERIAL_SRC
from tremorscope.store import Store

RATE_HZ = 100.0
ID_SCALE = 1e-4  # acc x = sample number x this (g): within any sensor's range


def _serial_text_switching(tmp_path, n_payloads=300, per=10):
    """Acc+gyro lines, acc-only lines, acc+gyro again, and payloads that switch twice within
    themselves (7, 4, 7 fields) so a split-off block is still waiting when the mode switches back."""
    rng = np.random.default_rng(0)
    payloads, kinds = [], []
    for k in range(n_payloads):
        lines = b""
        for i in range(per):
            n = k * per + i
            if 100 <= k < 200:
                with_gyro = False
            elif k % 37 == 5:
                with_gyro = i not in (3, 4)  # two switches inside one payload
            else:
                with_gyro = True
            acc = [n * ID_SCALE, 0.0, 1.0 + rng.normal(0, 0.01)]  # acc x numbers the sample
            gyro = [0.5, -0.5, 0.0] if with_gyro else None
            lines += serial_text_line(n * 10.0, acc, gyro)
            kinds.append(with_gyro)
        payloads.append(((k + 1) * per / RATE_HZ + 0.002, SERIAL_SRC, lines))
    return write_capture(tmp_path / "switch.jsonl", "serial-text", payloads), np.array(kinds)


def test_serial_text_switching_twice_decodes_every_sample_in_order(tmp_path):
    cap, kinds = _serial_text_switching(tmp_path)
    d = decode_capture(cap)
    n = kinds.size
    assert len(d.t) == n and np.all(np.diff(d.t) > 0)
    np.testing.assert_array_equal(np.round(d.acc[:, 0] / ID_SCALE), np.arange(n))  # once each, in order
    assert d.gyro is not None
    np.testing.assert_array_equal(~np.isnan(d.gyro[:, 0]), kinds)  # gyro where the sensor sent it
    np.testing.assert_allclose(d.gyro[kinds, 0], 0.5)
    assert d.acc_only_samples == int((~kinds).sum())


def test_live_source_blocks_never_mix_the_two_kinds(tmp_path):
    cap, kinds = _serial_text_switching(tmp_path)
    source, _ = capture_source(cap)
    seen = []
    for block in source:
        if len(block):
            assert block.gyro is None or block.gyro.shape == block.acc.shape
            seen.extend([block.gyro is not None] * len(block))
    np.testing.assert_array_equal(np.array(seen), kinds)


def test_decode_command_writes_every_sample_and_says_so(tmp_path):
    cap, kinds = _serial_text_switching(tmp_path)
    out = tmp_path / "rec.csv"
    result = run("decode", str(cap), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "switched between acc-only and acc+gyro" in result.output
    frame = pd.read_csv(out, comment="#")
    assert len(frame) == kinds.size
    np.testing.assert_array_equal(frame["gyro_x"].notna().to_numpy(), kinds)


def test_replay_capture_session_survives_the_switches(tmp_path):
    """``replay --capture`` runs the live session code: it completes, stores every raw sample,
    analyses the acc+gyro stream and counts the acc-only samples it could not analyse."""
    cap, kinds = _serial_text_switching(tmp_path)
    db = tmp_path / "log.db"
    result = run("replay", "--capture", "--db", str(db), str(cap))
    assert result.exit_code == 0, result.output
    with Store(db) as store:
        (session,) = store.sessions().to_dict("records")
        assert session["status"] == "complete"
        raw = list(store.iter_samples(int(session["id"])))
        extra = store.session(int(session["id"]))["extra_json"]
    assert sum(len(b) for b in raw) == kinds.size
    assert str(int((~kinds).sum())) in str(extra)


@pytest.mark.parametrize("stalls", [[(0.0, 6.0), (14.0, 30.0)], [(0.0, 4.0), (8.0, 12.0), (18.0, 30.0)]])
def test_polar_verity_gyro_stalling_and_resuming(tmp_path, stalls):
    """The gyro stream stops (acc is passed on alone after 2 s) and comes back, once or twice."""
    payloads = polar_payloads(seconds=26.0, rate_hz=52, per_frame=13, gyro_between=stalls)
    cap = write_capture(tmp_path / "v.jsonl", "polar-verity", payloads, {"gyro": "1"})
    d = decode_capture(cap)
    assert np.all(np.diff(d.t) > 0)
    assert d.gyro is not None and 0 < d.acc_only_samples < len(d.t)
    n_acc = 26 * 52 // 13 * 13
    assert len(d.t) >= n_acc - 13  # every acc sample (the last frame may wait for its gyro)
    has = ~np.isnan(d.gyro[:, 0])
    switches = int(np.count_nonzero(np.diff(has.astype(int))))
    assert switches >= 2 * (len(stalls) - 1)
    out = tmp_path / "v.csv"
    result = run("decode", str(cap), "-o", str(out))
    assert result.exit_code == 0, result.output
