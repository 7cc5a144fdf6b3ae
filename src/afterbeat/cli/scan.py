"""``afterbeat scan``: list nearby heart-rate straps (name, address, signal strength)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from afterbeat.cli.common import number_in
from afterbeat.sources.ble import BluetoothUnavailable, FoundStrap, backend_from_env, scan_straps

__all__ = ["NOTHING_FOUND_ADVICE", "register", "run"]

NOTHING_FOUND_ADVICE = (
    "No heart-rate strap found. What to try:\n"
    "  - wet the strap's electrodes (or the skin under them) and put it on: most straps only\n"
    "    advertise while they feel skin contact;\n"
    "  - close the phone or watch app that holds the strap (many straps accept one link);\n"
    "  - move closer and scan again, with a longer --timeout."
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``scan`` sub-command."""
    parser = subparsers.add_parser(
        "scan",
        help="list nearby heart-rate straps (Heart Rate Service 0x180D)",
        description="Scan for Bluetooth straps advertising the Heart Rate Service and list "
        "their name, address and signal strength. Use the address with 'record --device'.",
    )
    parser.add_argument("--timeout", type=number_in(0.1, 3600.0, "the scan time (s)"),
                        default=8.0, metavar="S",
                        help="how long to scan, in seconds (default 8)")
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    parser.set_defaults(run=run)


def _countdown(left_s: float, found: int) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(f"\rscanning for heart-rate straps... {left_s:4.0f} s left, "
                         f"{found} found ")
        sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    """Scan; exit 0 with a list, 1 when nothing was found, 3 when Bluetooth is unavailable."""
    timeout_s = max(0.1, float(args.timeout))
    seen: list[FoundStrap] = []

    async def scan() -> list[FoundStrap]:
        return await scan_straps(timeout_s, backend=backend_from_env(), on_found=seen.append,
                                 on_tick=lambda left_s: _countdown(left_s, len(seen)))

    try:
        straps = asyncio.run(scan())
    except BluetoothUnavailable as exc:
        print(f"afterbeat scan: {exc}", file=sys.stderr)
        return 3
    finally:
        if sys.stderr.isatty():
            sys.stderr.write("\r" + " " * 60 + "\r")
    if args.json:
        print(json.dumps([{"name": s.name, "address": s.address, "rssi_dbm": s.rssi_dbm}
                          for s in straps]))
    else:
        for s in straps:
            print(f"{s.address:<20} {s.rssi_dbm:>4} dBm  {s.name or '(no name)'}")
    if not straps:
        print(NOTHING_FOUND_ADVICE, file=sys.stderr)
        return 1
    return 0
