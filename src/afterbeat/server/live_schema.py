"""The JSON Schema of the live stream: the ``data`` of every ``/api/live`` event, by type.

One model per :class:`afterbeat.events.EventType`, each with the exact keys its event's
``to_json()`` writes plus the hub's ``emitted_at``; extra keys are refused so the schema and the
events cannot drift apart unnoticed (tests validate generated events against it). The flat
events' models are made from their dataclass fields, so a new field is in the schema at once.
Served at ``GET /api/live/schema`` next to the OpenAPI document;
``docs/live-events.schema.json`` is the same document, written by
``python -m afterbeat.server.live_schema``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import fields
from functools import cache
from typing import Annotated, Any, Literal, Union, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

from afterbeat.activation.arousal import Quality
from afterbeat.activation.watch import WatchState
from afterbeat.events import (
    DismissedEvent,
    EventType,
    HeartbeatEvent,
    MarkerEvent,
    MetricsEvent,
    ResetAction,
    StateEvent,
    SuggestionEvent,
)
from afterbeat.resets.library import ResetKind
from afterbeat.server.models import StatusOut, TimelineOut
from afterbeat.sources import ConnectionState

__all__ = ["LIVE_EVENT_MODELS", "live_schema"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")

    emitted_at: float
    """Unix seconds when the hub (or the stream, for hello and heartbeat) sent it."""








_Literal: Any = Literal  # subscripted with each event's name at run time


def _flat(event: type[Any], model_name: str, **types: Any) -> type[_Data]:
    """The data model of a flat event: its ``type`` plus one key per dataclass field (the
    field's own type unless ``types`` names a narrower one), so a new field is never missed."""
    hints = get_type_hints(event)
    definitions: dict[str, Any] = {"type": (_Literal[str(event.type)], ...)}
    for item in fields(event):
        wire = types.get(item.name, hints[item.name])
        definitions[item.name] = (wire, ...)
    model: type[_Data] = create_model(model_name, __base__=_Data, __doc__=event.__doc__,
                                      __module__=__name__, **definitions)
    return model


MetricsData = _flat(MetricsEvent, "MetricsData", quality=Quality, state=WatchState | None)
StateData = _flat(StateEvent, "StateData", state=WatchState, previous=WatchState | None)
SuggestionData = _flat(SuggestionEvent, "SuggestionData", kind=ResetKind)
MarkerData = _flat(MarkerEvent, "MarkerData")
DismissedData = _flat(DismissedEvent, "DismissedData")
HeartbeatData = _flat(HeartbeatEvent, "HeartbeatData")


class RecoveryData(_Data):
    """Recovery after a session end (s, bpm, share 0-1)."""

    type: Literal["recovery"]
    t_s: float
    session_end_s: float
    time_to_settle_s: float | None
    settled_within_grace: bool
    heart_rate_half_recovery_s: float | None
    heart_rate_plateau_bpm: float | None
    heart_rate_residual_bpm: float | None
    ln_rmssd_recovered_share_10min: float | None
    heart_rate_at_end_bpm: float | None
    baseline_heart_rate_bpm: float | None
    notes: list[str]
    settle_hold_s: float | None
    """The settling rule in force: readings close to the usual this long (s)."""
    grace_s: float | None
    """The quiet watch after the session end (s)."""


class BaselineData(_Data):
    """A resting period ended (the new baseline document or why not), or the baseline was reset."""

    type: Literal["baseline"]
    t_s: float
    ok: bool
    reason: str
    baseline: dict[str, Any] | None
    reset: Literal[True] | None = None
    """Present (true) only when the person reset the baseline."""


class WindowData(BaseModel):
    """Medians over one window of a reset (s, index, bpm, ms)."""

    model_config = ConfigDict(extra="forbid")

    start_t_s: float
    end_t_s: float
    samples: int
    index: float | None
    heart_rate_bpm: float | None
    rmssd_ms: float | None
    rmssd_excluded: int
    rmssd_unguarded: int
    respiration_rate_bpm: float | None


class ResetEffectData(_Data):
    """What one reset did: windows before, during and after, ratings, time to settle (s)."""

    type: Literal["reset_effect"]
    t_s: float
    number: int
    reset_id: str
    start_t_s: float
    end_t_s: float | None
    before: WindowData
    during: WindowData | None
    after: WindowData | None
    rating_before: float | None
    rating_after: float | None
    settle_s: float | None
    started_activated: bool
    index_change: float | None
    complete: bool
    final: bool
    settle_hold_s: float | None
    """The settling rule in force: readings close to the usual this long (s)."""


class RecordingData(BaseModel):
    """Whether records go to disk; the recorder's fields once one exists."""

    model_config = ConfigDict(extra="forbid")

    active: bool
    session_id: int | None = None
    failing: bool | None = None
    unrecorded: int | None = None
    error: str | None = None


class StatusData(_Data):
    """The connection (top-level fields), the recording and notes for the person."""

    type: Literal["status"]
    source: str
    state: ConnectionState
    detail: str | None
    attempt: int | None
    next_delay_s: float | None
    battery_pct: int | None
    contact: str | None
    rr_available: bool | None
    device_name: str | None
    session_t_s: float | None
    recording: RecordingData
    notes: list[str]


class ResetData(_Data):
    """A reset started or changed pace (with its timeline) or stopped."""

    type: Literal["reset"]
    action: ResetAction
    reset_id: str
    t_s: float
    reset: dict[str, Any] | None = None
    timeline: TimelineOut | None = None
    breaths_per_min: float | None = None
    finished: bool | None = None
    duration_s: float | None = None




class HelloData(_Data):
    """The first frame of every stream: the latest sequence number and the status."""

    type: Literal["hello"]
    last_seq: int
    status: StatusOut




class ResonanceData(_Data):
    """The resonance assessment moved on (afterbeat.server.resonance): its action, the session
    time and what the page shows for it (blocks, stage, result)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["resonance"]
    action: str
    t_s: float


LIVE_EVENT_MODELS: dict[EventType, type[_Data]] = {
    EventType.METRICS: MetricsData,
    EventType.STATE: StateData,
    EventType.SUGGESTION: SuggestionData,
    EventType.RECOVERY: RecoveryData,
    EventType.MARKER: MarkerData,
    EventType.BASELINE: BaselineData,
    EventType.RESET_EFFECT: ResetEffectData,
    EventType.STATUS: StatusData,
    EventType.RESET: ResetData,
    EventType.DISMISSED: DismissedData,
    EventType.HELLO: HelloData,
    EventType.HEARTBEAT: HeartbeatData,
    EventType.RESONANCE: ResonanceData,
}
"""The model of each event type's data."""

_AnyEvent: Any = Annotated[
    Union[tuple(LIVE_EVENT_MODELS.values())],  # noqa: UP007 (a union built at run time)
    Field(discriminator="type"),
]


@cache
def _schema_text() -> str:
    schema = TypeAdapter(_AnyEvent).json_schema(ref_template="#/$defs/{model}")
    document: dict[str, Any] = {
        "$schema": SCHEMA_DIALECT,
        "$id": "/api/live/schema",
        "title": "afterbeat live events",
        "description": (
            "The data of every Server-Sent Event on GET /api/live. The SSE event name equals "
            "the data's 'type'; 'x-events' maps each type to its schema."),
        **schema,
        "x-events": {str(kind): {"$ref": f"#/$defs/{model.__name__}"}
                     for kind, model in LIVE_EVENT_MODELS.items()},
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def live_schema() -> dict[str, Any]:
    """The JSON Schema document of the live stream (a fresh copy)."""
    document: dict[str, Any] = json.loads(_schema_text())
    return document


def main() -> int:
    """Print the schema document (to keep ``docs/live-events.schema.json`` in step)."""
    sys.stdout.write(_schema_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
