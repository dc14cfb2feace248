"""Re-analysis: the current detector over stored raw samples, into a new, linked, comparable session."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from review_helpers import simulated_session

from dsp.config import DetectorConfig
from dsp.events import Gap
from firmware_bridge.samples import SampleBlock
from tremorscope.cli import main
from tremorscope.reanalysis import compare, reanalyze
from tremorscope.store import Store, StoreError

STRICT = {"min_rms_g": 0.5, "min_rms_dps": 500.0}  # far above any tremor: nothing qualifies


@pytest.fixture()
def log(tmp_path: Path) -> tuple[Path, int]:
    with Store(tmp_path / "log.db") as store:
        sid = simulated_session(store, tmp_path / "rec", "rest_tremor", 90)
        store.update_session(sid, dropped=4, malformed=2)
        store.add_gap(sid, Gap(30.0, 30.4), origin="bridge")
        store.commit()
    return tmp_path / "log.db", sid


def test_changed_threshold_gives_a_distinguishable_linked_result(log: tuple[Path, int]) -> None:
    db, sid = log
    with Store(db) as store:
        before = store.episodes(sid)
        old_row = store.session(sid)
        result = reanalyze(store, sid, overrides=STRICT)
        new = result.session_id
        row = store.session(new)
        assert new != sid and result.status == "complete"
        assert row["mode"] == "reanalysis" and row["parent_session_id"] == sid
        assert store.reanalyses(sid) == [new]
        used = json.loads(row["config_json"])
        assert used["min_rms_g"] == 0.5 and used["min_rms_dps"] == 500.0
        assert used["severity_cm"] == json.loads(old_row["config_json"])["severity_cm"]  # the rest kept
        extra = json.loads(row["extra_json"])["reanalysis"]
        assert extra["of_session"] == sid and extra["raw_session"] == sid
        assert extra["changed"]["min_rms_g"] == {"before": 0.005, "after": 0.5}
        # the earlier results are untouched, the new ones differ
        assert len(before) >= 1 and (before["kind"] == "tremor").sum() >= 1
        assert store.episodes(sid).equals(before)
        assert len(store.episodes(new)) == 0
        assert store.sample_count(new) == 0  # raw samples are not copied
        assert row["samples"] == old_row["samples"] and row["t_start_s"] == old_row["t_start_s"]
        assert row["start_time"] == old_row["start_time"] and row["placement"] == old_row["placement"]
        assert (row["dropped"], row["malformed"]) == (4, 2)  # facts about the recording carried over
        assert (store.gaps(new)["origin"] == "bridge").sum() == 1
        c_old, c_new = compare(store, sid), compare(store, new)
        assert c_old.tremor_episodes >= 1 and c_new.tremor_episodes == 0
        assert c_new.changed["min_rms_dps"] == (1.0, 500.0)


def test_same_settings_reproduce_the_original(log: tuple[Path, int]) -> None:
    db, sid = log
    with Store(db) as store:
        new = reanalyze(store, sid).session_id
        a, b = store.episodes(sid), store.episodes(new)
        assert len(a) == len(b)
        np.testing.assert_allclose(a["start_s"], b["start_s"])
        np.testing.assert_allclose(a["dominant_hz"], b["dominant_hz"], rtol=1e-6)
        assert list(a["severity"]) == list(b["severity"])
        assert len(store.minutes(new)) == len(store.minutes(sid))


def test_reanalysis_of_a_reanalysis_reruns_the_original_samples(log: tuple[Path, int]) -> None:
    db, sid = log
    with Store(db) as store:
        first = reanalyze(store, sid, overrides=STRICT).session_id
        second = reanalyze(store, first, overrides={"min_rms_g": 0.005, "min_rms_dps": 1.0}).session_id
        assert store.raw_session_id(second) == sid
        row = store.session(second)
        assert row["parent_session_id"] == first
        assert json.loads(row["extra_json"])["reanalysis"]["raw_session"] == sid
        assert len(store.episodes(second)) == len(store.episodes(sid)) >= 1


def test_refusals_say_what_to_do(tmp_path: Path) -> None:
    with Store(tmp_path / "log.db") as store:
        with pytest.raises(StoreError, match="no session 5"):
            reanalyze(store, 5)
        bare = store.begin_session("log only", sample_rate_hz=100.0)
        store.finish_session(bare)
        with pytest.raises(StoreError, match="no stored raw samples"):
            reanalyze(store, bare)
        running = store.begin_session("now", sample_rate_hz=100.0)
        store.add_samples(running, SampleBlock(np.arange(10) / 100, np.zeros((10, 3))))
        with pytest.raises(StoreError, match="still being recorded"):
            reanalyze(store, running)
        sid = simulated_session(store, tmp_path / "rec", "rest_tremor", 30)
        with pytest.raises(ValueError, match="unknown detector setting"):
            reanalyze(store, sid, overrides={"min_rms": 1})


def test_reanalyze_command_and_episodes_of_the_new_session(log: tuple[Path, int], tmp_path: Path) -> None:
    db, sid = log
    cfg = tmp_path / "strict.json"
    cfg.write_text(json.dumps(STRICT))
    r = CliRunner().invoke(main, ["reanalyze", "--db", str(db), "--session", str(sid), "--config", str(cfg)])
    assert r.exit_code == 0, r.output
    new = sid + 1
    assert f"session {new} (complete): re-analysis of session {sid}, 0 episodes" in r.output
    assert "settings changed: min_rms_dps 1.0 -> 500.0, min_rms_g 0.005 -> 0.5" in r.output
    assert f"next: tremorscope episodes --session {new}" in r.output
    r = CliRunner().invoke(main, ["episodes", "--db", str(db), "--session", str(new)])
    assert r.exit_code == 0 and r.output.strip() == "no episodes"
    r = CliRunner().invoke(main, ["episodes", "--db", str(db), "--session", str(sid), "--format", "csv"])
    with Store(db, create=False) as store:
        assert len(r.output.strip().splitlines()) - 1 == len(store.episodes(sid)) >= 1  # the original kept
    r = CliRunner().invoke(main, ["sessions", "--db", str(db)])
    assert "reanalysis" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"min_rms_g": 0.1,}')
    r = CliRunner().invoke(main, ["reanalyze", "--db", str(db), "--session", str(sid), "--config", str(bad)])
    assert r.exit_code == 1 and "line 1" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["reanalyze", "--db", str(db), "--session", "99"])
    assert r.exit_code == 1 and "no session 99" in r.output
    r = CliRunner().invoke(main, ["reanalyze", "--db", str(db)])
    assert r.exit_code == 2 and "--session" in r.output


def test_settings_stored_by_an_older_version_are_merged_safely(log: tuple[Path, int]) -> None:
    """Stored settings a newer detector no longer has are dropped and named; new ones default."""
    db, sid = log
    with Store(db) as store:
        stored = json.loads(store.session(sid)["config_json"])
        stored["retired_setting"] = 3
        del stored["warmup_s"]
        store.update_session(sid, config_json=json.dumps(stored))
        store.commit()
        new = reanalyze(store, sid).session_id
        extra = json.loads(store.session(new)["extra_json"])["reanalysis"]
        assert extra["ignored_stored_settings"] == ["retired_setting"]
        assert extra["new_settings"] == ["warmup_s"] and extra["changed"] == {}
        assert json.loads(store.session(new)["config_json"])["warmup_s"] == DetectorConfig().warmup_s
