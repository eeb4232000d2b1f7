"""A school plan's inputs and everything the workbook computes from them, in Python.

Nothing here has its own arithmetic: the plan's formulas are declared once in plan_math and
evaluated here on the input cells read from a returned file (never on cached values), with the
district's lists and allocation of record. The same declarations wrote the workbook's formulas.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from operator import itemgetter

from .excel_expr import Value, XlError, as_text, cell_value, is_number
from .indicators import indicator_list
from .layout import SchoolLayout, Table, cell_address
from .model import Policy
from .money import excel_round
from .plan_math import CompiledPlan, EvaluatedPlan, Rule, plan_math

Grid = Mapping[str, Sequence[Sequence[object]]]  # sheet -> rows of values, from A1
Lists = dict[tuple[str, str], list[Value]]  # (Lists table, column key) -> values

#: Lists tables and the columns the plan's formulas read.
LIST_TABLES = ("jobs", "service_menu", "objects", "fund_list", "goal_list", "indicator_list")


@dataclass(frozen=True, slots=True)
class PlanLine:
    """One filled line of a plan (staffing, service or other spending)."""

    sheet: str
    row: int
    kind: str  # "position" | "service" | "other"
    code: str  # job class, service code or object code, exactly as typed
    fund: str
    goal: str
    fte: float  # positions only
    quantity: float  # services only
    amount: float  # cost of the line, as the workbook computes it
    salary: float = 0.0  # positions: the salary part of amount
    description: str = ""
    raw: Mapping[str, object] = field(default_factory=dict)  # the cells as typed, by column


@dataclass(frozen=True, slots=True)
class GoalEntry:
    """A school goal aligned to a district goal."""

    row: int
    goal: str
    school_goal: str
    strategy: str
    measure: str
    indicator: str = ""  # an indicator code, exactly as typed
    baseline: float | None = None  # None: blank or not a number
    target: float | None = None


def _known_fields(cls: type, data: Mapping[str, object]) -> dict[str, object]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def lines_to_json(lines: Sequence[PlanLine]) -> str:
    """Plan lines as the season ledger keeps them: JSON, without the cells as typed."""
    return json.dumps([asdict(li) | {"raw": {}} for li in lines], default=str)


def lines_from_json(text: str) -> list[PlanLine]:
    """Plan lines from lines_to_json's text; none when the text is not theirs."""
    try:
        return [PlanLine(**_known_fields(PlanLine, d)) for d in json.loads(text)]
    except (TypeError, ValueError):
        return []


def goals_to_json(goals: Sequence[GoalEntry]) -> str:
    """Goals as the season ledger keeps them: JSON."""
    return json.dumps([asdict(g) for g in goals], default=str)


def goals_from_json(text: str) -> list[GoalEntry]:
    """Goals from goals_to_json's text; none when the text is not theirs."""
    try:
        return [GoalEntry(**_known_fields(GoalEntry, d)) for d in json.loads(text)]
    except (TypeError, ValueError):
        return []


@dataclass(frozen=True)
class LineProblem:
    """A rule a filled line breaks: the same problem its Check cell shows."""

    table: Table
    index: int  # line number in the table, 0-based
    rule: Rule
    values: Mapping[str, Value]  # the line's inputs and computed values
    kind: str = ""  # position | service | other | goal

    @property
    def sheet(self) -> str:
        """Sheet of the line."""
        return self.table.sheet

    @property
    def cell(self) -> str:
        """Address of the cell the rule points at."""
        return self.table.cell(self.rule.column, self.index)


@dataclass
class PlanInputs:
    """What the principal typed, and the plan as the workbook computes it."""

    lines: list[PlanLine]
    goals: list[GoalEntry]
    problems: list[LineProblem] = field(default_factory=list)
    evaluated: EvaluatedPlan | None = None


@dataclass
class PlanTotals:
    """Totals of a plan, per fund, per goal, per object group, and the Start Here status."""

    planned_by_fund: dict[str, float]
    planned_by_goal: dict[str, float]
    by_group: dict[str, float]
    total_fte: float
    remaining_by_fund: dict[str, float] = field(default_factory=dict)
    status: str = ""

    def remaining(self, allocation: Mapping[str, float]) -> dict[str, float]:
        """Allocation minus planned, per fund."""
        return {code: excel_round(allocation.get(code, 0.0) - planned)
                for code, planned in self.planned_by_fund.items()}


@lru_cache(maxsize=8)
def compiled(policy: Policy) -> CompiledPlan:
    """The plan's declarations compiled to Python, once per policy."""
    return CompiledPlan.of(plan_math(policy))


def _cell(grid: Grid, sheet: str, row: int, col: int) -> object:
    rows = grid.get(sheet, ())
    if row - 1 >= len(rows):
        return None
    values = rows[row - 1]
    if col - 1 >= len(values):
        return None
    return values[col - 1]


def grid_value(grid: Grid, sheet: str, row: int, col: int,
               errors: Mapping[str, Mapping[str, str]] | None = None) -> Value:
    """A cell as the spreadsheet holds it (errors from the reader's list of error cells)."""
    if errors:
        text = errors.get(sheet, {}).get(cell_address(row, col))
        if text:
            return XlError(text)
    return cell_value(_cell(grid, sheet, row, col))


def list_records(layout: SchoolLayout) -> dict[str, list[dict[str, Value]]]:
    """The Lists sheet's rows as the writer writes them (the district's record)."""
    p = layout.policy
    keys = layout.allow_keys

    def may(flags) -> dict[str, Value]:
        return {key: float(ok) for key, ok in zip(keys, flags, strict=True)}

    return {
        "jobs": [{"code": j.code, "title": j.title, "object_code": j.object_code,
                  "average_salary": j.average_salary, "benefits_rate": j.benefits_rate,
                  **may(f.may_pay_object(j.object_code) for f in p.funds)}
                 for j in p.job_classes],
        "service_menu": [{"code": s.code, "department": s.department, "name": s.name,
                          "unit": s.unit, "unit_price": s.unit_price,
                          "object_code": s.object_code,
                          **may(f.may_buy_service(s.department, s.code) for f in p.funds)}
                         for s in p.services],
        "objects": [{"code": o.code, "name": o.name, "group": o.group,
                     **may(f.may_pay_object(o.code) for f in p.funds)} for o in p.objects],
        "fund_list": [{"code": f.code, "name": f.name,
                       "restricted": "Yes" if f.restricted else "No"} for f in p.funds],
        "goal_list": [{"code": g.code, "name": g.name} for g in p.goals],
        "indicator_list": [{"code": i.code, "name": i.name, "direction": i.direction,
                            "unit": i.unit} for i in indicator_list(p)],
    }


def _list_keys(layout: SchoolLayout, table: str) -> tuple[str, ...]:
    t: Table = getattr(layout, table)
    return tuple(c.key for c in t.columns if c.key != "average_cost")


def record_lists(layout: SchoolLayout) -> Lists:
    """The lists of record, column by column (an empty list is one blank cell)."""
    out: Lists = {}
    for table, rows in list_records(layout).items():
        for key in _list_keys(layout, table):
            values = [cell_value(r.get(key)) for r in rows]
            out[(table, key)] = values or [None]
    return out


def file_lists(grid: Grid, layout: SchoolLayout) -> Lists:
    """The lists as a returned file holds them."""
    out: Lists = {}
    for table in LIST_TABLES:
        t: Table = getattr(layout, table)
        n = max(t.rows, 1)
        for key in _list_keys(layout, table):
            col = t.col(key)
            out[(table, key)] = [grid_value(grid, t.sheet, t.first_row + i, col)
                                 for i in range(n)]
    return out


def record_names(layout: SchoolLayout, allocation: Mapping[str, float]) -> dict[str, Value]:
    """The defined names the formulas read: FTE step and each fund's allocation."""
    names: dict[str, Value] = {"FTE_Step": float(layout.policy.fte_step)}
    for f in layout.policy.funds:
        names[layout.allocation_total_name(f.code)] = float(allocation.get(f.code, 0.0))
    return names


def file_names(grid: Grid, layout: SchoolLayout) -> dict[str, Value]:
    """The same names as a returned file holds them."""
    from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

    def at(sheet: str, address: str) -> Value:
        letters, row = coordinate_from_string(address)
        return grid_value(grid, sheet, row, column_index_from_string(letters))

    names: dict[str, Value] = {"FTE_Step": at(layout.jobs.sheet, layout.fte_step_cell)}
    for i, f in enumerate(layout.policy.funds):
        names[layout.allocation_total_name(f.code)] = at(
            layout.allocation.sheet, layout.allocation_total_cell(i))
    return names


def line_inputs(grid: Grid, layout: SchoolLayout,
                errors: Mapping[str, Mapping[str, str]] | None = None
                ) -> dict[str, list[dict[str, Value]]]:
    """The input cells of every line table, as the spreadsheet holds them."""
    out = {}
    for lt in compiled(layout.policy).math.lines:
        t: Table = getattr(layout, lt.table)
        cols = [(k, t.col(k)) for k in lt.inputs]
        rows = grid.get(t.sheet, ())
        blank_ok = not (errors and errors.get(t.sheet))  # no error value read on the sheet
        pick = itemgetter(*(c - 1 for _, c in cols), 0)  # a tuple even for one column
        width = max(c for _, c in cols)
        lines = []
        for row in range(t.first_row, t.first_row + t.rows):
            values = rows[row - 1] if row <= len(rows) else ()
            if blank_ok and len(values) >= width:
                typed = pick(values)[:-1]
                if typed.count(None) + typed.count("") == len(typed):
                    lines.append(dict.fromkeys(lt.inputs))  # blank (most lines), at C speed
                    continue
            lines.append({k: grid_value(grid, t.sheet, row, c, errors) for k, c in cols})
        out[lt.table] = lines
    return out


def evaluate(grid: Grid, policy: Policy, allocation: Mapping[str, float],
             layout: SchoolLayout | None = None, lists: Lists | None = None,
             names: Mapping[str, Value] | None = None,
             errors: Mapping[str, Mapping[str, str]] | None = None) -> EvaluatedPlan:
    """Every computed cell of a plan from its inputs; the district's lists unless given."""
    layout = layout or SchoolLayout(policy)
    return compiled(policy).evaluate(
        line_inputs(grid, layout, errors),
        record_lists(layout) if lists is None else lists,
        record_names(layout, allocation) if names is None else names)


def _number(v: Value) -> float:
    return float(v) if is_number(v) else 0.0


def _measured(v: Value) -> float | None:
    return float(v) if is_number(v) and not isinstance(v, bool) else None


def read_plan_inputs(grid: Grid, policy: Policy, layout: SchoolLayout | None = None,
                     allocation: Mapping[str, float] | None = None,
                     errors: Mapping[str, Mapping[str, str]] | None = None) -> PlanInputs:
    """The plan's filled lines, goals and line problems, computed as the workbook does."""
    layout = layout or SchoolLayout(policy)
    ev = evaluate(grid, policy, allocation or {}, layout, errors=errors)
    kinds = {lt.table: lt for lt in compiled(policy).math.lines}
    lines: list[PlanLine] = []
    problems: list[LineProblem] = []
    for name, lt in kinds.items():
        t: Table = getattr(layout, name)
        rows = ev.tables[name]
        for i in ev.used[name]:
            v = rows[i]
            for rule in ev.failing[name].get(i, ()):
                problems.append(LineProblem(t, i, rule, v, lt.kind))
            if lt.kind == "goal":
                continue
            raw = {k: v.get(k) for k in lt.inputs}
            if lt.kind == "position":
                line = PlanLine(t.sheet, t.first_row + i, "position", as_text(v["job_class"]),
                                as_text(v["fund"]), as_text(v["goal"]), _number(v["fte"]), 0.0,
                                _number(v["cost"]), _number(v["salary"]), as_text(v["note"]),
                                raw)
            elif lt.kind == "service":
                name_ = v.get("name")
                line = PlanLine(t.sheet, t.first_row + i, "service", as_text(v["service"]),
                                as_text(v["fund"]), as_text(v["goal"]), 0.0,
                                _number(v["quantity"]), _number(v["cost"]), 0.0,
                                name_ if isinstance(name_, str) else "", raw)
            else:
                line = PlanLine(t.sheet, t.first_row + i, "other", as_text(v["object"]),
                                as_text(v["fund"]), as_text(v["goal"]), 0.0, 0.0,
                                _number(v["amount"]), 0.0, as_text(v["description"]), raw)
            lines.append(line)
    g = layout.goals
    goals = []
    for i, goal in enumerate(policy.goals):
        v = ev.tables["goals"][i]
        goals.append(GoalEntry(g.first_row + i, goal.code, as_text(v.get("school_goal")),
                               as_text(v.get("strategy")), as_text(v.get("measure")),
                               as_text(v.get("indicator")), _measured(v.get("baseline")),
                               _measured(v.get("target"))))
    return PlanInputs(lines, goals, problems, ev)


def plan_totals(inputs: PlanInputs, policy: Policy) -> PlanTotals:
    """Totals as the plan workbook computes them (from the evaluation in `inputs`)."""
    ev = inputs.evaluated
    assert ev is not None, "read_plan_inputs evaluates the plan"
    funds = ev.tables["funds"]
    goal_rows = ev.tables["goals"]
    status = ev.totals["status"]
    return PlanTotals(
        planned_by_fund={f.code: _number(funds[i]["planned"])
                         for i, f in enumerate(policy.funds)},
        planned_by_goal={g.code: _number(goal_rows[i]["planned"])
                         for i, g in enumerate(policy.goals)},
        by_group={key[len("group_"):]: _number(v) for key, v in ev.totals.items()
                  if key.startswith("group_")},
        total_fte=_number(ev.totals["total_fte"]),
        remaining_by_fund={f.code: _number(funds[i]["remaining"])
                           for i, f in enumerate(policy.funds)},
        status=status if isinstance(status, str) else str(status),
    )


def address(t: Table, index: int, key: str) -> str:
    """A1 address of a table cell (re-exported for findings)."""
    return cell_address(t.first_row + index, t.col(key))


def evaluated_cells(ev: EvaluatedPlan, layout: SchoolLayout) -> dict[str, dict[str, Value]]:
    """Every computed cell's value by sheet and address, as the workbook shows it."""
    out = line_cells(ev, layout)
    for sheet, cells in total_cells(ev, layout).items():
        out.setdefault(sheet, {}).update(cells)
    return out


def line_cells(ev: EvaluatedPlan, layout: SchoolLayout) -> dict[str, dict[str, Value]]:
    """The computed cells of the line tables (Staffing, Services, Other Spending, Goals)."""
    math = compiled(layout.policy).math
    out: dict[str, dict[str, Value]] = {}
    for lt in math.lines:
        t: Table = getattr(layout, lt.table)
        sheet = out.setdefault(t.sheet, {})
        keys = [(key, t.col(key)) for key, _expr in lt.columns()]
        for i, line in enumerate(ev.tables[lt.table]):
            row = t.first_row + i
            for key, col in keys:
                sheet[cell_address(row, col)] = line.get(key)
    return out


def total_cells(ev: EvaluatedPlan, layout: SchoolLayout) -> dict[str, dict[str, Value]]:
    """The computed cells of the Summary and the Start Here status."""
    from .layout import START_FIELDS
    from .layout import SchoolSheets as SS

    math = compiled(layout.policy).math
    t = layout.funds
    summary: dict[str, Value] = {}
    for i, line in enumerate(ev.tables["funds"]):
        for key, _make in math.funds:
            summary[t.cell(key, i)] = line.get(key)
    start: dict[str, Value] = {}
    for key, value in ev.totals.items():
        if key == "status":
            start[START_FIELDS.cell("status")] = value
        else:
            summary[layout.summary_cell(key)] = value
    return {t.sheet: summary, SS.START: start}
