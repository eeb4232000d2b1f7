"""Headless LibreOffice as the independent engine: recalculation and typing like a person."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.styles import Protection
from openpyxl.workbook.defined_name import DefinedName

from ssfr_xl.errors import FileError, WorkbookError
from ssfr_xl.libreoffice import recalculate, type_into, type_into_many

pytestmark = pytest.mark.libreoffice


def values(path: Path, sheet: str) -> dict[str, object]:
    """Cached values of a sheet by A1 address, as a reader of the file sees them."""
    ws = openpyxl.load_workbook(path, data_only=True)[sheet]
    return {c.coordinate: c.value for row in ws.iter_rows() for c in row if c.value is not None}


def set_cached_value(path: Path, out: Path, address: str, value: str) -> None:
    """Copy the workbook, overwriting one cell's stored value in the first sheet's XML."""
    cell = re.compile(rf'(<c r="{address}"[^>]*>(?:<f[^>]*>[^<]*</f>)?<v>)[^<]*(</v>)')
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data, n = cell.subn(rf"\g<1>{value}\g<2>", data.decode())
                assert n == 1, f"{address} has no stored value"
            dst.writestr(item, data)


def budget_workbook(path: Path, enrollment: int = 400) -> Path:
    """A protected two-sheet workbook whose formulas openpyxl writes without cached values."""
    wb = openpyxl.Workbook()
    inputs = wb.active
    inputs.title = "Inputs"
    inputs["A1"], inputs["B1"] = "Enrollment", enrollment
    inputs["A3"] = "Middle"
    for input_cell in ("B1", "A3"):
        inputs[input_cell].protection = Protection(locked=False)
    inputs.protection.sheet = True  # no password, as in the school plan templates
    rates = wb.create_sheet("Rates")
    for row, (level, rate) in enumerate([("Elementary", 100), ("Middle", 120), ("High", 150)], 1):
        rates.cell(row, 1, level)
        rates.cell(row, 2, rate)
    wb.defined_names["Enrollment"] = DefinedName("Enrollment", attr_text="Inputs!$B$1")
    wb.defined_names["RateTable"] = DefinedName("RateTable", attr_text="Rates!$A$1:$B$3")
    inputs["B3"] = "=INDEX(Rates!$B$1:$B$3,MATCH(A3,Rates!$A$1:$A$3,0))"
    inputs["B4"] = "=Enrollment*B3"
    inputs["B5"] = "=SUM(Rates!B1:B3)"
    inputs["B6"] = '=SUMIF(Rates!A1:A3,"<>Middle",Rates!B1:B3)'
    inputs["B7"] = '=IF(Enrollment>300,"large","small")'
    inputs["B8"] = "=MIN(Rates!B1:B3)"
    inputs["B9"] = "=MAX(Rates!B1:B3)"
    inputs["B10"] = '=VLOOKUP("High",RateTable,2,FALSE)'
    inputs["B11"] = "=ROUND(2.675,2)"
    inputs["B12"] = "=ROUND(-2.5,0)"
    inputs["B13"] = "=ROUND(Enrollment/3,2)"
    inputs["B14"] = "=B4>40000"
    inputs["B15"] = "=1/0"
    wb.save(path)
    return path


def test_recalculates_formulas_openpyxl_wrote(soffice: str, tmp_path: Path) -> None:
    src = budget_workbook(tmp_path / "budget.xlsx")
    assert "B4" not in values(src, "Inputs")  # openpyxl stores no results

    [out] = recalculate([src], tmp_path / "out")

    assert out == tmp_path / "out" / "budget.xlsx"
    got = values(out, "Inputs")
    assert got["B3"] == 120  # INDEX/MATCH
    assert got["B4"] == 48000  # defined name
    assert got["B5"] == 370
    assert got["B6"] == 250
    assert got["B7"] == "large"
    assert (got["B8"], got["B9"], got["B10"]) == (100, 150, 150)
    # ROUND is half away from zero on the decimal value, not on the binary double
    # (2.675 is stored as 2.67499999...): what Excel shows, unlike Python's round().
    assert got["B11"] == 2.68
    assert got["B12"] == -3
    assert got["B13"] == 133.33
    assert got["B14"] is True  # booleans come back as booleans (t="b")
    assert got["B15"] == "#DIV/0!"  # errors come back as their text (t="e")


def test_round_trip_keeps_names_protection_and_unlocked_cells(soffice: str, tmp_path: Path) -> None:
    [out] = recalculate([budget_workbook(tmp_path / "budget.xlsx")], tmp_path / "out")

    wb = openpyxl.load_workbook(out)
    assert wb.defined_names["Enrollment"].attr_text == "Inputs!$B$1"
    assert wb.defined_names["RateTable"].attr_text == "Rates!$A$1:$B$3"
    assert wb["Inputs"].protection.sheet
    assert wb["Inputs"]["B1"].protection.locked is False
    assert wb["Inputs"]["B4"].protection.locked is True
    assert wb["Inputs"]["B4"].value == "=Enrollment*B3"  # formulas stay formulas


def test_stale_cached_values_are_replaced(soffice: str, tmp_path: Path) -> None:
    [fresh] = recalculate([budget_workbook(tmp_path / "budget.xlsx")], tmp_path / "fresh")
    stale = tmp_path / "stale.xlsx"
    # Enrollment 400 -> 1000 in the file, leaving every dependent result as it was.
    set_cached_value(fresh, stale, "B1", "1000")
    assert values(stale, "Inputs")["B4"] == 48000

    [out] = recalculate([stale], tmp_path / "out")

    got = values(out, "Inputs")
    assert (got["B1"], got["B4"], got["B13"]) == (1000, 120000, 333.33)


def test_type_into_unlocked_cell_of_protected_sheet(soffice: str, tmp_path: Path) -> None:
    src = budget_workbook(tmp_path / "budget.xlsx")

    out = type_into(src, {("Inputs", "B1"): 250, ("Inputs", "A3"): "High"}, tmp_path / "typed.xlsx")

    got = values(out, "Inputs")
    assert (got["B1"], got["B3"], got["B4"], got["B7"]) == (250, 150, 37500, "small")
    wb = openpyxl.load_workbook(out)
    assert wb["Inputs"].protection.sheet
    assert wb["Inputs"]["B1"].protection.locked is False


def test_type_into_enters_formulas_in_xlsx_syntax(soffice: str, tmp_path: Path) -> None:
    src = budget_workbook(tmp_path / "budget.xlsx")

    out = type_into(
        src,
        {("Inputs", "B1"): "=SUM(Rates!B1:B3,30)", ("Rates", "C1"): "=ROUND(Enrollment/7,1)"},
        tmp_path / "typed.xlsx",
    )

    assert values(out, "Inputs")["B4"] == 400 * 120
    assert values(out, "Rates")["C1"] == 57.1
    assert openpyxl.load_workbook(out)["Inputs"]["B1"].value == "=SUM(Rates!B1:B3,30)"


def test_type_into_refuses_locked_cells_like_a_person(soffice: str, tmp_path: Path) -> None:
    src = budget_workbook(tmp_path / "budget.xlsx")

    with pytest.raises(WorkbookError, match=r"Inputs!B4 is locked"):
        type_into(src, {("Inputs", "B4"): 1}, tmp_path / "typed.xlsx")
    with pytest.raises(WorkbookError, match="no sheet named 'Nope'"):
        type_into(src, {("Nope", "A1"): 1}, tmp_path / "typed.xlsx")


def test_batch_with_duplicate_file_names(soffice: str, tmp_path: Path) -> None:
    sources = []
    for n, enrollment in enumerate([100, 200, 300]):
        (tmp_path / f"school{n}").mkdir()
        sources.append(budget_workbook(tmp_path / f"school{n}" / "plan.xlsx", enrollment))
    sources.append(budget_workbook(tmp_path / "other.xlsx", 400))

    outs = recalculate(sources, tmp_path / "out")

    assert [p.name for p in outs] == ["plan.xlsx", "plan-2.xlsx", "plan-3.xlsx", "other.xlsx"]
    assert [values(p, "Inputs")["B4"] for p in outs] == [12000, 24000, 36000, 48000]

    typed = type_into_many(
        [
            (src, {("Inputs", "B1"): 10 * n}, tmp_path / f"typed{n}.xlsx")
            for n, src in enumerate(sources[:3], 1)
        ]
    )
    assert [values(p, "Inputs")["B4"] for p in typed] == [1200, 2400, 3600]


def test_errors_are_file_errors(soffice: str, tmp_path: Path) -> None:
    with pytest.raises(FileError, match="no such file"):
        recalculate([tmp_path / "missing.xlsx"], tmp_path / "out")
    not_a_workbook = tmp_path / "broken.xlsx"
    not_a_workbook.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(FileError, match="did not convert"):
        recalculate([not_a_workbook], tmp_path / "out")
    with pytest.raises(FileError, match="longer than"):
        recalculate([budget_workbook(tmp_path / "budget.xlsx")], tmp_path / "out", timeout=0.01)
