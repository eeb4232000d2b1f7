"""Plan math declared once: the Python evaluation of every computed cell equals what LibreOffice
and gnumeric compute from the very same formulas, cell by cell, on ordinary and odd inputs.

The declarations (ssfr_xl.plan_math) render each cell's formula and evaluate in Python; these
tests prove the evaluator's semantics (blanks, text never turned into numbers, case-blind
comparisons, exact codes, wildcards, errors, rounding) against two independent engines.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from ssfr_xl.excel_expr import (
    NA,
    XlError,
    as_text,
    compare,
    excel_trim,
    fixed,
    match_exact,
    number_text,
)
from ssfr_xl.layout import START_FIELDS, SchoolLayout
from ssfr_xl.layout import SchoolSheets as SS
from ssfr_xl.libreoffice import recalculate
from ssfr_xl.plan import evaluate, evaluated_cells
from ssfr_xl.plan_math import plan_formulas
from ssfr_xl.reader import read_workbook
from ssfr_xl.school_book import build_school_plan, plan_specs
from ssfr_xl.season import create_district
from ssfr_xl.sources.demo import demo_plan, fill_plan_workbook
from ssfr_xl.validate import district_record
from ssfr_xl.xlsx import put_text, save_atomically

# --- the evaluator's semantics, by hand ------------------------------------------------------


def test_comparisons_follow_excel() -> None:
    assert compare(None, "") == 0 and compare(None, 0.0) == 0  # blank is "" and 0
    assert compare("gen", "GEN") == 0  # = ignores case
    assert compare(5.0, "5") == -1  # numbers sort before text; never equal
    assert compare("a", True) == -1 and compare(1.0, True) == -1
    assert isinstance(compare(NA, 1.0), XlError)


def test_text_of_numbers_and_trim() -> None:
    assert [number_text(x) for x in (4300.0, 0.1, 1e20, 1.5e-7, -2.5, 0.30000000000000004)] == [
        "4300", "0.1", "1E+20", "1.5E-07", "-2.5", "0.3"]
    assert as_text(True) == "TRUE" and as_text(None) == ""
    assert excel_trim("  a   b \u00a0") == "a b \u00a0"  # TRIM removes spaces only
    assert fixed(1234.565, 2) == "1,234.57" and fixed(-0.005, 2) == "-0.01"


def test_match_ignores_case_and_honours_wildcards() -> None:
    codes = ["GEN", "TITLE1", "G~X"]
    assert match_exact("gen", codes) == 1.0
    assert match_exact("T*", codes) == 2.0 and match_exact("GE?", codes) == 1.0
    assert match_exact("G~~X", codes) == 3.0
    assert match_exact(" GEN", codes) == NA and match_exact("", codes) == NA


# --- every computed cell against LibreOffice and gnumeric -------------------------------------

ODD_STAFFING = [  # (job class, FTE, fund, goal, note) typed on successive lines
    ("TCH", 1, "GEN", "G1", None),
    ("tch", 1, "GEN", "G1", "job class in another case"),
    ("TCH ", 0.5, "GEN", "G1", "trailing space"),
    ("TCH", 0.5, "GEN\u00a0", "G1", "non-breaking space in the fund"),
    ("TCH", 0.5, "G\u0415N", "G1", "Cyrillic E in the fund"),
    ("TCH", "0.5", "GEN", "G1", "FTE stored as text"),
    ("TCH", "=1/2", "GEN", "G1", "text that looks like a formula"),
    ("TCH", -0.5, "GEN", "G1", None),
    ("TCH", 1.5, "GEN", "G1", None),
    ("TCH", 0.25, "GEN", "G1", "off the step"),
    ("TCH", 0.30000000000000004, "GEN", "G1", "binary fraction on the step"),
    ("TCH", dt.datetime(2020, 1, 1, 12), "GEN", "G1", "a date"),
    ("T*", 1, "GEN", "G1", "a wildcard"),
    (None, None, "GEN", None, None),
    (None, None, None, None, "a note alone"),
    ("TCH", 1, "TITLE1", "G2", None),
    ("TCH", 1, "G*", "G1", None),
    ("TCH", 0.1, "GEN", " ", None),
    (5, 1, "GEN", "G1", "a number as the code"),
    ("TCH", "#N/A", "GEN", "G1", "an error value"),
]
ODD_OTHER = [  # (object, fund, goal, description, amount)
    ("4300", "GEN", "G1", "books", 100.25),
    (4300, "GEN", "G1", "object typed as a number", 10),
    ("4300", "GEN", "G1", "fraction of a cent", 10.005),
    ("4300", "GEN", "G1", "negative", -5),
    ("4300", "gen", "G1", "fund in lower case", 20),
    ("6400", "TITLE1", "G2", "equipment on Title I", 5000),
    (None, None, None, "a description alone", None),
    ("4300", "GEN", "G1", "amount as text", "100"),
    ("9999", "GEN", "G1", "unknown object", 75),
]
ODD_SERVICES = [  # (extra line: service, quantity, fund, goal)
    ("PD-COACH", 2, "GEN", "G1"),
    ("pd-coach", 2, "GEN", "G1"),
    (None, 3, "GEN", "G1"),
    ("PD-COACH", -1, "GEN", "G1"),
    ("PD-COACH", 0, None, None),
    ("PD-COACH", "two", "TITLE1", "G1"),
]


@pytest.fixture(scope="module")
def odd_plan(tmp_path_factory: pytest.TempPathFactory):
    """A sample district and one plan filled with ordinary and odd inputs."""
    root = tmp_path_factory.mktemp("plan_math")
    district = root / "district.xlsx"
    create_district(district, sample=6)
    record = district_record(district)
    spec = plan_specs(record.result)[0]
    layout = SchoolLayout(spec.policy)
    wb = build_school_plan(spec)
    fill_plan_workbook(wb, spec.policy, demo_plan(spec))
    t = layout.staffing
    base = 40  # below the demo plan's positions
    for i, values in enumerate(ODD_STAFFING):
        for key, value in zip(("job_class", "fte", "fund", "goal", "note"), values,
                              strict=True):
            put_text(wb[t.sheet][t.cell(key, base + i)], value)
    o = layout.other
    for i, values in enumerate(ODD_OTHER):
        for key, value in zip(("object", "fund", "goal", "description", "amount"), values,
                              strict=True):
            put_text(wb[o.sheet][o.cell(key, 40 + i)], value)
    s = layout.services
    codes = {sv.code for sv in spec.policy.services}
    for i, (code, qty, fund, goal) in enumerate(ODD_SERVICES):
        row = layout.menu_rows + i
        code = code if code is None or code.upper() != "PD-COACH" or "PD-COACH" in codes \
            else code.replace("PD-COACH", sorted(codes)[0]).replace(
                "pd-coach", sorted(codes)[0].lower())
        for key, value in (("service", code), ("quantity", qty), ("fund", fund),
                           ("goal", goal)):
            wb[s.sheet][s.cell(key, row)] = value
    path = root / "odd.xlsx"
    save_atomically(wb, path)
    raw = read_workbook(path)
    allocation = record.allocations[spec.school.school_id]
    ev = evaluate(raw.values, spec.policy, allocation, layout, errors=raw.errors)
    return root, path, layout, evaluated_cells(ev, layout)


def _same(python: object, engine: object) -> bool:
    if python is None or python == "":
        return engine is None or engine == ""
    if isinstance(python, XlError):
        return isinstance(engine, str) and engine.startswith("#")
    if isinstance(python, bool):
        return engine is python or engine == python
    if isinstance(python, float):
        return isinstance(engine, int | float) and not isinstance(engine, bool) and \
            abs(python - engine) < 0.005
    return python == engine


def _compare_every_cell(engine_file: Path, layout: SchoolLayout, python: dict) -> list[str]:
    wb = openpyxl.load_workbook(engine_file, data_only=True)
    formulas = plan_formulas(layout.policy).cells
    differ = []
    for sheet, cells in formulas.items():
        ws = wb[sheet]
        for address in cells:
            mine, theirs = python[sheet][address], ws[address].value
            if not _same(mine, theirs):
                differ.append(f"{sheet}!{address}: python {mine!r}, engine {theirs!r}")
    return differ


def test_every_formula_cell_has_a_python_value(odd_plan) -> None:
    _root, _path, layout, python = odd_plan
    formulas = plan_formulas(layout.policy).cells
    assert {s: set(c) for s, c in formulas.items()} == {s: set(c) for s, c in python.items()}


@pytest.mark.libreoffice
def test_libreoffice_computes_every_cell_as_python_does(odd_plan, soffice: str) -> None:
    root, path, layout, python = odd_plan
    (out,) = recalculate([path], root / "lo")
    differ = _compare_every_cell(out, layout, python)
    assert differ == [], "\n".join(differ[:20])
    status = python[SS.START][START_FIELDS.cell("status")]
    assert status.startswith("Incomplete: ")  # the odd lines are flagged


def test_a_boolean_in_a_number_cell_is_never_counted(odd_plan, tmp_path: Path) -> None:
    """TRUE typed in FTE: Excel's ISNUMBER says no, so the plan's cost is 0 and validate
    rejects the line. gnumeric agrees (the declarations add NOT(ISLOGICAL(...))). LibreOffice
    reads a boolean in a cell formatted as a number as 1, so its Check column would say OK:
    the one known engine difference, and the reason validate rejects such files."""
    root, path, layout, _python = odd_plan
    wb = openpyxl.load_workbook(path)
    t = layout.staffing
    for key, value in (("job_class", "TCH"), ("fte", True), ("fund", "GEN"), ("goal", "G1")):
        wb[t.sheet][t.cell(key, 100)] = value
    boolean = tmp_path / "boolean.xlsx"
    wb.save(boolean)
    raw = read_workbook(boolean)
    record = district_record(root / "district.xlsx")
    from ssfr_xl.validate import check_plan

    check = check_plan(raw, record)
    assert ("true-false-value", t.sheet, t.cell("fte", 100)) in {
        (f.code, f.sheet, f.cell) for f in check.findings}
    assert check.status == "rejected"
    cells = evaluated_cells(check.inputs.evaluated, layout)
    assert cells[t.sheet][t.cell("cost", 100)] == 0.0
    out = tmp_path / "gnumeric.xlsx"
    subprocess.run([_ssconvert(), "--recalc", str(boolean), str(out)], check=True,
                   capture_output=True, timeout=300)
    assert _compare_every_cell(out, layout, cells) == []


def _ssconvert() -> str:
    found = shutil.which("ssconvert")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but gnumeric's ssconvert is missing", pytrace=False)
        pytest.skip("gnumeric (ssconvert) is not installed")
    return found


def test_gnumeric_computes_every_cell_as_python_does(odd_plan) -> None:
    root, path, layout, python = odd_plan
    out = root / "gnumeric.xlsx"
    subprocess.run([_ssconvert(), "--recalc", str(path), str(out)], check=True,
                   capture_output=True, timeout=300)
    differ = _compare_every_cell(out, layout, python)
    assert differ == [], "\n".join(differ[:20])


def test_sumif_compares_each_line_as_a_spreadsheet_does() -> None:
    """SUMIF decides each distinct criteria value once; 0.0, 0 and FALSE, "GEN" and "gen",
    "" and a blank must still be told apart as the spreadsheet does (compare())."""
    from ssfr_xl.excel_expr import Bool, Num, SumIf, Text, XlError, compare

    class Lines:
        def __init__(self, rows):
            self.rows = rows

        def lines(self, _table):
            return self.rows

    keys = [0.0, False, True, 1.0, "", None, "GEN", "gen", "GEN ", XlError("#N/A"), 0.0,
            False, "", None]
    rows = [{"k": k, "v": float(2 ** i)} for i, k in enumerate(keys)]
    env = Lines(rows)
    for criterion in (0.0, 1.0, False, True, "GEN", "", "#N/A"):
        expr = (Bool(criterion) if isinstance(criterion, bool) else
                Text(criterion) if isinstance(criterion, str) else Num(criterion))
        got = SumIf("t", "k", expr, "v").compile()(env)
        want = sum(r["v"] for r in rows if compare(r["k"], criterion) == 0)
        assert got == want, (criterion, got, want)
