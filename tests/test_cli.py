"""The command line end to end: simulate -> replay -> episodes, errors, db location, signals."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from app_helpers import isolated_env, tremorscope_cmd, write_rec
from cli_helpers import isolated_home, one_line_error, run  # noqa: F401 - isolated_home is autouse

import tremorscope
from dsp.events import EPISODE_COLUMNS
from tremorscope.cli import main
from tremorscope.store import Store

START = "2024-03-01T09:00:00+01:00"


def parse_csv(text: str) -> tuple[list[str], list[dict[str, str]]]:
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    return header, [dict(zip(header, r, strict=True)) for r in rows[1:]]


def check_episode_csv(text: str, start_time: str | None = START) -> list[dict[str, str]]:
    """The export contract: header exact, rows parse, times consistent."""
    header, rows = parse_csv(text)
    assert header == list(EPISODE_COLUMNS)
    t0 = datetime.fromisoformat(start_time) if start_time else None
    for r in rows:
        start, end, dur = float(r["start_s"]), float(r["end_s"]), float(r["duration_s"])
        assert end > start and dur == pytest.approx(end - start, abs=1e-6)
        assert float(r["detected_at_s"]) >= start
        assert r["kind"] in ("tremor", "contraction")
        assert int(r["session_id"]) >= 1 and int(r["episode_id"]) >= 1
        if r["kind"] == "tremor":
            assert 3.0 <= float(r["dominant_hz"]) <= 18.0
            assert r["severity"] in ("none", "slight", "mild", "moderate", "strong")
            assert r["peak_angle_deg"] == ""  # None is an empty cell
        if t0 is not None:
            onset = datetime.fromisoformat(r["start_time"])
            assert (onset - t0).total_seconds() == pytest.approx(start, abs=0.01)
        else:
            assert r["start_time"] == ""
    return rows


# --------------------------------------------------------------------------- end to end


def test_replay_then_export_csv_json_table(tmp_path):
    rec = write_rec(tmp_path / "rec.csv", duration_s=100.0, tremor=[(10.0, 40.0), (60.0, 85.0)])
    db = str(tmp_path / "log.db")
    r = run("replay", str(rec), "--db", db)
    assert r.exit_code == 0, r.output
    assert r.stderr == ""  # not a terminal: no progress bar
    lines = r.stdout.splitlines()
    assert sum("started" in ln for ln in lines) == 2 and sum("ended after" in ln for ln in lines) == 2
    assert lines[0].startswith("00:1")  # onset near 00:10, printed as mm:ss
    assert "session 1 complete: 2 episodes" in r.stdout and "10000 samples (01:39)" in r.stdout

    c = run("episodes", "--db", db, "--format", "csv")
    assert c.exit_code == 0
    rows = check_episode_csv(c.stdout)
    assert len(rows) == 2
    assert [round(float(x["start_s"])) for x in rows] == pytest.approx([10, 60], abs=2)
    assert all(float(x["dominant_hz"]) == pytest.approx(5.0, abs=0.5) for x in rows)

    j = run("episodes", "--db", db, "--format", "json")
    data = json.loads(j.stdout)
    assert [list(d) for d in data] == [list(EPISODE_COLUMNS)] * 2
    assert [d["start_s"] for d in data] == [float(x["start_s"]) for x in rows]
    assert data[0]["peak_angle_deg"] is None and data[0]["kind"] == "tremor"

    t = run("episodes", "--db", db)
    tl = t.stdout.splitlines()
    assert len(tl) == 4 and "severity" in tl[0] and "Hz" in tl[0] and "band" in tl[0]
    assert "2024-03-01 09:00:1" in tl[2] and " 00:1" in tl[2]  # local clock and mm:ss

    # a second session; --session picks one, 'latest' works
    run("replay", str(rec), "--db", db)
    both = parse_csv(run("episodes", "--db", db, "--format", "csv").stdout)[1]
    assert sorted({r["session_id"] for r in both}) == ["1", "2"]
    one = parse_csv(run("episodes", "--db", db, "--format", "csv", "--session", "latest").stdout)[1]
    assert {r["session_id"] for r in one} == {"2"} and len(one) == 2
    s = run("sessions", "--db", db)
    assert s.exit_code == 0 and len(s.stdout.splitlines()) == 4 and "complete" in s.stdout


def test_simulate_replay_episodes_end_to_end(tmp_path):
    from firmware_bridge import simulator

    listing = run("simulate", "--list")
    assert listing.exit_code == 0
    assert all(name in listing.stdout for name in simulator.SCENARIOS)

    out = tmp_path / "sim" / "rec.csv"
    out.parent.mkdir()
    r = run("simulate", "--scenario", "rest_tremor", "--out", str(out), "--seed", "3",
            "--duration", "240")  # fmt: skip
    assert r.exit_code == 0, r.output
    truth_path = Path(str(out)[: -len(".csv")] + ".events.tsv")
    assert out.exists() and truth_path.exists()
    assert str(out) in r.stdout and str(truth_path) in r.stdout
    truth = pd.read_csv(truth_path, sep="\t")
    assert {"onset", "duration", "trial_type"} <= set(truth.columns)
    tremor = truth[truth.trial_type == "tremor"]
    assert len(tremor) >= 2

    db = str(tmp_path / "log.db")
    rp = run("replay", str(out), "--db", db)
    assert rp.exit_code == 0, rp.output
    csv_text = run("episodes", "--db", db, "--format", "csv").stdout
    with Store(db) as st:
        start_time = st.session(1)["start_time"]
    rows = check_episode_csv(csv_text, start_time)
    found = [(float(x["start_s"]), float(x["end_s"])) for x in rows]
    tol_s = 3.0
    for s, e in found:  # every logged episode is real tremor
        assert ((tremor.onset - tol_s < e) & (tremor.onset + tremor.duration + tol_s > s)).any(), (s, e)
    for t in tremor[tremor.amplitude_g >= 0.05].itertuples():  # every clear tremor is logged
        assert any(s < t.onset + t.duration and e > t.onset for s, e in found), t


def test_installed_entry_point_real_subprocess(tmp_path):
    exe = Path(sys.executable).with_name("tremorscope")
    assert exe.exists(), "install the project: python -m pip install -e '.[test]'"
    rec = write_rec(tmp_path / "rec.csv.gz", duration_s=60.0, tremor=[(20.0, 45.0)])
    env = isolated_env(tmp_path)
    p = subprocess.run([str(exe), "replay", str(rec)], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    assert "started" in p.stdout and "ended after" in p.stdout
    default_db = Path(env["XDG_DATA_HOME"]) / "tremorscope" / "tremorscope.db"
    assert default_db.exists() and f"logged in {default_db}" in p.stdout
    c = subprocess.run([str(exe), "episodes", "--format", "csv"], env=env, capture_output=True, text=True)
    assert c.returncode == 0
    assert len(check_episode_csv(c.stdout)) == 1


def test_progress_bar_only_on_a_terminal(tmp_path):
    rec = write_rec(tmp_path / "rec.csv", duration_s=300.0, tremor=[])
    env = isolated_env(tmp_path)
    master, slave = os.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    p = subprocess.run(
        [*tremorscope_cmd(), "replay", str(rec), "--db", str(tmp_path / "a.db")],
        env=env, stdout=subprocess.PIPE, stderr=slave, timeout=120,
    )  # fmt: skip
    os.close(slave)
    reader.join(5)
    os.close(master)
    tty_err = b"".join(chunks).decode(errors="replace")
    assert p.returncode == 0
    assert "rec.csv" in tty_err and "100%" in tty_err  # the bar, with its label
    assert "session 1 complete" in p.stdout.decode()

    q = subprocess.run(
        [*tremorscope_cmd(), "replay", str(rec), "--db", str(tmp_path / "b.db")],
        env=env, capture_output=True, timeout=120,
    )  # fmt: skip
    assert q.returncode == 0 and q.stderr == b""


def test_sigterm_ends_replay_cleanly(tmp_path):
    rec = write_rec(tmp_path / "rec.csv", duration_s=120.0, tremor=[(1.0, 120.0)])
    db = tmp_path / "log.db"
    proc = subprocess.Popen(
        [*tremorscope_cmd(), "replay", str(rec), "--db", str(db), "--speed", "4"],
        env=isolated_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            n = conn.execute("SELECT count(*) FROM episodes").fetchone()[0]
            conn.close()
            if n:
                break
        except sqlite3.Error:
            pass
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    assert "stopped by SIGTERM" in out
    with Store(db) as st:
        row = st.session(1)
        assert row["status"] == "interrupted" and row["ended_at"] and row["samples"] > 0
        eps = st.episodes(1, with_open=True)
        assert len(eps) == 1 and eps.iloc[0]["open"] == 0  # flushed and closed
        assert st.sample_count(1) == row["samples"]


def test_demo_writes_session_and_prints_table(tmp_path):
    db = str(tmp_path / "log.db")
    r = run("demo", "--db", db)
    assert r.exit_code == 0, r.output
    assert "severity" in r.stdout and "session 1 complete" in r.stdout
    with Store(db) as st:
        row = st.session(1)
        assert row["mode"] == "demo" and row["samples"] > 0
        assert len(st.episodes(1)) >= 1


def test_demo_generates_its_recording_when_not_bundled(tmp_path, monkeypatch):
    import tremorscope.demo as demo

    monkeypatch.setattr(demo, "find_demo_recording", lambda: None)
    db = str(tmp_path / "log.db")
    r = run("demo", "--db", db)
    assert r.exit_code == 0, r.output
    with Store(db) as st:
        row = st.session(1)
        assert "generated" in row["source"] and row["mode"] == "demo"
        assert row["samples"] == pytest.approx(demo.DEMO_DURATION_S * 100, rel=0.05)


# --------------------------------------------------------------------------- where the log lives


def test_db_location_flag_beats_env_beats_default(tmp_path, monkeypatch, isolated_home):  # noqa: F811
    rec = write_rec(tmp_path / "rec.csv", duration_s=15.0, tremor=[])
    env_db, flag_db = tmp_path / "env.db", tmp_path / "flag.db"
    default_db = isolated_home / "xdg-data" / "tremorscope" / "tremorscope.db"

    assert run("replay", str(rec)).exit_code == 0
    assert default_db.exists()
    assert stat.S_IMODE(os.stat(default_db).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(default_db.parent).st_mode) == 0o700

    monkeypatch.setenv("TREMORSCOPE_DB", str(env_db))
    assert run("replay", str(rec)).exit_code == 0
    assert run("replay", str(rec), "--db", str(flag_db)).exit_code == 0
    counts = {}
    for p in (default_db, env_db, flag_db):
        with Store(p) as st:
            counts[p.name] = len(st.sessions())
    assert counts == {"tremorscope.db": 1, "env.db": 1, "flag.db": 1}
    assert "env.db" in run("sessions").stdout or run("sessions").exit_code == 0


# --------------------------------------------------------------------------- bad input


def test_bad_input_is_one_line_and_loses_nothing(tmp_path):
    good = write_rec(tmp_path / "good.csv", duration_s=60.0, tremor=[(10.0, 50.0)])
    db = str(tmp_path / "log.db")
    assert run("replay", str(good), "--db", db).exit_code == 0
    before = run("episodes", "--db", db, "--format", "csv").stdout
    assert len(parse_csv(before)[1]) == 1

    bad_header = tmp_path / "bad_header.csv"
    bad_header.write_text("# sample_rate_hz: 100\ntime,ax,ay,az\n0,0,0,1\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    # past the reader's first 100 000-row chunk, so the replay has started when it is found
    midfile = write_rec(
        tmp_path / "mid.csv", duration_s=1030.0, extra_lines={101_000: "1010.005,0.1,oops,1,0,0,0"}
    )
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"min_rms_g": 0.01,,}')
    unknown_key = tmp_path / "unknown.json"
    unknown_key.write_text('{"min_rms_gg": 0.01}')
    not_db = tmp_path / "notes.txt"
    not_db.write_text("dear diary\n" * 50)

    cases = [
        (["replay", str(tmp_path / "missing.csv"), "--db", db], ["missing.csv"]),
        (["replay", str(bad_header), "--db", db], ["bad_header.csv"]),
        (["replay", str(empty), "--db", db], ["empty.csv"]),
        (["replay", str(midfile), "--db", db], ["mid.csv", "line", "session 2 kept"]),
        (["replay", str(good), "--db", db, "--config", str(bad_json)], ["bad.json", "line 1"]),
        (["replay", str(good), "--db", db, "--config", str(unknown_key)], ["min_rms_gg"]),
        (["replay", str(good), "--db", db, "--config", str(tmp_path / "nope.json")], ["nope.json"]),
        (["replay", str(good), "--db", db, "--speed", "fast"], ["--speed"]),
        (["replay", str(good), "--db", str(tmp_path)], ["folder"]),
        (["replay", str(good), "--db", str(not_db)], ["notes.txt"]),
        (["episodes", "--db", str(tmp_path / "none.db")], ["no episode log"]),
        (["episodes", "--db", db, "--session", "99"], ["no session 99"]),
        (["simulate", "--scenario", "no_such_thing", "--out", str(tmp_path / "x.csv")], ["unknown scenario"]),
        (["simulate", "--scenario", "daily_mix"], ["--out"]),
    ]
    for args, needles in cases:
        one_line_error(run(*args), *needles)
    assert not (tmp_path / "none.db").exists()
    assert not_db.read_text() == "dear diary\n" * 50

    # nothing already logged was lost; the failed mid-file replay kept what it had read
    after = run("episodes", "--db", db, "--format", "csv", "--session", "1").stdout
    assert after == before
    with Store(db) as st:
        row = st.session(2)
        assert row["status"] == "interrupted" and row["samples"] >= 99_000 and "line" in row["error"]


def test_subprocess_errors_have_no_traceback(tmp_path):
    p = subprocess.run(
        [*tremorscope_cmd(), "replay", str(tmp_path / "missing.csv")],
        env=isolated_env(tmp_path), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert p.returncode != 0
    assert "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "missing.csv" in p.stderr


# --------------------------------------------------------------------------- room for more commands


def test_commands_from_cli_modules_are_registered(tmp_path, monkeypatch):
    plug = tmp_path / "plug"
    plug.mkdir()
    (plug / "cli_extra.py").write_text(
        "import click\n"
        "from tremorscope.cli import db_option, resolve_db_path\n"
        "@click.command()\n@db_option\n"
        "def hello(db):\n    '''Say hello.'''\n    click.echo(f'hello {resolve_db_path(db).name}')\n"
        "COMMANDS = [hello]\n"
    )
    (plug / "cli_broken.py").write_text("raise ImportError('needs a missing library')\n")
    monkeypatch.setattr(tremorscope, "__path__", [*tremorscope.__path__, str(plug)])
    monkeypatch.setattr(main, "_plugins", None)
    monkeypatch.syspath_prepend(str(plug))

    r = run("hello", "--db", "x.db")
    assert r.exit_code == 0 and r.stdout.strip() == "hello x.db"
    assert "cli_broken" in r.stderr  # a warning, not a crash
    h = run("--help")
    assert "hello" in h.stdout and "replay" in h.stdout and "episodes" in h.stdout


def test_replay_help_names_every_input_it_accepts():
    """replay reads CSV/CSV.gz, a BIDS-Motion folder and (with --capture) a raw capture."""
    h = run("replay", "--help")
    assert h.exit_code == 0
    text = " ".join(h.stdout.split())
    for needle in ("CSV or CSV.gz", "BIDS-Motion folder", "--capture", "FILE.jsonl"):
        assert needle in text, (needle, text)


# --------------------------------------------------------------------------- both kinds in the export


def test_export_cells_by_kind_csv_json_and_table(tmp_path):
    """CSV keeps EPISODE_COLUMNS exactly: a contraction row has empty tremor cells and a tremor
    row empty contraction cells; JSON has nulls there; the table shows each kind's measures."""
    from dsp.events import Episode

    db = tmp_path / "log.db"
    tremor = Episode(1, "tremor", 10.0, 40.0, 12.5, dominant_hz=5.1, band="5-8 Hz", stability=0.2,
                     amplitude_g=0.05, amplitude_dps=30.0, displacement_cm=0.4, severity="slight",
                     context="rest")  # fmt: skip
    spasm = Episode(2, "contraction", 50.0, 80.5, 53.0, peak_angle_deg=38.2, mean_angle_deg=31.4,
                    direction="laterocollis_left", onset_speed_dps=41.0, co_contraction=0.012)  # fmt: skip
    with Store(db) as st:
        sid = st.begin_session("rec.csv", placement="neck")
        st.upsert_episode(sid, tremor, open=False)
        st.upsert_episode(sid, spasm, open=True)
        st.finish_session(sid, t_start_s=0.0)
    header, rows = parse_csv(run("episodes", "--db", str(db), "--format", "csv").stdout)
    assert header == list(EPISODE_COLUMNS)
    t, c = rows
    contraction_only = ["peak_angle_deg", "mean_angle_deg", "direction", "onset_speed_dps", "co_contraction"]
    tremor_only = ["dominant_hz", "band", "stability", "amplitude_g", "amplitude_dps", "displacement_cm",
                   "severity", "context"]  # fmt: skip
    assert [t[k] for k in contraction_only] == [""] * 5
    assert [c[k] for k in tremor_only] == [""] * 8
    assert c["direction"] == "laterocollis_left" and float(c["peak_angle_deg"]) == 38.2
    assert float(c["co_contraction"]) == 0.012 and t["severity"] == "slight"
    data = json.loads(run("episodes", "--db", str(db), "--format", "json").stdout)
    assert data[0]["direction"] is None and data[1]["dominant_hz"] is None
    assert data[1]["onset_speed_dps"] == 41.0

    lines = run("episodes", "--db", str(db)).stdout.splitlines()
    assert lines[0] == "tremor episodes (1)" and "slight" in lines[3] and "rest" in lines[3]
    assert lines[4] == "" and lines[5] == "contraction episodes (1)"
    assert lines[6].split() == ["session", "#", "start", "end", "duration", "clock", "direction", "peak",
                                "deg", "mean", "deg", "onset", "deg/s", "co-contraction", "g"]  # fmt: skip
    cells = lines[8].split()
    assert cells[:4] == ["1", "2", "00:50", "01:20"] and "(open)" in lines[8]
    assert "laterocollis left" in lines[8] and cells[-4:] == ["38", "31", "41", "0.012"]
