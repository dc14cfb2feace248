"""Setting a sensor up: ``devices``, ``scan``, ``pair`` and ``calibrate`` (the stored neutral posture)."""

from __future__ import annotations

import click

from firmware_bridge.protocols.registry import devices
from firmware_bridge.transports.base import TransportError
from firmware_bridge.transports.pairing import PairingError
from tremorscope import tables
from tremorscope.calibration import CalibrationError
from tremorscope.cli.helpers import CliError, _one_line, db_option, open_store
from tremorscope.cli.live_helpers import _spec, calibrate_live, pairing_store


@click.command("devices")
def devices_cmd() -> None:
    """List the supported sensors, serial ports present and paired names."""
    specs = devices()
    width = max(len(s.name) for s in specs)
    click.echo("Supported devices (use the name with --device):")
    for s in specs:
        links = "+".join(s.transports)
        click.echo(f"  {s.name.ljust(width)}  {links:<10}  {s.title}")
        if s.aliases:
            click.echo(f"  {'':{width}}  {'':<10}  also: {', '.join(s.aliases)}")
        if s.options_help:
            click.echo(f"  {'':{width}}  {'':<10}  --opt {s.options_help}")
    try:
        from firmware_bridge.transports.serial import list_ports

        ports = list_ports()
    except Exception:  # noqa: BLE001 - listing ports is a convenience
        ports = []
    click.echo("Serial ports: " + (", ".join(p for p, _ in ports) if ports else "none found"))
    try:
        paired = pairing_store().all()
    except PairingError as e:
        raise CliError(str(e)) from None
    if paired:
        click.echo("Paired sensors:")
        for p in paired.values():
            click.echo(f"  {p.name}  {p.address}  ({p.device})")


@click.command("scan")
@click.option("--timeout", "timeout_s", type=float, default=8.0, show_default=True, help="Seconds.")
def scan_cmd(timeout_s: float) -> None:
    """Find nearby Bluetooth LE sensors that tremorscope can read."""
    from firmware_bridge.transports.ble import scan

    try:
        found = scan(timeout_s)
    except TransportError as e:
        raise CliError(str(e)) from None
    if not found:
        click.echo("no supported sensors found; wake the sensor (move it) and scan again")
        return
    for f in found:
        rssi = f"{f.rssi} dBm" if f.rssi is not None else "?"
        click.echo(f"{f.address}  {f.name or '(no name)':<20} {rssi:>8}  {f.device}")
    click.echo("next: tremorscope pair NAME ADDRESS --device TYPE")


@click.command("pair")
@click.argument("name")
@click.argument("address")
@click.option("--device", "device", default=None, help="Sensor type (see `tremorscope devices`).")
def pair_cmd(name: str, address: str, device: str | None) -> None:
    """Save NAME for the sensor at ADDRESS, then use `live --device NAME`."""
    if device is None:
        from firmware_bridge.transports.ble import scan

        click.echo(f"looking for {address} to identify it (or give --device) ...", err=True)
        try:
            found = [f for f in scan(5.0) if f.address.lower() == address.lower()]
        except TransportError as e:
            raise CliError(f"{e}; or give the type with --device") from None
        if not found:
            raise CliError(f"{address} not found nearby; wake it, or give the type with --device")
        device = found[0].device
    spec = _spec(device)
    if "ble" not in spec.transports:
        raise CliError(f"{spec.name} is a serial device; use `live --device {spec.name} --port ...`")
    try:
        p = pairing_store().add(name, address, spec.name)
    except PairingError as e:
        raise CliError(str(e)) from None
    click.echo(f"paired {p.name} -> {p.address} ({p.device}); next: tremorscope live --device {p.name}")


@click.command("calibrate")
@click.argument("rec", required=False)
@db_option
@click.option(
    "--placement", default=None,
    help="Where the sensor is worn: neck, wrist, hand, leg... [default: from the recording].",
)  # fmt: skip
@click.option(
    "--seconds", type=float, default=None, metavar="SECONDS",
    help="Length of the still period, after 1 s of settling [default: 5].",
)  # fmt: skip
@click.option(
    "--device", "device", default=None,
    help="Live: sensor type or paired name. With REC: the device name its sessions are logged with "
    "[default: from the recording].",
)  # fmt: skip
@click.option("--address", default=None, help="Live: Bluetooth address, or a paired name.")
@click.option("--port", default=None, help="Live: serial port (e.g. /dev/ttyUSB0, COM3).")
@click.option("--baud", type=int, default=None, help="Live: serial baud rate [default: the device's].")
@click.option(
    "--opt", "opts", multiple=True, metavar="KEY=VALUE", help="Live: device option (see `devices`)."
)
@click.option("--list", "list_only", is_flag=True, help="List the stored calibrations and exit.")
def calibrate_cmd(
    rec: str | None, db: str | None, placement: str | None, seconds: float | None, device: str | None,
    address: str | None, port: str | None, baud: int | None, opts: tuple[str, ...], list_only: bool,
) -> None:  # fmt: skip
    """Store the neutral posture of a sensor worn at a placement; later sessions use it.

    The person holds their neutral posture still (head upright and facing forward; a limb
    resting in its usual position). From a live sensor: `calibrate --device NAME
    [--address ADDR | --port PORT] --placement neck`. From a recording: `calibrate REC.csv
    --placement neck` uses its first seconds. Later `replay` and `live` sessions of the same
    device and placement use the newest calibration unless given --calibrate or
    --no-calibration.
    """
    from tremorscope.calibration import DEFAULT_CALIBRATE_S, calibrate_recording

    if list_only:
        with open_store(db, create=False) as store:
            click.echo(tables.calibrations_table(store.calibrations()))
        return
    seconds = DEFAULT_CALIBRATE_S if seconds is None else seconds
    if not (0 < seconds <= 600):
        raise CliError(f"--seconds {seconds:g}: give the seconds of keeping still, e.g. --seconds 5")
    if placement is not None and not placement.strip():
        raise CliError("--placement is empty; use e.g. neck, wrist, hand or leg")
    if rec is not None:
        if address or port:
            raise CliError("give a recording REC or a live sensor (--address/--port), not both")
        try:
            got = calibrate_recording(rec, placement=placement, seconds=seconds, device=device)
        except CalibrationError as e:
            raise CliError(_one_line(str(e))) from None
        cal, dev, place, source = got.calibration, got.device, got.placement, got.source
    else:
        if not device:
            raise CliError("calibrate from a recording (REC) or a live sensor (--device NAME); see --help")
        if not placement:
            raise CliError(
                "--placement is needed for a live calibration: where is the sensor worn (e.g. neck)?"
            )
        cal, dev, source = calibrate_live(
            device, address, port, baud, opts, seconds, placement.strip().lower()
        )
        place = placement.strip().lower()
    with open_store(db) as store:
        store.add_calibration(dev, place, cal.neutral_g, source, seconds=cal.seconds, details=cal.details())
        row = store.calibration(dev, place)
    assert row is not None
    click.echo(f"stored {tables.calibration_line(row)}")
    click.echo(
        f"later sessions of {row['device']} at {row['placement']} use it "
        f"(--no-calibration ignores it; --calibrate SECONDS replaces it for one session); log: {store.path}"
    )


COMMANDS = [devices_cmd, scan_cmd, pair_cmd, calibrate_cmd]
