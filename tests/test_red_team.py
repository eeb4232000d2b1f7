"""Red-team reproductions: returned plans that validate accepts while LibreOffice and gnumeric
show other totals for the very same file (each confirmed by recalculating in LibreOffice
and, where noted, gnumeric; the engine's view is over budget in every case below).

Every test builds one valid filled plan, edits its zip as a hostile sender would, and asserts
that check_plan rejects it. A fix may reject the file or read what the spreadsheet reads (the
plan is then over budget); either way it is rejected.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from ssfr_xl.reader import ReadProblem, read_workbook
from ssfr_xl.school_book import build_school_plan, plan_specs
from ssfr_xl.season import create_district
from ssfr_xl.sources.demo import demo_plan, fill_plan_workbook
from ssfr_xl.validate import DistrictRecord, check_plan, district_record
from ssfr_xl.xlsx import save_atomically
from tests.helpers import sheet_parts

WS_CT = b"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
WB_CT = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
SST_CT = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
REL = b"http://schemas.openxmlformats.org/officeDocument/2006/relationships"
MAIN = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> tuple[DistrictRecord, Path]:
    root = tmp_path_factory.mktemp("red-team")
    create_district(root / "district.xlsx", sample=4)
    record = district_record(root / "district.xlsx")
    spec = plan_specs(record.result)[0]
    wb = build_school_plan(spec)
    fill_plan_workbook(wb, spec.policy, demo_plan(spec))
    save_atomically(wb, root / "valid.xlsx")
    assert check_plan(read_workbook(root / "valid.xlsx"), record).status == "accepted"
    return record, root / "valid.xlsx"


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i.filename) for i in z.infolist()}


def _part_of(path: Path, sheet: str) -> str:
    with zipfile.ZipFile(path) as z:
        return sheet_parts(z)[sheet]


def _rewrite(src: Path, dst: Path, edits: Mapping[str, Callable[[bytes], bytes]],
             add: Mapping[str, bytes] | None = None) -> Path:
    parts = _parts(src)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, edits[name](data) if name in edits else data)
        for name, data in (add or {}).items():
            z.writestr(name, data)
    dst.write_bytes(buf.getvalue())
    return dst


def _status(path: Path, record: DistrictRecord) -> str:
    try:
        raw = read_workbook(path)
    except ReadProblem as p:
        return "rejected" if p.severity == "error" else "accepted with warnings"
    return check_plan(raw, record, path).status


def _over_budget_staffing(xml: bytes) -> bytes:
    """Staffing sheet XML with 80 more principals (GEN), far over any school's allocation."""
    # rows 70..149 of the template hold formulas and blank inputs: fill the inputs
    for r in range(70, 150):
        for col, value in ((b"B", b'<c r="B%d" t="inlineStr"><is><t>PRIN</t></is></c>'),
                           (b"D", b'<c r="D%d" t="n"><v>1</v></c>'),
                           (b"E", b'<c r="E%d" t="inlineStr"><is><t>GEN</t></is></c>'),
                           (b"F", b'<c r="F%d" t="inlineStr"><is><t>G1</t></is></c>')):
            pat = re.compile(rb'<c r="' + col + str(r).encode() + rb'"[^>]*?(?:/>|>.*?</c>)',
                             re.S)
            xml, n = pat.subn(lambda _m, v=value, r=r: v % r, xml, count=1)
            assert n == 1
    return xml


def _staffing_swap(plan: Path, tmp_path: Path, name: str,
                   make: Callable[[str, bytes, bytes], tuple[dict, dict]]) -> Path:
    part = _part_of(plan, "Staffing")
    original = _parts(plan)[part]
    edits, add = make(part, original, _over_budget_staffing(original))
    return _rewrite(plan, tmp_path / name, edits, add)


def _ct(*overrides: tuple[bytes, bytes]) -> Callable[[bytes], bytes]:
    extra = b"".join(b'<Override PartName="%s" ContentType="%s"/>' % o for o in overrides)
    return lambda b: b.replace(b"</Types>", extra + b"</Types>")


# 1. Relationship targets resolved literally: xl/ + target, where LibreOffice and gnumeric
#    normalise "a/../a" and "//". The zip holds the over-budget sheet where the engines look
#    and a valid copy at the literal name the reader looks up.
@pytest.mark.parametrize("spelling", ["worksheets/../worksheets/{}", "worksheets//{}"])
def test_sheet_target_with_dot_segments_is_not_read_elsewhere(plan, tmp_path, spelling):
    record, valid = plan

    def make(part: str, original: bytes, big: bytes):
        base = part.rsplit("/", 1)[1]
        target = spelling.format(base).encode()

        def rels(b: bytes) -> bytes:
            return b.replace(b'Target="/' + part.encode() + b'"', b'Target="' + target + b'"')

        return {part: lambda _b: big, "xl/_rels/workbook.xml.rels": rels}, \
            {"xl/" + target.decode(): original}

    path = _staffing_swap(valid, tmp_path, "dotdot.xlsx", make)
    assert _status(path, record) == "rejected"


# 2. The shared strings are read from xl/sharedStrings.xml by name; spreadsheets read the part
#    the workbook's relationships name (or none at all when no relationship names one).
def _shared_string_codes(valid: Path, tmp_path: Path, name: str, rel_target: bytes | None,
                         engine_text: bytes) -> Path:
    part = _part_of(valid, "Staffing")
    xml = _parts(valid)[part]
    codes: list[bytes] = []

    def to_shared(m: re.Match[bytes]) -> bytes:
        codes.append(m[3])
        return b'<c r="%s"%s t="s"><v>%d</v></c>' % (m[1], m[2], len(codes) - 1)

    xml = re.sub(rb'<c r="(B\d+)"( s="\d+")? t="inlineStr"><is><t>([^<]*)</t></is></c>',
                 to_shared, xml)
    assert len(codes) >= 10

    def sst(texts: list[bytes]) -> bytes:
        return (b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="' + MAIN + b'">'
                + b"".join(b"<si><t>" + t + b"</t></si>" for t in texts) + b"</sst>")

    edits: dict[str, Callable[[bytes], bytes]] = {part: lambda _b: xml}
    add = {"xl/sharedStrings.xml": sst(codes)}
    overrides = [(b"/xl/sharedStrings.xml", SST_CT)]
    if rel_target is not None:
        add["xl/" + rel_target.decode()] = sst([engine_text] * len(codes))
        overrides.append((b"/xl/" + rel_target, SST_CT))
        edits["xl/_rels/workbook.xml.rels"] = lambda b: b.replace(
            b"</Relationships>", b'<Relationship Type="' + REL + b'/sharedStrings" Target="'
            + rel_target + b'" Id="rId99"/></Relationships>')
    edits["[Content_Types].xml"] = _ct(*overrides)
    return _rewrite(valid, tmp_path / name, edits, add)


def test_shared_strings_part_named_by_the_relationship_is_the_one_read(plan, tmp_path):
    # LibreOffice and gnumeric read strings2.xml: every position is a principal, over budget
    record, valid = plan
    path = _shared_string_codes(valid, tmp_path, "sst.xlsx", b"strings2.xml", b"PRIN")
    assert _status(path, record) == "rejected"


def test_shared_strings_without_a_relationship_are_not_read(plan, tmp_path):
    # LibreOffice and gnumeric read no strings at all: every job class is blank, "Incomplete"
    record, valid = plan
    path = _shared_string_codes(valid, tmp_path, "sst-norel.xlsx", None, b"")
    assert _status(path, record) == "rejected"


# 3. The workbook part is read from xl/workbook.xml by name; spreadsheets read the part the
#    package relationship (_rels/.rels, officeDocument) names.
def test_office_document_relationship_names_the_workbook_read(plan, tmp_path):
    record, valid = plan

    def make(part: str, original: bytes, big: bytes):
        parts = _parts(valid)
        rels2 = parts["xl/_rels/workbook.xml.rels"].replace(b"/" + part.encode(),
                                                            b"/xl/worksheets/evil.xml")
        edits = {"_rels/.rels": lambda b: b.replace(b'Target="xl/workbook.xml"',
                                                    b'Target="xl/book2.xml"'),
                 "[Content_Types].xml": _ct((b"/xl/book2.xml", WB_CT),
                                            (b"/xl/worksheets/evil.xml", WS_CT))}
        add = {"xl/book2.xml": parts["xl/workbook.xml"], "xl/_rels/book2.xml.rels": rels2,
               "xl/worksheets/evil.xml": big}
        return edits, add

    path = _staffing_swap(valid, tmp_path, "officedoc.xlsx", make)
    assert _status(path, record) == "rejected"


# 4. Two relationships with one Id: the reader keeps the last, LibreOffice the first.
def test_duplicate_relationship_id(plan, tmp_path):
    record, valid = plan

    def make(part: str, original: bytes, big: bytes):
        rels = _parts(valid)["xl/_rels/workbook.xml.rels"].decode()
        rid = re.search(r'Target="/' + re.escape(part) + r'" Id="(rId\d+)"', rels)[1]
        first = (f'<Relationship Type="{REL.decode()}/worksheet" '
                 f'Target="/xl/worksheets/evil.xml" Id="{rid}" />').encode()
        edits = {"xl/_rels/workbook.xml.rels": lambda b: re.sub(
                     rb"(<Relationships[^>]*>)", lambda m: m[1] + first, b, count=1),
                 "[Content_Types].xml": _ct((b"/xl/worksheets/evil.xml", WS_CT))}
        return edits, {"xl/worksheets/evil.xml": big}

    path = _staffing_swap(valid, tmp_path, "duprel.xlsx", make)
    assert _status(path, record) == "rejected"


# 5. An XML comment or processing instruction inside <v>: python-calamine reads the text
#    before it ("3"), LibreOffice and gnumeric the whole number (3871294: over budget).
@pytest.mark.parametrize("splitter", [b"<!-- -->", b"<?x?>"])
def test_comment_inside_a_number_is_not_read_as_its_first_digits(plan, tmp_path, splitter):
    record, valid = plan
    part = _part_of(valid, "Other Spending")
    xml = _parts(valid)[part]
    m = re.search(rb'(<c r="G7"[^>]*><v>)([0-9.]+)(</v>)', xml)
    assert m is not None
    digits = m[2].replace(b".", b"")
    new = m[1] + digits[:1] + splitter + digits[1:] + m[3]  # 38712.94 -> 3<!-- -->871294
    path = _rewrite(valid, tmp_path / "comment.xlsx",
                    {part: lambda b: b.replace(m[0], new, 1)})
    assert _status(path, record) == "rejected"


# 6. A defined name given twice: LibreOffice and gnumeric use the first (here: the wrong
#    allocation cell, so the workbook says "Over budget"); check_names compares the last.
@pytest.mark.parametrize("name", ["Allocation_GEN", "ALLOCATION_GEN"])
def test_defined_name_given_twice(plan, tmp_path, name):
    record, valid = plan
    evil = f"<definedName name=\"{name}\">'Allocation'!$E$29</definedName>".encode()
    path = _rewrite(valid, tmp_path / "dupname.xlsx", {"xl/workbook.xml": lambda b: b.replace(
        b"<definedNames>", b"<definedNames>" + evil, 1)})
    assert _status(path, record) == "rejected"
