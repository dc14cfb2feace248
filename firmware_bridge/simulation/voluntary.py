"""Rhythmic voluntary movements that a tremor detector must not call tremor.

Toothbrushing, stirring, scratching, clapping and brisk arm swing are rhythmic, but they are
made by proximal joints (elbow, shoulder) moving the hand through centimetres, with the strokes
in bouts between pauses and repositionings. Each stroke is built from the physics of the limb:
the hand travels ``D`` along a direction while the forearm turns by ``D / R`` about a joint ``R``
away (the elbow or the shoulder), plus a wrist rotation of its own, all on one rhythm with its
harmonics. Every parameter is drawn per bout, so a family of seeds covers many people and
styles (used by :mod:`firmware_bridge.simulation.family`).

Typical ranges (stroke frequency and hand travel) follow motion-capture descriptions of these
tasks: toothbrushing 2.5-5.5 Hz and 0.3-2 cm; stirring 0.8-2 Hz circles of 3-8 cm; scratching
3-7 Hz and 0.5-3 cm; clapping 1.5-4 Hz and 5-15 cm with an impact at each clap; arm swing at
half the step rate, 10-45 deg.
"""

from __future__ import annotations

import math

import numpy as np

from firmware_bridge.simulation.activities import (
    TRANSLATION_CHANNELS,
    Scene,
    Segment,
    TremorStyle,
    TruthRow,
    _log_uniform,
)
from firmware_bridge.simulation.kinematics import STANDARD_GRAVITY_MPS2
from firmware_bridge.simulation.signals import TWO_PI, Bumps, Envelope, Oscillator, Waveform, Window

#: Rhythm of a voluntary stroke: small per-cycle jitter, slow wander, gentle modulation.
STROKE_STYLE = TremorStyle((0.03, 0.08), 0.1, (2.0, 4.0), False, (0.05, 0.2), False, ())
#: Joints a stroke may turn (wrist placement).
STROKE_JOINTS = ("yaw", "pitch", "roll", "flex", "dev")


def _unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)


def _harmonic_wave(rng: np.random.Generator, second: tuple[float, float], third: tuple[float, float]):
    return Waveform(
        (1.0, 2.0, 3.0),
        (1.0, rng.uniform(*second), rng.uniform(*third)),
        (0.0, rng.uniform(0, TWO_PI), rng.uniform(0, TWO_PI)),
    )


def stroke(
    scene: Scene,
    seg: Segment,
    t0: float,
    t1: float,
    freq_hz: float,
    travel_m: float,
    radius_m: float,
    wrist_deg: float,
    wave: Waveform,
    circular: bool = False,
) -> float:
    """One bout of strokes: the hand travels ``travel_m`` (zero to peak) while a proximal joint
    ``radius_m`` away turns with it and the wrist turns ``wrist_deg``; returns the mean rate."""
    rng = scene.rng
    phase = scene._phase(t0, t1, freq_hz, STROKE_STYLE, freq_hz * 0.85, freq_hz * 1.15)
    ramp = min(0.3, 0.25 * (t1 - t0))
    env = Envelope(
        Window(t0, t1, ramp, ramp), rng.uniform(0.05, 0.2), rng.uniform(0.2, 0.5), rng.uniform(0, 6)
    )
    wave = wave.limited(phase.max_hz, scene.bandwidth_hz)
    d = _unit(rng)
    for ch, di in zip(TRANSLATION_CHANNELS, d, strict=True):
        seg.add(ch, Oscillator(phase, env, wave, travel_m * float(di)))
    if circular:  # a second direction a quarter cycle later: the hand goes round
        e = np.cross(d, _unit(rng))
        e /= np.linalg.norm(e)
        quarter = Waveform(
            wave.mults, wave.coefs, tuple(p + m * math.pi / 2 for m, p in zip(wave.mults, wave.phases_rad))
        )
        for ch, ei in zip(TRANSLATION_CHANNELS, e, strict=True):
            seg.add(ch, Oscillator(phase, env, quarter, travel_m * float(ei)))
    joints = [j for j in STROKE_JOINTS if j in scene.pose]
    arm = str(rng.choice(joints[:3]))  # the forearm's turn that carries the hand
    seg.add(arm, Oscillator(phase, env, wave, float(rng.choice([-1, 1])) * travel_m / radius_m))
    wrist = str(rng.choice(joints[2:]))
    lag = rng.uniform(0, TWO_PI)
    ww = Waveform(wave.mults, wave.coefs, tuple(p + m * lag for m, p in zip(wave.mults, wave.phases_rad)))
    seg.add(wrist, Oscillator(phase, env, ww, math.radians(wrist_deg)))
    return phase.cycles_between(t0, t1) / (t1 - t0)


def _bouts(
    scene: Scene,
    seg: Segment,
    t0: float,
    t1: float,
    bout_s: tuple[float, float],
    pause_s: tuple[float, float],
    reposition_deg: float,
    one_bout,
) -> tuple[list[float], list[float]]:
    """Bouts of ``one_bout(t, te) -> rate`` separated by pauses and repositionings."""
    rng = scene.rng
    home = {j: math.degrees(scene.pose[j]) for j in ("yaw", "pitch", "roll") if j in scene.pose}
    home_pos = scene.position_m.copy()
    t = t0
    rates, durs = [], []
    while t < t1 - 1.5:
        dur = min(rng.uniform(*bout_s), t1 - t)
        rates.append(one_bout(t, t + dur))
        durs.append(dur)
        t += dur + rng.uniform(*pause_s)
        if t < t1 - 3.0 and reposition_deg > 0:
            target = {j: v + rng.uniform(-reposition_deg, reposition_deg) for j, v in home.items()}
            t = scene.move(seg, t, target, home_pos + rng.normal(0, 0.03, 3), rng.uniform(0.4, 1.2))
    return rates, durs


def _row(t0: float, t1: float, kind: str, rates: list[float], durs: list[float], acc_g: float) -> TruthRow:
    w = np.asarray(durs) / max(sum(durs), 1e-9)
    return TruthRow(
        t0, t1 - t0, kind, frequency_hz=float(np.dot(w, rates)) if rates else math.nan, amplitude_g=acc_g
    )


def toothbrushing(scene: Scene, seg: Segment, t0: float, t1: float) -> None:
    """Brushing strokes at the mouth: 2.5-5.5 Hz, 0.3-2 cm, the forearm and wrist turning."""
    rng = scene.rng
    f0 = rng.uniform(2.5, 5.5)
    accs = []

    def bout(a: float, b: float) -> float:
        f = float(np.clip(f0 + rng.normal(0, 0.25), 2.5, 5.5))
        travel = _log_uniform(rng, 0.003, 0.02)
        accs.append(travel * (TWO_PI * f) ** 2 / STANDARD_GRAVITY_MPS2)
        wave = _harmonic_wave(rng, (0.05, 0.45), (0.02, 0.2))
        return stroke(scene, seg, a, b, f, travel, rng.uniform(0.1, 0.35), rng.uniform(2.0, 15.0), wave)

    rates, durs = _bouts(scene, seg, t0, t1, (3.0, 15.0), (0.0, 0.7), 35.0, bout)
    scene.physiological(seg, t0, t1, rng.uniform(0.002, 0.004))
    seg.rows.append(_row(t0, t1, "toothbrushing", rates, durs, float(np.mean(accs)) if accs else math.nan))


def stirring(scene: Scene, seg: Segment, t0: float, t1: float) -> None:
    """Stirring a pot: 0.8-2 Hz circles of 3-8 cm, the wrist turning 5-25 deg."""
    rng = scene.rng
    accs = []

    def bout(a: float, b: float) -> float:
        f = rng.uniform(0.8, 2.0)
        r = rng.uniform(0.03, 0.08)
        accs.append(r * (TWO_PI * f) ** 2 / STANDARD_GRAVITY_MPS2)
        wave = _harmonic_wave(rng, (0.05, 0.3), (0.02, 0.15))
        return stroke(
            scene, seg, a, b, f, r, rng.uniform(0.25, 0.5), rng.uniform(5.0, 25.0), wave, circular=True
        )

    rates, durs = _bouts(scene, seg, t0, t1, (8.0, 40.0), (0.5, 3.0), 10.0, bout)
    scene.physiological(seg, t0, t1, rng.uniform(0.002, 0.004))
    seg.rows.append(_row(t0, t1, "stirring", rates, durs, float(np.mean(accs)) if accs else math.nan))


def scratching(scene: Scene, seg: Segment, t0: float, t1: float) -> None:
    """Scratching: 3-7 Hz strokes of 0.5-3 cm in short bouts, the wrist flexing 3-15 deg."""
    rng = scene.rng
    accs = []

    def bout(a: float, b: float) -> float:
        f = rng.uniform(3.0, 7.0)
        travel = rng.uniform(0.005, 0.03) * min(1.0, (4.0 / f) ** 2)  # faster strokes are shorter
        accs.append(travel * (TWO_PI * f) ** 2 / STANDARD_GRAVITY_MPS2)
        wave = _harmonic_wave(rng, (0.1, 0.5), (0.05, 0.25))
        return stroke(scene, seg, a, b, f, travel, rng.uniform(0.08, 0.3), rng.uniform(3.0, 15.0), wave)

    rates, durs = _bouts(scene, seg, t0, t1, (1.0, 6.0), (0.5, 4.0), 25.0, bout)
    scene.physiological(seg, t0, t1, rng.uniform(0.002, 0.004))
    seg.rows.append(_row(t0, t1, "scratching", rates, durs, float(np.mean(accs)) if accs else math.nan))


def clapping(scene: Scene, seg: Segment, t0: float, t1: float) -> None:
    """Clapping: 1.5-4 Hz, the hand travelling 5-15 cm, with an impact (2-8 g) at each clap."""
    rng = scene.rng
    accs = []

    def bout(a: float, b: float) -> float:
        f = rng.uniform(1.5, 4.0)
        travel = rng.uniform(0.05, 0.15) * min(1.0, (2.5 / f) ** 2)
        accs.append(travel * (TWO_PI * f) ** 2 / STANDARD_GRAVITY_MPS2)
        wave = _harmonic_wave(rng, (0.1, 0.3), (0.05, 0.15))
        rate = stroke(scene, seg, a, b, f, travel, rng.uniform(0.25, 0.4), rng.uniform(5.0, 20.0), wave)
        times = np.arange(a + 0.3, b - 0.2, 1.0 / rate) + rng.normal(0, 0.01, 1)
        if times.size:
            peak = rng.uniform(2.0, 8.0) * STANDARD_GRAVITY_MPS2 * (1 + 0.2 * rng.standard_normal(times.size))
            d = _unit(rng)
            sigma = max(rng.uniform(0.004, 0.01), scene.pulse_sigma_s)
            for ch, di in zip(TRANSLATION_CHANNELS, d, strict=True):
                seg.add(ch, Bumps(times, peak * float(di), sigma))
        return rate

    rates, durs = _bouts(scene, seg, t0, t1, (3.0, 15.0), (1.0, 5.0), 15.0, bout)
    scene.physiological(seg, t0, t1, rng.uniform(0.002, 0.004))
    seg.rows.append(_row(t0, t1, "clapping", rates, durs, float(np.mean(accs)) if accs else math.nan))


def arm_swing(scene: Scene, seg: Segment, t0: float, t1: float) -> None:
    """Walking or brisk walking: the scene's gait, with a wider range of cadences and arm swing
    (10-45 deg at half the step rate, with a wrist wobble at the step rate)."""
    rng = scene.rng
    scene.walking(seg, t0, t1)
    cadence = seg.rows[-1].frequency_hz
    extra = math.radians(rng.uniform(-15.0, 20.0))
    phase = scene._phase(t0, t1, cadence / 2, STROKE_STYLE, cadence * 0.4, cadence * 0.6)
    env = Envelope(Window(t0, t1, 1.5, 1.5), rng.uniform(0.0, 0.1), 0.05, 0.0)
    wave = Waveform((1.0, 2.0, 3.0), (1.0, rng.uniform(0.05, 0.2), rng.uniform(0.02, 0.1)), (0.0, 1.0, 2.0))
    seg.add("swing", Oscillator(phase, env, wave.limited(phase.max_hz, scene.bandwidth_hz), extra))
    wobble = Waveform((2.0, 4.0), (1.0, rng.uniform(0.1, 0.4)), (rng.uniform(0, 6), rng.uniform(0, 6)))
    seg.add(
        "roll",
        Oscillator(
            phase, env, wobble.limited(phase.max_hz, scene.bandwidth_hz), math.radians(rng.uniform(1, 6))
        ),
    )


#: name -> builder (scene, segment, t0, t1).
VOLUNTARY_ACTIVITIES = {
    "toothbrushing": toothbrushing,
    "stirring": stirring,
    "scratching": scratching,
    "clapping": clapping,
    "walking": arm_swing,
}
