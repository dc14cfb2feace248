"""Sensor links for the commands: device and transport from the options, the live feed and its status
line, signals, and the two library-like entry points ``replay_capture`` and ``calibrate_live``.

Thin wrappers over ``firmware_bridge``: a transport (serial or BLE) and a device protocol
feed a :class:`~firmware_bridge.live.LiveSource`, whose sample blocks go through the
same :class:`~tremorscope.session.SessionRunner` as ``replay``. The link statistics
(dropped, malformed, gaps, effective rate, drift, battery) go into the session row and
its ``extra_json["live"]``. No commands here: ``live``, ``setup`` and ``data`` use it.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import numpy as np

from dsp.events import ENDED, STARTED, Event, Gap
from firmware_bridge.io.capture import CaptureError
from firmware_bridge.io.capture_decode import capture_source
from firmware_bridge.live import LiveSource
from firmware_bridge.protocols.registry import DeviceSpec, UnknownDevice, get_device
from firmware_bridge.protocols.registry import make_protocol as _make_protocol
from firmware_bridge.samples import SampleBlock
from firmware_bridge.transports.base import Transport, TransportError
from firmware_bridge.transports.pairing import PairingError, PairingStore, looks_like_address
from tremorscope import signals, tables
from tremorscope.calibration import (
    Calibration,
    CalibrationError,
    NeutralChoice,
    choose_neutral,
    hold_still_s,
    measure_neutral,
)
from tremorscope.cli.helpers import CliError
from tremorscope.paths import user_data_dir
from tremorscope.session import SessionInfo, SessionResult, SessionRunner
from tremorscope.store import Store

PAIRING_FILE = "devices.json"
STATUS_REFRESH_S = 0.25
EXTRA_SAVE_S = 5.0
#: Extra time allowed for the still period's samples to arrive (link start-up, buffering).
PEEK_SLACK_S = 10.0


def pairing_store() -> PairingStore:
    """The pairing file in the per-user data folder."""
    return PairingStore(user_data_dir() / PAIRING_FILE)


def parse_options(pairs: tuple[str, ...]) -> dict[str, str]:
    """``--opt key=value`` pairs as a dict."""
    out: dict[str, str] = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--opt {p!r}: use KEY=VALUE, e.g. --opt rate_hz=50")
        out[key.strip()] = value.strip()
    return out


def make_protocol(spec: DeviceSpec, options: dict[str, str]):
    try:
        return _make_protocol(spec.name, **options)
    except (ValueError, TypeError) as e:
        raise CliError(f"{spec.name}: {e}") from None


def resolve_device(device: str, address: str | None) -> tuple[DeviceSpec, str | None]:
    """The device spec and BLE address for ``--device`` / ``--address`` (paired names work)."""
    paired = None
    try:
        store = pairing_store()
        paired = store.get(device)
        if address and not looks_like_address(address):
            by_name = store.get(address)
            if by_name is None:
                raise CliError(
                    f"--address {address!r} is neither a Bluetooth address nor a paired name; "
                    "`tremorscope pair NAME ADDRESS --device TYPE` saves one"
                )
            address = by_name.address
    except PairingError as e:
        raise CliError(str(e)) from None
    if paired is not None:
        return _spec(paired.device), address or paired.address
    return _spec(device), address


def _spec(name: str) -> DeviceSpec:
    try:
        return get_device(name)
    except UnknownDevice as e:
        raise CliError(f"{e}, or a name saved with `tremorscope pair`") from None


def make_transport(spec: DeviceSpec, address: str | None, port: str | None, baud: int | None) -> Transport:
    if port and address:
        raise CliError("give either --port (serial) or --address (Bluetooth), not both")
    if port:
        if "serial" not in spec.transports:
            raise CliError(f"{spec.name} does not stream over serial; use --address for Bluetooth")
        from firmware_bridge.transports.serial import SerialTransport

        try:
            return SerialTransport(port, baud or spec.default_baud)
        except TransportError as e:
            raise CliError(str(e)) from None
    if "ble" not in spec.transports:
        raise CliError(f"{spec.name} streams over serial only; give --port (e.g. /dev/ttyUSB0)")
    if not address:
        raise CliError(
            f"which {spec.name}? give --address AA:BB:CC:DD:EE:FF, --port for serial, or pair it: "
            "`tremorscope scan` then `tremorscope pair NAME ADDRESS`"
        )
    from firmware_bridge.transports.ble import BleTransport

    return BleTransport(address)


# --------------------------------------------------------------------------- live


class StatusLine:
    """One status line on a terminal (stderr), redrawn a few times a second; silent otherwise."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._last = 0.0
        self.shown = False

    def show(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._last < STATUS_REFRESH_S):
            return
        self._last = now
        width = 120
        try:
            import shutil

            width = shutil.get_terminal_size((120, 20)).columns
        except Exception:  # noqa: BLE001
            pass
        sys.stderr.write("\r\x1b[K" + text[: max(20, width - 1)])
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.enabled and self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.shown = False


def _fmt(v: Any, spec: str, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:{spec}}{unit}"


class LiveFeed:
    """The blocks a live session consumes, plus the live status line and stats saving.

    Blocks pass through unchanged: the raw log keeps what the sensor sent (the detector
    estimates the gyroscope's offset itself), so a re-analysis or a capture replay sees the same.
    """

    def __init__(
        self,
        source: LiveSource,
        blocks: Iterator[SampleBlock],
        peeked: list[SampleBlock],
        status: StatusLine,
    ) -> None:
        self.source = source
        self._blocks = blocks
        self._peeked = peeked
        self.status = status
        self.runner: SessionRunner | None = None
        self.extra: dict[str, Any] = {}
        self.episodes = 0
        self._gaps_logged = 0
        self._saved = time.monotonic()
        self._started = time.monotonic()

    def __iter__(self) -> Iterator[SampleBlock]:
        try:
            yield from self._peeked
            self._peeked = []
            yield from self._blocks
        finally:
            close = getattr(self._blocks, "close", None)
            if close is not None:
                close()
            self.status.clear()

    def on_block(self, runner: SessionRunner) -> None:
        """Runner hook after every block: log new link gaps, save stats, redraw the status."""
        self.runner = runner
        gaps = self.source.clock.gaps
        while self._gaps_logged < len(gaps) and runner.session_id is not None:
            g = gaps[self._gaps_logged]
            runner.store.add_gap(runner.session_id, Gap(g.start_s, g.end_s), origin="bridge")
            self._gaps_logged += 1
        self._tick()

    def _tick(self) -> None:
        now = time.monotonic()
        runner = self.runner
        if runner is not None and runner.session_id is not None and now - self._saved >= EXTRA_SAVE_S:
            self._saved = now
            try:
                runner.store.merge_session_extra(runner.session_id, self.extra_json())
            except Exception:  # noqa: BLE001 - stats are informative; the runner commits data
                pass
        if self.status.enabled:
            self.status.show(self.status_text())

    def extra_json(self) -> dict[str, Any]:
        return {**self.extra, "live": self.source.stats.as_dict()}

    def status_text(self) -> str:
        st = self.source.stats
        det: dict[str, Any] = {}
        runner = self.runner
        if runner is not None and runner.detector is not None and hasattr(runner.detector, "status"):
            try:
                det = dict(runner.detector.status() or {})
            except Exception:  # noqa: BLE001
                det = {}
        # deviation from the detector's neutral posture; none until it knows one
        angle = f"angle {_fmt(det.get('deviation_deg'), '.0f', '°')}"
        calibrating = runner is not None and getattr(runner.info, "calibrate_s", None) is not None
        if calibrating and det and not det.get("calibrated"):
            angle = "calibrating: keep still"
        elif det.get("in_contraction"):
            angle += " HELD"
        power = det.get("band_rms_g")
        elapsed = tables.format_elapsed(time.monotonic() - self._started)
        batt = _fmt(st.battery_pct, ".0f", "%")
        return (
            f"{elapsed} {st.state} {_fmt(st.recent_rate_hz, '.0f', ' Hz')} "
            f"| tremor {_fmt(power, '.4f', ' g')} {_fmt(det.get('dominant_hz'), '.1f', ' Hz')} "
            f"| {angle} | episodes {self.episodes} "
            f"| dropped {st.dropped} malformed {st.malformed + st.crc_errors} gaps {len(st.gaps)} "
            f"| battery {batt}"
        )

    def on_event(self, event: Event, runner: SessionRunner) -> None:
        if event.type == STARTED:
            self.episodes += 1
        if event.type not in (STARTED, ENDED):
            return
        line = tables.event_line(event, 0.0)
        if line:
            self.status.clear()
            click.echo(line)


def _peek(it: Iterator[SampleBlock], need_samples: int, max_s: float) -> list[SampleBlock]:
    """Read blocks until ``need_samples`` samples arrived or ``max_s`` passed."""
    got: list[SampleBlock] = []
    n = 0
    end = time.monotonic() + max_s
    for block in it:
        got.append(block)
        n += len(block)
        if n >= need_samples or time.monotonic() > end:
            break
    return got


def _rate_from(blocks: list[SampleBlock]) -> float | None:
    t = np.concatenate([b.t for b in blocks if len(b)]) if any(len(b) for b in blocks) else []
    if len(t) < 10:
        return None
    d = np.diff(t)
    d = d[d > 0]
    return float(1.0 / np.median(d)) if len(d) else None


def _peek_span(it: Iterator[SampleBlock], span_s: float, max_wait_s: float) -> list[SampleBlock]:
    """Read blocks until they cover ``span_s`` of stream time or ``max_wait_s`` of wall time passed."""
    got: list[SampleBlock] = []
    first: float | None = None
    end = time.monotonic() + max_wait_s
    for block in it:
        got.append(block)
        if len(block):
            first = float(block.t[0]) if first is None else first
            if float(block.t[-1]) - first >= span_s:
                break
        if time.monotonic() > end:
            break
    return got


def measure_start(choice: NeutralChoice, blocks: list[SampleBlock], config: Any = None) -> None:
    """``--calibrate``: measure the neutral over the first seconds, or a one-line CliError."""
    try:
        choice.measure(iter(blocks), config)
    except CalibrationError as e:
        raise CliError(f"--calibrate {choice.calibrate_s:g}: {e}") from None


def _connect(source, name: str, where: str) -> None:
    """Connect the live source, saying so; a failure is a one-line error with what to do."""
    click.echo(f"connecting to {name} on {where} ...", err=True)
    try:
        source.connect()
    except TransportError as e:
        raise CliError(f"{e}; check the sensor is on and in range, then try again") from None


def _close_iter(it: Any) -> None:
    close = getattr(it, "close", None)
    if close is not None:
        close()


def _stat_columns(source: LiveSource) -> dict[str, int]:
    st = source.stats
    return {
        "dropped": st.dropped,
        "malformed": st.malformed + st.crc_errors + st.implausible,
        "skipped_missing": st.bad_samples,  # not finite or beyond any sensor's range
        "skipped_time": st.skipped_time,
    }


def _save_live_stats(store: Store, session_id: int | None, feed: LiveFeed) -> None:
    if session_id is None:
        return
    store.merge_session_extra(session_id, feed.extra_json())
    store.update_session(session_id, **_stat_columns(feed.source))
    store.commit()


def replay_capture(
    store: Store,
    path: str,
    *,
    placement: str | None = None,
    speed: float | None = None,
    config: Any = None,
    on_event: Any = None,
    calibrate_s: float | None = None,
    use_stored_calibration: bool = True,
) -> SessionResult:
    """Run a raw capture through the live decode path, the session runner and the detector.

    The neutral posture is chosen as for ``replay`` (``--calibrate``, a stored calibration
    of the capture's device and placement, or learned).
    """
    try:
        source, transport = capture_source(path)
    except CaptureError as e:
        raise CliError(str(e)) from None
    except (UnknownDevice, ValueError, TypeError) as e:
        raise CliError(f"{path}: {e}") from None
    transport.speed = speed or 0.0
    it = iter(source)
    peeked = _peek(it, 200, 1e9)
    if calibrate_s is not None:
        peeked += _peek_span(it, hold_still_s(calibrate_s), 1e9)
    rate = source.protocol.nominal_rate_hz or _rate_from(peeked)
    if rate is None:
        _close_iter(it)
        raise CliError(f"{path}: no decodable samples in the capture")
    place = (placement or "wrist").strip().lower()
    device = str(transport.header.get("device"))
    choice = choose_neutral(store, device, place, calibrate_s=calibrate_s, use_stored=use_stored_calibration)
    try:
        measure_start(choice, peeked, config)
    except CliError as e:
        _close_iter(it)
        raise CliError(f"{path}: {e.message}") from None
    header = transport.header
    first_t = next((float(b.t[0]) for b in peeked if len(b)), None)
    start = None
    if header.get("t0") is not None and first_t is not None:
        start = datetime.fromtimestamp(float(header["t0"]) + first_t).astimezone()
    feed = LiveFeed(source, it, peeked, StatusLine(enabled=False))
    feed.extra = {"capture": str(Path(path).resolve()), "capture_header": header}
    feed.extra.update(choice.extra())
    info = SessionInfo(
        source=str(Path(path).resolve()),
        sample_rate_hz=float(rate),
        placement=place,
        device=device,
        start_time=start,
        mode="replay",
        extra=dict(feed.extra),
        neutral_g=choice.neutral_g,
    )
    runner = SessionRunner(
        store, info, config=config, on_event=on_event, stats=lambda: _stat_columns(source),
        on_block=feed.on_block, stop_source=source.stop,
    )  # fmt: skip
    feed.runner = runner
    try:
        return runner.run(feed)
    finally:
        _save_live_stats(store, runner.session_id, feed)


# --------------------------------------------------------------------------- calibrate (live part)


def calibrate_live(
    device: str,
    address: str | None,
    port: str | None,
    baud: int | None,
    opts: tuple[str, ...],
    seconds: float,
    placement: str,
) -> tuple[Calibration, str, str]:
    """``tremorscope calibrate --device ...``: read a still period from a live sensor.

    Returns the calibration, the device name later sessions are logged with (the sensor
    type) and a description of the link. Nothing is logged as a session.
    """
    options = parse_options(opts)
    spec, address = resolve_device(device, address)
    protocol = make_protocol(spec, options)
    transport = make_transport(spec, address, port, baud)
    source = LiveSource(
        transport, protocol, device=spec.name, watchdog_s=5.0,
        first_connect_timeout_s=0.0 if transport.kind == "serial" else 30.0,
    )  # fmt: skip
    hold_s = hold_still_s(seconds)
    it = None
    try:
        _connect(source, spec.name, transport.description)
        click.echo(f"connected; hold the neutral posture still for {hold_s:.0f} s ...", err=True)
        it = iter(source)
        blocks = _peek_span(it, hold_s + 0.5, hold_s + PEEK_SLACK_S)
        rate = protocol.nominal_rate_hz or _rate_from(blocks)
        if rate is None:
            raise CliError("no samples from the sensor; check the wiring, --baud and --device")
        try:
            cal = measure_neutral(iter(blocks), seconds)
        except CalibrationError as e:
            raise CliError(str(e)) from None
    except KeyboardInterrupt as e:  # a stop signal (tremorscope.signals): nothing was logged
        raise SystemExit(signals.exit_status(getattr(e, "signal_name", None) or "SIGINT")) from None
    finally:
        source.stop()
        _close_iter(it)
        shutdown = getattr(transport, "shutdown", None)
        if shutdown is not None:
            shutdown()
    return cal, spec.name, f"{transport.kind}:{address or port}"
