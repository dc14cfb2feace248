"""The pieces behind issue 14's end-to-end promises, in-process: printable text, UTF-16 sniffing,
rows kept before a bad one across read chunks, runs of backward time, the log's mode on open,
the forced close, and the stop-signal policy."""

from __future__ import annotations

import os
import signal
import stat
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from app_helpers import write_rec

from firmware_bridge.io.recording import BACKWARD_RUN_MAX_ROWS, RecordingError, RecordingReader
from firmware_bridge.io.text import printable, utf16_kind
from firmware_bridge.samples import SampleBlock
from tremorscope import signals
from tremorscope.store import Store
from tremorscope.store.forced import interrupt_now

HEAD_LINES = 4  # write_rec: three metadata lines and the header


def test_printable_escapes_controls_and_keeps_text():
    assert printable("a\x1b[2Jb\x00c\u202ed\ne") == "a\\x1b[2Jb\\x00c\\u202ed\\x0ae"
    assert printable("Zürich 中文 ok") == "Zürich 中文 ok"
    assert printable("x" * 200, 10) == "xxxxxxx..."


@pytest.mark.parametrize(
    "data, kind",
    [
        ("t,acc_x\n1,2\n".encode("utf-16"), "UTF-16"),
        ("t,acc_x\n1,2\n".encode("utf-16-le"), "UTF-16"),
        ("t,acc_x\n1,2\n".encode("utf-16-be"), "UTF-16"),
        ("t,acc_x\n".encode("utf-32"), "UTF-32"),
        ("t,acc_x,acc_y\n1,2,3\nZürich\n".encode(), None),
        (b"\x1f\x8b\x08\x00" + bytes(60), None),  # a gzip header with zero padding is not text
    ],
)
def test_utf16_is_recognised_with_or_without_a_mark(data, kind):
    assert utf16_kind(data) == kind


def read_all(path: Path, chunk_rows: int) -> tuple[int, RecordingError | None]:
    n = 0
    try:
        with RecordingReader(path, chunk_rows=chunk_rows) as reader:
            for block in reader:
                n += len(block)
    except RecordingError as e:
        return n, e
    return n, None


@pytest.mark.parametrize("chunk_rows", [1, 997, 100_000])
def test_rows_before_a_bad_row_are_delivered_whatever_the_chunking(tmp_path, chunk_rows):
    rec = write_rec(tmp_path / "r.csv", 60.0, extra_lines={5005: "50.05,0,0,1,0,0,0,9"})
    n, err = read_all(rec, chunk_rows)
    assert n == 5005 and err is not None and err.line == 5005 + HEAD_LINES + 1


def test_two_problems_in_one_chunk_report_the_first(tmp_path):
    rec = write_rec(tmp_path / "r.csv", 60.0, extra_lines={3000: "x,0,0,1,0,0,0", 4000: "1,2,3,4,5,6,7,8,9"})
    n, err = read_all(rec, 100_000)
    assert n == 3000 and err.line == 3000 + HEAD_LINES + 1 and "non-numeric" in str(err)


@pytest.mark.parametrize("chunk_rows", [100, 100_000])
def test_a_clock_reset_is_an_error_at_its_line_not_a_silent_loss(tmp_path, chunk_rows):
    rec = write_rec(tmp_path / "r.csv", 60.0)
    lines = rec.read_text().split("\n")
    body = lines[HEAD_LINES:-1]
    # two recordings joined: the second half restarts at t = 0
    rec.write_text("\n".join(lines[:HEAD_LINES] + body[:3000] + body[:3000]) + "\n")
    n, err = read_all(rec, chunk_rows)
    assert n == 3000 and err is not None
    assert err.line == 3000 + HEAD_LINES + 1 and "t goes back" in str(err)


def test_jitter_behind_the_latest_time_is_only_skipped_and_counted(tmp_path):
    behind = "\n".join(["9.0000,0,0,1,0,0,0"] * (BACKWARD_RUN_MAX_ROWS - 1))  # before t = 10.00
    rec = write_rec(tmp_path / "r.csv", 60.0, extra_lines={1000: behind})
    with RecordingReader(rec, chunk_rows=128) as reader:
        n = sum(len(b) for b in reader)
    assert n == 6000 and reader.stats.skipped_time == BACKWARD_RUN_MAX_ROWS - 1


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_an_existing_log_readable_by_others_is_made_private_once(tmp_path):
    db = tmp_path / "log.db"
    Store(db).close()
    os.chmod(db, 0o644)
    with Store(db) as store:
        assert [(t.path, t.old_mode) for t in store.tightened] == [(db, 0o644)]
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    with Store(db) as store:
        assert store.tightened == []


def test_forced_close_marks_the_session_and_waits_for_the_lock(tmp_path):
    with Store(tmp_path / "log.db") as store:
        sid = store.begin_session("x", sample_rate_hz=100.0)
        store.add_samples(sid, SampleBlock(np.arange(50) / 100, np.zeros((50, 3))))
        held = threading.Event()
        release = threading.Event()

        def hold():
            with store._lock:
                held.set()
                release.wait(5)

        th = threading.Thread(target=hold)
        th.start()
        held.wait(5)
        assert not interrupt_now(store, sid, "stopped by SIGTERM", {}, wait_s=0.05)  # busy: left alone
        release.set()
        th.join()
        assert interrupt_now(store, sid, "stopped by SIGTERM", {"samples": 50}, wait_s=1.0)
        row = store.session(sid)
        assert row["status"] == "interrupted" and row["error"] == "stopped by SIGTERM"
        assert store.sample_count(sid) == 50  # the buffered samples were committed


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_stop_signal_policy():
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when the suite runs as a background job
    with signals.handling():
        with pytest.raises(signals.Interrupted) as caught:  # nothing polls: the command unwinds
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):
                pass
        assert caught.value.signal_name == "SIGTERM"
    stopped = []
    with signals.cooperative(), signals.on_stop(lambda: stopped.append(1)):
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):  # the handler runs between bytecodes
            pass
        assert signals.requested() == "SIGINT" and stopped == [1]  # flagged, not raised
        with signals.shielded():
            os.kill(os.getpid(), signal.SIGINT)  # closing: only recorded
            for _ in range(1000):
                pass
        with pytest.raises(signals.Interrupted):  # a second one outside the shield forces the end
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):
                pass
    assert signal.getsignal(signal.SIGINT) is before  # restored
    assert signals.requested() is None
