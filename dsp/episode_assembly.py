"""Episode assembly: final ids in detection order, tremor within a contraction, the minutes' intervals."""

from __future__ import annotations

import math
from dataclasses import replace

from dsp.events import ENDED, SEVERITY_CLASSES, STARTED, Event

WITHIN_POSTURE = "within_posture"  # tremor context: during a contraction episode (dystonic tremor)
#: Share of a tremor episode (as known at the event) that must lie inside a contraction episode
#: for it to count as tremor within that posture: most of it, not a brush at an edge.
WITHIN_POSTURE_MIN_SHARE = 0.5
#: Contractions that ended this long (s) before the latest event, and before the open tremor
#: episode or run began, can no longer hold most of a tremor episode and are forgotten: a tremor
#: episode's onset is never dated back that far before the event that reports it.
LINK_LOOKBACK_S = 600.0


class EpisodeAssembly:
    """The part of :class:`~dsp.detector.StreamingDetector` that assembles the trackers' events.

    A mixin: it uses the detector's ``state``, ``_tracker``, ``_contraction`` and ``_minutes``.
    """

    def _next_id(self) -> int:
        """A provisional id; ``_number_episodes`` gives final ids in order of detection."""
        i = self.state.next_provisional_id
        self.state.next_provisional_id -= 1
        return i

    def _number_episodes(self, events: list[Event]) -> None:
        """Final episode ids in order of detection time (then kind), whatever the chunking:
        within a block the two trackers run one after the other."""
        started = [e for e in events if e.type == STARTED and e.episode.episode_id < 0]
        if not started:
            return
        started.sort(key=lambda e: (e.at_s, e.episode.kind))
        st = self.state
        final = {}
        for e in started:
            final[e.episode.episode_id] = st.next_episode_id
            st.next_episode_id += 1
        for i, e in enumerate(events):
            if e.episode is not None and e.episode.episode_id in final:
                events[i] = replace(e, episode=replace(e.episode, episode_id=final[e.episode.episode_id]))
        for fin in (self._tracker.finished, self._contraction.finished):
            for i in range(len(fin) - 1, -1, -1):
                if fin[i].episode_id >= 0:
                    break
                fin[i] = replace(fin[i], episode_id=final[fin[i].episode_id])
        for acc in (st.tracker.episode, st.contraction.episode):
            if acc is not None and acc.episode_id in final:
                acc.episode_id = final[acc.episode_id]

    def _link_within_posture(self, events: list[Event]) -> None:
        """Tremor during a contraction episode is dystonic tremor: context ``within_posture`` and
        the contraction's id. Only what was known at each event's time is used (the contraction's
        detection and, if it had ended by then, its end), so the result does not depend on chunking."""
        st = self.state
        for e in events:  # contractions first: they are processed before the tremor of the same bins
            ep = e.episode
            if ep is None or ep.kind != "contraction":
                continue
            if e.type == STARTED:
                st.contractions.append([ep.episode_id, ep.start_s, e.at_s, math.inf, math.inf])
            elif e.type == ENDED:
                for c in reversed(st.contractions):
                    if c[0] == ep.episode_id:
                        c[3], c[4] = e.at_s, ep.end_s
                        break
        if not st.contractions:
            return
        linked = {}
        for i, e in enumerate(events):
            ep = e.episode
            if ep is None or ep.kind != "tremor":
                continue
            best, best_ov = None, 0.0
            for cid, c0, det_at, ended_at, c1 in st.contractions:
                if det_at > e.at_s:
                    continue
                end = c1 if ended_at <= e.at_s else math.inf
                ov = min(ep.end_s, end) - max(ep.start_s, c0)
                if ov > best_ov:
                    best, best_ov = cid, ov
            if best is not None and best_ov >= WITHIN_POSTURE_MIN_SHARE * max(ep.duration_s, 1e-9):
                new = replace(ep, context=WITHIN_POSTURE, contraction_id=int(best))
                events[i] = replace(e, episode=new)
                if e.type == ENDED:
                    linked[ep.episode_id] = new
        if linked:
            fin = self._tracker.finished
            for j in range(len(fin) - 1, max(-1, len(fin) - 1 - 4 * len(linked)), -1):
                if fin[j].episode_id in linked:
                    fin[j] = linked[fin[j].episode_id]
        self._forget_contractions(events)

    def _forget_contractions(self, events: list[Event]) -> None:
        """Bound the contractions remembered for linking by time, not by count: a count trimmed
        before linking dropped, in one long push, contractions that a shorter push still had."""
        if not events:
            return
        st = self.state
        horizon = max(e.at_s for e in events) - LINK_LOOKBACK_S
        for acc in (st.tracker.episode, st.tracker.run):
            if acc is not None:
                horizon = min(horizon, acc.first_start_s)
        st.contractions[:] = [c for c in st.contractions if c[4] >= horizon]

    def _note_ended(self, e: Event) -> None:
        ep = e.episode
        if ep.kind == "contraction":
            self._minutes.add_interval(ep.start_s, ep.end_s, 0, contraction=True)
        else:
            self._minutes.add_interval(ep.start_s, ep.end_s, SEVERITY_CLASSES.index(ep.severity))

    def _open_intervals(self) -> list:
        out = []
        cur = self._tracker.current(self.state.tracker) if self._tracker else None
        if cur is not None:
            ep = self.state.tracker.episode
            out.append((cur.start_s, ep.last_center_s, SEVERITY_CLASSES.index(cur.severity), False))
        con = self.state.contraction.episode
        if con is not None:
            out.append((con.start_s, con.last_above_s, 0, True))
        return out

    def _end_open(self, at_s: float, last_data_s: float) -> list[Event]:
        evs = self._tracker.end_open(self.state.tracker, at_s, last_data_s)
        evs += self._contraction.end_open(self.state.contraction, at_s, last_data_s)
        self._link_within_posture(evs)
        for e in evs:
            self._note_ended(e)
        return evs
