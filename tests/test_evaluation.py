"""Evaluation of the index and the watch on real recordings: loose guards against regressions.

The numbers themselves are in docs/arousal-evaluation.md (``python -m evaluation``).
"""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest

from evaluation import (
    auc,
    calmest_stretch,
    evaluate_calm_stretch,
    evaluate_gudb,
    evaluate_stress_predict,
    heart_rate_windows,
    rr_windows,
)


def test_auc_basics() -> None:
    assert auc([2.0, 3.0], [0.0, 1.0]) == 1.0
    assert auc([0.0], [0.0]) == 0.5
    assert auc([0.0, 1.0], [0.0, 1.0]) == 0.5


def test_windows_match_plain_numpy(data_dir: Path) -> None:
    rr = np.loadtxt(data_dir / "polar-hrm" / "rest_rri.txt")
    ws = rr_windows(rr, correct=False)
    t = np.cumsum(rr) / 1000.0
    m = ws[10]
    w60 = rr[(t > m.t_s - 60) & (t <= m.t_s)]
    w120 = rr[(t > m.t_s - 120) & (t <= m.t_s)]
    assert m.heart_rate_bpm == pytest.approx(60000 / np.mean(w60))
    assert m.rmssd_120_ms == pytest.approx(np.sqrt(np.mean(np.diff(w120) ** 2)))
    hr = heart_rate_windows(np.full(300, 70.0))
    assert hr[0].t_s == 60.0 and hr[0].heart_rate_bpm == 70.0 and not hr[0].rr_available


def test_gudb_maths_scores_above_sitting_and_movement_marks_pause(data_dir: Path) -> None:
    g = evaluate_gudb(data_dir / "gudb-chest-strap")
    assert len(g.subjects) >= 10
    diffs = g.paired_difference
    # measured: maths higher in 9/12, median AUC 1.0, median difference +2.0
    assert sum(d > 0 for d in diffs) >= 0.65 * len(diffs)
    assert statistics.median(g.auc_maths_vs_sitting) >= 0.75
    assert statistics.median(diffs) > 0.5
    # unmarked physical effort looks like strong activation; marked, it is not scored at all
    assert statistics.median(g.mean_index_walking) > 1.5
    assert statistics.median(g.high_share_unmarked) > 0.3
    assert max(g.scored_share_marked) == 0.0


def test_calm_night_gives_fewer_than_one_suggestion_per_two_hours(data_dir: Path) -> None:
    rr = np.loadtxt(data_dir / "physionet-healthy-24h" / "000.txt")
    i0, i1 = calmest_stretch(rr, hours=4.0)
    c = evaluate_calm_stretch("000", rr[i0:i1])
    assert c.hours > 3.0
    assert c.scored_share > 0.7  # the rest: over 5 % corrected beats (ectopy at night)
    assert c.per_hour < 0.5


def test_stress_tasks_raise_the_heart_rate_only_index(data_dir: Path) -> None:
    s = evaluate_stress_predict(data_dir / "stress-predict-e4")
    assert len(s.subjects) >= 8
    d = [a - b for a, b in zip(s.mean_index_tasks, s.mean_index_rests, strict=True)]
    # measured: tasks higher in 8/10, median AUC 0.66
    assert sum(x > 0 for x in d) >= 0.6 * len(d)
    assert statistics.median(s.auc_tasks_vs_rests) > 0.55
    assert sum(s.elevated_in_tasks) >= 2
