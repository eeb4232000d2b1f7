"""A school's page: its allocation with the math (the plan's Allocation sheet words, from
ssfr_xl.explain), last year against this year, and, once plans are consolidated, its plan by
goal and strategy, positions by job class, services bought and money left per fund."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import InputError
from ..money import money_sum
from .figures import DistrictFigures, SchoolFigures
from .i18n import N_, Formats
from .plans import SeasonTables
from .tables import Column, Table

Gettext = Callable[[str], str]

#: Words the pages translate that come from data.
LEVEL_WORDS = (N_("Elementary"), N_("Middle"), N_("High"), N_("Span"))
STATUS_WORDS = {"accepted": N_("accepted"), "accepted with warnings": N_("accepted with warnings"),
                "rejected": N_("rejected"), "missing": N_("missing")}


@dataclass
class SchoolPage:
    """Everything one school's page shows."""

    figures: SchoolFigures
    allocation: Table
    funds: Table
    prior: Table | None
    status: str = ""  # the plan's status when plans are consolidated
    plan_tables: list[Table] = field(default_factory=list)


def allocation_table(s: SchoolFigures, figures: DistrictFigures, _: Gettext) -> Table:
    """Component, fund, the math in words, amount; then a total per fund and overall."""
    rows = [[line.name, line.fund, line.math, line.amount] for line in s.lines]
    table = Table(
        f"allocation-{s.slug}", _("Allocation by component, with the math"),
        [Column("component", _("Component")), Column("fund", _("Fund")),
         Column("math", _("How it is computed"), "math"), Column("amount", _("Amount"),
                                                                 "money")],
        rows, f"schools/{s.slug}-allocation.csv", total=[_("Total, all funds"), "", "",
                                                         s.total])
    table.cells_lang["math"] = "en"  # ssfr_xl.explain writes the math in English only
    return table


def funds_table(s: SchoolFigures, figures: DistrictFigures, _: Gettext) -> Table:
    """The school's allocation per fund."""
    rows = [[f.code, f.name, _("restricted") if f.restricted else _("unrestricted"),
             s.funds[f.code]] for f in figures.policy.funds]
    return Table(f"funds-{s.slug}", _("Allocation by fund"),
                 [Column("fund", _("Fund")), Column("name", _("Name")),
                  Column("kind", _("Kind")), Column("allocation", _("Allocation"), "money")],
                 rows, f"schools/{s.slug}-funds.csv", total=[_("All funds"), "", "", s.total])


def prior_table(s: SchoolFigures, _: Gettext) -> Table | None:
    """Last year's unrestricted allocation against this year's."""
    if s.prior <= 0:
        return None
    return Table(f"prior-{s.slug}", _("This year against last year (unrestricted money)"),
                 [Column("year", _("Year")), Column("unrestricted", _("Unrestricted"),
                                                    "money")],
                 [[_("Last year"), s.prior], [_("This year"), s.unrestricted],
                  [_("Change"), s.change]],
                 f"schools/{s.slug}-prior-year.csv")


def plan_tables(s: SchoolFigures, figures: DistrictFigures, season: SeasonTables,
                _: Gettext) -> list[Table]:
    """The accepted plan: money per fund, goals and strategies, positions, services."""
    sid = s.school_id
    out = []
    by_school = [r for r in season.rows("by_school") if str(r["school_id"]) == sid]
    funds = {f.code: f for f in figures.policy.funds}
    rows = []
    for r in by_school:
        fund = str(r["fund"])
        expected = s.funds.get(fund)
        if expected is None or abs(float(r["allocation"] or 0) - expected) >= 0.005:
            raise InputError(
                f"The consolidated season ({season.source_file}) gives school {sid} an "
                f"allocation of {r['allocation']} in fund {fund}, but the district workbook "
                f"gives {expected}: it was consolidated against other allocations. Run "
                "ssfr-xl consolidate again with this district workbook, then publish.")
        rows.append([fund, funds[fund].name if fund in funds else "", r["allocation"],
                     r["planned"] if r["planned"] != "" else None,
                     r["remaining"] if r["remaining"] != "" else None])
    out.append(Table(f"plan-funds-{s.slug}", _("The plan per fund: allocation, planned, left"),
                     [Column("fund", _("Fund")), Column("name", _("Name")),
                      Column("allocation", _("Allocation"), "money"),
                      Column("planned", _("Planned"), "money"),
                      Column("remaining", _("Left"), "money")],
                     rows, f"schools/{s.slug}-plan-funds.csv"))

    lines = [r for r in season.rows("lines") if str(r["school_id"]) == sid]
    by_goal: dict[str, list[float]] = defaultdict(list)
    for r in lines:
        by_goal[str(r["goal"]).upper()].append(float(r["amount"] or 0))
    goal_names = {g.code.upper(): g.name for g in figures.policy.goals}
    entries = [e for e in season.strategies if e.school_id == sid]
    goal_rows = []
    for e in entries:
        goal_rows.append([goal_names.get(e.goal.upper(), e.goal), e.school_goal, e.strategy,
                          e.measure, money_sum(by_goal.get(e.goal.upper(), []))])
    for code, amounts in by_goal.items():  # money planned to a goal with no strategy row
        if not any(e.goal.upper() == code for e in entries):
            goal_rows.append([goal_names.get(code, code), "", "", "", money_sum(amounts)])
    order = {g.name: i for i, g in enumerate(figures.policy.goals)}
    goal_rows.sort(key=lambda r: order.get(r[0], len(order)))  # stable: the district's order
    columns = [Column("district_goal", _("District goal")),
               Column("school_goal", _("School goal")), Column("strategy", _("Strategy")),
               Column("measure", _("Measure of success")),
               Column("planned", _("Planned for this goal"), "money")]
    if not season.has_strategy_texts:
        columns, goal_rows = [columns[0], columns[-1]], [[r[0], r[-1]] for r in goal_rows]
    out.append(Table(f"plan-goals-{s.slug}", _("The plan by goal and strategy"), columns,
                     goal_rows, f"schools/{s.slug}-plan-goals.csv",
                     total=[_("All goals"), *([""] * (len(columns) - 2)),
                            money_sum(r[-1] for r in goal_rows)]))

    positions = [r for r in season.rows("positions") if str(r["school_id"]) == sid]
    pos_rows = [[str(r["job_class"]), str(r["title"]), float(r["fte"] or 0),
                 float(r["cost"] or 0)] for r in positions]
    out.append(Table(f"plan-positions-{s.slug}", _("Positions by job class"),
                     [Column("job_class", _("Job class")), Column("title", _("Title")),
                      Column("fte", _("FTE"), "num1"), Column("cost", _("Cost"), "money")],
                     pos_rows, f"schools/{s.slug}-positions.csv",
                     total=[_("All positions"), "", sum(r[2] for r in pos_rows),
                            money_sum(r[3] for r in pos_rows)]))

    menu = {sv.code.upper(): sv for sv in figures.policy.services}
    services = [r for r in season.rows("services_demand") if str(r["school_id"]) == sid]
    svc_rows = [[str(r["service"]), menu[str(r["service"]).upper()].name
                 if str(r["service"]).upper() in menu else "", str(r["department"]),
                 float(r["quantity"] or 0), float(r["revenue"] or 0)] for r in services]
    out.append(Table(f"plan-services-{s.slug}", _("Services bought from central offices"),
                     [Column("service", _("Service")), Column("name", _("Name")),
                      Column("department", _("Department")),
                      Column("quantity", _("Quantity"), "num1"),
                      Column("cost", _("Cost"), "money")],
                     svc_rows, f"schools/{s.slug}-services.csv",
                     total=[_("All services"), "", "", None,
                            money_sum(r[4] for r in svc_rows)]))
    return out


def school_page(s: SchoolFigures, figures: DistrictFigures, season: SeasonTables | None,
                _: Gettext, fmt: Formats) -> SchoolPage:
    """The page of one school."""
    page = SchoolPage(s, allocation_table(s, figures, _), funds_table(s, figures, _),
                      prior_table(s, _))
    if season is not None:
        status = season.status().get(s.school_id, "missing")
        page.status = status
        if status.startswith("accepted"):
            page.plan_tables += plan_tables(s, figures, season, _)
    return page
