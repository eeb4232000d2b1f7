"""The results workbook (values, not formulas): outcomes by school matched to plan goals, the
district by goal and by need quartile, next year's performance points and what they do to the
performance pool, and (with a staff file) the teacher sheets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from . import styles
from .money import excel_round
from .performance import DEFAULT_FULL_CREDIT, FULL_CREDIT, MIN_STUDENTS, PerformanceScore
from .results import Results
from .table_book import Column, TableSheet, write_table_book

NUMBER = "#,##0.0##;[Red]-#,##0.0##"
_BETTER = {"up": "higher", "down": "lower"}


def _change(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else excel_round(after - before)


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("Yes" if value else "No")


def result_sheets(results: Results, title: str) -> list[TableSheet]:
    """Results by school, by goal and by need quartile."""
    by_school = TableSheet(
        "Results", [
            Column("School ID", max_width=16), Column("School", max_width=34),
            Column("Need quartile", styles.COUNT), Column("Plan"), Column("Indicator"),
            Column("Better is"), Column("Unit"), Column("Students", styles.COUNT),
            Column("Last year", NUMBER), Column("This year", NUMBER), Column("Change", NUMBER),
            Column("Growth (+ = better)", NUMBER), Column("Plan goal"),
            Column("Plan baseline", NUMBER), Column("Plan target", NUMBER),
            Column("Target met"), Column("Planned dollars (goal)", styles.MONEY),
            Column("Note", max_width=60)],
        [[r.school.school_id, r.school.name, r.need_quartile, r.plan_status,
          r.indicator.code, _BETTER[r.indicator.direction], r.indicator.unit,
          r.outcome.students, r.outcome.prior, r.outcome.result, r.change, r.growth,
          r.goal, r.baseline, r.target, _yes_no(r.target_met), r.planned, r.note]
         for r in results.rows],
        title=f"{title}: results by school",
        subtitle="Each outcome, and the plan goal stated in that indicator (accepted plans). "
                 "Need quartile: unduplicated share, Q1 lowest.")
    by_goal = TableSheet(
        "By goal", [
            Column("Goal"), Column("District goal", max_width=40), Column("Indicator"),
            Column("Unit"), Column("Schools measuring", styles.COUNT),
            Column("Targets met", styles.COUNT), Column("Share met", styles.SHARE),
            Column("Planned dollars", styles.MONEY), Column("Students", styles.COUNT),
            Column("Growth, these schools", NUMBER), Column("Growth, all schools", NUMBER)],
        [[g.goal, g.goal_name, g.indicator.code, g.indicator.unit, g.schools, g.targets_met,
          g.targets_met / g.schools if g.schools else None, g.planned, g.students, g.growth,
          g.district_growth] for g in results.by_goal],
        title=f"{title}: results by district goal",
        subtitle="Plans whose goal states its target in the indicator: dollars planned on the "
                 "goal against the change in its measure (growth weighted by students).")
    by_need = TableSheet(
        "By need quartile", [
            Column("Need quartile"), Column("Indicator"), Column("Unit"),
            Column("Schools", styles.COUNT), Column("Students", styles.COUNT),
            Column("Last year", NUMBER), Column("This year", NUMBER),
            Column("Growth (+ = better)", NUMBER), Column("Plan goals", styles.COUNT),
            Column("Targets met", styles.COUNT)],
        [[f"Q{q.quartile}" + {1: " (lowest need)", 4: " (highest need)"}.get(q.quartile, ""),
          q.indicator.code, q.indicator.unit, q.schools, q.students, q.prior, q.result,
          q.growth, q.goals, q.targets_met] for q in results.by_quartile],
        title=f"{title}: results by need quartile",
        subtitle="Averages weighted by students.")
    return [by_school, by_goal, by_need]


def performance_sheets(scores: Sequence[PerformanceScore], now: Mapping[str, float],
                       next_year: Mapping[str, float], title: str,
                       pool: str) -> list[TableSheet]:
    """Next year's points per school, with the pool's shares this year and next."""
    rows = [[s.school.school_id, s.school.name, s.counted, s.set_aside, s.credit, s.points,
             s.how, s.school.performance_points, now.get(s.school.school_id),
             next_year.get(s.school.school_id),
             _change(now.get(s.school.school_id), next_year.get(s.school.school_id))]
            for s in scores]
    sheet = TableSheet(
        "Performance points", [
            Column("School ID", max_width=16), Column("School", max_width=34),
            Column("Outcomes counted", styles.COUNT),
            Column(f"Set aside (under {MIN_STUDENTS} students)", styles.COUNT),
            Column("Average credit", "0.000"), Column("Points next year", "#,##0.0"),
            Column("How", max_width=48), Column("Points this year", "#,##0.0"),
            Column(f"{pool or 'Pool'} this year", styles.MONEY),
            Column(f"{pool or 'Pool'} next year", styles.MONEY),
            Column("Change", styles.MONEY)],
        rows, title=f"{title}: performance points for next year",
        subtitle="Review, then: ssfr-xl init ... --performance performance.csv. The pool's "
                 "shares next year assume the same pool and roster.")
    full = ", ".join(f"{v:g} for unit {k!r}" for k, v in FULL_CREDIT.items())
    rule = TableSheet("Performance rule", [Column("Rule", max_width=110)], [[t] for t in (
        "Growth, not level: growth = this year's result minus last year's, positive when "
        "better (lower is better for chronic absenteeism and suspensions).",
        f"Capped: each outcome earns credit = growth / full-credit growth, from 0 to 1 ({full}, "
        f"{DEFAULT_FULL_CREDIT:g} otherwise). Points = 100 x the school's average credit, to "
        "one decimal (at most 100).",
        f"Small n: an outcome about fewer than {MIN_STUDENTS} students is set aside; a school "
        "with no counted outcome gets the median points of the schools that have some.",
        "The performance pool is shared in proportion to the points.",
    )], title=f"{title}: the performance incentive rule")
    return [sheet, rule]


def write_results_workbook(path: Path, sheets: Sequence[TableSheet], district: str) -> None:
    """The results workbook."""
    write_table_book(path, sheets, district)
