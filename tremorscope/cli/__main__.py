"""``python -m tremorscope.cli``: the ``tremorscope`` command."""

from tremorscope.cli.group import main

main()
