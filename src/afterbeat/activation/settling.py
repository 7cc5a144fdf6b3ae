"""Settling: one definition and one timing for the watch, recovery and reset effects (pure).

*Settled* means the activation index A stayed at or below ``settled_index`` (0.75: close to
the person's own usual) for ``settle_s`` (2 min). A stretch of 5-s updates ``(t - 2 min, t]``
counts when

- it begins at or after the anchor (the session end, or the reset's start) and was observed
  from its beginning (an update at or before it, so a recording that just began is not
  judged on less than the stretch);
- at least ``min_valid_share`` (80 %) of the updates expected in it carry an index (movement,
  a patchy signal or a short disconnect may leave out the rest: a short gap neither counts
  nor breaks the stretch);
- every update that carries an index is at or below the level (one excursion above, however
  short, starts the stretch over).

The same rule, with other predicates and spans, decides the watch's activated and elevated
states (:func:`sustained`).

*Timing.* The settling moment shown to a person, ``settled_at_s``, is the first valid update
of the first stretch that counts: when the readings came back close to usual and then stayed
there. Times to settle are ``settled_at_s`` minus the anchor, for the watch and recovery
(after the session end) and for a reset's effect (after its start) alike. The live watch can
only *say* it once the stretch is complete, at its last update (about 2 min later). An
update stamped ``t`` reports the index over the data up to ``t`` (heart rate over 60 s,
RMSSD over 120 s), so a settling time is good to about a minute: every view shows whole
minutes rounded halves up (:func:`whole_minutes`, as the page's ``Math.round``), and
:data:`FIRST_MINUTE` ("within the first minute", after its anchor) below one
(:func:`settled_when`; :data:`UNDER_A_MINUTE` where a sentence has no anchor,
:func:`minutes_text`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from afterbeat.activation.settings import Settings

__all__ = ["FIRST_MINUTE", "UNDER_A_MINUTE", "SettleRule", "minutes_text", "settled_from",
           "settled_when", "span_text", "sustained", "whole_minutes"]

FIRST_MINUTE = "within the first minute"
"""The one phrase for a settling time under a minute, followed by "after <anchor>"."""

UNDER_A_MINUTE = "under a minute"
"""The same where a sentence has no anchor (a table cell, "from ... to ...")."""


def whole_minutes(seconds: float) -> int:
    """Seconds as whole minutes, halves up (150 s -> 3, 270 s -> 5), as the page's Math.round."""
    return math.floor(seconds / 60.0 + 0.5)


def minutes_text(seconds: float, *, short: bool = False) -> str:
    """A settling time (s) without an anchor: "under a minute", "1 minute", "3 minutes"
    ("3 min" when ``short``)."""
    if seconds < 60.0:  # settling is timed to about a minute: no finer
        return UNDER_A_MINUTE
    minutes = whole_minutes(seconds)
    if short:
        return f"{minutes} min"
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def span_text(span_s: float) -> str:
    """A rule's stretch (s) in words: "2 minutes", "1 minute", "30 seconds" (as the page's
    spanText)."""
    if span_s < 60.0:
        return f"{span_s:.0f} seconds"
    return minutes_text(span_s)


def settled_when(seconds: float, anchor: str, *, about: str = "about",
                 short: bool = False) -> str:
    """A settling time (s) after its anchor: "within the first minute after <anchor>" below a
    minute, else "<about> 3 minutes after <anchor>" (``about`` may be "")."""
    if seconds < 60.0:
        return f"{FIRST_MINUTE} after {anchor}"
    amount = minutes_text(seconds, short=short)
    return f"{about} {amount} after {anchor}" if about else f"{amount} after {anchor}"


@dataclass(frozen=True, slots=True)
class SettleRule:
    """Level (index A), stretch (s), update interval (s) and valid share (0-1) of settling."""

    level_index: float = 0.75
    span_s: float = 120.0
    interval_s: float = 5.0
    min_valid_share: float = 0.8

    @classmethod
    def from_settings(cls, settings: Settings) -> SettleRule:
        """The rule the settings describe (settled_index, settle_s, metrics_interval_s, ...)."""
        return cls(settings.settled_index, settings.settle_s, settings.metrics_interval_s,
                   settings.min_valid_share)


def sustained(updates: Iterable[tuple[float, bool | None]], end_t_s: float, span_s: float, *,
              interval_s: float, min_valid_share: float,
              since_s: float = -math.inf) -> float | None:
    """The stamp (s) of the first valid update of the stretch (end - span, end] when it holds.

    ``updates`` are ``(t_s, verdict)`` in time order: True meets the rule, False does not, None
    carries no valid reading. The stretch holds when it begins at or after ``since_s``, was
    observed from its beginning (an update within half an interval of it, or earlier), holds
    at least ``min_valid_share`` of the ``span_s / interval_s`` expected updates as valid ones,
    and every valid one is True. None when it does not hold.
    """
    start_s = end_t_s - span_s
    if since_s > start_s:
        return None
    need = math.ceil(min_valid_share * span_s / interval_s - 1e-9)
    observed = False
    first_s: float | None = None
    valid = 0
    for t_s, verdict in updates:
        if t_s <= start_s + interval_s / 2:
            observed = True
        if not start_s < t_s <= end_t_s or verdict is None:
            continue
        if not verdict:
            return None
        valid += 1
        if first_s is None:
            first_s = t_s
    if not observed or valid < need or first_s is None:
        return None
    return first_s


def settled_from(updates: Iterable[tuple[float, float | None]], end_t_s: float,
                 rule: SettleRule, since_s: float = -math.inf) -> float | None:
    """The settling moment (s) when the stretch ending at ``end_t_s`` counts as settled, else
    None; ``updates`` are ``(t_s, index A or None)`` in time order."""
    level = rule.level_index
    return sustained(((t_s, None if a is None else a <= level) for t_s, a in updates),
                     end_t_s, rule.span_s, interval_s=rule.interval_s,
                     min_valid_share=rule.min_valid_share, since_s=since_s)
