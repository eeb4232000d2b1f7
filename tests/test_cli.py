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
    assert f"Wrote {out} ({len(rows):,} rows)" in result.output
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
