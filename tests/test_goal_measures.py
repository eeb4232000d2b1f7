"""Measures with numbers: each school goal's indicator (the Dashboard's or the district's own,
from [[indicator]]), baseline and target; validate's findings, and the same problems shown
live by the plan's Check column in LibreOffice and gnumeric."""

from __future__ import annotations

import tomllib
from pathlib import Path

import openpyxl
import pytest

from ssfr_xl import gnumeric
from ssfr_xl.district_book import read_district, write_district
from ssfr_xl.errors import PolicyError
from ssfr_xl.formula import allocate
from ssfr_xl.indicators import DASHBOARD_INDICATORS, indicator_list
from ssfr_xl.layout import SchoolLayout
from ssfr_xl.layout import SchoolSheets as SS
from ssfr_xl.libreoffice import recalculate
from ssfr_xl.model import DistrictInputs, Indicator
from ssfr_xl.policy import load_policy, parse_policy
from ssfr_xl.reader import read_workbook
from ssfr_xl.school_book import build_school_plan, plan_specs
from ssfr_xl.sources import sample_district
from ssfr_xl.sources.demo import demo_plan, fill_plan_workbook
from ssfr_xl.validate import check_plan, district_record
from tests.helpers import read_book
from tests.oracle import assert_plan_matches_python

TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "policy.toml"
OWN = """
[[indicator]]
code = "ATTEND"
name = "Average daily attendance"
direction = "up"
unit = "%"

[[indicator]]
code = "SUSP"
name = "Suspensions per 100 pupils"
direction = "down"
unit = "per 100"
"""


def policy_with(extra: str):
    return parse_policy(tomllib.loads(TEMPLATE.read_text(encoding="utf-8") + extra))


def test_the_district_list_is_the_dashboard_plus_its_own() -> None:
    p = policy_with(OWN).policy
    codes = [i.code for i in indicator_list(p)]
    # SUSP replaced in place (another unit), ATTEND after the Dashboard's six
    assert codes == ["CHRONIC", "SUSP", "ELA", "MATH", "GRAD", "ELPI", "ATTEND"]
    assert indicator_list(p)[1] == Indicator("SUSP", "Suspensions per 100 pupils", "down",
                                             "per 100")
    assert indicator_list(load_policy(None).policy) == DASHBOARD_INDICATORS


@pytest.mark.parametrize(("extra", "message"), [
    ('[[indicator]]\ncode = "X"\ndirection = "sideways"\n',
     "[[indicator]] #1 (X): direction must be \"up\" (higher is better) or \"down\""),
    ('[[indicator]]\ncode = "X"\n[[indicator]]\ncode = "X"\n',
     "indicator code 'X' is listed twice"),
    ('[[indicator]]\ncode = "A*"\n', "indicator code 'A*' must not be empty"),
])
def test_bad_indicators_are_named(extra: str, message: str) -> None:
    with pytest.raises(PolicyError) as e:
        policy_with("\n" + extra)
    assert message in str(e.value)


def test_the_district_workbook_keeps_the_list(tmp_path: Path) -> None:
    pf = policy_with(OWN)
    district, schools = sample_district(2)
    inputs = DistrictInputs(pf.district(district.name, district.cds_code, schools), pf.policy,
                            tuple(schools))
    write_district(tmp_path / "d.xlsx", inputs)
    assert read_district(tmp_path / "d.xlsx").policy.indicators == pf.policy.indicators
    ws = openpyxl.load_workbook(tmp_path / "d.xlsx")["Goals"]
    assert [ws.cell(r, 4).value for r in range(4, 11)] == [
        "CHRONIC", "SUSP", "ELA", "MATH", "GRAD", "ELPI", "ATTEND"]
    ws.cell(6, 6).value = "sideways"  # ELA's "Better is"
    ws.parent.save(tmp_path / "e.xlsx")
    with pytest.raises(Exception) as e:
        read_district(tmp_path / "e.xlsx")
    assert "Goals!F6: 'Better is' must be up or down, not 'sideways'" in str(e.value)


# --- a plan's goals with numbers ------------------------------------------------------------

#: goal index -> (indicator, baseline, target) typed, and what validate must say
CASES = {
    0: ("ELA", -20, -10, None),  # up: -10 is above -20
    1: ("CHRONIC", 15, 18, ("target-direction", "baseline")),  # down: 18 is not below 15
    2: ("ela", 70, 75, ("unknown-indicator", None)),  # codes are exact
    3: ("GRAD", "eighty", None, ("not-a-number", "missing-target")),
    4: (None, 5, None, ("missing-indicator",)),
}


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("measures")
    district, schools = sample_district(2)
    pf = load_policy(None)
    inputs = DistrictInputs(pf.district(district.name, district.cds_code, schools), pf.policy,
                            tuple(schools))
    write_district(tmp / "d.xlsx", inputs)
    inputs = read_district(tmp / "d.xlsx")
    spec = plan_specs(allocate(inputs))[0]
    wb = build_school_plan(spec)
    fill_plan_workbook(wb, spec.policy, demo_plan(spec))
    t = SchoolLayout(spec.policy).goals
    ws = wb[t.sheet]
    for i, (indicator, baseline, target, _f) in CASES.items():
        for key, value in (("school_goal", "A goal"), ("strategy", "What we do"),
                           ("measure", "How we know"), ("indicator", indicator),
                           ("baseline", baseline), ("target", target)):
            ws[t.cell(key, i)] = value
    path = tmp / f"{spec.school.school_id}.xlsx"
    wb.save(path)
    return tmp, inputs, spec, path, t


def test_validate_names_each_goal_cell(plan) -> None:
    tmp, _inputs, spec, path, t = plan
    check = check_plan(read_workbook(path), district_record(tmp / "d.xlsx"))
    found = {(f.code, f.cell): f for f in check.findings if f.sheet == SS.GOALS}
    row = t.first_row
    # goal 2 (row 8): CHRONIC, lower is better, target 18 above baseline 15
    f = found[("target-direction", t.cell("target", 1))]
    assert f.severity == "error"
    assert f.message == (f"Goals & Strategies!{t.cell('target', 1)}: the target 18 is not below "
                         "the baseline 15: for Chronic absenteeism rate lower is better. Type a "
                         "target below the baseline.")
    f = found[("unknown-indicator", t.cell("indicator", 2))]
    assert "'ela' is not one of the district's indicators. Did you mean 'ELA'?" in f.message
    assert ("not-a-number", t.cell("baseline", 3)) in found
    assert ("missing-target", t.cell("target", 3)) in found
    assert ("missing-indicator", t.cell("indicator", 4)) in found
    # the good goal has no finding, and nothing else on the sheet is wrong
    assert not [k for k in found if k[1].endswith(str(row))]
    assert len(found) == 5
    assert check.status == "rejected"
    # the goal entries carry the numbers
    g = check.inputs.goals
    assert (g[0].indicator, g[0].baseline, g[0].target) == ("ELA", -20.0, -10.0)
    assert (g[3].baseline, g[3].target) == (None, None)


@pytest.mark.libreoffice
def test_both_engines_show_the_same_checks(plan, soffice: str) -> None:
    tmp, _inputs, spec, path, t = plan
    grid = read_workbook(path).values
    engines = [("LibreOffice", recalculate([path], tmp / "lo")[0])]
    if gnumeric.missing_tool_reason() is None:
        engines.append(("gnumeric", gnumeric.recalculate([path], tmp / "gn")[0]))
    for engine, out in engines:
        book = read_book(out)
        assert assert_plan_matches_python(book, spec, grid) > 0, engine
        check = [book.value(t.sheet, t.cell("check", i)) for i in range(5)]
        assert check == [
            "OK",
            "Target must be below the baseline (lower is better)",
            "Indicator must be typed exactly as ELA",
            "Type the baseline as a number; Type the target",
            "Choose the indicator of the baseline and target",
        ], engine
        assert [book.value(t.sheet, t.cell("unit", i)) for i in range(5)] == \
            ["points", "%", "", "%", ""], engine
