"""The reader: hostile files stop at pre-flight, real plans read right, workers stay isolated."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pickle
import re
import time
import tracemalloc
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from ssfr_xl import reader
from ssfr_xl.layout import SchoolLayout, sheet_ref
from ssfr_xl.layout import SchoolSheets as SS
from ssfr_xl.policy import load_policy
from ssfr_xl.preflight import cells, fast_scan, package, sheet_scan, workbook
from ssfr_xl.reader import Limits, RawWorkbook, ReadProblem, preflight, read_many, read_workbook
from tests.corpus import (
    MAIN_NS,
    WARNINGS,
    Text,
    add_sheet,
    build_plan,
    edit_cells_xml,
    make_corpus,
    openpyxl_formulas,
    replace_cell,
    rewrite_zip,
    sheet_part,
    with_shared_strings,
)

LAYOUT = SchoolLayout(load_policy().policy)
STAFF = LAYOUT.staffing
OTHER = LAYOUT.other


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str | None]]:
    directory = tmp_path_factory.mktemp("corpus")
    return directory, make_corpus(directory)


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid plan with a few entries typed in (as a principal would)."""
    directory = tmp_path_factory.mktemp("plan")
    blank = build_plan(directory / "blank.xlsx")
    typed = edit_cells_xml(blank, directory / "typed.xlsx", SS.STAFFING, {
        STAFF.cell("job_class", 0): "TCH", STAFF.cell("fte", 0): 0.5,
        STAFF.cell("fund", 0): "GEN", STAFF.cell("goal", 0): "G1",
        STAFF.cell("note", 0): "Grade 3 & reading <lead>",
    })
    return edit_cells_xml(typed, directory / "plan.xlsx", SS.OTHER, {
        OTHER.cell("object", 0): "4300", OTHER.cell("fund", 0): "GEN",
        OTHER.cell("goal", 0): "G2", OTHER.cell("description", 0): "Books",
        OTHER.cell("amount", 0): 1234.5,
    })


def outcome(result: RawWorkbook | ReadProblem) -> str | None:
    """The code a read gave: a problem's, else the first warning's, else None."""
    if isinstance(result, ReadProblem):
        return result.code
    return result.warnings[0].code if result.warnings else None


def value(rows: list[list[object]], coord: str) -> object:
    letters, digits = re.fullmatch(r"([A-Z]+)(\d+)", coord).groups()  # type: ignore[union-attr]
    row, col = int(digits) - 1, cells._column_number(letters) - 1
    return rows[row][col] if row < len(rows) and col < len(rows[row]) else ""


# --- hostile and broken files -------------------------------------------------------------

def test_every_corpus_shape_gives_its_code_in_process(corpus):
    directory, shapes = corpus
    wrong, slow = [], []
    tracemalloc.start()
    try:
        for name, expected in shapes.items():
            started = time.perf_counter()
            try:
                got = outcome(read_workbook(directory / name))
            except ReadProblem as p:
                got = p.code
                assert p.message and p.severity == "error", name
            # a 400-line plan reads in about 0.3 s, 2.4 s under tracemalloc on a busy machine
            if time.perf_counter() - started > 5.0:
                slow.append(name)
            if got != expected:
                wrong.append((name, expected, got))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert wrong == []
    assert slow == []
    # streaming with byte caps: a 500 MB bomb or 31 MB of strings is never held in memory
    assert peak < 64 * 2**20


def test_every_corpus_shape_gives_its_code_isolated(corpus):
    directory, shapes = corpus
    paths = [directory / name for name in shapes]
    limits = Limits(timeout_seconds=20, memory_mb=600)
    started = time.perf_counter()
    results = list(read_many(paths, limits, workers=2))
    assert time.perf_counter() - started < 60
    assert Counter(p for p, _ in results) == Counter(paths)  # each exactly once
    assert {p.name: outcome(r) for p, r in results} == shapes


def test_preflight_agrees_with_read_workbook(corpus):
    directory, shapes = corpus
    for name, expected in shapes.items():
        if expected is None or expected in WARNINGS:
            assert [w.code for w in preflight(directory / name)] == \
                ([expected] if expected else []), name
        else:
            with pytest.raises(ReadProblem) as caught:
                preflight(directory / name)
            assert caught.value.code == expected, name


def test_messages_tell_the_sender_what_to_do(corpus):
    directory, _ = corpus
    with pytest.raises(ReadProblem) as caught:
        read_workbook(directory / "xfd1048576.xlsx")
    p = caught.value
    assert (p.sheet, p.cell) == (SS.OTHER, "XFD1048576")
    assert "cell XFD1048576" in p.message and "Other Spending" in p.message
    assert "delete" in p.message.lower()
    with pytest.raises(ReadProblem) as caught:
        read_workbook(directory / "password.xlsx")
    assert "Encrypt with Password" in caught.value.message
    with pytest.raises(ReadProblem) as caught:
        read_workbook(directory / "old-format.xls")
    assert "Excel Workbook (.xlsx)" in caught.value.message
    with pytest.raises(ReadProblem) as caught:
        read_workbook(directory / "renamed-csv.xlsx")
    assert "CSV" in caught.value.message
    warned = read_workbook(directory / "macros.xlsm")
    assert "never run" in warned.warnings[0].message
    assert warned.warnings[0].severity == "warning"


def test_limits_are_settings(plan):
    with pytest.raises(ReadProblem) as caught:
        read_workbook(plan, Limits(max_rows=100))
    assert caught.value.code == "too-many-cells"
    with pytest.raises(ReadProblem) as caught:
        read_workbook(plan, Limits(max_file_bytes=1000))
    assert caught.value.code == "file-too-large"
    with pytest.raises(ReadProblem) as caught:
        read_workbook(plan, Limits(max_zip_entries=5))
    assert caught.value.code == "zip-bomb"
    with pytest.raises(ReadProblem) as caught:
        read_workbook(plan, Limits(max_uncompressed_bytes=100_000))
    assert caught.value.code == "zip-bomb"


def test_not_a_file(tmp_path):
    os.mkfifo(tmp_path / "pipe.xlsx")
    started = time.perf_counter()
    for path in (tmp_path / "pipe.xlsx", tmp_path, tmp_path / "missing.xlsx"):
        with pytest.raises(ReadProblem) as caught:
            read_workbook(path)
        assert caught.value.code == "unreadable"
    assert time.perf_counter() - started < 5  # a FIFO must not block the reader


# --- a valid plan -------------------------------------------------------------------------

def test_valid_plan_reads_names_values_formulas_and_defined_names(plan):
    raw = read_workbook(plan)
    assert raw.sheet_names == list(SS.ORDER)
    assert raw.hidden_sheets == {SS.META}
    assert raw.warnings == []
    assert raw.application.startswith("ssfr-xl ")
    assert raw.sha256 == hashlib.sha256(plan.read_bytes()).hexdigest()
    assert raw.size == plan.stat().st_size

    staffing = raw.values[SS.STAFFING]
    assert value(staffing, STAFF.cell("job_class", 0)) == "TCH"
    assert value(staffing, STAFF.cell("fte", 0)) == 0.5
    assert value(staffing, STAFF.cell("note", 0)) == "Grade 3 & reading <lead>"
    assert value(staffing, "A1") == "Staffing"
    assert value(raw.values[SS.OTHER], OTHER.cell("amount", 0)) == 1234.5
    meta = {row[0]: row[1] for row in raw.values[SS.META]}
    assert meta["kind"] == "school_plan"

    formulas = raw.formulas[SS.STAFFING]
    for key in ("title", "salary", "benefits", "cost", "check"):
        assert {STAFF.cell(key, i) for i in range(STAFF.rows)} <= formulas, key
    for key in ("job_class", "fte", "fund", "goal", "note", "line"):
        assert not {STAFF.cell(key, i) for i in range(STAFF.rows)} & formulas, key
    assert formulas == set(openpyxl_formulas(plan)[SS.STAFFING])  # and no other cells
    assert OTHER.cell("amount", 0) not in raw.formulas[SS.OTHER]
    assert OTHER.cell("group", 0) in raw.formulas[SS.OTHER]

    assert raw.defined_names["Staffing_FTE"] == sheet_ref(SS.STAFFING, STAFF.range("fte"))
    assert raw.defined_names["Staffing_FTE"] == f"'Staffing'!$D$7:$D${STAFF.last_row}"
    assert "_xlnm.Print_Titles" not in raw.defined_names  # sheet-scoped: in local_names
    assert raw.local_names[SS.STAFFING]["_xlnm.Print_Titles"].replace("'", "") == \
        "Staffing!$6:$6"
    assert raw.merged == {sheet: [] for sheet in SS.ORDER}
    assert raw.errors == {sheet: {} for sheet in SS.ORDER}


def test_sheets_are_found_through_the_rels_not_by_number(plan, tmp_path):
    staffing, other = sheet_part(plan, SS.STAFFING), sheet_part(plan, SS.OTHER)
    with zipfile.ZipFile(plan) as z:
        rels = z.read("xl/_rels/workbook.xml.rels")
        a, b = z.read(staffing), z.read(other)
    s, o = staffing.removeprefix("xl/").encode(), other.removeprefix("xl/").encode()
    swapped = rels.replace(s, b"@").replace(o, s).replace(b"@", o)
    assert swapped != rels
    moved = rewrite_zip(plan, tmp_path / "moved.xlsx", replace={
        staffing: b, other: a, "xl/_rels/workbook.xml.rels": swapped})
    raw, original = read_workbook(moved), read_workbook(plan)
    assert raw.values == original.values
    assert raw.formulas == original.formulas


def test_only_requested_sheets_are_read(plan):
    raw = read_workbook(plan, sheets=[SS.STAFFING, SS.META, "No Such Sheet"])
    assert raw.sheet_names == list(SS.ORDER)  # names of all sheets, always
    assert set(raw.values) == set(raw.formulas) == set(raw.merged) == {SS.STAFFING, SS.META}


def test_merged_cells_and_error_values(plan, tmp_path):
    part = sheet_part(plan, SS.STAFFING)
    with zipfile.ZipFile(plan) as z:
        original = xml = z.read(part)
    xml = xml.replace(b"</sheetData>", b'</sheetData><mergeCells count="2"><mergeCell '
                      b'ref="B7:C7"/><mergeCell ref="G8:G9"/></mergeCells>', 1)
    xml = re.sub(rb'<c r="D8"[^>]*?(/>|>.*?</c>)', b'<c r="D8" t="e"><v>#REF!</v></c>', xml,
                 count=1, flags=re.S)
    assert xml.count(b"#REF!") == 1 and xml != original
    edited = rewrite_zip(plan, tmp_path / "merged.xlsx", replace={part: xml})
    raw = read_workbook(edited)
    assert raw.merged[SS.STAFFING] == ["B7:C7", "G8:G9"]
    assert raw.errors[SS.STAFFING] == {"D8": "#REF!"}
    assert value(raw.values[SS.STAFFING], "D8") == ""  # what python-calamine gives for errors
    # python-calamine refuses a $ in a merged range (Excel never writes one): a ReadProblem,
    # not an exception
    dollars = rewrite_zip(plan, tmp_path / "dollars.xlsx",
                          replace={part: xml.replace(b'ref="G8:G9"', b'ref="$G$8:$G$9"')})
    with pytest.raises(ReadProblem) as caught:
        read_workbook(dollars)
    assert caught.value.code == "unreadable"


def test_edit_cells_xml_types_and_keeps_the_rest(plan, tmp_path):
    edited = edit_cells_xml(plan, tmp_path / "edited.xlsx", SS.STAFFING, {
        STAFF.cell("fte", 1): "=1/2",  # a formula typed into an input
        STAFF.cell("cost", 0): 99999,  # a formula typed over
        STAFF.cell("fte", 0): None,  # cleared
        "M200": True,  # a new cell on a new row, beyond the table
        STAFF.cell("note", 1): Text("=HYPERLINK(\"x\")"),  # text, though it begins with =
    })
    raw = read_workbook(edited)
    formulas = raw.formulas[SS.STAFFING]
    assert STAFF.cell("fte", 1) in formulas
    assert STAFF.cell("cost", 0) not in formulas
    rows = raw.values[SS.STAFFING]
    assert value(rows, STAFF.cell("cost", 0)) == 99999
    assert value(rows, STAFF.cell("fte", 0)) == ""
    assert value(rows, "M200") is True
    assert value(rows, STAFF.cell("note", 1)) == '=HYPERLINK("x")'
    assert STAFF.cell("note", 1) not in formulas
    with zipfile.ZipFile(plan) as a, zipfile.ZipFile(edited) as b:
        part = sheet_part(plan, SS.STAFFING)
        assert a.namelist() == b.namelist()
        assert all(a.read(n) == b.read(n) for n in a.namelist() if n != part)
        before, after = a.read(part), b.read(part)
    untouched = re.compile(rb'<c r="(?:D7|D8|J7|G8)"[^>]*?(?:/>|>.*?</c>)|<row r="200".*?</row>',
                           re.S)
    assert untouched.sub(b"", before) == untouched.sub(b"", after)


def test_add_sheet(plan, tmp_path):
    added = add_sheet(plan, tmp_path / "added.xlsx", "My Notes", {"A1": "hello", "B2": 3})
    raw = read_workbook(added)
    assert raw.sheet_names == [*SS.ORDER, "My Notes"]
    assert value(raw.values["My Notes"], "A1") == "hello"
    assert value(raw.values["My Notes"], "B2") == 3
    hidden = add_sheet(plan, tmp_path / "hidden.xlsx", "xlwings.conf", state="veryHidden")
    assert "xlwings.conf" in read_workbook(hidden).hidden_sheets


def test_python_calamine_sees_only_checked_parts(plan, tmp_path):
    logo = rewrite_zip(plan, tmp_path / "logo.xlsx",
                       add={"xl/media/image1.png": os.urandom(200_000)})
    found = workbook._inspect(logo.read_bytes(), logo.name, Limits(), [SS.STAFFING])
    assert set(found.parts) == {"_rels/.rels", "[Content_Types].xml", "xl/workbook.xml",
                                "xl/_rels/workbook.xml.rels", "xl/styles.xml",
                                "xl/sharedStrings.xml", sheet_part(plan, SS.STAFFING)}
    raw = read_workbook(logo, sheets=[SS.STAFFING])
    assert raw.values[SS.STAFFING] == read_workbook(plan).values[SS.STAFFING]


def test_fast_and_general_sheet_scans_agree(plan, tmp_path):
    """The regex fast path and the expat path give the same facts, and the same refusals."""
    limits = Limits()
    with zipfile.ZipFile(plan) as z:
        parts = [z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
    staffing = parts[2]
    crafted = [
        staffing.replace(b"</sheetData>", b'</sheetData><mergeCells count="1"><mergeCell '
                         b'ref="A1:B2"/></mergeCells>', 1),
        re.sub(rb'<c r="D9"[^>]*/>', b'<c r="D9" t="e"><f>1/0</f><v>#DIV/0!</v></c>',
               staffing, count=1),
        f'<worksheet xmlns="{MAIN_NS}"><sheetData><row r="3"><c r="B3"><f t="shared" '
        'ref="B3:B4" si="0">A1</f><v>1</v></c></row><row r="4"><c r="B4"><f t="shared" '
        'si="0"/></c></row></sheetData></worksheet>'.encode(),
    ]
    assert all(xml != staffing for xml in crafted[:2])
    for xml in [*parts, *crafted]:
        fast = fast_scan._scan_fast(xml, limits)
        general = sheet_scan._SheetScan(limits)
        general.feed(xml)
        assert fast is not None and fast == general.close()
    # shapes the fast path declines, read by expat the way python-calamine reads them
    odd = (f'<x:worksheet xmlns:x="{MAIN_NS}"><x:sheetData><x:row r="2"><x:c r="C2"><x:f>1'
           '</x:f></x:c><x:c r="D2"><x:v>2</x:v></x:c></x:row><x:row><x:c r="A3"><x:v>3</x:v>'
           '</x:c></x:row>'
           "</x:sheetData><x:extLst><xm:f xmlns:xm='y'>Lists!A1</xm:f></x:extLst>"
           "</x:worksheet>").encode()
    assert fast_scan._scan_fast(odd, limits) is None
    facts = fast_scan._scan_sheet_bytes(iter([odd]), limits)
    assert facts.formulas == {"C2"}
    assert facts.formula_text == {"C2": "1"}
    tight = Limits(max_columns=4, max_rows=2)
    with pytest.raises(cells._TooFar) as caught:
        fast_scan._scan_sheet_bytes(iter([odd]), tight)
    assert caught.value.cell == "A3"  # the <row> without r is row 3, as its cell says
    # a cell without r, or with r spelled otherwise: gnumeric places it elsewhere
    for cell in (b"<x:c>", b'<x:c r="a3">', b'<x:c r="$A$3">', b'<x:c r="A03">',
                 b'<x:c r=" A3 ">'):
        with pytest.raises(cells._Unusual) as unusual:
            fast_scan._scan_sheet_bytes(iter([odd.replace(b'<x:c r="A3">', cell)]), limits)
        assert (unusual.value.code, unusual.value.cell) == ("unexpected-markup", "A3")


def test_big_sheets_stream_through_expat(plan, monkeypatch):
    expected = read_workbook(plan)
    monkeypatch.setattr(fast_scan, "_FAST_MAX", 1000)  # every sheet is "big" now
    raw = read_workbook(plan)
    assert (raw.formulas, raw.merged, raw.errors) == \
        (expected.formulas, expected.merged, expected.errors)
    with pytest.raises(ReadProblem) as caught:
        read_workbook(plan, Limits(max_rows=100))
    assert caught.value.code == "too-many-cells"


# --- formula text ---------------------------------------------------------------------------

STRICT_NS = "http://purl.oclc.org/ooxml/spreadsheetml/main"


def both_scans(xml: bytes) -> cells._SheetFacts:
    """The facts of a sheet by the general path, and by the fast path when it takes it."""
    limits = Limits()
    general = sheet_scan._SheetScan(limits)
    general.feed(xml)
    facts = general.close()
    fast = fast_scan._scan_fast(xml, limits)
    assert fast is None or fast == facts
    return facts


def staffing_with(plan: Path, dst: Path, cells: dict[str, bytes], root: bytes = b"") -> Path:
    """The plan with Staffing cells replaced by raw <c> elements (and attributes on the root)."""
    part = sheet_part(plan, SS.STAFFING)
    with zipfile.ZipFile(plan) as z:
        xml = z.read(part)
    for coord, new in cells.items():
        xml = replace_cell(xml, coord, new)
    if root:
        xml = xml.replace(f'<worksheet xmlns="{MAIN_NS}"'.encode(),
                          f'<worksheet xmlns="{MAIN_NS}" '.encode() + root, 1)
    return rewrite_zip(plan, dst, replace={part: xml})


def test_formula_text_is_what_a_spreadsheet_shows(plan):
    raw = read_workbook(plan)
    assert raw.formula_text == openpyxl_formulas(plan)
    assert raw.array_ranges == {sheet: {} for sheet in SS.ORDER}
    for sheet, texts in raw.formula_text.items():
        assert raw.formulas[sheet] == set(texts), sheet
    with zipfile.ZipFile(plan) as z:
        assert b"&amp;" in z.read(sheet_part(plan, SS.STAFFING))  # the plan's formulas use &
    written = [t for texts in raw.formula_text.values() for t in texts.values()]
    assert any("&" in t for t in written) and not any("&amp;" in t for t in written)
    assert not any(t.startswith("=") for t in written)
    assert raw.calc == {"calcId": "124519", "fullCalcOnLoad": "1"}


def test_shared_formulas_are_expanded_to_each_cell(plan, tmp_path):
    master = b'<c r="I7" s="17"><f t="shared" ref="I7:I9" si="0">ROUND(J7-H7+$D$4,2)</f></c>'
    cells = {"I7": master, "I8": b'<c r="I8" s="17"><f t="shared" si="0"/><v>1</v></c>',
             "I9": b'<c r="I9" s="17"><f t="shared" si="0"></f></c>'}
    shared = staffing_with(plan, tmp_path / "shared.xlsx", cells)
    for path in (shared, *(p for p, _ in read_many([shared], workers=1))):
        raw = read_workbook(path)
        texts = raw.formula_text[SS.STAFFING]
        assert (texts["I7"], texts["I8"], texts["I9"]) == \
            ("ROUND(J7-H7+$D$4,2)", "ROUND(J8-H8+$D$4,2)", "ROUND(J9-H9+$D$4,2)")
        assert raw.formula_text == openpyxl_formulas(shared)
    # both paths agree, in any spelling of the namespace
    with zipfile.ZipFile(shared) as z:
        xml = z.read(sheet_part(plan, SS.STAFFING))
    prefixed = re.sub(rb"<(/?)(c|f|v|row|sheetData|is|t)([ >/])", rb"<\1y:\2\3", xml).replace(
        b"<worksheet ", f'<worksheet xmlns:y="{MAIN_NS}" '.encode(), 1)
    assert prefixed != xml and fast_scan._scan_fast(prefixed, Limits()) is None
    assert both_scans(prefixed).formula_text == both_scans(xml).formula_text
    assert both_scans(xml).formula_text["I9"] == "ROUND(J9-H9+$D$4,2)"


@pytest.mark.parametrize("cells, detail", [
    ({"I8": b'<c r="I8"><f t="shared" si="3"/></c>'}, "never defines"),
    ({"I7": b'<c r="I7"><f t="shared" ref="I7:I8" si="0">J7</f></c>',
      "I9": b'<c r="I9"><f t="shared" si="0"/></c>'}, "does not include it"),
    ({"I7": b'<c r="I7"><f t="shared" ref="I7:I8" si="0">J7</f></c>',
      "I8": b'<c r="I8"><f t="shared" ref="I8:I9" si="0">J8</f></c>'}, "defined twice"),
    ({"I7": b'<c r="I7"><f t="shared" ref="I7:I9" si="0"/></c>'}, "has no formula"),
    ({"I7": b'<c r="I7"><f t="shared" ref="I7:I9" si="0">J7</f></c>',
      "I8": b'<c r="I8"><f t="shared" si="0">K99</f></c>'}, "at once"),
    ({"I7": b'<c r="I7"><f t="shared" ref="$I$7:$I$9" si="0">J7</f></c>'}, "not a range"),
    ({"I7": b'<c r="I7"><f t="shared" ref="I8:I9" si="0">J7</f></c>'}, "outside its own"),
    ({"I7": b'<c r="I7"><f t="shared" si="x">J7</f></c>'}, "no valid number"),
    ({"I7": b'<c r="I7"><f t="array" ref="I9:I7">J7</f></c>'}, "not a range"),
    ({"I7": b'<c r="I7"><f t="array" ref="I7:I8">J7</f></c>',
      "I8": b'<c r="I8"/>', "I9": b'<c r="I9"><f t="array" ref="I8:I9">J8</f></c>'},
     "two array formulas"),
    ({"I7": b'<c r="I7"><f t="array" ref="I7:I8">J7</f></c>',
      "I8": b'<c r="I8"><f>J8</f></c>'}, "formula of its own"),
    ({"I7": b'<c r="I7"><f t="lambda">J7</f></c>'}, "kind Excel does not know"),
])
def test_damaged_formulas_are_refused(plan, tmp_path, cells, detail):
    damaged = staffing_with(plan, tmp_path / "damaged.xlsx", cells)
    with pytest.raises(ReadProblem) as caught:
        read_workbook(damaged)
    p = caught.value
    assert p.code == "not-an-xlsx-file" and detail in p.message, p.message
    assert p.sheet == SS.STAFFING and p.cell in cells
    assert "save it as Excel Workbook (.xlsx)" in p.message


def test_array_formulas_and_data_tables_cover_their_ranges(plan, tmp_path):
    fte = [STAFF.cell("fte", i) for i in range(3)]  # D7:D9, inputs
    assert fte == ["D7", "D8", "D9"]
    cells = {"D8": b'<c r="D8"><f t="array" ref="D7:D9">{0.5;1;1}</f><v>1</v></c>',
             "D7": b'<c r="D7" t="n"><v>0.5</v></c>', "D9": b'<c r="D9" t="n"><v>1</v></c>',
             "G7": b'<c r="G7"><f t="dataTable" ref="G7:G8" dt2D="0" dtr="1" r1="A1"/></c>'}
    covered = staffing_with(plan, tmp_path / "array.xlsx", cells)
    results = [read_workbook(covered)] + [r for _, r in read_many([covered], workers=1)]
    for raw in results:
        assert raw.array_ranges[SS.STAFFING] == {"D8": "D7:D9", "G7": "G7:G8"}
        assert {"D7", "D8", "D9", "G7", "G8"} <= raw.formulas[SS.STAFFING]
        texts = raw.formula_text[SS.STAFFING]
        assert texts["D8"] == "{0.5;1;1}" and texts["G7"] == "TABLE(A1,)"
        assert not {"D7", "D9", "G8"} & set(texts)
        assert raw.formulas[SS.STAFFING] == set(texts) | {"D7", "D9", "G8"}
        assert value(raw.values[SS.STAFFING], "D7") == 0.5


def test_formulas_are_found_by_namespace_not_prefix(plan, tmp_path):
    fte = STAFF.cell("fte", 0)
    spellings = {
        # a second prefix for SpreadsheetML on the root, used on an inner element only
        "prefix": (b'<c r="%s"><y:f>1+1</y:f><v>2</v></c>', f'xmlns:y="{MAIN_NS}"'.encode()),
        # a prefix declared on the cell itself
        "inner": (b'<c r="%s"><z:f xmlns:z="' + MAIN_NS.encode() + b'">1+1</z:f><v>2</v></c>',
                  b""),
        # strict SpreadsheetML
        "strict": (b'<c r="%s"><s:f xmlns:s="' + STRICT_NS.encode() + b'">1+1</s:f></c>', b""),
        # the default namespace declared again on the cell
        "default": (b'<c r="%s" xmlns="' + MAIN_NS.encode() + b'"><f>1+1</f></c>', b""),
    }
    for name, (cell, root) in spellings.items():
        path = staffing_with(plan, tmp_path / f"{name}.xlsx",
                             {fte: cell % fte.encode()}, root=root)
        for raw in (read_workbook(path), *(r for _, r in read_many([path], workers=1))):
            assert fte in raw.formulas[SS.STAFFING], name
            assert raw.formula_text[SS.STAFFING][fte] == "1+1", name
    # an <f> of another vocabulary is no formula, and no spreadsheet reads it in a cell
    other = staffing_with(plan, tmp_path / "other.xlsx", {
        fte: b'<c r="%s"><q:f xmlns:q="urn:example:q">1+1</q:f></c>' % fte.encode()})
    with pytest.raises(ReadProblem) as caught:
        read_workbook(other)
    assert (caught.value.code, caught.value.cell) == ("unexpected-markup", fte)


def test_fast_path_and_expat_agree_on_formula_text(plan):
    with zipfile.ZipFile(plan) as z:
        staffing = z.read(sheet_part(plan, SS.STAFFING))
    variants = [
        replace_cell(staffing, "I7", b'<c r="I7"><f>"a&amp;lt;b" &amp; "&quot;&#65;&#x42;"</f>'
                     b"</c>"),
        replace_cell(staffing, "I7", b'<c r="I7"><f aca="false">SUM( J7 ,\nH7 )</f></c>'),
        re.sub(rb"(</c>|</row>)", rb"\1\n  ", staffing),  # indented, as gnumeric writes
        staffing.replace(b"<sheetData>", b"<sheetData>\n", 1),
        b"\xef\xbb\xbf" + staffing,  # a UTF-8 byte-order mark
    ]
    texts = []
    for xml in variants:
        facts = both_scans(xml)
        texts.append(facts.formula_text)
        assert fast_scan._scan_fast(xml, Limits()) is not None or xml.startswith(b"\xef")
    assert texts[0]["I7"] == '"a&lt;b" & ""AB"'
    assert texts[1]["I7"] == "SUM( J7 ,\nH7 )"
    assert texts[2] == texts[3] == both_scans(staffing).formula_text



def test_fast_and_general_paths_agree_on_mutated_sheets(plan):
    """Random edits of a plan's sheets (as written, and indented as gnumeric writes them):
    whenever the fast path decides, the general path decides the same; or, where the fast
    path read the cells, expat finds the XML broken elsewhere (left to python-calamine)."""
    import random
    from xml.parsers.expat import ExpatError

    with zipfile.ZipFile(plan) as z:
        sheets = [z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/")]
    sheets += [re.sub(rb"(</c>|</row>|<row [^>]*>)", rb"\1\n  ", x) for x in sheets]
    snippets = [b"<", b">", b"/", b" ", b"\n", b'"', b"&amp;", b"&#65;", b"&", b"<f>1</f>",
                b"<v>2</v>", b'<c r="A1"/>', b"</c>", b"x:", b' t="inlineStr"', b' t="e"',
                b"<is><t>a</t></is>", b"<row>", b"</row>", b'<f t="shared" si="0"/>',
                b'<f t="shared" ref="A1:A9" si="0">B1</f>', b'<f t="array" ref="A1:B2">1</f>',
                b"\r", b"<r><t>x</t></r>", b"<!-- c -->",
                f' xmlns:y="{MAIN_NS}"'.encode()]

    def outcome(scan):
        try:
            return "read", scan()
        except cells._TooFar as e:
            return "too-many-cells", e.cell
        except cells._Unusual as e:
            return e.code, e.cell
        except ExpatError:
            return "broken", None

    def general(xml):
        scan = sheet_scan._SheetScan(Limits())
        scan.feed(xml)
        return scan.close()

    rng = random.Random(13)
    decided = 0
    for _ in range(1500):
        xml = bytearray(rng.choice(sheets))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(xml))
            if rng.random() < 0.5:
                xml[at:at] = rng.choice(snippets)
            else:
                del xml[at:at + rng.randint(1, 12)]
        fast = outcome(lambda xml=bytes(xml): fast_scan._scan_fast(xml, Limits()))
        if fast == ("read", None):
            continue  # declined: the general path alone decides
        decided += 1
        slow = outcome(lambda xml=bytes(xml): general(xml))
        if fast[0] == "read":
            assert slow == fast or slow[0] == "broken", (fast[0], slow[0])
        else:
            assert slow[0] != "read", fast  # both refuse (perhaps for different reasons)
    assert decided > 200

# --- what a spreadsheet shows -----------------------------------------------------------------

def test_phonetic_and_rich_text_read_as_excel_shows_them(plan, tmp_path):
    """python-calamine joins the <t> of a text outside its phonetic runs (<rPh>), as Excel
    shows it; so a text in the schema's form reads the same, and only other forms (two <t>,
    <t> and runs, alternate content) are refused, with unexpected-markup or
    alternate-content (see the corpus)."""
    items = [
        "<si><t>漢字</t><rPh sb=\"0\" eb=\"2\"><t>かんじ</t></rPh><phoneticPr fontId=\"1\"/></si>",
        "<si><r><t xml:space=\"preserve\">Grade 3 </t></r><r><rPr><b/><sz val=\"11\"/></rPr>"
        "<t>reading</t></r><rPh sb=\"0\" eb=\"1\"><t>よみ</t></rPh></si>",
        "<si><t/></si>",
        "<si><t xml:space=\"preserve\"> lead &amp; \"coach\" </t></si>",
    ]
    shown = ["漢字", "Grade 3 reading", "", ' lead & "coach" ']
    notes = [STAFF.cell("note", i) for i in range(len(items))]
    path = with_shared_strings(plan, tmp_path / "texts.xlsx", [i.encode() for i in items],
                               {coord: i for i, coord in enumerate(notes)})
    import openpyxl

    ws = openpyxl.load_workbook(path)[SS.STAFFING]
    assert [ws[c].value or "" for c in notes] == shown  # openpyxl agrees
    for raw in (read_workbook(path), *(r for _, r in read_many([path], workers=1))):
        assert [value(raw.values[SS.STAFFING], c) for c in notes] == shown
    # the same texts inline in the cells (openpyxl's and some programs' way)
    inline = staffing_with(plan, tmp_path / "inline.xlsx", {
        c: f'<c r="{c}" t="inlineStr"><is>{i[4:-5]}</is></c>'.encode()
        for c, i in zip(notes, items, strict=True)})
    raw = read_workbook(inline)
    assert [value(raw.values[SS.STAFFING], c) for c in notes] == shown
    # spaces at the ends of a <t> not marked xml:space="preserve": Excel does not show them
    # and python-calamine drops them too (openpyxl keeps them); in a run of rich text, where
    # spreadsheets differ, the text is refused
    plain = with_shared_strings(plan, tmp_path / "plain.xlsx", [b"<si><t> GEN\t</t></si>"],
                                {STAFF.cell("fund", 0): 0})
    assert value(read_workbook(plain).values[SS.STAFFING], STAFF.cell("fund", 0)) == "GEN"
    # a line break written as a reference at the end of an inline text is kept, as
    # LibreOffice shows it (then the fund is not one of the list, and is reported)
    fund, blank = STAFF.cell("fund", 0), build_plan(tmp_path / "blank.xlsx")
    for stored, shown_as in ((b"GEN&#10;", "GEN\n"), (b"&#32;GEN", " GEN"), (b"GEN&#x9;", "GEN\t"),
                             (b"G&amp;N", "G&N")):
        cell = b'<c r="' + fund.encode() + b'" t="inlineStr"><is><t>' + stored + b"</t></is></c>"
        broken = staffing_with(blank, tmp_path / "ref.xlsx", {fund: cell})
        for raw in (read_workbook(broken), *(r for _, r in read_many([broken], workers=1))):
            assert value(raw.values[SS.STAFFING], fund) == shown_as, stored
    for where, make in (("shared", lambda xml: with_shared_strings(
            plan, tmp_path / "run.xlsx", [b"<si>" + xml + b"</si>"], {"G8": 0})),
                        ("inline", lambda xml: staffing_with(plan, tmp_path / "run.xlsx", {
                            "G8": b'<c r="G8" t="inlineStr"><is>' + xml + b"</is></c>"}))):
        for runs in (b"<r><t>Grade 3 </t></r><r><t>reading</t></r>",
                     b"<r><t>Grade</t></r><r><t> </t></r><r><t>3</t></r>"):
            with pytest.raises(ReadProblem) as caught:
                read_workbook(make(runs))
            assert caught.value.code == "unexpected-markup", where
            assert (caught.value.sheet, caught.value.cell) == (SS.STAFFING, "G8"), where


def test_problems_in_shared_strings_name_the_cell(corpus):
    directory, _ = corpus
    with pytest.raises(ReadProblem) as caught:
        read_workbook(directory / "shared-text-two-parts.xlsx")
    assert (caught.value.sheet, caught.value.cell) == (SS.STAFFING, "E7")
    assert "cell E7 of sheet Staffing" in caught.value.message
    # alternative versions between two texts: the reader places them at the text before
    # (preflight.strings._scan_strings counts the last <si> begun), "from" there "on"; the
    # plan's own texts (XlsxWriter writes shared strings) come first, so that is one of its cells
    with pytest.raises(ReadProblem) as caught:
        read_workbook(directory / "alternate-strings.xlsx")
    assert caught.value.code == "alternate-content"
    cell = f"cell {caught.value.cell} of sheet {caught.value.sheet}"
    assert caught.value.cell and cell in caught.value.message and " on, " in caught.value.message


def test_unseen_content_problems_say_where(corpus):
    directory, shapes = corpus
    for name, code in shapes.items():
        if code in ("duplicate-cells", "alternate-content", "unexpected-markup"):
            with pytest.raises(ReadProblem) as caught:
                read_workbook(directory / name)
            p = caught.value
            assert "Excel Workbook (.xlsx)" in p.message, name
            if "(xl/workbook.xml)" not in p.message:  # the workbook's sheets: no cell
                assert p.sheet and p.cell, name
        if code == "unsupported-encoding":
            with pytest.raises(ReadProblem) as caught:
                read_workbook(directory / name)
            assert "UTF-8" in caught.value.message
            assert "save it as Excel Workbook (.xlsx)" in caught.value.message


def test_excel_alternate_content_elsewhere_is_read(corpus):
    directory, _ = corpus
    raw, original = read_workbook(directory / "excel-alternate-content.xlsx"), \
        read_workbook(directory / "valid.xlsx")
    assert raw.values == original.values
    assert raw.formula_text == original.formula_text
    assert (raw.defined_names, raw.local_names, raw.calc) == \
        (original.defined_names, original.local_names, original.calc)  # not x14's names
    with zipfile.ZipFile(directory / "excel-alternate-content.xlsx") as z:
        assert b"<x15:workbookPr" in z.read("xl/workbook.xml")
    with zipfile.ZipFile(directory / "excel-alternate-content.xlsx") as z:
        start = z.read(sheet_part(directory / "valid.xlsx", SS.START))
    assert b"AlternateContent" in start and b"<controls>" in start
    assert fast_scan._scan_fast(start, Limits()) is not None  # still the fast path
    both_scans(start)


def test_workbook_parts_python_calamine_reads_by_name_are_where_excel_reads_them(plan,
                                                                                 tmp_path):
    with zipfile.ZipFile(plan) as z:
        workbook = z.read("xl/workbook.xml")
    ext = (b'<extLst><ext uri="{x}" xmlns:q="urn:example:q">%s</ext></extLst></workbook>')
    cases = {  # python-calamine would take the 1904 date system, or a sheet, from these
        b'<q:workbookPr date1904="1"/>': "unexpected-markup",
        b'<q:sheets><q:sheet name="Staffing" sheetId="3" r:id="rId3"/></q:sheets>':
            "unexpected-markup",
        b'<workbookPr xmlns="' + MAIN_NS.encode() + b'" date1904="1"/>': "unexpected-markup",
        b'<q:workbookPr chartTrackingRefBase="1"/>': None,  # what Excel writes: fine
    }
    for inner, code in cases.items():
        edited = workbook.replace(b"</workbook>", ext % inner, 1)
        path = rewrite_zip(plan, tmp_path / "wb.xlsx", replace={"xl/workbook.xml": edited})
        if code is None:
            assert read_workbook(path).sheet_names == list(SS.ORDER)
        else:
            with pytest.raises(ReadProblem) as caught:
                read_workbook(path)
            assert caught.value.code == code, inner


def test_utf8_with_a_byte_order_mark_and_declaration_reads(plan, tmp_path):
    part = sheet_part(plan, SS.STAFFING)
    with zipfile.ZipFile(plan) as z:
        xml = z.read(part)
    if xml.startswith(b"<?xml"):  # one declaration, ours
        xml = xml[xml.index(b"?>") + 2:].lstrip()
    marked = rewrite_zip(plan, tmp_path / "bom.xlsx", replace={
        part: b"\xef\xbb\xbf<?xml version='1.0' encoding='utf-8' standalone='yes'?>\n" + xml})
    raw = read_workbook(marked)
    assert raw.values == read_workbook(plan).values
    assert raw.formula_text == read_workbook(plan).formula_text


def test_calculation_settings_are_given_as_written(plan, tmp_path):
    with zipfile.ZipFile(plan) as z:
        workbook = z.read("xl/workbook.xml")
    manual = re.sub(rb"<calcPr[^>]*/>", b'<calcPr calcId="191029" calcMode="manual" '
                    b'fullPrecision="0" iterate="1"/>', workbook)
    assert manual != workbook
    path = rewrite_zip(plan, tmp_path / "manual.xlsx", replace={"xl/workbook.xml": manual})
    assert read_workbook(path).calc == {"calcId": "191029", "calcMode": "manual",
                                        "fullPrecision": "0", "iterate": "1"}
    twice = manual.replace(b"<calcPr ", b'<calcPr calcMode="auto"/><calcPr ', 1)
    path = rewrite_zip(plan, tmp_path / "twice.xlsx", replace={"xl/workbook.xml": twice})
    with pytest.raises(ReadProblem) as caught:
        read_workbook(path)
    assert caught.value.code == "unexpected-markup"


# --- LibreOffice ----------------------------------------------------------------------------

def _unquoted(text: str) -> str:
    return re.sub(r"'([^' &]+)'!", r"\1!", text)


@pytest.mark.libreoffice
def test_a_file_saved_by_libreoffice_reads_the_same(plan, tmp_path, soffice):
    from ssfr_xl.libreoffice import recalculate

    (saved,) = recalculate([plan], tmp_path / "lo")
    ours, theirs = read_workbook(plan), read_workbook(saved)
    assert theirs.application.startswith("LibreOffice")
    assert theirs.warnings == []
    assert theirs.sheet_names == ours.sheet_names
    assert theirs.hidden_sheets == ours.hidden_sheets
    assert theirs.formulas == ours.formulas
    for name, text in ours.defined_names.items():
        assert _unquoted(theirs.defined_names[name]) == _unquoted(text), name
    for sheet, rows in ours.values.items():
        other = theirs.values[sheet]
        height = max(len(rows), len(other))
        width = max(len(r) for r in [*rows, *other, []])
        for r in range(height):
            for c in range(width):
                coord = f"{cells._column_letters(c + 1)}{r + 1}"
                if coord in ours.formulas[sheet]:
                    continue  # openpyxl stores no results; LibreOffice computed them
                assert value(rows, coord) == value(other, coord), (sheet, coord)
    # the numbers a principal typed survive the round trip
    assert value(theirs.values[SS.STAFFING], STAFF.cell("fte", 0)) == 0.5
    assert value(theirs.values[SS.STAFFING], STAFF.cell("cost", 0)) > 0


# --- isolation ------------------------------------------------------------------------------

def _calamine_abort_on(name: str):
    """A worker hook that really makes python-calamine abort on one file (no pre-flight)."""

    def hook(path: Path) -> None:
        if path.name == name:
            from python_calamine import CalamineWorkbook

            CalamineWorkbook.from_path(str(path)).get_sheet_by_name(SS.OTHER)

    return hook


@pytest.fixture
def plans(plan, tmp_path) -> list[Path]:
    copies = []
    for i in range(6):
        copies.append(tmp_path / f"plan{i}.xlsx")
        copies[-1].write_bytes(plan.read_bytes())
    return copies


def test_a_worker_crash_is_contained(plans, corpus):
    directory, _ = corpus
    stray = directory / "xfd1048576.xlsx"
    paths = [*plans[:3], stray, *plans[3:]]
    results = dict(read_many(paths, workers=2, _hook=_calamine_abort_on(stray.name)))
    assert set(results) == set(paths)
    assert results[stray].code == "read-crashed"
    assert all(isinstance(results[p], RawWorkbook) for p in plans)


def test_a_timeout_is_contained(plans):
    slow = plans[1]

    def hook(path: Path) -> None:
        if path == slow:
            time.sleep(60)

    started = time.perf_counter()
    results = dict(read_many(plans, Limits(timeout_seconds=1.0), workers=2, _hook=hook))
    assert time.perf_counter() - started < 20
    assert results[slow].code == "read-timeout"
    assert all(isinstance(results[p], RawWorkbook) for p in plans if p != slow)


def test_running_out_of_memory_is_contained(plans):
    hungry = plans[0]

    def hook(path: Path) -> None:
        if path == hungry:
            bytearray(8 * 2**30)

    results = dict(read_many(plans, Limits(memory_mb=500), workers=1, _hook=hook))
    assert results[hungry].code == "read-out-of-memory"
    assert all(isinstance(results[p], RawWorkbook) for p in plans if p != hungry)


def test_an_unexpected_exception_is_an_internal_error_never_disguised(plans):
    def hook(path: Path) -> None:
        if path == plans[2]:
            raise RuntimeError("a bug in the reader")

    results = dict(read_many(plans, workers=2, _hook=hook))
    assert results[plans[2]].code == "internal-error"
    assert "ssfr-xl maintainer" in results[plans[2]].message
    assert "a bug in the reader" in results[plans[2]].message
    assert all(isinstance(results[p], RawWorkbook) for p in plans if p != plans[2])


def test_a_host_without_a_real_stderr_still_reads(plans, monkeypatch):
    """click's CliRunner and notebooks replace sys.stderr with objects without a descriptor,
    while faulthandler is on (pytest turns it on): the workers must start all the same."""
    import faulthandler
    import io

    was_enabled = faulthandler.is_enabled()
    faulthandler.enable()
    monkeypatch.setattr("sys.stderr", io.StringIO())
    try:
        results = dict(read_many(plans, workers=2))
    finally:
        if not was_enabled:
            faulthandler.disable()
    assert all(isinstance(r, RawWorkbook) for r in results.values())


def test_workers_that_cannot_start_are_not_blamed_on_the_files(plans, monkeypatch):
    from ssfr_xl.errors import SsfrError

    def refuse(_memory_mb: int) -> None:
        raise OSError("no memory limits here")

    monkeypatch.setattr(reader, "_limit_memory", refuse)
    with pytest.raises(SsfrError, match="no memory limits here"):
        list(read_many(plans, workers=2))


def test_every_path_is_yielded_once(plans, tmp_path):
    paths = [plans[0], plans[0], tmp_path / "missing.xlsx", *plans[1:]]
    results = list(read_many(paths, workers=2))
    assert Counter(p for p, _ in results) == Counter(paths)
    assert [r.code for p, r in results if p.name == "missing.xlsx"] == ["unreadable"]
    assert list(read_many([])) == []


def test_closing_early_stops_the_workers(plans):
    before = set(multiprocessing.active_children())
    results = read_many(plans * 3, workers=2)
    next(results)
    assert set(multiprocessing.active_children()) - before  # the workers
    results.close()
    deadline = time.monotonic() + 10
    while set(multiprocessing.active_children()) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(multiprocessing.active_children()) - before == set()


def test_read_many_reports_progress_and_is_quick(plans):
    said: list[str] = []
    paths = plans * 10
    started = time.perf_counter()
    results = list(read_many(paths, progress=said.append))
    elapsed = time.perf_counter() - started
    assert all(isinstance(r, RawWorkbook) for _, r in results)
    assert said[-1] == f"read {len(paths)}/{len(paths)} files"
    assert elapsed < 30  # about 0.5 s on two idle cores; generous for a busy machine


def test_read_problem_pickles_and_becomes_a_finding():
    p = ReadProblem("too-many-cells", "Sheet X has ...", sheet="X", cell="XFD1")
    q = pickle.loads(pickle.dumps(p))
    assert (q.code, q.message, q.severity, q.sheet, q.cell) == \
        ("too-many-cells", "Sheet X has ...", "error", "X", "XFD1")
    finding = q.as_finding("plan.xlsx", "01999996000013")
    assert (finding.sheet, finding.cell, finding.code) == ("X", "XFD1", "too-many-cells")


# --- what spreadsheets read otherwise than python-calamine: refused, never guessed ----------

def _edited_sheet(plan: Path, dst: Path, sheet: str, edit) -> Path:
    part = sheet_part(plan, sheet)
    with zipfile.ZipFile(plan) as z:
        xml = z.read(part)
    return rewrite_zip(plan, dst, replace={part: edit(xml)})


def _problem(path: Path) -> ReadProblem:
    with pytest.raises(ReadProblem) as caught:
        read_workbook(path)
    return caught.value


def test_text_spelled_with_references_comments_or_cdata_reads_as_shown(plan, tmp_path):
    """Inside <t> (inline or shared) python-calamine reads references, comments, processing
    instructions and CDATA as every spreadsheet does: nothing to refuse there."""
    fund = STAFF.cell("fund", 0)
    spellings = [b"G&#69;N", b"G<!-- x -->EN", b"G<?pi x?>EN", b"G<![CDATA[E]]>N", b"&#x47;EN"]
    for n, text in enumerate(spellings):
        path = _edited_sheet(plan, tmp_path / f"inline{n}.xlsx", SS.STAFFING, lambda x, t=text:
                             replace_cell(x, fund, b'<c r="%s" t="inlineStr"><is><t>%s</t></is>'
                                          b"</c>" % (fund.encode(), t)))
        raw = read_workbook(path, sheets=[SS.STAFFING])
        row, col = int(fund[1:]) - 1, ord(fund[0]) - 65
        assert raw.values[SS.STAFFING][row][col] == "GEN", text
        shared = with_shared_strings(plan, tmp_path / f"shared{n}.xlsx",
                                     [b"<si><t>" + text + b"</t></si>"], {fund: 0})
        assert read_workbook(shared, sheets=[SS.STAFFING]).values[SS.STAFFING][row][col] \
            == "GEN", text


@pytest.mark.parametrize(("value", "kind"), [
    (b"38,094.69", b""), (b"0x10", b""), (b"38094.69\t", b""), (b"38094.69\n", b""),
    (b"\xef\xbc\x93\xef\xbc\x98", b""), (b"3&#56;", b""), (b"3<!-- -->8", b""), (b"3<?x?>8", b""),
    (b"<![CDATA[38]]>", b""), (b" 38", b' t="n"'), (b"2", b' t="b"'), (b"TRUE", b' t="b"'),
    (b"38", b' t="e"'), (b"#SPILL!", b' t="e"'), (b"-1", b' t="s"'), (b"00", b' t="s"'),
    (b"999999", b' t="s"'), (b"38", b' t="x"'), (b"38", b' t="N"'),
])
@pytest.mark.parametrize("path_kind", ["fast", "streaming"])
def test_values_python_calamine_cannot_read_are_refused_at_their_cell(
        plan, tmp_path, monkeypatch, value, kind, path_kind):
    cell = OTHER.cell("amount", 0)
    path = _edited_sheet(plan, tmp_path / "value.xlsx", SS.OTHER, lambda x: replace_cell(
        x, cell, b'<c r="%s"%s><v>%s</v></c>' % (cell.encode(), kind, value)))
    if path_kind == "streaming":  # every sheet through expat, in small chunks
        monkeypatch.setattr(fast_scan, "_FAST_MAX", 1000)
        monkeypatch.setattr(package, "_OUT_CHUNK", 4096)
    p = _problem(path)
    assert (p.code, p.sheet, p.cell) == ("unexpected-markup", SS.OTHER, cell), p.message
    assert p.message.endswith(reader._RESAVE)


@pytest.mark.parametrize("r", [None, "g7", "$G$7", "G07", " G7 "])
def test_cells_with_no_or_a_non_canonical_address_are_refused(plan, tmp_path, r):
    cell = OTHER.cell("amount", 0)
    attr = b"" if r is None else b' r="%s"' % r.replace("G7", cell).replace(
        "g7", cell.lower()).encode()
    path = _edited_sheet(plan, tmp_path / "r.xlsx", SS.OTHER, lambda x: replace_cell(
        x, cell, b"<c%s><v>1</v></c>" % attr))
    p = _problem(path)
    assert (p.code, p.sheet, p.cell) == ("unexpected-markup", SS.OTHER, cell), p.message


@pytest.mark.parametrize("target", ["worksheets/../worksheets/{}", "worksheets//{}",
                                    "./worksheets/{}", "worksheets\\{}", "worksheets/%73{}",
                                    "/other/../xl/worksheets/{}", "worksheets/{}#x",
                                    "/worksheets/{}"])
def test_relationship_targets_not_in_canonical_form_are_refused(plan, tmp_path, target):
    part = sheet_part(plan, SS.STAFFING)
    with zipfile.ZipFile(plan) as z:
        rels = z.read("xl/_rels/workbook.xml.rels")
    base = part.rsplit("/", 1)[1]
    spelled = rels.replace(_target(rels, part), b'Target="' + target.format(base).encode() + b'"')
    assert spelled != rels
    path = rewrite_zip(plan, tmp_path / "t.xlsx", replace={"xl/_rels/workbook.xml.rels": spelled})
    p = _problem(path)
    assert p.code in ("unexpected-markup", "not-an-xlsx-file") and p.code != "unreadable"
    assert p.message.endswith(reader._RESAVE)


def test_absolute_and_relative_targets_are_both_read(plan, tmp_path):
    part = sheet_part(plan, SS.STAFFING)
    with zipfile.ZipFile(plan) as z:
        rels = z.read("xl/_rels/workbook.xml.rels")
    absolute, relative = (b'Target="/' + part.encode() + b'"',
                          b'Target="' + part.removeprefix("xl/").encode() + b'"')
    spelled = _target(rels, part)
    other = rels.replace(spelled, relative if spelled == absolute else absolute)
    assert other != rels
    path = rewrite_zip(plan, tmp_path / "rel.xlsx", replace={"xl/_rels/workbook.xml.rels":
                                                               other})
    assert read_workbook(path).values == read_workbook(plan).values


def _target(rels: bytes, part: str) -> bytes:
    """The Target attribute naming a part, as the workbook's relationships spell it
    (absolute, "/xl/worksheets/sheet3.xml", or relative, "worksheets/sheet3.xml")."""
    for spelled in (b'Target="/' + part.encode() + b'"',
                    b'Target="' + part.removeprefix("xl/").encode() + b'"'):
        if spelled in rels:
            return spelled
    raise AssertionError(f"no relationship names {part}")


@pytest.mark.parametrize("name", ["xl/../xl/x.xml", "xl/./x.xml", "xl//x.xml", "/xl/x.xml",
                                  "xl\\x.xml"])
def test_zip_entry_names_with_odd_segments_are_refused(plan, tmp_path, name):
    path = rewrite_zip(plan, tmp_path / "n.xlsx", add={name: b"<x/>"})
    assert _problem(path).code == "not-an-xlsx-file"


def test_package_and_workbook_relationships_must_be_what_python_calamine_reads(plan, tmp_path):
    with zipfile.ZipFile(plan) as z:
        package = z.read("_rels/.rels")
        workbook = z.read("xl/_rels/workbook.xml.rels")
    cases = {
        "no-package-rels": {"_rels/.rels": None},
        "workbook-elsewhere": {"_rels/.rels": package.replace(b'Target="xl/workbook.xml"',
                                                              b'Target="xl/other.xml"')},
        "duplicate-id": {"xl/_rels/workbook.xml.rels": re.sub(
            rb'(<Relationship [^>]*Id=")rId\d+(")', rb"\1rId1\2", workbook, count=2)},
    }
    assert cases["workbook-elsewhere"]["_rels/.rels"] != package
    for name, replace in cases.items():
        p = _problem(rewrite_zip(plan, tmp_path / f"{name}.xlsx", replace=replace))
        assert p.code in ("unexpected-markup", "not-an-xlsx-file"), (name, p)


def test_sheets_read_with_formula_texts_cut_out_as_stored(plan, tmp_path, monkeypatch):
    """python-calamine is given the sheets with their formula texts cut out (it never reads
    them for a value): it reads the same values, and the scan finds the same formulas, error
    values and refusals, as from the bytes as stored. Shared formulas (stored without text),
    error and inline-text cells with formulas are among the shapes."""
    staffing_part = sheet_part(plan, SS.STAFFING)
    with zipfile.ZipFile(plan) as z:
        staffing = z.read(staffing_part)
    first, second = STAFF.cell("cost", 0), STAFF.cell("cost", 1)
    shared = re.sub(rb'(<c r="' + first.encode() + rb'"[^>]*>)<f>[^<]*</f>',
                    rb'\1<f t="shared" ref="' + f"{first}:{second}".encode()
                    + rb'" si="0">D7*2</f>', staffing, count=1)
    shared = re.sub(rb'(<c r="' + second.encode() + rb'"[^>]*>)<f>[^<]*</f>',
                    rb'\1<f t="shared" si="0"/>', shared, count=1)
    error = re.sub(rb'<c r="' + STAFF.cell("note", 3).encode() + rb'"[^>]*/>',
                   STAFF.cell("note", 3).encode().join(
                       [b'<c r="', b'" t="e"><f>1/0</f><v>#DIV/0!</v></c>']), staffing, count=1)
    inline = re.sub(rb'<c r="' + STAFF.cell("note", 4).encode() + rb'"[^>]*/>',
                    STAFF.cell("note", 4).encode().join(
                        [b'<c r="', b'" t="inlineStr"><f>"a"</f><v>a</v></c>']), staffing,
                    count=1)
    assert shared.count(b"<f ") >= 2 and error != staffing and inline != staffing
    files = [plan] + [rewrite_zip(plan, tmp_path / f"{name}.xlsx", {staffing_part: xml})
                      for name, xml in (("shared", shared), ("error", error),
                                        ("inline", inline))]

    def read(path: Path) -> object:
        try:
            raw = read_workbook(path)
        except ReadProblem as p:
            return ("refused", p.code, p.sheet, p.cell)
        return (raw.values, {n: dict(t) for n, t in raw.formula_text.items()}, raw.formulas,
                raw.errors, raw.array_ranges)

    cut = [read(f) for f in files]
    assert cut[0][0][SS.STAFFING] and cut[1] != cut[0]
    assert cut[3][0] == "refused"  # a <v> in a cell of inline text
    assert cut[2][3][SS.STAFFING] == {STAFF.cell("note", 3): "#DIV/0!"}
    with zipfile.ZipFile(files[0]) as z:  # the cut is made: python-calamine gets fewer bytes
        found = workbook._inspect(plan.read_bytes(), plan.name, Limits(), None)
        assert len(found.parts[staffing_part]) < len(z.read(staffing_part)) / 2
    monkeypatch.setattr(fast_scan, "_FORMULA_TEXT", re.compile(rb"(?!)(x)(x)"))  # no cut
    assert [read(f) for f in files] == cut
