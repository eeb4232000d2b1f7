"""Optional Excel integration through xlwings (Windows and macOS).

The workbooks ssfr-xl writes are plain .xlsx with no macros. A budget officer who wants
buttons inside Excel installs the `xlwings` extra and the VBA module in macros/; the buttons
call the functions below, which run the same library code as the command line. On Linux
xlwings cannot drive Excel, so the work is done by plain functions that tests can call.
"""

from __future__ import annotations

from pathlib import Path

from .errors import SsfrError
from .season import allocate_district

REPORT_SHEET = "Engine Check"


def engine_check_rows(district_xlsx: str | Path) -> list[list[str]]:
    """The allocate report as rows for a sheet: one line of text per row."""
    try:
        report, ok = allocate_district(Path(district_xlsx))
    except SsfrError as e:
        return [["Problem"], [str(e)]]
    status = "Agrees with the Python engine" if ok else "DIFFERS from the Python engine"
    return [[status], *[[line] for line in report.splitlines()]]


def check_allocations() -> None:  # pragma: no cover - needs Excel
    """Button: recompute the saved district workbook in Python and show the report in a sheet."""
    import xlwings as xw

    book = xw.Book.caller()
    book.save()
    rows = engine_check_rows(book.fullname)
    sheet = book.sheets[REPORT_SHEET] if REPORT_SHEET in [s.name for s in book.sheets] \
        else book.sheets.add(REPORT_SHEET, after=book.sheets[-1])
    sheet.clear_contents()
    sheet["A1"].value = rows
