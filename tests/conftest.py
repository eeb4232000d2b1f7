"""Shared pytest fixtures, one section per topic."""

from __future__ import annotations

import importlib
import os

import pytest

from ssfr_xl.libreoffice import find_soffice, missing_tool_reason

pytest_plugins = ["pytester"]

# --- LibreOffice --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def soffice() -> str:
    """Path of soffice; errors on CI (CI is set) and skips elsewhere when it cannot run."""
    reason = missing_tool_reason()
    if reason is not None:
        # CI must prove the workbooks in a real spreadsheet engine, so silence is not an option.
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but LibreOffice cannot run: {reason}", pytrace=False)
        pytest.skip(reason)
    path = find_soffice()
    assert path is not None
    return path


# --- the real data: skipped on a fresh clone, required in CI --------------------------------


#: With CI set, a test marked shared_data that skips (../shared/data is missing) fails, in
#: pytest_runtest_makereport below: CI must prove ssfr-xl on the real California data.


# --- internal errors are never disguised ----------------------------------------------------
#
# Every `internal-error` finding (an exception inside the checks) and every internal failure
# of the command line is appended, by ssfr_xl.consolidate.report_internal_error, to the file
# named by SSFR_XL_INTERNAL_ERROR_LOG, in this process and in the `ssfr-xl` processes the
# tests start. Any such report fails the test that was running (or that first used the
# module fixture that ran it), unless the test takes them with the `internal_errors` fixture.

_LOG_READ = 0


def pytest_configure(config: pytest.Config) -> None:
    import tempfile

    consolidate = importlib.import_module("ssfr_xl.consolidate")
    log = os.path.join(tempfile.mkdtemp(prefix="ssfr-xl-internal-"), "internal-errors.jsonl")
    open(log, "w").close()
    os.environ[consolidate.INTERNAL_ERROR_LOG] = log
    config.addinivalue_line("markers", "internal_errors: the test takes internal errors")


def _pending_internal_errors() -> list[dict[str, str]]:
    """Internal errors reported since the last call (in this process and in subprocesses)."""
    import json

    consolidate = importlib.import_module("ssfr_xl.consolidate")
    global _LOG_READ
    found = []
    log = os.environ.get(consolidate.INTERNAL_ERROR_LOG)
    if log and os.path.exists(log):
        with open(log, "rb") as fh:
            fh.seek(_LOG_READ)
            data = fh.read()
        _LOG_READ += len(data)
        found += [json.loads(line) for line in data.decode("utf-8").splitlines() if line]
    return found


class InternalErrors:
    """What a test that provokes internal errors on purpose uses to take them."""

    def take(self) -> list[dict[str, str]]:
        """The internal errors reported so far in this test (they then fail nothing)."""
        return _pending_internal_errors()


@pytest.fixture
def internal_errors() -> InternalErrors:
    """Take the internal errors a test provokes on purpose: `internal_errors.take()`."""
    return InternalErrors()


def _internal_errors_message(found: list[dict[str, str]]) -> str:
    shown = "\n".join(f"  {f.get('file')}: {f.get('message')}" for f in found[:10])
    return f"{len(found)} internal error(s) were reported during this test:\n{shown}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """A test whose run (or whose module fixtures) reported an internal error fails; with CI
    set, so does a test of the real data that skips because the data is missing."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI") and item.get_closest_marker("shared_data"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"CI is set but the real data is missing: {reason}"
    if call.when == "call":
        found = _pending_internal_errors()
        if found:
            report.outcome = "failed"
            report.longrepr = _internal_errors_message(found)


@pytest.fixture(autouse=True)
def _fail_on_internal_errors() -> object:
    """Every test: any internal error not taken (see `internal_errors`) fails it."""
    yield
    found = _pending_internal_errors()
    if found:  # reported after the test body, while tearing down
        pytest.fail(_internal_errors_message(found), pytrace=False)
