"""Options shared by several sub-commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from afterbeat.paths import ensure_private_dir, resolve_data_dir

__all__ = ["add_data_dir_option", "data_dir_from"]


def add_data_dir_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--data-dir`` (default: AFTERBEAT_DATA_DIR, then the platform's data folder)."""
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where recordings and settings live (default: $AFTERBEAT_DATA_DIR or the "
        "platform's per-user data folder); created private (0700)",
    )


def data_dir_from(args: argparse.Namespace) -> Path:
    """Resolve and create the data directory named by the parsed arguments."""
    return ensure_private_dir(resolve_data_dir(getattr(args, "data_dir", None)))
