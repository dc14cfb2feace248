"""EDF+ export, read back with pyedflib: same samples within quantisation, same annotations."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyedflib
import pytest
from click.testing import CliRunner
from review_helpers import raw_arrays, session_start, simulated_session

from firmware_bridge.samples import SampleBlock
from tremorscope.cli import main
from tremorscope.exports.base import ExportError
from tremorscope.exports.edf import ANNOTATION_CHARS, episode_annotation, export_edf
from tremorscope.review.diary import add_note
from tremorscope.store import Store


def _read(path: Path) -> dict:
    r = pyedflib.EdfReader(str(path))
    try:
        n = r.signals_in_file
        out = {
            "labels": r.getSignalLabels(),
            "dims": [r.getPhysicalDimension(i) for i in range(n)],
            "fs": list(r.getSampleFrequencies()),
            "signals": [r.readSignal(i) for i in range(n)],
            "step": [(r.getPhysicalMaximum(i) - r.getPhysicalMinimum(i)) / 65535 for i in range(n)],
            "phys_min": [r.getPhysicalMinimum(i) for i in range(n)],
            "transducers": [r.getTransducer(i) for i in range(n)],
            "annotations": r.readAnnotations(),
            "start": r.getStartdatetime(),
            "equipment": r.getEquipment(),
            "filetype": r.filetype,
        }
    finally:
        r.close()
    return out


def _expected_annotations(store: Store, sid: int, t0: float) -> list[tuple[float, str]]:
    eps = store.episodes(sid).to_dict("records")
    return sorted((round(e["start_s"] - t0, 4), episode_annotation(e)) for e in eps)


def test_evenly_sampled_session_round_trips_exactly_within_quantisation(tmp_path: Path) -> None:
    with Store(tmp_path / "log.db") as store:
        # an ideal sensor: no jitter, no lost packets, so the EDF grid is the samples themselves
        sid = simulated_session(store, tmp_path / "rec", "rest_tremor", 90, ideal=True)
        start = session_start(store, sid)
        add_note(
            store,
            "levodopa 100 mg after breakfast, with water and toast",
            "medication",
            start + timedelta(seconds=12.5),
        )
        add_note(store, "yesterday", "sleep", start - timedelta(days=1))  # outside: not annotated
        t, acc, gyro = raw_arrays(store, sid)
        (path,) = export_edf(store, tmp_path / "s.edf", session_id=sid)
        expected = _expected_annotations(store, sid, float(t[0]))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    edf = _read(path)
    assert edf["filetype"] == pyedflib.FILETYPE_EDFPLUS
    assert edf["labels"] == [f"MISC {c}" for c in ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")]
    assert edf["dims"] == ["g"] * 3 + ["deg/s"] * 3
    assert [x.split()[1] for x in edf["transducers"]] == ["accelerometer"] * 3 + ["gyroscope"] * 3
    assert edf["fs"] == [100.0] * 6
    assert edf["start"] == start.replace(tzinfo=None, microsecond=0)
    assert edf["equipment"] == "tremorscope simulator"
    np.testing.assert_allclose(np.diff(t), 0.01, atol=1e-9)  # the premise: evenly sampled
    x = np.hstack([acc, gyro])
    for c in range(6):
        sig = edf["signals"][c]
        assert len(sig) >= len(t) and len(sig) - len(t) < 100  # the last record is padded
        err = np.abs(sig[: len(t)] - x[:, c]).max()
        assert err <= edf["step"][c] * 1.01, (edf["labels"][c], err, edf["step"][c])
        assert edf["step"][c] < (1e-3 if c < 3 else 0.1)  # fine enough for tremor amplitudes
    onsets, durations, texts = edf["annotations"]
    got = sorted(
        (round(float(o), 4), str(s))
        for o, s in zip(onsets, texts, strict=True)
        if not str(s).startswith(("medication", "sleep"))
    )
    assert got == expected and len(expected) >= 1
    diary = [
        (float(o), float(d), str(s))
        for o, d, s in zip(onsets, durations, texts, strict=True)
        if str(s).startswith(("medication", "sleep"))
    ]
    assert diary == [(pytest.approx(12.5, abs=1e-3), -1.0, "medication: levodopa 100 mg after breakf")]
    assert len(diary[0][2]) == ANNOTATION_CHARS


def test_uneven_timestamps_and_gaps(tmp_path: Path) -> None:
    """Jittered samples land on the grid by interpolation; a 3 s hole holds each channel's
    physical minimum, below every real sample, and is annotated."""
    rng = np.random.default_rng(5)
    t = np.arange(0, 20, 0.02) + rng.normal(0, 0.002, 1000)
    t.sort()
    keep = (t < 8.0) | (t > 11.0)
    t = t[keep] + 1000.0  # a device clock that does not start at 0
    acc = np.column_stack([0.3 * np.sin(2 * np.pi * 0.7 * t), 0.1 * np.cos(t), np.ones(t.size)])
    with Store(tmp_path / "log.db") as store:
        sid = store.begin_session("synthetic", sample_rate_hz=50.0, placement="wrist", has_gyro=False)
        store.add_samples(sid, SampleBlock(t[:400], acc[:400]))
        store.add_samples(sid, SampleBlock(t[400:], acc[400:]))
        store.finish_session(sid, samples=t.size, t_start_s=float(t[0]), t_end_s=float(t[-1]))
        raw_t, raw_acc, _ = raw_arrays(store, sid)
        (path,) = export_edf(store, tmp_path / "out", session_id=sid)
    assert path == tmp_path / "out" / f"session-{sid}.edf"
    edf = _read(path)
    assert edf["labels"] == ["MISC acc_x", "MISC acc_y", "MISC acc_z"] and edf["fs"] == [50.0] * 3
    grid = raw_t[0] + np.arange(len(edf["signals"][0])) / 50.0
    inside = grid <= raw_t[-1]
    gap = (grid > raw_t[raw_t < 1008.0][-1]) & (grid < raw_t[raw_t > 1011.0][0])
    for c in range(3):
        want = np.interp(grid, raw_t, raw_acc[:, c])
        ok = inside & ~gap
        assert np.abs(edf["signals"][c][ok] - want[ok]).max() <= edf["step"][c] * 1.01
        sig = edf["signals"][c]
        # the gap holds the physical minimum, clearly below every real sample (not 0 g)
        assert gap.sum() > 100 and np.all(np.abs(sig[gap] - edf["phys_min"][c]) <= edf["step"][c])
        margin = raw_acc[:, c].min() - edf["phys_min"][c]
        assert margin >= 0.05 * np.ptp(raw_acc[:, c]), (c, margin)
        assert np.all(sig[~gap & inside] > edf["phys_min"][c] + 0.5 * margin)
        assert np.all(np.abs(sig[~inside] - edf["phys_min"][c]) <= edf["step"][c])  # padding too
    onsets, durations, texts = edf["annotations"]
    gaps = [(float(o), float(d)) for o, d, s in zip(onsets, durations, texts, strict=True) if s == "data gap"]
    assert len(gaps) == 1
    before = float(raw_t[raw_t < 1008.0][-1] - raw_t[0])
    after = float(raw_t[raw_t > 1011.0][0] - raw_t[0])
    assert gaps[0] == (pytest.approx(before, abs=1e-3), pytest.approx(after - before, abs=1e-3))


def test_many_annotations_fit_in_a_short_file(tmp_path: Path) -> None:
    """EDFlib stores one annotation per record and annotation signal: room is made for all."""
    from dsp.events import Episode

    t = np.arange(0, 5, 0.01)
    acc = np.column_stack([np.zeros_like(t), np.zeros_like(t), np.ones_like(t)])
    with Store(tmp_path / "log.db") as store:
        sid = store.begin_session("synthetic", sample_rate_hz=100.0, has_gyro=False)
        store.add_samples(sid, SampleBlock(t, acc))
        for k in range(40):
            store.upsert_episode(
                sid, Episode(k, "tremor", 0.1 * k, 0.1 * k + 0.05, 0.1 * k, dominant_hz=5.0), open=False
            )
        store.finish_session(sid, samples=t.size, t_start_s=0.0, t_end_s=float(t[-1]))
        (path,) = export_edf(store, tmp_path / "a.edf", session_id=sid)
    onsets, _, texts = _read(path)["annotations"]
    assert len(onsets) == 40 and set(texts) == {"tremor 5.0Hz"}
    np.testing.assert_allclose(sorted(onsets), 0.1 * np.arange(40), atol=1e-4)


def test_edf_errors_and_command(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    with Store(db) as store:
        a = simulated_session(store, tmp_path / "rec", "rest_tremor", 30)
        simulated_session(store, tmp_path / "rec", "rest_tremor", 30, seed=4)
        with pytest.raises(ExportError, match="2 sessions to export"):
            export_edf(store, tmp_path / "x.edf")
        empty = store.begin_session("nothing", sample_rate_hz=100.0)
        store.finish_session(empty)
        with pytest.raises(ExportError, match="no session with raw samples"):
            export_edf(store, tmp_path / "y.edf", session_id=empty)
    r = CliRunner().invoke(main, ["export", "--format", "edf", "--db", str(db), str(tmp_path / "all")])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["session-1.edf", "session-2.edf"]
    r = CliRunner().invoke(
        main,
        [
            "export",
            "--format",
            "edf",
            "--db",
            str(db),
            "--session",
            str(a),
            str(tmp_path / "all" / "session-1.edf"),
        ],
    )
    assert r.exit_code == 1 and "already exists" in r.output


def test_out_path_means_what_it_looks_like(tmp_path: Path) -> None:
    """`x.edf` is that file, a folder gets default names, `x.txt` is refused (no folder made)."""
    db = tmp_path / "log.db"
    with Store(db) as store:
        simulated_session(store, tmp_path / "rec", "rest_tremor", 20)

    def run(out: Path) -> object:
        return CliRunner().invoke(main, ["export", "--format", "edf", "--db", str(db), str(out)])

    r = run(tmp_path / "out" / "x.txt")
    assert r.exit_code == 1 and "looks like a .txt file" in r.output and ".edf" in r.output
    assert not (tmp_path / "out").exists()
    r = run(tmp_path / "out" / "Day One.EDF")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "Day One.EDF").is_file()
    r = run(tmp_path / "folder")
    assert r.exit_code == 0, r.output
    assert [p.name for p in (tmp_path / "folder").iterdir()] == ["session-1.edf"]
    for fmt in ("csv", "bids"):
        r = CliRunner().invoke(main, ["export", "--format", fmt, "--db", str(db), str(tmp_path / "t.csv")])
        assert r.exit_code == 1 and "writes a folder" in r.output, r.output
        assert not (tmp_path / "t.csv").exists()


def test_mne_reads_types_units_and_annotations(tmp_path: Path) -> None:
    """MNE (the tool researchers open EDF+ with) sees misc channels in g and deg/s, not EEG in V."""
    mne = pytest.importorskip("mne", reason="mne not installed: pip install -e '.[mne]'")
    with Store(tmp_path / "log.db") as store:
        sid = simulated_session(store, tmp_path / "rec", "rest_tremor", 60, ideal=True)
        t, acc, gyro = raw_arrays(store, sid)
        (path,) = export_edf(store, tmp_path / "s.edf", session_id=sid)
        n_eps = len(store.episodes(sid))
    raw = mne.io.read_raw_edf(path, infer_types=True, preload=True, verbose="error")
    assert raw.ch_names == ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
    assert raw.get_channel_types() == ["misc"] * 6
    # MNE keeps only single SI unit symbols in _orig_units (mne/_fiff/utils.py, _check_orig_units):
    # g and deg/s become "n/a" there, but the values are not rescaled as volts would be
    assert raw.info["sfreq"] == 100.0
    data = raw.get_data()
    # values in the recorded units (g, deg/s), not scaled as volts
    np.testing.assert_allclose(data[:3, : len(t)].T, acc, atol=1e-3)
    np.testing.assert_allclose(data[3:, : len(t)].T, gyro, atol=0.1)
    tremor = [d for d in raw.annotations.description if d.startswith("tremor")]
    assert len(tremor) == n_eps >= 1
