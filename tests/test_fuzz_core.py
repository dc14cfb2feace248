"""Fuzzing the streaming core: dtype x layout x chunk size x length, with hostile content
(issue 14, "make it systematic").

For every drawn stream the events and episodes of any chunking and any array form equal those of
the same values pushed once as contiguous float64; bad rows (NaN, inf, values beyond any sensor,
times beyond any clock or missing) are left out and counted exactly; time jumps are gaps;
nothing raises. An hour in one push is in ``test_dsp_float32.py`` (a child process).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dsp
from dsp.events import GAP
from dsp.grid import MAX_ABS_TIME_S, MAX_ABS_VALUE

FS_HZ = 100.0
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: Most pushes one example makes (chunk sizes scale with the length to stay under it).
MAX_PUSHES = 300


def _stream(n: int, seed: int, tremor: bool):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / FS_HZ + 10.0 + rng.normal(0, 0.0005, n)
    t.sort()
    env = ((t % 120.0) > 30.0) & ((t % 120.0) < 80.0) if tremor else np.zeros(n, bool)
    acc = rng.normal(0, 0.002, (n, 3))
    acc[:, 2] += 1.0
    acc[:, 1] += 0.04 * env * np.sin(2 * np.pi * 5.5 * t)
    gyro = rng.normal(0, 0.3, (n, 3))
    gyro[:, 0] += 40.0 * env * np.cos(2 * np.pi * 5.5 * t)
    return t, acc, gyro


DTYPES = {
    "float64": lambda a: a,
    "float32": lambda a: a.astype(np.float32),
    "int16": lambda a: _integer(a, np.int16),  # whole deg/s or counts
    "int64": lambda a: _integer(a, np.int64),
}


def _integer(a, dtype):
    """Whole numbers as an integer sensor sends them (NaN and inf have no integer: clipped)."""
    info = np.iinfo(dtype)
    return np.clip(np.nan_to_num(np.round(a), nan=0.0), info.min, info.max).astype(dtype)


LAYOUTS = {
    "c": np.ascontiguousarray,
    "fortran": np.asfortranarray,
    "strided": lambda a: np.repeat(a, 2, axis=1)[:, ::2],
    "reversed": lambda a: np.ascontiguousarray(a[::-1])[::-1],
    "columns": lambda a: tuple(np.ascontiguousarray(a[:, i]) for i in range(3)),
    "dataframe": lambda a: pd.DataFrame(a),
    "readonly": lambda a: _readonly(a),
}


def _readonly(a):
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


@st.composite
def streams(draw):
    n = draw(st.sampled_from([0, 1, 7, 500, 3_000, 12_000, 60_000, 120_000]))
    seed = draw(st.integers(0, 2**16))
    t, acc, gyro = _stream(n, seed, tremor=draw(st.booleans()))
    rng = np.random.default_rng(seed + 1)
    bad = 0
    if n > 10 and draw(st.booleans()):  # hostile rows: each is left out and counted
        k = int(rng.integers(1, max(2, n // 100)))
        rows = rng.choice(np.arange(1, n), size=min(k, n - 1), replace=False)
        kinds = draw(st.lists(st.sampled_from(["nan", "inf", "huge", "time"]), min_size=1, max_size=4))
        for i, r in enumerate(rows):
            kind = kinds[i % len(kinds)]
            if kind == "nan":
                acc[r, 0] = np.nan
            elif kind == "inf":
                acc[r, 2] = -np.inf
            elif kind == "huge":
                acc[r, 1] = 10 * MAX_ABS_VALUE
            else:
                t[r] = 2 * MAX_ABS_TIME_S if rng.random() < 0.5 else np.nan
        bad = len(rows)
    jumps = 0
    if n > 100 and draw(st.booleans()):  # time jumps: gaps, never counted minute by minute
        for at in sorted(rng.choice(np.arange(50, n - 1), size=min(3, n // 50), replace=False)):
            t[at:] += draw(st.sampled_from([0.7, 75.0, 3600.0, 1e9]))
            jumps += 1
    return t, acc, gyro, bad, jumps


def _push(t, acc, gyro, sizes):
    det = dsp.StreamingDetector(FS_HZ)
    events = []
    i = k = 0
    while i < t.size:
        n = sizes[k % len(sizes)]
        k += 1
        events += det.push(t[i : i + n], acc(i, i + n), None if gyro is None else gyro(i, i + n))
        i += n
    events += det.push(t[:0], acc(0, 0), None if gyro is None else gyro(0, 0))  # an empty push
    events += det.flush()
    return det, [(e.type, e.at_s, e.episode, e.minute, e.gap) for e in events]


@FUZZ
@given(
    stream=streams(),
    dtype=st.sampled_from(sorted(DTYPES)),
    layout=st.sampled_from(sorted(LAYOUTS)),
    sizes=st.lists(st.integers(1, 20_000), min_size=1, max_size=6),
    with_gyro=st.booleans(),
)
def test_any_dtype_layout_and_chunking_gives_the_float64_result(stream, dtype, layout, sizes, with_gyro):
    t, acc, gyro, bad, jumps = stream
    cast = DTYPES[dtype]
    acc_d = cast(acc * 1000.0) if dtype.startswith("int") else cast(acc)  # integer acc: counts (mg)
    gyro_d = cast(gyro)
    # the values each form carries, as float64: the reference input
    acc64 = np.asarray(acc_d, dtype=np.float64) / (1000.0 if dtype.startswith("int") else 1.0)
    gyro64 = np.asarray(gyro_d, dtype=np.float64)
    if dtype.startswith("int"):
        acc_d = acc64  # the core takes g; integer counts are the gyro's case
    ref_det, ref = _push(
        t, lambda a, b: acc64[a:b], (lambda a, b: gyro64[a:b]) if with_gyro else None, [max(t.size, 1)]
    )
    form = LAYOUTS[layout]
    floor = max(1, t.size // MAX_PUSHES)
    sizes = [max(s, floor) for s in sizes]
    det, got = _push(
        t,
        lambda a, b: form(np.asarray(acc_d)[a:b]),
        (lambda a, b: form(np.asarray(gyro_d)[a:b])) if with_gyro else None,
        sizes,
    )
    assert got == ref
    pd.testing.assert_frame_equal(det.episodes(), ref_det.episodes())
    if not dtype.startswith("int"):  # an integer cast turns NaN and 1e7 into ordinary numbers
        assert det.skipped >= bad
    assert det.skipped <= bad + t.size  # never more than there were
    if jumps and t.size - det.skipped > 2:
        assert any(e[0] == GAP for e in got)
    for e in got:
        assert np.isfinite(e[1])
    eps = det.episodes()
    assert np.isfinite(eps["start_s"]).all() and np.isfinite(eps["end_s"]).all()
    assert (eps["end_s"] >= eps["start_s"]).all()


@FUZZ
@given(stream=streams(), sizes=st.lists(st.integers(1, 5_000), min_size=1, max_size=4))
def test_bad_rows_are_counted_exactly(stream, sizes):
    """float64 with gyro: every injected bad row (and only those) is left out and counted."""
    t, acc, gyro, bad, jumps = stream
    floor = max(1, t.size // MAX_PUSHES)
    det, _ = _push(t, lambda a, b: acc[a:b], lambda a, b: gyro[a:b], [max(s, floor) for s in sizes])
    assert det.skipped == bad
