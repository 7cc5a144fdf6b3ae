"""``afterbeat summary``: a printable page about the last weeks, to share if the person wants."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from afterbeat.cli.common import (
    add_data_dir_option,
    data_dir_from,
    no_store_words,
    number_in,
    stored_data_dir,
)
from afterbeat.cli.pdf import PdfUnavailable, html_to_pdf
from afterbeat.paths import ensure_private_dir, resolve_data_dir, write_private_file
from afterbeat.storage.history import session_digests, stored_plan
from afterbeat.storage.store import Store
from afterbeat.summary import DEFAULT_SINCE_DAYS, build_summary, render_summary_html

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``summary`` sub-command."""
    parser = subparsers.add_parser(
        "summary", help="a printable summary of the last weeks to share if you want",
        description="Write one self-contained HTML page (and, if asked, a PDF) about the last "
        "weeks: settling after sessions, resets and how they went, your ratings, and notes "
        "only if you include them. Nothing leaves this computer unless you share the file.")
    parser.add_argument("--since", type=number_in(0.001, 3660.0, "the period in days"),
                        default=float(DEFAULT_SINCE_DAYS), metavar="DAYS",
                        help=f"how many days back to cover (default {DEFAULT_SINCE_DAYS})")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE.html",
                        help="where to write the page (default: summaries/ in the data folder)")
    parser.add_argument("--pdf", type=Path, default=None, metavar="FILE.pdf",
                        help="also print it to PDF with a locally installed Chromium")
    parser.add_argument("--include-notes", action="store_true",
                        help="include the notes you wrote (left out unless you ask)")
    parser.add_argument("--no-ratings", action="store_true", help="leave your ratings out")
    parser.add_argument("--json", action="store_true", help="also print the numbers as JSON")
    add_data_dir_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Build the summary from the stored sessions and write it (0600)."""
    if stored_data_dir(args) is None:  # nothing to summarise: no page, no empty database
        print(f"afterbeat: {no_store_words(resolve_data_dir(args.data_dir))}; no summary "
              "written", file=sys.stderr)
        return 1
    data_dir = data_dir_from(args)
    now = datetime.now(UTC)
    with Store.open(data_dir) as store:
        digests = list(session_digests(store, now - timedelta(days=args.since)))
        plan = stored_plan(store)
    summary = build_summary(digests, until=now, since_days=args.since, plan=plan,
                            include_ratings=not args.no_ratings,
                            note_filter=bool(args.include_notes))
    page = render_summary_html(summary, made_at=now)
    out: Path = args.out
    if out is None:
        out = ensure_private_dir(data_dir / "summaries") / f"afterbeat-summary-{now:%Y-%m-%d}.html"
    write_private_file(out, page.encode("utf-8"))
    print(summary.contents())
    print(f"Wrote {out} (only you can read it). Open it in a browser to read or print it.")
    status = 0
    if args.pdf is not None:
        try:
            html_to_pdf(page, args.pdf)
        except PdfUnavailable as exc:
            print(f"afterbeat: {exc}")
            status = 1
        else:
            print(f"Wrote {args.pdf} (only you can read it).")
    if args.json:
        print(json.dumps(summary.to_json(), indent=2))
    return status
