"""Read a BIDS-Motion recording back as a stream of sample blocks (for ``tremorscope replay``).

BIDS-Motion (BIDS specification, "Modality specific files / Motion";
https://bids-specification.readthedocs.io/en/stable/modality-specific-files/motion.html) keeps
one tracking system per ``*_tracksys-<label>_motion.tsv``: tab-separated, **no header row**,
one column per row of the matching ``*_channels.tsv`` (columns ``name``, ``component``,
``type``, ``tracked_point``, ``units``). ``*_motion.json`` must give ``SamplingFrequency``
and ``TrackingSystemName``. A ``LATENCY`` channel, when present, holds each sample's time in
seconds from recording onset; the onset's wall clock is ``acq_time`` in the subject's
``*_scans.tsv`` (BIDS "Data summary files / Scans file"). Missing values are ``n/a``
("Common principles / Tabular files").

:class:`BidsMotionReader` offers what :class:`firmware_bridge.io.recording.RecordingReader`
offers a replay (``sample_rate_hz``, ``placement``, ``device``, ``start_time``, ``has_gyro``,
``meta``, ``stats``, ``progress``, ``blocks()``), converting ``ACCEL`` channels to g and
``GYRO`` channels to deg/s, streaming in bounded memory. Rows with a missing value and rows
whose time does not advance are skipped and counted, as in the canonical format. When a file
holds several tracked points, the first one with three ``ACCEL`` axes is read (its name is in
``meta["bids_tracked_point"]``). :func:`open_recording` (the format registry,
:mod:`firmware_bridge.io.registry`) picks this reader for a BIDS-Motion folder or file and the
canonical reader for anything else.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from firmware_bridge.io import registry
from firmware_bridge.io.recording import (
    MAX_SAMPLE_RATE_HZ,
    MIN_SAMPLE_RATE_HZ,
    RecordingError,
    SampleRowReader,
)
from firmware_bridge.io.text import printable, quoted, utf16_advice, utf16_kind
from firmware_bridge.samples import SampleBlock

#: Standard gravity (m/s^2 per g), as in ISO 80000-3 / CGPM 1901.
STANDARD_GRAVITY_MS2 = 9.80665
#: Accepted ACCEL units -> factor to g. BIDS recommends SI (m/s^2).
ACCEL_TO_G: dict[str, float] = {
    "m/s^2": 1.0 / STANDARD_GRAVITY_MS2,
    "m/s2": 1.0 / STANDARD_GRAVITY_MS2,
    "m*s^-2": 1.0 / STANDARD_GRAVITY_MS2,
    "m s^-2": 1.0 / STANDARD_GRAVITY_MS2,
    "g": 1.0,
    "mg": 1e-3,
}
#: Accepted GYRO units -> factor to deg/s. BIDS recommends SI (rad/s).
GYRO_TO_DPS: dict[str, float] = {
    "rad/s": 180.0 / math.pi,
    "rad*s^-1": 180.0 / math.pi,
    "deg/s": 1.0,
    "°/s": 1.0,
    "dps": 1.0,
}
#: Accepted LATENCY units -> factor to seconds (the specification says seconds).
LATENCY_TO_S: dict[str, float] = {"s": 1.0, "ms": 1e-3}
#: Placement words found in a ``tracked_point`` label (first match wins).
_PLACEMENTS = (
    ("wrist", "wrist"), ("hand", "hand"), ("finger", "hand"), ("neck", "neck"), ("head", "head"),
    ("ankle", "leg"), ("foot", "leg"), ("shank", "leg"), ("thigh", "leg"), ("leg", "leg"),
    ("forearm", "wrist"), ("arm", "arm"), ("trunk", "trunk"), ("chest", "trunk"), ("back", "trunk"),
    ("pelvis", "trunk"), ("waist", "trunk"),
)  # fmt: skip
#: Key of this project's own metadata: the object in
#: ``sourcedata/tremorscope/<sub>/motion/<stem>_tremorscope.json`` (see :func:`project_sidecar`);
#: exports before issue 15 put it in ``*_motion.json`` itself, which is still read.
EXTRA_KEY = "tremorscope"
#: Where below the dataset root the project's own per-run metadata lives (BIDS leaves
#: ``sourcedata/`` free for anything; the validator does not read it).
PROJECT_SOURCEDATA = ("sourcedata", "tremorscope")
MOTION_SUFFIX = "_motion.tsv"
_NA = ["n/a", "N/A", "NaN", "nan", ""]


def find_motion_file(path: str | os.PathLike[str]) -> Path:
    """The ``*_motion.tsv`` that ``path`` names: the file itself, or the only one under a folder."""
    p = Path(path)
    if p.is_file():
        if not p.name.endswith(MOTION_SUFFIX):
            raise RecordingError(f"{p}: not a BIDS-Motion data file (its name must end in {MOTION_SUFFIX})")
        return p
    if not p.is_dir():
        raise RecordingError(f"{p}: file not found; check the path")
    found = sorted(q for q in p.rglob(f"*{MOTION_SUFFIX}") if q.is_file())
    if not found:
        raise RecordingError(
            f"{p}: is a folder without any *{MOTION_SUFFIX}; pass a recording file or a BIDS-Motion folder"
        )
    if len(found) > 1:
        raise RecordingError(
            f"{p}: holds {len(found)} BIDS-Motion recordings; pass one of them, e.g. {found[0]}"
        )
    return found[0]


def is_bids_motion(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder holding ``*_motion.tsv`` files or such a file."""
    p = Path(path)
    if p.is_file():
        return p.name.endswith(MOTION_SUFFIX)
    return p.is_dir() and any(q.is_file() for q in p.rglob(f"*{MOTION_SUFFIX}"))


def open_recording(path: str | os.PathLike[str], chunk_rows: int = 100_000) -> Any:
    """A reader for ``path``: :class:`BidsMotionReader` for BIDS-Motion, else ``RecordingReader``.

    The choice is :func:`firmware_bridge.io.registry.open_recording`'s (it knows every format).
    """
    return registry.open_recording(path, chunk_rows)


def sidecar(motion_path: Path, suffix: str) -> Path:
    """``sub-01_..._motion.tsv`` -> ``sub-01_..._<suffix>`` in the same folder."""
    return motion_path.with_name(motion_path.name[: -len(MOTION_SUFFIX)] + "_" + suffix)


def dataset_root(motion_path: Path) -> Path:
    """The dataset folder of a ``*_motion.tsv`` (``sub-X/[ses-Y/]motion/``): where
    ``dataset_description.json`` is, else the folder above ``sub-X``."""
    folder = motion_path.parent
    for up in list(folder.parents)[:3]:
        if (up / "dataset_description.json").is_file():
            return up
    return folder.parent.parent


def project_sidecar(motion_path: Path) -> Path:
    """``<root>/sourcedata/tremorscope/<sub>/motion/<stem>_tremorscope.json`` of a run."""
    motion_path = Path(motion_path)
    root = dataset_root(motion_path)
    try:
        rel = motion_path.parent.relative_to(root)
    except ValueError:
        rel = Path(motion_path.parent.name)
    name = motion_path.name[: -len(MOTION_SUFFIX)] + "_tremorscope.json"
    return root.joinpath(*PROJECT_SOURCEDATA) / rel / name


def _project_meta(motion_path: Path, sidecar_info: dict[str, Any]) -> dict[str, Any]:
    """This project's run metadata: from sourcedata/, or (older exports) the motion.json key."""
    old = sidecar_info.get(EXTRA_KEY)
    if isinstance(old, dict):
        return old
    path = project_sidecar(motion_path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # a dataset from another tool has none; a damaged one reads as a foreign one
    extra = data.get(EXTRA_KEY) if isinstance(data, dict) else None
    return extra if isinstance(extra, dict) else {}


def _parse_acq_time(text: str) -> datetime | None:
    """BIDS datetime ``YYYY-MM-DDThh:mm:ss[.000000][Z]`` (an offset is accepted as well)."""
    s = text.strip()
    if not s or s.lower() == "n/a":
        return None
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    s = re.sub(r"\.(\d+)", lambda m: "." + (m.group(1) + "000000")[:6], s, count=1)
    return datetime.fromisoformat(s)


def _placement(tracked_point: str) -> str:
    low = tracked_point.lower()
    for word, placement in _PLACEMENTS:
        if word in low:
            return placement
    return low or "wrist"


class BidsMotionReader(SampleRowReader):
    """Stream one BIDS-Motion recording as :class:`SampleBlock` s (g and deg/s)."""

    def __init__(self, path: str | os.PathLike[str], chunk_rows: int = 100_000) -> None:
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
        self.path = Path(path)
        self.motion_path = find_motion_file(path)
        self.chunk_rows = int(chunk_rows)
        super().__init__(str(self.motion_path))
        self.rate_estimated = False
        self.compressed = False
        self.meta: dict[str, str] = {"format": "BIDS-Motion", "bids_file": self.motion_path.name}
        self._fh: Any = None
        self._read_sidecars()

    # ------------------------------------------------------------------ metadata

    def _error(self, file: Path, message: str, line: int | None = None) -> RecordingError:  # type: ignore[override]
        where = f"{file}: line {line}: " if line is not None else f"{file}: "
        return RecordingError(where + message, line)

    def _data_error(self, message: str, line: int | None) -> RecordingError:
        return self._error(self.motion_path, message, line)

    def _check_encoding(self, file: Path) -> None:
        """A UTF-16 sidecar or data file is named as such, not read as garbage."""
        try:
            with open(file, "rb") as f:
                kind = utf16_kind(f.read(4096))
        except OSError:
            return  # missing or unreadable: reported where it is read
        if kind is not None:
            raise self._error(file, utf16_advice(kind))

    def _read_sidecars(self) -> None:
        json_path = sidecar(self.motion_path, "motion.json")
        chan_path = sidecar(self.motion_path, "channels.tsv")
        for file in (json_path, chan_path, self.motion_path):
            self._check_encoding(file)
        try:
            info = json.loads(json_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise self._error(json_path, "missing; BIDS-Motion needs it beside the *_motion.tsv") from None
        except (OSError, UnicodeDecodeError) as e:
            raise self._error(json_path, f"cannot read ({e})") from None
        except json.JSONDecodeError as e:
            raise self._error(json_path, f"column {e.colno}: {e.msg}; fix the JSON", e.lineno) from None
        if not isinstance(info, dict):
            raise self._error(json_path, "must hold a JSON object")
        self.sidecar = info
        extra = _project_meta(self.motion_path, info)
        self._extra: dict[str, Any] = extra
        rate = info.get("SamplingFrequency")
        if rate is None:
            raise self._error(json_path, "has no SamplingFrequency (REQUIRED by BIDS-Motion); add it in Hz")
        try:
            rate = float(rate)
        except (TypeError, ValueError):
            raise self._error(json_path, f"SamplingFrequency {rate!r} is not a number in Hz") from None
        if not (MIN_SAMPLE_RATE_HZ <= rate <= MAX_SAMPLE_RATE_HZ):
            raise self._error(
                json_path,
                f"SamplingFrequency {rate:g} Hz is outside the supported "
                f"{MIN_SAMPLE_RATE_HZ:g}-{MAX_SAMPLE_RATE_HZ:g} Hz",
            )
        self.sample_rate_hz = rate
        self._read_channels(chan_path)
        model = " ".join(str(info.get(k, "")).strip() for k in ("Manufacturer", "ManufacturersModelName"))
        self.device: str | None = (
            extra.get("device") or model.strip() or str(info.get("TrackingSystemName") or "").strip() or None
        )
        self.placement: str = str(extra.get("placement") or _placement(self.tracked_point)).strip().lower()
        task = info.get("TaskName")
        if task:
            self.meta["task"] = str(task)
        self.meta["tracking_system"] = str(info.get("TrackingSystemName") or "")
        self.meta["sample_rate_hz"] = f"{rate:g}"
        self.meta["placement"] = self.placement
        if self.device:
            self.meta["device"] = self.device
        self._acq_time = self._find_acq_time(extra)

    def _read_channels(self, chan_path: Path) -> None:
        try:
            table = pd.read_csv(chan_path, sep="\t", dtype=str, keep_default_na=False)
        except FileNotFoundError:
            raise self._error(chan_path, "missing; BIDS-Motion needs it beside the *_motion.tsv") from None
        except (OSError, pd.errors.ParserError, UnicodeDecodeError) as e:
            raise self._error(chan_path, f"cannot read as a TSV table ({' '.join(str(e).split())})") from None
        need = ["name", "component", "type", "tracked_point", "units"]
        missing = [c for c in need if c not in table.columns]
        if missing:
            raise self._error(
                chan_path,
                f"lacks REQUIRED column(s) {', '.join(missing)}; the header must name "
                "name, component, type, tracked_point, units",
                1,
            )
        self.n_columns = len(table)
        rows = [
            {k: str(v).strip() for k, v in r.items()} | {"index": i, "line": i + 2}
            for i, r in enumerate(table.to_dict("records"))
        ]
        points = [r["tracked_point"] for r in rows if r["type"].upper() == "ACCEL"]
        point = next((p for p in points if self._axes(rows, "ACCEL", p) is not None), None)
        if point is None:
            raise self._error(chan_path, "has no tracked point with ACCEL channels for components x, y and z")
        self.tracked_point = point
        self.meta["bids_tracked_point"] = point
        others = sorted({r["tracked_point"] for r in rows} - {point} - {"n/a", ""})
        if others:
            self.meta["bids_other_tracked_points"] = ", ".join(others)
        acc = self._axes(rows, "ACCEL", point)
        gyro = self._axes(rows, "GYRO", point)
        assert acc is not None
        self._acc_idx, self._acc_scale = self._scaled(chan_path, acc, ACCEL_TO_G, "ACCEL", "m/s^2")
        self.has_gyro = gyro is not None
        self._gyro_idx: list[int] = []
        self._gyro_scale = 1.0
        if gyro is not None:
            self._gyro_idx, self._gyro_scale = self._scaled(chan_path, gyro, GYRO_TO_DPS, "GYRO", "rad/s")
        lat = [r for r in rows if r["type"].upper() == "LATENCY"]
        self._lat_idx: int | None = None
        self._lat_scale = 1.0
        if lat:
            unit = lat[0]["units"].lower()
            if unit not in LATENCY_TO_S:
                raise self._error(chan_path, f"LATENCY units {lat[0]['units']!r}: use s", lat[0]["line"])
            self._lat_idx, self._lat_scale = lat[0]["index"], LATENCY_TO_S[unit]

    @staticmethod
    def _axes(rows: list[dict], kind: str, point: str) -> list[dict] | None:
        """The x, y, z channels of ``kind`` at ``point``, or None unless all three exist."""
        found = {}
        for r in rows:
            if r["type"].upper() == kind and r["tracked_point"] == point:
                found.setdefault(r["component"].lower(), r)
        if not all(c in found for c in ("x", "y", "z")):
            return None
        return [found["x"], found["y"], found["z"]]

    def _scaled(
        self, chan_path: Path, axes: list[dict], table: dict[str, float], kind: str, hint: str
    ) -> tuple[list[int], float]:
        units = {r["units"].strip() for r in axes}
        if len(units) != 1:
            raise self._error(chan_path, f"{kind} axes have different units ({', '.join(sorted(units))})")
        unit = units.pop()
        factor = table.get(unit) or table.get(unit.lower())
        if factor is None:
            raise self._error(
                chan_path, f"{kind} units {unit!r} are not supported; use {hint}", axes[0]["line"]
            )
        return [r["index"] for r in axes], factor

    def _find_acq_time(self, extra: dict[str, Any]) -> datetime | None:
        if extra.get("start_time"):
            try:
                return _parse_acq_time(str(extra["start_time"]))
            except ValueError:
                pass
        # the subject's (or session's) scans file lists this file relative to itself
        for folder in list(self.motion_path.parents)[:3]:
            for scans in sorted(folder.glob("*_scans.tsv")):
                try:
                    with open(scans, encoding="utf-8", newline="") as f:
                        for line_no, row in enumerate(csv.DictReader(f, delimiter="\t"), start=2):
                            name = (row.get("filename") or "").strip()
                            if name and (scans.parent / name).resolve() == self.motion_path.resolve():
                                try:
                                    return _parse_acq_time(row.get("acq_time") or "")
                                except ValueError:
                                    raise self._error(
                                        scans,
                                        f"acq_time {row.get('acq_time')!r} is not a BIDS date time "
                                        "(YYYY-MM-DDThh:mm:ss[.000000][Z])",
                                        line_no,
                                    ) from None
                except OSError:
                    continue
        return None

    # ------------------------------------------------------------------ streaming

    @property
    def start_time(self) -> datetime | None:
        """Wall clock of the first sample, when the dataset gives the onset's wall clock."""
        if self._acq_time is None:
            return None
        if "start_time" in self._extra:  # this project's own: already the first sample's time
            return self._acq_time
        first_latency = self._first_latency()
        return self._acq_time + timedelta(seconds=first_latency)

    def _first_latency(self) -> float:
        if self._lat_idx is None:
            return 0.0
        if not hasattr(self, "_first_lat_cache"):
            value = 0.0
            try:
                head = pd.read_csv(
                    self.motion_path, sep="\t", header=None, nrows=50, na_values=_NA, keep_default_na=False
                )
                col = pd.to_numeric(head.iloc[:, self._lat_idx], errors="coerce").dropna()
                value = float(col.iloc[0]) * self._lat_scale if len(col) else 0.0
            except (OSError, ValueError, IndexError, pd.errors.ParserError, pd.errors.EmptyDataError):
                value = 0.0
            self._first_lat_cache = value
        return self._first_lat_cache

    def _iter_blocks(self) -> Iterator[SampleBlock]:
        size = max(self.motion_path.stat().st_size, 1)
        t_offset = float(self._extra.get("t0_s") or 0.0)
        try:
            self._fh = open(self.motion_path, "rb")
            # one spare column: a row with a field too many fills it (pandas would otherwise
            # drop that field silently when the row happens to start a chunk)
            reader = pd.read_csv(
                self._fh, sep="\t", header=None, names=list(range(self.n_columns + 1)),
                index_col=False, na_values=_NA, keep_default_na=False,
                chunksize=self.chunk_rows, engine="c", dtype=np.float64,
            )  # fmt: skip
            line = 1
            index = 0
            while True:
                try:
                    chunk = next(reader)
                except StopIteration:
                    break
                except (ValueError, pd.errors.ParserError) as e:
                    error = self._parse_error(e, line)
                    yield from self._rows_before(error, line, index, t_offset)
                    raise error from None
                rows = chunk.iloc[:, : self.n_columns].to_numpy()
                spare = chunk.iloc[:, self.n_columns].notna().to_numpy()
                error = None
                if spare.any():
                    n = self.n_columns
                    bad = int(np.flatnonzero(spare)[0])
                    error = self._error(
                        self.motion_path, f"row has {n + 1} columns but earlier rows have {n}", line + bad
                    )
                    rows = rows[:bad]  # the good rows before it are kept, then it is reported
                try:
                    block = self._accept(rows, index, t_offset, line)
                except RecordingError as e:  # time went back for good: keep the rows before
                    error = e
                    block = self._accept(rows[: max((e.line or line) - line, 0)], index, t_offset, line)
                if error is not None:
                    if len(block):
                        yield block
                    raise error
                line += len(chunk)
                index += len(chunk)
                self._progress = min(self._fh.tell() / size, 1.0)
                if len(block):
                    yield block
            self._finished = True
            if self.stats.rows == 0:
                raise self._error(self.motion_path, "no usable samples (every row was empty or n/a)")
        finally:
            self.close()

    def _parse_error(self, e: Exception, line: int) -> RecordingError:
        text = " ".join(str(e).split())
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
        if m:
            return self._error(
                self.motion_path, f"row has {m.group(3)} columns but earlier rows have {m.group(1)}",
                int(m.group(2)),
            )  # fmt: skip
        m = re.search(r"could not convert string to float: '([^']*)'", text)
        if m:
            where = self._find_value(m.group(1), line)
            return self._error(
                self.motion_path,
                f"non-numeric value {quoted(m.group(1))}; fix it or write n/a for a missing value",
                where,
            )
        return self._error(self.motion_path, f"cannot parse rows starting here ({printable(text)})", line)

    def _find_value(self, value: str, first_line: int) -> int:
        """The line holding ``value`` as a cell, from ``first_line`` on (for error messages)."""
        with open(self.motion_path, encoding="utf-8", errors="replace") as f:
            for number, text in enumerate(f, start=1):
                if number >= first_line and value in (c.strip() for c in text.split("\t")):
                    return number
        return first_line

    def _rows_before(
        self, error: RecordingError, line: int, index: int, t_offset: float
    ) -> Iterator[SampleBlock]:
        """The rows from ``line`` up to the bad line ``error`` names (read again), as one block."""
        if error.line is None or error.line <= line:
            return
        try:
            data = pd.read_csv(
                self.motion_path, sep="\t", header=None, names=list(range(self.n_columns)),
                index_col=False, na_values=_NA, keep_default_na=False, skiprows=line - 1,
                nrows=error.line - line, engine="c", dtype=np.float64,
            )  # fmt: skip
        except (ValueError, pd.errors.ParserError):  # pragma: no cover - the rows parsed before
            return
        block = self._accept(data.to_numpy(), index, t_offset, line)
        if len(block):
            yield block

    def _accept(
        self, data: np.ndarray, index0: int, t_offset: float, first_line: int | None = None
    ) -> SampleBlock:
        acc = data[:, self._acc_idx] * self._acc_scale
        gyro = data[:, self._gyro_idx] * self._gyro_scale if self.has_gyro else None
        if self._lat_idx is not None:
            t = data[:, self._lat_idx] * self._lat_scale + t_offset
        else:
            t = t_offset + (index0 + np.arange(len(data))) / self.sample_rate_hz
        return self._keep(t, acc, gyro, first_line)

    def close(self) -> None:
        """Release the file (idempotent)."""
        if self._fh is not None:
            try:
                self._fh.close()
            except OSError:
                pass


def utc_acq_time(dt: datetime) -> str:
    """A wall-clock instant as a BIDS date time: UTC with ``Z`` (naive: written as is)."""
    if dt.tzinfo is None:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
