"""Write and read the district formula workbook.

The workbook is the season's record of policy and inputs. Every allocation in it is a live
Excel formula on the Policy and Schools sheets, arranged to perform the same arithmetic in
the same order as formula.py, so Excel, LibreOffice and Python agree to the cent.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from openpyxl.chart import Reference, ScatterChart, Series
from openpyxl.worksheet.worksheet import Worksheet

from . import __name__ as _pkg
from . import styles
from .formula import AllocationResult
from .layout import (
    COMPONENT_COLUMNS,
    FIXED_KINDS,
    FUND_COLUMNS,
    GOAL_COLUMNS,
    JOB_CLASS_COLUMNS,
    KIND_PARAMETERS,
    LISTS,
    OBJECT_COLUMNS,
    ROSTER_INPUTS,
    SERVICE_COLUMNS,
    SETTINGS,
    TEMPLATE_VERSION,
    DistrictLayout,
    Table,
    basis_label,
    cell_address,
    sheet_ref,
)
from .layout import DistrictSheets as S
from .model import GRADES, LEVELS, Component, DistrictInputs
from .xlsx import (
    column_values,
    define_name,
    job_class_records,
    protect,
    put_text,
    save_atomically,
    title,
    write_fields,
    write_header,
    write_table,
)

LINEAR_RATE_KINDS = ("per_pupil", "concentration", "categorical")

#: Defined names of each component's Policy cells: (name prefix, component-table column).
COMPONENT_NAMED_CELLS = (
    ("Fund", "fund"), ("Counting", "counting"), ("Unit", "rate_unit"), ("Rate", "rate"),
    ("Threshold", "threshold"), ("Minimum", "minimum"), ("Cap", "cap"), ("Pool", "pool"),
    ("RateUSD", "rate_usd"), ("Unres", "unrestricted"), ("DriverTotal", "driver_total"),
    ("Total", "total"),
)

#: Rows typed below a list (Funds, Job Classes, ...) that read_district still reads.
APPENDED_ROWS = 500


def structure_of(inputs: DistrictInputs) -> dict:
    """What the formulas were generated for: changing any of it needs a new workbook."""
    p = inputs.policy
    return {
        "spans": [[s.name, s.first_grade, s.last_grade] for s in p.spans],
        "components": [[c.code, c.kind, list(c.basis)] for c in p.components],
        "funds": [f.code for f in p.funds],
    }


def write_district(path: str | Path, inputs: DistrictInputs,
                   progress: Callable[[str], None] | None = None) -> None:
    """Write the district formula workbook for these inputs (atomically)."""
    say = progress or (lambda _msg: None)
    layout = DistrictLayout(inputs.policy, len(inputs.schools))
    wb = Workbook()
    styles.register(wb)
    sheets: dict[str, Worksheet] = {}
    for i, name in enumerate(S.ORDER):
        sheets[name] = wb.active if i == 0 else wb.create_sheet(name)
        sheets[name].title = name

    say("lists and reference tables")
    _write_lists(wb, sheets[S.LISTS])
    _write_reference_tables(wb, sheets, layout, inputs)
    say("policy")
    _write_policy(wb, sheets[S.POLICY], layout, inputs)
    say(f"{len(inputs.schools)} schools")
    _write_schools(wb, sheets[S.SCHOOLS], layout, inputs)
    say("calculation formulas")
    _write_calculation(sheets[S.CALCULATION], layout)
    say("allocation formulas")
    _write_allocations(sheets[S.ALLOCATIONS], layout)
    _write_summary(sheets[S.SUMMARY], layout)
    _write_instructions(sheets[S.INSTRUCTIONS], inputs)
    _write_meta(sheets[S.META], inputs)
    for name, ws in sheets.items():
        if name != S.META:
            protect(ws)
    sheets[S.META].sheet_state = "hidden"
    wb.active = 0
    say("saving")
    save_atomically(wb, Path(path))


# --- sheets ------------------------------------------------------------------------------

def _write_lists(wb: Workbook, ws: Worksheet) -> None:
    title(ws, "Lists", "Values offered by the dropdowns. Not for editing.")
    for col, (name, values) in enumerate(LISTS.items(), start=1):
        ws.cell(row=3, column=col, value=name.removeprefix("List_").replace("_", " "))
        ws.cell(row=3, column=col).style = styles.HEADER
        for i, v in enumerate(values):
            ws.cell(row=4 + i, column=col, value=v).style = styles.FORMULA
        ws.column_dimensions[cell_address(1, col)[:-1]].width = 24
        define_name(wb, name, S.LISTS,
                    f"{cell_address(4, col)}:{cell_address(3 + len(values), col)}")


def _write_reference_tables(wb: Workbook, sheets: dict[str, Worksheet], layout: DistrictLayout,
                            inputs: DistrictInputs) -> None:
    p = inputs.policy
    ws = sheets[S.FUNDS]
    title(ws, "Funds", "Restricted money is kept apart: a school plan must balance per fund, "
          "and restricted funds may buy only the objects and services listed.")
    write_table(wb, ws, layout.funds, [
        {**column_values(layout.funds.columns, f), "restricted": "Yes" if f.restricted else "No"}
        for f in p.funds
    ])
    ws = sheets[S.JOB_CLASSES]
    title(ws, "Job Classes", "Positions schools can plan, charged at district average cost.")
    write_table(wb, ws, layout.job_classes, _job_class_records(layout, inputs))
    ws = sheets[S.SERVICES]
    title(ws, "Services", "The central-office menu schools buy from.")
    write_table(wb, ws, layout.services, [column_values(layout.services.columns, s)
                                          for s in p.services])
    ws = sheets[S.OBJECTS]
    title(ws, "Objects", "SACS object codes schools may plan against.")
    write_table(wb, ws, layout.objects, [column_values(layout.objects.columns, o)
                                         for o in p.objects])
    ws = sheets[S.GOALS]
    title(ws, "Goals", "District (LCAP) goals every school plan line is aligned to.")
    write_table(wb, ws, layout.goals, [column_values(layout.goals.columns, g) for g in p.goals])
    for ws in (sheets[S.FUNDS], sheets[S.JOB_CLASSES], sheets[S.SERVICES], sheets[S.OBJECTS],
               sheets[S.GOALS]):
        ws.freeze_panes = "A4"


# --- cell contents -------------------------------------------------------------------------
# What every computed cell holds is produced once, by the functions below: the sheet writers
# put it in the workbook and `computed_cells` hands it to `ssfr-xl allocate`, which checks that
# the file still holds exactly these formulas (district_check.py).

def _job_class_records(layout: DistrictLayout, inputs: DistrictInputs) -> list[dict]:
    return job_class_records(layout.job_classes, inputs.policy.job_classes)


def _settings_values(layout: DistrictLayout, inputs: DistrictInputs) -> dict[str, object]:
    """The Policy sheet's fields: inputs and the formulas of the computed ones."""
    p, d = inputs.policy, inputs.district
    calc, R = layout.calculation, layout.components.range  # noqa: N806 - a spreadsheet range
    has_transition = any(c.kind == "transition" for c in p.components)
    return {
        "name": d.name, "cds_code": d.cds_code, "fiscal_year": d.fiscal_year,
        "budget": d.budget, "base_rate_mode": d.base_rate_mode, "base_rate": d.base_rate,
        "transition_max_loss": d.transition_max_loss, "fte_step": p.fte_step,
        "plan_deadline": d.plan_deadline, "contact": d.contact,
        "unspent_warning": d.unspent_warning,
        "base_units": f"=SUM({R('base_units')})",
        "fixed_total": f"=SUM({R('fixed')})",
        "solved_base_rate": "=IF(Base_Units>0,(Budget-Fixed_Unrestricted)/Base_Units,0)",
        "base_rate_in_use": '=IF(Base_Rate_Mode="fixed",Fixed_Base_Rate,Solved_Base_Rate)',
        "transition_protection":
            f"=SUM({calc.full_range('protection')})" if has_transition else 0,
        "transition_gains": f"=SUM({calc.full_range('gain')})" if has_transition else 0,
        "transition_paid":
            "=IF(Transition_Protection>0,MIN(1,Transition_Gains/Transition_Protection),0)",
        "transition_taken":
            "=IF(Transition_Gains>0,MIN(1,Transition_Protection/Transition_Gains),0)",
    }


def _span_records(layout: DistrictLayout, inputs: DistrictInputs) -> list[dict]:
    calc = layout.calculation
    return [
        {"name": s.name, "first_grade": s.first_grade, "last_grade": s.last_grade,
         "weight": s.weight, "pupils": f"=SUM({calc.full_range(f'span_{i}')})"}
        for i, s in enumerate(inputs.policy.spans)
    ]


def _component_records(layout: DistrictLayout, inputs: DistrictInputs
                       ) -> tuple[list[dict], list[tuple[int, str]]]:
    """Rows of the Policy sheet's component table, and the input cells locked on them."""
    calc, alloc = layout.calculation, layout.allocations
    records, locked = [], []
    for i, c in enumerate(inputs.policy.components):
        n = lambda param, c=c: layout.component_name(param, c)  # noqa: E731
        uses = KIND_PARAMETERS[c.kind]
        amount_col = (calc.full_range(f"amount_{c.code}") if c.kind in FIXED_KINDS
                      else alloc.full_range(f"amount_{c.code}"))
        record = {
            "code": c.code, "name": c.name, "kind": c.kind, "fund": c.fund,
            "basis": basis_label(c) if c.basis else "",
            "counting": c.counting if "counting" in uses else None,
            "rate_unit": c.rate_unit if c.kind in LINEAR_RATE_KINDS else None,
            "rate": c.rate if "rate" in uses else None,
            "threshold": c.threshold if "threshold" in uses else None,
            "minimum": c.minimum if "minimum" in uses else None,
            "cap": c.cap if "cap" in uses else None,
            "pool": c.pool if "pool" in uses else None,
            "note": c.note,
            "unrestricted": f'=IF(INDEX(Fund_Restricted,MATCH({n("Fund")},Fund_Codes,0))="No",1,0)',
            "total": f"=SUM({amount_col})",
            "schools": f'=COUNTIF({amount_col},"<>0")',
        }
        for j in range(len(LEVELS)):
            record[f"level_{j}"] = c.by_level[j] if "levels" in uses else None
        if c.kind == "transition":
            record.update(rate_usd=None, driver_total=None, base_units=0, fixed=0)
        else:
            record["driver_total"] = f"=SUM({calc.full_range(f'driver_{c.code}')})"
            if c.kind == "base":
                record["rate_usd"] = "=Base_Rate"
                record["base_units"] = f"={n('Unres')}*{n('DriverTotal')}"
                record["fixed"] = 0
            elif c.kind in LINEAR_RATE_KINDS:
                record["rate_usd"] = f'=IF({n("Unit")}="weight",{n("Rate")}*Base_Rate,{n("Rate")})'
                record["base_units"] = (f'=IF(AND({n("Unres")}=1,{n("Unit")}="weight"),'
                                        f'{n("DriverTotal")}*{n("Rate")},0)')
                record["fixed"] = (f'=IF(AND({n("Unres")}=1,{n("Unit")}<>"weight"),'
                                   f'{n("DriverTotal")}*{n("Rate")},0)')
            else:
                record["rate_usd"] = f"={n('Rate')}" if "rate" in uses else None
                record["base_units"] = 0
                record["fixed"] = f"=IF({n('Unres')}=1,{n('Total')},0)"
        records.append(record)
        for key in ("counting", "rate", "threshold", "minimum", "cap", "pool"):
            if key not in uses:
                locked.append((i, key))
        if c.kind not in LINEAR_RATE_KINDS:
            locked.append((i, "rate_unit"))
        if "levels" not in uses:
            locked += [(i, f"level_{j}") for j in range(len(LEVELS))]
        if c.kind == "transition":
            locked.append((i, "fund"))  # protection is paid from unrestricted money
    return records, locked


def _school_records(layout: DistrictLayout, inputs: DistrictInputs) -> list[dict]:
    t = layout.schools
    first, last = f"grade_{GRADES[0]}", f"grade_{GRADES[-1]}"
    records = []
    for i, s in enumerate(inputs.schools):
        row = t.first_row + i
        record = column_values(t.columns, s)
        record.update({f"grade_{g}": s.enrollment_by_grade.get(g, 0) for g in GRADES})
        record["enrollment"] = f"=SUM({t.span_range(first, last, row)})"
        record["grades_estimated"] = "Yes" if s.grades_estimated else "No"
        records.append(record)
    return records


def _basis_expression(c: Component, layout: DistrictLayout, row: int) -> str:
    """Excel expression for a component's basis count on a worksheet row."""
    schools, calc = layout.schools, layout.calculation
    terms = []
    for b in c.basis:
        if b.startswith("span:"):
            index = next(i for i, s in enumerate(layout.policy.spans) if s.name == b[5:])
            terms.append(f"{calc.letter(f'span_{index}')}{row}")
        elif b == "enrollment":
            terms.append(f"{calc.letter('enrollment')}{row}")
        else:
            terms.append(schools.row_ref(b, row))
    total = "+".join(terms)
    undup = schools.row_ref("unduplicated", row)
    counting = layout.component_name("Counting", c)
    return f'IF({counting}="unduplicated",MIN({undup},{total}),{total})'


def _calculation_rows(layout: DistrictLayout) -> Iterator[tuple[int, dict[str, object]]]:
    """(worksheet row, contents by column key) of every Calculation row."""
    t, schools, alloc, p = layout.calculation, layout.schools, layout.allocations, layout.policy
    non_transition = [c for c in p.components if c.kind != "transition"]
    for i in range(layout.n_schools):
        r = t.first_row + i
        L = lambda key, r=r: f"{t.letter(key)}{r}"  # noqa: E731,N806
        values: dict[str, object] = {
            "school_id": f"={schools.row_ref('school_id', r)}",
            "name": f"={schools.row_ref('name', r)}",
            "level_index": f"=MATCH({schools.row_ref('level', r)},List_Levels,0)",
            "enrollment": f"={schools.row_ref('enrollment', r)}",
            "need_share": f"=IF({L('enrollment')}>0,"
                          f"{schools.row_ref('unduplicated', r)}/{L('enrollment')},0)",
        }
        for j, span in enumerate(p.spans):
            grades = schools.span_range(f"grade_{span.grades[0]}", f"grade_{span.grades[-1]}", r)
            values[f"span_{j}"] = f"=SUM({sheet_ref(S.SCHOOLS, grades)})"
        for c in non_transition:
            n = lambda param, c=c: layout.component_name(param, c)  # noqa: E731
            E, LV = L("enrollment"), L("level_index")  # noqa: N806
            if c.kind == "base":
                f = "=" + "+".join(f"{layout.span_weight_name(j)}*{L(f'span_{j}')}"
                                   for j in range(len(p.spans)))
            elif c.kind == "concentration":
                f = f"=MAX(0,{_basis_expression(c, layout, r)}-{n('Threshold')}*{E})"
            elif c.kind == "categorical":
                basis = _basis_expression(c, layout, r)
                f = f"=IF({E}>0,IF(({basis})/{E}>INDEX({n('Level')},{LV}),{basis},0),0)"
            elif c.kind == "foundation":
                f = 1
            elif c.kind == "small_school":
                f = f"=MAX(0,INDEX({n('Level')},{LV})-{E})"
            else:  # per_pupil, pool, floor
                f = f"={_basis_expression(c, layout, r)}"
            values[f"driver_{c.code}"] = f
            if c.kind in FIXED_KINDS:
                values[f"amount_{c.code}"] = _fixed_amount(c, layout, L)
        if len(non_transition) < len(p.components):
            amounts = alloc.span_range(f"amount_{non_transition[0].code}",
                                       f"amount_{non_transition[-1].code}", r)
            flags = alloc.span_range(f"amount_{non_transition[0].code}",
                                     f"amount_{non_transition[-1].code}",
                                     layout.unrestricted_row, absolute_row=True)
            flags = "$" + flags.replace(":", ":$")
            prior, ft = L("prior"), L("formula_total")
            values.update({
                "formula_total": f"=SUMPRODUCT({sheet_ref(S.ALLOCATIONS, amounts)},"
                                 f"{sheet_ref(S.ALLOCATIONS, flags)})",
                "prior": f"={schools.row_ref('prior_year_allocation', r)}",
                "protection": f"=IF({prior}>0,MAX(0,{prior}*(1-Max_Loss)-{ft}),0)",
                "gain": f"=IF({prior}>0,MAX(0,{ft}-{prior}),0)",
            })
        yield r, values


def _fixed_amount(c: Component, layout: DistrictLayout, L) -> str:  # noqa: N803
    """Formula of an amount that does not depend on the base rate (Calculation sheet)."""
    n = lambda param: layout.component_name(param, c)  # noqa: E731
    d = L(f"driver_{c.code}")
    if c.kind == "foundation":
        return f"=ROUND(INDEX({n('Level')},{L('level_index')}),2)"
    if c.kind == "small_school":
        return (f"=ROUND(IF({n('Cap')}>0,MIN({n('Cap')},{d}*{n('Rate')}),"
                f"{d}*{n('Rate')}),2)")
    if c.kind == "pool":
        return f"=IF({n('DriverTotal')}>0,ROUND({n('Pool')}*{d}/{n('DriverTotal')},2),0)"
    # floor
    return (f"=IF({L('need_share')}>INDEX({n('Level')},{L('level_index')}),"
            f"ROUND(MAX({n('Minimum')},{d}*{n('Rate')}),2),0)")


def _allocation_marks(layout: DistrictLayout) -> list[tuple[int, int, object]]:
    """(row, column, content) of the rows above the Allocations table the formulas read:
    each component's fund code and whether it counts in the unrestricted formula total."""
    t = layout.allocations
    marks: list[tuple[int, int, object]] = []
    for c in layout.policy.components:
        col = t.col(f"amount_{c.code}")
        marks.append((layout.fund_row, col, f"={layout.component_name('Fund', c)}"))
        flag = 0 if c.kind == "transition" else f"={layout.component_name('Unres', c)}"
        marks.append((layout.unrestricted_row, col, flag))
    return marks


def _allocation_rows(layout: DistrictLayout) -> Iterator[tuple[int, dict[str, object]]]:
    """(worksheet row, contents by column key) of every Allocations row."""
    t, calc, schools, p = layout.allocations, layout.calculation, layout.schools, layout.policy
    comps = p.components
    first_amount, last_amount = f"amount_{comps[0].code}", f"amount_{comps[-1].code}"
    fund_codes_row = t.span_range(first_amount, last_amount, layout.fund_row, absolute_row=True)
    fund_codes_row = "$" + fund_codes_row.replace(":", ":$")
    transition = next((c for c in comps if c.kind == "transition"), None)
    non_trans = [c for c in comps if c.kind != "transition"]
    flags = t.span_range(f"amount_{non_trans[0].code}", f"amount_{non_trans[-1].code}",
                         layout.unrestricted_row, absolute_row=True)
    flags = "$" + flags.replace(":", ":$")
    first_fund, last_fund = f"fund_{p.funds[0].code}", f"fund_{p.funds[-1].code}"
    for i in range(layout.n_schools):
        r = t.first_row + i
        C = lambda key, r=r: f"{sheet_ref(S.CALCULATION, calc.letter(key))}{r}"  # noqa: E731,N806
        L = lambda key, r=r: f"{t.letter(key)}{r}"  # noqa: E731,N806
        values: dict[str, object] = {
            "school_id": f"={schools.row_ref('school_id', r)}",
            "name": f"={schools.row_ref('name', r)}",
            "level": f"={schools.row_ref('level', r)}",
            "enrollment": f"={C('enrollment')}",
        }
        for c in comps:
            n = lambda param, c=c: layout.component_name(param, c)  # noqa: E731
            d = C(f"driver_{c.code}") if c.kind != "transition" else ""
            if c.kind == "base":
                f = f"=ROUND({d}*Base_Rate,2)"
            elif c.kind in LINEAR_RATE_KINDS:
                f = f"=ROUND({d}*{n('RateUSD')},2)"
            elif c.kind in FIXED_KINDS:
                f = f"={C(f'amount_{c.code}')}"
            else:  # transition
                f = (f"=ROUND({C('protection')}*Transition_Paid-"
                     f"{C('gain')}*Transition_Taken,2)")
            values[f"amount_{c.code}"] = f
        amounts = t.span_range(first_amount, last_amount, r)
        for fund in p.funds:
            values[f"fund_{fund.code}"] = (
                f'=ROUND(SUMIF({fund_codes_row},"{fund.code}",{amounts}),2)')
        values["total"] = f"=ROUND(SUM({t.span_range(first_fund, last_fund, r)}),2)"
        nt_amounts = t.span_range(f"amount_{non_trans[0].code}", f"amount_{non_trans[-1].code}", r)
        unres = f"SUMPRODUCT({nt_amounts},{flags})"
        if transition is not None:
            unres += f"+{L(f'amount_{transition.code}')}"
        values["unrestricted"] = f"=ROUND({unres},2)"
        values["per_pupil"] = (f"=IF({L('enrollment')}>0,"
                               f"ROUND({L('total')}/{L('enrollment')},2),\"\")")
        values["prior"] = f"={schools.row_ref('prior_year_allocation', r)}"
        values["change"] = f'=IF({L("prior")}>0,ROUND({L("unrestricted")}-{L("prior")},2),"")'
        values["change_share"] = (f'=IF({L("prior")}>0,'
                                  f'({L("unrestricted")}-{L("prior")})/{L("prior")},"")')
        values["need_share"] = f"={C('need_share')}"
        yield r, values


@dataclass(frozen=True)
class _Put:
    """One cell of the Summary sheet: what it holds and how it looks."""

    row: int
    col: int
    value: object
    style: str = styles.FORMULA
    number_format: str | None = None
    text: bool = False  # data: text beginning with "=" stays text
    what: str = ""  # what a computed cell is, in words (for reports)


def _summary_cells(layout: DistrictLayout) -> list[_Put]:
    """Every cell the Summary sheet's writer fills, except its chart."""
    t, p = layout.allocations, layout.policy
    pp, unres = t.full_range("per_pupil"), t.full_range("unrestricted")
    need = t.full_range("need_share")
    rows = [
        ("Schools", f"=COUNTA({t.full_range('school_id')})", styles.COUNT),
        ("Pupils", f"=SUM({t.full_range('enrollment')})", styles.COUNT),
        ("Budget (unrestricted formula total)", "=Budget", styles.MONEY),
        ("Unrestricted allocated", f"=ROUND(SUM({unres}),2)", styles.MONEY),
        ("Rounding difference (budget - allocated)", f"=ROUND(Budget-SUM({unres}),2)",
         styles.MONEY),
        ("Base rate in use (per weighted pupil)", "=Base_Rate", styles.RATE),
        ("Per pupil, all funds: lowest", f"=MIN({pp})", styles.MONEY),
        ("Per pupil, all funds: median", f"=IFERROR(MEDIAN({pp}),0)", styles.MONEY),
        ("Per pupil, all funds: highest", f"=MAX({pp})", styles.MONEY),
        ("Per pupil: coefficient of variation",
         f"=IFERROR(STDEVP({pp})/AVERAGE({pp}),0)", "0.000"),
        ("McLoone index (below the median)",
         f'=IFERROR(IF(COUNTIF({pp},"<"&MEDIAN({pp}))>0,SUMIF({pp},"<"&MEDIAN({pp}))/'
         f'(COUNTIF({pp},"<"&MEDIAN({pp}))*MEDIAN({pp})),1),1)', "0.000"),
        ("Verstegen index (above the median)",
         f'=IFERROR(IF(COUNTIF({pp},">"&MEDIAN({pp}))>0,SUMIF({pp},">"&MEDIAN({pp}))/'
         f'(COUNTIF({pp},">"&MEDIAN({pp}))*MEDIAN({pp})),1),1)', "0.000"),
        ("Federal range ratio (P95 - P5) / P5",
         f"=IFERROR((PERCENTILE({pp},0.95)-PERCENTILE({pp},0.05))/PERCENTILE({pp},0.05),0)",
         "0.000"),
        ("Per pupil more from 0% to 100% high-need pupils (slope)",
         f"=IFERROR(SLOPE({pp},{need}),0)", styles.MONEY),
        ("Correlation of per pupil with need share", f"=IFERROR(CORREL({pp},{need}),0)",
         "0.00"),
        ("Transition: shortfall below floors", "=Transition_Protection", styles.MONEY),
        ("Transition: gains above prior year", "=Transition_Gains", styles.MONEY),
    ]
    cells: list[_Put] = []
    for i, (label, formula, fmt) in enumerate(rows):
        cells.append(_Put(4 + i, 1, label, styles.LABEL))
        cells.append(_Put(4 + i, 2, formula, number_format=fmt, what=label))
    top = 4 + len(rows) + 2
    cells += [_Put(top, 1 + j, header, styles.HEADER)
              for j, header in enumerate(("Fund", "Name", "Restricted", "Total"))]
    for i, f in enumerate(p.funds):
        r = top + 1 + i
        cells += [_Put(r, 1, f.code, text=True), _Put(r, 2, f.name, text=True),
                  _Put(r, 3, "Yes" if f.restricted else "No", text=True),
                  _Put(r, 4, f"=ROUND(SUM({t.full_range(f'fund_{f.code}')}),2)",
                       number_format=styles.MONEY, what=f"total of fund {f.code}")]
    r = top + 1 + len(p.funds)
    cells += [_Put(r, 1, "All funds", styles.TOTAL),
              _Put(r, 4, f"=ROUND(SUM(D{top + 1}:D{r - 1}),2)", styles.TOTAL, styles.MONEY,
                   what="total of all funds")]

    top = r + 2
    cells += [_Put(top, 1 + j, header, styles.HEADER)
              for j, header in enumerate(("Component", "Name", "Fund", "Total"))]
    for i, c in enumerate(p.components):
        r = top + 1 + i
        cells += [_Put(r, 1, c.code, text=True), _Put(r, 2, c.name, text=True),
                  _Put(r, 3, f"={layout.component_name('Fund', c)}",
                       what=f"fund of component {c.code}"),
                  _Put(r, 4, f"={layout.component_name('Total', c)}",
                       number_format=styles.MONEY, what=f"total of component {c.code}")]
    return cells


def summary_descriptions(layout: DistrictLayout) -> dict[tuple[int, int], str]:
    """(row, column) -> what each computed cell of the Summary sheet is, in words."""
    return {(put.row, put.col): put.what for put in _summary_cells(layout) if put.what}


def computed_cells(inputs: DistrictInputs, layout: DistrictLayout | None = None
                   ) -> Iterator[tuple[str, int, int, object]]:
    """(sheet, row, column, content) of every computed cell the district workbook holds.

    Content is the formula text ("=...") the writer puts there, or the number it writes in a
    computed cell (a constant of the arithmetic, such as 0 for a fund flag). Labels, headers
    and inputs are not listed. This is the writer's own output, used by `ssfr-xl allocate` to
    check that the file still holds these formulas.
    """
    layout = layout or DistrictLayout(inputs.policy, len(inputs.schools))

    def table(t: Table, records: Iterable[Mapping[str, object]]):
        keys = [(c.key, t.col(c.key)) for c in t.columns if not c.input]
        for i, record in enumerate(records):
            for key, col in keys:
                value = record.get(key)
                if _is_computed(value):
                    yield t.sheet, t.first_row + i, col, value

    def rows(t: Table, generated: Iterable[tuple[int, dict[str, object]]]):
        cols = [(c.key, t.col(c.key)) for c in t.columns]
        for r, values in generated:
            for key, col in cols:
                value = values.get(key)
                if _is_computed(value):
                    yield t.sheet, r, col, value

    values = _settings_values(layout, inputs)
    for f in SETTINGS.fields:
        if not f.input and _is_computed(values.get(f.key)):
            yield SETTINGS.sheet, SETTINGS.row(f.key), SETTINGS.value_col, values[f.key]
    yield from table(layout.spans, _span_records(layout, inputs))
    yield from table(layout.components, _component_records(layout, inputs)[0])
    yield from table(layout.schools, _school_records(layout, inputs))
    yield from table(layout.job_classes, _job_class_records(layout, inputs))
    yield from rows(layout.calculation, _calculation_rows(layout))
    for row, col, value in _allocation_marks(layout):
        if _is_computed(value):
            yield S.ALLOCATIONS, row, col, value
    yield from rows(layout.allocations, _allocation_rows(layout))
    for put in _summary_cells(layout):
        if not put.text and put.style not in (styles.LABEL, styles.HEADER) \
                and _is_computed(put.value):
            yield S.SUMMARY, put.row, put.col, put.value


def _is_computed(value: object) -> bool:
    """A formula, or a number written into a computed cell (text there is a label)."""
    if isinstance(value, str):
        return value.startswith("=")
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- sheets, continued ----------------------------------------------------------------------

def _write_policy(wb: Workbook, ws: Worksheet, layout: DistrictLayout,
                  inputs: DistrictInputs) -> None:
    p, d = inputs.policy, inputs.district
    comps = layout.components
    title(ws, f"Funding policy {d.fiscal_year}",
          "Yellow cells are inputs: change them and every allocation recomputes. "
          "Grey cells do not apply to that component.")
    ws.column_dimensions["A"].width = 38
    write_fields(wb, ws, SETTINGS, _settings_values(layout, inputs))

    spans = layout.spans
    ws.cell(row=spans.header_row - 1, column=1, value="Grade spans").style = styles.LABEL
    write_table(wb, ws, spans, _span_records(layout, inputs))
    for i in range(len(p.spans)):
        define_name(wb, layout.span_weight_name(i), S.POLICY, spans.cell("weight", i))

    ws.cell(row=comps.header_row - 1, column=1, value="Formula components").style = styles.LABEL
    records, locked = _component_records(layout, inputs)
    write_table(wb, ws, comps, records, locked_cells=locked)
    for i, c in enumerate(p.components):
        for param, key in COMPONENT_NAMED_CELLS:
            define_name(wb, layout.component_name(param, c), S.POLICY, comps.cell(key, i))
        first, last = comps.cell("level_0", i), comps.cell(f"level_{len(LEVELS) - 1}", i)
        define_name(wb, layout.component_name("Level", c), S.POLICY, f"{first}:{last}")
    ws.freeze_panes = ws.cell(row=comps.first_row, column=3)


def _write_schools(wb: Workbook, ws: Worksheet, layout: DistrictLayout,
                   inputs: DistrictInputs) -> None:
    t = layout.schools
    title(ws, "Schools", "The roster: grade enrollment and need counts per school. Yellow "
          "cells are inputs; Enrollment adds the grades.")
    write_table(wb, ws, t, _school_records(layout, inputs))
    ws.freeze_panes = ws.cell(row=t.first_row, column=3)
    ws.auto_filter.ref = f"A{t.header_row}:{t.letter(t.columns[-1].key)}{t.last_row}"


def _write_calculation(ws: Worksheet, layout: DistrictLayout) -> None:
    t = layout.calculation
    title(ws, "Calculation", "What each rate applies to, per school: span pupils, counts, "
          "pupils above thresholds, shortfalls. All formulas.")
    write_header(ws, t)
    for r, values in _calculation_rows(layout):
        _write_row(ws, t, r, values)
    ws.freeze_panes = ws.cell(row=t.first_row, column=3)


def _write_row(ws: Worksheet, t: Table, row: int, values: dict[str, object]) -> None:
    for c in t.columns:
        cell = ws.cell(row=row, column=t.col(c.key), value=values.get(c.key))
        cell.style = styles.FORMULA
        if c.number_format != "General":
            cell.number_format = c.number_format


def _write_allocations(ws: Worksheet, layout: DistrictLayout) -> None:
    t, p = layout.allocations, layout.policy
    title(ws, "Allocations", "Each school's money by component and fund. Every cell is a "
          "formula on the Policy and Schools sheets.")
    write_header(ws, t)
    ws.cell(row=layout.fund_row, column=t.col("enrollment"), value="Fund").style = styles.LABEL
    ws.cell(row=layout.unrestricted_row, column=t.col("enrollment"),
            value="In formula total").style = styles.LABEL
    for row, col, value in _allocation_marks(layout):
        ws.cell(row=row, column=col, value=value).style = styles.FORMULA
    for f in p.funds:
        cell = ws.cell(row=layout.fund_row, column=t.col(f"fund_{f.code}"), value=f.code)
        cell.style = styles.FORMULA
    for r, values in _allocation_rows(layout):
        _write_row(ws, t, r, values)
    ws.freeze_panes = ws.cell(row=t.first_row, column=3)


def _write_summary(ws: Worksheet, layout: DistrictLayout) -> None:
    t = layout.allocations
    title(ws, "Summary", "District totals, the budget check and how per-pupil funding follows "
          "need. All formulas.")
    ws.column_dimensions["A"].width = 40
    ws.column_dimensions["B"].width = 36
    ws.column_dimensions["C"].width = 12
    ws.column_dimensions["D"].width = 18
    for put in _summary_cells(layout):
        cell = ws.cell(row=put.row, column=put.col)
        if put.text:
            put_text(cell, put.value)
        else:
            cell.value = put.value
        cell.style = put.style
        if put.number_format is not None:
            cell.number_format = put.number_format

    if layout.n_schools:
        chart = ScatterChart()
        chart.title = "Per-pupil allocation (all funds) vs share of high-need pupils"
        chart.style = 13
        chart.x_axis.title = "Unduplicated (high-need) share of enrollment"
        chart.y_axis.title = "Dollars per pupil"
        chart.x_axis.number_format = "0%"
        chart.y_axis.number_format = '"$"#,##0'
        ws_alloc = ws.parent[S.ALLOCATIONS]
        xs = Reference(ws_alloc, min_col=t.col("need_share"), min_row=t.first_row,
                       max_row=t.last_row)
        ys = Reference(ws_alloc, min_col=t.col("per_pupil"), min_row=t.first_row,
                       max_row=t.last_row)
        series = Series(ys, xs, title="Schools")
        series.marker.symbol = "circle"
        series.graphicalProperties.line.noFill = True
        chart.series.append(series)
        chart.legend = None
        chart.height, chart.width = 9, 16
        ws.add_chart(chart, "F4")


INSTRUCTIONS = """\
How this workbook works
1. Policy: yellow cells are the formula's inputs (budget, base rate mode, weights, rates,
   thresholds, foundation amounts). Change one and every allocation recomputes.
2. Schools: the roster - grade enrollment, need counts and last year's allocation.
3. Calculation: what each rate applies to for each school (pupils, counts above thresholds).
4. Allocations: each school's dollars by component and fund, per pupil and change vs last year.
5. Summary: totals by fund, the budget check (rounding difference), and a chart of per-pupil
   funding against the share of high-need pupils.
6. Funds, Job Classes, Services, Objects, Goals: the lists school plans are built from.

Budget neutrality: with base rate mode "solve", the base rate is set so the unrestricted
allocations add up to the budget; any difference is rounding to the cent, shown on Summary.
Transition protection: no school loses more than the maximum loss against last year; the cost
is paid by taking a share of other schools' gains, so the total stays the budget.

Sheets are protected without a password so formulas are not typed over by mistake
(Review > Unprotect Sheet). Adding components or schools needs a new workbook:
edit policy.toml or the roster and run `ssfr-xl init` again.

After editing, run `ssfr-xl allocate <this file>` to check the numbers with the Python engine
and `ssfr-xl build <this file> --out plans/` to make the school plan workbooks."""


def _write_instructions(ws: Worksheet, inputs: DistrictInputs) -> None:
    d = inputs.district
    title(ws, f"{d.name} - need-based school funding {d.fiscal_year}",
          f"{len(inputs.schools)} schools. Made by ssfr-xl; template version {TEMPLATE_VERSION}.")
    ws.column_dimensions["A"].width = 100
    for i, line in enumerate(INSTRUCTIONS.splitlines()):
        ws.cell(row=4 + i, column=1, value=line).style = (
            styles.LABEL if i == 0 else styles.FORMULA)
        ws.cell(row=4 + i, column=1).border = styles.Border()


def _write_meta(ws: Worksheet, inputs: DistrictInputs) -> None:
    from . import __version__

    values = {
        "template_version": TEMPLATE_VERSION,
        "kind": "district",
        "district": inputs.district.cds_code,
        "fiscal_year": inputs.district.fiscal_year,
        "n_schools": len(inputs.schools),
        "structure": json.dumps(structure_of(inputs), separators=(",", ":")),
        "created_by": f"{_pkg} {__version__}",
        "created_at": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
    }
    for i, (key, value) in enumerate(values.items(), start=1):
        ws.cell(row=i, column=1, value=key)
        put_text(ws.cell(row=i, column=2), value)


# --- reading -----------------------------------------------------------------------------

class _Grid:
    """Cell values of some sheets of a workbook, read once, addressed like the workbook."""

    def __init__(self, path: Path, sheets: tuple[str, ...]):
        from openpyxl import load_workbook

        from .errors import FileError, WorkbookError

        try:
            wb = load_workbook(path, read_only=True, data_only=False)
        except FileNotFoundError as e:
            raise FileError(f"{path}: file not found.") from e
        except Exception as e:  # openpyxl raises many kinds for a file that is not xlsx
            raise WorkbookError(
                f"{path.name}: not an Excel workbook ssfr-xl can read ({e}).") from e
        self.path = path
        self.names: dict[str, tuple[str, str]] = {}
        for name, dn in wb.defined_names.items():
            dests = list(dn.destinations)
            if len(dests) == 1:
                self.names[name] = (dests[0][0], dests[0][1].replace("$", ""))
        missing = [s for s in sheets if s not in wb.sheetnames]
        if missing:
            wb.close()
            raise WorkbookError(
                f"{path.name}: sheet {missing[0]!r} is missing; this is not an ssfr-xl district "
                "workbook, or a sheet was renamed (rename it back)."
            )
        self.cells: dict[str, dict[tuple[int, int], object]] = {}
        for sheet in sheets:
            ws = wb[sheet]
            ws.reset_dimensions()
            grid: dict[tuple[int, int], object] = {}
            for r, row in enumerate(ws.iter_rows(values_only=True), start=1):
                for c, value in enumerate(row, start=1):
                    if value is not None:
                        grid[(r, c)] = value
            self.cells[sheet] = grid
        wb.close()

    def value(self, sheet: str, row: int, col: int) -> object:
        """The stored value (formula text for formulas) of a cell."""
        return self.cells[sheet].get((row, col))

    def named(self, name: str) -> tuple[str, int, int]:
        """(sheet, row, col) of the first cell a defined name points at."""
        from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

        from .errors import WorkbookError

        if name not in self.names:
            raise WorkbookError(f"{self.path.name}: the defined name {name} is missing; "
                                "the workbook's structure was changed. Rebuild it with "
                                "`ssfr-xl init`.")
        sheet, ref = self.names[name]
        letters, row = coordinate_from_string(ref.split(":")[0])
        return sheet, row, column_index_from_string(letters)

    def named_range_rows(self, name: str) -> tuple[str, int, int, int]:
        """(sheet, first row, last row, first col) of a defined range."""
        from openpyxl.utils.cell import range_boundaries

        sheet, ref = self.names[name]
        min_col, min_row, _max_col, max_row = range_boundaries(ref)
        return sheet, min_row, max_row, min_col


def read_district(path: str | Path) -> DistrictInputs:
    """Read the district workbook's inputs (never its formula results)."""
    from .cells import CellValueError, to_number, to_text, to_whole
    from .errors import WorkbookError
    from .model import (
        Component,
        District,
        Fund,
        Goal,
        GradeSpan,
        JobClass,
        ObjectCode,
        Policy,
        School,
        Service,
    )
    from .policy import check_policy

    path = Path(path)
    grid = _Grid(path, (S.POLICY, S.SCHOOLS, S.FUNDS, S.JOB_CLASSES, S.SERVICES, S.OBJECTS,
                        S.GOALS, S.META))
    meta = {to_text(grid.value(S.META, r, 1)): grid.value(S.META, r, 2) for r in range(1, 20)}
    if meta.get("kind") != "district" or "structure" not in meta:
        raise WorkbookError(f"{path.name}: not an ssfr-xl district workbook (no metadata).")
    try:
        structure = json.loads(str(meta["structure"]))
        expected = int(to_number(meta.get("n_schools")))
        structure["spans"], structure["components"], structure["funds"]  # noqa: B018
    except (ValueError, KeyError, TypeError, CellValueError) as e:
        raise WorkbookError(f"{path.name}: the hidden sheet {S.META} was changed, so the "
                            "workbook's structure is unknown. Rebuild it with ssfr-xl init "
                            "(your inputs can be re-entered from this file).") from e
    problems: list[str] = []

    def where(sheet: str, row: int, col: int) -> str:
        return f"{sheet}!{cell_address(row, col)}"

    def read(sheet: str, row: int, col: int, convert, label: str):
        value = grid.value(sheet, row, col)
        try:
            return convert(value)
        except CellValueError as e:
            problems.append(f"{where(sheet, row, col)} ({label}) {e}.")
            return convert(None) if convert is not to_text else ""

    def named(name: str, convert, label: str):
        sheet, row, col = grid.named(name)
        return read(sheet, row, col, convert, label)

    settings = {f.key: named(f.name, to_number if f.number_format in (
        styles.MONEY, styles.RATE, styles.SHARE, "0.00") else to_text, f.label)
        for f in SETTINGS.fields if f.input}

    spans = []
    for i, (name, first, last) in enumerate(structure["spans"]):
        weight = named(f"Span_Weight_{i + 1}", to_number, f"weight of grade span {name}")
        spans.append(GradeSpan(name, first, last, weight))

    def table_rows(table_name: str, keys: tuple[str, ...]) -> list[dict]:
        if table_name not in grid.names:  # an empty list has no range to name
            return []
        sheet, first, last, col0 = grid.named_range_rows(table_name)
        rows, r = [], first
        while r <= last or grid.value(sheet, r, col0) not in (None, ""):
            if r > last + APPENDED_ROWS:
                break
            if grid.value(sheet, r, col0) in (None, ""):
                r += 1
                continue
            rows.append({"_row": r, **{k: grid.value(sheet, r, col0 + j)
                                       for j, k in enumerate(keys)}})
            r += 1
        return rows

    def keys(columns) -> tuple[str, ...]:
        return tuple(c.key for c in columns)

    def num(sheet, row, keylist, key, label):
        return read(sheet, row, 1 + keylist.index(key), to_number, label)

    fund_keys = keys(FUND_COLUMNS)
    funds = []
    for rec in table_rows("Funds_Table", fund_keys):
        restricted = to_text(rec["restricted"]).lower()
        if restricted not in ("yes", "no"):
            problems.append(f"{where(S.FUNDS, rec['_row'], 3)} (restricted) must be Yes or No.")
        funds.append(Fund(to_text(rec["code"]), to_text(rec["name"]), restricted == "yes",
                          to_text(rec["resource"]), to_text(rec["allowed_objects"]),
                          to_text(rec["allowed_services"])))
    if [f.code for f in funds][: len(structure["funds"])] != structure["funds"]:
        problems.append(f"{S.FUNDS}: fund codes were changed or reordered; the allocation "
                        "formulas refer to them. Put them back or rebuild with ssfr-xl init.")

    components = []
    comp_cols = {c.key: i for i, c in enumerate(COMPONENT_COLUMNS)}
    for code, kind, basis in structure["components"]:
        base = Component(code=code, name=code, kind=kind, fund="", basis=tuple(basis))
        sheet, row, _ = grid.named(f"Rate_{code.replace('-', '_')}")

        def cell(key: str, row: int = row, sheet: str = sheet) -> object:
            return grid.value(sheet, row, 1 + comp_cols[key])

        label = f"component {code}"
        if to_text(cell("kind")) != kind or to_text(cell("code")) != code:
            problems.append(f"{where(sheet, row, 1 + comp_cols['kind'])}: the code or kind of "
                            f"component {code} was changed; that changes the formulas. Edit "
                            "policy.toml and run ssfr-xl init instead.")

        def number(key: str, row: int = row, label: str = label, sheet: str = sheet) -> float:
            return read(sheet, row, 1 + comp_cols[key], to_number, f"{label} {key}")

        components.append(Component(
            code=code,
            name=to_text(cell("name")) or code,
            kind=kind,
            fund=to_text(cell("fund")),
            basis=base.basis,
            counting=to_text(cell("counting")) or "duplicated",
            rate_unit=to_text(cell("rate_unit")) or "dollars",
            rate=number("rate"),
            threshold=number("threshold"),
            minimum=number("minimum"),
            cap=number("cap"),
            pool=number("pool"),
            by_level=tuple(number(f"level_{j}") for j in range(len(LEVELS))),  # type: ignore
            note=to_text(cell("note")),
        ))

    jc_keys = keys(JOB_CLASS_COLUMNS)
    job_classes = [
        JobClass(to_text(r["code"]), to_text(r["title"]), to_text(r["object_code"]),
                 num(S.JOB_CLASSES, r["_row"], jc_keys, "average_salary", "average salary"),
                 num(S.JOB_CLASSES, r["_row"], jc_keys, "benefits_rate", "benefits rate"))
        for r in table_rows("Job_Classes_Table", jc_keys)
    ]
    sv_keys = keys(SERVICE_COLUMNS)
    services = [
        Service(to_text(r["code"]), to_text(r["department"]), to_text(r["name"]),
                to_text(r["unit"]),
                num(S.SERVICES, r["_row"], sv_keys, "unit_price", "unit price"),
                to_text(r["object_code"]) or "5710")
        for r in table_rows("Services_Table", sv_keys)
    ]
    objects = [ObjectCode(to_text(r["code"]), to_text(r["name"]), to_text(r["group"]))
               for r in table_rows("Objects_Table", keys(OBJECT_COLUMNS))]
    goals = [Goal(to_text(r["code"]), to_text(r["name"]))
             for r in table_rows("Goals_Table", keys(GOAL_COLUMNS))]

    policy = Policy(spans=tuple(spans), funds=tuple(funds), components=tuple(components),
                    job_classes=tuple(job_classes), services=tuple(services),
                    objects=tuple(objects), goals=tuple(goals),
                    fte_step=float(settings.get("fte_step") or 0.1))
    problems += check_policy(policy, settings, f"{path.name} Policy sheet")

    # schools
    sheet, first, last, col0 = grid.named_range_rows("Schools_Table")
    roster_keys = keys(ROSTER_INPUTS)
    col = {k: col0 + i for i, k in enumerate(roster_keys)}
    if last - first + 1 != expected:
        problems.append(f"{S.SCHOOLS}: the roster has {last - first + 1} rows but the formulas "
                        f"cover {expected}; rows were inserted or deleted. Rebuild with init.")
    if grid.value(sheet, last + 1, col["school_id"]) not in (None, ""):
        problems.append(f"{where(sheet, last + 1, col['school_id'])}: a school was added below "
                        "the roster. The formulas only cover the schools ssfr-xl wrote; add it "
                        "to the roster CSV and run ssfr-xl init again.")
    schools = []
    seen: dict[str, int] = {}
    for r in range(first, last + 1):
        v = lambda key, r=r: grid.value(sheet, r, col[key])  # noqa: E731

        def whole(key: str, r: int = r) -> int:
            return read(sheet, r, col[key], to_whole, key.replace("_", " "))

        school_id = to_text(v("school_id"))
        if not (len(school_id) == 14 and school_id.isdigit()):
            problems.append(f"{where(sheet, r, col['school_id'])}: school ID {school_id!r} "
                            "must be the 14-digit CDS code.")
        if school_id in seen:
            problems.append(f"{where(sheet, r, col['school_id'])}: school ID {school_id} is "
                            f"also on row {seen[school_id]}.")
        seen[school_id] = r
        level = to_text(v("level"))
        if level not in LEVELS:
            problems.append(f"{where(sheet, r, col['level'])}: level {level!r} must be one of "
                            f"{', '.join(LEVELS)}.")
            level = LEVELS[0]
        grades = {g: whole(f"grade_{g}") for g in GRADES}
        school = School(
            school_id=school_id, name=to_text(v("name")), level=level,
            low_grade=to_text(v("low_grade")), high_grade=to_text(v("high_grade")),
            enrollment_by_grade=grades,
            frpm=whole("frpm"), el=whole("el"), swd=whole("swd"), foster=whole("foster"),
            homeless=whole("homeless"), unduplicated=whole("unduplicated"),
            prior_year_allocation=read(sheet, r, col["prior_year_allocation"], to_number,
                                       "prior-year allocation"),
            performance_points=read(sheet, r, col["performance_points"], to_number,
                                    "performance points"),
            hard_to_staff_teachers=read(sheet, r, col["hard_to_staff_teachers"], to_number,
                                        "hard-to-staff teachers"),
            grades_estimated=to_text(v("grades_estimated")).lower() in ("yes", "y", "true"),
        )
        for key in ("frpm", "el", "swd", "foster", "homeless", "unduplicated"):
            if getattr(school, key) > school.enrollment:
                problems.append(f"{where(sheet, r, col[key])}: {getattr(school, key)} is more "
                                f"than the school's enrollment of {school.enrollment}.")
        for key in ("prior_year_allocation", "performance_points", "hard_to_staff_teachers"):
            if getattr(school, key) < 0:
                problems.append(f"{where(sheet, r, col[key])}: cannot be negative.")
        schools.append(school)

    if problems:
        shown = problems[:40]
        more = f"\n  ... and {len(problems) - 40} more" if len(problems) > 40 else ""
        raise WorkbookError(f"{path.name} has problems to fix:\n  - " + "\n  - ".join(shown)
                            + more)
    district = District(
        name=str(settings["name"]), cds_code=str(settings["cds_code"]),
        fiscal_year=str(settings["fiscal_year"]), budget=float(settings["budget"]),
        base_rate_mode=str(settings["base_rate_mode"]), base_rate=float(settings["base_rate"]),
        transition_max_loss=float(settings["transition_max_loss"]),
        plan_deadline=str(settings["plan_deadline"]), contact=str(settings["contact"]),
        unspent_warning=float(settings["unspent_warning"]),
    )
    return DistrictInputs(district, policy, tuple(schools))


@dataclass
class CachedCheck:
    """How the values a spreadsheet program saved compare with the engine."""

    cells_checked: int  # amount and fund cells that hold a saved value
    mismatches: list[str]  # "Allocations!E7 (BASE, school 0199...): file 1,234.00, engine 1,235.00"
    cells_expected: int = 0  # amount and fund cells the workbook has (schools x columns)
    error: str = ""  # why the saved values could not be compared; "" when they were

    @property
    def has_cached_values(self) -> bool:
        """False when the file was never recalculated (written by openpyxl, never opened)."""
        return self.cells_checked > 0

    @property
    def agreeing(self) -> int:
        """Cells whose saved value equals the engine's to the cent."""
        return self.cells_checked - len(self.mismatches)

    @property
    def unsaved(self) -> int:
        """Cells without a saved value (all of them in a file never recalculated)."""
        return self.cells_expected - self.cells_checked

    @property
    def ok(self) -> bool:
        """Nothing to object to: every saved value agrees, and either every cell has one or
        none has (a file never recalculated); an error while comparing is never ok."""
        return (not self.error and not self.mismatches
                and (self.cells_checked in (0, self.cells_expected)))


def check_cached_values(path: str | Path, result: AllocationResult,
                        tolerance: float = 0.01) -> CachedCheck:
    """Compare the Allocations values saved in the file with the engine's, cell by cell.

    Never raises: a file or sheet that cannot be read is reported in `error`.
    """
    keys = [(f"amount_{r.component.code}", r.component.code) for r in result.components]
    keys += [(f"fund_{f.code}", f"total_{f.code}") for f in result.inputs.policy.funds]
    expected = len(result.schools) * len(keys)
    try:
        return _check_cached_values(Path(path), result, keys, expected, tolerance)
    except Exception as e:  # never a silent "agree": the reason is the finding
        return CachedCheck(0, [], expected, f"{type(e).__name__}: {e}")


def _check_cached_values(path: Path, result: AllocationResult, keys: list[tuple[str, str]],
                         expected: int, tolerance: float) -> CachedCheck:
    from openpyxl import load_workbook

    layout = DistrictLayout(result.inputs.policy, len(result.schools))
    t = layout.allocations
    # openpyxl, not calamine: calamine reads an error value (#VALUE!) as an empty cell, and an
    # error saved in the file must be reported, not skipped.
    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        if S.ALLOCATIONS not in wb.sheetnames:
            return CachedCheck(0, [], expected, f"the sheet {S.ALLOCATIONS} is missing")
        ws = wb[S.ALLOCATIONS]
        ws.reset_dimensions()
        rows = [list(r) for r in ws.iter_rows(max_row=t.last_row, values_only=True)]
    finally:
        wb.close()
    wide = result.by_school()
    engine_columns = {column: wide[column].to_numpy(dtype=float) for _key, column in keys}
    checked, mismatches = 0, []
    for i, school in enumerate(result.schools):
        r = t.first_row + i
        row = rows[r - 1] if r - 1 < len(rows) else []
        for key, column in keys:
            c = t.col(key)
            cached = row[c - 1] if c - 1 < len(row) else None
            if cached is None or cached == "":
                continue
            checked += 1
            engine = float(engine_columns[column][i])
            if isinstance(cached, bool) or not isinstance(cached, int | float) \
                    or abs(cached - engine) > tolerance:
                mismatches.append(
                    f"{S.ALLOCATIONS}!{cell_address(r, c)} ({column.removeprefix('total_')}, "
                    f"{school.school_id} {school.name}): file has {cached!r}, "
                    f"engine computes {engine:,.2f}"
                )
    return CachedCheck(checked, mismatches, expected)
