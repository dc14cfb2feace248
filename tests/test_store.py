"""The episode log: schema, WAL, private files, migrations, upserts, raw chunks, crash safety."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from app_helpers import isolated_env, tremorscope_cmd, write_rec
from hypothesis import given, settings
from hypothesis import strategies as st_
from hypothesis.extra.numpy import arrays

from dsp.events import EPISODE_COLUMNS, MINUTE_COLUMNS, Episode, Gap, MinuteSummary
from firmware_bridge.samples import SampleBlock
from tremorscope.store import (
    APPLICATION_ID,
    Store,
    StoreError,
    decode_chunk,
    encode_chunk,
    migrate,
    schema_version,
)
from tremorscope.store import schema as store_mod


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def permissive_umask():
    """Run with umask 0 so only the store's own care can make the files private."""
    old = os.umask(0)
    yield
    os.umask(old)


# --------------------------------------------------------------------------- schema


def test_schema_wal_version_and_identity(tmp_path):
    with Store(tmp_path / "log.db") as st:
        c = st.conn
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"sessions", "episodes", "minutes", "gaps", "samples"} <= tables
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert c.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert c.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert st.version == schema_version() == len(store_mod.MIGRATIONS) >= 2
        assert c.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        ep_cols = [r[1] for r in c.execute("PRAGMA table_info(episodes)")]
        # migrations append columns after the bookkeeping ones: every episode column is there, in order
        assert [col for col in ep_cols if col in EPISODE_COLUMNS] == list(EPISODE_COLUMNS)
        assert "open" in ep_cols
        min_cols = {r[1] for r in c.execute("PRAGMA table_info(minutes)")}
        assert set(MINUTE_COLUMNS) | {"session_id"} <= min_cols
        sess_cols = {r[1] for r in c.execute("PRAGMA table_info(sessions)")}
        for col in (
            "source", "device", "placement", "sample_rate_hz", "has_gyro", "start_time",
            "started_at", "ended_at", "t_start_s", "t_end_s", "samples", "gaps", "gap_s",
            "skipped_missing", "skipped_time", "status", "config_json", "extra_json", "pid",
        ):  # fmt: skip
            assert col in sess_cols


def test_files_are_owner_only_and_new_folder_private(tmp_path, permissive_umask):
    db = tmp_path / "new" / "deeper" / "log.db"
    st = Store(db)
    sid = st.begin_session("x.csv")
    st.add_samples(sid, SampleBlock(np.arange(10.0), np.ones((10, 3))))
    st.commit()
    # while open, the WAL companions exist and must be private too
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(db) + suffix)
        assert p.exists(), suffix
        assert _mode(p) == 0o600, (suffix, oct(_mode(p)))
    assert _mode(db.parent) == 0o700
    assert _mode(db.parent.parent) == 0o700
    st.close()
    # reopening (companions re-created) keeps them private
    with Store(db) as st2:
        st2.update_session(sid, notes="x")
        st2.commit()
        for suffix in ("-wal", "-shm"):
            assert _mode(Path(str(db) + suffix)) == 0o600


def test_existing_folder_is_left_alone(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    with Store(folder / "log.db"):
        pass
    assert _mode(folder) == 0o755
    assert _mode(folder / "log.db") == 0o600


def test_contract_columns_without_migration_refused(tmp_path, monkeypatch):
    Store(tmp_path / "log.db").close()
    monkeypatch.setattr(store_mod, "EPISODE_COLUMNS", (*EPISODE_COLUMNS, "tremor_new_thing"))
    with pytest.raises(StoreError, match="tremor_new_thing.*migration"):
        Store(tmp_path / "log.db")


# --------------------------------------------------------------------------- migrations


def test_older_version_file_is_migrated_and_data_kept(tmp_path):
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    assert migrate(conn, target=1) == 1
    conn.execute(
        "INSERT INTO sessions (source, started_at, status, samples) "
        "VALUES ('old.csv', '2024-01-01T10:00:00+00:00', 'complete', 123)"
    )
    conn.execute(
        "INSERT INTO episodes (session_id, episode_id, kind, start_s, end_s, duration_s, "
        "detected_at_s, dominant_hz, severity) VALUES (1, 1, 'tremor', 5, 9, 4, 7, 5.5, 'mild')"
    )
    conn.close()
    with Store(db) as st:
        assert st.version == schema_version()
        row = st.session(1)
        assert row["source"] == "old.csv" and row["samples"] == 123 and row["status"] == "complete"
        assert row["dropped"] == 0 and row["malformed"] == 0 and row["pid"] is None
        eps = st.episodes()
        assert len(eps) == 1 and eps.iloc[0]["dominant_hz"] == 5.5 and eps.iloc[0]["severity"] == "mild"


def test_failed_migration_rolls_back(tmp_path, monkeypatch):
    db = tmp_path / "log.db"
    Store(db).close()
    current = schema_version()

    def broken(conn):
        conn.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("migration bug")

    monkeypatch.setattr(store_mod, "MIGRATIONS", [*store_mod.MIGRATIONS, broken])
    with pytest.raises(RuntimeError, match="migration bug"):
        Store(db)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == current
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name='half_done'").fetchone()[0] == 0
    conn.close()


def test_newer_schema_refused(tmp_path):
    db = tmp_path / "log.db"
    Store(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {schema_version() + 5}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer tremorscope"):
        Store(db)


def test_not_a_log_refused_and_untouched(tmp_path):
    junk = tmp_path / "notes.db"
    junk.write_bytes(b"this is not sqlite at all\n" * 100)
    before = junk.read_bytes()
    with pytest.raises(StoreError, match=r"notes\.db.*--db"):
        Store(junk)
    assert junk.read_bytes() == before

    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="another program"):
        Store(other)

    with pytest.raises(StoreError, match="folder"):
        Store(tmp_path)
    with pytest.raises(StoreError, match="no episode log"):
        Store(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()


# --------------------------------------------------------------------------- episodes, minutes, gaps


def _episode(end_s: float, **kw) -> Episode:
    base = dict(
        episode_id=1, kind="tremor", start_s=10.0, end_s=end_s, detected_at_s=11.5,
        start_time="2024-03-01T09:00:10+01:00", dominant_hz=5.2, band="5-8 Hz", stability=0.3,
        amplitude_g=0.05, amplitude_dps=20.0, displacement_cm=0.05, severity="slight",
        context="rest",
    )  # fmt: skip
    base.update(kw)
    return Episode(**base)


def test_episode_upsert_open_then_ended_visible_to_readers(tmp_path):
    db = tmp_path / "log.db"
    st = Store(db)
    sid = st.begin_session("rec.csv")
    st.upsert_episode(sid, _episode(12.0), open=True, updated_at_s=12.0)
    st.commit()
    reader = Store(db)  # a second process-like reader while the session runs
    live = reader.episodes(sid, with_open=True)
    assert len(live) == 1 and live.iloc[0]["open"] == 1 and live.iloc[0]["end_s"] == 12.0
    assert reader.session(sid)["status"] == "running"  # our own pid: not marked dead

    st.upsert_episode(sid, _episode(30.0, severity="mild", displacement_cm=0.7), open=True)
    st.upsert_episode(sid, _episode(41.0, severity="mild", displacement_cm=0.8), open=False)
    st.finish_session(sid)
    final = reader.episodes(sid, with_open=True)
    assert len(final) == 1
    r = final.iloc[0]
    assert r["open"] == 0 and r["end_s"] == 41.0 and r["duration_s"] == 31.0
    assert r["severity"] == "mild" and r["displacement_cm"] == 0.8 and r["detected_at_s"] == 11.5
    assert list(reader.episodes().columns) == list(EPISODE_COLUMNS)
    assert reader.episodes(sid, include_open=False).shape[0] == 1
    assert reader.session(sid)["status"] == "complete"
    reader.close()
    st.close()


def test_minutes_gaps_and_totals(tmp_path):
    with Store(tmp_path / "log.db") as st:
        sid = st.begin_session("rec.csv")
        st.upsert_minute(sid, MinuteSummary(0.0, None, {"none": 0.7, "slight": 0.1}, 0.2))
        st.upsert_minute(sid, MinuteSummary(0.0, None, {"none": 0.5, "mild": 0.3}, 0.2))  # replace
        st.upsert_minute(sid, MinuteSummary(60.0, "2024-03-01T09:01:00", {"none": 1.0}, 0.0))
        st.add_gap(sid, Gap(12.0, 14.5))
        st.add_gap(sid, Gap(30.0, 31.0), origin="bridge")
        st.finish_session(sid, samples=5)
        m = st.minutes(sid)
        assert list(m.columns) == ["session_id", *MINUTE_COLUMNS]
        assert len(m) == 2
        assert m.iloc[0]["mild_frac"] == 0.3 and m.iloc[0]["slight_frac"] == 0.0
        g = st.gaps(sid)
        assert list(g["origin"]) == ["detector", "bridge"]
        row = st.session(sid)
        # totals are what the analysis saw (detector gaps); the bridge's link gap stays in the
        # table for the data-quality report but a disconnect is not counted twice
        assert row["gaps"] == 1 and row["gap_s"] == pytest.approx(2.5)
        assert row["ended_at"] is not None and row["samples"] == 5


# --------------------------------------------------------------------------- raw chunks


def test_raw_chunks_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    blocks = []
    t_next = 1.7e9  # epoch-like clock: float64 needed to keep it exact
    for n, gyro in [(7, True), (250, True), (1, True), (300, False), (40, True)]:
        t = t_next + np.cumsum(rng.uniform(0.005, 0.015, n))
        t_next = t[-1]
        acc = rng.normal(0, 2, (n, 3))
        blocks.append(SampleBlock(t, acc, rng.normal(0, 500, (n, 3)) if gyro else None))
    with Store(tmp_path / "log.db", chunk_rows=100) as st:
        sid = st.begin_session("dev")
        for b in blocks:
            st.add_samples(sid, b)
            st.add_samples(sid, SampleBlock(np.zeros(0), np.zeros((0, 3))))  # empty: ignored
        st.commit()
        assert st.sample_count(sid) == sum(len(b) for b in blocks)
        out = list(st.iter_samples(sid))
    assert max(len(b) for b in out) <= 100
    t_in = np.concatenate([b.t for b in blocks])
    t_out = np.concatenate([b.t for b in out])
    assert np.array_equal(t_in, t_out)  # exact
    # gyro presence is kept per sample run, values at float32 precision
    i = 0
    for b in out:
        src_acc = np.concatenate([x.acc for x in blocks])[i : i + len(b)]
        assert np.array_equal(b.acc, src_acc.astype(np.float32).astype(np.float64))
        np.testing.assert_allclose(b.acc, src_acc, rtol=1e-7, atol=1e-12)
        i += len(b)
    with_gyro = sum(len(b) for b in out if b.gyro is not None)
    assert with_gyro == 7 + 250 + 1 + 40


@settings(max_examples=60, deadline=None)
@given(
    n=st_.integers(1, 300),
    gyro=st_.booleans(),
    data=st_.data(),
)
def test_chunk_codec_round_trip_property(n, gyro, data):
    finite64 = st_.floats(allow_nan=False, allow_infinity=False, width=64)
    finite32 = st_.floats(allow_nan=False, allow_infinity=False, width=32)
    t = data.draw(arrays(np.float64, n, elements=finite64))
    acc = data.draw(arrays(np.float32, (n, 3), elements=finite32)).astype(np.float64)
    g = data.draw(arrays(np.float32, (n, 3), elements=finite32)).astype(np.float64) if gyro else None
    out = decode_chunk(encode_chunk(SampleBlock(t, acc, g)), n, gyro)
    assert np.array_equal(out.t, t)  # float64 time is exact
    assert np.array_equal(out.acc, acc)  # float32-representable values are exact
    assert (out.gyro is None) == (not gyro)
    if gyro:
        assert np.array_equal(out.gyro, g)


def test_chunk_codec_detects_damage():
    b = SampleBlock(np.arange(5.0), np.ones((5, 3)), np.ones((5, 3)))
    data = encode_chunk(b)
    assert decode_chunk(data, 5, True).t.tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(StoreError, match="damaged"):
        decode_chunk(data, 6, True)
    with pytest.raises(StoreError, match="codec"):
        decode_chunk(data, 5, True, codec="lz9")


# --------------------------------------------------------------------------- interrupted sessions


def test_sessions_of_dead_processes_marked_interrupted(tmp_path):
    db = tmp_path / "log.db"
    with Store(db) as st:
        dead = st.begin_session("killed.csv")
        st.add_samples(dead, SampleBlock(np.arange(100) / 100 + 3.0, np.ones((100, 3))))
        st.add_gap(dead, Gap(3.2, 3.9))
        st.update_session(dead, pid=_dead_pid())
        alive = st.begin_session("running.csv")  # this process: alive
        elsewhere = st.begin_session("other-host.csv")
        st.update_session(elsewhere, pid=_dead_pid(), host="some-other-host")
        st.commit()
    with Store(db) as st:
        assert st.interrupted_on_open == [dead]
        row = st.session(dead)
        assert row["status"] == "interrupted" and row["ended_at"] is not None
        assert row["samples"] == 100 and row["t_start_s"] == 3.0 and row["t_end_s"] == 3.99
        assert row["gaps"] == 1 and "without closing" in row["error"]
        assert st.session(alive)["status"] == "running"
        assert st.session(elsewhere)["status"] == "running"


def test_background_commit_makes_writes_durable_without_caller_commit(tmp_path):
    db = tmp_path / "log.db"
    st = Store(db, commit_interval_s=0.2)
    sid = st.begin_session("quiet-sensor")
    st.start_autocommit(lambda: st.update_session(sid, samples=3))
    st.add_samples(sid, SampleBlock(np.arange(3.0), np.ones((3, 3))))
    deadline = time.monotonic() + 5.0
    seen = 0
    while time.monotonic() < deadline:
        conn = sqlite3.connect(db)
        seen = conn.execute("SELECT COALESCE(sum(n), 0) FROM samples").fetchone()[0]
        samples = conn.execute("SELECT samples FROM sessions").fetchone()[0]
        conn.close()
        if seen == 3 and samples == 3:
            break
        time.sleep(0.05)
    st.stop_autocommit()
    assert seen == 3
    st.close()


# --------------------------------------------------------------------------- a killed process


def test_killed_replay_keeps_session_chunks_and_episodes(tmp_path):
    """SIGKILL a paced replay mid-session: the log is intact and lost at most ~the last second."""
    rec = write_rec(tmp_path / "rec.csv", duration_s=60.0, tremor=[(1.0, 50.0)])
    db = tmp_path / "log.db"
    cmd = [*tremorscope_cmd(), "replay", str(rec), "--db", str(db), "--speed", "1"]
    proc = subprocess.Popen(
        cmd, env=isolated_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        seen_at = None
        deadline = time.monotonic() + 30
        while seen_at is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
                if conn.execute("SELECT count(*) FROM sessions").fetchone()[0]:
                    seen_at = time.monotonic()
                conn.close()
            except sqlite3.Error:
                pass
            time.sleep(0.02)
        assert seen_at is not None, f"session never appeared: {proc.stderr.read()!r}"
        time.sleep(6.0)
        killed_at = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reached_s = killed_at - seen_at  # stream time the paced replay had reached (t starts at 0)

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    status, pid = conn.execute("SELECT status, pid FROM sessions").fetchone()
    assert status == "running" and pid == proc.pid  # nobody closed it
    conn.close()

    with Store(db) as st:
        assert st.interrupted_on_open == [1]
        row = st.session(1)
        assert row["status"] == "interrupted"
        blocks = list(st.iter_samples(1))
        t = np.concatenate([b.t for b in blocks])
        assert np.all(np.diff(t) > 0)
        assert row["samples"] == len(t)
        # paced blocks are 1 s; committed within 1 s of arrival: allow 2.5 s behind the clock
        assert t[-1] >= reached_s - 2.5, (t[-1], reached_s)
        eps = st.episodes(1, with_open=True)
        assert len(eps) >= 1, "the tremor episode running at the kill should be logged"
        assert eps.iloc[0]["start_s"] < 3.0 and eps.iloc[0]["open"] == 1


# --------------------------------------------------------------------------- calibrations, extras


def test_calibrations_newest_per_device_and_placement(tmp_path):
    db = tmp_path / "log.db"
    conn = sqlite3.connect(db, isolation_level=None)
    assert migrate(conn, target=3) == 3  # a log from before calibrations existed
    conn.close()
    with Store(db) as st:
        assert st.version == schema_version() >= 4
        assert st.calibration("movesense", "neck") is None
        a = st.add_calibration("Movesense", " Neck", [0.01, 0.02, 0.99], "rec1.csv", seconds=5.0,
                               details={"tilt_spread_deg": 0.4})  # fmt: skip
        st.add_calibration("movesense", "wrist", [0.9, 0.0, 0.1], "rec2.csv")
        b = st.add_calibration("movesense", "neck", [0.0, -0.5, 0.85], "serial:/dev/ttyUSB0")
        assert b > a
        with pytest.raises(ValueError, match="gravity direction"):
            st.add_calibration("movesense", "neck", [0.0, float("nan"), 1.0], "x")
        with pytest.raises(ValueError, match="gravity direction"):
            st.add_calibration("movesense", "neck", [0.0, 1.0], "x")
        with pytest.raises(ValueError, match="device name"):
            st.add_calibration("  ", "neck", [0.0, 0.0, 1.0], "x")
    with Store(db) as st:  # committed at once, and matched regardless of case and spacing
        neck = st.calibration("MOVESENSE", "neck ")
        assert neck["id"] == b and neck["neutral_g"] == [0.0, -0.5, 0.85]
        assert neck["source"] == "serial:/dev/ttyUSB0" and neck["created_at"]
        assert st.calibration("movesense", "wrist")["neutral_g"] == [0.9, 0.0, 0.1]
        assert st.calibration("movesense", "leg") is None and st.calibration(None, "neck") is None
        rows = st.calibrations()
        assert [r["id"] for r in rows] == [a, a + 1, b]
        assert rows[0]["device"] == "movesense" and rows[0]["placement"] == "neck"
        assert rows[0]["seconds"] == 5.0 and rows[0]["details"] == {"tilt_spread_deg": 0.4}


def test_merge_session_extra_keeps_other_keys(tmp_path):
    with Store(tmp_path / "log.db") as st:
        sid = st.begin_session("rec.csv", extra_json={"recording_meta": {"device": "x"}, "limits": []})
        st.merge_session_extra(sid, {"limits": ["accelerometer only"], "calibrated": True})
        st.commit()
        import json

        extra = json.loads(st.session(sid)["extra_json"])
        assert extra == {
            "recording_meta": {"device": "x"},
            "limits": ["accelerometer only"],
            "calibrated": True,
        }
        with pytest.raises(ValueError, match="no session"):
            st.merge_session_extra(sid + 1, {"a": 1})
