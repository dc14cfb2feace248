"""Old import paths of the modules moved in issue 12 still import, for one release, and warn."""

from __future__ import annotations

import importlib
import sys

import pytest

import tremorscope.cli.data
import tremorscope.review.report

#: old path -> (new module, a name the old module offered)
MOVED = {
    "firmware_bridge.recording": ("firmware_bridge.io.recording", "RecordingReader"),
    "firmware_bridge.bids": ("firmware_bridge.io.bids", "BidsMotionReader"),
    "firmware_bridge.capture": ("firmware_bridge.io.capture", "CaptureWriter"),
    "firmware_bridge.capture_decode": ("firmware_bridge.io.capture_decode", "decode_capture"),
    "tremorscope.cli_live": ("tremorscope.cli.live_helpers", "replay_capture"),
    "tremorscope.cli_review": ("tremorscope.cli.review", "export"),
    "tremorscope.report": ("tremorscope.review.report", "build_report"),
    "tremorscope.report_plots": ("tremorscope.review.plots", "day_timeline_png"),
    "tremorscope.diary": ("tremorscope.review.diary", "add_note"),
    "tremorscope.export_csv": ("tremorscope.exports.csv", "export_csv"),
    "tremorscope.export_edf": ("tremorscope.exports.edf", "export_edf"),
    "tremorscope.export_bids": ("tremorscope.exports.bids", "export_bids"),
}


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_path_imports_the_new_module_and_warns(old: str, monkeypatch: pytest.MonkeyPatch):
    new, name = MOVED[old]
    monkeypatch.delitem(sys.modules, old, raising=False)  # a first import, even if a test imported it
    with pytest.warns(DeprecationWarning, match=f"^{old} moved to .*{new}"):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)


def test_a_moved_module_is_the_same_object_and_private_names_come_along():
    sys.modules.pop("firmware_bridge.capture", None)
    with pytest.warns(DeprecationWarning):
        from firmware_bridge.capture import _iter_lines  # transports once imported this private name
    import firmware_bridge.io.capture

    sys.modules.pop("firmware_bridge.recording", None)
    assert _iter_lines is firmware_bridge.io.capture._iter_lines
    with pytest.warns(DeprecationWarning):
        import firmware_bridge.recording  # noqa: F401
    assert sys.modules["firmware_bridge.recording"] is firmware_bridge.io.recording


def test_the_split_report_keeps_its_public_names():
    sys.modules.pop("tremorscope.report", None)
    with pytest.warns(DeprecationWarning):
        import tremorscope.report as old
    for name in ("SECTIONS", "ReportError", "collect", "overview", "day_panels", "dose_response",
                 "EPISODE_HEADERS", "neutral_text", "session_limits", "ACC_ONLY_LIMITS"):  # fmt: skip
        assert hasattr(old, name), name
    assert old.build_report is tremorscope.review.report.build_report


def test_old_command_attributes_of_tremorscope_cli_warn():
    import tremorscope.cli

    with pytest.warns(DeprecationWarning, match="tremorscope.cli.replay moved to tremorscope.cli.data"):
        replay = tremorscope.cli.replay
    assert replay is tremorscope.cli.data.replay
    with pytest.raises(AttributeError):
        tremorscope.cli.no_such_command  # noqa: B018
