"""The shared summary rebuilt from replayed real recordings: every number traced to a report.

Sessions are built from a 24-hour PhysioNet recording in tests/data (real RR, CC BY 4.0, see
tests/data/physionet-healthy-24h): a night-time rest gives the person's baseline, then two-hour
daytime stretches each hold an illustrative therapy session, and a "person" who follows every
suggestion and rates how stirred up they feel (closed loop, research/closed_loop.py). They are
stored in a real SQLite store; the summary is then built from the store alone.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from afterbeat.hrv.beats import Beat
from afterbeat.records import Header, Marker, MarkerKind, Record
from afterbeat.resets.effects import ResetEffect
from afterbeat.resets.trends import reset_stats
from afterbeat.sources.replay import derived_notifications
from afterbeat.storage.history import person_pipeline, session_digests, session_report
from afterbeat.storage.importers import iter_beats
from afterbeat.storage.store import Store
from afterbeat.summary import build_summary, digest_report, render_summary_html
from closed_loop import closed_loop

pytestmark = pytest.mark.slow  # five two-hour real recordings replayed in closed loop

DATA = Path(__file__).parent / "data" / "physionet-healthy-24h"
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
RECORDING = DATA / "000.txt"
REST_H = 2.0
"""Hour of the night-time rest that gives the baseline (three marked 5-minute rests)."""
STRETCHES_H = [8.0, 11.0, 14.0, 17.0, 20.0]
"""Hours at which the two-hour daytime stretches start: one stored session each, days apart."""

CLINICAL = re.compile(r"\b(diagnos[a-z]*|disorder|ptsd|depression|panic attack|clinical(ly)?|"
                      r"medical[- ]grade|cures?|treats?)\b", re.I)
"""The wording check of the project's before-stop hook."""


def _stretch(start_h: float, span_h: float) -> Iterator[Beat]:
    first = start_h * 3600.0
    for beat in iter_beats(RECORDING):
        if first <= beat.t_s < first + span_h * 3600.0:
            yield Beat(beat.t_s - first, beat.rr_ms, beat.segment)


def _rating(number: int, when: str) -> float:
    return 6.0 if when == "before" else 4.0 - (number % 2)


@dataclass(frozen=True, slots=True)
class Built:
    """The store and what the live (closed-loop) runs said, per stored session id."""

    store: Store
    live_settle_s: dict[int, float | None]
    live_effects: dict[int, list[ResetEffect]]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    store = Store.open(tmp_path_factory.mktemp("summary-data"))
    rest = list(derived_notifications(_stretch(REST_H, 0.3)))
    marks = [Marker(t, kind) for start in (30.0, 360.0, 690.0) for t, kind in
             ((start, MarkerKind.BASELINE_START), (start + 300.0, MarkerKind.BASELINE_END))]
    baselines = [e["baseline"] for e in closed_loop(rest, marks).events
                 if e["type"] == "baseline" and e["ok"]]
    store.put_document("baseline", baselines[-1])
    settle: dict[int, float | None] = {}
    effects: dict[int, list[ResetEffect]] = {}
    for day, hour in enumerate(STRETCHES_H):
        records: list[Record] = list(derived_notifications(_stretch(hour, 2.0)))
        marks = [Marker(300.0, MarkerKind.SESSION_START), Marker(2400.0, MarkerKind.SESSION_END),
                 Marker(2500.0, MarkerKind.NOTE, text=f"drank water <b>{day}</b>")]
        run = closed_loop(records, marks, person_pipeline(store), rating=_rating)
        started = NOW - timedelta(days=2 * (len(STRETCHES_H) - day), hours=3)
        session_id = store.import_session(Header(started_at=started), run.records, "test")
        recovery = [e for e in run.events if e["type"] == "recovery"]
        settle[session_id] = recovery[-1]["time_to_settle_s"] if recovery else None
        effects[session_id] = [ResetEffect.from_json(e) for e in run.events
                               if e["type"] == "reset_effect" and e["final"]]
    yield Built(store, settle, effects)
    store.close()


def test_each_session_settle_time_is_the_replayed_report_and_the_live_run(built: Built) -> None:
    digests = list(session_digests(built.store, NOW - timedelta(days=28)))
    assert [d.session_id for d in digests] == sorted(built.live_settle_s)
    for digest in digests:
        report = session_report(built.store, digest.session_id)
        assert digest.time_to_settle_s == report["recovery"][-1]["time_to_settle_s"]
        assert digest.time_to_settle_s == built.live_settle_s[digest.session_id]
        assert [e.to_json() for e in digest.effects] == \
            [e.to_json() for e in built.live_effects[digest.session_id]]
        assert digest.session_end_t_s == 2400.0
    assert any(d.time_to_settle_s is not None for d in digests)
    assert sum(len(d.effects) for d in digests) >= 3


def test_reset_table_and_ratings_are_the_per_session_effects(built: Built) -> None:
    digests = list(session_digests(built.store, NOW - timedelta(days=28)))
    summary = build_summary(digests, until=NOW, since_days=28)
    everything = [e for d in digests for e in d.effects]
    assert list(summary.resets) == reset_stats(everything)
    data = summary.to_json()
    for row, digest in zip(data["sessions"], digests, strict=True):
        rated = [e.rating_before for e in digest.effects if e.rating_before is not None]
        assert row["rating_before"] == (rated[0] if rated else None)
    settled = [d.time_to_settle_s for d in digests if d.time_to_settle_s is not None]
    assert summary.settle_times_s == tuple(settled)


def test_the_page_shows_the_numbers_it_was_built_from(built: Built) -> None:
    digests = list(session_digests(built.store, NOW - timedelta(days=28)))
    summary = build_summary(digests, until=NOW, since_days=28)
    page = render_summary_html(summary, made_at=NOW)
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    first_line = re.search(r'<p class="contents">(.*?)</p>', page)
    assert first_line is not None and first_line.group(1).startswith("This page contains")
    assert "no notes" in first_line.group(1)
    for stats in summary.resets:
        assert f"{stats.settled} of {stats.uses}" in text
    median = summary.median_settle_s
    if median is not None:
        assert f"typically {max(1, round(median / 60))} min" in text
    assert "not a medical device" in text
    assert CLINICAL.search(text.replace("not a medical device", "")) is None
    assert "<script" not in page.lower() and "http://" not in page and "https://" not in page
    # On a phone each table row stacks, every number named by its column (print unchanged).
    assert summary.resets and re.search(r"<td class=num>", page) is None
    assert "@media screen and (max-width: 560px)" in page


def test_notes_only_when_chosen_and_always_as_text(built: Built) -> None:
    digests = list(session_digests(built.store, NOW - timedelta(days=28)))
    without = render_summary_html(build_summary(digests, until=NOW), made_at=NOW)
    assert "drank water" not in without
    some = build_summary(digests, until=NOW, note_filter=[(digests[0].session_id, 2500.0)])
    assert [n.text for n in some.notes] == ["drank water <b>0</b>"]
    page = render_summary_html(some, made_at=NOW)
    assert "drank water &lt;b&gt;0&lt;/b&gt;" in page and "<b>0</b>" not in page
    assert "1 note you chose to include" in page
    assert "41 min into the recording" in page
    every = build_summary(digests, until=NOW, note_filter=True)
    assert len(every.notes) == len(digests)


def test_the_period_picks_the_sessions(built: Built) -> None:
    digests = list(session_digests(built.store, NOW - timedelta(days=28)))
    recent = build_summary(digests, until=NOW, since_days=5)
    assert [d.session_id for d in recent.sessions] == [d.session_id for d in digests[-2:]]
    with pytest.raises(ValueError, match="positive"):
        build_summary(digests, until=NOW, since_days=0)


def test_a_rising_settling_time_brings_the_gentle_hint_never_an_alarm() -> None:
    start = NOW - timedelta(days=20)
    reports = [{"duration_s": 7200.0, "markers": [{"t_s": 2400.0, "kind": "session_end"}],
                "recovery": [{"time_to_settle_s": 600.0 + 400.0 * i}], "resets": []}
               for i in range(5)]
    digests = [digest_report(i + 1, start + timedelta(days=3 * i), r)
               for i, r in enumerate(reports)]
    summary = build_summary(digests, until=NOW)
    assert summary.hint is not None
    page = render_summary_html(summary, made_at=NOW)
    assert "Worth talking over" in page and "therapist" in page
    for loud in ("warning", "alert", "danger", "urgent"):
        assert loud not in page.lower()
    calm = build_summary(digests[:3], until=NOW)
    assert calm.hint is None and "Worth talking over" not in render_summary_html(
        calm, made_at=NOW)


def test_the_page_names_the_rule_its_sessions_were_judged_by_and_claims_no_ratings_unseen(
) -> None:
    start = NOW - timedelta(days=10)

    def reports(hold_s: float | None) -> list[dict[str, Any]]:
        recovery: dict[str, Any] = {"time_to_settle_s": 600.0}
        if hold_s is not None:
            recovery["settle_hold_s"] = hold_s
        return [{"duration_s": 7200.0, "markers": [{"t_s": 2400.0, "kind": "session_end"}],
                 "recovery": [recovery], "resets": []} for _ in range(2)]

    def page(hold_s: float | None) -> str:
        digests = [digest_report(i + 1, start + timedelta(days=i), r)
                   for i, r in enumerate(reports(hold_s))]
        return html.unescape(re.sub(r"<[^>]+>", " ", render_summary_html(
            build_summary(digests, until=NOW), made_at=NOW)))

    assert "for 5 minutes; the time counts to when those 5 minutes began" in page(300.0)
    assert "for 2 minutes;" in page(120.0)
    assert "2 minutes unless a plan changed it" in page(None)  # results kept before the rule
    text = page(120.0)
    assert "your own ratings" not in text and "no ratings (none were given)" in text
    assert "while activated" not in text
