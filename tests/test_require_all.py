"""The CI switch turns every skip into a failure, and leaves a plain run's skips alone."""

from __future__ import annotations

import pytest

from require_all import SWITCH

SKIPPING = """
import pytest

pytest.importorskip("afterbeat_no_such_part", reason="the part is missing")

def test_needs_the_part() -> None:
    pass
"""
SKIPPING_TEST = """
import pytest

def test_skips() -> None:
    pytest.skip("chromium not found")

@pytest.mark.xfail(strict=True)
def test_known_bug() -> None:
    raise AssertionError
"""


def _run(pytester: pytest.Pytester) -> pytest.RunResult:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makeconftest(
        "from require_all import pytest_make_collect_report, pytest_runtest_makereport\n")
    pytester.makepyfile(test_module_skip=SKIPPING, test_skip=SKIPPING_TEST)
    return pytester.runpytest("-rs", "--continue-on-collection-errors")


def test_without_the_switch_missing_parts_skip_with_their_reason(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SWITCH, raising=False)
    result = _run(pytester)
    result.assert_outcomes(skipped=2, xfailed=1)
    result.stdout.fnmatch_lines(["*the part is missing*", "*chromium not found*"])


def test_with_the_switch_every_skip_fails_and_says_why(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SWITCH, "1")
    result = _run(pytester)
    result.assert_outcomes(failed=1, errors=1, xfailed=1)
    result.stdout.fnmatch_lines([f"*{SWITCH} is set, so this skip fails: the part is missing*"])
    assert result.ret != 0
