"""The test helpers themselves: error detection must see what LibreOffice really stores."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from tests.helpers import CellError, error_cells, is_error, recalc_and_read

# (address, formula or value, what LibreOffice stores)
CASES = [
    ("A1", "=1/0", "#DIV/0!"),
    ("A2", "=NOSUCHFUNC()", "#NAME?"),
    ("A3", "=XLOOKUP(1,B1:B2,C1:C2)", "#NAME?"),  # Excel 365 only: unknown to LibreOffice 7.4
    ("A4", '=VALUE("x")', "#VALUE!"),
    ("A5", "=NA()", "#N/A"),
    ("A6", "=SQRT(-1)", None),  # an error; LibreOffice's Err:502 is exported under an Excel name
    ("A7", "=INDEX(B1:B2,5)", None),  # out of range: #REF! in Excel, Err:502 in LibreOffice
    ("A8", "=#REF!*2", "#REF!"),  # what a deleted row leaves behind
]
NOT_ERRORS = [
    ("A10", "=1+1", 2.0),
    ("A11", "#1 pick of the year", "#1 pick of the year"),  # text that looks like an error
]


@pytest.mark.libreoffice
def test_error_cells_finds_every_libreoffice_error(soffice: str, tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Checks"
    for address, value, _ in CASES + NOT_ERRORS:
        ws[address] = value
    wb.create_sheet("Other")["C3"] = "=Checks!A1*2"  # errors propagate to other sheets
    src = tmp_path / "errors.xlsx"
    wb.save(src)

    [book] = recalc_and_read([src], tmp_path)

    found = error_cells(book)
    assert [f.split(":")[0] for f in found] == [
        *(f"Checks!{address}" for address, _, _ in CASES), "Other!C3"]
    for address, _, stored in CASES:
        value = book.value("Checks", address)
        assert isinstance(value, CellError)
        if stored is not None:
            assert value == stored, address
    assert book.value("Checks", "A10") == 2.0
    assert not is_error(book.value("Checks", "A11"))  # text is not an error, '#' or not
    # Values read by other means (openpyxl data_only gives the error text) are recognised by
    # the exact error names, and LibreOffice's own codes.
    assert is_error("#DIV/0!") and is_error("Err:502") and not is_error("#DIV/0")

    # Why the helper reads errors from the XML: calamine alone gives '' for an error cell,
    # while openpyxl (data_only) reports it with data type "e", the same cells as ours.
    plain = CalamineWorkbook.from_path(str(book.path)).get_sheet_by_name("Checks").to_python(
        skip_empty_area=False)
    assert plain[0][0] == ""
    sheet = openpyxl.load_workbook(book.path, data_only=True)["Checks"]
    assert sorted(c.coordinate for row in sheet.iter_rows() for c in row
                  if c.data_type == "e") == sorted(address for address, _, _ in CASES)
