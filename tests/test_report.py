"""The clinician report's content and structure, checked without a browser."""

from __future__ import annotations

import base64
import os
import re
import stat
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from review_helpers import Page, bench_module, png_size, session_start, simulated_session

from dsp.events import SEVERITY_CLASSES, Episode
from tremorscope.cli import main
from tremorscope.reanalysis import reanalyze
from tremorscope.review.diary import add_note
from tremorscope.review.report import SECTIONS, ReportError, build_report, collect, overview
from tremorscope.store import Store

CET = timezone(timedelta(hours=1))


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str]:
    """A 4-minute simulated wrist session with tremor, packet counters, a contraction, diary."""
    tmp = tmp_path_factory.mktemp("report-single")
    db = tmp / "log.db"
    with Store(db) as store:
        sid = simulated_session(store, tmp / "rec", "daily_mix", 240, seed=1)
        store.update_session(sid, dropped=17, malformed=3)
        row = store.session(sid)
        assert row is not None
        start = session_start(store, sid)
        # a contraction episode as the live detector logs it (the wrist needs a calibrated
        # neutral for its own contractions; the report only reads the log)
        store.upsert_episode(
            sid,
            Episode(
                900,
                "contraction",
                row["t_start_s"] + 100,
                row["t_start_s"] + 160,
                row["t_start_s"] + 103,
                (start + timedelta(seconds=100)).isoformat(),
                peak_angle_deg=42.0,
                mean_angle_deg=30.0,
                direction="flexion",
                onset_speed_dps=55.0,
                co_contraction=0.4,
            ),
            open=False,
        )
        store.commit()
        add_note(store, "levodopa 100 mg", "medication", start + timedelta(seconds=20))
        out = build_report(store, tmp / "report.html", session_id=sid)
    return db, sid, out.read_text(encoding="utf-8")


def test_every_section_is_there_in_order(single: tuple[Path, int, str]) -> None:
    _, _, text = single
    page = Page(text)
    ids = [a["id"] for a in page.all("section")]
    assert ids == [sid for sid, _ in SECTIONS]
    nav = [a["href"] for a in page.all("a") if a.get("href", "").startswith("#")]
    assert nav == [f"#{sid}" for sid, _ in SECTIONS]
    for _, title in SECTIONS:
        assert title in page.text
    assert page.all("html")[0]["lang"] == "en" and page.all("meta")[0] == {"charset": "utf-8"}


def test_self_contained_no_network_no_external_assets(single: tuple[Path, int, str]) -> None:
    _, _, text = single
    page = Page(text)
    assert not page.all("link") and not page.all("iframe") and not page.all("object")
    assert all("src" not in a for a in page.all("script"))  # inline only
    for tag, attrs in page.tags:
        for key in ("src", "href", "action", "poster", "srcset"):
            value = attrs.get(key)
            if value is not None:
                assert value.startswith(("data:image/png;base64,", "#")), (tag, key, value[:60])
    assert "url(" not in text and "@import" not in text
    assert not re.search(r"(?i)\b(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text.replace("http-equiv", ""))
    csp = [a for a in page.all("meta") if a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0]["content"] and "img-src data:" in csp[0]["content"]


def test_images_are_valid_pngs_of_the_declared_size(single: tuple[Path, int, str]) -> None:
    _, _, text = single
    imgs = Page(text).all("img")
    # overview glance map is skipped for a 4-minute session; one day, distributions, trends, dose
    assert len(imgs) == 4
    for img in imgs:
        data = base64.b64decode(img["src"].split(",", 1)[1], validate=True)
        w, h = png_size(data)
        assert (w, h) == (int(img["width"]), int(img["height"])) and w >= 500 and h >= 200
        assert img["alt"]


def test_overview_numbers_match_the_log(single: tuple[Path, int, str]) -> None:
    db, sid, text = single
    page = Page(text)
    with Store(db, create=False) as store:
        minutes = store.minutes(sid)
        episodes = store.episodes(sid)
        row = store.session(sid)
        data = collect(store, session_id=sid)
    ov = overview(data)
    assessable = float(((1 - minutes["unknown_frac"]) * 60).sum())
    tremor = float(sum(minutes[f"{c}_frac"].sum() for c in SEVERITY_CLASSES if c != "none") * 60)
    assert ov.assessable_s == pytest.approx(assessable)
    assert ov.tremor_s == pytest.approx(tremor)
    assert ov.recording_s == pytest.approx(row["t_end_s"] - row["t_start_s"])
    assert f"{tremor / assessable * 100:.1f} %" in page.section("overview")
    n_tremor = int((episodes["kind"] == "tremor").sum())
    assert n_tremor >= 1
    assert f"Tremor episodes: {n_tremor}" in page.section("overview")
    con = episodes[episodes["kind"] == "contraction"]
    assert 900 in set(con.episode_id)  # the one logged by hand (the others: uncalibrated spasms)
    assert ov.contraction_episodes == len(con)
    assert ov.top_direction == con.direction.value_counts().index[0]
    wear_h = ov.wear_s / 3600
    assert f"{len(con) / wear_h:.2f} per hour" in page.section("overview")
    assert "Contractions found: " in page.section("overview")
    band = episodes[episodes["kind"] == "tremor"].groupby("band")["duration_s"].sum().idxmax()
    assert ov.band == band and band in page.section("overview")
    classes = page.tables["class-table"]
    assert [r[0] for r in classes[1:]] == [*SEVERITY_CLASSES, "cannot judge"]


def test_episode_table_lists_every_episode_with_local_clock_times(single: tuple[Path, int, str]) -> None:
    db, sid, text = single
    page = Page(text)
    with Store(db, create=False) as store:
        episodes = store.episodes(sid)
        start = session_start(store, sid)
        t0 = store.session(sid)["t_start_s"]
    tremor, contraction = page.tables["tremor-table"], page.tables["contraction-table"]
    assert len(tremor) - 1 == (episodes["kind"] == "tremor").sum() >= 1
    assert len(contraction) - 1 == (episodes["kind"] == "contraction").sum() >= 1
    starts = [r[2] for r in tremor[1:] + contraction[1:]]
    for ep in episodes.itertuples():
        clock = start + timedelta(seconds=ep.start_s - t0)
        assert clock.strftime("%d %b %H:%M:%S") in starts
    for tid in ("tremor-table", "contraction-table"):
        keys = [float(row[2]["data-sort"]) for row in page.cell_attrs[tid]]
        assert keys == sorted(keys)  # time order without JavaScript
        assert "sortable" in page.ids[tid]["class"]
    head = contraction[0]
    rows = [dict(zip(head, r, strict=True)) for r in contraction[1:]]
    logged = [r for r in rows if r["#"] == "900"]  # the fixture's own contraction
    assert len(logged) == 1 and logged[0]["direction"] == "flexion" and logged[0]["peak angle deg"] == "42"
    assert logged[0]["co-contraction g"] == "0.4"
    assert "co-contraction g" in head and "severity" not in head and "direction" not in tremor[0]


def test_data_quality_shows_packets_rate_and_gaps(single: tuple[Path, int, str]) -> None:
    db, sid, text = single
    page = Page(text)
    quality = page.tables["quality-table"]
    assert len(quality) == 2
    cells = dict(zip(quality[0], quality[1], strict=True))
    assert cells["packets dropped / malformed"] == "17 / 3"
    with Store(db, create=False) as store:
        row = store.session(sid)
    assert cells["rate Hz nominal / effective"] == f"100 / {row['effective_rate_hz']:.2f}"
    assert cells["gyro"] == "yes" and "complete" in cells["status"]
    assert "without a gyroscope" not in page.section("quality")


def test_accelerometer_only_limits_and_gaps_are_reported(tmp_path: Path) -> None:
    with Store(tmp_path / "log.db") as store:
        sid = simulated_session(store, tmp_path / "rec", "gaps", 120, gyro=False)
        gaps = store.gaps(sid)
        out = build_report(store, tmp_path / "r.html", session_id=sid)
    page = Page(out.read_text(encoding="utf-8"))
    assert len(gaps) >= 1
    quality = page.section("quality")
    assert "recorded without a gyroscope" in quality and "torticollis" in quality
    gap_rows = page.tables["gap-table"][1:]
    assert len(gap_rows) == len(gaps)
    assert (
        dict(zip(page.tables["quality-table"][0], page.tables["quality-table"][1], strict=True))["gyro"]
        == "no"
    )


def test_week_of_data_gives_day_timelines_trends_and_wearing_off(tmp_path: Path) -> None:
    bench = bench_module()
    with Store(tmp_path / "log.db") as store:
        bench.make_week(store, days=3, start=datetime(2024, 3, 4, tzinfo=CET))
        out = build_report(store, tmp_path / "week.html")
        ranged = build_report(
            store, tmp_path / "day2.html", date_from=date(2024, 3, 5), date_to=date(2024, 3, 5)
        )
    page = Page(out.read_text(encoding="utf-8"))
    days = [a for a in page.all("figure") if a.get("class") == "day"]
    assert [d["id"] for d in days] == [f"day-d{n}" for n in (19786, 19787, 19788)]  # days since 1970, local
    assert "Monday 04 March 2024" in page.section("timeline") and "Wednesday 06 March 2024" in page.section(
        "timeline"
    )
    daily = page.tables["daily-table"]
    assert [r[0] for r in daily[1:]] == [
        "Monday 04 March 2024",
        "Tuesday 05 March 2024",
        "Wednesday 06 March 2024",
    ]
    assert "botox: botulinum toxin" in page.section("timeline")
    alts = [a["alt"] for a in page.all("img")]
    assert any("days by hours" in a for a in alts)  # at a glance
    assert any("tremor after a dose" in a for a in alts)  # wearing-off
    assert any("per hour" in a for a in alts)  # hourly trend
    assert "times in UTC+01:00" in page.text
    one = Page(ranged.read_text(encoding="utf-8"))
    assert [a["id"] for a in one.all("figure") if a.get("class") == "day"] == ["day-d19787"]
    assert [r[0] for r in one.tables["daily-table"][1:]] == ["Tuesday 05 March 2024"]
    assert "Monday" not in one.section("diary") and "Tue 05 Mar 2024 07:30" in one.section("diary")


def test_wearing_off_curve_follows_the_doses(tmp_path: Path) -> None:
    """The synthetic week's tremor rises from 2.5 h after each dose: the curve must show it."""
    from tremorscope.review.report import dose_response

    bench = bench_module()
    with Store(tmp_path / "log.db") as store:
        bench.make_week(store, days=2)
        data = collect(store)
    edges, mean, count, overall, doses = dose_response(data)
    assert doses == 6
    early = mean[(edges[:-1] >= 0.5) & (edges[:-1] < 2.0)]
    late = mean[(edges[:-1] >= 4.0) & (edges[:-1] < 5.0)]
    assert np.nanmean(late) > 3 * np.nanmean(early)
    assert count.sum() > 0 and 0 < overall < 100


def test_session_without_clock_is_shown_by_time_from_start(tmp_path: Path) -> None:
    with Store(tmp_path / "log.db") as store:
        sid = simulated_session(store, tmp_path / "rec", "rest_tremor", 90, start_time=None)
        out = build_report(store, tmp_path / "r.html", session_id=sid)
        n = len(store.episodes(sid))
        with pytest.raises(ReportError, match="no start time|no recordings"):
            build_report(store, tmp_path / "r2.html", date_from=date(2024, 1, 1))
    page = Page(out.read_text(encoding="utf-8"))
    assert "no clock time" in page.section("timeline")
    starts = [r[2] for t in ("tremor-table", "contraction-table") for r in page.tables.get(t, [[]])[1:]]
    assert len(starts) == n and all(s.startswith("+") for s in starts)
    assert "Trends need recordings with a start time" in page.section("trends")


def test_reanalysis_and_duplicates_are_kept_apart(tmp_path: Path) -> None:
    rec_dir = tmp_path / "rec"
    with Store(tmp_path / "log.db") as store:
        sid = simulated_session(store, rec_dir, "rest_tremor", 60)
        rec = next(rec_dir.glob("*.csv.gz"))
        from tremorscope.session import replay_session

        again = replay_session(store, rec).session_id  # the same recording replayed twice
        new = reanalyze(store, again, overrides={"min_rms_g": 0.5, "min_rms_dps": 500.0}).session_id
        data = collect(store)
        assert [s.id for s in data.sessions] == [again]
        assert any("same recording as session" in n for n in data.notes)
        assert any("re-analysis" in n for n in data.notes)
        out = build_report(store, tmp_path / "re.html", session_id=new)
    page = Page(out.read_text(encoding="utf-8"))
    assert f"re-analyses session {again}" in page.section("method")
    assert "min_rms_g 0.005 → 0.5" in page.section("method")
    assert "No episodes detected" in page.section("episodes")
    assert sid != again


def test_report_command_writes_a_private_file_and_reports_errors(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    with Store(db) as store:
        simulated_session(store, tmp_path / "rec", "rest_tremor", 60)
        failed = store.begin_session("a recording that failed before its first sample", sample_rate_hz=100.0)
        store.finish_session(failed, "interrupted", error="bad header")
        assert [s.id for s in collect(store).sessions] == [1]  # nothing to show for the failed one
    out = tmp_path / "r.html"
    r = CliRunner().invoke(main, ["report", "--db", str(db), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert r.output.strip() == f"wrote {out}"
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600  # health data
    for args, fragment in [
        (["--from", "2030-01-01"], "no recordings from 2030-01-01"),
        (["--from", "2024-03-05", "--to", "2024-03-01"], "before --from"),
        (["--session", "1", "--from", "2024-03-01"], "either --session or --from"),
        (["--session", "7"], "no session 7"),
        (["--from", "March"], "YYYY-MM-DD"),
    ]:
        r = CliRunner().invoke(main, ["report", "--db", str(db), "--out", str(tmp_path / "x.html"), *args])
        assert r.exit_code == 1 and fragment in r.output and "Traceback" not in r.output, (args, r.output)
    r = CliRunner().invoke(main, ["report", "--db", str(db), "--out", str(tmp_path)])
    assert r.exit_code == 1 and "is a folder" in r.output
    r = CliRunner().invoke(main, ["report", "--db", str(db)])
    assert r.exit_code == 2 and "--out" in r.output
    empty = tmp_path / "empty.db"
    Store(empty).close()
    r = CliRunner().invoke(main, ["report", "--db", str(empty), "--out", str(tmp_path / "e.html")])
    assert r.exit_code == 1 and "no recorded samples yet" in r.output


def test_trends_show_recorded_days_only_with_the_break_marked(tmp_path: Path) -> None:
    """Two sessions seven months apart: two recorded days side by side, not 200 empty ones."""
    from tremorscope.review.summaries import trend_series

    with Store(tmp_path / "log.db") as store:
        simulated_session(store, tmp_path / "rec", "rest_tremor", 60, start_time="2026-03-02T09:00:00+01:00")
        simulated_session(
            store, tmp_path / "rec", "rest_tremor", 60, seed=4, start_time="2026-10-05T10:00:00+01:00"
        )
        data = collect(store)
    trend = trend_series(data)
    assert trend is not None and trend.resolution == "hour"
    assert [lab for _, lab in trend.day_labels] == ["Mon 02 Mar 2026", "Mon 05 Oct"]
    assert trend.edges[-1] == 2.0 and len(trend.edges) == 2 * 24 + 1
    assert trend.breaks == [(1.0, (date(2026, 10, 5) - date(2026, 3, 2)).days - 1)]
    filled = np.isfinite(trend.tremor["slight"])
    assert filled[9] and filled[24 + 10] and filled.sum() == 2  # 09:00 on slot 0, 10:00 on slot 1


def test_glance_colour_bars_are_wide_and_tremor_colours_are_not_severity_colours() -> None:
    from matplotlib.colors import to_rgb
    from matplotlib.image import imread

    from tremorscope.review import plots

    png = plots.glance_png(["Mon 02 Mar", "Tue 03 Mar"], np.zeros((2, 96)), np.zeros((2, 96)), [])
    import io

    img = imread(io.BytesIO(png))[:, :, :3]
    top = np.array(to_rgb(plots.GLANCE_TREMOR_RAMP[-1]))  # the bar's top; the maps stay at 0 %
    cols = np.flatnonzero((np.abs(img - top).max(axis=2) < 0.04).any(axis=0))
    assert cols.size >= 12 and np.ptp(cols) == cols.size - 1, cols  # one bar, at least 12 px wide
    for ramp_colour in plots.GLANCE_TREMOR_RAMP[1:]:
        for sev in plots.SEVERITY_COLORS.values():
            d = np.abs(np.array(to_rgb(ramp_colour)) - np.array(to_rgb(sev))).sum()
            assert d > 0.6, (ramp_colour, sev)
