"""A third, pure-Python spreadsheet engine (the `formulas` package) computes the district
workbook's formulas and agrees with ssfr-xl's engine in every computed cell (tests/oracle.py,
the differential tests' oracle). Slow per formula, so only small workbooks; LibreOffice and
gnumeric cover district scale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

from ssfr_xl.district_book import write_district
from ssfr_xl.layout import DistrictSheets as S
from ssfr_xl.model import DistrictInputs
from ssfr_xl.policy import load_policy
from ssfr_xl.sources.sample import sample_district
from tests.helpers import CellError
from tests.oracle import assert_district_matches_engine

formulas = pytest.importorskip("formulas", reason="the `formulas` test extra is not installed")


def sample_inputs(n: int) -> DistrictInputs:
    """The sample district with the shipped policy."""
    info, schools = sample_district(n)
    policy = load_policy()
    return DistrictInputs(policy.district(info.name, info.cds_code, schools), policy.policy,
                          tuple(schools))


def computed_cells(path: Path) -> dict[str, object]:
    """Every cell value the formulas engine computes, by upper-case 'SHEET'!A1 address."""
    solution = formulas.ExcelModel().loads(str(path)).finish().calculate()
    prefix = f"'[{path.name}]".upper()
    return {key.upper().replace(prefix, "'"): value.value[0][0]
            for key, value in solution.items() if hasattr(value, "value")}


def engine_book(path: Path, cells: dict[str, object]) -> dict[str, list[list[object]]]:
    """The formulas engine's values as a recalculated workbook: sheet name -> rows from A1,
    empty cells as "", numpy numbers as Python numbers, error values as CellError."""
    from formulas.tokens.operand import XlError

    names = {name.upper(): name for name in S.ORDER}
    book: dict[str, list[list[object]]] = {}
    for key, value in cells.items():
        sheet, _, address = key.rpartition("!")
        name = names.get(sheet.strip("'"))
        if name is None or ":" in address:
            continue
        letters, row = coordinate_from_string(address)
        col = column_index_from_string(letters)
        if isinstance(value, XlError):
            value = CellError(str(value))
        elif isinstance(value, np.generic):
            value = value.item()
        elif not isinstance(value, str | int | float | bool):
            value = ""  # the engine's empty token
        rows = book.setdefault(name, [])
        rows.extend([] for _ in range(row - len(rows)))
        line = rows[row - 1]
        line.extend("" for _ in range(col - len(line)))
        line[col - 1] = value
    return book


@pytest.mark.parametrize("n_schools", [4])
def test_formulas_engine_agrees_with_the_python_engine(tmp_path: Path, n_schools: int) -> None:
    # every computed cell, not only the amounts: the oracle of the differential tests
    inputs = sample_inputs(n_schools)
    path = tmp_path / "small.xlsx"
    write_district(path, inputs)
    compared = assert_district_matches_engine(engine_book(path, computed_cells(path)), inputs)
    assert compared > len(inputs.policy.components) * n_schools * 2
