"""Exports labs read: RR text exactly as Kubios HRV imports it, and EDF+ with annotations.

*Kubios RR text*: one RR interval per line in seconds (6 decimals, i.e. 1 microsecond, finer
than the strap's 1/1024 s), nothing else in the file, so Kubios' "RR interval data" import reads
it with its defaults (see :data:`KUBIOS_IMPORT_SETTINGS`). Kubios sees one continuous series, so
a sidecar JSON file states the units, where the data came from, the gaps (analyse the segments
between them separately) and the markers.

*EDF+* (European Data Format, continuous, via pyedflib): one signal, heart rate in bpm derived
from RR and sampled evenly at :data:`EDF_RATE_HZ` (each sample is 60000 / the RR interval in
progress at that moment, so it steps at each beat); 0 bpm marks samples in a gap. Markers and
gaps are EDF+ annotations. The recording field names afterbeat and the derivation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from afterbeat import __version__
from afterbeat.errors import AfterbeatError
from afterbeat.hrv.beats import Beat, record_beats
from afterbeat.paths import write_private_file
from afterbeat.records import Disconnect, Header, Marker, Reconnect, Record, SkipReport

__all__ = [
    "EDF_RATE_HZ",
    "KUBIOS_IMPORT_SETTINGS",
    "ExportUnavailable",
    "kubios_rr_text",
    "write_edf",
    "write_kubios",
]

KUBIOS_IMPORT_SETTINGS: Final = {
    "file type": "RR interval data (.txt), 'Open data file' in Kubios HRV",
    "columns": "one column: RR intervals",
    "unit": "seconds (Kubios detects seconds when values are below 10)",
    "header lines": 0,
    "separator": "new line",
}
"""How Kubios HRV reads the file, stated in the sidecar and in docs/lab-exports.md."""

EDF_RATE_HZ: Final = 4
"""Samples per second of the EDF+ heart-rate signal (4 Hz, the usual HRV resampling rate)."""


class ExportUnavailable(AfterbeatError, RuntimeError):
    """An export that needs an optional package which is not installed, or has no beats."""


def kubios_rr_text(beats: Iterable[Beat]) -> str:
    """RR intervals in seconds, one per line, as Kubios HRV's RR text import expects."""
    return "".join(f"{beat.rr_ms / 1000.0:.6f}\n" for beat in beats)


def _events(records: Sequence[Record]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    gaps: list[dict[str, Any]] = []
    markers: list[dict[str, Any]] = []
    open_gap: float | None = None
    for record in records:
        if isinstance(record, Disconnect):
            open_gap = record.t_s if open_gap is None else open_gap
        elif isinstance(record, Reconnect) and open_gap is not None:
            gaps.append({"start_t_s": open_gap, "end_t_s": record.t_s})
            open_gap = None
        elif isinstance(record, Marker):
            markers.append({"t_s": record.t_s, "kind": str(record.kind), "value": record.value,
                            "text": record.text})
    if open_gap is not None and records:
        gaps.append({"start_t_s": open_gap, "end_t_s": records[-1].t_s})
    return gaps, markers


def _provenance(header: Header) -> dict[str, Any]:
    return {"software": f"afterbeat {__version__}", "started_at": header.started_at.isoformat(),
            "device": header.device, "source_provenance": header.provenance}


def write_kubios(path: Path, header: Header, records: Iterable[Record]) -> tuple[Path, Path]:
    """Write the Kubios RR text file and its sidecar (``<name>.json``), both 0600."""
    kept = list(records)
    skips = SkipReport()
    beats = list(record_beats(kept, str(path), skips))
    if not beats:
        raise ExportUnavailable("this session has no RR intervals to export")
    gaps, markers = _events(kept)
    write_private_file(path, kubios_rr_text(beats).encode("ascii"))
    sidecar = path.with_name(path.name + ".json")
    document = {
        "schema": "afterbeat-kubios-rr/1", "file": path.name,
        "units": {"rr": "s", "t_s": "s since the session start"},
        "beats": len(beats), "first_beat_t_s": beats[0].t_s,
        "kubios_import_settings": KUBIOS_IMPORT_SETTINGS,
        "gaps": gaps,
        "gap_note": "Kubios sees one continuous series; the RR values on both sides of a gap "
                    "follow each other directly. Analyse the segments between gaps separately.",
        "markers": markers, "skipped": skips.summary(), "provenance": _provenance(header),
    }
    write_private_file(sidecar, (json.dumps(document, indent=2) + "\n").encode("utf-8"))
    return path, sidecar


def heart_rate_samples(beats: Sequence[Beat], gaps: Sequence[dict[str, Any]], duration_s: float,
                       rate_hz: int = EDF_RATE_HZ) -> npt.NDArray[np.float64]:
    """Heart rate (bpm) at ``rate_hz`` from t = 0: the RR interval in progress at each sample,
    0 before the first beat, after the last and inside gaps."""
    n = max(1, int(np.ceil(duration_s * rate_hz)))
    t = np.arange(n, dtype=np.float64) / rate_hz
    out = np.zeros(n, dtype=np.float64)
    if beats:
        ends = np.array([b.t_s for b in beats])
        rr_s = np.array([b.rr_ms for b in beats]) / 1000.0
        index = np.searchsorted(ends, t, side="left")
        inside = index < len(beats)
        starts = np.where(inside, ends[np.minimum(index, len(beats) - 1)]
                          - rr_s[np.minimum(index, len(beats) - 1)], np.inf)
        ok = inside & (t >= starts)
        out[ok] = 60.0 / rr_s[index[ok]]
    for gap in gaps:
        out[(t >= gap["start_t_s"]) & (t < gap["end_t_s"])] = 0.0
    return out


def write_edf(path: Path, header: Header, records: Iterable[Record]) -> Path:
    """Write an EDF+ file (0600): RR-derived heart rate at 4 Hz, markers and gaps annotated."""
    try:
        import pyedflib
    except ImportError as exc:
        raise ExportUnavailable("EDF+ export needs pyedflib: pip install 'afterbeat[lab]'"
                                ) from exc
    kept = list(records)
    beats = list(record_beats(kept, str(path)))
    if not beats:
        raise ExportUnavailable("this session has no RR intervals to export")
    gaps, markers = _events(kept)
    duration_s = max(beats[-1].t_s, kept[-1].t_s if kept else 0.0) + 1.0
    duration_s = float(np.ceil(duration_s))  # whole one-second data records
    samples = heart_rate_samples(beats, gaps, duration_s)
    write_private_file(path, b"")  # created 0600 first: pyedflib keeps the mode
    writer = pyedflib.EdfWriter(os.fspath(path), 1, file_type=pyedflib.FILETYPE_EDFPLUS)
    try:
        edf_header: dict[str, Any] = {
            "technician": "", "recording_additional": "afterbeat; HR from strap RR",
            "patientname": "X", "patient_additional": "", "patientcode": "",
            "equipment": str(header.device.get("name", "heart-rate strap"))[:30],
            "admincode": "", "sex": "", "startdate": header.started_at.replace(tzinfo=None),
            "birthdate": "",
        }
        writer.setHeader(edf_header)
        writer.setSignalHeader(0, {
            "label": "HR", "dimension": "bpm", "sample_frequency": EDF_RATE_HZ,
            "physical_min": 0.0, "physical_max": 250.0, "digital_min": -32768,
            "digital_max": 32767, "transducer": "chest strap RR (0 = no data)",
            "prefilter": "none",
        })
        writer.writeSamples([np.clip(samples, 0.0, 250.0)])
        for marker in markers:
            words = " ".join(str(v) for v in (marker["kind"], marker["value"], marker["text"])
                             if v is not None)
            writer.writeAnnotation(marker["t_s"], -1, words[:200])
        for gap in gaps:
            writer.writeAnnotation(gap["start_t_s"], gap["end_t_s"] - gap["start_t_s"], "gap")
    finally:
        writer.close()
    return path
