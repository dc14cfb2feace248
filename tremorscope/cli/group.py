"""The ``tremorscope`` command group: finds the commands and turns escaped errors into one line.

Commands live in the modules of this package (``data``, ``setup``, ``live``, ``review``): each
defines click commands and lists them in a module-level ``COMMANDS``; the group imports every
module of the package whose name does not start with ``_`` and serves what they list, so adding
a command never means editing this file. Modules named ``tremorscope/cli_<topic>.py`` (the
older place for such modules) are still found.

Errors: every anticipated problem (missing or bad file, bad config, bad db path) ends with a
one-line ``Error: ...`` on stderr and a non-zero exit, never a traceback. Set
``TREMORSCOPE_DEBUG=1`` to see tracebacks of unexpected errors.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sqlite3
import sys
from typing import Any

import click

import tremorscope
from tremorscope import signals
from tremorscope.cli.helpers import CliError, _one_line
from tremorscope.store import StoreError


class TremorscopeGroup(click.Group):
    """A click group serving the commands that this package's modules (and ``tremorscope.cli_*``) list."""

    _plugins: dict[str, click.Command] | None = None

    def _plugin_commands(self) -> dict[str, click.Command]:
        if self._plugins is None:
            found: dict[str, click.Command] = {}
            package = sys.modules[__package__]  # tremorscope.cli, without importing it (no cycle)
            names = [
                f"{__package__}.{mod.name}"
                for mod in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name)
                if not mod.name.startswith("_")
            ]
            names += [
                f"tremorscope.{mod.name}"
                for mod in sorted(pkgutil.iter_modules(tremorscope.__path__), key=lambda m: m.name)
                if mod.name.startswith("cli_")
            ]
            for name in names:
                try:
                    module = importlib.import_module(name)
                except Exception as e:  # noqa: BLE001 - one broken module must not break the CLI
                    click.echo(f"Warning: commands in {name} unavailable: {e}", err=True)
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
            with signals.handling(force=True):  # SIGINT/SIGTERM end every command within 2 s
                return super().invoke(ctx)
        except KeyboardInterrupt as e:  # a stop signal where no session loop was polling for it
            name = getattr(e, "signal_name", None) or "SIGINT"
            click.echo(f"stopped by {name}", err=True)
            raise SystemExit(signals.exit_status(name)) from None
        except click.ClickException as e:  # its text may quote a file: no control characters
            e.message = _one_line(e.message)
            raise
        except (click.exceptions.Exit, click.Abort):
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


@click.group(cls=TremorscopeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(tremorscope.__version__, prog_name="tremorscope")
def main() -> None:
    """Wearable tremor and dystonic-spasm monitor: real-time detection and an episode log."""
