"""``afterbeat sessions list|show|export|import|delete``: the recordings in the data directory."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from afterbeat.cli.common import (
    add_data_dir_option,
    data_dir_from,
    no_store_words,
    printable,
    session_id,
    stored_data_dir,
)
from afterbeat.events import MarkerEvent
from afterbeat.hrv.beats import record_beats
from afterbeat.paths import resolve_data_dir
from afterbeat.records import Marker, SkipReport
from afterbeat.storage.export import write_rr_csv
from afterbeat.storage.lab_export import kubios_rr_text, write_edf, write_kubios
from afterbeat.storage.session_file import iter_session
from afterbeat.storage.store import SessionNotFound, SessionSummary, Store

__all__ = ["format_duration", "register", "run", "summary_fields"]


def format_duration(span_s: float) -> str:
    """A length in seconds as H:MM:SS."""
    whole_s = max(0, round(span_s))
    return f"{whole_s // 3600}:{whole_s // 60 % 60:02d}:{whole_s % 60:02d}"


def summary_fields(summary: SessionSummary) -> dict[str, Any]:
    """A session summary as a JSON-ready dict (times in UTC ISO 8601, lengths in seconds)."""
    return {
        "id": summary.id,
        "started_at": summary.started_at.isoformat().replace("+00:00", "Z"),
        "ended_at": summary.ended_at.isoformat().replace("+00:00", "Z")
        if summary.ended_at else None,
        "duration_s": round(summary.duration_s, 3),
        "status": str(summary.status),
        "notification_count": summary.notification_count,
        "source": summary.source,
        "device_name": summary.device_name,
        "problems": list(summary.problems),
    }


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``sessions`` sub-command and its actions."""
    parser = subparsers.add_parser(
        "sessions",
        help="list, show, export, import or delete recorded sessions",
        description="Manage the sessions recorded in the data directory.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, help_text: str, *, with_id: bool = True) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help_text, description=help_text)
        if with_id:
            sub.add_argument("id", type=session_id, metavar="ID", help="session id (see 'list')")
        sub.add_argument("--json", action="store_true", help="print JSON")
        add_data_dir_option(sub)
        return sub

    action("list", "list sessions: id, start, duration, status, notifications", with_id=False)
    action("show", "show one session: summary, record counts, markers and results")
    export = action("export", "write one session as a JSONL session file or an RR table "
                    "(CSV), 0600")
    export.add_argument("-o", "--output", metavar="FILE", default=None,
                        help="file to write, or '-' for standard output (default: "
                        "exports/session-ID.jsonl or .csv in the data directory)")
    export.add_argument("--format", choices=("jsonl", "csv", "kubios", "edf"), default=None,
                        help="jsonl: the lossless session file (default); csv: one row per "
                        "RR interval, raw 1/1024 s and ms; kubios: RR text as Kubios HRV "
                        "imports it, with a JSON sidecar; edf: EDF+ with RR-derived heart rate "
                        "and annotations (needs the lab extra). Default: from the file suffix")
    imported = action("import", "add a session file (.jsonl, e.g. an export) as a new session",
                      with_id=False)
    imported.add_argument("file", type=Path, metavar="FILE", help="afterbeat session file")
    delete = action("delete", "erase one session for good (records, results, export)")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; exit status 1 when a deletion is not confirmed."""
    if args.action != "import" and stored_data_dir(args) is None:
        # Reading a folder without a database creates nothing; it says where sessions are.
        words = no_store_words(resolve_data_dir(args.data_dir))
        if args.action != "list":
            raise SessionNotFound(f"session {args.id}: {words}")
        if args.json:
            print("[]")
        print(words, file=sys.stderr if args.json else sys.stdout)
        return 0
    with Store.open(data_dir_from(args)) as store:
        for session_id in store.recovered:
            print(f"note: session {session_id} was cut short and is now marked interrupted",
                  file=sys.stderr)
        match args.action:
            case "list":
                return _list(store, args.json)
            case "show":
                return _show(store, args.id, args.json)
            case "export":
                return _export(store, args.id, args.output, args.format, args.json)
            case "import":
                return _import(store, args.file, args.json)
            case _:
                return _delete(store, args.id, args.yes, args.json)


def _list(store: Store, as_json: bool) -> int:
    sessions = store.list_sessions()
    if as_json:
        print(json.dumps([summary_fields(s) for s in sessions]))
        return 0
    if not sessions:
        print("no sessions recorded yet")
        return 0
    print(f"{'id':>4}  {'started (UTC)':<19}  {'duration':>8}  {'status':<11}  "
          f"{'notifications':>13}  source")
    for s in sessions:
        started = s.started_at.strftime("%Y-%m-%d %H:%M:%S")
        damaged = "  [damaged]" if s.problems else ""
        print(printable(f"{s.id:>4}  {started:<19}  {format_duration(s.duration_s):>8}  "
                        f"{s.status!s:<11}  {s.notification_count:>13}  {s.source}{damaged}"))
    for s in sessions:
        if s.problems:
            print(printable(f"note: session {s.id} is damaged: {'; '.join(s.problems)}. "
                            f"'afterbeat sessions delete {s.id}' erases it"), file=sys.stderr)
    return 0


def _show(store: Store, session_id: int, as_json: bool) -> int:
    summary = store.get_session(session_id)
    header, records = store.iter_records(session_id)
    counts: Counter[str] = Counter()
    markers: list[dict[str, Any]] = []
    for record in records:
        counts[type(record).__name__.lower()] += 1
        if isinstance(record, Marker):
            markers.append(MarkerEvent.from_record(record).to_json())  # the one marker JSON
    fields = summary_fields(summary) | {
        "device": header.device, "provenance": header.provenance,
        "record_counts": dict(sorted(counts.items())), "markers": markers,
        "results": store.get_results(session_id),
    }
    if as_json:
        print(json.dumps(fields))
        return 0
    # Text from the file (marker notes, source) is neutralised: no escape sequence reaches
    # the terminal as it is.
    for key in ("id", "started_at", "ended_at", "duration_s", "status", "source",
                "notification_count"):
        print(printable(f"{key:<19} {fields[key]}"))
    for problem in summary.problems:
        print(printable(f"{'damaged':<19} {problem}"))
    print(f"{'device':<19} {json.dumps(header.device)}")
    print(f"{'records':<19} " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                                 or "none"))
    for m in markers:
        extra = " ".join(str(v) for v in (m["value"], m["text"]) if v is not None)
        print(printable(f"{'marker':<19} {m['t_s']:.1f} s  {m['kind']} {extra}".rstrip()))
    for key in fields["results"]:
        print(printable(f"{'result':<19} {key}"))
    return 0


def _export(store: Store, session_id: int, output: str | None, fmt: str | None,
            as_json: bool) -> int:
    if fmt is None:
        suffix = Path(output).suffix.lower() if output and output != "-" else ""
        fmt = {".csv": "csv", ".edf": "edf"}.get(suffix, "jsonl")
    if fmt in ("kubios", "edf"):
        return _lab_export(store, session_id, output, fmt, as_json)
    header, records = store.iter_records(session_id)
    if output == "-":
        try:
            if fmt == "csv":
                write_rr_csv(sys.stdout, header, records)
            else:
                store.export(session_id, sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:  # e.g. piped into ``head``: the reader has what it wanted
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 0
    path = Path(output) if output else store.export_path(session_id, f".{fmt}")
    if fmt == "csv":
        write_rr_csv(path, header, records)
    else:
        store.export(session_id, path)
    print(json.dumps({"id": session_id, "path": str(path), "format": fmt}) if as_json
          else printable(f"session {session_id} written to {path}"))
    return 0


def _lab_export(store: Store, session_id: int, output: str | None, fmt: str,
                as_json: bool) -> int:
    header, records = store.iter_records(session_id)
    if output == "-":
        if fmt == "edf":
            print("afterbeat: EDF+ is a binary file; name one with -o FILE.edf", file=sys.stderr)
            return 2
        sys.stdout.write(kubios_rr_text(record_beats(records)))
        return 0
    suffix = ".kubios.txt" if fmt == "kubios" else ".edf"
    path = Path(output) if output else store.export_path(session_id, suffix)
    written = [*write_kubios(path, header, records)] if fmt == "kubios" \
        else [write_edf(path, header, records)]
    print(json.dumps({"id": session_id, "path": str(path), "format": fmt,
                      "files": [str(p) for p in written]}) if as_json
          else f"session {session_id} written to " + " and ".join(str(p) for p in written))
    return 0


def _import(store: Store, path: Path, as_json: bool) -> int:
    skips = SkipReport()
    try:
        header, records = iter_session(path, skips)
    except OSError as exc:
        print(f"afterbeat: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    session_id = store.import_session(header, records, "import")
    if skips.count:
        print(printable(f"afterbeat: {path}: {skips.summary()}"), file=sys.stderr)
    summary = store.get_session(session_id)
    print(json.dumps(summary_fields(summary) | {"skipped_lines": skips.count}) if as_json
          else printable(f"{path} imported as session {session_id} "
                         f"({summary.notification_count} notifications, "
                         f"{format_duration(summary.duration_s)})"))
    return 0


def _delete(store: Store, session_id: int, yes: bool, as_json: bool) -> int:
    summary = store.get_session(session_id)
    if not yes:
        if not sys.stdin.isatty():
            print("afterbeat: not deleting without confirmation; add --yes", file=sys.stderr)
            return 1
        started = summary.started_at.strftime("%Y-%m-%d %H:%M")
        answer = input(f"Erase session {session_id} ({started} UTC, "
                       f"{format_duration(summary.duration_s)}) for good? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("kept")
            return 1
    wal_emptied = store.delete(session_id)
    if as_json:
        print(json.dumps({"id": session_id, "deleted": True, "wal_emptied": wal_emptied}))
    else:
        print(f"session {session_id} erased")
        if not wal_emptied:
            print("note: another afterbeat process is reading the database; the erased rows "
                  "leave the write-ahead log at its next checkpoint", file=sys.stderr)
    return 0
