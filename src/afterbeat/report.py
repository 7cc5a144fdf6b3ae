"""The per-session report: a recorded session replayed through the live pipeline (pure code).

``build_report`` pushes every record through a fresh pipeline, exactly as live, and collects
what the report page draws: the per-5-s series (heart rate in bpm, RMSSD in ms, arousal
score 0-100), markers, state changes, suggestions, recovery metrics and reset effects.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from afterbeat.events import Event, EventType, MarkerEvent
from afterbeat.pipeline import EventPipeline
from afterbeat.records import Disconnect, Header, Marker, Reconnect, Record

__all__ = ["ReportBuilder", "build_report"]

_SERIES_KEYS = ("heart_rate_bpm", "rmssd_ms", "score", "arousal", "quality")


class ReportBuilder:
    """A session's report built one record at a time (pure, no I/O).

    ``push`` each record in order; ``report()`` gives, at any point, exactly what
    :func:`build_report` gives for the records pushed so far, and the builder goes on (its
    pipeline is copied to be finished, so it must be a pure, copyable object).
    """

    def __init__(self, header: Header, pipeline: EventPipeline) -> None:
        self.header = header
        self.records = 0
        """Records pushed so far."""
        self._pipeline = pipeline
        self._series: dict[str, list[Any]] = {"t_s": [], **{k: [] for k in _SERIES_KEYS}}
        self._markers: list[dict[str, Any]] = []
        self._gaps: list[dict[str, Any]] = []
        self._other: dict[EventType, list[dict[str, Any]]] = {}
        self._last_t_s = 0.0
        self._open_gap: float | None = None
        self._finished = False

    def push(self, record: Record) -> None:
        """Take the next record of the session (in order)."""
        if self._finished:
            raise RuntimeError("this report is final; start a new builder")
        self.records += 1
        self._last_t_s = record.t_s
        if isinstance(record, Marker):
            self._markers.append(MarkerEvent.from_record(record).to_json())
        elif isinstance(record, Disconnect):
            self._open_gap = record.t_s
        elif isinstance(record, Reconnect) and self._open_gap is not None:
            self._gaps.append({"start_t_s": self._open_gap, "end_t_s": record.t_s})
            self._open_gap = None
        _take(self._pipeline.push(record), self._series, self._other)

    def report(self, *, final: bool = False) -> dict[str, Any]:
        """The report of the records so far; ``final`` finishes the builder itself (no copy,
        no more records)."""
        if final:
            self._finished = True
            pipeline, series, other = self._pipeline, self._series, self._other
        else:
            pipeline = copy.deepcopy(self._pipeline)
            series = {k: list(v) for k, v in self._series.items()}
            other = {k: list(v) for k, v in self._other.items()}
        _take(pipeline.finish(), series, other)
        gaps = list(self._gaps)
        if self._open_gap is not None:
            gaps.append({"start_t_s": self._open_gap, "end_t_s": self._last_t_s})
        started = self.header.started_at.isoformat().replace("+00:00", "Z")
        return {
            "started_at": started,
            "duration_s": self._last_t_s,
            "interval_s": 5.0,
            "series": series,
            "markers": list(self._markers),
            "gaps": gaps,
            "states": other.pop(EventType.STATE, []),
            "suggestions": other.pop(EventType.SUGGESTION, []),
            "recovery": other.pop(EventType.RECOVERY, []),
            "resets": list({e["number"]: e
                            for e in other.pop(EventType.RESET_EFFECT, [])}.values()),
            "events": {str(k): v for k, v in other.items()},
        }


def _take(events: Sequence[Event], series: dict[str, list[Any]],
          other: dict[EventType, list[dict[str, Any]]]) -> None:
    for event in events:
        data = event.to_json()
        if event.type is EventType.METRICS:
            series["t_s"].append(data["t_s"])
            for key in _SERIES_KEYS:
                series[key].append(data[key])
        elif event.type is not EventType.MARKER:
            other.setdefault(event.type, []).append(data)


def build_report(header: Header, records: Iterable[Record],
                 pipeline_factory: Callable[[], EventPipeline]) -> dict[str, Any]:
    """Series, markers, gaps, states, suggestions, recovery and reset effects of a session."""
    builder = ReportBuilder(header, pipeline_factory())
    for record in records:
        builder.push(record)
    return builder.report(final=True)
