"""ssfr-xl publish: the site's numbers are the engine's and the consolidated season's, every
text is escaped, the --out folder is safe, CSV files hold the pages' tables.

The season (tests/publish_season.py) is the sample district with its plans returned and
consolidated into a ledger and a totals workbook; sites are built from each.
"""

from __future__ import annotations

import csv
import re
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from markupsafe import escape

from ssfr_xl.cli import cli
from ssfr_xl.district_reader import read_district
from ssfr_xl.explain import allocation_lines
from ssfr_xl.formula import allocate
from ssfr_xl.site import publish_site
from ssfr_xl.site.i18n import Formats
from ssfr_xl.site.output import MARKER
from tests.publish_season import HOSTILE, SEARCH_WORD, shared_publish_season

DOLLARS = re.compile(r"-?\$\d[\d,]*(?:\.\d\d)?")


class Cells(HTMLParser):
    """Money elements (class money, data-value), math cells, and the text outside math."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.money: list[tuple[float, str]] = []
        self.math: list[str] = []
        self.outside_math: list[str] = []
        self._stack: list[tuple[str, str, str | None]] = []  # (tag, kind, data-value)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        kind = "math" if "math" in classes else "money" if "money" in classes else ""
        if tag in ("br", "img", "meta", "link", "input"):
            return
        self._stack.append((tag, kind, a.get("data-value")))
        if kind:
            self._buffer = []

    def handle_endtag(self, tag):
        if not self._stack:
            return
        t, kind, value = self._stack.pop()
        if kind == "money":
            self.money.append((float(value), "".join(self._buffer).strip()))
        elif kind == "math":
            self.math.append("".join(self._buffer).strip())

    def handle_data(self, data):
        if any(k for _t, k, _v in self._stack):
            self._buffer.append(data)
        if not any(k == "math" for _t, k, _v in self._stack):
            self.outside_math.append(data)


def parse(path: Path) -> Cells:
    cells = Cells()
    cells.feed(path.read_text(encoding="utf-8"))
    return cells


@pytest.fixture(scope="module")
def season():
    return shared_publish_season()


@pytest.fixture(scope="module")
def sites(season, tmp_path_factory):
    root = tmp_path_factory.mktemp("sites")
    out = {"ledger": root / "ledger", "totals": root / "totals", "plain": root / "plain"}
    publish_site(season.district, out["ledger"], ledger=season.ledger)
    publish_site(season.district, out["totals"], totals=season.totals)
    publish_site(season.district, out["plain"], langs=("en",))
    return out


@pytest.fixture(scope="module")
def result(season):
    return allocate(read_district(season.district))


def totals_rows(path: Path, sheet: str) -> list[dict[str, object]]:
    ws = openpyxl.load_workbook(path, read_only=True, data_only=True)[sheet]
    rows = list(ws.iter_rows(values_only=True))
    header = [str(h).replace(" ", "_") for h in rows[0]]
    return [dict(zip(header, r, strict=False)) for r in rows[1:]]


def expected_figures(season, result, index: int) -> set[float]:
    """Every dollar figure a school page may show: the engine's allocation (each component,
    each fund, totals, per pupil, last year and the change) and the totals workbook's rows
    for the school, with their sums (read here with openpyxl, independently of the site)."""
    school = result.schools[index]
    sid = school.school_id
    figures = {float(r.amount[index]) for r in result.components}
    wide = result.by_school().iloc[index]
    figures |= {float(wide[f"total_{f.code}"]) for f in result.inputs.policy.funds}
    total = result.school_total(index)
    unrestricted = result.school_total(index, restricted=False)
    figures |= {total, unrestricted, float(school.prior_year_allocation),
                round(unrestricted - school.prior_year_allocation, 2)}
    pupils = school.count(result.inputs.district.per_pupil_enrollment)
    if pupils:
        figures.add(round(total / pupils, 2))
    for sheet, columns in (("By School", ("allocation", "planned", "remaining")),
                           ("Positions", ("cost",)), ("Central Services Demand", ("revenue",))):
        rows = [r for r in totals_rows(season.totals, sheet) if r["school_id"] == sid]
        for c in columns:
            values = [float(r[c]) for r in rows if isinstance(r[c], int | float)]
            figures |= set(values) | {round(sum(values), 2)}
    by_goal: dict[str, float] = {}
    for r in totals_rows(season.totals, "Lines"):
        if r["school_id"] == sid:
            by_goal[str(r["goal"]).upper()] = by_goal.get(str(r["goal"]).upper(), 0) + r["amount"]
    figures |= {round(v, 2) for v in by_goal.values()} | {round(sum(by_goal.values()), 2)}
    return {round(v, 2) for v in figures}


@pytest.mark.parametrize("source", ["ledger", "totals"])
@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_dollar_on_a_school_page_is_the_engine_or_the_totals(sites, season, result,
                                                                  source, lang):
    fmt = Formats(lang)
    for i, school in enumerate(result.schools):
        page = sites[source] / lang / "schools" / f"{school.school_id}.html"
        cells = parse(page)
        expected = expected_figures(season, result, i)
        assert len(cells.money) > len(result.components), page
        for value, text in cells.money:
            assert round(value, 2) in expected, (page.name, value, text)
            assert text == fmt.money(value), (page.name, value, text)
        # no dollar figure outside the marked money cells (the math's own figures aside)
        shown = DOLLARS.findall(" ".join(cells.outside_math))
        assert sorted(shown) == sorted(t for _v, t in cells.money), page.name
        # the allocation table: each component's amount, in order, then the total
        amounts = [v for v, _t in cells.money][2:2 + len(result.components) + 1]
        assert amounts == [round(float(r.amount[i]), 2) for r in result.components] + [
            result.school_total(i)]


def test_the_math_is_the_allocation_sheets_words(sites, result):
    for i, school in enumerate(result.schools):
        cells = parse(sites["ledger"] / "es" / "schools" / f"{school.school_id}.html")
        assert cells.math == [line.math for line in allocation_lines(result, i)] + [""]


def test_both_sources_show_the_same_money(sites, result):
    for school in result.schools:
        name = f"{school.school_id}.html"
        ledger = parse(sites["ledger"] / "en" / "schools" / name).money
        totals = parse(sites["totals"] / "en" / "schools" / name).money
        # the ledger also lists a strategy with no dollars; the totals workbook has no texts
        assert [m for m in ledger if m[0]] == [m for m in totals if m[0]], name


def test_a_school_without_a_plan_says_so(sites, season):
    text = (sites["ledger"] / "en" / "schools" / f"{season.missing_school}.html").read_text()
    assert "Plan status: missing." in text
    assert "The plan by goal and strategy" not in text


def test_plan_text_is_escaped_everywhere(sites, season):
    for path in sites["ledger"].rglob("*.html"):
        source = path.read_text(encoding="utf-8")
        assert "<script>alert" not in source and "onerror=alert" not in source.replace(
            "&lt;img src=x onerror=alert(1)&gt;", ""), path
    library = (sites["ledger"] / "en" / "library.html").read_text(encoding="utf-8")
    assert str(escape(HOSTILE)) in library
    assert SEARCH_WORD in library


def test_csv_files_hold_the_tables(sites, result):
    with open(sites["ledger"] / "data" / "schools.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["school_id"] for r in rows[:-1]] == [s.school_id for s in result.schools]
    for i, row in enumerate(rows[:-1]):
        assert row["total"] == f"{result.school_total(i):.2f}"
    district = (sites["ledger"] / "en" / "index.html").read_text(encoding="utf-8")
    for link in re.findall(r'href="\.\./data/([^"]+)"', district):
        assert (sites["ledger"] / "data" / link).is_file(), link


def test_the_site_fetches_nothing(sites):
    for site in sites.values():
        for path in site.rglob("*"):
            if path.suffix in (".html", ".svg", ".css", ".js"):
                text = path.read_text(encoding="utf-8").replace(
                    'xmlns="http://www.w3.org/2000/svg"', "")
                assert not re.search(r"(https?:)?//[a-z0-9]", text, re.I), path


def test_without_plans_there_is_no_library(sites):
    plain = sites["plain"]
    assert not (plain / "es").exists()
    assert not (plain / "en" / "library.html").exists()
    assert "Strategies library" not in (plain / "en" / "index.html").read_text()
    assert (plain / "en" / "services.html").is_file()
    assert (plain / MARKER).is_file()


# --- the --out folder ----------------------------------------------------------------------

def run(*args: object):
    return CliRunner().invoke(cli, ["publish", *map(str, args)])


def test_refuses_an_out_that_is_a_file_an_input_or_a_plan_folder(season, tmp_path):
    district = season.district
    for out, words in ((district, "is a file"), (season.returned / "site",
                                                  "folder of returned plans"),
                       (season.root, "holds the district workbook")):
        done = run(district, "--out", out)
        assert done.exit_code == 2, done.output
        assert words in done.output
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    done = run(district, "--out", other)
    assert done.exit_code == 2 and "not a site ssfr-xl published" in done.output
    assert (other / "notes.txt").read_text() == "keep me"
    (other / ".ssfr-xl-site").write_text("planted")  # a marker alone is not a site
    done = run(district, "--out", other)
    assert done.exit_code == 2 and "not a site ssfr-xl published" in done.output
    assert (other / "notes.txt").read_text() == "keep me"
    done = run(district, "--out", tmp_path / "x", "--lang", "en,fr")
    assert done.exit_code == 2 and "en, es" in done.output
    done = run(district, "--out", tmp_path / "x", "--ledger", season.ledger, "--totals",
               season.totals)
    assert done.exit_code == 2
    assert not (tmp_path / "x").exists()


def test_publishing_again_replaces_the_site_and_a_failure_keeps_the_old_one(season, tmp_path,
                                                                            monkeypatch):
    out = tmp_path / "site"
    done = run(season.district, "--out", out, "--lang", "en")
    assert done.exit_code == 0, done.output
    (out / "stale.html").write_text("old")
    done = run(season.district, "--out", out, "--lang", "es")
    assert done.exit_code == 0, done.output
    assert not (out / "stale.html").exists() and not (out / "en").exists()
    assert (out / "es" / "index.html").is_file()

    import ssfr_xl.site.render as render

    def broken(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(render, "library", broken)
    with pytest.raises(OSError):
        publish_site(season.district, out, ledger=season.ledger)
    assert (out / "es" / "index.html").is_file() and not (out / "en").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]  # no staging left


def test_spanish_pages_are_in_spanish(sites):
    from babel.messages.pofile import read_po

    from ssfr_xl.site.i18n import catalog_path

    with catalog_path("es").open("rb") as fh:
        catalog = read_po(fh)
    english = [m.id for m in catalog if m.id and len(m.id) > 25 and "{" not in m.id
               and m.string != m.id]
    for path in (sites["ledger"] / "es").rglob("*.html"):
        text = " ".join(parse(path).outside_math)
        left = [m for m in english if m in text]
        assert left == [], f"{path.name}: {left[:3]}"
    page = (sites["ledger"] / "es" / "services.html").read_text(encoding="utf-8")
    assert "Descargar esta tabla como CSV" in page


def test_charts_are_the_workbooks_figures_as_svg_and_png(sites, result):
    from ssfr_xl.equity import per_pupil

    funding, need = per_pupil(result)
    with open(sites["ledger"] / "data" / "chart-per-pupil.csv", newline="",
              encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["per_pupil"]) for r in rows] == funding
    assert [round(float(r["need_share"]), 6) for r in rows] == [round(n, 6) for n in need]
    for lang in ("en", "es"):
        charts = sorted((sites["ledger"] / lang / "charts").iterdir())
        svgs = [c for c in charts if c.suffix == ".svg"]
        assert len(svgs) == 3  # per pupil and change against need; spending by fund
        for svg in svgs:
            text = svg.read_text(encoding="utf-8")
            assert text.startswith("<svg") and "<script" not in text and "<title" in text
            png = svg.with_suffix(".png").read_bytes()
            assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    spending = (sites["ledger"] / "es" / "charts" / "spending-by-fund.svg").read_text()
    assert "Salarios" in spending


def test_totals_of_another_allocation_are_refused(season, tmp_path):
    from ssfr_xl.season import create_district

    other = tmp_path / "other.xlsx"
    create_district(other, sample=8, settings={"budget": 40_000_000})
    done = run(other, "--out", tmp_path / "site", "--totals", season.totals)
    assert done.exit_code == 1, done.output
    assert "consolidated against other allocations" in done.output
    assert not (tmp_path / "site").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["other.xlsx"]


@pytest.mark.parametrize("low, high", [(7358.78, 9597.14), (0.0, 0.93), (-0.11, 0.0),
                                       (0.0, 1.0), (5.0, 5.0), (-3e6, 2.5e7), (0.0, 0.0)])
def test_chart_axes_hold_every_point(low, high):
    from ssfr_xl.site.charts import _nice_ticks

    ticks = _nice_ticks(low, high)
    assert ticks[0] <= low and ticks[-1] >= high and 2 <= len(ticks) <= 12
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(steps) == 1
