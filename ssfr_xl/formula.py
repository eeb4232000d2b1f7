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
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import PolicyError
from .model import GRADES, LEVELS, Component, DistrictInputs, Policy, School
from .money import excel_round, excel_round_array


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

    @property
    def rounding_difference(self) -> float:
        """Budget minus the unrestricted total: the cents lost or gained to rounding."""
        return excel_round(self.inputs.district.budget - self.unrestricted_total)

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
    return np.array([float(s.count(field_name)) for s in schools])


def span_count(school: School, grades: tuple[str, ...]) -> int:
    """Pupils in the given grades."""
    return sum(school.enrollment_by_grade.get(g, 0) for g in grades)


def allocate(inputs: DistrictInputs) -> AllocationResult:
    """Run the formula on a district's inputs."""
    policy, district, schools = inputs.policy, inputs.district, inputs.schools
    n = len(schools)
    restricted = {f.code: f.restricted for f in policy.funds}
    enrollment = np.array([float(s.enrollment) for s in schools])
    unduplicated = np.array([float(s.unduplicated) for s in schools])
    level_index = np.array([LEVELS.index(s.level) for s in schools], dtype=int)
    need_share = np.divide(
        unduplicated, enrollment, out=np.zeros(n), where=enrollment > 0
    )
    for s in schools:
        if set(s.enrollment_by_grade) - set(GRADES):
            raise PolicyError(f"School {s.school_id} has unknown grades.")

    # 1. drivers (and the eligibility that zeroes some of them)
    drivers: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for c in policy.components:
        eligible = np.ones(n, dtype=bool)
        if c.kind == "base":
            driver = np.zeros(n)
            for span in policy.spans:
                counts = np.array([float(span_count(s, span.grades)) for s in schools])
                driver = driver + span.weight * counts
        elif c.kind == "per_pupil":
            driver = count_basis(schools, policy, c)
        elif c.kind == "concentration":
            basis = count_basis(schools, policy, c)
            driver = np.maximum(0.0, basis - c.threshold * enrollment)
            eligible = driver > 0
        elif c.kind == "categorical":
            basis = count_basis(schools, policy, c)
            share = np.divide(basis, enrollment, out=np.zeros(n), where=enrollment > 0)
            threshold = np.array([c.by_level[i] for i in level_index])
            eligible = share > threshold
            driver = np.where(eligible, basis, 0.0)
        elif c.kind == "foundation":
            driver = np.ones(n)
        elif c.kind == "small_school":
            minimum = np.array([c.by_level[i] for i in level_index])
            driver = np.maximum(0.0, minimum - enrollment)
            eligible = driver > 0
        elif c.kind == "pool":
            driver = count_basis(schools, policy, c)
            eligible = driver > 0
        elif c.kind == "floor":
            driver = count_basis(schools, policy, c)
            threshold = np.array([c.by_level[i] for i in level_index])
            eligible = need_share > threshold
        elif c.kind == "transition":
            driver = np.zeros(n)
        else:  # pragma: no cover - check_policy rejects unknown kinds
            raise PolicyError(f"Component {c.code}: unknown kind {c.kind!r}.")
        drivers[c.code] = (driver, eligible)

    # 2. amounts that do not move with the base rate, then the base rate
    def effective_rate(c: Component, base_rate: float) -> float:
        return c.rate * base_rate if c.rate_unit == "weight" else c.rate

    results: dict[str, ComponentResult] = {}
    for c in policy.components:
        if c.kind == "base" or c.rate_unit == "weight" or c.kind == "transition":
            continue
        driver, eligible = drivers[c.code]
        rate = c.rate
        if c.kind == "foundation":
            amount = excel_round_array(np.array([c.by_level[i] for i in level_index]))
        elif c.kind == "small_school":
            raw = driver * rate
            if c.cap > 0:
                raw = np.minimum(c.cap, raw)
            amount = excel_round_array(raw)
        elif c.kind == "pool":
            total = math.fsum(driver)
            amount = (
                excel_round_array(c.pool * driver / total) if total > 0 else np.zeros(n)
            )
        elif c.kind == "floor":
            amount = np.where(
                eligible, excel_round_array(np.maximum(c.minimum, driver * rate)), 0.0
            )
        else:
            amount = excel_round_array(driver * rate)
        results[c.code] = ComponentResult(c, restricted[c.fund], driver, eligible, rate, amount)

    # The solve, as the Policy sheet does it: fixed dollars and base-weighted units per
    # component. Linear components priced in dollars count unrounded (driver total x rate):
    # taking their rounded amounts would make the workbook's solve depend on itself.
    fixed_unrestricted = 0.0
    base_units = 0.0
    fixed_parts, unit_parts = [], []
    for c in policy.components:
        if restricted[c.fund] or c.kind == "transition":
            continue
        driver_total = math.fsum(drivers[c.code][0])
        if c.kind == "base":
            unit_parts.append(driver_total)
        elif c.rate_unit == "weight":
            unit_parts.append(driver_total * c.rate)
        elif c.kind in ("per_pupil", "concentration", "categorical"):
            fixed_parts.append(driver_total * c.rate)
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
            amount = excel_round_array(driver * rate)
            results[c.code] = ComponentResult(
                c, restricted[c.fund], driver, eligible, rate, amount
            )

    # 4. transition protection on the unrestricted formula total
    protection_total = gains_total = 0.0
    for c in policy.components:
        if c.kind != "transition":
            continue
        formula_total = np.array(
            [
                math.fsum(float(r.amount[i]) for r in results.values() if not r.restricted)
                for i in range(n)
            ]
        )
        prior = np.array([float(s.prior_year_allocation) for s in schools])
        has_prior = prior > 0
        floor = prior * (1 - district.transition_max_loss)
        protection = np.where(has_prior, np.maximum(0.0, floor - formula_total), 0.0)
        gains = np.where(has_prior, np.maximum(0.0, formula_total - prior), 0.0)
        protection_total, gains_total = math.fsum(protection), math.fsum(gains)
        paid = min(1.0, gains_total / protection_total) if protection_total > 0 else 0.0
        taken = min(1.0, protection_total / gains_total) if gains_total > 0 else 0.0
        amount = excel_round_array(protection * paid - gains * taken)
        if protection_total > gains_total:
            notes.append(
                "Transition protection costs more than all gains above last year: protected "
                f"schools get {paid:.1%} of their shortfall."
            )
        results[c.code] = ComponentResult(
            c, restricted[c.fund], formula_total, protection > 0, 0.0, amount
        )

    ordered = [results[c.code] for c in policy.components]
    return AllocationResult(
        inputs=inputs,
        components=ordered,
        base_rate=base_rate,
        solved_base_rate=solved,
        base_units=base_units,
        fixed_unrestricted=fixed_unrestricted,
        transition_protection=protection_total,
        transition_gains=gains_total,
        notes=notes,
    )
