"""Fuzzing every protocol through the decode path a live session uses (issue 14, "make it
systematic").

Each example is a raw capture of one device: structurally valid frames (built as in each
protocol's own tests from its documented layout) with hostile changes drawn by hypothesis:
mode switches (acc-only / acc+gyro), bogus declared rates, counter and clock jumps, absurd values,
flipped bytes, payloads split or merged anywhere, garbage payloads and stalled links. It is decoded
by ``decode_capture`` (the live source over the capture transport: protocol ``feed``, session
clock, blocks), exactly what ``live`` and ``decode`` run.

Whatever the input: no exception escapes, every sample that comes out has a finite time after
the one before, finite values within any sensor's range (NaN gyroscope only on the rows of a
mode-switching capture that had none), times within the capture's host span (plus the allowed
clock lead), a plausible rate, and no more samples than were sent.
"""

from __future__ import annotations

import struct
import tempfile
import time
from pathlib import Path

import numpy as np
from capture_helpers import (
    POLAR_TS0_NS,
    polar_acc_frame,
    polar_gyro_frame,
    reference_frame,
    serial_text_line,
    write_capture,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge.io.capture_decode import decode_capture
from firmware_bridge.protocols import metamotion as mm
from firmware_bridge.protocols import microbit as mb
from firmware_bridge.protocols import movesense as ms
from firmware_bridge.protocols import polar_pmd as pm
from firmware_bridge.protocols import witmotion as wm
from firmware_bridge.protocols.base import MAX_CLOCK_LEAD_S, MAX_RATE_HZ, MIN_RATE_HZ
from firmware_bridge.samples import MAX_ABS_ACC_G, MAX_ABS_GYRO_DPS
from firmware_bridge.transports.base import SERIAL_SRC

FUZZ = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
#: Wall time one decode may take (s): a few hundred frames; a loop driven by timestamp values
#: instead of data would blow it.
MAX_DECODE_S = 20.0
#: Slack (s) on the session-time bounds: the clock re-anchors a broken sensor clock to host time
#: within ``REANCHOR`` limits (5 s) and never steps back (a period per frame).
TIME_SLACK_S = 30.0

RATES = st.sampled_from([100.0, 50.0, 200.0, 25.0, 1e-30, 0.5, 9999.0, 1e5, float("nan")])
I16 = st.integers(-32768, 32767)


@st.composite
def hostile(draw, n_min: int = 3, n_max: int = 40):
    """Per-frame knobs: which frames switch mode, jump their counter or clock, carry absurd
    values or a bogus rate, get a flipped byte."""
    n = draw(st.integers(n_min, n_max))

    def per(p: float) -> list[bool]:
        return [x < p for x in draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))]

    return {
        "n": n,
        "gyro_off": per(0.3),
        "seq_jump": per(0.1),
        "clock_jump": per(0.1),
        "extreme": per(0.15),
        "bad_rate": per(0.1),
        "flip": per(0.1),
        "garbage": per(0.05),
        "stall_after": draw(st.one_of(st.none(), st.integers(1, n))),
        "stall_s": draw(st.sampled_from([0.0, 3.0, 120.0])),
        "cuts": draw(st.lists(st.integers(1, 10_000), max_size=8)),
        "seed": draw(st.integers(0, 2**16)),
        "rate": draw(RATES),
        "jump": draw(st.sampled_from([1e9, -1e9, 2**31, 1e300, 5.0, 3600.0])),
        "per_frame": draw(st.integers(1, 40)),
    }


def _host_times(h: dict, n: int, period_s: float) -> list[float]:
    out, t = [], 0.0
    for k in range(n):
        t += period_s
        if h["stall_after"] is not None and k == h["stall_after"]:
            t += h["stall_s"]
        out.append(t)
    return out


def _corrupt(h: dict, payloads: list[tuple[float, str, bytes]], rng):
    """Flip bytes, add garbage payloads, and re-split the byte stream of each source anywhere;
    also how many garbage bytes were added (random bytes can be a valid sample)."""
    out = []
    extra = 0
    for k, (t, src, data) in enumerate(payloads):
        data = bytearray(data)
        if h["flip"][k % h["n"]] and data:
            data[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
        out.append((t, src, bytes(data)))
        if h["garbage"][k % h["n"]]:
            junk = rng.bytes(int(rng.integers(1, 64)))
            extra += len(junk)
            out.append((t + 1e-4, src, junk))
    if not h["cuts"] or out[0][1] != SERIAL_SRC:
        return out, extra  # BLE notifications stay whole; a byte stream splits anywhere
    stream = b"".join(d for _, _, d in out)
    cuts = sorted({c % max(len(stream), 1) for c in h["cuts"]} | {0, len(stream)})
    span = out[-1][0]
    resplit = [
        (span * b / max(len(stream), 1), SERIAL_SRC, stream[a:b])
        for a, b in zip(cuts[:-1], cuts[1:])
        if b > a
    ]
    return resplit, extra


def _reference(h: dict):
    rng = np.random.default_rng(h["seed"])
    per = h["per_frame"]
    rate = 100.0
    hosts = _host_times(h, h["n"], per / rate)
    payloads, sent = [], 0
    for k in range(h["n"]):
        gyro = not h["gyro_off"][k]
        rows = rng.normal(0, 0.01, (per, 6))
        rows[:, 2] += 1.0
        if h["extreme"][k]:
            rows[:, 0] = 4.0  # int16 full scale (+-4 g at 8192 LSB/g)
        t_us = int(round(hosts[k] * 1e6 - per / rate * 1e6))
        if h["clock_jump"][k]:
            t_us = int(abs(h["jump"]) % (1 << 32))
        seq = k + (12_345 if h["seq_jump"][k] else 0)
        frame_rate = h["rate"] if h["bad_rate"][k] else rate
        if not np.isfinite(frame_rate):
            frame_rate = float("nan")
        payloads.append((hosts[k], SERIAL_SRC, reference_frame(seq, t_us, frame_rate, rows, gyro)))
        sent += per
    return "reference", payloads, sent, {}


def _serial_text(h: dict):
    rng = np.random.default_rng(h["seed"])
    per = h["per_frame"]
    hosts = _host_times(h, h["n"], per / 100.0)
    payloads, sent = [], 0
    for k in range(h["n"]):
        lines = b""
        for i in range(per):
            n = k * per + i
            t_ms = (hosts[k] - (per - i) / 100.0) * 1000.0
            if h["clock_jump"][k] and i == 0:
                t_ms = h["jump"]
            acc = list(rng.normal(0, 0.01, 3) + [0, 0, 1])
            gyro = None if h["gyro_off"][k] else list(rng.normal(0, 0.1, 3))
            if h["extreme"][k] and i % 3 == 0:
                acc[0] = 1e307
                if gyro is not None:
                    gyro[1] = -1e307
            lines += serial_text_line(t_ms, acc, gyro)
            sent += 1
            if h["garbage"][k] and i == 0:
                lines += b"ets Jul 29 2019 boot:0x13 nan,inf,,\n"
            del n
        payloads.append((hosts[k], SERIAL_SRC, lines))
    unit = ["dps", "rad/s", "mdps"][h["seed"] % 3]
    return "serial-text", payloads, sent, {"gyro_unit": unit}


def _polar(h: dict, verity: bool):
    rng = np.random.default_rng(h["seed"])
    real_hz = [26, 52, 104, 208][h["seed"] % 4] if verity else [25, 50, 100, 200][h["seed"] % 4]
    per = max(1, min(h["per_frame"], 36))
    hosts = _host_times(h, h["n"], per / real_hz)
    step_ns = int(round(1e9 / real_hz))
    payloads, sent = [], 0
    for k in range(h["n"]):
        last = POLAR_TS0_NS + int(round(hosts[k] * 1e9)) - step_ns
        if h["clock_jump"][k]:
            last = int(min(abs(h["jump"]), 1.8e10) * 1e9) % (1 << 64)  # any u64 timestamp
        acc = rng.normal(0, 10, (per, 3))
        acc[:, 2] += 1000.0
        if h["extreme"][k]:
            acc[:, 0] = 32767  # +-32.767 g in mG: the int16 limit
        payloads.append((hosts[k], pm.DATA, polar_acc_frame(last, acc)))
        sent += per
        if verity and not h["gyro_off"][k]:
            g = rng.normal(0, 20, (per, 3))
            if h["extreme"][k]:
                g[:, 1] = 30000
            payloads.append((hosts[k] + 1e-3, pm.DATA, polar_gyro_frame(last, g)))
    options = {"rate_hz": str([52, 104][h["seed"] % 2] if verity else [25, 50, 100, 200][h["seed"] % 4])}
    if verity:
        options["gyro"] = "1"
    return ("polar-verity" if verity else "polar-h10"), payloads, sent, options


def _witmotion(h: dict):
    rng = np.random.default_rng(h["seed"])
    hosts = _host_times(h, h["n"], 0.01 * h["per_frame"])
    payloads, sent = [], 0
    for k in range(h["n"]):
        data = b""
        for _ in range(h["per_frame"]):
            v = rng.integers(-32768, 32767, 9) if h["extreme"][k] else rng.integers(-300, 300, 9)
            data += bytes([0x55, 0x61]) + struct.pack("<9h", *(int(x) for x in v))
            sent += 1
        payloads.append((hosts[k], wm.NOTIFY, data))
    return "witmotion", payloads, sent, {}


def _microbit(h: dict):
    rng = np.random.default_rng(h["seed"])
    hosts = _host_times(h, h["n"], 0.02)
    payloads = []
    for k in range(h["n"]):
        v = rng.integers(-32768, 32767, 3) if h["extreme"][k] else rng.integers(-1100, 1100, 3)
        payloads.append((hosts[k], mb.DATA, struct.pack("<3h", *(int(x) for x in v))))
    return "microbit", payloads, h["n"], {}


def _metamotion(h: dict):
    rng = np.random.default_rng(h["seed"])
    hosts = _host_times(h, h["n"], 0.01)
    payloads = []
    for k in range(h["n"]):
        v = rng.integers(-32768, 32767, 3) if h["extreme"][k] else rng.integers(-5000, 5000, 3)
        payloads.append((hosts[k], mm.NOTIFY, bytes([0x03, 0x04]) + struct.pack("<3h", *(int(x) for x in v))))
        if not h["gyro_off"][k]:
            g = rng.integers(-2000, 2000, 3)
            payloads.append(
                (hosts[k] + 1e-4, mm.NOTIFY, bytes([0x13, 0x05]) + struct.pack("<3h", *(int(x) for x in g)))
            )
    return "metamotion", payloads, h["n"], {"gyro": "1", "model": "bmi160"}


def _movesense(h: dict):
    rng = np.random.default_rng(h["seed"])
    per = max(1, min(h["per_frame"], 8))
    rate = 52.0
    hosts = _host_times(h, h["n"], per / rate)
    payloads, sent = [], 0
    for k in range(h["n"]):
        t_ms = int(round((hosts[k] - per / rate) * 1000)) % (1 << 32)
        if h["clock_jump"][k]:
            t_ms = int(abs(h["jump"]) % (1 << 32))
        acc = rng.normal(0, 0.1, (per, 3)) + [0, 0, 9.81]
        gyro = rng.normal(0, 1.0, (per, 3))
        if h["extreme"][k]:
            acc[0, 0] = 3.0e38  # float32: far beyond any accelerometer (m/s2)
            gyro[0, 1] = float("inf")
        body = struct.pack("<I", t_ms) + struct.pack(f"<{acc.size}f", *acc.ravel())
        body += struct.pack(f"<{gyro.size}f", *gyro.ravel())
        payloads.append((hosts[k], ms.NOTIFY, bytes([2, 99]) + body))
        sent += per
    return "movesense", payloads, sent, {"rate_hz": "52"}


BUILDERS = {
    "reference": _reference,
    "serial-text": _serial_text,
    "polar-h10": lambda h: _polar(h, verity=False),
    "polar-verity": lambda h: _polar(h, verity=True),
    "witmotion": _witmotion,
    "microbit": _microbit,
    "metamotion": _metamotion,
    "movesense": _movesense,
}


def _check(device: str, payloads, sent: int, options: dict, h: dict) -> None:
    rng = np.random.default_rng(h["seed"] + 1)
    payloads, extra = _corrupt(h, payloads, rng)
    sent += extra
    with tempfile.TemporaryDirectory() as tmp:
        cap = write_capture(Path(tmp) / "c.jsonl", device, payloads, options)
        began = time.monotonic()
        d = decode_capture(cap)
        took = time.monotonic() - began
    assert took < MAX_DECODE_S
    t, acc, gyro = d.t, d.acc, d.gyro
    assert len(t) <= sent
    assert np.isfinite(t).all() and np.all(np.diff(t) > 0)
    host_span = max(p[0] for p in payloads)
    assert t.size == 0 or (
        t[0] > -MAX_CLOCK_LEAD_S - TIME_SLACK_S and t[-1] < host_span + MAX_CLOCK_LEAD_S + TIME_SLACK_S
    )
    assert np.isfinite(acc).all() and (np.abs(acc) <= MAX_ABS_ACC_G).all()
    if gyro is not None:
        missing = np.isnan(gyro).all(axis=1)
        assert int(missing.sum()) == d.acc_only_samples
        g = gyro[~missing]
        assert np.isfinite(g).all() and (np.abs(g) <= MAX_ABS_GYRO_DPS).all()
    rate = d.rate_hz
    assert rate is None or MIN_RATE_HZ <= rate <= MAX_RATE_HZ or len(t) < 2
    for gap in d.stats.gaps:
        assert np.isfinite(gap["start_s"]) and gap["start_s"] <= gap["end_s"]
    assert len(d.stats.gaps) <= sent  # a gap is told once, before a batch that came


def _fuzz(device: str):
    @FUZZ
    @given(h=hostile())
    def run(h):
        _check(*BUILDERS[device](h), h)

    return run


test_fuzz_reference = _fuzz("reference")
test_fuzz_serial_text = _fuzz("serial-text")
test_fuzz_polar_h10 = _fuzz("polar-h10")
test_fuzz_polar_verity_with_gyro = _fuzz("polar-verity")
test_fuzz_witmotion = _fuzz("witmotion")
test_fuzz_microbit = _fuzz("microbit")
test_fuzz_metamotion_with_gyro = _fuzz("metamotion")
test_fuzz_movesense = _fuzz("movesense")


@FUZZ
@given(
    device=st.sampled_from(sorted(BUILDERS)),
    chunks=st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=30),
)
def test_fuzz_random_bytes_on_every_protocol(device, chunks):
    """Bytes that were never a frame: counted by the decoder, nothing comes out that is not a
    finite, in-range, increasing sample."""
    src = {
        "polar-h10": pm.DATA,
        "polar-verity": pm.DATA,
        "witmotion": wm.NOTIFY,
        "microbit": mb.DATA,
        "metamotion": mm.NOTIFY,
        "movesense": ms.NOTIFY,
    }.get(device, SERIAL_SRC)
    payloads = [(0.01 * (i + 1), src, c) for i, c in enumerate(chunks)]
    h = {"n": 1, "flip": [False], "garbage": [False], "cuts": [], "seed": 0}
    _check(device, payloads, sum(len(c) for c in chunks), {}, h)
