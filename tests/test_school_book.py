"""School plan workbooks: the allocation of record, live balances that agree with Python, and a
file made for the principal who fills it in.

    allocation   every plan's Allocation sheet and Allocation_<FUND> cells equal the engine;
                 manifest.csv; `ssfr-xl build` --schools, --force, --positions
    balances     plans filled with openpyxl, and the same plans typed through LibreOffice,
                 recalculated in LibreOffice and in gnumeric, show every formula cell (line
                 costs, Check, per-fund, per-goal, per-group and FTE totals, Status) equal to
                 Python's evaluation of their input cells (tests/oracle.py: PlanOracle); the
                 Start Here status line, the same text in both engines
    errors       no error value anywhere after recalculation (sample district, Pasadena)
    users        protection, input styles, validations, names, panes, print setup, metadata
    golden       the normalised dump of one sample plan equals tests/golden/school_plan.txt

LibreOffice starts twice for the sample district (one type_into_many run, one recalculate run,
both in the module-scoped `live` fixture) and once for Pasadena Unified.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import math
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string, range_boundaries
from openpyxl.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from ssfr_xl import gnumeric, styles
from ssfr_xl.cli import cli
from ssfr_xl.district_book import read_district
from ssfr_xl.errors import PolicyError
from ssfr_xl.formula import AllocationResult, allocate
from ssfr_xl.layout import START_FIELDS, TEMPLATE_VERSION, SchoolLayout, Table, cell_address
from ssfr_xl.layout import SchoolSheets as SS
from ssfr_xl.libreoffice import type_into_many
from ssfr_xl.model import DistrictInputs, Policy
from ssfr_xl.plan import PlanTotals, plan_totals, read_plan_inputs
from ssfr_xl.policy import PolicyFile, load_policy, parse_policy
from ssfr_xl.school_book import SchoolPlanSpec, build_school_plan, file_name, plan_specs
from ssfr_xl.season import build_plans, create_district
from ssfr_xl.sources import sample_district
from ssfr_xl.sources.demo import demo_plan, fill_plan_workbook
from tests.dump import (
    GOLDEN_SCHOOL_ID,
    SCHOOL_PLAN_GOLDEN,
    UPDATE_ENV,
    UPDATE_HINT,
    dump_workbook,
    unified_diff,
    write_golden_plan,
)
from tests.helpers import (
    CENT_TOLERANCE,
    SHARED_DATA,
    RecalculatedBook,
    error_cells,
    read_book,
    recalc_and_read,
    require_ssconvert,
)
from tests.oracle import PlanOracle
from tests.test_readme import documented, readme_names

ROOT = Path(__file__).resolve().parents[1]
DATA = SHARED_DATA
CUPC = DATA / "cde" / "cupc2425-k12.xlsx"
PASADENA = "64881"

Grid = dict[str, list[list[object]]]
Edits = dict[tuple[str, str], object]
#: Adds lines to a filled plan; may return the status the plan must then show.
Extra = Callable[[Workbook, SchoolPlanSpec], str | None]


# --- a season: the district workbook and its plans ------------------------------------------


@dataclass
class Season:
    """A district workbook, its plans written by build_plans, and the engine's result."""

    district_xlsx: Path
    plans_dir: Path
    result: AllocationResult
    specs: dict[str, SchoolPlanSpec]  # by school id, in roster order

    def path(self, school_id: str) -> Path:
        """The plan file build_plans wrote for a school."""
        return self.plans_dir / file_name(self.specs[school_id].school)

    def first_of_each_level(self) -> list[str]:
        """School ids: the first school of each level (Elementary, Middle, High, Span)."""
        firsts: dict[str, str] = {}
        for spec in self.specs.values():
            firsts.setdefault(spec.school.level, spec.school.school_id)
        return list(firsts.values())


def make_season(tmp: Path, **source: object) -> Season:
    """create_district(**source) then build_plans, as `init` and `build` do."""
    district = tmp / "district.xlsx"
    create_district(district, **source)  # type: ignore[arg-type]
    plans = tmp / "plans"
    build_plans(district, plans)
    result = allocate(read_district(district))
    return Season(district, plans, result,
                  {s.school.school_id: s for s in plan_specs(result)})


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> Season:
    """The 40-school sample district and its plans."""
    return make_season(tmp_path_factory.mktemp("season"), sample=40)


@pytest.fixture(scope="module")
def golden_book(season: Season) -> Workbook:
    """The sample plan of the golden school, as build_plans wrote it."""
    return openpyxl.load_workbook(season.path(GOLDEN_SCHOOL_ID))


def invoke(*args: object) -> Result:
    """Run ssfr-xl in-process; an exception other than a clean exit fails the test."""
    result = CliRunner().invoke(cli, [str(a) for a in args], prog_name="ssfr-xl")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    return result


def named_cells(wb: Workbook, name: str) -> list[tuple[str, str]]:
    """(sheet, A1 or A1:B2) destinations of a defined name, without $ signs."""
    return [(sheet, ref.replace("$", "")) for sheet, ref in wb.defined_names[name].destinations]


def named_value(wb: Workbook, name: str) -> object:
    """The value of a single-cell defined name."""
    ((sheet, ref),) = named_cells(wb, name)
    return wb[sheet][ref].value


# --- 1. the allocation of record -------------------------------------------------------------


def test_every_plan_shows_the_engines_allocation_to_the_cent(season: Season) -> None:
    result = season.result
    wide = result.by_school()
    funds = result.inputs.policy.funds
    layout = SchoolLayout(result.inputs.policy)
    t = layout.allocation
    assert t.rows == len(result.components)
    mismatches: list[str] = []
    for i, school in enumerate(result.schools):
        wb = openpyxl.load_workbook(season.path(school.school_id))
        ws = wb[SS.ALLOCATION]
        where = f"{school.school_id} {SS.ALLOCATION}!"
        for k, r in enumerate(result.components):
            shown = (ws[t.cell("code", k)].value, ws[t.cell("fund", k)].value)
            if shown != (r.component.code, r.component.fund):
                mismatches.append(f"{where}{t.cell('code', k)}: {shown}, engine "
                                  f"{(r.component.code, r.component.fund)}")
            amount, engine = ws[t.cell("amount", k)].value, float(r.amount[i])
            if not isinstance(amount, int | float) or abs(amount - engine) > CENT_TOLERANCE:
                mismatches.append(f"{where}{t.cell('amount', k)} ({r.component.code}): "
                                  f"{amount!r}, engine {engine:,.2f}")
        for f in funds:
            name = layout.allocation_total_name(f.code)
            value, engine = named_value(wb, name), float(wide[f"total_{f.code}"].iloc[i])
            if not isinstance(value, int | float) or abs(value - engine) > CENT_TOLERANCE:
                mismatches.append(f"{school.school_id} {name}: {value!r}, engine {engine:,.2f}")
        meta = dict(wb[SS.META].iter_rows(values_only=True))
        assert json.loads(meta["allocation"]) == pytest.approx(
            {f.code: float(wide[f"total_{f.code}"].iloc[i]) for f in funds}, abs=0.005)
    assert not mismatches, "\n".join(mismatches)


def read_manifest(folder: Path) -> list[dict[str, str]]:
    """The rows of folder/manifest.csv."""
    with (folder / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_manifest_has_one_row_per_school_with_hash_and_allocation(season: Season) -> None:
    rows = read_manifest(season.plans_dir)
    funds = [f.code for f in season.result.inputs.policy.funds]
    assert list(rows[0]) == ["school_id", "file", "sha256", *[f"allocation_{c}" for c in funds],
                             "template_version", "built_at"]
    assert [r["school_id"] for r in rows] == list(season.specs)
    wide = season.result.by_school().set_index("school_id")
    for row in rows:
        spec = season.specs[row["school_id"]]
        path = season.plans_dir / row["file"]
        assert row["file"] == file_name(spec.school)
        assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), row["file"]
        engine = wide.loc[spec.school.school_id]
        assert [row[f"allocation_{c}"] for c in funds] == [f"{engine[f'total_{c}']:.2f}"
                                                          for c in funds]
        assert row["template_version"] == TEMPLATE_VERSION
    assert len({r["built_at"] for r in rows}) == 1  # one build, one time
    written = sorted(p.name for p in season.plans_dir.glob("*.xlsx"))
    assert written == sorted(r["file"] for r in rows)


def test_build_only_the_listed_schools(season: Season, tmp_path: Path) -> None:
    ids = list(season.specs)
    result = invoke("build", season.district_xlsx, "--out", tmp_path, "--schools",
                    f"{ids[3]},{ids[0]}", "--schools", ids[30])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Wrote 3 school plan workbooks")
    rows = read_manifest(tmp_path)
    assert [r["school_id"] for r in rows] == [ids[0], ids[3], ids[30]]  # roster order
    assert sorted(p.name for p in tmp_path.glob("*.xlsx")) == sorted(r["file"] for r in rows)


def test_build_refuses_an_unknown_school(season: Season, tmp_path: Path) -> None:
    result = invoke("build", season.district_xlsx, "--out", tmp_path, "--schools",
                    "19999999999999")
    assert result.exit_code == 1
    assert result.output == "Error: Not schools of this district: 19999999999999.\n"
    assert list(tmp_path.glob("*.xlsx")) == []


def test_build_refuses_to_overwrite_without_force(season: Season, tmp_path: Path) -> None:
    one = list(season.specs)[5]
    name = file_name(season.specs[one].school)
    assert invoke("build", season.district_xlsx, "--out", tmp_path, "--schools", one
                  ).exit_code == 0
    target = tmp_path / name
    before = (target.read_bytes(), target.stat().st_ino)
    refused = invoke("build", season.district_xlsx, "--out", tmp_path, "--schools", one)
    assert refused.exit_code == 1
    assert refused.output == (f"Error: 1 plan file(s) already exist in {tmp_path} "
                              f"(e.g. {name}); pass --force to replace them.\n")
    assert (target.read_bytes(), target.stat().st_ino) == before  # untouched

    forced = invoke("build", season.district_xlsx, "--out", tmp_path, "--schools", one, "--force")
    assert forced.exit_code == 0, forced.output
    assert target.stat().st_ino != before[1]  # a new file was renamed into place
    (row,) = read_manifest(tmp_path)
    assert row["sha256"] == hashlib.sha256(target.read_bytes()).hexdigest()


def write_positions(path: Path, rows: list[list[str]]) -> Path:
    """A positions CSV with the documented header."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["school_id", "job_class", "fte", "fund", "goal", "note"])
        writer.writerows(rows)
    return path


def test_positions_csv_prefills_staffing_lines(season: Season, tmp_path: Path) -> None:
    a, b, c = list(season.specs)[:3]
    positions = write_positions(tmp_path / "positions.csv", [
        [a, "PRIN", "1", "GEN", "G5", "Principal"],
        [a, "TCH", "0.5", "LCFF-SC", "G1", "Reading, intervention"],
        [b, "CLERK", "1", "", "", ""],
    ])
    out = tmp_path / "plans"
    result = invoke("build", season.district_xlsx, "--out", out, "--schools", f"{a},{b},{c}",
                    "--positions", positions)
    assert result.exit_code == 0, result.output
    t = SchoolLayout(season.result.inputs.policy).staffing
    keys = ("job_class", "fte", "fund", "goal", "note")

    def lines(school_id: str) -> list[tuple[object, ...]]:
        ws = openpyxl.load_workbook(out / file_name(season.specs[school_id].school))[t.sheet]
        found = [tuple(ws[t.cell(k, i)].value for k in keys) for i in range(t.rows)]
        for i in range(t.rows):  # pre-filled or not, every line stays an input
            assert all(ws[t.cell(k, i)].style == styles.INPUT for k in keys)
        return [line for line in found if any(v is not None for v in line)]

    assert lines(a) == [("PRIN", 1, "GEN", "G5", "Principal"),
                        ("TCH", 0.5, "LCFF-SC", "G1", "Reading, intervention")]
    assert lines(b) == [("CLERK", 1, None, None, None)]
    assert lines(c) == []


@pytest.mark.parametrize(("rows", "message"), [
    ([["{a}", "ZZZ", "1", "GEN", "G1", ""]],
     "positions.csv line 2, column 'job_class': 'ZZZ' is not a job class of the district."),
    ([["{a}", "TCH", "1", "GEN", "G1", ""], ["{a}", "TCH", "lots", "GEN", "G1", ""]],
     "positions.csv line 3, column 'fte' holds the text 'lots'; type a number."),
    ([["{a}", "TCH", "1000", "GEN", "G1", ""]],
     "positions.csv line 2, column 'fte': 1000 must be above 0 and at most 999.9 on one line."),
    ([["{a}", "TCH", "1", "NOPE", "G1", ""]],
     "positions.csv line 2, column 'fund': 'NOPE' is not a district fund."),
    ([["19999999999999", "TCH", "1", "GEN", "G1", ""]],
     "positions.csv: positions for unknown school(s) 19999999999999."),
])
def test_bad_positions_csv_is_a_clear_error(season: Season, tmp_path: Path,
                                            rows: list[list[str]], message: str) -> None:
    a = next(iter(season.specs))
    positions = write_positions(tmp_path / "positions.csv",
                                [[v.format(a=a) for v in row] for row in rows])
    out = tmp_path / "plans"
    result = invoke("build", season.district_xlsx, "--out", out, "--positions", positions)
    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert message in result.output
    assert not list(out.glob("*.xlsx"))  # nothing half-built


def test_positions_csv_without_fte_column_names_the_columns(season: Season,
                                                            tmp_path: Path) -> None:
    positions = tmp_path / "positions.csv"
    positions.write_text("school_id,job_class\n01999996000013,TCH\n", encoding="utf-8")
    result = invoke("build", season.district_xlsx, "--out", tmp_path / "plans", "--positions",
                    positions)
    assert result.exit_code == 1
    assert result.output == ("Error: positions.csv: missing column(s) fte; the columns are "
                             "school_id, job_class, fte, fund, goal, note.\n")


# --- 2. live balances equal Python ------------------------------------------------------------


def input_cells(layout: SchoolLayout) -> list[tuple[str, str]]:
    """Every cell a principal may type into, from the layout's declarations."""
    cells = [(START_FIELDS.sheet, START_FIELDS.cell(f.key)) for f in START_FIELDS.fields
             if f.input]
    for t in (layout.staffing, layout.services, layout.other, layout.goals):
        for c in t.columns:
            if not c.input:
                continue
            first = layout.menu_rows if (t is layout.services and c.key == "service") else 0
            cells += [(t.sheet, t.cell(c.key, i)) for i in range(first, t.rows)]
    return cells


def grid_of(wb: Workbook) -> Grid:
    """Every sheet's cell contents from A1 (input values as typed; formulas as text)."""
    return {ws.title: [list(row) for row in ws.iter_rows(min_row=1, min_col=1,
                                                          values_only=True)]
            for ws in wb.worksheets}


def first_free_line(ws: Worksheet, t: Table, start: int = 0) -> int:
    """Index of the first line of `t` from `start` whose input cells are all empty."""
    for i in range(start, t.rows):
        if all(ws[t.cell(c.key, i)].value is None for c in t.columns if c.input):
            return i
    raise AssertionError(f"{t.sheet} has no free line")


def add_line(wb: Workbook, t: Table, start: int = 0, **values: object) -> str:
    """Type a line into the first free line of `t` (from `start`); return its row's address."""
    ws = wb[t.sheet]
    i = first_free_line(ws, t, start)
    for key, value in values.items():
        ws[t.cell(key, i)] = value
    return f"{t.sheet}!{t.first_row + i}"


@dataclass
class Case:
    """A plan filled in with openpyxl, the same edits typed through LibreOffice, and results."""

    name: str
    spec: SchoolPlanSpec
    filled: Path  # written by openpyxl
    edits: Edits  # its input cells, to type through LibreOffice
    status: str | None = None  # the Start Here status it must show (None: not checked)
    typed: Path | None = None  # type_into_many's output
    books: dict[str, RecalculatedBook] = field(default_factory=dict)  # "filled" / "typed"


def python_totals(spec: SchoolPlanSpec, grid: Grid) -> tuple[PlanTotals, dict[str, float]]:
    """plan_totals of a grid's input cells, and remaining per fund."""
    allocation = {f.code: spec.fund_allocation(f.code) for f in spec.policy.funds}
    totals = plan_totals(read_plan_inputs(grid, spec.policy, allocation=allocation),
                         spec.policy)
    return totals, totals.remaining(allocation)


def make_case(name: str, spec: SchoolPlanSpec, folder: Path, seed: int = 0,
              extra: Extra | None = None, status: str | None = None) -> Case:
    """Build the plan, fill the demo plan and `extra(wb)` lines, save; record the edits."""
    wb = build_school_plan(spec)
    fill_plan_workbook(wb, spec.policy, demo_plan(spec, seed=seed))
    if extra is not None:
        status = extra(wb, spec) or status
    path = folder / f"{name}.xlsx"
    wb.save(path)
    edits = {(sheet, address): wb[sheet][address].value
             for sheet, address in input_cells(SchoolLayout(spec.policy))
             if wb[sheet][address].value is not None}
    return Case(name, spec, path, edits, status)


def edge_lines(wb: Workbook, spec: SchoolPlanSpec) -> None:
    """Lines a real principal types: odd codes, blanks, zeros, extra service lines, big sums."""
    layout = SchoolLayout(spec.policy)
    s, v, o = layout.staffing, layout.services, layout.other
    extra = layout.menu_rows
    service = spec.policy.services[0].code
    add_line(wb, s, job_class="ZZZ", fte=1, fund="GEN", goal="G1", note="unknown job class")
    add_line(wb, s, job_class="TCH", fte="half", fund="GEN", goal="G1", note="FTE as text")
    add_line(wb, s, job_class="TCH", fte=1, goal="G2", note="no fund")
    add_line(wb, s, job_class="tch", fte=0.3, fund="gen", goal="g1", note="lower case")
    add_line(wb, s, job_class="COUNS", fte=0, fund="GEN", goal="G3", note="zero FTE")
    add_line(wb, s, job_class="PARA", fte=0.7, fund="TITLE1", goal="G2")
    add_line(wb, s, job_class="AP", fund="GEN", goal="G5", note="FTE not typed yet")
    add_line(wb, v, extra, service=service, quantity=2.5, fund="LCFF-SC", goal="G2")
    add_line(wb, v, extra, service=service.lower(), quantity=1, fund="GEN", goal="G1")
    add_line(wb, v, extra, service=service, quantity=0, fund="GEN", goal="G1")
    add_line(wb, v, extra, service="NOPE", quantity=3, fund="GEN", goal="G1")
    wb[v.sheet][v.cell("quantity", 1)] = 0  # a menu line set to zero
    wb[v.sheet][v.cell("fund", 1)] = "GEN"
    add_line(wb, o, object="4300", fund="GEN", goal="G1", description="big",
             amount=99999999.99)
    add_line(wb, o, object="5800", fund="TITLE1", goal="G2", description="three decimals",
             amount=1234.565)
    add_line(wb, o, object="4300", goal="G4", description="no fund", amount=50)
    add_line(wb, o, object="9999", fund="GEN", goal="G1", description="unknown object",
             amount=10)
    add_line(wb, o, object="4300", fund="EQM", goal="G1", description="zero", amount=0)
    add_line(wb, o, object="6400", fund="Gen", goal="G4", description="mixed case fund",
             amount=0.01)


def numbers_as_text(wb: Workbook, spec: SchoolPlanSpec) -> None:
    """Numbers stored as text, as a paste from another program or a text-formatted cell gives."""
    layout = SchoolLayout(spec.policy)
    add_line(wb, layout.staffing, job_class="TCH", fte="0.5", fund="GEN", goal="G1")
    add_line(wb, layout.other, object="4300", fund="GEN", goal="G1", description="typed as text",
             amount="500")
    add_line(wb, layout.services, layout.menu_rows, service=spec.policy.services[0].code,
             quantity="2", fund="GEN", goal="G1")


def over_by(fund: str, amount: float) -> Extra:
    """An extra line that leaves `fund` over budget by exactly `amount`."""
    def extra(wb: Workbook, spec: SchoolPlanSpec) -> str:
        _, remaining = python_totals(spec, grid_of(wb))
        add_line(wb, SchoolLayout(spec.policy).other, object="4300", fund=fund, goal="G1",
                 description="one purchase too many", amount=round(remaining[fund] + amount, 2))
        return f"Over budget in {fund} by ${amount:,.2f}"
    return extra


INCOMPLETE = "Incomplete: 1 line(s) need attention - see the Check column"


def line_without(missing: str) -> Extra:
    """An extra line without a fund or without a goal (small: no fund goes over)."""
    def extra(wb: Workbook, spec: SchoolPlanSpec) -> str:
        layout = SchoolLayout(spec.policy)
        if missing == "fund":
            add_line(wb, layout.staffing, job_class="TCH", fte=0.1, goal="G1")
        else:
            add_line(wb, layout.other, object="4300", fund="GEN", description="no goal",
                     amount=10)
        wb[START_FIELDS.sheet][START_FIELDS.cell("prepared_by")] = "Ms. Rivera"
        return INCOMPLETE
    return extra


def sample_cases(season: Season, folder: Path) -> list[Case]:
    """Demo plans for a school of each level, edge lines, text numbers and status cases.

    The cases beyond the demos use small schools: LibreOffice types about 8 ms per cell.
    """
    specs = season.specs
    cases = [make_case(f"demo-{specs[i].school.level.lower()}", specs[i], folder,
                       status="Balanced") for i in season.first_of_each_level()]
    small = sorted(specs, key=lambda i: specs[i].school.enrollment)
    with_all_funds = next(i for i in small if specs[i].school.level == "High"
                          and all(specs[i].fund_allocation(f.code) > 0
                                  for f in specs[i].policy.funds))
    cases += [
        make_case("edge", specs[with_all_funds], folder, extra=edge_lines),
        make_case("numbers-as-text", specs[small[0]], folder, extra=numbers_as_text),
        make_case("over", specs[small[1]], folder, seed=1, extra=over_by("LCFF-SC", 1234.56)),
        make_case("no-fund", specs[small[0]], folder, seed=2, extra=line_without("fund")),
        make_case("no-goal", specs[small[2]], folder, seed=3, extra=line_without("goal")),
    ]
    return cases


#: Cases also typed through LibreOffice (the demos of bigger schools are filled only).
TYPED = ("demo-elementary", "edge", "numbers-as-text", "over", "no-fund", "no-goal")


@dataclass
class Live:
    """The sample district's plans after LibreOffice: cases and recalculated empty plans."""

    season: Season
    cases: dict[str, Case]
    empty: dict[str, RecalculatedBook]  # by school id


@pytest.fixture(scope="module")
def live(soffice: str, season: Season, tmp_path_factory: pytest.TempPathFactory) -> Live:
    """Fill plans, type them through LibreOffice (one run), recalculate (one run)."""
    tmp = tmp_path_factory.mktemp("live")
    (tmp / "filled").mkdir()
    cases = {c.name: c for c in sample_cases(season, tmp / "filled")}
    jobs = []
    for name in TYPED:
        c = cases[name]
        c.typed = tmp / "typed" / f"{c.name}.xlsx"
        jobs.append((season.path(c.spec.school.school_id), c.edits, c.typed))
    type_into_many(jobs)
    empty_ids = season.first_of_each_level()
    paths = [c.filled for c in cases.values()] + [season.path(i) for i in empty_ids]
    books = recalc_and_read(paths, tmp)
    for c, book in zip(cases.values(), books, strict=False):
        c.books["filled"] = book
        if c.typed is not None:
            c.books["typed"] = read_book(c.typed)
    return Live(season, cases, dict(zip(empty_ids, books[len(cases):], strict=True)))


def balance_mismatches(book: RecalculatedBook, spec: SchoolPlanSpec, grid: Grid) -> list[str]:
    """Error values, and formula cells (line costs, Check, per-fund allocation, planned and
    remaining, totals, groups, FTE, Status, ...) that differ from Python's evaluation of the
    grid's inputs: the oracle of tests/oracle.py."""
    return [str(d) for d in PlanOracle(spec, grid).differences(book)]


def status_of(book: RecalculatedBook, names: Workbook) -> object:
    """The Start Here status line."""
    ((sheet, ref),) = named_cells(names, "Plan_Status")
    return book.value(sheet, ref)


CASE_NAMES = ["demo-elementary", "demo-middle", "demo-high", "demo-span", "edge",
              "numbers-as-text", "over", "no-fund", "no-goal"]


@pytest.mark.libreoffice
@pytest.mark.parametrize("name", CASE_NAMES)
def test_filled_plan_balances_equal_python(live: Live, name: str) -> None:
    case = live.cases[name]
    original = openpyxl.load_workbook(case.filled)  # the inputs, not any cached value
    mismatches = balance_mismatches(case.books["filled"], case.spec, grid_of(original))
    assert not mismatches, "\n".join(mismatches)


@pytest.fixture(scope="module")
def gnumeric_books(live: Live, tmp_path_factory: pytest.TempPathFactory
                   ) -> dict[str, RecalculatedBook]:
    """The filled plans recalculated by gnumeric, the second engine (one ssconvert each)."""
    require_ssconvert()
    names = list(live.cases)
    outs = gnumeric.recalculate([live.cases[n].filled for n in names],
                                tmp_path_factory.mktemp("gnumeric"))
    return {n: read_book(out) for n, out in zip(names, outs, strict=True)}


@pytest.mark.libreoffice
@pytest.mark.parametrize("name", CASE_NAMES)
def test_filled_plan_in_gnumeric_equals_python_and_libreoffice(
        live: Live, gnumeric_books: dict[str, RecalculatedBook], name: str) -> None:
    case = live.cases[name]
    original = openpyxl.load_workbook(case.filled)
    mismatches = balance_mismatches(gnumeric_books[name], case.spec, grid_of(original))
    assert not mismatches, "\n".join(mismatches)
    # the same Status text, character for character, in both engines
    assert status_of(gnumeric_books[name], original) == status_of(case.books["filled"], original)


@pytest.mark.libreoffice
@pytest.mark.parametrize("name", TYPED)
def test_plan_typed_in_libreoffice_keeps_the_values_and_balances(live: Live, name: str) -> None:
    case = live.cases[name]
    assert case.typed is not None
    saved = openpyxl.load_workbook(case.typed)
    lost = []
    for (sheet, address), typed in case.edits.items():
        got = saved[sheet][address].value
        same = (math.isclose(got, typed, abs_tol=1e-12)
                if isinstance(typed, int | float) and isinstance(got, int | float)
                else got == typed)
        if not same:
            lost.append(f"{sheet}!{address}: typed {typed!r}, saved {got!r}")
    assert not lost, "\n".join(lost)
    assert len(case.edits) > 20
    mismatches = balance_mismatches(case.books["typed"], case.spec, grid_of(saved))
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.libreoffice
@pytest.mark.parametrize("name", ["demo-elementary", "demo-middle", "demo-high", "demo-span",
                                  "over", "no-fund", "no-goal"])
def test_start_here_status_line(live: Live, name: str) -> None:
    case = live.cases[name]
    names = openpyxl.load_workbook(case.filled)
    assert case.status is not None
    for kind, book in case.books.items():
        assert status_of(book, names) == case.status, kind


@pytest.mark.libreoffice
@pytest.mark.parametrize("name", CASE_NAMES)
def test_status_names_the_first_fund_python_finds_over(live: Live, name: str) -> None:
    case = live.cases[name]
    names = openpyxl.load_workbook(case.filled)
    totals, remaining = python_totals(case.spec, grid_of(names))
    over = [(code, r) for code, r in remaining.items() if r < 0]
    expected = f"Over budget in {over[0][0]} by ${-over[0][1]:,.2f}" if over else None
    for kind, book in case.books.items():
        status = status_of(book, names)
        assert isinstance(status, str), kind
        assert status == totals.status, kind  # Python evaluates the very same Status
        if status.startswith("Incomplete: "):
            continue  # lines with problems come first; the budget is judged once they are fixed
        if expected is None:
            assert not status.startswith("Over"), f"{kind}: {status}"
        else:
            assert status == expected, kind


@pytest.mark.libreoffice
def test_status_cases_are_what_they_claim(live: Live) -> None:
    # The status cases must differ only as intended: "over" is over in exactly one fund.
    case = live.cases["over"]
    _, remaining = python_totals(case.spec, grid_of(openpyxl.load_workbook(case.filled)))
    assert {code: r for code, r in remaining.items() if r < 0} == {"LCFF-SC": -1234.56}
    for name in ("no-fund", "no-goal"):
        c = live.cases[name]
        _, remaining = python_totals(c.spec, grid_of(openpyxl.load_workbook(c.filled)))
        assert min(remaining.values()) >= 0, name


# --- 3. no error values ----------------------------------------------------------------------


@pytest.mark.libreoffice
def test_no_error_value_in_empty_or_filled_plans(live: Live) -> None:
    found = []
    for school_id, book in live.empty.items():
        found += [f"empty {school_id}: {e}" for e in error_cells(book)]
    for case in live.cases.values():
        for kind, book in case.books.items():
            found += [f"{case.name} ({kind}): {e}" for e in error_cells(book)]
    assert not found, "\n".join(found)
    assert len(live.empty) == 4 and len(live.cases) == len(CASE_NAMES)


@pytest.mark.libreoffice
def test_empty_plan_asks_for_goals_and_balances_at_zero(live: Live) -> None:
    for school_id, book in live.empty.items():
        spec = live.season.specs[school_id]
        names = openpyxl.load_workbook(live.season.path(school_id))
        assert status_of(book, names) == ("Incomplete: write at least one goal with a strategy "
                                          "and a measure (Goals & Strategies)")
        assert balance_mismatches(book, spec, grid_of(names)) == []


@pytest.fixture(scope="module")
def pasadena(soffice: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Live, list[str]]:
    """Pasadena Unified from CDE: plans built, some filled, all recalculated in one run."""
    if not CUPC.is_file():
        pytest.skip(f"real CDE data not found: {CUPC}")
    tmp = tmp_path_factory.mktemp("pasadena")
    s = make_season(tmp, cde=CUPC, district_code=PASADENA)
    (tmp / "filled").mkdir()
    chosen = s.first_of_each_level()
    cases = {f"demo-{i}": make_case(f"demo-{i}", s.specs[i], tmp / "filled") for i in chosen}
    empties = chosen  # the formulas are the same in every plan; a school of each level
    books = recalc_and_read([c.filled for c in cases.values()] + [s.path(i) for i in empties],
                            tmp)
    for c, book in zip(cases.values(), books, strict=False):
        c.books["filled"] = book
    return Live(s, cases, dict(zip(empties, books[len(cases):], strict=True))), chosen


@pytest.mark.libreoffice
@pytest.mark.shared_data
def test_pasadena_plans_have_no_error_values_and_balance(pasadena: tuple[Live, list[str]]
                                                         ) -> None:
    live, chosen = pasadena
    assert 15 <= len(live.season.specs) <= 40  # about two dozen district-run schools
    found = [f"empty {i}: {e}" for i, book in live.empty.items() for e in error_cells(book)]
    for case in live.cases.values():
        found += [f"{case.name}: {e}" for e in error_cells(case.books["filled"])]
        original = openpyxl.load_workbook(case.filled)
        found += balance_mismatches(case.books["filled"], case.spec, grid_of(original))
    assert not found, "\n".join(found)
    assert len(chosen) >= 3


# --- 4. made for its users -------------------------------------------------------------------


def test_every_sheet_is_protected_except_the_hidden_meta_sheet(season: Season) -> None:
    for school_id in season.specs:
        wb = openpyxl.load_workbook(season.path(school_id))
        assert wb.sheetnames == list(SS.ORDER)
        for ws in wb.worksheets:
            if ws.title == SS.META:
                assert ws.sheet_state == "hidden"
                continue
            assert ws.sheet_state == "visible", ws.title
            assert ws.protection.sheet, f"{school_id} {ws.title} is not protected"
            assert not ws.protection.password, f"{ws.title} has a password"


def test_inputs_unlocked_in_the_input_style_and_formulas_locked(season: Season,
                                                                golden_book: Workbook) -> None:
    expected = set(input_cells(SchoolLayout(season.result.inputs.policy)))
    unlocked, wrong_style, open_formulas = set(), [], []
    for ws in golden_book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                where = (ws.title, cell.coordinate)
                if not cell.protection.locked:
                    unlocked.add(where)
                if cell.data_type == "f" and not cell.protection.locked:
                    open_formulas.append(where)
    for sheet, address in expected:
        if golden_book[sheet][address].style != styles.INPUT:
            wrong_style.append((sheet, address, golden_book[sheet][address].style))
    assert open_formulas == []
    assert sorted(expected - unlocked) == []  # every input can be typed into
    assert sorted(unlocked - expected) == []  # and nothing else
    assert wrong_style == []
    assert len(expected) > 1000


def plan_for_policy(policy_file: PolicyFile, tmp_path: Path, n: int = 3) -> Path:
    """The first school's plan of a small sample district under a policy."""
    info, schools = sample_district(n)
    district = policy_file.district(info.name, info.cds_code, schools)
    result = allocate(DistrictInputs(district, policy_file.policy, tuple(schools)))
    path = tmp_path / "plan.xlsx"
    build_school_plan(plan_specs(result)[0]).save(path)
    return path


def without_menus(tmp_path: Path) -> tuple[Path, Policy]:
    """A plan under a policy without job classes, services, objects or goals (check_policy
    accepts that), and the policy."""
    pf = load_policy()
    policy = replace(pf.policy, job_classes=(), services=(), objects=(), goals=())
    return plan_for_policy(replace(pf, policy=policy), tmp_path), policy


@pytest.mark.parametrize("policy", ["default", "no plan menus"])
def test_input_columns_have_validations_pointing_at_defined_names(
        season: Season, tmp_path: Path, policy: str) -> None:
    if policy == "default":
        path, plan_policy = season.path(GOLDEN_SCHOOL_ID), season.result.inputs.policy
    else:
        path, plan_policy = without_menus(tmp_path)
    wb = openpyxl.load_workbook(path)
    layout = SchoolLayout(plan_policy)
    problems = []
    for t in (layout.staffing, layout.services, layout.other):
        ws = wb[t.sheet]
        for c in t.columns:
            if not (c.input and c.validation is not None):
                continue
            rng = t.range(c.key, absolute=False)
            dvs = [dv for dv in ws.data_validations.dataValidation if rng in str(dv.sqref)]
            if len(dvs) != 1:
                problems.append(f"{t.sheet}!{rng} ({c.key}): {len(dvs)} validations")
                continue
            dv = dvs[0]
            if dv.type == "list":
                name = (dv.formula1 or "").lstrip("=")
                if name not in wb.defined_names:
                    problems.append(f"{t.sheet}!{rng}: list from {dv.formula1!r}, "
                                    "not a defined name of the workbook")
            if c.key == "fte" and (dv.type != "custom" or "FTE_Step" not in dv.formula1):
                problems.append(f"FTE validation does not use FTE_Step: {dv.formula1!r}")
    assert not problems, "\n".join(problems)


def test_every_coded_or_numeric_input_is_validated() -> None:
    layout = SchoolLayout(load_policy().policy)
    validated = {(t.sheet, c.key) for t in (layout.staffing, layout.services, layout.other)
                 for c in t.columns if c.input and c.validation is not None}
    assert validated == {
        (SS.STAFFING, "job_class"), (SS.STAFFING, "fte"), (SS.STAFFING, "fund"),
        (SS.STAFFING, "goal"), (SS.SERVICES, "service"), (SS.SERVICES, "quantity"),
        (SS.SERVICES, "fund"), (SS.SERVICES, "goal"), (SS.OTHER, "object"),
        (SS.OTHER, "fund"), (SS.OTHER, "goal"), (SS.OTHER, "amount"),
    }


def test_fte_step_is_the_districts(golden_book: Workbook, season: Season) -> None:
    assert named_value(golden_book, "FTE_Step") == season.result.inputs.policy.fte_step


def test_freeze_panes_and_print_setup(season: Season, golden_book: Workbook) -> None:
    layout = SchoolLayout(season.result.inputs.policy)
    for t in (layout.staffing, layout.services, layout.other, layout.goals):
        ws = golden_book[t.sheet]
        assert ws.freeze_panes is not None, t.sheet
        letters, row = coordinate_from_string(ws.freeze_panes)
        assert row == t.first_row, f"{t.sheet}: header rows stay in view"
        assert column_index_from_string(letters) >= 1
        setup = ws.page_setup
        assert setup.orientation == "landscape", t.sheet
        assert ws.sheet_properties.pageSetUpPr.fitToPage, t.sheet
        assert (setup.fitToWidth, setup.fitToHeight) in ((1, 0), (None, 0)), t.sheet
        assert ws.print_title_rows == f"${t.header_row}:${t.header_row}", t.sheet
    alloc = golden_book[SS.ALLOCATION]
    assert alloc.freeze_panes == cell_address(layout.allocation.first_row, 1)
    for sheet in (SS.SUMMARY, SS.ALLOCATION):
        assert golden_book[sheet].page_setup.orientation == "landscape", sheet


def test_enough_lines_to_plan_a_school(season: Season, golden_book: Workbook) -> None:
    layout = SchoolLayout(season.result.inputs.policy)
    for name, key, at_least in (("Staffing_FTE", "cost", 150), ("Other_Amount", "check", 60)):
        ((sheet, ref),) = named_cells(golden_book, name)
        _, first, _, last = range_boundaries(ref)
        assert last - first + 1 >= at_least, name
        t = layout.staffing if sheet == SS.STAFFING else layout.other
        last_formula = golden_book[sheet][cell_address(last, t.col(key))]
        assert last_formula.data_type == "f", f"{sheet} line {last} has no {key} formula"


def test_input_areas_are_defined_names_documented_in_readme(season: Season,
                                                            golden_book: Workbook) -> None:
    layout = SchoolLayout(season.result.inputs.policy)
    expected = {f.name for f in START_FIELDS.fields if f.input}
    for t in (layout.staffing, layout.services, layout.other, layout.goals):
        for c in t.columns:
            if c.input:
                assert c.name, f"{t.sheet} column {c.key} is an input without a defined name"
                expected.add(c.name)
                ((sheet, ref),) = named_cells(golden_book, c.name)
                assert (sheet, ref) == (t.sheet, t.range(c.key, absolute=False)), c.name
    for f in START_FIELDS.fields:
        if f.input:
            assert named_cells(golden_book, f.name) == [(START_FIELDS.sheet,
                                                          START_FIELDS.cell(f.key))], f.name
    names = readme_names()
    assert sorted(n for n in expected if not documented(n, names)) == []


def test_every_defined_name_of_the_plan_is_documented(golden_book: Workbook) -> None:
    # README: "any tool can read it by name" -- the read-only names (school, status, lists)
    # are what validate and other tools read, so they are part of the contract too.
    names = readme_names()
    missing = sorted(n for n in golden_book.defined_names if not documented(n, names))
    assert not missing, f"defined names of the plan missing from README.md: {missing}"


_A1 = re.compile(r"^\$?([A-Za-z]{1,3})\$?([0-9]+)$")
_R1C1 = re.compile(r"^[RrCc]$|^[Rr][0-9]*[Cc][0-9]*$|^[Rr][0-9]+$|^[Cc][0-9]+$")
_NAME = re.compile(r"^[A-Za-z_\\][A-Za-z0-9_.]*$")


def name_problem(name: str) -> str | None:
    """Why Excel would refuse a defined name (None when it is fine)."""
    if not _NAME.match(name) or len(name) > 255:
        return "has characters a name cannot have"
    m = _A1.match(name)
    if m and column_index_from_string(m.group(1).upper()) <= 16384 and \
            0 < int(m.group(2)) <= 1048576:
        return "looks like a cell reference"
    if _R1C1.match(name):
        return "looks like an R1C1 reference"
    if name.upper() in ("TRUE", "FALSE"):
        return "is a boolean"
    return None


def test_name_checker_catches_what_it_should() -> None:
    for bad in ("A1", "xfd1048576", "R1C1", "R", "C12", "Rate POV", "S/C", "1A", "TRUE",
                "Title_I,_Part_A"):
        assert name_problem(bad), bad
    for good in ("Allocation_GEN", "FTE_Step", "XFE1", "Allocation_LCFF_SC", "_x", "A1B"):
        assert name_problem(good) is None, good


def test_defined_names_are_valid_and_point_at_cells(golden_book: Workbook) -> None:
    problems = [f"{n}: {p}" for n in golden_book.defined_names
                if (p := name_problem(n)) is not None]
    for name, dn in golden_book.defined_names.items():
        for sheet, ref in dn.destinations:
            if sheet not in golden_book.sheetnames:
                problems.append(f"{name} points at missing sheet {sheet!r}")
            range_boundaries(ref.replace("$", ""))
    assert not problems, "\n".join(problems)


def policy_with_fund(code: str) -> PolicyFile:
    """The default policy plus one restricted fund with this code."""
    data = tomllib.loads((ROOT / "templates" / "policy.toml").read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    data["fund"].append({"code": code, "name": f"Fund {code}", "restricted": True})
    return parse_policy(data)


@pytest.mark.parametrize("code", ["LCFF_SC", "S/C", "Title I, Part A"])
def test_fund_codes_give_valid_distinct_allocation_names(tmp_path: Path, code: str) -> None:
    """A fund code the plan cannot name is refused by the policy, or gets a name of its own."""
    try:
        policy_file = policy_with_fund(code)
    except PolicyError as e:
        assert code in str(e)
        return
    wb = openpyxl.load_workbook(plan_for_policy(policy_file, tmp_path))
    layout = SchoolLayout(policy_file.policy)
    names = [layout.allocation_total_name(f.code) for f in policy_file.policy.funds]
    assert len(set(names)) == len(names), f"two funds share a name: {names}"
    assert [(n, p) for n in names if (p := name_problem(n))] == []
    for n in names:
        assert n in wb.defined_names


def test_no_overlapping_merged_cells(season: Season) -> None:
    for school_id in list(season.specs)[:5]:
        wb = openpyxl.load_workbook(season.path(school_id))
        for ws in wb.worksheets:
            seen: dict[tuple[int, int], str] = {}
            for rng in ws.merged_cells.ranges:
                for row in range(rng.min_row, rng.max_row + 1):
                    for col in range(rng.min_col, rng.max_col + 1):
                        assert (row, col) not in seen, f"{ws.title}: {rng} overlaps {seen}"
                        seen[(row, col)] = str(rng)


_FORBIDDEN = re.compile(r"\b(XLOOKUP|XMATCH|LET|LAMBDA|FILTER|SORT|UNIQUE|SEQUENCE|OFFSET|"
                        r"INDIRECT|TODAY|NOW|RAND|RANDBETWEEN|IFS|SWITCH|TEXTJOIN|CONCAT)\s*\(",
                        re.IGNORECASE)
_WHOLE_COLUMN = re.compile(r"(?<![A-Za-z0-9_.$])\$?[A-Za-z]{1,3}:\$?[A-Za-z]{1,3}(?![A-Za-z0-9_(])")
_WHOLE_ROW = re.compile(r"(?<![A-Za-z0-9_.$:])\$?\d+:\$?\d+(?![0-9])")


def formula_problems(formula: str) -> list[str]:
    """Why a formula would not be portable to Excel 2010 and LibreOffice 7.4 (empty: fine)."""
    bare = re.sub(r'"(?:[^"]|"")*"', '""', formula)  # string literals say nothing
    bare = re.sub(r"'(?:[^']|'')*'!", "Sheet!", bare)  # nor do quoted sheet names
    found = [f"uses {m.group(1).upper()}" for m in _FORBIDDEN.finditer(bare)]
    found += [f"whole-column reference {m.group(0)}" for m in _WHOLE_COLUMN.finditer(bare)]
    found += [f"whole-row reference {m.group(0)}" for m in _WHOLE_ROW.finditer(bare)]
    if "[" in bare:
        found.append("structured or external reference")
    if "_xlfn." in bare.lower():
        found.append("a function newer than Excel 2007")
    if len(formula) > 8192:
        found.append(f"{len(formula):,} characters (Excel's limit is 8,192)")
    return found


def test_formula_checker_catches_what_it_should() -> None:
    assert formula_problems("=SUMIF('Staffing'!$E$7:$E$156,A6,'Staffing'!$J$7:$J$156)") == []
    assert formula_problems('=IF(A1="A:A","TODAY(",0)') == []
    for bad in ("=XLOOKUP(1,A1:A2,B1:B2)", "=SUM(A:A)", "=SUM($B:$B)", "=SUM(3:3)",
                "=SUM(Table1[Cost])", "=OFFSET(A1,1,1)", "=today()", "=NOW()",
                "=LET(x,1,x)", "=FILTER(A1:A3,B1:B3)", "=INDIRECT(\"A1\")"):
        assert formula_problems(bad), bad


def all_formulas(wb: Workbook) -> list[tuple[str, str]]:
    """(where, formula) of every cell formula, validation, conditional format and name."""
    found: list[tuple[str, str]] = []
    for ws in wb.worksheets:
        found += [(f"{ws.title}!{c.coordinate}", str(c.value))
                  for row in ws.iter_rows() for c in row if c.data_type == "f"]
        for dv in ws.data_validations.dataValidation:
            found += [(f"{ws.title} validation {dv.sqref}", f"={f}")
                      for f in (dv.formula1, dv.formula2) if f]
        for cf in ws.conditional_formatting:
            found += [(f"{ws.title} format {cf.sqref}", f"={f}")
                      for rule in cf.rules for f in (rule.formula or [])]
    found += [(f"name {n}", f"={dn.attr_text}") for n, dn in wb.defined_names.items()]
    return found


def test_formulas_are_portable(golden_book: Workbook) -> None:
    formulas = all_formulas(golden_book)
    assert len(formulas) > 1000
    problems = [f"{where}: {p}" for where, f in formulas for p in formula_problems(f)]
    assert not problems, "\n".join(problems)


def test_meta_sheet_identifies_the_school(season: Season) -> None:
    for school_id, spec in season.specs.items():
        wb = openpyxl.load_workbook(season.path(school_id))
        ws = wb[SS.META]
        assert ws.sheet_state == "hidden"
        meta = {k: v for k, v in ws.iter_rows(values_only=True)}
        assert meta["school_id"] == school_id
        assert meta["district"] == season.result.inputs.district.cds_code
        assert meta["fiscal_year"] == season.result.inputs.district.fiscal_year
        assert meta["template_version"] == TEMPLATE_VERSION
        assert meta["allocation_fingerprint"] == spec.fingerprint
        assert re.fullmatch(r"[0-9a-f]{64}", meta["allocation_fingerprint"])


def test_fingerprint_changes_with_any_cent(season: Season) -> None:
    spec = season.specs[GOLDEN_SCHOOL_ID]
    line = spec.lines[0]
    moved = replace(spec, lines=(replace(line, amount=line.amount + 0.01), *spec.lines[1:]))
    assert moved.fingerprint != spec.fingerprint
    assert replace(spec, built_at="2000-01-01T00:00:00+00:00").fingerprint == spec.fingerprint


def test_text_from_the_district_stays_text(tmp_path: Path) -> None:
    pf = load_policy()
    info, schools = sample_district(3)
    schools[0] = replace(schools[0], name="=1/0 Academy")
    district = replace(pf.district(info.name, info.cds_code, schools),
                       contact='=HYPERLINK("http://example.org")', name="+District")
    result = allocate(DistrictInputs(district, pf.policy, tuple(schools)))
    path = tmp_path / "plan.xlsx"
    build_school_plan(plan_specs(result)[0]).save(path)
    wb = openpyxl.load_workbook(path)
    for name, text in (("Plan_School", "=1/0 Academy"), ("Plan_District", "+District"),
                       ("Plan_Contact", '=HYPERLINK("http://example.org")')):
        ((sheet, ref),) = named_cells(wb, name)
        assert (wb[sheet][ref].value, wb[sheet][ref].data_type) == (text, "s"), name
    formulas = [f"{where}: {f}" for where, f in all_formulas(wb)
                if "example.org" in f or "1/0" in f]
    assert not formulas, "district text became a formula:\n" + "\n".join(formulas)


# --- 5. golden dump ---------------------------------------------------------------------------


def test_school_plan_matches_the_golden_dump(tmp_path: Path) -> None:
    text = dump_workbook(write_golden_plan(tmp_path / "plan.xlsx"))
    if os.environ.get(UPDATE_ENV):
        SCHOOL_PLAN_GOLDEN.parent.mkdir(exist_ok=True)
        SCHOOL_PLAN_GOLDEN.write_text(text, encoding="utf-8")
    assert SCHOOL_PLAN_GOLDEN.is_file(), f"no golden file; create it with: {UPDATE_HINT}"
    expected = SCHOOL_PLAN_GOLDEN.read_text(encoding="utf-8")
    if text != expected:
        pytest.fail(f"the school plan differs from {SCHOOL_PLAN_GOLDEN.name}:\n"
                    f"{unified_diff(expected, text)}\n\nIf the change is intended, regenerate "
                    f"the golden file and review its diff: {UPDATE_HINT}", pytrace=False)


def test_dump_is_the_same_for_a_plan_built_by_the_command(season: Season) -> None:
    # build_plans reads the district workbook back and stamps another built_at: same dump
    built = dump_workbook(season.path(GOLDEN_SCHOOL_ID))
    assert built == SCHOOL_PLAN_GOLDEN.read_text(encoding="utf-8")


def test_dump_format(tmp_path: Path) -> None:
    text = dump_workbook(write_golden_plan(tmp_path / "plan.xlsx"))
    lines = text.splitlines()
    assert lines[0] == f"# workbook: {len(SS.ORDER)} sheets"
    assert "<built_at>" in text and "2026-01-15" not in text
    cell_line = re.compile(r"^[^!|]+![A-Z]+[0-9]+ \| .* \| [^|]+ \| [^|]+ \| (locked|unlocked)$")
    start = lines.index("cells:")
    assert all(cell_line.match(li) for li in lines[start + 1:start + 20])
    assert any(li.startswith("Plan_Status = 'Start Here'!$B$") for li in lines)
    assert text == dump_workbook(write_golden_plan(tmp_path / "again.xlsx"))
