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
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from afterbeat.activation.settings import DEFAULT_SETTINGS, Settings

__all__ = ["BANDS", "ScoreBand", "ShownScore", "band_of_score", "display", "score_curve"]


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
