"""Shared pieces of the browser tests: Debian's chromium through Playwright, and a demo server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def playwright_or_skip() -> Any:
    """Playwright's sync entry point; without it or chromium: fail in CI, skip elsewhere."""
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - depends on the machine
        reason = f"playwright is not installed ({exc})"
    if reason is None and not CHROMIUM.exists():
        reason = f"chromium not found at {CHROMIUM} (apt-get install chromium)"
    if reason is not None:  # pragma: no cover - depends on the machine
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    return sync_playwright


def wait_for(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.1)


@dataclass(frozen=True)
class DemoServer:
    """A running ``afterbeat demo``: base URL, one-time launch link, token, data folder."""

    url: str
    launch_url: str
    token: str
    data_dir: Path


@contextmanager
def demo_server(data_dir: Path, speed: str = "1") -> Iterator[DemoServer]:
    """``afterbeat demo --no-open --port 0`` in a subprocess, stopped with SIGINT after."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("AFTERBEAT_DATA_DIR", None)
    log_path = data_dir / "demo.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "afterbeat", "demo", "--no-open", "--port", "0", "--speed",
             speed, "--data-dir", str(data_dir)], cwd=ROOT, env=env, stdout=log,
            stderr=subprocess.STDOUT)
    server_file = data_dir / "demo" / "server.json"

    def ready() -> dict[str, Any] | None:
        assert process.poll() is None, log_path.read_text(errors="replace")
        try:
            return dict(json.loads(server_file.read_text()))
        except (OSError, ValueError):
            return None

    try:
        info = wait_for(ready, 30, "the demo server's server.json")
        yield DemoServer(str(info["url"]), str(info["launch_url"]), str(info["token"]),
                         data_dir)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:  # pragma: no cover - only if the server hangs
            process.kill()
            process.wait(timeout=5)
