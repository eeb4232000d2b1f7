"""Plans saved by LibreOffice and gnumeric read with the formulas those programs wrote.

A filled plan is saved through headless LibreOffice and through gnumeric's ssconvert; for every
formula cell the reader's formula_text must be what openpyxl reads from the same file (after
normalising whitespace, the case of function names and _xlfn. prefixes), both scan paths must
agree on every sheet, and the formulas must be the plan's own up to the respellings those
programs make (see respelled(): sheet-name quotes, FALSE(), number literals).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from ssfr_xl.layout import SchoolSheets as SS
from ssfr_xl.preflight import fast_scan, sheet_scan
from ssfr_xl.reader import Limits, RawWorkbook, read_many, read_workbook
from ssfr_xl.school_book import build_school_plan, plan_specs
from ssfr_xl.season import create_district
from ssfr_xl.sources.demo import demo_plan, fill_plan_workbook
from ssfr_xl.validate import district_record
from ssfr_xl.xlsx import save_atomically
from tests.corpus import openpyxl_formulas, sheet_part

# string literals and quoted sheet names are kept as written; elsewhere whitespace goes and
# function names are compared in upper case, without Excel's _xlfn. prefix
_QUOTED = re.compile(r'("(?:[^"]|"")*"|\'(?:[^\']|\'\')*\')')
_FUNCTION = re.compile(r"(?:_xlfn\.)?([A-Za-z_][A-Za-z0-9_.]*)\(")
_PLAIN_SHEET = re.compile(r"'([A-Za-z_][A-Za-z0-9_.]*)'!")


def normalised(text: str) -> str:
    """A formula with whitespace, function-name case and _xlfn. prefixes normalised."""
    parts = _QUOTED.split(text)
    for i in range(0, len(parts), 2):
        parts[i] = _FUNCTION.sub(lambda m: m[1].upper() + "(", re.sub(r"\s+", "", parts[i]))
    return "".join(parts)


def unquoted(text: str) -> str:
    """A formula with the quotes dropped from sheet names that do not need them."""
    return _PLAIN_SHEET.sub(r"\1!", text)


_NUMBER = re.compile(
    r"(?<![A-Za-z0-9_$.])([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)(?![A-Za-z0-9_(])")


def respelled(text: str) -> str:
    """A formula as LibreOffice and gnumeric may respell it, in one spelling.

    Observed: both drop the quotes of sheet names that need none ('Staffing'! -> Staffing!);
    LibreOffice writes the constants FALSE and TRUE as FALSE() and TRUE(), and numbers in its
    own way (1E-06 -> 0.000001); gnumeric writes 1E-06 as 1.00000000000000000004e-06 (the
    same double). Function names, case, spacing and everything else stay as written.
    """
    parts = _QUOTED.split(unquoted(text))
    for i in range(0, len(parts), 2):
        part = re.sub(r"\b(TRUE|FALSE)\(\)", r"\1", parts[i])
        parts[i] = _NUMBER.sub(lambda m: repr(float(m[1])), part)
    return "".join(parts)


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One school's plan, built and filled in (positions, services, spending, goals)."""
    root = tmp_path_factory.mktemp("parity")
    district = root / "district.xlsx"
    create_district(district, sample=6)
    spec = plan_specs(district_record(district).result)[1]
    wb = build_school_plan(spec)
    fill_plan_workbook(wb, spec.policy, demo_plan(spec))
    path = root / "plan.xlsx"
    save_atomically(wb, path)
    return path


@pytest.fixture(scope="module")
def libreoffice_saved(filled: Path, soffice: str,
                      tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ssfr_xl.libreoffice import recalculate

    (saved,) = recalculate([filled], tmp_path_factory.mktemp("libreoffice"))
    return saved


@pytest.fixture(scope="module")
def gnumeric_saved(filled: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ssconvert = shutil.which("ssconvert")
    if ssconvert is None:
        if os.environ.get("CI"):  # CI must prove the reader on gnumeric's files
            pytest.fail("CI is set but gnumeric's ssconvert is missing", pytrace=False)
        pytest.skip("gnumeric's ssconvert is not installed (apt-get install gnumeric)")
    saved = tmp_path_factory.mktemp("gnumeric") / "plan.xlsx"
    subprocess.run([ssconvert, "--recalc", str(filled), str(saved)], check=True,
                   capture_output=True, timeout=300)
    return saved


def check_saved(saved: Path, filled: Path, application: str) -> RawWorkbook:
    raw = read_workbook(saved)
    assert raw.application.lower().startswith(application)
    theirs = openpyxl_formulas(saved)
    for sheet in (SS.STAFFING, SS.SUMMARY):
        assert raw.formula_text[sheet], sheet  # the plan's formulas are all there
    for sheet, texts in raw.formula_text.items():
        assert {c: normalised(t) for c, t in texts.items()} == \
            {c: normalised(t) for c, t in theirs[sheet].items()}, sheet
        assert texts == theirs[sheet], sheet  # as written: not even normalising is needed
        assert raw.formulas[sheet] == set(texts), sheet
        assert raw.array_ranges[sheet] == {}, sheet
    # the plan's own formulas, respelled: see respelled()
    original = read_workbook(filled)
    for sheet, texts in original.formula_text.items():
        assert {c: respelled(t) for c, t in texts.items()} == \
            {c: respelled(t) for c, t in raw.formula_text[sheet].items()}, sheet
    # the fast path and expat read every sheet alike
    with zipfile.ZipFile(saved) as z:
        for sheet in raw.sheet_names:
            xml = z.read(sheet_part(saved, sheet))
            general = sheet_scan._SheetScan(Limits())
            general.feed(xml)
            facts = general.close()
            fast = fast_scan._scan_fast(xml, Limits())
            assert fast is None or fast == facts, sheet
            assert facts.formula_text == raw.formula_text[sheet], sheet
    # and isolated workers read the same
    ((_, isolated),) = read_many([saved], workers=1)
    assert isinstance(isolated, RawWorkbook)
    assert isolated.formula_text == raw.formula_text
    assert isolated.calc == raw.calc
    return raw


@pytest.mark.libreoffice
def test_a_plan_saved_by_libreoffice_reads_its_formula_text(libreoffice_saved, filled):
    raw = check_saved(libreoffice_saved, filled, "libreoffice")
    # LibreOffice 7.4 writes <calcPr iterateCount="100" refMode="A1" iterate="false" ...>
    assert raw.calc.get("iterate") in ("false", "0")


@pytest.mark.filterwarnings("ignore:Workbook contains no default style")  # openpyxl on gnumeric's
def test_a_plan_saved_by_gnumeric_reads_its_formula_text(gnumeric_saved, filled):
    raw = check_saved(gnumeric_saved, filled, "gnumeric")
    # gnumeric writes its iteration setting: <calcPr calcMode="auto" iterate="1" ...>
    assert raw.calc.get("calcMode") == "auto" and "iterate" in raw.calc
    with zipfile.ZipFile(gnumeric_saved) as z:
        staffing = z.read(sheet_part(gnumeric_saved, SS.STAFFING))
    assert b"\n" in staffing  # gnumeric indents its XML, and still takes the fast path
    assert fast_scan._scan_fast(staffing, Limits()) is not None


def test_normalised():
    assert normalised("_xlfn.stdev.p( A1 , 'Other Spending'!B2 )&\" a  b \"") == \
        "STDEV.P(A1,'Other Spending'!B2)&\" a  b \""
    assert unquoted("SUM('Staffing'!A1,'Other Spending'!B2)") == \
        "SUM(Staffing!A1,'Other Spending'!B2)"
    assert respelled("IF(ABS(D7-'Lists'!$A$4)>1E-06,FALSE,\"1E-06\")+INDEX(A1:B2,2,1)") == \
        respelled("IF(ABS(D7-Lists!$A$4)>1.00000000000000000004e-06,FALSE(),\"1E-06\")"
                  "+INDEX(A1:B2,2.0,1)")
    assert respelled('"1E-06"') != respelled('"0.000001"')  # text stays text
