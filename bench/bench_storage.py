"""Storage off the loop: live latency to 16 clients while every commit is slowed, and catch-up.

    PYTHONPATH=src python bench/bench_storage.py [DELAY_MS ...]     (default: 0 50)

For each delay, ``afterbeat demo`` runs in a subprocess on the first 10 minutes of the bundled
demo recording at ``--speed 20`` (30 s, about 20 notifications a second), with its store
slowed: every commit sleeps DELAY_MS inside its transaction (holding SQLite's write lock,
like a slow disk's fsync). The data directory is on /dev/shm when available, so DELAY 0
is the server itself. 16 SSE clients read the live stream, and the benchmark reports:

* latency pipeline -> client (``time.time() - emitted_at``), p50 / p99 / max (ms);
* lateness against the replay's schedule: for every ``metrics`` event, arrival minus
  (start + t_s / speed), with the start taken from the least late event; p50 / p99 / max.
  A loop that stalls on the store shows here even when ``emitted_at`` is stamped late;
* ``/api/status`` response time (polled every 0.2 s) and the most records waiting in the
  recorder's queue that it reports;
* catch-up: from the source's end (``finished`` status event) to the session being
  ``complete`` in the database, and whether every record of the file is in it (no gap).

``AFTERBEAT_SRC=/path/to/src`` runs another checkout's code in the server (for a before/after
comparison; a store without ``_transaction`` has its ``_write`` slowed instead, which is
where it commits each record).

Prints plain numbers; nothing here runs in the test suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SRC = Path(os.environ.get("AFTERBEAT_SRC", str(ROOT / "src")))
sys.path.insert(0, str(SRC))

from afterbeat.storage.session_file import iter_session, write_session  # noqa: E402
from bench_server import sse_events  # noqa: E402

DEMO = ROOT / "src" / "afterbeat" / "data" / "demo.jsonl"
SPEED = 20.0
CLIENTS = 16
LIMIT_S = 600.0


def _child(delay_ms: float, argv: list[str]) -> int:
    """Run ``afterbeat`` with every store commit slowed by ``delay_ms`` (bench only)."""
    from collections.abc import Iterator as It

    from afterbeat import cli
    from afterbeat.storage import store as store_module

    base = store_module.Store

    class SlowStore(base):  # type: ignore[misc, valid-type]
        @contextlib.contextmanager
        def _transaction(self, what: str) -> It[sqlite3.Connection]:
            with super()._transaction(what) as conn:
                yield conn
                time.sleep(delay_ms / 1000.0)  # before COMMIT, holding the write lock

    class OldSlowStore(base):  # type: ignore[misc, valid-type]
        def _write(self, what: str, sql: str, params: tuple[Any, ...]) -> list[Any]:
            time.sleep(delay_ms / 1000.0)
            result: list[Any] = super()._write(what, sql, params)
            return result

    store_module.Store = (  # type: ignore[misc]
        SlowStore if hasattr(base, "_transaction") else OldSlowStore)
    return cli.main(argv)


@contextlib.contextmanager
def slowed_demo(delay_ms: float, recording: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The demo server in a subprocess; yield (database path, server.json contents)."""
    shm = Path("/dev/shm")
    base = Path(tempfile.mkdtemp(prefix="afterbeat-bench-", dir=shm if shm.is_dir() else None))
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen(
        [sys.executable, __file__, "child", str(delay_ms), "demo", "--no-open", "--port", "0",
         "--data-dir", str(base), "--recording", str(recording), "--speed", str(SPEED)],
        env=env, stdout=subprocess.DEVNULL)
    info_path = base / "demo" / "server.json"
    try:
        for _ in range(600):
            if info_path.exists():
                with contextlib.suppress(ValueError):
                    info = json.loads(info_path.read_text())
                    break
            time.sleep(0.05)
        else:
            raise RuntimeError("the demo server did not start")
        yield base / "demo" / "sessions.sqlite3", info
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(base, ignore_errors=True)


def _status(port: int, token: str) -> dict[str, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/status",
                                     headers={"X-Afterbeat-Token": token})
    with urllib.request.urlopen(request, timeout=30) as response:  # loopback only
        result: dict[str, Any] = json.load(response)
    return result


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def run(delay_ms: float, recording: Path, expected_records: int) -> None:
    """One run at ``delay_ms`` per commit; print its numbers."""
    with slowed_demo(delay_ms, recording) as (db_path, info):
        port, token = int(info["port"]), str(info["token"])
        latencies: list[float] = []
        arrivals: list[tuple[float, float]] = []  # (arrival wall s, metrics t_s)
        finished_at: list[float] = []
        waiting: list[int] = [0]
        status_s: list[float] = []

        async def client(index: int) -> None:
            async for event, data in sse_events(port, token):
                now = time.time()
                if event not in ("hello", "heartbeat") and "emitted_at" in data:
                    latencies.append(now - float(data["emitted_at"]))
                if event == "metrics" and index == 0:
                    arrivals.append((now, float(data["t_s"])))
                if event == "status" and data.get("state") == "finished":
                    finished_at.append(now)
                    return

        async def poll() -> None:
            while not finished_at:
                asked = time.time()
                try:
                    status = await asyncio.to_thread(_status, port, token)
                except TimeoutError:
                    status_s.append(time.time() - asked)
                    continue
                status_s.append(time.time() - asked)
                waiting[0] = max(waiting[0], int(status["recording"].get("unrecorded") or 0))
                await asyncio.sleep(0.2)

        async def main() -> None:
            await asyncio.gather(*(client(i) for i in range(CLIENTS)), poll())

        asyncio.run(main())
        end = finished_at[0]
        complete_at = None
        stored = gaps = 0
        while time.time() - end < 120:
            with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
                row = db.execute("SELECT id, status FROM sessions ORDER BY id DESC").fetchone()
                if row is not None and row[1] == "complete":
                    complete_at = time.time()
                    stored = db.execute("SELECT count(*) FROM records WHERE session_id = ?",
                                        (row[0],)).fetchone()[0]
                    gaps = db.execute("SELECT count(*) FROM records WHERE session_id = ? AND "
                                      "data LIKE '%recording_failed%'", (row[0],)).fetchone()[0]
                    break
            time.sleep(0.01)
    origin = min(wall - t_s / SPEED for wall, t_s in arrivals)
    late = [(wall - t_s / SPEED - origin) * 1000 for wall, t_s in arrivals]
    lat = [v * 1000 for v in latencies]
    catch = "never (120 s)" if complete_at is None else f"{(complete_at - end) * 1000:.0f} ms"
    print(f"commit +{delay_ms:g} ms: {CLIENTS} clients, {len(lat)} deliveries; latency "
          f"p50 {_pct(lat, 0.5):.2f} ms, p99 {_pct(lat, 0.99):.2f} ms, max {max(lat):.2f} ms; "
          f"lateness vs schedule p50 {_pct(late, 0.5):.1f} ms, p99 {_pct(late, 0.99):.1f} ms, "
          f"max {max(late):.1f} ms; /api/status p50 {_pct(status_s, 0.5) * 1000:.0f} ms, max "
          f"{max(status_s) * 1000:.0f} ms; most records waiting {waiting[0]}; catch-up after the "
          f"source ended {catch}; stored {stored} of {expected_records} records, "
          f"{gaps} gap marks")


def main(argv: list[str]) -> int:
    if argv[:1] == ["child"]:
        return _child(float(argv[1]), argv[2:])
    delays = [float(a) for a in argv] or [0.0, 50.0]
    header, records = iter_session(DEMO)
    cut = [r for r in records if r.t_s <= LIMIT_S]
    with tempfile.TemporaryDirectory() as folder:
        recording = Path(folder) / "demo-10min.jsonl"
        write_session(recording, header, cut)
        for delay_ms in delays:
            run(delay_ms, recording, len(cut))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
