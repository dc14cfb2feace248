"""Decode a raw capture into samples through the live decode path.

``decode_capture`` replays the capture with :class:`CaptureTransport` inside the same
:class:`LiveSource` a live session uses (protocol, timestamps, reconnect handling), so a
capture decodes to exactly what the live session saw. ``write_decoded_csv`` writes the
canonical recording format with full float precision (the shortest text that reads
back to the same double), so values keep the device's documented scale exactly.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from firmware_bridge.io.capture import iter_payloads
from firmware_bridge.live import LiveSource, LiveStats
from firmware_bridge.protocols.base import MAX_RATE_HZ, MIN_RATE_HZ
from firmware_bridge.protocols.registry import make_protocol
from firmware_bridge.transports.capture import CaptureTransport


@dataclass
class Decoded:
    """Samples decoded from a capture; ``t`` is session time (0 = the capture's ``t0``)."""

    t: np.ndarray
    acc: np.ndarray
    gyro: np.ndarray | None
    stats: LiveStats
    header: dict[str, Any]
    bad_lines: list[str]
    acc_only_samples: int = 0  # samples without gyroscope in a capture that also has some with it

    @property
    def rate_hz(self) -> float | None:
        """The sample rate: samples over time when no gap stretches the time, else the median
        spacing, else what the device declared; the first that is a plausible rate."""
        st = self.stats
        effective = st.effective_rate_hz if not st.gaps else None
        median = None
        if len(self.t) > 2:
            step = float(np.median(np.diff(self.t)))
            median = 1.0 / step if step > 0 else None
        for rate in (effective, median, st.nominal_rate_hz):
            if rate is not None and MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
                return rate
        return None


def capture_source(
    path: str | Path, device: str | None = None, options: Mapping[str, str] | None = None
) -> tuple[LiveSource, CaptureTransport]:
    """A :class:`LiveSource` that replays ``path`` (the device from the header unless given)."""
    transport = CaptureTransport(path)
    header = transport.header
    name = device or str(header["device"])
    opts = dict(header.get("options") or {})
    opts.update(options or {})
    protocol = make_protocol(name, **opts)
    origin = header.get("t0")
    if origin is None:  # a hand-made capture: time 0 is its first payload
        first = next(iter_payloads(path), None)
        origin = first.t if first is not None else 0.0
    source = LiveSource(
        transport,
        protocol,
        device=name,
        origin_s=float(origin),
        backoff_s=(0.0, 0.0),
        watchdog_s=None,
        first_connect_timeout_s=None,
        poll_s=0.0,
    )
    return source, transport


def decode_capture(
    path: str | Path, device: str | None = None, options: Mapping[str, str] | None = None
) -> Decoded:
    """All samples of a capture, in session time."""
    source, transport = capture_source(path, device, options)
    ts, accs, gyros = [], [], []
    for block in source:
        if len(block):
            ts.append(block.t)
            accs.append(block.acc)
            gyros.append(block.gyro)
    t = np.concatenate(ts) if ts else np.empty(0)
    acc = np.vstack(accs) if accs else np.empty((0, 3))
    gyro = None
    acc_only = 0
    if any(g is not None for g in gyros):
        # a sensor that switched modes: keep every sample; no gyroscope reading is NaN (an empty
        # cell in the CSV), never a gyroscope value made up
        acc_only = sum(len(a) for a, g in zip(accs, gyros) if g is None)
        gyro = np.vstack([np.full((len(a), 3), np.nan) if g is None else g for a, g in zip(accs, gyros)])
    return Decoded(t, acc, gyro, source.stats, transport.header, transport.bad_lines, acc_only)


def write_decoded_csv(path: str | Path, decoded: Decoded, meta: Mapping[str, object]) -> Path:
    """Canonical recording CSV, ``t`` from 0 at the first sample, full precision, mode 0600."""
    out = Path(path)
    if len(decoded.t) == 0:
        raise ValueError("the capture holds no decodable samples; nothing to write")
    frame = pd.DataFrame(
        {
            "t": decoded.t - decoded.t[0],
            "acc_x": decoded.acc[:, 0],
            "acc_y": decoded.acc[:, 1],
            "acc_z": decoded.acc[:, 2],
        }
    )
    if decoded.gyro is not None:
        for i, axis in enumerate("xyz"):
            frame[f"gyro_{axis}"] = decoded.gyro[:, i]
    lines = "".join(f"# {k}: {v}\n" for k, v in meta.items() if v is not None)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(lines)
            frame.to_csv(fh, index=False, lineterminator="\n")  # repr floats: exact
        os.chmod(tmp, 0o600)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return out
