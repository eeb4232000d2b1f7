"""Consolidating a season of returned plans (the issue's "Done when").

One season (tests/season.py: 40 schools, balanced plans and one of each common mistake) is
consolidated once through the command line, as the budget office runs it; every test reads
that run's outputs. The totals are checked against an independent computation: the accepted
files' input cells read with openpyxl, costed from templates/policy.toml, summed with pandas
in whole cents.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import subprocess
import tomllib
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from ssfr_xl.exports import csv_text
from ssfr_xl.libreoffice import missing_tool_reason
from ssfr_xl.school_book import file_name, plan_specs
from ssfr_xl.season import create_district
from ssfr_xl.totals_book import SHEETS
from ssfr_xl.validate import district_record
from tests.season import (
    FORMULA_TEXT,
    RECEIVED,
    Season,
    assert_exit,
    cents,
    make_season,
    read_inputs,
    ssfr,
    varied_plan,
    write_plan,
)

ROOT = Path(__file__).resolve().parents[1]
POLICY = tomllib.loads((ROOT / "templates" / "policy.toml").read_text(encoding="utf-8"))


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """sha256 and mtime (ns) of every entry under a folder, sub-folders included."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st = p.stat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        out[str(p.relative_to(folder))] = (digest, st.st_mtime_ns)
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@dataclass
class Run:
    """One consolidate run over the season and what it left."""

    season: Season
    result: subprocess.CompletedProcess[str]
    totals: Path
    exports: Path
    before: dict[str, tuple[str, int]]
    after: dict[str, tuple[str, int]]

    def csv(self, name: str) -> list[dict[str, str]]:
        return read_csv(self.exports / f"{name}.csv")


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> Season:
    return make_season(tmp_path_factory.mktemp("season"),
                       libreoffice=missing_tool_reason() is None)


@pytest.fixture(scope="module")
def done(season: Season) -> Run:
    before = snapshot(season.returned)
    totals, exports = season.root / "out" / "totals.xlsx", season.root / "exports"
    totals.parent.mkdir()  # outputs go only into folders that exist
    result = ssfr("consolidate", season.district, season.returned, "--out", totals,
                 "--exports", exports)
    return Run(season, result, totals, exports, before, snapshot(season.returned))


# --- status and findings --------------------------------------------------------------------

def test_exit_code_1_with_rejected_and_missing_schools(done: Run) -> None:
    assert_exit(done.result, 1)
    expected = Counter(done.season.schools.values())
    assert (f"40 schools: {expected['accepted']} accepted, "
            f"{expected['accepted with warnings']} accepted with warnings, "
            f"{expected['rejected']} rejected, {expected['missing']} missing") in done.result.stdout
    assert expected["missing"] == 2 and expected["rejected"] >= 6


def test_every_school_shows_its_true_status(done: Run) -> None:
    season = done.season
    rows = done.csv("status")
    assert [r["school_id"] for r in rows] == [s.school_id for s in season.record.inputs.schools]
    got = {r["school_id"]: r["status"] for r in rows}
    assert got == season.schools
    assert got[season.roles["missing"]] == "missing"
    assert got[season.roles["name-owner"]] == "missing"  # its file name holds another school
    assert got[season.roles["wrong-name"]] == "accepted with warnings"
    assert got[season.roles["resubmitted"]] == "rejected"  # two files and no ledger
    for role in ("over-budget", "formula", "text-fte", "unknown-fund", "restricted"):
        assert got[season.roles[role]] == "rejected", role
    assert got[season.roles["formula-text"]] == "accepted"
    by_id = {r["school_id"]: r for r in rows}
    for f in season.files.values():  # the file a school is known by is one of its own
        if season.schools[f.school_id] != "missing":
            assert by_id[f.school_id]["file"] in {g.name for g in season.files.values()
                                                  if g.school_id == f.school_id}


@pytest.mark.libreoffice
def test_a_plan_saved_by_libreoffice_is_accepted(done: Run, soffice: str) -> None:
    sid = done.season.roles.get("libreoffice")
    assert sid is not None, "the season was built without LibreOffice"
    status = {r["school_id"]: r["status"] for r in done.csv("status")}
    assert status[sid] == "accepted"
    expected = done.season.files_of("libreoffice")[0]
    assert expected.status == "accepted"
    app = _application(done.season.path(expected.name))
    assert "LibreOffice" in app or "OpenOffice" in app, app


def _application(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return z.read("docProps/app.xml").decode("utf-8", "replace")


def test_each_problem_has_its_code_sheet_and_cell(done: Run) -> None:
    findings: dict[str, set[tuple[str, str, str]]] = {}
    severities = {}
    for r in done.csv("findings"):
        findings.setdefault(r["file"], set()).add((r["code"], r["sheet"], r["cell"]))
        severities[r["code"]] = r["severity"]
    expected = {name: f.findings for name, f in done.season.files.items() if f.findings}
    assert findings == expected
    for code in ("over-allocation", "formula-overwritten", "not-a-number", "unknown-fund",
                 "restricted-object", "duplicate-school"):
        assert severities[code] == "error", code
    for code in ("file-name-mismatch",):
        assert severities[code] == "warning", code


def test_messages_name_the_cell_and_the_other_file(done: Run) -> None:
    season = done.season
    rows = done.csv("findings")
    over = next(r for r in rows if r["code"] == "over-allocation")
    assert "Summary!F6" in over["message"] and "$" in over["message"]
    dupes = [r for r in rows if r["code"] == "duplicate-school"]
    names = sorted(f.name for f in season.files_of("resubmitted"))
    assert len(dupes) == 2
    for r in dupes:
        assert all(n in r["message"] for n in names), r["message"]
    mismatch = next(r for r in rows if r["code"] == "file-name-mismatch")
    assert season.roles["name-owner"] in mismatch["message"]
    assert season.roles["wrong-name"] in mismatch["message"]


def test_files_lists_every_entry_of_the_folder(done: Run) -> None:
    season = done.season
    rows = {r["file"]: r for r in done.csv("files")}
    assert set(rows) == {p.name for p in season.returned.iterdir()}
    for name in season.ignored:
        assert rows[name]["status"] == "ignored", name
        assert rows[name]["use"], name
    assert {"old versions", ".DS_Store"} <= set(season.ignored)
    assert any(n.startswith("~$") for n in season.ignored)
    for name, f in season.files.items():
        assert rows[name]["status"] == f.status, name
        assert rows[name]["school_id"] == f.school_id, name
        counted = rows[name]["use"] == "counted in the totals"
        assert counted == f.status.startswith("accepted"), name
        assert rows[name]["sha256"] == hashlib.sha256(season.path(name).read_bytes()).hexdigest()


def test_reconciliation_is_all_ok_and_counts_are_right(done: Run) -> None:
    season = done.season
    rows = {r["check"]: r for r in done.csv("reconciliation")}
    statuses = Counter(season.schools.values())
    n_accepted_files = len(season.accepted_paths())
    expected = {
        "Schools in the district": 40,
        "Schools accepted": statuses["accepted"],
        "Schools accepted with warnings": statuses["accepted with warnings"],
        "Schools rejected": statuses["rejected"],
        "Schools missing": statuses["missing"],
        "Files read": len(season.files),
        "Files counted in the totals": n_accepted_files,
        "Files superseded by newer versions": 0,
        "Files not counted (rejected, duplicates, unknown)": len(season.files) - n_accepted_files,
        "Entries ignored (lock files, hidden files, sub-folders)": len(season.ignored),
    }
    assert {k: int(rows[k]["value"]) for k in expected} == expected
    results = [r["result"] for r in rows.values() if r["result"]]
    assert results.count("OK") == 3
    assert all(r == "OK" or r.startswith("rounding ") for r in results), results
    assert "Schools without a counted file" not in rows


# --- totals, independently ------------------------------------------------------------------

JOBS = {j["code"].casefold(): j for j in POLICY["job_class"]}
SERVICES = {s["code"].casefold(): s for s in POLICY["service"]}
FUNDS = [f["code"] for f in POLICY["fund"]]


def _blank(v: object) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def independent_lines(season: Season) -> pd.DataFrame:
    """Every line of every accepted file, costed from policy.toml, amounts in whole cents."""
    records = []
    for path in season.accepted_paths():
        school = season.files[path.name].school_id
        cells = read_inputs(path, season.policy)
        for r in cells["staffing"]:
            if all(_blank(r[k]) for k in ("job_class", "fte", "fund", "goal")):
                continue
            job = JOBS[_text(r["job_class"]).casefold()]
            fte = float(r["fte"])
            salary = cents(fte * job["average_salary"])
            cost = cents(fte * job["average_salary"] * (1 + job["benefits_rate"]))
            records.append(dict(school=school, kind="position", code=_text(r["job_class"]),
                                fund=_text(r["fund"]), goal=_text(r["goal"]), fte=fte,
                                quantity=0.0, cost=cost, object=job["object_code"],
                                salary=salary))
        for r in cells["services"]:
            if _blank(r["quantity"]):
                continue
            quantity = float(r["quantity"])
            if quantity == 0 and _blank(r["fund"]) and _blank(r["goal"]):
                continue
            service = SERVICES[_text(r["service"]).casefold()]
            records.append(dict(school=school, kind="service", code=_text(r["service"]),
                                fund=_text(r["fund"]), goal=_text(r["goal"]), fte=0.0,
                                quantity=quantity, cost=cents(quantity * service["unit_price"]),
                                object=service.get("object_code", "5710"), salary=Decimal(0)))
        for r in cells["other"]:
            if all(_blank(r[k]) for k in ("object", "fund", "goal", "description", "amount")):
                continue
            records.append(dict(school=school, kind="other", code=_text(r["object"]),
                                fund=_text(r["fund"]), goal=_text(r["goal"]), fte=0.0,
                                quantity=0.0, cost=cents(float(r["amount"])),
                                object=_text(r["object"]), salary=Decimal(0)))
    df = pd.DataFrame.from_records(records)
    df["cost_c"] = (df["cost"] * 100).map(int)
    df["salary_c"] = (df["salary"] * 100).map(int)
    return df


@pytest.fixture(scope="module")
def lines(season: Season) -> pd.DataFrame:
    return independent_lines(season)


def c(value: str) -> int:
    """A CSV amount in whole cents."""
    return int((Decimal(value) * 100).to_integral_value())


def test_district_totals_fund_by_object(done: Run, lines: pd.DataFrame) -> None:
    positions = lines[lines.kind == "position"]
    parts = [
        lines[lines.kind != "position"][["object", "fund", "cost_c"]].rename(
            columns={"cost_c": "c"}),
        positions[["object", "fund", "salary_c"]].rename(columns={"salary_c": "c"}),
        positions.assign(object="3000", c=positions.cost_c - positions.salary_c)[
            ["object", "fund", "c"]],
    ]
    split = pd.concat(parts)
    split["fund"] = split["fund"].str.upper()
    expected = split.groupby(["object", "fund"])["c"].sum()
    rows = done.csv("district_totals")
    got = {}
    for r in rows[:-1]:
        for f in FUNDS:
            if c(r[f]):
                got[(r["object"], f)] = c(r[f])
        assert c(r["total"]) == sum(c(r[f]) for f in FUNDS)
    assert got == {k: int(v) for k, v in expected.items() if v}
    total = rows[-1]
    assert total["object"] == "Total"
    for f in FUNDS:
        assert c(total[f]) == int(split[split.fund == f]["c"].sum()), f
    assert c(total["total"]) == int(lines.cost_c.sum())


def test_by_school_planned_per_fund(done: Run, lines: pd.DataFrame) -> None:
    season = done.season
    planned = lines.assign(fund=lines.fund.str.upper()).groupby(["school", "fund"])["cost_c"].sum()
    rows = done.csv("by_school")
    assert len(rows) == 40 * len(FUNDS)
    for r in rows:
        sid, fund = r["school_id"], r["fund"]
        assert r["status"] == season.schools[sid]
        allocation = cents(season.specs[sid].fund_allocation(fund))
        assert c(r["allocation"]) == int(allocation * 100)
        if season.schools[sid].startswith("accepted"):
            want = int(planned.get((sid, fund), 0))
            assert c(r["planned"]) == want, (sid, fund)
            assert c(r["remaining"]) == int(allocation * 100) - want, (sid, fund)
        else:
            assert r["planned"] == "" and r["remaining"] == "", (sid, fund)


def test_positions(done: Run, lines: pd.DataFrame) -> None:
    pos = lines[lines.kind == "position"].assign(code=lambda d: d.code.str.upper())
    expected = pos.groupby(["school", "code"]).agg(fte=("fte", "sum"), cost=("cost_c", "sum"))
    rows = done.csv("positions")
    got = {(r["school_id"], r["job_class"]): (round(float(r["fte"]), 4), c(r["cost"]))
           for r in rows}
    assert got == {k: (round(v.fte, 4), int(v.cost)) for k, v in expected.iterrows()}
    titles = {j["code"]: j["title"] for j in POLICY["job_class"]}
    assert all(r["title"] == titles[r["job_class"]] for r in rows)


def test_central_services_demand(done: Run, lines: pd.DataFrame) -> None:
    sv = lines[lines.kind == "service"].assign(code=lambda d: d.code.str.upper())
    sv = sv.assign(dept=sv.code.map(lambda x: SERVICES[x.casefold()]["department"]))
    expected = sv.groupby(["dept", "code", "school"]).agg(q=("quantity", "sum"),
                                                          rev=("cost_c", "sum"))
    rows = done.csv("services_demand")
    got = {(r["department"], r["service"], r["school_id"]): (float(r["quantity"]),
                                                             c(r["revenue"])) for r in rows}
    assert got == {k: (v.q, int(v.rev)) for k, v in expected.iterrows()}
    for r in rows:
        assert float(r["unit_price"]) == SERVICES[r["service"].casefold()]["unit_price"]


def test_goals(done: Run, lines: pd.DataFrame) -> None:
    season = done.season
    planned = lines.assign(goal=lines.goal.str.upper()).groupby("goal")["cost_c"].sum()
    strategies: Counter[str] = Counter()
    for path in season.accepted_paths():
        goals = read_inputs(path, season.policy)["goals"]
        for g, r in zip(POLICY["goal"], goals, strict=True):
            if not _blank(r["strategy"]) and not _blank(r["measure"]):
                strategies[g["code"]] += 1
    rows = done.csv("goals")
    assert [r["goal"] for r in rows] == [g["code"] for g in POLICY["goal"]]
    for r in rows:
        assert c(r["planned"]) == int(planned.get(r["goal"], 0)), r["goal"]
        assert int(r["schools_with_a_strategy"]) == strategies[r["goal"]], r["goal"]


def test_lines_export_is_the_accepted_lines(done: Run, lines: pd.DataFrame) -> None:
    rows = done.csv("lines")
    assert len(rows) == len(lines)
    assert sum(c(r["amount"]) for r in rows) == int(lines.cost_c.sum())
    accepted = {p.name for p in done.season.accepted_paths()}
    assert {r["source_file"] for r in rows} == accepted


def test_totals_workbook_holds_the_same_tables(done: Run) -> None:
    wb = openpyxl.load_workbook(done.totals)
    for name, sheet in SHEETS.items():
        ws = wb[sheet]
        rows = list(csv.reader(open(done.exports / f"{name}.csv", newline="",
                                    encoding="utf-8")))
        values = [list(r) for r in ws.iter_rows(values_only=True)]
        assert len(values) == len(rows), sheet
        for got, want in zip(values[1:], rows[1:], strict=True):
            for g, w in zip(got, want, strict=True):
                w = w[1:] if w.startswith("'") else w
                if isinstance(g, int | float) and not isinstance(g, bool):
                    assert float(w) == pytest.approx(g, abs=1e-9), (sheet, got, want)
                else:
                    assert ("" if g is None else str(g)) == w, (sheet, got, want)


def test_every_totals_sheet_prints_on_letter_paper_one_page_wide(done: Run) -> None:
    """Print setup, read back as Excel would: US Letter, one page wide however long, the
    header row on every page, and a footer naming the district, the sheet and the page."""
    district = done.season.record.inputs.district.name
    wb = openpyxl.load_workbook(done.totals)
    assert wb.sheetnames == ["Season", *SHEETS.values()]
    for ws in wb.worksheets:
        header_row = 4 if ws.title == "Season" else 1
        assert int(ws.page_setup.paperSize) == 1, ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert (ws.page_setup.fitToWidth or 1) == 1 and int(ws.page_setup.fitToHeight) == 0
        assert ws.print_title_rows == f"${header_row}:${header_row}", ws.title
        assert ws.freeze_panes == f"A{header_row + 1}", ws.title
        assert ws.oddFooter.left.text == district.replace("&", "&&")
        assert ws.oddFooter.center.text == ws.title
        assert ws.oddFooter.right.text == "Page &P of &N"
        widths = [ws.column_dimensions[c].width for c in "ABCDEFGHIJKLM"[:ws.max_column]]
        labels = [str(c.value) for c in ws[header_row]]
        assert all(w >= max(len(word) for word in label.split()) + 2
                   for w, label in zip(widths, labels, strict=True)), (ws.title, widths)
    assert wb["Lines"].page_setup.orientation == "landscape"
    assert wb["Goals"].page_setup.orientation == "portrait"


def test_consolidate_in_process_when_stderr_is_not_a_file(done: Run) -> None:
    """Called in-process by a host that replaced sys.stderr (click's CliRunner, pytest's
    capsys, notebooks) while faulthandler is on (pytest turns it on), the plans must still be
    read: the readers' environment is not the files' fault."""
    import faulthandler

    from click.testing import CliRunner

    from ssfr_xl.cli import cli

    was_enabled = faulthandler.is_enabled()
    faulthandler.enable()
    try:
        result = CliRunner().invoke(cli, ["consolidate", str(done.season.district),
                                          str(done.season.returned), "--out",
                                          str(done.season.root / "in-process.xlsx")])
    finally:
        if not was_enabled:
            faulthandler.disable()
    summary = result.output.splitlines()[1]  # "40 schools: ... accepted, ... missing"
    assert summary == done.result.stdout.splitlines()[1]


# --- nothing lost ---------------------------------------------------------------------------

def test_returned_files_are_untouched(done: Run) -> None:
    assert done.after == done.before
    assert not [p for p in done.season.returned.iterdir() if p.name.endswith(".tmp")]


def test_same_inputs_same_numbers(done: Run) -> None:
    again = done.season.root / "again"
    again.mkdir()
    result = ssfr("consolidate", done.season.district, done.season.returned,
                 "--out", again / "totals.xlsx", "--exports", again / "exports")
    assert_exit(result, 1)
    first = sorted(p.name for p in done.exports.iterdir())
    assert first == sorted(p.name for p in (again / "exports").iterdir())
    assert "lines.csv" in first
    for name in first:
        assert (done.exports / name).read_bytes() == (again / "exports" / name).read_bytes(), name
    assert snapshot(done.season.returned) == done.before


def test_exit_0_when_every_school_is_accepted(tmp_path: Path) -> None:
    district = tmp_path / "district.xlsx"
    create_district(district, sample=4)
    record = district_record(district)
    returned = tmp_path / "returned"
    returned.mkdir()
    for i, spec in enumerate(plan_specs(record.result)):
        write_plan(spec, returned / file_name(spec.school), varied_plan(spec, seed=i),
                   received=RECEIVED + i)
    (returned / "~$lock.xlsx").write_bytes(b"lock")  # ignored entries do not make it unclean
    result = ssfr("consolidate", district, returned, "--out", tmp_path / "totals.xlsx")
    assert_exit(result, 0)
    assert "0 rejected, 0 missing" in result.stdout


def test_unwritable_output_exits_1_with_a_clear_message(done: Run, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    for args in (("--out", blocker / "totals.xlsx"),
                 ("--out", tmp_path / "totals.xlsx", "--exports", blocker / "exports")):
        result = ssfr("consolidate", done.season.district, done.season.returned, *args)
        assert_exit(result, 1)
        assert result.stderr.startswith("Error: Cannot write in "), result.stderr
        assert str(blocker) in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stdout == ""
    assert not (tmp_path / "totals.xlsx").exists()
    assert snapshot(done.season.returned) == done.before


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write in read-only folders")
def test_read_only_output_folder(done: Run, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = ssfr("consolidate", done.season.district, done.season.returned,
                     "--out", locked / "totals.xlsx")
        assert_exit(result, 1)
        assert result.stderr.startswith(f"Error: Cannot write in {locked}")
    finally:
        locked.chmod(0o700)


# --- text that could run as a formula -------------------------------------------------------

def _csv_cells(folder: Path) -> Iterator[tuple[str, str]]:
    for p in sorted(folder.glob("*.csv")):
        with open(p, newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                for v in row:
                    yield p.name, v


def test_no_csv_cell_can_run_as_a_formula(done: Run) -> None:
    for name, v in _csv_cells(done.exports):
        if v[:1] in ("=", "+", "@") or (v[:1] == "-" and not _is_number(v)):
            pytest.fail(f"{name}: {v!r} would run as a formula")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_numbers_stay_numbers_in_csv(done: Run) -> None:
    for name, v in _csv_cells(done.exports):
        assert not (v.startswith("'") and _is_number(v[1:])), (name, v)
    text = csv_text(["amount", "as_text", "note"], [[-252718.4, "-252718.40", "-5 days"]])
    assert text.splitlines()[1] == "-252718.4,-252718.40,'-5 days"


def test_plan_text_beginning_with_a_formula_sign_is_exported_as_text(done: Run) -> None:
    """Descriptions and notes typed by a principal reach lines.csv quoted, never runnable."""
    sid = done.season.roles["formula-text"]
    cells = [v for r in done.csv("lines") if r["school_id"] == sid for v in r.values()]
    for text in FORMULA_TEXT:
        assert "'" + text in cells, f"{text!r} is not in lines.csv"
        assert text not in cells
    wb = openpyxl.load_workbook(done.totals)
    found = {cell.value: cell.data_type for row in wb[SHEETS["lines"]].iter_rows()
             for cell in row if isinstance(cell.value, str) and cell.value in FORMULA_TEXT}
    assert set(found) == set(FORMULA_TEXT)
    assert set(found.values()) == {"s"}


def test_file_names_beginning_with_a_formula_sign(done: Run, tmp_path: Path) -> None:
    season = done.season
    returned = tmp_path / "returned"
    returned.mkdir()
    spec = next(iter(season.specs.values()))
    names = ['=HYPERLINK("x","y").txt', "+1 plan.txt", "-2 plan.txt"]
    for name in names:
        (returned / name).write_text("not a plan")
    write_plan(spec, returned / "@SUM(1).xlsx", varied_plan(spec, seed=3))
    result = ssfr("consolidate", season.district, returned, "--out", tmp_path / "t.xlsx",
                 "--exports", tmp_path / "exports")
    assert_exit(result, 1)
    for table in ("files", "findings"):
        listed = [r["file"] for r in read_csv(tmp_path / "exports" / f"{table}.csv")]
        for name in [*names, "@SUM(1).xlsx"]:
            if table == "findings" and name.startswith("@"):
                continue  # an accepted plan has no findings
            assert "'" + name in listed, (table, name)
    wb = openpyxl.load_workbook(tmp_path / "t.xlsx")
    cells = {cell.value: cell.data_type for row in wb["Files"].iter_rows() for cell in row}
    for name in [*names, "@SUM(1).xlsx"]:
        assert cells.get(name) == "s", name


def test_copying_the_folder_gives_the_same_totals(done: Run, tmp_path: Path) -> None:
    """Dates and paths do not enter the numbers: a copied folder totals the same."""
    copy = tmp_path / "copy"
    shutil.copytree(done.season.returned, copy)
    result = ssfr("consolidate", done.season.district, copy, "--out", tmp_path / "t.xlsx",
                 "--exports", tmp_path / "exports")
    assert_exit(result, 1)
    for name in ("district_totals", "by_school", "positions", "services_demand", "goals"):
        assert (tmp_path / "exports" / f"{name}.csv").read_bytes() == \
            (done.exports / f"{name}.csv").read_bytes(), name


def test_the_season_keeps_lines_without_their_typed_cells_unless_amending(season: Season
                                                                           ) -> None:
    """Each verdict a season holds (10,000 at state scale) keeps its lines' amounts, not the
    cells as typed; `build --amend`, which copies lines into amended plans, asks for them."""
    from ssfr_xl.consolidate import consolidate

    def lines(typed: bool) -> list:
        result = consolidate(season.record, season.returned, workers=1, typed=typed)
        return [li for c in result.checks if c.inputs is not None for li in c.inputs.lines]

    kept, typed = lines(False), lines(True)
    assert len(kept) == len(typed) > 50
    assert all(not li.raw for li in kept)
    assert sum(bool(li.raw) for li in typed) == len(typed)
    assert [li.amount for li in kept] == [li.amount for li in typed]
