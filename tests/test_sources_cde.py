"""CDE CUPC import: the real 2023-24 and 2024-25 files, and small synthetic workbooks."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from ssfr_xl.errors import FileError, RosterError
from ssfr_xl.model import GRADES, grade_index
from ssfr_xl.sources import read_cde_cupc
from ssfr_xl.sources.cde import CdeRoster, spread_enrollment
from tests.helpers import SHARED_DATA

DATA = SHARED_DATA
CUPC2425 = DATA / "cde" / "cupc2425-k12.xlsx"
CUPC2324 = DATA / "cde" / "cupc2324-k12.xlsx"

_skip_without_data = pytest.mark.skipif(
    not (CUPC2425.exists() and CUPC2324.exists()),
    reason=f"CDE CUPC files not found in {DATA / 'cde'} (a fresh clone has no ../shared/data)",
)


def needs_data(test: Callable[..., None]) -> Callable[..., None]:
    """Mark a test as reading ../shared/data and skip it when the folder is absent."""
    return pytest.mark.shared_data(_skip_without_data(test))


@functools.cache
def load(path: Path, code: str) -> CdeRoster:
    """read_cde_cupc, once per file and district for the whole test run."""
    return read_cde_cupc(path, code)


# --- the real files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "code", "name", "county", "year", "count"),
    [
        (CUPC2425, "64881", "Pasadena Unified", "19", "2024-2025", 23),
        (CUPC2324, "64881", "Pasadena Unified", "19", "2023-2024", 23),
        (CUPC2425, "64733", "Los Angeles Unified", "19", "2024-2025", 732),
        (CUPC2324, "64733", "Los Angeles Unified", "19", "2023-2024", 733),
        (CUPC2425, "76505", "Twin Rivers Unified", "34", "2024-2025", 41),
        (CUPC2324, "76505", "Twin Rivers Unified", "34", "2023-2024", 40),
    ],
)
@needs_data
def test_district_run_school_counts(
    path: Path, code: str, name: str, county: str, year: str, count: int
) -> None:
    roster = load(path, code)
    assert (roster.district_name, roster.county_code, roster.district_code) == (name, county, code)
    assert roster.academic_year == year
    assert len(roster.schools) == count
    ids = [s.school_id for s in roster.schools]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 14 and i.isdigit() and i.startswith(county + code) for i in ids)


@needs_data
def test_pasadena_skips_charters_and_pseudo_rows() -> None:
    roster = load(CUPC2425, "64881")
    reasons = {s.school_id: s.reason for s in roster.skipped}
    assert reasons["19648810000000"].startswith("pseudo-row")
    assert reasons["19648810000001"].startswith("pseudo-row")
    assert sum(r == "charter school" for r in reasons.values()) == 5
    assert not {s.school_id for s in roster.schools} & set(reasons)
    assert "Left out: 5 charter schools, 2 pseudo-rows (see skipped)." in roster.notes
    assert any(n.startswith("Grade counts are estimated") for n in roster.notes)
    assert any(n.startswith("No students-with-disabilities counts in CUPC") for n in roster.notes)


@needs_data
def test_pasadena_values_match_the_file() -> None:
    roster = load(CUPC2425, "64881")
    altadena = next(s for s in roster.schools if s.name == "Altadena Elementary")
    assert altadena.school_id == "19648816021505"
    assert (altadena.low_grade, altadena.high_grade, altadena.level) == ("K", "5", "Elementary")
    assert altadena.enrollment == 527
    assert altadena.enrollment_by_grade["TK"] == 0  # low grade K: no TK estimated
    assert [altadena.enrollment_by_grade[g] for g in ("K", "1", "5")] == [88, 88, 87]
    assert (altadena.frpm, altadena.el, altadena.foster, altadena.homeless) == (309, 38, 6, 6)
    assert (altadena.unduplicated, altadena.swd, altadena.grades_estimated) == (317, 0, True)
    blair = next(s for s in roster.schools if s.name == "Blair High")
    assert (blair.low_grade, blair.high_grade, blair.level) == ("6", "12", "Span")
    district = roster.district()
    assert (district.cds_code, district.fiscal_year, district.budget) == ("1964881", "2024-25", 0)


@needs_data
@pytest.mark.parametrize("path", [CUPC2425, CUPC2324])
def test_lausd_is_fast_and_every_spread_is_exact(path: Path) -> None:
    start = time.perf_counter()
    roster = read_cde_cupc(path, "64733")
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, f"reading LAUSD took {elapsed:.2f} s"
    assert 700 <= len(roster.schools) <= 760
    for s in roster.schools:
        lo, hi = grade_index(s.low_grade), grade_index(s.high_grade)
        served = [s.enrollment_by_grade[g] for g in GRADES[lo : hi + 1]]
        assert sum(served) == s.enrollment > 0
        assert max(served) - min(served) <= 1
        assert all(s.enrollment_by_grade[g] == 0 for g in GRADES[:lo] + GRADES[hi + 1 :])
        assert max(s.frpm, s.el, s.foster, s.homeless, s.unduplicated) <= s.enrollment
    marlton = next(s for s in roster.schools if s.name == "Marlton")
    assert marlton.low_grade == "TK" and marlton.enrollment_by_grade["TK"] > 0  # "P" in CUPC


@needs_data
def test_enrollment_totals_match_the_file() -> None:
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(str(CUPC2425)).get_sheet_by_name(
        "School-Level CALPADS UPC Data"
    )
    totals = {
        r[1] + r[2] + r[3]: int(r[16])
        for r in rows.to_python()[2:]
        if r[2] == "76505" and r[10].strip() in ("No", "N")
    }
    roster = load(CUPC2425, "76505")
    assert {s.school_id: s.enrollment for s in roster.schools} == totals


@needs_data
def test_county_code_keeps_its_leading_zero() -> None:
    roster = load(CUPC2425, "61119")  # Alameda Unified, county 01
    assert roster.county_code == "01"
    assert roster.schools and all(s.school_id.startswith("0161119") for s in roster.schools)


@needs_data
@pytest.mark.parametrize("code", ["1964881", "19648810000000", 64881])
def test_other_spellings_of_the_district_code(code: object) -> None:
    assert len(read_cde_cupc(CUPC2425, code).schools) == 23  # type: ignore[arg-type]


@needs_data
def test_unknown_district_suggests_close_matches() -> None:
    with pytest.raises(RosterError) as info:
        read_cde_cupc(CUPC2425, "64883")
    message = str(info.value)
    assert message.startswith("There is no district with code 64883 in cupc2425-k12.xlsx;")
    assert "64881 Pasadena Unified (Los Angeles)" in message
    assert message.endswith("pass the 5-digit District Code from the file's District Code column.")


@needs_data
def test_a_name_instead_of_a_code_lists_districts_by_name() -> None:
    with pytest.raises(RosterError) as info:
        read_cde_cupc(CUPC2425, "Pasadena")
    assert str(info.value) == (
        "'Pasadena' is not a district code; districts that may be meant: 64881 Pasadena Unified "
        "(Los Angeles), 65029 South Pasadena Unified (Los Angeles) — pass the 5-digit District "
        "Code from the file's District Code column."
    )


# --- synthetic workbooks --------------------------------------------------------------------------

HEADERS = [
    "Academic Year", "County Code", "District Code", "School Code", "County Name",
    "District Name", "School Name", "District Type", "School Type", "Educational \nOption Type",
    "Charter \nSchool \n(Y/N)", "Charter Number", "Charter Funding Type", "IRC", "Low Grade",
    "High Grade", "Total \nEnrollment", "Free &\nReduced\nMeal\nProgram", "Foster",
    "Tribal Foster Youth", "Homeless", "Migrant\nProgram", "Direct Certification",
    "Unduplicated\nFRPM Eligible \nCount", "English \nLearner \n(EL)",
    "CALPADS Unduplicated \nPupil Count\n(UPC)", "CALPADS Fall 1 \nCertification Status \n(Y/N)",
]  # fmt: skip


def cupc_row(
    school: object,
    name: str,
    charter: str = "No ",
    low: object = "K",
    high: object = "5",
    total: float = 100.0,
    school_type: str = "Elementary Schools (Public)",
    county: object = "01",
    district: object = "99999",
) -> list[object]:
    """A CUPC school row; need counts are fixed shares of the total."""
    return [
        "2024-2025", county, district, school, "Alameda", "Test Unified",
        name, "Unified School District", school_type, "Traditional", charter, "N/A", "N/A", "N",
        low, high, total, total // 2, 1.0, 0.0, 2.0, 0.0, 10.0, total // 2, total // 4,
        total // 2 + 3, "Y",
    ]  # fmt: skip


def workbook(tmp_path: Path, rows: list[list[object]], *, title: bool = True, sheet: str | None
             = "School-Level CALPADS UPC Data") -> Path:  # fmt: skip
    """An xlsx laid out like CDE's (title page, title row) or the trimmed 2023-24 copy."""
    wb = openpyxl.Workbook()
    ws = wb.active
    if title:
        ws.title = "Title Page"
        ws.append(["CALPADS Unduplicated Pupil Counts (UPC) for Grades TK-12"])
        lea = wb.create_sheet("LEA-Level CALPADS UPC Data")
        lea.append(HEADERS)
        ws = wb.create_sheet(sheet or "Sheet1")
        ws.append([sheet or ""])
    elif sheet:
        ws.title = sheet
    ws.append(HEADERS)
    for r in rows:
        ws.append(r)
    path = tmp_path / "cupc.xlsx"
    wb.save(path)
    return path


def test_synthetic_rows_and_skips(tmp_path: Path) -> None:
    rows = [
        cupc_row(0, "District Office", charter="N/A", low="K", high="Adult"),
        cupc_row(1, "Nonpublic, Nonsectarian Schools", charter="N/A", low="N/A", high="N/A"),
        cupc_row("0100001", "Charter Prep", charter="Yes"),
        cupc_row("0100002", "Other Charter", charter="Y"),
        cupc_row("0100003", "Empty Elementary", total=0.0),
        cupc_row(100004, "Numeric Code Elementary", charter="N", county=1, district=99999),
        cupc_row("0100005", "Adult Transition", low="12", high="Adult", total=7.0,
                 school_type="Special Education Schools (Public)"),
        cupc_row("0100006", "Preschool Elementary", low="P", high="5", total=71.0),
        cupc_row("0100007", "Float Grades High", low=9.0, high=12.0, total=1001.0,
                 school_type="High Schools (Public)"),
        cupc_row("0100008", "K-8 Elementary", low="K", high="8", total=900.0),
        cupc_row("0100009", "Seven-Twelve High", low="7", high="12", total=600.0,
                 school_type="High Schools (Public)"),
        cupc_row("0100010", "Five-Eight Middle", low="5", high="8", total=400.0,
                 school_type="Intermediate/Middle Schools (Public)"),
        cupc_row("0100011", "Other District", district="88888"),
    ]  # fmt: skip
    roster = read_cde_cupc(workbook(tmp_path, rows), "99999")
    by_name = {s.name: s for s in roster.schools}
    assert sorted(by_name) == [
        "Adult Transition",
        "Five-Eight Middle",
        "Float Grades High",
        "K-8 Elementary",
        "Numeric Code Elementary",
        "Preschool Elementary",
        "Seven-Twelve High",
    ]
    assert [s.name for s in roster.schools] == sorted(by_name, key=str.casefold)
    assert by_name["Numeric Code Elementary"].school_id == "01999990100004"
    adult = by_name["Adult Transition"]
    assert (adult.low_grade, adult.high_grade, adult.enrollment_by_grade["12"]) == ("12", "12", 7)
    pre = by_name["Preschool Elementary"]
    assert pre.low_grade == "TK"
    assert [pre.enrollment_by_grade[g] for g in GRADES[:7]] == [11, 10, 10, 10, 10, 10, 10]
    high = by_name["Float Grades High"]
    assert (high.low_grade, high.high_grade, high.level) == ("9", "12", "High")
    assert [high.enrollment_by_grade[g] for g in ("9", "10", "11", "12")] == [251, 250, 250, 250]
    assert by_name["K-8 Elementary"].level == "Span"
    assert by_name["Seven-Twelve High"].level == "High"
    assert by_name["Five-Eight Middle"].level == "Middle"
    assert {s.reason for s in roster.skipped} == {
        "pseudo-row (District Office)",
        "pseudo-row (Nonpublic, Nonsectarian Schools)",
        "charter school",
        "no pupils enrolled",
    }
    assert "Left out: 2 pseudo-rows, 2 charter schools, 1 school with no pupils (see skipped)." in (
        roster.notes
    )
    assert any("'Adult' read as 12" in n for n in roster.notes)


def test_trimmed_layout_with_headers_in_the_first_row(tmp_path: Path) -> None:
    path = workbook(tmp_path, [cupc_row("0100001", "A Elementary")], title=False)
    assert [s.school_id for s in read_cde_cupc(path, "99999").schools] == ["01999990100001"]


def test_a_lone_data_sheet_is_found_by_its_header(tmp_path: Path) -> None:
    path = workbook(tmp_path, [cupc_row("0100001", "A Elementary")], title=False, sheet=None)
    assert len(read_cde_cupc(path, "99999").schools) == 1


def test_bad_count_is_reported_with_its_row(tmp_path: Path) -> None:
    row = cupc_row("0100001", "A Elementary")
    row[24] = "lots"
    with pytest.raises(RosterError) as info:
        read_cde_cupc(workbook(tmp_path, [row]), "99999")
    assert (
        "cupc.xlsx sheet 'School-Level CALPADS UPC Data' row 3, column 'english learner (el)': "
        "'lots' is not a whole number of pupils"
    ) in str(info.value)


def test_workbook_without_the_school_sheet(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.title = "Budget"
    wb.active.append(["Fund", "Amount"])
    path = tmp_path / "budget.xlsx"
    wb.save(path)
    with pytest.raises(RosterError) as info:
        read_cde_cupc(path, "64881")
    assert str(info.value).startswith(
        "budget.xlsx is not a CDE CALPADS Unduplicated Pupil Count (CUPC) K-12 workbook: it has "
        "no 'School-Level CALPADS UPC Data' sheet (sheets: Budget)"
    )


def test_school_sheet_with_missing_columns(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "School-Level CALPADS UPC Data"
    ws.append([h for h in HEADERS if not h.startswith("English")])
    path = tmp_path / "cupc.xlsx"
    wb.save(path)
    with pytest.raises(
        RosterError, match=r"no header row with the columns 'english learner \(el\)'"
    ):
        read_cde_cupc(path, "64881")


def test_not_a_workbook_or_missing(tmp_path: Path) -> None:
    text = tmp_path / "roster.xlsx"
    text.write_text("school_id,school_name\n")
    with pytest.raises(FileError, match="could not be opened as an Excel workbook"):
        read_cde_cupc(text, "64881")
    with pytest.raises(FileError, match="does not exist"):
        read_cde_cupc(tmp_path / "missing.xlsx", "64881")


@pytest.mark.parametrize(
    ("total", "low", "high", "expected"),
    [
        (10, "K", "2", {"K": 4, "1": 3, "2": 3}),
        (7, "TK", "K", {"TK": 4, "K": 3}),
        (3, "9", "12", {"9": 1, "10": 1, "11": 1, "12": 0}),
        (0, "K", "5", {}),
    ],
)
def test_spread_enrollment(total: int, low: str, high: str, expected: dict[str, int]) -> None:
    spread = spread_enrollment(total, low, high)
    assert set(spread) == set(GRADES)
    assert sum(spread.values()) == total
    assert {g: n for g, n in spread.items() if g in expected} == expected
