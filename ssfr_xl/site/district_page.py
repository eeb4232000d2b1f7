"""The district page: the formula in plain words, budget and funds, equity, charts, schools."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from ..money import excel_round, money_sum
from .charts import Point, scatter, stacked_bars
from .figures import ComponentFigures, DistrictFigures
from .i18n import N_, Formats
from .plans import SeasonTables
from .tables import Column, Link, Table

Gettext = Callable[[str], str]

#: Built-in roster counts by name, for "who it serves" (translated on the page).
BASIS_WORDS = {
    "enrollment": N_("all pupils"),
    "frpm": N_("pupils eligible for free or reduced-price meals"),
    "el": N_("English learners"),
    "swd": N_("students with disabilities"),
    "foster": N_("foster youth"),
    "homeless": N_("pupils experiencing homelessness"),
    "unduplicated": N_("high-need (unduplicated) pupils"),
    "performance_points": N_("performance points"),
    "hard_to_staff_teachers": N_("teachers in hard-to-staff positions"),
}

#: SACS object groups by the object code's first digit, when the district's list has no group.
GROUP_BY_DIGIT = {"1": N_("Salaries"), "2": N_("Salaries"), "3": N_("Benefits"),
                  "4": N_("Supplies"), "5": N_("Services"), "6": N_("Capital")}
GROUP_ORDER = ("Salaries", "Benefits", "Supplies", "Services", "Capital")


@dataclass
class Chart:
    """A chart as the page shows it: SVG and PNG file names, a text alternative, its data."""

    id: str
    title: str
    alt: str
    summary: str
    svg: str  # the SVG text
    table: Table

    @property
    def height(self) -> int:
        """The SVG's height in pixels (its width is charts.WIDTH)."""
        import re

        m = re.search(r'viewBox="0 0 \d+ (\d+)"', self.svg)
        return int(m.group(1)) if m else 420

    @property
    def file(self) -> str:
        """Base file name under charts/."""
        return self.id


def basis_words(c: ComponentFigures, policy, _: Gettext) -> str:
    """The counts a component is driven by, in words."""
    parts = []
    for b in c.basis:
        if b.startswith("span:"):
            parts.append(_("pupils in grades {span}").format(span=b[5:]))
        elif b in BASIS_WORDS:
            parts.append(_(BASIS_WORDS[b]))
        else:
            column = policy.roster_column(b)
            parts.append(column.header if column else b.replace("_", " "))
    return " + ".join(parts)


def who_it_serves(c: ComponentFigures, figures: DistrictFigures, _: Gettext,
                  fmt: Formats) -> str:
    """One sentence per kind: who the component's money goes to."""
    basis = basis_words(c, figures.policy, _)
    d = figures.district
    if c.kind == "base":
        if c.basis:
            return _("Every pupil counted as {basis}.").format(basis=basis)
        spans = ", ".join(f"{s.name} × {fmt.decimal(s.weight)}" for s in figures.policy.spans)
        return _("Every pupil, weighted by grade span ({spans}).").format(spans=spans)
    words = {
        "per_pupil": _("Each pupil counted as {basis}."),
        "concentration": _("Schools where {basis} are more than {threshold} of pupils: for "
                           "each pupil above that share."),
        "foundation": _("Every school: a fixed amount by level, so a small school can pay "
                        "for a principal and an office."),
        "small_school": _("Schools with fewer pupils than the minimum for their level."),
        "categorical": _("Schools where the share of {basis} is above the threshold for "
                         "their level: for each such pupil."),
        "pool": _("A fixed pool shared in proportion to {basis}."),
        "floor": _("Eligible schools: the greater of a rate for each pupil ({basis}) and a "
                   "minimum."),
        "transition": _("Schools that would lose more than {loss} of last year's "
                        "allocation; paid for by schools that gain."),
        "adjustment": _("Schools with a named adjustment line, each with its reason."),
    }
    text = words.get(c.kind, "{basis}")
    return text.format(basis=basis, threshold=fmt.share(c.threshold, 0),
                       loss=fmt.share(d.transition_max_loss))


def formula_table(figures: DistrictFigures, _: Gettext, fmt: Formats) -> Table:
    """Each component: who it serves, its fund, its rate, its total, schools receiving it."""
    rate_kinds = {"base", "per_pupil", "concentration", "categorical", "small_school", "floor"}
    rows = []
    for c in figures.components:
        restricted = _("restricted") if c.restricted else _("unrestricted")
        rows.append([c.name, who_it_serves(c, figures, _, fmt), f"{c.fund} ({restricted})",
                     c.rate if c.kind in rate_kinds and c.rate else None,
                     c.schools_receiving, c.total])
    return Table(
        "formula", _("The formula, component by component"),
        [Column("component", _("Component")), Column("who_it_serves", _("Who it serves")),
         Column("fund", _("Fund")), Column("rate", _("Rate per pupil or unit"), "money"),
         Column("schools", _("Schools receiving it"), "int"),
         Column("total", _("Total"), "money")],
        rows, "formula.csv",
        total=[_("All components"), "", "", None, None,
               money_sum(c.total for c in figures.components)])


def funds_table(figures: DistrictFigures, _: Gettext) -> Table:
    """Totals by fund."""
    rows = [[f.code, f.name, _("restricted") if f.restricted else _("unrestricted"),
             figures.fund_totals[f.code]] for f in figures.policy.funds]
    return Table("funds", _("Money by fund"),
                 [Column("fund", _("Fund")), Column("name", _("Name")),
                  Column("kind", _("Kind")), Column("total", _("Total"), "money")],
                 rows, "funds.csv", total=[_("All funds"), "", "", figures.total])


def budget_sentence(figures: DistrictFigures, _: Gettext, fmt: Formats) -> str:
    """The budget check in words, as the workbook's Summary says it."""
    result, d = figures.result, figures.district
    counted = fmt.money(result.budget_total)
    if d.base_rate_mode == "fixed" and d.budget == 0:
        return _("No budget is set (the base rate is fixed): {counted} of unrestricted "
                 "money counts against a budget.").format(counted=counted)
    if d.base_rate_mode == "solve":
        return _("The unrestricted budget is {budget}. The base rate, {rate} per weighted "
                 "pupil, is solved so the formula hands out exactly that: {counted}, a "
                 "rounding difference of {diff}.").format(
            budget=fmt.money(d.budget), rate=fmt.money(result.base_rate), counted=counted,
            diff=fmt.money(result.rounding_difference))
    return _("The unrestricted budget is {budget}; at a fixed base rate of {rate} the "
             "formula hands out {counted}, leaving {diff} unallocated.").format(
        budget=fmt.money(d.budget), rate=fmt.money(result.base_rate), counted=counted,
        diff=fmt.money(result.rounding_difference))


def equity_table(figures: DistrictFigures, _: Gettext, fmt: Formats) -> Table | None:
    """The equity statistics, each with one sentence on what it means."""
    e = figures.equity
    if e is None:
        return None
    pp = sorted(s.per_pupil for s in figures.schools if s.per_pupil is not None)
    median = excel_round(pp[len(pp) // 2] if len(pp) % 2 else (pp[len(pp) // 2 - 1]
                                                               + pp[len(pp) // 2]) / 2)
    slope = "n/a" if e.need_slope is None else fmt.money(e.need_slope, 0)
    rows = [
        [_("Per pupil: lowest, median, highest"),
         " / ".join(fmt.money(v) for v in (pp[0], median, pp[-1])),
         _("What schools get per pupil, all funds, from the least to the most generously "
           "funded.")],
        [_("Coefficient of variation"), fmt.statistic(e.cv),
         _("How much per-pupil funding varies between schools, relative to the average: 0 "
           "means every school gets the same; research treats 0.10 or less as an even "
           "spread.")],
        [_("McLoone index"), fmt.statistic(e.mcloone),
         _("What the schools below the median get, as a share of the median: 1 means no "
           "school is funded below the median.")],
        [_("Verstegen index"), fmt.statistic(e.verstegen),
         _("What the schools above the median get, relative to the median: 1 means none is "
           "funded above it.")],
        [_("Federal range ratio"), fmt.statistic(e.range_ratio),
         _("How far apart the best- and least-funded schools are: the 95th percentile minus "
           "the 5th, divided by the 5th.")],
        [_("Need slope"), slope,
         _("How much more per pupil a school whose pupils are all high-need gets than one "
           "with none: a need-based formula shows a positive slope.")],
        [_("Need correlation"), fmt.statistic(e.need_correlation, 2),
         _("How closely per-pupil funding follows the share of high-need pupils, from -1 to "
           "1: near 1, need drives the money.")],
    ]
    return Table("equity", _("Equity of the allocation ({n} schools)").format(n=e.schools),
                 [Column("statistic", _("Statistic")), Column("value", _("Value")),
                  Column("meaning", _("What it means"))], rows, "equity.csv")


def schools_table(figures: DistrictFigures, _: Gettext, href: Callable[[str], str]) -> Table:
    """Every school: pupils, need, total, per pupil, prior year and change."""
    rows = [[Link(s.name, href(s.slug)), s.school_id, _(s.school.level), s.pupils,
             s.need_share, s.total, s.per_pupil, s.prior or None, s.change, s.change_share]
            for s in figures.schools]
    return Table(
        "schools", _("Every school's allocation"),
        [Column("school", _("School"), "link"), Column("school_id", _("School ID")),
         Column("level", _("Level")), Column("pupils", _("Pupils"), "int"),
         Column("need_share", _("High-need share"), "share"),
         Column("total", _("Total, all funds"), "money"),
         Column("per_pupil", _("Per pupil"), "money"),
         Column("prior", _("Last year (unrestricted)"), "money"),
         Column("change", _("Change (unrestricted)"), "money"),
         Column("change_share", _("Change %"), "share")],
        rows, "schools.csv",
        total=[_("All schools"), "", "", figures.pupils, None, figures.total, None,
               money_sum(s.prior for s in figures.schools) or None, None, None])


def need_charts(figures: DistrictFigures, _: Gettext, fmt: Formats) -> list[Chart]:
    """The district workbook's two scatters: per pupil and change, against need."""
    x_label = _("Share of high-need (unduplicated) pupils")
    charts = []
    with_pupils = [s for s in figures.schools if s.per_pupil is not None]
    points = [Point(s.need_share, s.per_pupil, s.name) for s in with_pupils]
    title = _("Per-pupil allocation (all funds) against the share of high-need pupils")
    slope = figures.equity.need_slope if figures.equity else None
    summary = (_("Each dot is a school. A need-based formula gives more per pupil where more "
                 "pupils are high-need: here the trend is {slope} per pupil from 0% to 100% "
                 "high-need.").format(slope=fmt.money(slope, 0))
               if slope is not None else _("Each dot is a school."))
    table = Table("chart-per-pupil-data", _("Data of the chart: per pupil and need share"),
                  [Column("school", _("School")), Column("need_share", _("High-need share"),
                                                         "share"),
                   Column("per_pupil", _("Per pupil"), "money")],
                  [[s.name, s.need_share, s.per_pupil] for s in with_pupils],
                  "chart-per-pupil.csv")
    charts.append(Chart("per-pupil-vs-need", title, title, summary, scatter(
        points, title=title, desc=summary, x_label=x_label, y_label=_("Dollars per pupil"),
        x_format=lambda v: fmt.share(v, 0), y_format=lambda v: fmt.money(v, 0)), table))
    with_prior = [s for s in figures.schools if s.change_share is not None]
    if with_prior:
        title = _("Change against last year (unrestricted) against the share of high-need "
                  "pupils")
        gain = sum(1 for s in with_prior if s.change_share > 0)
        summary = _("Each dot is a school: {gain} of {n} schools get more unrestricted money "
                    "than last year.").format(gain=gain, n=len(with_prior))
        table = Table("chart-change-data", _("Data of the chart: change and need share"),
                      [Column("school", _("School")),
                       Column("need_share", _("High-need share"), "share"),
                       Column("change_share", _("Change %"), "share")],
                      [[s.name, s.need_share, s.change_share] for s in with_prior],
                      "chart-change.csv")
        charts.append(Chart("change-vs-need", title, title, summary, scatter(
            [Point(s.need_share, s.change_share, s.name) for s in with_prior], title=title,
            desc=summary, x_label=x_label, y_label=_("Change against last year"),
            x_format=lambda v: fmt.share(v, 0), y_format=lambda v: fmt.share(v, 0),
            zero_line=True), table))
    return charts


def object_group(code: str, policy) -> str:
    """The object group of a SACS object code (the district's list, else its first digit)."""
    named = {o.code: o.group for o in policy.objects}
    if code in named and named[code]:
        return named[code]
    return GROUP_BY_DIGIT.get(str(code)[:1], N_("Other"))


def spending_by_group(season: SeasonTables, figures: DistrictFigures, _: Gettext,
                      fmt: Formats) -> tuple[Table, Chart]:
    """Where the money goes: the consolidated plans by object group and fund."""
    funds = [f.code for f in figures.policy.funds]
    header, rows = season.tables["district_totals"]
    sums: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        record = dict(zip(header, row, strict=False))
        if str(record["object"]) == "Total":
            continue
        group = object_group(str(record["object"]), figures.policy)
        for f in funds:
            value = record.get(f)
            if isinstance(value, int | float):
                sums[group][f].append(float(value))
    groups = sorted(sums, key=lambda g: (GROUP_ORDER.index(g) if g in GROUP_ORDER else 99, g))
    table_rows = []
    for g in groups:
        amounts = [money_sum(sums[g][f]) for f in funds]
        table_rows.append([_(g), *amounts, money_sum(amounts)])
    totals = [money_sum(r[1 + i] for r in table_rows) for i in range(len(funds))]
    table = Table("spending", _("Planned spending by object group and fund"),
                  [Column("object_group", _("Object group")),
                   *[Column(f, f, "money") for f in funds], Column("total", _("Total"),
                                                                   "money")],
                  table_rows, "spending-by-fund-and-group.csv",
                  total=[_("Total"), *totals, money_sum(totals)])
    title = _("Where the money goes: planned spending by fund and object group")
    biggest = max(table_rows, key=lambda r: r[-1], default=None)
    summary = (_("Accepted plans spend {total} in all; the largest group is {group} "
                 "({amount}).").format(total=fmt.money(money_sum(totals), 0),
                                       group=biggest[0], amount=fmt.money(biggest[-1], 0))
               if biggest else _("No accepted plan yet."))
    bars = [(f, [money_sum(sums[g][f]) for g in groups]) for f in funds]
    chart = Chart("spending-by-fund", title, title, summary, stacked_bars(
        bars, [_(g) for g in groups], title=title, desc=summary,
        value_format=lambda v: fmt.money(v, 0)), table)
    return table, chart
