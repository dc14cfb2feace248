"""Recording files: one module per format, each with its reader (and writer where we write it).

``recording`` is the canonical CSV format (reader and writer; the code in ``canonical_reader``,
``canonical_head``, ``canonical_writer`` and ``rows``, what every sample reader shares),
``bids`` reads BIDS-Motion, ``capture`` and ``capture_decode`` are the raw JSONL captures of a
live link (every payload as sent) and their decoding into samples. :func:`open_recording` picks
a sample reader by file name or first bytes (``registry``); a new format registers there.
"""

from firmware_bridge.io.registry import (
    ReaderFormat,
    find_format,
    open_recording,
    reader_formats,
    register_reader,
)

__all__ = ["ReaderFormat", "find_format", "open_recording", "reader_formats", "register_reader"]
