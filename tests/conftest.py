"""Shared fixtures: where the real recordings copied into tests/data live; the CI switch."""

from __future__ import annotations

from pathlib import Path

import pytest

from require_all import pytest_make_collect_report, pytest_runtest_makereport

__all__ = ["pytest_make_collect_report", "pytest_runtest_makereport"]

pytest_plugins = ["pytester"]

TESTS_DIR = Path(__file__).resolve().parent
DATA_DIR = TESTS_DIR / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder of real recordings (see tests/data/SOURCES.md for their attribution)."""
    return DATA_DIR
