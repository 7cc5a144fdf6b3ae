"""The injectable bleak seam: scanner and client backend classes passed as ``backend=``.

Its own module so the reader (``ble``) and the scripted backend (``replay_backend``) both
import it and neither imports the other's internals.
"""

from __future__ import annotations

from dataclasses import dataclass

from bleak.backends.client import BaseBleakClient
from bleak.backends.scanner import BaseBleakScanner

__all__ = ["BackendPair"]


@dataclass(frozen=True, slots=True)
class BackendPair:
    """bleak backend classes passed as ``backend=`` to BleakScanner and BleakClient."""

    scanner: type[BaseBleakScanner]
    client: type[BaseBleakClient]
