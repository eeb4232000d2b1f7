"""read_plan_inputs and plan_totals on hand-built grids: the arithmetic of the plan workbook.

A grid is what a reader hands over: sheet name -> rows of cell values from A1. Each test types a
few cells by layout key (never by literal address) and checks the lines, problems and totals
against numbers worked out by hand, with Excel's rounding (half away from zero).
"""

from __future__ import annotations

import math

import pytest

from ssfr_xl.layout import SchoolLayout, Table
from ssfr_xl.model import Fund, Goal, JobClass, ObjectCode, Policy, Service
from ssfr_xl.plan import PlanInputs, plan_totals, read_plan_inputs

POLICY = Policy(
    spans=(),
    funds=(Fund("GEN", "General", False), Fund("TITLE1", "Title I", True),
           Fund("LCFF-SC", "Supplemental", True)),
    components=(),
    job_classes=(
        JobClass("TCH", "Teacher", "1100", 80000.0, 0.35),
        JobClass("HALF", "Rounding case", "2100", 5.35, 0.0),  # 0.5 FTE -> 2.675
        JobClass("AIDE", "Aide", "2100", 1234.5, 0.21),
    ),
    services=(
        Service("PD", "Professional Development", "Coaching day", "day", 12.345),
        Service("IT", "Business Services", "Laptop support", "device", 40.0),
    ),
    objects=(
        ObjectCode("4300", "Materials and supplies", "Supplies"),
        ObjectCode("5800", "Contracts", "Services"),
        ObjectCode("6400", "Equipment", "Capital"),
        ObjectCode("1100", "Teacher salaries", "Salaries"),
    ),
    goals=(Goal("G1", "Literacy"), Goal("G2", "Attendance")),
)
LAYOUT = SchoolLayout(POLICY)


class GridBuilder:
    """Types values into a blank grid by table, line index and column key."""

    def __init__(self) -> None:
        self.sheets: dict[str, list[list[object]]] = {}

    def put(self, t: Table, index: int, **values: object) -> GridBuilder:
        """Set cells of line `index` of table `t` (keys are column keys)."""
        rows = self.sheets.setdefault(t.sheet, [])
        row = t.first_row + index
        while len(rows) < row:
            rows.append([])
        for key, value in values.items():
            line, col = rows[row - 1], t.col(key)
            line.extend([None] * (col - len(line)))
            line[col - 1] = value
        return self

    def read(self) -> PlanInputs:
        """read_plan_inputs on the grid typed so far."""
        return read_plan_inputs(self.sheets, POLICY, LAYOUT)


def staffing(**lines: dict[str, object]) -> GridBuilder:
    """A grid with staffing lines given as index=dict of values (s0=..., s1=...)."""
    g = GridBuilder()
    for name, values in lines.items():
        g.put(LAYOUT.staffing, int(name[1:]), **values)
    return g


def test_empty_grid_has_no_lines_and_zero_totals() -> None:
    inputs = GridBuilder().read()
    assert inputs.lines == [] and inputs.problems == []
    assert [g.goal for g in inputs.goals] == ["G1", "G2"]
    totals = plan_totals(inputs, POLICY)
    assert totals.planned_by_fund == {"GEN": 0.0, "TITLE1": 0.0, "LCFF-SC": 0.0}
    assert totals.planned_by_goal == {"G1": 0.0, "G2": 0.0}
    assert totals.by_group == dict.fromkeys(("Salaries", "Benefits", "Supplies", "Services",
                                             "Capital"), 0.0)
    assert totals.total_fte == 0.0


@pytest.mark.parametrize(("fte", "cost"), [
    (0.5, 2.68),    # 2.675: Excel rounds half away from zero; Python's round() gives 2.67
    (-0.5, -2.68),  # half away from zero on the negative side too
    (0.3, 1.61),    # 1.605 (1.60499... as a double), rounded at 15 significant digits
    (1, 5.35),
])
def test_position_cost_rounds_half_away_from_zero(fte: float, cost: float) -> None:
    (line,) = staffing(s0={"job_class": "HALF", "fte": fte, "fund": "GEN", "goal": "G1"}
                       ).read().lines
    assert line.amount == cost
    assert line.salary == cost  # no benefits on this class
    if fte == 0.5:
        assert round(0.5 * 5.35, 2) == 2.67  # why Python's round() must not be used


def test_position_cost_splits_into_salary_and_benefits() -> None:
    # 0.1 x 1,234.50 = 123.45 salary; x 1.21 = 149.3745 -> 149.37 cost; benefits 25.92
    inputs = staffing(s0={"job_class": "AIDE", "fte": 0.1, "fund": "GEN", "goal": "G1"},
                      s1={"job_class": "TCH", "fte": 0.7, "fund": "GEN", "goal": "G2"}).read()
    aide, teacher = inputs.lines
    assert (aide.salary, aide.amount) == (123.45, 149.37)
    assert (teacher.salary, teacher.amount) == (56000.0, 75600.0)
    totals = plan_totals(inputs, POLICY)
    assert totals.by_group["Salaries"] == 56123.45
    assert totals.by_group["Benefits"] == 19625.92  # 25.92 + 19,600.00
    assert totals.planned_by_fund["GEN"] == 75749.37
    assert totals.planned_by_goal == {"G1": 149.37, "G2": 75600.0}
    assert math.isclose(totals.total_fte, 0.8)


def test_text_in_numeric_cells_is_a_problem_naming_the_cell() -> None:
    g = GridBuilder()
    g.put(LAYOUT.staffing, 2, job_class="TCH", fte="half", fund="GEN", goal="G1")
    g.put(LAYOUT.services, LAYOUT.menu_rows, service="PD", quantity="lots", fund="GEN",
          goal="G1")
    g.put(LAYOUT.other, 4, object="4300", fund="GEN", goal="G1", amount="TBD")
    inputs = g.read()
    assert {(p.sheet, p.cell, p.rule.code) for p in inputs.problems} == {
        (LAYOUT.staffing.sheet, LAYOUT.staffing.cell("fte", 2), "not-a-number"),
        (LAYOUT.services.sheet, LAYOUT.services.cell("quantity", LAYOUT.menu_rows),
         "not-a-number"),
        (LAYOUT.other.sheet, LAYOUT.other.cell("amount", 4), "not-a-number"),
    }
    # the Check column shows the same words the rule declares
    staff = inputs.evaluated.tables["staffing"][2]
    assert staff["check"] == "Type the FTE as a number"
    # such lines are kept (to be reported) but cost nothing, as the workbook's ISNUMBER gives
    position = next(li for li in inputs.lines if li.kind == "position")
    assert (position.code, position.fte, position.amount) == ("TCH", 0.0, 0.0)
    totals = plan_totals(inputs, POLICY)
    assert totals.planned_by_fund["GEN"] == 0.0 and totals.total_fte == 0.0


@pytest.mark.parametrize(("table", "key", "text"), [
    ("other", "amount", "500"),
    ("other", "amount", "=1/2"),
    ("staffing", "fte", "0.5"),
    ("staffing", "fte", "=1/2"),
    ("services", "quantity", "2"),
])
def test_numbers_stored_as_text_are_problems_like_the_workbook_says(
        table: str, key: str, text: str) -> None:
    """A number stored as text (or text that looks like a formula): the plan's Check column
    says "Type the ... as a number" and its totals leave the cell out; Python never evaluates
    it."""
    t: Table = getattr(LAYOUT, table)
    g = GridBuilder()
    values = {"other": {"object": "4300", "amount": text},
              "staffing": {"job_class": "TCH", "fte": text},
              "services": {"service": "PD", "quantity": text}}[table]
    g.put(t, 0, fund="GEN", goal="G1", **values)
    inputs = g.read()
    assert [(p.sheet, p.cell, p.rule.code) for p in inputs.problems] == [
        (t.sheet, t.cell(key, 0), "not-a-number")]
    assert plan_totals(inputs, POLICY).planned_by_fund["GEN"] == 0.0


@pytest.mark.parametrize("typed", ["gen", " GEN", "GEN ", "GEN\u00a0", "G\u200bEN",
                                   "G\u0415N", "G*", "GE?"])
def test_codes_count_only_when_typed_exactly(typed: str) -> None:
    """Another case, spaces, invisible characters, a look-alike letter or a wildcard is not the
    code: the line's cost is not added to any fund, and the line has an unknown-fund problem
    (the workbook's EXACT after MATCH does the same, in every engine)."""
    g = GridBuilder()
    g.put(LAYOUT.other, 0, object="4300", fund=typed, goal="G1", amount=10.5)
    inputs = g.read()
    assert [p.rule.code for p in inputs.problems] == ["unknown-fund"]
    assert plan_totals(inputs, POLICY).planned_by_fund == {"GEN": 0.0, "TITLE1": 0.0,
                                                           "LCFF-SC": 0.0}


def test_job_and_service_codes_in_another_case_cost_nothing() -> None:
    g = GridBuilder()
    g.put(LAYOUT.staffing, 0, job_class="tch", fte=0.5, fund="GEN", goal="G1")
    g.put(LAYOUT.services, LAYOUT.menu_rows, service="pd", quantity=2, fund="TITLE1", goal="G2")
    inputs = g.read()
    assert [li.amount for li in inputs.lines] == [0.0, 0.0]
    assert sorted(p.rule.code for p in inputs.problems) == ["unknown-job-class",
                                                            "unknown-service"]


def test_service_cost_is_quantity_times_unit_price_rounded() -> None:
    # 3 x 12.345 = 37.035 -> 37.04 (half away from zero); 0.5 x 40 = 20
    g = GridBuilder()
    for i, s in enumerate(POLICY.services):
        g.put(LAYOUT.services, i, service=s.code)  # the menu rows, as the workbook has them
    g.put(LAYOUT.services, 0, quantity=3, fund="GEN", goal="G1")
    g.put(LAYOUT.services, LAYOUT.menu_rows + 1, service="IT", quantity=0.5, fund="TITLE1",
          goal="G1")
    inputs = g.read()
    assert [(li.code, li.quantity, li.amount) for li in inputs.lines] == [
        ("PD", 3.0, 37.04), ("IT", 0.5, 20.0)]
    assert inputs.lines[0].description == "Coaching day"
    totals = plan_totals(inputs, POLICY)
    assert totals.by_group["Services"] == 57.04
    assert totals.planned_by_fund == {"GEN": 37.04, "TITLE1": 20.0, "LCFF-SC": 0.0}


def test_unknown_codes_cost_nothing_but_are_kept() -> None:
    g = GridBuilder()
    g.put(LAYOUT.staffing, 0, job_class="ZZZ", fte=1, fund="GEN", goal="G1")
    g.put(LAYOUT.services, LAYOUT.menu_rows, service="NOPE", quantity=4, fund="GEN", goal="G1")
    g.put(LAYOUT.other, 0, object="9999", fund="GEN", goal="G1", amount=75)
    inputs = g.read()
    assert [(li.kind, li.code, li.amount) for li in inputs.lines] == [
        ("position", "ZZZ", 0.0), ("service", "NOPE", 0.0), ("other", "9999", 75.0)]
    totals = plan_totals(inputs, POLICY)
    assert totals.planned_by_fund["GEN"] == 75.0  # other spending counts as typed
    assert all(v == 0.0 for v in totals.by_group.values())  # 9999 is in no object group
    assert totals.total_fte == 1.0


def test_blank_lines_are_skipped_and_reading_goes_on_past_them() -> None:
    g = GridBuilder()
    g.put(LAYOUT.staffing, 0, job_class="TCH", fte=1, fund="GEN", goal="G1")
    g.put(LAYOUT.staffing, 1, job_class="", fte="", fund="", goal="")  # cleared cells
    g.put(LAYOUT.staffing, LAYOUT.staffing.rows - 1, job_class="TCH", fte=0.5, fund="GEN",
          goal="G1")
    for i, s in enumerate(POLICY.services):
        g.put(LAYOUT.services, i, service=s.code)  # menu rows without a quantity
    g.put(LAYOUT.services, 1, quantity=0)  # zero and nothing else: not a line
    g.put(LAYOUT.other, LAYOUT.other.rows - 1, object="4300", fund="GEN", goal="G1", amount=1)
    inputs = g.read()
    assert [(li.sheet, li.row) for li in inputs.lines] == [
        (LAYOUT.staffing.sheet, LAYOUT.staffing.first_row),
        (LAYOUT.staffing.sheet, LAYOUT.staffing.last_row),
        (LAYOUT.other.sheet, LAYOUT.other.last_row),
    ]
    assert inputs.problems == []
    assert plan_totals(inputs, POLICY).planned_by_fund["GEN"] == 162001.0


def test_a_note_alone_makes_a_line_that_needs_a_job_class() -> None:
    """Anything typed on a line makes it a line: the Check column asks for what is missing,
    so nothing typed is ignored silently."""
    g = GridBuilder()
    g.put(LAYOUT.staffing, 5, note="only a note")
    inputs = g.read()
    assert [p.rule.code for p in inputs.problems] == [
        "missing-code", "missing-fte", "missing-fund", "missing-goal"]
    assert inputs.evaluated.tables["staffing"][5]["check"] == (
        "Choose a job class; Type the FTE; Choose a fund; Choose a goal")


def test_zero_quantity_with_a_fund_is_a_line_of_no_cost() -> None:
    g = GridBuilder()
    g.put(LAYOUT.services, 0, service="PD", quantity=0, fund="GEN", goal="G1")
    (line,) = g.read().lines
    assert (line.quantity, line.amount, line.fund) == (0.0, 0.0, "GEN")


def test_line_without_fund_counts_for_its_goal_and_group_only() -> None:
    g = GridBuilder()
    g.put(LAYOUT.staffing, 0, job_class="TCH", fte=1, goal="G1")
    g.put(LAYOUT.other, 0, object="6400", fund="GEN", amount=2500)
    totals = plan_totals(g.read(), POLICY)
    assert totals.planned_by_fund["GEN"] == 2500.0
    assert totals.planned_by_goal == {"G1": 108000.0, "G2": 0.0}
    assert totals.by_group["Salaries"] == 80000.0 and totals.by_group["Capital"] == 2500.0


def test_totals_by_fund_goal_and_group() -> None:
    g = GridBuilder()
    g.put(LAYOUT.staffing, 0, job_class="TCH", fte=1, fund="GEN", goal="G1")
    g.put(LAYOUT.staffing, 1, job_class="AIDE", fte=0.1, fund="TITLE1", goal="G2")
    g.put(LAYOUT.services, LAYOUT.menu_rows, service="PD", quantity=3, fund="TITLE1",
          goal="G1")
    g.put(LAYOUT.other, 0, object="4300", fund="GEN", goal="G2", amount=1000.1)
    g.put(LAYOUT.other, 1, object="5800", fund="LCFF-SC", goal="G1", amount=0.02)
    g.put(LAYOUT.other, 2, object="1100", fund="GEN", goal="G1", amount=99999999.99)
    totals = plan_totals(g.read(), POLICY)
    # worked out in decimal: each sum rounded once, half away from zero
    assert totals.planned_by_fund == {"GEN": 100109000.09, "TITLE1": 186.41, "LCFF-SC": 0.02}
    assert totals.planned_by_goal == {"G1": 100108037.05, "G2": 1149.47}
    assert totals.by_group == {"Salaries": 100080123.44, "Benefits": 28025.92,
                               "Supplies": 1000.1, "Services": 37.06, "Capital": 0.0}
    assert math.isclose(totals.total_fte, 1.1)


def test_remaining_is_allocation_minus_planned_rounded() -> None:
    g = GridBuilder()
    g.put(LAYOUT.other, 0, object="4300", fund="GEN", goal="G1", amount=0.1)
    g.put(LAYOUT.other, 1, object="4300", fund="GEN", goal="G1", amount=0.2)
    totals = plan_totals(g.read(), POLICY)
    assert totals.remaining({"GEN": 0.3, "TITLE1": 5}) == {"GEN": 0.0, "TITLE1": 5.0,
                                                           "LCFF-SC": 0.0}


def test_goal_entries_are_read_per_district_goal() -> None:
    g = GridBuilder()
    g.put(LAYOUT.goals, 1, school_goal="Fewer absences", strategy="Calls home",
          measure="Chronic absence < 10%")
    first, second = g.read().goals
    assert (first.goal, first.strategy) == ("G1", "")
    assert (second.goal, second.school_goal, second.strategy, second.measure, second.row) == (
        "G2", "Fewer absences", "Calls home", "Chronic absence < 10%",
        LAYOUT.goals.first_row + 1)


# --- line inputs: the blank-line shortcut reads what each cell reads -------------------------

_TYPED = [None, "", " ", 0, 0.0, False, True, 1, -2.5, "0", "TCH", "GEN"]


@pytest.mark.parametrize("seed", range(40))
def test_line_inputs_read_each_cell_as_the_grid_holds_it(seed: int) -> None:
    """Every line of every table, as grid_value reads cell by cell: 0, False and a space are
    typed values, not blanks; short rows, missing rows and error values included."""
    import random

    from ssfr_xl.plan import compiled, grid_value, line_inputs

    rng = random.Random(seed)
    grid: dict[str, list[list[object]]] = {}
    errors: dict[str, dict[str, str]] = {}
    tables = [getattr(LAYOUT, lt.table) for lt in compiled(POLICY).math.lines]
    for t in tables:
        rows = grid.setdefault(t.sheet, [])
        width = max(t.col(c.key) for c in t.columns) + rng.choice([-2, 0, 3])
        while len(rows) < t.first_row + t.rows - rng.choice([0, 0, 3]):
            rows.append([None] * max(width, 0))
        for _ in range(rng.randrange(12)):  # a few typed cells anywhere in the table
            r = t.first_row + rng.randrange(t.rows) - 1
            if r < len(rows) and rows[r]:
                rows[r][rng.randrange(len(rows[r]))] = rng.choice(_TYPED)
        if rng.random() < 0.3:
            i = rng.randrange(t.rows)
            errors.setdefault(t.sheet, {})[t.cell(rng.choice(t.columns).key, i)] = "#N/A"
    got = line_inputs(grid, LAYOUT, errors)
    for lt in compiled(POLICY).math.lines:
        t = getattr(LAYOUT, lt.table)
        want = [{k: grid_value(grid, t.sheet, t.first_row + i, t.col(k), errors)
                 for k in lt.inputs} for i in range(t.rows)]
        assert got[lt.table] == want, lt.table
        assert [type(v) for line in got[lt.table] for v in line.values()] == \
            [type(v) for line in want for v in line.values()]  # 0.0 stays 0.0, not False
