"""Transition protection: how far a school's unrestricted money may fall against last year,
and who pays for it.

Every school with a prior-year allocation has a floor, prior x (1 - maximum loss). A school
whose formula total is below its floor is owed the shortfall ("protection"). The rule says
where the money comes from:

- ``scale_gains``: a share of every gain above last year (the classic soft landing);
- ``cap_gains``: only gains above a ceiling, prior x (1 + gain cap), are taken ("capping and
  scaling", England's minimum funding guarantee): gainers keep growth up to the cap, so less
  money is available than under scale_gains, and the maximum loss it affords is larger;
- ``reserve``: a named reserve outside the formula budget pays; nobody's gain is touched.

When the money available is less than the protection owed, the promise cannot be kept: each
protected school gets the same share of its shortfall, and `notes` says so, names how many
schools lose more than the maximum, and gives the choices (a reserve of the missing amount, the
maximum loss the gains can afford, a gain cap). The workbook's Calculation and Policy sheets
compute the same figures with the same formulas (district_book.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .model import District
from .money import format_money


@dataclass
class Transition:
    """The transition rule's figures for every school (arrays in roster order)."""

    mode: str = "scale_gains"
    max_loss: float = 0.0
    formula_total: np.ndarray = field(default_factory=lambda: np.zeros(0))
    prior: np.ndarray = field(default_factory=lambda: np.zeros(0))
    protection: np.ndarray = field(default_factory=lambda: np.zeros(0))  # shortfall below floor
    gains: np.ndarray = field(default_factory=lambda: np.zeros(0))  # what may be taken
    protection_total: float = 0.0
    gains_total: float = 0.0
    funding: float = 0.0  # dollars available to pay protection
    paid: float = 0.0  # share of each shortfall paid
    taken: float = 0.0  # share of each takeable gain taken
    amounts: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def applies(self) -> bool:
        """True when the policy has a transition component."""
        return len(self.prior) > 0

    @property
    def kept(self) -> bool:
        """True when every protected school gets its whole shortfall."""
        return self.protection_total <= 0 or self.paid >= 1.0

    def floor(self, index: int) -> float:
        """A school's floor: the least it was promised."""
        return float(self.prior[index]) * (1 - self.max_loss)

    def result(self, index: int) -> float:
        """A school's unrestricted total after the rule (formula total + transition)."""
        return float(self.formula_total[index]) + float(self.amounts[index])

    def below_floor(self) -> list[int]:
        """Schools whose result stays below their floor (by more than a cent)."""
        return [i for i in range(len(self.prior))
                if self.prior[i] > 0 and self.result(i) < self.floor(i) - 0.005]

    def affordable_max_loss(self) -> float:
        """The smallest maximum loss the gains available can pay for in full (scale_gains and
        cap_gains), found by bisection: protection falls as the allowed loss grows."""
        has_prior = self.prior > 0

        def cost(loss: float) -> float:
            floor = self.prior * (1 - loss)
            return math.fsum(np.where(has_prior, np.maximum(0.0, floor - self.formula_total), 0))

        low, high = self.max_loss, 1.0
        if cost(low) <= self.funding:
            return low
        for _ in range(60):
            mid = (low + high) / 2
            if cost(mid) <= self.funding:
                high = mid
            else:
                low = mid
        return math.ceil(high * 10000) / 10000  # to a hundredth of a percent, on the safe side

    def notes(self, district: District) -> list[str]:
        """What the budget office must know: the promise kept or not, and the choices."""
        if self.kept:
            return []
        short = self.below_floor()
        worst = max(short, key=lambda i: self.floor(i) - self.result(i), default=None)
        source = {"scale_gains": "all gains above last year come",
                  "cap_gains": f"gains above the {district.transition_gain_cap:.1%} cap come",
                  "reserve": "the transition reserve comes"}[self.mode]
        text = (f"Transition promise not kept: no school was to lose more than "
                f"{self.max_loss:.1%} of last year, but protection costs "
                f"{format_money(self.protection_total)} and {source} to "
                f"{format_money(self.funding)}. Protected schools get {share(self.paid)} of their "
                f"shortfall, so {len(short)} school(s) lose more than {self.max_loss:.1%}")
        if worst is not None:
            loss = 1 - self.result(worst) / float(self.prior[worst])
            text += f" (at most {loss:.1%})"
        missing = self.protection_total - self.funding
        choices = [f"fund it from a reserve: transition_mode = \"reserve\" with "
                   f"transition_reserve = {math.ceil(self.protection_total):.0f} "
                   f"({format_money(missing)} more than is available now)"]
        if self.mode != "reserve":
            choices.append(f"promise what the gains can pay: a maximum loss of "
                           f"{self.affordable_max_loss():.2%}")
        if self.mode == "cap_gains":
            choices.append("lower the gain cap, so more of each gain pays for protection")
        else:
            choices.append("raise the budget, so fewer schools fall below their floor")
        return [text + ". Choices: " + "; ".join(choices) + "."]


def transition_rule(district: District, formula_total: np.ndarray,
                    prior: np.ndarray) -> Transition:
    """Apply the district's transition rule to each school's formula total."""
    mode = district.transition_mode
    has_prior = prior > 0
    floor = prior * (1 - district.transition_max_loss)
    protection = np.where(has_prior, np.maximum(0.0, floor - formula_total), 0.0)
    cap = district.transition_gain_cap if mode == "cap_gains" else 0.0
    gains = np.where(has_prior, np.maximum(0.0, formula_total - prior * (1 + cap)), 0.0)
    protection_total, gains_total = math.fsum(protection), math.fsum(gains)
    funding = district.transition_reserve if mode == "reserve" else gains_total
    paid = min(1.0, funding / protection_total) if protection_total > 0 else 0.0
    taken = (min(1.0, protection_total / gains_total)
             if gains_total > 0 and mode != "reserve" else 0.0)
    return Transition(mode=mode, max_loss=district.transition_max_loss,
                      formula_total=formula_total, prior=prior, protection=protection,
                      gains=gains, protection_total=protection_total, gains_total=gains_total,
                      funding=funding, paid=paid, taken=taken,
                      amounts=np.zeros(len(prior)))


def share(value: float) -> str:
    """A share in words, with the digits a small one needs: 48.1%, 0.056%."""
    if 0 < value < 0.01:
        return f"{value:.3%}"
    return f"{value:.1%}"
