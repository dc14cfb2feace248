"""The session runner: blocks -> detector -> log, and clean endings (end, signals, errors)."""

from __future__ import annotations

import os
import signal
import sqlite3
import time

import numpy as np
import pytest
from app_helpers import blocks_of, synth, write_rec

from dsp import StreamingDetector
from dsp.events import ENDED, EPISODE_COLUMNS, MINUTE, STARTED, Gap
from firmware_bridge.io.recording import RecordingError
from firmware_bridge.samples import SampleBlock
from tremorscope.session import SessionInfo, SessionRunner, replay_session
from tremorscope.store import Store


def _info(**kw) -> SessionInfo:
    base = dict(source="test-source", sample_rate_hz=100.0, placement="wrist", has_gyro=True)
    base.update(kw)
    return SessionInfo(**base)


def test_runner_logs_exactly_what_the_detector_reports(tmp_path):
    t, acc, gyro = synth(90.0, tremor=[(10.0, 40.0), (55.0, 75.0)])
    blocks = blocks_of(t, acc, gyro, 37)  # odd-sized, like radio packets
    seen = []

    def on_event(ev, runner):
        seen.append(ev)
        if ev.type == STARTED:  # the open episode is in the log while it runs
            live = runner.store.episodes(runner.session_id, with_open=True)
            row = live[live.episode_id == ev.episode.episode_id]
            assert len(row) == 1 and row.iloc[0]["open"] == 1

    with Store(tmp_path / "log.db") as st:
        result = SessionRunner(st, _info(), on_event=on_event).run(iter(blocks))
        logged = st.episodes(result.session_id, with_open=True)
        row = st.session(result.session_id)
        stored_t = np.concatenate([b.t for b in st.iter_samples(result.session_id)])
        st_minutes = st.minutes(result.session_id)

    reference = StreamingDetector(100.0, placement="wrist")
    for b in blocks:
        reference.push_block(b)
    reference.flush()
    expected = reference.episodes()

    assert result.status == "complete" and result.stopped_by is None
    assert result.samples == len(t) == row["samples"]
    assert np.array_equal(stored_t, t)
    assert row["t_start_s"] == 0.0 and row["t_end_s"] == t[-1]
    assert row["effective_rate_hz"] == pytest.approx(100.0)
    assert row["config_json"] and row["pid"] == os.getpid()
    assert (logged["open"] == 0).all()
    assert result.episodes == len(logged) == len(expected) >= 2
    for col in ("start_s", "end_s", "dominant_hz", "displacement_cm"):
        np.testing.assert_allclose(logged[col].to_numpy(float), expected[col].to_numpy(float))
    assert list(logged["severity"]) == list(expected["severity"])
    minutes = [e.minute for e in seen if e.type == MINUTE]
    assert len(minutes) >= 1  # 90 s of data: at least the first full minute is summarised
    logged_minutes = st_minutes
    assert len(logged_minutes) == len({m.minute_start_s for m in minutes})
    fracs = logged_minutes[[c for c in logged_minutes.columns if c.endswith("_frac")]]
    fracs = fracs.drop(columns=["contraction_frac"])
    np.testing.assert_allclose(fracs.sum(axis=1), 1.0, atol=1e-6)
    started = [e.episode.episode_id for e in seen if e.type == STARTED]
    ended = [e.episode.episode_id for e in seen if e.type == ENDED]
    assert sorted(started) == sorted(ended) == sorted(logged["episode_id"])


def test_source_error_mid_stream_closes_session_and_reraises(tmp_path):
    t, acc, gyro = synth(60.0, tremor=[(5.0, 60.0)])
    good = blocks_of(t, acc, gyro, 100)[:30]  # 30 s, tremor running at the error

    def source():
        yield from good
        raise RecordingError("rec.csv: line 3012: non-numeric value 'x' in acc_y; fix or delete the line")

    with Store(tmp_path / "log.db") as st:
        runner = SessionRunner(st, _info())
        with pytest.raises(RecordingError, match="line 3012"):
            runner.run(source())
        sid = runner.session_id
        row = st.session(sid)
        eps = st.episodes(sid, with_open=True)
        assert row["status"] == "interrupted" and "line 3012" in row["error"]
        assert row["samples"] == 3000 == st.sample_count(sid)
        assert row["ended_at"] is not None
        assert len(eps) == 1 and eps.iloc[0]["open"] == 0  # flushed: the episode was closed
        assert eps.iloc[0]["end_s"] <= 30.0


def test_keyboard_interrupt_ends_cleanly(tmp_path):
    t, acc, gyro = synth(40.0, tremor=[(5.0, 40.0)])

    def source():
        yield from blocks_of(t, acc, gyro, 100)[:20]
        raise KeyboardInterrupt

    with Store(tmp_path / "log.db") as st:
        result = SessionRunner(st, _info()).run(source())
        assert result.status == "interrupted" and result.stopped_by == "SIGINT"
        assert st.session(result.session_id)["status"] == "interrupted"
        assert result.samples == 2000
        # a live session ends with Ctrl-C as its normal stop: complete
        live = SessionRunner(st, _info(mode="live"), stop_status="complete").run(source())
        assert live.status == "complete" and st.session(live.session_id)["mode"] == "live"


def test_sigterm_stops_after_current_block_and_restores_handler(tmp_path):
    t, acc, gyro = synth(30.0, tremor=[(2.0, 30.0)])
    blocks = blocks_of(t, acc, gyro, 100)
    before = signal.getsignal(signal.SIGTERM)

    def source():
        for i, b in enumerate(blocks):
            if i == 10:
                os.kill(os.getpid(), signal.SIGTERM)
            yield b

    with Store(tmp_path / "log.db") as st:
        result = SessionRunner(st, _info()).run(source())
        assert result.stopped_by == "SIGTERM" and result.status == "interrupted"
        assert result.samples == 1100  # the block in hand when the signal came is kept
        assert (st.episodes(result.session_id, with_open=True)["open"] == 0).all()
    assert signal.getsignal(signal.SIGTERM) is before


def test_quiet_source_is_durable_within_a_second(tmp_path):
    """A live-like source that goes quiet: what it sent is committed without a new block."""
    db = tmp_path / "log.db"
    t, acc, gyro = synth(3.0, tremor=[])
    committed = []

    def source():
        yield SampleBlock(t[:250], acc[:250], gyro[:250])
        yield SampleBlock(np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3)))  # heartbeat
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:  # quiet: no blocks, and nobody calls commit
            conn = sqlite3.connect(db)
            n = conn.execute("SELECT COALESCE(sum(n), 0) FROM samples").fetchone()[0]
            s = conn.execute("SELECT samples FROM sessions").fetchone()[0]
            conn.close()
            if n == 250 and s == 250:
                committed.append(time.monotonic())
                break
            time.sleep(0.05)
        yield SampleBlock(t[250:], acc[250:], gyro[250:])

    with Store(db) as st:
        result = SessionRunner(st, _info()).run(source())
    assert committed, "samples from before the quiet spell were not committed"
    assert result.samples == len(t)


def test_replay_session_records_reader_counts_and_metadata(tmp_path):
    bad = {
        100: "1.005,,0.1,1.0,0,0,0",  # missing value: skipped
        200: "0.5,0.0,0.0,1.0,0,0,0",  # backwards time: skipped
        201: "0.6,0.0,0.0,1.0,0,0,0",
    }
    rec = write_rec(tmp_path / "r.csv.gz", duration_s=45.0, tremor=[(5.0, 35.0)], extra_lines=bad)
    with Store(tmp_path / "log.db") as st:
        result = replay_session(st, rec)
        row = st.session(result.session_id)
        eps = st.episodes(result.session_id)
    assert result.skipped_missing == 1 and result.skipped_time == 2
    assert row["skipped_missing"] == 1 and row["skipped_time"] == 2
    assert row["samples"] == 4500 and row["has_gyro"] == 1
    assert row["placement"] == "wrist" and row["sample_rate_hz"] == 100.0
    assert row["start_time"].startswith("2024-03-01T09:00:00")
    assert row["source"] == str(rec.resolve()) and row["mode"] == "replay"
    assert list(eps.columns) == list(EPISODE_COLUMNS)
    assert len(eps) >= 1
    first = eps.iloc[0]
    assert 4.0 <= first["start_s"] <= 7.0 and first["dominant_hz"] == pytest.approx(5.0, abs=0.5)
    assert first["start_time"].startswith("2024-03-01T09:00:0")


def test_replay_placement_override_and_accelerometer_only(tmp_path):
    rec = write_rec(tmp_path / "acc.csv", duration_s=20.0, gyro=False, placement=None, tremor=[])
    with Store(tmp_path / "log.db") as st:
        r1 = replay_session(st, rec)
        r2 = replay_session(st, rec, placement="Neck")
        assert st.session(r1.session_id)["placement"] == "wrist"  # default
        assert st.session(r2.session_id)["placement"] == "neck"
        assert st.session(r1.session_id)["has_gyro"] == 0
        assert all(b.gyro is None for b in st.iter_samples(r1.session_id))


def test_replay_error_mid_file_keeps_what_came_before(tmp_path):
    # the reader parses 100 000-row chunks: put the bad line past the first one
    rec = write_rec(tmp_path / "long.csv", duration_s=1100.0, tremor=[(10.0, 60.0)],
                    extra_lines={105_000: "1050.005,0.1,abc,1.0,0,0,0"})  # fmt: skip
    with Store(tmp_path / "log.db") as st:
        with pytest.raises(RecordingError, match="line"):
            replay_session(st, rec)
        sid = st.latest_session_id()
        row = st.session(sid)
        assert row["status"] == "interrupted" and row["error"]
        # everything the replay delivered before the bad line is kept (it holds back at most
        # one partial 1 s block when the reader fails)
        assert 99_000 <= row["samples"] <= 105_000
        assert st.sample_count(sid) == row["samples"]
        assert len(st.episodes(sid)) >= 1


def test_replay_bad_file_creates_no_session(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("# sample_rate_hz: 100\ntime,ax,ay,az\n0,0,0,1\n")
    with Store(tmp_path / "log.db") as st:
        with pytest.raises(RecordingError):
            replay_session(st, bad)
        assert st.latest_session_id() is None


def test_reanalysis_style_run_hooks_and_no_raw_copy(tmp_path):
    """on_block sees every block (heartbeats too); store_raw=False re-analyses stored samples."""
    t, acc, gyro = synth(40.0, tremor=[(5.0, 30.0)])
    empty = SampleBlock(np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3)))
    calls = []

    def on_block(runner):
        calls.append(runner.samples)
        if len(calls) == 3:  # what a live source does with a link gap it measured
            runner.store.add_gap(runner.session_id, Gap(1.0, 1.6), origin="bridge")

    with Store(tmp_path / "log.db") as st:
        first = SessionRunner(st, _info(), on_block=on_block).run(
            [empty, *blocks_of(t, acc, gyro, 500), empty]
        )
        assert calls == [0, *range(500, 4001, 500), 4000]
        assert st.session(first.session_id)["gaps"] == 0  # a bridge gap is not a detector gap
        assert list(st.gaps(first.session_id)["origin"]) == ["bridge"]

        info = _info(mode="reanalysis", source=f"session {first.session_id}",
                     parent_session_id=first.session_id)  # fmt: skip
        again = SessionRunner(st, info, store_raw=False).run(st.iter_samples(first.session_id))
        row = st.session(again.session_id)
        assert row["samples"] == 4000 and st.sample_count(again.session_id) == 0
        assert row["parent_session_id"] == first.session_id and row["mode"] == "reanalysis"
        a = st.episodes(first.session_id)
        b = st.episodes(again.session_id)
        assert len(a) == len(b) >= 1
        np.testing.assert_allclose(a["start_s"], b["start_s"])


def test_gaps_reported_by_the_detector_are_logged_with_totals(tmp_path):
    t, acc, gyro = synth(60.0, tremor=[])
    keep = (t < 20.0) | (t >= 23.0)  # 3 s of lost packets
    with Store(tmp_path / "log.db") as st:
        result = SessionRunner(st, _info()).run(blocks_of(t[keep], acc[keep], gyro[keep], 100))
        gaps = st.gaps(result.session_id)
        row = st.session(result.session_id)
    assert len(gaps) == 1 == row["gaps"] == result.gaps
    assert gaps.iloc[0]["start_s"] == pytest.approx(20.0, abs=0.05)
    assert gaps.iloc[0]["end_s"] == pytest.approx(23.0, abs=0.05)
    assert row["gap_s"] == pytest.approx(3.0, abs=0.1)
    assert row["effective_rate_hz"] == pytest.approx(100.0 * 57 / 60, rel=0.01)
