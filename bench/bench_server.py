"""Server benchmarks on loopback: event latency with 16 clients, demo throughput, 24-h memory.

    PYTHONPATH=src python bench/bench_server.py [latency|throughput|memory|all]

* latency: ``afterbeat demo`` (a subprocess) at ``--speed 20`` (about 4 metrics events a
  second, plus state and marker events) with 16 SSE clients; for every event a client
  receives, ``time.time() - emitted_at`` (the hub stamps ``emitted_at`` when the pipeline's
  event is published) gives the latency from the pipeline to the client. p50 and p99.
* throughput: ``afterbeat demo --speed 100``: events per second that one client receives
  over the whole 45-minute demo story (~27 s), and records per second recorded.
* memory: ``afterbeat demo --recording tests/data/physionet-healthy-24h/000.txt --fast``
  (a 24-hour Holter RR file replayed as derived notifications, as fast as the
  server goes): the server's RSS sampled every second until the replay finishes. The data
  directory is on /dev/shm when available: the store fsyncs every record, which on this
  disk (~6 ms per commit) would measure the disk, not the server.

Prints plain numbers; nothing here runs in the test suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
HOLTER_24H = ROOT / "tests" / "data" / "physionet-healthy-24h" / "000.txt"


@contextlib.contextmanager
def demo_server(*args: str) -> Any:
    """Run ``afterbeat demo`` in a subprocess; yield (process, server.json contents)."""
    shm = Path("/dev/shm")
    base = Path(tempfile.mkdtemp(prefix="afterbeat-bench-", dir=shm if shm.is_dir() else None))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "afterbeat", "demo", "--no-open", "--port", "0",
         "--data-dir", str(base), *args], env=env, stdout=subprocess.DEVNULL)
    info_path = base / "demo" / "server.json"
    try:
        for _ in range(600):
            if info_path.exists():
                try:
                    info = json.loads(info_path.read_text())
                    break
                except ValueError:
                    pass
            time.sleep(0.05)
        else:
            raise RuntimeError("the demo server did not start")
        yield proc, info
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(base, ignore_errors=True)


async def sse_events(port: int, token: str, query: str = ""
                     ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """A minimal SSE client on a raw socket (little client-side overhead)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /api/live{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                 f"X-Afterbeat-Token: {token}\r\n\r\n".encode())
    await writer.drain()
    try:
        await reader.readuntil(b"\r\n\r\n")
        event, data = "message", ""
        while True:
            raw = await reader.readline()
            if not raw:
                return  # the server ended the stream (e.g. this client fell behind)
            line = raw.decode().rstrip("\r\n")
            if not line:
                if data:
                    yield event, json.loads(data)
                event, data = "message", ""
                continue
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data += line[6:]
            elif all(c in "0123456789abcdefABCDEF" for c in line):
                continue  # chunked transfer framing
    finally:
        writer.close()


async def _collect(port: int, token: str, seconds: float, latencies: list[float],
                   counts: list[int]) -> None:
    index = len(counts)
    counts.append(0)
    end = time.time() + seconds
    async for event, data in sse_events(port, token):
        now = time.time()
        if event not in ("hello", "heartbeat") and "emitted_at" in data:
            latencies.append(now - float(data["emitted_at"]))
            counts[index] += 1
        if now > end:
            return


def latency(clients: int = 16, seconds: float = 30.0) -> None:
    with demo_server("--speed", "20") as (_, info):
        latencies: list[float] = []
        counts: list[int] = []

        async def main() -> None:
            await asyncio.gather(*(_collect(info["port"], info["token"], seconds, latencies,
                                            counts) for _ in range(clients)))

        asyncio.run(main())
    ordered = sorted(latencies)
    p50 = ordered[len(ordered) // 2] * 1000
    p99 = ordered[int(len(ordered) * 0.99)] * 1000
    print(f"latency pipeline->client, {clients} clients, demo --speed 20, {seconds:.0f} s: "
          f"{len(ordered)} deliveries ({min(counts)}-{max(counts)} events per client), "
          f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {ordered[-1] * 1000:.2f} ms")


def throughput() -> None:
    with demo_server("--speed", "100") as (proc, info):
        types: dict[str, int] = {}

        async def main() -> float:
            start = time.time()
            async for event, data in sse_events(info["port"], info["token"]):
                types[event] = types.get(event, 0) + 1
                if event == "status" and data.get("state") == "finished":
                    return time.time() - start
            return time.time() - start

        elapsed = asyncio.run(main())
    total = sum(v for k, v in types.items() if k not in ("hello", "heartbeat"))
    print(f"throughput demo --speed 100: {total} events in {elapsed:.1f} s = "
          f"{total / elapsed:.1f} events/s to one client; by type: "
          + ", ".join(f"{k} {v}" for k, v in sorted(types.items())))


def _status(port: int, token: str) -> dict[str, Any]:
    import urllib.request

    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/status",
                                     headers={"X-Afterbeat-Token": token})
    with urllib.request.urlopen(request, timeout=10) as response:  # loopback only
        result: dict[str, Any] = json.load(response)
    return result


def memory() -> None:
    with demo_server("--recording", str(HOLTER_24H), "--fast") as (proc, info):
        server = psutil.Process(proc.pid)
        samples: list[tuple[float, float, float]] = []
        last_seq = 0
        start = time.time()
        while True:
            status = _status(info["port"], info["token"])
            t_s = status["connection"]["session_t_s"] or 0.0
            samples.append((time.time() - start, t_s, server.memory_info().rss / 2**20))
            last_seq = int(status["live"]["last_seq"])
            if status["connection"]["state"] in ("finished", "stopped"):
                break
            time.sleep(1.0)
    rss = [m for _, _, m in samples]
    quarter = max(1, len(rss) // 4)
    elapsed = samples[-1][0]
    print(f"ingest at full speed: {samples[-1][1] / elapsed:.0f} session seconds per second "
          f"(~{samples[-1][1] / elapsed:.0f} notifications/s recorded to tmpfs), "
          f"{last_seq / elapsed:.0f} events/s published")
    print(f"memory, 24-h file ({HOLTER_24H.name}, {samples[-1][1] / 3600:.1f} h) replayed at "
          f"full speed in {samples[-1][0]:.0f} s: RSS start {rss[0]:.0f} MB, median "
          f"{statistics.median(rss):.0f} MB, max {max(rss):.0f} MB, end {rss[-1]:.0f} MB; "
          f"first-quarter mean {statistics.mean(rss[:quarter]):.0f} MB vs last-quarter mean "
          f"{statistics.mean(rss[-quarter:]):.0f} MB")
    step = max(1, len(samples) // 10)
    print("  (elapsed s, session h, RSS MB): " + ", ".join(
        f"({e:.0f}, {t / 3600:.1f}, {m:.0f})" for e, t, m in samples[::step]))


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    for name, run in (("latency", latency), ("throughput", throughput), ("memory", memory)):
        if which in (name, "all"):
            run()
