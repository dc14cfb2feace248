"""``tremorscope settings``: every detector setting with its unit, default and meaning.

What ``reanalyze --config``, ``replay --config`` and ``live --config`` accept, so nobody has to
read ``dsp/config.py`` to tune the detector. ``--format json`` prints every default as a
``thresholds.json`` to copy and edit (any subset of keys works).
"""

from __future__ import annotations

import json
from typing import Any

import click

from dsp.config import SETTING_DOCS, DetectorConfig
from tremorscope.tables import render_table


def _default_text(value: Any) -> str:
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], dict):
        return ", ".join(str(b.get("name")) for b in value)  # bands
    if isinstance(value, (list, tuple)):
        return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value) if isinstance(value, dict) else str(value)


@click.command("settings")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="json: every default, as a thresholds.json to edit for --config.",
)
def settings(fmt: str) -> None:
    """List every detector setting: unit, default and meaning.

    Pass any of them in a JSON file to --config (reanalyze, replay, live), e.g.
    {"min_rms_g": 0.008, "contraction_threshold_deg": 20}.
    """
    defaults = DetectorConfig().to_dict()
    if fmt == "json":
        defaults.pop("extra", None)
        click.echo(json.dumps(defaults, indent=2))
        return
    rows = [
        [name, SETTING_DOCS.get(name, ("", ""))[0], _default_text(value), SETTING_DOCS.get(name, ("", ""))[1]]
        for name, value in defaults.items()
        if name != "extra"
    ]
    click.echo(render_table(["setting", "unit", "default", "meaning"], rows))


COMMANDS = [settings]
