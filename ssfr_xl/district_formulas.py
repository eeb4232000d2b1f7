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
    LISTS,
    SETTINGS,
    DistrictLayout,
    Table,
    band_applies,
    basis_label,
    cell_address,
    parameters_used,
    sheet_ref,
)
from .layout import DistrictSheets as S
from .model import GRADES, LEVELS, Component, DistrictInputs
from .scenario_formulas import scenario_cells
from .xlsx import column_values, job_class_records

LINEAR_RATE_KINDS = ("per_pupil", "concentration", "categorical")

#: Defined names of each component's Policy cells: (name prefix, component-table column).
COMPONENT_NAMED_CELLS = (
    ("Fund", "fund"), ("Counting", "counting"), ("Unit", "rate_unit"), ("Rate", "rate"),
    ("Threshold", "threshold"), ("Minimum", "minimum"), ("Cap", "cap"), ("Pool", "pool"),
    ("RateUSD", "rate_usd"), ("Unres", "unrestricted"), ("DriverTotal", "driver_total"),
    ("Total", "total"), ("Eligible", "eligible"), ("Round", "round_to"),
    ("InBudget", "in_budget"), ("Digits", "digits"), ("Counted", "counted"),
)

#: Rows typed below a list (Funds, Job Classes, ...) that read_district still reads.
APPENDED_ROWS = 500


def structure_of(inputs: DistrictInputs, layout: DistrictLayout | None = None) -> dict:
    """What the formulas were generated for: changing any of it needs a new workbook."""
    p = inputs.policy
    layout = layout or DistrictLayout.of(inputs)
    return {
        "spans": [[s.name, s.first_grade, s.last_grade] for s in p.spans],
        "components": [[c.code, c.kind, list(c.basis)] for c in p.components],
        "funds": [f.code for f in p.funds],
        "rules": {c.code: {"enrollment": c.enrollment,
                           "conditions": [[k.measure, k.operator] for k in c.conditions],
                           "bands": [[b.label, b.level, b.first_grade, b.last_grade]
                                     for b in c.bands]}
                  for c in p.components},
        "roster_columns": [[c.key, c.header, c.kind, c.fractional, c.instances, c.help]
                           for c in p.roster_columns],
        "adjustment_rows": layout.adjustment_rows,
        "per_pupil_enrollment": layout.per_pupil_enrollment,
    }



# --- cell contents -------------------------------------------------------------------------
# What every computed cell holds is produced once, by the functions below: the sheet writers
# put it in the workbook and `computed_cells` hands it to `ssfr-xl allocate`, which checks that
# the file still holds exactly these formulas (district_check.py).

def rule_names(layout: DistrictLayout) -> dict[str, tuple[str, str]]:
    """Defined names of the conditions, rate bands and the adjustments list: name -> (sheet,
    address). The writer creates them and district_check expects them."""
    names: dict[str, tuple[str, str]] = {}
    for c, k in layout.condition_list:
        names[layout.condition_name(c, k)] = (
            S.POLICY, f"{layout.conditions.letter('value')}{layout.condition_row(c, k)}")
    for c, k in layout.band_list:
        row = layout.band_row(c, k)
        names[layout.band_name(c, k)] = (S.POLICY, f"{layout.bands.letter('rate')}{row}")
        names[layout.band_name(c, k, "BandUSD")] = (
            S.POLICY, f"{layout.bands.letter('rate_usd')}{row}")
    col = adjustments_list_column()
    count = max(1, len(layout.adjustment_components))
    letter = cell_address(4, col)[:-1]
    names["List_Adjustments"] = (S.LISTS, f"{letter}4:{letter}{3 + count}")
    return names


def adjustments_list_column() -> int:
    """Column of the Lists sheet that lists the adjustment components (after the fixed lists)."""
    return len(LISTS) + 1


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
        "transition_max_loss": d.transition_max_loss, "transition_mode": d.transition_mode,
        "transition_gain_cap": d.transition_gain_cap,
        "transition_reserve": d.transition_reserve, "fte_step": p.fte_step,
        "plan_deadline": d.plan_deadline, "contact": d.contact,
        "unspent_warning": d.unspent_warning,
        "base_units": f"=SUM({R('base_units')})",
        "fixed_total": f"=SUM({R('fixed')})",
        "solved_base_rate": "=IF(Base_Units>0,(Budget-Fixed_Unrestricted)/Base_Units,0)",
        "base_rate_in_use": '=IF(Base_Rate_Mode="fixed",Fixed_Base_Rate,Solved_Base_Rate)',
        "transition_protection":
            f"=SUM({calc.full_range('protection')})" if has_transition else 0,
        "transition_gains": f"=SUM({calc.full_range('gain')})" if has_transition else 0,
        "transition_funding":
            '=IF(Transition_Mode="reserve",Transition_Reserve,Transition_Gains)',
        "transition_paid":
            "=IF(Transition_Protection>0,MIN(1,Transition_Funding/Transition_Protection),0)",
        "transition_taken": '=IF(AND(Transition_Mode<>"reserve",Transition_Gains>0),'
                            'MIN(1,Transition_Protection/Transition_Gains),0)',
        "budget_counted": f"=ROUND(SUMPRODUCT({R('total')},{R('counted')}),2)",
    }


def span_records(layout: DistrictLayout, inputs: DistrictInputs) -> list[dict]:
    calc = layout.calculation
    return [
        {"name": s.name, "first_grade": s.first_grade, "last_grade": s.last_grade,
         "weight": s.weight, "pupils": f"=SUM({calc.full_range(f'span_{i}')})"}
        for i, s in enumerate(inputs.policy.spans)
    ]


def _band_range(layout: DistrictLayout, c: Component, key: str) -> str:
    """The absolute range of a component's rate bands in one column of the bands table."""
    t = layout.bands
    first, last = layout.band_row(c, 0), layout.band_row(c, len(c.bands) - 1)
    return f"${t.letter(key)}${first}:${t.letter(key)}${last}"


def component_records(layout: DistrictLayout, inputs: DistrictInputs
                      ) -> tuple[list[dict], list[tuple[int, str]]]:
    """Rows of the Policy sheet's component table, and the input cells locked on them."""
    calc, alloc = layout.calculation, layout.allocations
    restricted_col = layout.funds.col("restricted") - layout.funds.first_col + 1
    records, locked = [], []
    for i, c in enumerate(inputs.policy.components):
        n = lambda param, c=c: layout.component_name(param, c)  # noqa: E731
        uses = parameters_used(c)
        amount_col = (calc.full_range(f"amount_{c.code}") if c.kind in FIXED_KINDS
                      else alloc.full_range(f"amount_{c.code}"))
        record = {
            "code": c.code, "name": c.name, "kind": c.kind, "fund": c.fund,
            "basis": basis_label(c) if c.basis else "",
            "enrollment": c.enrollment,
            "counting": c.counting if "counting" in uses else None,
            "rate_unit": c.rate_unit if c.kind in LINEAR_RATE_KINDS else None,
            "rate": c.rate if "rate" in uses else None,
            "threshold": c.threshold if "threshold" in uses else None,
            "minimum": c.minimum if "minimum" in uses else None,
            "cap": c.cap if "cap" in uses else None,
            "pool": c.pool if "pool" in uses else None,
            "eligible": c.eligible if c.conditions else None,
            "round_to": "dollar" if c.round_digits == 0 else "cent",
            "in_budget": "Yes" if c.in_budget else "No",
            "note": c.note,
            "digits": f'=IF({n("Round")}="dollar",0,2)',
            # VLOOKUP, not INDEX/MATCH: gnumeric answers #REF! for INDEX on a one-cell range
            # (a district with one fund), and VLOOKUP matches the way MATCH does.
            "unrestricted": f'=IF(VLOOKUP({n("Fund")},Funds_Table,{restricted_col},FALSE)="No",'
                            '1,0)',
            "counted": (f'=IF(AND({n("Unres")}=1,Transition_Mode<>"reserve"),1,0)'
                        if c.kind == "transition"
                        else f'=IF(AND({n("Unres")}=1,{n("InBudget")}="Yes"),1,0)'),
            "total": f"=SUM({amount_col})",
            "schools": f'=COUNTIF({amount_col},"<>0")',
        }
        for j in range(len(LEVELS)):
            record[f"level_{j}"] = c.by_level[j] if "levels" in uses else None
        if c.kind in ("transition", "adjustment"):
            record.update(rate_usd=None, driver_total=None, base_units=0,
                          fixed=0 if c.kind == "transition"
                          else f"=IF({n('Counted')}=1,{n('Total')},0)")
        else:
            record["driver_total"] = f"=SUM({calc.full_range(f'driver_{c.code}')})"
            if c.bands:
                linear = (f"SUMPRODUCT({_band_range(layout, c, 'pupils')},"
                          f"{_band_range(layout, c, 'rate')})")
            else:
                linear = f"{n('DriverTotal')}*{n('Rate')}"
            if c.kind == "base":
                record["rate_usd"] = "=Base_Rate"
                record["base_units"] = f"={n('Counted')}*{n('DriverTotal')}"
                record["fixed"] = 0
            elif c.kind in LINEAR_RATE_KINDS:
                record["rate_usd"] = (None if c.bands else
                                      f'=IF({n("Unit")}="weight",{n("Rate")}*Base_Rate,{n("Rate")})')
                record["base_units"] = (f'=IF(AND({n("Counted")}=1,{n("Unit")}="weight"),'
                                        f'{linear},0)')
                record["fixed"] = (f'=IF(AND({n("Counted")}=1,{n("Unit")}<>"weight"),'
                                   f'{linear},0)')
            else:
                record["rate_usd"] = f"={n('Rate')}" if "rate" in uses else None
                record["base_units"] = 0
                record["fixed"] = f"=IF({n('Counted')}=1,{n('Total')},0)"
        records.append(record)
        for key in ("counting", "rate", "threshold", "minimum", "cap", "pool"):
            if key not in uses:
                locked.append((i, key))
        if c.kind not in LINEAR_RATE_KINDS:
            locked.append((i, "rate_unit"))
        if not c.conditions:
            locked.append((i, "eligible"))
        if "levels" not in uses:
            locked += [(i, f"level_{j}") for j in range(len(LEVELS))]
        if c.kind == "transition":
            locked.append((i, "fund"))  # protection is paid from unrestricted money
            locked.append((i, "in_budget"))  # the transition mode says where it is paid from
    return records, locked


def condition_records(layout: DistrictLayout) -> list[dict]:
    """Rows of the Policy sheet's conditions table."""
    calc = layout.calculation
    return [
        {"code": c.code, "measure": measure_label(c.conditions[k].measure),
         "operator": OPERATOR_WORDS[c.conditions[k].operator], "value": c.conditions[k].value,
         "passing": f"=SUM({calc.full_range(f'cond_{c.code}_{k}')})"}
        for c, k in layout.condition_list
    ]


#: How the Policy sheet shows a condition's test (a cell may not begin with "=").
OPERATOR_WORDS = {">": ">", ">=": "≥", "<": "<", "<=": "≤", "=": "equals", "<>": "is not"}


def measure_label(measure: str) -> str:
    """A condition's measure in words: share:frpm -> share of frpm."""
    kind, _, arg = measure.partition(":")
    if not arg:
        return measure
    return {"share": f"share of {arg}", "flag": f"{arg} (1 = Yes)", "level": f"{arg} (1 = yes)",
            "grades": f"pupils in grades {arg}"}.get(kind, measure)


def band_records(layout: DistrictLayout) -> list[dict]:
    """Rows of the Policy sheet's rate bands table."""
    calc = layout.calculation
    records = []
    for c, k in layout.band_list:
        band, rate = c.bands[k], layout.band_name(c, k)
        unit = layout.component_name("Unit", c)
        records.append({
            "code": c.code, "label": band.label, "applies": band_applies(band),
            "rate": band.rate,
            "rate_usd": f'=IF({unit}="weight",{rate}*Base_Rate,{rate})',
            "pupils": f"=SUM({calc.full_range(f'band_{c.code}_{k}')})",
        })
    return records


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
        for col in inputs.policy.roster_columns:
            value = s.extra.get(col.key, 0)
            record[col.key] = ("Yes" if value else "No") if col.is_flag else value
        records.append(record)
    return records


def adjustment_records(layout: DistrictLayout, inputs: DistrictInputs) -> list[dict]:
    """Rows of the Adjustments sheet: the lines given at init, then empty rows, every row
    with the formulas that find its school and adjustment and check it."""
    t = layout.adjustments
    lines = list(inputs.adjustments)
    records = []
    for i in range(t.rows):
        r = t.first_row + i
        a, b, c, d = (f"{t.letter(k)}{r}" for k in ("school_id", "component", "amount",
                                                     "reason"))
        srow, crow = f"{t.letter('school_row')}{r}", f"{t.letter('component_row')}{r}"
        record: dict[str, object] = {
            "school_row": f'=IF({a}="","",IFERROR(MATCH({a},School_IDs,0),0))',
            "component_row": f'=IF({b}="","",IFERROR(MATCH({b},List_Adjustments,0),0))',
            "status": (f'=IF(AND({a}="",{b}="",{c}=""),"",IF({a}="","Type the school ID",'
                       f'IF({srow}=0,"School ID not on the Schools sheet",'
                       f'IF({b}="","Choose an adjustment from the list",'
                       f'IF({crow}=0,"Choose an adjustment from the list",'
                       f'IF(ISNUMBER({c}),IF({d}="","Type the reason (the plan shows it)",'
                       f'"OK"),"Type the amount as a number"))))))'),
        }
        if i < len(lines):
            line = lines[i]
            record.update(school_id=line.school_id, component=line.component,
                          amount=line.amount, reason=line.reason)
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


def _count_ref(layout: DistrictLayout, key: str, row: int) -> str:
    """A count column's cell on a row: Calculation's enrollment, or the Schools sheet's."""
    if key == "enrollment":
        return f"{layout.calculation.letter('enrollment')}{row}"
    return layout.schools.row_ref(key, row)


def _grades_sum(layout: DistrictLayout, first: str, last: str, row: int) -> str:
    return f"SUM({sheet_ref(S.SCHOOLS, layout.schools.span_range(f'grade_{first}', f'grade_{last}', row))})"  # noqa: E501


def _measure_expression(layout: DistrictLayout, c: Component, measure: str, row: int) -> str:
    """Excel expression of a condition's measure (see model.Condition) on a row."""
    kind, _, arg = measure.partition(":")
    if not arg:
        return _count_ref(layout, measure, row)
    if kind == "share":
        e = _count_ref(layout, c.enrollment, row)
        return f"IF({e}>0,{_count_ref(layout, arg, row)}/{e},0)"
    if kind == "flag":
        return f'IF({layout.schools.row_ref(arg, row)}="Yes",1,0)'
    if kind == "level":
        return f'IF({layout.schools.row_ref("level", row)}="{arg}",1,0)'
    first, _, last = arg.partition("-")
    return _grades_sum(layout, _canonical_grade(first), _canonical_grade(last), row)


def _canonical_grade(label: str) -> str:
    from .model import grade_index

    return GRADES[grade_index(label)]


def calculation_rows(layout: DistrictLayout) -> Iterator[tuple[int, dict[str, object]]]:
    """(worksheet row, contents by column key) of every Calculation row."""
    t, schools, alloc, p = layout.calculation, layout.schools, layout.allocations, layout.policy
    non_transition = [c for c in p.components if c.kind != "transition"]
    adjustments = layout.adjustments
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
            LV = L("level_index")  # noqa: N806
            E = _count_ref(layout, c.enrollment, r)  # noqa: N806
            level_value = f"INDEX({n('Level')},1,{LV})"
            for k, cond in enumerate(c.conditions):
                measure = _measure_expression(layout, c, cond.measure, r)
                values[f"cond_{c.code}_{k}"] = (
                    f"=IF({measure}{cond.operator}{layout.condition_name(c, k)},1,0)")
            passed = ""
            if c.conditions:
                tests = f"{L(f'cond_{c.code}_0')}:{L(f'cond_{c.code}_{len(c.conditions) - 1}')}"
                values[f"pass_{c.code}"] = (f'=IF({n("Eligible")}="any",MAX({tests}),'
                                            f'MIN({tests}))')
                passed = L(f"pass_{c.code}")
            def gate(x: str, passed: str = passed) -> str:
                return f"IF({passed}=1,{x},0)" if passed else x
            for k, band in enumerate(c.bands):
                if band.level:
                    pupils = (f'IF({schools.row_ref("level", r)}="{band.level}",'
                              f'{_basis_expression(c, layout, r)},0)')
                else:
                    pupils = _grades_sum(layout, _canonical_grade(band.first_grade),
                                         _canonical_grade(band.last_grade), r)
                values[f"band_{c.code}_{k}"] = f"={gate(pupils)}"
            if c.kind == "adjustment":
                index = layout.adjustment_components.index(c) + 1
                values[f"amount_{c.code}"] = (
                    f"=ROUND(SUMIFS({adjustments.full_range('amount')},"
                    f"{adjustments.full_range('school_row')},{i + 1},"
                    f"{adjustments.full_range('component_row')},{index}),{n('Digits')})")
                continue
            if c.kind == "base":
                f = (_basis_expression(c, layout, r) if c.basis else
                     "+".join(f"{layout.span_weight_name(j)}*{L(f'span_{j}')}"
                              for j in range(len(p.spans))))
            elif c.bands:
                first, last = f"band_{c.code}_0", f"band_{c.code}_{len(c.bands) - 1}"
                f = f"SUM({L(first)}:{L(last)})"
                values[f"driver_{c.code}"] = "=" + f
                continue
            elif c.kind == "concentration":
                f = f"MAX(0,{_basis_expression(c, layout, r)}-{n('Threshold')}*{E})"
            elif c.kind == "categorical":
                basis = _basis_expression(c, layout, r)
                f = (basis if c.conditions else
                     f"IF({E}>0,IF(({basis})/{E}>{level_value},{basis},0),0)")
            elif c.kind == "foundation":
                f = "1"
            elif c.kind == "small_school":
                f = f"MAX(0,{level_value}-{E})"
            else:  # per_pupil, pool, floor
                f = _basis_expression(c, layout, r)
            if c.kind == "foundation" and not c.conditions:
                values[f"driver_{c.code}"] = 1
            else:
                values[f"driver_{c.code}"] = "=" + gate(f)
            if c.kind in FIXED_KINDS:
                values[f"amount_{c.code}"] = _fixed_amount(c, layout, L, E, r)
        if len(non_transition) < len(p.components):
            amounts = alloc.span_range(f"amount_{non_transition[0].code}",
                                       f"amount_{non_transition[-1].code}", r)
            flags = alloc.span_range(f"amount_{non_transition[0].code}",
                                     f"amount_{non_transition[-1].code}",
                                     layout.counted_row, absolute_row=True)
            flags = "$" + flags.replace(":", ":$")
            prior, ft = L("prior"), L("formula_total")
            values.update({
                "formula_total": f"=SUMPRODUCT({sheet_ref(S.ALLOCATIONS, amounts)},"
                                 f"{sheet_ref(S.ALLOCATIONS, flags)})",
                "prior": f"={schools.row_ref('prior_year_allocation', r)}",
                "protection": f"=IF({prior}>0,MAX(0,{prior}*(1-Max_Loss)-{ft}),0)",
                "gain": f'=IF({prior}>0,MAX(0,{ft}-{prior}*'
                        f'(1+IF(Transition_Mode="cap_gains",Gain_Cap,0))),0)',
            })
        yield r, values


def _fixed_amount(c: Component, layout: DistrictLayout, L, E: str,  # noqa: N803
                  row: int) -> str:
    """Formula of an amount that does not depend on the base rate (Calculation sheet)."""
    n = lambda param: layout.component_name(param, c)  # noqa: E731
    d, D = L(f"driver_{c.code}"), n("Digits")  # noqa: N806
    level_value = f"INDEX({n('Level')},1,{L('level_index')})"
    if c.kind == "foundation":
        amount = f"ROUND({level_value},{D})"
        return f"=IF({d}=1,{amount},0)" if c.conditions else f"={amount}"
    if c.kind == "small_school":
        return (f"=ROUND(IF({n('Cap')}>0,MIN({n('Cap')},{d}*{n('Rate')}),"
                f"{d}*{n('Rate')}),{D})")
    if c.kind == "pool":
        return f"=IF({n('DriverTotal')}>0,ROUND({n('Pool')}*{d}/{n('DriverTotal')},{D}),0)"
    # floor
    amount = f"ROUND(MAX({n('Minimum')},{d}*{n('Rate')}),{D})"
    if c.conditions:
        return f"=IF({L(f'pass_{c.code}')}=1,{amount},0)"
    undup = layout.schools.row_ref("unduplicated", row)
    need = L("need_share") if c.enrollment == "enrollment" else f"IF({E}>0,{undup}/{E},0)"
    return f"=IF({need}>{level_value},{amount},0)"


def allocation_marks(layout: DistrictLayout) -> list[tuple[int, int, object]]:
    """(row, column, content) of the rows above the Allocations table the formulas read:
    each component's fund code, whether it is unrestricted, and whether it counts against
    the budget (the transition rule's formula total); above each fund total, whether the
    fund is unrestricted."""
    t = layout.allocations
    marks: list[tuple[int, int, object]] = []
    for c in layout.policy.components:
        col = t.col(f"amount_{c.code}")
        marks.append((layout.fund_row, col, f"={layout.component_name('Fund', c)}"))
        marks.append((layout.unrestricted_row, col, f"={layout.component_name('Unres', c)}"))
        counted = 0 if c.kind == "transition" else f"={layout.component_name('Counted', c)}"
        marks.append((layout.counted_row, col, counted))
    return marks


def allocation_rows(layout: DistrictLayout) -> Iterator[tuple[int, dict[str, object]]]:
    """(worksheet row, contents by column key) of every Allocations row."""
    t, calc, schools, p = layout.allocations, layout.calculation, layout.schools, layout.policy
    comps = p.components
    first_amount, last_amount = f"amount_{comps[0].code}", f"amount_{comps[-1].code}"
    fund_codes_row = t.span_range(first_amount, last_amount, layout.fund_row, absolute_row=True)
    fund_codes_row = "$" + fund_codes_row.replace(":", ":$")
    unres_row = t.span_range(first_amount, last_amount, layout.unrestricted_row,
                             absolute_row=True)
    unres_row = "$" + unres_row.replace(":", ":$")
    first_fund, last_fund = f"fund_{p.funds[0].code}", f"fund_{p.funds[-1].code}"
    for i in range(layout.n_schools):
        r = t.first_row + i
        C = lambda key, r=r: f"{sheet_ref(S.CALCULATION, calc.letter(key))}{r}"  # noqa: E731,N806
        L = lambda key, r=r: f"{t.letter(key)}{r}"  # noqa: E731,N806
        values: dict[str, object] = {
            "school_id": f"={schools.row_ref('school_id', r)}",
            "name": f"={schools.row_ref('name', r)}",
            "level": f"={schools.row_ref('level', r)}",
            "enrollment": (f"={C('enrollment')}" if layout.per_pupil_enrollment == "enrollment"
                           else f"={schools.row_ref(layout.per_pupil_enrollment, r)}"),
        }
        for c in comps:
            n = lambda param, c=c: layout.component_name(param, c)  # noqa: E731
            D = n("Digits")  # noqa: N806
            d = C(f"driver_{c.code}") if c.kind not in ("transition", "adjustment") else ""
            if c.kind == "base":
                f = f"=ROUND({d}*Base_Rate,{D})"
            elif c.bands:
                terms = "+".join(f"{C(f'band_{c.code}_{k}')}*{layout.band_name(c, k, 'BandUSD')}"
                                 for k in range(len(c.bands)))
                f = f"=ROUND({terms},{D})"
            elif c.kind in LINEAR_RATE_KINDS:
                f = f"=ROUND({d}*{n('RateUSD')},{D})"
            elif c.kind in FIXED_KINDS:
                f = f"={C(f'amount_{c.code}')}"
            else:  # transition
                f = (f"=ROUND({C('protection')}*Transition_Paid-"
                     f"{C('gain')}*Transition_Taken,{D})")
            values[f"amount_{c.code}"] = f
        amounts = t.span_range(first_amount, last_amount, r)
        for fund in p.funds:
            values[f"fund_{fund.code}"] = (
                f'=ROUND(SUMIF({fund_codes_row},"{fund.code}",{amounts}),2)')
        values["total"] = f"=ROUND(SUM({t.span_range(first_fund, last_fund, r)}),2)"
        values["unrestricted"] = f"=ROUND(SUMPRODUCT({amounts},{unres_row}),2)"
        values["per_pupil"] = (f"=IF({L('enrollment')}>0,"
                               f"ROUND({L('total')}/{L('enrollment')},2),\"\")")
        values["prior"] = f"={schools.row_ref('prior_year_allocation', r)}"
        values["change"] = f'=IF({L("prior")}>0,ROUND({L("unrestricted")}-{L("prior")},2),"")'
        values["change_share"] = (f'=IF({L("prior")}>0,'
                                  f'({L("unrestricted")}-{L("prior")})/{L("prior")},"")')
        values["need_share"] = f"={C('need_share')}"
        yield r, values


#: The Summary's budget line: what the gap between budget and allocation means depends on
#: the mode (a solved base leaves only rounding; a fixed one leaves money unallocated).
BUDGET_GAP_LABEL = ('=IF(Base_Rate_Mode="fixed",IF(Budget=0,"No budget set (fixed base rate)",'
                    '"Unallocated against the budget"),"Rounding difference (budget - counted)")')
#: Its value: n/a when a fixed base rate has no budget to compare with.
BUDGET_GAP = '=IF(AND(Base_Rate_Mode="fixed",Budget=0),"n/a",ROUND(Budget-Budget_Counted,2))'

#: Whether the transition rule keeps its promise, in words (Summary sheet).
TRANSITION_PROMISE = (
    '=IF(Transition_Protection=0,"No school is below its floor",'
    'IF(Transition_Paid>=1,"Kept: every protected school gets its whole shortfall",'
    '"NOT KEPT: protected schools get "&FIXED(Transition_Paid*100,IF(Transition_Paid<0.01,3,1))'
    '&"% of their shortfall;'
    ' see the Policy sheet"))')


def transition_promise(result) -> str:
    """TRANSITION_PROMISE as the engine computes it."""
    from .excel_expr import fixed

    t = result.transition
    if t.protection_total == 0:
        return "No school is below its floor"
    if t.paid >= 1:
        return "Kept: every protected school gets its whole shortfall"
    digits = 3 if t.paid < 0.01 else 1
    return (f"NOT KEPT: protected schools get {fixed(t.paid * 100, digits)}% of their shortfall;"
            " see the Policy sheet")


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
        ("Counted against the budget", "=Budget_Counted", styles.MONEY),
        (BUDGET_GAP_LABEL, BUDGET_GAP, styles.MONEY),
        ("Unrestricted allocated (amounts on top of the budget too)",
         f"=ROUND(SUM({unres}),2)", styles.MONEY),
        ("Base rate in use (per weighted pupil)", "=Base_Rate", styles.PRECISE_RATE),
        ("Per pupil, all funds: lowest", f"=MIN({pp})", styles.MONEY),
        ("Per pupil, all funds: median", f"=IFERROR(MEDIAN({pp}),0)", styles.MONEY),
        ("Per pupil, all funds: highest", f"=MAX({pp})", styles.MONEY),
        ("Per pupil: coefficient of variation",
         f'=IFERROR(STDEVP({pp})/AVERAGE({pp}),"n/a")', "0.000"),
        ("McLoone index (below the median)",
         f'=IFERROR(IF(COUNTIF({pp},"<"&MEDIAN({pp}))>0,SUMIF({pp},"<"&MEDIAN({pp}))/'
         f'(COUNTIF({pp},"<"&MEDIAN({pp}))*MEDIAN({pp})),1),1)', "0.000"),
        ("Verstegen index (above the median)",
         f'=IFERROR(IF(COUNTIF({pp},">"&MEDIAN({pp}))>0,SUMIF({pp},">"&MEDIAN({pp}))/'
         f'(COUNTIF({pp},">"&MEDIAN({pp}))*MEDIAN({pp})),1),1)', "0.000"),
        ("Federal range ratio (P95 - P5) / P5",
         f'=IFERROR((PERCENTILE({pp},0.95)-PERCENTILE({pp},0.05))/PERCENTILE({pp},0.05),'
         '"n/a")', "0.000"),
        ("Per pupil more from 0% to 100% high-need pupils (slope)",
         f'=IFERROR(IF(DEVSQ({need})=0,"n/a",SLOPE({pp},{need})),"n/a")', styles.MONEY),
        ("Correlation of per pupil with need share", f'=IFERROR(CORREL({pp},{need}),"n/a")',
         "0.00"),
        ("Transition: shortfall below floors", "=Transition_Protection", styles.MONEY),
        ("Transition: money available to pay it", "=Transition_Funding", styles.MONEY),
        ("Transition: share of each shortfall paid", "=Transition_Paid", styles.SHARE),
        ("Transition promise", TRANSITION_PROMISE, "General"),
    ]
    cells: list[SummaryCell] = []
    for i, (label, formula, fmt) in enumerate(rows):
        what = "budget minus counted" if label == BUDGET_GAP_LABEL else label
        cells.append(SummaryCell(4 + i, 1, label, styles.LABEL,
                                 what="what the budget line means" if label.startswith("=")
                                 else ""))
        cells.append(SummaryCell(4 + i, 2, formula, number_format=fmt, what=what))
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
    layout = layout or DistrictLayout.of(inputs)

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

    records = policy_records(layout, inputs)

    def today() -> Iterator[tuple[str, int, int, object]]:
        values = records["settings"]
        for f in SETTINGS.fields:
            if not f.input and _is_computed(values.get(f.key)):
                yield SETTINGS.sheet, SETTINGS.row(f.key), SETTINGS.value_col, values[f.key]
        yield from table(layout.spans, records["spans"])
        yield from table(layout.components, records["components"])
        yield from table(layout.conditions, records["conditions"])
        yield from table(layout.bands, records["bands"])
        yield from table(layout.adjustments, adjustment_records(layout, inputs))
        yield from table(layout.schools, school_records(layout, inputs))
        yield from table(layout.job_classes, job_class_rows(layout, inputs))
        yield from rows(layout.calculation, calculation_rows(layout))
        for row, col, value in allocation_marks(layout):
            if _is_computed(value):
                yield S.ALLOCATIONS, row, col, value
        yield from rows(layout.allocations, allocation_rows(layout))
        for put in summary_cells(layout):
            if not put.text and (put.what or put.style not in (styles.LABEL, styles.HEADER)) \
                    and _is_computed(put.value):
                yield S.SUMMARY, put.row, put.col, put.value

    cells = list(today())
    yield from cells
    # the Scenarios sheet and its workings: the same declarations, rebound
    yield from scenario_cells(layout, inputs, cells, policy_names(layout), records)


def policy_records(layout: DistrictLayout, inputs: DistrictInputs) -> dict[str, object]:
    """The records the Policy sheet's writers write: settings (by key), spans, components,
    conditions and bands (lists of rows by column key)."""
    return {"settings": settings_values(layout, inputs),
            "spans": span_records(layout, inputs),
            "components": component_records(layout, inputs)[0],
            "conditions": condition_records(layout), "bands": band_records(layout)}


def policy_names(layout: DistrictLayout) -> dict[str, tuple[str, str]]:
    """The defined names of Policy-sheet cells the writer creates: name -> (sheet, address)."""
    names = {f.name: (SETTINGS.sheet, SETTINGS.cell(f.key)) for f in SETTINGS.fields}
    spans, comps = layout.spans, layout.components
    for i in range(len(layout.policy.spans)):
        names[layout.span_weight_name(i)] = (S.POLICY, spans.cell("weight", i))
    for i, c in enumerate(layout.policy.components):
        for param, key in COMPONENT_NAMED_CELLS:
            names[layout.component_name(param, c)] = (S.POLICY, comps.cell(key, i))
        first, last = comps.cell("level_0", i), comps.cell(f"level_{len(LEVELS) - 1}", i)
        names[layout.component_name("Level", c)] = (S.POLICY, f"{first}:{last}")
    names.update({k: v for k, v in rule_names(layout).items() if v[0] == S.POLICY})
    return names


def _is_computed(value: object) -> bool:
    """A formula, or a number written into a computed cell (text there is a label)."""
    if isinstance(value, str):
        return value.startswith("=")
    return isinstance(value, int | float) and not isinstance(value, bool)

