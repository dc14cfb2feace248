"""Scalar motion signals with exact first and second time derivatives.

Every motion channel of the simulated body (a joint angle in rad, or a
translation of the body in m) is a sum of the components defined here. Each
component evaluates to a :data:`Triple` ``(x, dx/dt, d2x/dt2)`` so the
accelerometer and the gyroscope are derived from the same motion analytically,
exactly at any output rate (no numerical differentiation, no oversampling).

A component is zero before ``start_s``, takes the value ``hold`` after
``end_s`` (zero for everything except :class:`Step`) and is smooth (C2) across
both ends, so the accelerations it implies have no jumps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import PchipInterpolator

#: (value, first derivative, second derivative), each shape (n,).
Triple = tuple[np.ndarray, np.ndarray, np.ndarray]

TWO_PI = 2.0 * math.pi


def zeros(n: int) -> Triple:
    """A zero triple of length ``n``."""
    return (np.zeros(n), np.zeros(n), np.zeros(n))


def product(a: Triple, b: Triple) -> Triple:
    """Product rule for two triples."""
    return (a[0] * b[0], a[1] * b[0] + a[0] * b[1], a[2] * b[0] + 2.0 * a[1] * b[1] + a[0] * b[2])


def min_jerk(t: np.ndarray, t0: float, dur_s: float) -> Triple:
    """Minimum-jerk ramp from 0 (before ``t0``) to 1 (after ``t0 + dur_s``).

    The quintic 10u^3 - 15u^4 + 6u^5 (Flash & Hogan 1985) has zero velocity and
    acceleration at both ends: the profile of smooth voluntary movements, and a
    C2 fade for every other component.
    """
    u = np.clip((np.asarray(t, dtype=np.float64) - t0) / dur_s, 0.0, 1.0)
    s = u**3 * (10.0 - 15.0 * u + 6.0 * u * u)
    ds = 30.0 * u * u * (1.0 - u) ** 2 / dur_s
    dds = 60.0 * u * (1.0 - u) * (1.0 - 2.0 * u) / dur_s**2
    return (s, ds, dds)


class Component:
    """Base class: a scalar signal with support ``[start_s, end_s]``."""

    start_s: float
    end_s: float
    hold: float = 0.0  # value after end_s

    def eval(self, t: np.ndarray) -> Triple:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass
class Step(Component):
    """A smooth change of ``delta`` over ``[t0, t0 + dur_s]`` (a posture change, a reach)."""

    t0: float
    dur_s: float
    delta: float

    def __post_init__(self) -> None:
        self.start_s = self.t0
        self.end_s = self.t0 + self.dur_s
        self.hold = self.delta

    def eval(self, t: np.ndarray) -> Triple:
        s, ds, dds = min_jerk(t, self.t0, self.dur_s)
        return (self.delta * s, self.delta * ds, self.delta * dds)


@dataclass
class Window:
    """Smooth on/off window: 0 -> 1 over ``ramp_on_s`` from ``t0``, 1 -> 0 ending at ``t1``."""

    t0: float
    t1: float
    ramp_on_s: float
    ramp_off_s: float

    def eval(self, t: np.ndarray) -> Triple:
        on = min_jerk(t, self.t0, self.ramp_on_s)
        off = min_jerk(t, self.t1 - self.ramp_off_s, self.ramp_off_s)
        return product(on, (1.0 - off[0], -off[1], -off[2]))


@dataclass
class Sines(Component):
    """A windowed sum of sinusoids: sway, drift, broadband vibration.

    ``amps`` are amplitudes of the channel itself (rad or m). Use
    :meth:`from_accel` to give translational vibration by its acceleration.
    """

    t0: float
    t1: float
    freqs_hz: np.ndarray
    amps: np.ndarray
    phases_rad: np.ndarray
    ramp_s: float = 1.0

    def __post_init__(self) -> None:
        self.freqs_hz = np.asarray(self.freqs_hz, dtype=np.float64)
        self.amps = np.asarray(self.amps, dtype=np.float64)
        self.phases_rad = np.asarray(self.phases_rad, dtype=np.float64)
        self.start_s, self.end_s = self.t0, self.t1
        ramp = min(self.ramp_s, 0.5 * (self.t1 - self.t0))
        self._window = Window(self.t0, self.t1, ramp, ramp)

    @classmethod
    def from_accel(cls, t0: float, t1: float, freqs_hz, accel_amps, phases_rad, ramp_s=1.0) -> Sines:
        """Sinusoids given by acceleration amplitude (m/s^2) instead of displacement."""
        f = np.asarray(freqs_hz, dtype=np.float64)
        return cls(t0, t1, f, np.asarray(accel_amps) / (TWO_PI * f) ** 2, phases_rad, ramp_s)

    def eval(self, t: np.ndarray) -> Triple:
        t = np.asarray(t, dtype=np.float64)
        x = np.zeros_like(t)
        dx = np.zeros_like(t)
        ddx = np.zeros_like(t)
        # Chunk over components to bound temporary memory for long windows.
        for i in range(0, self.freqs_hz.size, 16):
            w = TWO_PI * self.freqs_hz[i : i + 16, None]
            arg = w * t[None, :] + self.phases_rad[i : i + 16, None]
            a = self.amps[i : i + 16, None]
            s, c = np.sin(arg), np.cos(arg)
            x += (a * s).sum(axis=0)
            dx += (a * w * c).sum(axis=0)
            ddx -= (a * w * w * s).sum(axis=0)
        return product(self._window.eval(t), (x, dx, ddx))


class PhaseTrack:
    """Phase of a quasi-periodic rhythm with a smoothly varying frequency.

    The instantaneous frequency is a monotone cubic (PCHIP) through per-cycle
    knots, so it stays inside the knot range, is C1, and its integral (the
    phase) is exact. Per-cycle period jitter and slow wandering are put in the
    knots by the caller; see :func:`cycle_knots`.
    """

    def __init__(self, knot_t: np.ndarray, knot_hz: np.ndarray, phase0_rad: float = 0.0) -> None:
        knot_t = np.asarray(knot_t, dtype=np.float64)
        knot_hz = np.asarray(knot_hz, dtype=np.float64)
        if knot_t.size < 2:
            knot_t = np.array([knot_t[0] - 1.0, knot_t[0] + 1.0])
            knot_hz = np.array([knot_hz[0], knot_hz[0]])
        self.t_first, self.t_last = float(knot_t[0]), float(knot_t[-1])
        self._f = PchipInterpolator(knot_t, knot_hz, extrapolate=True)
        self._df = self._f.derivative()
        self._F = self._f.antiderivative()
        self._f_first, self._f_last = float(knot_hz[0]), float(knot_hz[-1])
        self._F_last = float(self._F(self.t_last))
        self.phase0_rad = phase0_rad
        self.max_hz = float(knot_hz.max())

    def frequency(self, t: np.ndarray) -> np.ndarray:
        """Instantaneous frequency (Hz), held constant outside the knots."""
        t = np.asarray(t, dtype=np.float64)
        return np.where(
            t < self.t_first,
            self._f_first,
            np.where(t > self.t_last, self._f_last, self._f(np.clip(t, self.t_first, self.t_last))),
        )

    def eval(self, t: np.ndarray) -> Triple:
        """Phase (rad) and its derivatives."""
        t = np.asarray(t, dtype=np.float64)
        tc = np.clip(t, self.t_first, self.t_last)
        cycles = self._F(tc)
        cycles = cycles + np.where(t < self.t_first, (t - self.t_first) * self._f_first, 0.0)
        cycles = cycles + np.where(t > self.t_last, (t - self.t_last) * self._f_last, 0.0)
        inside = (t >= self.t_first) & (t <= self.t_last)
        f = self.frequency(t)
        df = np.where(inside, self._df(tc), 0.0)
        return (TWO_PI * cycles + self.phase0_rad, TWO_PI * f, TWO_PI * df)

    def cycles_between(self, t0: float, t1: float) -> float:
        """Number of cycles between two times."""
        p = self.eval(np.array([t0, t1]))[0]
        return float(p[1] - p[0]) / TWO_PI

    def period_cv(self, t0: float, t1: float) -> float:
        """Coefficient of variation of the realised cycle periods in ``[t0, t1]``."""
        step = 1.0 / (40.0 * self.max_hz)
        t = np.arange(t0, t1, step)
        if t.size < 4:
            return float("nan")
        cycles = (self.eval(t)[0] - self.phase0_rad) / TWO_PI
        k = np.arange(math.ceil(cycles[0]), math.floor(cycles[-1]) + 1)
        if k.size < 3:
            return float("nan")
        crossings = np.interp(k, cycles, t)
        periods = np.diff(crossings)
        return float(periods.std() / periods.mean())


def cycle_knots(
    rng: np.random.Generator,
    t0: float,
    t1: float,
    base_hz: PchipInterpolator | float,
    jitter: float,
    min_hz: float,
    max_hz: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Frequency knots, one per cycle, with per-cycle period jitter.

    Cycles are laid end to end from ``t0``; each period is ``1/base_hz(t)``
    times ``1 + jitter * N(0, 1)`` (clipped to +/-2.5 sd and to the frequency
    limits). Knots sit at cycle midpoints, plus one before ``t0``. The cycle
    times are found by a few fixed-point passes (the base frequency changes
    slowly), so long rhythms need no Python loop per cycle.
    """
    n = int(math.ceil((t1 - t0 + 1.0) * max_hz)) + 2
    z = np.clip(rng.standard_normal(n), -2.5, 2.5)
    f_start = float(base_hz(t0)) if callable(base_hz) else float(base_hz)
    starts = t0 + np.arange(n) / f_start
    for _ in range(4):
        fb = base_hz(starts) if callable(base_hz) else np.full(n, float(base_hz))
        periods = np.clip((1.0 / np.asarray(fb)) * (1.0 + jitter * z), 1.0 / max_hz, 1.0 / min_hz)
        starts = t0 + np.concatenate(([0.0], np.cumsum(periods)[:-1]))
    keep = int(np.searchsorted(starts, t1 + 1.0)) + 1
    mids = (starts + 0.5 * periods)[:keep]
    freqs = (1.0 / periods)[:keep]
    knot_t = np.concatenate(([t0 - 1.0], mids))
    knot_f = np.concatenate(([freqs[0]], freqs))
    return knot_t, knot_f


@dataclass
class Waveform:
    """A periodic waveform w(phase) = sum c_k sin(m_k phase + psi_k), with derivatives in phase."""

    mults: Sequence[float] = (1.0,)
    coefs: Sequence[float] = (1.0,)
    phases_rad: Sequence[float] = (0.0,)

    def eval_phase(self, phi: np.ndarray) -> Triple:
        w = np.zeros_like(phi)
        dw = np.zeros_like(phi)
        ddw = np.zeros_like(phi)
        for m, c, p in zip(self.mults, self.coefs, self.phases_rad, strict=True):
            s, co = np.sin(m * phi + p), np.cos(m * phi + p)
            w += c * s
            dw += c * m * co
            ddw -= c * m * m * s
        return (w, dw, ddw)

    def limited(self, max_hz: float, bandwidth_hz: float) -> Waveform:
        """Drop harmonics that a sensor of ``bandwidth_hz`` would filter out."""
        keep = [i for i, m in enumerate(self.mults) if m * max_hz <= bandwidth_hz or i == 0]
        return Waveform(
            tuple(self.mults[i] for i in keep),
            tuple(self.coefs[i] for i in keep),
            tuple(self.phases_rad[i] for i in keep),
        )


@dataclass
class Envelope:
    """Amplitude envelope: a smooth window times an optional slow modulation.

    ``mod_t``/``mod_gain`` (PCHIP) give burst-like modulation; ``depth`` and
    ``mod_hz`` a sinusoidal one: gain = 1 + depth * sin(2 pi mod_hz t + mod_phase).
    """

    window: Window
    depth: float = 0.0
    mod_hz: float = 0.1
    mod_phase_rad: float = 0.0
    mod_t: np.ndarray | None = None
    mod_gain: np.ndarray | None = None
    _pchip: PchipInterpolator | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.mod_t is not None and self.mod_gain is not None:
            self._pchip = PchipInterpolator(self.mod_t, self.mod_gain, extrapolate=True)
            self._dp = self._pchip.derivative()
            self._ddp = self._dp.derivative()

    def gain(self, t: np.ndarray) -> Triple:
        """The modulation alone (no window)."""
        t = np.asarray(t, dtype=np.float64)
        if self._pchip is not None:
            return (self._pchip(t), self._dp(t), self._ddp(t))
        w = TWO_PI * self.mod_hz
        arg = w * t + self.mod_phase_rad
        return (
            1.0 + self.depth * np.sin(arg),
            self.depth * w * np.cos(arg),
            -self.depth * w * w * np.sin(arg),
        )

    def eval(self, t: np.ndarray) -> Triple:
        return product(self.window.eval(t), self.gain(t))


@dataclass
class Oscillator(Component):
    """``scale * envelope(t) * waveform(phase(t))``: a tremor, a gait rhythm, a brushing stroke."""

    phase: PhaseTrack
    envelope: Envelope
    waveform: Waveform
    scale: float
    axis: tuple[float, float, float] | None = None  # for the per-episode tremor joint axis

    def __post_init__(self) -> None:
        self.start_s = self.envelope.window.t0
        self.end_s = self.envelope.window.t1

    def eval(self, t: np.ndarray) -> Triple:
        phi, dphi, ddphi = self.phase.eval(t)
        w, dw, ddw = self.waveform.eval_phase(phi)
        wt = (w, dw * dphi, ddw * dphi * dphi + dw * ddphi)
        env = self.envelope.eval(t)
        x, dx, ddx = product(env, wt)
        return (self.scale * x, self.scale * dx, self.scale * ddx)


@dataclass
class Bumps(Component):
    """Zero-net translational jolts (heel strikes, keystrokes, road bumps).

    Each jolt is a Gaussian displacement bump whose acceleration is a Ricker
    wavelet peaking at ``accel[i]`` (m/s^2) at ``times[i]``: it has zero net
    velocity and displacement change, as a real jolt of a body part has.
    """

    times: np.ndarray
    accel: np.ndarray
    sigma_s: float

    def __post_init__(self) -> None:
        order = np.argsort(self.times)
        self.times = np.asarray(self.times, dtype=np.float64)[order]
        self.accel = np.asarray(self.accel, dtype=np.float64)[order]
        half = 8.0 * self.sigma_s
        self.start_s = float(self.times[0] - half) if self.times.size else 0.0
        self.end_s = float(self.times[-1] + half) if self.times.size else 0.0

    def eval(self, t: np.ndarray) -> Triple:
        t = np.asarray(t, dtype=np.float64)
        out = zeros(t.size)
        if t.size == 0 or self.times.size == 0:
            return out
        half = 8.0 * self.sigma_s
        lo = np.searchsorted(self.times, t[0] - half)
        hi = np.searchsorted(self.times, t[-1] + half)
        s2 = self.sigma_s**2
        for tc, a in zip(self.times[lo:hi], self.accel[lo:hi], strict=True):
            i0, i1 = np.searchsorted(t, (tc - half, tc + half))
            tau = t[i0:i1] - tc
            g = np.exp(-0.5 * tau * tau / s2)
            out[0][i0:i1] += -a * s2 * g
            out[1][i0:i1] += a * tau * g
            out[2][i0:i1] += a * g * (1.0 - tau * tau / s2)
        return out
