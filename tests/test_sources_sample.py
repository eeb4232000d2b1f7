"""The synthetic sample district: deterministic, realistic and internally consistent."""

from __future__ import annotations

from collections import Counter

import pytest

from ssfr_xl.model import GRADES, LEVELS, grade_index, level_for_grades
from ssfr_xl.sources import sample_district


def test_same_seed_same_district() -> None:
    assert sample_district() == sample_district()
    assert sample_district(200, seed=7) == sample_district(200, seed=7)
    assert sample_district(40, seed=1)[1] != sample_district(40, seed=2)[1]


def test_sequence_is_pinned() -> None:
    # Pins the generator's output: a change here changes every demo workbook and screenshot,
    # so it must be deliberate (update the numbers together with the docs that show them).
    _, schools = sample_district()
    first = schools[0]
    assert (first.name, first.enrollment, first.unduplicated) == (
        "Escuela Bilingüe Mariposa",
        316,
        236,
    )
    assert sum(s.enrollment for s in schools) == 28964


def test_district() -> None:
    district, _ = sample_district()
    assert district.name == "Sample Unified School District"
    assert district.cds_code == "0199999"
    assert district.fiscal_year == "2026-27"
    assert district.budget == 0.0


def test_level_mix_of_forty() -> None:
    _, schools = sample_district(40)
    assert Counter(s.level for s in schools) == {
        "Elementary": 24,
        "Middle": 8,
        "High": 6,
        "Span": 2,
    }


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6, 17, 40, 333, 2000])
def test_any_size_is_consistent(n: int) -> None:
    _, schools = sample_district(n)
    assert len(schools) == n
    ids = [s.school_id for s in schools]
    assert len(set(ids)) == n
    assert all(len(i) == 14 and i.isdigit() and i.startswith("0199999") for i in ids)
    assert len({s.name for s in schools}) == n
    for s in schools:
        assert s.level in LEVELS
        assert s.level == level_for_grades(s.low_grade, s.high_grade)
        assert set(s.enrollment_by_grade) == set(GRADES)
        lo, hi = grade_index(s.low_grade), grade_index(s.high_grade)
        assert all(s.enrollment_by_grade[g] > 0 for g in GRADES[lo : hi + 1])
        assert all(s.enrollment_by_grade[g] == 0 for g in GRADES[:lo] + GRADES[hi + 1 :])
        assert s.frpm <= s.unduplicated <= s.enrollment
        assert max(s.el, s.foster, s.homeless) <= s.unduplicated
        assert s.swd <= s.enrollment
        assert not s.grades_estimated
        assert 6000 <= s.prior_year_allocation / s.enrollment <= 9000
        assert 0 <= s.performance_points <= 100
        assert 0 <= s.hard_to_staff_teachers <= 12


def test_sizes_and_small_schools() -> None:
    _, schools = sample_district(40)
    ranges = {"Elementary": (250, 700), "Middle": (500, 1100), "High": (800, 2200)}
    small = [s for s in schools if s.level in ranges and s.enrollment < ranges[s.level][0]]
    assert sorted((s.level, s.enrollment < (200 if s.level == "Elementary" else 400))
                  for s in small) == [("Elementary", True), ("High", True)]  # fmt: skip
    for s in schools:
        if s in small or s.level not in ranges:
            continue
        assert ranges[s.level][0] <= s.enrollment <= ranges[s.level][1]


def test_need_runs_from_low_to_very_high() -> None:
    _, schools = sample_district(40)
    shares = [s.unduplicated / s.enrollment for s in schools]
    assert min(shares) < 0.15 and max(shares) > 0.90
    assert all(0.09 <= x <= 0.96 for x in shares)
    el = [s.el / s.enrollment for s in schools]
    assert min(el) < 0.05 and max(el) > 0.35 and max(el) <= 0.45
    swd = [s.swd / s.enrollment for s in schools]
    assert 0.075 <= min(swd) and max(swd) <= 0.165
    assert all(s.foster <= 0.01 * s.enrollment + 0.5 for s in schools)
    assert all(s.homeless <= 0.06 * s.enrollment + 0.5 for s in schools)


def test_incentive_and_transition_data_have_the_right_shape() -> None:
    _, schools = sample_district(40)
    assert any(s.performance_points == 0 for s in schools)
    assert any(s.performance_points > 80 for s in schools)
    low_need = [s for s in schools if s.unduplicated / s.enrollment < 0.35]
    assert all(s.hard_to_staff_teachers == 0 for s in low_need)
    assert any(s.hard_to_staff_teachers >= 5 for s in schools)
    # Generously funded low-need schools are the ones a need-based formula takes money from.
    assert any(s.prior_year_allocation / s.enrollment > 8200 for s in low_need)


def test_names_include_non_ascii() -> None:
    _, schools = sample_district(6)
    assert any(not s.name.isascii() for s in schools)


@pytest.mark.parametrize("n", [0, -1, 2001])
def test_size_out_of_range(n: int) -> None:
    with pytest.raises(ValueError, match="n_schools must be from 1 to 2000"):
        sample_district(n)
