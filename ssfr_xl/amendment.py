"""A school's amended allocation: the fall true-up's adjustment per fund, with its reasons.

An amendment leaves the spring allocation of record as it was (its components, their math) and
adds one adjustment per fund; the amended allocation of a fund is spring + adjustment. The plan
workbook shows it on the Allocation sheet and in its metadata; validate and consolidate, given
the true-up file (--amend), take the amended amounts as the school's allocation of record.

A leaf module (model-level data): school_book, validate and trueup all use it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .money import excel_round


@dataclass(frozen=True)
class FundChange:
    """One fund of one school in a true-up: spring, fall recomputed, the rule, the adjustment."""

    fund: str
    spring: float  # the spring allocation of record
    fall: float  # the formula on the fall counts, with the adopted rates
    rule: str  # the true-up rule applied (increase, reduction, hold harmless, ...)
    adjustment: float  # what the school's allocation moves by
    reason: str  # the adjustment in words

    @property
    def change(self) -> float:
        """Fall minus spring, before any rule."""
        return excel_round(self.fall - self.spring)

    @property
    def withheld(self) -> float:
        """The part of the raw change the rules did not apply (change - adjustment)."""
        return excel_round(self.change - self.adjustment)

    @property
    def amended(self) -> float:
        """The fund's allocation after the true-up."""
        return excel_round(self.spring + self.adjustment)


@dataclass(frozen=True)
class Amendment:
    """A school's amendment: its number (1 for the first true-up), the true-up file it came
    from and one FundChange per fund."""

    number: int
    source: str  # the true-up file's name
    changes: tuple[FundChange, ...]
    kept_from: str = ""  # the returned plan whose lines the amended plan keeps

    def adjustment(self, fund: str) -> float:
        """The adjustment to one fund (0 for a fund the true-up does not name)."""
        return excel_round(sum(c.adjustment for c in self.changes if c.fund == fund))

    @property
    def total(self) -> float:
        """All funds' adjustments."""
        return excel_round(sum(c.adjustment for c in self.changes))

    @property
    def payload(self) -> list[list[object]]:
        """What the amended plan computes with (for the allocation fingerprint): each fund's
        adjustment in cents. The number and the words do not change a plan's numbers."""
        return [[c.fund, round(c.adjustment * 100)] for c in self.changes]

    @property
    def reason(self) -> str:
        """One sentence per fund that moved (or was held), for the plan's metadata."""
        moved = [f"{c.fund}: {c.reason}" for c in self.changes
                 if c.adjustment or c.change]
        return " ".join(moved) or "The fall counts do not change this school's allocation."


__all__ = ["Amendment", "FundChange"]
