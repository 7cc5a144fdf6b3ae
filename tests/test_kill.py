"""Kill test: a recording process SIGKILLed at random moments never loses an acknowledged record.

The child (tests/kill_writer.py) records notifications derived from a real Polar H10 capture
as fast as it can and prints each seq after its commit returned: through a Recorder (one
commit per record) or through a QueuedRecorder (its writer thread commits batches; a seq is
acknowledged only once ``last_seq`` covers it). We kill it 20 times at
random moments (fixed seed); after each kill every acknowledged seq must be in the database,
the sequence must have no holes, SQLite's integrity check must pass, and the next open must
find the session, mark it interrupted and replay it.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from afterbeat.records import Notification
from afterbeat.storage.session_file import write_session
from afterbeat.storage.store import DB_FILENAME, SessionStatus, Store
from kill_writer import derived_notifications

WRITER = Path(__file__).resolve().parent / "kill_writer.py"
SRC_DIR = Path(__file__).resolve().parents[1] / "src"
KILLS = 20
SEED = 20261126


@pytest.mark.parametrize("mode", ["sync", "queued"])
def test_sigkill_loses_no_acknowledged_record(tmp_path: Path, mode: str) -> None:
    header, notifications = derived_notifications()
    source = tmp_path / "derived.jsonl"
    write_session(source, header, notifications)
    data_dir = tmp_path / "data"
    rng = random.Random(SEED)
    started: list[int] = []
    total_acked = 0
    for run in range(KILLS):
        session_id, acked = _run_and_kill(data_dir, source, rng, mode)
        with Store.open(data_dir) as store:
            assert store.integrity_check() == "ok", f"run {run}"
            if session_id is None:  # killed while starting: a session may exist, unannounced
                assert len(store.recovered) <= 1, f"run {run}"
                started += store.recovered
                continue
            assert store.recovered == (session_id,), f"run {run}"
            started.append(session_id)
            summary = store.get_session(session_id)
            assert summary.status is SessionStatus.INTERRUPTED
            replay_header, records = store.iter_records(session_id)
            replayed = list(records)
        with sqlite3.connect(data_dir / DB_FILENAME) as conn:
            seqs = [row[0] for row in conn.execute(
                "SELECT seq FROM records WHERE session_id = ? ORDER BY seq", (session_id,))]
        conn.close()
        # Every acknowledged seq is there, with no holes, and replays as recorded.
        assert acked == list(range(1, len(acked) + 1))
        assert seqs == list(range(1, len(seqs) + 1))
        assert len(seqs) >= len(acked) and len(replayed) == len(seqs)
        assert replay_header == header
        assert summary.notification_count == len(replayed)
        first_lap = replayed[: len(notifications)]
        assert first_lap == notifications[: len(first_lap)]
        assert all(isinstance(r, Notification) for r in replayed)
        total_acked += len(acked)
    with Store.open(data_dir) as store:
        sessions = store.list_sessions()
        assert store.recovered == ()
    assert [s.id for s in sessions] == sorted(started)
    assert {s.status for s in sessions} == {SessionStatus.INTERRUPTED}
    assert total_acked >= KILLS
    assert list((data_dir / "recording-locks").iterdir()) == []


def _run_and_kill(data_dir: Path, source: Path, rng: random.Random, mode: str
                  ) -> tuple[int | None, list[int]]:
    """Run the writer, kill it; return its session id (if it said) and every seq it acked."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(SRC_DIR), os.environ.get("PYTHONPATH", "")]))
    early = rng.random() < 0.25  # sometimes while it opens the store and starts the session
    delay_s = rng.uniform(0.0, 0.2) if early else rng.uniform(0.0, 0.01)
    acks = rng.randint(1, 40)
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(data_dir), str(source), mode],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    assert proc.stdout is not None
    lines: list[bytes] = []
    try:
        if not early:
            lines.extend(proc.stdout.readline() for _ in range(1 + acks))
        time.sleep(delay_s)  # the child goes on writing: the kill lands anywhere
    finally:
        proc.send_signal(signal.SIGKILL)
        # Read through the same buffered reader: communicate() would skip what readline()
        # has already buffered (several acks can arrive in one read).
        tail = proc.stdout.read()
        assert proc.stderr is not None
        err = proc.stderr.read()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, err.decode()
    text = b"".join(lines) + tail
    complete = text.decode().split("\n")[:-1]  # a line cut by the kill is not an ack
    if not complete:
        return None, []
    assert complete[0].startswith("session "), err.decode()
    return int(complete[0].split()[1]), [int(line) for line in complete[1:]]
