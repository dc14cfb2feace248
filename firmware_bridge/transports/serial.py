"""Serial transport (pyserial): USB CDC (ESP32-S3, nRF52, SAMD boards) and USB-UART adapters.

A reader thread moves whatever bytes arrive into the payload queue, stamped with the
host receive time; pyserial's ``read`` with a short timeout returns early as soon as
data is there. An unplugged adapter makes ``read`` raise (the port vanishes, or a
pseudo-terminal's other end closes with EIO): the reader marks the link lost, the
bytes already queued are still delivered, and the live source reopens the port with
backoff. DTR and RTS are held low on open, because many ESP32 and Arduino boards wire
them to reset/boot-mode and would otherwise reboot whenever the port is opened.

After a replug nothing the device sends once the port is back should be lost (issue 14):
the port is retried every :data:`RETRY_MAX_S` (a missing device node costs one failed
``open``), and a reopen keeps the bytes the kernel buffered for the port since it came
back (pyserial 3.5's POSIX ``Serial.open`` calls ``_reset_input_buffer``, a
``tcflush(TCIFLUSH)``, which would discard them; the first open still starts clean).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from firmware_bridge.transports.base import (
    SERIAL_SRC,
    Command,
    Transport,
    TransportError,
    TransportLost,
)

DEFAULT_BAUD = 115200
#: Largest read per call; at 921600 baud this is about 40 ms of data.
READ_CHUNK_BYTES = 4096
#: Longest wait between attempts to reopen a vanished port, s: a replugged adapter is back
#: within this (a device that does not buffer loses at most this much), and a failed open of
#: a missing node is one cheap system call.
RETRY_MAX_S = 0.25


def _default_factory() -> Any:
    import serial  # pyserial

    return serial.Serial()


class SerialTransport(Transport):
    """One serial port. ``port`` is e.g. ``/dev/ttyUSB0``, ``/dev/ttyACM0``, ``COM3``."""

    kind = "serial"
    retry_max_s = RETRY_MAX_S

    def __init__(
        self,
        port: str,
        baud: int = DEFAULT_BAUD,
        *,
        queue_len: int = 4096,
        read_timeout_s: float = 0.05,
        serial_factory: Callable[[], Any] | None = None,
    ) -> None:
        super().__init__(queue_len)
        if not port:
            raise TransportError("no serial port given; use --port (e.g. /dev/ttyUSB0 or COM3)")
        if int(baud) <= 0:
            raise TransportError(f"baud rate must be positive, not {baud}")
        self.port = port
        self.baud = int(baud)
        self.read_timeout_s = read_timeout_s
        self._factory = serial_factory or _default_factory
        self._ser: Any = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._opened_before = False

    @property
    def description(self) -> str:
        return f"serial {self.port} @ {self.baud} baud"

    def open(self, subscriptions: Sequence[str] = (SERIAL_SRC,)) -> None:
        self.close()
        ser = self._factory()
        ser.port = self.port
        ser.baudrate = self.baud
        ser.timeout = self.read_timeout_s
        ser.write_timeout = 1.0
        if self._opened_before and hasattr(ser, "_reset_input_buffer"):
            ser._reset_input_buffer = _keep_input  # a reopen: what arrived since the replug is data
        try:
            ser.dtr = False  # before open: applied on open, so the board is not reset
            ser.rts = False
            ser.open()
        except Exception as exc:  # SerialException, OSError, ValueError (bad settings)
            raise TransportError(f"cannot open {self.port}: {_reason(exc)}") from None
        self._ser = ser
        self._opened_before = True
        self._closing.clear()
        self._mark_open()
        self._thread = threading.Thread(
            target=self._reader, args=(ser,), name=f"serial-{self.port}", daemon=True
        )
        self._thread.start()

    def _reader(self, ser: Any) -> None:
        while not self._closing.is_set():
            try:
                waiting = ser.in_waiting
                data = ser.read(min(max(waiting, 1), READ_CHUNK_BYTES))
            except Exception:  # noqa: BLE001 - any read failure means the port is gone
                if not self._closing.is_set():
                    self._mark_lost()
                return
            if data:
                self._deliver(data, SERIAL_SRC)

    def write(self, command: Command) -> None:
        ser = self._ser
        if ser is None or self._lost.is_set():
            raise TransportLost(f"{self.description}: not connected")
        try:
            ser.write(command.data)
            ser.flush()
        except Exception as exc:  # noqa: BLE001
            self._mark_lost()
            raise TransportLost(f"{self.description}: write failed: {_reason(exc)}") from None

    def close(self) -> None:
        self._closing.set()
        ser, self._ser = self._ser, None
        if ser is not None:
            try:
                ser.close()
            except Exception:  # noqa: BLE001 - closing a vanished port may fail; it is closed
                pass
        t, self._thread = self._thread, None
        if t is not None and t is not threading.current_thread():
            t.join(timeout=2.0)


def _keep_input() -> None:
    """Stands in for pyserial's input flush on a reopen (see the module docstring)."""


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def list_ports() -> list[tuple[str, str]]:
    """Serial ports on this computer as (device, description), for ``tremorscope devices``."""
    try:
        from serial.tools import list_ports as lp
    except ImportError:  # pragma: no cover - pyserial is a dependency
        return []
    return [(p.device, p.description or "") for p in lp.comports()]
