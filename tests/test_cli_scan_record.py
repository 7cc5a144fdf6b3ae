"""``afterbeat scan`` and ``afterbeat record`` end to end, with the replay bleak backend.

AFTERBEAT_BLE_BACKEND=replay:SCENARIO.json makes both commands drive a scripted strap through
bleak's public API in real time (short scenarios: derived frames from the real H10 recording
sent every 50 ms).
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from afterbeat.cli import main
from afterbeat.records import Disconnect, Notification
from afterbeat.sources.ble import STRAP_FILENAME, remembered_strap
from afterbeat.storage.store import Store
from ble_fixtures import derived_h10_frames

FRAMES = [p for _, p in derived_h10_frames(20)]


def scenario(tmp_path: Path, **extra: object) -> Path:
    obj = {
        "name": "Polar H10 0A1B2C3D",
        "address": "F0:0D:00:00:0D:01",
        "rssi_dbm": -58,
        "links": [{"frames": [[0.05 * (i + 1), p.hex()] for i, p in enumerate(FRAMES)],
                   "end": "silence"}],
        **extra,
    }
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(obj))
    return path


def test_scan_lists_the_strap_as_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AFTERBEAT_BLE_BACKEND", f"replay:{scenario(tmp_path)}")
    assert main(["scan", "--timeout", "0.4", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found == [{"name": "Polar H10 0A1B2C3D", "address": "F0:0D:00:00:0D:01",
                      "rssi_dbm": -58}]


def test_scan_with_nothing_around_says_what_to_try(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AFTERBEAT_BLE_BACKEND",
                       f"replay:{scenario(tmp_path, advertise_from_s=1000.0)}")
    assert main(["scan", "--timeout", "0.3"]) == 1
    err = capsys.readouterr().err
    assert "wet the strap's electrodes" in err
    assert "close the phone or watch app" in err


def test_record_writes_the_session_and_remembers_the_strap(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("AFTERBEAT_BLE_BACKEND", f"replay:{scenario(tmp_path)}")
    assert main(["record", "--duration", "1.6", "--data-dir", str(data)]) == 0
    out, err = capsys.readouterr()
    assert "recorded session 1" in out
    assert "streaming" in err
    with Store.open(data) as store:
        (summary,) = store.list_sessions()
        assert summary.source == "ble"
        assert summary.device_name == "Polar H10 0A1B2C3D"
        _header, records = store.iter_records(summary.id)
        got = list(records)
    assert [r.payload for r in got if isinstance(r, Notification)] == FRAMES
    assert not [r for r in got if isinstance(r, Disconnect)]
    assert remembered_strap(data) == ("F0:0D:00:00:0D:01", "Polar H10 0A1B2C3D")
    assert stat.S_IMODE((data / STRAP_FILENAME).stat().st_mode) == 0o600


def test_record_uses_the_remembered_strap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / STRAP_FILENAME).write_text('{"address": "11:22:33:44:55:66", "name": "Other"}')
    monkeypatch.setenv("AFTERBEAT_BLE_BACKEND", f"replay:{scenario(tmp_path)}")
    assert main(["record", "--duration", "0.5", "--data-dir", str(data)]) == 1
    err = capsys.readouterr().err
    assert "remembered strap Other 11:22:33:44:55:66" in err
    assert "nothing recorded" in err
