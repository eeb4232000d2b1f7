"""Red team: the reader's fast sheet scan, the blank-line shortcut of line_inputs, _slim.

Each crafted sheet is compared three ways: what the fast path (fast_scan._scan_fast) finds,
what the general expat path (sheet_scan._SheetScan) finds or refuses, and what read_workbook
returns. The fast path must give the general path's facts or decline (None); read_workbook
must read what a spreadsheet shows, or refuse the file. The findings (an <is> after a <f>, a
repeated attribute, what XML forbids inside sheetData) were accepted before the fix.
"""

from __future__ import annotations

import ast
import csv
import datetime as dt
import io
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from xml.parsers import expat

import pytest

from ssfr_xl.preflight import fast_scan
from ssfr_xl.preflight.cells import _TooFar, _Unusual
from ssfr_xl.preflight.sheet_scan import _SheetScan
from ssfr_xl.reader import Limits, ReadProblem, read_workbook

ROOT = Path(__file__).resolve().parents[1]
PART = "xl/worksheets/sheet1.xml"
DEFAULT = Limits()
HEAD = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://'
        b'schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.'
        b'openxmlformats.org/officeDocument/2006/relationships">')


def sheet(cells: bytes) -> bytes:
    """A worksheet part whose sheetData holds `cells` (rows and cells as given)."""
    return HEAD + b"<sheetData>" + cells + b"</sheetData></worksheet>"


@pytest.fixture(scope="module")
def base() -> bytes:
    """A one-sheet workbook (sheet "S") as openpyxl writes it; its sheet part is replaced."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "S"
    wb.active["A1"] = 1
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def book(base: bytes, path: Path, xml: bytes) -> Path:
    with zipfile.ZipFile(io.BytesIO(base)) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, xml if info.filename == PART else zin.read(info))
    return path


def read(path: Path, limits: Limits = DEFAULT) -> tuple:
    """What read_workbook gives for sheet S, or ("refused", code, cell)."""
    try:
        raw = read_workbook(path, limits)
    except ReadProblem as p:
        return ("refused", p.code, p.cell)
    return (raw.values["S"], dict(raw.formula_text["S"]), raw.formulas["S"], raw.errors["S"],
            raw.array_ranges["S"])


def _facts(f) -> tuple:
    return (dict(f.formula_text), f.formulas, f.errors, f.array_ranges, f.string_index,
            f.merged)


def fast(xml: bytes, limits: Limits = DEFAULT) -> tuple | None:
    """The fast path's facts, its refusal ("raise", code, cell), or None (declined)."""
    try:
        f = fast_scan._scan_fast(xml, limits)
    except (_Unusual, _TooFar) as e:
        return ("raise", getattr(e, "code", "too-far"), e.cell)
    return None if f is None else _facts(f)


def general(xml: bytes, limits: Limits = DEFAULT) -> tuple:
    """The expat path's facts, its refusal, or ("raise", "xml", ...) for broken XML."""
    try:
        scan = _SheetScan(limits)
        scan.feed(xml)
        return _facts(scan.close())
    except (_Unusual, _TooFar) as e:
        return ("raise", getattr(e, "code", "too-far"), e.cell)
    except expat.ExpatError as e:
        return ("raise", "xml", str(e))


def gnumeric(path: Path) -> list[list[str]]:
    """The sheet as gnumeric's ssconvert shows it (CSV, trailing empty cells dropped)."""
    if shutil.which("ssconvert") is None:  # CI must read the file in gnumeric: a failure
        if os.environ.get("CI"):
            pytest.fail("CI is set but gnumeric's ssconvert is not installed", pytrace=False)
        pytest.skip("gnumeric's ssconvert is not installed")
    out = path.with_suffix(".csv")
    subprocess.run(["ssconvert", str(path), str(out)], capture_output=True, timeout=120)
    rows = [r[:max((i + 1 for i, v in enumerate(r) if v), default=0)]
            for r in csv.reader(out.read_text().splitlines())]
    while rows and not rows[-1]:
        rows.pop()
    return rows


def as_csv(values: list[list[object]]) -> list[list[str]]:
    """read_workbook's values as CSV text (1.0 as "1", True as "TRUE")."""
    def text(v: object) -> str:
        if isinstance(v, bool):
            return "TRUE" if v else "FALSE"
        if isinstance(v, float):
            return format(v, "g")
        return "" if v is None else str(v)
    rows = [[text(v) for v in row] for row in values]
    rows = [r[:max((i + 1 for i, v in enumerate(r) if v), default=0)] for r in rows]
    while rows and not rows[-1]:
        rows.pop()
    return rows


# --- the fast path: shapes that hold ------------------------------------------------------

HELD = {
    "formula": b'<row r="1"><c r="A1"><f>1+1</f><v>2</v></c></row>',
    "empty formula": b'<row r="1"><c r="A1"><f></f><v>2</v></c></row>',
    "self-closed formula": b'<row r="1"><c r="A1"><f/><v>2</v></c></row>',
    "spaced end tag": b'<row r="1"><c r="A1"><f >1+1</f ><v>2</v></c></row>',
    "formula after value": b'<row r="1"><c r="A1"><v>2</v><f>1+1</f></c></row>',
    "formula in inline text": b'<row r="1"><c r="A1" t="inlineStr"><is><f>1</f><t>x</t></is></c>'
                              b'</row>',
    "formula between cells": b'<row r="1"><c r="A1"><v>2</v></c><f>1</f><c r="B1"/></row>',
    "type before r": b'<row r="1"><c t="n" r="A1"><v>2</v></c></row>',
    "entity hiding t=": b'<row r="1"><c r="A1" x=" t=&quot;e"><v>2</v></c></row>',
    "entity hiding <f": b'<row r="1"><c r="A1" x="&lt;f"><v>2</v></c></row>',
    "single quotes": b"<row r=\"1\"><c r=\"A1\" x=' t=\"e\"'><v>2</v></c></row>",
    "lower-case r": b'<row r="1"><c r="a1"><v>2</v></c></row>',
    "leading zero r": b'<row r="1"><c r="A01"><v>2</v></c></row>',
    "shared": b'<row r="1"><c r="A1"><f t="shared" ref="A1:B1" si="0">C1*2</f><v>2</v></c>'
              b'<c r="B1"><f t="shared" si="0"/><v>2</v></c></row>',
    "shared follower with text": b'<row r="1"><c r="A1"><f t="shared" ref="A1:B1" si="0">C1'
                                 b'</f><v>2</v></c><c r="B1"><f t="shared" si="0">X</f></c></row>',
    "array": b'<row r="1"><c r="A1"><f t="array" ref="A1:A2">C1:C2</f><v>2</v></c></row>'
             b'<row r="2"><c r="A2"><v>2</v></c></row>',
    "line break reference": b'<row r="1"><c r="A1"><f>1+&#10;1</f><v>2</v></c></row>',
    "carriage return reference": b'<row r="1"><c r="A1"><f>1+&#13;1</f><v>2</v></c></row>',
    "carriage return": b'<row r="1"><c r="A1"><f>1+\r\n1</f><v>2</v></c></row>',
    "control reference": b'<row r="1"><c r="A1"><f>1+&#x1;1</f><v>2</v></c></row>',
    "CDATA": b'<row r="1"><c r="A1"><f><![CDATA[1+1]]></f><v>2</v></c></row>',
    "comment": b'<row r="1"><c r="A1"><f>1+<!--x-->1</f><v>2</v></c></row>',
    "prefixed formula": b'<row r="1"><c r="A1"><x:f xmlns:x="http://schemas.openxmlformats.org'
                        b'/spreadsheetml/2006/main">1</x:f><v>2</v></c></row>',
    "namespace on a cell": b'<row r="1"><c r="A1" xmlns="urn:x"><f>1</f><v>1</v></c></row>',
    "xmlns in formula text": b'<row r="1"><c r="A1" t="str"><f>"xmlns"</f><v>xmlns</v></c></row>',
    "indented": b'\n <row r="1">\n  <c r="A1">\n   <f>1+1</f>\n   <v>2</v>\n  </c>\n </row>\n',
    "empty sheetData": b"",
    "duplicate cells differing in formula": b'<row r="1"><c r="A1"><f>1</f><v>1</v></c>'
                                            b'<c r="A1"><f>2</f><v>1</v></c></row>',
    "error value": b'<row r="1"><c r="A1" t="e"><f>1/0</f><v>#DIV/0!</v></c></row>',
    "error with shared follower": b'<row r="1"><c r="A1"><f t="shared" ref="A1:B1" si="0">1/0'
                                  b'</f><v>1</v></c><c r="B1" t="e"><f t="shared" si="0"/>'
                                  b'<v>#N/A</v></c></row>',
    "greater-than in formula": b'<row r="1"><c r="A1"><f>1>0</f><v>1</v></c></row>',
    "apostrophe attributes": b"<row r=\"1\"><c r=\"A1\"><f t='shared' ref='A1:B1' si='0'>1</f>"
                             b"</c><c r=\"B1\"><f t=\"shared\" si=\"0\"/></c></row>",
}


@pytest.mark.parametrize("name", HELD)
def test_fast_path_gives_the_general_paths_facts_or_declines(name, base, tmp_path, monkeypatch):
    """Formula elements in odd places and spellings, shared/array formulas, entities,
    references, CDATA, comments, prefixes: the fast path agrees with expat or declines, and
    read_workbook reports what the general path found (or refuses with it), the same as when
    every sheet is streamed through expat (_FAST_MAX = 0)."""
    xml = sheet(HELD[name])
    f, g = fast(xml), general(xml)
    assert f is None or f == g
    path = book(base, tmp_path / "t.xlsx", xml)
    got = read(path)
    if g[0] == "raise":
        assert got[0] == "refused"
    else:
        assert got[1:] == (g[0], g[1], g[2], g[3])
    monkeypatch.setattr(fast_scan, "_FAST_MAX", 0)
    streamed = read(path)
    assert streamed == got or (got[0] == streamed[0] == "refused" and got[1] == streamed[1])


def test_python_calamine_reads_the_cut_sheet_as_the_stored_one(base, tmp_path):
    """The cut (<f ...>text</f> -> <f .../>) changes nothing python-calamine reads, for every
    cell type with and without formulas and with shared formula followers."""
    from python_calamine import CalamineWorkbook

    cells = b"".join(
        b'<c r="%s1"%s>%s%s</c>' % (bytes([65 + i]), t, f, v)
        for i, (t, f, v) in enumerate([
            (b"", b"<f>1+1</f>", b"<v>2</v>"), (b' t="str"', b'<f>"a"</f>', b"<v>a</v>"),
            (b' t="str"', b'<f>"abc"</f>', b""), (b' t="b"', b"<f>TRUE</f>", b"<v>1</v>"),
            (b' t="e"', b"<f>1/0</f>", b"<v>#DIV/0!</v>"), (b"", b"<f></f>", b"<v>3</v>"),
            (b"", b'<f t="array" ref="G1">1</f>', b"<v>4</v>")]))
    xml = sheet(b'<row r="1">' + cells + b"</row>")
    facts = fast_scan._scan_fast(xml, Limits())
    assert facts is not None and facts.for_calamine is not None
    assert len(facts.for_calamine) < len(xml)

    def values(part: bytes) -> list:
        path = book(base, tmp_path / "c.xlsx", part)
        return CalamineWorkbook.from_path(str(path)).get_sheet_by_name("S").to_python()

    assert values(facts.for_calamine) == values(xml)


LIMITS = Limits(max_rows=10, max_columns=5)
FAR = {
    "at the limit": (b'<row r="10"><c r="E10"><v>1</v></c></row>', None),
    "one column past": (b'<row r="1"><c r="F1"><v>1</v></c></row>', "F1"),
    "one row past": (b'<row r="11"><c r="A11"><v>1</v></c></row>', "A11"),
    "row tag says 1": (b'<row r="1"><c r="A11"><f>1</f><v>1</v></c></row>', "A11"),
    "first too far named": (b'<row r="1"><c r="A1"/><c r="AAA1"/></row>'
                            b'<row r="2"><c r="A9999999"/></row>', "AAA1"),
    "array past": (b'<row r="1"><c r="A1"><f t="array" ref="A1:A20">B1</f></c></row>', "A20"),
}


@pytest.mark.parametrize("name", FAR)
def test_rows_and_columns_just_past_the_limits(name, base, tmp_path):
    """The joined-r check of rows and columns: the cell at the limit is read, one past it is
    refused (too-many-cells, naming the first cell too far), as the general path does."""
    body, cell = FAR[name]
    xml = sheet(body)
    f, g = fast(xml, LIMITS), general(xml, LIMITS)
    assert f is None or f == g
    got = read(book(base, tmp_path / "t.xlsx", xml), LIMITS)
    assert got[:3] == ("refused", "too-many-cells", cell) if cell else got[0] != "refused"


def test_many_formulas_and_adversarial_bytes_are_scanned_fast():
    """A sheet of 100,000 formulas, a cell of a million attributes, 2 million "<f " and
    unclosed cells: each fast scan takes well under a second (possessive patterns)."""
    import time

    rows = b"".join(b'<row r="%d">%s</row>' % (r, b"".join(
        b'<c r="%s%d"><f>A1+%d</f><v>2</v></c>' % (bytes([65 + i]), r, i) for i in range(20)))
        for r in range(1, 5001))
    shapes = [rows, b'<row r="1"><c r="A1"' + b' a="1"' * 10**6 + b"><v>1</v></c></row>",
              b"<f " * 2 * 10**6, b'<row r="1">' + b'<c r="A1" t="e"' * 400_000]
    for body in shapes:
        start = time.perf_counter()
        fast(sheet(body))
        assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize("text", [b"a&foo;b", b"a&#0;b", b"a&#xD800;b", b"a&#x110000;b",
                                  b"a&b", b"a&amp b"])
def test_references_xml_does_not_define_in_cell_text_are_refused(text, base, tmp_path):
    """An undefined entity, a reference to a character XML forbids, a bare "&" in inline
    text and in a text value: the fast path passes them on, python-calamine refuses them, so
    the file is refused (as expat refuses it)."""
    xml = sheet(b'<row r="1"><c r="A1" t="inlineStr"><is><t>' + text + b'</t></is></c>'
                b'<c r="B1" t="str"><f>1</f><v>' + text + b"</v></c></row>")
    assert general(xml)[:2] == ("raise", "xml")
    assert read(book(base, tmp_path / "t.xlsx", xml))[0] == "refused"


# --- found by the red team, now refused: what spreadsheets read differently ---------------

INLINE_AFTER_FORMULA = {t: b'<row r="1"><c r="A1"%s><f>1+1</f><is><t>7</t></is></c></row>' % t
                        for t in (b"", b' t="n"', b' t="str"', b' t="b"', b' t="s"')}


@pytest.mark.parametrize("t", INLINE_AFTER_FORMULA)
def test_inline_text_after_a_formula_in_a_cell_not_of_inline_text(t, base, tmp_path):
    """<c r="A1" t="n"><f>1+1</f><is><t>7</t></is></c>: the general path refuses it
    (unexpected-markup); we read A1 as the text "7" with formula 1+1."""
    xml = sheet(INLINE_AFTER_FORMULA[t])
    assert general(xml)[:2] == ("raise", "unexpected-markup")
    assert read(book(base, tmp_path / "t.xlsx", xml))[0] == "refused"
    assert fast(xml) is None


def test_libreoffice_shows_the_formula_not_the_inline_text(base, tmp_path, soffice):
    """The same shape through LibreOffice: it recalculates A1 to 2; the reader must refuse the
    file or read 2."""
    path = book(base, tmp_path / "inline.xlsx", sheet(INLINE_AFTER_FORMULA[b""]))
    subprocess.run([soffice, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
                    "--convert-to", "csv", "--outdir", str(tmp_path), str(path)],
                   capture_output=True, timeout=300)
    shown = (tmp_path / "inline.csv").read_text().strip()
    assert shown == "2"
    got = read(path)
    assert got[0] == "refused" or as_csv(got[0]) == [[shown]]


DUPLICATE_ATTRIBUTES = {
    "t n then b (we read TRUE)": b'<row r="1"><c r="A1" t="n" t="b"><v>1</v></c></row>',
    "t str then e (error read as blank)": b'<row r="1"><c r="A1" t="str" t="e"><f>1/0</f>'
                                          b"<v>#DIV/0!</v></c></row>",
    "t str then d (a date passes the date check)": b'<row r="1"><c r="A1" t="str" t="d"><f>1'
                                                   b"</f><v>2024-01-02</v></c></row>",
    "r twice (value at B1, formula at C1)": b'<row r="1"><c r="C1" r="B1"><f>1+1</f><v>2</v>'
                                            b"</c></row>",
    "r twice (duplicate cell unseen)": b'<row r="1"><c r="A1"><v>1</v></c><c r="B1" r="A1">'
                                       b"<v>2</v></c></row>",
}


@pytest.mark.parametrize("name", DUPLICATE_ATTRIBUTES)
def test_a_cell_with_a_repeated_attribute_is_refused(name, base, tmp_path):
    """Expat refuses a repeated attribute (so does the general path); LibreOffice and gnumeric
    call the file damaged and stop reading there. We read it: A1=TRUE for t="n" t="b", a
    #DIV/0! cell as blank with no error for t="str" t="e", a date for t="str" t="d" (the
    date-cell refusal is skipped), a value at B1 whose formula the scan put at C1."""
    xml = sheet(DUPLICATE_ATTRIBUTES[name])
    assert general(xml)[:2] == ("raise", "xml")
    assert read(book(base, tmp_path / "t.xlsx", xml))[0] == "refused"


NOT_XML = {
    "control character in inline text": b'<row r="1"><c r="A1" t="inlineStr"><is><t>a\x01b</t>'
                                        b"</is></c></row>",
    "control reference in inline text": b'<row r="1"><c r="A1" t="inlineStr"><is><t>a&#1;b</t>'
                                        b"</is></c></row>",
    "control character in a text value": b'<row r="1"><c r="A1" t="str"><f>"x"</f><v>a\x01b</v>'
                                         b"</c></row>",
    "U+FFFE in text": b'<row r="1"><c r="A1" t="inlineStr"><is><t>a\xef\xbf\xbeb</t></is></c>'
                      b"</row>",
    "]]> in text": b'<row r="1"><c r="A1" t="inlineStr"><is><t>a]]>b</t></is></c></row>',
    "]]> in formula text": b'<row r="1"><c r="A1" t="str"><f>"]]>"</f><v>a</v></c></row>',
    "U+FFFF in formula text": b'<row r="1"><c r="A1" t="str"><f>"\xef\xbf\xbf"</f><v>a</v></c>'
                              b"</row>",
    "broken row tag": b'<row r="1"><c r="A1"><v>1</v></c></row><row r="2" spans=" t="s"1:5">'
                      b'<c r="A2"><v>2</v></c></row>',
    "cell inside an end tag": b'<row r="1"><c r="A1"><v>1</v></c><<c r="A2"><f>5</f><v>5</v>'
                              b"</c>/row>",
}


@pytest.mark.parametrize("name", NOT_XML)
def test_sheet_data_that_is_not_xml_is_refused(name, base, tmp_path):
    """Characters XML forbids (raw or as references), "]]>" (in text or a formula, which the
    cut only checks for controls and \\r), a broken row tag, a cell spliced into an end tag:
    expat (the general path) refuses each; the fast path accepts them and read_workbook
    returns values (a\\x01b, 1 and 2, ...)."""
    xml = sheet(NOT_XML[name])
    assert general(xml)[:2] == ("raise", "xml")
    assert read(book(base, tmp_path / "t.xlsx", xml))[0] == "refused"


BROKEN = {
    "broken row tag": (b'<row r="1"><c r="A1"><v>1</v></c></row><row r="2" spans=" t="s"1:5">'
                       b'<c r="A2"><v>2</v></c></row><row r="3"><c r="A3"><v>3</v></c></row>',
                       [["1"]]),
    "t repeated": (b'<row r="1"><c r="A1" t="n" t="b"><v>1</v></c></row>', []),
    "control character": (b'<row r="1"><c r="A1"><v>1</v></c></row><row r="2"><c r="A2" '
                          b't="inlineStr"><is><t>a\x01b</t></is></c></row>', [["1"]]),
}


@pytest.mark.parametrize("name", BROKEN)
def test_gnumeric_stops_where_the_sheet_xml_breaks(name, base, tmp_path):
    """A broken row tag, a repeated t=, a control character: gnumeric ("Document likely
    damaged") shows the cells before the break; the reader must refuse or show the same (it
    reads 1, 2, 3 / TRUE / 1, a\\x01b)."""
    body, want = BROKEN[name]
    path = book(base, tmp_path / "broken.xlsx", sheet(body))
    shown = gnumeric(path)
    assert shown == want
    got = read(path)
    assert got[0] == "refused" or as_csv(got[0]) == shown


# --- line_inputs: the blank-line shortcut -------------------------------------------------

TYPED = [None, "", " ", "\u00a0", 0, 0.0, -0.0, False, True, float("nan"), 1e-300,
         dt.datetime(2024, 1, 2, 3, 4), dt.date(1900, 2, 28), dt.time(12, 0),
         dt.timedelta(hours=6), "0", "#N/A"]


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and (a == b or repr(a) == repr(b))  # nan == nan by repr


@pytest.mark.parametrize("value", TYPED, ids=repr)
def test_line_inputs_read_each_typed_value_as_the_cell_reading_does(value):
    """Each value in each input column of a line (rows full width, short, missing, the sheet
    missing; error lists empty, for another sheet, for this sheet): line_inputs gives what
    grid_value gives cell by cell, type included (0.0 and False are not blank)."""
    from ssfr_xl.plan import compiled, grid_value, line_inputs
    from tests.test_plan import LAYOUT, POLICY

    for lt in compiled(POLICY).math.lines:
        t = getattr(LAYOUT, lt.table)
        width = max(t.col(c.key) for c in t.columns)
        for key in lt.inputs:
            for shape in ("full", "short", "missing", "no sheet"):
                rows = [[None] * width for _ in range(t.first_row + 2)]
                rows[t.first_row - 1][t.col(key) - 1] = value
                if shape == "short":
                    rows[t.first_row - 1] = rows[t.first_row - 1][:t.col(key)]
                grid = {"no sheet": {}, "missing": {t.sheet: rows[:t.first_row - 1]}}.get(
                    shape, {t.sheet: rows})
                for errors in (None, {}, {"Other": {"A1": "#N/A"}}, {t.sheet: {}},
                               {t.sheet: {t.cell(key, 1): "#REF!"}}):
                    got = line_inputs(grid, LAYOUT, errors)[lt.table]
                    for i in range(t.rows):
                        for k in lt.inputs:
                            want = grid_value(grid, t.sheet, t.first_row + i, t.col(k), errors)
                            assert _same(got[i][k], want), (lt.table, key, shape, errors, i, k)


def test_an_error_cell_read_as_empty_is_not_a_blank_line():
    """python-calamine reads an error cell as "": with the sheet's error list the line holds
    the error, never a blank line."""
    from ssfr_xl.excel_expr import XlError
    from ssfr_xl.plan import compiled, line_inputs
    from tests.test_plan import LAYOUT, POLICY

    lt = compiled(POLICY).math.lines[0]
    t = getattr(LAYOUT, lt.table)
    key = lt.inputs[0]
    rows = [[""] * max(t.col(c.key) for c in t.columns) for _ in range(t.first_row + t.rows)]
    got = line_inputs({t.sheet: rows}, LAYOUT, {t.sheet: {t.cell(key, 0): "#DIV/0!"}})
    assert isinstance(got[lt.table][0][key], XlError)
    assert all(v is None for v in got[lt.table][1].values())


# --- _slim: lines without their cells as typed -------------------------------------------

def test_slim_drops_only_the_typed_cells_and_only_unless_typed():
    """_slim empties each line's raw (typed=False) and the computed cells; every other field
    of every line stays; with typed=True raw stays as read."""
    from ssfr_xl.consolidate import _slim
    from ssfr_xl.plan import PlanInputs, PlanLine
    from ssfr_xl.validate import PlanCheck

    def check() -> PlanCheck:
        lines = [PlanLine("Staffing", 7 + i, "position", "TCH", "GEN", "G1", 0.5, 0.0,
                          100.0 + i, raw={"job_class": "TCH", "fte": 0.5, "note": f"n{i}"})
                 for i in range(3)]
        return PlanCheck(Path("p.xlsx"), "0" * 64, inputs=PlanInputs(lines, [], [], "evaluated"))

    before = check().inputs.lines
    slim = _slim(check(), typed=False).inputs
    assert slim.evaluated is None and all(li.raw == {} for li in slim.lines)
    assert [(li.row, li.amount, li.fte, li.code) for li in slim.lines] == \
        [(li.row, li.amount, li.fte, li.code) for li in before]
    typed = _slim(check(), typed=True).inputs
    assert typed.evaluated is None and [li.raw for li in typed.lines] == [li.raw for li in before]


def test_only_amended_plans_read_the_typed_cells_and_they_ask_for_them():
    """No module but amend_book reads a line's .raw (the season's verdicts lack it), and
    build_amended_plans calls consolidate with typed=True."""
    readers = []
    for path in sorted((ROOT / "ssfr_xl").rglob("*.py")):
        if "preflight" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "raw" \
                    and isinstance(node.ctx, ast.Load):
                readers.append(path.name)
    assert set(readers) == {"amend_book.py"}
    tree = ast.parse((ROOT / "ssfr_xl" / "amend_book.py").read_text())
    build = next(n for n in ast.walk(tree)
                 if isinstance(n, ast.FunctionDef) and n.name == "build_amended_plans")
    calls = [c for c in ast.walk(build) if isinstance(c, ast.Call)
             and getattr(c.func, "id", "") == "consolidate"]
    assert calls and all(any(k.arg == "typed" and getattr(k.value, "value", None) is True
                             for k in c.keywords) for c in calls)
