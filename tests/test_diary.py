"""The patient diary: times people type, storage in the log, the note/notes commands, the report."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from review_helpers import Page, session_start, simulated_session

from tremorscope.cli import main
from tremorscope.review.diary import DIARY_KINDS, add_note, clean_text, list_notes, notes_table, parse_when
from tremorscope.review.report import build_report
from tremorscope.store import Store, schema_version

CET = timezone(timedelta(hours=1))
NOW = datetime(2024, 3, 1, 0, 10, tzinfo=CET)


@pytest.mark.parametrize(
    "text, expected",
    [
        (None, NOW),
        ("now", NOW),
        ("23:30", datetime(2024, 2, 29, 23, 30, tzinfo=CET)),  # today's 23:30 is ahead: yesterday's
        ("00:05", datetime(2024, 3, 1, 0, 5, tzinfo=CET)),
        ("yesterday 21:15", datetime(2024, 2, 29, 21, 15, tzinfo=CET)),
        ("today 00:01", datetime(2024, 3, 1, 0, 1, tzinfo=CET)),
        ("2024-02-28 08:00", datetime(2024, 2, 28, 8, 0, tzinfo=CET)),
        ("2024-02-28T08:00:00Z", datetime(2024, 2, 28, 8, 0, tzinfo=timezone.utc)),
        ("2024-02-28T09:00:00+03:00", datetime(2024, 2, 28, 6, 0, tzinfo=timezone.utc)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2h ago", NOW - timedelta(hours=2)),
        ("-1d", NOW - timedelta(days=1)),
        ("90 min", NOW - timedelta(minutes=90)),
    ],
)
def test_times_people_type(text: str | None, expected: datetime) -> None:
    got = parse_when(text, NOW)
    assert got == expected
    assert got.tzinfo is not None


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("nonsense", "not a time I understand"),
        ("2024-02-28", "not a time I understand"),  # a date alone is not a moment
        ("25:00", "not a clock time"),
        ("12:61", "not a clock time"),
        ("2024-03-02 10:00", "in the future"),
        ("tomorrow 10:00", "not a time I understand"),
    ],
)
def test_bad_times_are_one_line_errors(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_when(text, NOW)
    msg = str(err.value)
    assert fragment in msg and "\n" not in msg
    assert "use" in msg or "future" in msg  # says what to do


def test_note_text_is_one_tidy_line() -> None:
    assert clean_text("  levodopa\n100 mg\t ") == "levodopa 100 mg"
    with pytest.raises(ValueError, match="empty"):
        clean_text(" \n ")
    with pytest.raises(ValueError, match="characters"):
        clean_text("x" * 501)


def test_entries_are_stored_by_wall_clock_and_listed_in_time_order(tmp_path: Path) -> None:
    with Store(tmp_path / "log.db") as store:
        assert store.version == schema_version() >= 3
        b = add_note(store, "argument at work", "stress", datetime(2024, 3, 1, 14, 0, tzinfo=CET))
        a = add_note(store, "levodopa 100 mg", "Medication", datetime(2024, 3, 1, 8, 0, tzinfo=CET))
        c = add_note(
            store, "slept badly", "sleep", datetime(2024, 3, 1, 6, 0, tzinfo=timezone.utc)
        )  # 07:00 CET
        with pytest.raises(ValueError, match="unknown"):
            add_note(store, "x", "coffee", NOW)
    with Store(tmp_path / "log.db", create=False) as store:  # durable: committed at once
        entries = list_notes(store)
        assert [e.id for e in entries] == [c.id, a.id, b.id]  # by instant, whatever the offset
        assert [e.kind for e in entries] == ["sleep", "medication", "stress"]
        assert entries[0].at == datetime(2024, 3, 1, 7, 0, tzinfo=CET)
        assert entries[0].at.utcoffset() == timedelta(0)  # the offset it was lived in is kept
        window = list_notes(
            store, datetime(2024, 3, 1, 7, 30, tzinfo=CET), datetime(2024, 3, 1, 14, 0, tzinfo=CET)
        )
        assert [e.text for e in window] == ["levodopa 100 mg"]  # [start, end)
        table = notes_table(entries)
        assert "levodopa 100 mg" in table and "2024-03-01 08:00" in table and "+0100" in table
    conn = sqlite3.connect(tmp_path / "log.db")
    cols = [r[1] for r in conn.execute("PRAGMA table_info(diary)")]
    assert cols == ["id", "at", "at_utc", "kind", "text", "created_at"]
    conn.close()


def test_naive_times_need_an_offset_in_the_store(tmp_path: Path) -> None:
    with Store(tmp_path / "log.db") as store, pytest.raises(ValueError, match="offset"):
        store.add_diary_entry(datetime(2024, 3, 1, 8, 0), "medication", "x")


def _cli(args: list[str]):  # noqa: ANN202
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_note_and_notes_commands(tmp_path: Path) -> None:
    db = str(tmp_path / "log.db")
    r = _cli(
        ["note", "levodopa 100 mg", "--kind", "medication", "--at", "2024-03-01 08:00+01:00", "--db", db]
    )
    assert r.exit_code == 0, r.output
    assert "noted #1 at 2024-03-01 08:00 +0100 (Fri 01 Mar 2024; medication): levodopa 100 mg" in r.output
    assert "no recording covers that time" in r.output and "outside recordings" in r.output
    r = _cli(["note", "felt tired", "--kind", "FATIGUE", "--at", "2024-03-02T18:30:00+01:00", "--db", db])
    assert r.exit_code == 0 and "; fatigue)" in r.output
    r = _cli(["notes", "--db", db])
    assert r.exit_code == 0 and "levodopa 100 mg" in r.output and "felt tired" in r.output
    r = _cli(["notes", "--db", db, "--format", "json", "--kind", "fatigue"])
    data = json.loads(r.output)
    assert data == [{"id": 2, "at": "2024-03-02T18:30:00+01:00", "kind": "fatigue", "text": "felt tired"}]
    r = _cli(["notes", "--db", db, "--format", "csv"])
    assert r.output.splitlines()[0] == "id,at,kind,text" and len(r.output.splitlines()) == 3


@pytest.mark.parametrize(
    "args, code, fragment",
    [
        (["note", "x", "--kind", "coffee"], 2, "'coffee' is not one of"),
        (["note", "x", "--at", "someday"], 1, "not a time I understand"),
        (["note", "   "], 1, "the note is empty"),
        (["notes", "--from", "2024-02-30"], 1, "YYYY-MM-DD"),
    ],
)
def test_note_errors_are_one_line_without_traceback(
    tmp_path: Path, args: list[str], code: int, fragment: str
) -> None:
    r = CliRunner().invoke(main, [*args, "--db", str(tmp_path / "log.db")])
    assert r.exit_code == code
    assert fragment in r.output
    assert "Traceback" not in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)


def test_notes_on_a_missing_log_says_what_to_do(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["notes", "--db", str(tmp_path / "none.db")])
    assert r.exit_code == 1 and "no episode log" in r.output and not (tmp_path / "none.db").exists()


def test_diary_entries_show_in_the_report(tmp_path: Path) -> None:
    with Store(tmp_path / "log.db") as store:
        sid = simulated_session(store, tmp_path / "rec", "rest_tremor", 90)
        start = session_start(store, sid)
        add_note(store, "levodopa 100 mg", "medication", start + timedelta(seconds=30))
        add_note(store, "argument <at> work & more", "stress", start + timedelta(seconds=70))
        add_note(store, "a week later", "other", start + timedelta(days=7))  # another day: not in this report
        add_note(store, "dose before the sensor went on", "medication", start - timedelta(minutes=40))
        out = build_report(store, tmp_path / "report.html", session_id=sid)
    html_text = out.read_text(encoding="utf-8")
    page = Page(html_text)
    diary = page.section("diary")
    assert "levodopa 100 mg" in diary and "argument <at> work & more" in diary  # escaped, shown as typed
    assert "&lt;at&gt;" in html_text and "<at>" not in html_text.replace("&lt;at&gt;", "")
    assert "a week later" not in page.text
    assert "dose before the sensor went on" in diary  # same day counts: doses before wear matter
    rows = page.tables.get("diary-table") or []
    assert [r[2] for r in rows[1:]] == ["medication", "medication", "stress"]
    assert [r[0] for r in rows[1:]] == ["1", "2", "3"]  # numbered in time order, as on the figures
    when = (start + timedelta(seconds=30)).strftime("%H:%M")
    assert f"2 {when} medication: levodopa 100 mg" in page.section("timeline")  # the day's caption
    assert len(DIARY_KINDS) == 7


def test_note_says_which_day_and_whether_a_recording_covers_it(tmp_path: Path) -> None:
    """`--at 08:30` typed just after midnight is yesterday's; `note` says so, and says when a
    recording covers the time."""
    from tremorscope.review.diary import covering_session, describe_day, recorded_spans

    now = datetime(2024, 3, 2, 0, 10, tzinfo=timezone(timedelta(hours=1)))
    at = parse_when("08:30", now=now)
    assert at == datetime(2024, 3, 1, 8, 30, tzinfo=now.tzinfo)
    assert describe_day(at, now) == "yesterday, Fri 01 Mar"
    assert describe_day(now, now) == "today"
    db = tmp_path / "log.db"
    with Store(db) as store:
        sid = simulated_session(store, tmp_path / "rec", "rest_tremor", 30)
        start = session_start(store, sid)
        spans = recorded_spans(store)
        assert covering_session(spans, start + timedelta(seconds=10)) == sid
        assert covering_session(spans, start - timedelta(minutes=1)) is None
    inside = (start + timedelta(seconds=10)).isoformat()
    r = _cli(["note", "took levodopa", "--kind", "medication", "--at", inside, "--db", str(db)])
    assert r.exit_code == 0 and f"during session {sid}" in r.output, r.output


def test_notes_outside_every_recording_are_listed_and_marked(tmp_path: Path) -> None:
    """A note on a day without any recording (yesterday's dose) is in the all-sessions report's
    diary and on a timeline of its own day, marked outside recordings; one during the recording
    is not marked."""
    with Store(tmp_path / "log.db") as store:
        sid = simulated_session(store, tmp_path / "rec", "rest_tremor", 60)
        start = session_start(store, sid)
        add_note(store, "during", "medication", start + timedelta(seconds=30))
        add_note(store, "yesterday's dose", "medication", start - timedelta(days=1))
        out = build_report(store, tmp_path / "report.html")
    page = Page(out.read_text(encoding="utf-8"))
    rows = page.tables["diary-table"]
    assert rows[0][-1] == "recording"
    assert [(r[3], r[4]) for r in rows[1:]] == [
        ("yesterday's dose", "outside recordings"),
        ("during", f"session {sid}"),
    ]
    timeline = page.section("timeline")
    day_before = (start - timedelta(days=1)).strftime("%A %d %B %Y")
    assert day_before in timeline  # the day without a recording has its own timeline
    assert "yesterday's dose (outside recordings)" in timeline and "during (outside" not in timeline
