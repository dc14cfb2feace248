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
4. Accelerometer only: the window's power must concentrate near one frequency
   (``start_min_concentration`` to start, ``min_concentration`` to continue), which road
   vibration does not; or, for a jerky waveform whose harmonics spoil the cycle test, near one
   fundamental and its harmonics (``PERIODIC_MIN_COMB``).
5. Wrist or hand: a large (>= ``voluntary_rhythm_min_g``) oscillation below
   ``voluntary_rhythm_max_hz`` with the forearm pointing up (x gravity >= ``hand_raised_g``) is
   rhythmic voluntary activity near the face (toothbrushing, eating), not tremor.
6. Voluntary movement (slow components above ``movement_rms_g`` or ``movement_dps``): only an
   oscillation that dominates the movement (band RMS >= ``kinetic_ratio`` x slow RMS), is very
   regular (CV <= ``kinetic_max_cv``) and faster than the harmonics of gait and gestures
   (>= ``kinetic_min_hz``) counts as kinetic tremor.
7. Rhythmic voluntary movement: an oscillation of voluntary size (displacement >=
   ``voluntary_min_displacement_cm``) counts only when narrow-band
   (``SUSTAINED_MIN_CONCENTRATION``), and not when its mechanics are a voluntary stroke's
   (``_voluntary_rhythm``). ``WindowResult.narrow`` marks the windows that may continue a
   *sustained rhythm* (:mod:`dsp.rhythm`), which is tremor whatever its size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, types

from dsp.spectrum import (  # noqa: F401  (re-exported: tests and callers import them from here)
    CONC_RESOLUTION_HZ,
    EDGE_MARGIN_HZ,
    SUBHARMONIC_MIN_POWER_RATIO_ACC,
    SUBHARMONIC_MIN_POWER_RATIO_GYRO,
    _concentration,
)

#: A large oscillation shows in the slow components by up to ~6 % of its band RMS: the 1 s Hann
#: filter's leak (dsp.features, ~3 %) and the gravity re-projection of a 10-20 deg turn. That is
#: not movement of the limb (the sustained-rhythm test discounts it).
TREMOR_LEAK_TO_SLOW = 0.06
#: A sinusoidal rhythm keeps this share of its band power within 1 Hz of the fundamental; a
#: stroke whose second harmonic is 10 % of its travel puts ~16 % of its acceleration power there.
SUSTAINED_MIN_CONCENTRATION = 0.9
#: Accelerometer only: a window whose band power lies this much within 1 Hz of one fundamental
#: and its 2nd and 3rd harmonics is a periodic oscillation even when the harmonics' extra zero
#: crossings fail the cycle test (a jerky tremor: acceleration weights the 2nd harmonic 4x).
#: Broadband vibration, typing and gestures stay under it; a 3-line comb 2 Hz wide per line.
PERIODIC_MIN_COMB = 0.85
PERIODIC_START_MIN_COMB = 0.9  # ...and to start an episode

G_MPS2 = 9.80665  # standard gravity
MOVEMENT, POSTURE, REST = 2, 1, 0
CONTEXT_NAMES = ("rest", "posture", "movement")


@dataclass
class WindowInputs:
    """Per-bin series for a contiguous run of bins (history first); channels are acc x y z
    then, when present, gyro x y z."""

    valid: np.ndarray  # (n,) bool
    ms: np.ndarray  # (n, ch) band mean square
    m4: np.ndarray  # (n, ch) band mean fourth power
    n_cycles: np.ndarray  # (n, ch)
    sum_period: np.ndarray  # (n, ch)
    sum_period_sq: np.ndarray  # (n, ch)
    lf: np.ndarray  # (n, ch) slow components
    y: np.ndarray | None = None  # (n, 3, bin_n) band-passed samples (accelerometer-only streams)


@dataclass
class WindowResult:
    """Per-window decision and measurements (one entry per window end bin)."""

    valid: np.ndarray
    candidate: np.ndarray
    start_candidate: np.ndarray
    moving: np.ndarray
    context: np.ndarray  # int codes into CONTEXT_NAMES
    freq_hz: np.ndarray
    period_cv: np.ndarray
    acc_ms: np.ndarray  # vector mean square in band, g^2
    gyro_ms: np.ndarray  # (deg/s)^2, NaN without gyro
    axis: np.ndarray  # channel whose cycles gave the frequency
    gravity: np.ndarray  # (n, 3) mean slow acceleration, g
    voluntary_size: np.ndarray  # displacement amplitude >= voluntary_min_displacement_cm
    concentration: np.ndarray | None = None  # band power near the fundamental (0 where not computed)
    periodicity: np.ndarray | None = None  # ...near the fundamental and its 2nd and 3rd harmonics
    voluntary_rhythm: np.ndarray | None = None  # the mechanics of a voluntary stroke (see below)
    lf_std: np.ndarray | None = None  # slow acceleration variation, g
    # a narrow-band oscillation of a still limb (its own leak discounted): may be a sustained
    # rhythm (dsp.rhythm), which is tremor whatever its size
    narrow: np.ndarray | None = None
    narrow_start: np.ndarray | None = None  # ...regular enough to start an episode


@dataclass
class _Oscillation:
    """Cycle statistics of the strongest axis of one sensor (acc or gyro) per window."""

    axis: np.ndarray
    n: np.ndarray
    freq: np.ndarray
    cv: np.ndarray
    kurtosis: np.ndarray


@njit(
    (types.float64[::1],) + (types.float64[:, ::1],) * 6 + (types.int64, types.float64),
    cache=True,
    nogil=True,
    error_model="numpy",
)  # compiled (or loaded from the cache) on import
def _window_stats(valid, ms, m4, n_cycles, sum_period, sum_period_sq, lf, w, fs):
    """Per window of ``w`` bins (each window's bins added in order, so the result does not
    depend on chunking): all bins valid, mean band power per channel, the cycle statistics of
    the strongest axis of each sensor ([sensor, axis/cycles/frequency/CV/kurtosis, window]),
    the mean slow acceleration (gravity), its spread, and the mean slow rotation speed."""
    n, ch = ms.shape
    m = n - w + 1
    ok = np.zeros(m, np.bool_)
    ms_w = np.empty((m, ch))
    osc = np.full((ch // 3, 5, m), np.nan)
    gravity = np.empty((m, 3))
    lf_std = np.empty(m)
    lf_rot = np.zeros(m)
    for r in range(m):
        cnt = 0.0
        for i in range(w):
            cnt += valid[r + i]
        ok[r] = cnt == w
        for c in range(ch):
            acc = 0.0
            for i in range(w):
                acc += ms[r + i, c]
            ms_w[r, c] = acc / w
        for sensor in range(ch // 3):
            # the strongest axis (the first on a tie; a NaN wins, as in numpy.argmax)
            axis = 3 * sensor
            best = ms_w[r, axis]
            if best == best:
                for c in range(3 * sensor + 1, 3 * sensor + 3):
                    v = ms_w[r, c]
                    if v != v:
                        axis = c
                        break
                    if v > best:
                        best, axis = v, c
            nc = sp = sq = s4 = 0.0
            for i in range(w):
                nc += n_cycles[r + i, axis]
                sp += sum_period[r + i, axis]
                sq += sum_period_sq[r + i, axis]
                s4 += m4[r + i, axis]
            mp = sp / nc
            var = sq / nc - mp * mp
            if var < 0.0:
                var = 0.0
            osc[sensor, 0, r] = axis
            osc[sensor, 1, r] = nc
            osc[sensor, 2, r] = fs / mp
            osc[sensor, 3, r] = math.sqrt(var) / mp
            osc[sensor, 4, r] = s4 / w / ms_w[r, axis] ** 2
        spread = 0.0
        for c in range(3):
            s1 = s2 = 0.0
            for i in range(w):
                v = lf[r + i, c]
                s1 += v
                s2 += v * v
            g = s1 / w
            gravity[r, c] = g
            var = s2 / w - g * g
            if var < 0.0:  # (NaN stays NaN)
                var = 0.0
            spread += var
        lf_std[r] = math.sqrt(spread)
        if ch == 6:
            rot = 0.0
            for i in range(w):
                a, b, c3 = lf[r + i, 3], lf[r + i, 4], lf[r + i, 5]
                rot += math.sqrt(a * a + b * b + c3 * c3)
            lf_rot[r] = rot / w
    return ok, ms_w, osc, gravity, lf_std, lf_rot


def _displacement_cm(acc_rms: np.ndarray, freq: np.ndarray) -> np.ndarray:
    """Zero-to-peak displacement of a sinusoid of this RMS acceleration (g) and frequency."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return math.sqrt(2.0) * acc_rms * G_MPS2 / (2.0 * math.pi * freq) ** 2 * 100.0


def _voluntary_rhythm(acc_rms: np.ndarray, gyro_rms: np.ndarray | None, freq: np.ndarray, cfg) -> np.ndarray:
    """Windows whose oscillation is a voluntary rhythmic movement, from the limb's mechanics.

    The displacement amplitude a / (2 pi f)^2 says how far the hand travels. Tremor turns the
    hand about the wrist or the forearm's axis: the acceleration per angular acceleration, the
    effective radius sqrt(r^2 + (g / w^2)^2) for a lever r, stays within a hand's length.
    Toothbrushing, stirring, scratching and clapping carry the hand through centimetres with the
    elbow or shoulder (a radius of tens of cm) or translate it, so a large oscillation with a long
    effective radius is voluntary. Without a gyroscope the lever is unseen and only a displacement
    beyond the moderate-tremor range says voluntary."""
    w = 2.0 * math.pi * freq
    disp_cm = _displacement_cm(acc_rms, freq)
    with np.errstate(invalid="ignore", divide="ignore"):
        if gyro_rms is None:
            return disp_cm >= cfg.acc_only_voluntary_displacement_cm
        radius_cm = acc_rms * G_MPS2 / (np.radians(gyro_rms) * w) * 100.0
        return (disp_cm >= cfg.voluntary_min_displacement_cm) & ~(radius_cm < cfg.distal_max_radius_cm)


def decide(
    inp: WindowInputs,
    w: int,
    sample_rate_hz: float,
    band_lo_hz: float,
    band_hi_hz: float,
    cfg,
    limb: bool = True,
) -> WindowResult:
    """Decide every complete window in ``inp`` (``len - w + 1`` windows)."""
    has_gyro = inp.ms.shape[1] == 6
    st = _window_stats(
        np.ascontiguousarray(inp.valid, dtype=np.float64),
        np.ascontiguousarray(inp.ms, dtype=np.float64),
        np.ascontiguousarray(inp.m4, dtype=np.float64),
        np.ascontiguousarray(inp.n_cycles, dtype=np.float64),
        np.ascontiguousarray(inp.sum_period, dtype=np.float64),
        np.ascontiguousarray(inp.sum_period_sq, dtype=np.float64),
        np.ascontiguousarray(inp.lf, dtype=np.float64),
        int(w),
        float(sample_rate_hz),
    )
    valid, ms_w, osc_stats, gravity, lf_std, lf_rot = st
    acc_ms = ms_w[:, 0:3].sum(axis=1)
    acc_rms = np.sqrt(acc_ms)
    osc_a = _Oscillation(*(osc_stats[0, k] for k in range(5)))
    osc_a.axis = osc_a.axis.astype(np.int64)
    if has_gyro:
        gyro_ms = ms_w[:, 3:6].sum(axis=1)
        gyro_rms = np.sqrt(gyro_ms)
        osc_g = _Oscillation(*(osc_stats[1, k] for k in range(5)))
        osc_g.axis = osc_g.axis.astype(np.int64)
    else:
        gyro_ms = np.full(acc_ms.shape, np.nan)
        lf_rot = np.zeros(acc_ms.shape)
    valid = valid & np.isfinite(lf_std) & np.isfinite(lf_rot)

    def rhythmic(o: _Oscillation, max_cv: float) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return (
                (o.n >= cfg.min_cycles)
                & (o.cv <= max_cv)
                & (o.freq >= band_lo_hz - EDGE_MARGIN_HZ)
                & (o.freq <= band_hi_hz + EDGE_MARGIN_HZ)
                & (o.kurtosis <= cfg.max_kurtosis)
            )

    def oscillating(max_cv: float):
        # an oscillation seen by the accelerometer; with a gyroscope it must also be a rotation
        acc_ok = (acc_rms >= cfg.min_rms_g) & rhythmic(osc_a, max_cv)
        if not has_gyro:
            return acc_ok, acc_ok
        acc_ok &= gyro_rms >= cfg.min_rotation_dps_per_g * acc_rms
        gyro_ok = (gyro_rms >= cfg.min_rms_dps) & rhythmic(osc_g, max_cv)
        return gyro_ok | acc_ok, gyro_ok

    osc_ok, gyro_ok = oscillating(cfg.max_period_cv)
    start_ok, _ = oscillating(cfg.start_max_period_cv)
    if has_gyro:
        use_g = gyro_ok | ~osc_ok  # the gyroscope's view wherever it qualifies (no gravity term)
        freq = np.where(use_g, osc_g.freq, osc_a.freq)
        cv = np.where(use_g, osc_g.cv, osc_a.cv)
        axis = np.where(use_g, osc_g.axis, osc_a.axis)
    else:
        freq, cv, axis = osc_a.freq, osc_a.cv, osc_a.axis
    with np.errstate(invalid="ignore"):
        moving = (lf_std > cfg.movement_rms_g) | (lf_rot > cfg.movement_dps)
        # kinetic tremor: an oscillation that dominates the movement and is very regular...
        steady = (cv <= cfg.kinetic_max_cv) & (acc_rms >= cfg.kinetic_ratio * lf_std)
        # still but for the oscillation's own leak into the slow components
        still = lf_std <= cfg.movement_rms_g + TREMOR_LEAK_TO_SLOW * acc_rms
        if has_gyro:
            still &= lf_rot <= cfg.movement_dps + TREMOR_LEAK_TO_SLOW * gyro_rms
    peak_hz = np.full(acc_ms.shape, np.nan)
    conc = np.zeros(acc_ms.shape)
    comb = np.zeros(acc_ms.shape)
    if inp.y is not None:
        # The band signal's spectrum (the gyroscope's where there is one: no gravity term), for
        # the windows that can still be tremor.
        need = valid & osc_ok & (~moving | steady | still)
        if not has_gyro:
            # ...and, without a gyroscope, any oscillation of tremor size: a jerky waveform's
            # harmonics add zero crossings that hide its rhythm from the cycle test
            with np.errstate(invalid="ignore"):
                maybe = (
                    (acc_rms >= cfg.min_rms_g)
                    & (osc_a.n >= cfg.min_cycles)
                    & (osc_a.kurtosis <= cfg.max_kurtosis)
                )
            need |= valid & maybe & (~moving | steady | still)
        ratio = SUBHARMONIC_MIN_POWER_RATIO_GYRO if has_gyro else SUBHARMONIC_MIN_POWER_RATIO_ACC
        # with a gyroscope, its strongest axis carries the rotation (a third of the work)
        one = osc_g.axis - 3 if has_gyro else None
        conc, comb, peak_hz = _concentration(
            inp.y, w, need, sample_rate_hz, band_lo_hz, band_hi_hz, ratio, one
        )
        if not has_gyro:
            # Without a gyroscope, translational vibration (a vehicle) can pass the cycle checks;
            # a tremor concentrates its power near one frequency, broadband vibration does not.
            # A jerky (non-sinusoidal) tremor concentrates it on the fundamental's harmonics.
            with np.errstate(invalid="ignore"):
                in_band = (peak_hz >= band_lo_hz - EDGE_MARGIN_HZ) & (peak_hz <= band_hi_hz + EDGE_MARGIN_HZ)
            osc_ok = (osc_ok & (conc >= cfg.min_concentration)) | (in_band & (comb >= PERIODIC_MIN_COMB))
            start_ok = (start_ok & (conc >= cfg.start_min_concentration)) | (
                in_band & (comb >= PERIODIC_START_MIN_COMB)
            )
    # the spectral fundamental is a better frequency estimate than zero crossings (gravity,
    # harmonics and the noise before an onset add crossings)
    freq = np.where(np.isfinite(peak_hz), peak_hz, freq)
    with np.errstate(invalid="ignore"):
        kinetic_ok = steady & (freq >= cfg.kinetic_min_hz)  # ...faster than gait and gestures
    vol = _voluntary_rhythm(acc_rms, gyro_rms if has_gyro else None, freq, cfg)
    large = _displacement_cm(acc_rms, freq) >= cfg.voluntary_min_displacement_cm
    # An oscillation of voluntary size is tremor only as a narrow-band (sinusoidal) rhythm:
    # voluntary strokes are non-sinusoidal, their harmonics spread the power (dsp.rhythm).
    vol |= large & ~(conc >= SUSTAINED_MIN_CONCENTRATION)
    cand = valid & osc_ok & (~moving | kinetic_ok) & ~vol
    if limb:
        # Hand raised toward the face (forearm pointing up) with a large slow oscillation: brushing
        # teeth, eating, combing. Rhythmic voluntary activity, not tremor (a heuristic: the
        # accelerometer cannot tell them apart otherwise; a gyroscope also rejects it as
        # translation).
        with np.errstate(invalid="ignore"):
            face = (
                (gravity[:, 0] >= cfg.hand_raised_g)
                & (acc_rms >= cfg.voluntary_rhythm_min_g)
                & (freq < cfg.voluntary_rhythm_max_hz)
            )
    narrow = valid & osc_ok & still & (conc >= SUSTAINED_MIN_CONCENTRATION) & np.isfinite(freq)
    if limb:
        narrow &= ~face
        cand &= ~face
    start_cand = cand & start_ok
    # a strong tremor leaks a little (< 1 %) into the slow components: discount it
    held = lf_std > cfg.posture_sway_g + 0.005 * acc_rms
    context = np.where(moving, MOVEMENT, np.where(held, POSTURE, REST))
    return WindowResult(
        valid=valid,
        candidate=cand,
        start_candidate=start_cand,
        moving=moving & valid,
        context=context,
        freq_hz=freq,
        period_cv=cv,
        acc_ms=acc_ms,
        gyro_ms=gyro_ms,
        axis=axis,
        gravity=gravity,
        voluntary_size=large,
        concentration=conc,
        periodicity=comb,
        voluntary_rhythm=vol,
        lf_std=lf_std,
        narrow=narrow,
        narrow_start=narrow & start_ok,
    )
