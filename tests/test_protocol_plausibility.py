"""One bad frame cannot ruin a session's clock (issue 14, item 3).

Every case is a raw capture decoded by the production path (``decode_capture``: the live source,
the protocol's ``feed`` and the session clock), as ``tremorscope decode`` and ``live`` run it.
The fault: a reference frame with a valid CRC claiming ``rate=1e-30`` moved the remaining 2,995
samples to t = 5e30 s, recorded 600 fake gaps, and ``decode`` wrote ``sample_rate_hz: 0.0``; a
Polar sensor streaming 200 Hz while configured for 50 Hz got 19 false gaps.
"""

from __future__ import annotations

import numpy as np
import pytest
from capture_helpers import (
    POLAR_TS0_NS,
    polar_acc_frame,
    polar_payloads,
    reference_frame,
    reference_payloads,
    serial_text_line,
    write_capture,
)
from cli_helpers import isolated_home, run  # noqa: F401 - isolated_home is an autouse fixture

from firmware_bridge.io.capture_decode import decode_capture
from firmware_bridge.protocols import polar_pmd as pm
from firmware_bridge.protocols.base import MAX_CLOCK_LEAD_S, MIN_RATE_HZ
from firmware_bridge.protocols.reference import ReferenceFrameProtocol
from firmware_bridge.transports.base import SERIAL_SRC, RawPayload

RATE_HZ = 100.0
PER_FRAME = 5
N_FRAMES = 600  # 3,000 samples, 30 s
BAD_FRAME = 1  # the probe's: right at the start, so 2,995 samples follow it


def _steady(tmp_path, replace_frame=None, name="c.jsonl"):
    payloads = reference_payloads(N_FRAMES, PER_FRAME, RATE_HZ)
    if replace_frame is not None:
        k, data = replace_frame
        payloads[k] = (payloads[k][0], SERIAL_SRC, data)
    return write_capture(tmp_path / name, "reference", payloads)


def _bad_rows():
    rows = np.zeros((PER_FRAME, 6))
    rows[:, 2] = 1.0
    return rows


def _check_clock_unharmed(d, lost_frames: int = 1):
    t = d.t
    assert len(t) == (N_FRAMES - lost_frames) * PER_FRAME
    assert np.all(np.diff(t) > 0)
    assert t[-1] - t[0] < N_FRAMES * PER_FRAME / RATE_HZ + 1.0  # 30 s, not 5e30 s
    # the rejected frame's samples are a loss, told once and exactly
    assert len(d.stats.gaps) <= lost_frames
    assert sum(g["lost_samples"] or 0 for g in d.stats.gaps) == lost_frames * PER_FRAME
    assert d.rate_hz == pytest.approx(RATE_HZ, rel=0.01)


@pytest.mark.parametrize("bad_rate_hz", [1e-30, 0.5 * MIN_RATE_HZ])
def test_a_frame_claiming_an_impossible_rate_is_rejected_and_counted(tmp_path, bad_rate_hz):
    bad = reference_frame(BAD_FRAME, int(BAD_FRAME * PER_FRAME * 1e4), bad_rate_hz, _bad_rows())
    d = decode_capture(_steady(tmp_path, (BAD_FRAME, bad)))
    assert d.stats.implausible == 1
    assert d.stats.crc_errors == 0 and d.stats.malformed == 0  # the frame itself was valid
    assert d.stats.nominal_rate_hz == RATE_HZ
    _check_clock_unharmed(d)


def test_decode_never_writes_a_zero_sample_rate(tmp_path):
    bad = reference_frame(BAD_FRAME, int(BAD_FRAME * PER_FRAME * 1e4), 1e-30, _bad_rows())
    cap = _steady(tmp_path, (BAD_FRAME, bad))
    out = tmp_path / "rec.csv"
    result = run("decode", str(cap), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "1 implausible" in result.output
    meta = dict(line[2:].split(": ", 1) for line in out.read_text().splitlines() if line.startswith("# "))
    assert float(meta["sample_rate_hz"]) == pytest.approx(RATE_HZ, rel=0.01)


@pytest.mark.parametrize("ahead_us", [3_000_000_000, 4_000_000_000])  # 50 min; past half the u32 wrap
def test_a_sensor_clock_jump_ahead_of_the_host_is_rejected_and_does_not_fake_a_wrap(tmp_path, ahead_us):
    t_us = int(BAD_FRAME * PER_FRAME * 1e4) + ahead_us
    bad = reference_frame(BAD_FRAME, t_us, RATE_HZ, _bad_rows())
    d = decode_capture(_steady(tmp_path, (BAD_FRAME, bad)))
    assert d.stats.implausible == PER_FRAME
    assert not any(g["reason"] == "clock reset" for g in d.stats.gaps)
    _check_clock_unharmed(d)


def test_a_corrupt_sequence_number_fakes_no_loss(tmp_path):
    """A valid frame whose sequence number jumps by 30,000 while its timestamps run on."""
    bad = reference_frame(BAD_FRAME + 30_000, int(BAD_FRAME * PER_FRAME * 1e4), RATE_HZ, _bad_rows())
    d = decode_capture(_steady(tmp_path, (BAD_FRAME, bad)))
    assert len(d.t) == N_FRAMES * PER_FRAME
    assert d.stats.gaps == [] and d.stats.lost_samples == 0
    assert np.all(np.diff(d.t) > 0)


def test_a_real_long_pause_is_still_a_gap(tmp_path):
    """The device kept counting through 20 silent minutes (host time moved too): accepted, one
    gap of 20 minutes, nothing rejected."""
    pause_s = 1200.0
    payloads = reference_payloads(N_FRAMES, PER_FRAME, RATE_HZ)
    rng = np.random.default_rng(1)
    for k in range(N_FRAMES, N_FRAMES + 100):
        t_us = int(round((k * PER_FRAME / RATE_HZ + pause_s) * 1e6))
        host = (k + 1) * PER_FRAME / RATE_HZ + pause_s + 0.002
        rows = rng.normal(0, 0.01, (PER_FRAME, 6))
        rows[:, 2] += 1.0
        payloads.append((host, SERIAL_SRC, reference_frame(k, t_us, RATE_HZ, rows)))
    d = decode_capture(write_capture(tmp_path / "p.jsonl", "reference", payloads))
    assert d.stats.implausible == 0
    assert len(d.t) == (N_FRAMES + 100) * PER_FRAME
    (gap,) = d.stats.gaps
    assert gap["end_s"] - gap["start_s"] == pytest.approx(pause_s, abs=0.1)


def test_feed_keeps_the_nominal_rate_when_a_frame_lies():
    p = ReferenceFrameProtocol()
    good = reference_frame(0, 0, RATE_HZ, _bad_rows())
    assert len(p.feed(RawPayload(1.0, SERIAL_SRC, good))) == 1
    assert p.nominal_rate_hz == RATE_HZ
    bad = reference_frame(1, 50_000, 1e-30, _bad_rows())
    assert p.feed(RawPayload(1.05, SERIAL_SRC, bad)) == []
    assert p.nominal_rate_hz == RATE_HZ and p.counters.implausible == 1
    assert "impossible sample rate" in p.counters.last_error


def test_serial_text_line_with_an_absurd_time_loses_only_that_line(tmp_path):
    rng = np.random.default_rng(2)
    payloads = []
    for k in range(200):
        lines = b""
        for i in range(10):
            n = k * 10 + i
            t_ms = 1e12 if n == 555 else n * 10.0  # one line from a corrupted clock
            lines += serial_text_line(t_ms, [0.0, 0.0, 1.0 + rng.normal(0, 0.01)], [0.0, 0.0, 0.0])
        payloads.append(((k + 1) * 0.1 + 0.002, SERIAL_SRC, lines))
    d = decode_capture(write_capture(tmp_path / "s.jsonl", "serial-text", payloads))
    assert len(d.t) == 1999
    assert d.stats.implausible == 1
    assert np.all(np.diff(d.t) > 0) and d.t[-1] - d.t[0] < 21.0
    assert d.stats.gaps == []


@pytest.mark.parametrize(("configured_hz", "real_hz"), [(50, 200), (200, 50), (25, 100)])
def test_polar_trusts_frame_timestamps_over_the_configured_rate(tmp_path, configured_hz, real_hz):
    payloads = polar_payloads(seconds=30.0, rate_hz=real_hz, per_frame=real_hz // 5)
    cap = write_capture(tmp_path / "p.jsonl", "polar-h10", payloads, {"rate_hz": str(configured_hz)})
    d = decode_capture(cap)
    assert np.all(np.diff(d.t) > 0)
    # at most the first frames, before the timestamps showed the rate, look like a gap
    assert len(d.stats.gaps) <= (1 if configured_hz > real_hz else 0), d.stats.gaps
    spacing = np.median(np.diff(d.t))
    assert spacing == pytest.approx(1.0 / real_hz, rel=0.01)
    assert d.stats.effective_rate_hz == pytest.approx(real_hz, rel=0.02)


def test_polar_lost_frame_at_the_learned_rate_is_still_a_hole(tmp_path):
    """The learned spacing does not stretch over a lost frame: the hole stays in the times."""
    real_hz, per = 200, 40
    payloads = polar_payloads(seconds=20.0, rate_hz=real_hz, per_frame=per)
    del payloads[50]  # one frame lost on the link
    cap = write_capture(tmp_path / "p.jsonl", "polar-h10", payloads, {"rate_hz": "50"})
    d = decode_capture(cap)
    steps = np.diff(d.t[2 * per :])  # after the first frames, which taught the spacing
    assert steps.max() == pytest.approx((per + 1) / real_hz, abs=0.002)
    assert np.sum(steps > 1.5 / real_hz) == 1
    assert np.median(steps) == pytest.approx(1.0 / real_hz, rel=0.01)


def test_polar_frame_with_a_far_future_timestamp_is_rejected(tmp_path):
    payloads = polar_payloads(seconds=10.0, rate_hz=50, per_frame=10)
    rows = np.zeros((10, 3))
    rows[:, 2] = 1000.0
    bad_ts = POLAR_TS0_NS + int((MAX_CLOCK_LEAD_S + 3600) * 1e9)
    payloads[5] = (payloads[5][0], pm.DATA, polar_acc_frame(bad_ts, rows))
    d = decode_capture(write_capture(tmp_path / "p.jsonl", "polar-h10", payloads, {}))
    assert d.stats.implausible == 10
    assert np.all(np.diff(d.t) > 0) and d.t[-1] - d.t[0] < 11.0
    assert len(d.stats.gaps) <= 1
