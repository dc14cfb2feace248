"""The ``tremorscope`` command line: thin click commands over the library, one module per group.

:mod:`~tremorscope.cli.group` is the command group (``main``, the console script);
:mod:`~tremorscope.cli.data` puts recordings into the log and lists it (demo, replay, episodes,
sessions, simulate); :mod:`~tremorscope.cli.setup` sets sensors up (devices, scan, pair,
calibrate); :mod:`~tremorscope.cli.live` monitors a sensor (live, decode);
:mod:`~tremorscope.cli.review` is what clinicians use (report, note, notes, export, reanalyze).
Command modules never import each other: what they share is in :mod:`~tremorscope.cli.helpers`
and, for sensor links, :mod:`~tremorscope.cli.live_helpers`. The names below stay importable
from ``tremorscope.cli`` for command modules written against it.
"""

import importlib
import warnings
from typing import Any

from tremorscope.cli.group import TremorscopeGroup, main
from tremorscope.cli.helpers import (
    SIGNAL_EXIT,
    CliError,
    EpisodePrinter,
    Progress,
    calibration_options,
    check_calibrate_s,
    db_option,
    finish_run,
    load_config,
    open_store,
    parse_session,
    parse_speed,
    session_notes,
    session_summary,
)
from tremorscope.paths import resolve_db_path

__all__ = [
    "SIGNAL_EXIT",
    "CliError",
    "EpisodePrinter",
    "Progress",
    "TremorscopeGroup",
    "calibration_options",
    "check_calibrate_s",
    "db_option",
    "finish_run",
    "load_config",
    "main",
    "open_store",
    "parse_session",
    "parse_speed",
    "resolve_db_path",
    "session_notes",
    "session_summary",
]

#: Commands that were attributes of the old single-module ``tremorscope.cli`` (issue 12).
_MOVED_COMMANDS = {
    "demo": "tremorscope.cli.data",
    "replay": "tremorscope.cli.data",
    "episodes": "tremorscope.cli.data",
    "sessions": "tremorscope.cli.data",
    "simulate": "tremorscope.cli.data",
    "calibrate_cmd": "tremorscope.cli.setup",
}


def __getattr__(name: str) -> Any:
    """``tremorscope.cli.replay`` and the other old command attributes, with a DeprecationWarning."""
    module = _MOVED_COMMANDS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(f"tremorscope.cli.{name} moved to {module}.{name}", DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module(module), name)
