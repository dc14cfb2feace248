"""Placements: the joint chain that carries the sensor, and its axis conventions.

Sensor axes (the convention of ``recordings/README.md``):

- wrist (watch on the back of the wrist): x toward the fingers, y toward the
  thumb side, z out of the back of the hand; forearm horizontal, palm down
  => acc = (0, 0, +1) g.
- neck/head: x forward (nose), y to the person's left, z up; upright => (0, 0, +1) g.
- leg (front of the thigh, for orthostatic tremor): x forward (out of the
  front of the leg), y to the person's left, z up along the leg toward the
  hip; standing => (0, 0, +1) g, seated (thigh horizontal) => (+1, 0, 0) g.

World frame: X forward, Y left, Z up. Joint angles are in the chain's order
(yaw about Z, then pitch about Y, then roll about X, ...), so a posture is a
plain set of angles and slow posture offsets (the dystonic postures of phase
2) are more joints in the same chain: they compose with everything else.

Wrist and neck chains carry three contraction joints (``CONTRACTION_JOINTS``)
right before the sensor, about the sensor's own z, y and x axes: a dystonic
posture or spasm (phase 2, :mod:`postures`) turns one of them away from zero
and back, so its angle is exactly the deviation from the neutral posture in
the sensor frame, with the sign conventions of ``recordings/README.md``.
Joints that never move cost nothing and change no reading.

Every chain ends with two fixed-axis joints for physiological tremor and a
tremor joint whose axis is set per episode (e.g. pronation-supination about
the forearm's x axis for parkinsonian rest tremor, flexion-extension about y
for essential tremor). The tremor joint's offset is the lever arm from the
oscillation axis to the sensor (3-10 cm at the wrist), drawn per recording.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firmware_bridge.simulation.kinematics import X_AXIS, Y_AXIS, Z_AXIS, Joint

PLACEMENTS: tuple[str, ...] = ("wrist", "neck", "leg")

#: Joints that hold postures (set by transitions), per placement.
POSTURE_JOINTS: dict[str, tuple[str, ...]] = {
    "wrist": ("heading", "swing", "yaw", "pitch", "roll", "flex", "dev"),
    "neck": ("heading", "trunk_pitch", "trunk_roll", "rot", "flex", "tilt"),
    "leg": ("heading", "pitch", "roll"),
}

#: Dystonic posture joints about the sensor's z, y and x axes (rotation, pitch, roll).
CONTRACTION_JOINTS: tuple[str, str, str] = ("contraction_z", "contraction_y", "contraction_x")

#: Shoulder-to-wrist vector of a hanging arm in the swing joint's frame (m): the
#: pendulum of arm swing while walking (shoulder lateral to the trunk axis).
ARM_SWING_OFFSET_M = (0.0, -0.18, -0.55)


@dataclass(frozen=True)
class BodyModel:
    """The chain for one placement, with the recording's tremor lever arm."""

    placement: str
    chain: tuple[Joint, ...]
    lever_m: tuple[float, float, float]  # tremor joint -> sensor, in the sensor frame

    @property
    def posture_joints(self) -> tuple[str, ...]:
        return POSTURE_JOINTS[self.placement]


def make_body(placement: str, rng: np.random.Generator) -> BodyModel:
    """The chain for ``placement`` with a lever arm drawn from ``rng``."""
    if placement == "wrist":
        # Sensor on the back of the wrist: distal of the forearm's rotation
        # centre along x, above its long axis along z.
        lever = (rng.uniform(0.03, 0.08), rng.uniform(-0.01, 0.01), rng.uniform(0.02, 0.04))
        chain = (
            Joint("heading", Z_AXIS),  # trunk yaw
            Joint("swing", Y_AXIS, ARM_SWING_OFFSET_M),  # shoulder flexion (arm swing)
            Joint("yaw", Z_AXIS),
            Joint("pitch", Y_AXIS),
            Joint("roll", X_AXIS),  # supination (+, thumb side up) / pronation
            Joint("flex", Y_AXIS),  # wrist flexion (+) / extension
            Joint("dev", Z_AXIS),  # radial (+) / ulnar deviation
            Joint("contraction_z", Z_AXIS),  # radial (+) / ulnar deviation spasm
            Joint("contraction_y", Y_AXIS),  # flexion (+) / extension spasm
            Joint("contraction_x", X_AXIS),  # supination (+) / pronation spasm
            Joint("phys_a", Y_AXIS),
            Joint("phys_b", Z_AXIS),
            Joint("tremor", None, lever),
        )
    elif placement == "neck":
        lever = (rng.uniform(0.0, 0.04), 0.0, rng.uniform(0.08, 0.14))
        chain = (
            Joint("heading", Z_AXIS),
            Joint("trunk_pitch", Y_AXIS, (0.0, 0.0, 0.45)),  # hips -> base of the neck
            Joint("trunk_roll", X_AXIS),
            Joint("rot", Z_AXIS),  # head rotation (torticollis)
            Joint("flex", Y_AXIS),  # forward flexion (+, nose down) / extension
            Joint("tilt", X_AXIS),  # lateral tilt (+: right ear down)
            Joint("contraction_z", Z_AXIS),  # torticollis left (+) / right
            Joint("contraction_y", Y_AXIS),  # anterocollis (+) / retrocollis
            Joint("contraction_x", X_AXIS),  # laterocollis right (+) / left
            Joint("phys_a", Y_AXIS),
            Joint("phys_b", X_AXIS),
            Joint("tremor", None, lever),
        )
    elif placement == "leg":
        # Thigh sensor: the knee is the pivot of sit-to-stand and of the leg's
        # oscillation; the sensor sits 20-30 cm above it on the front of the thigh.
        lever = (rng.uniform(0.05, 0.08), 0.0, rng.uniform(0.2, 0.3))
        chain = (
            Joint("heading", Z_AXIS),
            Joint("pitch", Y_AXIS),
            Joint("roll", X_AXIS),
            Joint("phys_a", Y_AXIS),
            Joint("phys_b", X_AXIS),
            Joint("tremor", None, lever),
        )
    else:
        raise ValueError(f"unknown placement {placement!r}; expected one of {', '.join(PLACEMENTS)}")
    return BodyModel(placement, chain, lever)
