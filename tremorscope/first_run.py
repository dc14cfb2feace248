"""Say so when the signal-processing core is about to be compiled (the first run only).

The DSP core's loops are compiled with numba when ``dsp`` is first imported and cached on disk
beside the code; that first import takes tens of seconds with no output, which looks like a hang.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path


def core_cache_missing() -> bool:
    """True when the DSP core has no compiled cache beside its code yet (so importing it will
    compile it). Only the cache beside the code is looked at: elsewhere, nothing is said."""
    spec = importlib.util.find_spec("dsp")
    if spec is None or not spec.origin:
        return False
    pkg = Path(spec.origin).parent
    cache = pkg / "__pycache__"
    if any(cache.glob("band_kernel.band_bins-*.nbi")):
        return False
    return os.access(cache if cache.exists() else pkg, os.W_OK)


def announce_core_compilation() -> None:
    """One line on a terminal's stderr before the first, slow import of the core."""
    if sys.stderr is not None and sys.stderr.isatty() and "dsp" not in sys.modules and core_cache_missing():
        print(
            "tremorscope: preparing the signal-processing core (first run only, about 20 s)...",
            file=sys.stderr,
            flush=True,
        )
