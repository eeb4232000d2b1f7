"""Helpers for tests that recalculate workbooks in LibreOffice and compare them with the engine.

    recalc_and_read(paths, tmp_path)   one soffice run for many files; every sheet's values
    read_book(path)                    every sheet's values of one recalculated file
    error_cells(rows_by_sheet)         addresses of error values (#DIV/0!, #NAME?, Err:502 ...)
    assert_no_errors(rows_by_sheet)    the same as an assertion with a readable message
    assert_matches_engine(...)         every Allocations amount and fund total, to the cent
                                       (amounts only: tests/oracle.py compares every computed
                                       cell, and the differential tests use it)
    require_ssconvert()                gnumeric's ssconvert, or fail (CI) / skip

Why errors need their own reading: python-calamine is fast but returns '' for an error cell,
exactly as for an empty one (see tests/test_helpers.py). LibreOffice stores a formula's error as
a cell of type "e" (<c t="e"><v>#DIV/0!</v></c>), which openpyxl (data_only=True) shows as the
error text. Rather than reading every file twice, recalc_and_read reads values with calamine and
then puts the errors back from a scan of the sheet XML for cells of type "e", as CellError
strings, so error_cells cannot mistake a text such as "#1 pick" for an error.
"""

from __future__ import annotations

import math
import os
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

from openpyxl.utils.cell import column_index_from_string, coordinate_from_string
from python_calamine import CalamineWorkbook

from ssfr_xl.formula import AllocationResult
from ssfr_xl.layout import DistrictLayout, cell_address
from ssfr_xl.layout import DistrictSheets as S
from ssfr_xl.libreoffice import recalculate

#: The real data (../shared/data beside the project, or SSFR_XL_DATA): read, never copied.
SHARED_DATA = Path(os.environ.get("SSFR_XL_DATA")
                   or Path(__file__).resolve().parents[1].parent / "shared" / "data")

Rows = list[list[object]]

#: Error values as spreadsheet programs write them (Excel's names; LibreOffice maps to these
#: on .xlsx export but keeps its own Err:5xx codes elsewhere).
ERROR_VALUES = frozenset({
    "#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA",
    "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#UNKNOWN!", "#CONNECT!", "#BUSY!",
})
_LIBREOFFICE_ERROR = re.compile(r"Err:\d{3}")

#: Money agrees when the difference is at most half a cent.
CENT_TOLERANCE = 0.005

_NS = {
    "main": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
}
_R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_ERROR_CELL = re.compile(rb'<c\s([^>]*\bt="e"[^>]*)>(.*?)</c>', re.DOTALL)
_CELL_REF = re.compile(rb'\br="([A-Z]+[0-9]+)"')
_VALUE = re.compile(rb"<v>([^<]*)</v>")


class CellError(str):
    """An error value a spreadsheet program stored in a cell (the text is the error code)."""

    __slots__ = ()


class RecalculatedBook(dict[str, Rows]):
    """Sheet name -> rows (from A1, calamine values with CellError for errors), plus the file."""

    def __init__(self, path: Path, sheets: Mapping[str, Rows]):
        super().__init__(sheets)
        self.path = path

    def value(self, sheet: str, address: str) -> object:
        """The value at an A1 address ('' beyond the sheet's used range)."""
        letters, row = coordinate_from_string(address)
        return cell_value(self[sheet], row, column_index_from_string(letters))


def cell_value(rows: Rows, row: int, col: int) -> object:
    """Value at a 1-based (row, col) of a sheet's rows; '' outside them."""
    if row - 1 < len(rows) and col - 1 < len(rows[row - 1]):
        return rows[row - 1][col - 1]
    return ""


def read_book(path: Path) -> RecalculatedBook:
    """Every sheet's values (calamine) with the workbook's error cells put back as CellError."""
    wb = CalamineWorkbook.from_path(str(path))
    sheets = {name: wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
              for name in wb.sheet_names}
    for name, errors in stored_errors(path).items():
        rows = sheets.setdefault(name, [])
        for (row, col), code in errors.items():
            while len(rows) < row:
                rows.append([])
            line = rows[row - 1]
            if len(line) < col:
                line.extend([""] * (col - len(line)))
            line[col - 1] = CellError(code)
    return RecalculatedBook(Path(path), sheets)


def stored_errors(path: Path) -> dict[str, dict[tuple[int, int], str]]:
    """Cells stored as errors (type "e"), by sheet name: {(row, col): "#DIV/0!"}."""
    found: dict[str, dict[tuple[int, int], str]] = {}
    with zipfile.ZipFile(path) as z:
        for sheet, part in sheet_parts(z).items():
            errors: dict[tuple[int, int], str] = {}
            for m in _ERROR_CELL.finditer(z.read(part)):
                ref = _CELL_REF.search(m.group(1))
                value = _VALUE.search(m.group(2))
                if ref is None:
                    continue
                letters, row = coordinate_from_string(ref.group(1).decode())
                code = value.group(1).decode() if value else "#error"
                errors[(row, column_index_from_string(letters))] = code
            if errors:
                found[sheet] = errors
    return found


def sheet_parts(z: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> zip member of its worksheet XML."""
    workbook = ElementTree.fromstring(z.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels.findall("rel:Relationship", _NS)}
    parts = {}
    for sheet in workbook.findall("main:sheets/main:sheet", _NS):
        target = targets.get(sheet.get(_R_ID), "")
        member = target.lstrip("/") if target.startswith("/") else str(
            PurePosixPath("xl") / target)
        parts[sheet.get("name", "")] = member
    return parts


def recalc_and_read(paths: Sequence[Path], tmp_path: Path) -> list[RecalculatedBook]:
    """Recalculate the workbooks in one LibreOffice run and read every sheet of each result."""
    outputs = recalculate([Path(p) for p in paths], Path(tmp_path) / "recalculated")
    return [read_book(out) for out in outputs]


def is_error(value: object) -> bool:
    """True for a spreadsheet error value (never for ordinary text starting with '#')."""
    if isinstance(value, CellError):
        return True
    return isinstance(value, str) and (
        value in ERROR_VALUES or _LIBREOFFICE_ERROR.fullmatch(value) is not None)


def errors_by_cell(rows_by_sheet: Mapping[str, Rows]) -> list[tuple[str, str, object]]:
    """(sheet, A1 address, error value) of every error value."""
    return [(sheet, cell_address(r, c), value)
            for sheet, rows in rows_by_sheet.items()
            for r, row in enumerate(rows, start=1)
            for c, value in enumerate(row, start=1) if is_error(value)]


def error_cells(rows_by_sheet: Mapping[str, Rows]) -> list[str]:
    """Addresses of every error value, as 'Sheet!A1: #DIV/0!'."""
    return [f"{sheet}!{address}: {value}"
            for sheet, address, value in errors_by_cell(rows_by_sheet)]


def assert_no_errors(rows_by_sheet: Mapping[str, Rows], show: int = 10) -> None:
    """Assert no cell of any sheet holds an error value; name the first ones if some do."""
    found = error_cells(rows_by_sheet)
    if found:
        per_sheet: dict[str, int] = {}
        for f in found:
            sheet = f.split("!")[0]
            per_sheet[sheet] = per_sheet.get(sheet, 0) + 1
        counts = ", ".join(f"{sheet} {n:,}" for sheet, n in per_sheet.items())
        raise AssertionError(f"{len(found):,} error values ({counts}); first:\n  "
                             + "\n  ".join(found[:show]))


def assert_matches_engine(result: AllocationResult, allocations_rows: Rows,
                          layout: DistrictLayout, show: int = 12) -> int:
    """Assert every school x component amount and every school total equals the engine.

    Checks the Allocations sheet's component amounts, per-fund totals, total (all funds) and
    unrestricted total of every school to the cent; returns the number of cells compared.
    """
    t = layout.allocations
    wide = result.by_school()
    checks: list[tuple[str, str, object]] = []  # (column key, label, engine column or fn)
    for r in result.components:
        checks.append((f"amount_{r.component.code}", r.component.code, r.component.code))
    for f in result.inputs.policy.funds:
        checks.append((f"fund_{f.code}", f"fund {f.code}", f"total_{f.code}"))
    mismatches: list[str] = []
    compared = 0
    for i, school in enumerate(result.schools):
        row = t.first_row + i
        shown_id = cell_value(allocations_rows, row, t.col("school_id"))
        if str(shown_id) != school.school_id:
            mismatches.append(f"{S.ALLOCATIONS}!{cell_address(row, t.col('school_id'))}: "
                              f"school {shown_id!r}, engine row {i} is {school.school_id}")
        expected = [(key, label, float(wide[column].iloc[i])) for key, label, column in checks]
        expected.append(("total", "total", result.school_total(i)))
        expected.append(("unrestricted", "unrestricted", result.school_total(i, False)))
        for key, label, engine in expected:
            col = t.col(key)
            got = cell_value(allocations_rows, row, col)
            compared += 1
            ok = (isinstance(got, int | float) and not isinstance(got, bool)
                  and math.isfinite(got) and abs(got - engine) <= CENT_TOLERANCE)
            if not ok:
                mismatches.append(f"{S.ALLOCATIONS}!{cell_address(row, col)} ({label}, "
                                  f"{school.school_id} {school.name}): spreadsheet {got!r}, "
                                  f"engine {engine:,.2f}")
    if mismatches:
        more = f"\n  ... and {len(mismatches) - show} more" if len(mismatches) > show else ""
        raise AssertionError(
            f"{len(mismatches)} of {compared} Allocations cells differ from the engine:\n  "
            + "\n  ".join(mismatches[:show]) + more)
    return compared


def find_label(rows: Rows, label: str, col: int = 1) -> int:
    """1-based row whose cell in `col` starts with `label` (for sheets laid out by label)."""
    for r, row in enumerate(rows, start=1):
        if col - 1 < len(row) and str(row[col - 1]).startswith(label):
            return r
    raise AssertionError(f"no row labelled {label!r}")



def require_ssconvert() -> str:
    """Path of gnumeric's ssconvert; fails with CI set and skips elsewhere when it cannot run
    (as the conftest's `soffice` fixture does for LibreOffice)."""
    import pytest

    from ssfr_xl import gnumeric

    reason = gnumeric.missing_tool_reason()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but gnumeric cannot run: {reason}", pytrace=False)
        pytest.skip(reason)
    path = gnumeric.find_ssconvert()
    assert path is not None
    return path
