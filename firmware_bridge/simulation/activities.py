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

import numpy as np
from scipy.interpolate import PchipInterpolator

from firmware_bridge.simulation.body import BodyModel
from firmware_bridge.simulation.daily_activities import DailyActivities
from firmware_bridge.simulation.kinematics import gravity_in_sensor
from firmware_bridge.simulation.scene_records import (  # noqa: F401 - re-exported
    STYLES,
    TRANSLATION_CHANNELS,
    TRIAL_TYPES,
    Segment,
    TremorStyle,
    TruthRow,
    _log_uniform,
    _unit,
    angle_for_accel,
)
from firmware_bridge.simulation.sensor import BANDWIDTH_FRACTION
from firmware_bridge.simulation.signals import (
    TWO_PI,
    Bumps,
    Envelope,
    Oscillator,
    PhaseTrack,
    Sines,
    Step,
    Waveform,
    Window,
    cycle_knots,
)


class Scene(DailyActivities):
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
