"""The one mapping from the index A and the watch state to what the page shows (pure).

The page never computes a score itself: the server sends the result of :func:`display` with
every ``metrics`` event, so the number and the words beside it always come from one reading.

**Score curve** (``score_curve``, 0-100, 50 = your usual, rising with A). With the watch's own
thresholds ``settled_index`` (0.75) and ``elevated_index`` (1.5)::

    A <= 0:                   S = 100 / (1 + e^(-A))                    (0 < S <= 50)
    0 < A <= settled_index:   S = 50 + 10 * A / settled_index           (50 .. 60)
    settled < A <= elevated:  S = 60 + 20 * (A - settled) / (elevated - settled)   (60 .. 80)
    A > elevated_index:       S = 100 - 20 * e^(-(A - elevated) / score_tail_index)  (80 .. 100)

The tail approaches 100 slowly (``score_tail_index`` = 2.5 index units): A = 6.7, the
highest the bundled demo reaches, gives 97. The old logistic ``100 / (1 + e^(-1.7 A))`` sat at
97+ on a third of the demo's updates.

**Bands.** The watch state decides the words; the score is the curve clamped into its state's
band, so a "settled" line never stands beside an activated number or the other way round (the
watch's hysteresis lets A lie outside its state's band for a while, e.g. settling takes two
minutes at or below ``settled_index``)::

    settled    0 - 60   "Close to your usual"
    activated 61 - 80   "Somewhat above your usual"
    elevated  81 - 100  "Above your usual for a while"

Other states (calibrating, unknown) and unscored readings show no score.

**Numbers against the usual** (:func:`compare`). The state's sentence stays on the page until
the state changes, so it carries no numbers; the numbers and the person's usual range come
with every metrics event, from the same reading as the tiles: heart rate (bpm, last 60 s) and
heart-rate variability (RMSSD, ms, last 120 s), each beside its usual range ("Heart rate
75 bpm (your usual range 58-68)."). The usual range is the chart's baseline band: the resting
median +- one spread for heart rate, the resting median x e^(+-spread) for heart-rate
variability. The words name no direction ("above", "near"): the score follows the watch state,
which lags the numbers on purpose, so a direction word could read as contradicting the score
beside it ("Close to your usual" next to "above your usual"); the range lets the person see
where the number lies. The direction is still sent as ``heart_rate_vs_usual`` and
``hrv_vs_usual`` ("above", "near" or "below" the band). Numbers are written as the page writes
them (the event's value to 2 decimals, then to a whole number, halves up).

**Signal** (:func:`signal_of`): the beats alone, not what is done with them: ``no_beats``,
``hr_only`` (no beat-to-beat data), ``patchy`` (the 120-s window is under ``min_coverage`` or
over ``max_corrected_pct`` corrected beats, the index's own gate), ``warming_up`` (the windows
are still filling) or ``clean``. Movement, paced breathing or a missing baseline are no
signal states: they are said elsewhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from afterbeat.activation.settings import DEFAULT_SETTINGS, Settings

__all__ = ["BANDS", "Comparison", "ScoreBand", "ShownScore", "band_of_score", "compare", "display",
           "score_curve", "shown_whole", "signal_of"]


@dataclass(frozen=True, slots=True)
class ScoreBand:
    """The whole-number score range (inclusive) and the words of one watch state."""

    state: str
    low: int
    high: int
    words: str


BANDS: tuple[ScoreBand, ...] = (
    ScoreBand("settled", 0, 60, "Close to your usual"),
    ScoreBand("activated", 61, 80, "Somewhat above your usual"),
    ScoreBand("elevated", 81, 100, "Above your usual for a while"),
)
"""Score bands by watch state, lowest first; together they cover 0-100 without overlap."""

_BY_STATE = {band.state: band for band in BANDS}


@dataclass(frozen=True, slots=True)
class ShownScore:
    """What the page shows: a whole-number score 0-100, the state band and its words."""

    score: int
    band: str
    words: str


def score_curve(arousal: float, settings: Settings = DEFAULT_SETTINGS) -> float:
    """Score 0-100 from the index A alone (50 = your usual), continuous and rising."""
    settled = settings.settled_index
    elevated = settings.elevated_index
    if arousal <= 0.0:
        if arousal < -700.0:
            return 0.0
        return 100.0 / (1.0 + math.exp(-arousal))
    if arousal <= settled:
        return 50.0 + 10.0 * arousal / settled
    if arousal <= elevated:
        return 60.0 + 20.0 * (arousal - settled) / (elevated - settled)
    tail = max(settings.score_tail_index, 1e-9)
    return 100.0 - 20.0 * math.exp(-(arousal - elevated) / tail)


def band_of_score(score: int) -> ScoreBand:
    """The band a whole-number score lies in."""
    for band in BANDS:
        if score <= band.high:
            return band
    return BANDS[-1]


def display(arousal: float | None, state: str | None,
            settings: Settings = DEFAULT_SETTINGS) -> ShownScore | None:
    """The shown score for index A under the watch state; None when either says nothing."""
    if arousal is None or not math.isfinite(arousal) or state is None:
        return None
    band = _BY_STATE.get(str(state))
    if band is None:
        return None
    score = min(max(round(score_curve(arousal, settings)), band.low), band.high)
    return ShownScore(score=score, band=band.state, words=band.words)


@dataclass(frozen=True, slots=True)
class Comparison:
    """One reading's heart rate and heart-rate variability against the usual, in words."""

    words: str
    """E.g. "Heart rate 66 bpm (your usual range 60-66). Heart-rate variability 37 ms (your
    usual range 40-53)." (no direction words: see the module docstring)."""
    heart_rate: str | None
    """"above", "near" or "below" the usual band; None when not compared."""
    hrv: str | None
    """Same for heart-rate variability (RMSSD)."""


def shown_whole(value: float) -> int:
    """A number as the page writes it: to 2 decimals (as sent), then whole, halves up."""
    return math.floor(round(value, 2) + 0.5)


def _side(value: float, low: float, high: float) -> str:
    return "above" if value > high else "below" if value < low else "near"


def _usual_range(low: float, high: float) -> str:
    """The usual band as the page writes it: "(your usual range 58-68)"."""
    return f"(your usual range {shown_whole(low)}-{shown_whole(high)})"


def compare(heart_rate_bpm: float | None, rmssd_ms: float | None,
            baseline_heart_rate_bpm: float | None, heart_rate_spread_bpm: float | None,
            baseline_rmssd_ms: float | None, ln_rmssd_spread: float | None) -> Comparison | None:
    """Heart rate (bpm) and RMSSD (ms) of one reading against the usual band; None if neither."""
    parts: list[str] = []
    hr_side = hrv_side = None
    if (heart_rate_bpm is not None and baseline_heart_rate_bpm is not None
            and heart_rate_spread_bpm is not None and math.isfinite(heart_rate_bpm)):
        hr_low = baseline_heart_rate_bpm - heart_rate_spread_bpm
        hr_high = baseline_heart_rate_bpm + heart_rate_spread_bpm
        hr_side = _side(heart_rate_bpm, hr_low, hr_high)
        parts.append(f"Heart rate {shown_whole(heart_rate_bpm)} bpm "
                     f"{_usual_range(hr_low, hr_high)}.")
    if (rmssd_ms is not None and baseline_rmssd_ms is not None and ln_rmssd_spread is not None
            and math.isfinite(rmssd_ms) and rmssd_ms > 0.0):
        hrv_low = baseline_rmssd_ms * math.exp(-ln_rmssd_spread)
        hrv_high = baseline_rmssd_ms * math.exp(ln_rmssd_spread)
        hrv_side = _side(rmssd_ms, hrv_low, hrv_high)
        parts.append(f"Heart-rate variability {shown_whole(rmssd_ms)} ms "
                     f"{_usual_range(hrv_low, hrv_high)}.")
    if not parts:
        return None
    return Comparison(" ".join(parts), hr_side, hrv_side)


def signal_of(quality: str, rr_available: bool, coverage: float | None,
              corrected_pct: float | None, settings: Settings = DEFAULT_SETTINGS) -> str:
    """The beats alone: no_beats, hr_only, patchy, warming_up or clean (coverage 0-1, %)."""
    if quality == "no_beats":
        return "no_beats"
    if not rr_available:
        return "hr_only"
    if quality == "poor":
        return "patchy"
    if quality == "warming_up":
        return "warming_up"
    if (coverage is not None and coverage < settings.min_coverage) or (
            corrected_pct is not None and corrected_pct > settings.max_corrected_pct):
        return "patchy"
    return "clean"
