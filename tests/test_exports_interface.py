"""The export writers side by side: one interface, picked by format name (tremorscope.exports)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from review_helpers import simulated_session

from tremorscope.exports import EXPORTERS, ExportError, export, get_exporter
from tremorscope.exports.bids import export_bids
from tremorscope.exports.csv import export_csv
from tremorscope.exports.edf import export_edf
from tremorscope.store import Store


def test_every_format_names_its_writer_with_the_common_keywords():
    assert list(EXPORTERS) == ["csv", "edf", "bids"]  # the order `export --format` offers them
    assert [get_exporter(f) for f in EXPORTERS] == [export_csv, export_edf, export_bids]
    for fmt in EXPORTERS:
        params = inspect.signature(get_exporter(fmt)).parameters
        assert list(params)[:2] == ["store", "out"], fmt
        for name in ("session_id", "progress", "force"):
            assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, (fmt, name)


def test_unknown_format_is_one_line_naming_the_known_ones():
    with pytest.raises(ExportError) as e:
        get_exporter("xlsx")
    assert "\n" not in str(e.value) and "csv, edf, bids" in str(e.value)


def test_export_by_name_writes_what_the_writer_writes(tmp_path: Path):
    with Store(tmp_path / "log.db") as store:
        sid = simulated_session(store, tmp_path / "rec", "rest_tremor", 40)
        by_name = export(store, "csv", tmp_path / "a", session_id=sid)
        direct = export_csv(store, tmp_path / "b", session_id=sid)
        bids = export(store, "bids", tmp_path / "c", session_id=sid, subject="07")
    assert [p.relative_to(tmp_path / "a") for p in by_name] == [p.relative_to(tmp_path / "b") for p in direct]
    for a, b in zip(by_name, direct, strict=True):
        if a.suffix == ".csv":  # the .gz files carry their own write time
            assert a.read_bytes() == b.read_bytes(), a.name
    assert bids and all("sub-07" in str(p) for p in bids if p.name.startswith("sub-"))
