"""Run ParaDigMa's full tremor pipeline on in-memory IMU samples (the benchmark's reference).

ParaDigMa (PyPI ``paradigma``, the ``bench`` extra, pinned to 1.1.2) is the Parkinson digital
biomarker toolbox of the Personalized Parkinson Project. What we run is its documented
top-level entry point, ``paradigma.orchestrator.run_paradigma``, with ``pipelines=["tremor"]``
and ``run_steps="all"``. In 1.1.2 that executes, in order (read from the installed sources):

1. ``prepare_data.prepare_raw_data``: unit conversion (none needed: g and deg/s), time column,
   orientation, validation (``orchestrator.py``, "Step 2: Prepare data").
2. ``pipelines.tremor_pipeline.run_tremor_pipeline``, which calls
   a. ``preprocessing.preprocess_imu_data(sensor="gyroscope")``: cubic ``interp1d`` resampling
      of the gyroscope onto a uniform 100 Hz grid (``resample_data``);
   b. ``extract_tremor_features``: 4 s windows (``segmenting.tabulate_windows``), Welch PSD,
      STFT spectrogram, 12 MFCCs, peak frequency, tremor and below-tremor power;
   c. ``detect_tremor``: the bundled logistic-regression classifier
      ``paradigma/assets/tremor_detection_clf_package.pkl`` (scaler + threshold), then the
      rest-tremor checks (peak 3-7 Hz, arm at rest);
   d. quantification: per-window ``pred_arm_at_rest``, ``pred_tremor_checked``, tremor power.
3. ``aggregate_tremor``: % tremor time among rest windows, median/modal/90th-percentile tremor
   power (``orchestrator.py``, "Step 5").

The tremor pipeline analyses only the gyroscope, but we hand it the same seven columns our
detector gets. ParaDigMa's resampler refuses gaps longer than 3 samples unless segmentation is
on, so ``split_by_gaps`` is enabled only when the data has such gaps.

Stage timings come from ParaDigMa's own progress log messages, timestamped by a log handler,
so nothing in ParaDigMa is patched.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

PARADIGMA_VERSION = "1.1.2"

# Column names ParaDigMa expects (paradigma/constants.py, class DataColumns).
TIME_COLUMN = "time"
ACC_COLUMNS = ("accelerometer_x", "accelerometer_y", "accelerometer_z")
GYRO_COLUMNS = ("gyroscope_x", "gyroscope_y", "gyroscope_z")

# Segmentation defaults documented in run_paradigma's docstring and IMUConfig (config.py).
PARADIGMA_MAX_GAP_S = 1.5
PARADIGMA_MIN_SEGMENT_S = 1.5

# ParaDigMa's contiguity tolerance is 3 sample periods (config.py, IMUConfig: tolerance = 3/fs).
CONTIGUITY_TOLERANCE_SAMPLES = 3

# (stage name, log message that starts it); the next stage's marker ends it. The messages are
# those logged by run_paradigma / run_tremor_pipeline in paradigma 1.1.2.
STAGE_MARKERS: tuple[tuple[str, str], ...] = (
    ("preparation", "Preparing data for"),
    ("preprocessing", "Step 1: Preprocessing gyroscope data"),
    ("features", "Step 2: Extracting tremor features"),
    ("classification", "Step 3: Detecting tremor"),
    ("quantification", "Step 4: Quantifying tremor"),
    ("aggregation", "Step 5: Aggregating results"),
    ("_end", "Tremor aggregation completed"),
)


def installed_version() -> str | None:
    """The installed ParaDigMa version, or ``None`` when it is not installed."""
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("paradigma")
    except PackageNotFoundError:
        return None


def to_paradigma_frame(t: np.ndarray, acc: np.ndarray, gyro: np.ndarray) -> pd.DataFrame:
    """Our samples (s, g, deg/s) as a DataFrame with ParaDigMa's column names (same values)."""
    data = {TIME_COLUMN: np.asarray(t, dtype=np.float64)}
    for i, name in enumerate(ACC_COLUMNS):
        data[name] = np.asarray(acc[:, i], dtype=np.float64)
    for i, name in enumerate(GYRO_COLUMNS):
        data[name] = np.asarray(gyro[:, i], dtype=np.float64)
    return pd.DataFrame(data)


def has_long_gaps(t: np.ndarray, sample_rate_hz: float) -> bool:
    """True when ParaDigMa's resampler would reject the data as non-contiguous."""
    return bool(np.any(np.diff(t) > CONTIGUITY_TOLERANCE_SAMPLES / sample_rate_hz))


class _StageClock(logging.Handler):
    """Timestamps every ParaDigMa progress message, to split its run time into stages."""

    def __init__(self) -> None:
        super().__init__(level=1)
        self.marks: list[tuple[float, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.marks.append((time.perf_counter(), record.getMessage()))

    def stages(self, start: float, end: float) -> dict[str, float]:
        found: list[tuple[str, float]] = []
        for name, prefix in STAGE_MARKERS:
            hit = next((ts for ts, msg in self.marks if msg.startswith(prefix)), None)
            if hit is not None:
                found.append((name, hit))
        out: dict[str, float] = {}
        for (name, t0), (_, t1) in zip(found, found[1:] + [("_end", end)], strict=True):
            if name != "_end":
                out[name] = t1 - t0
        if found:
            out["other"] = (end - start) - sum(out.values())
        return out


@dataclass
class ParadigmaResult:
    """What one ParaDigMa tremor run produced, with its stage timings (s)."""

    n_windows: int
    n_rest_windows: int
    n_tremor_windows: int
    aggregation: dict
    stage_s: dict[str, float] = field(default_factory=dict)
    split_by_gaps: bool = False


def _run_paradigma(frame: pd.DataFrame, log: logging.Logger, split_by_gaps: bool) -> dict:
    """The one ParaDigMa call this module makes (see the module docstring for what it runs)."""
    from paradigma.constants import TimeUnit  # optional dependency
    from paradigma.orchestrator import run_paradigma

    # ParaDigMa's gait module calls logging.basicConfig at import; keep its module loggers
    # quiet. Its pipeline progress messages go to ``log`` (custom_logger) only.
    logging.getLogger("paradigma").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="paradigma-bench-") as out_dir:
        result = run_paradigma(
            dfs=frame,
            pipelines=["tremor"],
            run_steps="all",
            output_dir=Path(out_dir),  # it writes its run log here; nothing else is saved
            accelerometer_units="g",
            gyroscope_units="deg/s",
            time_input_unit=TimeUnit.RELATIVE_S,
            split_by_gaps=split_by_gaps,
            # run_paradigma passes None through to prepare_raw_data when these are left out,
            # which then fails comparing a float with None; give its documented defaults.
            max_gap_seconds=PARADIGMA_MAX_GAP_S,
            min_segment_seconds=PARADIGMA_MIN_SEGMENT_S,
            custom_logger=log,
        )
    # ParaDigMa catches its own exceptions and lists them in ``errors``: never time a failure.
    if result["errors"]:
        first = result["errors"][0]
        raise RuntimeError(f"ParaDigMa {first.get('stage')} failed: {first.get('error')}")
    quant = result["quantifications"]["tremor"]
    if not isinstance(quant, pd.DataFrame) or quant.empty:
        raise RuntimeError("ParaDigMa produced no tremor windows (is there gyroscope data?)")
    return result


def _logger(name: str, handler: logging.Handler) -> logging.Logger:
    log = logging.getLogger(f"tremorscope.bench.{name}")
    log.handlers[:] = [handler]
    log.setLevel(1)
    log.propagate = False
    return log


def run_tremor(frame: pd.DataFrame, sample_rate_hz: float = 100.0) -> ParadigmaResult:
    """Run ParaDigMa's complete tremor pipeline on ``frame`` (from :func:`to_paradigma_frame`).

    Raises RuntimeError when ParaDigMa reports an error.
    """
    clock = _StageClock()
    split = has_long_gaps(frame[TIME_COLUMN].to_numpy(), sample_rate_hz)
    start = time.perf_counter()
    result = _run_paradigma(frame, _logger("paradigma", clock), split)
    end = time.perf_counter()
    quant = result["quantifications"]["tremor"]
    meta = result["metadata"].get("tremor", {})
    return ParadigmaResult(
        n_windows=len(quant),
        n_rest_windows=int(meta.get("nr_windows_rest", quant["pred_arm_at_rest"].sum())),
        n_tremor_windows=int(quant["pred_tremor_checked"].sum()),
        aggregation={k: _plain(v) for k, v in result["aggregations"]["tremor"].items()},
        stage_s=clock.stages(start, end),
        split_by_gaps=split,
    )


def run_tremor_windows(frame: pd.DataFrame, sample_rate_hz: float = 100.0) -> pd.DataFrame:
    """ParaDigMa's per-window quantification table (time, arm at rest, tremor, power).

    The same call as :func:`run_tremor`, returning the windows; used to check this adapter
    against the published classifier output for the real Verily recording.
    """
    split = has_long_gaps(frame[TIME_COLUMN].to_numpy(), sample_rate_hz)
    result = _run_paradigma(frame, _logger("paradigma.quiet", logging.NullHandler()), split)
    return result["quantifications"]["tremor"]


def _plain(value):
    """NumPy scalars to plain floats (NaN kept) so results serialise to JSON."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return value
