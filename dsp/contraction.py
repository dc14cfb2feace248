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
from dsp.spasm import SLOW_LAG_S, SPASM_MIN_CONFIDENCE, Signature, dist, dist1, signature
from dsp.tremor_episodes import seqsum

__all__ = ["DIRECTIONS", "SPASM_MIN_CONFIDENCE", "ConState", "ContractionTracker", "direction_names"]

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
#: Uncalibrated: a fast pull from rest whose first seconds of hold do not yet look still enough
#: (the slow posture signal is still settling; a few seconds of hold read its sway poorly) is
#: judged again on each further bin of the hold, for up to this long (s), before it is taken
#: as voluntary. The episode still starts at the pull; only its start event comes later.
HOLD_DEFER_S = 5.0
PRE_ONSET_S = 1.5  # uncalibrated: the resting posture is read this long before the crossing


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
    confidence: float = math.nan
    base: tuple | None = None  # uncalibrated: (pitch, roll, yaw) of the resting posture it left
    # when that was away from neutral (None: neutral)
    last_above_s: float = 0.0  # end of the last bin at or above the release angle
    below_since_s: float | None = None
    near_s: float | None = None  # when, after dropping below release, it came back near neutral
    last_update_s: float = -math.inf


@dataclass
class ConState:
    run_bins: int = 0  # consecutive qualifying bins before an episode starts
    run_cross_s: float | None = None
    run: ConAcc | None = None  # their running totals
    run_defer_until_s: float | None = None  # uncalibrated: a pull whose hold is still being judged
    run_base: tuple | None = None  # ...and the posture it holds (the base, if it proves voluntary)
    rearm: bool = True  # False after an episode held too long, until the posture comes back
    base: tuple | None = None  # uncalibrated: (pitch, roll, yaw) of the resting posture last
    # turned down as voluntary, or released back to (None: neutral)
    last_end_s: float = -math.inf  # end of the last episode: the next one starts after it
    episode: ConAcc | None = None
    below: int = 0  # consecutive bins below release inside an episode
    hist_t: list = field(default_factory=list)  # recent (end time, deviation, speed) for onset
    hist_d: list = field(default_factory=list)
    hist_v: list = field(default_factory=list)
    hist_f: list = field(default_factory=list)  # fast rate (deg/s), for the onset's speed
    hist_b: list = field(default_factory=list)  # band power (g^2), for the hold's oscillation
    hist_a: list = field(default_factory=list)  # (pitch, roll, yaw) per bin, for the baseline
    hist_h: list = field(default_factory=list)  # slow rotation rate (deg/s), for the hold's stillness


class ContractionTracker:
    def __init__(
        self,
        config: DetectorConfig,
        placement: str,
        bin_dur_s: float,
        has_gyro: bool,
        next_id,
        wall_clock,
        path: str = "adaptive",
        adapt_s: float | None = None,
    ) -> None:
        """``path``: "calibrated", "adaptive" (learnt neutral) or "uncalibrated" (a limb: only
        episodes with a spasm's signature); ``adapt_s``: a posture held this long ends the episode."""
        self.cfg = config
        self.path = path
        self.adapt_s = config.neutral_adapt_s if adapt_s is None else adapt_s
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
        fast: np.ndarray | None = None,
        hold_dps: np.ndarray | None = None,
        heading: np.ndarray | None = None,
    ) -> list[Event]:
        """Bins in order; ``still``: no voluntary movement or walking in the bin; ``fast``: the
        rotation rate at bin resolution (deg/s; default ``speed``);
        ``hold_dps``: the slow rotation rate, for the hold's stillness (default ``speed``);
        ``heading``: the integrated heading (deg), which the uncalibrated path measures turns
        against (the heading excursion's reference may restart inside a long spasm)."""
        if fast is None:
            fast = speed
        if hold_dps is None:
            hold_dps = speed
        cfg = self.cfg
        events: list[Event] = []
        n = end_s.size
        thr, rel = cfg.contraction_threshold_deg, cfg.contraction_release_deg
        known = np.isfinite(dev)
        if self.path == "uncalibrated":
            turn = np.zeros_like(dev) if heading is None else np.nan_to_num(heading)
        else:
            turn = np.nan_to_num(yaw) if self.has_gyro else np.zeros_like(dev)
        ang = np.stack((pitch, roll, turn))
        above = known & (dev >= thr)
        qual = above & still
        back = known & (dev < rel)
        over_rel = known & (dev >= rel)
        i = 0
        while i < n:
            if st.episode is None and not st.rearm:
                # after a posture held for too long: nothing new until it comes back
                ready = back[i:]
                if self.path == "uncalibrated" and st.base is not None:
                    # ...or, after a voluntary posture, until the limb leaves it (a spasm may start
                    # from any resting posture, and the neutral takes a while to adopt a new one)
                    ready = ready | (known[i:] & (dist(ang[:, i:], st.base) >= rel))
                j = _next(np.flatnonzero(ready), n - i) + i
                self._remember(st, hold_dps, slice(i, j), end_s, dev, speed, fast, band_ms, ang)
                st.rearm = j < n
                if st.rearm and back[j]:
                    st.base = None
                i = j
                continue
            if st.episode is None:
                # find the next qualifying bin
                j = _next(np.flatnonzero(qual[i:]), n - i) + i
                if j > i:
                    self._remember(st, hold_dps, slice(i, j), end_s, dev, speed, fast, band_ms, ang)
                    if st.run_defer_until_s is not None:  # a deferred hold broke off: voluntary
                        st.base, st.rearm = st.run_base, False
                    st.run_bins, st.run_cross_s, st.run, st.run_defer_until_s = 0, None, None, None
                    i = j
                    continue
                k = _next(np.flatnonzero(~qual[i:]), n - i) + i  # qualifying run i..k-1
                if st.run is None:
                    st.run_cross_s = float(end_s[i] - self.dt)
                    st.run = ConAcc(start_s=st.run_cross_s, hold_start_s=st.run_cross_s)
                need = self.start_n - st.run_bins
                s = i + need if k - i >= need else k
                self._remember(st, hold_dps, slice(i, s), end_s, dev, speed, fast, band_ms, ang)
                self._accumulate(st.run, i, s, end_s, dev, pitch, roll, yaw, band_ms, over_rel)
                if s - i == need:
                    ep = st.run
                    ep.start_s = max(self._trace_onset(st), st.last_end_s)  # never into the last
                    sig = self._signature(st, ep.start_s)
                    ep.confidence = sig.confidence
                    if self.path == "uncalibrated":
                        ep.base = sig.base
                    back_home = st.base is not None and dist1(sig.held, st.base) < rel
                    weak = not sig.is_spasm()
                    now_s = float(end_s[s - 1])
                    if self.path == "uncalibrated" and weak and not back_home and sig.pull_like():
                        # a spasm's pull with a hold not yet judged still: judge it again on the
                        # next bin of the hold, until HOLD_DEFER_S after the first judgement
                        if st.run_defer_until_s is None:
                            st.run_defer_until_s = now_s + HOLD_DEFER_S
                        if now_s < st.run_defer_until_s:
                            st.run_base = sig.held
                            st.run_bins = self.start_n - 1
                            i = s
                            continue
                    st.run_defer_until_s = None
                    if self.path == "uncalibrated" and (back_home or weak):
                        # no spasm's signature: a voluntary posture; nothing until it comes back
                        # (or back at the resting posture already known: no new posture at all)
                        st.run, st.run_bins, st.run_cross_s, st.rearm = None, 0, None, False
                        st.base = st.base if back_home else sig.held
                        i = s
                        continue
                    ep.episode_id = self.next_id()
                    ep.detected_at_s = float(end_s[s - 1])
                    ep.onset_speed_dps = self._onset_speed(st, ep.start_s)
                    st.episode, st.run, st.run_bins, st.run_cross_s, st.below = ep, None, 0, None, 0
                    st.base = None
                    events.append(Event(STARTED, ep.detected_at_s, episode=self._episode(ep)))
                    ep.last_update_s = ep.detected_at_s
                else:
                    st.run_bins += s - i
                i = s
                continue
            ep = st.episode
            # inside an episode: bins at or above the release angle keep it going (uncalibrated,
            # from a resting posture away from neutral: that far from the posture it left)
            # (back at neutral ends it too: the neutral may have adopted that resting posture)
            held = over_rel if ep.base is None else over_rel & (dist(ang, ep.base) >= rel)
            j = _next(np.flatnonzero(~held[i:]), n - i) + i
            if j > i:
                due = ep.last_update_s + cfg.update_interval_s
                u = i + int(np.searchsorted(end_s[i:j], due, side="left"))
                stop = min(j, u + 1)
                self._accumulate(ep, i, stop, end_s, dev, pitch, roll, yaw, band_ms, held)
                st.below = 0
                ep.below_since_s = ep.near_s = None
                if u < j:
                    events.append(Event(UPDATED, float(end_s[u]), episode=self._episode(ep)))
                    ep.last_update_s = float(end_s[u])
                if ep.last_above_s - ep.hold_start_s >= self.adapt_s:
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
            k = _next(np.flatnonzero(held[i:] | ~known[i:]), n - i) + i
            need = self.end_n - st.below
            e = i + need if k - i >= need else k
            if ep.near_s is None:
                near_d = dev[i:e] if ep.base is None else np.minimum(dev[i:e], dist(ang[:, i:e], ep.base))
                near = np.flatnonzero(near_d <= 0.3 * thr)
                if near.size:
                    ep.near_s = float(end_s[i + near[0]] - self.dt)
            self._remember(st, hold_dps, slice(i, e), end_s, dev, speed, fast, band_ms, ang)
            if e - i == need:
                off = ep.near_s if ep.near_s is not None else ep.below_since_s
                events.append(self._end(st, float(end_s[e - 1]), max(off, ep.below_since_s)))
            else:
                st.below += e - i
            i = e
        return events

    def end_open(self, st: ConState, at_s: float, last_data_s: float) -> list[Event]:
        st.run_bins, st.run_cross_s, st.run, st.run_defer_until_s = 0, None, None, None
        st.hist_t, st.hist_d, st.hist_v, st.hist_f, st.hist_b = [], [], [], [], []
        st.hist_a, st.hist_h = [], []
        if st.episode is None:
            return []
        ep = st.episode
        end = ep.below_since_s if ep.below_since_s is not None else min(ep.last_above_s, last_data_s)
        return [self._end(st, at_s, end)]

    def current(self, st: ConState) -> Episode | None:
        return None if st.episode is None else self._episode(st.episode)

    # --- internals ----------------------------------------------------------------
    def _remember(self, st: ConState, h, sl: slice, t, d, v, f, b, ang) -> None:
        st.hist_t.extend(t[sl].tolist())
        st.hist_d.extend(d[sl].tolist())
        st.hist_v.extend(v[sl].tolist())
        st.hist_h.extend(h[sl].tolist())
        st.hist_f.extend(f[sl].tolist())
        st.hist_b.extend(b[sl].tolist())
        st.hist_a.extend(ang[:, sl].T.tolist())
        if len(st.hist_t) > self.hist_n:
            cut = len(st.hist_t) - self.hist_n
            del st.hist_t[:cut], st.hist_d[:cut], st.hist_v[:cut], st.hist_f[:cut], st.hist_b[:cut]
            del st.hist_a[:cut], st.hist_h[:cut]

    def _signature(self, st: ConState, start_s: float) -> Signature:
        """The spasm signature of the run so far (see ``dsp.spasm``)."""
        return signature(
            np.asarray(st.hist_t),
            np.asarray(st.hist_d),
            np.asarray(st.hist_f),
            np.asarray(st.hist_b),
            np.asarray(st.hist_a).reshape(-1, 3),
            np.asarray(st.hist_h),
            np.asarray(st.hist_v),
            st.run_cross_s,
            start_s,
            self.cfg.contraction_threshold_deg,
            self.has_gyro,
            self.dt,
        )

    def _trace_onset(self, st: ConState) -> float:
        """Last time before the threshold crossing when the posture was near neutral."""
        thr = self.cfg.contraction_threshold_deg
        t = np.asarray(st.hist_t)
        d = np.asarray(st.hist_d)
        before = t <= st.run_cross_s + 1e-9
        near_d = d <= 0.3 * thr
        if st.base is not None:  # uncalibrated, from a resting posture: near it is the baseline
            near_d |= dist(np.asarray(st.hist_a).reshape(-1, 3).T, st.base) <= 0.3 * thr
        near = np.flatnonzero(before & near_d)
        if near.size:
            return float(t[near[-1]])
        if self.path == "uncalibrated":
            # from a resting posture away from a neutral not yet re-learnt: a spasm's pull ends
            # within PRE_ONSET_S of the slow signal's crossing, so it rested there before that
            pre = np.flatnonzero(before & np.isfinite(d) & (t <= st.run_cross_s - PRE_ONSET_S))
            if pre.size:
                return float(t[pre[-1]])
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
            detection_path=self.path,
            confidence=None if not math.isfinite(ep.confidence) else round(ep.confidence, 2),
        )

    def _end(self, st: ConState, at_s: float, end_s: float) -> Event:
        ep = st.episode
        done = self._episode(ep, end_s=max(end_s, ep.start_s))
        self.finished.append(done)
        st.last_end_s = done.end_s
        if ep.base is not None:
            # released back to the resting posture it left, away from neutral: that posture is no
            # new episode; nothing until the limb leaves it (or comes back to neutral)
            st.base, st.rearm = ep.base, False
        st.episode, st.below = None, 0
        return Event(ENDED, float(at_s), episode=done)


def _next(idx: np.ndarray, default: int) -> int:
    return int(idx[0]) if idx.size else default
