"""Command-line interface: ``afterbeat COMMAND ...``; each command lives in its own module."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from types import ModuleType

from afterbeat import __version__
from afterbeat.errors import AfterbeatError

__all__ = ["build_parser", "main"]

# Each module defines ``register(subparsers)``, which adds its sub-command with
# ``set_defaults(run=...)``; ``run(args) -> int`` does the work.
COMMAND_MODULES: tuple[str, ...] = (
    "decode",
    "sessions",
    "analyze",
    "scan", "record",
    "serve", "demo",
    "replay", "baseline",
)


def _load(name: str) -> ModuleType:
    return importlib.import_module(f"afterbeat.cli.{name}")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="afterbeat",
        description="Local, private heart-rate biofeedback for the hours after a therapy "
        "session. A wellness tool for relaxation, not a medical device.",
    )
    parser.add_argument("--version", action="version", version=f"afterbeat {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        _load(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``afterbeat`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        status: int = args.run(args)
    except AfterbeatError as exc:
        print(f"afterbeat: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return status
