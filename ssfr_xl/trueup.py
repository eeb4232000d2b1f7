"""The fall true-up: each school's allocation recomputed on actual counts, with the adopted rates.

Spring allocations are made on projected enrollment; in the fall the district counts its pupils
again (CALPADS census day, an October roster) and corrects them. The true-up

1. reads the fall counts (a roster CSV or CDE's CUPC file) and puts them in place of the
   spring counts, school by school (matched by school id, or by CDS code for a CDE file); what
   the counts source does not hold (a CDE file has no special-education counts, no district
   columns) stays as it was in spring, and is said so;
2. runs the adopted formula on them: the same policy, weights and adjustment lines, and the
   spring base rate, fixed (`resolve_base = true` in the policy's [trueup] section solves it
   again for the budget on the fall counts instead);
3. applies the policy's true-up rules per fund to each school's change (hold harmless, no
   reduction below a threshold, a cap on what is taken back) to give its adjustment, with the
   reason in words.

Totals reconcile: per fund, the adjustments add up to fall - spring - what the rules withheld.
A school of the district missing from the counts keeps its spring allocation; a school in the
counts but not in the district is listed, unfunded (add it to the roster to fund it).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .amendment import FundChange
from .errors import FileError, InputError, PolicyError, RosterError
from .formula import AllocationResult, allocate
from .model import GRADES, PUPIL_FIELDS, District, DistrictInputs, Policy, School
from .money import excel_round, format_money
from .policy import template_path

#: Rules a fund's change goes through, in the words the outputs use.
RULES = ("increase", "no change", "reduction", "clawback capped", "below threshold",
         "hold harmless", "no fall count")
#: Keys of the [trueup] section (and, except resolve_base, of its [trueup.fund.<CODE>] tables).
FUND_KEYS = ("hold_harmless", "no_reduction_below", "max_clawback")
_SHARE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


@dataclass(frozen=True)
class Limit:
    """A dollar amount, or a share of the school's spring allocation in the fund."""

    dollars: float = 0.0
    share: float | None = None  # 0.05 for "5%"

    def amount(self, spring: float) -> float:
        """The limit in dollars for a school whose spring allocation is `spring`."""
        if self.share is None:
            return self.dollars
        return excel_round(self.share * max(spring, 0.0))

    def words(self, spring: float) -> str:
        """$5,000.00, or $5,000.00 (2% of the spring allocation)."""
        money = format_money(self.amount(spring))
        if self.share is None:
            return money
        return f"{money} ({self.share * 100:.4g}% of the spring allocation)"


@dataclass(frozen=True)
class FundRule:
    """How a fund's fall change becomes an adjustment."""

    hold_harmless: bool = False  # a fund never goes down
    no_reduction_below: Limit = Limit()  # decreases smaller than this are not taken back
    max_clawback: Limit | None = None  # the most taken back from one school (None: no cap)

    def describe(self) -> str:
        """The rule in one line (the Rules sheet)."""
        if self.hold_harmless:
            return "Hold harmless: increases are paid, no reduction is taken back."
        parts = ["Increases are paid in full"]
        small = self.no_reduction_below
        if small.share is not None or small.dollars > 0:
            shown = (f"{small.share * 100:.4g}% of the spring allocation" if small.share
                     is not None else format_money(small.dollars))
            parts.append(f"reductions smaller than {shown} are not taken back")
        cap = self.max_clawback
        if cap is not None:
            shown = (f"{cap.share * 100:.4g}% of the spring allocation" if cap.share is not None
                     else format_money(cap.dollars))
            parts.append(f"at most {shown} is taken back from one school")
        else:
            parts.append("reductions are taken back in full" if len(parts) == 1
                         else "other reductions are taken back in full")
        return "; ".join(parts) + "."


@dataclass(frozen=True)
class TrueupRules:
    """The policy's [trueup] section: the base rate choice and one rule per fund."""

    resolve_base: bool = False
    default: FundRule = FundRule()
    funds: Mapping[str, FundRule] = field(default_factory=dict)

    def rule(self, fund: str) -> FundRule:
        """The rule for one fund (its own table, else the section's)."""
        return self.funds.get(fund, self.default)


def _limit(value: object, where: str, key: str) -> Limit:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PolicyError(f"{where}: {key} must be dollars (e.g. 25000) or a share of the "
                          f"spring allocation (e.g. \"5%\"), not {value!r}.")
    if isinstance(value, str):
        m = _SHARE.match(value)
        if m is None:
            raise PolicyError(f"{where}: {key} = {value!r} is not a share: write it as "
                              "\"5%\" (in quotes), or give dollars as a number (25000).")
        share = float(m.group(1)) / 100
        if share > 1:
            raise PolicyError(f"{where}: {key} = {value!r} is more than 100%.")
        return Limit(share=share)
    if not math.isfinite(value) or value < 0:
        raise PolicyError(f"{where}: {key} must be 0 or more dollars, not {value!r}.")
    return Limit(dollars=float(value))


def _fund_rule(table: Mapping[str, Any], where: str, base: FundRule) -> FundRule:
    rule = base
    if "hold_harmless" in table:
        value = table["hold_harmless"]
        if not isinstance(value, bool):
            raise PolicyError(f"{where}: hold_harmless must be true or false, not {value!r}.")
        rule = replace(rule, hold_harmless=value)
    if "no_reduction_below" in table:
        rule = replace(rule, no_reduction_below=_limit(table["no_reduction_below"], where,
                                                       "no_reduction_below"))
    if "max_clawback" in table:
        raw = table["max_clawback"]
        cap = None if raw == "none" else _limit(raw, where, "max_clawback")
        rule = replace(rule, max_clawback=cap)
    return rule


def parse_trueup_rules(data: Mapping[str, Any], where: str, fund_codes: Sequence[str],
                       strict: bool = True) -> TrueupRules:
    """The [trueup] section of parsed policy TOML (defaults when it has none); every key and
    fund code is checked against what exists, naming the file and the key. Not `strict` (the
    shipped policy, written for its sample funds), a table of a fund the district does not
    have is left out."""
    section = data.get("trueup", {})
    if not isinstance(section, Mapping):
        raise PolicyError(f"{where}: [trueup] must be a table of settings.")
    known = ("resolve_base", *FUND_KEYS, "fund")
    unknown = [k for k in section if k not in known]
    if unknown:
        raise PolicyError(f"{where}: [trueup] has no setting {unknown[0]!r}; the settings are "
                          f"{', '.join(known[:-1])} and [trueup.fund.<CODE>] tables.")
    resolve = section.get("resolve_base", False)
    if not isinstance(resolve, bool):
        raise PolicyError(f"{where}: [trueup] resolve_base must be true or false, not "
                          f"{resolve!r}.")
    default = _fund_rule(section, f"{where} [trueup]", FundRule())
    tables = section.get("fund", {})
    if not isinstance(tables, Mapping) or not all(isinstance(t, Mapping)
                                                  for t in tables.values()):
        raise PolicyError(f"{where}: [trueup.fund.<CODE>] must be tables, one per fund "
                          "(e.g. [trueup.fund.TITLE1] with hold_harmless = true).")
    funds: dict[str, FundRule] = {}
    for code, table in tables.items():
        at = f"{where} [trueup.fund.{code}]"
        if code not in fund_codes and not strict:
            continue
        if code not in fund_codes:
            raise PolicyError(f"{at}: {code!r} is not a fund of this district (its funds: "
                              f"{', '.join(fund_codes)}).")
        extra = [k for k in table if k not in FUND_KEYS]
        if extra:
            raise PolicyError(f"{at}: no setting {extra[0]!r}; a fund's settings are "
                              f"{', '.join(FUND_KEYS)}.")
        funds[code] = _fund_rule(table, at, default)
    return TrueupRules(resolve, default, funds)


def load_trueup_rules(path: str | Path | None, fund_codes: Sequence[str]) -> TrueupRules:
    """The [trueup] section of a policy file (the shipped templates/policy.toml when None)."""
    source = Path(path) if path else template_path("policy.toml")
    try:
        # utf-8-sig: Notepad and Excel save UTF-8 with a byte-order mark
        data = tomllib.loads(source.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError as e:
        raise FileError(f"Policy file not found: {source}") from e
    except tomllib.TOMLDecodeError as e:
        raise PolicyError(f"{source.name}: not valid TOML ({e}).") from e
    except (OSError, UnicodeDecodeError) as e:
        raise FileError(f"Cannot read the policy file {source}: {e}") from e
    return parse_trueup_rules(data, source.name, fund_codes, strict=path is not None)


# --- the counts ----------------------------------------------------------------------------

@dataclass(frozen=True)
class FallCounts:
    """The fall counts: schools (with their counts), which fields they give, the source."""

    schools: tuple[School, ...]
    fields: tuple[str, ...]  # count fields taken from the source ("grades" for the grades)
    source: str  # file name
    notes: tuple[str, ...] = ()
    by_cds: bool = False  # match the district's schools by CDS code (a CDE file)


def read_fall_counts(policy: Policy, *, counts: Path | None = None, cde: Path | None = None,
                     district_code: str = "") -> FallCounts:
    """The fall counts from a roster CSV (every count column) or a CDE CUPC file (enrollment,
    meals, EL, foster, homeless, unduplicated)."""
    from .sources import read_cde_cupc, read_roster_csv

    if counts is not None:
        schools = read_roster_csv(counts, policy.roster_columns)
        fields = ("grades", *PUPIL_FIELDS, *(c.key for c in policy.roster_columns))
        return checked(FallCounts(tuple(schools), fields, Path(counts).name))
    assert cde is not None
    found = read_cde_cupc(cde, district_code)
    kept = ["swd (students with disabilities)"] + [c.key for c in policy.roster_columns]
    notes = (f"{Path(cde).name} has no counts of {', '.join(kept)}: they are kept from the "
             "spring roster.",)
    fields = ("grades", *(f for f in PUPIL_FIELDS if f != "swd"))
    return checked(FallCounts(tuple(found.schools), fields, Path(cde).name, notes, by_cds=True))


#: More pupils than any school has: a count past it is a typing or export error (and its
#: dollars would pass the 15 significant digits money is exact to).
MAX_SCHOOL_PUPILS = 100_000


def checked(counts: FallCounts) -> FallCounts:
    """The counts, refused when a school's enrollment is past MAX_SCHOOL_PUPILS."""
    from .exports import line_text

    for s in counts.schools:
        if s.enrollment > MAX_SCHOOL_PUPILS:
            raise RosterError(f"{line_text(counts.source)}: school {line_text(s.school_id)} "
                              f"({line_text(s.name)}) has {s.enrollment:,} pupils in the fall "
                              f"counts; no school has more than {MAX_SCHOOL_PUPILS:,}. Correct "
                              "the count.")
    return counts


def with_fall_counts(spring: School, fall: School, fields: Sequence[str]) -> School:
    """The spring school (identity, level, prior year, incentives) with the fall counts."""
    changes: dict[str, Any] = {}
    if "grades" in fields:
        changes["enrollment_by_grade"] = {g: fall.enrollment_by_grade.get(g, 0) for g in GRADES}
        changes["grades_estimated"] = fall.grades_estimated
    for name in PUPIL_FIELDS:
        if name in fields:
            changes[name] = getattr(fall, name)
    extra = {k: v for k, v in fall.extra.items() if k in fields}
    if extra:
        changes["extra"] = {**spring.extra, **extra}
    return replace(spring, **changes)


# --- the true-up -----------------------------------------------------------------------------

@dataclass(frozen=True)
class SchoolCounts:
    """A school's spring and fall counts, and whether it was matched."""

    school_id: str
    name: str
    status: str  # "counted", "missing from the fall counts", "new in the fall counts"
    spring_enrollment: int | None
    fall_enrollment: int | None
    spring_unduplicated: int | None
    fall_unduplicated: int | None


@dataclass(frozen=True)
class TrueupRow:
    """One school and fund of the true-up."""

    school_id: str
    school_name: str
    change: FundChange


@dataclass(frozen=True)
class FundTotal:
    """A fund's totals over the district: the reconciliation."""

    fund: str
    spring: float
    fall: float
    change: float
    withheld: float
    adjustment: float

    @property
    def amended(self) -> float:
        """Spring plus adjustments."""
        return excel_round(self.spring + self.adjustment)

    @property
    def reconciles(self) -> bool:
        """Adjustments = fall - spring - withheld, to the cent."""
        return abs(excel_round(self.fall - self.spring - self.withheld) - self.adjustment) < 0.005


@dataclass
class TrueupResult:
    """Everything the true-up computed."""

    spring: AllocationResult
    fall: AllocationResult
    rules: TrueupRules
    rows: list[TrueupRow]
    counts: list[SchoolCounts]
    source: str
    notes: list[str]

    @property
    def district(self) -> District:
        """The district (spring settings)."""
        return self.spring.inputs.district

    @property
    def policy(self) -> Policy:
        """The adopted policy."""
        return self.spring.inputs.policy

    def fund_totals(self) -> list[FundTotal]:
        """Per fund: spring, fall, raw change, withheld by rules, adjustments."""
        out = []
        for f in self.policy.funds:
            mine = [r.change for r in self.rows if r.change.fund == f.code]

            def total(values) -> float:
                return excel_round(math.fsum(values))
            out.append(FundTotal(f.code, total(c.spring for c in mine),
                                 total(c.fall for c in mine), total(c.change for c in mine),
                                 total(c.withheld for c in mine),
                                 total(c.adjustment for c in mine)))
        return out

    def school_adjustments(self) -> list[tuple[str, str, dict[str, float]]]:
        """(school_id, name, fund -> adjustment) in roster order."""
        out: dict[str, tuple[str, str, dict[str, float]]] = {}
        for r in self.rows:
            out.setdefault(r.school_id, (r.school_id, r.school_name, {}))[2][
                r.change.fund] = r.change.adjustment
        return list(out.values())


def fund_amounts(result: AllocationResult, index: int) -> dict[str, float]:
    """A school's allocation per fund, added as its plan workbook adds its components."""
    return {f.code: excel_round(sum(float(r.amount[index]) for r in result.components
                                    if r.component.fund == f.code))
            for f in result.inputs.policy.funds}


def apply_rule(fund: str, spring: float, fall: float, rule: FundRule) -> FundChange:
    """A fund's adjustment under its true-up rule, with the reason in words."""
    change = excel_round(fall - spring)
    moved = f"from {format_money(spring)} to {format_money(fall)}"
    if change > 0:
        return FundChange(fund, spring, fall, "increase", change,
                          f"The fall counts raise the {fund} allocation by "
                          f"{format_money(change)} ({moved}): paid in full.")
    if change == 0:
        return FundChange(fund, spring, fall, "no change", 0.0,
                          f"The fall counts give the same {fund} allocation: no change.")
    drop = -change
    lowers = f"The fall counts lower the {fund} allocation by {format_money(drop)} ({moved})"
    if rule.hold_harmless:
        return FundChange(fund, spring, fall, "hold harmless", 0.0,
                          f"{lowers}; {fund} holds schools harmless: no reduction.")
    threshold = rule.no_reduction_below.amount(spring)
    if drop < threshold:
        return FundChange(fund, spring, fall, "below threshold", 0.0,
                          f"{lowers}, less than the true-up threshold of "
                          f"{rule.no_reduction_below.words(spring)}: no reduction.")
    if rule.max_clawback is not None:
        cap = rule.max_clawback.amount(spring)
        if drop > cap:
            return FundChange(fund, spring, fall, "clawback capped", -cap,
                              f"{lowers}; at most {rule.max_clawback.words(spring)} is taken "
                              f"back from one school: the reduction is {format_money(cap)}.")
    return FundChange(fund, spring, fall, "reduction", -drop,
                      f"{lowers}: the reduction is taken back.")


def match_counts(schools: Sequence[School], counts: FallCounts
                 ) -> tuple[dict[str, School], list[str]]:
    """Each district school's fall count (school id -> counted school), matched by school id
    (CDS code for a CDE file); an id the counts spell in other upper or lower case matches when
    no other school does (a roster CSV counts them as one id), and is named in a note."""
    def key(s: School) -> str:
        return (s.cds_code or s.school_id) if counts.by_cds else s.school_id

    exact = {s.school_id: s for s in counts.schools}
    matched = {s.school_id: exact[key(s)] for s in schools if key(s) in exact}
    used = {id(f) for f in matched.values()}
    folded: dict[str, list[School]] = {}
    for f in counts.schools:
        if id(f) not in used:
            folded.setdefault(f.school_id.casefold(), []).append(f)
    claims: dict[str, list[School]] = {}
    for s in schools:
        if s.school_id not in matched:
            claims.setdefault(key(s).casefold(), []).append(s)
    notes = []
    for folded_key, hits in folded.items():
        wanting = claims.get(folded_key, [])
        if len(hits) == 1 and len(wanting) == 1:
            matched[wanting[0].school_id] = hits[0]
            notes.append(f"{counts.source} spells {key(wanting[0])} as {hits[0].school_id}: "
                         "taken as the same school.")
    return matched, notes


def run_trueup(inputs: DistrictInputs, counts: FallCounts, rules: TrueupRules) -> TrueupResult:
    """Recompute every school on the fall counts and apply the true-up rules."""
    spring = allocate(inputs)
    matched, case_notes = match_counts(inputs.schools, counts)
    if inputs.schools and not matched:
        raise InputError(f"None of the {len(inputs.schools):,} schools of "
                         f"{inputs.district.name} is in {counts.source}: is it this "
                         "district's file (and, for a CDE file, the right --district code)?")
    fall_schools = tuple(with_fall_counts(s, matched[s.school_id], counts.fields)
                         if s.school_id in matched else s for s in inputs.schools)
    district = inputs.district
    if not rules.resolve_base:
        district = replace(district, base_rate_mode="fixed", base_rate=spring.base_rate)
    fall = allocate(replace(inputs, district=district, schools=fall_schools))

    rows: list[TrueupRow] = []
    counted: list[SchoolCounts] = []
    for i, s in enumerate(inputs.schools):
        before = fund_amounts(spring, i)
        after = fund_amounts(fall, i)
        got = matched.get(s.school_id)
        for f in inputs.policy.funds:
            if got is None:
                change = FundChange(f.code, before[f.code], before[f.code], "no fall count",
                                    0.0, f"No fall count for this school in {counts.source}: "
                                    "the spring allocation stands.")
            else:
                change = apply_rule(f.code, before[f.code], after[f.code], rules.rule(f.code))
            rows.append(TrueupRow(s.school_id, s.name, change))
        counted.append(SchoolCounts(
            s.school_id, s.name, "counted" if got else "missing from the fall counts",
            s.enrollment, got.enrollment if got else None, s.unduplicated,
            got.unduplicated if got else None))
    used = {id(f) for f in matched.values()}
    new = [s for s in counts.schools if id(s) not in used]
    for s in new:
        counted.append(SchoolCounts(s.school_id, s.name, "new in the fall counts", None,
                                    s.enrollment, None, s.unduplicated))
    notes = list(counts.notes) + case_notes
    missing = [c for c in counted if c.status == "missing from the fall counts"]
    if missing:
        notes.append(f"{len(missing)} school(s) of the district are not in {counts.source}; "
                     "they keep their spring allocation: "
                     + ", ".join(f"{c.school_id} {c.name}" for c in missing[:10])
                     + (" ..." if len(missing) > 10 else "") + ".")
    if new:
        notes.append(f"{len(new)} school(s) in {counts.source} are not schools of the "
                     "district workbook, so they get no allocation here; to fund one, add it "
                     "to the roster (ssfr-xl export, then init): "
                     + ", ".join(f"{s.school_id} {s.name}" for s in new[:10])
                     + (" ..." if len(new) > 10 else "") + ".")
    if rules.resolve_base:
        notes.append(f"Base rate solved again for the budget on the fall counts: "
                     f"{format_money(fall.base_rate)} (spring {format_money(spring.base_rate)}).")
    notes += [f"Fall formula: {n}" for n in fall.notes if n not in spring.notes]
    return TrueupResult(spring, fall, rules, rows, counted, counts.source, notes)


def summary_lines(result: TrueupResult) -> list[str]:
    """The true-up in words for the terminal: each school's adjustment, then the totals."""
    d = result.district
    base = ("solved again on the fall counts" if result.rules.resolve_base
            else "the adopted spring rate, not solved again")
    lines = [f"{d.name}, fiscal year {d.fiscal_year}: fall true-up on {result.source}",
             f"  Base rate {format_money(result.fall.base_rate)} per weighted pupil ({base})",
             "  Adjustment per school (all funds; by fund where any moved):"]
    for school_id, name, by_fund in result.school_adjustments():
        total = excel_round(sum(by_fund.values()))
        parts = ", ".join(f"{f} {_signed(v)}" for f, v in by_fund.items() if v)
        lines.append(f"    {school_id:<16} {name[:40]:<40} {_signed(total):>16}"
                     + (f"  ({parts})" if parts else ""))
    lines.append("  Totals by fund: spring, fall recomputed, raw change, withheld by rules, "
                 "adjustments")
    for t in result.fund_totals():
        check = "OK" if t.reconciles else "DIFFERENT"
        lines.append(f"    {t.fund:<10} {format_money(t.spring):>18} {format_money(t.fall):>18} "
                     f"{_signed(t.change):>16} {_signed(t.withheld):>16} "
                     f"{_signed(t.adjustment):>16}  adjustments = fall - spring - withheld: "
                     f"{check}")
    lines += [f"  Note: {n}" for n in result.notes]
    return lines


def _signed(value: float) -> str:
    return ("+" if value > 0 else "") + format_money(value)


__all__ = ["MAX_SCHOOL_PUPILS", "FallCounts", "FundRule", "FundTotal", "Limit", "SchoolCounts",
           "TrueupResult", "TrueupRow", "TrueupRules", "apply_rule", "checked", "fund_amounts",
           "load_trueup_rules", "match_counts", "parse_trueup_rules", "read_fall_counts",
           "run_trueup", "summary_lines", "with_fall_counts"]
