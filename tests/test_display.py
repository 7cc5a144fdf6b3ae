"""The one mapping from index and watch state to the shown score and words."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from afterbeat.activation.display import BANDS, band_of_score, display, score_curve
from afterbeat.activation.settings import DEFAULT_SETTINGS, Settings
from afterbeat.pipeline import Pipeline
from afterbeat.sources.replay import open_recording

INDEX = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
STATES = st.sampled_from(["settled", "activated", "elevated"])
DEMO = Path(__file__).resolve().parents[1] / "src" / "afterbeat" / "data" / "demo.jsonl"


@given(INDEX, STATES)
def test_the_score_always_lies_in_its_states_band(index: float, state: str) -> None:
    shown = display(index, state)
    assert shown is not None
    assert 0 <= shown.score <= 100
    band = band_of_score(shown.score)
    assert band.state == state == shown.band
    assert shown.words == band.words
    # Settled words never beside an activated number, and the other way round.
    if state == "settled":
        assert shown.score <= 60
    else:
        assert shown.score > 60


@given(INDEX, st.floats(min_value=0.0, max_value=50.0, allow_nan=False), STATES)
def test_a_higher_index_never_shows_a_lower_score(index: float, step: float, state: str) -> None:
    assert score_curve(index + step) >= score_curve(index)
    low, high = display(index, state), display(index + step, state)
    assert low is not None and high is not None
    assert high.score >= low.score


@given(st.floats(min_value=0.5, max_value=2.5), st.floats(min_value=0.05, max_value=3.0))
def test_the_curve_meets_the_band_edges_at_the_watch_thresholds(settled: float,
                                                                gap: float) -> None:
    s = Settings(settled_index=settled, elevated_index=settled + gap)
    assert score_curve(0.0, s) == 50.0
    assert score_curve(settled, s) == 60.0
    assert score_curve(settled + gap, s) == 80.0
    assert score_curve(settled + gap + 1e-9, s) < 100.0


def test_no_score_without_an_index_or_a_scored_state() -> None:
    assert display(None, "settled") is None
    assert display(1.0, "calibrating") is None
    assert display(1.0, "unknown") is None
    assert display(float("nan"), "settled") is None
    assert [b.low for b in BANDS][1:] == [b.high + 1 for b in BANDS][:-1]


def test_the_demo_is_not_pinned_at_the_top_and_words_match_numbers() -> None:
    _, records = open_recording(str(DEMO), None)
    pipeline = Pipeline(DEFAULT_SETTINGS)
    metrics = [e.to_json() for r in records for e in pipeline.push(r)
               if e.to_json()["type"] == "metrics"]
    scored = [m for m in metrics if m["score"] is not None]
    assert len(scored) > 300
    top = sum(m["score"] >= 97 for m in scored) / len(scored)
    assert top <= 0.05
    for m in scored:
        assert m["score_band"] == m["state"] == band_of_score(int(m["score"])).state
        assert m["score_words"] == band_of_score(int(m["score"])).words
    json.dumps(scored)  # plain JSON, as sent to the page


def test_the_page_shows_the_servers_score_and_never_computes_one() -> None:
    scripts = Path(__file__).resolve().parents[1] / "web" / "js"
    text = "\n".join(p.read_text() for p in sorted(scripts.glob("*.js")))
    assert "m.score_words" in text and "m.score_band" in text
    assert "Math.exp(-1.7" not in text and "scoreFromIndex" not in text
    assert "before.index" not in text and "after.index" not in text, "no score from an index"
