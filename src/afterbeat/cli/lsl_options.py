"""``--lsl`` options shared by the commands that can publish on the Lab Streaming Layer."""

from __future__ import annotations

import argparse
import math
import sys

from afterbeat.lsl import LslPublisher

__all__ = ["add_lsl_options", "open_lsl"]


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError("must be between 0 and 3600 seconds")
    return value


def _source_id(text: str) -> str:
    if not 0 < len(text) <= 100 or not text.isprintable() or text != text.strip():
        raise argparse.ArgumentTypeError("must be 1 to 100 printable characters without "
                                         "leading or trailing spaces")
    return text


def add_lsl_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--lsl``, ``--lsl-notes``, ``--lsl-wait`` and ``--lsl-id``."""
    group = parser.add_argument_group("Lab Streaming Layer (needs the lab extra)")
    group.add_argument("--lsl", action="store_true",
                       help="publish RR, heart rate, metrics and markers as LSL streams")
    group.add_argument("--lsl-notes", action="store_true",
                       help="include the text of notes in the marker stream (left out unless "
                       "asked)")
    group.add_argument("--lsl-wait", type=_seconds, default=0.0, metavar="S",
                       help="wait up to S seconds for a recorder to connect to every stream "
                       "before starting")
    group.add_argument("--lsl-id", type=_source_id, default=None, metavar="ID",
                       help="source id prefix of the streams (default afterbeat-<command>...); "
                       "give each computer its own in a lab with several")


def open_lsl(args: argparse.Namespace, source_id: str, device: str | None = None
             ) -> LslPublisher | None:
    """The publisher asked for on the command line, or None (LslUnavailable, an AfterbeatError,
    says how to install it). ``--lsl-id`` replaces ``source_id``."""
    if not getattr(args, "lsl", False):
        return None
    publisher = LslPublisher(getattr(args, "lsl_id", None) or source_id,
                             include_notes=args.lsl_notes, device=device)
    if args.lsl_wait > 0 and not publisher.wait_for_consumers(args.lsl_wait):
        print(f"lsl: no recorder connected to every stream within {args.lsl_wait:g} s; "
              "publishing anyway", file=sys.stderr)
    return publisher
