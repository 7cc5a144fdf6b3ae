"""The person's plan, made with their therapist: preferred and avoided resets, thresholds, words.

A plan is a small JSON document (the store keeps it as the person document "plan")::

    {
      "version": 1,
      "preferred": ["walk", "breathing"],      # reset ids or kinds, most preferred first
      "avoided": ["four_seven_eight"],         # reset ids or kinds never to suggest
      "thresholds": {"elevated_index": 1.25},  # overrides of afterbeat.arousal.Settings
      "breaths_per_min": 5.5,                  # personal resonance pace, 4.5-7
      "coping_text": "Put on the blue jumper. Call Sam.",
      "contact_text": "Ring the practice on 01234 567890 (Mon-Fri).",
      "locale": "en-GB",                       # picks the crisis lines
      "resonance": {"breaths_per_min": 5.5,    # the latest resonance assessment (optional;
                    "assessed_at": "2026-...", #  see afterbeat.resets.resonance)
                    "verdict": "clear", "confidence": 0.82, "session_id": 12}
    }

Every field is optional. Validation is pure and strict: an unknown key, a wrong type or a value
out of range raises :class:`PlanError` whose ``field`` names the offending field (``thresholds.
elevated_index``, ``preferred[1]``). ``load_plan`` is the only function that reads a file.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from afterbeat.activation.settings import DEFAULT_SETTINGS, InvalidSettings
from afterbeat.errors import AfterbeatError
from afterbeat.resets.library import (
    LIBRARY,
    RESONANCE_MAX_BREATHS_PER_MIN,
    RESONANCE_MIN_BREATHS_PER_MIN,
    Reset,
    ResetKind,
)

__all__ = [
    "PLAN_VERSION",
    "THRESHOLD_RANGES",
    "Plan",
    "PlanError",
    "load_plan",
    "plan_from_json",
]

PLAN_VERSION: Final = 1
MAX_TEXT_CHARS: Final = 2000

THRESHOLD_RANGES: Final[Mapping[str, tuple[float, float]]] = {
    "grace_s": (0.0, 3600.0),
    "activated_index": (0.25, 4.0),
    "elevated_index": (0.5, 5.0),
    "elevated_heart_rate_delta_bpm": (0.0, 40.0),
    "elevated_ln_rmssd_delta": (0.0, 2.0),
    "sustain_s": (30.0, 1800.0),
    "settled_index": (-2.0, 3.0),
    "settle_s": (30.0, 1800.0),
    "repeat_after_s": (120.0, 7200.0),
    "watch_span_s": (600.0, 12 * 3600.0),
}
"""Settings (``afterbeat.arousal.Settings`` field names) a plan may override, with their ranges."""

_LOCALE = re.compile(r"^([a-zA-Z]{2,3})(?:[-_]([a-zA-Z]{2}|[0-9]{3}))?$")
_KNOWN_KEYS: Final = frozenset({"version", "preferred", "avoided", "thresholds",
                                "breaths_per_min", "coping_text", "contact_text", "locale",
                                "resonance"})
_RESONANCE_VERDICTS: Final = frozenset({"clear", "likely", "cannot_tell"})


class PlanError(AfterbeatError, ValueError):
    """A plan that does not validate; ``field`` names where (e.g. ``thresholds.sustain_s``)."""

    def __init__(self, field_name: str, message: str) -> None:
        # A problem with the whole file ("(file)") is said in plain words, without a field.
        super().__init__(message if field_name == "(file)" else
                         f"plan field {field_name!r}: {message}")
        self.field = field_name


@dataclass(frozen=True, slots=True)
class Plan:
    """A validated plan; reset entries are ids or kinds, thresholds are Settings overrides."""

    preferred: tuple[str, ...] = ()
    avoided: tuple[str, ...] = ()
    thresholds: Mapping[str, float] = field(default_factory=dict)
    breaths_per_min: float | None = None
    coping_text: str = ""
    contact_text: str = ""
    locale: str | None = None
    resonance: Mapping[str, Any] | None = None
    """The latest resonance assessment (breaths_per_min, assessed_at, verdict, confidence,
    session_id), shown with the plan; the pace itself is ``breaths_per_min`` or the setting."""

    def avoids(self, reset: Reset) -> bool:
        """True when the plan avoids this reset by id or by kind."""
        return reset.id in self.avoided or str(reset.kind) in self.avoided

    def preference_rank(self, reset: Reset) -> int | None:
        """Position of the first preferred entry naming this reset (id or kind), or None."""
        for rank, entry in enumerate(self.preferred):
            if entry in (reset.id, str(reset.kind)):
                return rank
        return None

    def to_json(self) -> dict[str, Any]:
        """The plan as a JSON object (round-trips through ``plan_from_json``)."""
        out: dict[str, Any] = {
            "version": PLAN_VERSION,
            "preferred": list(self.preferred),
            "avoided": list(self.avoided),
            "thresholds": dict(self.thresholds),
            "breaths_per_min": self.breaths_per_min,
            "coping_text": self.coping_text,
            "contact_text": self.contact_text,
            "locale": self.locale,
        }
        if self.resonance is not None:
            out["resonance"] = dict(self.resonance)
        return out


_ENTRIES: Final = frozenset({r.id for r in LIBRARY} | {str(k) for k in ResetKind})


def _entries(obj: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise PlanError(key, "must be a list of reset ids or kinds")
    out: list[str] = []
    for i, entry in enumerate(value):
        if not isinstance(entry, str) or entry not in _ENTRIES:
            raise PlanError(f"{key}[{i}]", f"{entry!r} is not a reset id or kind; "
                            f"known: {', '.join(sorted(_ENTRIES))}")
        if entry not in out:
            out.append(entry)
    return tuple(out)


def _number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PlanError(name, f"must be a number, got {value!r}")
    if not low <= value <= high:
        raise PlanError(name, f"must lie between {low:g} and {high:g}, got {value!r}")
    return float(value)


def _thresholds(obj: Mapping[str, Any]) -> dict[str, float]:
    value = obj.get("thresholds", {})
    if not isinstance(value, dict):
        raise PlanError("thresholds", "must be an object of setting names to numbers")
    out: dict[str, float] = {}
    for key, number in value.items():
        if key not in THRESHOLD_RANGES:
            raise PlanError(f"thresholds.{key}", "is not a setting a plan may change; "
                            f"known: {', '.join(THRESHOLD_RANGES)}")
        low, high = THRESHOLD_RANGES[key]
        out[key] = _number(number, f"thresholds.{key}", low, high)
    settled = out.get("settled_index")
    elevated = out.get("elevated_index")
    if settled is not None and elevated is not None and settled >= elevated:
        raise PlanError("thresholds.settled_index", "must lie below thresholds.elevated_index")
    _check_combination(out)
    return out


def _check_combination(thresholds: Mapping[str, float]) -> None:
    """Apply the overrides to the default Settings so combinations the scorer refuses (e.g.
    ``elevated_index`` at or below the default ``settled_index``) fail here, naming a field."""
    try:
        DEFAULT_SETTINGS.with_overrides(thresholds)
    except InvalidSettings as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        named = [key for key in thresholds if key in message]
        # Name the field the person changed (the other side of the pair kept its default).
        field_name = f"thresholds.{named[0]}" if named else "thresholds"
        raise PlanError(field_name, f"does not fit the other settings: {message}") from exc


def _text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PlanError(key, "must be text")
    if len(value) > MAX_TEXT_CHARS:
        raise PlanError(key, f"is longer than {MAX_TEXT_CHARS} characters")
    return value.strip()


def _locale(obj: Mapping[str, Any]) -> str | None:
    value = obj.get("locale")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PlanError("locale", "must be text like 'en-GB' or 'de-DE'")
    match = _LOCALE.match(value.strip())
    if match is None:
        raise PlanError("locale", f"must look like 'en-GB' or 'de-DE', got {value!r}")
    language, region = match.group(1).lower(), match.group(2)
    return language if region is None else f"{language}-{region.upper()}"


def plan_from_json(obj: Any) -> Plan:
    """Validate a decoded JSON plan; raises PlanError naming the first bad field."""
    if not isinstance(obj, dict):
        raise PlanError("(plan)", "must be a JSON object")
    for key in obj:
        if key not in _KNOWN_KEYS:
            raise PlanError(str(key), f"unknown field; known: {', '.join(sorted(_KNOWN_KEYS))}")
    version = obj.get("version", PLAN_VERSION)
    if version != PLAN_VERSION or isinstance(version, bool):
        raise PlanError("version", f"must be {PLAN_VERSION}, got {version!r}")
    preferred = _entries(obj, "preferred")
    avoided = _entries(obj, "avoided")
    for i, entry in enumerate(preferred):
        if entry in avoided:
            raise PlanError(f"preferred[{i}]", f"{entry!r} is also in 'avoided'")
    pace = obj.get("breaths_per_min")
    return Plan(
        preferred=preferred,
        avoided=avoided,
        thresholds=_thresholds(obj),
        breaths_per_min=None if pace is None else _number(
            pace, "breaths_per_min", RESONANCE_MIN_BREATHS_PER_MIN, RESONANCE_MAX_BREATHS_PER_MIN),
        coping_text=_text(obj, "coping_text"),
        contact_text=_text(obj, "contact_text"),
        locale=_locale(obj),
        resonance=_resonance(obj),
    )


def _resonance(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The optional ``resonance`` field: the latest assessment's outcome, validated."""
    value = obj.get("resonance")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PlanError("resonance", "must be an object")
    known = {"breaths_per_min", "assessed_at", "verdict", "confidence", "session_id"}
    for key in value:
        if key not in known:
            raise PlanError(f"resonance.{key}", f"unknown field; known: {', '.join(sorted(known))}")
    out: dict[str, Any] = {}
    pace = value.get("breaths_per_min")
    out["breaths_per_min"] = None if pace is None else _number(pace, "resonance.breaths_per_min",
                                                               3.0, 10.0)
    when = value.get("assessed_at")
    if when is not None and (not isinstance(when, str) or len(when) > 64):
        raise PlanError("resonance.assessed_at", "must be a date and time as text")
    out["assessed_at"] = when
    verdict = value.get("verdict")
    if verdict is not None and verdict not in _RESONANCE_VERDICTS:
        raise PlanError("resonance.verdict", f"must be one of {sorted(_RESONANCE_VERDICTS)}")
    out["verdict"] = verdict
    confidence = value.get("confidence")
    out["confidence"] = None if confidence is None else _number(
        confidence, "resonance.confidence", 0.0, 1.0)
    session = value.get("session_id")
    if session is not None and (isinstance(session, bool) or not isinstance(session, int)
                                or session < 1):
        raise PlanError("resonance.session_id", "must be a session number")
    out["session_id"] = session
    return out


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Read and validate a plan file (UTF-8 JSON); bad JSON raises PlanError too."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as handle:
            obj = json.load(handle)
    except json.JSONDecodeError as exc:
        raise PlanError("(file)", f"{name} is not valid JSON: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise PlanError("(file)", f"{name} is not UTF-8 text") from exc
    return plan_from_json(obj)
