"""Rigid-body kinematics of the sensor: specific force and angular rate from joint motion.

The body carrying the sensor is a serial chain of revolute joints on a
translating base (the trunk or the vehicle). Joint ``i`` turns by angle
``theta_i(t)`` about its unit ``axis`` (fixed in the joint's frame); ``offset_m``
is the vector from joint ``i`` to the next joint, or to the sensor for the last
joint, in joint ``i``'s frame. The sensor frame is the last joint's frame, so
the orientation is R(t) = R_1 R_2 ... R_k (sensor -> world).

Both sensor outputs are propagated from the same motion with the forward pass
of the recursive Newton-Euler algorithm (Featherstone, *Rigid Body Dynamics
Algorithms*, 2008, ch. 5), using exact joint angle derivatives:

    w_i = R_i^T w_{i-1} + a_i th_i'
    al_i = R_i^T al_{i-1} + (R_i^T w_{i-1}) x a_i th_i' + a_i th_i''
    f_{i+1} = R_i^T f_i + al_i x l_i + w_i x (w_i x l_i)

starting with f_0 = a_base + g_up (g_up = (0, 0, +9.80665) m/s^2), which makes
f the specific force. The accelerometer reads f / 9.80665 in g (at rest the
axis pointing up reads +1 g) and the gyroscope reads w in deg/s, both in the
sensor frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from firmware_bridge.simulation.signals import Triple

#: Standard gravity (m/s^2), ISO 80000-3.
STANDARD_GRAVITY_MPS2 = 9.80665

X_AXIS = (1.0, 0.0, 0.0)
Y_AXIS = (0.0, 1.0, 0.0)
Z_AXIS = (0.0, 0.0, 1.0)


@dataclass(frozen=True)
class Joint:
    """One revolute joint of the chain.

    ``axis`` is None for a joint whose axis is supplied per sample (the tremor
    joint: its axis changes between episodes, only while its angle is zero).
    """

    name: str
    axis: tuple[float, float, float] | None
    offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0)


def _axis_array(joint: Joint, axes: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    if joint.axis is not None:
        return np.broadcast_to(np.asarray(joint.axis, dtype=np.float64), (n, 3))
    a = np.asarray(axes[joint.name], dtype=np.float64)
    return np.broadcast_to(a, (n, 3))


def imu_readings(
    chain: tuple[Joint, ...],
    angles: Mapping[str, Triple],
    base_accel_mps2: np.ndarray,
    axes: Mapping[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Accelerometer (g) and gyroscope (deg/s) readings in the sensor frame.

    ``angles`` maps joint name -> (theta, theta', theta'') in rad, rad/s,
    rad/s^2 (missing joints stay at zero); ``base_accel_mps2`` (n, 3) is the
    world-frame acceleration of the chain's base.
    """
    axes = axes or {}
    f = np.asarray(base_accel_mps2, dtype=np.float64) + np.array([0.0, 0.0, STANDARD_GRAVITY_MPS2])
    n = f.shape[0]
    w = np.zeros((n, 3))
    al = np.zeros((n, 3))
    for joint in chain:
        tri = angles.get(joint.name)
        if tri is not None:
            th, dth, ddth = tri
            a = _axis_array(joint, axes, n)
            rot = Rotation.from_rotvec(a * th[:, None])
            w_in = rot.apply(w, inverse=True)
            al = rot.apply(al, inverse=True) + np.cross(w_in, a * dth[:, None]) + a * ddth[:, None]
            w = w_in + a * dth[:, None]
            f = rot.apply(f, inverse=True)
        if any(joint.offset_m):
            lever = np.asarray(joint.offset_m, dtype=np.float64)
            f = f + np.cross(al, lever) + np.cross(w, np.cross(w, lever))
    return f / STANDARD_GRAVITY_MPS2, np.degrees(w)


def pose(
    chain: tuple[Joint, ...],
    angles_rad: Mapping[str, np.ndarray],
    base_position_m: np.ndarray | None = None,
    axes: Mapping[str, np.ndarray] | None = None,
) -> tuple[Rotation, np.ndarray]:
    """Sensor orientation (sensor -> world) and position (m) by forward kinematics.

    The same chain as :func:`imu_readings`, evaluated on angles alone: used to
    find the gravity direction in the sensor frame for a posture, and to check
    the readings against finite differences.
    """
    axes = axes or {}
    n = None
    for v in angles_rad.values():
        n = np.asarray(v).shape[0]
        break
    if base_position_m is not None:
        n = np.asarray(base_position_m).shape[0]
    if n is None:
        n = 1
    rot = Rotation.identity(n)
    p = np.zeros((n, 3)) if base_position_m is None else np.array(base_position_m, dtype=np.float64)
    for joint in chain:
        th = angles_rad.get(joint.name)
        if th is not None:
            a = _axis_array(joint, axes, n)
            rot = rot * Rotation.from_rotvec(a * np.asarray(th, dtype=np.float64)[:, None])
        if any(joint.offset_m):
            p = p + rot.apply(np.asarray(joint.offset_m, dtype=np.float64))
    return rot, p


def gravity_in_sensor(chain: tuple[Joint, ...], angles_rad: Mapping[str, float]) -> np.ndarray:
    """Unit 'up' direction in the sensor frame for a static posture (what the accelerometer reads)."""
    rot, _ = pose(chain, {k: np.array([v]) for k, v in angles_rad.items()})
    return rot.apply(np.array(Z_AXIS), inverse=True)[0]
