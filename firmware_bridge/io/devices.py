"""Research accelerometers' own files: Axivity CWA (AX3, AX6), GENEActiv BIN, ActiGraph GT3X.

We do not parse these binary formats ourselves; maintained readers do, and this module maps what
they return onto the sample block (t in s, acc in g, gyro in deg/s). Which library reads which
format was chosen by measurement on the real files in ``../shared/real-data/devices/``
(``benchmarks/bench_device_readers.py`` repeats it):

- **actfast** (MIT licence, Rust, Child Mind Institute) for CWA and BIN: correct on the AX3, AX6
  and GENEActiv files (median |acc| 0.96-1.01 g, the declared 100 Hz / 85.7 Hz rates, the AX6's
  gyroscope present), about 1 ms and under 1 MiB for each test file (some 15 M samples/s), and
  its ``lenient`` mode keeps every good block of a damaged file and names the bad ones, which
  the batch reports.
- **pygt3x** (GPL-3.0-or-later, ActiGraph's own reader) for GT3X: actfast 1.3.0 returns *no*
  acceleration for either real GT3X file (0 samples; only capsense and battery), while pygt3x
  reads all of them (9,000 and 1,467,810 samples at 30 Hz, median |acc| 0.99-1.04 g); the 13 h
  file takes 1.8-3.2 s and 238 MiB at peak (about 160 bytes a sample: a week at 30 Hz needs some
  3 GB on the worker that reads it). Its licence is GPL: it is an optional dependency (the
  ``cohort`` extra), imported only when a GT3X file is opened, so tremorscope itself stays
  Apache-2.0; installing the extra is the user's choice.
- actipy needs a Java runtime; scikit-digital-health's readers pull in its whole pipeline.

Both libraries read the whole file into memory (neither offers a streaming API: actfast's one
call, ``read``, returns the whole file; pygt3x's ``FileReader`` decodes everything on entering),
so a week at 100 Hz holds about 60 M samples on one worker while it is analysed. Measured with
``benchmarks/bench_device_readers.py --scale``: actfast peaks at 40 bytes a sample (2.0 GiB for
52 M samples), this reader at about 49 in all (it keeps the library's arrays and converts
each ``chunk_rows`` block to float64 as it hands it on), so about 3 GB for a week.
These devices are accelerometer-only except the AX6, so the detector's accelerometer-only path
is what runs for most of them.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from firmware_bridge.io.recording import (
    DEFAULT_PLACEMENT,
    MAX_SAMPLE_RATE_HZ,
    MIN_SAMPLE_RATE_HZ,
    RecordingError,
    SampleRowReader,
)
from firmware_bridge.samples import SampleBlock

#: What to install when a device library is missing.
INSTALL_HINT = "install the research-device readers: pip install 'tremorscope[cohort]'"
#: Samples whose step sets the rate when the file declares none.
RATE_ESTIMATE_SAMPLES = 10_000
_NS_PER_S = 1_000_000_000

# OpenMovement cwa.h (github.com/digitalinteraction/openmovement, Docs/ax3/cwa.h): the file
# starts with the 1024-byte header packet "MD", and every 512-byte data sector with "AX".
CWA_HEADER_MAGIC = b"MD"
CWA_SECTOR_MAGIC = b"AX"
CWA_FIRST_SECTOR = 1024
# GENEActiv BIN (Activinsights GENEActiv instruction manual, "binary file format"): a text header
# whose first line is "Device Identity".
GENEACTIV_MAGIC = b"Device Identity"
# OMGUI metadata convention (openmovement wiki, "AX3 metadata"): the session annotation is a URL
# query string whose "_p" key is the body location, e.g. "_p=right+wrist".
_OMGUI_PLACE = re.compile(r"(?:^|&)_p=([^&]*)")
_GMT_OFFSET = re.compile(r"GMT\s*([+-])(\d{1,2}):?(\d{2})")
_PLACES = ("wrist", "hand", "forearm", "ankle", "leg", "thigh", "hip", "waist", "chest", "neck", "head")


def is_cwa(head: bytes) -> bool:
    """Whether bytes start an Axivity CWA file (header packet, then a data sector)."""
    if not head.startswith(CWA_HEADER_MAGIC):
        return False
    return (
        len(head) < CWA_FIRST_SECTOR + 2 or head[CWA_FIRST_SECTOR : CWA_FIRST_SECTOR + 2] == CWA_SECTOR_MAGIC
    )


def is_geneactiv(head: bytes) -> bool:
    """Whether bytes start a GENEActiv BIN file."""
    return head.lstrip(b"\xef\xbb\xbf").startswith(GENEACTIV_MAGIC)


def _placement(text: str | None) -> str:
    """A body location from free text ('right wrist' -> 'wrist'); the default when none is named."""
    low = (text or "").replace("+", " ").lower()
    for place in _PLACES:
        if place in low:
            return place
    return DEFAULT_PLACEMENT


class DeviceFileReader(SampleRowReader):
    """A device file read whole by its library, handed on as blocks of ``chunk_rows`` samples.

    Subclasses implement :meth:`_load`, which sets the metadata attributes and returns
    ``(t_ns, acc_g, gyro_dps_or_None)`` with ``t_ns`` the device clock in nanoseconds.
    ``read_warnings`` lists the damaged parts the library skipped (empty for a clean file);
    ``range_g`` is the accelerometer's full scale (for clipping), ``idle_samples`` the samples
    a device did not record (ActiGraph idle sleep), left out so they read as a gap.
    """

    format_name = "device"

    def __init__(self, path: str | os.PathLike[str], chunk_rows: int = 100_000) -> None:
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
        self.path = Path(path)
        self.chunk_rows = int(chunk_rows)
        super().__init__(str(path))
        self.meta: dict[str, str] = {"format": self.format_name}
        self.device: str | None = None
        self.placement: str = DEFAULT_PLACEMENT
        self.start_time: datetime | None = None
        self.range_g: float | None = None
        self.read_warnings: list[str] = []
        self.idle_samples = 0
        self.rate_estimated = False
        if not self.path.is_file():
            raise RecordingError(f"{self.path}: no such file")
        try:
            t_ns, acc, gyro = self._load()
        except RecordingError:
            raise
        except ImportError as e:
            raise RecordingError(f"{self.path}: {e.name or e} is not installed; {INSTALL_HINT}") from None
        except Exception as e:  # the library's own error, as one line
            text = " ".join(str(e).split()) or type(e).__name__
            raise RecordingError(f"{self.path}: not a readable {self.format_name} file ({text})") from None
        if t_ns.size == 0:
            raise RecordingError(f"{self.path}: the {self.format_name} file holds no acceleration samples")
        t_ns = np.asarray(t_ns, dtype=np.int64)
        if t_ns.size > 1 and not bool(np.all(t_ns[1:] >= t_ns[:-1])):
            order = np.argsort(t_ns, kind="stable")
            t_ns, acc = t_ns[order], acc[order]
            gyro = None if gyro is None else gyro[order]
        # The library's own arrays are kept as they are (int64 ns, its float dtype) and each
        # block is converted to float64 seconds and values when it is handed on: a float64 copy
        # of a week's samples would add some 32 bytes a sample on the worker.
        self._t0_ns = int(t_ns[0])
        self._t_ns = t_ns
        self._acc = np.asarray(acc)
        self._gyro = None if gyro is None else np.asarray(gyro)
        self.has_gyro = self._gyro is not None
        self._settle_rate()

    # --------------------------------------------------------------- subclass hooks
    def _load(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    def _declared_rate_hz(self) -> float | None:
        return None

    # --------------------------------------------------------------- shared
    def _settle_rate(self) -> None:
        rate = self._declared_rate_hz()
        if rate is None or not math.isfinite(rate) or rate <= 0:
            d = np.diff(self._t_ns[:RATE_ESTIMATE_SAMPLES]) / _NS_PER_S
            d = d[d > 0]
            if d.size == 0:
                raise RecordingError(f"{self.path}: cannot tell the sample rate (fewer than two samples)")
            rate = round(1.0 / float(np.median(d)), 1)
            self.rate_estimated = True
        if not (MIN_SAMPLE_RATE_HZ <= rate <= MAX_SAMPLE_RATE_HZ):
            raise RecordingError(
                f"{self.path}: sample rate {rate:g} Hz is outside the supported "
                f"{MIN_SAMPLE_RATE_HZ:g}-{MAX_SAMPLE_RATE_HZ:g} Hz; record at a higher rate"
            )
        self.sample_rate_hz = float(rate)
        self.meta["sample_rate_hz"] = f"{rate:g}"

    def _iter_blocks(self) -> Iterator[SampleBlock]:
        n = self._t_ns.size
        for a in range(0, n, self.chunk_rows):
            b = min(a + self.chunk_rows, n)
            t = (self._t_ns[a:b] - self._t0_ns) / _NS_PER_S  # float64 seconds from the first sample
            acc = np.asarray(self._acc[a:b], dtype=np.float64)
            gyro = None if self._gyro is None else np.asarray(self._gyro[a:b], dtype=np.float64)
            block = self._keep(t, acc, gyro)
            self._progress = b / n
            if len(block):
                yield block
        self._finished = True

    def close(self) -> None:
        """Drop the arrays (the file itself was closed after reading)."""
        self._t_ns = self._t_ns[:0]
        self._acc = self._acc[:0]
        self._gyro = None if self._gyro is None else self._gyro[:0]


def _actfast_read(path: Path) -> dict[str, Any]:
    import actfast

    # lenient: a damaged block is skipped and named in "warnings" instead of failing the file
    return actfast.read(str(path), lenient=True)


def _high_frequency(data: dict[str, Any], path: Path) -> dict[str, np.ndarray]:
    series = data.get("timeseries", {})
    hf = series.get("high_frequency") or series.get("acceleration") or {}
    if "acceleration" not in hf or len(hf["acceleration"]) == 0:
        warnings = "; ".join(data.get("warnings") or [])
        raise RecordingError(
            f"{path}: no acceleration samples could be read" + (f" ({warnings})" if warnings else "")
        )
    return hf


class CwaReader(DeviceFileReader):
    """Axivity AX3 / AX6 ``.cwa`` through actfast (acc in g; AX6 gyro in deg/s)."""

    format_name = "Axivity CWA"

    def _load(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        data = _actfast_read(self.path)
        self.read_warnings = [" ".join(str(w).split()) for w in data.get("warnings") or []]
        meta = data.get("metadata", {})
        device, config = meta.get("device", {}), meta.get("configuration", {})
        self.device = " ".join(
            x for x in ("Axivity", device.get("hardware_type"), device.get("device_id")) if x
        )
        self._rate = _number(config.get("sample_rate_hz"))
        self.range_g = _number(config.get("accelerometer_range_g"))
        place = _OMGUI_PLACE.search(str(meta.get("session", {}).get("annotation") or ""))
        self.placement = _placement(place.group(1) if place else None)
        hf = _high_frequency(data, self.path)
        t_ns = np.asarray(hf["datetime"], dtype=np.int64)
        # cwa.h: timestamps are the device's local clock, with no time zone ("time_zone" -1 = unknown)
        self.start_time = _naive(int(t_ns[0])) if t_ns.size else None
        self.meta.update(
            {"device_id": str(device.get("device_id", "")), "session": str(device.get("session_id", ""))}
        )
        gyro = hf.get("gyroscope")
        return (
            t_ns,
            np.asarray(hf["acceleration"]),
            None if gyro is None or len(gyro) == 0 else np.asarray(gyro),
        )

    def _declared_rate_hz(self) -> float | None:
        return self._rate


class GeneActivReader(DeviceFileReader):
    """GENEActiv ``.bin`` through actfast (calibrated acc in g; the header's own time zone)."""

    format_name = "GENEActiv BIN"

    def _load(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        data = _actfast_read(self.path)
        self.read_warnings = [" ".join(str(w).split()) for w in data.get("warnings") or []]
        meta = data.get("metadata", {})
        ident, caps = meta.get("Device Identity", {}), meta.get("Device Capabilities", {})
        conf, subject = meta.get("Configuration Info", {}), meta.get("Subject Info", {})
        self.device = " ".join(x for x in ("GENEActiv", ident.get("Device Unique Serial Code")) if x)
        self._rate = _number(str(conf.get("Measurement Frequency", "")).split(" ")[0])
        rng = re.findall(r"[\d.]+", str(caps.get("Accelerometer Range", "")))
        self.range_g = float(rng[-1]) if rng else None
        self.placement = _placement(subject.get("Device Location Code"))
        hf = _high_frequency(data, self.path)
        t_ns = np.asarray(hf["datetime"], dtype=np.int64)
        m = _GMT_OFFSET.search(str(conf.get("Time Zone", "")))
        if t_ns.size:
            tz = None
            if m:
                sign = -1 if m.group(1) == "-" else 1
                tz = timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))
            self.start_time = _naive(int(t_ns[0])) if tz is None else _naive(int(t_ns[0])).replace(tzinfo=tz)
        return t_ns, np.asarray(hf["acceleration"]), None

    def _declared_rate_hz(self) -> float | None:
        return self._rate


class Gt3xReader(DeviceFileReader):
    """ActiGraph ``.gt3x`` through pygt3x (calibrated acc in g; idle-sleep samples left out)."""

    format_name = "ActiGraph GT3X"

    def _load(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        from pygt3x.reader import FileReader

        # pygt3x logs what it skips (bad event checksums, duplicate records): kept as warnings
        with _CollectLog("pygt3x") as log, FileReader(str(self.path)) as reader:
            # the reader's own arrays (columns: time s, x, y, z, idle flag) and calibration; its
            # to_pandas() would round the samples to float32 and sorts in place
            raw = np.asarray(reader.acceleration)
            info = reader.info
            acc = np.asarray(reader.calibrate_acceleration(raw[:, 1:4]))
        self.read_warnings = log.messages
        self.device = " ".join(x for x in ("ActiGraph", info.device_type, info.serial_number) if x)
        self._rate = float(info.sample_rate) if info.sample_rate else None
        self.range_g = float(info.acceleration_max) if info.acceleration_max else None
        self.placement = _placement(f"{info.side or ''} {info.limb or ''}")
        if info.subject_name:
            self.meta["person_id"] = str(info.subject_name)
        # pygt3x fills idle-sleep-mode stretches with the last sample and flags them; the device
        # was not measuring, so they are left out and the detector sees a gap.
        idle = raw[:, 4] == 1
        self.idle_samples = int(idle.sum())
        # GT3X-File-Format (github.com/actigraph/GT3X-File-Format, log.bin): timestamps are
        # local time in seconds; info.txt's TimeZone gives its UTC offset.
        t_ns = np.round(raw[~idle, 0] * _NS_PER_S).astype(np.int64)
        acc = acc[~idle]
        if t_ns.size:
            self.start_time = _naive(int(t_ns[0]))
            offset = _tz_offset(info.timezone)
            if offset is not None:
                self.start_time = self.start_time.replace(tzinfo=timezone(offset))
        return t_ns, acc, None

    def _declared_rate_hz(self) -> float | None:
        return self._rate


class _CollectLog(logging.Handler):
    """Collect a library logger's warnings (one line each) instead of printing them."""

    def __init__(self, name: str) -> None:
        super().__init__(logging.WARNING)
        self.logger = logging.getLogger(name)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(" ".join(record.getMessage().split()))

    def __enter__(self) -> _CollectLog:
        self._propagate = self.logger.propagate
        self.logger.addHandler(self)
        self.logger.propagate = False
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)
        self.logger.propagate = self._propagate


def _naive(ns: int) -> datetime:
    """Nanoseconds since 1970 on a clock with no zone, as a naive datetime (to the microsecond)."""
    return datetime(1970, 1, 1) + timedelta(microseconds=ns // 1000)


def _tz_offset(text: str | None) -> timedelta | None:
    m = re.fullmatch(r"\s*([+-]?)(\d{1,2}):(\d{2})(?::\d{2})?\s*", text or "")
    if not m:
        return None
    sign = -1 if m.group(1) == "-" else 1
    return sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))


def _number(text: object) -> float | None:
    try:
        value = float(str(text).strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None
