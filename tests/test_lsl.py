"""LSL outlets read back by real pylsl inlets on this machine: every beat and marker, in order.

liblsl is told (tests/lsl_api.cfg) to keep stream discovery on this machine.
"""

from __future__ import annotations

import math
import os
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("LSLAPICFG", str(Path(__file__).with_name("lsl_api.cfg")))

from afterbeat.cli import main
from afterbeat.hrv.beats import record_beats
from afterbeat.lsl import METRIC_CHANNELS, STREAMS, LslPublisher, marker_text
from afterbeat.pipeline import Pipeline
from afterbeat.records import Marker, MarkerKind, Record
from afterbeat.sources.replay import derived_notifications, with_marks
from afterbeat.storage.importers import iter_beats

pytestmark = pytest.mark.slow  # real LSL outlets and inlets

pylsl = pytest.importorskip("pylsl", reason="the lab extra (pylsl) is not installed")

REST = Path(__file__).parent / "data" / "polar-hrm" / "rest_rri.txt"
"""Real resting RR (see tests/data/polar-hrm/LICENSE.md)."""
DOC = Path(__file__).resolve().parents[1] / "docs" / "lab-streaming.md"
LABRECORDER_KEYS = frozenset({
    "StorageLocation", "StudyRoot", "PathTemplate", "SessionBlocks", "BidsModalities",
    "RequiredStreams", "OnlineSync", "RCSEnabled", "RCSPort", "AutoStart"})
"""The keys LabRecorder's window reads from its configuration file (its src/mainwindow.cpp)."""
LIST_NAME = re.compile(r"(.+)\s+\((\S+)\)")
"""How LabRecorder splits a ``name (host)`` entry of its stream list (the host has no space)."""
QUOTED_LIST = re.compile(r'"[^"]*"(\s*,\s*"[^"]*")*')


def _inlet(source_id: str) -> Any:
    found = pylsl.resolve_byprop("source_id", source_id, timeout=10.0)
    assert found, f"stream {source_id} not found"
    inlet = pylsl.StreamInlet(found[0], max_buflen=3600, recover=False)
    inlet.open_stream(timeout=10.0)
    return inlet


def _drain(inlet: Any, expected: int) -> tuple[list[Any], list[float]]:
    samples: list[Any] = []
    stamps: list[float] = []
    empty = 0
    while len(samples) < expected and empty < 20:
        chunk, times = inlet.pull_chunk(timeout=0.5, max_samples=4096)
        if not chunk:
            empty += 1
        samples += chunk
        stamps += times
    return samples, stamps


def test_every_beat_and_marker_arrives_with_exact_spacing() -> None:
    source = f"afterbeat-test-{uuid.uuid4().hex[:8]}"
    publisher = LslPublisher(source, include_notes=False, device="test strap")
    inlets = {key: _inlet(f"{source}-{key}") for key in ("rr", "heart_rate", "metrics", "markers")}
    marks = [Marker(60.0, MarkerKind.SESSION_END), Marker(70.0, MarkerKind.NOTE, text="private"),
             Marker(80.0, MarkerKind.RATING, value=6.0, text="before"),
             Marker(90.0, MarkerKind.RESET_START, text="walk")]
    records: list[Record] = list(with_marks(derived_notifications(iter_beats(REST)), marks))
    pipeline = Pipeline()
    metrics = 0
    for record in records:
        publisher.on_record(record)
        events = pipeline.push(record)
        metrics += sum(1 for e in events if e.to_json()["type"] == "metrics")
        publisher.on_events(events)
    beats = list(record_beats(records))
    rr, rr_t = _drain(inlets["rr"], len(beats))
    assert [s[0] for s in rr] == pytest.approx([b.rr_ms for b in beats], abs=1e-9)
    gaps_ms = [(b - a) * 1000.0 for a, b in zip(rr_t, rr_t[1:], strict=False)]
    assert max(abs(g - s[0]) for g, s in zip(gaps_ms, rr[1:], strict=True)) < 1.0
    text, _ = _drain(inlets["markers"], 3)
    assert [s[0] for s in text] == ["session_end", "rating:6:before", "reset_start:walk"]
    values, _ = _drain(inlets["metrics"], metrics)
    assert len(values) == metrics > 0 and all(len(v) == len(METRIC_CHANNELS) for v in values)
    assert any(math.isfinite(v[0]) for v in values)
    heart, _ = _drain(inlets["heart_rate"], 10)
    assert heart and all(30 < s[0] < 200 for s in heart)
    info = inlets["metrics"].info(timeout=5.0)
    labels = [ch.child_value("label") for ch in _children(info.desc().child("channels"))]
    assert labels == [label for label, _ in METRIC_CHANNELS]
    publisher.close()


def _children(node: Any) -> list[Any]:
    out = []
    child = node.first_child()
    while not child.empty():
        out.append(child)
        child = child.next_sibling()
    return out


def test_notes_only_when_allowed() -> None:
    note = Marker(1.0, MarkerKind.NOTE, text="shaky")
    assert marker_text(note, include_notes=False) is None
    assert marker_text(note, include_notes=True) == "note:shaky"
    plan = Marker(1.0, MarkerKind.PLAN, text='{"preferred": []}')
    assert marker_text(plan, include_notes=True) == "plan"


def test_replay_command_publishes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(REST), "--lsl", "--lsl-wait", "0.2", "--fast"]) == 0
    captured = capsys.readouterr()
    assert "Replay of rest_rri.txt" in captured.out
    assert "no recorder connected" in captured.err


def test_without_the_extra_it_says_how_to_install(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "pylsl", None)
    assert main(["replay", str(REST), "--lsl", "--fast"]) == 2
    assert "pip install 'afterbeat[lab]'" in capsys.readouterr().err


def _fenced(text: str, language: str) -> list[str]:
    """The bodies of the fenced ``language`` blocks of a Markdown text (indented ones too)."""
    pattern = re.compile(rf"^([ \t]*)```{language}\n(.*?)^\1```", re.MULTILINE | re.DOTALL)
    return [body for _, body in pattern.findall(text)]


def _labrecorder_settings(block: str) -> dict[str, str]:
    """``Key=value`` lines of a LabRecorder.cfg (``;`` comments), each key known and given once."""
    settings: dict[str, str] = {}
    for raw in block.splitlines():
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        key, sep, value = (part.strip() for part in line.partition("="))
        assert sep and key in LABRECORDER_KEYS and key not in settings, line
        settings[key] = value
    return settings


def _settings_list(value: str) -> list[str]:
    """A list value as LabRecorder's INI reader takes it: quoted strings separated by commas."""
    assert QUOTED_LIST.fullmatch(value), value
    return re.findall(r'"([^"]*)"', value)


def _resolve_all(predicate: str, source_ids: set[str]) -> set[str]:
    """Source ids of the streams matching an LSL query, once every one of ``source_ids`` is
    among them (or after 20 tries)."""
    found: set[str] = set()
    for _ in range(20):
        found = {info.source_id() for info in pylsl.resolve_bypred(predicate, len(source_ids),
                                                                  1.0)}
        if source_ids <= found:
            break
    return found


def test_labrecorder_example_names_published_streams() -> None:
    text = DOC.read_text(encoding="utf-8")
    (block,) = [b for b in _fenced(text, "ini") if "RequiredStreams" in b]
    settings = _labrecorder_settings(block)
    assert not ("StorageLocation" in settings
                and {"StudyRoot", "PathTemplate"} & settings.keys())  # LabRecorder stops there
    for key in ("SessionBlocks", "BidsModalities", "OnlineSync"):
        if key in settings:
            _settings_list(settings[key])
    required = _settings_list(settings["RequiredStreams"])
    entries = [LIST_NAME.fullmatch(entry) for entry in required]
    assert all(entries), required
    (doc_host,) = {m.group(2) for m in entries if m is not None}
    source = f"afterbeat-test-cfg-{uuid.uuid4().hex[:8]}"
    publisher = LslPublisher(source)
    infos = [_inlet(f"{source}-{key}").info(timeout=5.0) for key in STREAMS]
    host = infos[0].hostname()
    published = {f"{info.name()} ({info.hostname()})" for info in infos}
    assert all(LIST_NAME.fullmatch(name) for name in published)  # LabRecorder can list them
    assert {entry.replace(f"({doc_host})", f"({host})") for entry in required} == published
    for info in infos:  # XDF layout: desc/channels/channel with label, unit and type
        channels = _children(info.desc().child("channels"))
        assert len(channels) == info.channel_count()
        assert all(ch.child_value(k) for ch in channels for k in ("label", "unit", "type"))
    assert _children(infos[0].desc().child("channels"))[0].child_value("unit") == "milliseconds"
    (query,) = re.findall(r'LabRecorderCLI \S+ "([^"]+)"', text)
    ours = {f"{source}-{key}" for key in STREAMS}
    assert ours <= _resolve_all(query.replace(f"'{doc_host}'", f"'{host}'"), ours)
    publisher.close()
