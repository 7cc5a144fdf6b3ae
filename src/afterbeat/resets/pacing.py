"""Pacing as a timeline: a breathing pattern plus a start time; the phase follows the clock.

Pure code: every function takes the time (``t_s``) as an argument; nothing here reads a clock.

The server sends ``Timeline.to_json()``; the page computes the phase from its own clock with
exactly this arithmetic (all times in seconds on the clock named by ``"clock"``; with
``"clock": "unix"`` use ``Date.now() / 1000``)::

    cycle_s   = sum of phases[i].duration_s
    elapsed_s = max(0, t_s - start_s)                # start_s is the pattern's anchor
    k         = floor(elapsed_s / cycle_s)
    pos_s     = elapsed_s - k * cycle_s              # 0 <= pos_s < cycle_s
    cycle     = cycle_base + k
    offset_i  = sum of durations of phases before i
    i         = first phase with pos_s < offset_i + duration_i (the last phase if none)
    progress  = (pos_s - offset_i) / duration_i      # 0-1 within the phase
    remaining = offset_i + duration_i - pos_s        # seconds left in the phase
    finished  = end_s is not null and t_s >= end_s

Prompts (movement and sensory resets, and spoken cues for any reset) count from ``origin_s``,
the moment the reset began, which a pattern change never moves: the current prompt is the
last one with ``offset_s <= t_s - origin_s``. A timeline without a pattern (``"pattern":
null``) is a plain timer with prompts.

Changing the pattern mid-reset (``change_pattern``) returns a new timeline whose anchor is
chosen so that, at the moment of the change, the new pattern is in the same direction of
breath with the same progress (a hold maps to the start of the breath that follows it): the
shape on the page continues without a jump, and the cycle count carries on.

References: OpenHRV ``pacer.py`` (pattern as a function of real time, not of frames).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from afterbeat.errors import AfterbeatError

__all__ = [
    "Direction",
    "Pattern",
    "PatternError",
    "Phase",
    "PhaseState",
    "Prompt",
    "Timeline",
    "change_pattern",
    "phase_at",
    "prompt_at",
    "start_timeline",
]


class PatternError(AfterbeatError, ValueError):
    """A breathing pattern or timeline that cannot be paced (empty, or a phase of zero length)."""


class Direction(enum.StrEnum):
    """Where the breath is going in a phase."""

    INHALE = "inhale"
    HOLD = "hold"
    EXHALE = "exhale"


@dataclass(frozen=True, slots=True)
class Phase:
    """One phase of a breathing cycle: a name shown to the person, a length (s), a direction."""

    name: str
    duration_s: float
    direction: Direction

    def __post_init__(self) -> None:
        if not math.isfinite(self.duration_s) or self.duration_s <= 0:
            raise PatternError(f"phase {self.name!r}: duration_s must be > 0, "
                               f"got {self.duration_s!r}")


@dataclass(frozen=True, slots=True)
class Pattern:
    """A repeating breathing cycle made of phases (at least one)."""

    phases: tuple[Phase, ...]

    def __post_init__(self) -> None:
        if not self.phases:
            raise PatternError("a pattern needs at least one phase")

    @property
    def cycle_s(self) -> float:
        """Length of one cycle (s)."""
        return math.fsum(p.duration_s for p in self.phases)

    @property
    def breaths_per_min(self) -> float:
        """Cycles per minute."""
        return 60.0 / self.cycle_s

    @property
    def has_hold(self) -> bool:
        """True when the pattern holds the breath (not for everyone)."""
        return any(p.direction is Direction.HOLD for p in self.phases)

    def to_json(self) -> dict[str, Any]:
        """JSON object: phases with name, duration_s and direction, plus cycle_s."""
        return {
            "phases": [{"name": p.name, "duration_s": p.duration_s,
                        "direction": str(p.direction)} for p in self.phases],
            "cycle_s": self.cycle_s,
        }

    @classmethod
    def of(cls, *phases: tuple[str, float, str]) -> Pattern:
        """Build from (name, duration_s, direction) triples."""
        return cls(tuple(Phase(n, float(d), Direction(x)) for n, d, x in phases))


@dataclass(frozen=True, slots=True)
class Prompt:
    """Words shown (or spoken) ``offset_s`` seconds after the reset began."""

    offset_s: float
    text: str


@dataclass(frozen=True, slots=True)
class Timeline:
    """A reset in time: pattern anchored at start_s, prompts counted from origin_s (s)."""

    pattern: Pattern | None
    start_s: float
    """Anchor of the pattern: cycle ``cycle_base`` began here."""
    origin_s: float
    """When the reset began; prompts and elapsed time count from here."""
    end_s: float | None = None
    """When the reset is planned to end (None: open-ended)."""
    cycle_base: int = 0
    prompts: tuple[Prompt, ...] = field(default=())
    reset_id: str | None = None

    def to_json(self, unix_offset_s: float | None = None) -> dict[str, Any]:
        """What the server sends; with ``unix_offset_s`` (Unix time of t_s = 0) times are Unix s."""
        shift = 0.0 if unix_offset_s is None else unix_offset_s
        return {
            "reset_id": self.reset_id,
            "clock": "session" if unix_offset_s is None else "unix",
            "pattern": None if self.pattern is None else self.pattern.to_json(),
            "start_s": self.start_s + shift,
            "origin_s": self.origin_s + shift,
            "end_s": None if self.end_s is None else self.end_s + shift,
            "cycle_base": self.cycle_base,
            "prompts": [{"offset_s": p.offset_s, "text": p.text} for p in self.prompts],
        }


@dataclass(frozen=True, slots=True)
class PhaseState:
    """Where the pacer is at one moment: phase, progress (0-1), seconds left, cycle number."""

    phase: Phase
    index: int
    """Position of ``phase`` in the pattern."""
    progress: float
    remaining_s: float
    cycle: int
    elapsed_s: float
    """Seconds since the reset began (origin_s), never negative."""
    finished: bool


def start_timeline(
    pattern: Pattern | None,
    start_s: float,
    *,
    duration_s: float | None = None,
    prompts: Sequence[Prompt] = (),
    reset_id: str | None = None,
) -> Timeline:
    """A new timeline beginning at ``start_s`` (s) and ending ``duration_s`` later (None: open)."""
    if duration_s is not None and not duration_s > 0:
        raise PatternError(f"duration_s must be > 0, got {duration_s!r}")
    end_s = None if duration_s is None else start_s + duration_s
    ordered = tuple(sorted(prompts, key=lambda p: p.offset_s))
    return Timeline(pattern=pattern, start_s=start_s, origin_s=start_s, end_s=end_s,
                    prompts=ordered, reset_id=reset_id)


def _locate(pattern: Pattern, pos_s: float) -> tuple[int, float]:
    offset_s = 0.0
    last = len(pattern.phases) - 1
    for i, phase in enumerate(pattern.phases):
        if pos_s < offset_s + phase.duration_s or i == last:
            return i, offset_s
        offset_s += phase.duration_s
    raise AssertionError("unreachable")  # pragma: no cover


def phase_at(timeline: Timeline, t_s: float) -> PhaseState:
    """The pacer's state at clock time ``t_s`` (s), by the formula in the module docstring."""
    pattern = timeline.pattern
    if pattern is None:
        raise PatternError("this timeline is a timer without a breathing pattern")
    cycle_s = pattern.cycle_s
    # Rounded to 1 ns: a timeline re-anchored at t_s - pos_s must read pos_s back exactly, not
    # a hair before a phase edge (floating-point subtraction), or the pacer shows the old phase.
    elapsed_s = round(max(0.0, t_s - timeline.start_s), 9)
    k = math.floor(elapsed_s / cycle_s)
    pos_s = elapsed_s - k * cycle_s
    if pos_s >= cycle_s:  # float rounding at a cycle edge
        k, pos_s = k + 1, 0.0
    i, offset_s = _locate(pattern, pos_s)
    phase = pattern.phases[i]
    progress = min(1.0, max(0.0, (pos_s - offset_s) / phase.duration_s))
    remaining_s = max(0.0, offset_s + phase.duration_s - pos_s)
    return PhaseState(
        phase=phase, index=i, progress=progress, remaining_s=remaining_s,
        cycle=timeline.cycle_base + k, elapsed_s=max(0.0, t_s - timeline.origin_s),
        finished=timeline.end_s is not None and t_s >= timeline.end_s,
    )


def prompt_at(timeline: Timeline, t_s: float) -> Prompt | None:
    """The latest prompt due at ``t_s`` (s), or None before the first one."""
    since_s = t_s - timeline.origin_s
    current: Prompt | None = None
    for prompt in timeline.prompts:
        if prompt.offset_s <= since_s:
            current = prompt
        else:
            break
    return current


def _run(pattern: Pattern, i: int) -> tuple[int, int]:
    """First and last index of the run of same-direction phases holding phase ``i``."""
    d = pattern.phases[i].direction
    first, last = i, i
    while first > 0 and pattern.phases[first - 1].direction is d:
        first -= 1
    while last < len(pattern.phases) - 1 and pattern.phases[last + 1].direction is d:
        last += 1
    return first, last


def _breath_before(pattern: Pattern, i: int) -> Direction | None:
    n = len(pattern.phases)
    for step in range(1, n + 1):
        d = pattern.phases[(i - step) % n].direction
        if d is not Direction.HOLD:
            return d
    return None


def _breath_after(pattern: Pattern, i: int) -> Direction | None:
    n = len(pattern.phases)
    for step in range(1, n + 1):
        d = pattern.phases[(i + step) % n].direction
        if d is not Direction.HOLD:
            return d
    return None


def _find(pattern: Pattern, direction: Direction, after: Direction | None) -> int | None:
    for j, phase in enumerate(pattern.phases):
        if phase.direction is direction and (
            direction is not Direction.HOLD or _breath_before(pattern, j) is after
        ):
            return j
    return None


def _offset(pattern: Pattern, i: int) -> float:
    return math.fsum(p.duration_s for p in pattern.phases[:i])


def _run_fraction(pattern: Pattern, state: PhaseState) -> float:
    first, last = _run(pattern, state.index)
    run_s = math.fsum(p.duration_s for p in pattern.phases[first:last + 1])
    into_s = _offset(pattern, state.index) - _offset(pattern, first)
    return min(1.0, (into_s + state.progress * state.phase.duration_s) / run_s)


def _position(pattern: Pattern, j: int, fraction: float) -> float:
    first, last = _run(pattern, j)
    run_s = math.fsum(p.duration_s for p in pattern.phases[first:last + 1])
    return _offset(pattern, first) + fraction * run_s


def change_pattern(timeline: Timeline, pattern: Pattern, t_s: float) -> Timeline:
    """A timeline pacing ``pattern`` from ``t_s`` (s) on, continuing the breath without a jump.

    The new pattern starts in the same direction of breath, the same fraction of the way
    through it (a run of same-direction phases counts as one); a hold continues as the hold
    after the same breath, or, when the new pattern has none, as the start of the next breath.
    """
    old_pattern = timeline.pattern
    if old_pattern is None:
        return Timeline(pattern=pattern, start_s=t_s, origin_s=timeline.origin_s,
                        end_s=timeline.end_s, cycle_base=0, prompts=timeline.prompts,
                        reset_id=timeline.reset_id)
    old = phase_at(timeline, t_s)
    direction = old.phase.direction
    fraction = _run_fraction(old_pattern, old)
    after = _breath_before(old_pattern, old.index) if direction is Direction.HOLD else None
    j = _find(pattern, direction, after)
    if j is None and direction is Direction.HOLD:
        following = _breath_after(old_pattern, old.index)
        j = None if following is None else _find(pattern, following, None)
        fraction = 0.0
    pos_s = 0.0 if j is None else _position(pattern, j, fraction)
    if pos_s >= pattern.cycle_s:
        pos_s = 0.0
    return Timeline(pattern=pattern, start_s=t_s - pos_s, origin_s=timeline.origin_s,
                    end_s=timeline.end_s, cycle_base=old.cycle, prompts=timeline.prompts,
                    reset_id=timeline.reset_id)
