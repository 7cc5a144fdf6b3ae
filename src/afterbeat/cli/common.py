"""Options shared by several sub-commands."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Final

from afterbeat.errors import AfterbeatError
from afterbeat.paths import ensure_private_dir, resolve_data_dir
from afterbeat.storage.store import DB_FILENAME

__all__ = [
    "CommandError",
    "OneLineParser",
    "add_data_dir_option",
    "data_dir_from",
    "no_store_words",
    "stored_data_dir",
    "number_in",
    "port_number",
    "printable",
    "session_id",
]

MAX_SESSION_ID: Final = 2**63 - 1
"""Largest session id SQLite can hold."""
_UNSAFE: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
"""Control characters (C0, DEL, C1: terminal escape sequences), bidirectional overrides and
lone surrogates: never sent to a terminal as they are."""


class CommandError(AfterbeatError):
    """A command's arguments or input cannot be used; the message says why (exit status 2)."""


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit status 2), no usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Print ``PROG: error: MESSAGE (see PROG --help)`` and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {printable(message)} (see {self.prog} --help)\n")


def printable(text: str) -> str:
    """``text`` with control characters, bidi overrides and lone surrogates shown as escapes
    (``\\x1b``, ``\\u202e``), safe to print on a terminal."""
    return _UNSAFE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def number_in(low: float, high: float, what: str) -> Callable[[str], float]:
    """An argparse ``type``: a finite number from ``low`` to ``high``, else a one-line error."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{text!r}: {what} must be a finite number from {low:g} to {high:g}")
        return value

    return parse


def _integer_in(low: int, high: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text) if len(text) <= 32 else None
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{text[:40]!r}: {what} must be a whole number from {low} to {high}")
        return value

    return parse


port_number: Final = _integer_in(0, 65535, "a TCP port")
"""An argparse ``type`` for ``--port``: 0 (pick a free one) to 65535."""
session_id: Final = _integer_in(1, MAX_SESSION_ID, "a session id")
"""An argparse ``type`` for a session id."""


def add_data_dir_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--data-dir`` (default: AFTERBEAT_DATA_DIR, then the platform's data folder)."""
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where recordings and settings live (default: $AFTERBEAT_DATA_DIR or the "
        "platform's per-user data folder); created private (0700)",
    )


def data_dir_from(args: argparse.Namespace) -> Path:
    """Resolve and create the data directory named by the parsed arguments."""
    return ensure_private_dir(resolve_data_dir(getattr(args, "data_dir", None)))


def no_store_words(data_dir: Path) -> str:
    """Why a folder holds no sessions, pointing at the demo's own folder when it is there."""
    demo = data_dir / "demo"
    if (demo / DB_FILENAME).is_file():
        return (f"no sessions here ({data_dir}); the demo's are in {demo}: "
                f"use --data-dir {demo}")
    return f"no sessions recorded yet in {data_dir}"


def stored_data_dir(args: argparse.Namespace) -> Path | None:
    """For a command that only reads: the data directory when it holds a recording database,
    else None (creating no folder and no database; ``no_store_words`` says why)."""
    data_dir = resolve_data_dir(getattr(args, "data_dir", None))
    return data_dir if (data_dir / DB_FILENAME).is_file() else None
