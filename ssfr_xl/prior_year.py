"""Last year against this year, component by component, and why each amount changed.

Last year's district workbook (`--prior-workbook`) is read like any district workbook (its
inputs, never its results) and run through the engine. For each school found in both years
(by school id) and each component, the change splits into its causes:

- for components whose amount is pupils x rate (base, per-pupil, concentration, categorical,
  small-school): the count effect, (this year's pupils - last year's) x last year's rate —
  *enrollment* for the base and the small-school adjustment, *need* for the need weights — and
  the rate effect, this year's pupils x (this year's rate - last year's);
- what neither explains (rounding, a school becoming eligible or not, a cap) and the change of
  fixed amounts (foundation, pools, floors, transition, adjustment lines) as *other*, named.

The three parts add up to the change to the cent (other = change - count - rate).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .formula import AllocationResult, ComponentResult, allocate
from .money import excel_round, format_money

#: Kinds whose amount is driver x rate (so the change splits into count and rate effects).
SPLIT_KINDS = frozenset({"base", "per_pupil", "concentration", "categorical", "small_school"})
OTHER_WORDS = {"foundation": "fixed amount", "pool": "share of the pool",
               "floor": "greater-of floor", "transition": "transition protection",
               "adjustment": "adjustment lines", "per_pupil": "rates by band"}


@dataclass(frozen=True)
class ComponentChange:
    """One component of one school: last year, this year, the change and its causes."""

    code: str
    name: str
    last: float
    now: float
    count_effect: float  # enrollment or need
    rate_effect: float
    other: float
    causes: str  # in words

    @property
    def change(self) -> float:
        """This year minus last year."""
        return excel_round(self.now - self.last)


def _signed(value: float) -> str:
    return ("+" if value > 0 else "") + format_money(value)


def component_change(now: ComponentResult, last: ComponentResult | None, i: int,
                     j: int | None) -> ComponentChange:
    """The change of one component for school i this year (j last year, None if absent)."""
    c = now.component
    amount = float(now.amount[i])
    if last is None or j is None:
        what = "new component this year" if last is None else "new school"
        return ComponentChange(c.code, c.name, 0.0, amount, 0.0, 0.0, amount,
                               f"{what}: {_signed(amount)}" if amount else what)
    before = float(last.amount[j])
    change = excel_round(amount - before)
    count = rate = 0.0
    parts = []
    if c.kind in SPLIT_KINDS and not c.bands and last.component.kind == c.kind:
        d_now, d_last = float(now.driver[i]), float(last.driver[j])
        r_now, r_last = float(now.rate), float(last.rate)
        count = excel_round((d_now - d_last) * r_last)
        rate = excel_round(d_now * (r_now - r_last))
        label = "enrollment" if c.kind in ("base", "small_school") else "need"
        unit = "weighted pupils" if c.kind == "base" and not c.basis else "pupils"
        if count:
            parts.append(f"{label} {_signed(count)} ({d_last:,.2f} -> {d_now:,.2f} {unit} at "
                         f"last year's {format_money(r_last)})")
        if rate:
            parts.append(f"rate {_signed(rate)} ({format_money(r_last)} -> "
                         f"{format_money(r_now)})")
    other = excel_round(change - count - rate)
    if other:
        word = OTHER_WORDS.get(c.kind, "eligibility, cap or rounding") if (
            c.kind not in SPLIT_KINDS or c.bands) else "eligibility, cap or rounding"
        parts.append(f"{word} {_signed(other)}")
    return ComponentChange(c.code, c.name, before, amount, count, rate, other,
                           "; ".join(parts) or "no change")


def compare_years(now: AllocationResult, last: AllocationResult
                  ) -> dict[str, tuple[ComponentChange, ...]]:
    """Per school of this year: each component's change against last year."""
    last_index = {s.school_id: j for j, s in enumerate(last.schools)}
    last_by_code = {r.component.code: r for r in last.components}
    out = {}
    for i, s in enumerate(now.schools):
        j = last_index.get(s.school_id)
        out[s.school_id] = tuple(component_change(r, last_by_code.get(r.component.code), i, j)
                                 for r in now.components)
    return out


def read_prior_workbook(path: str | Path) -> AllocationResult:
    """Last year's allocation: its district workbook's inputs, run through the engine. A file
    that is not a district workbook is refused with its problem, said to be --prior-workbook's."""
    from .district_book import read_district
    from .errors import SsfrError

    try:
        return allocate(read_district(Path(path)))
    except SsfrError as e:
        e.args = (f"Last year's district workbook (--prior-workbook): {e}",)
        raise


def same_year_note(now: AllocationResult, last: AllocationResult, source: str) -> list[str]:
    """A warning when "last year's" workbook is for this workbook's fiscal year (this year's
    own workbook, or a copy of it, given by mistake)."""
    year = now.inputs.district.fiscal_year
    if year and last.inputs.district.fiscal_year == year:
        return [f"  Warning: {source} is for fiscal year {year}, the same as this workbook: "
                "is it last year's district workbook? (last year's allocations and changes are "
                "read from it)"]
    return []


def comparison_lines(now: AllocationResult, last: AllocationResult, source: str) -> list[str]:
    """District totals per component, last year and this year, for init's summary."""
    changes = compare_years(now, last)
    last_ids = {t.school_id for t in last.schools}
    found = sum(1 for s in now.schools if s.school_id in last_ids)
    lines = [*same_year_note(now, last, source),
             f"  Against last year ({source}, {last.inputs.district.fiscal_year}): {found} of "
             f"{len(now.schools)} schools found there; by component (last year -> this year; "
             "enrollment, need, rate, other):"]
    for k, r in enumerate(now.components):
        rows = [changes[s.school_id][k] for s in now.schools]

        def total(key: str, rows=rows) -> float:
            return excel_round(sum(getattr(x, key) for x in rows))
        lines.append(f"    {r.component.code:<8} {format_money(total('last')):>18} -> "
                     f"{format_money(total('now')):>18}  count {_signed(total('count_effect'))}"
                     f", rate {_signed(total('rate_effect'))}, other {_signed(total('other'))}")
    return lines


__all__ = ["ComponentChange", "compare_years", "comparison_lines", "component_change",
           "read_prior_workbook", "same_year_note"]
