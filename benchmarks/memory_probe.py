"""Peak-memory measurement around one call: RSS high-water mark and tracemalloc peak.

"Memory above the input" is measured after the input arrays exist, so the input itself is
in the baseline and not in the figure:

* **RSS**: on Linux, writing ``5`` to ``/proc/self/clear_refs`` resets the kernel's peak-RSS
  counter (``VmHWM``), so the peak during the call is exact even if loading the input peaked
  higher. The extra memory is ``VmHWM`` after the call minus ``VmRSS`` before it. Where the
  reset is not available (other systems), the figure is ``ru_maxrss`` minus the baseline and
  can under-report; the result says so (``exact=False``).
* **tracemalloc**: started after the input exists, so it counts every Python and NumPy heap
  allocation made by the call (NumPy reports its buffers to tracemalloc), and not shared
  library pages. It slows Python-heavy code, so it is a separate run from the timed one.
"""

from __future__ import annotations

import gc
import resource
import sys
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kb(key: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def current_rss_bytes() -> int:
    """Resident set size now (0 when the platform does not say)."""
    kb = _status_kb("VmRSS")
    return kb * 1024 if kb is not None else 0


def _ru_maxrss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter to the current RSS; False where unsupported."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return _status_kb("VmHWM") is not None


def peak_rss_bytes() -> int:
    """Peak RSS since the last reset (or since the process started, where reset is missing)."""
    kb = _status_kb("VmHWM")
    return kb * 1024 if kb is not None else _ru_maxrss_bytes()


@dataclass
class RssWindow:
    """RSS before a call and its high-water mark during it, in bytes."""

    baseline_bytes: int = 0
    peak_bytes: int = 0
    exact: bool = False

    @property
    def extra_bytes(self) -> int:
        return max(0, self.peak_bytes - self.baseline_bytes)

    def __enter__(self) -> RssWindow:
        gc.collect()
        self.exact = reset_peak_rss()
        self.baseline_bytes = current_rss_bytes()
        return self

    def __exit__(self, *exc) -> bool:
        self.peak_bytes = peak_rss_bytes()
        return False


@dataclass
class TracedWindow:
    """Peak bytes allocated through tracemalloc (Python objects and NumPy buffers) in a call."""

    peak_bytes: int = 0
    end_bytes: int = 0

    def __enter__(self) -> TracedWindow:
        gc.collect()
        tracemalloc.start()
        return self

    def __exit__(self, *exc) -> bool:
        self.end_bytes, self.peak_bytes = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return False
