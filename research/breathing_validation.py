"""Validation of the breathing-rate estimate from RR against breathing belts and synthetic pacing.

Run ``python research/breathing_validation.py [DATA_DIR]`` (default ``tests/data``) for the
numbers in docs/breathing-and-coherence.md; ``tests/test_breathing.py`` guards them loosely.

- Belt recordings (``respiration-reference/*``): at every ``ok`` row of
  ``ref_breathing_rate.csv`` (breaths counted on the belt in the trailing 60 s) the estimate on
  the beats up to that time is compared with the belt: median absolute error (breaths/min),
  share within 3/min, share of rows with a value. The same for the old live method (the largest
  Lomb-Scargle peak in 0.05-0.5 Hz over the trailing 120-300 s) and for the live path itself
  (streaming artifact filter + :class:`LiveMetricsTracker`).
- Other real RR without a belt: GUDB sitting vs maths (2 min each), the demo recording.
- Synthetic paced breathing (4.5-7/min) with RSA of 15-60 ms, a Mayer wave, 1/f drift and
  beat noise: rate error and pacer following; synthetic rest (12-20/min with a strong Mayer wave)
  for the false "following" rate.
"""

from __future__ import annotations

import csv
import math
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from afterbeat.hrv.artifacts import ArtifactFilter, correct_beats
from afterbeat.hrv.beats import Beat
from afterbeat.hrv.breathing import (
    BreathingEstimate,
    coherence_share,
    estimate_breathing_rate,
    pacer_following,
)
from afterbeat.hrv.live import LiveMetricsTracker
from afterbeat.hrv.spectral import lomb_psd, respiration_rate_bpm
from afterbeat.storage.importers import load_rr

__all__ = [
    "BeltRow",
    "Score",
    "belt_rows",
    "evaluate_belt",
    "load_belt",
    "main",
    "old_live_estimate",
    "score",
    "synthetic_rr",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class BeltRow:
    """One reference row: window end (s), belt rate over 60 s (breaths/min), quality ok."""

    t_s: float
    ref_bpm: float
    ok: bool


@dataclass(slots=True)
class Score:
    """Agreement of estimates with a reference (breaths/min)."""

    errors: list[float] = field(default_factory=list)
    n_rows: int = 0

    @property
    def n_values(self) -> int:
        """Rows with a value."""
        return len(self.errors)

    @property
    def median_abs_error(self) -> float:
        """Median absolute error (breaths/min) over rows with a value; NaN if none."""
        return statistics.median(abs(e) for e in self.errors) if self.errors else math.nan

    @property
    def within_3(self) -> float:
        """Share (0-1) of rows with a value within 3/min of the reference."""
        return (sum(abs(e) <= 3.0 for e in self.errors) / len(self.errors)
                if self.errors else math.nan)

    @property
    def value_share(self) -> float:
        """Share (0-1) of rows that got a value."""
        return self.n_values / self.n_rows if self.n_rows else math.nan

    def add(self, estimate_bpm: float | None, ref_bpm: float) -> None:
        """Count one row."""
        self.n_rows += 1
        if estimate_bpm is not None:
            self.errors.append(estimate_bpm - ref_bpm)

    def describe(self) -> str:
        """One line: MAE, within 3/min, share with a value."""
        return (f"median |error| {self.median_abs_error:.2f}/min, within 3/min "
                f"{100 * self.within_3:.0f} %, with a value {100 * self.value_share:.0f} % "
                f"({self.n_values}/{self.n_rows})")


def load_belt(folder: Path) -> tuple[FloatArray, FloatArray, list[BeltRow]]:
    """Beat times (s, R peak ending each RR), RR (ms) and reference rows of one belt set."""
    peaks = np.array([float(x) for x in (folder / "rpeaks_s.txt").read_text().split()])
    rr = np.diff(peaks) * 1000.0
    t = peaks[1:]
    rows = belt_rows(folder / "ref_breathing_rate.csv")
    return t, rr, rows


def belt_rows(path: Path) -> list[BeltRow]:
    """The reference rows of ``ref_breathing_rate.csv``."""
    with path.open(newline="") as fh:
        return [BeltRow(float(r["t_s"]), float(r["ref_bpm_60s"]), r["quality"] == "ok")
                for r in csv.DictReader(fh) if r["ref_bpm_60s"]]


def old_live_estimate(t_s: FloatArray, rr_ms: FloatArray, end_t_s: float) -> float | None:
    """The old live method: largest Lomb peak in 0.05-0.5 Hz, trailing 120-300 s (df 1/600 Hz)."""
    sel = (t_s > end_t_s - 300.0) & (t_s <= end_t_s)
    t, rr = t_s[sel], rr_ms[sel]
    if t.size < 16 or t[-1] - t[0] < 120.0:
        return None
    return respiration_rate_bpm(lomb_psd(t, rr, df_hz=1.0 / 600.0))


def live_path(t_s: FloatArray, rr_ms: FloatArray) -> list[tuple[float, float | None, str | None]]:
    """(t_s, respiration_rate_bpm, respiration_reason) of every beat through the live path."""
    filt = ArtifactFilter()
    tracker = LiveMetricsTracker()
    out: list[tuple[float, float | None, str | None]] = []
    clean = []
    for t, rr in zip(t_s, rr_ms, strict=True):
        clean.extend(filt.push(Beat(float(t), float(rr))))
    clean.extend(filt.flush())
    for c in clean:
        m = tracker.push_beat(c)
        if m is not None:
            out.append((m.t_s, m.respiration_rate_bpm, m.respiration_reason))
    return out


def evaluate_belt(folder: Path) -> dict[str, Score]:
    """Scores of the new estimate, the old live method and the live path on ``ok`` rows."""
    t, rr, rows = load_belt(folder)
    fixed = correct_beats(t, rr)
    live = live_path(t, rr)
    live_t = np.array([x[0] for x in live])
    scores = {"new": Score(), "old": Score(), "live": Score()}
    for row in rows:
        if not row.ok:
            continue
        est = estimate_breathing_rate(fixed.t_s, fixed.rr_ms, end_t_s=row.t_s,
                                      corrected=fixed.corrected)
        scores["new"].add(est.rate_bpm, row.ref_bpm)
        scores["old"].add(old_live_estimate(fixed.t_s, fixed.rr_ms, row.t_s), row.ref_bpm)
        k = int(np.searchsorted(live_t, row.t_s, side="right")) - 1
        scores["live"].add(live[k][1] if k >= 0 else None, row.ref_bpm)
    return scores


def score(estimates: Sequence[float | None], refs: Sequence[float]) -> Score:
    """Score paired estimates and references (breaths/min)."""
    s = Score()
    for e, r in zip(estimates, refs, strict=True):
        s.add(e, r)
    return s


# -- synthetic --------------------------------------------------------------------------------


def synthetic_rr(
    rng: np.random.Generator,
    breaths_per_min: float,
    *,
    duration_s: float = 300.0,
    heart_rate_bpm: float = 68.0,
    rsa_ms: float = 40.0,
    mayer_ms: float = 20.0,
    drift_ms: float = 25.0,
    noise_ms: float = 8.0,
    rate_jitter: float = 0.05,
) -> tuple[FloatArray, FloatArray]:
    """Beat times (s) and RR (ms) with RSA at the breathing rate (cycle-to-cycle jitter,
    asymmetric in/out), a Mayer wave near 0.1 Hz, 1/f drift and beat-to-beat noise."""
    dt = 0.05
    tt = np.arange(0.0, duration_s + 5.0, dt)
    # breathing phase: cycle lengths jitter around 60/breaths_per_min
    phase = np.zeros_like(tt)
    cycle = 60.0 / breaths_per_min
    f_now = 1.0 / (cycle * (1.0 + rate_jitter * rng.standard_normal()))
    for i in range(1, tt.size):
        phase[i] = phase[i - 1] + f_now * dt
        if math.floor(phase[i]) != math.floor(phase[i - 1]):
            f_now = 1.0 / (cycle * (1.0 + rate_jitter * rng.standard_normal()))
    frac = phase % 1.0
    # 40 % in (RR shortens), 60 % out: an asymmetric, smooth breath shape
    shape = np.where(frac < 0.4, -np.cos(np.pi * frac / 0.4), np.cos(np.pi * (frac - 0.4) / 0.6))
    f_mayer = rng.uniform(0.08, 0.12)
    mayer = mayer_ms * np.sin(2 * np.pi * f_mayer * tt + rng.uniform(0, 2 * np.pi)) * \
        (1.0 + 0.3 * np.sin(2 * np.pi * 0.01 * tt))
    white = rng.standard_normal(tt.size)
    spec = np.fft.rfft(white)
    fr = np.fft.rfftfreq(tt.size, dt)
    spec[1:] /= fr[1:]
    spec[0] = 0.0
    spec[fr > 0.1] = 0.0
    drift = np.fft.irfft(spec, tt.size)
    drift = drift_ms * drift / (np.std(drift) or 1.0)
    base = 60000.0 / heart_rate_bpm
    curve = base + rsa_ms * shape + mayer + drift
    t_out: list[float] = []
    rr_out: list[float] = []
    t_now = 0.0
    while True:
        rr = float(np.interp(t_now, tt, curve)) + noise_ms * float(rng.standard_normal())
        t_now += rr / 1000.0
        if t_now > duration_s:
            break
        t_out.append(t_now)
        rr_out.append(rr)
    return np.array(t_out), np.array(rr_out)


@dataclass(slots=True)
class SyntheticResult:
    """Rate score and pacer-following shares on synthetic series."""

    paced: Score = field(default_factory=Score)
    rest: Score = field(default_factory=Score)
    paced_old: Score = field(default_factory=Score)
    rest_old: Score = field(default_factory=Score)
    following_paced: list[bool] = field(default_factory=list)
    following_rest: list[bool] = field(default_factory=list)
    share_paced: list[float] = field(default_factory=list)
    share_rest: list[float] = field(default_factory=list)


def evaluate_synthetic(seed: int = 11, n_series: int = 40) -> SyntheticResult:
    """Paced 4.5-7/min and rest 12-20/min synthetic series, windows every 15 s."""
    rng = np.random.default_rng(seed)
    res = SyntheticResult()
    for i in range(n_series):
        paced = i % 2 == 0
        rate = rng.uniform(4.5, 7.0) if paced else rng.uniform(12.0, 20.0)
        t, rr = synthetic_rr(
            rng, rate, heart_rate_bpm=rng.uniform(55, 85),
            rsa_ms=rng.uniform(25, 80) if paced else rng.uniform(8, 35),
            mayer_ms=rng.uniform(5, 30), drift_ms=rng.uniform(10, 40),
            noise_ms=rng.uniform(3, 12), rate_jitter=0.03 if paced else 0.12)
        for end in np.arange(70.0, float(t[-1]), 15.0):
            est = estimate_breathing_rate(t, rr, end_t_s=float(end))
            # a pacer at the true rate during paced series; at rest, a pacer at 6/min
            pf = pacer_following(t, rr, rate if paced else 6.0, end_t_s=float(end))
            (res.paced if paced else res.rest).add(est.rate_bpm, rate)
            (res.paced_old if paced else res.rest_old).add(
                old_live_estimate(t, rr, float(end)), rate)
            if pf.share is not None and pf.following is not None:
                (res.share_paced if paced else res.share_rest).append(pf.share)
                (res.following_paced if paced else res.following_rest).append(pf.following)
    return res


# -- other real RR ----------------------------------------------------------------------------


def rates_over(t_s: FloatArray, rr_ms: FloatArray, step_s: float = 5.0,
               estimator: Callable[..., BreathingEstimate] = estimate_breathing_rate
               ) -> list[BreathingEstimate]:
    """The estimate every ``step_s`` over a corrected series."""
    fixed = correct_beats(t_s, rr_ms)
    return [estimator(fixed.t_s, fixed.rr_ms, end_t_s=float(end), corrected=fixed.corrected)
            for end in np.arange(float(fixed.t_s[0]) + 64.0, float(fixed.t_s[-1]), step_s)]


def _gudb(root: Path, condition: str) -> list[BreathingEstimate]:
    out: list[BreathingEstimate] = []
    for subject in sorted((root / "gudb-chest-strap").glob("subject_*")):
        path = subject / condition / "annotation_cs.tsv"
        if not path.exists():
            continue
        idx = np.array([float(x) for x in path.read_text().split()])
        t = idx / 250.0
        rr = np.diff(t) * 1000.0
        out.extend(rates_over(t[1:], rr, step_s=10.0))
    return out


def _summary(label: str, ests: Sequence[BreathingEstimate]) -> str:
    vals = [e.rate_bpm for e in ests if e.rate_bpm is not None]
    reasons: dict[str, int] = {}
    for e in ests:
        if e.reason is not None:
            reasons[str(e.reason)] = reasons.get(str(e.reason), 0) + 1
    med = f"median {statistics.median(vals):.1f}/min (p10-p90 " \
          f"{np.percentile(vals, 10):.1f}-{np.percentile(vals, 90):.1f})" if vals else "no values"
    return (f"  {label}: {len(vals)}/{len(ests)} windows with a value, {med}; "
            f"unknown: {reasons}")


def _demo(root: Path) -> tuple[list[float | None], list[float | None], list[str | None]]:
    from afterbeat.pipeline import Pipeline
    from afterbeat.storage.session_file import iter_session

    path = Path(__file__).resolve().parents[1] / "src" / "afterbeat" / "data" / "demo.jsonl"
    _, records = iter_session(path)
    pipe = Pipeline()
    new: list[float | None] = []
    reasons: list[str | None] = []
    for rec in records:
        for ev in pipe.push(rec):
            data = ev.to_json()
            if data["type"] == "metrics" and data.get("rr_available"):
                new.append(data.get("respiration_rate_bpm"))
                reasons.append(data.get("respiration_reason"))
    return new, [], reasons


def main(argv: Sequence[str] | None = None) -> int:
    """Print the validation numbers (an offline tool)."""
    args = list(sys.argv[1:] if argv is None else argv)
    root = Path(args[0]) if args else Path("tests/data")
    print("Belt recordings (ok rows; reference = belt breaths counted over the trailing 60 s)")
    pooled = {"new": Score(), "old": Score(), "live": Score()}
    for folder in sorted((root / "respiration-reference").glob("*/")):
        if not (folder / "ref_breathing_rate.csv").exists():
            continue
        scores = evaluate_belt(folder)
        for key, s in scores.items():
            print(f"  {folder.name:20s} {key:4s}: {s.describe()}")
            pooled[key].errors.extend(s.errors)
            pooled[key].n_rows += s.n_rows
    for key, s in pooled.items():
        print(f"  {'pooled':20s} {key:4s}: {s.describe()}")
    print("Other real RR (no belt)")
    print(_summary("GUDB sitting (12 x 2 min)", _gudb(root, "sitting")))
    print(_summary("GUDB maths (12 x 2 min)", _gudb(root, "maths")))
    new, _, reasons = _demo(root)
    demo = load_rr(Path(__file__).resolve().parents[1] / "src" / "afterbeat" / "data"
                   / "demo.jsonl")
    fixed = correct_beats(demo.t_s, demo.rr_ms, demo.segment)
    old = [old_live_estimate(fixed.t_s, fixed.rr_ms, float(e))
           for e in np.arange(float(fixed.t_s[0]) + 120.0, float(fixed.t_s[-1]), 5.0)]
    old_vals = [v for v in old if v is not None]
    print(f"  demo.jsonl, old method (largest Lomb peak, 120-300 s): {len(old_vals)}/{len(old)} "
          f"updates with a value, median {statistics.median(old_vals):.1f}/min")
    vals = [v for v in new if v is not None]
    counts: dict[str, int] = {}
    for r in reasons:
        if r is not None:
            counts[r] = counts.get(r, 0) + 1
    if vals:
        print(f"  demo.jsonl through the pipeline: {len(vals)}/{len(new)} updates with a value, "
              f"median {statistics.median(vals):.1f}/min (p10-p90 {np.percentile(vals, 10):.1f}-"
              f"{np.percentile(vals, 90):.1f}); unknown: {counts}")
    syn = evaluate_synthetic()
    print("Synthetic (40 series of 5 min, windows every 15 s)")
    print(f"  paced 4.5-7/min: {syn.paced.describe()}")
    print(f"      old method: {syn.paced_old.describe()}")
    print(f"  rest 12-20/min (Mayer wave 5-30 ms, RSA 8-35 ms): {syn.rest.describe()}")
    print(f"      old method: {syn.rest_old.describe()}")
    fp = syn.following_paced
    fr = syn.following_rest
    print(f"  pacer following at the true pace: {100 * sum(fp) / len(fp):.0f} % of windows "
          f"(share median {statistics.median(syn.share_paced):.2f}); rest vs a 6/min pacer: "
          f"{100 * sum(fr) / len(fr):.0f} % (share median {statistics.median(syn.share_rest):.2f})")
    t, rr = synthetic_rr(np.random.default_rng(3), 6.0)
    print(f"  coherence share, paced 6/min example: {coherence_share(t, rr):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
