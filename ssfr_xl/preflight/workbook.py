"""One file end to end: pre-flight (package, structure, sheets, strings), then
python-calamine reading only the checked parts."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Collection, Iterator
from pathlib import Path
from xml.parsers import expat

from defusedxml import DefusedXmlException
from python_calamine import CalamineWorkbook

from .cells import _TooFar, _Unusual, _unusual_problem
from .fast_scan import _scan_sheet_bytes
from .package import (
    _CALAMINE_PARTS,
    _EOCD_SIG,
    _LOCAL_SIG,
    _SHARED_STRINGS,
    _WORKSHEET_DIRS,
    _load,
    _not_a_zip,
    _Package,
)
from .problems import _RESAVE, Limits, RawWorkbook, ReadProblem, _bomb, _mb, _not_xlsx, _unsafe
from .strings import _scan_strings, _too_many_cells
from .structure import _Inspection, _structure

# --- pre-flight: all together -------------------------------------------------------------

def _inspect(data: bytes, file_name: str, limits: Limits,
             wanted: Collection[str] | None) -> _Inspection:
    """Every pre-flight check; also collects what the sheet XML tells (formulas, merges)."""
    if not data.startswith(_LOCAL_SIG) and not data.startswith(_EOCD_SIG):
        raise _not_a_zip(data)
    pkg = _Package(data, limits)

    mimetype = pkg.find("mimetype")
    if mimetype is not None:
        head = b"".join(pkg.chunks(mimetype, cap=256, cap_problem=lambda _n: _not_xlsx(
            "This file is not an Excel workbook (.xlsx).")))
        if head.startswith(b"application/vnd.oasis.opendocument"):
            raise ReadProblem(
                "opendocument-file",
                "This is an OpenDocument spreadsheet (.ods), not an Excel workbook. Save as "
                "Excel Workbook (.xlsx): in LibreOffice choose File > Save As, file type "
                "Excel 2007-365 (.xlsx), and send that file.")

    declared = sum(e.info.file_size for e in pkg.entries.values())
    if declared > limits.max_uncompressed_bytes:
        raise _bomb(f"{_mb(declared)} in all")
    strings = pkg.find(_SHARED_STRINGS)
    if strings is not None and pkg.entries[strings].info.file_size > \
            limits.max_shared_strings_bytes:
        raise _too_many_strings(pkg.entries[strings].info.file_size, limits)
    for name, e in pkg.entries.items():
        size, packed = e.info.file_size, max(e.info.compress_size, 1)
        if size > limits.ratio_floor_bytes and size / packed > limits.max_compression_ratio:
            raise _bomb(f"part {name} is {_mb(size)}, packed {size / packed:,.0f} to 1")

    found = _structure(pkg, file_name)
    wanted_set = None if wanted is None else set(wanted)
    # every part python-calamine could read as a sheet is scanned, mapped or not
    sheet_parts: dict[str, list[str]] = {}
    for s in found.sheets:
        if s.part is not None:
            sheet_parts.setdefault(s.part, []).append(s.name)
    for name in pkg.entries:
        if name.lower().startswith(_WORKSHEET_DIRS) and name.lower().endswith(".xml"):
            sheet_parts.setdefault(name, [])
    done = set()
    for name in (pkg.find("[Content_Types].xml"), pkg.find("xl/workbook.xml"),
                 pkg.find("xl/_rels/workbook.xml.rels"), pkg.find("docProps/app.xml"),
                 pkg.find("_rels/.rels")):
        done.add(name)
    readable = {s.part for s in found.sheets if s.kind == "worksheet"
                and (wanted_set is None or s.name in wanted_set)}
    strings_problem: _Unusual | None = None
    string_count = 0
    for name in pkg.entries:
        if name in done:
            continue
        if name in sheet_parts:
            kept = _scan_sheet(pkg, name, sheet_parts[name], found, limits, wanted_set,
                               keep=name in readable)
            if kept is not None:
                pkg.kept[name] = kept
        elif name == strings:
            pkg.kept[name] = b"".join(pkg.chunks(
                name, cap=limits.max_shared_strings_bytes,
                cap_problem=lambda n: _too_many_strings(n, limits)))
            try:
                string_count = _scan_strings(pkg.kept[name])
            except _Unusual as e:
                strings_problem = e  # raised once the sheets say which cell shows it
            except DefusedXmlException:
                raise _unsafe(name) from None
            except expat.ExpatError as e:
                raise _not_xlsx(f"The file is damaged: its texts ({name}) are not valid "
                                f"({expat.ErrorString(e.code)}, line {e.lineno}).") from None
        elif name.lower() in _CALAMINE_PARTS:
            pkg.read(name)
        else:
            for _ in pkg.chunks(name):
                pass
    if strings_problem is not None:
        raise _strings_problem(strings_problem, found, pkg.kept)
    for s in found.sheets:  # python-calamine cannot read a text number beyond the list
        index, cell = found.string_index.get(s.name, (-1, ""))
        if index >= string_count:
            raise ReadProblem(
                "unexpected-markup",
                f"Sheet {s.name} shows at cell {cell} text number {index + 1} of the "
                f"workbook's list of texts, which holds only {string_count}, so what a "
                f"spreadsheet shows there could differ from what would be counted; the file "
                f"was not read. {_RESAVE}", sheet=s.name, cell=cell)
    found.parts = pkg.kept
    return found


def _strings_problem(e: _Unusual, found: _Inspection, kept: dict[str, bytes]) -> ReadProblem:
    """A problem in sharedStrings.xml, placed at the first cell of a read sheet showing it."""
    sheet, cell = "", ""
    if e.index >= 0:
        shown = re.compile(rb"<(?:[\w.\-]+:)?c\s([^>]*)>\s*(?:<(?:[\w.\-]+:)?f[\s/>][^<]*"
                           rb"(?:</(?:[\w.\-]+:)?f>)?\s*)?<(?:[\w.\-]+:)?v>\s*%d\s*<" % e.index)
        for s in found.sheets:
            data = kept.get(s.part or "")
            for m in shown.finditer(data or b""):
                ref = re.search(rb"""(?:^|\s)r\s*=\s*["']([A-Za-z]{1,3}[0-9]{1,7})["']""", m[1])
                if ref and re.search(rb"""(?:^|\s)t\s*=\s*["']s["']""", m[1]):
                    sheet, cell = s.name, ref[1].decode().upper()
                    break
            if cell:
                break
    where = (f"cell {cell} of sheet {sheet}" if cell
             else f"text number {e.index + 1} of the workbook's list of texts" if e.index >= 0
             else "the workbook's list of texts")
    if e.code == "alternate-content":
        message = (f"The workbook's list of texts (xl/sharedStrings.xml), from {where} on, is "
                   "stored in alternative versions for different spreadsheet programs "
                   "(mc:AlternateContent), so the texts one program shows can differ from "
                   f"what would be read; the file was not read. {_RESAVE}")
        return ReadProblem(e.code, message, sheet=sheet, cell=cell)
    if e.code == "unexpected-markup":
        message = (f"The text of {where} is stored in a form Excel does not read ({e.detail}), "
                   "so what a spreadsheet shows there could differ from what would be read; "
                   f"the file was not read. {_RESAVE}")
        return ReadProblem(e.code, message, sheet=sheet, cell=cell)
    return ReadProblem("not-an-xlsx-file", f"The file is damaged: {e.detail}. {_RESAVE}",
                       sheet=sheet, cell=cell)


#: A <t> (any prefix) that does not say how to treat the spaces at its ends.
_BARE_TEXT = re.compile(rb"<((?:[A-Za-z_][\w.\-]*:)?t)(?=[\s>/])(?![^>]*xml:space)")
#: A cell whose value is an ISO 8601 date (t="d"): gnumeric does not read it as a number.
_DATE_CELL = re.compile(rb'<(?:[A-Za-z_][\w.\-]*:)?c\s[^>]*?\bt\s*=\s*["\']d["\']')


def _for_calamine(name: str, data: bytes, spaces_kept: bool = False) -> bytes | None:
    """A checked part as python-calamine gets it, so that it reads what spreadsheets show.

    - Texts keep the spaces and line breaks at their ends, as LibreOffice and gnumeric do:
      python-calamine trims those of a <t> not marked xml:space="preserve". (Excel may trim
      them; then a code reads with spaces here and is reported, never counted.)
    - No styles: python-calamine turns numbers formatted as dates into dates, and cannot turn
      some back (serial 60, Excel's 1900-02-29); without styles every number is a number.
    """
    low = name.lower()
    if low.endswith("styles.xml"):
        return None
    if low.endswith(".xml") and (low.startswith(_WORKSHEET_DIRS) or low == _SHARED_STRINGS) \
            and not spaces_kept:
        return _BARE_TEXT.sub(rb'<\1 xml:space="preserve"', data)
    return data


def _stored_zip(parts: dict[str, bytes], spaces_kept: Collection[str] = ()) -> bytes:
    """An uncompressed zip of checked parts: all python-calamine ever sees of a file."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for name, data in parts.items():
            kept = _for_calamine(name, data, name in spaces_kept)
            if kept is not None:
                z.writestr(name, kept)
    return out.getvalue()


def _too_many_strings(size: int, limits: Limits) -> ReadProblem:
    return ReadProblem(
        "too-many-strings",
        f"The workbook holds more than {_mb(size)} of text, far more than a plan does (the "
        f"limit is {_mb(limits.max_shared_strings_bytes)}): something large was pasted in. "
        "Delete the pasted data (check every sheet, including hidden ones), save, and send "
        "the plan again.")


def _scan_sheet(pkg: _Package, part: str, names: list[str], found: _Inspection,
                limits: Limits, wanted: set[str] | None, keep: bool) -> bytes | None:
    """Scan one sheet part into `found`; its bytes when `keep` (python-calamine reads it)."""
    collect_for = [n for n in names if wanted is None or n in wanted]
    label = names[0] if names else part
    held: list[bytes] = []

    def chunks() -> Iterator[bytes]:
        for chunk in pkg.chunks(part):
            if keep:
                held.append(chunk)
            yield chunk

    try:
        facts = _scan_sheet_bytes(chunks(), limits)
    except _TooFar as e:
        raise _too_many_cells(label, e.cell, e.what, limits) from None
    except _Unusual as e:
        raise _unusual_problem(label, e) from None
    except ReadProblem as p:
        if p.code == "unsupported-encoding" and names:  # say which sheet the part holds
            raise ReadProblem(p.code, p.message.replace(f"Part {part} ", f"Sheet {label} "
                                                        f"({part}) ", 1),
                              sheet=label) from None
        raise
    except DefusedXmlException:
        raise _unsafe(part) from None
    except expat.ExpatError as e:
        raise _not_xlsx(f"The file is damaged: sheet {label} is not valid "
                        f"({expat.ErrorString(e.code)}, line {e.lineno}).") from None
    for n in names or [label]:
        found.string_index[n] = facts.string_index
    if facts.no_dates:
        found.no_dates.add(part)
    if facts.spaces_kept:
        found.spaces_kept.add(part)
    for n in collect_for:
        found.formulas[n] = set(facts.formulas)
        found.formula_text[n] = facts.formula_text  # never changed once read
        found.array_ranges[n] = dict(facts.array_ranges)
        found.merged[n] = list(facts.merged)
        found.errors[n] = dict(facts.errors)
    if not keep:
        return None
    return facts.for_calamine if facts.for_calamine is not None else b"".join(held)  # streamed


# --- public: one file ---------------------------------------------------------------------

def preflight(path: Path, limits: Limits = Limits()) -> list[ReadProblem]:
    """Check a file without parsing its values: raises ReadProblem if fatal, returns warnings."""
    path = Path(path)
    return _inspect(_load(path, limits), path.name, limits, wanted=()).warnings


def read_workbook(path: Path, limits: Limits = Limits(),
                  sheets: Collection[str] | None = None) -> RawWorkbook:
    """Pre-flight a file, then read values (python-calamine) of `sheets` (all if None).

    Formulas (cells and text), array ranges, merged ranges and error values are given for the
    same sheets. Requested sheets the workbook lacks, and sheets that are not worksheets (chart
    sheets), have no entry.
    Runs in this process with no timeout or memory limit: use read_many for files from others.
    """
    path = Path(path)
    data = _load(path, limits)
    found = _inspect(data, path.name, limits, sheets)
    wanted = [s for s in found.sheets if s.kind == "worksheet" and s.part is not None
              and (sheets is None or s.name in sheets)]
    values: dict[str, list[list[object]]] = {}
    for s in wanted:
        part = found.parts.get(s.part or "")
        if part is not None and s.part not in found.no_dates and _DATE_CELL.search(part):
            raise ReadProblem(
                "unexpected-markup",
                f"Sheet {s.name} stores a date as text in ISO form (a cell of type d), which "
                "spreadsheet programs read differently (gnumeric does not count it). "
                f"{_RESAVE}", sheet=s.name)
    try:
        if wanted:
            # never the file as received: only the parts checked above, stored uncompressed
            stored = _stored_zip(found.parts, found.spaces_kept)
            book = CalamineWorkbook.from_filelike(io.BytesIO(stored))
            present = set(book.sheet_names)
            for s in wanted:
                if s.name in present:
                    values[s.name] = book.get_sheet_by_name(s.name).to_python(
                        skip_empty_area=False)
    except MemoryError:
        raise
    except Exception as e:  # python-calamine's own errors: the file is broken in a new way
        raise ReadProblem("unreadable", f"The file could not be read ({e}). {_RESAVE}") from None
    except BaseException as e:
        # a Rust panic arrives as pyo3's PanicException, a BaseException
        if isinstance(e, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise
        raise ReadProblem("unreadable", f"The file could not be read ({e}). {_RESAVE}") from None
    keep = set(values)
    return RawWorkbook(
        path=path,
        sheet_names=[s.name for s in found.sheets],
        hidden_sheets={s.name for s in found.sheets if s.state in ("hidden", "veryHidden")},
        values=values,
        formulas={n: v for n, v in found.formulas.items() if n in keep},
        formula_text={n: v for n, v in found.formula_text.items() if n in keep},
        array_ranges={n: v for n, v in found.array_ranges.items() if n in keep},
        calc=found.calc,
        defined_names=found.defined_names,
        merged={n: v for n, v in found.merged.items() if n in keep},
        warnings=found.warnings,
        application=found.application,
        local_names=found.local_names,
        errors={n: v for n, v in found.errors.items() if n in keep},
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )


