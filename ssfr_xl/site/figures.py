"""The district's and each school's figures for the site, from the engine.

Every number comes from `ssfr_xl.formula.allocate` on the district workbook's inputs (as
`ssfr-xl allocate` computes them), the equity statistics from `ssfr_xl.equity`, and each
component's math in words from `ssfr_xl.explain` — the same sentences the plan's Allocation
sheet shows. Nothing here formats for a language: pages do that (ssfr_xl.site.i18n).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ..equity import EquityStats, equity_stats
from ..explain import AllocationLine, allocation_lines
from ..formula import AllocationResult, ComponentResult
from ..model import School
from ..money import excel_round, money_sum

#: A school's page name: its id with anything but letters, digits, - and _ replaced.
_SLUG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class ComponentFigures:
    """One formula component, district-wide."""

    code: str
    name: str
    kind: str
    fund: str
    restricted: bool
    rate: float  # effective dollars per unit (0 where the kind has no single rate)
    total: float
    schools_receiving: int
    basis: tuple[str, ...]
    threshold: float
    note: str


@dataclass
class SchoolFigures:
    """One school's allocation and the figures derived from it."""

    index: int
    school: School
    slug: str
    lines: tuple[AllocationLine, ...]
    funds: dict[str, float]  # fund code -> allocation, every fund of the policy
    total: float
    unrestricted: float
    pupils: float
    per_pupil: float | None  # None: no pupils
    need_share: float
    prior: float  # 0: no prior-year allocation
    change: float | None  # unrestricted - prior; None without a prior year
    change_share: float | None
    need_group: int = 0  # 1 (lowest need quarter) .. 4 (highest); 0 unknown

    @property
    def school_id(self) -> str:
        """The school's id."""
        return self.school.school_id

    @property
    def name(self) -> str:
        """The school's name."""
        return self.school.name


@dataclass
class DistrictFigures:
    """Everything the district and school pages show that the engine computed."""

    result: AllocationResult
    components: list[ComponentFigures]
    schools: list[SchoolFigures]
    fund_totals: dict[str, float]
    equity: EquityStats | None
    total: float
    pupils: float
    by_id: dict[str, SchoolFigures] = field(default_factory=dict)

    @property
    def district(self):
        """The district's settings (name, fiscal year, budget ...)."""
        return self.result.inputs.district

    @property
    def policy(self):
        """The district's policy (funds, components, lists)."""
        return self.result.inputs.policy


def slugs(schools: tuple[School, ...]) -> list[str]:
    """A distinct, file-name-safe page name per school (ids differing only in unsafe
    characters or case get a number)."""
    out: list[str] = []
    taken: set[str] = set()
    for school in schools:
        base = _SLUG_UNSAFE.sub("_", school.school_id).strip("_")[:80] or "school"
        slug, n = base, 2
        while slug.casefold() in taken:
            slug, n = f"{base}-{n}", n + 1
        taken.add(slug.casefold())
        out.append(slug)
    return out


def district_figures(result: AllocationResult) -> DistrictFigures:
    """The figures of every page, from one allocation."""
    d = result.inputs.district
    funds = [f.code for f in result.inputs.policy.funds]
    schools: list[SchoolFigures] = []
    for i, (school, slug) in enumerate(zip(result.schools, slugs(result.schools), strict=True)):
        pupils = float(school.count(d.per_pupil_enrollment))
        total = result.school_total(i)
        unrestricted = result.school_total(i, restricted=False)
        prior = float(school.prior_year_allocation or 0.0)
        by_fund = {f: money_sum(float(r.amount[i]) for r in result.components
                                if r.component.fund == f) for f in funds}
        schools.append(SchoolFigures(
            index=i, school=school, slug=slug, lines=allocation_lines(result, i),
            funds=by_fund, total=total, unrestricted=unrestricted, pupils=pupils,
            per_pupil=excel_round(total / pupils) if pupils > 0 else None,
            need_share=school.unduplicated / school.enrollment if school.enrollment else 0.0,
            prior=prior,
            change=excel_round(unrestricted - prior) if prior > 0 else None,
            change_share=(unrestricted - prior) / prior if prior > 0 else None,
        ))
    _need_groups(schools)
    figures = DistrictFigures(
        result=result,
        components=[_component(result, r) for r in result.components],
        schools=schools,
        fund_totals=result.fund_totals(),
        equity=equity_stats(result),
        total=money_sum(s.total for s in schools),
        pupils=math.fsum(s.pupils for s in schools),
    )
    figures.by_id = {s.school_id: s for s in schools}
    return figures


def _component(result: AllocationResult, r: ComponentResult) -> ComponentFigures:
    c = r.component
    return ComponentFigures(
        code=c.code, name=c.name, kind=c.kind, fund=c.fund, restricted=r.restricted,
        rate=float(r.rate), total=money_sum(float(v) for v in r.amount),
        schools_receiving=int(sum(1 for v in r.amount if abs(float(v)) >= 0.005)),
        basis=tuple(c.basis), threshold=c.threshold, note=c.note)


def _need_groups(schools: list[SchoolFigures]) -> None:
    """Quarter of the district by need share (1 lowest .. 4 highest), for the library's
    'schools like mine' filter; ties share a quarter."""
    ordered = sorted(schools, key=lambda s: s.need_share)
    n, first = len(ordered), 0
    for rank, s in enumerate(ordered):
        if rank and s.need_share != ordered[rank - 1].need_share:
            first = rank
        s.need_group = max(1, min(4, 1 + (4 * first) // n))
