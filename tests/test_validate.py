"""Each validation rule on a single plan, and the validate command.

A plan is built and filled in memory (tests/season.py), one thing is changed, the file is read
with the safe reader and checked against the district of record. Expected cells come from the
layout; expected dollar amounts from this file's own arithmetic.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl.workbook import Workbook

from ssfr_xl.district_book import read_district
from ssfr_xl.formula import allocate
from ssfr_xl.layout import START_FIELDS, SchoolLayout
from ssfr_xl.layout import SchoolSheets as SS
from ssfr_xl.reader import read_workbook
from ssfr_xl.school_book import SchoolPlanSpec, file_name, plan_specs
from ssfr_xl.season import create_district
from ssfr_xl.sources.demo import DemoPlan
from ssfr_xl.validate import DistrictRecord, PlanCheck, check_plan, district_record
from tests.corpus import add_sheet, edit_cells_xml
from tests.season import (
    assert_exit,
    cents,
    money_findings,
    plan_costs,
    ssfr,
    varied_plan,
    write_plan,
)

Found = set[tuple[str, str, str]]
FIELDS = ["file", "school_id", "sheet", "cell", "severity", "code", "message"]


class Plans:
    """The sample district and a clean base plan to break one way at a time."""

    def __init__(self, root: Path):
        self.root = root
        self.district = root / "district.xlsx"
        create_district(self.district, sample=40)
        self.record: DistrictRecord = district_record(self.district)
        self.specs = plan_specs(self.record.result)
        self.layout = SchoolLayout(self.record.policy)
        share = self.record.inputs.district.unspent_warning
        # the first school whose demo plan is clean and spends something from Title I
        self.spec, self.plan = next(
            (s, p) for s in self.specs for p in [varied_plan(s, seed=0)]
            if not money_findings(s, plan_costs(p, s.policy), share)
            and s.fund_allocation("TITLE1") > 0)
        self.n = 0

    def write(self, tmp: Path, edit: Callable[[Workbook, SchoolLayout], None] | None = None,
              plan: DemoPlan | None = None, spec: SchoolPlanSpec | None = None,
              name: str | None = None) -> Path:
        """A filled plan saved under tmp (the base plan unless told otherwise)."""
        self.n += 1
        spec = spec or self.spec
        path = tmp / (name or f"{self.n:03d}_{file_name(spec.school)}")
        return write_plan(spec, path, plan or self.plan, edit)

    def check(self, path: Path) -> PlanCheck:
        """Read a file safely and check it against the district of record."""
        return check_plan(read_workbook(path, sheets=SS.ORDER), self.record, path)

    def planned(self, plan: DemoPlan, fund: str) -> Decimal:
        return sum((c for f, c in plan_costs(plan, self.record.policy) if f == fund),
                   Decimal(0))


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> Plans:
    return Plans(tmp_path_factory.mktemp("validate"))


def found(check: PlanCheck) -> Found:
    return {(f.code, f.sheet, f.cell) for f in check.findings}


def finding(check: PlanCheck, code: str):
    return next(f for f in check.findings if f.code == code)


def cell_setter(sheet: str, values: dict[str, object]) -> Callable[[Workbook, SchoolLayout],
                                                                   None]:
    def edit(wb: Workbook, _layout: SchoolLayout) -> None:
        for coord, value in values.items():
            wb[sheet][coord] = value
    return edit


def meta_setter(key: str, value: object) -> Callable[[Workbook, SchoolLayout], None]:
    def edit(wb: Workbook, _layout: SchoolLayout) -> None:
        ws = wb[SS.META]
        row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == key)
        ws.cell(row, 2).value = value
    return edit


# --- the base plan ----------------------------------------------------------------------------

def test_a_balanced_plan_has_no_findings(plans: Plans, tmp_path: Path) -> None:
    check = plans.check(plans.write(tmp_path))
    assert check.findings == []
    assert check.status == "accepted"
    assert check.school_id == plans.spec.school.school_id
    assert check.totals is not None
    for fund in plans.record.policy.funds:
        assert Decimal(f"{check.totals.planned_by_fund[fund.code]:.2f}") == \
            plans.planned(plans.plan, fund.code), fund.code


# --- identity -------------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "value", "code"), [
    ("school_id", "01999990000000", "unknown-school"),
    ("district", "1964733", "wrong-district"),
    ("fiscal_year", "2025-26", "wrong-fiscal-year"),
])
def test_identity(plans: Plans, tmp_path: Path, key: str, value: str, code: str) -> None:
    cell = START_FIELDS.cell(key)  # where Start Here shows it
    check = plans.check(plans.write(tmp_path, meta_setter(key, value)))
    assert found(check) == {(code, SS.START, cell)}
    assert check.status == "rejected"
    assert value in finding(check, code).message
    assert check.inputs is None  # a plan of the wrong identity is not read further


def test_unsupported_template_version(plans: Plans, tmp_path: Path) -> None:
    check = plans.check(plans.write(tmp_path, meta_setter("template_version", "2.0")))
    assert found(check) == {("unsupported-template", "", "")}
    assert "'2.0'" in finding(check, "unsupported-template").message
    # a newer minor version of the same template reads as usual
    assert plans.check(plans.write(tmp_path, meta_setter("template_version", "1.7"))
                       ).findings == []


def test_a_workbook_without_the_identity_sheet_is_not_a_plan(plans: Plans,
                                                              tmp_path: Path) -> None:
    def drop_meta(wb: Workbook, _layout: SchoolLayout) -> None:
        del wb[SS.META]

    check = plans.check(plans.write(tmp_path, drop_meta))
    assert found(check) == {("not-a-plan", "", "")}
    assert check.status == "rejected"


def test_identity_edited_in_the_xml_of_the_hidden_sheet(plans: Plans, tmp_path: Path) -> None:
    base = plans.write(tmp_path)
    wb = openpyxl.load_workbook(base)
    row = next(r for r in range(1, 20) if wb[SS.META].cell(r, 1).value == "district")
    edited = edit_cells_xml(base, tmp_path / "edited.xlsx", SS.META, {f"B{row}": "0000000"})
    assert found(plans.check(edited)) == {("wrong-district", SS.START,
                                           START_FIELDS.cell("district"))}


# --- sheets ---------------------------------------------------------------------------------

def test_sheet_renamed(plans: Plans, tmp_path: Path) -> None:
    def rename(wb: Workbook, _layout: SchoolLayout) -> None:
        wb[SS.OTHER].title = "Other"

    check = plans.check(plans.write(tmp_path, rename))
    assert found(check) == {("sheet-missing", SS.OTHER, ""), ("extra-sheet", "Other", "")}
    assert check.status == "rejected"


def test_sheet_deleted(plans: Plans, tmp_path: Path) -> None:
    def delete(wb: Workbook, _layout: SchoolLayout) -> None:
        del wb[SS.GOALS]

    check = plans.check(plans.write(tmp_path, delete))
    assert ("sheet-missing", SS.GOALS, "") in found(check)
    assert check.status == "rejected"


def test_extra_sheet_is_a_warning(plans: Plans, tmp_path: Path) -> None:
    path = add_sheet(plans.write(tmp_path), tmp_path / "extra.xlsx", "My notes",
                     {"A1": "call the office"})
    check = plans.check(path)
    assert found(check) == {("extra-sheet", "My notes", "")}
    assert check.status == "accepted with warnings"


@pytest.mark.parametrize("name", ["xlwings.conf", "_xlwings.conf", "XLWINGS.CONF"])
def test_xlwings_config_sheet_is_an_error(plans: Plans, tmp_path: Path, name: str) -> None:
    path = add_sheet(plans.write(tmp_path), tmp_path / "xlwings.xlsx", name,
                     {"A1": "INTERPRETER_PATH", "B1": "/tmp/evil"}, state="hidden")
    check = plans.check(path)
    assert found(check) == {("xlwings-config-sheet", name, "")}
    assert check.status == "rejected"


# --- formulas -------------------------------------------------------------------------------

def test_formula_overwritten_names_the_first_cell(plans: Plans, tmp_path: Path) -> None:
    t = plans.layout.staffing
    second, first = t.cell("cost", 3), t.cell("cost", 1)
    check = plans.check(plans.write(tmp_path, cell_setter(SS.STAFFING,
                                                          {second: 1.0, first: None})))
    assert found(check) == {("formula-overwritten", SS.STAFFING, first)}
    message = finding(check, "formula-overwritten").message
    assert "2 calculated cell(s)" in message and f"{first}, {second}" in message
    assert check.status == "rejected"


def test_summary_formula_typed_over(plans: Plans, tmp_path: Path) -> None:
    cell = plans.layout.funds.cell("remaining", 0)
    check = plans.check(plans.write(tmp_path, cell_setter(SS.SUMMARY, {cell: 0})))
    assert found(check) == {("formula-overwritten", SS.SUMMARY, cell)}


def test_formula_typed_into_an_input_cell(plans: Plans, tmp_path: Path) -> None:
    t = plans.layout.other
    cell = t.cell("description", 0)
    check = plans.check(plans.write(tmp_path, cell_setter(SS.OTHER, {cell: '=UPPER("x")'})))
    assert found(check) == {("formula-in-input", SS.OTHER, cell)}
    assert check.status == "rejected"


def test_formula_in_an_amount_cell(plans: Plans, tmp_path: Path) -> None:
    t = plans.layout.other
    cell = t.cell("amount", 0)
    check = plans.check(plans.write(tmp_path, cell_setter(SS.OTHER, {cell: "=100*2"})))
    assert ("formula-in-input", SS.OTHER, cell) in found(check)
    assert check.status == "rejected"


def test_merged_cells_over_plan_lines(plans: Plans, tmp_path: Path) -> None:
    t = plans.layout.staffing
    top_left = t.cell("job_class", t.rows - 10)  # two empty input cells, one above the other
    bottom_right = t.cell("job_class", t.rows - 9)

    def merge(wb: Workbook, _layout: SchoolLayout) -> None:
        wb[SS.STAFFING].merge_cells(f"{top_left}:{bottom_right}")

    check = plans.check(plans.write(tmp_path, merge))
    assert found(check) == {("merged-cells", SS.STAFFING, top_left)}
    assert f"{top_left}:{bottom_right}" in finding(check, "merged-cells").message


# --- values ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("table", "key", "text"), [
    ("staffing", "fte", "one"),
    ("other", "amount", "lots"),
])
def test_text_where_a_number_belongs(plans: Plans, tmp_path: Path, table: str, key: str,
                                     text: str) -> None:
    t = getattr(plans.layout, table)
    cell = t.cell(key, 0)
    check = plans.check(plans.write(tmp_path, cell_setter(t.sheet, {cell: text})))
    assert ("not-a-number", t.sheet, cell) in found(check)
    message = finding(check, "not-a-number").message
    assert f"{t.sheet}!{cell}" in message and repr(text) in message
    assert check.status == "rejected"


def test_text_quantity_of_a_service(plans: Plans, tmp_path: Path) -> None:
    t = plans.layout.services
    cell = t.cell("quantity", 0)
    edit = cell_setter(t.sheet, {cell: "two", t.cell("fund", 0): "GEN",
                                 t.cell("goal", 0): "G1"})
    check = plans.check(plans.write(tmp_path, edit))
    assert ("not-a-number", t.sheet, cell) in found(check)


@pytest.mark.parametrize("fte", [1000.0, 999.95, -0.5])
def test_fte_out_of_range(plans: Plans, tmp_path: Path, fte: float) -> None:
    t = plans.layout.staffing
    cell = t.cell("fte", 2)
    check = plans.check(plans.write(tmp_path, cell_setter(SS.STAFFING, {cell: fte})))
    assert ("fte-out-of-range", SS.STAFFING, cell) in found(check)
    assert check.status == "rejected"


def _added_position(plan: DemoPlan, code: str, fte: float, fund: str) -> DemoPlan:
    return replace(plan, positions=[*plan.positions, (code, fte, fund, "G1", "added")])


def test_fte_not_on_the_step_is_an_error_the_workbook_shows(plans: Plans,
                                                             tmp_path: Path) -> None:
    plan = _added_position(plans.plan, "PARA", 0.05, "GEN")
    index = len(plan.positions) - 1
    cell = plans.layout.staffing.cell("fte", index)
    check = plans.check(plans.write(tmp_path, plan=plan))
    assert found(check) == {("fte-step", SS.STAFFING, cell)}
    assert check.status == "rejected"
    line = check.inputs.evaluated.tables["staffing"][index]
    assert line["check"] == "FTE must be in steps of 0.1"
    assert check.totals.status.startswith("Incomplete: 1 line(s)")


@pytest.mark.parametrize("fte", [0.3, 0.7, 0.9, 0.1])
def test_fte_on_the_step_despite_binary_fractions(plans: Plans, tmp_path: Path,
                                                   fte: float) -> None:
    plan = _added_position(plans.plan, "PARA", fte, "LCFF-SC")
    check = plans.check(plans.write(tmp_path, plan=plan))
    assert not [f for f in check.findings if f.code == "fte-step"]


def test_negative_amount_and_quantity(plans: Plans, tmp_path: Path) -> None:
    o, s = plans.layout.other, plans.layout.services
    amount = o.cell("amount", 0)
    quantity = s.cell("quantity", 1)

    def edit(wb: Workbook, _layout: SchoolLayout) -> None:
        wb[o.sheet][amount] = -100.0
        wb[s.sheet][quantity] = -1
        wb[s.sheet][s.cell("fund", 1)] = "GEN"
        wb[s.sheet][s.cell("goal", 1)] = "G1"

    check = plans.check(plans.write(tmp_path, edit))
    assert {("negative-amount", o.sheet, amount), ("negative-amount", s.sheet, quantity)} \
        <= found(check)
    assert check.status == "rejected"


@pytest.mark.parametrize(("table", "key", "value", "code"), [
    ("staffing", "job_class", "TEACHER", "unknown-job-class"),
    ("staffing", "fund", "ZZ", "unknown-fund"),
    ("staffing", "goal", "G9", "unknown-goal"),
    ("other", "object", "9999", "unknown-object"),
    ("other", "fund", "GENERAL", "unknown-fund"),
    ("other", "goal", "G0", "unknown-goal"),
])
def test_unknown_codes(plans: Plans, tmp_path: Path, table: str, key: str, value: str,
                       code: str) -> None:
    t = getattr(plans.layout, table)
    cell = t.cell(key, 0)
    check = plans.check(plans.write(tmp_path, cell_setter(t.sheet, {cell: value})))
    assert (code, t.sheet, cell) in found(check)
    assert {f.code for f in check.findings if f.severity == "error"} == {code}
    assert repr(value) in finding(check, code).message


def test_unknown_service_on_an_extra_line(plans: Plans, tmp_path: Path) -> None:
    t = plans.layout.services
    i = plans.layout.menu_rows  # the first extra line
    edit = cell_setter(t.sheet, {t.cell("service", i): "XX-NOPE", t.cell("quantity", i): 1,
                                 t.cell("fund", i): "GEN", t.cell("goal", i): "G1"})
    check = plans.check(plans.write(tmp_path, edit))
    assert found(check) == {("unknown-service", t.sheet, t.cell("service", i))}


@pytest.mark.parametrize(("table", "key", "code"), [
    ("staffing", "fund", "missing-fund"),
    ("staffing", "goal", "missing-goal"),
    ("staffing", "job_class", "missing-code"),
    ("staffing", "fte", "missing-fte"),
    ("other", "object", "missing-code"),
    ("other", "amount", "missing-amount"),
    ("other", "fund", "missing-fund"),
    ("other", "goal", "missing-goal"),
])
def test_missing_values(plans: Plans, tmp_path: Path, table: str, key: str,
                        code: str) -> None:
    t = getattr(plans.layout, table)
    cell = t.cell(key, 0)
    check = plans.check(plans.write(tmp_path, cell_setter(t.sheet, {cell: None})))
    assert (code, t.sheet, cell) in found(check)
    assert check.status == "rejected"


def test_no_goals(plans: Plans, tmp_path: Path) -> None:
    t = plans.layout.goals
    check = plans.check(plans.write(tmp_path, plan=replace(plans.plan, goals={})))
    assert found(check) == {("no-goals", t.sheet, t.cell("strategy", 0))}
    assert check.status == "rejected"


def test_incomplete_goal_is_a_warning(plans: Plans, tmp_path: Path) -> None:
    t = plans.layout.goals
    goals = dict(plans.plan.goals)
    code = plans.record.policy.goals[-1].code
    goals[code] = ("Our goal", "A strategy", "")
    i = len(plans.record.policy.goals) - 1
    check = plans.check(plans.write(tmp_path, plan=replace(plans.plan, goals=goals)))
    assert found(check) == {("incomplete-goal", t.sheet, t.cell("measure", i))}
    assert check.status == "accepted with warnings"


# --- money ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("fund", "job"), [("GEN", "TCH"), ("TITLE1", "COACH")])
def test_over_allocation_names_the_remaining_cell_and_the_amount(
        plans: Plans, tmp_path: Path, fund: str, job: str) -> None:
    plan = plans.plan
    for _ in range(3):
        plan = _added_position(plan, job, 1.0, fund)
    given = cents(plans.spec.fund_allocation(fund))
    over = plans.planned(plan, fund) - given
    assert over > 0
    i = [f.code for f in plans.record.policy.funds].index(fund)
    cell = plans.layout.funds.cell("remaining", i)
    check = plans.check(plans.write(tmp_path, plan=plan))
    assert found(check) == {("over-allocation", SS.SUMMARY, cell)}
    message = finding(check, "over-allocation").message
    assert f"${over:,.2f} more than" in message
    assert f"allocation of ${given:,.2f}" in message
    assert f"{SS.SUMMARY}!{cell}" in message
    assert check.status == "rejected"


def test_restricted_fund_buying_a_forbidden_object(plans: Plans, tmp_path: Path) -> None:
    other = list(plans.plan.other)
    i = next(k for k, o in enumerate(other) if o[1] == "TITLE1")
    other[i] = ("6400", *other[i][1:])
    check = plans.check(plans.write(tmp_path, plan=replace(plans.plan, other=other)))
    cell = plans.layout.other.cell("fund", i)
    assert found(check) == {("restricted-object", SS.OTHER, cell)}
    assert "6400" in finding(check, "restricted-object").message


def test_restricted_fund_buying_a_forbidden_service(plans: Plans, tmp_path: Path) -> None:
    services = dict(plans.plan.services)
    services["BUS-BUDGET"] = (1.0, "TITLE1", "G1")
    menu = sorted(plans.record.policy.services, key=lambda s: (s.department, s.code))
    i = [s.code for s in menu].index("BUS-BUDGET")
    check = plans.check(plans.write(tmp_path, plan=replace(plans.plan, services=services)))
    cell = plans.layout.services.cell("fund", i)
    assert ("restricted-service", SS.SERVICES, cell) in found(check)
    assert {f.code for f in check.findings if f.severity == "error"} == {"restricted-service"}


@pytest.mark.parametrize(("extra_cents", "warned"), [(0, False), (2, True)])
def test_unspent_funds_threshold(plans: Plans, tmp_path: Path, extra_cents: int,
                                 warned: bool) -> None:
    """Leaving exactly the district's share unplanned is fine; a cent more is a warning."""
    share = plans.record.inputs.district.unspent_warning
    given = cents(plans.spec.fund_allocation("GEN"))
    limit = (Decimal(f"{share * float(given):.15g}") * 100).to_integral_value(
        rounding="ROUND_FLOOR") / 100
    target_left = limit + Decimal(extra_cents) / 100
    positions = list(plans.plan.positions)
    plan = plans.plan
    while given - plans.planned(plan, "GEN") <= target_left:  # free some money: fewer teachers
        positions.remove(next(p for p in positions if p[0] == "TCH" and p[2] == "GEN"))
        plan = replace(plan, positions=positions)
    other = list(plan.other)
    i = next(k for k, o in enumerate(other) if o[1] == "GEN")
    left = given - plans.planned(plan, "GEN")
    other[i] = (*other[i][:4], float(Decimal(f"{other[i][4]:.2f}") + left - target_left))
    plan = replace(plan, other=other)
    assert given - plans.planned(plan, "GEN") == target_left
    check = plans.check(plans.write(tmp_path, plan=plan))
    cell = plans.layout.funds.cell("remaining", 0)
    assert found(check) == ({("unspent-funds", SS.SUMMARY, cell)} if warned else set())


def test_allocation_changed_when_the_file_was_built_with_another_budget(
        plans: Plans, tmp_path: Path) -> None:
    inputs = read_district(plans.district)
    smaller = replace(inputs, district=replace(inputs.district,
                                               budget=inputs.district.budget * 0.9))
    sid = plans.spec.school.school_id
    old_spec = plan_specs(allocate(smaller), school_ids=[sid])[0]
    old_gen, now_gen = old_spec.fund_allocation("GEN"), plans.spec.fund_allocation("GEN")
    assert old_gen < now_gen
    path = plans.write(tmp_path, spec=old_spec, plan=varied_plan(old_spec, seed=0))
    check = plans.check(path)
    cell = plans.layout.allocation_total_cell(0)  # GEN, the first fund that differs
    assert ("allocation-changed", SS.ALLOCATION, cell) in found(check)
    message = finding(check, "allocation-changed").message
    assert f"GEN: file ${old_gen:,.2f}, district ${now_gen:,.2f}" in message
    # the workbook shows another allocation than the district counts: never accepted
    assert finding(check, "allocation-changed").severity == "error"
    assert check.status == "rejected"


# --- the validate command -------------------------------------------------------------------

@pytest.fixture(scope="module")
def folder(plans: Plans, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A clean plan, one with only a warning, one with errors, each for its own school."""
    root = tmp_path_factory.mktemp("returned")
    share = plans.record.inputs.district.unspent_warning
    others = [s for s in plans.specs if s is not plans.spec
              and not money_findings(s, plan_costs(varied_plan(s, 0), s.policy), share)]
    clean = plans.write(root, name=file_name(plans.spec.school))
    g = plans.layout.goals
    warned = write_plan(others[0], root / file_name(others[0].school), varied_plan(others[0], 0),
                        cell_setter(SS.GOALS, {g.cell("school_goal", 0): "Read more",
                                               g.cell("strategy", 0): "Tutoring",
                                               g.cell("measure", 0): None}))
    t = plans.layout.staffing
    broken = write_plan(others[1], root / file_name(others[1].school),
                        varied_plan(others[1], 0),
                        cell_setter(SS.STAFFING, {t.cell("fte", 0): "one",
                                                  t.cell("fund", 1): "ZZ"}))
    return {"clean": clean, "warned": warned, "broken": broken}


def test_validate_exit_0_with_only_warnings(plans: Plans, folder: dict[str, Path]) -> None:
    done = ssfr("validate", folder["clean"], folder["warned"], "--district", plans.district)
    assert_exit(done, 0)
    assert f"{folder['warned'].name}" in done.stdout
    assert "incomplete-goal" in done.stdout
    assert done.stdout.rstrip().endswith(
        "2 file(s): 1 accepted, 1 accepted with warnings, 0 rejected.")


def test_validate_exit_1_with_errors(plans: Plans, folder: dict[str, Path]) -> None:
    done = ssfr("validate", folder["broken"].parent, "--district", plans.district)
    assert_exit(done, 1)
    t = plans.layout.staffing
    assert f"{SS.STAFFING}!{t.cell('fte', 0)}" in done.stdout
    assert "not-a-number" in done.stdout and "unknown-fund" in done.stdout


@pytest.mark.parametrize("args", [
    ("validate", "{dir}"),  # no --district
    ("validate", "{dir}", "--district", "{district}", "--format", "xml"),
    ("validate", "{dir}/no-such-file.xlsx", "--district", "{district}"),
    ("validate", "--district", "{district}"),  # no file
])
def test_validate_usage_errors_exit_2(plans: Plans, folder: dict[str, Path],
                                      args: tuple[str, ...]) -> None:
    given = [a.format(dir=folder["clean"].parent, district=plans.district) for a in args]
    done = ssfr(*given)
    assert_exit(done, 2)
    assert "Usage: ssfr-xl validate" in done.stderr


def test_validate_json(plans: Plans, folder: dict[str, Path]) -> None:
    done = ssfr("validate", folder["broken"].parent, "--district", plans.district,
                "--format", "json")
    assert_exit(done, 1)
    files = json.loads(done.stdout)
    assert {f["file"] for f in files} == {p.name for p in folder.values()}
    by_name = {f["file"]: f for f in files}
    assert by_name[folder["clean"].name]["status"] == "accepted"
    assert by_name[folder["clean"].name]["findings"] == []
    assert by_name[folder["warned"].name]["status"] == "accepted with warnings"
    assert by_name[folder["broken"].name]["status"] == "rejected"
    findings = [f for file in files for f in file["findings"]]
    assert findings
    for f in findings:
        assert list(f) == FIELDS
        assert f["severity"] in ("error", "warning")
    t = plans.layout.staffing
    assert {(f["code"], f["sheet"], f["cell"]) for f in
            by_name[folder["broken"].name]["findings"]} >= {
        ("not-a-number", SS.STAFFING, t.cell("fte", 0)),
        ("unknown-fund", SS.STAFFING, t.cell("fund", 1))}


def test_validate_csv(plans: Plans, folder: dict[str, Path]) -> None:
    done = ssfr("validate", folder["broken"].parent, "--district", plans.district,
                "--format", "csv")
    assert_exit(done, 1)
    assert done.stdout.splitlines()[0] == ",".join(FIELDS)
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert rows and all(set(r) == set(FIELDS) for r in rows)
    assert {r["file"] for r in rows} == {folder["broken"].name, folder["warned"].name}
    codes = {(r["code"], r["severity"]) for r in rows}
    assert {("not-a-number", "error"), ("unknown-fund", "error"), ("incomplete-goal", "warning")} \
        <= codes


def test_validate_feedback_workbooks(plans: Plans, folder: dict[str, Path],
                                     tmp_path: Path) -> None:
    feedback = tmp_path / "feedback"
    done = ssfr("validate", folder["broken"].parent, "--district", plans.district,
                "--feedback", feedback)
    assert_exit(done, 1)
    checks = {p: plans.check(p) for p in folder.values()}
    written = sorted(p.name for p in feedback.iterdir())
    assert written == sorted(f"{c.school_id}_feedback.xlsx" for c in checks.values())
    for path, check in checks.items():
        wb = openpyxl.load_workbook(feedback / f"{check.school_id}_feedback.xlsx")
        ws = wb.active
        text = [" ".join(str(v) for v in row if v is not None)
                for row in ws.iter_rows(values_only=True)]
        assert any(path.name in line for line in text), path.name
        listed = {(row[1], row[2], row[4]) for row in ws.iter_rows(min_row=5, values_only=True)
                  if row[4]}
        assert listed == {(f.sheet or None, f.cell or None, f.code) for f in check.findings}
        if not check.findings:
            assert any("No problems found" in line for line in text)
