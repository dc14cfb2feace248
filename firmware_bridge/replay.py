"""Replay a recording as a live-like stream of sample blocks.

:class:`ReplaySource` cuts a recording into blocks of about ``block_s`` of
stream time and, when ``speed`` is given, releases each block when a live
sensor would have delivered its last sample, at ``speed`` times real time.
Deadlines are computed from one monotonic start instant, so sleeping never
accumulates drift; a consumer that falls behind catches up without sleeping.
Gaps in the recording are replayed as silence, like a live sensor. :meth:`ReplaySource.stop`
(safe from a signal handler or another thread) cuts a pacing wait short and ends the
iteration after the block in hand.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime

import numpy as np

from firmware_bridge.io.recording import ReadStats, RecordingReader
from firmware_bridge.samples import SampleBlock

#: Longest single wait while pacing (s): a gap of any length is waited out in such slices,
#: since one wait of an implausible length (1e12 s) overflows the platform's time_t.
PACE_WAIT_SLICE_S = 60.0


class ReplaySource:
    """Iterate a recording as :class:`SampleBlock` s of about ``block_s`` each.

    ``path_or_reader`` is a recording path (opened and closed here) or an open
    :class:`RecordingReader` (left to its owner). ``speed=None`` replays as fast
    as possible; ``speed=50`` makes stream time advance 50x faster than wall time.
    Iterate once. ``reader`` gives metadata and skipped-row counts, ``progress``
    the fraction replayed (0..1).
    """

    def __init__(
        self,
        path_or_reader: str | os.PathLike[str] | RecordingReader,
        speed: float | None = None,
        block_s: float = 1.0,
    ) -> None:
        if speed is not None and not (math.isfinite(speed) and speed > 0):
            raise ValueError(f"speed must be a positive number or None (max), got {speed}")
        if not (math.isfinite(block_s) and block_s > 0):
            raise ValueError(f"block_s must be a positive number of seconds, got {block_s}")
        if isinstance(path_or_reader, (str, os.PathLike)):
            self.reader = RecordingReader(path_or_reader)
            self._owns_reader = True
        else:  # an open reader: RecordingReader, or one like it (firmware_bridge.io.bids.BidsMotionReader)
            self.reader = path_or_reader
            self._owns_reader = False
        self.speed = None if speed is None else float(speed)
        self.block_s = float(block_s)
        self._progress = 0.0
        self._stop = threading.Event()
        self._carry: SampleBlock | None = None  # samples cut off the last block, not yet yielded

    def stop(self) -> None:
        """End the iteration at the next block (a pacing wait returns at once)."""
        self._stop.set()

    # Pass-throughs so a session runner can treat this like a live source.
    @property
    def sample_rate_hz(self) -> float:
        return self.reader.sample_rate_hz

    @property
    def placement(self) -> str:
        return self.reader.placement

    @property
    def has_gyro(self) -> bool:
        return self.reader.has_gyro

    @property
    def device(self) -> str | None:
        return self.reader.device

    @property
    def start_time(self) -> datetime | None:
        return self.reader.start_time

    @property
    def stats(self) -> ReadStats:
        return self.reader.stats

    @property
    def progress(self) -> float:
        """Fraction of the recording already yielded (by file bytes), 0..1."""
        return self._progress

    def __iter__(self) -> Iterator[SampleBlock]:
        try:
            yield from self._paced(self._cut())
        finally:
            if self._owns_reader:
                self.reader.close()

    def _cut(self) -> Iterator[tuple[SampleBlock, float]]:
        """Blocks covering [origin + k*block_s, origin + (k+1)*block_s), with progress."""
        before = self.reader.progress
        try:
            yield from self._cut_blocks(before)
        except Exception:  # a bad row: its error follows the samples before it (issue 14)
            if self._carry is not None and len(self._carry):
                yield self._carry, before
            raise
        finally:
            self._carry = None

    def _cut_blocks(self, before: float) -> Iterator[tuple[SampleBlock, float]]:
        origin: float | None = None
        carry: SampleBlock | None = None
        for big in self.reader.blocks():
            after = self.reader.progress
            if origin is None:
                origin = float(big.t[0])
            if carry is not None:
                gyro = None
                if big.gyro is not None and carry.gyro is not None:
                    gyro = np.concatenate([carry.gyro, big.gyro])
                joined = SampleBlock(
                    np.concatenate([carry.t, big.t]), np.concatenate([carry.acc, big.acc]), gyro
                )
                n_carry = len(carry)
            else:
                joined, n_carry = big, 0
            index = np.floor((joined.t - origin) / self.block_s)
            cuts = [0, *(np.flatnonzero(np.diff(index)) + 1).tolist(), len(joined)]
            for lo, hi in zip(cuts[:-2], cuts[1:-1]):
                done = min(max((hi - n_carry) / len(big), 0.0), 1.0)
                yield _slice(joined, lo, hi), before + (after - before) * done
            carry = self._carry = _slice(joined, cuts[-2], cuts[-1])
            before = after
        self._carry = None
        if carry is not None and len(carry):
            yield carry, 1.0

    def _paced(self, blocks: Iterator[tuple[SampleBlock, float]]) -> Iterator[SampleBlock]:
        start_wall: float | None = None
        origin = 0.0
        for block, progress in blocks:
            if self._stop.is_set():
                return
            if self.speed is not None:
                if start_wall is None:
                    start_wall, origin = time.monotonic(), float(block.t[0])
                due = start_wall + (float(block.t[-1]) - origin) / self.speed
                while (delay := due - time.monotonic()) > 0:  # in slices: a huge gap must not overflow
                    if self._stop.wait(min(delay, PACE_WAIT_SLICE_S)):
                        return
            self._progress = progress
            yield block
        self._progress = 1.0

    def close(self) -> None:
        """Release the recording if this source opened it."""
        if self._owns_reader:
            self.reader.close()

    def __enter__(self) -> ReplaySource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _slice(block: SampleBlock, lo: int, hi: int) -> SampleBlock:
    gyro = None if block.gyro is None else block.gyro[lo:hi]
    return SampleBlock(block.t[lo:hi], block.acc[lo:hi], gyro)
