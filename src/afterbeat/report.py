"""The per-session report: a recorded session replayed through the live pipeline (pure code).

``build_report`` pushes every record through a fresh pipeline, exactly as live, and collects
what the report page draws: the per-5-s series (heart rate in bpm, RMSSD in ms, arousal
score 0-100), markers, state changes, suggestions, recovery metrics and reset effects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from afterbeat.records import Disconnect, Header, Marker, Reconnect, Record
from afterbeat.server.ingest import EventPipeline

__all__ = ["build_report"]

_SERIES_KEYS = ("heart_rate_bpm", "rmssd_ms", "score", "arousal", "quality")


def _json(event: Any) -> dict[str, Any]:
    data = event.to_json() if hasattr(event, "to_json") else dict(event)
    return dict(data)


def build_report(header: Header, records: Iterable[Record],
                 pipeline_factory: Callable[[], EventPipeline]) -> dict[str, Any]:
    """Series, markers, gaps, states, suggestions, recovery and reset effects of a session."""
    pipeline = pipeline_factory()
    series: dict[str, list[Any]] = {"t_s": [], **{k: [] for k in _SERIES_KEYS}}
    markers: list[dict[str, Any]] = []
    gaps: list[dict[str, Any]] = []
    other: dict[str, list[dict[str, Any]]] = {}
    last_t_s = 0.0
    open_gap: float | None = None

    def take(events: list[Any]) -> None:
        for event in events:
            data = _json(event)
            kind = str(data.get("type", "event"))
            if kind == "metrics":
                series["t_s"].append(data.get("t_s"))
                for key in _SERIES_KEYS:
                    series[key].append(data.get(key))
            elif kind != "marker":
                other.setdefault(kind, []).append(data)

    for record in records:
        last_t_s = record.t_s
        if isinstance(record, Marker):
            item: dict[str, Any] = {"t_s": record.t_s, "kind": str(record.kind)}
            if record.value is not None:
                item["value"] = record.value
            if record.text is not None:
                item["text"] = record.text
            markers.append(item)
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
        "states": other.pop("state", []),
        "suggestions": other.pop("suggestion", []),
        "recovery": other.pop("recovery", []),
        "resets": list({e.get("number"): e for e in other.pop("reset_effect", [])}.values()),
        "events": {k: v for k, v in other.items() if k not in ("status",)},
    }
