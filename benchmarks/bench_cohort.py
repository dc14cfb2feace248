"""The cohort batch (``tremorscope batch``) on Dask: wall time on 1, 2 and all local workers,
per-worker peak memory, scaling efficiency, against ParaDigMa run serially over the same files.

Usage (from the repository root)::

    python benchmarks/bench_cohort.py                                   # the issue's 50 x 24 h
    python benchmarks/bench_cohort.py --recordings 4 --hours 1          # a small version
    python benchmarks/bench_cohort.py --recordings 4 --hours 1 --json cohort.json --no-paradigma

The cohort is simulated (``daily_mix``, 100 Hz accelerometer + gyroscope, one seed per person)
and written once as canonical CSV into ``bench-data/cohort-NxHh/`` (gitignored). Each worker
count runs on a fresh ``LocalCluster`` (one single-threaded worker process per worker) into a
fresh output folder, so nothing is skipped as already done. Peak memory per worker is the
worker process's peak resident size (Linux ``VmHWM``, reset after a warm-up that loads the
compiled kernels) minus its resident size at that moment. A separate run on one worker
compares a recording of ``--hours`` with one of three times that length, read in blocks of
``--memory-block-samples``: memory that depends on the block and not on the recording's length
stays the same.

ParaDigMa (which needs pandas < 3) runs in its own virtual environment, made on first use by
``bench_detect.paradigma_python``; each file is read with pandas and fed to its full tremor
pipeline (``paradigma_adapter.run_tremor``), one after the other in one process.

The extrapolation to a 1,000-person cohort assumes the per-recording cost measured here scales
linearly with recording length (the streaming core's cost does) and perfectly across machines
(recordings are independent tasks); it is labelled as such in the output.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling modules, run as a script

import bench_detect  # noqa: E402
import daily_data  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
#: The issue's benchmark: 50 recordings of 24 h at 100 Hz.
FULL_RECORDINGS = 50
FULL_HOURS = 24.0
SAMPLE_RATE_HZ = 100.0
#: Block for the memory comparison: 10 min at 100 Hz, so a short recording has several blocks.
MEMORY_BLOCK_SAMPLES = 60_000
#: Length factor of the long recording in the memory comparison.
MEMORY_LENGTH_FACTOR = 3
#: Cohort size and recording length of the extrapolation (the issue: a 1,000-person cohort).
EXTRAPOLATE_PEOPLE = 1000
EXTRAPOLATE_DAYS = (1, 7)
KIB = 1024
MIB = 1024 * 1024


def make_cohort(n: int, hours: float, folder: Path) -> list[Path]:
    """``n`` simulated recordings of ``hours`` each (written once, then reused)."""
    from firmware_bridge import simulator

    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(n):
        path = folder / f"p{i + 1:03d}.csv"
        if not path.exists():
            click.echo(f"simulating {path.name} ({hours:g} h)", err=True)
            tmp = folder / f".{path.name}"
            simulator.simulate_to_file(tmp, "daily_mix", duration_s=hours * 3600, seed=100 + i)
            os.replace(tmp, path)
            events = tmp.with_name(tmp.name.removesuffix(".csv") + ".events.tsv")
            if events.exists():
                os.replace(events, folder / f"p{i + 1:03d}.events.tsv")
        files.append(path)
    return files


def make_cohort_from_days(n: int, hours: float, folder: Path, distinct_days: int) -> list[Path]:
    """``n`` recordings of ``hours`` made from ``distinct_days`` simulated recordings of that
    length (``daily_mix``, seeds 100...), recording i being source i mod ``distinct_days`` rotated
    in time by its own random offset (its timestamps re-based onto one continuous clock): every
    file differs in content (its own hash and episode times), while simulating only a few. The
    simulator writes about 24 h a minute here, so 50 separate days would take most of an hour."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    files = [folder / f"p{i + 1:03d}.csv" for i in range(n)]
    todo = [(i, f) for i, f in enumerate(files) if not f.exists()]
    if not todo:
        return files
    sources = [source_day(hours, j) for j in range(min(distinct_days, n))]
    for i, path in todo:
        d = daily_data.load(sources[i % len(sources)])
        k = int(np.random.default_rng(1000 + i).integers(1, d.t.size - 1))
        step = float(np.median(np.diff(d.t[:1000])))
        t = np.concatenate((d.t[k:] - d.t[k], d.t[:k] - d.t[0] + (d.t[-1] - d.t[k]) + step))
        src, shift_s = i % len(sources) + 1, d.t[k] - d.t[0]
        click.echo(f"writing {path.name} ({hours:g} h: source {src}, rotated {shift_s:.0f} s)", err=True)
        write_fast_csv(
            path, t, np.roll(d.acc, -k, axis=0), np.roll(d.gyro, -k, axis=0), person=f"p{i + 1:03d}"
        )
    return files


def source_day(hours: float, j: int) -> Path:
    """The cached simulation of source recording ``j`` (``daily_mix``, seed 100 + j)."""
    return daily_data.prepare(hours, seed=100 + j, sample_rate_hz=SAMPLE_RATE_HZ, source="simulator")


def write_fast_csv(path: Path, t, acc, gyro, person: str) -> None:
    """A canonical recording CSV (``# key: value`` lines, then t,acc_*,gyro_*) written by pyarrow's
    multi-threaded CSV writer: the same columns and rounding as the canonical writer, in seconds
    rather than the minute pandas takes for a day at 100 Hz."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from firmware_bridge.io.canonical_writer import WRITE_DECIMALS

    cols = {"t": np.round(t, WRITE_DECIMALS["t"])}
    for a, name in ((acc, "acc"), (gyro, "gyro")):
        for j, ax in enumerate("xyz"):
            cols[f"{name}_{ax}"] = np.round(a[:, j], WRITE_DECIMALS[f"{name}_{ax}"])
    meta = {"sample_rate_hz": f"{SAMPLE_RATE_HZ:g}", "placement": "wrist", "person_id": person,
            "device": "tremorscope simulator (benchmark cohort)"}  # fmt: skip
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write("".join(f"# {k}: {v}\n" for k, v in meta.items()).encode())
        pacsv.write_csv(pa.table(cols), fh, pacsv.WriteOptions(quoting_style="none"))
    os.replace(tmp, path)


def _status_kib(field: str) -> int:
    """A ``/proc/self/status`` memory figure (Linux), KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _warm_up() -> int:
    """In a worker: load the detector's compiled kernels (a first task would pay it), then
    reset the peak resident size (proc(5): writing 5 to clear_refs resets VmHWM) and return the
    resident size the run starts from."""
    import numpy as np
    import pandas as pd

    import dsp

    n = 6000
    t = np.arange(n) / SAMPLE_RATE_HZ
    frame = pd.DataFrame({"t": t, "acc_x": 0.01 * np.sin(2 * np.pi * 5 * t), "acc_y": 0.0, "acc_z": 1.0})
    dsp.detect(frame, SAMPLE_RATE_HZ)
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmRSS")


def _peak_kib() -> int:
    return _status_kib("VmHWM")


def _cpu_s() -> float:
    """CPU seconds of this (worker) process, every thread, user + system."""
    t = os.times()
    return t.user + t.system


def run_workers(files: list[Path], workers: int, block_samples: int) -> dict:
    """One batch run on a fresh LocalCluster of ``workers`` processes; time and memory."""
    from distributed import Client, LocalCluster

    from tremorscope.cohort import run_batch

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    try:
        base = client.run(_warm_up)
        cpu0 = client.run(_cpu_s)
        load_before = os.getloadavg()[0]
        with tempfile.TemporaryDirectory(prefix="tremorscope-cohort-bench-") as out:
            start = time.perf_counter()
            summary = run_batch(files, out, client=client, block_samples=block_samples)
            seconds = time.perf_counter() - start
        load_after = os.getloadavg()[0]
        peak = client.run(_peak_kib)
        cpu1 = client.run(_cpu_s)
    finally:
        client.close()
        cluster.close()
    failed = [r.quality.get("error") for r in summary.results if r.quality.get("status") != "ok"]
    return {
        "workers": workers,
        "seconds": seconds,
        "episodes": int(sum(len(r.episodes) for r in summary.results)),
        "failed": failed,
        "worker_baseline_mb": max(base.values()) * KIB / MIB,
        "worker_peak_mb": max(peak.values()) * KIB / MIB,
        "worker_extra_mb": max(peak[w] - base[w] for w in peak) * KIB / MIB,
        "tasks": int(sum(r.quality.get("tasks", 1) for r in summary.results)),
        "worker_cpu_s": sum(cpu1[w] - cpu0[w] for w in cpu1),  # all workers together
        "load_1min": [load_before, load_after],  # 1-min load average before and after the run
    }


def memory_by_length(folder: Path, hours: float, block_samples: int, distinct_days: int = 0) -> dict:
    """Peak extra memory of one worker on a recording of ``hours`` and of 3x that."""
    if distinct_days:
        short = make_cohort_from_days(1, hours, folder / "short", distinct_days)[0]
        long_ = folder / "long" / "p001.csv"
        if not long_.exists():  # three of the source days one after the other
            import numpy as np

            parts = [daily_data.load(source_day(hours, j)) for j in range(MEMORY_LENGTH_FACTOR)]
            t, off = [], 0.0
            for d in parts:
                t.append(d.t - d.t[0] + off)
                off = t[-1][-1] + 1.0 / SAMPLE_RATE_HZ
            long_.parent.mkdir(parents=True, exist_ok=True)
            write_fast_csv(
                long_, np.concatenate(t), np.concatenate([d.acc for d in parts]),
                np.concatenate([d.gyro for d in parts]), person="long",
            )  # fmt: skip
    else:
        short = make_cohort(1, hours, folder / "short")[0]
        long_ = make_cohort(1, hours * MEMORY_LENGTH_FACTOR, folder / "long")[0]
    res = {}
    for name, path in (("short", short), ("long", long_)):
        r = run_workers([path], 1, block_samples)
        res[name] = {"hours": hours * (MEMORY_LENGTH_FACTOR if name == "long" else 1), **r}
    return res


_PARADIGMA_SCRIPT = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import pandas as pd
import paradigma_adapter as pa
files = sys.argv[2:]
import paradigma.orchestrator  # noqa: F401  (import cost is not run cost)
start = time.perf_counter()
cpu = time.process_time()
windows = 0
for f in files:
    frame = pd.read_csv(f, comment="#")
    pf = pa.to_paradigma_frame(frame["t"].to_numpy(), frame[["acc_x", "acc_y", "acc_z"]].to_numpy(),
                               frame[["gyro_x", "gyro_y", "gyro_z"]].to_numpy())
    windows += pa.run_tremor(pf, 100.0).n_tremor_windows
print(json.dumps({"seconds": time.perf_counter() - start, "cpu_s": time.process_time() - cpu,
                  "tremor_windows": windows}))
"""


def run_paradigma(files: list[Path], venv: Path) -> dict:
    """ParaDigMa over the files, serially, in its own environment (reading included, as ours)."""
    py, version = bench_detect.paradigma_python(venv, create=True)
    if py is None:
        return {"error": "ParaDigMa is not available"}
    load_before = os.getloadavg()[0]
    p = subprocess.run(
        [py, "-c", _PARADIGMA_SCRIPT, str(Path(__file__).resolve().parent), *map(str, files)],
        capture_output=True,
        text=True,
    )
    # peak resident size of the largest child so far (Linux: KiB); ParaDigMa's is the largest
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * KIB / MIB
    load = [load_before, os.getloadavg()[0]]
    if p.returncode != 0:
        lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
        return {"error": lines[-1] if lines else f"exit {p.returncode}"}
    return {
        "version": version,
        "peak_mb": peak_mb,
        "load_1min": load,
        **json.loads(p.stdout.strip().splitlines()[-1]),
    }


@click.command()
@click.option("--recordings", type=int, default=FULL_RECORDINGS, show_default=True)
@click.option("--hours", type=float, default=FULL_HOURS, show_default=True, help="Length of each recording.")
@click.option(
    "--workers", "worker_list", default=None,
    help="Comma-separated worker counts [default: 1, 2 and all cores].",
)  # fmt: skip
@click.option(
    "--block-samples", type=int, default=None, help="Block size of the timed runs [default: the CLI's]."
)
@click.option("--memory-block-samples", type=int, default=MEMORY_BLOCK_SAMPLES, show_default=True)
@click.option(
    "--memory-hours", type=float, default=None,
    help="Length of the short recording of the memory comparison (the long one is 3x) [default: --hours].",
)  # fmt: skip
@click.option(
    "--distinct-days", type=int, default=0, show_default=True,
    help="Simulate only this many recordings and make the cohort from them, each rotated in time "
    "by its own offset (0: simulate every recording).",
)  # fmt: skip
@click.option("--no-paradigma", is_flag=True, help="Skip the ParaDigMa comparison.")
@click.option("--no-memory", is_flag=True, help="Skip the memory-by-length run.")
@click.option(
    "--paradigma-venv", type=click.Path(path_type=Path),
    default=daily_data.DEFAULT_CACHE_DIR / "paradigma-venv", show_default=True,
)  # fmt: skip
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None)
def main(
    recordings: int, hours: float, worker_list: str | None, block_samples: int | None,
    memory_block_samples: int, memory_hours: float | None, distinct_days: int, no_paradigma: bool,
    no_memory: bool,
    paradigma_venv: Path, json_path: Path | None,
) -> None:  # fmt: skip
    """Benchmark the cohort batch; see the module docstring."""
    from tremorscope.cohort import DEFAULT_BLOCK_SAMPLES

    cores = os.cpu_count() or 1
    counts = sorted({int(w) for w in worker_list.split(",")} if worker_list else {1, min(2, cores), cores})
    block = block_samples or DEFAULT_BLOCK_SAMPLES
    if distinct_days:
        folder = daily_data.DEFAULT_CACHE_DIR / f"cohort-{recordings}x{hours:g}h-from{distinct_days}"
        files = make_cohort_from_days(recordings, hours, folder, distinct_days)
    else:
        folder = daily_data.DEFAULT_CACHE_DIR / f"cohort-{recordings}x{hours:g}h"
        files = make_cohort(recordings, hours, folder)
    data_s = recordings * hours * 3600
    runs = []
    for w in counts:
        click.echo(f"batch on {w} worker(s) ...", err=True)
        runs.append(run_workers(files, w, block))
    one = next((r for r in runs if r["workers"] == 1), runs[0])
    for r in runs:
        r["speedup"] = one["seconds"] / r["seconds"]
        r["efficiency"] = r["speedup"] / (r["workers"] / one["workers"])
        r["x_realtime"] = data_s / r["seconds"]
    para = None if no_paradigma else run_paradigma(files, paradigma_venv)
    memory = (
        None
        if no_memory
        else memory_by_length(
            folder.parent / f"cohort-memory-{memory_hours or hours:g}h",
            memory_hours or hours,
            memory_block_samples,
            distinct_days if (memory_hours or hours) == hours else 0,
        )
    )

    per_rec_s = one["seconds"] * one["workers"] / recordings  # worker-seconds per recording
    per_day_s = per_rec_s * 24.0 / hours
    click.echo("")
    click.echo(f"cohort: {recordings} recordings x {hours:g} h at {SAMPLE_RATE_HZ:g} Hz (acc + gyro), CSV; "
               f"{cores} cores; block {block:,} samples")  # fmt: skip
    if distinct_days:
        n_src = min(distinct_days, recordings)
        click.echo(f"(made from {n_src} simulated recordings, each rotated in time per person)")
    click.echo("")
    head = "| engine | workers | wall s | CPU s (workers) | x real time | speed-up | scaling efficiency |"
    click.echo(head + " peak MB per worker (above its start) | 1-min load before -> after |")
    click.echo("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in runs:
        click.echo(
            f"| tremorscope batch | {r['workers']} | {r['seconds']:.1f} | {r['worker_cpu_s']:.1f} | "
            f"{r['x_realtime']:,.0f} | "
            f"{r['speedup']:.2f}x | {r['efficiency']:.0%} | {r['worker_peak_mb']:.0f} "
            f"({r['worker_extra_mb']:.0f}) | {r['load_1min'][0]:.1f} -> {r['load_1min'][1]:.1f} |"
        )
    if para is not None:
        if "error" in para:
            click.echo(f"| ParaDigMa | 1 (serial) | error: {para['error']} | | | | | | |")
        else:
            click.echo(
                f"| ParaDigMa {para['version']} | 1 (serial) | {para['seconds']:.1f} | {para['cpu_s']:.1f} | "
                f"{data_s / para['seconds']:,.0f} | | | {para['peak_mb']:.0f} (process peak) | "
                f"{para['load_1min'][0]:.1f} -> {para['load_1min'][1]:.1f} |"
            )
            ratio = para["seconds"] / one["seconds"]
            cpu_ratio = para["cpu_s"] / one["worker_cpu_s"]
            click.echo(
                f"\nParaDigMa / tremorscope on 1 worker: {ratio:.1f}x the wall time, "
                f"{cpu_ratio:.1f}x the CPU time"
            )
    if memory is not None:
        s, lg = memory["short"], memory["long"]
        click.echo(
            f"\nmemory by length (1 worker, blocks of {memory_block_samples:,}): {s['hours']:g} h -> "
            f"{s['worker_extra_mb']:.0f} MB above start, {lg['hours']:g} h -> {lg['worker_extra_mb']:.0f} MB"
        )
    click.echo(
        f"\nEXTRAPOLATED (not measured): {per_rec_s:.1f} worker-seconds per {hours:g} h recording -> "
        f"{per_day_s:.0f} s per 24 h recording, assuming cost linear in length and perfect scaling."
    )
    for days in EXTRAPOLATE_DAYS:
        core_h = EXTRAPOLATE_PEOPLE * per_day_s * days / 3600
        click.echo(
            f"  {EXTRAPOLATE_PEOPLE:,} people x {days} day(s): {core_h:,.0f} core-hours; on 100 single-core "
            f"workers about {core_h / 100 * 60:,.0f} min"
        )
    if json_path is not None:
        json_path.write_text(json.dumps({
            "recordings": recordings, "hours": hours, "cores": cores, "block_samples": block,
            "runs": runs, "paradigma": para, "memory": memory,
            "extrapolated": {"worker_s_per_recording": per_rec_s, "worker_s_per_24h": per_day_s},
        }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
