"""The summary and plan-file routes over a real uvicorn socket, behind the same guard as the API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from afterbeat.hrv.beats import Beat
from afterbeat.records import Header, Marker, MarkerKind
from afterbeat.sources.replay import derived_notifications
from afterbeat.storage.importers import iter_beats
from closed_loop import closed_loop
from serverkit import QuietPipeline, Running, no_egress, running_server

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.usefixtures("no_egress")]
__all__ = ["no_egress"]

RR_FILE = Path(__file__).parent / "data" / "physionet-healthy-24h" / "000.txt"
NOTE = "felt <i>shaky</i> on the bus"


def _first_minutes(minutes: float) -> Iterator[Beat]:
    for beat in iter_beats(RR_FILE):
        if beat.t_s >= minutes * 60.0:
            return
        yield beat


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def srv(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    data_dir = tmp_path_factory.mktemp("sharing")
    async with running_server(data_dir, pipeline=QuietPipeline()) as running:
        records = list(derived_notifications(_first_minutes(15.0)))
        marks = [Marker(60.0, MarkerKind.SESSION_START), Marker(300.0, MarkerKind.SESSION_END),
                 Marker(400.0, MarkerKind.NOTE, text=NOTE)]
        run = closed_loop(records, marks)
        started = datetime.now(UTC) - timedelta(days=3)
        running.store.import_session(Header(started_at=started), run.records, "test")
        yield running


async def test_every_route_needs_the_token(srv: Running) -> None:
    async with srv.client() as client:
        spec = (await client.get("/openapi.json", headers=srv.auth)).json()
        for path, methods in spec["paths"].items():
            url = re.sub(r"\{[^}]+\}", "1", path)
            for method in methods:
                response = await client.request(method.upper(), url, json={})
                assert response.status_code == 401, (method, path, response.status_code)


async def test_summary_leaves_notes_out_unless_chosen(srv: Running) -> None:
    async with srv.client() as client:
        made = await client.post("/api/summary", json={}, headers=srv.auth)
        assert made.status_code == 200
        body: dict[str, Any] = made.json()
        assert body["contents"].startswith("This page contains") and "no notes" in body["contents"]
        assert "shaky" not in body["html"]
        assert body["filename"].startswith("afterbeat-summary-")
        assert len(body["summary"]["sessions"]) == 1
        notes = (await client.get("/api/summary/notes", headers=srv.auth)).json()
        assert [n["text"] for n in notes] == [NOTE]
        chosen = [{"session_id": notes[0]["session_id"], "t_s": notes[0]["t_s"]}]
        made = await client.post("/api/summary", json={"notes": chosen}, headers=srv.auth)
        html = made.json()["html"]
        assert "felt &lt;i&gt;shaky&lt;/i&gt; on the bus" in html and "<i>" not in html
        assert "<script" not in html.lower()


async def test_summary_period_and_ratings_choice(srv: Running) -> None:
    async with srv.client() as client:
        short = await client.post("/api/summary", json={"since_days": 1}, headers=srv.auth)
        assert short.json()["summary"]["sessions"] == []
        no_ratings = await client.post("/api/summary", json={"include_ratings": False},
                                       headers=srv.auth)
        assert "Your own ratings" not in no_ratings.json()["html"]


@pytest.mark.parametrize(("body", "field"), [
    ({"since_days": 0}, "since_days"), ({"since_days": -3}, "since_days"),
    ({"since_days": 5000}, "since_days"), ({"since_days": "x"}, "since_days"),
    ({"include_ratings": "yes please"}, "include_ratings"),
    ({"notes": "some"}, "notes"), ({"notes": [{"session_id": 1, "t_s": -5}]}, "notes"),
    ({"upload_to": "example.org"}, "upload_to"),
])
async def test_bad_summary_requests_name_the_field(srv: Running, body: dict[str, Any],
                                                   field: str) -> None:
    async with srv.client() as client:
        response = await client.post("/api/summary", json=body, headers=srv.auth)
    assert response.status_code == 422
    assert field in str(response.json()["detail"])


async def test_plan_file_round_trip_through_preview_and_put(srv: Running) -> None:
    async with srv.client() as client:
        text = "preferred = ['walk']\nbreaths_per_min = 5.5\n[thresholds]\nsustain_s = 300\n"
        preview = await client.post("/api/plan/preview", json={"text": text}, headers=srv.auth)
        assert preview.status_code == 200
        body = preview.json()
        assert "preferred resets: none -> A five-minute walk" in body["changes"]
        assert ("Time readings stay raised before a suggestion (sustain_s): "
                "the usual setting (3 min) -> 5 min") in body["changes"]
        assert (await client.get("/api/plan", headers=srv.auth)).json()["preferred"] == []
        applied = await client.put("/api/plan", json=body["plan"], headers=srv.auth)
        assert applied.status_code == 200
        exported = (await client.get("/api/plan/file", headers=srv.auth)).json()
        again = await client.post("/api/plan/preview", json={"text": exported["text"]},
                                  headers=srv.auth)
        assert again.json()["changes"] == []
        before = datetime.now(UTC).date()
        card = (await client.get("/api/plan/card", headers=srv.auth)).json()
        assert "A five-minute walk" in card["html"] and "<script" not in card["html"]
        assert any(f'datetime="{day.isoformat()}"' in card["html"]
                   for day in (before, datetime.now(UTC).date()))
        assert "If you would like to talk to someone" in card["html"]


@pytest.mark.parametrize(("raw", "field"), [
    (b'{"text": "breaths_per_min = 40"}', "breaths_per_min"),
    (b'{"text": "[thresholds]\\nsustain_s = 1e400"}', "thresholds.sustain_s"),
    (b'{"text": "preferred = ["}', "(file)"),
    (b'{"text": "coping_text = \\"\\ud800\\""}', "text"),
])
async def test_hostile_plan_files_are_422_naming_the_field(srv: Running, raw: bytes,
                                                           field: str) -> None:
    async with srv.client() as client:
        response = await client.post("/api/plan/preview", content=raw,
                                     headers={**srv.auth, "Content-Type": "application/json"})
    assert response.status_code == 422
    assert field in str(response.json()["detail"])


async def test_trends_and_the_summary_agree_on_imported_sessions(srv: Running) -> None:
    async with srv.client() as client:
        trends = (await client.get("/api/trends", headers=srv.auth)).json()
        summary = (await client.post("/api/summary", json={}, headers=srv.auth)).json()
    shared = summary["summary"]
    assert [s["time_to_settle_s"] for s in trends["sessions"]] == \
        [s["time_to_settle_s"] for s in shared["sessions"]]
    assert trends["resets"] == shared["resets"]
    assert len(trends["sessions"]) == 1  # imported, never seen live: still in both


async def test_a_file_that_is_no_plan_is_said_once_in_plain_words(srv: Running) -> None:
    """The page prefixes its own words: the message names no internal file name and says
    what is wrong with the line it is on."""
    async with srv.client() as client:
        response = await client.post("/api/plan/preview", json={"text": "hello there\n"},
                                     headers=srv.auth)
    assert response.status_code == 422
    message = response.json()["detail"][0]["msg"]
    assert message.startswith("This does not look like a plan file: line 1"), message
    assert "the plan file:" not in message
