"""The CI switch: with AFTERBEAT_REQUIRE_ALL=1 every skipped test or module is a failure.

Tests that need a part a plain machine may lack (dbus-python for the BlueZ mock, Debian's
chromium for the page) skip with a one-line reason; `.ci/run` installs every part and sets the
switch, so a part that went missing there fails the run instead of quietly skipping.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

SWITCH = "AFTERBEAT_REQUIRE_ALL"


def required() -> bool:
    """True when the switch is set to anything but empty or 0."""
    return os.environ.get(SWITCH, "") not in ("", "0")


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _fail_if_required(report: pytest.TestReport | pytest.CollectReport) -> None:
    if report.skipped and required() and not hasattr(report, "wasxfail"):
        report.longrepr = f"{SWITCH} is set, so this skip fails: {_skip_reason(report)}"
        report.outcome = "failed"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A skipped test fails under the switch (xfail stays xfail)."""
    report = yield
    _fail_if_required(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """A module skipped at import (a missing part) fails under the switch."""
    report = yield
    _fail_if_required(report)
    return report
