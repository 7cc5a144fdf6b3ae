"""Child process of tests/test_kill.py: records notifications as fast as it can, acking each.

Usage: ``python tests/kill_writer.py DATA_DIR SOURCE.jsonl``. It reads notifications derived from
real RR (a session file written by the test), records them through a Recorder into the Store in
DATA_DIR in a loop, and prints ``session ID`` once, then each record's seq on its own line after
the commit has returned. The test kills it with SIGKILL at random moments.

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
from afterbeat.storage.recorder import Recorder
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
    recorder = Recorder(store, header, "kill-test")
    if not recorder.start():
        print(f"cannot start: {recorder.status.last_error}", file=sys.stderr)
        return 3
    print(f"session {recorder.session_id}", flush=True)
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


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
