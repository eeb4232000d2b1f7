"""The school plan's math, declared once.

Every computed cell of the plan workbook is declared here as an expression (excel_expr): the
writer renders it into the cell's formula, and validate evaluates the same expression in Python
on the values read from a returned file. So the line costs, the Check column, the planned and
remaining money per fund and the Start Here status that `consolidate` counts are the ones the
principal saw, by construction; the tests prove the evaluator by recalculating in LibreOffice
and gnumeric.

Declarations:

- `LineTable`: per line of Staffing, Services, Other Spending and Goals & Strategies, the
  computed columns in order, and the `rules` behind the Check column. A rule names a finding
  code, the column it points at, a condition (true = the line has that problem) and the words
  the Check cell shows. Rules come in groups; the first failing rule of each group is shown,
  so one line can show "Choose a fund; Choose a goal".
- `SUMMARY`: per fund, allocation, planned and remaining; totals; object groups; FTE; status.

Codes are matched exactly (EXACT after MATCH): " GEN", "gen" or "GEN" + a non-breaking space
is not GEN, in the workbook or in Python; the Check column says so and validate rejects it.
Totals add lines by the row of their fund in the list (a number), never by comparing text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from .excel_expr import (
    AND,
    IF,
    IS_NUMBER,
    NOT,
    OR,
    ROUND,
    Block,
    Cell,
    CountIf,
    Expr,
    Fn,
    Name,
    Num,
    Range,
    Sum,
    SumIf,
    Text,
    Value,
    XlError,
    fn,
    lift,
    render,
)
from .layout import MAX_LINE_FTE, OBJECT_GROUPS, START_FIELDS, SchoolLayout, Table, sheet_ref
from .layout import SchoolSheets as SS
from .model import Policy

#: What the Check column says when a cell of the line holds an error value (#N/A, #VALUE!).
ERROR_WORDS = "A cell holds an error value: retype it"
#: Most one services line may buy, and most one other-spending line may cost (the data
#: validation's limits; larger numbers are typing slips).
MAX_QUANTITY = 100_000.0
MAX_AMOUNT = 100_000_000.0
#: How far an amount may be from whole cents and still count as dollars and cents.
CENT_TOLERANCE = 0.000001
#: How far FTE / step may be from a whole number and still count as on a step.
STEP_TOLERANCE = 0.000001


@dataclass(frozen=True, eq=False)
class Index(Expr):
    """The 1-based number of the current line in its table (a constant in each formula)."""

    def xl(self, ctx) -> str:
        return ctx.number()

    def compile(self) -> Fn:
        return lambda env: float(env.index + 1)


@dataclass(frozen=True, eq=False)
class At(Expr):
    """One cell of another table: line `index` (0-based) of column `key`."""

    table: str
    key: str
    index: int

    def xl(self, ctx) -> str:
        return ctx.at(self.table, self.key, self.index)

    def compile(self) -> Fn:
        table, key, index = self.table, self.key, self.index
        return lambda env: env.lines(table)[index].get(key)


def first_true(*pairs: tuple[Expr, object], otherwise: object) -> Expr:
    """IF(c1, v1, IF(c2, v2, ... otherwise)): Excel evaluates only the branch taken."""
    out = lift(otherwise)
    for cond, value in reversed(pairs):
        out = IF(cond, value, out)
    return out


def all_of(*conds: Expr) -> Expr:
    """Every condition, tested in order (nested IF, so a later one may assume earlier ones)."""
    out: Expr = conds[-1]
    for c in reversed(conds[:-1]):
        out = IF(c, out, False)
    return out


def exact_row(code: Expr, table: str) -> Expr:
    """Row of `code` in a list when typed exactly as listed, else 0.

    MATCH ignores case and honours wildcards; EXACT then insists on the very same text, so
    "gen", " GEN" or "G*" find nothing, in every engine.
    """
    codes = Range(table, "code")
    text = code.cat("")
    at = fn("MATCH", text, codes, 0)
    return fn("IFERROR", IF(code.eq(""), 0, IF(fn("EXACT", text, fn("INDEX", codes, at, 1)),
                                                at, 0)), 0)


def not_listed(code: Expr, table: str, what: str) -> Expr:
    """Check words for a code that is not in a list: which listed code it resembles, if any
    (same letters in another case), so the principal can pick it."""
    codes = Range(table, "code")
    at = fn("MATCH", code.cat(""), codes, 0)
    return fn("IFERROR", lift(f"{what} must be typed exactly as ").cat(
        fn("INDEX", codes, at, 1)), f"{what} not in the list")


def listed(table: str, key: str, row: Expr) -> Expr:
    """INDEX of a list column at a row (row and column, the portable form)."""
    return fn("INDEX", Range(table, key), row, 1)


@dataclass(frozen=True)
class Rule:
    """One problem a line can have: finding code, column pointed at, condition, Check words."""

    code: str
    column: str
    when: Expr
    says: object  # text or an expression giving text


@dataclass(frozen=True)
class LineTable:
    """The computed columns and rules of one table of plan lines."""

    table: str  # SchoolLayout attribute
    kind: str  # position | service | other | goal
    code_key: str  # the column holding the line's code
    inputs: tuple[str, ...]  # columns read from the file (inputs, and menu codes)
    used: Expr  # true when the line is filled in at all
    computed: tuple[tuple[str, Expr], ...]  # before the Check column, in order
    groups: tuple[tuple[Rule, ...], ...] = ()
    after: tuple[tuple[str, Expr], ...] = ()  # after the Check column

    @property
    def problems(self) -> Expr:
        """Each group's first failing rule, as "; " + its words (hidden helper column)."""
        parts: Expr = lift("")
        for group in self.groups:
            shown = first_true(*((r.when, lift("; ").cat(r.says)) for r in group), otherwise="")
            parts = shown if isinstance(parts, Text) and parts.value == "" else parts.cat(shown)
        return fn("IFERROR", parts, "; " + ERROR_WORDS)

    @property
    def check(self) -> Expr:
        """The Check cell: "" when the line is unused, else "OK" or its problems."""
        problems = Cell("problems")
        return fn("IFERROR", IF(NOT(self.used), "", IF(problems.eq(""), "OK",
                                                       fn("MID", problems, 3, 999))),
                  ERROR_WORDS)

    def columns(self) -> tuple[tuple[str, Expr], ...]:
        """Every computed column in evaluation order, the Check column included."""
        return (*self.computed, ("problems", self.problems), ("check", self.check),
                *self.after)


def _code_group(code: Cell, row: Cell, table: str, missing: str, unknown_code: str,
                what: str, key: str) -> tuple[Rule, ...]:
    return (Rule("missing-code", key, code.eq(""), missing),
            Rule(unknown_code, key, row.eq(0), not_listed(code, table, what)))


def _fund_goal_groups() -> tuple[tuple[Rule, ...], ...]:
    fund, goal = Cell("fund"), Cell("goal")
    return (
        (Rule("missing-fund", "fund", fund.eq(""), "Choose a fund"),
         Rule("unknown-fund", "fund", Cell("fund_row").eq(0),
              not_listed(fund, "fund_list", "Fund"))),
        (Rule("missing-goal", "goal", goal.eq(""), "Choose a goal"),
         Rule("unknown-goal", "goal", Cell("goal_row").eq(0),
              not_listed(goal, "goal_list", "Goal"))),
    )


def _restricted(code: str, row_key: str, table: str, allow: tuple[str, ...], says: str
                ) -> tuple[Rule, ...]:
    row, fund_row = Cell(row_key), Cell("fund_row")
    may = fn("INDEX", Block(table, allow), row, fund_row)
    return (Rule(code, "fund", all_of(row.gt(0), fund_row.gt(0), may.eq(0)),
                 Cell("fund").cat(says)),)


def filled(*cells: Cell) -> Expr:
    """Some of the cells hold something other than spaces (TRIM: every engine agrees on it)."""
    return OR(*(fn("TRIM", c).ne("") for c in cells))


def _flag() -> tuple[tuple[str, Expr], ...]:
    check = Cell("check")
    return (("flag", IF(OR(check.eq(""), check.eq("OK")), 0, 1)),)


def _rows(row_key: str, code: Cell, table: str) -> tuple[tuple[str, Expr], ...]:
    return ((row_key, exact_row(code, table)),
            ("fund_row", exact_row(Cell("fund"), "fund_list")),
            ("goal_row", exact_row(Cell("goal"), "goal_list")))


def staffing(allow: tuple[str, ...]) -> LineTable:
    """Staffing: cost = ROUND(FTE x average salary x (1 + benefits rate), 2)."""
    job, fte, row = Cell("job_class"), Cell("fte"), Cell("job_row")
    priced = OR(row.eq(0), NOT(IS_NUMBER(fte)))
    salary = listed("jobs", "average_salary", row)
    step = fte / Name("FTE_Step")
    return LineTable(
        table="staffing", kind="position", code_key="job_class",
        inputs=("job_class", "fte", "fund", "goal", "note"),
        used=filled(job, fte, Cell("fund"), Cell("goal"), Cell("note")),
        computed=(
            *_rows("job_row", job, "jobs"),
            ("title", IF(job.eq(""), "", IF(row.eq(0), "Unknown job class",
                                            listed("jobs", "title", row)))),
            ("salary", IF(priced, 0, ROUND(fte * salary))),
            ("cost", IF(priced, 0, ROUND(fte * salary
                                         * (1 + listed("jobs", "benefits_rate", row))))),
            ("benefits", ROUND(Cell("cost") - Cell("salary"))),
            ("fte_counted", IF(IS_NUMBER(fte), fte, 0)),
        ),
        groups=(
            _code_group(job, row, "jobs", "Choose a job class", "unknown-job-class",
                        "Job class", "job_class"),
            (Rule("missing-fte", "fte", fte.eq(""), "Type the FTE"),
             Rule("not-a-number", "fte", NOT(IS_NUMBER(fte)), "Type the FTE as a number"),
             Rule("fte-out-of-range", "fte", OR(fte.lt(0), fte.gt(MAX_LINE_FTE)),
                  f"FTE must be 0 to {MAX_LINE_FTE:g}"),
             Rule("fte-step", "fte",
                  fn("ABS", step - fn("ROUND", step, 0)).gt(STEP_TOLERANCE),
                  lift("FTE must be in steps of ").cat(Name("FTE_Step")))),
            *_fund_goal_groups(),
            _restricted("restricted-object", "job_row", "jobs", allow,
                        " may not pay for this position"),
        ),
        after=_flag(),
    )


def services(allow: tuple[str, ...]) -> LineTable:
    """Services: cost = ROUND(quantity x unit price, 2); quantity blank or 0 = not bought."""
    code, qty, row = Cell("service"), Cell("quantity"), Cell("service_row")
    return LineTable(
        table="services", kind="service", code_key="service",
        inputs=("service", "quantity", "fund", "goal"),
        used=OR(AND(qty.ne(""), qty.ne(0)), filled(Cell("fund"), Cell("goal"))),
        computed=(
            *_rows("service_row", code, "service_menu"),
            ("department", IF(row.eq(0), "", listed("service_menu", "department", row))),
            ("name", IF(code.eq(""), "", IF(row.eq(0), "Unknown service",
                                            listed("service_menu", "name", row)))),
            ("unit", IF(row.eq(0), "", listed("service_menu", "unit", row))),
            ("unit_price", IF(row.eq(0), "", listed("service_menu", "unit_price", row))),
            ("cost", IF(OR(row.eq(0), NOT(IS_NUMBER(qty))), 0,
                        ROUND(qty * listed("service_menu", "unit_price", row)))),
        ),
        groups=(
            _code_group(code, row, "service_menu", "Choose a service", "unknown-service",
                        "Service", "service"),
            (Rule("missing-quantity", "quantity", qty.eq(""), "Type a quantity"),
             Rule("not-a-number", "quantity", NOT(IS_NUMBER(qty)),
                  "Type the quantity as a number"),
             Rule("negative-amount", "quantity", qty.lt(0), "Quantity must be 0 or more"),
             Rule("too-large", "quantity", qty.gt(MAX_QUANTITY),
                  f"Quantity must be at most {MAX_QUANTITY:,.0f}")),
            *_fund_goal_groups(),
            _restricted("restricted-service", "service_row", "service_menu", allow,
                        " may not buy this service"),
        ),
        after=_flag(),
    )


def other(allow: tuple[str, ...]) -> LineTable:
    """Other Spending: the amount as typed, in dollars and cents."""
    obj, amount, row = Cell("object"), Cell("amount"), Cell("object_row")
    return LineTable(
        table="other", kind="other", code_key="object",
        inputs=("object", "fund", "goal", "description", "amount"),
        used=filled(obj, Cell("fund"), Cell("goal"), Cell("description"), amount),
        computed=(
            *_rows("object_row", obj, "objects"),
            ("object_name", IF(obj.eq(""), "", IF(row.eq(0), "Unknown object code",
                                                  listed("objects", "name", row)))),
            ("group", IF(row.eq(0), "", listed("objects", "group", row))),
            ("amount_counted", IF(IS_NUMBER(amount), amount, 0)),
        ),
        groups=(
            _code_group(obj, row, "objects", "Choose an object code", "unknown-object",
                        "Object code", "object"),
            (Rule("missing-amount", "amount", amount.eq(""), "Type the amount"),
             Rule("not-a-number", "amount", NOT(IS_NUMBER(amount)),
                  "Type the amount as a number"),
             Rule("negative-amount", "amount", amount.lt(0), "Amount must be 0 or more"),
             Rule("too-large", "amount", amount.gt(MAX_AMOUNT),
                  f"Amount must be at most ${MAX_AMOUNT:,.0f}"),
             # a tolerance: gnumeric's ROUND(846.18, 2) is not exactly 846.18
             Rule("amount-cents", "amount",
                  fn("ABS", ROUND(amount) - amount).gt(CENT_TOLERANCE),
                  "Type the amount in dollars and cents")),
            *_fund_goal_groups(),
            _restricted("restricted-object", "object_row", "objects", allow,
                        " may not pay for this object"),
        ),
        after=_flag(),
    )


def _by_row(row_key: str, criterion: Expr) -> Expr:
    """Staffing cost + services cost + other amounts of the lines whose row_key = criterion."""
    return ROUND(SumIf("staffing", row_key, criterion, "cost")
                 + SumIf("services", row_key, criterion, "cost")
                 + SumIf("other", row_key, criterion, "amount_counted"))


def goals() -> LineTable:
    """Goals & Strategies: planned dollars per district goal; a goal needs both a strategy and
    a measure (TRIM: a cell of spaces is empty)."""
    strategy = fn("TRIM", Cell("strategy"))
    measure = fn("TRIM", Cell("measure"))
    school_goal = fn("TRIM", Cell("school_goal"))
    indicator, row = Cell("indicator"), Cell("indicator_row")
    baseline, target = Cell("baseline"), Cell("target")
    chosen = fn("TRIM", indicator).ne("")
    down = listed("indicator_list", "direction", row).eq("down")
    return LineTable(
        table="goals", kind="goal", code_key="goal",
        inputs=("school_goal", "strategy", "measure", "indicator", "baseline", "target"),
        used=OR(school_goal.ne(""), strategy.ne(""), measure.ne(""), chosen,
                baseline.ne(""), target.ne("")),
        computed=(("indicator_row", exact_row(indicator, "indicator_list")),
                  ("unit", IF(row.eq(0), "", listed("indicator_list", "unit", row))),
                  ("planned", _by_row("goal_row", Index()))),
        groups=((Rule("incomplete-goal", "strategy", strategy.eq(""), "Add the strategy"),),
                (Rule("incomplete-goal", "measure", measure.eq(""),
                      "Add a measure of success"),),
                # a measure with numbers: an indicator from the list, a baseline and a target
                # in it, the target on the better side of the baseline
                (Rule("unknown-indicator", "indicator", AND(chosen, row.eq(0)),
                      not_listed(indicator, "indicator_list", "Indicator")),
                 Rule("missing-indicator", "indicator",
                      AND(NOT(chosen), OR(baseline.ne(""), target.ne(""))),
                      "Choose the indicator of the baseline and target")),
                (Rule("missing-baseline", "baseline", AND(chosen, baseline.eq("")),
                      "Type the baseline"),
                 Rule("not-a-number", "baseline", AND(baseline.ne(""), NOT(IS_NUMBER(baseline))),
                      "Type the baseline as a number")),
                (Rule("missing-target", "target", AND(chosen, target.eq("")), "Type the target"),
                 Rule("not-a-number", "target", AND(target.ne(""), NOT(IS_NUMBER(target))),
                      "Type the target as a number")),
                (Rule("target-direction", "target",
                      all_of(row.gt(0), IS_NUMBER(baseline), IS_NUMBER(target),
                             IF(down, NOT(target.lt(baseline)), NOT(target.gt(baseline)))),
                      IF(down, "Target must be below the baseline (lower is better)",
                         "Target must be above the baseline (higher is better)")),)),
    )


@dataclass(frozen=True)
class PlanMath:
    """Every computed cell of a plan workbook for one policy."""

    policy: Policy
    layout: SchoolLayout
    lines: tuple[LineTable, ...]
    funds: tuple[tuple[str, Callable[[int], Expr]], ...]  # Summary per fund, by fund index
    totals: tuple[tuple[str, Expr], ...]  # Summary totals, object groups, FTE; then status

    def line_table(self, table: str) -> LineTable:
        """The declaration of one line table."""
        return next(t for t in self.lines if t.table == table)


def plan_math(policy: Policy, layout: SchoolLayout | None = None) -> PlanMath:
    """The declarations for a policy."""
    layout = layout or SchoolLayout(policy)
    allow = layout.allow_keys
    funds: tuple[tuple[str, Callable[[int], Expr]], ...] = (
        ("allocation", lambda i: Name(layout.allocation_total_name(policy.funds[i].code))),
        ("planned", lambda i: _by_row("fund_row", Num(i + 1))),
        ("remaining", lambda i: ROUND(Cell("allocation") - Cell("planned"))),
    )
    groups = []
    for group in OBJECT_GROUPS:
        part: Expr = SumIf("other", "group", lift(group), "amount_counted")
        if group == "Salaries":
            part = Sum("staffing", "salary") + part
        elif group == "Benefits":
            part = Sum("staffing", "benefits") + part
        elif group == "Services":
            part = Sum("services", "cost") + part
        groups.append((f"group_{group}", ROUND(part)))
    remaining = [At("funds", "remaining", i) for i in range(len(policy.funds))]
    over: Expr = lift("")
    for i in reversed(range(len(policy.funds))):
        over = IF(remaining[i].lt(0), lift(f"Over budget in {policy.funds[i].code} by $").cat(
            fn("FIXED", -remaining[i], 2)), over)
    problems = Sum("staffing", "flag") + Sum("services", "flag") + Sum("other", "flag")
    any_over = OR(*(r.lt(0) for r in remaining)) if remaining else lift(False)
    # lines with problems first: until they are fixed the totals are not final (and a line
    # with an absurd number could not be shown as dollars the same way in every engine)
    status = IF(problems.gt(0), lift("Incomplete: ").cat(problems).cat(
        " line(s) need attention - see the Check column"),
        IF(any_over, over,
           IF(CountIf("goals", "check", "OK").eq(0),
              "Incomplete: write at least one goal with a strategy and a measure "
              "(Goals & Strategies)", "Balanced")))
    totals = (
        ("total_allocation", ROUND(Sum("funds", "allocation"))),
        ("total_planned", ROUND(Sum("funds", "planned"))),
        ("total_remaining", ROUND(Sum("funds", "remaining"))),
        *groups,
        ("total_fte", Sum("staffing", "fte_counted")),
        ("status", status),
    )
    return PlanMath(policy, layout, (staffing(allow), services(allow), other(allow), goals()),
                    funds, totals)


# --- rendering ------------------------------------------------------------------------------

@dataclass
class RenderContext:
    """Where a formula is written: the layout, and the table line (if any)."""

    layout: SchoolLayout
    table: Table | None = None
    index: int = 0

    def cell(self, key: str) -> str:
        assert self.table is not None
        return self.table.cell(key, self.index)

    def number(self) -> str:
        return str(self.index + 1)

    def _table(self, name: str) -> Table:
        return getattr(self.layout, name)

    def range(self, table: str, key: str) -> str:
        return self._table(table).full_range(key)

    def block(self, table: str, keys: tuple[str, ...]) -> str:
        t = self._table(table)
        last = max(t.last_row, t.first_row)
        return sheet_ref(t.sheet, f"${t.letter(keys[0])}${t.first_row}:"
                                  f"${t.letter(keys[-1])}${last}")

    def lines(self, table: str, key: str) -> str:
        return self._table(table).full_range(key)

    def at(self, table: str, key: str, index: int) -> str:
        t = self._table(table)
        return sheet_ref(t.sheet, t.cell(key, index, absolute=True))


# --- evaluation -----------------------------------------------------------------------------

class _LineEnv(dict):
    """One line's values (inputs and computed) with access to the whole plan."""

    __slots__ = ("plan", "index")

    def __init__(self, plan: PlanEnv, index: int, values: Mapping[str, Value]):
        super().__init__(values)
        self.plan, self.index = plan, index

    def name(self, name: str) -> Value:
        return self.plan.names.get(name, XlError("#NAME?"))

    def column(self, table: str, key: str) -> list[Value]:
        return self.plan.lists[(table, key)]

    def lines(self, table: str) -> list[Mapping[str, Value]]:
        return self.plan.tables[table]


@dataclass
class PlanEnv:
    """What the formulas read: the reference lists and names, and every line's values."""

    lists: Mapping[tuple[str, str], list[Value]]
    names: Mapping[str, Value]
    tables: dict[str, list[Mapping[str, Value]]] = field(default_factory=dict)


@dataclass
class EvaluatedPlan:
    """Every computed value of a plan, as the workbook shows it."""

    tables: dict[str, list[Mapping[str, Value]]]  # table -> one mapping per line
    used: dict[str, list[int]]  # table -> indexes of lines filled in
    totals: dict[str, Value]
    failing: dict[str, dict[int, list[Rule]]]  # table -> line index -> failing rules


@dataclass
class CompiledPlan:
    """PlanMath compiled to Python functions, once per district."""

    math: PlanMath
    lines: dict[str, tuple[LineTable, Fn, list[tuple[str, Fn]], list[list[tuple[Rule, Fn]]]]]
    funds: list[tuple[str, list[Fn]]]
    totals: list[tuple[str, Fn]]

    @classmethod
    def of(cls, math: PlanMath) -> CompiledPlan:
        lines = {}
        for t in math.lines:
            lines[t.table] = (t, t.used.compile(), [(k, e.compile()) for k, e in t.columns()],
                              [[(r, r.when.compile()) for r in g] for g in t.groups])
        funds = [(key, [make(i).compile() for i in range(len(math.policy.funds))])
                 for key, make in math.funds]
        return cls(math, lines, funds, [(k, e.compile()) for k, e in math.totals])

    def evaluate(self, inputs: Mapping[str, Sequence[Mapping[str, Value]]],
                 lists: Mapping[tuple[str, str], list[Value]], names: Mapping[str, Value]
                 ) -> EvaluatedPlan:
        """Compute every cell from the inputs of each line (table -> lines of column values)."""
        return self.evaluate_totals(self.evaluate_lines(inputs, lists, names), lists, names)

    def evaluate_lines(self, inputs: Mapping[str, Sequence[Mapping[str, Value]]],
                       lists: Mapping[tuple[str, str], list[Value]],
                       names: Mapping[str, Value]) -> EvaluatedPlan:
        """Every line's cells (no totals yet): they read the lists and FTE_Step, never the
        allocation, so one school's lines serve another's totals."""
        env = PlanEnv(lists, names)
        used: dict[str, list[int]] = {}
        failing: dict[str, dict[int, list[Rule]]] = {}
        for name, (table, is_used, columns, groups) in self.lines.items():
            rows: list[Mapping[str, Value]] = []
            blank: Mapping[str, Value] | None = None
            used[name], failing[name] = [], {}
            for i, values in enumerate(inputs[name]):
                empty = all(values.get(k) is None for k in table.inputs)
                if empty and blank is not None and table.table != "goals":
                    rows.append(blank)
                    continue
                line = _LineEnv(env, i, values)
                for key, f in columns:
                    line[key] = f(line)
                rows.append(line)
                if empty and table.table != "goals":
                    blank = line
                if _true(is_used(line)) or isinstance(line.get("check"), str) and \
                        line["check"] == ERROR_WORDS:
                    used[name].append(i)
                    bad = [rule for group in groups for rule in _first_failing(group, line)]
                    if bad:
                        failing[name][i] = bad
            env.tables[name] = rows
        return EvaluatedPlan(env.tables, used, {}, failing)

    def evaluate_totals(self, lines: EvaluatedPlan,
                        lists: Mapping[tuple[str, str], list[Value]],
                        names: Mapping[str, Value]) -> EvaluatedPlan:
        """The Summary and Status of evaluated lines with the allocation in `names`."""
        env = PlanEnv(lists, names, dict(lines.tables))
        summary: list[Mapping[str, Value]] = []
        for i in range(len(self.math.policy.funds)):
            line = _LineEnv(env, i, {"fund": self.math.policy.funds[i].code})
            for key, fs in self.funds:
                line[key] = fs[i](line)
            summary.append(line)
        env.tables["funds"] = summary
        top = _LineEnv(env, 0, {})
        totals = {key: f(top) for key, f in self.totals}
        return EvaluatedPlan(env.tables, lines.used, totals, lines.failing)


def _true(v: Value) -> bool:
    return v is True or (isinstance(v, float) and v != 0)


def _first_failing(group: list[tuple[Rule, Fn]], line: _LineEnv) -> list[Rule]:
    for rule, when in group:
        v = when(line)
        if isinstance(v, XlError) or _true(v):
            return [rule]
    return []


__all__ = ["CompiledPlan", "EvaluatedPlan", "LineTable", "PlanMath", "RenderContext", "Rule",
           "MAX_LINE_FTE", "plan_math"]


# --- formula text for the writer and for integrity checks ------------------------------------

_ROW, _INDEX = "\x00", "\x01"


class _TemplateContext(RenderContext):
    """Renders a line's formulas once, with placeholders for the row and line number."""

    def cell(self, key: str) -> str:
        assert self.table is not None
        return f"{self.table.letter(key)}{_ROW}"

    def number(self) -> str:
        return _INDEX


@dataclass(frozen=True)
class PlanFormulas:
    """The formula text of every computed cell of a plan, by sheet and address."""

    cells: dict[str, dict[str, str]]  # sheet -> A1 address -> "=..."

    def sheet(self, name: str) -> dict[str, str]:
        """Formulas of one sheet."""
        return self.cells.get(name, {})


def plan_formulas(policy: Policy) -> PlanFormulas:
    """Every formula of the plan workbook (cached per policy)."""
    return _plan_formulas(policy)


@lru_cache(maxsize=8)
def _plan_formulas(policy: Policy) -> PlanFormulas:
    math = plan_math(policy)
    layout = math.layout
    cells: dict[str, dict[str, str]] = {}
    for lt in math.lines:
        t: Table = getattr(layout, lt.table)
        ctx = _TemplateContext(layout, t, 0)
        templates = [(key, render(expr, ctx)) for key, expr in lt.columns()]
        sheet = cells.setdefault(t.sheet, {})
        for i in range(t.rows):
            row, number = str(t.first_row + i), str(i + 1)
            for key, text in templates:
                sheet[t.cell(key, i)] = text.replace(_ROW, row).replace(_INDEX, number)
    t = layout.funds
    summary = cells.setdefault(t.sheet, {})
    for i in range(len(policy.funds)):
        ctx = RenderContext(layout, t, i)
        for key, make in math.funds:
            summary[t.cell(key, i)] = render(make(i), ctx)
    top = RenderContext(layout)
    for key, expr in math.totals:
        if key == "status":
            cells.setdefault(SS.START, {})[START_FIELDS.cell("status")] = render(expr, top)
        else:
            summary[layout.summary_cell(key)] = render(expr, top)
    return PlanFormulas(cells)
