"""``afterbeat resonance``: find your own breathing pace (resonance-frequency assessment).

Guided in the terminal with a strap (or ``--replay FILE``), or ``--analyze FILE`` for an
assessment already recorded: a session file with its block markers, or a plain RR file with the
blocks given as ``--block RATE@START-END``. See docs/resonance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from afterbeat.cli.common import add_data_dir_option, data_dir_from
from afterbeat.errors import AfterbeatError
from afterbeat.records import Header, Marker, Record
from afterbeat.resets.pacing import Direction, phase_at
from afterbeat.resets.resonance import (
    DEFAULT_BLOCK_S,
    DEFAULT_BREAK_S,
    DEFAULT_INHALE_SHARE,
    DEFAULT_RATES_BPM,
    DEFAULT_SETTLE_S,
    RESONANCE_DOCUMENT_KEY,
    Assessment,
    Block,
    Protocol,
    ResonanceError,
    Stage,
    assess,
    assess_recording,
    block_end_marker,
    block_start_marker,
    keeps_previous,
    parse_block_spec,
    plan_with_result,
    read_records,
    result_document,
    schedule,
    second_pass_blocks,
    stage_at,
)
from afterbeat.sources import Source, SourceStatus
from afterbeat.sources.replay import ReplaySource
from afterbeat.storage.importers import FileKind, detect_kind, load_rr
from afterbeat.storage.session_file import iter_session
from afterbeat.storage.store import Store

__all__ = ["AssessmentRun", "format_table", "pacer_line", "register", "run", "run_assessment"]


@dataclass(slots=True)
class AssessmentRun:
    """What a guided assessment recorded: header, records with markers, blocks, the result."""

    header: Header
    records: list[Record] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    start_s: float | None = None
    end_s: float | None = None
    stopped: bool = False
    assessment: Assessment | None = None


async def run_assessment(
    source: Source,
    protocol: Protocol,
    *,
    second_pass: bool = False,
    stop: asyncio.Event | None = None,
    on_stage: Callable[[Stage, float], None] | None = None,
) -> AssessmentRun:
    """Pace ``protocol`` on the source's clock; record every item and the block markers.

    Block markers are placed at the planned times, as records arrive; ``stop`` (set from
    elsewhere) ends the assessment at the next record and keeps the blocks measured so far,
    the running one shortened to where it was stopped.
    """
    outcome = AssessmentRun(header=source.header)
    blocks: list[Block] = []
    opened: set[int] = set()
    closed: set[int] = set()
    second_added = not second_pass
    last_t = 0.0

    def emit(marker: Marker) -> None:
        outcome.records.append(marker)

    try:
        async for item in source.stream():
            if isinstance(item, SourceStatus):
                continue
            t = item.t_s
            last_t = max(last_t, t)
            if outcome.start_s is None:
                outcome.start_s = t
                blocks = list(schedule(protocol, t))
            for block in blocks:
                if block.index not in opened and t >= block.start_s:
                    opened.add(block.index)
                    emit(block_start_marker(block))
                if block.index in opened and block.index not in closed and t >= block.end_s:
                    closed.add(block.index)
                    emit(block_end_marker(block, block.end_s, completed=True))
            outcome.records.append(item)
            if on_stage is not None:
                on_stage(stage_at(blocks, outcome.start_s, t), t)
            if stop is not None and stop.is_set():
                outcome.stopped = True
                break
            if blocks and len(closed) == len(blocks):
                if not second_added:
                    second_added = True
                    first = _assess(outcome.records, protocol)
                    more = second_pass_blocks(protocol, first.blocks if first else (),
                                              t + protocol.break_s)
                    if more:
                        blocks.extend(more)
                        continue
                break
    finally:
        await source.aclose()
    for block in blocks:
        if block.index in opened and block.index not in closed:
            emit(block_end_marker(block, last_t, completed=False))
    outcome.blocks = blocks
    outcome.end_s = last_t
    outcome.assessment = _assess(outcome.records, protocol)
    return outcome


def _assess(records: list[Record], protocol: Protocol) -> Assessment | None:
    try:
        return assess_recording(read_records(records))
    except ResonanceError:
        return None


# --------------------------------------------------------------------------------------------
# Output


def _cell(value: Any, digits: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("rate_bpm", "rate/min", 1),
    ("swing_bpm", "swing bpm", 1),
    ("peak_trough_bpm", "max-min bpm", 1),
    ("lf_ms2", "LF ms2", 0),
    ("lf_peak_bpm", "LF peak/min", 2),
    ("coherence", "coherence", 2),
    ("phase_deg", "phase deg", 0),
    ("phase_locking", "locking", 2),
    ("pacer_share", "pacer share", 2),
    ("corrected_pct", "corrected %", 1),
    ("coverage_pct", "coverage %", 0),
    ("followed", "followed", 0),
    ("counts", "counts", 0),
)


def format_table(assessment: Assessment) -> str:
    """Per-block measures as an aligned table, then the decision in words and its reasons."""
    rows = [[label for _, label, _ in _COLUMNS]]
    for block in assessment.blocks:
        data = block.to_json()
        rows.append([_cell(data[key], digits) for key, _, digits in _COLUMNS])
    widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    decision = assessment.decision
    lines.append("")
    chosen = "-" if decision.rate_bpm is None else f"{decision.rate_bpm:g}/min"
    lines.append(f"Chosen pace: {chosen} ({decision.verdict.replace('_', ' ')}, confidence "
                 f"{decision.confidence:.0%})")
    lines.append(decision.words)
    for reason in decision.reasons:
        lines.append(f"  - {reason}")
    for note in assessment.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# The command


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``resonance`` sub-command."""
    parser = subparsers.add_parser(
        "resonance",
        help="find your own breathing pace (guided resonance-frequency assessment)",
        description="A guided assessment of about fifteen minutes: a short rest, then paced "
        "breathing at 6.5, 6, 5.5, 5 and 4.5 breaths a minute with breaks. The pace at which "
        "your heart follows the breath most closely becomes your breathing reset's pace. "
        "With --analyze, evaluates an assessment already recorded. A wellness tool, not a "
        "medical test; stop if you feel dizzy.",
    )
    parser.add_argument("--analyze", type=Path, default=None, metavar="FILE",
                        help="evaluate a recorded assessment: a session file with block markers "
                        "('afterbeat sessions export ID -o FILE.jsonl' gives the page's numbers "
                        "back exactly), or an RR file with --block")
    parser.add_argument("--block", action="append", default=[], metavar="RATE@START-END",
                        help="a paced block of an RR file: breaths/min @ seconds from the start "
                        "(repeatable), e.g. 6.5@60-180")
    parser.add_argument("--replay", type=Path, default=None, metavar="FILE",
                        help="run the guided assessment on a recording instead of a strap")
    parser.add_argument("--speed", type=float, default=None, metavar="X",
                        help="replay speed (default: as fast as possible)")
    parser.add_argument("--device", default=None, help="strap address or name")
    parser.add_argument("--rates", default=",".join(f"{r:g}" for r in DEFAULT_RATES_BPM),
                        help="breaths/min in order, comma-separated (default: %(default)s)")
    parser.add_argument("--block-s", type=float, default=DEFAULT_BLOCK_S,
                        help="seconds per rate (default: %(default)s)")
    parser.add_argument("--break-s", type=float, default=DEFAULT_BREAK_S,
                        help="free-breathing break between blocks (default: %(default)s)")
    parser.add_argument("--settle-s", type=float, default=DEFAULT_SETTLE_S,
                        help="settling rest before the first block (default: %(default)s)")
    parser.add_argument("--inhale-share", type=float, default=DEFAULT_INHALE_SHARE,
                        help="share of each breath spent breathing in (default: %(default)s)")
    parser.add_argument("--second-pass", action="store_true",
                        help="repeat the two best rates after the first pass")
    parser.add_argument("--unit", choices=("ms", "s"), default=None,
                        help="unit of RR values in the file when it cannot be detected")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-save", dest="save", action="store_false",
                        help="do not keep the recording and the result")
    add_data_dir_option(parser)
    parser.set_defaults(run=run)


def _protocol(args: argparse.Namespace) -> Protocol:
    try:
        rates = tuple(float(x) for x in str(args.rates).split(",") if x.strip())
    except ValueError:
        raise ResonanceError(f"--rates {args.rates!r}: give numbers separated by commas, "
                             "e.g. 6.5,6,5.5,5,4.5") from None
    return Protocol(rates_bpm=rates, block_s=args.block_s, break_s=args.break_s,
                    settle_s=args.settle_s, inhale_share=args.inhale_share)


RR_FILE_NOTE = ("an RR table has no arrival times, segments or block markers: its numbers are "
                "close to, not the same as, the session's; for the page's numbers analyse the "
                "session file ('afterbeat sessions export ID -o FILE.jsonl')")


def _analyze(args: argparse.Namespace, out: TextIO) -> int:
    path = args.analyze
    if not path.exists():
        raise ResonanceError(f"{path}: no such file")
    given = [parse_block_spec(spec, i, args.inhale_share) for i, spec in enumerate(args.block)]
    skipped = 0
    if detect_kind(path) is FileKind.SESSION and not given:
        _header, records = iter_session(path)
        beats = read_records(records)
        skipped = beats.skipped
        if not beats.blocks:
            raise ResonanceError(f"{path}: no resonance block markers; give the blocks with "
                                 "--block RATE@START-END")
        # the same path as the server's result (shown on the page): same records, same numbers
        result = assess_recording(beats)
    else:
        arrays = load_rr(path, unit=args.unit)
        t, rr, seg = arrays.t_s, arrays.rr_ms, arrays.segment
        skipped = arrays.skips.count
        if not given:
            raise ResonanceError(f"{path} holds no block markers: give the paced blocks with "
                                 "--block RATE@START-END (repeatable)")
        origin = float(t[0] - rr[0] / 1000.0) if t.size else 0.0
        blocks = [Block(b.index, b.rate_bpm, b.start_s + origin, b.end_s + origin,
                        b.inhale_share) for b in given]
        result = assess(t, rr, blocks, segment=seg)
        result = replace(result, notes=(*result.notes, RR_FILE_NOTE))
    if args.json:
        obj = result.to_json()
        obj["file"] = str(path)
        obj["skipped"] = skipped
        print(json.dumps(obj), file=out)
    else:
        print(format_table(result), file=out)
        if skipped:
            print(f"note: {skipped} unreadable line(s) or notification(s) skipped", file=out)
    return 0


def pacer_line(stage: Stage, t_s: float, *, width: int = 20) -> str:
    """One terminal line for the stage at ``t_s`` (s): the breath with a bar and seconds left."""
    left_s = 0.0 if stage.end_s is None else max(0.0, stage.end_s - t_s)
    clock = f"{int(left_s) // 60}:{int(left_s) % 60:02d} left"
    if stage.kind != "block" or stage.block is None:
        words = {"settle": "Settling in: breathe as usual", "break": "Break: breathe freely",
                 "done": "Done"}[stage.kind]
        return f"{words:<34} {clock}"
    state = phase_at(stage.block.timeline(), t_s)
    share = state.progress if state.phase.direction is Direction.INHALE else 1 - state.progress
    filled = round(share * width)
    bar = "#" * filled + "." * (width - filled)
    return (f"{state.phase.name:<12} [{bar}] {math.ceil(state.remaining_s):>2} s   "
            f"{stage.block.rate_bpm:g}/min, {clock}")


def _stage_printer(out: TextIO, quiet: bool) -> Callable[[Stage, float], None]:
    last: list[tuple[str, int | None]] = [("", None)]

    def show(stage: Stage, t_s: float) -> None:
        key = (stage.kind, None if stage.block is None else stage.block.index)
        if quiet or key == last[0]:
            return
        last[0] = key
        if stage.kind == "settle":
            print("\rSit comfortably and breathe as you normally do while the strap settles.",
                  file=out, flush=True)
        elif stage.kind == "block" and stage.block is not None:
            b = stage.block
            p = b.pattern()
            print(f"\rBlock {b.index + 1}: {b.rate_bpm:g} breaths a minute - breathe in for "
                  f"{p.phases[0].duration_s:g} s, out for {p.phases[1].duration_s:g} s "
                  f"({b.duration_s / 60:.1f} min).", file=out, flush=True)
        elif stage.kind == "break":
            print("\rBreak: breathe freely." + " " * 60, file=out, flush=True)

    return show


def _guided(args: argparse.Namespace, out: TextIO) -> int:
    protocol = _protocol(args)
    source: Source
    if args.replay is not None:
        source = ReplaySource(args.replay, speed=args.speed, unit=args.unit)
    else:  # bleak is imported only when a strap is used
        from afterbeat.sources.ble import BleSource, backend_from_env

        source = BleSource(device=args.device, backend=backend_from_env())
    if not args.json:
        print(f"Resonance assessment: about {protocol.duration_s / 60:.0f} minutes. Follow the "
              "pace; stop any time with Ctrl-C (what was measured is kept). If you feel dizzy, "
              "stop and breathe normally.", file=out, flush=True)
    stop = asyncio.Event()
    show_stage = _stage_printer(out, args.json)
    current: list[Stage] = []

    def on_stage(stage: Stage, t_s: float) -> None:
        current[:] = [stage]
        show_stage(stage, t_s)

    async def tick() -> None:
        """A live pacer line on a terminal, five times a second on the source's clock."""
        while True:
            await asyncio.sleep(0.2)
            if current:
                print("\r" + pacer_line(current[0], source.now_s()), end="", file=out,
                      flush=True)

    async def main() -> AssessmentRun:
        task = asyncio.create_task(run_assessment(
            source, protocol, second_pass=args.second_pass, stop=stop, on_stage=on_stage))
        ticker = (asyncio.create_task(tick()) if out.isatty() and not args.json
                  and (args.replay is None or args.speed is not None) else None)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            stop.set()
            return await task
        finally:
            if ticker is not None:
                ticker.cancel()
                print(file=out)

    try:
        outcome = asyncio.run(main())
    except KeyboardInterrupt:  # pragma: no cover - interactive
        return 130
    session_id: int | None = None
    document: dict[str, Any] | None = None
    if args.save and outcome.records:
        store = Store.open(data_dir_from(args))
        try:
            session_id = store.import_session(outcome.header, outcome.records, "resonance",
                                              end_t_s=outcome.end_s)
            if outcome.assessment is not None:
                document = result_document(
                    outcome.assessment, assessed_at=datetime.now(UTC).isoformat(),
                    session_id=session_id, protocol=protocol)
                store.put_result(session_id, RESONANCE_DOCUMENT_KEY, document)
                if not keeps_previous(store.get_document(RESONANCE_DOCUMENT_KEY), document):
                    store.put_document(RESONANCE_DOCUMENT_KEY, document)
                    _apply_pace(store, document)
                    plan = plan_with_result(store.get_document("plan"), document)
                    if plan is not None:
                        store.put_document("plan", plan)
        finally:
            store.close()
    if outcome.assessment is None:
        print("No paced block was measured: nothing to decide.", file=out)
        return 1
    if args.json:
        obj = outcome.assessment.to_json()
        obj.update(session_id=session_id, stopped=outcome.stopped)
        print(json.dumps(obj), file=out)
    else:
        print(format_table(outcome.assessment), file=out)
        if session_id is not None:
            print(f"Kept as session {session_id}.", file=out)
    return 0


def _apply_pace(store: Any, document: dict[str, Any]) -> None:
    """A clear or likely result becomes the default pace of the breathing reset."""
    rate = document.get("rate_bpm")
    if not isinstance(rate, int | float) or not 4.5 <= rate <= 7.0:
        return
    settings = store.get_document("settings")
    settings = dict(settings) if isinstance(settings, dict) else {}
    settings["breaths_per_min"] = float(rate)
    store.put_document("settings", settings)


def run(args: argparse.Namespace) -> int:
    """Analyse a recording, or guide an assessment; exit status 0 when a result was made."""
    out = sys.stdout
    try:
        if args.analyze is not None:
            return _analyze(args, out)
        return _guided(args, out)
    except AfterbeatError:
        raise
    except ValueError as exc:
        raise ResonanceError(str(exc)) from exc
