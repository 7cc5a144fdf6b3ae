"""Live metrics: per-beat HRV values on trailing windows, with their quality (pure code).

:class:`LiveMetricsTracker` turns clean beats (from :class:`afterbeat.artifacts.ArtifactFilter`)
into :class:`LiveMetrics`: heart rate over 60 s; RMSSD over 60 s and 120 s; SDNN and pNN50 over
120 s; every 5 s of beat time, LF/HF (Lomb-Scargle in ms²), respiration rate and coherence from
the trailing 2-5 minutes; every 5 s, the breathing rate (or why it is unknown), a
normalised coherence and, while a pacer runs, how closely the heart rhythm follows it, from
the trailing 64 s (:mod:`afterbeat.hrv.breathing`). Windows are trailing spans of beat time,
(t - span, t], inside the current segment only. Without RR (a strap that sends heart rate only)
it reports the strap's mean heart rate over 60 s with ``rr_available`` False.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from afterbeat.hrv.artifacts import ArtifactKind, CleanBeat
from afterbeat.hrv.breathing import (
    DEFAULT_WINDOW_S,
    coherence_peak,
    estimate_breathing_rate,
    pacer_following,
)
from afterbeat.hrv.spectral import RollingLomb, summarize_spectrum

__all__ = ["LiveMetrics", "LiveMetricsTracker"]


@dataclass(frozen=True, slots=True)
class LiveMetrics:
    """Trailing-window values at time ``t_s``; None where a window is not full or has a gap."""

    t_s: float
    segment: int
    heart_rate_bpm: float | None
    """60 s: 60000 / mean clean RR, or the mean strap heart rate when no RR arrives."""
    rmssd_60_ms: float | None
    rmssd_120_ms: float | None
    ln_rmssd_120: float | None
    """Natural log of rmssd_120_ms (ms)."""
    sdnn_120_ms: float | None
    pnn50_120_pct: float | None
    coverage_120: float
    """Share (0-1) of the trailing 120 s covered by beats of the current segment."""
    corrected_120_pct: float
    """Share (%) of beats in the trailing 120 s that artifact correction replaced; an ectopic
    beat changes two intervals and counts as one beat."""
    rr_available: bool
    respiration_rate_bpm: float | None = None
    """Breaths per minute from RR over the last 64 s (refreshed every 5 s); None when unknown
    (see ``respiration_reason``). :func:`afterbeat.hrv.breathing.estimate_breathing_rate`."""
    lf_ms2: float | None = None
    hf_ms2: float | None = None
    coherence: float | None = None
    """Peak power in 0.04-0.26 Hz over the rest (HeartMath's coherence ratio)."""
    ln_rmssd_60: float | None = None
    """Natural log of rmssd_60_ms (ms)."""
    coverage_60: float | None = None
    """Share (0-1) of the trailing 60 s covered by beats of the current segment."""
    lf_hf: float | None = None
    spectral_span_s: float | None = None
    """Span (s) of the beats behind lf_ms2, hf_ms2, respiration and coherence (120-300 s)."""
    n_beats_120: int = 0
    """Beats in the trailing 120 s."""
    respiration_reason: str | None = None
    """Why ``respiration_rate_bpm`` is None: too_short, poor_signal, no_clear_peak,
    estimates_disagree (:class:`afterbeat.hrv.breathing.BreathingReason`); None with a rate."""
    coherence_share: float | None = None
    """Normalised coherence 0-1 over the last 64 s: CR / (1 + CR), refreshed every 5 s."""
    coherence_peak_bpm: float | None = None
    """Rate (per min) of the strongest heart-rhythm oscillation in 0.04-0.26 Hz, last 64 s."""
    pacer_bpm: float | None = None
    """The running pacer's rate (breaths/min), None without a pacer."""
    pacer_following: float | None = None
    """Share (0-1) of the RR variation at the pacer's rate over the last 64 s."""
    pacer_following_ok: bool | None = None
    """True when the heart rhythm follows the pacer (share >= 0.5 and the strongest slow
    oscillation within 1/min of the pacer); None without a pacer or a usable window."""
    pacer_following_reason: str | None = None
    """Why ``pacer_following`` is None while a pacer runs (the reasons of
    ``respiration_reason``, from the pacer's own window check)."""


# --------------------------------------------------------------------------------------------
# The tracker


class _RunningWindow:
    """Beats of one segment within the trailing ``span_s``, with running sums.

    Sums are kept on intervals shifted by a reference value (the segment's first interval) so
    that the sum of squares does not lose precision, and recomputed exactly every
    ``_RESUM_EVERY`` updates so that rounding never accumulates.
    """

    __slots__ = ("_since_resum", "beats", "n_corrected", "n_nn50", "n_pairs", "ref_ms",
                 "span_s", "sum_d2", "sum_sq", "sum_x")

    def __init__(self, span_s: float, ref_ms: float) -> None:
        self.span_s = span_s
        self.ref_ms = ref_ms
        self.beats: deque[list[float]] = deque()
        """[t_s, rr_ms, corrected beats (0, 0.5, 1), d² of the pair ending here (ms²), nn50 (0/1),
        paired]"""
        self.sum_x = 0.0
        self.sum_sq = 0.0
        self.sum_d2 = 0.0
        self.n_pairs = 0
        self.n_nn50 = 0
        self.n_corrected = 0.0
        """Corrected beats in the window (an ectopic beat's two intervals count half each)."""
        self._since_resum = 0

    def push(self, t_s: float, rr_ms: float, corrected: float) -> None:
        x = rr_ms - self.ref_ms
        self.sum_x += x
        self.sum_sq += x * x
        self.n_corrected += corrected
        if self.beats:
            d = rr_ms - self.beats[-1][1]
            d2 = d * d
            nn50 = 1.0 if abs(d) > 50.0 else 0.0
            self.sum_d2 += d2
            self.n_pairs += 1
            self.n_nn50 += int(nn50)
            self.beats.append([t_s, rr_ms, corrected, d2, nn50, 1.0])
        else:
            self.beats.append([t_s, rr_ms, corrected, 0.0, 0.0, 0.0])
        start = t_s - self.span_s
        beats = self.beats
        while beats[0][0] <= start:
            old = beats.popleft()
            xo = old[1] - self.ref_ms
            self.sum_x -= xo
            self.sum_sq -= xo * xo
            self.n_corrected -= old[2]
            nxt = beats[0]  # the beat just pushed is never older than the window
            if nxt[5]:
                self.sum_d2 -= nxt[3]
                self.n_pairs -= 1
                self.n_nn50 -= int(nxt[4])
                nxt[5] = 0.0
        self._since_resum += 1
        if self._since_resum >= _RESUM_EVERY:
            self._resum()

    def _resum(self) -> None:
        self._since_resum = 0
        ref = self.ref_ms
        self.sum_x = math.fsum(b[1] - ref for b in self.beats)
        self.sum_sq = math.fsum((b[1] - ref) ** 2 for b in self.beats)
        self.sum_d2 = math.fsum(b[3] for b in self.beats if b[5])

    @property
    def n(self) -> int:
        return len(self.beats)

    def covered_s(self) -> float:
        """Time (s) covered by the intervals in the window, at most the window span."""
        return min(self.span_s, (self.sum_x + self.n * self.ref_ms) / 1000.0)

    def mean_rr_ms(self) -> float | None:
        return self.ref_ms + self.sum_x / self.n if self.n else None

    def rmssd_ms(self) -> float | None:
        return math.sqrt(max(self.sum_d2, 0.0) / self.n_pairs) if self.n_pairs else None

    def sdnn_ms(self) -> float | None:
        n = self.n
        if n < 2:
            return None
        var = (self.sum_sq - self.sum_x * self.sum_x / n) / (n - 1)
        return math.sqrt(max(var, 0.0))

    def pnn50_pct(self) -> float | None:
        return 100.0 * self.n_nn50 / self.n_pairs if self.n_pairs else None


_RESUM_EVERY = 4096


@dataclass(frozen=True, slots=True)
class _Spectral:
    t_s: float
    span_s: float
    lf_ms2: float
    hf_ms2: float
    lf_hf: float | None
    respiration_rate_bpm: float | None
    coherence: float | None


@dataclass(frozen=True, slots=True)
class _Breath:
    t_s: float
    rate_bpm: float | None
    reason: str | None
    coherence_share: float | None
    coherence_peak_bpm: float | None
    pacer_bpm: float | None
    following: float | None
    following_ok: bool | None
    following_reason: str | None = None


class LiveMetricsTracker:
    """Per-beat trailing-window metrics from clean beats; HR-only metrics when no RR arrives.

    Time-domain values cost O(1) amortised per beat (running sums over deques). LF/HF,
    respiration and coherence are refreshed every ``spectral_every_s`` of beat time from the
    trailing ``spectral_max_s`` (at least ``spectral_min_s``) of the current segment, and carried
    between refreshes. A window value is None until the window's beats cover at least
    ``min_coverage`` of its span. No window ever holds beats of two segments.
    """

    def __init__(
        self,
        *,
        min_coverage: float = 0.8,
        spectral_every_s: float = 5.0,
        spectral_min_s: float = 120.0,
        spectral_max_s: float = 300.0,
        rr_timeout_s: float = 10.0,
    ) -> None:
        self.min_coverage = min_coverage
        self.spectral_every_s = spectral_every_s
        self.spectral_min_s = spectral_min_s
        self.spectral_max_s = spectral_max_s
        self.rr_timeout_s = rr_timeout_s
        self._segment: int | None = None
        self._w60: _RunningWindow | None = None
        self._w120: _RunningWindow | None = None
        self._lomb = RollingLomb(df_hz=1.0 / (2.0 * spectral_max_s))
        self._spectral: _Spectral | None = None
        self._last_beat_t_s: float | None = None
        self._hr: deque[tuple[float, float]] = deque()
        self._recent: deque[tuple[float, float, float]] = deque()
        """(t_s, rr_ms, corrected weight 0/0.5/1) of the current segment's last
        ``DEFAULT_WINDOW_S`` + 10 s."""
        self._breath: _Breath | None = None
        self._pacer_bpm: float | None = None

    def set_pacer(self, breaths_per_min: float | None) -> None:
        """A pacer runs at this rate (breaths/min) from now on; None when it stops."""
        if breaths_per_min is not None and not (
                math.isfinite(breaths_per_min) and 2.0 <= breaths_per_min <= 30.0):
            raise ValueError(f"pacer rate must lie in 2-30 breaths/min, got {breaths_per_min!r}")
        if breaths_per_min != self._pacer_bpm:
            self._pacer_bpm = breaths_per_min
            self._breath = None  # refresh at the next beat

    def break_segment(self) -> None:
        """Forget every window (disconnect, contact loss): the next beat starts afresh."""
        self._reset_rr()
        self._hr.clear()

    def _reset_rr(self) -> None:
        self._segment = None
        self._w60 = self._w120 = None
        self._lomb.clear()
        self._spectral = None
        self._recent.clear()
        self._breath = None

    def push_beat(self, clean: CleanBeat) -> LiveMetrics | None:
        """Add one clean beat; return the metrics at its time (None for an unusable beat)."""
        t_s = float(clean.t_s)
        rr = float(clean.rr_ms)
        if not (math.isfinite(t_s) and math.isfinite(rr) and rr > 0.0):
            return None
        if clean.segment != self._segment or self._w60 is None or self._w120 is None:
            self._reset_rr()
            self._segment = clean.segment
            self._w60 = _RunningWindow(60.0, rr)
            self._w120 = _RunningWindow(120.0, rr)
        w60, w120 = self._w60, self._w120
        # One ectopic beat moves one R peak but changes two intervals (short, then long): each
        # counts half, so the share is of corrected beats, as the quality rule means.
        corrected = (0.5 if clean.kind is ArtifactKind.ECTOPIC else 1.0) if clean.corrected else 0.0
        w60.push(t_s, rr, corrected)
        w120.push(t_s, rr, corrected)
        self._last_beat_t_s = t_s
        lomb = self._lomb
        lomb.push(t_s, rr)
        horizon = t_s - self.spectral_max_s
        while (first := lomb.first_t_s) is not None and first <= horizon:
            lomb.pop_left()
        if self._spectral is None or t_s - self._spectral.t_s >= self.spectral_every_s:
            self._refresh_spectral(t_s)
        recent = self._recent
        recent.append((t_s, rr, corrected))
        while recent[0][0] <= t_s - DEFAULT_WINDOW_S - 10.0:
            recent.popleft()
        if self._breath is None or t_s - self._breath.t_s >= self.spectral_every_s:
            self._refresh_breath(t_s)
        breath = self._breath
        full60 = w60.covered_s() >= self.min_coverage * w60.span_s
        full120 = w120.covered_s() >= self.min_coverage * w120.span_s
        mean60 = w60.mean_rr_ms() if full60 else None
        rmssd60 = w60.rmssd_ms() if full60 else None
        rmssd120 = w120.rmssd_ms() if full120 else None
        spec = self._spectral
        return LiveMetrics(
            t_s=t_s,
            segment=clean.segment,
            heart_rate_bpm=60000.0 / mean60 if mean60 else None,
            rmssd_60_ms=rmssd60,
            rmssd_120_ms=rmssd120,
            ln_rmssd_120=math.log(rmssd120) if rmssd120 else None,
            sdnn_120_ms=w120.sdnn_ms() if full120 else None,
            pnn50_120_pct=w120.pnn50_pct() if full120 else None,
            coverage_120=w120.covered_s() / w120.span_s,
            corrected_120_pct=100.0 * w120.n_corrected / w120.n,
            rr_available=True,
            respiration_rate_bpm=breath.rate_bpm if breath else None,
            lf_ms2=spec.lf_ms2 if spec else None,
            hf_ms2=spec.hf_ms2 if spec else None,
            coherence=spec.coherence if spec else None,
            ln_rmssd_60=math.log(rmssd60) if rmssd60 else None,
            coverage_60=w60.covered_s() / w60.span_s,
            lf_hf=spec.lf_hf if spec else None,
            spectral_span_s=spec.span_s if spec else None,
            n_beats_120=w120.n,
            respiration_reason=breath.reason if breath else None,
            coherence_share=breath.coherence_share if breath else None,
            coherence_peak_bpm=breath.coherence_peak_bpm if breath else None,
            pacer_bpm=self._pacer_bpm,
            pacer_following=breath.following if breath else None,
            pacer_following_ok=breath.following_ok if breath else None,
            pacer_following_reason=breath.following_reason if breath else None,
        )

    def _refresh_breath(self, t_s: float) -> None:
        t = [b[0] for b in self._recent]
        rr = [b[1] for b in self._recent]
        fixed = [b[2] for b in self._recent]
        est = estimate_breathing_rate(t, rr, end_t_s=t_s, corrected=fixed)
        coherence = coherence_peak(t, rr, end_t_s=t_s, corrected=fixed)
        following: float | None = None
        ok: bool | None = None
        why: str | None = None
        if self._pacer_bpm is not None:
            pf = pacer_following(t, rr, self._pacer_bpm, end_t_s=t_s, corrected=fixed)
            following, ok = pf.share, pf.following
            why = None if pf.reason is None else str(pf.reason)
        self._breath = _Breath(t_s=t_s, rate_bpm=est.rate_bpm,
                               reason=None if est.reason is None else str(est.reason),
                               coherence_share=coherence[0] if coherence else None,
                               coherence_peak_bpm=coherence[1] if coherence else None,
                               pacer_bpm=self._pacer_bpm,
                               following=following, following_ok=ok, following_reason=why)

    def _refresh_spectral(self, t_s: float) -> None:
        lomb = self._lomb
        first, last = lomb.first_t_s, lomb.last_t_s
        if first is None or last is None or last - first < self.spectral_min_s or len(lomb) < 16:
            return
        s = summarize_spectrum(lomb.spectrum())
        self._spectral = _Spectral(t_s=t_s, span_s=s.span_s, lf_ms2=s.lf_ms2, hf_ms2=s.hf_ms2,
                                   lf_hf=s.lf_hf, respiration_rate_bpm=s.respiration_rate_bpm,
                                   coherence=s.coherence)

    def push_heart_rate(self, t_s: float, heart_rate_bpm: float) -> LiveMetrics | None:
        """Add a strap heart rate (bpm); metrics in HR-only mode, None while RR is arriving."""
        hr = float(heart_rate_bpm)
        if not (math.isfinite(hr) and hr > 0.0 and math.isfinite(t_s)):
            return None
        self._hr.append((t_s, hr))
        while self._hr[0][0] <= t_s - 120.0:
            self._hr.popleft()
        if self._last_beat_t_s is not None and t_s - self._last_beat_t_s <= self.rr_timeout_s:
            return None
        in60 = [v for (ts, v) in self._hr if ts > t_s - 60.0]
        span60 = t_s - min(ts for (ts, _) in self._hr if ts > t_s - 60.0)
        span120 = t_s - self._hr[0][0]
        heart = math.fsum(in60) / len(in60) if span60 >= self.min_coverage * 60.0 else None
        return LiveMetrics(
            t_s=t_s,
            segment=self._segment if self._segment is not None else -1,
            heart_rate_bpm=heart,
            rmssd_60_ms=None,
            rmssd_120_ms=None,
            ln_rmssd_120=None,
            sdnn_120_ms=None,
            pnn50_120_pct=None,
            coverage_120=min(1.0, span120 / 120.0),
            corrected_120_pct=0.0,
            rr_available=False,
        )
