"""The library of resets as typed data: breathing, movement, sensory, and a closing ritual.

Pure data and small pure helpers. The words are afterbeat's own: plain and warm, no promises
and no fix-it prompts. Whatever came up in the session can keep unfolding later; a reset only
helps the body come down a little. Choosing among resets lives in ``afterbeat.resets.choice``.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any, Final

from afterbeat.errors import AfterbeatError
from afterbeat.resets.pacing import Pattern, Prompt, Timeline, start_timeline

__all__ = [
    "LIBRARY",
    "RESONANCE_DEFAULT_BREATHS_PER_MIN",
    "RESONANCE_MAX_BREATHS_PER_MIN",
    "RESONANCE_MIN_BREATHS_PER_MIN",
    "PaceOutOfRange",
    "Reset",
    "ResetKind",
    "UnknownReset",
    "get_reset",
    "library_json",
    "resonance_pattern",
    "timeline_for",
]

RESONANCE_DEFAULT_BREATHS_PER_MIN: Final = 6.0
RESONANCE_MIN_BREATHS_PER_MIN: Final = 4.5
RESONANCE_MAX_BREATHS_PER_MIN: Final = 7.0
INHALE_SHARE: Final = 0.4
"""Resonance breathing: share of the cycle spent breathing in (4 s of 10 s at 6/min)."""


class UnknownReset(AfterbeatError, KeyError):
    """A reset id that is not in the library."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown reset"


class PaceOutOfRange(AfterbeatError, ValueError):
    """A resonance pace outside 4.5-7 breaths per minute."""


class ResetKind(enum.StrEnum):
    """What kind of reset it is."""

    BREATHING = "breathing"
    MOVEMENT = "movement"
    SENSORY = "sensory"
    RITUAL = "ritual"


@dataclass(frozen=True, slots=True)
class Reset:
    """One reset: id, words for the person, length (s), cautions, and its pattern or prompts."""

    id: str
    title: str
    short_name: str
    """Lower-case name used in sentences ("walking has settled you fastest")."""
    kind: ResetKind
    instructions: tuple[str, ...]
    duration_s: float
    cautions: tuple[str, ...]
    pattern: Pattern | None = None
    prompts: tuple[Prompt, ...] = ()
    adjustable_pace: bool = False
    """True for resonance breathing: the pace can be set between 4.5 and 7 breaths/min."""

    @property
    def has_hold(self) -> bool:
        """True when the breathing pattern holds the breath."""
        return self.pattern is not None and self.pattern.has_hold

    @property
    def moves_body(self) -> bool:
        """True for movement resets: the arousal index pauses while they run."""
        return self.kind is ResetKind.MOVEMENT

    def to_json(self) -> dict[str, Any]:
        """JSON object for ``GET /api/resets``."""
        return {
            "id": self.id,
            "title": self.title,
            "short_name": self.short_name,
            "kind": str(self.kind),
            "instructions": list(self.instructions),
            "duration_s": self.duration_s,
            "cautions": list(self.cautions),
            "pattern": None if self.pattern is None else self.pattern.to_json(),
            "prompts": [{"offset_s": p.offset_s, "text": p.text} for p in self.prompts],
            "adjustable_pace": self.adjustable_pace,
            "has_hold": self.has_hold,
            "pace_range_breaths_per_min": (
                [RESONANCE_MIN_BREATHS_PER_MIN, RESONANCE_MAX_BREATHS_PER_MIN]
                if self.adjustable_pace else None
            ),
        }


def resonance_pattern(breaths_per_min: float = RESONANCE_DEFAULT_BREATHS_PER_MIN) -> Pattern:
    """Resonance breathing at ``breaths_per_min`` (4.5-7): 40 % breathing in, 60 % out."""
    if not (math.isfinite(breaths_per_min)
            and RESONANCE_MIN_BREATHS_PER_MIN <= breaths_per_min <= RESONANCE_MAX_BREATHS_PER_MIN):
        raise PaceOutOfRange(
            f"breaths_per_min must be between {RESONANCE_MIN_BREATHS_PER_MIN} and "
            f"{RESONANCE_MAX_BREATHS_PER_MIN}, got {breaths_per_min!r}")
    cycle_s = 60.0 / breaths_per_min
    inhale_s = round(cycle_s * INHALE_SHARE, 3)
    return Pattern.of(("Breathe in", inhale_s, "inhale"),
                      ("Breathe out", round(cycle_s - inhale_s, 3), "exhale"))


_STOP_IF_DIZZY = "If you feel dizzy or light-headed, stop and let your breath find its own pace."
_HOLDS = ("Holding the breath is not for everyone. If a hold feels tight or unpleasant, skip the "
          "hold and simply breathe in and out slowly instead.")
_ENOUGH = "Nothing has to be sorted out right now. Whatever came up can keep unfolding later."


def _p(*items: tuple[float, str]) -> tuple[Prompt, ...]:
    return tuple(Prompt(float(o), t) for o, t in items)


LIBRARY: Final[tuple[Reset, ...]] = (
    Reset(
        id="resonance", title="Slow, even breathing", short_name="slow, even breathing",
        kind=ResetKind.BREATHING, duration_s=300.0, adjustable_pace=True,
        pattern=resonance_pattern(),
        instructions=(
            "Sit or lie in a way that feels supported.",
            "Breathe in gently through your nose as the shape grows, and let the breath out "
            "slowly as it shrinks. The out-breath is a little longer than the in-breath.",
            "There is no need to breathe deeply; soft and slow is enough.",
            _ENOUGH,
        ),
        cautions=(_STOP_IF_DIZZY,
                  "If the pace feels too slow, make it a little quicker; comfort comes first."),
    ),
    Reset(
        id="cyclic_sighing", title="Cyclic sighing", short_name="cyclic sighing",
        kind=ResetKind.BREATHING, duration_s=300.0,
        pattern=Pattern.of(("Breathe in", 2.5, "inhale"), ("A little more in", 1.0, "inhale"),
                           ("Long, slow breath out", 6.5, "exhale")),
        instructions=(
            "Breathe in through your nose, then take a second, smaller sip of air on top.",
            "Let it all go in a long, unhurried breath out through your mouth, like a sigh.",
            "Let each sigh be as soft as you like.",
            _ENOUGH,
        ),
        cautions=(_STOP_IF_DIZZY,),
    ),
    Reset(
        id="box", title="Box breathing", short_name="box breathing",
        kind=ResetKind.BREATHING, duration_s=240.0,
        pattern=Pattern.of(("Breathe in", 4.0, "inhale"), ("Hold", 4.0, "hold"),
                           ("Breathe out", 4.0, "exhale"), ("Hold", 4.0, "hold")),
        instructions=(
            "Breathe in for four, hold for four, breathe out for four, rest for four.",
            "Follow the shape around its four sides at your own comfort.",
            _ENOUGH,
        ),
        cautions=(_HOLDS, _STOP_IF_DIZZY),
    ),
    Reset(
        id="four_seven_eight", title="4-7-8 breathing", short_name="4-7-8 breathing",
        kind=ResetKind.BREATHING, duration_s=180.0,
        pattern=Pattern.of(("Breathe in", 4.0, "inhale"), ("Hold", 7.0, "hold"),
                           ("Breathe out", 8.0, "exhale")),
        instructions=(
            "Breathe in quietly through your nose for four.",
            "Hold for seven, then breathe out slowly through your mouth for eight.",
            "A few rounds are plenty.",
            _ENOUGH,
        ),
        cautions=(_HOLDS, _STOP_IF_DIZZY,
                  "The long hold can feel like a lot; shorten it whenever you need to."),
    ),
    Reset(
        id="extended_exhale", title="Longer breath out", short_name="breathing out longer",
        kind=ResetKind.BREATHING, duration_s=240.0,
        pattern=Pattern.of(("Breathe in", 4.0, "inhale"), ("Breathe out", 8.0, "exhale")),
        instructions=(
            "Breathe in easily for four, and let the breath out for about twice as long.",
            "Purse your lips a little if that helps the out-breath stay slow.",
            _ENOUGH,
        ),
        cautions=(_STOP_IF_DIZZY,),
    ),
    Reset(
        id="walk", title="A five-minute walk", short_name="walking",
        kind=ResetKind.MOVEMENT, duration_s=300.0,
        prompts=_p((0, "Head out at an easy pace, indoors or outside."),
                   (60, "Notice your feet meeting the ground."),
                   (150, "Let your arms swing a little. Look around: what colours can you see?"),
                   (240, "One more minute. Slow down gradually whenever you like."),
                   (300, "That's five minutes. Come to a gentle stop.")),
        instructions=(
            "Walk at whatever pace feels right for about five minutes.",
            "Your heart rate will go up while you move; afterbeat pauses its reading and looks "
            "again a few minutes after you stop.",
            _ENOUGH,
        ),
        cautions=("Choose a safe place to walk, and skip this if moving is uncomfortable today.",),
    ),
    Reset(
        id="shake_out", title="Shaking out", short_name="shaking out",
        kind=ResetKind.MOVEMENT, duration_s=120.0,
        prompts=_p((0, "Stand up if you can and let your hands shake loosely."),
                   (20, "Let the shaking travel up your arms into your shoulders."),
                   (45, "Now one leg, then the other, as if shaking off water."),
                   (75, "The whole body, as loose as feels okay."),
                   (100, "Let it slow down, and come to stillness."),
                   (120, "Notice how your body feels now.")),
        instructions=(
            "Shake out your hands, arms and legs, loosely and without effort.",
            "Sitting works too: shake your hands and bounce your feet.",
            _ENOUGH,
        ),
        cautions=("Keep it gentle and stop if anything hurts.",),
    ),
    Reset(
        id="stretch", title="Gentle stretching", short_name="gentle stretching",
        kind=ResetKind.MOVEMENT, duration_s=300.0,
        prompts=_p((0, "Roll your shoulders slowly, forwards and back."),
                   (60, "Let your head tip gently to one side, then the other."),
                   (120, "Reach both arms up, then let them float down."),
                   (180, "Fold forwards a little, knees soft, and hang there easily."),
                   (240, "Come back up slowly. Stretch whatever wants stretching."),
                   (300, "Rest for a moment and notice your body.")),
        instructions=(
            "Move slowly into each stretch, only as far as is comfortable.",
            "Breathe out as you ease into a stretch.",
            _ENOUGH,
        ),
        cautions=("Never push into pain; smaller is fine.",),
    ),
    Reset(
        id="muscle_release", title="Tense and release with the breath",
        short_name="tense and release", kind=ResetKind.BREATHING, duration_s=360.0,
        pattern=Pattern.of(("Breathe in and tense", 5.0, "inhale"),
                           ("Breathe out and let go", 10.0, "exhale")),
        prompts=_p((0, "Hands: make fists as you breathe in, let them open as you breathe out."),
                   (45, "Arms: tighten your upper arms breathing in, release breathing out."),
                   (90, "Shoulders: lift them towards your ears, then let them drop."),
                   (135, "Face: scrunch it up gently, then let it soften."),
                   (180, "Belly: tighten a little, then release."),
                   (225, "Legs: press your feet into the floor, then let go."),
                   (270, "Whole body: tense everything softly, then let it all go."),
                   (315, "Just breathe now and notice the difference.")),
        instructions=(
            "Tense one group of muscles as you breathe in, and let it go as you breathe out.",
            "Use about half your strength; the letting go is the important part.",
            _ENOUGH,
        ),
        cautions=("Skip any area that is sore or injured.", _STOP_IF_DIZZY),
    ),
    Reset(
        id="cold_water", title="Cool water on the wrists", short_name="cool water",
        kind=ResetKind.SENSORY, duration_s=120.0,
        prompts=_p((0, "Run cool water over your wrists, or hold something cold like an ice pack."),
                   (30, "Notice the coolness. Where do you feel it?"),
                   (60, "Try the back of your neck or your face if you like."),
                   (90, "Let your breath slow down while you notice the cool."),
                   (120, "Dry your hands and take a moment.")),
        instructions=(
            "Cool water or something cold on the wrists or face can help the body settle.",
            "Cool, not painfully cold.",
            _ENOUGH,
        ),
        cautions=("Skip ice if you have trouble with circulation or sensitive skin; cool water "
                  "is enough. Never hold ice directly on skin for long.",),
    ),
    Reset(
        id="closing_ritual", title="Closing ritual", short_name="the closing ritual",
        kind=ResetKind.RITUAL, duration_s=420.0, pattern=resonance_pattern(), adjustable_pace=True,
        prompts=_p((0, "Find a comfortable seat. The session is over; you can set it down."),
                   (60, "Feel your feet on the floor and the seat holding you."),
                   (120, "Name five things you can see around you."),
                   (180, "Let your breath follow the slow shape for a few rounds."),
                   (300, "Think of one kind thing you will do for yourself today."),
                   (390, "When you are ready, stretch and get up slowly.")),
        instructions=(
            "A few quiet minutes to mark the end of the session and come back to your day.",
            "Go at your own pace; you can stop at any point.",
            _ENOUGH,
        ),
        cautions=(_STOP_IF_DIZZY,),
    ),
)

_BY_ID: Final[dict[str, Reset]] = {r.id: r for r in LIBRARY}


def get_reset(reset_id: str) -> Reset:
    """The reset with this id; raises UnknownReset naming the known ids."""
    try:
        return _BY_ID[reset_id]
    except KeyError:
        raise UnknownReset(f"unknown reset {reset_id!r}; known: {', '.join(_BY_ID)}") from None


def library_json() -> list[dict[str, Any]]:
    """The whole library as JSON objects (``GET /api/resets``)."""
    return [r.to_json() for r in LIBRARY]


def timeline_for(
    reset_id: str, start_s: float, *, breaths_per_min: float | None = None
) -> Timeline:
    """The pacing timeline of a reset starting at ``start_s`` (s); pace only for resonance."""
    reset = get_reset(reset_id)
    pattern = reset.pattern
    if breaths_per_min is not None:
        if not reset.adjustable_pace:
            raise PaceOutOfRange(f"the pace of {reset_id!r} cannot be adjusted")
        pattern = resonance_pattern(breaths_per_min)
    return start_timeline(pattern, start_s, duration_s=reset.duration_s,
                          prompts=reset.prompts, reset_id=reset.id)
