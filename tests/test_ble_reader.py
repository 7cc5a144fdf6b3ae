"""The strap reader against scripted straps played through bleak's public API (layer L1).

Every scenario builds real ``BleakScanner``/``BleakClient`` objects with the replay backend
passed as ``backend=``, and runs on a virtual-time event loop (``ble_fixtures.run_virtual``):
minutes of strap time take milliseconds and the clock and sleeps are exact. Frames are
*derived* from the real Polar H10 recording in tests/data/polar-h10-pvc (real RR, real
notification grouping and timing, re-encoded as 0x2A37 payloads).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TypeVar

import pytest
from bleak.backends.client import BaseBleakClient
from hypothesis import given
from hypothesis import strategies as st

from afterbeat.errors import MalformedMeasurement
from afterbeat.heart_rate import SensorContact, decode_measurement
from afterbeat.hrv.artifacts import detect_artifacts
from afterbeat.hrv.beats import Beat, BeatTimeline
from afterbeat.records import (
    DeviceEvent,
    DeviceEventKind,
    Disconnect,
    Header,
    Notification,
    Reconnect,
    Record,
)
from afterbeat.sources import ConnectionState, SourceStatus
from afterbeat.sources.backend import BackendPair
from afterbeat.sources.ble import (
    HEART_RATE_SERVICE_UUID,
    BleSettings,
    BleSource,
    backend_from_env,
    looks_like_address,
    remembered_strap,
)
from afterbeat.sources.ble_policy import DuplicateFilter, QualityTracker, backoff_s
from afterbeat.sources.replay_backend import (
    Bystander,
    Link,
    LinkEnd,
    ReplayWorld,
    StrapScript,
    load_script,
)
from afterbeat.storage.recorder import Recorder
from afterbeat.storage.session_file import encode_record, write_session
from afterbeat.storage.store import Store
from ble_fixtures import derived_h10_frames, run_virtual

Frames = tuple[tuple[float, bytes], ...]
R = TypeVar("R")


@cache
def h10() -> Frames:
    """All 600 derived notifications of the real H10 recording."""
    return tuple(derived_h10_frames())


def part(start: int, stop: int, lead_s: float = 0.5) -> Frames:
    """Frames start..stop re-timed to begin ``lead_s`` after subscribing."""
    frames = h10()[start:stop]
    t0 = frames[0][0]
    return tuple((round(t - t0 + lead_s, 6), p) for t, p in frames)


def payloads(frames: Frames) -> list[bytes]:
    return [p for _, p in frames]


@dataclass
class Run:
    world: ReplayWorld
    source: BleSource
    out: list[Record | SourceStatus] = field(default_factory=list)

    @property
    def records(self) -> list[Record]:
        return [o for o in self.out if not isinstance(o, SourceStatus)]

    @property
    def notifications(self) -> list[Notification]:
        return [o for o in self.out if isinstance(o, Notification)]

    @property
    def statuses(self) -> list[SourceStatus]:
        return [o for o in self.out if isinstance(o, SourceStatus)]

    def of(self, kind: type[R]) -> list[R]:
        return [o for o in self.out if isinstance(o, kind)]

    def gaps(self) -> list[tuple[float, float]]:
        """(disconnect t_s, reconnect t_s) pairs, in order."""
        downs = [r.t_s for r in self.of(Disconnect)]
        ups = [r.t_s for r in self.of(Reconnect)]
        return list(zip(downs, ups, strict=False))


def play(script: StrapScript, until_s: float | None = None, *, device: str | None = None,
         settings: BleSettings | None = None, seed: int = 7,
         backend: Callable[[BackendPair], BackendPair] | None = None) -> Run:
    """Run the reader against ``script``, then close it.

    Closes ``until_s`` virtual seconds after the start, or by default one second after the
    last scripted frame (before the watchdog would notice the scripted strap going quiet).
    ``backend`` may wrap the scripted world's backend (a fault at the hardware seam).
    """

    async def main() -> Run:
        world = ReplayWorld(script)
        loop = asyncio.get_running_loop()
        pair = world.backend() if backend is None else backend(world.backend())
        source = BleSource(device=device, backend=pair,
                           settings=settings or BleSettings(), clock=loop.time,
                           wall_clock=lambda: 1_700_000_000.0, rng=random.Random(seed))
        run = Run(world, source)

        async def consume() -> None:
            async for item in source.stream():
                run.out.append(item)

        task = asyncio.create_task(consume())
        if until_s is None:
            await world.played_all.wait()
            await asyncio.sleep(1.0)
        else:
            await asyncio.sleep(until_s)
        await source.aclose()
        await task
        return run

    return run_virtual(main())


def beats_of(records: list[Record]) -> list[tuple[Beat, int]]:
    """Beats the way the pipeline builds them (segment broken at every Disconnect).

    Each beat comes with the number of gaps seen before it.
    """
    timeline = BeatTimeline()
    gaps = 0
    beats: list[tuple[Beat, int]] = []
    for record in records:
        if isinstance(record, Disconnect):
            timeline.break_segment()
            gaps += 1
        elif isinstance(record, Notification):
            try:
                m = decode_measurement(record.payload)
            except MalformedMeasurement:
                continue
            beats.extend((b, gaps) for b in timeline.push(record.t_s, m.rr_ms))
    return beats


def assert_no_segment_spans_a_gap(records: list[Record]) -> None:
    beats = beats_of(records)
    assert beats
    by_segment: dict[int, set[int]] = {}
    for beat, gaps in beats:
        by_segment.setdefault(beat.segment, set()).add(gaps)
    assert all(len(sides) == 1 for sides in by_segment.values()), by_segment


def assert_clean_stop(run: Run) -> None:
    """Our own disconnect at the end is not a drop: no Disconnect after the last frame."""
    assert run.statuses[-1].state is ConnectionState.STOPPED
    assert not run.out or not isinstance(run.records[-1], Disconnect)


# -- pure policies ---------------------------------------------------------------------


def test_backoff_doubles_from_one_second_up_to_the_cap() -> None:
    ceilings = [backoff_s(n, random.Random(0), jitter=0.0) for n in range(1, 9)]
    assert ceilings == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert backoff_s(0, random.Random(0)) == 0.0


@given(attempt=st.integers(1, 10_000), seed=st.integers(0, 2**32))
def test_backoff_jitter_only_shortens_and_never_exceeds_the_cap(attempt: int, seed: int) -> None:
    ceiling = min(30.0, 2.0 ** min(attempt - 1, 32))
    delay = backoff_s(attempt, random.Random(seed))
    assert 0.8 * ceiling <= delay <= ceiling <= 30.0


def test_duplicate_filter_drops_within_50_ms_and_keeps_a_second_apart() -> None:
    f = DuplicateFilter()
    a, b = bytes.fromhex("16 4d 16 03"), bytes.fromhex("16 4e 10 03")
    assert [f.accept(a, 10.0), f.accept(a, 10.001), f.accept(b, 10.002), f.accept(a, 10.049),
            f.accept(b, 10.03), f.accept(a, 11.0), f.accept(a, 12.0)] == [
        True, False, True, False, False, True, True]
    assert f.dropped == 3


@given(st.lists(st.tuples(st.floats(0.0, 0.2), st.sampled_from([b"\x06\x48", b"\x06\x49",
                                                                  b"\x16\x48\x00\x04"])),
                max_size=60))
def test_duplicate_filter_matches_the_plain_definition(steps: list[tuple[float, bytes]]) -> None:
    """Fast filter == "drop if the same bytes were accepted less than 50 ms before"."""
    f = DuplicateFilter()
    accepted: list[tuple[float, bytes]] = []
    t_s = 0.0
    for gap_s, payload in steps:
        t_s += gap_s
        expected = not any(p == payload and t_s - t < 0.05 for t, p in accepted)
        assert f.accept(payload, t_s) == expected
        if expected:
            accepted.append((t_s, payload))


def test_quality_tracker_flags_no_rr_only_after_a_while_with_a_heart_rate() -> None:
    q = QualityTracker(no_rr_after_s=15.0)
    q.start_connection(0.0)
    hr_only = decode_measurement(bytes.fromhex("06 48"))
    changes = [q.push(float(t), hr_only) for t in range(0, 20)]
    flagged = [t for t, c in enumerate(changes) if c is not None and c.rr_available is False]
    assert flagged == [15]
    back = q.push(20.0, decode_measurement(bytes.fromhex("16 48 00 04")))
    assert back is not None
    assert back.rr_available


def test_address_detection() -> None:
    assert looks_like_address("F0:0D:00:00:0D:01")
    assert looks_like_address("8c-2b-11-22-33-44")
    assert looks_like_address("2A1B3C4D-0000-1111-2222-333344445555")
    assert not looks_like_address("Polar H10")


# -- scenarios through bleak -----------------------------------------------------------


def test_connect_failures_then_success_records_every_frame_once() -> None:
    frames = part(0, 60)
    run = play(StrapScript(links=(Link(frames, LinkEnd.SILENCE, end_after_s=61.0),),
                           connect_failures=3), seed=3)
    assert [n.payload for n in run.notifications] == payloads(frames)
    assert run.source.counters.failed_attempts == 3
    retries = [s for s in run.statuses
               if s.state is ConnectionState.RECONNECTING and s.next_delay_s is not None]
    rng = random.Random(3)
    assert [(s.attempt, s.next_delay_s) for s in retries] == [
        (n, backoff_s(n, rng)) for n in (1, 2, 3)]
    assert "connect failed" in (retries[0].detail or "")
    # Failed attempts before the first success open no gap.
    assert not run.of(Disconnect) and not run.of(Reconnect)
    assert [e for _, e in run.world.events].count("connect-failed") == 3
    assert_clean_stop(run)


def test_drop_mid_stream_then_reconnect_records_one_gap_of_its_length() -> None:
    first, second = part(0, 100), part(100, 200)
    script = StrapScript(links=(Link(first, LinkEnd.DROP, hidden_s=12.0),
                                Link(second, LinkEnd.SILENCE, end_after_s=200.0)))
    run = play(script)
    assert [n.payload for n in run.notifications] == payloads(first) + payloads(second)
    (down, up), = run.gaps()
    assert 12.0 <= up - down <= 13.0  # the strap was away 12 s; scan + connect add < 1 s
    last_before = max(n.t_s for n in run.notifications if n.t_s <= down)
    first_after = min(n.t_s for n in run.notifications if n.t_s >= up)
    assert last_before <= down < up <= first_after
    assert run.source.counters.drops == 1
    assert "link lost" in (run.of(Disconnect)[0].reason or "")
    assert_no_segment_spans_a_gap(run.records)
    assert_clean_stop(run)


def test_silence_trips_the_watchdog_and_forces_a_reconnect() -> None:
    first, second = part(0, 20), part(20, 40)
    script = StrapScript(links=(Link(first, LinkEnd.SILENCE), Link(second, LinkEnd.SILENCE)))
    run = play(script)
    assert [n.payload for n in run.notifications] == payloads(first) + payloads(second)
    gap, = run.of(Disconnect)
    assert isinstance(gap, Disconnect) and "watchdog" in (gap.reason or "")
    last_before = max(n.t_s for n in run.notifications if n.t_s <= gap.t_s)
    assert gap.t_s - last_before == pytest.approx(8.0, abs=0.01)
    assert run.source.counters.watchdog_trips >= 1
    assert "disconnect-by-reader" in [e for _, e in run.world.events]
    assert len(run.of(Reconnect)) == 1
    assert_no_segment_spans_a_gap(run.records)


def test_strap_held_by_a_phone_stops_advertising_and_is_found_again() -> None:
    first, second = part(0, 30), part(30, 60)
    script = StrapScript(links=(Link(first, LinkEnd.DROP, hidden_s=75.0),
                                Link(second, LinkEnd.SILENCE, end_after_s=60.0)))
    run = play(script)
    assert [n.payload for n in run.notifications] == payloads(first) + payloads(second)
    waiting = [s for s in run.statuses if s.detail and "phone or watch app" in s.detail]
    assert len(waiting) >= 3
    delays = [s.next_delay_s for s in waiting if s.next_delay_s is not None]
    assert len(delays) == len(waiting)
    assert delays == sorted(delays)  # backing off while the strap is away
    assert [s.attempt for s in waiting] == list(range(1, len(waiting) + 1))
    (down, up), = run.gaps()
    assert 75.0 <= up - down <= 75.0 + 2 * 10.0 + 16.0  # found by the next scan after backoff
    assert_no_segment_spans_a_gap(run.records)


def test_duplicate_callbacks_after_reconnects_reach_the_recording_once() -> None:
    links = tuple(Link(part(i * 25, (i + 1) * 25), LinkEnd.DROP, hidden_s=1.0) for i in range(4))
    script = StrapScript(links=links, duplicate_after_reconnect=True, leak_handlers=True)
    run = play(script)
    expected = [p for link in links for p in payloads(link.frames)]
    assert [n.payload for n in run.notifications] == expected
    assert run.source.counters.duplicates > 0  # bleak #2002 doubling
    assert run.source.counters.stale > 0  # earlier clients' handlers, ignored
    assert run.world.links_played == 4
    assert len(run.gaps()) == 3
    assert_no_segment_spans_a_gap(run.records)


def test_burst_of_queued_notifications_is_kept_whole_with_evenly_spaced_beats() -> None:
    frames = list(part(0, 40))
    burst_at = frames[30][0]
    queued = [(burst_at, p) for _, p in frames[27:31]]  # four frames held back, sent at once
    script_frames = tuple(frames[:27] + queued + frames[31:])
    run = play(StrapScript(links=(Link(script_frames, LinkEnd.SILENCE),)))
    assert [n.payload for n in run.notifications] == payloads(tuple(frames))
    assert run.source.counters.duplicates == 0
    beats = [b for b, _ in beats_of(run.records)]
    assert len({b.segment for b in beats}) == 1
    for before, after in zip(beats, beats[1:], strict=False):
        assert after.t_s - before.t_s == pytest.approx(after.rr_ms / 1000.0, abs=1e-9)


def test_malformed_payloads_between_good_ones_are_recorded_raw_and_counted() -> None:
    good = list(part(0, 30))
    bad = [bytes.fromhex("10 46 00"), b"", bytes.fromhex("01 2c"),
           bytes.fromhex("19 46 10 00 00 04")]
    mixed: list[tuple[float, bytes]] = []
    for i, (t, p) in enumerate(good):
        mixed.append((t, p))
        if i % 7 == 3:
            mixed.append((t + 0.3, bad[(i // 7) % len(bad)]))
    run = play(StrapScript(links=(Link(tuple(mixed), LinkEnd.SILENCE),)))
    assert [n.payload for n in run.notifications] == payloads(tuple(mixed))
    assert run.source.counters.malformed == len(mixed) - len(good)
    assert not run.of(Disconnect)
    assert len(beats_of(run.records)) == sum(
        len(decode_measurement(p).rr_raw) for _, p in good)


def test_heart_rate_only_strap_streams_and_says_so() -> None:
    frames = tuple((0.5 + i * 1.0, bytes.fromhex("06 48")) for i in range(40))  # HR 72, no RR
    script = StrapScript(links=(Link(frames, LinkEnd.SILENCE),), name="Polar Sense 0A1B2C3D",
                         body_sensor_location=None,
                         device_info=(("manufacturer", "Polar Electro Oy"),))
    run = play(script)
    assert len(run.notifications) == 40  # identical payloads a second apart are all kept
    flagged = [s for s in run.statuses if s.rr_available is False]
    assert flagged and "heart-rate-only" in (flagged[0].detail or "")
    assert 15.0 <= flagged[0].t_s <= 17.0
    assert DeviceEvent(flagged[0].t_s, DeviceEventKind.INFO, "rr=absent") in run.records
    assert not [r for r in run.records if isinstance(r, DeviceEvent)
                and r.kind is DeviceEventKind.BODY_SENSOR_LOCATION]
    assert not run.of(Disconnect)


def test_contact_lost_and_heart_rate_zero_are_quality_states_not_drops() -> None:
    good = part(0, 10)
    lost = tuple((good[-1][0] + 1.0 + i, bytes.fromhex("04 00")) for i in range(5))
    back = tuple((lost[-1][0] + 1.0 + t - part(10, 20)[0][0], p) for t, p in part(10, 20))
    run = play(StrapScript(links=(Link(good + lost + back, LinkEnd.SILENCE),)))
    assert len(run.notifications) == 25
    contacts = [r.value for r in run.records
                if isinstance(r, DeviceEvent) and r.kind is DeviceEventKind.CONTACT]
    assert contacts == ["detected", "not_detected", "detected"]
    lost_status = [s for s in run.statuses if s.contact is SensorContact.NOT_DETECTED]
    assert lost_status and "contact lost" in (lost_status[0].detail or "")
    assert not run.of(Disconnect) and run.source.counters.drops == 0


def test_reads_location_battery_and_device_information_once_per_connection() -> None:
    links = (Link(part(0, 5), LinkEnd.DROP, hidden_s=1.0), Link(part(5, 10), LinkEnd.SILENCE))
    run = play(StrapScript(links=links, battery_pct=64))
    events = [r for r in run.records if isinstance(r, DeviceEvent)]
    battery = [e.value for e in events if e.kind is DeviceEventKind.BATTERY]
    assert battery == [64, 64]
    assert [e.value for e in events if e.kind is DeviceEventKind.BODY_SENSOR_LOCATION] == [
        "chest", "chest"]
    infos = {e.value for e in events if e.kind is DeviceEventKind.INFO}
    assert {"manufacturer=Polar Electro Oy", "model=H10", "address=F0:0D:00:00:0D:01"} <= infos
    assert any(s.battery_pct == 64 for s in run.statuses)
    assert run.source.connected_address == "F0:0D:00:00:0D:01"


def test_scan_ignores_devices_without_the_heart_rate_service() -> None:
    script = StrapScript(
        links=(Link(part(0, 5), LinkEnd.SILENCE),),
        bystanders=(Bystander("Headphones", "AA:AA:AA:AA:AA:01",
                              ("0000110b-0000-1000-8000-00805f9b34fb",), rssi_dbm=-30),
                    Bystander("Short UUID", "AA:AA:AA:AA:AA:02", ("180d",))),
        advertise_from_s=3.0,
    )
    run = play(script)
    assert len(run.notifications) == 5
    assert run.source.connected_address == "F0:0D:00:00:0D:01"
    assert HEART_RATE_SERVICE_UUID == "0000180d-0000-1000-8000-00805f9b34fb"


@pytest.mark.parametrize("device", ["F0:0D:00:00:0D:01", "f0:0d:00:00:0d:01", "polar h10"])
def test_named_or_remembered_strap_is_the_one_connected(device: str) -> None:
    run = play(StrapScript(links=(Link(part(0, 5), LinkEnd.SILENCE),)), until_s=15.0,
               device=device)
    assert len(run.notifications) == 5


def test_a_different_remembered_address_connects_to_nothing() -> None:
    run = play(StrapScript(links=(Link(part(0, 5), LinkEnd.SILENCE),)), until_s=40.0,
               device="11:22:33:44:55:66")
    assert not run.notifications and run.world.connect_attempts == 0
    assert any(s.detail and "no strap found" in s.detail for s in run.statuses)


def test_close_while_streaming_is_not_recorded_as_a_drop() -> None:
    run = play(StrapScript(links=(Link(part(0, 50), LinkEnd.SILENCE),)), until_s=20.5)
    assert run.notifications and not run.of(Disconnect)
    assert run.source.counters.drops == 0
    assert ("disconnect-by-reader" in [e for _, e in run.world.events])
    assert_clean_stop(run)


def test_close_while_backing_off_ends_promptly() -> None:
    script = StrapScript(links=(), advertise_from_s=10_000.0)
    run = play(script, until_s=100.0)
    assert run.statuses[-1].state is ConnectionState.STOPPED
    assert run.statuses[-1].t_s == pytest.approx(100.0, abs=0.01)


def test_recorded_in_the_store_exactly_as_streamed(tmp_path: Path) -> None:
    first, second = part(0, 60), part(60, 120)
    script = StrapScript(links=(Link(first, LinkEnd.DROP, hidden_s=5.0),
                                Link(second, LinkEnd.SILENCE, end_after_s=80.0)),
                         duplicate_after_reconnect=True)
    run = play(script)
    with Store.open(tmp_path) as store:
        recorder = Recorder(store, run.source.header, "ble")
        for record in run.records:
            assert recorder.record(record)
        status = recorder.close()
        assert status.unrecorded == 0
        assert status.session_id is not None
        _header, stored = store.iter_records(status.session_id)
        stored_records = list(stored)
    assert [encode_record(r) for r in stored_records] == [encode_record(r) for r in run.records]
    got = [r.payload for r in stored_records if isinstance(r, Notification)]
    assert got == payloads(first) + payloads(second)
    (down, up), = run.gaps()
    assert 5.0 <= up - down <= 6.0
    assert_no_segment_spans_a_gap(stored_records)


def test_a_recorded_session_replays_through_bleak(tmp_path: Path) -> None:
    first, second = part(0, 20), part(20, 40)
    run = play(StrapScript(links=(Link(first, LinkEnd.DROP, hidden_s=4.0),
                                  Link(second, LinkEnd.OFF))), until_s=80.0)
    path = tmp_path / "session.jsonl"
    write_session(path, Header(run.source.header.started_at, {"name": "Polar H10 0A1B2C3D"}),
                  run.records)
    replayed = play(load_script(path), until_s=80.0)
    assert [n.payload for n in replayed.notifications] == payloads(first) + payloads(second)
    (down, up), = run.gaps()
    (down2, up2), = replayed.gaps()
    assert (up2 - down2) == pytest.approx(up - down, abs=1.0)


def test_backend_from_env_selects_the_replay_backend(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_text('{"name": "Wahoo TICKR 1A2B", "connect_failures": 1, "links": '
                        '[{"frames": [[0.5, "16 4d 16 03"], [1.5, "16 4e 10 03"]], '
                        '"end": "silence"}]}')
    backend = backend_from_env({"AFTERBEAT_BLE_BACKEND": f"replay:{scenario}"})
    assert backend is not None
    assert backend_from_env({}) is None

    async def main() -> list[bytes]:
        loop = asyncio.get_running_loop()
        source = BleSource(backend=backend, clock=loop.time, rng=random.Random(1))
        got: list[bytes] = []

        async def consume() -> None:
            async for item in source.stream():
                if isinstance(item, Notification):
                    got.append(item.payload)

        task = asyncio.create_task(consume())
        await asyncio.sleep(10.0)
        await source.aclose()
        await task
        return got

    assert run_virtual(main()) == [bytes.fromhex("164d1603"), bytes.fromhex("164e1003")]


def test_garmin_bogus_trailing_rr_is_recorded_raw_and_flagged_downstream() -> None:
    """HRM-Dual appends a bogus short RR (``10 38 2d 04 35 00``): keep the bytes, flag later."""
    good = list(part(0, 40))
    t_bogus = good[20][0] + 0.5
    frames = tuple(good[:21] + [(t_bogus, bytes.fromhex("10 38 2d 04 35 00"))] + good[21:])
    run = play(StrapScript(links=(Link(frames, LinkEnd.SILENCE),), name="HRM-Dual:123456"))
    assert [n.payload for n in run.notifications] == payloads(frames)
    rr_ms = [b.rr_ms for b, _ in beats_of(run.records)]
    bogus = next(i for i, v in enumerate(rr_ms) if v == pytest.approx(53 * 1000 / 1024))
    assert detect_artifacts(rr_ms).any[bogus]


def test_strap_without_contact_support_never_warns_about_contact() -> None:
    """Polar H10 seen with flags 0x10 (no contact bits) and optical sensors: no contact state."""
    frames = tuple((t, bytes([0x10]) + p[1:]) for t, p in part(0, 30))
    run = play(StrapScript(links=(Link(frames, LinkEnd.SILENCE),)))
    assert len(run.notifications) == 30
    assert not [s for s in run.statuses if s.detail and "contact lost" in s.detail]
    contacts = [r.value for r in run.records
                if isinstance(r, DeviceEvent) and r.kind is DeviceEventKind.CONTACT]
    assert contacts == ["not_supported"]


def test_the_gap_ends_when_the_link_is_back_before_the_per_connection_reads() -> None:
    links = (Link(part(0, 10), LinkEnd.DROP, hidden_s=3.0), Link(part(10, 20), LinkEnd.SILENCE))
    run = play(StrapScript(links=links))
    records = run.records
    up = next(i for i, r in enumerate(records) if isinstance(r, Reconnect))
    infos = [i for i, r in enumerate(records)
             if isinstance(r, DeviceEvent) and r.value == "address=F0:0D:00:00:0D:01"]
    assert len(infos) == 2 and infos[0] < up < infos[1]


def test_remembers_the_strap_in_the_data_dir_and_uses_it_next_time(tmp_path: Path) -> None:
    async def main(device: str | None, script: StrapScript) -> BleSource:
        world = ReplayWorld(script)
        loop = asyncio.get_running_loop()
        source = BleSource(device=device, data_dir=tmp_path, backend=world.backend(),
                           clock=loop.time)

        async def consume() -> None:
            async for _ in source.stream():
                pass

        task = asyncio.create_task(consume())
        await asyncio.sleep(5.0)
        await source.aclose()
        await task
        return source

    first = run_virtual(main(None, StrapScript(links=(Link(part(0, 3), LinkEnd.SILENCE),))))
    assert first.connected_address == "F0:0D:00:00:0D:01"
    assert remembered_strap(tmp_path) == ("F0:0D:00:00:0D:01", "Polar H10 0A1B2C3D")
    other = StrapScript(links=(Link(part(0, 3), LinkEnd.SILENCE),), address="AA:00:00:00:00:02",
                        name="Polar H10 99999999")
    second = run_virtual(main(None, other))  # only the remembered strap is ever connected
    assert second.device == "F0:0D:00:00:0D:01" and second.connected_address is None


def _fails_once_on_disconnect(backend: BackendPair) -> BackendPair:
    """The backend's first disconnect raises an error nobody foresaw (a backend oddity)."""
    base = backend.client
    failed: list[str] = []

    async def disconnect(self: BaseBleakClient) -> None:
        if not failed:
            failed.append("unforeseen")
            raise RuntimeError("unforeseen")
        await base.disconnect(self)

    client = type("FailsOnceOnDisconnect", (base,), {"disconnect": disconnect})
    return BackendPair(scanner=backend.scanner, client=client)


def test_an_unforeseen_error_restarts_the_link_and_never_ends_the_stream() -> None:
    first, second = part(0, 20), part(20, 40)
    script = StrapScript(links=(Link(first, LinkEnd.SILENCE),
                                Link(second, LinkEnd.SILENCE, end_after_s=41.0)))
    run = play(script, backend=_fails_once_on_disconnect)
    statuses = [s for s in run.statuses if "unexpected error" in (s.detail or "")]
    assert statuses and statuses[0].state is ConnectionState.RECONNECTING
    assert run.of(Disconnect)  # the restart is a recorded gap
    assert run.of(Reconnect)
    # The second connection streams its frames: the stream went on after the error.
    assert [n.payload for n in run.notifications][-len(second):] == payloads(second)
    assert_no_segment_spans_a_gap(run.records)
