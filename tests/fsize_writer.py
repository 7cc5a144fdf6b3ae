"""Child process of tests/test_store.py: recording while the OS refuses to let files grow.

Usage: ``python tests/fsize_writer.py DATA_DIR``. Sets RLIMIT_FSIZE so that SQLite's writes
fail with a real EFBIG from the kernel (as on a full disk), records until the Recorder reports
the failure, lifts the limit, records once more and prints what happened as one JSON object.
"""

from __future__ import annotations

import json
import resource
import signal
import sys
from datetime import UTC, datetime

from afterbeat.records import Header, Marker, MarkerKind
from afterbeat.storage.recorder import Recorder
from afterbeat.storage.store import Store

LIMIT_BYTES = 256 * 1024


def main(data_dir: str) -> int:
    """Record until the size limit bites, then lift it; print the statuses as JSON."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails with EFBIG instead
    store = Store.open(data_dir)
    recorder = Recorder(store, Header(started_at=datetime(2026, 11, 26, tzinfo=UTC)), "fsize")
    if not recorder.start():
        return 3
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT_BYTES, hard))
    written = 0
    while written < 10_000 and recorder.record(
        Marker(t_s=float(written), kind=MarkerKind.NOTE, text="x" * 400)
    ):
        written += 1
    failed = recorder.status
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    resumed = recorder.record(Marker(t_s=float(written + 1), kind=MarkerKind.NOTE, text="after"))
    final = recorder.close()
    print(json.dumps({
        "written_before_failure": written, "failing": failed.failing,
        "error": failed.last_error, "unrecorded": failed.unrecorded, "resumed": resumed,
        "final_recorded": final.recorded, "final_unrecorded": final.unrecorded,
        "session_id": final.session_id, "integrity": store.integrity_check(),
    }))
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
