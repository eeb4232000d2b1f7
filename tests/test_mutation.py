"""The differential tests' oracle, proved by mutation: change any one formula column by "+1"
and the comparison with the engine must fail, in LibreOffice and in gnumeric.

The oracle is tests/oracle.py: DistrictOracle (every computed cell of the district workbook
against formula.allocate and equity) and PlanOracle (every formula cell of a filled plan
against plan.evaluate), the very comparisons the differential tests make (test_district_book,
test_district_check, test_school_book). Here, for every formula column or formula cell group
of

  - a district workbook: the sample district under the shipped policy (every kind of
    component, a transition rule), with eligibility conditions ("all" and "any"), rate bands
    by level and by grades and adjustment lines added, so that every kind of Calculation,
    Allocations, Policy, Schools, Adjustments, Job Classes and Summary formula is there;
  - a filled school plan of that district (the demo plan: positions, services, other
    spending, goals): line costs, Check and helper columns, per-fund allocation, planned and
    remaining, totals, object groups, FTE, the Start Here status, the Lists sheet's costs;

a copy of the saved file is made with that group's formulas F turned into (F)+1 and, when any
of its cells shows text, another with (F)&"x" (the +1 of a text is an error value: both must
be caught). The copies are edited in the sheet XML, not written by ssfr-xl, so the test holds
whichever library writes the workbooks. All of them are recalculated in one batch per engine
(soffice converts them in a few runs, one at a time; ssconvert one file per process beside
it), and the oracle must report a difference at every mutated cell of every mutant. The
unmutated copies (controls) must agree everywhere.

Groups are derived from the declarations, never listed here: the district's formula cells are
district_formulas.computed_cells, the plan's are plan_math's plan_formulas plus the Lists
sheet's average cost (tests/oracle.py: plan_formula_cells), and both must be exactly the
formulas the saved files hold. A cell belongs to the column of its layout Table (one group per
column; the Scenarios sheet's working sheets by the columns of the sheets they copy), to its
field of a FieldBlock (Policy settings and their working copy, the Scenarios sheet's results,
Start Here), to a column of a table on
the district Summary (fund totals, component funds and totals), or else is a group of its own
on a Summary sheet (each figure: lowest, median, highest, equity statistics, totals) or of its
row elsewhere (the fund, unrestricted and counted rows above the Allocations table).

Deliberate exclusions: none. Not mutated because they hold no formula: the plan's Allocation
sheet and the Start Here fields other than Status (values of record, which validate compares
with the district), and constants of the arithmetic computed_cells lists (a foundation
driver of 1, a transition's 0 flag), which district_check compares by value.

`pytest -s tests/test_mutation.py` prints the mutants per workbook kind, how many each engine
caught and the seconds spent.
"""

from __future__ import annotations

import os
import re
import sys
import time
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.cell import column_index_from_string

from ssfr_xl import gnumeric, libreoffice, styles
from ssfr_xl.district_book import write_district
from ssfr_xl.district_formulas import computed_cells, summary_cells, summary_descriptions
from ssfr_xl.errors import FileError
from ssfr_xl.formula import allocate
from ssfr_xl.layout import (
    SCENARIO_RESULTS,
    SETTINGS,
    START_FIELDS,
    FieldBlock,
    SchoolLayout,
    Table,
    cell_address,
)
from ssfr_xl.layout import DistrictSheets as S
from ssfr_xl.layout import SchoolSheets as SS
from ssfr_xl.model import Adjustment, Condition, DistrictInputs, RateBand
from ssfr_xl.policy import check_policy
from ssfr_xl.school_book import build_school_plan, plan_specs
from ssfr_xl.sources.demo import demo_plan, fill_plan_workbook
from tests.helpers import read_book, require_ssconvert, sheet_parts
from tests.oracle import DistrictOracle, PlanOracle
from tests.test_district_book import sample_inputs

SCHOOLS = 6
#: soffice runs (half for the district's mutants, half for the plan's), so the files of a
#: finished run are compared while the next one converts; gnumeric converts beside them.
LIBREOFFICE_RUNS = 4
#: soffice processes at a time: one on a small machine (start-up is shared within a run, and
#: a second process would only compete for the same cores), two where there are cores to spare.
LIBREOFFICE_PROCESSES = 2 if (os.cpu_count() or 1) >= 4 else 1
#: ssconvert processes at a time (one file each).
GNUMERIC_PROCESSES = 2

PLUS_ONE = "+1"
TEXT = '&"x"'
CONTROL = "unchanged"

Cell = tuple[int, int]  # row, column


# --- the workbooks --------------------------------------------------------------------------


def mutation_inputs() -> DistrictInputs:
    """The sample district with conditions, rate bands and adjustment lines added."""
    inputs = sample_inputs(SCHOOLS)
    policy = inputs.policy
    changed = {
        "EL": dict(conditions=(Condition("share:el", ">", 0.1), Condition("level:High", "=", 1)),
                   eligible="any"),
        "EQM": dict(conditions=(Condition("unduplicated", ">=", 50),
                                Condition("share:frpm", ">", 0.3))),
        "SWD": dict(bands=(RateBand("Elementary", 0.2, level="Elementary"),
                           RateBand("High", 0.3, level="High"))),
        "POV": dict(bands=(RateBand("K-5", 0.1, first_grade="K", last_grade="5"),
                           RateBand("6-12", 0.14, first_grade="6", last_grade="12")),
                    basis=("enrollment",)),
    }
    components = tuple(replace(c, **changed.get(c.code, {})) for c in policy.components)
    assert set(changed) <= {c.code for c in components}
    adjustment = next(c.code for c in components if c.kind == "adjustment")
    schools = inputs.schools
    lines = (Adjustment(schools[0].school_id, adjustment, 12_345.67, "Hold harmless"),
             Adjustment(schools[2].school_id, adjustment, -2_500.0, "Baseline staffing"))
    inputs = replace(inputs, policy=replace(policy, components=components), adjustments=lines)
    d = inputs.district
    settings = {"base_rate_mode": d.base_rate_mode, "budget": d.budget,
                "transition_max_loss": d.transition_max_loss,
                "fte_step": inputs.policy.fte_step}
    assert check_policy(inputs.policy, settings, "mutation district") == []
    return inputs


def grid_of(wb: openpyxl.Workbook) -> dict[str, list[list[object]]]:
    """Every sheet's cell values from A1, as the plan's Python evaluation reads them."""
    return {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in wb.worksheets}


# --- groups of formula cells, from the layout -----------------------------------------------


@dataclass(frozen=True)
class Group:
    """Formula cells of one sheet mutated together."""

    kind: str  # district | plan
    name: str
    sheet: str
    cells: tuple[Cell, ...]
    text: bool  # some cell shows text (the engine's value)

    def addresses(self) -> set[str]:
        return {cell_address(r, c) for r, c in self.cells}


def _group_name(sheet: str, row: int, col: int, tables: Mapping[str, Table],
                blocks: Sequence[FieldBlock], headers: Mapping[int, Mapping[int, str]],
                singles: set[str], describe: Mapping[tuple[int, int], str]) -> str:
    for name, t in tables.items():
        if t.sheet == sheet and t.first_row <= row <= t.last_row \
                and t.first_col <= col < t.first_col + len(t.columns):
            return f"{name} {t.columns[col - t.first_col].key}"
    for k, b in enumerate(blocks):
        if b.sheet == sheet and col == b.value_col and b.first_row <= row <= b.last_row:
            key = b.fields[row - b.first_row].key
            return key if k == 0 else f"{b.sheet} {key}"
    if sheet in singles:
        above = [h for h in headers if h < row]
        if above:
            h = max(above)
            return f"{sheet} table below row {h}, column {headers[h].get(col, col)}"
        what = describe.get((row, col))
        return f"{sheet}!{cell_address(row, col)}" + (f" ({what})" if what else "")
    return f"{sheet} row {row}"


def make_groups(kind: str, cells: Iterable[tuple[str, int, int]], texts: set[tuple[str, int, int]],
                tables: Mapping[str, Table], blocks: Sequence[FieldBlock],
                headers: Mapping[int, Mapping[int, str]] | None = None,
                singles: set[str] | None = None,
                describe: Mapping[tuple[int, int], str] | None = None) -> list[Group]:
    """The formula cells grouped by layout column, field, Summary figure or row."""
    found: dict[tuple[str, str], list[Cell]] = {}
    for sheet, row, col in cells:
        name = _group_name(sheet, row, col, tables, blocks, headers or {}, singles or set(),
                           describe or {})
        found.setdefault((sheet, name), []).append((row, col))
    return [Group(kind, name, sheet, tuple(sorted(group)),
                  any((sheet, r, c) in texts for r, c in group))
            for (sheet, name), group in found.items()]


def _tables(layout: object) -> dict[str, Table]:
    return {name: t for name, t in vars(layout).items() if isinstance(t, Table)}


def district_groups(inputs: DistrictInputs, oracle: DistrictOracle) -> list[Group]:
    """Every formula of the district workbook (computed_cells), grouped."""
    layout = oracle.layout
    formulas = [(s, r, c) for s, r, c, v in computed_cells(inputs, layout)
                if isinstance(v, str)]
    headers: dict[int, dict[int, str]] = {}
    for put in summary_cells(layout):
        if put.style == styles.HEADER:
            headers.setdefault(put.row, {})[put.col] = str(put.value)
    # the Scenarios sheet's working sheets are laid out as Policy, Calculation, Allocations:
    # their cells group by the same columns and fields
    tables = _tables(layout)
    tables.update({f"working {name}": replace(t, sheet=S.SHADOWS[t.sheet])
                   for name, t in list(tables.items()) if t.sheet in S.SHADOWS})
    blocks = [SETTINGS, replace(SETTINGS, sheet=S.SCENARIO_POLICY), SCENARIO_RESULTS]
    return make_groups("district", formulas, _texts(oracle.expected), tables,
                       blocks, headers, {S.SUMMARY}, summary_descriptions(layout))


def plan_groups(oracle: PlanOracle) -> list[Group]:
    """Every formula of the plan workbook, grouped."""
    layout = SchoolLayout(oracle.spec.policy)
    return make_groups("plan", oracle.cells, _texts(oracle.expected), _tables(layout),
                       [START_FIELDS], singles={SS.SUMMARY})


def _texts(expected: Mapping[tuple[str, int, int], object]) -> set[tuple[str, int, int]]:
    return {where for where, e in expected.items() if isinstance(e.value, str)}


# --- mutating the saved file ----------------------------------------------------------------

_FORMULA = re.compile(rb'<c r="([A-Z]+)([0-9]+)"([^>]*)>(<f(?:\s[^>]*)?>)([^<]*)</f>')
_ANY_FORMULA = re.compile(rb'<c r="([A-Z]+)([0-9]+)"[^>]*>\s*<f\b')


def _cell(letters: bytes, digits: bytes) -> Cell:
    return int(digits), column_index_from_string(letters.decode())


def formula_cells_of(path: Path) -> set[tuple[str, int, int]]:
    """(sheet, row, column) of every cell holding a formula in a saved workbook."""
    with zipfile.ZipFile(path) as z:
        return {(sheet, *_cell(m.group(1), m.group(2)))
                for sheet, part in sheet_parts(z).items()
                for m in _ANY_FORMULA.finditer(z.read(part))}


def mutate_sheet(xml: bytes, cells: set[Cell], how: str) -> bytes:
    """The sheet XML with the formula F of each listed cell turned into (F)+1 or (F)&"x"."""
    suffix = b"+1" if how == PLUS_ONE else b'&amp;"x"'
    done: set[Cell] = set()

    def edit(m: re.Match[bytes]) -> bytes:
        cell = _cell(m.group(1), m.group(2))
        if cell not in cells:
            return m.group(0)
        assert b't="shared"' not in m.group(4) and b't="array"' not in m.group(4), m.group(0)
        done.add(cell)
        return (b'<c r="' + m.group(1) + m.group(2) + b'"' + m.group(3) + b">" + m.group(4)
                + b"(" + m.group(5) + b")" + suffix + b"</f>")

    out = _FORMULA.sub(edit, xml)
    missing = sorted(cells - done)
    assert not missing, f"no plain formula to mutate at {[cell_address(*c) for c in missing]}"
    return out


#: Print titles (rows and columns repeated on every printed page) of the workbook part.
#: LibreOffice spends about 0.9 s importing those of a district workbook, three quarters of
#: what it spends on the whole file; they are no arithmetic, so every copy here, the control
#: included, goes without them.
_PRINT_TITLES = re.compile(rb'<definedName name="_xlnm\.Print_Titles"[^>]*>[^<]*</definedName>')


def write_copy(src: Mapping[str, tuple[zipfile.ZipInfo, bytes]], out: Path,
               part: str | None = None, data: bytes = b"") -> Path:
    """The workbook's zip members written to `out`, one part replaced."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, (info, content) in src.items():
            z.writestr(info, data if name == part else content)
    return out


@dataclass(frozen=True)
class Mutant:
    """One mutated copy (or the control copy) of a workbook."""

    kind: str
    group: Group | None  # None: the control
    how: str
    path: Path

    @property
    def name(self) -> str:
        return CONTROL if self.group is None else f"{self.group.name} {self.how}"


def make_mutants(kind: str, source: Path, groups: Sequence[Group], out: Path) -> list[Mutant]:
    """The control copy, and for each group a +1 copy (and a &"x" copy when it shows text)."""
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(source) as z:
        members = {i.filename: (i, z.read(i.filename)) for i in z.infolist()}
        parts = sheet_parts(z)
    info, book = members["xl/workbook.xml"]
    members["xl/workbook.xml"] = (info, _PRINT_TITLES.sub(b"", book))
    mutants = [Mutant(kind, None, CONTROL, write_copy(members, out / f"{kind}-000-control.xlsx"))]
    for group in groups:
        for how in (PLUS_ONE, TEXT) if group.text else (PLUS_ONE,):
            part = parts[group.sheet]
            data = mutate_sheet(members[part][1], set(group.cells), how)
            path = out / f"{kind}-{len(mutants):03d}.xlsx"
            mutants.append(Mutant(kind, group, how, write_copy(members, path, part, data)))
    return mutants


# --- the run --------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What the oracle said about one engine's recalculation of one mutant."""

    differences: int = 0
    missed: list[str] = field(default_factory=list)  # mutated cells without a difference
    failed: str = ""  # the engine did not recalculate the file

    @property
    def caught(self) -> bool:
        return not self.failed and self.differences > 0 and not self.missed


@dataclass
class Prepared:
    """The workbooks, their oracles and groups, and the mutant files."""

    district: Path
    plan: Path
    oracles: dict[str, DistrictOracle | PlanOracle]
    groups: dict[str, list[Group]]
    mutants: list[Mutant]
    seconds: dict[str, float]


@dataclass
class Run:
    """Each mutant's outcome in each engine."""

    prepared: Prepared
    libreoffice: dict[Path, Outcome]
    gnumeric: dict[Path, Outcome]
    gnumeric_reason: str | None
    seconds: dict[str, float]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    root = tmp_path_factory.mktemp("mutation")
    began = time.monotonic()
    inputs = mutation_inputs()
    district = root / "district.xlsx"
    write_district(district, inputs)
    result = allocate(inputs)
    spec = plan_specs(result)[0]
    wb = build_school_plan(spec)
    fill_plan_workbook(wb, spec.policy, demo_plan(spec, seed=0))
    plan = root / "plan.xlsx"
    wb.save(plan)
    oracles = {"district": DistrictOracle(inputs, result),
               "plan": PlanOracle(spec, grid_of(openpyxl.load_workbook(plan)))}
    groups = {"district": district_groups(inputs, oracles["district"]),
              "plan": plan_groups(oracles["plan"])}
    mutants = (make_mutants("district", district, groups["district"], root / "mutants")
               + make_mutants("plan", plan, groups["plan"], root / "mutants"))
    return Prepared(district, plan, oracles, groups, mutants,
                    {"write and mutate": time.monotonic() - began})


def _outcome(mutant: Mutant, out: Path | None, why: str,
             oracles: Mapping[str, DistrictOracle | PlanOracle]) -> Outcome:
    if out is None:
        return Outcome(failed=why or "no output")
    differences = oracles[mutant.kind].differences(read_book(out))
    if mutant.group is None:
        return Outcome(len(differences), [str(d) for d in differences[:5]])
    seen = {d.address for d in differences if d.sheet == mutant.group.sheet}
    return Outcome(len(differences), sorted(mutant.group.addresses() - seen))


def _split(items: list[Mutant], n: int) -> list[list[Mutant]]:
    size = -(-len(items) // max(n, 1))
    return [items[i:i + size] for i in range(0, len(items), size)]


def _libreoffice(batch: list[Mutant], out: Path) -> tuple[list[Mutant], list[Path] | str, float]:
    start = time.monotonic()
    try:
        outs: list[Path] | str = libreoffice.recalculate([m.path for m in batch], out,
                                                         timeout=60 + 5 * len(batch))
    except FileError as e:
        outs = str(e)
    return batch, outs, time.monotonic() - start


@pytest.fixture(scope="module")
def run(prepared: Prepared, soffice: str, tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("recalculated")
    seconds: dict[str, float] = {}
    began = time.monotonic()
    mutants, oracles = prepared.mutants, prepared.oracles
    reason = gnumeric.missing_tool_reason()
    batches = [batch for kind in ("district", "plan")
               for batch in _split([m for m in mutants if m.kind == kind], LIBREOFFICE_RUNS // 2)]
    lo: dict[Path, Outcome] = {}
    gn: dict[Path, Outcome] = {}
    compare = 0.0
    with ThreadPoolExecutor(max_workers=LIBREOFFICE_PROCESSES) as lo_pool, \
            ThreadPoolExecutor(max_workers=1) as gn_pool:
        gn_job = None
        if reason is None:
            gn_job = gn_pool.submit(lambda: (time.monotonic(), gnumeric.recalculate_each(
                [m.path for m in mutants], root / "gnumeric", workers=GNUMERIC_PROCESSES),
                time.monotonic()))
        jobs = [lo_pool.submit(_libreoffice, batch, root / f"libreoffice-{i}")
                for i, batch in enumerate(batches)]
        # compare each soffice run's files while the next one converts
        for i, job in enumerate(as_completed(jobs)):
            batch, outs, spent = job.result()
            seconds[f"libreoffice run {i + 1} ({len(batch)} {batch[0].kind} files)"] = spent
            start = time.monotonic()
            for j, m in enumerate(batch):
                out = None if isinstance(outs, str) else outs[j]
                lo[m.path] = _outcome(m, out, outs if isinstance(outs, str) else "", oracles)
            compare += time.monotonic() - start
        seconds["libreoffice, all runs"] = time.monotonic() - began
        if gn_job is not None:
            gn_start, results, gn_end = gn_job.result()
            seconds["gnumeric"] = gn_end - gn_start
            start = time.monotonic()
            for m, (out, why) in zip(mutants, results, strict=True):
                gn[m.path] = _outcome(m, out, why, oracles)
            compare += time.monotonic() - start
    seconds["read and compare"] = compare
    seconds["recalculate and compare"] = time.monotonic() - began
    return Run(prepared, lo, gn, reason, seconds)


# --- the tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["district", "plan"])
def test_every_formula_of_the_saved_file_is_mutated(prepared: Prepared, kind: str) -> None:
    path = prepared.district if kind == "district" else prepared.plan
    mutated = {(g.sheet, r, c) for g in prepared.groups[kind] for r, c in g.cells}
    in_file = formula_cells_of(path)
    assert sorted(in_file - mutated) == [], "formulas of the file that no group mutates"
    assert sorted(mutated - in_file) == [], "declared formula cells the file does not hold"
    names = [g.name for g in prepared.groups[kind]]
    assert len(names) == len(set(names))


def test_groups_cover_what_the_user_reads(prepared: Prepared) -> None:
    names = {g.name for kind in prepared.groups for g in prepared.groups[kind]}
    for expected in ("calculation driver_BASE", "calculation cond_EL_0", "calculation pass_EQM",
                     "calculation band_SWD_1", "calculation protection", "allocations per_pupil",
                     "allocations change", "allocations change_share", "components total",
                     "bands rate_usd", "conditions passing", "solved_base_rate",
                     "adjustments status", "staffing cost", "funds remaining", "status",
                     "jobs average_cost"):
        assert expected in names, expected
    summary = [g for g in prepared.groups["district"] if g.sheet == S.SUMMARY]
    assert any("median" in g.name for g in summary)
    assert any("McLoone" in g.name for g in summary)
    assert any("column Total" in g.name for g in summary)
    assert any(g.text for g in prepared.groups["plan"])


def _failures(run: Run, outcomes: Mapping[Path, Outcome], engine: str) -> list[str]:
    out = []
    for m in run.prepared.mutants:
        o = outcomes[m.path]
        if o.failed:
            out.append(f"{m.kind} {m.name}: {engine} did not recalculate it: {o.failed}")
        elif m.group is None:
            if o.differences:
                out.append(f"{m.kind} control: {o.differences} difference(s): "
                           + "; ".join(o.missed))
        elif not o.differences:
            out.append(f"{m.kind} {m.name}: NOT CAUGHT (no difference at all)")
        elif o.missed:
            out.append(f"{m.kind} {m.name}: caught, but not at {', '.join(o.missed[:5])}"
                       + (f" and {len(o.missed) - 5} more" if len(o.missed) > 5 else ""))
    return out


@pytest.mark.libreoffice
def test_libreoffice_catches_every_mutant(run: Run) -> None:
    failures = _failures(run, run.libreoffice, "LibreOffice")
    assert not failures, "\n".join(failures)


@pytest.mark.libreoffice
def test_gnumeric_catches_every_mutant(run: Run) -> None:
    require_ssconvert()
    assert run.gnumeric, run.gnumeric_reason
    failures = _failures(run, run.gnumeric, "gnumeric")
    assert not failures, "\n".join(failures)


@pytest.mark.libreoffice
def test_summary(run: Run) -> None:
    """Mutants per workbook kind, caught by each engine, seconds (shown with -s)."""
    out = sys.stdout
    for kind in ("district", "plan"):
        ms = [m for m in run.prepared.mutants if m.kind == kind and m.group is not None]
        lo = sum(run.libreoffice[m.path].caught for m in ms)
        gn = sum(run.gnumeric[m.path].caught for m in ms) if run.gnumeric else 0
        out.write(f"\n{kind}: {len(run.prepared.groups[kind])} formula groups, {len(ms)} "
                  f"mutants; caught by LibreOffice {lo}, by gnumeric {gn}")
    seconds = {**run.prepared.seconds, **run.seconds}
    out.write("\nseconds: " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()) + "\n")
