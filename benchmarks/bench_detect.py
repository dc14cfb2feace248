"""Speed and memory of the tremor core on a day of 100 Hz wrist IMU data, against ParaDigMa.

Usage (from the repository root)::

    python benchmarks/bench_detect.py
    python benchmarks/bench_detect.py --hours 1,24 --repeat 3 --json bench.json

Engines, each measured in its own fresh Python process so that one cannot inflate another's
memory figure:

* ``batch``: ``dsp.detect(frame, sample_rate_hz, placement="wrist", calibrate_s=10)`` on the
  whole day at once (tremor and contraction detection together);
* ``stream``: ``dsp.StreamingDetector.push`` fed one second of samples at a time, then
  ``flush``, events consumed and dropped as an application would after logging them;
* ``paradigma``: ParaDigMa 1.1.2's full tremor pipeline (see ``paradigma_adapter.py``), in
  its own virtual environment (``--paradigma-venv``, made on first use), because it requires
  pandas < 3 while tremorscope is measured on today's releases.

Per engine: wall-clock and CPU seconds (median of ``--repeat`` runs; CPU time is steadier on
a shared machine), peak RSS above the input (exact on Linux)
and, in a separate run, the tracemalloc peak (see ``memory_probe.py``). Then the ratios
ParaDigMa/ours and the issue's targets: the core >= 10x faster than ParaDigMa, streaming
memory < 64 MB above the input.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling modules, run as a script

import daily_data  # noqa: E402
import memory_probe  # noqa: E402
import paradigma_adapter  # noqa: E402

ENGINES: dict[str, str] = {
    "batch": "dsp.detect (batch)",
    "stream": "StreamingDetector, 1 s chunks",
    "paradigma": f"ParaDigMa {paradigma_adapter.PARADIGMA_VERSION} tremor pipeline",
}
TARGET_SPEEDUP = 10.0  # ours at least 10x faster than ParaDigMa on the same data
TARGET_STREAM_EXTRA_MB = 64.0  # streaming memory above the input, any duration
# The full detector, tremor and contraction together: a wrist is only watched for sustained
# postures against a calibrated neutral, so both engines calibrate on the first 10 s.
CALIBRATE_S = 10.0
MB = memory_probe.MIB
REPO_ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- worker side


@dataclass
class _Prepared:
    """One engine's input, built before measuring, and the call to measure."""

    input_bytes: int
    run: object  # () -> dict summary of the output


def _prepare_engine(engine: str, data: daily_data.BenchData, chunk_s: float) -> _Prepared:
    fs = data.sample_rate_hz
    if engine == "batch":
        import pandas as pd

        import dsp

        cols = {"t": data.t}
        cols.update({f"acc_{axis}": data.acc[:, i] for i, axis in enumerate("xyz")})
        cols.update({f"gyro_{axis}": data.gyro[:, i] for i, axis in enumerate("xyz")})
        frame = pd.DataFrame(cols)
        data.t = data.acc = data.gyro = None  # the frame is the input now

        def run() -> dict:
            episodes = dsp.detect(frame, sample_rate_hz=fs, placement="wrist", calibrate_s=CALIBRATE_S)
            return {"episodes": int(len(episodes))}

        return _Prepared(int(frame.memory_usage(deep=True).sum()), run)

    if engine == "stream":
        import dsp

        def run() -> dict:
            detector = dsp.StreamingDetector(fs, placement="wrist", calibrate_s=CALIBRATE_S)
            counts: Counter[str] = Counter()
            for t, acc, gyro in daily_data.iter_chunks(data, chunk_s):
                for event in detector.push(t, acc, gyro):
                    counts[event.type] += 1
            for event in detector.flush():
                counts[event.type] += 1
            return {"episodes": int(len(detector.episodes())), "events": dict(counts)}

        return _Prepared(data.nbytes, run)

    if engine == "paradigma":
        import paradigma.orchestrator  # noqa: F401 - import cost is not run cost

        frame = paradigma_adapter.to_paradigma_frame(data.t, data.acc, data.gyro)
        data.t = data.acc = data.gyro = None

        def run() -> dict:
            res = paradigma_adapter.run_tremor(frame, fs)
            return {
                "windows": res.n_windows,
                "rest_windows": res.n_rest_windows,
                "tremor_windows": res.n_tremor_windows,
                "aggregation": res.aggregation,
                "stage_s": res.stage_s,
                "split_by_gaps": res.split_by_gaps,
            }

        return _Prepared(int(frame.memory_usage(deep=True).sum()), run)

    raise click.UsageError(f"unknown engine {engine!r}")


def _worker(engine: str, mode: str, data_file: Path, repeat: int, chunk_s: float, out: Path):
    """Measure one engine in this (fresh) process and write the figures to ``out`` as JSON."""
    data = daily_data.load(data_file)
    info = {
        "source": data.source,
        "seed": data.seed,
        "sample_rate_hz": data.sample_rate_hz,
        "n_samples": data.n_samples,
        "duration_s": data.duration_s,
        "truth_tremor_episodes": data.n_tremor_episodes,
    }
    prepared = _prepare_engine(engine, data, chunk_s)
    runs = []
    for _ in range(repeat if mode == "time" else 1):
        load_1min = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        probe = memory_probe.TracedWindow() if mode == "trace" else memory_probe.RssWindow()
        with probe as window:
            start, cpu_start = time.perf_counter(), time.process_time()
            summary = prepared.run()
            seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
        run = {"seconds": seconds, "cpu_s": cpu_s, "load_1min_before": load_1min}
        if mode == "trace":
            run["traced_peak_bytes"] = window.peak_bytes
        else:
            run.update(
                rss_baseline_bytes=window.baseline_bytes,
                rss_extra_bytes=window.extra_bytes,
                rss_exact=window.exact,
            )
        runs.append(run)
    out.write_text(
        json.dumps({"data": info, "input_bytes": prepared.input_bytes, "runs": runs, "output": summary})
    )


# --------------------------------------------------------------------------- parent side


def paradigma_python(venv: Path, create: bool) -> tuple[str | None, str | None]:
    """The interpreter that runs ParaDigMa, and its ParaDigMa version.

    ParaDigMa 1.1.2 requires pandas < 3, so it gets a virtual environment of its own (``venv``,
    made on first use) instead of downgrading pandas under tremorscope. An interpreter that
    already has ParaDigMa is used as it is."""
    if paradigma_adapter.installed_version() is not None:
        return sys.executable, paradigma_adapter.installed_version()
    py = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not py.exists():
        if not create:
            return None, None
        click.echo(
            f"ParaDigMa {paradigma_adapter.PARADIGMA_VERSION} needs pandas < 3: installing it once into "
            f"its own environment {venv} (a few minutes)",
            err=True,
        )
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run(
                [
                    str(py),
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    f"paradigma=={paradigma_adapter.PARADIGMA_VERSION}",
                    "click",
                ],
                check=True,
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            click.echo(f"could not install ParaDigMa ({exc}); skipping it", err=True)
            return None, None
    probe = subprocess.run(
        [str(py), "-c", "import importlib.metadata as m; print(m.version('paradigma'), m.version('pandas'))"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return None, None
    version, pandas_version = probe.stdout.split()
    return str(py), f"{version} (pandas {pandas_version}, own venv)"


def _run_worker(
    engine: str, mode: str, data_file: Path, repeat: int, chunk_s: float, python: str | None = None
) -> dict:
    """Start a fresh process for one measurement, with an elapsed-time ticker on a terminal."""
    with tempfile.TemporaryDirectory(prefix="tremorscope-bench-") as tmp:
        out = Path(tmp) / "result.json"
        err = Path(tmp) / "stderr.txt"
        cmd = [
            python or sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            engine,
            "--mode",
            mode,
            "--data-file",
            str(data_file),
            "--repeat",
            str(repeat),
            "--chunk-s",
            str(chunk_s),
            "--result-file",
            str(out),
        ]
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p),
        )
        tty = sys.stderr.isatty()
        label = f"{ENGINES[engine]} ({'timing' if mode == 'time' else 'tracemalloc'})"
        start = time.monotonic()
        with err.open("w") as err_file:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err_file, env=env)
            while proc.poll() is None:
                if tty:
                    click.echo(f"\r  {label}: {time.monotonic() - start:5.0f} s ", nl=False, err=True)
                time.sleep(0.25)
        if tty:
            click.echo("\r" + " " * (len(label) + 16) + "\r", nl=False, err=True)
        if proc.returncode != 0 or not out.exists():
            lines = [ln for ln in err.read_text().splitlines() if ln.strip()]
            reason = lines[-1] if lines else f"exit status {proc.returncode}"
            return {"error": reason}
        return json.loads(out.read_text())


def _machine() -> dict:
    """Where the figures were measured."""
    import numpy
    import pandas
    import scipy

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        # Uncommitted changes in the core make the figures those of a work in progress.
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "dsp"], cwd=REPO_ROOT, capture_output=True, text=True
        ).stdout.strip()
        if dirty:
            commit += " (dsp/ has uncommitted changes)"
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "pandas": pandas.__version__,
        "paradigma": None,  # filled in by main: it may run in its own environment
        "commit": commit,
    }


def _summarise(raw: dict, trace: dict | None, duration_s: float) -> dict:
    """Median seconds, peak extra memory and the output summary of one engine."""
    if "error" in raw:
        return {"error": raw["error"]}
    seconds = [r["seconds"] for r in raw["runs"]]
    med = statistics.median(seconds)
    res = {
        "seconds_median": med,
        "seconds_runs": seconds,
        "cpu_s_median": statistics.median(r["cpu_s"] for r in raw["runs"]),
        "x_realtime": duration_s / med if med > 0 else None,
        "input_mb": raw["input_bytes"] / MB,
        "rss_extra_mb": max(r["rss_extra_bytes"] for r in raw["runs"]) / MB,
        "rss_exact": all(r["rss_exact"] for r in raw["runs"]),
        "load_1min_before": [r.get("load_1min_before") for r in raw["runs"]],
        "traced_peak_mb": None,
        "output": raw["output"],
    }
    if trace is not None:
        res["traced_peak_mb"] = trace["runs"][0]["traced_peak_bytes"] / MB if "error" not in trace else None
        if "error" in trace:
            res["trace_error"] = trace["error"]
    return res


def _ratio(num: float | None, den: float | None, floor: float) -> float | None:
    if num is None or den is None or den < floor:
        return None
    return num / den


def _fmt(value: float | None, spec: str, none: str = "n/a") -> str:
    return none if value is None else format(value, spec)


def _report(hours: float, data: dict, results: dict[str, dict]) -> tuple[dict, dict, list[str]]:
    """Ratios, target verdicts and the printed lines for one data duration."""
    lines = [
        f"{hours:g} h of {data['sample_rate_hz']:g} Hz acc+gyro: {data['n_samples']:,} samples "
        f"({data['source']}, seed {data['seed']}, {data['truth_tremor_episodes']} simulated "
        f"tremor episodes)",
        f"  {'engine':<36}{'seconds':>9}{'CPU s':>9}{'x realtime':>12}{'input MB':>10}"
        f"{'RSS +MB':>10}{'traced +MB':>12}  output",
    ]
    for engine, res in results.items():
        if "error" in res:
            lines.append(f"  {ENGINES[engine]:<36}  failed: {res['error']}")
            continue
        out = res["output"]
        if engine == "paradigma":
            what = f"{out['tremor_windows']} tremor / {out['rest_windows']} rest / {out['windows']} windows"
        else:
            what = f"{out['episodes']} episodes"
        lines.append(
            f"  {ENGINES[engine]:<36}{res['seconds_median']:>9.2f}{res['cpu_s_median']:>9.2f}"
            f"{_fmt(res['x_realtime'], ',.0f'):>12}{res['input_mb']:>10.1f}"
            f"{res['rss_extra_mb']:>10.1f}{_fmt(res['traced_peak_mb'], '.1f', '-'):>12}  {what}"
        )
        if engine == "paradigma" and out.get("stage_s"):
            stages = ", ".join(f"{k} {v:.2f}" for k, v in out["stage_s"].items())
            lines.append(f"  {'':<36}  stages (s): {stages}")

    ok = {k: v for k, v in results.items() if "error" not in v}
    ratios: dict = {}
    pdg = ok.get("paradigma")
    for ours in ("batch", "stream"):
        if pdg and ours in ok:
            ratios[f"paradigma_over_{ours}_seconds"] = _ratio(
                pdg["seconds_median"], ok[ours]["seconds_median"], 1e-9
            )
            ratios[f"paradigma_over_{ours}_cpu"] = _ratio(pdg["cpu_s_median"], ok[ours]["cpu_s_median"], 1e-9)
            ratios[f"paradigma_over_{ours}_rss"] = _ratio(pdg["rss_extra_mb"], ok[ours]["rss_extra_mb"], 0.5)
    if ratios:
        lines.append(
            "  ParaDigMa / ours: "
            + "; ".join(
                f"{ours} {_fmt(ratios.get(f'paradigma_over_{ours}_seconds'), '.1f')}x time "
                f"({_fmt(ratios.get(f'paradigma_over_{ours}_cpu'), '.1f')}x CPU), "
                f"{_fmt(ratios.get(f'paradigma_over_{ours}_rss'), '.1f', 'n/a (ours < 0.5 MB)')}"
                f"{'' if ratios.get(f'paradigma_over_{ours}_rss') is None else 'x'} memory"
                for ours in ("batch", "stream")
                if f"paradigma_over_{ours}_seconds" in ratios
            )
        )

    targets: dict = {}
    no_episodes = (
        any(ok.get(e, {}).get("output", {}).get("episodes") == 0 for e in ("batch", "stream"))
        and data["truth_tremor_episodes"] > 0
    )
    speedup = ratios.get("paradigma_over_batch_seconds")
    if speedup is not None:
        targets["batch_10x_faster_than_paradigma"] = speedup >= TARGET_SPEEDUP
        targets["batch_10x_less_cpu_than_paradigma"] = (
            ratios["paradigma_over_batch_cpu"] or 0.0
        ) >= TARGET_SPEEDUP
    if "stream" in ok:
        targets["stream_under_64mb_above_input"] = (
            ok["stream"]["rss_extra_mb"] < TARGET_STREAM_EXTRA_MB
            and (ok["stream"]["traced_peak_mb"] or 0.0) < TARGET_STREAM_EXTRA_MB
        )
    if targets:
        verdicts = ", ".join(f"{k}: {'PASS' if v else 'FAIL'}" for k, v in targets.items())
        lines.append(f"  targets: {verdicts}")
    if no_episodes:
        lines.append(
            "  caution: our detector found no episodes in data with simulated tremor "
            "(placeholder or broken core?), so its figures may not reflect real work"
        )
    targets["detector_found_episodes"] = not no_episodes
    loads = [x for r in ok.values() for x in r.get("load_1min_before", []) if x is not None]
    if loads and max(loads) > 0.5 * (os.cpu_count() or 1):
        lines.append(
            f"  caution: the machine was busy (1-min load up to {max(loads):.1f} on "
            f"{os.cpu_count()} cores); timings are noisier than usual, use --repeat"
        )
    return ratios, targets, lines


def _parse_list(text: str, kind: type, what: str) -> list:
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise click.BadParameter(f"{what} must be a comma-separated list ({exc})") from None
    if not values:
        raise click.BadParameter(f"{what} is empty")
    return values


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--hours",
    default="24",
    show_default=True,
    help="Hours of data; a comma-separated list runs each (e.g. 1,24).",
)
@click.option(
    "--repeat",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="Timed runs per engine; the median is reported.",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write all figures to this JSON file.",
)
@click.option(
    "--engines",
    default="batch,stream,paradigma",
    show_default=True,
    help="Which engines to run (batch, stream, paradigma).",
)
@click.option(
    "--trace/--no-trace",
    default=True,
    show_default=True,
    help="Also measure the tracemalloc peak (one extra run per engine).",
)
@click.option("--seed", default=7, show_default=True, help="Seed of the generated data.")
@click.option(
    "--sample-rate",
    "sample_rate_hz",
    default=100.0,
    show_default=True,
    type=click.FloatRange(min=25.0, max=1000.0),
    help="Sample rate of the data (Hz).",
)
@click.option(
    "--chunk-s",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.001),
    help="Chunk length fed to the streaming detector (s).",
)
@click.option(
    "--data",
    "source",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "builtin", "simulator"]),
    help="Data source: the project simulator (daily_mix) or the built-in generator; "
    "auto picks the simulator when it exists.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=daily_data.DEFAULT_CACHE_DIR,
    show_default=True,
    help="Where generated data is cached.",
)
@click.option(
    "--paradigma-venv",
    type=click.Path(file_okay=False, path_type=Path),
    default=daily_data.DEFAULT_CACHE_DIR / "paradigma-venv",
    show_default=True,
    help="ParaDigMa's own virtual environment (made on first use: it needs pandas < 3).",
)
@click.option("--worker", hidden=True, type=click.Choice(list(ENGINES)))
@click.option("--mode", hidden=True, type=click.Choice(["time", "trace"]), default="time")
@click.option("--data-file", hidden=True, type=click.Path(path_type=Path))
@click.option("--result-file", hidden=True, type=click.Path(path_type=Path))
def main(
    hours,
    repeat,
    json_out,
    engines,
    trace,
    seed,
    sample_rate_hz,
    chunk_s,
    source,
    cache_dir,
    paradigma_venv,
    worker,
    mode,
    data_file,
    result_file,
) -> None:
    """Benchmark dsp.detect and the 1 s streaming path against ParaDigMa's tremor pipeline."""
    if worker:
        _worker(worker, mode, data_file, repeat, chunk_s, result_file)
        return

    hour_list = _parse_list(hours, float, "--hours")
    if any(h <= 0 for h in hour_list):
        raise click.BadParameter("--hours values must be positive")
    engine_list = _parse_list(engines, str, "--engines")
    unknown = [e for e in engine_list if e not in ENGINES]
    if unknown:
        raise click.BadParameter(f"unknown engine(s) {unknown}; choose from {list(ENGINES)}")
    paradigma_py = paradigma_version = None
    if "paradigma" in engine_list:
        paradigma_py, paradigma_version = paradigma_python(paradigma_venv, create=True)
        if paradigma_py is None:
            click.echo("ParaDigMa is not available: skipping it.", err=True)
            engine_list.remove("paradigma")

    try:
        resolved = daily_data.resolve_source(source)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    report = {"machine": _machine(), "repeat": repeat, "chunk_s": chunk_s, "runs": []}
    m = report["machine"]
    m["paradigma"] = paradigma_version
    click.echo(
        f"{m['cpu']}, {m['cores']} cores, Python {m['python']}, numpy {m['numpy']}, "
        f"pandas {m['pandas']}, ParaDigMa {m['paradigma'] or 'not installed'}, commit {m['commit']}"
    )
    failed = False
    for h in hour_list:
        try:
            path = daily_data.prepare(h, seed, sample_rate_hz, resolved, cache_dir)
        except Exception as exc:  # noqa: BLE001 - one line, then fall back or stop
            if source != "auto" or resolved == "builtin":
                raise click.ClickException(f"could not prepare {h:g} h of data: {exc}") from None
            click.echo(
                f"the project simulator failed ({type(exc).__name__}: {exc}); using the built-in generator",
                err=True,
            )
            resolved = "builtin"
            path = daily_data.prepare(h, seed, sample_rate_hz, resolved, cache_dir)
        results: dict[str, dict] = {}
        data_info: dict | None = None
        for engine in engine_list:
            py = paradigma_py if engine == "paradigma" else None
            raw = _run_worker(engine, "time", path, repeat, chunk_s, py)
            traced = (
                _run_worker(engine, "trace", path, 1, chunk_s, py) if trace and "error" not in raw else None
            )
            data_info = data_info or raw.get("data")
            results[engine] = _summarise(raw, traced, (raw.get("data") or {}).get("duration_s", 0))
            failed |= "error" in results[engine]
        if data_info is None:
            raise click.ClickException(
                f"every engine failed on {h:g} h: "
                + "; ".join(f"{e}: {r['error']}" for e, r in results.items())
            )
        ratios, targets, lines = _report(h, data_info, results)
        click.echo("\n".join(lines))
        report["runs"].append(
            {"hours": h, "data": data_info, "engines": results, "ratios": ratios, "targets": targets}
        )
    if json_out is not None:
        json_out.write_text(json.dumps(report, indent=2, default=str) + "\n")
        click.echo(f"figures written to {json_out}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
