"""CSV export: episodes, minutes, gaps, diary and sessions tables, raw samples that replay."""

from __future__ import annotations

import csv
import gzip
import json
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
from firmware_bridge.io.recording import RecordingReader
from tremorscope.cli import main
from tremorscope.exports.base import ExportError
from tremorscope.exports.csv import SESSION_EXPORT_COLUMNS, export_csv
from tremorscope.exports.csv_schema import read_table
from tremorscope.reanalysis import reanalyze
from tremorscope.review.diary import add_note
from tremorscope.store import Store


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int]]:
    tmp = tmp_path_factory.mktemp("csv")
    with Store(tmp / "log.db") as store:
        a = simulated_session(store, tmp / "rec", "rest_tremor", 90)
        b = simulated_session(store, tmp / "rec", "gaps", 120, gyro=False, seed=4)
        start = session_start(store, a)
        add_note(store, "levodopa 100 mg", "medication", start + timedelta(seconds=10))
        add_note(store, "noted with no sensor on", "medication", start + timedelta(days=40))
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
            "datapackage.json",
            f"samples/session-{a}.csv.gz",
            f"samples/session-{a}.json",
            f"samples/session-{b}.csv.gz",
            f"samples/session-{b}.json",
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
    assert list(d["text"]) == ["levodopa 100 mg", "noted with no sensor on"]
    assert list(d["kind"]) == ["medication", "medication"]
    # the entry outside every recording is listed, marked, not dropped
    assert list(d["session_id"].fillna(0).astype(int)) == [a, 0]
    assert list(d["outside_recordings"]) == [False, True]
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
        # plain pandas, no comment= or skiprows: a header row, then one row per sample
        plain = pd.read_csv(out / "samples" / f"session-{sid}.csv.gz")
        assert list(plain.columns[:4]) == ["t", "acc_x", "acc_y", "acc_z"] and len(plain) == len(t)
        np.testing.assert_allclose(plain["t"], t, atol=5e-7, rtol=0)
        meta = json.loads((out / "samples" / f"session-{sid}.json").read_text())
        assert meta["sample_rate_hz"] == rows[sid]["sample_rate_hz"] and meta["tremorscope_session"] == sid
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
    assert r.output.startswith("wrote 8 file(s) to ")  # 5 tables, their types, samples + sidecar
    r = CliRunner().invoke(
        main, ["export", "--format", "csv", "--db", str(db), "--session", "42", str(tmp_path / "p")]
    )
    assert r.exit_code == 1 and "no session 42" in r.output
    r = CliRunner().invoke(main, ["export", "--db", str(db), str(tmp_path / "q")])
    assert r.exit_code == 2 and "--format" in r.output
    (tmp_path / "file").write_text("x")
    r = CliRunner().invoke(main, ["export", "--format", "csv", "--db", str(db), str(tmp_path / "file")])
    assert r.exit_code == 1 and "not a folder" in r.output and "Traceback" not in r.output


def test_samples_reader_takes_the_sidecar_and_the_old_hash_lines(tmp_path: Path) -> None:
    """New exports put metadata in a JSON sidecar; recordings with `#` lines still load."""
    rows = "t,acc_x,acc_y,acc_z\n" + "".join(f"{k / 50:.2f},0,0,1\n" for k in range(200))
    new = tmp_path / "new.csv.gz"
    with gzip.open(new, "wt") as f:
        f.write(rows)
    (tmp_path / "new.json").write_text(json.dumps({"sample_rate_hz": 50.0, "placement": "neck"}))
    old = tmp_path / "old.csv"
    old.write_text("# sample_rate_hz: 50\n# placement: neck\n" + rows)
    for path in (new, old):
        with RecordingReader(path) as reader:
            n = sum(len(b) for b in reader.blocks())
            assert (reader.sample_rate_hz, reader.placement, n) == (50.0, "neck", 200)
    (tmp_path / "new.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="new.json: metadata sidecar must be one JSON object"):
        RecordingReader(new)


def test_empty_gaps_table_keeps_its_header(log: tuple[Path, list[int]], tmp_path: Path) -> None:
    db, (a, _) = log
    with Store(db, create=False) as store:
        assert len(store.gaps(a)) == 0  # the premise: this session has no gaps
        export_csv(store, tmp_path / "one", session_id=a)
    g = pd.read_csv(tmp_path / "one" / "gaps.csv")
    assert list(g.columns) == ["session_id", "start_s", "end_s", "origin"] and len(g) == 0
    # the datapackage.json beside it keeps the types, empty or not
    typed = read_table(tmp_path / "one" / "gaps.csv")
    assert [str(t) for t in typed.dtypes] == ["Int64", "float64", "float64", "string"] and len(typed) == 0
    package = json.loads((tmp_path / "one" / "datapackage.json").read_text())
    by_file = {r["path"]: r["schema"]["fields"] for r in package["resources"]}
    assert set(by_file) == {"episodes.csv", "minutes.csv", "gaps.csv", "diary.csv", "sessions.csv"}
    for file, fields in by_file.items():
        frame = read_table(tmp_path / "one" / file)
        header = pd.read_csv(tmp_path / "one" / file, nrows=0).columns
        assert [f["name"] for f in fields] == list(header) == list(frame.columns), file
    ep = read_table(tmp_path / "one" / "episodes.csv")
    assert (
        len(ep) >= 1 and str(ep["episode_id"].dtype) == "Int64" and str(ep["dominant_hz"].dtype) == "float64"
    )
    d = read_table(tmp_path / "one" / "diary.csv")
    assert str(d["outside_recordings"].dtype) == "boolean" and str(d["session_id"].dtype) == "Int64"
