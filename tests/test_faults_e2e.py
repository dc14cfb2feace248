"""Malformed files end to end (issue 14): the real command in a subprocess with a timeout.

Every case runs ``tremorscope`` on a log that already holds a good session and asserts: the
command exits within the limit, with a non-zero status and exactly one line on stderr free
of control characters, naming what is wrong; the log passes SQLite's integrity check and still
holds the earlier session unchanged; and the good rows before the bad one are kept as a
session (where the reader reached any).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from app_helpers import isolated_env, tremorscope_cmd, write_rec
from bridge_helpers import reference_stream

#: A command on bad input must end by itself well within this (s); start-up with numba's cache on
#: two busy cores takes 5-15 s, so this only catches a hang.
EXIT_LIMIT_S = 120.0
#: Seconds of the seeded good recording.
SEED_S = 20.0
#: Header lines write_rec writes (3 metadata lines and the header): data row i is line i + 5.
HEAD_LINES = 4


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``tremorscope ARGS`` in a subprocess; a hang fails the test at EXIT_LIMIT_S."""
    return subprocess.run(
        [*tremorscope_cmd(), *args], env=env, capture_output=True, text=True, timeout=EXIT_LIMIT_S
    )


def clean_line(stderr: str) -> str:
    """The only stderr line, asserted free of control characters (no ESC, NUL, CR)."""
    lines = [line for line in stderr.split("\n") if line]
    assert len(lines) == 1, stderr
    (line,) = lines
    bad = [c for c in line if unicodedata.category(c)[0] == "C"]
    assert not bad, (bad, line)
    assert line.startswith("Error: "), line
    return line


def session_rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return conn.execute("SELECT id, status, samples, error FROM sessions ORDER BY id").fetchall()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A log with one complete session, and a BIDS-Motion export of it (to corrupt)."""
    root = tmp_path_factory.mktemp("seeded")
    env = isolated_env(root)
    rec = write_rec(root / "good.csv", duration_s=SEED_S)
    db = root / "log.db"
    done = run_cli(env, "replay", str(rec), "--db", str(db))
    assert done.returncode == 0, done.stderr
    bids = root / "bids"
    done = run_cli(env, "export", "--format", "bids", str(bids), "--db", str(db), "--session", "1")
    assert done.returncode == 0, done.stderr
    (first,) = session_rows(db)
    assert first[1] == "complete" and first[2] == SEED_S * 100
    return {"db": db, "first": first, "bids": bids}


@pytest.fixture
def case(tmp_path: Path, seeded: dict) -> dict:
    """A private copy of the seeded log and an environment for one case."""
    db = tmp_path / "log.db"
    shutil.copy(seeded["db"], db)
    return {"db": db, "env": isolated_env(tmp_path), "dir": tmp_path, "first": seeded["first"]}


def check_failed_cleanly(case: dict, done: subprocess.CompletedProcess[str], *needles: str) -> list[tuple]:
    """Exit status 1, one clean line naming every needle, the earlier session unchanged."""
    assert done.returncode == 1, (done.returncode, done.stderr)
    line = clean_line(done.stderr)
    for needle in needles:
        assert needle in line, (needle, line)
    rows = session_rows(case["db"])
    assert rows[0] == case["first"]
    return rows


def _csv_with(case: dict, name: str, **lines: str) -> Path:
    extra = {int(k[1:]): v for k, v in lines.items()}
    return write_rec(case["dir"] / name, duration_s=120.0, extra_lines=extra)


def test_extra_columns_keep_the_rows_before(case):
    # data row 5005 is file line 5010: the case
    rec = _csv_with(case, "extra.csv", r5005="50.05,0,0,1,0,0,0,9,9")
    done = run_cli(case["env"], "replay", str(rec), "--db", str(case["db"]))
    rows = check_failed_cleanly(case, done, "line 5010", "fields")
    assert len(rows) == 2
    _, status, samples, error = rows[1]
    assert status == "interrupted" and samples == 5005 and "line 5010" in error


def test_one_wrong_large_time_is_named_not_silently_dropping_the_rest(case):
    rec = _csv_with(case, "glitch.csv", r3000="99999,0,0,1,0,0,0")
    done = run_cli(case["env"], "replay", str(rec), "--db", str(case["db"]))
    rows = check_failed_cleanly(case, done, f"line {3000 + HEAD_LINES + 1}", "t goes back")
    assert rows[1][1] == "interrupted" and rows[1][2] >= 3000


def test_escape_sequences_in_a_header_are_not_echoed(case):
    rec = case["dir"] / "esc.csv"
    rec.write_bytes(b"t,\x1b[2J\x1b]0;owned\x07acc_x,\x00y\n0,1,2\n")
    done = run_cli(case["env"], "replay", str(rec), "--db", str(case["db"]))
    rows = check_failed_cleanly(case, done, "missing required column", "\\x1b[2j")  # names lower-cased
    assert len(rows) == 1  # a bad header: no session at all


def test_utf16_recording_is_named(case):
    text = write_rec(case["dir"] / "plain.csv", duration_s=5.0).read_text()
    for name, encoding in (("bom.csv", "utf-16"), ("nobom.csv", "utf-16-le")):
        rec = case["dir"] / name
        rec.write_bytes(text.encode(encoding))
        done = run_cli(case["env"], "replay", str(rec), "--db", str(case["db"]))
        check_failed_cleanly(case, done, "file is UTF-16; save it as UTF-8")


def test_nul_bytes_in_a_row_keep_the_rows_before(case):
    rec = _csv_with(case, "nul.csv", r2000="20.00,\x00\x00,0,1,0,0,0")
    done = run_cli(case["env"], "replay", str(rec), "--db", str(case["db"]))
    rows = check_failed_cleanly(case, done, f"line {2000 + HEAD_LINES + 1}", "\\x00")
    assert rows[1][1] == "interrupted" and rows[1][2] == 2000


def test_truncated_gzip_keeps_every_whole_line(case):
    rec = write_rec(case["dir"] / "full.csv.gz", duration_s=120.0)
    data = rec.read_bytes()
    rec.write_bytes(data[: len(data) // 2])
    done = run_cli(case["env"], "replay", str(rec), "--db", str(case["db"]))
    rows = check_failed_cleanly(case, done, "unreadable gzip")
    assert rows[1][1] == "interrupted" and 2000 < rows[1][2] < 12000


def _bids_copy(case: dict, seeded: dict) -> Path:
    out = case["dir"] / "bids"
    shutil.copytree(seeded["bids"], out)
    (motion,) = out.rglob("*_motion.tsv")
    return motion


def test_bids_extra_column_keeps_the_rows_before(case, seeded):
    motion = _bids_copy(case, seeded)
    lines = motion.read_text().split("\n")
    lines[999] += "\t7"  # line 1000
    motion.write_text("\n".join(lines))
    done = run_cli(case["env"], "replay", str(motion), "--db", str(case["db"]))
    rows = check_failed_cleanly(case, done, "line 1000", "columns")
    assert rows[1][1] == "interrupted" and rows[1][2] == 999


def test_bids_utf16_sidecar_is_named(case, seeded):
    motion = _bids_copy(case, seeded)
    (channels,) = motion.parent.glob("*_channels.tsv")
    channels.write_bytes(channels.read_text().encode("utf-16"))
    done = run_cli(case["env"], "replay", str(motion), "--db", str(case["db"]))
    check_failed_cleanly(case, done, "channels.tsv", "UTF-16")


def _capture(path: Path, frames: int, header: dict | None = None) -> Path:
    head = {"capture": "tremorscope", "version": 1, "device": "reference", "transport": "serial", "t0": 0.0}
    head.update(header or {})
    lines = [json.dumps(head)]
    for seq in range(frames):  # 5 samples at 100 Hz per frame
        lines.append(json.dumps({"t": seq * 0.05, "src": "serial", "hex": reference_stream(seq).hex()}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_capture_header_with_escapes_and_utf16_capture(case):
    cap = _capture(case["dir"] / "esc.jsonl", 10, {"version": "\x1b[2J\x1b]0;x\x07"})
    done = run_cli(case["env"], "decode", str(cap), "-o", str(case["dir"] / "out.csv"))
    assert done.returncode == 1
    assert "version" in clean_line(done.stderr)
    utf16 = case["dir"] / "u16.jsonl"
    utf16.write_bytes(_capture(case["dir"] / "plain.jsonl", 10).read_text().encode("utf-16"))
    done = run_cli(case["env"], "replay", "--capture", str(utf16), "--db", str(case["db"]))
    check_failed_cleanly(case, done, "UTF-16")


def test_capture_garbage_lines_and_cut_last_line_keep_every_good_frame(case):
    cap = _capture(case["dir"] / "cap.jsonl", 400)
    lines = cap.read_text().split("\n")
    lines.insert(100, "\x1b[31m not json \x00")
    lines.insert(200, '{"t": 1, "src": "serial", "hex": "zz"}')
    text = "\n".join(lines).rstrip("\n")
    cap.write_text(text[:-20])  # the last line cut short, as by a crash
    out = case["dir"] / "out.csv"
    done = run_cli(case["env"], "decode", str(cap), "-o", str(out))
    assert done.returncode == 0, done.stderr
    for line in done.stderr.splitlines():  # warnings name file and line, never the bytes
        assert not [c for c in line if unicodedata.category(c)[0] == "C"], line
    rows = out.read_text().count("\n") - sum(
        1 for line in out.read_text().splitlines() if line.startswith("#")
    )
    assert rows - 1 == 399 * 5  # every whole frame decoded (the header line aside)
    done = run_cli(case["env"], "replay", "--capture", str(cap), "--db", str(case["db"]))
    assert done.returncode == 0, done.stderr
    rows = session_rows(case["db"])
    assert rows[0] == case["first"] and rows[1][1:3] == ("complete", 399 * 5)


def test_world_readable_log_is_made_private_and_said_once(case):
    import os
    import stat

    if sys.platform == "win32":
        pytest.skip("POSIX permissions")
    os.chmod(case["db"], 0o644)
    done = run_cli(case["env"], "sessions", "--db", str(case["db"]))
    assert done.returncode == 0
    assert stat.S_IMODE(os.stat(case["db"]).st_mode) == 0o600
    notes = [line for line in done.stderr.splitlines() if line]
    assert len(notes) == 1 and "0644" in notes[0] and "owner-only (0600)" in notes[0]
    again = run_cli(case["env"], "sessions", "--db", str(case["db"]))
    assert again.returncode == 0 and again.stderr == ""  # said once
    assert session_rows(case["db"])[0] == case["first"]
