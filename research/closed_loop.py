"""Closed-loop replay: a person who follows afterbeat's suggestions, on real recorded heart data.

The heart data is real RR; the session markers, the resets followed and the ratings are
illustrative. The pipeline runs exactly as live: whenever it suggests a reset, the "person"
starts it at once for its full length (and takes a switch or gentler suggestion when one
comes), optionally rating how stirred up they feel before and after. The result is the record
stream a live session would have recorded, markers included, so it can be stored and replayed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from afterbeat.pipeline import Pipeline
from afterbeat.records import Marker, MarkerKind, Record
from afterbeat.resets.library import get_reset
from afterbeat.sources.replay import with_marks

__all__ = ["ClosedLoopRun", "closed_loop", "session_marks"]

Rating = Callable[[int, str], float | None]
"""(reset number, "before" | "after") -> a 0-10 rating, or None for no rating."""


def session_marks(start_t_s: float, last_t_s: float, *, baseline_min: float, every_h: float,
                  session_min: float) -> list[Marker]:
    """A resting baseline at the start, then an illustrative session every ``every_h`` hours."""
    marks = [Marker(start_t_s, MarkerKind.BASELINE_START),
             Marker(start_t_s + baseline_min * 60.0, MarkerKind.BASELINE_END)]
    t = start_t_s + baseline_min * 60.0 + 600.0
    while t + session_min * 60.0 + 3600.0 < last_t_s:
        marks += [Marker(t, MarkerKind.SESSION_START),
                  Marker(t + session_min * 60.0, MarkerKind.SESSION_END)]
        t += every_h * 3600.0
    return marks


@dataclass(slots=True)
class ClosedLoopRun:
    """What happened: every record in order (markers added) and every event as JSON."""

    records: list[Record] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def closed_loop(records: Iterable[Record], marks: Sequence[Marker],
                pipeline: Pipeline | None = None, rating: Rating | None = None) -> ClosedLoopRun:
    """Run the pipeline over ``records`` with ``marks``, following every suggestion."""
    pipeline = pipeline or Pipeline()
    run = ClosedLoopRun()
    reset_end_s: float | None = None
    started = 0
    after_session = False

    def push(record: Record) -> Iterator[Marker]:
        nonlocal reset_end_s, started, after_session
        run.records.append(record)
        for event in pipeline.push(record):
            data = event.to_json()
            run.events.append(data)
            if data["type"] == "marker" and data["kind"] == "session_end":
                after_session = True
            elif data["type"] == "suggestion" and after_session:
                t_s = float(data["t_s"])
                if reset_end_s is not None and t_s < reset_end_s:
                    yield from _end(t_s)
                started += 1
                if rating is not None and (value := rating(started, "before")) is not None:
                    yield Marker(t_s, MarkerKind.RATING, value=value, text="before")
                yield Marker(t_s, MarkerKind.RESET_START, text=data["reset"])
                reset_end_s = t_s + get_reset(data["reset"]).duration_s

    def _end(t_s: float) -> Iterator[Marker]:
        nonlocal reset_end_s
        reset_end_s = None
        yield Marker(t_s, MarkerKind.RESET_END)
        if rating is not None and (value := rating(started, "after")) is not None:
            yield Marker(t_s, MarkerKind.RATING, value=value, text="after")

    def settle(pending: list[Marker]) -> None:
        while pending:
            pending = [m for extra in pending for m in push(extra)]

    for record in with_marks(records, marks):
        if reset_end_s is not None and record.t_s >= reset_end_s:
            settle(list(_end(reset_end_s)))
        settle(list(push(record)))
    for event in pipeline.finish():
        run.events.append(event.to_json())
    return run
