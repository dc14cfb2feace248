"""Scenario scripts: named timelines of activities and tremor episodes with ground truth.

Each scenario is a generator of :class:`Segment` s in time order, produced
lazily, so a 24 h ``daily_mix`` never exists in memory at once. Negative
scenarios (physiological, walking, gestures, typing, vehicle, toothbrushing)
contain no tremor episode at all.

The posture scenarios (phase 2: ``neck_*``, ``wrist_spasms``) put dystonic
postures and spasms (:mod:`postures`) among natural sway, voluntary head
movements and walking; ``neck_sway``, ``neck_turns`` and ``neck_walking``
contain no contraction episode at all.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

from firmware_bridge.simulation.activities import Scene, Segment, TruthRow
from firmware_bridge.simulation.contraction_family import neck_torticollis_family, wrist_spasm_family
from firmware_bridge.simulation.poses import (  # noqa: F401 - poses re-exported
    DYSTONIC_POSTURE,
    DYSTONIC_REST,
    ET_POSTURAL,
    PD_REST,
    POSTURAL_AXIS,
    REST_AXIS,
    SITTING_LEG,
    STANDING_LEG,
    TremorSpec,
    _episodes_in,
    _single,
    brushing_pose,
    hanging_pose,
    posture_pose,
    rest_pose,
    typing_pose,
)
from firmware_bridge.simulation.posture_scenarios import (
    _neck_mix,
    _neck_postures,
    _neck_sway,
    _neck_turns,
    _neck_walking,
    _wrist_spasms,
    neck_neutral,  # noqa: F401 - re-exported
    wrist_neutral,  # noqa: F401 - re-exported
)

#: name -> one-line description (the CLI lists these).
SCENARIOS: dict[str, str] = {
    "rest_tremor": "Parkinsonian rest tremor, 4-6 Hz, 10-300 mg, 10-60 s episodes between quiet rest",
    "postural_tremor": "essential postural tremor, 6-10 Hz, while the arm is held out",
    "dystonic_tremor": "dystonic tremor: irregular, jerky, bursting, wandering 3-7 Hz",
    "subtle_tremor": "subtle rest and postural tremor episodes of 10-20 mg",
    "strong_tremor": "strong rest and postural tremor episodes of 200-600 mg",
    "physiological": "no episodes: physiological tremor (8-12 Hz, 1-4 mg) at rest and in posture",
    "walking": "no episodes: walking bouts (1.6-2.1 steps/s) with arm swing, between standing",
    "gestures": "no episodes: voluntary gestures and reaches (20-90 deg, 10-50 cm, 1-10 s)",
    "typing": "no episodes: typing bouts (5-8 keystrokes/s) between rests",
    "vehicle": "no episodes: riding in a vehicle (road vibration 1-30 Hz, engine line, bumps)",
    "toothbrushing": "no episodes: brushing teeth (3-5 Hz hand translation, 0.3-1 g)",
    "orthostatic": "orthostatic tremor, 13-18 Hz on a thigh sensor while standing (placement leg)",
    "gaps": "rest tremor episodes with long data gaps (1-5 s), some inside an episode",
    "daily_mix": "a day's mixture of all of the above, for demos and benchmarks (any length)",
    "neck_postures": "neck: dystonic postures of every direction, 15-45 deg, 4-60 s, spasm or drift, "
    "with or without co-contraction tremor, between upright quiet",
    "neck_sway": "no episodes (neck): natural sway of a few degrees at 0.1-0.5 Hz",
    "neck_turns": "no episodes (neck): voluntary head turns, nods and tilts (20-70 deg, out and back "
    "in 0.8-2 s)",
    "neck_walking": "no episodes (neck): walking (head bob, gait-locked pitch and yaw, glances under 2 s)",
    "wrist_spasms": "wrist spasms of every direction, 15-45 deg, 4-30 s, fast or slow, between rests",
    "neck_mix": "neck postures among sway, turns, nods and walking, for demos and precision tests "
    "(any length)",
    "wrist_spasm_family": "randomised people: uncalibrated wrist spasms (fast pull, still hold, often "
    "co-contraction) among voluntary gestures, holds and posture changes",
    "neck_torticollis_family": "randomised people: runs of torticollis (some with tilt, head tremor, "
    "partial returns) with short returns and brief head turns",
}

#: Default duration per scenario (s).
DEFAULT_DURATION_S: dict[str, float] = {
    "rest_tremor": 300.0,
    "postural_tremor": 300.0,
    "dystonic_tremor": 300.0,
    "subtle_tremor": 300.0,
    "strong_tremor": 300.0,
    "physiological": 180.0,
    "walking": 180.0,
    "gestures": 120.0,
    "typing": 180.0,
    "vehicle": 180.0,
    "toothbrushing": 180.0,
    "orthostatic": 300.0,
    "gaps": 240.0,
    "daily_mix": 1800.0,
    "neck_postures": 600.0,
    "neck_sway": 180.0,
    "neck_turns": 180.0,
    "neck_walking": 180.0,
    "wrist_spasms": 420.0,
    "neck_mix": 1200.0,
    "wrist_spasm_family": 900.0,
    "neck_torticollis_family": 900.0,
}

#: Placement per scenario (default wrist).
PLACEMENT: dict[str, str] = {
    "orthostatic": "leg",
    "neck_postures": "neck",
    "neck_sway": "neck",
    "neck_turns": "neck",
    "neck_walking": "neck",
    "neck_mix": "neck",
    "neck_torticollis_family": "neck",
}

#: Scenarios whose ground truth has the contraction columns (and posture overrides apply).
CONTRACTION_SCENARIOS: frozenset[str] = frozenset(
    (
        "neck_postures",
        "neck_sway",
        "neck_turns",
        "neck_walking",
        "wrist_spasms",
        "neck_mix",
        "wrist_spasm_family",
        "neck_torticollis_family",
    )  # fmt: skip
)

#: Sensor-model defaults per scenario: the posture scenarios have a fixed 0.2-0.5 deg/s gyro
#: bias per axis, so a detector must estimate it (integrated, it is a heading drift).
SENSOR_DEFAULTS: dict[str, dict[str, object]] = {
    name: {"gyro_bias_range_dps": (0.2, 0.5)} for name in sorted(CONTRACTION_SCENARIOS)
}


# ---------------------------------------------------------------------- scenarios

Script = Callable[[Scene, float], Iterator[Segment]]


def _rest_tremor(scene: Scene, duration_s: float, gaps: bool = False) -> Iterator[Segment]:
    pose, pos = rest_pose(scene.rng)
    scene.set_pose(pose, pos)
    seg = Segment(0.0, duration_s)
    scene.rest(seg, 0.0, duration_s)
    _episodes_in(scene, seg, 0.0, duration_s, PD_REST, first_quiet_s=(5.0, 15.0))
    if gaps:
        _add_gaps(scene, seg, duration_s)
    yield seg


def _add_gaps(scene: Scene, seg: Segment, duration_s: float) -> None:
    """3-6 long gaps (1-5 s); at least half of them inside tremor episodes."""

    rng = scene.rng
    episodes = [r for r in seg.rows if r.trial_type == "tremor" and r.duration_s > 8.0]
    n = int(rng.integers(3, 7))
    starts: list[float] = []
    for i in range(n):
        length = rng.uniform(1.0, 5.0)
        if episodes and i % 2 == 0:
            ep = episodes[int(rng.integers(len(episodes)))]
            lo, hi = ep.onset_s + 2.0, ep.onset_s + ep.duration_s - 2.0 - length
        else:
            lo, hi = 5.0, duration_s - 5.0 - length
        if hi <= lo:
            continue
        s = rng.uniform(lo, hi)
        if any(abs(s - o) < 8.0 for o in starts):
            continue
        starts.append(s)
        seg.gaps.append((s, s + length))
        seg.rows.append(TruthRow(s, length, "gap"))


def _alternating_holds(
    scene: Scene,
    duration_s: float,
    posture_spec: TremorSpec | None,
    rest_spec: TremorSpec | None,
    rest_s=(8.0, 20.0),
    hold_s=(20.0, 60.0),
    rest_tremor_p: float = 1.0,
    posture_tremor_p: float = 1.0,
) -> Iterator[Segment]:
    """Rest on the lap, then hold the arm out, and so on; tremor as specified."""
    rng = scene.rng
    pose, pos = rest_pose(rng)
    scene.set_pose(pose, pos)
    t = 0.0
    while t < duration_s:
        te = t + rng.uniform(*rest_s)
        seg = Segment(t, te)
        if t > 0:
            pose, pos = rest_pose(rng)
            scene.move(seg, t, pose, pos)
        scene.rest(seg, t, te)
        if rest_spec is not None and te - t > 16.0 and rng.random() < rest_tremor_p:
            _single(scene, seg, t + 2.5, te, rest_spec)
        yield seg
        t = te
        if t >= duration_s:
            return
        te = t + rng.uniform(*hold_s)
        seg = Segment(t, te)
        pose, pos = posture_pose(rng)
        held = scene.move(seg, t, pose, pos)
        scene.posture(seg, t, te)
        if posture_spec is not None and rng.random() < posture_tremor_p:
            _single(scene, seg, held, te, posture_spec)
        yield seg
        t = te


def _postural(scene, d):
    return _alternating_holds(scene, d, ET_POSTURAL, None)


def _dystonic(scene, d):
    return _alternating_holds(
        scene, d, DYSTONIC_POSTURE, DYSTONIC_REST, rest_s=(10.0, 30.0), rest_tremor_p=0.5
    )


def _amplitude_variant(lo: float, hi: float) -> Script:
    def script(scene: Scene, d: float) -> Iterator[Segment]:
        rest = TremorSpec("regular", 4.0, 6.0, lo, hi, REST_AXIS, "rest")
        post = TremorSpec("regular", 6.0, 10.0, lo, hi, POSTURAL_AXIS, "posture")
        return _alternating_holds(
            scene, d, post, rest, rest_s=(20.0, 40.0), rest_tremor_p=0.6, posture_tremor_p=0.7
        )

    return script


def _physiological(scene, d):
    return _alternating_holds(scene, d, None, None, rest_s=(15.0, 40.0), hold_s=(15.0, 40.0))


def _walking(scene: Scene, duration_s: float) -> Iterator[Segment]:
    rng = scene.rng
    pose, pos = hanging_pose(rng)
    scene.set_pose(pose, pos)
    t = 0.0
    while t < duration_s:
        te = t + rng.uniform(5.0, 15.0)
        seg = Segment(t, te)
        scene.rest(seg, t, te)
        yield seg
        t = te
        te = t + rng.uniform(20.0, 60.0)
        seg = Segment(t, te)
        scene.walking(seg, t, te)
        yield seg
        t = te


def _gestures(scene: Scene, duration_s: float) -> Iterator[Segment]:
    rng = scene.rng
    pose, pos = rest_pose(rng)
    scene.set_pose(pose, pos)
    t = 0.0
    while t < duration_s:
        te = t + rng.uniform(2.0, 8.0)
        seg = Segment(t, te)
        scene.rest(seg, t, te)
        yield seg
        t = te
        seg = Segment(t, t + 10.0)
        home, home_pos = (
            rest_pose(rng)
            if rng.random() < 0.3
            else ({k: math.degrees(v) for k, v in scene.pose.items()}, scene.position_m.copy())
        )
        t = scene.gesture(seg, t, t + 10.0, home, home_pos)
        seg.end_s = t
        yield seg


def _rests_and_bouts(
    scene: Scene,
    duration_s: float,
    rest_s: tuple[float, float],
    bout_s: tuple[float, float],
    pose: Callable[[np.random.Generator], tuple[dict[str, float], np.ndarray]],
    activity: Callable[[Segment, float, float], None],
    move_s: tuple[float, float] | None = None,
    truth_from_move: bool = False,
) -> Iterator[Segment]:
    """Supported rest, then a bout of ``activity`` in ``pose``, again and again.

    Durations are drawn uniformly from ``rest_s`` and ``bout_s`` (low, high); each rest after
    the first starts by moving back to a rest pose, each bout by moving into ``pose`` (over
    a duration drawn from ``move_s``, else the scene's default). ``truth_from_move``: the
    bout's truth row also covers the move into position.
    """
    rng = scene.rng
    pose0, pos0 = rest_pose(rng)
    scene.set_pose(pose0, pos0)
    t = 0.0
    while t < duration_s:
        te = t + rng.uniform(*rest_s)
        seg = Segment(t, te)
        if t > 0:
            p, q = rest_pose(rng)
            scene.move(seg, t, p, q)
        scene.rest(seg, t, te)
        yield seg
        t = te
        te = t + rng.uniform(*bout_s)
        seg = Segment(t, te)
        p, q = pose(rng)
        start = scene.move(seg, t, p, q, None if move_s is None else rng.uniform(*move_s))
        activity(seg, start, te)
        if truth_from_move:
            seg.rows[-1].onset_s, seg.rows[-1].duration_s = t, te - t
        yield seg
        t = te


def _typing(scene: Scene, duration_s: float) -> Iterator[Segment]:
    yield from _rests_and_bouts(scene, duration_s, (5.0, 15.0), (15.0, 60.0), typing_pose, scene.typing)


def _vehicle(scene: Scene, duration_s: float) -> Iterator[Segment]:
    pose, pos = rest_pose(scene.rng)
    scene.set_pose(pose, pos)
    seg = Segment(0.0, duration_s)
    scene.vehicle(seg, 0.0, duration_s)
    yield seg


def _toothbrushing(scene: Scene, duration_s: float) -> Iterator[Segment]:
    yield from _rests_and_bouts(
        scene, duration_s, (10.0, 25.0), (60.0, 120.0), brushing_pose, scene.toothbrushing,
        move_s=(1.2, 2.0), truth_from_move=True,
    )  # fmt: skip


def _orthostatic(scene: Scene, duration_s: float) -> Iterator[Segment]:
    rng = scene.rng
    scene.set_pose(SITTING_LEG, np.array([0.0, 0.0, 0.0]))
    spec = TremorSpec("orthostatic", 13.0, 18.0, 0.015, 0.1, (0.0, 1.0, 0.0), "posture")
    t = 0.0
    while t < duration_s:
        te = t + rng.uniform(10.0, 30.0)
        seg = Segment(t, te)
        if t > 0:
            scene.move(seg, t, SITTING_LEG, np.array([0.0, 0.0, 0.0]), rng.uniform(1.5, 2.5))
        scene.rest(seg, t, te)
        yield seg
        t = te
        te = t + rng.uniform(25.0, 60.0)
        seg = Segment(t, te)
        up = scene.move(seg, t, STANDING_LEG, np.array([0.15, 0.0, 0.45]), rng.uniform(1.5, 2.5))
        scene.posture(seg, t, te)
        on = up + rng.uniform(2.0, 8.0)
        off = te - rng.uniform(0.3, 1.0)
        if off - on > 5.0:
            f, a, ax = spec.draw(scene)
            seg.rows.append(
                scene.tremor(seg, on, off - on, "orthostatic", f, a, "posture", ax, lo_hz=13.0, hi_hz=18.0)
            )
        yield seg
        t = te


# ---------------------------------------------------------------------- daily mix

DAILY_FIRST_ROUND = (
    "rest_pd",
    "walking",
    "posture_et",
    "gestures",
    "rest_dystonic",
    "typing",
    "toothbrushing",
    "vehicle",
)
DAILY_WEIGHTS = {
    "rest_pd": 3.0,
    "rest": 3.0,
    "posture_et": 1.5,
    "posture": 1.0,
    "gestures": 2.0,
    "walking": 2.0,
    "rest_dystonic": 0.7,
    "typing": 1.5,
    "vehicle": 0.5,
    "toothbrushing": 0.2,
}


def _daily_mix(scene: Scene, duration_s: float) -> Iterator[Segment]:
    """A first round that shows every activity and three tremor bands, then a random day."""

    rng = scene.rng
    pose, pos = rest_pose(rng)
    scene.set_pose(pose, pos)
    names = list(DAILY_WEIGHTS)
    p = np.array([DAILY_WEIGHTS[n] for n in names])
    p = p / p.sum()
    t = 0.0
    i = 0
    while t < duration_s:
        first = i < len(DAILY_FIRST_ROUND)
        kind = DAILY_FIRST_ROUND[i] if first else str(rng.choice(names, p=p))
        i += 1
        long_ = 1.0 if first else rng.uniform(1.0, 6.0)  # later activities last longer
        if kind in ("rest_pd", "rest", "rest_dystonic"):
            te = t + (rng.uniform(35.0, 50.0) if first else rng.uniform(30.0, 300.0) * long_)
            seg = Segment(t, te)
            if t > 0:
                pp, q = rest_pose(rng)
                t_in = scene.move(seg, t, pp, q)
            else:
                t_in = t
            scene.rest(seg, t, te)
            if kind == "rest_pd":
                spec = TremorSpec("regular", 5.0, 6.0, 0.06, 0.2, REST_AXIS, "rest") if first else PD_REST
                if first:
                    _single(scene, seg, t_in + 3.0, te, spec)
                else:
                    _episodes_in(scene, seg, t_in, te, spec, quiet_s=(10.0, 120.0))
            elif kind == "rest_dystonic":
                spec = TremorSpec("dystonic", 3.5, 4.5, 0.05, 0.15, (0.8, 0.5, 0.3), "rest")
                _single(scene, seg, t_in + 3.0, te, spec) if first else _episodes_in(
                    scene, seg, t_in, te, DYSTONIC_REST, quiet_s=(10.0, 120.0)
                )
        elif kind in ("posture_et", "posture"):
            te = t + (rng.uniform(30.0, 40.0) if first else rng.uniform(15.0, 90.0))
            seg = Segment(t, te)
            pp, q = posture_pose(rng)
            held = scene.move(seg, t, pp, q)
            scene.posture(seg, t, te)
            if kind == "posture_et":
                spec = (
                    TremorSpec("regular", 8.5, 10.0, 0.05, 0.15, POSTURAL_AXIS, "posture")
                    if first
                    else ET_POSTURAL
                )
                _single(scene, seg, held, te, spec)
        elif kind == "gestures":
            te = t + (rng.uniform(15.0, 25.0) if first else rng.uniform(20.0, 120.0))
            seg = Segment(t, te)
            home, home_pos = rest_pose(rng)
            tt = scene.move(seg, t, home, home_pos)
            kinetic = (not first) and rng.random() < 0.3
            seg.rows.append(TruthRow(t, tt - t, "gesture"))  # reaching the first home
            while tt < te - 3.0:
                g0 = tt + rng.uniform(0.5, 4.0)
                if g0 > te - 3.0:
                    break
                seg.rows.append(TruthRow(tt, g0 - tt, "rest"))
                g1 = scene.gesture(seg, g0, te, home, home_pos)
                if kinetic and g1 - g0 > 3.0:
                    f, a, ax = ET_POSTURAL.draw(scene)
                    seg.rows.append(
                        scene.tremor(seg, g0 + 0.5, g1 - g0 - 1.0, "regular", f, a, "movement", ax)
                    )
                tt = g1
            if te > tt:
                seg.rows.append(TruthRow(tt, te - tt, "rest"))
            scene.physiological(seg, t, te, rng.uniform(0.001, 0.003))
        elif kind == "walking":
            te = t + (rng.uniform(30.0, 45.0) if first else rng.uniform(30.0, 120.0) * long_)
            seg = Segment(t, te)
            pp, q = hanging_pose(rng)
            start = scene.move(seg, t, pp, q)
            scene.walking(seg, start, te)
            seg.rows[-1].onset_s, seg.rows[-1].duration_s = t, te - t
        elif kind == "typing":
            te = t + (rng.uniform(20.0, 30.0) if first else rng.uniform(30.0, 300.0) * long_)
            seg = Segment(t, te)
            pp, q = typing_pose(rng)
            start = scene.move(seg, t, pp, q)
            scene.typing(seg, start, te)
            seg.rows[-1].onset_s, seg.rows[-1].duration_s = t, te - t
        elif kind == "toothbrushing":
            te = t + rng.uniform(40.0, 60.0) if first else t + rng.uniform(60.0, 150.0)
            seg = Segment(t, te)
            pp, q = brushing_pose(rng)
            start = scene.move(seg, t, pp, q, rng.uniform(1.2, 2.0))
            scene.toothbrushing(seg, start, te)
            seg.rows[-1].onset_s, seg.rows[-1].duration_s = t, te - t
        else:  # vehicle
            te = t + (rng.uniform(60.0, 120.0) if first else rng.uniform(300.0, 1800.0))
            seg = Segment(t, te)
            pp, q = rest_pose(rng)
            start = scene.move(seg, t, pp, q)
            scene.vehicle(seg, start, te)
            seg.rows[-1].onset_s, seg.rows[-1].duration_s = t, te - t
        if not first and rng.random() < 0.15 and te - t > 12.0:
            g0 = rng.uniform(t + 3.0, te - 8.0)
            length = rng.uniform(1.0, 5.0)
            seg.gaps.append((g0, g0 + length))
            seg.rows.append(TruthRow(g0, length, "gap"))
        yield seg
        t = te


SCRIPTS: dict[str, Script] = {
    "rest_tremor": _rest_tremor,
    "postural_tremor": _postural,
    "dystonic_tremor": _dystonic,
    "subtle_tremor": _amplitude_variant(0.01, 0.02),
    "strong_tremor": _amplitude_variant(0.2, 0.6),
    "physiological": _physiological,
    "walking": _walking,
    "gestures": _gestures,
    "typing": _typing,
    "vehicle": _vehicle,
    "toothbrushing": _toothbrushing,
    "orthostatic": _orthostatic,
    "gaps": lambda scene, d: _rest_tremor(scene, d, gaps=True),
    "daily_mix": _daily_mix,
    "neck_postures": _neck_postures,
    "neck_sway": _neck_sway,
    "neck_turns": _neck_turns,
    "neck_walking": _neck_walking,
    "wrist_spasms": _wrist_spasms,
    "neck_mix": _neck_mix,
    "wrist_spasm_family": wrist_spasm_family,
    "neck_torticollis_family": neck_torticollis_family,
}
