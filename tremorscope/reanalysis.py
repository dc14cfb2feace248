"""Re-analysis: run the current detector again over a session's stored raw samples.

A clinician who tunes a patient's thresholds wants to compare, so nothing is overwritten: the
new results form a new session with ``mode = 'reanalysis'``, ``parent_session_id`` = the
session whose samples were re-run, the complete settings used in ``config_json`` and what
changed in ``extra_json["reanalysis"]``. ``tremorscope episodes --session NEW`` shows them.

Settings given for a re-analysis are applied on top of the settings the original session
was analysed with, so a file holding only ``{"contraction_threshold_deg": 10}`` changes that
one threshold and nothing else.

A session whose neutral posture was calibrated (``extra_json["calibrated"]`` with its
``neutral_g``) is re-analysed against that same neutral (``neutral_from = "parent"``), so
postures are measured from the same reference as before.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dsp.config import DetectorConfig
from firmware_bridge.samples import SampleBlock
from tremorscope.session import EventCallback, SessionInfo, SessionResult, SessionRunner
from tremorscope.store import RUNNING, Store, StoreError

#: Session counters that describe the recording itself, so a re-analysis carries them over.
CARRIED_COUNTERS = ("skipped_missing", "skipped_time", "dropped", "malformed")


@dataclass(frozen=True)
class Comparison:
    """What a clinician compares between a session and its re-analysis."""

    session_id: int
    episodes: int
    tremor_episodes: int
    tremor_s: float
    contraction_episodes: int
    contraction_s: float
    changed: dict[str, tuple[Any, Any]]  # setting -> (before, after)
    new_settings: tuple[str, ...] = ()  # settings the earlier analysis did not have


def parent_config(row: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The settings a session was analysed with, as a dict, and the stored keys no longer known."""
    text = row.get("config_json")
    if not text:
        return {}, []
    try:
        stored = json.loads(text)
    except json.JSONDecodeError:
        return {}, ["config_json (unreadable)"]
    if not isinstance(stored, dict):
        return {}, ["config_json (not an object)"]
    known = {f.name for f in dataclasses.fields(DetectorConfig)}
    dropped = sorted(k for k in stored if k not in known)
    return {k: v for k, v in stored.items() if k in known}, dropped


def merged_config(row: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> DetectorConfig:
    """The parent's settings with ``overrides`` applied (ValueError naming bad settings)."""
    base, _ = parent_config(row)
    base.update(dict(overrides or {}))
    return DetectorConfig.from_dict(base)


def config_changes(
    before: DetectorConfig | Mapping[str, Any], after: DetectorConfig
) -> tuple[dict[str, tuple[Any, Any]], list[str]]:
    """Settings whose value differs, name -> (before, after), and settings ``before`` lacked.

    A setting the earlier analysis did not have yet (a newer detector) is not a change the
    clinician made; it is listed separately.
    """
    b = before.to_dict() if isinstance(before, DetectorConfig) else dict(before)
    a = json.loads(after.to_json())
    b = json.loads(json.dumps(b, sort_keys=True, default=str))
    changed = {k: (b[k], a[k]) for k in sorted(a) if k in b and b[k] != a[k]}
    return changed, sorted(k for k in a if k not in b)


def _parse_start(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def reanalyze(
    store: Store,
    session_id: int,
    *,
    overrides: Mapping[str, Any] | None = None,
    on_event: EventCallback | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> SessionResult:
    """Re-run the detector over ``session_id``'s raw samples into a new, linked session.

    ``overrides``: detector settings to change (see ``dsp/config.py``). A re-analysis of a
    re-analysis re-runs the original raw samples. Raises StoreError (one line) when the
    session is unknown, still running, or has no raw samples.
    """
    row = store.session(session_id)
    if row is None:
        raise StoreError(f"no session {session_id} in {store.path}; `tremorscope sessions` lists them")
    if row.get("status") == RUNNING:
        raise StoreError(f"session {session_id} is still being recorded; re-analyse it once it has ended")
    raw_id = store.raw_session_id(session_id)
    if raw_id is None:
        raise StoreError(
            f"session {session_id} has no stored raw samples to re-analyse "
            "(it was logged without them); replay its recording with --config instead"
        )
    raw_row = store.session(raw_id) or row
    rate = row.get("sample_rate_hz") or raw_row.get("sample_rate_hz")
    if not rate:
        raise StoreError(f"session {session_id} has no sample rate in the log; it cannot be re-analysed")
    config = merged_config(row, overrides)
    before, unknown = parent_config(row)
    changes, added = config_changes(before or DetectorConfig(), config)
    total = max(int(store.sample_count(raw_id)), 1)
    parent_extra = _extra(row)
    extra: dict[str, Any] = {
        "reanalysis": {
            "of_session": session_id,
            "raw_session": raw_id,
            "changed": {k: {"before": v[0], "after": v[1]} for k, v in changes.items()},
            "new_settings": added,
            "ignored_stored_settings": unknown,
        }
    }
    for key in ("recording_meta", "live"):
        if key in parent_extra:
            extra[key] = parent_extra[key]
    neutral = parent_neutral(parent_extra)
    if neutral is not None:  # the same reference posture as the parent, not a new guess
        extra["neutral_from"] = "parent"
        extra["reanalysis"]["neutral_of_session"] = session_id
    info = SessionInfo(
        source=f"re-analysis of session {session_id}: {row.get('source')}",
        sample_rate_hz=float(rate),
        placement=row.get("placement") or raw_row.get("placement") or "wrist",
        device=row.get("device"),
        start_time=_parse_start(row.get("start_time") or raw_row.get("start_time")),
        has_gyro=None if row.get("has_gyro") is None else bool(row.get("has_gyro")),
        mode="reanalysis",
        extra=extra,
        parent_session_id=session_id,
        neutral_g=neutral,
    )
    counters = {k: int(raw_row.get(k) or 0) for k in CARRIED_COUNTERS}

    def blocks() -> Iterator[SampleBlock]:
        done = 0
        for block in store.iter_samples(raw_id):
            yield block
            done += len(block)
            if on_progress is not None:
                on_progress(done / total)

    runner = SessionRunner(
        store, info, config=config, on_event=on_event, stats=lambda: counters, store_raw=False
    )
    result = runner.run(blocks())
    # link gaps the bridge noticed are facts about the recording: keep them with the new results
    bridge = store.gaps(raw_id)
    bridge = bridge[bridge["origin"] == "bridge"]
    if len(bridge):
        from dsp.events import Gap

        for g in bridge.itertuples(index=False):
            store.add_gap(result.session_id, Gap(float(g.start_s), float(g.end_s)), origin="bridge")
        store.commit()
    return result


def parent_neutral(extra: Mapping[str, Any]) -> list[float] | None:
    """The calibrated neutral a session used (``extra_json``), or None when it was not calibrated.

    A neutral the detector only learned from quiet posture (``calibrated`` false) is not
    carried: the re-analysis learns it again, as the original did.
    """
    g = extra.get("neutral_g")
    if not extra.get("calibrated") or not isinstance(g, list) or len(g) != 3:
        return None
    try:
        values = [float(v) for v in g]
    except (TypeError, ValueError):
        return None
    return values if all(math.isfinite(v) for v in values) and any(values) else None


def _extra(row: Mapping[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(row.get("extra_json") or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def compare(store: Store, session_id: int) -> Comparison:
    """Episode counts and times of one session, for a before/after comparison."""
    df = store.episodes(session_id)
    tremor = df[df["kind"] == "tremor"]
    con = df[df["kind"] == "contraction"]
    row = store.session(session_id) or {}
    changed: dict[str, tuple[Any, Any]] = {}
    extra = _extra(row).get("reanalysis") or {}
    for k, v in (extra.get("changed") or {}).items():
        changed[k] = (v.get("before"), v.get("after"))
    return Comparison(
        session_id=session_id,
        episodes=len(df),
        tremor_episodes=len(tremor),
        tremor_s=float(tremor["duration_s"].sum()),
        contraction_episodes=len(con),
        contraction_s=float(con["duration_s"].sum()),
        changed=changed,
        new_settings=tuple(extra.get("new_settings") or ()),
    )


def comparison_text(before: Comparison, after: Comparison) -> str:
    """A few lines: what changed in the settings and in the results."""
    from tremorscope.tables import format_elapsed, render_table

    lines = []
    if after.changed:
        changes = ", ".join(f"{k} {b} -> {a}" for k, (b, a) in after.changed.items())
        lines.append(f"settings changed: {changes}")
    else:
        lines.append("settings unchanged (re-run with the current detector)")
    if after.new_settings:
        lines.append(
            f"{len(after.new_settings)} setting(s) new since the earlier analysis, at their defaults: "
            + ", ".join(after.new_settings)
        )
    rows = []
    for c in (before, after):
        rows.append([
            str(c.session_id), str(c.tremor_episodes), format_elapsed(c.tremor_s),
            str(c.contraction_episodes), format_elapsed(c.contraction_s),
        ])  # fmt: skip
    lines.append(
        render_table(
            ["session", "tremor episodes", "tremor time", "contraction episodes", "contraction time"],
            rows,
            right={0, 1, 2, 3, 4},
        )
    )
    return "\n".join(lines)
