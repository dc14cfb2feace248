"""Commands that put recordings into the log and list it: ``demo``, ``replay``, ``episodes``,
``sessions``, ``simulate``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from tremorscope import tables
from tremorscope.cli.helpers import (
    CliError,
    EpisodePrinter,
    Progress,
    _one_line,
    calibration_options,
    check_calibrate_s,
    db_option,
    finish_run,
    load_config,
    open_store,
    parse_session,
    parse_speed,
    session_summary,
)
from tremorscope.cli.live_helpers import replay_capture
from tremorscope.store import Store


@click.command()
@db_option
def demo(db: str | None) -> None:
    """Replay the bundled wrist recording at full speed and print the episode table."""
    from tremorscope.demo import run_demo

    with open_store(db) as store:
        with Progress("demo") as progress:
            result = run_demo(store, on_event=EpisodePrinter(progress), on_progress=progress.update)
        click.echo("")
        click.echo(_episodes_table(store, result.session_id))
        click.echo("")
        click.echo(session_summary(result, store))
        click.echo(f"next: tremorscope episodes --session {result.session_id} --format csv")
    finish_run(result)


@click.command()
@click.argument("rec")
@db_option
@click.option(
    "--placement", default=None, help="Where the sensor is worn [default: from the recording, else wrist]."
)
@click.option("--speed", default="max", show_default=True, help="Multiple of real time, or 'max'.")
@click.option(
    "--config", "config_path", metavar="FILE.json", default=None,
    help="Detector settings as a JSON object (`tremorscope settings` lists them).",
)  # fmt: skip
@click.option(
    "--capture", "is_capture", is_flag=True, help="REC is a raw capture FILE.jsonl from `live --capture`."
)
@calibration_options
def replay(
    rec: str, db: str | None, placement: str | None, speed: str, config_path: str | None, is_capture: bool,
    calibrate_s: float | None, no_calibration: bool,
) -> None:  # fmt: skip
    """Replay recording REC through the real-time detector into the log.

    REC is a recording (CSV or CSV.gz), a BIDS-Motion folder (or its *_motion.tsv file), or,
    with --capture, a raw capture FILE.jsonl written by `live --capture`.

    Prints each episode as it starts and ends, then a summary. Sustained postures are
    measured against the neutral posture: --calibrate SECONDS, else the one stored with
    `tremorscope calibrate` for the recording's device and placement, else learned.
    """
    from tremorscope.calibration import CalibrationError
    from tremorscope.session import replay_session

    speed_x = parse_speed(speed)
    config = load_config(config_path)
    check_calibrate_s(calibrate_s)
    if placement is not None and not placement.strip():
        raise CliError("--placement is empty; use e.g. wrist, neck, hand or leg")
    neutral = {"calibrate_s": calibrate_s, "use_stored_calibration": not no_calibration}
    with open_store(db) as store:
        before = store.latest_session_id()
        try:
            with Progress(Path(rec).name) as progress:
                if is_capture:  # raw capture: the live decode path (tremorscope/cli/live_helpers.py)
                    result = replay_capture(
                        store, rec, placement=placement, speed=speed_x, config=config,
                        on_event=EpisodePrinter(progress), **neutral,
                    )  # fmt: skip
                else:
                    result = replay_session(
                        store, rec, placement=placement, speed=speed_x, config=config,
                        on_event=EpisodePrinter(progress), on_progress=progress.update, **neutral,
                    )  # fmt: skip
        except CalibrationError as e:
            raise CliError(_one_line(str(e))) from None
        except Exception as e:
            sid = store.latest_session_id()
            if sid is not None and sid != before:  # the session was started: say what is kept
                row = store.session(sid) or {}
                n_ep = len(store.episodes(sid))
                raise CliError(
                    f"{_one_line(str(e))} (session {sid} kept as {row.get('status')}: "
                    f"{row.get('samples', 0)} samples, {n_ep} episodes logged before the error)"
                ) from None
            raise
        click.echo(session_summary(result, store))
    finish_run(result)


@click.command()
@db_option
@click.option("--session", "session", default=None, help="Session id, or 'latest' [default: all].")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
    show_default=True, help="csv: the columns of the CSV export's episodes.csv.",
)  # fmt: skip
def episodes(db: str | None, session: str | None, fmt: str) -> None:
    """List logged episodes (all sessions, or one)."""
    with open_store(db, create=False) as store:
        sid = parse_session(session, store)
        if fmt == "table":
            click.echo(_episodes_table(store, sid))
            return
        df = store.episodes(sid)
        text = tables.episodes_csv(df) if fmt == "csv" else tables.episodes_json(df) + "\n"
        click.echo(text, nl=False)


def _episodes_table(store: Store, session_id: int | None) -> str:
    df = store.episodes(session_id, with_open=True)
    sessions = store.sessions()
    origins = {
        int(r.id): float(r.t_start_s)
        for r in sessions.itertuples()
        if r.t_start_s is not None and r.t_start_s == r.t_start_s
    }
    return tables.episodes_table(df, origins)


@click.command()
@db_option
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
    show_default=True,
)  # fmt: skip
def sessions(db: str | None, fmt: str) -> None:
    """List the sessions in the log."""
    with open_store(db, create=False) as store:
        df = store.sessions()
    if fmt == "table":
        click.echo(tables.sessions_table(df))
    elif fmt == "csv":
        click.echo(df.to_csv(index=False, lineterminator="\n"), nl=False)
    else:
        click.echo(json.dumps(tables.records(df, list(df.columns)), indent=2))


@click.command()
@click.option("--scenario", default=None, help="Scenario name (see --list).")
@click.option(
    "--out",
    "out",
    metavar="REC.csv",
    default=None,
    help="Recording to write (.csv or .csv.gz); ground truth goes beside it.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--duration", "duration_s", type=float, default=None, help="Seconds [default: the scenario's].")
@click.option("--rate", "rate_hz", type=float, default=100.0, show_default=True, help="Sample rate, Hz.")
@click.option("--no-gyro", is_flag=True, help="Accelerometer only.")
@click.option("--list", "list_only", is_flag=True, help="List the scenarios and exit.")  # fmt: skip
def simulate(
    scenario: str | None, out: str | None, seed: int, duration_s: float | None,
    rate_hz: float, no_gyro: bool, list_only: bool,
) -> None:  # fmt: skip
    """Write a realistic simulated recording REC and its ground truth REC.events.tsv."""
    from firmware_bridge import simulator

    if list_only:
        width = max(len(n) for n in simulator.SCENARIOS)
        for name, text in simulator.SCENARIOS.items():
            click.echo(f"{name.ljust(width)}  {text}")
        return
    if not scenario or not out:
        raise CliError("need --scenario NAME and --out REC.csv (see `tremorscope simulate --list`)")
    if scenario not in simulator.SCENARIOS:
        names = ", ".join(simulator.SCENARIOS)
        raise CliError(f"unknown scenario {scenario!r}; choose one of: {names}")
    if duration_s is not None and not duration_s > 0:
        raise CliError(f"--duration {duration_s:g}: must be a positive number of seconds")
    if not rate_hz > 0:
        raise CliError(f"--rate {rate_hz:g}: must be a positive sample rate in Hz")
    with Progress(f"simulating {scenario}") as progress:
        rec_path, events_path = simulator.simulate_to_file(
            out, scenario, duration_s=duration_s, seed=seed, sample_rate_hz=rate_hz,
            gyro=not no_gyro, progress=progress.update,
        )  # fmt: skip
    click.echo(f"wrote {rec_path}")
    click.echo(f"wrote {events_path}")


COMMANDS = [demo, replay, episodes, sessions, simulate]
