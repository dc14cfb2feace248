"""One recording of a cohort, analysed: the work of one batch task (or of a chain of tasks).

The recording is read in blocks of ``block_samples`` and each block is pushed into one
:class:`~dsp.StreamingDetector`. The detector carries its whole state (filter tails, the open
window, the open episode) from one block to the next, so the blocks are stitched exactly: the
episodes are the same as feeding the recording at once (the core's chunk invariance, which
``tests/test_cohort.py`` checks episode for episode), and memory is bounded by the block, not
the recording (for the streaming readers: CSV, BIDS-Motion; the device libraries load the file).
A long plain-CSV recording can be handed from task to task (:class:`RecordingRun`), state and
all, so its blocks run on whichever workers are free (``tests/test_cohort_split.py``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import pickle
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import tremorscope
from dsp import GAP, MINUTE, MINUTE_COLUMNS, DetectorConfig, StreamingDetector
from dsp.events import episodes_frame
from firmware_bridge.io import find_format, open_recording
from tremorscope.cohort.quality import QualityAccumulator
from tremorscope.paths import make_private_dirs

#: Default block: one hour at 100 Hz. Bounds a worker's memory; the results do not depend on it.
DEFAULT_BLOCK_SAMPLES = 360_000
#: Bytes read at a time when hashing a file.
HASH_READ_BYTES = 1 << 20
#: Hex digits of the content hash that name a recording's result folder.
KEY_HEX_DIGITS = 16
_BIDS_SUBJECT = re.compile(r"sub-([A-Za-z0-9]+)")


@dataclass
class RecordingResult:
    """What one task returns: the quality row, and the episodes and minutes when it ran."""

    key: str
    path: str
    quality: dict[str, Any]
    episodes: pd.DataFrame = field(default_factory=pd.DataFrame)
    minutes: pd.DataFrame = field(default_factory=pd.DataFrame)
    skipped: bool = False  # finished in an earlier run: read back, not analysed again


def content_hash(path: Path) -> str:
    """SHA-256 of the recording's bytes (a folder: its files' names and bytes, in name order)."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode() + b"\0")
        with open(f, "rb") as fh:
            while chunk := fh.read(HASH_READ_BYTES):
                h.update(chunk)
    return h.hexdigest()


def settings_hash(config: DetectorConfig | None) -> str:
    """What else decides the results: the detector settings and tremorscope's version (not the
    block size, which by chunk invariance changes nothing)."""
    text = json.dumps(
        {"config": None if config is None else asdict(config), "version": tremorscope.__version__},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def recording_key(path: Path, config: DetectorConfig | None) -> str:
    """The name of a recording's result folder: its content hash and the settings."""
    return f"{content_hash(path)[:KEY_HEX_DIGITS]}-{settings_hash(config)}"


def person_of(path: Path, meta: dict[str, str]) -> str:
    """Who wore it: the file's own subject id (``person_id``), a BIDS ``sub-`` label, else the stem."""
    if meta.get("person_id"):
        return str(meta["person_id"])
    m = _BIDS_SUBJECT.search(str(path))
    if m:
        return m.group(1)
    name = path.name
    for suffix in (".csv.gz", "_motion.tsv"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def analyse_recording(
    path: str | os.PathLike[str],
    config: DetectorConfig | None = None,
    block_samples: int = DEFAULT_BLOCK_SAMPLES,
    key: str | None = None,
) -> RecordingResult:
    """Analyse one recording in one go; never raises for a bad file (the quality row says what
    went wrong)."""
    run = start_run(path, config, block_samples, key)
    while isinstance(run, RecordingRun):
        run = run.step(None)
    return run


def start_run(
    path: str | os.PathLike[str],
    config: DetectorConfig | None = None,
    block_samples: int = DEFAULT_BLOCK_SAMPLES,
    key: str | None = None,
) -> RecordingRun | RecordingResult:
    """Open a recording for :meth:`RecordingRun.step`; a file that cannot be opened is already
    its (error) result."""
    p = Path(path)
    started = time.perf_counter()
    quality: dict[str, Any] = {"recording": p.name, "path": str(p), "status": "ok", "error": None}
    try:
        key = key or recording_key(p, config)
    except OSError as e:
        key = "unreadable-" + hashlib.sha256(str(p).encode()).hexdigest()[:KEY_HEX_DIGITS]
        quality.update(status="error", error=f"{p}: cannot read ({e.strerror or _one_line(e)})")
        return RecordingResult(key, str(p), quality)
    quality["key"] = key
    try:
        quality["format"] = find_format(p).name
        reader = open_recording(p, chunk_rows=block_samples)
    except Exception as e:  # a bad file: one line in the quality table; the cohort goes on
        quality.update(status="error", error=_one_line(e), elapsed_s=time.perf_counter() - started)
        return RecordingResult(key, str(p), quality)
    try:
        det = StreamingDetector(
            float(reader.sample_rate_hz),
            placement=reader.placement,
            config=config,
            start_time=reader.start_time,
        )
    except ValueError as e:  # e.g. a rate too low for tremor: one line, as for a bad file
        reader.close()
        quality.update(status="error", error=_one_line(e), elapsed_s=time.perf_counter() - started)
        return RecordingResult(key, str(p), quality)
    run = RecordingRun(
        p, key, quality, reader, det, QualityAccumulator(range_g=getattr(reader, "range_g", None))
    )
    run.elapsed_s = time.perf_counter() - started
    return run


class RecordingRun:
    """One recording's analysis in progress: its reader, detector and accumulators.

    :meth:`step` pushes up to ``max_blocks`` more blocks and returns the run (more to come) or
    the finished :class:`RecordingResult`. A run whose reader is :attr:`resumable` (plain
    canonical CSV) pickles between steps, so the steps of one long recording can run as
    consecutive Dask tasks on different workers: the detector's whole state travels with it
    (filter tails, open windows and episodes, the adapted neutral posture, the gyroscope
    offset), which makes the result exactly that of one pass (chunk invariance;
    ``tests/test_cohort_split.py``). The steps of one recording run one after the other; the
    state cannot be rebuilt from an overlap (README, "Research cohorts").
    """

    def __init__(
        self,
        path: Path,
        key: str,
        quality: dict[str, Any],
        reader: Any,
        det: StreamingDetector,
        acc_q: QualityAccumulator,
    ) -> None:
        self.path, self.key, self.quality = path, key, quality
        self.reader, self.det, self.acc_q = reader, det, acc_q
        self.minutes: list[dict[str, Any]] = []
        self.gap_count = 0
        self.gap_s = 0.0
        self.steps = 0
        self.workers: list[str] = []
        self.elapsed_s = 0.0
        #: where a chain of tasks puts each task's finished episodes and minute rows (None: kept
        #: in memory), so that what travels from task to task does not grow with the recording
        self.spill_dir: Path | None = None
        self._parts: list[str] = []  # the part files written so far, in order
        self._blocks: Iterator[Any] | None = None  # the reader's iteration in this process

    @property
    def resumable(self) -> bool:
        """Whether the run can be pickled between steps (its reader can)."""
        return bool(getattr(self.reader, "resumable", False))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_blocks"] = None  # a generator; the unpickled reader resumes (resume_blocks)
        return state

    def step(self, max_blocks: int | None, worker: str | None = None) -> RecordingRun | RecordingResult:
        """Push up to ``max_blocks`` blocks (None: all); the result once the recording ends."""
        started = time.perf_counter()
        self.steps += 1
        if worker is not None and worker not in self.workers:
            self.workers.append(worker)
        if self._blocks is None:
            resume = getattr(self.reader, "resume_blocks", None)
            self._blocks = resume() if resume is not None else self.reader.blocks()
        ended = False
        try:
            for _ in itertools.repeat(None) if max_blocks is None else range(max_blocks):
                block = next(self._blocks, None)
                if block is None:
                    ended = True
                    break
                self.acc_q.update(block)
                self._take(self.det.push_block(block))
        except Exception as e:  # damaged mid-file: what came before it is kept, and said so
            self.quality.update(status="partial", error=_one_line(e))
            ended = True
        self.elapsed_s += time.perf_counter() - started
        if ended:
            return self._finish()
        if self.spill_dir is not None:
            self._spill()
        return self

    def _take(self, events: list) -> None:
        for ev in events:
            if ev.type == MINUTE:
                self.minutes.append(ev.minute.as_row())
            elif ev.type == GAP:
                self.gap_count += 1
                self.gap_s += ev.gap.duration_s

    def _spill(self) -> None:
        """Write this task's finished episodes and minute rows to a part file and forget them.
        A retried task writes the same part again (the name is the task's number)."""
        name = f"part-{self.steps:06d}.pkl"
        write_private(self.spill_dir / name, pickle.dumps((self.minutes, self.det.take_finished())))
        self.minutes = []
        if name not in self._parts:
            self._parts.append(name)

    def _unspill(self) -> tuple[list[dict[str, Any]], list[Any]]:
        """The parts written so far, read back in order; the folder is then removed."""
        minutes, episodes = [], []
        if self.spill_dir is None or not self._parts:
            return minutes, episodes
        for name in self._parts:
            m, e = pickle.loads((self.spill_dir / name).read_bytes())
            minutes += m
            episodes += e
        shutil.rmtree(self.spill_dir, ignore_errors=True)
        return minutes, episodes

    def _finish(self) -> RecordingResult:
        started = time.perf_counter()
        reader, det, quality = self.reader, self.det, self.quality
        reader.close()
        self._take(det.flush())
        spilled_minutes, spilled_episodes = self._unspill()
        self.minutes = spilled_minutes + self.minutes
        episodes = episodes_frame(spilled_episodes + det.take_finished())
        warnings = list(getattr(reader, "read_warnings", []) or [])
        stats = getattr(reader, "stats", None)
        fs = float(reader.sample_rate_hz)
        quality.update(
            person=person_of(self.path, dict(getattr(reader, "meta", {}) or {})),
            device=reader.device,
            placement=reader.placement,
            start_time=None if reader.start_time is None else reader.start_time.isoformat(),
            sample_rate_hz=fs,
            **self.acc_q.summary(fs),
            detection_path="accelerometer+gyroscope" if reader.has_gyro else "accelerometer only",
            gaps=self.gap_count,
            gap_s=self.gap_s,
            skipped_samples=int(getattr(stats, "skipped", 0) or 0) + int(det.skipped),
            idle_samples=int(getattr(reader, "idle_samples", 0) or 0),
            read_warnings=len(warnings),
            read_warning=warnings[0] if warnings else None,
            tremor_episodes=int((episodes["kind"] == "tremor").sum()),
            contraction_episodes=int((episodes["kind"] == "contraction").sum()),
            tasks=self.steps,
        )
        if self.workers:
            quality["worker"] = ",".join(self.workers)
        quality["elapsed_s"] = self.elapsed_s + time.perf_counter() - started
        minute_frame = pd.DataFrame(self.minutes, columns=list(MINUTE_COLUMNS))
        return RecordingResult(self.key, str(self.path), quality, episodes, minute_frame)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` owner-only (health data), atomically, creating owner-only folders."""
    make_private_dirs(path.parent)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
