"""The report benchmark script runs end to end on one day (speed is reported, never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_bench_report_runs_on_one_day(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_report.py"), "--days", "1", "--repeat", "1",
         "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "build_report: median" in proc.stdout and "in a fresh process" in proc.stdout
    figures = json.loads(out.read_text())
    assert figures["days"] == 1 and figures["minutes"] == 1440
    assert figures["episodes"] >= 70  # ~60 tremor + ~30 contraction episodes a day
    assert figures["images"] == 5  # at a glance, the day, distributions, trends, wearing-off
    assert len(figures["build_s_runs"]) == 1 and figures["build_s_median"] > 0 and figures["cli_s"] > 0
