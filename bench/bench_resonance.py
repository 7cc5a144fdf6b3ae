"""Resonance assessment in simulation: how often it finds the true rate, against noise and
against people who do not follow the pacer; and what it says on real unpaced rest.

Run: PYTHONPATH=src python bench/bench_resonance.py [--people 100] [--replay]

The synthetic heart is tests/resonance_model.py (model and parameter ranges in its docstring).
Each condition draws ``--people`` people (resonance 4.5-6.5/min, damping 0.15-0.35, RSA 4-12
bpm, heart rate 55-85 bpm, HRV noise 1-2.5 bpm, slow waves 0.5-2 bpm, ectopic beats 0-0.6 %)
with a fixed seed and runs the default protocol (settle 60 s, 2-min blocks at 6.5-4.5/min,
30-s breaks). "hit" = within 0.5 breaths/min of the true rate (where the model's swing peaks).
With ``--replay`` every person goes through the replay source and the guided runner, as the
tests do (slower); otherwise beat arrays go straight to ``assess``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from afterbeat.resets.resonance import (  # noqa: E402
    Assessment,
    Protocol,
    assess,
    schedule,
)
from afterbeat.storage.importers import load_rr  # noqa: E402
from resonance_model import Person, random_person, simulate  # noqa: E402

PROTOCOL = Protocol()
REST = [
    ("polar-hrm/rest_rri.txt", [0.0]),
    ("polar-hrm/real_rri.txt", [0.0]),
    ("kubios-reference/series_1.npy", [0.0, 900.0, 1800.0, 2700.0]),
    ("physionet-healthy-24h/000.txt", [h * 3600.0 for h in range(0, 24, 2)]),
    ("physionet-healthy-24h/008.txt", [h * 3600.0 for h in range(0, 24, 2)]),
    ("polar-h10-pvc/polar_h10_rr_only.csv", [0.0]),
]


def _assess_person(person: Person, seed: int, via_replay: bool) -> Assessment:
    blocks = list(schedule(PROTOCOL, 0.0))
    rr = simulate(person, blocks, PROTOCOL.duration_s + 10.0, seed)
    if not via_replay:
        return assess(np.cumsum(rr) / 1000.0, rr, blocks)
    from afterbeat.cli.resonance import run_assessment
    from afterbeat.sources.replay import ReplaySource

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rr.txt"
        np.savetxt(path, rr, fmt="%.1f")
        run = asyncio.run(run_assessment(ReplaySource(path, speed=None), PROTOCOL))
    assert run.assessment is not None
    return run.assessment


def condition(label: str, people: list[Person], via_replay: bool) -> dict[str, float]:
    """Run one condition and print a row: hit rates, verdicts, mean confidence."""
    verdicts: Counter[str] = Counter()
    lean_hits = chosen = chosen_hits = confident_wrong = 0
    crit = Counter[str]()
    errors: list[float] = []
    for i, person in enumerate(people):
        result = _assess_person(person, 10_000 + i, via_replay)
        d = result.decision
        truth = person.true_rate_bpm()
        verdicts[d.verdict] += 1
        if d.leaning_bpm is not None:
            lean_hits += abs(d.leaning_bpm - truth) <= 0.5
            errors.append(d.leaning_bpm - truth)
        if d.rate_bpm is not None:
            chosen += 1
            ok = abs(d.rate_bpm - truth) <= 0.5
            chosen_hits += ok
            confident_wrong += (d.verdict == "clear" and abs(d.rate_bpm - truth) > 1.0)
        blocks = result.blocks
        if blocks:
            for name, key in (("swing", "swing_bpm"), ("maxmin", "peak_trough_bpm"),
                              ("lf", "lf_ms2")):
                best = max(blocks, key=lambda b, k=key: getattr(b, k) or 0.0)  # type: ignore[misc]
                crit[name] += abs(best.rate_bpm - truth) <= 0.5
    n = len(people)
    row = {
        "lean_hit": lean_hits / n, "chosen_share": chosen / n,
        "chosen_hit": chosen_hits / chosen if chosen else float("nan"),
        "clear": verdicts["clear"] / n, "likely": verdicts["likely"] / n,
        "cannot_tell": verdicts["cannot_tell"] / n, "clear_off_by_1": confident_wrong / n,
        "swing_hit": crit["swing"] / n, "maxmin_hit": crit["maxmin"] / n,
        "lf_hit": crit["lf"] / n,
        "mae": float(np.mean(np.abs(errors))) if errors else float("nan"),
    }
    print(f"{label:<28} lean {row['lean_hit']:5.0%}  given {row['chosen_share']:5.0%} "
          f"(hit {row['chosen_hit']:5.0%})  clear {row['clear']:4.0%} likely "
          f"{row['likely']:4.0%} cannot {row['cannot_tell']:4.0%}  clear&>1off "
          f"{row['clear_off_by_1']:4.0%}  | by swing {row['swing_hit']:4.0%} max-min "
          f"{row['maxmin_hit']:4.0%} LF {row['lf_hit']:4.0%}  MAE {row['mae']:.2f}/min",
          flush=True)
    return row


def rest() -> None:
    """Verdicts on real unpaced rest, with the default blocks laid over each window."""
    verdicts: Counter[str] = Counter()
    for name, offsets in REST:
        beats = load_rr(ROOT / "tests" / "data" / name)
        for offset in offsets:
            start = float(beats.t_s[0]) + offset
            if start + PROTOCOL.duration_s > beats.t_s[-1] + 300:
                continue
            sel = (beats.t_s >= start) & (beats.t_s < start + PROTOCOL.duration_s + 10)
            result = assess(beats.t_s[sel], beats.rr_ms[sel], schedule(PROTOCOL, start),
                            segment=beats.segment[sel])
            counted = sum(b.counts for b in result.blocks)
            verdicts[result.decision.verdict] += 1
            print(f"  rest {name} +{offset / 60:.0f} min: {result.decision.verdict}, "
                  f"{counted}/{len(result.blocks)} blocks followed", flush=True)
    print(f"real rest windows: {dict(verdicts)}")


def main() -> int:
    """Run every condition and print one row each."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--replay", action="store_true",
                        help="drive every person through the replay source (slower)")
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"{args.people} simulated people per condition, default protocol "
          f"({PROTOCOL.duration_s / 60:.1f} min){', via replay' if args.replay else ''}")
    rng = np.random.default_rng(12)
    base = [random_person(rng) for _ in range(args.people)]
    condition("typical people", base, args.replay)
    for scale in (0.5, 2.0, 3.0, 4.0):
        condition(f"noise x{scale:g}", [replace(p, noise_bpm=p.noise_bpm * scale,
                                                slow_bpm=p.slow_bpm * scale) for p in base],
                  args.replay)
    condition("ectopic 2 %", [replace(p, ectopic_rate=0.02) for p in base], args.replay)
    for follow in (0.75, 0.5, 0.25, 0.0):
        condition(f"follows {follow:.0%} of the time",
                  [replace(p, follow=follow) for p in base], args.replay)
    rest()
    print(f"elapsed {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
