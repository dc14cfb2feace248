"""Turn per-window tremor decisions into episodes with onset, offset and summary measures.

An episode starts after ``start_hold_s`` of consecutive windows that are clearly tremor
(cycle regularity within ``start_max_period_cv``), continues through windows that are
tremor by the looser ``max_period_cv`` (irregular dystonic tremor wanders), and ends after
``end_hold_s`` without one, or at once at a data gap (no episode bridges missing data).
Onset is where the band power rises within the first candidate window, offset where it falls
within the last one (the window edge when the data itself starts or stops there).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit, types

from dsp.config import Band, DetectorConfig
from dsp.events import ENDED, SEVERITY_CLASSES, STARTED, UPDATED, Episode, Event
from dsp.windows import CONTEXT_NAMES

G_MPS2 = 9.80665
FREQ_STEP_HZ = 0.02
FREQ_BINS = 1500  # 0 .. 30 Hz
DF_STEP_HZ = 0.02
DF_BINS = 1001  # -10 .. +10 Hz
#: The start event's frequency is the median over the candidate windows that end within this
#: long before it (the episode's own and the oscillation just before it, which passed the
#: continuing checks but not yet the stricter start): an irregular tremor's frequency wanders
#: by ~0.5 Hz within seconds, so 1 s of windows is a poor estimate of the episode's.
START_ESTIMATE_S = 4.0


def displacement_cm(acc_rms_g: float | np.ndarray, freq_hz: float | np.ndarray):
    """Zero-to-peak displacement of a sinusoid with this RMS acceleration: a / (2 pi f)^2
    (plain arithmetic: numbers or arrays)."""
    peak_mps2 = math.sqrt(2.0) * acc_rms_g * G_MPS2
    return peak_mps2 / (2.0 * math.pi * freq_hz) ** 2 * 100.0


def severity_index(disp_cm: np.ndarray | float, thresholds_cm: tuple[float, float, float]):
    """Index into SEVERITY_CLASSES (1 = slight .. 4 = strong) for a detected tremor."""
    if np.ndim(disp_cm) == 0:  # one episode: no array round trip
        return 1 + bisect.bisect_right(thresholds_cm, float(disp_cm))
    return 1 + np.searchsorted(np.asarray(thresholds_cm), np.asarray(disp_cm), side="right")


def seqsum(carry: float, values: np.ndarray) -> float:
    """carry + v0 + v1 + ... added strictly in order (same result however the input is split)."""
    if values.size == 0:
        return carry
    return float(_seqsum(float(carry), np.ascontiguousarray(values, dtype=np.float64)))


@njit((types.float64, types.float64[::1]), cache=True, nogil=True)  # compiled on import
def _seqsum(carry, values):
    for v in values:
        carry += v
    return carry


@dataclass
class EpisodeAcc:
    """Running totals of one episode (or of a run of candidate windows before it starts)."""

    first_start_s: float  # onset estimate
    last_end_s: float  # end of the last candidate window
    last_center_s: float  # offset estimate within the last candidate window
    n: int = 0
    acc_ms_sum: float = 0.0
    gyro_ms_sum: float = 0.0
    freq_hist: np.ndarray = field(default_factory=lambda: np.zeros(FREQ_BINS, np.int64))
    df_hist: np.ndarray = field(default_factory=lambda: np.zeros(DF_BINS, np.int64))
    context_counts: np.ndarray = field(default_factory=lambda: np.zeros(3, np.int64))
    episode_id: int = 0
    detected_at_s: float = math.nan
    last_update_s: float = -math.inf


@dataclass
class TrackerState:
    run: EpisodeAcc | None = None  # candidate windows not yet an episode
    run_len: int = 0
    run_large: bool = False  # the run has a window of voluntary size (needs the longer hold)
    episode: EpisodeAcc | None = None
    misses: int = 0
    # frequencies of the trailing run of candidate windows (at most START_ESTIMATE_S of them)
    cand_tail_hz: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rhythm_n: int = 0  # windows in the current run of narrow-band rhythm (dsp.rhythm)
    rhythm_hz: float = math.nan  # ...and its running frequency


@dataclass
class WindowBatch:
    """Windows of one contiguous run of bins, in order, with what the tracker needs."""

    end_s: np.ndarray
    valid: np.ndarray
    candidate: np.ndarray  # the window continues an episode
    start_candidate: np.ndarray  # the window may start one (stricter regularity)
    freq_hz: np.ndarray
    acc_ms: np.ndarray
    gyro_ms: np.ndarray
    context: np.ndarray
    first_after_break: np.ndarray  # window is the first valid one of its segment
    onset_in_s: np.ndarray  # where the oscillation starts within the window (s from its start)
    offset_in_s: np.ndarray  # where it stops within the window (s from its start)
    cycle_win: np.ndarray  # window index of each cycle-to-cycle frequency change (sorted)
    cycle_df_hz: np.ndarray
    voluntary_size: np.ndarray  # displacement as large as voluntary rhythmic movement's
    sustained: np.ndarray | None = None  # the window continues a sustained rhythm (dsp.rhythm)
    rhythm_for_s: np.ndarray | None = None  # ...which began this long before the window's end


class TremorTracker:
    def __init__(
        self,
        config: DetectorConfig,
        bands: tuple[Band, ...],
        window_s: float,
        bin_s: float,
        has_gyro: bool,
        wall_clock,
        next_id,
    ) -> None:
        self.cfg = config
        self.bands = bands
        self.window_s = window_s
        self.start_n = max(1, int(round(config.start_hold_s / bin_s)))
        self.end_n = max(1, int(round(config.end_hold_s / bin_s)))
        self.large_n = max(self.start_n, int(round(config.voluntary_size_start_hold_s / bin_s)))
        self.tail_n = max(self.start_n, int(round(START_ESTIMATE_S / bin_s)))
        self.has_gyro = has_gyro
        self.wall_clock = wall_clock  # callable: stream seconds -> ISO string or None
        self.next_id = next_id  # callable: a new episode id (shared with contractions)
        self.finished: list[Episode] = []

    # --- public -----------------------------------------------------------------
    def process(self, st: TrackerState, wb: WindowBatch) -> list[Event]:
        events: list[Event] = []
        m = wb.end_s.size
        cand = wb.candidate
        non_idx = np.flatnonzero(~cand)
        stop_idx = np.flatnonzero(cand | ~wb.valid)
        scand = wb.start_candidate
        scand_idx = np.flatnonzero(scand)
        snon_idx = np.flatnonzero(~scand)
        large_idx = np.flatnonzero(wb.voluntary_size)
        sus_idx = np.flatnonzero(wb.sustained) if wb.sustained is not None else np.zeros(0, np.int64)
        # the trailing run of candidate windows before each window, carried across batches
        tail = st.cand_tail_hz
        ext_hz = np.concatenate((tail, wb.freq_hz))
        run_len = _run_lengths(np.concatenate((np.ones(tail.size, np.bool_), cand)))
        o = tail.size
        i = 0
        while i < m:
            if st.episode is not None:
                # inside an episode: run until the next non-candidate window
                j = _next(non_idx, i, m)
                if j > i:
                    ep = st.episode
                    due = ep.last_update_s + self.cfg.update_interval_s
                    u = i + int(np.searchsorted(wb.end_s[i:j], due, side="left"))
                    if u < j:
                        self._accumulate(ep, wb, i, u + 1)
                        events.append(self._event(UPDATED, ep, float(wb.end_s[u])))
                        ep.last_update_s = float(wb.end_s[u])
                        i = u + 1
                    else:
                        self._accumulate(ep, wb, i, j)
                        i = j
                    st.misses = 0
                    continue
                # window i is not a candidate
                if not wb.valid[i]:
                    events.append(self._end(st, wb.end_s[i], at_data_edge=st.misses == 0))
                    i += 1
                    continue
                k = _next(stop_idx, i, m)
                need = self.end_n - st.misses
                if k - i >= need:
                    events.append(self._end(st, wb.end_s[i + need - 1], at_data_edge=False))
                    i = i + need
                else:
                    st.misses += k - i
                    i = k
                continue
            # outside an episode
            j = _next(scand_idx, i, m)
            if j > i:
                st.run, st.run_len = None, 0
                i = j
                continue
            k = _next(snon_idx, i, m)  # start-candidate run i..k-1
            if st.run is None:
                w_start = wb.end_s[i] - self.window_s
                start = w_start if wb.first_after_break[i] else w_start + wb.onset_in_s[i]
                if wb.sustained is not None and wb.sustained[i]:  # the rhythm's own start
                    start = min(start, w_start - float(wb.rhythm_for_s[i]))
                st.run = EpisodeAcc(first_start_s=start, last_end_s=wb.end_s[i], last_center_s=start)
                st.run_large = False
            need = self.start_n - st.run_len
            if st.run_large or _next(large_idx, i, m) < min(k, i + need):
                # an oscillation of voluntary size: it must persist longer (strokes come in bouts)
                st.run_large = True
                need = self.large_n - st.run_len
                # ...unless it has shown itself a sustained rhythm: that is the longer hold
                s = _next(sus_idx, i + max(self.start_n - st.run_len, 1) - 1, m)
                if s < min(k, i + need):
                    need = s - i + 1
            if k - i >= need:
                self._accumulate(st.run, wb, i, i + need)
                ep = st.run
                ep.episode_id = self.next_id()
                ep.detected_at_s = float(wb.end_s[i + need - 1])
                st.episode, st.run, st.run_len, st.misses = ep, None, 0, 0
                e = o + i + need - 1  # the window that starts it
                n = min(int(run_len[e]), self.tail_n)
                start_hz = float(np.median(ext_hz[e - n + 1 : e + 1])) if n > 0 else None
                events.append(self._event(STARTED, ep, ep.detected_at_s, freq_hz=start_hz))
                ep.last_update_s = ep.detected_at_s
                i = i + need
            else:
                self._accumulate(st.run, wb, i, k)
                st.run_len += k - i
                i = k
        self._keep_tail(st, ext_hz, run_len)
        return events

    def _keep_tail(self, st: TrackerState, ext_hz: np.ndarray, run_len: np.ndarray) -> None:
        n = min(int(run_len[-1]), self.tail_n) if run_len.size else 0
        st.cand_tail_hz = ext_hz[ext_hz.size - n :].copy()

    def end_open(self, st: TrackerState, at_s: float, last_data_s: float) -> list[Event]:
        """End an open episode because the data stops (gap or end of stream) at ``last_data_s``."""
        st.run, st.run_len = None, 0
        if st.episode is None:
            return []
        return [self._end(st, at_s, at_data_edge=st.misses == 0, cap_s=last_data_s)]

    def current(self, st: TrackerState) -> Episode | None:
        return None if st.episode is None else self._episode(st.episode, open_=True)

    # --- internals --------------------------------------------------------------
    def _accumulate(self, acc: EpisodeAcc, wb: WindowBatch, a: int, b: int) -> None:
        acc.n += b - a
        acc.acc_ms_sum = seqsum(acc.acc_ms_sum, wb.acc_ms[a:b])
        if self.has_gyro:
            acc.gyro_ms_sum = seqsum(acc.gyro_ms_sum, wb.gyro_ms[a:b])
        lo, hi = np.searchsorted(wb.cycle_win, (a, b))
        _histograms(
            acc.freq_hist,
            acc.df_hist,
            acc.context_counts,
            np.ascontiguousarray(wb.freq_hz[a:b], dtype=np.float64),
            np.ascontiguousarray(wb.context[a:b], dtype=np.int64),
            np.ascontiguousarray(wb.cycle_df_hz[lo:hi], dtype=np.float64),
        )
        acc.last_end_s = float(wb.end_s[b - 1])
        acc.last_center_s = acc.last_end_s - self.window_s + float(wb.offset_in_s[b - 1])

    def _end(self, st: TrackerState, at_s: float, at_data_edge: bool, cap_s: float = math.inf) -> Event:
        ep = st.episode
        end_s = ep.last_end_s if at_data_edge else ep.last_center_s
        end_s = max(min(end_s, cap_s), ep.first_start_s)
        done = self._episode(ep, open_=False, end_s=end_s)
        self.finished.append(done)
        st.episode, st.misses = None, 0
        return Event(ENDED, float(at_s), episode=done)

    def _event(self, kind: str, ep: EpisodeAcc, at_s: float, freq_hz: float | None = None) -> Event:
        return Event(kind, float(at_s), episode=self._episode(ep, open_=True, freq_hz=freq_hz))

    def _episode(
        self, ep: EpisodeAcc, open_: bool, end_s: float | None = None, freq_hz: float | None = None
    ) -> Episode:
        freq = _hist_quantile(ep.freq_hist, 0.5) * FREQ_STEP_HZ + FREQ_STEP_HZ / 2
        if freq_hz is not None and math.isfinite(freq_hz):  # the start event's longer estimate
            freq = freq_hz
        q1 = _hist_quantile(ep.df_hist, 0.25)
        q3 = _hist_quantile(ep.df_hist, 0.75)
        tsi = (q3 - q1) * DF_STEP_HZ if ep.df_hist.sum() >= 4 else None
        acc_rms = math.sqrt(ep.acc_ms_sum / ep.n)
        gyro_rms = math.sqrt(ep.gyro_ms_sum / ep.n) if self.has_gyro else None
        disp = displacement_cm(acc_rms, freq)
        sev = SEVERITY_CLASSES[severity_index(disp, self.cfg.severity_cm)]
        context = CONTEXT_NAMES[int(np.argmax(ep.context_counts))]
        end = ep.last_end_s if end_s is None else end_s
        return Episode(
            episode_id=ep.episode_id,
            kind="tremor",
            start_s=round(float(ep.first_start_s), 3),
            end_s=round(float(end), 3),
            detected_at_s=round(float(ep.detected_at_s), 3),
            start_time=self.wall_clock(ep.first_start_s),
            dominant_hz=round(freq, 2),
            band=band_name(freq, self.bands),
            stability=None if tsi is None else round(tsi, 3),
            amplitude_g=round(acc_rms, 5),
            amplitude_dps=None if gyro_rms is None else round(gyro_rms, 3),
            displacement_cm=round(disp, 4),
            severity=sev,
            context=context,
        )


def band_name(freq_hz: float, bands: tuple[Band, ...]) -> str:
    """The band containing ``freq_hz``, else the nearest one."""
    for b in bands:
        if b.low_hz <= freq_hz < b.high_hz:
            return b.name
    return min(bands, key=lambda b: min(abs(freq_hz - b.low_hz), abs(freq_hz - b.high_hz))).name


def _hist_quantile(hist: np.ndarray, q: float) -> float:
    """The bin where the cumulative count first reaches ``q`` of the total (NaN if empty)."""
    return float(_hist_quantile_bin(hist, float(q)))


@njit((types.int64[::1], types.float64), cache=True, nogil=True)  # compiled on import
def _hist_quantile_bin(hist, q):
    total = 0
    for h in hist:
        total += h
    if total == 0:
        return np.nan
    target = q * total
    c = 0
    for i in range(hist.size):
        c += hist[i]
        if c >= target:
            return float(i)
    return float(hist.size)


@njit(
    (types.int64[::1],) * 3 + (types.float64[::1], types.int64[::1], types.float64[::1]),
    cache=True,
    nogil=True,
)  # compiled on import
def _histograms(freq_hist, df_hist, context_counts, freq_hz, context, df_hz):
    """Add windows' frequencies, contexts and cycle-to-cycle frequency changes to an episode's
    histograms (bins of FREQ_STEP_HZ and DF_STEP_HZ, clipped to the ends; a frequency that is
    not a number counts in bin 0, as NumPy's integer conversion and clip give)."""
    top = freq_hist.size - 1
    for v in freq_hz:
        q = v / FREQ_STEP_HZ
        if not (q >= 0.0 and q < 9.2e18):
            k = 0
        else:
            k = min(int(q), top)
        freq_hist[k] += 1
    for c in context:
        context_counts[c] += 1
    mid = df_hist.size // 2
    top = df_hist.size - 1
    for v in df_hz:
        k = int(np.rint(v / DF_STEP_HZ)) + mid
        df_hist[min(max(k, 0), top)] += 1


def _run_lengths(flags: np.ndarray) -> np.ndarray:
    """Per element: how many consecutive True elements end there (0 where False)."""
    n = flags.size
    idx = np.arange(1, n + 1)
    last_false = np.maximum.accumulate(np.where(flags, 0, idx))
    return np.where(flags, idx - last_false, 0)


def _next(idx: np.ndarray, i: int, m: int) -> int:
    """First element of sorted ``idx`` that is >= i, else m."""
    if idx.size == 0:
        return m
    p = np.searchsorted(idx, i)
    return int(idx[p]) if p < idx.size else m
