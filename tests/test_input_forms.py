"""What callers hand the core: every reasonable array-like gives the episodes of contiguous float64.

pandas 3 (copy-on-write) hands out read-only views; users pass float32, integer counts, Fortran
and strided arrays, lists and zero-length chunks. The core converts them at its boundary
(``dsp/inputs.py``) and the episodes and events must not depend on the form.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dsp

FS_HZ = 100.0
ACC = ["acc_x", "acc_y", "acc_z"]
GYRO = ["gyro_x", "gyro_y", "gyro_z"]


def _stream(duration_s: float = 70.0, seed: int = 1) -> pd.DataFrame:
    """Wrist at rest, a 5.5 Hz tremor burst from 15 to 40 s; values already float32-exact and
    gyroscope in whole deg/s, so that float32 and integer forms carry exactly these values."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * FS_HZ)
    t = np.arange(n) / FS_HZ + 50.0 + rng.normal(0, 0.0005, n)
    t.sort()
    env = np.clip(np.minimum(t - 65.0, 90.0 - t) / 0.5, 0, 1)
    acc = rng.normal(0, 0.002, (n, 3))
    acc[:, 2] += 1.0
    acc[:, 1] += 0.04 * env * np.sin(2 * np.pi * 5.5 * t)
    gyro = rng.normal(0, 0.3, (n, 3))
    gyro[:, 0] += 40.0 * env * np.cos(2 * np.pi * 5.5 * t)
    frame = pd.DataFrame({"t": t})
    for i, c in enumerate(ACC):
        frame[c] = acc[:, i].astype(np.float32).astype(np.float64)
    for i, c in enumerate(GYRO):
        frame[c] = np.round(gyro[:, i])
    return frame


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return _stream()


@pytest.fixture(scope="module")
def reference(frame):
    """Contiguous float64 (n, 3) arrays, pushed once."""
    det = dsp.StreamingDetector(FS_HZ)
    t = np.ascontiguousarray(frame["t"].to_numpy(dtype=np.float64, copy=True))
    acc = np.ascontiguousarray(frame[ACC].to_numpy(dtype=np.float64, copy=True))
    gyro = np.ascontiguousarray(frame[GYRO].to_numpy(dtype=np.float64, copy=True))
    events = det.push(t, acc, gyro) + det.flush()
    episodes = det.episodes()
    assert (episodes["kind"] == "tremor").sum() >= 1  # the comparison below means something
    return episodes, _key(events)


def _key(events):
    return [(e.type, e.at_s, e.episode, e.minute, e.gap) for e in events]


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


# Each form takes the (n, 3) float64 values of one sensor and returns what a caller might pass.
FORMS = {
    "float64": lambda a: np.ascontiguousarray(a),
    "readonly": _readonly,
    "float32": lambda a: a.astype(np.float32),
    "fortran": lambda a: np.asfortranarray(a),
    "strided": lambda a: np.repeat(a, 2, axis=1)[:, ::2],  # every other column of a wider array
    "reversed_view": lambda a: np.ascontiguousarray(a[::-1])[::-1],  # negative row stride
    "list": lambda a: a.tolist(),
    "columns_tuple": lambda a: (a[:, 0].copy(), a[:, 1].copy(), a[:, 2].copy()),
    "series_tuple": lambda a: tuple(pd.Series(a[:, i]) for i in range(3)),
    "dataframe": lambda a: pd.DataFrame(a, columns=["x", "y", "z"]),
    "readonly_dataframe_view": lambda a: pd.DataFrame(_readonly(a)),
}
GYRO_ONLY_FORMS = {"int16": lambda a: a.astype(np.int16), "int64": lambda a: a.astype(np.int64)}
TIME_FORMS = {
    "float64": lambda t: t.copy(),
    "readonly": _readonly,
    "list": lambda t: t.tolist(),
    "series": lambda t: pd.Series(t),
    "strided": lambda t: np.repeat(t, 2)[::2],
}


def _push_chunks(frame, sizes, t_form, acc_form, gyro_form):
    t = frame["t"].to_numpy(dtype=np.float64, copy=True)
    acc = frame[ACC].to_numpy(dtype=np.float64, copy=True)
    gyro = frame[GYRO].to_numpy(dtype=np.float64, copy=True)
    det = dsp.StreamingDetector(FS_HZ)
    events = []
    i = k = 0
    while i < t.size:
        n = sizes[k % len(sizes)]
        k += 1
        s = slice(i, i + n)
        events += det.push(t_form(t[s]), acc_form(acc[s]), gyro_form(gyro[s]))
        if k % 3 == 0:  # zero-length chunks in between change nothing
            events += det.push(t_form(t[:0]), acc_form(acc[:0]), gyro_form(gyro[:0]))
        i += n
    events += det.flush()
    return det.episodes(), _key(events)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=4000), min_size=1, max_size=6),
    t_form=st.sampled_from(sorted(TIME_FORMS)),
    acc_form=st.sampled_from(sorted(FORMS)),
    gyro_form=st.sampled_from(sorted(FORMS) + sorted(GYRO_ONLY_FORMS)),
)
def test_streaming_any_form_any_chunking_same_as_float64(
    frame, reference, sizes, t_form, acc_form, gyro_form
):
    forms = {**FORMS, **GYRO_ONLY_FORMS}
    episodes, events = _push_chunks(frame, sizes, TIME_FORMS[t_form], FORMS[acc_form], forms[gyro_form])
    ref_episodes, ref_events = reference
    pd.testing.assert_frame_equal(episodes, ref_episodes)
    assert events == ref_events


@pytest.mark.parametrize("form", sorted(FORMS))
def test_streaming_one_push_each_form(frame, reference, form):
    episodes, events = _push_chunks(frame, [len(frame)], TIME_FORMS["float64"], FORMS[form], FORMS[form])
    pd.testing.assert_frame_equal(episodes, reference[0])
    assert events == reference[1]


def test_float32_large_pushes_are_repeatable():
    """An hour of float32 samples in one push (once: a view across freed temporaries, so the
    events changed from run to run and large pushes could segfault) gives the events of the
    same values in float64, run after run, as (n, 3) arrays and as separate columns."""
    frame = _stream(duration_s=3600.0, seed=2)
    t = frame["t"].to_numpy(dtype=np.float64, copy=True)
    acc32 = frame[ACC].to_numpy(dtype=np.float32, copy=True)
    gyro32 = frame[GYRO].to_numpy(dtype=np.float32, copy=True)
    assert t.size > 65_000
    ref = dsp.StreamingDetector(FS_HZ)
    ref_events = _key(ref.push(t, acc32.astype(np.float64), gyro32.astype(np.float64)) + ref.flush())
    for _ in range(2):
        for acc, gyro in ((acc32, gyro32), (tuple(acc32.T), tuple(gyro32.T))):
            det = dsp.StreamingDetector(FS_HZ)
            assert _key(det.push(t, acc, gyro) + det.flush()) == ref_events
            pd.testing.assert_frame_equal(det.episodes(), ref.episodes())


def _csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, float_format="%.9g")
    buf.seek(0)
    return pd.read_csv(buf)


def test_detect_on_read_csv_frame_and_its_variants(frame):
    """pandas 3's read_csv frame (copy-on-write views), a float32 copy, a column slice, a dict
    and a frame in Fortran-ordered single block all give the episodes of contiguous float64."""
    base = _csv_frame(frame)
    ref = dsp.detect(base.astype(np.float64).copy(), sample_rate_hz=FS_HZ)
    assert (ref["kind"] == "tremor").sum() >= 1
    variants = {
        "read_csv": base,
        "float32": base.astype({c: np.float32 for c in ACC}),
        "integer gyro": base.astype({c: np.int32 for c in GYRO}),
        "slice": base.iloc[::1],
        "subset view": base[["t", *ACC, *GYRO]],
        "dict of arrays": {c: base[c].to_numpy() for c in base.columns},
        "dict of lists": {c: base[c].tolist() for c in base.columns},
        "single block": pd.DataFrame(np.asfortranarray(base.to_numpy()), columns=base.columns),
    }
    for name, v in variants.items():
        got = dsp.detect(v, sample_rate_hz=FS_HZ)
        if name == "float32":
            expect = dsp.detect(
                base.astype({c: np.float32 for c in ACC}).astype(np.float64), sample_rate_hz=FS_HZ
            )
        else:
            expect = ref
        pd.testing.assert_frame_equal(got, expect, obj=name)


def test_detect_does_not_modify_the_callers_frame(frame):
    base = _csv_frame(frame)
    before = base.copy(deep=True)
    dsp.detect(base, sample_rate_hz=FS_HZ)
    pd.testing.assert_frame_equal(base, before)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda d: d.push(np.arange(10) / FS_HZ, np.zeros((9, 3))), "acc has 9 rows but t has 10"),
        (lambda d: d.push(np.arange(10) / FS_HZ, np.zeros((10, 2))), "acc must be an (n, 3) array"),
        (lambda d: d.push(np.arange(12) / FS_HZ, np.zeros((12, 2))), "acc must be an (n, 3) array"),
        (lambda d: d.push(np.arange(10) / FS_HZ, np.zeros((10, 3)), np.zeros((10, 4))), "gyro must be"),
        (lambda d: d.push(np.zeros((10, 2)), np.zeros((10, 3))), "t must be one column"),
        (lambda d: d.push(["a"] * 3, np.zeros((3, 3))), "t must be numbers"),
        (lambda d: d.push(np.arange(3.0), [["a", "b", "c"]] * 3), "acc must be numbers"),
    ],
)
def test_bad_shapes_are_one_line_errors(call, message):
    det = dsp.StreamingDetector(FS_HZ)
    with pytest.raises(ValueError) as info:
        call(det)
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_nan_and_inf_rows_are_left_out_counted_and_said_once(frame):
    bad = frame.copy()
    bad.loc[100:109, "acc_x"] = np.nan
    bad.loc[200:204, "gyro_z"] = np.inf
    with pytest.warns(dsp.InputWarning) as record:
        got = dsp.detect(bad, sample_rate_hz=FS_HZ)
    assert len(record) == 1
    assert "left out 15 of" in str(record[0].message)
    assert "\n" not in str(record[0].message)
    assert got.attrs["skipped_samples"] == 15
    # the rest is analysed: the tremor burst is still found
    assert (got["kind"] == "tremor").sum() >= 1


def test_clean_input_gives_no_warning(frame):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = dsp.detect(frame, sample_rate_hz=FS_HZ)
    assert got.attrs["skipped_samples"] == 0


def test_time_going_backwards_in_detect_is_a_clear_error(frame):
    bad = pd.concat([frame.iloc[3000:], frame.iloc[:3000]], ignore_index=True)
    with pytest.raises(ValueError, match=r"t goes backwards at row 4000 .*sort the frame by t") as info:
        dsp.detect(bad, sample_rate_hz=FS_HZ)
    assert "\n" not in str(info.value)


def test_detect_missing_column_and_wrong_type():
    with pytest.raises(ValueError, match="frame has no column 'acc_z'"):
        dsp.detect(pd.DataFrame({"t": [0.0], "acc_x": [0.0], "acc_y": [0.0]}))
    with pytest.raises(TypeError, match="detect takes a DataFrame"):
        dsp.detect(np.zeros((10, 4)))
