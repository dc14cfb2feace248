"""The bodies the tremor scenarios put the limb in, and what tremor each hold carries.

Poses are joint angles (deg) and a sensor position (m) for :class:`Scene`; a
:class:`TremorSpec` draws one episode's band, amplitude and axis. Shared by :mod:`scenarios`
and :mod:`family`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firmware_bridge.simulation.activities import Scene, Segment, _log_uniform
from firmware_bridge.simulation.sensor import BANDWIDTH_FRACTION

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
