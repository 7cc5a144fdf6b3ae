"""Property-based fuzzing (issue 14): every importer, the session-file reader and every CLI
command's arguments, fed hostile values, give typed errors or exit status 2, never a traceback.

Hostile values: non-finite and huge numbers, lone surrogates and control characters, deep
nesting, overlong lines and tokens, wrong JSON types. The default run keeps the example count
modest; ``AFTERBEAT_FUZZ_EXAMPLES=500`` runs a bigger campaign with the same tests.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from afterbeat.cli import build_parser, main
from afterbeat.errors import AfterbeatError
from afterbeat.records import MAX_RR_MS, MAX_T_S, Header, Marker, SkipReport
from afterbeat.storage.importers import load_rr
from afterbeat.storage.lines import MAX_LINE_CHARS
from afterbeat.storage.session_file import encode_header, encode_record, iter_session

EXAMPLES = int(os.environ.get("AFTERBEAT_FUZZ_EXAMPLES", "20"))
"""Examples per fuzz target (20 by default; set AFTERBEAT_FUZZ_EXAMPLES for a campaign)."""
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 20,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])

HOSTILE_WORDS = ["\ud800", "\udfff", "\x1b[2J", "\x1b]0;x\x07", "\x00", "\u202e", "\r", "\t",
                 "nan", "NaN", "inf", "-Infinity", "1e999", "-1", "-0", "1e300", "1e12",
                 "9" * 400, "0x10", "1_000", "", " ", "=HYPERLINK(\"x\")", "@SUM(A1)",
                 "[" * 3000, "{\"a\":" * 3000, "\ufeff800"]
any_text = st.text(st.characters(exclude_categories=()), max_size=30)
hostile_text = st.one_of(st.sampled_from(HOSTILE_WORDS), any_text)
hostile_number: st.SearchStrategy[Any] = st.one_of(
    st.floats(), st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([1e12, 1e300, -1e300, 2**63, 2**64, 10**400, -0.0, 0, 5e-324]),
    st.floats(min_value=0.0, max_value=3000.0))
json_scalar = st.one_of(st.none(), st.booleans(), hostile_number, hostile_text)
json_value = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(hostile_text, inner, max_size=3), max_leaves=8)
deep_line = st.builds(lambda n, c: c * n, st.integers(900, 60_000),
                      st.sampled_from(["[", "{\"a\":"]))
RECORD_TYPES = ["notification", "marker", "disconnect", "reconnect", "device"]


def _record_object() -> st.SearchStrategy[dict[str, Any]]:
    keys = st.fixed_dictionaries(
        {"type": st.one_of(st.sampled_from(RECORD_TYPES), json_value),
         "t_s": st.one_of(hostile_number, json_value)},
        optional={"wall_s": st.one_of(hostile_number, json_value),
                  "hex": st.one_of(st.sampled_from(["1046ee03", "10", "zz", "0" * 2000]),
                                   json_value),
                  "kind": st.one_of(st.sampled_from(["note", "rating", "battery", "info",
                                                     "session_end"]), json_value),
                  "value": st.one_of(hostile_number, json_value),
                  "text": json_value, "reason": json_value})
    return keys


def _line(obj: Any, ascii_only: bool) -> str:
    try:
        return json.dumps(obj, ensure_ascii=ascii_only)
    except (ValueError, RecursionError):
        return "{}"


record_line = st.one_of(
    st.builds(_line, _record_object(), st.booleans()),
    hostile_text, deep_line,
    st.just("x" * (MAX_LINE_CHARS + 5)))
header_object = st.fixed_dictionaries(
    {"type": st.just("header"), "format": st.just("afterbeat-session")},
    optional={"version": st.one_of(st.just(1), json_value),
              "started_at": st.one_of(st.sampled_from(["2026-11-26T09:30:00Z",
                                                       "9999-12-31T23:59:59Z",
                                                       "0001-01-01T00:00:00+14:00",
                                                       "2026-11-26T09:30:00"]), json_value),
              "device": json_value, "provenance": json_value})
header_line = st.one_of(st.builds(_line, header_object, st.booleans()), hostile_text, deep_line)


def _write(path: Path, lines: list[str]) -> Path:
    with path.open("w", encoding="utf-8", errors="surrogatepass") as handle:
        handle.write("\n".join(lines))
    return path


def _check_header(header: Header) -> None:
    encode_header(header).encode("utf-8")
    assert header.version == 1
    assert (header.started_at + timedelta(seconds=MAX_T_S)).year < 9999


def _check_record(record: Any) -> None:
    assert 0.0 <= record.t_s <= MAX_T_S
    encode_record(record).encode("utf-8")  # allow_nan=False: every number is finite
    if isinstance(record, Marker) and record.value is not None:
        assert math.isfinite(record.value)


# -- the session-file reader ---------------------------------------------------------------

@FUZZ
@given(header=header_line, lines=st.lists(record_line, max_size=8))
def test_session_reader_gives_typed_errors_and_clean_records(
        tmp_path: Path, header: str, lines: list[str]) -> None:
    path = _write(tmp_path / "s.jsonl", [header, *lines])
    skips = SkipReport()
    try:
        read_header, records = iter_session(path, skips)
        _check_header(read_header)
        count = 0
        for record in records:
            _check_record(record)
            count += 1
    except AfterbeatError:
        return
    assert count + skips.count <= len(lines)


# -- every importer -------------------------------------------------------------------------

rr_token = st.one_of(st.sampled_from(HOSTILE_WORDS), st.integers(300, 2000).map(str),
                     st.floats(0.3, 2.0).map(lambda v: f"{v:.3f}"), hostile_number.map(str))
separator = st.sampled_from([" ", ",", ";", "\n", "\t", "\r\n", "  ,\n"])


def _joined(tokens: list[str], seps: list[str]) -> str:
    return "".join(t + seps[i % len(seps)] for i, t in enumerate(tokens))


rr_text = st.builds(_joined, st.lists(rr_token, max_size=200), st.lists(separator, min_size=1))


def _check_beats(path: Path, unit: str | None) -> None:
    try:
        result = load_rr(path, unit=unit)
    except AfterbeatError:
        return
    assert np.all(np.isfinite(result.t_s)) and np.all(np.isfinite(result.rr_ms))
    assert float(result.t_s.max()) <= MAX_T_S and float(result.rr_ms.max()) <= MAX_RR_MS
    assert float(result.rr_ms.min()) >= 0.0


@FUZZ
@given(text=rr_text, unit=st.sampled_from([None, "ms", "s"]))
def test_rr_text_importer(tmp_path: Path, text: str, unit: str | None) -> None:
    _check_beats(_write(tmp_path / "rr.txt", [text]), unit)


@FUZZ
@given(text=rr_text, interval=st.sampled_from(["238", "1", "x"]))
def test_polar_hrm_importer(tmp_path: Path, text: str, interval: str) -> None:
    lines = ["[Params]", f"Interval={interval}", "[HRData]", text]
    _check_beats(_write(tmp_path / "rr.hrm", lines), None)


csv_cell = st.one_of(rr_token, hostile_text, st.just('"' + "1" * 140_000 + '"'))


@FUZZ
@given(header=st.sampled_from(["rr_ms,hr", "RR (s),x", "ibi", "time,rr", "hr,bpm"]),
       rows=st.lists(st.lists(csv_cell, max_size=3), max_size=60))
def test_csv_importer(tmp_path: Path, header: str, rows: list[list[str]]) -> None:
    lines = [header, *(",".join(row) for row in rows)]
    _check_beats(_write(tmp_path / "rr.csv", lines), None)


@FUZZ
@given(rows=st.lists(st.tuples(st.one_of(hostile_number.map(str), rr_token), rr_token),
                     max_size=60))
def test_e4_ibi_importer(tmp_path: Path, rows: list[tuple[str, str]]) -> None:
    lines = ["1500000000.000000, IBI", *(f"{t},{ibi}" for t, ibi in rows)]
    _check_beats(_write(tmp_path / "IBI.csv", lines), None)


@FUZZ
@given(values=st.lists(st.floats(width=64), max_size=200),
       dtype=st.sampled_from(["float64", "float32", "int64", "uint8"]))
def test_npy_importer(tmp_path: Path, values: list[float], dtype: str) -> None:
    with np.errstate(all="ignore"), contextlib.suppress(ValueError, OverflowError):
        array = np.array(values, dtype=np.float64).astype(dtype)
        np.save(tmp_path / "rr.npy", array)
        _check_beats(tmp_path / "rr.npy", None)


@FUZZ
@given(lines=st.lists(record_line, max_size=12))
def test_session_importer(tmp_path: Path, lines: list[str]) -> None:
    header = ('{"type":"header","format":"afterbeat-session","version":1,'
              '"started_at":"2026-11-26T09:30:00Z","device":{}}')
    beat = '{"type":"notification","t_s":%d,"wall_s":1795000000,"hex":"1046ee03"}'
    body = [beat % i for i in range(1, 5)] + lines
    _check_beats(_write(tmp_path / "s.jsonl", [header, *body]), None)


# -- every CLI command's arguments ------------------------------------------------------------

# Real argv never holds NUL, and lone surrogates reach Python only as U+DC80..U+DCFF
# (undecodable bytes, surrogateescape): argv strategies stay within what a shell can pass.
argv_char = st.one_of(st.characters(codec="utf-8", exclude_characters="\x00"),
                      st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF))
argv_text = st.one_of(st.sampled_from([w for w in HOSTILE_WORDS
                                       if "\x00" not in w and "\ud800" not in w
                                       and "\udfff" not in w]),
                      st.text(argv_char, max_size=20), hostile_number.map(str))


@contextlib.contextmanager
def _terminal() -> Iterator[tuple[io.BytesIO, io.BytesIO]]:
    """stdout/stderr like a UTF-8 terminal's: stdout strict, stderr backslashreplace."""
    out, err = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", errors="strict", write_through=True)
    stderr = io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace",
                              write_through=True)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            yield out, err
    finally:
        stdout.detach()  # the byte buffers stay readable
        stderr.detach()


def _run(argv: list[str]) -> tuple[int, str]:
    """Exit status and stderr of the CLI; any exception other than SystemExit fails."""
    with _terminal() as (_, err):
        try:
            status = main(argv)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
    text = err.getvalue().decode("utf-8")
    assert "Traceback" not in text
    if status == 2:
        assert len(text.strip().splitlines()) == 1, text
    return status, text


@pytest.fixture(scope="module")
def small_rr(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rr") / "rr.txt"
    path.write_text("\n".join(str(int(800 + 40 * math.sin(i / 3))) for i in range(400)))
    return path


@pytest.fixture(scope="module")
def data_with_session(tmp_path_factory: pytest.TempPathFactory, small_rr: Path) -> Path:
    data = tmp_path_factory.mktemp("data")
    session = data.parent / "one.jsonl"
    session.write_text(
        '{"type":"header","format":"afterbeat-session","version":1,'
        '"started_at":"2026-11-26T09:30:00Z","device":{}}\n'
        '{"type":"marker","t_s":1,"kind":"note","text":"=1+1 \\u001b[2J"}\n'
        + "".join(f'{{"type":"notification","t_s":{i},"wall_s":1795000000,"hex":"1046ee03"}}\n'
                  for i in range(2, 60)))
    assert _run(["sessions", "import", str(session), "--data-dir", str(data)])[0] == 0
    return data


def _options(pairs: list[tuple[str, str]]) -> list[str]:
    return [item for pair in pairs for item in pair]


@FUZZ
@given(options=st.lists(st.tuples(st.sampled_from(["--start", "--end", "--unit", "--correction",
                                                   "--detrend"]), argv_text), max_size=3),
       which=st.sampled_from(["rr", "hostile", "missing", "dir"]), content=rr_text)
def test_analyze_arguments(tmp_path: Path, small_rr: Path, options: list[tuple[str, str]],
                           which: str, content: str) -> None:
    files = {"rr": str(small_rr), "hostile": str(_write(tmp_path / "h.txt", [content])),
             "missing": str(tmp_path / "missing.txt"), "dir": str(tmp_path)}
    status, _ = _run(["analyze", "--no-sampen", *_options(options), files[which]])
    assert status in (0, 2)


@FUZZ
@given(options=st.lists(st.tuples(st.sampled_from(["--speed", "--mark", "--unit",
                                                   "--max-hours"]), argv_text), max_size=3),
       which=st.sampled_from(["rr", "session", "missing"]),
       lines=st.lists(record_line, max_size=4))
def test_replay_arguments(tmp_path: Path, small_rr: Path, options: list[tuple[str, str]],
                          which: str, lines: list[str]) -> None:
    header = ('{"type":"header","format":"afterbeat-session","version":1,'
              '"started_at":"2026-11-26T09:30:00Z","device":{"name":"\\u001b[2J"}}')
    files = {"rr": str(small_rr), "missing": str(tmp_path / "missing.txt"),
             "session": str(_write(tmp_path / "s.jsonl", [header, *lines]))}
    # --max-hours keeps each replay short; a hostile --speed is still checked first
    argv = ["replay", *_options(options), files[which]]
    if not any(name == "--max-hours" for name, _ in options):
        argv[1:1] = ["--max-hours", "0.05"]
    if not any(name == "--speed" for name, _ in options):
        argv[1:1] = ["--fast"]
    status, _ = _run(argv)
    assert status in (0, 2)


@FUZZ
@given(action=st.sampled_from(["show", "export", "delete", "list", "import"]),
       target=st.one_of(st.sampled_from(["1", "2", "0", "-1", "9" * 30]), argv_text),
       output=st.one_of(st.none(), st.sampled_from(["-", "out.csv", "out.jsonl"]),
                        st.text(argv_char.filter(lambda c: c != "/"), min_size=1, max_size=12)),
       lines=st.lists(record_line, max_size=4), header=header_line)
def test_sessions_arguments(tmp_path: Path, data_with_session: Path, action: str,
                            target: str, output: str | None, lines: list[str],
                            header: str) -> None:
    argv = ["sessions", action, "--data-dir", str(data_with_session)]
    if action in ("show", "export", "delete"):
        argv.append(target)
    if action == "delete" and target != "1":  # session 1 stays: no --yes, no terminal
        argv.append("--yes")
    if action == "export" and output is not None:
        argv += ["-o", output if output == "-" else str(tmp_path / output)]
    if action == "import":
        argv.append(str(_write(tmp_path / "in.jsonl", [header, *lines])))
    status, _ = _run(argv)
    assert status in (0, 1, 2)


@FUZZ
@given(parts=st.lists(argv_text, min_size=1, max_size=4))
def test_decode_arguments(parts: list[str]) -> None:
    hex_parts = [p for p in parts if not p.startswith("-")] or ["00"]
    status, _ = _run(["decode", *hex_parts])
    assert status in (0, 2)


SERVER_LIKE = {
    "serve": ["--port", "--host", "--lan", "--device"],
    "demo": ["--port", "--host", "--speed", "--recording", "--lsl-wait", "--lsl-id"],
    "record": ["--duration", "--device"],
    "scan": ["--timeout"],
    "baseline": ["--device"],
}


@FUZZ
@given(command=st.sampled_from(sorted(SERVER_LIKE)), data=st.data())
def test_hardware_and_server_commands_parse_or_refuse(command: str, data: st.DataObject
                                                      ) -> None:
    """These commands start servers or scan Bluetooth: their arguments are parsed only."""
    names = SERVER_LIKE[command]
    pairs = data.draw(st.lists(st.tuples(st.sampled_from(names), argv_text), max_size=3))
    with _terminal() as (_, err):
        code: object = None
        try:
            args: argparse.Namespace | None = build_parser(command).parse_args(
                [command, *_options(pairs)])
        except SystemExit as exc:
            code, args = exc.code, None
    assert args is not None or code == 2
    text = err.getvalue().decode("utf-8")
    if args is None:
        assert len(text.strip().splitlines()) == 1, text
        return
    for name in ("port", "speed", "duration", "timeout"):
        value = getattr(args, name, None)
        if isinstance(value, float):
            assert math.isfinite(value) and value > 0
    port = getattr(args, "port", None)
    assert port is None or 0 <= port <= 65535

