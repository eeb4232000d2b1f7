"""A school's allocation in words: each component's amount with its math spelled out.

The plan workbook's Allocation sheet shows these lines, and the published pages will too. Every
sentence states the number the school actually gets: when the transition rule cannot pay a
school's whole shortfall, its line says what it was owed, what share was paid and where that
leaves it against last year — never a floor it does not reach.
"""

from __future__ import annotations

from dataclasses import dataclass

from .formula import AllocationResult, ComponentResult
from .model import LEVELS, Component, School
from .money import format_money as _money
from .transition import share


@dataclass(frozen=True)
class AllocationLine:
    """One component of a school's allocation, with the math in words."""

    code: str
    name: str
    fund: str
    math: str
    amount: float


def allocation_lines(result: AllocationResult, index: int) -> tuple[AllocationLine, ...]:
    """A school's allocation by component, each with the math spelled out."""
    school = result.schools[index]
    return tuple(
        AllocationLine(r.component.code, r.component.name, r.component.fund,
                       _math(result, r, index, school), float(r.amount[index]))
        for r in result.components
    )


def _math(result: AllocationResult, r: ComponentResult, index: int, school: School) -> str:
    c, amount = r.component, float(r.amount[index])
    if c.kind == "transition":
        return transition_words(result, index)
    if c.kind == "adjustment":
        lines = [a for a in result.inputs.adjustments
                 if a.component == c.code and a.school_id == school.school_id]
        if not lines:
            return "No adjustment for this school"
        text = "; ".join(f"{a.reason}: {_money(a.amount)}" for a in lines)
        if len(lines) > 1 or _money(lines[0].amount) != _money(amount):
            text += f" = {_money(amount)}"
        return text + (" (rounded to the dollar)" if c.round_digits == 0 else "")
    if c.conditions and not bool(r.eligible[index]):
        return "Not eligible: " + _conditions_words(result, c, school) + ": no allocation"
    text = _kind_words(result, r, index, school)
    if c.conditions:
        text = "Eligible (" + _conditions_words(result, c, school) + "). " + text
    if c.round_digits == 0:
        text += " (rounded to the dollar)"
    return text


def _conditions_words(result: AllocationResult, c: Component, school: School) -> str:
    from .formula import condition_results, measure_values

    schools = (school,)
    passed = [bool(v[0]) for v in condition_results(schools, c)]
    parts = []
    for cond, ok in zip(c.conditions, passed, strict=True):
        value = float(measure_values(schools, c, cond.measure)[0])
        kind, _, arg = cond.measure.partition(":")
        if kind == "share":
            shown, limit = f"{arg} share {value:.1%}", f"{cond.value:.1%}"
        elif kind == "flag":
            shown, limit = f"{arg} {'Yes' if value else 'No'}", "Yes" if cond.value else "No"
        elif kind == "level":
            shown, limit = f"level {school.level}", arg if cond.value else f"not {arg}"
        elif kind == "grades":
            shown, limit = f"{value:,.0f} pupils in grades {arg}", f"{cond.value:,g}"
        else:
            shown, limit = f"{cond.measure.replace('_', ' ')} {value:,.4g}", f"{cond.value:,g}"
        parts.append(f"{shown} {cond.operator} {limit}: {'yes' if ok else 'no'}")
    joiner = " and " if c.eligible == "all" else " or "
    return joiner.join(parts)


def _kind_words(result: AllocationResult, r: ComponentResult, index: int,
                school: School) -> str:
    c, amount = r.component, float(r.amount[index])
    driver, eligible = float(r.driver[index]), bool(r.eligible[index])
    policy = result.inputs.policy
    enrollment = school.count(c.enrollment)
    measured = "" if c.enrollment == "enrollment" else f" ({c.enrollment.replace('_', ' ')})"
    level_i = LEVELS.index(school.level)
    basis = " + ".join(b.replace("_", " ") for b in c.basis)
    counted = " (each pupil counted once)" if c.counting == "unduplicated" else ""
    rate_words = _money(r.rate)
    if c.rate_unit == "weight" and c.kind != "base":
        rate_words += f" (weight {c.rate:g} x base {_money(result.base_rate)})"
    if c.kind == "base":
        if c.basis:
            return f"{driver:,.2f} pupils ({basis}) x base rate {_money(r.rate)} = {_money(amount)}"
        spans = ", ".join(
            f"{s.name}: {sum(school.enrollment_by_grade.get(g, 0) for g in s.grades):,}"
            f" x {s.weight:g}" for s in policy.spans)
        return (f"{driver:,.2f} weighted pupils ({spans}) x base rate "
                f"{_money(r.rate)} = {_money(amount)}")
    if c.kind == "per_pupil" and c.bands:
        from .formula import band_pupils

        pupils = band_pupils((school,), policy, c)
        parts = []
        for band, count in zip(c.bands, pupils, strict=True):
            rate = band.rate * result.base_rate if c.rate_unit == "weight" else band.rate
            if count[0]:
                parts.append(f"{band.label}: {count[0]:,.0f} x {_money(rate)}")
        return (("; ".join(parts) or "No pupils in any band") + f" = {_money(amount)}")
    if c.kind == "per_pupil":
        return f"{driver:,.0f} pupils ({basis}{counted}) x {rate_words} = {_money(amount)}"
    if c.kind == "concentration":
        count = driver + c.threshold * enrollment
        share = (count / enrollment) if enrollment else 0.0
        if eligible:
            return (f"{basis}{counted}: {count:,.0f} of {enrollment:,.0f} pupils{measured} = "
                    f"{share:.1%}, above the {c.threshold:.0%} threshold; {driver:,.2f} pupils "
                    f"above it x {rate_words} = {_money(amount)}")
        return (f"{basis}{counted}: {share:.1%} of pupils, not above the "
                f"{c.threshold:.0%} threshold: no allocation")
    if c.kind == "categorical":
        if c.conditions:
            return f"{driver:,.0f} pupils ({basis}) x {rate_words} = {_money(amount)}"
        threshold = c.by_level[level_i]
        if eligible:
            share = driver / enrollment if enrollment else 0.0
            return (f"{basis}: {driver:,.0f} of {enrollment:,.0f} pupils{measured} = "
                    f"{share:.1%}, above the {threshold:.0%} threshold for {school.level} "
                    f"schools: {driver:,.0f} x {rate_words} = {_money(amount)}")
        return (f"{basis}: not above the {threshold:.0%} threshold for "
                f"{school.level} schools: no allocation")
    if c.kind == "foundation":
        return f"Fixed amount for {school.level} schools: {_money(amount)}"
    if c.kind == "small_school":
        minimum = c.by_level[level_i]
        if driver > 0:
            cap = f", capped at {_money(c.cap)}" if c.cap > 0 else ""
            return (f"Enrollment{measured} {enrollment:,.0f} is {driver:,.0f} below the "
                    f"{minimum:,.0f} minimum for {school.level} schools: {driver:,.0f} x "
                    f"{_money(c.rate)}{cap} = {_money(amount)}")
        return (f"Enrollment{measured} {enrollment:,.0f} meets the {minimum:,.0f} minimum for "
                f"{school.level} schools: no adjustment")
    if c.kind == "pool":
        total = float(r.driver.sum())
        share = driver / total if total else 0.0
        return (f"{basis}: {driver:,.1f} of {total:,.1f} district-wide = {share:.3%} of the "
                f"{_money(c.pool)} pool = {_money(amount)}")
    # floor
    greater = (f"greater of {driver:,.0f} ({basis}) x {_money(c.rate)} and "
               f"{_money(c.minimum)} = {_money(amount)}")
    if c.conditions:
        return greater[0].upper() + greater[1:]
    threshold = c.by_level[level_i]
    need = school.unduplicated / enrollment if enrollment else 0.0
    if eligible:
        return f"Need share {need:.1%} is above the {threshold:.0%} threshold: {greater}"
    return f"Need share {need:.1%} is not above the {threshold:.0%} threshold: no allocation"


def transition_words(result: AllocationResult, index: int) -> str:
    """The transition line: what the school was owed or gave, and where it ends up."""
    t = result.transition
    prior = float(t.prior[index]) if t.applies else 0.0
    if prior <= 0:
        return "No prior-year allocation: transition protection does not apply"
    formula = float(t.formula_total[index])
    amount = float(t.amounts[index])
    after = formula + amount
    change = after / prior - 1
    ends = f"the school gets {_money(after)}, {_change(change)} last year's {_money(prior)}"
    if t.protection[index] > 0:
        owed = float(t.protection[index])
        floor = t.floor(index)
        head = (f"Formula {_money(formula)} is below the floor of {_money(floor)} "
                f"({t.max_loss:.1%} below last year's {_money(prior)})")
        if t.paid >= 1:
            return f"{head}: protection {_money(amount)}; {ends}"
        return (f"{head}: it is owed {_money(owed)}, but the district can pay only "
                f"{share(t.paid)} of every shortfall this year, so protection is {_money(amount)} "
                f"and {ends} — more than the {t.max_loss:.1%} maximum loss")
    if amount < 0:
        source = "its gain above the cap" if t.mode == "cap_gains" else "its gain"
        return (f"Formula {_money(formula)} is {_money(formula - prior)} above last year's "
                f"{_money(prior)}; {_money(-amount)} of {source} pays for other schools' "
                f"transition protection, so {ends}")
    return f"Within the transition limits: no adjustment; {ends}"


def _change(share: float) -> str:
    if abs(share) < 0.0005:
        return "the same as"
    return f"{abs(share):.1%} {'above' if share > 0 else 'below'}"
