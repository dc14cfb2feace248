"""A raw capture (``.jsonl``) as a recording: the reader interface the batch and replay use.

The capture is decoded by the live decode path (:func:`~firmware_bridge.io.capture_decode.
capture_source`: the protocol, the clock, the reconnect handling), streaming, in two passes: the
first only counts (the sample rate, whether there is a gyroscope), the second delivers the
samples. So a capture is analysed exactly as the canonical CSV that ``tremorscope decode``
writes from it: ``t`` from 0 at the first sample, the same rate (rounded to 3 decimals, as
decode writes it), missing gyroscope readings of a sensor that switched modes as NaN (rows the
detector skips and counts). Memory is bounded by the decoder's blocks, not the capture.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from firmware_bridge.io.capture import read_header
from firmware_bridge.io.capture_decode import capture_source
from firmware_bridge.protocols.base import MAX_RATE_HZ, MIN_RATE_HZ
from firmware_bridge.samples import SampleBlock

#: Sample steps whose median is the rate when the capture has gaps (the effective rate, samples
#: over time, is used otherwise, as ``Decoded.rate_hz``; decode takes the median of all steps).
RATE_MEDIAN_STEPS = 100_000
#: Decimals of the rate, as ``tremorscope decode`` writes it into the CSV's metadata.
RATE_DECIMALS = 3


def is_capture(head: bytes) -> bool:
    """Whether a file's first bytes are a capture header (``{"capture": "tremorscope", ...}``)."""
    first = head.split(b"\n", 1)[0].lstrip(b"\xef\xbb\xbf").strip()
    return first.startswith(b"{") and b'"capture"' in first and b'"tremorscope"' in first


class CaptureReader:
    """Stream a raw capture as :class:`SampleBlock` s (see the module docstring)."""

    placement = "wrist"  # a capture does not say; the canonical default (recordings/README.md)

    def __init__(self, path: str | os.PathLike[str], chunk_rows: int = 100_000) -> None:
        self.path = Path(path)
        self.chunk_rows = int(chunk_rows)
        self.header: dict[str, Any] = read_header(self.path)
        self.device = str(self.header["device"])
        self.meta: dict[str, str] = {}
        self.read_warnings: list[str] = []
        self._started = False
        self._progress = 0.0
        t_first, t_last, n, has_gyro, steps, stats = self._count()
        if n == 0:
            raise ValueError(f"{self.path}: the capture holds no decodable samples")
        self.has_gyro = has_gyro
        self._t_first = t_first
        self.sample_rate_hz = self._rate(stats, steps)
        origin = float(self.header.get("t0") or 0.0)
        self.start_time = (
            datetime.fromtimestamp(origin + t_first, tz=timezone.utc) if origin else None
        )  # the decode CSV's start_time: the capture's t0 plus its first sample's session time
        self.samples = n
        self.stats = None
        self._span_s = max(t_last - t_first, 1e-9)

    def _count(self) -> tuple[float, float, int, bool, np.ndarray, Any]:
        source, transport = capture_source(self.path)
        t_first = t_last = 0.0
        n = 0
        has_gyro = False
        steps: list[np.ndarray] = []
        kept = 0
        prev: float | None = None
        for block in source:
            if not len(block):
                continue
            if n == 0:
                t_first = float(block.t[0])
            t_last = float(block.t[-1])
            n += len(block)
            has_gyro |= block.gyro is not None
            if kept < RATE_MEDIAN_STEPS:
                t = block.t if prev is None else np.concatenate(([prev], block.t))
                steps.append(np.diff(t)[: RATE_MEDIAN_STEPS - kept])
                kept += steps[-1].size
            prev = t_last
        self.read_warnings = list(transport.bad_lines)
        return t_first, t_last, n, has_gyro, np.concatenate(steps) if steps else np.empty(0), source.stats

    def _rate(self, stats: Any, steps: np.ndarray) -> float:
        effective = stats.effective_rate_hz if not stats.gaps else None
        median = None
        if steps.size > 1:
            step = float(np.median(steps))
            median = 1.0 / step if step > 0 else None
        for rate in (effective, median, stats.nominal_rate_hz):
            if rate is not None and MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
                return round(float(rate), RATE_DECIMALS)
        raise ValueError(f"{self.path}: no plausible sample rate in the capture")

    @property
    def t0_s(self) -> float:
        return 0.0

    @property
    def progress(self) -> float:
        return self._progress

    def blocks(self) -> Iterator[SampleBlock]:
        """The samples, ``t`` from 0 at the first, in blocks of at most ``chunk_rows`` (one pass)."""
        if self._started:
            raise RuntimeError(f"{self.path.name}: blocks() can be iterated only once")
        self._started = True
        return self._iter_blocks()

    def _iter_blocks(self) -> Iterator[SampleBlock]:
        source, _ = capture_source(self.path)
        parts: list[SampleBlock] = []
        have = 0
        for block in source:
            if not len(block):
                continue
            parts.append(self._shape(block))
            have += len(block)
            while have >= self.chunk_rows:  # blocks of exactly chunk_rows, the rest carried on
                whole = self._join(parts)
                n = self.chunk_rows
                yield SampleBlock(whole.t[:n], whole.acc[:n], None if whole.gyro is None else whole.gyro[:n])
                rest = SampleBlock(whole.t[n:], whole.acc[n:], None if whole.gyro is None else whole.gyro[n:])
                parts, have = ([rest], len(rest.t)) if len(rest.t) else ([], 0)
        if parts:
            yield self._join(parts)
        self._progress = 1.0

    def _shape(self, block: Any) -> SampleBlock:
        t = np.asarray(block.t, dtype=np.float64) - self._t_first
        self._progress = min(float(t[-1]) / self._span_s, 1.0)
        gyro = block.gyro
        if self.has_gyro and gyro is None:  # a mode switch: no gyroscope reading is NaN, as decode
            gyro = np.full((len(t), 3), np.nan)
        return SampleBlock(
            t=t, acc=np.asarray(block.acc, dtype=np.float64), gyro=gyro if self.has_gyro else None
        )

    @staticmethod
    def _join(parts: list[SampleBlock]) -> SampleBlock:
        if len(parts) == 1:
            return parts[0]
        gyro = None if parts[0].gyro is None else np.vstack([p.gyro for p in parts])
        return SampleBlock(
            t=np.concatenate([p.t for p in parts]), acc=np.vstack([p.acc for p in parts]), gyro=gyro
        )

    def close(self) -> None:
        """Nothing stays open between blocks."""

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
