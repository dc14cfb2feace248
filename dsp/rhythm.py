"""Sustained rhythm: a narrow-band oscillation that keeps one frequency for seconds is tremor.

Size alone cannot tell a severe tremor (centimetres, carried by the elbow or shoulder) from a
voluntary rhythmic movement: both move the hand that far, with the same mechanics. Time can.
Voluntary strokes (toothbrushing, stirring, scratching, clapping) come in bouts between pauses
and repositionings, with a frequency that drifts from bout to bout and strong harmonics; a
tremor is involuntary and goes on at a stable frequency with a narrow spectral peak. A window
is *sustained* once the windows before it, back for :data:`SUSTAINED_RHYTHM_S`, were all
narrow-band oscillations of a still limb (``WindowResult.narrow``) within
:data:`SUSTAINED_FREQ_TOL_HZ` of the run's running frequency. A sustained window counts as
tremor whatever its size, and needs no longer hold to start an episode.

The run is carried from window to window in the tracker's state (same result however the
stream is split into pushes).
"""

from __future__ import annotations

import numpy as np
from numba import njit, types

#: Continuous narrow-band rhythm needed (s of window ends; each window spans 2 s more): longer
#: than most voluntary strokes go on without a pause or a change of rhythm.
SUSTAINED_RHYTHM_S = 3.0
#: A window's frequency may differ this much from the run's running mean: tremor frequency
#: wanders by about 0.1 Hz over seconds, a 2 s window's estimate by less than 0.1 Hz.
SUSTAINED_FREQ_TOL_HZ = 0.3
#: Windows the running mean remembers (2 s at 0.25 s bins): it follows a slow drift.
RUNNING_MEAN_WINDOWS = 8


@njit(
    (types.boolean[::1], types.float64[::1], types.int64, types.float64, types.int64, types.float64),
    cache=True,
    nogil=True,
)  # compiled on import
def _sustained(narrow, freq_hz, need, tol_hz, run_n, ref_hz):
    """Per window: the length of its run of narrow windows at one frequency (0: not narrow), and
    the run's state after the last window (its length, its frequency)."""
    m = narrow.size
    out = np.zeros(m, np.int64)
    for i in range(m):
        f = freq_hz[i]
        if not narrow[i]:
            run_n = 0
            continue
        if run_n > 0 and abs(f - ref_hz) <= tol_hz:
            run_n += 1
            ref_hz += (f - ref_hz) / min(run_n, RUNNING_MEAN_WINDOWS)
        else:
            run_n = 1
            ref_hz = f
        out[i] = run_n
    return out, run_n, ref_hz


def sustained(state, narrow: np.ndarray, freq_hz: np.ndarray, bin_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Flags of the windows (in order) that continue a sustained rhythm, and how long before
    each window's end its run began (s); ``state`` (a ``TrackerState``) carries the run across
    calls."""
    need = max(1, int(round(SUSTAINED_RHYTHM_S / bin_s)))
    run, state.rhythm_n, state.rhythm_hz = _sustained(
        np.ascontiguousarray(narrow, dtype=np.bool_),
        np.ascontiguousarray(freq_hz, dtype=np.float64),
        need,
        SUSTAINED_FREQ_TOL_HZ,
        int(state.rhythm_n),
        float(state.rhythm_hz),
    )
    return run >= need, (run - 1) * bin_s
