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
        assert info["launch_url"].startswith(f"{info['url']}/#launch=")
        ticket = info["launch_url"].split("#launch=", 1)[1]
        signed_in = client.post("/api/session", json={"ticket": ticket}).json()
        assert signed_in == {"signed_in": True, "token": info["token"]}
        assert "<html" in client.get("/").text.lower()
        with client.stream("GET", "/api/live", headers={"X-Afterbeat-Token": info["token"]}
                           ) as live:  # an open tab must not hold up exit
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


@pytest.fixture
def calm_demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any], Path]]:
    """The demo at real-time speed: light on a busy machine, for tests of the server itself."""
    proc = _afterbeat("demo", "--no-open", "--port", "0", "--speed", "1",
                      "--data-dir", str(tmp_path))
    server_file = tmp_path / "demo" / "server.json"
    try:
        yield proc, _wait_for(server_file, proc), server_file
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_a_second_server_on_the_same_folder_is_refused(
        calm_demo: tuple[subprocess.Popen[str], dict[str, Any], Path]) -> None:
    proc, info, server_file = calm_demo
    second = subprocess.run(
        [sys.executable, "-m", "afterbeat", "demo", "--no-open", "--port", "0", "--speed", "1",
         "--data-dir", str(server_file.parent.parent)], env=ENV, text=True, capture_output=True,
        timeout=60)
    assert second.returncode == 2
    assert "already running" in second.stderr and info["url"] in second.stderr
    assert "Traceback" not in second.stderr
    assert json.loads(server_file.read_text()) == info  # neither overwritten nor deleted
    assert proc.poll() is None


def test_open_mints_a_fresh_link_for_the_running_server(
        calm_demo: tuple[subprocess.Popen[str], dict[str, Any], Path]) -> None:
    _, info, server_file = calm_demo
    opened = subprocess.run(
        [sys.executable, "-m", "afterbeat", "open", "--no-open", "--data-dir",
         str(server_file.parent.parent)], env=ENV, text=True, capture_output=True, timeout=60)
    assert opened.returncode == 0, opened.stderr
    assert info["token"] not in opened.stdout + opened.stderr
    link = opened.stdout.strip().rsplit(" ", 1)[-1]
    assert link.startswith(f"{info['url']}/#launch=") and link != info["launch_url"]
    with httpx.Client(base_url=info["url"], timeout=10) as client:
        ticket = link.split("#launch=", 1)[1]
        assert client.post("/api/session", json={"ticket": ticket}).json()["signed_in"] is True
        assert client.post("/api/session", json={"ticket": ticket}).json()["signed_in"] is False


def test_open_without_a_running_server_says_how_to_start(tmp_path: Path) -> None:
    (tmp_path / "server.json").write_text('{"url": "http://127.0.0.1:9", "token": "x"}')
    opened = subprocess.run(
        [sys.executable, "-m", "afterbeat", "open", "--no-open", "--data-dir", str(tmp_path)],
        env=ENV, text=True, capture_output=True, timeout=60)
    assert opened.returncode == 2
    assert "afterbeat demo" in opened.stderr and "Traceback" not in opened.stderr


def test_ipv6_loopback_serves_a_working_link(tmp_path: Path) -> None:
    import socket

    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")
    proc = _afterbeat("demo", "--no-open", "--host", "::1", "--port", "0", "--speed", "1",
                      "--data-dir", str(tmp_path))
    try:
        info = _wait_for(tmp_path / "demo" / "server.json", proc)
        assert info["url"] == f"http://[::1]:{info['port']}"
        assert info["launch_url"].startswith(f"http://[::1]:{info['port']}/#launch=")
        ticket = info["launch_url"].split("#launch=", 1)[1]
        with httpx.Client(base_url=info["url"], timeout=10) as client:
            answer = client.post("/api/session", json={"ticket": ticket},
                                 headers={"Origin": info["url"]})
            assert answer.json()["signed_in"] is True
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"http://[::1]:{info['port']}/#launch=" in out


def test_the_demo_session_is_dated_when_the_demo_runs() -> None:
    from datetime import UTC, datetime

    from afterbeat.cli.demo import DemoReplay, demo_recording

    moment = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    replay = DemoReplay(demo_recording(), 15.0, say=lambda text: None, now=lambda: moment)
    header = replay.header
    assert header.started_at == moment  # so history, trends and the summary list it as recent
    assert header.provenance["replayed_from_recording_started_at"].startswith("2021-01-01")
    assert header.provenance["real"].startswith("RR intervals: PhysioNet")
