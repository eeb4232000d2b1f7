"""Simple table sheets, written with XlsxWriter in constant memory: the district totals
workbook, the principals' feedback workbooks and the .xlsx twins of CSV exports.

A table sheet is optional title rows, a header row and one row per record, values only (no
formulas): text stays text (a value beginning with "=" is never a formula, a 14-digit id is
never a number), numbers are numbers in the column's number format. Columns are as wide as
their labels and contents (wrapped past a cap), the header row is frozen and filtered, and every
sheet prints on US Letter, one page wide, with the header row on every page and a footer that
names the district, the sheet and the page.

Rows are written in order and flushed as they go (XlsxWriter's constant_memory mode), so the
writer's memory does not grow with the season; strings are then stored inline, which Excel,
LibreOffice, gnumeric, Google Sheets and openpyxl all read.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from . import styles
from .exports import atomic_target, xlsx_value
from .xlsxw import Book, new_book, put

#: The `created` date of a workbook whose bytes must not depend on when it was written.
FIXED_DATE = _dt.datetime(2000, 1, 1)
SAMPLE_ROWS = 2000  # rows whose contents set the column widths (the first ones)
MAX_WIDTH = 60  # characters; longer text wraps
LABEL_WIDTH = 24  # a label up to this long fits on one line
LANDSCAPE_WIDTH = 100  # characters of columns past which a sheet prints across
ROW_HEIGHT = 15.0  # points: one line of Calibri 11
BORDER = "#BFBFBF"  # light grey lines between the cells of a table
GAP = 2  # characters of space beside the longest content
FILTER_GAP = 4  # beside a label: room for the autofilter's button


@dataclass(frozen=True)
class Column:
    """A column of a table sheet: its label, how numbers in it look, how wide it may grow.

    Numbers take `number_format` (General when None); whole numbers take `whole_format` when
    it is given (counts in a column of amounts); a Decimal (an export amount) is money with two
    decimals unless the column says otherwise. Text longer than `max_width` wraps, unless
    `wrap` is False (a checksum: its start is enough on screen, the cell holds it whole).
    """

    label: str
    number_format: str | None = None
    whole_format: str | None = None
    max_width: int = MAX_WIDTH
    wrap: bool = True


@dataclass
class TableSheet:
    """One sheet: title rows (optional), a header, rows; `about` (a school) joins the district
    in the footer."""

    name: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[object]]
    title: str = ""
    subtitle: str = ""
    about: str = ""

    @property
    def header_row(self) -> int:
        """1-based row of the header: below the title, the subtitle and a blank row."""
        return 4 if self.title else 1


@contextmanager
def table_workbook(path: Path, created: _dt.datetime | None = None) -> Iterator[Book]:
    """A constant-memory workbook written to a temporary file beside `path` and renamed into
    place when the block succeeds (exports.atomic_target): readers never see half a file."""
    with atomic_target(Path(path)) as tmp:
        book = new_book(str(tmp), created, constant_memory=True)
        try:
            yield book
        except BaseException:
            with suppress(Exception):  # remove XlsxWriter's temporary row files too
                book.close()
            raise
        book.close()


def footer(district: str, sheet: str, about: str = "") -> str:
    """The footer of a table sheet: district (and school) on the left, the sheet in the
    middle, "Page N of M" on the right, in 8-point type; '&' in names printed as itself."""
    left = _printed(district, 80) + (f" - {_printed(about, 80)}" if about else "")
    return f"&L{_small(left)}&C{_small(_printed(sheet, 60))}&R&8Page &P of &N"


def _printed(text: str, limit: int) -> str:
    # Excel reads "&" in a header or footer as a code; "&&" prints one. Names are cut (never
    # inside an "&&") so the whole footer stays within Excel's 255 characters.
    out = str(xlsx_value(text)).replace("&", "&&")[:limit]
    return out[:-1] if (len(out) - len(out.rstrip("&"))) % 2 else out


def _small(text: str) -> str:
    # "&8" sets the size; digits right after it would be read as part of the size
    return "&8" + (" " if text[:1].isdigit() else "") + text


def shown_width(value: object, column: Column) -> int:
    """About how many characters a value takes on screen in its column."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        return 5
    if isinstance(value, int | float | Decimal):
        fmt = _number_format(value, column)
        if fmt is None:
            return min(len(str(value)), 11)  # General shows at most about 11 characters
        decimals = len(fmt.split(".")[1].split(";")[0].rstrip('"')) if "." in fmt else 0
        digits = f"{abs(float(value)):,.{min(decimals, 8)}f}"
        return len(digits) + (1 if value < 0 else 0) + fmt.split(";")[0].count("$")
    return max((len(line) for line in str(value).split("\n")), default=0)


def _number_format(value: object, column: Column) -> str | None:
    if isinstance(value, int) and column.whole_format is not None:
        return column.whole_format
    if isinstance(value, Decimal):
        return column.number_format or styles.DECIMAL
    return column.number_format


def column_widths(columns: Sequence[Column], rows: Sequence[Sequence[object]]
                  ) -> list[tuple[float, bool]]:
    """(width, wrap) per column: wide enough for the label (its longest word always, the whole
    label up to LABEL_WIDTH) and the contents of the first rows, up to the column's cap; text
    longer than the cap wraps (or is cut off on screen, in a column that does not wrap)."""
    out = []
    for j, c in enumerate(columns):
        content = max((shown_width(r[j], c) for r in rows[:SAMPLE_ROWS] if j < len(r)),
                      default=0)
        words = max((len(w) for w in c.label.split()), default=0)
        label = max(words, min(len(c.label), LABEL_WIDTH))
        need = max(content + GAP, label + FILTER_GAP)
        width = float(min(need, max(c.max_width, words + FILTER_GAP)))
        out.append((width, c.wrap and content + GAP > width))
    return out


def wrapped_lines(text: str, width: float) -> int:
    """Lines a text takes wrapped in a column of this width (words kept whole where they fit;
    Calibri 11 shows about 1.15 characters of text per unit of width)."""
    room = max(1, int(1.15 * (width - 1)))
    lines = 0
    for paragraph in text.split("\n"):
        n, used = 1, 0
        for word in paragraph.split():
            if len(word) > room:  # a long word (a file name) breaks anywhere
                n += (used + len(word)) // room
                used = (used + len(word)) % room
            elif used and used + 1 + len(word) > room:
                n, used = n + 1, len(word)
            else:
                used += len(word) + (1 if used else 0)
        lines += n
    return lines


def _row_height(cells: Sequence[tuple[object, float]]) -> float | None:
    """The height of a row whose wrapped cells need more than one line (Excel and
    LibreOffice do not size rows on opening a file)."""
    lines = max((wrapped_lines(xlsx_value(v), w) for v, w in cells if isinstance(v, str) and v),
                default=1)
    return ROW_HEIGHT * lines if lines > 1 else None


class _Formats:
    """The few formats of a table sheet's cells (bordered), made once per workbook."""

    def __init__(self, book: Book) -> None:
        self.book = book
        self._made: dict[tuple[str | None, bool], Format] = {}

    def data(self, number_format: str | None = None, wrap: bool = False) -> Format:
        key = (number_format, wrap)
        if key not in self._made:
            props: dict[str, object] = {"border": 1, "border_color": BORDER, "valign": "top"}
            if number_format is not None:
                props["num_format"] = number_format
            if wrap:
                props["text_wrap"] = True
            self._made[key] = self.book.add_format(props)
        return self._made[key]


@dataclass(frozen=True)
class _Cells:
    """How a column's cells are written: a format per kind of value, its width, whether its
    text wraps."""

    text: Format
    number: Format
    whole: Format
    decimal: Format
    width: float
    wrap: bool

    @classmethod
    def of(cls, formats: _Formats, column: Column, width: float, wrap: bool) -> _Cells:
        return cls(formats.data(None, wrap), formats.data(_number_format(0.5, column)),
                   formats.data(_number_format(1, column)),
                   formats.data(_number_format(Decimal(0), column)), width, wrap)


def _formats(book: Book) -> _Formats:
    made = getattr(book, "_table_formats", None)
    if made is None:
        made = _Formats(book)
        book._table_formats = made  # type: ignore[attr-defined]
    return made


def write_table_sheet(book: Book, table: TableSheet, district: str) -> Worksheet:
    """Write one table sheet, rows in order, with its print setup; returns the sheet."""
    ws = book.add_worksheet(table.name)
    formats = _formats(book)
    columns, rows = list(table.columns), table.rows
    widths = column_widths(columns, rows)
    for j, (w, _wrap) in enumerate(widths):
        ws.set_column(j, j, w)
    if table.title:
        put(ws, 1, 1, xlsx_value(table.title), book.fmt(styles.TITLE))
        ws.set_row(0, 21)
        if table.subtitle:
            put(ws, 2, 1, xlsx_value(table.subtitle), book.fmt(styles.NOTE))
    top = table.header_row
    header_height = _row_height([(c.label, w) for c, (w, _) in zip(columns, widths,
                                                                    strict=True)])
    if header_height:
        ws.set_row(top - 1, header_height)
    header = book.fmt(styles.HEADER)
    for j, c in enumerate(columns, start=1):
        put(ws, top, j, xlsx_value(c.label), header)
    cols = [_Cells.of(formats, c, w, wrap) for c, (w, wrap) in zip(columns, widths,
                                                                  strict=True)]
    wrapped = [(j, c.width) for j, c in enumerate(cols) if c.wrap]
    spare = _Cells.of(formats, Column(""), 0.0, False)
    for i, row in enumerate(rows, start=top):  # i: 0-based row of XlsxWriter
        if wrapped and (height := _row_height([(row[j], w) for j, w in wrapped
                                               if j < len(row)])):
            ws.set_row(i, height)
        for j, value in enumerate(row):
            c = cols[j] if j < len(cols) else spare
            kind = type(value)
            # the common kinds first, written directly (this loop is most of the time)
            if kind is str:
                ws.write_string(i, j, xlsx_value(value), c.text)  # control characters shown
            elif (kind is float and math.isfinite(value)) or kind is int:
                ws.write_number(i, j, value, c.whole if kind is int else c.number)
            elif value is None:
                ws.write_blank(i, j, None, c.text)
            elif isinstance(value, Decimal):
                ws.write_number(i, j, float(value), c.decimal)
            elif isinstance(value, float):  # inf, nan: no cell holds them as numbers
                ws.write_string(i, j, str(value), c.text)
            else:
                put(ws, i + 1, j + 1, xlsx_value(value), c.number)
    ws.freeze_panes(top, 0)
    if rows:
        ws.autofilter(top - 1, 0, top - 1 + len(rows), len(columns) - 1)
    print_setup(ws, wide=sum(w for w, _ in widths) > LANDSCAPE_WIDTH, header_row=top,
                footer_text=footer(district, table.name, table.about))
    return ws


def print_setup(ws: Worksheet, wide: bool, header_row: int, footer_text: str) -> None:
    """US Letter, landscape when wide, one page wide and as many pages down as it takes, the
    header row on every page, and the footer."""
    ws.set_paper(1)
    if wide:
        ws.set_landscape()
    else:
        ws.set_portrait()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(header_row - 1)
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.7)
    ws.set_footer(footer_text, {"margin": 0.3})


def write_table_book(path: Path, tables: Sequence[TableSheet], district: str = "",
                     created: _dt.datetime | None = None) -> None:
    """A workbook of table sheets, in order, written atomically."""
    with table_workbook(path, created) as book:
        for t in tables:
            write_table_sheet(book, t, district)


__all__ = ["FIXED_DATE", "Column", "TableSheet", "column_widths", "footer", "print_setup",
           "shown_width", "table_workbook", "wrapped_lines", "write_table_book",
           "write_table_sheet"]
