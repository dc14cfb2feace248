"""``tremorscope batch`` takes raw captures (.jsonl): the same episodes as the CSV that
``tremorscope decode`` writes from the capture, fed to the batch (both through the live decode
path). The capture carries a simulated rest tremor, framed as the reference firmware sends it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from capture_helpers import reference_frame, write_capture
from click.testing import CliRunner

pytest.importorskip(
    "distributed", reason="dask.distributed is not installed (pip install 'tremorscope[cohort]')"
)
pytest.importorskip("pyarrow", reason="pyarrow is not installed (pip install 'tremorscope[cohort]')")

from firmware_bridge import simulator  # noqa: E402
from firmware_bridge.io import find_format, open_recording  # noqa: E402
from firmware_bridge.io.capture_decode import decode_capture  # noqa: E402
from firmware_bridge.transports.base import SERIAL_SRC  # noqa: E402
from tremorscope.cli import main  # noqa: E402
from tremorscope.cohort import analyse_recording  # noqa: E402

RATE_HZ = 100.0
PER_FRAME = 5
SIM_S = 120.0


def tremor_capture(path, seconds=SIM_S, gyro=True):
    """A capture of the reference firmware streaming a simulated rest tremor."""
    frame = simulator.simulate("rest_tremor", duration_s=seconds, seed=11, gyro=gyro).frame
    cols = ["acc_x", "acc_y", "acc_z"] + (["gyro_x", "gyro_y", "gyro_z"] if gyro else [])
    rows = frame[cols].to_numpy()
    payloads = []
    for k in range(len(rows) // PER_FRAME):
        t_us = int(round(k * PER_FRAME * 1e6 / RATE_HZ))
        host = (k + 1) * PER_FRAME / RATE_HZ + 0.002
        chunk = rows[k * PER_FRAME : (k + 1) * PER_FRAME]
        payloads.append((host, SERIAL_SRC, reference_frame(k, t_us, RATE_HZ, chunk, gyro)))
    return write_capture(path, "reference", payloads)


def test_a_capture_in_the_batch_equals_its_decoded_csv(tmp_path):
    cap = tremor_capture(tmp_path / "sub-07.jsonl")
    assert find_format(cap).name == "capture-jsonl"
    renamed = tmp_path / "capture.dat"  # known by its first bytes too
    renamed.write_bytes(cap.read_bytes())
    assert find_format(renamed).name == "capture-jsonl"

    decoded = tmp_path / "decoded.csv"
    r = CliRunner().invoke(main, ["decode", str(cap), "-o", str(decoded)])
    assert r.exit_code == 0, r.output
    from_csv = analyse_recording(decoded, block_samples=997)
    from_capture = analyse_recording(cap, block_samples=997)
    assert from_capture.quality["status"] == "ok", from_capture.quality
    assert from_capture.quality["format"] == "capture-jsonl"
    assert from_capture.quality["sample_rate_hz"] == from_csv.quality["sample_rate_hz"]
    assert from_capture.quality["person"] == "07"  # the BIDS-style name says who
    eps, ref = from_capture.episodes, from_csv.episodes
    assert (eps["kind"] == "tremor").sum() >= 1  # the simulated tremor is found
    pd.testing.assert_frame_equal(eps, ref, check_exact=True)
    pd.testing.assert_frame_equal(from_capture.minutes, from_csv.minutes, check_exact=True)


def test_capture_blocks_are_bounded_and_t_starts_at_zero(tmp_path):
    cap = tremor_capture(tmp_path / "c.jsonl", seconds=30, gyro=False)
    with open_recording(cap, chunk_rows=700) as reader:
        assert reader.has_gyro is False and reader.sample_rate_hz == pytest.approx(RATE_HZ, abs=0.01)
        blocks = list(reader.blocks())
    assert max(len(b.t) for b in blocks) == 700 and len(blocks) == 5
    t = np.concatenate([b.t for b in blocks])
    ref = decode_capture(cap)  # what `tremorscope decode` writes, as the CSV's t
    np.testing.assert_array_equal(t, ref.t - ref.t[0])
    assert t.size > 2900 and np.all(np.diff(t) > 0)


def test_cli_batch_takes_a_folder_with_a_capture(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    tremor_capture(folder / "p1.jsonl", seconds=60)
    r = CliRunner().invoke(main, ["batch", str(folder), "--out", str(tmp_path / "out"), "--workers", "1"])
    assert r.exit_code == 0, r.output
    q = pd.read_csv(tmp_path / "out" / "quality.csv")
    assert list(q["recording"]) == ["p1.jsonl"] and list(q["status"]) == ["ok"]
