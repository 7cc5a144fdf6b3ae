"""The person's documents: plan, display settings and resting baseline.

Documents live in the store; reading and writing them runs in a worker thread, off the event
loop. A stored document that cannot be used is never fatal: it is left out, logged (its field,
never its values) and described in the server's notes for the status line.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from afterbeat.activation.baseline import Baseline
from afterbeat.activation.settings import DEFAULT_SETTINGS
from afterbeat.errors import AfterbeatError
from afterbeat.events import BaselineEvent
from afterbeat.records import MarkerKind
from afterbeat.resets.plan import Plan, plan_from_json
from afterbeat.server.errors import NoStore
from afterbeat.server.ingest import Ingest
from afterbeat.server.marks import Marks
from afterbeat.server.models import PersonSettings
from afterbeat.storage.history import note_unusable
from afterbeat.storage.store import Store

__all__ = ["PersonDocuments", "plan_marker_text"]

log = logging.getLogger(__name__)

_BASELINE_KEYS = ("heart_rate_bpm", "heart_rate_spread_bpm", "ln_rmssd", "ln_rmssd_spread",
                  "rmssd_ms", "provisional", "recording_count")


def plan_marker_text(plan: Plan) -> str:
    """A plan as the text of a plan marker (compact JSON)."""
    return json.dumps(plan.to_json(), separators=(",", ":"))


class PersonDocuments:
    """Plan, settings and baseline documents; changes reach the live pipeline without restart."""

    def __init__(self, store: Store | None, notes: dict[str, str], ingest: Ingest,
                 marks: Marks) -> None:
        self._store = store
        self._notes = notes
        self._ingest = ingest
        self._marks = marks

    def _required_store(self) -> Store:
        if self._store is None:
            raise NoStore("no recording store in this server")
        return self._store

    async def read(self, key: str) -> Any:
        """A stored person document or None (read in a worker thread)."""
        if self._store is None:
            return None
        return await asyncio.to_thread(self._store.get_document, key)

    # -- plan ------------------------------------------------------------------------------

    async def plan(self) -> dict[str, Any]:
        """The stored plan (validated) or an empty one."""
        doc = await self.read("plan")
        plan = Plan()
        if isinstance(doc, dict):
            try:
                plan = plan_from_json(doc)
            except AfterbeatError as exc:  # the page shows an empty plan to save again
                note_unusable(self._notes, "plan", exc)
        return plan.to_json()

    async def stored_plan(self) -> Plan | None:
        """The stored plan if it validates, else None."""
        doc = await self.read("plan")
        if not isinstance(doc, dict):
            return None
        try:
            return plan_from_json(doc)
        except AfterbeatError:
            return None

    async def put_plan(self, body: dict[str, Any]) -> dict[str, Any]:
        """Validate and store the plan; the running pipeline uses it from now on (no restart).

        Validation checks the thresholds against the default settings, which the live pipeline
        is built on, so the plan marker that carries the plan down the live path applies.
        """
        plan = plan_from_json(body)
        store = self._required_store()
        await asyncio.to_thread(store.put_document, "plan", plan.to_json())
        # A recorded marker: the pipeline applies it, and a replay changes plan at the same time.
        self._marks.mark(MarkerKind.PLAN, text=plan_marker_text(plan))
        if self._notes.pop("plan", None) is not None:
            self._ingest.publish_status()  # the page drops its note
        return plan.to_json()

    # -- display settings ------------------------------------------------------------------

    async def settings(self) -> PersonSettings:
        """The stored display settings, defaults filled in."""
        doc = await self.read("settings")
        if isinstance(doc, dict):
            try:
                return PersonSettings.model_validate(doc)
            except ValueError:
                log.warning("stored settings no longer validate; using defaults")
        return PersonSettings()

    async def put_settings(self, body: PersonSettings) -> PersonSettings:
        """Store the display settings."""
        await asyncio.to_thread(self._required_store().put_document, "settings",
                                body.model_dump())
        return body

    async def preferred_pace(self) -> float | None:
        """Breaths per minute from the plan, else from the display settings (None: neither)."""
        plan = await self.read("plan")
        pace = plan.get("breaths_per_min") if isinstance(plan, dict) else None
        if isinstance(pace, int | float):
            return float(pace)
        settings = await self.read("settings")
        pace = settings.get("breaths_per_min") if isinstance(settings, dict) else None
        return float(pace) if isinstance(pace, int | float) else None

    # -- baseline --------------------------------------------------------------------------

    async def baseline_summary(self) -> dict[str, Any] | None:
        """The baseline part of ``/api/status`` (None without a stored baseline)."""
        doc = await self.read("baseline")
        if not isinstance(doc, dict):
            return None
        return {**{k: doc.get(k) for k in _BASELINE_KEYS},
                "recordings_needed": DEFAULT_SETTINGS.baseline_recordings_needed}

    async def baseline(self) -> dict[str, Any]:
        """The stored baseline document with a plain description (``baseline`` None if none)."""
        needed = DEFAULT_SETTINGS.baseline_recordings_needed
        doc = await self.read("baseline")
        out: dict[str, Any] = {"baseline": None, "provisional": None, "recording_count": 0,
                               "recordings_needed": needed}
        if not isinstance(doc, dict):
            out["description"] = (
                "No resting baseline yet. Mark a few minutes of seated rest, away from "
                f"sessions, with Baseline start and Baseline end; after {needed} rests it "
                "is settled.")
            return out
        out["baseline"] = doc
        try:
            baseline = Baseline.from_json(doc)
        except AfterbeatError:
            out["description"] = ("The stored baseline could not be read. Reset it and mark "
                                  "a few minutes of seated rest to build it again.")
            return out
        out.update(provisional=baseline.provisional, recording_count=len(baseline.recordings),
                   description=baseline.describe())
        return out

    async def delete_baseline(self) -> dict[str, Any]:
        """Forget the baseline: stored document and the running pipeline's (rests start over)."""
        store = self._required_store()

        def delete() -> bool:
            existed = store.get_document("baseline") is not None
            store.delete_document("baseline")
            return existed

        existed = await asyncio.to_thread(delete)
        self._ingest.pipeline.forget_baseline()
        self._notes.pop("baseline", None)
        self._ingest.hub.publish_event(BaselineEvent(
            t_s=self._marks.now_s(), ok=True, reason="The baseline was reset; rests start over.",
            baseline=None, reset=True))
        return {"deleted": existed}

    def keep_baseline(self, event: BaselineEvent) -> None:
        """Store the baseline a resting period built (the pipeline already uses it)."""
        if self._store is None or not event.ok or event.baseline is None:
            return
        try:
            self._store.put_document("baseline", event.baseline)
        except (AfterbeatError, ValueError, TypeError) as exc:
            log.warning("could not keep the baseline: %s", exc)
