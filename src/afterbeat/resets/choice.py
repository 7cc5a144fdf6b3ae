"""Choosing a reset: breathing by default, the person's plan first, another kind if one stalls.

Pure code, time passed in. The pipeline keeps one :class:`ChoiceContext` per session and
replaces it as things happen (all methods return a new context)::

    ctx = ChoiceContext()
    # the watch asks for a suggestion (gentle=True for the second, gentler one):
    s = choose_reset(ctx, now_s, index=a, plan=plan)          # -> ResetSuggestion | None
    if s: ctx = ctx.with_suggestion(s)                         # emit {"type": "suggestion", ...}
    ctx = ctx.with_dismissal(t_s)       # "not now": quiet for policy.quiet_period_s
    ctx = ctx.with_start(reset_id, t_s, index=a)               # reset_start marker
    # while a reset runs, call choose_reset on every index update: it returns None until the
    # reset has run policy.check_after_s without moving the index, then offers another kind once
    ctx = ctx.with_end(t_s, index=a)                           # reset_end marker

Rules, in order:

1. Quiet period: after "not now", nothing is suggested until ``quiet_until_s``.
2. While a reset runs: after ``check_after_s`` (3 min), if the index has not dropped by
   ``moved_index`` (0.25) since the start, offer once a reset of another kind (breathing →
   movement or sensory; movement → sensory or breathing; sensory → movement or breathing).
   Movement pauses the index, so a movement reset is never judged while it runs; nor is a
   reset whose index at the start, or now, is unknown.
3. Otherwise: the plan's preferred resets (ids or kinds, in its order), then afterbeat's
   default order, which starts with slow, even breathing. Avoided resets, resets that ran
   without moving the index this session, and the closing ritual (unless the plan names it)
   are left out.
4. Gentle (the second suggestion): no breath holds, not the reset suggested last time when
   another fits, gentler defaults first, and softer words.

``suggestion.reason`` is plain, warm text for the person; nothing here raises an alarm.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final

from afterbeat.resets.library import LIBRARY, Reset, ResetKind, UnknownReset, get_reset
from afterbeat.resets.plan import Plan

__all__ = [
    "DEFAULT_ORDER",
    "GENTLE_ORDER",
    "ChoiceContext",
    "ChoicePolicy",
    "ResetSuggestion",
    "RunningReset",
    "choose_reset",
    "closing_suggestion",
]

DEFAULT_ORDER: Final = ("resonance", "cyclic_sighing", "extended_exhale", "walk", "shake_out",
                        "cold_water", "stretch", "muscle_release", "box", "four_seven_eight")
GENTLE_ORDER: Final = ("extended_exhale", "cold_water", "shake_out", "cyclic_sighing",
                       "resonance", "stretch", "walk", "muscle_release")
_SWITCH_KINDS: Final = {
    ResetKind.BREATHING: (ResetKind.MOVEMENT, ResetKind.SENSORY),
    ResetKind.MOVEMENT: (ResetKind.SENSORY, ResetKind.BREATHING),
    ResetKind.SENSORY: (ResetKind.MOVEMENT, ResetKind.BREATHING),
    ResetKind.RITUAL: (ResetKind.MOVEMENT, ResetKind.SENSORY),
}


@dataclass(frozen=True, slots=True)
class ChoicePolicy:
    """Tunables of the choice (seconds; index in arousal units A)."""

    quiet_period_s: float = 1200.0
    """How long "not now" keeps suggestions away."""
    check_after_s: float = 180.0
    """How long a reset runs before we look whether it moved the index."""
    moved_index: float = 0.25
    """Drop of A since the start that counts as the reset moving the index."""


@dataclass(frozen=True, slots=True)
class RunningReset:
    """A reset in progress: which, since when (s), and the index A at its start (or None)."""

    reset_id: str
    started_t_s: float
    index_at_start: float | None = None
    switch_offered: bool = False


@dataclass(frozen=True, slots=True)
class ResetSuggestion:
    """A suggested reset with the words saying why; ``switch_from`` when offering another kind."""

    t_s: float
    reset_id: str
    kind: ResetKind
    reason: str
    gentle: bool = False
    switch_from: str | None = None
    breaths_per_min: float | None = None
    """Personal resonance pace from the plan, for adjustable resets."""

    def to_json(self) -> dict[str, Any]:
        """The pipeline's ``suggestion`` event body (add ``"type": "suggestion"``)."""
        return {"t_s": self.t_s, "reset": self.reset_id, "kind": str(self.kind),
                "reason": self.reason, "gentle": self.gentle, "switch_from": self.switch_from,
                "breaths_per_min": self.breaths_per_min}


@dataclass(frozen=True, slots=True)
class ChoiceContext:
    """What the choice knows about this session so far; each ``with_*`` returns a new one."""

    running: RunningReset | None = None
    quiet_until_s: float | None = None
    suggested: tuple[str, ...] = ()
    """Reset ids suggested so far, oldest first."""
    not_helped: tuple[str, ...] = ()
    """Reset ids that ran for check_after_s or more without moving the index."""
    policy: ChoicePolicy = ChoicePolicy()

    def with_suggestion(self, suggestion: ResetSuggestion) -> ChoiceContext:
        """Remember a suggestion (and that a switch was offered for the running reset)."""
        running = self.running
        if suggestion.switch_from is not None and running is not None:
            running = replace(running, switch_offered=True)
        return replace(self, suggested=(*self.suggested, suggestion.reset_id), running=running)

    def with_dismissal(self, t_s: float) -> ChoiceContext:
        """"Not now" at ``t_s`` (s): a quiet period starts."""
        return replace(self, quiet_until_s=t_s + self.policy.quiet_period_s)

    def with_start(self, reset_id: str, t_s: float, index: float | None = None) -> ChoiceContext:
        """A reset started at ``t_s`` (s) with the index A at ``index``; ends any quiet period."""
        return replace(self, running=RunningReset(reset_id, t_s, index), quiet_until_s=None)

    def with_end(self, t_s: float, index: float | None = None) -> ChoiceContext:
        """The running reset ended at ``t_s`` (s); remember it if it ran long without helping."""
        running = self.running
        if running is None:
            return self
        not_helped = self.not_helped
        if (t_s - running.started_t_s >= self.policy.check_after_s
                and _moved(running, index, self.policy) is False
                and running.reset_id not in not_helped):
            not_helped = (*not_helped, running.reset_id)
        return replace(self, running=None, not_helped=not_helped)


def _moved(running: RunningReset, index: float | None, policy: ChoicePolicy) -> bool | None:
    """Whether the index dropped enough since the start; None when either value is unknown."""
    if running.index_at_start is None or index is None:
        return None
    return running.index_at_start - index >= policy.moved_index


def _ranked(order: tuple[str, ...], plan: Plan | None, allow: set[str]) -> list[Reset]:
    """Resets in plan preference order, then ``order``; only ids in ``allow``."""
    pool = [get_reset(i) for i in order] + [r for r in LIBRARY if r.id not in order]
    pool = [r for r in pool if r.id in allow]
    if plan is None:
        return pool

    def key(item: tuple[int, Reset]) -> tuple[int, int]:
        position, reset = item
        rank = plan.preference_rank(reset)
        return (len(plan.preferred) if rank is None else rank, position)

    return [r for _, r in sorted(enumerate(pool), key=key)]


def _eligible(ctx: ChoiceContext, plan: Plan | None, gentle: bool) -> set[str]:
    ids: set[str] = set()
    for reset in LIBRARY:
        if plan is not None and plan.avoids(reset):
            continue
        if reset.kind is ResetKind.RITUAL and (plan is None or reset.id not in plan.preferred):
            continue
        if reset.id in ctx.not_helped or (gentle and reset.has_hold):
            continue
        ids.add(reset.id)
    return ids


def _pace(reset: Reset, plan: Plan | None) -> float | None:
    return plan.breaths_per_min if plan is not None and reset.adjustable_pace else None


def _switch(ctx: ChoiceContext, running: RunningReset, now_s: float, index: float | None,
            plan: Plan | None) -> ResetSuggestion | None:
    try:
        current = get_reset(running.reset_id)
    except UnknownReset:
        return None
    if (running.switch_offered or current.moves_body
            or now_s - running.started_t_s < ctx.policy.check_after_s
            or _moved(running, index, ctx.policy) is not False):
        return None
    allow = _eligible(ctx, plan, gentle=False) - {current.id}
    ranked = _ranked(DEFAULT_ORDER, plan, allow)
    for kind in _SWITCH_KINDS[current.kind]:
        for reset in ranked:
            if reset.kind is kind:
                reason = (f"{current.title} hasn't shifted things much yet, and that's okay. "
                          f"If you like, {reset.short_name} might suit you better right now; "
                          "or simply carry on.")
                return ResetSuggestion(now_s, reset.id, reset.kind, reason,
                                       switch_from=current.id, breaths_per_min=_pace(reset, plan))
    return None


def choose_reset(
    ctx: ChoiceContext,
    now_s: float,
    *,
    index: float | None = None,
    gentle: bool = False,
    plan: Plan | None = None,
) -> ResetSuggestion | None:
    """The reset to offer at ``now_s`` (s) given the index A (or None), or None for no offer."""
    if ctx.quiet_until_s is not None and now_s < ctx.quiet_until_s:
        return None
    if ctx.running is not None:
        return _switch(ctx, ctx.running, now_s, index, plan)
    allow = _eligible(ctx, plan, gentle)
    if not allow:
        return None
    ranked = _ranked(GENTLE_ORDER if gentle else DEFAULT_ORDER, plan, allow)
    if gentle and ctx.suggested and len(ranked) > 1:
        ranked = [r for r in ranked if r.id != ctx.suggested[-1]]
    reset = ranked[0]
    from_plan = plan is not None and plan.preference_rank(reset) is not None
    if gentle:
        reason = ("Still a little above your usual calm; there's nothing you need to do. "
                  f"If you like, {reset.short_name} is a gentle option.")
    else:
        reason = ("Your body seems more activated than your usual calm. If you like, "
                  f"{reset.short_name} can help it come down a little.")
    if from_plan:
        reason += " It's one of the resets in your plan."
    return ResetSuggestion(now_s, reset.id, reset.kind, reason, gentle=gentle,
                           breaths_per_min=_pace(reset, plan))


def closing_suggestion(now_s: float, plan: Plan | None = None) -> ResetSuggestion | None:
    """Offer the closing ritual at the end of a session (None when the plan avoids it)."""
    reset = get_reset("closing_ritual")
    if plan is not None and plan.avoids(reset):
        return None
    reason = ("The session is over. If you like, a few quiet minutes can mark its end before "
              "you go back to your day.")
    return ResetSuggestion(now_s, reset.id, reset.kind, reason, gentle=True,
                           breaths_per_min=_pace(reset, plan))
