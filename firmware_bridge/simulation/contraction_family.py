"""Randomised contraction and posture activities: spasms, voluntary look-alikes, torticollis.

Each seed draws a person (neutral posture and sensor mount, sway, how fast and how often their
spasms come, whether they carry co-contraction oscillation) and then a random mixture of:

- ``wrist_spasm_family`` (wrist, never calibrated): involuntary spasms -- a fast pull
  (0.12-0.5 s) 20-50 deg away from the recent posture, held 4-30 s with little slow sway
  and often a jerky 3-7 Hz co-contraction oscillation, then a release -- among voluntary
  gestures (out and back), voluntary holds (a smooth 0.6-1.8 s move 25-60 deg away, held
  3-15 s with ordinary postural sway, and back) and voluntary posture changes that stay.
- ``neck_torticollis_family`` (neck): torticollis (rotation about gravity, 20-50 deg, fast or
  slow onset, 8-60 s) often with a tilt or flexion component, in runs separated by short
  returns (4-20 s), with head tremor on some holds, partial returns that settle later, and
  brief voluntary head turns (out and back in under 2 s) in between.

Voluntary moves are labelled ``gesture`` (the hold inside a voluntary hold also ``posture``);
spasms and torticollis are ``contraction`` rows (see :func:`postures.contraction`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from firmware_bridge.simulation.activities import Scene, Segment, TruthRow
from firmware_bridge.simulation.postures import DIRECTIONS, Sway, contraction, head_move
from firmware_bridge.simulation.signals import Step

SPASM_RAMP_S = (0.12, 0.5)  # an involuntary pull is fast
SPASM_ANGLE_DEG = (20.0, 50.0)
SPASM_HOLD_S = (4.0, 30.0)
SPASM_RETURN_S = (0.4, 2.0)
VOLUNTARY_MOVE_S = (0.6, 1.8)  # a voluntary reach to a posture is smooth and slower
VOLUNTARY_ANGLE_DEG = (25.0, 60.0)
VOLUNTARY_HOLD_S = (3.0, 15.0)
TORTI_ANGLE_DEG = (20.0, 50.0)
TORTI_HOLD_S = (8.0, 60.0)
TORTI_GAP_S = (4.0, 20.0)


def _wrist_person(scene: Scene) -> dict[str, float]:
    """A resting wrist with a randomised forearm tilt and strap rotation (the mount)."""
    rng = scene.rng
    pose = {
        "heading": 0.0,
        "swing": 0.0,
        "yaw": rng.uniform(-30, 30),
        "pitch": rng.uniform(-10, 25),  # armrest, lap or table
        "roll": rng.uniform(-30, 30),  # how the watch sits around the wrist
        "flex": rng.uniform(-10, 10),
        "dev": rng.uniform(-10, 10),
    }
    scene.set_pose(pose, np.array([0.35, -0.15, -0.3]) + rng.normal(0, 0.03, 3))
    return {
        "p_co": rng.uniform(0.4, 0.9),  # share of spasms with co-contraction oscillation
        "co_lo": rng.uniform(0.004, 0.01),
        "co_hi": rng.uniform(0.015, 0.04),
    }


def _spasm(scene: Scene, seg: Segment, t: float, person: dict[str, float], placement: str) -> float:
    rng = scene.rng
    direction = str(rng.choice(list(DIRECTIONS[placement])))
    co = 0.0
    if rng.random() < person["p_co"]:
        co = float(math.exp(rng.uniform(math.log(person["co_lo"]), math.log(person["co_hi"]))))
    lo, hi = SPASM_HOLD_S
    return contraction(
        scene,
        seg,
        t,
        direction,
        float(rng.uniform(*SPASM_ANGLE_DEG)),
        float(rng.uniform(*SPASM_RAMP_S)),
        float(math.exp(rng.uniform(math.log(lo), math.log(hi)))),
        float(rng.uniform(*SPASM_RETURN_S)),
        co,
    )


def _voluntary_hold(scene: Scene, seg: Segment, t0: float) -> float:
    """A smooth move to a posture far away, held with ordinary postural sway, and back."""
    rng = scene.rng
    home = {k: math.degrees(v) for k, v in scene.pose.items()}
    joints = [
        str(j) for j in rng.choice(["pitch", "roll", "flex"], size=int(rng.integers(1, 3)), replace=False)
    ]
    total = rng.uniform(*VOLUNTARY_ANGLE_DEG)
    share = rng.dirichlet(np.ones(len(joints)))
    target = {
        j: home[j] + float(rng.choice([-1, 1])) * total * float(s) for j, s in zip(joints, share, strict=True)
    }
    t = scene.move(seg, t0, target, dur_s=rng.uniform(*VOLUNTARY_MOVE_S))
    hold_end = t + rng.uniform(*VOLUNTARY_HOLD_S)
    scene.posture(seg, t, hold_end)
    end = scene.move(seg, hold_end, home, dur_s=rng.uniform(*VOLUNTARY_MOVE_S))
    seg.rows.append(TruthRow(t0, end - t0, "gesture", angle_deg=total))
    return end


def _posture_change(scene: Scene, seg: Segment, t0: float) -> float:
    """A voluntary move to a new resting posture that stays (hand from the table to the lap)."""
    rng = scene.rng
    home = {k: math.degrees(v) for k, v in scene.pose.items()}
    target = {
        "pitch": float(np.clip(home["pitch"] + rng.uniform(-30, 30), -15, 35)),
        "roll": float(np.clip(home["roll"] + rng.uniform(-40, 40), -60, 60)),
    }
    end = scene.move(seg, t0, target, dur_s=rng.uniform(1.0, 2.5))
    seg.rows.append(TruthRow(t0, end - t0, "gesture"))
    return end


def wrist_spasm_family(scene: Scene, duration_s: float) -> Iterator[Segment]:
    rng = scene.rng
    person = _wrist_person(scene)
    t = 0.0
    first = True
    while t < duration_s:
        quiet = rng.uniform(20.0, 40.0) if first else rng.uniform(8.0, 30.0)
        first = False
        onset = t + quiet
        if onset + 40.0 > duration_s:
            seg = Segment(t, duration_s)
            scene.rest(seg, t, duration_s)
            yield seg
            return
        seg = Segment(t, onset + 60.0)
        kind = str(rng.choice(["spasm", "gesture", "hold", "change"], p=[0.45, 0.2, 0.25, 0.1]))
        if kind == "spasm":
            end = _spasm(scene, seg, onset, person, "wrist")
        elif kind == "gesture":
            home = {k: math.degrees(v) for k, v in scene.pose.items()}
            end = scene.gesture(seg, onset, onset + 10.0, home, scene.position_m.copy())
        elif kind == "hold":
            end = _voluntary_hold(scene, seg, onset)
        else:
            end = _posture_change(scene, seg, onset)
        seg.end_s = end
        scene.rest(seg, t, end)  # drift and physiological tremor go on underneath
        seg.rows[-1].duration_s = quiet
        yield seg
        t = end


def _torticollis(scene: Scene, seg: Segment, t: float, person: dict[str, float]) -> float:
    """One torticollis episode, often with a tilt or flexion part; returns its end."""
    rng = scene.rng
    direction = str(rng.choice(["torticollis_left", "torticollis_right"]))
    angle = float(rng.uniform(*TORTI_ANGLE_DEG))
    ramp = float(rng.uniform(0.3, 1.0) if rng.random() < 0.5 else rng.uniform(2.0, 5.0))
    lo, hi = TORTI_HOLD_S
    hold = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    ret = float(rng.uniform(0.5, 3.0))
    co = float(rng.uniform(0.005, 0.03)) if rng.random() < person["p_tremor"] else 0.0
    if rng.random() < person["p_tilt"]:  # a tilt or flexion part: what an accelerometer sees
        joint = str(rng.choice(["contraction_x", "contraction_y"]))
        part = math.radians(float(rng.uniform(5.0, 20.0))) * float(rng.choice([-1.0, 1.0]))
        seg.add(joint, Step(t, ramp, part))
        seg.add(joint, Step(t + ramp + hold, ret, -part))
    end = contraction(scene, seg, t, direction, angle, ramp, hold, ret, co)
    if rng.random() < 0.3:  # a partial return: the last few degrees settle over 5-15 s
        sign = 1.0 if direction == "torticollis_left" else -1.0
        rest = math.radians(angle * float(rng.uniform(0.05, 0.15))) * sign
        seg.add("contraction_z", Step(end - ret, ret, rest))
        seg.add("contraction_z", Step(end, float(rng.uniform(5.0, 15.0)), -rest))
    return end


def neck_torticollis_family(scene: Scene, duration_s: float) -> Iterator[Segment]:
    rng = scene.rng
    pose = {
        "heading": 0.0,
        "trunk_pitch": rng.uniform(-3.0, 8.0),
        "trunk_roll": rng.uniform(-3.0, 3.0),
        "rot": 0.0,
        "flex": rng.uniform(-12.0, 12.0),  # the mount on the head or collar
        "tilt": rng.uniform(-6.0, 6.0),
    }
    scene.set_pose(pose, np.zeros(3))
    sway = Sway(scene)
    person = {"p_tilt": rng.uniform(0.3, 0.9), "p_tremor": rng.uniform(0.0, 0.6)}
    t = 0.0
    while t < duration_s:
        quiet = rng.uniform(20.0, 40.0)
        seg = Segment(t, t + quiet)
        _quiet_turns(scene, seg, sway, t, t + quiet)
        yield seg
        t += quiet
        for _ in range(int(rng.integers(1, 5))):  # a run of episodes with short returns
            seg = Segment(t, t + 200.0)
            end = _torticollis(scene, seg, t, person)
            gap = rng.uniform(*TORTI_GAP_S)
            if end + gap > duration_s - 1.0:
                seg.end_s = duration_s
                sway.extend(seg, duration_s)
                scene.physiological(seg, t, duration_s, rng.uniform(0.001, 0.002))
                seg.rows = [r for r in seg.rows if r.onset_s < duration_s]
                for r in seg.rows:  # what is still going on at the end is cut there
                    r.duration_s = min(r.duration_s, duration_s - r.onset_s)
                yield seg
                return
            seg.end_s = end
            sway.extend(seg, end)
            scene.physiological(seg, t, end, rng.uniform(0.001, 0.002))
            yield seg
            t = end
            seg = Segment(t, t + gap)
            _quiet_turns(scene, seg, sway, t, t + gap)
            yield seg
            t += gap


def _quiet_turns(scene: Scene, seg: Segment, sway: Sway, t0: float, t1: float) -> None:
    """Upright quiet with brief voluntary head turns (out and back in under 2 s)."""
    rng = scene.rng
    sway.extend(seg, t1)
    scene.physiological(seg, t0, t1, rng.uniform(0.001, 0.002))
    t = t0 + rng.uniform(1.0, 6.0)
    while t + 2.5 < t1 - 0.5:
        t = head_move(scene, seg, t, "head_turn") + rng.uniform(1.0, 8.0)
    seg.rows.append(TruthRow(t0, t1 - t0, "sway"))
