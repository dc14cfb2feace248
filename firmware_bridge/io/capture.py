"""Raw capture files: every payload a sensor sent, as JSON Lines.

Line 1 is a header object::

    {"capture": "tremorscope", "version": 1, "device": "witmotion", "transport": "ble",
     "address": "...", "t0": 1732540000.0, "protocol": {...}, "created": "2024-...Z"}

then one object per payload: ``{"t": <host receive time, s>, "src": <characteristic
UUID or "serial">, "hex": <payload as hex>}``. Link events (``{"t": ..., "event":
"disconnected"}``) may appear between payloads; readers that only want payloads skip
them. Captures are how a real device session becomes a test fixture: replaying one runs
exactly the decode path of the live session.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from firmware_bridge.io.text import utf16_advice, utf16_kind
from firmware_bridge.transports.base import RawPayload

CAPTURE_MAGIC = "tremorscope"
CAPTURE_VERSION = 1


class CaptureError(ValueError):
    """A capture file that cannot be read; the message names the file and line."""


class CaptureWriter:
    """Appends payloads to a JSONL capture. Thread-safe enough for one producer.

    Lines are flushed at least every ``flush_s`` seconds, so a crash loses at most
    that much; ``close`` flushes and syncs. The file is owner-only (0600): a capture is
    health data.
    """

    def __init__(self, path: str | Path, header: dict[str, Any], flush_s: float = 1.0) -> None:
        self.path = Path(path)
        for key in ("device", "transport"):
            if key not in header:
                raise ValueError(f"capture header needs {key!r}")
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.chmod(self.path, 0o600)
        self._fh: IO[str] | None = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        head = {"capture": CAPTURE_MAGIC, "version": CAPTURE_VERSION, **header}
        head.setdefault("created", datetime.now(timezone.utc).isoformat(timespec="seconds"))
        self._fh.write(json.dumps(head, sort_keys=False) + "\n")
        self._fh.flush()
        self.flush_s = flush_s
        self._lock = threading.Lock()  # payloads (receive thread) and events (consumer)
        self._last_flush = time.monotonic()
        self.count = 0

    def write(self, payload: RawPayload) -> None:
        """Record one payload (called as it arrives)."""
        self._line({"t": payload.t, "src": payload.src, "hex": payload.data.hex()})  # full precision
        self.count += 1

    def event(self, name: str, t: float | None = None, **info: Any) -> None:
        """Record a link event (connected, disconnected, watchdog) for later diagnosis."""
        self._line({"t": round(time.time() if t is None else t, 6), "event": name, **info})

    def _line(self, obj: dict[str, Any]) -> None:
        text = json.dumps(obj) + "\n"
        with self._lock:
            fh = self._fh
            if fh is None:
                return
            fh.write(text)
            now = time.monotonic()
            if now - self._last_flush >= self.flush_s:
                fh.flush()
                self._last_flush = now

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.flush()
                os.fsync(self._fh.fileno())
                self._fh.close()
                self._fh = None

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Capture:
    """A capture read back: its header, payloads, link events and any skipped lines."""

    path: Path
    header: dict[str, Any]
    payloads: list[RawPayload] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: list[str] = field(default_factory=list)  # "file:line: why"

    @property
    def device(self) -> str:
        return str(self.header.get("device", ""))


def read_header(path: str | Path) -> dict[str, Any]:
    """Only the header of a capture (to pick the device before decoding)."""
    path = Path(path)
    with _open(path) as fh:
        return _parse_header(path, fh.readline())


def read_capture(path: str | Path) -> Capture:
    """Read a whole capture. A bad header is an error; a bad body line is skipped and noted.

    The last line of a capture written by a session that crashed may be cut short; it
    and any other unreadable line are listed in ``Capture.bad_lines`` instead of ending
    the read, so one bad line never loses the rest of a recording.
    """
    path = Path(path)
    cap: Capture | None = None
    for _lineno, kind, obj in _iter_lines(path):
        if kind == "header":
            cap = Capture(path=path, header=obj)
        elif kind == "payload":
            cap.payloads.append(obj)  # type: ignore[union-attr]
        elif kind == "event":
            cap.events.append(obj)  # type: ignore[union-attr]
        else:
            cap.bad_lines.append(obj)  # type: ignore[union-attr]
    if cap is None:
        raise CaptureError(f"{path}: empty file; expected a tremorscope capture (JSON Lines)")
    return cap


def iter_payloads(path: str | Path) -> Iterator[RawPayload]:
    """Stream the payloads of a capture without holding it all in memory."""
    for _lineno, kind, obj in _iter_lines(Path(path)):
        if kind == "payload":
            yield obj


def _open(path: Path) -> IO[str]:
    try:
        with open(path, "rb") as raw:
            kind = utf16_kind(raw.read(4096))
        if kind is not None:
            raise CaptureError(f"{path}: {utf16_advice(kind)}")
        return open(path, encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise CaptureError(f"{path}: no such file") from None
    except OSError as exc:
        raise CaptureError(f"{path}: cannot open ({exc.strerror})") from None


def _parse_header(path: Path, line: str) -> dict[str, Any]:
    where = f"{path}:1"
    if not line.strip():
        raise CaptureError(f"{where}: empty file; expected a tremorscope capture header")
    try:
        head = json.loads(line)
    except json.JSONDecodeError:
        raise CaptureError(
            f"{where}: not JSON; is this a capture made with `tremorscope live --capture`?"
        ) from None
    if not isinstance(head, dict) or head.get("capture") != CAPTURE_MAGIC:
        raise CaptureError(f'{where}: header lacks "capture": "tremorscope"; not a capture file')
    version = head.get("version")
    if version != CAPTURE_VERSION:
        raise CaptureError(
            f"{where}: capture version {version!r} is not supported (this tremorscope reads "
            f"version {CAPTURE_VERSION}); upgrade tremorscope"
        )
    if not head.get("device"):
        raise CaptureError(f"{where}: header has no device; add --device NAME to decode it")
    return head


def _iter_lines(path: Path) -> Iterator[tuple[int, str, Any]]:
    with _open(path) as fh:
        yield 1, "header", _parse_header(path, fh.readline())
        for lineno, line in enumerate(fh, start=2):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if "event" in obj:
                    yield lineno, "event", obj
                    continue
                payload = RawPayload(float(obj["t"]), str(obj["src"]), bytes.fromhex(obj["hex"]))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
                why = type(exc).__name__
                yield lineno, "bad", f"{path}:{lineno}: unreadable payload line ({why}), skipped"
                continue
            yield lineno, "payload", payload
