"""Re-analysis keeps the parent session's calibrated neutral posture (and only a calibrated one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from calibration_helpers import write_posture_rec

from tremorscope.reanalysis import parent_neutral, reanalyze
from tremorscope.session import replay_session
from tremorscope.store import Store


def extra(store: Store, sid: int) -> dict:
    return json.loads(store.session(sid)["extra_json"])


def contractions(store: Store, sid: int):
    eps = store.episodes(sid)
    return eps[eps["kind"] == "contraction"]


def test_reanalysis_of_a_calibrated_wrist_session_uses_the_same_neutral(tmp_path: Path) -> None:
    """A wrist detects postures only against a calibrated neutral: without the parent's neutral
    the re-analysis would find no flexion at all."""
    rec = write_posture_rec(tmp_path / "wrist.csv", 60.0, placement="wrist", holds=((20.0, 1.0, 12.0, 35.0),))
    with Store(tmp_path / "log.db") as st:
        st.add_calibration("test-imu", "wrist", [0.0, 0.0, 1.0], "rest.csv")
        parent = replay_session(st, rec).session_id
        pex = extra(st, parent)
        assert pex["calibrated"] is True and pex["limits"] == []
        new = reanalyze(st, parent).session_id
        ex = extra(st, new)
        assert ex["neutral_from"] == "parent" and ex["reanalysis"]["neutral_of_session"] == parent
        assert ex["calibrated"] is True and ex["limits"] == []
        assert ex["neutral_g"] == pytest.approx(pex["neutral_g"], abs=1e-6)
        a, b = contractions(st, parent), contractions(st, new)
        assert list(a["direction"]) == ["flexion"] and list(b["direction"]) == ["flexion"]
        assert b.iloc[0]["start_s"] == pytest.approx(a.iloc[0]["start_s"], abs=1e-6)
        assert b.iloc[0]["peak_angle_deg"] == pytest.approx(a.iloc[0]["peak_angle_deg"], abs=1e-6)
        # a re-analysis of the re-analysis still carries it
        third = reanalyze(st, new).session_id
        assert extra(st, third)["neutral_g"] == pytest.approx(pex["neutral_g"], abs=1e-6)
        assert list(contractions(st, third)["direction"]) == ["flexion"]


def test_uncalibrated_parent_is_re_learned_not_carried(tmp_path: Path) -> None:
    rec = write_posture_rec(tmp_path / "wrist.csv", 40.0, placement="wrist", holds=((15.0, 1.0, 10.0, 35.0),))
    with Store(tmp_path / "log.db") as st:
        parent = replay_session(st, rec).session_id
        assert extra(st, parent)["calibrated"] is False
        new = reanalyze(st, parent).session_id
        ex = extra(st, new)
        assert ex["neutral_from"] == "adaptive" and "neutral_of_session" not in ex["reanalysis"]
        assert ex["calibrated"] is False and "calibrated neutral" in ex["limits"][0]
        assert contractions(st, new).empty


def test_parent_neutral_takes_only_a_calibrated_finite_direction() -> None:
    assert parent_neutral({"calibrated": True, "neutral_g": [0.1, 0.0, 0.99]}) == [0.1, 0.0, 0.99]
    assert parent_neutral({"calibrated": False, "neutral_g": [0.1, 0.0, 0.99]}) is None
    assert parent_neutral({"calibrated": True, "neutral_g": None}) is None
    assert parent_neutral({"calibrated": True}) is None
    assert parent_neutral({"calibrated": True, "neutral_g": [0.0, 1.0]}) is None
    assert parent_neutral({"calibrated": True, "neutral_g": [0.0, "x", 1.0]}) is None
    assert parent_neutral({"calibrated": True, "neutral_g": [0.0, float("nan"), 1.0]}) is None
    assert parent_neutral({"calibrated": True, "neutral_g": [0.0, 0.0, 0.0]}) is None
    assert parent_neutral({}) is None
