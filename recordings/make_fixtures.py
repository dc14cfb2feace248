"""Regenerate the simulated fixture recordings in this folder, byte for byte.

    python recordings/make_fixtures.py            # rewrite the fixtures here
    python recordings/make_fixtures.py --check    # regenerate elsewhere and compare
    python recordings/make_fixtures.py --table    # print the README "Fixtures" table

Each fixture is ``NAME.csv.gz`` plus its ground truth ``NAME.events.tsv``,
made by :func:`firmware_bridge.simulator.simulate` with the recipe below.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

from firmware_bridge.simulator import read_events, simulate, write_simulation

HERE = Path(__file__).resolve().parent

#: file name -> (scenario, simulate() keyword arguments)
FIXTURES: dict[str, tuple[str, dict]] = {
    "demo_wrist.csv.gz": ("daily_mix", {"duration_s": 300.0, "seed": 1, "sample_rate_hz": 100.0}),
    "rest_tremor_acc50.csv.gz": (
        "rest_tremor",
        {"duration_s": 120.0, "seed": 1, "sample_rate_hz": 50.0, "gyro": False},
    ),
    "postural_gyro100.csv.gz": (
        "postural_tremor",
        {"duration_s": 120.0, "seed": 1, "sample_rate_hz": 100.0},
    ),
    "walking_acc100.csv.gz": (
        "walking",
        {"duration_s": 60.0, "seed": 1, "sample_rate_hz": 100.0, "gyro": False},
    ),
    "neck_postures_gyro100.csv.gz": (
        "neck_postures",
        {"duration_s": 210.0, "seed": 2, "sample_rate_hz": 100.0},
    ),
}


def make(folder: Path) -> list[Path]:
    """Write every fixture (recording and events file) into ``folder``; return the paths."""
    written: list[Path] = []
    for name, (scenario, kwargs) in FIXTURES.items():
        written.extend(write_simulation(simulate(scenario, **kwargs), folder / name))
    return written


def check(folder: Path = HERE) -> list[str]:
    """Names of fixture files in ``folder`` that differ from a fresh regeneration."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = make(Path(tmp))
        return [
            p.name
            for p in fresh
            if not (folder / p.name).is_file() or not filecmp.cmp(p, folder / p.name, shallow=False)
        ]


def table(folder: Path = HERE) -> str:
    """The README's Fixtures table, from the fixtures' recipes and ground truth."""
    lines = [
        "| file | scenario | duration, rate | sensors | seed | ground truth (episodes) |",
        "|---|---|---|---|---|---|",
    ]
    for name, (scenario, kw) in FIXTURES.items():
        events = read_events(folder / name.replace(".csv.gz", ".events.tsv"))
        tremor = events[events.trial_type == "tremor"]
        contraction = events[events.trial_type == "contraction"]
        parts = [
            f"{r.frequency_hz:.1f} Hz {r.amplitude_g * 1000:.0f} mg {r.context}"
            for r in tremor.itertuples()
            if not _within(r, contraction)  # a co-contraction tremor is listed with its posture
        ]
        for r in contraction.itertuples():
            speed = "fast" if r.ramp_s < 2.0 else "slow"
            co = f", co-contraction {r.co_contraction_g * 1000:.0f} mg" if r.co_contraction_g > 0 else ""
            parts.append(f"{r.direction} {r.angle_deg:.0f} deg {r.hold_s:.0f} s ({speed}{co})")
        others = sorted(set(events.trial_type) - {"tremor", "physiological_tremor", "rest", "contraction"})
        truth = "; ".join(parts) if parts else "none"
        if others:
            truth += f" (also: {', '.join(others)})"
        sensors = "acc + gyro" if kw.get("gyro", True) else "acc only"
        lines.append(
            f"| `{name}` | `{scenario}` | {kw['duration_s']:g} s, {kw['sample_rate_hz']:g} Hz "
            f"| {sensors} | {kw['seed']} | {truth} |"
        )
    return "\n".join(lines)


def _within(row, contraction) -> bool:
    """Whether a tremor row lies inside one of the contraction rows."""
    ends = contraction.onset + contraction.duration
    return bool(((contraction.onset <= row.onset) & (ends >= row.onset + row.duration)).any())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--table", action="store_true", help="print the README table")
    args = parser.parse_args(argv)
    if args.check:
        bad = check()
        if bad:
            print(f"fixtures differ from their recipe: {', '.join(bad)}", file=sys.stderr)
            return 1
        print("fixtures match their recipes")
        return 0
    if args.table:
        print(table())
        return 0
    for path in make(HERE):
        print(f"wrote {path.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
