"""The live session's report (report page, trends) is kept up to date record by record, and
equals a full replay of the records so far at every point (storage.history.LiveReports)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from afterbeat.activation.baseline import Baseline
from afterbeat.activation.settings import Settings
from afterbeat.events import Event
from afterbeat.pipeline import EventPipeline, Pipeline
from afterbeat.records import Header, Marker, Record
from afterbeat.report import build_report
from afterbeat.resets.plan import Plan
from afterbeat.storage.history import (
    REPORT_KEY,
    LiveReports,
    person_pipeline,
    session_digests,
    session_report,
)
from afterbeat.storage.session_file import iter_session
from afterbeat.storage.store import Store

DEMO = Path(__file__).resolve().parents[1] / "src" / "afterbeat" / "data" / "demo.jsonl"
"""The bundled demo recording: real RR re-encoded (derived), 45 min, rest and session marks."""
EPOCH = datetime.min.replace(tzinfo=UTC)


def _demo() -> tuple[Header, list[Record]]:
    header, records = iter_session(DEMO)
    return header, list(records)


def _digests(store: Store, live: LiveReports | None) -> list[dict[str, Any]]:
    return [{"id": d.session_id, "settle": d.time_to_settle_s,
             "effects": [e.to_json() for e in d.effects], "outcome": repr(d.outcome())}
            for d in session_digests(store, EPOCH, live)]


def test_the_live_report_equals_a_full_replay_at_every_point(tmp_path: Path) -> None:
    header, records = _demo()
    with Store.open(tmp_path / "data") as store:
        store.import_session(header, records[:900], "import")  # a finished one beside it
        live_id = store.start_session(header, "ble")
        live = LiveReports()
        pushed = replayed = 0
        baseline: Any = None
        for chunk in (records[:500], records[500:1200], records[1200:1201], records[1201:]):
            store.append_many(live_id, chunk)
            pushed += len(chunk)
            replayed += len(chunk)
            kept = session_report(store, live_id, live=live)
            assert kept == session_report(store, live_id)  # without the cache: a full replay
            assert live.records_replayed == replayed, "only the new records were replayed"
            assert _digests(store, live) == _digests(store, None)
            assert live.records_replayed == replayed  # the digests used the same builder
            assert kept["duration_s"] == chunk[-1].t_s
            found = kept["events"].get("baseline", [])
            if baseline is None and found:
                # A new baseline is stored: the person pipeline changes, so the report is
                # replayed again from the start with it (a full replay does the same).
                baseline = found[-1]["baseline"]
                store.put_document("baseline", baseline)
                replayed += pushed
                assert session_report(store, live_id, live=live) == \
                    session_report(store, live_id)
                assert live.records_replayed == replayed
        assert baseline is not None, "the demo's rest gives a baseline"
        assert kept["recovery"], "the closing events are in every report"

        store.end_session(live_id)
        final = session_report(store, live_id, live=live)  # ended: finished from the builder
        assert live.records_replayed == replayed and not live.holds(live_id)
        _, stored = store.iter_records(live_id)
        assert final == build_report(header, stored, lambda: person_pipeline(store))
        assert store.get_results(live_id)[REPORT_KEY] == final


def test_an_erased_or_other_session_starts_over(tmp_path: Path) -> None:
    header, records = _demo()
    with Store.open(tmp_path / "data") as store:
        live = LiveReports()
        first = store.start_session(header, "ble")
        store.append_many(first, records[:300])
        session_report(store, first, live=live)
        store.erase(first)
        live.forget(first)
        assert not live.holds(first)
        second = store.start_session(header, "ble")
        store.append_many(second, records[:200])
        assert session_report(store, second, live=live) == session_report(store, second)
        assert live.records_replayed == 500 and live.holds(second)


class _Failing:
    """A person pipeline that raises when ``fails`` says so for a record (a bug mid-replay)."""

    def __init__(self, inner: EventPipeline, fails: Callable[[Record], bool]) -> None:
        self._inner = inner
        self._fails = fails

    @property
    def plan(self) -> Plan | None:
        return self._inner.plan

    @property
    def baseline(self) -> Baseline | None:
        return self._inner.baseline

    @property
    def settings(self) -> Settings:
        return self._inner.settings

    def push(self, record: Record) -> Sequence[Event]:
        if self._fails(record):
            raise RuntimeError("pipeline failed on this record")
        return self._inner.push(record)

    def finish(self) -> Sequence[Event]:
        return self._inner.finish()

    def forget_baseline(self) -> None:
        self._inner.forget_baseline()


def test_a_pipeline_failure_mid_update_leaves_no_duplicated_marker(tmp_path: Path) -> None:
    header, records = _demo()
    armed = [False]

    def fails_once(record: Record) -> bool:
        """Raise on the first marker after being armed, once."""
        if armed[0] and isinstance(record, Marker):
            armed[0] = False
            return True
        return False

    with Store.open(tmp_path / "data") as store:
        def factory() -> EventPipeline:
            return _Failing(person_pipeline(store), fails_once)

        live_id = store.start_session(header, "ble")
        live = LiveReports()
        store.append_many(live_id, records[:450])
        session_report(store, live_id, factory, live)
        store.append_many(live_id, records[450:900])  # holds baseline_end, session_start, ...
        armed[0] = True
        with pytest.raises(RuntimeError, match="pipeline failed"):
            session_report(store, live_id, factory, live)
        assert not armed[0] and not live.holds(live_id)
        again = session_report(store, live_id, factory, live)
        _, stored = store.iter_records(live_id)
        full = build_report(header, stored, factory)
        assert again == full
        kinds = [m["kind"] for m in again["markers"]]
        assert kinds.count("baseline_end") == kinds.count("session_start") == 1, kinds


def test_another_pipeline_factory_starts_over(tmp_path: Path) -> None:
    header, records = _demo()
    with Store.open(tmp_path / "data") as store:
        def person() -> EventPipeline:
            return person_pipeline(store)

        def quiet() -> EventPipeline:  # the same stored baseline and plan, another pipeline
            return _Failing(Pipeline(settings=Settings(settle_s=300.0)), lambda _: False)

        live_id = store.start_session(header, "ble")
        live = LiveReports()
        store.append_many(live_id, records[:1200])
        assert session_report(store, live_id, person, live) == session_report(
            store, live_id, person)
        other = session_report(store, live_id, quiet, live)
        assert other == session_report(store, live_id, quiet)
        assert other != session_report(store, live_id, person)
