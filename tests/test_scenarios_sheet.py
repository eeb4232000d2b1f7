"""The district workbook's Scenarios sheet: recalculated in LibreOffice and in gnumeric it
agrees with `compare` (compare.py on scenario.apply) to the cent, in every cell of the sheet
and of its working sheets (tests/oracle.py), for a hand-computed district and for a district
with every kind of component, conditions, bands and a transition rule. Its workings are the
district formulas' own declarations, rebound; today's sheets are untouched."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from openpyxl.formula.tokenizer import Token, Tokenizer

from ssfr_xl import gnumeric
from ssfr_xl.compare import compare
from ssfr_xl.district_book import write_district
from ssfr_xl.district_formulas import computed_cells, policy_names
from ssfr_xl.layout import SCENARIO_RESULTS, DistrictLayout
from ssfr_xl.layout import DistrictSheets as S
from ssfr_xl.libreoffice import recalculate
from ssfr_xl.scenario import load_scenario, scenario_from_choices
from ssfr_xl.scenario_formulas import Rebinder
from tests.helpers import cell_value, read_book, require_ssconvert
from tests.oracle import assert_district_matches_engine
from tests.test_mutation import mutation_inputs
from tests.test_scenario import three_schools, write

WORKING = {S.SCENARIOS, *S.SHADOWS.values()}

#: A scenario for the district of every kind: a weight, a threshold, a level amount, a
#: condition's value, a band's rate, the transition's maximum loss; a sixth row that is not
#: read (the sheet offers five), typed as text on purpose in one row.
MANY = [("EL rate", 0.3), ("CONC threshold", 0.5), ("EQM condition 2 value", 0.4),
        ("SWD band High rate", 0.45), ("Transition: maximum loss", 0.01)]


def recalculated(paths: list[Path], tmp_path: Path, soffice: str) -> dict[str, list]:
    """Each workbook recalculated by each engine: engine -> books in order."""
    require_ssconvert()
    return {"libreoffice": [read_book(p) for p in recalculate(paths, tmp_path / "lo")],
            "gnumeric": [read_book(p) for p in gnumeric.recalculate(paths, tmp_path / "gn")]}


@pytest.mark.libreoffice
def test_the_hand_computed_district_in_both_engines(tmp_path: Path, soffice: str) -> None:
    inputs = three_schools()
    choices = [("EL rate", 0.5)]
    path = tmp_path / "three.xlsx"
    write_district(path, inputs, scenario_choices=choices)
    # the same scenario as a file, through compare
    run = compare(inputs, [load_scenario(write(tmp_path, "[component.EL]\nrate = 0.5\n"),
                                         inputs)]).runs[0]
    layout = DistrictLayout.of(inputs)
    t, b = layout.scenario_schools, SCENARIO_RESULTS
    for engine, (book,) in recalculated([path], tmp_path, soffice).items():
        rows = book[S.SCENARIOS]
        column = lambda key, rows=rows: [  # noqa: E731
            cell_value(rows, t.first_row + i, t.col(key)) for i in range(3)]
        # by hand (tests/test_scenario.py): base rate 2,100 -> 2,050; School 1 225,750 ->
        # 235,750; School 2 215,250 unchanged; School 3 420,000 -> 410,000
        assert column("today") == [225_750, 215_250, 420_000], engine
        assert column("scenario") == pytest.approx([235_750, 215_250, 410_000], abs=0.005)
        assert column("scenario") == pytest.approx(run.totals, abs=0.005)
        assert column("change") == pytest.approx([10_000, 0, -10_000], abs=0.005)
        assert column("change_per_pupil") == pytest.approx([100, 0, -50], abs=0.005)
        assert column("result") == ["Winner", "Unchanged", "Loser"], engine
        value = lambda key, rows=rows: cell_value(rows, b.row(key), b.value_col)  # noqa: E731
        assert (value("winners"), value("losers"), value("unchanged")) == (1, 1, 1), engine
        assert value("base_scenario") == pytest.approx(2050.0, rel=1e-12)
        assert value("change") == pytest.approx(0.0, abs=0.005)  # budget neutral
        # every computed cell of the workbook, the Scenarios sheet and its workings included
        assert_district_matches_engine(book, inputs, choices=choices)


@pytest.mark.libreoffice
def test_every_kind_of_parameter_in_both_engines_to_the_cent(tmp_path: Path,
                                                              soffice: str) -> None:
    inputs = mutation_inputs()
    paths = [tmp_path / "many.xlsx", tmp_path / "odd.xlsx"]
    write_district(paths[0], inputs, scenario_choices=MANY)
    # a careless officer: a number typed as text, one chosen twice, one out of range
    odd = [("EL rate", "0.3"), ("CONC threshold", 1.5), ("CONC rate", 2000),
           ("CONC rate", 2500), ("not a parameter", 3)]
    write_district(paths[1], inputs, scenario_choices=odd)
    scenario = scenario_from_choices(inputs, MANY)
    assert len(scenario.values) == 5
    assert scenario_from_choices(inputs, odd).values == {"component.CONC.rate": 2000.0}
    for engine, books in recalculated(paths, tmp_path, soffice).items():
        compared = assert_district_matches_engine(books[0], inputs, choices=MANY)
        assert compared > 2000, engine
        assert_district_matches_engine(books[1], inputs, choices=odd)
        rows = books[0][S.SCENARIOS]
        b = SCENARIO_RESULTS
        changed = cell_value(rows, b.row("winners"), 2) + cell_value(rows, b.row("losers"), 2)
        assert changed > 0, engine


def test_the_oracle_sees_a_scenario_it_was_not_told_about(tmp_path: Path) -> None:
    # the blank-choice expectations differ from a scenario's: the comparison can fail
    from tests.oracle import district_expectations

    inputs = three_schools()
    today = district_expectations(inputs)
    scenario = district_expectations(inputs, choices=[("EL rate", 0.5)])
    layout = DistrictLayout.of(inputs)
    t = layout.scenario_schools
    cell = (S.SCENARIOS, t.first_row, t.col("scenario"))
    assert (today[cell].value, scenario[cell].value) == (225_750.0, 235_750.0)


# --- declared once ------------------------------------------------------------------------------

def _tokenizer_rebind(formula: str, names: dict[str, str]) -> str:
    """The same rebinding done with openpyxl's formula tokenizer (slow, but a parser)."""
    out = []
    for token in Tokenizer(formula).items:
        value = token.value
        if token.type == Token.OPERAND and token.subtype == Token.RANGE:
            sheet, bang, address = value.rpartition("!")
            bare = sheet.strip("'")
            if bang and bare in S.SHADOWS:
                value = f"'{S.SHADOWS[bare]}'!{address}"
            elif not bang and value in names:
                value = names[value]
        out.append(value)
    return "=" + "".join(out)


@pytest.mark.parametrize("which", ["three", "every kind"])
def test_the_workings_are_the_declarations_rebound(which: str) -> None:
    inputs = three_schools() if which == "three" else mutation_inputs()
    layout = DistrictLayout.of(inputs)
    cells = list(computed_cells(inputs, layout))
    today = {(s, r, c): v for s, r, c, v in cells if s not in WORKING}
    working = {(s, r, c): v for s, r, c, v in cells if s in WORKING}
    rebind = Rebinder(policy_names(layout))
    # every computed cell of Policy, Calculation and Allocations has its working copy, the
    # same formula rebound (a parser agrees with the rebinding)
    shadowed = 0
    for (sheet, row, col), formula in today.items():
        if sheet not in S.SHADOWS:
            continue
        copy = working[(S.SHADOWS[sheet], row, col)]
        if isinstance(formula, str):
            assert copy == rebind(formula) == _tokenizer_rebind(formula, rebind.names)
            shadowed += 1
        else:
            assert copy == formula
    assert shadowed > 100
    # today's formulas never read the scenario: the sheet changes no existing number
    for formula in today.values():
        if isinstance(formula, str):
            assert "Scenario" not in formula, formula
    # a working formula reads today's Policy only in the cells that show today's inputs
    policy_reads = [(k, v) for k, v in working.items()
                    if isinstance(v, str) and re.search(r"'Policy'!", v)]
    assert all(k[0] in (S.SCENARIO_POLICY, S.SCENARIOS) for k, _v in policy_reads)


def test_choices_typed_at_build_are_inputs_the_check_accepts(tmp_path: Path) -> None:
    from ssfr_xl.district_check import check_formulas
    from ssfr_xl.district_reader import read_district

    path = tmp_path / "d.xlsx"
    write_district(path, three_schools(), scenario_choices=[("EL rate", 0.5), ("Budget", "=1+1")])
    check = check_formulas(path, read_district(path))
    assert check.errors == [] and check.findings == [], check.findings
    assert check.compared == check.expected > 0


def test_a_workbook_made_before_the_scenarios_sheet_still_checks(tmp_path: Path) -> None:
    import openpyxl

    from ssfr_xl.district_check import check_formulas
    from ssfr_xl.district_reader import read_district

    path = tmp_path / "d.xlsx"
    write_district(path, three_schools())
    wb = openpyxl.load_workbook(path)
    for sheet in WORKING:
        del wb[sheet]
    for name in [n for n in wb.defined_names if n.startswith(("Scenario_", "List_Scenario"))]:
        del wb.defined_names[name]
    older = tmp_path / "older.xlsx"
    wb.save(older)
    check = check_formulas(older, read_district(older))
    assert check.ok, (check.errors, check.findings[:3])
    assert check.notes == ["the workbook has no Scenarios sheet (it was made by an earlier "
                           "ssfr-xl); run ssfr-xl export and init again to add one"]
    # one sheet removed is a change, not an older workbook
    wb = openpyxl.load_workbook(path)
    del wb[S.SCENARIO_CALCULATION]
    wb.save(older)
    check = check_formulas(older, read_district(older))
    assert not check.ok and any("Scenario Calculation is missing" in e for e in check.errors)
