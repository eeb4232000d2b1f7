"""Write the district formula workbook.

The workbook is the season's record of policy and inputs. Every allocation in it is a live
Excel formula on the Policy and Schools sheets, arranged to perform the same arithmetic in
the same order as formula.py, so Excel, LibreOffice and Python agree to the cent.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable
from pathlib import Path

from openpyxl import Workbook
from openpyxl.chart import Reference, ScatterChart, Series
from openpyxl.chart.shapes import GraphicalProperties
from openpyxl.worksheet.worksheet import Worksheet

from . import __name__ as _pkg
from . import styles
from .district_formulas import (
    COMPONENT_NAMED_CELLS,
    adjustment_records,
    adjustments_list_column,
    allocation_marks,
    allocation_rows,
    band_records,
    calculation_rows,
    component_records,
    condition_records,
    job_class_rows,
    rule_names,
    school_records,
    settings_values,
    span_records,
    structure_of,
    summary_cells,
)
from .district_reader import CachedCheck, check_cached_values, read_district  # noqa: F401
from .layout import (
    LISTS,
    SETTINGS,
    TEMPLATE_VERSION,
    DistrictLayout,
    Table,
    cell_address,
)
from .layout import DistrictSheets as S
from .model import LEVELS, DistrictInputs
from .xlsx import (
    column_values,
    define_name,
    protect,
    put_text,
    save_atomically,
    title,
    write_fields,
    write_header,
    write_table,
)


def write_district(path: str | Path, inputs: DistrictInputs,
                   progress: Callable[[str], None] | None = None) -> None:
    """Write the district formula workbook for these inputs (atomically)."""
    say = progress or (lambda _msg: None)
    layout = DistrictLayout.of(inputs)
    wb = Workbook()
    styles.register(wb)
    sheets: dict[str, Worksheet] = {}
    for i, name in enumerate(S.ORDER):
        sheets[name] = wb.active if i == 0 else wb.create_sheet(name)
        sheets[name].title = name

    say("lists and reference tables")
    _write_lists(wb, sheets[S.LISTS], layout)
    _write_reference_tables(wb, sheets, layout, inputs)
    say("policy")
    _write_policy(wb, sheets[S.POLICY], layout, inputs)
    say(f"{len(inputs.schools)} schools")
    _write_schools(wb, sheets[S.SCHOOLS], layout, inputs)
    _write_adjustments(wb, sheets[S.ADJUSTMENTS], layout, inputs)
    say("calculation formulas")
    _write_calculation(sheets[S.CALCULATION], layout)
    say("allocation formulas")
    _write_allocations(sheets[S.ALLOCATIONS], layout)
    _write_summary(sheets[S.SUMMARY], layout)
    _write_instructions(sheets[S.INSTRUCTIONS], inputs)
    _write_meta(sheets[S.META], inputs, layout)
    for name, (sheet, address) in rule_names(layout).items():
        define_name(wb, name, sheet, address)
    for name, ws in sheets.items():
        if name != S.META:
            protect(ws)
            _print_setup(ws, layout, inputs.district.name)
    sheets[S.META].sheet_state = "hidden"
    wb.active = 0
    say("saving")
    save_atomically(wb, Path(path))


# --- sheets ------------------------------------------------------------------------------

def _write_lists(wb: Workbook, ws: Worksheet, layout: DistrictLayout) -> None:
    title(ws, "Lists", "Values offered by the dropdowns. Not for editing.")
    for col, (name, values) in enumerate(LISTS.items(), start=1):
        ws.cell(row=3, column=col, value=name.removeprefix("List_").replace("_", " "))
        ws.cell(row=3, column=col).style = styles.HEADER
        for i, v in enumerate(values):
            ws.cell(row=4 + i, column=col, value=v).style = styles.FORMULA
        ws.column_dimensions[cell_address(1, col)[:-1]].width = 24
        define_name(wb, name, S.LISTS,
                    f"{cell_address(4, col)}:{cell_address(3 + len(values), col)}")
    col = adjustments_list_column()
    ws.cell(row=3, column=col, value="Adjustments").style = styles.HEADER
    for i, c in enumerate(layout.adjustment_components):
        put_text(ws.cell(row=4 + i, column=col), c.code)
        ws.cell(row=4 + i, column=col).style = styles.FORMULA
    ws.column_dimensions[cell_address(1, col)[:-1]].width = 24


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
    write_table(wb, ws, layout.job_classes, job_class_rows(layout, inputs))
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


# --- sheets, continued ----------------------------------------------------------------------

def _write_policy(wb: Workbook, ws: Worksheet, layout: DistrictLayout,
                  inputs: DistrictInputs) -> None:
    p, d = inputs.policy, inputs.district
    comps = layout.components
    title(ws, f"Funding policy {d.fiscal_year}",
          "Yellow cells are inputs: change them and every allocation recomputes. "
          "Grey cells do not apply to that component.")
    ws.column_dimensions["A"].width = 38
    write_fields(wb, ws, SETTINGS, settings_values(layout, inputs))

    spans = layout.spans
    ws.cell(row=spans.header_row - 1, column=1, value="Grade spans").style = styles.LABEL
    write_table(wb, ws, spans, span_records(layout, inputs))
    for i in range(len(p.spans)):
        define_name(wb, layout.span_weight_name(i), S.POLICY, spans.cell("weight", i))

    ws.cell(row=comps.header_row - 1, column=1, value="Formula components").style = styles.LABEL
    records, locked = component_records(layout, inputs)
    write_table(wb, ws, comps, records, locked_cells=locked)
    for i, c in enumerate(p.components):
        for param, key in COMPONENT_NAMED_CELLS:
            define_name(wb, layout.component_name(param, c), S.POLICY, comps.cell(key, i))
        first, last = comps.cell("level_0", i), comps.cell(f"level_{len(LEVELS) - 1}", i)
        define_name(wb, layout.component_name("Level", c), S.POLICY, f"{first}:{last}")
    conditions, bands = layout.conditions, layout.bands
    ws.cell(row=conditions.header_row - 1, column=1,
            value="Eligibility conditions (a component applies where all, or any, hold)"
            ).style = styles.LABEL
    write_table(wb, ws, conditions, condition_records(layout))
    ws.cell(row=bands.header_row - 1, column=1,
            value="Rates by school level or grades").style = styles.LABEL
    write_table(wb, ws, bands, band_records(layout))
    ws.column_dimensions["A"].width = 42  # the settings' labels, read in full
    # Frozen: the component codes and names stay in view while scrolling to the rates.
    ws.freeze_panes = ws.cell(row=1, column=3)


def _write_schools(wb: Workbook, ws: Worksheet, layout: DistrictLayout,
                   inputs: DistrictInputs) -> None:
    t = layout.schools
    title(ws, "Schools", "The roster: grade enrollment and need counts per school. Yellow "
          "cells are inputs; Enrollment adds the grades.")
    write_table(wb, ws, t, school_records(layout, inputs))
    ws.freeze_panes = ws.cell(row=t.first_row, column=3)
    ws.auto_filter.ref = f"A{t.header_row}:{t.letter(t.columns[-1].key)}{t.last_row}"


def _write_adjustments(wb: Workbook, ws: Worksheet, layout: DistrictLayout,
                       inputs: DistrictInputs) -> None:
    t = layout.adjustments
    codes = ", ".join(c.code for c in layout.adjustment_components) or "none in this policy"
    title(ws, "Adjustments", "Named dollar lines per school, positive or negative, each with a "
          f"reason (hold-harmless or baseline-staffing supplements, state adjustments, other). "
          f"Adjustments: {codes}. The Check column says what to fix.")
    write_table(wb, ws, t, adjustment_records(layout, inputs))
    ws.freeze_panes = ws.cell(row=t.first_row, column=2)


def _write_calculation(ws: Worksheet, layout: DistrictLayout) -> None:
    t = layout.calculation
    title(ws, "Calculation", "What each rate applies to, per school: span pupils, counts, "
          "pupils above thresholds, shortfalls. All formulas.")
    write_header(ws, t)
    for r, values in calculation_rows(layout):
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
            value="Unrestricted (1/0)").style = styles.LABEL
    ws.cell(row=layout.counted_row, column=t.col("enrollment"),
            value="In budget (1/0)").style = styles.LABEL
    for row, col, value in allocation_marks(layout):
        ws.cell(row=row, column=col, value=value).style = styles.FORMULA
    for f in p.funds:
        cell = ws.cell(row=layout.fund_row, column=t.col(f"fund_{f.code}"), value=f.code)
        cell.style = styles.FORMULA
    for r, values in allocation_rows(layout):
        _write_row(ws, t, r, values)
    ws.freeze_panes = ws.cell(row=t.first_row, column=3)


def _write_summary(ws: Worksheet, layout: DistrictLayout) -> None:
    t = layout.allocations
    title(ws, "Summary", "District totals, the budget check and how per-pupil funding follows "
          "need. All formulas.")
    ws.column_dimensions["A"].width = 56  # the longest label, read in full
    ws.column_dimensions["B"].width = 36
    ws.column_dimensions["C"].width = 12
    ws.column_dimensions["D"].width = 18
    for put in summary_cells(layout):
        cell = ws.cell(row=put.row, column=put.col)
        if put.text:
            put_text(cell, put.value)
        else:
            cell.value = put.value
        cell.style = put.style
        if put.number_format is not None:
            cell.number_format = put.number_format

    if layout.n_schools:
        ws_alloc = ws.parent[S.ALLOCATIONS]
        ws.add_chart(_need_chart(ws_alloc, t, "per_pupil",
                                 "Per-pupil allocation (all funds) vs share of high-need pupils",
                                 "Dollars per pupil", '"$"#,##0'), "F4")
        ws.add_chart(_need_chart(ws_alloc, t, "change_share",
                                 "Change against last year (unrestricted) vs share of "
                                 "high-need pupils", "Change vs prior year", "0%"), "F24")


def _need_chart(ws_alloc: Worksheet, t: Table, y_key: str, title_text: str, y_title: str,
                y_format: str) -> ScatterChart:
    """A scatter of one Allocations column against each school's high-need share."""
    chart = ScatterChart()
    chart.title = title_text
    chart.style = 13
    chart.x_axis.title = "Unduplicated (high-need) share of enrollment"
    chart.y_axis.title = y_title
    chart.x_axis.number_format = "0%"
    chart.y_axis.number_format = y_format
    xs = Reference(ws_alloc, min_col=t.col("need_share"), min_row=t.first_row,
                   max_row=t.last_row)
    ys = Reference(ws_alloc, min_col=t.col(y_key), min_row=t.first_row, max_row=t.last_row)
    series = Series(ys, xs, title="Schools")
    _filled_markers(series)
    chart.series.append(series)
    chart.legend = None
    chart.height, chart.width = 9, 16
    return chart


def _filled_markers(series: Series) -> None:
    """Round markers filled in one colour, no line: they survive a LibreOffice save."""
    series.marker.symbol = "circle"
    series.marker.size = 6
    series.marker.graphicalProperties = GraphicalProperties(solidFill="1F6FB2")
    series.marker.graphicalProperties.line.solidFill = "1F6FB2"
    series.graphicalProperties.line.noFill = True


#: Print setup per sheet: orientation, the rows repeated on every page, and how many pages
#: wide (the widest sheets print two pages wide so their text stays readable).
_PRINT = {
    S.INSTRUCTIONS: ("portrait", None, 1), S.POLICY: ("landscape", None, 2),
    S.SCHOOLS: ("landscape", "header", 2), S.ADJUSTMENTS: ("landscape", "header", 1),
    S.CALCULATION: ("landscape", "header", 2), S.ALLOCATIONS: ("landscape", "header", 2),
    S.SUMMARY: ("landscape", None, 1), S.FUNDS: ("landscape", "header", 1),
    S.JOB_CLASSES: ("portrait", "header", 1), S.SERVICES: ("landscape", "header", 1),
    S.OBJECTS: ("portrait", "header", 1), S.GOALS: ("portrait", "header", 1),
    S.LISTS: ("portrait", None, 1),
}


def _print_setup(ws: Worksheet, layout: DistrictLayout, district: str) -> None:
    """US Letter, fit to one page wide, titles repeated, a footer with the district, the sheet
    and page N of M."""
    orientation, repeat, wide = _PRINT.get(ws.title, ("landscape", None, 1))
    ws.page_setup.paperSize = ws.PAPERSIZE_LETTER
    ws.page_setup.orientation = orientation
    ws.page_setup.fitToWidth = wide
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.gridLines = False
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top, ws.page_margins.bottom = 0.5, 0.6
    header_row = {S.SCHOOLS: layout.schools.header_row,
                  S.CALCULATION: layout.calculation.header_row,
                  S.ALLOCATIONS: layout.allocations.header_row,
                  S.ADJUSTMENTS: layout.adjustments.header_row}.get(ws.title, 3)
    if repeat:
        ws.print_title_rows = f"1:{header_row}"
        ws.print_title_cols = "A:B"
    ws.oddFooter.left.text = district.replace("&", "&&")
    ws.oddFooter.center.text = "&A"
    ws.oddFooter.right.text = "Page &P of &N"


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


def _write_meta(ws: Worksheet, inputs: DistrictInputs, layout: DistrictLayout) -> None:
    from . import __version__

    values = {
        "template_version": TEMPLATE_VERSION,
        "kind": "district",
        "district": inputs.district.cds_code,
        "fiscal_year": inputs.district.fiscal_year,
        "n_schools": len(inputs.schools),
        "structure": json.dumps(structure_of(inputs, layout), separators=(",", ":")),
        "created_by": f"{_pkg} {__version__}",
        "created_at": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
    }
    for i, (key, value) in enumerate(values.items(), start=1):
        ws.cell(row=i, column=1, value=key)
        put_text(ws.cell(row=i, column=2), value)


