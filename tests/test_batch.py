"""``afterbeat analyze`` over many files: rows equal single-file results, bad files are rows."""

from __future__ import annotations

import csv
import io
import json
import shutil
import stat
from pathlib import Path

import pytest

from afterbeat.cli import main
from afterbeat.cli.batch import BATCH_KEYS, BatchOptions, Progress, analyze_one, run_batch
from afterbeat.hrv.analysis import RESULT_KEYS

DATA = Path(__file__).parent / "data"
REAL = [DATA / "polar-hrm" / "real_rri.txt", DATA / "polar-hrm" / "rest_rri.txt",
        DATA / "welltory-polar-h10" / "subject_01" / "RR.txt",
        DATA / "welltory-polar-h10" / "subject_02" / "RR.txt"]
"""Short real RR recordings (licences beside them in tests/data)."""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "recordings"
    (root / "nested").mkdir(parents=True)
    for i, path in enumerate(REAL):
        shutil.copy(path, (root if i % 2 else root / "nested") / f"{i}-{path.parent.name}.txt")
    (root / "broken.txt").write_text("this is not RR\n@@\n")
    (root / "notes.md").write_text("not a recording: left out by its ending\n")
    return root


def test_rows_equal_the_single_file_analysis(folder: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results.jsonl"
    assert main(["analyze", str(folder), "--out", str(out), "--jobs", "2"]) == 1
    assert "1 could not be analysed" in capsys.readouterr().err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 5 and all(list(r) == list(BATCH_KEYS) for r in rows)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    bad = [r for r in rows if r["error"]]
    assert [Path(r["file"]).name for r in bad] == ["broken.txt"]
    assert "no RR intervals" in bad[0]["error"]
    for row in rows:
        if row["error"]:
            continue
        capsys.readouterr()
        assert main(["analyze", row["file"], "--json"]) == 0
        single = json.loads(capsys.readouterr().out)
        assert {k: row[k] for k in RESULT_KEYS} == {k: single[k] for k in RESULT_KEYS}


def test_resume_skips_files_already_done(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    first = sorted(folder.rglob("*.txt"))[:2]
    quiet = io.StringIO()
    run_batch([str(p) for p in first], BatchOptions(), out=out, jobs=1, stderr=quiet)
    before = out.read_text()
    run_batch([str(folder)], BatchOptions(), out=out, jobs=1, resume=True, stderr=quiet)
    assert out.read_text().startswith(before)
    rows = list(csv.DictReader(out.open()))
    files = [r["file"] for r in rows]
    assert len(files) == len(set(files)) == 5
    assert "2 file(s) already in" in quiet.getvalue()


def test_parquet_when_pyarrow_is_there(folder: Path, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="the lab extra (pyarrow) is not installed")
    out = tmp_path / "results.parquet"
    run_batch([str(folder)], BatchOptions(sampen=False), out=out, jobs=1, stderr=io.StringIO())
    table = pq.read_table(out)
    assert table.column_names == list(BATCH_KEYS) and table.num_rows == 5
    run_batch([str(folder)], BatchOptions(sampen=False), out=out, jobs=1, resume=True,
              stderr=io.StringIO())
    assert pq.read_table(out).num_rows == 5


def test_csv_to_standard_output_by_default(folder: Path) -> None:
    out = io.StringIO()
    run_batch([str(folder)], BatchOptions(sampen=False), jobs=1, stdout=out,
              stderr=io.StringIO())
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == 5 and rows[0].keys() == set(BATCH_KEYS)


def test_a_bad_file_row_says_why_and_keeps_every_key(tmp_path: Path) -> None:
    missing = tmp_path / "gone.txt"
    row, beats = analyze_one(str(missing), BatchOptions())
    assert beats == 0 and list(row) == list(BATCH_KEYS)
    assert row["error"] and "gone.txt" in row["error"]


def test_progress_line_says_files_rate_and_time_left() -> None:
    progress = Progress(total_files=4, started_s=100.0)
    assert "0/4 files" in progress.line(101.0) and "? left" in progress.line(101.0)
    progress.add(5000, failed=False)
    progress.add(3000, failed=True)
    line = progress.line(110.0)
    assert "2/4 files, 1 failed" in line and "800 beats/s" in line and "0:10 left" in line
    assert line.startswith("[##########..........]")


@pytest.mark.parametrize("args", [["--jobs", "0"], ["--jobs", "x"], ["--resume"]])
def test_bad_batch_options_are_refused(folder: Path, args: list[str],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    try:
        status = main(["analyze", str(folder), *args])
    except SystemExit as exc:
        status = int(exc.code or 0)
    assert status == 2
    assert capsys.readouterr().err


def test_workers_are_replaced_without_stalling_the_batch(tmp_path: Path) -> None:
    for i in range(20):  # more files than a worker takes before it is replaced
        shutil.copy(REAL[i % 2], tmp_path / f"r{i:02d}.txt")
    out = tmp_path / "rows.jsonl"
    assert run_batch([str(tmp_path)], BatchOptions(sampen=False), out=out, jobs=2,
                     stderr=io.StringIO()) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(Path(r["file"]).name for r in rows) == [f"r{i:02d}.txt" for i in range(20)]
