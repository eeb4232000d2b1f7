"""Hostile and broken returned files, made from a valid plan, for the reader's tests and others'.

    build_plan(path)                              one real school plan workbook (ssfr_xl)
    make_corpus(directory)                        every failure shape: {file name: code}
    edit_cells_xml(src, dst, sheet, {coord: v})   rewrite cells in the sheet XML only
                                                  (str '=...' is a formula, Text('=...') text)
    replace_cell(xml, coord, new)                 one cell's <c> replaced by bytes as given
    with_shared_strings(src, dst, [<si>...], {coord: index})
                                                  a shared-strings table and cells showing it
    openpyxl_formulas(path)                       every formula's text as openpyxl reads it
    add_sheet(src, dst, name)                     a new worksheet, wired into the workbook
    rewrite_zip(src, dst, replace=, add=)         copy a zip, changing or adding parts

Each shape is built the way it arrives in real life, or the way an attacker would build it:
bytes are written directly into the zip (never through openpyxl), so the reader sees exactly
the XML a test means. Big shapes (the 500 MB zip bomb, 31 MB of shared strings) are written
by streaming, so building the corpus stays light (about 2 s, a few MB on disk).

The codes are ssfr_xl.reader's: None for a valid plan; WARNINGS for shapes that read with a
warning.
"""

from __future__ import annotations

import functools
import re
import shutil
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import escape

#: Codes that are warnings: the file reads, with the warning in RawWorkbook.warnings.
WARNINGS = frozenset({"macro-enabled", "external-links"})

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
WORKSHEET_TYPE = f"{REL_NS}/worksheet"
WORKSHEET_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
SHARED_STRINGS_TYPE = f"{REL_NS}/sharedStrings"
SHARED_STRINGS_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"


# --- a valid plan -------------------------------------------------------------------------

@functools.cache
def _plan_bytes(school_index: int) -> bytes:
    """The bytes of one sample school's plan workbook (built once per process)."""
    from ssfr_xl.formula import allocate
    from ssfr_xl.model import DistrictInputs
    from ssfr_xl.policy import load_policy
    from ssfr_xl.school_book import plan_specs, write_school_plan
    from ssfr_xl.sources import sample_district

    policy_file = load_policy()
    info, schools = sample_district(6)
    district = policy_file.district(info.name, info.cds_code, schools)
    result = allocate(DistrictInputs(district, policy_file.policy, tuple(schools)))
    spec = plan_specs(result)[school_index]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "plan.xlsx")
        write_school_plan(path, spec)
        return path.read_bytes()


def build_plan(path: Path, school_index: int = 0) -> Path:
    """Write a valid school plan workbook (sample district, one school) to `path`."""
    path = Path(path)
    path.write_bytes(_plan_bytes(school_index))
    return path


# --- zip surgery --------------------------------------------------------------------------

def rewrite_zip(src: Path, dst: Path, replace: Mapping[str, bytes | None] | None = None,
                add: Mapping[str, bytes] | None = None) -> Path:
    """Copy a zip entry by entry; `replace` changes (or with None drops) parts, `add` appends.

    Untouched parts keep their exact content and order (they are recompressed, not
    re-serialised).
    """
    replace, add = dict(replace or {}), dict(add or {})
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename in replace:
                data = replace.pop(info.filename)
                if data is None:
                    continue
            else:
                data = zin.read(info)
            zout.writestr(info, data, compress_type=info.compress_type)
        for name, data in {**replace, **add}.items():
            if data is not None:
                zout.writestr(name, data)
    return Path(dst)


def _read(src: Path, name: str) -> bytes:
    with zipfile.ZipFile(src) as z:
        return z.read(name)


def sheet_part(src: Path, sheet: str) -> str:
    """The zip entry holding a sheet, found through workbook.xml and its rels."""
    wb = ElementTree.fromstring(_read(src, "xl/workbook.xml"))
    rels = ElementTree.fromstring(_read(src, "xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels}
    for el in wb.iter(f"{{{MAIN_NS}}}sheet"):
        if el.get("name") == sheet:
            target = targets[el.get(f"{{{REL_NS}}}id")]
            return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    raise KeyError(f"no sheet {sheet!r} in {src}")


_ROW = re.compile(rb'<row r="(\d+)"[^>]*?(?:/>|>.*?</row>)', re.S)
_CELL = re.compile(rb'<c r="([A-Z]+)(\d+)"([^>]*?)(?:/>|>.*?</c>)', re.S)
_STYLE = re.compile(rb'\ss="(\d+)"')


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


class Text(str):
    """Text written as text even when it begins with '=' (a principal's note, not a formula)."""


def cell_xml(coord: str, value: object, style: bytes = b"") -> bytes:
    """The <c> element for a value: None empty, numbers, booleans, text, '=...' a formula."""
    s = b' s="' + style + b'"' if style else b""
    r = coord.encode()
    if value is None:
        return b'<c r="' + r + b'"' + s + b"/>"
    if isinstance(value, bool):
        return b'<c r="' + r + b'"' + s + b' t="b"><v>' + (b"1" if value else b"0") + b"</v></c>"
    if isinstance(value, int | float):
        return b'<c r="' + r + b'"' + s + b' t="n"><v>' + repr(value).encode() + b"</v></c>"
    text = str(value)
    if text.startswith("=") and not isinstance(value, Text):
        return b'<c r="' + r + b'"' + s + b"><f>" + escape(text[1:]).encode() + b"</f></c>"
    return (b'<c r="' + r + b'"' + s + b' t="inlineStr"><is><t xml:space="preserve">'
            + escape(text).encode() + b"</t></is></c>")


def set_cells(xml: bytes, cells: Mapping[str, object]) -> bytes:
    """Sheet XML with cells replaced or inserted (in row and column order); the rest as is."""
    for coord, value in cells.items():
        m = re.fullmatch(r"([A-Z]+)(\d+)", coord)
        if m is None:
            raise ValueError(f"not a cell address: {coord!r}")
        letters, row = m[1], int(m[2])
        xml = _set_cell(xml, letters, row, value)
    return xml


def _set_cell(xml: bytes, letters: str, row: int, value: object) -> bytes:
    coord = f"{letters}{row}"
    for rm in _ROW.finditer(xml):
        if int(rm[1]) != row:
            continue
        row_xml = rm[0]
        for cm in _CELL.finditer(row_xml):
            if cm[1].decode() == letters and int(cm[2]) == row:
                style = _STYLE.search(cm[3])
                new = cell_xml(coord, value, style[1] if style else b"")
                row_xml = row_xml[:cm.start()] + new + row_xml[cm.end():]
                break
        else:  # a new cell in an existing row: before the first cell to its right
            new = cell_xml(coord, value)
            if row_xml.endswith(b"/>"):
                row_xml = row_xml[:-2] + b">" + new + b"</row>"
            else:
                at = next((cm.start() for cm in _CELL.finditer(row_xml)
                           if _column_number(cm[1].decode()) > _column_number(letters)),
                          len(row_xml) - len(b"</row>"))
                row_xml = row_xml[:at] + new + row_xml[at:]
        return xml[:rm.start()] + row_xml + xml[rm.end():]
    # a new row: before the first row below it, or at the end of sheetData
    new_row = b'<row r="' + str(row).encode() + b'">' + cell_xml(coord, value) + b"</row>"
    at = next((rm.start() for rm in _ROW.finditer(xml) if int(rm[1]) > row), None)
    if at is None:
        if b"<sheetData/>" in xml:
            return xml.replace(b"<sheetData/>", b"<sheetData>" + new_row + b"</sheetData>", 1)
        at = xml.index(b"</sheetData>")
    return xml[:at] + new_row + xml[at:]


def edit_cells_xml(src: Path, dst: Path, sheet: str, cells: Mapping[str, object]) -> Path:
    """Copy a workbook with cells rewritten directly in one sheet's XML.

    Values: None (empty), int/float, bool, str, '=FORMULA', or Text('=text') for text that
    begins with '='. The cell keeps its style;
    every other byte of the sheet XML and every other part stays as it was, so the file is
    what a principal's Excel would hand back, minus Excel's own rewriting.
    """
    part = sheet_part(src, sheet)
    return rewrite_zip(src, dst, replace={part: set_cells(_read(src, part), cells)})


def add_sheet(src: Path, dst: Path, name: str, cells: Mapping[str, object] | None = None,
              state: str = "visible") -> Path:
    """Copy a workbook with a new worksheet `name` appended (part, rels, content type)."""
    with zipfile.ZipFile(src) as z:
        names = set(z.namelist())
        workbook = z.read("xl/workbook.xml")
        rels = z.read("xl/_rels/workbook.xml.rels")
        types = z.read("[Content_Types].xml")
    n = 1
    while f"xl/worksheets/sheet{n}.xml" in names:
        n += 1
    part = f"xl/worksheets/sheet{n}.xml"
    ids = {int(i) for i in re.findall(rb'Id="rId(\d+)"', rels)}
    rid = f"rId{max(ids, default=0) + 1}"
    sheet_ids = [int(i) for i in re.findall(rb'sheetId="(\d+)"', workbook)]
    sheet_id = max(sheet_ids, default=0) + 1
    body = set_cells(b"<sheetData/>", cells or {})
    sheet_xml = (f'<worksheet xmlns="{MAIN_NS}">'.encode() + body + b"</worksheet>")
    state_attr = f' state="{state}"' if state != "visible" else ""
    entry = (f'<sheet name="{escape(name, {chr(34): "&quot;"})}" sheetId="{sheet_id}"'
             f'{state_attr} r:id="{rid}"/>').encode()
    workbook = workbook.replace(b"</sheets>", entry + b"</sheets>", 1)
    rel = f'<Relationship Id="{rid}" Type="{WORKSHEET_TYPE}" Target="/{part}"/>'.encode()
    rels = rels.replace(b"</Relationships>", rel + b"</Relationships>", 1)
    override = f'<Override PartName="/{part}" ContentType="{WORKSHEET_CT}"/>'.encode()
    types = types.replace(b"</Types>", override + b"</Types>", 1)
    return rewrite_zip(src, dst, replace={"xl/workbook.xml": workbook,
                                          "xl/_rels/workbook.xml.rels": rels,
                                          "[Content_Types].xml": types},
                       add={part: sheet_xml})


def _with_part(src: Path, dst: Path, part: str, data: bytes, rel_type: str | None = None,
               content_type: str | None = None) -> Path:
    """Copy a workbook with a part added and, if given, its workbook rel and content type;
    a part the workbook already has (shared strings, say) is replaced, rel and type kept."""
    with zipfile.ZipFile(src) as z:
        rels = z.read("xl/_rels/workbook.xml.rels")
        types = z.read("[Content_Types].xml")
        if part in z.namelist():
            return rewrite_zip(src, dst, replace={part: data})
    replace: dict[str, bytes | None] = {}
    if rel_type:
        ids = {int(i) for i in re.findall(rb'Id="rId(\d+)"', rels)}
        rel = (f'<Relationship Id="rId{max(ids, default=0) + 1}" Type="{rel_type}" '
               f'Target="/{part}"/>').encode()
        replace["xl/_rels/workbook.xml.rels"] = rels.replace(b"</Relationships>",
                                                             rel + b"</Relationships>", 1)
    if content_type:
        override = f'<Override PartName="/{part}" ContentType="{content_type}"/>'.encode()
        replace["[Content_Types].xml"] = types.replace(b"</Types>", override + b"</Types>", 1)
    return rewrite_zip(src, dst, replace=replace, add={part: data})


def _edit_part(src: Path, dst: Path, part: str, edit: Callable[[bytes], bytes]) -> Path:
    return rewrite_zip(src, dst, replace={part: edit(_read(src, part))})


# --- the shapes ---------------------------------------------------------------------------

def _fake_ole2(stream_names: list[str]) -> bytes:
    """A minimal OLE2 compound file: header, one FAT sector, one directory sector.

    Enough for anything that looks at the magic and the directory names (as the reader
    does); it holds no real streams.
    """
    sector = 512
    header = bytearray(sector)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)  # minor, major, BOM, shifts
    struct.pack_into("<I", header, 44, 1)  # one FAT sector
    struct.pack_into("<I", header, 48, 1)  # directory starts at sector 1
    struct.pack_into("<I", header, 56, 4096)  # mini stream cutoff
    struct.pack_into("<IIII", header, 60, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
    struct.pack_into("<I", header, 76, 0)  # FAT sector 0
    for i in range(1, 109):
        struct.pack_into("<I", header, 76 + 4 * i, 0xFFFFFFFF)
    fat = bytearray(b"\xff" * sector)
    struct.pack_into("<II", fat, 0, 0xFFFFFFFD, 0xFFFFFFFE)  # FAT sector, directory chain end
    directory = bytearray(sector)
    for i, name in enumerate(["Root Entry", *stream_names][:4]):
        raw = name.encode("utf-16-le") + b"\x00\x00"
        entry = bytearray(128)
        entry[0:len(raw)] = raw
        struct.pack_into("<HBB", entry, 64, len(raw), 5 if i == 0 else 2, 1)
        struct.pack_into("<III", entry, 68, 0xFFFFFFFF, 0xFFFFFFFF,
                         1 if i == 0 and stream_names else 0xFFFFFFFF)
        struct.pack_into("<I", entry, 116, 0xFFFFFFFE)
        directory[128 * i:128 * (i + 1)] = entry
    return bytes(header + fat + directory)


def _encrypted(plan: Path, dst: Path) -> Path:
    """The plan really encrypted (msoffcrypto-tool), else a minimal encrypted-OOXML container."""
    try:
        from msoffcrypto.format.ooxml import OOXMLFile
    except ImportError:
        dst.write_bytes(_fake_ole2(["EncryptionInfo", "EncryptedPackage"]))
        return dst
    with open(plan, "rb") as fh, open(dst, "wb") as out:
        OOXMLFile(fh).encrypt("secret", out)
    return dst


def _ods(dst: Path) -> Path:
    content = (b'<?xml version="1.0" encoding="UTF-8"?><office:document-content '
               b'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               b'office:version="1.2"><office:body><office:spreadsheet/></office:body>'
               b"</office:document-content>")
    manifest = (b'<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                b'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
                b'<manifest:file-entry manifest:full-path="/" manifest:media-type='
                b'"application/vnd.oasis.opendocument.spreadsheet"/></manifest:manifest>')
    with zipfile.ZipFile(dst, "w") as z:
        # the ODF rule: "mimetype" first and stored, so `file` and others can sniff it
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet",
                   compress_type=zipfile.ZIP_STORED)
        z.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
    return dst


def _xlsm(plan: Path, dst: Path) -> Path:
    types = _read(plan, "[Content_Types].xml").replace(
        b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")
    types = types.replace(b"</Types>", b'<Default Extension="bin" ContentType='
                          b'"application/vnd.ms-office.vbaProject"/></Types>')
    tmp = dst.with_suffix(".tmp")
    rewrite_zip(plan, tmp, replace={"[Content_Types].xml": types})
    _with_part(tmp, dst, "xl/vbaProject.bin", _fake_ole2(["VBA", "PROJECT"]),
               rel_type="http://schemas.microsoft.com/office/2006/relationships/vbaProject")
    tmp.unlink()
    return dst


def _zip_bomb(plan: Path, dst: Path, megabytes: int = 500) -> Path:
    """The plan plus one part of `megabytes` MB of zeros, compressed while it is written."""
    shutil.copyfile(plan, dst)
    zeros = bytes(2**20)
    with zipfile.ZipFile(dst, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("xl/media/image1.png", "w", force_zip64=True) as part:
            for _ in range(megabytes):
                part.write(zeros)
    return dst


def _lying_sizes(plan: Path, dst: Path) -> Path:
    """A 20 MB part of zeros whose zip headers claim 1,000 bytes (with that prefix's CRC)."""
    shutil.copyfile(plan, dst)
    name = "xl/media/image1.png"
    with zipfile.ZipFile(dst, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, bytes(20 * 2**20))
    with zipfile.ZipFile(dst) as z:
        local = z.getinfo(name).header_offset
    data = bytearray(dst.read_bytes())
    small = 1000
    crc = zlib.crc32(bytes(small))
    # local header: CRC at 14, uncompressed size at 22; central record: at 16 and 24
    struct.pack_into("<I", data, local + 14, crc)
    struct.pack_into("<I", data, local + 22, small)
    central = data.rindex(b"PK\x01\x02")  # appended last, so its record is the last one
    assert data[central + 46:central + 46 + len(name)] == name.encode()
    struct.pack_into("<I", data, central + 16, crc)
    struct.pack_into("<I", data, central + 24, small)
    dst.write_bytes(bytes(data))
    return dst


def _overlapping(plan: Path, dst: Path) -> Path:
    """A second directory record pointing at the same compressed bytes as a sheet's."""
    data = bytearray(plan.read_bytes())
    eocd = data.rindex(b"PK\x05\x06")
    cd_size, cd_offset = struct.unpack_from("<II", data, eocd + 12)
    first = data.index(b"PK\x01\x02", cd_offset)
    name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, first + 28)
    record = bytearray(data[first:first + 46 + name_len + extra_len + comment_len])
    old_name = bytes(record[46:46 + name_len])
    new_name = (b"z" * name_len)[:name_len]
    record[46:46 + name_len] = new_name
    assert old_name != new_name
    directory = data[cd_offset:cd_offset + cd_size] + record
    count = struct.unpack_from("<H", data, eocd + 10)[0] + 1
    end = bytearray(data[eocd:])
    struct.pack_into("<HHII", end, 8, count, count, len(directory), cd_offset)
    dst.write_bytes(bytes(data[:cd_offset] + directory + end))
    return dst


def _crc_error(plan: Path, dst: Path) -> Path:
    """One byte of a sheet's compressed data flipped."""
    data = bytearray(plan.read_bytes())
    with zipfile.ZipFile(plan) as z:
        info = z.getinfo(sheet_part(plan, "Staffing"))
    name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_len + extra_len
    data[start + info.compress_size // 2] ^= 0x55
    dst.write_bytes(bytes(data))
    return dst


_BILLION_LAUGHS = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">
<si><t>&lol9;</t></si></sst>"""


def _shared_strings(plan: Path, dst: Path, xml: bytes) -> Path:
    return _with_part(plan, dst, "xl/sharedStrings.xml", xml, SHARED_STRINGS_TYPE,
                      SHARED_STRINGS_CT)


def _external_entity(plan: Path, dst: Path) -> Path:
    """Sheet 1 declares an external entity and uses it in a cell."""
    part = sheet_part(plan, "Start Here")
    doctype = b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY x SYSTEM "file:///etc/passwd">]>'

    def edit(xml: bytes) -> bytes:
        xml = set_cells(xml, {"C1": "PLACEHOLDER"}).replace(b"PLACEHOLDER", b"&x;")
        return doctype + xml[xml.index(b"<worksheet"):]

    return _edit_part(plan, dst, part, edit)


def _huge_strings(plan: Path, dst: Path, megabytes: int = 31) -> Path:
    """A shared-strings table of `megabytes` MB, written by streaming."""
    tmp = dst.with_suffix(".tmp")
    kept = _existing_strings(plan)
    rewrite_zip(plan, tmp, replace={"xl/sharedStrings.xml": None})
    with zipfile.ZipFile(tmp, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(b'<?xml version="1.0" encoding="UTF-8"?>\n'
                       b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
            part.write(b"".join(kept))
            block = b"".join(b"<si><t>pasted row %06d of the ledger</t></si>" % i
                             for i in range(20000))
            written = 0
            while written < megabytes * 2**20:
                part.write(block)
                written += len(block)
            part.write(b"</sst>")
    rels = _read(tmp, "xl/_rels/workbook.xml.rels")
    if SHARED_STRINGS_TYPE.encode() not in rels:
        rels = rels.replace(
            b"</Relationships>", f'<Relationship Id="rId900" Type="{SHARED_STRINGS_TYPE}" '
            f'Target="sharedStrings.xml"/></Relationships>'.encode())
    rewrite_zip(tmp, dst, replace={"xl/_rels/workbook.xml.rels": rels})
    tmp.unlink()
    return dst


def _junk_rows(plan: Path, dst: Path, rows: int = 20000) -> Path:
    """`rows` rows of values pasted below the plan on Other Spending."""
    part = sheet_part(plan, "Other Spending")

    def edit(xml: bytes) -> bytes:
        junk = b"".join(
            b'<row r="%d"><c r="B%d" t="inlineStr"><is><t>4300</t></is></c>'
            b'<c r="G%d" t="n"><v>%d.25</v></c></row>' % (r, r, r, r)
            for r in range(200, 200 + rows))
        return xml.replace(b"</sheetData>", junk + b"</sheetData>", 1)

    return _edit_part(plan, dst, part, edit)


def _external_links(plan: Path, dst: Path) -> Path:
    link = (b'<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            b'<externalBook r:id="rId1"><sheetNames><sheetName val="Budget"/></sheetNames>'
            b'<sheetDataSet><sheetData sheetId="0"/></sheetDataSet></externalBook>'
            b"</externalLink>")
    link_rels = (f'<Relationships xmlns="{PKG_REL_NS}"><Relationship Id="rId1" '
                 f'Type="{REL_NS}/externalLinkPath" Target="file:///C:/Users/principal/'
                 f'Desktop/budget.xlsx" TargetMode="External"/></Relationships>').encode()
    tmp = dst.with_suffix(".tmp")
    _with_part(plan, tmp, "xl/externalLinks/externalLink1.xml", link, f"{REL_NS}/externalLink",
               "application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml")
    rewrite_zip(tmp, dst, add={"xl/externalLinks/_rels/externalLink1.xml.rels": link_rels})
    tmp.unlink()
    return dst


def _duplicate_part(plan: Path, dst: Path) -> Path:
    """A second copy of a sheet part whose name differs only in case, holding a far cell."""
    part = sheet_part(plan, "Other Spending")
    evil = set_cells(_read(plan, part), {"XFD1048576": "x"})
    return rewrite_zip(plan, dst, add={part.upper(): evil})


def _sheet_edit(plan: Path, dst: Path, sheet: str, edit: Callable[[bytes], bytes]) -> Path:
    return _edit_part(plan, dst, sheet_part(plan, sheet), edit)


_STAFFING = "Staffing"


def openpyxl_formulas(path: Path) -> dict[str, dict[str, str]]:
    """Every formula cell's text as openpyxl reads it (shared formulas translated), no "="."""
    import openpyxl
    from openpyxl.worksheet.formula import ArrayFormula

    found: dict[str, dict[str, str]] = {}
    for ws in openpyxl.load_workbook(path).worksheets:
        texts = found[ws.title] = {}
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, ArrayFormula):
                    texts[cell.coordinate] = cell.value.text.removeprefix("=")
                elif cell.data_type == "f":
                    texts[cell.coordinate] = str(cell.value).removeprefix("=")
    return found


def _cell_re(coord: str) -> re.Pattern[bytes]:
    return re.compile(rb'<c r="' + coord.encode() + rb'"[^>]*?(?:/>|>.*?</c>)', re.S)


def replace_cell(xml: bytes, coord: str, new: bytes) -> bytes:
    """Sheet XML with the whole <c> of `coord` replaced by `new` (bytes as given)."""
    m = _cell_re(coord).search(xml)
    if m is None:
        raise KeyError(coord)
    return xml[:m.start()] + new + xml[m.end():]


def _edit_cell_formula(coord: str, f_tag: bytes) -> Callable[[bytes], bytes]:
    """An edit giving the formula cell `coord` a new <f> start tag (its text kept)."""

    def edit(xml: bytes) -> bytes:
        cell = _cell_re(coord).search(xml)
        assert cell is not None and b"<f>" in cell[0], coord
        return replace_cell(xml, coord, cell[0].replace(b"<f>", f_tag, 1))

    return edit


def _row_append(xml: bytes, row: int, cells: bytes) -> bytes:
    """Sheet XML with `cells` added at the end of row `row`."""
    m = re.search(rb'<row r="%d"[^>]*>.*?</row>' % row, xml, re.S)
    assert m is not None, row
    return xml[:m.end() - len(b"</row>")] + cells + xml[m.end() - len(b"</row>"):]


def _alternate(choice: bytes, fallback: bytes, requires: str = "x14") -> bytes:
    return (f'<mc:AlternateContent xmlns:mc="{MC_NS}"><mc:Choice Requires="{requires}">'.encode()
            + choice + b"</mc:Choice><mc:Fallback>" + fallback
            + b"</mc:Fallback></mc:AlternateContent>")


def _with_root(xml: bytes, extra: bytes) -> bytes:
    """Sheet XML whose root <worksheet> carries extra attributes (namespaces, mc:Ignorable)."""
    root = f'<worksheet xmlns="{MAIN_NS}"'.encode()
    assert xml.count(root) == 1
    head = xml[xml.index(root):xml.index(b">", xml.index(root))]
    # a namespace the root declares already (XlsxWriter declares xmlns:r) is not declared twice
    extra = b" ".join(a for a in re.findall(rb'[\w:]+="[^"]*"', extra)
                      if a.split(b"=")[0] + b"=" not in head)
    return xml.replace(root, root + b" " + extra, 1)


def with_shared_strings(plan: Path, dst: Path, items: list[bytes],
                        cells: Mapping[str, int], sheet: str = _STAFFING,
                        head: bytes = b'<?xml version="1.0" encoding="UTF-8"?>\n') -> Path:
    """The plan with `items` (<si> elements, as given) added to its sharedStrings.xml after the
    strings it has, and cells of `sheet` showing them ({coord: index into items}, t="s"), as
    Excel stores typed text."""
    kept = _existing_strings(plan)
    xml = _read(plan, sheet_part(plan, sheet))
    for coord, index in cells.items():
        xml = replace_cell(xml, coord, b'<c r="%s" t="s"><v>%d</v></c>'
                           % (coord.encode(), index + len(kept)))
    n = len(kept) + len(items)
    sst = (head + f'<sst xmlns="{MAIN_NS}" count="{n}" uniqueCount="{n}">'
           .encode() + b"".join(kept) + b"".join(items) + b"</sst>")
    tmp = dst.with_suffix(".tmp")
    rewrite_zip(plan, tmp, replace={sheet_part(plan, sheet): xml})
    _shared_strings(tmp, dst, sst)
    tmp.unlink()
    return dst


def _existing_strings(plan: Path) -> list[bytes]:
    """The <si> elements of a plan's shared strings (none when it has no such part)."""
    with zipfile.ZipFile(plan) as z:
        if "xl/sharedStrings.xml" not in z.namelist():
            return []
        xml = z.read("xl/sharedStrings.xml")
    return re.findall(rb"<si>.*?</si>", xml, re.S)


def _typed(plan: Path, dst: Path, cells: Mapping[str, object]) -> Path:
    return edit_cells_xml(plan, dst, _STAFFING, cells)


def _encoded_part(plan: Path, dst: Path, part: str, codec: str) -> Path:
    """One part re-encoded (its XML declaration saying so), as an odd program might write it."""
    text = _read(plan, part).decode("utf-8")
    if text.startswith("<?xml"):
        text = text[text.index("?>") + 2:]
    label = codec.upper().replace("-LE", "").replace("-BE", "")
    data = f'<?xml version="1.0" encoding="{label}"?>{text}'.encode(codec)
    return rewrite_zip(plan, dst, replace={part: data})


def _utf16_strings(plan: Path, dst: Path) -> Path:
    """Shared strings in UTF-16 without a byte-order mark (its declaration says UTF-16)."""
    tmp = dst.with_suffix(".strings")
    with_shared_strings(plan, tmp, [b"<si><t>GEN</t></si>"], {"E7": 0})
    data = (f'<?xml version="1.0" encoding="UTF-16"?><sst xmlns="{MAIN_NS}"><si><t>GEN</t>'
            "</si></sst>").encode("utf-16-le")
    rewrite_zip(tmp, dst, replace={"xl/sharedStrings.xml": data})
    tmp.unlink()
    return dst


X14_NS = "http://schemas.microsoft.com/office/spreadsheetml/2009/9/main"
X15_NS = "http://schemas.microsoft.com/office/spreadsheetml/2010/11/main"
#: The workbook extensions Excel 2013+ writes in every file it saves.
EXCEL_WORKBOOK_EXTENSIONS = (
    f'<extLst><ext uri="{{140A7094-0E35-4892-8432-C4D2E57EDEB5}}" xmlns:x15="{X15_NS}">'
    '<x15:workbookPr chartTrackingRefBase="1"/></ext>'
    '<ext uri="{B58B0392-4F1F-4190-BB64-5DF3571DCE5F}" xmlns:xcalcf="http://schemas.microsoft.'
    'com/office/spreadsheetml/2018/calcfeatures"><xcalcf:calcFeatures><xcalcf:feature '
    'name="microsoft.com:RD"/><xcalcf:feature name="microsoft.com:Single"/>'
    "</xcalcf:calcFeatures></ext>"
    # function argument descriptions (Excel 2010): names no spreadsheet lists
    f'<ext uri="{{FCE2AD5D-F65C-4FA6-A056-5C36A1767C68}}" xmlns:x14="{X14_NS}"><x14:definedNames>'
    '<x14:definedName name="Plan_School"><x14:argumentDescriptions count="1">'
    "<x14:argumentDescription index=\"1\">a cell</x14:argumentDescription>"
    "</x14:argumentDescriptions></x14:definedName></x14:definedNames></ext></extLst>").encode()


def _excel_alternate_content(plan: Path, dst: Path) -> Path:
    """The plan with the mc:AlternateContent and extensions Excel itself writes: the folder the
    file was saved in (workbook.xml, x15ac:absPath), its workbook extensions (x15:workbookPr,
    calculation features, x14 names) and a form control on a sheet (x14 controls)."""
    workbook = _read(plan, "xl/workbook.xml")
    abs_path = _alternate(
        b'<x15ac:absPath xmlns:x15ac="http://schemas.microsoft.com/office/spreadsheetml/2010/'
        b'11/ac" url="C:\\Users\\principal\\Documents\\Budget\\"/>', b"", requires="x15")
    abs_path = abs_path.replace(b"<mc:Fallback></mc:Fallback>", b"")
    at = workbook.index(b"<bookViews")
    workbook = workbook[:at] + abs_path + workbook[at:]
    workbook = workbook.replace(b"</workbook>", EXCEL_WORKBOOK_EXTENSIONS + b"</workbook>", 1)
    part = sheet_part(plan, "Start Here")
    sheet = _read(plan, part)
    xdr = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
    sheet = _with_root(sheet, (
        f'xmlns:r="{REL_NS}" xmlns:xdr="{xdr}" xmlns:mc="{MC_NS}" mc:Ignorable="x14ac" '
        'xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"').encode())
    sheet = re.sub(rb'<row r="(\d+)"', rb'<row r="\1" x14ac:dyDescent="0.25"', sheet)
    anchor = b"".join(b"<%s><xdr:col>%d</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>%d</xdr:row>"
                      b"<xdr:rowOff>0</xdr:rowOff></%s>" % (end, col, row, end)
                      for end, col, row in ((b"from", 3, 14), (b"to", 4, 15)))
    control = (b'<control shapeId="1025" r:id="rId90" name="Check Box 1"><controlPr '
               b'defaultSize="0" autoFill="0" autoLine="0" autoPict="0"><anchor '
               b'moveWithCells="1">' + anchor + b"</anchor></controlPr></control>")
    controls = _alternate(b"<controls>" + _alternate(control, b"").replace(
        b"<mc:Fallback></mc:Fallback>", b"") + b"</controls>", b"")
    controls = controls.replace(b"<mc:Fallback></mc:Fallback>", b"")
    sheet = sheet.replace(b"</worksheet>", controls + b"</worksheet>", 1)
    return rewrite_zip(plan, dst, replace={"xl/workbook.xml": workbook, part: sheet})


def _unseen_content_shapes(plan: Path) -> dict[str, tuple[str | None, Callable[[Path], object]]]:
    """Shapes whose values a spreadsheet would show otherwise than python-calamine reads them,
    or that are not in the text encoding every spreadsheet program writes."""
    staffing = sheet_part(plan, _STAFFING)
    typed = set_cells(_read(plan, staffing), {"B7": "TCH", "D7": 0.5, "E7": "GEN", "F7": "G1"})

    def sheet(edit: Callable[[bytes], bytes]) -> Callable[[Path], object]:
        return lambda p: rewrite_zip(plan, p, replace={staffing: edit(typed)})

    d7 = b'<c r="D7" t="n"><v>0.5</v></c>'
    d7_more = b'<c r="D7" t="n"><v>40</v></c>'
    row8 = re.search(rb'<row r="8"[^>]*>.*?</row>', typed, re.S)
    assert row8 is not None
    return {
        # text encodings: the value reader and the scans must decode the same characters
        "utf16-sheet.xlsx": ("unsupported-encoding",
                             lambda p: _encoded_part(plan, p, staffing, "utf-16")),
        "utf16-strings-no-bom.xlsx": ("unsupported-encoding", lambda p: _utf16_strings(plan, p)),
        "utf32-workbook.xlsx": ("unsupported-encoding",
                                lambda p: _encoded_part(plan, p, "xl/workbook.xml", "utf-32")),
        "latin1-strings.xlsx": ("unsupported-encoding", lambda p: with_shared_strings(
            plan, p, [b"<si><t>B\xfccher</t></si>"], {"G7": 0},
            head=b'<?xml version="1.0" encoding="ISO-8859-1"?>\n')),
        "invalid-utf8.xlsx": ("unsupported-encoding", sheet(lambda x: set_cells(
            x, {"G7": "PLACEHOLDER"}).replace(b"PLACEHOLDER", b"Caf\xe9 lead"))),
        # content a spreadsheet would not show
        "duplicate-cells.xlsx": ("duplicate-cells", sheet(lambda x: _row_append(x, 7, d7_more))),
        "duplicate-rows.xlsx": ("duplicate-cells", sheet(lambda x: x.replace(
            b"</sheetData>", b'<row r="7">' + d7_more + b"</row></sheetData>", 1))),
        "alternate-cells.xlsx": ("alternate-content", sheet(lambda x: replace_cell(
            x, "D7", _alternate(d7, d7_more)))),
        "alternate-rows.xlsx": ("alternate-content", sheet(lambda x: x.replace(
            row8[0], _alternate(row8[0], set_cells(row8[0], {"D8": 40})), 1))),
        "alternate-sheets.xlsx": ("alternate-content", lambda p: _edit_part(
            plan, p, "xl/workbook.xml", lambda x: re.sub(
                rb'(<sheet name="Staffing"[^>]*/>)',
                lambda m: _alternate(m[0], m[0].replace(b'name="Staffing"',
                                                        b'name="Staffing (old)"')), x))),
        "alternate-strings.xlsx": ("alternate-content", lambda p: with_shared_strings(
            plan, p, [_alternate(b"<si><t>GEN</t></si>", b"<si><t>TITLE1</t></si>"),
                      b"<si><t>G1</t></si>"], {"E7": 0, "F7": 1})),
        "hidden-wrapper.xlsx": ("unexpected-markup", sheet(lambda x: replace_cell(
            _with_root(x, f'xmlns:mc="{MC_NS}" xmlns:q="urn:example:hidden" '
                          'mc:Ignorable="q"'.encode()),
            "D7", b"<q:hide>" + d7_more + b"</q:hide>"))),
        "value-before-formula.xlsx": ("unexpected-markup", sheet(lambda x: replace_cell(
            x, "I8", b'<c r="I8" s="17"><v>99</v><f>ROUND(J8-H8,2)</f></c>'))),
        "inline-text-two-parts.xlsx": ("unexpected-markup", sheet(lambda x: replace_cell(
            x, "E7", b'<c r="E7" t="inlineStr"><is><t>TITLE1</t><t>GEN</t></is></c>'))),
        "shared-text-two-parts.xlsx": ("unexpected-markup", lambda p: with_shared_strings(
            plan, p, [b"<si><t>GEN</t><t>TITLE1</t></si>"], {"E7": 0})),
        "shared-text-and-value.xlsx": ("unexpected-markup", sheet(lambda x: replace_cell(
            x, "E7", b'<c r="E7" t="s"><v>0</v><is><t>GEN</t></is></c>'))),
        "rich-text-run-spaces.xlsx": ("unexpected-markup", sheet(lambda x: replace_cell(
            x, "G7", b'<c r="G7" t="inlineStr"><is><r><t>Grade 3 </t></r><r><rPr><b/></rPr>'
            b"<t>reading</t></r></is></c>"))),
        "workbook-sheet-elsewhere.xlsx": ("unexpected-markup", lambda p: _edit_part(
            plan, p, "xl/workbook.xml", lambda x: x.replace(b"</workbook>", (
                b'<extLst><ext uri="{00000000-0000-0000-0000-000000000001}"><q:sheet '
                b'xmlns:q="urn:example:q" name="Staffing (copy)" sheetId="99" r:id="rId3"/>'
                b"</ext></extLst></workbook>"), 1))),
        "excel-alternate-content.xlsx": (None, lambda p: _excel_alternate_content(plan, p)),
        # formulas that are damaged
        "shared-formula-orphan.xlsx": ("not-an-xlsx-file", sheet(
            _edit_cell_formula("I8", b'<f t="shared" si="7">'))),
        "array-formula-bad-ref.xlsx": ("not-an-xlsx-file", sheet(
            _edit_cell_formula("I8", b'<f t="array" ref="I8:">'))),
        "array-formula-huge.xlsx": ("too-many-cells", sheet(
            _edit_cell_formula("I8", b'<f t="array" ref="A1:XFD1048576">'))),
    }


def make_corpus(directory: Path, plan: Path | None = None) -> dict[str, str | None]:
    """Write every shape into `directory`; return {file name: expected ReadProblem code}.

    None means the file reads cleanly; codes in WARNINGS read with that warning.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    plan = Path(plan) if plan else build_plan(directory / "valid.xlsx")
    if plan.parent != directory or plan.name != "valid.xlsx":
        shutil.copyfile(plan, directory / "valid.xlsx")
    d = directory
    shapes: dict[str, str | None] = {"valid.xlsx": None}

    def shape(name: str, code: str | None, make: Callable[[Path], object]) -> None:
        make(d / name)
        shapes[name] = code

    shape("empty.xlsx", "empty-file", lambda p: p.write_bytes(b""))
    shape("old-format.xls", "old-excel-format",
          lambda p: p.write_bytes(_fake_ole2(["Workbook", "\x05SummaryInformation"])))
    shape("password.xlsx", "password-protected", lambda p: _encrypted(plan, p))
    shape("password-minimal.xlsx", "password-protected",
          lambda p: p.write_bytes(_fake_ole2(["EncryptionInfo", "EncryptedPackage"])))
    shape("renamed-csv.xlsx", "not-an-xlsx-file", lambda p: p.write_bytes(
        b"school_id,job_class,fte,fund\r\n01999996000013,TCHR,1.0,GEN\r\n"
        b"01999996000013,AIDE,0.5,TITLE1\r\n"))
    shape("renamed-pdf.xlsx", "not-an-xlsx-file",
          lambda p: p.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"))
    shape("random-bytes.xlsx", "not-an-xlsx-file",
          lambda p: p.write_bytes(bytes(range(256)) * 16))
    shape("spreadsheet.ods", "opendocument-file", _ods)
    shape("word-document.xlsx", "not-an-xlsx-file", lambda p: _word_zip(p))
    shape("truncated.xlsx", "truncated-file",
          lambda p: p.write_bytes(plan.read_bytes()[: plan.stat().st_size // 2]))
    shape("crc-error.xlsx", "truncated-file", lambda p: _crc_error(plan, p))
    shape("duplicate-part.xlsx", "truncated-file", lambda p: _duplicate_part(plan, p))
    shape("duplicate-sheet-name.xlsx", "not-an-xlsx-file",
          lambda p: add_sheet(plan, p, "STAFFING", {"B7": "TCH"}))
    shape("macros.xlsm", "macro-enabled", lambda p: _xlsm(plan, p))
    shape("external-links.xlsx", "external-links", lambda p: _external_links(plan, p))
    shape("zip-bomb.xlsx", "zip-bomb", lambda p: _zip_bomb(plan, p))
    shape("zip-bomb-lying-sizes.xlsx", "zip-bomb", lambda p: _lying_sizes(plan, p))
    shape("overlapping-parts.xlsx", "zip-bomb", lambda p: _overlapping(plan, p))
    shape("billion-laughs.xlsx", "unsafe-xml",
          lambda p: _shared_strings(plan, p, _BILLION_LAUGHS))
    shape("billion-laughs-utf16.xlsx", "unsafe-xml", lambda p: _shared_strings(
        plan, p, _BILLION_LAUGHS.replace(b"UTF-8", b"UTF-16").decode().encode("utf-16")))
    shape("external-entity.xlsx", "unsafe-xml", lambda p: _external_entity(plan, p))
    shape("xfd1048576.xlsx", "too-many-cells",
          lambda p: edit_cells_xml(plan, p, "Other Spending", {"XFD1048576": "stray"}))
    shape("huge-dimension.xlsx", "too-many-cells", lambda p: _sheet_edit(
        plan, p, "Staffing", lambda x: re.sub(rb'<dimension ref="[^"]*"',
                                              b'<dimension ref="A1:XFD1048576"', x, count=1)))
    shape("junk-rows.xlsx", "too-many-cells", lambda p: _junk_rows(plan, p))
    shape("cells-without-r.xlsx", "unexpected-markup", lambda p: _sheet_edit(
        plan, p, "Summary", lambda x: x.replace(
            b"</sheetData>", b"<row>" + b"<c><v>1</v></c>" * 300 + b"</row></sheetData>", 1)))
    shape("far-row-without-r.xlsx", "too-many-cells", lambda p: _sheet_edit(
        plan, p, "Services", lambda x: x.replace(
            b"</sheetData>", b'<row r="100000000"><c t="n"><v>1</v></c></row></sheetData>', 1)))
    # UTF-16 is refused before the scan would find the far cell
    shape("utf16-far-cell.xlsx", "unsupported-encoding", lambda p: _sheet_edit(
        plan, p, "Other Spending", lambda x: (
            '<?xml version="1.0" encoding="UTF-16"?>'
            + set_cells(x, {"XFD1048576": "stray"}).decode()).encode("utf-16")))
    shape("prefixed-far-cell.xlsx", "too-many-cells", lambda p: _sheet_edit(
        plan, p, "Lists", lambda x: x.replace(
            b"</sheetData>", f'<row r="1048576"><x:c xmlns:x="{MAIN_NS}" r="XFD1048576" '
            f't="n"><x:v>1</x:v></x:c></row></sheetData>'.encode(), 1)))
    shape("attribute-order.xlsx", "too-many-cells", lambda p: _sheet_edit(
        plan, p, "Goals & Strategies", lambda x: x.replace(
            b"</sheetData>", b'<row r="1048576"><c s="0" r="XFD1048576" t="n"><v>1</v></c>'
            b"</row></sheetData>", 1)))
    shape("huge-strings.xlsx", "too-many-strings", lambda p: _huge_strings(plan, p))
    for name, (code, make) in _unseen_content_shapes(plan).items():
        shape(name, code, make)
    return shapes


def _word_zip(dst: Path) -> Path:
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", b'<Types xmlns="http://schemas.openxmlformats.org/'
                   b'package/2006/content-types"/>')
        z.writestr("word/document.xml", b"<w:document xmlns:w=\"http://schemas.openxmlformats"
                   b'.org/wordprocessingml/2006/main"><w:body/></w:document>')
    return dst
