"""The performance incentive from results: next year's performance_points.

The rule (the README's "Performance points" section says the same):

1. **Growth, not level.** For each school and indicator, growth = this year's result minus last
   year's, signed so that improvement is positive (lower chronic absenteeism is growth). A low
   score is never rewarded, and a high one is not rewarded for staying high.
2. **Capped.** Each outcome earns credit = growth / full-credit growth, between 0 and 1: no
   credit for decline or no change, full credit from FULL_CREDIT growth on (5 percentage points
   for a % indicator, 15 points for ELA or math distance from standard, 5 units otherwise). A
   school's points = 100 x its average credit over its counted outcomes, to one decimal: at
   most 100, however large one gain.
3. **Small n.** An outcome about fewer than MIN_STUDENTS (11) students is set aside (the
   number below which California does not report a group: one pupil moves it too much). A
   school with no counted outcome gets the median points of the schools that have some, so
   being small neither wins nor loses the incentive. A school with no pupils (and no counted
   outcome) gets no points: it has no pupils for the pool to serve.

The pool itself is shared by the performance incentive component (a "pool" on
performance_points), in proportion to the points: `ssfr-xl results --performance FILE` writes
them for the budget officer to review, and `ssfr-xl init --performance FILE` puts them on the
Schools sheet of next year's district workbook.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from .indicators import indicator_list
from .model import Policy, School
from .money import excel_round
from .sources.outcomes import Outcome

MIN_STUDENTS = 11
#: The most points the rule gives (100 x a credit of at most 1); a reviewed file may not exceed it.
MAX_POINTS = 100.0
FULL_CREDIT = {"%": 5.0, "points": 15.0}
DEFAULT_FULL_CREDIT = 5.0


@dataclass(frozen=True)
class PerformanceScore:
    """One school's points and how they were found."""

    school: School
    counted: int  # outcomes with MIN_STUDENTS or more
    set_aside: int  # outcomes about fewer students
    credit: float | None  # average credit over counted outcomes (None: none counted)
    points: float
    how: str


def growth(outcome: Outcome, direction: str) -> float:
    """Result minus prior, positive when better."""
    change = outcome.result - outcome.prior
    return excel_round(-change if direction == "down" else change, 6)


def full_credit(unit: str) -> float:
    """The growth that earns full credit in an indicator of this unit."""
    return FULL_CREDIT.get(unit.strip(), DEFAULT_FULL_CREDIT)


def credit(outcome: Outcome, direction: str, unit: str) -> float:
    """An outcome's credit, from 0 (no growth) to 1 (full-credit growth or more)."""
    return min(1.0, max(0.0, growth(outcome, direction) / full_credit(unit)))


def performance_scores(schools: Sequence[School], policy: Policy,
                       outcomes: Sequence[Outcome]) -> list[PerformanceScore]:
    """Every school's performance points by the rule above."""
    indicators = {i.code: i for i in indicator_list(policy)}
    by_school: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_school.setdefault(o.school_id, []).append(o)
    scored: list[tuple[School, int, int, float | None]] = []
    for s in schools:
        mine = by_school.get(s.school_id, [])
        counted = [o for o in mine if o.students >= MIN_STUDENTS]
        credits = [credit(o, indicators[o.indicator].direction, indicators[o.indicator].unit)
                   for o in counted]
        mean = math.fsum(credits) / len(credits) if credits else None
        scored.append((s, len(counted), len(mine) - len(counted), mean))
    own = [excel_round(100 * m, 1) for _s, _c, _a, m in scored if m is not None]
    median = excel_round(statistics.median(own), 1) if own else 0.0
    out = []
    for s, counted, aside, mean in scored:
        if mean is None and not s.enrollment:
            out.append(PerformanceScore(s, counted, aside, None, 0.0,
                                        "no pupils: no points (the median is for small "
                                        "schools, not empty ones)"))
        elif mean is None:
            how = (f"median of the district ({len(own)} schools): no outcome about "
                   f"{MIN_STUDENTS} or more students")
            out.append(PerformanceScore(s, counted, aside, None, median, how))
        else:
            points = excel_round(100 * mean, 1)
            out.append(PerformanceScore(s, counted, aside, mean, points,
                                        f"100 x average credit of {counted} outcome(s)"))
    return out
