"""Named styles and number formats shared by every workbook ssfr-xl writes.

Input cells look the same everywhere (pale yellow, blue text, unlocked); formulas are locked
and plain. Named styles (rather than ad-hoc fonts and fills) keep files small and let a user
restyle a workbook from Excel's Cell Styles gallery.
"""

from __future__ import annotations

from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Protection, Side
from openpyxl.workbook import Workbook

MONEY = '"$"#,##0.00;[Red]-"$"#,##0.00'
MONEY_LINE = '"$"#,##0.00;[Red]-"$"#,##0.00;""'  # a plan line's cost: blank while empty
MONEY_WHOLE = '"$"#,##0;[Red]-"$"#,##0'
RATE = '"$"#,##0.0000'
PRECISE_RATE = '"$"#,##0.00######'  # a solved rate: every decimal it has, up to 8
COUNT = "#,##0"
DECIMAL = "#,##0.00"
WEIGHT = "0.000"
SHARE = "0.0%"
FTE = "0.00"
TEXT = "@"
DATE = "yyyy-mm-dd"

INPUT = "ssfr Input"
FORMULA = "ssfr Formula"
LOCKED_VALUE = "ssfr Fixed"
HEADER = "ssfr Header"
TITLE = "ssfr Title"
NOTE = "ssfr Note"
TOTAL = "ssfr Total"
LABEL = "ssfr Label"

_thin = Side(style="thin", color="BFBFBF")
_box = Border(left=_thin, right=_thin, top=_thin, bottom=_thin)


def _styles() -> list[NamedStyle]:
    return [
        NamedStyle(
            name=INPUT,
            font=Font(name="Calibri", size=11, color="1F3864"),
            fill=PatternFill("solid", fgColor="FFF2CC"),
            border=_box,
            protection=Protection(locked=False),
        ),
        NamedStyle(
            name=FORMULA,
            font=Font(name="Calibri", size=11),
            border=_box,
            protection=Protection(locked=True),
        ),
        NamedStyle(
            name=LOCKED_VALUE,
            font=Font(name="Calibri", size=11, color="404040"),
            fill=PatternFill("solid", fgColor="F2F2F2"),
            border=_box,
            protection=Protection(locked=True),
        ),
        NamedStyle(
            name=HEADER,
            font=Font(name="Calibri", size=11, bold=True, color="FFFFFF"),
            fill=PatternFill("solid", fgColor="1F4E79"),
            alignment=Alignment(wrap_text=True, vertical="center"),
            border=_box,
            protection=Protection(locked=True),
        ),
        NamedStyle(
            name=TITLE,
            font=Font(name="Calibri", size=16, bold=True, color="1F4E79"),
            protection=Protection(locked=True),
        ),
        NamedStyle(
            name=NOTE,
            font=Font(name="Calibri", size=10, italic=True, color="595959"),
            alignment=Alignment(wrap_text=False, vertical="top"),
            protection=Protection(locked=True),
        ),
        NamedStyle(
            name=TOTAL,
            font=Font(name="Calibri", size=11, bold=True),
            border=Border(top=Side(style="thin"), bottom=Side(style="double")),
            protection=Protection(locked=True),
        ),
        NamedStyle(
            name=LABEL,
            font=Font(name="Calibri", size=11, bold=True),
            protection=Protection(locked=True),
        ),
    ]


def register(wb: Workbook) -> None:
    """Add ssfr-xl's named styles to a workbook (once)."""
    existing = set(wb.named_styles)
    for style in _styles():
        if style.name not in existing:
            wb.add_named_style(style)
