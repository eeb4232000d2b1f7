"""XlsxWriter helpers: named styles, cells with cached values, tables, fields, validations.

XlsxWriter writes a workbook in one pass, fast, without reading anything back; it has no
named cell styles of its own, so `NamedStyles` adds ssfr-xl's (styles.py, one declaration for
both writers) to the styles part: a cell's format is a named style plus its own number format
or alignment, and Excel's Cell Styles gallery and openpyxl's `cell.style` show the name.

Rows and columns are 1-based here, as in layout.py; XlsxWriter's 0-based indexes stay inside.
"""

from __future__ import annotations

import datetime as _dt
import math
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, lru_cache
from io import StringIO
from typing import Any
from xml.sax.saxutils import escape

import xlsxwriter
from xlsxwriter.app import App
from xlsxwriter.format import Format
from xlsxwriter.packager import Packager
from xlsxwriter.styles import Styles
from xlsxwriter.utility import xl_rowcol_to_cell
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import CellFormulaTuple, Worksheet

from . import styles
from .excel_expr import XlError
from .layout import FieldBlock, Table, Validation

#: Border styles of openpyxl's Side, as XlsxWriter's border indexes.
_BORDERS = {"thin": 1, "medium": 2, "dashed": 3, "dotted": 4, "thick": 5, "double": 6,
            "hair": 7}
_VALIGN = {"top": "top", "center": "vcenter", "bottom": "bottom"}


@lru_cache(maxsize=1)
def _named_styles() -> tuple:
    return tuple(styles._styles())


def _rgb(color: Any) -> str | None:
    rgb = getattr(color, "rgb", None)
    return f"#{rgb[-6:]}" if isinstance(rgb, str) else None


@cache
def _style_properties(name: str) -> tuple:
    return tuple(style_properties_uncached(name).items())


def style_properties(name: str) -> dict[str, Any]:
    """XlsxWriter format properties of one of styles.py's named styles."""
    return dict(_style_properties(name))


def style_properties_uncached(name: str) -> dict[str, Any]:
    ns = next(s for s in _named_styles() if s.name == name)
    props: dict[str, Any] = {"font_name": ns.font.name or "Calibri",
                             "font_size": ns.font.sz or 11}
    if ns.font.b:
        props["bold"] = True
    if ns.font.i:
        props["italic"] = True
    if (c := _rgb(ns.font.color)) is not None:
        props["font_color"] = c
    if ns.fill is not None and ns.fill.fill_type == "solid":
        props["pattern"] = 1
        props["bg_color"] = _rgb(ns.fill.fgColor)
    for side in ("left", "right", "top", "bottom"):
        s = getattr(ns.border, side)
        if s is not None and s.style:
            props[side] = _BORDERS[s.style]
            if (c := _rgb(s.color)) is not None:
                props[f"{side}_color"] = c
    if ns.alignment.wrap_text:
        props["text_wrap"] = True
    if ns.alignment.vertical in _VALIGN:
        props["valign"] = _VALIGN[ns.alignment.vertical]
    props["locked"] = bool(ns.protection.locked)
    return props


class _NamedFormat(Format):
    """A cell format based on a named style (its xf_id): two formats alike in every property
    but their named style stay two formats."""

    def _get_format_key(self) -> str:
        return f"{super()._get_format_key()}:{self.xf_id}"


class _NamedStyles(Styles):
    """The styles part with ssfr-xl's named styles after Normal, in xfId order."""

    bases: list[tuple[str, Format]] = []

    def _write_cell_style_xfs(self) -> None:
        self._xml_start_tag("cellStyleXfs", [("count", 1 + len(self.bases))])
        self._write_style_xf()
        for _name, base in self.bases:
            self._write_xf(base, 0)  # 0 = XFormatType.STYLE: no xfId
        self._xml_end_tag("cellStyleXfs")

    def _write_cell_styles(self) -> None:
        self._xml_start_tag("cellStyles", [("count", 1 + len(self.bases))])
        self._write_cell_style()
        for i, (name, _base) in enumerate(self.bases, start=1):
            self._write_cell_style(name, i, None)
        self._xml_end_tag("cellStyles")

    def _write_cell_style(self, name="Normal", xf_id=0, builtin_id=0) -> None:
        attributes = [("name", name), ("xfId", xf_id)]
        if builtin_id is not None:
            attributes.append(("builtinId", builtin_id))
        self._xml_empty_tag("cellStyle", attributes)


class _App(App):
    def _write_application(self) -> None:
        from . import __version__

        self._xml_data_element("Application", f"ssfr-xl {__version__} (XlsxWriter)")


@contextmanager
def _swapped(module: Any, name: str, replacement: Any) -> Iterator[None]:
    """XlsxWriter's module attribute `name` replaced while writing, then restored."""
    original = getattr(module, name)
    setattr(module, name, replacement)
    try:
        yield
    finally:
        setattr(module, name, original)


class _Packager(Packager):
    def __init__(self, bases: list[tuple[str, Format]]) -> None:
        super().__init__()
        self._bases = bases

    def _write_styles_file(self) -> None:
        import xlsxwriter.packager as packager

        with _swapped(packager, "Styles",
                      type("Styles", (_NamedStyles,), {"bases": self._bases})):
            super()._write_styles_file()

    def _write_app_file(self) -> None:
        # docProps/app.xml names the program that wrote the file (XlsxWriter: "Microsoft
        # Excel"); a plan says it was ssfr-xl, so nobody takes it for a file Excel saved
        import xlsxwriter.packager as packager

        with _swapped(packager, "App", _App):
            super()._write_app_file()


#: Stands for a sheet's footer in XML kept for reuse (the footer names the school).
FOOTER_TOKEN = "SSFR-FOOTER-9f3c"


@dataclass
class SheetGroup:
    """Sheets whose XML a later workbook reuses when their content is the same (the plan's
    line sheets are the same for every school of a district), with what they added to the
    workbook: formats in order of creation, shared strings, defined names."""

    formats: list[tuple] = field(default_factory=list)
    strings: list[str] = field(default_factory=list)
    string_count: int = 0
    names: list[list] = field(default_factory=list)
    xml: dict[str, str] = field(default_factory=dict)


class Sheet(Worksheet):
    """A worksheet that can store portable formulas as written.

    ssfr-xl's formulas use Excel 2010 functions only (the tests check every one), so the
    regular-expression passes XlsxWriter runs on each formula (about 60, to prefix newer
    functions with "_xlfn.") have nothing to do; they cost most of a plan's writing time.
    """

    #: Set by Book: the XML of this sheet from an identical earlier build, or a dict to put
    #: this build's XML in; and the footer that replaces FOOTER_TOKEN.
    cached_xml: str | None = None
    capture: dict[str, str] | None = None
    footer_text: str = ""

    def _assemble_xml_file(self) -> None:
        xml = self.cached_xml
        if xml is None:
            out, self.fh = self.fh, StringIO()
            try:
                super()._assemble_xml_file()
                xml = self.fh.getvalue()
            finally:
                self.fh = out
            if self.capture is not None:
                self.capture[self.name] = xml
        self.fh.write(xml.replace(FOOTER_TOKEN, escape(self.footer_text)))

    def write_portable_formula(self, row: int, col: int, formula: str, fmt: Format | None,
                               value: Any) -> None:
        """Store a formula of ssfr-xl's portable subset (0-based row and column)."""
        if self._check_dimensions(row, col):
            raise IndexError(f"cell ({row}, {col}) is outside a worksheet")
        self.table[row][col] = CellFormulaTuple(formula[1:] if formula.startswith("=")
                                                else formula, fmt, value)


class _FastZipInfo(zipfile.ZipInfo):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._compresslevel = 1


class Book(Workbook):
    """An XlsxWriter workbook that knows ssfr-xl's named styles and writes text as text."""

    def __init__(self, target: Any, created: _dt.datetime | None = None) -> None:
        super().__init__(target, {"strings_to_numbers": False, "strings_to_formulas": False,
                                  "strings_to_urls": False, "in_memory": True})
        self._formats: dict[tuple, Format] = {}
        self._log: list[tuple] = []
        self._bases: list[tuple[str, Format]] = []
        self._xf_ids: dict[str, int] = {}
        for ns in _named_styles():
            base = self._new_format(style_properties(ns.name), 0)
            base._get_xf_index()  # give it a font, fill and border of the styles part
            self._bases.append((ns.name, base))
            self._xf_ids[ns.name] = len(self._bases)
        if created is not None:
            self.set_properties({"created": created})

    def _new_format(self, props: Mapping[str, Any], xf_id: int) -> Format:
        merged = self.default_format_properties.copy()
        merged.update(props)
        f = _NamedFormat(merged, self.xf_format_indices, self.dxf_format_indices)
        f.xf_id = xf_id
        self.formats.append(f)
        return f

    def fmt(self, style: str, number_format: str = "General", **extra: Any) -> Format:
        """The format of a cell in a named style with its own number format and extras."""
        key = (style, number_format, tuple(sorted(extra.items())))
        f = self._formats.get(key)
        if f is None:
            props = style_properties(style)
            if number_format != "General":
                props["num_format"] = number_format
            props.update(extra)
            f = self._formats[key] = self._new_format(props, self._xf_ids[style])
            f._get_xf_index()  # indexes in order of creation, whatever the order of sheets
            self._log.append(("fmt", style, number_format, extra))
        return f

    def add_sheet(self, name: str) -> Sheet:
        """A worksheet (formulas stored as written)."""
        return self.add_worksheet(name, worksheet_class=Sheet)

    def dxf(self, **props: Any) -> Format:
        """A conditional format (font colour, bold)."""
        key = ("dxf", tuple(sorted(props.items())))
        f = self._formats.get(key)
        if f is None:
            f = self._formats[key] = self.add_format(props)
            f._get_dxf_index()
            self._log.append(("dxf", props))
        return f

    def start_group(self) -> SheetGroup:
        """Begin writing sheets that may be reused; they must come before any other cell."""
        if self.str_table.unique_count or self.defined_names:
            raise RuntimeError("a reusable group of sheets must be written first")
        return SheetGroup(formats=self._log)

    def finish_group(self, group: SheetGroup, sheets: Iterable[Sheet]) -> None:
        """Record what the group added to the workbook; its XML is kept when the book closes."""
        group.formats = list(self._log)
        group.strings = list(self.str_table.string_table)
        group.string_count = self.str_table.count
        group.names = [list(n) for n in self.defined_names]
        for ws in sheets:
            ws.capture = group.xml

    def reuse_group(self, group: SheetGroup, sheets: Iterable[Sheet]) -> None:
        """Stand in for writing the group again: the same formats, strings and names, in the
        same order, and each sheet's XML as it was."""
        self.start_group()
        for entry in group.formats:
            if entry[0] == "fmt":
                self.fmt(entry[1], entry[2], **entry[3])
            else:
                self.dxf(**entry[1])
        for s in group.strings:
            self.str_table._get_shared_string_index(s)
        self.str_table.count = group.string_count
        self.defined_names.extend(list(n) for n in group.names)
        for ws in sheets:
            ws.cached_xml = group.xml[ws.name]

    def _get_packager(self) -> Packager:
        return _Packager(self._bases)

    def _store_workbook(self) -> None:
        # Deflate at level 1: plan sheets are long runs of similar formulas, which the
        # fastest level still packs well (a plan is a little larger, written twice as fast).
        import xlsxwriter.workbook as workbook

        with _swapped(workbook, "ZipInfo", _FastZipInfo):
            super()._store_workbook()


def cached(value: Any) -> Any:
    """A formula's cached result as XlsxWriter takes it (errors as their text, "#N/A")."""
    if isinstance(value, XlError):
        return str(value)
    if value is None:
        return 0
    return value


def put(ws: Worksheet, row: int, col: int, value: Any, fmt: Format | None = None) -> None:
    """Write a value as data: text stays text (even "=..."), None is a styled blank."""
    r, c = row - 1, col - 1
    if value is None or value == "":
        if fmt is not None:
            ws.write_blank(r, c, None, fmt)
    elif isinstance(value, bool):
        ws.write_boolean(r, c, value, fmt)
    elif isinstance(value, int | float):
        ws.write_number(r, c, value, fmt)
    else:
        ws.write_string(r, c, str(value), fmt)


def put_formula(ws: Worksheet, row: int, col: int, formula: str, fmt: Format | None,
                value: Any = 0) -> None:
    """Write one of ssfr-xl's (portable) formulas with the value the engine computes as its
    cached result."""
    if isinstance(ws, Sheet):
        ws.write_portable_formula(row - 1, col - 1, formula, fmt, cached(value))
    else:
        ws.write_formula(row - 1, col - 1, formula, fmt, cached(value))


def add_validation(ws: Worksheet, v: Validation, first: tuple[int, int],
                   last: tuple[int, int] | None = None) -> None:
    """Attach a data validation to a range of (row, col) cells; list sources are names or
    ranges written without a leading "=" (XlsxWriter drops it: OOXML has none)."""
    options: dict[str, Any] = {"validate": {"textLength": "length"}.get(v.type, v.type),
                               "ignore_blank": v.allow_blank, "error_type": "stop",
                               "error_title": "Check this value"}
    if v.type == "list":
        options["source"] = v.formula1
    elif v.type == "custom":
        options["value"] = v.formula1
    else:
        options["criteria"] = v.operator or "between"
        options["minimum"] = _number(v.formula1)
        if v.formula2 is not None:
            options["maximum"] = _number(v.formula2)
    if v.error:
        options["error_message"] = v.error[:255]
    if v.prompt:
        options["input_title"] = "Input"
        options["input_message"] = v.prompt[:255]
    else:
        options["show_input"] = False
    last = last or first
    if ws.data_validation(first[0] - 1, first[1] - 1, last[0] - 1, last[1] - 1, options):
        raise ValueError(f"XlsxWriter refused the data validation {v!r}")


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


def define_name(wb: Workbook, name: str, sheet: str, address: str) -> None:
    """A workbook-scoped defined name for an absolute address on a sheet."""
    from .layout import sheet_ref
    from .xlsx import _absolute

    absolute = ":".join(_absolute(a) for a in address.split(":"))
    wb.define_name(name, "=" + sheet_ref(sheet, absolute))


def header_height(t: Table) -> float:
    """Height of a header row that shows every visible header whole, wrapped."""
    lines = 1
    for c in t.columns:
        if not c.hidden:
            lines = max(lines, math.ceil(len(c.header) * 1.15 / max(c.width - 1, 1)))
    return 15.0 * lines + 3


def write_header(book: Book, ws: Worksheet, table: Table) -> None:
    """A table's header row (wrapped), widths and hidden helper columns."""
    header = book.fmt(styles.HEADER)
    for c in table.columns:
        col = table.col(c.key)
        put(ws, table.header_row, col, c.header, header)
        ws.set_column(col - 1, col - 1, c.width, None, {"hidden": True} if c.hidden else None)


def write_table(book: Book, ws: Worksheet, table: Table, records: Iterable[Mapping[str, Any]],
                formulas: Mapping[str, str], values: Mapping[str, Any],
                locked_cells: Iterable[tuple[int, str]] = (),
                extra: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """A table: header, one row per record, formats, validations and defined names.

    A cell whose address has a formula in `formulas` gets it, with `values` as its cached
    result; any other cell holds the record's value as data. `extra` adds format properties
    per column key (wrapping, say).
    """
    write_header(book, ws, table)
    locked = set(locked_cells)
    extra = extra or {}
    fmts = {}
    for c in table.columns:
        more = extra.get(c.key, {})
        if c.input:
            fmts[c.key] = (book.fmt(styles.INPUT, c.number_format, **more),
                           book.fmt(styles.LOCKED_VALUE, c.number_format, **more))
        else:
            f = book.fmt(styles.FORMULA, c.number_format, **more)
            fmts[c.key] = (f, f)
    cols = [(c.key, table.col(c.key), c.input) for c in table.columns]
    for i, record in enumerate(records):
        row = table.first_row + i
        for key, col, is_input in cols:
            fmt = fmts[key][1 if (i, key) in locked else 0]
            address = xl_rowcol_to_cell(row - 1, col - 1)
            formula = None if is_input else formulas.get(address)
            if formula is not None:
                put_formula(ws, row, col, formula, fmt, values.get(address))
            else:
                put(ws, row, col, record.get(key), fmt)
    if table.rows:
        for c in table.columns:
            if c.input and c.validation is not None:
                col = table.col(c.key)
                add_validation(ws, c.validation, (table.first_row, col), (table.last_row, col))
            if c.name:
                define_name(book, c.name, table.sheet, table.range(c.key))
        if table.name:
            first, last = table.columns[0].key, table.columns[-1].key
            define_name(book, table.name, table.sheet,
                        f"{table.letter(first)}{table.first_row}:"
                        f"{table.letter(last)}{table.last_row}")


def write_fields(book: Book, ws: Worksheet, block: FieldBlock, values: Mapping[str, Any],
                 formulas: Mapping[str, str], cached_values: Mapping[str, Any]) -> None:
    """A block of labelled fields with their defined names; formulas by address."""
    for f in block.fields:
        row = block.row(f.key)
        put(ws, row, block.label_col, f.label, book.fmt(styles.LABEL))
        fmt = book.fmt(styles.INPUT if f.input else styles.FORMULA, f.number_format)
        address = block.cell(f.key)
        if address in formulas:
            put_formula(ws, row, block.value_col, formulas[address], fmt,
                        cached_values.get(address))
        else:
            put(ws, row, block.value_col, values.get(f.key), fmt)
        if f.help:
            put(ws, row, block.help_col, f.help, book.fmt(styles.NOTE))
        if f.validation is not None and f.input:
            add_validation(ws, f.validation, (row, block.value_col))
        define_name(book, f.name, block.sheet, address)


def protect(ws: Worksheet) -> None:
    """Protect a sheet without a password: locked cells cannot be typed over by mistake;
    formatting, sorting and filtering stay allowed."""
    ws.protect("", {"format_cells": True, "format_columns": True, "format_rows": True,
                    "sort": True, "autofilter": True})


def new_book(target: Any, created: _dt.datetime | None = None) -> Book:
    """A workbook writing to a path or a binary file object."""
    return Book(target, created)


__all__ = ["Book", "add_validation", "cached", "define_name", "header_height", "new_book",
           "protect", "put", "put_formula", "style_properties", "write_fields", "write_header",
           "write_table", "xlsxwriter"]
