"""The plan as a small readable file to make together, and as a printable one-page card.

The file is TOML (a plain text file people can edit in any text editor); JSON is read too.
Reading is strict and bounded: at most :data:`MAX_PLAN_FILE_BYTES`, UTF-8 only, and every field
goes through :func:`afterbeat.resets.plan.plan_from_json`, so an error names the field and no
value outside the allowed ranges gets in. :func:`plan_changes` says what an import would change
before it is applied. Pure code: the caller reads the file.
"""

from __future__ import annotations

import html
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import tomli_w

from afterbeat.activation.settings import DEFAULT_SETTINGS
from afterbeat.resets.crisis_lines import lines_for_locale
from afterbeat.resets.library import LIBRARY, ResetKind, UnknownReset, get_reset
from afterbeat.resets.plan import THRESHOLD_RANGES, Plan, PlanError, plan_from_json

__all__ = [
    "MAX_PLAN_FILE_BYTES",
    "THRESHOLD_WORDS",
    "ThresholdWords",
    "parse_plan_text",
    "plan_changes",
    "plan_to_toml",
    "render_plan_card",
    "threshold_comment",
    "threshold_default",
]

MAX_PLAN_FILE_BYTES: Final = 64 * 1024
"""A plan is a few hundred bytes; anything larger is refused before it is parsed."""

@dataclass(frozen=True, slots=True)
class ThresholdWords:
    """Plain words for one threshold: a short name, what it means, its unit and direction."""

    name: str
    """Short plain name, e.g. "time to count as settled"."""
    meaning: str
    """One clause saying what the setting does."""
    unit: str
    """The unit in words ("seconds", "beats per minute", or an explanation for the index)."""
    direction: str
    """Which way is more sensitive / more patient."""


THRESHOLD_WORDS: Final[Mapping[str, ThresholdWords]] = {
    "grace_s": ThresholdWords(
        "quiet time after a session",
        "Quiet time after a session before anything is suggested", "seconds",
        "Longer = more patient."),
    "activated_index": ThresholdWords(
        "level that counts as raised",
        "How far above your usual readings must be to count as raised",
        "activation index (0 is your usual; no unit)", "Lower = more sensitive."),
    "elevated_index": ThresholdWords(
        "level that leads to a suggestion",
        "How far above your usual readings must be before a reset is suggested",
        "activation index (0 is your usual; no unit)",
        "Lower = more sensitive, higher = more patient."),
    "elevated_heart_rate_delta_bpm": ThresholdWords(
        "heart rate above usual that also counts",
        "How far your heart rate must also be above your usual before a reset is suggested",
        "beats per minute", "Lower = more sensitive."),
    "elevated_ln_rmssd_delta": ThresholdWords(
        "drop in heart-rate variability that also counts",
        "Or how far your heart-rate variability must be below your usual",
        "natural log of the ratio to your usual (ln RMSSD; 0.25 is about 22% lower)",
        "Lower = more sensitive."),
    "sustain_s": ThresholdWords(
        "time readings stay raised before a suggestion",
        "How long readings must stay raised before a reset is suggested", "seconds",
        "Longer = more patient."),
    "settled_index": ThresholdWords(
        "level that counts as settled",
        "How close to your usual readings must come to count as settled",
        "activation index (0 is your usual; no unit)",
        "Lower = stricter; it must stay below elevated_index."),
    "settle_s": ThresholdWords(
        "time to count as settled",
        "How long readings must stay close to your usual to count as settled", "seconds",
        "Longer = stricter."),
    "repeat_after_s": ThresholdWords(
        "time before a second suggestion",
        "How long before a second, gentler suggestion if readings stay raised", "seconds",
        "Longer = more patient."),
    "watch_span_s": ThresholdWords(
        "how long afterbeat watches after a session",
        "How long after a session afterbeat may suggest resets", "seconds",
        "Longer = watches for longer."),
}
"""Plain words for every threshold a plan may change (keys of ``THRESHOLD_RANGES``)."""


def threshold_default(key: str) -> float:
    """The usual value of a threshold (the default Settings), in its own unit."""
    return float(getattr(DEFAULT_SETTINGS, key))


def threshold_comment(key: str) -> str:
    """One comment line for the plan file: meaning, unit, range, usual value and direction."""
    words = THRESHOLD_WORDS[key]
    low, high = THRESHOLD_RANGES[key]
    return (f"# {words.meaning}, {words.unit} ({low:g} to {high:g}; usual "
            f"{threshold_default(key):g}). {words.direction}")


def _shown(key: str, value: float) -> str:
    unit = THRESHOLD_WORDS[key].unit
    if unit == "seconds":
        return f"{value / 60:g} min" if value >= 60 else f"{value:g} s"
    if unit == "beats per minute":
        return f"{value:g} bpm"
    return f"{value:g}"


def plan_to_toml(plan: Plan) -> str:
    """The plan as a commented TOML file that ``parse_plan_text`` reads back to the same plan."""
    ids = ", ".join(r.id for r in LIBRARY)
    kinds = ", ".join(str(k) for k in ResetKind)
    head = (
        "# afterbeat plan: made together, readable and editable in any text editor.\n"
        "# Load it with `afterbeat plan import FILE` (it shows what changes before applying).\n"
        "#\n"
        f"# preferred / avoided: reset ids ({ids})\n"
        f"#   or kinds ({kinds}).\n"
        "# breaths_per_min: your own breathing pace for slow, even breathing (4.5 to 7).\n"
        "# coping_text: your own words, shown when a reset is suggested.\n"
        "# contact_text: whom to contact and how.\n"
        "# locale: like en-GB or de-DE (picks the support lines shown).\n"
        "# [thresholds] at the end: each setting says what it means; a line starting with #\n"
        "#   keeps the usual value (remove the # and change the number to set it).\n\n"
    )
    doc: dict[str, Any] = {"version": plan.to_json()["version"],
                           "preferred": list(plan.preferred), "avoided": list(plan.avoided)}
    if plan.breaths_per_min is not None:
        doc["breaths_per_min"] = plan.breaths_per_min
    doc["coping_text"] = plan.coping_text
    doc["contact_text"] = plan.contact_text
    if plan.locale is not None:
        doc["locale"] = plan.locale
    # Multi-line strings read best, but TOML readers may turn a CR LF inside one into LF:
    # texts holding a CR are written as escaped one-line strings so they come back the same.
    multiline = not any("\r" in text for text in (plan.coping_text, plan.contact_text))
    return head + tomli_w.dumps(doc, multiline_strings=multiline) + _thresholds_toml(plan)


def _thresholds_toml(plan: Plan) -> str:
    """The ``[thresholds]`` table: every setting with its comment, unset ones commented out."""
    lines = ["", "[thresholds]"]
    for key in THRESHOLD_RANGES:
        lines.append(threshold_comment(key))
        value = plan.thresholds.get(key)
        if value is None:
            lines.append("# " + tomli_w.dumps({key: threshold_default(key)}).strip())
        else:
            lines.append(tomli_w.dumps({key: value}).strip())
    # Keys a future version might allow but this one does not know are never written.
    return "\n".join(lines) + "\n"


def parse_plan_text(data: bytes, name: str | None = "plan") -> Plan:
    """A validated plan from a file's bytes (TOML, or JSON when it starts with ``{``); errors
    name the file ``name`` (None: "This file", for a page that names it itself)."""
    subject = name if name is not None else "This file"
    if len(data) > MAX_PLAN_FILE_BYTES:
        raise PlanError("(file)", f"{subject} is larger than {MAX_PLAN_FILE_BYTES // 1024} KiB; "
                        "a plan file is a few hundred bytes")
    if _looks_binary(data):
        raise PlanError("(file)", f"{subject} is not text (a plan file is a small text file, "
                        "like the one `afterbeat plan export` writes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanError("(file)", f"{subject} is text but not saved as UTF-8 (the first odd byte "
                        f"is number {exc.start + 1}); save it as UTF-8 in your editor") from exc
    text = text.removeprefix("\ufeff")
    obj: Any
    if text.lstrip().startswith("{"):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PlanError("(file)", f"{subject} starts like a JSON plan but cannot be read at "
                            f"line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
        except RecursionError as exc:
            raise PlanError("(file)", f"{subject} is nested far too deeply to be a plan") from exc
    else:
        try:
            obj = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            problem = _toml_problem(str(exc), text)
            raise PlanError("(file)", problem if name is None else f"{name}: {problem}") from exc
        except RecursionError as exc:
            raise PlanError("(file)", f"{subject} is nested far too deeply to be a plan") from exc
    return plan_from_json(obj)


def _looks_binary(data: bytes) -> bool:
    """True for bytes that are no kind of text: a NUL, or many control bytes at the start."""
    head = data[:4096]
    if b"\x00" in head:
        return True
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 13, 12))
    return bool(head) and control > max(2, len(head) // 20)


_TOML_WHERE = re.compile(r"\s*\((?:at line (\d+), column (\d+)|at end of document)\)\s*$")

_TOML_WORDS: Final = (
    ("Invalid statement", "this does not look like a plan file: {where} is not 'name = value' "
     "(or a [thresholds] heading or a # comment)"),
    ("Invalid value", "the value {at} is unfinished, or is not a number, \"text in quotes\", "
     "true/false or a [list]"),
    ("Expected '=' after a key", "this does not look like a plan file: {where} is not "
     "'name = value' (it has no '=' after the name)"),
    ("Invalid initial character for a key", "{where} does not start with a name "
     "(names are like coping_text or sustain_s)"),
    ("Cannot overwrite a value", "a setting is given twice (noticed at {where})"),
    ("Cannot declare", "a section is given twice (noticed at {where})"),
    ("Unclosed array", "a [list] is not closed with ] ({where})"),
    ("Unterminated string", "a text in quotes is not closed ({where})"),
    ("Illegal character", "{where} holds a character a plan file cannot hold, or a text whose "
     "quotes are not closed"),
    ("Expected newline or end of document", "{where} has something after its value; put each "
     "'name = value' on its own line"),
)


def _toml_problem(message: str, text: str) -> str:
    """A TOML reader's message said in plain words, keeping the line and column."""
    match = _TOML_WHERE.search(message)
    core = message[:match.start()] if match else message
    if match is None or match.group(1) is None:
        lines = text.splitlines() or [""]
        where, at = (f"line {len(lines)}, the end of the file",
                     f"at the end of the file (line {len(lines)})")
    else:
        where = f"line {match.group(1)} (column {match.group(2)})"
        at = f"on line {match.group(1)}, column {match.group(2)}"
    for start, words in _TOML_WORDS:
        if core.startswith(start):
            said = words.format(where=where, at=at)
            return said[:1].upper() + said[1:] + "."
    return f"This cannot be read as a plan file {at}: {core}."


def _reset_name(entry: str) -> str:
    try:
        return get_reset(entry).title
    except UnknownReset:
        return f"any {entry} reset"


def _entries(values: tuple[str, ...]) -> str:
    return ", ".join(_reset_name(v) for v in values) if values else "none"


def _text(value: str) -> str:
    return repr(value) if value else "empty"


def plan_changes(old: Plan, new: Plan) -> list[str]:
    """What applying ``new`` over ``old`` would change, one plain line per field."""
    out: list[str] = []
    if old.preferred != new.preferred:
        out.append(f"preferred resets: {_entries(old.preferred)} -> {_entries(new.preferred)}")
    if old.avoided != new.avoided:
        out.append(f"avoided resets: {_entries(old.avoided)} -> {_entries(new.avoided)}")
    if old.breaths_per_min != new.breaths_per_min:
        def pace(v: float | None) -> str:
            return "the usual 6" if v is None else f"{v:g}"
        out.append(f"breathing pace (breaths/min): {pace(old.breaths_per_min)} -> "
                   f"{pace(new.breaths_per_min)}")
    for key in THRESHOLD_RANGES:
        a, b = old.thresholds.get(key), new.thresholds.get(key)
        if a != b:
            def value(v: float | None, key: str = key) -> str:
                if v is None:
                    return f"the usual setting ({_shown(key, threshold_default(key))})"
                return _shown(key, v)
            name = THRESHOLD_WORDS[key].name
            out.append(f"{name[:1].upper() + name[1:]} ({key}): {value(a)} -> {value(b)}")
    if old.coping_text != new.coping_text:
        out.append(f"your own words: {_text(old.coping_text)} -> {_text(new.coping_text)}")
    if old.contact_text != new.contact_text:
        out.append(f"contact: {_text(old.contact_text)} -> {_text(new.contact_text)}")
    if old.locale != new.locale:
        out.append(f"locale: {old.locale or 'not set'} -> {new.locale or 'not set'}")
    return out


def _e(text: str) -> str:
    return html.escape(text, quote=True)


_CARD_STYLE = """
@page { margin: 15mm; }
body { font: 11pt/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2428;
       max-width: 170mm; margin: 0 auto; padding: 8mm 0; }
h1 { font-size: 16pt; margin: 0 0 3mm; }
h2 { font-size: 11.5pt; margin: 5mm 0 1mm; }
p, li { margin: 1mm 0; }
.words { font-size: 13pt; border-left: 3px solid #5b7f95; padding: 1mm 3mm; white-space: pre-wrap; }
.small { color: #4a5860; font-size: 9pt; }
"""


def _support(plan: Plan) -> str:
    """The card's calm support block: the plan's own contact, then the lines for its locale."""
    block = lines_for_locale(plan.locale)
    parts = ["<h2>If you would like to talk to someone</h2>"]
    if plan.contact_text:
        parts.append(f'<p class="words">{_e(plan.contact_text)}</p>')
    if block.lines:
        where = f" ({_e(block.region)})" if block.region else ""
        parts.append(f"<p>Support lines you can contact whenever you choose{where}:</p><ul>")
        parts += [f"<li><strong>{_e(line.name)}</strong>: {_e(line.number)}. "
                  f"{_e(line.description)}</li>" for line in block.lines]
        parts.append("</ul>")
    elif block.note:
        parts.append(f"<p>{_e(block.note)}</p>")
    if plan.locale is None:
        parts.append('<p class="small">Add a locale to the plan (like en-GB) to see the '
                     "support lines for your region here.</p>")
    return "".join(parts)


def render_plan_card(plan: Plan, made_on: date | None = None) -> str:
    """The plan as a self-contained one-page HTML card (no scripts, no outside requests);
    ``made_on`` is the date printed on it (the caller's today)."""
    def items(values: tuple[str, ...], empty: str) -> str:
        if not values:
            return f"<p>{_e(empty)}</p>"
        return "<ul>" + "".join(f"<li>{_e(_reset_name(v))}</li>" for v in values) + "</ul>"

    pace = ("the usual 6 breaths a minute" if plan.breaths_per_min is None
            else f"{plan.breaths_per_min:g} breaths a minute")
    parts = [
        "<h1>My afterbeat plan</h1>",
        '<p class="small">For the hours after a session. afterbeat is a wellness tool for '
        "relaxation, not a medical device.</p>",
    ]
    if made_on is not None:
        parts.append(f'<p class="small">Made on {made_on.day} {made_on:%B %Y} '
                     f'(<time datetime="{made_on.isoformat()}">{made_on.isoformat()}</time>).'
                     "</p>")
    if plan.coping_text:
        parts.append(f'<h2>My own words</h2><p class="words">{_e(plan.coping_text)}</p>')
    parts += [
        "<h2>Resets I prefer</h2>", items(plan.preferred, "No preference: afterbeat starts "
                                          "with slow breathing."),
        "<h2>Resets I leave out</h2>", items(plan.avoided, "None."),
        f"<h2>My breathing pace</h2><p>Slow, even breathing at {_e(pace)}.</p>",
    ]
    parts.append(_support(plan))
    if plan.thresholds:
        rows = []
        for key, value in plan.thresholds.items():
            name = THRESHOLD_WORDS[key].name
            rows.append(f"<li>{_e(name[:1].upper() + name[1:])}: {_e(_shown(key, value))} "
                        f'<span class="small">(usual {_e(_shown(key, threshold_default(key)))})'
                        "</span></li>")
        parts.append("<h2>Settings we changed together</h2><ul>" + "".join(rows) + "</ul>")
    csp = "default-src 'none'; style-src 'unsafe-inline'"
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            "<title>My afterbeat plan</title>"
            f"<style>{_CARD_STYLE}</style></head><body>{''.join(parts)}</body></html>\n")
