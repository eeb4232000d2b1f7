"""Write the school plan workbook: one per school, filled in by the principal.

The school's allocation is written as values of record (from the district's engine run) with
the math spelled out; everything the principal plans is input, and every total is a live
formula so the balance per fund shows as they type. plan.py recomputes the same totals in
Python from the inputs alone.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import re
import textwrap
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.formatting.rule import CellIsRule, FormulaRule
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from . import __version__, styles
from .explain import AllocationLine, allocation_lines  # noqa: F401
from .formula import AllocationResult
from .layout import (
    OBJECT_GROUPS,
    PLAN_LIST_NAMES,
    START_FIELDS,
    TEMPLATE_VERSION,
    SchoolLayout,
    Table,
)
from .layout import SchoolSheets as SS
from .model import District, Policy, School
from .money import excel_round
from .plan import LIST_TABLES, list_records
from .plan_math import MAX_LINE_FTE, plan_formulas
from .xlsx import (
    add_validation,
    define_name,
    job_class_records,
    protect,
    put_text,
    save_atomically,
    title,
    write_fields,
    write_table,
)


@dataclass(frozen=True)
class Position:
    """A current position the district pre-fills on the Staffing sheet."""

    job_class: str
    fte: float
    fund: str = ""
    goal: str = ""
    note: str = ""


@dataclass(frozen=True)
class SchoolPlanSpec:
    """Everything needed to write one school's plan workbook (picklable, for workers)."""

    district: District
    policy: Policy
    school: School
    lines: tuple[AllocationLine, ...]
    prior_year: float
    positions: tuple[Position, ...] = ()
    built_at: str = field(default_factory=lambda: _dt.datetime.now(_dt.UTC)
                          .replace(microsecond=0).isoformat())

    def fund_allocation(self, fund_code: str) -> float:
        """The school's allocation in one fund."""
        return excel_round(sum(li.amount for li in self.lines if li.fund == fund_code))

    @property
    def fingerprint(self) -> str:
        """sha256 of what the plan computes with: school, year, each component's fund and
        cents, and every list the plan uses (job classes, services, objects, funds and their
        rules, goals, the FTE step)."""
        p = self.policy
        payload = json.dumps(
            [self.school.school_id, self.district.fiscal_year,
             [[li.code, li.fund, round(li.amount * 100)] for li in self.lines],
             [dataclasses.astuple(x) for x in (*p.job_classes, *p.services, *p.objects,
                                                *p.funds, *p.goals)],
             p.fte_step],
            separators=(",", ":"), default=str,
        )
        return hashlib.sha256(payload.encode()).hexdigest()


def file_name(school: School) -> str:
    """<school_id>_<short-name>.xlsx, ASCII only so it survives e-mail and zip tools."""
    ascii_name = unicodedata.normalize("NFKD", school.name).encode("ascii", "ignore").decode()
    words = re.findall(r"[A-Za-z0-9]+", ascii_name)
    short = "-".join(words)[:40].strip("-") or "school"
    return f"{school.school_id}_{short}.xlsx"


# --- writing -----------------------------------------------------------------------------

def write_school_plan(path: Path, spec: SchoolPlanSpec) -> None:
    """Write one school's plan workbook (atomically)."""
    save_atomically(build_school_plan(spec), path)


def build_school_plan(spec: SchoolPlanSpec) -> Workbook:
    """The plan workbook for one school, in memory."""
    layout = SchoolLayout(spec.policy)
    wb = Workbook()
    styles.register(wb)
    sheets: dict[str, Worksheet] = {}
    for i, name in enumerate(SS.ORDER):
        sheets[name] = wb.active if i == 0 else wb.create_sheet(name)
        sheets[name].title = name
    _write_lists(wb, sheets[SS.LISTS], layout)
    _write_allocation(wb, sheets[SS.ALLOCATION], layout, spec)
    _write_staffing(wb, sheets[SS.STAFFING], layout, spec)
    _write_services(wb, sheets[SS.SERVICES], layout)
    _write_other(wb, sheets[SS.OTHER], layout)
    _write_goals(wb, sheets[SS.GOALS], layout)
    _write_summary(wb, sheets[SS.SUMMARY], layout)
    _write_start(wb, sheets[SS.START], layout, spec)
    _write_formulas(wb, spec.policy)
    _write_meta(sheets[SS.META], spec)
    for name, ws in sheets.items():
        if name != SS.META:
            protect(ws)
        if name != SS.META and name != SS.LISTS:
            _print_setup(ws, layout)
    sheets[SS.META].sheet_state = "hidden"
    wb.active = 0
    return wb


def _print_setup(ws: Worksheet, layout: SchoolLayout) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    header = (layout.allocation.header_row if ws.title == SS.ALLOCATION
              else layout.staffing.header_row)
    if ws.title not in (SS.SUMMARY, SS.START):
        ws.print_title_rows = f"{header}:{header}"
    ws.oddFooter.center.text = "&A - page &P of &N"


def _write_lists(wb: Workbook, ws: Worksheet, layout: SchoolLayout) -> None:
    p = layout.policy
    title(ws, "Lists", "The district's job classes, services, objects, funds and goals. "
          "Set by the budget office; not for editing.")
    records = list_records(layout)
    t = layout.jobs
    for record, formulas in zip(records["jobs"], job_class_records(t, p.job_classes),
                                strict=True):
        record["average_cost"] = formulas["average_cost"]
    for table in LIST_TABLES:
        write_table(wb, ws, getattr(layout, table), records[table])
    # every cell on this sheet is reference data: lock the "input" styled cells too
    for row in ws.iter_rows(min_row=layout.jobs.first_row):
        for cell in row:
            if cell.style == styles.INPUT:
                cell.style = styles.LOCKED_VALUE
    ws.data_validations.dataValidation = []
    for key, table in (("jobs", layout.jobs), ("services", layout.service_menu),
                       ("objects", layout.objects), ("funds", layout.fund_list),
                       ("goals", layout.goal_list)):
        # an empty list still gets its name (one blank cell) so dropdowns never dangle
        define_name(wb, PLAN_LIST_NAMES[key], SS.LISTS, table.range("code"))
    step = ws[layout.fte_step_cell]
    ws.cell(row=layout.jobs.header_row, column=step.column, value="FTE step"
            ).style = styles.HEADER
    step.value = p.fte_step
    step.style = styles.FORMULA
    define_name(wb, "FTE_Step", SS.LISTS, layout.fte_step_cell)


def _write_formulas(wb: Workbook, policy: Policy) -> None:
    """Every computed cell, from its one declaration in plan_math."""
    for sheet, cells in plan_formulas(policy).cells.items():
        ws = wb[sheet]
        for address, formula in cells.items():
            ws[address].value = formula


def _write_allocation(wb: Workbook, ws: Worksheet, layout: SchoolLayout,
                      spec: SchoolPlanSpec) -> None:
    school, district = spec.school, spec.district
    title(ws, f"Allocation {district.fiscal_year}: {school.name}",
          "What the district's funding formula gives this school, and why. Set by the budget "
          "office; these amounts are the district's record.")
    need = school.unduplicated / school.enrollment if school.enrollment else 0.0
    unrestricted = excel_round(sum(
        li.amount for li in spec.lines if not spec.policy.fund(li.fund).restricted))
    facts = [
        ("Level and grades", f"{school.level}, grades {school.low_grade}-{school.high_grade}"),
        ("Enrollment", school.enrollment),
        ("High-need pupils (unduplicated)", f"{school.unduplicated:,} ({need:.1%})"),
        ("Unrestricted allocation this year", unrestricted),
        ("Prior-year unrestricted allocation", spec.prior_year or "none (new school)"),
        ("Change", excel_round(unrestricted - spec.prior_year) if spec.prior_year else ""),
    ]
    for i, (label, value) in enumerate(facts):
        ws.cell(row=4 + i, column=1, value=label).style = styles.LABEL
        cell = ws.cell(row=4 + i, column=2)
        put_text(cell, value)
        cell.style = styles.FORMULA
        if isinstance(value, float):
            cell.number_format = styles.MONEY
        elif isinstance(value, int):
            cell.number_format = styles.COUNT
    t = layout.allocation
    write_table(wb, ws, t, [
        {"code": li.code, "name": li.name, "fund": li.fund, "math": li.math,
         "amount": li.amount} for li in spec.lines
    ], literal_keys={"code", "name", "fund", "math"})
    top = layout.allocation_totals_row
    ws.cell(row=top, column=1, value="Totals by fund").style = styles.LABEL
    for i, f in enumerate(spec.policy.funds):
        r = top + 1 + i
        put_text(ws.cell(row=r, column=1), f.code)
        put_text(ws.cell(row=r, column=2), f.name)
        ws.cell(row=r, column=1).style = ws.cell(row=r, column=2).style = styles.FORMULA
        ws.cell(row=r, column=3, value="restricted" if f.restricted else "unrestricted"
                ).style = styles.FORMULA
        cell = ws.cell(row=r, column=t.col("amount"), value=spec.fund_allocation(f.code))
        cell.style = styles.TOTAL
        cell.number_format = styles.MONEY
        define_name(wb, layout.allocation_total_name(f.code), SS.ALLOCATION, cell.coordinate)
    ws.column_dimensions["A"].width = 34
    for i in range(t.rows):
        ws.cell(row=t.first_row + i, column=t.col("math")).alignment = \
            styles.Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = ws.cell(row=t.first_row, column=1)


def _fte_validation(t: Table) -> str:
    first = t.cell("fte", 0)
    return (f"AND(ISNUMBER({first}),{first}>=0,{first}<={MAX_LINE_FTE:g},"
            f"ROUND({first}/FTE_Step,6)=INT(ROUND({first}/FTE_Step,6)))")


def _write_staffing(wb: Workbook, ws: Worksheet, layout: SchoolLayout,
                    spec: SchoolPlanSpec) -> None:
    t = layout.staffing
    title(ws, "Staffing", "One line per position (use two lines to split a position across "
          "funds). Choose the job class, type the FTE, choose the fund and goal. Cost is the "
          "district average salary plus benefits.")
    ws["A3"] = "Yellow cells are yours to fill in. The Check column says what a line still needs."
    ws["A3"].style = styles.NOTE
    records = []
    for i in range(t.rows):
        record: dict[str, object] = {"line": i + 1}
        if i < len(spec.positions):
            pos = spec.positions[i]
            record.update(job_class=pos.job_class, fte=pos.fte, fund=pos.fund or None,
                          goal=pos.goal or None, note=pos.note or None)
        records.append(record)
    write_table(wb, ws, t, records, literal_keys={"line"})
    ws.data_validations.dataValidation = [
        dv for dv in ws.data_validations.dataValidation if dv.type != "custom"]
    v = t.column("fte").validation
    assert v is not None
    add_validation(ws, type(v)("custom", _fte_validation(t), prompt=v.prompt, error=v.error),
                   t.range("fte", absolute=False))
    _check_format(ws, t)
    ws.freeze_panes = ws.cell(row=t.first_row, column=3)


def _check_format(ws: Worksheet, t: Table) -> None:
    """Show the Check column's messages in red, OK in green."""
    rng = t.range("check", absolute=False)
    first = t.cell("check", 0)
    ws.conditional_formatting.add(rng, CellIsRule(operator="equal", formula=['"OK"'],
                                                  font=Font(color="2E7D32")))
    ws.conditional_formatting.add(rng, FormulaRule(
        formula=[f'AND({first}<>"",{first}<>"OK")'], font=Font(color="C00000", bold=True)))
    for i in range(t.rows):
        ws.cell(row=t.first_row + i, column=t.col("check")).alignment = \
            styles.Alignment(wrap_text=True, vertical="top")


def _write_services(wb: Workbook, ws: Worksheet, layout: SchoolLayout) -> None:
    t = layout.services
    title(ws, "Services", "Buy central-office services from the district's menu: type a "
          "quantity, choose the fund and goal. Extra lines below the menu let you split a "
          "service across funds.")
    records, locked = [], []
    for i in range(t.rows):
        record: dict[str, object] = {}
        if i < layout.menu_rows:
            record["service"] = layout.menu_services[i].code
            locked.append((i, "service"))
        records.append(record)
    write_table(wb, ws, t, records, locked_cells=locked)
    _check_format(ws, t)
    ws.freeze_panes = ws.cell(row=t.first_row, column=3)


def _write_other(wb: Workbook, ws: Worksheet, layout: SchoolLayout) -> None:
    t = layout.other
    title(ws, "Other Spending", "Supplies, materials, contracts, travel, equipment: choose the "
          "SACS object, fund and goal, describe it and type the amount.")
    write_table(wb, ws, t, [{"line": i + 1} for i in range(t.rows)], literal_keys={"line"})
    _check_format(ws, t)
    ws.freeze_panes = ws.cell(row=t.first_row, column=3)


def _write_goals(wb: Workbook, ws: Worksheet, layout: SchoolLayout) -> None:
    t = layout.goals
    title(ws, "Goals & Strategies", "For each district goal your plan serves: your school's "
          "goal, the strategy, and how you will know it worked. Planned dollars add up the "
          "lines tagged with that goal.")
    write_table(wb, ws, t, [{"goal": g.code, "goal_name": g.name}
                            for g in layout.policy.goals],
                literal_keys={"goal", "goal_name"})
    for i in range(t.rows):
        ws.row_dimensions[t.first_row + i].height = 45
    for key in ("school_goal", "strategy", "measure"):
        for i in range(t.rows):
            ws.cell(row=t.first_row + i, column=t.col(key)).alignment = \
                styles.Alignment(wrap_text=True, vertical="top")
    if t.rows:
        _check_format(ws, t)
    ws.freeze_panes = ws.cell(row=t.first_row, column=3)


def _write_summary(wb: Workbook, ws: Worksheet, layout: SchoolLayout) -> None:
    t = layout.funds
    title(ws, "Summary", "Allocation, planned spending and what remains, per fund. A negative "
          "remaining amount (red) means the plan spends more than the fund holds.")
    write_table(wb, ws, t, [
        {"fund": f.code, "name": f.name, "restricted": "Yes" if f.restricted else "No"}
        for f in layout.policy.funds
    ], literal_keys={"fund", "name", "restricted"})
    total_row = layout.summary_total_row
    ws.cell(row=total_row, column=1, value="All funds").style = styles.TOTAL
    for key in ("allocation", "planned", "remaining"):
        cell = ws[layout.summary_cell(f"total_{key}")]
        cell.style = styles.TOTAL
        cell.number_format = styles.MONEY
    define_name(wb, "Plan_Remaining", SS.SUMMARY, t.range("remaining"))
    ws.conditional_formatting.add(
        f"{t.letter('remaining')}{t.first_row}:{t.letter('remaining')}{total_row}",
        CellIsRule(operator="lessThan", formula=["0"], font=Font(color="C00000", bold=True)))

    top = layout.group_header_row
    ws.cell(row=top, column=1, value="By object group").style = styles.HEADER
    ws.cell(row=top, column=2, value="Planned").style = styles.HEADER
    for i, group in enumerate(OBJECT_GROUPS):
        ws.cell(row=top + 1 + i, column=1, value=group).style = styles.FORMULA
        cell = ws[layout.summary_cell(f"group_{group}")]
        cell.style = styles.FORMULA
        cell.number_format = styles.MONEY
    fte = ws[layout.summary_cell("total_fte")]
    ws.cell(row=fte.row, column=1, value="Total FTE planned").style = styles.LABEL
    fte.style = styles.FORMULA
    fte.number_format = styles.FTE
    define_name(wb, "Plan_Total_FTE", SS.SUMMARY, fte.coordinate)

    chart = BarChart()
    chart.type = "col"
    chart.title = "Allocation and planned spending by fund"
    chart.y_axis.number_format = '"$"#,##0'
    data = Reference(ws, min_col=t.col("allocation"), max_col=t.col("planned"),
                     min_row=t.header_row, max_row=t.last_row)
    cats = Reference(ws, min_col=t.col("fund"), min_row=t.first_row, max_row=t.last_row)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(cats)
    chart.height, chart.width = 7.5, 14
    ws.add_chart(chart, f"H{t.header_row}")


#: Rules validate applies that no formula can show live; Start Here lists them.
CHECKED_ON_SUBMIT = (
    "Checked when you submit: that this is the file the district sent for your school, that "
    "no sheet, formula or list was changed, that the allocation and prices are the "
    "district's current ones, and whether much of a fund is left unspent (a warning).")


def _write_start(wb: Workbook, ws: Worksheet, layout: SchoolLayout,
                 spec: SchoolPlanSpec) -> None:
    school, district = spec.school, spec.district
    title(ws, f"{school.name}: school plan {district.fiscal_year}",
          f"{district.name}. Made by ssfr-xl for this school only; do not copy it for "
          "another school.")
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 70
    values = {
        "school": school.name, "school_id": school.school_id, "district": district.name,
        "fiscal_year": district.fiscal_year, "deadline": district.plan_deadline,
        "contact": district.contact,
    }
    write_fields(wb, ws, START_FIELDS, values, formula_keys={"status"})
    status_cell = ws.cell(row=START_FIELDS.row("status"), column=START_FIELDS.value_col)
    status_cell.font = Font(name="Calibri", bold=True, size=13, color="1F4E79")
    steps = [
        "How to fill in your plan",
        "1. Allocation: read what the district's formula gives your school and why.",
        "2. Staffing: one line per position - job class, FTE, fund, goal. Cost fills in.",
        "3. Services: type quantities of central-office services you want, with fund and goal.",
        "4. Other Spending: supplies, contracts, travel and equipment, with object, fund, goal.",
        "5. Goals & Strategies: your goals, strategies and measures; then check the Summary: "
        "every fund's remaining amount must be 0 or more. Save and return the file.",
        "",
        "Only yellow cells can be typed in. Restricted funds (see Summary) may only buy what "
        "the district allows. Keep the file name and sheet names as they are.",
        "",
        *textwrap.wrap("When the Status says Balanced and every Check says OK, the district's "
                       "check will accept the plan. " + CHECKED_ON_SUBMIT, 100),
    ]
    first = START_FIELDS.last_row + 2
    for i, line in enumerate(steps):
        cell = ws.cell(row=first + i, column=1, value=line)
        cell.style = styles.LABEL if i == 0 else styles.FORMULA
        cell.border = styles.Border()


def _write_meta(ws: Worksheet, spec: SchoolPlanSpec) -> None:
    values = {
        "template_version": TEMPLATE_VERSION,
        "kind": "school_plan",
        "school_id": spec.school.school_id,
        "school_name": spec.school.name,
        "district": spec.district.cds_code,
        "fiscal_year": spec.district.fiscal_year,
        "allocation_fingerprint": spec.fingerprint,
        "funds": json.dumps([f.code for f in spec.policy.funds]),
        "allocation": json.dumps({f.code: spec.fund_allocation(f.code)
                                  for f in spec.policy.funds}),
        "built_at": spec.built_at,
        "created_by": f"ssfr-xl {__version__}",
    }
    for i, (key, value) in enumerate(values.items(), start=1):
        ws.cell(row=i, column=1, value=key)
        put_text(ws.cell(row=i, column=2), value)


def plan_specs(result: AllocationResult, positions: dict[str, Sequence[Position]] | None = None,
               school_ids: Sequence[str] | None = None) -> list[SchoolPlanSpec]:
    """One spec per school (or per listed school id), from an allocation result."""
    wanted = set(school_ids) if school_ids else None
    built_at = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
    specs = []
    for i, school in enumerate(result.schools):
        if wanted is not None and school.school_id not in wanted:
            continue
        specs.append(SchoolPlanSpec(
            district=result.inputs.district, policy=result.inputs.policy, school=school,
            lines=allocation_lines(result, i), prior_year=school.prior_year_allocation,
            positions=tuple((positions or {}).get(school.school_id, ())), built_at=built_at,
        ))
    return specs
