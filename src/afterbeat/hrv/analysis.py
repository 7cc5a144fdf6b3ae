"""Offline HRV analysis of a whole recording: every metric of ``afterbeat analyze`` (pure code).

``analyze`` takes beat arrays (times in s, RR in ms, segment numbers), optionally a time range,
corrects artifacts (``afterbeat.hrv.artifacts``) and returns an ``AnalysisResult`` whose JSON form
has a fixed set of keys; a value that cannot be computed is None with the reason in ``notes``.

Choices (see ``afterbeat.hrv.metrics`` for the metric conventions):
- Detrending (smoothness priors, lambda 500) applies to the spectrum only; time-domain values,
  Poincare, DFA and SampEn use the (corrected) RR series as it is, the standard definitions.
- Segments: successive differences, DFA windows and SampEn templates stay inside segments;
  the spectrum averages the Welch windows of every segment lasting 300 s or more, else uses
  the longest segment if it lasts 120 s or more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from afterbeat.errors import AfterbeatError
from afterbeat.hrv import metrics as hrv
from afterbeat.hrv.artifacts import correct_beats

__all__ = [
    "RESULT_KEYS",
    "AnalysisInputError",
    "AnalysisResult",
    "Correction",
    "ProgressCallback",
    "analyze",
]

SAMPEN_MAX_BEATS: Final = 100_000
"""Sample entropy uses at most this many beats (the first): about 5 s; a 24-hour recording
fits whole."""

log = logging.getLogger(__name__)

Correction = Literal["auto", "none"]
ProgressCallback = Callable[[str, float], None]
"""Called with a stage name and the fraction (0-1) of the analysis done before it."""

RESULT_KEYS: Final = (
    "n_beats", "duration_s", "mean_rr_ms", "sdnn_ms", "rmssd_ms", "pnn50_pct", "mean_hr_bpm",
    "min_hr_bpm", "max_hr_bpm", "vlf_ms2", "lf_ms2", "hf_ms2", "lf_hf", "total_power_ms2",
    "lf_peak_hz", "hf_peak_hz", "sd1_ms", "sd2_ms", "dfa_alpha1", "dfa_alpha2", "sampen",
    "respiration_rate_bpm", "corrected_beats_pct",
)
"""The keys of ``AnalysisResult.to_json()`` besides ``notes``, in order."""


class AnalysisInputError(AfterbeatError, ValueError):
    """Beat arrays that do not fit together (lengths differ) or an unknown option."""


@dataclass(frozen=True, slots=True)
class AnalysisResult:
    """HRV of one recording or time range; None where a value cannot be computed (see notes)."""

    n_beats: int
    duration_s: float
    """Sum of the analysed RR intervals (s)."""
    mean_rr_ms: float | None = None
    sdnn_ms: float | None = None
    rmssd_ms: float | None = None
    pnn50_pct: float | None = None
    mean_hr_bpm: float | None = None
    """60000 / mean RR, as Kubios."""
    min_hr_bpm: float | None = None
    max_hr_bpm: float | None = None
    vlf_ms2: float | None = None
    lf_ms2: float | None = None
    hf_ms2: float | None = None
    lf_hf: float | None = None
    total_power_ms2: float | None = None
    lf_peak_hz: float | None = None
    hf_peak_hz: float | None = None
    sd1_ms: float | None = None
    sd2_ms: float | None = None
    dfa_alpha1: float | None = None
    dfa_alpha2: float | None = None
    sampen: float | None = None
    respiration_rate_bpm: float | None = None
    corrected_beats_pct: float | None = None
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict with exactly ``RESULT_KEYS`` and ``notes`` (a list of strings)."""
        out: dict[str, object] = {key: getattr(self, key) for key in RESULT_KEYS}
        out["notes"] = list(self.notes)
        return out


def _check_keys() -> None:
    names = tuple(f.name for f in fields(AnalysisResult))
    assert names == (*RESULT_KEYS, "notes"), names


_check_keys()


def _select(
    t_s: npt.NDArray[np.float64],
    rr_ms: npt.NDArray[np.float64],
    segment: npt.NDArray[np.int64],
    start_s: float | None,
    end_s: float | None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    if start_s is None and end_s is None:
        return t_s, rr_ms, segment  # no copies of a whole recording
    keep = np.ones(rr_ms.size, dtype=np.bool_)
    if start_s is not None:
        keep &= t_s >= start_s
    if end_s is not None:
        keep &= t_s <= end_s
    return t_s[keep], rr_ms[keep], segment[keep]


def _correct(
    t_s: npt.NDArray[np.float64],
    rr_ms: npt.NDArray[np.float64],
    segment: npt.NDArray[np.int64],
    notes: list[str],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], float | None]:
    """Corrected RR (ms), segments and the corrected share (%) via ``afterbeat.hrv.artifacts``."""
    fixed = correct_beats(t_s, rr_ms, segment)
    rr = np.asarray(fixed.rr_ms, dtype=np.float64)
    seg = np.asarray(fixed.segment, dtype=np.int64)
    pct = 100.0 * float(np.count_nonzero(fixed.corrected)) / max(rr.size, 1)
    del fixed  # its times and mask are not needed any more
    finite = np.isfinite(rr) & (rr > 0)
    if not finite.all():
        notes.append(f"dropped {int(np.count_nonzero(~finite))} beats that correction "
                     "could not rebuild")
        return rr[finite], seg[finite], pct
    return rr, seg, pct


def _attempt(notes: list[str], keys: str, compute: Callable[[], object]) -> object | None:
    try:
        return compute()
    except hrv.InsufficientData as exc:
        notes.append(f"{keys}: {exc}")
        return None


def analyze(
    t_s: npt.ArrayLike,
    rr_ms: npt.ArrayLike,
    segment: npt.ArrayLike | None = None,
    *,
    start_s: float | None = None,
    end_s: float | None = None,
    correction: Correction = "auto",
    detrend: hrv.Detrend = "smoothness-priors",
    sampen: bool = True,
    progress: ProgressCallback | None = None,
) -> AnalysisResult:
    """All HRV metrics of the beats (t in s, RR in ms) whose time lies in [start_s, end_s]."""
    if correction not in ("auto", "none"):
        raise AnalysisInputError(f"unknown correction {correction!r}; use 'auto' or 'none'")
    if detrend not in ("smoothness-priors", "none"):
        raise AnalysisInputError(
            f"unknown detrend {detrend!r}; use 'smoothness-priors' or 'none'")
    t: npt.NDArray[np.float64] = np.asarray(t_s, dtype=np.float64).reshape(-1)
    rr: npt.NDArray[np.float64] = np.asarray(rr_ms, dtype=np.float64).reshape(-1)
    seg: npt.NDArray[np.int64] = (np.zeros(rr.size, dtype=np.int64) if segment is None
           else np.asarray(segment, dtype=np.int64).reshape(-1))
    if not t.size == rr.size == seg.size:
        raise AnalysisInputError(
            f"t_s, rr_ms and segment differ in length ({t.size}, {rr.size}, {seg.size})")
    report = progress if progress is not None else (lambda stage, done: None)
    notes: list[str] = []
    t, rr, seg = _select(t, rr, seg, start_s, end_s)
    valid = np.isfinite(rr) & (rr > 0) & np.isfinite(t)
    if not valid.all():
        notes.append(f"skipped {int(np.count_nonzero(~valid))} RR values that are not "
                     "positive numbers")
        t, rr, seg = t[valid], rr[valid], seg[valid]
    corrected_pct: float | None = 0.0
    if correction == "auto" and rr.size:
        report("artifact correction", 0.0)
        rr, seg, corrected_pct = _correct(t, rr, seg, notes)
    values: dict[str, object] = {}
    if rr.size == 0:
        notes.append("no beats in the selected range")
        return AnalysisResult(n_beats=0, duration_s=0.0, notes=tuple(notes),
                              corrected_beats_pct=None)
    report("time domain", 0.05)
    _time_domain(rr, seg, values, notes)
    report("spectrum", 0.1)
    _frequency_domain(rr, seg, detrend, values, notes)
    report("nonlinear", 0.2)
    _nonlinear(rr, seg, sampen, values, notes, report)
    report("done", 1.0)
    log.debug("analysed %d beats (%d notes)", rr.size, len(notes))
    return AnalysisResult(
        n_beats=int(rr.size),
        duration_s=float(rr.sum()) / 1000.0,
        corrected_beats_pct=corrected_pct,
        notes=tuple(notes),
        **values,  # type: ignore[arg-type]
    )


def _time_domain(rr: npt.NDArray[np.float64], seg: npt.NDArray[np.int64],
                 values: dict[str, object], notes: list[str]) -> None:
    values["mean_rr_ms"] = hrv.mean_rr_ms(rr)
    values["mean_hr_bpm"], values["min_hr_bpm"], values["max_hr_bpm"] = (
        hrv.heart_rate_bpm_stats(rr))
    values["sdnn_ms"] = _attempt(notes, "sdnn_ms", lambda: hrv.sdnn_ms(rr))
    values["rmssd_ms"] = _attempt(notes, "rmssd_ms", lambda: hrv.rmssd_ms(rr, seg))
    values["pnn50_pct"] = _attempt(notes, "pnn50_pct", lambda: hrv.pnn_pct(rr, 50.0, seg))
    sd = _attempt(notes, "sd1_ms, sd2_ms", lambda: hrv.poincare_sd_ms(rr, seg))
    if isinstance(sd, tuple):
        values["sd1_ms"], values["sd2_ms"] = sd


def _frequency_domain(rr: npt.NDArray[np.float64], seg: npt.NDArray[np.int64],
                      detrend: hrv.Detrend, values: dict[str, object],
                      notes: list[str]) -> None:
    keys = ("vlf_ms2, lf_ms2, hf_ms2, lf_hf, total_power_ms2, lf_peak_hz, hf_peak_hz, "
            "respiration_rate_bpm")
    spectrum = _attempt(notes, keys, lambda: hrv.hrv_spectrum(rr, seg, detrend=detrend))
    if not isinstance(spectrum, hrv.Spectrum):
        return
    bands = hrv.band_powers(spectrum)
    values.update(lf_ms2=bands.lf_ms2, hf_ms2=bands.hf_ms2, lf_hf=bands.lf_hf,
                  lf_peak_hz=bands.lf_peak_hz, hf_peak_hz=bands.hf_peak_hz)
    if bands.lf_hf is None:
        notes.append("lf_hf: HF power is zero")
    if spectrum.window_s >= hrv.MIN_VLF_SPAN_S:
        values.update(vlf_ms2=bands.vlf_ms2, total_power_ms2=bands.total_power_ms2)
    else:
        notes.append(f"vlf_ms2, total_power_ms2: need a gap-free stretch of at least "
                     f"{hrv.MIN_VLF_SPAN_S:.0f} s (longest: {spectrum.window_s:.0f} s)")
    rate = hrv.respiration_rate_bpm(spectrum)
    values["respiration_rate_bpm"] = rate
    if rate is None:
        notes.append("respiration_rate_bpm: no spectral peak in 0.05-0.5 Hz")


def _nonlinear(rr: npt.NDArray[np.float64], seg: npt.NDArray[np.int64], sampen: bool,
               values: dict[str, object], notes: list[str],
               report: ProgressCallback) -> None:
    if rr.size < hrv.MIN_DFA_ALPHA1_BEATS:
        notes.append(f"dfa_alpha1: needs at least {hrv.MIN_DFA_ALPHA1_BEATS} beats")
    else:
        values["dfa_alpha1"] = _attempt(
            notes, "dfa_alpha1", lambda: hrv.dfa_alpha(rr, hrv.DFA_ALPHA1_SCALES, seg))
    values["dfa_alpha2"] = _attempt(
        notes, "dfa_alpha2", lambda: hrv.dfa_alpha(rr, hrv.DFA_ALPHA2_SCALES, seg))
    if not sampen:
        notes.append("sampen: not computed (turned off)")
        return
    report("sample entropy", 0.3)
    if rr.size > SAMPEN_MAX_BEATS:  # its cost grows faster than N: minutes for millions
        notes.append(f"sampen: computed on the first {SAMPEN_MAX_BEATS} of {rr.size} beats "
                     "(a cap that keeps it to seconds)")
        rr, seg = rr[:SAMPEN_MAX_BEATS], seg[:SAMPEN_MAX_BEATS]
    values["sampen"] = _attempt(notes, "sampen", lambda: hrv.sample_entropy(rr, 2, None, seg))
