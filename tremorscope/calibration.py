"""The neutral posture: measured from a still period, stored per device and placement, chosen per session.

A contraction episode is a deviation from the person's neutral posture, so the detector must
know it. A session gets it from one of three sources, first match wins:

1. ``--calibrate SECONDS``: the person holds their neutral posture at the start of the session;
2. a neutral stored earlier with ``tremorscope calibrate`` for the same device and placement;
3. none: the detector adapts the neutral to quiet posture (neck), and does not detect limb
   postures at all (a raised arm looks exactly like a twisted one without a reference).

One path measures every calibration, stored or per session: :func:`measure_neutral` checks
that the person kept still (a calibration taken while moving would make every later posture
look wrong), then takes the mean accelerometer direction of the still period, and the session
hands it to the detector as ``neutral_g``. While still, the accelerometer reads gravity alone,
so this is exact. (The detector's own ``calibrate_s`` averages its gyro-fused gravity instead,
which in the first seconds of a stream still carries the gyroscope's zero-rate offset, learned
later from still time: a 5 deg/s offset, common in MEMS gyroscopes, tilted such a neutral by
about 7 deg when this was written.)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import butter, sosfilt, sosfilt_zi

from dsp.config import DetectorConfig
from firmware_bridge.samples import SampleBlock
from tremorscope.store import Store

DEFAULT_CALIBRATE_S = 5.0
#: The still period starts this long after the first sample: time to settle into the posture
#: (and for the low-pass that judges stillness to settle).
SETTLE_S = 1.0
#: The still period is judged on its slow part: a low-pass well below tremor (3-12 Hz), so a
#: person with tremor or dystonic jerks can still calibrate.
LOWPASS_HZ = 1.0
LOWPASS_ORDER = 4
#: Refused when the slow gravity direction spans a wider angle than this over the period: the
#: head or limb moved (natural sway while holding still spans about 2-5 deg).
MAX_TILT_SPREAD_DEG = 6.0
#: Refused when the slow rotation rate, less its mean over the period (the gyroscope's offset),
#: exceeds this: a turn about the vertical, which the accelerometer cannot see.
MAX_TURN_DPS = 10.0
#: Mean acceleration magnitude expected while still: readings in g, sensor not being carried.
GRAVITY_RANGE_G = (0.8, 1.2)


class CalibrationError(ValueError):
    """A calibration that cannot be trusted, as one line saying what to do next."""


@dataclass
class Stillness:
    """How still the calibration period was (see the limits above)."""

    start_s: float
    end_s: float
    samples: int
    tilt_spread_deg: float
    turn_dps: float | None  # None without a gyroscope
    gravity_g: float  # mean acceleration magnitude
    gyro_offset_dps: list[float] | None = None  # mean rate while still: the zero-rate offset

    def as_dict(self) -> dict[str, Any]:
        return {
            "window_s": [round(self.start_s, 3), round(self.end_s, 3)],
            "samples": self.samples,
            "tilt_spread_deg": round(self.tilt_spread_deg, 2),
            "turn_dps": None if self.turn_dps is None else round(self.turn_dps, 2),
            "gravity_g": round(self.gravity_g, 4),
            "gyro_offset_dps": None
            if self.gyro_offset_dps is None
            else [round(v, 3) for v in self.gyro_offset_dps],
        }


@dataclass
class Calibration:
    """A measured neutral posture: gravity direction in the sensor frame (unit vector, g)."""

    neutral_g: list[float]
    seconds: float
    sample_rate_hz: float
    has_gyro: bool
    stillness: Stillness

    def details(self) -> dict[str, Any]:
        """What the calibrations table keeps beside the neutral (``details_json``)."""
        return {
            "sample_rate_hz": self.sample_rate_hz,
            "has_gyro": self.has_gyro,
            **self.stillness.as_dict(),
        }


def hold_still_s(seconds: float) -> float:
    """How long the person must keep still: :data:`SETTLE_S`, then ``seconds``."""
    return float(SETTLE_S + seconds)


def calibration_window(t0_s: float, seconds: float) -> tuple[float, float]:
    """The stretch of stream time ``[start, end)`` a calibration of ``seconds`` averages."""
    return t0_s + SETTLE_S, t0_s + SETTLE_S + seconds


def check_still(
    blocks: Iterable[SampleBlock], start_s: float, end_s: float, config: DetectorConfig | None = None
) -> Stillness:
    """Judge ``[start_s, end_s)`` of the stream as a calibration period; raise if it moved."""
    cfg = config or DetectorConfig()
    parts = [b for b in blocks if len(b)]
    if not parts:
        raise CalibrationError("no samples arrived to calibrate from; check the sensor and try again")
    t = np.concatenate([b.t for b in parts])
    acc = np.vstack([b.acc for b in parts]).astype(np.float64)
    gyro = np.vstack([b.gyro for b in parts]).astype(np.float64) if all(b.has_gyro for b in parts) else None
    dt_s = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    if len(t) < 2 or t[-1] < end_s - 1.5 * dt_s:
        raise CalibrationError(
            f"only {t[-1] - t[0]:.1f} s of data; calibrating needs {end_s - t[0]:.1f} s of keeping still"
        )
    lead = t <= end_s
    holes = np.diff(t[lead])
    if holes.size and float(np.max(holes)) > cfg.gap_s:
        raise CalibrationError(
            f"the data has a {float(np.max(holes)):.1f} s gap during the still period; "
            "move the sensor closer (or check the cable) and calibrate again"
        )
    sel = (t >= start_s) & (t < end_s)
    if int(sel.sum()) < 10:
        raise CalibrationError("too few samples in the still period; check the sensor's sample rate")
    a = acc[sel]
    gravity_g = float(np.linalg.norm(a.mean(axis=0)))
    if not (GRAVITY_RANGE_G[0] <= gravity_g <= GRAVITY_RANGE_G[1]):
        raise CalibrationError(
            f"mean acceleration is {gravity_g:.2f} g while still, not about 1 g: the readings are not "
            "in g or the sensor was being moved; check the device type and keep still"
        )
    # causal low-pass from the first sample: the warm-up absorbs its start, and no edge effect
    # at the window's end (a zero-phase filter would smear the window's ends)
    span = t <= end_s
    fs = 1.0 / float(np.median(np.diff(t[span])))
    sos = butter(LOWPASS_ORDER, min(LOWPASS_HZ, 0.4 * fs), fs=fs, output="sos")
    zi = sosfilt_zi(sos)
    in_win = sel[span]

    def slow(x: np.ndarray) -> np.ndarray:
        y, _ = sosfilt(sos, x, axis=0, zi=zi[:, :, None] * x[0][None, None, :])
        return y[in_win]

    slow_acc = slow(acc[span])  # posture, without tremor
    tilt = _angular_range_deg(slow_acc[:: max(1, int(fs / 20))])
    turn = None
    offset = None
    if gyro is not None:
        offset = gyro[sel].mean(axis=0)  # the sensor's zero-rate offset while still
        turn = float(np.linalg.norm(slow(gyro[span] - offset), axis=1).max())
    still = Stillness(
        float(start_s), float(end_s), int(sel.sum()), tilt, turn, gravity_g,
        None if offset is None else [float(v) for v in offset],
    )  # fmt: skip
    if tilt > MAX_TILT_SPREAD_DEG or (turn is not None and turn > MAX_TURN_DPS):
        moved = f"tilted {tilt:.0f} deg" if tilt > MAX_TILT_SPREAD_DEG else f"turned at {turn:.0f} deg/s"
        raise CalibrationError(
            f"the sensor moved while calibrating ({moved}); hold the neutral posture still "
            f"(head upright and facing forward, or the limb resting) and calibrate again"
        )
    return still


def _angular_range_deg(v: np.ndarray) -> float:
    """The largest angle between any two of the directions ``v`` (n, 3)."""
    u = v / np.linalg.norm(v, axis=1, keepdims=True)
    cos = np.clip(u @ u.T, -1.0, 1.0)
    return float(np.degrees(np.arccos(cos.min())))


def measure_neutral(
    blocks: Iterable[SampleBlock],
    seconds: float = DEFAULT_CALIBRATE_S,
    config: DetectorConfig | None = None,
) -> Calibration:
    """The neutral posture from a still period: ``seconds`` after :data:`SETTLE_S` of the stream.

    Consumes ``blocks`` only as far as needed. Raises :class:`CalibrationError` when the
    data is too short, has a gap, is not in g, or the person moved.
    """
    if not (seconds > 0 and math.isfinite(seconds)):
        raise CalibrationError(f"calibration needs a positive number of seconds, not {seconds:g}")
    seen: list[SampleBlock] = []
    t0: float | None = None
    for block in blocks:
        if not len(block):
            continue
        seen.append(block)
        if t0 is None:
            t0 = float(block.t[0])
        if float(block.t[-1]) >= t0 + hold_still_s(seconds):
            break
    if t0 is None:
        raise CalibrationError("no samples to calibrate from; check the sensor or the recording")
    start_s, end_s = calibration_window(t0, seconds)
    still = check_still(seen, start_s, end_s, config)
    t = np.concatenate([b.t for b in seen])
    acc = np.vstack([b.acc for b in seen]).astype(np.float64)
    sel = (t >= start_s) & (t < end_s)
    mean = acc[sel].mean(axis=0)
    neutral = mean / np.linalg.norm(mean)  # still: the accelerometer reads gravity alone
    return Calibration(
        neutral_g=[round(float(v), 6) for v in neutral],
        seconds=float(seconds),
        sample_rate_hz=round(1.0 / float(np.median(np.diff(t[sel]))), 3),
        has_gyro=all(b.has_gyro for b in seen),
        stillness=still,
    )


@dataclass
class RecordingCalibration:
    """A calibration measured from a recording, with what identifies it in the log."""

    calibration: Calibration
    device: str
    placement: str
    source: str


def calibrate_recording(
    path: str | Path,
    *,
    placement: str | None = None,
    seconds: float = DEFAULT_CALIBRATE_S,
    device: str | None = None,
    config: DetectorConfig | None = None,
) -> RecordingCalibration:
    """Measure the neutral from the first seconds of a recording (the person held still).

    ``placement`` and ``device`` default to the recording's metadata; a device name is needed
    because later sessions find the calibration by their device and placement.
    """
    from firmware_bridge.io import open_recording  # canonical CSV, a BIDS-Motion folder, ...

    with open_recording(path) as reader:
        dev = (device or reader.device or "").strip()
        if not dev:
            raise CalibrationError(
                f"{path}: the recording names no device (no '# device:' line); give --device NAME, "
                "the device name its sessions are logged with"
            )
        place = (placement or reader.placement or "").strip().lower()
        if not place:
            raise CalibrationError(f"{path}: the recording names no placement; give --placement (e.g. neck)")
        try:
            cal = measure_neutral(iter(reader), seconds, config)
        except CalibrationError as e:
            raise CalibrationError(f"{path}: {e}") from None
    return RecordingCalibration(cal, dev, place, str(Path(path).resolve()))


@dataclass
class NeutralChoice:
    """The neutral a session starts with, and where it came from (for the session's extras)."""

    source: str  # "calibrate_s" | "stored" | "adaptive"
    calibrate_s: float | None = None
    neutral_g: list[float] | None = None  # for "calibrate_s": set by :meth:`measure`
    calibration: dict[str, Any] | None = field(default=None, repr=False)  # the stored row
    measured: Calibration | None = field(default=None, repr=False)

    def measure(self, blocks: Iterable[SampleBlock], config: DetectorConfig | None = None) -> None:
        """``--calibrate``: the neutral from the stream's first seconds (they must be still)."""
        if self.source == "calibrate_s" and self.calibrate_s is not None:
            self.measured = measure_neutral(blocks, self.calibrate_s, config)
            self.neutral_g = self.measured.neutral_g

    def extra(self) -> dict[str, Any]:
        """Keys for the session's ``extra_json``."""
        out: dict[str, Any] = {"neutral_from": self.source}
        if self.calibrate_s is not None:
            out["calibrate_s"] = self.calibrate_s
        if self.calibration is not None:
            out["calibration_id"] = self.calibration["id"]
        if self.measured is not None:
            out["calibration"] = self.measured.details()
        return out

    def describe(self) -> str:
        """One line for the user: which neutral posture the session uses."""
        if self.source == "calibrate_s":
            return f"neutral posture: measured over {self.calibrate_s:g} s at the start"
        if self.source == "stored" and self.calibration is not None:
            c = self.calibration
            return (
                f"neutral posture: calibration {c['id']} of {c['device']} at {c['placement']} "
                f"({c['created_at']}); --no-calibration ignores it"
            )
        return "neutral posture: not calibrated, learned from quiet posture"


def choose_neutral(
    store: Store,
    device: str | None,
    placement: str,
    *,
    calibrate_s: float | None = None,
    use_stored: bool = True,
) -> NeutralChoice:
    """Pick the session's neutral: ``--calibrate`` first, then a stored calibration, else adaptive."""
    if calibrate_s is not None:
        if not (calibrate_s > 0 and math.isfinite(calibrate_s)):
            raise CalibrationError(f"--calibrate {calibrate_s:g}: give a positive number of seconds")
        return NeutralChoice("calibrate_s", calibrate_s=float(calibrate_s))
    if use_stored and device:
        row = store.calibration(device, placement)
        if row is not None:
            return NeutralChoice("stored", neutral_g=list(row["neutral_g"]), calibration=row)
    return NeutralChoice("adaptive")
