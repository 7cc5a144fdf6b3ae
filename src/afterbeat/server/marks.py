"""Marks made by the server (markers, resets, plans) on the one live path, at the source's time."""

from __future__ import annotations

from afterbeat.records import Marker, MarkerKind
from afterbeat.server.ingest import Ingest
from afterbeat.sources import Source

__all__ = ["Marks"]


class Marks:
    """Make a marker now (session seconds) and send it through recording, pipeline and hub."""

    def __init__(self, ingest: Ingest, source: Source | None) -> None:
        self._ingest = ingest
        self._source = source

    def now_s(self) -> float:
        """The session clock (s) for markers made now."""
        if self._source is not None:
            return round(self._source.now_s(), 6)
        return self._ingest.status.last_t_s or 0.0

    def mark(self, kind: MarkerKind, value: float | None = None, text: str | None = None
             ) -> Marker:
        """Make a marker now and send it down the live path (recording + pipeline + hub)."""
        marker = Marker(t_s=self.now_s(), kind=kind, value=value, text=text)
        self._ingest.inject(marker)
        return marker
