"""``afterbeat demo`` and ``afterbeat serve`` as real processes: server.json, launch, exit."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow  # real `afterbeat` subprocesses serving for seconds

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def _afterbeat(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "afterbeat", *args], env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> dict[str, Any]:
    for _ in range(600):
        if proc.poll() is not None:
            raise AssertionError(f"exited early: {proc.communicate()}")
        if path.exists():
            try:
                info: dict[str, Any] = json.loads(path.read_text())
                return info
            except ValueError:
                pass
        time.sleep(0.05)
    raise AssertionError("server.json never appeared")


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any], Path]]:
    umask = os.umask(0o022)
    try:
        proc = _afterbeat("demo", "--no-open", "--port", "0", "--speed", "500",
                          "--data-dir", str(tmp_path))
    finally:
        os.umask(umask)
    server_file = tmp_path / "demo" / "server.json"
    try:
        yield proc, _wait_for(server_file, proc), server_file
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_demo_serves_with_a_private_server_file_and_cleans_up(
        demo: tuple[subprocess.Popen[str], dict[str, Any], Path]) -> None:
    proc, info, server_file = demo
    assert stat.S_IMODE(server_file.stat().st_mode) == 0o600
    assert set(info) >= {"url", "port", "pid", "token"} and info["pid"] == proc.pid
    assert info["url"] == f"http://127.0.0.1:{info['port']}"
    with httpx.Client(base_url=info["url"], timeout=10) as client:
        status = client.get("/api/status", headers={"X-Afterbeat-Token": info["token"]})
        assert status.status_code == 200 and status.json()["demo"] is True
        assert client.get("/api/status").status_code == 401
        launched = client.get(info["launch_url"].removeprefix(info["url"]))
        assert launched.status_code == 303 and "HttpOnly" in launched.headers["set-cookie"]
        assert client.get("/api/sessions").status_code == 200  # the cookie from the link
        assert "<html" in client.get("/").text.lower()
        with client.stream("GET", "/api/live") as live:  # an open tab must not hold up exit
            lines = live.iter_lines()
            assert next(lines) == "event: hello"
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=30)
            assert proc.returncode == 0
            list(lines)  # the stream was ended by the server
    assert not server_file.exists()
    assert info["token"] not in out  # printed: the one-time link, never the token
    assert "launch=" in out
    sessions = subprocess.run([sys.executable, "-m", "afterbeat", "sessions", "list", "--json",
                               "--data-dir", str(server_file.parent)], env=ENV, text=True,
                              capture_output=True, check=True).stdout
    assert "replay" in sessions  # the demo records like a live session, in <data-dir>/demo


def test_sigterm_also_removes_the_server_file(
        demo: tuple[subprocess.Popen[str], dict[str, Any], Path]) -> None:
    proc, _, server_file = demo
    proc.terminate()
    proc.communicate(timeout=30)
    assert not server_file.exists()


@pytest.mark.parametrize("args", [["--host", "0.0.0.0"], ["--host", "192.168.1.5"],
                                  ["--lan", ""], ["--lan", "0.0.0.0"],
                                  ["--lan", "box.local", "--tls-cert", "x.pem"]])
def test_unsafe_binds_are_refused(tmp_path: Path, args: list[str],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    from afterbeat.cli import main

    status = main(["serve", "--no-open", "--port", "0", "--data-dir", str(tmp_path), *args])
    assert status == 2
    assert "afterbeat:" in capsys.readouterr().err
    assert not (tmp_path / "server.json").exists()
