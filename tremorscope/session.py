"""The session runner: any stream of sample blocks -> the real-time detector -> the episode log.

Source-agnostic on purpose: a replayed recording today, a live BLE or serial sensor later.
For every block it stores the raw samples first (nothing the sensor sent is lost even if the
detector fails), pushes the block to the detector and logs the resulting events. It commits
at least once per wall-clock second, so a killed process loses at most the last second.

Ending is always clean: at the end of the stream, on Ctrl-C or SIGTERM, or when the source
raises (e.g. a bad line in a recording), the detector is flushed, the session row gets its
totals and a final status, and everything is committed. Source errors are then re-raised for
the caller to report.

While a session runs the store also commits from a background thread, so what was received
is durable within a second even when the source goes quiet. Empty blocks are accepted (a
source may yield them as heartbeats).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dsp import StreamingDetector
from dsp.config import DetectorConfig
from dsp.events import ENDED, GAP, MINUTE, STARTED, UPDATED, Event
from firmware_bridge.samples import SampleBlock
from tremorscope import __version__, signals
from tremorscope.store import COMPLETE, INTERRUPTED, Store
from tremorscope.store.forced import interrupt_now

#: Source counters the runner copies into the session row when a ``stats`` callable reports them.
STAT_COLUMNS = ("skipped_missing", "skipped_time", "dropped", "malformed")


@dataclass
class SessionInfo:
    """What the log records about a session's source before the first sample arrives."""

    source: str  # recording path, or device name/address
    sample_rate_hz: float
    placement: str = "wrist"
    device: str | None = None
    start_time: datetime | None = None  # wall clock of the first sample, when known
    has_gyro: bool | None = None  # None: decided by the first block
    mode: str = "replay"  # replay | demo | live | reanalysis
    extra: dict[str, Any] = field(default_factory=dict)
    parent_session_id: int | None = None  # for a re-analysis of a stored session
    # the neutral posture: a measured one (tremorscope.calibration: stored, or measured over the
    # first seconds by --calibrate), or the detector's own calibration over the first seconds
    neutral_g: list[float] | None = None  # gravity direction in the sensor frame, g
    calibrate_s: float | None = None  # StreamingDetector(calibrate_s=...); the CLI measures instead


@dataclass
class SessionResult:
    """Totals of a finished session, as written to its row."""

    session_id: int
    status: str  # complete | interrupted
    samples: int
    t_start_s: float | None
    t_end_s: float | None
    episodes: int
    gaps: int
    gap_s: float
    skipped_missing: int = 0
    skipped_time: int = 0
    stopped_by: str | None = None  # "SIGINT" / "SIGTERM" when a signal ended it
    error: str | None = None  # one line, when the source or detector failed

    @property
    def duration_s(self) -> float:
        """Recording time covered (first to last sample), 0 when empty."""
        if self.t_start_s is None or self.t_end_s is None:
            return 0.0
        return self.t_end_s - self.t_start_s


EventCallback = Callable[[Event, "SessionRunner"], None]


class SessionRunner:
    """Runs one session: ``SessionRunner(store, info, ...).run(blocks) -> SessionResult``.

    ``on_event(event, runner)`` is called after each detector event has been logged (the CLI
    prints episodes with it). ``on_block(runner)`` is called after every block, heartbeats
    included (a live source can log its link gaps there with
    ``runner.store.add_gap(runner.session_id, gap, origin="bridge")`` and refresh a status
    display). ``store_raw=False`` skips storing raw samples (a re-analysis of a stored
    session, whose raw samples are already in the log). ``stats()`` returns the source's
    counters (see :data:`STAT_COLUMNS`); they are written with each commit and at the end.

    The session's ``extra_json`` gets what the detector knows about posture: ``neutral_g``
    (the neutral actually used, or None), ``calibrated``, ``limits`` (what the stream cannot
    show, e.g. "accelerometer only: ...") and ``neutral_from``. A stop by
    signal ends with ``stop_status`` (``interrupted`` for a replay cut short; a live
    session, where Ctrl-C is the normal way to end, passes ``complete``).

    Signals (:mod:`tremorscope.signals`): with ``handle_signals`` the first SIGINT/SIGTERM ends
    the run after the current block; with ``stop_source`` as well, it calls that instead (a
    live link then delivers what it already received and ends the stream itself). A second
    signal ends the run at once. Either way the session is closed and committed; if that does
    not happen within the deadline, the forced end marks it interrupted.
    """

    def __init__(
        self,
        store: Store,
        info: SessionInfo,
        *,
        config: DetectorConfig | None = None,
        on_event: EventCallback | None = None,
        stats: Callable[[], Mapping[str, Any]] | None = None,
        stop_status: str = INTERRUPTED,
        handle_signals: bool = True,
        on_block: Callable[[SessionRunner], None] | None = None,
        store_raw: bool = True,
        stop_source: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.info = info
        self.config = config or DetectorConfig()
        self.on_event = on_event
        self.stats = stats
        self.stop_status = stop_status
        self.handle_signals = handle_signals
        self.on_block = on_block
        self.store_raw = store_raw
        self.stop_source = stop_source
        self.session_id: int | None = None
        self.samples = 0
        self.bad_samples = 0  # implausible rows this runner dropped (the source had not)
        self.unanalysed_samples = 0  # acc-only samples of a sensor that switched from acc+gyro
        self.t_first_s: float | None = None
        self.t_last_s: float | None = None
        self.has_gyro = info.has_gyro
        self.detector: StreamingDetector | None = None
        self._posture_key: tuple[Any, ...] | None = None

    # ----- the run

    def run(self, blocks: Iterable[SampleBlock]) -> SessionResult:
        """Consume ``blocks`` until the end, a stop signal or an error; always close cleanly."""
        info = self.info
        self.detector = StreamingDetector(
            info.sample_rate_hz, placement=info.placement, config=self.config,
            start_time=info.start_time, neutral_g=info.neutral_g, calibrate_s=info.calibrate_s,
        )  # fmt: skip
        used = getattr(self.detector, "config", None) or self.config
        extra = dict(info.extra)
        extra.setdefault("neutral_from", _neutral_from(info))
        self.session_id = self.store.begin_session(
            info.source,
            mode=info.mode,
            device=info.device,
            placement=info.placement,
            sample_rate_hz=info.sample_rate_hz,
            has_gyro=info.has_gyro,
            start_time=info.start_time,
            config_json=used.to_json(),
            app_version=__version__,
            extra_json=extra,
            parent_session_id=info.parent_session_id,
        )
        sid = self.session_id
        stopped_by: str | None = None
        error: BaseException | None = None
        it = iter(blocks)
        with contextlib.ExitStack() as stack:
            if self.handle_signals:
                stack.enter_context(signals.cooperative())
                if self.stop_source is not None:
                    stack.enter_context(signals.on_stop(self.stop_source))
            stack.enter_context(signals.on_force(self._force_close))
            # durable within a second even while the source is quiet (paced replay, live gaps)
            self.store.start_autocommit(lambda: self.store.update_session(sid, **self._progress()))
            stack.callback(self.store.stop_autocommit)
            try:
                for block in it:
                    self._handle_block(block)
                    if self.handle_signals and self.stop_source is None and signals.requested():
                        break
            except KeyboardInterrupt as e:  # a second signal, or one outside handle_signals
                stopped_by = getattr(e, "signal_name", None) or signals.requested() or "SIGINT"
            except BaseException as e:  # noqa: B036 - re-raised below after closing the session
                error = e
            # from here on a signal must not cut the closing short
            stack.enter_context(signals.shielded())
            if self.handle_signals:
                stopped_by = stopped_by or signals.requested()
            close = getattr(it, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001 - a failing source close must not lose the log
                    pass
            try:
                result = self._finish(stopped_by, error)
            except Exception:
                if error is None:
                    raise
        if error is not None:
            raise error
        return result

    def _force_close(self, signal_name: str) -> None:
        """From the signal watcher thread, just before a forced exit: mark the session interrupted."""
        if self.session_id is None:
            return
        message = f"stopped by {signal_name}; forced to end after {signals.FORCE_AFTER_S:g} s"
        try:
            fields = self._progress()
        except Exception:  # noqa: BLE001
            fields = {}
        interrupt_now(self.store, self.session_id, message, fields, signals.FORCE_LOCK_WAIT_S)

    def _handle_block(self, block: SampleBlock) -> None:
        if len(block):
            # the last gate before the log and the detector: whatever the source, no sample that
            # is not finite or beyond any sensor's range gets in (counted as a skipped row)
            block, bad = block.plausible()
            self.bad_samples += bad
        n = len(block)
        if n:
            assert self.session_id is not None and self.detector is not None
            if self.store_raw:
                self.store.add_samples(self.session_id, block)  # raw first: never lost
            if self.t_first_s is None:
                self.t_first_s = float(block.t[0])
            self.t_last_s = float(block.t[-1])
            self.samples += n
            if self.has_gyro is None:
                self.has_gyro = block.has_gyro
            analysed = self._for_detector(block)
            if analysed is not None:
                self._log_events(self.detector.push_block(analysed))
            self._note_posture()
        if self.on_block is not None:
            self.on_block(self)
        if self.store.commit_due():
            self.store.update_session(self.session_id, **self._progress())
            self.store.commit()

    def _for_detector(self, block: SampleBlock) -> SampleBlock | None:
        """The block as the detector can take it: a sensor that switches between acc-only and
        acc+gyro mid-session (its raw samples are all stored) is analysed in the channels the
        detector started with: extra gyroscope data is left out of the analysis, and acc-only
        samples in a gyroscope session are not analysed (counted; the detector sees a gap)."""
        det = self.detector
        assert det is not None
        if det.has_gyro is None or det.has_gyro == block.has_gyro:
            return block
        if not det.has_gyro:
            return SampleBlock(block.t, block.acc)
        self.unanalysed_samples += len(block)
        return None

    def _log_events(self, events: list[Event]) -> None:
        sid = self.session_id
        assert sid is not None
        for ev in events:
            if ev.type in (STARTED, UPDATED, ENDED) and ev.episode is not None:
                self.store.upsert_episode(sid, ev.episode, open=ev.type != ENDED, updated_at_s=ev.at_s)
            elif ev.type == MINUTE and ev.minute is not None:
                self.store.upsert_minute(sid, ev.minute)
            elif ev.type == GAP and ev.gap is not None:
                self.store.add_gap(sid, ev.gap)
            if self.on_event is not None:
                self.on_event(ev, self)

    def posture_extra(self) -> dict[str, Any]:
        """The detector's posture facts for ``extra_json``: neutral used, calibrated, limits."""
        det = self.detector
        if det is None or det.has_gyro is None:  # no sample yet: nothing known
            return {}
        neutral = det.neutral
        return {
            "neutral_g": None if neutral is None else [round(float(v), 6) for v in neutral],
            "calibrated": bool(det.status().get("calibrated")),
            "limits": list(det.limits),
        }

    def _note_posture(self) -> None:
        """Write the posture facts when they change in kind (so a crash still leaves them)."""
        facts = self.posture_extra()
        key = (facts.get("neutral_g") is None, facts.get("calibrated"), tuple(facts.get("limits") or ()))
        if facts and key != self._posture_key:
            self._posture_key = key
            assert self.session_id is not None
            self.store.merge_session_extra(self.session_id, facts)

    def _progress(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "samples": self.samples,
            "t_start_s": self.t_first_s,
            "t_end_s": self.t_last_s,
            "has_gyro": self.has_gyro,
        }
        if self.stats is not None:
            try:
                counters = dict(self.stats())
            except Exception:  # noqa: BLE001 - counters are informative, never fatal
                counters = {}
            fields.update({k: int(v) for k, v in counters.items() if k in STAT_COLUMNS})
        if self.bad_samples:
            fields["skipped_missing"] = int(fields.get("skipped_missing") or 0) + self.bad_samples
        return fields

    def _finish(self, stopped_by: str | None, error: BaseException | None) -> SessionResult:
        """Flush the detector, write totals and the final status, commit."""
        sid = self.session_id
        assert sid is not None and self.detector is not None
        flush_error: BaseException | None = None
        try:
            self._log_events(self.detector.flush())
        except Exception as e:  # noqa: BLE001 - keep closing; reported below
            flush_error = e
        problem = error or flush_error
        status = COMPLETE
        if problem is not None:
            status = INTERRUPTED
        elif stopped_by is not None:
            status = self.stop_status
        fields = self._progress()
        if self.samples > 1 and self.t_first_s is not None and self.t_last_s is not None:
            span_s = self.t_last_s - self.t_first_s
            if span_s > 0:
                fields["effective_rate_hz"] = (self.samples - 1) / span_s
        try:
            facts = self.posture_extra()  # the neutral finally used
        except Exception:  # noqa: BLE001 - a broken detector must not stop the session closing
            facts = {}
        if self.unanalysed_samples:
            facts = {**facts, "samples_without_gyro_not_analysed": self.unanalysed_samples}
        if facts:
            self.store.merge_session_extra(sid, facts)
        message = None
        if problem is not None:
            message = _one_line(problem)
        elif stopped_by is not None:
            message = f"stopped by {stopped_by}"
        self.store.finish_session(sid, status, error=message, **fields)
        if flush_error is not None and error is None:
            raise flush_error
        row = self.store.session(sid) or {}
        return SessionResult(
            session_id=sid,
            status=status,
            samples=self.samples,
            t_start_s=self.t_first_s,
            t_end_s=self.t_last_s,
            episodes=len(self.store.episodes(sid)),
            gaps=int(row.get("gaps") or 0),
            gap_s=float(row.get("gap_s") or 0.0),
            skipped_missing=int(row.get("skipped_missing") or 0),
            skipped_time=int(row.get("skipped_time") or 0),
            stopped_by=stopped_by,
            error=_one_line(error) if error is not None else None,
        )


def _neutral_from(info: SessionInfo) -> str:
    """Default ``neutral_from`` when the caller did not say (see tremorscope.calibration)."""
    if info.calibrate_s is not None:
        return "detector_calibrate_s"
    if info.neutral_g is not None:
        return "given"
    return "adaptive"


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text


def replay_session(
    store: Store,
    path: str | Path,
    *,
    placement: str | None = None,
    speed: float | None = None,
    config: DetectorConfig | None = None,
    on_event: EventCallback | None = None,
    on_progress: Callable[[float], None] | None = None,
    mode: str = "replay",
    source_label: str | None = None,
    block_s: float = 1.0,
    calibrate_s: float | None = None,
    use_stored_calibration: bool = True,
) -> SessionResult:
    """Replay a recording file through the detector into ``store``.

    ``speed``: ``None`` for as fast as possible, else a multiple of real time. ``placement``
    defaults to the recording's metadata, else wrist. ``on_progress(fraction)`` is called
    after each block. Reader errors at open propagate before any session is created; errors
    mid-file end the session cleanly (everything before them kept) and propagate.

    The neutral posture: ``calibrate_s`` measures it over the recording's first seconds (they
    must be still, else :class:`~tremorscope.calibration.CalibrationError` before any session
    is created); otherwise the newest stored calibration of the recording's device and
    placement is used unless ``use_stored_calibration`` is False; otherwise it adapts.
    """
    from firmware_bridge.io import open_recording  # canonical CSV, a BIDS-Motion folder, ... (issue 5)
    from firmware_bridge.replay import ReplaySource
    from tremorscope.calibration import CalibrationError, choose_neutral

    with open_recording(path) as reader:
        place = (placement or reader.placement or "wrist").strip().lower()
        choice = choose_neutral(
            store, reader.device, place, calibrate_s=calibrate_s, use_stored=use_stored_calibration
        )
        if calibrate_s is not None:  # measured (and a moving start refused) before logging anything
            with open_recording(path) as head:
                try:
                    choice.measure(iter(head), config)
                except CalibrationError as e:
                    raise CalibrationError(f"{path}: --calibrate {calibrate_s:g}: {e}") from None
        info = SessionInfo(
            source=source_label or str(Path(path).resolve()),
            sample_rate_hz=float(reader.sample_rate_hz),
            placement=place,
            device=reader.device,
            start_time=reader.start_time,
            has_gyro=reader.has_gyro,
            mode=mode,
            extra={"recording_meta": dict(reader.meta), **choice.extra()},
            neutral_g=choice.neutral_g,
        )
        source = ReplaySource(reader, speed=speed, block_s=block_s)

        def blocks() -> Iterable[SampleBlock]:
            for block in source:
                yield block
                if on_progress is not None:
                    on_progress(float(source.progress))

        runner = SessionRunner(
            store, info, config=config, on_event=on_event, stats=lambda: reader_stats(reader),
            stop_source=source.stop,
        )  # fmt: skip
        return runner.run(blocks())


def reader_stats(reader: Any) -> dict[str, int]:
    """The skipped-row counters of a ``RecordingReader`` as session columns."""
    stats = getattr(reader, "stats", None)
    if stats is None:
        return {}
    return {
        "skipped_missing": int(getattr(stats, "skipped_missing", 0) or 0),
        "skipped_time": int(getattr(stats, "skipped_time", 0) or 0),
    }
