"""Real districts from CDE's CALPADS UPC files, built and checked through the command line.

Pasadena Unified (about 23 district-run schools) and Los Angeles Unified (about 730, the scale
test) are built with `ssfr-xl init --cde cupc2425 --prior cupc2324`, recalculated together in
one LibreOffice run, and checked: no error value anywhere, `ssfr-xl allocate --csv` amounts
equal LibreOffice's Allocations cells for every school and component to the cent, and
`ssfr-xl allocate` on the recalculated file agrees with the values it holds.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

import pytest
from click.testing import CliRunner, Result

from ssfr_xl.cli import cli
from ssfr_xl.district_book import read_district
from ssfr_xl.layout import DistrictLayout
from ssfr_xl.layout import DistrictSheets as S
from ssfr_xl.model import DistrictInputs
from tests.helpers import (
    CENT_TOLERANCE,
    SHARED_DATA,
    RecalculatedBook,
    assert_no_errors,
    cell_value,
    error_cells,
    recalc_and_read,
)

pytestmark = [pytest.mark.libreoffice, pytest.mark.shared_data]

DATA = SHARED_DATA / "cde"
CURRENT, PRIOR = DATA / "cupc2425-k12.xlsx", DATA / "cupc2324-k12.xlsx"
DISTRICTS = {"64881": "Pasadena Unified", "64733": "Los Angeles Unified"}
AMOUNT = re.compile(r"-?\d+\.\d\d")  # the CSV's amounts: a plain number with two decimals


@dataclass
class Built:
    """A district built by `ssfr-xl init`, recalculated by LibreOffice, re-checked by allocate."""

    code: str
    init: Result
    book: RecalculatedBook  # LibreOffice's recalculated workbook and its values
    inputs: DistrictInputs  # read back from the recalculated workbook
    allocate: Result  # `ssfr-xl allocate RECALCULATED --csv FILE`
    csv_rows: list[dict[str, str]]


def invoke(*args: str) -> Result:
    """Run the CLI in-process; any exception other than a clean exit fails the test."""
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.fixture(scope="module")
def built(soffice: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    """Both districts: init each, recalculate both in one soffice run, allocate each."""
    missing = [p for p in (CURRENT, PRIOR) if not p.is_file()]
    if missing:
        pytest.skip(f"real CDE data not found: {', '.join(map(str, missing))}")
    tmp = tmp_path_factory.mktemp("real")
    inits = {}
    for code in DISTRICTS:
        inits[code] = invoke("init", tmp / f"{code}.xlsx", "--cde", CURRENT, "--district", code,
                             "--prior", PRIOR)
        assert inits[code].exit_code == 0, inits[code].output
    books = recalc_and_read([tmp / f"{code}.xlsx" for code in DISTRICTS], tmp)
    out = {}
    for code, book in zip(DISTRICTS, books, strict=True):
        csv_path = tmp / f"{code}.csv"
        result = invoke("allocate", book.path, "--csv", csv_path)
        with csv_path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        out[code] = Built(code, inits[code], book, read_district(book.path), result, rows)
    return out


@pytest.mark.parametrize("code", DISTRICTS)
def test_init_reports_the_district(built: dict[str, Built], code: str) -> None:
    output = built[code].init.output
    assert DISTRICTS[code] in output
    assert "Prior-year allocations" in output
    n = len(built[code].inputs.schools)
    assert f"{n:,} schools" in output
    assert n >= (20 if code == "64881" else 500)


@pytest.mark.parametrize("code", DISTRICTS)
def test_no_error_values(built: dict[str, Built], code: str) -> None:
    assert_no_errors(built[code].book)


@pytest.mark.parametrize("code", DISTRICTS)
def test_allocate_csv_equals_libreoffice_to_the_cent(built: dict[str, Built], code: str) -> None:
    b = built[code]
    layout = DistrictLayout.of(b.inputs)
    t, rows = layout.allocations, b.book[S.ALLOCATIONS]
    amounts = {(r["school_id"], r["component"]): r["amount"] for r in b.csv_rows}
    components = b.inputs.policy.components
    assert len(b.csv_rows) == len(amounts) == len(b.inputs.schools) * len(components)
    mismatches = []
    for i, school in enumerate(b.inputs.schools):
        row = t.first_row + i
        assert cell_value(rows, row, t.col("school_id")) == school.school_id
        for c in components:
            col = t.col(f"amount_{c.code}")
            shown = cell_value(rows, row, col)
            text = amounts[(school.school_id, c.code)]
            ok = (AMOUNT.fullmatch(text) is not None and isinstance(shown, float)
                  and abs(shown - float(text)) <= CENT_TOLERANCE)
            if not ok:
                mismatches.append(f"{S.ALLOCATIONS}!{t.cell(f'amount_{c.code}', i)} "
                                  f"({school.school_id}, {c.code}): LibreOffice {shown!r}, "
                                  f"CSV {text!r}")
    assert mismatches == [], f"{len(mismatches)} differ:\n" + "\n".join(mismatches[:10])


@pytest.mark.parametrize("code", DISTRICTS)
def test_allocate_agrees_with_the_recalculated_file(built: dict[str, Built], code: str) -> None:
    b = built[code]
    assert b.allocate.exit_code == 0, b.allocate.output
    match = re.search(r"agree with the engine to the cent \(([\d,]+) cells\)", b.allocate.output)
    assert match, b.allocate.output
    policy = b.inputs.policy
    expected = len(b.inputs.schools) * (len(policy.components) + len(policy.funds))
    compared = int(match.group(1).replace(",", ""))
    assert compared == expected, (
        f"allocate compared {compared:,} of the {expected:,} amount and fund cells; the others "
        f"were skipped (LibreOffice stored {len(error_cells(b.book)):,} error values)")


@pytest.mark.parametrize("code", DISTRICTS)
def test_explanations_never_contradict_the_amounts(built: dict[str, Built], code: str) -> None:
    # Each plan's Allocation sheet says, per component, how the amount came about; the
    # transition line states what the school actually gets. When the floor cannot be paid,
    # init's report says so and names the choices.
    from ssfr_xl.explain import allocation_lines
    from ssfr_xl.formula import allocate
    from ssfr_xl.money import format_money

    result = allocate(built[code].inputs)
    t = result.transition
    for i, school in enumerate(result.schools):
        for line in allocation_lines(result, i):
            if line.amount and line.code != "TRANS":
                assert format_money(line.amount) in line.math, (school.school_id, line)
        trans = next(li for li in allocation_lines(result, i) if li.code == "TRANS")
        if t.prior[i] > 0:
            gets = format_money(float(t.formula_total[i]) + float(t.amounts[i]))
            assert f"the school gets {gets}" in trans.math, (school.school_id, trans.math)
            if i in t.below_floor():
                assert "more than the" in trans.math and "maximum loss" in trans.math
            else:
                assert "more than the" not in trans.math
    if not t.kept:
        output = built[code].init.output
        assert "Transition promise not kept" in output and "Choices:" in output
        assert f"{len(t.below_floor())} school(s) lose more than" in output
