"""Write every page, chart and CSV of the site, for each language.

Layout of the site (plain files, relative links only, nothing fetched at view time):

    index.html                     the languages
    <lang>/index.html              the district page
    <lang>/schools/<id>.html       one page per school
    <lang>/library.html            the strategies library (with consolidated plans)
    <lang>/services.html           the central services
    <lang>/charts/<chart>.svg|png  charts with that language's labels
    data/*.csv, data/schools/*.csv every table, as CSV (the same in every language)
    assets/style.css, assets/library.js

Templates are Jinja2 with autoescaping on: every name and plan text is shown as text.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from importlib import resources

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from .charts import png_renderer
from .district_page import (
    budget_sentence,
    equity_table,
    formula_table,
    funds_table,
    need_charts,
    schools_table,
    spending_by_group,
)
from .figures import DistrictFigures
from .i18n import LANGUAGES, Formats, translations
from .library_page import NEED_GROUPS, library, services_tables
from .output import SiteFolder
from .plans import SeasonTables
from .results_view import SiteResults, goal_table, quartile_table, school_results_table
from .school_page import STATUS_WORDS, school_page
from .tables import Table

ASSETS = ("style.css", "library.js")


def environment() -> Environment:
    """The Jinja2 environment of the site's templates (autoescaped, strict)."""
    env = Environment(loader=PackageLoader("ssfr_xl.site", "templates"),
                      autoescape=select_autoescape(["html"], default=True),
                      undefined=StrictUndefined, extensions=["jinja2.ext.i18n"],
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    return env


def write_site(site: SiteFolder, figures: DistrictFigures, season: SeasonTables | None,
               langs: Sequence[str], today: _dt.date,
               progress: Callable[[str], None] = lambda _m: None,
               results: SiteResults | None = None) -> list[str]:
    """Write the whole site into the staging folder; returns notes for the summary."""
    notes: list[str] = []
    render_png, how = png_renderer()
    if render_png is None:
        notes.append(how)
    written_csv: set[str] = set()
    for name in ASSETS:
        site.write(f"assets/{name}",
                   resources.files("ssfr_xl.site").joinpath("static", name).read_bytes())
    for lang in langs:
        progress(f"writing the {LANGUAGES[lang][1]} pages")
        t = translations(lang)
        env = environment()  # one per language: imported macros keep the gettext they saw
        env.install_gettext_translations(t, newstyle=True)
        _ = t.gettext
        fmt = Formats(lang)

        def csv(table: Table | None) -> None:
            if table is not None and table.csv and table.csv not in written_csv:
                site.write(f"data/{table.csv}", table.csv_text())
                written_csv.add(table.csv)

        base = {"lang": lang, "langs": [(code, LANGUAGES[code][1]) for code in langs],
                "fmt": fmt, "district": figures.district, "today": fmt.date(today),
                "has_library": season is not None, "season": season,
                "results": results}

        def page(template: str, path: str, depth: int, base: dict = base, lang: str = lang,
                 env: Environment = env, **context: object) -> None:
            root = "../" * depth
            html = env.get_template(template).render(
                **base, **context, root=root, here=path, status_words=STATUS_WORDS)
            site.write(f"{lang}/{path}", html)

        charts = need_charts(figures, _, fmt)
        spending = spending_chart = None
        if season is not None:
            spending, spending_chart = spending_by_group(season, figures, _, fmt)
        for chart in [*charts, *([spending_chart] if spending_chart else [])]:
            site.write(f"{lang}/charts/{chart.file}.svg", chart.svg)
            if render_png is not None:
                render_png(chart.svg, site.path(f"{lang}/charts/{chart.file}.png"))
            csv(chart.table)
        tables = {
            "formula": formula_table(figures, _, fmt),
            "funds": funds_table(figures, _),
            "equity": equity_table(figures, _, fmt),
            "schools": schools_table(figures, _, lambda slug: f"schools/{slug}.html"),
            "spending": spending,
            "results_by_goal": goal_table(results, _) if results is not None else None,
            "results_by_need": quartile_table(results, _) if results is not None else None,
        }
        for table in tables.values():
            csv(table)
        page("district.html", "index.html", 1, tables=tables, charts=charts,
             spending_chart=spending_chart,
             budget=budget_sentence(figures, _, fmt), figures=figures, png=render_png is not None)

        goal_names = {g.code: g.name for g in figures.policy.goals}
        for s in figures.schools:
            sp = school_page(s, figures, season, _, fmt)
            school_results = (school_results_table(results, s.school_id, s.slug, goal_names, _)
                              if results is not None else None)
            for table in (sp.allocation, sp.funds, sp.prior, *sp.plan_tables, school_results):
                csv(table)
            page("school.html", f"schools/{s.slug}.html", 2, page=sp, s=s,
                 results_table=school_results)

        sections = library(figures, season) if season is not None else []
        if season is not None:
            page("library.html", "library.html", 1, sections=sections,
                 need_groups=NEED_GROUPS, levels=sorted({s.school.level
                                                         for s in figures.schools}),
                 goals=[(g.code, g.name) for g in sections])
        departments = services_tables(figures, season, _, fmt)
        for _dept, table in departments:
            csv(table)
        page("services.html", "services.html", 1, departments=departments)
    env = environment()
    progress("writing the language page")
    d = figures.district
    choices = [(code, LANGUAGES[code][1], translations(code).gettext(
        "How {district} funds its schools, {year}").format(district=d.name, year=d.fiscal_year))
        for code in langs]
    site.write("index.html", env.get_template("languages.html").render(
        choices=choices, district=d, lang=langs[0]))
    return notes
