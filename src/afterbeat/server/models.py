"""Request and response bodies of the local JSON API (pydantic models; the OpenAPI schema).

Every request model forbids unknown fields and constrains each value, so wrong input gets a
422 naming the field and never reaches the stores or the pipeline.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    ValidationInfo,
    field_validator,
)

from afterbeat.resets.library import LIBRARY
from afterbeat.summary import DEFAULT_SINCE_DAYS

__all__ = [
    "NoteRef",
    "PlanTextIn",
    "ResonancePaceIn",
    "ResonanceStartIn",
    "SummaryIn",
    "BaselineDeletedOut",
    "BaselineOut",
    "DeletedOut",
    "DismissedOut",
    "ErrorOut",
    "LaunchOut",
    "RatingOut",
    "ResetStartedOut",
    "ResetStoppedOut",
    "SessionDetailOut",
    "TimelineOut",
    "MarkerIn",
    "MarkerOut",
    "PersonSettings",
    "ResetPaceIn",
    "ResetRateIn",
    "ResetStartIn",
    "ResetStopIn",
    "SessionOut",
    "StatusOut",
    "SuggestionDismissIn",
]

MAX_TEXT = 2000
_RESET_ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_RESET_IDS: dict[str, JsonValue] = {"enum": [r.id for r in LIBRARY]}


def _whole(value: object) -> object:
    """JSON Schema counts 3.0 as an integer: accept it as 3 (but never true/false)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole)]

class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ErrorOut(BaseModel):
    """An error: what went wrong in words, and a short machine code."""

    detail: str
    error: str | None = None


class MarkerIn(_In):
    """A moment the person marks; ``rating`` needs ``value`` (0-10), ``note`` needs ``text``."""

    kind: Literal["baseline_start", "baseline_end", "session_start", "session_end",
                  "moving_start", "moving_end", "note", "rating"]
    value: float | None = Field(default=None, ge=0, le=10, allow_inf_nan=False,
                                validate_default=True)
    """0-10, only for ``rating`` (how stirred up you feel: 0 calm, 10 very)."""
    text: str | None = Field(default=None, max_length=MAX_TEXT, validate_default=True)

    @field_validator("value", mode="after")
    @classmethod
    def _value_only_for_ratings(cls, value: float | None, info: ValidationInfo
                                ) -> float | None:
        rating = info.data.get("kind") == "rating"
        if rating and value is None:
            raise ValueError("a rating needs a value from 0 to 10")
        if not rating and value is not None:
            raise ValueError("only a rating takes a value")
        return value

    @field_validator("text", mode="after")
    @classmethod
    def _note_needs_text(cls, text: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("kind") == "note" and not (text and text.strip()):
            raise ValueError("a note needs some text")
        return text


class MarkerOut(BaseModel):
    """The marker as recorded: session time (s), kind, value, text."""

    t_s: float
    kind: str
    value: float | None = None
    text: str | None = None
    recorded: bool
    """False when no recording is running (the live view still got it)."""


class ResetStartIn(_In):
    """Start a reset from the library; ``breaths_per_min`` adjusts resonance breathing only."""

    reset_id: str = Field(pattern=_RESET_ID, json_schema_extra=_RESET_IDS)
    breaths_per_min: float | None = Field(default=None, ge=4.5, le=7.0, allow_inf_nan=False)


class ResetPaceIn(_In):
    """A new pace for the running resonance reset (breaths per minute, 4.5-7)."""

    breaths_per_min: float = Field(ge=4.5, le=7.0, allow_inf_nan=False)


class ResetStopIn(_In):
    """Stop the running reset (finished, or stopped early)."""

    finished: bool = False


class ResetRateIn(_In):
    """A 0-10 self-rating before or after a reset (how activated you feel)."""

    rating: WholeNumber = Field(ge=0, le=10)
    when: Literal["before", "after"]
    reset_id: str | None = Field(default=None, pattern=_RESET_ID)


class SuggestionDismissIn(_In):
    """"Not now" for the current suggestion (an empty object)."""


class PersonSettings(_In):
    """The person's display settings kept in the data folder."""

    locale: str = Field(default="en-US", pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")
    audio_cues: bool = False
    vibration: bool = False
    show_numbers: bool = True
    breaths_per_min: float = Field(default=6.0, ge=4.5, le=7.0, allow_inf_nan=False)
    chart_minutes: WholeNumber = Field(default=10, ge=2, le=60)


class SessionOut(BaseModel):
    """One recorded session in the history list (times UTC ISO 8601, length in s)."""

    id: int
    started_at: str
    ended_at: str | None = None
    duration_s: float | None = None
    status: Literal["recording", "complete", "interrupted"]
    notifications: int
    source: str
    device_name: str | None = None
    live: bool
    """True for the session being recorded right now (it cannot be deleted)."""
    problems: list[str] = []
    """What of this session's stored row cannot be read (damaged); it still deletes."""


class SessionDetailOut(SessionOut):
    """One session with its stored results (recovery, reset effects, ...)."""

    results: dict[str, Any]


class DeletedOut(BaseModel):
    """A session erased: rows gone; ``wal_emptied`` when the write-ahead log was scrubbed."""

    id: int
    deleted: bool
    wal_emptied: bool


class PromptOut(BaseModel):
    """A prompt shown ``offset_s`` seconds after the reset began."""

    offset_s: float
    text: str


class PhaseOut(BaseModel):
    """One phase of a breathing pattern (s)."""

    name: str
    duration_s: float
    direction: Literal["inhale", "hold", "exhale"]


class PatternOut(BaseModel):
    """A breathing pattern: its phases and the cycle length (s)."""

    phases: list[PhaseOut]
    cycle_s: float


class TimelineOut(BaseModel):
    """A reset in time (Unix seconds); the page computes the phase from its clock."""

    reset_id: str | None
    clock: Literal["unix", "session"]
    pattern: PatternOut | None
    start_s: float
    origin_s: float
    end_s: float | None
    cycle_base: int
    prompts: list[PromptOut]


class ResetStartedOut(BaseModel):
    """The running reset: id, session time it began (s), its library entry and timeline."""

    reset_id: str
    t_s: float
    reset: dict[str, Any]
    timeline: TimelineOut


class ResetStoppedOut(BaseModel):
    """The reset that ended: session time (s), whether it ran to its end, its length (s)."""

    reset_id: str
    t_s: float
    finished: bool
    duration_s: float


class RatingOut(BaseModel):
    """A recorded self-rating (0-10)."""

    t_s: float
    rating: int
    when: Literal["before", "after"]
    reset_id: str | None


class DismissedOut(BaseModel):
    """"Not now" noted at session time ``t_s`` (s)."""

    t_s: float
    dismissed: bool


class BaselineOut(BaseModel):
    """The stored resting baseline (its document, or None) and a plain description of it."""

    baseline: dict[str, Any] | None
    description: str
    provisional: bool | None
    """True until ``recordings_needed`` resting recordings are in it."""
    recording_count: int
    recordings_needed: int


class BaselineDeletedOut(BaseModel):
    """The baseline was reset; ``deleted`` is False when there was none."""

    deleted: bool


class LaunchOut(BaseModel):
    """A one-time link that logs a browser in."""

    url: str


class RecordingOut(BaseModel):
    """The recording now: session id, whether writes fail, samples not recorded."""

    active: bool
    session_id: int | None = None
    failing: bool = False
    unrecorded: int = 0
    error: str | None = None


class StatusOut(BaseModel):
    """Everything the status line shows: source, connection, battery, recording, baseline."""

    version: str
    demo: bool
    source: str
    connection: dict[str, Any]
    battery_pct: int | None
    recording: RecordingOut
    baseline: dict[str, Any] | None
    reset: ResetStartedOut | None
    live: dict[str, Any]
    lan: bool
    notes: list[str] = []
    """Plain sentences about this start (e.g. a saved plan that could not be applied)."""
    rule: dict[str, float]
    """The watch's rule in force: ``settle_hold_s`` (close to the usual this long counts as
    settled) and ``grace_s`` (the quiet watch after a session end), both seconds."""


class ResonanceStartIn(BaseModel):
    """Optional protocol for a new assessment (defaults: the published stepped protocol)."""

    model_config = ConfigDict(extra="forbid")

    rates_bpm: list[Annotated[float, Field(ge=3.0, le=10.0, allow_inf_nan=False)]] | None = \
        Field(default=None, min_length=1, max_length=12)
    block_s: float | None = Field(default=None, ge=10.0, le=600.0, allow_inf_nan=False)
    break_s: float | None = Field(default=None, ge=0.0, le=300.0, allow_inf_nan=False)
    settle_s: float | None = Field(default=None, ge=0.0, le=600.0, allow_inf_nan=False)
    inhale_share: float | None = Field(default=None, ge=0.2, le=0.8, allow_inf_nan=False)
    second_pass: bool = False


class ResonancePaceIn(BaseModel):
    """The default pace for the breathing reset (breaths/min, 4.5-7)."""

    model_config = ConfigDict(extra="forbid")

    breaths_per_min: float = Field(ge=4.5, le=7.0, allow_inf_nan=False)


_MAX_PLAN_TEXT = 64 * 1024


class NoteRef(_In):
    """One note the person ticked: its session and time into the recording (s)."""

    session_id: WholeNumber = Field(ge=1, le=2**53)
    t_s: float = Field(ge=0.0, le=1e9, allow_inf_nan=False)


class SummaryIn(_In):
    """What the summary covers: the period (days), ratings, and the notes the person chose."""

    since_days: float = Field(default=float(DEFAULT_SINCE_DAYS), gt=0.0, le=3660.0,
                              allow_inf_nan=False)
    include_ratings: bool = True
    notes: list[NoteRef] | Literal["all"] = Field(default_factory=list, max_length=1000)


class PlanTextIn(_In):
    """A plan file's text, as the person picked or pasted it."""

    text: str = Field(max_length=_MAX_PLAN_TEXT)
