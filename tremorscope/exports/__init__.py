"""Exports of the episode log, one module per format with the same interface (:class:`Exporter`).

``csv`` (episode, minute, gap, diary and session tables plus raw samples as canonical
recordings), ``edf`` (EDF+ per session, episodes and diary as annotations) and ``bids``
(a BIDS-Motion dataset that ``replay`` reads back). :func:`export` picks the writer by format
name; what they share (choosing sessions, private atomic files, diary windows) is in
:mod:`~tremorscope.exports.base`, whose names are importable from here too.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tremorscope.exports.base import (
    Exporter,
    ExportError,
    SessionSpan,
    check_target,
    diary_for,
    is_file_target,
    parse_iso,
    private_dir,
    private_file,
    progress_steps,
    select_sessions,
    temp_path_for,
    write_json,
    write_text,
)
from tremorscope.store import Store

#: Format name -> its writer, ``module:function`` (imported when used: EDF+ needs pyedflib).
#: A new format is one more line here and a module with an :class:`Exporter`.
EXPORTERS: dict[str, str] = {
    "csv": "tremorscope.exports.csv:export_csv",
    "edf": "tremorscope.exports.edf:export_edf",
    "bids": "tremorscope.exports.bids:export_bids",
}


def get_exporter(fmt: str) -> Exporter:
    """The writer of export format ``fmt`` (one of :data:`EXPORTERS`)."""
    try:
        module, _, name = EXPORTERS[fmt].partition(":")
    except KeyError:
        raise ExportError(f"unknown export format {fmt!r}; use one of: {', '.join(EXPORTERS)}") from None
    return getattr(importlib.import_module(module), name)


def export(
    store: Store,
    fmt: str,
    out: str | Path,
    *,
    session_id: int | None = None,
    progress: Callable[[float], None] | None = None,
    force: bool = False,
    **options: Any,
) -> list[Path]:
    """Export the log as ``fmt`` to ``out``; ``options`` go to that format's writer."""
    writer = get_exporter(fmt)
    return writer(store, out, session_id=session_id, progress=progress, force=force, **options)


__all__ = [
    "EXPORTERS",
    "ExportError",
    "Exporter",
    "SessionSpan",
    "check_target",
    "diary_for",
    "export",
    "get_exporter",
    "is_file_target",
    "parse_iso",
    "private_dir",
    "private_file",
    "progress_steps",
    "select_sessions",
    "temp_path_for",
    "write_json",
    "write_text",
]
