"""Scoring detected tremor episodes against a simulation's ground truth (per second, per episode).

A second is tremor in the truth when a true tremor episode covers more than half of it, and
detected when a detected tremor episode does. Seconds within 1 s of a data gap are left out,
and so are seconds of tremor too small for the sensors at hand (``min_amplitude_g``: without a
gyroscope, tremor under 10 mg zero-to-peak is below the accelerometer's floor).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Accelerometer-only: true tremor under this (zero-to-peak, g) is left out of the scores.
ACC_ONLY_MIN_AMPLITUDE_G = 0.010
#: Tremor whose cycle periods vary less than this is regular (irregular tremor wanders by more
#: than 0.5 Hz within seconds, so its first estimate need not match the episode's median).
REGULAR_MAX_CV = 0.1


@dataclass
class Score:
    """Counts from one or more recordings."""

    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0
    called: dict[str, list[int]] = field(default_factory=dict)  # activity -> [called tremor, seconds]
    episodes: int = 0
    found: int = 0
    freq_ok: int = 0  # found episodes whose dominant frequency is within 0.5 Hz of the truth
    start_ok: int = 0  # found episodes whose start-event frequency is within 0.5 Hz of the final
    found_regular: int = 0  # found episodes of regular tremor (cycle-period variation < 0.1)
    start_ok_regular: int = 0  # ...whose start-event frequency is within 0.5 Hz of the final
    latencies: list[float] = field(default_factory=list)

    def __iadd__(self, o: Score) -> Score:
        for k in (
            "tp",
            "fn",
            "fp",
            "tn",
            "episodes",
            "found",
            "freq_ok",
            "start_ok",
            "found_regular",
            "start_ok_regular",
        ):
            setattr(self, k, getattr(self, k) + getattr(o, k))
        for k, (a, b) in o.called.items():
            c = self.called.setdefault(k, [0, 0])
            c[0] += a
            c[1] += b
        self.latencies += o.latencies
        return self

    @staticmethod
    def _ratio(a: float, b: float) -> float:
        return a / b if b else float("nan")

    @property
    def precision(self) -> float:
        return self._ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return self._ratio(self.tp, self.tp + self.fn)

    @property
    def specificity(self) -> float:
        return self._ratio(self.tn, self.tn + self.fp)

    def called_fraction(self, activity: str) -> float:
        a, b = self.called.get(activity, (0, 0))
        return self._ratio(a, b)


def score(
    events: pd.DataFrame,
    duration_s: float,
    episodes: pd.DataFrame,
    start_hz: dict[int, float],
    min_amplitude_g: float = 0.0,
    activities: tuple[str, ...] = (),
) -> Score:
    """Score tremor ``episodes`` (the detector's table) against truth ``events``; ``start_hz``:
    episode id -> dominant frequency in its start event; ``activities``: trial types whose
    seconds called tremor are counted."""
    eps = episodes[episodes.kind == "tremor"]
    sec = np.arange(int(duration_s))

    def covers(a: float, b: float) -> np.ndarray:
        return (np.minimum(b, sec + 1) - np.maximum(a, sec)) > 0.5

    truth = np.zeros(sec.size, bool)
    skip = np.zeros(sec.size, bool)
    true_eps = []
    for r in events.itertuples():
        a, b = float(r.onset), float(r.onset) + float(r.duration)
        if r.trial_type == "tremor":
            if float(r.amplitude_g) >= min_amplitude_g:
                truth |= covers(a, b)
                true_eps.append(r)
            else:
                skip |= covers(a - 1, b + 1)
        elif r.trial_type == "gap":
            skip |= covers(a - 1, b + 1)
    det = np.zeros(sec.size, bool)
    for r in eps.itertuples():
        det |= covers(float(r.start_s), float(r.end_s))
    keep = ~skip
    s = Score(
        tp=int((truth & det & keep).sum()),
        fn=int((truth & ~det & keep).sum()),
        fp=int((~truth & det & keep).sum()),
        tn=int((~truth & ~det & keep).sum()),
    )
    for act in activities:
        m = np.zeros(sec.size, bool)
        for r in events[events.trial_type == act].itertuples():
            m |= covers(float(r.onset), float(r.onset) + float(r.duration))
        m &= keep & ~truth
        s.called[act] = [int((m & det).sum()), int(m.sum())]
    for r in true_eps:
        a, b = float(r.onset), float(r.onset) + float(r.duration)
        s.episodes += 1
        overlap = (np.minimum(eps.end_s, b) - np.maximum(eps.start_s, a)).clip(lower=0)
        if not len(eps) or overlap.max() <= 0:
            continue
        s.found += 1
        best = eps.loc[overlap.idxmax()]
        s.freq_ok += int(abs(float(best.dominant_hz) - float(r.frequency_hz)) <= 0.5)
        first = start_hz.get(int(best.episode_id))
        ok = int(first is not None and abs(first - float(best.dominant_hz)) <= 0.5)
        s.start_ok += ok
        if float(r.regularity) < REGULAR_MAX_CV:
            s.found_regular += 1
            s.start_ok_regular += ok
        s.latencies.append(float(eps.detected_at_s[overlap > 0].min()) - a)
    return s
