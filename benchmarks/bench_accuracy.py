"""Tremor detection accuracy on the randomised simulator family, tuning and held-out seeds.

    python benchmarks/bench_accuracy.py                  # both seed sets, with and without gyro
    python benchmarks/bench_accuracy.py --set held-out --scenarios toothbrushing,rest_tremor

Each seed is a new person and sensor (``firmware_bridge.simulation.family``). Per scenario it
prints per-second precision, recall and specificity, the fraction of each voluntary activity's
seconds called tremor, the share of true episodes whose dominant frequency is within 0.5 Hz,
the share whose start event's frequency is within 0.5 Hz of the episode's final one, and the
median detection latency. Detector work may look at the tuning set only.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import click
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dsp  # noqa: E402
from dsp.events import STARTED  # noqa: E402
from firmware_bridge.simulation.family import (  # noqa: E402
    FAMILY,
    HELD_OUT_SEEDS,
    TUNING_SEEDS,
    VOLUNTARY_KINDS,
    simulate_family,
)
from firmware_bridge.simulation.scoring import ACC_ONLY_MIN_AMPLITUDE_G, Score, score  # noqa: E402


def run_one(scenario: str, seed: int, gyro: bool) -> Score:
    """Simulate, detect (the real-time core fed once) and score one recording."""
    rec = simulate_family(scenario, seed, gyro=gyro)
    f = rec.frame
    det = dsp.StreamingDetector(rec.sample_rate_hz, placement="wrist")
    acc = f[["acc_x", "acc_y", "acc_z"]].to_numpy()
    g = f[["gyro_x", "gyro_y", "gyro_z"]].to_numpy() if gyro else None
    events = det.push(f.t.to_numpy(), acc, g) + det.flush()
    start_hz = {
        e.episode.episode_id: e.episode.dominant_hz
        for e in events
        if e.type == STARTED and e.episode.kind == "tremor"
    }
    duration = float(FAMILY[scenario][1])
    return score(
        rec.events,
        duration,
        det.episodes(),
        start_hz,
        min_amplitude_g=0.0 if gyro else ACC_ONLY_MIN_AMPLITUDE_G,
        activities=VOLUNTARY_KINDS,
    )


def _fmt(v: float) -> str:
    return "  -  " if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def table(results: dict[str, Score], title: str) -> str:
    """Per-scenario rows and a total row."""
    lines = [
        title,
        "  scenario          precision  recall  specif.  called-tremor  freq<=0.5Hz  start<=0.5Hz"
        "  (regular)  latency",
    ]
    total = Score()
    for name, s in results.items():
        total += s
        lines.append(_row(name, s))
    lines.append(_row("all", total))
    return "\n".join(lines)


def _row(name: str, s: Score) -> str:
    called = [s.called_fraction(a) for a in VOLUNTARY_KINDS if s.called.get(a, (0, 0))[1] > 0]
    called_s = _fmt(max(called)) if called and (name in VOLUNTARY_KINDS or name == "all") else "  -  "
    if name in VOLUNTARY_KINDS:
        called_s = _fmt(s.called_fraction(name))
    freq = s.freq_ok / s.found if s.found else float("nan")
    start = s.start_ok / s.found if s.found else float("nan")
    start_reg = s.start_ok_regular / s.found_regular if s.found_regular else float("nan")
    lat = float(np.median(s.latencies)) if s.latencies else float("nan")
    return (
        f"  {name:<16}  {_fmt(s.precision):>9}  {_fmt(s.recall):>6}  {_fmt(s.specificity):>7}  "
        f"{called_s:>13}  {_fmt(freq):>11}  {_fmt(start):>12}  {_fmt(start_reg):>9}  {_fmt(lat):>7}"
    )


@click.command()
@click.option("--set", "which", type=click.Choice(["tuning", "held-out", "both"]), default="both")
@click.option("--scenarios", default=",".join(FAMILY), help="Comma-separated family scenarios.")
@click.option("--gyro", type=click.Choice(["with", "without", "both"]), default="both")
def main(which: str, scenarios: str, gyro: str) -> None:
    names = [s for s in scenarios.split(",") if s]
    unknown = [s for s in names if s not in FAMILY]
    if unknown:
        raise click.BadParameter(f"unknown scenario(s) {', '.join(unknown)}; valid: {', '.join(FAMILY)}")
    sets = {"tuning": TUNING_SEEDS, "held-out": HELD_OUT_SEEDS}
    chosen = list(sets) if which == "both" else [which]
    modes = {"with": [True], "without": [False], "both": [True, False]}[gyro]
    t0 = time.perf_counter()
    for set_name in chosen:
        seeds = sets[set_name]
        for g in modes:
            results = {}
            for name in names:
                s = Score()
                for seed in seeds:
                    s += run_one(name, seed, g)
                results[name] = s
            title = f"{set_name} seeds {seeds[0]}-{seeds[-1]}, {'acc+gyro' if g else 'acc only'}"
            click.echo(table(results, title))
            click.echo("")
    click.echo(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
