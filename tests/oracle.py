"""The differential tests' oracle: every computed cell of a recalculated workbook against the
engine, one comparison per workbook kind.

    DistrictOracle(inputs).differences(book)   every cell district_formulas.computed_cells
                                               lists (Policy, Schools, Adjustments,
                                               Calculation, Allocations, Summary, Job Classes)
                                               against formula.allocate and equity
    PlanOracle(spec, grid).differences(book)   every formula of a filled school plan (line
                                               costs, Check, helper columns, Summary, Status,
                                               Lists) against plan.evaluate on its inputs
    assert_district_matches_engine(...), assert_plan_matches_python(...)   the same, asserted

`book` is a RecalculatedBook (tests/helpers.py: LibreOffice's or gnumeric's values). Error
values anywhere in the workbook are differences, and so is a computed cell the oracle has no
expected value for: a new formula column fails the differential tests until its expectation is
written here. tests/test_mutation.py proves the comparison by mutation: each formula column
of a district workbook and of a filled plan, changed by "+1" (and text ones by &"x"), must
produce a difference in both engines.

Tolerances: money to the cent (half a cent); counts, rates, shares and statistics to 1e-9
relative; text exactly.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

from ssfr_xl.compare import compare
from ssfr_xl.district_formulas import (
    BUDGET_GAP_LABEL,
    computed_cells,
    policy_records,
    summary_cells,
    transition_promise,
)
from ssfr_xl.equity import equity_stats, per_pupil
from ssfr_xl.excel_expr import XlError
from ssfr_xl.formula import (
    AllocationResult,
    allocate,
    band_pupils,
    condition_results,
    passes_conditions,
    span_count,
)
from ssfr_xl.layout import (
    FIXED_KINDS,
    SCENARIO_CHOICES,
    SCENARIO_RESULTS,
    SETTINGS,
    DistrictLayout,
    SchoolLayout,
    Table,
    cell_address,
)
from ssfr_xl.layout import DistrictSheets as S
from ssfr_xl.model import LEVELS, DistrictInputs
from ssfr_xl.money import excel_round, money_sum
from ssfr_xl.plan import Grid, evaluate, evaluated_cells
from ssfr_xl.plan_math import plan_formulas
from ssfr_xl.scenario import parameters, read_choices, scenario_from_choices
from ssfr_xl.scenario_formulas import policy_inputs
from ssfr_xl.school_book import SchoolPlanSpec
from ssfr_xl.transition import transition_rule
from tests.helpers import CENT_TOLERANCE, CellError, Rows, cell_value, errors_by_cell

Where = tuple[str, int, int]  # sheet, row, column

# --- comparing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """One cell where the spreadsheet and the engine disagree (or an error value)."""

    sheet: str
    address: str
    what: str

    def __str__(self) -> str:
        return f"{self.sheet}!{self.address}: {self.what}"


@dataclass(frozen=True)
class Expected:
    """What a computed cell must show: text exactly, a number within `tolerance`."""

    value: object  # float | str
    tolerance: float = 0.0  # absolute; 0 = 1e-9 relative
    what: str = ""

    def matches(self, got: object) -> bool:
        if isinstance(self.value, str):
            return isinstance(got, str) and not isinstance(got, CellError) and got == self.value
        if isinstance(got, bool) or not isinstance(got, int | float) or not math.isfinite(got):
            return False
        expected = float(self.value)
        return abs(got - expected) <= (self.tolerance or 1e-9 * max(1.0, abs(expected)))


def expect(value: object, tolerance: float = 0.0, what: str = "") -> Expected:
    """An Expected from an engine value (numpy numbers and booleans become floats)."""
    if isinstance(value, str):
        return Expected(value, 0.0, what)
    if isinstance(value, bool | np.bool_):
        return Expected(1.0 if value else 0.0, 0.0, what)
    return Expected(float(value), tolerance, what)


def _shown(value: object) -> str:
    return f"{value:,.10g}" if isinstance(value, float) else repr(value)


def compare_cells(book: Mapping[str, Rows], cells: Iterable[Where],
                  expected: Mapping[Where, Expected], engine: str) -> list[Difference]:
    """Every error value of the workbook, then each listed cell that differs from its
    expected value (a listed cell without one is a difference too)."""
    out = [Difference(sheet, address, f"error value {value}")
           for sheet, address, value in errors_by_cell(book)]
    missing: set[str] = set()
    for sheet, row, col in cells:
        address = cell_address(row, col)
        if sheet not in book:
            if sheet not in missing:
                out.append(Difference(sheet, address, "the sheet is missing"))
                missing.add(sheet)
            continue
        exp = expected.get((sheet, row, col))
        got = cell_value(book[sheet], row, col)
        if exp is None:
            out.append(Difference(sheet, address, f"computed cell without a {engine} value: "
                                  "write its expectation in tests/oracle.py"))
        elif not exp.matches(got):
            what = f" ({exp.what})" if exp.what else ""
            out.append(Difference(sheet, address, f"spreadsheet {_shown(got)}, {engine} "
                                  f"{_shown(exp.value)}{what}"))
    return out


def raise_differences(found: Sequence[Difference], compared: int, what: str,
                      show: int = 12) -> None:
    """Fail naming the first differences, if there are any."""
    if found:
        more = f"\n  ... and {len(found) - show} more" if len(found) > show else ""
        raise AssertionError(f"{len(found)} difference(s) in {compared:,} {what}:\n  "
                             + "\n  ".join(map(str, found[:show])) + more)


# --- the district workbook ------------------------------------------------------------------

MONEY = CENT_TOLERANCE


class _Cells(dict[Where, Expected]):
    """Expected values by cell, filled table by table."""

    def column(self, t: Table, key: str, values: Iterable[object], tolerance: float = 0.0,
               what: str = "") -> None:
        for i, value in enumerate(values):
            self[(t.sheet, t.first_row + i, t.col(key))] = expect(value, tolerance, what)

    def at(self, sheet: str, row: int, col: int, value: object, tolerance: float = 0.0,
           what: str = "") -> None:
        self[(sheet, row, col)] = expect(value, tolerance, what)


def district_expectations(inputs: DistrictInputs, result: AllocationResult | None = None,
                          layout: DistrictLayout | None = None,
                          choices: Sequence[tuple[object, object]] = ()
                          ) -> dict[Where, Expected]:
    """What every computed cell of the district workbook must show, from the engine; the
    Scenarios sheet's with these (parameter, value) rows typed in."""
    layout = layout or DistrictLayout.of(inputs)
    result = result or allocate(inputs)
    cells = _Cells()
    _policy_sheet(cells, inputs, result, layout)
    _calculation(cells, inputs, result, layout)
    _allocations(cells, inputs, result, layout)
    _summary(cells, inputs, result, layout)
    _lists(cells, inputs, layout)
    _scenarios(cells, inputs, layout, choices)
    return cells


def _scenarios(cells: _Cells, inputs: DistrictInputs, layout: DistrictLayout,
               choices: Sequence[tuple[object, object]]) -> None:
    """The Scenarios sheet and its workings: the working sheets show what Policy,
    Calculation and Allocations would show were the scenario the policy of record
    (scenario.apply, formula.allocate); the Scenarios sheet compares it with today
    (compare.py)."""
    rows = [*choices, *[(None, None)] * (SCENARIO_CHOICES - len(choices))]
    scenario = scenario_from_choices(inputs, rows)
    overlaid = scenario.apply(inputs)
    comparison = compare(inputs, [scenario])
    run = comparison.runs[0]
    working, same = _Cells(), DistrictLayout.of(overlaid)  # the same addresses
    _policy_sheet(working, overlaid, run.result, same)
    _calculation(working, overlaid, run.result, same)
    _allocations(working, overlaid, run.result, same)
    for (sheet, row, col), e in working.items():
        if sheet in S.SHADOWS:
            cells[(S.SHADOWS[sheet], row, col)] = e
    records = policy_records(same, overlaid)
    for (row, col), (value, _target) in policy_inputs(same, overlaid, records).items():
        cells.at(S.SCENARIO_POLICY, row, col, value, what="scenario's policy input")
    t = layout.scenario_choices
    read = read_choices(inputs, rows)
    cells.column(t, "number", [c.number for c in read])
    cells.column(t, "today", [c.today for c in read])
    cells.column(t, "applied", [c.applied for c in read])
    cells.column(t, "check", [c.check for c in read])
    params = parameters(inputs)
    catalog = layout.scenario_catalog
    cells.column(catalog, "number", range(1, len(params) + 1))
    cells.column(catalog, "today", [p.today for p in params])
    cells.column(catalog, "low", [p.low for p in params])
    cells.column(catalog, "high", [p.high for p in params])
    changes = comparison.school_changes(0)
    winners, losers = len(comparison.winners(0)), len(comparison.losers(0))
    b = SCENARIO_RESULTS
    for key, value, tolerance in (
            ("winners", winners, 0.0), ("losers", losers, 0.0),
            ("unchanged", len(changes) - winners - losers, 0.0),
            ("today_total", money_sum(comparison.today.totals), MONEY),
            ("scenario_total", money_sum(run.totals), MONEY),
            ("change", excel_round(money_sum(run.totals) - money_sum(comparison.today.totals)),
             MONEY),
            ("base_today", comparison.today.result.base_rate, 0.0),
            ("base_scenario", run.result.base_rate, 0.0)):
        cells.at(b.sheet, b.row(key), b.value_col, value, tolerance, f"scenario {key}")
    t = layout.scenario_schools

    def blank(v: object) -> object:
        return "" if v is None else v

    cells.column(t, "school_id", [c.school.school_id for c in changes])
    cells.column(t, "name", [c.school.name for c in changes])
    cells.column(t, "today", [c.today for c in changes], MONEY, "today's total")
    cells.column(t, "scenario", [c.scenario for c in changes], MONEY, "scenario total")
    cells.column(t, "change", [c.change for c in changes], MONEY, "change")
    cells.column(t, "change_share", [blank(c.change_share) for c in changes], 0.0, "change %")
    cells.column(t, "today_per_pupil", [blank(c.today_per_pupil) for c in changes], MONEY)
    cells.column(t, "scenario_per_pupil", [blank(c.scenario_per_pupil) for c in changes], MONEY)
    cells.column(t, "change_per_pupil", [blank(c.change_per_pupil) for c in changes], MONEY)
    cells.column(t, "result", [c.verdict for c in changes])
    cells.column(t, "need_share", [s.unduplicated / s.enrollment if s.enrollment > 0 else 0.0
                                   for s in inputs.schools])


def _transition(inputs: DistrictInputs, result: AllocationResult):
    """The transition figures the Policy sheet shows (all zero but the reserve without a
    transition component)."""
    if any(c.kind == "transition" for c in inputs.policy.components):
        return result.transition
    zeros = np.zeros(len(inputs.schools))
    return transition_rule(inputs.district, zeros, zeros)


def _counted(inputs: DistrictInputs, r) -> bool:
    """Counted (1/0): unrestricted and in the budget; transition unless paid from a reserve."""
    if r.restricted:
        return False
    if r.component.kind == "transition":
        return inputs.district.transition_mode != "reserve"
    return r.component.in_budget


def _linear_total(inputs: DistrictInputs, r) -> float:
    """Driver total x rate, or pupils x rate summed over the bands (unrounded)."""
    c = r.component
    if c.bands:
        passes = passes_conditions(inputs.schools, c)
        return math.fsum(math.fsum(np.where(passes, b, 0.0)) * band.rate for b, band in
                         zip(band_pupils(inputs.schools, inputs.policy, c), c.bands,
                             strict=True))
    return math.fsum(r.driver) * c.rate


def _policy_sheet(cells: _Cells, inputs: DistrictInputs, result: AllocationResult,
                  layout: DistrictLayout) -> None:
    t = _transition(inputs, result)
    settings = {
        "base_units": (result.base_units, 0.0), "fixed_total": (result.fixed_unrestricted, MONEY),
        "solved_base_rate": (result.solved_base_rate, 0.0),
        "base_rate_in_use": (result.base_rate, 0.0),
        "transition_protection": (t.protection_total, MONEY),
        "transition_gains": (t.gains_total, MONEY), "transition_funding": (t.funding, MONEY),
        "transition_paid": (t.paid, 0.0), "transition_taken": (t.taken, 0.0),
        "budget_counted": (result.budget_total, MONEY),
    }
    for key, (value, tolerance) in settings.items():
        cells.at(SETTINGS.sheet, SETTINGS.row(key), SETTINGS.value_col, value, tolerance, key)
    schools, policy = inputs.schools, inputs.policy
    cells.column(layout.spans, "pupils", [sum(span_count(s, span.grades) for s in schools)
                                          for span in policy.spans])
    comp, base = layout.components, result.base_rate
    rows: dict[str, list[object]] = {k: [] for k in (
        "rate_usd", "digits", "unrestricted", "counted", "driver_total", "base_units", "fixed",
        "total", "schools")}
    for r in result.components:
        c, counted = r.component, _counted(inputs, r)
        weight = c.rate_unit == "weight"
        linear = c.kind in ("per_pupil", "concentration", "categorical")
        total = math.fsum(r.amount)
        rows["rate_usd"].append(base if c.kind == "base" else
                                c.rate * base if linear and weight else c.rate)
        rows["digits"].append(c.round_digits)
        rows["unrestricted"].append(not r.restricted)
        rows["counted"].append(counted)
        rows["driver_total"].append(math.fsum(r.driver))
        if c.kind == "base":
            rows["base_units"].append(math.fsum(r.driver) if counted else 0)
            rows["fixed"].append(0)
        elif linear:
            rows["base_units"].append(_linear_total(inputs, r) if counted and weight else 0)
            rows["fixed"].append(_linear_total(inputs, r) if counted and not weight else 0)
        else:
            rows["base_units"].append(0)
            rows["fixed"].append(total if counted and c.kind != "transition" else 0)
        rows["total"].append(total)
        rows["schools"].append(int(np.count_nonzero(r.amount)))
    for key, values in rows.items():
        cells.column(comp, key, values, MONEY if key in ("fixed", "total") else 0.0, key)
    passing, band_rate, band_total = [], [], []
    for c, k in layout.condition_list:
        passing.append(math.fsum(condition_results(schools, c)[k]))
    for c, k in layout.band_list:
        rate = c.bands[k].rate
        band_rate.append(rate * base if c.rate_unit == "weight" else rate)
        passes = passes_conditions(schools, c)
        band_total.append(math.fsum(np.where(passes, band_pupils(schools, policy, c)[k], 0.0)))
    cells.column(layout.conditions, "passing", passing)
    cells.column(layout.bands, "rate_usd", band_rate)
    cells.column(layout.bands, "pupils", band_total)


def _calculation(cells: _Cells, inputs: DistrictInputs, result: AllocationResult,
                 layout: DistrictLayout) -> None:
    schools, policy, t = inputs.schools, inputs.policy, layout.calculation
    cells.column(layout.schools, "enrollment", [s.enrollment for s in schools])
    cells.column(t, "school_id", [s.school_id for s in schools])
    cells.column(t, "name", [s.name for s in schools])
    cells.column(t, "level_index", [LEVELS.index(s.level) + 1 for s in schools])
    cells.column(t, "enrollment", [s.enrollment for s in schools])
    need = [s.unduplicated / s.enrollment if s.enrollment > 0 else 0.0 for s in schools]
    cells.column(t, "need_share", need)
    for j, span in enumerate(policy.spans):
        cells.column(t, f"span_{j}", [span_count(s, span.grades) for s in schools])
    for r in result.components:
        c = r.component
        if c.kind == "transition":
            tr = result.transition
            cells.column(t, "formula_total", tr.formula_total, MONEY)
            cells.column(t, "prior", tr.prior, MONEY)
            cells.column(t, "protection", tr.protection, MONEY)
            cells.column(t, "gain", tr.gains, MONEY)
            continue
        for k, passed in enumerate(condition_results(schools, c)):
            cells.column(t, f"cond_{c.code}_{k}", passed)
        passes = passes_conditions(schools, c)
        if c.conditions:
            cells.column(t, f"pass_{c.code}", passes)
        for k, pupils in enumerate(band_pupils(schools, policy, c)):
            cells.column(t, f"band_{c.code}_{k}", np.where(passes, pupils, 0.0))
        if c.kind != "adjustment":
            cells.column(t, f"driver_{c.code}", r.driver)
        if c.kind in FIXED_KINDS:
            cells.column(t, f"amount_{c.code}", r.amount, MONEY)


def _allocations(cells: _Cells, inputs: DistrictInputs, result: AllocationResult,
                 layout: DistrictLayout) -> None:
    t, schools = layout.allocations, inputs.schools
    for r in result.components:
        col = t.col(f"amount_{r.component.code}")
        cells.at(S.ALLOCATIONS, layout.fund_row, col, r.component.fund, what="fund code")
        cells.at(S.ALLOCATIONS, layout.unrestricted_row, col, not r.restricted,
                 what="unrestricted flag")
        cells.at(S.ALLOCATIONS, layout.counted_row, col,
                 _counted(inputs, r) and r.component.kind != "transition", what="counted flag")
        cells.column(t, f"amount_{r.component.code}", r.amount, MONEY, r.component.code)
    wide = result.by_school()
    for f in inputs.policy.funds:
        cells.column(t, f"fund_{f.code}", wide[f"total_{f.code}"], MONEY, f"fund {f.code}")
    n = len(schools)
    pupils = [s.count(inputs.district.per_pupil_enrollment) for s in schools]
    total = [result.school_total(i) for i in range(n)]
    unrestricted = [result.school_total(i, False) for i in range(n)]
    prior = [s.prior_year_allocation for s in schools]
    cells.column(t, "school_id", [s.school_id for s in schools])
    cells.column(t, "name", [s.name for s in schools])
    cells.column(t, "level", [s.level for s in schools])
    cells.column(t, "enrollment", pupils)
    cells.column(t, "total", total, MONEY, "total")
    cells.column(t, "unrestricted", unrestricted, MONEY, "unrestricted total")
    cells.column(t, "per_pupil", [excel_round(total[i] / pupils[i]) if pupils[i] > 0 else ""
                                  for i in range(n)], MONEY, "per pupil")
    cells.column(t, "prior", prior, MONEY)
    cells.column(t, "change", [excel_round(unrestricted[i] - prior[i]) if prior[i] > 0 else ""
                               for i in range(n)], MONEY, "change against prior year")
    cells.column(t, "change_share", [(unrestricted[i] - prior[i]) / prior[i] if prior[i] > 0
                                     else "" for i in range(n)], 0.0, "change %")
    cells.column(t, "need_share", [s.unduplicated / s.enrollment if s.enrollment > 0 else 0.0
                                   for s in schools])


def summary_figures(inputs: DistrictInputs, result: AllocationResult) -> dict[str, object]:
    """The Summary's figures by label (n/a where a statistic is undefined)."""
    d, t = inputs.district, _transition(inputs, result)
    pp, _need = per_pupil(result)
    stats = equity_stats(result)
    if stats is not None:
        cv, mcloone, verstegen = stats.cv, stats.mcloone, stats.verstegen
        range_ratio, slope, correl = stats.range_ratio, stats.need_slope, stats.need_correlation
    else:  # one school with pupils (or none): no spread, no slope
        cv = range_ratio = 0.0 if pp and pp[0] else None
        mcloone, verstegen, slope, correl = 1.0, 1.0, None, None
    gap = ("n/a" if d.base_rate_mode == "fixed" and d.budget == 0
           else result.rounding_difference)
    return {
        "Schools": len(inputs.schools),
        "Pupils": math.fsum(s.count(d.per_pupil_enrollment) for s in inputs.schools),
        "Budget (unrestricted formula total)": d.budget,
        "Counted against the budget": result.budget_total,
        "budget minus counted": gap,
        "Unrestricted allocated (amounts on top of the budget too)": result.unrestricted_total,
        "Base rate in use (per weighted pupil)": result.base_rate,
        "Per pupil, all funds: lowest": min(pp, default=0.0),
        "Per pupil, all funds: median": statistics.median(pp) if pp else 0.0,
        "Per pupil, all funds: highest": max(pp, default=0.0),
        "Per pupil: coefficient of variation": "n/a" if cv is None else cv,
        "McLoone index (below the median)": mcloone,
        "Verstegen index (above the median)": verstegen,
        "Federal range ratio (P95 - P5) / P5": "n/a" if range_ratio is None else range_ratio,
        "Per pupil more from 0% to 100% high-need pupils (slope)":
            "n/a" if slope is None else slope,
        "Correlation of per pupil with need share": "n/a" if correl is None else correl,
        "Transition: shortfall below floors": t.protection_total,
        "Transition: money available to pay it": t.funding,
        "Transition: share of each shortfall paid": t.paid,
        "Transition promise": transition_promise(result),
    }


def budget_line_label(inputs: DistrictInputs) -> str:
    """What the Summary's budget line says the gap is (BUDGET_GAP_LABEL, in words)."""
    d = inputs.district
    if d.base_rate_mode == "fixed":
        return ("No budget set (fixed base rate)" if d.budget == 0
                else "Unallocated against the budget")
    return "Rounding difference (budget - counted)"


def _summary(cells: _Cells, inputs: DistrictInputs, result: AllocationResult,
             layout: DistrictLayout) -> None:
    figures = summary_figures(inputs, result)
    funds = result.fund_totals()
    totals = {r.component.code: math.fsum(r.amount) for r in result.components}
    money = ("Budget", "Counted", "budget minus", "Unrestricted", "Transition: shortfall",
             "Transition: money")
    for put in summary_cells(layout):
        what = put.what
        if not what:
            continue
        if put.value == BUDGET_GAP_LABEL:
            value, tolerance = budget_line_label(inputs), 0.0
        elif what.startswith("total of fund "):
            value, tolerance = funds[what.removeprefix("total of fund ")], MONEY
        elif what == "total of all funds":
            value, tolerance = excel_round(math.fsum(funds.values())), MONEY
        elif what.startswith("fund of component "):
            code = what.removeprefix("fund of component ")
            value, tolerance = next(c.fund for c in inputs.policy.components if c.code == code), 0.0
        elif what.startswith("total of component "):
            value, tolerance = totals[what.removeprefix("total of component ")], MONEY
        elif what in figures:
            value = figures[what]
            tolerance = MONEY if what.startswith(money) or what.startswith("Per pupil, all") \
                else 0.0
        else:
            continue  # no expectation: compare_cells reports the cell
        cells.at(S.SUMMARY, put.row, put.col, value, tolerance, what)


def _lists(cells: _Cells, inputs: DistrictInputs, layout: DistrictLayout) -> None:
    cells.column(layout.job_classes, "average_cost",
                 [excel_round(j.average_cost) for j in inputs.policy.job_classes], MONEY)
    t = layout.adjustments
    ids = [s.school_id for s in inputs.schools]
    codes = [c.code for c in layout.adjustment_components]
    lines = list(inputs.adjustments)
    blank = [""] * (t.rows - len(lines))
    cells.column(t, "school_row", [ids.index(a.school_id) + 1 if a.school_id in ids else 0
                                   for a in lines] + blank)
    cells.column(t, "component_row", [codes.index(a.component) + 1 if a.component in codes
                                      else 0 for a in lines] + blank)
    cells.column(t, "status", ["OK"] * len(lines) + blank)


class DistrictOracle:
    """The engine's value of every computed cell of one district workbook."""

    def __init__(self, inputs: DistrictInputs, result: AllocationResult | None = None,
                 layout: DistrictLayout | None = None,
                 choices: Sequence[tuple[object, object]] = ()):
        self.inputs = inputs
        self.layout = layout or DistrictLayout.of(inputs)
        self.result = result or allocate(inputs)
        self.expected = district_expectations(inputs, self.result, self.layout, choices)
        self.cells = [(s, r, c) for s, r, c, _content in computed_cells(inputs, self.layout)]

    def differences(self, book: Mapping[str, Rows]) -> list[Difference]:
        """Error values, and computed cells whose value is not the engine's."""
        return compare_cells(book, self.cells, self.expected, "engine")


def assert_district_matches_engine(book: Mapping[str, Rows], inputs: DistrictInputs,
                                   result: AllocationResult | None = None,
                                   layout: DistrictLayout | None = None, show: int = 12,
                                   choices: Sequence[tuple[object, object]] = ()) -> int:
    """Assert no error value and every computed cell equal to the engine (the Scenarios
    sheet's with these choices typed in); return how many computed cells were compared."""
    oracle = DistrictOracle(inputs, result, layout, choices)
    raise_differences(oracle.differences(book), len(oracle.cells),
                      "computed cells of the district workbook", show)
    return len(oracle.cells)


# --- the school plan ------------------------------------------------------------------------


def plan_formula_cells(spec: SchoolPlanSpec) -> list[Where]:
    """Every formula cell of a plan: plan_math's declarations, and the Lists sheet's average
    cost of each job class (computed from the district's salary and benefits rate)."""
    layout = SchoolLayout(spec.policy)
    out = []
    for sheet, formulas in plan_formulas(spec.policy).cells.items():
        for address in formulas:
            letters, row = coordinate_from_string(address)
            out.append((sheet, row, column_index_from_string(letters)))
    jobs = layout.jobs
    out += [(jobs.sheet, jobs.first_row + i, jobs.col("average_cost"))
            for i in range(len(spec.policy.job_classes))]
    return out


def plan_expectations(spec: SchoolPlanSpec, grid: Grid) -> dict[Where, Expected]:
    """What every formula cell of a plan must show: plan.evaluate on the grid's input cells,
    with the district's lists and the school's allocation of record."""
    layout = SchoolLayout(spec.policy)
    allocation = {f.code: spec.fund_allocation(f.code) for f in spec.policy.funds}
    out: dict[Where, Expected] = {}
    for sheet, values in evaluated_cells(evaluate(grid, spec.policy, allocation, layout),
                                         layout).items():
        for address, value in values.items():
            letters, row = coordinate_from_string(address)
            where = (sheet, row, column_index_from_string(letters))
            if value is None or isinstance(value, XlError):
                continue  # no expectation: compare_cells reports the cell
            out[where] = expect(value, PLAN_TOLERANCE)
    jobs = layout.jobs
    for i, j in enumerate(spec.policy.job_classes):
        out[(jobs.sheet, jobs.first_row + i, jobs.col("average_cost"))] = expect(
            excel_round(j.average_cost), CENT_TOLERANCE, f"average cost of {j.code}")
    return out


#: Plan figures agree to a millionth (money to the cent, FTE and list rows exactly).
PLAN_TOLERANCE = 1e-6


class PlanOracle:
    """Python's value of every formula cell of one filled plan."""

    def __init__(self, spec: SchoolPlanSpec, grid: Grid):
        self.spec = spec
        self.cells = plan_formula_cells(spec)
        self.expected = plan_expectations(spec, grid)

    def differences(self, book: Mapping[str, Rows]) -> list[Difference]:
        """Error values, and formula cells whose value is not Python's."""
        return compare_cells(book, self.cells, self.expected, "Python")


def assert_plan_matches_python(book: Mapping[str, Rows], spec: SchoolPlanSpec, grid: Grid,
                               show: int = 12) -> int:
    """Assert no error value and every formula cell of a plan equal to Python's evaluation of
    its inputs; return how many formula cells were compared."""
    oracle = PlanOracle(spec, grid)
    raise_differences(oracle.differences(book), len(oracle.cells),
                      f"formula cells of {spec.school.school_id}'s plan", show)
    return len(oracle.cells)
