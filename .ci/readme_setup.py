"""Print the README's "Set up" shell block, unchanged, so CI runs exactly what a new user types."""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def setup_block(text: str) -> str:
    """The first ```sh block under the "## Set up" heading."""
    section = re.search(r"^## Set up\s*$(.*?)(?=^## )", text, re.S | re.M)
    if section is None:
        raise SystemExit("README.md has no '## Set up' section")
    block = re.search(r"```sh\n(.*?)```", section.group(1), re.S)
    if block is None:
        raise SystemExit("README.md's '## Set up' section has no ```sh block")
    return block.group(1)


if __name__ == "__main__":
    sys.stdout.write(setup_block(README.read_text(encoding="utf-8")))
