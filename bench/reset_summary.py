"""Closed-loop replay of real RR recordings: suggestions are followed, effects measured, summarised.

Plain script (not part of the test run). For each RR file it builds derived notifications from
the real RR (as ``afterbeat replay`` does), marks the first ``--baseline-min`` minutes as a
resting baseline, and places an illustrative session every ``--every-h`` hours (session_start,
then session_end ``--session-min`` minutes later). The pipeline runs exactly as live; whenever
it suggests a reset, the "person" follows it at once for the reset's full length (and takes a
switch or gentler suggestion when one comes). The resets and sessions are illustrative; the
heart data is real. Prints the per-reset effects, the learned summary and the trend hint.

    PYTHONPATH=src python bench/reset_summary.py tests/data/physionet-healthy-24h/000.txt ...
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from typing import Any

from afterbeat.pipeline import Pipeline
from afterbeat.records import Marker, MarkerKind, Record
from afterbeat.resets.effects import ResetEffect
from afterbeat.resets.library import get_reset
from afterbeat.resets.trends import SessionOutcome, trends
from afterbeat.sources.replay import derived_notifications, with_marks
from afterbeat.storage.importers import iter_beats


def _markers(last_t_s: float, baseline_min: float, every_h: float,
             session_min: float) -> list[Marker]:
    marks = [Marker(30.0, MarkerKind.BASELINE_START),
             Marker(30.0 + baseline_min * 60.0, MarkerKind.BASELINE_END)]
    t = 30.0 + baseline_min * 60.0 + 600.0
    while t + session_min * 60.0 + 3600.0 < last_t_s:
        marks += [Marker(t, MarkerKind.SESSION_START),
                  Marker(t + session_min * 60.0, MarkerKind.SESSION_END)]
        t += every_h * 3600.0
    return marks


def replay_file(path: str, args: argparse.Namespace) -> list[SessionOutcome]:
    """Run one RR file in closed loop; one SessionOutcome per illustrative session."""
    records: list[Record] = list(derived_notifications(iter_beats(path)))
    marks = _markers(records[-1].t_s, args.baseline_min, args.every_h, args.session_min)
    pipeline = Pipeline()
    effects: dict[int, dict[str, Any]] = {}
    settle: dict[int, float | None] = {}
    session = 0
    reset_end_s: float | None = None
    count = 0

    def handle(events: list[Any]) -> Iterator[Marker]:
        nonlocal session, reset_end_s, count
        for event in events:
            data = event.to_json()
            if data["type"] == "marker" and data["kind"] == "session_end":
                session += 1
            elif data["type"] == "reset_effect":
                effects[count * 1000 + int(data["number"])] = {**data, "session": session}
            elif data["type"] == "recovery":
                settle[session] = data.get("time_to_settle_s")
            elif data["type"] == "suggestion" and session > 0:
                t_s = float(data["t_s"])
                if reset_end_s is not None and t_s < reset_end_s:
                    yield Marker(t_s, MarkerKind.RESET_END)
                yield Marker(t_s, MarkerKind.RESET_START, text=data["reset"])
                reset_end_s = t_s + get_reset(data["reset"]).duration_s

    for record in with_marks(records, marks):
        if reset_end_s is not None and record.t_s >= reset_end_s:
            end = Marker(reset_end_s, MarkerKind.RESET_END)
            reset_end_s = None
            for extra in handle(pipeline.push(end)):
                list(handle(pipeline.push(extra)))
        pending = list(handle(pipeline.push(record)))
        while pending:
            pending = [m for extra in pending for m in handle(pipeline.push(extra))]
    for _ in handle(pipeline.finish()):
        pass
    by_session: dict[int, list[ResetEffect]] = {}
    for data in effects.values():
        if data["final"]:
            by_session.setdefault(data["session"], []).append(ResetEffect.from_json(data))
    return [SessionOutcome(f"{path}#{n}", f"session {n}", settle.get(n),
                           tuple(by_session.get(n, ()))) for n in range(1, session + 1)]


def main() -> int:
    """Replay the files given and print what the resets did."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--baseline-min", type=float, default=10.0)
    parser.add_argument("--every-h", type=float, default=2.0)
    parser.add_argument("--session-min", type=float, default=50.0)
    args = parser.parse_args()
    outcomes: list[SessionOutcome] = []
    for path in args.files:
        started = time.perf_counter()
        got = replay_file(path, args)
        outcomes += got
        n_effects = sum(len(s.effects) for s in got)
        print(f"{path}: {len(got)} sessions, {n_effects} resets measured, "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
        for s in got:
            for e in s.effects:
                print(f"  {s.session_id} {e.reset_id:16s} start {e.start_t_s:8.0f} s  "
                      f"settle {e.settle_s!s:>6}  index {e.before.index!s:.5} -> "
                      f"{(e.after.index if e.after else None)!s:.5}")
    result = trends(outcomes)
    print("\nLearned summary:")
    for line in result.summary:
        print("  " + line)
    print("Hint:", None if result.hint is None else result.hint.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
