"""Kubios RR text and EDF+ exports of a stored session, read back by afterbeat and pyedflib."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from afterbeat.cli import main
from afterbeat.hrv.beats import Beat, record_beats
from afterbeat.records import Disconnect, Header, Marker, MarkerKind, Reconnect, Record
from afterbeat.sources.replay import derived_notifications
from afterbeat.storage.importers import iter_beats, load_rr
from afterbeat.storage.lab_export import (
    EDF_RATE_HZ,
    heart_rate_samples,
    write_edf,
    write_kubios,
)
from afterbeat.storage.store import Store

REST = Path(__file__).parent / "data" / "polar-hrm" / "rest_rri.txt"
"""Real resting RR (see tests/data/polar-hrm/LICENSE.md)."""
STARTED = datetime(2026, 11, 30, 18, 5, 7, tzinfo=UTC)


def _records() -> list[Record]:
    """The real RR as a strap would send it, with two markers and a 20-second gap."""
    records: list[Record] = list(derived_notifications(iter_beats(REST)))
    out: list[Record] = []
    for record in records:
        if 300.0 <= record.t_s < 320.0:
            continue
        if record.t_s >= 320.0 and not any(isinstance(r, Reconnect) for r in out):
            out += [Disconnect(300.0, "silence"), Reconnect(320.0)]
        out.append(record)
    return [Marker(10.0, MarkerKind.SESSION_END), *out,
            Marker(400.0, MarkerKind.NOTE, text="walk")]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_kubios_text_round_trips_through_the_importer(tmp_path: Path) -> None:
    records = _records()
    path, sidecar = write_kubios(tmp_path / "s.kubios.txt", Header(started_at=STARTED), records)
    assert _mode(path) == 0o600 and _mode(sidecar) == 0o600
    lines = path.read_text().splitlines()
    assert all(len(line.split(".")[1]) == 6 and float(line) < 3.0 for line in lines)
    read = load_rr(path)
    assert read.info.unit is not None and str(read.info.unit) == "s"
    expected = np.array([b.rr_ms for b in record_beats(records)])
    assert read.rr_ms.size == expected.size
    assert np.max(np.abs(read.rr_ms - expected)) < 1e-3
    doc = json.loads(sidecar.read_text())
    assert doc["units"]["rr"] == "s" and doc["kubios_import_settings"]["header lines"] == 0
    assert doc["gaps"] == [{"start_t_s": 300.0, "end_t_s": 320.0}]
    assert [m["kind"] for m in doc["markers"]] == ["session_end", "note"]
    assert doc["provenance"]["started_at"] == STARTED.isoformat()


def test_heart_rate_samples_step_at_each_beat_and_zero_in_gaps() -> None:
    beats = [Beat(1.0, 1000.0), Beat(1.5, 500.0), Beat(2.5, 1000.0), Beat(6.0, 1000.0, 1)]
    hr = heart_rate_samples(beats, [{"start_t_s": 3.0, "end_t_s": 5.0}], 7.0, rate_hz=4)
    t = np.arange(hr.size) / 4
    assert hr[t == 0.0][0] == 60.0  # inside the first interval (0-1 s)
    assert hr[t == 1.25][0] == 120.0  # the 500 ms interval
    assert hr[t == 2.0][0] == 60.0
    assert hr[t == 3.5][0] == 0.0 and hr[t == 6.5][0] == 0.0  # gap; after the last beat


def test_edf_plus_holds_the_heart_rate_and_every_marker(tmp_path: Path) -> None:
    pyedflib = pytest.importorskip("pyedflib", reason="the lab extra (pyedflib) is not installed")
    records = _records()
    path = write_edf(tmp_path / "s.edf", Header(started_at=STARTED), records)
    assert _mode(path) == 0o600
    with pyedflib.EdfReader(str(path)) as reader:
        assert reader.getSignalLabels() == ["HR"]
        assert reader.getSampleFrequency(0) == EDF_RATE_HZ
        assert reader.getStartdatetime() == STARTED.replace(tzinfo=None)
        signal = reader.readSignal(0)
        onsets, durations, texts = reader.readAnnotations()
    beats = list(record_beats(records))
    expected = heart_rate_samples(beats, [{"start_t_s": 300.0, "end_t_s": 320.0}],
                                  signal.size / EDF_RATE_HZ)
    assert np.max(np.abs(signal - expected)) < 250.0 / 65535 * 2  # EDF's 16-bit resolution
    found = dict(zip(texts, onsets, strict=True))
    assert found["session_end"] == pytest.approx(10.0)
    assert found["note walk"] == pytest.approx(400.0)
    assert found["gap"] == pytest.approx(300.0)
    assert durations[list(texts).index("gap")] == pytest.approx(20.0)


def test_cli_exports_into_the_data_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    data = tmp_path / "data"
    with Store.open(data) as store:
        session_id = store.import_session(Header(started_at=STARTED), _records(), "test")
    assert main(["sessions", "export", str(session_id), "--format", "kubios", "--json",
                 "--data-dir", str(data)]) == 0
    files = [Path(p) for p in json.loads(capsys.readouterr().out)["files"]]
    assert [p.name for p in files] == [f"session-{session_id}.kubios.txt",
                                       f"session-{session_id}.kubios.txt.json"]
    assert main(["sessions", "export", str(session_id), "--format", "kubios", "-o", "-",
                 "--data-dir", str(data)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == files[0].read_text().splitlines()[0]
    assert main(["sessions", "export", str(session_id), "--format", "edf", "-o", "-",
                 "--data-dir", str(data)]) == 2
    assert main(["sessions", "delete", str(session_id), "--yes",
                 "--data-dir", str(data)]) == 0
    assert not any(p.exists() for p in files)
