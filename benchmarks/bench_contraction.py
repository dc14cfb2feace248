"""Contraction accuracy on the randomised contraction family, tuning seeds vs held-out seeds.

Usage (from the repository root)::

    python benchmarks/bench_contraction.py            # held-out seeds
    python benchmarks/bench_contraction.py --tuning   # the seeds tuning looked at

Per scenario and sensor set: contraction event recall, precision, the share of brief voluntary
head-turn seconds inside a contraction episode, episodes that outlast their posture by more than
10 s, overlapping episodes, median onset error and which detection path found them. An
accelerometer cannot see rotation about gravity, so acc-only recall leaves out pure rotations
(torticollis, radial/ulnar deviation) unless they carry a tilt part (scored when found).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import click
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dsp  # noqa: E402
from firmware_bridge.simulator import simulate  # noqa: E402

#: Seeds the thresholds were tuned on (1-32 for the wrist's spasm signature, 1-24 for the neck's
#: heading); the held-out seeds were never looked at while tuning.
TUNING_SEEDS: tuple[int, ...] = tuple(range(1, 33))
HELD_OUT_SEEDS: tuple[int, ...] = (1001, 1002, 1003, 1004, 1005, 1006)
SCENARIOS: tuple[str, ...] = ("wrist_spasm_family", "neck_torticollis_family", "daily_mix")
#: daily_mix (a wrist, uncalibrated, no contraction at all) is scored over this long per seed.
DURATION_S: dict[str, float] = {"daily_mix": 1800.0}
OVERRUN_S = 10.0  # the limit on an episode outlasting its posture
ROTATION_ONLY = ("torticollis", "radial_deviation", "ulnar_deviation")  # invisible to acc alone


@dataclass
class Score:
    truth: int = 0
    found: int = 0
    detected: int = 0
    correct: int = 0
    turn_s: float = 0.0
    turn_in_s: float = 0.0
    overruns: int = 0
    overlaps: int = 0
    hours: float = 0.0
    onset_err: list = field(default_factory=list)
    paths: dict = field(default_factory=dict)

    def add(self, o: Score) -> None:
        for k in (
            "truth",
            "found",
            "detected",
            "correct",
            "turn_s",
            "turn_in_s",
            "overruns",
            "overlaps",
            "hours",
        ):
            setattr(self, k, getattr(self, k) + getattr(o, k))
        self.onset_err += o.onset_err
        for k, v in o.paths.items():
            self.paths[k] = self.paths.get(k, 0) + v


def run(scenario: str, seed: int, gyro: bool, duration_s: float | None = None):
    sim = simulate(scenario, duration_s=duration_s, seed=seed, gyro=gyro)
    f = sim.frame
    eps = dsp.detect(f, float(sim.meta["sample_rate_hz"]), placement=sim.meta["placement"])
    return sim, eps


def score(sim, eps: pd.DataFrame, gyro: bool) -> Score:
    s = Score()
    ev = sim.events
    con = eps[eps.kind == "contraction"].sort_values("start_s")
    truth = ev[ev.trial_type == "contraction"]
    used: set = set()
    for r in truth.itertuples():
        a, b = float(r.onset), float(r.onset) + float(r.duration)
        ov = con[(con.start_s < b) & (con.end_s > a)]
        if not gyro and str(r.direction).startswith(ROTATION_ONLY) and not len(ov):
            continue  # a pure rotation about gravity: not expected without a gyroscope
        used.update(ov.index)
        s.truth += 1
        if len(ov):
            s.found += 1
            d = ov.iloc[0]
            s.onset_err.append(abs(float(d.start_s) - a))
            s.overruns += int(float(d.end_s) > b + OVERRUN_S)
    s.detected = len(con)
    s.correct = len(used)
    s.hours = float(sim.meta["duration_s"]) / 3600
    for k, v in con.detection_path.value_counts().items():
        s.paths[str(k)] = int(v)
    starts, ends = con.start_s.to_numpy(), con.end_s.to_numpy()
    s.overlaps = int(np.sum(starts[1:] < ends[:-1] - 1e-6)) if len(con) > 1 else 0
    for r in ev[ev.trial_type == "head_turn"].itertuples():
        a, b = float(r.onset), float(r.onset) + float(r.duration)
        s.turn_s += b - a
        s.turn_in_s += float(np.clip(np.minimum(con.end_s, b) - np.maximum(con.start_s, a), 0, None).sum())
    return s


def evaluate(seeds, scenarios=SCENARIOS, duration_s: float | None = None) -> dict:
    out = {}
    for sc in scenarios:
        for gyro in (True, False):
            tot = Score()
            for seed in seeds:
                sim, eps = run(sc, seed, gyro, duration_s or DURATION_S.get(sc))
                tot.add(score(sim, eps, gyro))
            out[(sc, gyro)] = tot
    return out


def table(res: dict) -> str:
    lines = [
        f"{'scenario':26s} {'sensors':9s} {'recall':>7s} {'precision':>9s} {'turn s in':>9s} "
        f"{'overrun':>7s} {'overlap':>7s} {'onset err':>9s} {'false/h':>7s}  paths"
    ]
    for (sc, gyro), s in res.items():
        rec = s.found / s.truth if s.truth else float("nan")
        prec = s.correct / s.detected if s.detected else float("nan")
        turn = s.turn_in_s / s.turn_s if s.turn_s else float("nan")
        err = float(np.median(s.onset_err)) if s.onset_err else float("nan")
        lines.append(
            f"{sc:26s} {'acc+gyro' if gyro else 'acc only':9s} {rec:7.3f} {prec:9.3f} {turn:9.3f} "
            f"{s.overruns:7d} {s.overlaps:7d} {err:8.2f}s {(s.detected - s.correct) / s.hours:7.1f}  "
            + ", ".join(f"{k} {v}" for k, v in sorted(s.paths.items()))
            + f"  ({s.found}/{s.truth} found, {s.correct}/{s.detected} correct)"
        )
    return "\n".join(lines)


@click.command()
@click.option("--tuning", is_flag=True, help="Score the tuning seeds instead of the held-out ones.")
@click.option("--duration", "duration_s", type=float, default=None, help="Seconds per recording.")
def main(tuning: bool, duration_s: float | None) -> None:
    seeds = TUNING_SEEDS if tuning else HELD_OUT_SEEDS
    click.echo(f"{'tuning' if tuning else 'held-out'} seeds {', '.join(map(str, seeds))}")
    click.echo(table(evaluate(seeds, duration_s=duration_s)))


if __name__ == "__main__":
    main()
