"""BIDS-Motion export: a dataset folder research tools read (and ``tremorscope replay`` too).

Layout (BIDS specification, "Modality specific files / Motion" and "Data summary files")::

    OUT/dataset_description.json   Name, BIDSVersion, DatasetType, GeneratedBy
    OUT/README                      what the dataset holds
    OUT/participants.tsv            participant_id
    OUT/sub-<label>/sub-<label>_scans.tsv          filename, acq_time (onset of each run, UTC)
    OUT/sub-<label>/motion/sub-<label>_task-<task>_tracksys-imu_run-<session>_motion.tsv
        ..._motion.json     SamplingFrequency, TrackingSystemName, TaskName, channel counts,
                            Manufacturer / ManufacturersModelName (schema keys only)
        ..._channels.tsv    name, component, type, tracked_point, units (+ reference_frame)
        ..._channels.json   the reference frame: the sensor's own axes
        ..._events.tsv      onset, duration, trial_type (+ episode columns, diary text)
        ..._events.json     what the event columns mean
    OUT/sourcedata/tremorscope/sub-<label>/motion/<run stem>_tremorscope.json
        this project's own metadata of the run (session id, wall clock of the first sample,
        device clock offset), which ``replay`` reads back. ``sourcedata/`` is the place
        BIDS leaves free for such files ("Common principles: source vs. raw vs. derived
        data"), so the sidecars above hold only keys the BIDS schema defines.

One run per session (run index = session id). ``*_motion.tsv`` has no header; its columns
follow the rows of ``*_channels.tsv``: a ``LATENCY`` channel (s from the first sample: the
real, possibly uneven, sample times), ``ACCEL`` x/y/z in m/s^2 and, when recorded, ``GYRO``
x/y/z in rad/s (SI units, as the specification's examples use). Events are the detected
episodes (``tremor``, ``contraction``), data gaps (``data_gap``) and diary entries during the
recording (``diary_<kind>``), with ``n/a`` for values that do not apply.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from firmware_bridge.io.bids import EXTRA_KEY, STANDARD_GRAVITY_MS2, project_sidecar, utc_acq_time
from tremorscope import __version__
from tremorscope.exports.base import (
    ExportError,
    SessionSpan,
    check_target,
    diary_for,
    is_file_target,
    private_dir,
    private_file,
    progress_steps,
    select_sessions,
    write_json,
    write_text,
)
from tremorscope.store import Store

BIDS_VERSION = "1.10.0"
TRACKSYS = "imu"
DEFAULT_SUBJECT = "01"
DEFAULT_TASK = "dailylife"
#: Episode columns carried into ``*_events.tsv`` (after onset, duration, trial_type).
EVENT_EPISODE_COLUMNS = (
    "episode_id", "severity", "band", "dominant_hz", "stability", "amplitude_g", "amplitude_dps",
    "displacement_cm", "context", "peak_angle_deg", "mean_angle_deg", "direction",
    "onset_speed_dps", "co_contraction", "contraction_id", "detection_path", "confidence",
)  # fmt: skip
EVENT_COLUMNS = ("onset", "duration", "trial_type", *EVENT_EPISODE_COLUMNS, "note")
#: Files of one run, after its ``sub-..._run-N_`` stem.
RUN_FILES = ("motion.tsv", "motion.json", "channels.tsv", "channels.json", "events.tsv", "events.json")
_RAD_PER_DEG = math.pi / 180.0
#: Device name in the log (``tremorscope devices``) -> (Manufacturer, ManufacturersModelName),
#: as the devices' makers name them (see each protocol module's sources).
DEVICE_MAKERS: dict[str, tuple[str, str]] = {
    "witmotion": ("WitMotion", "WT901BLECL / WT9011DCL"),
    "movesense": ("Movesense", "Movesense sensor"),
    "polar-h10": ("Polar Electro", "Polar H10"),
    "polar-verity": ("Polar Electro", "Polar Verity Sense"),
    "microbit": ("Micro:bit Educational Foundation", "BBC micro:bit"),
    "metamotion": ("MbientLab", "MetaMotion"),
    "reference": ("self-built (tremorscope reference firmware)", "ESP32 + MPU6050"),
    "tremorscope simulator": ("tremorscope", "simulator (synthetic data)"),
}
#: Channel types BIDS-Motion counts (motion.json ``<TYPE>ChannelCount``) that we never record.
UNUSED_CHANNEL_TYPES = ("ANGACCEL", "JNTANG", "MAGN", "MISC", "ORNT", "POS", "VEL")


def label(text: str, default: str) -> str:
    """A BIDS label: letters and digits only."""
    cleaned = re.sub(r"[^A-Za-z0-9]", "", text or "")
    return cleaned or default


def run_stem(subject: str, task: str, session_id: int) -> str:
    return f"sub-{subject}_task-{task}_tracksys-{TRACKSYS}_run-{session_id}"


def _task_for(span: SessionSpan) -> tuple[str, str]:
    """(task label, TaskName) from the recording's metadata, else daily-life monitoring."""
    meta = _recording_meta(span)
    task = meta.get("task") or ""
    if task:
        return label(task, DEFAULT_TASK), str(task)
    return DEFAULT_TASK, "daily life monitoring"


def _recording_meta(span: SessionSpan) -> dict[str, Any]:
    import json

    try:
        extra = json.loads(span.row.get("extra_json") or "{}")
    except ValueError:
        return {}
    meta = extra.get("recording_meta") if isinstance(extra, dict) else None
    return meta if isinstance(meta, dict) else {}


def export_bids(
    store: Store,
    out: str | Path,
    *,
    session_id: int | None = None,
    subject: str = DEFAULT_SUBJECT,
    progress: Callable[[float], None] | None = None,
    force: bool = False,
) -> list[Path]:
    """Write a BIDS-Motion dataset of one session (or all that are not re-analyses)."""
    root = Path(out)
    is_file_target(root, None, "BIDS")  # a dataset folder: refuses OUT names that look like files
    sub = label(subject, "")
    if not sub:
        raise ExportError(f"--subject {subject!r}: use letters and digits only, e.g. 01")
    spans = [s for s in select_sessions(store, session_id) if s.raw_session_id is not None]
    if not spans:
        raise ExportError("no session with raw samples to export as BIDS-Motion")
    motion_dir = root / f"sub-{sub}" / "motion"
    stems = {s.session_id: run_stem(sub, _task_for(s)[0], s.session_id) for s in spans}
    targets = [motion_dir / f"{stem}_{suffix}" for stem in stems.values() for suffix in RUN_FILES]
    targets += [project_sidecar(motion_dir / f"{stem}_motion.tsv") for stem in stems.values()]
    for t in targets:
        check_target(t, force)
    private_dir(motion_dir)
    written: list[Path] = []
    if not (root / "dataset_description.json").exists() or force:
        write_json(
            root / "dataset_description.json",
            {
                "Name": "tremorscope wearable tremor and dystonia monitoring",
                "BIDSVersion": BIDS_VERSION,
                "DatasetType": "raw",
                "GeneratedBy": [{"Name": "tremorscope", "Version": __version__}],
            },
        )
        write_text(root / "README", _README)
        write_text(root / "participants.tsv", f"participant_id\nsub-{sub}\n")
        written += [root / "dataset_description.json", root / "README", root / "participants.tsv"]
    total = sum(store.sample_count(s.raw_session_id) for s in spans) or 1
    step = progress_steps(total, progress)

    scans = []
    for span in spans:
        stem = stems[span.session_id]
        written += write_run(store, span, motion_dir, stem, on_rows=step)
        if span.start_time is not None:
            scans.append((f"motion/{stem}_motion.tsv", utc_acq_time(span.start_time)))
    scans_path = root / f"sub-{sub}" / f"sub-{sub}_scans.tsv"
    if scans_path.exists():
        old = pd.read_csv(scans_path, sep="\t", dtype=str, keep_default_na=False)
        keep = [(r.filename, r.acq_time) for r in old.itertuples() if r.filename not in {s[0] for s in scans}]
        scans = keep + scans
    if scans:
        text = "filename\tacq_time\n" + "".join(f"{f}\t{a}\n" for f, a in sorted(scans))
        write_text(scans_path, text)
        written.append(scans_path)
    return written


def write_run(
    store: Store, span: SessionSpan, folder: Path, stem: str, *, on_rows: Callable[[int], None] | None = None
) -> list[Path]:
    """One session as one BIDS-Motion run: data, sidecars, channels, events."""
    assert span.raw_session_id is not None
    row = span.row
    placement = str(row.get("placement") or "wrist")
    point = placement[:1].upper() + placement[1:]
    has_gyro = bool(row.get("has_gyro"))
    channels = [("latency", "n/a", "LATENCY", point, "s")]
    channels += [(f"acc_{c}", c, "ACCEL", point, "m/s^2") for c in "xyz"]
    if has_gyro:
        channels += [(f"gyro_{c}", c, "GYRO", point, "rad/s") for c in "xyz"]
    chan_text = "name\tcomponent\ttype\ttracked_point\tunits\treference_frame\n"
    for name, comp, kind, tracked, units in channels:
        frame = "n/a" if kind == "LATENCY" else "sensor"
        chan_text += f"{name}\t{comp}\t{kind}\t{tracked}\t{units}\t{frame}\n"
    paths = {k: folder / f"{stem}_{k}" for k in RUN_FILES}
    write_text(paths["channels.tsv"], chan_text)
    write_json(
        paths["channels.json"],
        {
            "reference_frame": {
                "Levels": {
                    "sensor": {
                        "Description": "The sensor's own axes as the device reports them "
                        "(see the device documentation); gravity is included in ACCEL.",
                    }
                }
            }
        },
    )
    t_first: float | None = None
    t_last: float | None = None
    n = 0
    with private_file(paths["motion.tsv"]) as f:
        for block in store.iter_samples(span.raw_session_id):
            if t_first is None:
                t_first = float(block.t[0])
            cols = [block.t - t_first, block.acc * STANDARD_GRAVITY_MS2]
            if has_gyro and block.gyro is not None:
                cols.append(block.gyro * _RAD_PER_DEG)
            data = np.column_stack(cols)
            fmt = ["%.6f"] + ["%.7g"] * (data.shape[1] - 1)
            np.savetxt(f, data, fmt=fmt, delimiter="\t", newline="\n")
            t_last = float(block.t[-1])
            n += len(block)
            if on_rows is not None:
                on_rows(len(block))
    assert t_first is not None and t_last is not None
    task, task_name = _task_for(span)
    fs = float(row.get("sample_rate_hz") or 0)
    device = str(row.get("device") or "").strip()
    sidecar: dict[str, Any] = {
        "TaskName": task_name,
        "TaskDescription": "Free-living wear of an inertial sensor, analysed for tremor and "
        "dystonic contractions by tremorscope",
        "TrackingSystemName": f"IMU on the {placement}",
        "SamplingFrequency": fs,
        "SamplingFrequencyEffective": (n - 1) / (t_last - t_first) if n > 1 and t_last > t_first else fs,
        "RecordingDuration": round(t_last - t_first, 6),
        "MotionChannelCount": len(channels),
        "ACCELChannelCount": 3,
        "GYROChannelCount": 3 if has_gyro else 0,
        "LATENCYChannelCount": 1,
        **{f"{kind}ChannelCount": 0 for kind in UNUSED_CHANNEL_TYPES},
        "TrackedPointsCount": 1,
        "MissingValues": "n/a",
        "SoftwareVersions": f"tremorscope {__version__}",
    }
    if task == DEFAULT_TASK:
        sidecar["Instructions"] = "None: the sensor was worn during daily life"
    maker = DEVICE_MAKERS.get(device.lower())
    if maker is not None:
        sidecar["Manufacturer"], sidecar["ManufacturersModelName"] = maker
    elif device:
        sidecar["ManufacturersModelName"] = device
    serial = str(_recording_meta(span).get("device_serial") or "").strip()
    if serial:  # only where the device (or the recording) reported one
        sidecar["DeviceSerialNumber"] = serial
    write_json(paths["motion.json"], sidecar)
    extra = {
        "session_id": span.session_id,
        "raw_samples_of_session": span.raw_session_id,
        "placement": placement,
        "device": device or None,
        "start_time": span.start_time.isoformat() if span.start_time is not None else None,
        "t0_s": t_first,
        "mode": row.get("mode"),
    }
    paths["tremorscope.json"] = project_sidecar(paths["motion.tsv"])
    write_json(paths["tremorscope.json"], {EXTRA_KEY: extra})
    events = events_frame(store, span, t_first)
    with private_file(paths["events.tsv"]) as f:
        events.to_csv(f, sep="\t", index=False, na_rep="n/a", lineterminator="\n")
    write_json(paths["events.json"], EVENTS_SIDECAR)
    return list(paths.values())


def events_frame(store: Store, span: SessionSpan, t_first: float) -> pd.DataFrame:
    """Episodes, data gaps and diary entries of a run as BIDS events (onset from the first sample)."""
    rows: list[dict[str, Any]] = []
    for ep in store.episodes(span.session_id).to_dict("records"):
        r = {c: ep.get(c) for c in EVENT_EPISODE_COLUMNS}
        r.update(onset=round(float(ep["start_s"]) - t_first, 6), duration=round(float(ep["duration_s"]), 6))
        r["trial_type"] = ep["kind"]
        rows.append(r)
    for g in store.gaps(span.session_id).to_dict("records"):
        rows.append({
            "onset": round(float(g["start_s"]) - t_first, 6),
            "duration": round(float(g["end_s"]) - float(g["start_s"]), 6),
            "trial_type": "data_gap", "note": f"noticed by the {g['origin']}",
        })  # fmt: skip
    ws = span.wall_span()
    if ws is not None:
        first = ws[0] if ws[0].tzinfo is not None else ws[0].astimezone()
        for d in diary_for(store, span).to_dict("records"):
            at = datetime.fromisoformat(d["at"])
            rows.append({
                "onset": round((at - first).total_seconds(), 6), "duration": 0.0,
                "trial_type": f"diary_{d['kind']}", "note": d["text"],
            })  # fmt: skip
    df = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    if "episode_id" in df and len(df):
        df["episode_id"] = df["episode_id"].astype("Int64")
    return df.sort_values(["onset", "trial_type"], kind="stable").reset_index(drop=True)


EVENTS_SIDECAR: dict[str, Any] = {
    "onset": {"Description": "Start, seconds from the first sample of the run", "Units": "s"},
    "duration": {"Description": "Length of the event (0 for a diary entry)", "Units": "s"},
    "trial_type": {
        "Description": "What happened",
        "Levels": {
            "tremor": "A tremor episode detected by tremorscope",
            "contraction": "A sustained contraction (dystonic posture or spasm) detected by tremorscope",
            "data_gap": "A stretch without samples; nothing was inferred inside it",
            "diary_medication": "Patient diary: medication taken",
            "diary_botox": "Patient diary: botulinum toxin injection",
            "diary_dbs": "Patient diary: deep brain stimulation setting change",
            "diary_stress": "Patient diary: stress or anxiety",
            "diary_fatigue": "Patient diary: fatigue",
            "diary_sleep": "Patient diary: sleep",
            "diary_other": "Patient diary: other note",
        },
    },
    "episode_id": {"Description": "Episode number within the tremorscope session"},
    "severity": {
        "Description": "Tremor severity class from displacement amplitude (slight < mild < moderate < strong)"
    },
    "band": {"Description": "Tremor frequency band"},
    "dominant_hz": {"Description": "Dominant tremor frequency", "Units": "Hz"},
    "stability": {
        "Description": "Tremor stability index: spread of the cycle frequency (lower = more regular)",
        "Units": "Hz",
    },
    "amplitude_g": {"Description": "Tremor acceleration amplitude", "Units": "g"},
    "amplitude_dps": {"Description": "Tremor angular-rate amplitude", "Units": "deg/s"},
    "displacement_cm": {"Description": "Tremor displacement amplitude (zero to peak)", "Units": "cm"},
    "context": {
        "Description": "Tremor context: rest, posture, movement, or within_posture (dystonic tremor "
        "during the contraction episode contraction_id)"
    },
    "peak_angle_deg": {"Description": "Contraction: largest deviation from neutral posture", "Units": "deg"},
    "mean_angle_deg": {"Description": "Contraction: mean deviation from neutral posture", "Units": "deg"},
    "direction": {"Description": "Contraction: direction of the deviation (clinical name for the placement)"},
    "onset_speed_dps": {"Description": "Contraction: angular speed at onset", "Units": "deg/s"},
    "co_contraction": {
        "Description": "Contraction: co-contraction, the tremor-band RMS acceleration during the hold",
        "Units": "g",
    },
    "contraction_id": {
        "Description": "Tremor within a posture: episode_id of the contraction it occurred in"
    },
    "detection_path": {
        "Description": "Contraction: how it was found: calibrated (against a calibrated neutral), "
        "adaptive (against the learnt neutral) or uncalibrated (a limb spasm from its signature)"
    },
    "confidence": {"Description": "Contraction: confidence of the detection (0-1)"},
    "note": {"Description": "Diary text, or who noticed a data gap"},
}

_README = """tremorscope BIDS-Motion export
==============================

Wearable inertial sensor recordings (accelerometer, and gyroscope when recorded) exported by
tremorscope, an open-source tremor and dystonic-spasm monitor. One run per tremorscope session
(run index = session id). *_events.tsv holds the detected tremor and contraction episodes, data
gaps and patient-diary entries during the recording. Times in *_scans.tsv are UTC.

This is health data: keep it private.
"""
