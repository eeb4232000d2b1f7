"""The district totals workbook and its CSV twins, from one set of tables."""

from __future__ import annotations

import datetime as _dt
from collections import defaultdict
from pathlib import Path

from . import styles
from .consolidate import SeasonResult, money, object_of
from .exports import shown
from .table_book import Column, TableSheet, write_table_book

Tables = dict[str, tuple[list[str], list[list[object]]]]

SHEETS = {  # table name -> sheet title
    "status": "Status",
    "files": "Files",
    "district_totals": "District Totals",
    "by_school": "By School",
    "positions": "Positions",
    "services_demand": "Central Services Demand",
    "goals": "Goals",
    "findings": "Findings",
    "reconciliation": "Reconciliation",
    "lines": "Lines",
}
MONEY_HEADERS = {"allocation", "planned", "remaining", "amount", "cost", "revenue", "total",
                 "unit_price", "value"}


def season_tables(result: SeasonResult) -> Tables:
    """Every table of the season, as (header, rows); the workbook and CSVs both use these."""
    record = result.record
    policy = record.policy
    funds = [f.code for f in policy.funds]
    tables: Tables = {}

    tables["status"] = (
        ["school_id", "school_name", "status", "file", "sha256", "errors", "warnings",
         "reason"],
        [[s.school_id, s.name, s.status, s.file_name, s.sha256,
          s.check.errors if s.check else 0, s.check.warnings if s.check else 0, s.reason]
         for s in result.schools],
    )
    file_rows = []
    for c in result.checks:
        file_rows.append([shown(c.file), c.sha256, c.school_id, c.status, result.use_of(c),
                          c.errors, c.warnings])
    file_rows += [[shown(i.path), "", "", "ignored", i.reason, 0, 0] for i in result.ignored]
    tables["files"] = (["file", "sha256", "school_id", "status", "use", "errors", "warnings"],
                       file_rows)

    lines = result.accepted_lines()
    by_fund_object: dict[tuple[str, str], list[float]] = defaultdict(list)
    for _school, line in lines:
        for obj, amount in object_of(line, record):
            by_fund_object[(obj, line.fund.upper())].append(amount)
    objects = sorted({obj for obj, _ in by_fund_object})
    names = {o.code: o.name for o in policy.objects} | {"3000": "Employee benefits"}
    dt_rows = []
    for obj in objects:
        amounts = [money(by_fund_object.get((obj, f.upper()), [])) for f in funds]
        dt_rows.append([obj, names.get(obj, ""), *amounts, money(amounts)])
    column_totals = [money(r[2 + i] for r in dt_rows) for i in range(len(funds))]
    dt_rows.append(["Total", "", *column_totals, money(column_totals)])
    tables["district_totals"] = (["object", "object_name", *funds, "total"], dt_rows)

    bs_rows = []
    for s in result.schools:
        allocation = record.allocations[s.school_id]
        planned: dict[str, list[float]] = defaultdict(list)
        for line in s.lines if s.status.startswith("accepted") else []:
            planned[line.fund.upper()].append(line.amount)
        for f in funds:
            p = money(planned.get(f.upper(), [])) if s.status.startswith("accepted") else ""
            remaining = money([allocation[f], -p]) if p != "" else ""
            bs_rows.append([s.school_id, s.name, s.status, f, allocation[f], p, remaining])
    tables["by_school"] = (["school_id", "school_name", "status", "fund", "allocation",
                            "planned", "remaining"], bs_rows)

    titles = {j.code.casefold(): j.title for j in policy.job_classes}
    pos: dict[tuple[str, str, str], list[PlanLineSums]] = defaultdict(list)
    for s, line in lines:
        if line.kind == "position":
            pos[(s.school_id, s.name, line.code.upper())].append((line.fte, line.amount))
    tables["positions"] = (
        ["school_id", "school_name", "job_class", "title", "fte", "cost"],
        [[sid, name, code, titles.get(code.casefold(), ""),
          round(sum(v[0] for v in vals), 4), money(v[1] for v in vals)]
         for (sid, name, code), vals in sorted(pos.items())],
    )

    menu = {sv.code.casefold(): sv for sv in policy.services}
    demand: dict[tuple[str, str, str], list[tuple[float, float]]] = defaultdict(list)
    for s, line in lines:
        if line.kind == "service":
            sv = menu.get(line.code.casefold())
            dept = sv.department if sv else ""
            demand[(dept, line.code.upper(), s.school_id)].append((line.quantity, line.amount))
    tables["services_demand"] = (
        ["department", "service", "description", "unit", "unit_price", "school_id",
         "quantity", "revenue"],
        [[dept, code, menu[code.casefold()].name if code.casefold() in menu else "",
          menu[code.casefold()].unit if code.casefold() in menu else "",
          menu[code.casefold()].unit_price if code.casefold() in menu else "",
          sid, round(sum(v[0] for v in vals), 4), money(v[1] for v in vals)]
         for (dept, code, sid), vals in sorted(demand.items())],
    )

    by_goal: dict[str, list[float]] = defaultdict(list)
    for _s, line in lines:
        by_goal[line.goal.upper()].append(line.amount)
    tables["goals"] = (
        ["goal", "goal_name", "planned", "schools_with_a_strategy"],
        [[g.code, g.name, money(by_goal.get(g.code.upper(), [])),
          sum(1 for s in result.schools if s.status.startswith("accepted")
              and any(e.goal == g.code and e.strategy and e.measure for e in s.goals))]
         for g in policy.goals],
    )

    tables["findings"] = (
        ["file", "school_id", "sheet", "cell", "severity", "code", "message"],
        [[shown(f.file), f.school_id, f.sheet, f.cell, f.severity, f.code, f.message]
         for f in result.findings],
    )

    tables["lines"] = (
        ["school_id", "school_name", "sheet", "row", "kind", "code", "fund", "goal", "fte",
         "quantity", "amount", "description", "source_file"],
        [[s.school_id, s.name, line.sheet, line.row, line.kind, line.code, line.fund,
          line.goal, line.fte, line.quantity, line.amount, line.description, s.file_name]
         for s, line in lines],
    )

    tables["reconciliation"] = (["check", "value", "expected", "result"],
                                _reconciliation(result, tables))
    return tables


PlanLineSums = tuple[float, float]


def _reconciliation(result: SeasonResult, tables: Tables) -> list[list[object]]:
    record = result.record
    status_counts = defaultdict(int)
    for s in result.schools:
        status_counts[s.status] += 1
    lines_total = money(line.amount for _s, line in result.accepted_lines())
    district_totals_total = tables["district_totals"][1][-1][-1]
    by_school_planned = money(r[5] for r in tables["by_school"][1] if r[5] != "")
    allocations_total = money(r[4] for r in tables["by_school"][1])
    engine_total = money(record.result.fund_totals().values())
    # amended schools (consolidate --amend): their allocation of record is spring + true-up
    amended = money(a.total for a in record.amendments.values())
    expected_total = money([engine_total, amended])
    n_files = len(result.checks)
    counted = sum(1 for r in tables["files"][1] if r[4] == "counted in the totals")

    def same(a: float, b: float) -> str:
        return "OK" if abs(a - b) < 0.005 else "DIFFERENT"

    rows: list[list[object]] = [
        ["Schools in the district", len(result.schools), "", ""],
        ["Schools accepted", status_counts["accepted"], "", ""],
        ["Schools accepted with warnings", status_counts["accepted with warnings"], "", ""],
        ["Schools rejected", status_counts["rejected"], "", ""],
        ["Schools missing", status_counts["missing"], "", ""],
        ["Files read", n_files, "", ""],
        ["Files counted in the totals", counted, "", ""],
        ["Files superseded by newer versions", len(result.superseded), "", ""],
        ["Files not counted (rejected, duplicates, unknown)",
         n_files - counted - len(result.superseded), "", ""],
        ["Entries ignored (lock files, hidden files, sub-folders)", len(result.ignored), "", ""],
        ["Accepted plan lines: total", lines_total, district_totals_total,
         same(lines_total, district_totals_total)],
        ["By School planned (accepted schools)", by_school_planned, lines_total,
         same(by_school_planned, lines_total)],
        *([["Fall true-up adjustments in the allocations (--amend)", amended, "", ""]]
          if record.amendments else []),
        ["School allocations: total", allocations_total, expected_total,
         same(allocations_total, expected_total)],
        ["Unrestricted allocations vs budget (rounding difference)",
         record.result.unrestricted_total, record.inputs.district.budget,
         f"rounding {record.result.rounding_difference:+.2f}"],
    ]
    if counted + status_counts["missing"] + status_counts["rejected"] < len(result.schools):
        rows.append(["Schools without a counted file", "", "", "check the Status sheet"])
    return rows


#: Columns of long text: wider, and wrapped past that.
WIDE_TEXT = {"message": 50, "reason": 40, "use": 30, "description": 40, "check": 50,
             "file": 36}
#: Columns cut off on screen rather than wrapped: a line's source file, repeated on every
#: line, would double the height of the Lines sheet (the cell holds the whole name).
CUT_TEXT = {"source_file": 36, "sha256": 18}
#: Columns of names: as wide as the names, up to this.
NAME_TEXT = {"school_name", "object_name", "goal_name", "title"}
#: Reconciliation columns that hold counts (whole numbers) beside amounts.
MIXED = {"value", "expected"}


def _column(header: str, funds: set[str]) -> Column:
    label = header.replace("_", " ")
    money_format = styles.MONEY if header in MONEY_HEADERS | MIXED or header in funds else None
    whole = styles.COUNT if header in MIXED else None
    if header in CUT_TEXT:
        return Column(label, max_width=CUT_TEXT[header], wrap=False)
    width = WIDE_TEXT.get(header, 30 if header in NAME_TEXT else 24)
    return Column(label, money_format, whole, width)


def totals_sheets(result: SeasonResult, tables: Tables) -> list[TableSheet]:
    """The totals workbook's sheets: a cover (title and the season's counts), then one sheet
    per table, header in row 1."""
    d = result.record.inputs.district
    funds = {f.code for f in result.record.policy.funds}
    header, rows = tables["reconciliation"]
    cover = TableSheet(
        "Season", [_column(h, funds) for h in header[:2]], [r[:2] for r in rows[:10]],
        title=f"{d.name}: school plans {d.fiscal_year}",
        subtitle=f"Consolidated by ssfr-xl on {_dt.date.today().isoformat()}. Values, not "
                 "formulas: rerun ssfr-xl consolidate to refresh.")
    sheets = [cover]
    for name, sheet_title in SHEETS.items():
        header, rows = tables[name]
        sheets.append(TableSheet(sheet_title, [_column(h, funds) for h in header], rows))
    return sheets


def write_totals_workbook(path: Path, result: SeasonResult, tables: Tables) -> None:
    """The totals workbook: a cover and one sheet per table, written in constant memory."""
    write_table_book(path, totals_sheets(result, tables), result.record.inputs.district.name)
