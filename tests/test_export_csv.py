"""CSV export: episodes, minutes, gaps, diary and sessions tables, raw samples that replay."""

from __future__ import annotations

import csv
import os
import stat
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from review_helpers import raw_arrays, session_start, simulated_session

from dsp.events import EPISODE_COLUMNS, MINUTE_COLUMNS
from firmware_bridge.recording import RecordingReader
from tremorscope.cli import main
from tremorscope.diary import add_note
from tremorscope.export_csv import SESSION_EXPORT_COLUMNS, export_csv
from tremorscope.exports import ExportError
from tremorscope.reanalysis import reanalyze
from tremorscope.store import Store


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int]]:
    tmp = tmp_path_factory.mktemp("csv")
    with Store(tmp / "log.db") as store:
        a = simulated_session(store, tmp / "rec", "rest_tremor", 90)
        b = simulated_session(store, tmp / "rec", "gaps", 120, gyro=False, seed=4)
        start = session_start(store, a)
        add_note(store, "levodopa 100 mg", "medication", start + timedelta(seconds=10))
        reanalyze(store, a, overrides={"min_rms_g": 0.5, "min_rms_dps": 500.0})
    return tmp / "log.db", [a, b]


def test_all_sessions_tables_and_samples(log: tuple[Path, list[int]], tmp_path: Path) -> None:
    db, (a, b) = log
    out = tmp_path / "export"
    with Store(db, create=False) as store:
        paths = export_csv(store, out)
        episodes = store.episodes()
        minutes = store.minutes()
    names = sorted(str(p.relative_to(out)) for p in paths)
    assert names == sorted(
        [
            "episodes.csv",
            "minutes.csv",
            "gaps.csv",
            "diary.csv",
            "sessions.csv",
            f"samples/session-{a}.csv.gz",
            f"samples/session-{b}.csv.gz",
        ]
    )  # the re-analysis is not part of "all"
    for p in paths:
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o700
    with open(out / "episodes.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == EPISODE_COLUMNS
    got = pd.read_csv(out / "episodes.csv")
    mine = episodes[episodes["session_id"].isin([a, b])].reset_index(drop=True)
    assert len(got) == len(mine) >= 2
    np.testing.assert_allclose(got["start_s"], mine["start_s"])
    np.testing.assert_allclose(got["dominant_hz"], mine["dominant_hz"])
    assert list(got["severity"]) == list(mine["severity"])
    m = pd.read_csv(out / "minutes.csv")
    assert list(m.columns) == ["session_id", *MINUTE_COLUMNS]
    want = minutes[minutes["session_id"].isin([a, b])]
    assert len(m) == len(want)
    np.testing.assert_allclose(m["slight_frac"], want["slight_frac"])
    g = pd.read_csv(out / "gaps.csv")
    assert (
        list(g.columns) == ["session_id", "start_s", "end_s", "origin"] and (g["session_id"] == b).sum() >= 1
    )
    d = pd.read_csv(out / "diary.csv")
    assert list(d["text"]) == ["levodopa 100 mg"] and list(d["kind"]) == ["medication"]
    s = pd.read_csv(out / "sessions.csv")
    assert list(s.columns) == list(SESSION_EXPORT_COLUMNS) and list(s["id"]) == [a, b]
    assert "host" not in s.columns and "pid" not in s.columns  # machine identity stays in the log


def test_raw_samples_are_canonical_recordings_that_replay(
    log: tuple[Path, list[int]], tmp_path: Path
) -> None:
    db, (a, b) = log
    out = tmp_path / "export"
    with Store(db, create=False) as store:
        export_csv(store, out)
        raw = {sid: raw_arrays(store, sid) for sid in (a, b)}
        rows = {sid: store.session(sid) for sid in (a, b)}
    for sid in (a, b):
        t, acc, gyro = raw[sid]
        with RecordingReader(out / "samples" / f"session-{sid}.csv.gz") as reader:
            blocks = list(reader.blocks())
            assert reader.sample_rate_hz == rows[sid]["sample_rate_hz"]
            assert reader.placement == rows[sid]["placement"]
            assert reader.start_time.isoformat() == rows[sid]["start_time"]
            assert reader.has_gyro == (gyro is not None)
            assert reader.meta["tremorscope_session"] == str(sid)
            assert reader.stats.skipped == 0
        t2 = np.concatenate([x.t for x in blocks])
        assert len(t2) == len(t)
        np.testing.assert_allclose(t2, t, atol=5e-7, rtol=0)  # t to 1 us
        np.testing.assert_allclose(np.concatenate([x.acc for x in blocks]), acc, atol=5e-7, rtol=0)  # 1e-6 g
        if gyro is not None:
            np.testing.assert_allclose(np.concatenate([x.gyro for x in blocks]), gyro, atol=5e-5, rtol=0)


def test_reanalysis_exports_its_results_with_the_samples_it_re_ran(
    log: tuple[Path, list[int]], tmp_path: Path
) -> None:
    db, (a, _) = log
    with Store(db, create=False) as store:
        new = store.reanalyses(a)[0]
        paths = export_csv(store, tmp_path / "re", session_id=new)
    assert tmp_path / "re" / "samples" / f"session-{new}.csv.gz" in paths
    with RecordingReader(tmp_path / "re" / "samples" / f"session-{new}.csv.gz") as reader:
        assert reader.meta["raw_samples_of_session"] == str(a)
    assert len(pd.read_csv(tmp_path / "re" / "episodes.csv")) == 0  # its own (empty) result set


def test_existing_files_are_kept_unless_forced(log: tuple[Path, list[int]], tmp_path: Path) -> None:
    db, (a, _) = log
    out = tmp_path / "export"
    with Store(db, create=False) as store:
        export_csv(store, out, session_id=a)
        (out / "episodes.csv").write_text("mine\n")
        with pytest.raises(ExportError, match="already exists.*--force"):
            export_csv(store, out, session_id=a)
        assert (out / "episodes.csv").read_text() == "mine\n"
        export_csv(store, out, session_id=a, force=True)
    assert (out / "episodes.csv").read_text().startswith("session_id,episode_id,kind")
    assert not list(out.glob(".*.tmp"))  # no temporary files left behind


def test_export_command(log: tuple[Path, list[int]], tmp_path: Path) -> None:
    db, (a, _) = log
    r = CliRunner().invoke(
        main, ["export", "--format", "csv", "--db", str(db), "--session", str(a), str(tmp_path / "o")]
    )
    assert r.exit_code == 0, r.output
    assert r.output.startswith("wrote 6 file(s) to ")
    r = CliRunner().invoke(
        main, ["export", "--format", "csv", "--db", str(db), "--session", "42", str(tmp_path / "p")]
    )
    assert r.exit_code == 1 and "no session 42" in r.output
    r = CliRunner().invoke(main, ["export", "--db", str(db), str(tmp_path / "q")])
    assert r.exit_code == 2 and "--format" in r.output
    (tmp_path / "file").write_text("x")
    r = CliRunner().invoke(main, ["export", "--format", "csv", "--db", str(db), str(tmp_path / "file")])
    assert r.exit_code == 1 and "not a folder" in r.output and "Traceback" not in r.output
