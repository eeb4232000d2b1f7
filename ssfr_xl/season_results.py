"""Closing the loop as library calls: the teacher-equity workbook, the sample district's staff
and outcome files, the results workbook. What the `teachers`, `sample-data` and `results`
commands do, minus the printing."""

from __future__ import annotations

from pathlib import Path

from .district_book import read_district
from .exports import check_output_places, require_folder
from .model import DistrictInputs
from .money import format_money


def _outputs(outputs: list[tuple[str, Path | None]], inputs: list[tuple[str, Path | None]]
             ) -> None:
    check_output_places(outputs, [], [(w, Path(p)) for w, p in inputs if p is not None])
    for label, path in outputs:
        if path is not None:
            require_folder(Path(path), label)


def read_teachers(inputs: DistrictInputs, staff: Path, minority: Path | None = None):
    """The teacher report of a district from its staff file (and minority pupils file)."""
    from .sources.school_values import read_school_values
    from .sources.staff import read_staff_csv
    from .teachers import teacher_report

    positions = read_staff_csv(staff, inputs.policy, inputs.schools)
    counts = None
    if minority is not None:
        counts = read_school_values(minority, "minority", inputs.schools,
                                    what="a number of minority pupils", pupils=True)
    return teacher_report(inputs.schools, inputs.policy, positions, counts)


def teachers_workbook(district_xlsx: Path, staff: Path, out: Path,
                      minority: Path | None = None) -> str:
    """Write the teacher-equity workbook; returns a summary to print."""
    from .teachers_book import write_teacher_workbook

    _outputs([("--out", out)], [("the district workbook", district_xlsx), ("--staff", staff),
                                ("--minority", minority)])
    inputs = read_district(district_xlsx)
    report = read_teachers(inputs, staff, minority)
    d = inputs.district
    write_teacher_workbook(out, report, d.name, d.fiscal_year)
    return "\n".join([f"Wrote {out}", *teacher_lines(report)])


def teacher_lines(report) -> list[str]:
    """The quartile figures as lines for a report."""
    lines = ["  Poverty quartile: inexperienced / out of field / not fully credentialed / "
             "average salary / salary gap"]
    for q, n, f in report.by_poverty:
        lines.append(f"  Q{q} ({n} schools): {_pct(f.inexperienced_share)} / "
                     f"{_pct(f.out_of_field_share)} / {_pct(f.not_full_share)} / "
                     f"{_money(f.average_salary)} / {format_money(f.gap, 0)}")
    return lines


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _money(value: float | None) -> str:
    return "n/a" if value is None else format_money(value, 0)


def write_sample_data(district_xlsx: Path, *, staff: Path | None = None,
                      minority: Path | None = None, outcomes: Path | None = None,
                      schedule: Path | None = None) -> str:
    """Write the synthetic staff roster, minority counts and outcomes of a district's
    schools (the sample district's, for demonstrations and tests)."""
    from .sources.school_values import write_school_values
    from .sources.staff import write_staff_csv
    from .sources.staff_gen import read_salary_schedule, sample_minority, sample_staff

    _outputs([("--staff", staff), ("--minority", minority), ("--outcomes", outcomes)],
             [("the district workbook", district_xlsx), ("--schedule", schedule)])
    inputs = read_district(district_xlsx)
    written = []
    if staff is not None:
        positions = sample_staff(inputs.schools, inputs.policy, read_salary_schedule(schedule))
        write_staff_csv(positions, staff)
        written.append(f"Wrote {staff} ({len(positions)} positions)")
    if minority is not None:
        write_school_values(sample_minority(inputs.schools), "minority", minority)
        written.append(f"Wrote {minority}")
    if outcomes is not None:
        from .outcomes_gen import sample_outcomes, write_outcomes_csv

        rows = sample_outcomes(inputs)
        write_outcomes_csv(rows, outcomes)
        written.append(f"Wrote {outcomes} ({len(rows)} outcomes)")
    return "\n".join(written)


def incentive_bases(schools, policy, staff: Path | None, performance: Path | None):
    """Schools with hard_to_staff_teachers from a staff file and performance_points from a
    performance file (either may be None), and notes saying so."""
    from dataclasses import replace

    from .sources.school_values import read_school_values
    from .sources.staff import read_staff_csv
    from .teachers import teacher_report

    notes = []
    schools = list(schools)
    if staff is not None:
        basis = teacher_report(schools, policy, read_staff_csv(staff, policy, schools)
                               ).hard_to_staff_basis()
        schools = [replace(s, hard_to_staff_teachers=basis.get(s.school_id, 0.0))
                   for s in schools]
        counted = sum(1 for v in basis.values() if v)
        notes.append(f"Hard-to-staff teachers computed from {staff.name}: "
                     f"{counted} school{'' if counted == 1 else 's'}, "
                     f"{sum(basis.values()):g} teacher FTE.")
    if performance is not None:
        points = read_school_values(performance, "performance_points", schools,
                                    what="a number of points", every_school=True)
        schools = [replace(s, performance_points=points[s.school_id]) for s in schools]
        counted = sum(1 for v in points.values() if v)
        notes.append(f"Performance points read from {performance.name}: "
                     f"{counted} school{'' if counted == 1 else 's'} with points.")
    return schools, notes
