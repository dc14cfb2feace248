"""Stage B's decisions: window decisions, tremor and contraction episodes per run of bins, live status."""

from __future__ import annotations

import numpy as np

from dsp.detector_state import Windows
from dsp.events import ENDED, MINUTE, Event
from dsp.features import Bins
from dsp.minutes import NONE, TREMOR0, UNKNOWN
from dsp.pull_rate import gyro_pull_dps, tilt_pull_dps
from dsp.rhythm import sustained
from dsp.tremor_episodes import WindowBatch, displacement_cm, severity_index
from dsp.window_edges import _edges_in_window
from dsp.windows import CONTEXT_NAMES, WindowInputs, decide


class DecisionStage:
    """The part of :class:`~dsp.detector.StreamingDetector` that turns bins into decisions and events.

    A mixin: it uses the detector's settings (``config``, ``band``, ``bin_n``, ``window_bins``, ...),
    ``state``, trackers, ``_minutes`` and the :class:`~dsp.episode_assembly.EpisodeAssembly` steps.
    """

    def _windows(self, bin0: int, bins: Bins) -> Windows:
        """The decision for every window ending in these bins, and what the episode tracker
        needs of them."""
        st = self.state
        cfg = self.config
        w = self.window_bins
        bb = bins.band
        nnew = bins.lf.shape[0]
        idx = np.arange(bin0, bin0 + nnew)
        cur = dict(
            valid=idx >= st.valid_from_bin,
            ms=bb.ms,
            m4=bb.m4,
            n_cycles=bb.n_cycles,
            sum_period=bb.sum_period,
            sum_period_sq=bb.sum_period_sq,
            lf=bins.lf,
        )
        # the spectrum needs the samples themselves: the gyroscope's where there is one
        cur["y"] = bb.y.reshape(bb.y.shape[0], nnew, self.bin_n).transpose(1, 0, 2)
        hist = st.history
        nh = 0 if hist is None else hist["valid"].shape[0]
        if hist is None:
            joined = cur
        else:
            joined = {k: np.concatenate((hist[k], v)) for k, v in cur.items()}
        total = nh + nnew
        keep = min(w - 1, total)
        st.history = {k: v[total - keep :] for k, v in joined.items()}
        if total < w:
            return Windows(cur["valid"], None, None, None, None)
        spec = self.band
        r = decide(WindowInputs(**joined), w, self.sample_rate_hz, spec.low_hz, spec.high_hz, cfg, self._limb)
        # a narrow-band rhythm that goes on at one frequency is tremor whatever its size
        sus, rhythm_for_s = sustained(st.tracker, r.narrow, r.freq_hz, self.bin_dur_s)
        r.candidate = r.candidate | sus
        r.start_candidate = r.start_candidate | (sus & r.narrow_start)
        # windows end at joined rows w-1 .. total-1
        end_bins = np.arange(bin0 - nh + w - 1, bin0 + nnew)
        end_s = st.grid.origin_s + (end_bins + 1) * self.bin_dur_s
        # cycle-to-cycle frequency changes in each window's last bin, on its dominant axis
        win_of_bin = bb.cycle_bin + nh - (w - 1)
        okw = (win_of_bin >= 0) & (win_of_bin < end_bins.size)
        wi = win_of_bin[okw]
        sel = r.axis[wi] == bb.cycle_axis[okw]
        cycle_win, cycle_df = wi[sel], bb.cycle_df_hz[okw][sel]
        order = np.argsort(cycle_win, kind="stable")  # by window, for the tracker's slices
        onset_in, offset_in = _edges_in_window(joined, w, self.has_gyro, self.bin_dur_s)
        wb = WindowBatch(
            end_s=end_s,
            valid=r.valid,
            candidate=r.candidate,
            start_candidate=r.start_candidate,
            freq_hz=r.freq_hz,
            acc_ms=r.acc_ms,
            gyro_ms=r.gyro_ms,
            context=r.context,
            first_after_break=end_bins - (w - 1) == st.valid_from_bin,
            onset_in_s=onset_in,
            offset_in_s=offset_in,
            cycle_win=cycle_win[order],
            cycle_df_hz=cycle_df[order],
            voluntary_size=r.voluntary_size,
            sustained=sus,
            rhythm_for_s=rhythm_for_s,
        )
        # per-window labels for the minute summaries (given to the window's centre bin)
        with np.errstate(invalid="ignore", divide="ignore"):
            disp = displacement_cm(np.sqrt(r.acc_ms), r.freq_hz)
            sev = np.clip(severity_index(np.nan_to_num(disp), cfg.severity_cm), 1, 4)
        codes = np.where(
            ~r.valid,
            UNKNOWN,
            np.where(r.candidate, TREMOR0 + sev, np.where(r.moving, UNKNOWN, NONE)),
        ).astype(np.int8)
        return Windows(cur["valid"], r, end_bins, wb, codes)

    def _bins(self, bin0: int, bins: Bins, win: Windows, events: list[Event]) -> None:
        """Contraction and tremor episodes, minute summaries, the live status."""
        st = self.state
        w = self.window_bins
        first_event = len(events)
        self._contraction_bins(bin0, bins, win.valid, events)
        if win.result is None:
            block_events = events[first_event:]
            self._number_episodes(block_events)
            self._link_within_posture(block_events)
            events[first_event:] = block_events
            return
        r, end_bins, wb = win.result, win.end_bins, win.batch
        end_s = wb.end_s
        new_events = self._tracker.process(st.tracker, wb)
        events += new_events
        block_events = events[first_event:]
        self._number_episodes(block_events)
        self._link_within_posture(block_events)
        events[first_event:] = block_events
        for e in block_events:
            if e.type == ENDED and e.episode.kind == "tremor":
                self._note_ended(e)
        st.last_window_end_s = float(end_s[-1])
        self._minutes.record(end_bins - w // 2, win.codes)
        for m in self._minutes.emit(st.last_window_end_s, self._open_intervals()):
            events.append(Event(MINUTE, m.minute_start_s + 60.0 + self._minutes.delay_s, minute=m))
        st.status.update(
            {
                "t_s": float(end_s[-1]),
                "band_rms_g": float(np.sqrt(r.acc_ms[-1])),
                "band_rms_dps": float(np.sqrt(r.gyro_ms[-1])) if self.has_gyro else None,
                "dominant_hz": _finite(r.freq_hz[-1]),
                "period_cv": _finite(r.period_cv[-1]),
                "candidate": bool(r.candidate[-1]),
                "context": CONTEXT_NAMES[int(r.context[-1])],
                "gravity_g": [float(v) for v in r.gravity[-1]],
            }
        )

    def _contraction_bins(self, bin0: int, bins: Bins, valid: np.ndarray, events: list[Event]) -> None:
        """Posture angles and contraction episodes, bin by bin."""
        if not self._contractions_on:
            return
        st = self.state
        cfg = self.config
        lf_acc = bins.lf[:, 0:3]
        band_ms = bins.band.ms[:, 0:3].sum(axis=1).astype(np.float64)
        # not walking or shaking: a posture can be counted as held (the pull itself may be fast)
        still = band_ms < cfg.contraction_max_activity_g**2
        quiet = valid & still  # ...and not turning either: the neutral may learn from it
        gyro_mean = None
        if self.has_gyro:
            gyro_mean = bins.mean[:, 3:6]
            lf_rot = np.sqrt((bins.lf[:, 3:6].astype(np.float64) ** 2).sum(axis=1))
            quiet &= lf_rot < cfg.movement_dps
        pb = self._posture.process(st.posture, bin0, lf_acc, gyro_mean, quiet)
        dev = np.where(valid, pb.deviation_deg, np.nan)
        speed = pb.turn_dps
        idx = np.arange(bin0, bin0 + valid.size)
        end_s = st.grid.origin_s + (idx + 1) * self.bin_dur_s
        hold_dps = None
        if self.has_gyro:
            # the hold's slow rotation (under ~1 Hz, offset removed): a co-contraction's 3-7 Hz
            # oscillation does not make a held posture look like a moving one
            slow = bins.lf[:, 3:6].astype(np.float64) - pb.bias_dps
            hold_dps = np.sqrt((slow * slow).sum(axis=1))
            # the pull's speed from bin-long windows slid in sub-bin steps (dsp.pull_rate)
            fast = gyro_pull_dps(bins.slide, pb.bias_dps)
        else:
            # the tilt rate from the mean acceleration direction of the same sliding windows
            # (the slow posture signal smears a 0.3 s pull over a second)
            fast, st.prev_dir = tilt_pull_dps(bins.slide, st.prev_dir, self.bin_dur_s)
        fast = np.where(valid, fast, np.nan)
        evs = self._contraction.process(
            st.contraction,
            end_s,
            dev,
            pb.pitch_deg,
            pb.roll_deg,
            pb.yaw_deg,
            speed,
            still,
            band_ms,
            fast,
            hold_dps,
            pb.heading_deg,
        )
        for e in evs:
            if e.type == ENDED:
                self._note_ended(e)
        events += evs
        st.status.update(
            {
                "deviation_deg": _finite(dev[-1]),
                "pitch_deg": _finite(pb.pitch_deg[-1]),
                "roll_deg": _finite(pb.roll_deg[-1]),
                "yaw_deg": _finite(pb.yaw_deg[-1]),
            }
        )


def _finite(v) -> float | None:
    return float(v) if np.isfinite(v) else None
