"""Daily voluntary activities a scene lays out: walking, gestures, typing, vehicle rides and
toothbrushing (the things a tremor detector must not call tremor).

:class:`DailyActivities` is mixed into :class:`activities.Scene`, whose pose, movement and
tremor builders (``move``, ``physiological``, ``drift``, ``heel_strikes``, ``_phase``) these
methods use.
"""

from __future__ import annotations

import math

import numpy as np

from firmware_bridge.simulation.kinematics import STANDARD_GRAVITY_MPS2
from firmware_bridge.simulation.scene_records import (
    TRANSLATION_CHANNELS,
    Segment,
    TremorStyle,
    TruthRow,
    _log_uniform,
)
from firmware_bridge.simulation.signals import (
    TWO_PI,
    Bumps,
    Envelope,
    Oscillator,
    Sines,
    Waveform,
    Window,
)


class DailyActivities:
    """Builders of the voluntary daily activities (a mixin of :class:`activities.Scene`)."""

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
