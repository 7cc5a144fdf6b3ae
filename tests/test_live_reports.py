"""The live session's report (report page, trends) is kept up to date record by record, and
equals a full replay of the records so far at every point (storage.history.LiveReports)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from afterbeat.records import Header, Record
from afterbeat.report import build_report
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
