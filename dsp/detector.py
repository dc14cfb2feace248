"""The real-time detector: samples in, events out. ``detect`` is the same engine fed once.

Stages, each with its state kept explicitly in :class:`DetectorState`:
grid (uniform resampling, gaps) -> bin features (band-pass power, cycle periods, slow parts)
-> window decisions -> episode tracking -> per-minute summaries. The pipeline is here; the
decisions are in ``dsp.decisions``, the episode assembly in ``dsp.episode_assembly``, the records
in ``dsp.detector_state`` and the window-edge kernels in ``dsp.window_edges``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from dsp.config import ORTHOSTATIC_BAND, Band, DetectorConfig
from dsp.contraction import ContractionTracker
from dsp.decisions import DecisionStage, _finite
from dsp.detector_state import BandSpec, DetectorState, Windows
from dsp.episode_assembly import LINK_LOOKBACK_S, WITHIN_POSTURE, WITHIN_POSTURE_MIN_SHARE, EpisodeAssembly
from dsp.events import GAP, MINUTE, NUMERIC_COLUMNS, Episode, Event, Gap, episodes_frame
from dsp.features import BinFeatures, join_bins
from dsp.filters import bandpass_sos
from dsp.grid import Hole, Segment, regrid
from dsp.inputs import as_columns, as_times, channel_major
from dsp.minutes import MinuteAccountant
from dsp.posture import PostureEstimator
from dsp.tremor_episodes import TremorTracker
from dsp.window_edges import _edge_bins, _edges_in_window, _median

#: Names that lived here before the split (issue 12), still importable from ``dsp.detector``.
__all__ = [
    "LIMB_ADAPT_S",
    "LINK_LOOKBACK_S",
    "MAX_CHUNK_SAMPLES",
    "NUMERIC_COLUMNS",
    "WITHIN_POSTURE",
    "WITHIN_POSTURE_MIN_SHARE",
    "BandSpec",
    "DetectorState",
    "InputWarning",
    "StreamingDetector",
    "Windows",
    "_edge_bins",
    "_edges_in_window",
    "_finite",
    "_median",
    "detect",
]

MAX_CHUNK_SAMPLES = 1 << 18  # large pushes are processed in slices of this many samples
#: Uncalibrated limb: a posture held this long is the new baseline (a hand moved to the lap
#: stays there; waiting the neck's five minutes would hide the spasms that follow).
LIMB_ADAPT_S = 60.0


class StreamingDetector(DecisionStage, EpisodeAssembly):
    """Real-time tremor and contraction detector.

    Push chunks of any size; the results are identical for any chunking.
    """

    def __init__(
        self,
        sample_rate_hz: float,
        placement: str = "wrist",
        config: DetectorConfig | None = None,
        start_time: datetime | None = None,
        neutral_g: Sequence[float] | None = None,
        calibrate_s: float | None = None,
    ) -> None:
        """``neutral_g``: a calibrated neutral posture (gravity direction in the sensor frame,
        from ``calibrate``); ``calibrate_s``: the first seconds of the stream are the neutral
        posture. Without either, the neutral adapts to quiet posture."""
        fs = float(sample_rate_hz)
        if not (math.isfinite(fs) and fs >= 20.0):
            raise ValueError(f"sample rate {sample_rate_hz} Hz is too low for tremor (need >= 20 Hz)")
        self.sample_rate_hz = fs
        self.placement = placement
        self.config = cfg = config or DetectorConfig()
        self.start_time = start_time
        self.bin_n = max(1, int(round(cfg.bin_s * fs)))
        self.bin_dur_s = self.bin_n / fs
        self.window_bins = max(2, int(round(cfg.window_s / self.bin_dur_s)))
        self.window_s = self.window_bins * self.bin_dur_s
        self.warmup_n = int(math.ceil(cfg.warmup_s * fs))
        lo = min(b.low_hz for b in cfg.bands)
        hi = max(b.high_hz for b in cfg.bands)
        nyq_hz = fs / 2
        bands = tuple(cfg.bands)
        ob = ORTHOSTATIC_BAND
        if cfg.detect_orthostatic and ob.high_hz + 1.0 < 0.9 * nyq_hz:
            hi = max(hi, ob.high_hz)
            bands = bands + (ob,)
        hi = min(hi, 0.88 * nyq_hz)
        # One band-pass covers every band; the cycle frequency says which band a tremor is in.
        self.band = BandSpec(lo, hi, max(lo - 0.5, 0.5), hi + 1.0)  # bandpass_sos keeps it below Nyquist
        self.bands: tuple[Band, ...] = bands
        self.has_gyro: bool | None = None
        self._limb = placement in ("wrist", "hand", "forearm")
        # Uncalibrated, a limb's voluntary posture changes (lifting the arm, resting it on a lap)
        # look like held twisted postures: there only episodes with a spasm's signature count
        # (a fast pull, a still hold, co-contraction oscillation; see dsp.contraction).
        calibrated = neutral_g is not None or calibrate_s is not None
        self._contraction_path = (
            "calibrated" if calibrated else ("uncalibrated" if self._limb else "adaptive")
        )
        self._contractions_on = True
        self.state = DetectorState()
        self._features: BinFeatures | None = None
        self._tracker: TremorTracker | None = None
        self._minutes: MinuteAccountant | None = None
        self._posture: PostureEstimator | None = None
        self._contraction: ContractionTracker | None = None
        self.neutral_g = None if neutral_g is None else np.asarray(neutral_g, dtype=np.float64)
        if self.neutral_g is not None and not (
            self.neutral_g.shape == (3,)
            and np.isfinite(self.neutral_g).all()
            and np.linalg.norm(self.neutral_g) > 0.5
        ):
            raise ValueError(f"neutral_g must be a gravity direction in g (3 numbers), got {neutral_g!r}")
        self.calibrate_s = calibrate_s

    # --- public API -----------------------------------------------------------
    def push(self, t, acc, gyro=None) -> list[Event]:
        """Feed one chunk: ``t`` seconds, ``acc`` in g and ``gyro`` in deg/s (or None), each an
        (n, 3) array or a tuple of three length-n columns."""
        if self.state.flushed:
            raise RuntimeError("the detector was flushed; start a new one for a new stream")
        t = as_times(t)
        acc = as_columns(acc, t.size, "acc")
        if self.has_gyro is None:
            if t.size == 0:
                return []
            self._setup(gyro is not None)
        if (gyro is not None) != self.has_gyro:
            raise ValueError("a stream must keep the same channels: gyroscope appeared or vanished")
        if gyro is not None:
            gyro = as_columns(gyro, t.size, "gyro")
        events: list[Event] = []
        bounds = [(a, min(a + MAX_CHUNK_SAMPLES, t.size)) for a in range(0, t.size, MAX_CHUNK_SAMPLES)]

        def stage_a(i: int) -> list[tuple]:
            a, b = bounds[i]
            cols = acc if gyro is None else acc + gyro
            return self._stage_a(t[a:b], [c[a:b] for c in cols])

        if len(bounds) < 3:
            for i in range(len(bounds)):
                self._stage_b(stage_a(i), events)
        else:
            pool = _worker()
            pending = pool.submit(stage_a, 0)
            for i in range(len(bounds)):
                items = pending.result()
                if i + 1 < len(bounds):
                    pending = pool.submit(stage_a, i + 1)
                self._stage_b(items, events)
        events.sort(key=lambda e: e.at_s)  # stable: same order whatever the chunking
        return events

    def push_block(self, block) -> list[Event]:
        """Feed a :class:`firmware_bridge.samples.SampleBlock`."""
        return self.push(block.t, block.acc, block.gyro)

    def flush(self) -> list[Event]:
        """End of stream: close open episodes and report the remaining minutes."""
        if self.state.flushed or self.has_gyro is None:
            self.state.flushed = True
            return []
        st = self.state
        events: list[Event] = []
        end_s = st.last_window_end_s
        if end_s is not None:
            events += self._end_open(end_s, st.grid.last_t)
            events.sort(key=lambda e: e.at_s)
        last_t = st.grid.last_t if st.grid.last_t is not None else 0.0
        for m in self._minutes.flush(last_t, self._open_intervals()):
            events.append(Event(MINUTE, last_t, minute=m))
        st.flushed = True
        return events

    def episodes(self) -> pd.DataFrame:
        """Episodes finished so far (since the last :meth:`take_finished`), one row each, in the
        CSV export's columns."""
        return episodes_frame(self._finished())

    def take_finished(self) -> list[Episode]:
        """The episodes finished so far, handed over and forgotten: a long run writes them out
        as it goes, so the detector's memory does not grow with the recording. Between pushes
        a finished episode is final (its id and within-posture link are settled in its push)."""
        eps = self._finished()
        if self._tracker is not None:
            self._tracker.finished.clear()
            self._contraction.finished.clear()
        return eps

    def _finished(self) -> list[Episode]:
        return [] if self._tracker is None else self._tracker.finished + self._contraction.finished

    def status(self) -> dict:
        """What the live display shows: current band power, frequency, context, episode."""
        d = dict(self.state.status)
        d["samples"] = self.state.samples
        d["gaps"] = len(self.state.gaps)
        d["skipped"] = self.state.grid.skipped
        d["in_tremor"] = self.state.tracker.episode is not None
        d["in_contraction"] = self.state.contraction.episode is not None
        d["neutral_known"] = self.state.posture.neutral_g is not None
        d["calibrated"] = self.state.posture.calibrated
        d["limits"] = self.limits
        return d

    @property
    def limits(self) -> list[str]:
        """What this stream cannot show, in words for the session log and the report."""
        out = []
        if self.has_gyro is False:
            out.append(
                "accelerometer only: rotation about the vertical (torticollis; radial/ulnar "
                "deviation) cannot be seen (torticollis shows only through its tilt or flexion "
                "part), and tremor amplitude in deg/s is not available"
            )
        if self._contraction_path == "uncalibrated":
            out.append(
                f"{self.placement}: without a calibrated neutral only spasms (a fast pull, held) are "
                "detected, not slowly drifting postures (run `tremorscope calibrate` or use "
                "--calibrate SECONDS)"
            )
        return out

    @property
    def neutral(self) -> list[float] | None:
        """The neutral posture in use (gravity direction in the sensor frame), for storing."""
        g = self.state.posture.neutral_g
        return None if g is None else [float(v) for v in g]

    @property
    def gaps(self) -> list[Gap]:
        return list(self.state.gaps)

    @property
    def skipped(self) -> int:
        """Input samples dropped (non-finite or not after the previous sample)."""
        return self.state.grid.skipped

    # --- set-up ---------------------------------------------------------------
    def _setup(self, has_gyro: bool) -> None:
        self.has_gyro = has_gyro
        fs = self.sample_rate_hz
        sos = bandpass_sos(self.band.filter_low_hz, self.band.filter_high_hz, fs)
        # the contraction tracker's pull speed reads the gyroscope's sliding windows where there
        # is one, else the accelerometer's (dsp.pull_rate): only those channels are slid
        slide = (3, 6) if has_gyro else (0, 3)
        self._features = BinFeatures(sos, fs, self.bin_n, keep_signal=True, slide_channels=slide)
        self.state.features = self._features.new_state()
        self._tracker = TremorTracker(
            self.config,
            self.bands,
            self.window_s,
            self.bin_dur_s,
            has_gyro,
            self._wall_clock,
            self._next_id,
        )
        cfg = self.config
        uncal = self._contraction_path == "uncalibrated"
        adapt_s = min(cfg.neutral_adapt_s, LIMB_ADAPT_S) if uncal else cfg.neutral_adapt_s
        self._posture = PostureEstimator(
            self.bin_dur_s,
            has_gyro,
            neutral_tau_s=cfg.neutral_tau_s,
            adopt_after_s=adapt_s,
        )
        if self.neutral_g is not None:
            self._posture.set_neutral(self.state.posture, self.neutral_g)
        self._contraction = ContractionTracker(
            cfg,
            self.placement,
            self.bin_dur_s,
            has_gyro,
            self._next_id,
            self._wall_clock,
            path=self._contraction_path,
            adapt_s=adapt_s,
        )

    def _wall_clock(self, t_s: float) -> str | None:
        if self.start_time is None or self.state.grid.first_t is None:
            return None
        offset_s = float(t_s) - self.state.grid.first_t
        return (self.start_time + timedelta(seconds=offset_s)).isoformat()

    def _init_minutes(self) -> None:
        origin = self.state.grid.origin_s
        first = self.state.grid.first_t
        if self.start_time is not None:
            st = self.start_time
            first -= st.second + st.microsecond / 1e6
        cfg = self.config
        delay = self.window_s + cfg.start_hold_s + cfg.end_hold_s + 2 * self.bin_dur_s
        self._minutes = MinuteAccountant(self.bin_dur_s, origin, first, delay, self._wall_clock)

    # --- the pipeline ---------------------------------------------------------
    # Two stages: (A) resampling and per-bin features, which depend only on the samples, and
    # (B) decisions, episodes and minutes. A large push runs A for the next slice on a worker
    # thread while B handles the current one; each stage still sees its slices in order, so
    # the results are the same as running them one after the other.
    def _stage_a(self, t: np.ndarray, cols: list[np.ndarray]) -> list[tuple]:
        st = self.state
        out = regrid(t, channel_major(cols), st.grid, self.sample_rate_hz, self.config.gap_s)
        st.samples += t.size
        items: list[tuple] = []
        for item in out.items:
            if isinstance(item, Hole):
                st.next_k = None
                items.append(("hole", item))
            else:
                self._segment(item, items)
        return items

    def _segment(self, seg: Segment, items: list[tuple]) -> None:
        st = self.state
        nb = self.bin_n
        if st.next_k is None or seg.k0 != st.next_k:
            # a new stretch of data: settle the filters on its first sample
            self._features.reset(st.features, seg.x[:, 0])
            b0 = seg.k0 // nb
            pad = seg.k0 - b0 * nb
            st.pending = np.repeat(seg.x[:, :1], pad, axis=1)
            st.pending_filled = np.ones(pad, bool)  # padding is not data
            st.pending_k0 = b0 * nb
            items.append(("start", -(-(seg.k0 + self.warmup_n) // nb)))
        st.next_k = seg.k0 + seg.x.shape[1]
        # The unfinished bin from before is completed from the head of this segment; the
        # rest goes to the features as it is (a view, no copy).
        x, filled = seg.x, seg.filled
        parts = []
        k0 = st.pending_k0
        if st.pending.shape[1]:
            need = nb - st.pending.shape[1]
            head = np.concatenate((st.pending, x[:, :need]), axis=1)
            head_filled = np.concatenate((st.pending_filled, filled[:need]))
            if head.shape[1] < nb:
                st.pending, st.pending_filled = head, head_filled
                return
            parts.append(self._features.process(head, k0, st.features, head_filled))
            k0 += nb
            x, filled = x[:, need:], filled[need:]
        whole = (x.shape[1] // nb) * nb
        if whole:
            parts.append(self._features.process(x[:, :whole], k0, st.features, filled[:whole]))
            k0 += whole
        st.pending, st.pending_filled = x[:, whole:].copy(), filled[whole:].copy()
        first_bin = st.pending_k0 // nb
        st.pending_k0 = k0
        if parts:
            items.append(("bins", first_bin, parts[0] if len(parts) == 1 else join_bins(parts)))

    def _stage_b(self, items: list[tuple], events: list[Event]) -> None:
        st = self.state
        if self._minutes is None and st.grid.origin_s is not None:
            self._init_minutes()
        for kind, arg, *rest in items:
            if kind == "hole":
                self._hole(arg, events)
            elif kind == "start":
                self._segment_start(arg)
            else:
                bins = self._features.slow(rest[0], st.features)  # here: it balances the stages
                self._bins(arg, bins, self._windows(arg, bins), events)

    def _hole(self, hole: Hole, events: list[Event]) -> None:
        st = self.state
        if st.last_window_end_s is not None:
            events += self._end_open(min(st.last_window_end_s, hole.start_s), hole.start_s)
        gap = Gap(hole.start_s, hole.end_s)
        st.gaps.append(gap)
        events.append(Event(GAP, hole.end_s, gap=gap))
        if self._minutes is not None:
            # Minutes that end before the first bin after the gap are final now: reported here, at
            # the gap at the latest, so that no later push reports a minute dated before its gap
            # (the events stay in time order whatever the chunking).
            for m in self._minutes.final_before(hole.end_s - self.bin_dur_s, self._open_intervals()):
                at_s = min(m.minute_start_s + 60.0 + self._minutes.delay_s, hole.end_s)
                events.append(Event(MINUTE, at_s, minute=m))

    def _segment_start(self, valid_from_bin: int) -> None:
        st = self.state
        st.valid_from_bin = valid_from_bin
        st.history = None
        self._features.reset_slow(st.features)
        self._posture.reset_fusion(st.posture)
        st.prev_dir = None
        if self.calibrate_s is not None and st.posture.neutral_g is None:
            if st.posture.calib_until_bin is None:
                n_cal = int(round(self.calibrate_s / self.bin_dur_s))
                self._posture.start_calibration(st.posture, valid_from_bin, valid_from_bin + n_cal)


_WORKER: ThreadPoolExecutor | None = None


def _worker() -> ThreadPoolExecutor:
    """One background thread for the resampling-and-features stage of large pushes."""
    global _WORKER
    if _WORKER is None:
        _WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dsp-stage-a")
    return _WORKER


def detect(
    frame: pd.DataFrame,
    sample_rate_hz: float | None = None,
    placement: str = "wrist",
    config: DetectorConfig | None = None,
    start_time: datetime | None = None,
    neutral_g: Sequence[float] | None = None,
    calibrate_s: float | None = None,
) -> pd.DataFrame:
    """Episodes in a recording held in a DataFrame with the canonical columns (or a mapping of
    column name to values).

    The streaming detector fed once. ``sample_rate_hz`` defaults to ``frame.attrs`` or the
    median time step. Rows with a missing or non-finite value are left out and counted (one
    :class:`InputWarning`; the count is in the result's ``attrs["skipped_samples"]``); time going
    backwards is an error, since the rows after it would be lost.
    """
    if not isinstance(frame, pd.DataFrame):
        if not isinstance(frame, Mapping):
            raise TypeError(
                f"detect takes a DataFrame with columns t, acc_x, ... (got {type(frame).__name__})"
            )
        frame = pd.DataFrame(dict(frame), copy=False)
    for c in ("t", "acc_x", "acc_y", "acc_z"):
        if c not in frame.columns:
            raise ValueError(
                f"frame has no column {c!r} (need t, acc_x, acc_y, acc_z[, gyro_x, gyro_y, gyro_z])"
            )
    t = as_times(frame["t"])
    _check_order(t)
    if sample_rate_hz is None:
        sample_rate_hz = frame.attrs.get("sample_rate_hz")
    if sample_rate_hz is None:
        d = np.diff(t[:10_000])
        d = d[d > 0]
        if d.size == 0:
            raise ValueError("cannot estimate the sample rate: fewer than two increasing times")
        est_hz = 1.0 / float(np.median(d))
        sample_rate_hz = round(est_hz) if est_hz >= 100 else round(est_hz, 1)  # a nominal rate
    acc = tuple(frame[c] for c in ("acc_x", "acc_y", "acc_z"))  # converted (views) in push
    gyro = None
    if all(c in frame.columns for c in ("gyro_x", "gyro_y", "gyro_z")):
        gyro = tuple(frame[c] for c in ("gyro_x", "gyro_y", "gyro_z"))
    det = StreamingDetector(
        float(sample_rate_hz),
        placement=placement,
        config=config,
        start_time=start_time,
        neutral_g=neutral_g,
        calibrate_s=calibrate_s,
    )
    det.push(t, acc, gyro)
    det.flush()
    out = det.episodes()
    out.attrs["skipped_samples"] = det.skipped
    if det.skipped:
        warnings.warn(
            f"dsp.detect: left out {det.skipped} of {t.size} rows with a missing, non-finite or "
            "out-of-range value or a repeated time",
            InputWarning,
            stacklevel=2,
        )
    return out


class InputWarning(UserWarning):
    """Some input samples were left out (they are counted)."""


def _check_order(t: np.ndarray) -> None:
    """Time must not go backwards in a whole recording (a repeated time is only skipped)."""
    with np.errstate(invalid="ignore"):
        back = np.flatnonzero(t[1:] < t[:-1])
    if back.size:
        i = int(back[0]) + 1
        raise ValueError(
            f"t goes backwards at row {i} ({t[i - 1]:.6g} s then {t[i]:.6g} s); sort the frame by t "
            "or split it into separate recordings"
        )
