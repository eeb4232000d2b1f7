"""Shared pytest fixtures, one section per topic."""

from __future__ import annotations

import os

import pytest

from ssfr_xl.libreoffice import find_soffice, missing_tool_reason

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
