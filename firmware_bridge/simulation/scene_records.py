"""The simulator's ground-truth records and shared helpers: what a scenario writes down.

:class:`TruthRow` is one BIDS ``events.tsv`` row, :class:`Segment` a stretch of motion
components with its rows, :class:`TremorStyle` how a tremor's phase and envelope wander.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from firmware_bridge.simulation.kinematics import STANDARD_GRAVITY_MPS2
from firmware_bridge.simulation.signals import (
    TWO_PI,
    Component,
    Waveform,
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
    "stirring",
    "scratching",
    "clapping",
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
    # Jerky tremor: regular rhythm, strongly non-sinusoidal (harmonics), deeply modulated.
    "jerky": TremorStyle(
        (0.03, 0.08), 0.1, (3.0, 6.0), False, (0.3, 0.7), False, ((2.0, (0.2, 0.6)), (3.0, (0.05, 0.3)))
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
