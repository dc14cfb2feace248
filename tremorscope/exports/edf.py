"""EDF+ export (pyedflib): raw channels in physical units, episodes and diary as annotations.

One EDF+ file per session. EDF stores every signal at a fixed rate, so the raw samples are
placed on the session's nominal-rate grid from its first sample by linear interpolation of
their timestamps (for an evenly sampled recording this returns the samples themselves).
Stretches without samples longer than the session's gap limit (``gap_s``, 0.5 s by default)
carry a ``data gap`` annotation and hold the signal's *physical minimum*, a value set below every
recorded sample of that channel (by :data:`GAP_MARGIN_FRACTION` of its range), so a gap can never
be mistaken for data (0 g on ``acc_z`` would look like a real reading). The last record's padding
holds the same value. EDF+D (discontinuous records) would be the cleaner answer, but pyedflib's
writer (EDFlib) only writes continuous EDF+C files.

Each signal's physical range is the session's own range (rounded outward, widened below for the
gap value), so the 16-bit quantisation step is (max - min) / 65535: about 0.07 mg for a wrist
moving within +-2 g. Channels are labelled ``MISC acc_x/y/z`` (g) and, when recorded,
``MISC gyro_x/y/z`` (deg/s): EDF+'s "type, space, specification" label form, whose type word
MNE's reader recognises (``mne.io.read_raw_edf(..., infer_types=True)`` makes them ``misc``
channels named ``acc_x`` ...; mne-python 1.13 mne/io/edf/edf.py, ``_read_edf_header`` and
``CH_TYPE_MAPPING``, which has no accelerometer type). The physical dimension (``g``,
``deg/s``) and transducer fields are filled. MNE scales only uV and mV dimensions (same
function), so values arrive in g and deg/s; its ``_orig_units`` keeps SI unit symbols only
(mne/_fiff/utils.py, ``_check_orig_units``) and shows ``n/a`` for these. The start date/time is
the recording's wall clock (EDF has no time zone field: the offset is written in the recording
field). Patient fields are left anonymous (``X``), as
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
from tremorscope.exports.base import (
    ExportError,
    SessionSpan,
    check_target,
    diary_for,
    is_file_target,
    private_dir,
    progress_steps,
    select_sessions,
    temp_path_for,
)
from tremorscope.store import Store

#: EDF+ annotation text limit in EDFlib (longer texts are cut).
ANNOTATION_CHARS = 40
#: How far below a channel's lowest sample its gap value lies, as a fraction of the channel's
#: range: far enough to stand apart on a plot, small enough to keep the quantisation fine.
GAP_MARGIN_FRACTION = 0.1
#: Grid the physical bounds are rounded outward to: fine next to the data's range, and any
#: bound a sensor can reach (+-16 g, +-2000 deg/s) fits EDF's 8-character number fields.
BOUND_STEP_G = 0.001
BOUND_STEP_DPS = 0.01
DEFAULT_GAP_S = 0.5
DIGITAL_MIN, DIGITAL_MAX = -32768, 32767
ACC_LABELS = ("acc_x", "acc_y", "acc_z")
GYRO_LABELS = ("gyro_x", "gyro_y", "gyro_z")
#: EDF+ label type word in front of each channel name (EDF+ spec 2.1.3 item 9: "type,
#: space, specification"); MNE maps MISC to its misc channel type (mne/io/edf/edf.py).
LABEL_TYPE = "MISC"


@dataclass(frozen=True)
class EdfPlan:
    """What pass one learns about a session before writing."""

    fs_hz: float
    t0_s: float
    t_last_s: float
    n_grid: int
    phys_min: np.ndarray  # also the value written in gaps and padding (below every sample)
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
    """Write one EDF+ file per session; ``out`` is a ``.edf`` file (one session) or a folder."""
    import pyedflib  # noqa: F401 - fail early, before any file is created

    spans = [s for s in select_sessions(store, session_id) if s.raw_session_id is not None]
    if not spans:
        raise ExportError("no session with raw samples to export as EDF+")
    out_path = Path(out)
    if is_file_target(out_path, ".edf", "EDF+"):
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


def _bounds(lo: np.ndarray, hi: np.ndarray, has_gyro: bool) -> tuple[np.ndarray, np.ndarray]:
    """Physical min/max per channel: on a fixed grid (fits EDF's 8 characters), the minimum
    strictly below every sample by at least one grid step (it is the gap value)."""
    n_acc = len(ACC_LABELS)
    grid = np.array([BOUND_STEP_G] * n_acc + ([BOUND_STEP_DPS] * len(GYRO_LABELS) if has_gyro else []))
    span_v = hi - lo
    pmin = np.floor((lo - np.maximum(GAP_MARGIN_FRACTION * span_v, grid)) / grid) * grid
    pmax = np.ceil(hi / grid) * grid
    pmax = np.where(pmax <= pmin, pmin + grid, pmax)
    return np.round(pmin, 3), np.round(pmax, 3)


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
    # strictly below every sample: the gap value (the physical minimum) can never be data
    pmin, pmax = _bounds(lo, hi, has_gyro)
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
        if ep.get("detection_path") == "uncalibrated":  # found without a calibrated neutral
            bits.append("uncal")
    else:
        bits = [str(ep.get("kind") or "episode")]
        if ep.get("dominant_hz") is not None and ep["dominant_hz"] == ep["dominant_hz"]:
            bits.append(f"{ep['dominant_hz']:.1f}Hz")
        bits += [ep.get("severity") or "", ep.get("context") or ""]
        cid = ep.get("contraction_id")
        if cid is not None and cid == cid:  # dystonic tremor: in which contraction
            bits.append(f"in#{int(cid)}")
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
                "label": f"{LABEL_TYPE} {label}",
                "dimension": "deg/s" if gyro else "g", "sample_frequency": plan.fs_hz,
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
    except BaseException:  # an error or a stop signal: no half-written file is left behind
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
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
                vals[in_gap] = plan.phys_min
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
        fill = np.broadcast_to(plan.phys_min, (per_record - pending.shape[0], n_ch))
        rec = np.vstack([pending, fill])
        writer.blockWritePhysicalSamples(np.ascontiguousarray(rec.T).reshape(-1))  # type: ignore[attr-defined]
