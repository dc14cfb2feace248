"""Pick the reader of a recording by its name or its first bytes.

Like python-can's ``can.io`` (``LogReader`` chooses a reader by file suffix), each recording
format registers a reader here with the suffixes it owns, optionally a test on the first bytes
of the file (for files whose name does not say) and a test on the path (for formats that are
folders). :func:`open_recording` tries, in order: the path tests, the longest matching
suffix, the byte tests; anything else goes to the canonical CSV reader, whose error then
says what is wrong with the file. A reader takes ``(path, chunk_rows=...)`` and offers what
:class:`~firmware_bridge.io.recording.RecordingReader` offers a replay (``sample_rate_hz``,
``placement``, ``device``, ``start_time``, ``has_gyro``, ``meta``, ``stats``, ``progress``,
``blocks()``, context manager).

A new format (Axivity CWA, GENEActiv BIN, ActiGraph GT3X, ...) is a module in this package
and one :func:`register_reader` line at the end of this file. Readers are named as
``"module:attribute"`` and imported when first used, so importing the registry stays cheap.
"""

from __future__ import annotations

import importlib
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Bytes read from the start of a file for the byte tests.
SNIFF_BYTES = 4096
#: The reader for anything no other format claims.
DEFAULT_FORMAT = "canonical-csv"
# RFC 1952 section 2.3.1: every gzip member starts with ID1=0x1f, ID2=0x8b.
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class ReaderFormat:
    """One recording format: its reader and how to recognise its files."""

    name: str
    reader: str | Callable[..., Any]  # "module:attribute", or the reader itself
    suffixes: tuple[str, ...] = ()  # matched against the end of the file name, case-sensitive
    sniff: Callable[[bytes], bool] | None = None  # the file's first SNIFF_BYTES bytes -> is it ours?
    claims: Callable[[Path], bool] | None = None  # a path test, e.g. "is a folder"

    def open(self, path: str | os.PathLike[str], chunk_rows: int = 100_000) -> Any:
        """Open ``path`` with this format's reader."""
        reader = self.reader
        if isinstance(reader, str):
            module, _, attribute = reader.partition(":")
            reader = getattr(importlib.import_module(module), attribute)
        return reader(Path(path), chunk_rows=chunk_rows)


_FORMATS: dict[str, ReaderFormat] = {}


def register_reader(
    name: str,
    reader: str | Callable[..., Any],
    *,
    suffixes: tuple[str, ...] = (),
    sniff: Callable[[bytes], bool] | None = None,
    claims: Callable[[Path], bool] | None = None,
) -> ReaderFormat:
    """Register (or replace) the reader of format ``name``."""
    fmt = ReaderFormat(name, reader, tuple(suffixes), sniff, claims)
    _FORMATS[name] = fmt
    return fmt


def reader_formats() -> list[ReaderFormat]:
    """The registered formats, in registration order."""
    return list(_FORMATS.values())


def find_format(path: str | os.PathLike[str]) -> ReaderFormat:
    """The format of ``path``: claimed by a path test, else by suffix, else by its first bytes."""
    p = Path(path)
    for fmt in _FORMATS.values():
        if fmt.claims is not None and fmt.claims(p):
            return fmt
    by_suffix = [(len(s), fmt) for fmt in _FORMATS.values() for s in fmt.suffixes if p.name.endswith(s)]
    if by_suffix:
        return max(by_suffix, key=lambda m: m[0])[1]
    head = _head(p)
    if head:
        for fmt in _FORMATS.values():
            if fmt.sniff is not None and fmt.sniff(head):
                return fmt
    return _FORMATS[DEFAULT_FORMAT]


def open_recording(path: str | os.PathLike[str], chunk_rows: int = 100_000) -> Any:
    """A reader for the recording at ``path`` (see :func:`find_format`)."""
    return find_format(path).open(path, chunk_rows)


def _head(p: Path) -> bytes:
    """The first bytes of a readable file; empty for anything else (the reader reports it)."""
    try:
        with open(p, "rb") as f:
            return f.read(SNIFF_BYTES)
    except OSError:
        return b""


def canonical_csv_head(head: bytes) -> bool:
    """Whether bytes start a canonical recording (``recordings/README.md``), plain or gzip:
    ``# key: value`` metadata lines, then a header with ``t`` and ``acc_x``."""
    if head.startswith(_GZIP_MAGIC):
        try:  # wbits 16 + 15: a gzip wrapper (zlib manual, inflateInit2); a partial stream is fine
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, SNIFF_BYTES)
        except zlib.error:
            return False
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        columns = [c.strip().lower() for c in line.split(",")]
        return "t" in columns and "acc_x" in columns
    return False


def _sniff(name: str, module: str = "firmware_bridge.io.devices") -> Callable[[bytes], bool]:
    """A byte test of ``module``, imported when first used."""

    def test(head: bytes) -> bool:
        return getattr(importlib.import_module(module), name)(head)

    return test


# --------------------------------------------------------------------------- the formats, one line each

register_reader(
    "canonical-csv",
    "firmware_bridge.io.recording:RecordingReader",
    suffixes=(".csv", ".csv.gz"),
    sniff=canonical_csv_head,
)
# BIDS-Motion: a dataset folder, or its *_motion.tsv data file (firmware_bridge.io.bids.MOTION_SUFFIX)
register_reader(
    "bids-motion", "firmware_bridge.io.bids:BidsMotionReader", suffixes=("_motion.tsv",), claims=Path.is_dir
)
# Research devices' own files (firmware_bridge.io.devices: actfast for CWA and BIN, pygt3x for GT3X)
register_reader(
    "axivity-cwa", "firmware_bridge.io.devices:CwaReader", suffixes=(".cwa", ".CWA"), sniff=_sniff("is_cwa")
)
# ".bin" names many other files, so a GENEActiv file is known by its first bytes only
register_reader("geneactiv-bin", "firmware_bridge.io.devices:GeneActivReader", sniff=_sniff("is_geneactiv"))
# a GT3X is a zip archive (any zip would match its first bytes), so it is known by suffix only
register_reader("actigraph-gt3x", "firmware_bridge.io.devices:Gt3xReader", suffixes=(".gt3x", ".GT3X"))
# Raw captures (JSON Lines, firmware_bridge.io.capture), decoded by the live decode path
register_reader(
    "capture-jsonl",
    "firmware_bridge.io.capture_reader:CaptureReader",
    suffixes=(".jsonl",),
    sniff=_sniff("is_capture", "firmware_bridge.io.capture_reader"),
)
