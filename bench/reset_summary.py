"""Closed-loop replay of real RR recordings: suggestions are followed, effects measured, summarised.

Plain script (not part of the test run). For each RR file it builds derived notifications from
the real RR (as ``afterbeat replay`` does), marks the first ``--baseline-min`` minutes as a
resting baseline, and places an illustrative session every ``--every-h`` hours (session_start,
then session_end ``--session-min`` minutes later). The pipeline runs exactly as live; whenever
it suggests a reset, the "person" follows it at once for the reset's full length (and takes a
switch or gentler suggestion when one comes). The resets and sessions are illustrative; the
heart data is real. Prints the per-reset effects, the learned summary and the trend hint.

    PYTHONPATH=research python bench/reset_summary.py tests/data/physionet-healthy-24h/000.txt ...
"""

from __future__ import annotations

import argparse
import sys
import time

from afterbeat.records import Record
from afterbeat.resets.effects import ResetEffect
from afterbeat.resets.trends import SessionOutcome, trends
from afterbeat.sources.replay import derived_notifications
from afterbeat.storage.importers import iter_beats
from closed_loop import closed_loop, session_marks


def replay_file(path: str, args: argparse.Namespace) -> list[SessionOutcome]:
    """Run one RR file in closed loop; one SessionOutcome per illustrative session."""
    records: list[Record] = list(derived_notifications(iter_beats(path)))
    marks = session_marks(30.0, records[-1].t_s, baseline_min=args.baseline_min,
                          every_h=args.every_h, session_min=args.session_min)
    run = closed_loop(records, marks)
    session = 0
    settle: dict[int, float | None] = {}
    by_session: dict[int, list[ResetEffect]] = {}
    for data in run.events:
        if data["type"] == "marker" and data["kind"] == "session_end":
            session += 1
        elif data["type"] == "recovery":
            settle[session] = data.get("time_to_settle_s")
        elif data["type"] == "reset_effect" and data["final"]:
            by_session.setdefault(session, []).append(ResetEffect.from_json(data))
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
