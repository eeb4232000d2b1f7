"""A school's allocation by component, with the math spelled out for the Allocation sheet."""

from __future__ import annotations

from dataclasses import dataclass

from .formula import AllocationResult
from .money import format_money


@dataclass(frozen=True)
class AllocationLine:
    """One component of a school's allocation, with the math in words."""

    code: str
    name: str
    fund: str
    math: str
    amount: float


def _money(v: float) -> str:
    return format_money(v)


def allocation_lines(result: AllocationResult, index: int) -> tuple[AllocationLine, ...]:
    """A school's allocation by component, each with the math spelled out."""
    school = result.schools[index]
    policy, district = result.inputs.policy, result.inputs.district
    enrollment = school.enrollment
    level_i = ["Elementary", "Middle", "High", "Span"].index(school.level)
    lines = []
    for r in result.components:
        c, amount = r.component, float(r.amount[index])
        driver, eligible = float(r.driver[index]), bool(r.eligible[index])
        basis = " + ".join(b.replace("_", " ") for b in c.basis)
        counted = " (each pupil counted once)" if c.counting == "unduplicated" else ""
        rate_words = _money(r.rate)
        if c.rate_unit == "weight" and c.kind != "base":
            rate_words += f" (weight {c.rate:g} x base {_money(result.base_rate)})"
        if c.kind == "base":
            spans = ", ".join(
                f"{s.name}: {sum(school.enrollment_by_grade.get(g, 0) for g in s.grades):,}"
                f" x {s.weight:g}" for s in policy.spans)
            math = (f"{driver:,.2f} weighted pupils ({spans}) x base rate "
                    f"{_money(r.rate)} = {_money(amount)}")
        elif c.kind == "per_pupil":
            math = f"{driver:,.0f} pupils ({basis}{counted}) x {rate_words} = {_money(amount)}"
        elif c.kind == "concentration":
            count = driver + c.threshold * enrollment
            share = (count / enrollment) if enrollment else 0.0
            if eligible:
                math = (f"{basis}{counted}: {count:,.0f} of {enrollment:,} pupils = {share:.1%}, "
                        f"above the {c.threshold:.0%} threshold; {driver:,.2f} pupils above it"
                        f" x {rate_words} = {_money(amount)}")
            else:
                math = (f"{basis}{counted}: {share:.1%} of pupils, not above the "
                        f"{c.threshold:.0%} threshold: no allocation")
        elif c.kind == "categorical":
            threshold = c.by_level[level_i]
            if eligible:
                share = driver / enrollment if enrollment else 0.0
                math = (f"{basis}: {driver:,.0f} of {enrollment:,} pupils = {share:.1%}, above "
                        f"the {threshold:.0%} threshold for {school.level} schools: "
                        f"{driver:,.0f} x {rate_words} = {_money(amount)}")
            else:
                math = (f"{basis}: not above the {threshold:.0%} threshold for "
                        f"{school.level} schools: no allocation")
        elif c.kind == "foundation":
            math = f"Fixed amount for {school.level} schools: {_money(amount)}"
        elif c.kind == "small_school":
            minimum = c.by_level[level_i]
            if driver > 0:
                cap = f", capped at {_money(c.cap)}" if c.cap > 0 else ""
                math = (f"Enrollment {enrollment:,} is {driver:,.0f} below the {minimum:,.0f} "
                        f"minimum for {school.level} schools: {driver:,.0f} x {_money(c.rate)}"
                        f"{cap} = {_money(amount)}")
            else:
                math = (f"Enrollment {enrollment:,} meets the {minimum:,.0f} minimum for "
                        f"{school.level} schools: no adjustment")
        elif c.kind == "pool":
            total = float(r.driver.sum())
            share = driver / total if total else 0.0
            math = (f"{basis}: {driver:,.1f} of {total:,.1f} district-wide = {share:.3%} of the "
                    f"{_money(c.pool)} pool = {_money(amount)}")
        elif c.kind == "floor":
            threshold = c.by_level[level_i]
            need = school.unduplicated / enrollment if enrollment else 0.0
            if eligible:
                math = (f"Need share {need:.1%} is above the {threshold:.0%} threshold: greater "
                        f"of {driver:,.0f} x {_money(c.rate)} and {_money(c.minimum)} = "
                        f"{_money(amount)}")
            else:
                math = (f"Need share {need:.1%} is not above the {threshold:.0%} threshold: "
                        "no allocation")
        else:  # transition
            prior = school.prior_year_allocation
            if prior <= 0:
                math = "No prior-year allocation: transition protection does not apply"
            elif amount > 0:
                floor = prior * (1 - district.transition_max_loss)
                math = (f"Formula {_money(driver)} is below the floor of {_money(floor)} "
                        f"({district.transition_max_loss:.0%} below last year's {_money(prior)}):"
                        f" protection {_money(amount)}")
            elif amount < 0:
                math = (f"Formula {_money(driver)} is {_money(driver - prior)} above last year's "
                        f"{_money(prior)}; a share of the gain ({_money(-amount)}) pays for other"
                        " schools' transition protection")
            else:
                math = "Within the transition limits: no adjustment"
        lines.append(AllocationLine(c.code, c.name, c.fund, math, amount))
    return tuple(lines)
