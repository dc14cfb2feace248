"""Activities and tremors: what a person does, as motion components plus ground truth.

A :class:`Scene` tracks the body's current posture and position while a
scenario lays out activities in time. Each activity adds motion components
(:mod:`signals`) to a :class:`Segment` together with its ground-truth rows
(:class:`TruthRow`, one BIDS ``events.tsv`` row each). Postures change through
minimum-jerk transitions, so consecutive activities join smoothly.

Tremor onsets and offsets are the midpoints of their amplitude ramps
(0.3-1 s long): the ground truth says tremor from the moment it reaches half
its amplitude until it falls back below half.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import PchipInterpolator

from firmware_bridge.simulation.body import BodyModel
from firmware_bridge.simulation.kinematics import STANDARD_GRAVITY_MPS2, gravity_in_sensor
from firmware_bridge.simulation.sensor import BANDWIDTH_FRACTION
from firmware_bridge.simulation.signals import (
    TWO_PI,
    Bumps,
    Component,
    Envelope,
    Oscillator,
    PhaseTrack,
    Sines,
    Step,
    Waveform,
    Window,
    cycle_knots,
)

#: Translation channels of the chain's base (world frame, m).
TRANSLATION_CHANNELS: tuple[str, str, str] = ("tx", "ty", "tz")

TRIAL_TYPES: tuple[str, ...] = (
    "tremor",
    "physiological_tremor",
    "walking",
    "gesture",
    "typing",
    "vehicle",
    "toothbrushing",
    "rest",
    "posture",
    "gap",
    # phase 2: dystonic postures and what must not be mistaken for them
    "contraction",
    "sway",
    "head_turn",
    "nod",
    "head_tilt",
)


@dataclass
class TruthRow:
    """One ground-truth event (a row of ``REC.events.tsv``); NaN/None mean n/a."""

    onset_s: float
    duration_s: float
    trial_type: str
    frequency_hz: float = math.nan
    amplitude_g: float = math.nan  # zero-to-peak of the oscillating acceleration (vector), g
    regularity: float = math.nan  # coefficient of variation of the cycle periods
    context: str | None = None  # tremor: rest | posture | movement
    angle_deg: float = math.nan  # tremor: zero-to-peak rotation of the tremor joint; contraction:
    # plateau deviation from neutral; head_turn/nod/head_tilt: peak excursion (all deg)
    direction: str | None = None  # contraction: clinical direction (see postures.DIRECTIONS)
    ramp_s: float = math.nan  # contraction: duration of the ramp away from neutral
    hold_onset_s: float = math.nan  # contraction: plateau start (s, recording clock)
    hold_s: float = math.nan  # contraction: plateau duration
    co_contraction_g: float = math.nan  # contraction: tremor amplitude during the hold (0: none)

    @property
    def displacement_cm(self) -> float:
        """Displacement amplitude of a sinusoid of ``amplitude_g`` at ``frequency_hz``."""
        if not (math.isfinite(self.amplitude_g) and math.isfinite(self.frequency_hz)):
            return math.nan
        return self.amplitude_g * STANDARD_GRAVITY_MPS2 / (TWO_PI * self.frequency_hz) ** 2 * 100.0


@dataclass
class Segment:
    """A stretch of the timeline: its motion components, ground truth and data gaps."""

    start_s: float
    end_s: float
    components: list[tuple[str, Component]] = field(default_factory=list)
    rows: list[TruthRow] = field(default_factory=list)
    gaps: list[tuple[float, float]] = field(default_factory=list)

    def add(self, channel: str, comp: Component) -> None:
        self.components.append((channel, comp))


@dataclass(frozen=True)
class TremorStyle:
    """How a kind of tremor oscillates: rhythm, envelope and waveform."""

    jitter: tuple[float, float]  # per-cycle period jitter (sd, fraction of the period)
    wander_hz: float  # sd of the slow frequency drift
    wander_step_s: tuple[float, float]  # time between drift knots
    random_walk: bool  # drift accumulates (dystonic) or stays around the centre
    depth: tuple[float, float]  # sinusoidal amplitude modulation depth
    bursty: bool  # burst-like amplitude instead of a sinusoidal modulation
    harmonics: tuple[tuple[float, tuple[float, float]], ...]  # (multiple, coefficient range)
    ramp_s: tuple[float, float] = (0.3, 1.0)


STYLES: dict[str, TremorStyle] = {
    # Parkinsonian rest / essential postural tremor: regular, slowly modulated.
    "regular": TremorStyle((0.02, 0.05), 0.08, (4.0, 8.0), False, (0.1, 0.25), False, ((2.0, (0.01, 0.03)),)),
    # Dystonic tremor: irregular, jerky, wandering, in bursts.
    "dystonic": TremorStyle(
        (0.15, 0.22), 0.3, (0.6, 1.5), True, (0.0, 0.0), True, ((2.0, (0.06, 0.1)), (3.0, (0.015, 0.03)))
    ),
    # Orthostatic tremor: very coherent 13-18 Hz.
    "orthostatic": TremorStyle((0.01, 0.02), 0.1, (3.0, 6.0), False, (0.05, 0.15), False, ()),
    # Normal physiological tremor: narrow-band noise around 8-12 Hz.
    "physiological": TremorStyle((0.06, 0.1), 0.4, (0.5, 1.5), False, (0.0, 0.0), True, (), (0.5, 0.5)),
}


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _unit(v) -> tuple[float, float, float]:
    a = np.asarray(v, dtype=np.float64)
    a = a / np.linalg.norm(a)
    return (float(a[0]), float(a[1]), float(a[2]))


def angle_for_accel(
    amplitude_g: float,
    freq_hz: float,
    axis: tuple[float, float, float],
    lever_m: tuple[float, float, float],
    up: np.ndarray,
    waveform: Waveform,
) -> float:
    """Rotation amplitude (rad) whose acceleration oscillation peaks at ``amplitude_g``.

    A small rotation theta about unit ``axis`` with the sensor at ``lever_m``
    from it changes the specific force (in g) by theta''/g (axis x lever), the
    tangential part, and by -theta (axis x up), gravity re-projected. With
    theta = A w(phase) the oscillation is A [w'' w^2/g (a x r) - w (a x u)];
    its largest vector magnitude over a cycle is set to ``amplitude_g``.
    """
    a = np.asarray(axis, dtype=np.float64)
    omega = TWO_PI * freq_hz
    tangential = np.cross(a, lever_m) * omega**2 / STANDARD_GRAVITY_MPS2
    gravity = np.cross(a, up)
    phi = np.linspace(0.0, 4.0 * math.pi, 1024, endpoint=False)
    w, _, ddw = waveform.eval_phase(phi)
    v = ddw[:, None] * tangential[None, :] - w[:, None] * gravity[None, :]
    peak = float(np.linalg.norm(v, axis=1).max())
    return amplitude_g / peak


class Scene:
    """The body's state while a scenario is laid out, and the activity builders."""

    def __init__(
        self,
        body: BodyModel,
        rng: np.random.Generator,
        sample_rate_hz: float,
        frequency_hz: float | None = None,
        amplitude_g: float | None = None,
        posture_angle_deg: float | None = None,
        sway_deg: float | None = None,
    ) -> None:
        self.body = body
        self.rng = rng
        self.sample_rate_hz = sample_rate_hz
        self.bandwidth_hz = BANDWIDTH_FRACTION * sample_rate_hz
        self.frequency_override_hz = frequency_hz
        self.amplitude_override_g = amplitude_g
        self.posture_angle_override_deg = posture_angle_deg  # fixes every contraction's angle
        self.sway_override_deg = sway_deg  # fixes the natural sway of the head (0: none)
        self.pose: dict[str, float] = {j: 0.0 for j in body.posture_joints}  # rad
        self.position_m = np.zeros(3)
        self.initial_pose = dict(self.pose)  # where the body starts, before any motion
        self.pulse_sigma_s = max(0.01, 0.8 / sample_rate_hz)

    # ------------------------------------------------------------------ posture

    def set_pose(self, pose_deg: dict[str, float], position_m=None) -> None:
        """Place the body without motion (only before the first segment)."""
        for k, v in pose_deg.items():
            self.pose[k] = math.radians(v)
        if position_m is not None:
            self.position_m = np.asarray(position_m, dtype=np.float64)
        self.initial_pose = dict(self.pose)

    def move(
        self,
        seg: Segment,
        t0: float,
        pose_deg: dict[str, float],
        position_m=None,
        dur_s: float | None = None,
    ) -> float:
        """Smooth (minimum-jerk) voluntary move to a posture; returns when it ends."""
        deltas = {k: math.radians(v) - self.pose[k] for k, v in pose_deg.items()}
        dpos = np.zeros(3) if position_m is None else np.asarray(position_m) - self.position_m
        if dur_s is None:
            biggest_deg = max([abs(math.degrees(d)) for d in deltas.values()] + [0.0])
            dur_s = float(np.clip(0.7 + biggest_deg / 70.0 + np.linalg.norm(dpos) / 0.5, 0.8, 2.5))
        for k, d in deltas.items():
            if abs(d) > 1e-9:
                seg.add(k, Step(t0, dur_s, d))
                self.pose[k] += d
        for ch, d in zip(TRANSLATION_CHANNELS, dpos, strict=True):
            if abs(d) > 1e-9:
                seg.add(ch, Step(t0, dur_s, float(d)))
        self.position_m = self.position_m + dpos
        return t0 + dur_s

    def up_in_sensor(self) -> np.ndarray:
        """What the accelerometer reads (g) at the current posture, without motion."""
        return gravity_in_sensor(self.body.chain, self.pose)

    # ------------------------------------------------------------------ oscillations

    def _phase(self, t0: float, t1: float, f0: float, style: TremorStyle, lo: float, hi: float):
        rng = self.rng
        step = rng.uniform(*style.wander_step_s)
        knot_t = np.arange(t0 - step, t1 + 2 * step, step)
        if style.random_walk:
            # Mean-reverting wander (AR(1), coefficient 0.8): sd = wander_hz / 0.6.
            steps = rng.normal(0.0, style.wander_hz, knot_t.size)
            f = np.empty(knot_t.size)
            level = 0.0
            for i, step in enumerate(steps):
                level = 0.8 * level + step
                f[i] = f0 + level
        else:
            f = f0 + rng.normal(0.0, style.wander_hz, knot_t.size)
        base = PchipInterpolator(knot_t, np.clip(f, lo, hi))
        jitter = rng.uniform(*style.jitter)
        kt, kf = cycle_knots(rng, t0, t1, base, jitter, lo * 0.8, hi * 1.2)
        return PhaseTrack(kt, kf, rng.uniform(0.0, TWO_PI))

    def _envelope(self, t0: float, t1: float, ramp_on: float, ramp_off: float, style: TremorStyle):
        rng = self.rng
        window = Window(t0, t1, ramp_on, ramp_off)
        if not style.bursty:
            return Envelope(window, rng.uniform(*style.depth), rng.uniform(0.05, 0.3), rng.uniform(0, TWO_PI))
        spacing = rng.uniform(0.3, 1.0)
        mod_t = np.arange(t0 - spacing, t1 + 2 * spacing, spacing)
        gains = rng.gamma(2.0, 0.5, mod_t.size) + 0.15
        env = Envelope(window, mod_t=mod_t, mod_gain=gains)
        tt = np.linspace(t0 + ramp_on, t1 - ramp_off, 2000)
        rms = float(np.sqrt(np.mean(env.gain(tt)[0] ** 2))) if tt[-1] > tt[0] else 1.0
        return Envelope(window, mod_t=mod_t, mod_gain=gains / rms)

    def tremor(
        self,
        seg: Segment,
        onset_s: float,
        duration_s: float,
        style_name: str,
        freq_hz: float,
        amplitude_g: float,
        context: str,
        axis,
        *,
        channel: str = "tremor",
        trial_type: str = "tremor",
        lo_hz: float = 3.0,
        hi_hz: float = 7.0,
    ) -> TruthRow:
        """A tremor episode (or physiological tremor) with its ground-truth row."""
        if channel == "tremor":
            if self.frequency_override_hz is not None:
                freq_hz = self.frequency_override_hz
            if self.amplitude_override_g is not None:
                amplitude_g = self.amplitude_override_g
        if freq_hz * 1.1 > self.bandwidth_hz:
            raise ValueError(
                f"a {freq_hz:.1f} Hz tremor needs a sample rate of at least "
                f"{freq_hz * 1.1 / BANDWIDTH_FRACTION:.0f} Hz (the sensor's low-pass is at "
                f"{BANDWIDTH_FRACTION:g} x the rate); raise --rate"
            )
        style = STYLES[style_name]
        rng = self.rng
        ramp_on = rng.uniform(*style.ramp_s)
        ramp_off = rng.uniform(*style.ramp_s)
        t0 = onset_s - 0.5 * ramp_on
        t1 = onset_s + duration_s + 0.5 * ramp_off
        lo, hi = min(lo_hz, freq_hz), max(hi_hz, freq_hz)
        if not style.random_walk:
            lo, hi = freq_hz * 0.9, freq_hz * 1.1
        phase = self._phase(t0, t1, freq_hz, style, lo, hi)
        coefs = [1.0] + [rng.uniform(*c) for _, c in style.harmonics]
        mults = [1.0] + [m for m, _ in style.harmonics]
        phases = [0.0] + [rng.uniform(0, TWO_PI) for _ in style.harmonics]
        waveform = Waveform(tuple(mults), tuple(coefs), tuple(phases)).limited(
            phase.max_hz, self.bandwidth_hz
        )
        env = self._envelope(t0, t1, ramp_on, ramp_off, style)
        axis = _unit(axis) if channel == "tremor" else None
        joint_axis = axis
        if channel != "tremor":
            joint_axis = next(j.axis for j in self.body.chain if j.name == channel)
        scale = angle_for_accel(
            amplitude_g, freq_hz, joint_axis, self.body.lever_m, self.up_in_sensor(), waveform
        )
        seg.add(channel, Oscillator(phase, env, waveform, scale, axis=axis))
        w = waveform.eval_phase(np.linspace(0, 4 * math.pi, 512))[0]
        return TruthRow(
            onset_s,
            duration_s,
            trial_type,
            frequency_hz=phase.cycles_between(onset_s, onset_s + duration_s) / duration_s,
            amplitude_g=amplitude_g,
            regularity=phase.period_cv(onset_s, onset_s + duration_s),
            context=context,
            angle_deg=math.degrees(scale * float(np.abs(w).max())),
        )

    def heel_strikes(
        self, seg: Segment, phase, t0: float, t1: float, peak_mps2: tuple[float, float], min_sigma_s: float
    ) -> None:
        """One vertical jolt per step, at a fixed phase of the step cycle (wrist or head)."""
        rng = self.rng
        tt = np.arange(t0 + 1.5, t1 - 1.5, 0.002)
        if tt.size > 2:
            cyc = (phase.eval(tt)[0] - phase.phase0_rad) / TWO_PI + rng.uniform(0, 1)
            k = np.arange(math.ceil(cyc[0]), math.floor(cyc[-1]) + 1)
            times = np.interp(k, cyc, tt)
            if times.size:
                acc = rng.uniform(*peak_mps2) * (1.0 + 0.2 * rng.standard_normal(times.size))
                seg.add("tz", Bumps(times, acc, max(min_sigma_s, self.pulse_sigma_s)))

    def physiological(self, seg: Segment, t0: float, t1: float, amplitude_g: float) -> None:
        """Normal physiological tremor (8-12 Hz, a few mg) on two axes, faded in and out."""
        if t1 - t0 < 2.0:
            return
        f0 = float(min(self.rng.uniform(8.0, 12.0), self.bandwidth_hz / 1.15))
        rows = []
        for ch in ("phys_a", "phys_b"):
            rows.append(
                self.tremor(
                    seg,
                    t0 + 0.25,
                    t1 - t0 - 0.5,
                    "physiological",
                    f0,
                    amplitude_g / math.sqrt(2.0),
                    "",
                    None,
                    channel=ch,
                    trial_type="physiological_tremor",
                    lo_hz=f0 - 1.5,
                    hi_hz=f0 + 1.5,
                )
            )
        r = rows[0]
        r.amplitude_g = amplitude_g
        r.context = None
        r.angle_deg = math.nan
        seg.rows.append(r)

    def drift(
        self,
        seg: Segment,
        t0: float,
        t1: float,
        max_deg: float,
        f_lo: float,
        f_hi: float,
        joints: tuple[str, ...],
    ) -> None:
        """Slow small rotations (rest drift, postural sway): a few sinusoids per joint."""
        for j in joints:
            n = 3
            freqs = self.rng.uniform(f_lo, f_hi, n)
            amps = self.rng.uniform(0.3, 1.0, n) / freqs  # slower sway is larger
            amps = np.radians(amps / amps.sum() * self.rng.uniform(0.5, 1.0) * max_deg)
            seg.add(
                j,
                Sines(t0, t1, freqs, amps, self.rng.uniform(0, TWO_PI, n), ramp_s=min(2.0, 0.25 * (t1 - t0))),
            )

    # ------------------------------------------------------------------ activities

    def rest(self, seg: Segment, t0: float, t1: float, physio_g: float | None = None) -> None:
        """Limb supported, almost still: tiny 0.1-0.5 Hz drift under 1 deg, physiological tremor."""
        p = self.body.posture_joints
        joints = ("pitch", "roll") if "roll" in p else p[-2:]
        self.drift(seg, t0, t1, 0.6, 0.1, 0.5, joints)
        self.physiological(seg, t0, t1, physio_g or self.rng.uniform(0.001, 0.0025))
        seg.rows.append(TruthRow(t0, t1 - t0, "rest"))

    def posture(self, seg: Segment, t0: float, t1: float) -> None:
        """Limb held against gravity: 0.2-2 Hz sway of 0.5-2 deg plus physiological tremor."""
        joints = tuple(j for j in ("yaw", "pitch", "roll", "flex", "tilt") if j in self.pose)
        if self.body.placement == "leg":  # standing: whole-body sway, slower
            self.drift(seg, t0, t1, self.rng.uniform(0.5, 1.5), 0.1, 1.0, ("pitch", "roll"))
        else:
            self.drift(seg, t0, t1, self.rng.uniform(0.5, 2.0), 0.2, 2.0, joints)
        self.physiological(seg, t0, t1, self.rng.uniform(0.002, 0.004))
        seg.rows.append(TruthRow(t0, t1 - t0, "posture"))

    def walking(self, seg: Segment, t0: float, t1: float) -> None:
        """Gait at 1.6-2.1 steps/s: bounce with harmonics, heel strikes, arm swing, trunk yaw."""
        rng = self.rng
        cadence = rng.uniform(1.6, 2.1)
        style = TremorStyle((0.015, 0.03), 0.04, (4.0, 8.0), False, (0.0, 0.1), False, ())
        phase = self._phase(t0, t1, cadence, style, cadence * 0.9, cadence * 1.1)
        window = Window(t0, t1, 1.5, 1.5)
        env = Envelope(window, rng.uniform(0.0, 0.1), rng.uniform(0.02, 0.1), rng.uniform(0, TWO_PI))
        swing_rad = math.radians(rng.uniform(20.0, 30.0))
        seg.add(
            "swing",
            Oscillator(
                phase,
                env,
                Waveform((0.5, 1.5), (swing_rad, 0.06 * swing_rad), (0.0, rng.uniform(0, TWO_PI))),
                1.0,
            ),
        )
        seg.add(
            "heading",
            Oscillator(
                phase,
                env,
                Waveform((0.5,), (math.radians(rng.uniform(3.0, 6.0)),), (rng.uniform(0, TWO_PI),)),
                1.0,
            ),
        )
        bw = self.bandwidth_hz / (cadence * 1.1)
        bounce = [
            (1.0, rng.uniform(0.02, 0.03)),
            (2.0, rng.uniform(0.003, 0.006)),
            (3.0, rng.uniform(0.001, 0.002)),
        ]
        bounce = [(m, c) for m, c in bounce if m <= bw]
        seg.add(
            "tz",
            Oscillator(
                phase,
                env,
                Waveform(
                    tuple(m for m, _ in bounce),
                    tuple(c for _, c in bounce),
                    tuple(rng.uniform(0, TWO_PI) for _ in bounce),
                ),
                1.0,
            ),
        )
        seg.add(
            "tx",
            Oscillator(
                phase,
                env,
                Waveform(
                    (1.0, 2.0),
                    (rng.uniform(0.005, 0.012), rng.uniform(0.001, 0.002)),
                    (rng.uniform(0, TWO_PI), rng.uniform(0, TWO_PI)),
                ),
                1.0,
            ),
        )
        seg.add(
            "ty",
            Oscillator(
                phase, env, Waveform((0.5,), (rng.uniform(0.015, 0.03),), (rng.uniform(0, TWO_PI),)), 1.0
            ),
        )
        self.heel_strikes(seg, phase, t0, t1, (2.0, 5.0), 0.015)
        self.physiological(seg, t0, t1, rng.uniform(0.001, 0.003))
        seg.rows.append(
            TruthRow(t0, t1 - t0, "walking", frequency_hz=phase.cycles_between(t0, t1) / (t1 - t0))
        )

    def gesture(self, seg: Segment, t0: float, t1_max: float, home_deg: dict[str, float], home_pos) -> float:
        """One voluntary gesture or reach (1-10 s): 1-3 smooth strokes and back; returns its end."""
        rng = self.rng
        t = t0
        strokes = int(rng.integers(1, 4))
        joints = [j for j in ("yaw", "pitch", "roll", "flex") if j in self.pose]
        for _ in range(strokes):
            total = rng.uniform(20.0, 90.0)
            chosen = rng.choice(joints, size=int(rng.integers(1, 4)), replace=False)
            share = rng.dirichlet(np.ones(len(chosen)))
            target = {
                j: home_deg[j] + float(rng.choice([-1, 1]) * total * s)
                for j, s in zip(chosen, share, strict=True)
            }
            direction = rng.normal(size=3)
            direction /= np.linalg.norm(direction)
            pos = np.asarray(home_pos) + direction * rng.uniform(0.1, 0.5)
            dur = rng.uniform(0.6, 2.0)
            if t + dur + 1.5 > t1_max:
                break
            t = self.move(seg, t, target, pos, dur) + rng.uniform(0.0, 0.8)
        t = self.move(seg, t, home_deg, home_pos, rng.uniform(0.7, 1.8))
        seg.rows.append(TruthRow(t0, t - t0, "gesture"))
        return t

    def typing(self, seg: Segment, t0: float, t1: float) -> None:
        """Keystroke transients (5-8/s, 30-200 mg) in words, with small wrist shifts."""
        rng = self.rng
        rate = rng.uniform(5.0, 8.0)
        times: list[float] = []
        t = t0 + 0.3
        while t < t1 - 0.5:
            for _ in range(int(rng.integers(3, 9))):
                t += rng.gamma(4.0, 1.0 / (4.0 * rate))
                if t >= t1 - 0.3:
                    break
                times.append(t)
            t += rng.uniform(0.1, 0.4) if rng.random() > 0.1 else rng.uniform(1.0, 3.0)
        if times:
            n = len(times)
            peak = np.array([_log_uniform(rng, 0.03, 0.2) for _ in range(n)]) * STANDARD_GRAVITY_MPS2
            d = np.column_stack([rng.uniform(-0.3, 0.3, n), rng.uniform(-0.3, 0.3, n), -np.ones(n)])
            d /= np.linalg.norm(d, axis=1, keepdims=True)
            for i, ch in enumerate(TRANSLATION_CHANNELS):
                seg.add(ch, Bumps(np.array(times), peak * d[:, i], self.pulse_sigma_s))
        # The hand shifts across the keyboard every few seconds.
        home = {j: math.degrees(self.pose[j]) for j in ("yaw", "flex")}
        home_pos = self.position_m.copy()
        t = t0 + rng.uniform(1.0, 4.0)
        while t < t1 - 1.0:
            target = {"yaw": home["yaw"] + rng.uniform(-8, 8), "flex": home["flex"] + rng.uniform(-4, 4)}
            pos = home_pos + np.array([rng.uniform(-0.02, 0.02), rng.uniform(-0.05, 0.05), 0.0])
            t = self.move(seg, t, target, pos, rng.uniform(0.4, 0.9)) + rng.uniform(1.5, 5.0)
        self.physiological(seg, t0, t1, rng.uniform(0.001, 0.003))
        seg.rows.append(TruthRow(t0, t1 - t0, "typing"))

    def vehicle(self, seg: Segment, t0: float, t1: float) -> None:
        """Riding in a vehicle, hand resting: translational road vibration, engine line, bumps."""
        rng = self.rng
        top = min(30.0, self.bandwidth_hz)
        t = t0
        while t < t1:
            te = min(t1, t + rng.uniform(20.0, 90.0))
            if t1 - te < 10.0:
                te = t1
            rms_g = rng.uniform(0.01, 0.1)
            for ch, share in zip(TRANSLATION_CHANNELS, (0.5, 0.4, 1.0), strict=True):
                f = np.sort(rng.uniform(1.0, top, 40))
                shape = 1.0 / np.sqrt(f) * (1.0 + 2.0 / (1.0 + ((f - rng.uniform(4, 6)) / 1.5) ** 2))
                amps = shape / np.sqrt(np.sum(shape**2) / 2.0) * rms_g * share * STANDARD_GRAVITY_MPS2
                seg.add(
                    ch,
                    Sines.from_accel(
                        max(t0, t - 1.0),
                        min(t1, te + 1.0),
                        f,
                        amps,
                        rng.uniform(0, TWO_PI, f.size),
                        ramp_s=2.0,
                    ),
                )
            t = te
        engine_hz = rng.uniform(25.0, 35.0)
        if engine_hz * 1.15 <= self.bandwidth_hz:
            style = TremorStyle((0.002, 0.005), 1.5, (3.0, 10.0), True, (0.05, 0.2), False, ())
            phase = self._phase(t0, t1, engine_hz, style, 25.0, 35.0)
            env = Envelope(Window(t0, t1, 2.0, 2.0), 0.2, 0.05, rng.uniform(0, TWO_PI))
            amp_m = rng.uniform(0.005, 0.02) * STANDARD_GRAVITY_MPS2 / (TWO_PI * engine_hz) ** 2
            seg.add("tz", Oscillator(phase, env, Waveform(), amp_m))
            seg.add("tx", Oscillator(phase, env, Waveform((1.0,), (0.5,), (1.0,)), amp_m))
        n = rng.poisson((t1 - t0) / rng.uniform(5.0, 20.0))
        if n:
            times = np.sort(rng.uniform(t0 + 1.0, t1 - 1.0, n))
            seg.add(
                "tz", Bumps(times, rng.uniform(0.1, 0.3, n) * STANDARD_GRAVITY_MPS2, rng.uniform(0.03, 0.08))
            )
        self.drift(seg, t0, t1, 0.5, 0.1, 0.5, ("pitch", "roll"))
        self.physiological(seg, t0, t1, rng.uniform(0.001, 0.0025))
        seg.rows.append(TruthRow(t0, t1 - t0, "vehicle"))

    def toothbrushing(self, seg: Segment, t0: float, t1: float) -> None:
        """Hand at the mouth: 3-5 Hz back-and-forth translation (0.3-1 g), repositioned every few s."""
        rng = self.rng
        home = {j: math.degrees(self.pose[j]) for j in ("yaw", "pitch", "roll")}
        home_pos = self.position_m.copy()
        f_bout = rng.uniform(3.0, 5.0)
        t = t0
        freqs, amps, durs = [], [], []
        while t < t1 - 2.0:
            dur = min(rng.uniform(3.0, 8.0), t1 - t)
            f = float(np.clip(f_bout + rng.normal(0, 0.2), 3.0, 5.0))
            amp_g = rng.uniform(0.3, 1.0)
            d = np.array(
                [rng.uniform(-1, 1), rng.choice([-1, 1]) * rng.uniform(0.5, 1.0), rng.uniform(-0.4, 0.4)]
            )
            d /= np.linalg.norm(d)
            style = TremorStyle((0.03, 0.06), 0.1, (2.0, 4.0), False, (0.05, 0.15), False, ())
            phase = self._phase(t, t + dur, f, style, f * 0.85, f * 1.15)
            env = Envelope(
                Window(t, t + dur, 0.3, 0.3),
                rng.uniform(0.05, 0.15),
                rng.uniform(0.2, 0.5),
                rng.uniform(0, TWO_PI),
            )
            wave = Waveform((1.0, 2.0), (1.0, 0.08), (0.0, rng.uniform(0, TWO_PI)))
            amp_m = amp_g * STANDARD_GRAVITY_MPS2 / (TWO_PI * f) ** 2
            for ch, di in zip(TRANSLATION_CHANNELS, d, strict=True):
                seg.add(ch, Oscillator(phase, env, wave, amp_m * float(di)))
            freqs.append(phase.cycles_between(t, t + dur) / dur)
            amps.append(amp_g)
            durs.append(dur)
            t += dur
            if t < t1 - 3.0:
                target = {j: v + rng.uniform(-35, 35) for j, v in home.items()}
                pos = home_pos + rng.normal(0, 0.04, 3)
                t = self.move(seg, t, target, pos, rng.uniform(0.5, 1.2))
        self.physiological(seg, t0, t1, rng.uniform(0.002, 0.004))
        w = np.asarray(durs) / max(sum(durs), 1e-9)
        seg.rows.append(
            TruthRow(
                t0,
                t1 - t0,
                "toothbrushing",
                frequency_hz=float(np.dot(w, freqs)) if freqs else math.nan,
                amplitude_g=float(np.dot(w, amps)) if amps else math.nan,
            )
        )
