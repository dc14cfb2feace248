"""How long the clinician report takes for a week of per-minute data (the issue asks < 10 s).

Usage (from the repository root)::

    python benchmarks/bench_report.py                  # 7 days, 3 timed builds, median
    python benchmarks/bench_report.py --days 28 --repeat 1 --json bench_report.json

A synthetic but realistic week is written straight into a fresh episode log (no raw samples:
the report reads minutes, episodes, gaps and the diary): one session per day of 24 h at
100 Hz nominal, per-minute tremor fractions that rise as each of three daily levodopa doses
wears off and vanish in sleep, about 60 tremor and 30 contraction episodes a day, a few data
gaps, dropped and malformed packet counts, and a diary with doses, a botulinum toxin injection
and stress notes. Timed: ``tremorscope.review.report.build_report`` in this process (data gathering,
figures, HTML, writing the file; the median of ``--repeat`` builds after one warm-up), and
the whole ``tremorscope report`` command in a fresh process (imports included). Nothing is
asserted: speed is reported, not tested.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dsp.config import DetectorConfig  # noqa: E402
from dsp.events import SEVERITY_CLASSES, Episode, Gap, MinuteSummary  # noqa: E402
from tremorscope.store import Store  # noqa: E402

TZ = timezone(timedelta(hours=1))
DOSES_H = (7.5, 12.5, 17.5)  # levodopa three times a day
DIRECTIONS = ("flexion", "extension", "pronation", "supination", "radial_deviation", "ulnar_deviation")


def make_week(store: Store, days: int = 7, seed: int = 7, start: datetime | None = None) -> list[int]:
    """Write ``days`` sessions of 24 h of per-minute results and a diary; return session ids."""
    rng = np.random.default_rng(seed)
    start = start or datetime(2024, 3, 4, 0, 0, tzinfo=TZ)
    config = DetectorConfig()
    ids = []
    for d in range(days):
        day0 = start + timedelta(days=d)
        sid = store.begin_session(
            f"synthetic week day {d + 1}",
            mode="live",
            device="synthetic wrist IMU",
            placement="wrist",
            sample_rate_hz=100.0,
            has_gyro=True,
            start_time=day0,
            config_json=config.to_json(),
            extra_json={"live": {"reconnects": int(rng.integers(0, 3)), "battery_pct": 80.0 - 5 * d}},
        )
        ids.append(sid)
        minutes = np.arange(1440)
        hour = minutes / 60.0
        since = np.full(1440, 12.0)
        for dose in DOSES_H:
            s = hour - dose
            since = np.where((s >= 0) & (s < since), s, since)
        asleep = (hour < 6.5) | (hour >= 23.0)
        # wearing off: tremor low 0.5-3 h after a dose, rising after; a worse day 4 (stress)
        level = np.clip(0.05 + 0.12 * np.clip(since - 2.5, 0, None), 0, 0.7) * (1.4 if d == 3 else 1.0)
        level = np.where(asleep, 0.0, level * rng.uniform(0.6, 1.4, 1440))
        unknown = np.where(asleep, rng.uniform(0.0, 0.05, 1440), rng.uniform(0.05, 0.45, 1440))
        share = np.clip(level, 0, 1 - unknown)
        split = rng.dirichlet([6, 3, 1, 0.3], 1440)
        contraction = np.where(asleep, 0.0, np.clip(rng.normal(0.05, 0.08, 1440), 0, 1))
        for m in minutes:
            fr = {"none": float(1 - unknown[m] - share[m])}
            for k, c in enumerate(SEVERITY_CLASSES[1:]):
                fr[c] = float(share[m] * split[m, k])
            iso = (day0 + timedelta(minutes=int(m))).isoformat()
            store.upsert_minute(
                sid, MinuteSummary(float(m * 60), iso, fr, float(unknown[m]), float(contraction[m]))
            )
        eid = 0
        for _ in range(int(rng.integers(50, 70))):
            eid += 1
            t0 = float(rng.uniform(6.5, 22.8) * 3600)
            dur = float(rng.lognormal(3.2, 0.8))
            hz = float(rng.normal(5.2, 0.6))
            disp = float(rng.lognormal(math.log(0.4), 0.8))
            sev = "slight" if disp < 0.5 else "mild" if disp < 1.5 else "moderate" if disp < 5 else "strong"
            store.upsert_episode(
                sid,
                Episode(
                    eid,
                    "tremor",
                    t0,
                    t0 + dur,
                    t0 + 2,
                    (day0 + timedelta(seconds=t0)).isoformat(),
                    dominant_hz=hz,
                    band="5-8 Hz" if hz >= 5 else "3-5 Hz",
                    stability=float(rng.uniform(0.1, 0.8)),
                    amplitude_g=disp / 30,
                    amplitude_dps=disp * 40,
                    displacement_cm=disp,
                    severity=sev,
                    context=str(rng.choice(["rest", "posture", "movement"], p=[0.6, 0.3, 0.1])),
                ),
                open=False,
            )
        for _ in range(int(rng.integers(20, 40))):
            eid += 1
            t0 = float(rng.uniform(6.5, 22.8) * 3600)
            dur = float(rng.lognormal(3.0, 0.9))
            store.upsert_episode(
                sid,
                Episode(
                    eid,
                    "contraction",
                    t0,
                    t0 + dur,
                    t0 + 3,
                    (day0 + timedelta(seconds=t0)).isoformat(),
                    peak_angle_deg=float(rng.uniform(15, 70)),
                    mean_angle_deg=float(rng.uniform(12, 40)),
                    direction=str(rng.choice(DIRECTIONS)),
                    onset_speed_dps=float(rng.uniform(10, 120)),
                    co_contraction=float(rng.uniform(0, 1)),
                ),
                open=False,
            )
        for _ in range(int(rng.integers(1, 5))):
            g0 = float(rng.uniform(0, 86000))
            store.add_gap(
                sid, Gap(g0, g0 + float(rng.uniform(1, 600))), origin=str(rng.choice(["bridge", "detector"]))
            )
        store.finish_session(
            sid,
            t_start_s=0.0,
            t_end_s=86399.99,
            samples=8_639_000 - int(rng.integers(0, 5000)),
            dropped=int(rng.integers(0, 40)),
            malformed=int(rng.integers(0, 5)),
            effective_rate_hz=99.98,
        )
        for dose in DOSES_H:
            store.add_diary_entry(day0 + timedelta(hours=dose), "medication", "levodopa/carbidopa 100/25 mg")
        if d == 2:
            store.add_diary_entry(day0 + timedelta(hours=10), "botox", "botulinum toxin, forearm flexors")
        if d == 3:
            store.add_diary_entry(day0 + timedelta(hours=15, minutes=20), "stress", "difficult phone call")
    store.commit()
    return ids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3, help="timed builds (median reported)")
    ap.add_argument("--json", default=None, help="write the figures here")
    args = ap.parse_args()
    from tremorscope.review.report import build_report, collect

    with tempfile.TemporaryDirectory(prefix="tremorscope-bench-report-") as tmp:
        db = Path(tmp) / "week.db"
        t = time.perf_counter()
        with Store(db) as store:
            make_week(store, args.days)
        fill_s = time.perf_counter() - t
        out = Path(tmp) / "report.html"
        with Store(db) as store:
            data = collect(store)
            n_min, n_ep = len(data.minutes), len(data.episodes)
            build_report(store, out)  # warm-up: first matplotlib use (font cache)
            runs = []
            cpu = []
            for _ in range(max(args.repeat, 1)):
                t, c = time.perf_counter(), time.process_time()
                build_report(store, out)
                runs.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
        size_mb = out.stat().st_size / 1e6
        images = out.read_text(encoding="utf-8").count("data:image/png;base64,")
        env = dict(os.environ, TREMORSCOPE_DB=str(db))
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "tremorscope.cli", "report", "--out", str(Path(tmp) / "cli.html")],
            env=env,
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        cli_s = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(f"tremorscope report failed: {proc.stderr.strip()}")
    median = statistics.median(runs)
    print(f"data: {args.days} days, {n_min} minutes, {n_ep} episodes (log filled in {fill_s:.1f} s)")
    print(f"report: {images} images, {size_mb:.2f} MB")
    print(f"build_report: median {median:.2f} s over {len(runs)} run(s) (CPU {statistics.median(cpu):.2f} s)")
    print(f"`tremorscope report` in a fresh process (imports included): {cli_s:.2f} s")
    cpu_name = platform.processor() or platform.machine()
    print(f"machine: {cpu_name}, {os.cpu_count()} cores, Python {platform.python_version()}")
    try:
        load = os.getloadavg()[0]
        print(
            f"load average (1 min) at the end: {load:.2f}"
            + (" (busy machine: figures are pessimistic)" if load > 1 else "")
        )
    except OSError:
        pass
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "days": args.days,
                    "minutes": n_min,
                    "episodes": n_ep,
                    "images": images,
                    "size_mb": size_mb,
                    "build_s_runs": runs,
                    "build_s_median": median,
                    "cpu_s_runs": cpu,
                    "cli_s": cli_s,
                    "python": platform.python_version(),
                    "cores": os.cpu_count(),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
