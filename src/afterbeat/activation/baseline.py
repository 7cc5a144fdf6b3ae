"""The person's resting baseline: their own calm, pooled over recent resting recordings (pure).

A resting recording (the stretch between baseline_start and baseline_end markers, a whole
file given with ``--baseline``, or ``afterbeat baseline``) contributes its 5-s values of HR
(60 s window) and ln RMSSD (120 s window) while the signal is clean. The baseline is the
median of all values of the 7 most recent resting recordings, with the spread taken as the
standard deviation of the same pooled values (so day-to-day variation counts), floored at
3 bpm and 0.15 ln units. It stays *provisional* until three resting recordings exist.
Post-session data never enters it: only marked rests do. Stored per person as the JSON
document under the key ``"baseline"`` (``to_json``/``from_json``).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from afterbeat.activation.settings import DEFAULT_SETTINGS, Settings
from afterbeat.errors import AfterbeatError
from afterbeat.hrv.live import LiveMetrics

__all__ = [
    "BASELINE_DOCUMENT_KEY",
    "Baseline",
    "BaselineError",
    "RestCollector",
    "RestRecording",
]

BASELINE_DOCUMENT_KEY = "baseline"
"""Key of the person-level JSON document the store keeps the baseline under."""

_JSON_VERSION = 1


class BaselineError(AfterbeatError, ValueError):
    """No usable baseline: too little clean rest, or a stored document that does not parse."""


@dataclass(frozen=True, slots=True)
class RestRecording:
    """The clean 5-s values of one resting recording: HR60 (bpm) and lnR120 (ln ms)."""

    label: str
    """When or what it was (ISO start time or file name), for people."""
    heart_rate_bpm: tuple[float, ...]
    ln_rmssd: tuple[float, ...] = ()
    """Empty when the strap sends no RR."""
    span_s: float = 0.0
    """Session time (s) covered by the values."""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (values rounded to 0.01 bpm and 1e-4 ln)."""
        return {
            "label": self.label,
            "heart_rate_bpm": [round(v, 2) for v in self.heart_rate_bpm],
            "ln_rmssd": [round(v, 4) for v in self.ln_rmssd],
            "span_s": round(self.span_s, 3),
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> RestRecording:
        """Parse what ``to_json`` wrote; raise BaselineError naming the bad field."""
        label = obj.get("label")
        if not isinstance(label, str):
            raise BaselineError("resting recording 'label' must be a string")
        return cls(
            label=label,
            heart_rate_bpm=_numbers(obj.get("heart_rate_bpm"), "heart_rate_bpm"),
            ln_rmssd=_numbers(obj.get("ln_rmssd", []), "ln_rmssd"),
            span_s=float(_numbers([obj.get("span_s", 0.0)], "span_s")[0]),
        )


def _numbers(value: object, name: str) -> tuple[float, ...]:
    if not isinstance(value, list):
        raise BaselineError(f"resting recording '{name}' must be a list of numbers")
    out: list[float] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            raise BaselineError(f"resting recording '{name}' holds a non-number {item!r}")
        out.append(float(item))
    return tuple(out)


def _spread(values: Sequence[float], floor: float) -> float:
    if len(values) < 2:
        return floor
    return max(floor, statistics.stdev(values))


@dataclass(frozen=True, slots=True)
class Baseline:
    """Median and spread of resting HR (bpm) and ln RMSSD (ln ms); provisional under 3 rests."""

    heart_rate_bpm: float
    heart_rate_spread_bpm: float
    ln_rmssd: float | None
    ln_rmssd_spread: float | None
    recordings: tuple[RestRecording, ...] = field(default=(), repr=False)
    provisional: bool = True

    @property
    def rmssd_ms(self) -> float | None:
        """Baseline RMSSD (ms), exp of the ln median."""
        return None if self.ln_rmssd is None else math.exp(self.ln_rmssd)

    @classmethod
    def from_recordings(
        cls, recordings: Iterable[RestRecording], settings: Settings = DEFAULT_SETTINGS
    ) -> Baseline:
        """Pool the most recent resting recordings (the last ``baseline_recordings_kept``)."""
        kept = tuple(recordings)[-settings.baseline_recordings_kept :]
        hr = [v for r in kept for v in r.heart_rate_bpm]
        if not hr:
            raise BaselineError("no clean resting values: record a few minutes of seated rest")
        ln = [v for r in kept for v in r.ln_rmssd]
        return cls(
            heart_rate_bpm=statistics.median(hr),
            heart_rate_spread_bpm=_spread(hr, settings.min_heart_rate_spread_bpm),
            ln_rmssd=statistics.median(ln) if ln else None,
            ln_rmssd_spread=_spread(ln, settings.min_ln_rmssd_spread) if ln else None,
            recordings=kept,
            provisional=len(kept) < settings.baseline_recordings_needed,
        )

    def add(self, recording: RestRecording, settings: Settings = DEFAULT_SETTINGS) -> Baseline:
        """A new baseline with one more resting recording (the oldest rolls off past 7)."""
        return Baseline.from_recordings((*self.recordings, recording), settings)

    def to_json(self) -> dict[str, Any]:
        """JSON document for the store (key ``"baseline"``); the recordings are kept in it."""
        return {
            "version": _JSON_VERSION,
            "heart_rate_bpm": round(self.heart_rate_bpm, 3),
            "heart_rate_spread_bpm": round(self.heart_rate_spread_bpm, 3),
            "ln_rmssd": None if self.ln_rmssd is None else round(self.ln_rmssd, 5),
            "ln_rmssd_spread": (
                None if self.ln_rmssd_spread is None else round(self.ln_rmssd_spread, 5)
            ),
            "rmssd_ms": None if self.rmssd_ms is None else round(self.rmssd_ms, 2),
            "provisional": self.provisional,
            "recording_count": len(self.recordings),
            "recordings": [r.to_json() for r in self.recordings],
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], settings: Settings = DEFAULT_SETTINGS) -> Baseline:
        """Rebuild from the stored document (recomputed from its recordings)."""
        if not isinstance(obj, Mapping):
            raise BaselineError("the baseline document must be a JSON object")
        version = obj.get("version")
        if version != _JSON_VERSION:
            raise BaselineError(f"unsupported baseline document version {version!r}")
        recordings = obj.get("recordings")
        if not isinstance(recordings, list) or not recordings:
            raise BaselineError("the baseline document holds no resting recordings")
        parsed = []
        for item in recordings:
            if not isinstance(item, Mapping):
                raise BaselineError("each resting recording must be a JSON object")
            parsed.append(RestRecording.from_json(item))
        return cls.from_recordings(parsed, settings)

    def describe(self) -> str:
        """One plain-words line for people."""
        rmssd = self.rmssd_ms
        hrv = f", RMSSD about {rmssd:.0f} ms" if rmssd is not None else ""
        status = (
            f"your usual is still being learned ({len(self.recordings)} of 3 resting "
            "recordings so far)"
            if self.provisional
            else f"from {len(self.recordings)} resting recordings"
        )
        return (
            f"Resting heart rate about {self.heart_rate_bpm:.0f} bpm "
            f"(± {self.heart_rate_spread_bpm:.1f}){hrv}; {status}."
        )


@dataclass(slots=True)
class RestCollector:
    """Collects clean 5-s live metrics of one resting period into a RestRecording."""

    label: str
    settings: Settings = DEFAULT_SETTINGS
    _heart_rate_bpm: list[float] = field(default_factory=list)
    _ln_rmssd: list[float] = field(default_factory=list)

    def push(self, metrics: LiveMetrics, *, moving: bool = False) -> bool:
        """Offer one 5-s value; return True when it was clean enough to keep."""
        hr = metrics.heart_rate_bpm
        if moving or hr is None:
            return False
        if metrics.rr_available:
            ln = metrics.ln_rmssd_120
            if (
                ln is None
                or metrics.coverage_120 < self.settings.min_coverage
                or metrics.corrected_120_pct > self.settings.max_corrected_pct
            ):
                return False
            self._ln_rmssd.append(ln)
        self._heart_rate_bpm.append(hr)
        return True

    @property
    def span_s(self) -> float:
        """Session time covered by the kept values (s)."""
        return len(self._heart_rate_bpm) * self.settings.metrics_interval_s

    def finish(self) -> RestRecording:
        """The resting recording; raise BaselineError when it is shorter than the minimum."""
        if self.span_s < self.settings.min_baseline_span_s:
            raise BaselineError(
                f"only {self.span_s:.0f} s of clean resting values "
                f"(need {self.settings.min_baseline_span_s:.0f} s after the first two minutes): "
                "rest a little longer, seated and still"
            )
        ln = tuple(self._ln_rmssd) if len(self._ln_rmssd) == len(self._heart_rate_bpm) else ()
        return RestRecording(
            label=self.label,
            heart_rate_bpm=tuple(self._heart_rate_bpm),
            ln_rmssd=ln,
            span_s=self.span_s,
        )
