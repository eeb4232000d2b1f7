"""Write the district formula workbook.

The workbook is the season's record of policy and inputs. Every allocation in it is a live
Excel formula on the Policy and Schools sheets, arranged to perform the same arithmetic in
the same order as formula.py, so Excel, LibreOffice and Python agree to the cent.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from xlsxwriter.worksheet import Worksheet

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
    computed_cells,
    condition_records,
    job_class_rows,
    policy_records,
    rule_names,
    school_records,
    settings_values,
    span_records,
    structure_of,
    summary_cells,
)
from .district_reader import CachedCheck, check_cached_values, read_district  # noqa: F401
from .exports import atomic_target
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
from .scenario_book import write_scenario_sheets
from .xlsx import column_values
from .xlsxw import (
    Book,
    define_name,
    header_height,
    new_book,
    protect,
    put,
    put_formula,
    write_fields,
    write_header,
    write_table,
)

#: The cached result written with every district formula: none. The workbook's numbers are
#: the engine's only once a spreadsheet program has calculated them (Excel and LibreOffice do
#: on opening: XlsxWriter asks for a full calculation on load); `allocate` never trusts them.
NOT_CALCULATED = ""


def write_district(path: str | Path, inputs: DistrictInputs,
                   progress: Callable[[str], None] | None = None,
                   scenario_choices: Sequence[tuple[object, object]] = ()) -> None:
    """Write the district formula workbook for these inputs (atomically); scenario_choices
    are (parameter, value) rows typed on the Scenarios sheet (blank by default)."""
    data = district_bytes(inputs, progress, scenario_choices)
    with atomic_target(Path(path)) as tmp:
        tmp.write_bytes(data)


def district_bytes(inputs: DistrictInputs,
                   progress: Callable[[str], None] | None = None,
                   scenario_choices: Sequence[tuple[object, object]] = ()) -> bytes:
    """The .xlsx bytes of the district formula workbook, written with XlsxWriter."""
    say = progress or (lambda _msg: None)
    layout = DistrictLayout.of(inputs)
    buffer = io.BytesIO()
    book = new_book(buffer)
    sheets = {name: book.add_sheet(name) for name in S.ORDER}

    say("lists and reference tables")
    _write_lists(book, sheets[S.LISTS], layout)
    _write_reference_tables(book, sheets, layout, inputs)
    say("policy")
    _write_policy(book, sheets[S.POLICY], layout, inputs)
    say(f"{len(inputs.schools)} schools")
    _write_schools(book, sheets[S.SCHOOLS], layout, inputs)
    _write_adjustments(book, sheets[S.ADJUSTMENTS], layout, inputs)
    say("calculation formulas")
    _write_calculation(book, sheets[S.CALCULATION], layout)
    say("allocation formulas")
    _write_allocations(book, sheets[S.ALLOCATIONS], layout)
    _write_summary(book, sheets[S.SUMMARY], layout)
    say("scenario formulas")
    scenario_sheets = {S.SCENARIOS, *S.SHADOWS.values()}
    write_scenario_sheets(book, sheets, layout, inputs,
                          (cell for cell in computed_cells(inputs, layout)
                           if cell[0] in scenario_sheets),
                          policy_records(layout, inputs), scenario_choices)
    _write_instructions(book, sheets[S.INSTRUCTIONS], inputs)
    _write_meta(book, sheets[S.META], inputs, layout)
    for name, (sheet, address) in rule_names(layout).items():
        define_name(book, name, sheet, address)
    for name, ws in sheets.items():
        if name != S.META:
            protect(ws)
            _print_setup(ws, layout, inputs.district.name)
    sheets[S.META].hide()
    sheets[S.ORDER[0]].activate()
    say("saving")
    book.close()
    return buffer.getvalue()


# --- writing helpers -----------------------------------------------------------------------

def _title(book: Book, ws: Worksheet, text: str, subtitle: str = "") -> None:
    """Sheet title in A1 and a one-line explanation in A2."""
    put(ws, 1, 1, text, book.fmt(styles.TITLE))
    if subtitle:
        put(ws, 2, 1, subtitle, book.fmt(styles.NOTE))


def _is_formula(value: object) -> bool:
    return isinstance(value, str) and value.startswith("=")


def _table(book: Book, ws: Worksheet, t: Table, records: list[dict],
           locked_cells=()) -> None:
    """A table whose computed columns hold the records' formulas (text in input columns is
    data, even when it begins with "=")."""
    formulas = {}
    for i, record in enumerate(records):
        for c in t.columns:
            value = record.get(c.key)
            if not c.input and _is_formula(value):
                formulas[t.cell(c.key, i, absolute=False)] = value
    write_table(book, ws, t, records, formulas, dict.fromkeys(formulas, NOT_CALCULATED),
                locked_cells)
    ws.set_row(t.header_row - 1, header_height(t))


def _label(book: Book, ws: Worksheet, row: int, col: int, text: str) -> None:
    put(ws, row, col, text, book.fmt(styles.LABEL))


def _width(ws: Worksheet, col: int, width: float) -> None:
    ws.set_column(col - 1, col - 1, width)


def _freeze(ws: Worksheet, row: int, col: int) -> None:
    """Freeze the rows above `row` and the columns left of `col` (1-based, as layout.py)."""
    ws.freeze_panes(row - 1, col - 1)


# --- sheets ------------------------------------------------------------------------------

def _write_lists(book: Book, ws: Worksheet, layout: DistrictLayout) -> None:
    _title(book, ws, "Lists", "Values offered by the dropdowns. Not for editing.")
    header, value = book.fmt(styles.HEADER), book.fmt(styles.FORMULA)
    for col, (name, values) in enumerate(LISTS.items(), start=1):
        put(ws, 3, col, name.removeprefix("List_").replace("_", " "), header)
        for i, v in enumerate(values):
            put(ws, 4 + i, col, v, value)
        _width(ws, col, 24)
        define_name(book, name, S.LISTS,
                    f"{cell_address(4, col)}:{cell_address(3 + len(values), col)}")
    col = adjustments_list_column()
    put(ws, 3, col, "Adjustments", header)
    for i, c in enumerate(layout.adjustment_components):
        put(ws, 4 + i, col, c.code, value)
    _width(ws, col, 24)


def _write_reference_tables(book: Book, sheets: dict[str, Worksheet], layout: DistrictLayout,
                            inputs: DistrictInputs) -> None:
    p = inputs.policy
    ws = sheets[S.FUNDS]
    _title(book, ws, "Funds", "Restricted money is kept apart: a school plan must balance per "
           "fund, and restricted funds may buy only the objects and services listed.")
    _table(book, ws, layout.funds, [
        {**column_values(layout.funds.columns, f), "restricted": "Yes" if f.restricted else "No"}
        for f in p.funds
    ])
    ws = sheets[S.JOB_CLASSES]
    _title(book, ws, "Job Classes", "Positions schools can plan, charged at district average "
           "cost.")
    _table(book, ws, layout.job_classes, job_class_rows(layout, inputs))
    ws = sheets[S.SERVICES]
    _title(book, ws, "Services", "The central-office menu schools buy from.")
    _table(book, ws, layout.services, [column_values(layout.services.columns, s)
                                       for s in p.services])
    ws = sheets[S.OBJECTS]
    _title(book, ws, "Objects", "SACS object codes schools may plan against.")
    _table(book, ws, layout.objects, [column_values(layout.objects.columns, o)
                                      for o in p.objects])
    ws = sheets[S.GOALS]
    _title(book, ws, "Goals", "District (LCAP) goals every school plan line is aligned to.")
    _table(book, ws, layout.goals, [column_values(layout.goals.columns, g) for g in p.goals])
    from .indicators import indicator_list

    _table(book, ws, layout.indicators, [column_values(layout.indicators.columns, i)
                                         for i in indicator_list(p)])
    for name in (S.FUNDS, S.JOB_CLASSES, S.SERVICES, S.OBJECTS, S.GOALS):
        _freeze(sheets[name], 4, 1)


def _write_policy(book: Book, ws: Worksheet, layout: DistrictLayout,
                  inputs: DistrictInputs) -> None:
    p, d = inputs.policy, inputs.district
    comps = layout.components
    _title(book, ws, f"Funding policy {d.fiscal_year}",
           "Yellow cells are inputs: change them and every allocation recomputes. "
           "Grey cells do not apply to that component.")
    values = settings_values(layout, inputs)
    formulas = {SETTINGS.cell(f.key): values[f.key] for f in SETTINGS.fields
                if not f.input and _is_formula(values.get(f.key))}
    write_fields(book, ws, SETTINGS, values, formulas, dict.fromkeys(formulas, NOT_CALCULATED))

    spans = layout.spans
    _label(book, ws, spans.header_row - 1, 1, "Grade spans")
    _table(book, ws, spans, span_records(layout, inputs))
    for i in range(len(p.spans)):
        define_name(book, layout.span_weight_name(i), S.POLICY, spans.cell("weight", i))

    _label(book, ws, comps.header_row - 1, 1, "Formula components")
    records, locked = component_records(layout, inputs)
    _table(book, ws, comps, records, locked_cells=locked)
    for i, c in enumerate(p.components):
        for param, key in COMPONENT_NAMED_CELLS:
            define_name(book, layout.component_name(param, c), S.POLICY, comps.cell(key, i))
        first, last = comps.cell("level_0", i), comps.cell(f"level_{len(LEVELS) - 1}", i)
        define_name(book, layout.component_name("Level", c), S.POLICY, f"{first}:{last}")
    conditions, bands = layout.conditions, layout.bands
    _label(book, ws, conditions.header_row - 1, 1,
           "Eligibility conditions (a component applies where all, or any, hold)")
    _table(book, ws, conditions, condition_records(layout))
    _label(book, ws, bands.header_row - 1, 1, "Rates by school level or grades")
    _table(book, ws, bands, band_records(layout))
    # The four tables share the sheet's columns: each column as wide as its widest use.
    widths: dict[int, float] = {}
    for t in (spans, comps, conditions, bands):
        for c in t.columns:
            if not c.hidden:
                widths[t.col(c.key)] = max(widths.get(t.col(c.key), 0), c.width)
    for col, width in widths.items():
        _width(ws, col, width)
    _width(ws, 1, 42)  # the settings' labels, read in full
    # Frozen: the component codes and names stay in view while scrolling to the rates.
    _freeze(ws, 1, 3)


def _write_schools(book: Book, ws: Worksheet, layout: DistrictLayout,
                   inputs: DistrictInputs) -> None:
    t = layout.schools
    _title(book, ws, "Schools", "The roster: grade enrollment and need counts per school. "
           "Yellow cells are inputs; Enrollment adds the grades.")
    _table(book, ws, t, school_records(layout, inputs))
    _freeze(ws, t.first_row, 3)
    ws.autofilter(t.header_row - 1, 0, max(t.last_row, t.header_row) - 1,
                  t.col(t.columns[-1].key) - 1)


def _write_adjustments(book: Book, ws: Worksheet, layout: DistrictLayout,
                       inputs: DistrictInputs) -> None:
    t = layout.adjustments
    codes = ", ".join(c.code for c in layout.adjustment_components) or "none in this policy"
    _title(book, ws, "Adjustments", "Named dollar lines per school, positive or negative, each "
           "with a reason (hold-harmless or baseline-staffing supplements, state adjustments, "
           f"other). Adjustments: {codes}. The Check column says what to fix.")
    _table(book, ws, t, adjustment_records(layout, inputs))
    _freeze(ws, t.first_row, 2)


def _write_rows(book: Book, ws: Worksheet, t: Table, rows) -> None:
    """Rows of computed cells (formulas, or constants of the arithmetic) under a header."""
    write_header(book, ws, t)
    ws.set_row(t.header_row - 1, header_height(t))
    fmts = {c.key: book.fmt(styles.FORMULA, c.number_format) for c in t.columns}
    cols = [(c.key, t.col(c.key)) for c in t.columns]
    for r, values in rows:
        for key, col in cols:
            _cell(ws, r, col, values.get(key), fmts[key])


def _cell(ws: Worksheet, row: int, col: int, value: object, fmt) -> None:
    if _is_formula(value):
        put_formula(ws, row, col, value, fmt, NOT_CALCULATED)
    else:
        put(ws, row, col, value, fmt)


def _write_calculation(book: Book, ws: Worksheet, layout: DistrictLayout) -> None:
    t = layout.calculation
    _title(book, ws, "Calculation", "What each rate applies to, per school: span pupils, "
           "counts, pupils above thresholds, shortfalls. All formulas.")
    _write_rows(book, ws, t, calculation_rows(layout))
    _freeze(ws, t.first_row, 3)


def _write_allocations(book: Book, ws: Worksheet, layout: DistrictLayout) -> None:
    t, p = layout.allocations, layout.policy
    _title(book, ws, "Allocations", "Each school's money by component and fund. Every cell is "
           "a formula on the Policy and Schools sheets.")
    label_col = t.col("name")
    _label(book, ws, layout.fund_row, label_col, "Fund")
    _label(book, ws, layout.unrestricted_row, label_col, "Unrestricted (1/0)")
    _label(book, ws, layout.counted_row, label_col, "In budget (1/0)")
    plain = book.fmt(styles.FORMULA)
    for row, col, value in allocation_marks(layout):
        _cell(ws, row, col, value, plain)
    for f in p.funds:
        put(ws, layout.fund_row, t.col(f"fund_{f.code}"), f.code, plain)
    _write_rows(book, ws, t, allocation_rows(layout))
    _freeze(ws, t.first_row, 3)


def _write_summary(book: Book, ws: Worksheet, layout: DistrictLayout) -> None:
    t = layout.allocations
    _title(book, ws, "Summary", "District totals, the budget check and how per-pupil funding "
           "follows need. All formulas.")
    for col, width in ((1, 56), (2, 36), (3, 12), (4, 18)):  # the longest label, read in full
        _width(ws, col, width)
    for cell in summary_cells(layout):
        fmt = book.fmt(cell.style, cell.number_format or "General")
        if cell.text:
            put(ws, cell.row, cell.col, cell.value, fmt)
        else:
            _cell(ws, cell.row, cell.col, cell.value, fmt)
    if layout.n_schools:
        ws.insert_chart("F4", _need_chart(book, t, "per_pupil",
                                          "Per-pupil allocation (all funds) vs share of "
                                          "high-need pupils", "Dollars per pupil", '"$"#,##0'))
        ws.insert_chart("F24", _need_chart(book, t, "change_share",
                                           "Change against last year (unrestricted) vs share "
                                           "of high-need pupils", "Change vs prior year", "0%"))


#: The chart markers' colour: round, filled, no line, so they survive a LibreOffice save.
MARKER_COLOUR = "#1F6FB2"


def _need_chart(book: Book, t: Table, y_key: str, title_text: str, y_title: str,
                y_format: str):
    """A scatter of one Allocations column against each school's high-need share."""
    chart = book.add_chart({"type": "scatter"})
    first, last = t.first_row - 1, t.last_row - 1
    x_col, y_col = t.col("need_share") - 1, t.col(y_key) - 1
    chart.add_series({
        "name": "Schools",
        "categories": [S.ALLOCATIONS, first, x_col, last, x_col],
        "values": [S.ALLOCATIONS, first, y_col, last, y_col],
        "marker": {"type": "circle", "size": 6, "fill": {"color": MARKER_COLOUR},
                   "border": {"color": MARKER_COLOUR}},
    })
    chart.set_title({"name": title_text, "name_font": {"size": 12, "bold": True}})
    chart.set_x_axis({"name": "Unduplicated (high-need) share of enrollment",
                      "num_format": "0%"})
    chart.set_y_axis({"name": y_title, "num_format": y_format,
                      "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}}})
    chart.set_legend({"none": True})
    chart.set_size({"width": 605, "height": 340})
    return chart


#: Print setup per sheet: orientation, whether the header rows repeat on every page, and how
#: many pages wide (the widest sheets print two pages wide so their text stays readable).
_PRINT = {
    S.INSTRUCTIONS: ("portrait", False, 1), S.POLICY: ("landscape", False, 2),
    S.SCHOOLS: ("landscape", True, 2), S.ADJUSTMENTS: ("landscape", True, 1),
    S.CALCULATION: ("landscape", True, 2), S.ALLOCATIONS: ("landscape", True, 2),
    S.SUMMARY: ("landscape", False, 1), S.FUNDS: ("landscape", True, 1),
    S.JOB_CLASSES: ("portrait", True, 1), S.SERVICES: ("landscape", True, 1),
    S.OBJECTS: ("portrait", True, 1), S.GOALS: ("portrait", True, 1),
    S.LISTS: ("portrait", False, 1), S.SCENARIOS: ("landscape", False, 1),
    S.SCENARIO_POLICY: ("landscape", False, 2), S.SCENARIO_CALCULATION: ("landscape", True, 2),
    S.SCENARIO_ALLOCATIONS: ("landscape", True, 2),
}


def _print_setup(ws: Worksheet, layout: DistrictLayout, district: str) -> None:
    """US Letter, fit to its pages wide, titles repeated, a footer with the district, the
    sheet and page N of M."""
    orientation, repeat, wide = _PRINT.get(ws.name, ("landscape", False, 1))
    ws.set_paper(1)
    if orientation == "landscape":
        ws.set_landscape()
    else:
        ws.set_portrait()
    ws.fit_to_pages(wide, 0)
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    header_row = {S.SCHOOLS: layout.schools.header_row,
                  S.CALCULATION: layout.calculation.header_row,
                  S.ALLOCATIONS: layout.allocations.header_row,
                  S.SCENARIO_CALCULATION: layout.calculation.header_row,
                  S.SCENARIO_ALLOCATIONS: layout.allocations.header_row,
                  S.ADJUSTMENTS: layout.adjustments.header_row}.get(ws.name, 3)
    if repeat:
        ws.repeat_rows(0, header_row - 1)
        ws.repeat_columns(0, 1)
    ws.set_footer(f"&L{_footer_text(district)}&C&A&RPage &P of &N", {"margin": 0.3})


def _footer_text(text: str) -> str:
    """Text for a header/footer section: "&" doubled, at most 80 characters."""
    return text[:80].replace("&", "&&")


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


def _write_instructions(book: Book, ws: Worksheet, inputs: DistrictInputs) -> None:
    d = inputs.district
    _title(book, ws, f"{d.name} - need-based school funding {d.fiscal_year}",
           f"{len(inputs.schools)} schools. Made by ssfr-xl; template version "
           f"{TEMPLATE_VERSION}.")
    _width(ws, 1, 100)
    plain = book.fmt(styles.FORMULA, left=0, right=0, top=0, bottom=0)
    for i, line in enumerate(INSTRUCTIONS.splitlines()):
        put(ws, 4 + i, 1, line, book.fmt(styles.LABEL) if i == 0 else plain)


def _write_meta(book: Book, ws: Worksheet, inputs: DistrictInputs,
                layout: DistrictLayout) -> None:
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
        put(ws, i, 1, key)
        put(ws, i, 2, value)
