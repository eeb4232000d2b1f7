"""The allocation engine: hand-computed districts for every component kind, then properties."""

from __future__ import annotations

import copy
from dataclasses import replace

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings

from ssfr_xl.formula import AllocationResult, ComponentResult, allocate
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
from ssfr_xl.policy import check_policy, load_policy
from ssfr_xl.sources import sample_district
from tests.strategies import policy_settings, random_inputs, random_inputs_seeded

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

SPANS = (
    GradeSpan("TK-3", "TK", "3", 1.10),
    GradeSpan("4-6", "4", "6", 1.00),
    GradeSpan("7-8", "7", "8", 1.05),
    GradeSpan("9-12", "9", "12", 1.20),
)
FUNDS = (
    Fund("GEN", "General Fund", restricted=False),
    Fund("SC", "LCFF Supplemental & Concentration", restricted=True),
    Fund("T1", "Title I", restricted=True),
)
TABLE_COLUMNS = ["school_id", "school_name", "component", "fund", "amount"]


def school(n: int, level: str = "Elementary", grades: dict[str, int] | None = None,
           **counts: float) -> School:
    """A school with the given pupils by grade (others 0) and need counts."""
    by_grade = dict.fromkeys(GRADES, 0)
    by_grade.update(grades or {})
    served = [g for g in GRADES if by_grade[g]] or ["K"]
    return School(
        school_id=f"0199999{n:07d}",
        name=f"School {n}",
        level=level,
        low_grade=served[0],
        high_grade=served[-1],
        enrollment_by_grade=by_grade,
        **counts,  # type: ignore[arg-type]
    )


def comp(code: str, kind: str, fund: str = "GEN", **params: object) -> Component:
    """A component with a name made from its code."""
    return Component(code=code, name=code.title(), kind=kind, fund=fund, **params)  # type: ignore[arg-type]


def run(schools: list[School], components: list[Component], *, budget: float = 0.0,
        mode: str = "fixed", base_rate: float = 0.0, max_loss: float = 0.0,
        spans: tuple[GradeSpan, ...] = SPANS) -> AllocationResult:
    """Allocate a hand-built district."""
    district = District(
        name="Test Unified",
        cds_code="0199999",
        fiscal_year="2026-27",
        budget=budget,
        base_rate_mode=mode,  # type: ignore[arg-type]
        base_rate=base_rate,
        transition_max_loss=max_loss,
    )
    policy = Policy(spans=spans, funds=FUNDS, components=tuple(components))
    return allocate(DistrictInputs(district, policy, tuple(schools)))


def part(result: AllocationResult, code: str) -> ComponentResult:
    """The result of one component."""
    return next(r for r in result.components if r.component.code == code)


def amounts(result: AllocationResult, code: str) -> list[float]:
    """A component's amounts, school by school."""
    return [float(v) for v in part(result, code).amount]


# --- base ----------------------------------------------------------------------------------


def test_base_is_span_weighted_enrollment_times_base_rate() -> None:
    schools = [
        school(1, grades={"K": 20, "1": 20, "4": 30}),  # 40 x 1.10 + 30 x 1.00 = 74
        school(2, "Span", grades={"7": 50, "9": 10}),  # 50 x 1.05 + 10 x 1.20 = 64.5
        school(3),  # nobody enrolled
        school(4, "High", grades={"12": 3}),  # 3 x 1.20 = 3.6
    ]
    result = run(schools, [comp("BASE", "base")], base_rate=4321.37)
    assert part(result, "BASE").driver.tolist() == pytest.approx([74, 64.5, 0, 3.6])
    assert result.base_rate == 4321.37
    assert amounts(result, "BASE") == [
        319_781.38,  # 74 x 4,321.37
        278_728.37,  # 64.5 x 4,321.37 = 278,728.365: half a cent, away from zero
        0.0,
        15_556.93,  # 3.6 x 4,321.37 = 15,556.932
    ]


def test_base_rate_solved_to_the_budget() -> None:
    schools = [school(i, grades={"5": 100}) for i in (1, 2, 3)]  # 100 units each
    result = run(schools, [comp("BASE", "base")], budget=1_000_000, mode="solve")
    assert result.base_units == 300
    assert result.fixed_unrestricted == 0
    assert result.base_rate == pytest.approx(1_000_000 / 300)  # 3,333.333...
    assert amounts(result, "BASE") == [333_333.33] * 3
    assert result.unrestricted_total == 999_999.99
    assert result.rounding_difference == 0.01  # the cent three roundings lost


# --- per pupil and counting ----------------------------------------------------------------


def test_per_pupil_in_dollars_and_as_a_weight_of_the_base() -> None:
    schools = [school(1, grades={"4": 100}, frpm=30, el=12), school(2, grades={"4": 80}, el=7)]
    components = [
        comp("POV", "per_pupil", basis=("frpm",), rate=517.25),
        comp("EL", "per_pupil", basis=("el",), rate_unit="weight", rate=0.19),
    ]
    result = run(schools, components, base_rate=5000)
    assert amounts(result, "POV") == [15_517.50, 0.0]  # 30 x 517.25
    assert part(result, "EL").rate == pytest.approx(950)  # 0.19 x 5,000
    assert amounts(result, "EL") == [11_400.0, 6_650.0]  # 12 x 950, 7 x 950


def test_duplicated_adds_the_basis_unduplicated_counts_each_pupil_once() -> None:
    basis = ("frpm", "el", "foster", "homeless")
    schools = [
        # 40 + 25 + 2 + 3 = 70 needs, carried by 55 pupils
        school(1, grades={"4": 100}, frpm=40, el=25, foster=2, homeless=3, unduplicated=55),
        # 10 + 15 + 0 + 5 = 30; the unduplicated column (80) is higher, so 30 counts
        school(2, grades={"4": 100}, frpm=10, el=15, homeless=5, unduplicated=80),
    ]
    components = [
        comp("DUP", "per_pupil", "SC", basis=basis, counting="duplicated", rate=650),
        comp("UNDUP", "per_pupil", "SC", basis=basis, counting="unduplicated", rate=650),
    ]
    result = run(schools, components)
    assert part(result, "DUP").driver.tolist() == [70, 30]
    assert part(result, "UNDUP").driver.tolist() == [55, 30]
    assert amounts(result, "DUP") == [45_500.0, 19_500.0]  # 70 x 650, 30 x 650
    assert amounts(result, "UNDUP") == [35_750.0, 19_500.0]  # min(55, 70) x 650, min(80, 30) x 650


def test_span_basis_counts_the_pupils_in_the_span() -> None:
    schools = [
        school(1, grades={"TK": 5, "K": 20, "1": 20, "3": 15, "4": 30}, el=7),  # TK-3: 60
        school(2, grades={"4": 50}, el=9),  # TK-3: 0
    ]
    components = [
        comp("K3", "per_pupil", basis=("span:TK-3",), rate=100),
        comp("K3EL", "per_pupil", basis=("span:TK-3", "el"), rate=10),
    ]
    result = run(schools, components)
    assert amounts(result, "K3") == [6_000.0, 0.0]  # 60 x 100
    assert amounts(result, "K3EL") == [670.0, 90.0]  # (60 + 7) x 10, (0 + 9) x 10


# --- concentration -------------------------------------------------------------------------


def test_concentration_funds_pupils_above_the_threshold_share() -> None:
    schools = [
        school(1, grades={"4": 200}, unduplicated=150),  # 150 - 0.55 x 200 = 40 above
        school(2, grades={"4": 200}, unduplicated=110),  # exactly 55%: none above
        school(3, grades={"4": 200}, unduplicated=100),  # below
        school(4),  # empty school
    ]
    components = [
        comp("CONC", "concentration", "SC", basis=("unduplicated",), rate=1550, threshold=0.55),
        comp("CONCW", "concentration", "SC", basis=("unduplicated",), rate_unit="weight",
             rate=0.65, threshold=0.55),
    ]
    result = run(schools, components, base_rate=5000)
    assert amounts(result, "CONC") == [62_000.0, 0.0, 0.0, 0.0]  # 40 x 1,550
    assert amounts(result, "CONCW") == [130_000.0, 0.0, 0.0, 0.0]  # 40 x 0.65 x 5,000
    assert part(result, "CONC").eligible.tolist() == [True, False, False, False]


# --- foundation and small school -----------------------------------------------------------


def test_foundation_is_a_fixed_amount_by_level() -> None:
    schools = [
        school(1, "Elementary", {"1": 300}),
        school(2, "Middle", {"7": 600}),
        school(3, "High", {"10": 900}),
        school(4, "Span", {"5": 400}),
    ]
    found = comp("FOUND", "foundation", by_level=(225_000, 300_000, 400_000, 310_000.5))
    result = run(schools, [found])
    assert amounts(result, "FOUND") == [225_000.0, 300_000.0, 400_000.0, 310_000.5]


def test_small_school_pays_the_shortfall_below_the_level_minimum_capped() -> None:
    schools = [
        school(1, "Elementary", {"2": 120}),  # (300 - 120) x 850 = 153,000
        school(2, "Middle", {"7": 600}),  # above 500
        school(3, "High", {"10": 400}),  # (800 - 400) x 850 = 340,000 > cap 250,000
        school(4, "Span", {"5": 500}),  # exactly the minimum: nothing
    ]
    levels = (300.0, 500.0, 800.0, 500.0)
    capped = comp("SMALL", "small_school", rate=850, cap=250_000, by_level=levels)
    uncapped = comp("SMALL0", "small_school", rate=850, cap=0, by_level=levels)
    result = run(schools, [capped, uncapped])
    assert part(result, "SMALL").driver.tolist() == [180, 0, 400, 0]
    assert amounts(result, "SMALL") == [153_000.0, 0.0, 250_000.0, 0.0]
    assert amounts(result, "SMALL0") == [153_000.0, 0.0, 340_000.0, 0.0]  # cap 0 = no cap


# --- categorical (Title I) -----------------------------------------------------------------


def test_categorical_pays_schools_strictly_above_their_level_threshold() -> None:
    schools = [
        school(1, "Elementary", {"3": 100}, frpm=60),  # 60% > 50%: 60 x 600
        school(2, "Elementary", {"3": 100}, frpm=50),  # 50% is not above 50%
        school(3, "High", {"10": 100}, frpm=70),  # 70% is not above the high-school 75%
        school(4, "High", {"10": 100}, frpm=80),  # 80% > 75%: 80 x 600
        school(5, "Middle"),  # no pupils: share 0
    ]
    levels = (0.50, 0.50, 0.75, 0.50)
    components = [
        comp("T1", "categorical", "T1", basis=("frpm",), rate=600, by_level=levels),
        comp("T1W", "categorical", "T1", basis=("frpm",), rate_unit="weight", rate=0.1,
             by_level=levels),
    ]
    result = run(schools, components, base_rate=5000)
    assert amounts(result, "T1") == [36_000.0, 0.0, 0.0, 48_000.0, 0.0]
    assert amounts(result, "T1W") == [30_000.0, 0.0, 0.0, 40_000.0, 0.0]  # x 0.1 x 5,000
    assert part(result, "T1").eligible.tolist() == [True, False, False, True, False]
    assert part(result, "T1").driver.tolist() == [60, 0, 0, 80, 0]


# --- pool ----------------------------------------------------------------------------------


def test_pool_is_shared_in_proportion_to_the_basis() -> None:
    schools = [
        school(1, grades={"4": 100}, performance_points=10.0, hard_to_staff_teachers=1.0),
        school(2, grades={"4": 100}, performance_points=30.0, hard_to_staff_teachers=1.0),
        school(3, grades={"4": 100}, performance_points=0.0, hard_to_staff_teachers=1.0),
    ]
    components = [
        comp("PERF", "pool", basis=("performance_points",), pool=400_000),
        comp("HTS", "pool", basis=("hard_to_staff_teachers",), pool=100_000),
    ]
    result = run(schools, components)
    assert amounts(result, "PERF") == [100_000.0, 300_000.0, 0.0]  # 10/40 and 30/40 of 400,000
    assert amounts(result, "HTS") == [33_333.33] * 3  # 100,000 / 3 each
    assert result.fund_totals()["GEN"] == 499_999.99


def test_pool_with_no_basis_anywhere_pays_nothing() -> None:
    schools = [school(1, grades={"4": 100}), school(2, grades={"4": 50})]
    result = run(schools, [comp("PERF", "pool", basis=("performance_points",), pool=400_000)])
    assert amounts(result, "PERF") == [0.0, 0.0]
    assert part(result, "PERF").eligible.tolist() == [False, False]


# --- floor ---------------------------------------------------------------------------------


def test_floor_is_the_greater_of_rate_times_pupils_and_the_minimum_for_eligible_schools() -> None:
    schools = [
        school(1, "Elementary", {"2": 300}, unduplicated=270),  # 90%: max(50,000, 33,000)
        school(2, "Middle", {"7": 600}, unduplicated=540),  # 90%: max(50,000, 66,000)
        school(3, "Elementary", {"2": 500}, unduplicated=400),  # exactly 80%: not above
        school(4, "High", {"10": 1000}, unduplicated=500),  # 50%
    ]
    floor = comp("EQM", "floor", "SC", basis=("enrollment",), rate=110, minimum=50_000,
                 by_level=(0.8, 0.8, 0.8, 0.8))
    result = run(schools, [floor])
    assert amounts(result, "EQM") == [50_000.0, 66_000.0, 0.0, 0.0]
    assert part(result, "EQM").eligible.tolist() == [True, True, False, False]
    # a lower high-school threshold makes school 4 eligible: max(50,000, 110 x 1,000)
    low_high = replace(floor, by_level=(0.8, 0.8, 0.4, 0.8))
    assert amounts(run(schools, [low_high]), "EQM") == [50_000.0, 66_000.0, 0.0, 110_000.0]


# --- transition ----------------------------------------------------------------------------

TRANSITION_SCHOOLS = [
    # At a base rate of 1,000 and weight 1.00 (grade 5), formula total = 1,000 x pupils.
    school(1, grades={"5": 100}, frpm=10, prior_year_allocation=120_000),  # formula 100,000
    school(2, grades={"5": 200}, prior_year_allocation=150_000),  # formula 200,000: gains
    school(3, grades={"5": 50}),  # new school: no prior year, left out of both sides
    school(4, grades={"5": 100}, prior_year_allocation=102_000),  # loses 2,000: within 5%
]
TRANSITION_COMPONENTS = [
    comp("BASE", "base"),
    comp("SUPP", "per_pupil", "SC", basis=("frpm",), rate=1000),  # restricted: not counted
    comp("TRANS", "transition"),
]


def test_transition_protects_losers_and_scales_gains() -> None:
    result = run(TRANSITION_SCHOOLS, TRANSITION_COMPONENTS, base_rate=1000, max_loss=0.05)
    # School 1: floor 120,000 x 0.95 = 114,000, so 14,000 of protection. School 2 gains
    # 50,000 over its prior year; all protection (14,000) is 28% of the gains.
    assert result.transition_protection == 14_000
    assert result.transition_gains == 50_000
    assert amounts(result, "TRANS") == [14_000.0, -14_000.0, 0.0, 0.0]
    assert sum(amounts(result, "TRANS")) == 0
    totals = [result.school_total(i, restricted=False) for i in range(4)]
    assert totals == [114_000.0, 186_000.0, 50_000.0, 100_000.0]
    assert part(result, "TRANS").eligible.tolist() == [True, False, False, False]
    assert result.notes == []
    assert result.unrestricted_total == 450_000.0


def test_transition_hold_harmless() -> None:
    result = run(TRANSITION_SCHOOLS, TRANSITION_COMPONENTS, base_rate=1000, max_loss=0.0)
    # Protection: 20,000 (school 1) + 2,000 (school 4) = 22,000 = 44% of the 50,000 gains.
    assert amounts(result, "TRANS") == [20_000.0, -22_000.0, 0.0, 2_000.0]
    totals = [result.school_total(i, restricted=False) for i in range(4)]
    assert totals == [120_000.0, 178_000.0, 50_000.0, 102_000.0]


def test_transition_protection_above_gains_pays_a_share() -> None:
    schools = [
        replace(TRANSITION_SCHOOLS[0], prior_year_allocation=200_000),  # floor 190,000: 90,000
        TRANSITION_SCHOOLS[1],  # gains 50,000
        TRANSITION_SCHOOLS[2],
        replace(TRANSITION_SCHOOLS[3], prior_year_allocation=120_000),  # floor 114,000: 14,000
    ]
    result = run(schools, TRANSITION_COMPONENTS, base_rate=1000, max_loss=0.05)
    # 104,000 of protection, 50,000 of gains: protected schools get 50/104 = 48.08% of their
    # shortfall and the gainer gives up all its gains.
    assert result.transition_protection == 104_000
    assert result.transition_gains == 50_000
    assert amounts(result, "TRANS") == [
        43_269.23,  # 90,000 x 50/104 = 43,269.2307...
        -50_000.0,
        0.0,
        6_730.77,  # 14,000 x 50/104 = 6,730.7692...
    ]
    assert sum(amounts(result, "TRANS")) == pytest.approx(0, abs=1e-9)
    assert len(result.notes) == 1
    note = result.notes[0]
    assert note.startswith("Transition promise not kept")
    assert "Protected schools get 48.1% of their shortfall" in note
    assert "2 school(s) lose more than 5.0%" in note
    # School 1 alone: 200,000 x (1 - L) - 100,000 = 50,000 of gains gives L = 25%; school 4's
    # floor 120,000 x 75% = 90,000 is then below its formula total of 100,000.
    assert "a maximum loss of 25.00%" in note
    assert "transition_reserve = 104000" in note


def test_transition_with_no_gains_pays_nothing_and_says_so() -> None:
    schools = [TRANSITION_SCHOOLS[0], replace(TRANSITION_SCHOOLS[1], prior_year_allocation=0.0)]
    result = run(schools, TRANSITION_COMPONENTS, base_rate=1000, max_loss=0.05)
    assert result.transition_protection == 14_000
    assert result.transition_gains == 0
    assert amounts(result, "TRANS") == [0.0, 0.0]
    assert "0.0%" in result.notes[0]


def test_transition_max_loss_one_means_no_protection_and_no_change() -> None:
    result = run(TRANSITION_SCHOOLS, TRANSITION_COMPONENTS, base_rate=1000, max_loss=1.0)
    assert result.transition_protection == 0
    assert amounts(result, "TRANS") == [0.0, 0.0, 0.0, 0.0]
    totals = [result.school_total(i, restricted=False) for i in range(4)]
    assert totals == [100_000.0, 200_000.0, 50_000.0, 100_000.0]  # the formula, unchanged
    assert result.notes == []


def test_transition_stays_budget_neutral_in_solve_mode() -> None:
    # 450 base units; a budget of 450,000 solves to a base rate of 1,000 (restricted SUPP
    # is left out of the solve), and the transition moves money between schools only.
    result = run(TRANSITION_SCHOOLS, TRANSITION_COMPONENTS, budget=450_000, mode="solve",
                 max_loss=0.05)
    assert result.base_units == 450
    assert result.base_rate == pytest.approx(1000)
    assert amounts(result, "TRANS") == [14_000.0, -14_000.0, 0.0, 0.0]
    assert result.unrestricted_total == 450_000.0
    assert result.rounding_difference == 0.0


# --- the budget-neutral solve --------------------------------------------------------------

SOLVE_SCHOOLS = [
    school(1, "Elementary", {"4": 100}, frpm=40, el=10),  # base units 100
    school(2, "Span", {"4": 200, "9": 50}, frpm=20, el=30),  # 200 x 1.00 + 50 x 1.20 = 260
]
SOLVE_COMPONENTS = [
    comp("BASE", "base"),
    comp("POV", "per_pupil", basis=("frpm",), rate=500),  # fixed: 60 x 500 = 30,000
    comp("ELW", "per_pupil", basis=("el",), rate_unit="weight", rate=0.2),  # 0.2 x 40 = 8 units
    comp("FOUND", "foundation", by_level=(100_000, 0, 0, 150_000)),  # fixed: 250,000
    comp("SUPP", "per_pupil", "SC", basis=("frpm",), rate=650),  # restricted: not solved
    comp("ELX", "per_pupil", "SC", basis=("el",), rate_unit="weight", rate=0.5),  # restricted
]
SOLVE_BUDGET = 1_752_001.0
SOLVED_RATE = (1_752_001 - 280_000) / 368  # (budget - fixed) / (360 + 8) = 4,000.0027...


def test_solve_finds_the_base_rate_from_budget_fixed_amounts_and_base_units() -> None:
    result = run(SOLVE_SCHOOLS, SOLVE_COMPONENTS, budget=SOLVE_BUDGET, mode="solve")
    assert result.fixed_unrestricted == 280_000
    assert result.base_units == pytest.approx(368)
    assert result.base_rate == pytest.approx(SOLVED_RATE)
    assert result.solved_base_rate == result.base_rate
    assert amounts(result, "BASE") == [400_000.27, 1_040_000.71]  # 100 r, 260 r
    assert amounts(result, "ELW") == [8_000.01, 24_000.02]  # 10 x 0.2 r, 30 x 0.2 r
    assert amounts(result, "POV") == [20_000.0, 10_000.0]
    assert amounts(result, "FOUND") == [100_000.0, 150_000.0]
    assert amounts(result, "SUPP") == [26_000.0, 13_000.0]
    assert amounts(result, "ELX") == [20_000.01, 60_000.04]  # 5 r, 15 r: priced, not solved
    # 400,000.27 + 1,040,000.71 + 8,000.01 + 24,000.02 + 30,000 + 250,000
    assert result.unrestricted_total == 1_752_001.01
    assert result.rounding_difference == -0.01
    assert abs(result.unrestricted_total - SOLVE_BUDGET) == pytest.approx(0.01)
    assert result.notes == []


def test_solve_counts_linear_dollar_amounts_unrounded() -> None:
    # The Policy sheet's solve takes driver total x rate for per-pupil dollars (3 x 10.005 =
    # 30.015), not the rounded amounts (3 x 10.01 = 30.03); foundations count as rounded.
    schools = [school(i, grades={"4": 10}, frpm=1) for i in (1, 2, 3)]
    components = [
        comp("BASE", "base"),
        comp("ADD", "per_pupil", basis=("frpm",), rate=10.005),
        comp("FOUND", "foundation", by_level=(1000.005, 0, 0, 0)),  # 1,000.01 each
    ]
    result = run(schools, components, budget=10_000, mode="solve")
    assert amounts(result, "ADD") == [10.01] * 3
    assert amounts(result, "FOUND") == [1000.01] * 3
    assert result.fixed_unrestricted == pytest.approx(30.015 + 3000.03)
    assert result.base_rate == pytest.approx((10_000 - 3030.045) / 30)  # 232.3318...
    assert amounts(result, "BASE") == [2323.32] * 3  # 10 x 232.33183...


def test_fixed_base_rate_mode_uses_the_rate_given() -> None:
    result = run(SOLVE_SCHOOLS, SOLVE_COMPONENTS, budget=SOLVE_BUDGET, base_rate=4000)
    assert result.base_rate == 4000
    assert result.solved_base_rate == pytest.approx(SOLVED_RATE)  # still reported
    assert amounts(result, "BASE") == [400_000.0, 1_040_000.0]
    assert amounts(result, "ELW") == [8_000.0, 24_000.0]
    assert amounts(result, "ELX") == [20_000.0, 60_000.0]
    assert result.unrestricted_total == 1_752_000.0
    assert result.rounding_difference == 1.0


def test_restricted_components_stay_out_of_the_solve() -> None:
    unrestricted_only = [c for c in SOLVE_COMPONENTS if c.fund == "GEN"]
    with_restricted = run(SOLVE_SCHOOLS, SOLVE_COMPONENTS, budget=SOLVE_BUDGET, mode="solve")
    without = run(SOLVE_SCHOOLS, unrestricted_only, budget=SOLVE_BUDGET, mode="solve")
    assert with_restricted.base_rate == without.base_rate
    assert with_restricted.fixed_unrestricted == without.fixed_unrestricted
    assert with_restricted.base_units == without.base_units


def test_fixed_amounts_above_the_budget_give_a_negative_rate_and_a_note() -> None:
    result = run(SOLVE_SCHOOLS, SOLVE_COMPONENTS, budget=100_000, mode="solve")
    assert result.base_rate == pytest.approx((100_000 - 280_000) / 368)
    assert result.base_rate < 0
    assert len(result.notes) == 1
    assert "exceed the budget" in result.notes[0]


def test_nothing_to_solve_on_gives_rate_zero_and_a_note() -> None:
    components = [c for c in SOLVE_COMPONENTS if c.code in ("POV", "FOUND")]
    result = run(SOLVE_SCHOOLS, components, budget=SOLVE_BUDGET, mode="solve")
    assert result.base_units == 0
    assert result.base_rate == 0
    assert "cannot be solved" in result.notes[0]


# --- the result's tables -------------------------------------------------------------------


def test_table_is_tidy_one_row_per_school_and_component() -> None:
    result = run(SOLVE_SCHOOLS, SOLVE_COMPONENTS, budget=SOLVE_BUDGET, mode="solve")
    table = result.table()
    assert list(table.columns) == TABLE_COLUMNS
    assert len(table) == 2 * 6
    assert table["component"].tolist() == [c.code for c in SOLVE_COMPONENTS for _ in range(2)]
    assert table["fund"].tolist() == [c.fund for c in SOLVE_COMPONENTS for _ in range(2)]
    assert table["school_id"].tolist() == ["01999990000001", "01999990000002"] * 6
    assert table["school_name"].tolist()[:2] == ["School 1", "School 2"]
    assert table["amount"].tolist()[:4] == [400_000.27, 1_040_000.71, 20_000.0, 10_000.0]


def test_table_of_a_policy_without_components_is_empty() -> None:
    table = run(SOLVE_SCHOOLS, []).table()
    assert list(table.columns) == TABLE_COLUMNS
    assert len(table) == 0


def test_by_school_has_a_column_per_component_and_a_total_per_fund() -> None:
    result = run(SOLVE_SCHOOLS, SOLVE_COMPONENTS, budget=SOLVE_BUDGET, mode="solve")
    wide = result.by_school()
    codes = [c.code for c in SOLVE_COMPONENTS]
    assert list(wide.columns) == ["school_id", "school_name", *codes,
                                  "total_GEN", "total_SC", "total_T1"]
    assert len(wide) == 2
    # 400,000.27 + 20,000 + 8,000.01 + 100,000 and 1,040,000.71 + 10,000 + 24,000.02 + 150,000
    assert wide["total_GEN"].tolist() == [528_000.28, 1_224_000.73]
    assert wide["total_SC"].tolist() == [46_000.01, 73_000.04]  # 26,000 + 20,000.01; ...
    assert wide["total_T1"].tolist() == [0.0, 0.0]
    assert result.school_total(0) == 574_000.29
    assert result.school_total(0, restricted=False) == 528_000.28
    assert result.school_total(1, restricted=True) == 73_000.04


def test_fund_totals_and_rounding_difference() -> None:
    result = run(SOLVE_SCHOOLS, SOLVE_COMPONENTS, budget=SOLVE_BUDGET, mode="solve")
    assert result.fund_totals() == {"GEN": 1_752_001.01, "SC": 119_000.05, "T1": 0.0}
    assert result.rounding_difference == -0.01  # 1,752,001 - 1,752,001.01


def test_shipped_policy_on_the_sample_district() -> None:
    policy_file = load_policy()
    _, schools = sample_district(40)
    district = policy_file.district("Sample", "0199999", schools)
    result = allocate(DistrictInputs(district, policy_file.policy, tuple(schools)))
    assert district.budget == 7500 * sum(s.enrollment for s in schools)
    assert result.base_rate > 0
    unrestricted = sum(not r.restricted for r in result.components)
    assert abs(result.rounding_difference) <= 0.005 * 40 * unrestricted + 0.01
    assert abs(result.unrestricted_total - district.budget) == pytest.approx(
        abs(result.rounding_difference), abs=1e-6
    )
    assert sum(amounts(result, "TRANS")) == pytest.approx(0, abs=0.005 * 40)


# --- properties on random districts --------------------------------------------------------


def unrestricted_amounts(result: AllocationResult) -> float:
    """The most rounding the amounts counted against the budget can add up to: half a cent
    per amount rounded to the cent, half a dollar per amount rounded to the dollar."""
    return len(result.schools) * sum(0.5 if r.component.round_digits == 0 else 0.005
                                     for r in result.components if result.counts_in_budget(r))


@given(random_inputs())
@PROPERTY
def test_random_policies_pass_the_policy_check(inputs: DistrictInputs) -> None:
    assert check_policy(inputs.policy, policy_settings(inputs), "random policy") == []
    kinds = [c.kind for c in inputs.policy.components]
    assert kinds.count("base") <= 1
    assert "transition" not in kinds[:-1]


@given(random_inputs())
@PROPERTY
def test_solve_meets_the_budget_within_the_rounding_difference(inputs: DistrictInputs) -> None:
    assume(inputs.district.base_rate_mode == "solve")
    result = allocate(inputs)
    assume(result.base_units > 0)
    gap = abs(result.budget_total - inputs.district.budget)
    assert gap == pytest.approx(abs(result.rounding_difference), abs=1e-6)
    assert gap <= unrestricted_amounts(result) + 0.01


@given(random_inputs())
@PROPERTY
def test_no_negative_amounts_except_transition(inputs: DistrictInputs) -> None:
    result = allocate(inputs)
    assume(result.base_rate >= 0)
    for r in result.components:
        if r.component.kind not in ("transition", "adjustment"):
            assert (r.amount >= 0).all(), r.component.code
    held_back = {a.school_id for a in inputs.adjustments if a.amount < 0}
    for i, s in enumerate(result.schools):
        if s.school_id not in held_back:  # only an adjustment line may take money away
            assert result.school_total(i, restricted=False) >= 0


@given(random_inputs())
@PROPERTY
def test_transition_floor_holds_when_gains_pay_for_it(inputs: DistrictInputs) -> None:
    assume(any(c.kind == "transition" for c in inputs.policy.components))
    result = allocate(inputs)
    assume(result.base_rate >= 0)
    transition = next(r for r in result.components if r.component.kind == "transition")
    t = result.transition
    half = 0.5 if transition.component.round_digits == 0 else 0.005
    if t.mode != "reserve":  # gains pay: the rule moves money between schools
        assert abs(sum(transition.amount)) <= half * len(result.schools) + 1e-6
    else:  # the reserve pays: never more than it holds
        assert sum(transition.amount) <= t.funding + half * len(result.schools) + 1e-6
    if t.protection_total > t.funding:
        assert any(note.startswith("Transition promise not kept") for note in result.notes)
        return
    max_loss = inputs.district.transition_max_loss
    slack = 0.01 * len(result.components) + half
    for i, s in enumerate(result.schools):
        if s.prior_year_allocation > 0:
            floor = s.prior_year_allocation * (1 - max_loss)
            assert t.result(i) >= floor - slack, s.school_id
        else:
            assert transition.amount[i] == 0


@given(random_inputs())
@PROPERTY
def test_unduplicated_never_gives_more_than_duplicated(inputs: DistrictInputs) -> None:
    result = allocate(inputs)
    # Price weights at the same base rate both ways: the comparison is about the count.
    district = replace(inputs.district, base_rate_mode="fixed", base_rate=max(result.base_rate, 0))
    components = inputs.policy.components
    checked = 0
    for i, c in enumerate(components):
        if not c.basis or c.kind == "pool":  # pool shares are relative: not monotone
            continue

        def with_counting(counting: str, i: int = i, c: Component = c) -> list[float]:
            """The component's amounts with the counting rule changed."""
            changed = components[:i] + (replace(c, counting=counting),) + components[i + 1 :]
            policy = replace(inputs.policy, components=changed)
            return amounts(allocate(DistrictInputs(district, policy, inputs.schools)), c.code)

        undup, dup = with_counting("unduplicated"), with_counting("duplicated")
        assert all(u <= d for u, d in zip(undup, dup, strict=True)), c.code
        checked += 1
    assume(checked > 0)


@given(random_inputs())
@PROPERTY
def test_same_inputs_same_table(inputs: DistrictInputs) -> None:
    first = allocate(inputs).table()
    again = allocate(inputs).table()
    copied = allocate(copy.deepcopy(inputs)).table()
    pd.testing.assert_frame_equal(first, again, check_exact=True)
    pd.testing.assert_frame_equal(first, copied, check_exact=True)


@given(random_inputs())
@PROPERTY
def test_fund_totals_and_by_school_agree_with_the_table(inputs: DistrictInputs) -> None:
    result = allocate(inputs)
    table = result.table()
    n_schools, n_components = len(inputs.schools), len(inputs.policy.components)
    assert len(table) == n_schools * n_components
    totals = result.fund_totals()
    wide = result.by_school()
    for fund in inputs.policy.funds:
        in_fund = table[table["fund"] == fund.code]["amount"]
        assert totals[fund.code] == pytest.approx(in_fund.sum(), abs=1e-6)
        assert wide[f"total_{fund.code}"].sum() == pytest.approx(totals[fund.code], abs=0.01)
    unrestricted = [f.code for f in inputs.policy.funds if not f.restricted]
    assert result.unrestricted_total == pytest.approx(
        sum(totals[code] for code in unrestricted), abs=0.01
    )


# --- the seeded generator ------------------------------------------------------------------


def test_seeded_inputs_are_deterministic_and_varied() -> None:
    assert random_inputs_seeded(7, 12) == random_inputs_seeded(7, 12)
    assert random_inputs_seeded(7, 12) != random_inputs_seeded(8, 12)
    kinds: set[str] = set()
    modes: set[str] = set()
    for seed in range(40):
        inputs = random_inputs_seeded(seed, 1 + seed % 30)
        assert len(inputs.schools) == 1 + seed % 30
        assert check_policy(inputs.policy, policy_settings(inputs), f"seed {seed}") == []
        kinds.update(c.kind for c in inputs.policy.components)
        modes.add(inputs.district.base_rate_mode)
        for s in inputs.schools:
            assert 0 <= s.unduplicated <= s.enrollment
            assert max(s.frpm, s.el, s.swd, s.foster, s.homeless) <= s.enrollment
            assert all(0 <= n <= 200 for n in s.enrollment_by_grade.values())
    assert kinds == {"base", "per_pupil", "concentration", "foundation", "small_school",
                     "categorical", "pool", "floor", "transition", "adjustment"}
    assert modes == {"solve", "fixed"}
