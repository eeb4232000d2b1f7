"""What a careless or hostile budget officer does to the real-formula features, and what
ssfr-xl must do about it (found by a red-team pass; each test is one finding)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest

from ssfr_xl.district_book import read_district, write_district
from ssfr_xl.district_check import check_formulas
from ssfr_xl.errors import PolicyError, RosterError, WorkbookError
from ssfr_xl.layout import DistrictLayout
from ssfr_xl.layout import DistrictSheets as S
from ssfr_xl.model import Adjustment
from ssfr_xl.policy import parse_policy
from ssfr_xl.sources import read_roster_csv
from tests.test_district_book import sample_inputs
from tests.test_policy import minimal


def written(tmp_path: Path, inputs=None) -> tuple[Path, object]:
    inputs = inputs or replace(sample_inputs(5), adjustments=(
        Adjustment(sample_inputs(5).schools[1].school_id, "ADJ", 1500.0, "Hold harmless"),))
    path = tmp_path / "d.xlsx"
    write_district(path, inputs)
    return path, inputs


def edited(path: Path, edits: dict[tuple[str, str], object]) -> Path:
    wb = openpyxl.load_workbook(path)
    for (sheet, ref), value in edits.items():
        if sheet in wb.sheetnames:
            wb[sheet][ref] = value
        else:  # a defined name
            dest_sheet, dest = next(iter(wb.defined_names[sheet].destinations))
            wb[dest_sheet][dest.replace("$", "")] = value
    out = path.with_name("edited.xlsx")
    wb.save(out)
    return out


@pytest.mark.parametrize("name, value", [
    ("Base_Rate_Mode", "fixed "), ("Transition_Mode", " reserve"), ("Unit_POV", "weight "),
    ("Round_FOUND", "dollar "), ("Fund_POV", "GEN "), ("InBudget_ADJ", "Yes "),
])
def test_a_keyword_typed_with_a_space_is_refused_at_its_cell(tmp_path: Path, name: str,
                                                             value: str) -> None:
    # The spreadsheet sees "fixed " as another word; reading it as "fixed" would compute
    # something other than the workbook shows.
    path, _ = written(tmp_path)
    with pytest.raises(WorkbookError, match="has a space at either end") as e:
        read_district(edited(path, {(name, ""): value}))
    assert "delete the space" in str(e.value)


def test_a_school_level_or_flag_with_a_space_is_refused(tmp_path: Path) -> None:
    path, inputs = written(tmp_path)
    t = DistrictLayout.of(inputs).schools
    with pytest.raises(WorkbookError, match=rf"Schools!{t.cell('level', 2)} \(level\)"):
        read_district(edited(path, {(S.SCHOOLS, t.cell("level", 2)): "Elementary "}))


def test_lines_added_to_the_adjustments_table_are_not_formula_changes(tmp_path: Path) -> None:
    path, inputs = written(tmp_path)
    t = DistrictLayout.of(inputs).adjustments
    school = inputs.schools[3].school_id
    out = edited(path, {(S.ADJUSTMENTS, t.cell("school_id", 1)): school,
                        (S.ADJUSTMENTS, t.cell("component", 1)): "ADJ",
                        (S.ADJUSTMENTS, t.cell("amount", 1)): -250.0,
                        (S.ADJUSTMENTS, t.cell("reason", 1)): "Other"})
    back = read_district(out)
    assert len(back.adjustments) == 2
    check = check_formulas(out, back)
    assert check.ok, [str(f) for f in check.findings[:5]]
    out = edited(path, {(S.ADJUSTMENTS, t.cell(k, 0)): None
                        for k in ("school_id", "component", "amount", "reason")})
    back = read_district(out)
    assert back.adjustments == () and check_formulas(out, back).ok


def test_a_line_below_the_adjustments_table_is_named(tmp_path: Path) -> None:
    path, inputs = written(tmp_path)
    t = DistrictLayout.of(inputs).adjustments
    below = t.last_row + 1
    with pytest.raises(WorkbookError, match=rf"Adjustments!A{below}: a line was typed below"):
        read_district(edited(path, {(S.ADJUSTMENTS, f"A{below}"): inputs.schools[0].school_id,
                                    (S.ADJUSTMENTS, f"C{below}"): 99_999}))


@pytest.mark.parametrize("school_id, problem", [
    ("S*", "holds \\* \\? or ~"), ("0199999600002?", "holds \\* \\? or ~"),
    (None, "type the school ID"),
])
def test_adjustment_ids_that_spreadsheets_read_as_patterns_are_refused(
        tmp_path: Path, school_id: object, problem: str) -> None:
    path, inputs = written(tmp_path)
    t = DistrictLayout.of(inputs).adjustments
    with pytest.raises(WorkbookError, match=problem):
        read_district(edited(path, {(S.ADJUSTMENTS, t.cell("school_id", 0)): school_id}))


def test_an_adjustment_without_a_reason_is_refused_where_the_csv_refuses_it(
        tmp_path: Path) -> None:
    path, inputs = written(tmp_path)
    t = DistrictLayout.of(inputs).adjustments
    with pytest.raises(WorkbookError, match="say why the school gets this line"):
        read_district(edited(path, {(S.ADJUSTMENTS, t.cell("reason", 0)): None}))


def test_school_ids_equal_but_for_case_are_one_school(tmp_path: Path) -> None:
    from tests.test_sources_roster import row, write

    with pytest.raises(RosterError, match="upper and lower case count as the same"):
        read_roster_csv(write(tmp_path, row(school_id="ab1"), row(school_id="AB1")))


def test_a_control_character_in_the_roster_is_named(tmp_path: Path) -> None:
    from tests.test_sources_roster import row, write

    with pytest.raises(RosterError, match="column 'school_name': holds the character U\\+0001"):
        read_roster_csv(write(tmp_path, row(school_name="Lincoln\x01 Elementary")))


def test_a_character_no_workbook_can_hold_is_refused_in_the_policy() -> None:
    data = minimal()
    data["component"][0]["note"] = "base \uffff"
    with pytest.raises(PolicyError, match="U\\+FFFF"):
        parse_policy(data, "test.toml")


def test_overlapping_grade_bands_are_refused() -> None:
    data = minimal()
    data["component"].append({"code": "ARTS", "kind": "per_pupil", "fund": "GEN",
                              "basis": ["enrollment"], "band": [
                                  {"label": "TK-5", "first_grade": "TK", "last_grade": "5",
                                   "rate": 10},
                                  {"label": "3-8", "first_grade": "3", "last_grade": "8",
                                   "rate": 20}]})
    with pytest.raises(PolicyError, match="bands TK-5 and 3-8 share grades"):
        parse_policy(data, "test.toml")


def test_a_component_name_that_looks_like_a_formula_stays_text(tmp_path: Path) -> None:
    inputs = sample_inputs(4)
    comps = tuple(replace(c, name='=HYPERLINK("http://e","n")') if c.code == "POV" else c
                  for c in inputs.policy.components)
    inputs = replace(inputs, policy=replace(inputs.policy, components=comps))
    path, _ = written(tmp_path, inputs)
    ws = openpyxl.load_workbook(path)[S.ALLOCATIONS]
    t = DistrictLayout.of(inputs).allocations
    cell = ws.cell(row=t.header_row, column=t.col("amount_POV"))
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")
    assert check_formulas(path, read_district(path)).ok


def test_more_positions_than_staffing_lines_are_refused_not_cut(tmp_path: Path) -> None:
    from ssfr_xl.layout import STAFFING_LINES
    from ssfr_xl.sources.positions import read_positions_csv

    inputs = sample_inputs(3)
    school = inputs.schools[0].school_id
    rows = "".join(f"{school},TCH,1.0,GEN,G1,Room {i}\n" for i in range(STAFFING_LINES + 1))
    path = tmp_path / "positions.csv"
    path.write_text("school_id,job_class,fte,fund,goal,note\n" + rows, encoding="utf-8")
    with pytest.raises(RosterError, match=f"holds {STAFFING_LINES} lines"):
        read_positions_csv(path, inputs.policy)
