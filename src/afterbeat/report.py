"""The per-session report: a recorded session replayed through the live pipeline (pure code).

``build_report`` pushes every record through a fresh pipeline, exactly as live, and collects
what the report page draws: the per-5-s series (heart rate in bpm, RMSSD in ms, arousal
score 0-100), markers, state changes, suggestions, recovery metrics and reset effects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from afterbeat.events import Event, EventType, MarkerEvent
from afterbeat.pipeline import EventPipeline
from afterbeat.records import Disconnect, Header, Marker, Reconnect, Record

__all__ = ["build_report"]

_SERIES_KEYS = ("heart_rate_bpm", "rmssd_ms", "score", "arousal", "quality")


def build_report(header: Header, records: Iterable[Record],
                 pipeline_factory: Callable[[], EventPipeline]) -> dict[str, Any]:
    """Series, markers, gaps, states, suggestions, recovery and reset effects of a session."""
    pipeline = pipeline_factory()
    series: dict[str, list[Any]] = {"t_s": [], **{k: [] for k in _SERIES_KEYS}}
    markers: list[dict[str, Any]] = []
    gaps: list[dict[str, Any]] = []
    other: dict[EventType, list[dict[str, Any]]] = {}
    last_t_s = 0.0
    open_gap: float | None = None

    def take(events: Sequence[Event]) -> None:
        for event in events:
            data = event.to_json()
            if event.type is EventType.METRICS:
                series["t_s"].append(data["t_s"])
                for key in _SERIES_KEYS:
                    series[key].append(data[key])
            elif event.type is not EventType.MARKER:
                other.setdefault(event.type, []).append(data)

    for record in records:
        last_t_s = record.t_s
        if isinstance(record, Marker):
            markers.append(MarkerEvent.from_record(record).to_json())
        elif isinstance(record, Disconnect):
            open_gap = record.t_s
        elif isinstance(record, Reconnect) and open_gap is not None:
            gaps.append({"start_t_s": open_gap, "end_t_s": record.t_s})
            open_gap = None
        take(pipeline.push(record))
    take(pipeline.finish())
    if open_gap is not None:
        gaps.append({"start_t_s": open_gap, "end_t_s": last_t_s})
    started = header.started_at.isoformat().replace("+00:00", "Z")
    return {
        "started_at": started,
        "duration_s": last_t_s,
        "interval_s": 5.0,
        "series": series,
        "markers": markers,
        "gaps": gaps,
        "states": other.pop(EventType.STATE, []),
        "suggestions": other.pop(EventType.SUGGESTION, []),
        "recovery": other.pop(EventType.RECOVERY, []),
        "resets": list({e["number"]: e for e in other.pop(EventType.RESET_EFFECT, [])}.values()),
        "events": {str(k): v for k, v in other.items()},
    }
