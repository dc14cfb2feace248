"""The real-time detector: samples in, events out. ``detect`` is the same engine fed once.

Stages, each with its state kept explicitly in :class:`DetectorState`:
grid (uniform resampling, gaps) -> bin features (band-pass power, cycle periods, slow parts)
-> window decisions -> episode tracking -> per-minute summaries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from numba import njit, types

from dsp.config import ORTHOSTATIC_BAND, Band, DetectorConfig
from dsp.contraction import ConState, ContractionTracker
from dsp.events import ENDED, EPISODE_COLUMNS, GAP, MINUTE, SEVERITY_CLASSES, STARTED, Event, Gap
from dsp.features import BinFeatures, Bins, FeatureState, join_bins
from dsp.filters import bandpass_sos
from dsp.grid import GridState, Hole, Segment, regrid
from dsp.minutes import NONE, TREMOR0, UNKNOWN, MinuteAccountant
from dsp.posture import PostureEstimator, PostureState
from dsp.tremor_episodes import (
    TrackerState,
    TremorTracker,
    WindowBatch,
    displacement_cm,
    severity_index,
)
from dsp.windows import CONTEXT_NAMES, WindowInputs, decide

MAX_CHUNK_SAMPLES = 1 << 18
NUMERIC_COLUMNS = tuple(
    c
    for c in EPISODE_COLUMNS
    if c not in ("session_id", "episode_id", "kind", "start_time", "band", "severity", "context", "direction")
)  # large pushes are processed in slices of this many samples


@dataclass(frozen=True)
class BandSpec:
    low_hz: float  # decision range
    high_hz: float
    filter_low_hz: float  # band-pass edges (a little wider, so the range is flat)
    filter_high_hz: float


@dataclass
class Windows:
    """The window decisions for one run of bins (``result`` None: no complete window yet)."""

    valid: np.ndarray  # per bin: after the warm-up
    result: object | None  # dsp.windows.WindowResult
    end_bins: np.ndarray | None  # the bin each window ends with
    batch: WindowBatch | None  # what the tremor tracker needs
    codes: np.ndarray | None  # per window: its label for the minute summaries


@dataclass
class DetectorState:
    """Everything the detector carries from one push to the next."""

    grid: GridState = field(default_factory=GridState)
    features: FeatureState | None = None
    tracker: TrackerState = field(default_factory=TrackerState)
    posture: PostureState = field(default_factory=PostureState)
    contraction: ConState = field(default_factory=ConState)
    next_episode_id: int = 1
    next_provisional_id: int = -1  # ids handed out mid-block, renumbered in time order after it
    next_k: int | None = None  # grid index expected next (None: a new segment starts)
    pending: np.ndarray | None = None  # grid samples of the unfinished bin
    pending_filled: np.ndarray | None = None  # which of them were interpolated across a hole
    pending_k0: int = 0
    valid_from_bin: int = 0  # first bin after the warm-up of the current segment
    history: dict | None = None  # per-bin inputs of the last window_bins - 1 bins
    last_window_end_s: float | None = None
    samples: int = 0
    gaps: list[Gap] = field(default_factory=list)
    status: dict = field(default_factory=dict)
    flushed: bool = False


class StreamingDetector:
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
        # look exactly like held twisted postures, so limb contractions need a calibrated neutral.
        self._contractions_on = (not self._limb) or neutral_g is not None or calibrate_s is not None
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
        t = np.asarray(t, dtype=np.float64).reshape(-1)
        acc = _columns(acc, t.size, "acc")
        if self.has_gyro is None:
            if t.size == 0:
                return []
            self._setup(gyro is not None)
        if (gyro is not None) != self.has_gyro:
            raise ValueError("a stream must keep the same channels: gyroscope appeared or vanished")
        if gyro is not None:
            gyro = _columns(gyro, t.size, "gyro")
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
        """Episodes finished so far, one row each, in the CSV export's columns."""
        eps = [] if self._tracker is None else self._tracker.finished + self._contraction.finished
        rows = [e.as_row() for e in sorted(eps, key=lambda e: (e.start_s, e.kind, e.episode_id))]
        frame = pd.DataFrame(rows, columns=list(EPISODE_COLUMNS))
        for c in NUMERIC_COLUMNS:  # numbers stay numbers (NaN where a column does not apply)
            frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(float)
        return frame

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
                "deviation) cannot be seen, and tremor amplitude in deg/s is not available"
            )
        if not self._contractions_on:
            out.append(
                f"{self.placement}: sustained postures are only detected against a calibrated neutral "
                "(run `tremorscope calibrate` or use --calibrate SECONDS)"
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
        self._features = BinFeatures(sos, fs, self.bin_n, keep_signal=not has_gyro)
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
        self._posture = PostureEstimator(
            self.bin_dur_s,
            has_gyro,
            neutral_tau_s=cfg.neutral_tau_s,
            adopt_after_s=cfg.neutral_adapt_s,
        )
        if self.neutral_g is not None:
            self._posture.set_neutral(self.state.posture, self.neutral_g)
        self._contraction = ContractionTracker(
            cfg, self.placement, self.bin_dur_s, has_gyro, self._next_id, self._wall_clock
        )

    def _next_id(self) -> int:
        """A provisional id; ``_number_episodes`` gives final ids in order of detection."""
        i = self.state.next_provisional_id
        self.state.next_provisional_id -= 1
        return i

    def _number_episodes(self, events: list[Event]) -> None:
        """Final episode ids in order of detection time (then kind), whatever the chunking:
        within a block the two trackers run one after the other."""
        started = [e for e in events if e.type == STARTED and e.episode.episode_id < 0]
        if not started:
            return
        started.sort(key=lambda e: (e.at_s, e.episode.kind))
        st = self.state
        final = {}
        for e in started:
            final[e.episode.episode_id] = st.next_episode_id
            st.next_episode_id += 1
        for i, e in enumerate(events):
            if e.episode is not None and e.episode.episode_id in final:
                events[i] = replace(e, episode=replace(e.episode, episode_id=final[e.episode.episode_id]))
        for fin in (self._tracker.finished, self._contraction.finished):
            for i in range(len(fin) - 1, -1, -1):
                if fin[i].episode_id >= 0:
                    break
                fin[i] = replace(fin[i], episode_id=final[fin[i].episode_id])
        for acc in (st.tracker.episode, st.contraction.episode):
            if acc is not None and acc.episode_id in final:
                acc.episode_id = final[acc.episode_id]

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
        out = regrid(t, _channel_major(cols), st.grid, self.sample_rate_hz, self.config.gap_s)
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

    def _segment_start(self, valid_from_bin: int) -> None:
        st = self.state
        st.valid_from_bin = valid_from_bin
        st.history = None
        self._features.reset_slow(st.features)
        self._posture.reset_fusion(st.posture)
        if self.calibrate_s is not None and st.posture.neutral_g is None:
            if st.posture.calib_until_bin is None:
                n_cal = int(round(self.calibrate_s / self.bin_dur_s))
                self._posture.start_calibration(st.posture, valid_from_bin, valid_from_bin + n_cal)

    def _windows(self, bin0: int, bins: Bins) -> Windows:
        """The decision for every window ending in these bins, and what the episode tracker
        needs of them."""
        st = self.state
        cfg = self.config
        w = self.window_bins
        bb = bins.band
        nnew = bins.lf.shape[0]
        idx = np.arange(bin0, bin0 + nnew)
        cur = dict(
            valid=idx >= st.valid_from_bin,
            ms=bb.ms,
            m4=bb.m4,
            n_cycles=bb.n_cycles,
            sum_period=bb.sum_period,
            sum_period_sq=bb.sum_period_sq,
            lf=bins.lf,
        )
        if not self.has_gyro:  # the spectrum check needs the samples themselves
            cur["y"] = bb.y.reshape(bb.y.shape[0], nnew, self.bin_n).transpose(1, 0, 2)
        hist = st.history
        nh = 0 if hist is None else hist["valid"].shape[0]
        if hist is None:
            joined = cur
        else:
            joined = {k: np.concatenate((hist[k], v)) for k, v in cur.items()}
        total = nh + nnew
        keep = min(w - 1, total)
        st.history = {k: v[total - keep :] for k, v in joined.items()}
        if total < w:
            return Windows(cur["valid"], None, None, None, None)
        spec = self.band
        r = decide(WindowInputs(**joined), w, self.sample_rate_hz, spec.low_hz, spec.high_hz, cfg, self._limb)
        # windows end at joined rows w-1 .. total-1
        end_bins = np.arange(bin0 - nh + w - 1, bin0 + nnew)
        end_s = st.grid.origin_s + (end_bins + 1) * self.bin_dur_s
        # cycle-to-cycle frequency changes in each window's last bin, on its dominant axis
        win_of_bin = bb.cycle_bin + nh - (w - 1)
        okw = (win_of_bin >= 0) & (win_of_bin < end_bins.size)
        wi = win_of_bin[okw]
        sel = r.axis[wi] == bb.cycle_axis[okw]
        cycle_win, cycle_df = wi[sel], bb.cycle_df_hz[okw][sel]
        order = np.argsort(cycle_win, kind="stable")  # by window, for the tracker's slices
        onset_in, offset_in = _edges_in_window(joined, w, self.has_gyro, self.bin_dur_s)
        wb = WindowBatch(
            end_s=end_s,
            valid=r.valid,
            candidate=r.candidate,
            start_candidate=r.start_candidate,
            freq_hz=r.freq_hz,
            acc_ms=r.acc_ms,
            gyro_ms=r.gyro_ms,
            context=r.context,
            first_after_break=end_bins - (w - 1) == st.valid_from_bin,
            onset_in_s=onset_in,
            offset_in_s=offset_in,
            cycle_win=cycle_win[order],
            cycle_df_hz=cycle_df[order],
        )
        # per-window labels for the minute summaries (given to the window's centre bin)
        with np.errstate(invalid="ignore", divide="ignore"):
            disp = displacement_cm(np.sqrt(r.acc_ms), r.freq_hz)
            sev = np.clip(severity_index(np.nan_to_num(disp), cfg.severity_cm), 1, 4)
        codes = np.where(
            ~r.valid,
            UNKNOWN,
            np.where(r.candidate, TREMOR0 + sev, np.where(r.moving, UNKNOWN, NONE)),
        ).astype(np.int8)
        return Windows(cur["valid"], r, end_bins, wb, codes)

    def _bins(self, bin0: int, bins: Bins, win: Windows, events: list[Event]) -> None:
        """Contraction and tremor episodes, minute summaries, the live status."""
        st = self.state
        w = self.window_bins
        first_event = len(events)
        self._contraction_bins(bin0, bins, win.valid, events)
        if win.result is None:
            block_events = events[first_event:]
            self._number_episodes(block_events)
            events[first_event:] = block_events
            return
        r, end_bins, wb = win.result, win.end_bins, win.batch
        end_s = wb.end_s
        new_events = self._tracker.process(st.tracker, wb)
        events += new_events
        block_events = events[first_event:]
        self._number_episodes(block_events)
        events[first_event:] = block_events
        for e in block_events:
            if e.type == ENDED and e.episode.kind == "tremor":
                self._note_ended(e)
        st.last_window_end_s = float(end_s[-1])
        self._minutes.record(end_bins - w // 2, win.codes)
        for m in self._minutes.emit(st.last_window_end_s, self._open_intervals()):
            events.append(Event(MINUTE, m.minute_start_s + 60.0 + self._minutes.delay_s, minute=m))
        st.status.update(
            {
                "t_s": float(end_s[-1]),
                "band_rms_g": float(np.sqrt(r.acc_ms[-1])),
                "band_rms_dps": float(np.sqrt(r.gyro_ms[-1])) if self.has_gyro else None,
                "dominant_hz": _finite(r.freq_hz[-1]),
                "period_cv": _finite(r.period_cv[-1]),
                "candidate": bool(r.candidate[-1]),
                "context": CONTEXT_NAMES[int(r.context[-1])],
                "gravity_g": [float(v) for v in r.gravity[-1]],
            }
        )

    def _contraction_bins(self, bin0: int, bins: Bins, valid: np.ndarray, events: list[Event]) -> None:
        """Posture angles and contraction episodes, bin by bin."""
        if not self._contractions_on:
            return
        st = self.state
        cfg = self.config
        lf_acc = bins.lf[:, 0:3]
        band_ms = bins.band.ms[:, 0:3].sum(axis=1).astype(np.float64)
        # not walking or shaking: a posture can be counted as held (the pull itself may be fast)
        still = band_ms < cfg.contraction_max_activity_g**2
        quiet = valid & still  # ...and not turning either: the neutral may learn from it
        gyro_mean = None
        if self.has_gyro:
            gyro_mean = bins.mean[:, 3:6]
            lf_rot = np.sqrt((bins.lf[:, 3:6].astype(np.float64) ** 2).sum(axis=1))
            quiet &= lf_rot < cfg.movement_dps
        pb = self._posture.process(st.posture, bin0, lf_acc, gyro_mean, quiet)
        dev = np.where(valid, pb.deviation_deg, np.nan)
        speed = pb.turn_dps
        idx = np.arange(bin0, bin0 + valid.size)
        end_s = st.grid.origin_s + (idx + 1) * self.bin_dur_s
        evs = self._contraction.process(
            st.contraction, end_s, dev, pb.pitch_deg, pb.roll_deg, pb.yaw_deg, speed, still, band_ms
        )
        for e in evs:
            if e.type == ENDED:
                self._note_ended(e)
        events += evs
        st.status.update(
            {
                "deviation_deg": _finite(dev[-1]),
                "pitch_deg": _finite(pb.pitch_deg[-1]),
                "roll_deg": _finite(pb.roll_deg[-1]),
                "yaw_deg": _finite(pb.yaw_deg[-1]),
            }
        )

    def _note_ended(self, e: Event) -> None:
        ep = e.episode
        if ep.kind == "contraction":
            self._minutes.add_interval(ep.start_s, ep.end_s, 0, contraction=True)
        else:
            self._minutes.add_interval(ep.start_s, ep.end_s, SEVERITY_CLASSES.index(ep.severity))

    def _open_intervals(self) -> list:
        out = []
        cur = self._tracker.current(self.state.tracker) if self._tracker else None
        if cur is not None:
            ep = self.state.tracker.episode
            out.append((cur.start_s, ep.last_center_s, SEVERITY_CLASSES.index(cur.severity), False))
        con = self.state.contraction.episode
        if con is not None:
            out.append((con.start_s, con.last_above_s, 0, True))
        return out

    def _end_open(self, at_s: float, last_data_s: float) -> list[Event]:
        evs = self._tracker.end_open(self.state.tracker, at_s, last_data_s)
        evs += self._contraction.end_open(self.state.contraction, at_s, last_data_s)
        for e in evs:
            self._note_ended(e)
        return evs


_WORKER: ThreadPoolExecutor | None = None


def _worker() -> ThreadPoolExecutor:
    """One background thread for the resampling-and-features stage of large pushes."""
    global _WORKER
    if _WORKER is None:
        _WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dsp-stage-a")
    return _WORKER


def _edges_in_window(joined: dict, w: int, has_gyro: bool, bin_dur_s: float):
    """Where band power rises (falls) within each window: seconds from the window start.

    The first bin reaching half the median power of the window's second half is the onset;
    the last bin reaching half the median of its first half is the offset.
    """
    ms = joined["ms"]
    power = np.ascontiguousarray((ms[:, 3:6] if has_gyro else ms[:, 0:3]).sum(axis=1), dtype=np.float64)
    on_idx, off_idx = _edge_bins(power, w)
    return on_idx * bin_dur_s, (off_idx + 1) * bin_dur_s


@njit(cache=True, nogil=True)
def _median(a, buf):
    """Median of a few values, sorted by insertion into ``buf`` (NaN last, as NumPy sorts)."""
    k = a.size
    for i in range(k):
        v = a[i]
        j = i
        while j > 0 and (buf[j - 1] > v or (math.isnan(buf[j - 1]) and not math.isnan(v))):
            buf[j] = buf[j - 1]
            j -= 1
        buf[j] = v
    return buf[k // 2] if k % 2 else 0.5 * (buf[k // 2 - 1] + buf[k // 2])


@njit((types.float64[::1], types.int64), cache=True, nogil=True)  # compiled on import
def _edge_bins(power, w):
    m = power.size - w + 1
    half = w // 2
    on = np.zeros(m, np.int64)
    off = np.zeros(m, np.int64)
    buf = np.empty(w)
    for r in range(m):
        p = power[r : r + w]
        ref_on = 0.5 * _median(p[half:], buf)
        ref_off = 0.5 * _median(p[:half], buf)
        for i in range(w):  # the first bin at or above (0 if none)
            if p[i] >= ref_on:
                on[r] = i
                break
        off[r] = w - 1
        for i in range(w - 1, -1, -1):  # the last bin at or above (the window's last if none)
            if p[i] >= ref_off:
                off[r] = i
                break
    return on, off


def _finite(v) -> float | None:
    return float(v) if np.isfinite(v) else None


def _channel_major(cols: list[np.ndarray]) -> np.ndarray:
    """The columns as one channels x samples float64 array: a view when they are evenly spaced
    in memory (the columns of an (n, 3) array, a DataFrame's block), else a copy."""
    cols = [np.asarray(c, dtype=np.float64) for c in cols]
    first = cols[0]
    if first.size and all(c.shape == first.shape and c.strides == first.strides for c in cols):
        ptrs = [c.__array_interface__["data"][0] for c in cols]
        step = ptrs[1] - ptrs[0] if len(ptrs) > 1 else 0
        if all(ptrs[i] == ptrs[0] + i * step for i in range(len(ptrs))):
            # every element of the view lies in one of the columns: row i is exactly column i
            return np.lib.stride_tricks.as_strided(first, (len(cols), first.size), (step, first.strides[0]))
    return np.stack(cols)


def _columns(v, n: int, name: str) -> tuple[np.ndarray, ...]:
    """Three length-n columns from an (n, 3) array-like or a tuple of three columns (views where
    possible)."""
    if isinstance(v, tuple) and len(v) == 3 and all(np.ndim(c) == 1 for c in v):
        cols = tuple(np.asarray(c).reshape(-1) for c in v)
    else:
        a = np.asarray(v)
        if a.ndim != 2 or a.shape[1] != 3:
            a = a.reshape(-1, 3)
        cols = (a[:, 0], a[:, 1], a[:, 2])
    for c in cols:
        if c.shape[0] != n:
            raise ValueError(f"{name} has {c.shape[0]} rows but t has {n}")
    return cols


def detect(
    frame: pd.DataFrame,
    sample_rate_hz: float | None = None,
    placement: str = "wrist",
    config: DetectorConfig | None = None,
    start_time: datetime | None = None,
    neutral_g: Sequence[float] | None = None,
    calibrate_s: float | None = None,
) -> pd.DataFrame:
    """Episodes in a recording held in a DataFrame with the canonical columns.

    The streaming detector fed once. ``sample_rate_hz`` defaults to ``frame.attrs`` or the
    median time step.
    """
    for c in ("t", "acc_x", "acc_y", "acc_z"):
        if c not in frame.columns:
            raise ValueError(f"frame has no column {c!r}")
    t = frame["t"].to_numpy(dtype=np.float64)
    if sample_rate_hz is None:
        sample_rate_hz = frame.attrs.get("sample_rate_hz")
    if sample_rate_hz is None:
        d = np.diff(t[:10_000])
        d = d[d > 0]
        if d.size == 0:
            raise ValueError("cannot estimate the sample rate: fewer than two increasing times")
        est_hz = 1.0 / float(np.median(d))
        sample_rate_hz = round(est_hz) if est_hz >= 100 else round(est_hz, 1)  # a nominal rate
    acc = tuple(frame[c].to_numpy() for c in ("acc_x", "acc_y", "acc_z"))  # views, no copies
    gyro = None
    if all(c in frame.columns for c in ("gyro_x", "gyro_y", "gyro_z")):
        gyro = tuple(frame[c].to_numpy() for c in ("gyro_x", "gyro_y", "gyro_z"))
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
    return det.episodes()
