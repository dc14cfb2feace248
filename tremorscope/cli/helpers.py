"""What the command modules share: options, parsing, progress, session summaries, one-line errors.

The command modules of :mod:`tremorscope.cli` import each other never, only this module
(and :mod:`tremorscope.cli.live_helpers` for sensor links).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from dsp.config import DetectorConfig
from dsp.events import Event
from firmware_bridge.io.text import printable
from tremorscope import signals, tables
from tremorscope.paths import DB_ENV_VAR, resolve_db_path
from tremorscope.session import SessionResult, SessionRunner
from tremorscope.store import Store
from tremorscope.store.private import tightened_note

#: The exception commands raise for a one-line error and exit status 1.
CliError = click.ClickException
#: Exit statuses for a session ended by a signal (128 + signal number, as shells report).
SIGNAL_EXIT = signals.EXIT_STATUS

F = TypeVar("F", bound=Callable[..., Any])


def _one_line(text: str) -> str:
    """``text`` on one line with control characters escaped (an error may quote a file's bytes)."""
    return printable(" ".join(text.split()), None)


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
    """Open the episode log chosen by ``--db`` / ``$TREMORSCOPE_DB`` / the default.

    A log others could read is made owner-only on open; that is said here, on stderr.
    """
    store = Store(resolve_db_path(db), create=create)
    note = tightened_note(store.tightened)
    if note:
        click.echo(_one_line(note), err=True)
    return store


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
        raise CliError(f"config {path}: {_one_line(str(e))}; `tremorscope settings` lists them") from None


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
            f" ({result.skipped_missing} with missing or impossible values, "
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
