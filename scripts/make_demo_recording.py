"""Build the bundled demo recording from a real 24-hour Holter RR series.

The RR intervals are real (PhysioNet "RR interval time series from healthy subjects",
subject 000, CC BY 4.0); the notifications are derived from them as a Polar-like strap would
send them (about one a second, RR in 1/1024 s); the markers are placed for illustration.

Usage: python scripts/make_demo_recording.py [SOURCE_TXT] [OUT_JSONL]
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from afterbeat.heart_rate import (
    HeartRateMeasurement,
    SensorContact,
    encode_measurement,
    rr_ms_to_raw,
)
from afterbeat.records import (
    DeviceEvent,
    DeviceEventKind,
    Header,
    Marker,
    MarkerKind,
    Notification,
    Record,
)
from afterbeat.storage.importers import load_rr
from afterbeat.storage.session_file import write_session

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tests/data/physionet-healthy-24h/000.txt"
OUT = ROOT / "src/afterbeat/data/demo.jsonl"
START_MIN = 1075.0
"""Minute of the 24-hour series where the demo starts: a calm stretch before a rise."""
LENGTH_MIN = 45.0
LATENCY_S = 0.08
"""Delay between a beat and the notification carrying it."""
STARTED_AT = datetime(2021, 1, 1, 12, 0, tzinfo=UTC)
MARKERS_MIN: tuple[tuple[float, MarkerKind, str | None], ...] = (
    (0.5, MarkerKind.BASELINE_START, None),
    (7.5, MarkerKind.BASELINE_END, None),
    (8.0, MarkerKind.SESSION_START, None),
    (13.0, MarkerKind.SESSION_END, None),
)


def derive(source: Path) -> list[Record]:
    """Real RR from ``source`` re-encoded as 0x2A37 notifications, plus illustrative markers."""
    beats = load_rr(source)
    start_s, end_s = START_MIN * 60.0, (START_MIN + LENGTH_MIN) * 60.0
    chosen = [(t, rr) for t, rr in zip(beats.t_s.tolist(), beats.rr_ms.tolist(), strict=True)
              if start_s < t <= end_s]
    records: list[Record] = [
        DeviceEvent(t_s=0.2, kind=DeviceEventKind.BATTERY, value=87),
        DeviceEvent(t_s=1.08, kind=DeviceEventKind.CONTACT, value="detected"),
    ]
    # Like a real strap: one notification a second carrying the beats of that second.
    index = 0
    recent: list[float] = []
    for second in range(1, int(LENGTH_MIN * 60) + 1):
        carried: list[float] = []
        while index < len(chosen) and chosen[index][0] - start_s <= second:
            carried.append(chosen[index][1])
            index += 1
        recent = (recent + carried)[-8:]
        if recent:
            records.append(_notification(float(second), carried, recent))
    for minute, kind, text in MARKERS_MIN:
        records.append(Marker(t_s=minute * 60.0, kind=kind, text=text))
    records.sort(key=lambda r: r.t_s)
    return records


def _notification(t_s: float, rr_ms: list[float], recent: list[float]) -> Notification:
    heart_rate_bpm = round(60000.0 / (sum(recent) / len(recent)))
    measurement = HeartRateMeasurement(
        heart_rate_bpm=min(heart_rate_bpm, 255),
        sensor_contact=SensorContact.DETECTED,
        rr_raw=tuple(rr_ms_to_raw(v) for v in rr_ms),
    )
    arrival_s = t_s + LATENCY_S
    return Notification(t_s=round(arrival_s, 3), wall_s=STARTED_AT.timestamp() + arrival_s,
                        payload=encode_measurement(measurement))


def main(argv: list[str]) -> int:
    """Write the demo recording."""
    source = Path(argv[1]) if len(argv) > 1 else SOURCE
    out = Path(argv[2]) if len(argv) > 2 else OUT
    header = Header(
        started_at=STARTED_AT,
        device={"name": "Demo recording (real heartbeats replayed)",
                "model": "derived from Holter RR", "body_sensor_location": "chest"},
        provenance={
            "real": "RR intervals: PhysioNet 'RR interval time series from healthy subjects' "
            "(Irurzun et al. 2021, doi 10.13026/51yd-d219, CC BY 4.0), subject 000, "
            f"minutes {START_MIN:g}-{START_MIN + LENGTH_MIN:g} of a 24-hour Holter recording",
            "derived": "notifications re-encoded from the real RR (RR in 1/1024 s = "
            "round(ms * 1.024), about one a second, heart rate field from the last 8 RR), "
            "battery and contact events",
            "illustration": "baseline, session start and session end markers were placed for "
            "illustration; no therapy session took place, the rise in heart rate is the "
            "person's own daily life",
            "start_time": "nominal; the recording's real start time is not published",
        },
    )
    write_session(out, header, derive(source))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
