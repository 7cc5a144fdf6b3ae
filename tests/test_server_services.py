"""The server's services without HTTP: domain errors, the injected clock, one status table."""

from __future__ import annotations

import ast
import asyncio
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import afterbeat.server
from afterbeat.errors import AfterbeatError
from afterbeat.events import EventType
from afterbeat.records import Header, Marker, MarkerKind
from afterbeat.resets.library import UnknownReset
from afterbeat.server.errors import FixedPace, NoResetRunning, NoStore, SessionIsLive
from afterbeat.server.routes import status_code_for
from afterbeat.server.settings import ServerSettings
from afterbeat.server.state import ServerState
from afterbeat.storage.recorder import Recorder
from afterbeat.storage.store import RecordingFailed, SessionNotFound, Store
from serverkit import QuietPipeline


class ManualClock:
    """Unix seconds that move only when the test moves them."""

    def __init__(self, t_s: float) -> None:
        self.t_s = t_s

    def __call__(self) -> float:
        return self.t_s


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path) as opened:
        yield opened


async def test_resets_run_on_the_injected_clock_without_http() -> None:
    clock = ManualClock(1_700_000_000.0)
    state = ServerState(ServerSettings(), None, None, pipeline=QuietPipeline(), clock=clock)
    with pytest.raises(NoResetRunning):
        state.resets.change_pace(5.0)
    started = await state.resets.start("resonance", 6.0)
    assert started["timeline"]["start_s"] == clock.t_s
    clock.t_s += 30.0
    paced = state.resets.change_pace(5.0)
    assert paced["timeline"]["origin_s"] == started["timeline"]["origin_s"]
    assert paced["timeline"]["pattern"]["cycle_s"] == pytest.approx(12.0)
    await state.resets.start("box", None)
    with pytest.raises(FixedPace):
        state.resets.change_pace(5.0)
    stopped = state.resets.stop(finished=True)
    assert stopped["reset_id"] == "box" and state.resets.running is None
    with pytest.raises(NoResetRunning):
        state.resets.stop(finished=False)
    sent = [json.loads(e.data_json) for e in state.hub.since(0)]
    assert [e["action"] for e in sent if e["type"] == EventType.RESET] == [
        "started", "paced", "stopped", "started", "stopped"]
    assert all(e["emitted_at"] == clock.t_s for e in sent[2:])  # the hub shares the clock


async def test_a_server_without_a_store_refuses_with_domain_errors() -> None:
    state = ServerState(ServerSettings(), None, None, pipeline=QuietPipeline())
    with pytest.raises(NoStore):
        state.required_store()
    assert state.document("plan") is None
    with pytest.raises(NoStore):
        await state.history.list_sessions()
    with pytest.raises(NoStore):
        await state.documents.put_plan({"version": 1})
    assert (await state.documents.plan())["preferred"] == []  # reading needs no store


async def test_history_reads_and_erases_through_worker_threads(store: Store) -> None:
    state = ServerState(ServerSettings(), None, store, pipeline=QuietPipeline())
    assert await state.history.list_sessions() == []
    with pytest.raises(SessionNotFound):
        await state.history.get_session(7)
    with pytest.raises(SessionNotFound):
        await state.history.delete_session(7)
    assert (await state.history.trends())["sessions"] == []


async def test_markers_made_by_services_take_the_live_path() -> None:
    state = ServerState(ServerSettings(), None, None, pipeline=QuietPipeline())
    state.marks.mark(MarkerKind.NOTE, text="hello")
    state.resets.dismiss()
    kinds = [(e.type, json.loads(e.data_json).get("kind")) for e in state.hub.since(0)]
    assert kinds == [("marker", "note"), ("marker", "dismiss"), ("dismissed", None)]
    assert state.status.records == 2


async def test_an_erase_waiting_for_the_disk_lock_leaves_the_loop_free(tmp_path: Path) -> None:
    with Store.open(tmp_path, busy_timeout_s=60.0) as store:
        recorder = Recorder(store, Header(started_at=datetime(2026, 1, 1, tzinfo=UTC)), "test")
        recorder.record(Marker(t_s=1.0, kind=MarkerKind.NOTE, text="kept until erased"))
        recorder.close()
        assert recorder.session_id is not None
        state = ServerState(ServerSettings(), None, store, pipeline=QuietPipeline())
        blocker = sqlite3.connect(store.path)  # another writer holds the database's write lock
        try:
            blocker.execute("BEGIN IMMEDIATE")
            erase = asyncio.create_task(state.history.delete_session(recorder.session_id))
            for _ in range(3):  # the loop goes on: live events, and reads of the history
                state.marks.mark(MarkerKind.NOTE, text="live")
                listed = await asyncio.wait_for(state.history.list_sessions(), 30.0)
                assert [s["id"] for s in listed] == [recorder.session_id]
            assert not erase.done()  # still waiting for the lock, in its worker thread
        finally:
            blocker.rollback()
            blocker.close()
        erased = await asyncio.wait_for(erase, 60.0)
        assert erased["deleted"] is True and await state.history.list_sessions() == []
        assert state.hub.last_seq == 3


@pytest.mark.parametrize(("error", "status"), [
    (NoStore("x"), 409), (NoResetRunning("x"), 409), (FixedPace("x"), 409),
    (SessionIsLive("x"), 409), (SessionNotFound("x"), 404), (RecordingFailed("x"), 503),
    (UnknownReset("x"), 422), (AfterbeatError("x"), 409),
])
def test_one_table_maps_domain_errors_to_status_codes(error: AfterbeatError,
                                                      status: int) -> None:
    assert status_code_for(error) == status


def _imported(path: Path) -> set[str]:
    """Top-level packages a module imports (anywhere in it)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_app_and_its_routes_speak_http() -> None:
    server = Path(afterbeat.server.__file__).parent
    http = {p.name for p in server.glob("*.py") if _imported(p) & {"fastapi", "starlette"}}
    assert http == {"app.py", "routes.py"}
    raising = {p.name for p in server.glob("*.py") if "HTTPException" in p.read_text("utf-8")}
    assert raising == {"routes.py"}
