"""Write the district workbook's Scenarios sheet and its three working sheets.

What each cell holds comes from scenario_formulas.scenario_cells (through
district_formulas.computed_cells, the list `ssfr-xl allocate` checks the file against); this
module only places those cells with labels, formats and validations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from xlsxwriter.worksheet import Worksheet

from . import styles
from .layout import (
    SCENARIO_CHOICES,
    SCENARIO_RESULTS,
    SETTINGS,
    DistrictLayout,
    Table,
)
from .layout import DistrictSheets as S
from .model import DistrictInputs
from .scenario_formulas import catalog_records
from .xlsxw import (
    Book,
    add_validation,
    define_name,
    header_height,
    put,
    put_formula,
    write_header,
)

#: How the list of parameters shows a bound that is no bound.
BOUND_FORMAT = '[>=1E+15]"no limit";[<=-1E+15]"no limit";General'

INTRODUCTION = (
    "Try other values for up to five parameters of the formula: choose a parameter in a "
    "yellow cell, type its scenario value beside it (blank = today's value). Every school's "
    "total under the scenario, and its change, follow live. Nothing here changes the "
    "Policy sheet or today's allocations.")
WORKINGS = ("The scenario's workings: the {sheet} sheet's formulas, with the scenario's "
            "parameters in place of today's (see the Scenarios sheet). Not for editing.")


def write_scenario_sheets(book: Book, sheets: Mapping[str, Worksheet], layout: DistrictLayout,
                          inputs: DistrictInputs,
                          cells: Iterable[tuple[str, int, int, object]],
                          policy_records: Mapping[str, object],
                          choices: Sequence[tuple[object, object]] = ()) -> None:
    """Write the Scenarios sheet and its workings.

    cells: the computed cells of these sheets (scenario_formulas.scenario_cells);
    policy_records: district_formulas.policy_records (labels of the working Policy sheet);
    choices: (parameter label, value) rows typed in at build (tests, demos)."""
    formats = _formats(layout)
    plain = book.fmt(styles.FORMULA)
    for sheet, row, col, content in cells:
        ws = sheets[sheet]
        fmt = book.fmt(styles.FORMULA, formats.get((sheet, row, col), "General"))
        if isinstance(content, str):
            put_formula(ws, row, col, content, fmt, "")
        else:
            put(ws, row, col, content, fmt or plain)
    _write_scenarios(book, sheets[S.SCENARIOS], layout, choices)
    _write_working_policy(book, sheets[S.SCENARIO_POLICY], layout, policy_records)
    for sheet, t in ((S.SCENARIO_CALCULATION, layout.calculation),
                     (S.SCENARIO_ALLOCATIONS, layout.allocations)):
        ws = sheets[sheet]
        _title(book, ws, sheet, WORKINGS.format(sheet=t.sheet))
        write_header(book, ws, t)
        ws.set_row(t.header_row - 1, header_height(t))
        ws.freeze_panes(t.first_row - 1, 2)
    ws = sheets[S.SCENARIO_ALLOCATIONS]
    for row, label in ((layout.fund_row, "Fund"), (layout.unrestricted_row, "Unrestricted (1/0)"),
                       (layout.counted_row, "In budget (1/0)")):
        put(ws, row, layout.allocations.col("name"), label, book.fmt(styles.LABEL))
    for f in layout.policy.funds:
        put(ws, layout.fund_row, layout.allocations.col(f"fund_{f.code}"), f.code, plain)


def _formats(layout: DistrictLayout) -> dict[tuple[str, int, int], str]:
    """Number format of every cell of the working sheets (their originals'), and of the
    Scenarios sheet's computed cells."""
    out: dict[tuple[str, int, int], str] = {}

    def table(sheet: str, t: Table) -> None:
        for c in t.columns:
            col = t.col(c.key)
            for row in range(t.first_row, t.last_row + 1):
                out[(sheet, row, col)] = c.number_format

    for t in (layout.spans, layout.components, layout.conditions, layout.bands):
        table(S.SCENARIO_POLICY, t)
    for f in SETTINGS.fields:
        out[(S.SCENARIO_POLICY, SETTINGS.row(f.key), SETTINGS.value_col)] = f.number_format
    table(S.SCENARIO_CALCULATION, layout.calculation)
    table(S.SCENARIO_ALLOCATIONS, layout.allocations)
    for t in (layout.scenario_choices, layout.scenario_catalog, layout.scenario_schools):
        table(S.SCENARIOS, t)
    for key in ("low", "high"):
        col = layout.scenario_catalog.col(key)
        for row in range(layout.scenario_catalog.first_row, layout.scenario_catalog.last_row + 1):
            out[(S.SCENARIOS, row, col)] = BOUND_FORMAT
    for f in SCENARIO_RESULTS.fields:
        out[(S.SCENARIOS, SCENARIO_RESULTS.row(f.key), SCENARIO_RESULTS.value_col)] = \
            f.number_format
    return out


def _title(book: Book, ws: Worksheet, text: str, subtitle: str) -> None:
    put(ws, 1, 1, text, book.fmt(styles.TITLE))
    put(ws, 2, 1, subtitle, book.fmt(styles.NOTE))


def _write_scenarios(book: Book, ws: Worksheet, layout: DistrictLayout,
                     choices: Sequence[tuple[object, object]]) -> None:
    _title(book, ws, "Scenarios: what if the formula changed?", INTRODUCTION)
    label = book.fmt(styles.LABEL)
    t, cat, schools = layout.scenario_choices, layout.scenario_catalog, layout.scenario_schools
    put(ws, t.header_row - 1, 1, f"Parameters to try (up to {SCENARIO_CHOICES}; blank = "
        "today's value)", label)
    write_header(book, ws, t)
    ws.set_row(t.header_row - 1, header_height(t))
    for key in ("parameter", "value"):
        fmt = book.fmt(styles.INPUT, t.column(key).number_format)
        col = t.col(key)
        for i in range(SCENARIO_CHOICES):
            value = choices[i][0 if key == "parameter" else 1] if i < len(choices) else None
            put(ws, t.first_row + i, col, value, fmt)
        v = t.column(key).validation
        if v is not None:
            add_validation(ws, v, (t.first_row, col), (t.last_row, col))
    for key in ("number", "applied", "value"):
        define_name(book, t.column(key).name, t.sheet, t.range(key))

    b = SCENARIO_RESULTS
    put(ws, b.first_row - 1, 1, "The scenario against today (a school wins or loses when its "
        "total changes by more than $0.50)", label)
    for f in b.fields:
        put(ws, b.row(f.key), b.label_col, f.label, label)
        define_name(book, f.name, b.sheet, b.cell(f.key))

    put(ws, schools.header_row - 1, 1, "Schools", label)
    write_header(book, ws, schools)
    ws.set_row(schools.header_row - 1, header_height(schools))
    if layout.n_schools:
        ws.conditional_format(schools.first_row - 1, schools.col("result") - 1,
                              schools.last_row - 1, schools.col("result") - 1,
                              {"type": "cell", "criteria": "==", "value": '"Loser"',
                               "format": book.dxf(font_color="#9C0006")})
        ws.conditional_format(schools.first_row - 1, schools.col("result") - 1,
                              schools.last_row - 1, schools.col("result") - 1,
                              {"type": "cell", "criteria": "==", "value": '"Winner"',
                               "format": book.dxf(font_color="#006100")})

    put(ws, cat.header_row - 1, cat.first_col, "Parameters of the formula (the dropdown's list)",
        label)
    write_header(book, ws, cat)
    text = book.fmt(styles.FORMULA, styles.TEXT)
    for i, record in enumerate(catalog_records(layout)):
        put(ws, cat.first_row + i, cat.col("label"), record["label"], text)
    if cat.rows:
        for key in ("label", "today", "low", "high"):
            define_name(book, cat.column(key).name, cat.sheet, cat.range(key))
    ws.set_column(0, 0, 44)
    ws.set_column(1, 1, 30)  # the today column above, school names below
    ws.freeze_panes(0, 1)


def _write_working_policy(book: Book, ws: Worksheet, layout: DistrictLayout,
                          records: Mapping[str, object]) -> None:
    _title(book, ws, "Scenario Policy", WORKINGS.format(sheet="Policy"))
    label = book.fmt(styles.LABEL)
    for f in SETTINGS.fields:
        put(ws, SETTINGS.row(f.key), SETTINGS.label_col, f.label, label)
    text = book.fmt(styles.FORMULA, styles.TEXT)
    for t, rows in ((layout.spans, records["spans"]), (layout.components, records["components"]),
                    (layout.conditions, records["conditions"]), (layout.bands, records["bands"])):
        write_header(book, ws, t)
        ws.set_row(t.header_row - 1, header_height(t))
        # the labels of each row: what is not an input (code, kind, basis ...), and its name
        shown = [c.key for c in t.columns if not c.input or c.key == "name"]
        for i, record in enumerate(rows):
            for key in shown:
                value = record.get(key)
                if isinstance(value, str) and not value.startswith("="):
                    put(ws, t.first_row + i, t.col(key), value, text)
    ws.set_column(0, 0, 42)
    ws.freeze_panes(0, 3)
