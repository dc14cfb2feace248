"""The event: what the DSP core reports to the application, and the records it carries.

An :class:`Event` is the only type that crosses from ``dsp`` into ``tremorscope``.
It carries an :class:`Episode` (started, updated, ended), a :class:`MinuteSummary`
or a :class:`Gap`. ``Episode.as_row`` gives the columns of the CSV export contract.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

#: Columns of the episode CSV export, in order. Other tools read this: only append.
EPISODE_COLUMNS: tuple[str, ...] = (
    "session_id",
    "episode_id",
    "kind",
    "start_s",
    "end_s",
    "duration_s",
    "detected_at_s",
    "start_time",
    "dominant_hz",
    "band",
    "stability",
    "amplitude_g",
    "amplitude_dps",
    "displacement_cm",
    "severity",
    "context",
    "peak_angle_deg",
    "mean_angle_deg",
    "direction",
    "onset_speed_dps",
    "co_contraction",
    "contraction_id",
    "detection_path",
    "confidence",
)

#: Severity classes, mildest first (as in Apple's Movement Disorder API tremor results).
SEVERITY_CLASSES: tuple[str, ...] = ("none", "slight", "mild", "moderate", "strong")

#: Columns of a per-minute summary row.
MINUTE_COLUMNS: tuple[str, ...] = (
    "minute_start_s",
    "start_time",
    *(f"{c}_frac" for c in SEVERITY_CLASSES),
    "unknown_frac",
    "contraction_frac",
)

STARTED = "started"
UPDATED = "updated"
ENDED = "ended"
MINUTE = "minute"
GAP = "gap"


@dataclass(frozen=True)
class Episode:
    """One tremor or contraction episode, as known at the time of the event.

    Times are seconds on the recording's own ``t`` clock. ``end_s`` is the latest
    observed time while the episode is still open. Fields that do not apply to
    the episode's kind are ``None``.
    """

    episode_id: int
    kind: str  # "tremor" | "contraction"
    start_s: float
    end_s: float
    detected_at_s: float
    start_time: str | None = None  # ISO 8601 wall-clock onset, when the recording has one
    # tremor
    dominant_hz: float | None = None
    band: str | None = None
    stability: float | None = None  # tremor stability index, Hz (lower = more regular)
    amplitude_g: float | None = None
    amplitude_dps: float | None = None
    displacement_cm: float | None = None
    severity: str | None = None
    # "rest" | "posture" | "movement"; "within_posture" (dystonic tremor): during the
    # contraction episode ``contraction_id``
    context: str | None = None
    # contraction
    peak_angle_deg: float | None = None
    mean_angle_deg: float | None = None
    direction: str | None = None
    onset_speed_dps: float | None = None
    co_contraction: float | None = None
    # tremor inside a contraction episode: that episode's id (context "within_posture")
    contraction_id: int | None = None
    # contraction: "calibrated" (against a calibrated neutral), "adaptive" (against the adaptive
    # neutral, neck/head) or "uncalibrated" (a limb spasm from its signature); and how sure (0-1)
    detection_path: str | None = None
    confidence: float | None = None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def as_row(self, session_id: int | None = None) -> dict[str, Any]:
        """The episode as a row of the CSV export contract (``EPISODE_COLUMNS``)."""
        d = dict(self.__dict__)  # scalar fields only: no deep copy needed
        d["session_id"] = session_id
        d["duration_s"] = self.duration_s
        return {c: _clean(d.get(c)) for c in EPISODE_COLUMNS}


@dataclass(frozen=True)
class MinuteSummary:
    """Fractions of one minute spent in each tremor severity class.

    The class fractions and ``unknown_frac`` sum to 1. ``unknown`` is time with
    no data, or with too much voluntary movement to judge tremor.
    """

    minute_start_s: float
    start_time: str | None
    fractions: dict[str, float] = field(default_factory=dict)  # severity class -> fraction
    unknown_frac: float = 0.0
    contraction_frac: float = 0.0

    def as_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"minute_start_s": self.minute_start_s, "start_time": self.start_time}
        for c in SEVERITY_CLASSES:
            row[f"{c}_frac"] = float(self.fractions.get(c, 0.0))
        row["unknown_frac"] = self.unknown_frac
        row["contraction_frac"] = self.contraction_frac
        return row


@dataclass(frozen=True)
class Gap:
    """A stretch longer than the gap limit with no samples; nothing is inferred inside it."""

    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Event:
    """Something the detector reports: ``type`` is started/updated/ended/minute/gap.

    ``at_s`` is the stream time at which the detector emitted it.
    """

    type: str
    at_s: float
    episode: Episode | None = None
    minute: MinuteSummary | None = None
    gap: Gap | None = None


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


#: The episode columns that hold numbers (NaN where a column does not apply to a kind).
NUMERIC_COLUMNS = tuple(
    c
    for c in EPISODE_COLUMNS
    if c
    not in (
        "session_id",
        "episode_id",
        "kind",
        "start_time",
        "band",
        "severity",
        "context",
        "direction",
        "detection_path",
    )  # fmt: skip
)


def episodes_frame(episodes: list[Episode]) -> pd.DataFrame:
    """Episodes as the CSV export's rows, in order of start, kind and id."""
    rows = [e.as_row() for e in sorted(episodes, key=lambda e: (e.start_s, e.kind, e.episode_id))]
    frame = pd.DataFrame(rows, columns=list(EPISODE_COLUMNS))
    for c in NUMERIC_COLUMNS:  # numbers stay numbers (NaN where a column does not apply)
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(float)
    return frame
