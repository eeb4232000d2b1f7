"""The allocation engine: district inputs in, school x component x fund amounts out.

This is the reference for every number ssfr-xl shows. The district workbook's Excel formulas
(district_book.py) perform the same arithmetic in the same order, so a spreadsheet engine and
this module agree to the cent; tests prove it by recalculating workbooks in LibreOffice.

Order of work, as in the workbook:
1. drivers: per school and component, the count the rate applies to (span-weighted
   enrollment, pupils on a basis, pupils above a threshold, shortfall below a minimum, ...);
2. the base rate: fixed, or solved so the unrestricted total equals the budget
   (budget - fixed unrestricted amounts) / base-weighted units;
3. amounts: ROUND(driver x rate, 2) and the kind-specific rules, each rounded to the cent;
4. transition protection on the unrestricted total, paid for by scaling gains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import PolicyError
from .model import GRADES, LEVELS, Component, DistrictInputs, Policy, School
from .money import excel_round, excel_round_array
from .transition import Transition, transition_rule


@dataclass
class ComponentResult:
    """One component's figures for every school (arrays in roster order)."""

    component: Component
    restricted: bool
    driver: np.ndarray  # the count the rate applies to (0 where not eligible)
    eligible: np.ndarray  # bool: the school qualifies
    rate: float  # effective dollars per unit of driver
    amount: np.ndarray  # rounded to the cent

    @property
    def base_linear(self) -> bool:
        """True when the amount moves with the base rate (takes part in the solve)."""
        c = self.component
        return c.kind == "base" or c.rate_unit == "weight"


@dataclass
class AllocationResult:
    """Everything the engine computed: the tidy table and the figures that explain it."""

    inputs: DistrictInputs
    components: list[ComponentResult]
    base_rate: float
    solved_base_rate: float
    base_units: float
    fixed_unrestricted: float
    transition_protection: float  # total paid to protected schools before scaling
    transition_gains: float  # total gains above prior year before scaling
    notes: list[str]
    transition: Transition = field(default_factory=Transition)

    @property
    def schools(self) -> tuple[School, ...]:
        """The roster, in order."""
        return self.inputs.schools

    def table(self) -> pd.DataFrame:
        """Tidy table: school_id, school_name, component, fund, amount (one row per pair)."""
        n = len(self.schools)
        frames = [
            pd.DataFrame(
                {
                    "school_id": [s.school_id for s in self.schools],
                    "school_name": [s.name for s in self.schools],
                    "component": [r.component.code] * n,
                    "fund": [r.component.fund] * n,
                    "amount": r.amount,
                }
            )
            for r in self.components
        ]
        if not frames:
            return pd.DataFrame(columns=["school_id", "school_name", "component", "fund", "amount"])
        return pd.concat(frames, ignore_index=True)

    def by_school(self) -> pd.DataFrame:
        """Wide table: a row per school, a column per component, plus totals by fund."""
        wide = pd.DataFrame({"school_id": [s.school_id for s in self.schools]})
        wide["school_name"] = [s.name for s in self.schools]
        for r in self.components:
            wide[r.component.code] = r.amount
        for fund in self.inputs.policy.funds:
            cols = [r.amount for r in self.components if r.component.fund == fund.code]
            wide[f"total_{fund.code}"] = _row_money_sum(cols, len(self.schools))
        return wide

    def fund_totals(self) -> dict[str, float]:
        """District total per fund code."""
        return {
            f.code: excel_round(
                math.fsum(
                    float(v)
                    for r in self.components
                    if r.component.fund == f.code
                    for v in r.amount
                )
            )
            for f in self.inputs.policy.funds
        }

    @property
    def unrestricted_total(self) -> float:
        """All unrestricted amounts, transition included."""
        return excel_round(
            math.fsum(float(v) for r in self.components if not r.restricted for v in r.amount)
        )

    def counts_in_budget(self, r: ComponentResult) -> bool:
        """Whether a component's amounts count against the budget the base is solved to:
        unrestricted, in the budget, and (for transition) not paid from a reserve."""
        if r.restricted or not r.component.in_budget:
            return False
        return r.component.kind != "transition" or self.transition.mode != "reserve"

    @property
    def budget_total(self) -> float:
        """The unrestricted amounts that count against the budget."""
        return excel_round(
            math.fsum(float(v) for r in self.components if self.counts_in_budget(r)
                      for v in r.amount)
        )

    @property
    def rounding_difference(self) -> float:
        """Budget minus what counts against it: with a solved base rate, the cents lost or
        gained to rounding; with a fixed base rate, what is left unallocated."""
        return excel_round(self.inputs.district.budget - self.budget_total)

    def school_total(self, index: int, restricted: bool | None = None) -> float:
        """A school's total, all funds or only (un)restricted ones."""
        return excel_round(
            math.fsum(
                float(r.amount[index])
                for r in self.components
                if restricted is None or r.restricted == restricted
            )
        )


def _row_money_sum(columns: list[np.ndarray], n: int) -> np.ndarray:
    if not columns:
        return np.zeros(n)
    return excel_round_array(math.fsum(float(c[i]) for c in columns) for i in range(n))


def count_basis(schools: tuple[School, ...], policy: Policy, c: Component) -> np.ndarray:
    """Pupils on a component's basis: the basis columns added, or counted once (unduplicated)."""
    total = np.zeros(len(schools))
    for field_name in c.basis:
        total = total + _basis_column(schools, policy, field_name)
    if c.counting == "unduplicated":
        total = np.minimum(np.array([float(s.unduplicated) for s in schools]), total)
    return total


def _basis_column(schools: tuple[School, ...], policy: Policy, field_name: str) -> np.ndarray:
    if field_name.startswith("span:"):
        span = next(s for s in policy.spans if s.name == field_name[5:])
        return np.array([float(span_count(s, span.grades)) for s in schools])
    return count_column(schools, field_name)


def count_column(schools: tuple[School, ...], field_name: str) -> np.ndarray:
    """A count column (built-in or declared by the policy) for every school."""
    return np.array([float(s.count(field_name)) for s in schools])


def span_count(school: School, grades: tuple[str, ...]) -> int:
    """Pupils in the given grades."""
    return sum(school.enrollment_by_grade.get(g, 0) for g in grades)


def measure_values(schools: tuple[School, ...], c: Component, measure: str) -> np.ndarray:
    """A condition's measure for every school (see model.Condition)."""
    kind, _, arg = measure.partition(":")
    if not arg:
        return count_column(schools, measure)
    if kind == "share":
        counts, enrollment = count_column(schools, arg), count_column(schools, c.enrollment)
        return np.divide(counts, enrollment, out=np.zeros(len(schools)), where=enrollment > 0)
    if kind == "flag":
        return count_column(schools, arg)
    if kind == "level":
        return np.array([1.0 if s.level == arg else 0.0 for s in schools])
    first, _, last = arg.partition("-")
    grades = GRADES[GRADES.index(_grade(first)): GRADES.index(_grade(last)) + 1]
    return np.array([float(span_count(s, grades)) for s in schools])


def _grade(label: str) -> str:
    from .model import grade_index

    return GRADES[grade_index(label)]


_COMPARE = {
    ">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal,
    "=": np.equal, "<>": np.not_equal,
}


def condition_results(schools: tuple[School, ...], c: Component) -> list[np.ndarray]:
    """Per condition, 1.0 where the school passes it."""
    return [_COMPARE[k.operator](measure_values(schools, c, k.measure), k.value).astype(float)
            for k in c.conditions]


def passes_conditions(schools: tuple[School, ...], c: Component) -> np.ndarray:
    """True where a school meets the component's conditions (all of them, or any one)."""
    results = condition_results(schools, c)
    if not results:
        return np.ones(len(schools), dtype=bool)
    stacked = np.vstack(results)
    combined = stacked.min(axis=0) if c.eligible == "all" else stacked.max(axis=0)
    return combined > 0


def band_pupils(schools: tuple[School, ...], policy: Policy, c: Component) -> list[np.ndarray]:
    """Per rate band, the pupils it pays for in each school."""
    if c.bands and c.bands[0].level:
        basis = count_basis(schools, policy, c)
        return [np.where(np.array([s.level == b.level for s in schools]), basis, 0.0)
                for b in c.bands]
    return [np.array([float(span_count(s, b.grades)) for s in schools]) for b in c.bands]


def adjustment_amounts(inputs: DistrictInputs, c: Component) -> np.ndarray:
    """Each school's total of the Adjustments lines of one adjustment component."""
    index = {s.school_id: i for i, s in enumerate(inputs.schools)}
    parts: list[list[float]] = [[] for _ in inputs.schools]
    for a in inputs.adjustments:
        if a.component == c.code and a.school_id in index:
            parts[index[a.school_id]].append(a.amount)
    return np.array([math.fsum(p) for p in parts])


def allocate(inputs: DistrictInputs) -> AllocationResult:
    """Run the formula on a district's inputs."""
    policy, district, schools = inputs.policy, inputs.district, inputs.schools
    n = len(schools)
    restricted = {f.code: f.restricted for f in policy.funds}
    unduplicated = np.array([float(s.unduplicated) for s in schools])
    level_index = np.array([LEVELS.index(s.level) for s in schools], dtype=int)
    for s in schools:
        if set(s.enrollment_by_grade) - set(GRADES):
            raise PolicyError(f"School {s.school_id} has unknown grades.")

    # 1. drivers (and the eligibility that zeroes some of them)
    drivers: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    bands: dict[str, list[np.ndarray]] = {}
    for c in policy.components:
        passes = passes_conditions(schools, c)
        measured = count_column(schools, c.enrollment)  # the component's enrollment
        eligible = np.ones(n, dtype=bool)
        if c.kind == "base":
            if c.basis:
                driver = count_basis(schools, policy, c)
            else:
                driver = np.zeros(n)
                for span in policy.spans:
                    counts = np.array([float(span_count(s, span.grades)) for s in schools])
                    driver = driver + span.weight * counts
        elif c.kind == "per_pupil":
            if c.bands:
                bands[c.code] = [np.where(passes, b, 0.0) for b in band_pupils(schools, policy, c)]
                driver = np.zeros(n)
                for b in bands[c.code]:
                    driver = driver + b
            else:
                driver = count_basis(schools, policy, c)
        elif c.kind == "concentration":
            basis = count_basis(schools, policy, c)
            driver = np.maximum(0.0, basis - c.threshold * measured)
            eligible = driver > 0
        elif c.kind == "categorical":
            basis = count_basis(schools, policy, c)
            if c.conditions:
                eligible = np.ones(n, dtype=bool)
            else:
                share = np.divide(basis, measured, out=np.zeros(n), where=measured > 0)
                threshold = np.array([c.by_level[i] for i in level_index])
                eligible = share > threshold
            driver = np.where(eligible, basis, 0.0)
        elif c.kind == "foundation":
            driver = np.ones(n)
        elif c.kind == "small_school":
            minimum = np.array([c.by_level[i] for i in level_index])
            driver = np.maximum(0.0, minimum - measured)
            eligible = driver > 0
        elif c.kind == "pool":
            driver = count_basis(schools, policy, c)
            eligible = driver > 0
        elif c.kind == "floor":
            driver = count_basis(schools, policy, c)
            if not c.conditions:
                need_share = np.divide(unduplicated, measured, out=np.zeros(n),
                                       where=measured > 0)
                threshold = np.array([c.by_level[i] for i in level_index])
                eligible = need_share > threshold
        elif c.kind in ("transition", "adjustment"):
            driver = np.zeros(n)
        else:  # pragma: no cover - check_policy rejects unknown kinds
            raise PolicyError(f"Component {c.code}: unknown kind {c.kind!r}.")
        if c.conditions:
            eligible = eligible & passes
            driver = np.where(passes, driver, 0.0)
        drivers[c.code] = (driver, eligible)

    # 2. amounts that do not move with the base rate, then the base rate
    def effective_rate(c: Component, base_rate: float) -> float:
        return c.rate * base_rate if c.rate_unit == "weight" else c.rate

    def rounded(c: Component, values: np.ndarray) -> np.ndarray:
        return excel_round_array(values, c.round_digits)

    results: dict[str, ComponentResult] = {}
    for c in policy.components:
        if c.kind == "base" or c.rate_unit == "weight" or c.kind == "transition":
            continue
        driver, eligible = drivers[c.code]
        rate = c.rate
        if c.kind == "foundation":
            amount = np.where(eligible, rounded(c, np.array([c.by_level[i] for i in level_index])),
                              0.0)
        elif c.kind == "small_school":
            raw = driver * rate
            if c.cap > 0:
                raw = np.minimum(c.cap, raw)
            amount = rounded(c, raw)
        elif c.kind == "pool":
            total = math.fsum(driver)
            amount = (
                rounded(c, c.pool * driver / total) if total > 0 else np.zeros(n)
            )
        elif c.kind == "floor":
            amount = np.where(
                eligible, rounded(c, np.maximum(c.minimum, driver * rate)), 0.0
            )
        elif c.kind == "adjustment":
            amount = rounded(c, adjustment_amounts(inputs, c))
            eligible = amount != 0
        elif c.bands:
            amount = rounded(c, _banded(bands[c.code], [b.rate for b in c.bands]))
        else:
            amount = rounded(c, driver * rate)
        results[c.code] = ComponentResult(c, restricted[c.fund], driver, eligible, rate, amount)

    # The solve, as the Policy sheet does it: fixed dollars and base-weighted units per
    # component. Linear components priced in dollars count unrounded (driver total x rate):
    # taking their rounded amounts would make the workbook's solve depend on itself.
    fixed_parts, unit_parts = [], []
    for c in policy.components:
        if restricted[c.fund] or c.kind == "transition" or not c.in_budget:
            continue
        driver_total = math.fsum(drivers[c.code][0])
        linear_total = (math.fsum(math.fsum(b) * band.rate for b, band in
                                  zip(bands[c.code], c.bands, strict=True))
                        if c.bands else driver_total * c.rate)
        if c.kind == "base":
            unit_parts.append(driver_total)
        elif c.rate_unit == "weight":
            unit_parts.append(linear_total)
        elif c.kind in ("per_pupil", "concentration", "categorical"):
            fixed_parts.append(linear_total)
        else:
            fixed_parts.append(math.fsum(results[c.code].amount))
    fixed_unrestricted = math.fsum(fixed_parts)
    base_units = math.fsum(unit_parts)
    notes: list[str] = []
    solved = (district.budget - fixed_unrestricted) / base_units if base_units > 0 else 0.0
    if district.base_rate_mode == "solve":
        base_rate = solved
        if base_units <= 0:
            notes.append("No pupils carry a base weight in unrestricted funds: the base rate "
                         "cannot be solved, so it is 0.")
        elif solved < 0:
            notes.append(
                f"The fixed unrestricted amounts ({fixed_unrestricted:,.2f}) exceed the budget "
                f"({district.budget:,.2f}): the solved base rate is negative. Raise the budget "
                "or lower foundation, small-school and pool amounts."
            )
    else:
        base_rate = district.base_rate

    for c in policy.components:
        if c.kind == "base" or (c.rate_unit == "weight" and c.kind != "transition"):
            driver, eligible = drivers[c.code]
            rate = base_rate if c.kind == "base" else effective_rate(c, base_rate)
            if c.bands:
                amount = rounded(c, _banded(bands[c.code],
                                            [b.rate * base_rate for b in c.bands]))
            else:
                amount = rounded(c, driver * rate)
            results[c.code] = ComponentResult(
                c, restricted[c.fund], driver, eligible, rate, amount
            )

    # 4. transition protection on the unrestricted formula total
    transition = Transition()
    for c in policy.components:
        if c.kind != "transition":
            continue
        formula_total = np.array(
            [
                math.fsum(float(r.amount[i]) for r in results.values()
                          if not r.restricted and r.component.in_budget)
                for i in range(n)
            ]
        )
        prior = np.array([float(s.prior_year_allocation) for s in schools])
        transition = transition_rule(district, formula_total, prior)
        amount = excel_round_array(transition.protection * transition.paid
                                   - transition.gains * transition.taken, c.round_digits)
        transition.amounts = amount
        notes += transition.notes(district)
        results[c.code] = ComponentResult(
            c, restricted[c.fund], formula_total, transition.protection > 0, 0.0, amount
        )

    ordered = [results[c.code] for c in policy.components]
    return AllocationResult(
        inputs=inputs,
        components=ordered,
        base_rate=base_rate,
        solved_base_rate=solved,
        base_units=base_units,
        fixed_unrestricted=fixed_unrestricted,
        transition_protection=transition.protection_total,
        transition_gains=transition.gains_total,
        notes=notes,
        transition=transition,
    )


def _banded(pupils: list[np.ndarray], rates: list[float]) -> np.ndarray:
    """Sum over bands of pupils x rate, added in band order as the workbook does."""
    total = np.zeros(len(pupils[0])) if pupils else np.zeros(0)
    for p, r in zip(pupils, rates, strict=True):
        total = total + p * r
    return total
