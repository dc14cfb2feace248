"""The patient diary: what happened, when (medication, botulinum toxin, DBS changes, stress...).

Symptoms change with treatment, stress, anxiety, fatigue and sleep; a clinician reading the
episode log needs those moments beside the detections. Entries are kept by wall-clock time
(with the UTC offset they were lived in), not by session, so a note made while no sensor was
recording still shows on the report's timeline and trends.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pandas as pd

from tremorscope.store import Store
from tremorscope.tables import render_table

#: Kinds of diary entry, as ``tremorscope note --kind`` accepts them.
DIARY_KINDS: tuple[str, ...] = ("medication", "botox", "dbs", "stress", "fatigue", "sleep", "other")
#: Treatment events the report marks on its trends (effect and wearing-off).
TREATMENT_KINDS: tuple[str, ...] = ("medication", "botox", "dbs")
#: Longest diary text kept (a note, not a document).
MAX_TEXT_CHARS = 500
#: How far in the future an entry's time may lie (clock differences between devices).
FUTURE_TOLERANCE_S = 120.0
#: The forms ``--at`` accepts, for error messages.
TIME_FORMS = (
    "now, HH:MM, 'yesterday HH:MM', YYYY-MM-DD HH:MM, an ISO 8601 time such as "
    "2024-03-01T08:30:00+01:00, or a time ago such as 30m, 2h or 1d"
)

_AGO = re.compile(r"^-?\s*(\d+(?:\.\d+)?)\s*(m|min|mins|minutes?|h|hr|hrs|hours?|d|days?)(?:\s+ago)?$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


@dataclass(frozen=True)
class DiaryEntry:
    """One diary entry: ``at`` is timezone-aware wall-clock time."""

    id: int
    at: datetime
    kind: str
    text: str
    created_at: str | None = None


def local_now() -> datetime:
    """The current wall-clock time with this machine's UTC offset."""
    return datetime.now().astimezone()


def parse_when(text: str | None, now: datetime | None = None) -> datetime:
    """The aware datetime meant by ``--at`` (see :data:`TIME_FORMS`); ``None`` means now.

    A bare clock time is today's, or yesterday's when today's would lie in the future (a dose
    at 23:30 noted at 00:10). Times without an offset are this machine's local time. Raises
    ValueError (one line, saying which forms work) for anything else or a future time.
    """
    use_os_zone = now is None  # naive times: the OS knows this machine's DST rules
    if now is None:
        now = local_now()
    elif now.tzinfo is None:
        now = now.astimezone()

    def localize(naive: datetime) -> datetime:
        return _localize(naive, now) if use_os_zone else naive.replace(tzinfo=now.tzinfo)

    if text is None or not text.strip() or text.strip().lower() == "now":
        return now
    raw = " ".join(text.strip().split())
    low = raw.lower()
    at: datetime | None = None
    m = _AGO.match(low)
    if m:
        amount, unit = float(m.group(1)), m.group(2)[0]
        step = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}[unit]
        at = now - amount * step
    else:
        day: date | None = None
        clock = low
        if low.startswith(("yesterday ", "today ")):
            word, clock = low.split(" ", 1)
            day = now.date() - timedelta(days=1 if word == "yesterday" else 0)
        m = _CLOCK.match(clock)
        if m:
            hh, mm, ss = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
            if hh > 23 or mm > 59 or ss > 59:
                raise ValueError(f"--at {text!r}: {hh:02d}:{mm:02d} is not a clock time; use {TIME_FORMS}")
            explicit_day = day is not None
            day = day or now.date()
            at = localize(datetime.combine(day, time(hh, mm, ss)))
            if not explicit_day and (at - now).total_seconds() > FUTURE_TOLERANCE_S:
                at = localize(datetime.combine(day - timedelta(days=1), time(hh, mm, ss)))
        elif day is None:
            at = _parse_iso(raw, localize)
    if at is None:
        raise ValueError(f"--at {text!r} is not a time I understand; use {TIME_FORMS}")
    if (at - now).total_seconds() > FUTURE_TOLERANCE_S:
        raise ValueError(
            f"--at {text!r} is in the future ({at.isoformat(timespec='minutes')}); "
            "diary entries record what has happened"
        )
    return at


def _parse_iso(raw: str, localize: Callable[[datetime], datetime]) -> datetime | None:
    s = raw.replace(" ", "T", 1) if re.match(r"^\d{4}-\d{2}-\d{2} \d", raw) else raw
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        return None
    if len(raw) == 10:  # a bare date means nothing precise enough for a diary
        return None
    return dt if dt.tzinfo is not None else localize(dt)


def _localize(naive: datetime, now: datetime) -> datetime:
    """Attach this machine's local offset valid at that time (DST-correct via the OS)."""
    try:
        return naive.astimezone()  # naive = local time; Python asks the OS for its offset
    except (OverflowError, OSError, ValueError):
        return naive.replace(tzinfo=now.tzinfo)


def clean_text(text: str) -> str:
    """One tidy line of at most :data:`MAX_TEXT_CHARS`; ValueError when nothing is left."""
    one = " ".join("".join(ch if ch.isprintable() else " " for ch in str(text)).split())
    if not one:
        raise ValueError('the note is empty; write what happened, e.g. tremorscope note "levodopa 100 mg"')
    if len(one) > MAX_TEXT_CHARS:
        raise ValueError(f"the note has {len(one)} characters; keep it under {MAX_TEXT_CHARS}")
    return one


def check_kind(kind: str | None) -> str:
    """A valid kind (lower case), ``other`` when not given."""
    k = (kind or "other").strip().lower()
    if k not in DIARY_KINDS:
        raise ValueError(f"diary kind {kind!r} is unknown; use one of {', '.join(DIARY_KINDS)}")
    return k


def add_note(
    store: Store, text: str, kind: str | None = "other", at: datetime | str | None = None
) -> DiaryEntry:
    """Store a diary entry (committed at once) and return it."""
    when = at if isinstance(at, datetime) else parse_when(at)
    if when.tzinfo is None:
        when = _localize(when, local_now())
    entry_kind = check_kind(kind)
    body = clean_text(text)
    entry_id = store.add_diary_entry(when, entry_kind, body)
    return DiaryEntry(entry_id, when, entry_kind, body)


@dataclass(frozen=True)
class RecordedSpan:
    """A recording's wall-clock span (POSIX seconds), to say whether a note falls inside it."""

    session_id: int
    start_posix: float
    end_posix: float


#: Outside every recording: what the report, ``diary.csv`` and ``note`` call such an entry.
OUTSIDE_RECORDINGS = "outside recordings"


def recorded_spans(store: Store) -> list[RecordedSpan]:
    """Wall-clock spans of every recorded session with a clock (re-analyses repeat their
    parent's span and are left out)."""
    out = []
    for r in store.sessions().to_dict("records"):
        if (r.get("mode") or "") == "reanalysis":
            continue
        t0, t1, st = r.get("t_start_s"), r.get("t_end_s"), r.get("start_time")
        if t0 is None or t1 is None or not st or t0 != t0 or t1 != t1:
            continue
        try:
            start = datetime.fromisoformat(str(st).replace("Z", "+00:00"))
        except ValueError:
            continue
        start = start if start.tzinfo is not None else start.astimezone()
        p0 = start.timestamp()
        out.append(RecordedSpan(int(r["id"]), p0, p0 + float(t1) - float(t0)))
    return out


def covering_session(spans: list[RecordedSpan], at: datetime) -> int | None:
    """The session whose recording covers ``at`` (the latest-starting one), else None."""
    ts = at.timestamp()
    inside = [s for s in spans if s.start_posix <= ts <= s.end_posix]
    return max(inside, key=lambda s: s.start_posix).session_id if inside else None


def describe_day(at: datetime, now: datetime | None = None) -> str:
    """'today', 'yesterday' or the date, for telling the user which day a note went to."""
    now = now or local_now()
    day = at.astimezone(now.tzinfo).date()
    if day == now.date():
        return "today"
    if day == now.date() - timedelta(days=1):
        return f"yesterday, {day:%a %d %b}"
    return f"{day:%a %d %b %Y}"


def entries_from_frame(df: pd.DataFrame) -> list[DiaryEntry]:
    """``Store.diary()`` rows as :class:`DiaryEntry` objects."""
    out = []
    for row in df.itertuples(index=False):
        out.append(
            DiaryEntry(
                int(row.id), datetime.fromisoformat(str(row.at)), str(row.kind), str(row.text), row.created_at
            )
        )
    return out


def list_notes(store: Store, start: datetime | None = None, end: datetime | None = None) -> list[DiaryEntry]:
    """Diary entries with ``start <= at < end`` (None = open), oldest first."""
    return entries_from_frame(store.diary(start, end))


def notes_table(entries: list[DiaryEntry]) -> str:
    """Entries as an aligned table for people (time on the clock it was lived in)."""
    if not entries:
        return 'no diary entries (add one with: tremorscope note "levodopa 100 mg" --kind medication)'
    rows = [
        [str(e.id), e.at.strftime("%Y-%m-%d %H:%M"), e.at.strftime("%z"), e.kind, e.text] for e in entries
    ]
    return render_table(["id", "time", "offset", "kind", "note"], rows, right={0})
