"""The per-sample work of the bin features, compiled: band-pass, power, cycle periods and
slow components.

Every sample of every channel goes through the band-pass and the bin statistics, so this is
the hottest loop of the detector. It is one pass over the samples, three channels at a time,
with the state of the band-pass (two second-order sections) held in registers. Compiled with
numba, cached on disk, and run without the GIL so the detector's worker thread can overlap it
with the decisions.

State is passed in and updated in place, exactly like ``scipy.signal.sosfilt``'s ``zi``; the
sums run in sample order inside a bin, and a bin never straddles two calls, so the results do
not depend on how the samples were chunked.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types

# Compiled (or loaded from the on-disk cache) when the module is imported, not on the first
# call: a detector's first push then costs what every other push costs.
BLOCK_BINS = 256  # bins filtered before their crossings are turned into cycles (bounds memory)
_F32_2D = types.float32[:, ::1]
_F64_1D = types.float64[::1]
_SIGNATURE = (
    types.float32[:, :],  # x (a view of the pending samples: any strides)
    types.float64[:, ::1],  # sos
    types.float64[:, :, ::1],  # zi
    _F64_1D,  # prev_y
    _F64_1D,  # last_cross
    _F64_1D,  # last_freq
    types.boolean[::1],  # filled
    types.int64,  # last_filled_k
    types.int64,  # k0
    types.int64,  # bin_n
    types.float64,  # fs
    _F32_2D,  # y_out
    types.int64,  # sub_len
)


@njit(_SIGNATURE, cache=True, nogil=True, error_model="numpy")
def band_bins(
    x,  # (ch, n) float32 grid samples, whole bins; ch a multiple of 3
    sos,  # (2, 6) float64 band-pass: two second-order sections
    zi,  # (2, ch, 2) float64 filter state (updated)
    prev_y,  # (ch,) float64 last filtered sample, NaN after a reset (updated)
    last_cross,  # (ch,) float64 grid position of the last upward crossing, NaN unknown (updated)
    last_freq,  # (ch,) float64 frequency of the last complete cycle (updated)
    filled,  # (n,) bool: sample interpolated across lost samples
    last_filled_k,  # grid index of the latest filled sample before this call
    k0,  # grid index of x[:, 0]
    bin_n,
    fs,
    y_out,  # (k, n) float32 to receive the filtered signal of the last k channels (k a multiple
    # of 3; the gyroscope's alone when k = 3 of 6), or (0, 0) when not wanted
    sub_len,  # samples per sub-bin (a divisor of bin_n)
):
    """Band-pass ``x`` and reduce it to per-bin numbers; returns
    ``(ms, m4, n_cycles, sum_period, sum_period_sq, cyc_bin, cyc_df, cyc_count, last_filled_k,
    sub_means)``; ``sub_means`` (ch x sub-bins) are the plain means of the raw samples over
    consecutive sub-bins (for the slow components).

    A cycle runs between upward zero crossings (interpolated positions, grid samples); a
    cycle that spans a filled sample is not counted. ``cyc_bin``/``cyc_df`` hold, per channel
    (row), the bin and the frequency change of each cycle against the previous one; the first
    ``cyc_count[c]`` entries of row ``c`` are valid.
    """
    ch, n = x.shape
    nb = n // bin_n
    want_y = y_out.shape[0] > 0
    ykeep = ch - y_out.shape[0]  # first channel kept
    ms = np.zeros((nb, ch))
    m4 = np.zeros((nb, ch))
    n_cyc = np.zeros((nb, ch))
    s_p = np.zeros((nb, ch))
    s_p2 = np.zeros((nb, ch))
    per_bin = bin_n // sub_len
    subs = np.empty((ch, nb * per_bin))
    inv_sub = 1.0 / sub_len
    inv_n = 1.0 / bin_n
    # the two sections' coefficients (a0 = 1), in scipy's transposed direct form II
    b00, b01, b02, a01, a02 = sos[0, 0], sos[0, 1], sos[0, 2], sos[0, 4], sos[0, 5]
    b10, b11, b12, a11, a12 = sos[1, 0], sos[1, 1], sos[1, 2], sos[1, 4], sos[1, 5]
    # Upward zero crossings of a block of bins, noted without a branch (slot j is overwritten
    # until one is found), then turned into cycles before the next block.
    cap = BLOCK_BINS * bin_n // 2 + 2  # at most one per two samples
    at = np.empty((ch, cap), np.int64)  # index of the first sample >= 0
    ya = np.empty((ch, cap))  # the samples either side
    yb = np.empty((ch, cap))
    found = np.zeros(ch, np.int64)
    latest_k = np.empty(BLOCK_BINS * bin_n, np.int64)  # latest filled grid index so far
    latest = last_filled_k
    out_cap = max(16, n // 16)
    cyc_bin = np.empty((ch, out_cap), np.int64)
    cyc_df = np.empty((ch, out_cap))
    cyc_count = np.zeros(ch, np.int64)
    for blk0 in range(0, nb, BLOCK_BINS):
        blk1 = min(nb, blk0 + BLOCK_BINS)
        i0 = blk0 * bin_n
        # Three channels at a time, their states in registers: three independent recursions
        # hide each other's latency. The three channel bodies below are written out on purpose:
        # the same step as an inlined helper returning its state as a tuple ran 35 % slower.
        for c in range(0, ch, 3):
            d, e = c + 1, c + 2
            p00, p01, p10, p11 = zi[0, c, 0], zi[0, c, 1], zi[1, c, 0], zi[1, c, 1]
            q00, q01, q10, q11 = zi[0, d, 0], zi[0, d, 1], zi[1, d, 0], zi[1, d, 1]
            r00, r01, r10, r11 = zi[0, e, 0], zi[0, e, 1], zi[1, e, 0], zi[1, e, 1]
            py, qy, ry = prev_y[c], prev_y[d], prev_y[e]
            pj = qj = rj = 0
            i = i0
            k = blk0 * per_bin  # sub-bin
            for b in range(blk0, blk1):
                p2 = p4 = q2 = q4 = r2 = r4 = 0.0
                for _ in range(per_bin):
                    ps = qs = rs = 0.0
                    for _ in range(sub_len):
                        v = np.float64(x[c, i])
                        ps += v
                        u = b00 * v + p00
                        p00 = b01 * v - a01 * u + p01
                        p01 = b02 * v - a02 * u
                        y1 = b10 * u + p10
                        p10 = b11 * u - a11 * y1 + p11
                        p11 = b12 * u - a12 * y1
                        w = y1 * y1
                        p2 += w
                        p4 += w * w
                        at[c, pj], ya[c, pj], yb[c, pj] = i, py, y1
                        pj += (py < 0.0) & (y1 >= 0.0)  # NaN (no previous sample): no crossing
                        py = y1

                        v = np.float64(x[d, i])
                        qs += v
                        u = b00 * v + q00
                        q00 = b01 * v - a01 * u + q01
                        q01 = b02 * v - a02 * u
                        y2 = b10 * u + q10
                        q10 = b11 * u - a11 * y2 + q11
                        q11 = b12 * u - a12 * y2
                        w = y2 * y2
                        q2 += w
                        q4 += w * w
                        at[d, qj], ya[d, qj], yb[d, qj] = i, qy, y2
                        qj += (qy < 0.0) & (y2 >= 0.0)
                        qy = y2

                        v = np.float64(x[e, i])
                        rs += v
                        u = b00 * v + r00
                        r00 = b01 * v - a01 * u + r01
                        r01 = b02 * v - a02 * u
                        y3 = b10 * u + r10
                        r10 = b11 * u - a11 * y3 + r11
                        r11 = b12 * u - a12 * y3
                        w = y3 * y3
                        r2 += w
                        r4 += w * w
                        at[e, rj], ya[e, rj], yb[e, rj] = i, ry, y3
                        rj += (ry < 0.0) & (y3 >= 0.0)
                        ry = y3
                        if want_y and c >= ykeep:
                            y_out[c - ykeep, i] = y1
                            y_out[d - ykeep, i] = y2
                            y_out[e - ykeep, i] = y3
                        i += 1
                    subs[c, k], subs[d, k], subs[e, k] = ps * inv_sub, qs * inv_sub, rs * inv_sub
                    k += 1
                ms[b, c], ms[b, d], ms[b, e] = p2 * inv_n, q2 * inv_n, r2 * inv_n
                m4[b, c], m4[b, d], m4[b, e] = p4 * inv_n, q4 * inv_n, r4 * inv_n
            zi[0, c, 0], zi[0, c, 1], zi[1, c, 0], zi[1, c, 1] = p00, p01, p10, p11
            zi[0, d, 0], zi[0, d, 1], zi[1, d, 0], zi[1, d, 1] = q00, q01, q10, q11
            zi[0, e, 0], zi[0, e, 1], zi[1, e, 0], zi[1, e, 1] = r00, r01, r10, r11
            prev_y[c], prev_y[d], prev_y[e] = py, qy, ry
            found[c], found[d], found[e] = pj, qj, rj

        # Cycles between consecutive crossings.
        for i in range(i0, blk1 * bin_n):
            if filled[i]:
                latest = k0 + i
            latest_k[i - i0] = latest
        for c in range(ch):
            if cyc_count[c] + found[c] > out_cap:  # grow the output (rarely)
                out_cap = 2 * (cyc_count[c] + found[c])
                nb_ = np.empty((ch, out_cap), np.int64)
                nd_ = np.empty((ch, out_cap))
                nb_[:, : cyc_bin.shape[1]] = cyc_bin
                nd_[:, : cyc_df.shape[1]] = cyc_df
                cyc_bin, cyc_df = nb_, nd_
            lc = last_cross[c]
            lf = last_freq[c]
            j = cyc_count[c]
            for m in range(found[c]):
                i = at[c, m]
                y0, y1 = ya[c, m], yb[c, m]
                b = i // bin_n
                pos = (k0 - 1) + i + y0 / (y0 - y1)
                period = pos - lc  # NaN after a reset
                if latest_k[i - i0] >= np.floor(lc):  # the cycle spans a hole
                    period = np.nan
                lc = pos
                if period == period:
                    n_cyc[b, c] += 1.0
                    s_p[b, c] += period
                    s_p2[b, c] += period * period
                freq = fs / period
                df = freq - lf
                lf = freq
                if df == df:
                    cyc_bin[c, j] = b
                    cyc_df[c, j] = df
                    j += 1
            last_cross[c] = lc
            last_freq[c] = lf
            cyc_count[c] = j
    return ms, m4, n_cyc, s_p, s_p2, cyc_bin, cyc_df, cyc_count, latest, subs


@njit(
    (types.float64[:, ::1], types.int64, types.float64[::1], types.float64[:, ::1]),
    cache=True,
    nogil=True,
)  # compiled (or loaded from the cache) on import
def slow_bins(subs, per_bin, lf_w, tail):
    """Slow components from sub-bin means (channels x sub-bins, ``per_bin`` per bin): per bin,
    the plain mean and the ``lf_w``-weighted mean of the last ``lf_w.size`` sub-bin means
    ending with the bin. ``tail`` (channels x taps - 1) holds the sub-bin means before these
    (NaN where unknown) and is updated. Returns ``(lf, mean)``, each bins x channels."""
    ch, ns = subs.shape
    nb = ns // per_bin
    taps = lf_w.size
    keep = taps - 1
    lf = np.empty((nb, ch))
    mean = np.empty((nb, ch))
    allv = np.empty(keep + ns)
    for c in range(ch):
        allv[:keep] = tail[c]
        allv[keep:] = subs[c]
        for b in range(nb):
            end = keep + (b + 1) * per_bin  # one past the bin's last sub-bin
            acc = 0.0
            for t in range(taps):
                acc += allv[end - taps + t] * lf_w[t]
            lf[b, c] = acc
            m = 0.0
            for t in range(end - per_bin, end):
                m += allv[t]
            mean[b, c] = m / per_bin
        tail[c] = allv[allv.size - keep :]
    return lf, mean
