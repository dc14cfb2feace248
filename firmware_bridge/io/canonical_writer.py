"""Write the canonical recording format (CSV or gzip CSV), whole or streamed block by block."""

from __future__ import annotations

import gzip
import io
import os
import tempfile
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from firmware_bridge.io.rows import ACC_COLUMNS, GYRO_COLUMNS, REQUIRED_COLUMNS

#: Decimal places written per column: t to 1 us, acc to 1e-6 g, gyro to 1e-4 deg/s.
WRITE_DECIMALS: dict[str, int] = {
    "t": 6,
    **{c: 6 for c in ACC_COLUMNS},
    **{c: 4 for c in GYRO_COLUMNS},
}


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
