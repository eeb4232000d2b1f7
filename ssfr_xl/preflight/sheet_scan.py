"""The general path over a worksheet: a streaming expat pass, by namespace, that accepts
only what Excel reads the way python-calamine reads it."""

from __future__ import annotations

from collections.abc import Callable
from xml.parsers import expat

from defusedxml import DefusedXmlException

from .cells import (
    _CANONICAL_REF,
    _CELL_TYPES,
    _COLUMNS,
    _LOOSE_REF,
    _REF,
    _check_range,
    _column_letters,
    _column_number,
    _loose_ref,
    _resolve_formulas,
    _SheetFacts,
    _TooFar,
    _type_problem,
    _Unusual,
    _value_problem,
)
from .problems import Limits
from .structure import _MAIN_NS, _MC_NS

# --- the general path: expat, by namespace --------------------------------------------------

_ALTERNATE = f"{_MC_NS} AlternateContent"  # expat's name for it, namespace_separator " "
_XML_SPACE = "http://www.w3.org/XML/1998/namespace space"
_XML_WHITESPACE = " \t\r\n"
_RUN_SPACES = ("a run of rich text with spaces at its ends that are not marked to be kept "
               "(xml:space), which spreadsheets show differently")
#: Local names of the SpreadsheetML elements the scans look at, by expat's full name.
_MAIN_LOCAL = {f"{ns} {local}": local for ns in _MAIN_NS for local in (
    "worksheet", "chartsheet", "dialogsheet", "sst", "sheetData", "row", "c", "f", "v", "is",
    "si", "t", "r", "rPr", "rPh", "phoneticPr", "dimension", "mergeCell")}

# What a cell's content may hold, as the schema orders it (CT_SheetData, CT_Row, CT_Cell,
# CT_Rst ...): child -> (place, may repeat). python-calamine reads any element of these local
# names in any order and namespace (the last <v>, <is> or <f> of a cell wins; every <t> of a
# text is joined), where Excel refuses the file or reads something else; so inside sheetData
# and shared strings only this form is accepted. t and r share a place: a text is one <t> or
# runs <r>, never both.
_RICH = {"t": (0, False), "r": (0, True), "rPh": (1, True), "phoneticPr": (2, False)}
_CHILDREN: dict[str, dict[str, tuple[int, bool]]] = {
    "sheetData": {"row": (0, True)},
    "row": {"c": (0, True)},
    "c": {"f": (0, False), "v": (1, False), "is": (2, False)},
    "is": _RICH,
    "si": _RICH,
    "sst": {"si": (0, True)},
    "r": {"rPr": (0, False), "t": (1, False)},
    "rPh": {"t": (0, False)},
}
_TEXT_PARTS = frozenset({"t", "r", "rPh", "si", "is", "c", "row", "f", "v", "sheetData"})


def _child(frame: list, local: str, in_main: bool, where: str) -> None:
    """Refuse an element where the cell-content schema has no place for it."""
    parent = frame[0]
    if parent == "rPr":  # run properties: any formatting element, never text
        if in_main and local not in _TEXT_PARTS:
            frame[2] = local
            return
        raise _Unusual("unexpected-markup", where, f"<{local}> inside a text's formatting")
    rule = _CHILDREN.get(parent, {}).get(local) if in_main else None
    if rule is None:
        other = "" if in_main else " from another vocabulary"
        raise _Unusual("unexpected-markup", where, f"an element <{local}>{other} inside "
                       f"<{parent}>")
    place, repeats = rule
    if place < frame[1] or (place == frame[1] and not (repeats and frame[2] == local)):
        how = "twice" if frame[2] == local else "out of order"
        raise _Unusual("unexpected-markup", where, f"<{local}> {how} inside <{parent}>")
    frame[1], frame[2] = place, local


def _guarded_parser(namespaces: bool = False) -> expat.XMLParserType:
    """An expat parser with defusedxml's guards: no DTD, entity declarations or externals.

    With namespaces, element names are "uri local" (or "local" without a namespace), so
    prefixes never matter; the bytes are UTF-8 (checked before any scan sees them).
    """

    def forbidden(*_args: object) -> None:
        raise DefusedXmlException("DTD or entity declaration")

    p = (expat.ParserCreate(encoding="UTF-8", namespace_separator=" ") if namespaces
         else expat.ParserCreate())
    p.StartDoctypeDeclHandler = forbidden
    p.EntityDeclHandler = forbidden
    p.UnparsedEntityDeclHandler = forbidden
    p.ExternalEntityRefHandler = forbidden
    p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    return p


class _SheetScan:
    """The general path: one streaming expat pass over a worksheet part, any size or form.

    Checks every cell reference and the declared dimension against the limits before
    python-calamine sizes a grid from them, and collects formulas (text, shared formulas
    expanded), merged ranges and error values. Positions are found by local names, ignoring
    namespaces, because python-calamine finds them that way (cells without an r attribute are
    counted the way it counts them). What a cell holds is read by namespace, as a spreadsheet
    reads it: a formula is an <f> in the SpreadsheetML namespace, with any prefix, inside a
    cell of the sheet's <sheetData> (x14's <xm:f> elsewhere hold data-validation sources).
    Inside sheetData only the schema's form is accepted (see _CHILDREN): no alternate content,
    no foreign elements, no cell recorded twice.
    """

    def __init__(self, limits: Limits):
        self.limits = limits
        self.facts = _SheetFacts()
        self.texts: dict[str, str] = {}
        self.special: list[tuple[str, dict[str, str]]] = []
        self.misplaced = False  # a <sheetData> not where Excel reads it
        self.parser = _guarded_parser(namespaces=True)
        self.parser.buffer_text = True
        self._install()

    def feed(self, chunk: bytes) -> None:
        self.parser.Parse(chunk, False)

    def close(self) -> _SheetFacts:
        self.parser.Parse(b"", True)
        if self.misplaced:
            raise _Unusual("unexpected-markup", "A1", "a second or misplaced list of cells "
                           "<sheetData>")
        facts = self.facts
        facts.formula_text, facts.formulas, facts.array_ranges = _resolve_formulas(
            self.texts, self.special, self.limits)
        return facts

    def _install(self) -> None:
        limits, facts, parser = self.limits, self.facts, self.parser
        texts, special = self.texts, self.special
        max_rows, max_cols = limits.max_rows, limits.max_columns
        columns_get, ref_match = _COLUMNS.get, _REF.fullmatch
        main_local = _MAIN_LOCAL.get
        # positions: 1-based row of the current <row> and its r text, last column, cell
        row, row_text, col, cell = 0, "", 0, ""
        depth = 0
        alternate = 0  # open mc:AlternateContent elements (outside sheetData)
        data: list[list] | None = None  # [local, place, last child] from <sheetData> down
        data_seen = False
        seen: set[str] = set()
        cell_type: str | None = None
        text: list[str] | None = None  # character data of the current <f> or error <v>

        def start(name: str, attrs: dict[str, str]) -> None:
            nonlocal row, row_text, col, cell, depth, alternate, data, data_seen, cell_type
            nonlocal text
            local = main_local(name)
            if local is not None:
                in_main = True
            else:
                uri, _, local = name.rpartition(" ")
                in_main = uri in _MAIN_NS
            depth += 1
            if depth == 1 and not in_main:
                raise _Unusual("damaged", "", "it is not a worksheet as Excel writes one (its "
                               "XML is not SpreadsheetML)")
            if local == "c":
                r = attrs.get("r")
                if data is not None:  # in sheetData: gnumeric places other cells elsewhere
                    if not r:
                        if row > max_rows or col + 1 > max_cols:  # the bigger problem first
                            raise _TooFar(f"{_column_letters(min(col + 1, 10**6))}{row}",
                                          "cell")
                        raise _Unusual("unexpected-markup",
                                       f"{_column_letters(col + 1)}{max(row, 1)}",
                                       "a cell without its address (r)")
                    if ref_match(r) is None and _CANONICAL_REF.fullmatch(r) is None \
                            and _LOOSE_REF.fullmatch(r.strip()) is not None:
                        lc, lr = _loose_ref(r)
                        raise _Unusual("unexpected-markup",
                                       f"{_column_letters(min(lc, 10**6))}{lr}",
                                       f"a cell address written as {r[:20]!r}")
                    kind = attrs.get("t")
                    if kind is not None and kind not in _CELL_TYPES:
                        raise _Unusual("unexpected-markup", r if ref_match(r) else "",
                                       _type_problem(kind))
                if r:
                    # fast path: "AB12" on row 12 with AB a column seen before (the cache
                    # holds only valid letters, so "A112" on row 12 cannot pass as "A1")
                    c = columns_get(r[: len(r) - len(row_text)]) if r.endswith(row_text) \
                        else None
                    if c is not None:
                        rr = row
                    else:
                        m = ref_match(r)
                        if m is not None:
                            c, rr = _column_number(m[1]), int(m[2])
                        else:  # $A$1, a1, or junk: normalise, or refuse
                            c, rr = _loose_ref(r)
                            r = None
                else:
                    c, rr = col + 1, max(row, 1)
                col = c
                if rr > max_rows or c > max_cols:
                    raise _TooFar(r or f"{_column_letters(min(c, 10**6))}{rr}", "cell")
                cell = r or f"{_column_letters(c)}{rr}"
            elif local == "row":
                r = attrs.get("r")
                if r and r.isdigit():  # any size: python-calamine places r-less cells there
                    row, row_text = (int(r) if len(r) <= 12 else 10**12), r
                else:
                    row += 1
                    row_text = str(row)
                col = 0
            elif local == "dimension":
                ref = attrs.get("ref")
                if ref:
                    _check_range(ref, "declared size", limits)
            elif local == "mergeCell":
                ref = attrs.get("ref")
                if ref:
                    facts.merged.append(ref.replace("$", "").upper())
            if data is not None:
                frame = data[-1]
                # the cell, else where the next one would be: the next row, or the next cell
                where = cell or (f"A{row + 1}" if frame[0] == "sheetData"
                                 else f"{_column_letters(col + 1)}{max(row, 1)}")
                if name == _ALTERNATE:
                    raise _Unusual("alternate-content", where)
                _child(frame, local, in_main, where)
                data.append([local, -1, None])
                if local == "c":
                    if cell in seen:
                        raise _Unusual("duplicate-cells", cell)
                    seen.add(cell)
                    cell_type = attrs.get("t")
                elif local == "t" and frame[0] == "r" and attrs.get(_XML_SPACE) != "preserve":
                    # python-calamine trims the ends of such a text, as Excel does for a whole
                    # <t>; for a run of rich text spreadsheets differ: keep it to look at it
                    text = []
                    parser.CharacterDataHandler = text.append
                elif frame[0] == "c":  # f, v or is
                    if local == "f":
                        text = []
                        parser.CharacterDataHandler = text.append
                        if "t" in attrs:
                            special.append((cell, dict(attrs)))
                    elif local == "v":
                        if cell_type == "inlineStr":
                            raise _Unusual("unexpected-markup", cell, "a value <v> in a cell "
                                           "of inline text")
                        # piece by piece, to see references (&#51;) in it: python-calamine
                        # reads only the text before one
                        text = []
                        in_value[:] = [-1, False]
                        parser.buffer_text = False
                        parser.CharacterDataHandler = value_data
                    elif cell_type != "inlineStr":
                        raise _Unusual("unexpected-markup", cell, "inline text <is> in a cell "
                                       "that is not of inline text")
                return
            if name == _ALTERNATE:
                alternate += 1
            elif local == "sheetData":
                if alternate:  # the whole list of cells, in alternative versions
                    raise _Unusual("alternate-content", "A1")
                if not in_main:
                    raise _Unusual("unexpected-markup", "A1", "a list of cells <sheetData> "
                                   "from another vocabulary")
                if depth != 2 or data_seen:  # refused at the end, unless the XML is broken
                    self.misplaced = True
                data, data_seen = [["sheetData", -1, None]], True

        def end(name: str) -> None:
            nonlocal depth, alternate, data, cell, cell_type, text
            depth -= 1
            if data is None:
                if name == _ALTERNATE:
                    alternate -= 1
                elif name.endswith((" c", ":c")) or name == "c":
                    cell = ""
                return
            local = data.pop()[0]
            if text is not None:  # the end of an <f>, <v> or run <t>: no elements inside
                joined = "".join(text)
                if local == "f":
                    texts[cell] = joined
                elif local == "v":
                    parser.buffer_text = True
                    nxt, broken = in_value
                    in_value.clear()
                    if (broken or (nxt >= 0 and parser.CurrentByteIndex != nxt)) \
                            and cell_type != "str":
                        raise _Unusual("unexpected-markup", cell, "a value <v> spelled with "
                                       "character or entity references (&...;)")
                    problem = _value_problem(cell_type, joined)
                    if problem is not None:
                        raise _Unusual("unexpected-markup", cell, problem)
                    if cell_type == "e":
                        facts.errors[cell] = joined.strip()
                    elif cell_type == "s" and joined and int(joined) > facts.string_index[0]:
                        facts.string_index = (int(joined), cell)
                elif joined != joined.strip(_XML_WHITESPACE):
                    raise _Unusual("unexpected-markup", cell, _RUN_SPACES)
                text = None
                parser.CharacterDataHandler = None
            if local == "c":
                cell, cell_type = "", None
            elif not data:
                data = None

        in_value: list = []  # [byte index the <v>'s next text must start at, broken]

        def value_data(piece: str) -> None:
            at = parser.CurrentByteIndex
            if in_value[0] >= 0 and at != in_value[0]:
                in_value[1] = True
            in_value[0] = at + len(piece.encode("utf-8", "surrogatepass"))
            assert text is not None
            text.append(piece)

        def inside_value(what: str) -> Callable[..., None]:
            def handler(*_args: object) -> None:
                if in_value:
                    raise _Unusual("unexpected-markup", cell, f"{what} inside a value <v>")
            return handler

        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CommentHandler = inside_value("an XML comment")
        parser.ProcessingInstructionHandler = inside_value("a processing instruction")
        parser.StartCdataSectionHandler = inside_value("a CDATA section")


