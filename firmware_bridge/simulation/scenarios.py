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
from dataclasses import dataclass

import numpy as np

from firmware_bridge.simulation.activities import Scene, Segment, TruthRow, _log_uniform
from firmware_bridge.simulation.postures import (
    PostureDraw,
    Sway,
    contraction,
    episode_length_s,
    head_move,
    head_walking,
)
from firmware_bridge.simulation.sensor import BANDWIDTH_FRACTION

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
}

#: Placement per scenario (default wrist).
PLACEMENT: dict[str, str] = {
    "orthostatic": "leg",
    "neck_postures": "neck",
    "neck_sway": "neck",
    "neck_turns": "neck",
    "neck_walking": "neck",
    "neck_mix": "neck",
}

#: Scenarios whose ground truth has the contraction columns (and posture overrides apply).
CONTRACTION_SCENARIOS: frozenset[str] = frozenset(
    ("neck_postures", "neck_sway", "neck_turns", "neck_walking", "wrist_spasms", "neck_mix")
)

#: Sensor-model defaults per scenario: the posture scenarios have a fixed 0.2-0.5 deg/s gyro
#: bias per axis, so a detector must estimate it (integrated, it is a heading drift).
SENSOR_DEFAULTS: dict[str, dict[str, object]] = {
    name: {"gyro_bias_range_dps": (0.2, 0.5)} for name in sorted(CONTRACTION_SCENARIOS)
}


# ---------------------------------------------------------------------- postures (deg, m)


def rest_pose(rng: np.random.Generator) -> tuple[dict[str, float], np.ndarray]:
    """Forearm supported on the lap or a table, hand prone to half-prone."""
    pose = {
        "heading": 0.0,
        "swing": 0.0,
        "yaw": rng.uniform(-30, 30),
        "pitch": rng.uniform(-5, 15),
        "roll": rng.uniform(-10, 70),
        "flex": rng.uniform(-10, 10),
        "dev": rng.uniform(-5, 5),
    }
    return pose, np.array([0.35, -0.1, -0.45]) + rng.normal(0, 0.03, 3)


def posture_pose(rng: np.random.Generator) -> tuple[dict[str, float], np.ndarray]:
    """Arm held out in front, palm down (the postural-tremor manoeuvre)."""
    pose = {
        "heading": 0.0,
        "swing": 0.0,
        "yaw": rng.uniform(-15, 15),
        "pitch": rng.uniform(-10, 5),
        "roll": rng.uniform(-15, 15),
        "flex": rng.uniform(-10, 10),
        "dev": rng.uniform(-5, 5),
    }
    return pose, np.array([0.55, -0.1, 0.0]) + rng.normal(0, 0.03, 3)


def hanging_pose(rng: np.random.Generator) -> tuple[dict[str, float], np.ndarray]:
    """Arm hanging at the side (standing, walking): fingers down, palm toward the thigh."""
    pose = {
        "heading": 0.0,
        "swing": 0.0,
        "yaw": rng.uniform(-10, 10),
        "pitch": rng.uniform(80, 90),
        "roll": rng.uniform(75, 95),
        "flex": rng.uniform(-5, 5),
        "dev": rng.uniform(-5, 5),
    }
    return pose, np.array([0.0, -0.2, -0.6]) + rng.normal(0, 0.02, 3)


def typing_pose(rng: np.random.Generator) -> tuple[dict[str, float], np.ndarray]:
    """Hands on a keyboard: palm down, wrist slightly extended."""
    pose = {
        "heading": 0.0,
        "swing": 0.0,
        "yaw": rng.uniform(-25, 25),
        "pitch": rng.uniform(-5, 5),
        "roll": rng.uniform(-5, 20),
        "flex": rng.uniform(-20, -5),
        "dev": rng.uniform(-5, 5),
    }
    return pose, np.array([0.4, -0.1, -0.25]) + rng.normal(0, 0.02, 3)


def brushing_pose(rng: np.random.Generator) -> tuple[dict[str, float], np.ndarray]:
    """Hand at the mouth: forearm raised and pointing across the face."""
    pose = {
        "heading": 0.0,
        "swing": 0.0,
        "yaw": rng.uniform(50, 80),
        "pitch": rng.uniform(-60, -40),
        "roll": rng.uniform(60, 90),
        "flex": rng.uniform(-10, 10),
        "dev": rng.uniform(-5, 5),
    }
    return pose, np.array([0.15, 0.0, 0.35]) + rng.normal(0, 0.02, 3)


SITTING_LEG = {"heading": 0.0, "pitch": -90.0, "roll": 0.0}
STANDING_LEG = {"heading": 0.0, "pitch": 0.0, "roll": 0.0}

#: Tremor axes in the sensor frame: pronation-supination (x) for rest tremor,
#: flexion-extension (y) for postural tremor, a mixture for dystonic tremor.
REST_AXIS = (1.0, 0.0, 0.0)
POSTURAL_AXIS = (0.0, 1.0, 0.0)


def _axis(rng: np.random.Generator, main, spread: float = 0.3) -> np.ndarray:
    return np.asarray(main, dtype=np.float64) + rng.uniform(-spread, spread, 3)


# ---------------------------------------------------------------------- layout


@dataclass(frozen=True)
class TremorSpec:
    """What tremor a hold carries: style, band, amplitude range, axis, context."""

    style: str
    f_lo_hz: float
    f_hi_hz: float
    a_lo_g: float
    a_hi_g: float
    axis: tuple[float, float, float]
    context: str

    def draw(self, scene: Scene) -> tuple[float, float, np.ndarray]:
        """Frequency (kept below the sensor's bandwidth), amplitude and axis of one episode."""
        rng = scene.rng
        hi = min(self.f_hi_hz, scene.bandwidth_hz / 1.15)
        if hi < self.f_lo_hz:
            raise ValueError(
                f"{self.f_lo_hz:g}-{self.f_hi_hz:g} Hz tremor needs a sample rate of at least "
                f"{self.f_lo_hz * 1.15 / BANDWIDTH_FRACTION:.0f} Hz; raise the rate"
            )
        return (
            rng.uniform(self.f_lo_hz, hi),
            _log_uniform(rng, self.a_lo_g, self.a_hi_g),
            _axis(rng, self.axis, 0.5 if self.style == "dystonic" else 0.3),
        )


PD_REST = TremorSpec("regular", 4.0, 6.0, 0.01, 0.3, REST_AXIS, "rest")
ET_POSTURAL = TremorSpec("regular", 6.0, 10.0, 0.02, 0.3, POSTURAL_AXIS, "posture")
DYSTONIC_POSTURE = TremorSpec("dystonic", 3.5, 6.5, 0.02, 0.2, (0.6, 0.8, 0.3), "posture")
DYSTONIC_REST = TremorSpec("dystonic", 3.5, 6.5, 0.02, 0.2, (0.8, 0.5, 0.3), "rest")


def _episodes_in(
    scene: Scene,
    seg: Segment,
    t0: float,
    t1: float,
    spec: TremorSpec,
    quiet_s=(8.0, 25.0),
    length_s=(10.0, 60.0),
    first_quiet_s=None,
) -> None:
    """Tremor episodes inside ``[t0, t1]``, separated by quiet stretches."""
    rng = scene.rng
    t = t0 + (rng.uniform(*first_quiet_s) if first_quiet_s else rng.uniform(*quiet_s))
    while True:
        room = t1 - 3.0 - t
        if room < length_s[0]:
            return
        dur = min(rng.uniform(*length_s), room)
        f, a, ax = spec.draw(scene)
        seg.rows.append(scene.tremor(seg, t, dur, spec.style, f, a, spec.context, ax))
        t += dur + rng.uniform(*quiet_s)


def _single(scene: Scene, seg: Segment, t0: float, t1: float, spec: TremorSpec) -> None:
    """One episode filling most of ``[t0, t1]`` (a posture hold)."""
    rng = scene.rng
    on = t0 + rng.uniform(0.5, 3.0)
    off = t1 - rng.uniform(0.7, 2.0)
    if off - on >= 5.0:
        f, a, ax = spec.draw(scene)
        seg.rows.append(scene.tremor(seg, on, off - on, spec.style, f, a, spec.context, ax))


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
    from firmware_bridge.simulation.activities import TruthRow

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
    from firmware_bridge.simulation.activities import TruthRow

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


# ---------------------------------------------------------------------- postures (phase 2)


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
}
