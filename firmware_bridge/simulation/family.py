"""A randomised family of simulated people, sensors and days, for validation beyond fixed cases.

Every seed draws a new person and sensor: tremor lever arm (2-12 cm from the oscillating
joint), how the watch sits on the wrist (either way round, tilted up to 25 deg), sample rate
(50-128 Hz), noise floors, gyroscope bias, timestamp jitter and lost packets; then the
scenario draws the activities, tremor styles (regular, jerky with strong harmonics and deep
amplitude modulation, irregular dystonic, severe: centimetres carried by the elbow or shoulder,
:mod:`firmware_bridge.simulation.severe`), amplitudes and durations. Seeds are split into a
tuning set and a held-out set (:data:`TUNING_SEEDS`, :data:`HELD_OUT_SEEDS`): detector work
may look at the first, never at the second (``benchmarks/bench_accuracy.py`` reports both).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator

import numpy as np
import pandas as pd

from firmware_bridge.simulation.activities import Scene, Segment, TruthRow, _log_uniform, angle_for_accel
from firmware_bridge.simulation.body import BodyModel, make_body
from firmware_bridge.simulation.groundtruth import events_frame
from firmware_bridge.simulation.kinematics import Joint
from firmware_bridge.simulation.poses import (
    POSTURAL_AXIS,
    REST_AXIS,
    brushing_pose,
    hanging_pose,
    posture_pose,
    rest_pose,
)
from firmware_bridge.simulation.render import Renderer
from firmware_bridge.simulation.sensor import SensorModel
from firmware_bridge.simulation.severe import severe_tremor
from firmware_bridge.simulation.signals import Waveform
from firmware_bridge.simulation.voluntary import VOLUNTARY_ACTIVITIES

#: Seeds that detector development may look at.
TUNING_SEEDS: tuple[int, ...] = tuple(range(500, 516))
#: Seeds that nothing is tuned on: the honest estimate.
HELD_OUT_SEEDS: tuple[int, ...] = tuple(range(9000, 9008))

#: name -> (description, default duration s, tremor scenario?)
FAMILY: dict[str, tuple[str, float, bool]] = {
    "rest_tremor": ("rest tremor 3.5-7 Hz, 10-300 mg, regular or jerky, between quiet rest", 240.0, True),
    "postural_tremor": ("postural tremor 5-11 Hz while the arm is held out, between rests", 240.0, True),
    "jerky_tremor": ("tremor with strong harmonics and deep amplitude modulation, 3.5-9 Hz", 240.0, True),
    "dystonic_tremor": ("irregular, bursting, wandering tremor 3.5-7 Hz at rest and in posture", 240.0, True),
    "subtle_tremor": ("subtle tremor: 1.5-4 deg/s RMS angular rate, 4-9 Hz", 240.0, True),
    "severe_tremor": ("severe tremor: rest 4-6 Hz at 2-5 cm, postural 6-8 Hz at 1-3 cm", 240.0, True),
    "toothbrushing": ("no tremor: brushing teeth, strokes 2.5-5.5 Hz, hand at the face", 200.0, False),
    "stirring": ("no tremor: stirring, 0.8-2 Hz circles", 200.0, False),
    "scratching": ("no tremor: scratching, 3-7 Hz strokes in short bouts", 200.0, False),
    "clapping": ("no tremor: clapping, 1.5-4 Hz with impacts", 200.0, False),
    "walking": ("no tremor: walking with arm swing, 1.5-2.8 steps/s", 200.0, False),
    "mixed": ("tremor episodes among rhythmic voluntary activities", 300.0, True),
}

#: Activities whose seconds are scored as "called tremor" fractions (specificity).
VOLUNTARY_KINDS: tuple[str, ...] = tuple(VOLUNTARY_ACTIVITIES)
#: Scenarios whose odd bouts hold the arm out (postural tremor) instead of resting it.
HOLDING_SCENARIOS = ("dystonic_tremor", "jerky_tremor", "subtle_tremor", "severe_tremor")
SAMPLE_RATES_HZ = (50.0, 60.0, 100.0, 100.0, 104.0, 128.0)


@dataclasses.dataclass(frozen=True)
class Person:
    """One drawn person and sensor."""

    body: BodyModel
    mounting: np.ndarray  # (3, 3) limb frame -> sensor frame
    sensor: SensorModel
    sample_rate_hz: float


def _rotation(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    a = axis / np.linalg.norm(axis)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + math.sin(angle_rad) * k + (1 - math.cos(angle_rad)) * k @ k


def draw_person(seed: int) -> Person:
    """The person, watch mounting and sensor of ``seed``."""
    rng = np.random.default_rng([int(seed), 77])
    body = make_body("wrist", rng)
    lever = (rng.uniform(0.02, 0.12), rng.uniform(-0.02, 0.02), rng.uniform(0.01, 0.05))
    chain = tuple(Joint("tremor", None, lever) if j.name == "tremor" else j for j in body.chain)
    body = BodyModel(body.placement, chain, lever)
    turn = _rotation(np.array([0.0, 0.0, 1.0]), math.pi) if rng.random() < 0.5 else np.eye(3)
    tilt = _rotation(rng.normal(size=3), math.radians(rng.uniform(0.0, 25.0)))
    sensor = SensorModel(
        acc_noise_ug_per_rthz=float(rng.uniform(100.0, 600.0)),
        gyro_noise_dps_per_rthz=float(rng.uniform(0.004, 0.03)),
        acc_bias_sd_g=float(rng.uniform(0.0, 0.03)),
        gyro_bias_sd_dps=float(rng.uniform(0.1, 2.0)),
        jitter_sd_s=float(rng.uniform(0.0002, 0.004)),
        drops_per_min=float(rng.uniform(0.0, 3.0)),
    )
    return Person(body, tilt @ turn, sensor, float(rng.choice(SAMPLE_RATES_HZ)))


class _MountedRenderer(Renderer):
    """The watch sits rotated on the limb: readings are turned into its own frame."""

    def __init__(self, *args, mounting: np.ndarray, **kw) -> None:
        super().__init__(*args, **kw)
        self.mounting = mounting

    def _exact(self, t):
        acc, gyro = super()._exact(t)
        return acc @ self.mounting.T, gyro @ self.mounting.T


# ---------------------------------------------------------------------- tremor drawing


def _tremor(scene: Scene, seg: Segment, on: float, off: float, kind: str, context: str) -> None:
    if kind == "severe":  # carried by the elbow or shoulder: its own mechanics
        seg.rows.append(severe_tremor(scene, seg, on, off - on, context))
        return
    rng = scene.rng
    axis_main = REST_AXIS if context == "rest" else POSTURAL_AXIS
    axis = np.asarray(axis_main, float) + rng.uniform(-0.5, 0.5, 3)
    top = scene.bandwidth_hz / 1.3
    if kind == "subtle":
        f = rng.uniform(4.0, min(9.0, top))
        gyro_rms = rng.uniform(1.5, 4.0)
        a = axis / np.linalg.norm(axis)
        rad_per_g = angle_for_accel(1.0, f, tuple(a), scene.body.lever_m, scene.up_in_sensor(), Waveform())
        theta = gyro_rms * math.sqrt(2.0) / math.degrees(2 * math.pi * f)
        amp = theta / rad_per_g
        style = "regular"
    else:
        lo, hi = {"rest": (3.5, 7.0), "posture": (5.0, 11.0)}[context]
        if kind == "jerky":
            lo, hi = 3.5, 9.0
        f = rng.uniform(lo, min(hi, top))
        amp = _log_uniform(rng, 0.01, 0.3)
        style = kind
    seg.rows.append(scene.tremor(seg, on, off - on, style, f, amp, context, axis))


def _style(rng: np.random.Generator, scenario: str) -> str:
    if scenario in ("jerky_tremor",):
        return "jerky"
    if scenario == "dystonic_tremor":
        return "dystonic"
    if scenario == "subtle_tremor":
        return "subtle"
    if scenario == "severe_tremor":
        return "severe"
    return str(rng.choice(["regular", "regular", "jerky", "dystonic"]))


def _rest_bout(scene: Scene, t: float, te: float, tremor: str | None, first: bool) -> Segment:
    seg = Segment(t, te)
    start = t
    if not first:
        p, q = rest_pose(scene.rng)
        start = scene.move(seg, t, p, q)
    scene.rest(seg, t, te)
    if tremor and te - start > 14.0:
        _tremor(
            scene, seg, start + scene.rng.uniform(2.0, 5.0), te - scene.rng.uniform(1.0, 3.0), tremor, "rest"
        )
    return seg


def _hold_bout(scene: Scene, t: float, te: float, tremor: str | None) -> Segment:
    seg = Segment(t, te)
    p, q = posture_pose(scene.rng)
    held = scene.move(seg, t, p, q)
    scene.posture(seg, t, te)
    if tremor and te - held > 10.0:
        _tremor(
            scene,
            seg,
            held + scene.rng.uniform(0.5, 3.0),
            te - scene.rng.uniform(0.7, 2.0),
            tremor,
            "posture",
        )
    return seg


def _activity_bout(scene: Scene, kind: str, t: float, te: float) -> Segment:
    seg = Segment(t, te)
    pose = {"toothbrushing": brushing_pose, "walking": hanging_pose}.get(kind, posture_pose)
    p, q = pose(scene.rng)
    if kind in ("toothbrushing", "scratching"):  # the hand anywhere near the face or body
        p = {k: v + scene.rng.uniform(-25, 25) for k, v in p.items()}
    start = scene.move(seg, t, p, q, scene.rng.uniform(0.8, 2.0))
    VOLUNTARY_ACTIVITIES[kind](scene, seg, start, te)
    seg.rows[-1].onset_s, seg.rows[-1].duration_s = t, te - t
    return seg


def _script(scene: Scene, scenario: str, duration_s: float) -> Iterator[Segment]:
    rng = scene.rng
    pose, pos = rest_pose(rng)
    scene.set_pose(pose, pos)
    t = 0.0
    i = 0
    while t < duration_s - 5.0:
        first = i == 0
        if scenario in VOLUNTARY_KINDS:
            if i % 2 == 0:
                te = min(duration_s, t + rng.uniform(6.0, 20.0))
                yield _rest_bout(scene, t, te, None, first)
            else:
                te = min(duration_s, t + rng.uniform(30.0, 90.0))
                yield _activity_bout(scene, scenario, t, te)
        elif scenario == "mixed":
            kind = str(rng.choice(["rest", "hold", *VOLUNTARY_KINDS], p=[0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1]))
            if kind == "rest":
                te = min(duration_s, t + rng.uniform(20.0, 60.0))
                yield _rest_bout(scene, t, te, _style(rng, scenario) if rng.random() < 0.7 else None, first)
            elif kind == "hold":
                te = min(duration_s, t + rng.uniform(20.0, 50.0))
                yield _hold_bout(scene, t, te, _style(rng, scenario) if rng.random() < 0.7 else None)
            else:
                te = min(duration_s, t + rng.uniform(20.0, 60.0))
                yield _activity_bout(scene, kind, t, te)
        else:
            style = _style(rng, scenario)
            if scenario == "postural_tremor" and i % 2 == 1:
                te = min(duration_s, t + rng.uniform(20.0, 50.0))
                yield _hold_bout(scene, t, te, style)
            elif scenario in HOLDING_SCENARIOS and i % 2 == 1:
                te = min(duration_s, t + rng.uniform(20.0, 50.0))
                yield _hold_bout(scene, t, te, style if rng.random() < 0.8 else None)
            else:
                te = min(duration_s, t + rng.uniform(20.0, 50.0))
                p_tremor = 0.8 if scenario != "postural_tremor" else 0.0
                yield _rest_bout(scene, t, te, style if rng.random() < p_tremor else None, first)
        t = te
        i += 1
    if t < duration_s:
        seg = Segment(t, duration_s)
        scene.rest(seg, t, duration_s)
        yield seg


@dataclasses.dataclass
class FamilyRecording:
    """One member of the family: samples, ground truth and who it was."""

    frame: pd.DataFrame
    events: pd.DataFrame
    sample_rate_hz: float
    person: Person
    scenario: str
    seed: int


def simulate_family(
    scenario: str, seed: int, gyro: bool = True, duration_s: float | None = None
) -> FamilyRecording:
    """A recording of ``scenario`` (a name in :data:`FAMILY`) by the person of ``seed``."""
    if scenario not in FAMILY:
        raise ValueError(f"unknown family scenario {scenario!r}; valid: {', '.join(FAMILY)}")
    person = draw_person(seed)
    d = FAMILY[scenario][1] if duration_s is None else float(duration_s)
    rate = person.sample_rate_hz
    sensor = person.sensor.resolved(np.random.default_rng([int(seed), 78]))
    scene = Scene(person.body, np.random.default_rng([int(seed), 79, len(scenario)]), rate)
    segs = _script(scene, scenario, d)
    r = _MountedRenderer(scene, segs, sensor, rate, d, gyro, int(seed), mounting=person.mounting)
    frame = pd.concat(list(r.blocks()), ignore_index=True)
    rows: list[TruthRow] = r.rows
    return FamilyRecording(frame, events_frame(rows, d), rate, person, scenario, int(seed))
