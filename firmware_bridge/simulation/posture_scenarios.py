"""Posture scenario scripts (phase 2): dystonic neck postures and wrist spasms among natural
sway, voluntary head movements and walking, with ground truth (:mod:`postures` draws them).

``neck_sway``, ``neck_turns`` and ``neck_walking`` contain no contraction episode at all. The
tremor and daily-life scripts are in :mod:`scenarios`, which registers these beside them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from firmware_bridge.simulation.activities import Scene, Segment, TruthRow
from firmware_bridge.simulation.postures import (
    PostureDraw,
    Sway,
    contraction,
    episode_length_s,
    head_move,
    head_walking,
)


def neck_neutral(rng: np.random.Generator) -> dict[str, float]:
    """Sitting or standing upright, head level: within a few degrees of acc = (0, 0, 1) g."""
    return {
        "heading": 0.0,
        "trunk_pitch": rng.uniform(-3.0, 5.0),
        "trunk_roll": rng.uniform(-3.0, 3.0),
        "rot": 0.0,
        "flex": rng.uniform(-4.0, 4.0),
        "tilt": rng.uniform(-3.0, 3.0),
    }


def wrist_neutral(rng: np.random.Generator) -> tuple[dict[str, float], np.ndarray]:
    """Forearm supported horizontally (an armrest or table), palm down: about acc = (0, 0, 1) g."""
    pose = {
        "heading": 0.0,
        "swing": 0.0,
        "yaw": rng.uniform(-20, 20),
        "pitch": rng.uniform(-5, 5),
        "roll": rng.uniform(-8, 8),
        "flex": rng.uniform(-5, 5),
        "dev": rng.uniform(-5, 5),
    }
    return pose, np.array([0.35, -0.15, -0.3]) + rng.normal(0, 0.02, 3)


def _neck_start(scene: Scene) -> Sway:
    scene.set_pose(neck_neutral(scene.rng), np.zeros(3))
    return Sway(scene)


def _quiet(scene: Scene, sway: Sway, seg: Segment, t0: float, t1: float) -> None:
    """Upright quiet with natural sway and physiological tremor; a ``sway`` row."""
    sway.extend(seg, t1)
    scene.physiological(seg, t0, t1, scene.rng.uniform(0.001, 0.002))
    seg.rows.append(TruthRow(t0, t1 - t0, "sway"))


def _neck_quiet_segment(scene: Scene, sway: Sway, t0: float, t1: float) -> Segment:
    seg = Segment(t0, t1)
    _quiet(scene, sway, seg, t0, t1)
    return seg


def _posture_segment(
    scene: Scene, sway: Sway, draw: PostureDraw, t0: float, quiet_s: float, limit_s: float
) -> Segment | None:
    """Quiet for ``quiet_s``, then one contraction episode; None if it would not end by ``limit_s``."""
    params = draw.next()
    onset = t0 + quiet_s
    end = onset + episode_length_s(params)
    if end > limit_s:
        return None
    seg = Segment(t0, end)
    sway.extend(seg, end)
    scene.physiological(seg, t0, end, scene.rng.uniform(0.001, 0.002))
    seg.rows.append(TruthRow(t0, quiet_s, "sway"))
    contraction(scene, seg, onset, **params)
    return seg


def _neck_postures(scene: Scene, duration_s: float) -> Iterator[Segment]:
    rng = scene.rng
    sway = _neck_start(scene)
    draw = PostureDraw(scene, (4.0, 60.0))
    t = 0.0
    while t < duration_s:
        seg = _posture_segment(scene, sway, draw, t, rng.uniform(15.0, 40.0), duration_s - 1.0)
        if seg is None:
            yield _neck_quiet_segment(scene, sway, t, duration_s)
            return
        yield seg
        t = seg.end_s


def _neck_sway(scene: Scene, duration_s: float) -> Iterator[Segment]:
    sway = _neck_start(scene)
    t = 0.0
    while t < duration_s:
        te = min(duration_s, t + scene.rng.uniform(30.0, 90.0))
        yield _neck_quiet_segment(scene, sway, t, te)
        t = te


HEAD_MOVES = ("head_turn", "nod", "head_tilt")
HEAD_MOVE_P = (0.5, 0.35, 0.15)


def _head_moves(scene: Scene, sway: Sway, t0: float, t1: float, gap_s=(2.0, 8.0)) -> Segment:
    """Quiet upright from ``t0`` to ``t1`` with voluntary head moves inside (a ``sway`` row around them)."""
    rng = scene.rng
    seg = Segment(t0, t1)
    t = t0 + rng.uniform(*gap_s)
    while t + 2.0 < t1 - 1.0:
        kind = str(rng.choice(HEAD_MOVES, p=HEAD_MOVE_P))
        t = head_move(scene, seg, t, kind)
        if kind == "head_turn" and rng.random() < 0.3 and t + 2.5 < t1 - 1.0:  # and the other way
            t = head_move(scene, seg, t + rng.uniform(0.2, 0.6), kind)
        t += rng.uniform(*gap_s)
    _quiet(scene, sway, seg, t0, t1)
    return seg


def _neck_turns(scene: Scene, duration_s: float) -> Iterator[Segment]:
    sway = _neck_start(scene)
    t = 0.0
    while t < duration_s:
        te = min(duration_s, t + scene.rng.uniform(20.0, 60.0))
        yield _head_moves(scene, sway, t, te, gap_s=(3.0, 12.0))
        t = te


def _walking_bout(scene: Scene, sway: Sway, t0: float, t1: float) -> Segment:
    """Walking with glances (head turns under 2 s) and the gaze a little lowered."""
    rng = scene.rng
    seg = Segment(t0, t1)
    sway.extend(seg, t1)
    home = math.degrees(scene.pose["flex"])
    scene.move(seg, t0, {"flex": home + rng.uniform(0.0, 5.0)}, dur_s=1.0)
    head_walking(scene, seg, t0, t1)
    t = t0 + rng.uniform(3.0, 12.0)
    while t + 2.0 < t1 - 3.0:
        t = head_move(scene, seg, t, "head_turn", rng.uniform(20.0, 60.0)) + rng.uniform(4.0, 15.0)
    scene.move(seg, t1 - 1.0, {"flex": home}, dur_s=1.0)
    return seg


def _neck_walking(scene: Scene, duration_s: float) -> Iterator[Segment]:
    rng = scene.rng
    sway = _neck_start(scene)
    t = 0.0
    while t < duration_s:
        te = min(duration_s, t + rng.uniform(5.0, 15.0))
        yield _neck_quiet_segment(scene, sway, t, te)
        t = te
        if duration_s - t < 10.0:
            continue
        te = min(duration_s, t + rng.uniform(20.0, 60.0))
        yield _walking_bout(scene, sway, t, te)
        t = te


def _wrist_spasms(scene: Scene, duration_s: float) -> Iterator[Segment]:
    rng = scene.rng
    pose, pos = wrist_neutral(rng)
    scene.set_pose(pose, pos)
    draw = PostureDraw(scene, (4.0, 30.0))
    t = 0.0
    while t < duration_s:
        quiet = rng.uniform(15.0, 40.0)
        params = draw.next()
        onset = t + quiet
        end = onset + episode_length_s(params)
        if end > duration_s - 1.0:
            seg = Segment(t, duration_s)
            scene.rest(seg, t, duration_s)
            yield seg
            return
        seg = Segment(t, end)
        scene.rest(seg, t, end)  # drift and physiological tremor go on through the spasm
        seg.rows[-1].duration_s = quiet
        contraction(scene, seg, onset, **params)
        yield seg
        t = end


NECK_MIX_FIRST_ROUND = (
    "posture", "turns", "walking", "posture", "turns", "posture",
    "walking", "posture", "quiet", "posture", "turns", "posture",
)  # fmt: skip
NECK_MIX_WEIGHTS = {"posture": 1.0, "turns": 1.0, "walking": 0.7, "quiet": 0.8}


def _neck_mix(scene: Scene, duration_s: float) -> Iterator[Segment]:
    """A first round with every direction, turns and walking between them, then a random mixture."""
    rng = scene.rng
    sway = _neck_start(scene)
    draw = PostureDraw(scene, (4.0, 60.0))
    names = list(NECK_MIX_WEIGHTS)
    p = np.array([NECK_MIX_WEIGHTS[n] for n in names])
    p = p / p.sum()
    t = 0.0
    i = 0
    while t < duration_s:
        first = i < len(NECK_MIX_FIRST_ROUND)
        kind = NECK_MIX_FIRST_ROUND[i] if first else str(rng.choice(names, p=p))
        i += 1
        if kind == "posture":
            seg = _posture_segment(scene, sway, draw, t, rng.uniform(10.0, 30.0), duration_s - 1.0)
            if seg is None:
                yield _neck_quiet_segment(scene, sway, t, duration_s)
                return
        else:
            if kind == "turns":
                te = min(duration_s, t + rng.uniform(10.0, 40.0))
                seg = _head_moves(scene, sway, t, te)
            elif kind == "walking" and duration_s - t > 25.0:
                t_walk = t + rng.uniform(5.0, 15.0)
                yield _neck_quiet_segment(scene, sway, t, t_walk)
                t = t_walk
                te = min(duration_s, t + (rng.uniform(30.0, 45.0) if first else rng.uniform(20.0, 90.0)))
                seg = _walking_bout(scene, sway, t, te)
            else:
                te = min(duration_s, t + rng.uniform(20.0, 120.0))
                seg = _neck_quiet_segment(scene, sway, t, te)
        yield seg
        t = seg.end_s
