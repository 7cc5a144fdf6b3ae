"""Trends during a long live session: how long ``GET /api/trends``'s work takes.

Finished sessions' reports come from the store's cache; the session being recorded is
replayed. The live session is 3 hours of a real 24-hour Holter RR series
(tests/data/physionet-healthy-24h/000.txt, re-encoded as notifications: derived), next to
five finished sessions (the bundled demo recording, imported). Prints the time of a request
replaying the live session in full (as before ``LiveReports``), then with it: the first
request, repeated ones, and one after a minute more of recording.

Run: PYTHONPATH=src:tests python bench/bench_trends.py [--hours H] [--repeat N]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from afterbeat.records import Header, Record
from afterbeat.resets.trends import trends
from afterbeat.sources.replay import derived_notifications
from afterbeat.storage.history import LiveReports, session_digests, stored_plan
from afterbeat.storage.importers import iter_beats
from afterbeat.storage.session_file import iter_session
from afterbeat.storage.store import Store

ROOT = Path(__file__).resolve().parents[1]
HOLTER = ROOT / "tests" / "data" / "physionet-healthy-24h" / "000.txt"
DEMO = ROOT / "src" / "afterbeat" / "data" / "demo.jsonl"


def _live_records(hours: float) -> list[Record]:
    return list(itertools.takewhile(lambda r: r.t_s <= hours * 3600.0,
                                    derived_notifications(iter_beats(HOLTER, "ms"))))


def _timed_trends(store: Store, live: LiveReports | None) -> float:
    """Seconds for what ``GET /api/trends`` runs in its worker thread."""
    start = time.perf_counter()
    outcomes = [d.outcome() for d in session_digests(store, datetime.min.replace(tzinfo=UTC),
                                                     live)]
    trends(outcomes, stored_plan(store)).to_json()
    return time.perf_counter() - start


def main() -> int:
    """Build the store, then time trends requests; one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=3.0, help="length of the live session")
    parser.add_argument("--repeat", type=int, default=5, help="repeated requests timed")
    args = parser.parse_args()
    records = _live_records(args.hours)
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "data") as store:
        header, demo = iter_session(DEMO)
        demo_records = list(demo)
        for _ in range(5):
            store.import_session(header, demo_records, "import")
        cold = _timed_trends(store, None)  # fills the finished sessions' report cache
        session = store.start_session(Header(started_at=datetime.now(UTC)), "ble")
        cut = next(i for i, r in enumerate(records) if r.t_s > records[-1].t_s - 60.0)
        store.append_many(session, records[:cut])
        full = _timed_trends(store, None)
        live = LiveReports()
        first = _timed_trends(store, live)
        again = [_timed_trends(store, live) for _ in range(args.repeat)]
        store.append_many(session, records[cut:])
        after_minute = _timed_trends(store, live)
        print(f"finished sessions, cold cache           {cold:6.3f} s  (5 x demo, once)")
        print(f"live {args.hours:g} h ({len(records)} notifications), full replay "
              f"{full:6.3f} s")
        print(f"live, kept up to date: first request    {first:6.3f} s")
        print(f"live, kept up to date: repeated (median of {args.repeat}) "
              f"{statistics.median(again):6.3f} s")
        print(f"live, kept up to date: a minute later   {after_minute:6.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
