"""Scenarios: a hand-computed 3-school district under a weight change, and hostile scenario
files (each message names the file, the key and what to type instead)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssfr_xl.compare import compare
from ssfr_xl.errors import FileError, PolicyError
from ssfr_xl.model import (
    GRADES,
    Component,
    District,
    DistrictInputs,
    Fund,
    GradeSpan,
    Policy,
    School,
)
from ssfr_xl.policy import load_policy
from ssfr_xl.scenario import (
    CHECK_APPLIED,
    CHECK_BLANK,
    CHECK_CHOOSE,
    CHECK_HIGH,
    CHECK_LOW,
    CHECK_NUMBER,
    CHECK_TWICE,
    Scenario,
    load_scenario,
    parameters,
    read_choices,
    scenario_from_choices,
)
from ssfr_xl.sources import sample_district


def three_schools() -> DistrictInputs:
    """Three schools of 100, 100 and 200 pupils (all in kindergarten), 30, 10 and 0 English
    learners (also the unduplicated pupils); a base with every span weighted 1.0 and an EL
    weight of 0.25 on the base; a budget of $861,000 the base rate is solved for:
    base units 400 + 0.25 x 40 = 410, base rate 861,000 / 410 = $2,100."""
    def school(n: int, pupils: int, el: int) -> School:
        grades = dict.fromkeys(GRADES, 0)
        grades["K"] = pupils
        return School(f"S{n}", f"School {n}", "Elementary", "K", "K", grades, el=el,
                      unduplicated=el)

    spans = (GradeSpan("TK-3", "TK", "3", 1.0), GradeSpan("4-6", "4", "6", 1.0),
             GradeSpan("7-8", "7", "8", 1.0), GradeSpan("9-12", "9", "12", 1.0))
    policy = Policy(spans=spans, funds=(Fund("GEN", "General Fund", False),), components=(
        Component("BASE", "Base", "base", "GEN"),
        Component("EL", "English learners", "per_pupil", "GEN", basis=("el",),
                  rate_unit="weight", rate=0.25)))
    district = District("Three Schools", "0199999", "2026-27", budget=861_000.0)
    return DistrictInputs(district, policy, (school(1, 100, 30), school(2, 100, 10),
                                             school(3, 200, 0)))


def write(tmp_path: Path, text: str, name: str = "scenario.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the hand-computed district -----------------------------------------------------------------


def test_doubling_the_el_weight_moves_money_from_the_school_without_english_learners(
        tmp_path: Path) -> None:
    inputs = three_schools()
    scenario = load_scenario(write(tmp_path, 'name = "EL weight 0.50"\n'
                                   "[component.EL]\nrate = 0.5\n"), inputs)
    c = compare(inputs, [scenario])
    # today, base rate $2,100: School 1 base 100 x 2,100 = 210,000 + EL 30 x 0.25 x 2,100 =
    # 15,750 -> 225,750; School 2 210,000 + 10 x 525 = 5,250 -> 215,250; School 3 420,000
    assert c.today.result.base_rate == pytest.approx(2100.0)
    assert c.today.totals == [225_750.00, 215_250.00, 420_000.00]
    # EL weight 0.50: base units 400 + 0.5 x 40 = 420, base rate 861,000 / 420 = $2,050;
    # School 1 205,000 + 30 x 0.5 x 2,050 = 30,750 -> 235,750 (+10,000, +4.43%);
    # School 2 205,000 + 10 x 1,025 = 10,250 -> 215,250 (no change);
    # School 3 200 x 2,050 = 410,000 (-10,000, -2.38%); the total stays 861,000
    run = c.runs[0]
    assert run.result.base_rate == pytest.approx(2050.0)
    assert run.totals == [235_750.00, 215_250.00, 410_000.00]
    changes = c.school_changes(0)
    assert [ch.change for ch in changes] == [10_000.00, 0.00, -10_000.00]
    assert [ch.verdict for ch in changes] == ["Winner", "Unchanged", "Loser"]
    assert changes[0].change_share == pytest.approx(10_000 / 225_750)
    assert changes[2].change_share == pytest.approx(-10_000 / 420_000)
    # per pupil: 2,257.50 -> 2,357.50 (+100); 2,152.50 unchanged; 2,100 -> 2,050 (-50)
    assert [ch.change_per_pupil for ch in changes] == [100.00, 0.00, -50.00]
    assert [w.school.school_id for w in c.winners(0)] == ["S1"]
    assert [w.school.school_id for w in c.losers(0)] == ["S3"]
    # the EL component alone: School 1 15,750 -> 30,750
    el = [r.component.code for r in run.result.components].index("EL")
    assert (c.today.amount(el, 0), run.amount(el, 0)) == (15_750.00, 30_750.00)


def test_a_budget_per_pupil_sets_the_budget(tmp_path: Path) -> None:
    inputs = three_schools()
    scenario = load_scenario(write(tmp_path, "[district]\nbudget_per_pupil = 2204.5\n"), inputs)
    overlaid = scenario.apply(inputs)
    # 2,204.50 x 400 pupils = 881,800 (rounded to the dollar, as init does)
    assert overlaid.district.budget == 881_800.0
    # base rate 881,800 / 410 = 2,150.73...: every school gains
    assert [ch.verdict for ch in compare(inputs, [scenario]).school_changes(0)] == ["Winner"] * 3


def test_changes_lists_only_what_differs(tmp_path: Path) -> None:
    inputs = three_schools()
    s = load_scenario(write(tmp_path, "[component.EL]\nrate = 0.25\n[district]\n"
                            "budget = 900000\n"), inputs)
    assert [(p.key, v) for p, v in s.changes(inputs)] == [("district.budget", 900_000.0)]
    assert s.name == "scenario"  # the file's stem when the file gives no name


def test_the_sheet_reads_choices_as_the_engine_does() -> None:
    inputs = three_schools()
    labels = [p.label for p in parameters(inputs)]
    assert labels == ["Budget", "Budget per pupil (sets the budget)",
                      "Fixed base rate (when the mode is fixed)", "Grade span TK-3 weight",
                      "Grade span 4-6 weight", "Grade span 7-8 weight", "Grade span 9-12 weight",
                      "EL rate"]
    rows = [("EL rate", 0.5), ("EL rate", 0.75), ("Budget", None), ("nonsense", 1),
            ("Grade span 4-6 weight", "1.2"), ("Grade span TK-3 weight", -1),
            ("Grade span 7-8 weight", 11), ("", 5)]
    read = read_choices(inputs, rows)
    assert [c.check for c in read] == [CHECK_APPLIED, CHECK_TWICE, CHECK_BLANK, CHECK_CHOOSE,
                                       CHECK_NUMBER, CHECK_LOW, CHECK_HIGH, ""]
    assert [c.applied for c in read] == [1, 0, 0, 0, 0, 0, 0, 0]
    assert read[0].number == 8 and read[0].today == 0.25
    assert scenario_from_choices(inputs, rows).values == {"component.EL.rate": 0.5}


def test_the_budget_wins_over_a_budget_per_pupil_on_the_sheet() -> None:
    inputs = three_schools()
    s = scenario_from_choices(inputs, [("Budget per pupil (sets the budget)", 3000),
                                       ("Budget", 900_000)])
    assert s.apply(inputs).district.budget == 900_000.0
    s = scenario_from_choices(inputs, [("Budget", 900_000),
                                       ("Budget per pupil (sets the budget)", 3000)])
    assert s.apply(inputs).district.budget == 900_000.0


def test_the_shipped_example_scenario_reads_against_the_sample_district() -> None:
    info, schools = sample_district(12)
    policy = load_policy()
    inputs = DistrictInputs(policy.district(info.name, info.cds_code, schools), policy.policy,
                            tuple(schools))
    example = Path(__file__).resolve().parents[1] / "templates" / "scenario-example.toml"
    s = load_scenario(example, inputs)
    assert s.name and s.values
    assert all(v != p.today for p, v in s.changes(inputs))


# --- hostile scenario files ---------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ("[component.EL\nrate = 1\n", "scenario.toml: not valid TOML"),
    ("[component.ELL]\nrate = 0.3\n",
     "scenario.toml: [component.ELL]: no component 'ELL' in the district workbook; its "
     "components are: BASE, EL."),
    ("[component.EL]\nthreshold = 0.3\n",
     "scenario.toml: [component.EL] 'threshold': EL (per_pupil) has no such parameter; it can "
     "change: rate."),
    ("[component.BASE]\nrate = 1\n",
     "scenario.toml: [component.BASE] 'rate': BASE (base) has no such parameter; it has no "
     "parameters."),
    ("[component.EL]\nrate = -0.25\n",
     "scenario.toml: [component.EL] rate cannot be negative (-0.25); today it is 0.25."),
    ('[component.EL]\nrate = "0.5"\n',
     "scenario.toml: [component.EL] rate must be a number (type 0.5 without quotes), "
     "not '0.5'."),
    ('[component.EL]\nrate = "half"\n',
     "scenario.toml: [component.EL] rate must be a number (type a number such as 0.25), "
     "not 'half'."),
    ("[component.EL]\nrate = true\n", "[component.EL] rate must be a number"),
    ("[district]\nbudget = 1\nbudget_per_pupil = 2\n",
     "scenario.toml: [district] gives both budget and budget_per_pupil; keep one."),
    ("[district]\nbase_rate = 2000\n",
     "scenario.toml: [district] base_rate changes nothing in this district (the base rate is "
     "solved from the budget, not fixed); it can change: budget, budget_per_pupil."),
    ("[district]\ntransition_max_loss = 0.02\n",
     "[district] transition_max_loss changes nothing in this district (the policy has no "
     "transition component)"),
    ("[district]\nbudgett = 1\n",
     "scenario.toml: [district] 'budgett' is not a setting a scenario changes; it can change: "
     "budget, budget_per_pupil."),
    ('[grade_span."K-3"]\nweight = 1.1\n',
     "scenario.toml: [grade_span.\"K-3\"]: no grade span 'K-3' in the district workbook; its "
     "grade spans are: TK-3, 4-6, 7-8, 9-12."),
    ('[grade_span."TK-3"]\nweight = 11\n',
     "scenario.toml: [grade_span.\"TK-3\"] weight must be at most 10, not 11."),
    ("component = 3\n", "scenario.toml: [component] must be a table"),
    ("[weights]\nEL = 1\n", "scenario.toml: unknown key 'weights'"),
    ("name = 3\n", "scenario.toml: name must be text in quotes, not 3."),
])
def test_hostile_scenario_files_say_what_to_change(tmp_path: Path, text: str,
                                                   message: str) -> None:
    with pytest.raises(PolicyError) as e:
        load_scenario(write(tmp_path, text), three_schools())
    assert message in str(e.value)


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as e:
        load_scenario(write(tmp_path, "[component.EL]\nrate = -1\n[component.X]\nrate = 1\n"
                            "[district]\nbudget = \"lots\"\n"), three_schools())
    assert str(e.value).count("\n  - ") == 3


def test_a_share_above_one_is_explained(tmp_path: Path) -> None:
    info, schools = sample_district(6)
    policy = load_policy()
    inputs = DistrictInputs(policy.district(info.name, info.cds_code, schools), policy.policy,
                            tuple(schools))
    with pytest.raises(PolicyError, match=r"\[district\] transition_max_loss must be at most "
                                          r"1 \(a share: 0.02 is 2%\), not 2\."):
        load_scenario(write(tmp_path, "[district]\ntransition_max_loss = 2\n"), inputs)
    with pytest.raises(PolicyError, match=r"\[component.FOUND.level\] 'Primary': FOUND has "
                                          r"no level 'Primary'; its levels are: Elementary"):
        load_scenario(write(tmp_path, "[component.FOUND.level]\nPrimary = 1\n"), inputs)


def test_files_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(FileError, match="Scenario file not found"):
        load_scenario(tmp_path / "missing.toml", three_schools())
    with pytest.raises(FileError, match="is a folder"):
        load_scenario(tmp_path, three_schools())
    bad = tmp_path / "latin1.toml"
    bad.write_bytes('name = "Escuela Peña"\n'.encode("latin-1"))
    with pytest.raises(PolicyError, match="latin1.toml: not a text file in UTF-8"):
        load_scenario(bad, three_schools())


def test_apply_refuses_a_key_that_is_no_parameter() -> None:
    with pytest.raises(PolicyError, match="component.EL.threshold"):
        Scenario("x", {"component.EL.threshold": 0.5}).apply(three_schools())
