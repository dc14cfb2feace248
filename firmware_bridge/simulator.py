"""A virtual wearable IMU with ground truth: realistic recordings for demos, tests and benchmarks.

The sensor is a rigid body moved by a person's activities (rest, postures,
gestures, walking, typing, riding in a vehicle, brushing teeth) and tremors
(parkinsonian, essential, dystonic, orthostatic, physiological). The posture
scenarios (``neck_*``, ``wrist_spasms``) add dystonic postures and spasms of
every clinical direction among natural sway, head turns, nods and walking;
their events files carry :data:`CONTRACTION_COLUMNS` as well. The
accelerometer (specific force, g) and the gyroscope (body angular rate, deg/s)
are computed from the same motion with exact derivatives, then pass through a
MEMS sensor model (noise, bias, int16 quantisation, timestamp jitter, lost
packets). Every scenario also writes what really happened: ``REC.events.tsv``.

Usage::

    sim = simulate("rest_tremor", duration_s=120, seed=3, sample_rate_hz=50, gyro=False)
    write_simulation(sim, "rest.csv.gz")          # rest.csv.gz + rest.events.tsv
    simulate_to_file("day.csv.gz", "daily_mix", duration_s=86400)  # bounded memory

Deterministic for a given seed (and scenario, duration, rate and overrides).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from firmware_bridge.io.recording import write_recording, write_recording_blocks
from firmware_bridge.simulation.activities import Scene
from firmware_bridge.simulation.body import make_body
from firmware_bridge.simulation.groundtruth import (
    CONTRACTION_COLUMNS,
    EVENT_COLUMNS,
    events_frame,
    events_path_for,
    read_events,
    write_events,
)
from firmware_bridge.simulation.postures import DIRECTIONS
from firmware_bridge.simulation.render import Renderer
from firmware_bridge.simulation.scenarios import (
    CONTRACTION_SCENARIOS,
    DEFAULT_DURATION_S,
    PLACEMENT,
    SCENARIOS,
    SCRIPTS,
    SENSOR_DEFAULTS,
)
from firmware_bridge.simulation.sensor import SensorModel

__all__ = [
    "CONTRACTION_COLUMNS",
    "CONTRACTION_SCENARIOS",
    "DEFAULT_DURATION_S",
    "DEVICE",
    "DIRECTIONS",
    "EVENT_COLUMNS",
    "OVERRIDES",
    "SCENARIOS",
    "Simulation",
    "SimulationStream",
    "events_path_for",
    "iter_simulation",
    "read_events",
    "simulate",
    "simulate_to_file",
    "write_events",
    "write_simulation",
]

DEVICE = "tremorscope simulator"
MIN_RATE_HZ = 25.0
MAX_RATE_HZ = 1000.0

#: Scenario overrides (besides every :class:`SensorModel` field and ``ideal``).
SCENARIO_OVERRIDES: dict[str, str] = {
    "frequency_hz": "fix every tremor episode's frequency (Hz)",
    "amplitude_g": "fix every tremor episode's acceleration amplitude (g, zero-to-peak)",
    "posture_angle_deg": "posture scenarios: fix every contraction's plateau angle (deg)",
    "sway_deg": "posture scenarios: fix the natural head sway per joint (deg; 0 removes it)",
}
#: Overrides that only the posture scenarios (CONTRACTION_SCENARIOS) accept.
POSTURE_OVERRIDES: tuple[str, ...] = ("posture_angle_deg", "sway_deg")
#: All accepted ``**overrides`` names.
OVERRIDES: tuple[str, ...] = (*SCENARIO_OVERRIDES, "ideal", *SensorModel.field_names())


@dataclass
class Simulation:
    """A simulated recording: samples, metadata and ground truth."""

    frame: pd.DataFrame  # t, acc_x, acc_y, acc_z[, gyro_x, gyro_y, gyro_z]; t starts at 0
    meta: dict[str, str]  # the recording's '# key: value' metadata
    events: pd.DataFrame  # ground truth, EVENT_COLUMNS, one row per event


class SimulationStream:
    """Chunked generation: iterate to get the recording as DataFrames of ~60 s each.

    ``meta`` is known at once; :meth:`events` is complete once the iteration
    has finished (before that it holds the events generated so far).
    ``progress`` is the fraction of the duration generated.
    """

    def __init__(self, renderer: Renderer, meta: dict[str, str], contraction: bool = False) -> None:
        self._renderer = renderer
        self.meta = meta
        self._contraction = contraction  # events carry CONTRACTION_COLUMNS
        self.duration_s = renderer.duration_s
        self._started = False

    def __iter__(self) -> Iterator[pd.DataFrame]:
        if self._started:
            raise RuntimeError("a SimulationStream can be iterated once; call iter_simulation again")
        self._started = True
        return self._renderer.blocks()

    @property
    def progress(self) -> float:
        return self._renderer.generated_s / self.duration_s if self.duration_s else 1.0

    @property
    def live_components(self) -> int:
        """Motion components held in memory now: stays bounded for any duration."""
        return self._renderer.live_components

    def events(self) -> pd.DataFrame:
        """Ground truth generated so far (all of it once the iteration has finished)."""
        return events_frame(self._renderer.rows, self.duration_s, self._contraction)


def _check_args(scenario: str, duration_s: float | None, seed: int, sample_rate_hz: float) -> float:
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; valid scenarios: {', '.join(SCENARIOS)}")
    if not (MIN_RATE_HZ <= float(sample_rate_hz) <= MAX_RATE_HZ):
        raise ValueError(f"sample_rate_hz {sample_rate_hz:g} is outside {MIN_RATE_HZ:g}-{MAX_RATE_HZ:g} Hz")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    d = DEFAULT_DURATION_S[scenario] if duration_s is None else float(duration_s)
    if not (math.isfinite(d) and d >= 1.0):
        raise ValueError(f"duration_s must be at least 1 s, got {duration_s!r}")
    return d


def _split_overrides(scenario: str, overrides: Mapping[str, object]) -> tuple[SensorModel, dict[str, float]]:
    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        raise ValueError(f"unknown override(s) {', '.join(unknown)}; valid overrides: {', '.join(OVERRIDES)}")
    posture = sorted(k for k in overrides if k in POSTURE_OVERRIDES)
    if posture and scenario not in CONTRACTION_SCENARIOS:
        raise ValueError(
            f"override(s) {', '.join(posture)} apply only to the posture scenarios: "
            f"{', '.join(sorted(CONTRACTION_SCENARIOS))}"
        )
    for k, lo_deg in (("posture_angle_deg", 1.0), ("sway_deg", 0.0)):
        v = overrides.get(k)
        if v is not None and not (isinstance(v, (int, float)) and lo_deg <= float(v) <= 90.0):
            raise ValueError(f"override {k} must be a number of degrees in {lo_deg:g}-90, got {v!r}")
    if overrides.get("ideal"):
        sensor = SensorModel.ideal()
    else:
        sensor = SensorModel(**SENSOR_DEFAULTS.get(scenario, {}))  # type: ignore[arg-type]
    fields = {k: v for k, v in overrides.items() if k in SensorModel.field_names()}
    if fields:
        sensor = dataclasses.replace(sensor, **fields)
    scene_kw = {k: float(v) for k, v in overrides.items() if k in SCENARIO_OVERRIDES and v is not None}
    return sensor, scene_kw


def start_time_for(seed: int) -> datetime:
    """Wall-clock time of the first sample: a morning in 2024, fixed per seed."""
    rng = np.random.default_rng([int(seed), 4])
    day = int(rng.integers(0, 365))
    minute = int(rng.integers(7 * 60, 10 * 60))
    return datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(days=day, minutes=minute)


def iter_simulation(
    scenario: str,
    duration_s: float | None = None,
    seed: int = 0,
    sample_rate_hz: float = 100.0,
    gyro: bool = True,
    **overrides: object,
) -> SimulationStream:
    """Generate a scenario block by block in bounded memory (e.g. 24 h of ``daily_mix``).

    Same arguments as :func:`simulate`; concatenating the blocks gives exactly
    ``simulate(...).frame``.
    """
    duration = _check_args(scenario, duration_s, seed, sample_rate_hz)
    sensor_model, scene_kw = _split_overrides(scenario, overrides)
    placement = PLACEMENT.get(scenario, "wrist")
    body = make_body(placement, np.random.default_rng([int(seed), 2]))
    sensor = sensor_model.resolved(np.random.default_rng([int(seed), 3]))
    scene = Scene(body, np.random.default_rng([int(seed), 1]), float(sample_rate_hz), **scene_kw)
    segments = SCRIPTS[scenario](scene, duration)
    renderer = Renderer(scene, segments, sensor, sample_rate_hz, duration, gyro, int(seed))
    meta = {
        "sample_rate_hz": f"{float(sample_rate_hz):g}",
        "placement": placement,
        "device": DEVICE,
        "start_time": start_time_for(int(seed)).isoformat(),
        "units": "t=s acc=g gyro=deg/s" if gyro else "t=s acc=g",
        "scenario": scenario,
        "seed": str(int(seed)),
        "duration_s": f"{duration:g}",
    }
    if overrides:
        meta["overrides"] = " ".join(f"{k}={v}" for k, v in sorted(overrides.items()))
    contraction = scenario in CONTRACTION_SCENARIOS
    if contraction and gyro:  # sensor truth, so a test can check a detector's bias estimate
        meta["gyro_bias_dps"] = " ".join(f"{b + 0.0:.4f}" for b in sensor.gyro_bias_dps)  # no "-0.0000"
    return SimulationStream(renderer, meta, contraction)


def simulate(
    scenario: str,
    duration_s: float | None = None,
    seed: int = 0,
    sample_rate_hz: float = 100.0,
    gyro: bool = True,
    **overrides: object,
) -> Simulation:
    """Simulate ``scenario`` (a name in :data:`SCENARIOS`) and return samples and ground truth.

    ``duration_s`` defaults per scenario (:data:`DEFAULT_DURATION_S`);
    ``gyro=False`` gives the accelerometer-only variant of the same motion.
    ``overrides``: ``frequency_hz``/``amplitude_g`` fix the tremor episodes;
    ``posture_angle_deg`` fixes the contraction angle and ``sway_deg`` the head
    sway (posture scenarios; the rest of the scenario stays the same);
    ``ideal=True`` removes all sensor imperfections; any :class:`SensorModel`
    field (e.g. ``jitter_sd_s=0``, ``drops_per_min=0``) tunes one. Raises
    ValueError for an unknown scenario or override, a rate outside 25-1000 Hz,
    or a tremor the rate cannot carry.
    """
    stream = iter_simulation(scenario, duration_s, seed, sample_rate_hz, gyro, **overrides)
    frame = pd.concat(list(stream), ignore_index=True)
    return Simulation(frame, stream.meta, stream.events())


def write_simulation(sim: Simulation, path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``REC.csv`` (or ``.csv.gz``) and ``REC.events.tsv`` beside it; returns both paths."""
    rec = write_recording(path, sim.frame, sim.meta)
    return rec, write_events(sim.events, events_path_for(rec))


def simulate_to_file(
    path: str | os.PathLike[str],
    scenario: str,
    duration_s: float | None = None,
    seed: int = 0,
    sample_rate_hz: float = 100.0,
    gyro: bool = True,
    progress: Callable[[float], None] | None = None,
    **overrides: object,
) -> tuple[Path, Path]:
    """Stream a simulation straight to ``REC.csv(.gz)`` + ``REC.events.tsv`` in bounded memory.

    Byte-for-byte the same files as :func:`write_simulation` of :func:`simulate`
    for the same arguments. ``progress(fraction)`` is called after each block
    (the CLI drives its progress bar with it). The recording is written by
    :func:`firmware_bridge.io.recording.write_recording_blocks`: to a temporary
    name renamed into place, owner-only like every recording.
    """
    stream = iter_simulation(scenario, duration_s, seed, sample_rate_hz, gyro, **overrides)

    def blocks() -> Iterator[pd.DataFrame]:
        for block in stream:
            yield block
            if progress is not None:
                progress(stream.progress)

    out = write_recording_blocks(path, blocks(), stream.meta)
    return out, write_events(stream.events(), events_path_for(out))
