"""Deterministic day-long wrist IMU data for the speed/memory benchmark, cached on disk.

The benchmark needs 24 h of 100 Hz accelerometer-plus-gyroscope data with realistic content
(quiet rest, walking, gestures, typing, car rides, tremor episodes, jittered timestamps). It
comes from ``firmware_bridge.simulator`` (scenario ``daily_mix``) when that module exists, or
from the small self-contained generator below. Either way the result is cached as an ``.npz``
in ``bench-data/`` (gitignored) so that repeated runs and the per-engine worker processes only
load it. The built-in generator stores int16 sensor counts (±8 g, ±2000 deg/s full scale, a
common wrist-IMU setting: the quantisation a real sensor applies); the simulator's values,
already quantised by its own sensor model, are stored as they are.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

#: Bump when the built-in generator's output changes, so stale caches are not reused.
GENERATOR_VERSION = 1

ACC_FULL_SCALE_G = 8.0
GYRO_FULL_SCALE_DPS = 2000.0
ACC_LSB_G = ACC_FULL_SCALE_G / 32768.0
GYRO_LSB_DPS = GYRO_FULL_SCALE_DPS / 32768.0

TIMESTAMP_JITTER_SD_S = 0.001
TIMESTAMP_JITTER_MAX_S = 0.003  # clipped so timestamps stay strictly increasing at 100 Hz
ACC_NOISE_G = 0.0012  # MEMS white noise, RMS over the full bandwidth
GYRO_NOISE_DPS = 0.07
PHYSIOLOGICAL_TREMOR_G = 0.002  # always present, 8-12 Hz, a few mg: not an episode
TREMOR_TILT_FRACTION = 0.2  # share of tremor acceleration that comes from gravity tilt
TRANSITION_S = 1.0  # posture change between bouts
DEG_PER_RAD = 180.0 / np.pi

DEFAULT_CACHE_DIR = Path(__file__).resolve().parent.parent / "bench-data"

TREMOR_KINDS = ("rest_tremor", "postural_tremor", "dystonic_tremor")


@dataclass(frozen=True)
class Bout:
    """One stretch of ground truth: an activity bout or a tremor episode (BIDS-like columns)."""

    onset_s: float
    duration_s: float
    trial_type: str
    frequency_hz: float | None = None
    amplitude_g: float | None = None


@dataclass
class BenchData:
    """The benchmark input: float64 arrays as the detectors receive them, plus ground truth."""

    t: np.ndarray  # (n,) s
    acc: np.ndarray  # (n, 3) g, gravity included
    gyro: np.ndarray  # (n, 3) deg/s
    sample_rate_hz: float
    source: str  # "builtin-v1" or the simulator module's name
    seed: int
    truth: list[Bout] = field(default_factory=list)

    @property
    def n_samples(self) -> int:
        return int(self.t.shape[0])

    @property
    def duration_s(self) -> float:
        return float(self.t[-1] - self.t[0]) if self.n_samples else 0.0

    @property
    def nbytes(self) -> int:
        return int(self.t.nbytes + self.acc.nbytes + self.gyro.nbytes)

    @property
    def n_tremor_episodes(self) -> int:
        return sum(1 for b in self.truth if is_tremor(b.trial_type))


# --------------------------------------------------------------------------- schedule


def build_schedule(duration_s: float, rng: np.random.Generator) -> list[Bout]:
    """Draw a day of activity bouts and the tremor episodes inside rest and posture bouts."""
    kinds = ("rest", "posture", "walk", "gesture", "typing", "vehicle")
    weights = np.array([0.40, 0.15, 0.15, 0.12, 0.13, 0.05])
    length_range_s = {
        "rest": (60.0, 1800.0),
        "posture": (20.0, 300.0),
        "walk": (30.0, 900.0),
        "gesture": (10.0, 120.0),
        "typing": (60.0, 900.0),
        "vehicle": (300.0, 1800.0),
    }
    bouts: list[Bout] = []
    t = 0.0
    while t < duration_s:
        kind = str(rng.choice(kinds, p=weights))
        lo, hi = length_range_s[kind]
        length = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        length = min(length, duration_s - t)
        if length < 2.0 * TRANSITION_S and bouts:  # too short to stand alone: extend the last
            last = bouts.pop()
            bouts.append(Bout(last.onset_s, last.duration_s + length, last.trial_type))
            break
        bouts.append(Bout(t, length, kind))
        t += length

    episodes: list[Bout] = []
    for bout in bouts:
        if bout.trial_type not in ("rest", "posture") or bout.duration_s < 20.0:
            continue
        if rng.random() > (0.35 if bout.trial_type == "rest" else 0.45):
            continue
        if rng.random() < 0.2:
            kind, f_lo, f_hi = "dystonic_tremor", 4.0, 8.0
        elif bout.trial_type == "rest":
            kind, f_lo, f_hi = "rest_tremor", 4.0, 6.0
        else:
            kind, f_lo, f_hi = "postural_tremor", 6.0, 10.0
        usable_s = bout.duration_s - 2.0 * TRANSITION_S
        ep_len = float(min(usable_s, np.exp(rng.uniform(np.log(8.0), np.log(300.0)))))
        onset = bout.onset_s + TRANSITION_S + float(rng.uniform(0.0, usable_s - ep_len))
        amp_g = float(np.exp(rng.uniform(np.log(0.005), np.log(0.3))))
        episodes.append(Bout(onset, ep_len, kind, float(rng.uniform(f_lo, f_hi)), amp_g))
    return bouts + episodes


# --------------------------------------------------------------------------- synthesis


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _rotate(v: np.ndarray, axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rodrigues rotation of vectors ``v`` (n,3) about unit ``axis`` (n,3 or 3) by ``angle``."""
    c = np.cos(angle)[:, None]
    s = np.sin(angle)[:, None]
    axis = np.broadcast_to(axis, v.shape)
    return v * c + np.cross(axis, v) * s + axis * np.sum(axis * v, axis=1)[:, None] * (1.0 - c)


def _smooth_noise(rng: np.random.Generator, n: int, fs: float, cutoff_hz: float) -> np.ndarray:
    """Unit-RMS low-pass noise, (n,), by an FFT brick-wall filter (cheap and dependency-free)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    spec[np.fft.rfftfreq(n, 1.0 / fs) > cutoff_hz] = 0.0
    x = np.fft.irfft(spec, n)
    return x / max(float(np.std(x)), 1e-12)


def _random_pose(rng: np.random.Generator, kind: str) -> np.ndarray:
    """Gravity direction in the sensor frame for a bout (wrist roughly palm-down, varied)."""
    base = {"rest": (0.0, 0.2, 1.0), "typing": (0.0, 0.3, 1.0), "posture": (0.1, 0.1, 1.0)}
    v = np.array(base.get(kind, (0.0, -0.6, 0.8))) + rng.normal(0.0, 0.35, 3)
    return _unit(v)


def _tremor(
    rng: np.random.Generator, ep: Bout, n: int, fs: float, g_unit: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Acceleration (g) and angular rate (deg/s) of one tremor episode, as a wrist rotation.

    The hand oscillates by a small angle about an axis perpendicular to gravity, so the
    accelerometer sees gravity tilt plus the linear term, and the gyroscope the angle's rate.
    Dystonic tremor gets a wandering frequency and jerky amplitude; the others are regular.
    """
    tt = np.arange(n) / fs
    if ep.trial_type == "dystonic_tremor":
        f_inst = ep.frequency_hz + 1.2 * _smooth_noise(rng, n, fs, 0.5)
        amp_mod = np.exp(0.5 * _smooth_noise(rng, n, fs, 2.0))
    else:
        f_inst = ep.frequency_hz + 0.15 * _smooth_noise(rng, n, fs, 0.1)
        amp_mod = 1.0 + 0.15 * _smooth_noise(rng, n, fs, 0.2)
    f_inst = np.clip(f_inst, 2.5, 14.0)
    phase = 2.0 * np.pi * np.cumsum(f_inst) / fs + rng.uniform(0, 2 * np.pi)
    ramp = np.clip(np.minimum(tt, tt[-1] - tt) / 1.0, 0.0, 1.0)
    envelope = ep.amplitude_g * amp_mod * (0.5 - 0.5 * np.cos(np.pi * ramp))
    axis = _unit(np.cross(g_unit[0], rng.normal(size=3)))
    # Tilting a ~1 g vector by x rad adds ~x g. Real wrist tremor is mostly translation: about
    # 0.3 deg/s of rotation per mg at 5 Hz (the Verily fixture: 4-10 mg with 2-4 deg/s).
    angle_rad = TREMOR_TILT_FRACTION * envelope * np.sin(phase)
    rate_rad_s = np.gradient(angle_rad, 1.0 / fs)
    acc = angle_rad[:, None] * np.cross(axis, g_unit)
    linear_g = envelope * np.sin(phase + 0.5)
    acc += linear_g[:, None] * _unit(np.cross(axis, g_unit[0]) + 0.5 * axis)[None, :]
    gyro = rate_rad_s[:, None] * axis[None, :] * DEG_PER_RAD
    return acc, gyro


def _activity(
    rng: np.random.Generator, kind: str, n: int, fs: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rotation vector angle/axis over the bout plus extra linear acceleration (g), per kind."""
    tt = np.arange(n) / fs
    angle = np.zeros(n)
    linear = np.zeros((n, 3))
    axis = _unit(rng.normal(size=3))
    if kind == "rest":
        angle = np.deg2rad(1.0) * _smooth_noise(rng, n, fs, 0.05)
    elif kind == "posture":
        angle = np.deg2rad(2.0) * _smooth_noise(rng, n, fs, 0.3)
    elif kind == "walk":
        step_hz = rng.uniform(1.6, 2.1)
        swing = np.deg2rad(rng.uniform(10.0, 30.0))
        phase = 2 * np.pi * step_hz * tt + 0.3 * _smooth_noise(rng, n, fs, 0.2)
        angle = swing * np.sin(phase / 2.0)  # arm swings once per stride
        bounce = 0.15 * np.sin(phase) + 0.06 * np.sin(2 * phase + 1.0) + 0.03 * np.sin(3 * phase)
        heel = 0.25 * np.maximum(0.0, np.sin(phase)) ** 12  # heel strike transients
        up = _unit(rng.normal(size=3))
        linear = (bounce + heel)[:, None] * up[None, :]
    elif kind == "gesture":
        angle = np.deg2rad(35.0) * _smooth_noise(rng, n, fs, 1.5)
        linear = 0.15 * np.column_stack([_smooth_noise(rng, n, fs, 2.0) for _ in range(3)])
    elif kind == "typing":
        angle = np.deg2rad(3.0) * _smooth_noise(rng, n, fs, 0.5)
        taps = np.zeros(n)
        n_taps = rng.poisson(4.0 * n / fs)
        taps[rng.integers(0, n, n_taps)] = rng.uniform(0.01, 0.05, n_taps)
        kernel = np.exp(-np.arange(int(0.05 * fs)) / (0.01 * fs)) * np.cos(
            2 * np.pi * 25.0 * np.arange(int(0.05 * fs)) / fs
        )
        linear = np.convolve(taps, kernel, mode="same")[:, None] * _unit(rng.normal(size=3))
    elif kind == "vehicle":
        angle = np.deg2rad(4.0) * _smooth_noise(rng, n, fs, 0.4)
        engine_hz = rng.uniform(25.0, 40.0)
        road = 0.02 * np.column_stack([_smooth_noise(rng, n, fs, 20.0) for _ in range(3)])
        engine = 0.01 * np.sin(2 * np.pi * engine_hz * tt)
        linear = road + engine[:, None] * _unit(rng.normal(size=3))[None, :]
    else:
        raise ValueError(f"unknown bout kind {kind!r}")
    return angle, np.broadcast_to(axis, (n, 3)), linear


def _synthesize_bout(
    rng: np.random.Generator,
    bout: Bout,
    episodes: list[Bout],
    i0: int,
    n: int,
    fs: float,
    g_prev: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Samples [i0, i0+n) of one bout: returns (acc g, gyro deg/s, final gravity direction)."""
    g_pose = _random_pose(rng, bout.trial_type)
    angle, axis, linear = _activity(rng, bout.trial_type, n, fs)
    g_unit = _rotate(np.broadcast_to(g_pose, (n, 3)).copy(), axis, angle)
    rate_rad_s = np.gradient(angle, 1.0 / fs)[:, None] * axis

    # Posture change from the previous bout's orientation, over TRANSITION_S.
    n_tr = min(n, int(TRANSITION_S * fs))
    cross = np.cross(g_prev, g_unit[0])
    sin_a = float(np.linalg.norm(cross))
    if n_tr > 1 and sin_a > 1e-6:
        turn_axis = cross / sin_a
        total = float(np.arctan2(sin_a, float(np.dot(g_prev, g_unit[0]))))
        profile = 0.5 - 0.5 * np.cos(np.pi * np.arange(n_tr) / (n_tr - 1))  # 0 -> 1
        remaining = (profile - 1.0) * total  # rotate back from the new pose
        g_unit[:n_tr] = _rotate(g_unit[:n_tr], turn_axis, remaining)
        rate_rad_s[:n_tr] += np.gradient(remaining, 1.0 / fs)[:, None] * turn_axis

    acc = g_unit + linear
    gyro = rate_rad_s * DEG_PER_RAD

    t_bout = bout.onset_s + np.arange(n) / fs
    for ep in episodes:
        if ep.onset_s >= bout.onset_s and ep.onset_s < bout.onset_s + bout.duration_s:
            j0 = int(round((ep.onset_s - bout.onset_s) * fs))
            j1 = min(n, j0 + int(round(ep.duration_s * fs)))
            if j1 - j0 > 2:
                a, w = _tremor(rng, ep, j1 - j0, fs, g_unit[j0:j1])
                acc[j0:j1] += a
                gyro[j0:j1] += w
    del t_bout

    # Physiological tremor, always there (8-12 Hz, a few mg), and sensor noise.
    physio = np.column_stack([_smooth_noise(rng, n, fs, 12.0) for _ in range(3)])
    acc += PHYSIOLOGICAL_TREMOR_G * physio * 0.5
    acc += rng.normal(0.0, ACC_NOISE_G, (n, 3))
    gyro += rng.normal(0.0, GYRO_NOISE_DPS, (n, 3))
    return acc, gyro, g_unit[-1].copy()


def generate(
    duration_s: float,
    seed: int = 7,
    sample_rate_hz: float = 100.0,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Bout]]:
    """Generate the built-in day: (t s float64, acc counts int16, gyro counts int16, truth).

    Deterministic in ``seed``. Memory stays near the int16 output plus one bout's float64
    work arrays. ``progress(n)`` is called with the number of samples done after each bout.
    """
    fs = float(sample_rate_hz)
    n_total = int(round(duration_s * fs))
    seq = np.random.SeedSequence([seed, GENERATOR_VERSION])
    sched_rng, time_rng, *_ = [np.random.default_rng(s) for s in seq.spawn(2)]
    truth = build_schedule(n_total / fs, sched_rng)
    bouts = [b for b in truth if b.trial_type not in TREMOR_KINDS]
    episodes = [b for b in truth if b.trial_type in TREMOR_KINDS]
    bout_rngs = [np.random.default_rng(s) for s in np.random.SeedSequence([seed, 1]).spawn(len(bouts))]

    acc_counts = np.empty((n_total, 3), dtype=np.int16)
    gyro_counts = np.empty((n_total, 3), dtype=np.int16)
    g_prev = np.array([0.0, 0.0, 1.0])
    gyro_bias_dps = np.random.default_rng(seed).normal(0.0, 0.3, 3)
    acc_bias_g = np.random.default_rng(seed + 1).normal(0.0, 0.01, 3)
    for bout, rng in zip(bouts, bout_rngs, strict=True):
        i0 = int(round(bout.onset_s * fs))
        i1 = min(n_total, int(round((bout.onset_s + bout.duration_s) * fs)))
        if i1 <= i0:
            continue
        acc, gyro, g_prev = _synthesize_bout(rng, bout, episodes, i0, i1 - i0, fs, g_prev)
        acc_counts[i0:i1] = np.clip(np.round((acc + acc_bias_g) / ACC_LSB_G), -32768, 32767)
        gyro_counts[i0:i1] = np.clip(np.round((gyro + gyro_bias_dps) / GYRO_LSB_DPS), -32768, 32767)
        if progress is not None:
            progress(i1 - i0)

    jitter = np.clip(
        time_rng.normal(0.0, TIMESTAMP_JITTER_SD_S, n_total),
        -TIMESTAMP_JITTER_MAX_S,
        TIMESTAMP_JITTER_MAX_S,
    )
    t = np.arange(n_total) / fs + jitter
    t -= t[0]  # the recording's own clock starts at its first sample
    return t, acc_counts, gyro_counts, truth


# --------------------------------------------------------------------------- simulator


SIMULATOR_MODULES = ("firmware_bridge.simulator", "firmware_bridge.simulation")


def _simulator_module():
    """The project's simulator if it exists and offers ``iter_simulation``."""
    import importlib

    for name in SIMULATOR_MODULES:  # written in parallel with this harness; accept either name
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "iter_simulation"):
            return module
    return None


def is_tremor(trial_type: str) -> bool:
    """Whether a ground-truth row is a pathological tremor episode (not physiological tremor)."""
    return (
        trial_type in TREMOR_KINDS
        or trial_type == "tremor"
        or (trial_type.endswith("_tremor") and trial_type != "physiological_tremor")
    )


def _from_simulator(
    simulator, duration_s: float, seed: int, fs: float, progress: Callable[[int], None] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Bout]]:
    """Run the simulator's ``daily_mix`` scenario block by block (~60 s DataFrames).

    ``iter_simulation(scenario, duration_s, seed, sample_rate_hz, gyro)`` yields DataFrames with
    the canonical columns; ``events()`` is its ground truth once iteration has finished.
    """
    stream = simulator.iter_simulation(
        "daily_mix", duration_s=duration_s, seed=seed, sample_rate_hz=fs, gyro=True
    )
    ts, accs, gyros = [], [], []
    for block in stream:
        if "gyro_x" not in block.columns:
            raise ValueError("the simulator produced no gyroscope for daily_mix with gyro=True")
        ts.append(block["t"].to_numpy(np.float64))
        accs.append(block[["acc_x", "acc_y", "acc_z"]].to_numpy(np.float64))
        gyros.append(block[["gyro_x", "gyro_y", "gyro_z"]].to_numpy(np.float64))
        if progress is not None:
            progress(len(block))
    truth = [
        Bout(
            float(r.onset),
            float(r.duration),
            str(r.trial_type),
            None if _isnan(r.frequency_hz) else float(r.frequency_hz),
            None if _isnan(r.amplitude_g) else float(r.amplitude_g),
        )
        for r in stream.events().itertuples()
    ]
    return np.concatenate(ts), np.concatenate(accs), np.concatenate(gyros), truth


def _isnan(value) -> bool:
    """NaN or None (ground-truth cells that do not apply)."""
    return value is None or (isinstance(value, float) and value != value)


# --------------------------------------------------------------------------- cache


def _progress_bar(total: int, label: str):
    """A click progress bar on a terminal (stderr), or a silent stand-in otherwise."""
    if sys.stderr.isatty():
        import click

        return click.progressbar(length=total, label=label, file=sys.stderr)

    class _Quiet:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n: int) -> None:
            pass

    return _Quiet()


def cache_path(hours: float, seed: int, sample_rate_hz: float, source: str, cache_dir: Path) -> Path:
    """Where the data for these parameters is cached; the name changes with the generator."""
    if source == "simulator":
        sim = _simulator_module()
        here = Path(sim.__file__)  # the simulator and its helper package, if any
        files = [here, *sorted(here.parent.glob("simulation/*.py"))]
        if here.name == "__init__.py":
            files = sorted(here.parent.glob("*.py"))
        digest = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:10]
        tag = f"sim-{digest}"
    else:
        tag = f"builtin-v{GENERATOR_VERSION}"
    return cache_dir / f"daily_{tag}_{hours:g}h_{sample_rate_hz:g}hz_seed{seed}.npz"


def resolve_source(source: str) -> str:
    """Turn ``auto`` into ``simulator`` when the project simulator exists, else ``builtin``."""
    if source == "auto":
        return "simulator" if _simulator_module() is not None else "builtin"
    if source == "simulator" and _simulator_module() is None:
        raise RuntimeError("firmware_bridge.simulator is not available yet; use --data builtin (or auto)")
    return source


def prepare(
    hours: float,
    seed: int = 7,
    sample_rate_hz: float = 100.0,
    source: str = "auto",
    cache_dir: Path = DEFAULT_CACHE_DIR,
) -> Path:
    """Make sure the cached data exists (generating it if needed) and return its path."""
    source = resolve_source(source)
    path = cache_path(hours, seed, sample_rate_hz, source, cache_dir)
    if path.exists():
        return path
    cache_dir.mkdir(parents=True, exist_ok=True)
    duration_s = hours * 3600.0
    n_total = int(round(duration_s * sample_rate_hz))
    if source == "simulator":
        sim = _simulator_module()
        label = sim.__name__
        with _progress_bar(n_total, f"simulating {hours:g} h (daily_mix)") as bar:
            t, acc, gyro, truth = _from_simulator(sim, duration_s, seed, sample_rate_hz, bar.update)
        # The simulator already quantised to its own sensor model: keep its values exactly.
        arrays = {"t": t, "acc": acc, "gyro": gyro}
    else:
        label = f"builtin-v{GENERATOR_VERSION}"
        with _progress_bar(n_total, f"generating {hours:g} h of data") as bar:
            t, acc_counts, gyro_counts, truth = generate(duration_s, seed, sample_rate_hz, bar.update)
        arrays = {"t": t, "acc_counts": acc_counts, "gyro_counts": gyro_counts}
    tmp = path.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        **arrays,
        meta=np.array(
            json.dumps(
                {
                    "source": label,
                    "seed": seed,
                    "sample_rate_hz": sample_rate_hz,
                    "acc_lsb_g": ACC_LSB_G,
                    "gyro_lsb_dps": GYRO_LSB_DPS,
                    "truth": [asdict(b) for b in truth],
                }
            )
        ),
    )
    tmp.replace(path)  # atomic: an interrupted run never leaves a half-written cache
    return path


def load(path: Path) -> BenchData:
    """Load cached data as float64 arrays in physical units (g, deg/s)."""
    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        t = z["t"].astype(np.float64)
        if "acc_counts" in z.files:  # built-in generator: int16 counts
            acc = z["acc_counts"].astype(np.float64) * meta["acc_lsb_g"]
            gyro = z["gyro_counts"].astype(np.float64) * meta["gyro_lsb_dps"]
        else:  # simulator: its own float values
            acc = z["acc"].astype(np.float64)
            gyro = z["gyro"].astype(np.float64)
    truth = [Bout(**b) for b in meta["truth"]]
    return BenchData(t, acc, gyro, meta["sample_rate_hz"], meta["source"], meta["seed"], truth)


def iter_chunks(data: BenchData, chunk_s: float) -> Iterator[tuple[np.ndarray, ...]]:
    """Consecutive (t, acc, gyro) views of ``chunk_s`` seconds of samples (no copies)."""
    step = max(1, int(round(chunk_s * data.sample_rate_hz)))
    for i in range(0, data.n_samples, step):
        yield data.t[i : i + step], data.acc[i : i + step], data.gyro[i : i + step]
