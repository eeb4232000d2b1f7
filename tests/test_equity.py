"""Equity statistics: hand-computed cases, and the Summary sheet's formulas agree with Python."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssfr_xl.district_book import write_district
from ssfr_xl.equity import equity_stats
from ssfr_xl.formula import allocate
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
from ssfr_xl.sources.sample import sample_district
from tests.helpers import error_cells, recalc_and_read
from tests.strategies import random_inputs_seeded

LABELS = {
    "cv": "Per pupil: coefficient of variation",
    "mcloone": "McLoone index (below the median)",
    "verstegen": "Verstegen index (above the median)",
    "range_ratio": "Federal range ratio (P95 - P5) / P5",
    "need_slope": "Per pupil more from 0% to 100% high-need pupils (slope)",
    "need_correlation": "Correlation of per pupil with need share",
}


def school(n: int, enrollment: int, unduplicated: int) -> School:
    """A one-grade school."""
    grades = dict.fromkeys(GRADES, 0) | {"1": enrollment}
    return School(f"0199999{n:07d}", f"School {n}", "Elementary", "1", "1", grades,
                  unduplicated=unduplicated)


def flat_district(schools: list[School], amounts: list[float]) -> DistrictInputs:
    """Each school gets a fixed amount (foundation by level is one amount: use a pool)."""
    points = [School(**{**s.__dict__, "performance_points": a}) for s, a in
              zip(schools, amounts, strict=True)]
    policy = Policy(
        spans=(GradeSpan("TK-12", "TK", "12", 1.0),),
        funds=(Fund("GEN", "General", False),),
        components=(Component("POOL", "Pool", "pool", "GEN", ("performance_points",),
                              pool=float(sum(amounts))),),
    )
    district = District("D", "0199999", "2026-27", budget=float(sum(amounts)))
    return DistrictInputs(district, policy, tuple(points))


def test_hand_computed_statistics() -> None:
    # per pupil 100, 200, 300, 400 with need shares 0.1 .. 0.4: a perfect line
    schools = [school(i, 10, i) for i in range(1, 5)]
    stats = equity_stats(allocate(flat_district(schools, [1000, 2000, 3000, 4000])))
    assert stats is not None
    mean, median = 250.0, 250.0
    pstdev = ((150**2 + 50**2 + 50**2 + 150**2) / 4) ** 0.5
    assert stats.cv == pytest.approx(pstdev / mean)
    assert stats.mcloone == pytest.approx((100 + 200) / (2 * median))
    assert stats.verstegen == pytest.approx((300 + 400) / (2 * median))
    p5, p95 = 100 + 0.15 * 100, 300 + 0.85 * 100  # linear interpolation over 4 values
    assert stats.range_ratio == pytest.approx((p95 - p5) / p5)
    assert stats.need_slope == pytest.approx(1000.0)  # +100 per pupil for +0.1 need share
    assert stats.need_correlation == pytest.approx(1.0)


def test_equal_funding_is_perfectly_horizontal() -> None:
    schools = [school(i, 10, i) for i in range(1, 4)]
    stats = equity_stats(allocate(flat_district(schools, [1000, 1000, 1000])))
    assert stats is not None
    assert (stats.cv, stats.mcloone, stats.verstegen, stats.range_ratio) == (0, 1, 1, 0)
    assert stats.need_correlation is None  # funding does not vary: undefined, never 0


def test_undefined_statistics_are_none_never_zero() -> None:
    # one school gets nothing: the 5th percentile of per-pupil funding is 0
    schools = [school(i, 10, 5) for i in range(1, 5)]
    stats = equity_stats(allocate(flat_district(schools, [0, 0, 2000, 3000])))
    assert stats is not None
    assert stats.range_ratio is None
    assert stats.need_slope is None and stats.need_correlation is None  # need is constant
    assert stats.cv is not None


def test_fewer_than_two_schools_give_no_statistics() -> None:
    assert equity_stats(allocate(flat_district([school(1, 10, 5)], [1000]))) is None


@pytest.mark.libreoffice
def test_summary_formulas_agree_with_python(soffice: str, tmp_path: Path) -> None:
    info, schools = sample_district(40)
    policy = load_policy()
    cases = [DistrictInputs(policy.district(info.name, info.cds_code, schools), policy.policy,
                            tuple(schools))]
    cases += [random_inputs_seeded(seed, 12) for seed in (3, 5, 8)]
    paths = []
    for i, inputs in enumerate(cases):
        paths.append(tmp_path / f"d{i}.xlsx")
        write_district(paths[-1], inputs)
    books = recalc_and_read(paths, tmp_path)
    for inputs, book in zip(cases, books, strict=True):
        stats = equity_stats(allocate(inputs))
        if stats is None:
            continue
        summary = {row[0]: row[1] for row in book["Summary"] if len(row) > 1 and row[0]}
        assert not error_cells(book), error_cells(book)[:5]
        for key, label in LABELS.items():
            expected = getattr(stats, key)
            if expected is None:
                assert summary[label] == "n/a", (key, summary[label])
                continue
            assert summary[label] == pytest.approx(expected, rel=1e-9, abs=1e-9), (
                key, summary[label], expected)
