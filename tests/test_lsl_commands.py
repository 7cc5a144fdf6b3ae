"""``serve --lsl``, ``demo --lsl`` and ``record --lsl``: what the page (or the recording) gets
arrives on real pylsl inlets on this machine, and a failing observer never breaks the live path.

liblsl is told (tests/lsl_api.cfg) to keep stream discovery on this machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

os.environ.setdefault("LSLAPICFG", str(Path(__file__).with_name("lsl_api.cfg")))

from afterbeat.cli import main
from afterbeat.cli.demo import demo_recording
from afterbeat.events import Event
from afterbeat.heart_rate import decode_measurement
from afterbeat.hrv.beats import record_beats
from afterbeat.lsl import METRIC_CHANNELS, STREAMS, LslPublisher, marker_text
from afterbeat.records import Marker, MarkerKind, Notification, Record
from afterbeat.server.app import ServerSettings, create_app, state_of
from afterbeat.server.security import SecurityPolicy
from afterbeat.sources.replay import derived_notifications, with_marks
from afterbeat.storage.importers import iter_beats
from afterbeat.storage.session_file import iter_session
from afterbeat.storage.store import Store
from ble_fixtures import derived_h10_frames
from serverkit import QueueSource, lifespan, scratch_dir

pytestmark = pytest.mark.slow  # real LSL outlets and inlets

pylsl = pytest.importorskip("pylsl", reason="the lab extra (pylsl) is not installed")

ROOT = Path(__file__).resolve().parents[1]
REST = Path(__file__).parent / "data" / "polar-hrm" / "rest_rri.txt"
"""Real resting RR (see tests/data/polar-hrm/LICENSE.md)."""
PORT = 8765
TOKEN = "t" * 43
KEYS = ("rr", "heart_rate", "metrics", "markers")


def _inlet(source_id: str) -> Any:
    found = pylsl.resolve_byprop("source_id", source_id, timeout=10.0)
    assert found, f"stream {source_id} not found"
    inlet = pylsl.StreamInlet(found[0], max_buflen=3600, recover=False)
    inlet.open_stream(timeout=10.0)
    return inlet


def _drain(inlet: Any, expected: int, patience: int = 20) -> tuple[list[Any], list[float]]:
    """Pull until ``expected`` samples arrived, ``patience`` empty pulls passed or the stream
    ended."""
    samples: list[Any] = []
    stamps: list[float] = []
    empty = 0
    while len(samples) < expected and empty < patience:
        try:
            chunk, times = inlet.pull_chunk(timeout=0.5, max_samples=4096)
        except pylsl.util.LostError:
            break
        if not chunk:
            empty += 1
        samples += chunk
        stamps += times
    return samples, stamps


def _assert_rr_spacing(rr: list[Any], stamps: list[float]) -> None:
    """Differences between RR timestamps equal the RR intervals to 1 ms."""
    gaps_ms = [(b - a) * 1000.0 for a, b in zip(stamps, stamps[1:], strict=False)]
    assert max(abs(g - s[0]) for g, s in zip(gaps_ms, rr[1:], strict=True)) < 1.0


@pytest.fixture
def data_path(tmp_path: Path) -> Iterator[Path]:
    path = scratch_dir(tmp_path)
    yield path
    if path != tmp_path:
        shutil.rmtree(path, ignore_errors=True)


class MetricsCounter:
    """An observer counting the metrics updates the live path published."""

    def __init__(self) -> None:
        self.count = 0
        self.finished = False

    def __call__(self, record: Record | None, events: Sequence[Event]) -> None:
        self.count += sum(1 for e in events if e.to_json()["type"] == "metrics")
        self.finished = self.finished or record is None


def broken(record: Record | None, events: Sequence[Event]) -> None:
    """An observer that always fails."""
    raise RuntimeError("observer bug")


async def _until(condition: Any, timeout_s: float = 30.0) -> None:
    for _ in range(int(timeout_s / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def test_serve_publishes_records_api_markers_and_metrics(data_path: Path) -> None:
    source_id = f"afterbeat-test-serve-{uuid.uuid4().hex[:8]}"
    publisher = LslPublisher(source_id, include_notes=True)
    inlets = {key: _inlet(f"{source_id}-{key}") for key in KEYS}
    records = list(with_marks(derived_notifications(iter_beats(REST)),
                              [Marker(60.0, MarkerKind.SESSION_END)]))
    half = len(records) // 2
    counter = MetricsCounter()
    source = QueueSource()
    store = Store.open(data_path)
    app = create_app(ServerSettings(port=PORT), source, store,
                     policy=SecurityPolicy(port=PORT, token=TOKEN),
                     observers=(broken, publisher.observe, counter))
    state = state_of(app)
    try:
        async with lifespan(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url=f"http://127.0.0.1:{PORT}") as client:
            source.feed(records[:half])
            await _until(lambda: state.status.records >= half)
            for body in ({"kind": "note", "text": "tea"}, {"kind": "rating", "value": 4}):
                response = await client.post("/api/markers", json=body,
                                             headers={"X-Afterbeat-Token": TOKEN})
                assert response.status_code == 201, response.text
            source.feed(records[half:])
            source.queue.put_nowait(None)
            await _until(lambda: counter.finished)
    finally:
        store.close()
    assert state.status.observer_errors == state.status.records + 1  # every record + the end
    assert state.status.records == len(records) + 2
    beats = list(record_beats(records))
    rr, rr_t = await asyncio.to_thread(_drain, inlets["rr"], len(beats))
    assert [s[0] for s in rr] == pytest.approx([b.rr_ms for b in beats], abs=1e-9)
    _assert_rr_spacing(rr, rr_t)
    text, _ = await asyncio.to_thread(_drain, inlets["markers"], 3)
    assert [s[0] for s in text] == ["session_end", "note:tea", "rating:4"]
    values, _ = await asyncio.to_thread(_drain, inlets["metrics"], counter.count)
    assert len(values) == counter.count > 0
    heart, _ = await asyncio.to_thread(_drain, inlets["heart_rate"], 10)
    assert heart and all(30 < s[0] < 200 for s in heart)
    publisher.close()


def _scenario(tmp_path: Path, frames: list[bytes]) -> Path:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps({
        "name": "Polar H10 0A1B2C3D", "address": "F0:0D:00:00:0D:01", "rssi_dbm": -58,
        "links": [{"frames": [[0.05 * (i + 1), p.hex()] for i, p in enumerate(frames)],
                   "end": "silence"}]}))
    return path


def test_record_publishes_every_recorded_beat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    frames = [p for _, p in derived_h10_frames(20)]
    monkeypatch.setenv("AFTERBEAT_BLE_BACKEND", f"replay:{_scenario(tmp_path, frames)}")
    source_id = f"afterbeat-test-record-{uuid.uuid4().hex[:8]}"
    got: dict[str, tuple[list[Any], list[float]]] = {}

    def listen(key: str) -> None:  # a lab recorder: connects, then reads until the stream ends
        inlet = _inlet(f"{source_id}-{key}")
        got[key] = _drain(inlet, 10_000, patience=20)

    listeners = [threading.Thread(target=listen, args=(key,)) for key in KEYS]
    for listener in listeners:
        listener.start()
    data = tmp_path / "data"
    code = main(["record", "--duration", "2.5", "--data-dir", str(data), "--lsl",
                 "--lsl-id", source_id, "--lsl-wait", "20"])
    for listener in listeners:
        listener.join(30.0)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "recorded session 1" in out
    assert "lsl:" not in err  # a recorder connected and nothing failed
    with Store.open(data) as store:
        (summary,) = store.list_sessions()
        _header, stored = store.iter_records(summary.id)
        records = list(stored)
    assert [r.payload for r in records if isinstance(r, Notification)] == frames
    beats = list(record_beats(records))
    rr, rr_t = got["rr"]
    assert [s[0] for s in rr] == pytest.approx([b.rr_ms for b in beats], abs=1e-9)
    _assert_rr_spacing(rr, rr_t)
    assert len(got["heart_rate"][0]) == len(frames)


def test_demo_publishes_the_demo_recordings_beats_and_markers(tmp_path: Path) -> None:
    _header, stored = iter_session(demo_recording())
    records = list(stored)
    beats = list(record_beats(records))
    markers = [text for r in records if isinstance(r, Marker)
               if (text := marker_text(r, include_notes=False)) is not None]
    heart_rates = [m.heart_rate_bpm for r in records if isinstance(r, Notification)
                   if (m := decode_measurement(r.payload)).heart_rate_bpm]
    assert len(beats) > 1000 and markers  # the demo has a story to tell
    source_id = f"afterbeat-test-demo-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("AFTERBEAT_DATA_DIR", None)
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "afterbeat", "demo", "--no-open", "--port", "0", "--fast",
             "--data-dir", str(tmp_path / "data"), "--lsl", "--lsl-id", source_id,
             "--lsl-wait", "30"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    got: dict[str, tuple[list[Any], list[float]]] = {}
    infos: dict[str, Any] = {}
    expected = {"rr": len(beats), "markers": len(markers), "heart_rate": len(heart_rates),
                "metrics": 10}

    def listen(key: str) -> None:  # a lab recorder: connects, then reads what it expects
        inlet = _inlet(f"{source_id}-{key}")
        got[key] = _drain(inlet, expected[key], patience=40)
        infos[key] = inlet.info(timeout=5.0)

    listeners = [threading.Thread(target=listen, args=(key,)) for key in KEYS]
    try:
        for listener in listeners:
            listener.start()
        for listener in listeners:
            listener.join(120.0)
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover - only if the server hangs
            demo.kill()
            demo.wait(timeout=5)
    said = log.read_text(errors="replace")
    assert "afterbeat demo is running" in said, said
    assert not any(line.startswith("lsl:") for line in said.splitlines()), said  # connected
    assert "Traceback" not in said, said
    rr, rr_t = got["rr"]
    assert [s[0] for s in rr] == pytest.approx([b.rr_ms for b in beats], abs=1e-9)
    _assert_rr_spacing(rr, rr_t)
    assert [s[0] for s in got["markers"][0]] == markers
    assert [s[0] for s in got["heart_rate"][0]] == heart_rates
    metrics = got["metrics"][0]
    assert len(metrics) >= 10 and all(len(v) == len(METRIC_CHANNELS) for v in metrics)
    assert (infos["rr"].name(), infos["rr"].type(), infos["rr"].source_id()) == (
        *STREAMS["rr"], f"{source_id}-rr")


@pytest.mark.parametrize("command", [["record"], ["serve", "--no-open"], ["demo", "--no-open"]])
def test_without_the_extra_serve_record_and_demo_say_how_to_install(
        command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "pylsl", None)
    monkeypatch.setenv("AFTERBEAT_BLE_BACKEND", f"replay:{_scenario(tmp_path, [])}")
    assert main([*command, "--lsl", "--data-dir", str(tmp_path / "data")]) == 2
    assert "pip install 'afterbeat[lab]'" in capsys.readouterr().err
