"""The record types every stage passes along: notifications, markers, gaps and device facts (pure).

A session is one :class:`Header` and a stream of :data:`Record` values in arrival order. These
types carry no file format: ``afterbeat.storage.session_file`` writes and reads them as JSON Lines.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from afterbeat.errors import InvalidValue

__all__ = [
    "EARLIEST_START",
    "FORMAT_VERSION",
    "LATEST_START",
    "MAX_DEVICE_INT",
    "MAX_JSON_DEPTH",
    "MAX_MARKER_VALUE",
    "MAX_PAYLOAD_BYTES",
    "MAX_RATING",
    "MAX_RR_MS",
    "MAX_TEXT_CHARS",
    "MAX_T_S",
    "MAX_WALL_S",
    "DeviceEvent",
    "DeviceEventKind",
    "Disconnect",
    "Header",
    "Marker",
    "MarkerKind",
    "Notification",
    "Reconnect",
    "Record",
    "SkipReport",
    "check_number",
    "check_rr_ms",
    "check_started_at",
    "check_t_s",
    "check_wall_s",
    "clean_json",
    "clean_text",
    "describe_value",
    "parse_started_at",
]

FORMAT_VERSION = 1
"""Version of the session format these records belong to (see docs/session-format.md)."""


class MarkerKind(enum.StrEnum):
    """What a marker marks."""

    BASELINE_START = "baseline_start"
    BASELINE_END = "baseline_end"
    SESSION_START = "session_start"
    SESSION_END = "session_end"
    RESET_START = "reset_start"
    RESET_END = "reset_end"
    MOVING_START = "moving_start"
    MOVING_END = "moving_end"
    NOTE = "note"
    RATING = "rating"
    DISMISS = "dismiss"
    """"Not now" for the current suggestion: a quiet period starts."""
    PLAN = "plan"
    """The person's plan from here on; ``text`` holds the plan as JSON."""
    PACE = "pace"
    """The running breathing reset's pacer changed pace: ``value`` is the new rate
    (breaths/min), ``text`` the reset's id."""
    RESONANCE_BLOCK_START = "resonance_block_start"
    """A paced block of the resonance assessment begins; ``value`` is its rate (breaths/min),
    ``text`` the block as JSON (see ``afterbeat.resets.resonance``)."""
    RESONANCE_BLOCK_END = "resonance_block_end"
    """A paced block ends (``text``: JSON with ``index`` and ``completed``)."""


@dataclass(frozen=True, slots=True)
class Header:
    """First line of a session file."""

    started_at: datetime
    """Wall-clock time (UTC) of t_s = 0."""
    device: dict[str, Any] = field(default_factory=dict)
    """What is known of the strap: name, address, model, body sensor location, source."""
    version: int = FORMAT_VERSION
    provenance: dict[str, Any] = field(default_factory=dict)
    """Where the data came from, which parts are real and which were added (free form)."""


@dataclass(frozen=True, slots=True)
class Notification:
    """One 0x2A37 notification as it arrived: monotonic seconds since start and raw bytes."""

    t_s: float
    wall_s: float
    """Unix time (s) of arrival, for display only; order and durations use t_s."""
    payload: bytes


@dataclass(frozen=True, slots=True)
class Marker:
    """A moment the person (or a replay) marked."""

    t_s: float
    kind: MarkerKind
    value: float | None = None
    """A 0-10 rating for ``rating`` markers; reset or plan details go in ``text``."""
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Disconnect:
    """The strap link dropped or went silent; a gap starts."""

    t_s: float
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Reconnect:
    """The strap link is back; the gap ends."""

    t_s: float


class DeviceEventKind(enum.StrEnum):
    """Device facts that are not measurements."""

    BATTERY = "battery"
    CONTACT = "contact"
    BODY_SENSOR_LOCATION = "body_sensor_location"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """Battery level (%), contact state, sensor location or device information."""

    t_s: float
    kind: DeviceEventKind
    value: int | str | None = None


Record = Notification | Marker | Disconnect | Reconnect | DeviceEvent


@dataclass(slots=True)
class SkipReport:
    """Lines skipped while reading a file: counted and described, never silently dropped."""

    count: int = 0
    examples: list[str] = field(default_factory=list)
    max_examples: int = 5

    def add(self, where: str, why: str) -> None:
        """Count one skipped line and keep its description if room remains."""
        self.count += 1
        if len(self.examples) < self.max_examples:
            self.examples.append(f"{where}: {why}")

    def summary(self) -> str:
        """One line for people: how many lines were skipped and the first reasons."""
        if not self.count:
            return "no lines skipped"
        hidden = self.count - len(self.examples)
        more = f" (+{hidden} more)" if hidden else ""
        return f"{self.count} line(s) skipped: " + "; ".join(self.examples) + more


# -- validation: the one gate every reading path (files, importers, replay, CLI) uses --------

MAX_T_S: Final = 366 * 86_400.0
"""Latest session time (s) a record may carry: a session lasts at most a year."""
MAX_RR_MS: Final = 60_000.0
"""Longest RR interval (ms) read from a file; longer values are not beats."""
EARLIEST_START: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_START: Final = datetime(2200, 1, 1, tzinfo=UTC)
"""A header's ``started_at`` lies in [EARLIEST_START, LATEST_START), so start + MAX_T_S fits."""
MAX_WALL_S: Final = LATEST_START.timestamp() + MAX_T_S
"""Latest Unix time (s) a notification's ``wall_s`` may carry."""
MAX_RATING: Final = 10.0
MAX_MARKER_VALUE: Final = 1e9
"""Largest magnitude of a non-rating marker's ``value``."""
MAX_TEXT_CHARS: Final = 65_536
"""Longest marker text, disconnect reason or device string (characters)."""
MAX_PAYLOAD_BYTES: Final = 512
"""Longest notification payload (an ATT attribute value holds at most 512 bytes)."""
MAX_JSON_DEPTH: Final = 16
"""Deepest nesting of a header's ``device`` and ``provenance`` objects."""
MAX_DEVICE_INT: Final = 2**53
"""Largest magnitude of a device event's integer value (exact in JSON and SQLite)."""


def check_number(value: object, field: str, low: float, high: float) -> float:
    """``value`` as a float when it is a real, finite number in [low, high]; else InvalidValue."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue(field, f"must be a number, got {describe_value(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise InvalidValue(field, "is far too large") from None
    if not math.isfinite(number):
        raise InvalidValue(field, f"must be a finite number, got {number!r}")
    if not low <= number <= high:
        raise InvalidValue(field, f"{number:g} is outside {low:g}..{high:g}")
    return number


def check_t_s(value: object, field: str = "t_s") -> float:
    """A session time (s): finite, from 0 to MAX_T_S."""
    return check_number(value, field, 0.0, MAX_T_S)


def check_wall_s(value: object, field: str = "wall_s") -> float:
    """A Unix time (s) of arrival: finite, from 0 to MAX_WALL_S."""
    return check_number(value, field, 0.0, MAX_WALL_S)


def check_rr_ms(value: object, field: str = "rr_ms") -> float:
    """An RR interval (ms): finite, from 0 to MAX_RR_MS."""
    return check_number(value, field, 0.0, MAX_RR_MS)


def check_started_at(moment: datetime, field: str = "started_at") -> datetime:
    """A session's UTC start: timezone-aware and within [EARLIEST_START, LATEST_START)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidValue(field, "must carry a UTC offset (e.g. 2026-11-26T09:30:00Z)")
    if not EARLIEST_START <= moment < LATEST_START:
        raise InvalidValue(field, f"{moment.isoformat()} is outside 1970-01-01..2199-12-31")
    return moment


def parse_started_at(text: object, field: str = "started_at") -> datetime:
    """An ISO 8601 start time with ``Z`` or an offset, checked by :func:`check_started_at`."""
    if not isinstance(text, str):
        raise InvalidValue(field, f"must be an ISO 8601 string, got {describe_value(text)}")
    if len(text) > 64:
        raise InvalidValue(field, "is too long for an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidValue(field, f"{describe_value(text)} is not an ISO 8601 time") from None
    return check_started_at(moment, field)


def clean_text(value: object, field: str, max_chars: int = MAX_TEXT_CHARS) -> str:
    """A text field: a string of at most ``max_chars``, lone surrogates replaced by U+FFFD.

    Control characters are kept (they are the person's text); displays neutralise them.
    """
    if not isinstance(value, str):
        raise InvalidValue(field, f"must be a string, got {describe_value(value)}")
    if len(value) > max_chars:
        raise InvalidValue(field, f"is {len(value)} characters long (at most {max_chars})")
    return _without_surrogates(value)


def clean_json(value: Any, field: str, depth: int = 0) -> Any:
    """A free-form JSON value (header ``device``/``provenance``): finite numbers, bounded
    nesting, strings without lone surrogates."""
    if depth > MAX_JSON_DEPTH:
        raise InvalidValue(field, f"is nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        return clean_text(value, field)
    if isinstance(value, dict):
        return {clean_text(k, field): clean_json(v, field, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_json(v, field, depth + 1) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidValue(field, f"holds a non-finite number ({value!r})")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_DEVICE_INT:
        raise InvalidValue(field, "holds an integer too large to keep exactly")
    if value is None or isinstance(value, bool | int | float):
        return value
    raise InvalidValue(field, f"holds a value of type {type(value).__name__}")


def _without_surrogates(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def describe_value(value: object) -> str:
    """A short, printable description of a bad value for messages."""
    text = repr(value) if isinstance(value, str | int | float | bool | None) else (
        type(value).__name__)
    return text if len(text) <= 40 else text[:37] + "..."
