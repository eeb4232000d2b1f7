"""Carryover (issue 11 part 4): last year's unspent dollars, fund by fund, as this year's line.

Hand-computed: the By School table below is last year's consolidate output; the policy carries
GEN with a 5% cap (of last year's GEN allocation) through the adjustment component CARRY,
outside the budget (in_budget = false), and carries no other fund.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import xlsxwriter
from click.testing import CliRunner

from ssfr_xl.carryover import read_last_year
from ssfr_xl.cli import cli
from ssfr_xl.district_reader import read_district
from ssfr_xl.errors import PolicyError, RosterError
from ssfr_xl.formula import allocate
from ssfr_xl.policy import template_path
from ssfr_xl.season import create_district

CARRY = """

[[component]]
code = "CARRY"
name = "Carryover from last year"
kind = "adjustment"
fund = "GEN"
in_budget = false
note = "Unspent GEN dollars of last year's accepted plan."

[carryover.fund.GEN]
component = "CARRY"
cap = "5%"
"""
HEADER = ["school_id", "school_name", "status", "fund", "allocation", "planned", "remaining"]


def _policy(tmp_path: Path, extra: str = CARRY) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(template_path("policy.toml").read_text(encoding="utf-8") + extra,
                    encoding="utf-8")
    return path


def _ids(tmp_path: Path) -> list[str]:
    plain = tmp_path / "plain.xlsx"
    create_district(plain, sample=6, force=True)
    return [s.school_id for s in read_district(plain).schools]


def _last_year(ids: list[str]) -> list[list[object]]:
    a, b, c, d, e = ids[:5]
    return [
        # unspent 1,000,000.00 - 985,000.00 = 15,000.00; cap 5% = 50,000.00 -> 15,000.00
        [a, "A", "accepted", "GEN", 1_000_000.00, 985_000.00, 15_000.00],
        [a, "A", "accepted", "TITLE1", 90_000.00, 60_000.00, 30_000.00],  # not carried
        # unspent 200,000.00 - 180,000.00 = 20,000.00; cap 5% of 200,000 = 10,000.00
        [b, "B", "accepted with warnings", "GEN", 200_000.00, 180_000.00, 20_000.00],
        [c, "C", "rejected", "GEN", 300_000.00, "", ""],  # no accepted plan: nothing
        [d, "D", "accepted", "GEN", 200_000.00, 210_000.00, -10_000.00],  # overspent
        # unspent 400,000.10 - 399,000.00 = 1,000.10 (cap 20,000.01): to the cent
        [e, "E", "accepted", "GEN", 400_000.10, 399_000.00, 1_000.10],
        ["99999999999999", "Closed", "accepted", "GEN", 100_000.00, 90_000.00, 10_000.00],
    ]


def _csv(path: Path, rows: list[list[object]]) -> Path:
    path.write_text("\n".join(",".join(str(v) for v in r) for r in [HEADER, *rows]) + "\n",
                    encoding="utf-8")
    return path


def _carried(district: Path) -> dict[str, float]:
    inputs = read_district(district)
    result = allocate(inputs)
    carry = next(r for r in result.components if r.component.code == "CARRY")
    return {s.school_id: float(x) for s, x in zip(result.schools, carry.amount, strict=True)
            if x}


def test_unspent_dollars_become_a_capped_line_of_their_fund(tmp_path):
    ids = _ids(tmp_path)
    last = _csv(tmp_path / "by_school.csv", _last_year(ids))
    district = tmp_path / "district.xlsx"
    summary = create_district(district, sample=6, policy_path=_policy(tmp_path),
                              carryover=last, force=True)
    assert _carried(district) == {ids[0]: 15_000.00, ids[1]: 10_000.00, ids[4]: 1_000.10}
    # 15,000.00 + 10,000.00 + 1,000.10 = 26,000.10; one capped; C, D, the closed school
    assert "3 school(s), $26,000.10; 1 capped" in summary
    assert "1 school(s) without an accepted plan, 1 overspent, 1 not on this roster" in summary
    lines = {a.school_id: a for a in read_district(district).adjustments}
    assert "capped at $10,000.00 (at most 5% of last year's allocation)" in lines[ids[1]].reason
    assert "$15,000.00 of GEN left unspent" in lines[ids[0]].reason
    # outside the budget: the base rate is the same as without the carryover
    plain = tmp_path / "same.xlsx"
    create_district(plain, sample=6, policy_path=_policy(tmp_path), force=True)
    assert allocate(read_district(plain)).base_rate == allocate(read_district(district)).base_rate


def test_the_totals_workbook_reads_like_its_csv(tmp_path):
    ids = _ids(tmp_path)
    book = tmp_path / "totals.xlsx"
    with xlsxwriter.Workbook(book) as wb:
        wb.add_worksheet("Status")
        ws = wb.add_worksheet("By School")
        ws.write_row(0, 0, [h.replace("_", " ") for h in HEADER])
        for i, row in enumerate(_last_year(ids), start=1):
            ws.write_row(i, 0, row)
    csv_rows = read_last_year(_csv(tmp_path / "by_school.csv", _last_year(ids)))
    assert [(r.school_id, r.status, r.fund, r.allocation, r.planned) for r in
            read_last_year(book)] == [(r.school_id, r.status, r.fund, r.allocation, r.planned)
                                      for r in csv_rows]


@pytest.mark.parametrize("edit, message", [
    (lambda rows: rows[0].__setitem__(6, 25_000.00),
     "line 2: remaining $25,000.00 is not allocation $1,000,000.00 minus planned"),
    (lambda rows: rows.append(list(rows[0])), "line 9: school"),
    (lambda rows: rows[2].__setitem__(4, "lots"), "line 4, column allocation: 'lots'"),
    (lambda rows: rows[0].__setitem__(5, ""), "line 2: an accepted plan with nothing"),
])
def test_an_edited_last_year_is_refused_by_line(tmp_path, edit, message):
    rows = _last_year(_ids(tmp_path))
    edit(rows)
    with pytest.raises(RosterError) as caught:
        create_district(tmp_path / "d.xlsx", sample=6, policy_path=_policy(tmp_path),
                        carryover=_csv(tmp_path / "by_school.csv", rows), force=True)
    assert message in str(caught.value)
    assert not (tmp_path / "d.xlsx").exists()


@pytest.mark.parametrize("extra, message", [
    ("", "has no [carryover] section"),
    (CARRY.replace('fund = "GEN"\nin_budget', 'fund = "TITLE1"\nin_budget'),
     "pays from fund 'TITLE1', not 'GEN'"),
    (CARRY.replace('component = "CARRY"', 'component = "BASE"'), "not an adjustment"),
    (CARRY.replace('cap = "5%"', "cap = true"), "cap must be a share"),
    (CARRY.replace('cap = "5%"', 'cap = "150%"'), "more than 100%"),
    (CARRY.replace("[carryover.fund.GEN]", "[carryover.fund.NOPE]"), "'NOPE' is not a fund"),
    (CARRY + 'spill = "yes"\n', "no setting 'spill'"),
])
def test_the_policy_section_is_checked(tmp_path, extra, message):
    last = _csv(tmp_path / "by_school.csv", [])
    with pytest.raises(PolicyError) as caught:
        create_district(tmp_path / "d.xlsx", sample=6, policy_path=_policy(tmp_path, extra),
                        carryover=last, force=True)
    assert message in str(caught.value)


def test_init_carryover_on_the_command_line(tmp_path):
    ids = _ids(tmp_path)
    last = _csv(tmp_path / "by_school.csv", _last_year(ids))
    out = tmp_path / "district.xlsx"
    run = CliRunner().invoke(cli, ["init", str(out), "--sample", "6", "--policy",
                                   str(_policy(tmp_path)), "--carryover", str(last)])
    assert run.exit_code == 0, run.output
    assert "Carryover of GEN from by_school.csv" in run.output
    bad = CliRunner().invoke(cli, ["init", str(tmp_path / "x.xlsx"), "--sample", "6",
                                   "--carryover", str(last)])
    assert bad.exit_code != 0 and "Traceback" not in bad.output
    assert "has no [carryover] section" in bad.output


def test_libreoffice_and_the_plan_show_the_carryover_as_its_own_line(tmp_path):
    from python_calamine import CalamineWorkbook

    from ssfr_xl.layout import DistrictLayout
    from ssfr_xl.layout import DistrictSheets as S
    from ssfr_xl.school_book import build_school_plan, plan_specs
    from tests.helpers import assert_matches_engine, assert_no_errors, recalc_and_read

    ids = _ids(tmp_path)
    district = tmp_path / "district.xlsx"
    create_district(district, sample=6, policy_path=_policy(tmp_path), force=True,
                    carryover=_csv(tmp_path / "by_school.csv", _last_year(ids)))
    inputs = read_district(district)
    result = allocate(inputs)
    (book,) = recalc_and_read([district], tmp_path)
    assert_no_errors(book)
    assert assert_matches_engine(result, book[S.ALLOCATIONS], DistrictLayout.of(inputs)) > 0
    spec = next(s for s in plan_specs(result) if s.school.school_id == ids[1])
    plan = tmp_path / "plan.xlsx"
    build_school_plan(spec).save(plan)
    shown = [[str(v) for v in row] for row in
             CalamineWorkbook.from_path(str(plan)).get_sheet_by_name("Allocation").to_python()]
    line = next(row for row in shown if "Carryover from last year" in row)
    assert "10000.0" in line  # B's capped carryover, on its own line
