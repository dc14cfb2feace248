"""Contractions on the randomised contraction family, on held-out seeds that tuning never used.

Uncalibrated wrist spasms (against voluntary gestures, holds and posture changes, and a day's
activities with no contraction at all), torticollis runs with short returns and brief head turns
(also one held when the heading comes into use, on tuning seeds), tremor inside a contraction
(``within_posture``) through the detector, the log and every export.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pytest
from review_helpers import simulated_session

import dsp
from dsp.events import EPISODE_COLUMNS
from firmware_bridge.simulator import simulate
from tremorscope.exports import export
from tremorscope.exports.edf import episode_annotation
from tremorscope.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import bench_contraction as bench  # noqa: E402  (the benchmark's scoring, not a copy of it)

SEEDS = bench.HELD_OUT_SEEDS[:3]
#: Margins around the figures measured on these seeds (acc + gyro, acc only): spasm recall 0.95,
#: 0.94; precision 1.00, 0.97; daily-life false spasms 2.0 and 0 per hour (two 30 min days).
#: (The acc-only recall was 0.85 before the pull's speed was read from sliding windows and a
#: hold still settling was judged again; its floor is back at 0.9.)
RECALL_MIN = {True: 0.9, False: 0.9}
PRECISION_MIN = {True: 0.92, False: 0.92}
DAILY_FALSE_PER_H_MAX = {True: 3.0, False: 1.0}


def test_tuning_and_held_out_seeds_are_apart() -> None:
    assert not set(bench.TUNING_SEEDS) & set(bench.HELD_OUT_SEEDS)


@pytest.mark.parametrize("gyro", [True, False], ids=["acc+gyro", "acc-only"])
def test_uncalibrated_wrist_spasms(gyro: bool) -> None:
    tot = bench.Score()
    for seed in SEEDS:
        sim, eps = bench.run("wrist_spasm_family", seed, gyro)
        tot.add(bench.score(sim, eps, gyro))
        con = eps[eps.kind == "contraction"]
        assert set(con.detection_path) <= {"uncalibrated"}
        assert ((con.confidence >= 0.0) & (con.confidence <= 1.0)).all()
    assert tot.truth >= 25
    assert tot.found / tot.truth >= RECALL_MIN[gyro], (tot.found, tot.truth)
    assert tot.correct / tot.detected >= PRECISION_MIN[gyro], (tot.correct, tot.detected)
    assert tot.overlaps == 0
    assert np.median(tot.onset_err) <= 0.6


@pytest.mark.parametrize("gyro", [True, False], ids=["acc+gyro", "acc-only"])
def test_daily_life_is_seldom_called_a_spasm(gyro: bool) -> None:
    """A wrist that never ran `calibrate`, through a day's activities with no contraction at all
    (typing, riding, gestures, rests on a lap): false spasms per hour."""
    tot = bench.Score()
    for seed in SEEDS[:2]:
        sim, eps = bench.run("daily_mix", seed, gyro, bench.DURATION_S["daily_mix"])
        tot.add(bench.score(sim, eps, gyro))
    assert tot.hours >= 0.9
    assert tot.detected / tot.hours <= DAILY_FALSE_PER_H_MAX[gyro], (tot.detected, tot.hours)


@pytest.mark.parametrize("gyro", [True, False], ids=["acc+gyro", "acc-only"])
def test_torticollis_ends_with_the_head_and_head_turns_are_not_contractions(gyro: bool) -> None:
    """Without a gyroscope torticollis is only seen through its tilt part (scored when found)."""
    tot = bench.Score()
    for seed in SEEDS:
        sim, eps = bench.run("neck_torticollis_family", seed, gyro)
        tot.add(bench.score(sim, eps, gyro))
    assert tot.truth >= (30 if gyro else 5)
    assert tot.found / tot.truth >= 0.95, (tot.found, tot.truth)
    assert tot.correct / tot.detected >= 0.92
    assert tot.overlaps == 0
    assert tot.overruns == 0, tot.overruns
    assert tot.turn_s > 60 and tot.turn_in_s / tot.turn_s <= 0.05


@pytest.mark.parametrize("seed", [18, 20])
def test_torticollis_held_when_the_heading_comes_into_use(seed: int) -> None:
    """Tuning seeds whose first torticollis begins before the gyroscope offset is known (the
    heading comes into use 20-40 s in, mid-hold; seed 20's first offset estimate is 3 deg/s off):
    the episode is measured from where the turn began and ends when the head comes back (it
    used to take the turned heading as straight ahead and call the return a turn the other
    way, for 80-300 s). Whatever the chunking."""
    sim = simulate("neck_torticollis_family", seed=seed, gyro=True)
    f = sim.frame
    fs = float(sim.meta["sample_rate_hz"])
    eps = dsp.detect(f, fs, placement="neck")
    con = eps[eps.kind == "contraction"].sort_values("start_s")
    truth = sim.events[sim.events.trial_type == "contraction"].iloc[0]
    end = float(truth.onset + truth.duration)
    first = con[(con.start_s < end) & (con.end_s > truth.onset)]
    assert len(first) == 1, first
    assert first.direction.iloc[0] == truth.direction
    assert abs(first.start_s.iloc[0] - truth.onset) <= 12.0  # traced back from when it is seen
    assert first.end_s.iloc[0] <= end + bench.OVERRUN_S
    assert (con.end_s.to_numpy()[:-1] <= con.start_s.to_numpy()[1:] + 1e-6).all()
    rng = np.random.default_rng(seed)
    det = dsp.StreamingDetector(fs, placement="neck")
    t = f.t.values
    acc = f[["acc_x", "acc_y", "acc_z"]].values
    gyro = f[["gyro_x", "gyro_y", "gyro_z"]].values
    i = 0
    while i < t.size:
        n = int(rng.integers(1, 3000))
        det.push(t[i : i + n], acc[i : i + n], gyro[i : i + n])
        i += n
    det.flush()
    streamed = det.episodes()
    # the contractions, the heading under them and the links of tremor to them (context
    # within_posture: seed 20's tremor inside its second torticollis was left unlinked by one long
    # push, which trimmed the contractions remembered for linking by count before linking)
    assert streamed.equals(eps)
    assert (eps.context == "within_posture").any()


def test_acc_only_limits_say_torticollis_is_seen_only_by_its_tilt() -> None:
    det = dsp.StreamingDetector(100.0, placement="neck")
    det.push(np.arange(200) / 100.0, np.tile([0.0, 0.0, 1.0], (200, 1)))
    assert any("torticollis shows only through its tilt" in s for s in det.limits)


@pytest.fixture(scope="module")
def spasm_day():
    return simulate("wrist_spasm_family", seed=bench.HELD_OUT_SEEDS[0], duration_s=300)


def test_tremor_within_a_contraction_is_linked_whatever_the_chunking(spasm_day) -> None:
    f = spasm_day.frame
    batch = dsp.detect(f, 100.0, placement="wrist")
    con = batch[batch.kind == "contraction"]
    within = batch[batch.context == "within_posture"]
    assert len(within) >= 2
    assert (within.kind == "tremor").all()
    for r in within.itertuples():
        c = con[con.episode_id == r.contraction_id]
        assert len(c) == 1  # linked to a contraction that holds most of it
        overlap = min(r.end_s, c.end_s.iloc[0]) - max(r.start_s, c.start_s.iloc[0])
        assert overlap >= 0.5 * r.duration_s
    # tremor outside every contraction keeps its own context and no link
    assert batch[(batch.kind == "tremor") & (batch.context != "within_posture")].contraction_id.isna().all()
    rng = np.random.default_rng(3)
    det = dsp.StreamingDetector(100.0, placement="wrist")
    t = f.t.values
    acc = f[["acc_x", "acc_y", "acc_z"]].values
    gyro = f[["gyro_x", "gyro_y", "gyro_z"]].values
    i = 0
    while i < t.size:
        n = int(rng.integers(1, 700))
        det.push(t[i : i + n], acc[i : i + n], gyro[i : i + n])
        i += n
    det.flush()
    streamed = det.episodes()
    assert streamed.equals(batch)


def test_within_posture_through_the_log_and_every_export(tmp_path: Path) -> None:
    with Store(tmp_path / "log.db") as store:
        sid = simulated_session(
            store, tmp_path / "rec", "wrist_spasm_family", 300, seed=bench.HELD_OUT_SEEDS[0]
        )
        eps = store.episodes(sid)
        within = eps[eps.context == "within_posture"]
        assert len(within) >= 2 and within.contraction_id.notna().all()
        con = eps[eps.kind == "contraction"]
        assert set(con.detection_path) == {"uncalibrated"} and con.confidence.notna().all()
        export(store, "csv", tmp_path / "csv")
        export(store, "bids", tmp_path / "bids")
    with open(tmp_path / "csv" / "episodes.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == EPISODE_COLUMNS
    linked = [r for r in rows if r["context"] == "within_posture"]
    assert len(linked) == len(within)
    ids = {r["episode_id"] for r in rows if r["kind"] == "contraction"}
    assert all(str(int(float(r["contraction_id"]))) in ids for r in linked)
    assert {r["detection_path"] for r in rows if r["kind"] == "contraction"} == {"uncalibrated"}
    events = next((tmp_path / "bids").rglob("*_events.tsv"))
    with open(events, newline="") as fh:
        tsv = list(csv.DictReader(fh, delimiter="\t"))
    assert {"contraction_id", "detection_path", "confidence"} <= set(tsv[0])
    assert sum(
        r["context"] == "within_posture" and r["contraction_id"] not in ("", "n/a") for r in tsv
    ) == len(within)
    text = episode_annotation(within.iloc[0].to_dict())
    assert "within_posture" in text and f"in#{int(within.contraction_id.iloc[0])}" in text
    assert len(text) <= 40
