"""Server side of the resonance assessment: start, follow, stop, result, apply the pace.

The service behind these routes (:mod:`afterbeat.server.routes` maps its domain errors):

- ``GET /api/resonance``: the stored result (person document ``resonance``), the last
  assessment finished by this server (``last``, also when it found no pace), the running
  assessment if any, the default protocol and the current default pace.
- ``POST /api/resonance/start``: begin now (optional protocol fields); answers the blocks with
  each block's pacing timeline on Unix time (the page paces from its own clock, as resets).
- ``POST /api/resonance/stop``: stop early; what was measured is kept and evaluated (also
  when the server stops or the source ends during an assessment).
- ``PUT /api/resonance/pace``: make ``breaths_per_min`` the breathing reset's default pace.

While an assessment runs, a small task places ``resonance_block_start`` / ``_end`` markers on
the live path (recorded with the session, so the assessment replays) and publishes
``resonance`` events (``action``: started, block, break, finished, stopped, result). At the end
the recorded session is read back from the store, assessed
(:func:`afterbeat.resets.resonance.assess`), kept as the session's result and as the person
document (unless it found no pace and an earlier result did: that one stays), and a clear or
likely rate becomes the default pace (the setting the page's pace
control shows; the person can change it any time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import typing
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from afterbeat.errors import AfterbeatError
from afterbeat.events import ResonanceEvent
from afterbeat.records import Record
from afterbeat.resets.resonance import (
    RESONANCE_DOCUMENT_KEY,
    Block,
    BlockMeasures,
    Protocol,
    RecordedBeats,
    ResonanceError,
    assess_recording,
    assessment_span,
    block_end_marker,
    block_start_marker,
    keeps_previous,
    last_assessment,
    plan_with_result,
    read_records,
    result_document,
    schedule,
    second_pass_blocks,
    stage_at,
)
from afterbeat.server.errors import AssessmentRunning, NeedsRecording, NoAssessment, NoStore
from afterbeat.server.hub import Hub
from afterbeat.server.ingest import Ingest
from afterbeat.server.models import ResonanceStartIn
from afterbeat.sources import Source
from afterbeat.storage.store import Store


class ResonanceHost(typing.Protocol):
    """What the runner needs of the server (the server's state provides it)."""

    @property
    def source(self) -> Source | None:
        """The strap or replay being consumed, if any."""

    @property
    def store(self) -> Store | None:
        """The recording store, if any."""

    @property
    def ingest(self) -> Ingest:
        """The live path markers are injected into."""

    @property
    def hub(self) -> Hub:
        """Where events are published."""

    @property
    def recording_active(self) -> bool:
        """True while the live session is being recorded."""

    @property
    def live_session_id(self) -> int | None:
        """The id of the session being recorded now."""

    def now_s(self) -> float:
        """The session clock (s)."""

    def clock(self) -> float:
        """The wall clock (Unix s): the page paces the blocks on it."""

    def document(self, key: str) -> Any:
        """A stored person document or None."""

    async def recorded(self) -> bool:
        """Wait until what was queued so far is on disk; False if not yet."""

    async def wait_recording_closed(self) -> None:
        """After the recording ended: wait until the recorder has written all and closed."""

__all__ = ["ResonanceHost", "ResonanceRunner"]

log = logging.getLogger(__name__)

POLL_S = 0.2
"""How often the running assessment looks at the session clock (s)."""

BEATS_WAIT_S = 10.0
"""Longest wait (s) for the beats of a block's last seconds, which a strap reports a few
seconds after they happened (beat times are RR sums: :class:`afterbeat.hrv.beats.BeatTimeline`).
"""

BEATS_STALL_S = 3.0
"""No new beat for this long (s) ends that wait (the strap is silent)."""


@dataclass(slots=True)
class _Run:
    protocol: Protocol
    start_s: float
    unix_offset_s: float
    """Unix time minus session time at the start: the page's clock for the pacer."""
    second_pass: bool
    blocks: list[Block]
    opened: set[int] = field(default_factory=set)
    closed: set[int] = field(default_factory=set)
    stage: str = "settle"
    session_id: int | None = None
    """The recorded session the blocks are in (read back for the result, also after it ends)."""
    task: asyncio.Task[None] | None = None
    stopped: bool = False


@dataclass(slots=True)
class ResonanceRunner:
    """At most one running assessment and the last result of this server."""

    state: ResonanceHost
    run: _Run | None = None
    last_result: dict[str, Any] | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    # -- JSON ------------------------------------------------------------------------------

    def run_json(self) -> dict[str, Any] | None:
        """The running assessment: protocol, blocks with Unix-time pacing, current stage."""
        run = self.run
        if run is None:
            return None
        now = self.state.now_s()
        stage = stage_at(run.blocks, run.start_s, now)
        return {
            "protocol": run.protocol.to_json(),
            "second_pass": run.second_pass,
            "start_s": run.start_s,
            "started_unix_s": run.start_s + run.unix_offset_s,
            "ends_unix_s": (run.blocks[-1].end_s + run.unix_offset_s) if run.blocks else None,
            "blocks": [self._block_json(b, run) for b in run.blocks],
            "stage": {"kind": stage.kind, "block_index": None if stage.block is None
                      else stage.block.index,
                      "ends_unix_s": None if stage.end_s is None
                      else stage.end_s + run.unix_offset_s},
        }

    @staticmethod
    def _block_json(block: Block, run: _Run) -> dict[str, Any]:
        return {**block.to_json(),
                "start_unix_s": block.start_s + run.unix_offset_s,
                "end_unix_s": block.end_s + run.unix_offset_s,
                "timeline": block.timeline().to_json(unix_offset_s=run.unix_offset_s)}

    def overview(self) -> dict[str, Any]:
        """The body of ``GET /api/resonance``."""
        doc = self.state.document(RESONANCE_DOCUMENT_KEY)
        last = self.last_result.get("result") if self.last_result else None
        return {"result": doc if isinstance(doc, dict) else None, "run": self.run_json(),
                "last": last,
                "default_protocol": Protocol().to_json(),
                "pace_bpm": self._current_pace()}

    def _current_pace(self) -> float | None:
        settings = self.state.document("settings")
        pace = settings.get("breaths_per_min") if isinstance(settings, dict) else None
        return float(pace) if isinstance(pace, int | float) else None

    # -- actions ---------------------------------------------------------------------------

    def start(self, body: ResonanceStartIn) -> dict[str, Any]:
        """Begin an assessment now (409 while one runs or when nothing is recorded)."""
        if self.run is not None:
            raise AssessmentRunning("an assessment is already running")
        if self.state.source is None or not self.state.recording_active:
            raise NeedsRecording("the assessment needs a strap (or replay) being recorded")
        defaults = Protocol()
        try:
            protocol = Protocol(
                rates_bpm=tuple(body.rates_bpm) if body.rates_bpm else defaults.rates_bpm,
                block_s=body.block_s if body.block_s is not None else defaults.block_s,
                break_s=body.break_s if body.break_s is not None else defaults.break_s,
                settle_s=body.settle_s if body.settle_s is not None else defaults.settle_s,
                inhale_share=(body.inhale_share if body.inhale_share is not None
                              else defaults.inhale_share))
        except ResonanceError:
            raise  # a ValueError: the routes answer 422 with its message
        start_s = self.state.now_s()
        run = _Run(protocol=protocol, start_s=start_s, unix_offset_s=self.state.clock() - start_s,
                   second_pass=body.second_pass, blocks=list(schedule(protocol, start_s)),
                   session_id=self.state.live_session_id)
        self.run = run
        self.state.ingest.real_time(True)  # the demo's replay slows to real time
        run.task = asyncio.get_running_loop().create_task(self._drive(run),
                                                          name="afterbeat-resonance")
        out = self.run_json()
        assert out is not None
        self._publish("started", out)
        return out

    async def stop(self) -> dict[str, Any]:
        """Stop the running assessment now and evaluate what was measured (409 if none)."""
        run = self.run
        if run is None:
            raise NoAssessment("no assessment is running")
        finishing = bool(run.blocks) and len(run.closed) == len(run.blocks)
        run.stopped = not finishing
        if run.task is not None:
            if not finishing:
                run.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run.task
        return await self._finish(run)

    async def close(self) -> None:
        """The server is stopping: a running assessment ends as if stopped, keeping what it
        measured (its open block is closed and the blocks so far are evaluated)."""
        if self.run is not None:
            with contextlib.suppress(NoAssessment):
                await self.stop()

    def set_pace(self, breaths_per_min: float) -> dict[str, Any]:
        """Make ``breaths_per_min`` the default pace of the breathing reset (the setting)."""
        store = self.state.store
        if store is None:
            raise NoStore("no store in this server")
        settings = store.get_document("settings")
        settings = dict(settings) if isinstance(settings, dict) else {}
        settings["breaths_per_min"] = breaths_per_min
        store.put_document("settings", settings)
        return {"breaths_per_min": breaths_per_min}

    # -- the running assessment ----------------------------------------------------------

    async def _drive(self, run: _Run) -> None:
        """Place the block markers as the session clock passes the planned times."""
        while True:
            if not self.state.recording_active:
                # The source ended (a replay played out): what was measured is kept.
                run.stopped = True
                break
            now = self.state.now_s()
            self._mark_due(run, now)
            if run.blocks and len(run.closed) == len(run.blocks):
                if run.second_pass and not any(b.pass_no == 2 for b in run.blocks):
                    if await self._add_second_pass(run, now):
                        continue
                break
            stage = stage_at(run.blocks, run.start_s, now)
            if stage.kind != run.stage:
                run.stage = stage.kind
                self._publish(stage.kind, {"block_index": None if stage.block is None
                                           else stage.block.index})
            await asyncio.sleep(POLL_S)
        await self._finish(run)

    async def _add_second_pass(self, run: _Run, now: float) -> bool:
        first = await self._evaluate(run)
        if first is None:
            return False
        measures = [BlockMeasures.from_json(b) for b in first["blocks"]]
        more = second_pass_blocks(run.protocol, measures, now + run.protocol.break_s)
        if not more:
            return False
        run.blocks.extend(more)
        out = self.run_json()
        self._publish("second_pass", out or {})
        return True

    def _mark_due(self, run: _Run, now: float) -> None:
        for i, block in enumerate(run.blocks):
            if block.index not in run.opened and now >= block.start_s:
                run.opened.add(block.index)
                actual = replace(block, start_s=now, end_s=now + block.duration_s)
                run.blocks[i] = actual
                self.state.ingest.inject(block_start_marker(actual))
            elif (block.index in run.opened and block.index not in run.closed
                  and now >= block.end_s):
                run.closed.add(block.index)
                self.state.ingest.inject(block_end_marker(block, now, completed=True))

    async def _evaluate(self, run: _Run) -> dict[str, Any] | None:
        """Assess the run once the recording holds all its beats: the same records, and so
        the same numbers, as ``resonance --analyze`` on the exported session."""
        last_t_s, stalled = -math.inf, 0
        beats: RecordedBeats | None = None
        records: list[Record] = []  # read once, then only what was recorded since
        last_seq = 0
        for _ in range(int(BEATS_WAIT_S / POLL_S) + 1):
            if self.state.recording_active:
                await self.state.recorded()
            else:  # the source ended: the recorder writes what it holds and closes
                await self.state.wait_recording_closed()
            new = await asyncio.to_thread(self._read_since, run, last_seq)
            if new is None:
                return None
            if new:
                last_seq = new[-1][0]
                records.extend(record for _, record in new)
            beats = await asyncio.to_thread(read_records, records)
            blocks = last_assessment(beats.blocks, run.start_s)
            newest_s = float(beats.t_s[-1]) if beats.t_s.size else -math.inf
            stalled = stalled + 1 if newest_s <= last_t_s else 0
            last_t_s = newest_s
            if (not blocks or not self.state.recording_active
                    or newest_s >= assessment_span(blocks)[1]
                    or stalled * POLL_S >= BEATS_STALL_S):
                break
            await asyncio.sleep(POLL_S)
        if beats is None:
            return None
        try:
            result = assess_recording(beats, since_s=run.start_s)
        except ResonanceError:
            return None
        return result_document(result, assessed_at=datetime.now(UTC).isoformat(),
                               session_id=run.session_id, protocol=run.protocol)

    def _read_since(self, run: _Run, after_seq: int) -> list[tuple[int, Record]] | None:
        """The live session's records after ``after_seq``, numbered (in a worker thread)."""
        store = self.state.store
        if store is None or run.session_id is None:
            return None
        return list(store.iter_numbered(run.session_id, after_seq))

    async def _finish(self, run: _Run) -> dict[str, Any]:
        async with self._lock:
            if self.run is not run:
                return self.last_result or {"result": None}
            now = self.state.now_s()
            for block in run.blocks:
                if block.index in run.opened and block.index not in run.closed:
                    run.closed.add(block.index)
                    if self.state.recording_active:  # else it ends with the last beat
                        self.state.ingest.inject(block_end_marker(block, now, completed=False))
            self.run = None
            self.state.ingest.real_time(False)
            doc = await self._evaluate(run)
            applied = None
            if doc is not None:
                doc["stopped"] = run.stopped
                try:
                    kept = self._keep(doc)
                    rate = doc.get("rate_bpm")
                    if kept and isinstance(rate, float) and 4.5 <= rate <= 7.0:
                        applied = self.set_pace(rate)["breaths_per_min"]
                except AfterbeatError as exc:
                    log.warning("could not keep the resonance result: %s", exc)
            out = {"result": doc, "stopped": run.stopped, "applied_pace_bpm": applied}
            self.last_result = out
            self._publish("stopped" if run.stopped else "finished", out)
            return out

    def _keep(self, doc: dict[str, Any]) -> bool:
        """Keep the result with its session and, unless it would hide a found pace, as the
        person document; True when it became the person document."""
        store = self.state.store
        if store is None:
            return False
        session_id = doc.get("session_id")
        if isinstance(session_id, int):
            store.put_result(session_id, RESONANCE_DOCUMENT_KEY, doc)
        if keeps_previous(store.get_document(RESONANCE_DOCUMENT_KEY), doc):
            return False
        store.put_document(RESONANCE_DOCUMENT_KEY, doc)
        plan = plan_with_result(store.get_document("plan"), doc)
        if plan is not None:  # shown with the plan; the running pipeline needs no new marker
            store.put_document("plan", plan)
        return True

    def _publish(self, action: str, data: dict[str, Any]) -> None:
        self.state.hub.publish_event(ResonanceEvent(action, self.state.now_s(), data))
