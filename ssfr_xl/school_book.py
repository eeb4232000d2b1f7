"""Write the school plan workbook: one per school, filled in by the principal.

The school's allocation is written as values of record (from the district's engine run) with
the math spelled out; everything the principal plans is input, and every total is a live
formula so the balance per fund shows as they type. plan.py recomputes the same totals in
Python from the inputs alone.

Written with XlsxWriter (xlsxw.py): every formula comes from plan_math's declarations and
carries plan_math's value as its cached result; the line sheets, the same for every school of a
district, are written once per process and their XML reused (school_plan_bytes gives the same
bytes either way). `build_school_plan` opens the written bytes in openpyxl for callers that fill
a plan in.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import io
import json
import math
import re
import textwrap
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
from openpyxl.workbook import Workbook
from xlsxwriter.utility import xl_cell_to_rowcol
from xlsxwriter.worksheet import Worksheet

from . import __version__, styles
from .amendment import Amendment
from .explain import AllocationLine, allocation_lines
from .exports import atomic_target
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
from .plan import (
    LIST_TABLES,
    compiled,
    line_cells,
    list_records,
    record_lists,
    record_names,
    total_cells,
)
from .plan_math import MAX_LINE_FTE, plan_formulas
from .plan_print import print_setup
from .prior_year import ComponentChange
from .xlsx import job_class_records
from .xlsxw import (
    Book,
    SheetGroup,
    add_validation,
    define_name,
    header_height,
    new_book,
    protect,
    put,
    put_formula,
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
    amendment: Amendment | None = None  # the fall true-up's adjustments (build --amend)
    #: last year against this year by component (build --prior-workbook); shown, not counted
    prior_changes: tuple[ComponentChange, ...] = ()
    prior_source: str = ""  # last year's workbook and fiscal year, for the heading

    def fund_allocation(self, fund_code: str) -> float:
        """The school's allocation in one fund (amended: spring + the true-up adjustment)."""
        spring = excel_round(sum(li.amount for li in self.lines if li.fund == fund_code))
        if self.amendment is None:
            return spring
        return excel_round(spring + self.amendment.adjustment(fund_code))

    @property
    def fingerprint(self) -> str:
        """sha256 of what the plan computes with: school, year, each component's fund and
        cents, and every list the plan uses (job classes, services, objects, funds and their
        rules, goals, the FTE step); for an amended plan, each fund's adjustment too."""
        p = self.policy
        payload = json.dumps(
            [self.school.school_id, self.district.fiscal_year,
             [[li.code, li.fund, round(li.amount * 100)] for li in self.lines],
             [dataclasses.astuple(x) for x in (*p.job_classes, *p.services, *p.objects,
                                                *p.funds, *p.goals)],
             p.fte_step,
             *([["amendment", self.amendment.payload]] if self.amendment else [])],
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
    data = school_plan_bytes(spec)
    with atomic_target(path) as tmp:
        tmp.write_bytes(data)


def build_school_plan(spec: SchoolPlanSpec) -> Workbook:
    """The plan workbook for one school, opened in openpyxl (as written, without its chart,
    which openpyxl does not read): for callers that fill it in or inspect it."""
    return openpyxl.load_workbook(io.BytesIO(school_plan_bytes(spec)))


def school_plan_bytes(spec: SchoolPlanSpec) -> bytes:
    """The .xlsx bytes of one school's plan workbook, written with XlsxWriter."""
    buffer = io.BytesIO()
    created = _dt.datetime.fromisoformat(spec.built_at).replace(tzinfo=None)
    book = new_book(buffer, created)
    group, fresh = _write_book(book, spec)
    book.close()
    if fresh and all(name in group.xml for name in REUSED_SHEETS):
        _GROUPS[(spec.policy, spec.positions)] = group
        while len(_GROUPS) > 4:
            _GROUPS.pop(next(iter(_GROUPS)))
    return buffer.getvalue()


#: Sheets that are the same for every school of a district with the same pre-filled
#: positions: written once per process and reused (the bytes are the same; a test proves it).
REUSED_SHEETS = (SS.LISTS, SS.STAFFING, SS.SERVICES, SS.OTHER, SS.GOALS)
_GROUPS: dict[tuple, SheetGroup] = {}


def forget_reused_sheets() -> None:
    """Drop the sheets kept for reuse (tests compare a fresh build with a reused one)."""
    _GROUPS.clear()
    _LINES.clear()


@dataclass
class _Plan:
    """What every sheet writer needs: the book, the layout, formulas and their values."""

    book: Book
    spec: SchoolPlanSpec
    layout: SchoolLayout
    formulas: dict[str, dict[str, str]]
    values: dict[str, dict[str, object]]
    sheets: dict[str, Worksheet]

    def fmt(self, style: str, number_format: str = "General", **extra: object):
        return self.book.fmt(style, number_format, **extra)

    def table(self, t: Table, records, locked_cells=(), extra=None) -> None:
        write_table(self.book, self.sheets[t.sheet], t, records, self.formulas.get(t.sheet, {}),
                    self.values.get(t.sheet, {}), locked_cells, extra)


def plan_values(spec: SchoolPlanSpec, layout: SchoolLayout) -> dict[str, dict[str, object]]:
    """Every computed cell's value for the plan as built (its pre-filled positions), by sheet
    and address: plan_math's evaluation, the same validate uses on a returned file."""
    policy = spec.policy
    plan = compiled(policy)
    key = (policy, spec.positions)
    lines = _LINES.get(key)
    if lines is None:
        lists = record_lists(layout)
        inputs: dict[str, list[dict[str, object]]] = {}
        for lt in plan.math.lines:
            t: Table = getattr(layout, lt.table)
            inputs[lt.table] = [dict.fromkeys(lt.inputs) for _ in range(t.rows)]
        for i, pos in enumerate(spec.positions[:layout.staffing.rows]):
            inputs["staffing"][i].update(job_class=pos.job_class or None, fte=float(pos.fte),
                                         fund=pos.fund or None, goal=pos.goal or None,
                                         note=pos.note or None)
        for i, service in enumerate(layout.menu_services):
            inputs["services"][i]["service"] = service.code
        ev = plan.evaluate_lines(inputs, lists, record_names(layout, {}))
        cells = line_cells(ev, layout)
        jobs = cells.setdefault(SS.LISTS, {})
        for i, j in enumerate(policy.job_classes):
            jobs[layout.jobs.cell("average_cost", i)] = excel_round(
                j.average_salary * (1 + j.benefits_rate))
        lines = _LINES[key] = (ev, cells, lists)
        while len(_LINES) > 4:
            _LINES.pop(next(iter(_LINES)))
    ev, cells, lists = lines
    allocation = {f.code: spec.fund_allocation(f.code) for f in policy.funds}
    totals = plan.evaluate_totals(ev, lists, record_names(layout, allocation))
    return {**cells, **total_cells(totals, layout)}


#: Evaluated lines and their cells by (policy, positions): the same for every school.
_LINES: dict[tuple, tuple] = {}


def _write_book(book: Book, spec: SchoolPlanSpec) -> tuple[SheetGroup, bool]:
    layout = SchoolLayout(spec.policy)
    sheets = {name: book.add_sheet(name) for name in SS.ORDER}
    formulas = {sheet: dict(cells) for sheet, cells in plan_formulas(spec.policy).cells.items()}
    lists = formulas.setdefault(SS.LISTS, {})
    for i, record in enumerate(job_class_records(layout.jobs, spec.policy.job_classes)):
        lists[layout.jobs.cell("average_cost", i)] = record["average_cost"]
    plan = _Plan(book, spec, layout, formulas, plan_values(spec, layout), sheets)
    reused = [sheets[name] for name in REUSED_SHEETS]
    group = _GROUPS.get((spec.policy, spec.positions))
    fresh = group is None
    if group is None:
        group = book.start_group()
        _write_lists(plan)
        _write_staffing(plan)
        _write_services(plan)
        _write_other(plan)
        _write_goals(plan)
        book.finish_group(group, reused)
    else:
        book.reuse_group(group, reused)
    _write_summary(plan)
    _write_allocation(plan)
    _write_start(plan)
    _write_meta(plan)
    for name, ws in sheets.items():
        if name != SS.META:
            protect(ws)
        print_setup(ws, name, layout, spec)
    sheets[SS.META].hide()
    sheets[SS.START].activate()
    return group, fresh


def _title(plan: _Plan, ws: Worksheet, text: str, subtitle: str = "") -> None:
    put(ws, 1, 1, text, plan.fmt(styles.TITLE))
    ws.set_row(0, 24)
    if subtitle:
        put(ws, 2, 1, subtitle, plan.fmt(styles.NOTE))


def _wrapped_height(text: str, width: float) -> float:
    # a column of width w shows about 1.15 w characters of ordinary text in Calibri 11
    return 15.0 * max(1, math.ceil(len(text) / (1.15 * max(width - 2, 1))))


def _write_lists(plan: _Plan) -> None:
    layout, ws = plan.layout, plan.sheets[SS.LISTS]
    _title(plan, ws, "Lists", "The district's job classes, services, objects, funds, goals and "
           "indicators. "
           "Set by the budget office; not for editing.")
    records = list_records(layout)
    for table in LIST_TABLES:
        t: Table = getattr(layout, table)
        rows = records[table]
        # every cell on this sheet is reference data: inputs of the district, locked here
        locked = [(i, c.key) for i in range(len(rows)) for c in t.columns if c.input]
        plain = dataclasses.replace(t, columns=tuple(
            dataclasses.replace(c, validation=None) for c in t.columns))
        write_table(plan.book, ws, plain, rows, plan.formulas[SS.LISTS],
                    plan.values.get(SS.LISTS, {}), locked)
    ws.set_row(layout.jobs.header_row - 1, max(header_height(getattr(layout, table))
                                               for table in LIST_TABLES))
    for key, table in (("jobs", layout.jobs), ("services", layout.service_menu),
                       ("objects", layout.objects), ("funds", layout.fund_list),
                       ("goals", layout.goal_list), ("indicators", layout.indicator_list)):
        # an empty list still gets its name (one blank cell) so dropdowns never dangle
        define_name(plan.book, PLAN_LIST_NAMES[key], SS.LISTS, table.range("code"))
    col = layout.fte_step_col
    put(ws, layout.jobs.header_row, col, "FTE step", plan.fmt(styles.HEADER))
    put(ws, layout.jobs.first_row, col, layout.policy.fte_step, plan.fmt(styles.FORMULA))
    ws.set_column(col - 1, col - 1, 9)
    define_name(plan.book, "FTE_Step", SS.LISTS, layout.fte_step_cell)
    ws.freeze_panes(layout.jobs.first_row - 1, 0)


def _fte_validation(t: Table) -> str:
    first = t.cell("fte", 0)
    return (f"AND(ISNUMBER({first}),{first}>=0,{first}<={MAX_LINE_FTE:g},"
            f"ROUND({first}/FTE_Step,6)=INT(ROUND({first}/FTE_Step,6)))")


_WRAP_TOP = {"text_wrap": True, "valign": "top"}


def _lines_note(plan: _Plan, ws: Worksheet, text: str) -> None:
    put(ws, 3, 1, text, plan.fmt(styles.NOTE))


def _write_staffing(plan: _Plan) -> None:
    layout, ws, spec = plan.layout, plan.sheets[SS.STAFFING], plan.spec
    t = layout.staffing
    _title(plan, ws, "Staffing", "One line per job class and fund: choose the job class, type "
           "the FTE (20 teachers = 20.0), choose the fund and goal. Cost is the district "
           "average salary plus benefits.")
    _lines_note(plan, ws, f"Yellow cells are yours to fill in ({t.rows:,} lines; up to "
                f"{MAX_LINE_FTE:,g} FTE on one line, in steps of {spec.policy.fte_step:g}). "
                "The Check column says what a line still needs.")
    records = []
    for i in range(t.rows):
        record: dict[str, object] = {"line": i + 1}
        if i < len(spec.positions):
            pos = spec.positions[i]
            record.update(job_class=pos.job_class, fte=pos.fte, fund=pos.fund or None,
                          goal=pos.goal or None, note=pos.note or None)
        records.append(record)
    no_fte_rule = dataclasses.replace(t, columns=tuple(
        dataclasses.replace(c, validation=None) if c.key == "fte" else c for c in t.columns))
    plan.table(no_fte_rule, records, extra={"check": _WRAP_TOP})
    v = t.column("fte").validation
    assert v is not None
    add_validation(ws, dataclasses.replace(v, formula1=_fte_validation(t)),
                   (t.first_row, t.col("fte")), (t.last_row, t.col("fte")))
    _check_format(plan, ws, t)
    ws.set_row(t.header_row - 1, header_height(t))
    ws.freeze_panes(t.first_row - 1, 2)


def _check_format(plan: _Plan, ws: Worksheet, t: Table) -> None:
    """Show the Check column's messages in red, OK in green."""
    if not t.rows:
        return
    col = t.col("check") - 1
    first = t.cell("check", 0)
    rng = (t.first_row - 1, col, t.last_row - 1, col)
    ws.conditional_format(*rng, {"type": "cell", "criteria": "==", "value": '"OK"',
                                 "format": plan.book.dxf(font_color="#2E7D32")})
    ws.conditional_format(*rng, {"type": "formula", "criteria": f'=AND({first}<>"",'
                                 f'{first}<>"OK")',
                                 "format": plan.book.dxf(font_color="#C00000", bold=True)})


def _write_services(plan: _Plan) -> None:
    layout, ws = plan.layout, plan.sheets[SS.SERVICES]
    t = layout.services
    _title(plan, ws, "Services", "Buy central-office services from the district's menu: type a "
           "quantity, choose the fund and goal. Extra lines below the menu let you split a "
           "service across funds.")
    records, locked = [], []
    for i in range(t.rows):
        record: dict[str, object] = {}
        if i < layout.menu_rows:
            record["service"] = layout.menu_services[i].code
            locked.append((i, "service"))
        records.append(record)
    plan.table(t, records, locked, extra={"check": _WRAP_TOP, "name": _WRAP_TOP})
    _check_format(plan, ws, t)
    ws.set_row(t.header_row - 1, header_height(t))
    ws.freeze_panes(t.first_row - 1, 2)


def _write_other(plan: _Plan) -> None:
    layout, ws = plan.layout, plan.sheets[SS.OTHER]
    t = layout.other
    _title(plan, ws, "Other Spending", "Supplies, materials, contracts, travel, equipment: "
           "choose the SACS object, fund and goal, describe it and type the amount.")
    plan.table(t, [{"line": i + 1} for i in range(t.rows)], extra={"check": _WRAP_TOP})
    _check_format(plan, ws, t)
    ws.set_row(t.header_row - 1, header_height(t))
    ws.freeze_panes(t.first_row - 1, 2)


def _write_goals(plan: _Plan) -> None:
    layout, ws = plan.layout, plan.sheets[SS.GOALS]
    t = layout.goals
    _title(plan, ws, "Goals & Strategies", "For each district goal your plan serves: your "
           "school's goal, the strategy, and how you will know it worked: an indicator from "
           "the list with this year's baseline and next year's target. Planned dollars add "
           "up the lines tagged with that goal.")
    plan.table(t, [{"goal": g.code, "goal_name": g.name} for g in layout.policy.goals],
               extra={k: _WRAP_TOP for k in ("goal", "goal_name", "school_goal", "strategy",
                                             "measure", "indicator", "unit", "baseline",
                                             "target", "planned", "check")})
    for i in range(t.rows):
        ws.set_row(t.first_row + i - 1, 60)
    _check_format(plan, ws, t)
    ws.set_row(t.header_row - 1, header_height(t))
    ws.freeze_panes(t.first_row - 1, 2)


def _write_summary(plan: _Plan) -> None:
    layout, ws, book = plan.layout, plan.sheets[SS.SUMMARY], plan.book
    t = layout.funds
    _title(plan, ws, "Summary", "Allocation, planned spending and what remains, per fund. A "
           "negative remaining amount (red) means the plan spends more than the fund holds.")
    plan.table(t, [{"fund": f.code, "name": f.name, "restricted": "Yes" if f.restricted
                    else "No"} for f in layout.policy.funds])
    formulas, values = plan.formulas[SS.SUMMARY], plan.values[SS.SUMMARY]

    def total(address: str, fmt) -> None:
        row, col = _rowcol(address)
        put_formula(ws, row, col, formulas[address], fmt, values.get(address))

    total_row = layout.summary_total_row
    put(ws, total_row, 1, "All funds", plan.fmt(styles.TOTAL))
    for key in ("allocation", "planned", "remaining"):
        total(layout.summary_cell(f"total_{key}"), plan.fmt(styles.TOTAL, styles.MONEY))
    define_name(book, "Plan_Remaining", SS.SUMMARY, t.range("remaining"))
    col = t.col("remaining") - 1
    ws.conditional_format(t.first_row - 1, col, total_row - 1, col, {
        "type": "cell", "criteria": "<", "value": 0,
        "format": book.dxf(font_color="#C00000", bold=True)})
    ws.set_row(t.header_row - 1, header_height(t))

    top = layout.group_header_row
    put(ws, top, 1, "By object group", plan.fmt(styles.HEADER))
    put(ws, top, 2, "Planned", plan.fmt(styles.HEADER))
    ws.set_row(top - 1, 20)
    for i, group in enumerate(OBJECT_GROUPS):
        put(ws, top + 1 + i, 1, group, plan.fmt(styles.FORMULA))
        total(layout.summary_cell(f"group_{group}"), plan.fmt(styles.FORMULA, styles.MONEY))
    fte = layout.summary_cell("total_fte")
    put(ws, _rowcol(fte)[0], 1, "Total FTE planned", plan.fmt(styles.LABEL))
    total(fte, plan.fmt(styles.FORMULA, styles.FTE))
    define_name(book, "Plan_Total_FTE", SS.SUMMARY, fte)
    _fund_chart(plan, ws, t)


def _fund_chart(plan: _Plan, ws: Worksheet, t: Table) -> None:
    """Allocation against planned per fund, clustered columns (filled, with axis titles)."""
    if not t.rows:
        return
    chart = plan.book.add_chart({"type": "column"})
    fund = t.col("fund") - 1
    for key, colour in (("allocation", "#1F4E79"), ("planned", "#ED7D31")):
        col = t.col(key) - 1
        chart.add_series({
            "name": [SS.SUMMARY, t.header_row - 1, col],
            "categories": [SS.SUMMARY, t.first_row - 1, fund, t.last_row - 1, fund],
            "values": [SS.SUMMARY, t.first_row - 1, col, t.last_row - 1, col],
            "fill": {"color": colour}, "border": {"color": colour}, "gap": 80,
        })
    chart.set_title({"name": "Allocation and planned spending by fund",
                     "name_font": {"size": 12, "bold": True}})
    chart.set_x_axis({"name": "Fund"})
    chart.set_y_axis({"name": "Dollars", "num_format": '"$"#,##0',
                      "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}}})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 620, "height": 330})
    ws.insert_chart(t.header_row - 1, t.col("remaining") + 1, chart,
                    {"x_offset": 10, "y_offset": 0})


def _rowcol(address: str) -> tuple[int, int]:
    r, c = xl_cell_to_rowcol(address)
    return r + 1, c + 1


def _write_allocation(plan: _Plan) -> None:
    spec, layout, ws = plan.spec, plan.layout, plan.sheets[SS.ALLOCATION]
    school, district = spec.school, spec.district
    amended = spec.amendment
    _title(plan, ws, f"Allocation {district.fiscal_year}: {school.name}"
           + (f" (amendment {amended.number})" if amended else ""),
           "What the district's funding formula gives this school, and why. Set by the budget "
           "office; these amounts are the district's record."
           + (" Amended after the fall true-up: the totals by fund include it (see below)."
              if amended else ""))
    need = school.unduplicated / school.enrollment if school.enrollment else 0.0
    unrestricted = excel_round(sum(
        li.amount for li in spec.lines if not spec.policy.fund(li.fund).restricted))
    if amended:
        unrestricted = excel_round(unrestricted + sum(
            amended.adjustment(f.code) for f in spec.policy.funds if not f.restricted))
    facts = [
        ("Level and grades", f"{school.level}, grades {school.low_grade}-{school.high_grade}"),
        ("Enrollment", school.enrollment),
        ("High-need pupils (unduplicated)", f"{school.unduplicated:,} ({need:.1%})"),
        ("Unrestricted allocation this year", unrestricted),
        ("Prior-year unrestricted allocation", spec.prior_year or "none (new school)"),
        ("Change", excel_round(unrestricted - spec.prior_year) if spec.prior_year else ""),
    ]
    for i, (label, value) in enumerate(facts):
        put(ws, 4 + i, 1, label, plan.fmt(styles.LABEL))
        number_format = (styles.MONEY if isinstance(value, float) else
                         styles.COUNT if isinstance(value, int) else "General")
        put(ws, 4 + i, 2, value, plan.fmt(styles.FORMULA, number_format, align="left"))
    t = layout.allocation
    plan.table(t, [{"code": li.code, "name": li.name, "fund": li.fund, "math": li.math,
                    "amount": li.amount} for li in spec.lines],
               extra={"math": _WRAP_TOP, "name": _WRAP_TOP, "code": {"valign": "top"},
                      "fund": {"valign": "top"}, "amount": {"valign": "top"}})
    width = t.column("math").width
    for i, li in enumerate(spec.lines):
        ws.set_row(t.first_row + i - 1, max(_wrapped_height(li.math, width),
                                            _wrapped_height(li.name, t.column("name").width)))
    ws.set_row(t.header_row - 1, header_height(t))
    top = layout.allocation_totals_row
    put(ws, top, 1, "Totals by fund", plan.fmt(styles.LABEL))
    for i, f in enumerate(spec.policy.funds):
        r = top + 1 + i
        put(ws, r, 1, f.code, plan.fmt(styles.FORMULA))
        put(ws, r, 2, f.name, plan.fmt(styles.FORMULA))
        put(ws, r, 3, "restricted" if f.restricted else "unrestricted",
            plan.fmt(styles.FORMULA))
        put(ws, r, t.col("amount"), spec.fund_allocation(f.code),
            plan.fmt(styles.TOTAL, styles.MONEY))
        if amended:
            put(ws, r, t.col("math"), _amended_words(spec, f.code), plan.fmt(styles.FORMULA))
        define_name(plan.book, layout.allocation_total_name(f.code), SS.ALLOCATION,
                    layout.allocation_total_cell(i))
    below = top + len(spec.policy.funds) + 2
    if amended:
        below = _write_amendment(plan, ws, below) + 1
    if spec.prior_changes:
        _write_prior_changes(plan, ws, below)
    ws.set_column(0, 0, 34)
    ws.freeze_panes(t.first_row - 1, 0)


def _amended_words(spec: SchoolPlanSpec, fund: str) -> str:
    """A fund total's line on an amended plan: spring + the true-up adjustment."""
    from .money import format_money

    assert spec.amendment is not None
    spring = excel_round(sum(li.amount for li in spec.lines if li.fund == fund))
    adjustment = spec.amendment.adjustment(fund)
    sign = "+" if adjustment >= 0 else "-"
    return (f"Spring {format_money(spring)} {sign} fall true-up "
            f"{format_money(abs(adjustment))} = {format_money(spec.fund_allocation(fund))}")


def _write_amendment(plan: _Plan, ws: Worksheet, top: int) -> int:
    """The fall true-up below the totals: per fund, the rule applied, why, the adjustment;
    returns the row below it."""
    spec = plan.spec
    amendment = spec.amendment
    assert amendment is not None
    t = plan.layout.allocation
    put(ws, top, 1, f"Fall true-up: amendment {amendment.number}", plan.fmt(styles.LABEL))
    kept = (f" The lines of your plan ({amendment.kept_from}) are kept as they were: check the "
            "Summary, and bring any fund whose remaining amount is negative back within its "
            "new allocation." if amendment.kept_from else "")
    note = textwrap.wrap(f"The district recomputed this school's allocation on the fall "
                         f"(actual) counts with the rates adopted in spring "
                         f"({amendment.source}), and applied its true-up rules.{kept}", 150)
    for i, text in enumerate(note):
        put(ws, top + 1 + i, 1, text, plan.fmt(styles.NOTE))
    head = top + 1 + len(note)
    header = plan.fmt(styles.HEADER)
    for col, label in ((t.col("code"), "Fund"), (t.col("name"), "Rule applied"),
                       (t.col("math"), "Why"), (t.col("amount"), "Adjustment")):
        put(ws, head, col, label, header)
    wrap = plan.fmt(styles.FORMULA, text_wrap=True, valign="top")
    for i, c in enumerate(amendment.changes):
        r = head + 1 + i
        put(ws, r, t.col("code"), c.fund, plan.fmt(styles.FORMULA, valign="top"))
        put(ws, r, t.col("name"), c.rule, plan.fmt(styles.FORMULA, valign="top"))
        put(ws, r, t.col("math"), c.reason, wrap)
        put(ws, r, t.col("amount"), c.adjustment,
            plan.fmt(styles.FORMULA, styles.MONEY, valign="top"))
        ws.set_row(r - 1, _wrapped_height(c.reason, t.column("math").width))
    return head + 1 + len(amendment.changes)


def _write_prior_changes(plan: _Plan, ws: Worksheet, top: int) -> None:
    """Last year against this year, by component: the change and its causes."""
    spec, t = plan.spec, plan.layout.allocation
    put(ws, top, 1, f"Change from last year, by component ({spec.prior_source})",
        plan.fmt(styles.LABEL))
    put(ws, top + 1, 1, "Why each amount changed: enrollment and need are this year's pupils "
        "against last year's at last year's rate; rate is this year's pupils at the new rate; "
        "other is what neither explains (fixed amounts, eligibility, caps, rounding).",
        plan.fmt(styles.NOTE))
    header = plan.fmt(styles.HEADER)
    for col, label in ((t.col("code"), "Component"), (t.col("name"), "Last year"),
                       (t.col("fund"), ""), (t.col("math"), "Why it changed"),
                       (t.col("amount"), "Change")):
        put(ws, top + 2, col, label, header)
    wrap = plan.fmt(styles.FORMULA, text_wrap=True, valign="top")
    money = plan.fmt(styles.FORMULA, styles.MONEY, valign="top")
    for i, c in enumerate(spec.prior_changes):
        r = top + 3 + i
        put(ws, r, t.col("code"), c.code, plan.fmt(styles.FORMULA, valign="top"))
        put(ws, r, t.col("name"), c.last, money)
        put(ws, r, t.col("math"), c.causes, wrap)
        put(ws, r, t.col("amount"), c.change, money)
        ws.set_row(r - 1, _wrapped_height(c.causes, t.column("math").width))
    r = top + 3 + len(spec.prior_changes)
    put(ws, r, t.col("code"), "All components", plan.fmt(styles.TOTAL))
    put(ws, r, t.col("name"), excel_round(sum(c.last for c in spec.prior_changes)),
        plan.fmt(styles.TOTAL, styles.MONEY))
    put(ws, r, t.col("amount"), excel_round(sum(c.change for c in spec.prior_changes)),
        plan.fmt(styles.TOTAL, styles.MONEY))


#: Rules validate applies that no formula can show live; Start Here lists them.
CHECKED_ON_SUBMIT = (
    "Checked when you submit: that this is the file the district sent for your school, that "
    "no sheet, formula or list was changed, that the allocation and prices are the "
    "district's current ones, and whether much of a fund is left unspent (a warning).")


def _write_start(plan: _Plan) -> None:
    spec, ws = plan.spec, plan.sheets[SS.START]
    school, district = spec.school, spec.district
    _title(plan, ws, f"{school.name}: school plan {district.fiscal_year}",
           f"{district.name}. Made by ssfr-xl for this school only; do not copy it for "
           "another school.")
    ws.set_column(0, 0, 34)
    ws.set_column(1, 1, 70)
    ws.set_column(2, 2, 40)
    values = {
        "school": school.name, "school_id": school.school_id, "district": district.name,
        "fiscal_year": district.fiscal_year, "deadline": district.plan_deadline,
        "contact": district.contact,
    }
    write_fields(plan.book, ws, START_FIELDS, values, plan.formulas.get(SS.START, {}),
                 plan.values.get(SS.START, {}))
    status = START_FIELDS.row("status")
    put_formula(ws, status, START_FIELDS.value_col, plan.formulas[SS.START][
        START_FIELDS.cell("status")], plan.fmt(styles.FORMULA, bold=True, font_size=13,
                                              font_color="#1F4E79", text_wrap=True),
        plan.values[SS.START].get(START_FIELDS.cell("status")))
    ws.set_row(status - 1, 34)
    fte = plan.spec.policy.fte_step
    steps = [
        "How to fill in your plan",
        "1. Allocation: read what the district's formula gives your school and why.",
        "2. Staffing: one line per job class and fund - job class, FTE (any number of "
        f"positions, e.g. 20.0 teachers, in steps of {fte:g}), fund, goal. Cost fills in.",
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
    plain = plan.fmt(styles.FORMULA, border=0)
    for i, line in enumerate(steps):
        put(ws, first + i, 1, line, plan.fmt(styles.LABEL) if i == 0 else plain)


def _write_meta(plan: _Plan) -> None:
    spec, ws = plan.spec, plan.sheets[SS.META]
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
    if spec.amendment is not None:
        values |= {"amendment": spec.amendment.number,
                   "amendment_reason": spec.amendment.reason,
                   "amendment_source": spec.amendment.source,
                   "amendment_adjustments": json.dumps({c.fund: c.adjustment
                                                        for c in spec.amendment.changes}),
                   "amended_from": spec.amendment.kept_from}
    for i, (key, value) in enumerate(values.items(), start=1):
        put(ws, i, 1, key)
        put(ws, i, 2, value)
    ws.set_column(0, 0, 24)
    ws.set_column(1, 1, 70)


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
