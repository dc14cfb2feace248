"""The demo: replay a bundled wrist recording through the real-time core into the episode log.

The recording ships in the source tree (``recordings/demo_wrist.csv.gz``) or inside the
package (``tremorscope/data/``). Where neither is present (an unusual install), it is
generated deterministically with the simulator, so ``tremorscope demo`` always works.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from tremorscope.paths import bundled_recording
from tremorscope.session import EventCallback, SessionResult, replay_session
from tremorscope.store import Store

DEMO_RECORDING = "demo_wrist.csv.gz"
#: How the demo recording is made when it is not bundled (same as the bundled one's recipe).
DEMO_SCENARIO = "daily_mix"
DEMO_SEED = 1
DEMO_DURATION_S = 300.0


def find_demo_recording() -> Path | None:
    """The bundled demo recording: source tree first, then package data; ``None`` if absent."""
    path = bundled_recording(DEMO_RECORDING)
    if path is not None:
        return path
    try:
        res = resources.files("tremorscope").joinpath("data", DEMO_RECORDING)
        if res.is_file():
            return Path(str(res))
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        pass
    return None


def generate_demo_recording(folder: Path) -> Path:
    """Write the demo recording into ``folder`` with the simulator (deterministic)."""
    from firmware_bridge.simulator import simulate_to_file

    rec_path, _events_path = simulate_to_file(
        folder / DEMO_RECORDING, DEMO_SCENARIO, duration_s=DEMO_DURATION_S, seed=DEMO_SEED
    )
    return Path(rec_path)


def run_demo(
    store: Store,
    *,
    on_event: EventCallback | None = None,
    on_progress: Callable[[float], None] | None = None,
    recording: Path | None = None,
) -> SessionResult:
    """Replay the demo recording at full speed into ``store`` (session mode ``demo``)."""
    path = recording or find_demo_recording()
    if path is not None:
        return replay_session(store, path, mode="demo", on_event=on_event, on_progress=on_progress)
    with tempfile.TemporaryDirectory(prefix="tremorscope-demo-") as tmp:
        path = generate_demo_recording(Path(tmp))
        label = (
            f"demo: simulated {DEMO_SCENARIO} (seed {DEMO_SEED}, {DEMO_DURATION_S:g} s, "
            "generated because the bundled recording is absent)"
        )
        return replay_session(
            store, path, mode="demo", source_label=label, on_event=on_event,
            on_progress=on_progress,
        )  # fmt: skip
