"""Evaluation of the arousal index and the after-session watch on real recordings.

Method in two sentences: every 5 s we compute HR over 60 s and ln RMSSD over 120 s (60 s on
the 2-minute GUDB recordings) from artifact-corrected RR, score them against a baseline built
from the same person's rest with the product's own ``score_metrics`` and feed the product's
own ``AfterSessionWatch``. We then ask whether mental arithmetic scores above sitting within
each person (GUDB), how many suggestions fire per hour of calm night (PhysioNet 24-h Holter)
and whether stress tasks raise the heart-rate-only index over the rests between them
(Stress-Predict, baseline from the rests between the tasks).

Run ``python -m evaluation [DATA_DIR] [--grid] [--pipeline]`` (default
``tests/data``) for the numbers in docs/arousal-evaluation.md; ``tests/test_evaluation.py``
guards them loosely.
"""

from __future__ import annotations

import math
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from afterbeat.activation.arousal import ArousalScorer, score_metrics
from afterbeat.activation.baseline import Baseline, RestRecording
from afterbeat.activation.settings import DEFAULT_SETTINGS, Settings
from afterbeat.activation.watch import AfterSessionWatch, Suggestion
from afterbeat.hrv.artifacts import correct_rr
from afterbeat.hrv.beats import Beat
from afterbeat.hrv.live import LiveMetrics

__all__ = [
    "CalmResult",
    "GudbResult",
    "StressResult",
    "auc",
    "calibration_grid",
    "calm_windows_result",
    "calmest_stretch",
    "evaluate_calm_pipeline",
    "evaluate_calm_stretch",
    "evaluate_gudb",
    "evaluate_stress_predict",
    "heart_rate_windows",
    "main",
    "rest_recording",
    "rr_windows",
]

FloatArray = npt.NDArray[np.float64]


def rr_windows(
    rr_ms: FloatArray,
    *,
    step_s: float = 5.0,
    hr_span_s: float = 60.0,
    rmssd_span_s: float = 120.0,
    start_s: float | None = None,
    end_s: float | None = None,
    correct: bool = True,
) -> list[LiveMetrics]:
    """Trailing-window metrics every ``step_s`` of beat time from one continuous RR series."""
    rr = np.asarray(rr_ms, dtype=np.float64)
    mask: npt.NDArray[np.bool_] = np.zeros(rr.size, dtype=np.bool_)
    if correct:
        rr, mask = correct_rr(rr)
    t = np.cumsum(rr) / 1000.0
    d2 = np.concatenate(([0.0], np.cumsum(np.diff(rr) ** 2)))
    rr_sum = np.concatenate(([0.0], np.cumsum(rr)))
    fixed = np.concatenate(([0], np.cumsum(mask.astype(np.int64))))
    span = max(hr_span_s, rmssd_span_s)
    first = span if start_s is None else max(start_s, span)
    last = float(t[-1]) if end_s is None else min(end_s, float(t[-1]))
    out: list[LiveMetrics] = []
    for end in np.arange(math.ceil(first / step_s) * step_s, last + 1e-9, step_s):
        i1 = int(np.searchsorted(t, end, side="right"))
        h0 = int(np.searchsorted(t, end - hr_span_s, side="right"))
        r0 = int(np.searchsorted(t, end - rmssd_span_s, side="right"))
        n_hr = i1 - h0
        n_r = i1 - r0
        hr = 60000.0 * n_hr / (rr_sum[i1] - rr_sum[h0]) if n_hr >= 2 else None
        rmssd = math.sqrt((d2[i1 - 1] - d2[r0]) / (n_r - 1)) if n_r >= 3 else None
        ln = math.log(rmssd) if rmssd else None
        coverage = min(1.0, (rr_sum[i1] - rr_sum[r0]) / 1000.0 / rmssd_span_s)
        corrected = 100.0 * (fixed[i1] - fixed[r0]) / n_r if n_r else 0.0
        out.append(LiveMetrics(
            t_s=float(end), segment=0, heart_rate_bpm=hr, rmssd_60_ms=None, rmssd_120_ms=rmssd,
            ln_rmssd_120=ln, sdnn_120_ms=None, pnn50_120_pct=None, coverage_120=coverage,
            corrected_120_pct=corrected, rr_available=True,
        ))
    return out


def heart_rate_windows(
    heart_rate_bpm: FloatArray, sample_s: float = 1.0, *, step_s: float = 5.0,
    span_s: float = 60.0,
) -> list[LiveMetrics]:
    """Heart-rate-only metrics every ``step_s`` from a regularly sampled HR series (bpm)."""
    hr = np.asarray(heart_rate_bpm, dtype=np.float64)
    csum = np.concatenate(([0.0], np.cumsum(hr)))
    per = int(round(span_s / sample_s))
    step = int(round(step_s / sample_s))
    out = []
    for i1 in range(per, hr.size + 1, step):
        mean = (csum[i1] - csum[i1 - per]) / per
        out.append(LiveMetrics(
            t_s=i1 * sample_s, segment=0, heart_rate_bpm=float(mean), rmssd_60_ms=None,
            rmssd_120_ms=None, ln_rmssd_120=None, sdnn_120_ms=None, pnn50_120_pct=None,
            coverage_120=1.0, corrected_120_pct=0.0, rr_available=False,
        ))
    return out


def rest_recording(label: str, windows: Sequence[LiveMetrics]) -> RestRecording:
    """A resting recording from window metrics (values with full windows only)."""
    hr = [m.heart_rate_bpm for m in windows if m.heart_rate_bpm is not None]
    ln = [m.ln_rmssd_120 for m in windows if m.ln_rmssd_120 is not None]
    if len(ln) != len(hr):
        ln = []
    return RestRecording(label, tuple(hr), tuple(float(v) for v in ln),
                         span_s=5.0 * len(hr))


def auc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """Probability that a positive value exceeds a negative one (ties count half)."""
    if not positive or not negative:
        return math.nan
    wins = 0.0
    for p in positive:
        for n in negative:
            wins += 1.0 if p > n else 0.5 if p == n else 0.0
    return wins / (len(positive) * len(negative))


def _load_gudb_rr(path: Path) -> FloatArray:
    peaks = np.loadtxt(path, dtype=np.float64, ndmin=1)
    rr: FloatArray = np.asarray(np.diff(peaks) * 4.0, dtype=np.float64)
    return rr


# -- GUDB ---------------------------------------------------------------------------------


@dataclass(slots=True)
class GudbResult:
    """Per-subject index on GUDB: maths vs sitting, movement marked vs not."""

    subjects: list[str] = field(default_factory=list)
    auc_maths_vs_sitting: list[float] = field(default_factory=list)
    mean_index_sitting: list[float] = field(default_factory=list)
    mean_index_maths: list[float] = field(default_factory=list)
    mean_index_walking: list[float] = field(default_factory=list)
    mean_index_jogging: list[float] = field(default_factory=list)
    high_share_unmarked: list[float] = field(default_factory=list)
    """Share of walking/jogging updates that meet the elevated rule when not marked."""
    scored_share_marked: list[float] = field(default_factory=list)
    """Share of walking/jogging updates scored when marked as movement (should be 0)."""

    @property
    def paired_difference(self) -> list[float]:
        """Mean index maths minus sitting per subject."""
        return [m - s for m, s in zip(self.mean_index_maths, self.mean_index_sitting, strict=True)]


def evaluate_gudb(root: Path, settings: Settings = DEFAULT_SETTINGS) -> GudbResult:
    """Within-subject separation of maths from sitting; walking/jogging with movement marks."""
    res = GudbResult()
    for subject in sorted(p for p in root.iterdir() if p.name.startswith("subject_")):
        files = {c: subject / c / "annotation_cs.tsv" for c in
                 ("sitting", "maths", "walking", "jogging")}
        if not all(f.exists() for f in files.values()):
            continue
        windows = {c: rr_windows(_load_gudb_rr(f), hr_span_s=60.0, rmssd_span_s=60.0)
                   for c, f in files.items()}
        if not windows["sitting"] or not windows["maths"]:
            continue
        base = Baseline.from_recordings([rest_recording("sitting", windows["sitting"])],
                                        settings)

        def indices(ws: list[LiveMetrics], base: Baseline = base) -> list[float]:
            out = []
            for m in ws:
                r = score_metrics(m, base, settings)
                if r.arousal is not None:
                    out.append(r.arousal)
            return out

        a_sit, a_math = indices(windows["sitting"]), indices(windows["maths"])
        if not a_sit or not a_math:
            continue
        res.subjects.append(subject.name)
        res.auc_maths_vs_sitting.append(auc(a_math, a_sit))
        res.mean_index_sitting.append(statistics.fmean(a_sit))
        res.mean_index_maths.append(statistics.fmean(a_math))
        moving_high = 0
        moving_total = 0
        scored_marked = 0
        for cond, target in (("walking", res.mean_index_walking),
                             ("jogging", res.mean_index_jogging)):
            vals = indices(windows[cond])
            target.append(statistics.fmean(vals) if vals else math.nan)
            scorer = ArousalScorer(settings)
            scorer.start_movement(0.0)
            for m in windows[cond]:
                r = score_metrics(m, base, settings)
                moving_total += 1
                moving_high += bool(r.arousal is not None and r.arousal >= settings.elevated_index
                                    and r.meets_effect_floor(settings))
                scored_marked += scorer.push(m, base).scored
        res.high_share_unmarked.append(moving_high / moving_total if moving_total else math.nan)
        res.scored_share_marked.append(scored_marked / moving_total if moving_total else math.nan)
    return res


# -- calm nights -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CalmResult:
    """Suggestions over a calm stretch watched after a nominal session end."""

    label: str
    hours: float
    suggestions: int
    elevated_share: float
    """Share of scored updates in the elevated state."""
    scored_share: float
    breathing_share: float = math.nan
    """Share of scored updates whose RMSSD term the breathing guard set aside (pipeline only)."""
    respiration_share: float = math.nan
    """Share of updates carrying a breathing rate (pipeline only)."""

    @property
    def per_hour(self) -> float:
        """Suggestions per hour."""
        return self.suggestions / self.hours if self.hours > 0 else math.nan


def calmest_stretch(rr_ms: FloatArray, hours: float = 6.0) -> tuple[int, int]:
    """Beat index range of the lowest-heart-rate stretch of ``hours`` (the night)."""
    t = np.cumsum(rr_ms) / 1000.0
    span = hours * 3600.0
    if t[-1] <= span:
        return 0, rr_ms.size
    bins = np.floor(t / 300.0).astype(np.int64)
    counts = np.bincount(bins)
    sums = np.bincount(bins, weights=rr_ms)
    mean_rr = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    k = int(span / 300.0)
    rolling = np.convolve(mean_rr, np.ones(k), mode="valid")
    start_bin = int(np.argmax(rolling))
    i0 = int(np.searchsorted(t, start_bin * 300.0))
    i1 = int(np.searchsorted(t, start_bin * 300.0 + span))
    return i0, i1


def evaluate_calm_stretch(
    label: str, rr_ms: FloatArray, settings: Settings = DEFAULT_SETTINGS,
    *, rest_minutes: Sequence[tuple[float, float]] = ((0, 7), (10, 17), (20, 27)),
    session_end_s: float = 1800.0,
) -> CalmResult:
    """Baseline from three short rests at the start, session end at 30 min, watch the rest."""
    return calm_windows_result(label, rr_windows(rr_ms), settings, rest_minutes=rest_minutes,
                               session_end_s=session_end_s)


def calm_windows_result(
    label: str, windows: Sequence[LiveMetrics], settings: Settings = DEFAULT_SETTINGS,
    *, rest_minutes: Sequence[tuple[float, float]] = ((0, 7), (10, 17), (20, 27)),
    session_end_s: float = 1800.0,
) -> CalmResult:
    """``evaluate_calm_stretch`` on precomputed window metrics."""
    rests = [rest_recording(f"{label} {a}-{b} min",
                            [m for m in windows if a * 60.0 + 120.0 <= m.t_s <= b * 60.0])
             for a, b in rest_minutes]
    base = Baseline.from_recordings([r for r in rests if r.heart_rate_bpm], settings)
    settings = settings.with_overrides({"watch_span_s": 48 * 3600.0})
    watch = AfterSessionWatch(settings)
    watch.session_end(session_end_s)
    suggestions = 0
    scored = elevated = total = 0
    for m in windows:
        if m.t_s < session_end_s:
            continue
        reading = score_metrics(m, base, settings)
        total += 1
        for ev in watch.push(reading):
            suggestions += isinstance(ev, Suggestion)
        if reading.scored:
            scored += 1
            elevated += watch.level == "elevated"
    hours = (windows[-1].t_s - session_end_s) / 3600.0 if windows else 0.0
    return CalmResult(label, hours, suggestions, elevated / scored if scored else math.nan,
                      scored / total if total else math.nan)


def evaluate_calm_pipeline(label: str, rr_ms: FloatArray,
                           settings: Settings = DEFAULT_SETTINGS) -> CalmResult:
    """The same calm check through the full live pipeline (derived notifications, markers)."""
    from afterbeat.events import MetricsEvent, SuggestionEvent
    from afterbeat.pipeline import Pipeline
    from afterbeat.records import Marker, MarkerKind
    from afterbeat.sources.replay import derived_notifications, with_marks

    t = np.cumsum(rr_ms) / 1000.0
    beats = (Beat(float(ts), float(v), 0) for ts, v in zip(t, rr_ms, strict=True))
    marks = [Marker(m * 60.0, kind) for a, b in ((0, 7), (10, 17), (20, 27))
             for m, kind in ((a, MarkerKind.BASELINE_START), (b, MarkerKind.BASELINE_END))]
    marks.append(Marker(1800.0, MarkerKind.SESSION_END))
    pipeline = Pipeline(settings.with_overrides({"watch_span_s": 48 * 3600.0}))
    suggestions = scored = total = elevated = breathing = with_rate = 0
    for record in with_marks(derived_notifications(beats), marks):
        for ev in pipeline.push(record):
            if isinstance(ev, SuggestionEvent) and ev.switch_from is None:
                suggestions += 1
            elif isinstance(ev, MetricsEvent) and ev.t_s >= 1800.0:
                total += 1
                with_rate += ev.respiration_rate_bpm is not None
                if ev.arousal is not None:
                    scored += 1
                    elevated += ev.state == "elevated"
                    breathing += ev.quality == "breathing"
    hours = (float(t[-1]) - 1800.0) / 3600.0
    return CalmResult(label, hours, suggestions, elevated / scored if scored else math.nan,
                      scored / total if total else math.nan,
                      breathing / scored if scored else math.nan,
                      with_rate / total if total else math.nan)


# -- Stress-Predict -------------------------------------------------------------------------


@dataclass(slots=True)
class StressResult:
    """Heart-rate-only index during tasks vs the rests between them, per subject."""

    subjects: list[str] = field(default_factory=list)
    mean_index_tasks: list[float] = field(default_factory=list)
    mean_index_rests: list[float] = field(default_factory=list)
    auc_tasks_vs_rests: list[float] = field(default_factory=list)
    elevated_in_tasks: list[bool] = field(default_factory=list)
    """The watch (from the first task on, no grace) reached elevated during a task."""
    elevated_rest_minutes: list[float] = field(default_factory=list)
    """Minutes in the elevated state during the rests (after a 2-min settle allowance)."""


Spans = list[tuple[float, float]]


def _stress_phases(tags: list[float]) -> tuple[Spans, Spans]:
    if len(tags) % 2 == 0:
        tags = tags[1:]  # an extra press at the start (S01)
    tasks = [(tags[i], tags[i + 1]) for i in (0, 2, 4) if i + 1 < len(tags)]
    rests = [(tags[i], tags[i + 1]) for i in (1, 3, 5) if i + 1 < len(tags)]
    return tasks, rests


def evaluate_stress_predict(root: Path, settings: Settings = DEFAULT_SETTINGS) -> StressResult:
    """Baseline from the rests between tasks (2 min in); tasks vs rests (HR-only)."""
    res = StressResult()
    for subject in sorted(p for p in root.iterdir() if p.name.startswith("S")):
        hr_file = subject / "HR.csv"
        tag_file = subject / f"tags_{subject.name}.csv"
        if not hr_file.exists() or not tag_file.exists():
            continue
        raw = np.loadtxt(hr_file, dtype=np.float64)
        t0, rate = float(raw[0]), float(raw[1])
        windows = heart_rate_windows(raw[2:], 1.0 / rate)
        tags = [float(v) - t0 for v in np.loadtxt(tag_file, dtype=np.float64, ndmin=1)]
        tasks, rests = _stress_phases(tags)
        if not tasks or not rests:
            continue
        rest_recs = [rest_recording(f"rest {i}", [m for m in windows if a + 120.0 <= m.t_s <= b])
                     for i, (a, b) in enumerate(rests)]
        rest_recs = [r for r in rest_recs if len(r.heart_rate_bpm) >= 6]
        if not rest_recs:
            continue
        base = Baseline.from_recordings(rest_recs, settings)

        def inside(m: LiveMetrics, spans: list[tuple[float, float]]) -> bool:
            # the window must lie within the phase (60 s of HR)
            return any(a + 60.0 <= m.t_s <= b for a, b in spans)

        a_task = [r.arousal for m in windows if inside(m, tasks)
                  if (r := score_metrics(m, base, settings)).arousal is not None]
        a_rest = [r.arousal for m in windows if inside(m, rests)
                  if (r := score_metrics(m, base, settings)).arousal is not None]
        if not a_task or not a_rest:
            continue
        res.subjects.append(subject.name)
        res.mean_index_tasks.append(statistics.fmean(a_task))
        res.mean_index_rests.append(statistics.fmean(a_rest))
        res.auc_tasks_vs_rests.append(auc(a_task, a_rest))
        watch = AfterSessionWatch(settings.with_overrides({"grace_s": 0.0}))
        watch.session_end(tasks[0][0])
        in_task = False
        rest_s = 0.0
        for m in windows:
            if m.t_s < tasks[0][0]:
                continue
            watch.push(score_metrics(m, base, settings))
            if watch.level == "elevated":
                in_task |= any(a <= m.t_s <= b + 120.0 for a, b in tasks)
                if any(a + 120.0 <= m.t_s <= b for a, b in rests):
                    rest_s += settings.metrics_interval_s
        res.elevated_in_tasks.append(in_task)
        res.elevated_rest_minutes.append(rest_s / 60.0)
    return res


# -- report --------------------------------------------------------------------------------


def _fmt(values: Sequence[float]) -> str:
    clean = [v for v in values if not math.isnan(v)]
    if not clean:
        return "-"
    return (f"median {statistics.median(clean):.2f} "
            f"(range {min(clean):.2f} to {max(clean):.2f}, n={len(clean)})")


def calibration_grid(
    root: Path,
    onsets: Sequence[float] = (1.0, 1.25, 1.5, 2.0),
    sustains_s: Sequence[float] = (120.0, 180.0, 300.0),
) -> list[tuple[float, float, float, int, int]]:
    """(elevated_index, sustain_s, calm suggestions/h, stress subjects flagged, of n)."""
    nights = []
    for name in ("000.txt", "008.txt"):
        rr = _load_rr_text(root / "physionet-healthy-24h" / name)
        i0, i1 = calmest_stretch(rr)
        nights.append((name, rr_windows(rr[i0:i1])))
    rows = []
    for onset in onsets:
        for sustain in sustains_s:
            settings = DEFAULT_SETTINGS.with_overrides({"elevated_index": onset,
                                                        "sustain_s": sustain})
            calm = [calm_windows_result(n, w, settings) for n, w in nights]
            hours = sum(c.hours for c in calm)
            per_hour = sum(c.suggestions for c in calm) / hours if hours else math.nan
            stress = evaluate_stress_predict(root / "stress-predict-e4", settings)
            rows.append((onset, sustain, per_hour, sum(stress.elevated_in_tasks),
                         len(stress.elevated_in_tasks)))
    return rows


def _load_rr_text(path: Path) -> FloatArray:
    values = [float(x) for x in path.read_text().split() if x.replace(".", "", 1).isdigit()]
    return np.array(values, dtype=np.float64)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the evaluation numbers (the CLI prints; this is an offline tool)."""
    args = list(sys.argv[1:] if argv is None else argv)
    paths = [a for a in args if not a.startswith("--")]
    root = Path(paths[0]) if paths else Path("tests/data")
    g = evaluate_gudb(root / "gudb-chest-strap")
    diffs = g.paired_difference
    print("GUDB (12 subjects, 2-min recordings, baseline = own sitting, 60-s windows)")
    print(f"  AUC maths vs sitting per subject: {_fmt(g.auc_maths_vs_sitting)}")
    print(f"  mean index maths - sitting:       {_fmt(diffs)}; "
          f"maths higher in {sum(d > 0 for d in diffs)}/{len(diffs)}")
    print(f"  mean index walking (unmarked):    {_fmt(g.mean_index_walking)}")
    print(f"  mean index jogging (unmarked):    {_fmt(g.mean_index_jogging)}")
    print(f"  share of walk/jog updates meeting the elevated rule, unmarked: "
          f"{_fmt(g.high_share_unmarked)}")
    print(f"  share scored when marked as movement: {_fmt(g.scored_share_marked)}")
    print("Calm nights (PhysioNet 24-h Holter, calmest 6 h; baseline = 3 x 5 min at its start)")
    total_h = 0.0
    total_s = 0
    for name in ("000.txt", "008.txt"):
        path = root / "physionet-healthy-24h" / name
        rr = _load_rr_text(path)
        i0, i1 = calmest_stretch(rr)
        c = evaluate_calm_stretch(name, rr[i0:i1])
        total_h += c.hours
        total_s += c.suggestions
        print(f"  {name}: {c.suggestions} suggestion(s) in {c.hours:.1f} h = {c.per_hour:.2f}/h; "
              f"elevated {100 * c.elevated_share:.1f} % of scored updates")
    print(f"  all: {total_s} in {total_h:.1f} h = {total_s / total_h:.2f}/h (target < 0.5/h)")
    if "--pipeline" in args:
        for name in ("000.txt", "008.txt"):
            rr = _load_rr_text(root / "physionet-healthy-24h" / name)
            i0, i1 = calmest_stretch(rr)
            c = evaluate_calm_pipeline(name, rr[i0:i1])
            print(f"  {name} through the live pipeline: {c.suggestions} suggestion(s) in "
                  f"{c.hours:.1f} h; {100 * c.scored_share:.0f} % of updates scored, elevated "
                  f"{100 * c.elevated_share:.1f} %; breathing guard on "
                  f"{100 * c.breathing_share:.1f} % of scored updates; a breathing rate in "
                  f"{100 * c.respiration_share:.0f} % of updates")
    s = evaluate_stress_predict(root / "stress-predict-e4")
    d = [a - b for a, b in zip(s.mean_index_tasks, s.mean_index_rests, strict=True)]
    print("Stress-Predict (E4 wristband 1-Hz HR, HR-only; baseline = the rests between tasks)")
    print(f"  mean index tasks - rests: {_fmt(d)}; tasks higher in "
          f"{sum(x > 0 for x in d)}/{len(d)}")
    print(f"  AUC tasks vs rests:       {_fmt(s.auc_tasks_vs_rests)}")
    print(f"  watch reached elevated during a task: {sum(s.elevated_in_tasks)}/"
          f"{len(s.elevated_in_tasks)} subjects; minutes elevated in rests: "
          f"{_fmt(s.elevated_rest_minutes)}")
    if "--grid" in args:
        print("Calibration grid: elevated_index x sustain -> calm suggestions/h; Stress-Predict "
              "subjects reaching elevated in a task")
        for onset, sustain, per_hour, flagged, n in calibration_grid(root):
            print(f"  A >= {onset:4.2f}, {sustain / 60:.0f} min: {per_hour:.2f}/h; "
                  f"{flagged}/{n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
