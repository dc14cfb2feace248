"""Column types of the CSV export, as a Frictionless Data Package (``datapackage.json``).

A CSV file carries no types: an empty ``gaps.csv`` (a header only) reads back with untyped
columns. The export therefore writes ``datapackage.json`` beside its tables, a Table Schema per
file (Frictionless Data, https://specs.frictionlessdata.io/table-schema/: ``fields`` of
``name`` and ``type``, ``missingValues``), which R's ``frictionless`` package and Python's
``frictionless`` read, and :func:`read_table` gives pandas frames with those types, empty or not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

#: Integer columns by name (ids and counts; has_gyro is 0/1).
INTEGER_COLUMNS = frozenset({
    "id", "session_id", "episode_id", "contraction_id", "parent_session_id", "samples", "gaps",
    "skipped_missing", "skipped_time", "dropped", "malformed", "has_gyro",
})  # fmt: skip
BOOLEAN_COLUMNS = frozenset({"outside_recordings"})
#: Name endings of number columns (the unit is the ending: s, Hz, g, deg/s, cm, deg, fraction).
NUMBER_SUFFIXES = ("_s", "_hz", "_g", "_dps", "_cm", "_deg", "_frac")
NUMBER_COLUMNS = frozenset({"stability", "co_contraction", "confidence"})
DATETIME_COLUMNS = frozenset({"at", "start_time", "started_at", "ended_at"})
#: Table Schema type -> pandas dtype (nullable, so a missing value keeps the column's type).
PANDAS_DTYPES = {"integer": "Int64", "number": "float64", "boolean": "boolean", "string": "string"}
PACKAGE_FILE = "datapackage.json"


def field_type(name: str) -> str:
    """The Table Schema type of export column ``name``."""
    if name in INTEGER_COLUMNS:
        return "integer"
    if name in BOOLEAN_COLUMNS:
        return "boolean"
    if name in NUMBER_COLUMNS or name.endswith(NUMBER_SUFFIXES):
        return "number"
    if name in DATETIME_COLUMNS:
        return "datetime"
    return "string"


def datapackage(tables: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """The package describing CSV ``tables`` (file name -> its columns, in order)."""
    resources = []
    for file, columns in tables.items():
        resources.append({
            "name": file.removesuffix(".csv"),
            "path": file,
            "profile": "tabular-data-resource",
            "format": "csv",
            "encoding": "utf-8",
            "schema": {
                "fields": [{"name": c, "type": field_type(c)} for c in columns],
                "missingValues": [""],
            },
        })  # fmt: skip
    return {"name": "tremorscope-export", "profile": "tabular-data-package", "resources": resources}


def read_table(path: str | Path) -> pd.DataFrame:
    """One exported table with its declared types (from ``datapackage.json`` beside it)."""
    p = Path(path)
    package = json.loads((p.parent / PACKAGE_FILE).read_text(encoding="utf-8"))
    resource = next((r for r in package["resources"] if r["path"] == p.name), None)
    if resource is None:
        raise ValueError(f"{p.name} is not described in {p.parent / PACKAGE_FILE}")
    fields = resource["schema"]["fields"]
    dtypes = {f["name"]: PANDAS_DTYPES.get(f["type"], "string") for f in fields}
    read_as = {k: ("string" if v == "boolean" else v) for k, v in dtypes.items()}
    frame = pd.read_csv(p, dtype=read_as, keep_default_na=False, na_values=[""])
    for name, dtype in dtypes.items():
        if dtype == "boolean" and name in frame:
            frame[name] = frame[name].map({"True": True, "False": False}).astype("boolean")
    return frame
