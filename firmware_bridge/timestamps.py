"""Sensor time -> session time, clock drift, and gap/loss detection.

Session time is seconds since ``origin_s`` (a Unix time, usually when the live session
started), so a live session and the replay of its capture get identical times.

Devices with a sensor clock (reference firmware, serial text, Movesense, Polar): the
sensor timestamps are used as they are, anchored once to the host receive time
(``t = sensor_t + offset``). The anchor is kept across a reconnect when the device
clock is still consistent with the host clock, and re-made when it is not (device
rebooted, clock jumped). Drift is the slope of host receive time against sensor time
over the whole anchor period (Welford's online covariance; numerically stable).

Devices without timestamps (WitMotion, micro:bit): samples are numbered and the host
receive times of packets are fitted online with a line ``host = a + b * n`` (b = period,
from a whole-session least-squares fit; a = the lower envelope, since a packet cannot
arrive before its last sample was taken). Jitter in BLE delivery does not reach the
sample times; a jump in receive time well beyond the usual latency is a gap.

Lost data is found from sequence numbers where the device has them (exact), else from
time jumps longer than ``gap_threshold_s``. Every gap is recorded as a :class:`LinkGap`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass

import numpy as np

from firmware_bridge.protocols.base import DecodedBatch

#: Smallest span of data (s) before a fitted period replaces the nominal one.
MIN_FIT_SPAN_S = 5.0
#: Host/sensor disagreement (s) after a reconnect beyond which the anchor is re-made.
REANCHOR_TOLERANCE_S = 1.0
#: How far back (s) the lower envelope of packet latency looks.
ENVELOPE_WINDOW_S = 10.0


@dataclass(frozen=True)
class LinkGap:
    """A stretch of session time with no samples: lost packets or a disconnection."""

    start_s: float  # session time of the last sample before the gap
    end_s: float  # session time of the first sample after it
    reason: str  # "lost packets" | "disconnected" | "time jump" | "clock reset"
    lost_samples: int | None = None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def as_dict(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


class _Welford:
    """Online least-squares slope of y on x, stable for long sessions."""

    def __init__(self) -> None:
        self.n = 0
        self.mx = 0.0
        self.my = 0.0
        self.cxy = 0.0
        self.m2x = 0.0
        self.xmin = np.inf
        self.xmax = -np.inf

    def add(self, x: float, y: float) -> None:
        self.n += 1
        dx = x - self.mx
        self.mx += dx / self.n
        self.my += (y - self.my) / self.n
        self.cxy += dx * (y - self.my)
        self.m2x += dx * (x - self.mx)
        self.xmin = min(self.xmin, x)
        self.xmax = max(self.xmax, x)

    @property
    def span(self) -> float:
        return self.xmax - self.xmin if self.n else 0.0

    def slope(self) -> float | None:
        if self.n < 3 or self.m2x <= 0:
            return None
        return self.cxy / self.m2x


class SessionClock:
    """Gives every decoded sample a session time and records gaps. One per live source."""

    def __init__(
        self,
        origin_s: float,
        has_timestamps: bool,
        nominal_rate_hz: float | None = None,
        gap_threshold_s: float = 0.5,
    ) -> None:
        self.origin_s = float(origin_s)
        self.has_timestamps = has_timestamps
        self.nominal_rate_hz = nominal_rate_hz
        self.gap_threshold_s = gap_threshold_s
        self.gaps: list[LinkGap] = []
        self.lost_samples = 0
        self.samples = 0
        self.first_t: float | None = None
        self.last_t: float | None = None
        self._reconnected = False
        self._last_seq: int | None = None
        # sensor-clock devices
        self._offset: float | None = None
        self._last_sensor_t: float | None = None
        self._drift = _Welford()
        # no-timestamp devices
        self._n = 0  # index of the next sample
        self._period: float | None = None
        self._a: float | None = None
        self._fit = _Welford()
        self._recent: deque[tuple[float, float]] = deque()  # (n_last, host)
        self._lat: deque[float] = deque(maxlen=64)
        self._pending_gap: tuple[str, int] | None = None
        self._typical: float | None = None
        self._lat_count = 0

    # --- public --------------------------------------------------------------------
    def mark_reconnected(self) -> None:
        """The link was lost and is back; the next batch follows a disconnection."""
        self._reconnected = True
        self._last_seq = None

    def map(self, batch: DecodedBatch) -> np.ndarray:
        """Session times (s) of the batch's samples; records any gap before them."""
        h = batch.host_t - self.origin_s
        if batch.rate_hz:
            self.nominal_rate_hz = batch.rate_hz
        if self.has_timestamps and batch.sensor_t is not None:
            t = self._map_sensor(batch, h)
        else:
            t = self._map_counted(len(batch), h)
        if len(t):
            if self.first_t is None:
                self.first_t = float(t[0])
            self.last_t = float(t[-1])
            self.samples += len(t)
        self._reconnected = False
        if batch.seq is not None:
            self._last_seq = batch.seq
        return t

    @property
    def period_s(self) -> float | None:
        """Current sample period estimate (s)."""
        if self.has_timestamps:
            return 1.0 / self.nominal_rate_hz if self.nominal_rate_hz else None
        return self._period

    @property
    def rate_hz(self) -> float | None:
        """Sample rate estimate (Hz): fitted for devices without timestamps."""
        p = self.period_s
        return 1.0 / p if p else None

    @property
    def drift_ppm(self) -> float | None:
        """Sensor clock against host clock, parts per million (positive: sensor slow)."""
        if self.has_timestamps:
            slope = self._drift.slope() if self._drift.span >= MIN_FIT_SPAN_S else None
            return None if slope is None else (slope - 1.0) * 1e6
        if self._period is None or not self.nominal_rate_hz or self._fit.span < MIN_FIT_SPAN_S:
            return None
        return (self._period * self.nominal_rate_hz - 1.0) * 1e6

    def stats(self) -> dict:
        """Numbers for the session log."""
        drift = self.drift_ppm
        rate = self.rate_hz
        return {
            "gaps": [g.as_dict() for g in self.gaps],
            "gap_count": len(self.gaps),
            "gap_total_s": round(sum(g.duration_s for g in self.gaps), 6),
            "lost_samples": self.lost_samples,
            "drift_ppm": None if drift is None else round(drift, 1),
            "fitted_rate_hz": None if rate is None else round(rate, 4),
        }

    # --- devices with a sensor clock -----------------------------------------------------
    def _map_sensor(self, batch: DecodedBatch, h: float) -> np.ndarray:
        st = np.asarray(batch.sensor_t, dtype=np.float64)
        if len(st) == 0:
            return st
        prev_t = self.last_t
        reason = None
        if self._offset is None:
            self._offset = h - st[-1]
        else:
            predicted = st[-1] + self._offset
            clock_broken = (self._last_sensor_t is not None and st[0] <= self._last_sensor_t) or abs(
                h - predicted
            ) > max(REANCHOR_TOLERANCE_S, 10 * self.gap_threshold_s)
            if clock_broken or (self._reconnected and abs(h - predicted) > REANCHOR_TOLERANCE_S):
                self._offset = h - st[-1]
                self._drift = _Welford()
                reason = "clock reset" if not self._reconnected else "disconnected"
        t = st + self._offset
        if prev_t is not None and t[0] <= prev_t:  # never go back in time
            step = 1.0 / self.nominal_rate_hz if self.nominal_rate_hz else 1e-3
            self._offset += prev_t + step - t[0]
            t = st + self._offset
        self._drift.add(float(st[-1]), h)
        self._last_sensor_t = float(st[-1])
        if prev_t is not None:
            lost = self._seq_lost(batch)
            jump = t[0] - prev_t
            period = 1.0 / self.nominal_rate_hz if self.nominal_rate_hz else None
            if lost and period and reason is None:
                # the sensor clock is consistent: a sequence number claiming a loss that the
                # timestamps do not show (more than a frame apart) is a corrupt counter
                by_time = max(0, int(round(jump / period)) - 1)
                if abs(lost - by_time) > len(st):
                    lost = by_time
            if reason is None and self._reconnected and (jump > 1.5 * (period or 0.0) or lost):
                reason = "disconnected"  # any hole across a reconnection, however short
            if reason is None and lost:
                reason = "lost packets"
            if reason is None and jump > self.gap_threshold_s:
                reason = "time jump"
            if reason is not None:
                if lost is None and period:
                    lost = max(0, int(round(jump / period)) - 1)
                self._gap(prev_t, float(t[0]), reason, lost)
        return t

    def _seq_lost(self, batch: DecodedBatch) -> int | None:
        """Samples missing according to the sequence number (None if it cannot tell)."""
        if batch.seq is None or self._last_seq is None or not batch.seq_modulus:
            return None
        missing_frames = (batch.seq - self._last_seq - 1) % batch.seq_modulus
        if missing_frames == 0:
            return 0
        return missing_frames * len(batch)

    # --- devices without timestamps ---------------------------------------------------
    def _map_counted(self, k: int, h: float) -> np.ndarray:
        if k == 0:
            return np.empty(0)
        if self._period is None:
            self._period = 1.0 / self.nominal_rate_hz if self.nominal_rate_hz else 0.01
        prev_t = self.last_t
        n_last = self._n + k - 1
        if self._a is None:
            self._a = h - self._period * n_last
        else:
            expected = self._a + self._period * n_last
            self._lat_count += 1
            if self._lat and (self._typical is None or self._lat_count % 32 == 0):
                self._typical = float(np.median(self._lat))  # refreshed now and then: cheap
            typical = self._typical or 0.0
            late = h - expected - typical
            if late > self.gap_threshold_s:
                missing = int(round(late / self._period))
                self._n += missing
                n_last += missing
                self.lost_samples += missing
                reason = "disconnected" if self._reconnected else "time jump"
                self._pending_gap = (reason, missing)
        self._fit.add(float(n_last), h)
        if self._fit.span * self._period >= MIN_FIT_SPAN_S:
            slope = self._fit.slope()
            if slope and (not self.nominal_rate_hz or 0.5 < slope * self.nominal_rate_hz < 2.0):
                self._period = slope
        self._update_envelope(float(n_last), h)
        n = self._n + np.arange(k)
        t = self._a + self._period * n
        if prev_t is not None and t[0] <= prev_t:
            t = t + (prev_t + 0.5 * self._period - t[0])
        pending = self._pending_gap
        if pending is not None and prev_t is not None:
            self._gap(prev_t, float(t[0]), pending[0], pending[1], count=False)
        self._pending_gap = None
        self._n += k
        return t

    def _update_envelope(self, n_last: float, h: float) -> None:
        recent = self._recent
        recent.append((n_last, h))
        while recent and h - recent[0][1] > ENVELOPE_WINDOW_S:
            recent.popleft()
        if len(recent) % 16 == 0 or len(recent) < 16:
            a = min(hh - self._period * nn for nn, hh in recent)
        else:
            a = min(self._a, h - self._period * n_last)
        self._a = a
        self._lat.append(h - (a + self._period * n_last))

    def _gap(self, start: float, end: float, reason: str, lost: int | None, count=True) -> None:
        self.gaps.append(LinkGap(start, end, reason, lost))
        if count and lost:
            self.lost_samples += lost
