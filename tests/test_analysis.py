"""analyze() and ``afterbeat analyze``: Kubios values end to end, exact JSON keys, nulls + notes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from afterbeat.cli import main
from afterbeat.hrv.analysis import RESULT_KEYS, AnalysisInputError, analyze

KUBIOS = Path(__file__).resolve().parent / "data" / "kubios-reference"
SERIES_1 = KUBIOS / "series_1.npy"

EXPECTED_KEYS = [
    "n_beats", "duration_s", "mean_rr_ms", "sdnn_ms", "rmssd_ms", "pnn50_pct", "mean_hr_bpm",
    "min_hr_bpm", "max_hr_bpm", "vlf_ms2", "lf_ms2", "hf_ms2", "lf_hf", "total_power_ms2",
    "lf_peak_hz", "hf_peak_hz", "sd1_ms", "sd2_ms", "dfa_alpha1", "dfa_alpha2", "sampen",
    "respiration_rate_bpm", "corrected_beats_pct", "notes",
]

# Kubios HRV Premium 3.1.0 on series_1 (no detrending, no correction): the report's digits
KUBIOS_SERIES_1 = {
    "mean_rr_ms": 768.4383, "sdnn_ms": 85.3572, "mean_hr_bpm": 78.0804, "min_hr_bpm": 50.5051,
    "max_hr_bpm": 106.7616, "rmssd_ms": 60.5235, "pnn50_pct": 28.5714, "vlf_ms2": 2725.9687,
    "lf_ms2": 2776.5983, "hf_ms2": 1606.9120, "lf_hf": 1.7279, "total_power_ms2": 7112.5068,
}


def beats(rr_ms: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64],
                                                   npt.NDArray[np.float64]]:
    return np.asarray(np.cumsum(rr_ms) / 1000.0, dtype=np.float64), rr_ms


@pytest.fixture(scope="module")
def series_1() -> npt.NDArray[np.float64]:
    return np.asarray(np.load(SERIES_1), dtype=np.float64)


def test_result_keys_are_exactly_the_issue_list() -> None:
    assert [*RESULT_KEYS, "notes"] == EXPECTED_KEYS


def test_analyze_reproduces_kubios_with_correction_and_detrend_off(
    series_1: npt.NDArray[np.float64],
) -> None:
    t_s, rr = beats(series_1)
    result = analyze(t_s, rr, correction="none", detrend="none", sampen=False)
    data = result.to_json()
    assert list(data) == EXPECTED_KEYS
    for key, value in KUBIOS_SERIES_1.items():
        got = data[key]
        assert isinstance(got, float), key
        assert round(got, 4) == value, key
    assert data["sd1_ms"] == pytest.approx(42.801133, rel=1e-3)
    assert data["sd2_ms"] == pytest.approx(112.849357, rel=1e-3)
    assert data["n_beats"] == 4684
    assert data["duration_s"] == pytest.approx(3599.365)
    assert data["corrected_beats_pct"] == 0.0
    assert data["sampen"] is None
    assert data["notes"] == ["sampen: not computed (turned off)"]


def test_defaults_correct_and_detrend(series_1: npt.NDArray[np.float64]) -> None:
    t_s, rr = beats(series_1)
    plain = analyze(t_s, rr, correction="none", detrend="none", sampen=False)
    default = analyze(t_s, rr, sampen=False)
    assert default.corrected_beats_pct is not None
    assert 0.0 <= default.corrected_beats_pct < 5.0
    assert default.vlf_ms2 is not None and plain.vlf_ms2 is not None
    assert default.vlf_ms2 < 0.3 * plain.vlf_ms2  # smoothness priors removes the slow trend
    assert default.mean_hr_bpm == pytest.approx(plain.mean_hr_bpm, rel=0.01)


def test_start_and_end_select_beats_by_time(series_1: npt.NDArray[np.float64]) -> None:
    t_s, rr = beats(series_1)
    part = analyze(t_s, rr, start_s=600.0, end_s=1200.0, correction="none", detrend="none")
    keep = (t_s >= 600.0) & (t_s <= 1200.0)
    direct = analyze(t_s[keep], rr[keep], correction="none", detrend="none")
    assert part == direct
    assert part.n_beats == int(keep.sum())
    assert part.sampen is not None


def test_too_short_input_gives_nulls_with_notes() -> None:
    rr = np.array([800.0, 810.0, 790.0, 805.0, 820.0, 800.0, 795.0, 810.0, 800.0, 790.0])
    t_s, _ = beats(rr)
    data = analyze(t_s, rr).to_json()
    assert list(data) == EXPECTED_KEYS
    assert data["n_beats"] == 10
    assert data["rmssd_ms"] is not None and data["mean_hr_bpm"] is not None
    notes = data["notes"]
    assert isinstance(notes, list)
    for key in ("vlf_ms2", "lf_ms2", "hf_ms2", "lf_hf", "total_power_ms2", "lf_peak_hz",
                "hf_peak_hz", "respiration_rate_bpm", "dfa_alpha1", "dfa_alpha2", "sampen"):
        assert data[key] is None, key
        assert any(key in note for note in notes), key


def test_empty_range_gives_all_nulls(series_1: npt.NDArray[np.float64]) -> None:
    t_s, rr = beats(series_1)
    data = analyze(t_s, rr, start_s=10_000.0).to_json()
    assert data["n_beats"] == 0
    assert all(data[key] is None for key in EXPECTED_KEYS[2:-1])
    assert data["notes"] == ["no beats in the selected range"]


def test_short_recording_has_lf_hf_but_no_vlf(series_1: npt.NDArray[np.float64]) -> None:
    t_s, rr = beats(series_1)
    result = analyze(t_s, rr, end_s=180.0, correction="none", detrend="none")
    assert result.lf_ms2 is not None and result.hf_ms2 is not None
    assert result.vlf_ms2 is None and result.total_power_ms2 is None
    assert any(note.startswith("vlf_ms2, total_power_ms2:") for note in result.notes)


def test_gaps_split_the_analysis(series_1: npt.NDArray[np.float64]) -> None:
    t_s, rr = beats(series_1)
    segment = (np.arange(rr.size) >= 2000).astype(np.int64)
    joined = analyze(t_s, rr, segment, correction="none", detrend="none", sampen=False)
    whole = analyze(t_s, rr, correction="none", detrend="none", sampen=False)
    d = np.diff(rr)
    d_gap = np.delete(d, 1999)
    assert joined.rmssd_ms == pytest.approx(float(np.sqrt(np.mean(d_gap**2))))
    assert joined.sdnn_ms == whole.sdnn_ms
    assert joined.lf_ms2 != whole.lf_ms2


def test_bad_values_are_skipped_and_counted(series_1: npt.NDArray[np.float64]) -> None:
    t_s, rr = beats(series_1[:600].copy())
    rr[10] = 0.0
    rr[20] = np.nan
    result = analyze(t_s, rr, correction="none")
    assert result.n_beats == 598
    assert "skipped 2 RR values that are not positive numbers" in result.notes


def test_correction_on_dirty_real_data(data_dir: Path) -> None:
    rr = np.loadtxt(data_dir / "polar-hrm" / "real_rri.txt")
    t_s = np.cumsum(rr) / 1000.0
    corrected = analyze(t_s, rr, sampen=False)
    raw = analyze(t_s, rr, correction="none", sampen=False)
    assert corrected.corrected_beats_pct is not None and corrected.corrected_beats_pct > 0
    assert corrected.rmssd_ms is not None and raw.rmssd_ms is not None
    assert corrected.rmssd_ms < raw.rmssd_ms


def test_progress_reports_rising_fractions(series_1: npt.NDArray[np.float64]) -> None:
    seen: list[tuple[str, float]] = []
    t_s, rr = beats(series_1[:800])
    analyze(t_s, rr, progress=lambda stage, done: seen.append((stage, done)))
    fractions = [done for _, done in seen]
    assert fractions == sorted(fractions)
    assert seen[-1] == ("done", 1.0)
    assert "sample entropy" in [stage for stage, _ in seen]


def test_bad_arguments_raise_typed_errors() -> None:
    with pytest.raises(AnalysisInputError, match="length"):
        analyze([1.0, 2.0], [800.0])
    with pytest.raises(AnalysisInputError, match="correction"):
        analyze([1.0], [800.0], correction="always")  # type: ignore[arg-type]
    with pytest.raises(AnalysisInputError, match="detrend"):
        analyze([1.0], [800.0], detrend="linear")  # type: ignore[arg-type]


# --- the command line -------------------------------------------------------------------


def test_cli_json_has_exactly_the_keys(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["analyze", str(SERIES_1), "--json", "--correction", "none",
                   "--detrend", "none", "--no-sampen"])
    assert status == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data) == EXPECTED_KEYS
    assert data["rmssd_ms"] == pytest.approx(60.5235, abs=5e-5)
    assert data["lf_ms2"] == pytest.approx(2776.5983, abs=5e-5)


def test_cli_table_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(SERIES_1), "--correction", "none", "--detrend", "none",
                 "--no-sampen"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any(line.startswith("RMSSD") and "60.5235 ms" in line for line in lines)
    assert any(line.startswith("Sample entropy") and line.rstrip().endswith("-")
               for line in lines)
    assert "note: sampen: not computed (turned off)" in lines


def test_cli_short_file_prints_nulls_with_notes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "short.txt"
    path.write_text("0.80\n0.81\n0.79\n0.82\n0.80\n0.78\n", encoding="utf-8")
    assert main(["analyze", str(path), "--unit", "s", "--json", "--correction", "none"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data) == EXPECTED_KEYS
    assert data["mean_rr_ms"] == pytest.approx(800.0)
    assert data["lf_ms2"] is None and data["sampen"] is None and data["dfa_alpha1"] is None
    assert len(data["notes"]) >= 3


def test_cli_range_and_long_file_progress(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = data_dir / "physionet-healthy-24h" / "008.txt"
    assert main(["analyze", str(path), "--json", "--no-sampen", "--start", "3600",
                 "--end", "7200"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert 3000 < data["n_beats"] < 6000
    assert data["lf_ms2"] is not None
    assert "analyze: spectrum" in captured.err
    assert "1 line(s) skipped" in captured.err  # the stray '@' at the end of 008.txt


def test_cli_unreadable_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                     ) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("not a number\n", encoding="utf-8")
    assert main(["analyze", str(path)]) == 2
    assert "afterbeat:" in capsys.readouterr().err


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 700),
    n_cuts=st.integers(0, 4),
    correction=st.sampled_from(["auto", "none"]),
)
def test_any_beat_series_gives_finite_values_or_nulls_with_notes(
    seed: int, n: int, n_cuts: int, correction: Literal["auto", "none"]
) -> None:
    rng = np.random.default_rng(seed)
    rr = np.round(800 + np.cumsum(rng.normal(0, 20, n)) * 0.3 + rng.normal(0, 30, n))
    rr = np.clip(rr, 250, 2000)
    if n:
        rr[rng.integers(0, n, size=max(1, n // 100))] *= rng.choice([0.5, 2.0])
    segment = np.searchsorted(np.sort(rng.integers(0, max(n, 1), n_cuts)), np.arange(n),
                              side="right").astype(np.int64)
    t_s = np.cumsum(rr) / 1000.0
    data = analyze(t_s, rr, segment, correction=correction).to_json()
    assert list(data) == EXPECTED_KEYS
    notes = data["notes"]
    assert isinstance(notes, list)
    for key in EXPECTED_KEYS[2:-1]:
        value = data[key]
        if value is None:
            assert any(key in note for note in notes) or data["n_beats"] == 0, key
        else:
            assert isinstance(value, float) and np.isfinite(value), key
