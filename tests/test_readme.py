"""The README is the user's manual: its first commands work, and it names every command and
every input of both workbooks.

    readme_names()          every `name` in the README's backticks
    documented(name, ...)   literally, or by a pattern: Rate_<CODE>, Span_Weight_1 ... _n
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.cell import range_boundaries

from ssfr_xl.cli import cli
from ssfr_xl.district_book import write_district
from ssfr_xl.formula import allocate
from ssfr_xl.model import DistrictInputs
from ssfr_xl.policy import load_policy
from ssfr_xl.school_book import build_school_plan, plan_specs
from ssfr_xl.sources import sample_district

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
_FENCE = re.compile(r"^```([A-Za-z]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def readme_text() -> str:
    """The README."""
    return README.read_text(encoding="utf-8")


def readme_names() -> set[str]:
    """Every `name` in the README's backticks, split at commas, spaces and ellipses."""
    names = set()
    for quoted in re.findall(r"`([^`\n]+)`", readme_text()):
        names.update(part for part in re.split(r"[,…\s]+", quoted) if part)
    return names


_PLACEHOLDER_TOKEN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(<[A-Z]+>[A-Za-z0-9_]*)+$")
_NUMBERED_TOKEN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*_n$")


def _pattern(token: str) -> re.Pattern[str] | None:
    """A regex for a documented name pattern (Rate_<CODE>, Span_Weight_n), else None.

    Only a name with literal text before the placeholder counts: prose such as `<fund>` in
    "Over budget in <fund>" documents nothing.
    """
    if _PLACEHOLDER_TOKEN.match(token):
        return re.compile(re.sub(r"<[A-Z]+>", "[A-Za-z0-9_.]+", token))
    if _NUMBERED_TOKEN.match(token):
        return re.compile(re.escape(token[:-2]) + r"_[0-9]+")
    return None


def documented(name: str, names: set[str]) -> bool:
    """A name is documented literally, or by a pattern such as Allocation_<FUND>."""
    if name in names:
        return True
    return any((p := _pattern(token)) is not None and p.fullmatch(name) for token in names)


def test_documented_understands_the_readme_patterns() -> None:
    names = {"Rate_<CODE>", "Span_Weight_1", "Span_Weight_n", "Budget", "Allocation_<FUND>",
             "<fund>", "<what>", "_n"}
    for name in ("Rate_POV", "Span_Weight_3", "Budget", "Allocation_LCFF_SC"):
        assert documented(name, names), name
    for name in ("Rates_POV", "Span_Weight_x", "Budgets", "Allocation", "Plan_School", "x_1"):
        assert not documented(name, names), name


# --- the first commands ------------------------------------------------------------------------


def first_block() -> tuple[str, list[str]]:
    """The README's first fenced block: (language, non-empty lines)."""
    m = _FENCE.search(readme_text())
    assert m is not None, "README has no fenced code block"
    return m.group(1), [line for line in m.group(2).splitlines() if line.strip()]


def test_readme_opens_with_two_shell_commands() -> None:
    text = readme_text()
    m = _FENCE.search(text)
    assert m is not None
    before = [line for line in text[:m.start()].splitlines() if line.strip()]
    assert before == ["# ssfr-xl"], "only the title comes before the first commands"
    language, lines = first_block()
    assert language in ("bash", "sh", "shell", "console")
    assert len(lines) == 2, lines
    install, tests = lines
    assert "pip install" in install and "build_workbooks.py" in install
    assert "pytest" in tests and "pip install" not in tests


def test_the_first_command_names_what_exists() -> None:
    (install, tests) = first_block()[1]
    extras = re.findall(r'pip install -e "\.\[([a-z,]+)\]"', install)
    assert extras, install
    optional = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
        "project"]["optional-dependencies"]
    for extra in extras[0].split(","):
        assert extra in optional, f"pip install extra [{extra}] is not in pyproject.toml"
    assert any(d.startswith("pytest") for d in optional["test"])
    assert (ROOT / "build_workbooks.py").is_file()
    venv = re.search(r"\. (\S+)/bin/activate", install)
    assert venv and f". {venv.group(1)}/bin/activate" in tests, "both use the same venv"


def test_build_workbooks_writes_what_the_readme_says(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, str(ROOT / "build_workbooks.py")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    for said in ("build/sample-district.xlsx", "build/allocations.csv", "build/plans/"):
        assert f"`{said}`" in readme_text(), said
        assert (tmp_path / said).exists(), said
    plans = list((tmp_path / "build" / "plans").glob("*.xlsx"))
    assert len(plans) == 40 and (tmp_path / "build" / "plans" / "manifest.csv").is_file()


# --- commands and names ------------------------------------------------------------------------


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_is_in_the_readme(command: str) -> None:
    assert re.search(rf"\bssfr-xl {re.escape(command)}\b", readme_text()), command


def input_names(path: Path) -> set[str]:
    """Defined names whose cells include at least one unlocked (input) cell."""
    wb = openpyxl.load_workbook(path)
    found = set()
    for name, dn in wb.defined_names.items():
        for sheet, ref in dn.destinations:
            ws = wb[sheet]
            min_col, min_row, max_col, max_row = range_boundaries(ref.replace("$", ""))
            cells = ws.iter_rows(min_row=min_row, max_row=max_row, min_col=min_col,
                                 max_col=max_col)
            if any(not c.protection.locked for row in cells for c in row):
                found.add(name)
    return found


@pytest.fixture(scope="module")
def workbooks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A sample district workbook and one of its school plans."""
    tmp = tmp_path_factory.mktemp("readme")
    pf = load_policy()
    info, schools = sample_district(6)
    inputs = DistrictInputs(pf.district(info.name, info.cds_code, schools), pf.policy,
                            tuple(schools))
    write_district(tmp / "district.xlsx", inputs)
    build_school_plan(plan_specs(allocate(inputs))[0]).save(tmp / "plan.xlsx")
    return {"district": tmp / "district.xlsx", "plan": tmp / "plan.xlsx"}


@pytest.mark.parametrize("book", ["district", "plan"])
def test_every_input_name_is_in_the_readme(workbooks: dict[str, Path], book: str) -> None:
    names = input_names(workbooks[book])
    assert len(names) >= (20 if book == "district" else 15)
    known = readme_names()
    assert sorted(n for n in names if not documented(n, known)) == []


# --- finding codes ---------------------------------------------------------------------------

_CODE_PATTERNS = (
    r'ReadProblem\(\s*"([a-z0-9-]+)"', r'\.(?:error|warning)\(\s*"([a-z0-9-]+)"',
    r'Rule\(\s*"([a-z0-9-]+)"', r'"(?:error|warning)",\s*"([a-z0-9-]+)"',
    r'\bcode\s*=\s*"([a-z0-9-]+)"', r'file_problem\(\s*[^,()]+,\s*"([a-z0-9-]+)"',
)


def test_every_finding_code_is_documented() -> None:
    """Every stable code the package can report appears in the README's Findings section."""
    codes = set()
    for source in (ROOT / "ssfr_xl").rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        for pattern in _CODE_PATTERNS:
            codes.update(re.findall(pattern, text))
    codes -= {"warning", "error", "damaged"}  # severities; "damaged" is the reader's own class
    assert len(codes) > 50
    names = readme_names()
    assert sorted(c for c in codes if c not in names) == []
