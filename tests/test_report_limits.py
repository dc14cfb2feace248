"""The report's Data quality section: each session's own limits and whether its neutral was calibrated.

Checked on the HTML structure (no browser): the quality table's calibration column and the
list of what the data cannot show, one item per distinct limit naming its sessions.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from calibration_helpers import write_posture_rec
from review_helpers import Page

from tremorscope.reanalysis import reanalyze
from tremorscope.review.report import ACC_ONLY_LIMITS, build_report, neutral_text, session_limits
from tremorscope.session import replay_session
from tremorscope.store import Store


class Items(HTMLParser):
    """The ``<li>`` items of the element with id ``limits-list``: (attributes, text)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[tuple[dict[str, str], str]] = []
        self._in_list = False
        self._li: tuple[dict[str, str], list[str]] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "ul" and a.get("id") == "limits-list":
            self._in_list = True
        elif tag == "li" and self._in_list:
            self._li = (a, [])

    def handle_endtag(self, tag: str) -> None:
        if tag == "li" and self._li is not None:
            self.items.append((self._li[0], " ".join("".join(self._li[1]).split())))
            self._li = None
        elif tag == "ul":
            self._in_list = False

    def handle_data(self, data: str) -> None:
        if self._li is not None:
            self._li[1].append(data)


def quality_rows(page: Page) -> dict[str, dict[str, str]]:
    """Quality-table rows by session id."""
    head, *rows = page.tables["quality-table"]
    return {r[0].split()[0]: dict(zip(head, r, strict=True)) for r in rows}


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """Five sessions: calibrated neck, two uncalibrated wrists, a calibrated accelerometer-only
    neck, and an accelerometer-only session logged before sessions stored their limits."""
    tmp = tmp_path_factory.mktemp("report-limits")
    ids: dict[str, int] = {}
    with Store(tmp / "log.db") as st:
        neck = write_posture_rec(tmp / "neck.csv", 40.0)
        ids["neck"] = replay_session(st, neck, calibrate_s=5.0).session_id
        for i, name in enumerate(("wrist_a", "wrist_b")):
            rec = write_posture_rec(tmp / f"{name}.csv", 30.0 + 5 * i, placement="wrist", device=f"imu-{i}")
            ids[name] = replay_session(st, rec).session_id
        acc = write_posture_rec(tmp / "acc.csv", 30.0, gyro=False, device="acc-imu")
        ids["acc"] = replay_session(st, acc, calibrate_s=3.0).session_id
        old = write_posture_rec(tmp / "old.csv", 25.0, gyro=False, device="old-imu")
        ids["old"] = replay_session(st, old).session_id
        # as an older version logged it: no posture facts in extra_json
        ex = json.loads(st.session(ids["old"])["extra_json"])
        for key in ("limits", "calibrated", "neutral_g", "neutral_from"):
            ex.pop(key, None)
        st.update_session(ids["old"], extra_json=ex)
        st.commit()
    return tmp / "log.db", ids


def test_quality_table_says_per_session_whether_the_neutral_was_calibrated(log, tmp_path: Path) -> None:
    db, ids = log
    with Store(db) as st:
        page = Page(build_report(st, tmp_path / "r.html").read_text(encoding="utf-8"))
    rows = quality_rows(page)
    assert set(rows) == {str(i) for i in ids.values()}
    col = "neutral posture calibrated"
    assert rows[str(ids["neck"])][col] == "yes: measured over the first 5 s"
    assert rows[str(ids["acc"])][col] == "yes: measured over the first 3 s"
    assert rows[str(ids["wrist_a"])][col].startswith("no")
    assert rows[str(ids["wrist_b"])][col].startswith("no")
    assert rows[str(ids["old"])][col] == "not recorded"
    assert "calibrated neutral posture was measured while the person held still" in page.section("quality")


def test_each_distinct_limit_is_listed_once_with_its_sessions(log, tmp_path: Path) -> None:
    db, ids = log
    with Store(db) as st:
        stored = {k: json.loads(st.session(v)["extra_json"]).get("limits") for k, v in ids.items()}
        text = build_report(st, tmp_path / "r.html").read_text(encoding="utf-8")
    items = Items(text).items
    by_sessions = {a["data-sessions"]: t for a, t in items}
    assert len(items) == len(by_sessions) == 3, items
    # the two wrists share the detector's own words about uncalibrated limbs
    wrist = by_sessions[f"{ids['wrist_a']} {ids['wrist_b']}"]
    assert stored["wrist_a"] == stored["wrist_b"] and len(stored["wrist_a"]) == 1
    assert wrist == f"{stored['wrist_a'][0]} — session(s) {ids['wrist_a']}, {ids['wrist_b']}"
    assert wrist.startswith("wrist: without a calibrated neutral only spasms")
    # the accelerometer-only session carries its own limit, not the hard-coded text
    acc = by_sessions[str(ids["acc"])]
    assert stored["acc"] and acc == f"{stored['acc'][0]} — session(s) {ids['acc']}"
    assert acc != f"{ACC_ONLY_LIMITS} — session(s) {ids['acc']}"
    # the calibrated neck with a gyroscope has no limit at all
    assert stored["neck"] == [] and not any(str(ids["neck"]) in k.split() for k in by_sessions)
    # the older session without the key falls back to the hard-coded text
    assert by_sessions[str(ids["old"])] == f"{ACC_ONLY_LIMITS} — session(s) {ids['old']}"
    quality = Page(text).section("quality")
    assert f"Session(s) {ids['acc']}, {ids['old']} recorded without a gyroscope" in quality


def test_a_single_session_report_lists_only_its_own_limits(log, tmp_path: Path) -> None:
    db, ids = log
    with Store(db) as st:
        neck = build_report(st, tmp_path / "neck.html", session_id=ids["neck"]).read_text(encoding="utf-8")
        wrist = build_report(st, tmp_path / "w.html", session_id=ids["wrist_b"]).read_text(encoding="utf-8")
    assert Items(neck).items == [] and 'id="limits-list"' not in neck
    [(attrs, item)] = Items(wrist).items
    assert attrs["data-sessions"] == str(ids["wrist_b"]) and "calibrated neutral" in item


def test_a_reanalysis_says_it_used_its_parents_neutral(log, tmp_path: Path) -> None:
    db, ids = log
    with Store(db) as st:
        new = reanalyze(st, ids["neck"]).session_id
        page = Page(build_report(st, tmp_path / "re.html", session_id=new).read_text(encoding="utf-8"))
    assert quality_rows(page)[str(new)]["neutral posture calibrated"] == f"yes: as session {ids['neck']}"


def test_neutral_text_and_limits_from_extra_json() -> None:
    def row(extra: object, **cols: object) -> dict:
        return {"extra_json": json.dumps(extra), **cols}

    assert neutral_text(row({"calibrated": True, "neutral_from": "stored", "calibration_id": 4})) == (
        "yes: stored calibration 4"
    )
    assert (
        neutral_text(row({"calibrated": False, "neutral_g": [0, 0, 1]})) == "no: learned from quiet posture"
    )
    assert neutral_text(row({"calibrated": False, "neutral_g": None})) == "no"
    assert neutral_text({"extra_json": "not json"}) == "not recorded"
    assert session_limits(row({"limits": []}, has_gyro=0)) == []  # the session's own word wins
    assert session_limits(row({"limits": ["x: y"]}, has_gyro=1)) == ["x: y"]
    assert session_limits(row({}, has_gyro=0)) == [ACC_ONLY_LIMITS]
    assert session_limits(row({}, has_gyro=1)) == []
