"""``tremorscope lsl-in``: monitor an IMU stream from Lab Streaming Layer into the log."""

from __future__ import annotations

import click

from tremorscope.cli.helpers import CliError, _one_line, db_option, load_config, open_store, session_summary


@click.command("lsl-in")
@click.option("--stream", default=None, metavar="NAME", help="LSL stream name [default: the first IMU].")
@db_option
@click.option("--placement", default="wrist", show_default=True, help="Where the sensor is worn.")
@click.option("--duration", "duration_s", type=float, default=None, help="Stop after this many seconds.")
@click.option(
    "--timeout", "timeout_s", type=float, default=10.0, show_default=True,
    help="Seconds to wait for the stream to appear.",
)  # fmt: skip
@click.option(
    "--config",
    "config_path",
    metavar="FILE.json",
    default=None,
    help="Detector settings (`tremorscope settings` lists them).",
)
def lsl_in(
    stream: str | None, db: str | None, placement: str, duration_s: float | None, timeout_s: float,
    config_path: str | None,
) -> None:  # fmt: skip
    """Analyse an LSL IMU stream (acc in g or m/s^2, gyro in deg/s or rad/s, by channel unit)
    live into the log until Ctrl-C or --duration; episodes are logged like `live`."""
    if duration_s is not None and not duration_s > 0:
        raise CliError(f"--duration {duration_s:g}: must be a positive number of seconds")
    if not placement.strip():
        raise CliError("--placement is empty; use e.g. wrist, neck, hand or leg")
    config = load_config(config_path)
    try:
        from firmware_bridge.transports.lsl import LslError
        from tremorscope.lsl import lsl_session
    except ImportError as e:
        raise CliError(f"{e.name} is not installed; pip install 'tremorscope[cohort]'") from None
    with open_store(db) as store:
        try:
            result = lsl_session(
                store, stream, duration_s=duration_s, placement=placement.strip().lower(), config=config,
                timeout_s=timeout_s,
            )  # fmt: skip
        except (LslError, ValueError) as e:
            raise CliError(_one_line(str(e))) from None
        click.echo(session_summary(result, store))


COMMANDS = [lsl_in]
