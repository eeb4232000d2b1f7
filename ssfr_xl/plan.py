"""A school plan's inputs and the totals Python computes from them (never from cached values).

The arithmetic mirrors the plan workbook's formulas: a staffing line costs
ROUND(FTE x average salary x (1 + benefits rate), 2); a service line ROUND(quantity x unit
price, 2); other spending counts as typed; each fund's planned total is ROUND(sum, 2).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .cells import CellValueError, to_number, to_text
from .layout import OBJECT_GROUPS, SchoolLayout, Table, cell_address
from .model import Policy
from .money import excel_round

Grid = Mapping[str, Sequence[Sequence[object]]]  # sheet -> rows of values, from A1


@dataclass(frozen=True)
class PlanLine:
    """One filled line of a plan (staffing, service or other spending)."""

    sheet: str
    row: int
    kind: str  # "position" | "service" | "other"
    code: str  # job class, service code or object code
    fund: str
    goal: str
    fte: float  # positions only
    quantity: float  # services only
    amount: float  # cost of the line, as the workbook computes it
    salary: float = 0.0  # positions: the salary part of amount
    description: str = ""
    raw: Mapping[str, object] = field(default_factory=dict)  # the cells as typed, by column


@dataclass(frozen=True)
class GoalEntry:
    """A school goal aligned to a district goal."""

    row: int
    goal: str
    school_goal: str
    strategy: str
    measure: str


@dataclass
class PlanInputs:
    """What the principal typed, read by the layout."""

    lines: list[PlanLine]
    goals: list[GoalEntry]
    problems: list[tuple[str, str, str]]  # (sheet, cell, what is wrong) found while reading


@dataclass
class PlanTotals:
    """Totals of a plan, per fund, per goal, per object group."""

    planned_by_fund: dict[str, float]
    planned_by_goal: dict[str, float]
    by_group: dict[str, float]
    total_fte: float

    def remaining(self, allocation: Mapping[str, float]) -> dict[str, float]:
        """Allocation minus planned, per fund."""
        return {code: excel_round(allocation.get(code, 0.0) - planned)
                for code, planned in self.planned_by_fund.items()}


def _cell(grid: Grid, sheet: str, row: int, col: int) -> object:
    rows = grid.get(sheet, ())
    if row - 1 >= len(rows):
        return None
    values = rows[row - 1]
    if col - 1 >= len(values):
        return None
    value = values[col - 1]
    return None if value == "" else value


def _row_values(grid: Grid, t: Table, index: int) -> dict[str, object]:
    row = t.first_row + index
    return {c.key: _cell(grid, t.sheet, row, t.col(c.key)) for c in t.columns}


def read_plan_inputs(grid: Grid, policy: Policy, layout: SchoolLayout | None = None
                     ) -> PlanInputs:
    """The plan's input cells, typed, with problems noted rather than raised."""
    layout = layout or SchoolLayout(policy)
    jobs = {j.code.casefold(): j for j in policy.job_classes}
    services = {s.code.casefold(): s for s in policy.services}
    lines: list[PlanLine] = []
    problems: list[tuple[str, str, str]] = []

    def number(t: Table, index: int, key: str, value: object) -> float | None:
        try:
            return to_number(value, blank=None) if value is not None else None
        except CellValueError as e:
            problems.append((t.sheet, t.cell(key, index), str(e)))
            return None

    t = layout.staffing
    for i in range(t.rows):
        v = _row_values(grid, t, i)
        code = to_text(v["job_class"])
        if not code and v["fte"] is None and not v["fund"] and not v["goal"]:
            continue
        fte = number(t, i, "fte", v["fte"])
        job = jobs.get(code.casefold())
        cost = salary = 0.0
        if job is not None and fte is not None:
            salary = excel_round(fte * job.average_salary)
            cost = excel_round(fte * job.average_salary * (1 + job.benefits_rate))
        lines.append(PlanLine(t.sheet, t.first_row + i, "position", code, to_text(v["fund"]),
                              to_text(v["goal"]), fte or 0.0, 0.0, cost, salary,
                              to_text(v["note"]), v))
    t = layout.services
    for i in range(t.rows):
        v = _row_values(grid, t, i)
        code = to_text(v["service"])
        if v["quantity"] is None:
            continue
        quantity = number(t, i, "quantity", v["quantity"])
        service = services.get(code.casefold())
        cost = 0.0
        if service is not None and quantity is not None:
            cost = excel_round(quantity * service.unit_price)
        if quantity == 0 and not v["fund"] and not v["goal"]:
            continue
        lines.append(PlanLine(t.sheet, t.first_row + i, "service", code, to_text(v["fund"]),
                              to_text(v["goal"]), 0.0, quantity or 0.0, cost, 0.0,
                              service.name if service else "", v))
    t = layout.other
    for i in range(t.rows):
        v = _row_values(grid, t, i)
        if all(v[k] is None for k in ("object", "fund", "goal", "description", "amount")):
            continue
        amount = number(t, i, "amount", v["amount"])
        lines.append(PlanLine(t.sheet, t.first_row + i, "other", to_text(v["object"]),
                              to_text(v["fund"]), to_text(v["goal"]), 0.0, 0.0, amount or 0.0,
                              0.0, to_text(v["description"]), v))
    g = layout.goals
    goals = []
    for i, goal in enumerate(policy.goals):
        v = _row_values(grid, g, i)
        goals.append(GoalEntry(g.first_row + i, goal.code, to_text(v["school_goal"]),
                               to_text(v["strategy"]), to_text(v["measure"])))
    return PlanInputs(lines, goals, problems)


def plan_totals(inputs: PlanInputs, policy: Policy) -> PlanTotals:
    """Totals as the plan workbook computes them, from the inputs only."""
    groups = {o.code.casefold(): o.group for o in policy.objects}

    def by(attr: str, value: str) -> float:
        parts = {kind: math.fsum(li.amount for li in inputs.lines
                                 if li.kind == kind and getattr(li, attr).casefold()
                                 == value.casefold())
                 for kind in ("position", "service", "other")}
        return excel_round(parts["position"] + parts["service"] + parts["other"])

    by_group = {}
    for group in OBJECT_GROUPS:
        other = math.fsum(li.amount for li in inputs.lines
                          if li.kind == "other" and groups.get(li.code.casefold()) == group)
        extra = 0.0
        if group == "Salaries":
            extra = math.fsum(li.salary for li in inputs.lines if li.kind == "position")
        elif group == "Benefits":
            extra = math.fsum(excel_round(li.amount - li.salary)
                              for li in inputs.lines if li.kind == "position")
        elif group == "Services":
            extra = math.fsum(li.amount for li in inputs.lines if li.kind == "service")
        by_group[group] = excel_round(extra + other)
    return PlanTotals(
        planned_by_fund={f.code: by("fund", f.code) for f in policy.funds},
        planned_by_goal={g.code: by("goal", g.code) for g in policy.goals},
        by_group=by_group,
        total_fte=math.fsum(li.fte for li in inputs.lines if li.kind == "position"),
    )


def address(t: Table, index: int, key: str) -> str:
    """A1 address of a table cell (re-exported for findings)."""
    return cell_address(t.first_row + index, t.col(key))
