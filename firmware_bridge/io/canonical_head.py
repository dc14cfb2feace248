"""The canonical CSV's head: JSON sidecar, ``# key: value`` metadata, header row, units and rate."""

from __future__ import annotations

import json
import math
import os
import re
from datetime import datetime
from pathlib import Path

from firmware_bridge.io.rows import (
    DEFAULT_PLACEMENT,
    GYRO_COLUMNS,
    MAX_SAMPLE_RATE_HZ,
    MIN_SAMPLE_RATE_HZ,
    REQUIRED_COLUMNS,
    RecordingError,
)
from firmware_bridge.io.text import printable, quoted, utf16_advice, utf16_kind

_UNIT_SPELLINGS: dict[str, tuple[str, ...]] = {
    "t": ("s", "sec", "second", "seconds"),
    "acc": ("g",),
    "gyro": ("deg/s", "dps", "°/s", "degree/s", "degrees/s"),
}


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """The JSON metadata sidecar of a recording: ``x.csv.gz`` or ``x.csv`` -> ``x.json``."""
    p = Path(path)
    name = p.name
    for suffix in (".csv.gz", ".csv", ".gz"):
        if name.lower().endswith(suffix):
            return p.with_name(name[: -len(suffix)] + ".json")
    return p.with_name(name + ".json")


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


class CanonicalHead:
    """The part of :class:`~firmware_bridge.io.canonical_reader.RecordingReader` that reads the
    head of a file: sidecar, metadata lines, header, units and sample rate.

    A mixin: it uses the reader's ``path``, ``meta``, ``_buf``, ``_eof``, ``_gzip_error``,
    ``_fill()``, ``_readline()`` and ``_error()`` (from
    :class:`~firmware_bridge.io.rows.SampleRowReader`).
    """

    def _read_sidecar(self) -> None:
        """Metadata from the JSON sidecar, when there is one (``#`` lines still win)."""
        side = sidecar_path(self.path)
        if side == self.path or not side.is_file():
            return
        try:
            data = json.loads(side.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RecordingError(
                f"{side.name}: unreadable metadata sidecar ({exc}); fix or remove it"
            ) from None
        if not isinstance(data, dict):
            raise RecordingError(f"{side.name}: metadata sidecar must be one JSON object of key: value")
        for key, value in data.items():
            if value is not None and not isinstance(value, (dict, list)):
                self.meta[str(key).strip().lower()] = str(value).strip()

    def _read_head(self) -> None:
        header: str | None = None
        meta_lines: dict[str, int] = {}
        line_no = 0
        self._read_sidecar()
        while len(self._buf) < 4 and not self._eof:
            self._fill()
        kind = utf16_kind(bytes(self._buf[:4096]))
        if kind is not None:
            raise self._error(utf16_advice(kind))
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
            found = printable(", ".join(n for n in names if n)) or "nothing"
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
                    f"start_time {quoted(self.meta['start_time'])} is not ISO 8601; "
                    "write it like 2021-06-27T16:52:20Z or 2021-06-27T18:52:20+02:00",
                    meta_lines.get("start_time"),
                ) from None
        if self.meta.get("units"):
            self._check_units(self.meta["units"], meta_lines.get("units"))
        self.rate_estimated = "sample_rate_hz" not in self.meta
        self.sample_rate_hz = math.nan
        if not self.rate_estimated:
            line = meta_lines.get("sample_rate_hz")
            text = self.meta["sample_rate_hz"]
            try:
                rate = float(text.split()[0]) if text.split() else math.nan
            except ValueError:
                rate = math.nan
            if not math.isfinite(rate):
                raise self._error(
                    f"sample_rate_hz {quoted(text)} is not a number; write e.g. '# sample_rate_hz: 100'",
                    line,
                )
            self._check_rate(rate, line, "sample_rate_hz")
            self.sample_rate_hz = rate

    def _check_units(self, units: str, line: int | None) -> None:
        """Refuse units that declare something other than s, g and deg/s."""
        for token in units.replace(",", " ").replace(";", " ").split():
            if "=" not in token:
                continue
            key, unit = (p.strip().lower() for p in token.split("=", 1))
            allowed = _UNIT_SPELLINGS.get(key)
            if allowed is not None and unit not in allowed:
                raise self._error(
                    f"units declare {printable(f'{key}={unit}')} but the format needs {key}={allowed[0]}; "
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
