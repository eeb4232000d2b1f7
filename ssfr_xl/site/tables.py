"""A table of the site: shown on a page (caption, column headers, formatted cells) and written
as a CSV file beside it, from the same rows.

Cells hold raw values (amounts as floats, shares as fractions); the page formats them for its
language, the CSV keeps them as programs read them (amounts with two decimals, formula-safe
text, ids quoted where a spreadsheet would turn them into numbers: ssfr_xl.exports).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..exports import amount, csv_text
from .i18n import Formats

#: Kinds of column: how a cell is shown and written.
KINDS = ("text", "money", "int", "num1", "num2", "num3", "share", "link", "math")
NUMERIC = {"money", "int", "num1", "num2", "num3", "share"}


@dataclass(frozen=True)
class Column:
    """A column: its CSV header, its label on the page, and how its cells are shown."""

    key: str
    label: str
    kind: str = "text"


@dataclass(frozen=True)
class Link:
    """A cell that links to another page of the site."""

    text: str
    href: str


@dataclass(frozen=True)
class Cell:
    """A formatted cell, ready for a template."""

    text: str
    kind: str
    value: object = None
    href: str = ""

    @property
    def numeric(self) -> bool:
        """Right-aligned (numbers)."""
        return self.kind in NUMERIC


@dataclass
class Table:
    """Rows with a caption; written to data/<csv> as well."""

    id: str
    caption: str
    columns: list[Column]
    rows: list[list[object]]
    csv: str = ""  # file name under the site's data folder; "" = no CSV
    total: list[object] | None = None  # a totals row (shown last, written last)
    note: str = ""
    row_headers: bool = True  # the first column names the row (th scope=row)
    cells_lang: dict[str, str] = field(default_factory=dict)  # column key -> lang of its text

    def formatted(self, fmt: Formats) -> list[list[Cell]]:
        """Every row's cells as the page shows them."""
        return [[_cell(v, c.kind, fmt) for v, c in zip(row, self.columns, strict=True)]
                for row in self.rows]

    def formatted_total(self, fmt: Formats) -> list[Cell] | None:
        """The totals row's cells, if any."""
        if self.total is None:
            return None
        return [_cell(v, c.kind, fmt) for v, c in zip(self.total, self.columns, strict=True)]

    def csv_text(self) -> str:
        """The table as CSV: CSV headers, raw values, amounts to the cent."""
        rows = [*self.rows, *([self.total] if self.total is not None else [])]
        return csv_text([c.key for c in self.columns],
                        [[_csv_value(v, c.kind) for v, c in zip(row, self.columns, strict=True)]
                         for row in rows])


def _cell(value: object, kind: str, fmt: Formats) -> Cell:
    if value is None or value == "":
        return Cell("", kind)
    if isinstance(value, Link):
        return Cell(value.text, "link", value.text, value.href)
    if kind == "money" and isinstance(value, int | float):
        return Cell(fmt.money(float(value)), kind, float(value))
    if kind == "int" and isinstance(value, int | float):
        return Cell(fmt.number(float(value), 0), kind, value)
    if kind in ("num1", "num2") and isinstance(value, int | float):
        return Cell(fmt.number(float(value), int(kind[-1])), kind, value)
    if kind == "num3" and isinstance(value, int | float):
        return Cell(fmt.measure(float(value)), kind, value)
    if kind == "share" and isinstance(value, int | float):
        return Cell(fmt.share(float(value)), kind, value)
    return Cell(str(value), "text" if kind in NUMERIC else kind, value)


def _csv_value(value: object, kind: str) -> object:
    if isinstance(value, Link):
        return value.text
    if kind == "money" and isinstance(value, int | float):
        return amount(float(value))
    if kind == "share" and isinstance(value, int | float):
        return f"{float(value):.6f}"
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def column_sum(rows: Sequence[Sequence[object]], i: int) -> float:
    """Sum of a money column, rounded to the cent as Excel's ROUND does."""
    from ..money import money_sum

    return money_sum(float(r[i]) for r in rows if isinstance(r[i], int | float))
