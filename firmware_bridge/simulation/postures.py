"""Dystonic postures and spasms, and the head movements that must not be mistaken for them.

A contraction episode turns one of the body's contraction joints (about the
sensor's own z, y or x axis, right before the sensor; see :mod:`body`) away
from neutral by the plateau angle, holds it, and returns. The ramp away is
fast (0.3-1 s: a spasm) or slow (3-6 s: a drift); the return takes 0.5-3 s. An
irregular 3-7 Hz co-contraction tremor may ride on the hold. Natural sway and
physiological tremor go on underneath, on other joints.

Direction sign conventions (the sensor axes of ``recordings/README.md``; a
positive rotation about an axis follows the right-hand rule):

- neck (x forward, y left, z up): anterocollis = +y (nose down, acc_x -> -sin a),
  retrocollis = -y; laterocollis_left = -x (left ear down, acc_y -> -sin a),
  laterocollis_right = +x; torticollis_left = +z (nose turns toward the left,
  x toward y; invisible to the accelerometer), torticollis_right = -z.
- wrist (x fingers, y thumb, z dorsal): flexion = +y (fingers down, acc_x ->
  -sin a), extension = -y; radial_deviation = +z (x toward y), ulnar_deviation
  = -z; supination = +x (thumb side up, acc_y -> +sin a), pronation = -x.

Ground truth (one ``contraction`` row per episode): ``onset`` is the start of
the ramp away from neutral and ``duration`` runs to the end of the return ramp.
"""

from __future__ import annotations

import math

import numpy as np

from firmware_bridge.simulation.activities import TWO_PI, Scene, Segment, TremorStyle, TruthRow
from firmware_bridge.simulation.body import CONTRACTION_JOINTS
from firmware_bridge.simulation.kinematics import X_AXIS, Y_AXIS, Z_AXIS
from firmware_bridge.simulation.signals import Envelope, Oscillator, Sines, Step, Waveform, Window

#: placement -> clinical direction -> (contraction joint, sign of its rotation).
DIRECTIONS: dict[str, dict[str, tuple[str, float]]] = {
    "neck": {
        "anterocollis": ("contraction_y", 1.0),
        "retrocollis": ("contraction_y", -1.0),
        "laterocollis_left": ("contraction_x", -1.0),
        "laterocollis_right": ("contraction_x", 1.0),
        "torticollis_left": ("contraction_z", 1.0),
        "torticollis_right": ("contraction_z", -1.0),
    },
    "wrist": {
        "flexion": ("contraction_y", 1.0),
        "extension": ("contraction_y", -1.0),
        "radial_deviation": ("contraction_z", 1.0),
        "ulnar_deviation": ("contraction_z", -1.0),
        "pronation": ("contraction_x", -1.0),
        "supination": ("contraction_x", 1.0),
    },
}

#: Contraction joint -> its axis in the sensor frame.
JOINT_AXES: dict[str, tuple[float, float, float]] = dict(
    zip(CONTRACTION_JOINTS, (Z_AXIS, Y_AXIS, X_AXIS), strict=True)
)

ANGLE_DEG = (15.0, 45.0)
FAST_RAMP_S = (0.3, 1.0)
SLOW_RAMP_S = (3.0, 6.0)
RETURN_S = (0.5, 3.0)
CO_CONTRACTION_G = (0.01, 0.05)
CO_CONTRACTION_HZ = (3.5, 6.5)  # centre; the irregular rhythm wanders over 3-7 Hz
#: Voluntary head movements: excursion and the whole out-and-back time.
HEAD_MOVE_DEG = {"head_turn": (20.0, 70.0), "nod": (20.0, 70.0), "head_tilt": (20.0, 40.0)}
HEAD_MOVE_JOINT = {"head_turn": "rot", "nod": "flex", "head_tilt": "tilt"}
HEAD_MOVE_S = (0.8, 2.0)


def contraction(
    scene: Scene,
    seg: Segment,
    onset_s: float,
    direction: str,
    angle_deg: float,
    ramp_s: float,
    hold_s: float,
    return_s: float,
    co_contraction_g: float,
) -> float:
    """One dystonic posture or spasm with its ground truth; returns when the return ramp ends.

    ``co_contraction_g`` > 0 adds an irregular 3-7 Hz tremor of that amplitude
    during the hold (its own ``tremor`` row too: it is a dystonic tremor).
    """
    table = DIRECTIONS[scene.body.placement]
    if direction not in table:
        raise ValueError(f"unknown {scene.body.placement} direction {direction!r}; one of {', '.join(table)}")
    joint, sign = table[direction]
    delta = sign * math.radians(angle_deg)
    hold_onset = onset_s + ramp_s
    hold_end = hold_onset + hold_s
    seg.add(joint, Step(onset_s, ramp_s, delta))
    seg.add(joint, Step(hold_end, return_s, -delta))
    if co_contraction_g > 0:
        rng = scene.rng
        freq = rng.uniform(*CO_CONTRACTION_HZ)
        axis = np.asarray(JOINT_AXES[joint]) + rng.uniform(-0.5, 0.5, 3)
        before = scene.pose.get(joint, 0.0)
        scene.pose[joint] = before + delta  # the tremor's size is set at the held posture
        row = scene.tremor(
            seg, hold_onset + 0.5, hold_s - 1.0, "dystonic", freq, co_contraction_g, "posture", axis
        )
        scene.pose[joint] = before
        seg.rows.append(row)
        co_contraction_g = row.amplitude_g  # an amplitude override applies here too
    seg.rows.append(
        TruthRow(
            onset_s,
            ramp_s + hold_s + return_s,
            "contraction",
            angle_deg=angle_deg,
            direction=direction,
            ramp_s=ramp_s,
            hold_onset_s=hold_onset,
            hold_s=hold_s,
            co_contraction_g=max(0.0, co_contraction_g),
        )
    )
    return hold_end + return_s


class PostureDraw:
    """Balanced draws of contraction episodes: every direction once per round, in a random order.

    Within a round, half the onsets are fast and half slow, and half the holds
    carry co-contraction tremor (independently shuffled).
    """

    def __init__(self, scene: Scene, hold_s: tuple[float, float]) -> None:
        self.scene = scene
        self.hold_s = hold_s
        self._queue: list[tuple[str, bool, bool]] = []

    def _refill(self) -> None:
        rng = self.scene.rng
        names = list(DIRECTIONS[self.scene.body.placement])
        n = len(names)
        order = rng.permutation(n)
        fast = rng.permutation([i % 2 == 0 for i in range(n)])
        tremor = rng.permutation([i % 2 == 0 for i in range(n)])
        self._queue = [(names[int(order[i])], bool(fast[i]), bool(tremor[i])) for i in range(n)]

    def next(self) -> dict[str, float | str]:
        """The next episode's parameters (``contraction`` keyword arguments, without the onset)."""
        if not self._queue:
            self._refill()
        direction, fast, tremor = self._queue.pop(0)
        rng = self.scene.rng
        angle = rng.uniform(*ANGLE_DEG)
        if self.scene.posture_angle_override_deg is not None:
            angle = self.scene.posture_angle_override_deg
        lo, hi = self.hold_s
        return {
            "direction": direction,
            "angle_deg": float(angle),
            "ramp_s": float(rng.uniform(*(FAST_RAMP_S if fast else SLOW_RAMP_S))),
            "hold_s": float(math.exp(rng.uniform(math.log(lo), math.log(hi)))),  # short holds common
            "return_s": float(rng.uniform(*RETURN_S)),
            "co_contraction_g": float(math.exp(rng.uniform(*np.log(CO_CONTRACTION_G))) if tremor else 0.0),
        }


def episode_length_s(params: dict[str, float | str]) -> float:
    """Ramp + hold + return of drawn episode parameters."""
    return float(params["ramp_s"]) + float(params["hold_s"]) + float(params["return_s"])


class Sway:
    """Natural sway of the head and trunk (0.1-0.5 Hz, a few degrees), laid in cross-faded chunks.

    Chunks of 30-90 s overlap by 2 s with complementary fades, so the sway
    never stops; call :meth:`extend` for each segment, in time order.
    """

    HEAD_JOINTS = ("rot", "flex", "tilt")
    TRUNK_JOINTS = ("trunk_pitch", "trunk_roll")

    def __init__(self, scene: Scene) -> None:
        rng = scene.rng
        self.scene = scene
        head = rng.uniform(2.0, 4.0)  # bound per joint, deg (the sum of 3 sines rarely reaches it)
        trunk = rng.uniform(0.5, 2.0)
        if scene.sway_override_deg is not None:
            head, trunk = scene.sway_override_deg, 0.5 * scene.sway_override_deg
        self.peak_deg = {**{j: head for j in self.HEAD_JOINTS}, **{j: trunk for j in self.TRUNK_JOINTS}}
        self.until_s = 0.0

    def extend(self, seg: Segment, t_s: float) -> None:
        """Lay sway (in ``seg``) until at least ``t_s``."""
        rng = self.scene.rng
        while self.until_s < t_s:
            a = self.until_s
            b = a + rng.uniform(30.0, 90.0)
            for joint, peak in self.peak_deg.items():
                freqs = rng.uniform(0.1, 0.5, 3)
                amps = rng.uniform(0.3, 1.0, 3) / freqs  # slower sway is larger
                amps = np.radians(amps / amps.sum() * rng.uniform(0.6, 1.0) * peak)
                phases = rng.uniform(0.0, TWO_PI, 3)
                if peak > 0:
                    seg.add(joint, Sines(a - 1.0, b + 1.0, freqs, amps, phases, ramp_s=2.0))
            self.until_s = b


def head_move(scene: Scene, seg: Segment, t0: float, kind: str, angle_deg: float | None = None) -> float:
    """A voluntary head turn, nod or tilt, out and back within 0.8-2 s; returns its end.

    ``kind``: ``head_turn`` (about z, left or right), ``nod`` (about y, down or
    up) or ``head_tilt`` (about x, either side). The row's ``angle_deg`` is the
    peak excursion.
    """
    rng = scene.rng
    joint = HEAD_MOVE_JOINT[kind]
    angle = rng.uniform(*HEAD_MOVE_DEG[kind]) if angle_deg is None else angle_deg
    sign = float(rng.choice([-1.0, 1.0]))
    total = rng.uniform(*HEAD_MOVE_S)
    pause = rng.uniform(0.0, 0.25) * total
    out = rng.uniform(0.4, 0.6) * (total - pause)
    home = math.degrees(scene.pose[joint])
    t = scene.move(seg, t0, {joint: home + sign * angle}, dur_s=out) + pause
    end = scene.move(seg, t, {joint: home}, dur_s=total - pause - out)
    seg.rows.append(TruthRow(t0, end - t0, kind, angle_deg=angle))
    return end


def head_walking(scene: Scene, seg: Segment, t0: float, t1: float) -> None:
    """Walking with a neck/head sensor: bob, sway, gait-locked head pitch and trunk yaw, heel strikes.

    The head rides 1-2.5 cm up and down at the step rate (1.6-2.1 steps/s) and
    1.5-3 cm side to side at half of it; the trunk yaws 2-5 deg and rolls 1-3
    deg per stride; the head pitches 1-3 deg per step; heel strikes reach the
    head as 0.1-0.3 g jolts. Glances (head turns under 2 s) are added by the
    scenario.
    """
    rng = scene.rng
    cadence = rng.uniform(1.6, 2.1)
    style = TremorStyle((0.015, 0.03), 0.04, (4.0, 8.0), False, (0.0, 0.1), False, ())
    phase = scene._phase(t0, t1, cadence, style, cadence * 0.9, cadence * 1.1)
    depth, mod_hz, mod_phase = rng.uniform(0.0, 0.1), rng.uniform(0.02, 0.1), rng.uniform(0, TWO_PI)
    env = Envelope(Window(t0, t1, 1.5, 1.5), depth, mod_hz, mod_phase)
    bw = scene.bandwidth_hz / (cadence * 1.1)  # highest harmonic the sensor passes

    def osc(channel: str, mults, coefs) -> None:
        keep = [(m, c) for m, c in zip(mults, coefs, strict=True) if m <= bw]
        wave = Waveform(
            tuple(m for m, _ in keep), tuple(c for _, c in keep), tuple(rng.uniform(0, TWO_PI) for _ in keep)
        )
        seg.add(channel, Oscillator(phase, env, wave, 1.0))

    bob_m = (rng.uniform(0.01, 0.025), rng.uniform(0.002, 0.004), rng.uniform(0.0005, 0.001))
    osc("tz", (1.0, 2.0, 3.0), bob_m)
    osc("tx", (1.0, 2.0), (rng.uniform(0.005, 0.012), rng.uniform(0.001, 0.002)))
    osc("ty", (0.5,), (rng.uniform(0.015, 0.03),))
    osc("heading", (0.5,), (math.radians(rng.uniform(2.0, 5.0)),))
    osc("trunk_roll", (0.5,), (math.radians(rng.uniform(1.0, 3.0)),))
    osc("flex", (1.0,), (math.radians(rng.uniform(1.0, 3.0)),))
    scene.heel_strikes(seg, phase, t0, t1, (1.0, 3.0), 0.025)
    scene.physiological(seg, t0, t1, rng.uniform(0.001, 0.002))
    seg.rows.append(TruthRow(t0, t1 - t0, "walking", frequency_hz=phase.cycles_between(t0, t1) / (t1 - t0)))
