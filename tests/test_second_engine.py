"""A second, pure-Python spreadsheet engine (the `formulas` package) computes the district
workbook's formulas and agrees with ssfr-xl's engine to the cent. Slow per formula, so only
small workbooks; LibreOffice covers district scale."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssfr_xl.district_book import write_district
from ssfr_xl.formula import allocate
from ssfr_xl.layout import DistrictLayout
from ssfr_xl.model import DistrictInputs
from ssfr_xl.policy import load_policy
from ssfr_xl.sources.sample import sample_district

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


@pytest.mark.parametrize("n_schools", [4])
def test_formulas_engine_agrees_with_the_python_engine(tmp_path: Path, n_schools: int) -> None:
    inputs = sample_inputs(n_schools)
    path = tmp_path / "small.xlsx"
    write_district(path, inputs)
    cells = computed_cells(path)
    result = allocate(inputs)
    table = DistrictLayout.of(inputs).allocations
    mismatches = []
    for r in result.components:
        for i in range(len(inputs.schools)):
            address = f"'ALLOCATIONS'!{table.cell(f'amount_{r.component.code}', i)}"
            value = cells.get(address)
            if not isinstance(value, int | float) or abs(value - r.amount[i]) > 0.005:
                mismatches.append((address, value, float(r.amount[i])))
    assert mismatches == []
    assert len(result.components) * n_schools > 40
