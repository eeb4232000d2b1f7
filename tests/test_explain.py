"""A school's allocation in words never contradicts its amounts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ssfr_xl.explain import allocation_lines, transition_words
from ssfr_xl.formula import allocate
from ssfr_xl.model import Adjustment, Component, Condition, RateBand
from ssfr_xl.money import format_money
from tests.strategies import random_inputs_seeded
from tests.test_formula import TRANSITION_COMPONENTS, TRANSITION_SCHOOLS, run


@pytest.mark.parametrize("seed", range(1, 25))
def test_every_line_states_its_amount(seed: int) -> None:
    inputs = random_inputs_seeded(seed, 12)
    result = allocate(inputs)
    t = result.transition
    for i in range(len(inputs.schools)):
        for line in allocation_lines(result, i):
            if line.code == next((c.code for c in inputs.policy.components
                                  if c.kind == "transition"), None):
                if t.prior[i] > 0:
                    gets = format_money(float(t.formula_total[i]) + float(t.amounts[i]))
                    assert f"the school gets {gets}" in line.math, line
            elif line.amount:
                assert format_money(line.amount) in line.math, line
            else:
                assert "$" not in line.math or "no allocation" in line.math.lower() or \
                    format_money(0) in line.math or "not eligible" in line.math.lower() \
                    or "no adjustment" in line.math.lower(), line


def test_an_unaffordable_floor_is_stated_as_what_the_school_gets() -> None:
    schools = [
        replace(TRANSITION_SCHOOLS[0], prior_year_allocation=200_000),  # formula 100,000
        TRANSITION_SCHOOLS[1],
        TRANSITION_SCHOOLS[2],
        replace(TRANSITION_SCHOOLS[3], prior_year_allocation=120_000),
    ]
    result = run(schools, TRANSITION_COMPONENTS, base_rate=1000, max_loss=0.05)
    # Owed 90,000, paid 50/104 of it = 43,269.23: the school gets 143,269.23, 28.4% below
    # last year's 200,000 — not the 190,000 floor.
    words = transition_words(result, 0)
    assert "below the floor of $190,000.00" in words
    assert "it is owed $90,000.00" in words and "only 48.1% of every shortfall" in words
    assert "the school gets $143,269.23, 28.4% below last year's $200,000.00" in words
    assert "more than the 5.0% maximum loss" in words
    gainer = transition_words(result, 1)
    assert "$50,000.00 of its gain pays for other schools' transition protection" in gainer


def test_conditions_bands_and_adjustments_in_words() -> None:
    inputs = random_inputs_seeded(3, 4)
    s = inputs.schools[0]
    em = Component("EM", "Equity Multiplier", "floor", "GEN", ("census",), rate=100.0,
                   minimum=50_000.0,
                   conditions=(Condition("nonstability", ">", 0.25),
                               Condition("flag:classroom_based", "=", 1.0)))
    arts = Component("ARTS", "Arts", "per_pupil", "GEN", ("enrollment",),
                     bands=(RateBand("K-5", 10.0, first_grade="K", last_grade="5"),
                            RateBand("6-12", 20.0, first_grade="6", last_grade="12")))
    adj = Component("ADJ", "Adjustments", "adjustment", "GEN")
    policy = replace(inputs.policy, components=(*[c for c in inputs.policy.components
                                                  if c.kind != "transition"], em, arts, adj))
    school = replace(s, extra={**s.extra, "nonstability": 0.3, "classroom_based": 1.0})
    inputs = replace(inputs, policy=policy, schools=(school, *inputs.schools[1:]),
                     adjustments=(Adjustment(s.school_id, "ADJ", 1500.0, "Hold harmless"),
                                  Adjustment(s.school_id, "ADJ", -500.0, "Other")))
    lines = {li.code: li for li in allocation_lines(allocate(inputs), 0)}
    assert lines["EM"].math.startswith("Eligible (nonstability 0.3 > 0.25: yes and "
                                       "classroom_based Yes = Yes: yes)")
    assert lines["ADJ"].math == "Hold harmless: $1,500.00; Other: -$500.00 = $1,000.00"
    assert lines["ADJ"].amount == 1000.0
    assert lines["ARTS"].math.endswith(f"= {format_money(lines['ARTS'].amount)}")
