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
CHROMIUM = Path(os.environ.get("AFTERBEAT_CHROMIUM", "/usr/bin/chromium"))
"""Debian's chromium; AFTERBEAT_CHROMIUM points elsewhere (a missing path shows the skip)."""
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def missing_part(chromium: Path = CHROMIUM) -> str | None:
    """Why the page tests cannot run here (one line), or None when Playwright and chromium exist."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the machine
        return f"playwright is not installed ({exc})"
    if not chromium.exists():
        return f"chromium not found at {chromium} (apt-get install chromium)"
    return None


def playwright_or_skip() -> Any:
    """Playwright's sync entry point, or a skip saying what is missing.

    AFTERBEAT_REQUIRE_ALL=1 (set by .ci/run) turns the skip into a failure (tests/require_all.py).
    """
    reason = missing_part()
    if reason is not None:  # pragma: no cover - depends on the machine
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    return sync_playwright


def wait_for(check: Callable[[], Any], timeout_s: float, what: str, step_s: float = 0.1,
             detail: Callable[[], Any] | None = None) -> Any:
    """Poll ``check`` every ``step_s`` s until it returns something truthy; fail naming
    ``what`` (and ``detail()``, when given) after ``timeout_s`` s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            more = f" ({detail()})" if detail is not None else ""
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}{more}")
        time.sleep(step_s)


@dataclass(frozen=True)
class DemoServer:
    """A running ``afterbeat demo``: base URL, one-time launch link, token, data folder."""

    url: str
    launch_url: str
    token: str
    data_dir: Path
    process: subprocess.Popen[bytes]


@contextmanager
def demo_server(data_dir: Path, speed: str = "1", *extra: str) -> Iterator[DemoServer]:
    """``afterbeat demo --no-open --port 0`` (plus ``extra`` arguments) in a subprocess, stopped
    with SIGINT after; ``data_dir`` is the demo's ``--data-dir`` (its store is in ``demo/``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("AFTERBEAT_DATA_DIR", None)
    log_path = data_dir / "demo.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "afterbeat", "demo", "--no-open", "--port", "0", "--speed",
             speed, *extra, "--data-dir", str(data_dir)], cwd=ROOT, env=env, stdout=log,
            stderr=subprocess.STDOUT)
    server_file = data_dir / "demo" / "server.json"

    def ready() -> dict[str, Any] | None:
        if process.poll() is not None:
            pytest.fail(f"afterbeat demo exited early:\n{log_path.read_text(errors='replace')}")
        try:
            return dict(json.loads(server_file.read_text()))
        except (OSError, ValueError):
            return None

    try:
        info = wait_for(ready, 30, "the demo server's server.json")
        yield DemoServer(str(info["url"]), str(info["launch_url"]), str(info["token"]),
                         data_dir, process)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:  # pragma: no cover - only if the server hangs
            process.kill()
            process.wait(timeout=5)


def axe_serious(page: Any) -> list[str]:
    """Serious or critical axe-core violations on the page as it is now (ids and targets)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found = []
    for violation in results.response["violations"]:
        if violation.get("impact") in ("serious", "critical"):
            targets = [n.get("target") for n in violation.get("nodes", [])][:5]
            found.append(f"{violation['id']} ({violation['impact']}): {targets}")
    return found


def axe_clean_light_and_dark(page: Any, view: str) -> None:
    """Zero serious/critical axe violations on ``view`` in the light and the dark scheme."""
    problems = {}
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.wait_for_timeout(150)
        found = axe_serious(page)
        if found:
            problems[scheme] = found
    page.emulate_media(color_scheme="light")
    assert problems == {}, f"axe on the {view} view: {problems}"


SPILLS = """(selector) => {
  const vw = document.documentElement.clientWidth;
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (typeof el.className === 'string' && el.className.trim()
      ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const out = [];
  const pageW = document.documentElement.scrollWidth;
  if (pageW > vw + 1) out.push(`page scrolls sideways to ${pageW}px`);
  for (const root of document.querySelectorAll(selector)) {
    const rb = root.getBoundingClientRect();
    for (const el of [root, ...root.querySelectorAll('*')]) {
      if (!el.getClientRects().length || el.closest('.visually-hidden')) continue;
      const wrap = el.closest('.table-wrap');
      if (el !== root && wrap && wrap !== el) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      if (r.right > Math.min(rb.right, vw) + 1 || r.left < Math.max(rb.left, 0) - 1) {
        const box = `${Math.round(rb.left)}-${Math.round(Math.min(rb.right, vw))}`;
        out.push(`${name(el)} spills: ${Math.round(r.left)}-${Math.round(r.right)} of ${box}`);
      }
      const cs = getComputedStyle(el);
      const text = el.children.length === 0 && el.textContent.trim() !== '';
      if (text && cs.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1) {
        out.push(`${name(el)} clips its text (${el.scrollWidth} > ${el.clientWidth})`);
      }
    }
  }
  return out;
}"""
"""Elements of the cards matching a selector that reach outside their card or the viewport, or
clip their own text (tables inside a .table-wrap scroll on purpose and are left out)."""


def spills(page: Any, selector: str) -> list[str]:
    """What spills out of (or is clipped inside) the visible cards matching ``selector``."""
    return list(page.evaluate(SPILLS, selector))
