"""Sustained contraction episodes (dystonic postures and spasms) from per-bin posture angles.

An episode starts when the deviation from neutral stays at or above ``contraction_threshold_deg``
for ``contraction_min_hold_s`` while the sensor is otherwise still (no voluntary rotation, no
walking-level vibration), so brief head turns and nods never qualify. It ends, with
hysteresis, once the deviation stays below ``contraction_release_deg`` for
``contraction_end_hold_s``, or at a data gap. A posture held for ``neutral_adapt_s``
becomes the new neutral (see ``dsp.posture``), which ends the episode: a voluntary posture
change is not an endless episode. Onset is traced back to where the deviation left the neutral region.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dsp.config import DetectorConfig
from dsp.events import ENDED, STARTED, UPDATED, Episode, Event
from dsp.tremor_episodes import seqsum

#: Clinical names per placement for (pitch+, pitch-, roll+, roll-, yaw+, yaw-); see dsp.posture.
DIRECTIONS: dict[str, tuple[str, str, str, str, str, str]] = {
    "neck": (
        "anterocollis",
        "retrocollis",
        "laterocollis_left",
        "laterocollis_right",
        "torticollis_left",
        "torticollis_right",
    ),
    # wrist/hand: x toward the fingers, y toward the thumb, z out of the back of the hand.
    # roll > 0 tips the left (+y) axis down in the neutral frame; for the wrist y points to the
    # thumb, so thumb-side-down is pronation and thumb-side-up (roll < 0) supination.
    "wrist": (
        "flexion",
        "extension",
        "pronation",
        "supination",
        "radial_deviation",
        "ulnar_deviation",
    ),
}
DIRECTIONS["head"] = DIRECTIONS["neck"]
DIRECTIONS["hand"] = DIRECTIONS["wrist"]
GENERIC = ("pitch_down", "pitch_up", "roll_left", "roll_right", "yaw_left", "yaw_right")
HISTORY_S = 12.0  # how far back an onset may be traced
SLOW_LAG_S = 0.5  # delay of the slow (1 s Hann) posture signal


def direction_names(placement: str) -> tuple[str, ...]:
    return DIRECTIONS.get(placement, GENERIC)


@dataclass
class ConAcc:
    """Running totals of one contraction episode."""

    start_s: float
    hold_start_s: float  # when the deviation crossed the threshold
    detected_at_s: float = math.nan
    episode_id: int = 0
    n: int = 0
    peak_deg: float = 0.0
    sum_deg: float = 0.0
    sum_pitch: float = 0.0
    sum_roll: float = 0.0
    sum_yaw: float = 0.0
    sum_band_ms: float = 0.0
    onset_speed_dps: float = 0.0
    last_above_s: float = 0.0  # end of the last bin at or above the release angle
    below_since_s: float | None = None
    near_s: float | None = None  # when, after dropping below release, it came back near neutral
    last_update_s: float = -math.inf


@dataclass
class ConState:
    run_bins: int = 0  # consecutive qualifying bins before an episode starts
    run_cross_s: float | None = None
    run: ConAcc | None = None  # their running totals
    rearm: bool = True  # False after an episode held too long, until the posture comes back
    episode: ConAcc | None = None
    below: int = 0  # consecutive bins below release inside an episode
    hist_t: list = field(default_factory=list)  # recent (end time, deviation, speed) for onset
    hist_d: list = field(default_factory=list)
    hist_v: list = field(default_factory=list)


class ContractionTracker:
    def __init__(
        self, config: DetectorConfig, placement: str, bin_dur_s: float, has_gyro: bool, next_id, wall_clock
    ) -> None:
        self.cfg = config
        self.names = direction_names(placement)
        self.dt = bin_dur_s
        self.has_gyro = has_gyro
        # The slow posture signal lags the posture by about half a second (a 1 s window), so
        # min_hold - 0.5 s of it at or above the threshold means the posture was held min_hold.
        self.start_n = max(1, int(round((config.contraction_min_hold_s - SLOW_LAG_S) / bin_dur_s)))
        self.end_n = max(1, int(round(config.contraction_end_hold_s / bin_dur_s)))
        self.hist_n = int(round(HISTORY_S / bin_dur_s))
        self.next_id = next_id  # shared id counter (callable)
        self.wall_clock = wall_clock
        self.finished: list[Episode] = []

    def process(
        self,
        st: ConState,
        end_s: np.ndarray,
        dev: np.ndarray,
        pitch: np.ndarray,
        roll: np.ndarray,
        yaw: np.ndarray,
        speed: np.ndarray,
        still: np.ndarray,
        band_ms: np.ndarray,
    ) -> list[Event]:
        """Bins in order; ``still``: no voluntary movement or walking in the bin."""
        cfg = self.cfg
        events: list[Event] = []
        n = end_s.size
        thr, rel = cfg.contraction_threshold_deg, cfg.contraction_release_deg
        known = np.isfinite(dev)
        above = known & (dev >= thr)
        qual = above & still
        back = known & (dev < rel)
        over_rel = known & (dev >= rel)
        i = 0
        while i < n:
            if st.episode is None and not st.rearm:
                # after a posture held for too long: nothing new until it comes back
                j = _next(np.flatnonzero(back[i:]), n - i) + i
                self._remember(st, end_s[i:j], dev[i:j], speed[i:j])
                st.rearm = j < n
                i = j
                continue
            if st.episode is None:
                # find the next qualifying bin
                j = _next(np.flatnonzero(qual[i:]), n - i) + i
                if j > i:
                    self._remember(st, end_s[i:j], dev[i:j], speed[i:j])
                    st.run_bins, st.run_cross_s, st.run = 0, None, None
                    i = j
                    continue
                k = _next(np.flatnonzero(~qual[i:]), n - i) + i  # qualifying run i..k-1
                if st.run is None:
                    st.run_cross_s = float(end_s[i] - self.dt)
                    st.run = ConAcc(start_s=st.run_cross_s, hold_start_s=st.run_cross_s)
                need = self.start_n - st.run_bins
                s = i + need if k - i >= need else k
                self._remember(st, end_s[i:s], dev[i:s], speed[i:s])
                self._accumulate(st.run, i, s, end_s, dev, pitch, roll, yaw, band_ms, over_rel)
                if s - i == need:
                    ep = st.run
                    ep.start_s = self._trace_onset(st)
                    ep.episode_id = self.next_id()
                    ep.detected_at_s = float(end_s[s - 1])
                    ep.onset_speed_dps = self._onset_speed(st, ep.start_s)
                    st.episode, st.run, st.run_bins, st.run_cross_s, st.below = ep, None, 0, None, 0
                    events.append(Event(STARTED, ep.detected_at_s, episode=self._episode(ep)))
                    ep.last_update_s = ep.detected_at_s
                else:
                    st.run_bins += s - i
                i = s
                continue
            ep = st.episode
            # inside an episode: bins at or above the release angle keep it going
            j = _next(np.flatnonzero(~over_rel[i:]), n - i) + i
            if j > i:
                due = ep.last_update_s + cfg.update_interval_s
                u = i + int(np.searchsorted(end_s[i:j], due, side="left"))
                stop = min(j, u + 1)
                self._accumulate(ep, i, stop, end_s, dev, pitch, roll, yaw, band_ms, over_rel)
                st.below = 0
                ep.below_since_s = ep.near_s = None
                if u < j:
                    events.append(Event(UPDATED, float(end_s[u]), episode=self._episode(ep)))
                    ep.last_update_s = float(end_s[u])
                if ep.last_above_s - ep.hold_start_s >= cfg.neutral_adapt_s:
                    # held this long it is the person's posture (the adaptive neutral adopts it;
                    # a calibrated one does not): the episode ends rather than running forever
                    events.append(self._end(st, ep.last_above_s, ep.last_above_s))
                    st.rearm = False
                i = stop
                continue
            if not known[i]:
                events.append(self._end(st, float(end_s[i]), ep.last_above_s))
                i += 1
                continue
            if ep.below_since_s is None:
                ep.below_since_s = float(end_s[i] - self.dt)
            k = _next(np.flatnonzero(over_rel[i:] | ~known[i:]), n - i) + i
            need = self.end_n - st.below
            e = i + need if k - i >= need else k
            if ep.near_s is None:
                near = np.flatnonzero(dev[i:e] <= 0.3 * thr)
                if near.size:
                    ep.near_s = float(end_s[i + near[0]] - self.dt)
            self._remember(st, end_s[i:e], dev[i:e], speed[i:e])
            if e - i == need:
                off = ep.near_s if ep.near_s is not None else ep.below_since_s
                events.append(self._end(st, float(end_s[e - 1]), max(off, ep.below_since_s)))
            else:
                st.below += e - i
            i = e
        return events

    def end_open(self, st: ConState, at_s: float, last_data_s: float) -> list[Event]:
        st.run_bins, st.run_cross_s, st.run = 0, None, None
        st.hist_t, st.hist_d, st.hist_v = [], [], []
        if st.episode is None:
            return []
        ep = st.episode
        end = ep.below_since_s if ep.below_since_s is not None else min(ep.last_above_s, last_data_s)
        return [self._end(st, at_s, end)]

    def current(self, st: ConState) -> Episode | None:
        return None if st.episode is None else self._episode(st.episode)

    # --- internals ----------------------------------------------------------------
    def _remember(self, st: ConState, t, d, v) -> None:
        st.hist_t.extend(t.tolist())
        st.hist_d.extend(d.tolist())
        st.hist_v.extend(v.tolist())
        if len(st.hist_t) > self.hist_n:
            cut = len(st.hist_t) - self.hist_n
            del st.hist_t[:cut], st.hist_d[:cut], st.hist_v[:cut]

    def _trace_onset(self, st: ConState) -> float:
        """Last time before the threshold crossing when the posture was near neutral."""
        thr = self.cfg.contraction_threshold_deg
        t = np.asarray(st.hist_t)
        d = np.asarray(st.hist_d)
        before = t <= st.run_cross_s + 1e-9
        near = np.flatnonzero(before & (d <= 0.3 * thr))
        if near.size:
            return float(t[near[-1]])
        # never near neutral in the known history: from where the deviation became known
        unknown = np.flatnonzero(before & ~np.isfinite(d))
        if unknown.size:
            return float(t[unknown[-1]])
        return float(t[0] - self.dt) if t.size else st.run_cross_s

    def _onset_speed(self, st: ConState, start_s: float) -> float:
        t = np.asarray(st.hist_t)
        v = np.asarray(st.hist_v)
        sel = (t >= start_s) & np.isfinite(v)
        return float(v[sel].max()) if sel.any() else 0.0

    def _accumulate(self, ep, a, b, end_s, dev, pitch, roll, yaw, band_ms, over_rel) -> None:
        sel = over_rel[a:b]
        if sel.any():
            d = dev[a:b][sel]
            ep.n += int(sel.sum())
            ep.peak_deg = max(ep.peak_deg, float(d.max()))
            ep.sum_deg = seqsum(ep.sum_deg, d)
            ep.sum_pitch = seqsum(ep.sum_pitch, pitch[a:b][sel])
            ep.sum_roll = seqsum(ep.sum_roll, roll[a:b][sel])
            if self.has_gyro:
                ep.sum_yaw = seqsum(ep.sum_yaw, np.nan_to_num(yaw[a:b][sel]))
            ep.sum_band_ms = seqsum(ep.sum_band_ms, band_ms[a:b][sel])
            ep.last_above_s = float(end_s[a:b][sel][-1])

    def _direction(self, ep: ConAcc) -> str:
        comps = [ep.sum_pitch, ep.sum_roll, ep.sum_yaw if self.has_gyro else 0.0]
        i = int(np.argmax(np.abs(comps)))
        return self.names[2 * i + (0 if comps[i] >= 0 else 1)]

    def _episode(self, ep: ConAcc, end_s: float | None = None) -> Episode:
        n = max(ep.n, 1)
        return Episode(
            episode_id=ep.episode_id,
            kind="contraction",
            start_s=round(float(ep.start_s), 3),
            end_s=round(float(ep.last_above_s if end_s is None else end_s), 3),
            detected_at_s=round(float(ep.detected_at_s), 3),
            start_time=self.wall_clock(ep.start_s),
            peak_angle_deg=round(ep.peak_deg, 1),
            mean_angle_deg=round(ep.sum_deg / n, 1),
            direction=self._direction(ep),
            onset_speed_dps=round(ep.onset_speed_dps, 1),
            co_contraction=round(math.sqrt(max(ep.sum_band_ms, 0.0) / n), 4),
        )

    def _end(self, st: ConState, at_s: float, end_s: float) -> Event:
        ep = st.episode
        done = self._episode(ep, end_s=max(end_s, ep.start_s))
        self.finished.append(done)
        st.episode, st.below = None, 0
        return Event(ENDED, float(at_s), episode=done)


def _next(idx: np.ndarray, default: int) -> int:
    return int(idx[0]) if idx.size else default
