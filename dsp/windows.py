"""Tremor decisions on sliding windows of bins: is this window tremor, and of what kind.

A window is ``window_bins`` consecutive bins and is decided when its last bin arrives.
The rules, in order (all thresholds in :class:`~dsp.config.DetectorConfig`):

1. Enough band power: RMS acceleration in the band >= ``min_rms_g`` or RMS angular rate
   >= ``min_rms_dps``. Physiological tremor (a few mg, under 1 deg/s) stays below.
2. An oscillation: at least ``min_cycles`` cycles on the dominant axis and a cycle-period
   coefficient of variation <= ``max_period_cv`` (broadband noise, typing and road vibration
   have erratic zero crossings), with the mean cycle frequency inside the band.
3. Rotation, when there is a gyroscope: tremor is a rotation about a joint, so the band
   angular rate must be >= ``min_rotation_dps_per_g`` per g of band acceleration. Vehicle
   vibration and toothbrushing are mostly translation and fail this.
4. Voluntary movement (slow components above ``movement_rms_g`` or ``movement_dps``): only an
   oscillation that dominates the movement (band RMS >= ``kinetic_ratio`` x slow RMS), is very
   regular (CV <= ``kinetic_max_cv``) and faster than the harmonics of gait and gestures
   (>= ``kinetic_min_hz``) counts as kinetic tremor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MOVEMENT, POSTURE, REST = 2, 1, 0
CONTEXT_NAMES = ("rest", "posture", "movement")


@dataclass
class WindowInputs:
    """Per-bin series for a contiguous run of bins (history first), one band."""

    valid: np.ndarray  # (n,) bool
    ms_acc: np.ndarray  # (n, 3) g^2
    ms_gyro: np.ndarray | None  # (n, 3) (deg/s)^2
    n_cycles: np.ndarray  # (n, 3)
    sum_period: np.ndarray  # (n, 3)
    sum_period_sq: np.ndarray  # (n, 3)
    lf_acc: np.ndarray  # (n, 3) g
    lf_gyro: np.ndarray | None  # (n, 3) deg/s


@dataclass
class WindowResult:
    """Per-window decision and measurements (one entry per window end bin)."""

    valid: np.ndarray
    candidate: np.ndarray
    moving: np.ndarray
    context: np.ndarray  # int codes into CONTEXT_NAMES
    freq_hz: np.ndarray
    period_cv: np.ndarray
    acc_ms: np.ndarray  # vector mean square in band, g^2
    gyro_ms: np.ndarray  # (deg/s)^2, NaN without gyro
    axis: np.ndarray  # dominant crossing axis
    gravity: np.ndarray  # (n, 3) mean slow acceleration, g


def _wsum(a: np.ndarray, w: int) -> np.ndarray:
    """Sum over trailing windows of ``w`` rows, added in a fixed order (chunk-invariant)."""
    m = a.shape[0] - w + 1
    out = a[0:m].astype(np.float64)
    for i in range(1, w):
        out += a[i : i + m]
    return out


def decide(
    inp: WindowInputs, w: int, sample_rate_hz: float, band_lo_hz: float, band_hi_hz: float, cfg
) -> WindowResult:
    """Decide every complete window in ``inp`` (``len - w + 1`` windows)."""
    valid = _wsum(inp.valid, w) == w
    ms_acc = _wsum(inp.ms_acc, w) / w  # (m, 3)
    acc_ms = ms_acc.sum(axis=1)
    has_gyro = inp.ms_gyro is not None
    if has_gyro:
        ms_g = _wsum(inp.ms_gyro, w) / w
        gyro_ms = ms_g.sum(axis=1)
        group = ms_g
    else:
        gyro_ms = np.full(acc_ms.shape, np.nan)
        group = ms_acc
    axis = np.argmax(group, axis=1)
    rows = np.arange(axis.size)
    n = _wsum(inp.n_cycles, w)[rows, axis]
    sp = _wsum(inp.sum_period, w)[rows, axis]
    sq = _wsum(inp.sum_period_sq, w)[rows, axis]
    with np.errstate(invalid="ignore", divide="ignore"):
        mp = sp / n
        var = np.maximum(sq / n - mp * mp, 0.0)
        cv = np.sqrt(var) / mp
        freq = sample_rate_hz / mp
    lf = inp.lf_acc.astype(np.float64)
    gravity = _wsum(lf, w) / w
    lf_var = _wsum(lf * lf, w) / w - gravity * gravity
    lf_std = np.sqrt(np.maximum(lf_var, 0.0).sum(axis=1))
    if has_gyro:
        lf_rot = np.sqrt((inp.lf_gyro**2).sum(axis=1))
        lf_rot = _wsum(lf_rot, w) / w
    else:
        lf_rot = np.zeros(acc_ms.shape)
    valid = valid & np.isfinite(lf_std) & np.isfinite(lf_rot)

    acc_rms = np.sqrt(acc_ms)
    power_ok = acc_rms >= cfg.min_rms_g
    if has_gyro:
        gyro_rms = np.sqrt(gyro_ms)
        power_ok |= gyro_rms >= cfg.min_rms_dps
        rot_ok = gyro_rms >= cfg.min_rotation_dps_per_g * acc_rms
    else:
        rot_ok = np.ones(acc_ms.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        rhythm_ok = (n >= cfg.min_cycles) & (cv <= cfg.max_period_cv)
        rhythm_ok &= (freq >= band_lo_hz) & (freq <= band_hi_hz)
        moving = (lf_std > cfg.movement_rms_g) | (lf_rot > cfg.movement_dps)
        kinetic_ok = (
            (cv <= cfg.kinetic_max_cv)
            & (freq >= cfg.kinetic_min_hz)
            & (acc_rms >= cfg.kinetic_ratio * lf_std)
        )
    cand = valid & power_ok & rhythm_ok & rot_ok & (~moving | kinetic_ok)
    # a strong tremor leaks a little (< 1 %) into the slow components: discount it
    held = lf_std > cfg.posture_sway_g + 0.005 * acc_rms
    context = np.where(moving, MOVEMENT, np.where(held, POSTURE, REST))
    return WindowResult(
        valid=valid,
        candidate=cand,
        moving=moving & valid,
        context=context,
        freq_hz=freq,
        period_cv=cv,
        acc_ms=acc_ms,
        gyro_ms=gyro_ms,
        axis=axis,
        gravity=gravity,
    )
