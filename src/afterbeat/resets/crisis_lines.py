"""Crisis lines by locale: few and right, each with the public page it comes from and when checked.

Only numbers that could be cited from a public page are listed; each entry names its
``source_url`` and the date it was ``checked``. Where a region has no checked entry, the block
is empty and says so, rather than guessing. Nothing here is dialled or contacted automatically:
these are words and numbers for the person to use if they choose.

Before a release, re-check every entry against its page and move ``checked`` forward; the
tests fail when an entry is older than 12 months. A ``secondary`` source is a reputable page
quoting the service rather than the service's own page: confirm those on the service's site.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final

__all__ = ["ALL_LINES", "CrisisBlock", "CrisisLine", "lines_for_locale", "region_of"]

_CHECKED: Final = date(2026, 11, 26)


@dataclass(frozen=True, slots=True)
class CrisisLine:
    """One line: who, the number to call (or text), when, the source page and the check date."""

    region: str
    """ISO 3166 country code, or "EU" for lines valid in every EU member state."""
    name: str
    number: str
    """As people write it; ``dial`` holds the digits to dial."""
    dial: str
    description: str
    source_url: str
    checked: date
    secondary_source: bool = False
    text: bool = False
    """True when the number also takes text messages."""

    def to_json(self) -> dict[str, Any]:
        """JSON object for ``GET /api/crisis-lines``."""
        return {"region": self.region, "name": self.name, "number": self.number,
                "dial": self.dial, "text": self.text, "description": self.description,
                "source_url": self.source_url, "checked": self.checked.isoformat(),
                "secondary_source": self.secondary_source}


ALL_LINES: Final[tuple[CrisisLine, ...]] = (
    CrisisLine(
        region="US", name="988 Suicide & Crisis Lifeline", number="988", dial="988", text=True,
        description="Call or text 988, any time, for support with emotional distress.",
        source_url="https://www.samhsa.gov/find-help/988/faqs", checked=_CHECKED),
    CrisisLine(
        region="GB", name="Samaritans", number="116 123", dial="116123",
        description="Free to call from landlines and mobiles, any time of day or night.",
        source_url="https://www.samaritans.org/how-we-can-help/contact-samaritan/",
        checked=_CHECKED),
    CrisisLine(
        region="IE", name="Samaritans Ireland", number="116 123", dial="116123",
        description="Free to call, any time of day or night.",
        source_url="https://www.samaritans.org/your-community/samaritans-ireland-scotland-and-"
                   "wales/samaritans-ireland/journey",
        checked=_CHECKED),
    CrisisLine(
        region="DE", name="TelefonSeelsorge", number="0800 111 0 111", dial="08001110111",
        description="Kostenlos und anonym, rund um die Uhr.",
        source_url="https://www.domradio.de/artikel/telefonseelsorge-jetzt-unter-oekumenischem-"
                   "dachverband",
        checked=_CHECKED, secondary_source=True),
    CrisisLine(
        region="DE", name="TelefonSeelsorge", number="0800 111 0 222", dial="08001110222",
        description="Kostenlos und anonym, rund um die Uhr.",
        source_url="https://www.domradio.de/artikel/telefonseelsorge-jetzt-unter-oekumenischem-"
                   "dachverband",
        checked=_CHECKED, secondary_source=True),
    CrisisLine(
        region="EU", name="European emergency number", number="112", dial="112",
        description="Emergency services (ambulance, fire, police) in every EU country, free.",
        source_url="http://ec.europa.eu/information_society/activities/112/actions/index_en.htm",
        checked=_CHECKED),
)

EU_MEMBERS: Final = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
    "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
})

_NO_LINES = ("There are no checked numbers for this region in afterbeat yet. Your local "
             "emergency number and the contact in your plan are the place to start.")


@dataclass(frozen=True, slots=True)
class CrisisBlock:
    """The lines for one locale, with a note when none are known."""

    locale: str | None
    region: str | None
    lines: tuple[CrisisLine, ...]
    note: str | None

    def to_json(self) -> dict[str, Any]:
        """JSON object for ``GET /api/crisis-lines``."""
        return {"locale": self.locale, "region": self.region,
                "lines": [line.to_json() for line in self.lines], "note": self.note}


def region_of(locale: str | None) -> str | None:
    """The region part of a locale ("de-DE" → "DE", "en_gb" → "GB"); None without one."""
    if not locale:
        return None
    parts = locale.replace("_", "-").split("-")
    if len(parts) < 2 or len(parts[1]) != 2 or not parts[1].isalpha():
        return None
    return parts[1].upper()


def lines_for_locale(locale: str | None) -> CrisisBlock:
    """The crisis lines for a locale's region (its own lines first, then 112 in the EU)."""
    region = region_of(locale)
    if region is None:
        return CrisisBlock(locale, None, (), _NO_LINES)
    own = tuple(line for line in ALL_LINES if line.region == region)
    eu = tuple(line for line in ALL_LINES if line.region == "EU") if region in EU_MEMBERS else ()
    lines = own + eu
    return CrisisBlock(locale, region, lines, None if lines else _NO_LINES)
