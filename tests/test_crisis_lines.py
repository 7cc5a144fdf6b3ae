"""Crisis lines by locale: sourced, dated, and the right ones for the region."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from afterbeat.resets.crisis_lines import ALL_LINES, EU_MEMBERS, lines_for_locale, region_of


def numbers(locale: str | None) -> list[str]:
    return [line.dial for line in lines_for_locale(locale).lines]


def test_each_entry_has_a_source_and_a_recent_check_date() -> None:
    for line in ALL_LINES:
        assert line.source_url.startswith(("https://", "http://")), line
        assert line.dial.isdigit() and line.dial == line.number.replace(" ", "")
        # A-CRISIS (docs/security.md): re-check entries yearly; this fails when one goes stale
        assert date.today() - line.checked <= timedelta(days=366), line
        assert line.checked <= date.today() + timedelta(days=1)


@pytest.mark.parametrize(("locale", "expected"), [
    ("en-US", ["988"]),
    ("es-US", ["988"]),
    ("en-GB", ["116123"]),
    ("en_gb", ["116123"]),
    ("en-IE", ["116123", "112"]),
    ("ga-IE", ["116123", "112"]),
    ("de-DE", ["08001110111", "08001110222", "112"]),
    ("fr-FR", ["112"]),
    ("de-AT", ["112"]),
])
def test_lines_by_locale(locale: str, expected: list[str]) -> None:
    assert numbers(locale) == expected


def test_de_de_never_shows_988_and_only_the_us_does() -> None:
    assert "988" not in numbers("de-DE")
    for region in EU_MEMBERS | {"GB", "CH", "CA", "AU", "JP"}:
        assert "988" not in numbers(f"xx-{region}"), region


@pytest.mark.parametrize("locale", [None, "", "en", "de", "xx-ZZ", "en-CA", "de-CH", "en-419"])
def test_unknown_regions_get_an_honest_note_not_a_guess(locale: str | None) -> None:
    block = lines_for_locale(locale)
    assert block.lines == ()
    assert block.note is not None and "no checked numbers" in block.note


def test_region_parsing_and_json() -> None:
    assert region_of("de-DE") == "DE" and region_of("EN_us") == "US"
    assert region_of("en") is None and region_of("en-419") is None
    data = json.loads(json.dumps(lines_for_locale("de-DE").to_json()))
    assert data["region"] == "DE" and data["note"] is None
    first = data["lines"][0]
    assert set(first) == {"region", "name", "number", "dial", "text", "description",
                          "source_url", "checked", "secondary_source"}
    assert first["secondary_source"] is True
    assert date.fromisoformat(first["checked"]) <= date.today()
