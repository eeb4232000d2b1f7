"""The plan workbook as XlsxWriter writes it: OOXML details, print setup, chart, capacity,
cached values, reuse of identical sheets, and a 20.0 FTE line in Excel's competitors.

The recalculation tests (marked libreoffice) type and recalculate in LibreOffice and gnumeric
and compare every Summary cell with Python's value to the cent.
"""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.cell import range_boundaries

from ssfr_xl import gnumeric
from ssfr_xl.layout import MAX_LINE_FTE, START_FIELDS, SchoolLayout
from ssfr_xl.layout import SchoolSheets as SS
from ssfr_xl.libreoffice import recalculate
from ssfr_xl.reader import read_workbook
from ssfr_xl.school_book import (
    Position,
    SchoolPlanSpec,
    forget_reused_sheets,
    plan_specs,
    plan_values,
    school_plan_bytes,
    write_school_plan,
)
from ssfr_xl.season import create_district
from ssfr_xl.sources.demo import DemoPlan
from ssfr_xl.validate import DistrictRecord, check_plan, district_record
from tests.helpers import read_book
from tests.season import varied_plan, write_plan

TWENTY = 20.0


class District:
    """The 40-school sample district, its record and specs."""

    def __init__(self, root: Path):
        self.path = root / "district.xlsx"
        create_district(self.path, sample=40)
        self.record: DistrictRecord = district_record(self.path)
        self.specs = plan_specs(self.record.result)
        self.layout = SchoolLayout(self.record.policy)
        job = next(j for j in self.record.policy.job_classes if j.code == "TCH")
        self.teacher_cost = Decimal(str(job.average_salary)) * (1 + Decimal(
            str(job.benefits_rate)))
        # the school whose general fund pays for twenty teachers with room to spare
        self.big = max(self.specs, key=lambda s: s.fund_allocation("GEN"))

    def check(self, path: Path):
        return check_plan(read_workbook(path, sheets=SS.ORDER), self.record, path)


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> District:
    return District(tmp_path_factory.mktemp("plan-book"))


def twenty_teachers(d: District) -> DemoPlan:
    """The big school's demo plan with its positions replaced by one line of 20.0 FTE."""
    plan = varied_plan(d.big, seed=0)
    return replace(plan, positions=[("TCH", TWENTY, "GEN", plan.positions[0][3], "20 teachers")])


def _xml(path: Path, part: str) -> str:
    with zipfile.ZipFile(path) as z:
        return z.read(part).decode()


def _sheet_parts(path: Path) -> dict[str, str]:
    """Sheet name -> its part, from workbook.xml and its relationships."""
    wb, rels = _xml(path, "xl/workbook.xml"), _xml(path, "xl/_rels/workbook.xml.rels")
    targets = dict(re.findall(r'Id="(rId\d+)"[^>]*Target="([^"]+)"', rels)
                   + [(b, a) for a, b in re.findall(r'Target="([^"]+)"[^>]*Id="(rId\d+)"', rels)])
    return {name: "xl/" + targets[rid].lstrip("/").removeprefix("xl/")
            for name, rid in re.findall(r'<sheet name="([^"]+)" sheetId="\d+" r:id="(rId\d+)"',
                                        wb)}


# --- OOXML as written ----------------------------------------------------------------------

def test_list_validations_have_no_leading_equals(district: District, tmp_path: Path) -> None:
    path = tmp_path / "plan.xlsx"
    write_school_plan(path, district.specs[0])
    parts = _sheet_parts(path)
    seen = 0
    for sheet in (SS.STAFFING, SS.SERVICES, SS.OTHER):
        xml = _xml(path, parts[sheet])
        formulas = re.findall(r"<formula1>(.*?)</formula1>", xml)
        assert formulas, sheet
        assert [f for f in formulas if f.startswith("=")] == [], sheet
        seen += len(formulas)
        assert "<formula1>Plan_Fund_Codes</formula1>" in xml, sheet
    assert seen >= 10


def test_gnumeric_keeps_the_dropdowns(district: District, tmp_path: Path) -> None:
    reason = gnumeric.missing_tool_reason()
    if reason is not None:  # CI must run it: there a missing gnumeric is a failure
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but gnumeric cannot run: {reason}", pytrace=False)
        pytest.skip(reason)
    import subprocess

    path = tmp_path / "plan.xlsx"
    write_school_plan(path, district.specs[0])
    out = tmp_path / "plan.gnumeric"
    subprocess.run([gnumeric.find_ssconvert() or "ssconvert", str(path), str(out)],
                   check=True, capture_output=True, timeout=120,
                   env={**__import__("os").environ, "HOME": str(tmp_path)})
    import gzip

    text = gzip.open(out).read().decode()
    for name in ("Plan_Job_Codes", "Plan_Fund_Codes", "Plan_Goal_Codes", "Plan_Service_Codes",
                 "Plan_Object_Codes"):
        assert re.search(r'<gnm:Validation[^>]*Type="GNM_VALIDATION_TYPE_IN_LIST"[^>]*>\s*'
                         rf"<gnm:Expression0>{name}</gnm:Expression0>", text), name


def test_every_sheet_has_a_print_setup(district: District, tmp_path: Path) -> None:
    spec = district.specs[0]
    path = tmp_path / "plan.xlsx"
    write_school_plan(path, spec)
    wb = openpyxl.load_workbook(path)
    layout = district.layout
    headers = {SS.ALLOCATION: layout.allocation.header_row, SS.STAFFING: 6, SS.SERVICES: 6,
               SS.OTHER: 6, SS.GOALS: 6, SS.LISTS: layout.jobs.header_row}
    for ws in wb.worksheets:
        setup = ws.page_setup
        assert setup.paperSize in (1, "1"), f"{ws.title}: US Letter"
        assert setup.orientation == ("portrait" if ws.title in (SS.START, SS.META)
                                     else "landscape"), ws.title
        if ws.title == SS.LISTS:
            assert int(setup.scale) == 60
            assert len(ws.col_breaks.brk) == 3, "one list per page"
        else:
            assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
            assert setup.fitToWidth in (None, 1) and setup.fitToHeight == 0, ws.title
        if ws.title in headers:
            row = headers[ws.title]
            assert ws.print_title_rows == f"${row}:${row}", ws.title
        footer = ws.oddFooter
        assert spec.district.name in (footer.left.text or ""), ws.title
        assert spec.school.name in (footer.center.text or ""), ws.title
        assert footer.right.text == "Page &P of &N", ws.title


def test_headers_are_wrapped_and_tall_enough(district: District, tmp_path: Path) -> None:
    path = tmp_path / "plan.xlsx"
    write_school_plan(path, district.specs[0])
    wb = openpyxl.load_workbook(path)
    for t in (district.layout.staffing, district.layout.services, district.layout.other,
              district.layout.goals, district.layout.funds):
        ws = wb[t.sheet]
        height = ws.row_dimensions[t.header_row].height
        for c in t.columns:
            if c.hidden:
                continue
            cell = ws.cell(t.header_row, t.col(c.key))
            assert cell.alignment.wrap_text, (t.sheet, c.header)
            words = max(len(w) for w in c.header.split())
            assert words <= c.width, f"{t.sheet}: '{c.header}' is cut in a column of {c.width}"
            lines = -(-len(c.header) // max(int(c.width) - 1, 1))
            assert height >= 15 * lines, f"{t.sheet}: '{c.header}' needs {lines} lines"


def test_summary_chart_compares_allocation_and_planned_per_fund(district: District,
                                                                tmp_path: Path) -> None:
    path = tmp_path / "plan.xlsx"
    write_school_plan(path, district.specs[0])
    with zipfile.ZipFile(path) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        assert len(charts) == 1
        chart = z.read(charts[0]).decode()
    assert '<c:barDir val="col"/>' in chart and '<c:grouping val="clustered"/>' in chart
    assert chart.count("<c:ser>") == 2
    assert chart.count("<a:solidFill>") >= 2, "bars are filled"
    titles = re.findall(r"<c:title>.*?</c:title>", chart, re.S)
    texts = [" ".join(re.findall(r"<a:t>(.*?)</a:t>", t)) for t in titles]
    assert {"Fund", "Dollars"} <= set(texts), texts
    t = district.layout.funds
    assert f"Summary!${t.letter('allocation')}${t.first_row}" in chart
    # the chart's cached numbers are the allocation of record
    first = district.specs[0].fund_allocation(district.record.policy.funds[0].code)
    assert f"<c:v>{first:g}</c:v>" in chart or f"<c:v>{first}</c:v>" in chart


# --- capacity and the FTE rule --------------------------------------------------------------

def test_four_hundred_staffing_lines_each_with_its_formulas(district: District,
                                                            tmp_path: Path) -> None:
    path = tmp_path / "plan.xlsx"
    write_school_plan(path, district.specs[0])
    wb = openpyxl.load_workbook(path)
    for name, at_least, key in (("Staffing_FTE", 400, "cost"), ("Other_Amount", 200, "check")):
        dn = wb.defined_names[name]
        ((sheet, ref),) = list(dn.destinations)
        _, first, _, last = range_boundaries(ref)
        assert last - first + 1 >= at_least, name
        t = district.layout.staffing if sheet == SS.STAFFING else district.layout.other
        assert wb[sheet].cell(last, t.col(key)).data_type == "f", (name, last)
    assert MAX_LINE_FTE >= 999


def test_twenty_fte_line_is_accepted_and_costs_to_the_cent(district: District,
                                                           tmp_path: Path) -> None:
    path = write_plan(district.big, tmp_path / "twenty.xlsx", twenty_teachers(district))
    check = district.check(path)
    assert check.errors == 0, [f.code for f in check.findings]
    (line,) = [x for x in check.inputs.lines if x.kind == "position"]
    assert line.fte == TWENTY
    expected = (district.teacher_cost * Decimal(20)).quantize(Decimal("0.01"))
    assert Decimal(str(line.amount)) == expected


@pytest.mark.parametrize(("fte", "code"), [(MAX_LINE_FTE, None), (MAX_LINE_FTE + 0.1,
                                                                  "fte-out-of-range"),
                                           (20.05, "fte-step")])
def test_fte_bounds(district: District, tmp_path: Path, fte: float, code: str | None) -> None:
    layout = district.layout
    cell = layout.staffing.cell("fte", 0)

    def edit(wb, _layout):
        wb[SS.STAFFING][cell] = fte

    path = write_plan(district.big, tmp_path / f"fte-{fte}.xlsx", twenty_teachers(district),
                      edit)
    codes = {(f.code, f.cell) for f in district.check(path).findings}
    if code is None:
        assert not {c for c, at in codes if at == cell and c.startswith("fte")}
    else:
        assert (code, cell) in codes


# --- cached values and reuse ----------------------------------------------------------------

def test_cached_values_are_the_engines(district: District, tmp_path: Path) -> None:
    spec = replace(district.big, positions=(Position("TCH", TWENTY, "GEN", "G1", "twenty"),))
    path = tmp_path / "cached.xlsx"
    write_school_plan(path, spec)
    values = plan_values(spec, district.layout)
    wb = openpyxl.load_workbook(path, data_only=True)
    compared = 0
    for sheet in (SS.STAFFING, SS.SUMMARY, SS.START, SS.GOALS):
        for address, value in values[sheet].items():
            shown = wb[sheet][address].value
            if isinstance(value, float):
                assert shown == pytest.approx(value, abs=0.005), (sheet, address)
            elif value is None or value == "":
                assert shown in (None, 0, ""), (sheet, address)
            else:
                assert shown == value, (sheet, address)
            compared += 1
    assert compared > 3000
    t = district.layout.staffing
    cost = wb[SS.STAFFING][t.cell("cost", 0)].value
    assert Decimal(str(cost)) == (district.teacher_cost * 20).quantize(Decimal("0.01"))
    status = wb[SS.START][START_FIELDS.cell("status")].value
    assert status.startswith("Incomplete"), status


@pytest.mark.parametrize("positions", [(), (Position("TCH", 2.5, "GEN", "G1", "pre-filled"),)])
def test_reused_sheets_give_the_same_bytes_as_a_fresh_build(district: District,
                                                            positions: tuple) -> None:
    a, b = (replace(s, positions=positions) for s in district.specs[:2])
    forget_reused_sheets()
    fresh_b = school_plan_bytes(b)
    forget_reused_sheets()
    school_plan_bytes(a)  # keeps a's line sheets
    reused_b = school_plan_bytes(b)
    assert reused_b == fresh_b
    assert school_plan_bytes(a) != reused_b


# --- other engines --------------------------------------------------------------------------

def _summary_agrees(district: District, path: Path, recalculated: Path, engine: str) -> None:
    check = district.check(path)
    assert check.errors == 0, [f.code for f in check.findings]
    book = read_book(recalculated)
    t = district.layout.funds
    for i, f in enumerate(district.record.policy.funds):
        for key, python in (("planned", check.totals.planned_by_fund[f.code]),
                            ("remaining", check.totals.remaining_by_fund[f.code])):
            shown = book.value(SS.SUMMARY, t.cell(key, i))
            assert round(float(shown), 2) == round(python, 2), (engine, f.code, key)
    line = district.layout.staffing
    assert float(book.value(SS.STAFFING, line.cell("cost", 0))) == float(
        (district.teacher_cost * 20).quantize(Decimal("0.01"))), engine
    assert book.value(SS.STAFFING, line.cell("check", 0)) == "OK", engine
    assert book.value(SS.START, START_FIELDS.cell("status")) == check.totals.status == \
        "Balanced", engine


@pytest.mark.libreoffice
def test_twenty_fte_plan_balances_in_libreoffice_and_gnumeric(district: District,
                                                              tmp_path: Path) -> None:
    path = write_plan(district.big, tmp_path / "twenty.xlsx", twenty_teachers(district))
    (lo,) = recalculate([path], tmp_path / "lo")
    _summary_agrees(district, path, lo, "LibreOffice")
    if gnumeric.missing_tool_reason() is None:
        (gn,) = gnumeric.recalculate([path], tmp_path / "gnumeric")
        _summary_agrees(district, path, gn, "gnumeric")


@pytest.mark.libreoffice
def test_fresh_plan_as_written_recalculates_to_its_cached_values(district: District,
                                                                 tmp_path: Path) -> None:
    """The XlsxWriter file itself (no openpyxl in between), with a pre-filled 20.0 FTE line:
    both engines compute what was cached."""
    spec: SchoolPlanSpec = replace(district.big, positions=(
        Position("TCH", TWENTY, "GEN", "G1", "twenty"),))
    path = tmp_path / "fresh.xlsx"
    write_school_plan(path, spec)
    values = plan_values(spec, district.layout)
    outs = [("LibreOffice", recalculate([path], tmp_path / "lo")[0])]
    if gnumeric.missing_tool_reason() is None:
        outs.append(("gnumeric", gnumeric.recalculate([path], tmp_path / "gn")[0]))
    for engine, out in outs:
        book = read_book(out)
        for sheet in (SS.SUMMARY, SS.START):
            for address, value in values[sheet].items():
                shown = book.value(sheet, address)
                if isinstance(value, float):
                    assert float(shown) == pytest.approx(value, abs=0.005), (engine, address)
                else:
                    assert shown == value, (engine, sheet, address)


# --- the season's commands on files exactly as written --------------------------------------

def test_built_plan_filled_in_its_own_xml_validates_clean_and_is_counted(
        district: District, tmp_path: Path) -> None:
    """`build --positions` (20.0 FTE), goals typed into the XlsxWriter file's XML (nothing
    else rewritten), then `validate` finds nothing and `consolidate` counts it."""
    from click.testing import CliRunner

    from ssfr_xl.cli import cli
    from tests.corpus import edit_cells_xml

    spec = district.big
    positions = tmp_path / "positions.csv"
    positions.write_text("school_id,job_class,fte,fund,goal,note\n"
                         f"{spec.school.school_id},TCH,20.0,GEN,G1,twenty teachers\n")
    plans, returned = tmp_path / "plans", tmp_path / "returned"
    run = CliRunner().invoke(cli, ["build", str(district.path), "--out", str(plans),
                                   "--positions", str(positions), "--schools",
                                   spec.school.school_id], prog_name="ssfr-xl")
    assert run.exit_code == 0, run.output
    (built,) = plans.glob("*.xlsx")
    g = district.layout.goals
    returned.mkdir()
    filled = edit_cells_xml(built, returned / built.name, SS.GOALS, {
        g.cell("school_goal", 0): "Every reader at grade level",
        g.cell("strategy", 0): "Twenty classroom teachers, smaller classes",
        g.cell("measure", 0): "Reading scores up 5 points"})
    check = district.check(filled)
    assert [f.code for f in check.findings if f.code != "unspent-funds"] == []
    assert check.totals.status == "Balanced"
    out = tmp_path / "totals.xlsx"
    run = CliRunner().invoke(cli, ["consolidate", str(district.path), str(returned), "--out",
                                   str(out)], prog_name="ssfr-xl")
    assert run.exit_code in (0, 1), run.output
    totals = openpyxl.load_workbook(out, read_only=True)
    status = [r for r in totals["Status"].iter_rows(values_only=True)
              if spec.school.school_id in [str(v) for v in r]]
    assert status and any(str(v).startswith("accepted") for v in status[0]), status
