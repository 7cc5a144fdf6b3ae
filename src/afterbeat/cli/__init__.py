"""Command-line interface: ``afterbeat COMMAND ...``; each command lives in its own module."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from types import ModuleType

from afterbeat import __version__
from afterbeat.cli.common import OneLineParser, printable
from afterbeat.errors import AfterbeatError

__all__ = ["build_parser", "main"]

# Each module defines ``register(subparsers)``, which adds its sub-command with
# ``set_defaults(run=...)``; ``run(args) -> int`` does the work. Only the module of the
# command being run is imported, so ``afterbeat decode`` does not pay for scipy or FastAPI;
# the summaries here serve the top-level help.
COMMANDS: dict[str, str] = {
    "demo": "run the dashboard on the bundled demo recording",
    "serve": "run the dashboard for a live heart-rate strap",
    "open": "open the running dashboard with a fresh one-time link",
    "scan": "list nearby heart-rate straps (Heart Rate Service 0x180D)",
    "record": "record a heart-rate strap into the data directory (no web page)",
    "baseline": "record a 5-minute seated rest for your personal baseline, or show/reset it",
    "resonance": "find your own breathing pace (guided resonance-frequency assessment)",
    "sessions": "list, show, export, import or delete recorded sessions",
    "replay": "replay a recording (session file or RR file) through the live pipeline",
    "analyze": "HRV of a recording (session, RR text, Polar HRM, CSV, .npy), Kubios-style",
    "decode": "decode one Heart Rate Measurement (0x2A37) payload given in hex",
    "summary": "a printable summary of the last weeks to share if you want",
    "plan": "show, export, import or print the plan you made with your therapist",
}


def _load(name: str) -> ModuleType:
    return importlib.import_module(f"afterbeat.cli.{name}")


def _chosen_command(argv: Sequence[str]) -> str | None:
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; with ``only``, just that sub-command is loaded in full."""
    parser: argparse.ArgumentParser = OneLineParser(
        prog="afterbeat",
        description="Local, private heart-rate biofeedback for the hours after a therapy "
        "session. A wellness tool for relaxation, not a medical device.",
    )
    parser.add_argument("--version", action="version", version=f"afterbeat {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, summary in COMMANDS.items():
        if only is None or name == only:
            _load(name).register(subparsers)
        else:
            subparsers.add_parser(name, help=summary)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``afterbeat`` console script; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    chosen = _chosen_command(arguments)
    args = build_parser(chosen if chosen is not None else "").parse_args(arguments)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        status: int = args.run(args)
    except AfterbeatError as exc:
        print(f"afterbeat: {printable(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file that cannot be read or written: a message, not a traceback
        where = f"{exc.filename}: " if exc.filename is not None else ""
        print(f"afterbeat: {printable(f'{where}{exc.strerror or exc}')}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return status
