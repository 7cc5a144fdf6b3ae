"""The one mapping from index and watch state to the shown score and words."""

from __future__ import annotations

import json
import math
from pathlib import Path

from hypothesis import assume, given
from hypothesis import strategies as st

from afterbeat.activation.display import (
    BANDS,
    band_of_score,
    compare,
    display,
    score_curve,
    shown_whole,
    signal_of,
)
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


SIDES = {"above": 1, "near": 0, "below": -1}


DIRECTION_WORDS = ("above", "below", "near", "higher", "lower")
"""Direction words the numbers line never uses (the score beside it has its own words)."""


@given(st.floats(min_value=30.0, max_value=220.0), st.floats(min_value=40.0, max_value=100.0),
       st.floats(min_value=1.0, max_value=10.0), st.floats(min_value=2.0, max_value=250.0),
       st.floats(min_value=8.0, max_value=150.0), st.floats(min_value=0.05, max_value=0.6))
def test_the_comparison_says_the_direction_of_its_own_numbers(
        hr: float, base_hr: float, spread: float, rmssd: float, base_rmssd: float,
        ln_spread: float) -> None:
    got = compare(hr, rmssd, base_hr, spread, base_rmssd, ln_spread)
    assert got is not None and got.heart_rate is not None and got.hrv is not None
    assert SIDES[got.heart_rate] == (0 if abs(hr - base_hr) <= spread
                                     else (1 if hr > base_hr else -1))
    ratio = math.log(rmssd / base_rmssd)
    assume(abs(abs(ratio) - ln_spread) > 1e-9)  # not exactly at the band's edge
    assert SIDES[got.hrv] == (0 if abs(ratio) < ln_spread else (1 if ratio > 0 else -1))
    hr_words, hrv_words = got.words.split(". Heart-rate variability ")
    # The numbers beside the usual range, never a direction word that could read as
    # contradicting the score (which follows the lagging watch state).
    assert hr_words == (f"Heart rate {shown_whole(hr)} bpm (your usual range "
                        f"{shown_whole(base_hr - spread)}-{shown_whole(base_hr + spread)})")
    assert hrv_words == (
        f"{shown_whole(rmssd)} ms (your usual range "
        f"{shown_whole(base_rmssd * math.exp(-ln_spread))}-"
        f"{shown_whole(base_rmssd * math.exp(ln_spread))}).")
    assert not any(word in got.words for word in DIRECTION_WORDS), got.words


def test_no_comparison_without_a_baseline_and_each_number_on_its_own() -> None:
    assert compare(70.0, 40.0, None, None, None, None) is None
    only_hr = compare(70.0, None, 63.0, 3.0, 46.0, 0.15)
    assert only_hr is not None and only_hr.hrv is None
    assert only_hr.words == "Heart rate 70 bpm (your usual range 60-66)."
    # Written as the page writes the event's number: 2 decimals, then whole, halves up.
    assert shown_whole(62.5) == 63 and shown_whole(62.496) == 63 and shown_whole(62.494) == 62


def test_every_update_of_the_demo_says_what_its_own_numbers_say() -> None:
    """Replayed through the pipeline: the words beside the tiles agree with that update's heart
    rate and heart-rate variability against the baseline, and the state's sentence, which the
    page keeps while the numbers change, carries no numbers of its own."""
    _, records = open_recording(str(DEMO), None)
    pipeline = Pipeline(DEFAULT_SETTINGS)
    events = [e.to_json() for r in records for e in pipeline.push(r)]
    baseline = next(e for e in events if e["type"] == "baseline" and e.get("baseline"))
    spread = float(baseline["baseline"]["heart_rate_spread_bpm"])
    ln_spread = float(baseline["baseline"]["ln_rmssd_spread"])
    compared = [m for m in events if m["type"] == "metrics" and m["compare_words"]]
    assert len(compared) > 300
    sides: dict[str, set[str | None]] = {"heart_rate": set(), "hrv": set()}
    for m in compared:
        hr, base_hr = m["heart_rate_bpm"], m["baseline_heart_rate_bpm"]
        rmssd, base_rmssd = m["rmssd_ms"], m["baseline_rmssd_ms"]
        words = m["compare_words"]
        assert f"Heart rate {shown_whole(hr)} bpm (your usual range " \
               f"{shown_whole(base_hr - spread)}-{shown_whole(base_hr + spread)})." in words, m
        assert not any(word in words for word in DIRECTION_WORDS), m
        expected_hr = ("above" if hr > base_hr + spread + 0.01 else
                       "below" if hr < base_hr - spread - 0.01 else None)
        if expected_hr is not None:
            assert m["heart_rate_vs_usual"] == expected_hr, m
        elif abs(hr - base_hr) < spread - 0.01:
            assert m["heart_rate_vs_usual"] == "near", m
        sides["heart_rate"].add(m["heart_rate_vs_usual"])
        if rmssd is not None:
            low = shown_whole(base_rmssd * math.exp(-ln_spread))
            high = shown_whole(base_rmssd * math.exp(ln_spread))
            assert f"Heart-rate variability {shown_whole(rmssd)} ms (your usual range " \
                   f"{low}-{high})." in words, m
            ratio = math.log(rmssd / base_rmssd)
            if abs(abs(ratio) - ln_spread) > 1e-3:
                assert m["hrv_vs_usual"] == ("near" if abs(ratio) < ln_spread else
                                             "above" if ratio > 0 else "below"), m
            sides["hrv"].add(m["hrv_vs_usual"])
    # The demo's story goes above and below the usual: every direction is exercised.
    assert sides["heart_rate"] >= {"above", "near"} and sides["hrv"] >= {"below", "near"}, sides
    for e in events:
        if e["type"] in ("state", "suggestion"):
            text = " ".join(str(e.get(k) or "") for k in ("reason", "detail"))
            assert not any(unit in text for unit in ("bpm", " ms", "%", "RMSSD")), e


def test_the_signal_is_the_beats_alone() -> None:
    s = DEFAULT_SETTINGS
    for quality in ("good", "breathing", "no_baseline", "movement"):
        assert signal_of(quality, True, 1.0, 0.0, s) == "clean"
        assert signal_of(quality, True, 1.0, s.max_corrected_pct + 0.1, s) == "patchy"
        assert signal_of(quality, True, s.min_coverage - 0.01, 0.0, s) == "patchy"
    assert signal_of("poor", True, 1.0, 0.0, s) == "patchy"
    assert signal_of("warming_up", True, None, None, s) == "warming_up"
    assert signal_of("good", False, None, None, s) == "hr_only"
    assert signal_of("no_beats", True, None, None, s) == "no_beats"
