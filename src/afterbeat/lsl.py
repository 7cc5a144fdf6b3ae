"""Lab Streaming Layer outlets: beats, heart rate, metrics and markers for lab recorders.

Four streams, fed by the same records and pipeline events the page gets (names, types and source
ids are stable; see docs/lab-streaming.md, which compares them with other heart-rate bridges):

- ``afterbeatRR`` (type ``RR``, 1 channel, milliseconds): one sample per beat, stamped at the
  beat (the R wave that ends the interval);
- ``afterbeatHeartRate`` (type ``HeartRate``, 1 channel, bpm): one sample per notification from
  the strap, stamped at its arrival;
- ``afterbeatMetrics`` (type ``afterbeat``, 6 channels): one sample per metrics update (every
  5 s), labels and units in the stream description, NaN where a value is unknown;
- ``afterbeatMarkers`` (type ``Markers``, 1 string channel): one sample per marker (session,
  baseline, reset, rating; notes only when the person allows it).

Names carry no spaces (LabRecorder's ``OnlineSync`` setting cannot name a stream whose name has
one); every channel has ``label``, ``unit`` (spelled out) and ``type`` under
``desc/channels/channel``, the XDF meta-data layout.

All are irregular-rate streams. Time: afterbeat's session clock ``t_s`` (monotonic seconds) is
mapped to ``pylsl.local_clock()`` once per session, at the first record
(``lsl_time = t_s + offset``), never re-estimated per sample, so the differences between RR
timestamps equal the RR intervals. LSL itself is the optional ``lab`` extra (pylsl bundles
liblsl); which network LSL announces on is set by LSL's own configuration (lsl_api.cfg).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, Final

from afterbeat.errors import AfterbeatError, MalformedMeasurement
from afterbeat.events import Event
from afterbeat.heart_rate import decode_measurement
from afterbeat.hrv.beats import BeatTimeline
from afterbeat.records import Disconnect, Marker, MarkerKind, Notification, Reconnect, Record

__all__ = ["METRIC_CHANNELS", "STREAMS", "LslPublisher", "LslUnavailable", "marker_text"]

STREAMS: Final = {
    "rr": ("afterbeatRR", "RR"),
    "heart_rate": ("afterbeatHeartRate", "HeartRate"),
    "metrics": ("afterbeatMetrics", "afterbeat"),
    "markers": ("afterbeatMarkers", "Markers"),
}
"""Stream key -> (name, type). Earlier builds used names with a space (``afterbeat RR``, ...);
docs/lab-streaming.md says why they changed."""

METRIC_CHANNELS: Final = (
    ("heart_rate_bpm", "bpm"), ("rmssd_ms", "milliseconds"), ("activation_index", "z"),
    ("score", "0-100"), ("respiration_rate_bpm", "1/min"), ("coherence", "ratio"),
)
"""Channels of the metrics stream: label and unit (the index is in SDs of the person's own
baseline; the score is 50 at the person's usual level)."""

_METRIC_KEYS: Final = ("heart_rate_bpm", "rmssd_ms", "arousal", "score",
                       "respiration_rate_bpm", "coherence")


class LslUnavailable(AfterbeatError, RuntimeError):
    """pylsl (the lab extra) is not installed or liblsl cannot be loaded."""


def marker_text(marker: Marker, include_notes: bool) -> str | None:
    """The marker as one string sample (``kind``, ``kind:value`` or ``kind:text``), or None
    for a note the person did not allow to be published."""
    if marker.kind is MarkerKind.NOTE and not include_notes:
        return None
    if marker.kind is MarkerKind.PLAN:
        return str(marker.kind)  # the plan's text is a document, not a marker label
    parts = [str(marker.kind)]
    if marker.value is not None:
        parts.append(f"{marker.value:g}")
    if marker.text:
        parts.append(marker.text)
    return ":".join(parts)


class LslPublisher:
    """Owns the four outlets; feed it records (``on_record``) and events (``on_events``)."""

    def __init__(self, source_id: str, *, include_notes: bool = False,
                 device: str | None = None) -> None:
        try:
            import pylsl
        except (ImportError, OSError, RuntimeError) as exc:
            raise LslUnavailable("Lab Streaming Layer needs pylsl: pip install "
                                 "'afterbeat[lab]'") from exc
        self._pylsl = pylsl
        self.include_notes = include_notes
        self.offset_s: float | None = None
        self._timeline = BeatTimeline()
        self._outlets: dict[str, Any] = {}
        for key, (name, kind) in STREAMS.items():
            is_marker = key == "markers"
            channels = len(METRIC_CHANNELS) if key == "metrics" else 1
            info = pylsl.StreamInfo(name, kind, channels, pylsl.IRREGULAR_RATE,
                                    pylsl.cf_string if is_marker else pylsl.cf_double64,
                                    f"{source_id}-{key}")
            desc = info.desc()
            desc.append_child_value("manufacturer", "afterbeat")
            if device:
                desc.append_child_value("device", device)
            chans = desc.append_child("channels")
            labels = METRIC_CHANNELS if key == "metrics" else (
                (("RR", "milliseconds"),) if key == "rr" else (("HeartRate", "bpm"),)
                if key == "heart_rate" else (("Marker", "text"),))
            for label, unit in labels:
                ch = chans.append_child("channel")
                ch.append_child_value("label", label)
                ch.append_child_value("unit", unit)
                ch.append_child_value("type", kind)
            self._outlets[key] = pylsl.StreamOutlet(info, 0, 3600)

    def wait_for_consumers(self, timeout_s: float) -> bool:
        """Wait until every stream has a consumer (e.g. LabRecorder); False on timeout."""
        return all(outlet.wait_for_consumers(timeout_s) for outlet in self._outlets.values())

    def _lsl_time(self, t_s: float) -> float:
        if self.offset_s is None:  # once per session: session clock -> LSL clock
            self.offset_s = float(self._pylsl.local_clock()) - t_s
        return t_s + self.offset_s

    def on_record(self, record: Record) -> None:
        """Publish what a record carries: beats and heart rate, or a marker."""
        stamp = self._lsl_time(record.t_s)
        if isinstance(record, Notification):
            try:
                measurement = decode_measurement(record.payload)
            except MalformedMeasurement:
                return  # counted by the pipeline; nothing to publish
            if measurement.heart_rate_bpm:
                self._outlets["heart_rate"].push_sample([float(measurement.heart_rate_bpm)],
                                                        stamp)
            for beat in self._timeline.push(record.t_s, measurement.rr_ms):
                self._outlets["rr"].push_sample([beat.rr_ms], self._lsl_time(beat.t_s))
        elif isinstance(record, Disconnect | Reconnect):
            self._timeline.break_segment()
        elif isinstance(record, Marker):
            text = marker_text(record, self.include_notes)
            if text is not None:
                self._outlets["markers"].push_sample([text], stamp)

    def on_events(self, events: Iterable[Event]) -> None:
        """Publish the metrics updates among pipeline events."""
        for event in events:
            data = event.to_json()
            if data.get("type") != "metrics":
                continue
            sample = [float(v) if isinstance(v, int | float) and not isinstance(v, bool)
                      and math.isfinite(v) else math.nan
                      for v in (data.get(k) for k in _METRIC_KEYS)]
            self._outlets["metrics"].push_sample(sample, self._lsl_time(float(data["t_s"])))

    def observe(self, record: Record | None, events: Sequence[Event]) -> None:
        """Publish one record and the events it produced (the server's ingest observer seam;
        ``None`` with the closing events when the source ends)."""
        if record is not None:
            self.on_record(record)
        self.on_events(events)

    def close(self) -> None:
        """Drop the outlets (inlets see the streams end)."""
        self._outlets.clear()
