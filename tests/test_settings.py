"""`tremorscope settings`: every detector setting is listed with unit, default and meaning, and
its JSON output is a thresholds.json that --config accepts (issue 15 item 7)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from cli_help_dump import dump
from click.testing import CliRunner

from dsp.config import SETTING_DOCS, DetectorConfig
from tremorscope.cli import main
from tremorscope.cli.helpers import load_config

#: Words of the code that help text must not show users.
INTERNAL_WORDS = ("EPISODE_COLUMNS", "dsp/config.py", "export contract")


def test_every_setting_is_documented_and_listed() -> None:
    names = [f.name for f in dataclasses.fields(DetectorConfig)]
    assert set(SETTING_DOCS) == set(names)
    assert all(meaning.strip() for _, meaning in SETTING_DOCS.values())
    r = CliRunner().invoke(main, ["settings"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].split() == ["setting", "unit", "default", "meaning"]
    listed = [line.split()[0] for line in lines[2:]]
    assert listed == [n for n in names if n != "extra"]
    row = next(line for line in lines if line.startswith("min_rms_g "))
    assert " g " in row and " 0.005 " in row and "band RMS acceleration" in row


def test_json_defaults_are_a_config_file_that_loads(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["settings", "--format", "json"])
    assert r.exit_code == 0, r.output
    path = tmp_path / "thresholds.json"
    path.write_text(r.output)
    assert load_config(str(path)) == DetectorConfig()
    assert set(json.loads(r.output)) == set(SETTING_DOCS) - {"extra"}


def test_help_text_says_no_internal_words() -> None:
    text = dump()
    for word in INTERNAL_WORDS:
        assert word not in text, word
    assert "tremorscope settings" in text


def test_the_readme_example_thresholds_load(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("```json\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "thresholds.json"
    path.write_text(block)
    cfg = load_config(str(path))
    assert cfg is not None and cfg.min_rms_g == 0.008 and cfg.severity_cm == (0.4, 1.2, 4.0)
