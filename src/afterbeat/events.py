"""The live event contract: every event the server sends over ``/api/live``, and its JSON.

:class:`EventType` names every event type; the SSE ``event:`` field is the type and its JSON
``data`` carries the same name under ``"type"``. Every event is a frozen value with
``to_json() -> dict`` and its inverse ``from_json(dict)`` (``from_json(e.to_json()).to_json()
== e.to_json()``); :func:`parse_event` reads any of them. The hub stamps ``emitted_at`` (Unix
seconds) into the JSON of every event it sends; ``from_json`` ignores it. Times are session
seconds (``t_s``, from the record that caused the event); values are rounded so that replays
at any speed give byte-identical JSON. The JSON Schema of the stream is served at
``GET /api/live/schema`` (and kept in ``docs/live-events.schema.json``).

The pipeline's events (:data:`Event`):

``metrics`` (every 5 s of session time)::

    {"type": "metrics", "t_s": 600.0, "heart_rate_bpm": 72.4, "rmssd_ms": 31.2,
     "arousal": 1.234, "score": 89.1, "quality": "good", "ln_rmssd": 3.44,
     "respiration_rate_bpm": 14.2, "coherence": 0.8, "coverage": 0.99, "corrected_pct": 0.0,
     "rr_available": true, "baseline_heart_rate_bpm": 64.0, "baseline_rmssd_ms": 42.0,
     "baseline_provisional": false, "state": "activated", "score_band": "activated",
     "score_words": "Somewhat above your usual"}

  ``score`` (a whole number, 50 = your usual), ``score_band`` and ``score_words`` come from
  :func:`afterbeat.activation.display.display` (index and watch state; the page shows them as
  sent and never recomputes them). ``arousal``/``score`` are null when unscored; ``quality``
  is one of good, hr_only, breathing (RMSSD term dropped), movement, poor, warming_up,
  no_baseline, no_beats. Breathing (:mod:`afterbeat.hrv.breathing`): ``respiration_reason``
  (why ``respiration_rate_bpm`` is null: too_short, poor_signal, no_clear_peak,
  competing_peaks, estimates_disagree), ``coherence_share`` (0-1, last 64 s), ``pacer_bpm``,
  ``pacer_following`` (0-1 share of the RR variation at the pacer's rate) and
  ``pacer_following_ok`` while a breathing reset runs, with ``pacer_following_reason`` (the
  same reasons) when ``pacer_following`` is null. The numbers against the usual, from the same
  reading (:func:`afterbeat.activation.display.compare`): ``compare_words`` (e.g. "Heart rate
  66 bpm (your usual range 60-66). Heart-rate variability 37 ms (your usual range 40-53)."),
  ``heart_rate_vs_usual`` and ``hrv_vs_usual`` (above, near, below or null). ``signal``, the
  beats alone (:func:`afterbeat.activation.display.signal_of`): clean, patchy, hr_only,
  warming_up or no_beats.

``state`` (on every change, and at the session end or when settling early)::

    {"type": "state", "t_s": 900.0, "state": "elevated", "reason": "...", "previous": "activated"}

  states: calibrating, settled, activated, elevated, unknown.

``suggestion``::

    {"type": "suggestion", "t_s": 1200.0, "reset": "resonance", "kind": "breathing",
     "reason": "...", "gentle": false, "switch_from": null, "breaths_per_min": null,
     "detail": "..."}

``recovery`` (from ``finish()``, or when a later session ends): the fields of
:class:`afterbeat.activation.recovery.RecoveryMetrics` plus ``t_s``.

``marker`` (every marker record, echoed)::

    {"type": "marker", "t_s": 570.0, "kind": "session_end", "value": null, "text": null}

``reset_effect`` (see :mod:`afterbeat.resets.effects`): ``t_s`` plus ``ResetEffect.to_json()``,
with the display ``score`` (0-100) of each window's median index, so the page never computes it.

``baseline`` (at a baseline_end marker)::

    {"type": "baseline", "t_s": 450.0, "ok": true, "reason": "...", "baseline": {...}}

  ``baseline`` is the document to store under the person key "baseline" (null if not ok).
  The server also sends one with ``"reset": true`` (and ``baseline`` null) when the person
  resets the baseline.

The server's own events (:data:`ServerEvent`): ``status`` (the connection fields at the top
level, ``recording`` and ``notes``), ``reset`` (``action`` started/paced/stopped, with the
pacing timeline), ``dismissed`` ("not now"), and per stream ``hello`` (first frame: ``last_seq``
and the ``/api/status`` body) and ``heartbeat`` (after quiet, ``last_seq``).

A new event type: a member of :class:`EventType`, its class here (``to_json``/``from_json``,
listed in :data:`EVENT_CLASSES`), its data model in :mod:`afterbeat.server.live_schema`
(then ``python -m afterbeat.server.live_schema > docs/live-events.schema.json``) and its name
in ``EVENT_TYPES`` of ``web/js/live.js``; ``tests/test_live_contract.py`` checks all agree.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Final, Protocol, TypeVar, get_type_hints

from afterbeat.activation.recovery import RecoveryMetrics
from afterbeat.errors import AfterbeatError
from afterbeat.records import Marker
from afterbeat.resets.effects import ResetEffect

__all__ = [
    "BaselineEvent",
    "Connection",
    "DismissedEvent",
    "Event",
    "EVENT_CLASSES",
    "EventFormatError",
    "EventType",
    "HeartbeatEvent",
    "HelloEvent",
    "LiveEvent",
    "MarkerEvent",
    "MetricsEvent",
    "RecoveryEvent",
    "Recording",
    "ResetAction",
    "ResetEffectEvent",
    "ResetEvent",
    "ResonanceEvent",
    "ServerEvent",
    "StateEvent",
    "StatusEvent",
    "SuggestionEvent",
    "parse_event",
]


class EventType(enum.StrEnum):
    """Every event type sent over ``/api/live`` (the SSE ``event:`` name and JSON ``type``)."""

    METRICS = "metrics"
    STATE = "state"
    SUGGESTION = "suggestion"
    RECOVERY = "recovery"
    MARKER = "marker"
    BASELINE = "baseline"
    RESET_EFFECT = "reset_effect"
    STATUS = "status"
    RESET = "reset"
    DISMISSED = "dismissed"
    HELLO = "hello"
    HEARTBEAT = "heartbeat"
    RESONANCE = "resonance"


class EventFormatError(AfterbeatError, ValueError):
    """Event JSON that does not have the shape of its type (the message names the field)."""


class _Flat(Protocol):
    """A dataclass whose JSON has one key per field, under the field's name."""

    __dataclass_fields__: ClassVar[dict[str, Any]]


_T = TypeVar("_T", bound=_Flat)


def _r(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


# -- reading JSON back (each raises EventFormatError naming the field) --------------------------

def _get(data: Mapping[str, Any], key: str) -> Any:
    try:
        return data[key]
    except KeyError:
        raise EventFormatError(f"event JSON lacks {key!r}") from None


def _num(data: Mapping[str, Any], key: str) -> float:
    value = _get(data, key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise EventFormatError(f"event field {key!r} must be a finite number")
    return float(value)


def _opt_num(data: Mapping[str, Any], key: str) -> float | None:
    return None if data.get(key) is None else _num(data, key)


def _int(data: Mapping[str, Any], key: str) -> int:
    value = _get(data, key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise EventFormatError(f"event field {key!r} must be an integer")
    return value


def _opt_int(data: Mapping[str, Any], key: str) -> int | None:
    return None if data.get(key) is None else _int(data, key)


def _str(data: Mapping[str, Any], key: str) -> str:
    value = _get(data, key)
    if not isinstance(value, str):
        raise EventFormatError(f"event field {key!r} must be text")
    return value


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    return None if data.get(key) is None else _str(data, key)


def _bool(data: Mapping[str, Any], key: str) -> bool:
    value = _get(data, key)
    if not isinstance(value, bool):
        raise EventFormatError(f"event field {key!r} must be true or false")
    return value


def _opt_bool(data: Mapping[str, Any], key: str) -> bool | None:
    return None if data.get(key) is None else _bool(data, key)


def _obj(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = _get(data, key)
    if not isinstance(value, Mapping):
        raise EventFormatError(f"event field {key!r} must be an object")
    return dict(value)


def _opt_obj(data: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    return None if data.get(key) is None else _obj(data, key)


def _texts(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise EventFormatError(f"event field {key!r} must be a list of texts")
    return tuple(value)


def _check_type(data: Mapping[str, Any], expected: EventType) -> None:
    if data.get("type") != expected:
        raise EventFormatError(f"expected a {expected!s} event, got type {data.get('type')!r}")


_Reader = Callable[[Mapping[str, Any], str], Any]
_READERS: Final[dict[Any, _Reader]] = {
    float: _num, float | None: _opt_num, int: _int, int | None: _opt_int, str: _str,
    str | None: _opt_str, bool: _bool, bool | None: _opt_bool, dict[str, Any]: _obj,
    dict[str, Any] | None: _opt_obj, tuple[str, ...]: _texts,
}
"""How a JSON value is read back for each field type of a flat event."""


_FIELD_READERS: dict[type[_Flat], tuple[tuple[str, _Reader], ...]] = {}


def _read_fields(cls: type[_T], data: Mapping[str, Any]) -> _T:
    """A flat event (one JSON key per field, same name) from its JSON."""
    readers = _FIELD_READERS.get(cls)
    if readers is None:
        hints = get_type_hints(cls)
        readers = tuple((f.name, _READERS[hints[f.name]]) for f in fields(cls))
        _FIELD_READERS[cls] = readers
    return cls(**{name: read(data, name) for name, read in readers})


# -- the pipeline's events ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class MetricsEvent:
    """The 5-s metrics and index (bpm, ms, index A, score 0-100)."""

    type: ClassVar[EventType] = EventType.METRICS
    t_s: float
    heart_rate_bpm: float | None
    rmssd_ms: float | None
    arousal: float | None
    score: float | None
    quality: str
    ln_rmssd: float | None = None
    respiration_rate_bpm: float | None = None
    coherence: float | None = None
    coverage: float | None = None
    corrected_pct: float | None = None
    rr_available: bool = True
    baseline_heart_rate_bpm: float | None = None
    baseline_rmssd_ms: float | None = None
    baseline_provisional: bool | None = None
    state: str | None = None
    score_band: str | None = None
    score_words: str | None = None
    respiration_reason: str | None = None
    coherence_share: float | None = None
    pacer_bpm: float | None = None
    pacer_following: float | None = None
    pacer_following_ok: bool | None = None
    pacer_following_reason: str | None = None
    compare_words: str | None = None
    heart_rate_vs_usual: str | None = None
    hrv_vs_usual: str | None = None
    signal: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON body of the ``metrics`` SSE event."""
        return {
            "type": str(self.type),
            "t_s": _r(self.t_s, 3),
            "heart_rate_bpm": _r(self.heart_rate_bpm, 2),
            "rmssd_ms": _r(self.rmssd_ms, 2),
            "arousal": _r(self.arousal, 3),
            "score": _r(self.score, 1),
            "quality": self.quality,
            "ln_rmssd": _r(self.ln_rmssd, 4),
            "respiration_rate_bpm": _r(self.respiration_rate_bpm, 2),
            "coherence": _r(self.coherence, 3),
            "coverage": _r(self.coverage, 3),
            "corrected_pct": _r(self.corrected_pct, 2),
            "rr_available": self.rr_available,
            "baseline_heart_rate_bpm": _r(self.baseline_heart_rate_bpm, 2),
            "baseline_rmssd_ms": _r(self.baseline_rmssd_ms, 2),
            "baseline_provisional": self.baseline_provisional,
            "state": self.state,
            "score_band": self.score_band,
            "score_words": self.score_words,
            "respiration_reason": self.respiration_reason,
            "coherence_share": _r(self.coherence_share, 3),
            "pacer_bpm": _r(self.pacer_bpm, 2),
            "pacer_following": _r(self.pacer_following, 3),
            "pacer_following_ok": self.pacer_following_ok,
            "pacer_following_reason": self.pacer_following_reason,
            "compare_words": self.compare_words,
            "heart_rate_vs_usual": self.heart_rate_vs_usual,
            "hrv_vs_usual": self.hrv_vs_usual,
            "signal": self.signal,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MetricsEvent:
        """Inverse of :meth:`to_json`."""
        _check_type(data, cls.type)
        return _read_fields(cls, data)


@dataclass(frozen=True, slots=True)
class StateEvent:
    """The watch's shown state changed, with a plain-words reason."""

    type: ClassVar[EventType] = EventType.STATE
    t_s: float
    state: str
    reason: str
    previous: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON body of the ``state`` SSE event."""
        return {"type": str(self.type), "t_s": _r(self.t_s, 3), "state": self.state,
                "reason": self.reason, "previous": self.previous}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StateEvent:
        """Inverse of :meth:`to_json`."""
        _check_type(data, cls.type)
        return _read_fields(cls, data)


@dataclass(frozen=True, slots=True)
class SuggestionEvent:
    """A reset suggestion (from ``afterbeat.resets.choice.choose_reset``) and why."""

    type: ClassVar[EventType] = EventType.SUGGESTION
    t_s: float
    reset: str
    kind: str
    reason: str
    gentle: bool
    switch_from: str | None = None
    breaths_per_min: float | None = None
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON body of the ``suggestion`` SSE event."""
        return {"type": str(self.type), "t_s": _r(self.t_s, 3), "reset": self.reset,
                "kind": self.kind, "reason": self.reason, "gentle": self.gentle,
                "switch_from": self.switch_from, "breaths_per_min": self.breaths_per_min,
                "detail": self.detail}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SuggestionEvent:
        """Inverse of :meth:`to_json`."""
        _check_type(data, cls.type)
        return _read_fields(cls, data)


@dataclass(frozen=True, slots=True)
class RecoveryEvent:
    """Recovery metrics of one session (see afterbeat.activation.recovery)."""

    type: ClassVar[EventType] = EventType.RECOVERY
    t_s: float
    recovery: RecoveryMetrics

    def to_json(self) -> dict[str, Any]:
        """JSON body of the ``recovery`` SSE event (also the stored session result)."""
        return {"type": str(self.type), "t_s": _r(self.t_s, 3), **self.recovery.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RecoveryEvent:
        """Inverse of :meth:`to_json`."""
        _check_type(data, cls.type)
        return cls(_num(data, "t_s"), RecoveryMetrics(
            session_end_s=_num(data, "session_end_s"),
            time_to_settle_s=_opt_num(data, "time_to_settle_s"),
            settled_within_grace=_bool(data, "settled_within_grace"),
            heart_rate_half_recovery_s=_opt_num(data, "heart_rate_half_recovery_s"),
            heart_rate_plateau_bpm=_opt_num(data, "heart_rate_plateau_bpm"),
            heart_rate_residual_bpm=_opt_num(data, "heart_rate_residual_bpm"),
            ln_rmssd_recovered_share_10min=_opt_num(data, "ln_rmssd_recovered_share_10min"),
            heart_rate_at_end_bpm=_opt_num(data, "heart_rate_at_end_bpm"),
            baseline_heart_rate_bpm=_opt_num(data, "baseline_heart_rate_bpm"),
            notes=_texts(data, "notes"),
            settle_hold_s=_opt_num(data, "settle_hold_s"),
            grace_s=_opt_num(data, "grace_s"),
        ))


@dataclass(frozen=True, slots=True)
class MarkerEvent:
    """A marker record, echoed so every client sees it (the one place marker JSON is made)."""

    type: ClassVar[EventType] = EventType.MARKER
    t_s: float
    kind: str
    value: float | None = None
    text: str | None = None

    @classmethod
    def from_record(cls, marker: Marker) -> MarkerEvent:
        """The event (and JSON) of a marker record."""
        return cls(marker.t_s, str(marker.kind), marker.value, marker.text)

    def to_json(self) -> dict[str, Any]:
        """JSON body of the ``marker`` SSE event (also a report's marker list)."""
        return {"type": str(self.type), "t_s": _r(self.t_s, 3), "kind": self.kind,
                "value": self.value, "text": self.text}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MarkerEvent:
        """Inverse of :meth:`to_json`."""
        _check_type(data, cls.type)
        return _read_fields(cls, data)


@dataclass(frozen=True, slots=True)
class BaselineEvent:
    """A resting period ended (the updated baseline document, or why it was not used), or the
    person reset the baseline (``reset``)."""

    type: ClassVar[EventType] = EventType.BASELINE
    t_s: float
    ok: bool
    reason: str
    baseline: dict[str, Any] | None = field(default=None, compare=False)
    reset: bool = False

    def to_json(self) -> dict[str, Any]:
        """JSON body of the ``baseline`` SSE event (``reset`` only when true)."""
        out: dict[str, Any] = {"type": str(self.type), "t_s": _r(self.t_s, 3), "ok": self.ok,
                               "reason": self.reason, "baseline": self.baseline}
        if self.reset:
            out["reset"] = True
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BaselineEvent:
        """Inverse of :meth:`to_json`."""
        _check_type(data, cls.type)
        return cls(_num(data, "t_s"), _bool(data, "ok"), _str(data, "reason"),
                   _opt_obj(data, "baseline"), reset=bool(_opt_bool(data, "reset")))


@dataclass(frozen=True, slots=True)
class ResetEffectEvent:
    """A reset's measured effect changed (see afterbeat.resets.effects)."""

    type: ClassVar[EventType] = EventType.RESET_EFFECT
    t_s: float
    effect: ResetEffect

    def to_json(self) -> dict[str, Any]:
        """JSON body of the ``reset_effect`` SSE event (the store keeps the latest per number).

        Windows carry medians (index, bpm, ms), not a display score: the score is shown only
        beside the state words it belongs to (afterbeat.activation.display)."""
        return {"type": str(self.type), "t_s": _r(self.t_s, 3), **self.effect.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ResetEffectEvent:
        """Inverse of :meth:`to_json`."""
        _check_type(data, cls.type)
        try:
            effect = ResetEffect.from_json(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise EventFormatError(f"reset effect JSON does not parse: {exc}") from None
        return cls(_num(data, "t_s"), effect)


Event = (
    MetricsEvent | StateEvent | SuggestionEvent | RecoveryEvent | MarkerEvent | BaselineEvent
    | ResetEffectEvent
)
"""What the pipeline emits."""


# -- the server's events -----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Connection:
    """The source's connection as the status line shows it (battery in %, session seconds)."""

    source: str
    state: str
    detail: str | None = None
    attempt: int | None = None
    next_delay_s: float | None = None
    battery_pct: int | None = None
    contact: str | None = None
    rr_available: bool | None = None
    device_name: str | None = None
    session_t_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``connection`` object of ``/api/status`` (also the top of a ``status`` event)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Connection:
        """Inverse of :meth:`to_json`."""
        return _read_fields(cls, data)


@dataclass(frozen=True, slots=True)
class Recording:
    """Whether records go to disk; with a recorder, its session, failing flag and losses."""

    active: bool
    session_id: int | None = None
    failing: bool | None = None
    """None when no recorder exists (then the other recorder fields are left out)."""
    unrecorded: int | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``recording`` object of ``/api/status`` and of ``status`` events."""
        out: dict[str, Any] = {"active": self.active}
        if self.failing is not None:
            out.update(session_id=self.session_id, failing=self.failing,
                       unrecorded=self.unrecorded, error=self.error)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Recording:
        """Inverse of :meth:`to_json`."""
        return _read_fields(cls, data)


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """The connection (fields at the top level), the recording and notes for the person."""

    type: ClassVar[EventType] = EventType.STATUS
    connection: Connection
    recording: Recording
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """JSON body of the ``status`` SSE event."""
        return {"type": str(self.type), **self.connection.to_json(),
                "recording": self.recording.to_json(), "notes": list(self.notes)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StatusEvent:
        """Inverse of :meth:`to_json`."""
        _check_type(data, cls.type)
        return cls(Connection.from_json(data), Recording.from_json(_obj(data, "recording")),
                   _texts(data, "notes"))


class ResetAction(enum.StrEnum):
    """What happened to the running reset."""

    STARTED = "started"
    PACED = "paced"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class ResetEvent:
    """A reset started, changed pace or stopped (started/paced carry the pacing timeline)."""

    type: ClassVar[EventType] = EventType.RESET
    action: ResetAction
    reset_id: str
    t_s: float
    reset: dict[str, Any] | None = None
    """The library entry (started/paced)."""
    timeline: dict[str, Any] | None = None
    """The pacing timeline on Unix seconds (started/paced)."""
    breaths_per_min: float | None = None
    """The new pace (paced)."""
    finished: bool | None = None
    """Whether the person finished it (stopped)."""
    duration_s: float | None = None
    """How long it ran (stopped)."""

    def to_json(self) -> dict[str, Any]:
        """JSON body of the ``reset`` SSE event (fields that do not apply are left out)."""
        out: dict[str, Any] = {"type": str(self.type), "action": str(self.action)}
        if self.breaths_per_min is not None:
            out["breaths_per_min"] = self.breaths_per_min
        out.update(reset_id=self.reset_id, t_s=self.t_s)
        optional = {"reset": self.reset, "timeline": self.timeline, "finished": self.finished,
                    "duration_s": self.duration_s}
        out.update((key, value) for key, value in optional.items() if value is not None)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ResetEvent:
        """Inverse of :meth:`to_json`."""
        _check_type(data, cls.type)
        try:
            action = ResetAction(_str(data, "action"))
        except ValueError:
            raise EventFormatError(f"unknown reset action {data.get('action')!r}") from None
        return cls(action=action, reset_id=_str(data, "reset_id"), t_s=_num(data, "t_s"),
                   reset=_opt_obj(data, "reset"), timeline=_opt_obj(data, "timeline"),
                   breaths_per_min=_opt_num(data, "breaths_per_min"),
                   finished=_opt_bool(data, "finished"), duration_s=_opt_num(data, "duration_s"))


@dataclass(frozen=True, slots=True)
class DismissedEvent:
    """"Not now": no new suggestion for a quiet period (session seconds)."""

    type: ClassVar[EventType] = EventType.DISMISSED
    t_s: float

    def to_json(self) -> dict[str, Any]:
        """JSON body of the ``dismissed`` SSE event."""
        return {"type": str(self.type), "t_s": self.t_s}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DismissedEvent:
        """Inverse of :meth:`to_json`."""
        _check_type(data, cls.type)
        return _read_fields(cls, data)


@dataclass(frozen=True, slots=True)
class ResonanceEvent:
    """The resonance assessment moved on: ``action`` (started, settle, block, break,
    second_pass, finished, stopped) at session time ``t_s``, with what the page needs to show
    it (see afterbeat.server.resonance)."""

    type: ClassVar[EventType] = EventType.RESONANCE
    action: str
    t_s: float
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON body of the ``resonance`` SSE event: type, action, t_s and the data's keys."""
        return {**self.data, "type": str(self.type), "action": self.action, "t_s": self.t_s}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ResonanceEvent:
        """Inverse of :meth:`to_json`."""
        _check_type(data, cls.type)
        rest = {k: v for k, v in data.items() if k not in ("type", "action", "t_s")}
        return cls(_str(data, "action"), _num(data, "t_s"), rest)


@dataclass(frozen=True, slots=True)
class HelloEvent:
    """A stream's first frame: the latest sequence number and the ``/api/status`` body."""

    type: ClassVar[EventType] = EventType.HELLO
    last_seq: int
    status: dict[str, Any]
    emitted_at: float
    """Unix seconds."""

    def to_json(self) -> dict[str, Any]:
        """JSON body of the ``hello`` SSE event (sent without an id)."""
        return {"type": str(self.type), "emitted_at": self.emitted_at,
                "last_seq": self.last_seq, "status": self.status}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HelloEvent:
        """Inverse of :meth:`to_json`."""
        _check_type(data, cls.type)
        return _read_fields(cls, data)


@dataclass(frozen=True, slots=True)
class HeartbeatEvent:
    """Sent after ``heartbeat_s`` of quiet so clients and proxies know the stream lives."""

    type: ClassVar[EventType] = EventType.HEARTBEAT
    last_seq: int
    emitted_at: float
    """Unix seconds."""

    def to_json(self) -> dict[str, Any]:
        """JSON body of the ``heartbeat`` SSE event (sent without an id)."""
        return {"type": str(self.type), "emitted_at": self.emitted_at,
                "last_seq": self.last_seq}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HeartbeatEvent:
        """Inverse of :meth:`to_json`."""
        _check_type(data, cls.type)
        return _read_fields(cls, data)


ServerEvent = (StatusEvent | ResetEvent | DismissedEvent | HelloEvent | HeartbeatEvent
               | ResonanceEvent)
"""What the server itself sends (the pipeline's baseline event shape also covers a reset)."""

LiveEvent = Event | ServerEvent
"""Every event sent over ``/api/live``."""

EVENT_CLASSES: Final[Mapping[EventType, type[LiveEvent]]] = {
    EventType.METRICS: MetricsEvent,
    EventType.STATE: StateEvent,
    EventType.SUGGESTION: SuggestionEvent,
    EventType.RECOVERY: RecoveryEvent,
    EventType.MARKER: MarkerEvent,
    EventType.BASELINE: BaselineEvent,
    EventType.RESET_EFFECT: ResetEffectEvent,
    EventType.STATUS: StatusEvent,
    EventType.RESET: ResetEvent,
    EventType.DISMISSED: DismissedEvent,
    EventType.HELLO: HelloEvent,
    EventType.HEARTBEAT: HeartbeatEvent,
    EventType.RESONANCE: ResonanceEvent,
}
"""The class of each event type."""


def parse_event(data: Mapping[str, Any]) -> LiveEvent:
    """Any live event from its JSON (EventFormatError for an unknown type or a bad field)."""
    try:
        kind = EventType(str(data.get("type")))
    except ValueError:
        raise EventFormatError(f"unknown event type {data.get('type')!r}") from None
    return EVENT_CLASSES[kind].from_json(data)
