"""Equity statistics of an allocation, as school-finance research reports them.

Computed over schools with pupils, on per-pupil funding (all funds, rounded to the cent as the
Allocations sheet shows it), unweighted by enrollment — the same figures the district
workbook's Summary sheet computes with SUMIF, PERCENTILE, SLOPE and CORREL:

- coefficient of variation (horizontal equity; Picus suggests <= 0.10);
- McLoone index: funding of schools below the median relative to the median (1 = equal);
- Verstegen index: the same above the median;
- federal range ratio: (95th percentile - 5th percentile) / 5th percentile;
- vertical equity: slope and correlation of per-pupil funding on the share of high-need
  (unduplicated) pupils; a need-based formula shows a positive slope.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import numpy as np

from .formula import AllocationResult
from .money import excel_round, format_money


@dataclass(frozen=True)
class EquityStats:
    """Equity figures of one allocation."""

    schools: int
    cv: float | None  # None = undefined (n/a): no funding at all
    mcloone: float
    verstegen: float
    range_ratio: float | None  # None = undefined (n/a): the 5th percentile is 0
    need_slope: float | None  # dollars per pupil per 1.00 of need share; None: need is constant
    need_correlation: float | None  # None: need or funding is constant


def per_pupil(result: AllocationResult) -> tuple[list[float], list[float]]:
    """(per-pupil funding, need share) of every school with pupils."""
    funding, need = [], []
    for i, school in enumerate(result.schools):
        pupils = school.count(result.inputs.district.per_pupil_enrollment)
        if pupils > 0:
            funding.append(excel_round(result.school_total(i) / pupils))
        if pupils > 0 and school.enrollment > 0:
            need.append(school.unduplicated / school.enrollment)
        elif pupils > 0:
            need.append(0.0)
    return funding, need


def equity_stats(result: AllocationResult) -> EquityStats | None:
    """The statistics, or None with fewer than two schools with pupils."""
    pp, need = per_pupil(result)
    if len(pp) < 2:
        return None
    mean = math.fsum(pp) / len(pp)
    median = statistics.median(pp)
    below = [v for v in pp if v < median]
    above = [v for v in pp if v > median]
    p5, p95 = np.percentile(pp, [5, 95])  # linear interpolation, as Excel's PERCENTILE
    x, y = np.array(need), np.array(pp)
    spread = float(np.sum((x - x.mean()) ** 2))
    slope = float(np.sum((x - x.mean()) * (y - y.mean())) / spread) if spread else None
    corr = float(np.corrcoef(x, y)[0, 1]) if spread and y.std() else None
    return EquityStats(
        schools=len(pp),
        cv=statistics.pstdev(pp) / mean if mean else None,
        mcloone=math.fsum(below) / (len(below) * median) if below and median else 1.0,
        verstegen=math.fsum(above) / (len(above) * median) if above and median else 1.0,
        range_ratio=float((p95 - p5) / p5) if p5 else None,
        need_slope=slope,
        need_correlation=corr,
    )


def equity_lines(result: AllocationResult) -> list[str]:
    """The statistics as lines for a report."""
    stats = equity_stats(result)
    if stats is None:
        return []
    slope = "n/a" if stats.need_slope is None else format_money(stats.need_slope, 0)
    return [
        f"  Equity (per pupil, {stats.schools} schools): coefficient of variation "
        f"{shown(stats.cv)}; McLoone {stats.mcloone:.3f}; Verstegen {stats.verstegen:.3f}; "
        f"federal range ratio {shown(stats.range_ratio)}",
        f"  Vertical equity: {slope} more per pupil from 0% to 100% high-need "
        f"pupils (correlation {shown(stats.need_correlation, 2)})",
    ]


def shown(value: float | None, decimals: int = 3) -> str:
    """A statistic as reports show it: n/a when it is undefined."""
    return "n/a" if value is None else f"{value:.{decimals}f}"
