"""Rules for returned school plans: every problem becomes a Finding; nothing here prints.

A returned plan is trusted for the principal's inputs only. The allocation of record comes
from the district workbook, and every total is recomputed in Python from the inputs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl.utils.cell import coordinate_from_string, range_boundaries

from .district_book import read_district
from .formula import AllocationResult, allocate
from .layout import START_FIELDS, TEMPLATE_VERSION, SchoolLayout, Table, cell_address
from .layout import SchoolSheets as SS
from .model import DistrictInputs, Finding, Fund, Policy
from .money import excel_round, format_money
from .plan import PlanInputs, PlanLine, PlanTotals, plan_totals, read_plan_inputs
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
    expected_formulas: dict[str, frozenset[str]]  # sheet -> coordinates holding formulas

    @property
    def policy(self) -> Policy:
        """The district's policy (funds, lists, rules)."""
        return self.inputs.policy

    def district_total(self) -> float:
        """Every school's allocation, all funds: what the formula handed out."""
        return excel_round(sum(sum(v.values()) for v in self.allocations.values()))


def district_record(district_xlsx: str | Path) -> DistrictRecord:
    """Read the district workbook and compute the allocations of record."""
    inputs = read_district(district_xlsx)
    result = allocate(inputs)
    specs = plan_specs(result)
    allocations = {s.school.school_id: {f.code: s.fund_allocation(f.code)
                                        for f in inputs.policy.funds} for s in specs}
    expected: dict[str, frozenset[str]] = {}
    if specs:
        wb = build_school_plan(specs[0])
        for ws in wb.worksheets:
            expected[ws.title] = frozenset(
                c.coordinate for row in ws.iter_rows() for c in row if c.data_type == "f")
        # the Allocation sheet holds values of record, no formulas
    return DistrictRecord(
        inputs=inputs, result=result, allocations=allocations,
        fingerprints={s.school.school_id: s.fingerprint for s in specs},
        names={s.school_id: s.name for s in inputs.schools},
        expected_formulas=expected,
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
    received: float = 0.0  # file modification time

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


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes ('' if unreadable)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return ""
    return digest.hexdigest()


class _Findings:
    """Collects findings for one file."""

    def __init__(self, file: Path, school_id: str = ""):
        self.file, self.school_id, self.items = file, school_id, []

    def add(self, severity: str, code: str, sheet: str, cell: str, message: str) -> None:
        self.items.append(Finding(self.file.name, self.school_id, sheet, cell, severity, code,
                                  message))

    def error(self, code: str, sheet: str, cell: str, message: str) -> None:
        self.add("error", code, sheet, cell, message)

    def warning(self, code: str, sheet: str, cell: str, message: str) -> None:
        self.add("warning", code, sheet, cell, message)


def check_file_problem(path: Path, code: str, message: str, severity: str = "error"
                       ) -> PlanCheck:
    """A PlanCheck for a file that could not be read at all."""
    check = PlanCheck(path, sha256_of(path), received=_mtime(path))
    check.findings.append(Finding(path.name, "", "", "", severity, code, message))
    return check


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def check_plan(raw, record: DistrictRecord, path: Path | None = None) -> PlanCheck:
    """Check one returned workbook (a reader.RawWorkbook) against the district of record."""
    path = Path(path or raw.path)
    # the hash of exactly the bytes that were checked, when the reader kept it
    check = PlanCheck(path, getattr(raw, "sha256", "") or sha256_of(path), received=_mtime(path))
    f = _Findings(path)
    for w in getattr(raw, "warnings", ()):
        f.add(w.severity, w.code, "", "", w.message)
    meta = _meta(raw)
    if meta is None:
        f.error("not-a-plan", "", "", "This file is not an ssfr-xl school plan workbook (its "
                "hidden identity sheet is missing). Fill in the plan workbook the district sent "
                "you and return that file.")
        check.findings = f.items
        return check
    school_id = str(meta.get("school_id", ""))
    f.school_id = check.school_id = school_id
    if not _identity_ok(meta, record, path, f):
        check.findings = f.items
        return check

    sheets_ok = _check_sheets(raw, f)
    layout = _located_layout(raw, record.policy, f)
    if not sheets_ok or layout is None:
        check.findings = f.items
        return check
    _check_formulas(raw, record, f, layout)
    _check_merged(raw, layout, f)
    _check_formula_inputs(raw, layout, f)
    _check_allocation_copy(raw, record, school_id, meta, f)

    inputs = read_plan_inputs(raw.values, record.policy, layout)
    for sheet, cell, problem in inputs.problems:
        f.error("not-a-number", sheet, cell, f"{sheet}!{cell} {problem}.")
    _check_lines(inputs, record.policy, f)
    _check_goals(inputs, layout, f)
    totals = plan_totals(inputs, record.policy)
    _check_money(totals, record, school_id, layout, f)
    check.findings, check.inputs, check.totals = f.items, inputs, totals
    return check


def _meta(raw) -> dict | None:
    rows = raw.values.get(SS.META)
    if rows is None:
        return None
    meta = {}
    for row in rows:
        if len(row) >= 2 and isinstance(row[0], str) and row[0]:
            meta[row[0]] = row[1]
    return meta if meta.get("kind") == "school_plan" else None


def _identity_ok(meta: dict, record: DistrictRecord, path: Path, f: _Findings) -> bool:
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


def _check_sheets(raw, f: _Findings) -> bool:
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


#: defined name of each input column -> (table attribute, column key)
def _input_names(layout: SchoolLayout) -> dict[str, tuple[Table, str]]:
    names = {}
    for t in (layout.staffing, layout.services, layout.other, layout.goals):
        for c in t.columns:
            if c.input and c.name:
                names[c.name] = (t, c.key)
    return names


def _located_layout(raw, policy: Policy, f: _Findings) -> SchoolLayout | None:
    """The layout, with each input table where its defined names say it now is.

    A block of rows inserted above a table moves it; the plan is then read by name (warning).
    Rows inserted or deleted inside an input area change its size: the plan cannot be read
    safely (error).
    """
    layout = SchoolLayout(policy)
    moved: dict[str, tuple[int, int]] = {}
    ok = True
    for name, (t, key) in _input_names(layout).items():
        text = raw.defined_names.get(name)
        if not text:
            f.error("rows-inserted", t.sheet, t.cell(key, 0),
                    f"The input area {name} is missing from the workbook (sheet changed). Copy "
                    "your entries into a fresh plan workbook and send it again.")
            ok = False
            continue
        try:
            sheet, ref = text.rsplit("!", 1)
            min_col, min_row, max_col, max_row = range_boundaries(ref.replace("$", ""))
        except ValueError:
            f.error("rows-inserted", t.sheet, t.cell(key, 0),
                    f"The input area {name} now points at {text!r} (a sheet or rows were "
                    "deleted). Copy your entries into a fresh plan workbook.")
            ok = False
            continue
        if max_row - min_row + 1 != t.rows:
            f.error("rows-inserted", t.sheet, cell_address(min_row, min_col),
                    f"Rows were inserted or deleted inside the input area of sheet {t.sheet} "
                    f"({name} has {max_row - min_row + 1} rows instead of {t.rows}). Copy your "
                    "entries into a fresh plan workbook and send it again.")
            ok = False
            continue
        shift = (min_row - t.first_row, min_col - t.col(key))
        if moved.setdefault(t.sheet, shift) != shift:
            f.error("rows-inserted", t.sheet, cell_address(min_row, min_col),
                    f"Columns were inserted or deleted on sheet {t.sheet}. Copy your entries "
                    "into a fresh plan workbook and send it again.")
            ok = False
    if not ok:
        return None
    replaced = {}
    for attr in ("staffing", "services", "other", "goals"):
        t: Table = getattr(layout, attr)
        dr, dc = moved.get(t.sheet, (0, 0))
        if (dr, dc) != (0, 0):
            f.warning("rows-inserted", t.sheet, t.cell(t.columns[0].key, 0),
                      f"Rows or columns were inserted on sheet {t.sheet}, moving the plan "
                      f"area; it was read where it is now. Formulas there may no longer add up "
                      "what you see; use a fresh plan workbook next time.")
            replaced[attr] = dataclasses.replace(t, header_row=t.header_row + dr,
                                                 first_col=t.first_col + dc)
    for attr, t in replaced.items():
        setattr(layout, attr, t)
    return layout


def _check_formulas(raw, record: DistrictRecord, f: _Findings, layout: SchoolLayout) -> None:
    base = SchoolLayout(record.policy)
    for sheet, expected in record.expected_formulas.items():
        present = raw.formulas.get(sheet)
        if present is None:
            continue
        shift = _sheet_shift(base, layout, sheet)
        missing = sorted((_shifted(c, shift) for c in expected), key=_coord_key)
        missing = [c for c in missing if c not in present]
        if missing:
            shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more"
                                              if len(missing) > 8 else "")
            f.error("formula-overwritten", sheet, missing[0],
                    f"{len(missing)} calculated cell(s) on {sheet} were typed over or cleared "
                    f"({shown}). Those cells must keep their formulas: copy your entries into a "
                    "fresh plan workbook, or undo the change, and send it again.")


def _sheet_shift(base: SchoolLayout, layout: SchoolLayout, sheet: str) -> tuple[int, int]:
    for attr in ("staffing", "services", "other", "goals"):
        t0, t1 = getattr(base, attr), getattr(layout, attr)
        if t0.sheet == sheet:
            return t1.header_row - t0.header_row, t1.first_col - t0.first_col
    return 0, 0


def _shifted(coord: str, shift: tuple[int, int]) -> str:
    if shift == (0, 0):
        return coord
    letters, row = coordinate_from_string(coord)
    from openpyxl.utils import column_index_from_string

    return cell_address(row + shift[0], column_index_from_string(letters) + shift[1])


def _coord_key(coord: str) -> tuple[int, str]:
    letters, row = coordinate_from_string(coord)
    return row, letters.rjust(3)


def _input_cells(layout: SchoolLayout) -> Iterable[tuple[str, str, str]]:
    """(sheet, coordinate, column key) of every input cell."""
    for t in (layout.staffing, layout.services, layout.other, layout.goals):
        for c in t.columns:
            if c.input:
                for i in range(t.rows):
                    yield t.sheet, t.cell(c.key, i), c.key


def _check_merged(raw, layout: SchoolLayout, f: _Findings) -> None:
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


def _check_formula_inputs(raw, layout: SchoolLayout, f: _Findings) -> None:
    for sheet, coord, _key in _input_cells(layout):
        if coord in raw.formulas.get(sheet, ()):
            f.error("formula-in-input", sheet, coord,
                    f"{sheet}!{coord} holds a formula. Type the value itself (a number, code "
                    "or text) so the district can check it.")


def _check_allocation_copy(raw, record: DistrictRecord, school_id: str, meta: dict,
                           f: _Findings) -> None:
    """The allocation printed in the file must be the district's; the district's wins."""
    of_record = record.allocations.get(school_id, {})
    try:
        in_file = json.loads(str(meta.get("allocation", "{}")))
    except ValueError:
        in_file = {}
    differs = [code for code, amount in of_record.items()
               if abs(float(in_file.get(code, 0.0)) - amount) > 0.005]
    if meta.get("allocation_fingerprint") != record.fingerprints.get(school_id) or differs:
        detail = "; ".join(
            f"{code}: file {format_money(float(in_file.get(code, 0.0)))}, district "
            f"{format_money(of_record[code])}" for code in differs) or "the components changed"
        first = next((i for i, fd in enumerate(record.policy.funds) if fd.code in differs), 0)
        f.warning("allocation-changed", SS.ALLOCATION,
                  SchoolLayout(record.policy).allocation_total_cell(first),
                  f"The allocation in this file differs from the district's allocation of "
                  f"record ({detail}). The plan was checked against the district's numbers. "
                  "Ask the budget office for an updated plan workbook if amounts changed.")


def _allowed_objects(fund: Fund, object_code: str) -> bool:
    rule = fund.allowed_objects.strip()
    if not rule:
        return True
    try:
        code = int(object_code)
    except ValueError:
        return False
    for part in rule.split(","):
        part = part.strip()
        if "-" in part:
            low, high = part.split("-", 1)
            if int(low) <= code <= int(high):
                return True
        elif part and int(part) == code:
            return True
    return False


def _allowed_service(fund: Fund, department: str, code: str) -> bool:
    rule = fund.allowed_services.strip()
    if not rule:
        return True
    allowed = {p.strip().casefold() for p in rule.split(",")}
    if "none" in allowed:
        return False
    return department.casefold() in allowed or code.casefold() in allowed


@dataclass(frozen=True)
class _Line:
    """One plan line under check, with the lookups its rules need."""

    line: PlanLine
    table: Table
    fund: Fund | None
    policy: Policy

    def col(self, key: str) -> str:
        """Address of this line's cell in column `key`."""
        return f"{self.table.letter(key)}{self.line.row}"


def _check_lines(inputs: PlanInputs, policy: Policy, f: _Findings) -> None:
    layout = SchoolLayout(policy)
    funds = {fd.code.casefold(): fd for fd in policy.funds}
    goals = {g.code.casefold() for g in policy.goals}
    tables = {"position": layout.staffing, "service": layout.services, "other": layout.other}
    rules = {"position": _check_position, "service": _check_service, "other": _check_other}
    for line in inputs.lines:
        fund = funds.get(line.fund.casefold())
        item = _Line(line, tables[line.kind], fund, policy)
        rules[line.kind](item, f)
        _check_fund_and_goal(item, goals, f)


def _check_position(item: _Line, f: _Findings) -> None:
    line, fund, policy, col = item.line, item.fund, item.policy, item.col
    job = next((j for j in policy.job_classes if j.code.casefold() == line.code.casefold()),
               None)
    if not line.code:
        f.error("missing-code", line.sheet, col("job_class"),
                f"{line.sheet}!{col('job_class')}: choose a job class for this line "
                "(or clear the line).")
    elif job is None:
        f.error("unknown-job-class", line.sheet, col("job_class"),
                f"{line.sheet}!{col('job_class')}: {line.code!r} is not one of the "
                "district's job classes. Choose one from the list.")
    fte = line.raw.get("fte")
    if fte is None and line.code:
        f.error("missing-fte", line.sheet, col("fte"),
                f"{line.sheet}!{col('fte')}: type the FTE for this position (0 to 1).")
    elif isinstance(fte, int | float) and not isinstance(fte, bool):
        if not 0 <= fte <= 1:
            f.error("fte-out-of-range", line.sheet, col("fte"),
                    f"{line.sheet}!{col('fte')}: FTE {fte:g} must be from 0 to 1 on "
                    "one line. Use another line for more.")
        elif abs(fte / policy.fte_step - round(fte / policy.fte_step)) > 1e-6:
            f.warning("fte-step", line.sheet, col("fte"),
                      f"{line.sheet}!{col('fte')}: FTE {fte:g} is not a multiple of "
                      f"the district's step of {policy.fte_step:g}.")
    if fund is not None and job is not None and fund.restricted and \
            not _allowed_objects(fund, job.object_code):
        f.error("restricted-object", line.sheet, col("fund"),
                f"{line.sheet}!{col('fund')}: {fund.name} may not pay for "
                f"{job.title} (object {job.object_code}). Choose another fund.")


def _check_service(item: _Line, f: _Findings) -> None:
    line, fund, policy, col = item.line, item.fund, item.policy, item.col
    service = next((s for s in policy.services if s.code.casefold() == line.code.casefold()),
                   None)
    if service is None:
        f.error("unknown-service", line.sheet, col("service"),
                f"{line.sheet}!{col('service')}: choose a service from the list for "
                "this quantity.")
    if isinstance(line.raw.get("quantity"), int | float) and line.quantity < 0:
        f.error("negative-amount", line.sheet, col("quantity"),
                f"{line.sheet}!{col('quantity')}: a quantity cannot be negative.")
    if fund is not None and service is not None and fund.restricted and \
            not _allowed_service(fund, service.department, service.code):
        f.error("restricted-service", line.sheet, col("fund"),
                f"{line.sheet}!{col('fund')}: {fund.name} may not buy "
                f"{service.name} ({service.department}). Choose another fund.")


def _check_other(item: _Line, f: _Findings) -> None:
    line, fund, policy, col = item.line, item.fund, item.policy, item.col
    obj = next((o for o in policy.objects if o.code.casefold() == line.code.casefold()), None)
    if not line.code:
        f.error("missing-code", line.sheet, col("object"),
                f"{line.sheet}!{col('object')}: choose the object code (what is "
                "bought) for this line.")
    elif obj is None:
        f.error("unknown-object", line.sheet, col("object"),
                f"{line.sheet}!{col('object')}: {line.code!r} is not an object code "
                "the district allows. Choose one from the list.")
    amount = line.raw.get("amount")
    if amount is None:
        f.error("missing-amount", line.sheet, col("amount"),
                f"{line.sheet}!{col('amount')}: type the amount for this line (or "
                "clear the line).")
    elif isinstance(amount, int | float) and line.amount < 0:
        f.error("negative-amount", line.sheet, col("amount"),
                f"{line.sheet}!{col('amount')}: an amount cannot be negative; "
                "lower another line instead.")
    if fund is not None and obj is not None and fund.restricted and \
            not _allowed_objects(fund, obj.code):
        f.error("restricted-object", line.sheet, col("fund"),
                f"{line.sheet}!{col('fund')}: {fund.name} may not pay for object "
                f"{obj.code} ({obj.name}). Choose another fund.")


def _check_fund_and_goal(item: _Line, goals: set[str], f: _Findings) -> None:
    line, fund, col = item.line, item.fund, item.col
    if not line.fund:
        f.error("missing-fund", line.sheet, col("fund"),
                f"{line.sheet}!{col('fund')}: choose the fund that pays for this line.")
    elif fund is None:
        f.error("unknown-fund", line.sheet, col("fund"),
                f"{line.sheet}!{col('fund')}: {line.fund!r} is not a district fund. "
                "Choose one from the list.")
    if not line.goal:
        f.error("missing-goal", line.sheet, col("goal"),
                f"{line.sheet}!{col('goal')}: choose the district goal this line serves.")
    elif line.goal.casefold() not in goals:
        f.error("unknown-goal", line.sheet, col("goal"),
                f"{line.sheet}!{col('goal')}: {line.goal!r} is not a district goal. "
                "Choose one from the list.")


def _check_goals(inputs: PlanInputs, layout: SchoolLayout, f: _Findings) -> None:
    t = layout.goals
    if not any(g.strategy and g.measure for g in inputs.goals):
        f.error("no-goals", t.sheet, t.cell("strategy", 0) if t.rows else "",
                "Write at least one school goal with a strategy and a measure of success on "
                "Goals & Strategies.")
    for i, g in enumerate(inputs.goals):
        if (g.school_goal or g.strategy or g.measure) and not (g.strategy and g.measure):
            key = "strategy" if not g.strategy else "measure"
            f.warning("incomplete-goal", t.sheet, t.cell(key, i),
                      f"{t.sheet}!{t.cell(key, i)}: goal {g.goal} needs both a strategy and "
                      "a measure of success.")


def _check_money(totals: PlanTotals, record: DistrictRecord, school_id: str,
                 layout: SchoolLayout, f: _Findings) -> None:
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
