"""Rules for returned school plans: every problem becomes a Finding; nothing here prints.

A returned plan is trusted for the principal's inputs only. The allocation of record comes
from the district workbook, and every total is recomputed in Python from the inputs.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl.utils.cell import range_boundaries

from .amendment import Amendment
from .district_book import read_district
from .excel_expr import as_text
from .formula import AllocationResult, allocate
from .layout import START_FIELDS, TEMPLATE_VERSION, SchoolLayout
from .layout import SchoolSheets as SS
from .line_messages import line_message
from .model import DistrictInputs, Finding, Policy
from .money import excel_round, format_money
from .plan import PlanInputs, PlanTotals, plan_totals, read_plan_inputs
from .plan_integrity import (
    Findings,
    PlanTemplate,
    changed_allocations,
    check_formulas,
    check_names,
    check_outside,
    identity_cells,
    list_changes,
)
from .school_book import build_school_plan, plan_specs

XLWINGS_SHEETS = ("xlwings.conf", "_xlwings.conf")


@dataclass
class DistrictRecord:
    """The district of record a plan is checked against."""

    inputs: DistrictInputs
    result: AllocationResult
    allocations: dict[str, dict[str, float]]  # school_id -> fund -> amount
    fingerprints: dict[str, str]
    names: dict[str, str]
    template: PlanTemplate | None  # None when the district has no schools
    #: school_id -> the fall true-up's amendment (validate/consolidate --amend): the amended
    #: allocation is the school's allocation of record
    amendments: dict[str, Amendment] = field(default_factory=dict)

    @property
    def policy(self) -> Policy:
        """The district's policy (funds, lists, rules)."""
        return self.inputs.policy

    @property
    def layout(self) -> SchoolLayout:
        """Where things are in this district's plan workbooks."""
        return SchoolLayout(self.policy)

    def district_total(self) -> float:
        """Every school's allocation, all funds: what the formula handed out."""
        return excel_round(sum(sum(v.values()) for v in self.allocations.values()))


def district_record(district_xlsx: str | Path, amend: str | Path | None = None
                    ) -> DistrictRecord:
    """Read the district workbook and compute the allocations of record; with `amend` (a
    true-up workbook or CSV), the amended schools' allocations of record are spring + their
    true-up adjustments."""
    inputs = read_district(district_xlsx)
    result = allocate(inputs)
    specs = plan_specs(result)
    amendments: dict[str, Amendment] = {}
    if amend is not None:
        from .trueup_book import read_amendments

        amendments = read_amendments(Path(amend), inputs)
        specs = [dataclasses.replace(s, amendment=amendments.get(s.school.school_id))
                 for s in specs]
    allocations = {s.school.school_id: {f.code: s.fund_allocation(f.code)
                                        for f in inputs.policy.funds} for s in specs}
    template = None
    if specs:
        # formulas and labels are the same in every school's plan; only inputs and the
        # Allocation and Start Here values differ
        template = PlanTemplate.of(build_school_plan(dataclasses.replace(specs[0], positions=(),
                                                                 amendment=None)),
                                   SchoolLayout(inputs.policy))
    return DistrictRecord(
        inputs=inputs, result=result, allocations=allocations,
        fingerprints={s.school.school_id: s.fingerprint for s in specs},
        names={s.school_id: s.name for s in inputs.schools},
        template=template, amendments=amendments,
    )


@dataclass
class PlanCheck:
    """The outcome of checking one returned file."""

    file: Path
    sha256: str
    school_id: str = ""
    findings: list[Finding] = field(default_factory=list)
    inputs: PlanInputs | None = None
    totals: PlanTotals | None = None

    @property
    def errors(self) -> int:
        """Number of error-level findings."""
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        """Number of warning-level findings."""
        return sum(1 for f in self.findings if f.severity == "warning")

    @property
    def status(self) -> str:
        """accepted, accepted with warnings, or rejected."""
        if self.errors:
            return "rejected"
        return "accepted with warnings" if self.warnings else "accepted"


def check_plan(raw, record: DistrictRecord, path: Path | None = None) -> PlanCheck:
    """Check one returned workbook (a reader.RawWorkbook) against the district of record.

    In order: identity (the hidden metadata and Start Here), the workbook itself (sheets,
    names, every formula by content, merged cells, cells outside the plan, calculation
    settings), the lists and allocation it computes with, then every line and total as the
    workbook's own formulas compute them (plan_math), evaluated on the input cells.
    """
    path = Path(path or raw.path)
    # the hash of exactly the bytes that were checked (the reader keeps it)
    check = PlanCheck(path, getattr(raw, "sha256", ""))
    f = Findings(path)
    for w in getattr(raw, "warnings", ()):
        f.add(w.severity, w.code, w.sheet, w.cell, w.message)
    meta = _meta(raw)
    if meta is None:
        f.error("not-a-plan", "", "", "This file is not an ssfr-xl school plan workbook (its "
                "hidden identity sheet is missing). Fill in the plan workbook the district sent "
                "you and return that file.")
        check.findings = f.items
        return check
    school_id = str(meta.get("school_id", ""))
    f.school_id = check.school_id = school_id
    if not _identity_ok(meta, record, path, f) or record.template is None:
        check.findings = f.items
        return check
    _check_start_identity(raw, meta, record, f)

    layout = record.layout
    template = record.template
    if not _check_sheets(raw, f) or not check_names(raw, template, f):
        check.findings = f.items
        return check
    check_formulas(raw, template, f)
    _check_merged(raw, layout, f)
    check_outside(raw, template, f)
    _check_calculation(raw, f)
    allocation = record.allocations.get(school_id, {})
    _check_allocation_copy(raw, record, school_id, meta, f)

    inputs = read_plan_inputs(raw.values, record.policy, layout, allocation,
                              errors=getattr(raw, "errors", None))
    _check_lists(raw, record, layout, allocation, inputs, f)
    _check_fingerprint(meta, record, school_id, f)
    # a formula typed into an input is reported as such: the district never runs it, so
    # what the line would be with its result is not judged as well
    formula_inputs = {(x.sheet, x.cell) for x in f.items if x.code == "formula-in-input"}
    for problem in inputs.problems:
        if (problem.sheet, problem.cell) in formula_inputs:
            continue
        code = problem.rule.code
        if code == "not-a-number" and isinstance(problem.values.get(problem.rule.column), bool):
            code = "true-false-value"  # Excel's Check flags it; LibreOffice counts it as 1
        severity = "warning" if code == "incomplete-goal" else "error"
        f.add(severity, code, problem.sheet, problem.cell, line_message(problem, record.policy))
    totals = plan_totals(inputs, record.policy)
    _check_goals(totals, inputs, layout, f)
    _check_money(totals, record, school_id, layout, f)
    _check_status(totals, f)
    check.findings, check.inputs, check.totals = f.items, inputs, totals
    return check


def _check_start_identity(raw, meta: dict, record: DistrictRecord, f: Findings) -> None:
    """The school named on Start Here is the one the hidden identity sheet names."""
    school_id = str(meta.get("school_id", ""))
    wanted = [("School ID", START_FIELDS.cell("school_id"), school_id),
              ("School", START_FIELDS.cell("school"),
               str(meta.get("school_name") or record.names.get(school_id, ""))),
              ("Fiscal year", START_FIELDS.cell("fiscal_year"),
               str(meta.get("fiscal_year", "")))]
    for label, cell, shown in identity_cells(raw.values, wanted):
        value = next(v for lab, _c, v in wanted if lab == label)
        f.error("identity-mismatch", SS.START, cell,
                f"{SS.START}!{cell} ({label}) says {shown!r}, but this workbook was made for "
                f"{value!r} ({school_id} {record.names.get(school_id, '')}). Use the plan "
                "workbook the district sent for your school, unchanged, and send it again.")


def _check_calculation(raw, f: Findings) -> None:
    calc = getattr(raw, "calc", {}) or {}
    if str(calc.get("fullPrecision", "1")).lower() in ("0", "false"):
        f.error("precision-as-displayed", "", "",
                "The workbook is set to calculate with 'precision as displayed', so its totals "
                "are not the ones the district counts. In Excel: File > Options > Advanced, "
                "clear 'Set precision as displayed', save and send the plan again.")
    if str(calc.get("calcMode", "")).lower() == "manual":
        f.warning("manual-calculation", "", "",
                  "The workbook is set to calculate manually, so the totals you saw may have "
                  "been out of date. The district recalculated them. In Excel: Formulas > "
                  "Calculation Options > Automatic.")


def _check_lists(raw, record: DistrictRecord, layout: SchoolLayout,
                 allocation: dict[str, float], inputs: PlanInputs, f: Findings) -> None:
    """Prices of record: the file's lists against the district's, with the dollar effect."""
    from .plan import evaluate

    changes, lists, names = list_changes(raw.values, layout)
    if not changes:
        return
    record_names = {k: v for k, v in names.items() if not k.startswith("Allocation_")}
    record_names.update({layout.allocation_total_name(c): v for c, v in allocation.items()})
    record_names["FTE_Step"] = names["FTE_Step"]
    as_file = evaluate(raw.values, record.policy, allocation, layout, lists=lists,
                       names=record_names, errors=getattr(raw, "errors", None))
    ev = inputs.evaluated
    assert ev is not None
    effects = []
    for i, fund in enumerate(record.policy.funds):
        mine, theirs = ev.tables["funds"][i]["planned"], as_file.tables["funds"][i]["planned"]
        if mine != theirs:
            shown = (format_money(theirs - mine) if isinstance(mine, float)
                     and isinstance(theirs, float) else f"{as_text(theirs)} instead of "
                     f"{as_text(mine)}")
            effects.append(f"{fund.code} {shown}")
    checks_differ = any(
        a.get("check") != b.get("check")
        for t in ev.tables if t != "funds"
        for a, b in zip(ev.tables[t], as_file.tables[t], strict=True))
    listed = "; ".join(str(c) for c in changes[:5]) + (
        f"; and {len(changes) - 5} more" if len(changes) > 5 else "")
    first = changes[0]
    if effects or checks_differ:
        effect = (f"The workbook's totals differ from the district's by {', '.join(effects)}."
                  if effects else "The workbook's Check column differs from the district's.")
        f.error("prices-changed", first.sheet, first.cell,
                f"The lists in this workbook are not the district's current ones ({listed}). "
                f"{effect} Ask the budget office for an updated plan workbook, copy your "
                "entries into it and send it again.")
    else:
        f.warning("prices-changed", first.sheet, first.cell,
                  f"The lists in this workbook are not the district's current ones ({listed}); "
                  "no line of this plan uses them, so its totals are the same. Use an updated "
                  "plan workbook next time.")


def _check_goals(totals: PlanTotals, inputs: PlanInputs, layout: SchoolLayout,
                 f: Findings) -> None:
    t = layout.goals
    ev = inputs.evaluated
    assert ev is not None
    if not any(row.get("check") == "OK" for row in ev.tables["goals"]):
        f.error("no-goals", t.sheet, t.cell("strategy", 0) if t.rows else "",
                "Write at least one school goal with a strategy and a measure of success on "
                "Goals & Strategies.")


def _check_status(totals: PlanTotals, f: Findings) -> None:
    """The verdict is the workbook's own: anything but Balanced is an error."""
    if totals.status == "Balanced" or any(x.severity == "error" for x in f.items):
        return
    cell = START_FIELDS.cell("status")
    f.error("not-balanced", SS.START, cell,
            f"The plan's Status ({SS.START}!{cell}) says {totals.status!r}. Fix what it names "
            "and send the plan again.")


def _meta(raw) -> dict | None:
    rows = raw.values.get(SS.META)
    if rows is None:
        return None
    meta = {}
    for row in rows:
        if len(row) >= 2 and isinstance(row[0], str) and row[0]:
            meta[row[0]] = row[1]
    return meta if meta.get("kind") == "school_plan" else None


def _identity_ok(meta: dict, record: DistrictRecord, path: Path, f: Findings) -> bool:
    school_id = f.school_id
    district = record.inputs.district
    ok = True
    if school_id not in record.allocations:
        f.error("unknown-school", SS.START, START_FIELDS.cell("school_id"),
                f"School ID {school_id!r} in this file is not a school of {district.name}. "
                "Use the plan workbook the district sent for your school.")
        ok = False
    if str(meta.get("district", "")) != district.cds_code:
        f.error("wrong-district", SS.START, START_FIELDS.cell("district"),
                f"This plan belongs to district {meta.get('district')!r}, not "
                f"{district.name} ({district.cds_code}). Use the workbook the district sent.")
        ok = False
    if str(meta.get("fiscal_year", "")) != district.fiscal_year:
        f.error("wrong-fiscal-year", SS.START, START_FIELDS.cell("fiscal_year"),
                f"This plan is for fiscal year {meta.get('fiscal_year')!r}, but the district "
                f"is planning {district.fiscal_year}. Use this year's plan workbook.")
        ok = False
    version = str(meta.get("template_version", ""))
    if version.split(".")[0] != TEMPLATE_VERSION.split(".")[0]:
        f.error("unsupported-template", "", "",
                f"This plan was made with template version {version!r}; this season uses "
                f"{TEMPLATE_VERSION}. Ask the budget office for a current plan workbook.")
        ok = False
    prefix = path.name.split("_", 1)[0]
    if ok and re.fullmatch(r"\d{14}", prefix) and prefix != school_id:
        other = record.names.get(prefix, "another school")
        f.warning("file-name-mismatch", SS.START, START_FIELDS.cell("school_id"),
                  f"The file name says school {prefix} ({other}) but the workbook inside is "
                  f"for {school_id} ({record.names.get(school_id, '?')}); it was counted for "
                  f"{school_id}. Keep the file name the district gave it.")
    return ok


def _check_sheets(raw, f: Findings) -> bool:
    names = list(raw.sheet_names)
    ok = True
    for sheet in SS.ORDER:
        if sheet not in names:
            f.error("sheet-missing", sheet, "",
                    f"The sheet {sheet!r} is missing (deleted or renamed). Rename it back, or "
                    "copy your entries into a fresh plan workbook.")
            ok = False
    for sheet in names:
        if sheet.lower() in XLWINGS_SHEETS:
            f.error("xlwings-config-sheet", sheet, "",
                    f"The sheet {sheet!r} could change how Excel add-ins run code. Delete that "
                    "sheet and send the plan again.")
        elif sheet not in SS.ORDER:
            f.warning("extra-sheet", sheet, "",
                      f"The sheet {sheet!r} is not part of the plan; it was ignored. Put plan "
                      "entries on the plan's own sheets.")
    return ok


def _check_merged(raw, layout: SchoolLayout, f: Findings) -> None:
    areas = {}
    for t in (layout.staffing, layout.services, layout.other, layout.goals):
        areas.setdefault(t.sheet, []).append(
            (t.first_row, t.last_row, t.first_col, t.first_col + len(t.columns) - 1))
    for sheet, ranges in raw.merged.items():
        for ref in ranges:
            try:
                c1, r1, c2, r2 = range_boundaries(ref)
            except ValueError:
                continue
            for top, bottom, left, right in areas.get(sheet, ()):
                if r1 <= bottom and r2 >= top and c1 <= right and c2 >= left:
                    f.error("merged-cells", sheet, ref.split(":")[0],
                            f"Cells {ref} on {sheet} were merged over the plan lines; merged "
                            "cells hide entries. Unmerge them (Home > Merge > Unmerge) and "
                            "send the plan again.")
                    break


def _check_allocation_copy(raw, record: DistrictRecord, school_id: str, meta: dict,
                           f: Findings) -> None:
    """The allocation the workbook computes with must be the district's of record."""
    from .plan import file_names

    layout = record.layout
    of_record = record.allocations.get(school_id, {})
    differs = changed_allocations(file_names(raw.values, layout), layout, of_record)
    if differs:
        detail = "; ".join(
            f"{code}: file {format_money(v) if isinstance(v, float) else repr(as_text(v))}, "
            f"district {format_money(given)}" for _i, code, v, given in differs)
        f.error("allocation-changed", SS.ALLOCATION, layout.allocation_total_cell(differs[0][0]),
                f"The allocation in this workbook is not the district's allocation of record "
                f"({detail}), so its Summary and Status are not the district's. Ask the budget "
                "office for an updated plan workbook, copy your entries into it and send it "
                "again.")


def _check_fingerprint(meta: dict, record: DistrictRecord, school_id: str, f: Findings) -> None:
    """A workbook made from an earlier record whose numbers are still the current ones."""
    if any(x.code in ("allocation-changed", "prices-changed") for x in f.items):
        return
    if meta.get("allocation_fingerprint") != record.fingerprints.get(school_id):
        f.warning("allocation-changed", SS.ALLOCATION, record.layout.allocation_total_cell(0),
                  "This workbook was made from an earlier version of the district's allocation "
                  "or lists; its amounts and prices are still the district's current ones, so "
                  "the plan was checked as it is. Use an updated plan workbook next time.")


def _check_money(totals: PlanTotals, record: DistrictRecord, school_id: str,
                 layout: SchoolLayout, f: Findings) -> None:
    allocation = record.allocations.get(school_id, {})
    remaining = totals.remaining(allocation)
    share = record.inputs.district.unspent_warning
    t = layout.funds
    for i, fund in enumerate(record.policy.funds):
        cell = t.cell("remaining", i)
        left, given = remaining[fund.code], allocation.get(fund.code, 0.0)
        if left < -0.005:
            f.error("over-allocation", t.sheet, cell,
                    f"The plan spends {format_money(-left)} more than the {fund.name} "
                    f"allocation of {format_money(given)} ({t.sheet}!{cell}). Reduce "
                    f"{fund.code} lines by {format_money(-left)} or move them to a fund with "
                    "money left.")
        elif given > 0 and left > share * given + 0.005:
            f.warning("unspent-funds", t.sheet, cell,
                      f"{format_money(left)} of the {fund.name} allocation "
                      f"({left / given:.0%}) is not planned. Plan it, or confirm with the "
                      "budget office that it may stay unspent.")


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Errors first, then by file, sheet and cell row."""
    def key(x: Finding) -> tuple:
        row = int(re.sub(r"\D", "", x.cell) or 0)
        return (x.file, 0 if x.severity == "error" else 1, x.sheet, row, x.code)
    return sorted(findings, key=key)


__all__ = ["DistrictRecord", "PlanCheck", "check_plan", "district_record", "sort_findings"]
