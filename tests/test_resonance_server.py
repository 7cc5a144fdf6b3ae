"""The resonance routes on a real uvicorn: a replayed simulated heart, block markers recorded,
result kept, pace applied; stopping early; refusals."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from afterbeat.cli import main
from afterbeat.records import Header, Marker, MarkerKind, Notification, Record
from afterbeat.resets.resonance import RESONANCE_DOCUMENT_KEY, Protocol, schedule
from afterbeat.sources.replay import ReplaySource
from afterbeat.storage.session_file import write_session
from afterbeat.storage.store import Store
from resonance_model import Person, simulate
from serverkit import Running, running_server, scratch_dir

SPEED = 10.0
START_AT_S = 4.0
PROTOCOL = Protocol(rates_bpm=(6.0, 5.0), block_s=90.0, break_s=5.0, settle_s=5.0)


def _file(tmp_path: Path, person: Person) -> Path:
    """RR of ``person`` paced as PROTOCOL would pace them from START_AT_S (session s)."""
    blocks = list(schedule(PROTOCOL, START_AT_S))
    rr = simulate(person, blocks, START_AT_S + PROTOCOL.duration_s + 60.0, seed=21)
    path = tmp_path / "rr.txt"
    np.savetxt(path, rr, fmt="%.1f")
    return path


async def _until(check: Any, timeout_s: float, what: str) -> Any:
    for _ in range(int(timeout_s / 0.05)):
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def _started(run: Running, client: httpx.AsyncClient) -> dict[str, Any]:
    async def clock() -> bool:
        return run.state.now_s() >= START_AT_S

    await _until(clock, 10.0, "the replay clock")
    response = await client.post("/api/resonance/start", json=PROTOCOL.to_json(),
                                 headers=run.auth)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _markers(run: Running) -> list[Marker]:
    session_id = run.state.live_session_id
    assert session_id is not None
    _header, records = run.store.iter_records(session_id)
    return [r for r in records if isinstance(r, Marker)
            and r.kind in (MarkerKind.RESONANCE_BLOCK_START, MarkerKind.RESONANCE_BLOCK_END)]


@pytest.mark.slow
def test_a_run_records_blocks_keeps_the_result_and_sets_the_pace(tmp_path: Path) -> None:
    source = ReplaySource(_file(tmp_path, Person(resonance_bpm=5.0, zeta=0.2, noise_bpm=1.0)),
                          speed=SPEED)

    async def go() -> None:
        async with running_server(scratch_dir(tmp_path), source) as run, run.client() as c:
            started = await _started(run, c)
            assert [b["rate_bpm"] for b in started["blocks"]] == [6.0, 5.0]
            timeline = started["blocks"][0]["timeline"]
            assert timeline["clock"] == "unix" and timeline["pattern"]["cycle_s"] == 10.0
            again = await c.post("/api/resonance/start", json={}, headers=run.auth)
            assert again.status_code == 409

            async def finished() -> dict[str, Any] | None:
                body: dict[str, Any] = (await c.get("/api/resonance", headers=run.auth)).json()
                return body if body["run"] is None and body["result"] else None

            overview = await _until(finished, 60.0, "the assessment to finish")
            result = overview["result"]
            assert result["rate_bpm"] == 5.0, json.dumps(result["assessment"]["decision"])
            assert overview["pace_bpm"] == 5.0
            settings = (await c.get("/api/settings", headers=run.auth)).json()
            assert settings["breaths_per_min"] == 5.0
            kinds = [m.kind for m in _markers(run)]
            assert kinds == [MarkerKind.RESONANCE_BLOCK_START, MarkerKind.RESONANCE_BLOCK_END] * 2
            session_id = run.state.live_session_id
            assert session_id is not None
            kept = run.store.get_results(session_id)[RESONANCE_DOCUMENT_KEY]
            assert kept["rate_bpm"] == 5.0
            plan = (await c.get("/api/plan", headers=run.auth)).json()
            assert plan["resonance"]["breaths_per_min"] == 5.0
            # from now on the breathing reset uses it (5 a minute: a 12-s breath)
            reset = await c.post("/api/resets/start", json={"reset_id": "resonance"},
                                 headers=run.auth)
            assert reset.status_code == 201, reset.text
            assert reset.json()["timeline"]["pattern"]["cycle_s"] == pytest.approx(12.0)
            await c.post("/api/resets/stop", json={"finished": False}, headers=run.auth)
            # the person can still choose another pace
            put = await c.put("/api/resonance/pace", json={"breaths_per_min": 6.0},
                              headers=run.auth)
            assert put.status_code == 200
            settings = (await c.get("/api/settings", headers=run.auth)).json()
            assert settings["breaths_per_min"] == 6.0

    asyncio.run(go())


@pytest.mark.slow
def test_stopping_early_keeps_the_part_measured(tmp_path: Path) -> None:
    source = ReplaySource(_file(tmp_path, Person(resonance_bpm=5.5)), speed=SPEED)

    async def go() -> None:
        async with running_server(scratch_dir(tmp_path), source) as run, run.client() as c:
            bad = await c.post("/api/resonance/start", json={"rates_bpm": [20]},
                               headers=run.auth)
            assert bad.status_code == 422
            assert (await c.post("/api/resonance/stop", json={},
                                 headers=run.auth)).status_code == 409
            started = await _started(run, c)
            first_end = float(started["blocks"][0]["start_s"]) + 40.0

            async def in_block() -> bool:
                return run.state.now_s() >= first_end

            await _until(in_block, 30.0, "40 s into the first block")
            stopped = await c.post("/api/resonance/stop", json={}, headers=run.auth)
            assert stopped.status_code == 200, stopped.text
            body = stopped.json()
            assert body["stopped"] is True
            blocks = body["result"]["assessment"]["blocks"]
            assert [b["rate_bpm"] for b in blocks] == [6.0]
            assert blocks[0]["end_s"] - blocks[0]["start_s"] < 60.0
            assert body["result"]["rate_bpm"] is None and body["applied_pace_bpm"] is None
            ends = [json.loads(m.text or "{}") for m in _markers(run)
                    if m.kind is MarkerKind.RESONANCE_BLOCK_END]
            assert ends == [{"index": 0, "completed": False}]
            overview = (await c.get("/api/resonance", headers=run.auth)).json()
            assert overview["run"] is None and overview["result"]["stopped"] is True

    asyncio.run(go())


def _kept(data_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The assessment kept with the (only) recorded session, and its block-end markers' JSON."""
    store = Store.open(data_dir)
    try:
        (session,) = store.list_sessions()
        kept: dict[str, Any] = store.get_results(session.id)[RESONANCE_DOCUMENT_KEY]
        _header, records = store.iter_records(session.id)
        ends = [json.loads(r.text or "{}") for r in records if isinstance(r, Marker)
                and r.kind is MarkerKind.RESONANCE_BLOCK_END]
        return kept, ends
    finally:
        store.close()


@pytest.mark.slow
def test_a_server_stopping_mid_block_keeps_the_part_measured(tmp_path: Path) -> None:
    source = ReplaySource(_file(tmp_path, Person(resonance_bpm=5.5)), speed=SPEED)
    data_dir = scratch_dir(tmp_path)

    async def go() -> None:
        async with running_server(data_dir, source) as run, run.client() as c:
            started = await _started(run, c)
            first_end = float(started["blocks"][0]["start_s"]) + 40.0

            async def in_block() -> bool:
                return run.state.now_s() >= first_end

            await _until(in_block, 30.0, "40 s into the first block")
        # leaving the block stops the server (Ctrl+C does the same)

    asyncio.run(go())
    kept, ends = _kept(data_dir)
    assert kept["stopped"] is True
    assert [b["rate_bpm"] for b in kept["assessment"]["blocks"]] == [6.0]
    assert kept["rate_bpm"] is None, "one block cannot choose a pace"
    assert ends == [{"index": 0, "completed": False}]


@pytest.mark.slow
def test_a_replay_ending_mid_block_keeps_the_part_measured(tmp_path: Path) -> None:
    blocks = list(schedule(PROTOCOL, START_AT_S))
    rr_ms = simulate(Person(resonance_bpm=5.5), blocks, blocks[0].start_s + 50.0, seed=21)
    path = tmp_path / "short.txt"
    np.savetxt(path, rr_ms, fmt="%.1f")
    source = ReplaySource(path, speed=SPEED)
    data_dir = scratch_dir(tmp_path)

    async def go() -> None:
        async with running_server(data_dir, source) as run, run.client() as c:
            await _started(run, c)

            async def finished() -> dict[str, Any] | None:
                body: dict[str, Any] = (await c.get("/api/resonance", headers=run.auth)).json()
                return body if body["run"] is None and body["last"] else None

            overview = await _until(finished, 30.0, "the assessment to end with the replay")
            last = overview["last"]
            assert last["stopped"] is True
            assert [b["rate_bpm"] for b in last["assessment"]["blocks"]] == [6.0]

    asyncio.run(go())
    kept, _ends = _kept(data_dir)
    assert kept["stopped"] is True
    assert kept["assessment"]["blocks"][0]["end_s"] <= blocks[0].start_s + 50.0 + 1.0


def test_a_replay_that_slows_for_resets_runs_the_assessment_in_real_time(tmp_path: Path) -> None:
    """The demo: the page paces on the wall clock, so the blocks (on the session clock) must
    pass in real time too, and a reset ending inside the assessment does not speed it up."""
    source = ReplaySource(_file(tmp_path, Person(resonance_bpm=5.5)), speed=SPEED,
                          reset_speed=1.0)

    async def go() -> None:
        async with running_server(scratch_dir(tmp_path), source) as run, run.client() as c:
            assert source.speed == SPEED
            await _started(run, c)
            assert source.speed == 1.0
            reset = await c.post("/api/resets/start", json={"reset_id": "cold_water"},
                                 headers=run.auth)
            assert reset.status_code == 201, reset.text
            await c.post("/api/resets/stop", json={"finished": False}, headers=run.auth)

            async def reset_ended() -> bool:
                return any(isinstance(r, Marker) and r.kind is MarkerKind.RESET_END
                           for r in run.store.iter_records(run.state.live_session_id or 0)[1])

            await _until(reset_ended, 10.0, "the reset's end marker")
            assert source.speed == 1.0, "the assessment still runs"
            stopped = await c.post("/api/resonance/stop", json={}, headers=run.auth)
            assert stopped.status_code == 200, stopped.text
            assert source.speed == SPEED

    asyncio.run(go())


AGREE_PROTOCOL = Protocol(rates_bpm=(6.0, 4.5), block_s=40.0, break_s=5.0, settle_s=5.0)


def test_the_page_and_resonance_analyze_on_the_export_give_the_same_numbers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A researcher gets the page's numbers back from the recording: the result the server
    kept (what the page shows) equals ``resonance --analyze`` on ``sessions export``."""
    blocks = list(schedule(AGREE_PROTOCOL, START_AT_S))
    rr_ms = simulate(Person(resonance_bpm=5.0, zeta=0.2, noise_bpm=1.0, ectopic_rate=0.01),
                     blocks, START_AT_S + AGREE_PROTOCOL.duration_s + 30.0, seed=5)
    path = tmp_path / "strap.jsonl"
    write_session(path, Header(datetime(2026, 1, 1, tzinfo=UTC), {"name": "simulated"}),
                  _late_notifications(rr_ms))
    source = ReplaySource(path, speed=SPEED)
    data_dir = scratch_dir(tmp_path)

    async def go() -> dict[str, Any]:
        async with running_server(data_dir, source) as run, run.client() as c:
            await _until(_clock_at(run, START_AT_S), 10.0, "the replay clock")
            response = await c.post("/api/resonance/start", json=AGREE_PROTOCOL.to_json(),
                                    headers=run.auth)
            assert response.status_code == 201, response.text

            async def finished() -> dict[str, Any] | None:
                body: dict[str, Any] = (await c.get("/api/resonance", headers=run.auth)).json()
                return body if body["run"] is None and body["last"] else None

            overview: dict[str, Any] = await _until(finished, 60.0, "the assessment")
            # the recording goes on after the assessment, as it does for a person
            end_s = run.state.now_s() + 5.0
            await _until(_clock_at(run, end_s), 10.0, "more of the session")
            page: dict[str, Any] = overview["last"]
            return page

    page = asyncio.run(go())
    store = Store.open(data_dir)
    try:
        (session,) = store.list_sessions()
    finally:
        store.close()
    exported = tmp_path / "session.jsonl"
    assert main(["sessions", "export", str(session.id), "-o", str(exported),
                 "--data-dir", str(data_dir)]) == 0
    capsys.readouterr()
    assert main(["resonance", "--analyze", str(exported), "--json"]) == 0
    analysed = json.loads(capsys.readouterr().out)
    shown = page["assessment"]
    assert len(shown["blocks"]) == 2
    assert analysed["blocks"] == shown["blocks"]
    assert analysed["decision"] == shown["decision"]
    assert analysed["corrected_pct"] == shown["corrected_pct"]


def _late_notifications(rr_ms: Any) -> list[Record]:
    """A strap's notifications of ``rr_ms``: about one a second, each arriving later than its
    last beat by a lag that grows (its clock runs 2 % slow of the host's), as real straps'
    beats arrive seconds after they happened."""
    out: list[Record] = []
    pending: list[int] = []
    t_s, next_s = 0.0, 1.0
    for rr in rr_ms:
        t_s += float(rr) / 1000.0
        pending.append(round(float(rr) * 1.024))
        if t_s >= next_s:
            arrival_s = t_s * 1.02
            payload = bytes([0x10, 70]) + b"".join(v.to_bytes(2, "little") for v in pending)
            out.append(Notification(t_s=arrival_s, wall_s=arrival_s, payload=payload))
            pending, next_s = [], t_s + 1.0
    return out


def _clock_at(run: Running, t_s: float) -> Any:
    async def check() -> bool:
        return run.state.now_s() >= t_s

    return check
