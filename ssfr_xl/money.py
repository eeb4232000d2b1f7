"""Money as Excel computes it: ROUND half away from zero, after reducing to 15 digits.

Python's round() rounds half to even on the binary value (round(2.675, 2) == 2.67); Excel's
ROUND first reduces the double to 15 significant digits, then rounds half away from zero
(ROUND(2.675, 2) == 2.68). Every amount ssfr-xl shows goes through excel_round so the Python
engine agrees with the workbook's formulas to the cent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

_QUANTS = {d: Decimal(1).scaleb(-d) for d in range(0, 10)}


def excel_round(value: float, digits: int = 2) -> float:
    """Round like Excel's ROUND(value, digits): 15 significant digits, then half away from zero."""
    if value == 0 or not math.isfinite(value):
        return 0.0 if value == 0 else value
    if abs(value) >= 1e15:  # no fraction left at 15 significant digits: already whole
        return float(Decimal(f"{value:.15g}"))
    # Decimal's ROUND_HALF_UP is "half away from zero" for negative numbers too.
    reduced = Decimal(f"{value:.15g}")
    return float(reduced.quantize(_QUANTS[digits], rounding=ROUND_HALF_UP))


def excel_round_array(values: Iterable[float], digits: int = 2) -> np.ndarray:
    """excel_round over an array of floats."""
    return np.array([excel_round(float(v), digits) for v in values], dtype=float)


def money_sum(values: Iterable[float]) -> float:
    """Sum of amounts, exactly rounded (math.fsum), then rounded to the cent."""
    return excel_round(math.fsum(values), 2)


def format_money(value: float, decimals: int = 2) -> str:
    """$1,234.56 / -$1,234.56, as the workbooks show money."""
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.{decimals}f}"
