"""Money as Excel computes it: ROUND half away from zero after reducing to 15 digits."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssfr_xl.money import excel_round, excel_round_array, format_money, money_sum

PROPERTY = settings(max_examples=200, deadline=None)


def reference_round(value: float, digits: int) -> float:
    """Excel's ROUND by Decimal arithmetic: the exact double to 15 digits, then half up."""
    exact = Decimal(value)  # the binary value, exactly
    fifteen = exact.quantize(Decimal(1).scaleb(exact.adjusted() - 14), rounding=ROUND_HALF_EVEN)
    return float(fifteen.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        (2.675, 2, 2.68),  # the double is 2.67499999999999982...: Python's round gives 2.67
        (-2.675, 2, -2.68),  # half away from zero, not towards +infinity
        (0.125, 2, 0.13),  # exactly half in binary: away from zero, not to even (0.12)
        (-0.125, 2, -0.13),
        (1.005, 2, 1.01),  # the double is 1.00499999999999989...; 15 digits make it 1.005
        (1234.565, 2, 1234.57),
        (-1234.565, 2, -1234.57),
        (0.5, 0, 1.0),
        (1.5, 0, 2.0),
        (2.5, 0, 3.0),  # not banker's rounding
        (-0.5, 0, -1.0),
        (-2.5, 0, -3.0),
        (0.0049, 2, 0.0),
        (0.005, 2, 0.01),
        (1.23456, 4, 1.2346),
        (0.1 + 0.2, 2, 0.3),
        (1 / 3, 2, 0.33),
        (2 / 3, 2, 0.67),
        (10.0, 2, 10.0),
        (5.015, 2, 5.02),  # 5.01499999999999968...
        (8.345, 2, 8.35),
    ],
)
def test_excel_round_cases(value: float, digits: int, expected: float) -> None:
    assert excel_round(value, digits) == expected


def test_default_is_cents() -> None:
    assert excel_round(2.675) == 2.68
    assert excel_round(1 / 3) == 0.33


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        (123_456_789_012.345, 2, 123_456_789_012.35),  # 15 significant digits exactly
        (-98_765_432_109.875, 2, -98_765_432_109.88),
        (1_000_000_000_000.005, 2, 1_000_000_000_000.01),  # 1.000000000000005e12: 16 digits
        (4_321_987_654.125, 2, 4_321_987_654.13),
        (1e15, 2, 1e15),
        (1e20, 2, 1e20),
        (-1e20, 0, -1e20),
        (25_000_000.5, 0, 25_000_001.0),
    ],
)
def test_large_values(value: float, digits: int, expected: float) -> None:
    assert excel_round(value, digits) == expected


@pytest.mark.parametrize("value", [1e26, -2.5e40, 1e300])
def test_very_large_values_come_back_unchanged(value: float) -> None:
    # Excel: ROUND(1E+30, 2) = 1E+30. A double this large has no fractional part, so rounding
    # to cents must return it unchanged rather than raise decimal.InvalidOperation.
    assert excel_round(value, 2) == value
    assert excel_round(value, 0) == value


def test_zero_and_negative_zero() -> None:
    assert excel_round(0.0) == 0.0
    assert math.copysign(1.0, excel_round(0.0)) == 1.0
    # Excel has no negative zero: -0.0 comes back as plain 0.
    assert math.copysign(1.0, excel_round(-0.0)) == 1.0
    assert excel_round(-0.0, 0) == 0.0
    # A tiny negative amount rounds to (numerically) zero.
    assert excel_round(-0.004) == 0.0
    assert excel_round(-0.4, 0) == 0.0
    assert excel_round(0.004) == 0.0


def test_non_finite_values_pass_through() -> None:
    assert excel_round(math.inf) == math.inf
    assert excel_round(-math.inf) == -math.inf
    assert math.isnan(excel_round(math.nan))


@given(
    units=st.integers(-(10**12), 10**12),
    places=st.integers(0, 3),
    digits=st.integers(0, 4),
)
@PROPERTY
def test_short_decimals_round_half_away_from_zero(units: int, places: int, digits: int) -> None:
    # A decimal with at most 13 significant digits survives the trip through a double, so
    # Excel's ROUND of it is plain decimal half-up rounding of the number as typed.
    typed = Decimal(units).scaleb(-places)
    expected = float(typed.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))
    assert excel_round(float(typed), digits) == expected


@given(
    cents=st.integers(-(10**11), 10**11),
    digits=st.integers(0, 1),
)
@PROPERTY
def test_exact_halves_go_away_from_zero(cents: int, digits: int) -> None:
    half = Decimal(5).scaleb(-digits - 1)  # 0.5 or 0.05
    value = Decimal(cents).scaleb(-digits) + half
    rounded = excel_round(float(value), digits)
    step = Decimal(1).scaleb(-digits)
    expected = value + half if value > 0 else value - half  # away from zero
    assert rounded == float(expected.quantize(step))


@given(
    value=st.floats(-1e13, 1e13, allow_nan=False, allow_infinity=False),
    digits=st.integers(0, 6),
)
@PROPERTY
def test_matches_decimal_reference(value: float, digits: int) -> None:
    assert excel_round(value, digits) == reference_round(value, digits)


@given(
    value=st.floats(-1e10, 1e10, allow_nan=False, allow_infinity=False),
    digits=st.integers(0, 4),
)
@PROPERTY
def test_rounding_laws(value: float, digits: int) -> None:
    rounded = excel_round(value, digits)
    # symmetric: half away from zero treats both signs alike
    assert excel_round(-value, digits) == -rounded
    # idempotent
    assert excel_round(rounded, digits) == rounded
    # within half a unit of the value (plus the 15-digit reduction's own error)
    assert abs(rounded - value) <= 0.5 * 10**-digits + abs(value) * 1e-14 + 1e-300
    # a whole number of units: no more decimals than asked for (at most 15 digits in all)
    assert Decimal(repr(rounded)).normalize().as_tuple().exponent >= -digits


def test_excel_round_array() -> None:
    result = excel_round_array([2.675, -2.675, 1.005, 0.0], 2)
    assert isinstance(result, np.ndarray)
    assert result.dtype == float
    assert result.tolist() == [2.68, -2.68, 1.01, 0.0]
    assert excel_round_array(np.array([0.5, 1.5, 2.5]), 0).tolist() == [1.0, 2.0, 3.0]
    assert excel_round_array([]).tolist() == []


def test_money_sum() -> None:
    assert money_sum([0.1] * 10) == 1.0  # fsum, not 0.9999999999999999
    assert money_sum([1e16, 1.0, -1e16]) == 1.0  # exactly rounded sum
    assert money_sum([0.0025, 0.0025]) == 0.01  # 0.005, then half away from zero
    assert money_sum([]) == 0.0


def test_format_money() -> None:
    assert format_money(1234.5) == "$1,234.50"
    assert format_money(-1234.567) == "-$1,234.57"
    assert format_money(0.0) == "$0.00"
    assert format_money(-0.0) == "$0.00"
    assert format_money(1_000_000) == "$1,000,000.00"
