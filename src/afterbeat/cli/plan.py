"""``afterbeat plan show|export|import|card``: the plan made together, as a readable file."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from afterbeat.cli.common import add_data_dir_option, data_dir_from
from afterbeat.cli.pdf import PdfUnavailable, html_to_pdf
from afterbeat.paths import write_private_file
from afterbeat.resets.plan import Plan, PlanError
from afterbeat.resets.plan_file import (
    MAX_PLAN_FILE_BYTES,
    parse_plan_text,
    plan_changes,
    plan_to_toml,
    render_plan_card,
)
from afterbeat.storage.history import stored_plan
from afterbeat.storage.store import Store

__all__ = ["read_plan_file", "register", "run"]


def read_plan_file(path: Path) -> Plan:
    """Read and validate a plan file, reading at most one byte past the size limit."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_PLAN_FILE_BYTES + 1)
    except OSError as exc:
        raise PlanError("(file)", f"cannot read {path}: {exc.strerror or exc}") from exc
    return parse_plan_text(data, str(path))


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``plan`` sub-command and its actions."""
    parser = subparsers.add_parser(
        "plan", help="show, export, import or print the plan you made with your therapist",
        description="The plan as a small text file you can make together, edit in any text "
        "editor and load again; importing shows what changes before applying it.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="print the plan in use")
    show.add_argument("--json", action="store_true", help="print JSON")
    export = actions.add_parser("export", help="write the plan to a readable file")
    export.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help="where to write it (default: plan.toml in the data folder; - for "
                        "standard output)")
    load = actions.add_parser("import", help="check a plan file, show the changes, apply them")
    load.add_argument("file", type=Path, metavar="FILE")
    load.add_argument("--yes", action="store_true", help="apply without asking")
    card = actions.add_parser("card", help="the plan as a one-page card to print")
    card.add_argument("--out", type=Path, default=None, metavar="FILE.html",
                      help="where to write it (default: plan-card.html in the data folder)")
    card.add_argument("--pdf", type=Path, default=None, metavar="FILE.pdf",
                      help="also print it to PDF with a locally installed Chromium")
    for sub in (show, export, load, card):
        add_data_dir_option(sub)
    parser.set_defaults(run=run)


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    """Carry out one plan action."""
    data_dir = data_dir_from(args)
    with Store.open(data_dir) as store:
        notes: dict[str, str] = {}
        plan = stored_plan(store, notes) or Plan()
        if notes:
            print("afterbeat: the stored plan no longer validates; starting from an empty one",
                  file=sys.stderr)
        if args.action == "show":
            print(json.dumps(plan.to_json(), indent=2) if args.json else plan_to_toml(plan))
            return 0
        if args.action == "export":
            text = plan_to_toml(plan)
            if args.out is not None and str(args.out) == "-":
                sys.stdout.write(text)
                return 0
            out = args.out or data_dir / "plan.toml"
            write_private_file(out, text.encode("utf-8"))
            print(f"Wrote {out} (only you can read it).")
            return 0
        if args.action == "card":
            page = render_plan_card(plan, made_on=date.today())
            out = args.out or data_dir / "plan-card.html"
            write_private_file(out, page.encode("utf-8"))
            print(f"Wrote {out}. Open it in a browser to print it.")
            if args.pdf is not None:
                try:
                    html_to_pdf(page, args.pdf)
                except PdfUnavailable as exc:
                    print(f"afterbeat: {exc}")
                    return 1
                print(f"Wrote {args.pdf}.")
            return 0
        new = read_plan_file(args.file)
        changes = plan_changes(plan, new)
        if not changes:
            print("This plan is the same as the one in use; nothing to change.")
            return 0
        print("Importing this plan would change:")
        for line in changes:
            print(f"  - {line}")
        if not args.yes and not _confirm("Apply these changes?"):
            print("Nothing changed. Run again with --yes to apply.")
            return 1
        store.put_document("plan", new.to_json())
        print("Applied. A running afterbeat picks the plan up when it starts again; or import "
              "it from the page's Plan view to use it at once.")
        return 0
