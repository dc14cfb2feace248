"""Read and write the canonical recording format (CSV or gzip CSV), streaming.

The format is described in ``recordings/README.md``: optional ``# key: value``
metadata lines, a header naming ``t, acc_x, acc_y, acc_z`` (optionally
``gyro_x, gyro_y, gyro_z``; other columns ignored), then one row per sample with
``t`` in seconds, acceleration in g (gravity included) and angular rate in deg/s.

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

import gzip
import io
import math
import os
import re
import tempfile
import zlib
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from firmware_bridge.samples import SampleBlock

#: Columns every recording must have.
ACC_COLUMNS: tuple[str, ...] = ("acc_x", "acc_y", "acc_z")
GYRO_COLUMNS: tuple[str, ...] = ("gyro_x", "gyro_y", "gyro_z")
REQUIRED_COLUMNS: tuple[str, ...] = ("t", *ACC_COLUMNS)

#: Supported sample-rate range (the DSP core is specified for 25-1000 Hz).
MIN_SAMPLE_RATE_HZ = 25.0
MAX_SAMPLE_RATE_HZ = 1000.0

#: Placement assumed when the recording does not say.
DEFAULT_PLACEMENT = "wrist"

#: Number of accepted samples whose median step estimates the rate when the
#: metadata gives none.
RATE_ESTIMATE_SAMPLES = 1000
#: Relative tolerance on the range limits for an estimated (not declared) rate.
RATE_ESTIMATE_TOLERANCE = 0.02

#: Decimal places written per column: t to 1 us, acc to 1e-6 g, gyro to 1e-4 deg/s.
WRITE_DECIMALS: dict[str, int] = {
    "t": 6,
    **{c: 6 for c in ACC_COLUMNS},
    **{c: 4 for c in GYRO_COLUMNS},
}

# RFC 1952 section 2.3.1: every gzip member starts with ID1=0x1f, ID2=0x8b.
_GZIP_MAGIC = b"\x1f\x8b"
_READ_BYTES = 1 << 20
_RAW_READ_BYTES = 1 << 16
_FIELDS_ERROR = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_UNIT_SPELLINGS: dict[str, tuple[str, ...]] = {
    "t": ("s", "sec", "second", "seconds"),
    "acc": ("g",),
    "gyro": ("deg/s", "dps", "°/s", "degree/s", "degrees/s"),
}


class RecordingError(ValueError):
    """A recording cannot be read; ``str()`` is one line: file, line, problem, remedy."""


@dataclass
class ReadStats:
    """Counts kept while reading: samples accepted and rows skipped, by reason."""

    rows: int = 0
    skipped_missing: int = 0
    skipped_time: int = 0

    @property
    def skipped(self) -> int:
        """All skipped rows (missing values plus duplicate or backwards timestamps)."""
        return self.skipped_missing + self.skipped_time


def _parse_start_time(text: str) -> datetime:
    """Parse ISO 8601 like Python 3.11's ``fromisoformat``, also on 3.10.

    Accepts a trailing ``Z`` and any number of fractional-second digits.
    """
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"

    def _pad(m: re.Match[str]) -> str:
        return "." + (m.group(1) + "000000")[:6]

    s = re.sub(r"\.(\d+)", _pad, s, count=1)
    return datetime.fromisoformat(s)


def _normalise_placement(value: str) -> str:
    """``'hand (phone held)'`` -> ``'hand'``: lower case, parenthesised note dropped."""
    base = value.split("(", 1)[0].strip().lower()
    return base or DEFAULT_PLACEMENT


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

    def _keep(self, t: np.ndarray, acc: np.ndarray, gyro: np.ndarray | None) -> SampleBlock:
        """The rows with every value finite whose ``t`` advances; the others counted in ``stats``."""
        valid = np.isfinite(t) & np.isfinite(acc).all(axis=1)
        if gyro is not None:
            valid &= np.isfinite(gyro).all(axis=1)
        if self._t0 is None:
            finite_t = t[np.isfinite(t)]
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
            self._last_t = max(self._last_t, float(running[-1]))
            self.stats.skipped_time += int(tv.size - np.count_nonzero(keep))
            idx = idx[keep]
        self.stats.rows += idx.size
        return SampleBlock(t=t[idx], acc=acc[idx], gyro=None if gyro is None else gyro[idx])

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


class RecordingReader(SampleRowReader):
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
        self._raw: io.BufferedReader | None = None
        self._open()
        try:
            self._read_head()
            self._prime()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ opening

    def _error(self, message: str, line: int | None = None) -> RecordingError:
        where = f"{self._name}: line {line}: " if line is not None else f"{self._name}: "
        return RecordingError(where + message)

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

    def _read_head(self) -> None:
        header: str | None = None
        meta_lines: dict[str, int] = {}
        line_no = 0
        while header is None:
            raw_line = self._readline()
            if not raw_line:
                if self._gzip_error is not None:
                    raise self._error(f"unreadable gzip ({self._gzip_error})")
                if line_no == 0:
                    raise self._error("empty file: expected a header row such as 't,acc_x,acc_y,acc_z'")
                raise self._error(
                    "no header row after the metadata lines; expected a header such as 't,acc_x,acc_y,acc_z'",
                    line_no,
                )
            line_no += 1
            text = raw_line.decode("utf-8", "replace")
            if line_no == 1:
                text = text.lstrip("\ufeff")
            text = text.strip()
            if not text:
                continue
            if text.startswith("#"):
                body = text[1:].strip()
                if ":" in body:
                    key, value = body.split(":", 1)
                    key = key.strip().lower()
                    if key:
                        self.meta[key] = value.strip()
                        meta_lines[key] = line_no
                continue
            header = text
        self.header_line = line_no
        self._next_line = line_no + 1
        self._parse_header(header)
        self._parse_meta(meta_lines)

    def _parse_header(self, header: str) -> None:
        line = self.header_line
        names = [c.strip().strip('"').strip("'").strip().lower() for c in header.split(",")]
        if len(names) == 1 and (";" in header or "\t" in header):
            raise self._error("header has a single column; columns must be separated by commas", line)
        for col in (*REQUIRED_COLUMNS, *GYRO_COLUMNS):
            if names.count(col) > 1:
                raise self._error(f"header names column '{col}' more than once", line)
        missing = [c for c in REQUIRED_COLUMNS if c not in names]
        if missing:
            found = ", ".join(n for n in names if n) or "nothing"
            raise self._error(
                f"missing required column {', '.join(repr(c) for c in missing)} "
                f"(header has: {found}); the header must name t, acc_x, acc_y, acc_z",
                line,
            )
        gyro_present = [c for c in GYRO_COLUMNS if c in names]
        if gyro_present and len(gyro_present) != len(GYRO_COLUMNS):
            absent = [c for c in GYRO_COLUMNS if c not in names]
            raise self._error(
                f"has {', '.join(gyro_present)} but not {', '.join(absent)}; "
                "give all three gyro columns or none",
                line,
            )
        self.has_gyro = bool(gyro_present)
        # Unique names for pandas; columns we do not use get placeholders.
        used = set(REQUIRED_COLUMNS) | (set(GYRO_COLUMNS) if self.has_gyro else set())
        self._names = [n if n in used else f"_ignored_{i}" for i, n in enumerate(names)]
        self._columns = [*REQUIRED_COLUMNS, *(GYRO_COLUMNS if self.has_gyro else ())]

    def _parse_meta(self, meta_lines: dict[str, int]) -> None:
        self.placement = _normalise_placement(self.meta.get("placement", DEFAULT_PLACEMENT))
        self.device = self.meta.get("device") or None
        self.start_time: datetime | None = None
        if self.meta.get("start_time"):
            try:
                self.start_time = _parse_start_time(self.meta["start_time"])
            except ValueError:
                raise self._error(
                    f"start_time {self.meta['start_time']!r} is not ISO 8601; "
                    "write it like 2021-06-27T16:52:20Z or 2021-06-27T18:52:20+02:00",
                    meta_lines["start_time"],
                ) from None
        if self.meta.get("units"):
            self._check_units(self.meta["units"], meta_lines["units"])
        self.rate_estimated = "sample_rate_hz" not in self.meta
        self.sample_rate_hz = math.nan
        if not self.rate_estimated:
            line = meta_lines["sample_rate_hz"]
            text = self.meta["sample_rate_hz"]
            try:
                rate = float(text.split()[0]) if text.split() else math.nan
            except ValueError:
                rate = math.nan
            if not math.isfinite(rate):
                raise self._error(
                    f"sample_rate_hz {text!r} is not a number; write e.g. '# sample_rate_hz: 100'",
                    line,
                )
            self._check_rate(rate, line, "sample_rate_hz")
            self.sample_rate_hz = rate

    def _check_units(self, units: str, line: int) -> None:
        """Refuse units that declare something other than s, g and deg/s."""
        for token in units.replace(",", " ").replace(";", " ").split():
            if "=" not in token:
                continue
            key, unit = (p.strip().lower() for p in token.split("=", 1))
            allowed = _UNIT_SPELLINGS.get(key)
            if allowed is not None and unit not in allowed:
                raise self._error(
                    f"units declare {key}={unit} but the format needs {key}={allowed[0]}; "
                    "convert the data and the units line",
                    line,
                )

    def _check_rate(self, rate: float, line: int | None, source: str) -> None:
        if not (MIN_SAMPLE_RATE_HZ <= rate <= MAX_SAMPLE_RATE_HZ):
            raise self._error(
                f"{source} {rate:g} Hz is outside the supported "
                f"{MIN_SAMPLE_RATE_HZ:g}-{MAX_SAMPLE_RATE_HZ:g} Hz"
                + ("; check that t is in seconds or add '# sample_rate_hz: N'" if line is None else ""),
                line,
            )

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
        taken = self._take_lines()
        if taken is None:
            return None
        data, first_line = taken
        frame = self._parse_lines(data, first_line)
        return self._accept(frame, first_line)

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
            detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else "parse error"
            raise self._error(f"cannot parse rows starting here ({detail})", first_line) from None

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
            raise self._error(
                f"column '{name}' has non-numeric value {value!r}; "
                "fix or delete that row (missing values may be left empty)",
                first_line + row,
            )
        acc = np.column_stack([cols[c] for c in ACC_COLUMNS])
        gyro = np.column_stack([cols[c] for c in GYRO_COLUMNS]) if self.has_gyro else None
        return self._keep(cols["t"], acc, gyro)

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


def _meta_text(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def write_recording(path: str | os.PathLike[str], frame: pd.DataFrame, meta: Mapping[str, object]) -> Path:
    """Write ``frame`` (canonical columns) with ``meta`` lines; gzip if the name ends in .gz.

    Values are rounded to t 1 us, acc 1e-6 g, gyro 1e-4 deg/s; NaN is written as
    an empty cell. The file is written to a temporary name and renamed into
    place, so a crash never leaves a half-written recording; it is created
    owner-only (0600) because recordings are health data. Parent folders are
    created. Returns the path written.
    """
    _columns(frame)  # a frame without the canonical columns fails before anything is created
    return write_recording_blocks(path, [frame], meta)


def _columns(frame: pd.DataFrame) -> list[str]:
    """The canonical columns ``frame`` has, in file order (ValueError when incomplete)."""
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks required column(s) {', '.join(missing)}")
    gyro_present = [c for c in GYRO_COLUMNS if c in frame.columns]
    if gyro_present and len(gyro_present) != len(GYRO_COLUMNS):
        raise ValueError(f"frame has {', '.join(gyro_present)} but not all three gyro columns")
    return [*REQUIRED_COLUMNS, *gyro_present]


def write_recording_blocks(
    path: str | os.PathLike[str],
    blocks: Iterable[pd.DataFrame],
    meta: Mapping[str, object],
) -> Path:
    """Stream ``blocks`` (DataFrames with canonical columns) into one recording, in bounded memory.

    The bytes are exactly those of :func:`write_recording` on the concatenated
    blocks, with the same rounding, gzip, owner-only temporary file renamed into
    place, and the same errors. The first block fixes the columns; a later block
    with other canonical columns is an error. If ``blocks`` raises, no partial
    file is left behind. An empty iterable writes the metadata and a
    ``t,acc_x,acc_y,acc_z`` header, as an empty frame would. A caller reports
    progress from the generator that yields the blocks.
    """
    out = Path(path)
    lines = []
    for key, value in meta.items():
        key_text, value_text = str(key).strip(), _meta_text(value).strip()
        if not key_text or ":" in key_text or "\n" in key_text or "\n" in value_text:
            raise ValueError(f"metadata {key!r}: {value!r} cannot be written as '# key: value'")
        lines.append(f"# {key_text}: {value_text}\n")

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as raw:
            gz = None
            if out.name.lower().endswith(".gz"):
                gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0)
            text = io.TextIOWrapper(gz or raw, encoding="utf-8", newline="")
            text.write("".join(lines))
            columns: list[str] | None = None
            for i, frame in enumerate(blocks):
                these = _columns(frame)
                if columns is not None and these != columns:
                    raise ValueError(
                        f"block {i} has columns {', '.join(these)}; the recording has {', '.join(columns)}"
                    )
                body = frame[these].astype(np.float64).round({c: WRITE_DECIMALS[c] for c in these})
                body.to_csv(text, index=False, header=columns is None, na_rep="", lineterminator="\n")
                columns = these
            if columns is None:
                text.write(",".join(REQUIRED_COLUMNS) + "\n")
            text.flush()
            text.detach()
            if gz is not None:
                gz.close()  # writes the gzip trailer; leaves raw open
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return out
