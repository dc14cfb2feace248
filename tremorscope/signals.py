"""SIGINT (Ctrl-C) and SIGTERM, for every command, in one place.

The promise (issue 14): a stop signal ends any command within 2 s, and a session it cuts
short is marked in the log (``interrupted`` for a replay; a live session, whose normal end
is Ctrl-C, closes ``complete``).

How:

- :func:`handling` is entered once around every command (``tremorscope.cli.group``, with the
  forced end armed); library code that runs a session enters it too, without the forced end
  (nested uses share one installation).
- The first signal records its name (:func:`requested`) and calls the registered
  :func:`on_stop` callbacks (a live source's ``stop()``, a paced replay's ``stop()``).
  Outside a :func:`cooperative` section it then raises :class:`Interrupted` in the main
  thread, so a command that does not poll unwinds at once (temporary files removed by their
  ``finally``), and the CLI prints one line. Inside one, the loop that entered it (the session
  runner) sees the flag after the current block and closes the session itself; a second
  signal raises :class:`Interrupted` there too. While the session is being closed
  (:func:`shielded`) signals are only recorded, so they cannot cut the closing short.
- Python runs signal handlers only between bytecodes of the main thread; compiled code that
  never returns (or a loop whose bounds come from corrupt data) would never see one. So, where
  the command line armed the forced end, the C level handler also writes to a wakeup socket
  (``signal.set_wakeup_fd``), read by a watcher thread: :data:`FORCE_AFTER_S` after the first
  signal, if the command has not ended, it runs
  the :func:`on_force` callbacks (the session runner marks its session interrupted and commits
  what it holds, under the store's lock) and ends the process with ``os._exit`` and the
  shell's status for the signal (130, 143). The watcher needs the GIL, which the core's
  compiled loops release (``nogil``) and pure-Python loops hand over every few milliseconds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

#: Seconds from the first stop signal to a forced end: the promise is 2 s, and the forced end
#: itself (marking the session, committing, exiting) needs well under the remaining 0.5 s.
FORCE_AFTER_S = 1.5
#: Seconds the forced end waits for the store's lock before exiting without it (the next open
#: of the log then marks the session interrupted, as after kill -9).
FORCE_LOCK_WAIT_S = 0.3
#: Seconds between GIL hand-overs during a forced end (Python's default is 0.005).
FORCE_SWITCH_INTERVAL_S = 1e-5
#: The signals that stop a command.
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
#: Exit statuses for a command ended by a signal (128 + signal number, as shells report).
EXIT_STATUS = {"SIGINT": 130, "SIGTERM": 143}


class Interrupted(KeyboardInterrupt):
    """A stop signal ended the command; ``signal_name`` is ``"SIGINT"`` or ``"SIGTERM"``."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


@dataclass
class _State:
    depth: int = 0
    requested: str | None = None
    cooperative: int = 0
    shielded: int = 0
    on_stop: list[Callable[[], None]] = field(default_factory=list)
    on_force: list[Callable[[str], None]] = field(default_factory=list)
    old_handlers: dict[int, Any] = field(default_factory=dict)
    old_wakeup: int = -1
    sockets: tuple[socket.socket, socket.socket] | None = None
    watcher: threading.Thread | None = None
    done: threading.Event = field(default_factory=threading.Event)
    signalled: threading.Event = field(default_factory=threading.Event)


_state = _State()


def requested() -> str | None:
    """The name of the first stop signal received (``"SIGINT"``/``"SIGTERM"``), else None."""
    return _state.requested


def exit_status(name: str | None) -> int:
    """The process exit status for a command ended by signal ``name``."""
    return EXIT_STATUS.get(name or "", 1)


def _handle(signum: int, frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    first = _state.requested is None
    if first:
        _state.requested = name
        _state.signalled.set()  # also starts the forced-end clock when no wakeup fd was possible
        for callback in list(_state.on_stop):
            try:
                callback()
            except Exception:  # noqa: BLE001 - stopping must go on whatever one callback does
                pass
    if _state.shielded:
        return
    if _state.cooperative and first:
        return
    raise Interrupted(_state.requested or name)


def _watch(reader: socket.socket | None) -> None:
    """Wait for a stop signal (at C level, via the wakeup socket), then enforce the deadline."""
    numbers = {int(s) for s in STOP_SIGNALS}
    while not _state.done.is_set():
        if reader is None:
            if _state.signalled.wait(0.1):
                break
            continue
        try:
            data = reader.recv(64)
        except (TimeoutError, BlockingIOError, InterruptedError):
            if _state.signalled.is_set():
                break
            continue
        except OSError:
            return
        if not data:
            return
        if numbers.intersection(data) or _state.signalled.is_set():
            break
    if _state.done.wait(FORCE_AFTER_S):
        return
    _force_end()


def _force_end() -> None:
    name = _state.requested or "SIGTERM"
    # A stuck main thread in a Python loop would otherwise hold the GIL for 5 ms each time this
    # thread waits for it (every SQLite call), stretching the forced close past the deadline.
    sys.setswitchinterval(FORCE_SWITCH_INTERVAL_S)
    for callback in list(_state.on_force):
        try:
            callback(name)
        except Exception:  # noqa: BLE001 - the process ends regardless
            pass
    message = f"stopped by {name}; forced to end after {FORCE_AFTER_S:g} s\n"
    try:
        os.write(2, message.encode())  # not sys.stderr: its lock may be held by the stuck thread
    except OSError:
        pass
    os._exit(exit_status(name))


def _install(force: bool) -> None:
    st = _state
    st.requested = None
    st.done.clear()
    st.signalled.clear()
    for sig in STOP_SIGNALS:
        st.old_handlers[sig] = signal.signal(sig, _handle)
    if not force:
        return
    reader = None
    try:
        reader, writer = socket.socketpair()
        writer.setblocking(False)
        reader.settimeout(0.1)
        st.old_wakeup = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        st.sockets = (reader, writer)
    except (OSError, ValueError):  # no wakeup fd here: the Python handler starts the clock
        reader = None
    st.watcher = threading.Thread(target=_watch, args=(reader,), name="tremorscope-signals", daemon=True)
    st.watcher.start()


def _uninstall() -> None:
    st = _state
    st.done.set()
    if st.sockets is not None:
        try:
            signal.set_wakeup_fd(st.old_wakeup)
        except (OSError, ValueError):
            pass
    for sig, old in st.old_handlers.items():
        signal.signal(sig, old)
    st.old_handlers.clear()
    if st.watcher is not None:
        st.watcher.join(timeout=1.0)
        st.watcher = None
    if st.sockets is not None:
        for s in st.sockets:
            s.close()
        st.sockets = None
    st.on_stop.clear()
    st.on_force.clear()
    st.requested = None
    st.cooperative = st.shielded = 0


@contextlib.contextmanager
def handling(force: bool = False) -> Iterator[None]:
    """Install the stop-signal handling for the enclosed code (main thread only; nestable).

    ``force`` arms the forced end (the command line does; a notebook or a host program that
    runs a session must not be ended by it, so library use only gets the cooperative stop).
    """
    if _state.depth or threading.current_thread() is not threading.main_thread():
        nested = bool(_state.depth)  # elsewhere than the main thread nothing can be installed
        _state.depth += nested
        try:
            yield
        finally:
            _state.depth -= nested
        return
    try:
        _install(force)
    except (OSError, ValueError):  # pragma: no cover - an embedding without signals
        yield
        return
    _state.depth = 1
    try:
        yield
    finally:
        _state.depth = 0
        _uninstall()


@contextlib.contextmanager
def cooperative() -> Iterator[None]:
    """A loop that checks :func:`requested` after each step: the first signal only sets it."""
    with handling():
        _state.cooperative += 1
        try:
            yield
        finally:
            _state.cooperative -= 1


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Closing work (flushing, writing totals) that a signal must not interrupt."""
    _state.shielded += 1
    try:
        yield
    finally:
        _state.shielded -= 1


@contextlib.contextmanager
def on_stop(callback: Callable[[], None]) -> Iterator[None]:
    """Call ``callback()`` at the first stop signal (from the handler: keep it short)."""
    _state.on_stop.append(callback)
    try:
        if _state.requested is not None:
            callback()
        yield
    finally:
        with contextlib.suppress(ValueError):
            _state.on_stop.remove(callback)


@contextlib.contextmanager
def on_force(callback: Callable[[str], None]) -> Iterator[None]:
    """Call ``callback(signal_name)`` from the watcher thread before a forced end."""
    _state.on_force.append(callback)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            _state.on_force.remove(callback)
