"""Results on the published site (publish --outcomes): each school's outcomes against its
plan goals, the district by goal and by need quartile; hand-computed tables, the same figures
as the results workbook of the same season (to the cent, the same counts), hostile input,
and the pages in a real browser (axe-core, printing)."""

from __future__ import annotations

import base64
import csv
import re
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from ssfr_xl.cli import cli
from ssfr_xl.district_reader import read_district
from ssfr_xl.formula import allocate
from ssfr_xl.indicators import indicator_list
from ssfr_xl.model import GRADES, School
from ssfr_xl.plan import GoalEntry, PlanLine
from ssfr_xl.policy import load_policy
from ssfr_xl.results import SchoolPlan, school_results
from ssfr_xl.season_results import results_workbook, write_sample_data
from ssfr_xl.site import publish_site
from ssfr_xl.site.figures import district_figures
from ssfr_xl.site.i18n import Formats, translations
from ssfr_xl.site.results_view import (
    SiteResults,
    goal_table,
    quartile_table,
    school_results_table,
)
from ssfr_xl.sources.outcomes import Outcome
from tests.publish_season import shared_publish_season
from tests.test_publish_browser import AXE, AXE_RUN, AXE_TAGS, browser  # noqa: F401

POLICY = load_policy(None).policy
GOALS = {g.code: g.name for g in POLICY.goals}
EN = translations("en").gettext
ES = translations("es").gettext


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="ssfr-xl")


def school(i: int, pupils: int, unduplicated: int) -> School:
    grades = dict.fromkeys(GRADES, 0)
    grades["4"] = pupils
    return School(school_id=f"S{i}", name=f"School {i}", level="Elementary", low_grade="4",
                  high_grade="4", enrollment_by_grade=grades, frpm=unduplicated,
                  unduplicated=unduplicated)


# need shares 10%, 50%, 70%, 90% -> quartiles 1..4
SCHOOLS = [school(1, 400, 40), school(2, 300, 150), school(3, 200, 140), school(4, 100, 90)]
OUTCOMES = [Outcome("S1", "ELA", -10, 5, 250), Outcome("S1", "CHRONIC", 20, 18, 400),
            Outcome("S2", "ELA", 10, 40, 180), Outcome("S3", "ELPI", 40.5, 41.25, 60)]
LINES = [PlanLine("Staffing", 7, "position", "TCH", "GEN", "G1", 1.0, 0, 1000.0),
         PlanLine("Other Spending", 7, "other", "4300", "GEN", "G1", 0, 0, 500.125),
         PlanLine("Other Spending", 8, "other", "4300", "GEN", "G4", 0, 0, 250.0)]
PLANS = {
    "S1": SchoolPlan(LINES, [GoalEntry(7, "G1", "Read", "Coach", "Scores", "ELA", -10.0, 0.0),
                             GoalEntry(10, "G4", "Attend", "Outreach", "Absence", "CHRONIC",
                                       20.0, 17.0)]),
    # a % target typed as a fraction (0.45 for 45%): not judged, with a note
    "S3": SchoolPlan([], [GoalEntry(7, "G2", "", "", "", "ELPI", 0.40, 0.45)]),
}


def view() -> SiteResults:
    return SiteResults(school_results(SCHOOLS, POLICY, OUTCOMES, PLANS), "outcomes.csv", 2)


def test_a_school_table_by_hand() -> None:
    table = school_results_table(view(), "S1", "s1", GOALS, EN)
    assert [c.key for c in table.columns][-1] == "planned"  # no note in S1: no Note column
    ela, chronic = table.rows
    # ELA: -10 -> 5, growth +15; target 0, result 5 >= 0 (higher is better): met; the G1
    # lines 1,000 + 500.125 = 1,500.125 -> 1,500.13 (half away from zero)
    assert ela == ["ELA distance from standard (points)", "higher", 250, -10, 5, 15.0,
                   GOALS["G1"], -10.0, 0.0, "Yes", 1500.13]
    # CHRONIC: 20 -> 18 is 2 better (lower is better); 18 is not <= the target 17: not met
    assert chronic[5] == 2.0 and chronic[9] == "No" and chronic[10] == 250.0
    cells = [c.text for c in table.formatted(Formats("en"))[0]]
    assert cells[3:7] == ["-10.0", "5.0", "15.0", GOALS["G1"]]
    assert cells[-1] == "$1,500.13"
    es = school_results_table(view(), "S1", "s1", GOALS, ES)
    assert es.rows[0][1] == "más alto" and es.rows[0][9] == "Sí" and es.rows[1][9] == "No"
    assert es.columns[-1].label == "Dólares planificados (meta)"
    # S2 has no plan: its outcome, no goal, nothing judged
    s2 = school_results_table(view(), "S2", "s2", GOALS, EN).rows[0]
    assert s2[5] == 30.0 and s2[6:] == ["", None, None, "", None]
    # S3: 40.5 -> 41.25 (+0.75); the plan's 0.40 / 0.45 look like 40% / 45%: not judged
    s3 = school_results_table(view(), "S3", "s3", GOALS, EN)
    assert s3.columns[-1].key == "note" and s3.cells_lang["note"] == "en"
    assert s3.rows[0][9] == "Not judged" and "type 40 and 45" in s3.rows[0][11]
    assert [c.text for c in s3.formatted(Formats("en"))[0]][3:6] == ["40.5", "41.25", "0.75"]
    assert school_results_table(view(), "S4", "s4", GOALS, EN) is None  # no outcome


def test_the_district_tables_by_hand() -> None:
    goals = {(r[0], r[1]): r for r in goal_table(view(), EN).rows}
    g1 = goals[(GOALS["G1"], "ELA distance from standard")]
    # G1 in ELA: S1 only (growth 15, target met, 1,500.13 planned, 250 students); all schools
    # with ELA: (15 x 250 + 30 x 180) / 430 = 9,150 / 430 = 21.2791
    assert g1[3:9] == [1, 1, 1.0, 1500.13, 250, 15.0]
    assert g1[9] == pytest.approx(21.2791, abs=1e-4)
    g2 = goals[(GOALS["G2"], "English learner progress")]
    assert g2[3:5] == [1, 0]  # measured, not judged: not met
    table = goal_table(view(), EN)
    cells = [c.text for c in table.formatted(Formats("en"))[table.rows.index(g1)]]
    # 21.2791 shown to three decimals, as the workbook's #,##0.0## shows it; 100% met
    assert cells[9] == "21.279" and cells[5] == "100.0%" and cells[6] == "$1,500.13"
    quart = {(r[0], r[1]): r for r in quartile_table(view(), EN).rows}
    # Q1 is S1 alone: ELA -10 -> 5 (growth 15), one goal, met
    assert quart[("Q1 (lowest need)", "ELA distance from standard")][3:] == [
        1, 250, -10.0, 5.0, 15.0, 1, 1]
    assert quart[("Q3", "English learner progress")][5:] == [40.5, 41.25, 0.75, 1, 0]
    # S4 (Q4) has no outcome: no Q4 row; the Spanish page says C1 for Q1
    spanish = {r[0] for r in quartile_table(view(), ES).rows}
    assert "C1 (menor necesidad)" in spanish and "C4 (mayor necesidad)" not in spanish


def _sheet(path: Path, name: str) -> list[list[object]]:
    ws = openpyxl.load_workbook(path, read_only=True)[name]
    rows = [list(r) for r in ws.iter_rows(min_row=5, values_only=True)]
    return [r for r in rows if r and r[0] is not None]


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _num(text: str) -> float | None:
    return None if text == "" else float(text)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The results workbook and the site of the same season and outcomes."""
    season = shared_publish_season()
    root = tmp_path_factory.mktemp("site-results")
    write_sample_data(season.district, outcomes=root / "outcomes.csv")
    summary = results_workbook(season.district, root / "outcomes.csv", root / "results.xlsx",
                               ledger=season.ledger)
    site_summary = publish_site(season.district, root / "site", ledger=season.ledger,
                                outcomes=root / "outcomes.csv")
    return season, root, summary, site_summary


def test_the_site_shows_the_results_workbook_figures(both) -> None:
    season, root, summary, site_summary = both
    inputs = read_district(season.district)
    names = {i.code: i.name for i in indicator_list(inputs.policy)}
    goal_names = {g.code: g.name for g in inputs.policy.goals}
    slug = {s.school_id: s.slug for s in district_figures(allocate(inputs)).schools}
    book = _sheet(root / "results.xlsx", "Results")
    assert len(book) > 30
    per_school: dict[str, list[list[object]]] = {}
    for r in book:
        per_school.setdefault(r[0], []).append(r)
    measured = met = 0
    for sid, rows in per_school.items():
        site = _csv(root / "site" / "data" / "schools" / f"{slug[sid]}-results.csv")
        assert len(site) == len(rows), sid
        for x, s in zip(rows, site, strict=True):
            assert s["indicator"] == f"{names[x[4]]} ({x[6]})" and s["better_is"] == x[5]
            assert int(s["students"]) == x[7]
            for key, col in (("last_year", 8), ("this_year", 9), ("growth", 11),
                             ("baseline", 13), ("target", 14)):
                assert _num(s[key]) == (x[col] if x[col] != "" else None), (sid, key)
            assert s["goal"] == goal_names.get(x[12] or "", x[12] or "")
            assert s["target_met"] == (x[15] or "")
            # planned dollars to the cent, as text: the CSV's 2 decimals against the cell
            assert s["planned"] == ("" if x[16] in (None, "") else f"{x[16]:.2f}")
            assert s.get("note", "") == (x[17] or "")
            measured += bool(x[12])
            met += x[15] == "Yes"
    # the same counts as the results command prints
    assert f"{measured} plan goals measured, {met} targets met" in summary
    assert f"{measured} plan goals measured, {met} targets met" in site_summary
    assert measured > 5 and 0 < met < measured

    by_goal = _sheet(root / "results.xlsx", "By goal")
    site_goals = _csv(root / "site" / "data" / "results-by-goal.csv")
    assert len(by_goal) == len(site_goals) > 0
    for x, s in zip(by_goal, site_goals, strict=True):
        assert (s["goal"], s["indicator"]) == (x[1], names[x[2]])
        assert (int(s["schools"]), int(s["targets_met"]), int(s["students"])) == (
            x[4], x[5], x[8])
        assert s["planned"] == f"{x[7]:.2f}"
        assert _num(s["growth"]) == x[9] and _num(s["district_growth"]) == x[10]
        assert float(s["share_met"]) == pytest.approx(x[6], abs=1e-6)
    by_need = _sheet(root / "results.xlsx", "By need quartile")
    site_need = _csv(root / "site" / "data" / "results-by-need-quartile.csv")
    assert len(by_need) == len(site_need) > 4
    for x, s in zip(by_need, site_need, strict=True):
        assert s["quartile"][:2] == x[0][:2] and s["indicator"] == names[x[1]]
        assert [int(s[k]) for k in ("schools", "students", "goals", "targets_met")] == [
            x[3], x[4], x[8], x[9]]
        assert [_num(s[k]) for k in ("last_year", "this_year", "growth")] == [x[5], x[6], x[7]]


def test_the_pages_show_the_results(both) -> None:
    season, root, _summary, _site = both
    inputs = read_district(season.district)
    slug = {s.school_id: s.slug for s in district_figures(allocate(inputs)).schools}
    book = [r for r in _sheet(root / "results.xlsx", "Results") if r[16]]
    sid, planned = book[0][0], book[0][16]
    for lang, text in (("en", "Results at the end of the year"),
                       ("es", "Resultados al final del año")):
        page = (root / "site" / lang / "schools" / f"{slug[sid]}.html").read_text()
        assert text in page and f'data-value="{planned:.2f}"' in page
        district = (root / "site" / lang / "index.html").read_text()
        assert 'id="results-by-goal"' in district and 'id="results-by-need"' in district
    # a site without --outcomes has no results section (the plain site is unchanged)
    publish_site(season.district, root / "plain", ledger=season.ledger)
    assert 'id="results"' not in (root / "plain" / "en" / "index.html").read_text()
    assert not (root / "plain" / "data" / "results-by-goal.csv").exists()


def test_without_a_ledger_the_outcomes_show_without_goals(tmp_path: Path) -> None:
    season = shared_publish_season()
    write_sample_data(season.district, outcomes=tmp_path / "outcomes.csv")
    summary = publish_site(season.district, tmp_path / "site", outcomes=tmp_path / "outcomes.csv")
    assert "0 plan goals measured, 0 targets met" in summary
    assert _csv(tmp_path / "site" / "data" / "results-by-goal.csv") == []
    school = next((tmp_path / "site" / "data" / "schools").glob("*-results.csv"))
    assert all(r["goal"] == "" for r in _csv(school))


def test_bad_outcomes_are_named_and_nothing_is_written(tmp_path: Path) -> None:
    season = shared_publish_season()
    bad = tmp_path / "outcomes.csv"
    bad.write_text("school_id,indicator,prior,result,students\nNOPE,ELA,1,2,30\n",
                   encoding="utf-8")
    r = run("publish", season.district, "--out", tmp_path / "site", "--ledger", season.ledger,
            "--outcomes", bad)
    assert r.exit_code == 1, r.output
    assert "outcomes.csv" in r.output and "line 2" in r.output and "'NOPE'" in r.output
    assert "Traceback" not in r.output and not (tmp_path / "site").exists()
    r = run("publish", season.district, "--out", tmp_path / "site", "--outcomes",
            tmp_path / "missing.csv")
    assert r.exit_code == 2 and "missing.csv" in r.output
    # the site may not be written over the outcomes file
    (tmp_path / "old").mkdir()
    good = tmp_path / "old" / "good.csv"
    write_sample_data(season.district, outcomes=good)
    r = run("publish", season.district, "--out", tmp_path / "old", "--outcomes", good)
    assert r.exit_code == 2 and "holds the outcomes file" in r.output, r.output
    assert good.read_text(encoding="utf-8-sig").startswith("school_id")


def test_the_results_pages_in_a_browser(browser, both) -> None:  # noqa: F811
    _season, root, _s, _site = both
    site = root / "site"
    axe = AXE.read_text(encoding="utf-8")
    pages = [site / "en" / "index.html", site / "es" / "index.html",
             *sorted((site / "en" / "schools").glob("*.html"))[:3],
             *sorted((site / "es" / "schools").glob("*.html"))[:1]]
    problems: list[str] = []
    with browser.page() as page:
        for path in pages:
            page.open(path.as_uri())
            problems += [f"{path.name}: {e}" for e in page.errors()]
            page.evaluate(axe)
            problems += [f"{path.relative_to(site)}: {v}" for v in
                         page.evaluate(AXE_RUN % AXE_TAGS, await_promise=True)]
            assert page.evaluate("document.querySelectorAll('section[aria-labelledby=results]"
                                 " table').length") >= 1
        assert problems == []
    with browser.page(390, 800, mobile=True) as phone:  # no sideways scrolling on a phone
        for path in (site / "en" / "index.html", pages[-1]):
            phone.open(path.as_uri())
            assert phone.evaluate("document.documentElement.scrollWidth") <= 392, path
    with browser.page() as page:
        # a school page with its results still prints on one or two pages, as the site's
        # other school pages do (tests/test_publish_browser.py)
        for path in sorted((site / "en" / "schools").glob("*.html")) + sorted(
                (site / "es" / "schools").glob("*.html")):
            page.open(path.as_uri())
            pdf = base64.b64decode(page.send("Page.printToPDF", preferCSSPageSize=True)["data"])
            pages_printed = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
            assert 1 <= pages_printed <= 2, f"{path} prints on {pages_printed} pages"
