"""``afterbeat sessions``: list, show, export and delete recordings in the data directory."""

from __future__ import annotations

import io
import json
import sqlite3
import stat
from pathlib import Path

import pytest

from afterbeat.cli import main
from afterbeat.cli.sessions import format_duration
from afterbeat.records import Marker, MarkerKind
from afterbeat.storage.session_file import iter_session
from afterbeat.storage.store import Store
from kill_writer import derived_notifications


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[Path, int, int]:
    """A data directory with one complete (real, derived) session and one cut short."""
    data = tmp_path / "data"
    header, notifications = derived_notifications()
    with Store.open(data) as store:
        complete = store.import_session(header, notifications, "import")
        store.put_result(complete, "rating", 7)
    crashed_store = Store.open(data)
    crashed = crashed_store.start_session(header, "ble")
    for n in notifications[:5]:
        crashed_store.append(crashed, n)
    crashed_store.append(crashed, Marker(t_s=4.0, kind=MarkerKind.NOTE, text="MARKER-cli"))
    crashed_store.close()  # never ended: found interrupted by the next command
    return data, complete, crashed


def test_list_shows_sessions_and_reports_the_interrupted_one(
    recorded: tuple[Path, int, int], capsys: pytest.CaptureFixture[str]
) -> None:
    data, complete, crashed = recorded
    assert main(["sessions", "list", "--data-dir", str(data)]) == 0
    out, err = capsys.readouterr()
    assert f"session {crashed} was cut short" in err
    lines = out.splitlines()
    assert lines[0].split() == ["id", "started", "(UTC)", "duration", "status", "notifications",
                                "source"]
    assert lines[1].split() == [str(complete), "2024-05-05", "14:50:00", "0:09:59", "complete",
                                "600", "import"]
    assert lines[2].split()[4:] == ["interrupted", "5", "ble"]

    assert main(["sessions", "list", "--json", "--data-dir", str(data)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(s["id"], s["status"], s["notification_count"]) for s in listed] == [
        (complete, "complete", 600), (crashed, "interrupted", 5)]
    assert listed[0]["device_name"] == "Polar H10 (derived)"


def test_show_counts_records_markers_and_results(
    recorded: tuple[Path, int, int], capsys: pytest.CaptureFixture[str]
) -> None:
    data, complete, crashed = recorded
    assert main(["sessions", "show", str(crashed), "--json", "--data-dir", str(data)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["record_counts"] == {"marker": 1, "notification": 5}
    assert shown["markers"] == [{"type": "marker", "t_s": 4.0, "kind": "note", "value": None,
                                 "text": "MARKER-cli"}]
    assert main(["sessions", "show", str(complete), "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "notification 600" in out and "result              rating" in out


def test_export_writes_a_private_session_file(
    recorded: tuple[Path, int, int], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data, complete, _ = recorded
    target = tmp_path / "mine.jsonl"
    assert main(["sessions", "export", str(complete), "-o", str(target),
                 "--data-dir", str(data)]) == 0
    assert str(target) in capsys.readouterr().out
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    header, records = iter_session(target)
    assert (header, list(records)) == derived_notifications()

    assert main(["sessions", "export", str(complete), "--json", "--data-dir", str(data)]) == 0
    default = Path(json.loads(capsys.readouterr().out)["path"])
    assert default.parent == data / "exports" and default.read_bytes() == target.read_bytes()

    assert main(["sessions", "export", str(complete), "-o", "-", "--data-dir", str(data)]) == 0
    assert capsys.readouterr().out.encode() == target.read_bytes()


def test_delete_needs_confirmation_then_erases(
    recorded: tuple[Path, int, int], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data, complete, crashed = recorded
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # not a terminal: never asks
    assert main(["sessions", "delete", str(crashed), "--data-dir", str(data)]) == 1
    assert "add --yes" in capsys.readouterr().err
    assert main(["sessions", "delete", str(crashed), "--yes", "--json",
                 "--data-dir", str(data)]) == 0
    assert json.loads(capsys.readouterr().out) == {"id": crashed, "deleted": True,
                                                   "wal_emptied": True}
    raw = b"".join(p.read_bytes() for p in data.glob("sessions.sqlite3*"))
    assert b"MARKER-cli" not in raw
    assert main(["sessions", "delete", str(crashed), "--yes", "--data-dir", str(data)]) == 2
    assert f"no session {crashed}" in capsys.readouterr().err
    with Store.open(data) as store:
        assert [s.id for s in store.list_sessions()] == [complete]


def test_import_brings_an_export_back_as_a_new_session(
    recorded: tuple[Path, int, int], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data, _, crashed = recorded
    exported = tmp_path / "crashed.jsonl"
    assert main(["sessions", "export", str(crashed), "-o", str(exported),
                 "--data-dir", str(data)]) == 0
    with open(exported, "a", encoding="utf-8") as handle:
        handle.write("{not json\n")
    capsys.readouterr()
    assert main(["sessions", "import", str(exported), "--json", "--data-dir", str(data)]) == 0
    out, err = capsys.readouterr()
    imported = json.loads(out)
    assert "1 line(s) skipped" in err
    assert imported["status"] == "complete" and imported["source"] == "import"
    assert imported["notification_count"] == 5 and imported["skipped_lines"] == 1
    with Store.open(data) as store:
        original = list(store.iter_records(crashed)[1])
        assert list(store.iter_records(imported["id"])[1]) == original
    assert main(["sessions", "import", str(tmp_path / "missing.jsonl"),
                 "--data-dir", str(data)]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_format_duration() -> None:
    assert [format_duration(s) for s in (0, 59.6, 3599, 3600 * 25 + 61)] == [
        "0:00:00", "0:01:00", "0:59:59", "25:01:01"]


def _raw_count(data: Path, session: int) -> dict[str, int]:
    """Rows of ``session`` in every table that holds some, read with sqlite3 directly."""
    raw = sqlite3.connect(data / "sessions.sqlite3")
    try:
        return {table: int(raw.execute(f"SELECT count(*) FROM {table} WHERE {column} = ?",
                                       (session,)).fetchone()[0])
                for table, column in (("sessions", "id"), ("records", "session_id"),
                                      ("session_results", "session_id"),
                                      ("document_sources", "session_id"))}
    finally:
        raw.close()


@pytest.mark.parametrize("damaged", [b"{not json", b'{"started_at": "\xff\xfe'],
                         ids=["not-json", "not-utf8"])
def test_a_session_whose_header_is_damaged_lists_as_damaged_and_deletes(
    recorded: tuple[Path, int, int], capsys: pytest.CaptureFixture[str], damaged: bytes,
) -> None:
    data, complete, crashed = recorded
    with Store.open(data) as store:  # rows for every table a session has
        store.put_document("baseline", {"rests": 1}, derived_from=crashed)
    raw = sqlite3.connect(data / "sessions.sqlite3")
    with raw:  # the header as damage (or an old version) could leave it: not JSON, not UTF-8
        raw.execute("UPDATE sessions SET header = CAST(? AS TEXT) WHERE id = ?",
                    (damaged, crashed))
    raw.close()
    assert _raw_count(data, crashed) == {"sessions": 1, "records": 6, "session_results": 0,
                                         "document_sources": 1}

    assert main(["sessions", "list", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}
    assert "damaged" in rows[str(crashed)] and "damaged" not in rows[str(complete)]
    assert main(["sessions", "list", "--json", "--data-dir", str(data)]) == 0
    listed = {s["id"]: s for s in json.loads(capsys.readouterr().out)}
    assert "header" in listed[crashed]["problems"][0] and listed[complete]["problems"] == []

    assert main(["sessions", "delete", str(crashed), "--yes", "--json",
                 "--data-dir", str(data)]) == 0
    assert json.loads(capsys.readouterr().out)["deleted"] is True
    assert _raw_count(data, crashed) == {"sessions": 0, "records": 0, "session_results": 0,
                                         "document_sources": 0}
    assert b"MARKER-cli" not in b"".join(p.read_bytes() for p in data.glob("sessions.sqlite3*"))
    with Store.open(data) as store:
        assert [s.id for s in store.list_sessions()] == [complete]
        assert store.get_document("baseline") is None  # derived only from the erased session


def test_reading_a_folder_whose_sessions_are_the_demos_says_where_and_creates_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`afterbeat demo --data-dir X` keeps its sessions in X/demo: commands that only read X
    point there and leave X as it was (no empty database)."""
    data = tmp_path / "data"
    header, notifications = derived_notifications()
    with Store.open(data / "demo") as store:
        store.import_session(header, notifications, "replay")
    before = sorted(p.name for p in data.iterdir())
    hint = f"the demo's are in {data / 'demo'}: use --data-dir {data / 'demo'}"
    assert main(["sessions", "list", "--data-dir", str(data)]) == 0
    assert hint in capsys.readouterr().out
    assert main(["sessions", "list", "--json", "--data-dir", str(data)]) == 0
    shown = capsys.readouterr()
    assert json.loads(shown.out) == [] and hint in shown.err
    assert main(["sessions", "show", "1", "--data-dir", str(data)]) == 2
    assert hint in capsys.readouterr().err
    assert main(["summary", "--data-dir", str(data)]) == 1
    assert hint in capsys.readouterr().err
    assert main(["baseline", "--show", "--data-dir", str(data)]) == 0
    assert hint in capsys.readouterr().out
    assert sorted(p.name for p in data.iterdir()) == before == ["demo"]
    # ... and a folder that does not exist stays so.
    missing = tmp_path / "nothing-here"
    assert main(["sessions", "list", "--data-dir", str(missing)]) == 0
    assert "no sessions recorded yet" in capsys.readouterr().out and not missing.exists()
    # With the demo's folder, the sessions are there.
    assert main(["sessions", "list", "--json", "--data-dir", str(data / "demo")]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
