"""What every sample-row reader shares: canonical columns, rate range, errors, counts, row checks."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import numpy as np

from firmware_bridge.samples import MAX_ABS_TIME_S, SampleBlock, plausible_rows

#: Columns every recording must have.
ACC_COLUMNS: tuple[str, ...] = ("acc_x", "acc_y", "acc_z")
GYRO_COLUMNS: tuple[str, ...] = ("gyro_x", "gyro_y", "gyro_z")
REQUIRED_COLUMNS: tuple[str, ...] = ("t", *ACC_COLUMNS)

#: Supported sample-rate range (the DSP core is specified for 25-1000 Hz).
MIN_SAMPLE_RATE_HZ = 25.0
MAX_SAMPLE_RATE_HZ = 1000.0

#: Placement assumed when the recording does not say.
DEFAULT_PLACEMENT = "wrist"

#: Consecutive rows whose ``t`` stays behind an earlier row's before that is an error, not jitter:
#: 5 s at 100 Hz. Jitter puts one row or a few behind; a clock reset, two recordings joined
#: or one wrong, too large ``t`` puts every later row behind, which would drop them all.
BACKWARD_RUN_MAX_ROWS = 500


class RecordingError(ValueError):
    """A recording cannot be read; ``str()`` is one line: file, line, problem, remedy.

    ``line`` is the file line it names (None when it names none): a reader delivers the rows
    before that line, then raises.
    """

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class ReadStats:
    """Counts kept while reading: samples accepted and rows skipped, by reason."""

    rows: int = 0
    skipped_missing: int = 0  # a value missing, not finite or beyond any sensor's range
    skipped_time: int = 0

    @property
    def skipped(self) -> int:
        """All skipped rows (missing or impossible values plus duplicate or backwards timestamps)."""
        return self.skipped_missing + self.skipped_time


_Reader = TypeVar("_Reader", bound="SampleRowReader")


class SampleRowReader:
    """What every recording reader shares: one pass over blocks of accepted rows, the rows it
    skips, the wall clock of stream time, closing.

    A subclass sets ``sample_rate_hz``, ``placement``, ``has_gyro`` and ``start_time``,
    implements ``_iter_blocks()`` (setting ``_progress`` and, at a clean end, ``_finished``)
    and ``close()``, and hands each parsed run of rows to :meth:`_keep`.
    """

    def __init__(self, name: str) -> None:
        self.stats = ReadStats()
        self._name = name
        self._last_t = -math.inf
        self._t0: float | None = None
        self._progress = 0.0
        self._started = False
        self._finished = False
        self._back_run = 0  # rows behind the latest t since the last kept row
        self._back_line: int | None = None  # file line of the first of them
        self._max_line: int | None = None  # file line of the latest kept row (the largest t)

    def _error(self, message: str, line: int | None = None) -> RecordingError:
        where = f"{self._name}: line {line}: " if line is not None else f"{self._name}: "
        return RecordingError(where + message, line)

    def _data_error(self, message: str, line: int | None) -> RecordingError:
        """An error about the data rows (a reader with several files names the data file)."""
        return self._error(message, line)

    def _keep(
        self, t: np.ndarray, acc: np.ndarray, gyro: np.ndarray | None, first_line: int | None = None
    ) -> SampleBlock:
        """The rows with every value present and plausible (finite, within any sensor's range:
        ``firmware_bridge.samples.plausible_rows``) whose ``t`` advances; the others counted in
        ``stats``.

        ``first_line`` is the file line of the first row (rows are consecutive lines). More
        than :data:`BACKWARD_RUN_MAX_ROWS` rows in a row behind an earlier ``t`` raise
        :class:`RecordingError` naming the line where time went back, before anything of
        this block is counted.
        """
        valid = plausible_rows(t, acc, gyro)
        if self._t0 is None:
            finite_t = t[np.abs(t) <= MAX_ABS_TIME_S]
            if finite_t.size:
                self._t0 = float(finite_t[0])
        idx = np.flatnonzero(valid)
        self.stats.skipped_missing += len(t) - idx.size
        tv = t[idx]
        if tv.size:
            # A row is kept iff its t exceeds every earlier valid t (equivalently the
            # last kept t): a running maximum makes this exact across blocks.
            running = np.maximum.accumulate(tv)
            prior = np.empty_like(tv)
            prior[0] = self._last_t
            np.maximum(running[:-1], self._last_t, out=prior[1:])
            keep = tv > prior
            self._check_backward_run(keep, idx, tv, first_line)
            self._last_t = max(self._last_t, float(running[-1]))
            self.stats.skipped_time += int(tv.size - np.count_nonzero(keep))
            idx = idx[keep]
        self.stats.rows += idx.size
        return SampleBlock(t=t[idx], acc=acc[idx], gyro=None if gyro is None else gyro[idx])

    def _check_backward_run(
        self, keep: np.ndarray, idx: np.ndarray, tv: np.ndarray, first_line: int | None
    ) -> None:
        """Track runs of rows behind the latest ``t``; raise on one of BACKWARD_RUN_MAX_ROWS."""
        kept = np.flatnonzero(keep)
        bounds = np.concatenate([[-1], kept, [keep.size]])
        runs = np.diff(bounds) - 1  # rows behind before each kept row, and after the last
        runs[0] += self._back_run
        long = np.flatnonzero(runs >= BACKWARD_RUN_MAX_ROWS)
        if long.size:
            k = int(long[0])
            start = int(bounds[k]) + 1  # index in tv of the run's first row (if in this block)
            if k == 0 and self._back_run:
                line, t_back = self._back_line, None
            else:
                line = None if first_line is None else first_line + int(idx[start])
                t_back = float(tv[start])
            max_line = self._max_line if k == 0 else None
            if k > 0 and first_line is not None:
                max_line = first_line + int(idx[kept[k - 1]])
            t_max = self._last_t if k == 0 else float(tv[kept[k - 1]])
            back = "" if t_back is None else f" to {t_back:g} s"
            at = f" at line {max_line}" if max_line is not None else ""
            raise self._data_error(
                f"t goes back{back} after {t_max:g} s{at} and stays behind for {BACKWARD_RUN_MAX_ROWS} "
                f"rows: a wrong t{at}, a clock reset or two recordings joined; fix that row or split "
                f"the file here ({self.stats.rows + k} samples before were read)",
                line,
            )
        if kept.size:
            self._back_run = int(runs[-1])
            if first_line is not None:
                self._max_line = first_line + int(idx[kept[-1]])
                self._back_line = first_line + int(idx[kept[-1] + 1]) if runs[-1] else None
        else:
            if not self._back_run and first_line is not None and idx.size:
                self._back_line = first_line + int(idx[0])
            self._back_run += int(keep.size)

    def blocks(self) -> Iterator[SampleBlock]:
        """Yield the accepted samples in order, block by block (one pass only).

        Raises :class:`RecordingError` on the first bad row, after yielding every
        block before it; a truncated gzip yields every complete line, then raises.
        """
        if self._started:
            raise RuntimeError(f"{self._name}: blocks() can be iterated only once")
        self._started = True
        return self._iter_blocks()

    def _iter_blocks(self) -> Iterator[SampleBlock]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[SampleBlock]:
        return self.blocks()

    @property
    def progress(self) -> float:
        """Fraction of the file delivered so far, 0..1, by bytes (compressed for ``.gz``).

        It counts what :meth:`blocks` has yielded, not what was read ahead.
        """
        return 1.0 if self._finished else self._progress

    @property
    def t0_s(self) -> float | None:
        """``t`` of the first data row: the instant ``start_time`` refers to."""
        return self._t0

    def wall_time(self, t_s: float) -> datetime | None:
        """Wall-clock time of stream time ``t_s``, or None without ``start_time``."""
        if self.start_time is None or self._t0 is None:
            return None
        return self.start_time + timedelta(seconds=float(t_s) - self._t0)

    def close(self) -> None:
        """Release the file (idempotent)."""

    def __enter__(self: _Reader) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self._name!r}, {self.sample_rate_hz:g} Hz, "
            f"placement={self.placement!r}, gyro={self.has_gyro})"
        )
