"""Live-sensor commands: ``live`` and ``decode`` (a raw capture to a recording).

Thin wrappers over ``firmware_bridge``: a transport (serial or BLE) and a device protocol
feed a :class:`~firmware_bridge.live.LiveSource`, whose sample blocks go through the
same :class:`~tremorscope.session.SessionRunner` as ``replay``. The link statistics
(dropped, malformed, gaps, effective rate, drift, battery) go into the session row and
its ``extra_json["live"]``.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

import click

from firmware_bridge.io.capture import CaptureError, CaptureWriter
from firmware_bridge.io.capture_decode import decode_capture, write_decoded_csv
from firmware_bridge.live import LiveSource
from firmware_bridge.protocols.registry import UnknownDevice
from tremorscope import __version__, signals, tables
from tremorscope.calibration import NeutralChoice, choose_neutral, hold_still_s
from tremorscope.cli.helpers import (
    CliError,
    calibration_options,
    check_calibrate_s,
    db_option,
    load_config,
    open_store,
    session_notes,
)
from tremorscope.cli.live_helpers import (
    PEEK_SLACK_S,
    LiveFeed,
    StatusLine,
    _close_iter,
    _connect,
    _fmt,
    _peek_span,
    _rate_from,
    _save_live_stats,
    _spec,
    _stat_columns,
    make_protocol,
    make_transport,
    measure_start,
    parse_options,
    resolve_device,
)
from tremorscope.session import SessionInfo, SessionResult, SessionRunner
from tremorscope.store import COMPLETE, Store


@click.command("live")
@click.option("--device", "device", required=True, help="Sensor type or a paired name (see `devices`).")
@click.option("--address", default=None, help="Bluetooth address, or a paired name.")
@click.option("--port", default=None, help="Serial port (e.g. /dev/ttyUSB0, COM3).")
@click.option("--baud", type=int, default=None, help="Serial baud rate [default: the device's].")
@db_option
@click.option("--placement", default="wrist", show_default=True, help="Where the sensor is worn.")
@calibration_options
@click.option(
    "--capture", "capture_path", default=None, metavar="FILE.jsonl",
    help="Also record every raw payload to this file (for bug reports and test fixtures).",
)  # fmt: skip
@click.option("--duration", "duration_s", type=float, default=None, help="Stop after this many seconds.")
@click.option("--opt", "opts", multiple=True, metavar="KEY=VALUE", help="Device option (see `devices`).")
@click.option(
    "--config",
    "config_path",
    metavar="FILE.json",
    default=None,
    help="Detector settings (`tremorscope settings` lists them).",
)
@click.option(
    "--watchdog", "watchdog_s", type=float, default=5.0, show_default=True,
    help="Reconnect when a connected sensor sends nothing for this long (s).",
)  # fmt: skip
@click.option(
    "--connect-timeout", "connect_timeout_s", type=float, default=None,
    help="Keep trying the first connection this long (s) [default: serial 0, Bluetooth 30].",
)  # fmt: skip
@click.option(
    "--lsl-out", "lsl_name", default=None, metavar="NAME",
    help="Also publish the samples (LSL stream NAME, type IMU) and the events (NAME-events, "
    "JSON markers) on Lab Streaming Layer, for LabRecorder/XDF.",
)  # fmt: skip
def live_cmd(
    device: str, address: str | None, port: str | None, baud: int | None, db: str | None,
    placement: str, calibrate_s: float | None, no_calibration: bool, capture_path: str | None,
    duration_s: float | None, opts: tuple[str, ...], config_path: str | None, watchdog_s: float,
    connect_timeout_s: float | None, lsl_name: str | None,
) -> None:  # fmt: skip
    """Monitor live from a sensor until Ctrl-C (or --duration); log episodes like `replay`.

    Reconnects by itself after a dropout; gaps, dropped and malformed packets and the
    effective rate are recorded with the session.
    """
    if not placement.strip():
        raise CliError("--placement is empty; use e.g. wrist, neck, hand or leg")
    check_calibrate_s(calibrate_s)
    if (duration_s is not None and duration_s <= 0) or watchdog_s <= 0:
        raise CliError("--duration and --watchdog must be positive numbers of seconds")
    config = load_config(config_path)
    options = parse_options(opts)
    spec, address = resolve_device(device, address)
    protocol = make_protocol(spec, options)
    transport = make_transport(spec, address, port, baud)
    origin = time.time()
    capture = None
    if capture_path:
        try:
            capture = CaptureWriter(
                capture_path,
                {
                    "device": spec.name,
                    "transport": transport.kind,
                    "where": transport.description,
                    "t0": origin,
                    "options": options,
                    "protocol": protocol.describe(),
                    "tremorscope": __version__,
                },
            )
        except OSError as e:
            raise CliError(f"--capture {capture_path}: {e.strerror or e}") from None
    if connect_timeout_s is None:  # a missing serial port is a typo or an unplugged cable
        connect_timeout_s = 0.0 if transport.kind == "serial" else 30.0
    source = LiveSource(
        transport, protocol, device=spec.name, origin_s=origin, capture=capture,
        watchdog_s=watchdog_s, duration_s=duration_s, first_connect_timeout_s=connect_timeout_s,
    )  # fmt: skip
    status = StatusLine()
    try:  # a stop signal before the session exists raises Interrupted (tremorscope.signals)
        _connect(source, spec.name, transport.description)
        hold_s = hold_still_s(calibrate_s) if calibrate_s else 0.0
        hint = f"hold the neutral posture still for {hold_s:.0f} s" if calibrate_s else "Ctrl-C stops"
        click.echo(f"connected; {hint}", err=True)
        it = iter(source)
        need_s = max(hold_s, 1.0)
        peeked = _peek_span(it, need_s, need_s + PEEK_SLACK_S)
        measured = None
        if calibrate_s:  # before any session is logged: a moving start is refused
            measured = NeutralChoice("calibrate_s", calibrate_s=float(calibrate_s))
            measure_start(measured, peeked, config)
            click.echo("calibrated; Ctrl-C stops", err=True)
        rate = protocol.nominal_rate_hz or _rate_from(peeked)
        if rate is None:
            raise CliError(
                "no samples from the sensor in the first seconds; check the wiring, --baud and --device"
            )
        first_t = next((float(b.t[0]) for b in peeked if len(b)), None)
        start_time = datetime.fromtimestamp(origin + first_t).astimezone() if first_t is not None else None
    except (KeyboardInterrupt, CliError):
        source.stop()
        _close_iter(locals().get("it"))
        if capture is not None:
            capture.close()
        exc = sys.exc_info()[1]
        if isinstance(exc, KeyboardInterrupt):
            raise SystemExit(signals.exit_status(getattr(exc, "signal_name", None) or "SIGINT")) from None
        raise

    feed = LiveFeed(source, it, peeked, status)
    feed.extra = {"transport": transport.kind, "where": transport.description, "options": options}
    if capture_path:
        feed.extra["capture"] = str(Path(capture_path).resolve())
    blocks, on_event, publisher = feed, feed.on_event, None
    if lsl_name:
        publisher = _lsl_publisher(lsl_name, rate, peeked, spec.name, origin)
        blocks = publisher.wrap(feed)

        def on_event(event, runner, _feed=feed.on_event):  # noqa: ANN001 - the runner's callback
            publisher.on_event(event)
            _feed(event, runner)

        feed.extra["lsl"] = {"stream": lsl_name}
    place = placement.strip().lower()
    try:
        with open_store(db) as store:
            choice = measured or choose_neutral(store, spec.name, place, use_stored=not no_calibration)
            if choice.source == "stored":
                click.echo(choice.describe(), err=True)
            feed.extra.update(choice.extra())
            info = SessionInfo(
                source=f"{transport.kind}:{address or port}",
                sample_rate_hz=float(rate),
                placement=place,
                device=spec.name,
                start_time=start_time,
                mode="live",
                extra=dict(feed.extra),
                neutral_g=choice.neutral_g,
            )
            runner = SessionRunner(
                store, info, config=config, on_event=on_event,
                stats=lambda: _stat_columns(source), stop_status=COMPLETE,
                on_block=feed.on_block, stop_source=source.stop,
            )  # fmt: skip
            feed.runner = runner
            try:
                result = runner.run(blocks)
            finally:
                _save_live_stats(store, runner.session_id, feed)
            stopped = result.stopped_by
            click.echo(_summary(result, source, store, stopped))
            for line in session_notes(store, result.session_id):
                click.echo(line)
    finally:
        if publisher is not None:
            publisher.close()
        if capture is not None:
            capture.close()
        shutdown = getattr(transport, "shutdown", None)
        if shutdown is not None:
            shutdown()


def _lsl_publisher(name: str, rate: float, peeked: list, device: str, origin: float):  # noqa: ANN202
    """LSL outlets for a live session; stream time (s since ``origin``) mapped onto the LSL clock."""
    from firmware_bridge.transports.lsl import LslError, local_clock
    from tremorscope.lsl import LslPublisher

    has_gyro = any(b.gyro is not None for b in peeked)
    try:
        offset = local_clock() - (time.time() - origin)
        return LslPublisher(name, float(rate), has_gyro, device=device, lsl_offset_s=offset)
    except LslError as e:
        raise CliError(f"--lsl-out {name}: {e}") from None


def _summary(result: SessionResult, source: LiveSource, store: Store, stopped_by: str | None = None) -> str:
    st = source.stats
    rate = _fmt(st.effective_rate_hz, ".1f", " Hz")
    why = f", stopped by {stopped_by}" if stopped_by else ""
    return (
        f"session {result.session_id} {result.status}: {result.episodes} episodes, "
        f"{result.samples} samples ({tables.format_elapsed(result.duration_s)}) at {rate}, "
        f"{len(st.gaps)} link gaps, {st.dropped} dropped, {st.malformed + st.crc_errors} malformed, "
        f"{st.reconnects} reconnects{why}\nlogged in {store.path}"
    )


# --------------------------------------------------------------------------- decode / replay --capture


@click.command("decode")
@click.argument("capture_file", metavar="FILE.jsonl")
@click.option("--device", "device", default=None, help="Sensor type [default: from the capture header].")
@click.option("-o", "--out", "out", required=True, metavar="REC.csv", help="Recording to write.")
@click.option("--opt", "opts", multiple=True, metavar="KEY=VALUE", help="Device option (see `devices`).")
def decode_cmd(capture_file: str, device: str | None, out: str, opts: tuple[str, ...]) -> None:
    """Convert a raw capture to the canonical recording CSV (t from 0, g and deg/s)."""
    options = parse_options(opts)
    if device is not None:
        device = _spec(device).name
    try:
        decoded = decode_capture(capture_file, device, options)
    except CaptureError as e:
        raise CliError(str(e)) from None
    except (UnknownDevice, ValueError, TypeError) as e:
        raise CliError(f"{capture_file}: {e}") from None
    st = decoded.stats
    for line in decoded.bad_lines[:5]:
        click.echo(f"warning: {line}", err=True)
    if decoded.acc_only_samples:
        click.echo(
            f"warning: the sensor switched between acc-only and acc+gyro; {decoded.acc_only_samples} "
            "samples have no gyroscope reading (empty gyro cells, which replay skips)",
            err=True,
        )
    origin = float(decoded.header.get("t0") or 0.0)
    start = None
    if origin and len(decoded.t):
        start = datetime.fromtimestamp(origin + float(decoded.t[0])).astimezone().isoformat()
    rate = decoded.rate_hz
    meta = {
        "sample_rate_hz": None if rate is None else round(rate, 3),
        "device": device or decoded.header.get("device"),
        "start_time": start,
        "units": "t=s acc=g gyro=deg/s",
        "source": f"tremorscope decode of {Path(capture_file).name}",
    }
    try:
        write_decoded_csv(out, decoded, meta)
    except ValueError as e:
        raise CliError(f"{capture_file}: {e}") from None
    except OSError as e:
        raise CliError(f"{out}: {e.strerror or e}") from None
    click.echo(
        f"{len(decoded.t)} samples -> {out} ({_fmt(rate, '.2f', ' Hz')}; {len(st.gaps)} gaps, "
        f"{st.malformed} malformed, {st.crc_errors} CRC errors, {len(decoded.bad_lines)} bad lines"
        + (f", {st.implausible} implausible frames/samples rejected" if st.implausible else "")
        + (f", {st.bad_samples} bad samples dropped" if st.bad_samples else "")
        + ")"
    )


COMMANDS = [live_cmd, decode_cmd]
