"""The shared strings part, scanned in the same schema form as the sheets."""

from __future__ import annotations

import re

from .cells import _Unusual
from .fast_scan import _ATTRS, _not_xml, _plain_namespaces
from .problems import Limits, ReadProblem, _not_xlsx
from .sheet_scan import (
    _ALTERNATE,
    _MAIN_LOCAL,
    _RUN_SPACES,
    _XML_SPACE,
    _XML_WHITESPACE,
    _child,
    _guarded_parser,
)
from .structure import _MAIN_NS

# --- shared strings ---------------------------------------------------------------------------

_CANON_SI = re.compile(rb'<si>\s*(?:<t(?: xml:space="preserve")?>[^<]*</t>|<t\s*/>)\s*</si>\s*')
_SST_OPEN = re.compile(rb"<sst" + _ATTRS + rb"\s*(/?)>")


class _StringsScan:
    """The general path over sharedStrings.xml: expat, by namespace, every <si> in the schema's
    form (one <t>, or runs <r>, then phonetic runs <rPh> that no spreadsheet shows), so that
    python-calamine's reading of each text (it joins every <t> outside <rPh>, in any
    namespace or place) is what a spreadsheet shows."""

    def __init__(self) -> None:
        self.parser = parser = _guarded_parser(namespaces=True)
        self.parser.buffer_text = True
        self.index = -1  # of the current <si>
        depth = 0
        stack: list[list] = []
        text: list[str] | None = None  # a run's <t> not marked xml:space="preserve"

        def start(name: str, attrs: dict[str, str]) -> None:
            nonlocal depth, text
            local = _MAIN_LOCAL.get(name)
            if local is not None:
                in_main = True
            else:
                uri, _, local = name.rpartition(" ")
                in_main = uri in _MAIN_NS
            depth += 1
            if depth == 1:
                if not (in_main and local == "sst"):
                    raise _Unusual("damaged", "", "its list of texts is not SpreadsheetML")
                stack.append(["sst", -1, None])
                return
            if name == _ALTERNATE:
                raise _Unusual("alternate-content", index=max(self.index, 0))
            _child(stack[-1], local, in_main, "")
            if depth == 2:
                self.index += 1
            elif local == "t" and stack[-1][0] == "r" and attrs.get(_XML_SPACE) != "preserve":
                text = []
                parser.CharacterDataHandler = text.append
            stack.append([local, -1, None])

        def end(_name: str) -> None:
            nonlocal depth, text
            depth -= 1
            stack.pop()
            if text is not None:
                joined, text = "".join(text), None
                parser.CharacterDataHandler = None
                if joined != joined.strip(_XML_WHITESPACE):
                    raise _Unusual("unexpected-markup", detail=_RUN_SPACES)

        self.parser.StartElementHandler = start
        self.parser.EndElementHandler = end

    def scan(self, data: bytes) -> None:
        try:
            self.parser.Parse(data, True)
        except _Unusual as e:
            e.index = self.index if e.index < 0 else e.index
            raise


def _scan_strings(data: bytes) -> int:
    """Refuse shared strings that python-calamine would read otherwise than Excel shows them;
    the number of texts."""
    if not (b"<!" in data or _not_xml(data)) and _plain_namespaces(data, b"sst") \
            and data.count(b"<sst") == 1:
        m = _SST_OPEN.search(data)
        if m is not None:
            if m[1]:  # <sst/>
                return 0
            closed = data.rfind(b"</sst>")
            if closed >= m.end():
                rest, count = _CANON_SI.subn(b"", data[m.end():closed])
                if not rest.strip():
                    return count
    scan = _StringsScan()
    scan.scan(data)
    return scan.index + 1


def _too_many_cells(sheet: str, cell: str, what: str, limits: Limits) -> ReadProblem:
    extent = f"a plan uses at most {limits.max_columns:,} columns and {limits.max_rows:,} rows"
    if what == "unreadable reference":
        return _not_xlsx(f"The file is damaged: sheet {sheet} has a cell reference {cell!r} "
                         "that is not a cell address.")
    where = {"cell": f"has something in cell {cell}",
             "declared size": f"says it uses cells up to {cell}"}[what]
    return ReadProblem(
        "too-many-cells",
        f"Sheet {sheet} {where}, far outside the plan area ({extent}). Clear everything outside "
        "the plan area: select the extra rows and columns, delete them (right-click > Delete), "
        "save, and send the plan again.", sheet=sheet, cell=cell)


