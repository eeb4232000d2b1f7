"""Writing helpers shared by the workbook writers: tables, fields, names, protection, saving."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from openpyxl.workbook import Workbook
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from . import styles
from .exports import atomic_target
from .layout import Column, FieldBlock, Table, Validation, sheet_ref


def define_name(wb: Workbook, name: str, sheet: str, address: str) -> None:
    """Add a workbook-scoped defined name for an absolute address on a sheet."""
    absolute = ":".join(_absolute(a) for a in address.split(":"))
    wb.defined_names[name] = DefinedName(name, attr_text=sheet_ref(sheet, absolute))


def _absolute(a: str) -> str:
    if a.startswith("$"):
        return a
    letters = "".join(ch for ch in a if ch.isalpha())
    digits = a[len(letters):]
    return f"${letters}${digits}"


def add_validation(ws: Worksheet, v: Validation, address: str) -> None:
    """Attach a data validation (with input message and error alert) to a range."""
    dv = DataValidation(
        type=v.type,
        formula1=v.formula1 or None,
        formula2=v.formula2,
        operator=v.operator,
        allow_blank=v.allow_blank,
        showErrorMessage=True,
        showInputMessage=bool(v.prompt),
        errorTitle="Check this value"[:32],
        error=v.error[:255] or None,
        promptTitle="Input"[:32] if v.prompt else None,
        prompt=v.prompt[:255] or None,
        errorStyle="stop",
    )
    dv.add(address)
    ws.add_data_validation(dv)


def write_header(ws: Worksheet, table: Table) -> None:
    """Write a table's header row, widths and header style."""
    for c in table.columns:
        col = table.col(c.key)
        cell = ws.cell(row=table.header_row, column=col)
        put_text(cell, c.header)  # a header is data: "=1+1" as a component name stays text
        cell.style = styles.HEADER
        ws.column_dimensions[table.letter(c.key)].width = c.width
        if c.hidden:
            ws.column_dimensions[table.letter(c.key)].hidden = True


def put_text(cell: Any, value: Any) -> None:
    """Store a value as data: text beginning with '=' stays text, never becomes a formula."""
    cell.value = value
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"


def write_table(
    wb: Workbook,
    ws: Worksheet,
    table: Table,
    records: Iterable[Mapping[str, Any]],
    locked_cells: Iterable[tuple[int, str]] = (),
    literal_keys: Iterable[str] = (),
) -> None:
    """Write a table: header, one row per record, styles, validations and defined names.

    Input columns and `literal_keys` hold data (text is never read as a formula); other
    columns hold formulas. `locked_cells` lists (record index, column key) of input columns
    to lock on that row (a parameter that does not apply to the row's kind, for example).
    """
    write_header(ws, table)
    locked = set(locked_cells)
    literal = set(literal_keys)
    for i, record in enumerate(records):
        row = table.first_row + i
        for c in table.columns:
            cell = ws.cell(row=row, column=table.col(c.key))
            if c.input or c.key in literal:
                put_text(cell, record.get(c.key))
            else:
                cell.value = record.get(c.key)
            is_input = c.input and (i, c.key) not in locked
            cell.style = styles.INPUT if is_input else (
                styles.LOCKED_VALUE if c.input else styles.FORMULA)
            if c.number_format != "General":
                cell.number_format = c.number_format
    if table.rows:
        for c in table.columns:
            if c.input and c.validation is not None:
                add_validation(ws, c.validation, table.range(c.key, absolute=False))
            if c.name:
                define_name(wb, c.name, table.sheet, table.range(c.key))
        if table.name:
            first, last = table.columns[0].key, table.columns[-1].key
            address = (f"{table.letter(first)}{table.first_row}:"
                       f"{table.letter(last)}{table.last_row}")
            define_name(wb, table.name, table.sheet, address)


def write_fields(wb: Workbook, ws: Worksheet, block: FieldBlock,
                 values: Mapping[str, Any], formula_keys: Iterable[str] | None = None) -> None:
    """Write a block of labelled fields with their defined names.

    Values of `formula_keys` (default: every non-input field) are formulas; the rest are data.
    """
    formulas = set(formula_keys) if formula_keys is not None else {
        f.key for f in block.fields if not f.input}
    for f in block.fields:
        row = block.row(f.key)
        ws.cell(row=row, column=block.label_col, value=f.label).style = styles.LABEL
        cell = ws.cell(row=row, column=block.value_col)
        if f.key in formulas:
            cell.value = values.get(f.key)
        else:
            put_text(cell, values.get(f.key))
        cell.style = styles.INPUT if f.input else styles.FORMULA
        if f.number_format != "General":
            cell.number_format = f.number_format
        if f.help:
            ws.cell(row=row, column=block.help_col, value=f.help).style = styles.NOTE
        if f.validation is not None and f.input:
            add_validation(ws, f.validation, cell.coordinate)
        define_name(wb, f.name, block.sheet, cell.coordinate)


def protect(ws: Worksheet) -> None:
    """Protect a sheet without a password: locked cells cannot be typed over by mistake."""
    ws.protection.sheet = True
    ws.protection.formatCells = False
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    ws.protection.sort = False
    ws.protection.autoFilter = False


def title(ws: Worksheet, text: str, subtitle: str = "") -> None:
    """Sheet title in A1 and a one-line explanation in A2."""
    put_text(ws["A1"], text)
    ws["A1"].style = styles.TITLE
    if subtitle:
        put_text(ws["A2"], subtitle)
        ws["A2"].style = styles.NOTE


def job_class_records(table: Table, job_classes: Iterable[Any]) -> list[dict[str, Any]]:
    """Job class rows with the average cost (salary x (1 + benefits rate)) as a formula."""
    return [
        {**column_values(table.columns, j),
         "average_cost": (f"=ROUND({table.cell('average_salary', i)}"
                          f"*(1+{table.cell('benefits_rate', i)}),2)")}
        for i, j in enumerate(job_classes)
    ]


def column_values(columns: Iterable[Column], obj: Any) -> dict[str, Any]:
    """Record for a table row from an object's attributes named like the columns."""
    return {c.key: getattr(obj, c.key) for c in columns if hasattr(obj, c.key)}


def save_atomically(wb: Workbook, path: Path) -> None:
    """Save a workbook to a temporary file beside `path`, then rename it into place."""
    with atomic_target(path) as tmp:
        wb.save(tmp)
