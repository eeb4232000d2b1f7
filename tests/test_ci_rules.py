"""What CI must not let pass silently: a test of the real data that skips for want of it."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py").read_text(encoding="utf-8")
SKIPPING = """
import pytest

@pytest.mark.shared_data
def test_reads_the_real_data():
    pytest.skip("real CDE data not found: /nowhere/cupc2425-k12.xlsx")

def test_other_skips_stay_skips():
    pytest.skip("not this platform")
"""


def test_missing_real_data_fails_in_ci(pytester: pytest.Pytester,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\nmarkers =\n    shared_data: reads ../shared/data\n")
    pytester.makepyfile(SKIPPING)
    monkeypatch.setenv("CI", "1")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*CI is set but the real data is missing*"])


def test_missing_real_data_skips_on_a_fresh_clone(pytester: pytest.Pytester,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\nmarkers =\n    shared_data: reads ../shared/data\n")
    pytester.makepyfile(SKIPPING)
    monkeypatch.delenv("CI", raising=False)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(skipped=2)
