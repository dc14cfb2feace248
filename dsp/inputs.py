"""The core's boundary: whatever samples a caller hands over, as the arrays the kernels read.

Callers pass pandas 3 frames and Series (copy-on-write: read-only views), read-only, float32,
integer, Fortran-ordered and strided NumPy arrays, and plain lists. Everything is converted
here, once, to float64 values the compiled kernels accept (read-only is fine: they only read
their input). No view is ever taken of a temporary: a channel-major view spans the caller's
own buffer or nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

try:  # NumPy >= 2.0
    from numpy.lib.array_utils import byte_bounds as _byte_bounds
except ImportError:  # NumPy 1.x
    _byte_bounds = np.byte_bounds

N_AXES = 3  # x, y, z: every sensor channel group has three axes


def as_times(t, name: str = "t") -> np.ndarray:
    """Sample times in seconds as a 1-D float64 array (a view when ``t`` already is one)."""
    try:
        a = np.asarray(_unwrap(t), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numbers (seconds): {_first_line(exc)}") from None
    if a.ndim > 1 and max(a.shape) != a.size:
        raise ValueError(f"{name} must be one column of times, got shape {a.shape}")
    return a.reshape(-1)


def as_columns(v, n: int, name: str) -> tuple[np.ndarray, ...]:
    """Three length-``n`` columns from an (n, 3) array-like, a DataFrame with three columns, or
    a tuple/list of three length-``n`` columns; views of the caller's data where possible."""
    v = _unwrap(v)
    if _is_column_triple(v, n):
        cols = tuple(_numeric(_unwrap(c), name).reshape(-1) for c in v)
        for c in cols:
            if c.shape[0] != n:
                raise ValueError(f"{name} has a column of {c.shape[0]} values but t has {n}")
        return cols
    a = _numeric(v, name)
    if a.ndim == 1 and a.size == 0 and n == 0:
        a = a.reshape(0, N_AXES)
    if a.ndim != 2 or a.shape[1] != N_AXES:
        raise ValueError(f"{name} must be an (n, 3) array or three columns (x, y, z), got shape {a.shape}")
    if a.shape[0] != n:
        raise ValueError(f"{name} has {a.shape[0]} rows but t has {n}")
    return (a[:, 0], a[:, 1], a[:, 2])


def _is_column_triple(v, n: int) -> bool:
    """A tuple of three 1-D columns (always), or a list of three 1-D columns when it cannot be
    three rows (``n != 3``)."""
    if not isinstance(v, (tuple, list)) or len(v) != N_AXES:
        return False
    if not all(np.ndim(_unwrap(c)) == 1 for c in v):
        return False
    return isinstance(v, tuple) or n != N_AXES


def channel_major(cols: list[np.ndarray]) -> np.ndarray:
    """The columns as one channels x samples float64 array: a view when they are evenly spaced
    columns of one buffer of the caller's (an (n, 3) array, a DataFrame block), else a copy."""
    cols = [np.asarray(c) for c in cols]
    if all(c.dtype == np.float64 for c in cols):
        view = _strided_view(cols)
        if view is not None:
            return view
    out = np.empty((len(cols), cols[0].shape[0] if cols else 0), np.float64)
    for i, c in enumerate(cols):
        out[i] = c  # converts float32 and integers on the way; one copy
    return out


def _strided_view(cols: list[np.ndarray]) -> np.ndarray | None:
    """A (channels, n) view of ``cols`` when every column lives in one shared buffer at an even
    step, or None. The view keeps that buffer alive."""
    first = cols[0]
    if not first.size or not all(c.shape == first.shape and c.strides == first.strides for c in cols):
        return None
    root = _root(first)
    if not all(_root(c) is root for c in cols):
        return None  # not one buffer: a view would point into memory no one keeps alive
    ptrs = [c.__array_interface__["data"][0] for c in cols]
    step = ptrs[1] - ptrs[0] if len(ptrs) > 1 else 0
    if not all(ptrs[i] == ptrs[0] + i * step for i in range(len(ptrs))):
        return None
    view = np.lib.stride_tricks.as_strided(
        first, (len(cols), first.size), (step, first.strides[0]), writeable=False
    )
    lo, hi = _byte_bounds(view)
    root_lo, root_hi = _byte_bounds(root)
    if lo < root_lo or hi > root_hi:
        return None
    return view


def _root(a: np.ndarray) -> np.ndarray:
    """The array that owns ``a``'s memory (None when it is not a NumPy array)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a  # owns its memory, or holds the foreign buffer (pandas, memoryview) that does


def _unwrap(v):
    """pandas objects as their values (views when pandas allows; no copies made here)."""
    if isinstance(v, (pd.Series, pd.DataFrame, pd.Index)):
        return v.to_numpy()
    return v


def _numeric(v, name: str) -> np.ndarray:
    a = np.asarray(v)
    if a.dtype.kind not in "biuf":
        try:
            a = a.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be numbers: {_first_line(exc)}") from None
    return a


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
