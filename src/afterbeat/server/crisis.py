"""Crisis lines for the person's locale (each with its source and check date)."""

from __future__ import annotations

from typing import Any

from afterbeat.resets.crisis_lines import lines_for_locale
from afterbeat.server.documents import PersonDocuments

__all__ = ["CrisisLines"]


class CrisisLines:
    """The lines to show: for the asked locale, else the plan's, else the display settings'."""

    def __init__(self, documents: PersonDocuments) -> None:
        self._documents = documents

    async def lines(self, locale: str | None) -> dict[str, Any]:
        """Crisis lines for ``locale`` (default: the plan's locale, then the settings')."""
        if locale is None:
            plan = await self._documents.read("plan")
            value = plan.get("locale") if isinstance(plan, dict) else None
            locale = value if isinstance(value, str) else None
        if locale is None:
            locale = (await self._documents.settings()).locale
        return lines_for_locale(locale).to_json()
