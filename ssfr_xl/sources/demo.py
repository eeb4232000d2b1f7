"""Realistic filled-in plans for a district: for training, demos, tests and benchmarks.

A demo plan staffs the school from its unrestricted money (principal, office, teachers),
spends restricted funds only on what each fund allows, buys a few central services, and
tops each fund up to 97-100% with supplies or contracts, so it balances the way a careful
principal's plan does.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from openpyxl.workbook import Workbook

from ..layout import SchoolLayout
from ..model import Policy
from ..money import excel_round
from ..school_book import SchoolPlanSpec


@dataclass
class DemoPlan:
    """What a principal typed: lines per sheet and goals."""

    positions: list[tuple[str, float, str, str, str]] = field(default_factory=list)
    services: dict[str, tuple[float, str, str]] = field(default_factory=dict)
    other: list[tuple[str, str, str, str, float]] = field(default_factory=list)
    goals: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    #: goal code -> (indicator, baseline, target): the measure with numbers
    measures: dict[str, tuple[str, float, float]] = field(default_factory=dict)


def _allowed(policy: Policy, fund_code: str, object_code: str) -> bool:
    fund = policy.fund(fund_code)
    rule = fund.allowed_objects.strip()
    if not fund.restricted or not rule:
        return True
    code = int(object_code)
    for part in rule.split(","):
        low, _, high = part.strip().partition("-")
        if int(low) <= code <= int(high or low):
            return True
    return False


def demo_plan(spec: SchoolPlanSpec, seed: int = 0, fill_share: float = 0.985) -> DemoPlan:
    """A balanced, realistic plan for one school (deterministic for a seed)."""
    rng = random.Random(f"{spec.school.school_id}-{seed}")
    policy = spec.policy
    jobs = {j.code: j for j in policy.job_classes}
    goals = [g.code for g in policy.goals] or [""]
    plan = DemoPlan()
    budget = {f.code: spec.fund_allocation(f.code) for f in policy.funds}
    spent = dict.fromkeys(budget, 0.0)

    def cost(code: str, fte: float) -> float:
        j = jobs[code]
        return excel_round(fte * j.average_salary * (1 + j.benefits_rate))

    lines = SchoolLayout(policy).staffing.rows

    def hire(code: str, fte: float, fund: str, goal: str, note: str = "") -> bool:
        if code not in jobs or fund not in budget or len(plan.positions) >= lines:
            return False  # a plan holds as many positions as the Staffing sheet has lines
        if not _allowed(policy, fund, jobs[code].object_code):
            return False
        c = cost(code, fte)
        if spent[fund] + c > budget[fund] * fill_share:
            return False
        plan.positions.append((code, fte, fund, goal, note))
        spent[fund] += c
        return True

    unrestricted = next((f.code for f in policy.funds if not f.restricted), None)
    operations_goal = goals[-1]
    if unrestricted:
        hire("PRIN", 1.0, unrestricted, operations_goal, "Principal")
        hire("CLERK", 1.0, unrestricted, operations_goal, "Office manager")
        hire("CUST", 1.0, unrestricted, operations_goal)
        if spec.school.level in ("Middle", "High"):
            hire("AP", 1.0, unrestricted, operations_goal)
            hire("COUNS", 1.0, unrestricted, goals[min(2, len(goals) - 1)])
        teacher_goal = goals[0]
        room = SchoolLayout(policy).staffing.rows - 20  # leave lines for restricted staff
        n = 0
        while n < room and hire("TCH", 1.0, unrestricted, teacher_goal, f"Classroom {n + 1}"):
            n += 1
        hire("TCH", 0.5, unrestricted, teacher_goal, "Part-time class")
    for fund in (f for f in policy.funds if f.restricted and budget[f.code] > 0):
        goal = goals[1 % len(goals)] if fund.code != "TITLE1" else goals[0]
        for code, fte in (("COACH", 1.0), ("COACH", 0.5), ("PARA", 1.0), ("PARA", 0.5),
                          ("SW", 0.5)):
            while hire(code, fte, fund.code, goal, f"{fund.code} support"):
                if rng.random() < 0.5:
                    break
    services = sorted(policy.services, key=lambda s: s.code)
    for s in rng.sample(services, k=min(len(services), rng.randint(2, 5))):
        fund = unrestricted
        for f in policy.funds:
            if f.restricted and budget[f.code] - spent[f.code] > s.unit_price * 4 and \
                    f.allowed_services and s.department in f.allowed_services:
                fund = f.code
                break
        if fund is None:
            continue
        quantity = float(rng.choice([1, 2, 3, 4, 5, 10, 20]))
        if spent[fund] + quantity * s.unit_price <= budget[fund] * fill_share:
            plan.services[s.code] = (quantity, fund, rng.choice(goals))
            spent[fund] += excel_round(quantity * s.unit_price)
    for f in policy.funds:
        left = excel_round(budget[f.code] * rng.uniform(0.975, 0.999) - spent[f.code])
        if left <= 0:
            continue
        for obj, share, what in (("4300", 0.6, "Classroom materials and supplies"),
                                 ("5800", 0.3, "Tutoring and enrichment contract"),
                                 ("5200", 0.1, "Conferences")):
            if not _allowed(policy, f.code, obj):
                continue
            amount = math.floor(left * share * 100) / 100
            if amount > 0:
                plan.other.append((obj, f.code, rng.choice(goals), what, amount))
                spent[f.code] += amount
    strategies = [
        ("Raise grade-level reading to 70%", "Daily small-group literacy with a coach",
         "Spring benchmark reading scores"),
        ("Reclassify 20% of English learners", "Designated ELD block and para support",
         "ELPAC growth and reclassification rate"),
        ("Every senior graduates with a plan", "Counselor meetings each semester",
         "Graduation and A-G completion rates"),
        ("Fewer chronic absences", "Family outreach and attendance team",
         "Chronic absence rate below 10%"),
        ("Run the school well", "Keep base staffing and services", "Balanced budget"),
    ]
    # baselines and targets from their own generator, so the rest of the plan is as before
    measured = random.Random(f"{spec.school.school_id}-{seed}-measures")
    for i, code in enumerate(goals[: rng.randint(2, len(goals))]):
        plan.goals[code] = strategies[i % len(strategies)]
        measure = _MEASURES[i % len(strategies)]
        if measure is not None:
            indicator, low, high, step_low, step_high = measure
            baseline = excel_round(low + (high - low) * measured.random(), 1)
            change = excel_round(step_low + (step_high - step_low) * measured.random(), 1)
            plan.measures[code] = (indicator, baseline, excel_round(baseline + change, 1))
    return plan


#: Per demo strategy: the indicator, the baseline's range and the planned change's range.
_MEASURES = (
    ("ELA", -40.0, 10.0, 4.0, 15.0),
    ("ELPI", 35.0, 55.0, 3.0, 8.0),
    ("GRAD", 78.0, 92.0, 2.0, 5.0),
    ("CHRONIC", 12.0, 30.0, -6.0, -2.0),
    None,
)


def fill_plan_workbook(wb: Workbook, policy: Policy, plan: DemoPlan) -> None:
    """Type a demo plan into a plan workbook's input cells (in memory)."""
    layout = SchoolLayout(policy)
    t = layout.staffing
    ws = wb[t.sheet]
    for i, (code, fte, fund, goal, note) in enumerate(plan.positions[: t.rows]):
        for key, value in (("job_class", code), ("fte", fte), ("fund", fund), ("goal", goal),
                           ("note", note or None)):
            ws[t.cell(key, i)] = value
    t = layout.services
    ws = wb[t.sheet]
    for i in range(layout.menu_rows):
        code = ws[t.cell("service", i)].value
        if code in plan.services:
            quantity, fund, goal = plan.services[code]
            ws[t.cell("quantity", i)] = quantity
            ws[t.cell("fund", i)] = fund
            ws[t.cell("goal", i)] = goal
    t = layout.other
    ws = wb[t.sheet]
    for i, (obj, fund, goal, what, amount) in enumerate(plan.other[: t.rows]):
        for key, value in (("object", obj), ("fund", fund), ("goal", goal),
                           ("description", what), ("amount", amount)):
            ws[t.cell(key, i)] = value
    t = layout.goals
    ws = wb[t.sheet]
    for i, g in enumerate(policy.goals):
        if g.code in plan.goals:
            school_goal, strategy, measure = plan.goals[g.code]
            ws[t.cell("school_goal", i)] = school_goal
            ws[t.cell("strategy", i)] = strategy
            ws[t.cell("measure", i)] = measure
            if g.code in plan.measures:  # a goal's numbers, with the goal only
                indicator, baseline, target = plan.measures[g.code]
                ws[t.cell("indicator", i)] = indicator
                ws[t.cell("baseline", i)] = baseline
                ws[t.cell("target", i)] = target
