"""Shared fixtures: where the real recordings copied into tests/data live."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
DATA_DIR = TESTS_DIR / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder of real recordings (see tests/data/SOURCES.md for their attribution)."""
    return DATA_DIR
