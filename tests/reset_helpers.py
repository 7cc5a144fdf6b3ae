"""Per-5-s metrics computed from real RR files, for the reset tests (effects, trends).

A deliberately small, explainable stand-in for the live pipeline: heart rate over the last
60 s, RMSSD over the last 120 s (successive differences above 20 % of the previous interval
left out as artifacts), respiration from the Lomb-Scargle peak of the last 120 s of RR in
0.05-0.5 Hz (only where asked), and the arousal index A = 0.5 zHR + 0.5 zV against a baseline
taken from the recording itself (median of the whole recording, robust spread of 2-minute
values with the floors 3 bpm and 0.15 ln ms).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.signal import lombscargle

from afterbeat.records import Marker, MarkerKind
from afterbeat.resets.effects import EffectTracker, MetricsSample, ResetEffect
from afterbeat.resets.library import get_reset
from afterbeat.storage.importers import load_rr

Array = npt.NDArray[np.float64]


def read_rr_ms(path: Path) -> Array:
    """RR values (ms) of an RR file, read by afterbeat's importer (stray lines skipped)."""
    return load_rr(path).rr_ms


@dataclass(frozen=True)
class Series:
    """Per-5-s values on the recording's clock (s)."""

    t_s: Array
    heart_rate_bpm: Array
    rmssd_ms: Array
    respiration_bpm: Array
    index: Array


def _window_sums(values: Array, lo: npt.NDArray[np.intp], hi: npt.NDArray[np.intp]) -> Array:
    csum = np.concatenate([np.zeros(1), np.cumsum(values)])
    out: Array = csum[hi] - csum[lo]
    return out


def series_from_rr(rr_ms: Array, step_s: float = 5.0, respiration: bool = False) -> Series:
    """Per-5-s heart rate (60 s), RMSSD (120 s), respiration and index A of an RR series."""
    ok = (rr_ms >= 300.0) & (rr_ms <= 2000.0)
    beat_t = np.cumsum(rr_ms) / 1000.0
    grid = np.arange(120.0, beat_t[-1], step_s)
    hi = np.searchsorted(beat_t, grid, side="right")
    lo60 = np.searchsorted(beat_t, grid - 60.0, side="right")
    n60 = _window_sums(ok.astype(float), lo60, hi)
    hr = 60000.0 * n60 / np.maximum(_window_sums(np.where(ok, rr_ms, 0.0), lo60, hi), 1e-9)
    hr[n60 < 20] = np.nan
    d = np.diff(rr_ms)
    good = ok[1:] & ok[:-1] & (np.abs(d) <= 0.2 * rr_ms[:-1])
    lo120 = np.searchsorted(beat_t, grid - 120.0, side="right")
    # difference i joins beats i and i+1: inside the window when lo <= i and i + 1 < hi
    lo_d, hi_d = lo120, np.maximum(lo120, hi - 1)
    n_d = _window_sums(good.astype(float), lo_d, hi_d)
    rmssd = np.sqrt(_window_sums(np.where(good, d * d, 0.0), lo_d, hi_d) / np.maximum(n_d, 1))
    rmssd[n_d < 40] = np.nan
    resp = np.full(grid.shape, np.nan)
    if respiration:
        freqs_hz = np.linspace(0.05, 0.5, 181)
        for k, (a, b) in enumerate(zip(lo120, hi, strict=True)):
            sel = np.arange(a, b)
            sel = sel[ok[sel]]
            if sel.size < 40:
                continue
            y = rr_ms[sel] - np.polyval(np.polyfit(beat_t[sel], rr_ms[sel], 1), beat_t[sel])
            power = lombscargle(beat_t[sel], y, 2 * np.pi * freqs_hz)
            resp[k] = 60.0 * freqs_hz[int(np.argmax(power))]
    ln_r = np.log(rmssd)
    base_hr, base_lnr = np.nanmedian(hr), np.nanmedian(ln_r)
    two_min = slice(None, None, int(120 / step_s))
    s_hr = max(3.0, 1.4826 * float(np.nanmedian(np.abs(hr[two_min] - base_hr))))
    s_lnr = max(0.15, 1.4826 * float(np.nanmedian(np.abs(ln_r[two_min] - base_lnr))))
    index = 0.5 * (hr - base_hr) / s_hr + 0.5 * (base_lnr - ln_r) / s_lnr
    return Series(grid, hr, rmssd, resp, index)


def _num(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def samples(series: Series, start: int = 0, stop: int | None = None,
            paused: Sequence[tuple[float, float]] = ()) -> Iterator[MetricsSample]:
    """MetricsSamples of series[start:stop]; no index inside any ``paused`` (from, to) span."""
    for k in range(start, len(series.t_s) if stop is None else stop):
        t = float(series.t_s[k])
        index = _num(series.index[k])
        if any(a <= t < b for a, b in paused):
            index = None
        yield MetricsSample(t, index, _num(series.heart_rate_bpm[k]), _num(series.rmssd_ms[k]),
                            _num(series.respiration_bpm[k]))


def episodes(series: Series, on_index: float = 1.5, sustain_s: float = 180.0,
             gap_s: float = 1200.0) -> list[float]:
    """Times (s) where A stayed >= on_index for sustain_s, at least gap_s apart."""
    found: list[float] = []
    run_start: float | None = None
    for t, a in zip(series.t_s, series.index, strict=True):
        if np.isnan(a) or a < on_index:
            run_start = None
            continue
        if run_start is None:
            run_start = float(t)
        if t - run_start >= sustain_s and (not found or t - found[-1] >= gap_s):
            found.append(float(t))
            run_start = None
    return found


def replay_resets(series: Series, plan: Sequence[tuple[float, str]]) -> list[ResetEffect]:
    """Feed the series and reset markers (start time, reset id) through an EffectTracker.

    Each reset runs for its library duration; movement resets pause the index during the
    reset and the 3 minutes after it, as the arousal guard does. Returns the final records.
    """
    tracker = EffectTracker()
    marks: list[Marker] = []
    paused: list[tuple[float, float]] = []
    for start_s, reset_id in plan:
        reset = get_reset(reset_id)
        end_s = start_s + reset.duration_s
        marks += [Marker(start_s, MarkerKind.RESET_START, text=reset_id),
                  Marker(end_s, MarkerKind.RESET_END, text=reset_id)]
        if reset.moves_body:
            paused.append((start_s, end_s + 180.0))
    marks.sort(key=lambda m: m.t_s)
    out: list[ResetEffect] = []
    pending = list(marks)
    first_s = min(m.t_s for m in marks) - 150.0 if marks else 0.0
    last_s = max(m.t_s for m in marks) + 1500.0 if marks else 0.0
    lo = int(np.searchsorted(series.t_s, first_s))
    hi = int(np.searchsorted(series.t_s, last_s))
    for sample in samples(series, lo, hi, paused=paused):
        while pending and pending[0].t_s <= sample.t_s:
            out += tracker.push_marker(pending.pop(0))
        out += tracker.push_metrics(sample)
    out += tracker.finish()
    return [e for e in out if e.final]
