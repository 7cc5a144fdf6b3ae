"""``afterbeat serve``: the dashboard for a live strap, on http://127.0.0.1:8765 by default.

Also holds the runner shared with ``afterbeat demo``: take the data folder's lock (a second
server on the same folder is refused instead of overwriting ``server.json``), bind the socket
first (so ``--port 0`` works), build the app with that port, write ``server.json`` (url, port,
pid, token; mode 0600) into the data directory, open the browser on a one-time launch link
(``/#launch=<ticket>``), run uvicorn with the access log and proxy headers off and with the
connection guard of :mod:`afterbeat.server.connections`, and remove ``server.json`` at exit.
``afterbeat open`` finds a running server through :func:`running_server_info`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import signal
import socket
import sys
import webbrowser
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from afterbeat.cli.common import add_data_dir_option, data_dir_from, port_number
from afterbeat.cli.lsl_options import add_lsl_options, open_lsl
from afterbeat.errors import AfterbeatError
from afterbeat.server.security import LaunchTickets, SecurityPolicy
from afterbeat.sources import Source

if TYPE_CHECKING:
    from afterbeat.server.ingest import IngestObserver

__all__ = [
    "LOCK_FILE",
    "SERVER_FILE",
    "DataFolderLock",
    "add_server_options",
    "register",
    "run",
    "run_server",
    "running_server_info",
]

log = logging.getLogger(__name__)

SERVER_FILE = "server.json"
LOCK_FILE = "server.lock"
LOOPBACK_BINDS = ("127.0.0.1", "::1", "localhost")


class ServeError(AfterbeatError):
    """The server cannot start as asked (port taken, unsafe bind, --lan without a host)."""


def add_server_options(parser: argparse.ArgumentParser, *, lan: bool = True) -> None:
    """``--port``, ``--host``, ``--no-open`` (and ``--lan`` with TLS files for serve)."""
    parser.add_argument("--port", type=port_number, default=8765,
                        help="TCP port (default 8765; 0 picks a free one)")
    parser.add_argument("--host", default=None,
                        help="address to listen on (default 127.0.0.1; "
                        + ("others need --lan)" if lan else "loopback only: 127.0.0.1 or ::1)"))
    parser.add_argument("--no-open", action="store_true", help="do not open the browser")
    if lan:
        parser.add_argument("--lan", metavar="HOST", default=None,
                            help="also serve on your network under this host name or address "
                            "(the token is required; the page says it is visible)")
        parser.add_argument("--tls-cert", type=Path, default=None,
                            help="with --lan: serve HTTPS with this certificate (PEM)")
        parser.add_argument("--tls-key", type=Path, default=None,
                            help="with --lan: the certificate's private key (PEM)")
    add_data_dir_option(parser)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``serve`` sub-command."""
    parser = subparsers.add_parser(
        "serve", help="run the dashboard for a live heart-rate strap",
        description="Connect to a heart-rate strap and serve the dashboard on this computer "
        "only (http://127.0.0.1:8765). A wellness tool for relaxation, not a medical device.")
    parser.add_argument("--device", default=None,
                        help="strap address or name (default: the remembered strap, else the "
                        "first one found)")
    add_server_options(parser)
    add_lsl_options(parser)
    parser.set_defaults(run=run)


def _bind_host(args: argparse.Namespace) -> str:
    host: str = args.host or ("0.0.0.0" if getattr(args, "lan", None) else "127.0.0.1")
    if getattr(args, "lan", None) is None and host not in LOOPBACK_BINDS:
        raise ServeError(f"refusing to listen on {host}: only loopback unless --lan HOST "
                         "names the host the page is reached by")
    lan = getattr(args, "lan", None)
    if lan is not None:
        if not lan.strip() or lan.strip() in ("0.0.0.0", "::", "*"):
            raise ServeError("--lan needs the host name or address people type to reach this "
                             "computer, e.g. --lan 192.168.1.20")
        with contextlib.suppress(ValueError):
            if ipaddress.ip_address(lan).is_unspecified:
                raise ServeError("--lan needs a concrete host, not an unspecified address")
    if bool(getattr(args, "tls_cert", None)) != bool(getattr(args, "tls_key", None)):
        raise ServeError("--tls-cert and --tls-key go together")
    return host


def _open_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
                         "choose another with --port") from exc
    sock.listen(64)
    sock.setblocking(False)
    return sock


class DataFolderLock:
    """An exclusive lock on ``<data dir>/server.lock``, held while a server runs (0600 file)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock without waiting; False when another process holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if not _lock_fd(fd):
                os.close(fd)
                return False
        except OSError:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        """Let the lock go (the file stays: removing it could race with a new holder)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _lock_fd(fd: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover - platform
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def running_server_info(data_dir: Path) -> dict[str, Any] | None:
    """``server.json`` of the server running on ``data_dir``, or None when none runs there."""
    path = data_dir / SERVER_FILE
    if not path.is_file():
        return None
    probe = DataFolderLock(data_dir)
    try:
        if probe.try_acquire():  # nobody holds it: the file is left over from a crash
            probe.release()
            return None
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def write_server_file(data_dir: Path, info: dict[str, Any]) -> Path:
    """Write ``server.json`` with mode 0600 (it holds the token)."""
    path = data_dir / SERVER_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(info, handle)
    return path


def run_server(args: argparse.Namespace, data_dir: Path, source: Source, *,
               demo: bool = False, banner: Callable[[str], None] | None = None,
               observers: Sequence[IngestObserver] = ()) -> int:
    """Serve ``source`` until interrupted; the shared body of ``serve`` and ``demo``
    (``observers``, e.g. the LSL publisher, see every record and its events)."""
    import uvicorn  # here, not at the top: other commands need not load the web stack

    from afterbeat.server.app import ServerSettings, create_app, state_of
    from afterbeat.server.connections import (
        ConnectionGuard,
        guarded_protocol,
        quiet_accept_errors,
    )
    from afterbeat.storage.store import Store

    host = _bind_host(args)
    lock = DataFolderLock(data_dir)
    if not lock.try_acquire():
        other = running_server_info(data_dir) or {}
        where = f" at {other['url']} (process {other.get('pid')})" if "url" in other else ""
        raise ServeError(f"another afterbeat server is already running on the data folder "
                         f"{data_dir}{where}; run `afterbeat open` to get a link to it, or "
                         "stop it first")
    try:
        sock = _open_socket(host, args.port)
    except BaseException:
        lock.release()
        raise
    port = int(sock.getsockname()[1])
    lan = getattr(args, "lan", None)
    https = bool(getattr(args, "tls_cert", None))
    policy = SecurityPolicy.for_launch(port, lan, https=https, bind_host=host)
    tickets = LaunchTickets()
    guard = ConnectionGuard()
    store = Store.open(data_dir)
    settings = ServerSettings(port=port, host=host, lan_host=lan, demo=demo)
    app = create_app(settings, source, store, policy=policy, tickets=tickets,
                     observers=observers)
    url = policy.base_url
    local = "[::1]" if host == "::1" else "127.0.0.1"
    local_url = f"{'https' if https else 'http'}://{local}:{port}"
    launch_url = policy.launch_url(tickets.issue())
    server_file = write_server_file(data_dir, {
        "url": url, "local_url": local_url, "port": port, "pid": os.getpid(),
        "token": policy.token, "launch_url": launch_url, "demo": demo})
    say = banner or (lambda text: print(text, flush=True))
    if lan:
        say(f"*** afterbeat is VISIBLE ON YOUR NETWORK at {url} (listening on {host}). ***\n"
            "*** Anyone who gets the link below can see your readings: stop with Ctrl+C when "
            "you are done. ***")
    say(f"afterbeat {'demo ' if demo else ''}is running at {url}")
    say(f"Open this link once in your browser (it signs the browser in): {launch_url}")
    say("Need a new link later? Run: afterbeat open" + (" --demo" if demo else ""))
    config = uvicorn.Config(app, access_log=False, proxy_headers=False, server_header=False,
                            log_level="warning", lifespan="on", ws="none",
                            http=guarded_protocol(guard), timeout_keep_alive=5,
                            timeout_graceful_shutdown=5,
                            ssl_certfile=getattr(args, "tls_cert", None),
                            ssl_keyfile=getattr(args, "tls_key", None))
    hub = state_of(app).hub
    loop_box: list[asyncio.AbstractEventLoop] = []

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            # uvicorn waits for open responses before the lifespan ends: end the live
            # streams now (signal-safe hand-over to the loop), or an open tab holds exit up.
            if loop_box:
                loop_box[0].call_soon_threadsafe(hub.close)

    server = Server(config)

    async def main() -> None:
        loop_box.append(asyncio.get_running_loop())
        quiet_accept_errors(loop_box[0])
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        if not args.no_open:
            while not server.started and not serving.done():
                await asyncio.sleep(0.05)
            if server.started:
                with contextlib.suppress(Exception):
                    webbrowser.open(launch_url)
        await serving

    def terminated(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # uvicorn re-raises SIGTERM after its graceful shutdown

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server_file.unlink(missing_ok=True)
        store.close()
        sock.close()
        lock.release()
    return 0


def run(args: argparse.Namespace) -> int:
    """Serve the dashboard for a live strap (the strap used is remembered for next time)."""
    from afterbeat.sources.ble import (
        BleSource,
        backend_from_env,
        remember_strap,
        remembered_strap,
    )

    data_dir = data_dir_from(args)
    device = args.device
    if device is None:
        remembered = remembered_strap(data_dir)
        device = remembered[0] if remembered is not None else None
    publisher = open_lsl(args, "afterbeat-serve", device)
    source = BleSource(device=device, backend=backend_from_env())
    try:
        return run_server(args, data_dir, source,
                          observers=() if publisher is None else (publisher.observe,))
    finally:
        if publisher is not None:
            publisher.close()
        if source.connected_address:
            with contextlib.suppress(OSError):
                remember_strap(data_dir, source.connected_address, source.connected_name)
