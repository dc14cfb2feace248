"""Rows in and out of SQLite: typed frames, finite floats, sortable UTC keys, the connection lock."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timezone
from functools import wraps
from typing import Any, TypeVar

import numpy as np
import pandas as pd


def now_iso() -> str:
    """Local wall clock with its UTC offset, to the second."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _float_or_none(v: Any) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


_F = TypeVar("_F", bound=Callable[..., Any])


def _locked(method: _F) -> _F:
    """Serialise access to the connection (the background committer shares it)."""

    @wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _utc_key(at: datetime) -> str:
    """A fixed-width UTC text for an aware datetime: sorts like the instants it names."""
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _typed_frame(
    rows: list[tuple[Any, ...]], cols: list[str], *, text: set[str], ints: set[str]
) -> pd.DataFrame:
    """A frame with int64 id columns, float64 numbers (NaN for missing) and object text."""
    data: dict[str, Any] = {}
    for i, c in enumerate(cols):
        values = [r[i] for r in rows]
        if c in ints:
            data[c] = np.array(values, dtype=np.int64)
        elif c in text:
            data[c] = pd.Series(values, dtype=object)
        else:
            data[c] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return pd.DataFrame(data, columns=cols)
