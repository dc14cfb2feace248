"""Shared set-up for tests that drive the command line in-process (click's CliRunner).

Import ``isolated_home`` into a test module to make it apply there (it is autouse), and
``run``/``one_line_error`` to invoke commands and check their errors.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tremorscope.cli import main


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never touch the real user's data folder: HOME, XDG_DATA_HOME and LOCALAPPDATA point into tmp."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "xdg-data"))
    monkeypatch.setenv("LOCALAPPDATA", str(home / "localappdata"))
    monkeypatch.delenv("TREMORSCOPE_DB", raising=False)
    monkeypatch.delenv("TREMORSCOPE_DEBUG", raising=False)
    return home


def run(*args: str) -> Result:
    """Invoke ``tremorscope ARGS``; an exception other than SystemExit fails the test."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {result.exception!r}\n{result.output}") from result.exception
    return result


def one_line_error(result: Result, *needles: str) -> str:
    """The command failed with one ``Error: ...`` line, no traceback, naming every needle."""
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    err = result.stderr.strip().splitlines()
    assert len(err) == 1, result.stderr
    assert err[0].startswith("Error: ")
    for n in needles:
        assert n.lower() in err[0].lower(), (n, err[0])
    return err[0]
