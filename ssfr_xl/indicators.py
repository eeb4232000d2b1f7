"""The indicators school goals are measured by: the California School Dashboard's, plus the
district's own ([[indicator]] in the policy, the Indicators table of the district workbook).

Each has a direction (up: higher is better, as the graduation rate; down: lower is better, as
chronic absenteeism) and a unit shown beside baselines and targets. A district indicator with
a Dashboard code replaces the Dashboard's (another unit or name); others follow in order.
"""

from __future__ import annotations

import re

from .model import Indicator, Policy

#: An indicator code: Latin letters, digits, - and _ (what an outcomes file and a plan's
#: dropdown can both hold unchanged, and no look-alike letters of other scripts).
CODE = re.compile(r"^[A-Za-z0-9_-]+$")

DIRECTIONS = ("up", "down")

#: The California School Dashboard's state indicators, as SPSA goals state them.
DASHBOARD_INDICATORS: tuple[Indicator, ...] = (
    Indicator("CHRONIC", "Chronic absenteeism rate", "down", "%"),
    Indicator("SUSP", "Suspension rate", "down", "%"),
    Indicator("ELA", "ELA distance from standard", "up", "points"),
    Indicator("MATH", "Math distance from standard", "up", "points"),
    Indicator("GRAD", "Graduation rate", "up", "%"),
    Indicator("ELPI", "English learner progress", "up", "%"),
)


def indicator_list(policy: Policy) -> tuple[Indicator, ...]:
    """Every indicator a plan may choose: the Dashboard's (replaced by the district's of the
    same code), then the district's others."""
    own = {i.code: i for i in policy.indicators}
    base = tuple(own.get(i.code, i) for i in DASHBOARD_INDICATORS)
    known = {i.code for i in DASHBOARD_INDICATORS}
    return base + tuple(i for i in policy.indicators if i.code not in known)


def district_indicators(listed: tuple[Indicator, ...]) -> tuple[Indicator, ...]:
    """The policy's own indicators from a full list (what differs from the Dashboard's)."""
    dashboard = set(DASHBOARD_INDICATORS)
    return tuple(i for i in listed if i not in dashboard)


def indicator_code_problems(policy: Policy, where: str) -> list[str]:
    """The district's own indicator codes that are not plain Latin letters, digits, - or _
    (a space, a Cyrillic letter that looks Latin, a formula): plans and outcomes files would
    not match them."""
    return [f"{where}: indicator code {i.code!r} may hold only Latin letters, digits, - and _ "
            "(no spaces or letters of other scripts) — rename it." for i in policy.indicators
            if i.code and i.code == i.code.strip() and not CODE.match(i.code)]
