"""How one server runs: port, hosts, demo flag and the live stream's limits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["ServerSettings"]


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """How the server runs: port, bind host, LAN host, demo flag, stream limits (s, counts)."""

    port: int = 8765
    host: str = "127.0.0.1"
    lan_host: str | None = None
    demo: bool = False
    heartbeat_s: float = 10.0
    max_streams: int = 16
    queue_size: int = 256
    ring_size: int = 2048
    web_dir: Path | None = None
