"""Severe tremor: the hand carried through centimetres by a proximal joint, at a steady rhythm.

A severe parkinsonian rest tremor or essential tremor moves the wrist by centimetres: the elbow
or shoulder turns the forearm (so the watch travels ``D`` on an arc of radius ``R``, the joint's
distance from the watch) while the forearm pronates and supinates about its own axis. That is
the same mechanics as a voluntary stroke (:mod:`firmware_bridge.simulation.voluntary`): what
makes it tremor is the rhythm, involuntary, sustained for as long as the rest or the posture
lasts, at a stable frequency with a narrow spectral peak and weak harmonics.

Amplitudes: parkinsonian rest tremor at the wrist reaches several centimetres (MDS-UPDRS 3.17
rest tremor amplitude: "severe" is > 10 cm peak to peak at the hand, i.e. > 5 cm zero to peak;
the watch on the wrist sits closer to the elbow and moves less): here 2-5 cm at 4-6 Hz; severe
essential (postural) tremor 1-3 cm at 6-8 Hz (MDS-UPDRS 3.15 postural anchors 1-3-10 cm peak to
peak).
"""

from __future__ import annotations

import math

import numpy as np

from firmware_bridge.simulation.activities import (
    STYLES,
    TRANSLATION_CHANNELS,
    Scene,
    Segment,
    TruthRow,
    _log_uniform,
)
from firmware_bridge.simulation.kinematics import STANDARD_GRAVITY_MPS2, Y_AXIS, Z_AXIS, pose
from firmware_bridge.simulation.signals import TWO_PI, Oscillator, Waveform

#: (low Hz, high Hz, low cm, high cm) zero to peak at the watch, per context.
SEVERE_RANGES = {"rest": (4.0, 6.0, 2.0, 5.0), "posture": (6.0, 8.0, 1.0, 3.0)}
#: Distance from the turning joint to the watch: elbow (a forearm, 20-30 cm) or the wrist's own
#: flexion with the watch near the hand (10 cm) up to the shoulder's reach (35 cm).
SEVERE_RADIUS_M = (0.10, 0.35)
#: Pronation-supination that rides on it (zero to peak, deg).
SEVERE_ROLL_DEG = (2.0, 15.0)


def _frames(scene: Scene, joint: str) -> tuple[np.ndarray, np.ndarray]:
    """World axis of ``joint`` and the forearm's direction (the sensor's x) at the scene's pose."""
    chain = scene.body.chain
    names = [j.name for j in chain]
    upto = chain[: names.index(joint)]
    angles = {k: np.array([v]) for k, v in scene.pose.items()}
    before, _ = pose(upto, angles)
    local = {"pitch": Y_AXIS, "yaw": Z_AXIS}[joint]
    axis_w = before.apply(np.asarray(local))[0]
    full, _ = pose(chain, angles)
    forearm_w = full.apply(np.array([1.0, 0.0, 0.0]))[0]
    return axis_w, forearm_w


def severe_tremor(scene: Scene, seg: Segment, onset_s: float, duration_s: float, context: str) -> TruthRow:
    """A severe tremor episode in ``context`` (rest: parkinsonian; posture: essential)."""
    rng = scene.rng
    lo_hz, hi_hz, lo_cm, hi_cm = SEVERE_RANGES[context]
    f = rng.uniform(lo_hz, min(hi_hz, scene.bandwidth_hz / 1.3))
    disp_m = _log_uniform(rng, lo_cm, hi_cm) / 100.0
    style = STYLES["regular"]
    ramp_on, ramp_off = rng.uniform(*style.ramp_s), rng.uniform(*style.ramp_s)
    t0, t1 = onset_s - 0.5 * ramp_on, onset_s + duration_s + 0.5 * ramp_off
    phase = scene._phase(t0, t1, f, style, f * 0.9, f * 1.1)
    env = scene._envelope(t0, t1, ramp_on, ramp_off, style)
    wave = Waveform((1.0, 2.0), (1.0, rng.uniform(0.01, 0.05)), (0.0, rng.uniform(0, TWO_PI)))
    wave = wave.limited(phase.max_hz, scene.bandwidth_hz)
    joint = str(rng.choice(["pitch", "yaw"]))
    radius = rng.uniform(*SEVERE_RADIUS_M)
    axis_w, forearm_w = _frames(scene, joint)
    tangent = np.cross(axis_w, forearm_w)  # the watch's path for a turn of the joint
    theta = disp_m / radius / max(float(np.linalg.norm(tangent)), 0.3)
    seg.add(joint, Oscillator(phase, env, wave, theta))
    for ch, di in zip(TRANSLATION_CHANNELS, tangent * radius * theta, strict=True):
        seg.add(ch, Oscillator(phase, env, wave, float(di)))
    lag = rng.uniform(-0.5, 0.5)
    lagged = tuple(p + m * lag for m, p in zip(wave.mults, wave.phases_rad, strict=True))
    roll_wave = Waveform(wave.mults, wave.coefs, lagged)
    roll = math.radians(rng.uniform(*SEVERE_ROLL_DEG)) * float(rng.choice([-1.0, 1.0]))
    seg.add("roll", Oscillator(phase, env, roll_wave, roll))
    # the acceleration amplitude: the watch's travel and the re-projected gravity of the turns
    omega = TWO_PI * f
    grav = abs(theta) * float(np.linalg.norm(np.cross(axis_w, Z_AXIS))) + abs(roll)
    amp_g = math.hypot(disp_m * omega**2 / STANDARD_GRAVITY_MPS2, grav)
    return TruthRow(
        onset_s,
        duration_s,
        "tremor",
        frequency_hz=phase.cycles_between(onset_s, onset_s + duration_s) / duration_s,
        amplitude_g=amp_g,
        regularity=phase.period_cv(onset_s, onset_s + duration_s),
        context=context,
        angle_deg=math.degrees(abs(theta)),
    )
