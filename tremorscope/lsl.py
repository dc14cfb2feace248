"""Lab Streaming Layer for the app: publish a session's samples and events, and run a session
on an LSL IMU stream (the transport is ``firmware_bridge.transports.lsl``).

Events go out as one JSON object per marker: ``{"type": "started"|"updated"|"ended"|"minute"|
"gap", "at_s": ..., "episode": {the episode CSV row} | "minute": {...} | "gap": {...}}``, stamped
on the LSL clock at the moment in the stream they describe, so an XDF file lines them up with
the samples and with the lab's other streams.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from typing import Any

from dsp import Event
from firmware_bridge.samples import SampleBlock
from firmware_bridge.transports.lsl import LslInlet, MarkerOutlet, SampleOutlet, local_clock
from tremorscope.session import SessionInfo, SessionResult, SessionRunner
from tremorscope.store import Store

#: Suffix of the event stream's name beside the sample stream.
EVENTS_SUFFIX = "-events"


def event_json(event: Event) -> str:
    """One detector event as a JSON object (NaN written as null)."""
    d: dict[str, Any] = {"type": event.type, "at_s": event.at_s}
    if event.episode is not None:
        d["episode"] = event.episode.as_row()
    if event.minute is not None:
        d["minute"] = event.minute.as_row()
    if event.gap is not None:
        d["gap"] = {"start_s": event.gap.start_s, "end_s": event.gap.end_s}
    return json.dumps(_finite(d), separators=(",", ":"))


def _finite(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


class LslPublisher:
    """Publish a session: its samples as stream ``name`` (type IMU) and its events as
    ``name-events`` (type Markers). ``lsl_offset_s`` maps stream time to the LSL clock
    (default: the first block's last sample is "now")."""

    def __init__(
        self, name: str, sample_rate_hz: float, has_gyro: bool, device: str | None = None,
        lsl_offset_s: float | None = None,
    ) -> None:  # fmt: skip
        self.samples = SampleOutlet(name, sample_rate_hz, has_gyro, device=device)
        self.events = MarkerOutlet(name + EVENTS_SUFFIX)
        self.offset_s = lsl_offset_s
        self.sent = 0
        self.markers = 0

    def push_block(self, block: SampleBlock) -> None:
        if len(block) == 0:
            return
        if self.offset_s is None:
            self.offset_s = local_clock() - float(block.t[-1])
        self.samples.push_block(block, self.offset_s)
        self.sent += len(block)

    def wrap(self, blocks: Iterable[SampleBlock]) -> Iterator[SampleBlock]:
        """Pass blocks through, publishing each."""
        for block in blocks:
            self.push_block(block)
            yield block

    def on_event(self, event: Event, runner: Any = None) -> None:
        """A session's ``on_event`` callback: the event as a marker at its stream time."""
        at = None if self.offset_s is None else self.offset_s + float(event.at_s)
        self.events.push(event_json(event), at)
        self.markers += 1

    def close(self) -> None:
        self.samples.close()
        self.events.close()


def lsl_session(
    store: Store,
    stream: str | None,
    *,
    duration_s: float | None = None,
    placement: str = "wrist",
    config: Any = None,
    on_event: Any = None,
    timeout_s: float | None = None,
) -> SessionResult:
    """Analyse an LSL IMU stream into the log until ``duration_s`` (or a stop signal)."""
    kwargs = {} if timeout_s is None else {"timeout_s": timeout_s}
    with LslInlet(stream, **kwargs) as inlet:
        rate = inlet.sample_rate_hz
        if rate is None:
            raise ValueError(f"LSL stream {inlet.stats.name!r} has an irregular rate; need a sampled one")
        info = SessionInfo(
            source=f"lsl:{inlet.stats.name}",
            sample_rate_hz=rate,
            placement=placement,
            device=inlet.stats.name,
            has_gyro=inlet.has_gyro,
            mode="live",
            extra={"lsl": {"name": inlet.stats.name, "channels": list(inlet.stats.channels)}},
        )
        runner = SessionRunner(store, info, config=config, on_event=on_event)
        return runner.run(inlet.blocks(duration_s))
