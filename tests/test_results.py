"""Results and the performance incentive: outcomes matched to plan goals, the district views,
the performance rule (growth, capped, small n at the median) and init --performance."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from ssfr_xl.cli import cli
from ssfr_xl.district_book import read_district
from ssfr_xl.errors import RosterError
from ssfr_xl.formula import allocate
from ssfr_xl.model import GRADES, School
from ssfr_xl.performance import MIN_STUDENTS, performance_scores
from ssfr_xl.plan import GoalEntry, PlanLine
from ssfr_xl.policy import load_policy
from ssfr_xl.results import SchoolPlan, school_results
from ssfr_xl.school_book import build_school_plan, plan_specs
from ssfr_xl.sources.demo import demo_plan, fill_plan_workbook
from ssfr_xl.sources.outcomes import Outcome, read_outcomes_csv, write_outcomes_csv
from ssfr_xl.sources.outcomes_gen import sample_outcomes

POLICY = load_policy(None).policy


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="ssfr-xl")


def school(i: int, pupils: int, unduplicated: int) -> School:
    grades = dict.fromkeys(GRADES, 0)
    grades["4"] = pupils
    return School(school_id=f"S{i}", name=f"School {i}", level="Elementary", low_grade="4",
                  high_grade="4", enrollment_by_grade=grades, frpm=unduplicated,
                  unduplicated=unduplicated)


SCHOOLS = [school(1, 400, 40), school(2, 300, 150), school(3, 200, 140), school(4, 100, 90)]
OUTCOMES = [
    Outcome("S1", "ELA", -10, 5, 250),  # up 15 points: full credit (15 points = 1.0)
    Outcome("S1", "CHRONIC", 20, 18, 400),  # down 2 (lower is better): 2 / 5 = 0.4
    Outcome("S2", "ELA", 10, 40, 180),  # up 30: capped at 1.0
    Outcome("S2", "SUSP", 3, 4, 300),  # up 1 (worse): 0
    Outcome("S3", "MATH", 50, 45, 120),  # a high level that fell: 0, levels never count
    Outcome("S4", "ELPI", 40, 60, MIN_STUDENTS - 1),  # 10 students: set aside
]


def test_the_performance_rule_by_hand() -> None:
    scores = {s.school.school_id: s for s in performance_scores(SCHOOLS, POLICY, OUTCOMES)}
    # S1: (1.0 + 0.4) / 2 = 0.7 -> 70.0; S2: (1.0 + 0) / 2 -> 50.0; S3: 0.0
    assert scores["S1"].credit == pytest.approx(0.7) and scores["S1"].points == 70.0
    assert scores["S2"].points == 50.0 and scores["S3"].points == 0.0
    # S4: its only outcome is about 10 students -> the median of 70, 50, 0 = 50.0
    assert (scores["S4"].counted, scores["S4"].set_aside, scores["S4"].credit) == (0, 1, None)
    assert scores["S4"].points == 50.0
    assert "median of the district (3 schools)" in scores["S4"].how


def test_outcomes_are_matched_to_plan_goals_by_hand() -> None:
    lines = [PlanLine("Staffing", 7, "position", "TCH", "GEN", "G1", 1.0, 0, 1000.0),
             PlanLine("Other Spending", 7, "other", "4300", "GEN", "G1", 0, 0, 500.0),
             PlanLine("Other Spending", 8, "other", "4300", "GEN", "G4", 0, 0, 250.0)]
    goals = [GoalEntry(7, "G1", "Read", "Coach", "Scores", "ELA", -10.0, 0.0),
             GoalEntry(10, "G4", "Attend", "Outreach", "Absence", "CHRONIC", 20.0, 17.0),
             GoalEntry(9, "G3", "", "", "", "", None, None)]
    plans = {"S1": SchoolPlan(lines, goals)}
    r = school_results(SCHOOLS, POLICY, OUTCOMES, plans)
    rows = {(x.school.school_id, x.indicator.code): x for x in r.rows}
    ela, chronic = rows[("S1", "ELA")], rows[("S1", "CHRONIC")]
    # ELA: result 5 >= target 0 (higher is better): met; G1 lines 1,000 + 500 = 1,500
    assert (ela.goal, ela.target_met, ela.planned, ela.growth) == ("G1", True, 1500.0, 15.0)
    # CHRONIC: result 18 is not <= target 17 (lower is better): not met; G4 250; growth +2
    assert (chronic.goal, chronic.target_met, chronic.planned, chronic.change,
            chronic.growth) == ("G4", False, 250.0, -2.0, 2.0)
    assert rows[("S2", "ELA")].goal == "" and rows[("S2", "ELA")].plan_status == "no plan"
    by_goal = {(g.goal, g.indicator.code): g for g in r.by_goal}
    g1 = by_goal[("G1", "ELA")]
    # G1 in ELA: only S1 measured it (growth 15); every school with ELA: S1 15 (250
    # students), S2 30 (180): (15 x 250 + 30 x 180) / 430 = 21.2791
    assert (g1.schools, g1.targets_met, g1.planned, g1.growth) == (1, 1, 1500.0, 15.0)
    assert g1.district_growth == pytest.approx(21.2791, abs=1e-4)
    # need quartiles (unduplicated share 10%, 50%, 70%, 90% -> Q1..Q4)
    quart = {(q.quartile, q.indicator.code): q for q in r.by_quartile}
    assert quart[(1, "ELA")].growth == 15.0 and quart[(1, "ELA")].targets_met == 1
    assert quart[(3, "MATH")].growth == -5.0 and quart[(3, "MATH")].prior == 50.0


def test_outcomes_csv_round_trip_and_problems(tmp_path: Path) -> None:
    f = tmp_path / "outcomes.csv"
    write_outcomes_csv(OUTCOMES, f)
    assert read_outcomes_csv(f, POLICY, SCHOOLS) == tuple(OUTCOMES)
    f.write_text("school_id,indicator,prior,result,students\n"
                 "S9,ELA,1,2,30\nS1,READING,1,2,30\nS1,ELA,ten,2,-3\nS2,ELA,1,2,30\n"
                 "S2,ELA,1,3,30\n", encoding="utf-8")
    with pytest.raises(RosterError) as e:
        read_outcomes_csv(f, POLICY, SCHOOLS)
    text = str(e.value)
    assert "outcomes.csv has 5 problems" in text
    assert "line 2, column 'school_id': 'S9' is not a school of the district" in text
    assert "line 3, column 'indicator': 'READING' is not an indicator of the district " \
           "(CHRONIC, SUSP, ELA, MATH, GRAD, ELPI)" in text
    assert "line 4, column 'prior': 'ten' is not a number" in text
    assert "line 4, column 'students': '-3' is not a number of students" in text
    assert "line 6, column 'indicator': school S2 has ELA on line 5 already" in text
    f.write_text("school_id,indicator,result\n", encoding="utf-8")
    with pytest.raises(RosterError, match="line 1: the column.s. prior, students are missing"):
        read_outcomes_csv(f, POLICY, SCHOOLS)


def test_sample_outcomes_are_deterministic_and_have_small_groups(tmp_path: Path) -> None:
    assert run("init", tmp_path / "d.xlsx", "--sample").exit_code == 0
    inputs = read_district(tmp_path / "d.xlsx")
    outcomes = sample_outcomes(inputs)
    assert outcomes == sample_outcomes(inputs)
    assert any(o.students < MIN_STUDENTS for o in outcomes)
    assert {o.indicator for o in outcomes} == {"CHRONIC", "SUSP", "ELA", "MATH", "ELPI", "GRAD"}
    assert all(o.indicator != "GRAD" or o.school_id in
               {s.school_id for s in inputs.schools if s.level == "High"} for o in outcomes)


def test_the_season_closes_the_loop(tmp_path: Path) -> None:
    """init -> plans with measured goals -> consolidate -> results -> init --performance."""
    district = tmp_path / "d.xlsx"
    assert run("init", district, "--sample", "6").exit_code == 0
    inputs = read_district(district)
    returned = tmp_path / "returned"
    returned.mkdir()
    for spec in plan_specs(allocate(inputs)):
        wb = build_school_plan(spec)
        fill_plan_workbook(wb, spec.policy, demo_plan(spec))
        wb.save(returned / f"{spec.school.school_id}.xlsx")
    ledger = tmp_path / "season.sqlite"
    result = run("consolidate", district, returned, "--out", tmp_path / "totals.xlsx",
                 "--ledger", ledger)
    assert result.exit_code in (0, 1), result.output
    outcomes = tmp_path / "outcomes.csv"
    assert run("sample-data", district, "--outcomes", outcomes).exit_code == 0
    out, perf = tmp_path / "results.xlsx", tmp_path / "performance.csv"
    result = run("results", district, "--outcomes", outcomes, "--ledger", ledger,
                 "--performance", perf, "--out", out)
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(out, read_only=True)
    assert book.sheetnames == ["Results", "By goal", "By need quartile", "Performance points",
                               "Performance rule"]
    rows = list(book["Results"].iter_rows(min_row=5, values_only=True))
    measured = [r for r in rows if r[12]]
    assert measured, "the demo plans state goals in indicators"
    for r in measured:  # target met is the result against the target in the right direction
        better = r[5]
        assert r[15] == ("Yes" if (r[9] >= r[14] if better == "higher" else r[9] <= r[14])
                         else "No")
    with perf.open(encoding="utf-8-sig") as handle:
        points = {row["school_id"]: float(row["performance_points"])
                  for row in csv.DictReader(handle)}
    assert set(points) == {s.school_id for s in inputs.schools}
    d2 = tmp_path / "d2.xlsx"
    result = run("init", d2, "--sample", "6", "--performance", perf)
    assert result.exit_code == 0, result.output
    again = read_district(d2)
    assert {s.school_id: s.performance_points for s in again.schools} == points
    # the PERF pool follows the points: same pool, shares in proportion
    perf_result = next(r for r in allocate(again).components if r.component.code == "PERF")
    total = sum(points.values())
    for i, s in enumerate(again.schools):
        assert float(perf_result.amount[i]) == pytest.approx(
            400_000 * points[s.school_id] / total, abs=0.01)


def test_results_refuses_bad_input(tmp_path: Path) -> None:
    district = tmp_path / "d.xlsx"
    assert run("init", district, "--sample", "2").exit_code == 0
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text("school_id,indicator,prior,result,students\nX,ELA,1,2,3\n",
                        encoding="utf-8")
    result = run("results", district, "--outcomes", outcomes, "--out", tmp_path / "r.xlsx")
    assert result.exit_code == 1 and "'X' is not a school of the district" in result.output
    assert not (tmp_path / "r.xlsx").exists()
    result = run("results", district, "--outcomes", outcomes, "--out", outcomes)
    assert result.exit_code == 2
    result = run("results", district, "--outcomes", outcomes, "--minority", outcomes,
                 "--out", tmp_path / "r.xlsx")
    assert result.exit_code == 2 and "--minority goes with --staff" in result.output
    perf = tmp_path / "p.csv"
    perf.write_text("school_id,performance_points\n", encoding="utf-8")
    result = run("init", tmp_path / "e.xlsx", "--sample", "2", "--performance", perf)
    assert result.exit_code == 1 and "p.csv: 2 school(s) are missing" in result.output
