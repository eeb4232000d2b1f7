"""Table sheets (ssfr_xl/table_book.py): what the totals workbook, the feedback workbooks and
the .xlsx twins share — text kept as text, widths that show labels and contents, print setup
(US Letter, one page wide, header on every page, footer) and rows streamed in constant memory.
Read back with openpyxl, as another program would."""

from __future__ import annotations

import re
import tracemalloc
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from ssfr_xl import styles
from ssfr_xl.errors import FileError
from ssfr_xl.exports import write_xlsx_table
from ssfr_xl.model import Finding
from ssfr_xl.report import write_feedback
from ssfr_xl.table_book import (
    Column,
    TableSheet,
    column_widths,
    footer,
    shown_width,
    table_workbook,
    wrapped_lines,
    write_table_book,
)
from ssfr_xl.validate import PlanCheck

CDS = "01999996000013"


def assert_printable(ws, header_row: int, landscape: bool) -> None:
    """US Letter, the orientation asked, one page wide and unlimited height, the header row on
    every page."""
    ps = ws.page_setup
    assert int(ps.paperSize) == 1, "US Letter"
    assert ps.orientation == ("landscape" if landscape else "portrait")
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert (ps.fitToWidth or 1) == 1 and int(ps.fitToHeight) == 0
    assert ws.print_title_rows == f"${header_row}:${header_row}"
    assert ws.freeze_panes == f"A{header_row + 1}"


def test_a_narrow_table_prints_upright_with_its_footer(tmp_path: Path) -> None:
    target = tmp_path / "t.xlsx"
    write_table_book(target, [TableSheet("Goals", [Column("goal"), Column("planned")],
                                         [["G1", 10.5], ["G2", 3]])], "Sample USD")
    ws = openpyxl.load_workbook(target)["Goals"]
    assert_printable(ws, 1, landscape=False)
    assert ws.oddFooter.left.text == "Sample USD"
    assert ws.oddFooter.center.text == "Goals"
    assert ws.oddFooter.right.text == "Page &P of &N"
    assert ws.auto_filter.ref == "A1:B3"


def test_a_wide_table_prints_across(tmp_path: Path) -> None:
    target = tmp_path / "t.xlsx"
    columns = [Column(f"column {i}") for i in range(8)]
    write_table_book(target, [TableSheet("Wide", columns, [["x" * 20] * 8])])
    assert_printable(openpyxl.load_workbook(target)["Wide"], 1, landscape=True)


def test_names_in_the_footer_print_their_ampersands() -> None:
    text = footer("Smith & Jones USD", "By School", "A&B Elementary")
    assert text == ("&L&8Smith && Jones USD - A&&B Elementary&C&8By School"
                    "&R&8Page &P of &N")
    assert len(footer("x" * 300, "y" * 40, "z" * 300)) <= 255, "Excel's limit"
    many = footer("&" * 300, "&" * 300, "&" * 301)
    assert len(many) <= 255
    # each name is whole pairs "&&": the codes &C and &R after them are still codes
    assert [len(m.group(1)) % 2 for m in re.finditer(r"(&+)[CR]", many)] == [1, 1]
    assert footer("49ers USD", "2025").startswith("&L&8 49ers USD&C&8 2025&R"), \
        "a digit after the size code would change the size"
    assert "\\x07" in footer("bell\x07", "s"), "control characters made visible"


def test_text_stays_text_and_amounts_are_formatted(tmp_path: Path) -> None:
    target = tmp_path / "t.xlsx"
    rows = [[CDS, "=HYPERLINK(\"http://x\",\"y\")", Decimal("1234.50"), 7, 2.5, None, True]]
    columns = [Column("id"), Column("note"), Column("amount"),
               Column("count", styles.MONEY, styles.COUNT), Column("money", styles.MONEY),
               Column("blank"), Column("flag")]
    write_table_book(target, [TableSheet("T", columns, rows)])
    ws = openpyxl.load_workbook(target)["T"]
    got = [(c.value, c.data_type) for c in ws[2]]
    assert got == [(CDS, "s"), ("=HYPERLINK(\"http://x\",\"y\")", "s"), (1234.5, "n"),
                   (7, "n"), (2.5, "n"), (None, "n"), (True, "b")]
    assert [ws.cell(2, j).number_format for j in (3, 4, 5)] == [
        styles.DECIMAL, styles.COUNT, styles.MONEY]


def test_titles_put_the_header_in_row_4(tmp_path: Path) -> None:
    target = tmp_path / "t.xlsx"
    write_table_book(target, [TableSheet("T", [Column("a")], [[1], [2]], title="Title",
                                         subtitle="What this is")])
    ws = openpyxl.load_workbook(target)["T"]
    assert (ws["A1"].value, ws["A1"].style) == ("Title", styles.TITLE)
    assert (ws["A2"].value, ws["A2"].style) == ("What this is", styles.NOTE)
    assert (ws["A4"].value, ws["A4"].style) == ("a", styles.HEADER)
    assert_printable(ws, 4, landscape=False)
    assert ws.auto_filter.ref == "A4:A6"


def test_widths_show_labels_and_contents_and_long_text_wraps() -> None:
    columns = [Column("school id"), Column("a rather long column label"), Column("fund"),
               Column("message", max_width=50), Column("amount", styles.MONEY)]
    rows = [[CDS, "x", "GEN", "word " * 30, -1234567.891]]
    (id_w, id_wrap), (label_w, _), (fund_w, _), (msg_w, msg_wrap), (amt_w, _) = \
        column_widths(columns, rows)
    assert id_w >= len(CDS) + 2 and not id_wrap
    assert label_w >= 24, "a label up to 24 characters fits on one line"
    assert fund_w >= len("fund") + 2
    assert msg_w == 50 and msg_wrap
    assert amt_w >= len("-$1,234,567.89")
    assert shown_width(Decimal("1000.00"), Column("v")) == len("1,000.00")
    assert shown_width("two\nlines here", Column("v")) == len("lines here")


def test_a_failed_write_leaves_nothing_and_no_old_file_changes(tmp_path: Path) -> None:
    target = tmp_path / "t.xlsx"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with table_workbook(target) as book:
            book.add_worksheet("x").write(0, 0, 1)
            raise RuntimeError("stop")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.xlsx"]


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileError, match="the folder does not exist"):
        write_table_book(tmp_path / "no" / "t.xlsx", [TableSheet("T", [Column("a")], [])])


def test_the_twin_prints_and_its_zip_entries_have_fixed_times(tmp_path: Path) -> None:
    target = tmp_path / "by_school.xlsx"
    write_xlsx_table(target, ["school_id", "amount"], [[CDS, Decimal("1.50")]])
    ws = openpyxl.load_workbook(target).active
    assert_printable(ws, 1, landscape=False)
    assert ws.oddFooter.center.text == "by_school"
    with zipfile.ZipFile(target) as z:
        assert len({i.date_time for i in z.infolist()}) == 1
        assert z.infolist()[0].date_time[:3] == (1980, 1, 31)


def test_the_feedback_workbook_prints_with_school_and_district(tmp_path: Path) -> None:
    check = PlanCheck(Path("plan & co.xlsx"), "0" * 64, CDS, [
        Finding("plan.xlsx", CDS, "Staffing", "D7", "error", "not-a-number",
                "=1+1 is not a number: type the FTE as a number " * 4)])
    path = write_feedback(tmp_path, check, "Alpha & Omega Elementary", district="Big USD")
    assert path.parent == tmp_path
    ws = openpyxl.load_workbook(path)["Feedback"]
    assert_printable(ws, 4, landscape=True)
    assert ws.oddFooter.left.text == "Big USD - Alpha && Omega Elementary"
    assert ws.oddFooter.center.text == "Feedback"
    assert [c.value for c in ws[4]] == ["Severity", "Sheet", "Cell", "What to do", "Code"]
    assert (ws["D5"].value, ws["D5"].data_type) == (check.findings[0].message, "s")
    assert ws["D5"].alignment.wrap_text, "a long message wraps in its column"
    assert ws["A1"].value == "Feedback on your plan: Alpha & Omega Elementary"


def _peak_writing(tmp_path: Path, n: int) -> int:
    rows = [[f"{i:014d}", f"School {i}", "GEN", i * 1.25, "a plan line description"]
            for i in range(n)]
    columns = [Column("school id"), Column("school name"), Column("fund"),
               Column("amount", styles.MONEY), Column("description")]
    tracemalloc.start()
    try:
        write_table_book(tmp_path / f"t{n}.xlsx", [TableSheet("Lines", columns, rows)])
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_rows_are_written_in_constant_memory(tmp_path: Path) -> None:
    """Four times the rows, about the same memory: rows go to disk as they are written."""
    small, big = _peak_writing(tmp_path, 1_500), _peak_writing(tmp_path, 6_000)
    assert big < small * 1.3, (small, big)
    ws = openpyxl.load_workbook(tmp_path / "t6000.xlsx", read_only=True)["Lines"]
    assert sum(1 for _ in ws.iter_rows(values_only=True)) == 6_001


def test_rows_of_wrapped_text_are_tall_enough(tmp_path: Path) -> None:
    """Excel and LibreOffice keep a row's height on opening a file: a row whose text wraps
    is written as tall as its lines, a row of short text keeps the default height."""
    assert wrapped_lines("short", 20) == 1
    assert wrapped_lines("word " * 40, 21) == 10  # 23 characters a line: 4 words of 4
    assert wrapped_lines("a\nb\nc", 20) == 3
    assert wrapped_lines("x" * 100, 21) == 5, "a word longer than the column breaks anywhere"
    target = tmp_path / "t.xlsx"
    columns = [Column("code"), Column("message", max_width=30), Column("checksum",
                                                                        max_width=10,
                                                                        wrap=False)]
    rows = [["a", "short", "f" * 64], ["b", "a long message " * 10, "0" * 64]]
    write_table_book(target, [TableSheet("T", columns, rows)])
    ws = openpyxl.load_workbook(target)["T"]
    assert ws.row_dimensions[2].height is None
    assert ws.row_dimensions[3].height == 15 * wrapped_lines(rows[1][1], 30)
    assert ws["B3"].alignment.wrap_text and not ws["C3"].alignment.wrap_text
    assert ws["C3"].value == "0" * 64, "a column that does not wrap still holds the whole text"
    assert ws.column_dimensions["C"].width < 13, "as wide as its label, not its contents"
