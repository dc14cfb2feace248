"""Neutral posture: measuring it, refusing a moving calibration, storing it, using it in sessions.

Recordings are rigid-body motions (tests/calibration_helpers.py), so the right neutral and
the right contraction direction and angle are known exactly.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat

import numpy as np
import pytest
from app_helpers import write_rec
from calibration_helpers import GYRO_OFFSET_DPS, angle_between_deg, blocks, posture_motion, write_posture_rec
from cli_helpers import isolated_home, one_line_error, run  # noqa: F401 - isolated_home is autouse
from scipy.spatial.transform import Rotation

from dsp import StreamingDetector
from dsp.events import EPISODE_COLUMNS
from tremorscope.calibration import (
    MAX_TILT_SPREAD_DEG,
    MAX_TURN_DPS,
    CalibrationError,
    choose_neutral,
    hold_still_s,
    measure_neutral,
)
from tremorscope.session import replay_session
from tremorscope.store import Store

#: Columns that belong to one kind of episode only (dsp/events.py): empty cells for the other.
TREMOR_ONLY = ("dominant_hz", "band", "stability", "amplitude_g", "amplitude_dps", "displacement_cm",
               "severity", "context")  # fmt: skip
CONTRACTION_ONLY = ("peak_angle_deg", "mean_angle_deg", "direction", "onset_speed_dps", "co_contraction")


def csv_rows(text: str) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(EPISODE_COLUMNS)
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def extra(store: Store, sid: int) -> dict:
    return json.loads(store.session(sid)["extra_json"])


# --------------------------------------------------------------------------- measuring


def test_neutral_of_a_tilted_sensor_is_its_gravity_direction_whatever_the_chunking():
    mount = Rotation.from_euler("x", 20, degrees=True)  # worn 20 deg off level
    t, acc, g = posture_motion(20.0, holds=(), mount=mount, sway_deg=0.3)
    expected = mount.inv().apply([0.0, 0.0, 1.0])
    cals = [measure_neutral(iter(blocks(t, acc, g, n)), 5.0) for n in (7, 100, 1000)]
    for cal in cals:
        assert angle_between_deg(cal.neutral_g, expected) < 0.3
        assert np.linalg.norm(cal.neutral_g) == pytest.approx(1.0, abs=1e-5)
        assert cal.has_gyro and cal.stillness.turn_dps < 3.0 and cal.stillness.tilt_spread_deg < 2.0
        assert cal.stillness.start_s == pytest.approx(1.0) and cal.stillness.end_s == pytest.approx(6.0)
        assert cal.stillness.samples == 500 and cal.sample_rate_hz == pytest.approx(100.0)
        assert cal.neutral_g == cals[0].neutral_g  # the same whatever the chunking


def test_gyroscope_offset_does_not_tilt_the_neutral():
    """The neutral is the still accelerometer's direction: a MEMS gyroscope's zero-rate offset,
    which a gyro-fused gravity carries until it is learned, must not tilt it."""
    t, acc, g = posture_motion(20.0, holds=(), sway_deg=0.0)
    for offset_dps in (0.0, 5.0):
        g2 = g + [offset_dps, -offset_dps, 0.0]
        for seconds in (1.0, 5.0):
            cal = measure_neutral(iter(blocks(t, acc, g2)), seconds)
            assert angle_between_deg(cal.neutral_g, [0.0, 0.0, 1.0]) < 0.1, (offset_dps, seconds)
            # kept with the calibration (details_json) for whoever needs the offset
            expect = np.add(GYRO_OFFSET_DPS, [offset_dps, -offset_dps, 0.0])
            np.testing.assert_allclose(cal.details()["gyro_offset_dps"], expect, atol=0.1)


def test_tremor_while_holding_still_does_not_spoil_the_calibration():
    # a strong 3.5 Hz jerky head tremor (dystonic tremor) on an otherwise still head
    t, acc, g = posture_motion(20.0, holds=(), tremor=(0.0, 20.0, 3.5, 4.0))
    cal = measure_neutral(iter(blocks(t, acc, g)), 5.0)
    assert angle_between_deg(cal.neutral_g, [0, 0, 1]) < 1.5
    assert cal.stillness.turn_dps < MAX_TURN_DPS and cal.stillness.tilt_spread_deg < MAX_TILT_SPREAD_DEG


@pytest.mark.parametrize(
    "motion, gyro, needle",
    [
        ({"holds": ((3.0, 1.0, 10.0, 12.0),)}, True, "tilted"),  # a nod held mid-calibration
        ({"holds": ((3.0, 1.0, 10.0, 12.0),)}, False, "tilted"),  # ...seen by the accelerometer alone
    ],
)
def test_moving_during_calibration_is_refused(motion, gyro, needle):
    t, acc, g = posture_motion(20.0, gyro=gyro, **motion)
    with pytest.raises(CalibrationError, match=needle):
        measure_neutral(iter(blocks(t, acc, g)), 5.0)


def test_a_head_turn_only_the_gyroscope_sees_is_refused():
    t = np.arange(2000) / 100.0
    yaw = 40.0 * np.clip((t - 3.0) / 1.0, 0.0, 1.0)  # turn to the side: gravity does not change
    acc = Rotation.from_euler("z", yaw[:, None], degrees=True).inv().apply([0.0, 0.0, 1.0])
    gyro = np.zeros_like(acc)
    gyro[:, 2] = np.gradient(yaw, t)
    with pytest.raises(CalibrationError, match=r"turned at \d+ deg/s"):
        measure_neutral(iter(blocks(t, acc, gyro)), 5.0)
    cal = measure_neutral(iter(blocks(t, acc, None)), 5.0)  # accelerometer only: cannot know
    assert cal.stillness.turn_dps is None and not cal.has_gyro


def test_short_gappy_or_wrong_unit_data_is_refused():
    t, acc, g = posture_motion(20.0, holds=())
    with pytest.raises(CalibrationError, match=r"only 4\.0 s of data.*6\.0 s"):
        measure_neutral(iter(blocks(t[:401], acc[:401], g[:401])), 5.0)
    keep = (t < 2.0) | (t > 3.0)
    with pytest.raises(CalibrationError, match="1.0 s gap"):
        measure_neutral(iter(blocks(t[keep], acc[keep], g[keep])), 5.0)
    with pytest.raises(CalibrationError, match="9.81 g.*not in g"):
        measure_neutral(iter(blocks(t, acc * 9.81, g)), 5.0)
    with pytest.raises(CalibrationError, match="no samples"):
        measure_neutral(iter([]), 5.0)
    with pytest.raises(CalibrationError, match="positive"):
        measure_neutral(iter(blocks(t, acc, g)), 0.0)
    assert hold_still_s(5.0) == pytest.approx(6.0)  # 1 s to settle, then 5 s


def test_choice_of_neutral_calibrate_beats_stored_beats_adaptive(tmp_path):
    with Store(tmp_path / "log.db") as st:
        assert choose_neutral(st, "imu", "neck").source == "adaptive"
        cid = st.add_calibration("imu", "neck", [0.0, 0.1, 0.99], "rec.csv")
        stored = choose_neutral(st, "IMU", "neck")
        assert stored.source == "stored" and stored.neutral_g == [0.0, 0.1, 0.99]
        assert stored.extra() == {"neutral_from": "stored", "calibration_id": cid}
        assert choose_neutral(st, "imu", "neck", use_stored=False).source == "adaptive"
        assert choose_neutral(st, "imu", "wrist").source == "adaptive"  # per placement
        assert choose_neutral(st, None, "neck").source == "adaptive"  # a recording with no device
        first = choose_neutral(st, "imu", "neck", calibrate_s=4.0)
        assert first.source == "calibrate_s" and first.neutral_g is None
        assert first.extra() == {"neutral_from": "calibrate_s", "calibrate_s": 4.0}
        with pytest.raises(CalibrationError, match="positive"):
            choose_neutral(st, "imu", "neck", calibrate_s=-1.0)


# --------------------------------------------------------------------------- sessions


def test_replay_calibrate_uses_the_first_seconds_and_records_the_neutral(tmp_path):
    mount = Rotation.from_euler("x", -15, degrees=True)
    rec = write_posture_rec(tmp_path / "neck.csv", 60.0, mount=mount)
    with Store(tmp_path / "log.db") as st:
        res = replay_session(st, rec, calibrate_s=5.0)
        ex = extra(st, res.session_id)
        eps = st.episodes(res.session_id)
    assert ex["neutral_from"] == "calibrate_s" and ex["calibrate_s"] == 5.0 and ex["calibrated"] is True
    assert angle_between_deg(ex["neutral_g"], mount.inv().apply([0, 0, 1])) < 1.0
    assert ex["limits"] == [] and ex["calibration"]["tilt_spread_deg"] < MAX_TILT_SPREAD_DEG
    assert ex["recording_meta"]["device"] == "test-imu"  # what was there before is kept
    con = eps[eps["kind"] == "contraction"]
    assert len(con) == 1 and con.iloc[0]["direction"] == "anterocollis"
    # the same neutral as `tremorscope calibrate` stores from these seconds (one code path)
    r = run("calibrate", str(rec), "--db", str(tmp_path / "log.db"))
    assert r.exit_code == 0, r.output
    with Store(tmp_path / "log.db") as st:
        assert st.calibration("test-imu", "neck")["neutral_g"] == ex["neutral_g"]


def test_replay_calibrate_refuses_a_moving_start_before_logging_anything(tmp_path):
    rec = write_posture_rec(tmp_path / "neck.csv", 40.0, holds=((2.5, 1.0, 10.0, 25.0),))
    db = str(tmp_path / "log.db")
    r = run("replay", str(rec), "--db", db, "--calibrate", "5")
    one_line_error(r, "neck.csv", "--calibrate 5", "moved while calibrating", "calibrate again")
    with Store(db) as st:
        assert st.latest_session_id() is None  # nothing half-logged
    for bad in ("0", "-2", "nan"):
        one_line_error(run("replay", str(rec), "--db", db, "--calibrate", bad), "--calibrate")


def test_calibrate_command_stores_and_later_sessions_use_it(tmp_path):
    db = tmp_path / "log.db"
    # the person's dystonic posture is there from the start of the day's recording
    day = write_posture_rec(tmp_path / "day.csv", 90.0, holds=((-2.0, 2.0, 40.0, 30.0),))
    # without a reference the adaptive neutral takes the held posture for neutral, and the
    # return to upright looks like a backward pull
    r = run("replay", str(day), "--db", str(db))
    assert r.exit_code == 0, r.output
    with Store(db) as st:
        first = st.episodes(1)
        assert extra(st, 1)["neutral_from"] == "adaptive" and extra(st, 1)["calibrated"] is False
    assert "anterocollis" not in set(first["direction"].dropna())

    still = write_posture_rec(tmp_path / "still.csv", 12.0, holds=())
    r = run("calibrate", str(still), "--db", str(db), "--seconds", "5")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("stored calibration 1: test-imu at neck, neutral gravity (")
    assert "later sessions of test-imu at neck use it" in r.stdout and "--no-calibration" in r.stdout
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    listing = run("calibrate", "--list", "--db", str(db))
    assert listing.exit_code == 0 and "test-imu" in listing.stdout and "still.csv" in listing.stdout

    r = run("replay", str(day), "--db", str(db))
    assert r.exit_code == 0, r.output
    assert "neutral posture: stored calibration 1" in r.stdout
    assert "contraction #1 started" in r.stdout and "anterocollis" in r.stdout
    with Store(db) as st:
        ex = extra(st, 2)
        stored = st.calibration("test-imu", "neck")
        con = st.episodes(2)
    assert ex["neutral_from"] == "stored" and ex["calibration_id"] == 1 and ex["calibrated"] is True
    assert ex["neutral_g"] == pytest.approx(stored["neutral_g"], abs=1e-5)  # the neutral really used
    con = con[con["kind"] == "contraction"]
    assert len(con) == 1
    ep = con.iloc[0]
    assert ep["direction"] == "anterocollis" and ep["start_s"] < 3.0 and 38.0 < ep["end_s"] < 44.0
    assert ep["peak_angle_deg"] == pytest.approx(31.0, abs=3.0)

    r = run("replay", str(day), "--db", str(db), "--no-calibration")  # back to adaptive
    assert r.exit_code == 0 and "stored calibration" not in r.stdout
    with Store(db) as st:
        assert extra(st, 3)["neutral_from"] == "adaptive"


def test_wrist_postures_need_a_calibrated_neutral_and_the_session_says_so(tmp_path):
    db = str(tmp_path / "log.db")
    rec = write_posture_rec(tmp_path / "wrist.csv", 60.0, placement="wrist", holds=((20.0, 1.0, 12.0, 35.0),))
    r = run("replay", str(rec), "--db", db)
    assert r.exit_code == 0, r.output
    assert "note: wrist: without a calibrated neutral only spasms (a fast pull, held)" in r.stdout
    with Store(db) as st:  # a 1 s pull is a voluntary reach's speed: no spasm, uncalibrated
        assert not (st.episodes(1)["kind"] == "contraction").any()
        assert "calibrated neutral" in extra(st, 1)["limits"][0]
    still = write_posture_rec(tmp_path / "rest.csv", 10.0, placement="wrist", holds=())
    assert run("calibrate", str(still), "--db", db).exit_code == 0  # placement from the recording
    r = run("replay", str(rec), "--db", db)
    assert r.exit_code == 0 and "note:" not in r.stdout
    with Store(db) as st:
        eps = st.episodes(2)
        assert extra(st, 2)["limits"] == []
    con = eps[eps["kind"] == "contraction"]
    assert list(con["direction"]) == ["flexion"]
    assert con.iloc[0]["peak_angle_deg"] == pytest.approx(36.0, abs=4.0)


def test_accelerometer_only_session_records_and_prints_its_limits(tmp_path):
    db = str(tmp_path / "log.db")
    rec = write_posture_rec(tmp_path / "neck.csv", 45.0, gyro=False)
    r = run("replay", str(rec), "--db", db, "--calibrate", "3")
    assert r.exit_code == 0, r.output
    assert "neutral posture: measured over the first 3 s" in r.stdout
    assert "note: accelerometer only: rotation about the vertical (torticollis" in r.stdout
    with Store(db) as st:
        ex = extra(st, 1)
        eps = st.episodes(1)
    assert ex["limits"][0].startswith("accelerometer only") and ex["calibrated"] is True
    assert ex["calibration"]["turn_dps"] is None
    assert list(eps[eps["kind"] == "contraction"]["direction"]) == ["anterocollis"]


def test_calibrate_command_errors_are_one_line(tmp_path):
    db = str(tmp_path / "log.db")
    nodev = write_posture_rec(tmp_path / "nodev.csv", 12.0, holds=(), device=None)
    one_line_error(run("calibrate", str(nodev), "--db", db), "nodev.csv", "names no device", "--device")
    assert run("calibrate", str(nodev), "--db", db, "--device", "my-imu").exit_code == 0
    moving = write_posture_rec(tmp_path / "moving.csv", 12.0, holds=((2.0, 1.0, 5.0, 20.0),))
    one_line_error(run("calibrate", str(moving), "--db", db), "moving.csv", "moved", "calibrate again")
    short = write_posture_rec(tmp_path / "short.csv", 4.0, holds=())
    one_line_error(run("calibrate", str(short), "--db", db), "short.csv", "only 4.0 s")
    one_line_error(run("calibrate", str(tmp_path / "none.csv"), "--db", db), "none.csv")
    one_line_error(run("calibrate", "--db", db), "recording (REC) or a live sensor")
    one_line_error(run("calibrate", "--db", db, "--device", "reference"), "--placement")
    one_line_error(run("calibrate", str(nodev), "--db", db, "--seconds", "0"), "--seconds")
    one_line_error(run("calibrate", "--list", "--db", str(tmp_path / "absent.db")), "no episode log")
    with Store(db) as st:
        assert [c["device"] for c in st.calibrations()] == ["my-imu"]  # refused ones stored nothing


# --------------------------------------------------------------------------- end to end


def test_neck_posture_end_to_end_csv_and_table(tmp_path):
    """Issue 3, end to end: a neck recording with a held 30 deg forward flexion, replayed with
    --placement neck (the file does not say where it was worn), exported as CSV and shown as
    a table, next to a tremor session in the same log."""
    db = str(tmp_path / "log.db")
    neck = write_posture_rec(tmp_path / "neck.csv", 60.0, placement=None, holds=((20.0, 2.0, 10.0, 30.0),))
    r = run("replay", str(neck), "--db", db, "--placement", "neck")
    assert r.exit_code == 0, r.output
    assert "contraction #1 started" in r.stdout and "anterocollis" in r.stdout
    wrist = write_rec(tmp_path / "wrist.csv", duration_s=60.0, tremor=[(10.0, 40.0)])
    assert run("replay", str(wrist), "--db", db).exit_code == 0
    with Store(db) as st:
        assert st.session(1)["placement"] == "neck"

    rows = csv_rows(run("episodes", "--db", db, "--format", "csv").stdout)
    con = [r for r in rows if r["kind"] == "contraction"]
    trem = [r for r in rows if r["kind"] == "tremor"]
    assert len(con) == 1 and len(trem) == 1
    c = con[0]
    assert c["session_id"] == "1" and c["direction"] == "anterocollis"
    assert 27.0 <= float(c["peak_angle_deg"]) <= 36.0  # 30 deg held, plus up to ~3 deg of sway
    assert 25.0 <= float(c["mean_angle_deg"]) <= float(c["peak_angle_deg"])
    assert float(c["start_s"]) == pytest.approx(20.0, abs=1.5)  # onset at 20 s
    assert float(c["end_s"]) == pytest.approx(33.0, abs=2.0)  # back upright by 34 s
    assert float(c["detected_at_s"]) - float(c["start_s"]) <= 5.0  # reported within the hold
    assert 5.0 <= float(c["onset_speed_dps"]) <= 30.0  # 30 deg over 2 s: 15 deg/s
    assert float(c["co_contraction"]) >= 0.0
    assert all(c[k] == "" for k in TREMOR_ONLY)  # contraction rows: empty tremor cells
    t = trem[0]
    assert t["session_id"] == "2" and float(t["dominant_hz"]) == pytest.approx(5.0, abs=0.5)
    assert all(t[k] == "" for k in CONTRACTION_ONLY)  # tremor rows: empty contraction cells

    table = run("episodes", "--db", db).stdout.splitlines()
    assert table[0] == "tremor episodes (1)" and "severity" in table[1] and "band" in table[1]
    i = table.index("contraction episodes (1)")
    assert table[i - 1] == ""
    head = table[i + 1]
    for col in ("direction", "peak deg", "mean deg", "onset deg/s", "co-contraction g"):
        assert col in head
    assert "severity" not in head
    assert "anterocollis" in table[i + 3] and "00:20" in table[i + 3]
    only = run("episodes", "--db", db, "--session", "1").stdout.splitlines()
    assert "direction" in only[0] and len(only) == 3  # one kind: just the table


def test_runner_records_posture_facts_before_the_end(tmp_path):
    """A crash must still leave the limits in the log: they are written once the stream starts."""
    from tremorscope.session import SessionInfo, SessionRunner

    t, acc, _ = posture_motion(30.0, holds=())
    seen = []

    def on_block(runner):
        seen.append(json.loads(runner.store.session(runner.session_id)["extra_json"]))

    info = SessionInfo("x", 100.0, placement="neck", neutral_g=[0.0, 0.0, 1.0], extra={"a": 1})
    with Store(tmp_path / "log.db") as st:
        SessionRunner(st, info, on_block=on_block).run(blocks(t, acc, None, 100))
        final = extra(st, 1)
    assert seen[0]["limits"][0].startswith("accelerometer only") and seen[0]["a"] == 1
    assert seen[0]["neutral_from"] == "given" and seen[0]["calibrated"] is True
    assert final["neutral_g"] == [0.0, 0.0, 1.0]
    det = StreamingDetector(100.0, placement="neck", neutral_g=[0.0, 0.0, 1.0])
    det.push(t, acc)
    assert final["limits"] == det.limits


def test_simulated_neck_postures_end_to_end(tmp_path):
    """`simulate --scenario neck_postures` -> `replay --placement neck` -> CSV, against the
    simulator's ground truth (events file): the held anterocollis is found with its angle."""
    from firmware_bridge import simulator

    if "neck_postures" not in simulator.SCENARIOS:
        pytest.skip("the simulator has no neck_postures scenario yet")
    rec = tmp_path / "neck.csv"
    r = run("simulate", "--scenario", "neck_postures", "--out", str(rec), "--seed", "1", "--duration", "120")
    assert r.exit_code == 0, r.output
    truth = [
        row for row in csv.DictReader(open(tmp_path / "neck.events.tsv", encoding="utf-8"), delimiter="\t")
        if row["trial_type"] == "contraction"
    ]  # fmt: skip
    assert truth and truth[0]["direction"] == "anterocollis"
    db = str(tmp_path / "log.db")
    r = run("replay", str(rec), "--db", db, "--placement", "neck")
    assert r.exit_code == 0, r.output
    rows = [
        x
        for x in csv_rows(run("episodes", "--db", db, "--format", "csv").stdout)
        if x["kind"] == "contraction"
    ]
    onset, held = float(truth[0]["onset"]), float(truth[0]["duration"])
    hit = [x for x in rows if float(x["start_s"]) < onset + held and float(x["end_s"]) > onset]
    assert len(hit) == 1, rows
    x = hit[0]
    assert x["direction"] == "anterocollis"
    assert float(x["start_s"]) == pytest.approx(onset, abs=1.5)
    assert float(x["peak_angle_deg"]) == pytest.approx(float(truth[0]["angle_deg"]), abs=5.0)
    assert all(x[k] == "" for k in TREMOR_ONLY)


def test_runner_passes_the_detectors_own_calibration_through(tmp_path):
    """SessionInfo(calibrate_s=...) is the detector's calibration; the log says which it was."""
    from tremorscope.session import SessionInfo, SessionRunner

    t, acc, g = posture_motion(30.0, holds=(), sway_deg=0.2)
    info = SessionInfo("x", 100.0, placement="neck", calibrate_s=3.0)
    with Store(tmp_path / "log.db") as st:
        runner = SessionRunner(st, info)
        runner.run(blocks(t, acc, g, 100))
        ex = extra(st, 1)
    assert runner.detector.calibrate_s == 3.0
    assert ex["neutral_from"] == "detector_calibrate_s" and ex["calibrated"] is True
    assert angle_between_deg(ex["neutral_g"], [0.0, 0.0, 1.0]) < 3.0
