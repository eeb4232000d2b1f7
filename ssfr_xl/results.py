"""Results: year-end outcomes matched to the school plans' goals.

For each school and indicator of the outcomes file: last year's value, this year's, the change
and the growth (the change signed so that improvement is positive). When the school's accepted
plan (from the season ledger) states a goal in that indicator, the row also has the goal, its
baseline and target, whether the target was met (result at or above the target where higher
is better, at or below where lower is better) and the dollars the plan put on that district
goal. The district views add these up by district goal and by need quartile (unduplicated
pupils over enrollment, ranked as teachers.quartiles does).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .indicators import indicator_list
from .model import Indicator, Policy, School
from .money import excel_round
from .performance import growth
from .plan import GoalEntry, PlanLine
from .sources.outcomes import Outcome
from .teachers import quartiles


@dataclass(frozen=True)
class SchoolPlan:
    """What an accepted plan says: its lines and goals."""

    lines: Sequence[PlanLine]
    goals: Sequence[GoalEntry]

    def planned(self, goal: str) -> float:
        """Dollars the plan's lines put on a district goal."""
        return excel_round(math.fsum(line.amount for line in self.lines if line.goal == goal))


@dataclass(frozen=True)
class ResultRow:
    """One outcome, with the plan goal that measured it (if any)."""

    school: School
    need_quartile: int | None
    indicator: Indicator
    outcome: Outcome
    plan_status: str  # "accepted", "no plan", ...
    goal: str = ""
    baseline: float | None = None
    target: float | None = None
    planned: float | None = None

    @property
    def change(self) -> float:
        """This year minus last year."""
        return excel_round(self.outcome.result - self.outcome.prior, 6)

    @property
    def growth(self) -> float:
        """The change, positive when better."""
        return growth(self.outcome, self.indicator.direction)

    @property
    def typed_as_fraction(self) -> bool:
        """True when a % indicator's plan baseline and target look like percentages typed in
        Excel's percent format (12% is stored as 0.12) while the outcomes are in percent
        (12.5): comparing them would judge the target on the wrong scale."""
        if self.indicator.unit.strip() != "%" or self.baseline is None or self.target is None:
            return False
        return (all(0 <= v <= 1 for v in (self.baseline, self.target))
                and (self.baseline, self.target) != (0, 0)
                and min(self.outcome.prior, self.outcome.result) > 1)

    @property
    def outside_percent(self) -> bool:
        """True when a % indicator's plan baseline or target is below 0 or above 100."""
        return self.indicator.unit.strip() == "%" and any(
            v is not None and not 0 <= v <= 100 for v in (self.baseline, self.target))

    @property
    def note(self) -> str:
        """Why a target is not judged ('' when it is, or there is none)."""
        if self.outside_percent:
            return (f"Not judged: the plan's baseline {_shown(self.baseline)} or target "
                    f"{_shown(self.target)} is not a percentage from 0 to 100.")
        if self.typed_as_fraction:
            return (f"Not judged: the plan's baseline {self.baseline:g} and target "
                    f"{self.target:g} look like {100 * self.baseline:g}% and "
                    f"{100 * self.target:g}% typed as percentages, the outcomes are in % "
                    f"({self.outcome.prior:g}); type {100 * self.baseline:g} and "
                    f"{100 * self.target:g} in next year's plan.")
        return ""

    @property
    def target_met(self) -> bool | None:
        """Whether the result reached the plan's target (None without a target, or when the
        plan's numbers are on another scale than the outcomes: see `note`)."""
        if self.target is None or self.typed_as_fraction or self.outside_percent:
            return None
        if self.indicator.direction == "down":
            return self.outcome.result <= self.target
        return self.outcome.result >= self.target


def _shown(value: float | None) -> str:
    return "(blank)" if value is None else f"{value:g}"


@dataclass(frozen=True)
class GoalSummary:
    """One district goal and indicator across the plans that measured it."""

    goal: str
    goal_name: str
    indicator: Indicator
    schools: int
    targets_met: int
    planned: float
    students: int
    growth: float | None  # student-weighted average growth of those schools
    district_growth: float | None  # the same over every school with that outcome


@dataclass(frozen=True)
class QuartileSummary:
    """One need quartile and indicator."""

    quartile: int
    indicator: Indicator
    schools: int
    students: int
    prior: float | None  # student-weighted averages
    result: float | None
    growth: float | None
    goals: int  # plan goals measured by this indicator in the quartile
    targets_met: int


@dataclass(frozen=True)
class Results:
    """Every outcome row and the district views."""

    rows: tuple[ResultRow, ...]
    by_goal: tuple[GoalSummary, ...]
    by_quartile: tuple[QuartileSummary, ...]


def _weighted(pairs: Sequence[tuple[float, int]]) -> float | None:
    total = sum(n for _v, n in pairs)
    if not total:
        return None
    return excel_round(math.fsum(v * n for v, n in pairs) / total, 4)


def school_results(schools: Sequence[School], policy: Policy, outcomes: Sequence[Outcome],
                   plans: Mapping[str, SchoolPlan] | None = None,
                   statuses: Mapping[str, str] | None = None) -> Results:
    """Outcomes matched to plans (school_id -> accepted plan), and the district views."""
    plans = plans or {}
    statuses = statuses or {}
    indicators = {i.code: i for i in indicator_list(policy)}
    by_id = {s.school_id: s for s in schools}
    need = {s.school_id: s.unduplicated / s.enrollment for s in schools if s.enrollment}
    quartile = quartiles(need)
    rows: list[ResultRow] = []
    for o in outcomes:
        school = by_id[o.school_id]
        q = quartile.get(o.school_id)  # None: a school without pupils is not ranked
        ind = indicators[o.indicator]
        plan = plans.get(o.school_id)
        status = statuses.get(o.school_id, "accepted" if plan else "no plan")
        goals = [g for g in (plan.goals if plan else ()) if g.indicator == o.indicator]
        if not goals:
            rows.append(ResultRow(school, q, ind, o, status))
        for g in goals:
            rows.append(ResultRow(school, q, ind, o, status, g.goal, g.baseline, g.target,
                                  plan.planned(g.goal)))
    return Results(tuple(rows), _by_goal(rows, policy), _by_quartile(rows))


def _by_goal(rows: Sequence[ResultRow], policy: Policy) -> tuple[GoalSummary, ...]:
    out = []
    names = {g.code: g.name for g in policy.goals}
    for goal in policy.goals:
        for ind in indicator_list(policy):
            mine = [r for r in rows if r.goal == goal.code and r.indicator.code == ind.code]
            if not mine:
                continue
            every = {(r.school.school_id): r for r in rows if r.indicator.code == ind.code}
            out.append(GoalSummary(
                goal.code, names[goal.code], ind, len(mine),
                sum(1 for r in mine if r.target_met),
                excel_round(math.fsum(r.planned or 0.0 for r in mine)),
                sum(r.outcome.students for r in mine),
                _weighted([(r.growth, r.outcome.students) for r in mine]),
                _weighted([(r.growth, r.outcome.students) for r in every.values()])))
    return tuple(out)


def _by_quartile(rows: Sequence[ResultRow]) -> tuple[QuartileSummary, ...]:
    out = []
    indicators: dict[str, Indicator] = {}
    for r in rows:
        indicators.setdefault(r.indicator.code, r.indicator)
    for q in (1, 2, 3, 4):
        for code, ind in indicators.items():
            mine = [r for r in rows if r.need_quartile == q and r.indicator.code == code]
            if not mine:
                continue
            once = list({r.school.school_id: r for r in mine}.values())  # an outcome once
            pairs = [(r.outcome.students) for r in once]
            out.append(QuartileSummary(
                q, ind, len(once), sum(pairs),
                _weighted([(r.outcome.prior, r.outcome.students) for r in once]),
                _weighted([(r.outcome.result, r.outcome.students) for r in once]),
                _weighted([(r.growth, r.outcome.students) for r in once]),
                sum(1 for r in mine if r.goal), sum(1 for r in mine if r.target_met)))
    return tuple(out)
