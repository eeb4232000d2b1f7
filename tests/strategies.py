"""Random districts and funding policies, for property tests of the engine and the workbooks.

Two doors to the same generator:

- ``random_inputs()``: a hypothesis strategy of ``DistrictInputs`` (shrinks towards small,
  plain districts);
- ``random_inputs_seeded(seed, n_schools)``: the same variety from ``random.Random(seed)``,
  for tests that cannot use hypothesis (LibreOffice recalculation is too slow to shrink).

A generated district is realistic-ish but varied: schools of every level serving a plausible
grade range with 0-200 pupils per grade, need counts within enrollment, performance points and
hard-to-staff counts sometimes all zero, prior-year amounts either 0 or around what the formula
gives. A policy has random grade spans and funds (at least one unrestricted), a random subset of
component kinds in a random order (at most one base, at most one transition, which comes last,
as ``policy.parse_policy`` orders it) with rates, weights and thresholds in sensible ranges, and
passes ``policy.check_policy``. The budget is always feasible: the fixed unrestricted amounts
plus the base units times a positive rate, so a solved base rate is positive. The engine is run
only to pick the budget and the prior-year amounts, never to compute an expected value.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from hypothesis import strategies as st

from ssfr_xl.formula import allocate
from ssfr_xl.model import (
    GRADES,
    LEVELS,
    TRANSITION_MODES,
    Adjustment,
    Component,
    Condition,
    District,
    DistrictInputs,
    Fund,
    GradeSpan,
    Policy,
    RateBand,
    RosterColumn,
    School,
    grade_index,
)
from ssfr_xl.money import excel_round

T = TypeVar("T")

#: Count columns a need component may be based on (spans are added per policy).
NEED_FIELDS: tuple[str, ...] = ("frpm", "el", "swd", "foster", "homeless", "unduplicated")
#: Bases a pool may be shared on.
POOL_BASES: tuple[tuple[str, ...], ...] = (
    ("performance_points",),
    ("hard_to_staff_teachers",),
    ("enrollment",),
    ("frpm", "el"),
)
#: Funds a policy may declare besides the unrestricted general fund: code, restricted.
EXTRA_FUNDS: tuple[tuple[str, bool], ...] = (
    ("LCFF-SC", True),
    ("TITLE1", True),
    ("EQM", True),
    ("LOTTERY", False),
)
#: How many components of each kind a policy may have (transition is handled apart).
KIND_COUNTS: dict[str, int] = {
    "per_pupil": 3,
    "concentration": 1,
    "foundation": 1,
    "small_school": 1,
    "categorical": 2,
    "pool": 2,
    "floor": 1,
    "adjustment": 1,
}

#: The district's own roster columns a random policy declares (see random_school).
DISTRICT_COLUMNS: tuple[RosterColumn, ...] = (
    RosterColumn("newcomers", "Newcomers", "count"),
    RosterColumn("poverty_instances", "Poverty instances", "count", instances=True),
    RosterColumn("nonstability", "Non-stability rate", "count", fractional=True),
    RosterColumn("census", "Census enrollment", "enrollment"),
    RosterColumn("classroom_based", "Classroom-based", "flag"),
)
#: Measures a random condition tests, with the range of values it is compared with.
MEASURES: tuple[tuple[str, float, float], ...] = (
    ("share:frpm", 0.2, 0.9), ("share:unduplicated", 0.3, 0.9), ("nonstability", 0.05, 0.5),
    ("flag:classroom_based", 0, 1), ("level:High", 0, 1), ("grades:9-12", 0, 50),
    ("enrollment", 50, 600), ("newcomers", 0, 10), ("share:newcomers", 0.0, 0.05),
)
#: Maximum loss shares a district may choose; other values are drawn in between.
MAX_LOSSES: tuple[float, ...] = (0.0, 0.01, 0.03, 0.05, 0.1, 0.25, 1.0)
#: Grades each level may serve: (possible low grades, possible high grades).
LEVEL_GRADES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Elementary": (("TK", "K"), ("5", "6")),
    "Middle": (("6", "7"), ("8",)),
    "High": (("9",), ("12",)),
    "Span": (("TK", "K", "6"), ("8", "12")),
}


class Source:
    """Where the random choices come from; subclasses give integer(), the rest builds on it."""

    def integer(self, lo: int, hi: int) -> int:
        """A whole number from lo to hi inclusive."""
        raise NotImplementedError

    def real(self, lo: float, hi: float, places: int = 2) -> float:
        """A number from lo to hi with at most `places` decimals."""
        scale = 10**places
        return self.integer(round(lo * scale), round(hi * scale)) / scale

    def chance(self, p: float) -> bool:
        """True with probability about p (hypothesis shrinks it towards False)."""
        return self.integer(0, 999) >= 1000 - round(p * 1000)

    def pick(self, options: Sequence[T]) -> T:
        """One of the options."""
        return options[self.integer(0, len(options) - 1)]

    def shuffled(self, items: Sequence[T]) -> list[T]:
        """The items in a random order (Fisher-Yates)."""
        out = list(items)
        for i in range(len(out) - 1, 0, -1):
            j = self.integer(0, i)
            out[i], out[j] = out[j], out[i]
        return out

    def subset(self, options: Sequence[T], lo: int, hi: int) -> tuple[T, ...]:
        """From lo to hi distinct options, in a random order."""
        k = self.integer(lo, min(hi, len(options)))
        return tuple(self.shuffled(options)[:k])


class RandomSource(Source):
    """Choices from a random.Random (only its random(), whose sequence is stable by seed)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def integer(self, lo: int, hi: int) -> int:
        """A whole number from lo to hi inclusive."""
        return lo + int(self.rng.random() * (hi - lo + 1))


class DrawSource(Source):
    """Choices from a hypothesis draw function."""

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any]) -> None:
        self.draw = draw

    def integer(self, lo: int, hi: int) -> int:
        """A whole number from lo to hi inclusive."""
        return self.draw(st.integers(lo, hi))


# --- policy --------------------------------------------------------------------------------


def random_spans(src: Source) -> tuple[GradeSpan, ...]:
    """LCFF's four spans, or TK..12 cut at random into 1-5 contiguous spans; weights 0.5-1.6."""
    if src.chance(0.5):
        bounds = [("TK", "3"), ("4", "6"), ("7", "8"), ("9", "12")]
    else:
        cuts = sorted(src.subset(range(1, len(GRADES)), 0, 4))
        starts, ends = [0, *cuts], [*cuts, len(GRADES)]
        bounds = [(GRADES[a], GRADES[b - 1]) for a, b in zip(starts, ends, strict=True)]
    return tuple(
        GradeSpan(
            name=first if first == last else f"{first}-{last}",
            first_grade=first,
            last_grade=last,
            weight=src.real(0.5, 1.6, 3),
        )
        for first, last in bounds
    )


def random_funds(src: Source) -> tuple[Fund, ...]:
    """The unrestricted general fund plus up to three others."""
    extra = src.subset(EXTRA_FUNDS, 0, 3)
    return (Fund("GEN", "General Fund", restricted=False),) + tuple(
        Fund(code, code.title(), restricted=restricted) for code, restricted in extra
    )


def _linear_rate(
    src: Source, weight: tuple[float, float], dollars: tuple[float, float]
) -> tuple[str, float]:
    """A rate unit and a rate: a weight of the base, or dollars."""
    if src.chance(0.4):
        return "weight", src.real(*weight, 3)
    return "dollars", src.real(*dollars, 2)


def random_component(
    src: Source, kind: str, code: str, spans: tuple[GradeSpan, ...], funds: tuple[Fund, ...]
) -> Component:
    """One component of the kind, with parameters in sensible ranges."""
    unrestricted = [f.code for f in funds if not f.restricted]
    any_fund = [f.code for f in funds]
    bases = (NEED_FIELDS + ("enrollment", "newcomers", "poverty_instances")
             + tuple(f"span:{s.name}" for s in spans))
    counting = src.pick(("duplicated", "unduplicated"))
    name = f"{kind.replace('_', ' ').title()} {code}"
    if kind in ("base", "transition"):
        return Component(code, name, kind, src.pick(unrestricted))
    if kind == "adjustment":
        return Component(code, name, kind, src.pick(any_fund))
    fund = src.pick(any_fund)
    if kind == "per_pupil":
        unit, rate = _linear_rate(src, (0.05, 0.6), (50, 2500))
        return Component(code, name, kind, fund, basis=src.subset(bases, 1, 3),
                         counting=counting, rate_unit=unit, rate=rate)
    if kind == "concentration":
        unit, rate = _linear_rate(src, (0.1, 0.7), (200, 2000))
        basis = src.pick((("unduplicated",), ("frpm",), ("frpm", "el", "foster")))
        return Component(code, name, kind, fund, basis=basis, counting=counting,
                         rate_unit=unit, rate=rate, threshold=src.real(0.2, 0.8, 2))
    if kind == "categorical":
        unit, rate = _linear_rate(src, (0.05, 0.3), (100, 1000))
        basis = src.pick((("frpm",), ("unduplicated",), ("frpm", "el")))
        levels = tuple(src.real(0.2, 0.85, 2) for _ in LEVELS)
        return Component(code, name, kind, fund, basis=basis, counting=counting,
                         rate_unit=unit, rate=rate, by_level=levels)  # type: ignore[arg-type]
    if kind == "foundation":
        levels = tuple(src.real(0, 400_000, 0) for _ in LEVELS)
        return Component(code, name, kind, fund, by_level=levels)  # type: ignore[arg-type]
    if kind == "small_school":
        cap = 0.0 if src.chance(0.5) else src.real(20_000, 300_000, 0)
        levels = tuple(float(src.integer(0, 900)) for _ in LEVELS)
        return Component(code, name, kind, fund, rate=src.real(100, 1200, 2), cap=cap,
                         by_level=levels)  # type: ignore[arg-type]
    if kind == "pool":
        return Component(code, name, kind, fund, basis=src.pick(POOL_BASES), counting=counting,
                         pool=src.real(0, 600_000, 0))
    if kind == "floor":
        basis = src.pick((("enrollment",), ("unduplicated",), ("frpm", "el")))
        levels = tuple(src.real(0.3, 0.95, 2) for _ in LEVELS)
        return Component(code, name, kind, fund, basis=basis, counting=counting,
                         rate=src.real(0, 250, 2), minimum=src.real(0, 75_000, 0),
                         by_level=levels)  # type: ignore[arg-type]
    raise ValueError(kind)


def random_policy(src: Source) -> Policy:
    """Random spans, funds and components (at most one base; transition, if any, last)."""
    spans, funds = random_spans(src), random_funds(src)
    kinds = ["base"] if src.chance(0.9) else []
    for kind, most in KIND_COUNTS.items():
        kinds += [kind] * src.integer(0, most)
    kinds = src.shuffled(kinds)
    if src.chance(0.5):
        kinds.append("transition")
    components = tuple(
        with_rules(src, random_component(src, kind, f"C{i + 1}-{kind[:5].upper()}", spans,
                                         funds))
        for i, kind in enumerate(kinds)
    )
    return Policy(spans=spans, funds=funds, components=components,
                  roster_columns=DISTRICT_COLUMNS)


def with_rules(src: Source, c: Component) -> Component:
    """The component, sometimes with eligibility conditions, rates by level or grades, an
    enrollment of its own, whole-dollar rounding or a place on top of the budget."""
    changes: dict[str, Any] = {}
    if c.kind not in ("transition", "adjustment", "pool") and src.chance(0.35):
        changes["conditions"] = tuple(
            Condition(measure, src.pick((">", ">=", "<", "<=", "=", "<>")) if not
                      measure.startswith(("flag:", "level:")) else src.pick(("=", "<>")),
                      float(src.integer(0, 1)) if measure.startswith(("flag:", "level:"))
                      else src.real(lo, hi, 2))
            for measure, lo, hi in src.subset(MEASURES, 1, 3))
        changes["eligible"] = src.pick(("all", "any"))
    if c.kind == "per_pupil" and src.chance(0.35):
        if src.chance(0.5):
            levels = src.subset(LEVELS, 1, 4)
            changes["bands"] = tuple(RateBand(lv, src.real(0, c.rate * 2, 2 if
                                                             c.rate_unit == "dollars" else 3),
                                              level=lv) for lv in levels)
        else:
            cut = src.integer(1, len(GRADES) - 1)
            changes["bands"] = (RateBand("low", src.real(0, c.rate * 2, 3), first_grade=GRADES[0],
                                         last_grade=GRADES[cut - 1]),
                                RateBand("high", src.real(0, c.rate * 2, 3),
                                         first_grade=GRADES[cut], last_grade=GRADES[-1]))
            changes["basis"] = ("enrollment",)
    if c.kind in ("categorical", "concentration", "floor", "small_school") and src.chance(0.3):
        changes["enrollment"] = "census"
    if src.chance(0.25):
        changes["round_digits"] = 0
    if c.kind not in ("base", "transition") and src.chance(0.15):
        changes["in_budget"] = False
    return replace(c, **changes)


# --- schools -------------------------------------------------------------------------------


def random_school(src: Source, index: int, points: bool, teachers: bool) -> School:
    """A school of a random level with counts consistent with its enrollment; no prior year."""
    level = src.pick(LEVELS)
    lows, highs = LEVEL_GRADES[level]
    low, high = src.pick(lows), src.pick(highs)
    most = 40 if src.chance(0.15) else 200  # now and then a very small school
    by_grade = dict.fromkeys(GRADES, 0)
    for grade in GRADES[grade_index(low) : grade_index(high) + 1]:
        by_grade[grade] = src.integer(0, most)
    enrollment = sum(by_grade.values())
    unduplicated = src.integer(0, enrollment)
    # Mostly inside the unduplicated count, as in CALPADS data; sometimes not (bad data).
    inside = unduplicated if src.chance(0.8) else enrollment
    return School(
        school_id=f"0199999{6000000 + index:07d}",
        name=f"School {index + 1}",
        level=level,
        low_grade=low,
        high_grade=high,
        enrollment_by_grade=by_grade,
        frpm=src.integer(0, inside),
        el=src.integer(0, inside),
        swd=src.integer(0, enrollment // 4),
        foster=src.integer(0, min(inside, 10)),
        homeless=src.integer(0, inside // 5),
        unduplicated=unduplicated,
        performance_points=src.real(0, 100, 1) if points and src.chance(0.85) else 0.0,
        hard_to_staff_teachers=float(src.integer(0, 12)) if teachers else 0.0,
        cds_code="" if src.chance(0.5) else f"0199999{6000000 + index:07d}",
        extra={
            "newcomers": float(src.integer(0, min(enrollment, 30))),
            "poverty_instances": float(src.integer(0, enrollment * 2)),
            "nonstability": src.real(0, 0.6, 3),
            "census": float(max(0, enrollment + src.integer(-20, 20))),
            "classroom_based": float(src.chance(0.8)),
        },
    )


# --- the district --------------------------------------------------------------------------


def build_inputs(src: Source, n_schools: int) -> DistrictInputs:
    """A random district of n_schools schools, policy and feasible budget."""
    if n_schools < 1:
        raise ValueError("n_schools must be at least 1")
    policy = random_policy(src)
    points, teachers = src.chance(0.8), src.chance(0.7)
    schools = tuple(random_school(src, i, points, teachers) for i in range(n_schools))
    max_loss = src.pick(MAX_LOSSES) if src.chance(0.7) else src.real(0, 1, 3)
    rate = src.real(2000, 9000, 2)
    mode = "fixed" if src.chance(0.2) else "solve"
    district = District(
        name="Random Unified School District",
        cds_code="0199999",
        fiscal_year="2026-27",
        budget=0.0,
        base_rate_mode="solve",
        base_rate=rate,
        transition_max_loss=max_loss,
        transition_mode=src.pick(TRANSITION_MODES),
        transition_gain_cap=src.real(0, 0.2, 3),
    )
    adjustments = tuple(
        Adjustment(schools[src.integer(0, n_schools - 1)].school_id, c.code,
                   src.real(-50_000, 150_000, src.pick((0, 2))), f"Line {k + 1}")
        for c in policy.components if c.kind == "adjustment"
        for k in range(src.integer(0, 2 * n_schools)))
    # Feasible budget: what the engine's own solve needs for the base rate to come out at rate.
    probe = allocate(DistrictInputs(district, policy, schools, adjustments))
    budget = excel_round(probe.fixed_unrestricted + probe.base_units * rate)
    district = replace(district, budget=budget)
    # Prior year: 0 (new school) or around each school's unrestricted formula total. With no
    # prior-year amounts the transition component is 0, so the total is the formula's.
    formula = allocate(DistrictInputs(district, policy, schools, adjustments))
    priors = []
    for i, school in enumerate(schools):
        total = formula.school_total(i, restricted=False)
        if src.chance(0.2):
            priors.append(0.0)
        else:
            level = total if total > 1000 else 7000.0 * max(school.enrollment, 1)
            priors.append(excel_round(level * src.real(0.6, 1.5, 3), src.pick((0, 2))))
    schools = tuple(
        replace(s, prior_year_allocation=p) for s, p in zip(schools, priors, strict=True)
    )
    reserve = src.real(0, 500_000, 0) if district.transition_mode == "reserve" else 0.0
    per_pupil = "census" if src.chance(0.2) else "enrollment"
    return DistrictInputs(replace(district, base_rate_mode=mode, transition_reserve=reserve,
                                  per_pupil_enrollment=per_pupil),
                          policy, schools, adjustments)


def policy_settings(inputs: DistrictInputs) -> dict[str, Any]:
    """The [district] settings check_policy reads, for a generated district."""
    d = inputs.district
    return {
        "budget": d.budget,
        "base_rate_mode": d.base_rate_mode,
        "base_rate": d.base_rate,
        "transition_max_loss": d.transition_max_loss,
        "transition_mode": d.transition_mode,
        "transition_gain_cap": d.transition_gain_cap,
        "transition_reserve": d.transition_reserve,
        "per_pupil_enrollment": d.per_pupil_enrollment,
    }


@st.composite
def random_inputs(
    draw: Callable[[st.SearchStrategy[Any]], Any], min_schools: int = 1, max_schools: int = 30
) -> DistrictInputs:
    """Hypothesis strategy: a random district (1-30 schools), policy and feasible budget."""
    n_schools = draw(st.integers(min_schools, max_schools))
    return build_inputs(DrawSource(draw), n_schools)


def random_inputs_seeded(seed: int, n_schools: int) -> DistrictInputs:
    """The same variety as random_inputs() from random.Random(seed), without hypothesis."""
    return build_inputs(RandomSource(random.Random(seed)), n_schools)
