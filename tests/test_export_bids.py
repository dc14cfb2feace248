"""BIDS-Motion export and read-back: the files the specification asks for, same samples, same events."""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from review_helpers import raw_arrays, session_start, simulated_session

from firmware_bridge.io.bids import BidsMotionReader, find_motion_file, open_recording
from firmware_bridge.io.recording import RecordingError, RecordingReader
from tremorscope.cli import main
from tremorscope.exports.bids import export_bids
from tremorscope.review.diary import add_note
from tremorscope.store import Store

STEM = "sub-01_task-dailylife_tracksys-imu_run-{sid}"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    tmp = tmp_path_factory.mktemp("bids")
    with Store(tmp / "log.db") as store:
        sid = simulated_session(store, tmp / "rec", "gaps", 120, seed=2)  # jittered, with lost packets
        add_note(store, "levodopa 100 mg", "medication", session_start(store, sid) + timedelta(seconds=40))
        export_bids(store, tmp / "bids", session_id=sid)
    return tmp / "log.db", tmp / "bids", sid


def test_layout_and_sidecars_follow_bids_motion(exported: tuple[Path, Path, int]) -> None:
    db, root, sid = exported
    stem = STEM.format(sid=sid)
    motion = root / "sub-01" / "motion"
    assert sorted(p.name for p in motion.iterdir()) == sorted(
        f"{stem}_{s}"
        for s in ("motion.tsv", "motion.json", "channels.tsv", "channels.json", "events.tsv", "events.json")
    )
    for p in motion.iterdir():
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    desc = json.loads((root / "dataset_description.json").read_text())
    assert desc["BIDSVersion"] and desc["DatasetType"] == "raw" and desc["Name"]
    assert (root / "participants.tsv").read_text() == "participant_id\nsub-01\n"
    channels = pd.read_csv(motion / f"{stem}_channels.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert list(channels.columns[:5]) == ["name", "component", "type", "tracked_point", "units"]
    assert list(channels["type"]) == ["LATENCY", "ACCEL", "ACCEL", "ACCEL", "GYRO", "GYRO", "GYRO"]
    assert list(channels["component"]) == ["n/a", "x", "y", "z", "x", "y", "z"]
    assert list(channels["units"]) == ["s", "m/s^2", "m/s^2", "m/s^2", "rad/s", "rad/s", "rad/s"]
    assert set(channels["tracked_point"]) == {"Wrist"}
    side = json.loads((motion / f"{stem}_motion.json").read_text())
    assert side["SamplingFrequency"] == 100.0 and side["TrackingSystemName"] and side["TaskName"]
    assert (side["MotionChannelCount"], side["ACCELChannelCount"], side["GYROChannelCount"]) == (7, 3, 3)
    assert side["LATENCYChannelCount"] == 1 and side["TrackedPointsCount"] == 1
    with Store(db, create=False) as store:
        row = store.session(sid)
    assert side["SamplingFrequencyEffective"] == pytest.approx(row["effective_rate_hz"], rel=1e-9)
    first = (motion / f"{stem}_motion.tsv").read_text().split("\n", 1)[0].split("\t")
    assert len(first) == 7 and all(_is_number(v) for v in first)  # no header row
    assert float(first[0]) == 0.0  # latency from the first sample
    scans = pd.read_csv(root / "sub-01" / "sub-01_scans.tsv", sep="\t", dtype=str)
    assert list(scans["filename"]) == [f"motion/{stem}_motion.tsv"]
    start = datetime.fromisoformat(row["start_time"]).astimezone(timezone.utc)
    assert scans["acq_time"][0] == start.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_events_are_the_episodes_gaps_and_diary(exported: tuple[Path, Path, int]) -> None:
    db, root, sid = exported
    stem = STEM.format(sid=sid)
    ev = pd.read_csv(root / "sub-01" / "motion" / f"{stem}_events.tsv", sep="\t", na_values=["n/a"])
    assert list(ev.columns[:3]) == ["onset", "duration", "trial_type"]
    assert list(ev["onset"]) == sorted(ev["onset"])
    with Store(db, create=False) as store:
        t, _, _ = raw_arrays(store, sid)
        episodes = store.episodes(sid)
        gaps = store.gaps(sid)
    tremor = ev[ev["trial_type"] == "tremor"].reset_index(drop=True)
    assert len(tremor) == (episodes["kind"] == "tremor").sum() >= 1
    np.testing.assert_allclose(tremor["onset"], episodes["start_s"] - t[0], atol=1e-6)
    np.testing.assert_allclose(tremor["duration"], episodes["duration_s"], atol=1e-6)
    np.testing.assert_allclose(tremor["dominant_hz"], episodes["dominant_hz"])
    assert list(tremor["severity"]) == list(episodes["severity"])
    gap_rows = ev[ev["trial_type"] == "data_gap"]
    assert len(gap_rows) == len(gaps) >= 1
    np.testing.assert_allclose(gap_rows["onset"], gaps["start_s"] - t[0], atol=1e-6)
    diary = ev[ev["trial_type"] == "diary_medication"]
    assert list(diary["note"]) == ["levodopa 100 mg"] and diary["onset"].iloc[0] == pytest.approx(
        40.0, abs=1e-3
    )
    levels = json.loads((root / "sub-01" / "motion" / f"{stem}_events.json").read_text())["trial_type"][
        "Levels"
    ]
    assert set(ev["trial_type"]) <= set(levels)


def test_read_back_gives_the_same_samples(exported: tuple[Path, Path, int]) -> None:
    db, root, sid = exported
    with Store(db, create=False) as store:
        t, acc, gyro = raw_arrays(store, sid)
        row = store.session(sid)
    reader = open_recording(root)
    assert isinstance(reader, BidsMotionReader)
    with reader:
        blocks = list(reader.blocks())
        assert reader.sample_rate_hz == 100.0 and reader.placement == "wrist" and reader.has_gyro
        assert reader.start_time == datetime.fromisoformat(row["start_time"])
        assert reader.device == row["device"]
        assert reader.stats.rows == len(t) and reader.stats.skipped == 0
        assert reader.progress == 1.0
    np.testing.assert_allclose(np.concatenate([b.t for b in blocks]), t, atol=1e-6, rtol=0)
    np.testing.assert_allclose(np.concatenate([b.acc for b in blocks]), acc, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.concatenate([b.gyro for b in blocks]), gyro, rtol=1e-6, atol=1e-4)


def test_replay_reads_a_bids_folder(exported: tuple[Path, Path, int], tmp_path: Path) -> None:
    db, root, sid = exported
    db2 = tmp_path / "again.db"
    r = CliRunner().invoke(main, ["replay", str(root), "--db", str(db2)])
    assert r.exit_code == 0, r.output
    with Store(db, create=False) as a, Store(db2, create=False) as b:
        old, new = a.session(sid), b.session(1)
        assert new["samples"] == old["samples"] and new["start_time"] == old["start_time"]
        assert new["placement"] == "wrist" and new["has_gyro"] == 1
        assert new["t_start_s"] == pytest.approx(old["t_start_s"], abs=1e-6)
        e_old, e_new = a.episodes(sid), b.episodes(1)
        assert list(e_new["kind"]) == list(e_old["kind"])
        np.testing.assert_allclose(e_new["start_s"], e_old["start_s"], atol=0.3)
        assert b.gaps(1)["start_s"].round(3).tolist() == a.gaps(sid)["start_s"].round(3).tolist()


def _third_party(
    root: Path, rows: list[str], units: tuple[str, str] = ("m/s^2", "rad/s"), acq: str | None = None
):
    """A hand-made BIDS-Motion run as another tool would write it (no LATENCY channel)."""
    motion = root / "sub-07" / "ses-1" / "motion"
    motion.mkdir(parents=True)
    stem = "sub-07_ses-1_task-rest_tracksys-phone_motion"
    chans = ["name\tcomponent\ttype\ttracked_point\tunits"]
    chans += [f"acc_{c}\t{c}\tACCEL\tLeftWrist\t{units[0]}" for c in "xyz"]
    chans += [f"gyr_{c}\t{c}\tGYRO\tLeftWrist\t{units[1]}" for c in "xyz"]
    chans += [f"ankle_acc_{c}\t{c}\tACCEL\tLeftAnkle\tm/s^2" for c in "xyz"]
    (motion / f"{stem[:-7]}_channels.tsv").write_text("\n".join(chans) + "\n")
    (motion / f"{stem}.json").write_text(
        json.dumps(
            {
                "SamplingFrequency": 50,
                "TrackingSystemName": "phone",
                "TaskName": "rest",
                "Manufacturer": "Acme",
                "ManufacturersModelName": "Phone 3",
            }
        )
    )
    (motion / f"{stem}.tsv").write_text("\n".join(rows) + "\n")
    if acq:
        (root / "sub-07" / "ses-1" / "sub-07_ses-1_scans.tsv").write_text(
            f"filename\tacq_time\nmotion/{stem}.tsv\t{acq}\n"
        )
    return motion / f"{stem}.tsv"


def test_third_party_dataset_units_missing_values_and_tracked_points(tmp_path: Path) -> None:
    g, rad = 9.80665, np.pi / 180
    rows = []
    for i in range(100):
        acc = (0.1 * i / 100, 0.0, 1.0)
        gyro = (10.0, -5.0, 0.5 * i)
        vals = [a * g for a in acc] + [w * rad for w in gyro] + [0.0, 0.0, 9.8]
        rows.append("\t".join(f"{v:.9g}" for v in vals))
    rows[10] = "\t".join(["n/a"] + rows[10].split("\t")[1:])  # a missing value: skipped, counted
    path = _third_party(tmp_path, rows, acq="2024-05-01T10:00:00.250000Z")
    assert find_motion_file(tmp_path) == path
    with BidsMotionReader(tmp_path) as r:
        blocks = list(r.blocks())
        assert r.placement == "wrist" and r.device == "Acme Phone 3" and r.meta["task"] == "rest"
        assert (
            r.meta["bids_tracked_point"] == "LeftWrist" and r.meta["bids_other_tracked_points"] == "LeftAnkle"
        )
        assert r.start_time == datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=timezone.utc)
        assert r.stats.rows == 99 and r.stats.skipped_missing == 1
    t = np.concatenate([b.t for b in blocks])
    acc = np.concatenate([b.acc for b in blocks])
    gyro = np.concatenate([b.gyro for b in blocks])
    np.testing.assert_allclose(t, np.delete(np.arange(100) / 50.0, 10))  # from SamplingFrequency
    np.testing.assert_allclose(acc[:, 0], np.delete(0.1 * np.arange(100) / 100, 10), atol=1e-8)
    np.testing.assert_allclose(acc[:, 2], 1.0, atol=1e-8)
    np.testing.assert_allclose(gyro[:, 0], 10.0, atol=1e-7)
    np.testing.assert_allclose(gyro[:, 2], np.delete(0.5 * np.arange(100), 10), atol=1e-6)


def test_units_g_and_deg_per_s_are_accepted(tmp_path: Path) -> None:
    rows = ["0.5\t0\t1\t30\t0\t0\t0\t0\t1"] * 3
    _third_party(tmp_path, rows, units=("g", "deg/s"))
    with BidsMotionReader(tmp_path) as r:
        (b,) = list(r.blocks())
    assert b.acc[0].tolist() == [0.5, 0.0, 1.0] and b.gyro[0].tolist() == [30.0, 0.0, 0.0]
    assert r.start_time is None  # no scans file: no wall clock


@pytest.mark.parametrize(
    "damage, fragment",
    [
        ("units", "GYRO units 'furlong/s' are not supported; use rad/s"),
        ("no_channels", "channels.tsv: missing"),
        ("no_rate", "has no SamplingFrequency (REQUIRED"),
        ("text", "line 2: non-numeric value 'abc'; fix it or write n/a"),
        ("wide", "row has 10 columns but earlier rows have 9"),
        ("two", "holds 2 BIDS-Motion recordings; pass one of them"),
        ("empty_dir", "without any *_motion.tsv"),
    ],
)
def test_broken_datasets_are_one_line_errors(tmp_path: Path, damage: str, fragment: str) -> None:
    rows = ["0.1\t0\t9.8\t0\t0\t0\t0\t0\t9.8"] * 4
    if damage == "empty_dir":
        (tmp_path / "x").mkdir()
        target = tmp_path / "x"
    else:
        path = _third_party(tmp_path, rows, units=("m/s^2", "furlong/s" if damage == "units" else "rad/s"))
        target = tmp_path
        if damage == "no_channels":
            next(path.parent.glob("*_channels.tsv")).unlink()
        if damage == "no_rate":
            side = next(path.parent.glob("*_motion.json"))
            side.write_text(json.dumps({"TrackingSystemName": "phone"}))
        if damage == "text":
            path.write_text(rows[0] + "\n" + rows[0].replace("0.1", "abc", 1) + "\n")
        if damage == "wide":
            path.write_text(rows[0] + "\n" + rows[0] + "\t1\n")
        if damage == "two":
            other = path.parent.parent.parent / "ses-2" / "motion"
            other.mkdir(parents=True)
            (other / path.name.replace("ses-1", "ses-2")).write_text(rows[0] + "\n")
    with pytest.raises(RecordingError) as err:
        with open_recording(target) as reader:
            list(reader.blocks())
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_plain_recordings_still_open_with_the_canonical_reader(tmp_path: Path) -> None:
    from app_helpers import write_rec

    rec = write_rec(tmp_path / "r.csv", duration_s=5)
    with open_recording(rec) as reader:
        assert isinstance(reader, RecordingReader)
    r = CliRunner().invoke(main, ["replay", str(tmp_path / "nothing-here"), "--db", str(tmp_path / "l.db")])
    assert r.exit_code == 1 and "file not found" in r.output


@pytest.mark.parametrize("chunk_rows", [2, 3, 100])
def test_a_wide_row_is_an_error_wherever_the_chunks_fall(tmp_path: Path, chunk_rows: int) -> None:
    """pandas drops a surplus field silently when the row starts a chunk; the reader must not."""
    rows = ["0.1\t0\t9.8\t0\t0\t0\t0\t0\t9.8"] * 6
    rows[3] += "\t1"
    _third_party(tmp_path, rows, units=("m/s^2", "rad/s"))
    with pytest.raises(RecordingError) as err:
        with open_recording(tmp_path, chunk_rows=chunk_rows) as reader:
            list(reader.blocks())
    assert "row has 10 columns but earlier rows have 9" in str(err.value)
    assert "line 4" in str(err.value)


#: The validator's warnings that remain on an export, each named in the README ("BIDS-Motion
#: export"): facts the log does not know (institution, authors, licence, serial number where the
#: device reports none) or that do not apply (HED tags, stimuli, source datasets).
EXPECTED_VALIDATOR_WARNINGS = {
    ("JSON_KEY_RECOMMENDED", "HEDVersion"),
    ("JSON_KEY_RECOMMENDED", "License"),
    ("JSON_KEY_RECOMMENDED", "SourceDatasets"),
    ("NO_AUTHORS", "Authors"),
    ("TOO_FEW_AUTHORS", None),
    ("SIDECAR_KEY_RECOMMENDED", "DeviceSerialNumber"),
    ("SIDECAR_KEY_RECOMMENDED", "InstitutionAddress"),
    ("SIDECAR_KEY_RECOMMENDED", "InstitutionName"),
    ("SIDECAR_KEY_RECOMMENDED", "InstitutionalDepartmentName"),
    ("SIDECAR_KEY_RECOMMENDED", "StimulusPresentation"),
    ("SIDECAR_KEY_RECOMMENDED", "SubjectArtefactDescription"),
}


def test_sidecars_hold_schema_keys_and_project_metadata_sits_in_sourcedata(
    exported: tuple[Path, Path, int], tmp_path: Path
) -> None:
    db, root, sid = exported
    stem = STEM.format(sid=sid)
    side = json.loads((root / "sub-01" / "motion" / f"{stem}_motion.json").read_text())
    assert "tremorscope" not in side
    assert (side["Manufacturer"], side["ManufacturersModelName"]) == (
        "tremorscope",
        "simulator (synthetic data)",
    )
    for kind in ("ANGACCEL", "JNTANG", "MAGN", "MISC", "ORNT", "POS", "VEL"):
        assert side[f"{kind}ChannelCount"] == 0
    own = root / "sourcedata" / "tremorscope" / "sub-01" / "motion" / f"{stem}_tremorscope.json"
    extra = json.loads(own.read_text())["tremorscope"]
    with Store(db, create=False) as store:
        row = store.session(sid)
    assert extra["session_id"] == sid and extra["start_time"] == row["start_time"]
    # an export made before this change (the object inside motion.json) still reads back
    import shutil

    old = tmp_path / "old"
    shutil.copytree(root, old)
    shutil.rmtree(old / "sourcedata")
    motion_json = old / "sub-01" / "motion" / f"{stem}_motion.json"
    motion_json.write_text(json.dumps({**side, "tremorscope": extra}))
    with open_recording(old) as reader:
        assert reader.start_time == datetime.fromisoformat(row["start_time"])


def test_official_bids_validator_finds_no_errors(exported: tuple[Path, Path, int]) -> None:
    """bids-validator-deno (the official validator, from PyPI, in the test extra) on an export."""
    import shutil
    import subprocess

    exe = shutil.which("bids-validator-deno")
    if exe is None:
        pytest.skip("bids-validator-deno not installed: pip install -e '.[test]'")
    _, root, _ = exported
    p = subprocess.run([exe, "--format", "json", str(root)], capture_output=True, text=True, timeout=300)
    assert p.stdout.strip(), p.stderr
    issues = json.loads(p.stdout)["issues"]["issues"]
    errors = [i for i in issues if i["severity"] == "error"]
    assert errors == [], errors
    warnings = {(i["code"], i.get("subCode")) for i in issues if i["severity"] == "warning"}
    assert warnings <= EXPECTED_VALIDATOR_WARNINGS, warnings - EXPECTED_VALIDATOR_WARNINGS
