"""Shared helpers for the review-side tests (report, diary, exports, re-analysis).

Sessions are made the way users make them: the simulator writes a recording and the
session runner replays it into a real episode log. Durations stay short so the suite is quick.
"""

from __future__ import annotations

import struct
import sys
import zlib
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import numpy as np

from firmware_bridge.simulator import simulate, write_simulation
from tremorscope.session import replay_session
from tremorscope.store import Store

REPO = Path(__file__).resolve().parents[1]


def simulated_session(
    store: Store,
    folder: Path,
    scenario: str = "rest_tremor",
    duration_s: float = 60.0,
    seed: int = 3,
    gyro: bool = True,
    start_time: str | None = "keep",
    **overrides: object,
) -> int:
    """Simulate ``scenario``, write it as a recording, replay it into ``store``; the session id.

    ``start_time=None`` removes the recording's wall clock; another ISO text replaces it.
    """
    sim = simulate(scenario, duration_s=duration_s, seed=seed, gyro=gyro, **overrides)
    if start_time != "keep":
        if start_time is None:
            sim.meta.pop("start_time", None)
        else:
            sim.meta["start_time"] = start_time
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{scenario}-{seed}-{int(duration_s)}-{'g' if gyro else 'a'}-{len(list(folder.iterdir()))}.csv.gz"
    rec, _events = write_simulation(sim, folder / name)
    result = replay_session(store, rec)
    return result.session_id


def raw_arrays(store: Store, session_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """All raw samples of a session: t, acc, gyro (or None)."""
    blocks = list(store.iter_samples(session_id))
    t = np.concatenate([b.t for b in blocks])
    acc = np.concatenate([b.acc for b in blocks])
    gyro = np.concatenate([b.gyro for b in blocks]) if blocks[0].gyro is not None else None
    return t, acc, gyro


def session_start(store: Store, session_id: int) -> datetime:
    row = store.session(session_id)
    assert row is not None and row["start_time"]
    return datetime.fromisoformat(row["start_time"])


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, after checking its signature and IHDR chunk CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    body = data[16 : 16 + length]
    (crc,) = struct.unpack(">I", data[16 + length : 20 + length])
    assert zlib.crc32(kind + body) == crc, "corrupt PNG header"
    w, h = struct.unpack(">II", body[:8])
    return w, h


class Page(HTMLParser):
    """A small DOM summary of an HTML file: elements by tag, ids, text per element id."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.ids: dict[str, dict[str, str]] = {}
        self.text_parts: list[str] = []
        self._stack: list[str] = []
        self.section_text: dict[str, list[str]] = {}
        self._section: str | None = None
        self.tables: dict[str, list[list[str]]] = {}  # table id -> rows of cell text
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.cell_attrs: dict[str, list[list[dict[str, str]]]] = {}
        self._row_attrs: list[dict[str, str]] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        self.tags.append((tag, a))
        if "id" in a:
            self.ids[a["id"]] = {"tag": tag, **a}
        if tag == "section":
            self._section = a.get("id")
            self.section_text.setdefault(self._section or "", [])
        if tag == "table" and a.get("id"):
            self._table = a["id"]
            self.tables[self._table] = []
            self.cell_attrs[self._table] = []
        if self._table and tag == "tr":
            self._row, self._row_attrs = [], []
        if self._table and tag in ("td", "th") and self._row is not None:
            self._cell = []
            if tag == "td":
                assert self._row_attrs is not None
                self._row_attrs.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._section = None
        if self._table and tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        if self._table and tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            if self._row_attrs:
                self.cell_attrs[self._table].append(self._row_attrs)
            self._row = None
        if tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)
        if self._section:
            self.section_text[self._section].append(data)
        if self._cell is not None:
            self._cell.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.text_parts).split())

    def section(self, sid: str) -> str:
        return " ".join(" ".join(self.section_text.get(sid, [])).split())

    def all(self, tag: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag]


def bench_module():  # noqa: ANN201 - the benchmark script as a module (its week generator)
    sys.path.insert(0, str(REPO / "benchmarks"))
    import bench_report

    return bench_report
