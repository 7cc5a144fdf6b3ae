"""``afterbeat record``: record a strap headless into the data directory, with one live line.

With ``--lsl`` the records (beats, heart rate) and the metrics of a live pipeline run alongside
are published on the Lab Streaming Layer; the recording never depends on that: a failure there
is counted and reported at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from afterbeat.cli.common import add_data_dir_option, data_dir_from, number_in
from afterbeat.cli.lsl_options import add_lsl_options, open_lsl
from afterbeat.errors import MalformedMeasurement
from afterbeat.heart_rate import SensorContact, decode_measurement
from afterbeat.lsl import LslPublisher
from afterbeat.pipeline import EventPipeline
from afterbeat.records import MAX_T_S, Record
from afterbeat.sources import SourceStatus
from afterbeat.sources.ble import BleSource, backend_from_env, remembered_strap
from afterbeat.storage.history import person_pipeline
from afterbeat.storage.recorder import QueuedRecorder, RecorderStatus
from afterbeat.storage.store import Store

__all__ = ["LiveLine", "LslFeed", "register", "run"]

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``record`` sub-command."""
    parser = subparsers.add_parser(
        "record",
        help="record a heart-rate strap into the data directory (no web page)",
        description="Connect to a heart-rate strap and record every notification, gap and "
        "device event into the recording database, with one live status line. The strap "
        "used is remembered in the data directory; stop with Ctrl-C.",
    )
    parser.add_argument("--device", metavar="X", default=None,
                        help="strap address or name (default: the remembered strap, else the "
                        "first heart-rate strap found)")
    parser.add_argument("--duration", type=number_in(0.1, MAX_T_S, "the duration (s)"),
                        default=None, metavar="S",
                        help="stop after this many seconds (default: until Ctrl-C)")
    add_data_dir_option(parser)
    add_lsl_options(parser)
    parser.set_defaults(run=run)


@dataclass(slots=True)
class LiveLine:
    """What the status line shows: heart rate, RR count, battery, link state."""

    heart_rate_bpm: int | None = None
    rr_count: int = 0
    notifications: int = 0
    battery_pct: int | None = None
    state: str = "starting"
    detail: str | None = None

    def update(self, item: Record | SourceStatus) -> None:
        """Take one item of the source's stream."""
        if isinstance(item, SourceStatus):
            self.state = str(item.state)
            self.detail = item.detail
            if item.battery_pct is not None:
                self.battery_pct = item.battery_pct
            if item.contact is SensorContact.NOT_DETECTED:
                self.state = "contact lost"
            return
        payload = getattr(item, "payload", None)
        if payload is None:
            return
        self.notifications += 1
        try:
            m = decode_measurement(payload)
        except MalformedMeasurement:
            return
        self.heart_rate_bpm = m.heart_rate_bpm or None
        self.rr_count += len(m.rr_raw)

    def render(self, recording: RecorderStatus | None, elapsed_s: float) -> str:
        """One line: HR, RR count, battery, connection state, recording health, elapsed."""
        hr = f"{self.heart_rate_bpm} bpm" if self.heart_rate_bpm else "-- bpm"
        battery = f"{self.battery_pct} %" if self.battery_pct is not None else "-- %"
        parts = [f"HR {hr}", f"RR {self.rr_count}", f"battery {battery}", self.state]
        if self.detail and self.detail != self.state and self.state not in (
                "streaming", "connecting"):
            parts.append(self.detail)
        if recording is not None and recording.failing:
            parts.append(f"NOT RECORDING ({recording.unrecorded} unrecorded): "
                         f"{recording.last_error}")
        whole_s = int(elapsed_s)
        parts.append(f"{whole_s // 3600}:{whole_s // 60 % 60:02d}:{whole_s % 60:02d}")
        return " | ".join(parts)


class LslFeed:
    """Publish each record and the events a pipeline makes of it; failures are counted, never
    raised (the recording goes on without them)."""

    def __init__(self, publisher: LslPublisher, pipeline: EventPipeline) -> None:
        self.publisher = publisher
        self.pipeline = pipeline
        self.errors = 0

    def push(self, record: Record) -> None:
        """Publish one record and the metrics it led to."""
        try:
            self.publisher.on_record(record)
            self.publisher.on_events(self.pipeline.push(record))
        except Exception:
            self._failed()

    def finish(self) -> None:
        """Publish what the pipeline says at the end, then close the outlets."""
        try:
            self.publisher.on_events(self.pipeline.finish())
        except Exception:
            self._failed()
        self.publisher.close()

    def _failed(self) -> None:
        self.errors += 1
        if self.errors == 1 or self.errors % 1000 == 0:
            log.exception("publishing on LSL failed (%d time(s) so far)", self.errors)


async def _record(args: argparse.Namespace, data_dir: Path, store: Store,
                  feed: LslFeed | None = None) -> RecorderStatus | None:
    if args.device is None:
        remembered = remembered_strap(data_dir)
        if remembered is not None:
            print(f"using the remembered strap {remembered[1] or ''} {remembered[0]} "
                  "(--device to choose another)", file=sys.stderr)
    source = BleSource(device=args.device, data_dir=data_dir, backend=backend_from_env())
    line = LiveLine()
    recorder: QueuedRecorder | None = None
    tty = sys.stderr.isatty()
    last_state = ""

    async def consume() -> None:
        nonlocal recorder, last_state
        async for item in source.stream():
            line.update(item)
            if not isinstance(item, SourceStatus):
                if recorder is None:  # its own thread writes: Bluetooth is never held up
                    recorder = QueuedRecorder(store, source.header, "ble")
                    recorder.start()
                recorder.record(item)
                if feed is not None:
                    feed.push(item)
            text = line.render(recorder.status if recorder else None, source.now_s())
            if tty:
                sys.stderr.write("\r" + text[:160].ljust(100))
                sys.stderr.flush()
            elif isinstance(item, SourceStatus) and line.state != last_state:
                print(text, file=sys.stderr)
                last_state = line.state

    task = asyncio.create_task(consume())
    try:
        done, _ = await asyncio.wait({task}, timeout=args.duration)
        if task in done:
            task.result()
    except asyncio.CancelledError:  # Ctrl-C: asyncio.run cancels us; stop cleanly
        print("\nstopping", file=sys.stderr)
    finally:
        await source.aclose()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 10.0)
        if tty:
            sys.stderr.write("\n")
    if recorder is None:
        return None
    return await asyncio.to_thread(recorder.close, end_t_s=source.now_s(), wait=True)


def run(args: argparse.Namespace) -> int:
    """Record until --duration or Ctrl-C; exit 0 when all was recorded, 1 if nothing, 2 on loss."""
    data_dir = data_dir_from(args)
    with Store.open(data_dir) as store:
        feed = None
        publisher = open_lsl(args, "afterbeat-record", args.device)
        if publisher is not None:  # metrics against the stored baseline and plan too
            feed = LslFeed(publisher, person_pipeline(store))
        try:
            status = asyncio.run(_record(args, data_dir, store, feed))
        except KeyboardInterrupt:
            return 130
        finally:
            if feed is not None:
                feed.finish()
                if feed.errors:
                    print(f"lsl: publishing failed {feed.errors} time(s); the recording is "
                          "not affected", file=sys.stderr)
    if status is None:
        print("nothing recorded: no strap was connected", file=sys.stderr)
        return 1
    lost = f", {status.unrecorded} NOT recorded ({status.last_error})" if status.unrecorded else ""
    print(f"recorded session {status.session_id}: {status.recorded} record(s){lost}")
    return 2 if status.unrecorded else 0
