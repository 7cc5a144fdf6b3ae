"""Recording database speed: commit latency per record, bulk import, replay and erasure.

Notifications are the real Polar H10 capture of tests/data/polar-h10-pvc (600 notifications),
re-encoded and repeated. Prints the store's settings (``Store.durability``), the append latency
(one durable transaction per record, WAL + synchronous=FULL) next to SQLite's
synchronous=NORMAL for comparison (the same schema and file, one plain INSERT per transaction
on a connection of the benchmark's own: the store offers no way to lower its durability), then
import, replay and delete times for a 24-hour-sized session.

Run: PYTHONPATH=src:tests python bench/bench_store.py [--appends N] [--hours H]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from afterbeat.records import Header, Notification, Record
from afterbeat.storage.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from kill_writer import derived_notifications


def _repeated(notifications: list[Notification], count: int) -> Iterator[Record]:
    span_s = notifications[-1].t_s + 1.0
    for i in range(count):
        n = notifications[i % len(notifications)]
        lap = i // len(notifications)
        yield Notification(t_s=n.t_s + lap * span_s, wall_s=n.wall_s + lap * span_s,
                           payload=n.payload)


def _append_latencies_ms(store: Store, header: Header, records: list[Record]) -> list[float]:
    session_id = store.start_session(header, "bench")
    latencies_ms = []
    for record in records:
        start = time.perf_counter()
        store.append(session_id, record)
        latencies_ms.append((time.perf_counter() - start) * 1e3)
    store.end_session(session_id)
    return latencies_ms


def _reference_latencies_ms(store: Store, header: Header, records: list[Record]
                            ) -> list[float]:
    """Each record's row in its own transaction on a plain connection at synchronous=NORMAL
    (what the store's FULL costs); the rows are erased with their session afterwards."""
    session_id = store.start_session(header, "bench-reference")
    conn = sqlite3.connect(store.path, isolation_level=None)
    latencies_ms = []
    try:
        conn.execute("PRAGMA synchronous=NORMAL")
        for seq, record in enumerate(records, start=1):
            assert isinstance(record, Notification)
            start = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO records (session_id, seq, t_s, type, wall_s, payload) "
                         "VALUES (?, ?, ?, 'notification', ?, ?)",
                         (session_id, seq, record.t_s, record.wall_s, record.payload))
            conn.execute("COMMIT")
            latencies_ms.append((time.perf_counter() - start) * 1e3)
    finally:
        conn.close()
    store.end_session(session_id)
    store.delete(session_id)
    return latencies_ms


def _describe(name: str, latencies_ms: list[float]) -> None:
    ordered = sorted(latencies_ms)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    print(f"{name:<34} median {statistics.median(ordered):6.3f} ms   p99 {p99:6.3f} ms   "
          f"max {ordered[-1]:7.3f} ms   ({len(ordered)} commits)")


def main() -> int:
    """Run the measurements and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=2000, help="records appended one by one")
    parser.add_argument("--hours", type=float, default=24.0, help="length of the bulk session")
    args = parser.parse_args()
    header, notifications = derived_notifications()
    records = list(_repeated(notifications, args.appends))

    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "full") as store:
        settings = store.durability()
        print("store  " + "  ".join(f"{k}={v}" for k, v in settings.items()))
        _describe("append, synchronous=FULL", _append_latencies_ms(store, header, records))
        _describe("append, synchronous=NORMAL (ref.)",
                  _reference_latencies_ms(store, header, records))

        bulk_count = int(args.hours * 3600)  # about one notification per second
        start = time.perf_counter()
        session_id = store.import_session(header, _repeated(notifications, bulk_count), "bench")
        import_s = time.perf_counter() - start
        start = time.perf_counter()
        replayed = sum(1 for _ in store.iter_records(session_id)[1])
        replay_s = time.perf_counter() - start
        size_mb = store.path.stat().st_size / 1e6
        start = time.perf_counter()
        emptied = store.delete(session_id)
        delete_s = time.perf_counter() - start
        print(f"import {bulk_count} notifications ({args.hours:g} h)   {import_s:6.2f} s "
              f"({bulk_count / import_s:,.0f}/s), database {size_mb:.1f} MB")
        print(f"replay {replayed} records                 {replay_s:6.2f} s "
              f"({replayed / replay_s:,.0f}/s)")
        print(f"secure delete + WAL truncate             {delete_s:6.2f} s "
              f"(WAL emptied: {emptied})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
