"""Loading and checking a funding policy: the shipped file, every problem's message, errors."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ssfr_xl.errors import FileError, PolicyError
from ssfr_xl.model import COMPONENT_KINDS, GRADES, School
from ssfr_xl.policy import PolicyFile, check_policy, load_policy, parse_policy, template_path

MINIMAL = """
[district]
name = "Tiny Unified"
fiscal_year = "2026-27"
budget = 1000000
base_rate_mode = "solve"
transition_max_loss = 0.03

[[grade_span]]
name = "TK-5"
first_grade = "TK"
last_grade = "5"
weight = 1.05

[[grade_span]]
name = "6-12"
first_grade = "6"
last_grade = "12"
weight = 1.0

[[fund]]
code = "GEN"
restricted = false

[[fund]]
code = "SC"
restricted = true

[[component]]
code = "BASE"
kind = "base"
fund = "GEN"

[[component]]
code = "TRANS"
kind = "transition"
fund = "GEN"

[[component]]
code = "POV"
kind = "per_pupil"
fund = "GEN"
basis = ["frpm"]
rate_unit = "weight"
rate = 0.12
"""

Mutation = Callable[[dict[str, Any]], None]


def minimal() -> dict[str, Any]:
    """The minimal valid policy as parsed TOML data."""
    return tomllib.loads(MINIMAL)


def edit(path: str, value: Any = None, *, delete: bool = False) -> Mutation:
    """A mutation setting (or deleting) data at a dotted path such as 'component.2.rate'."""

    def apply(data: dict[str, Any]) -> None:
        """Set or delete the value at the path."""
        *parents, last = path.split(".")
        target: Any = data
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        key: Any = int(last) if last.isdigit() else last
        if delete:
            del target[key]
        else:
            target[key] = value

    return apply


def add(table: str, row: dict[str, Any]) -> Mutation:
    """A mutation appending a row to an array of tables."""

    def apply(data: dict[str, Any]) -> None:
        """Append the row."""
        data.setdefault(table, []).append(row)

    return apply


def school(n: int, pupils: int) -> School:
    """A school with all its pupils in grade 4."""
    by_grade = dict.fromkeys(GRADES, 0)
    by_grade["4"] = pupils
    return School(f"0199999{n:07d}", f"School {n}", "Elementary", "4", "4", by_grade)


def problem_message(*mutations: Mutation) -> str:
    """The PolicyError message for the minimal policy with the mutations applied."""
    data = minimal()
    for mutate in mutations:
        mutate(data)
    with pytest.raises(PolicyError) as excinfo:
        parse_policy(data, "test.toml")
    return str(excinfo.value)


# --- loading -------------------------------------------------------------------------------


def test_shipped_policy_loads_and_checks_clean() -> None:
    policy_file = load_policy()
    assert isinstance(policy_file, PolicyFile)
    policy, settings = policy_file.policy, policy_file.settings
    assert check_policy(policy, settings, "policy.toml") == []
    assert settings["budget_per_pupil"] == 7500
    assert settings["base_rate_mode"] == "solve"
    assert [s.name for s in policy.spans] == ["TK-3", "4-6", "7-8", "9-12"]
    assert [f.code for f in policy.funds] == ["GEN", "LCFF-SC", "TITLE1", "EQM"]
    assert [f.code for f in policy.funds if not f.restricted] == ["GEN"]
    codes = [c.code for c in policy.components]
    assert codes[0] == "BASE" and codes[-1] == "TRANS"
    assert len(codes) == len(set(codes)) == 14
    assert {c.kind for c in policy.components} == set(COMPONENT_KINDS)
    assert policy.fte_step == 0.1
    assert len(policy.job_classes) == 10 and len(policy.services) == 10
    assert load_policy(template_path("policy.toml")) == policy_file


def test_minimal_policy_parses_and_transition_moves_last() -> None:
    policy_file = parse_policy(minimal(), "test.toml")
    assert [c.code for c in policy_file.policy.components] == ["BASE", "POV", "TRANS"]
    pov = policy_file.policy.components[1]
    assert (pov.basis, pov.rate_unit, pov.rate, pov.counting) == (
        ("frpm",), "weight", 0.12, "duplicated"
    )
    assert pov.name == "POV"  # the code when no name is given
    assert pov.by_level == (0.0, 0.0, 0.0, 0.0)


def test_basis_given_as_one_string_is_a_one_item_basis() -> None:
    data = minimal()
    data["component"][2]["basis"] = "el"
    assert parse_policy(data).policy.components[1].basis == ("el",)


def test_load_policy_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert load_policy(path).settings["name"] == "Tiny Unified"
    assert load_policy(str(path)).policy.components[-1].code == "TRANS"


def test_missing_file_is_a_file_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(FileError, match="Policy file not found") as excinfo:
        load_policy(missing)
    assert str(missing) in str(excinfo.value)


def test_a_directory_or_unreadable_bytes_is_a_file_error(tmp_path: Path) -> None:
    with pytest.raises(FileError, match="Cannot read the policy file"):
        load_policy(tmp_path)
    latin = tmp_path / "latin.toml"
    latin.write_bytes('[district]\nname = "Escuela Bilingüe"\n'.encode("latin-1"))
    with pytest.raises(FileError, match="Cannot read the policy file"):
        load_policy(latin)


def test_invalid_toml_is_a_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[district\nbudget = = 3\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"broken\.toml: not valid TOML"):
        load_policy(path)


# --- every problem check_policy knows, with a message that says what to change -------------


@pytest.mark.parametrize(
    ("mutations", "expected"),
    [
        pytest.param(
            [edit("component.0.kind", "bonus")],
            "test.toml component BASE: kind 'bonus' is not one of base, per_pupil, "
            "concentration, foundation, small_school, categorical, pool, floor, transition, "
            "adjustment.",
            id="bad-kind",
        ),
        pytest.param(
            [edit("component.2.fund", "XX")],
            "test.toml component POV: fund 'XX' is not a declared [[fund]].",
            id="unknown-fund",
        ),
        pytest.param(
            [edit("component.0.rate_unit", "weight")],
            "test.toml component BASE: only per_pupil, concentration and categorical rates "
            "can be a weight of the base; give dollars.",
            id="weight-on-base",
        ),
        pytest.param(
            [add("component", {"code": "FOUND", "kind": "foundation", "fund": "GEN",
                               "rate_unit": "weight", "by_level": [1, 1, 1, 1]})],
            "test.toml component FOUND: only per_pupil, concentration and categorical rates "
            "can be a weight of the base; give dollars.",
            id="weight-on-foundation",
        ),
        pytest.param(
            [add("component", {"code": "EQM", "kind": "floor", "fund": "SC",
                               "basis": ["enrollment"], "rate_unit": "weight"})],
            "test.toml component EQM: only per_pupil, concentration and categorical rates "
            "can be a weight of the base; give dollars.",
            id="weight-on-floor",
        ),
        pytest.param(
            [edit("grade_span.1.first_grade", "7")],
            "test.toml: grade spans must cover TK..12 exactly once (they cover ['TK', 'K', "
            "'1', '2', '3', '4', '5', '7', '8', '9', '10', '11', '12']).",
            id="spans-miss-a-grade",
        ),
        pytest.param(
            [edit("grade_span.1.first_grade", "5")],
            "test.toml: grade spans must cover TK..12 exactly once",
            id="spans-overlap",
        ),
        pytest.param(
            [edit("grade_span.1.last_grade", "13")],
            "test.toml: grade span 6-12 has an unknown grade.",
            id="span-unknown-grade",
        ),
        pytest.param(
            [edit("grade_span", [])],
            "test.toml: at least one [[grade_span]] is needed.",
            id="no-spans",
        ),
        pytest.param(
            [edit("component.2.code", "BASE")],
            "test.toml: component codes must be unique.",
            id="duplicate-component-code",
        ),
        pytest.param(
            [edit("fund.1.code", "GEN")],
            "test.toml: fund codes must be unique.",
            id="duplicate-fund-code",
        ),
        pytest.param(
            [edit("component.2.rate", -0.12)],
            "test.toml component POV: rate cannot be negative.",
            id="negative-rate",
        ),
        pytest.param(
            [edit("component.2.threshold", -0.5)],
            "test.toml component POV: threshold cannot be negative.",
            id="negative-threshold",
        ),
        pytest.param(
            [edit("component.2.minimum", -1)],
            "test.toml component POV: minimum cannot be negative.",
            id="negative-minimum",
        ),
        pytest.param(
            [edit("component.2.cap", -1)],
            "test.toml component POV: cap cannot be negative.",
            id="negative-cap",
        ),
        pytest.param(
            [edit("component.2.pool", -1)],
            "test.toml component POV: pool cannot be negative.",
            id="negative-pool",
        ),
        pytest.param(
            [edit("component.2.by_level", [0, -1, 0, 0])],
            "test.toml component POV: by_level values cannot be negative.",
            id="negative-by-level",
        ),
        pytest.param(
            [edit("component.2.by_level", [0.5, 0.5])],
            "test.toml [[component]] #3 (POV): by_level needs 4 numbers (Elementary, Middle, "
            "High, Span).",
            id="short-by-level",
        ),
        pytest.param(
            [edit("component.2.code", "pov")],
            "test.toml component pov: code must be capital letters, digits, - or _ (max 16).",
            id="bad-code",
        ),
        pytest.param(
            [edit("component.2.code", "POVERTY_WEIGHT_2026")],
            "code must be capital letters, digits, - or _ (max 16).",
            id="long-code",
        ),
        pytest.param(
            [edit("component.2.rate_unit", "percent")],
            "test.toml component POV: rate_unit must be 'dollars' or 'weight'.",
            id="bad-rate-unit",
        ),
        pytest.param(
            [edit("component.2.counting", "twice")],
            "test.toml component POV: counting must be 'duplicated' or 'unduplicated'.",
            id="bad-counting",
        ),
        pytest.param(
            [edit("component.2.basis", [])],
            "test.toml component POV: a per_pupil component needs a basis (count columns).",
            id="no-basis",
        ),
        pytest.param(
            [edit("component.2.basis", ["lunch"])],
            "test.toml component POV: basis 'lunch' is not one of enrollment, frpm, el, swd, "
            "foster, homeless, unduplicated, performance_points, hard_to_staff_teachers "
            "(declare a district column with [[roster_column]]).",
            id="unknown-basis",
        ),
        pytest.param(
            [edit("component.2.basis", ["span:K-3"])],
            "test.toml component POV: basis 'span:K-3' names no grade span.",
            id="unknown-span-basis",
        ),
        pytest.param(
            [add("component", {"code": "BASE2", "kind": "base", "fund": "GEN"})],
            "test.toml: only one 'base' component is allowed.",
            id="two-bases",
        ),
        pytest.param(
            [add("component", {"code": "TRANS2", "kind": "transition", "fund": "GEN"})],
            "test.toml: only one 'transition' component is allowed.",
            id="two-transitions",
        ),
        pytest.param(
            [edit("component.1.fund", "SC")],
            "test.toml component TRANS: transition protection must be paid from an "
            "unrestricted fund.",
            id="restricted-transition",
        ),
        pytest.param(
            [edit("fund.0.restricted", True)],
            "test.toml: at least one unrestricted fund is needed for the budget.",
            id="no-unrestricted-fund",
        ),
        pytest.param(
            [edit("district.base_rate_mode", "guess")],
            "test.toml: base_rate_mode must be 'solve' or 'fixed', not 'guess'.",
            id="bad-mode",
        ),
        pytest.param(
            [edit("district.budget", delete=True)],
            "test.toml: [district] needs 'budget' or 'budget_per_pupil' to solve the base rate "
            "for (or set base_rate_mode = \"fixed\" and base_rate).",
            id="no-budget",
        ),
        pytest.param(
            [edit("district.transition_max_loss", 1.5)],
            "test.toml: transition_max_loss must be a share from 0 (hold harmless) to 1 "
            "(no protection).",
            id="max-loss-above-one",
        ),
        pytest.param(
            [edit("district.transition_max_loss", -0.1)],
            "transition_max_loss must be a share from 0",
            id="max-loss-negative",
        ),
        pytest.param(
            [edit("district.transition_max_loss", "3%")],
            "test.toml: [district] transition_max_loss must be a number, not '3%'.",
            id="max-loss-text",
        ),
        pytest.param(
            [edit("district.fte_step", 0)],
            "test.toml: fte_step must be a number above 0 and at most 1.",
            id="zero-fte-step",
        ),
        pytest.param(
            [edit("district.fte_step", 1.5)],
            "fte_step must be a number above 0 and at most 1.",
            id="big-fte-step",
        ),
        pytest.param(
            [add("job_class", {"code": "TCH", "average_salary": 92000, "benefits_rate": 2.5})],
            "test.toml job class TCH: salary and benefits rate look wrong.",
            id="bad-benefits-rate",
        ),
        pytest.param(
            [add("job_class", {"code": "TCH", "average_salary": -1, "benefits_rate": 0.3})],
            "test.toml job class TCH: salary and benefits rate look wrong.",
            id="negative-salary",
        ),
        pytest.param(
            [add("service", {"code": "PD", "unit_price": -5})],
            "test.toml service PD: unit price cannot be negative.",
            id="negative-unit-price",
        ),
        pytest.param(
            [edit("component.2.rate", "lots")],
            "test.toml [[component]] #3 (POV): 'rate' must be a number, not 'lots'.",
            id="rate-not-a-number",
        ),
        pytest.param(
            [edit("component.2.rate", True)],
            "test.toml [[component]] #3 (POV): 'rate' must be a number, not True.",
            id="rate-boolean",
        ),
        pytest.param(
            [edit("grade_span.0.weight", "heavy")],
            "test.toml [[grade_span]] #1: 'weight' must be a number, not 'heavy'.",
            id="weight-not-a-number",
        ),
        pytest.param(
            [edit("component", "BASE")],
            "test.toml: [[component]] must be a list of tables.",
            id="component-not-tables",
        ),
        pytest.param(
            [edit("grade_span.0.weight", -1.05)],
            "test.toml: grade span TK-5 has a negative weight.",
            id="negative-span-weight",
        ),
        pytest.param(
            [edit("component.2.code", "BASE_1"), add("component", {
                "code": "BASE-1", "kind": "foundation", "fund": "GEN"})],
            "test.toml: component codes BASE_1 and BASE-1 name the same workbook cells "
            "(- and _ are the same there); rename one.",
            id="codes-clash-in-workbook-names",
        ),
        # Malformed entries: each one a message, never a KeyError, ValueError or TypeError
        # (the CLI reports only SsfrError cleanly).
        pytest.param(
            [edit("fund.1.code", delete=True)],
            "test.toml [[fund]] #2: 'code' is missing.",
            id="fund-without-code",
        ),
        pytest.param(
            [edit("fund.1.restricted", "yes")],
            "test.toml [[fund]] #2 (SC): 'restricted' must be true or false.",
            id="restricted-not-boolean",
        ),
        pytest.param(
            [edit("grade_span.1.name", delete=True)],
            "test.toml [[grade_span]] #2: 'name' is missing.",
            id="span-without-name",
        ),
        pytest.param(
            [edit("component.2.by_level", ["high", 0, 0, 0])],
            "test.toml [[component]] #3 (POV): by_level needs 4 numbers",
            id="by-level-text",
        ),
        pytest.param(
            [edit("component.2.basis", 5)],
            "test.toml [[component]] #3 (POV): basis must be a list of count column names.",
            id="basis-a-number",
        ),
        pytest.param(
            [edit("component.2.kind", delete=True)],
            "test.toml [[component]] #3 (POV): 'kind' is missing.",
            id="component-without-kind",
        ),
        pytest.param(
            [edit("district.fte_step", "tenth")],
            "test.toml: [district] fte_step must be a number, not 'tenth'.",
            id="fte-step-text",
        ),
        pytest.param(
            [edit("district", 5)],
            "test.toml: [district] must be a table of settings.",
            id="district-not-a-table",
        ),
        pytest.param(
            [edit("district.budget", "lots")],
            "test.toml: [district] budget must be a number, not 'lots'.",
            id="budget-text",
        ),
        pytest.param(
            [edit("district.budget", delete=True),
             edit("district.budget_per_pupil", "7500 dollars")],
            "test.toml: [district] budget_per_pupil must be a number, not '7500 dollars'.",
            id="budget-per-pupil-text",
        ),
        pytest.param(
            [edit("district.base_rate", "5200 dollars")],
            "test.toml: [district] base_rate must be a number, not '5200 dollars'.",
            id="base-rate-text",
        ),
    ],
)
def test_each_problem_has_a_clear_message(mutations: list[Mutation], expected: str) -> None:
    assert expected in problem_message(*mutations)


def test_problems_are_listed_together() -> None:
    message = problem_message(
        edit("component.0.kind", "bonus"),
        edit("component.2.rate", -1),
        edit("district.base_rate_mode", "guess"),
    )
    assert message.startswith("The policy has problems:\n  - ")
    lines = message.splitlines()[1:]
    assert len(lines) == 3
    assert all(line.startswith("  - test.toml") for line in lines)


def test_check_policy_returns_problems_without_raising() -> None:
    policy = parse_policy(minimal(), "test.toml").policy
    assert check_policy(policy, {"budget": 1}, "x") == []
    problems = check_policy(policy, {"base_rate_mode": "guess"}, "x")
    assert problems == [
        "x: base_rate_mode must be 'solve' or 'fixed', not 'guess'.",
        "x: [district] needs 'budget' or 'budget_per_pupil' to solve the base rate for (or "
        "set base_rate_mode = \"fixed\" and base_rate).",
    ]
    assert check_policy(policy, {"base_rate_mode": "fixed", "base_rate": 5000}, "x") == []


def test_every_malformed_entry_is_listed_at_once() -> None:
    message = problem_message(
        edit("fund.1.code", delete=True),
        edit("component.2.rate", "lots"),
        edit("district.fte_step", "tenth"),
    )
    lines = message.splitlines()[1:]
    assert len(lines) == 3
    assert any("[[fund]] #2: 'code' is missing" in line for line in lines)
    assert any("(POV): 'rate' must be a number" in line for line in lines)
    assert any("fte_step must be a number" in line for line in lines)


# --- the district settings -----------------------------------------------------------------


def test_district_budget_per_pupil_times_enrollment_rounded_to_the_dollar() -> None:
    data = minimal()
    del data["district"]["budget"]
    data["district"]["budget_per_pupil"] = 7500.5
    policy_file = parse_policy(data, "test.toml")
    # 7,500.5 x 3 = 22,501.5: half a dollar, away from zero
    assert policy_file.district("Tiny", "0199999", [school(1, 1), school(2, 2)]).budget == 22_502
    # 7,500.5 x 5 = 37,502.5 -> 37,503
    assert policy_file.district("Tiny", "0199999", [school(1, 5)]).budget == 37_503
    data["district"]["budget_per_pupil"] = 1234.567
    policy_file = parse_policy(data, "test.toml")
    # 1,234.567 x 7 = 8,641.969
    assert policy_file.district("Tiny", "0199999", [school(1, 7)]).budget == 8_642
    assert policy_file.district("Tiny", "0199999", []).budget == 0


def test_district_budget_given_in_dollars_wins() -> None:
    data = minimal()
    data["district"]["budget"] = 1_234_567.89
    data["district"]["budget_per_pupil"] = 7500
    district = parse_policy(data).district("Tiny", "0199999", [school(1, 100)])
    assert district.budget == 1_234_567.89


def test_district_carries_the_settings() -> None:
    data = minimal()
    data["district"].update(base_rate_mode="fixed", base_rate=5200, plan_deadline="2027-03-12",
                            contact="Budget Office")
    district = parse_policy(data).district("", "0199999", [school(1, 10)])
    assert district.name == "Tiny Unified"  # from the policy when none is given
    assert district.cds_code == "0199999"
    assert district.fiscal_year == "2026-27"
    assert district.base_rate_mode == "fixed"
    assert district.base_rate == 5200
    assert district.transition_max_loss == 0.03
    assert district.plan_deadline == "2027-03-12"
    assert district.contact == "Budget Office"
    assert district.unspent_warning == 0.05  # the default when the policy gives none
    assert parse_policy(data).district("Roster Name", "0199999", []).name == "Roster Name"


def test_shipped_policy_budget_is_7500_per_pupil() -> None:
    policy_file = load_policy()
    schools = [school(1, 316), school(2, 401)]
    district = policy_file.district("Sample", "0199999", schools)
    assert district.budget == 7500 * 717
    assert district.transition_max_loss == 0.03


def test_parsing_leaves_the_data_alone() -> None:
    data = minimal()
    before = copy.deepcopy(data)
    parse_policy(data, "test.toml")
    assert data == before


@pytest.mark.parametrize(("kind", "codes", "expected"), [
    ("job_classes", ["TCH", "tch"], "differ only in case"),
    ("goals", ["G1", "G1"], "listed twice"),
    ("objects", [" 4300"], "start or end with a space"),
    ("services", ["PD*"], "* ? ~"),
    ("funds", ["GEN\u200b"], "invisible"),
])
def test_list_codes_must_be_findable_exactly(kind: str, codes: list[str], expected: str) -> None:
    """Plans match codes exactly (EXACT after MATCH): codes that differ only in case, carry
    spaces, invisible characters or wildcards could not be told apart or found."""
    import dataclasses

    from ssfr_xl.policy import list_code_problems

    policy = load_policy().policy
    items = getattr(policy, kind)
    changed = tuple(dataclasses.replace(items[i % len(items)], code=c)
                    for i, c in enumerate(codes)) + items[len(codes):]
    problems = list_code_problems(dataclasses.replace(policy, **{kind: changed}), "policy")
    assert any(expected in p for p in problems), problems
    assert list_code_problems(policy, "policy") == []
