"""Detector parameters with documented defaults; clinicians tune them per person."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Band:
    """A named tremor frequency band, [low_hz, high_hz)."""

    name: str
    low_hz: float
    high_hz: float


DEFAULT_BANDS: tuple[Band, ...] = (
    Band("3-5 Hz", 3.0, 5.0),
    Band("5-8 Hz", 5.0, 8.0),
    Band("8-12 Hz", 8.0, 12.0),
)
#: Orthostatic tremor band, searched only when the sample rate allows (>= 50 Hz).
ORTHOSTATIC_BAND = Band("12-18 Hz", 12.0, 18.0)


@dataclass(frozen=True)
class DetectorConfig:
    """All detector parameters. Units are in the names.

    Severity thresholds are on the displacement amplitude (zero to peak, cm) and
    follow the MDS-UPDRS 3.15-3.17 tremor amplitude anchors (peak-to-peak 1, 3
    and 10 cm) halved: a one-class step is a factor of about 3 in amplitude, in
    line with Elble's logarithmic relation between amplitude and ratings.
    """

    # --- resampling and gaps
    gap_s: float = 0.5  # longer holes are data gaps, never interpolated
    # --- analysis grid
    bin_s: float = 0.25  # hop between decisions
    window_s: float = 2.0  # analysis window for one decision
    # --- tremor band
    bands: tuple[Band, ...] = DEFAULT_BANDS
    detect_orthostatic: bool = True  # add ORTHOSTATIC_BAND when sample_rate_hz >= 50
    # --- tremor decision thresholds (per window)
    min_rms_g: float = 0.005  # band RMS acceleration (vector) to consider tremor
    min_rms_dps: float = 1.0  # band RMS angular rate (vector) to consider tremor
    start_max_period_cv: float = 0.3  # cycle period variation allowed when a tremor starts
    max_period_cv: float = 0.4  # ... and while it lasts (irregular dystonic tremor wanders)
    min_cycles: int = 4  # cycles in a window
    start_min_concentration: float = 0.6  # acc only: band power within 1 Hz of the peak, to start
    min_concentration: float = 0.45  # ... and to continue
    max_kurtosis: float = 6.0  # band-signal kurtosis above this is impulses (typing, taps), not tremor
    movement_rms_g: float = 0.04  # slow (< ~1 Hz) acc variation above which the limb is moving
    movement_dps: float = 30.0  # slow angular rate above which the limb is moving
    posture_sway_g: float = 0.0055  # slow acc variation above which the limb is held up (posture)
    min_rotation_dps_per_g: float = 10.0  # band deg/s per g below which it is translation
    kinetic_ratio: float = 0.05  # during movement: band RMS must reach this x the slow variation
    kinetic_max_cv: float = 0.2  # during movement: cycle-period variation at most this
    kinetic_min_hz: float = 4.5  # during movement: gait/gesture harmonics lie below this
    hand_raised_g: float = 0.57  # wrist: forearm pointing up >= 35 deg (gravity on x)...
    voluntary_rhythm_min_g: float = 0.15  # ...with an oscillation this large (band RMS)...
    voluntary_rhythm_max_hz: float = 6.0  # ...and this slow is toothbrushing or eating, not tremor
    # Rhythmic voluntary movement (toothbrushing, stirring, scratching, clapping) moves the hand by
    # centimetres, carried by the elbow or shoulder; tremor turns it about the wrist or forearm.
    voluntary_min_displacement_cm: float = 0.5  # zero-to-peak; below it (slight tremor) always tremor
    distal_max_radius_cm: float = 15.0  # acc / angular acc: wrist/forearm lever (<= 12 cm) + g/w^2
    acc_only_voluntary_displacement_cm: float = 1.5  # no gyro to see the lever: moderate+ is voluntary
    voluntary_size_start_hold_s: float = 5.0  # >= voluntary_min_displacement_cm must persist this long
    # to start an episode: voluntary strokes come in bouts of seconds between repositionings
    warmup_s: float = 1.0  # after a gap, filters settle this long before decisions
    # --- episode tracking
    start_hold_s: float = 1.0  # candidate windows needed before an episode starts
    end_hold_s: float = 2.0  # non-candidate time that ends an episode
    update_interval_s: float = 30.0  # an "updated" event at most this often
    # --- severity thresholds on displacement amplitude (cm): slight < mild < moderate < strong
    severity_cm: tuple[float, float, float] = (0.5, 1.5, 5.0)
    # --- contraction (dystonic posture) detection
    contraction_threshold_deg: float = 15.0
    contraction_min_hold_s: float = 3.0
    contraction_release_deg: float = 10.0  # hysteresis: ends when back under this
    contraction_end_hold_s: float = 1.0  # ...for this long
    contraction_max_activity_g: float = 0.1  # band RMS above which the sensor is not still (walking)
    neutral_adapt_s: float = 300.0  # a posture held this long becomes the new neutral
    neutral_tau_s: float = 60.0  # how fast the adaptive neutral follows quiet near-neutral posture
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DetectorConfig:
        """Build a config from a (partial) dict; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown detector setting(s): {', '.join(unknown)}")
        kw = dict(d)
        if "bands" in kw:
            kw["bands"] = tuple(
                b if isinstance(b, Band) else Band(str(b["name"]), float(b["low_hz"]), float(b["high_hz"]))
                for b in kw["bands"]
            )
        if "severity_cm" in kw:
            kw["severity_cm"] = tuple(float(x) for x in kw["severity_cm"])
        return cls(**kw)

    @classmethod
    def from_json(cls, text: str) -> DetectorConfig:
        return cls.from_dict(json.loads(text))


#: Every setting of :class:`DetectorConfig`: (unit, one-line meaning), for ``tremorscope
#: settings`` and the README. tests/test_settings.py fails when a field has no entry here.
SETTING_DOCS: dict[str, tuple[str, str]] = {
    "gap_s": ("s", "a hole in the samples longer than this is a data gap, never interpolated"),
    "bin_s": ("s", "hop between tremor decisions"),
    "window_s": ("s", "analysis window of one tremor decision"),
    "bands": ("Hz", "named tremor bands, a list of {name, low_hz, high_hz}"),
    "detect_orthostatic": ("true/false", "also search 12-18 Hz (orthostatic tremor) at 50 Hz or more"),
    "min_rms_g": ("g", "band RMS acceleration a window needs to be tremor (physiological stays below)"),
    "min_rms_dps": ("deg/s", "band RMS angular rate a window needs to be tremor"),
    "start_max_period_cv": ("ratio", "largest cycle-period variation when a tremor starts"),
    "max_period_cv": ("ratio", "largest cycle-period variation while a tremor lasts"),
    "min_cycles": ("cycles", "oscillation cycles a window needs"),
    "start_min_concentration": ("fraction", "accelerometer only: band power near the peak to start"),
    "min_concentration": ("fraction", "accelerometer only: band power near the peak to continue"),
    "max_kurtosis": ("", "band-signal kurtosis above which it is impulses (typing, taps), not tremor"),
    "movement_rms_g": ("g", "slow acceleration variation above which the limb is moving"),
    "movement_dps": ("deg/s", "slow angular rate above which the limb is moving"),
    "posture_sway_g": ("g", "slow acceleration variation above which the limb is held up (posture)"),
    "min_rotation_dps_per_g": ("deg/s per g", "band rotation per acceleration below which it is translation"),
    "kinetic_ratio": ("ratio", "during movement: band RMS must reach this times the slow variation"),
    "kinetic_max_cv": ("ratio", "during movement: largest cycle-period variation"),
    "kinetic_min_hz": ("Hz", "during movement: lowest tremor frequency (gait harmonics lie below)"),
    "hand_raised_g": ("g", "wrist: gravity on x above which the forearm points up"),
    "voluntary_rhythm_min_g": ("g", "forearm up: band RMS from which a slow rhythm is voluntary"),
    "voluntary_rhythm_max_hz": ("Hz", "forearm up: rhythms slower than this are toothbrushing or eating"),
    "voluntary_min_displacement_cm": (
        "cm",
        "an oscillation moving the hand this far (zero to peak) may be voluntary (toothbrushing, stirring)",
    ),
    "distal_max_radius_cm": (
        "cm",
        "acceleration per angular acceleration beyond this: carried by elbow or shoulder, voluntary",
    ),
    "acc_only_voluntary_displacement_cm": ("cm", "accelerometer only: displacement above this is voluntary"),
    "voluntary_size_start_hold_s": ("s", "an oscillation of voluntary size must last this long to start"),
    "warmup_s": ("s", "after a gap, filters settle this long before decisions"),
    "start_hold_s": ("s", "tremor windows needed before an episode starts"),
    "end_hold_s": ("s", "time without tremor that ends an episode"),
    "update_interval_s": ("s", "an open episode reports an update at most this often"),
    "severity_cm": ("cm", "displacement amplitudes from which tremor is mild, moderate, strong"),
    "contraction_threshold_deg": ("deg", "deviation from neutral that starts a contraction"),
    "contraction_min_hold_s": ("s", "how long the deviation must be held"),
    "contraction_release_deg": ("deg", "a contraction ends below this deviation..."),
    "contraction_end_hold_s": ("s", "...held for this long"),
    "contraction_max_activity_g": ("g", "band RMS above which the sensor is not still (walking)"),
    "neutral_adapt_s": ("s", "neck and head: a posture held this long becomes the new neutral"),
    "neutral_tau_s": ("s", "how fast the adaptive neutral follows quiet near-neutral posture"),
    "extra": ("", "free-form notes kept with the configuration; not used by the detector"),
}
