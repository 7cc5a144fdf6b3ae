"""The JSON API in-process (httpx ASGITransport, the app's real lifespan, a real SQLite store)."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from afterbeat.pipeline import Pipeline
from afterbeat.records import Marker, MarkerKind
from afterbeat.resets.library import resonance_pattern
from afterbeat.resets.pacing import change_pattern, phase_at
from afterbeat.server.app import ServerSettings, create_app
from afterbeat.server.security import SecurityPolicy
from afterbeat.server.state import ServerState
from afterbeat.storage.recorder import Recorder
from afterbeat.storage.session_file import decode_line
from afterbeat.storage.store import Store
from serverkit import QueueSource, demo_records, lifespan, no_egress, scratch_dir, state_of

PORT = 8765
TOKEN = "test-token-not-secret"
AUTH = {"X-Afterbeat-Token": TOKEN}

pytestmark = pytest.mark.usefixtures("no_egress")  # docs/security.md D-EGRESS: loopback only
__all__ = ["no_egress"]  # the fixture, imported so pytest finds it here


@dataclass
class Api:
    client: httpx.AsyncClient
    state: ServerState
    store: Store
    source: QueueSource | None

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.client.get(path, headers=AUTH, **kw)

    async def post(self, path: str, body: Any) -> httpx.Response:
        return await self.client.post(path, json=body, headers=AUTH)

    async def put(self, path: str, body: Any) -> httpx.Response:
        return await self.client.put(path, json=body, headers=AUTH)

    async def delete(self, path: str) -> httpx.Response:
        return await self.client.delete(path, headers=AUTH)


@pytest.fixture
def data_path(tmp_path: Path) -> Iterator[Path]:
    path = scratch_dir(tmp_path)
    yield path
    if path != tmp_path:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def recorded(data_path: Path) -> int:
    """A complete session in the store: the demo recording up to 900 s (real RR, derived)."""
    header, records = demo_records(limit_s=900.0)
    with Store.open(data_path) as store:
        recorder = Recorder(store, header, "replay")
        for record in records:
            recorder.record(record)
        recorder.record(Marker(t_s=901.0, kind=MarkerKind.NOTE, text="MARKER-api-test"))
        recorder.close()
        assert recorder.session_id is not None
        return recorder.session_id


class ManualClock:
    """Unix seconds that move only when the test moves them."""

    def __init__(self, t_s: float) -> None:
        self.t_s = t_s

    def __call__(self) -> float:
        return self.t_s


async def _api(data_path: Path, source: QueueSource | None,
               clock: Callable[[], float] = time.time) -> AsyncIterator[Api]:
    store = Store.open(data_path)
    app = create_app(ServerSettings(port=PORT), source, store,
                     policy=SecurityPolicy(port=PORT, token=TOKEN), clock=clock)
    transport = httpx.ASGITransport(app=app)
    try:
        async with lifespan(app), httpx.AsyncClient(
                transport=transport, base_url=f"http://127.0.0.1:{PORT}") as client:
            yield Api(client, state_of(app), store, source)
    finally:
        store.close()


@pytest.fixture
async def api(data_path: Path) -> AsyncIterator[Api]:
    async for item in _api(data_path, None):
        yield item


@pytest.fixture
async def live_api(data_path: Path) -> AsyncIterator[Api]:
    async for item in _api(data_path, QueueSource()):
        yield item


def _loc(response: httpx.Response) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [item["loc"] for item in response.json()["detail"]]


async def test_status_shape(api: Api) -> None:
    body = (await api.get("/api/status")).json()
    assert {"source", "connection", "battery_pct", "recording", "baseline", "demo", "reset",
            "live"} <= set(body)
    assert body["recording"]["active"] is False and body["baseline"] is None


async def test_markers_go_to_recording_pipeline_and_stream(live_api: Api) -> None:
    assert live_api.source is not None
    _, records = demo_records(limit_s=20.0)
    live_api.source.feed(records)
    while live_api.state.status.records < len(records):
        await asyncio.sleep(0.01)
    kinds = ["baseline_start", "baseline_end", "session_start", "session_end", "moving_start",
             "moving_end"]
    for kind in kinds:
        response = await live_api.post("/api/markers", {"kind": kind})
        assert response.status_code == 201 and response.json()["recorded"] is True
    assert (await live_api.post("/api/markers", {"kind": "rating", "value": 4})).status_code == 201
    note = await live_api.post("/api/markers", {"kind": "note", "text": "<b>tea</b>"})
    assert note.json()["text"] == "<b>tea</b>"
    session_id = live_api.state.live_session_id
    assert session_id is not None
    _, stored = live_api.store.iter_records(session_id)
    marked = [r for r in stored if isinstance(r, Marker)]
    assert [str(m.kind) for m in marked] == [*kinds, "rating", "note"]
    assert marked[-1].text == "<b>tea</b>" and marked[-2].value == 4.0
    echoed = [e for e in live_api.state.hub.since(0) if e.type == "marker"]
    assert len(echoed) == len(marked)
    status = (await live_api.get("/api/status")).json()
    assert status["recording"] == {"active": True, "session_id": session_id, "failing": False,
                                   "unrecorded": 0, "error": None}


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "unknown_kind"}, "kind"),
    ({"kind": "rating"}, "value"),
    ({"kind": "rating", "value": 11}, "value"),
    ({"kind": "rating", "value": "NaN"}, "value"),
    ({"kind": "note"}, "text"),
    ({"kind": "note", "text": "x" * 2001}, "text"),
    ({"kind": "note", "text": "  "}, "text"),
    ({"kind": "session_end", "value": 3}, "value"),
    ({"kind": "note", "text": "x", "extra": 1}, "extra"),
    ({}, "kind"),
])
async def test_bad_markers_name_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    response = await api.post("/api/markers", body)
    locs = _loc(response)
    messages = [item["msg"] for item in response.json()["detail"]]
    assert any(field in loc for loc in locs) or any(f"'{field}'" in m for m in messages)


async def test_malformed_json_is_a_422(api: Api) -> None:
    response = await api.client.post("/api/markers", content=b"{nope",
                                     headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 422


async def test_resets_start_stop_rate(api: Api) -> None:
    library = (await api.get("/api/resets")).json()
    assert {"resonance"} <= {r["id"] for r in library}
    rated = await api.post("/api/resets/rate", {"rating": 7, "when": "before"})
    assert rated.status_code == 201
    before = time.time()
    started = await api.post("/api/resets/start", {"reset_id": "resonance",
                                                   "breaths_per_min": 5.5})
    assert started.status_code == 201
    timeline = started.json()["timeline"]
    assert timeline["clock"] == "unix" and before <= timeline["start_s"] <= time.time()
    assert timeline["pattern"]["cycle_s"] == pytest.approx(60 / 5.5, rel=1e-3)
    assert (await api.get("/api/status")).json()["reset"]["reset_id"] == "resonance"
    stopped = await api.post("/api/resets/stop", {"finished": True})
    assert stopped.status_code == 200 and stopped.json()["finished"] is True
    assert (await api.post("/api/resets/stop", {})).status_code == 409
    after = await api.post("/api/resets/rate", {"rating": 3, "when": "after"})
    assert after.json()["reset_id"] is None
    types = [e.type for e in api.state.hub.since(0)]
    assert types.count("reset") == 2
    markers = [e.data_json for e in api.state.hub.since(0) if e.type == "marker"]
    assert '"reset_start"' in markers[1] and '"before"' in markers[0]


async def test_pace_changes_during_a_resonance_reset(data_path: Path) -> None:
    clock = ManualClock(1_800_000_000.0)  # the pacer's Unix clock, fixed so the check is exact
    async for api in _api(data_path, None, clock=clock):
        await _pace_changes(api, clock)


async def _pace_changes(api: Api, clock: ManualClock) -> None:
    assert (await api.put("/api/resets/pace", {"breaths_per_min": 5})).status_code == 409
    started = await api.post("/api/resets/start", {"reset_id": "resonance",
                                                   "breaths_per_min": 6})
    assert started.status_code == 201
    assert started.json()["timeline"]["start_s"] == clock.t_s  # the injected clock, exactly
    running = api.state.resets.running
    assert running is not None
    old = running.timeline
    clock.t_s += 7.3  # half-way through the first exhale (4 s in, 6 s out)
    last = api.state.hub.last_seq
    paced = await api.put("/api/resets/pace", {"breaths_per_min": 5})
    assert paced.status_code == 200, paced.text
    body = paced.json()
    new = change_pattern(old, resonance_pattern(5.0), clock.t_s)
    assert body["timeline"] == new.to_json(unix_offset_s=0.0)
    assert body["timeline"]["pattern"]["cycle_s"] == pytest.approx(12.0)
    assert body["timeline"]["origin_s"] == old.origin_s and body["t_s"] == started.json()["t_s"]
    before, after = phase_at(old, clock.t_s), phase_at(new, clock.t_s)
    assert before.phase.direction == after.phase.direction  # the breath goes on, no jump
    assert after.cycle == before.cycle
    events = [e for e in api.state.hub.since(last) if e.type == "reset"]
    assert len(events) == 1 and '"action":"paced"' in events[0].data_json
    paced_marks = [e for e in api.state.hub.since(last) if e.type == "marker"]
    assert len(paced_marks) == 1 and '"kind":"pace"' in paced_marks[0].data_json
    assert '"value":5.0' in paced_marks[0].data_json  # recorded: replays follow the new pace
    assert (await api.get("/api/status")).json()["reset"]["timeline"] == body["timeline"]
    assert ["body", "breaths_per_min"] in _loc(
        await api.put("/api/resets/pace", {"breaths_per_min": 8}))
    await api.post("/api/resets/start", {"reset_id": "box"})
    fixed = await api.put("/api/resets/pace", {"breaths_per_min": 5})
    assert fixed.status_code == 409 and "keeps its own pace" in fixed.json()["detail"]
    await api.post("/api/resets/stop", {})
    assert (await api.put("/api/resets/pace", {"breaths_per_min": 5})).status_code == 409


async def test_reset_errors_name_the_field(api: Api) -> None:
    assert ["body", "reset_id"] in _loc(await api.post("/api/resets/start",
                                                       {"reset_id": "nope"}))
    assert ["body", "reset_id"] in _loc(await api.post("/api/resets/start",
                                                       {"reset_id": "../x"}))
    walk = next(r["id"] for r in (await api.get("/api/resets")).json()
                if r["kind"] == "movement")
    assert ["body", "breaths_per_min"] in _loc(await api.post(
        "/api/resets/start", {"reset_id": walk, "breaths_per_min": 6}))
    assert ["body", "when"] in _loc(await api.post("/api/resets/rate", {"rating": 3}))


async def test_dismiss(api: Api) -> None:
    response = await api.post("/api/suggestion/dismiss", {})
    assert response.status_code == 200 and response.json()["dismissed"] is True


async def test_sessions_list_get_export(api: Api, recorded: int) -> None:
    listed = (await api.get("/api/sessions")).json()
    assert [s["id"] for s in listed] == [recorded]
    assert listed[0]["status"] == "complete" and listed[0]["notifications"] > 800
    one = (await api.get(f"/api/sessions/{recorded}")).json()
    assert one["id"] == recorded and isinstance(one["results"], dict)
    export = await api.get(f"/api/sessions/{recorded}/export")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in export.headers["content-disposition"]
    lines = export.text.splitlines()
    assert decode_line(lines[0], header=True)
    _, stored = api.store.iter_records(recorded)
    assert [decode_line(line) for line in lines[1:]] == list(stored)


async def test_delete_erases(api: Api, recorded: int, data_path: Path) -> None:
    response = await api.delete(f"/api/sessions/{recorded}")
    assert response.status_code == 200 and response.json()["deleted"] is True
    assert (await api.get(f"/api/sessions/{recorded}")).status_code == 404
    assert (await api.delete(f"/api/sessions/{recorded}")).status_code == 404
    for name in ("sessions.sqlite3", "sessions.sqlite3-wal"):
        path = data_path / name
        if path.exists():
            assert b"MARKER-api-test" not in path.read_bytes()


async def test_a_session_with_a_damaged_header_lists_and_deletes(
        api: Api, recorded: int, data_path: Path) -> None:
    raw = sqlite3.connect(data_path / "sessions.sqlite3")
    with raw:  # a header as damage could leave it: neither JSON nor UTF-8
        raw.execute("UPDATE sessions SET header = CAST(? AS TEXT) WHERE id = ?",
                    (b'{"started_at": "\xff', recorded))
    raw.close()
    listed = await api.get("/api/sessions")
    assert listed.status_code == 200, listed.text
    assert [(s["id"], len(s["problems"])) for s in listed.json()] == [(recorded, 1)]
    assert (await api.get(f"/api/sessions/{recorded}")).json()["problems"] != []
    response = await api.delete(f"/api/sessions/{recorded}")
    assert response.status_code == 200 and response.json()["deleted"] is True
    assert (await api.get("/api/sessions")).json() == []
    raw = sqlite3.connect(data_path / "sessions.sqlite3")
    try:
        assert raw.execute("SELECT count(*) FROM records").fetchone()[0] == 0
    finally:
        raw.close()


async def test_live_session_cannot_be_deleted(live_api: Api) -> None:
    session_id = live_api.state.live_session_id
    assert session_id is not None
    assert (await live_api.delete(f"/api/sessions/{session_id}")).status_code == 409


@pytest.mark.parametrize("path", ["/api/sessions/0", "/api/sessions/-1", "/api/sessions/abc",
                                  "/api/sessions/99999999999999999999999",
                                  "/api/sessions/1.5/export"])
async def test_bad_session_ids(api: Api, path: str) -> None:
    assert (await api.get(path)).status_code == 422
    assert (await api.get("/api/sessions/12345")).status_code == 404


async def test_report_series_markers_and_recovery(api: Api, recorded: int) -> None:
    response = await api.get(f"/api/sessions/{recorded}/report")
    assert response.status_code == 200
    report = response.json()
    series = report["series"]
    assert len(series["t_s"]) > 100
    assert all(len(v) == len(series["t_s"]) for v in series.values())
    assert [b - a for a, b in zip(series["t_s"], series["t_s"][1:], strict=False)][:5] == \
        [5.0] * 5
    assert any(v for v in series["heart_rate_bpm"]) and any(v for v in series["rmssd_ms"])
    kinds = [m["kind"] for m in report["markers"]]
    assert kinds[:4] == ["baseline_start", "baseline_end", "session_start", "session_end"]
    assert report["recovery"]
    assert report["recovery"] and "time_to_settle_s" in report["recovery"][-1]
    assert report["states"] and report["session"]["id"] == recorded
    again = (await api.get(f"/api/sessions/{recorded}/report")).json()
    assert again == report


async def test_plan_round_trip_and_errors(api: Api) -> None:
    empty = (await api.get("/api/plan")).json()
    assert empty["preferred"] == []
    plan = {"preferred": ["walk"], "avoided": ["four_seven_eight"], "breaths_per_min": 5.5,
            "coping_text": "Blue jumper.", "contact_text": "Ring the practice.",
            "locale": "en-GB", "thresholds": {"sustain_s": 120}}
    saved = await api.put("/api/plan", plan)
    assert saved.status_code == 200, saved.text
    assert (await api.get("/api/plan")).json() == saved.json()
    assert ["body", "thresholds.sustain_s"] in _loc(
        await api.put("/api/plan", {"thresholds": {"sustain_s": 1}}))
    assert ["body", "colour"] in _loc(await api.put("/api/plan", {"colour": "red"}))
    assert (await api.put("/api/plan", [1, 2])).status_code == 422


async def test_plan_the_scorer_would_refuse_is_a_422(api: Api) -> None:
    response = await api.put("/api/plan", {"thresholds": {"elevated_index": 0.5}})
    assert ["body", "thresholds.elevated_index"] in _loc(response)
    assert api.store.get_document("plan") is None


async def test_a_saved_plan_reaches_the_running_pipeline(live_api: Api) -> None:
    pipeline = live_api.state.ingest.pipeline
    assert isinstance(pipeline, Pipeline) and pipeline.plan is None
    saved = await live_api.put("/api/plan", {"preferred": ["walk"],
                                             "thresholds": {"sustain_s": 240, "grace_s": 60}})
    assert saved.status_code == 200
    assert live_api.state.ingest.pipeline is pipeline  # the same pipeline, state kept
    assert pipeline.plan is not None and pipeline.plan.preferred == ("walk",)
    assert pipeline.settings.sustain_s == 240.0 and pipeline.watch.settings.grace_s == 60.0
    # the page words its settling definition from the rule the status reports
    status = (await live_api.get("/api/status")).json()
    assert status["rule"] == {"settle_hold_s": 120.0, "grace_s": 60.0}
    await live_api.put("/api/plan", {})
    assert pipeline.settings.sustain_s == Pipeline().settings.sustain_s
    assert (await live_api.get("/api/status")).json()["rule"]["grace_s"] == 300.0


async def test_server_starts_with_a_bad_stored_plan(
        data_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with Store.open(data_path) as store:  # as an older version could have stored it
        store.put_document("plan", {"thresholds": {"elevated_index": 0.5},
                                    "coping_text": "Blue jumper."})
    caplog.set_level(logging.INFO, logger="afterbeat")
    async for api in _api(data_path, QueueSource()):
        status = (await api.get("/api/status")).json()
        assert len(status["notes"]) == 1 and "plan" in status["notes"][0]
        assert "thresholds.elevated_index" in status["notes"][0]
        assert (await api.get("/api/plan")).json()["thresholds"] == {}
        saved = await api.put("/api/plan", {"coping_text": "Blue jumper."})
        assert saved.status_code == 200
        assert (await api.get("/api/status")).json()["notes"] == []
    assert any("plan cannot be used" in r.getMessage() for r in caplog.records)
    assert not any("0.5" in r.getMessage() for r in caplog.records)


async def test_baseline_view_and_reset(live_api: Api, data_path: Path) -> None:
    from afterbeat.activation.baseline import Baseline

    empty = (await live_api.get("/api/baseline")).json()
    assert empty["baseline"] is None and "No resting baseline yet" in empty["description"]
    assert (await live_api.get("/api/status")).json()["baseline"] is None
    assert live_api.source is not None
    _, records = demo_records(limit_s=460.0)  # the demo marks a resting baseline first
    live_api.source.feed(records)
    while live_api.state.status.records < len(records):
        await asyncio.sleep(0.01)
    assert await live_api.state.recorded()  # the baseline queues behind the session's records
    stored = (await live_api.get("/api/baseline")).json()
    assert stored["baseline"] is not None, "the demo's rest did not make a baseline"
    assert stored["provisional"] is True and stored["recording_count"] == 1
    assert stored["recordings_needed"] == 3
    assert "still being learned (1 of 3" in stored["description"]
    assert Baseline.from_json(stored["baseline"]).provisional
    summary = (await live_api.get("/api/status")).json()["baseline"]
    assert summary["provisional"] is True and summary["recording_count"] == 1
    assert summary["recordings_needed"] == 3
    # A write: the token (or a cookie with the page's Origin) is needed, as for every write.
    assert (await live_api.client.delete("/api/baseline")).status_code in (401, 403)
    assert live_api.store.get_document("baseline") is not None
    last = live_api.state.hub.last_seq
    deleted = await live_api.delete("/api/baseline")
    assert deleted.status_code == 200 and deleted.json() == {"deleted": True}
    assert live_api.store.get_document("baseline") is None
    assert live_api.state.ingest.pipeline.baseline is None
    told = [e for e in live_api.state.hub.since(last) if e.type == "baseline"]
    assert len(told) == 1 and '"reset":true' in told[0].data_json
    assert (await live_api.get("/api/baseline")).json()["baseline"] is None
    assert (await live_api.get("/api/status")).json()["baseline"] is None
    assert (await live_api.delete("/api/baseline")).json() == {"deleted": False}


async def test_settings_round_trip_and_errors(api: Api) -> None:
    assert (await api.get("/api/settings")).json()["locale"] == "en-US"
    saved = await api.put("/api/settings", {"locale": "de-DE", "audio_cues": True})
    assert saved.status_code == 200
    assert (await api.get("/api/settings")).json()["audio_cues"] is True
    assert ["body", "locale"] in _loc(await api.put("/api/settings", {"locale": "<script>"}))
    assert ["body", "chart_minutes"] in _loc(await api.put("/api/settings",
                                                           {"chart_minutes": 0}))


async def test_trends_and_crisis_lines(api: Api, recorded: int) -> None:
    trends = await api.get("/api/trends")
    assert trends.status_code == 200
    assert [s["session_id"] for s in trends.json()["sessions"]] == [recorded]
    german = (await api.get("/api/crisis-lines", params={"locale": "de-DE"})).json()
    assert "988" not in str(german)
    us = (await api.get("/api/crisis-lines", params={"locale": "en-US"})).json()
    assert "988" in str(us)
    assert (await api.get("/api/crisis-lines", params={"locale": "x<"})).status_code == 422
    await api.put("/api/settings", {"locale": "de-DE"})
    assert "988" not in str((await api.get("/api/crisis-lines")).json())


async def test_openapi_documents_the_api(api: Api) -> None:
    schema = (await api.client.get("/openapi.json")).json()
    paths = schema["paths"]
    for path in ("/api/status", "/api/live", "/api/sessions", "/api/sessions/{session_id}",
                 "/api/sessions/{session_id}/export", "/api/sessions/{session_id}/report",
                 "/api/markers", "/api/resets", "/api/resets/start", "/api/resets/stop",
                 "/api/resets/rate", "/api/suggestion/dismiss", "/api/plan", "/api/settings",
                 "/api/trends", "/api/crisis-lines"):
        assert path in paths, path
    assert "delete" in paths["/api/sessions/{session_id}"]
    assert "put" in paths["/api/plan"] and "put" in paths["/api/settings"]
    assert "text/event-stream" in paths["/api/live"]["get"]["responses"]["200"]["content"]


async def test_shutdown_keeps_recovery_with_the_session(data_path: Path) -> None:
    _, records = demo_records(limit_s=1500.0)
    end_s = next(r.t_s for r in records
                 if isinstance(r, Marker) and r.kind is MarkerKind.SESSION_END)
    source = QueueSource()
    async for api in _api(data_path, source):
        source.feed(records)
        while api.state.status.records < len(records):
            await asyncio.sleep(0.01)
        session_id = api.state.live_session_id
    assert session_id is not None
    with Store.open(data_path) as store:
        assert store.get_session(session_id).status == "complete"
        recovery = store.get_results(session_id)["recovery"]
    assert recovery["session_end_s"] == end_s


async def test_not_now_and_plan_changes_are_recorded_as_markers(live_api: Api) -> None:
    assert live_api.source is not None
    _, records = demo_records(limit_s=20.0)
    live_api.source.feed(records)
    while live_api.state.status.records < len(records):
        await asyncio.sleep(0.01)
    assert (await live_api.post("/api/suggestion/dismiss", {})).status_code == 200
    plan = {"version": 1, "preferred": ["walk"], "thresholds": {"sustain_s": 240}}
    assert (await live_api.put("/api/plan", plan)).status_code == 200
    session_id = live_api.state.live_session_id
    assert session_id is not None
    assert await live_api.state.recorded()  # the writer thread has committed the queue
    _, stored = live_api.store.iter_records(session_id)
    marked = [r for r in stored if isinstance(r, Marker)]
    assert [str(m.kind) for m in marked] == ["dismiss", "plan"]
    assert json.loads(marked[1].text or "")["preferred"] == ["walk"]
    pipeline = live_api.state.ingest.pipeline
    assert isinstance(pipeline, Pipeline) and pipeline.settings.sustain_s == 240.0


async def test_the_plan_in_effect_at_the_start_is_recorded(data_path: Path) -> None:
    with Store.open(data_path) as store:
        store.put_document("plan", {"version": 1, "preferred": ["walk"]})
    async for live in _api(data_path, QueueSource()):
        session_id = live.state.live_session_id
        assert session_id is not None
        assert await live.state.recorded()  # the writer thread has committed the queue
        _, stored = live.store.iter_records(session_id)
        first = next(iter(stored))
        assert isinstance(first, Marker) and first.kind is MarkerKind.PLAN
        assert json.loads(first.text or "")["preferred"] == ["walk"]
