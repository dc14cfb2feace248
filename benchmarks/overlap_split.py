"""Why the cohort batch does not split a recording into overlapping blocks: how far such a split
is from one pass.

    python benchmarks/overlap_split.py bench-data/cohort-50x2h/p001.csv --warmup-min 5,30,55

The recording is analysed once whole, and once by a fresh detector started ``W`` minutes before
its middle (the warm-up of an overlap split); the episodes starting after the middle are
compared. The batch instead hands the running detector's state on (README, "Research cohorts").
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import dsp  # noqa: E402
from firmware_bridge.io.recording import read_recording  # noqa: E402

#: Episodes this close in start time are taken to be the same one, shifted.
MATCH_S = 1.0


def _counts(episodes: pd.DataFrame) -> dict[str, int]:
    return {str(k): int(v) for k, v in episodes["kind"].value_counts().sort_index().items()}


@click.command()
@click.argument("recording", type=click.Path(exists=True, path_type=Path))
@click.option("--warmup-min", default="5,30,55", show_default=True, help="Comma-separated warm-ups.")
def main(recording: Path, warmup_min: str) -> None:
    """Compare an overlap split with one pass; see the module docstring."""
    rec = read_recording(recording)
    f = rec.frame
    t = f["t"].to_numpy()
    acc = [f[c].to_numpy() for c in ("acc_x", "acc_y", "acc_z")]
    gyro = [f[c].to_numpy() for c in ("gyro_x", "gyro_y", "gyro_z")] if "gyro_x" in f else None

    def from_sample(a: int) -> pd.DataFrame:
        det = dsp.StreamingDetector(rec.sample_rate_hz, placement=rec.placement, start_time=rec.start_time)
        det.push(t[a:], [c[a:] for c in acc], None if gyro is None else [c[a:] for c in gyro])
        det.flush()
        return det.episodes()

    whole = from_sample(0)
    split_s = float(t[len(t) // 2])
    ref = whole[whole.start_s >= split_s]
    click.echo(f"{recording.name}: split at {split_s:.0f} s; one pass has {len(ref)} episodes after it")
    for w in (float(x) for x in warmup_min.split(",")):
        got = from_sample(int(np.searchsorted(t, split_s - 60.0 * w)))
        got = got[got.start_s >= split_s]
        exact = len(got) == len(ref) and all(
            np.array_equal(got[c].to_numpy(), ref[c].to_numpy()) for c in ("kind", "start_s", "end_s")
        )
        near = np.array([np.min(np.abs(got.start_s.to_numpy() - s), initial=np.inf) for s in ref.start_s])
        shift = near[near < MATCH_S]
        click.echo(
            f"  warm-up {w:g} min: {len(got)} episodes, exact: {exact}; {len(shift)} of one pass's within "
            f"{MATCH_S:g} s (start off by up to {shift.max(initial=0.0):.3f} s), "
            f"kinds one pass {_counts(ref)} split {_counts(got)}"
        )


if __name__ == "__main__":
    main()
