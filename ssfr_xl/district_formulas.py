"""What every computed cell of the district formula workbook holds, declared once.

The sheet writers (district_book.py) put these formulas in the workbook, `computed_cells`
hands them to `ssfr-xl allocate`, which checks that a file still holds exactly these
formulas (district_check.py), and formula.py performs the same arithmetic in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from . import styles
from .layout import (
    FIXED_KINDS,
    KIND_PARAMETERS,
    SETTINGS,
    DistrictLayout,
    Table,
    basis_label,
    sheet_ref,
)
from .layout import DistrictSheets as S
from .model import GRADES, LEVELS, Component, DistrictInputs
from .xlsx import column_values, job_class_records

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


# --- cell contents -------------------------------------------------------------------------
# What every computed cell holds is produced once, by the functions below: the sheet writers
# put it in the workbook and `computed_cells` hands it to `ssfr-xl allocate`, which checks that
# the file still holds exactly these formulas (district_check.py).

def job_class_rows(layout: DistrictLayout, inputs: DistrictInputs) -> list[dict]:
    return job_class_records(layout.job_classes, inputs.policy.job_classes)


def settings_values(layout: DistrictLayout, inputs: DistrictInputs) -> dict[str, object]:
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


def span_records(layout: DistrictLayout, inputs: DistrictInputs) -> list[dict]:
    calc = layout.calculation
    return [
        {"name": s.name, "first_grade": s.first_grade, "last_grade": s.last_grade,
         "weight": s.weight, "pupils": f"=SUM({calc.full_range(f'span_{i}')})"}
        for i, s in enumerate(inputs.policy.spans)
    ]


def component_records(layout: DistrictLayout, inputs: DistrictInputs
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


def school_records(layout: DistrictLayout, inputs: DistrictInputs) -> list[dict]:
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


def calculation_rows(layout: DistrictLayout) -> Iterator[tuple[int, dict[str, object]]]:
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


def allocation_marks(layout: DistrictLayout) -> list[tuple[int, int, object]]:
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


def allocation_rows(layout: DistrictLayout) -> Iterator[tuple[int, dict[str, object]]]:
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
class SummaryCell:
    """One cell of the Summary sheet: what it holds and how it looks."""

    row: int
    col: int
    value: object
    style: str = styles.FORMULA
    number_format: str | None = None
    text: bool = False  # data: text beginning with "=" stays text
    what: str = ""  # what a computed cell is, in words (for reports)


def summary_cells(layout: DistrictLayout) -> list[SummaryCell]:
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
    cells: list[SummaryCell] = []
    for i, (label, formula, fmt) in enumerate(rows):
        cells.append(SummaryCell(4 + i, 1, label, styles.LABEL))
        cells.append(SummaryCell(4 + i, 2, formula, number_format=fmt, what=label))
    top = 4 + len(rows) + 2
    cells += [SummaryCell(top, 1 + j, header, styles.HEADER)
              for j, header in enumerate(("Fund", "Name", "Restricted", "Total"))]
    for i, f in enumerate(p.funds):
        r = top + 1 + i
        cells += [SummaryCell(r, 1, f.code, text=True), SummaryCell(r, 2, f.name, text=True),
                  SummaryCell(r, 3, "Yes" if f.restricted else "No", text=True),
                  SummaryCell(r, 4, f"=ROUND(SUM({t.full_range(f'fund_{f.code}')}),2)",
                       number_format=styles.MONEY, what=f"total of fund {f.code}")]
    r = top + 1 + len(p.funds)
    cells += [SummaryCell(r, 1, "All funds", styles.TOTAL),
              SummaryCell(r, 4, f"=ROUND(SUM(D{top + 1}:D{r - 1}),2)", styles.TOTAL, styles.MONEY,
                   what="total of all funds")]

    top = r + 2
    cells += [SummaryCell(top, 1 + j, header, styles.HEADER)
              for j, header in enumerate(("Component", "Name", "Fund", "Total"))]
    for i, c in enumerate(p.components):
        r = top + 1 + i
        cells += [SummaryCell(r, 1, c.code, text=True), SummaryCell(r, 2, c.name, text=True),
                  SummaryCell(r, 3, f"={layout.component_name('Fund', c)}",
                       what=f"fund of component {c.code}"),
                  SummaryCell(r, 4, f"={layout.component_name('Total', c)}",
                       number_format=styles.MONEY, what=f"total of component {c.code}")]
    return cells


def summary_descriptions(layout: DistrictLayout) -> dict[tuple[int, int], str]:
    """(row, column) -> what each computed cell of the Summary sheet is, in words."""
    return {(put.row, put.col): put.what for put in summary_cells(layout) if put.what}


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

    values = settings_values(layout, inputs)
    for f in SETTINGS.fields:
        if not f.input and _is_computed(values.get(f.key)):
            yield SETTINGS.sheet, SETTINGS.row(f.key), SETTINGS.value_col, values[f.key]
    yield from table(layout.spans, span_records(layout, inputs))
    yield from table(layout.components, component_records(layout, inputs)[0])
    yield from table(layout.schools, school_records(layout, inputs))
    yield from table(layout.job_classes, job_class_rows(layout, inputs))
    yield from rows(layout.calculation, calculation_rows(layout))
    for row, col, value in allocation_marks(layout):
        if _is_computed(value):
            yield S.ALLOCATIONS, row, col, value
    yield from rows(layout.allocations, allocation_rows(layout))
    for put in summary_cells(layout):
        if not put.text and put.style not in (styles.LABEL, styles.HEADER) \
                and _is_computed(put.value):
            yield S.SUMMARY, put.row, put.col, put.value


def _is_computed(value: object) -> bool:
    """A formula, or a number written into a computed cell (text there is a label)."""
    if isinstance(value, str):
        return value.startswith("=")
    return isinstance(value, int | float) and not isinstance(value, bool)

