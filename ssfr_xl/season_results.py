"""Closing the loop as library calls: the teacher-equity workbook, the sample district's staff
and outcome files, the results workbook. What the `teachers`, `sample-data` and `results`
commands do, minus the printing."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from .district_book import read_district
from .exports import check_output_places, require_folder
from .model import DistrictInputs
from .money import excel_round, format_money


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
    unranked = [s.school.school_id for s in report.schools if s.minority_quartile is None]
    if report.by_minority and unranked:
        lines.append(f"  Note: {len(unranked)} school{'' if len(unranked) == 1 else 's'} "
                     f"(e.g. {unranked[0]}) have no row in the minority file, so the minority "
                     "quartiles leave them out — add a row for every school.")
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
        from .sources.outcomes import write_outcomes_csv
        from .sources.outcomes_gen import sample_outcomes

        rows = sample_outcomes(inputs)
        write_outcomes_csv(rows, outcomes)
        written.append(f"Wrote {outcomes} ({len(rows)} outcomes)")
    return "\n".join(written)


def incentive_bases(schools, policy, staff: Path | None, performance: Path | None):
    """Schools with hard_to_staff_teachers from a staff file and performance_points from a
    performance file (either may be None), and notes saying so."""
    from dataclasses import replace

    from .performance import MAX_POINTS
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
                                    what="a number of points", every_school=True,
                                    at_most=MAX_POINTS)
        schools = [replace(s, performance_points=points[s.school_id]) for s in schools]
        counted = sum(1 for v in points.values() if v)
        notes.append(f"Performance points read from {performance.name}: "
                     f"{counted} school{'' if counted == 1 else 's'} with points.")
    return schools, notes


def accepted_plans(ledger: Path, fiscal_year: str, school_ids: Collection[str] | None = None):
    """(school_id -> SchoolPlan of its counted plan, school_id -> status) from the season
    ledger's latest run for the fiscal year (read only). With `school_ids` (the district's), a
    ledger that knows none of them is another district's: an input error."""
    from .errors import InputError
    from .exports import line_text
    from .ledger import Ledger
    from .results import SchoolPlan

    with Ledger(ledger, readonly=True) as book:
        outcomes = book.outcomes(fiscal_year)
        versions = {v.sha256: v for v in book.versions(year=fiscal_year)}
        latest = book.latest_year()
    if not outcomes:
        seasons = f" (its latest run is for {latest})" if latest and latest != fiscal_year else ""
        raise InputError(
            f"The ledger {line_text(ledger)} has no consolidated season for fiscal year "
            f"{fiscal_year}{seasons}, the district workbook's year. Run ssfr-xl consolidate "
            "with --ledger on this district workbook first, or give the ledger of this season.")
    if school_ids is not None and not set(outcomes) & set(school_ids):
        raise InputError(
            f"The ledger {line_text(ledger)} is not this district's: none of the "
            f"{len(outcomes)} schools of its {fiscal_year} season (e.g. {min(outcomes)}) is a "
            "school of the district workbook. Give the ledger of this district's season.")
    plans, statuses = {}, {}
    for school_id, (status, _reason, _file, sha) in outcomes.items():
        statuses[school_id] = status
        v = versions.get(sha)
        if status.startswith("accepted") and v is not None:
            plans[school_id] = SchoolPlan(tuple(v.lines), tuple(v.goals))
    return plans, statuses


def performance_pool(inputs: DistrictInputs, points: dict[str, float] | None = None
                     ) -> tuple[str, dict[str, float]]:
    """(codes, school_id -> dollars) of the components shared by performance_points, with the
    roster's points or the given ones: the engine's allocation."""
    from dataclasses import replace

    from .formula import allocate

    codes = [c.code for c in inputs.policy.components
             if c.kind == "pool" and "performance_points" in c.basis]
    if not codes:
        return "", {}
    if points is not None:
        inputs = replace(inputs, schools=tuple(
            replace(s, performance_points=points.get(s.school_id, 0.0)) for s in inputs.schools))
    result = allocate(inputs)
    out = dict.fromkeys((s.school_id for s in inputs.schools), 0.0)
    for r in result.components:
        if r.component.code in codes:
            for i, s in enumerate(inputs.schools):
                out[s.school_id] = excel_round(out[s.school_id] + float(r.amount[i]))
    return ", ".join(codes), out


def results_workbook(district_xlsx: Path, outcomes: Path, out: Path, *,
                     ledger: Path | None = None, staff: Path | None = None,
                     minority: Path | None = None, performance: Path | None = None) -> str:
    """Write the results workbook (and the performance points CSV); returns a summary."""
    from .performance import MIN_STUDENTS, performance_scores
    from .results import school_results
    from .results_book import performance_sheets, result_sheets, write_results_workbook
    from .sources.outcomes import read_outcomes_csv
    from .sources.school_values import write_school_values

    _outputs([("--out", out), ("--performance", performance)],
             [("the district workbook", district_xlsx), ("--outcomes", outcomes),
              ("--ledger", ledger), ("--staff", staff), ("--minority", minority)])
    inputs = read_district(district_xlsx)
    d = inputs.district
    found = read_outcomes_csv(outcomes, inputs.policy, inputs.schools)
    plans, statuses = (accepted_plans(ledger, d.fiscal_year,
                                      [s.school_id for s in inputs.schools])
                       if ledger else ({}, {}))
    results = school_results(inputs.schools, inputs.policy, found, plans, statuses)
    scores = performance_scores(inputs.schools, inputs.policy, found)
    points = {s.school.school_id: s.points for s in scores}
    pool, now = performance_pool(inputs)
    _pool, next_year = performance_pool(inputs, points)
    title = f"{d.name} {d.fiscal_year}"
    sheets = result_sheets(results, title) + performance_sheets(scores, now, next_year, title,
                                                                pool)
    report = None
    if staff is not None:
        from .teachers_book import teacher_sheets

        report = read_teachers(inputs, staff, minority)
        sheets += teacher_sheets(report, title)
    write_results_workbook(out, sheets, d.name)
    measured = [r for r in results.rows if r.goal]
    lines = [f"Wrote {out}",
             f"  {len(found)} outcomes of {len({o.school_id for o in found})} schools; "
             f"{len(plans)} accepted plans; {len(measured)} plan goals measured, "
             f"{sum(1 for r in measured if r.target_met)} targets met"]
    median = [s for s in scores if s.credit is None]
    lines.append(f"  Performance points: {sum(1 for s in scores if s.points > 0)} schools with "
                 f"points, {len(median)} at the district median (small n)")
    if pool:
        moved = sum(abs(next_year[k] - now[k]) for k in now) / 2
        lines.append(f"  {pool} pool: {format_money(moved, 0)} changes hands next year")
        if not any(points.values()):
            lines.append(f"  Warning: no school has performance points (no outcome about "
                         f"{MIN_STUDENTS} or more students improved), so next year the {pool} "
                         "pool would go to no school — check the outcomes file, or type the "
                         "points in the performance file before init --performance.")
    if report is not None:
        lines += teacher_lines(report)
    if performance is not None:
        write_school_values(points, "performance_points", performance)
        lines.append(f"Wrote {performance} (review it, then: ssfr-xl init ... --performance "
                     f"{performance.name})")
    return "\n".join(lines)
