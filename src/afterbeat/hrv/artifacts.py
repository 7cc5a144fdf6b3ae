"""Artifact detection and correction for RR series (Lipponen & Tarvainen 2019), batch and causal.

Pure code: no I/O, no clock. Stored beats are never altered; corrected values are new values.

Both forms share one core (:func:`_judge`): an interval is classified from the normalised
successive differences around it (dRR / Th1), its normalised deviation from the local median
(mRR / Th2), the intervals around it and the local median. The thresholds are ``alpha`` times the
quartile deviation of |dRR| and |mRR| over 91 beats; the local median spans 11 beats. Where two
ectopic pairings are possible (short-long right after a normal interval), the one that leaves its
neighbours nearer the median wins; later intervals are judged against the corrected pair.

- Batch (:func:`detect_artifacts`, :func:`correct_rr`, :func:`correct_beats`): centred windows, as
  in the paper and Kubios.
- Streaming (:class:`ArtifactFilter`): a beat is judged once three later beats of its segment have
  arrived; the threshold windows end at the newest beat (trailing, causal), the median window
  spans the 7 beats before, the beat and the 3 after. A new segment restarts everything but the
  threshold windows (the spread of |dRR| and |mRR|, never a difference across the gap). The very
  first segment waits for 48 beats before its first judgement, and while the windows hold fewer
  than 91 values the quartile deviation is capped by 1.5 x the median's, so that a few artifacts
  early on do not inflate the thresholds.

Range check first: intervals outside 273-2000 ms are never kept as they are. Long ones that are a
whole multiple of the local median are split (missed beats), others are replaced (``invalid``).

Corrections: both intervals of an ectopic short-long or long-short pair take the pair's mean
(the misplaced beat moves to the middle, so beat times still add up); other ectopic, long, short
and invalid intervals are interpolated; a missed beat splits its interval in two; an extra beat
is merged with the following interval.
"""

from __future__ import annotations

import bisect
import enum
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray
from scipy.ndimage import rank_filter

from afterbeat.hrv.beats import Beat

__all__ = [
    "MAX_RR_MS",
    "MIN_RR_MS",
    "ArtifactFilter",
    "ArtifactFlags",
    "ArtifactKind",
    "CleanBeat",
    "CorrectedBeats",
    "correct_beats",
    "correct_rr",
    "detect_artifacts",
]

MIN_RR_MS = 273.0
"""Shortest plausible RR interval (ms), 220 bpm."""
MAX_RR_MS = 2000.0
"""Longest plausible RR interval (ms), 30 bpm."""

C1 = 0.13
C2 = 0.17
ALPHA = 5.2
QUARTILE_WINDOW_BEATS = 91
MEDIAN_WINDOW_BEATS = 11
LOOKAHEAD_BEATS = 3
MAX_SPLIT_PARTS = 3
"""An over-long interval is split into at most this many beats (two missed beats)."""
WARMUP_QD_CAP = 1.5
DETECT_CHUNK_BEATS = 2**16
"""Batch detection computes its windows this many beats at a time (bounded memory)."""
_DETECT_MARGIN_BEATS = 64
"""Margin (beats) around a chunk: more than the quartile and median windows and the five
normalised differences a judgement reads can reach."""
MIN_THRESHOLD_MS = 10.0
"""Floor (ms) under both thresholds, so that a near-constant stretch does not flag jitter."""

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


class ArtifactKind(enum.StrEnum):
    """What the detector made of one RR interval."""

    NORMAL = "normal"
    ECTOPIC = "ectopic"
    MISSED = "missed"
    EXTRA = "extra"
    LONG = "long"
    SHORT = "short"
    INVALID = "invalid"
    """Outside 273-2000 ms and not explained as a missed or extra beat."""


@dataclass(frozen=True, slots=True)
class ArtifactFlags:
    """Per-interval artifact flags of an RR series (each array has the input's length)."""

    ectopic: BoolArray
    missed: BoolArray
    extra: BoolArray
    long: BoolArray
    short: BoolArray
    invalid: BoolArray
    split_parts: NDArray[np.int64]
    """Number of intervals each input interval becomes (2+ for missed beats, 0 for extra ones
    merged into the next interval, 1 otherwise)."""
    pair_start: BoolArray
    """True at the first interval of an ectopic pair corrected to the pair's mean."""

    @property
    def any(self) -> BoolArray:
        """True where the interval is flagged as any kind of artifact."""
        return (self.ectopic | self.missed | self.extra | self.long | self.short
                | self.invalid)

    @property
    def n_flagged(self) -> int:
        """Number of flagged input intervals."""
        return int(np.count_nonzero(self.any))

    def kinds(self) -> list[ArtifactKind]:
        """The kind of every input interval."""
        out = [ArtifactKind.NORMAL] * len(self.ectopic)
        for kind, arr in ((ArtifactKind.ECTOPIC, self.ectopic), (ArtifactKind.MISSED, self.missed),
                          (ArtifactKind.EXTRA, self.extra), (ArtifactKind.LONG, self.long),
                          (ArtifactKind.SHORT, self.short), (ArtifactKind.INVALID, self.invalid)):
            for i in np.flatnonzero(arr):
                out[int(i)] = kind
        return out


@dataclass(frozen=True, slots=True)
class CleanBeat:
    """A beat after artifact handling: time (s), interval for metrics (ms) and what was done."""

    t_s: float
    rr_ms: float
    """Interval used for metrics (ms): the original one unless ``corrected``."""
    original_rr_ms: float
    """The interval as the strap reported it (ms); for a split or merge, the reported interval
    this beat came from (for a merge, the one ending at ``t_s``)."""
    segment: int
    corrected: bool
    kind: ArtifactKind


@dataclass(frozen=True, slots=True)
class CorrectedBeats:
    """Batch correction of a beat series: times (s), intervals (ms), segments, corrected mask."""

    t_s: FloatArray
    rr_ms: FloatArray
    segment: NDArray[np.int64]
    corrected: BoolArray


# --------------------------------------------------------------------------------------------
# The shared core


def _is_ectopic(d: float, d_before: float, d_after: float) -> bool:
    """Ectopic test (eq. 1-2) on normalised dRR and its two neighbours (subspace S12)."""
    if d > 1.0:
        return max(d_before, d_after) < -C1 * d - C2
    if d < -1.0:
        return min(d_before, d_after) > -C1 * d + C2
    return False


def _next_pairs_forward(d: Sequence[float], x: Sequence[float], median_ms: float) -> bool:
    """Interval j+1 passes the ectopic test but belongs with j+2, not with j.

    When j+1 and j+2 both pass (a short-long pair right after a normal beat looks like a
    long-short pair too), keep the pairing that leaves its two neighbours nearer the local
    median: for (j, j+1) those are j-1 and j+2, for (j+1, j+2) they are j and j+3.
    ``x`` holds the intervals j-1..j+3 (ms; NaN where unknown).
    """
    if not _is_ectopic(d[4], d[3], d[5]):
        return False
    back = abs(x[0] - median_ms) + abs(x[3] - median_ms)
    forward = abs(x[1] - median_ms) + abs(x[4] - median_ms)
    return forward < back  # False when any is NaN


def _ectopic_pair_first(d: Sequence[float], x: Sequence[float], median_ms: float) -> bool:
    """Interval j opens an ectopic pair: the next one passes the test and belongs with j."""
    return _is_ectopic(d[3], d[2], d[4]) and not _next_pairs_forward(d, x, median_ms)


def _judge(
    d: Sequence[float],
    m: float,
    x: Sequence[float],
    median_ms: float,
    th2_ms: float,
) -> ArtifactKind:
    """Classify interval j from normalised dRR at j-2..j+3 (``d``), normalised mRR at j (``m``),
    the intervals j-1..j+3 (``x``, ms, NaN where unknown), the local median (ms) and Th2 (ms).

    An interval is ectopic when it or the next one passes the ectopic test (so both intervals of
    a premature/late beat pair are flagged), unless the next one pairs with the one after it.
    Otherwise it is examined for long/short/missed/extra when its own |dRR| exceeds 1 or, as in
    the paper, when the previous interval triggered and this interval's |dRR| is below the next
    one's.
    """
    rr_ms, next_rr_ms = x[1], x[2]
    d0, d1, d2, d3, d4 = d[:5]
    if _is_ectopic(d2, d1, d3) or _ectopic_pair_first(d, x, median_ms):
        return ArtifactKind.ECTOPIC
    own = abs(d2) > 1.0
    from_previous = abs(d1) > 1.0 and not _is_ectopic(d1, d0, d2) and abs(d2) < abs(d3)
    if not (own or from_previous):
        return ArtifactKind.NORMAL
    s22 = min(d3, d4) if d2 >= 0.0 else max(d3, d4)
    long_beat = d2 > 1.0 and s22 < -1.0
    short_beat = d2 < -1.0 and s22 > 1.0
    far_from_median = abs(m) > 3.0
    if not (long_beat or short_beat or far_from_median):
        return ArtifactKind.NORMAL
    if short_beat and abs(rr_ms + next_rr_ms - median_ms) < th2_ms:
        return ArtifactKind.EXTRA
    if long_beat and abs(rr_ms / 2.0 - median_ms) < th2_ms:
        return ArtifactKind.MISSED
    return ArtifactKind.LONG if rr_ms > median_ms else ArtifactKind.SHORT


def _pair_mean_ok(rr_ms: float, next_rr_ms: float, median_ms: float, th2_ms: float) -> bool:
    """A pair whose mean (ms) is a plausible interval: a misplaced beat, compensated."""
    mean = (rr_ms + next_rr_ms) / 2.0
    return _range_ok(mean) and abs(mean - median_ms) < th2_ms


def _split_count(rr_ms: float, median_ms: float, th2_ms: float) -> int:
    """Whole number of median intervals in an over-long interval (0 if it is not one)."""
    if not (median_ms > 0.0 and math.isfinite(rr_ms)):
        return 0
    ratio = rr_ms / median_ms
    if not ratio < MAX_SPLIT_PARTS + 0.5:
        return 0
    k = round(ratio)
    if k < 2:
        return 0
    part = rr_ms / k
    if MIN_RR_MS <= part <= MAX_RR_MS and abs(part - median_ms) < max(th2_ms, 0.15 * median_ms):
        return int(k)
    return 0


def _range_ok(rr_ms: float) -> bool:
    return MIN_RR_MS <= rr_ms <= MAX_RR_MS


def _final_kind(
    kind: ArtifactKind, rr_ms: float, next_rr_ms: float, median_ms: float, th2_ms: float
) -> tuple[ArtifactKind, int]:
    """Apply the range check to a classified interval: (kind, number of output intervals)."""
    if kind is ArtifactKind.MISSED:
        if _range_ok(rr_ms / 2.0):
            return kind, 2
        k = _split_count(rr_ms, median_ms, th2_ms)
        return (kind, k) if k else (ArtifactKind.INVALID, 1)
    if kind is ArtifactKind.EXTRA:
        if _range_ok(rr_ms + next_rr_ms):
            return kind, 0
        return ArtifactKind.INVALID, 1
    if _range_ok(rr_ms):
        return kind, 1
    if rr_ms > MAX_RR_MS:
        k = _split_count(rr_ms, median_ms, th2_ms)
        if k:
            return ArtifactKind.MISSED, k
    return ArtifactKind.INVALID, 1


def _quartile_deviation(sorted_values: Sequence[float]) -> float:
    """(Q3 - Q1) / 2 of sorted values, linear interpolation between ranks (as numpy/pandas)."""
    n = len(sorted_values)
    if n == 0:
        return 0.0

    def q(p: float) -> float:
        pos = p * (n - 1)
        lo = int(pos)
        frac = pos - lo
        if lo + 1 < n:
            return sorted_values[lo] + (sorted_values[lo + 1] - sorted_values[lo]) * frac
        return sorted_values[lo]

    return (q(0.75) - q(0.25)) / 2.0


# --------------------------------------------------------------------------------------------
# Batch form


def _centred_quartile_deviation(x: FloatArray, width: int) -> FloatArray:
    """Quartile deviation over a centred window of ``width`` (clipped at the ends)."""
    n = x.size
    half = width // 2
    out = np.empty(n)
    if n >= width:
        # linear-interpolated quartiles of an odd window from two order statistics each
        # (rank filters run in O(n log width), far faster than sorting every window)
        ranks = []
        for p in (0.25, 0.75):
            pos = p * (width - 1)
            lo = int(pos)
            frac = pos - lo
            a = rank_filter(x, lo, size=width, mode="nearest")[half:n - half]
            b = rank_filter(x, lo + 1, size=width, mode="nearest")[half:n - half]
            ranks.append(a + (b - a) * frac)
        out[half:n - half] = (ranks[1] - ranks[0]) / 2.0
        edges = list(range(half)) + list(range(n - half, n))
    else:
        edges = list(range(n))
    for i in edges:
        seg = x[max(0, i - half):min(n, i + half + 1)]
        q1e, q3e = np.quantile(seg, [0.25, 0.75])
        out[i] = (q3e - q1e) / 2.0
    return out


def _centred_median(x: FloatArray, width: int) -> FloatArray:
    n = x.size
    half = width // 2
    out = np.empty(n)
    if n >= width:
        if width % 2:
            out[half:n - half] = rank_filter(x, half, size=width, mode="nearest")[half:n - half]
        else:
            out[half:n - half] = np.median(sliding_window_view(x, width), axis=1)
        edges = list(range(half)) + list(range(n - half, n))
    else:
        edges = list(range(n))
    for i in edges:
        out[i] = np.median(x[max(0, i - half):min(n, i + half + 1)])
    return out


def _as_rr(rr_ms: object) -> FloatArray:
    arr = np.asarray(rr_ms, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError("rr_ms must be one-dimensional")
    return arr


def detect_artifacts(
    rr_ms: FloatArray | Sequence[float], *, chunk_beats: int = DETECT_CHUNK_BEATS
) -> ArtifactFlags:
    """Flag ectopic, missed, extra, long, short and out-of-range intervals of an RR series (ms).

    Centred windows (offline). The series should be one segment; see :func:`correct_beats`.
    The windows are computed ``chunk_beats`` at a time with margins wider than they reach, and
    the judgement runs in order across chunks, so memory is bounded by the chunk and the
    flags do not depend on its size.
    """
    rr = _as_rr(rr_ms)
    n = rr.size
    flags: dict[ArtifactKind, BoolArray] = {
        kind: np.zeros(n, dtype=bool) for kind in ArtifactKind if kind is not ArtifactKind.NORMAL
    }
    parts = np.ones(n, dtype=np.int64)
    pairs = np.zeros(n, dtype=bool)
    if n == 0:
        return _flags(flags, parts, pairs)
    finite = np.isfinite(rr) & (rr > 0)
    fill = float(np.median(rr[finite])) if finite.any() else 1000.0
    x = np.where(finite, rr, fill)
    if n < 4:
        for i in range(n):
            kind, k = _final_kind(ArtifactKind.NORMAL, float(rr[i]), math.nan, fill, 0.0)
            if kind is not ArtifactKind.NORMAL:
                flags[kind][i] = True
                parts[i] = k
        return _flags(flags, parts, pairs)
    drr0 = float(np.diff(x).mean())
    pending: dict[int, float] = {}
    for lo in range(0, n, chunk_beats):
        hi = min(n, lo + chunk_beats)
        pending = _detect_chunk(rr, x, drr0, lo, hi, flags, parts, pairs, pending)
    return _flags(flags, parts, pairs)


def _detect_chunk(
    rr: FloatArray,
    x: FloatArray,
    drr0: float,
    lo: int,
    hi: int,
    flags: dict[ArtifactKind, BoolArray],
    parts: NDArray[np.int64],
    pairs: BoolArray,
    pending: dict[int, float],
) -> dict[int, float]:
    """Judge intervals [lo, hi) of one segment; ``pending`` holds the changes to normalised dRR
    (by index of the whole segment) that an ectopic pair before ``lo`` made; returns those that
    reach past ``hi``."""
    n = rr.size
    e0, e1 = max(0, lo - _DETECT_MARGIN_BEATS), min(n, hi + _DETECT_MARGIN_BEATS)
    xe = x[e0:e1]
    drr = np.empty(e1 - e0)
    drr[1:] = np.diff(xe)
    drr[0] = drr0 if e0 == 0 else float(x[e0] - x[e0 - 1])
    th1 = np.maximum(ALPHA * _centred_quartile_deviation(np.abs(drr), QUARTILE_WINDOW_BEATS),
                     MIN_THRESHOLD_MS)
    med = _centred_median(xe, MEDIAN_WINDOW_BEATS)
    mrr = xe - med
    mrr[mrr < 0] *= 2.0
    th2 = np.maximum(ALPHA * _centred_quartile_deviation(np.abs(mrr), QUARTILE_WINDOW_BEATS),
                     MIN_THRESHOLD_MS)
    # dn[i + 2 - e0] is the normalised dRR of interval i (zero outside the segment)
    dn = np.zeros(e1 - e0 + 5)
    dn[2:e1 - e0 + 2] = drr / th1
    del drr
    mn = mrr / th2
    big = np.abs(dn) > 1.0  # before the pending changes, as the judgement's pre-filter
    for index, value in pending.items():
        dn[index - e0] = value
    # interval j can only be flagged if |dRR| > 1 at j-1, j, j+1 or j+2, or if out of range
    c0, c1 = lo - e0, hi - e0
    near = big[c0 + 1:c1 + 1] | big[c0 + 2:c1 + 2] | big[c0 + 3:c1 + 3] | big[c0 + 4:c1 + 4]
    core = rr[lo:hi]
    near |= ~((core >= MIN_RR_MS) & (core <= MAX_RR_MS))
    changed = dict(pending)
    for flagged in np.flatnonzero(near):
        j = int(flagged) + lo
        le = j - e0
        if j > 0 and (parts[j - 1] == 0 or pairs[j - 1]):
            continue  # merged into the extra beat before it, or second of an ectopic pair
        nxt = float(rr[j + 1]) if j + 1 < n else math.nan
        window = [float(v) for v in dn[le:le + 6]]
        xs = [float(x[i]) if 0 <= i < n else math.nan for i in range(j - 1, j + 4)]
        kind = _judge(window, float(mn[le]), xs, float(med[le]), float(th2[le]))
        kind, k = _final_kind(kind, float(rr[j]), nxt, float(med[le]), float(th2[le]))
        if kind is ArtifactKind.NORMAL:
            continue
        flags[kind][j] = True
        parts[j] = k
        if (kind is ArtifactKind.ECTOPIC and j + 1 < n
                and _ectopic_pair_first(window, xs, float(med[le]))
                and _pair_mean_ok(float(rr[j]), float(rr[j + 1]), float(med[le]),
                                  float(th2[le]))):
            pairs[j] = True
            flags[kind][j + 1] = True
            # later intervals are judged against the corrected pair, not the misplaced beat
            mean = (x[j] + x[j + 1]) / 2.0
            if j > 0:
                dn[le + 2] = changed[j + 2] = (mean - x[j - 1]) / th1[le]
            dn[le + 3] = changed[j + 3] = 0.0
            if j + 2 < n:
                dn[le + 4] = changed[j + 4] = (x[j + 2] - mean) / th1[le + 2]
    return {index: value for index, value in changed.items() if index >= hi}


def _flags(
    flags: dict[ArtifactKind, BoolArray], parts: NDArray[np.int64], pairs: BoolArray
) -> ArtifactFlags:
    return ArtifactFlags(
        ectopic=flags[ArtifactKind.ECTOPIC], missed=flags[ArtifactKind.MISSED],
        extra=flags[ArtifactKind.EXTRA], long=flags[ArtifactKind.LONG],
        short=flags[ArtifactKind.SHORT], invalid=flags[ArtifactKind.INVALID], split_parts=parts,
        pair_start=pairs,
    )


def _apply(rr: FloatArray, flags: ArtifactFlags
           ) -> tuple[FloatArray, BoolArray, NDArray[np.int64] | None]:
    """Corrected series, its corrected mask and each output's source index (None when every
    input gives exactly one output, in order)."""
    n = rr.size
    parts = flags.split_parts
    values = rr.copy()
    corrected = flags.any
    extra_idx = np.flatnonzero(parts == 0)
    has_next = extra_idx + 1 < n
    values[extra_idx[has_next] + 1] = rr[extra_idx[has_next]] + rr[extra_idx[has_next] + 1]
    corrected[extra_idx[has_next] + 1] = True
    split = np.flatnonzero(parts > 1)
    values[split] = rr[split] / parts[split]
    interp = flags.ectopic | flags.long | flags.short | flags.invalid
    pf = np.flatnonzero(flags.pair_start)
    pf = pf[pf + 1 < n]
    values[pf] = values[pf + 1] = (rr[pf] + rr[pf + 1]) / 2.0
    interp[pf] = False
    interp[pf + 1] = False
    src: NDArray[np.int64] | None = None
    out, out_mask, out_interp = values, corrected, interp
    if split.size or extra_idx.size:
        src = np.repeat(np.arange(n), parts)
        out, out_mask, out_interp = values[src], corrected[src], interp[src]
        del values, corrected, interp
    if out_interp.any():
        bad = np.flatnonzero(out_interp)
        good = np.flatnonzero(~out_interp & np.isfinite(out))
        if good.size:
            # only the good neighbours on either side of each bad value take part, so that
            # np.interp sees the same pairs as with every good value, in a fraction of memory
            at = np.searchsorted(good, bad)
            near = np.unique(np.concatenate((good[np.maximum(at - 1, 0)],
                                             good[np.minimum(at, good.size - 1)])))
            del good
            out[bad] = np.interp(bad, near, out[near])
        else:
            out[bad] = np.nan
    return out, out_mask, src


def correct_rr(rr_ms: FloatArray | Sequence[float]) -> tuple[FloatArray, BoolArray]:
    """Corrected RR series (ms) and a mask of its corrected intervals (both of the output length).

    Missed beats add intervals and extra beats remove one, so the output length may differ.
    """
    rr = _as_rr(rr_ms)
    flags = detect_artifacts(rr)
    out, mask, _ = _apply(rr, flags)
    return out, mask


def correct_beats(
    t_s: FloatArray | Sequence[float],
    rr_ms: FloatArray | Sequence[float],
    segment: NDArray[np.int64] | Sequence[int] | None = None,
) -> CorrectedBeats:
    """Correct each segment of a beat series separately; times (s) of split beats are spread.

    The outputs are filled in place (no per-segment copies joined at the end) and beat times
    are computed a chunk at a time, so memory stays near that of the result.
    """
    t = np.asarray(t_s, dtype=np.float64)
    rr = _as_rr(rr_ms)
    seg = (np.zeros(rr.size, dtype=np.int64) if segment is None
           else np.asarray(segment, dtype=np.int64))
    if not (t.shape == rr.shape == seg.shape):
        raise ValueError("t_s, rr_ms and segment must have the same length")
    if not rr.size:
        return CorrectedBeats(np.empty(0), np.empty(0), np.empty(0, dtype=np.int64),
                              np.empty(0, dtype=bool))
    result = _Outputs(rr.size)
    bounds = np.flatnonzero(np.diff(seg) != 0) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, rr.size], strict=True):
        part = rr[lo:hi]
        flags = detect_artifacts(part)
        out, mask, src = _apply(part, flags)
        at = result.reserve(out.size, whole=bounds.size == 0)
        if bounds.size == 0:  # one segment: its arrays are the result's, no copy
            result.rr_ms, result.corrected = out, mask
        else:
            result.rr_ms[at:at + out.size] = out
            result.corrected[at:at + out.size] = mask
        result.segment[at:at + out.size] = seg[lo]
        del out, mask
        times = t[lo:hi]
        for c0 in range(0, result.used - at, _TIME_CHUNK):
            c1 = min(result.used - at, c0 + _TIME_CHUNK)
            positions = np.arange(c0, c1)
            if src is None:
                source = positions
                pos_in = np.zeros(c1 - c0)
            else:
                source = src[c0:c1]
                pos_in = (positions - np.searchsorted(src, source)).astype(np.float64)
            k = flags.split_parts[source].astype(np.float64)
            # a split interval's pieces end at equal steps before the original beat time
            result.t_s[at + c0:at + c1] = (times[source] - (k - 1.0 - pos_in) * part[source]
                                           / np.maximum(k, 1.0) / 1000.0)
    return result.done()


_TIME_CHUNK = 2**16


class _Outputs:
    """Growable output arrays of :func:`correct_beats` (one reallocation per rare overflow)."""

    def __init__(self, capacity: int) -> None:
        self.used = 0
        self.capacity = capacity
        self.t_s: FloatArray = np.empty(0)
        self.rr_ms: FloatArray = np.empty(0)
        self.segment: NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self.corrected: BoolArray = np.empty(0, dtype=bool)

    def reserve(self, count: int, *, whole: bool = False) -> int:
        """Make room for ``count`` more values; return where they start. ``whole``: the only
        segment, whose values and mask become the result's arrays as they are."""
        at = self.used
        if at == 0:
            size = max(count, self.capacity)
            self.t_s = np.empty(size)
            self.segment = np.empty(size, dtype=np.int64)
            if not whole:
                self.rr_ms = np.empty(size)
                self.corrected = np.empty(size, dtype=bool)
        elif at + count > self.t_s.size:
            size = max(at + count, self.t_s.size + self.t_s.size // 4)
            self.t_s = np.resize(self.t_s, size)
            self.rr_ms = np.resize(self.rr_ms, size)
            self.segment = np.resize(self.segment, size)
            self.corrected = np.resize(self.corrected, size)
        self.used = at + count
        return at

    def done(self) -> CorrectedBeats:
        """The filled part of the arrays."""
        n = self.used
        return CorrectedBeats(self.t_s[:n], self.rr_ms[:n], self.segment[:n],
                              self.corrected[:n])


# --------------------------------------------------------------------------------------------
# Streaming form


class _SortedWindow:
    """The last ``size`` values, kept sorted too, for quartiles at O(size) per update."""

    __slots__ = ("_order", "_size", "_sorted")

    def __len__(self) -> int:
        return len(self._order)

    def __init__(self, size: int) -> None:
        self._size = size
        self._order: deque[float] = deque()
        self._sorted: list[float] = []

    def push(self, value: float) -> None:
        self._order.append(value)
        bisect.insort(self._sorted, value)
        if len(self._order) > self._size:
            old = self._order.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]

    def threshold_ms(self) -> float:
        qd = _quartile_deviation(self._sorted)
        n = len(self._sorted)
        if 0 < n < self._size:
            # warm-up: a short window with a few artifacts in it inflates Q3; cap the quartile
            # deviation by the median's (QD = 0.62 x median for half-normal values), with slack
            qd = min(qd, WARMUP_QD_CAP * 0.617 * self._sorted[n // 2])
        return max(ALPHA * qd, MIN_THRESHOLD_MS)


class _Segment:
    """Detection state of one segment; indices count beats since the segment began."""

    __slots__ = ("base", "beats", "consumed", "d", "good_idx", "good_rr", "m", "med", "n",
                 "next_judge", "x")

    def __init__(self) -> None:
        self.base = 0
        """Segment index of the first element kept in the lists."""
        self.n = 0
        self.beats: list[Beat] = []
        self.x: list[float] = []
        """Intervals used for detection (non-finite or non-positive ones replaced)."""
        self.d: list[float] = []
        self.med: list[float] = []
        self.m: list[float] = []
        self.next_judge = 0
        self.consumed = -1
        self.good_idx = -1
        self.good_rr = math.nan


class ArtifactFilter:
    """Causal artifact detection and correction with three beats of lookahead.

    ``push`` a beat, get the beats judged so far: each is judged once three later beats of its
    segment have arrived. A beat of a new segment first flushes the previous segment; no
    difference or median ever spans two segments, but the threshold windows (the spread of
    |dRR| and |mRR| over the last 91 beats) carry over, so only the very first segment waits
    for ``warmup_beats`` beats before judging. Counts per kind are kept in ``counts``.
    """

    def __init__(self, *, lookahead_beats: int = LOOKAHEAD_BEATS, warmup_beats: int = 48) -> None:
        if lookahead_beats < 2:
            raise ValueError("lookahead_beats must be at least 2")
        self.lookahead_beats = lookahead_beats
        self.warmup_beats = max(warmup_beats, lookahead_beats + 1)
        self.counts: dict[ArtifactKind, int] = dict.fromkeys(ArtifactKind, 0)
        self._segment_id: int | None = None
        self._s = _Segment()
        self._abs_d = _SortedWindow(QUARTILE_WINDOW_BEATS)
        self._abs_m = _SortedWindow(QUARTILE_WINDOW_BEATS)

    # -- input ----------------------------------------------------------------------------

    def push(self, beat: Beat) -> list[CleanBeat]:
        """Add one beat (its interval in ms); return the beats judged because of it."""
        out: list[CleanBeat] = []
        if self._segment_id is not None and beat.segment != self._segment_id:
            out.extend(self.flush())
        self._segment_id = beat.segment
        s = self._s
        rr = float(beat.rr_ms)
        x = rr if (math.isfinite(rr) and rr > 0.0) else (s.x[-1] if s.x else 1000.0)
        s.beats.append(beat)
        s.x.append(x)
        k = s.n
        s.n += 1
        dv = x - s.x[-2] if k > 0 else 0.0
        s.d.append(dv)
        if k > 0:
            self._abs_d.push(abs(dv))
        la = self.lookahead_beats
        if k >= la:
            self._add_median(k - la, k)
        if len(self._abs_d) + 1 >= self.warmup_beats:
            while s.next_judge + la <= k:
                self._judge_next(out, k)
        self._trim()
        return out

    def flush(self) -> list[CleanBeat]:
        """Judge the beats still waiting (end of the stream or of a segment) and reset."""
        out: list[CleanBeat] = []
        s = self._s
        last = s.n - 1
        for j in range(len(s.med) + s.base, s.n):
            self._add_median(j, last)
        if len(self._abs_d) >= 8:
            while s.next_judge < s.n:
                self._judge_next(out, last)
        else:
            while s.next_judge < s.n:
                self._pass_through(out)
        self._s = _Segment()
        self._segment_id = None
        return out

    def break_segment(self) -> list[CleanBeat]:
        """Close the current segment (disconnect): same as :meth:`flush`."""
        return self.flush()

    # -- internals ------------------------------------------------------------------------

    def _add_median(self, j: int, last: int) -> None:
        s = self._s
        lo = max(s.base, j - (MEDIAN_WINDOW_BEATS - 1 - self.lookahead_beats))
        window = sorted(s.x[lo - s.base:last - s.base + 1][: j + self.lookahead_beats + 1 - lo])
        nw = len(window)
        med = window[nw // 2] if nw % 2 else 0.5 * (window[nw // 2 - 1] + window[nw // 2])
        s.med.append(med)
        mv = s.x[j - s.base] - med
        if mv < 0.0:
            mv *= 2.0
        s.m.append(mv)
        self._abs_m.push(abs(mv))

    def _trim(self) -> None:
        s = self._s
        drop = s.next_judge - 8 - s.base
        if drop > 128:
            del s.beats[:drop], s.x[:drop], s.d[:drop], s.med[:drop], s.m[:drop]
            s.base += drop

    def _judge_next(self, out: list[CleanBeat], last: int) -> None:
        s = self._s
        j = s.next_judge
        s.next_judge += 1
        if j == s.consumed:
            return
        b = s.base
        th1 = self._abs_d.threshold_ms()
        th2 = self._abs_m.threshold_ms()
        d = [s.d[i - b] / th1 if b <= i <= last and i > 0 else 0.0 for i in range(j - 2, j + 4)]
        med = s.med[j - b]
        rr = float(s.beats[j - b].rr_ms)
        nxt = float(s.beats[j + 1 - b].rr_ms) if j + 1 <= last else math.nan
        xs = [s.x[i - b] if b <= i <= last else math.nan for i in range(j - 1, j + 4)]
        kind = _judge(d, s.m[j - b] / th2, xs, med, th2)
        kind, parts = _final_kind(kind, rr, nxt, med, th2)
        if (kind is ArtifactKind.ECTOPIC and j + 1 <= last
                and _ectopic_pair_first(d, xs, med)
                and _pair_mean_ok(rr, nxt, med, th2)):
            beat, nb = s.beats[j - b], s.beats[j + 1 - b]
            mean = (rr + nxt) / 2.0
            out.append(CleanBeat(beat.t_s, mean, rr, beat.segment, True, kind))
            out.append(CleanBeat(nb.t_s, mean, nxt, nb.segment, True, kind))
            self.counts[kind] += 2
            s.consumed = j + 1
            # later intervals are judged against the corrected pair, not the misplaced beat
            xm = (s.x[j - b] + s.x[j + 1 - b]) / 2.0
            if j > 0 and j - 1 >= b:
                s.d[j - b] = xm - s.x[j - 1 - b]
            s.d[j + 1 - b] = 0.0
            if j + 2 <= last:
                s.d[j + 2 - b] = s.x[j + 2 - b] - xm
            return
        self._emit(out, j, kind, parts, med, th2, last)

    def _pass_through(self, out: list[CleanBeat]) -> None:
        s = self._s
        j = s.next_judge
        s.next_judge += 1
        rr = float(s.beats[j - s.base].rr_ms)
        plausible = [x for x in s.x if _range_ok(x)]
        # Too few beats to judge: the median of the plausible ones stands in for an invalid
        # interval; with none plausible, the nearest end of the plausible range does.
        med = float(np.median(plausible)) if plausible else \
            min(max(float(np.median(s.x)), MIN_RR_MS), MAX_RR_MS)
        kind, parts = _final_kind(ArtifactKind.NORMAL, rr, math.nan, med, 0.0)
        self._emit(out, j, kind, parts, med, 0.0, s.n - 1)

    def _emit(self, out: list[CleanBeat], j: int, kind: ArtifactKind, parts: int, med: float,
              th2: float, last: int) -> None:
        s = self._s
        b = s.base
        beat = s.beats[j - b]
        rr = float(beat.rr_ms)
        self.counts[kind] += 1
        if kind is ArtifactKind.NORMAL:
            out.append(CleanBeat(beat.t_s, rr, rr, beat.segment, False, kind))
            s.good_idx, s.good_rr = j, rr
        elif kind is ArtifactKind.EXTRA:
            nb = s.beats[j + 1 - b]
            nrr = float(nb.rr_ms)
            out.append(CleanBeat(nb.t_s, rr + nrr, nrr, nb.segment, True, kind))
            s.consumed = j + 1
        elif kind is ArtifactKind.MISSED:
            part = rr / parts
            for p in range(parts):
                t_s = beat.t_s - (parts - 1 - p) * part / 1000.0
                out.append(CleanBeat(t_s, part, rr, beat.segment, True, kind))
        else:
            value = self._interpolate(j, med, th2, last)
            out.append(CleanBeat(beat.t_s, value, rr, beat.segment, True, kind))

    def _interpolate(self, j: int, med: float, th2: float, last: int) -> float:
        """Linear interpolation between the last good interval and the next plausible one."""
        s = self._s
        tolerance = max(th2, 0.1 * med)
        if s.good_idx >= 0 and j - s.good_idx <= 2 * self.lookahead_beats:
            left_i, left = s.good_idx, s.good_rr
        else:
            left_i, left = j - 1, med
        right_i, right = j + 1, med
        for r in range(j + 1, min(last, j + self.lookahead_beats) + 1):
            xr = s.x[r - s.base]
            if abs(xr - med) < tolerance and _range_ok(xr):
                right_i, right = r, xr
                break
        value = left + (right - left) * (j - left_i) / (right_i - left_i)
        # Where the neighbourhood itself is implausible (long runs of garbage) the median is
        # too: a replacement is never outside the plausible range.
        return min(max(value, MIN_RR_MS), MAX_RR_MS)
