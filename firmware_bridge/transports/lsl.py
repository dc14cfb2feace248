"""Lab Streaming Layer (LSL) in and out, through pylsl, so a lab's recorder (LabRecorder, XDF)
captures our samples and events beside EEG/EMG, and an LSL IMU stream can be our input.

Unlike the other transports LSL carries samples, not bytes, so this module hands out
:class:`~firmware_bridge.samples.SampleBlock` s directly:

- :class:`SampleOutlet` publishes blocks as a stream of type ``IMU`` (channels ``acc_x..z`` in
  g, then ``gyro_x..z`` in deg/s when present), stamped on the LSL clock.
- :class:`MarkerOutlet` publishes text markers (the app sends one JSON object per event).
- :class:`LslInlet` reads an IMU stream published by anyone, converting units by each
  channel's ``unit`` (m/s^2 -> g, rad/s -> deg/s), with LSL's clock offset applied.

Stream metadata follows the XDF/LSL meta-data conventions (github.com/sccn/xdf, wiki "Meta-Data":
``desc/channels/channel`` with ``label``, ``unit``, ``type``). Units: 1 g = 9.80665 m/s^2 (BIPM,
standard gravity); 1 rad = 180/pi deg.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from firmware_bridge.samples import SampleBlock

#: LSL content type of our sample stream (XDF meta-data: "MoCap"/"IMU" are used for motion).
IMU_TYPE = "IMU"
#: Content type of the event stream (the XDF convention for event strings).
MARKER_TYPE = "Markers"
ACC_LABELS = ("acc_x", "acc_y", "acc_z")
GYRO_LABELS = ("gyro_x", "gyro_y", "gyro_z")
STANDARD_GRAVITY_M_S2 = 9.80665
DEG_PER_RAD = 180.0 / math.pi
#: Seconds an inlet waits for a stream to appear before giving up with a clear error.
RESOLVE_TIMEOUT_S = 5.0
#: Seconds one pull waits for data, so a consumer can react to a stop a few times a second.
PULL_TIMEOUT_S = 0.2
#: Most samples pulled at once (a few seconds at common rates): bounds one block.
MAX_PULL_SAMPLES = 4096
_ACC_UNITS = {"g": 1.0, "m/s^2": 1.0 / STANDARD_GRAVITY_M_S2, "m/s2": 1.0 / STANDARD_GRAVITY_M_S2}
_GYRO_UNITS = {"deg/s": 1.0, "dps": 1.0, "rad/s": DEG_PER_RAD}


class LslError(RuntimeError):
    """An LSL stream cannot be used; one line saying which and what to do."""


def _pylsl():
    try:
        import pylsl
    except ImportError:
        raise LslError("pylsl is not installed; pip install 'tremorscope[cohort]'") from None
    except RuntimeError as e:  # pylsl found no liblsl binary
        raise LslError(f"pylsl cannot load liblsl ({' '.join(str(e).split()[:12])} ...)") from None
    return pylsl


def local_clock() -> float:
    """LSL's clock (seconds), the time base of every stream's timestamps."""
    return float(_pylsl().local_clock())


class SampleOutlet:
    """Publish sample blocks as an LSL ``IMU`` stream."""

    def __init__(
        self, name: str, sample_rate_hz: float, has_gyro: bool, source_id: str = "", device: str | None = None
    ) -> None:
        pylsl = _pylsl()
        labels = ACC_LABELS + (GYRO_LABELS if has_gyro else ())
        info = pylsl.StreamInfo(
            name, IMU_TYPE, len(labels), float(sample_rate_hz), pylsl.cf_float32, source_id or name
        )
        channels = info.desc().append_child("channels")
        for label in labels:
            ch = channels.append_child("channel")
            ch.append_child_value("label", label)
            ch.append_child_value("unit", "g" if label.startswith("acc") else "deg/s")
            ch.append_child_value("type", "Acc" if label.startswith("acc") else "Gyro")
        if device:
            info.desc().append_child_value("manufacturer", device)
        self.has_gyro = has_gyro
        self.name = name
        self._outlet = pylsl.StreamOutlet(info)

    def push_block(self, block: SampleBlock, lsl_t0: float | None = None) -> None:
        """Send one block; its ``t`` (seconds) is placed on the LSL clock at ``lsl_t0 + t``
        (default: the last sample is "now")."""
        if len(block) == 0:
            return
        if block.has_gyro != self.has_gyro:
            raise LslError(f"stream {self.name!r}: the block's gyroscope does not match the stream")
        data = block.acc if block.gyro is None else np.hstack([block.acc, block.gyro])
        if lsl_t0 is None:
            lsl_t0 = local_clock() - float(block.t[-1])
        stamps = (lsl_t0 + block.t).tolist()
        self._outlet.push_chunk(np.ascontiguousarray(data, dtype=np.float32), stamps)

    def have_consumers(self) -> bool:
        return bool(self._outlet.have_consumers())

    def wait_for_consumers(self, timeout_s: float) -> bool:
        """Wait until an inlet is subscribed (True), or ``timeout_s`` passed (False). An inlet
        receives only what is pushed after its subscription reached the outlet (liblsl's
        StreamOutlet.wait_for_consumers; pylsl docs), which may be a moment after the inlet's
        own ``open_stream`` returned."""
        return bool(self._outlet.wait_for_consumers(float(timeout_s)))

    def close(self) -> None:
        self._outlet = None


class MarkerOutlet:
    """Publish text markers (e.g. one JSON object per detector event) as an irregular stream."""

    def __init__(self, name: str, source_id: str = "") -> None:
        pylsl = _pylsl()
        rate, fmt = pylsl.IRREGULAR_RATE, pylsl.cf_string
        info = pylsl.StreamInfo(name, MARKER_TYPE, 1, rate, fmt, source_id or name)
        self._outlet = pylsl.StreamOutlet(info)

    def push(self, text: str, lsl_time: float | None = None) -> None:
        self._outlet.push_sample([text], 0.0 if lsl_time is None else float(lsl_time))

    def close(self) -> None:
        self._outlet = None


@dataclass
class InletStats:
    """What the inlet saw: samples received, and the stream's own rate and names."""

    name: str
    sample_rate_hz: float
    channels: tuple[str, ...]
    samples: int = 0


class LslInlet:
    """Read an LSL IMU stream (by name, else the first of type ``IMU``) as sample blocks.

    Accelerometer channels are found by label (``acc_x``/``AccX``/``x`` ...) or, without labels,
    taken as the first three; gyroscope channels by label only. ``t`` is the LSL timestamp with
    the inlet's clock correction, so it is on this machine's LSL clock.
    """

    def __init__(self, name: str | None = None, timeout_s: float = RESOLVE_TIMEOUT_S) -> None:
        pylsl = _pylsl()
        prop, value = ("name", name) if name else ("type", IMU_TYPE)
        found = pylsl.resolve_byprop(prop, value, 1, timeout_s)
        if not found:
            raise LslError(f"no LSL stream with {prop} {value!r} appeared within {timeout_s:g} s; is it on?")
        self._inlet = pylsl.StreamInlet(found[0], max_chunklen=MAX_PULL_SAMPLES, recover=True)
        info = self._inlet.info(timeout=timeout_s)
        # connect now: an outlet sends only what is pushed after an inlet has connected
        self._inlet.open_stream(timeout=timeout_s)
        labels, units = [], []
        ch = info.desc().child("channels").child("channel")
        for _ in range(info.channel_count()):
            labels.append(ch.child_value("label").strip().lower())
            units.append(ch.child_value("unit").strip().lower())
            ch = ch.next_sibling()
        self.acc_idx, self.acc_scale = _pick(labels, units, ACC_LABELS, _ACC_UNITS, default_first=True)
        self.gyro_idx, self.gyro_scale = _pick(labels, units, GYRO_LABELS, _GYRO_UNITS, default_first=False)
        if self.acc_idx is None:
            raise LslError(f"LSL stream {info.name()!r} has fewer than 3 channels; need acc x, y, z")
        rate = float(info.nominal_srate())
        self.sample_rate_hz = rate if rate > 0 else None
        self.has_gyro = self.gyro_idx is not None
        self.stats = InletStats(info.name(), rate, tuple(labels))

    def pull(self, timeout_s: float = PULL_TIMEOUT_S) -> SampleBlock:
        """The samples that arrived (an empty block when none did within ``timeout_s``)."""
        data, stamps = self._inlet.pull_chunk(timeout=timeout_s, max_samples=MAX_PULL_SAMPLES)
        if not stamps:
            return SampleBlock(np.empty(0), np.empty((0, 3)), np.empty((0, 3)) if self.has_gyro else None)
        x = np.asarray(data, dtype=np.float64)
        t = np.asarray(stamps, dtype=np.float64) + float(self._inlet.time_correction())
        acc = x[:, self.acc_idx] * self.acc_scale
        gyro = None if self.gyro_idx is None else x[:, self.gyro_idx] * self.gyro_scale
        self.stats.samples += t.size
        return SampleBlock(t, acc, gyro)

    def blocks(self, duration_s: float | None = None) -> Iterator[SampleBlock]:
        """Yield blocks as they arrive (empty ones while waiting), for ``duration_s`` or forever."""
        end = None if duration_s is None else time.monotonic() + duration_s
        while end is None or time.monotonic() < end:
            yield self.pull()

    def close(self) -> None:
        if self._inlet is not None:
            self._inlet.close_stream()
            self._inlet = None

    def __enter__(self) -> LslInlet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pick(
    labels: list[str], units: list[str], names: tuple[str, ...], scales: dict[str, float], default_first: bool
) -> tuple[list[int] | None, float]:
    """Indices of the three channels named like ``names`` and the factor to our unit."""
    spellings = [(n, n.replace("_", ""), n.split("_")[1]) for n in names]
    idx = []
    for forms in spellings:
        hit = next((i for i, lab in enumerate(labels) if lab in forms and i not in idx), None)
        if hit is None:
            break
        idx.append(hit)
    if len(idx) != 3:
        if not default_first or len(labels) < 3:
            return None, 1.0
        idx = [0, 1, 2]
    unit = units[idx[0]] or next(iter(scales))
    if unit not in scales:
        expected = ", ".join(scales)
        raise LslError(f"LSL channel {labels[idx[0]]!r} has unit {unit!r}; expected one of {expected}")
    return idx, scales[unit]
