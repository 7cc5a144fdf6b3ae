"""Resonance assessment: protocol, markers, decision rule, simulated people through the replay
source, real unpaced rest recordings, the CLI and the plan field."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from afterbeat.cli import main
from afterbeat.cli.resonance import AssessmentRun, pacer_line, run_assessment
from afterbeat.records import Marker, MarkerKind, Notification, Record
from afterbeat.resets.plan import PlanError, plan_from_json
from afterbeat.resets.resonance import (
    RESONANCE_DOCUMENT_KEY,
    Block,
    BlockMeasures,
    Protocol,
    ResonanceError,
    Stage,
    assess,
    assess_recording,
    block_end_marker,
    block_start_marker,
    blocks_from_markers,
    decide,
    parse_block_spec,
    read_records,
    schedule,
    stage_at,
)
from afterbeat.sources.replay import ReplaySource
from afterbeat.storage.importers import load_rr
from afterbeat.storage.store import Store
from resonance_model import Person, random_person, simulate

DATA = Path(__file__).parent / "data"
PROTOCOL = Protocol()


def _write_person(tmp_path: Path, person: Person, seed: int, name: str = "rr.txt") -> Path:
    """The person's RR (ms) through the default protocol, as a plain RR file."""
    blocks = list(schedule(PROTOCOL, 0.0))
    rr = simulate(person, blocks, PROTOCOL.duration_s + 10.0, seed)
    path = tmp_path / name
    np.savetxt(path, rr, fmt="%.1f")
    return path


def _run(path: Path, protocol: Protocol = PROTOCOL, **kwargs: object) -> AssessmentRun:
    source = ReplaySource(path, speed=None)
    return asyncio.run(run_assessment(source, protocol, **kwargs))  # type: ignore[arg-type]


# -- protocol ----------------------------------------------------------------------------------


def test_default_protocol_is_the_stepped_one_with_breaks() -> None:
    blocks = schedule(PROTOCOL, 10.0)
    assert [b.rate_bpm for b in blocks] == [6.5, 6.0, 5.5, 5.0, 4.5]
    assert blocks[0].start_s == 10.0 + PROTOCOL.settle_s
    assert all(b.duration_s == PROTOCOL.block_s for b in blocks)
    gaps = [b.start_s - a.end_s for a, b in zip(blocks, blocks[1:], strict=False)]
    assert gaps == [PROTOCOL.break_s] * 4
    assert blocks[-1].end_s == pytest.approx(10.0 + PROTOCOL.duration_s)
    # the pacer of a block breathes in 40 % of the breath at the block's rate
    pattern = blocks[1].pattern()
    assert pattern.breaths_per_min == pytest.approx(6.0)
    assert pattern.phases[0].duration_s == pytest.approx(4.0)


def test_stage_follows_the_timeline() -> None:
    blocks = schedule(PROTOCOL, 0.0)
    assert stage_at(blocks, 0.0, 5.0) == Stage("settle", 0.0, blocks[0].start_s, blocks[0])
    assert stage_at(blocks, 0.0, blocks[0].start_s + 1).kind == "block"
    brk = stage_at(blocks, 0.0, blocks[0].end_s + 1)
    assert brk.kind == "break" and brk.block == blocks[1]
    assert stage_at(blocks, 0.0, blocks[-1].end_s + 1).kind == "done"


@pytest.mark.parametrize(("obj", "word"), [
    ({"rates_bpm": [6, 20]}, "rate"),
    ({"block_s": 1}, "block_s"),
    ({"speed": 2}, "unknown field"),
    ({"rates_bpm": "6"}, "list"),
    ({"inhale_share": 0.95}, "inhale_share"),
])
def test_bad_protocols_are_refused_with_the_reason(obj: dict[str, object], word: str) -> None:
    with pytest.raises(ResonanceError, match=word):
        Protocol.from_json(obj)


def test_protocol_round_trips() -> None:
    custom = Protocol(rates_bpm=(4.5, 5.5, 6.5), block_s=180.0, break_s=20.0, settle_s=0.0,
                      inhale_share=0.5)
    assert Protocol.from_json(json.loads(json.dumps(custom.to_json()))) == custom


def test_block_specs_parse_or_say_why() -> None:
    assert parse_block_spec("5.5@300-420", 2) == Block(2, 5.5, 300.0, 420.0)
    for bad in ("5.5", "5.5@300", "x@1-2", "5.5@200-100", "50@0-100", "6@-5-100"):
        with pytest.raises(ResonanceError):
            parse_block_spec(bad)


def test_markers_carry_the_blocks_and_a_stopped_block_keeps_its_part() -> None:
    blocks = schedule(PROTOCOL, 0.0)
    markers: list[Marker] = []
    for b in blocks[:2]:
        markers += [block_start_marker(b), block_end_marker(b, b.end_s, completed=True)]
    third = blocks[2]
    markers += [block_start_marker(third),
                block_end_marker(third, third.start_s + 50.0, completed=False)]
    assert all(m.kind in (MarkerKind.RESONANCE_BLOCK_START, MarkerKind.RESONANCE_BLOCK_END)
               for m in markers)
    back = blocks_from_markers(reversed(markers))
    assert back[:2] == list(blocks[:2])
    assert back[2].rate_bpm == third.rate_bpm and back[2].duration_s == pytest.approx(50.0)
    # a block whose end marker is missing ends with the recording
    open_only = blocks_from_markers([block_start_marker(blocks[3])], end_s=blocks[3].start_s + 30)
    assert open_only[0].duration_s == pytest.approx(30.0)


# -- decision rule -----------------------------------------------------------------------------


def _measures(rate: float, swings: list[float], *, followed: bool = True) -> BlockMeasures:
    return BlockMeasures(
        index=int(rate * 10), rate_bpm=rate, pass_no=1, start_s=0.0, end_s=120.0,
        analysed_s=105.0, n_beats=120, n_breaths=len(swings), peak_trough_bpm=max(swings),
        per_breath_bpm=tuple(swings), swing_bpm=float(np.mean(swings)),
        per_breath_swing_bpm=tuple(swings), mean_hr_bpm=65.0, lf_ms2=100.0 * max(swings),
        lf_peak_hz=rate / 60, coherence=3.0, pacer_amplitude_bpm=max(swings) / 2,
        phase_deg=0.0, phase_locking=0.9 if followed else 0.2, pacer_share=0.5,
        corrected_pct=0.0, coverage_pct=100.0, quality_ok=True, followed=followed)


def test_a_clear_peak_is_chosen_with_high_confidence() -> None:
    rng = np.random.default_rng(0)
    means = {6.5: 8.0, 6.0: 10.0, 5.5: 14.0, 5.0: 10.5, 4.5: 9.0}
    measures = [_measures(r, list(m + rng.normal(0, 0.8, 10))) for r, m in means.items()]
    decision = decide(measures)
    assert decision.rate_bpm == 5.5 and decision.verdict == "clear"
    assert decision.confidence > 0.9
    assert "5.5 breaths a minute" in decision.words


def test_indistinguishable_blocks_say_cannot_tell() -> None:
    rng = np.random.default_rng(1)
    measures = [_measures(r, list(10 + rng.normal(0, 2.0, 10))) for r in (6.5, 6, 5.5, 5, 4.5)]
    decision = decide(measures)
    assert decision.verdict == "cannot_tell" and decision.rate_bpm is None
    assert "repeat" in decision.words


def test_too_few_followed_blocks_say_cannot_tell() -> None:
    measures = [_measures(6.0, [12, 13, 12, 14, 13]), _measures(5.5, [20, 21, 22, 20, 21]),
                _measures(5.0, [9, 9, 8, 9, 10], followed=False),
                _measures(4.5, [9, 9, 8, 9, 10], followed=False)]
    decision = decide(measures)
    assert decision.verdict == "cannot_tell"
    assert any("left out" in r for r in decision.reasons)


def test_a_left_out_neighbour_that_swung_as_much_means_cannot_tell() -> None:
    rng = np.random.default_rng(3)
    means = {6.5: 8.0, 6.0: 10.0, 5.5: 14.0, 5.0: 10.5, 4.5: 9.0}
    measures = [_measures(r, list(m + rng.normal(0, 0.8, 10))) for r, m in means.items()]
    assert decide(measures).verdict == "clear"
    poor = replace(_measures(5.0, [15.0] * 8), quality_ok=False, notes=("8 % corrected",))
    decision = decide([m if m.rate_bpm != 5.0 else poor for m in measures])
    assert decision.verdict == "cannot_tell" and "left out" in decision.reasons[0]
    weaker = replace(_measures(5.0, [9.0] * 8), quality_ok=False)
    decision = decide([m if m.rate_bpm != 5.0 else weaker for m in measures])
    assert decision.verdict == "likely" and decision.rate_bpm == 5.5


def test_assess_needs_blocks_and_beats() -> None:
    with pytest.raises(ResonanceError):
        assess([1.0, 2.0], [1000.0, 1000.0], [Block(0, 6.0, 0.0, 60.0)])
    with pytest.raises(ResonanceError):
        assess(np.arange(1, 100.0), np.full(99, 1000.0), [])


# -- simulated people through the replay source -----------------------------------------------


@pytest.mark.slow
def test_finds_the_resonance_across_simulated_people(tmp_path: Path) -> None:
    rng = np.random.default_rng(2026)
    hits = 0
    confident_misses = 0
    n = 12
    for i in range(n):
        person = random_person(rng)
        run = _run(_write_person(tmp_path, person, seed=i, name=f"p{i}.txt"))
        assert run.assessment is not None and len(run.assessment.blocks) == 5
        decision = run.assessment.decision
        truth = person.true_rate_bpm()
        lean = decision.leaning_bpm
        hits += lean is not None and abs(lean - truth) <= 0.5
        confident_misses += (decision.verdict == "clear" and decision.rate_bpm is not None
                             and abs(decision.rate_bpm - truth) > 1.0)
    assert hits >= 0.8 * n
    assert confident_misses == 0


def test_a_person_who_does_not_follow_the_pacer_gets_no_pace(tmp_path: Path) -> None:
    person = Person(resonance_bpm=5.5, follow=0.0, spontaneous_bpm=14.0)
    run = _run(_write_person(tmp_path, person, seed=5))
    assert run.assessment is not None
    assert not any(b.followed for b in run.assessment.blocks)
    assert run.assessment.decision.verdict == "cannot_tell"


def test_the_recording_carries_block_markers_and_replays_to_the_same_result(
        tmp_path: Path) -> None:
    run = _run(_write_person(tmp_path, Person(resonance_bpm=5.0), seed=11))
    kinds = [r.kind for r in run.records if isinstance(r, Marker)]
    assert kinds.count(MarkerKind.RESONANCE_BLOCK_START) == 5
    assert kinds.count(MarkerKind.RESONANCE_BLOCK_END) == 5
    again = read_records(run.records)
    assert [b.rate_bpm for b in again.blocks] == [6.5, 6.0, 5.5, 5.0, 4.5]
    redo = assess(again.t_s, again.rr_ms, again.blocks, segment=again.segment)
    assert run.assessment is not None
    assert redo.decision == run.assessment.decision


def test_stopping_early_keeps_what_was_measured(tmp_path: Path) -> None:
    path = _write_person(tmp_path, Person(resonance_bpm=6.0), seed=3)
    blocks = schedule(PROTOCOL, 0.0)
    stop = asyncio.Event()
    stop_at = blocks[2].start_s + 60.0

    def on_stage(stage: Stage, t_s: float) -> None:
        if t_s >= stop_at:
            stop.set()

    run = _run(path, stop=stop, on_stage=on_stage)
    assert run.stopped
    assert run.assessment is not None
    measured = run.assessment.blocks
    assert [b.rate_bpm for b in measured] == [6.5, 6.0, 5.5]
    assert measured[2].end_s == pytest.approx(stop_at, abs=1.5)
    ends = [json.loads(r.text or "{}") for r in run.records
            if isinstance(r, Marker) and r.kind is MarkerKind.RESONANCE_BLOCK_END]
    assert [e["completed"] for e in ends] == [True, True, False]


def test_a_second_pass_repeats_the_two_best_rates(tmp_path: Path) -> None:
    protocol = Protocol(block_s=90.0, break_s=15.0, settle_s=30.0)
    blocks = list(schedule(protocol, 0.0))
    extra = [Block(5, 5.5, blocks[-1].end_s + 15, blocks[-1].end_s + 105),
             Block(6, 5.0, blocks[-1].end_s + 120, blocks[-1].end_s + 210)]
    rr = simulate(Person(resonance_bpm=5.3), blocks + extra, protocol.duration_s + 240, 8)
    path = tmp_path / "rr.txt"
    np.savetxt(path, rr, fmt="%.1f")
    run = _run(path, protocol, second_pass=True)
    assert run.assessment is not None
    passes = [(b.rate_bpm, b.pass_no) for b in run.assessment.blocks]
    assert len(passes) == 7 and [p for _, p in passes[5:]] == [2, 2]
    first = sorted(run.assessment.blocks[:5], key=lambda b: -b.swing_bpm)
    assert {r for r, _ in passes[5:]} == {first[0].rate_bpm, first[1].rate_bpm}


# -- real unpaced rest -------------------------------------------------------------------------

REST = [
    ("polar-hrm/rest_rri.txt", 0.0),
    ("polar-hrm/real_rri.txt", 0.0),
    ("kubios-reference/series_1.npy", 0.0),
    ("kubios-reference/series_1.npy", 1800.0),
    ("physionet-healthy-24h/000.txt", 3600.0),
    ("physionet-healthy-24h/008.txt", 7200.0),
    ("polar-h10-pvc/polar_h10_rr_only.csv", 0.0),
]


@pytest.mark.parametrize(("name", "offset_s"), REST)
def test_real_unpaced_rest_claims_no_clear_resonance(name: str, offset_s: float) -> None:
    beats = load_rr(DATA / name)
    start = float(beats.t_s[0]) + offset_s
    sel = (beats.t_s >= start) & (beats.t_s < start + PROTOCOL.duration_s + 10)
    blocks = schedule(PROTOCOL, start)
    result = assess(beats.t_s[sel], beats.rr_ms[sel], blocks, segment=beats.segment[sel])
    assert result.decision.verdict == "cannot_tell"
    assert result.decision.rate_bpm is None


# -- the command -------------------------------------------------------------------------------


def test_cli_guided_replay_keeps_session_result_and_pace(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write_person(tmp_path, Person(resonance_bpm=5.5, rsa_bpm=10.0, noise_bpm=1.0), 4)
    data = tmp_path / "data"
    assert main(["resonance", "--replay", str(path), "--data-dir", str(data), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["decision"]["rate_bpm"] == 5.5 and out["session_id"] == 1
    with Store.open(data) as store:
        doc = store.get_document(RESONANCE_DOCUMENT_KEY)
        assert doc["rate_bpm"] == 5.5 and doc["session_id"] == 1
        assert store.get_document("settings")["breaths_per_min"] == 5.5
        assert store.get_results(1)[RESONANCE_DOCUMENT_KEY]["rate_bpm"] == 5.5
        plan = plan_from_json(store.get_document("plan"))
        assert plan.resonance is not None and plan.resonance["breaths_per_min"] == 5.5
        assert plan.resonance["session_id"] == 1
        session_file = tmp_path / "assessment.jsonl"
        store.export(1, session_file)
    # the recorded session, analysed again from its block markers
    assert main(["resonance", "--analyze", str(session_file), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["decision"] == out["decision"]
    # the plain RR file with the blocks given by hand
    specs = [f"--block={b.rate_bpm:g}@{b.start_s:g}-{b.end_s:g}" for b in schedule(PROTOCOL, 0)]
    assert main(["resonance", "--analyze", str(path), *specs]) == 0
    table = capsys.readouterr().out
    assert "Chosen pace: 5.5/min" in table and "followed" in table


def test_terminal_pacer_line_follows_the_block_timeline() -> None:
    blocks = schedule(PROTOCOL, 0.0)
    assert pacer_line(stage_at(blocks, 0.0, 10.0), 10.0).startswith("Settling in")
    second = blocks[1]  # 6/min: 4 s in, 6 s out
    stage = stage_at(blocks, 0.0, second.start_s + 1.0)
    line = pacer_line(stage, second.start_s + 1.0)
    assert line.startswith("Breathe in") and " 3 s" in line and "6/min" in line
    line = pacer_line(stage, second.start_s + 7.0)
    assert line.startswith("Breathe out") and " 3 s" in line and "1:53 left" in line


def test_cli_analyze_without_blocks_says_how(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = _write_person(tmp_path, Person(), 1)
    assert main(["resonance", "--analyze", str(path)]) == 2
    assert "--block RATE@START-END" in capsys.readouterr().err
    assert main(["resonance", "--analyze", str(path), "--block", "fast@1-2"]) == 2
    assert main(["resonance", "--analyze", str(tmp_path / "missing.txt")]) == 2


# -- the plan ----------------------------------------------------------------------------------


def test_plan_keeps_an_optional_resonance_result() -> None:
    doc = {"resonance": {"breaths_per_min": 5.5, "assessed_at": "2026-12-06T10:00:00+00:00",
                         "verdict": "clear", "confidence": 0.82, "session_id": 3}}
    plan = plan_from_json(doc)
    assert plan.resonance is not None and plan.resonance["breaths_per_min"] == 5.5
    assert plan_from_json(plan.to_json()) == plan
    assert "resonance" not in plan_from_json({}).to_json()
    for bad, where in (({"verdict": "great"}, "resonance.verdict"),
                       ({"confidence": 2}, "resonance.confidence"),
                       ({"colour": 1}, "resonance.colour")):
        with pytest.raises(PlanError) as info:
            plan_from_json({"resonance": bad})
        assert info.value.field == where


def test_a_block_of_one_or_two_breaths_claims_no_steadiness() -> None:
    """One breath is always 'in step' (phase locking 1.0): too few breaths give no steadiness,
    and the words say so instead of 'did not follow (1.00)'."""
    person = Person(resonance_bpm=6.0)
    block = Block(index=0, rate_bpm=6.0, start_s=30.0, end_s=50.0)  # two breaths of 10 s
    rr_ms = simulate(person, [block], 90.0, seed=4)
    t_s = np.cumsum(rr_ms) / 1000.0
    result = assess(t_s, rr_ms, [block])
    (measured,) = result.blocks
    assert measured.n_breaths < 3 and measured.phase_locking is None
    assert not measured.followed
    assert any("too few breaths to tell" in note for note in measured.notes), measured.notes
    assert not any("did not keep in step" in note for note in measured.notes)
    assert result.decision.rate_bpm is None
    assert result.decision.reasons[0].startswith("no pace could be used"), result.decision.reasons


def _beats(person: Person, blocks: list[Block], duration_s: float,
           seed: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Beat times (s) and RR (ms) of ``person`` through ``blocks``."""
    rr = simulate(person, blocks, duration_s, seed)
    return np.cumsum(rr) / 1000.0, rr


def test_beats_outside_the_assessment_do_not_change_its_numbers() -> None:
    """The page assesses when the last block ends; the exported session holds the rest of the
    recording too: both must give the same result."""
    protocol = Protocol(rates_bpm=(6.0, 5.0), block_s=60.0, break_s=5.0, settle_s=5.0)
    blocks = list(schedule(protocol, 30.0))
    t, rr = _beats(Person(resonance_bpm=5.0, ectopic_rate=0.01), blocks, 400.0, seed=3)
    end_s = blocks[-1].end_s
    at_the_end = assess(t[t <= end_s + 0.5], rr[t <= end_s + 0.5], blocks)
    later = assess(t, rr, blocks)
    assert later.to_json() == at_the_end.to_json()
    assert later.blocks[0].n_beats > 0


def test_a_recording_with_two_assessments_assesses_the_last() -> None:
    protocol = Protocol(rates_bpm=(6.0, 5.0), block_s=60.0, break_s=5.0, settle_s=5.0)
    first = list(schedule(protocol, 0.0))
    second = list(schedule(protocol, 200.0))
    t, rr = _beats(Person(resonance_bpm=5.0), first + second, 400.0, seed=4)
    records: list[Record] = [*_notifications(t, rr),
               *(m for b in first + second
                 for m in (block_start_marker(b), block_end_marker(b, b.end_s, completed=True)))]
    records.sort(key=lambda r: r.t_s)
    beats = read_records(records)
    result = assess_recording(beats)
    assert [b.start_s for b in result.blocks] == [b.start_s for b in second]
    alone = assess(beats.t_s, beats.rr_ms, second, segment=beats.segment)
    assert [b.to_json() for b in result.blocks] == [b.to_json() for b in alone.blocks]
    assert any("2 assessments" in note for note in result.notes)
    assert assess_recording(beats, since_s=0.0).blocks == alone.blocks


def _notifications(t_s: NDArray[np.float64],
                   rr_ms: NDArray[np.float64]) -> list[Notification]:
    """One notification per beat, arriving at the beat (RR in 1/1024 s, as a strap sends)."""
    out: list[Notification] = []
    for t, rr in zip(t_s, rr_ms, strict=True):
        raw = round(float(rr) * 1.024)
        payload = bytes([0x10, 70, raw & 0xFF, raw >> 8])
        out.append(Notification(t_s=float(t), wall_s=float(t), payload=payload))
    return out
