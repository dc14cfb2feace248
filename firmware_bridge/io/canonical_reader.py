"""Read the canonical recording format (CSV or gzip CSV), streaming.

The format is described in ``recordings/README.md``: optional ``# key: value``
metadata lines (or, instead, a JSON sidecar beside the file: ``x.csv.gz`` -> ``x.json``, one
object of the same keys, so the CSV itself opens with a plain ``pd.read_csv``), a header
naming ``t, acc_x, acc_y, acc_z`` (optionally ``gyro_x, gyro_y, gyro_z``; other columns
ignored), then one row per sample with ``t`` in seconds, acceleration in g (gravity
included) and angular rate in deg/s.

:class:`RecordingReader` streams a file of any length in blocks of bounded size
(a 24 h, 100 Hz file is never held in memory). It splits the byte stream into
whole lines itself and parses each run of lines with pandas' C parser, which
keeps line numbers exact for error messages and lets a truncated gzip file yield
every complete line before the error is reported. Rows with missing values and
rows whose timestamp does not advance are skipped and counted in
:class:`ReadStats`; anything else that is wrong raises :class:`RecordingError`
whose text is one line naming the file, the line and what to do.
"""

from __future__ import annotations

import io
import os
import re
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from firmware_bridge.io.canonical_head import CanonicalHead
from firmware_bridge.io.rows import (
    ACC_COLUMNS,
    GYRO_COLUMNS,
    MAX_SAMPLE_RATE_HZ,
    MIN_SAMPLE_RATE_HZ,
    ReadStats,
    RecordingError,
    SampleRowReader,
)
from firmware_bridge.io.text import printable, quoted
from firmware_bridge.samples import SampleBlock

#: Number of accepted samples whose median step estimates the rate when the
#: metadata gives none.
RATE_ESTIMATE_SAMPLES = 1000
#: Relative tolerance on the range limits for an estimated (not declared) rate.
RATE_ESTIMATE_TOLERANCE = 0.02

# RFC 1952 section 2.3.1: every gzip member starts with ID1=0x1f, ID2=0x8b.
_GZIP_MAGIC = b"\x1f\x8b"
_READ_BYTES = 1 << 20
_RAW_READ_BYTES = 1 << 16
_FIELDS_ERROR = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


class RecordingReader(CanonicalHead, SampleRowReader):
    """Stream a canonical recording as :class:`SampleBlock` s of at most ``chunk_rows`` rows.

    Opening reads the metadata, the header and the first rows, so a bad header,
    bad metadata or an unusable sample rate fail immediately. Iterate once with
    :meth:`blocks` (or ``for block in reader``). Use as a context manager, or
    call :meth:`close`; a fully consumed reader closes itself.
    """

    def __init__(self, path: str | os.PathLike[str], chunk_rows: int = 100_000) -> None:
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
        self.path = Path(path)
        self.chunk_rows = int(chunk_rows)
        self.meta: dict[str, str] = {}
        super().__init__(str(path))
        self._buf = bytearray()
        self._buf_newlines = 0
        self._eof = False
        self._gzip_error: str | None = None
        self._next_line = 1  # 1-based file line of the next unread line
        self._pending: deque[tuple[SampleBlock, float]] = deque()
        self._deferred_error: RecordingError | None = None
        self._error_next: RecordingError | None = None  # raised by the next _next_block()
        self._raw: io.BufferedReader | None = None
        self._open()
        try:
            self._read_head()
            self._prime()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ opening

    def _open(self) -> None:
        try:
            raw = open(self.path, "rb")  # kept open while streaming; closed by close()
        except FileNotFoundError:
            raise self._error("file not found; check the path") from None
        except IsADirectoryError:
            raise self._error("is a directory, not a recording file") from None
        except OSError as exc:
            raise self._error(f"cannot open ({exc.strerror or exc})") from None
        self._raw = raw
        self._size = max(os.fstat(raw.fileno()).st_size, 1)
        magic = raw.read(2)
        raw.seek(0)
        if magic == _GZIP_MAGIC:
            self.compressed = True
            self._inflater = zlib.decompressobj(wbits=31)
        elif self._name.lower().endswith(".gz"):
            raw.close()
            raise self._error(
                "unreadable gzip: the file does not start with the gzip signature; "
                "decompress it again or rename it without '.gz' if it is plain CSV"
            )
        else:
            self.compressed = False

    def _inflate(self) -> bytes:
        """Next piece of decompressed data; b'' at a clean end.

        zlib is driven directly (not ``gzip.GzipFile``) so that everything before
        a truncation or corruption is delivered; zlib checks each member's CRC-32
        and length (RFC 1952 section 2.3.1). Concatenated members are read in turn.
        """
        assert self._raw is not None
        while True:
            inflater = self._inflater
            if inflater.unconsumed_tail:
                src = inflater.unconsumed_tail
            elif inflater.eof:
                src = inflater.unused_data or self._raw.read(_RAW_READ_BYTES)
                if not src:
                    return b""
                self._inflater = inflater = zlib.decompressobj(wbits=31)
            else:
                src = self._raw.read(_RAW_READ_BYTES)
                if not src:
                    raise EOFError("compressed data ends before the end-of-stream marker")
            out = inflater.decompress(src, _READ_BYTES)
            if out:
                return out

    def _read(self, n: int) -> bytes:
        """Read up to ``n`` bytes; a gzip failure ends the stream and is reported later."""
        if self._eof:
            return b""
        assert self._raw is not None
        try:
            data = self._inflate() if self.compressed else self._raw.read(n)
        except (EOFError, zlib.error, OSError) as exc:
            if not self.compressed:
                raise self._error(f"read failed ({exc})") from None
            self._gzip_error = str(exc) or type(exc).__name__
            # Keep only complete lines: whatever follows the last newline is unreliable.
            cut = self._buf.rfind(b"\n")
            del self._buf[cut + 1 :]
            self._eof = True
            return b""
        if not data:
            self._eof = True
        return data

    def _fill(self) -> bool:
        data = self._read(_READ_BYTES)
        if data:
            self._buf += data
            self._buf_newlines += data.count(b"\n")
        return bool(data)

    def _readline(self) -> bytes:
        while self._buf_newlines == 0 and not self._eof:
            self._fill()
        if self._buf_newlines == 0:
            line = bytes(self._buf)
            self._buf.clear()
        else:
            cut = self._buf.index(b"\n")
            line = bytes(self._buf[: cut + 1])
            del self._buf[: cut + 1]
            self._buf_newlines -= 1
        return line

    def _prime(self) -> None:
        """Read ahead until the first samples are known (t0, rate estimate)."""
        first_data_line = self._next_line
        need = RATE_ESTIMATE_SAMPLES if self.rate_estimated else 1
        have = 0
        while have < need:
            try:
                block = self._next_block()
            except RecordingError as exc:
                # A bad row after usable samples is reported when iteration reaches
                # it, so the samples before it are still delivered.
                if have < (2 if self.rate_estimated else 1):
                    raise
                self._deferred_error = exc
                break
            if block is None:
                break
            if len(block):
                self._pending.append((block, self._consumed()))
                have += len(block)
        if self._next_line == first_data_line:
            raise self._error("header but no data rows", self.header_line)
        if have == 0:
            if self._gzip_error is not None:
                raise self._error(
                    f"unreadable gzip ({self._gzip_error}) before any usable sample",
                    self._next_line - 1,
                )
            raise self._error(
                f"no usable samples: all {self._next_line - first_data_line} data rows "
                f"(lines {first_data_line}-{self._next_line - 1}) were skipped "
                f"({self.stats.skipped_missing} with missing values, "
                f"{self.stats.skipped_time} with duplicate or backwards t)"
            )
        if self.rate_estimated:
            t = np.concatenate([b.t for b, _ in self._pending])[:RATE_ESTIMATE_SAMPLES]
            if t.size < 2:
                raise self._error(
                    "only one usable sample, so the sample rate cannot be estimated; "
                    "add a '# sample_rate_hz: N' line"
                )
            step_s = float(np.median(np.diff(t)))
            rate = round(1.0 / step_s, 3)
            # Clock drift and jitter move an estimate slightly: a 25 Hz sensor may
            # measure 24.97 Hz. Within the tolerance it is clamped to the range.
            low, high = MIN_SAMPLE_RATE_HZ, MAX_SAMPLE_RATE_HZ
            if low * (1 - RATE_ESTIMATE_TOLERANCE) <= rate < low:
                rate = low
            elif high < rate <= high * (1 + RATE_ESTIMATE_TOLERANCE):
                rate = high
            self._check_rate(rate, None, f"estimated sample rate (median step {step_s:g} s)")
            self.sample_rate_hz = rate

    # ------------------------------------------------------------------ streaming

    def _take_lines(self) -> tuple[bytes, int] | None:
        """Next run of up to ``chunk_rows`` complete lines and its first line number."""
        while self._buf_newlines < self.chunk_rows and not self._eof:
            self._fill()
        if not self._buf:
            return None
        if self._buf_newlines >= self.chunk_rows:
            newlines = np.flatnonzero(np.frombuffer(self._buf, dtype=np.uint8) == 10)
            cut = int(newlines[self.chunk_rows - 1]) + 1
            data = bytes(self._buf[:cut])
            del self._buf[:cut]
            self._buf_newlines -= self.chunk_rows
            n_lines = self.chunk_rows
        else:  # end of stream: the rest, last line possibly without newline
            data = bytes(self._buf)
            self._buf.clear()
            n_lines = self._buf_newlines + (0 if data.endswith(b"\n") else 1)
            self._buf_newlines = 0
        first = self._next_line
        self._next_line += n_lines
        return data, first

    def _next_block(self) -> SampleBlock | None:
        """The next run of rows; at a bad row, the rows before it first, the error on the next call."""
        if self._error_next is not None:
            error, self._error_next = self._error_next, None
            raise error
        taken = self._take_lines()
        if taken is None:
            return None
        data, first_line = taken
        try:
            return self._accept(self._parse_lines(data, first_line), first_line)
        except RecordingError as exc:
            error = exc
        # keep the good rows before the first bad one (the README promises it), then report it
        while True:
            if error.line is None or error.line <= first_line:
                raise error
            data = _first_lines(data, error.line - first_line)
            try:
                block = self._accept(self._parse_lines(data, first_line), first_line)
                break
            except RecordingError as exc:  # an earlier problem in the same run of lines
                error = exc
        self._eof, self._buf_newlines = True, 0
        self._buf.clear()
        self._error_next = error
        return block

    def _parse_lines(self, data: bytes, first_line: int) -> pd.DataFrame:
        n_fields = len(self._names)
        end = data.find(b"\n")
        first_row = data[: end if end >= 0 else len(data)]
        # pandas silently re-reads an over-long FIRST row of a parse (index column or
        # dropped field), so that one row is checked here; pandas checks the others.
        if first_row.count(b",") + 1 > n_fields:
            raise self._error(
                f"row has {first_row.count(b',') + 1} fields but the header has {n_fields}",
                first_line,
            )
        nul_at = data.find(b"\x00")
        if nul_at >= 0:
            # pandas versions disagree on a NUL inside a field (2.0 ends the field there and reads
            # it as missing, later ones keep it as text), so it is named here, the same on every one.
            row_start = data.rfind(b"\n", 0, nul_at) + 1
            row_end = data.find(b"\n", nul_at)
            row = data[row_start : row_end if row_end >= 0 else len(data)]
            field_index = row.count(b",", 0, nul_at - row_start)
            value = row.split(b",")[field_index]
            name = self._names[field_index] if field_index < n_fields else f"field {field_index + 1}"
            raise self._non_numeric(name, value, first_line + data.count(b"\n", 0, nul_at))
        try:
            return pd.read_csv(
                io.BytesIO(data),
                header=None,
                names=self._names,
                index_col=False,
                skip_blank_lines=False,
                engine="c",
                encoding="utf-8",
                encoding_errors="replace",
                low_memory=False,
            )
        except pd.errors.ParserError as exc:
            m = _FIELDS_ERROR.search(str(exc))
            if m:
                expected, line, saw = (int(g) for g in m.groups())
                raise self._error(
                    f"row has {saw} fields but the header has {expected}",
                    first_line + line - 1,
                ) from None
            detail = printable(str(exc).strip().splitlines()[-1]) if str(exc).strip() else "parse error"
            raise self._error(f"cannot parse rows starting here ({detail})", first_line) from None

    def _non_numeric(self, name: str, value: str | bytes, line: int) -> RecordingError:
        """The error for a field that is not a number (text, or a NUL byte) on ``line``."""
        return self._error(
            f"column '{name}' has non-numeric value {quoted(value)}; "
            "fix or delete that row (missing values may be left empty)",
            line,
        )

    @staticmethod
    def _column(frame: pd.DataFrame, name: str) -> tuple[np.ndarray, tuple[int, str] | None]:
        """The column as float64, or the first non-numeric (row, value) in it."""
        col = frame[name]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            return col.to_numpy(dtype=np.float64), None
        as_num = pd.to_numeric(col.astype(object), errors="coerce")
        bad = np.flatnonzero(as_num.isna().to_numpy() & col.notna().to_numpy())
        if bad.size:
            return np.empty(0), (int(bad[0]), str(col.iloc[bad[0]]))
        return as_num.to_numpy(dtype=np.float64), None

    def _accept(self, frame: pd.DataFrame, first_line: int) -> SampleBlock:
        cols: dict[str, np.ndarray] = {}
        first_bad: tuple[int, str, str] | None = None
        for name in self._columns:
            cols[name], bad = self._column(frame, name)
            if bad is not None and (first_bad is None or bad[0] < first_bad[0]):
                first_bad = (bad[0], name, bad[1])
        if first_bad is not None:
            row, name, value = first_bad
            raise self._non_numeric(name, value, first_line + row)
        acc = np.column_stack([cols[c] for c in ACC_COLUMNS])
        gyro = np.column_stack([cols[c] for c in GYRO_COLUMNS]) if self.has_gyro else None
        return self._keep(cols["t"], acc, gyro, first_line)

    def _iter_blocks(self) -> Iterator[SampleBlock]:
        try:
            while self._pending:
                block, self._progress = self._pending.popleft()
                yield block
            if self._deferred_error is not None:
                raise self._deferred_error
            while (block := self._next_block()) is not None:
                if len(block):
                    self._progress = self._consumed()
                    yield block
            if self._gzip_error is not None:
                raise self._error(
                    f"unreadable gzip after this line ({self._gzip_error}); "
                    f"the {self.stats.rows} samples before it were read",
                    self._next_line - 1,
                )
            self._finished = True
        finally:
            self.close()

    # ------------------------------------------------------------------ hand-over

    @property
    def resumable(self) -> bool:
        """Whether the reader can be pickled mid-stream and go on in another process (plain
        CSV: the file position is reopened; a gzip stream's inflater cannot be pickled)."""
        return not self.compressed

    def __getstate__(self) -> dict:
        """Everything but the open file, which is stored as its position (see :attr:`resumable`)."""
        if self.compressed:
            raise TypeError(f"{self._name}: a gzip recording cannot be handed on mid-stream")
        state = self.__dict__.copy()
        raw = state.pop("_raw")
        state["_raw_pos"] = None if raw is None or raw.closed else raw.tell()
        return state

    def __setstate__(self, state: dict) -> None:
        pos = state.pop("_raw_pos")
        self.__dict__.update(state)
        self._raw = None
        if pos is not None:
            self._raw = open(self.path, "rb")  # noqa: SIM115 (kept open while streaming, as in _open)
            self._raw.seek(pos)

    def resume_blocks(self) -> Iterator[SampleBlock]:
        """The blocks after the last one delivered: on a fresh reader, all of them; on one
        unpickled mid-stream, the rest (the pickled original's iteration is not shared)."""
        self._started = True
        return self._iter_blocks()

    # ------------------------------------------------------------------ info

    def _consumed(self) -> float:
        raw = self._raw
        if raw is None or raw.closed:
            return 1.0
        pos = raw.tell() - (0 if self.compressed else len(self._buf))
        return min(max(pos / self._size, 0.0), 1.0)

    def close(self) -> None:
        """Release the file (idempotent)."""
        if self._raw is not None:
            try:
                self._raw.close()
            except OSError:
                pass


def _first_lines(data: bytes, n: int) -> bytes:
    """The first ``n`` lines of ``data`` (all of it when it has fewer)."""
    cut = -1
    for _ in range(n):
        cut = data.find(b"\n", cut + 1)
        if cut < 0:
            return data
    return data[: cut + 1]


@dataclass
class Recording:
    """A whole recording in memory (for notebooks and tests)."""

    path: Path
    frame: pd.DataFrame  # columns t, acc_x, acc_y, acc_z [, gyro_x, gyro_y, gyro_z]
    meta: dict[str, str]
    sample_rate_hz: float
    placement: str
    device: str | None
    start_time: datetime | None
    has_gyro: bool
    stats: ReadStats = field(default_factory=ReadStats)


def read_recording(path: str | os.PathLike[str], chunk_rows: int = 100_000) -> Recording:
    """Read a whole recording into one DataFrame (skipped rows counted in ``stats``)."""
    with RecordingReader(path, chunk_rows=chunk_rows) as reader:
        blocks = list(reader.blocks())
    t = np.concatenate([b.t for b in blocks])
    data: dict[str, np.ndarray] = {"t": t}
    acc = np.concatenate([b.acc for b in blocks])
    data.update({c: acc[:, i] for i, c in enumerate(ACC_COLUMNS)})
    if reader.has_gyro:
        gyro = np.concatenate([b.gyro for b in blocks if b.gyro is not None])
        data.update({c: gyro[:, i] for i, c in enumerate(GYRO_COLUMNS)})
    return Recording(
        path=reader.path,
        frame=pd.DataFrame(data),
        meta=dict(reader.meta),
        sample_rate_hz=reader.sample_rate_hz,
        placement=reader.placement,
        device=reader.device,
        start_time=reader.start_time,
        has_gyro=reader.has_gyro,
        stats=reader.stats,
    )
