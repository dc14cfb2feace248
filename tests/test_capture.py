"""Raw capture files: format, errors naming file:line, replay through the live decode path."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
from bridge_helpers import reference_stream, sample_ids

from firmware_bridge.io.capture import CaptureError, CaptureWriter, read_capture, read_header
from firmware_bridge.io.capture_decode import decode_capture
from firmware_bridge.live import LiveSource
from firmware_bridge.protocols.reference import ReferenceFrameProtocol
from firmware_bridge.transports.base import RawPayload, TransportEnded, TransportLost
from firmware_bridge.transports.capture import CaptureTransport

T0 = 1_700_000_000.0


def write_capture(path, frames, disconnect_after=None, extra_lines=()):
    with CaptureWriter(path, {"device": "reference", "transport": "serial", "t0": T0}) as w:
        for i, seq in enumerate(frames):
            w.write(RawPayload(T0 + 0.1 + seq * 0.05, "serial", reference_stream(seq)))
            if disconnect_after is not None and i == disconnect_after:
                w.event("disconnected", t=T0 + 0.1 + seq * 0.05 + 0.01, reason="link lost")
    if extra_lines:
        with open(path, "a") as fh:
            fh.writelines(extra_lines)


def test_format_matches_the_issue(tmp_path):
    p = tmp_path / "c.jsonl"
    write_capture(p, range(3))
    lines = p.read_text().splitlines()
    head = json.loads(lines[0])
    assert head["capture"] == "tremorscope" and head["version"] == 1
    assert head["device"] == "reference" and head["transport"] == "serial"
    body = json.loads(lines[1])
    assert set(body) == {"t", "src", "hex"} and body["src"] == "serial"
    assert bytes.fromhex(body["hex"]) == reference_stream(0)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    cap = read_capture(p)
    assert len(cap.payloads) == 3 and cap.payloads[1].t == pytest.approx(T0 + 0.15)


@pytest.mark.parametrize(
    "first, match",
    [
        ("", "empty file"),
        ("not json\n", "c.jsonl:1: not JSON"),
        ('{"capture": "other"}\n', 'lacks "capture": "tremorscope"'),
        ('{"capture": "tremorscope", "version": 9, "device": "x"}\n', "version 9 is not supported"),
        ('{"capture": "tremorscope", "version": 1}\n', "no device"),
    ],
)
def test_bad_header_is_a_one_line_error_naming_file_and_line(tmp_path, first, match):
    p = tmp_path / "c.jsonl"
    p.write_text(first)
    with pytest.raises(CaptureError, match=match) as e:
        read_header(p)
    assert "\n" not in str(e.value)


def test_bad_and_truncated_lines_are_skipped_not_fatal(tmp_path):
    p = tmp_path / "c.jsonl"
    write_capture(
        p, range(4), extra_lines=['{"t": 1, "src": "serial", "hex": "zz"}\n', '{"t": 1700000001.3, "src']
    )
    cap = read_capture(p)
    assert len(cap.payloads) == 4
    assert len(cap.bad_lines) == 2 and cap.bad_lines[0].startswith(f"{p}:6:")
    d = decode_capture(p)
    assert sample_ids([d]) == list(range(20))
    assert len(d.bad_lines) == 2


def test_recorded_disconnect_replays_as_a_link_loss(tmp_path):
    p = tmp_path / "c.jsonl"
    write_capture(p, [0, 1, 2, 3, 10, 11], disconnect_after=3)
    tr = CaptureTransport(p)
    tr.open([])
    got = [tr.recv().data for _ in range(4)]
    assert got[0] == reference_stream(0)
    with pytest.raises(TransportLost):
        tr.recv()
    tr.open([])
    assert tr.recv().data == reference_stream(10)
    tr.recv()
    with pytest.raises(TransportEnded):
        tr.recv()


def test_replay_gives_the_same_samples_and_gaps_as_live(tmp_path):
    p = tmp_path / "c.jsonl"
    frames = [0, 1, 2, 3, 10, 11]
    write_capture(p, frames, disconnect_after=3)
    d = decode_capture(p)
    assert sample_ids([d]) == [s * 5 + i for s in frames for i in range(5)]
    (gap,) = d.stats.gaps
    assert gap["reason"] == "disconnected" and gap["lost_samples"] == 30
    assert d.t[0] == pytest.approx(0.1 - 0.04, abs=1e-6)  # session time from the capture t0
    assert np.all(np.diff(d.t) > 0)
    # same result through a LiveSource over the live (virtual) path
    from firmware_bridge.transports.virtual import VirtualTransport

    v = VirtualTransport()
    src = LiveSource(v, ReferenceFrameProtocol(), origin_s=T0, watchdog_s=None, backoff_s=(0, 0))
    src.connect()
    cap = read_capture(p)
    for payload in cap.payloads[:4]:
        v.inject(payload.data, payload.src, payload.t)
    it = iter(src)
    blocks = [next(it) for _ in range(4)]
    np.testing.assert_allclose(np.concatenate([b.t for b in blocks]), d.t[:20])
    src.stop()
    list(it)
