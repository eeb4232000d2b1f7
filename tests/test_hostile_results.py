"""Hostile and careless inputs of `ssfr-xl results` and the performance rule: outcomes files,
reviewed performance points, the district's own indicators and plan goal measures typed oddly.
Every bad cell is named (file, line, column, what to type), nothing is written, no traceback."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from ssfr_xl.cli import cli
from ssfr_xl.district_book import read_district, write_district
from ssfr_xl.errors import PolicyError, RosterError
from ssfr_xl.formula import allocate
from ssfr_xl.layout import SchoolLayout
from ssfr_xl.layout import SchoolSheets as SS
from ssfr_xl.model import GRADES, DistrictInputs, School
from ssfr_xl.performance import performance_scores
from ssfr_xl.policy import load_policy, parse_policy
from ssfr_xl.reader import read_workbook
from ssfr_xl.results import school_results
from ssfr_xl.school_book import build_school_plan, plan_specs
from ssfr_xl.sources import sample_district
from ssfr_xl.sources.demo import demo_plan, fill_plan_workbook
from ssfr_xl.sources.outcomes import Outcome, read_outcomes_csv
from ssfr_xl.validate import check_plan, district_record

POLICY = load_policy(None).policy
TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "policy.toml"
HEADER = "school_id,indicator,prior,result,students\n"
ZERO = "01999996000013"  # a CDS code with a leading zero, as the sample district's


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="ssfr-xl")


def school(school_id: str, pupils: int, unduplicated: int) -> School:
    grades = dict.fromkeys(GRADES, 0)
    grades["4"] = pupils
    return School(school_id=school_id, name=f"School {school_id}", level="Elementary",
                  low_grade="4", high_grade="4", enrollment_by_grade=grades,
                  frpm=unduplicated, unduplicated=unduplicated)


SCHOOLS = [school(ZERO, 400, 40), school("S2", 300, 150)]


def outcome_problems(tmp_path: Path, text: str) -> str:
    f = tmp_path / "outcomes.csv"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(RosterError) as e:
        read_outcomes_csv(f, POLICY, SCHOOLS)
    return str(e.value)


# --- the outcomes file ------------------------------------------------------------------------

def test_excel_variants_are_read(tmp_path: Path) -> None:
    # BOM, semicolons, capitalised header, spaces around a code, blank lines, extra column
    f = tmp_path / "outcomes.csv"
    f.write_bytes(("\ufeffSchool_ID;Indicator;Prior;Result;Students;Note\n\n"
                   f"{ZERO}; MATH ;-20,5;-5;250;=HYPERLINK(\"x\")\n;;;;\n"
                   f"{ZERO};CHRONIC;12,500;11.5;300\n").encode())
    # a semicolon file has decimal commas: -20,5 is -20.5 and 12,500 is 12.5 (before: '-20,5'
    # was not a number and 12,500 was read as 12500); a point stays a point
    assert read_outcomes_csv(f, POLICY, SCHOOLS) == (Outcome(ZERO, "MATH", -20.5, -5.0, 250),
                                                     Outcome(ZERO, "CHRONIC", 12.5, 11.5, 300))


@pytest.mark.parametrize(("text", "message"), [
    ("", "outcomes.csv is empty — it needs the header school_id,indicator,prior,result"),
    (HEADER, "outcomes.csv has a header but no outcomes"),
    (HEADER + "\n,,,,\n", "outcomes.csv has a header but no outcomes"),
    ("school_id,indicator,prior\n", "the column(s) result, students are missing"),
    # before: the second 'result' column was silently ignored
    (HEADER.strip() + ",Result\n", "line 1, column 'result': the column appears twice "
                                    "(columns 4 and 6) — delete one of them."),
])
def test_outcomes_structure(tmp_path: Path, text: str, message: str) -> None:
    assert message in outcome_problems(tmp_path, text)


def test_school_ids_spoiled_by_a_spreadsheet_are_named(tmp_path: Path) -> None:
    text = outcome_problems(tmp_path, HEADER + "1999996000013,ELA,1,2,30\n"
                                               "1.99999600000E+12,ELA,1,2,30\n"
                                               "S9,ELA,1,2,30\n")
    assert (f"line 2, column 'school_id': '1999996000013' is not a school of the district; it "
            f"looks like {ZERO} with its leading zeros dropped by a spreadsheet — format the "
            f"column as Text and type {ZERO}") in text
    assert ("line 3, column 'school_id': '1.99999600000E+12' is not a school ID: a spreadsheet "
            "showed a long code as a number and lost its digits") in text
    assert ("line 4, column 'school_id': 'S9' is not a school of the district — use the "
            "school_id of the Schools sheet.") in text


def test_indicator_codes_typed_loosely_get_a_suggestion(tmp_path: Path) -> None:
    # lower case, and a Cyrillic "Е" (U+0415) that looks like the Latin E
    text = outcome_problems(tmp_path, HEADER + f"{ZERO},ela,1,2,30\n{ZERO},\u0415LA,1,2,30\n"
                                               f"{ZERO},READING,1,2,30\n")
    assert ("line 2, column 'indicator': 'ela' is not an indicator of the district (CHRONIC, "
            "SUSP, ELA, MATH, GRAD, ELPI) — type ELA exactly.") in text
    assert "line 3, column 'indicator': 'Е<U+0415>LA' is not an indicator" in text
    assert "'READING' is not an indicator of the district (CHRONIC, SUSP, ELA, MATH, GRAD, " \
           "ELPI)." in text


def test_values_no_indicator_can_have_are_named(tmp_path: Path) -> None:
    text = outcome_problems(tmp_path, HEADER +
                            f"{ZERO},ELA,nan,inf,30\n"  # not numbers
                            f"{ZERO},MATH,-1e308,1e308,30\n"  # the change would be inf
                            f"{ZERO},GRAD,1e300,-1e300,30\n"  # a percentage out of 0..100
                            f"{ZERO},SUSP,12%,n/a,30\n"  # text
                            f"{ZERO},CHRONIC,TRUE,101,30\n"
                            "S2,ELA,1,2,1e20\n"  # no school has 10^20 students
                            "S2,MATH,1,2,-3\n"
                            "S2,SUSP,1,2,2.5\n"
                            "S2,CHRONIC,0,100,30\n")  # the ends of a percentage are fine
    assert "line 2, column 'prior': 'nan' is not a number" in text
    assert "line 2, column 'result': 'inf' is not a number" in text
    assert "line 3, column 'prior': -1e308 is too large for an indicator" in text
    assert "line 3, column 'result': 1e308 is too large for an indicator" in text
    assert ("line 4, column 'prior': 1e300 is not a percentage — type a number from 0 to 100 "
            "(12.5 for 12.5%).") in text
    assert "line 4, column 'result': -1e300 is not a percentage" in text
    assert "line 5, column 'prior': '12%' is not a number" in text
    assert "line 5, column 'result': 'n/a' is not a number" in text
    assert "line 6, column 'prior': 'TRUE' is not a number" in text
    assert "line 6, column 'result': 101 is not a percentage" in text
    for line in (7, 8, 9):
        assert f"line {line}, column 'students':" in text
    assert "line 10" not in text
    assert "outcomes.csv has 13 problems" in text


def test_duplicate_rows_are_named(tmp_path: Path) -> None:
    text = outcome_problems(tmp_path, HEADER + f"{ZERO},ELA,1,2,30\n{ZERO}, ELA,1,2,30\n")
    assert (f"line 3, column 'indicator': school {ZERO} has ELA on line 2 already — keep one "
            "row per school and indicator.") in text


# --- the performance rule: small n, zero pupils -----------------------------------------------

def test_a_school_without_pupils_gets_no_points() -> None:
    schools = [school("S1", 400, 40), school("S2", 300, 150), school("S3", 200, 140),
               school("E0", 0, 0)]
    outcomes = [Outcome("S1", "ELA", -10, 5, 250),  # +15 points: credit 1.0 -> 100.0
                Outcome("S2", "CHRONIC", 20, 18, 400),  # 2 lower / 5 -> 0.4 -> 40.0
                Outcome("S3", "ELPI", 40, 60, 10)]  # 10 students: set aside -> median
    scores = {s.school.school_id: s for s in performance_scores(schools, POLICY, outcomes)}
    assert (scores["S1"].points, scores["S2"].points) == (100.0, 40.0)
    assert scores["S3"].points == 70.0  # median of 100 and 40 = 70.0: small is not punished
    # before: the empty school got the median too, and a share of the pool with no pupils
    assert scores["E0"].points == 0.0 and scores["E0"].how.startswith("no pupils")
    # ...and in the results it has no need quartile (it was put in Q1)
    rows = school_results(schools, POLICY, [Outcome("E0", "ELA", 1, 2, 0)]).rows
    assert rows[0].need_quartile is None
    assert school_results(schools, POLICY, [Outcome("E0", "ELA", 1, 2, 0)]).by_quartile == ()


def test_ties_at_quartile_boundaries_go_by_school_id() -> None:
    # 5 schools, 4 of them at 50% need: rank r of 5 -> floor(4r/5)+1 = 1, 1, 2, 3, 4; the
    # tied schools A..D are split by their ID, so the result does not depend on file order
    schools = [school(i, 100, 50) for i in ("D", "B", "A", "C")] + [school("E", 100, 10)]
    outcomes = [Outcome(s.school_id, "ELA", 0, 1, 20) for s in reversed(schools)]
    q = {r.school.school_id: r.need_quartile
         for r in school_results(schools, POLICY, outcomes).rows}
    assert q == {"E": 1, "A": 1, "B": 2, "C": 3, "D": 4}


# --- reviewed performance points --------------------------------------------------------------

@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    path = tmp_path_factory.mktemp("hostile") / "d.xlsx"
    assert run("init", path, "--sample", "3").exit_code == 0
    return path, [s.school_id for s in read_district(path).schools]


def test_points_beyond_the_rule_are_refused(district, tmp_path: Path) -> None:
    path, ids = district
    perf = tmp_path / "performance.csv"
    perf.write_text("school_id,performance_points\n" + f"{ids[0]},1e300\n{ids[1]},100.5\n"
                    f"{ids[2]},100\n", encoding="utf-8")
    out = tmp_path / "next.xlsx"
    result = run("init", out, "--sample", "3", "--performance", perf)
    # before: an internal error (OverflowError in the pool's sum)
    assert result.exit_code == 1 and "internal error" not in result.output
    assert ("performance.csv line 2, column 'performance_points': 1e300 is more than 100 — "
            "type a number of points, from 0 to 100.") in result.output
    assert "line 3, column 'performance_points': 100.5 is more than 100" in result.output
    assert "line 4" not in result.output and "missing" not in result.output
    assert not out.exists()
    perf.write_text("school_id,performance_points\n", encoding="utf-8")
    result = run("init", out, "--sample", "3", "--performance", perf)
    assert result.exit_code == 1 and "3 school(s) are missing" in result.output


def test_results_refuses_bad_outcomes_and_writes_nothing(district, tmp_path: Path) -> None:
    path, ids = district
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text(HEADER + f"{ids[0].lstrip('0')},ELA,1,2,30\n", encoding="utf-8")
    out, perf = tmp_path / "r.xlsx", tmp_path / "p.csv"
    result = run("results", path, "--outcomes", outcomes, "--out", out, "--performance", perf)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"it looks like {ids[0]} with its leading zeros dropped" in result.output
    assert not out.exists() and not perf.exists()
    result = run("results", path, "--outcomes", outcomes, "--out", outcomes)
    assert result.exit_code == 2  # never replace an input


# --- the district's own indicators ------------------------------------------------------------

@pytest.mark.parametrize(("extra", "message"), [
    # a Dashboard code in another case: two codes a plan could not tell apart
    ('code = "ela"', "indicator codes 'ELA' and 'ela' differ only in case"),
    ('code = "\u0415LA"', "indicator code 'ЕLA' may hold only Latin letters, digits, - and _"),
    ('code = "AT TEND"', "indicator code 'AT TEND' may hold only Latin letters"),
    ('code = "=HYPERLINK(1)"', "indicator code '=HYPERLINK(1)' may hold only Latin letters"),
    ('code = "X"\ndirection = "better"', 'direction must be "up" (higher is better) or "down"'),
    ('code = "X"\n[[indicator]]\ncode = "X"', "indicator code 'X' is listed twice"),
])
def test_bad_district_indicators_are_named(extra: str, message: str) -> None:
    with pytest.raises(PolicyError) as e:
        parse_policy(tomllib.loads(TEMPLATE.read_text(encoding="utf-8") +
                                   f"\n[[indicator]]\n{extra}\n"))
    assert message in str(e.value)


def test_a_district_indicator_without_unit_is_a_percentage(tmp_path: Path) -> None:
    policy = parse_policy(tomllib.loads(TEMPLATE.read_text(encoding="utf-8") +
                                        '\n[[indicator]]\ncode = "ATTEND"\n')).policy
    f = tmp_path / "outcomes.csv"
    f.write_text(HEADER + f"{ZERO},ATTEND,94.5,180,30\n", encoding="utf-8")
    with pytest.raises(RosterError) as e:
        read_outcomes_csv(f, policy, SCHOOLS)
    assert "line 2, column 'result': 180 is not a percentage" in str(e.value)


# --- goal measures typed oddly on a returned plan ---------------------------------------------

def test_odd_goal_measures_are_named_by_validate(tmp_path: Path) -> None:
    district, schools = sample_district(2)
    pf = load_policy(None)
    inputs = DistrictInputs(pf.district(district.name, district.cds_code, schools), pf.policy,
                            tuple(schools))
    write_district(tmp_path / "d.xlsx", inputs)
    spec = plan_specs(allocate(read_district(tmp_path / "d.xlsx")))[0]
    wb = build_school_plan(spec)
    fill_plan_workbook(wb, spec.policy, demo_plan(spec))
    t = SchoolLayout(spec.policy).goals
    ws = wb[t.sheet]
    cases = [("ELA", True, 5),  # a yes/no value is not a number
             ("GRAD", dt.datetime(2026, 1, 5), 90),  # a date is Excel's serial 46027
             ("\u0415LA", 1, 5),  # Cyrillic E
             ("CHRONIC", "12%", "10%"),  # text
             ("CHRONIC", 15, 15)]  # no improvement: the target is on the wrong side
    for i, (indicator, baseline, target) in enumerate(cases):
        for key, value in (("school_goal", "A goal"), ("strategy", "What"),
                           ("measure", "How"), ("indicator", indicator),
                           ("baseline", baseline), ("target", target)):
            ws[t.cell(key, i)] = value
    wb.save(tmp_path / "p.xlsx")
    check = check_plan(read_workbook(tmp_path / "p.xlsx"), district_record(tmp_path / "d.xlsx"))
    found = {(f.code, f.cell): f.message for f in check.findings if f.sheet == SS.GOALS}
    assert ("true-false-value", t.cell("baseline", 0)) in found
    # 90 is not above 46027 (the date's serial): the message shows the number Excel holds
    assert "the target 90 is not above the baseline 46027" in \
        found[("target-direction", t.cell("target", 1))]
    assert "Did you mean 'ELA'?" in found[("unknown-indicator", t.cell("indicator", 2))]
    assert ("not-a-number", t.cell("baseline", 3)) in found
    assert ("not-a-number", t.cell("target", 3)) in found
    assert "the target 15 is not below the baseline 15" in \
        found[("target-direction", t.cell("target", 4))]
    assert check.status == "rejected"


def test_percent_typed_as_excel_percentages_is_not_judged() -> None:
    # a principal types 12% and 10% in cells Excel formats as percent: the plan holds 0.12 and
    # 0.1 while the outcomes are in percent (12.5). Before: "not met" (11 is not <= 0.1).
    from ssfr_xl.plan import GoalEntry
    from ssfr_xl.results import SchoolPlan

    plans = {ZERO: SchoolPlan((), (GoalEntry(7, "G4", "Attend", "Call", "Rate", "CHRONIC",
                                             0.12, 0.10),)),
             "S2": SchoolPlan((), (GoalEntry(7, "G4", "Attend", "Call", "Rate", "CHRONIC",
                                             12.0, 10.0),))}
    outcomes = [Outcome(ZERO, "CHRONIC", 12.5, 11.0, 300), Outcome("S2", "CHRONIC", 12.5, 11.0,
                                                                   300)]
    rows = {r.school.school_id: r for r in school_results(SCHOOLS, POLICY, outcomes,
                                                          plans).rows}
    assert rows[ZERO].target_met is None
    assert rows[ZERO].note.startswith("Not judged: the plan's baseline 0.12 and target 0.1 "
                                      "look like 12% and 10% typed as percentages")
    # typed right: 11 is not at or below 10 (lower is better): not met, no note
    assert rows["S2"].target_met is False and rows["S2"].note == ""
    # a target of 0.5% stated as 0.5 against outcomes of 0.4: a real small rate, judged
    small = school_results(SCHOOLS, POLICY, [Outcome("S2", "SUSP", 0.8, 0.4, 300)], {
        "S2": SchoolPlan((), (GoalEntry(7, "G4", "", "", "", "SUSP", 0.8, 0.5),))}).rows[0]
    assert small.target_met is True and small.note == ""


def test_results_warns_when_no_school_earns_points(district, tmp_path: Path) -> None:
    path, ids = district
    # every outcome declines (ELA down 5 points: growth -5, credit 0): all schools 0 points
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text(HEADER + "".join(f"{i},ELA,10,5,30\n" for i in ids), encoding="utf-8")
    perf = tmp_path / "p.csv"
    result = run("results", path, "--outcomes", outcomes, "--out", tmp_path / "r.xlsx",
                 "--performance", perf)
    assert result.exit_code == 0, result.output
    assert "Warning: no school has performance points" in result.output
    assert "pool would go to no school" in result.output
    # the ids keep their leading zero in quotes, as every CSV export (exports.csv_text)
    assert perf.read_text(encoding="utf-8-sig").splitlines()[1:] == [f'"{i}",0' for i in ids]


def test_another_districts_ledger_is_refused(tmp_path: Path) -> None:
    # district A's season in the ledger; district B (other school ids) asks for results with it.
    # Before: every school silently had "no plan" and no goal was measured.
    a = tmp_path / "a.xlsx"
    assert run("init", a, "--sample", "2").exit_code == 0
    assert run("build", a, "--out", tmp_path / "plans").exit_code == 0
    ledger = tmp_path / "season.sqlite"
    run("consolidate", a, tmp_path / "plans", "--out", tmp_path / "t.xlsx", "--ledger", ledger)
    roster = tmp_path / "roster.csv"
    roster.write_text("".join(line.replace("01999996000", "X", 1) + "\n" for line in
                              TEMPLATE.with_name("roster.csv").read_text(
                                  encoding="utf-8-sig").splitlines()), encoding="utf-8")
    b = tmp_path / "b.xlsx"
    assert run("init", b, "--roster", roster).exit_code == 0
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text(HEADER + "X013,ELA,1,2,30\n", encoding="utf-8")
    out = tmp_path / "r.xlsx"
    result = run("results", b, "--outcomes", outcomes, "--ledger", ledger, "--out", out)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert ("season.sqlite is not this district's: none of the 2 schools of its "
            "2026-27 season (e.g. 01999996000013) is a school of the district workbook") in \
        result.output
    assert not out.exists()
    # the right district's ledger is fine
    outcomes.write_text(HEADER + "01999996000013,ELA,1,2,30\n", encoding="utf-8")
    assert run("results", a, "--outcomes", outcomes, "--ledger", ledger, "--out", out
               ).exit_code == 0


def test_percent_goals_outside_0_to_100_are_not_judged() -> None:
    # a plan's CHRONIC target of -5 (%) or baseline of 150: before, "not met" / "met" on a
    # number no rate can be
    from ssfr_xl.plan import GoalEntry
    from ssfr_xl.results import SchoolPlan

    plans = {ZERO: SchoolPlan((), (GoalEntry(7, "G4", "", "", "", "CHRONIC", 12.0, -5.0),)),
             "S2": SchoolPlan((), (GoalEntry(7, "G4", "", "", "", "GRAD", 150.0, 160.0),))}
    rows = {r.school.school_id: r for r in school_results(SCHOOLS, POLICY, [
        Outcome(ZERO, "CHRONIC", 12.5, 11.0, 300), Outcome("S2", "GRAD", 90, 95, 60)],
        plans).rows}
    assert rows[ZERO].target_met is None and rows["S2"].target_met is None
    assert rows[ZERO].note == ("Not judged: the plan's baseline 12 or target -5 is not a "
                               "percentage from 0 to 100.")
    # points are not a percentage: an ELA target of -40 (below standard) is judged
    ela = school_results(SCHOOLS, POLICY, [Outcome(ZERO, "ELA", -50, -38, 300)], {
        ZERO: SchoolPlan((), (GoalEntry(7, "G1", "", "", "", "ELA", -50.0, -40.0),))}).rows[0]
    assert ela.target_met is True and ela.note == ""  # -38 >= -40
