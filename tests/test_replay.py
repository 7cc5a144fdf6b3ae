"""Replay source: session files and RR files as derived notifications, marks, speed, clock."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from afterbeat.heart_rate import decode_measurement, rr_ms_to_raw
from afterbeat.hrv.beats import Beat
from afterbeat.records import Disconnect, Marker, MarkerKind, Notification, Reconnect, Record
from afterbeat.sources import ConnectionState, SourceStatus
from afterbeat.sources.replay import (
    BadMark,
    ReplaySource,
    derived_notifications,
    open_recording,
    parse_mark,
)


def test_parse_mark() -> None:
    assert parse_mark("session_end@600") == Marker(600.0, MarkerKind.SESSION_END)
    assert parse_mark("reset_start@700.5:walk") == Marker(700.5, MarkerKind.RESET_START,
                                                          text="walk")
    assert parse_mark("rating@10:7") == Marker(10.0, MarkerKind.RATING, value=7.0)
    for bad in ("session_end", "party@5", "session_end@soon", "session_end@-1",
                "rating@3:high"):
        with pytest.raises(BadMark):
            parse_mark(bad)


def test_rr_file_becomes_exact_derived_notifications(data_dir: Path) -> None:
    path = data_dir / "polar-hrm" / "rest_rri.txt"
    rr = np.loadtxt(path)
    header, records = open_recording(path)
    notes = [r for r in records if isinstance(r, Notification)]
    decoded = [decode_measurement(n.payload) for n in notes]
    raw = [v for m in decoded for v in m.rr_raw]
    assert raw == [rr_ms_to_raw(float(v)) for v in rr]
    # about one notification a second, each after the beats it carries
    span_s = notes[-1].t_s - notes[0].t_s
    assert len(notes) == pytest.approx(span_s, rel=0.1)
    assert all(b.t_s > a.t_s for a, b in zip(notes, notes[1:], strict=False))
    assert all(40 <= m.heart_rate_bpm <= 120 for m in decoded)
    assert header.provenance["derived"].startswith("notifications re-encoded")


def test_segments_become_disconnect_and_reconnect() -> None:
    beats = [Beat(1.0 + 0.8 * i, 800.0, 0) for i in range(10)]
    beats += [Beat(60.0 + 0.8 * i, 800.0, 1) for i in range(10)]
    records = list(derived_notifications(beats))
    kinds = [type(r) for r in records]
    i = kinds.index(Disconnect)
    assert kinds[i + 1] is Reconnect
    assert records[i].t_s < records[i + 1].t_s <= records[i + 2].t_s
    assert sum(len(decode_measurement(r.payload).rr_raw)
               for r in records if isinstance(r, Notification)) == 20


def test_at_most_nine_rr_per_payload() -> None:
    beats = [Beat(0.01 * (i + 1), 10.0, 0) for i in range(30)]  # 30 (absurd) beats in 0.3 s
    notes = [r for r in derived_notifications(beats) if isinstance(r, Notification)]
    assert [len(decode_measurement(n.payload).rr_raw) for n in notes] == [9, 9, 9, 3]


async def _collect(source: ReplaySource) -> list[Record | SourceStatus]:
    return [item async for item in source.stream()]


async def test_fast_and_scaled_replays_yield_identical_records(data_dir: Path) -> None:
    path = data_dir / "polar-hrm" / "rest_rri.txt"
    marks = [parse_mark("session_end@30"), parse_mark("moving_start@10")]
    fast = await _collect(ReplaySource(path, speed=None, marks=marks))
    quick = await _collect(ReplaySource(path, speed=20000.0, marks=marks))
    records_fast = [r for r in fast if not isinstance(r, SourceStatus)]
    assert records_fast == [r for r in quick if not isinstance(r, SourceStatus)]
    assert isinstance(fast[0], SourceStatus) and fast[0].state is ConnectionState.STREAMING
    assert isinstance(fast[-1], SourceStatus) and fast[-1].state is ConnectionState.FINISHED
    markers = [r for r in records_fast if isinstance(r, Marker)]
    assert [m.kind for m in markers] == [MarkerKind.MOVING_START, MarkerKind.SESSION_END]
    times = [r.t_s for r in records_fast]
    assert times == sorted(times)


async def test_session_clock_scales_with_speed(data_dir: Path) -> None:
    now = [100.0]
    source = ReplaySource(data_dir / "polar-hrm" / "rest_rri.txt", speed=10.0,
                          clock=lambda: now[0])
    stream = source.stream()
    await anext(stream)
    now[0] += 0.5
    assert source.now_s() == pytest.approx(5.0)
    await source.aclose()
    now[0] += 1000.0
    rest = [item async for item in stream]
    assert isinstance(rest[-1], SourceStatus) and rest[-1].state is ConnectionState.STOPPED


async def test_session_file_replays_its_records(tmp_path: Path, data_dir: Path) -> None:
    from datetime import UTC, datetime

    from afterbeat.records import Header
    from afterbeat.storage.session_file import write_session
    _, records = open_recording(data_dir / "polar-hrm" / "rest_rri.txt")
    recs = list(records)[:50]
    path = tmp_path / "s.jsonl"
    write_session(path, Header(started_at=datetime(2026, 1, 1, tzinfo=UTC)), recs)
    out = await _collect(ReplaySource(path, speed=None))
    assert [r for r in out if not isinstance(r, SourceStatus)] == recs
    assert json.loads(path.read_text().splitlines()[0])["type"] == "header"


def test_speed_must_be_positive(data_dir: Path) -> None:
    with pytest.raises(ValueError, match="speed: 0 is outside"):
        ReplaySource(data_dir / "polar-hrm" / "rest_rri.txt", speed=0.0)


def _rr_file(tmp_path: Path, data_dir: Path, n: int, name: str = "rr.txt",
             scale: float = 1.0) -> Path:
    rr = np.loadtxt(data_dir / "polar-hrm" / "rest_rri.txt")[:n] * scale
    path = tmp_path / name
    path.write_text("\n".join(f"{v:.0f}" for v in rr) + "\n")
    return path


def test_cli_replay_gives_identical_events_fast_and_at_speed_1000(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from afterbeat.cli import main
    rr = _rr_file(tmp_path, data_dir, 420)
    rest = _rr_file(tmp_path, data_dir, 300, "rest.txt")
    common = [str(rr), "--baseline", str(rest), "--mark", "session_end@130", "--events"]
    assert main(["replay", "--fast", *common]) == 0
    fast = capsys.readouterr().out.splitlines()
    assert main(["replay", "--speed", "1000", *common]) == 0
    scaled = capsys.readouterr().out.splitlines()
    assert fast == scaled
    events = [json.loads(line) for line in fast]
    kinds = {e["type"] for e in events}
    assert {"metrics", "state", "marker", "recovery"} <= kinds
    metrics = [e for e in events if e["type"] == "metrics"]
    assert all({"t_s", "heart_rate_bpm", "rmssd_ms", "arousal", "score", "quality"} <= set(e)
               for e in metrics)
    assert metrics[-1]["baseline_heart_rate_bpm"] is not None
    assert events[-1]["type"] == "recovery"


def test_cli_replay_summary_tells_the_story(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from afterbeat.cli import main
    rr = _rr_file(tmp_path, data_dir, 600)
    assert main(["replay", str(rr), "--mark", "baseline_start@0", "--mark",
                 "baseline_end@300", "--mark", "session_end@320"]) == 0
    out = capsys.readouterr().out
    assert "Replay of rr.txt" in out
    assert "baseline    Resting heart rate about" in out
    assert "Recovery after the session end" in out
    assert "0 malformed" in out
    assert main(["replay", str(rr), "--mark", "party@3"]) == 2
    assert "unknown marker kind" in capsys.readouterr().err


@pytest.mark.slow
def test_bundled_demo_tells_the_story() -> None:
    """Baseline, session end, activation, a suggestion after the grace, settling again."""
    from importlib.resources import files

    from afterbeat.events import BaselineEvent, StateEvent, SuggestionEvent
    from afterbeat.pipeline import Pipeline
    demo = Path(str(files("afterbeat") / "data" / "demo.jsonl"))
    _, records = open_recording(demo)
    p = Pipeline()
    events = [e for r in records for e in p.push(r)] + p.finish()
    assert [e.ok for e in events if isinstance(e, BaselineEvent)] == [True]
    end_s = next(e.t_s for e in events if e.to_json() == {
        "type": "marker", "t_s": e.t_s, "kind": "session_end", "value": None, "text": None})
    states = [(e.t_s, e.state) for e in events if isinstance(e, StateEvent)]
    elevated = [t for t, s in states if s == "elevated"]
    assert elevated and elevated[0] > end_s
    sugg = [e for e in events if isinstance(e, SuggestionEvent)]
    assert sugg and sugg[0].t_s >= end_s + 300.0 and not sugg[0].gentle
    assert any(s == "settled" and t > elevated[-1] for t, s in states)


async def test_the_session_clock_stops_where_the_recording_ended(data_dir: Path) -> None:
    """Marks made after the end are at the recording's end, never minutes past it."""
    now = [100.0]
    source = ReplaySource(data_dir / "polar-hrm" / "rest_rri.txt", speed=10.0,
                          clock=lambda: now[0])
    stream = source.stream()
    await anext(stream)
    now[0] += 1e6  # every record is due at once
    items = [item async for item in stream]
    last_t_s = max(r.t_s for r in items if not isinstance(r, SourceStatus))
    assert isinstance(items[-1], SourceStatus)
    assert items[-1].state is ConnectionState.FINISHED
    now[0] += 3600.0  # an hour after the end
    assert source.now_s() == pytest.approx(last_t_s)


async def test_a_reset_slows_the_replay_to_real_time_without_a_jump(data_dir: Path) -> None:
    now = [100.0]
    source = ReplaySource(data_dir / "polar-hrm" / "rest_rri.txt", speed=15.0,
                          clock=lambda: now[0], reset_speed=1.0)
    stream = source.stream()
    await anext(stream)
    now[0] += 2.0
    assert source.now_s() == pytest.approx(30.0)
    source.reset_running(True)  # the demo: real time while the reset runs
    assert source.now_s() == pytest.approx(30.0)
    now[0] += 10.0
    assert source.now_s() == pytest.approx(40.0)
    source.reset_running(False)
    now[0] += 1.0
    assert source.now_s() == pytest.approx(55.0)
    await source.aclose()
    rest = [item async for item in stream]
    assert isinstance(rest[-1], SourceStatus) and rest[-1].state is ConnectionState.STOPPED


async def test_without_a_reset_speed_a_reset_leaves_the_speed_alone(data_dir: Path) -> None:
    now = [0.0]
    source = ReplaySource(data_dir / "polar-hrm" / "rest_rri.txt", speed=15.0,
                          clock=lambda: now[0])
    stream = source.stream()
    await anext(stream)
    source.reset_running(True)
    now[0] += 1.0
    assert source.now_s() == pytest.approx(15.0)
    with pytest.raises(ValueError, match="speed: 0 is outside"):
        source.set_speed(0.0)
    await source.aclose()
    rest = [item async for item in stream]
    assert isinstance(rest[-1], SourceStatus) and rest[-1].state is ConnectionState.STOPPED


async def test_the_demo_says_in_the_terminal_that_it_has_finished_and_how_to_stop(
        data_dir: Path) -> None:
    from afterbeat.cli.demo import FINISHED_TEXT, DemoReplay

    said: list[str] = []
    source = DemoReplay(data_dir / "polar-hrm" / "rest_rri.txt", None, say=said.append)
    items = [item async for item in source.stream()]
    last = items[-1]
    assert isinstance(last, SourceStatus) and last.state is ConnectionState.FINISHED
    assert said == [FINISHED_TEXT] and "Ctrl+C" in said[0]
    assert DemoReplay(data_dir / "polar-hrm" / "rest_rri.txt", 15.0).reset_speed == 1.0
