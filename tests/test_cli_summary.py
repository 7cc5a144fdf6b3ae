"""``afterbeat summary`` writes a private, self-contained page, and a PDF when Chromium is there."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from afterbeat.cli import main
from afterbeat.cli.pdf import ENV_CHROMIUM, find_chromium
from afterbeat.records import Header, Marker, MarkerKind
from afterbeat.sources.replay import derived_notifications
from afterbeat.storage.importers import iter_beats
from afterbeat.storage.store import Store
from closed_loop import closed_loop

RR_FILE = Path(__file__).parent / "data" / "physionet-healthy-24h" / "008.txt"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("summary-cli")
    beats = (b for b in iter_beats(RR_FILE) if b.t_s < 900.0)
    records = list(derived_notifications(beats))
    marks = [Marker(60.0, MarkerKind.SESSION_START), Marker(300.0, MarkerKind.SESSION_END),
             Marker(320.0, MarkerKind.NOTE, text="a private note")]
    run = closed_loop(records, marks)
    with Store.open(tmp_path / "data") as store:
        store.import_session(Header(started_at=datetime.now(UTC) - timedelta(days=1)),
                             run.records, "test")
    return tmp_path / "data"


def _private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


def test_summary_is_written_private_without_notes(data_dir: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("This page contains")
    written = list((data_dir / "summaries").glob("afterbeat-summary-*.html"))
    assert len(written) == 1 and _private(written[0])
    page = written[0].read_text()
    assert "a private note" not in page and "Settling after each session" in page


def test_notes_only_when_asked(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine.html"
    assert main(["summary", "--include-notes", "--out", str(out),
                 "--data-dir", str(data_dir)]) == 0
    assert "a private note" in out.read_text() and _private(out)


@pytest.mark.parametrize("since", ["0", "-2", "nan", "inf", "x", "99999"])
def test_a_bad_period_is_refused(data_dir: Path, since: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["summary", "--since", since, "--data-dir", str(data_dir)])
    assert caught.value.code == 2
    assert "--since" in capsys.readouterr().err


def test_without_chromium_the_pdf_is_refused_clearly(data_dir: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(ENV_CHROMIUM, str(tmp_path / "no-chromium-here"))
    pdf = tmp_path / "s.pdf"
    assert main(["summary", "--pdf", str(pdf), "--out", str(tmp_path / "s.html"),
                 "--data-dir", str(data_dir)]) == 1
    assert "no Chromium found" in capsys.readouterr().out
    assert not pdf.exists() and (tmp_path / "s.html").is_file()


@pytest.mark.browser
def test_with_chromium_a_private_pdf_of_one_or_two_pages(data_dir: Path, tmp_path: Path) -> None:
    if find_chromium() is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    pdf = tmp_path / "s.pdf"
    assert main(["summary", "--pdf", str(pdf), "--out", str(tmp_path / "s.html"),
                 "--data-dir", str(data_dir)]) == 0
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and _private(pdf)
    pages = data.count(b"/Type /Page") - data.count(b"/Type /Pages")
    assert 1 <= pages <= 2
