"""Print pip constraints pinning every dependency (and the given extras) to the lowest version
pyproject.toml declares, so CI tests exactly the lower bounds we promise."""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = None


def _requirements(pyproject: Path, extras: list[str]) -> list[str]:
    text = pyproject.read_text(encoding="utf-8")
    if tomllib is not None:
        project = tomllib.loads(text)["project"]
        reqs = list(project["dependencies"])
        for extra in extras:
            reqs += project.get("optional-dependencies", {}).get(extra, [])
        return reqs
    # Python 3.10 has no tomllib: the quoted requirement strings of the arrays we need
    reqs = []
    for name in ["dependencies", *extras]:
        m = re.search(rf"^{re.escape(name)}\s*=\s*\[(.*?)\]", text, re.S | re.M)
        if m:
            reqs += re.findall(r'"([^"]+)"', re.sub(r"#[^\n]*", "", m.group(1)))
    return reqs


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    extras = sys.argv[1:]
    for req in _requirements(root / "pyproject.toml", extras):
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$", req.split(";")[0])
        name, spec = m.group(1), m.group(3)
        low = re.search(r"(>=|==)\s*([0-9][^,\s]*)", spec)
        if low is None:
            print(f"error: {req!r} declares no lower bound; add one to pyproject.toml", file=sys.stderr)
            return 1
        print(f"{name}=={low.group(2)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
