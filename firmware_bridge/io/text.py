"""Text that reaches a terminal from a file, made safe; and UTF-16 recognised before decoding.

An error message that quotes a file's header or bytes must not carry the file's control
characters to the terminal: an ESC sequence can move the cursor, recolour or retitle the
window, or hide the rest of the message (terminal escape injection), and NULs and other C0/C1
controls garble it. :func:`printable` keeps ordinary text (any script) and writes every
control or format character as a Python-style escape (``\\x1b``, ``\\x00``, ``\\u202e``).

Spreadsheet programs on Windows save "Unicode text" as UTF-16 (with a byte-order mark,
U+FEFF as FF FE or FE FF; Unicode Standard 16.0, section 23.8). Read as UTF-8, that is a
NUL between every character. :func:`utf16_kind` recognises it from the first bytes, so a
reader can say "file is UTF-16; save it as UTF-8" instead of quoting NULs.
"""

from __future__ import annotations

import codecs
import unicodedata

#: Longest quoted text in a one-line message; longer text is cut with an ellipsis.
MAX_QUOTED_CHARS = 120
#: Share of NUL bytes in even or odd positions above which BOM-less text is UTF-16: ASCII text in
#: UTF-16 has a NUL in every other byte; UTF-8 text has none.
UTF16_NUL_SHARE = 0.4
#: Bytes looked at to recognise BOM-less UTF-16.
UTF16_SNIFF_BYTES = 512


def printable(text: str, limit: int | None = MAX_QUOTED_CHARS) -> str:
    """``text`` with control and format characters escaped (no ESC, NUL, CR, bidi overrides).

    Newlines and tabs are escaped too, so the result stays on one line. Cut to ``limit``
    characters (``None``: no cut).
    """
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat[0] == "C" or cat in ("Zl", "Zp"):  # Cc controls, Cf format (bidi), Cs, Co, Cn
            code = ord(ch)
            if code < 0x100:
                out.append(f"\\x{code:02x}")
            else:
                out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    safe = "".join(out)
    if limit is not None and len(safe) > limit:
        safe = safe[: max(limit - 3, 0)] + "..."
    return safe


def quoted(text: str | bytes, limit: int | None = MAX_QUOTED_CHARS) -> str:
    """A file's text (or bytes, decoded as UTF-8 with replacement) in quotes, made printable."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return "'" + printable(text, limit) + "'"


def utf16_kind(head: bytes) -> str | None:
    """``'UTF-16'`` when the first bytes of a file are UTF-16 text, else None.

    Recognised by a byte-order mark, or without one by NULs filling one byte of most pairs.
    UTF-32 marks are named too (``'UTF-32'``); the same advice applies.
    """
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "UTF-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "UTF-16"
    sample = head[:UTF16_SNIFF_BYTES]
    pairs = len(sample) // 2
    if pairs < 4:
        return None
    even = sample[0::2][:pairs].count(0) / pairs
    odd = sample[1::2][:pairs].count(0) / pairs
    if max(even, odd) >= UTF16_NUL_SHARE and min(even, odd) < UTF16_NUL_SHARE / 4:
        return "UTF-16"
    return None


def utf16_advice(kind: str) -> str:
    """The message part for a UTF-16/32 file."""
    return f"file is {kind}; save it as UTF-8 (in a spreadsheet: 'CSV UTF-8') and try again"
