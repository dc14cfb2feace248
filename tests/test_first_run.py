"""The first-run notice before the DSP core is compiled."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

from tremorscope import first_run


def _fake_package(tmp_path, monkeypatch):
    pkg = tmp_path / "dsp"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        first_run.importlib.util,
        "find_spec",
        lambda name: SimpleNamespace(origin=str(pkg / "__init__.py")) if name == "dsp" else real(name),
    )
    return pkg


def test_missing_cache_is_noticed_and_a_cached_core_is_not(tmp_path, monkeypatch):
    pkg = _fake_package(tmp_path, monkeypatch)
    assert first_run.core_cache_missing()
    (pkg / "__pycache__").mkdir()
    assert first_run.core_cache_missing()
    (pkg / "__pycache__" / "band_kernel.band_bins-19.py311.nbi").write_bytes(b"")
    assert not first_run.core_cache_missing()


def test_the_notice_goes_to_a_terminal_only(tmp_path, monkeypatch, capsys):
    _fake_package(tmp_path, monkeypatch)
    monkeypatch.delitem(first_run.sys.modules, "dsp", raising=False)
    first_run.announce_core_compilation()  # captured stderr is not a terminal
    assert capsys.readouterr().err == ""

    class Tty:
        def __init__(self):
            self.text = ""

        def isatty(self):
            return True

        def write(self, s):
            self.text += s

        def flush(self):
            pass

    tty = Tty()
    monkeypatch.setattr(first_run.sys, "stderr", tty)
    first_run.announce_core_compilation()
    assert "first run only" in tty.text
