"""Results on the site: the year-end outcomes matched to the plans' goals, as `ssfr-xl
results` computes them (ssfr_xl.results.school_results on the same outcomes file and the same
accepted plans of the season ledger), shown as tables.

One truth per number: nothing here recomputes a result. Each table's cells are the fields of
the ResultRow, GoalSummary and QuartileSummary objects the results workbook writes, so the
site and results.xlsx show the same figures (tests/test_site_results.py builds both and
compares them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..model import DistrictInputs
from ..results import ResultRow, Results
from .i18n import N_
from .tables import Column, Table

Gettext = Callable[[str], str]

#: "Better is" in the words of the results workbook, translated on the page.
BETTER_WORDS = {"up": N_("higher"), "down": N_("lower")}
QUARTILE_WORDS = {1: N_("Q1 (lowest need)"), 2: N_("Q2"), 3: N_("Q3"),
                  4: N_("Q4 (highest need)")}


@dataclass(frozen=True)
class SiteResults:
    """The results of the season, and where they come from."""

    results: Results
    outcomes_file: str
    accepted_plans: int

    def rows_of(self, school_id: str) -> list[ResultRow]:
        """The result rows of one school, in the outcomes file's order."""
        return [r for r in self.results.rows if r.school.school_id == school_id]


def read_results(inputs: DistrictInputs, outcomes: Path, ledger: Path | None) -> SiteResults:
    """The results as `ssfr-xl results` computes them: the outcomes file read and checked
    against the district, matched to the accepted plans of the ledger's season (none without
    a ledger)."""
    from ..results import school_results
    from ..season_results import accepted_plans
    from ..sources.outcomes import read_outcomes_csv

    found = read_outcomes_csv(outcomes, inputs.policy, inputs.schools)
    plans, statuses = (accepted_plans(ledger, inputs.district.fiscal_year,
                                      [s.school_id for s in inputs.schools])
                       if ledger is not None else ({}, {}))
    results = school_results(inputs.schools, inputs.policy, found, plans, statuses)
    return SiteResults(results, Path(outcomes).name, len(plans))


def met_word(row_met: bool | None, note: str, _: Gettext) -> str:
    """Yes / No / Not judged / '' (no target), as the results workbook's Target met."""
    if row_met is None:
        return _("Not judged") if note else ""
    return _("Yes") if row_met else _("No")


def school_results_table(view: SiteResults, school_id: str, slug: str, goal_names: dict,
                         _: Gettext) -> Table | None:
    """One school's outcomes, each with the plan goal stated in that indicator."""
    rows = view.rows_of(school_id)
    if not rows:
        return None
    table = Table(
        f"results-{slug}", _("Year-end results and the plan's goals"),
        [Column("indicator", _("Indicator")), Column("better_is", _("Better is")),
         Column("students", _("Students"), "int"),
         Column("last_year", _("Last year"), "num3"),
         Column("this_year", _("This year"), "num3"),
         Column("growth", _("Growth (+ = better)"), "num3"),
         Column("goal", _("Plan goal")),
         Column("baseline", _("Plan baseline"), "num3"),
         Column("target", _("Plan target"), "num3"),
         Column("target_met", _("Target met")),
         Column("planned", _("Planned dollars (goal)"), "money"),
         Column("note", _("Note"))],
        [[f"{r.indicator.name or r.indicator.code} ({r.indicator.unit})",
          _(BETTER_WORDS[r.indicator.direction]), r.outcome.students, r.outcome.prior,
          r.outcome.result, r.growth,
          goal_names.get(r.goal, r.goal), r.baseline, r.target,
          met_word(r.target_met, r.note, _), r.planned, r.note] for r in rows],
        f"schools/{slug}-results.csv")
    if not any(r.note for r in rows):  # a column of blanks only takes room
        table.columns.pop()
        table.rows = [row[:-1] for row in table.rows]
    table.cells_lang["note"] = "en"  # ssfr_xl.results writes its notes in English only
    return table


def goal_table(view: SiteResults, _: Gettext) -> Table:
    """The district by goal: plans measuring it, targets met, dollars, growth."""
    return Table(
        "results-by-goal", _("Results by district goal"),
        [Column("goal", _("District goal")), Column("indicator", _("Indicator")),
         Column("unit", _("Unit")), Column("schools", _("Schools measuring"), "int"),
         Column("targets_met", _("Targets met"), "int"),
         Column("share_met", _("Share met"), "share"),
         Column("planned", _("Planned dollars"), "money"),
         Column("students", _("Students"), "int"),
         Column("growth", _("Growth, these schools"), "num3"),
         Column("district_growth", _("Growth, all schools"), "num3")],
        [[g.goal_name, g.indicator.name or g.indicator.code, g.indicator.unit, g.schools,
          g.targets_met, g.targets_met / g.schools if g.schools else None, g.planned,
          g.students, g.growth, g.district_growth] for g in view.results.by_goal],
        "results-by-goal.csv")


def quartile_table(view: SiteResults, _: Gettext) -> Table:
    """The district by need quartile: levels, growth, plan goals and targets met."""
    return Table(
        "results-by-need", _("Results by need quartile"),
        [Column("quartile", _("Need quartile")), Column("indicator", _("Indicator")),
         Column("unit", _("Unit")), Column("schools", _("Schools"), "int"),
         Column("students", _("Students"), "int"),
         Column("last_year", _("Last year"), "num3"),
         Column("this_year", _("This year"), "num3"),
         Column("growth", _("Growth (+ = better)"), "num3"),
         Column("goals", _("Plan goals"), "int"),
         Column("targets_met", _("Targets met"), "int")],
        [[_(QUARTILE_WORDS[q.quartile]), q.indicator.name or q.indicator.code,
          q.indicator.unit, q.schools, q.students, q.prior, q.result, q.growth, q.goals,
          q.targets_met] for q in view.results.by_quartile],
        "results-by-need-quartile.csv")


def district_counts(view: SiteResults) -> tuple[int, int, int]:
    """(outcomes, plan goals measured, targets met): the results command's summary line."""
    rows: Sequence[ResultRow] = view.results.rows
    measured = [r for r in rows if r.goal]
    return (len({(r.school.school_id, r.indicator.code) for r in rows}), len(measured),
            sum(1 for r in measured if r.target_met))
