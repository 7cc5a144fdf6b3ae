"""Issue 14 (items 1, 4, 6, 9, 11): hostile files and arguments get a clear message or a
counted skip, never a traceback, an unreadable data folder or unbounded memory."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from afterbeat.cli import main
from afterbeat.errors import AfterbeatError, InvalidValue, SessionFileError
from afterbeat.hrv.analysis import SAMPEN_MAX_BEATS, analyze
from afterbeat.records import (
    MAX_RR_MS,
    MAX_T_S,
    Header,
    Marker,
    MarkerKind,
    Notification,
    Record,
    SkipReport,
    check_t_s,
    clean_text,
    parse_started_at,
)
from afterbeat.sources.replay import BadMark, ReplaySource, open_recording, parse_mark
from afterbeat.storage.export import write_rr_csv
from afterbeat.storage.importers import iter_beats, load_rr
from afterbeat.storage.lines import MAX_LINE_CHARS
from afterbeat.storage.session_file import encode_header, encode_record, iter_session
from afterbeat.storage.store import DB_FILENAME, Store

HEADER = ('{"type":"header","format":"afterbeat-session","version":1,'
          '"started_at":"2026-11-26T09:30:00Z","device":{"name":"Polar H10"}}')
BEAT = '{"type":"notification","t_s":%s,"wall_s":1795000000,"hex":"1046ee03"}'


def session(path: Path, *lines: str, header: str = HEADER) -> Path:
    """Write a session file of a header and raw record lines."""
    path.write_text("\n".join((header, *lines)) + "\n", encoding="utf-8")
    return path


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the CLI in-process: (exit status, stdout, stderr); argparse exits count too."""
    try:
        status = main(argv)
    except SystemExit as exc:
        status = int(exc.code) if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status: int, err: str) -> None:
    assert status == 2
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


def beats(n: int, *, base_ms: float = 800.0) -> list[int]:
    """A deterministic RR series (ms) of n beats with some variation."""
    return [int(base_ms + 40 * np.sin(i / 3.0)) for i in range(n)]


# -- item 1: one bad recording must not get in, let alone brick the data folder --------------

def test_record_at_1e12_is_skipped_with_line_and_field(tmp_path: Path) -> None:
    path = session(tmp_path / "s.jsonl", BEAT % "1", BEAT % "1e12", BEAT % "2")
    skips = SkipReport()
    _, records = iter_session(path, skips)
    assert [r.t_s for r in records] == [1.0, 2.0]
    assert skips.count == 1
    assert f"{path}:3: t_s:" in skips.examples[0]


def test_import_of_1e12_record_leaves_the_data_folder_readable(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = session(tmp_path / "s.jsonl", BEAT % "1", BEAT % "1e12")
    data = tmp_path / "data"
    status, _, err = cli(["sessions", "import", str(path), "--data-dir", str(data)], capsys)
    assert status == 0 and "1 line(s) skipped" in err
    with Store.open(data) as store:
        (summary,) = store.list_sessions()
    assert summary.ended_at is not None and summary.ended_at.year == 2026
    assert cli(["sessions", "list", "--data-dir", str(data)], capsys)[0] == 0


@pytest.mark.parametrize("started_at", ["9999-12-31T00:00:00Z", "0001-01-01T00:00:00Z",
                                        "2026-11-26T09:30:00", "not a time", "2026-13-45"])
def test_header_start_out_of_range_is_refused_naming_line_and_field(
        tmp_path: Path, started_at: str, capsys: pytest.CaptureFixture[str]) -> None:
    header = HEADER.replace("2026-11-26T09:30:00Z", started_at)
    path = session(tmp_path / "s.jsonl", BEAT % "1", header=header)
    with pytest.raises(SessionFileError, match=r":1: bad header: started_at"):
        iter_session(path)
    status, _, err = cli(["sessions", "import", str(path), "--data-dir",
                          str(tmp_path / "d")], capsys)
    assert_one_line_error(status, err)


@pytest.mark.parametrize("version", ["true", "false", "1.0", '"1"', "2", "0", "null"])
def test_header_version_must_be_the_integer_1(tmp_path: Path, version: str) -> None:
    header = HEADER.replace('"version":1', f'"version":{version}')
    path = session(tmp_path / "s.jsonl", header=header)
    with pytest.raises(SessionFileError, match="version"):
        iter_session(path)


@pytest.mark.parametrize("header", ["not json", "[1, 2]", "{", '"header"', "[" * 100_000])
def test_header_that_is_not_a_json_object_is_a_clear_error(tmp_path: Path, header: str) -> None:
    path = session(tmp_path / "s.jsonl", BEAT % "1", header=header)
    with pytest.raises(SessionFileError, match=r":1: bad header"):
        iter_session(path)


def test_deeply_nested_record_line_is_skipped_not_a_recursion_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = session(tmp_path / "s.jsonl", BEAT % "1", "[" * 200_000, BEAT % "2")
    skips = SkipReport()
    _, records = iter_session(path, skips)
    assert len(list(records)) == 2
    assert "nested too deeply" in skips.examples[0]
    status, _, err = cli(["sessions", "import", str(path), "--data-dir",
                          str(tmp_path / "d")], capsys)
    assert status == 0 and "Traceback" not in err


@pytest.mark.parametrize("bad", ['"t_s":NaN', '"t_s":Infinity', '"t_s":-1', '"t_s":1e999',
                                 '"t_s":' + "9" * 400, '"t_s":true', '"t_s":"1"'])
def test_non_finite_or_odd_times_are_counted_skips(tmp_path: Path, bad: str) -> None:
    line = (BEAT % "1").replace('"t_s":1', bad)
    path = session(tmp_path / "s.jsonl", line, BEAT % "2")
    skips = SkipReport()
    _, records = iter_session(path, skips)
    assert [r.t_s for r in records] == [2.0]
    assert skips.count == 1


def test_lone_surrogates_in_header_and_marker_become_replacement_characters(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    header = HEADER.replace("Polar H10", "Polar \\ud800")
    marker = '{"type":"marker","t_s":1,"kind":"note","text":"a\\udfffb"}'
    path = session(tmp_path / "s.jsonl", marker, BEAT % "1", header=header)
    read_header, records = iter_session(path)
    (note, _) = list(records)
    assert read_header.device["name"] == "Polar \ufffd"
    assert isinstance(note, Marker) and note.text == "a\ufffdb"
    assert encode_header(read_header).encode("utf-8")
    status, _, err = cli(["sessions", "import", str(path), "--data-dir",
                          str(tmp_path / "d")], capsys)
    assert status == 0 and "Traceback" not in err


def test_replay_of_a_surrogate_header_streams_to_the_end(tmp_path: Path) -> None:
    header = HEADER.replace("Polar H10", "\\ud800")
    path = session(tmp_path / "s.jsonl", *(BEAT % i for i in range(1, 30)), header=header)
    source = ReplaySource(path, speed=None)

    async def drain() -> int:
        return sum([1 async for _ in source.stream()])

    assert asyncio.run(drain()) == 31  # streaming status, 29 records, finished status
    assert source.header.device["name"] == "\ufffd"


def test_validators_name_the_field() -> None:
    with pytest.raises(InvalidValue, match="^t_s: "):
        check_t_s(MAX_T_S * 2)
    with pytest.raises(InvalidValue, match="^started_at: "):
        parse_started_at("9999-12-31T00:00:00Z")
    assert parse_started_at("2026-11-26T09:30:00+02:00").tzinfo is not None
    assert clean_text("\ud800", "text") == "\ufffd"


# -- item 6: bounded lines, fields and time -------------------------------------------------

def _peak_bytes(action: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _no_newline_file(path: Path, size: int, prefix: str = "") -> Path:
    with path.open("w", encoding="utf-8") as handle:
        handle.write(prefix)
        chunk = "1" * 65536
        for _ in range(size // len(chunk)):
            handle.write(chunk)
    return path


@pytest.mark.parametrize("suffix", [".txt", ".jsonl"])
def test_file_without_newlines_is_read_in_bounded_memory(tmp_path: Path, suffix: str) -> None:
    size = 16 * 2**20  # the bench runs 2 GB; memory must not follow the file's size
    prefix = HEADER + "\n" if suffix == ".jsonl" else ""
    path = _no_newline_file(tmp_path / f"big{suffix}", size, prefix)

    def read() -> None:
        with pytest.raises(SessionFileError):
            load_rr(path, unit="ms")

    assert _peak_bytes(read) < 4 * MAX_LINE_CHARS < size


def test_overlong_session_line_is_a_counted_skip(tmp_path: Path) -> None:
    path = session(tmp_path / "s.jsonl", BEAT % "1", "x" * (MAX_LINE_CHARS + 10), BEAT % "2")
    skips = SkipReport()
    _, records = iter_session(path, skips)
    assert len(list(records)) == 2
    assert skips.count == 1 and "longer than" in skips.examples[0]


def test_overlong_header_line_is_a_clear_error(tmp_path: Path) -> None:
    path = _no_newline_file(tmp_path / "h.jsonl", 2 * MAX_LINE_CHARS, '{"type":"header","x":"')
    with pytest.raises(SessionFileError, match=":1: header line longer"):
        iter_session(path)


def test_csv_field_over_the_csv_limit_is_a_counted_skip(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [f"{v},1" for v in beats(300)]
    rows.insert(5, '"' + "1" * 140_000 + '",1')
    path = tmp_path / "rr.csv"
    path.write_text("rr_ms,x\n" + "\n".join(rows) + "\n", encoding="utf-8")
    result = load_rr(path)
    assert len(result) == 300
    assert result.skips.count == 1 and "field larger" in result.skips.examples[0]
    for command in (["analyze", "--no-sampen"], ["replay"]):
        status, _, err = cli([*command, str(path)], capsys)
        assert status == 0 and "Traceback" not in err


def test_many_values_on_one_line_read_like_one_a_line(tmp_path: Path) -> None:
    values = beats(5000)
    one_line = tmp_path / "one.txt"
    one_line.write_text(" ".join(map(str, values)), encoding="utf-8")
    many = tmp_path / "many.txt"
    many.write_text("\n".join(map(str, values)) + "\n", encoding="utf-8")
    assert np.array_equal(load_rr(one_line).rr_ms, load_rr(many).rr_ms)


def test_rr_text_values_beyond_bounds_are_counted_skips(tmp_path: Path) -> None:
    path = tmp_path / "rr.txt"
    good = beats(200)
    path.write_text("\n".join(map(str, [*good[:100], "1e300", "nan", "-5", "9" * 70,
                                        *good[100:]])) + "\n", encoding="utf-8")
    result = load_rr(path)
    assert result.rr_ms.tolist() == [float(v) for v in good]
    assert result.skips.count == 4
    assert float(result.t_s.max()) <= MAX_T_S and float(result.rr_ms.max()) <= MAX_RR_MS


def test_rr_in_seconds_longer_than_a_minute_is_a_counted_skip(tmp_path: Path) -> None:
    path = tmp_path / "rr.txt"
    path.write_text("\n".join(["0.8"] * 100 + ["50000"] + ["0.8"] * 100) + "\n")
    result = load_rr(path, unit="s")
    assert len(result) == 200 and result.skips.count == 1


def test_e4_ibi_time_beyond_bounds_is_a_counted_skip(tmp_path: Path) -> None:
    path = tmp_path / "IBI.csv"
    rows = [f"{i * 0.8:.3f},0.8" for i in range(1, 200)]
    rows.insert(50, "1e12,0.8")
    path.write_text("1500000000.0, IBI\n" + "\n".join(rows) + "\n")
    result = load_rr(path)
    assert len(result) == 199 and result.skips.count == 1


def test_npy_values_beyond_bounds_are_counted_skips(tmp_path: Path) -> None:
    path = tmp_path / "rr.npy"
    np.save(path, np.array([*beats(100), 1e300, np.inf, *beats(100)], dtype=np.float64))
    result = load_rr(path)
    assert len(result) == 200 and result.skips.count == 2


def test_beats_adding_up_past_a_year_are_a_clear_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("afterbeat.storage.importers.MAX_T_S", 1000.0)  # scaled down: a year
    path = tmp_path / "rr.npy"
    np.save(path, np.full(int(1000.0 / 59.0) + 10, 59_000.0))
    with pytest.raises(SessionFileError, match="more than"):
        for _ in iter_beats(path, unit="ms"):
            pass


def test_sample_entropy_is_capped_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SAMPEN_MAX_BEATS >= 100_000  # a 24-hour recording fits whole
    cap = 1000  # scaled down for the default run
    monkeypatch.setattr("afterbeat.hrv.analysis.SAMPEN_MAX_BEATS", cap)
    rr = np.array(beats(cap + 500), dtype=np.float64)
    rr += np.random.default_rng(7).normal(0.0, 20.0, rr.size)
    result = analyze(np.cumsum(rr) / 1000.0, rr, correction="none", detrend="none")
    assert result.sampen is not None
    assert any(f"first {cap} of {rr.size}" in note for note in result.notes)


def test_replay_skips_a_record_at_1e300_instead_of_waiting_for_it(tmp_path: Path) -> None:
    path = session(tmp_path / "s.jsonl", *(BEAT % i for i in range(1, 10)), BEAT % "1e300")
    now = [0.0]

    def clock() -> float:
        return now[0]

    source = ReplaySource(path, speed=10_000.0, clock=clock)

    async def drain() -> list[float]:
        times = []
        async for item in source.stream():
            times.append(item.t_s)
            now[0] += 1.0  # the injected clock runs ahead: no real waiting
        return times

    assert max(asyncio.run(drain())) == 9.0
    assert source.import_info.skips.count == 1


def test_replay_stops_after_max_t_s_with_a_counted_note(tmp_path: Path) -> None:
    path = tmp_path / "rr.txt"
    path.write_text("\n".join(map(str, beats(2000))) + "\n")
    source = ReplaySource(path, speed=None, max_t_s=600.0)

    async def drain() -> list[float]:
        return [item.t_s async for item in source.stream()]

    times = asyncio.run(drain())
    assert max(times) <= 600.0 and source.cut_at_s is not None and source.cut_at_s > 600.0
    assert "not replayed" in source.import_info.skips.summary()


def test_replay_of_an_empty_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(SessionFileError, match="empty"):
        open_recording(tmp_path / "empty.txt")


@pytest.mark.parametrize("mark", ["rating@10:nan", "rating@10:1e9", "rating@10:-1",
                                  "note@1e300", "note@nan", "note@-1", "note@inf:x"])
def test_marks_with_non_finite_or_out_of_range_numbers_are_refused(mark: str) -> None:
    with pytest.raises(BadMark):
        parse_mark(mark)


@pytest.mark.parametrize("speed", [0.0, -1.0, float("nan"), float("inf"), 1e300])
def test_replay_source_refuses_bad_speeds(tmp_path: Path, speed: float) -> None:
    path = session(tmp_path / "s.jsonl", BEAT % "1")
    with pytest.raises(InvalidValue, match="speed"):
        ReplaySource(path, speed=speed)


# -- item 9: CLI messages instead of tracebacks ---------------------------------------------

@pytest.fixture
def rr_file(tmp_path: Path) -> Path:
    path = tmp_path / "rr.txt"
    path.write_text("\n".join(map(str, beats(600))) + "\n")
    return path


@pytest.mark.parametrize("argv", [
    ["replay", "--speed", "0", "{rr}"], ["replay", "--speed", "-1", "{rr}"],
    ["replay", "--speed", "nan", "{rr}"], ["replay", "--speed", "inf", "{rr}"],
    ["replay", "--max-hours", "0", "{rr}"],
    ["analyze", "--start", "nan", "{rr}"], ["analyze", "--start", "100", "--end", "50", "{rr}"],
    ["analyze", "--end", "inf", "{rr}"], ["analyze", "--start", "-1", "{rr}"],
    ["analyze", "--start", "100000", "{rr}"],
    ["replay", "--mark", "rating@10:nan", "{rr}"], ["replay", "--mark", "rating@10:1e9", "{rr}"],
    ["replay", "{empty}"], ["analyze", "{empty}"], ["replay", "{deep}"], ["analyze", "{deep}"],
    ["replay", "{tmp}/missing.txt"],
    ["demo", "--port", "99999"], ["demo", "--port", "-5"], ["serve", "--port", "99999"],
    ["serve", "--port", "x"], ["scan", "--timeout", "inf"], ["record", "--duration", "nan"],
    ["sessions", "show", "99999999999999999999", "--data-dir", "{tmp}/d"],
    ["sessions", "show", "0", "--data-dir", "{tmp}/d"],
    ["sessions", "import", "{deep_header}", "--data-dir", "{tmp}/d"],
])
def test_hostile_arguments_exit_2_with_one_line(
        argv: list[str], tmp_path: Path, rr_file: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "deep.txt").write_text("[" * 200_000 + "\n")
    session(tmp_path / "deep.jsonl", header="[" * 200_000)
    names = {"rr": str(rr_file), "empty": str(tmp_path / "empty.txt"), "tmp": str(tmp_path),
             "deep": str(tmp_path / "deep.txt"), "deep_header": str(tmp_path / "deep.jsonl")}
    status, _, err = cli([a.format(**names) for a in argv], capsys)
    assert_one_line_error(status, err)


def test_stored_session_with_a_header_that_is_not_json_is_a_message(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d"
    path = session(tmp_path / "s.jsonl", BEAT % "1")
    assert cli(["sessions", "import", str(path), "--data-dir", str(data)], capsys)[0] == 0
    with sqlite3.connect(data / DB_FILENAME) as conn:
        conn.execute("UPDATE sessions SET header = 'not json'")
    for action in (["show", "1"], ["export", "1", "-o", "-"], ["list"]):
        status, _, err = cli(["sessions", *action, "--data-dir", str(data)], capsys)
        assert "Traceback" not in err and status in (0, 2)
        assert status == 0 or len(err.strip().splitlines()) == 1


# -- item 11: terminal escapes and spreadsheet formulas --------------------------------------

ESCAPES = "\x1b[2J\x1b]0;owned\x07\u202e\r"


def test_sessions_show_neutralises_escape_sequences(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = json.dumps({"type": "marker", "t_s": 1, "kind": "note", "text": ESCAPES})
    path = session(tmp_path / "s.jsonl", marker, BEAT % "2")
    data = str(tmp_path / "d")
    assert cli(["sessions", "import", str(path), "--data-dir", data], capsys)[0] == 0
    status, out, _ = cli(["sessions", "show", "1", "--data-dir", data], capsys)
    assert status == 0
    assert "\\x1b[2J" in out and "\\u202e" in out
    assert not any(c in out for c in "\x1b\x07\u202e\r")


def test_replay_summary_neutralises_escape_sequences(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = json.dumps({"type": "marker", "t_s": 1, "kind": "note", "text": ESCAPES})
    header = HEADER.replace("Polar H10", "\\u001b[31mred")
    path = session(tmp_path / "s.jsonl", marker, *(BEAT % i for i in range(2, 40)),
                   header=header)
    status, out, _ = cli(["replay", str(path)], capsys)
    assert status == 0
    assert "\\x1b[2J" in out and "\\x1b[31mred" in out
    assert not any(c in out for c in "\x1b\x07\u202e\r")


@pytest.mark.parametrize("text", ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)",
                                  "\t=1", "\r=1"])
def test_csv_export_neutralises_formula_cells(text: str) -> None:
    header = Header(started_at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC))
    records: list[Record] = [Marker(1.0, MarkerKind.NOTE, text=text),
               Notification(2.0, 1795000000.0, bytes.fromhex("1046ee03"))]
    buffer = io.StringIO()
    write_rr_csv(buffer, header, records)
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert rows[0]["detail"] == "'" + text
    assert all(not str(cell).startswith(("=", "+", "-", "@", "\t", "\r"))
               for row in rows for cell in row.values() if cell)
    assert rows[1]["rr_ms"] and float(rows[1]["rr_ms"]) > 0


def test_round_trip_of_clean_records_is_unchanged(tmp_path: Path) -> None:
    records: list[Record] = [Marker(1.0, MarkerKind.RATING, value=7.0),
                             Marker(2.0, MarkerKind.NOTE, text="ok"),
                             Notification(3.0, 1795000000.5, bytes.fromhex("1046ee03"))]
    lines = [encode_record(r) for r in records]
    path = session(tmp_path / "s.jsonl", *lines)
    _, read = iter_session(path)
    assert list(read) == records


def test_errors_are_afterbeat_errors() -> None:
    assert issubclass(SessionFileError, AfterbeatError)
    assert issubclass(InvalidValue, ValueError) and issubclass(InvalidValue, AfterbeatError)
