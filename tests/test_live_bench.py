"""The bridge benchmark runs and accounts for every sample (speed is reported, never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_bench_bridge_runs_on_a_short_signal(tmp_path):
    out = tmp_path / "b.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_bridge.py"), "--seconds", "20",
         "--repeat", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    res = json.loads(out.read_text())
    wit = res["witmotion (BLE, 1 sample/packet)"]
    assert wit["packets"] == 2000 and wit["samples"] == 2000  # one sample per notification
    ref = res["reference (serial/BLE, 5 samples/frame)"]
    assert ref["samples"] == 5 * ref["packets"]
    assert wit["total_pct_of_core"] > 0 and "% of a core" in proc.stdout
