"""``afterbeat baseline``: a guided 5-minute seated rest with a live strap, or show/reset it."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from typing import TextIO

from afterbeat.activation.baseline import BASELINE_DOCUMENT_KEY, Baseline, BaselineError
from afterbeat.activation.settings import DEFAULT_SETTINGS, Settings
from afterbeat.cli.common import (
    add_data_dir_option,
    data_dir_from,
    no_store_words,
    stored_data_dir,
)
from afterbeat.events import BaselineEvent
from afterbeat.paths import resolve_data_dir
from afterbeat.pipeline import Pipeline
from afterbeat.records import Marker, MarkerKind
from afterbeat.sources import Source, SourceStatus
from afterbeat.storage.store import Store

__all__ = ["guided_rest", "load_baseline", "register", "run"]

REST_S = 300.0
"""A guided rest lasts 5 minutes of session time; the first 2 fill the windows."""


def load_baseline(store: Store, settings: Settings = DEFAULT_SETTINGS) -> Baseline | None:
    """The stored baseline, or None when there is none (or it no longer parses)."""
    doc = store.get_document(BASELINE_DOCUMENT_KEY)
    if doc is None:
        return None
    return Baseline.from_json(doc, settings)


async def guided_rest(
    source: Source,
    baseline: Baseline | None,
    *,
    duration_s: float = REST_S,
    settings: Settings = DEFAULT_SETTINGS,
    on_progress: Callable[[float], None] | None = None,
) -> BaselineEvent:
    """Run one resting recording from ``source`` through the pipeline; return its outcome."""
    pipeline = Pipeline(settings, baseline)
    start_s: float | None = None
    last_report = -1
    outcome: BaselineEvent | None = None
    try:
        async for item in source.stream():
            if isinstance(item, SourceStatus):
                continue
            if start_s is None:
                start_s = item.t_s
                pipeline.push(Marker(start_s, MarkerKind.BASELINE_START))
            if item.t_s - start_s >= duration_s:
                break
            pipeline.push(item)
            step = int((item.t_s - start_s) // 30)
            if on_progress is not None and step != last_report:
                last_report = step
                on_progress(duration_s - (item.t_s - start_s))
    finally:
        await source.aclose()
    end_s = (start_s or 0.0) + duration_s
    for event in pipeline.push(Marker(end_s, MarkerKind.BASELINE_END)):
        if isinstance(event, BaselineEvent):
            outcome = event
    if outcome is None:
        outcome = BaselineEvent(end_s, False, "No beats arrived from the strap.")
    return outcome


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``baseline`` sub-command."""
    parser = subparsers.add_parser(
        "baseline",
        help="record a 5-minute seated rest for your personal baseline, or show/reset it",
        description="Your baseline is your own calm: heart rate and RMSSD during seated rest, "
        "pooled over your last 7 resting recordings (provisional until there are 3). "
        "Without options, guides a 5-minute seated rest with your strap.",
    )
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--show", action="store_true", help="show the stored baseline")
    what.add_argument("--reset", action="store_true", help="erase the stored baseline")
    parser.add_argument("--device", default=None,
                        help="strap address or name (default: the remembered or first strap)")
    add_data_dir_option(parser)
    parser.set_defaults(run=run)


def _show(baseline: Baseline | None, out: TextIO) -> int:
    if baseline is None:
        print("No baseline yet. Run 'afterbeat baseline' for a guided 5-minute seated rest.",
              file=out)
        return 0
    print(baseline.describe(), file=out)
    for rec in baseline.recordings:
        print(f"  {rec.label}: {len(rec.heart_rate_bpm)} values over {rec.span_s / 60:.1f} min",
              file=out)
    return 0


def run(args: argparse.Namespace) -> int:
    """Show, reset, or record a resting baseline."""
    out = sys.stdout
    if args.show and stored_data_dir(args) is None:  # reading creates nothing
        print(f"No baseline yet: {no_store_words(resolve_data_dir(args.data_dir))}.", file=out)
        return 0
    store = Store.open(data_dir_from(args))
    try:
        if args.reset:
            store.delete_document(BASELINE_DOCUMENT_KEY)
            print("Baseline erased. The next resting recordings start a new one.", file=out)
            return 0
        try:
            baseline = load_baseline(store)
        except BaselineError as exc:
            print(f"The stored baseline cannot be read ({exc}); 'afterbeat baseline --reset' "
                  "starts afresh.", file=out)
            return 1
        if args.show:
            return _show(baseline, out)
        from afterbeat.sources.ble import BleSource, backend_from_env

        source = BleSource(device=args.device, backend=backend_from_env())
        print("Sit comfortably, feet on the floor, and breathe as you normally do. "
              "Five minutes; stay still and quiet.", file=out)

        def progress(left_s: float) -> None:
            print(f"  {max(0.0, left_s) / 60:.1f} min to go", file=out, flush=True)

        outcome = asyncio.run(guided_rest(source, baseline, on_progress=progress))
        if not outcome.ok or outcome.baseline is None:
            print(f"Not saved: {outcome.reason}", file=out)
            return 1
        store.put_document(BASELINE_DOCUMENT_KEY, outcome.baseline)
        print(f"Saved. {outcome.reason}", file=out)
        return 0
    finally:
        store.close()
