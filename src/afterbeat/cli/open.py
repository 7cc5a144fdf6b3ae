"""``afterbeat open``: a fresh one-time link to the running dashboard, opened in the browser.

It reads ``server.json`` (mode 0600, so only this user can) from the data folder, checks that
the server holding the folder's lock still runs, and asks it over loopback for a new launch
ticket (``POST /api/launch`` with the token header). The token itself is never printed.
"""

from __future__ import annotations

import argparse
import json
import ssl
import urllib.error
import urllib.request
import webbrowser
from pathlib import Path
from typing import Any

from afterbeat.cli.common import add_data_dir_option, data_dir_from
from afterbeat.errors import AfterbeatError

__all__ = ["mint_link", "register", "run"]


class NotRunning(AfterbeatError):
    """No afterbeat server runs on this data folder (or it did not answer)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``open`` sub-command."""
    parser = subparsers.add_parser(
        "open", help="open the running dashboard with a fresh one-time link",
        description="Ask the afterbeat server running on this computer (serve or demo) for a "
        "new one-time sign-in link and open it in the browser.")
    parser.add_argument("--demo", action="store_true",
                        help="the demo's server (default: the live one, else the demo)")
    parser.add_argument("--no-open", action="store_true",
                        help="only print the link, do not start a browser")
    add_data_dir_option(parser)
    parser.set_defaults(run=run)


def mint_link(info: dict[str, Any], timeout_s: float = 20.0) -> str:
    """A new launch link from the server described by ``info`` (its ``server.json``)."""
    base = str(info.get("local_url") or info.get("url") or "")
    token = info.get("token")
    if not base.startswith(("http://", "https://")) or not isinstance(token, str):
        raise NotRunning("server.json does not describe a running afterbeat server")
    request = urllib.request.Request(
        f"{base}/api/launch", data=b"{}", method="POST",
        headers={"Content-Type": "application/json", "X-Afterbeat-Token": token})
    context = None
    if base.startswith("https://"):
        # Loopback to our own server, whose --lan certificate need not name 127.0.0.1.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(request, timeout=timeout_s, context=context) as response:
            answer = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise NotRunning(f"the afterbeat server at {base} did not answer ({exc}); "
                         "is it still running?") from exc
    url = answer.get("url") if isinstance(answer, dict) else None
    if not isinstance(url, str):
        raise NotRunning("the afterbeat server gave no link")
    return url


def _find(data_dir: Path, demo: bool) -> dict[str, Any]:
    from afterbeat.cli.serve import running_server_info

    folders = [data_dir / "demo"] if demo else [data_dir, data_dir / "demo"]
    for folder in folders:
        info = running_server_info(folder)
        if info is not None:
            return info
    what = "the afterbeat demo is" if demo else "afterbeat is"
    raise NotRunning(f"{what} not running for the data folder {data_dir}. Start it with "
                     "`afterbeat serve` (a strap) or `afterbeat demo`; it prints a link and "
                     "opens the browser.")


def run(args: argparse.Namespace) -> int:
    """Mint a fresh link for the running server and open it (or print it)."""
    info = _find(data_dir_from(args), args.demo)
    url = mint_link(info)
    print(f"Open this link once in your browser (it signs the browser in): {url}", flush=True)
    if not args.no_open:
        try:
            webbrowser.open(url)
        except webbrowser.Error:
            pass
    return 0
