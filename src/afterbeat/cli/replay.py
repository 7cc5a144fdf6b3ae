"""``afterbeat replay FILE``: run a recording through exactly the live pipeline."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from afterbeat.activation.baseline import Baseline, RestRecording
from afterbeat.activation.settings import DEFAULT_SETTINGS, Settings
from afterbeat.cli.common import CommandError, number_in, printable
from afterbeat.cli.lsl_options import add_lsl_options, open_lsl
from afterbeat.events import (
    BaselineEvent,
    Event,
    RecoveryEvent,
    StateEvent,
    SuggestionEvent,
)
from afterbeat.pipeline import Pipeline, rest_recording_from
from afterbeat.records import MAX_T_S, Header, Record
from afterbeat.sources import SourceStatus
from afterbeat.sources.replay import (
    MAX_SPEED,
    MIN_SPEED,
    ReplaySource,
    open_recording,
    parse_mark,
)

__all__ = ["DEFAULT_MAX_HOURS", "baseline_from_files", "register", "replay", "run"]

DEFAULT_MAX_HOURS = 24.0
"""Replay covers the first day of a recording unless told otherwise: the live pipeline
takes about a minute per day of beats, so a months-long RR file would run for hours."""


def baseline_from_files(
    paths: list[Path], settings: Settings = DEFAULT_SETTINGS, unit: str | None = None
) -> Baseline | None:
    """A baseline from whole resting recordings (each file is one rest), or None if none."""
    recordings: list[RestRecording] = []
    for path in paths:
        _, records = open_recording(path, unit)
        recordings.append(rest_recording_from(records, path.name, settings))
    return Baseline.from_recordings(recordings, settings) if recordings else None


async def replay(
    source: ReplaySource, pipeline: Pipeline, emit: Callable[[Event], None],
    on_record: Callable[[Record], None] | None = None,
) -> Header:
    """Feed every record of the source through the pipeline, then finish it."""
    async for item in source.stream():
        if isinstance(item, SourceStatus):
            continue
        if on_record is not None:
            on_record(item)
        for event in pipeline.push(item):
            emit(event)
    for event in pipeline.finish():
        emit(event)
    return source.header


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``replay`` sub-command."""
    parser = subparsers.add_parser(
        "replay",
        help="replay a recording (session file or RR file) through the live pipeline",
        description="Replay a session file or any RR file through exactly the live pipeline: "
        "metrics every 5 s, activation relative to your own baseline, the after-session watch, "
        "suggestions and recovery. Replays at any speed give identical events.",
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="session file (.jsonl) or RR file")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=number_in(MIN_SPEED, MAX_SPEED, "the speed"),
                      default=None, metavar="X",
                      help="replay X times faster than real time")
    pace.add_argument("--fast", action="store_true",
                      help="as fast as possible (the default when --speed is not given)")
    parser.add_argument("--max-hours", type=number_in(0.01, MAX_T_S / 3600, "--max-hours"),
                        default=DEFAULT_MAX_HOURS, metavar="H",
                        help="replay at most the first H hours of session time (default "
                        f"{DEFAULT_MAX_HOURS:g}; the live pipeline takes minutes per day of "
                        "beats: use 'analyze' for long recordings)")
    parser.add_argument("--baseline", type=Path, action="append", default=[], metavar="FILE",
                        help="a resting recording to build the baseline from (repeatable)")
    parser.add_argument("--mark", action="append", default=[], metavar="KIND@SECONDS",
                        help="add a marker, e.g. session_end@600 or reset_start@700:walk "
                        "(repeatable)")
    parser.add_argument("--unit", choices=("ms", "s"), default=None,
                        help="unit of RR values in plain RR files when it cannot be detected")
    parser.add_argument("--events", action="store_true",
                        help="print one JSON object per event and line")
    add_lsl_options(parser)
    parser.set_defaults(run=run)


def _clock(t_s: float) -> str:
    minutes, seconds = divmod(int(round(t_s)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:2d}:{seconds:02d}"


class _Summary:
    """Collects events into a readable story."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.metrics = 0
        self.scored = 0
        self.suggestions = 0
        self.recovery: dict[str, Any] | None = None

    def __call__(self, event: Event) -> None:
        obj = event.to_json()
        kind = obj["type"]
        if kind == "metrics":
            self.metrics += 1
            self.scored += obj["arousal"] is not None
        elif isinstance(event, StateEvent):
            self.lines.append(f"{_clock(event.t_s)}  {event.state:<11} {event.reason}")
        elif isinstance(event, SuggestionEvent):
            self.suggestions += 1
            how = "gentle suggestion" if event.gentle else "suggestion"
            self.lines.append(f"{_clock(event.t_s)}  {how}: {event.reset}. {event.reason}")
        elif isinstance(event, BaselineEvent):
            self.lines.append(f"{_clock(event.t_s)}  baseline    {event.reason}")
        elif isinstance(event, RecoveryEvent):
            self.recovery = obj
        elif kind == "marker":
            text = f" ({obj['text']})" if obj.get("text") else ""
            self.lines.append(f"{_clock(obj['t_s'])}  marker      {obj['kind']}{text}")

    def write(self, out: TextIO, pipeline: Pipeline) -> None:
        for line in self.lines:  # marker text and reset names come from the file: neutralised
            print(printable(line), file=out)
        stats = pipeline.stats
        print(f"\n{stats.notifications} notifications ({stats.malformed} malformed, skipped), "
              f"{stats.beats} beats ({stats.corrected_beats} corrected), {self.metrics} "
              f"metrics updates ({self.scored} scored), {self.suggestions} suggestion(s).",
              file=out)
        if pipeline.baseline is not None:
            print(f"Baseline: {pipeline.baseline.describe()}", file=out)
        if self.recovery is not None:
            r = self.recovery

            def show(key: str, unit: str, scale: float = 1.0, digits: int = 1) -> str:
                value = r.get(key)
                return "-" if value is None else f"{value * scale:.{digits}f}{unit}"

            print("Recovery after the session end: "
                  # whole minutes: the index smooths over a minute or two
                  f"settled after {show('time_to_settle_s', ' min', 1 / 60, 0)}, "
                  f"heart-rate half-recovery {show('heart_rate_half_recovery_s', ' min', 1 / 60)}"
                  f" (plateau {show('heart_rate_residual_bpm', ' bpm')} vs baseline), "
                  "ln RMSSD recovered at 10 min "
                  f"{show('ln_rmssd_recovered_share_10min', ' %', 100, 0)}.", file=out)
            for note in r.get("notes", []):
                print(f"  note: {note}", file=out)


def _report_import(source: ReplaySource) -> None:
    """Say on stderr how the file was read when a unit was detected or lines were skipped."""
    info = source.import_info
    if info.unit_detected or info.skips.count:
        print(f"replay: {printable(info.describe())}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Replay and print the events or a summary; exit 0."""
    settings = DEFAULT_SETTINGS
    marks = [parse_mark(m) for m in args.mark]
    baseline = baseline_from_files(list(args.baseline), settings, args.unit)
    speed = None if args.fast or args.speed is None else float(args.speed)
    source = ReplaySource(args.file, speed=speed, marks=marks, unit=args.unit,
                          max_t_s=args.max_hours * 3600.0)
    pipeline = Pipeline(settings, baseline)
    out = sys.stdout
    publisher = open_lsl(args, f"afterbeat-replay-{args.file.stem}")
    on_record = None if publisher is None else publisher.on_record
    if args.events:
        def emit(event: Event) -> None:
            if publisher is not None:
                publisher.on_events((event,))
            print(json.dumps(event.to_json(), separators=(",", ":")), file=out)

        asyncio.run(replay(source, pipeline, emit, on_record))
        _nothing_replayed(source, pipeline)
        _report_import(source)
        return 0
    summary = _Summary()

    def collect(event: Event) -> None:
        if publisher is not None:
            publisher.on_events((event,))
        summary(event)

    header = asyncio.run(replay(source, pipeline, collect, on_record))
    _nothing_replayed(source, pipeline)
    _report_import(source)
    device = header.device.get("name") or "unknown device"
    print(printable(f"Replay of {args.file.name} ({device}, started "
                    f"{header.started_at:%Y-%m-%d %H:%M} UTC)"), file=out)
    summary.write(out, pipeline)
    return 0


def _nothing_replayed(source: ReplaySource, pipeline: Pipeline) -> None:
    """Raise CommandError (exit status 2) when the recording held no notifications."""
    if pipeline.stats.notifications == 0:
        raise CommandError(f"{printable(source.path)}: no heart-rate data to replay "
                           f"({source.import_info.skips.summary()})")
