"""Today's allocation against scenarios: the numbers `ssfr-xl compare` shows.

Each scenario is an overlay on the district workbook's policy (scenario.py); the engine
(formula.allocate) runs on today's inputs and on each overlay. Per school and component the
comparison gives today's amount, the scenario's, the change in dollars, per pupil and in
percent; per school, whether it wins or loses. A school wins (loses) when its total, all
funds, changes by more than WIN_LOSS_MARGIN: cents of rounding are not a change of policy.
Per-pupil figures are the Allocations sheet's: the total over the per-pupil count, rounded
to the cent; the change per pupil is the difference of the two rounded figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from .equity import EquityStats, equity_stats
from .formula import AllocationResult, allocate
from .model import DistrictInputs, School
from .money import excel_round
from .scenario import Scenario

#: A school wins or loses when its total changes by more than this many dollars.
WIN_LOSS_MARGIN = 0.50

WINNER, LOSER, UNCHANGED = "Winner", "Loser", "Unchanged"


def verdict(change: float) -> str:
    """Winner, Loser or Unchanged for a change of a school's total (dollars)."""
    if change > WIN_LOSS_MARGIN:
        return WINNER
    if change < -WIN_LOSS_MARGIN:
        return LOSER
    return UNCHANGED


def change_share(today: float, scenario: float) -> float | None:
    """The change as a share of today's amount (None when today's is 0)."""
    return (scenario - today) / today if today else None


@dataclass(frozen=True)
class Run:
    """One allocation: today's (scenario None) or a scenario's."""

    scenario: Scenario | None
    inputs: DistrictInputs
    result: AllocationResult

    @property
    def name(self) -> str:
        """Today, or the scenario's name."""
        return "Today" if self.scenario is None else self.scenario.name

    @cached_property
    def totals(self) -> list[float]:
        """Each school's total, all funds."""
        return [self.result.school_total(i) for i in range(len(self.inputs.schools))]

    @cached_property
    def per_pupil(self) -> list[float | None]:
        """Each school's total per pupil, rounded to the cent (None without pupils)."""
        field = self.inputs.district.per_pupil_enrollment
        return [excel_round(t / s.count(field)) if s.count(field) > 0 else None
                for t, s in zip(self.totals, self.inputs.schools, strict=True)]

    @cached_property
    def equity(self) -> EquityStats | None:
        """Equity statistics (None with fewer than two schools with pupils)."""
        return equity_stats(self.result)

    def amount(self, component: int, school: int) -> float:
        """One component's amount for one school."""
        return float(self.result.components[component].amount[school])


@dataclass(frozen=True)
class SchoolChange:
    """One school under one scenario."""

    school: School
    today: float
    scenario: float
    today_per_pupil: float | None
    scenario_per_pupil: float | None

    @property
    def change(self) -> float:
        """Scenario minus today, to the cent."""
        return excel_round(self.scenario - self.today)

    @property
    def change_share(self) -> float | None:
        """The change as a share of today's total."""
        return change_share(self.today, self.scenario)

    @property
    def change_per_pupil(self) -> float | None:
        """Scenario per pupil minus today's, to the cent."""
        if self.today_per_pupil is None or self.scenario_per_pupil is None:
            return None
        return excel_round(self.scenario_per_pupil - self.today_per_pupil)

    @property
    def verdict(self) -> str:
        """Winner, Loser or Unchanged."""
        return verdict(self.change)


@dataclass(frozen=True)
class Comparison:
    """Today and every scenario, run on the same district."""

    today: Run
    runs: tuple[Run, ...]  # one per scenario, in the order given

    @property
    def schools(self) -> tuple[School, ...]:
        """The roster, in order."""
        return self.today.inputs.schools

    def school_changes(self, k: int) -> list[SchoolChange]:
        """Every school under scenario k (0-based), in roster order."""
        run = self.runs[k]
        return [SchoolChange(s, self.today.totals[i], run.totals[i], self.today.per_pupil[i],
                             run.per_pupil[i]) for i, s in enumerate(self.schools)]

    def winners(self, k: int) -> list[SchoolChange]:
        """Schools gaining more than the margin, largest gain first."""
        return sorted((c for c in self.school_changes(k) if c.verdict == WINNER),
                      key=lambda c: (-c.change, c.school.school_id))

    def losers(self, k: int) -> list[SchoolChange]:
        """Schools losing more than the margin, largest loss first."""
        return sorted((c for c in self.school_changes(k) if c.verdict == LOSER),
                      key=lambda c: (c.change, c.school.school_id))

    def component_rows(self) -> list[tuple[int, int]]:
        """(school index, component index) of every school x component, roster order."""
        n = len(self.today.result.components)
        return [(i, j) for i in range(len(self.schools)) for j in range(n)]


def compare(inputs: DistrictInputs, scenarios: Sequence[Scenario]) -> Comparison:
    """Run the formula today and under each scenario."""
    today = Run(None, inputs, allocate(inputs))
    runs = []
    for s in scenarios:
        overlaid = s.apply(inputs)
        runs.append(Run(s, overlaid, allocate(overlaid)))
    return Comparison(today, tuple(runs))


def money(value: float) -> str:
    """Signed dollars: +$1,234.50 or -$80.00."""
    sign = "-" if value < 0 else "+"
    return f"{sign}${abs(value):,.2f}"


def percent(share: float | None) -> str:
    """A share as a signed percent (n/a without a base)."""
    return "n/a" if share is None else f"{share * 100:+.1f}%"


def summary_lines(comparison: Comparison) -> list[str]:
    """The stdout summary: per scenario, what changed, winners and losers, biggest changes."""
    today = comparison.today
    n = len(comparison.schools)
    lines = [f"Compared {n} schools of {today.inputs.district.name or 'the district'}: today "
             f"and {len(comparison.runs)} scenario{'s' if len(comparison.runs) != 1 else ''} "
             f"(a school wins or loses when its total changes by more than "
             f"${WIN_LOSS_MARGIN:.2f})."]
    for k, run in enumerate(comparison.runs):
        assert run.scenario is not None
        changes = run.scenario.changes(today.inputs)
        what = "; ".join(f"{p.label} {p.today:g} -> {v:g}" for p, v in changes) or \
            "no parameter differs from today"
        winners, losers = comparison.winners(k), comparison.losers(k)
        lines.append(f"{run.name} ({run.scenario.source}): {what}")
        lines.append(f"  {len(winners)} winner{'s' if len(winners) != 1 else ''}, "
                     f"{len(losers)} loser{'s' if len(losers) != 1 else ''}, "
                     f"{n - len(winners) - len(losers)} unchanged; base rate "
                     f"${today.result.base_rate:,.2f} -> ${run.result.base_rate:,.2f}")
        for label, group in (("biggest gain", winners), ("biggest loss", losers)):
            if group:
                c = group[0]
                lines.append(f"  {label}: {c.school.school_id} {c.school.name} "
                             f"{money(c.change)} ({percent(c.change_share)})")
    return lines
