"""The live event contract: one enumeration, symmetric JSON, the published schema, the page."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from afterbeat.activation.arousal import Quality
from afterbeat.activation.recovery import RecoveryMetrics
from afterbeat.activation.watch import WatchState
from afterbeat.events import (
    EVENT_CLASSES,
    BaselineEvent,
    Connection,
    DismissedEvent,
    EventFormatError,
    EventType,
    HeartbeatEvent,
    HelloEvent,
    LiveEvent,
    MarkerEvent,
    MetricsEvent,
    Recording,
    RecoveryEvent,
    ResetAction,
    ResetEffectEvent,
    ResetEvent,
    StateEvent,
    StatusEvent,
    SuggestionEvent,
    parse_event,
)
from afterbeat.pipeline import Pipeline
from afterbeat.records import MarkerKind
from afterbeat.resets.effects import ResetEffect, WindowStats
from afterbeat.resets.library import ResetKind
from afterbeat.server.app import ServerSettings, create_app, state_of
from afterbeat.server.live_schema import LIVE_EVENT_MODELS, live_schema
from afterbeat.server.security import SecurityPolicy
from afterbeat.server.state import ServerState
from afterbeat.sources import ConnectionState
from afterbeat.storage.store import Store
from serverkit import demo_records, lifespan

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_FILE = ROOT / "docs" / "live-events.schema.json"
WEB_JS = ROOT / "web" / "js"
PORT = 8765
TOKEN = "test-token-not-secret"

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
maybe = st.none() | finite
times = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)
words = st.text(max_size=20)
maybe_words = st.none() | words
counts = st.integers(min_value=0, max_value=10_000)
json_objects = st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8),
                               max_size=4)


def _window() -> st.SearchStrategy[WindowStats]:
    return st.builds(WindowStats, start_t_s=times, end_t_s=times, samples=counts,
                     index=st.none() | st.floats(min_value=-10, max_value=10), heart_rate_bpm=maybe,
                     rmssd_ms=maybe, rmssd_excluded=counts, rmssd_unguarded=counts,
                     respiration_rate_bpm=maybe)


_effects = st.builds(
    ResetEffect, number=st.integers(min_value=1, max_value=50), reset_id=words,
    start_t_s=times, end_t_s=st.none() | times, before=_window(),
    during=st.none() | _window(), after=st.none() | _window(), rating_before=maybe,
    rating_after=maybe, settle_s=maybe, started_activated=st.booleans(),
    complete=st.booleans(), final=st.booleans())

_recovery = st.builds(
    RecoveryMetrics, session_end_s=times, time_to_settle_s=maybe,
    settled_within_grace=st.booleans(), heart_rate_half_recovery_s=maybe,
    heart_rate_plateau_bpm=maybe, heart_rate_residual_bpm=maybe,
    ln_rmssd_recovered_share_10min=maybe, heart_rate_at_end_bpm=maybe,
    baseline_heart_rate_bpm=maybe, notes=st.lists(words, max_size=3).map(tuple))

_states = st.sampled_from([str(s) for s in WatchState])

_connection = st.builds(
    Connection, source=words, state=st.sampled_from([str(s) for s in ConnectionState]),
    detail=maybe_words, attempt=st.none() | counts, next_delay_s=maybe,
    battery_pct=st.none() | st.integers(0, 100), contact=maybe_words,
    rr_available=st.none() | st.booleans(), device_name=maybe_words, session_t_s=maybe)

_recording = st.builds(Recording, active=st.booleans()) | st.builds(
    Recording, active=st.booleans(), session_id=st.none() | counts, failing=st.booleans(),
    unrecorded=counts, error=maybe_words)

_timeline: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries({
    "reset_id": maybe_words, "clock": st.just("unix"), "pattern": st.none(), "start_s": times,
    "origin_s": times, "end_s": st.none() | times, "cycle_base": counts,
    "prompts": st.just([])})

_reset_events = (
    st.builds(ResetEvent, action=st.sampled_from([ResetAction.STARTED, ResetAction.PACED]),
              reset_id=words, t_s=times, reset=json_objects, timeline=_timeline,
              breaths_per_min=st.none() | st.floats(4.5, 7.0))
    | st.builds(ResetEvent, action=st.just(ResetAction.STOPPED), reset_id=words, t_s=times,
                finished=st.booleans(), duration_s=times))

EVENTS: st.SearchStrategy[LiveEvent] = st.one_of(
    st.builds(MetricsEvent, t_s=times, heart_rate_bpm=maybe, rmssd_ms=maybe, arousal=maybe,
              score=st.none() | st.floats(0.0, 100.0),
              quality=st.sampled_from([str(q) for q in Quality]), ln_rmssd=maybe,
              respiration_rate_bpm=maybe, coherence=maybe, coverage=maybe,
              corrected_pct=maybe, rr_available=st.booleans(), baseline_heart_rate_bpm=maybe,
              baseline_rmssd_ms=maybe, baseline_provisional=st.none() | st.booleans(),
              state=st.none() | _states),
    st.builds(StateEvent, t_s=times, state=_states, reason=words,
              previous=st.none() | _states),
    st.builds(SuggestionEvent, t_s=times, reset=words,
              kind=st.sampled_from([str(k) for k in ResetKind]), reason=words,
              gentle=st.booleans(), switch_from=maybe_words, breaths_per_min=maybe,
              detail=maybe_words),
    st.builds(RecoveryEvent, t_s=times, recovery=_recovery),
    st.builds(MarkerEvent, t_s=times, kind=st.sampled_from([str(k) for k in MarkerKind]),
              value=maybe, text=maybe_words),
    st.builds(BaselineEvent, t_s=times, ok=st.booleans(), reason=words,
              baseline=st.none() | json_objects, reset=st.booleans()),
    st.builds(ResetEffectEvent, t_s=times, effect=_effects),
    st.builds(StatusEvent, connection=_connection, recording=_recording,
              notes=st.lists(words, max_size=3).map(tuple)),
    _reset_events,
    st.builds(DismissedEvent, t_s=times),
    st.builds(HeartbeatEvent, last_seq=counts, emitted_at=times),
)
"""Every event type except hello (whose status body is checked from a real server below)."""


def _wire(event: LiveEvent) -> dict[str, Any]:
    """The event's data as a client reads it: JSON text, with the hub's ``emitted_at``."""
    data = {"emitted_at": 1_800_000_000.5, **event.to_json()}
    loaded: dict[str, Any] = json.loads(json.dumps(data))
    return loaded


_VALIDATOR = jsonschema_rs.validator_for(live_schema())


@pytest.fixture
def validator() -> Any:
    return _VALIDATOR


@given(EVENTS)
def test_every_event_survives_a_json_round_trip(event: LiveEvent) -> None:
    data = _wire(event)
    parsed = parse_event(data)
    assert type(parsed) is type(event)
    assert parsed.to_json() == event.to_json()
    assert data["type"] == event.type


@given(EVENTS)
def test_every_event_validates_against_the_published_schema(event: LiveEvent) -> None:
    data = _wire(event)
    _VALIDATOR.validate(data)
    LIVE_EVENT_MODELS[event.type].model_validate(data)


def test_one_enumeration_names_every_class_model_and_schema_entry() -> None:
    kinds = set(EventType)
    assert set(EVENT_CLASSES) == kinds and set(LIVE_EVENT_MODELS) == kinds
    assert set(live_schema()["x-events"]) == {str(k) for k in kinds}
    assert all(cls.type is kind for kind, cls in EVENT_CLASSES.items())


def test_bad_event_json_is_a_typed_error() -> None:
    with pytest.raises(EventFormatError, match="unknown event type"):
        parse_event({"type": "reset_started"})
    with pytest.raises(EventFormatError, match="'t_s'"):
        parse_event({"type": "dismissed", "t_s": "soon"})
    with pytest.raises(EventFormatError, match="expected a state event"):
        StateEvent.from_json({"type": "metrics"})


def test_reset_effect_windows_carry_medians_and_no_display_score() -> None:
    window = WindowStats(0.0, 60.0, 12, 0.0, 70.0, 40.0, 0, 0, 12.0)
    effect = ResetEffect(1, "resonance", 60.0, 360.0, window, None, None, None, None, None,
                         False, True, True)
    data = ResetEffectEvent(360.0, effect).to_json()
    # a score is shown only beside the state words it belongs to (activation/display.py)
    assert "score" not in data["before"]
    assert data["before"]["index"] == 0.0 and data["before"]["heart_rate_bpm"] == 70.0
    assert data["after"] is None
    assert ResetEffectEvent.from_json(data) == ResetEffectEvent(360.0, effect)


def test_a_real_session_gives_events_the_schema_accepts(validator: Any) -> None:
    _, records = demo_records(limit_s=1500.0)
    pipeline = Pipeline()
    seen: set[EventType] = set()
    for record in records:
        for event in pipeline.push(record):
            validator.validate(_wire(event))
            seen.add(event.type)
    for event in pipeline.finish():
        validator.validate(_wire(event))
        seen.add(event.type)
    assert {EventType.METRICS, EventType.STATE, EventType.MARKER} <= seen


@dataclass
class Served:
    http: httpx.AsyncClient
    state: ServerState


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    with Store.open(tmp_path) as store:
        app = create_app(ServerSettings(port=PORT), None, store,
                         policy=SecurityPolicy(port=PORT, token=TOKEN))
        transport = httpx.ASGITransport(app=app)
        async with lifespan(app), httpx.AsyncClient(
                transport=transport, base_url=f"http://127.0.0.1:{PORT}",
                headers={"X-Afterbeat-Token": TOKEN}) as http:
            yield Served(http, state_of(app))


async def test_the_schema_is_served_and_matches_the_docs_file(served: Served) -> None:
    client = served.http
    served_schema = (await client.get("/api/live/schema")).json()
    assert served_schema == live_schema()
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == served_schema, (
        "docs/live-events.schema.json is stale: "
        "python -m afterbeat.server.live_schema > docs/live-events.schema.json")
    openapi = (await client.get("/openapi.json")).json()
    assert "/api/live/schema" in openapi["paths"]


async def test_server_events_validate_against_the_schema(served: Served,
                                                         validator: Any) -> None:
    client, state = served.http, served.state
    hello = HelloEvent(last_seq=0, status=await state.status_json(), emitted_at=1.0)
    validator.validate(_wire(hello))
    assert parse_event(_wire(hello)).to_json() == hello.to_json()
    last = state.hub.last_seq
    assert (await client.post("/api/resets/start", json={"reset_id": "resonance"})).is_success
    assert (await client.put("/api/resets/pace", json={"breaths_per_min": 5})).is_success
    assert (await client.post("/api/resets/stop", json={"finished": True})).is_success
    assert (await client.post("/api/suggestion/dismiss", json={})).is_success
    assert (await client.delete("/api/baseline")).is_success
    sent = state.hub.since(last)
    for event in sent:
        data = json.loads(event.data_json)
        assert data["type"] == event.type
        validator.validate(data)
    assert {e.type for e in sent} >= {"reset", "marker", "dismissed", "baseline"}


def _page_types() -> tuple[set[str], set[str]]:
    """Event types the page subscribes to (live.js) and those its handlers name (.on)."""
    live = (WEB_JS / "live.js").read_text(encoding="utf-8")
    block = re.search(r"const EVENT_TYPES = \[(.*?)\];", live, re.S)
    assert block is not None, "web/js/live.js no longer lists EVENT_TYPES"
    listened = set(re.findall(r"'([a-z_]+)'", block.group(1)))
    handled: set[str] = set()
    for path in sorted(WEB_JS.glob("*.js")):
        handled |= set(re.findall(r"\.on\(\s*'([^']+)'", path.read_text(encoding="utf-8")))
    return listened, handled


def test_the_page_listens_for_exactly_the_types_the_server_sends() -> None:
    listened, handled = _page_types()
    assert listened == {str(k) for k in EventType}
    # open, error and unauthorized come from the stream itself (web/js/live.js), not the server
    assert handled - {"open", "error", "unauthorized", "*"} <= listened


def test_the_page_does_not_compute_the_display_score() -> None:
    for path in sorted(WEB_JS.glob("*.js")):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"Math\.exp\(\s*-\s*1\.7", text), f"{path.name} recomputes the score"
