"""The fall true-up: hand-computed recomputations, rules, reconciliation, outputs, bad input.

The district of these tests is small enough to work out by hand: two elementary schools, one
grade span of weight 1.0, a base solved for a budget of $1,000,000, and an English-learner
supplement of $1,000 per pupil in a restricted fund (SUPP):

    spring  A: 100 pupils, 10 EL     B: 100 pupils, 20 EL
            base rate = 1,000,000 / 200 = $5,000.00
            A: GEN 500,000.00  SUPP 10,000.00     B: GEN 500,000.00  SUPP 20,000.00
"""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result

from ssfr_xl.cli import cli
from ssfr_xl.errors import PolicyError
from ssfr_xl.trueup import FundRule, Limit, apply_rule, parse_trueup_rules

POLICY = """
[district]
name = "Hand Unified"
fiscal_year = "2026-27"
budget = 1000000
base_rate_mode = "solve"
plan_deadline = "2026-03-13"
contact = "Budget Office"

[[grade_span]]
name = "TK-12"
first_grade = "TK"
last_grade = "12"
weight = 1.0

[[fund]]
code = "GEN"
name = "General"
restricted = false

[[fund]]
code = "SUPP"
name = "Supplemental"
restricted = true

[[component]]
code = "BASE"
name = "Base"
kind = "base"
fund = "GEN"

[[component]]
code = "EL"
name = "English learners"
kind = "per_pupil"
fund = "SUPP"
basis = ["el"]
rate = 1000

[[job_class]]
code = "TCH"
title = "Teacher"
object_code = "1100"
average_salary = 90000
benefits_rate = 0.3

[[object]]
code = "4300"
name = "Supplies"
group = "Supplies"

[[goal]]
code = "G1"
name = "Reading"
"""

HEADER = ("school_id,school_name,low_grade,high_grade,TK,K,1,2,3,4,5,6,7,8,9,10,11,12,"
          "frpm,el,swd,foster,homeless,unduplicated")


def roster(*rows: tuple[str, str, int, int]) -> str:
    """A roster CSV: (id, name, pupils in grade 1, EL)."""
    lines = [HEADER]
    for sid, name, pupils, el in rows:
        grades = ["0", "0", str(pupils)] + ["0"] * 11
        lines.append(",".join([sid, name, "K", "5", *grades, "0", str(el), "0", "0", "0",
                               str(el)]))
    return "\n".join(lines) + "\n"


def invoke(*args: object) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.fixture
def district(tmp_path: Path) -> Path:
    (tmp_path / "policy.toml").write_text(POLICY, encoding="utf-8")
    (tmp_path / "spring.csv").write_text(roster(("A1", "Alder", 100, 10),
                                                ("B2", "Birch", 100, 20)), encoding="utf-8")
    out = tmp_path / "district.xlsx"
    r = invoke("init", out, "--roster", tmp_path / "spring.csv", "--policy",
               tmp_path / "policy.toml")
    assert r.exit_code == 0, r.output
    return out


def rules_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(POLICY + "\n" + text, encoding="utf-8")
    return path


def trueup_rows(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return {(r["school_id"], r["fund"]): r for r in csv.DictReader(f)}


# --- the rules, by hand ------------------------------------------------------------------------

def test_an_increase_is_paid_in_full() -> None:
    c = apply_rule("GEN", 100_000.0, 104_250.50, FundRule(max_clawback=Limit(1000.0)))
    assert (c.rule, c.adjustment, c.withheld) == ("increase", 4250.50, 0.0)  # 104,250.50 - 100,000


def test_a_reduction_is_taken_back_without_rules() -> None:
    c = apply_rule("GEN", 100_000.0, 97_000.0, FundRule())
    assert (c.rule, c.adjustment, c.withheld) == ("reduction", -3000.0, 0.0)
    assert "lower the GEN allocation by $3,000.00" in c.reason


def test_a_reduction_below_the_threshold_is_not_taken() -> None:
    # 5% of 100,000 = 5,000; the drop of 3,000 is smaller: nothing taken, all 3,000 withheld
    c = apply_rule("GEN", 100_000.0, 97_000.0, FundRule(no_reduction_below=Limit(share=0.05)))
    assert (c.rule, c.adjustment, c.withheld, c.amended) == (
        "below threshold", 0.0, -3000.0, 100_000.0)
    assert "$5,000.00 (5% of the spring allocation)" in c.reason
    # at the threshold exactly the reduction is taken: 3,000 is not below 3,000
    c = apply_rule("GEN", 100_000.0, 97_000.0, FundRule(no_reduction_below=Limit(3000.0)))
    assert c.rule == "reduction" and c.adjustment == -3000.0


def test_a_clawback_is_capped() -> None:
    # drop 3,000, cap 2,000 dollars: take 2,000, withhold 1,000 (-3,000 - -2,000)
    c = apply_rule("GEN", 100_000.0, 97_000.0, FundRule(max_clawback=Limit(2000.0)))
    assert (c.rule, c.adjustment, c.withheld, c.amended) == (
        "clawback capped", -2000.0, -1000.0, 98_000.0)
    # a share cap: 1.5% of 80,000.00 = 1,200.00
    c = apply_rule("GEN", 80_000.0, 70_000.0, FundRule(max_clawback=Limit(share=0.015)))
    assert (c.adjustment, c.withheld) == (-1200.0, -8800.0)


def test_hold_harmless_takes_nothing_back_but_pays_increases() -> None:
    rule = FundRule(hold_harmless=True)
    down = apply_rule("EQM", 50_000.0, 0.0, rule)
    assert (down.rule, down.adjustment, down.withheld) == ("hold harmless", 0.0, -50_000.0)
    up = apply_rule("EQM", 50_000.0, 61_000.0, rule)
    assert (up.rule, up.adjustment) == ("increase", 11_000.0)


def test_the_section_is_parsed_with_per_fund_overrides() -> None:
    rules = parse_trueup_rules({"trueup": {"no_reduction_below": 500, "max_clawback": "5%",
                                           "fund": {"SUPP": {"hold_harmless": True}}}},
                               "p.toml", ["GEN", "SUPP"])
    assert rules.rule("GEN") == FundRule(False, Limit(500.0), Limit(share=0.05))
    # the fund's table starts from the section's settings
    assert rules.rule("SUPP") == FundRule(True, Limit(500.0), Limit(share=0.05))
    assert not rules.resolve_base


@pytest.mark.parametrize(("section", "message"), [
    ({"max_clawbak": 5}, "[trueup] has no setting 'max_clawbak'"),
    ({"max_clawback": "five percent"}, "max_clawback = 'five percent' is not a share"),
    ({"max_clawback": -1}, "max_clawback must be 0 or more dollars"),
    ({"no_reduction_below": "150%"}, "is more than 100%"),
    ({"hold_harmless": "yes"}, "hold_harmless must be true or false"),
    ({"resolve_base": 1}, "resolve_base must be true or false"),
    ({"fund": {"TITLE9": {"hold_harmless": True}}}, "'TITLE9' is not a fund of this district"),
    ({"fund": {"GEN": {"resolve_base": True}}}, "no setting 'resolve_base'"),
])
def test_a_malformed_section_names_the_file_and_the_key(section: dict, message: str) -> None:
    with pytest.raises(PolicyError, match=None) as e:
        parse_trueup_rules({"trueup": section}, "p.toml", ["GEN", "SUPP"])
    assert message in str(e.value) and "p.toml" in str(e.value)


# --- the whole true-up, by hand ----------------------------------------------------------------

def test_the_adopted_base_rate_is_kept(district: Path, tmp_path: Path) -> None:
    # fall: A 120 pupils, 12 EL; B 90 pupils, 20 EL. Base stays $5,000.00:
    #   A GEN 120 x 5,000 = 600,000.00 (+100,000.00)  SUPP 12 x 1,000 = 12,000.00 (+2,000.00)
    #   B GEN  90 x 5,000 = 450,000.00 ( -50,000.00)  SUPP 20,000.00 (no change)
    (tmp_path / "fall.csv").write_text(roster(("A1", "Alder", 120, 12),
                                              ("B2", "Birch", 90, 20)), encoding="utf-8")
    empty = rules_file(tmp_path, "")
    r = invoke("trueup", district, "--counts", tmp_path / "fall.csv", "--policy", empty,
               "--out", tmp_path / "t.xlsx", "--csv", tmp_path / "t.csv")
    assert r.exit_code == 0, r.output
    rows = trueup_rows(tmp_path / "t.csv")
    assert rows[("A1", "GEN")]["spring_allocation"] == "500000.00"
    assert rows[("A1", "GEN")]["fall_recomputed"] == "600000.00"
    assert rows[("A1", "GEN")]["adjustment"] == "100000.00"
    assert rows[("A1", "SUPP")]["adjustment"] == "2000.00"
    assert rows[("B2", "GEN")]["rule"] == "reduction"
    assert rows[("B2", "GEN")]["adjustment"] == "-50000.00"
    assert rows[("B2", "SUPP")]["rule"] == "no change"
    assert "Base rate $5,000.00 per weighted pupil (the adopted spring rate" in r.output
    # GEN: fall 1,050,000 - spring 1,000,000 - withheld 0 = adjustments +50,000 (100,000 - 50,000)
    assert "+$50,000.00  adjustments = fall - spring - withheld: OK" in r.output


def test_rules_apply_and_totals_reconcile(district: Path, tmp_path: Path) -> None:
    # same fall counts; no reduction below 1% (5,000 for B's GEN: its 50,000 drop is taken,
    # but capped at 5% = 25,000); SUPP held harmless
    (tmp_path / "fall.csv").write_text(roster(("A1", "Alder", 120, 12),
                                              ("B2", "Birch", 90, 14)), encoding="utf-8")
    rules = rules_file(tmp_path, '[trueup]\nno_reduction_below = "1%"\nmax_clawback = "5%"\n'
                                 '[trueup.fund.SUPP]\nhold_harmless = true\n')
    r = invoke("trueup", district, "--counts", tmp_path / "fall.csv", "--policy", rules,
               "--out", tmp_path / "t.xlsx", "--csv", tmp_path / "t.csv")
    assert r.exit_code == 0, r.output
    rows = trueup_rows(tmp_path / "t.csv")
    b = rows[("B2", "GEN")]
    assert (b["rule"], b["adjustment"], b["withheld_by_rule"], b["amended_allocation"]) == (
        "clawback capped", "-25000.00", "-25000.00", "475000.00")
    s = rows[("B2", "SUPP")]  # 14 EL: 14,000 vs 20,000, held harmless
    assert (s["rule"], s["adjustment"], s["withheld_by_rule"]) == (
        "hold harmless", "0.00", "-6000.00")
    # the Summary sheet: GEN spring 1,000,000; fall 1,050,000; change +50,000; withheld
    # -25,000; adjustments +75,000 (A +100,000, B -25,000) = 50,000 - (-25,000)
    wb = openpyxl.load_workbook(tmp_path / "t.xlsx")
    assert wb.sheetnames == ["Summary", "True-up", "Counts", "Rules"]
    summary = {row[0]: row for row in wb["Summary"].iter_rows(min_row=5, values_only=True)}
    assert summary["GEN"][2:9] == (1_000_000, 1_050_000, 50_000, -25_000, 75_000, 1_075_000,
                                   "OK")
    # SUPP: spring 30,000; fall 26,000; change -4,000 (A +2,000, B -6,000); withheld -6,000;
    # adjustments +2,000
    assert summary["SUPP"][2:9] == (30_000, 26_000, -4_000, -6_000, 2_000, 32_000, "OK")
    assert summary["All funds"][6] == 77_000
    assert wb["Summary"].freeze_panes == "A5"


def test_resolve_base_solves_again(district: Path, tmp_path: Path) -> None:
    # fall 120 + 90 = 210 pupils: base = 1,000,000 / 210 = 4,761.904761...;
    # A = 120 x 4,761.904761... = 571,428.571... -> 571,428.57 (+71,428.57)
    (tmp_path / "fall.csv").write_text(roster(("A1", "Alder", 120, 12),
                                              ("B2", "Birch", 90, 20)), encoding="utf-8")
    rules = rules_file(tmp_path, "[trueup]\nresolve_base = true\n")
    r = invoke("trueup", district, "--counts", tmp_path / "fall.csv", "--policy", rules,
               "--out", tmp_path / "t.xlsx", "--csv", tmp_path / "t.csv")
    assert r.exit_code == 0, r.output
    rows = trueup_rows(tmp_path / "t.csv")
    assert rows[("A1", "GEN")]["fall_recomputed"] == "571428.57"
    assert rows[("A1", "GEN")]["adjustment"] == "71428.57"
    # B = 90 x 4,761.904761... = 428,571.428... -> 428,571.43 (-71,428.57)
    assert rows[("B2", "GEN")]["adjustment"] == "-71428.57"
    assert "solved again" in r.output


def test_missing_and_new_schools_are_reported(district: Path, tmp_path: Path) -> None:
    (tmp_path / "fall.csv").write_text(roster(("A1", "Alder", 110, 10),
                                              ("C3", "Cedar", 50, 5)), encoding="utf-8")
    r = invoke("trueup", district, "--counts", tmp_path / "fall.csv", "--policy",
               rules_file(tmp_path, ""), "--out", tmp_path / "t.xlsx", "--csv",
               tmp_path / "t.csv")
    assert r.exit_code == 0, r.output
    rows = trueup_rows(tmp_path / "t.csv")
    assert rows[("B2", "GEN")]["rule"] == "no fall count"
    assert rows[("B2", "GEN")]["adjustment"] == "0.00"
    assert rows[("B2", "GEN")]["fall_recomputed"] == "500000.00"  # the spring amount stands
    assert rows[("A1", "GEN")]["adjustment"] == "50000.00"  # 10 more pupils x 5,000
    assert not any(sid == "C3" for sid, _f in rows)
    assert "B2 Birch" in r.output and "keep their spring allocation" in r.output
    assert "C3 Cedar" in r.output and "get no allocation" in r.output
    wb = openpyxl.load_workbook(tmp_path / "t.xlsx")
    status = {row[0]: row[2] for row in wb["Counts"].iter_rows(min_row=2, values_only=True)}
    assert status == {"A1": "counted", "B2": "missing from the fall counts",
                      "C3": "new in the fall counts"}


def test_counts_of_another_district_are_refused(district: Path, tmp_path: Path) -> None:
    (tmp_path / "fall.csv").write_text(roster(("Z9", "Zelkova", 50, 5)), encoding="utf-8")
    r = invoke("trueup", district, "--counts", tmp_path / "fall.csv", "--out",
               tmp_path / "t.xlsx")
    assert r.exit_code == 1
    assert "None of the 2 schools of Hand Unified is in fall.csv" in r.output
    assert not (tmp_path / "t.xlsx").exists()


def test_bad_counts_name_the_line(district: Path, tmp_path: Path) -> None:
    text = roster(("A1", "Alder", 120, 12)).replace(",12,0,0,0,12", ",twelve,0,0,0,12")
    (tmp_path / "fall.csv").write_text(text, encoding="utf-8")
    r = invoke("trueup", district, "--counts", tmp_path / "fall.csv", "--out",
               tmp_path / "t.xlsx")
    assert r.exit_code == 1
    assert "fall.csv line 2, column 'el'" in r.output
    assert "Traceback" not in r.output


def test_usage_errors(district: Path, tmp_path: Path) -> None:
    (tmp_path / "fall.csv").write_text(roster(("A1", "Alder", 120, 12)), encoding="utf-8")
    r = invoke("trueup", district, "--out", tmp_path / "t.xlsx")
    assert r.exit_code == 2 and "Give one of --counts" in r.output
    r = invoke("trueup", district, "--counts", tmp_path / "fall.csv", "--district", "64881",
               "--out", tmp_path / "t.xlsx")
    assert r.exit_code == 2 and "--district goes with --cde" in r.output
    # never over an input
    r = invoke("trueup", district, "--counts", tmp_path / "fall.csv", "--out", district)
    assert r.exit_code == 2 and "never writes over its inputs" in r.output
    r = invoke("trueup", district, "--counts", tmp_path / "fall.csv", "--out",
               tmp_path / "t.xlsx", "--csv", tmp_path / "fall.csv")
    assert r.exit_code == 2
    r = invoke("trueup", district, "--counts", tmp_path / "fall.csv", "--out",
               tmp_path / "t.csv")
    assert r.exit_code == 1 and "must be an .xlsx file" in r.output


def test_a_malformed_policy_is_an_error(district: Path, tmp_path: Path) -> None:
    (tmp_path / "fall.csv").write_text(roster(("A1", "Alder", 120, 12)), encoding="utf-8")
    bad = rules_file(tmp_path, "[trueup]\nmax_clawback = true\n")
    r = invoke("trueup", district, "--counts", tmp_path / "fall.csv", "--policy", bad,
               "--out", tmp_path / "t.xlsx")
    assert r.exit_code == 1
    assert "rules.toml [trueup]: max_clawback must be dollars" in r.output
    assert not (tmp_path / "t.xlsx").exists()
