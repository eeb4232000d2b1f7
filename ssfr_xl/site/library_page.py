"""The strategies library (every accepted plan's goals, strategies, measures and dollars) and
the central services page (each department's menu and what schools bought)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from ..money import money_sum
from .figures import DistrictFigures, SchoolFigures
from .i18n import N_, Formats
from .plans import SeasonTables
from .tables import Column, Table

Gettext = Callable[[str], str]

#: The library's need filter: quarters of the district's schools by high-need share.
NEED_GROUPS = {1: N_("Lowest-need quarter"), 2: N_("Second quarter"),
               3: N_("Third quarter"), 4: N_("Highest-need quarter")}


@dataclass(frozen=True)
class LibraryEntry:
    """One school goal of an accepted plan, as the library lists it."""

    school: SchoolFigures
    goal: str  # district goal code
    goal_name: str
    school_goal: str
    strategy: str
    measure: str
    dollars: float
    buys: tuple[str, ...]  # what the goal's lines pay for (descriptions, job titles)


@dataclass(frozen=True)
class GoalSection:
    """A district goal and the library's entries under it."""

    code: str
    name: str
    entries: tuple[LibraryEntry, ...]


def library(figures: DistrictFigures, season: SeasonTables) -> list[GoalSection]:
    """Entries grouped by district goal, in the district's goal order."""
    accepted = season.accepted()
    money: dict[tuple[str, str], list[float]] = defaultdict(list)
    buys: dict[tuple[str, str], list[str]] = defaultdict(list)
    titles = {j.code.upper(): j.title for j in figures.policy.job_classes}
    menu = {sv.code.upper(): sv.name for sv in figures.policy.services}
    for r in season.rows("lines"):
        key = (str(r["school_id"]), str(r["goal"]).upper())
        money[key].append(float(r["amount"] or 0))
        code = str(r["code"]).upper()
        what = {"position": titles.get(code, code), "service": menu.get(code, code)}.get(
            str(r["kind"]), str(r["description"] or code))
        if what and what not in buys[key]:
            buys[key].append(what)
    goals = {g.code.upper(): g.name for g in figures.policy.goals}
    order = [g.code.upper() for g in figures.policy.goals]
    entries: dict[str, list[LibraryEntry]] = defaultdict(list)
    for e in season.strategies:
        s = figures.by_id.get(e.school_id)
        if s is None or e.school_id not in accepted:
            continue
        key = (e.school_id, e.goal.upper())
        entries[e.goal.upper()].append(LibraryEntry(
            s, e.goal, goals.get(e.goal.upper(), e.goal), e.school_goal, e.strategy,
            e.measure, money_sum(money.get(key, [])), tuple(buys.get(key, [])[:8])))
    codes = [c for c in order if c in entries] + sorted(c for c in entries if c not in order)
    return [GoalSection(c, goals.get(c, c), tuple(entries[c])) for c in codes]


def services_tables(figures: DistrictFigures, season: SeasonTables | None,
                    _: Gettext, fmt: Formats) -> list[tuple[str, Table]]:
    """Per department: its menu and, with consolidated plans, what schools bought."""
    bought: dict[str, dict[str, tuple[float, float]]] = defaultdict(dict)
    buyers: dict[str, set[str]] = defaultdict(set)
    if season is not None:
        for r in season.rows("services_demand"):
            code, sid = str(r["service"]).upper(), str(r["school_id"])
            q, rev = bought[code].get(sid, (0.0, 0.0))
            bought[code][sid] = (q + float(r["quantity"] or 0), rev + float(r["revenue"] or 0))
            buyers[code].add(sid)
    planning = len(season.accepted()) if season is not None else 0
    departments: dict[str, list] = defaultdict(list)
    for sv in figures.policy.services:
        departments[sv.department].append(sv)
    out = []
    for number, (dept, services) in enumerate(departments.items(), start=1):
        columns = [Column("service", _("Service")), Column("code", _("Code")),
                   Column("unit", _("Unit")), Column("unit_price", _("Price per unit"),
                                                     "money")]
        rows = []
        for sv in services:
            row: list[object] = [sv.name, sv.code, sv.unit, sv.unit_price]
            if season is not None:
                mine = bought.get(sv.code.upper(), {})
                n = len(buyers.get(sv.code.upper(), set()))
                row += [n, n / planning if planning else None,
                        sum(q for q, _r in mine.values()),
                        money_sum(rev for _q, rev in mine.values())]
            rows.append(row)
        total = None
        if season is not None:
            columns += [Column("schools_buying", _("Schools buying"), "int"),
                        Column("share_buying", _("Share of schools buying"), "share"),
                        Column("quantity", _("Quantity bought"), "num1"),
                        Column("revenue", _("Revenue"), "money")]
            dept_buyers = set().union(*(buyers.get(sv.code.upper(), set()) for sv in services))
            total = [_("Whole department"), "", "", None, len(dept_buyers),
                     len(dept_buyers) / planning if planning else None, None,
                     money_sum(r[-1] for r in rows)]
        slug = f"{number}-" + ("".join(ch if ch.isascii() and ch.isalnum() else "-"
                                        for ch in dept.lower()).strip("-")[:40] or "dept")
        out.append((dept, Table(f"services-{slug}", _("{department}: menu and demand").format(
            department=dept), columns, rows, f"services-{slug}.csv", total=total)))
    return out
