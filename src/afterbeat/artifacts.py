"""Artifact detection and correction for RR series (Lipponen & Tarvainen 2019), batch and causal.

Pure code: no I/O, no clock. Stored beats are never altered; corrected values are new values.

Both forms share one core (:func:`_judge`): a beat is classified from the normalised successive
differences around it (dRR / Th1), its normalised deviation from the local median (mRR / Th2),
its own interval, the next interval and the local median. The thresholds are ``alpha`` times the
quartile deviation of |dRR| and |mRR| over 91 beats; the local median spans 11 beats.

- Batch (:func:`detect_artifacts`, :func:`correct_rr`, :func:`correct_beats`): centred windows, as
  in the paper and Kubios.
- Streaming (:class:`ArtifactFilter`): a beat is judged once three later beats of its segment have
  arrived; the threshold windows end at the newest beat (trailing, causal), the median window
  spans the 7 beats before, the beat and the 3 after. A new segment restarts the state.

Range check first: intervals outside 273-2000 ms are never kept as they are. Long ones that are a
whole multiple of the local median are split (missed beats), others are replaced (``invalid``).

Corrections: ectopic (both intervals of the short-long or long-short pair), long, short and
invalid intervals are interpolated; a missed beat splits its interval in two; an extra beat is
merged with the following interval.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

__all__ = [
    "MAX_RR_MS",
    "MIN_RR_MS",
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


_INTERPOLATED = frozenset({ArtifactKind.ECTOPIC, ArtifactKind.LONG, ArtifactKind.SHORT,
                           ArtifactKind.INVALID})


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


def _judge(
    d: Sequence[float],
    m: float,
    rr_ms: float,
    next_rr_ms: float,
    median_ms: float,
    th2_ms: float,
) -> ArtifactKind:
    """Classify interval j from normalised dRR at j-2..j+2 (``d``), normalised mRR at j (``m``),
    its interval and the next (ms), the local median (ms) and threshold Th2 (ms).

    An interval is ectopic when it or the next one passes the ectopic test, so both intervals of
    a premature/late beat pair are flagged. Otherwise it is examined for long/short/missed/extra
    when its own |dRR| exceeds 1 or, as in the paper, when the previous interval triggered and
    this interval's |dRR| is below the next one's.
    """
    d0, d1, d2, d3, d4 = d
    if _is_ectopic(d2, d1, d3) or _is_ectopic(d3, d2, d4):
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


def _split_count(rr_ms: float, median_ms: float, th2_ms: float) -> int:
    """Whole number of median intervals in an over-long interval (0 if it is not one)."""
    if not (median_ms > 0.0 and math.isfinite(rr_ms)):
        return 0
    k = round(rr_ms / median_ms)
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
        win = sliding_window_view(x, width)
        q1, q3 = np.quantile(win, [0.25, 0.75], axis=1)
        out[half:n - half] = (q3 - q1) / 2.0
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


def detect_artifacts(rr_ms: FloatArray | Sequence[float]) -> ArtifactFlags:
    """Flag ectopic, missed, extra, long, short and out-of-range intervals of an RR series (ms).

    Centred windows (offline). The series should be one segment; see :func:`correct_beats`.
    """
    rr = _as_rr(rr_ms)
    n = rr.size
    flags: dict[ArtifactKind, BoolArray] = {
        kind: np.zeros(n, dtype=bool) for kind in ArtifactKind if kind is not ArtifactKind.NORMAL
    }
    parts = np.ones(n, dtype=np.int64)
    if n == 0:
        return _flags(flags, parts)
    finite = np.isfinite(rr) & (rr > 0)
    fill = float(np.median(rr[finite])) if finite.any() else 1000.0
    x = np.where(finite, rr, fill)
    if n < 4:
        for i in range(n):
            kind, k = _final_kind(ArtifactKind.NORMAL, float(rr[i]), math.nan, fill, 0.0)
            if kind is not ArtifactKind.NORMAL:
                flags[kind][i] = True
                parts[i] = k
        return _flags(flags, parts)
    drr = np.empty(n)
    drr[1:] = np.diff(x)
    drr[0] = drr[1:].mean()
    th1 = np.maximum(ALPHA * _centred_quartile_deviation(np.abs(drr), QUARTILE_WINDOW_BEATS),
                     MIN_THRESHOLD_MS)
    med = _centred_median(x, MEDIAN_WINDOW_BEATS)
    mrr = x - med
    mrr[mrr < 0] *= 2.0
    th2 = np.maximum(ALPHA * _centred_quartile_deviation(np.abs(mrr), QUARTILE_WINDOW_BEATS),
                     MIN_THRESHOLD_MS)
    dn = np.zeros(n + 4)
    dn[2:n + 2] = drr / th1
    mn = mrr / th2
    big = np.abs(dn) > 1.0
    # interval j can only be flagged if |dRR| > 1 at j-1, j, j+1 or j+2, or if out of range
    near = big[1:n + 1] | big[2:n + 2] | big[3:n + 3] | big[4:n + 4]
    near |= ~((rr >= MIN_RR_MS) & (rr <= MAX_RR_MS))
    for j in np.flatnonzero(near):
        j = int(j)
        if j > 0 and parts[j - 1] == 0:
            continue  # merged into the extra beat before it
        nxt = float(rr[j + 1]) if j + 1 < n else math.nan
        window = [float(v) for v in dn[j:j + 5]]
        kind = _judge(window, float(mn[j]), float(x[j]),
                      float(x[j + 1]) if j + 1 < n else math.nan, float(med[j]), float(th2[j]))
        kind, k = _final_kind(kind, float(rr[j]), nxt, float(med[j]), float(th2[j]))
        if kind is ArtifactKind.NORMAL:
            continue
        flags[kind][j] = True
        parts[j] = k
    return _flags(flags, parts)


def _flags(flags: dict[ArtifactKind, BoolArray], parts: NDArray[np.int64]) -> ArtifactFlags:
    return ArtifactFlags(
        ectopic=flags[ArtifactKind.ECTOPIC], missed=flags[ArtifactKind.MISSED],
        extra=flags[ArtifactKind.EXTRA], long=flags[ArtifactKind.LONG],
        short=flags[ArtifactKind.SHORT], invalid=flags[ArtifactKind.INVALID], split_parts=parts,
    )


def _apply(rr: FloatArray, flags: ArtifactFlags) -> tuple[FloatArray, BoolArray, FloatArray,
                                                           NDArray[np.int64]]:
    """Corrected series, its corrected mask, each output's share of its source, source index."""
    n = rr.size
    parts = flags.split_parts
    values = rr.copy()
    corrected = flags.any.copy()
    extra_idx = np.flatnonzero(parts == 0)
    has_next = extra_idx + 1 < n
    values[extra_idx[has_next] + 1] = rr[extra_idx[has_next]] + rr[extra_idx[has_next] + 1]
    corrected[extra_idx[has_next] + 1] = True
    split = parts > 1
    values[split] = rr[split] / parts[split]
    interp = flags.ectopic | flags.long | flags.short | flags.invalid
    src = np.repeat(np.arange(n), parts)
    out = values[src]
    out_mask = corrected[src]
    out_interp = interp[src]
    if out_interp.any():
        good = np.flatnonzero(~out_interp & np.isfinite(out))
        bad = np.flatnonzero(out_interp)
        if good.size:
            out[bad] = np.interp(bad, good, out[good])
        else:
            out[bad] = np.nan
    # position of each output inside its split (0..k-1) for times
    first = np.concatenate(([0], np.cumsum(parts)[:-1]))
    pos_in = np.arange(out.size) - first[src]
    return out, out_mask, pos_in.astype(np.float64), src


def correct_rr(rr_ms: FloatArray | Sequence[float]) -> tuple[FloatArray, BoolArray]:
    """Corrected RR series (ms) and a mask of its corrected intervals (both of the output length).

    Missed beats add intervals and extra beats remove one, so the output length may differ.
    """
    rr = _as_rr(rr_ms)
    flags = detect_artifacts(rr)
    out, mask, _, _ = _apply(rr, flags)
    return out, mask


def correct_beats(
    t_s: FloatArray | Sequence[float],
    rr_ms: FloatArray | Sequence[float],
    segment: NDArray[np.int64] | Sequence[int] | None = None,
) -> CorrectedBeats:
    """Correct each segment of a beat series separately; times (s) of split beats are spread."""
    t = np.asarray(t_s, dtype=np.float64)
    rr = _as_rr(rr_ms)
    seg = (np.zeros(rr.size, dtype=np.int64) if segment is None
           else np.asarray(segment, dtype=np.int64))
    if not (t.shape == rr.shape == seg.shape):
        raise ValueError("t_s, rr_ms and segment must have the same length")
    ts: list[FloatArray] = []
    rrs: list[FloatArray] = []
    segs: list[NDArray[np.int64]] = []
    masks: list[BoolArray] = []
    if rr.size:
        bounds = np.flatnonzero(np.diff(seg) != 0) + 1
        for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, rr.size], strict=True):
            part = rr[lo:hi]
            flags = detect_artifacts(part)
            out, mask, pos_in, src = _apply(part, flags)
            k = flags.split_parts[src].astype(np.float64)
            end_t = t[lo:hi][src]
            # a split interval's pieces end at equal steps before the original beat time
            t_out = end_t - (k - 1.0 - pos_in) * part[src] / np.maximum(k, 1.0) / 1000.0
            ts.append(t_out)
            rrs.append(out)
            segs.append(seg[lo:hi][src])
            masks.append(mask)
    if not ts:
        return CorrectedBeats(np.empty(0), np.empty(0), np.empty(0, dtype=np.int64),
                              np.empty(0, dtype=bool))
    return CorrectedBeats(np.concatenate(ts), np.concatenate(rrs), np.concatenate(segs),
                          np.concatenate(masks))
