"""Run a cohort on Dask: each recording one task, on a laptop or a cluster with the same code.

A long plain-CSV recording is a chain of tasks of ``task_blocks`` blocks each: every task
continues the previous one's detector (its state pickled along, on whichever worker is free), so
the result is exactly that of one pass, a worker holds one recording's blocks at a time, and no
worker is tied up for a week-long file. The tasks of one recording run one after another: the
detector's state (an adapted neutral posture, the gyroscope offset, the grid's phase) has no
point where it forgets its past, not even a data gap, so a block cannot start from an overlap and
give the same episodes (README, "Research cohorts").

Without a scheduler address a :class:`distributed.LocalCluster` sized to the machine is started
(one single-threaded worker process per core: the detector's numba kernels release the GIL,
but one recording at a time per worker bounds memory). With ``scheduler`` the tasks go to an
existing cluster (dask-jobqueue on SLURM, Kubernetes, Coiled, ``dask scheduler``), whose
workers must see the input files and the output folder (a shared file system).

The client writes each result as it arrives, so a crash loses at most the recordings in
progress; a second run with the same inputs and output skips every finished recording by
content hash (:func:`tremorscope.cohort.analyse.recording_key`).
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import os
import pickle
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsp import DetectorConfig
from firmware_bridge.io import reader_formats
from tremorscope.cohort.analyse import (
    DEFAULT_BLOCK_SAMPLES,
    KEY_HEX_DIGITS,
    RecordingResult,
    RecordingRun,
    analyse_recording,
    recording_key,
    start_run,
)
from tremorscope.cohort.outputs import read_result, write_result, write_tables

#: Where a local cluster's dashboard listens: this machine only (health data; no listeners
#: beyond loopback). A taken port makes Dask pick a free one.
LOCAL_DASHBOARD = "127.0.0.1:8787"
#: How long to try reaching a scheduler given by address (a cluster's may still be starting).
SCHEDULER_TIMEOUT_S = 30
_GLOB_CHARS = set("*?[")
#: Files taken from a folder beside the registered suffixes: GENEActiv's ".bin" (the registry
#: knows those by their first bytes, since ".bin" also names other files).
FOLDER_EXTRA_SUFFIXES = (".bin", ".BIN")
#: Blocks per task of a long plain-CSV recording (6 h at the default block): the next task, on
#: any worker, takes the detector's state on (exact; ``RecordingRun``). None: one task each.
DEFAULT_TASK_BLOCKS = 6
#: Dask priority of a recording's next task (higher runs first): a started recording is finished
#: before new ones start, so a worker holds few recordings' states at a time.
CONTINUE_PRIORITY = 10
#: Under the output folder: the part files of recordings whose chain of tasks is still running
#: (each task's finished episodes and minute rows; removed when the recording is written).
PARTIAL_DIR = ".partial"


class BatchError(ValueError):
    """The batch cannot start (no inputs, a bad scheduler address); one line."""


@dataclass
class BatchSummary:
    """What a batch run did."""

    results: list[RecordingResult]
    tables: dict[str, Path]
    dashboard: str | None = None
    analysed: int = 0
    skipped: int = 0
    failed: int = 0
    keys: list[str] = field(default_factory=list)


def expand_inputs(inputs: Iterable[str | os.PathLike[str]], exclude: Path | None = None) -> list[Path]:
    """Files to analyse: each input a recording, a folder (its recordings, recursively; a
    BIDS-Motion dataset's ``*_motion.tsv`` files) or a glob pattern. Order kept, duplicates
    dropped; nothing under ``exclude`` (the output folder, whose tables are CSV too)."""
    suffixes = tuple(s for fmt in reader_formats() for s in fmt.suffixes) + FOLDER_EXTRA_SUFFIXES
    found: list[Path] = []
    for item in inputs:
        text = str(item)
        p = Path(text)
        if not p.exists() and _GLOB_CHARS & set(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise BatchError(f"{text}: the pattern matches no file")
            found += [Path(m) for m in matches]
        elif p.is_dir():
            inside = sorted(f for f in p.rglob("*") if f.is_file() and f.name.endswith(suffixes))
            found += inside
        else:
            found.append(p)  # a missing file is reported in the quality table, the rest goes on
    seen: set[Path] = set()
    unique = []
    skip = None if exclude is None else exclude.resolve()
    for f in found:
        r = f.resolve()
        if skip is not None and (r == skip or skip in r.parents):
            continue
        if r not in seen:
            seen.add(r)
            unique.append(f)
    if not unique:
        raise BatchError(
            "no recordings found in the inputs (CSV, BIDS-Motion, .jsonl captures, .cwa, .bin, .gt3x)"
        )
    return unique


def batch_task(
    path: str, out: str, config: DetectorConfig | None, block_samples: int, task_blocks: int | None = None
) -> RecordingResult | RecordingRun:
    """A recording's first task: a finished recording is read back, anything else analysed, a
    resumable one (plain CSV) for ``task_blocks`` blocks, then handed on (:func:`continue_task`)."""
    p = Path(path)
    try:
        key = recording_key(p, config)
    except OSError:
        return analyse_recording(p, config, block_samples)  # it reports the unreadable file
    done = read_result(Path(out), key)
    if done is not None:
        return done
    run = start_run(p, config, block_samples, key=key)
    if isinstance(run, RecordingResult):
        return run
    if run.resumable and task_blocks is not None:
        # a chain of tasks: each one's results go to a part file, not along with the state
        run.spill_dir = Path(out) / PARTIAL_DIR / key
        shutil.rmtree(run.spill_dir, ignore_errors=True)  # an earlier, interrupted run's parts
    return run.step(task_blocks if run.resumable else None, _worker_name())


def continue_task(run: RecordingRun, task_blocks: int | None) -> RecordingResult | RecordingRun:
    """The next ``task_blocks`` blocks of a recording, on whichever worker runs this task. It
    works on a copy, so the previous task's result stays what it was (Dask may hand it to a
    retry)."""
    run = pickle.loads(pickle.dumps(run, protocol=pickle.HIGHEST_PROTOCOL))
    return run.step(task_blocks, _worker_name())


def is_finished(value: RecordingResult | RecordingRun) -> bool:
    """A tiny task that tells the client whether a recording is done, without moving its state."""
    return isinstance(value, RecordingResult)


def _worker_name() -> str | None:
    """The Dask worker running this task (for the quality record: where it ran)."""
    from distributed import get_worker

    try:
        return str(get_worker().name)
    except ValueError:  # not on a worker
        return None


def start_client(
    scheduler: str | None = None, workers: int | None = None, **cluster_kwargs: Any
) -> tuple[Any, Any]:
    """A Dask client and the local cluster it started (None with ``scheduler``)."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout=f"{SCHEDULER_TIMEOUT_S}s"), None
        except (OSError, TimeoutError, ValueError) as e:
            raise BatchError(
                f"cannot reach the Dask scheduler at {scheduler} ({e}); check --scheduler"
            ) from None
    opts: dict[str, Any] = {"threads_per_worker": 1, "host": "127.0.0.1"}
    opts["dashboard_address"] = LOCAL_DASHBOARD if importlib.util.find_spec("bokeh") else None
    if workers is not None:
        opts["n_workers"] = int(workers)
    opts.update(cluster_kwargs)
    cluster = LocalCluster(**opts)
    return Client(cluster), cluster


def dashboard_link(client: Any) -> str | None:
    """The dashboard's address, when the scheduler serves one."""
    try:
        services = client.scheduler_info().get("services", {})
    except Exception:
        return None
    return client.dashboard_link if "dashboard" in services else None


def run_batch(
    inputs: Iterable[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    client: Any = None,
    scheduler: str | None = None,
    workers: int | None = None,
    config: DetectorConfig | None = None,
    block_samples: int = DEFAULT_BLOCK_SAMPLES,
    task_blocks: int | None = DEFAULT_TASK_BLOCKS,
    on_progress: Callable[[int, int], None] | None = None,
    on_start: Callable[[str | None], None] | None = None,
    cluster_kwargs: dict[str, Any] | None = None,
) -> BatchSummary:
    """Analyse every recording in ``inputs`` into ``out``; see the module docstring."""
    from distributed import as_completed

    if block_samples < 1:
        raise BatchError(f"block of {block_samples} samples: must be at least 1")
    if task_blocks is not None and task_blocks < 1:
        raise BatchError(f"{task_blocks} blocks per task: must be at least 1")
    out_dir = Path(out)
    files = expand_inputs(inputs, exclude=out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    own = client is None
    cluster = None
    if own:
        client, cluster = start_client(scheduler, workers, **(cluster_kwargs or {}))
    try:
        link = dashboard_link(client)
        if on_start is not None:
            on_start(link)
        ac = as_completed()
        pending: dict[Any, tuple[int, Any]] = {}  # "is it finished?" future -> (file, its task)

        def watch(i: int, task: Any) -> None:
            done_future = client.submit(is_finished, task, pure=False, priority=CONTINUE_PRIORITY)
            pending[done_future] = (i, task)
            ac.add(done_future)

        for i, f in enumerate(files):
            watch(
                i,
                client.submit(
                    batch_task, str(f), str(out_dir), config, block_samples, task_blocks, pure=False
                ),
            )
        results: list[RecordingResult | None] = [None] * len(files)
        summary = BatchSummary([], {}, dashboard=link)
        if on_progress is not None:
            on_progress(0, len(files))
        done = 0
        for done_future in ac:
            i, task = pending.pop(done_future)
            try:
                if not done_future.result():  # more blocks to go: the next task takes the state on
                    nxt = client.submit(
                        continue_task, task, task_blocks, pure=False, priority=CONTINUE_PRIORITY
                    )
                    watch(i, nxt)
                    continue
                result = task.result()
            except Exception as e:  # the worker died or the task failed outside the analysis
                result = _failed(files[i], e)
            results[i] = result
            if result.skipped:
                summary.skipped += 1
            else:
                write_result(out_dir, result)  # before the next one: a crash loses only what runs
                summary.analysed += 1
            summary.failed += result.quality.get("status") == "error"
            done += 1
            if on_progress is not None:
                on_progress(done, len(files))
    finally:
        if own:
            client.close()
            if cluster is not None:
                cluster.close()
    summary.results = [r for r in results if r is not None]
    summary.keys = [r.key for r in summary.results]
    summary.tables = write_tables(out_dir, summary.results)
    return summary


def _failed(path: Path, e: BaseException) -> RecordingResult:
    key = "failed-" + hashlib.sha256(str(path).encode()).hexdigest()[:KEY_HEX_DIGITS]
    text = " ".join(str(e).split()) or type(e).__name__
    quality = {"recording": path.name, "path": str(path), "key": key, "status": "error", "error": text}
    return RecordingResult(key, str(path), quality)
