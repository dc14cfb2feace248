"""EDF+ export (pyedflib): raw channels in physical units, episodes and diary as annotations.

One EDF+ file per session. EDF stores every signal at a fixed rate, so the raw samples are
placed on the session's nominal-rate grid from its first sample by linear interpolation of
their timestamps (for an evenly sampled recording this returns the samples themselves).
Stretches without samples longer than the session's gap limit (``gap_s``, 0.5 s by default)
hold 0 and carry a ``data gap`` annotation, so nothing is invented inside them.

Each signal's physical range is the session's own range (rounded outward, 0 included for
the gap fill), so the 16-bit quantisation step is (max - min) / 65535: about 0.06 mg for a
wrist moving within +-2 g. Channels: ``acc_x/y/z`` in g and, when recorded, ``gyro_x/y/z``
in deg/s. The start date/time is the recording's wall clock (EDF has no time zone field:
the offset is written in the recording field). Patient fields are left anonymous (``X``), as
EDF+ allows: the log knows no names. Annotations are cut to EDF+'s 40 characters.

EDF+ specification: https://www.edfplus.info/specs/edfplus.html (pyedflib wraps EDFlib).
"""

from __future__ import annotations

import json
import math
import os
import unicodedata
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from tremorscope import __version__
from tremorscope.exports import (
    ExportError,
    SessionSpan,
    check_target,
    diary_for,
    private_dir,
    progress_steps,
    select_sessions,
    temp_path_for,
)
from tremorscope.store import Store

#: EDF+ annotation text limit in EDFlib (longer texts are cut).
ANNOTATION_CHARS = 40
#: Value written where there are no samples (a data gap); see the module docstring.
GAP_FILL = 0.0
DEFAULT_GAP_S = 0.5
DIGITAL_MIN, DIGITAL_MAX = -32768, 32767
ACC_LABELS = ("acc_x", "acc_y", "acc_z")
GYRO_LABELS = ("gyro_x", "gyro_y", "gyro_z")


@dataclass(frozen=True)
class EdfPlan:
    """What pass one learns about a session before writing."""

    fs_hz: float
    t0_s: float
    t_last_s: float
    n_grid: int
    phys_min: np.ndarray
    phys_max: np.ndarray
    has_gyro: bool
    gap_s: float
    gaps: tuple[tuple[float, float], ...]  # (last sample before, first sample after), s


def edf_name(session_id: int) -> str:
    return f"session-{session_id}.edf"


def export_edf(
    store: Store,
    out: str | Path,
    *,
    session_id: int | None = None,
    progress: Callable[[float], None] | None = None,
    force: bool = False,
) -> list[Path]:
    """Write one EDF+ file per session; ``out`` is a file (one session) or a folder."""
    import pyedflib  # noqa: F401 - fail early, before any file is created

    spans = [s for s in select_sessions(store, session_id) if s.raw_session_id is not None]
    if not spans:
        raise ExportError("no session with raw samples to export as EDF+")
    out_path = Path(out)
    if out_path.suffix.lower() == ".edf":
        if len(spans) != 1:
            raise ExportError(
                f"{len(spans)} sessions to export: give a folder as OUT, or pick one with --session"
            )
        targets = [out_path]
    else:
        private_dir(out_path)
        targets = [out_path / edf_name(s.session_id) for s in spans]
    for t in targets:
        check_target(t, force)
    total = sum(2 * store.sample_count(s.raw_session_id) for s in spans) or 1
    step = progress_steps(total, progress)

    for span, target in zip(spans, targets, strict=True):
        write_edf(store, span, target, on_rows=step)
    return targets


def _nice_bound(v: float, up: bool) -> float:
    """Round outward to 3 significant digits; the text fits EDF's 8 characters."""
    if v == 0:
        return 0.0
    digits = 2 - int(math.floor(math.log10(abs(v))))
    scale = 10.0**digits
    r = (math.ceil(v * scale) if up else math.floor(v * scale)) / scale
    r = float(f"{r:.3g}")
    if len(f"{r:g}") > 8:
        r = float(f"{r:.2e}")
    return r


def plan_session(store: Store, span: SessionSpan, on_rows: Callable[[int], None] | None = None) -> EdfPlan:
    """Pass one: ranges, first and last time, grid size."""
    assert span.raw_session_id is not None
    fs = float(span.row.get("sample_rate_hz") or 0)
    if not fs > 0:
        raise ExportError(f"session {span.session_id} has no sample rate; it cannot be written as EDF+")
    gap_s = DEFAULT_GAP_S
    try:
        gap_s = float(json.loads(span.row.get("config_json") or "{}").get("gap_s", DEFAULT_GAP_S))
    except (ValueError, TypeError, AttributeError):
        pass
    lo = hi = None
    t0 = t1 = None
    has_gyro = False
    gaps: list[tuple[float, float]] = []
    for b in store.iter_samples(span.raw_session_id):
        t = b.t if t1 is None else np.concatenate([[t1], b.t])
        for j in np.flatnonzero(np.diff(t) > gap_s):
            gaps.append((float(t[j]), float(t[j + 1])))
        x = b.acc if b.gyro is None else np.hstack([b.acc, b.gyro])
        has_gyro = b.gyro is not None
        bl, bh = x.min(axis=0), x.max(axis=0)
        lo = bl if lo is None or len(lo) != len(bl) else np.minimum(lo, bl)
        hi = bh if hi is None or len(hi) != len(bh) else np.maximum(hi, bh)
        t0 = float(b.t[0]) if t0 is None else t0
        t1 = float(b.t[-1])
        if on_rows is not None:
            on_rows(len(b))
    if lo is None or t0 is None or t1 is None:
        raise ExportError(f"session {span.session_id} has no raw samples to export")
    lo = np.minimum(lo, GAP_FILL)
    hi = np.maximum(hi, GAP_FILL)
    pmin = np.array([_nice_bound(v, up=False) for v in lo])
    pmax = np.array([_nice_bound(v, up=True) for v in hi])
    same = pmax <= pmin
    pmax[same] = pmin[same] + 1.0
    n_grid = int(math.floor((t1 - t0) * fs + 1e-9)) + 1
    return EdfPlan(fs, t0, t1, n_grid, pmin, pmax, has_gyro, gap_s, tuple(gaps))


def _ascii(text: str) -> str:
    """EDF header fields are ASCII: accents dropped, other characters replaced."""
    norm = unicodedata.normalize("NFKD", text)
    return "".join(c if 32 <= ord(c) < 127 else ("" if unicodedata.combining(c) else "_") for c in norm)


def episode_annotation(ep: dict) -> str:
    """A short EDF+ text for an episode (at most 40 characters)."""
    if ep.get("kind") == "contraction":
        bits = ["contraction", ep.get("direction") or ""]
        if ep.get("peak_angle_deg") is not None and ep["peak_angle_deg"] == ep["peak_angle_deg"]:
            bits.append(f"{ep['peak_angle_deg']:.0f}deg")
    else:
        bits = [str(ep.get("kind") or "episode")]
        if ep.get("dominant_hz") is not None and ep["dominant_hz"] == ep["dominant_hz"]:
            bits.append(f"{ep['dominant_hz']:.1f}Hz")
        bits += [ep.get("severity") or "", ep.get("context") or ""]
    return " ".join(b for b in bits if b)[:ANNOTATION_CHARS]


def diary_annotation(kind: str, text: str) -> str:
    return f"{kind}: {text}"[:ANNOTATION_CHARS]


def annotations_for(store: Store, span: SessionSpan, t0_s: float) -> list[tuple[float, float, str]]:
    """(onset s from the first sample, duration s or -1, text) for episodes and diary entries."""
    out: list[tuple[float, float, str]] = []
    for ep in store.episodes(span.session_id).to_dict("records"):
        onset = max(float(ep["start_s"]) - t0_s, 0.0)
        out.append((onset, max(float(ep["duration_s"]), 0.0), episode_annotation(ep)))
    ws = span.wall_span()
    if ws is not None:
        first = ws[0] if ws[0].tzinfo is not None else ws[0].astimezone()
        for d in diary_for(store, span).to_dict("records"):
            at = datetime.fromisoformat(d["at"])
            out.append(((at - first).total_seconds(), -1.0, diary_annotation(d["kind"], d["text"])))
    out.sort(key=lambda a: a[0])
    return out


def write_edf(
    store: Store, span: SessionSpan, path: Path, *, on_rows: Callable[[int], None] | None = None
) -> Path:
    """Write one session as EDF+ (two passes over its raw samples)."""
    import pyedflib

    plan = plan_session(store, span, on_rows)
    labels = ACC_LABELS + (GYRO_LABELS if plan.has_gyro else ())
    n_ch = len(labels)
    tmp = temp_path_for(path)
    writer = pyedflib.EdfWriter(str(tmp), n_ch, file_type=pyedflib.FILETYPE_EDFPLUS)
    try:
        headers = []
        for i, label in enumerate(labels):
            gyro = label.startswith("gyro")
            headers.append({
                "label": label, "dimension": "deg/s" if gyro else "g", "sample_frequency": plan.fs_hz,
                "physical_max": float(plan.phys_max[i]), "physical_min": float(plan.phys_min[i]),
                "digital_max": DIGITAL_MAX, "digital_min": DIGITAL_MIN,
                "transducer": "MEMS gyroscope" if gyro else "MEMS accelerometer (gravity included)",
                "prefilter": "",
            })  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyedflib warns about record-duration rounding
            writer.setSignalHeaders(headers)
            start = span.start_time
            if start is not None:
                writer.setStartdatetime(start.replace(tzinfo=None))
                offset = start.strftime("%z") or "local"
            else:
                writer.setStartdatetime(datetime(1985, 1, 1))  # EDF+ "date unknown" convention
                offset = "unknown clock"
            writer.setEquipment(_ascii(str(span.row.get("device") or "unknown sensor"))[:30])
            writer.setRecordingAdditional(
                _ascii(f"tremorscope {__version__} session {span.session_id} UTC{offset}")[:40]
            )
            placement = _ascii(str(span.row.get("placement") or ""))
            writer.setPatientAdditional(f"sensor on {placement}"[:40] if placement else "")
        per_record = writer.get_smp_per_record(0)
        anns = annotations_for(store, span, plan.t0_s)
        anns += [(g0 - plan.t0_s, g1 - g0, "data gap") for g0, g1 in plan.gaps]
        # room for the annotations: EDFlib writes at most one per annotation signal per record
        n_records = max(1, math.ceil(plan.n_grid / per_record))
        writer.set_number_of_annotation_signals(min(64, max(1, math.ceil(len(anns) / n_records) + 1)))
        _write_grid(store, span, plan, writer, per_record, n_ch, on_rows)
        for onset, duration, text in sorted(anns):
            writer.writeAnnotation(onset, duration, _ascii(text))
    finally:
        writer.close()
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def _write_grid(
    store: Store,
    span: SessionSpan,
    plan: EdfPlan,
    writer: object,
    per_record: int,
    n_ch: int,
    on_rows: Callable[[int], None] | None,
) -> None:
    """Pass two: interpolate onto the grid and write whole records."""
    assert span.raw_session_id is not None
    fs, t0 = plan.fs_hz, plan.t0_s
    pending = np.empty((0, n_ch))
    next_k = 0  # next grid index to produce
    prev_t: float | None = None
    prev_x: np.ndarray | None = None
    for b in store.iter_samples(span.raw_session_id):
        x = b.acc if b.gyro is None else np.hstack([b.acc, b.gyro])
        t = b.t
        if prev_t is not None:
            t = np.concatenate([[prev_t], t])
            x = np.vstack([prev_x, x])
        steps = np.diff(t)
        k_end = min(int(math.floor((t[-1] - t0) * fs + 1e-9)), plan.n_grid - 1)
        if k_end >= next_k:
            k = np.arange(next_k, k_end + 1)
            g = t0 + k / fs
            vals = np.empty((k.size, n_ch))
            for c in range(n_ch):
                vals[:, c] = np.interp(g, t, x[:, c])
            if steps.size and (steps > plan.gap_s).any():
                idx = np.clip(np.searchsorted(t, g, side="right"), 1, t.size - 1)
                in_gap = (t[idx] - t[idx - 1] > plan.gap_s) & (g > t[idx - 1]) & (g < t[idx])
                vals[in_gap] = GAP_FILL
            pending = np.vstack([pending, vals])
            next_k = k_end + 1
        n_full = pending.shape[0] // per_record
        for r in range(n_full):
            rec = pending[r * per_record : (r + 1) * per_record]
            writer.blockWritePhysicalSamples(np.ascontiguousarray(rec.T).reshape(-1))  # type: ignore[attr-defined]
        pending = pending[n_full * per_record :]
        prev_t, prev_x = float(t[-1]), x[-1:].copy()
        if on_rows is not None:
            on_rows(len(b))
    if pending.shape[0]:
        fill = np.full((per_record - pending.shape[0], n_ch), GAP_FILL)
        rec = np.vstack([pending, fill])
        writer.blockWritePhysicalSamples(np.ascontiguousarray(rec.T).reshape(-1))  # type: ignore[attr-defined]
