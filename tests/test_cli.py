"""The command line as a user meets it: help, exit codes, exact messages, outputs.

Exit codes (DESIGN.md): 0 done and clean; 1 done with errors, or a file/input error; 2 usage.
A user never sees a traceback: every failure is one "Error: ..." message.
"""

from __future__ import annotations

import csv
import inspect
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import click
import openpyxl
import pytest
from click.testing import CliRunner, Result

from ssfr_xl import __version__
from ssfr_xl.cli import cli
from ssfr_xl.district_book import read_district
from ssfr_xl.formula import allocate
from ssfr_xl.layout import DistrictLayout
from ssfr_xl.layout import DistrictSheets as S
from ssfr_xl.sources import read_roster_csv
from tests.helpers import recalc_and_read, sheet_parts

ROOT = Path(__file__).resolve().parents[1]
ROSTER = ROOT / "templates" / "roster.csv"
CSV_HEADER = "school_id,school_name,component,fund,amount"


def run(*args: object) -> Result:
    """Invoke ssfr-xl in-process, as a user would type it."""
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="ssfr-xl")


def assert_exit(result: Result, code: int) -> None:
    """The exit code is `code` and no exception escaped (a user would see a traceback)."""
    escaped = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert not escaped, f"{type(result.exception).__name__}: {result.exception}\n{result.output}"
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output


# --- help -------------------------------------------------------------------------------------


def test_top_level_help_lists_every_command() -> None:
    result = run("--help")
    assert_exit(result, 0)
    assert "Usage: ssfr-xl [OPTIONS] COMMAND" in result.output
    for name in cli.commands:
        assert re.search(rf"^\s+{name}\s", result.output, re.MULTILINE), name


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help_from_its_docstring(name: str) -> None:
    command = cli.commands[name]
    result = run(name, "--help")
    assert_exit(result, 0)
    assert result.output.startswith(f"Usage: ssfr-xl {name} ")
    doc = inspect.cleandoc(command.callback.__doc__ or "")
    assert doc, f"{name} has no docstring"
    flat = " ".join(result.output.split())
    assert " ".join(doc.splitlines()[0].split()) in flat  # the summary line, as written
    assert "Example" in result.output and f"ssfr-xl {name} " in result.output.split("Options:")[0]
    undocumented = [p.name for p in command.params if isinstance(p, click.Option) and not p.help]
    assert undocumented == []


def test_version() -> None:
    result = run("--version")
    assert_exit(result, 0)
    assert result.output == f"ssfr-xl, version {__version__}\n"


def test_python_dash_m_version() -> None:
    done = subprocess.run([sys.executable, "-m", "ssfr_xl", "--version"], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"ssfr-xl, version {__version__}\n"


# --- init -------------------------------------------------------------------------------------


def test_init_sample(tmp_path: Path) -> None:
    out = tmp_path / "district.xlsx"
    result = run("init", out, "--sample", "5")
    assert_exit(result, 0)
    assert result.output.startswith(f"Wrote {out}\n")
    assert "5 schools" in result.output
    assert len(read_district(out).schools) == 5


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "district.xlsx"
    assert_exit(run("init", out, "--sample", "3"), 0)
    before = out.read_bytes()

    result = run("init", out, "--sample", "4")
    assert_exit(result, 1)
    assert result.output == f"Error: {out} exists; pass --force to replace it.\n"
    assert out.read_bytes() == before

    assert_exit(run("init", out, "--sample", "4", "--force"), 0)
    assert len(read_district(out).schools) == 4


@pytest.mark.parametrize(("args", "message"), [
    ((), "Give exactly one of --sample, --roster or --cde."),
    (("--sample", "3", "--roster", ROSTER), "Give exactly one of --sample, --roster or --cde."),
    (("--roster", ROSTER, "--cde", ROSTER, "--district", "64881"),
     "Give exactly one of --sample, --roster or --cde."),
    (("--cde", ROSTER), "--cde needs --district CODE (the 5-digit district code)."),
    (("--sample", "3", "--district", "64881"), "--district and --prior go with --cde."),
    (("--sample", "0"), "0 is not in the range 1<=x<=5000"),
], ids=["no-source", "sample-and-roster", "roster-and-cde", "cde-without-district",
        "district-without-cde", "sample-zero"])
def test_init_usage_errors_exit_2(tmp_path: Path, args: tuple, message: str) -> None:
    out = tmp_path / "district.xlsx"
    result = run("init", out, *args)
    assert_exit(result, 2)
    assert result.output.startswith("Usage: ssfr-xl init [OPTIONS] DISTRICT_XLSX\n")
    assert message in result.output
    assert "Try 'ssfr-xl init --help' for help." in result.output
    assert not out.exists()


def test_init_from_the_roster_template(tmp_path: Path) -> None:
    out = tmp_path / "district.xlsx"
    result = run("init", out, "--roster", ROSTER)
    assert_exit(result, 0)
    expected = read_roster_csv(ROSTER)
    assert f"{len(expected):,} schools" in result.output
    assert read_district(out).schools == tuple(expected)


def test_bad_roster_lists_one_problem_per_line(tmp_path: Path) -> None:
    lines = ROSTER.read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split(",")
    bad = lines[2].split(",")
    bad[header.index("2")] = "x"  # a grade count that is not a number
    bad[header.index("prior_year_allocation")] = "abc"
    roster = tmp_path / "roster.csv"
    roster.write_text("\n".join([lines[0], lines[1], ",".join(bad)]) + "\n", encoding="utf-8")
    out = tmp_path / "district.xlsx"

    result = run("init", out, "--roster", roster)

    assert_exit(result, 1)
    first, *problems = result.output.rstrip("\n").splitlines()
    assert first == "Error: roster.csv has 2 problems:"
    assert len(problems) == 2
    assert problems[0].startswith("  roster.csv line 3, column '2': 'x' is not a number")
    assert problems[1].startswith(
        "  roster.csv line 3, column 'prior_year_allocation': 'abc' is not a number")
    assert not out.exists()


@pytest.mark.parametrize("content", [b"", b"\x00\xff\xfe garbage \x89PNG", "only,a,header\n",
                                     "school_id\n1234\n"], ids=["empty", "binary", "header",
                                                               "short-id"])
def test_hostile_rosters_give_a_message_not_a_traceback(tmp_path: Path, content) -> None:
    roster = tmp_path / "roster.csv"
    if isinstance(content, str):
        roster.write_text(content, encoding="utf-8")
    else:
        roster.write_bytes(content)
    result = run("init", tmp_path / "district.xlsx", "--roster", roster)
    assert_exit(result, 1)
    assert result.output.startswith("Error: roster.csv")


# --- allocate ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_workbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6-school district workbook as `ssfr-xl init --sample 6` writes it."""
    out = tmp_path_factory.mktemp("cli") / "district.xlsx"
    assert_exit(run("init", out, "--sample", "6"), 0)
    return out


def test_allocate_csv(sample_workbook: Path, tmp_path: Path) -> None:
    out = tmp_path / "allocations.csv"
    result = run("allocate", sample_workbook, "--csv", out)
    assert_exit(result, 0)  # openpyxl's file has no saved values: nothing to disagree with
    assert "no calculated values yet" in result.output

    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[0] == CSV_HEADER
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    inputs = read_district(sample_workbook)
    result_ = allocate(inputs)
    components = inputs.policy.components
    assert len(rows) == len(inputs.schools) * len(components)
    assert f"Wrote {out} and {tmp_path / 'allocations.xlsx'} ({len(rows):,} rows)" \
        in result.output
    pairs = {(r["school_id"], r["component"]) for r in rows}
    assert pairs == {(s.school_id, c.code) for s in inputs.schools for c in components}
    funds = {c.code: c.fund for c in components}
    names = {s.school_id: s.name for s in inputs.schools}
    bad_amounts = [r["amount"] for r in rows if not re.fullmatch(r"-?\d+\.\d\d", r["amount"])]
    assert bad_amounts == [], "amounts must be plain numbers with two decimals"
    engine = {(r.school_id, r.component): r.amount for r in result_.table().itertuples()}
    for r in rows:
        assert r["fund"] == funds[r["component"]]
        assert r["school_name"] == names[r["school_id"]]
        assert float(r["amount"]) == pytest.approx(engine[(r["school_id"], r["component"])],
                                                   abs=0.005)
    assert any(float(r["amount"]) < 0 for r in rows), "the sample has negative transition rows"


@pytest.fixture(scope="module")
def recalculated(soffice: str, sample_workbook: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample workbook after LibreOffice recalculated and saved it."""
    [book] = recalc_and_read([sample_workbook], tmp_path_factory.mktemp("recalc"))
    return book.path


def _replace_cell_xml(src: Path, out: Path, sheet: str, address: str, new_cell: str) -> Path:
    """Copy a workbook, replacing one cell's XML element (<c r="E6" ...>...</c>) in a sheet."""
    cell = re.compile(rf'<c r="{address}"[^>]*?(?:/>|>.*?</c>)', re.DOTALL)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        part = sheet_parts(zin)[sheet]
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == part:
                text, n = cell.subn(new_cell, data.decode("utf-8"), count=1)
                assert n == 1, f"{sheet}!{address} not found"
                data = text.encode("utf-8")
            zout.writestr(item, data)
    return out


@pytest.mark.libreoffice
def test_allocate_on_a_recalculated_workbook_agrees(recalculated: Path) -> None:
    result = run("allocate", recalculated)
    assert_exit(result, 0)
    inputs = read_district(recalculated)
    cells = len(inputs.schools) * (len(inputs.policy.components) + len(inputs.policy.funds))
    assert f"agree with the engine to the cent ({cells:,} cells)" in result.output


@pytest.mark.libreoffice
def test_allocate_names_a_cached_value_typed_over(recalculated: Path, tmp_path: Path) -> None:
    # The value LibreOffice saved for one amount is changed in the file's XML, as if the cell
    # had been typed over and the formula kept.
    inputs = read_district(recalculated)
    address = DistrictLayout.of(inputs).allocations.cell("amount_BASE", 1)
    with zipfile.ZipFile(recalculated) as z:
        xml = z.read(sheet_parts(z)[S.ALLOCATIONS]).decode("utf-8")
    original = re.search(rf'<c r="{address}"[^>]*>(.*?)</c>', xml, re.DOTALL).group(1)
    formula = re.search(r"<f[^>]*>.*?</f>", original).group(0)  # the formula stays
    edited = _replace_cell_xml(recalculated, tmp_path / "typed.xlsx", S.ALLOCATIONS, address,
                               f'<c r="{address}" t="n">{formula}<v>1234567.89</v></c>')
    result = run("allocate", edited)
    assert_exit(result, 1)
    assert f"{S.ALLOCATIONS}!{address}" in result.output
    assert "1234567.89" in result.output
    assert len(re.findall(rf"{S.ALLOCATIONS}!", result.output)) == 1  # that cell only


@pytest.mark.libreoffice
def test_allocate_names_a_formula_replaced_by_a_number(recalculated: Path,
                                                       tmp_path: Path) -> None:
    # A principal typed a number over a formula (the sheet unprotected first); openpyxl drops
    # the other cells' saved values on the way, which leaves this one to compare.
    inputs = read_district(recalculated)
    address = DistrictLayout.of(inputs).allocations.cell("amount_POV", 2)
    wb = openpyxl.load_workbook(recalculated)
    wb[S.ALLOCATIONS][address] = 99999.99
    wb.save(tmp_path / "overwritten.xlsx")
    result = run("allocate", tmp_path / "overwritten.xlsx")
    assert_exit(result, 1)
    assert f"{S.ALLOCATIONS}!{address}" in result.output
    assert "99999.99" in result.output


@pytest.mark.libreoffice
def test_allocate_names_an_error_value_saved_in_the_file(recalculated: Path,
                                                         tmp_path: Path) -> None:
    # A broken formula leaves an error value (#REF!, #VALUE!) where an amount should be; that
    # cell does not agree with the engine and must be reported, not skipped.
    inputs = read_district(recalculated)
    address = DistrictLayout.of(inputs).allocations.cell("amount_BASE", 0)
    edited = _replace_cell_xml(recalculated, tmp_path / "error.xlsx", S.ALLOCATIONS, address,
                               f'<c r="{address}" t="e"><f>#REF!*2</f><v>#REF!</v></c>')
    result = run("allocate", edited)
    assert_exit(result, 1)
    assert f"{S.ALLOCATIONS}!{address}" in result.output


@pytest.mark.parametrize(("name", "content", "message"), [
    ("notes.xlsx", b"just some text, not a workbook\n", "not an Excel workbook"),
    ("empty.xlsx", b"", "not an Excel workbook"),
    ("roster.csv", b"school_id,school_name\n", "not an Excel workbook"),
    ("other.xlsx", None, "not an ssfr-xl district workbook"),
], ids=["text", "empty", "csv", "other-workbook"])
def test_allocate_on_a_file_that_is_not_a_district_workbook(
        tmp_path: Path, name: str, content: bytes | None, message: str) -> None:
    path = tmp_path / name
    if content is None:
        wb = openpyxl.Workbook()
        wb.active["A1"] = "A budget, but not ssfr-xl's"
        wb.save(path)
    else:
        path.write_bytes(content)
    result = run("allocate", path)
    assert_exit(result, 1)
    first = result.output.splitlines()[0]
    assert first.startswith(f"Error: {name}") and message in first, result.output


@pytest.mark.parametrize("damage", ["defined-name", "metadata", "school-count", "sheet"])
def test_allocate_on_a_damaged_workbook_explains(sample_workbook: Path, tmp_path: Path,
                                                 damage: str) -> None:
    wb = openpyxl.load_workbook(sample_workbook)
    if damage == "defined-name":  # someone tidied up the Name Manager
        del wb.defined_names["Funds_Table"]
    elif damage == "metadata":  # the hidden sheet was unhidden and typed over
        meta = wb[S.META]
        row = next(r for r in range(1, 20) if meta.cell(r, 1).value == "structure")
        meta.cell(row, 2).value = "see the Policy sheet"
    elif damage == "school-count":
        meta = wb[S.META]
        row = next(r for r in range(1, 20) if meta.cell(r, 1).value == "n_schools")
        meta.cell(row, 2).value = "six"
    else:
        del wb[S.FUNDS]
    wb.save(tmp_path / "damaged.xlsx")
    result = run("allocate", tmp_path / "damaged.xlsx")
    assert_exit(result, 1)
    assert result.output.startswith("Error: damaged.xlsx")


def test_allocate_usage_errors(tmp_path: Path) -> None:
    result = run("allocate", tmp_path / "missing.xlsx")
    assert_exit(result, 2)
    assert "does not exist" in result.output
    result = run("allocate", tmp_path)
    assert_exit(result, 2)
    assert "is a directory" in result.output


# --- init: the district's real settings ---------------------------------------------------------

SHIPPED_WARNINGS = [
    "Warning: the district name is the sample's (Sample Unified School District): set --name, "
    "or name in the policy file's [district] section.",
    "Warning: the fiscal year is the sample's (2026-27): set --fiscal-year, or fiscal_year in "
    "the policy file's [district] section.",
    "Warning: the plan deadline is the sample's (2027-03-12): set --deadline, or plan_deadline "
    "in the policy file's [district] section.",
    "Warning: the budget contact on every school plan is the sample's (Budget Office, "
    "budget@sample.k12.ca.us, (555) 010-2000): set --contact, or contact in the policy file's "
    "[district] section.",
    "Warning: the budget is the sample's ($7,500 per pupil): set --budget or --budget-per-pupil, "
    "or budget or budget_per_pupil in the policy file's [district] section.",
]
REAL = ("--fiscal-year", "2025-26", "--deadline", "2025-03-14", "--contact",
        "Fiscal Services, budget@pusd.us, (626) 396-3600", "--name", "Pasadena Unified")


def plan_cell(plan: Path, name: str) -> object:
    """The value of a defined name's cell in a workbook."""
    wb = openpyxl.load_workbook(plan)
    ((sheet, ref),) = wb.defined_names[name].destinations
    return wb[sheet][ref.replace("$", "")].value


def test_init_options_set_what_every_plan_shows(tmp_path: Path) -> None:
    out = tmp_path / "district.xlsx"
    result = run("init", out, "--roster", ROSTER, *REAL, "--budget", "$12,500,000")
    assert_exit(result, 0)
    assert result.stderr == "", "every setting was given: no warning"
    d = read_district(out).district
    assert (d.name, d.fiscal_year, d.plan_deadline, d.contact, d.budget) == (
        "Pasadena Unified", "2025-26", "2025-03-14",
        "Fiscal Services, budget@pusd.us, (626) 396-3600", 12_500_000.0)
    assert "Budget (unrestricted): $12,500,000.00" in result.stdout
    sid = read_roster_csv(ROSTER)[0].school_id
    assert_exit(run("build", out, "--out", tmp_path / "plans", "--schools", sid), 0)
    (plan,) = (tmp_path / "plans").glob("*.xlsx")
    assert plan_cell(plan, "Plan_Contact") == "Fiscal Services, budget@pusd.us, (626) 396-3600"
    assert plan_cell(plan, "Plan_Deadline") == "2025-03-14"
    assert plan_cell(plan, "Plan_Fiscal_Year") == "2025-26"
    assert plan_cell(plan, "Plan_District") == "Pasadena Unified"


def test_init_budget_per_pupil_is_times_the_enrollment(tmp_path: Path) -> None:
    out = tmp_path / "district.xlsx"
    assert_exit(run("init", out, "--roster", ROSTER, *REAL, "--budget-per-pupil", "9800"), 0)
    pupils = sum(s.enrollment for s in read_roster_csv(ROSTER))
    assert read_district(out).district.budget == 9800 * pupils


def test_init_budget_per_pupil_replaces_a_policy_budget(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    text = (ROOT / "templates" / "policy.toml").read_text(encoding="utf-8")
    assert "budget_per_pupil = 7500\n" in text
    policy.write_text(text.replace("budget_per_pupil = 7500\n", "budget = 20000000\n"),
                      encoding="utf-8")
    out = tmp_path / "district.xlsx"
    result = run("init", out, "--roster", ROSTER, "--policy", policy, *REAL,
                 "--budget-per-pupil", "8000")
    assert_exit(result, 0)
    pupils = sum(s.enrollment for s in read_roster_csv(ROSTER))
    assert read_district(out).district.budget == 8000 * pupils
    out2 = tmp_path / "district2.xlsx"
    result = run("init", out2, "--roster", ROSTER, "--policy", policy, *REAL)
    assert_exit(result, 0)
    assert read_district(out2).district.budget == 20_000_000
    assert result.stderr == "", "a budget of the district's own is no sample value"


def test_init_warns_about_every_sample_setting_left(tmp_path: Path) -> None:
    out = tmp_path / "district.xlsx"
    result = run("init", out, "--roster", ROSTER)
    assert_exit(result, 0)  # warnings do not change the exit code
    assert result.stderr.splitlines() == SHIPPED_WARNINGS
    assert result.stdout.startswith(f"Wrote {out}\n") and "Warning" not in result.stdout


def test_init_warns_only_about_what_is_left(tmp_path: Path) -> None:
    result = run("init", tmp_path / "d.xlsx", "--roster", ROSTER, "--contact", "Budget, b@x.us",
                 "--budget", "5000000")
    assert_exit(result, 0)
    assert result.stderr.splitlines() == SHIPPED_WARNINGS[:3]


def test_init_trusts_a_value_given_on_the_command_line(tmp_path: Path) -> None:
    result = run("init", tmp_path / "d.xlsx", "--roster", ROSTER, "--budget-per-pupil", "7500",
                 "--fiscal-year", "2026-27")
    assert_exit(result, 0)
    assert result.stderr.splitlines() == [SHIPPED_WARNINGS[0], *SHIPPED_WARNINGS[2:4]]


def test_init_compares_values_not_the_policy_file(tmp_path: Path) -> None:
    """A copy of the shipped policy still carries the sample's values: warned; a changed one
    is not."""
    text = (ROOT / "templates" / "policy.toml").read_text(encoding="utf-8")
    copy = tmp_path / "copy.toml"
    copy.write_text(text, encoding="utf-8")
    result = run("init", tmp_path / "a.xlsx", "--roster", ROSTER, "--policy", copy)
    assert result.stderr.splitlines() == SHIPPED_WARNINGS
    own = tmp_path / "own.toml"
    own.write_text(text.replace('fiscal_year = "2026-27"', 'fiscal_year = "2025-26"')
                   .replace('plan_deadline = "2027-03-12"', 'plan_deadline = "2025-03-13"'),
                   encoding="utf-8")
    result = run("init", tmp_path / "b.xlsx", "--roster", ROSTER, "--policy", own)
    assert_exit(result, 0)
    assert result.stderr.splitlines() == [SHIPPED_WARNINGS[0], *SHIPPED_WARNINGS[3:]]


def test_init_sample_is_the_sample_without_warnings(tmp_path: Path) -> None:
    result = run("init", tmp_path / "d.xlsx", "--sample", "3")
    assert_exit(result, 0)
    assert result.stderr == ""
    result = run("init", tmp_path / "e.xlsx", "--sample", "3", "--fiscal-year", "2030-31")
    assert read_district(tmp_path / "e.xlsx").district.fiscal_year == "2030-31"


def test_the_name_from_a_cde_file_is_no_sample_value() -> None:
    from ssfr_xl.policy import load_policy
    from ssfr_xl.season import sample_settings_left

    shipped = load_policy().settings
    assert len(sample_settings_left(shipped)) == 5
    assert [w for w in sample_settings_left(shipped, name_from_data=True)
            if "name" in w.split(":")[0]] == []
    assert len(sample_settings_left(shipped, name_from_data=True)) == 4


@pytest.mark.parametrize(("args", "message"), [
    (("--budget", "1000000", "--budget-per-pupil", "9000"),
     "Error: --budget and --budget-per-pupil are two ways to give the budget: give one."),
    (("--deadline", "2025-02-30"), "Error: Invalid value for '--deadline': '2025-02-30' is not "
                                   "a date: write it as YYYY-MM-DD, e.g. 2027-03-12."),
    (("--deadline", "03/14/2025"), "'03/14/2025' is not a date"),
    (("--deadline", "2025-3-14"), "'2025-3-14' is not a date"),
    (("--fiscal-year", "2025-27"), "Error: Invalid value for '--fiscal-year': '2025-27' is not a "
                                   "fiscal year: write it as two consecutive years, e.g. "
                                   "2026-27."),
    (("--fiscal-year", "2025"), "'2025' is not a fiscal year"),
    (("--budget", "0"), "'0' is not a positive amount of dollars"),
    (("--budget", "-5"), "'-5' is not a positive amount of dollars"),
    (("--budget-per-pupil", "lots"), "'lots' is not a positive amount of dollars"),
    (("--budget", "nan"), "'nan' is not a positive amount of dollars"),
    (("--contact", "  "), "Error: Invalid value for '--contact': must not be empty."),
], ids=["both-budgets", "no-such-day", "us-date", "short-month", "years-apart", "one-year",
        "zero", "negative", "words", "nan", "blank-contact"])
def test_init_setting_errors_exit_2(tmp_path: Path, args: tuple, message: str) -> None:
    out = tmp_path / "district.xlsx"
    result = run("init", out, "--roster", ROSTER, *args)
    assert_exit(result, 2)
    assert message in result.output
    assert not out.exists()


def test_fiscal_year_across_a_century() -> None:
    result = CliRunner().invoke(cli, ["init", "x.xlsx", "--sample", "1", "--fiscal-year",
                                      "2099-00", "--help"])
    assert_exit(result, 0)


# --- allocate: the CSV, its twin, and standard output --------------------------------------------


def test_allocate_writes_a_spreadsheet_twin_with_ids_as_text(sample_workbook: Path,
                                                             tmp_path: Path) -> None:
    out = tmp_path / "allocations.csv"
    assert_exit(run("allocate", sample_workbook, "--csv", out), 0)
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    text = out.read_text(encoding="utf-8")
    first_id = rows[1][0]
    assert len(first_id) == 14 and first_id.startswith("0")
    assert f'\n"{first_id}",' in text, "ids a spreadsheet would change are quoted"
    ws = openpyxl.load_workbook(tmp_path / "allocations.xlsx").active
    twin = [[c.value for c in row] for row in ws.iter_rows()]
    assert twin[0] == rows[0]
    assert [r[:4] for r in twin[1:]] == [r[:4] for r in rows[1:]], "ids and names as text"
    assert all(isinstance(r[4], float | int) for r in twin[1:]), "amounts as numbers"
    assert [round(r[4], 2) for r in twin[1:]] == [float(r[4]) for r in rows[1:]]
    assert ws.freeze_panes == "A2" and ws["A1"].font.b


def test_allocate_csv_to_stdout(sample_workbook: Path, tmp_path: Path) -> None:
    assert_exit(run("allocate", sample_workbook, "--csv", tmp_path / "file.csv"), 0)
    result = run("allocate", sample_workbook, "--csv", "-")
    assert_exit(result, 0)
    assert result.stdout == (tmp_path / "file.csv").read_text(encoding="utf-8"), \
        "stdout holds the CSV and nothing else"
    assert "Wrote the allocation CSV to standard output" in result.stderr
    assert "Formulas: compared" in result.stderr


def test_allocate_csv_to_stdout_in_a_pipe(sample_workbook: Path, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "ssfr_xl", "allocate", str(sample_workbook),
                           "--csv", "-"], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(done.stdout.splitlines()))
    inputs = read_district(sample_workbook)
    assert len(rows) == len(inputs.schools) * len(inputs.policy.components)
    assert {r["school_id"] for r in rows} == {s.school_id for s in inputs.schools}
    assert "Formulas: compared" in done.stderr
    assert list(tmp_path.iterdir()) == [], "no file, no twin: the CSV went to the pipe"


def test_allocate_twin_never_replaces_the_district_workbook(sample_workbook: Path,
                                                            tmp_path: Path) -> None:
    district = tmp_path / "district.xlsx"
    district.write_bytes(sample_workbook.read_bytes())
    before = district.read_bytes()
    result = run("allocate", district, "--csv", tmp_path / "district.csv")
    assert_exit(result, 2)
    assert f"Error: --csv {tmp_path / 'district.csv'}: its spreadsheet twin {district} would " \
           "replace the district workbook. Give the CSV another name." in result.output
    assert district.read_bytes() == before and not (tmp_path / "district.csv").exists()


# --- outputs go only into folders that exist ------------------------------------------------


@pytest.fixture(scope="module")
def built(sample_workbook: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample's plans, as `ssfr-xl build` writes them."""
    plans = tmp_path_factory.mktemp("built") / "plans"
    assert_exit(run("build", sample_workbook, "--out", plans), 0)
    return plans


MISSING_FOLDER_CASES = {
    "init": (lambda d, p, n: ("init", n / "district.xlsx", "--sample", "2"),
             "district.xlsx", ""),
    "allocate": (lambda d, p, n: ("allocate", d, "--csv", n / "a.csv"), "a.csv", "--csv "),
    "build": (lambda d, p, n: ("build", d, "--out", n / "plans"), "plans", "--out "),
    "validate": (lambda d, p, n: ("validate", p, "--district", d, "--feedback", n / "fb"), "fb",
                 "--feedback "),
    "consolidate-out": (lambda d, p, n: ("consolidate", d, p, "--out", n / "t.xlsx"), "t.xlsx",
                        "--out "),
    "consolidate-exports": (lambda d, p, n: ("consolidate", d, p, "--out",
                                             n.parent.parent / "t.xlsx", "--exports", n / "ex"),
                            "ex", "--exports "),
}


@pytest.mark.parametrize("case", sorted(MISSING_FOLDER_CASES))
def test_an_output_in_a_missing_folder_is_an_error(sample_workbook: Path, built: Path,
                                                   tmp_path: Path, case: str) -> None:
    make_args, name, option = MISSING_FOLDER_CASES[case]
    missing = tmp_path / "no" / "such"
    before = sorted(tmp_path.rglob("*"))
    result = run(*make_args(sample_workbook, built, missing))
    assert_exit(result, 1)
    first = result.output.splitlines()[0]
    assert first.startswith(f"Error: Cannot write in {missing}: the folder does not exist. "
                            f"Create it first (mkdir -p {missing}) or choose another place for "
                            f"{option}{missing / name}."), result.output
    if name in ("plans", "fb", "ex"):
        assert first.endswith(f"ssfr-xl creates the folder {name} itself, but not the folders "
                              "above it.")
    assert sorted(tmp_path.rglob("*")) == before, "no folder was created"


def test_an_output_folder_is_created_when_its_parent_exists(sample_workbook: Path, built: Path,
                                                            tmp_path: Path) -> None:
    assert_exit(run("build", sample_workbook, "--out", tmp_path / "plans", "--schools",
                    built.glob("*.xlsx").__next__().name[:14]), 0)
    assert len(list((tmp_path / "plans").glob("*.xlsx"))) == 1
    result = run("consolidate", sample_workbook, built, "--out", tmp_path / "totals.xlsx",
                 "--exports", tmp_path / "exports")
    assert_exit(result, 1)  # the built plans are empty: not balanced
    assert (tmp_path / "exports" / "lines.csv").is_file()


def test_an_output_whose_folder_is_a_file(sample_workbook: Path, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    result = run("allocate", sample_workbook, "--csv", tmp_path / "afile" / "a.csv")
    assert_exit(result, 1)
    assert result.output == (f"Error: Cannot write in {tmp_path / 'afile'}: it is a file, not a "
                             f"folder. Choose another place for --csv "
                             f"{tmp_path / 'afile' / 'a.csv'}.\n")


# --- consolidate: exports and their twins -------------------------------------------------------


def test_consolidate_writes_an_xlsx_twin_of_every_export(sample_workbook: Path, built: Path,
                                                         tmp_path: Path) -> None:
    from ssfr_xl.totals_book import SHEETS

    exports = tmp_path / "exports"
    run("consolidate", sample_workbook, built, "--out", tmp_path / "totals.xlsx", "--exports",
        exports)
    assert sorted(p.name for p in exports.iterdir()) == sorted(
        f"{name}.{kind}" for name in SHEETS for kind in ("csv", "xlsx"))
    for name in SHEETS:
        with (exports / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        ws = openpyxl.load_workbook(exports / f"{name}.xlsx").active
        twin = [["" if c.value is None else c.value for c in row] for row in ws.iter_rows()]
        assert twin[0] == rows[0], name
        assert len(twin) == len(rows), name
        for got, want in zip(twin[1:], rows[1:], strict=True):
            for g, w in zip(got, want, strict=True):
                if isinstance(g, str):
                    assert g == w or "'" + g == w, (name, g, w)
                else:
                    assert g == pytest.approx(float(w)), (name, g, w)
    status = openpyxl.load_workbook(exports / "status.xlsx").active
    ids = [row[0].value for row in status.iter_rows(min_row=2)]
    assert ids and all(isinstance(i, str) and len(i) == 14 for i in ids)


def test_a_twin_in_the_returned_folder_is_ignored_not_rejected(sample_workbook: Path,
                                                               built: Path,
                                                               tmp_path: Path) -> None:
    assert_exit(run("allocate", sample_workbook, "--csv", tmp_path / "allocations.csv"), 0)
    result = run("validate", tmp_path / "allocations.xlsx", "--district", sample_workbook)
    assert_exit(result, 0)
    assert "ignored-entry" in result.output
    assert "the .xlsx twin of a CSV export written by ssfr-xl: not a plan" in result.output


def test_build_never_writes_outside_its_folder(sample_workbook: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import ssfr_xl.school_book

    monkeypatch.setattr(ssfr_xl.school_book, "file_name", lambda school: "../escaped.xlsx")
    result = run("build", sample_workbook, "--out", tmp_path / "plans")
    assert_exit(result, 1)
    assert "Cannot name a plan file ../escaped.xlsx inside" in result.output
    assert not (tmp_path / "escaped.xlsx").exists()
    assert list((tmp_path / "plans").iterdir()) == []


def test_a_reader_that_stops_early_is_no_internal_error(sample_workbook: Path,
                                                        internal_errors) -> None:
    """`ssfr-xl allocate d.xlsx --csv - | head -1`: the reader is gone before the CSV is."""
    proc = subprocess.Popen([sys.executable, "-m", "ssfr_xl", "allocate", str(sample_workbook),
                             "--csv", "-"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before ssfr-xl has written anything
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1
    assert "internal error" not in stderr and "Traceback" not in stderr, stderr
    assert internal_errors.take() == []
