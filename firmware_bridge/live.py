"""The live source: transport + protocol + timestamps -> an iterator of SampleBlock.

It never loses data and never hangs:
- the transport's bounded queue drops the OLDEST payload when the consumer falls behind
  and counts it (``stats.dropped``);
- a lost link (BLE disconnect, serial unplug) is reopened with exponential backoff and
  the same iteration (the same session) continues; the gap is recorded;
- a watchdog reopens a link that is connected but silent for ``watchdog_s``;
- decoding errors are counted by the protocol, never raised;
- while nothing arrives (waiting, reconnecting) it yields empty heartbeat blocks a few
  times a second, so the consumer can react to Ctrl-C/SIGTERM and refresh its display;
- :meth:`LiveSource.stop` (from a signal handler or another thread) ends the iteration
  after the current payload: stop commands are sent, the link is closed, and the
  payloads it had already delivered are decoded and yielded (nothing received is lost).

A capture replay uses the very same class with a :class:`CaptureTransport`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from firmware_bridge.io.capture import CaptureWriter
from firmware_bridge.protocols.base import MAX_CLOCK_LEAD_S, DecodedBatch, Protocol
from firmware_bridge.samples import SampleBlock, plausible_rows
from firmware_bridge.timestamps import LinkGap, SessionClock
from firmware_bridge.transports.base import (
    Transport,
    TransportEnded,
    TransportError,
    TransportLost,
)

HEARTBEAT_S = 0.25
RECV_TIMEOUT_S = 0.1
_EMPTY = SampleBlock(np.empty(0), np.empty((0, 3)))


@dataclass
class LiveStats:
    """Link health for the status line and the session log."""

    device: str
    transport: str
    where: str
    state: str = "starting"  # connecting | streaming | reconnecting | stopped | ended
    connects: int = 0
    reconnects: int = 0
    watchdog_resets: int = 0
    payloads: int = 0
    samples: int = 0
    dropped: int = 0  # payloads dropped by the bounded queue
    malformed: int = 0  # payloads/frames/lines that could not be decoded
    crc_errors: int = 0
    skipped_bytes: int = 0
    implausible: int = 0  # frames or samples with an impossible rate or timestamp (rejected)
    battery_pct: float | None = None
    nominal_rate_hz: float | None = None
    effective_rate_hz: float | None = None  # samples over the span of session time
    recent_rate_hz: float | None = None  # over the last few seconds of wall time
    drift_ppm: float | None = None
    lost_samples: int = 0
    bad_samples: int = 0  # decoded samples not finite or beyond any sensor's range (dropped)
    skipped_time: int = 0  # decoded samples not after the one before (a repeated timestamp; dropped)
    gaps: list[dict] = field(default_factory=list)
    last_error: str = ""

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("effective_rate_hz", "recent_rate_hz", "battery_pct", "nominal_rate_hz"):
            if d[k] is not None:
                d[k] = round(float(d[k]), 3)
        return d


class LiveSource:
    """Iterate to get :class:`SampleBlock` objects in session time; see the module doc.

    ``origin_s`` is the Unix time that session time 0 stands for (default: now).
    ``first_connect_timeout_s`` bounds only the very first connection (a wrong port or
    address should end with an error, not wait forever; 0 means a single attempt); later
    reconnects retry until stopped. ``duration_s`` ends the iteration after that much wall time.
    """

    def __init__(
        self,
        transport: Transport,
        protocol: Protocol,
        *,
        device: str | None = None,
        origin_s: float | None = None,
        capture: CaptureWriter | None = None,
        reconnect: bool = True,
        backoff_s: tuple[float, float] = (0.5, 30.0),
        watchdog_s: float | None = 5.0,
        first_connect_timeout_s: float | None = 60.0,
        poll_s: float = 30.0,
        duration_s: float | None = None,
        gap_threshold_s: float = 0.5,
        min_block_s: float = 0.1,
    ) -> None:
        self.transport = transport
        self.protocol = protocol
        self.capture = capture
        self.reconnect = reconnect
        self.backoff_s = backoff_s
        self.watchdog_s = watchdog_s
        self.first_connect_timeout_s = first_connect_timeout_s
        self.poll_s = poll_s
        self.duration_s = duration_s
        self.origin_s = time.time() if origin_s is None else float(origin_s)
        self.clock = SessionClock(
            self.origin_s,
            has_timestamps=protocol.has_timestamps,
            nominal_rate_hz=protocol.nominal_rate_hz,
            gap_threshold_s=gap_threshold_s,
        )
        self._stats = LiveStats(
            device=device or protocol.name, transport=transport.kind, where=transport.description
        )
        #: Called with each :class:`LinkGap` as soon as it is found.
        self.on_gap: Callable[[LinkGap], None] | None = None
        self._stop = threading.Event()
        self._recent: deque[tuple[float, int]] = deque()
        self._gaps_seen = 0
        self._connected_once = False
        self._deadline: float | None = None
        self.min_block_s = min_block_s
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
        self._pending_n = 0
        self._pending_since = 0.0
        self._last_t = -np.inf  # session time of the last sample passed on
        self._ready: list[SampleBlock] = []
        if capture is not None:
            transport.on_payload = capture.write

    # --- control ---------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the iteration to end cleanly (safe from signal handlers and other threads)."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def stats(self) -> LiveStats:
        """Current link statistics (refreshed on each access)."""
        s = self._stats
        c = self.protocol.counters
        s.dropped = self.transport.dropped
        s.malformed, s.crc_errors, s.skipped_bytes = c.malformed, c.crc_errors, c.skipped_bytes
        s.implausible = c.implausible
        if c.last_error:
            s.last_error = s.last_error or c.last_error
        s.battery_pct = self.protocol.battery_pct
        s.nominal_rate_hz = self.protocol.nominal_rate_hz
        s.samples = self.clock.samples
        s.lost_samples = self.clock.lost_samples
        s.drift_ppm = self.clock.drift_ppm
        s.gaps = [g.as_dict() for g in self.clock.gaps]
        first, last = self.clock.first_t, self.clock.last_t
        if first is not None and last is not None and last > first and s.samples > 1:
            s.effective_rate_hz = (s.samples - 1) / (last - first)
        if len(self._recent) >= 2:
            (t0, n0), (t1, n1) = self._recent[0], self._recent[-1]
            s.recent_rate_hz = (n1 - n0) / (t1 - t0) if t1 > t0 else None
        return s

    def connect(self) -> None:
        """Make the first connection now (blocking, with retries up to the first-connect limit).

        Optional: iteration connects by itself. Calling it first lets a program report
        "cannot connect" before it opens a session.
        """
        for _ in self._connect(first=True):
            pass
        self._connected_once = True

    # --- iteration ---------------------------------------------------------------------
    def __iter__(self) -> Iterator[SampleBlock]:
        started = time.monotonic()
        if self.duration_s is not None:
            self._deadline = started + self.duration_s
        try:
            if not self._connected_once:
                yield from self._connect(first=True)
            last_rx = time.monotonic()
            last_poll = time.monotonic()
            last_beat = time.monotonic()
            while not self._stop.is_set():
                now = time.monotonic()
                if self.duration_s is not None and now - started >= self.duration_s:
                    break
                try:
                    payload = self.transport.recv(RECV_TIMEOUT_S)
                except TransportEnded:
                    yield from self._flush_pending()
                    self._close_quietly()
                    self._stats.state = "ended"
                    return
                except TransportLost as exc:
                    yield from self._flush_pending()
                    yield from self._relink(str(exc), reason="link lost")
                    last_rx = last_poll = time.monotonic()
                    continue
                now = time.monotonic()
                if payload is None:
                    if self.watchdog_s is not None and now - last_rx > self.watchdog_s:
                        yield from self._flush_pending()
                        self._stats.watchdog_resets += 1
                        yield from self._relink(f"no data for {self.watchdog_s:g} s", reason="watchdog")
                        last_rx = last_poll = time.monotonic()
                    elif now - last_beat >= HEARTBEAT_S:
                        last_beat = now
                        yield self._take_pending() or _EMPTY
                    continue
                last_rx = now
                self._decode(payload, now)
                if self._pending_n and (
                    self._pending_span() >= self.min_block_s or now - self._pending_since >= self.min_block_s
                ):
                    last_beat = now
                    yield from self._flush_pending()  # split-off blocks too: none wait behind
                elif now - last_beat >= HEARTBEAT_S:
                    last_beat = now
                    yield self._take_pending() or _EMPTY
                if self.poll_s and now - last_poll >= self.poll_s:
                    last_poll = now
                    self._send(self.protocol.poll_commands(self.transport.kind))
            # Stopped or out of time: close the link, then flush what it had delivered.
            self._shutdown()
            while (payload := self.transport.queue.get(0.0)) is not None:
                self._decode(payload, time.monotonic())
            yield from self._flush_pending()
        finally:
            self._shutdown()

    # --- decoding into blocks -------------------------------------------------------------
    def _decode(self, payload, now: float) -> None:
        """Decode one payload into the pending block (session times assigned, gaps noted)."""
        self._stats.payloads += 1
        for batch in (run for b in self.protocol.feed(payload) for run in _increasing_runs(b)):
            t = self.clock.map(batch)  # every decoded sample keeps its place in time...
            self._report_gaps()
            if not len(t):
                continue
            acc, gyro = batch.acc, batch.gyro
            ok = plausible_rows(t, acc, gyro)  # ...but a corrupt one never enters a block
            bad = int(ok.size - np.count_nonzero(ok))
            # ...nor one not after the sample before it (a repeated device timestamp)
            with np.errstate(invalid="ignore"):
                later = t > np.maximum.accumulate(np.concatenate(([self._last_t], t[:-1])))
            late = int(np.count_nonzero(ok & ~later))
            ok &= later
            if bad or late:
                self._stats.bad_samples += bad
                self._stats.skipped_time += late
                t, acc = t[ok], acc[ok]
                gyro = None if gyro is None else gyro[ok]
                if not len(t):
                    continue
            self._last_t = float(t[-1])
            if self._pending_n and (gyro is None) != (self._pending[0][2] is None):
                self._ready.append(self._pack_pending())  # acc-only and acc+gyro never mix
            if not self._pending_n:
                self._pending_since = now
            self._pending.append((t, acc, gyro))
            self._pending_n += len(t)
            self._count_recent(now, len(t))

    def _pending_span(self) -> float:
        return float(self._pending[-1][0][-1] - self._pending[0][0][0])

    def _take_pending(self) -> SampleBlock | None:
        """The next block: earlier split-off blocks first, then the pending samples; or None."""
        if self._ready:
            return self._ready.pop(0)
        return self._pack_pending()

    def _pack_pending(self) -> SampleBlock | None:
        """The pending samples (all of one kind: acc-only or acc+gyro) as one block, or None.

        Only the pending samples: a split-off block waiting in ``_ready`` is never mixed in (the
        mode can switch again before it is taken)."""
        if not self._pending_n:
            return None
        parts = self._pending
        self._pending = []
        self._pending_n = 0
        if len(parts) == 1:
            t, acc, gyro = parts[0]
            return SampleBlock(t, acc, gyro)
        gyro = None if parts[0][2] is None else np.vstack([p[2] for p in parts])
        return SampleBlock(np.concatenate([p[0] for p in parts]), np.vstack([p[1] for p in parts]), gyro)

    def _flush_pending(self) -> Iterator[SampleBlock]:
        while (block := self._take_pending()) is not None:
            yield block

    def _count_recent(self, now: float, n: int) -> None:
        total = (self._recent[-1][1] if self._recent else 0) + n
        self._recent.append((now, total))
        while len(self._recent) > 2 and now - self._recent[0][0] > 5.0:
            self._recent.popleft()

    def _report_gaps(self) -> None:
        gaps = self.clock.gaps
        while self._gaps_seen < len(gaps):
            gap = gaps[self._gaps_seen]
            self._gaps_seen += 1
            if self.on_gap is not None:
                self.on_gap(gap)

    def _connect(self, first: bool) -> Iterator[SampleBlock]:
        """Open the link, retrying with backoff; yields heartbeats while waiting."""
        delay, max_delay = self.backoff_s
        cap = getattr(self.transport, "retry_max_s", None)
        if cap is not None:  # a link that is cheap to probe is retried often (serial replug)
            delay, max_delay = min(delay, cap), min(max_delay, cap)
        began = time.monotonic()
        while not self._stop.is_set():
            if self._deadline is not None and time.monotonic() >= self._deadline:
                return
            self._stats.state = "connecting" if first else "reconnecting"
            try:
                self.transport.open(self.protocol.subscriptions(self.transport.kind))
            except TransportError as exc:
                self._stats.last_error = str(exc)
                self._close_quietly()
                too_long = (
                    first
                    and self.first_connect_timeout_s is not None
                    and time.monotonic() - began >= self.first_connect_timeout_s
                )
                if not self.reconnect or too_long:
                    raise
                yield from self._wait(delay)
                delay = min(max(delay * 2, 0.05), max_delay)
                continue
            self._stats.state = "streaming"
            self._stats.connects += 1
            if self.capture is not None:
                self.capture.event("connected")
            # A failed start command is noted, not retried here: if the link dropped, the
            # payloads already queued are consumed first and the loss then surfaces from
            # recv(), so the decoder is reset at the right place in the stream.
            self._send(self.protocol.start_commands(self.transport.kind))
            return

    def _relink(self, why: str, reason: str) -> Iterator[SampleBlock]:
        self._stats.last_error = why
        if self.capture is not None:
            self.capture.event("disconnected", reason=reason)
        self._close_quietly()
        self.protocol.reset()
        self.clock.mark_reconnected()
        if not self.reconnect:
            raise TransportLost(why)
        self._stats.reconnects += 1
        yield from self._connect(first=False)

    def _wait(self, seconds: float) -> Iterator[SampleBlock]:
        end = time.monotonic() + seconds
        if self._deadline is not None:
            end = min(end, self._deadline)
        while not self._stop.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return
            self._stop.wait(min(left, HEARTBEAT_S))
            yield _EMPTY

    def _send(self, commands: list) -> None:
        for cmd in commands:
            try:
                self.transport.write(cmd)
            except TransportError as exc:
                self._stats.last_error = str(exc)
                return
            if cmd.wait_s:
                self._stop.wait(cmd.wait_s)

    def _close_quietly(self) -> None:
        try:
            self.transport.close()
        except Exception:  # noqa: BLE001 - closing must never fail a session
            pass

    def _shutdown(self) -> None:
        if self._stats.state in ("stopped", "ended"):
            return
        if self._stats.state == "streaming":
            self._send(self.protocol.stop_commands(self.transport.kind))
        self._close_quietly()
        self._stats.state = "stopped"
        self._report_gaps()


def _increasing_runs(batch: DecodedBatch) -> list[DecodedBatch]:
    """The batch split where its sensor clock steps back (a device restarting mid-payload) or
    leaps further ahead than buffering explains, so the session clock sees (and re-anchors) each
    break; one batch in the usual case."""
    st = batch.sensor_t
    if st is None or len(st) < 2:
        return [batch]
    step = np.diff(st)
    back = np.flatnonzero((step < 0) | (step > MAX_CLOCK_LEAD_S)) + 1
    if not back.size:
        return [batch]
    cuts = [0, *back.tolist(), len(st)]
    return [
        replace(
            batch,
            acc=batch.acc[a:b],
            gyro=None if batch.gyro is None else batch.gyro[a:b],
            sensor_t=st[a:b],
        )
        for a, b in zip(cuts[:-1], cuts[1:])
    ]
