"""Importers: every supported kind, read from the real files in tests/data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from afterbeat.errors import AmbiguousUnit, SessionFileError, UnsupportedFormat
from afterbeat.records import Header, Marker, MarkerKind, SkipReport
from afterbeat.storage.importers import FileKind, RRUnit, iter_beats, load_rr, read_text_rr
from afterbeat.storage.session_file import encode_header, encode_record, iter_session


def test_plain_rr_text_one_per_line(data_dir: Path) -> None:
    beats = load_rr(data_dir / "polar-hrm" / "rest_rri.txt")
    first = [float(v) for v in (data_dir / "polar-hrm" / "rest_rri.txt").read_text().split()[:3]]
    assert beats.info.kind is FileKind.RR_TEXT
    assert beats.info.unit is RRUnit.MS and beats.info.unit_detected
    assert beats.rr_ms[:3].tolist() == first
    assert beats.t_s[2] == pytest.approx(sum(first) / 1000.0)
    assert "detected from the values" in beats.info.describe()


def test_plain_rr_text_space_separated_welltory(data_dir: Path) -> None:
    beats = load_rr(data_dir / "welltory-polar-h10" / "subject_01" / "RR.txt")
    assert len(beats) == 100
    assert beats.rr_ms[:3].tolist() == [1203.0, 1124.0, 974.0]


def test_stray_at_line_is_skipped_counted_and_reported(data_dir: Path) -> None:
    beats = load_rr(data_dir / "physionet-healthy-24h" / "008.txt")
    assert beats.skips.count == 1
    assert "'@'" in beats.skips.summary()
    assert len(beats) > 90_000
    assert np.all(np.diff(beats.t_s) >= 0)


def test_dirty_real_data_keeps_its_zero_for_the_artifact_stage(data_dir: Path) -> None:
    beats = load_rr(data_dir / "polar-hrm" / "real_rri.txt")
    assert 0.0 in beats.rr_ms.tolist()


def test_polar_hrm_export(data_dir: Path) -> None:
    beats = load_rr(data_dir / "polar-hrm" / "noisy_rri.hrm")
    assert beats.info.kind is FileKind.POLAR_HRM
    assert beats.rr_ms[:3].tolist() == [904.0, 913.0, 937.0]  # first values under [HRData]
    assert beats.t_s[-1] / 60 == pytest.approx(40.05, abs=0.5)  # Length=00:40:03.0


def test_polar_hrm_with_heart_rate_samples_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "hr.hrm"
    path.write_text("[Params]\nVersion=106\nInterval=5\n\n[HRData]\n72\n73\n")
    with pytest.raises(UnsupportedFormat, match="every 5 s, not R-R"):
        load_rr(path)


def test_csv_with_rr_column_and_interleaved_hr_rows(data_dir: Path) -> None:
    only = load_rr(data_dir / "polar-h10-pvc" / "polar_h10_rr_only.csv")
    full = load_rr(data_dir / "polar-h10-pvc" / "polar_h10_ecg130hz_hr_rr.csv")
    assert only.info.kind is FileKind.CSV
    assert len(only) == 798
    np.testing.assert_array_equal(only.rr_ms, full.rr_ms)


def test_csv_column_names_state_units(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("timestamp,RR (s)\n1,0.8\n2,0.9\n")
    (tmp_path / "b.csv").write_text("t,rr_ms\n1,800\n2,x\n3,900\n")
    a, b = load_rr(tmp_path / "a.csv"), load_rr(tmp_path / "b.csv")
    assert a.rr_ms.tolist() == [800.0, 900.0] and not a.info.unit_detected
    assert b.rr_ms.tolist() == [800.0, 900.0] and b.skips.count == 1


def test_csv_without_rr_column_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("time,ecg\n1,0.1\n")
    with pytest.raises(SessionFileError, match=r"c\.csv:1: no RR column"):
        load_rr(tmp_path / "c.csv")


def test_empatica_ibi_csv_breaks_segments_at_missing_beats(data_dir: Path) -> None:
    beats = load_rr(data_dir / "stress-predict-e4" / "S01" / "IBI.csv")
    assert beats.info.unit is RRUnit.S
    assert beats.rr_ms[0] == pytest.approx(890.625)
    assert beats.segment.max() > 10
    same = beats.segment[1:] == beats.segment[:-1]
    gaps = np.diff(beats.t_s)[same] - beats.rr_ms[1:][same] / 1000.0
    assert np.all(np.abs(gaps) < 0.3)  # within a segment, beats are back to back


def test_npy_array_kubios_reference(data_dir: Path) -> None:
    beats = load_rr(data_dir / "kubios-reference" / "series_1.npy")
    assert beats.info.kind is FileKind.NPY
    assert len(beats) == 4684
    assert beats.t_s[-1] / 60 == pytest.approx(60.0, abs=0.1)


def test_session_file_import_matches_the_real_rr(data_dir: Path) -> None:
    from importlib.resources import files

    demo = load_rr(str(files("afterbeat") / "data" / "demo.jsonl"))
    source = load_rr(data_dir / "physionet-healthy-24h" / "000.txt")
    chosen = source.rr_ms[(source.t_s > 1075 * 60) & (source.t_s <= 1120 * 60)]
    assert demo.info.kind is FileKind.SESSION
    assert demo.segment.max() == 0
    # RR travel in 1/1024 s: exact to half a unit.
    np.testing.assert_allclose(demo.rr_ms, chosen, atol=0.5)


def test_seconds_are_detected_only_when_unambiguous() -> None:
    assert read_text_rr("0.8 0.9 1.0").rr_ms.tolist() == [800.0, 900.0, 1000.0]
    with pytest.raises(AmbiguousUnit, match="--unit"):
        read_text_rr("8 9 10")
    assert read_text_rr("8 9 10", unit="s").rr_ms.tolist() == [8000.0, 9000.0, 10000.0]


def test_empty_and_missing_files_get_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(SessionFileError, match="empty.txt: no RR intervals"):
        load_rr(tmp_path / "empty.txt")
    with pytest.raises(SessionFileError, match="cannot open"):
        load_rr(tmp_path / "missing.txt")
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(SessionFileError, match="bad.npy"):
        load_rr(tmp_path / "bad.npy")


def test_iter_beats_is_lazy(data_dir: Path) -> None:
    stream = iter_beats(data_dir / "physionet-healthy-24h" / "000.txt")
    first = next(stream)
    assert first.rr_ms > 0 and first.segment == 0


def test_two_column_ibi_csv_in_milliseconds_is_not_read_as_seconds(tmp_path: Path) -> None:
    path = tmp_path / "IBI.csv"
    path.write_text("1644226061.000000, IBI\n1.0,800\n1.8,810\n2.6,790\n")
    beats = load_rr(path)
    assert beats.rr_ms.tolist() == [800.0, 810.0, 790.0]
    assert beats.info.unit is RRUnit.MS and beats.info.unit_detected



HEADER = Header(started_at=datetime(2026, 11, 26, tzinfo=UTC), device={"name": "test"})


def test_undecodable_bytes_in_a_session_file_are_a_counted_skip(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    good = '{"type":"notification","t_s":1.0,"wall_s":1.0,"hex":"16403c04"}\n'
    path.write_bytes((encode_header(HEADER) + "\n" + good).encode() + b'{"type":"\xff\xfe"}\n')
    beats = load_rr(path)
    assert len(beats) == 1
    assert beats.skips.count == 1


def test_nan_is_never_written_or_read(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        encode_record(Marker(t_s=1.0, kind=MarkerKind.RATING, value=float("nan")))
    path = tmp_path / "s.jsonl"
    path.write_text(encode_header(HEADER) + "\n" + '{"type":"reconnect","t_s":NaN}\n')
    skips = SkipReport()
    _, records = iter_session(path, skips)
    assert list(records) == []
    assert skips.count == 1
