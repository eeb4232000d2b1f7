"""Roster CSV: round trips, encodings and the messages a budget office sees."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ssfr_xl.errors import FileError, RosterError
from ssfr_xl.model import GRADES
from ssfr_xl.sources import read_roster_csv, sample_district, write_roster_csv
from ssfr_xl.sources.roster import REQUIRED_COLUMNS, ROSTER_COLUMNS

TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "roster.csv"
HEADER = ",".join(ROSTER_COLUMNS)


def row(**values: object) -> str:
    """A roster line for a K-5 school of 640 pupils, with values replaced by name."""
    cells: dict[str, object] = {c: "" for c in ROSTER_COLUMNS}
    cells.update(
        school_id="19648816021505",
        school_name="Altadena Elementary",
        level="Elementary",
        low_grade="K",
        high_grade="5",
        K=110,
        frpm=300,
        el=80,
        swd=60,
        foster=2,
        homeless=5,
        unduplicated=320,
        prior_year_allocation=4500000,
        performance_points=40,
        hard_to_staff_teachers=3,
        grades_estimated="N",
    )
    cells.update({"1": 110, "2": 110, "3": 110, "4": 100, "5": 100})
    cells.update({k.removeprefix("g_"): v for k, v in values.items()})
    return ",".join(str(cells[c]) for c in ROSTER_COLUMNS)


def ids(n: int) -> list[str]:
    """n distinct valid CDS codes."""
    return [f"1964881{6021505 + i:07d}" for i in range(n)]


def write(tmp_path: Path, *lines: str, header: str = HEADER, encoding: str = "utf-8") -> Path:
    path = tmp_path / "roster.csv"
    path.write_text("\r\n".join([header, *lines]) + "\r\n", encoding=encoding)
    return path


def error_of(path: Path) -> RosterError:
    with pytest.raises(RosterError) as info:
        read_roster_csv(path)
    return info.value


# --- round trips and encodings ------------------------------------------------------------------


def test_round_trip_of_the_sample_district(tmp_path: Path) -> None:
    _, schools = sample_district(60)
    path = tmp_path / "roster.csv"
    write_roster_csv(schools, path)
    assert read_roster_csv(path) == schools


def test_written_file_has_bom_header_and_crlf(tmp_path: Path) -> None:
    _, schools = sample_district(3)
    path = tmp_path / "roster.csv"
    write_roster_csv(schools, path)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf" + HEADER.encode() + b"\r\n")
    assert b"Escuela Biling\xc3\xbce Mariposa" in data


def test_fractional_amounts_round_trip_exactly(tmp_path: Path) -> None:
    _, schools = sample_district(2)
    changed = [
        dataclasses.replace(schools[0], prior_year_allocation=1234567.89, performance_points=12.5),
        dataclasses.replace(schools[1], hard_to_staff_teachers=2.5, grades_estimated=True),
    ]
    path = tmp_path / "roster.csv"
    write_roster_csv(changed, path)
    assert read_roster_csv(path) == changed


@pytest.mark.parametrize(
    "name",
    [
        "Escuela Bilingüe Mariposa",
        "Trường Tiểu học Lạc Hồng",
        "東方小学",
        "Школа № 5",
        "O’Neill K-8",
    ],
)
def test_non_latin_names_survive_a_round_trip(tmp_path: Path, name: str) -> None:
    _, schools = sample_district(1)
    school = dataclasses.replace(schools[0], name=name)
    path = tmp_path / "roster.csv"
    write_roster_csv([school], path)
    assert read_roster_csv(path)[0].name == name


def test_utf8_with_and_without_bom(tmp_path: Path) -> None:
    line = row(school_name="Escuela Bilingüe Mariposa")
    with_bom = write(tmp_path, line, encoding="utf-8-sig")
    assert read_roster_csv(with_bom)[0].name == "Escuela Bilingüe Mariposa"
    without = write(tmp_path, line, encoding="utf-8")
    assert read_roster_csv(without)[0].name == "Escuela Bilingüe Mariposa"


def test_latin1_and_windows_1252_fallback(tmp_path: Path) -> None:
    path = write(tmp_path, row(school_name="Escuela Bilingüe Mariposa"), encoding="latin-1")
    assert read_roster_csv(path)[0].name == "Escuela Bilingüe Mariposa"
    path = write(tmp_path, row(school_name="O’Neill Elementary"), encoding="cp1252")
    assert read_roster_csv(path)[0].name == "O’Neill Elementary"


def test_template_reads_back_cleanly() -> None:
    schools = read_roster_csv(TEMPLATE)
    assert 5 <= len(schools) <= 6
    assert any(not s.name.isascii() for s in schools)


# --- what the reader accepts ------------------------------------------------------------------


def test_values_as_excel_saves_them(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        row(
            school_id=" 19648816021505 ",
            level="",
            g_K="110.0",
            frpm="",
            el="80.0",
            prior_year_allocation='"$4,500,000.50"',
            grades_estimated="yes",
            low_grade="k",
            high_grade="5.0",
        ),
    )
    (school,) = read_roster_csv(path)
    assert school.school_id == "19648816021505"
    assert school.level == "Elementary"  # derived from K-5
    assert school.low_grade == "K" and school.high_grade == "5"
    assert school.enrollment_by_grade["K"] == 110
    assert school.enrollment == 640
    assert school.frpm == 0 and school.el == 80
    assert school.prior_year_allocation == 4500000.5
    assert school.grades_estimated is True
    assert set(school.enrollment_by_grade) == set(GRADES)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Y", True), ("n", False), ("Yes", True), ("no", False), ("TRUE", True), ("false", False),
     ("1", True), ("0", False), ("", False)],
)  # fmt: skip
def test_grades_estimated_values(tmp_path: Path, text: str, expected: bool) -> None:
    path = write(tmp_path, row(grades_estimated=text))
    assert read_roster_csv(path)[0].grades_estimated is expected


def test_optional_columns_may_be_absent(tmp_path: Path) -> None:
    header = ",".join(REQUIRED_COLUMNS)
    line = ",".join(row().split(",")[ROSTER_COLUMNS.index(c)] for c in REQUIRED_COLUMNS)
    (school,) = read_roster_csv(write(tmp_path, line, header=header))
    assert school.level == "Elementary"
    assert school.prior_year_allocation == 0.0 and school.grades_estimated is False


def test_extra_columns_blank_rows_and_semicolons(tmp_path: Path) -> None:
    path = write(tmp_path, row() + ",Ms. Rivera", ",,,,", header=HEADER + ",principal")
    assert len(read_roster_csv(path)) == 1
    semi = write(tmp_path, row().replace(",", ";"), header=HEADER.replace(",", ";"))
    assert read_roster_csv(semi)[0].enrollment == 640


def test_span_levels_and_tk(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        row(school_id=ids(2)[0], level="", low_grade="TK", high_grade="8", TK=20, g_8=90),
        row(school_id=ids(2)[1], level="span", low_grade="9", high_grade="12", g_K=0, g_1=0,
            g_2=0, g_3=0, g_4=0, g_5=0, g_9=600),
    )  # fmt: skip
    first, second = read_roster_csv(path)
    assert first.level == "Span" and first.enrollment_by_grade["TK"] == 20
    assert second.level == "Span"  # an explicit level wins over the grades


# --- problems -----------------------------------------------------------------------------------


def test_subgroup_larger_than_enrollment_exact_message(tmp_path: Path) -> None:
    lines = [row(school_id=i) for i in ids(5)] + [row(school_id=ids(6)[5], el=812)]
    err = error_of(write(tmp_path, *lines))
    assert str(err) == (
        "roster.csv line 7, column 'el': 812 English learners is more than the school's "
        "enrollment of 640 — correct the count."
    )
    assert err.problems == [str(err)]


def test_missing_required_column_exact_message(tmp_path: Path) -> None:
    header = HEADER.replace(",el,", ",")
    line = ",".join(c for c, name in zip(row().split(","), ROSTER_COLUMNS, strict=True)
                    if name != "el")  # fmt: skip
    err = error_of(write(tmp_path, line, header=header))
    assert str(err) == (
        "roster.csv line 1, column 'el': the required column is missing — add a column headed "
        "'el' (0 where there are no pupils)."
    )


def test_bad_school_id_exact_message(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, row(school_id="1648816021505")))
    assert str(err) == (
        "roster.csv line 2, column 'school_id': '1648816021505' is neither the district's site "
        "code (letters, digits, - or _, at most 8 digits when all digits) nor a 14-digit CDS "
        "code (county 2 + district 5 + school 7 digits); if a spreadsheet dropped leading zeros "
        "or showed it as 1.9E+13, format the column as Text and type the code again."
    )


@pytest.mark.parametrize("site_code", ["S-104", "0456", "EL_12", "12345678"])
def test_a_district_site_code_is_a_school_id(tmp_path: Path, site_code: str) -> None:
    from ssfr_xl.sources import read_roster_csv

    schools = read_roster_csv(write(tmp_path, row(school_id=site_code)))
    assert schools[0].school_id == site_code


@pytest.mark.parametrize("bad", ["1.96488E+13", "123456789", "S 104", "-S104"])
def test_what_is_neither_a_site_code_nor_a_cds_code_is_refused(tmp_path: Path,
                                                                bad: str) -> None:
    assert "column 'school_id'" in str(error_of(write(tmp_path, row(school_id=bad))))


def test_duplicate_school_id_exact_message(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, row(), row(school_name="Copy"), row(school_id=ids(2)[1])))
    assert str(err) == (
        "roster.csv line 3, column 'school_id': 19648816021505 is also on line 2 — each school "
        "must appear once (upper and lower case count as the same); remove or correct one of "
        "the rows."
    )


def test_pupils_outside_grades_served_exact_message(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, row(g_6=25)))
    assert "roster.csv line 2, column '6': 25 pupils in grade 6, outside the grades the " in str(
        err
    )
    assert str(err).endswith(
        "school serves (K-5) — move them to a grade from K to 5, or correct low_grade/high_grade."
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"el": "12.5"}, "column 'el': 12.5 is not a whole number — enter a whole number of "
         "pupils."),
        ({"swd": "-3"}, "column 'swd': -3 is negative — enter a whole number of pupils, 0 or "
         "more."),
        ({"g_K": "many"}, "column 'K': 'many' is not a number — enter a whole number of pupils"),
        ({"low_grade": "PK3"}, "column 'low_grade': 'PK3' is not a grade — enter TK, K or a grade"),
        ({"low_grade": ""}, "column 'low_grade': the grade is blank — enter TK, K or a grade"),
        ({"low_grade": "5", "high_grade": "K"}, "column 'high_grade': the high grade K is below "
         "the low grade 5 — swap them or correct one."),
        ({"level": "Primary"}, "column 'level': 'Primary' is not a level — use one of "
         "Elementary, Middle, High, Span"),
        ({"school_name": ""}, "column 'school_name': the school's name is blank — enter it."),
        ({"school_id": ""}, "column 'school_id': the school ID is blank"),
        ({"grades_estimated": "maybe"}, "column 'grades_estimated': 'maybe' is not Y or N"),
        ({"prior_year_allocation": "-5"}, "column 'prior_year_allocation': -5 is negative"),
        ({"unduplicated": 641}, "column 'unduplicated': 641 unduplicated pupils is more than "
         "the school's enrollment of 640"),
        ({"foster": 1, **{g: 0 for g in ("g_K", "g_1", "g_2", "g_3", "g_4")}, "g_5": 0},
         "column 'K': the grade columns add up to 0 pupils"),
    ],
)  # fmt: skip
def test_each_problem_names_line_column_and_fix(
    tmp_path: Path, values: dict[str, object], expected: str
) -> None:
    err = error_of(write(tmp_path, row(**values)))
    assert f"roster.csv line 2, {expected}" in str(err)


def test_one_pupil_is_singular(tmp_path: Path) -> None:
    zero = {g: 0 for g in ("g_K", "g_1", "g_2", "g_3", "g_4", "g_5")}
    counts = dict(frpm=0, el=1, swd=0, foster=0, homeless=0, unduplicated=0)
    err = error_of(write(tmp_path, row(**zero, **counts)))
    assert "column 'el': 1 English learner is more than the school's enrollment of 0" in str(err)


def test_all_problems_are_collected_in_one_error(tmp_path: Path) -> None:
    lines = [
        row(school_id="1.2E+13"),  # line 2
        row(school_id=ids(3)[1], el=812, swd="x"),  # line 3: two problems
        row(school_id=ids(3)[2], g_9=4),  # line 4
    ]
    err = error_of(write(tmp_path, *lines))
    message = str(err)
    assert message.startswith("roster.csv has 4 problems:\n  roster.csv line 2, column 'school_id'")
    assert len(err.problems) == 4
    assert [p.split(",")[0] for p in err.problems] == [
        "roster.csv line 2",
        "roster.csv line 3",
        "roster.csv line 3",
        "roster.csv line 4",
    ]


def test_line_numbers_count_physical_lines(tmp_path: Path) -> None:
    multi = row(school_name='"Lincoln\nElementary"', school_id=ids(2)[0])
    err = error_of(write(tmp_path, multi, row(school_id=ids(2)[1], el=900)))
    assert str(err).startswith("roster.csv line 4, column 'el'")


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    empty = tmp_path / "roster.csv"
    empty.write_bytes(b"")
    assert "roster.csv is empty" in str(error_of(empty))
    header_only = write(tmp_path)
    assert str(error_of(header_only)) == (
        "roster.csv line 2: there are no schools below the header — add one row per school."
    )


def test_missing_file_is_a_file_error(tmp_path: Path) -> None:
    with pytest.raises(FileError, match="does not exist"):
        read_roster_csv(tmp_path / "nope.csv")


def test_unwritable_path_is_a_file_error(tmp_path: Path) -> None:
    _, schools = sample_district(1)
    with pytest.raises(FileError, match="Could not write the roster"):
        write_roster_csv(schools, tmp_path / "missing-folder" / "roster.csv")


def test_duplicate_is_reported_even_when_the_row_has_other_problems(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, row(), row(el=900)))
    assert [p.split(":")[0] for p in err.problems] == [
        "roster.csv line 3, column 'school_id'",
        "roster.csv line 3, column 'el'",
    ]
