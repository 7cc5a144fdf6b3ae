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
import tomllib
from typing import Any, Final

import tomli_w

from afterbeat.resets.library import LIBRARY, ResetKind, UnknownReset, get_reset
from afterbeat.resets.plan import THRESHOLD_RANGES, Plan, PlanError, plan_from_json

__all__ = [
    "MAX_PLAN_FILE_BYTES",
    "parse_plan_text",
    "plan_changes",
    "plan_to_toml",
    "render_plan_card",
]

MAX_PLAN_FILE_BYTES: Final = 64 * 1024
"""A plan is a few hundred bytes; anything larger is refused before it is parsed."""

_THRESHOLD_WORDS: Final = {
    "grace_s": ("quiet time after a session before anything is suggested", "s"),
    "activated_index": ("activation level that counts as raised", ""),
    "elevated_index": ("activation level that leads to a suggestion", ""),
    "elevated_heart_rate_delta_bpm": ("heart rate above usual that also counts", "bpm"),
    "elevated_ln_rmssd_delta": ("drop in heart-rate variability that also counts (ln RMSSD)", ""),
    "sustain_s": ("how long readings stay raised before a suggestion", "s"),
    "settled_index": ("activation level that counts as settled", ""),
    "settle_s": ("how long readings stay there to count as settled", "s"),
    "repeat_after_s": ("time before a reset is suggested again", "s"),
    "watch_span_s": ("how long afterbeat watches after a session", "s"),
}


def plan_to_toml(plan: Plan) -> str:
    """The plan as a commented TOML file that ``parse_plan_text`` reads back to the same plan."""
    ids = ", ".join(r.id for r in LIBRARY)
    kinds = ", ".join(str(k) for k in ResetKind)
    ranges = "\n".join(f"#   {key}: {low:g} to {high:g}"
                       for key, (low, high) in THRESHOLD_RANGES.items())
    head = (
        "# afterbeat plan: made together, readable and editable in any text editor.\n"
        "# Load it with `afterbeat plan import FILE` (it shows what changes before applying).\n"
        "#\n"
        f"# preferred / avoided: reset ids ({ids})\n"
        f"#   or kinds ({kinds}).\n"
        "# breaths_per_min: your own breathing pace for slow, even breathing (4.5 to 7).\n"
        "# thresholds (optional), each within its allowed range:\n"
        f"{ranges}\n"
        "# coping_text: your own words, shown when a reset is suggested.\n"
        "# contact_text: whom to contact and how.\n"
        "# locale: like en-GB or de-DE (picks the support lines shown).\n\n"
    )
    doc: dict[str, Any] = {"version": plan.to_json()["version"],
                           "preferred": list(plan.preferred), "avoided": list(plan.avoided)}
    if plan.breaths_per_min is not None:
        doc["breaths_per_min"] = plan.breaths_per_min
    doc["coping_text"] = plan.coping_text
    doc["contact_text"] = plan.contact_text
    if plan.locale is not None:
        doc["locale"] = plan.locale
    doc["thresholds"] = dict(plan.thresholds)
    # Multi-line strings read best, but TOML readers may turn a CR LF inside one into LF:
    # texts holding a CR are written as escaped one-line strings so they come back the same.
    multiline = not any("\r" in text for text in (plan.coping_text, plan.contact_text))
    return head + tomli_w.dumps(doc, multiline_strings=multiline)


def parse_plan_text(data: bytes, name: str = "plan") -> Plan:
    """A validated plan from a file's bytes (TOML, or JSON when it starts with ``{``)."""
    if len(data) > MAX_PLAN_FILE_BYTES:
        raise PlanError("(file)", f"{name} is larger than {MAX_PLAN_FILE_BYTES // 1024} KiB; "
                        "a plan file is a few hundred bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanError("(file)", f"{name} is not UTF-8 text (byte {exc.start})") from exc
    text = text.removeprefix("\ufeff")
    obj: Any
    if text.lstrip().startswith("{"):
        try:
            obj = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise PlanError("(file)", f"{name} is not valid JSON: {exc}") from exc
    else:
        try:
            obj = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, RecursionError) as exc:
            raise PlanError("(file)", f"{name} is not a valid plan file: {exc}") from exc
    return plan_from_json(obj)


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
    for key in sorted(set(old.thresholds) | set(new.thresholds)):
        a, b = old.thresholds.get(key), new.thresholds.get(key)
        if a != b:
            def value(v: float | None) -> str:
                return "the usual setting" if v is None else f"{v:g}"
            out.append(f"threshold {key}: {value(a)} -> {value(b)}")
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


def render_plan_card(plan: Plan) -> str:
    """The plan as a self-contained one-page HTML card (no scripts, no outside requests)."""
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
    if plan.coping_text:
        parts.append(f'<h2>My own words</h2><p class="words">{_e(plan.coping_text)}</p>')
    parts += [
        "<h2>Resets I prefer</h2>", items(plan.preferred, "No preference: afterbeat starts "
                                          "with slow breathing."),
        "<h2>Resets I leave out</h2>", items(plan.avoided, "None."),
        f"<h2>My breathing pace</h2><p>Slow, even breathing at {_e(pace)}.</p>",
    ]
    if plan.contact_text:
        parts.append(f'<h2>Whom to contact</h2><p class="words">{_e(plan.contact_text)}</p>')
    if plan.thresholds:
        rows = []
        for key, value in plan.thresholds.items():
            words, unit = _THRESHOLD_WORDS.get(key, (key, ""))
            shown = f"{value / 60:g} min" if unit == "s" and value >= 60 else f"{value:g} {unit}"
            rows.append(f"<li>{_e(words[:1].upper() + words[1:])}: {_e(shown.strip())}</li>")
        parts.append("<h2>Settings we changed together</h2><ul>" + "".join(rows) + "</ul>")
    csp = "default-src 'none'; style-src 'unsafe-inline'"
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            "<title>My afterbeat plan</title>"
            f"<style>{_CARD_STYLE}</style></head><body>{''.join(parts)}</body></html>\n")
