"""``python -m tremorscope``: the ``tremorscope`` command."""

from tremorscope.cli.group import main

main()
