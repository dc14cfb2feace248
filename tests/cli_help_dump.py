"""Print ``tremorscope --help`` and every ``tremorscope CMD --help`` (issue 12's help check).

Run in a fresh process with a fixed environment (see tests/test_cli_help.py): the ``--db``
default in the help names the per-user data folder, so HOME and XDG_DATA_HOME are pinned.
"""

from __future__ import annotations

import sys

from click.testing import CliRunner

from tremorscope.cli import main

#: Width the help is wrapped at (click's own default maximum).
HELP_WIDTH_COLUMNS = 80


def dump() -> str:
    runner = CliRunner()
    ctx = main.make_context("tremorscope", ["--help"], resilient_parsing=True)
    names = main.list_commands(ctx)
    out = []
    for args in [["--help"], *([name, "--help"] for name in names)]:
        r = runner.invoke(main, args, prog_name="tremorscope", terminal_width=HELP_WIDTH_COLUMNS)
        out.append(f"$ tremorscope {' '.join(args)}  (exit {r.exit_code})\n{r.output}")
    return "".join(out)


if __name__ == "__main__":
    sys.stdout.write(dump())
