"""A summary across sessions that the person may choose to share (pure code).

Built from the per-session reports (``afterbeat.report.build_report``: a recording replayed
through the live pipeline), so every number in it can be rebuilt from the recordings:

- *time to settle after a session*: the ``recovery`` result's ``time_to_settle_s``, by the one
  definition and timing of settling afterbeat uses everywhere
  (:mod:`afterbeat.activation.settling`: from the session end to the first reading of the
  first 2 minutes back near the person's usual resting level), as a reset's ``settle_s`` is
  from the reset's start;
- *resets*: the final ``reset_effect`` of each reset (``afterbeat.resets.effects``); which were
  followed by settling and how fast comes from ``afterbeat.resets.trends.reset_stats``;
- *ratings*: the person's own 0-10 ratings before and after resets;
- *the hint*: ``afterbeat.resets.trends.trend_hint``, a gentle line about talking it over with
  the therapist, never an alarm or a verdict;
- *notes*: only the ones the person chose to include.

:func:`render_summary_html` turns a :class:`Summary` into one self-contained HTML page (inline
styles and SVG, no scripts, no outside requests) that prints on one or two A4 or US Letter pages.
"""

from __future__ import annotations

import html
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from afterbeat.activation.settling import minutes_text, settled_when, span_text
from afterbeat.resets.effects import ResetEffect
from afterbeat.resets.plan import Plan
from afterbeat.resets.trends import (
    ResetStats,
    SessionOutcome,
    TrendHint,
    reset_stats,
    trend_hint,
)

__all__ = [
    "DEFAULT_SINCE_DAYS",
    "NoteItem",
    "SessionDigest",
    "Summary",
    "build_summary",
    "digest_report",
    "render_summary_html",
]

DEFAULT_SINCE_DAYS = 28
"""The period a summary covers unless the person picks another (days)."""


@dataclass(frozen=True, slots=True)
class NoteItem:
    """A note the person wrote during a recording: when (s into the recording) and its text."""

    session_id: int
    t_s: float
    text: str


@dataclass(frozen=True, slots=True)
class SessionDigest:
    """What the summary needs of one recorded session, taken from its report."""

    session_id: int
    started_at: datetime
    """Wall-clock start of the recording (UTC)."""
    duration_s: float
    session_end_t_s: float | None
    """When the therapy session ended (s into the recording); None if not marked."""
    time_to_settle_s: float | None
    """From the session's end until settled (s); None when not seen within the watch."""
    effects: tuple[ResetEffect, ...] = ()
    notes: tuple[NoteItem, ...] = ()
    settle_hold_s: float | None = None
    """The settling rule its recovery was judged by (s; None in results kept before it was)."""

    def outcome(self) -> SessionOutcome:
        """The same session as ``afterbeat.resets.trends`` sees it."""
        watched_s = (None if self.session_end_t_s is None
                     else max(0.0, self.duration_s - self.session_end_t_s))
        return SessionOutcome(session_id=self.session_id,
                              started_at=self.started_at.isoformat(),
                              time_to_settle_s=self.time_to_settle_s, effects=self.effects,
                              watched_s=watched_s)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def digest_report(session_id: int, started_at: datetime, report: Mapping[str, Any]
                  ) -> SessionDigest:
    """The digest of one session from its report (``build_report``'s dict)."""
    markers = [m for m in report.get("markers", []) if isinstance(m, Mapping)]
    ends = [_number(m.get("t_s")) for m in markers if m.get("kind") == "session_end"]
    recovery = [r for r in report.get("recovery", []) if isinstance(r, Mapping)]
    settle = _number(recovery[-1].get("time_to_settle_s")) if recovery else None
    hold = _number(recovery[-1].get("settle_hold_s")) if recovery else None
    effects: list[ResetEffect] = []
    for item in report.get("resets", []):
        if isinstance(item, Mapping) and item.get("final"):
            effects.append(ResetEffect.from_json(item))
    notes = tuple(NoteItem(session_id, float(m["t_s"]), str(m["text"])) for m in markers
                  if m.get("kind") == "note" and isinstance(m.get("text"), str)
                  and _number(m.get("t_s")) is not None)
    return SessionDigest(
        session_id=session_id, started_at=started_at.astimezone(UTC),
        duration_s=_number(report.get("duration_s")) or 0.0,
        session_end_t_s=next((t for t in ends if t is not None), None),
        time_to_settle_s=settle, effects=tuple(effects), notes=notes, settle_hold_s=hold)


@dataclass(frozen=True, slots=True)
class Summary:
    """Everything the shared page says, in the period ``since``..``until`` (UTC)."""

    since: datetime
    until: datetime
    sessions: tuple[SessionDigest, ...]
    """Recordings in the period, oldest first."""
    resets: tuple[ResetStats, ...]
    hint: TrendHint | None
    notes: tuple[NoteItem, ...] = field(default=())
    """Only the notes the person chose to include."""
    include_ratings: bool = True

    @property
    def after_session(self) -> tuple[SessionDigest, ...]:
        """Recordings in which the end of a therapy session was marked."""
        return tuple(s for s in self.sessions if s.session_end_t_s is not None)

    @property
    def settle_times_s(self) -> tuple[float, ...]:
        """Time to settle (s) of the sessions where settling was seen, oldest first."""
        return tuple(s.time_to_settle_s for s in self.after_session
                     if s.time_to_settle_s is not None)

    @property
    def median_settle_s(self) -> float | None:
        """Median time to settle (s) over the sessions where settling was seen."""
        times = self.settle_times_s
        return float(statistics.median(times)) if times else None

    def contents(self) -> str:
        """The first line of the page: what it contains, in plain words."""
        parts = ["how long it took to settle after each session", "which resets you used and "
                 "how they went"]
        if self.include_ratings and any(e.rating_before is not None
                                        or e.rating_after is not None
                                        for s in self.sessions for e in s.effects):
            parts.append("your own ratings before and after resets")
        elif self.include_ratings:
            parts.append("no ratings (none were given)")
        if self.notes:
            parts.append(f"{len(self.notes)} note{'s' if len(self.notes) != 1 else ''} "
                         "you chose to include")
        else:
            parts.append("no notes")
        return ("This page contains " + ", ".join(parts[:-1]) + " and " + parts[-1]
                + f", from {_day(self.since)} to {_day(self.until)}.")

    def to_json(self) -> dict[str, Any]:
        """The summary's numbers as JSON (what the page shows, for tests and tools)."""
        return {
            "since": self.since.isoformat(), "until": self.until.isoformat(),
            "contents": self.contents(),
            "sessions": [{
                "session_id": s.session_id, "started_at": s.started_at.isoformat(),
                "duration_s": s.duration_s, "session_end_t_s": s.session_end_t_s,
                "time_to_settle_s": s.time_to_settle_s,
                "resets": [e.reset_id for e in s.effects],
                "rating_before": s.outcome().rating_before if self.include_ratings else None,
                "rating_after": s.outcome().rating_after if self.include_ratings else None,
            } for s in self.sessions],
            "median_settle_s": self.median_settle_s,
            "resets": [r.to_json() for r in self.resets],
            "hint": None if self.hint is None else self.hint.to_json(),
            "notes": [{"session_id": n.session_id, "t_s": n.t_s, "text": n.text}
                      for n in self.notes],
        }


def build_summary(digests: Iterable[SessionDigest], *, until: datetime,
                  since_days: float = DEFAULT_SINCE_DAYS, plan: Plan | None = None,
                  include_ratings: bool = True,
                  note_filter: Sequence[tuple[int, float]] | bool = False) -> Summary:
    """The summary of the recordings started within ``since_days`` before ``until``.

    ``note_filter``: False (no notes, the default), True (every note in the period) or the
    (session id, t_s) pairs of the notes the person ticked.
    """
    if not since_days > 0:
        raise ValueError("since_days must be a positive number of days")
    until = until.astimezone(UTC)
    since = until - timedelta(days=since_days)
    chosen = sorted((d for d in digests if since <= d.started_at <= until),
                    key=lambda d: (d.started_at, d.session_id))
    effects = [e for d in chosen for e in d.effects]
    if note_filter is True:
        notes = tuple(n for d in chosen for n in d.notes)
    elif note_filter is False:
        notes = ()
    else:
        wanted = {(sid, round(t, 3)) for sid, t in note_filter}
        notes = tuple(n for d in chosen for n in d.notes
                      if (n.session_id, round(n.t_s, 3)) in wanted)
    return Summary(since=since, until=until, sessions=tuple(chosen),
                   resets=tuple(reset_stats(effects)),
                   hint=trend_hint([d.outcome() for d in chosen], plan),
                   notes=notes, include_ratings=include_ratings)


# -- rendering -------------------------------------------------------------------------------

def _day(moment: datetime) -> str:
    return f"{moment.day} {moment.strftime('%b %Y')}"


def _minutes(seconds: float) -> str:
    return minutes_text(seconds, short=True)


def _into(t_s: float) -> str:
    minutes = int(t_s // 60)
    return "at the start" if minutes == 0 else f"{minutes} min into the recording"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


_STYLE = """
@page { margin: 14mm 14mm 16mm; }
* { box-sizing: border-box; }
body { font: 10.5pt/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2428;
       margin: 0 auto; max-width: 180mm; padding: 8mm 4mm; background: #fff; }
h1 { font-size: 16pt; margin: 0 0 2mm; }
h2 { font-size: 12pt; margin: 6mm 0 2mm; border-bottom: 1px solid #c9d3d8; padding-bottom: 1mm; }
p { margin: 1.5mm 0; }
.contents { font-weight: 600; }
.small { color: #4a5860; font-size: 9pt; }
table { border-collapse: collapse; width: 100%; font-size: 9.5pt; }
th, td { text-align: left; padding: 1mm 2mm; border-bottom: 1px solid #e3e8eb;
         vertical-align: top; }
th { font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.hint { border-left: 3px solid #5b7f95; padding: 2mm 3mm; background: #f1f5f7; }
svg { display: block; max-width: 100%; height: auto; }
th.num { text-align: right; }
section { break-inside: avoid; }
@media screen and (max-width: 560px) {
  /* A phone: each table row becomes a small block, every cell named by its column. */
  table, tbody, tr, td { display: block; width: 100%; }
  thead { display: none; }
  tr { border-bottom: 1px solid #c9d3d8; padding: 1mm 0; }
  td, td.num { border: 0; padding: 0.5mm 0; text-align: left; overflow-wrap: anywhere; }
  td[data-label]::before { content: attr(data-label) ": "; color: #4a5860; }
}
@media print {
  body { padding: 0; font-size: 9.5pt; max-width: none; }
  h1 { font-size: 14pt; }
  h2 { margin-top: 4mm; }
}
"""


def _settle_chart(sessions: Sequence[SessionDigest]) -> str:
    """Bars: time to settle (min) after each session, oldest left; hollow = not seen settling."""
    shown = [s for s in sessions if s.session_end_t_s is not None]
    if not shown:
        return ""
    width, height, left, bottom, top = 640, 150, 44, 24, 10
    values = [s.time_to_settle_s / 60.0 for s in shown if s.time_to_settle_s is not None]
    top_min = max([10.0, *values]) * 1.15
    step = (width - left - 8) / len(shown)
    bar = max(4.0, min(36.0, step * 0.6))
    plot_h = height - bottom - top
    out = [f'<svg viewBox="0 0 {width} {height}" role="img" '
           'aria-label="Minutes to settle after each session, oldest first">']
    for frac in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - frac)
        out.append(f'<line x1="{left}" x2="{width - 4}" y1="{y:.1f}" y2="{y:.1f}" '
                   'stroke="#e3e8eb"/>')
        out.append(f'<text x="{left - 6}" y="{y + 3:.1f}" font-size="10" text-anchor="end" '
                   f'fill="#4a5860">{top_min * frac:.0f}</text>')
    for i, s in enumerate(shown):
        x = left + step * i + (step - bar) / 2
        label = s.started_at.strftime("%d %b")
        if s.time_to_settle_s is None:
            out.append(f'<rect x="{x:.1f}" y="{top:.1f}" width="{bar:.1f}" height="{plot_h:.1f}" '
                       'fill="none" stroke="#9aaab3" stroke-dasharray="3 3"/>')
        else:
            h = plot_h * (s.time_to_settle_s / 60.0) / top_min
            out.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
                       f'height="{h:.1f}" fill="#5b7f95"/>')
        if len(shown) <= 16 or i % max(1, len(shown) // 12) == 0:
            out.append(f'<text x="{x + bar / 2:.1f}" y="{height - 8}" font-size="9.5" '
                       f'text-anchor="middle" fill="#4a5860">{_e(label)}</text>')
    out.append(f'<text x="4" y="{top + 4}" font-size="10" fill="#4a5860">min</text></svg>')
    return "".join(out)


def _settle_section(summary: Summary) -> str:
    shown = summary.after_session
    parts = ['<section><h2>Settling after each session</h2>']
    if not shown:
        parts.append("<p>No session end was marked in this period, so there is nothing to "
                     "show here yet.</p></section>")
        return "".join(parts)
    seen = summary.settle_times_s
    median = summary.median_settle_s
    text = (f"{len(shown)} session{'s' if len(shown) != 1 else ''} in this period. ")
    if median is not None:
        text += (f"Settling was seen after {len(seen)} of them, typically "
                 f"{settled_when(median, 'the session ended', about='', short=True)} (median).")
    else:
        text += "Settling was not seen within the time afterbeat watches after any of them."
    if len(seen) >= 4:
        half = len(seen) // 2
        early, late = statistics.median(seen[:half]), statistics.median(seen[-half:])
        text += (f" Earlier sessions: {_minutes(early)}; later sessions: {_minutes(late)} "
                 "(medians).")
    parts.append(f"<p>{_e(text)}</p>")
    parts.append(_settle_chart(summary.sessions))
    holds = {s.settle_hold_s for s in shown}
    only = holds.pop() if len(holds) == 1 else None
    hold = None if only is None else span_text(only)
    stretch = (f"for {hold}; the time counts to when those {hold} began" if hold is not None
               else "for the stretch set at the time (2 minutes unless a plan changed it); the "
               "time counts to when that stretch began")
    parts.append('<p class="small">Each bar is one session, oldest on the left; a dashed '
                 "outline means settling was not seen while afterbeat was watching. "
                 "&ldquo;Settled&rdquo; means heart rate and heart-rate variability stayed "
                 f"near your own usual resting level {_e(stretch)}.</p></section>")
    return "".join(parts)


def _resets_section(summary: Summary) -> str:
    parts = ["<section><h2>Resets and how they went</h2>"]
    if not summary.resets:
        parts.append("<p>No resets were used in this period at a time when readings were "
                     "above your usual.</p></section>")
        return "".join(parts)
    parts.append("<table><thead><tr><th>Reset</th><th class=num>Times used</th>"
                 "<th class=num>Followed by settling</th><th class=num>Typical time to settle</th>")
    if summary.include_ratings:
        parts.append("<th class=num>Your rating, after minus before</th>")
    parts.append("</tr></thead><tbody>")
    for r in summary.resets:
        typical = "&mdash;" if r.median_settle_s is None else _minutes(r.median_settle_s)
        row = (f"<tr><td>{_e(r.name[:1].upper() + r.name[1:])}</td>"
               f'<td class=num data-label="Times used">{r.uses}</td>'
               f'<td class=num data-label="Followed by settling">{r.settled} of {r.uses}</td>'
               f'<td class=num data-label="Typical time to settle">{typical}</td>')
        if summary.include_ratings:
            change = r.median_rating_change
            row += ('<td class=num data-label="Your rating, after minus before">'
                    + ("&mdash;" if change is None else f"{change:+g}") + "</td>")
        parts.append(row + "</tr>")
    parts.append("</tbody></table>")
    note = ("Times count from the start of the reset to when the 2 settled minutes began. "
            "&ldquo;Typical&rdquo; is the median; "
            "a dash means it usually did not settle while afterbeat was watching.")
    if summary.include_ratings:
        note += (" Ratings are 0 (calm) to 10 (very stirred up): a negative change means you "
                 "felt calmer afterwards.")
    parts.append(f'<p class="small">{note}</p></section>')
    return "".join(parts)


def _ratings_section(summary: Summary) -> str:
    rows = [(s, s.outcome()) for s in summary.sessions]
    rated = [(s, o) for s, o in rows if o.rating_before is not None or o.rating_after is not None]
    if not summary.include_ratings:
        return ""
    parts = ["<section><h2>Your own ratings</h2>"]
    if not rated:
        parts.append("<p>No ratings were given in this period.</p></section>")
        return "".join(parts)
    parts.append("<table><thead><tr><th>Recording</th><th class=num>Before a reset</th>"
                 "<th class=num>After</th></tr></thead><tbody>")
    for s, o in rated:
        def cell(v: float | None) -> str:
            return "&mdash;" if v is None else f"{v:g} of 10"
        parts.append(f'<tr><td>{_e(_day(s.started_at))}</td><td class=num data-label="Before a '
                     f'reset">{cell(o.rating_before)}</td><td class=num data-label="After">'
                     f"{cell(o.rating_after)}</td></tr>")
    parts.append('</tbody></table><p class="small">0 is calm, 10 is very stirred up.</p>'
                 "</section>")
    return "".join(parts)


def _notes_section(summary: Summary) -> str:
    if not summary.notes:
        return ""
    days = {s.session_id: s.started_at for s in summary.sessions}
    parts = ["<section><h2>Notes you chose to include</h2><table><tbody>"]
    for n in summary.notes:
        when = days.get(n.session_id)
        label = (_day(when) + ", " if when is not None else "") + _into(n.t_s)
        parts.append(f"<tr><td>{_e(label)}</td><td>{_e(n.text)}</td></tr>")
    parts.append("</tbody></table></section>")
    return "".join(parts)


def render_summary_html(summary: Summary, *, made_at: datetime) -> str:
    """The summary as one self-contained, printable HTML page (no scripts, no outside links)."""
    hint = ""
    if summary.hint is not None:
        reasons = "".join(f"<p>{_e(r)}</p>" for r in summary.hint.reasons)
        hint = (f'<section class="hint"><h2>Worth talking over</h2>{reasons}'
                f"<p>{_e(summary.hint.text)}</p></section>")
    body = "".join([
        f'<p class="contents">{_e(summary.contents())}</p>',
        "<h1>afterbeat: the hours after your sessions</h1>",
        f'<p class="small">Made on {_e(_day(made_at.astimezone(UTC)))} from recordings kept on '
        "the person's own computer. afterbeat is a wellness tool for relaxation and "
        "self-reflection, not a medical device; these numbers describe activation relative "
        "to the person's own usual resting level.</p>",
        _settle_section(summary), _resets_section(summary), _ratings_section(summary), hint,
        _notes_section(summary),
    ])
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>afterbeat summary {_e(_day(summary.since))} to {_e(_day(summary.until))}"
            f"</title><style>{_STYLE}</style></head><body>{body}</body></html>\n")
