"""Resonance-frequency assessment: protocol, per-block measures and a transparent decision (pure).

The protocol (Lehrer, Vaschillo & Vaschillo 2000; Shaffer & Meehan 2020) is a timeline: a short
settling rest, then paced blocks at 6.5, 6.0, 5.5, 5.0 and 4.5 breaths/min (2 minutes each by
default) with short free-breathing breaks between them. Each block is paced by the clock-driven
pacer of :mod:`afterbeat.resets.pacing`; a recording marks every block with a
``resonance_block_start`` marker (``value`` = rate, ``text`` = the block as JSON) and a
``resonance_block_end`` marker, so the assessment is a replayable session.

Measures per block, on artifact-corrected beats (:func:`afterbeat.hrv.artifacts.correct_beats`),
over the block after a lead-in of ``LEAD_IN_S`` (the heart takes a few breaths to settle into a
new pace):

- ``peak_trough_bpm``: heart-rate maximum minus minimum within each complete pacer cycle,
  averaged over the cycles (Lehrer et al. 2000).
- ``lf_ms2`` and ``lf_peak_hz``: power of the RR series in 0.04-0.15 Hz and its highest point
  (Lomb-Scargle, Parseval-scaled, :mod:`afterbeat.hrv.spectral`).
- ``coherence``: the HeartMath-style ratio the page's feedback uses
  (:func:`afterbeat.hrv.spectral.coherence_ratio`).
- Following the pacer, computable because the pacer's timeline is known: each cycle's heart-rate
  oscillation is projected onto the pacer frequency, giving its amplitude and its phase relative
  to the lung-volume curve the pacer draws (``phase_deg``: 0 = heart rate peaks with full lungs,
  positive = later). ``phase_locking`` is the length of the mean unit phase vector over cycles
  (1 = the same phase every breath, about 1/sqrt(cycles) for an unrelated rhythm), and
  ``pacer_share`` the share of RR power (0.0033-0.4 Hz) within 0.015 Hz of the pacer frequency.
- Quality: the corrected share (``corrected_pct``), coverage of the block by beats
  (``coverage_pct``) and whether the heart followed the pacer (``followed``).

Decision rule (:func:`decide`), written so a therapist can check it by hand:

1. A block counts when its quality is good (corrected <= 5 %, coverage >= 90 %, >= 5 complete
   breaths) and the heart followed the pacer (``phase_locking`` >= 0.6 and ``pacer_share`` >=
   0.2). Blocks at the same rate pool their breaths.
2. The chosen rate is the one with the largest mean peak-to-trough heart-rate swing per breath
   (``swing_bpm``), the primary criterion of Lehrer et al. 2000 and Shaffer & Meehan 2020,
   taken at the breathing frequency: twice the amplitude of each breath's oscillation at the
   pacer frequency. The raw maximum minus minimum per breath (``peak_trough_bpm``) is reported
   too; it also grows with beat-to-beat noise, and picked the true rate less often in the
   simulation (docs/resonance.md).
3. Confidence: the breaths of every counted rate are resampled (bootstrap, 2000 times, fixed
   seed); ``confidence`` is the share of resamples in which the chosen rate still comes out on
   top, ``confidence_near`` the share within 0.5 breaths/min of it.
4. Corroboration: the rate with the most LF power should lie within 0.5/min of the chosen one.
5. Verdict: ``clear`` when confidence >= 0.7, LF power agrees and no block within 0.5/min of
   the chosen rate was left out; ``likely`` when confidence >= 0.4, confidence_near >= 0.8 and
   LF power lies within 1/min; otherwise ``cannot_tell`` ("repeat the assessment"), also when
   fewer than 3 rates count, the swings of the counted rates differ by less than 10 %, or a
   block within 0.5/min that was left out for its quality swung at least as much. The phase
   (closest to 0 degrees at resonance, Vaschillo et al. 2002) is reported per rate, not voted
   with.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import NDArray

from afterbeat.errors import AfterbeatError
from afterbeat.hrv.artifacts import correct_beats
from afterbeat.hrv.beats import record_beats
from afterbeat.hrv.spectral import (
    COHERENCE_TOTAL_BAND_HZ,
    LF_BAND_HZ,
    band_power_ms2,
    coherence_ratio,
    lomb_psd,
)
from afterbeat.records import Marker, MarkerKind, Record, SkipReport
from afterbeat.resets.pacing import Pattern, Timeline, start_timeline
from afterbeat.resets.plan import PlanError, plan_from_json

__all__ = [
    "DEFAULT_BLOCK_S",
    "DEFAULT_BREAK_S",
    "DEFAULT_INHALE_SHARE",
    "DEFAULT_RATES_BPM",
    "DEFAULT_SETTLE_S",
    "RESONANCE_DOCUMENT_KEY",
    "Assessment",
    "Block",
    "BlockMeasures",
    "Decision",
    "Protocol",
    "RateSummary",
    "RecordedBeats",
    "ResonanceError",
    "Stage",
    "assess",
    "assess_recording",
    "assessment_span",
    "assessments_in",
    "block_end_marker",
    "block_start_marker",
    "blocks_from_markers",
    "decide",
    "keeps_previous",
    "last_assessment",
    "measure_block",
    "parse_block_spec",
    "plan_with_result",
    "read_records",
    "result_document",
    "schedule",
    "second_pass_blocks",
    "stage_at",
]

DEFAULT_RATES_BPM: Final = (6.5, 6.0, 5.5, 5.0, 4.5)
"""Breaths per minute, in the order of the published stepped protocol (Lehrer et al. 2000)."""
DEFAULT_BLOCK_S: Final = 120.0
DEFAULT_BREAK_S: Final = 30.0
DEFAULT_SETTLE_S: Final = 60.0
DEFAULT_INHALE_SHARE: Final = 0.4
"""Share of each breath spent breathing in, as afterbeat's resonance reset (4 s in, 6 s out)."""
MIN_RATE_BPM: Final = 3.0
MAX_RATE_BPM: Final = 10.0
LEAD_IN_S: Final = 15.0
"""Seconds at the start of each block left out of the measures (at most a quarter of it)."""
RESONANCE_DOCUMENT_KEY: Final = "resonance"
"""Person document holding the latest assessment result."""

MAX_CORRECTED_PCT: Final = 5.0
MIN_COVERAGE_PCT: Final = 90.0
MIN_BREATHS: Final = 5
MIN_PHASE_LOCKING: Final = 0.6
MIN_PHASE_BREATHS: Final = 3
"""Breaths needed before phase locking is measured (a single breath is trivially in step)."""
MIN_PACER_SHARE: Final = 0.2
PACER_HALF_WIDTH_HZ: Final = 0.015
MIN_RATES: Final = 3
MIN_SPREAD: Final = 0.10
CLEAR_CONFIDENCE: Final = 0.7
LIKELY_CONFIDENCE: Final = 0.4
LIKELY_NEAR: Final = 0.8
BOOTSTRAP_ROUNDS: Final = 2000
_GRID_HZ: Final = 4.0
_DF_HZ: Final = 0.002

FloatArray = NDArray[np.float64]
Verdict = Literal["clear", "likely", "cannot_tell"]


class ResonanceError(AfterbeatError, ValueError):
    """A protocol, block or block specification that cannot be used (the message says why)."""


def _finite(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ResonanceError(f"{name} must be a number, got {value!r}")
    if not low <= value <= high:
        raise ResonanceError(f"{name} must lie between {low:g} and {high:g}, got {value!r}")
    return float(value)


def _pattern(rate_bpm: float, inhale_share: float) -> Pattern:
    cycle_s = 60.0 / rate_bpm
    inhale_s = round(cycle_s * inhale_share, 3)
    return Pattern.of(("Breathe in", inhale_s, "inhale"),
                      ("Breathe out", round(cycle_s - inhale_s, 3), "exhale"))


# --------------------------------------------------------------------------------------------
# Protocol and timeline


@dataclass(frozen=True, slots=True)
class Protocol:
    """Rates (breaths/min, in order), block, break and settling lengths (s), inhale share."""

    rates_bpm: tuple[float, ...] = DEFAULT_RATES_BPM
    block_s: float = DEFAULT_BLOCK_S
    break_s: float = DEFAULT_BREAK_S
    settle_s: float = DEFAULT_SETTLE_S
    inhale_share: float = DEFAULT_INHALE_SHARE

    def __post_init__(self) -> None:
        if not self.rates_bpm:
            raise ResonanceError("rates: at least one rate is needed")
        if len(self.rates_bpm) > 12:
            raise ResonanceError("rates: at most 12 blocks")
        for rate in self.rates_bpm:
            _finite(rate, "rate (breaths/min)", MIN_RATE_BPM, MAX_RATE_BPM)
        _finite(self.block_s, "block length (s)", 10.0, 600.0)
        _finite(self.break_s, "break length (s)", 0.0, 300.0)
        _finite(self.settle_s, "settling rest (s)", 0.0, 600.0)
        _finite(self.inhale_share, "inhale share", 0.2, 0.8)

    @property
    def duration_s(self) -> float:
        """Length of the whole assessment (s)."""
        n = len(self.rates_bpm)
        return self.settle_s + n * self.block_s + (n - 1) * self.break_s

    def to_json(self) -> dict[str, Any]:
        """JSON object (round-trips through :meth:`from_json`)."""
        return {"rates_bpm": list(self.rates_bpm), "block_s": self.block_s,
                "break_s": self.break_s, "settle_s": self.settle_s,
                "inhale_share": self.inhale_share}

    @classmethod
    def from_json(cls, obj: Any) -> Protocol:
        """Validate a decoded JSON protocol; missing fields take the defaults."""
        if not isinstance(obj, dict):
            raise ResonanceError("protocol must be a JSON object")
        known = {"rates_bpm", "block_s", "break_s", "settle_s", "inhale_share"}
        for key in obj:
            if key not in known:
                raise ResonanceError(f"protocol: unknown field {key!r}; known: "
                                     f"{', '.join(sorted(known))}")
        rates = obj.get("rates_bpm", list(DEFAULT_RATES_BPM))
        if not isinstance(rates, list):
            raise ResonanceError("rates_bpm must be a list of numbers")
        return cls(
            rates_bpm=tuple(_finite(r, "rate (breaths/min)", MIN_RATE_BPM, MAX_RATE_BPM)
                            for r in rates),
            block_s=_finite(obj.get("block_s", DEFAULT_BLOCK_S), "block_s", 10.0, 600.0),
            break_s=_finite(obj.get("break_s", DEFAULT_BREAK_S), "break_s", 0.0, 300.0),
            settle_s=_finite(obj.get("settle_s", DEFAULT_SETTLE_S), "settle_s", 0.0, 600.0),
            inhale_share=_finite(obj.get("inhale_share", DEFAULT_INHALE_SHARE), "inhale_share",
                                 0.2, 0.8),
        )


@dataclass(frozen=True, slots=True)
class Block:
    """One paced block: rate (breaths/min), start and end (s), inhale share, pass (1 or 2)."""

    index: int
    rate_bpm: float
    start_s: float
    end_s: float
    inhale_share: float = DEFAULT_INHALE_SHARE
    pass_no: int = 1

    def __post_init__(self) -> None:
        _finite(self.rate_bpm, "rate (breaths/min)", MIN_RATE_BPM, MAX_RATE_BPM)
        _finite(self.inhale_share, "inhale share", 0.2, 0.8)
        if not (math.isfinite(self.start_s) and math.isfinite(self.end_s)
                and self.end_s > self.start_s):
            raise ResonanceError(f"block at {self.rate_bpm:g}/min: its end ({self.end_s!r} s) "
                                 f"must come after its start ({self.start_s!r} s)")

    @property
    def duration_s(self) -> float:
        """Length of the block (s)."""
        return self.end_s - self.start_s

    @property
    def cycle_s(self) -> float:
        """Length of one paced breath (s)."""
        return 60.0 / self.rate_bpm

    def pattern(self) -> Pattern:
        """The breathing pattern the pacer shows in this block."""
        return _pattern(self.rate_bpm, self.inhale_share)

    def timeline(self, offset_s: float = 0.0) -> Timeline:
        """The pacer's timeline for this block, shifted by ``offset_s`` (e.g. to Unix time)."""
        return start_timeline(self.pattern(), self.start_s + offset_s,
                              duration_s=self.duration_s, reset_id="resonance_assessment")

    def to_json(self) -> dict[str, Any]:
        """JSON object (what a block-start marker carries in ``text``)."""
        pattern = self.pattern()
        return {"index": self.index, "rate_bpm": self.rate_bpm, "start_s": self.start_s,
                "end_s": self.end_s, "inhale_share": self.inhale_share, "pass": self.pass_no,
                "inhale_s": pattern.phases[0].duration_s,
                "exhale_s": pattern.phases[1].duration_s}

    @classmethod
    def from_json(cls, obj: Any) -> Block:
        """A block from its JSON object."""
        if not isinstance(obj, dict):
            raise ResonanceError("a block must be a JSON object")
        try:
            return cls(index=int(obj.get("index", 0)), rate_bpm=float(obj["rate_bpm"]),
                       start_s=float(obj["start_s"]), end_s=float(obj["end_s"]),
                       inhale_share=float(obj.get("inhale_share", DEFAULT_INHALE_SHARE)),
                       pass_no=int(obj.get("pass", 1)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ResonanceError(f"a block needs rate_bpm, start_s and end_s: {exc}") from None


def schedule(protocol: Protocol, start_s: float) -> tuple[Block, ...]:
    """The blocks of ``protocol`` when the assessment begins at ``start_s`` (s)."""
    blocks: list[Block] = []
    t = start_s + protocol.settle_s
    for i, rate in enumerate(protocol.rates_bpm):
        blocks.append(Block(i, rate, t, t + protocol.block_s, protocol.inhale_share))
        t += protocol.block_s + protocol.break_s
    return tuple(blocks)


def second_pass_blocks(protocol: Protocol, measures: Sequence[BlockMeasures], start_s: float,
                       ) -> tuple[Block, ...]:
    """Blocks of an optional second pass over the two best-counted rates, from ``start_s``."""
    ranked = sorted((m for m in measures if m.counts), key=lambda m: -m.swing_bpm)
    rates: list[float] = []
    for m in ranked:
        if m.rate_bpm not in rates:
            rates.append(m.rate_bpm)
    first = len(measures)
    out: list[Block] = []
    t = start_s
    for k, rate in enumerate(rates[:2]):
        out.append(Block(first + k, rate, t, t + protocol.block_s, protocol.inhale_share, 2))
        t += protocol.block_s + protocol.break_s
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Stage:
    """Where the assessment is at one moment: settle, block, break or done, with its span (s)."""

    kind: Literal["settle", "block", "break", "done"]
    start_s: float
    end_s: float | None
    block: Block | None = None
    """The block being paced (``block``) or coming next (``settle``, ``break``)."""


def stage_at(blocks: Sequence[Block], start_s: float, t_s: float) -> Stage:
    """The stage at ``t_s`` (s) of an assessment that began at ``start_s`` with ``blocks``."""
    previous_end = start_s
    for i, block in enumerate(blocks):
        if t_s < block.start_s:
            kind: Literal["settle", "break"] = "settle" if i == 0 else "break"
            return Stage(kind, previous_end, block.start_s, block)
        if t_s < block.end_s:
            return Stage("block", block.start_s, block.end_s, block)
        previous_end = block.end_s
    return Stage("done", previous_end, None, None)


# --------------------------------------------------------------------------------------------
# Markers


def block_start_marker(block: Block) -> Marker:
    """The marker recorded when ``block`` begins."""
    return Marker(t_s=block.start_s, kind=MarkerKind.RESONANCE_BLOCK_START, value=block.rate_bpm,
                  text=json.dumps(block.to_json(), separators=(",", ":")))


def block_end_marker(block: Block, t_s: float, *, completed: bool) -> Marker:
    """The marker recorded when ``block`` ends at ``t_s`` (s); ``completed`` False if stopped."""
    return Marker(t_s=t_s, kind=MarkerKind.RESONANCE_BLOCK_END, value=block.rate_bpm,
                  text=json.dumps({"index": block.index, "completed": completed},
                                  separators=(",", ":")))


def blocks_from_markers(markers: Iterable[Marker], end_s: float | None = None) -> list[Block]:
    """Blocks from a recording's resonance markers; an unended block ends at ``end_s`` (s).

    A block's span is that of its markers (start marker time to end marker time), so a block
    stopped early keeps the part that was paced.
    """
    open_blocks: dict[int, Block] = {}
    out: list[Block] = []
    for marker in sorted(markers, key=lambda m: m.t_s):
        if marker.kind is MarkerKind.RESONANCE_BLOCK_START:
            try:
                obj = json.loads(marker.text or "{}")
            except json.JSONDecodeError:
                obj = {}
            if not isinstance(obj, dict):
                obj = {}
            rate = marker.value if marker.value is not None else obj.get("rate_bpm")
            if rate is None:
                continue
            planned = float(obj.get("end_s", marker.t_s + DEFAULT_BLOCK_S)) - float(
                obj.get("start_s", marker.t_s))
            index = int(obj.get("index", len(out) + len(open_blocks)))
            open_blocks[index] = Block(
                index=index, rate_bpm=float(rate), start_s=marker.t_s,
                end_s=marker.t_s + max(planned, 1e-3),
                inhale_share=float(obj.get("inhale_share", DEFAULT_INHALE_SHARE)),
                pass_no=int(obj.get("pass", 1)))
        elif marker.kind is MarkerKind.RESONANCE_BLOCK_END:
            try:
                obj = json.loads(marker.text or "{}")
            except json.JSONDecodeError:
                obj = {}
            found = obj.get("index") if isinstance(obj, dict) else None
            key = found if isinstance(found, int) else next(iter(open_blocks), None)
            block = open_blocks.pop(key, None) if key is not None else None
            if block is not None and marker.t_s > block.start_s:
                out.append(replace(block, end_s=marker.t_s))
    for block in open_blocks.values():
        stop = block.end_s if end_s is None else min(block.end_s, end_s)
        if stop > block.start_s:
            out.append(replace(block, end_s=stop))
    return sorted(out, key=lambda b: b.start_s)


def parse_block_spec(text: str, index: int = 0,
                     inhale_share: float = DEFAULT_INHALE_SHARE) -> Block:
    """Parse ``RATE@START-END`` (breaths/min, seconds from the start), e.g. ``5.5@300-420``."""
    rate_text, at, span = text.partition("@")
    start_text, dash, end_text = span.partition("-")
    if not at or not dash:
        raise ResonanceError(f"block {text!r} must look like RATE@START-END, e.g. 5.5@300-420")
    try:
        rate, start, end = float(rate_text), float(start_text), float(end_text)
    except ValueError:
        raise ResonanceError(f"block {text!r}: rate, start and end must be numbers") from None
    if start < 0:
        raise ResonanceError(f"block {text!r}: start must be zero or more seconds")
    return Block(index, rate, start, end, inhale_share)


# --------------------------------------------------------------------------------------------
# Measures


@dataclass(frozen=True, slots=True)
class BlockMeasures:
    """Measures of one block (units in the names); ``counts`` = usable for the decision."""

    index: int
    rate_bpm: float
    pass_no: int
    start_s: float
    end_s: float
    analysed_s: float
    n_beats: int
    n_breaths: int
    peak_trough_bpm: float
    """Mean heart-rate maximum minus minimum per paced breath (bpm)."""
    per_breath_bpm: tuple[float, ...]
    swing_bpm: float
    """Mean peak-to-trough of each breath's heart-rate oscillation at the pacer frequency (bpm):
    twice the per-breath amplitude; less sensitive to beat-to-beat noise than max - min."""
    per_breath_swing_bpm: tuple[float, ...]
    mean_hr_bpm: float | None
    lf_ms2: float | None
    lf_peak_hz: float | None
    coherence: float | None
    pacer_amplitude_bpm: float | None
    """Amplitude of the heart-rate oscillation at the pacer frequency (bpm, half the swing)."""
    phase_deg: float | None
    """Heart rate's phase against the paced lung volume (degrees; 0 = in step, + = later)."""
    phase_locking: float | None
    pacer_share: float | None
    corrected_pct: float
    coverage_pct: float
    quality_ok: bool
    followed: bool
    notes: tuple[str, ...] = ()

    @property
    def counts(self) -> bool:
        """True when the block enters the decision: good quality and the heart followed."""
        return self.quality_ok and self.followed and self.n_breaths > 0

    def to_json(self) -> dict[str, Any]:
        """JSON object with every measure, the verdicts and the notes."""
        return {
            "index": self.index, "rate_bpm": self.rate_bpm, "pass": self.pass_no,
            "start_s": self.start_s, "end_s": self.end_s, "analysed_s": _r(self.analysed_s, 1),
            "n_beats": self.n_beats, "n_breaths": self.n_breaths,
            "peak_trough_bpm": _r(self.peak_trough_bpm, 2),
            "per_breath_bpm": [_r(v, 2) for v in self.per_breath_bpm],
            "swing_bpm": _r(self.swing_bpm, 2),
            "per_breath_swing_bpm": [_r(v, 2) for v in self.per_breath_swing_bpm],
            "mean_hr_bpm": _r(self.mean_hr_bpm, 1),
            "lf_ms2": _r(self.lf_ms2, 1), "lf_peak_hz": _r(self.lf_peak_hz, 4),
            "lf_peak_bpm": None if self.lf_peak_hz is None else _r(60 * self.lf_peak_hz, 2),
            "coherence": _r(self.coherence, 3),
            "pacer_amplitude_bpm": _r(self.pacer_amplitude_bpm, 2),
            "phase_deg": _r(self.phase_deg, 1), "phase_locking": _r(self.phase_locking, 3),
            "pacer_share": _r(self.pacer_share, 3), "corrected_pct": _r(self.corrected_pct, 2),
            "coverage_pct": _r(self.coverage_pct, 1), "quality_ok": self.quality_ok,
            "followed": self.followed, "counts": self.counts, "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> BlockMeasures:
        """Read back :meth:`to_json` output (for stored results)."""
        return cls(
            index=int(obj["index"]), rate_bpm=float(obj["rate_bpm"]),
            pass_no=int(obj.get("pass", 1)), start_s=float(obj["start_s"]),
            end_s=float(obj["end_s"]), analysed_s=float(obj["analysed_s"]),
            n_beats=int(obj["n_beats"]), n_breaths=int(obj["n_breaths"]),
            peak_trough_bpm=float(obj["peak_trough_bpm"]),
            per_breath_bpm=tuple(float(v) for v in obj.get("per_breath_bpm", [])),
            swing_bpm=float(obj.get("swing_bpm", 0.0)),
            per_breath_swing_bpm=tuple(float(v) for v in obj.get("per_breath_swing_bpm", [])),
            mean_hr_bpm=_opt(obj.get("mean_hr_bpm")), lf_ms2=_opt(obj.get("lf_ms2")),
            lf_peak_hz=_opt(obj.get("lf_peak_hz")), coherence=_opt(obj.get("coherence")),
            pacer_amplitude_bpm=_opt(obj.get("pacer_amplitude_bpm")),
            phase_deg=_opt(obj.get("phase_deg")), phase_locking=_opt(obj.get("phase_locking")),
            pacer_share=_opt(obj.get("pacer_share")),
            corrected_pct=float(obj["corrected_pct"]), coverage_pct=float(obj["coverage_pct"]),
            quality_ok=bool(obj["quality_ok"]), followed=bool(obj["followed"]),
            notes=tuple(str(n) for n in obj.get("notes", [])),
        )


def _r(value: float | None, digits: int) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


def _lung_phase(inhale_share: float) -> float:
    """Phase (rad, from the start of inhaling) of the fundamental of the paced lung volume."""
    n = 2000
    x = (np.arange(n) + 0.5) / n
    volume = np.where(x < inhale_share, 0.5 * (1 - np.cos(np.pi * x / inhale_share)),
                      0.5 * (1 + np.cos(np.pi * (x - inhale_share) / (1 - inhale_share))))
    c = float(np.sum(volume * np.cos(2 * np.pi * x)))
    s = float(np.sum(volume * np.sin(2 * np.pi * x)))
    return math.atan2(s, c)


def _wrap_deg(angle_rad: float) -> float:
    return math.degrees((angle_rad + math.pi) % (2 * math.pi) - math.pi)


def _empty(block: Block, analysed_s: float, n_beats: int, corrected_pct: float,
           coverage_pct: float, notes: list[str]) -> BlockMeasures:
    return BlockMeasures(
        index=block.index, rate_bpm=block.rate_bpm, pass_no=block.pass_no,
        start_s=block.start_s, end_s=block.end_s, analysed_s=analysed_s, n_beats=n_beats,
        n_breaths=0, peak_trough_bpm=0.0, per_breath_bpm=(), swing_bpm=0.0,
        per_breath_swing_bpm=(), mean_hr_bpm=None, lf_ms2=None,
        lf_peak_hz=None, coherence=None, pacer_amplitude_bpm=None, phase_deg=None,
        phase_locking=None, pacer_share=None, corrected_pct=corrected_pct,
        coverage_pct=coverage_pct, quality_ok=False, followed=False, notes=tuple(notes))


def measure_block(t_s: FloatArray, rr_ms: FloatArray, corrected: NDArray[np.bool_],
                  block: Block, *, lead_in_s: float = LEAD_IN_S) -> BlockMeasures:
    """Measures of ``block`` from corrected beats: times (s), RR (ms), corrected mask."""
    notes: list[str] = []
    lead = min(lead_in_s, 0.25 * block.duration_s)
    lo, hi = block.start_s + lead, block.end_s
    sel = (t_s >= lo) & (t_s <= hi)
    t = t_s[sel]
    rr = rr_ms[sel]
    n_beats = int(t.size)
    window_s = hi - lo
    covered_s = 0.0
    if n_beats:
        # time covered by beats: each interval ending in the window, clipped at its start
        starts = np.maximum(t - rr / 1000.0, lo)
        covered_s = float(np.sum(np.clip(t - starts, 0.0, None)))
    coverage_pct = min(100.0, 100.0 * covered_s / window_s) if window_s > 0 else 0.0
    corrected_pct = 100.0 * float(np.count_nonzero(corrected[sel])) / max(n_beats, 1)
    if n_beats < 8:
        notes.append("too few beats in this block")
        return _empty(block, window_s, n_beats, corrected_pct, coverage_pct, notes)
    hr = 60000.0 / rr
    period = block.cycle_s
    grid = np.arange(lo, hi, 1.0 / _GRID_HZ)
    hr_grid = np.interp(grid, t, hr)
    lung = _lung_phase(block.inhale_share)
    first_cycle = math.ceil((lo - block.start_s) / period - 1e-9)
    per_breath: list[float] = []
    phasors: list[complex] = []
    amplitudes: list[float] = []
    k = first_cycle
    while block.start_s + (k + 1) * period <= hi + 1e-9:
        c0 = block.start_s + k * period
        inside = (grid >= c0) & (grid < c0 + period)
        seg = hr_grid[inside]
        x = grid[inside]
        k += 1
        # skip cycles that no beat touched (a gap): interpolation there is not heart rate
        beats_in = np.count_nonzero((t >= c0) & (t < c0 + period))
        if seg.size < 4 or beats_in < max(2, int(0.5 * period / (np.median(rr) / 1000.0))):
            continue
        per_breath.append(float(seg.max() - seg.min()))
        # least squares of level + slope + the pacer-frequency sinusoid: a slow drift within
        # the breath cannot take part of the oscillation, whatever its phase
        arg = 2 * np.pi * (x - c0) / period
        design = np.column_stack([np.ones_like(x), (x - c0) / period, np.cos(arg), np.sin(arg)])
        coef = np.linalg.lstsq(design, seg, rcond=None)[0]
        c, s = float(coef[2]), float(coef[3])
        amplitudes.append(math.hypot(c, s))
        phasors.append(complex(c, s))
    n_breaths = len(per_breath)
    spectrum = lomb_psd(t, rr, df_hz=_DF_HZ, f_max_hz=0.5)
    f = spectrum.freqs_hz
    psd = spectrum.psd_ms2_per_hz
    lf = band_power_ms2(spectrum, *LF_BAND_HZ)
    in_lf = np.flatnonzero((f >= LF_BAND_HZ[0]) & (f < LF_BAND_HZ[1]))
    lf_peak = float(f[in_lf[np.argmax(psd[in_lf])]]) if in_lf.size else None
    total = band_power_ms2(spectrum, *COHERENCE_TOTAL_BAND_HZ)
    f_pacer = block.rate_bpm / 60.0
    near = band_power_ms2(spectrum, f_pacer - PACER_HALF_WIDTH_HZ,
                          f_pacer + PACER_HALF_WIDTH_HZ + 1e-12)
    share = near / total if total > 0 else None
    phase_locking = phase_deg = amp = None
    if phasors:
        units = [p / abs(p) for p in phasors if abs(p) > 0]
        # The steadiness of a phase needs a few breaths: one breath is always "in step" (1.0).
        if len(units) >= MIN_PHASE_BREATHS:
            mean_unit = complex(np.mean(units))
            phase_locking = abs(mean_unit)
            mean_vec = complex(np.mean(phasors))
            phase_deg = _wrap_deg(math.atan2(mean_vec.imag, mean_vec.real) - lung)
        amp = float(np.mean(amplitudes))
    quality_ok = True
    if corrected_pct > MAX_CORRECTED_PCT:
        quality_ok = False
        notes.append(f"{corrected_pct:.1f} % of beats corrected (more than "
                     f"{MAX_CORRECTED_PCT:g} %)")
    if coverage_pct < MIN_COVERAGE_PCT:
        quality_ok = False
        notes.append(f"beats cover {coverage_pct:.0f} % of the block (less than "
                     f"{MIN_COVERAGE_PCT:g} %)")
    if n_breaths < MIN_BREATHS:
        quality_ok = False
        notes.append(f"only {_count(n_breaths, 'complete breath')} ({MIN_BREATHS} are needed)")
    followed = (phase_locking is not None and phase_locking >= MIN_PHASE_LOCKING
                and share is not None and share >= MIN_PACER_SHARE)
    if phase_locking is None:
        notes.append("too few breaths to tell whether the heart rhythm kept in step with the "
                     "pacer")
    elif not followed:
        notes.append("the heart rhythm did not keep in step with the pacer (phase locking "
                     f"{phase_locking:.2f}, {MIN_PHASE_LOCKING:g} needed; pacer share "
                     f"{share or 0:.2f}, {MIN_PACER_SHARE:g} needed)")
    return BlockMeasures(
        index=block.index, rate_bpm=block.rate_bpm, pass_no=block.pass_no,
        start_s=block.start_s, end_s=block.end_s, analysed_s=window_s, n_beats=n_beats,
        n_breaths=n_breaths,
        peak_trough_bpm=float(np.mean(per_breath)) if per_breath else 0.0,
        per_breath_bpm=tuple(per_breath),
        swing_bpm=2.0 * float(np.mean(amplitudes)) if amplitudes else 0.0,
        per_breath_swing_bpm=tuple(2.0 * a for a in amplitudes),
        mean_hr_bpm=float(60000.0 / np.mean(rr)),
        lf_ms2=lf, lf_peak_hz=lf_peak, coherence=coherence_ratio(spectrum),
        pacer_amplitude_bpm=amp, phase_deg=phase_deg, phase_locking=phase_locking,
        pacer_share=share, corrected_pct=corrected_pct, coverage_pct=coverage_pct,
        quality_ok=quality_ok, followed=followed, notes=tuple(notes))


# --------------------------------------------------------------------------------------------
# Decision


@dataclass(frozen=True, slots=True)
class RateSummary:
    """Counted blocks of one rate pooled: mean swing (bpm), LF power (ms²), phase (degrees)."""

    rate_bpm: float
    swing_bpm: float
    lf_ms2: float
    phase_deg: float | None
    n_breaths: int

    def to_json(self) -> dict[str, Any]:
        """JSON object."""
        return {"rate_bpm": self.rate_bpm, "swing_bpm": _r(self.swing_bpm, 2),
                "lf_ms2": _r(self.lf_ms2, 1), "phase_deg": _r(self.phase_deg, 1),
                "n_breaths": self.n_breaths}


@dataclass(frozen=True, slots=True)
class Decision:
    """The chosen rate (None when it cannot tell), verdict, confidence (0-1) and reasons."""

    rate_bpm: float | None
    verdict: Verdict
    confidence: float
    confidence_near: float
    leaning_bpm: float | None
    """The rate with the largest swing even when the verdict is ``cannot_tell``."""
    lf_rate_bpm: float | None
    phase_rate_bpm: float | None
    rates: tuple[RateSummary, ...]
    reasons: tuple[str, ...]
    words: str
    rule: str = "largest peak-to-trough heart-rate swing per breath among followed blocks; " \
                "bootstrap over breaths for confidence; LF power must agree"

    def to_json(self) -> dict[str, Any]:
        """JSON object."""
        return {"rate_bpm": self.rate_bpm, "verdict": self.verdict,
                "confidence": round(self.confidence, 3),
                "confidence_near": round(self.confidence_near, 3),
                "leaning_bpm": self.leaning_bpm, "lf_rate_bpm": self.lf_rate_bpm,
                "phase_rate_bpm": self.phase_rate_bpm,
                "rates": [r.to_json() for r in self.rates], "reasons": list(self.reasons),
                "words": self.words, "rule": self.rule}


def _pool(measures: Sequence[BlockMeasures]) -> tuple[list[float], list[FloatArray],
                                                     list[RateSummary]]:
    rates = sorted({m.rate_bpm for m in measures if m.counts})
    samples: list[FloatArray] = []
    summaries: list[RateSummary] = []
    for rate in rates:
        group = [m for m in measures if m.counts and m.rate_bpm == rate]
        breaths = np.array([v for m in group for v in m.per_breath_swing_bpm],
                           dtype=np.float64)
        samples.append(breaths)
        phases = [complex(math.cos(math.radians(m.phase_deg)), math.sin(math.radians(
            m.phase_deg))) for m in group if m.phase_deg is not None]
        phase = (math.degrees(math.atan2(sum(p.imag for p in phases),
                                         sum(p.real for p in phases))) if phases else None)
        summaries.append(RateSummary(rate, float(breaths.mean()),
                                     float(np.mean([m.lf_ms2 or 0.0 for m in group])), phase,
                                     int(breaths.size)))
    return rates, samples, summaries


def _count(n: int, noun: str) -> str:
    """"1 pace", "3 paces": a count with its noun."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _fmt_rate(rate: float) -> str:
    return f"{rate:g}"


def decide(measures: Sequence[BlockMeasures], *, seed: int = 0,
           rounds: int = BOOTSTRAP_ROUNDS) -> Decision:
    """Choose the resonance rate from block measures by the rule in the module docstring."""
    reasons: list[str] = []
    left_out = [m for m in measures if not m.counts]
    for m in left_out:
        why = "; ".join(m.notes) or "no complete breaths"
        reasons.append(f"{_fmt_rate(m.rate_bpm)}/min (block {m.index + 1}) left out: {why}")
    rates, samples, summaries = _pool(measures)
    if len(rates) < min(MIN_RATES, max(2, len({m.rate_bpm for m in measures}))):
        usable = "no pace" if not rates else f"only {_count(len(rates), 'pace')}"
        reasons.insert(0, f"{usable} could be used; at least {MIN_RATES} are needed to "
                       "compare")
        return Decision(None, "cannot_tell", 0.0, 0.0, None, None, None, tuple(summaries),
                        tuple(reasons), _words(None, "cannot_tell", None, 0.0, summaries))
    means = np.array([s.swing_bpm for s in summaries])
    best_i = int(np.argmax(means))
    best = rates[best_i]
    rng = np.random.default_rng(seed)
    wins = np.zeros(len(rates))
    near = 0
    for _ in range(rounds):
        boot = [float(rng.choice(x, size=x.size, replace=True).mean()) for x in samples]
        j = int(np.argmax(boot))
        wins[j] += 1
        if abs(rates[j] - best) <= 0.5 + 1e-9:
            near += 1
    confidence = float(wins[best_i] / rounds)
    confidence_near = near / rounds
    lf_rate = rates[int(np.argmax([s.lf_ms2 for s in summaries]))]
    phased = [s for s in summaries if s.phase_deg is not None]
    phase_rate = min(phased, key=lambda s: abs(s.phase_deg or 0.0)).rate_bpm if phased else None
    spread = float((means.max() - means.min()) / means.max()) if means.max() > 0 else 0.0
    verdict: Verdict
    best_swing = float(means[best_i])
    beside = [m for m in left_out if abs(m.rate_bpm - best) <= 0.5 + 1e-9
              and m.rate_bpm not in rates and m.n_breaths > 0]
    rival = next((m for m in beside if m.swing_bpm >= best_swing), None)
    if rival is not None:
        verdict = "cannot_tell"
        reasons.insert(0, f"the block at {_fmt_rate(rival.rate_bpm)}/min, left out for its "
                       f"quality, swung as much ({rival.swing_bpm:.1f} bpm) as "
                       f"{_fmt_rate(best)}/min: repeat to tell them apart")
    elif spread < MIN_SPREAD:
        verdict = "cannot_tell"
        reasons.insert(0, f"the swings of the counted rates differ by only {spread:.0%}: "
                       "the blocks cannot be told apart")
    elif (confidence >= CLEAR_CONFIDENCE and abs(lf_rate - best) <= 0.5 + 1e-9
          and not beside):
        verdict = "clear"
    elif (confidence >= LIKELY_CONFIDENCE and confidence_near >= LIKELY_NEAR
          and abs(lf_rate - best) <= 1.0 + 1e-9):
        verdict = "likely"
    else:
        verdict = "cannot_tell"
        reasons.insert(0, f"{_fmt_rate(best)}/min came out on top in only {confidence:.0%} of "
                       f"resamples, LF power was highest at {_fmt_rate(lf_rate)}/min")
    if verdict == "likely" and beside:
        reasons.insert(0, f"the neighbouring block at {_fmt_rate(beside[0].rate_bpm)}/min "
                       "could not be used, so this is at most likely")
    if verdict != "cannot_tell":
        reasons.insert(0, f"largest swing {means[best_i]:.1f} bpm per breath at "
                       f"{_fmt_rate(best)}/min (top in {confidence:.0%} of resamples, within "
                       f"0.5/min in {confidence_near:.0%}); LF power highest at "
                       f"{_fmt_rate(lf_rate)}/min")
    chosen = best if verdict != "cannot_tell" else None
    return Decision(chosen, verdict, confidence, confidence_near, best, lf_rate, phase_rate,
                    tuple(summaries), tuple(reasons),
                    _words(chosen, verdict, best, confidence, summaries))


def _words(rate: float | None, verdict: Verdict, leaning: float | None, confidence: float,
           summaries: Sequence[RateSummary]) -> str:
    if rate is None:
        lean = ("" if leaning is None else
                f" It leaned towards {_fmt_rate(leaning)} breaths a minute, but not clearly. ")
        return ("We cannot tell your pace from this assessment." + lean +
                " Please repeat it on another day, sitting still and following the pacer; "
                "until then the breathing reset keeps its current pace.").replace("  ", " ")
    best = next(s for s in summaries if s.rate_bpm == rate)
    sure = "fairly sure" if verdict == "clear" else "somewhat sure (a repeat would help)"
    return (f"Your heart followed the breath most closely at about {_fmt_rate(rate)} breaths a "
            f"minute: your heart rate rose and fell by {best.swing_bpm:.0f} beats a "
            f"minute with each breath there. We are {sure}: {confidence:.0%} of re-checks "
            "picked the same pace.")


# --------------------------------------------------------------------------------------------
# Whole assessment


@dataclass(frozen=True, slots=True)
class Assessment:
    """Measures of every block and the decision."""

    blocks: tuple[BlockMeasures, ...]
    decision: Decision
    corrected_pct: float
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """JSON object: ``blocks`` (measures), ``decision``, ``corrected_pct``, ``notes``."""
        return {"blocks": [b.to_json() for b in self.blocks],
                "decision": self.decision.to_json(),
                "corrected_pct": round(self.corrected_pct, 2), "notes": list(self.notes)}


def assessment_span(blocks: Sequence[Block]) -> tuple[float, float]:
    """First start and last end (s) of ``blocks``: the beats an assessment of them uses."""
    return min(b.start_s for b in blocks), max(b.end_s for b in blocks)


def assess(t_s: FloatArray | Sequence[float], rr_ms: FloatArray | Sequence[float],
           blocks: Sequence[Block], *, segment: NDArray[np.int64] | Sequence[int] | None = None,
           seed: int = 0) -> Assessment:
    """Correct artifacts, measure every block and decide; beat times (s), RR (ms)."""
    t = np.asarray(t_s, dtype=np.float64)
    rr = np.asarray(rr_ms, dtype=np.float64)
    notes: list[str] = []
    if not blocks:
        raise ResonanceError("no blocks: give the paced blocks (markers or RATE@START-END)")
    seg = None if segment is None else np.asarray(segment, dtype=np.int64)
    # Only the beats of the assessment's span take part: beats recorded before or after it
    # (the rest of a live session) cannot change its numbers, so the result made when the
    # last block ends equals the one made later from the whole recording.
    lo, hi = assessment_span(blocks)
    inside = (t >= lo) & (t <= hi)
    t, rr = t[inside], rr[inside]
    seg = None if seg is None else seg[inside]
    if t.size < 8:
        raise ResonanceError(f"only {t.size} beats: too few for an assessment")
    fixed = correct_beats(t, rr, seg)
    ok = np.isfinite(fixed.rr_ms) & (fixed.rr_ms > 0)
    if not ok.all():
        notes.append(f"dropped {int(np.count_nonzero(~ok))} beats correction could not rebuild")
    ct, crr, cmask = fixed.t_s[ok], fixed.rr_ms[ok], fixed.corrected[ok]
    last_t = float(ct[-1]) if ct.size else 0.0
    measures: list[BlockMeasures] = []
    for block in blocks:
        if block.start_s > last_t:
            notes.append(f"block {block.index + 1} ({_fmt_rate(block.rate_bpm)}/min) starts "
                         "after the last beat; left out")
            continue
        measures.append(measure_block(ct, crr, cmask, block))
    pct = 100.0 * float(np.count_nonzero(cmask)) / max(int(crr.size), 1)
    return Assessment(tuple(measures), decide(measures, seed=seed), pct, tuple(notes))


# --------------------------------------------------------------------------------------------
# Recordings


@dataclass(frozen=True, slots=True)
class RecordedBeats:
    """Beats (times s, RR ms, segments) and resonance blocks read from a record stream."""

    t_s: FloatArray
    rr_ms: FloatArray
    segment: NDArray[np.int64]
    blocks: tuple[Block, ...]
    skipped: int
    """Notifications that could not be decoded (counted, not used)."""


def read_records(records: Iterable[Record]) -> RecordedBeats:
    """Beats and blocks of a session's records (notifications, gaps, resonance markers)."""
    markers: list[Marker] = []
    skips = SkipReport()

    def keeping_block_markers(stream: Iterable[Record]) -> Iterator[Record]:
        for record in stream:
            if isinstance(record, Marker) and record.kind in (
                    MarkerKind.RESONANCE_BLOCK_START, MarkerKind.RESONANCE_BLOCK_END):
                markers.append(record)
            yield record

    beats = list(record_beats(keeping_block_markers(records), "the session", skips))
    end = beats[-1].t_s if beats else None
    return RecordedBeats(np.asarray([b.t_s for b in beats], dtype=np.float64),
                         np.asarray([b.rr_ms for b in beats], dtype=np.float64),
                         np.asarray([b.segment for b in beats], dtype=np.int64),
                         tuple(blocks_from_markers(markers, end)), skips.count)


def last_assessment(blocks: Sequence[Block], since_s: float | None = None) -> list[Block]:
    """The blocks of the last assessment in a recording (from ``since_s`` (s) when given).

    A recording can hold several assessments (one stopped, then another): each begins with
    its first-pass block 0, and the last one is the one assessed.
    """
    chosen = [b for b in blocks if since_s is None or b.start_s >= since_s - 1e-6]
    starts = [i for i, b in enumerate(chosen) if b.index == 0 and b.pass_no == 1]
    return chosen[starts[-1]:] if starts else chosen


def assessments_in(blocks: Sequence[Block]) -> int:
    """How many assessments the blocks of a recording belong to."""
    return max(1, sum(1 for b in blocks if b.index == 0 and b.pass_no == 1)) if blocks else 0


def assess_recording(beats: RecordedBeats, *, since_s: float | None = None,
                     seed: int = 0) -> Assessment:
    """Assess the last assessment recorded in ``beats`` (from ``since_s`` (s) when given).

    The one path of the server (live session read back from the store), of the guided CLI
    and of ``resonance --analyze`` on an exported session file: the same records give the
    same numbers. Raises :class:`ResonanceError` when there is nothing to assess.
    """
    blocks = last_assessment(beats.blocks, since_s)
    if not blocks:
        raise ResonanceError("no resonance block markers in the recording")
    result = assess(beats.t_s, beats.rr_ms, blocks, segment=beats.segment, seed=seed)
    earlier = assessments_in(beats.blocks) - assessments_in(blocks)
    if since_s is None and earlier > 0:
        note = (f"the recording holds {earlier + 1} assessments; the last one (from "
                f"t={blocks[0].start_s:.1f} s) was assessed")
        result = replace(result, notes=(*result.notes, note))
    return result


def result_document(assessment: Assessment, *, assessed_at: str, session_id: int | None,
                    protocol: Protocol | None) -> dict[str, Any]:
    """The person document kept under ``RESONANCE_DOCUMENT_KEY`` for one assessment."""
    decision = assessment.decision
    return {"version": 1, "assessed_at": assessed_at, "session_id": session_id,
            "protocol": None if protocol is None else protocol.to_json(),
            "rate_bpm": decision.rate_bpm, "verdict": decision.verdict,
            "confidence": round(decision.confidence, 3), "words": decision.words,
            "assessment": assessment.to_json()}


def keeps_previous(previous: Any, new: dict[str, Any]) -> bool:
    """True when a stored result with a pace should stay in place of a new one without one.

    An assessment that could not tell (or was stopped early) is kept with its session, but it
    does not replace an earlier result that found a pace.
    """
    return (isinstance(previous, dict) and previous.get("rate_bpm") is not None
            and new.get("rate_bpm") is None)


def plan_with_result(plan: Any, document: dict[str, Any]) -> dict[str, Any] | None:
    """The plan document with its ``resonance`` field set from a result document.

    None when the stored plan does not validate (it is then left as it is, for the person to
    look at and save again).
    """
    field_value = {"breaths_per_min": document.get("rate_bpm"),
                   "assessed_at": document.get("assessed_at"),
                   "verdict": document.get("verdict"),
                   "confidence": document.get("confidence"),
                   "session_id": document.get("session_id")}
    base = dict(plan) if isinstance(plan, dict) else {}
    try:
        return plan_from_json({**base, "resonance": field_value}).to_json()
    except PlanError:
        return None
