"""Filter design for the band features: the band-pass and its steady start state (the
filtering itself is compiled, in ``dsp.band_kernel``)."""

from __future__ import annotations

import numpy as np
from scipy import signal


def bandpass_sos(low_hz: float, high_hz: float, sample_rate_hz: float, order: int = 2) -> np.ndarray:
    """Butterworth band-pass as second-order sections; the upper edge is kept below Nyquist."""
    nyq_hz = sample_rate_hz / 2.0
    high_hz = min(high_hz, 0.9 * nyq_hz)
    if not 0 < low_hz < high_hz:
        raise ValueError(f"cannot design a {low_hz}-{high_hz} Hz band at {sample_rate_hz} Hz")
    return signal.butter(order, [low_hz, high_hz], btype="bandpass", fs=sample_rate_hz, output="sos")


def steady_state(sos: np.ndarray, x0: np.ndarray) -> np.ndarray:
    """Filter state (sections, channels, 2) for signals that have been constant at ``x0``
    forever (no start-up transient)."""
    zi = signal.sosfilt_zi(np.asarray(sos, dtype=np.float64))  # (sections, 2)
    return zi[:, None, :] * np.asarray(x0, dtype=np.float64)[None, :, None]
