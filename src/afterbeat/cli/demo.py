"""``afterbeat demo``: the dashboard on the bundled recording, no strap needed.

The bundled ``afterbeat/data/demo.jsonl`` (real Holter RR re-encoded as notifications, with
illustrative baseline and session markers) is replayed at ``--speed`` (default 15: the
45-minute story plays in about three minutes) through exactly the live path, and recorded
like a live session, but into ``<data-dir>/demo`` so it never mixes with real sessions. A
reset's pacer always runs in real time (its timeline is on the wall clock), so while a reset
runs the replay slows to real time too and the numbers follow the pacer; the page starts the
suggested reset after a short countdown and ends it after two minutes, so the whole story takes
about five minutes. When the recording ends, the terminal and the page say how to stop.
With ``--lsl`` the replayed beats, heart rate, metrics and markers are published on the Lab
Streaming Layer exactly as ``serve --lsl`` publishes a live strap's (source ids
``afterbeat-demo-...`` unless ``--lsl-id``).
"""

from __future__ import annotations

import argparse
import importlib.resources
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from afterbeat.cli.common import data_dir_from
from afterbeat.cli.lsl_options import add_lsl_options, open_lsl
from afterbeat.cli.serve import add_server_options, run_server
from afterbeat.paths import ensure_private_dir
from afterbeat.records import Header, Record
from afterbeat.sources import ConnectionState, Source, SourceStatus
from afterbeat.sources.replay import ReplaySource

__all__ = ["DEFAULT_SPEED", "FINISHED_TEXT", "DemoReplay", "demo_recording", "register", "run"]

DEFAULT_SPEED = 15.0
"""Session seconds per real second outside resets: the 45-minute recording in about three
minutes, plus a two-minute reset in real time: about five minutes in all."""


FINISHED_TEXT = ("The demo has finished. The page stays open to look around; press Ctrl+C in "
                 "this terminal to stop afterbeat.")
"""Said in the terminal when the demo recording has played to its end."""


class DemoReplay(ReplaySource):
    """The demo's replay: real time while a reset runs; says in the terminal when it ends.

    Its session is dated when the demo runs (the recording's own date is kept in the header's
    provenance), so the history, trends and the summary to share show it among recent ones.
    """

    def __init__(self, path: Path, speed: float | None,
                 say: Callable[[str], None] = lambda text: print(text, flush=True),
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(path, speed=speed, reset_speed=None if speed is None else 1.0)
        self._say = say
        self._started_at = now()

    @property
    def header(self) -> Header:
        """The recording's header, dated now; its original start is kept in the provenance."""
        header = super().header
        provenance = {**header.provenance,
                      "replayed_from_recording_started_at": header.started_at.isoformat()}
        return replace(header, started_at=self._started_at, provenance=provenance)

    async def stream(self) -> AsyncIterator[Record | SourceStatus]:
        """The replay's records and statuses, then the closing words once it has finished."""
        async for item in super().stream():
            yield item
            if isinstance(item, SourceStatus) and item.state is ConnectionState.FINISHED:
                self._say(FINISHED_TEXT)


def demo_recording() -> Path:
    """Path of the bundled demo recording."""
    return Path(str(importlib.resources.files("afterbeat") / "data" / "demo.jsonl"))


def _speed(text: str) -> float:
    value = float(text)
    if not 0.1 <= value <= 10_000:
        raise argparse.ArgumentTypeError("speed must be between 0.1 and 10000")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` sub-command."""
    parser = subparsers.add_parser(
        "demo", help="run the dashboard on the bundled demo recording",
        description="Replay the bundled recording (real heart-rate data, illustrative markers) "
        "through the live dashboard. Its data is kept apart, in <data-dir>/demo.")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=_speed, default=DEFAULT_SPEED,
                      help=f"replay speed outside resets, session seconds per second "
                      f"(default {DEFAULT_SPEED:g}: the whole story in about five minutes)")
    pace.add_argument("--fast", action="store_true",
                      help="replay as fast as the server goes (benchmarks)")
    parser.add_argument("--recording", type=Path, default=None,
                        help="replay this session file instead of the bundled one")
    add_server_options(parser, lan=False)
    add_lsl_options(parser)
    parser.set_defaults(run=run)


def open_replay(path: Path, speed: float | None) -> Source:
    """The demo's replay of ``path`` at ``speed`` (the live pipeline's replay path)."""
    return DemoReplay(path, speed)


def run(args: argparse.Namespace) -> int:
    """Serve the dashboard on the demo recording."""
    data_dir = ensure_private_dir(data_dir_from(args) / "demo")
    source = open_replay(args.recording or demo_recording(), None if args.fast else args.speed)
    publisher = open_lsl(args, "afterbeat-demo")
    try:
        return run_server(args, data_dir, source, demo=True,
                          observers=() if publisher is None else (publisher.observe,))
    finally:
        if publisher is not None:
            publisher.close()
