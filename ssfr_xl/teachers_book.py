"""The teacher-equity sheets (values, not formulas): by poverty and minority quartile, the
salary gap per school, and the definitions. Used by `ssfr-xl teachers` and by
`ssfr-xl results --staff`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from . import styles
from .money import excel_round
from .table_book import Column, TableSheet, write_table_book
from .teachers import (
    INEXPERIENCED_YEARS,
    SchoolTeachers,
    TeacherFigures,
    TeacherReport,
    pooled,
)

_QUARTILE_NAMES = {1: " (lowest {})", 2: "", 3: "", 4: " (highest {})"}


def _quartile_columns(measure: str) -> list[Column]:
    return [
        Column(f"{measure.capitalize()} quartile"),
        Column("Schools", styles.COUNT),
        Column(f"{measure.capitalize()} share, from", styles.SHARE),
        Column("to", styles.SHARE),
        Column("Pupils", styles.COUNT),
        Column("Teacher FTE", styles.DECIMAL),
        Column(f"Inexperienced (0-{INEXPERIENCED_YEARS:g} years)", styles.SHARE),
        Column("Out of field", styles.SHARE),
        Column("Not fully credentialed", styles.SHARE),
        Column("Average actual salary", styles.MONEY),
        Column("Salary gap (actual - charged at average)", styles.MONEY),
        Column("Gap per pupil", styles.MONEY),
    ]


def _quartile_rows(report: TeacherReport, key: str, share_key: str,
                   table: Sequence[tuple[int, int, TeacherFigures]], measure: str
                   ) -> list[list[object]]:
    rows: list[list[object]] = []
    for q, n, f in table:
        members = [s for s in report.schools if getattr(s, key) == q]
        shares = [getattr(s, share_key) for s in members]
        pupils = sum(s.school.enrollment for s in members)
        rows.append([f"Q{q}" + _QUARTILE_NAMES[q].format(measure), n, min(shares), max(shares),
                     pupils, f.teacher_fte, f.inexperienced_share, f.out_of_field_share,
                     f.not_full_share, f.average_salary, f.gap,
                     excel_round(f.gap / pupils) if pupils else None])
    d = report.district
    pupils = sum(s.school.enrollment for s in report.schools)
    rows.append(["District", len(report.schools), None, None, pupils, d.teacher_fte,
                 d.inexperienced_share, d.out_of_field_share, d.not_full_share,
                 d.average_salary, d.gap, excel_round(d.gap / pupils) if pupils else None])
    return rows


SCHOOL_COLUMNS = [
    Column("School ID", max_width=16), Column("School", max_width=36), Column("Level"),
    Column("Enrollment", styles.COUNT), Column("Poverty share", styles.SHARE),
    Column("Poverty quartile", styles.COUNT), Column("Minority share", styles.SHARE),
    Column("Minority quartile", styles.COUNT), Column("Teacher FTE", styles.DECIMAL),
    Column(f"Inexperienced (0-{INEXPERIENCED_YEARS:g} years)", styles.SHARE),
    Column("Out of field", styles.SHARE), Column("Not fully credentialed", styles.SHARE),
    Column("Average actual salary", styles.MONEY), Column("Actual teacher pay", styles.MONEY),
    Column("Charged at district average", styles.MONEY),
    Column("Salary gap (actual - charged)", styles.MONEY),
    Column("Gap per pupil", styles.MONEY),
    Column("Hard-to-staff basis (teacher FTE)", styles.FTE),
]


def _school_row(s: SchoolTeachers) -> list[object]:
    f = s.figures
    return [s.school.school_id, s.school.name, s.school.level, s.school.enrollment,
            s.poverty_share, s.poverty_quartile, s.minority_share, s.minority_quartile,
            f.teacher_fte, f.inexperienced_share, f.out_of_field_share, f.not_full_share,
            f.average_salary, f.actual_pay, f.charged_at_average, f.gap, s.gap_per_pupil,
            s.hard_to_staff]


DEFINITIONS = (
    "Teachers: positions whose job class has object code 1100 (classroom, special education, "
    "teachers on special assignment). Shares are of teacher FTE.",
    f"Inexperienced: at most {INEXPERIENCED_YEARS:g} years of experience (in the first, second "
    "or third year of teaching).",
    "Not fully credentialed: an intern credential, a permit, a waiver or none. Out of field: "
    "flagged in the staff file.",
    "Poverty share: FRPM pupils over enrollment. Quartiles rank the schools with pupils by the "
    "share (ties by school ID): Q1 is the lowest quarter, Q4 the highest. A quartile's figures "
    "pool its schools' teachers. Minority quartiles rank minority pupils over enrollment.",
    "Salary gap: the teachers' actual pay minus what the school is charged for them at the "
    "district average salary (FTE x the job class's average salary, salary only). Positive: "
    "the school's teachers cost more than it pays for them, a hidden subsidy to the school.",
    "Hard-to-staff basis: in the highest poverty quartile (Q4; in a district of fewer than 4 "
    "schools, the highest-poverty school), the FTE of teachers fully "
    f"credentialed, in field and with more than {INEXPERIENCED_YEARS:g} years of experience; "
    "0 elsewhere. ssfr-xl init --staff writes it to the Schools sheet's Hard-to-staff teachers "
    "column, which the hard-to-staff incentive pool is shared by.",
)


def teacher_sheets(report: TeacherReport, title: str) -> list[TableSheet]:
    """The teacher sheets of a workbook."""
    sheets = [TableSheet("Teachers by poverty", _quartile_columns("poverty"),
                         _quartile_rows(report, "poverty_quartile", "poverty_share",
                                        report.by_poverty, "poverty"),
                         title=f"{title}: teachers by school poverty quartile",
                         subtitle="ESSA equitable distribution: who teaches pupils in "
                                  "high-poverty schools. Definitions on the last sheet.")]
    if report.by_minority:
        minority = [s for s in report.schools if s.minority_quartile is not None]
        part = TeacherReport(tuple(minority), (), report.by_minority,
                             pooled([s.figures for s in minority]))
        sheets.append(TableSheet("Teachers by minority", _quartile_columns("minority"),
                                 _quartile_rows(part, "minority_quartile", "minority_share",
                                                report.by_minority, "minority"),
                                 title=f"{title}: teachers by school minority quartile",
                                 subtitle="ESSA equitable distribution: who teaches pupils "
                                          "in high-minority schools."))
    sheets.append(TableSheet("Salary gap", SCHOOL_COLUMNS,
                             [_school_row(s) for s in sorted(
                                 report.schools,
                                 key=lambda s: (s.poverty_share, s.school.school_id))],
                             title=f"{title}: average versus actual teacher salary",
                             subtitle="Schools from lowest to highest poverty. Positive gap: "
                                      "the school is charged less than its teachers cost."))
    sheets.append(TableSheet("Teacher definitions", [Column("Definition", max_width=110)],
                             [[d] for d in DEFINITIONS],
                             title=f"{title}: how the teacher figures are computed"))
    return sheets


def write_teacher_workbook(path: Path, report: TeacherReport, district: str,
                           fiscal_year: str) -> None:
    """The teacher-equity workbook."""
    write_table_book(path, teacher_sheets(report, f"{district} {fiscal_year}"), district)
