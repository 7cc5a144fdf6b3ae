"""Child process of tests/test_kill.py: records notifications as fast as it can, acking each.

Usage: ``python tests/kill_writer.py DATA_DIR SOURCE.jsonl [sync|queued]``. It reads
notifications derived from real RR (a session file written by the test), records them into the
Store in DATA_DIR in a loop, and prints ``session ID`` once, then each record's seq on its own
line after the commit has returned. ``sync`` (default) uses a Recorder (one commit per record);
``queued`` a QueuedRecorder: records are queued in groups and its writer thread commits them,
many per transaction, and a seq is printed only once ``last_seq`` shows it committed. The test
kills it with SIGKILL at random moments.

``derived_notifications`` builds those notifications from the Polar H10 capture in
tests/data/polar-h10-pvc, keeping the real grouping of RR values per notification.
"""

from __future__ import annotations

import csv
import functools
import sys
from datetime import UTC, datetime
from pathlib import Path

from afterbeat.heart_rate import (
    HeartRateMeasurement,
    SensorContact,
    encode_measurement,
    rr_ms_to_raw,
)
from afterbeat.records import Header, Notification, Record
from afterbeat.storage.recorder import QueuedRecorder, Recorder
from afterbeat.storage.session_file import iter_session
from afterbeat.storage.store import Store

POLAR_H10_PVC = Path(__file__).resolve().parent / "data" / "polar-h10-pvc" / \
    "polar_h10_ecg130hz_hr_rr.csv"


def derived_notifications(path: Path = POLAR_H10_PVC) -> tuple[Header, list[Notification]]:
    """0x2A37 payloads rebuilt from the capture's hr/rr rows (one notification per hr row)."""
    header, notifications = _derive(path)
    return header, list(notifications)


@functools.cache
def _derive(path: Path) -> tuple[Header, tuple[Notification, ...]]:
    groups: list[tuple[float, int, list[int]]] = []
    with open(path, newline="") as handle:
        columns = next(csv.reader(handle))
        assert columns == ["time", "ecg", "hr", "rr"], columns
        for line in handle:
            if line.endswith(",,\n"):
                continue  # an ECG sample only (most rows): no notification data
            time_ns, _ecg, hr, rr = line.rstrip("\n").split(",")
            if hr:
                groups.append((float(time_ns) / 1e9, int(hr), []))
            if rr and groups:
                groups[-1][2].append(rr_ms_to_raw(float(rr)))
    first_wall_s = groups[0][0]
    notifications = tuple(
        Notification(
            t_s=round(wall_s - first_wall_s, 6),
            wall_s=round(wall_s, 6),
            payload=encode_measurement(HeartRateMeasurement(
                heart_rate_bpm=hr, sensor_contact=SensorContact.DETECTED, rr_raw=tuple(rr))),
        )
        for wall_s, hr, rr in groups
    )
    header = Header(
        started_at=datetime.fromtimestamp(first_wall_s, tz=UTC),
        device={"name": "Polar H10 (derived)", "model": "Polar H10"},
        provenance={"derived_from": "tests/data/polar-h10-pvc/polar_h10_ecg130hz_hr_rr.csv",
                    "real": "RR and HR values and their grouping; payload bytes re-encoded"},
    )
    return header, notifications


def main(argv: list[str]) -> int:
    """Record the notifications of argv[2] into the store in argv[1] forever, acking each seq."""
    header, records = iter_session(argv[2])
    source: list[Record] = list(records)
    span_s = source[-1].t_s + 1.0
    store = Store.open(argv[1])
    queued = len(argv) > 3 and argv[3] == "queued"
    recorder = (QueuedRecorder if queued else Recorder)(store, header, "kill-test")
    if not recorder.start():
        print(f"cannot start: {recorder.status.last_error}", file=sys.stderr)
        return 3
    print(f"session {recorder.session_id}", flush=True)
    if isinstance(recorder, QueuedRecorder):
        return _queued(recorder, source, span_s)
    lap = 0
    while True:
        for record in source:
            assert isinstance(record, Notification)
            shifted = Notification(t_s=record.t_s + lap * span_s,
                                   wall_s=record.wall_s + lap * span_s, payload=record.payload)
            if not recorder.record(shifted):
                print(f"write failed: {recorder.status.last_error}", file=sys.stderr)
                return 3
            print(recorder.status.last_seq, flush=True)
        lap += 1


def _queued(recorder: QueuedRecorder, source: list[Record], span_s: float) -> int:
    """Queue groups of 1-25 records, wait until written, ack each seq the commit covered."""
    acked = 0
    lap = 0
    while True:
        start, size = 0, 1
        while start < len(source):
            group = source[start: start + size]
            start, size = start + size, size % 25 + 1
            for record in group:
                assert isinstance(record, Notification)
                recorder.record(Notification(t_s=record.t_s + lap * span_s,
                                             wall_s=record.wall_s + lap * span_s,
                                             payload=record.payload))
            if not recorder.wait_idle(30.0):
                print(f"write failed: {recorder.status.last_error}", file=sys.stderr)
                return 3
            last_seq = recorder.status.last_seq or 0
            for seq in range(acked + 1, last_seq + 1):
                print(seq, flush=True)
            acked = last_seq
        lap += 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
