"""The command-line help is exactly as recorded before the package redesign (issue 12).

tests/data/cli_help.txt is ``tremorscope --help`` and every ``tremorscope CMD --help`` as the
single-module CLI printed them; tests/cli_help_dump.py prints them again, in a fresh process
with the home folder pinned (the ``--db`` default in the help names it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
#: A home folder that does not exist: only its name appears in the help.
HELP_HOME = "/home/tremorscope-help"


def _env() -> dict[str, str]:
    unset = ("TREMORSCOPE_DB", "XDG_DATA_HOME", "LOCALAPPDATA")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    return {**env, "HOME": HELP_HOME, "COLUMNS": "80"}


def test_help_of_every_command_is_unchanged():
    p = subprocess.run(
        [sys.executable, str(TESTS / "cli_help_dump.py")],
        env=_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    recorded = (TESTS / "data" / "cli_help.txt").read_text(encoding="utf-8")
    # the group and its 19 commands (issue 13 added batch and lsl-in, and live --lsl-out; issue 15
    # settings)
    assert p.stdout.count("$ tremorscope ") == recorded.count("$ tremorscope ") == 20
    assert p.stdout == recorded


def test_python_m_tremorscope_runs_the_command():
    for module in ("tremorscope", "tremorscope.cli"):
        p = subprocess.run(
            [sys.executable, "-m", module, "--version"],
            env=_env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert p.returncode == 0 and p.stdout.strip() == "tremorscope, version 0.1.0", (module, p.stderr)
