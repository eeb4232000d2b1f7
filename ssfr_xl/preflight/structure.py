"""Pre-flight of the workbook's structure: content types, relationships, workbook.xml and
docProps, mapped exactly as python-calamine maps them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring

from .package import _SHARED_STRINGS, _damaged_part, _odd_part, _Package
from .problems import _RESAVE, ReadProblem, _not_xlsx, _unsafe

# --- pre-flight: structure ----------------------------------------------------------------

#: SpreadsheetML: transitional (what every program writes) and strict.
_MAIN_NS = frozenset({"http://schemas.openxmlformats.org/spreadsheetml/2006/main",
                      "http://purl.oclc.org/ooxml/spreadsheetml/main"})
_MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _parse_xml(pkg: _Package, name: str) -> Element:
    """A structural part parsed with defusedxml (the bytes were already DOCTYPE-scanned)."""
    try:
        return safe_fromstring(pkg.read(name), forbid_dtd=True)
    except DefusedXmlException:
        raise _unsafe(name) from None
    except (ParseError, ValueError) as e:
        raise _not_xlsx(f"The file is damaged: its part {name} is not valid ({e}).") from None


_REL_NS = frozenset({"http://schemas.openxmlformats.org/officeDocument/2006/relationships",
                     "http://purl.oclc.org/ooxml/officeDocument/relationships"})
_TARGET_FORBIDDEN = re.compile(r"[\\%?#:\s\x00-\x1f\x7f]")


def _rel_path(rels_name: str, base: str, target: str) -> str:
    """A relationship's internal target as a zip entry name, refusing every spelling that
    programs resolve differently (dot segments, //, backslashes, %-escapes ...): then the
    literal spelling is the only reading (an absolute /xl/... is resolved from the root)."""
    path = target[1:] if target.startswith("/") else base + target
    if not target or _TARGET_FORBIDDEN.search(target) or any(
            seg in ("", ".", "..") for seg in path.split("/")):
        raise _odd_part(f"names one of its parts in its list of parts ({rels_name}) in an "
                        f"unusual spelling ({target[:80]!r})")
    return path


def _relationships(pkg: _Package, name: str, base: str) -> list[tuple[str, str]]:
    """(type, entry path) of each internal relationship of a rels part, in order; each Id
    once (programs disagree on which of two with one Id counts)."""
    ids: set[str] = set()
    out = []
    for rel in _parse_xml(pkg, name):
        if _local(rel.tag) != "Relationship":
            continue
        rid = rel.get("Id", "")
        if rid in ids:
            raise _damaged_part(f"its list of parts ({name}) gives the relationship Id "
                                f"{rid[:40]!r} twice")
        ids.add(rid)
        if rel.get("TargetMode", "").lower() == "external":
            continue
        out.append((rel.get("Type", ""), _rel_path(name, base, rel.get("Target", ""))))
    return out


def _of_type(rels: list[tuple[str, str]], kind: str) -> list[str]:
    return [path for rtype, path in rels if rtype.rsplit("/", 1)[-1] == kind]


def _calamine_path(target: str) -> str:
    """A workbook relationship target resolved exactly as python-calamine resolves it."""
    if target.startswith("/xl/"):
        return target[1:]
    if target.startswith("xl/"):
        return target
    return f"xl/{target}"


@dataclass
class _SheetInfo:
    name: str
    state: str
    part: str | None  # the zip entry python-calamine reads for it, if any
    kind: str  # worksheet | chartsheet | dialogsheet | other


@dataclass
class _Inspection:
    sheets: list[_SheetInfo]
    defined_names: dict[str, str]
    local_names: dict[str, dict[str, str]]
    application: str
    warnings: list[ReadProblem]
    calc: dict[str, str] = field(default_factory=dict)
    formulas: dict[str, set[str]] = field(default_factory=dict)
    formula_text: dict[str, dict[str, str]] = field(default_factory=dict)
    array_ranges: dict[str, dict[str, str]] = field(default_factory=dict)
    merged: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, dict[str, str]] = field(default_factory=dict)
    parts: dict[str, bytes] = field(default_factory=dict)  # for python-calamine
    string_index: dict[str, tuple[int, str]] = field(default_factory=dict)  # sheet -> top
    # sheet parts the fast path found plain: no date cells (t="d"), and no text without
    # xml:space="preserve" that starts or ends with a space (python-calamine would trim it)
    no_dates: set[str] = field(default_factory=set)
    spaces_kept: set[str] = field(default_factory=set)


_WORKBOOK_READ = frozenset({"sheets", "sheet", "definedNames", "definedName", "calcPr",
                            "workbookPr"})  # what python-calamine or this module reads
_WORKBOOK_ONCE = ("sheets", "definedNames", "calcPr", "workbookPr")  # children of the root
_WORKBOOK_LISTS = {"sheets": "sheet", "definedNames": "definedName"}
_WORKBOOK_ELSEWHERE = (
    "so which sheets and names a spreadsheet shows could differ from what would be read; the "
    f"file was not read. {_RESAVE}")


def _split_tag(tag: str) -> tuple[str, str]:
    """(namespace, local name) of an ElementTree tag."""
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        return uri, local
    return "", tag


def _read_by_name(el: Element) -> bool:
    """Whether python-calamine or this module would read the element by its local name.

    python-calamine takes any <sheet> and any workbookPr's date1904 in the workbook, whatever
    its namespace; extensions Excel writes (<x15:workbookPr chartTrackingRefBase="1"/>,
    <x14:definedName> argument descriptions) are read by neither, so they are fine.
    """
    uri, local = _split_tag(el.tag)
    if local in ("sheets", "sheet"):
        return True
    if uri in _MAIN_NS:
        return local in _WORKBOOK_READ
    return local == "workbookPr" and any(_local(k) == "date1904" for k in el.attrib)


def _workbook_checks(workbook: Element) -> tuple[dict[str, str], list[Element], list[Element]]:
    """The calculation settings (<calcPr>'s attributes), the <sheet> and the <definedName>
    elements, once sure that what python-calamine and this module read is exactly what Excel
    reads: in SpreadsheetML, in its place, once, never in alternate content."""
    if _split_tag(workbook.tag) not in {(ns, "workbook") for ns in _MAIN_NS}:
        raise _not_xlsx("The file is damaged: its list of sheets (xl/workbook.xml) is not "
                        "SpreadsheetML.")
    for alternate in workbook.iter(f"{{{_MC_NS}}}AlternateContent"):
        for el in alternate.iter():
            if _read_by_name(el):
                raise ReadProblem(
                    "alternate-content",
                    "The workbook's list of sheets, names or settings (xl/workbook.xml) holds "
                    f"<{_local(el.tag)}> in alternative versions for different spreadsheet "
                    f"programs (mc:AlternateContent), {_WORKBOOK_ELSEWHERE}")
    placed: set[int] = set()
    seen: set[str] = set()
    calc: dict[str, str] = {}
    lists: dict[str, list[Element]] = {"sheet": [], "definedName": []}
    for child in workbook:
        uri, local = _split_tag(child.tag)
        if uri not in _MAIN_NS or local not in _WORKBOOK_ONCE or local in seen:
            continue  # a second one stays unplaced: refused below
        seen.add(local)
        placed.add(id(child))
        item = _WORKBOOK_LISTS.get(local)
        for el in child if item else ():
            if _split_tag(el.tag) == (uri, item):
                placed.add(id(el))
                lists[item].append(el)
        if local == "calcPr":
            calc = {_local(k): v for k, v in child.attrib.items()}
    for el in workbook.iter():
        if id(el) not in placed and _read_by_name(el):
            raise ReadProblem(
                "unexpected-markup",
                f"The workbook's list of sheets, names or settings (xl/workbook.xml) has "
                f"<{_local(el.tag)}> in a place or form Excel does not read it from, "
                f"{_WORKBOOK_ELSEWHERE}")
    return calc, lists["sheet"], lists["definedName"]


def _structure(pkg: _Package, file_name: str) -> _Inspection:
    """Sheets, names, application and warnings from the package's structural parts."""
    types_name, workbook_name = pkg.find("[Content_Types].xml"), pkg.find("xl/workbook.xml")
    if types_name is None or workbook_name is None:
        names = set(pkg.by_lower)
        if "xl/workbook.bin" in names:
            raise _not_xlsx("This is an Excel Binary Workbook (.xlsb); in Excel choose File > "
                            "Save As > Excel Workbook (.xlsx).")
        if "word/document.xml" in names:
            raise _not_xlsx("This is a Word document, not an Excel workbook.")
        if "ppt/presentation.xml" in names:
            raise _not_xlsx("This is a PowerPoint presentation, not an Excel workbook.")
        raise _not_xlsx("This zip file is not an Excel workbook (it has no workbook inside).")
    types = _parse_xml(pkg, types_name)
    # python-calamine reads xl/workbook.xml by name; spreadsheets the part _rels/.rels names
    package_rels = pkg.find("_rels/.rels")
    if package_rels is None:
        raise _damaged_part("the list of its parts (_rels/.rels) is missing")
    documents = _of_type(_relationships(pkg, package_rels, ""), "officeDocument")
    if documents != [workbook_name] or workbook_name != "xl/workbook.xml":
        raise _odd_part("names its workbook part (_rels/.rels) "
                        + (f"as {documents[0]!r}, not xl/workbook.xml" if len(documents) == 1
                           else f"{len(documents)} times"))
    workbook = _parse_xml(pkg, workbook_name)
    rels_name = pkg.find("xl/_rels/workbook.xml.rels")
    if rels_name is None:
        raise _not_xlsx("The file is damaged: the list of its sheets' parts "
                        "(xl/_rels/workbook.xml.rels) is missing.")
    rels = _parse_xml(pkg, rels_name)
    workbook_rels = _relationships(pkg, rels_name, "xl/")
    for _rtype, path in workbook_rels:
        if _calamine_path(path) != path:  # an absolute target outside xl/
            raise _odd_part(f"names one of its parts in its list of parts ({rels_name}) "
                            f"outside the workbook's folder ({path[:80]!r})")
    # python-calamine reads xl/sharedStrings.xml by name; spreadsheets the part named here
    strings = _of_type(workbook_rels, "sharedStrings")
    present = pkg.find(_SHARED_STRINGS)
    if len(strings) > 1:
        raise _odd_part(f"names {len(strings)} lists of texts (shared strings) in "
                        f"{rels_name}; a workbook has one")
    if strings and (strings[0] != _SHARED_STRINGS or present != _SHARED_STRINGS):
        raise _odd_part(f"keeps its list of texts in {strings[0]!r}, not "
                        f"{_SHARED_STRINGS}")
    if present is not None and not strings:
        raise _odd_part(f"holds a list of texts ({present}) that its list of parts "
                        f"({rels_name}) does not name")
    app_name = pkg.find("docProps/app.xml")
    application = ""
    if app_name:
        app = _parse_xml(pkg, app_name)
        for el in app:
            if _local(el.tag) == "Application":
                application = (el.text or "").strip()

    warnings = []
    content_types = " ".join(el.get("ContentType", "") for el in types).lower()
    if (pkg.find("xl/vbaProject.bin") or "macroenabled" in content_types
            or file_name.lower().endswith((".xlsm", ".xltm"))):
        warnings.append(ReadProblem(
            "macro-enabled",
            "This workbook is macro-enabled (.xlsm or with VBA macros). Macros are never run by "
            "ssfr-xl; values were read. Please use the .xlsx plan file the district sent "
            "(File > Save As > Excel Workbook (.xlsx)).", "warning"))
    if any(name.startswith("xl/externallinks/") for name in pkg.by_lower):
        warnings.append(ReadProblem(
            "external-links",
            "This workbook links to other files (Data > Edit Links). Values were read as they "
            "were saved, not from the linked files. Break the links (Data > Edit Links > Break "
            "Link), save, and send the plan again.", "warning"))

    targets: dict[str, str] = {}
    for rel in rels:
        if rel.get("TargetMode", "").lower() != "external" and rel.get("Id"):
            targets[rel.get("Id", "")] = rel.get("Target", "")  # checked above
    calc, sheet_elements, name_elements = _workbook_checks(workbook)
    sheets: list[_SheetInfo] = []
    defined: dict[str, str] = {}
    local: dict[str, dict[str, str]] = {}
    names_seen: set[tuple[str, str | None]] = set()
    for el in [*sheet_elements, *name_elements]:
        tag = _local(el.tag)
        if tag == "sheet":
            ids = [(k, v) for k, v in el.attrib.items() if _local(k) == "id"]
            if len(ids) != 1 or _split_tag(ids[0][0])[0] not in _REL_NS:
                # python-calamine takes any attribute named id, spreadsheets r:id
                raise _odd_part(f"gives sheet {el.get('name', '')[:40]} its part in an unusual "
                                "way (xl/workbook.xml)")
            rid = ids[0][1]
            target = targets.get(rid)
            part = pkg.find(_calamine_path(target)) if target is not None else None
            if part is not None and part != _calamine_path(target):
                raise _odd_part(f"names the part of sheet {el.get('name')} as {target!r} "
                                f"while it is stored as {part!r}")
            folder = _calamine_path(target).split("/")[1] if target is not None else ""
            kind = {"worksheets": "worksheet", "chartsheets": "chartsheet",
                    "dialogsheets": "dialogsheet"}.get(folder, "other")
            if part is None:
                raise _not_xlsx(f"The file is damaged: the contents of sheet {el.get('name')} "
                                "are missing.")
            if kind == "other":  # python-calamine cannot open such a workbook at all
                raise _not_xlsx(f"Sheet {el.get('name')} is of a kind a plan never has (an "
                                "Excel 4.0 macro sheet or similar); delete it, save, and send "
                                "the plan again.")
            sheets.append(_SheetInfo(el.get("name", ""), el.get("state", "visible"), part, kind))
        elif tag == "definedName":
            name, text = el.get("name", ""), el.text or ""
            scope = el.get("localSheetId")
            if scope is not None and scope.strip().isdigit():
                scope = str(int(scope))
            if (name.lower(), scope) in names_seen:
                raise ReadProblem(
                    "unexpected-markup",
                    f"The workbook defines the name {name} twice (in xl/workbook.xml), which "
                    "Excel never writes: spreadsheet programs use the first, so what they show "
                    f"could differ from what would be checked; the file was not read. "
                    f"{_RESAVE}")
            names_seen.add((name.lower(), scope))
            if el.get("localSheetId") is None:
                defined[name] = text
            else:
                local.setdefault(el.get("localSheetId", ""), {})[name] = text
    seen: set[str] = set()
    for s in sheets:
        # Excel never allows it, and the values of one and the formulas of the other could be
        # read as one sheet
        if s.name.lower() in seen:
            raise _not_xlsx(f"The file is damaged: it has two sheets named {s.name}.")
        seen.add(s.name.lower())
    by_index = {str(i): s.name for i, s in enumerate(sheets)}
    local_names = {by_index.get(i, i): names for i, names in local.items()}
    return _Inspection(sheets, defined, local_names, application, warnings, calc)


