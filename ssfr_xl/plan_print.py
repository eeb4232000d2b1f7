"""Print setup of the plan workbook: paper, orientation, scaling, titles, footer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from xlsxwriter.worksheet import Worksheet

from .layout import SchoolLayout
from .layout import SchoolSheets as SS
from .xlsxw import FOOTER_TOKEN

if TYPE_CHECKING:
    from .school_book import SchoolPlanSpec


#: Sheets printed across (wide tables); the others print upright.
LANDSCAPE = frozenset({SS.ALLOCATION, SS.STAFFING, SS.SERVICES, SS.OTHER, SS.GOALS,
                       SS.SUMMARY, SS.LISTS})


def _footer_text(text: str) -> str:
    return text.replace("&", "&&")


def print_setup(ws: Worksheet, name: str, layout: SchoolLayout, spec: SchoolPlanSpec) -> None:
    """US Letter, one page wide, the table's header row on every page, and a footer naming
    the district, the school and the page."""
    ws.set_paper(1)
    if name in LANDSCAPE:
        ws.set_landscape()
    else:
        ws.set_portrait()
    if name == SS.LISTS:
        # five tables side by side: one table per page, at a readable size
        ws.set_print_scale(60)
        ws.set_v_pagebreaks([t.first_col - 1 for t in (
            layout.service_menu, layout.objects, layout.fund_list)])
    else:
        ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.7)
    header = {SS.ALLOCATION: layout.allocation.header_row, SS.STAFFING: layout.staffing.header_row,
              SS.SERVICES: layout.services.header_row, SS.OTHER: layout.other.header_row,
              SS.GOALS: layout.goals.header_row, SS.LISTS: layout.jobs.header_row}.get(name)
    if header is not None:
        ws.repeat_rows(header - 1)
    ws.set_footer(FOOTER_TOKEN, {"margin": 0.3})
    ws.footer_text = (f"&L&8{_footer_text(spec.district.name[:80])}"
                      f"&C&8{_footer_text(spec.school.name[:80])} ({spec.school.school_id[:20]})"
                      "&R&8Page &P of &N")
