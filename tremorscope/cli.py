"""The ``tremorscope`` command line: thin click wrappers around the library.

Core commands live here (demo, replay, episodes, sessions, simulate). More commands come from
modules named ``tremorscope/cli_<topic>.py`` (e.g. ``cli_live.py``): each defines click
commands and lists them in a module-level ``COMMANDS``; the group finds them by name, so
adding a command never means editing this file. Such modules can reuse the helpers below
(:func:`db_option`, :func:`open_store`, :func:`load_config`, :class:`EpisodePrinter`,
:class:`Progress`, :data:`CliError`).

Errors: every anticipated problem (missing or bad file, bad config, bad db path) ends with a
one-line ``Error: ...`` on stderr and a non-zero exit, never a traceback. Set
``TREMORSCOPE_DEBUG=1`` to see tracebacks of unexpected errors.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

import tremorscope
from dsp.config import DetectorConfig
from dsp.events import Event
from tremorscope import tables
from tremorscope.paths import DB_ENV_VAR, resolve_db_path
from tremorscope.session import SessionResult, SessionRunner
from tremorscope.store import Store, StoreError

#: The exception commands raise for a one-line error and exit status 1.
CliError = click.ClickException
#: Exit statuses for a session ended by a signal (128 + signal number, as shells report).
SIGNAL_EXIT = {"SIGINT": 130, "SIGTERM": 143}

F = TypeVar("F", bound=Callable[..., Any])


# --------------------------------------------------------------------------- the group


class TremorscopeGroup(click.Group):
    """A click group that also serves commands from ``tremorscope.cli_*`` modules."""

    _plugins: dict[str, click.Command] | None = None

    def _plugin_commands(self) -> dict[str, click.Command]:
        if self._plugins is None:
            found: dict[str, click.Command] = {}
            for mod in sorted(pkgutil.iter_modules(tremorscope.__path__), key=lambda m: m.name):
                if not mod.name.startswith("cli_"):
                    continue
                try:
                    module = importlib.import_module(f"tremorscope.{mod.name}")
                except Exception as e:  # noqa: BLE001 - one broken module must not break the CLI
                    click.echo(f"Warning: commands in tremorscope.{mod.name} unavailable: {e}", err=True)
                    continue
                for cmd in getattr(module, "COMMANDS", ()):
                    found.setdefault(cmd.name, cmd)
            self._plugins = found
        return self._plugins

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(self._plugin_commands()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self.commands.get(cmd_name) or self._plugin_commands().get(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as e:  # noqa: BLE001 - turned into one line below
            raise _as_cli_error(e) from None


def _as_cli_error(e: Exception) -> click.ClickException:
    """One line for an exception that escaped a command."""
    if isinstance(e, BrokenPipeError):  # `tremorscope episodes | head`: not an error
        raise SystemExit(0) from None
    if os.environ.get("TREMORSCOPE_DEBUG"):
        raise e
    if isinstance(e, (StoreError, ValueError)):  # includes RecordingError
        return CliError(_one_line(str(e)))
    if isinstance(e, OSError):
        where = f"{e.filename}: " if e.filename else ""
        return CliError(f"{where}{e.strerror or e}")
    if isinstance(e, sqlite3.Error):
        return CliError(f"episode log: {_one_line(str(e))}")
    return CliError(
        f"internal error: {type(e).__name__}: {_one_line(str(e))} "
        "(set TREMORSCOPE_DEBUG=1 for details; please report it)"
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


@click.group(cls=TremorscopeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(tremorscope.__version__, prog_name="tremorscope")
def main() -> None:
    """Wearable tremor and dystonic-spasm monitor: real-time detection and an episode log."""


# --------------------------------------------------------------------------- shared helpers


def db_option(f: F) -> F:
    """``--db PATH`` (default: $TREMORSCOPE_DB, else the per-user data folder)."""
    return click.option(
        "--db",
        "db",
        metavar="PATH",
        default=None,
        help=f"Episode log file [default: ${DB_ENV_VAR}, else {resolve_db_path(None)}].",
    )(f)


def open_store(db: str | None, *, create: bool = True) -> Store:
    """Open the episode log chosen by ``--db`` / ``$TREMORSCOPE_DB`` / the default."""
    return Store(resolve_db_path(db), create=create)


def load_config(path: str | None) -> DetectorConfig | None:
    """A detector configuration from a JSON file (``None`` when no file is given)."""
    if path is None:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise CliError(f"config {path}: {e.strerror or e}; check the path or omit --config") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise CliError(
            f"config {path}: line {e.lineno} column {e.colno}: {e.msg}; fix the JSON or omit --config"
        ) from None
    if not isinstance(data, dict):
        raise CliError(f"config {path}: expected a JSON object of detector settings")
    try:
        return DetectorConfig.from_dict(data)
    except (ValueError, TypeError, KeyError) as e:
        raise CliError(f"config {path}: {_one_line(str(e))}; see dsp/config.py for the settings") from None


def parse_speed(text: str) -> float | None:
    """``max`` (as fast as possible) -> None, else a positive multiple of real time."""
    if text.strip().lower() in ("max", "inf", "0"):
        return None
    try:
        speed = float(text)
    except ValueError:
        raise CliError(f"--speed {text!r}: use a number like 1 or 10, or 'max'") from None
    if not speed > 0:
        raise CliError(f"--speed {text!r}: must be positive, or 'max'")
    return speed


def parse_session(text: str | None, store: Store) -> int | None:
    """``--session`` value: an id, or ``latest``; checks the session exists."""
    if text is None:
        return None
    if text.strip().lower() in ("latest", "last"):
        sid = store.latest_session_id()
        if sid is None:
            raise CliError(f"no sessions in {store.path} yet")
        return sid
    try:
        sid = int(text)
    except ValueError:
        raise CliError(f"--session {text!r}: use a session id or 'latest'") from None
    if store.session(sid) is None:
        raise CliError(f"no session {sid} in {store.path}; `tremorscope sessions` lists them")
    return sid


class Progress:
    """A progress bar on stderr when it is a terminal; silent otherwise.

    Use as a context manager; ``update(fraction)`` moves it, ``clear()`` blanks the line so
    another line can be printed (the bar redraws itself on the next update).
    """

    STEPS = 1000

    def __init__(self, label: str, *, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar: Any = None
        self._label = label

    def __enter__(self) -> Progress:
        return self

    def update(self, fraction: float) -> None:
        if self.enabled and self._bar is None:
            # created at the first step, so the ETA is not skewed by start-up time
            self._bar = click.progressbar(
                length=self.STEPS, label=self._label, file=sys.stderr, show_eta=True
            )
            self._bar.__enter__()
        if self._bar is not None:
            target = int(max(0.0, min(1.0, fraction)) * self.STEPS)
            if target > self._bar.pos:
                self._bar.update(target - self._bar.pos)

    def clear(self) -> None:
        if self._bar is not None:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


class EpisodePrinter:
    """``on_event`` callback printing one line when an episode starts or ends."""

    def __init__(self, progress: Progress | None = None) -> None:
        self.progress = progress

    def __call__(self, event: Event, runner: SessionRunner) -> None:
        line = tables.event_line(event, runner.t_first_s or 0.0)
        if line is None:
            return
        if self.progress is not None:
            self.progress.clear()
        click.echo(line)


def calibration_options(f: F) -> F:
    """``--calibrate SECONDS`` and ``--no-calibration`` (see tremorscope/calibration.py)."""
    f = click.option(
        "--no-calibration", "no_calibration", is_flag=True,
        help="Ignore a neutral posture stored with `tremorscope calibrate`.",
    )(f)  # fmt: skip
    return click.option(
        "--calibrate", "calibrate_s", type=float, default=None, metavar="SECONDS",
        help="The first SECONDS (after 1 s of settling) are the person's neutral posture, held still "
        "[default: a stored calibration of this device and placement, else learned from quiet posture].",
    )(f)  # fmt: skip


def check_calibrate_s(calibrate_s: float | None) -> None:
    """``--calibrate`` must be a positive, finite number of seconds."""
    if calibrate_s is not None and not (0 < calibrate_s < 3600):
        raise CliError(f"--calibrate {calibrate_s:g}: give the seconds of keeping still, e.g. --calibrate 5")


def session_notes(store: Store, session_id: int) -> list[str]:
    """Lines after a session summary: the neutral posture used and what the stream cannot show."""
    row = store.session(session_id) or {}
    try:
        extra = json.loads(row.get("extra_json") or "{}")
    except json.JSONDecodeError:
        extra = {}
    if not isinstance(extra, dict):
        return []
    lines = []
    if extra.get("neutral_from") == "calibrate_s":
        lines.append(f"neutral posture: measured over the first {extra.get('calibrate_s', 0):g} s")
    elif extra.get("neutral_from") == "stored":
        lines.append(
            f"neutral posture: stored calibration {extra.get('calibration_id')} "
            "(`tremorscope calibrate --list`; --no-calibration ignores it)"
        )
    lines += [f"note: {limit}" for limit in extra.get("limits") or ()]
    return lines


def session_summary(result: SessionResult, store: Store) -> str:
    """The closing line(s) of a replay: what was logged and where."""
    skipped = result.skipped_missing + result.skipped_time
    skipped_txt = f"{skipped} rows skipped"
    if skipped:
        skipped_txt += (
            f" ({result.skipped_missing} with missing values, "
            f"{result.skipped_time} with repeated or backwards time)"
        )
    parts = [
        f"session {result.session_id} {result.status}: {result.episodes} episodes",
        f"{result.samples} samples ({tables.format_elapsed(result.duration_s)})",
        f"{result.gaps} gaps ({result.gap_s:.1f} s)",
        skipped_txt,
    ]
    if result.stopped_by:
        parts.append(f"stopped by {result.stopped_by}")
    notes = "".join(f"\n{line}" for line in session_notes(store, result.session_id))
    return ", ".join(parts) + notes + f"\nlogged in {store.path}"


def finish_run(result: SessionResult) -> None:
    """Exit like a shell would when a signal ended the session."""
    if result.stopped_by:
        raise SystemExit(SIGNAL_EXIT.get(result.stopped_by, 1))


# --------------------------------------------------------------------------- commands


@main.command()
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


@main.command()
@click.argument("rec")
@db_option
@click.option(
    "--placement", default=None, help="Where the sensor is worn [default: from the recording, else wrist]."
)
@click.option("--speed", default="max", show_default=True, help="Multiple of real time, or 'max'.")
@click.option(
    "--config", "config_path", metavar="FILE.json", default=None,
    help="Detector settings as a JSON object (see dsp/config.py).",
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
                if is_capture:  # raw capture: the live decode path (tremorscope/cli_live.py)
                    from tremorscope.cli_live import replay_capture

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


@main.command()
@db_option
@click.option("--session", "session", default=None, help="Session id, or 'latest' [default: all].")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
    show_default=True, help="csv is the export contract (header = EPISODE_COLUMNS).",
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


@main.command()
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


@main.command("calibrate")
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
    from tremorscope.calibration import DEFAULT_CALIBRATE_S, CalibrationError, calibrate_recording

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
        from tremorscope.cli_live import calibrate_live

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


@main.command()
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


if __name__ == "__main__":  # pragma: no cover
    main()
