"""The fast path over a worksheet: C-level patterns over the canonical form Excel,
LibreOffice, gnumeric and openpyxl write; anything else goes to the general path."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from itertools import compress
from operator import itemgetter

from .cells import (
    _OTHER_REFERENCE,
    FormulaTexts,
    _check_range,
    _column_number,
    _resolve_formulas,
    _SheetFacts,
    _TooFar,
    _type_problem,
    _unescape,
    _Unusual,
)
from .problems import MB, Limits
from .sheet_scan import _SheetScan
from .structure import _MAIN_NS

# --- the fast path: C-level patterns over the canonical form --------------------------------

# The fast path's form: what Excel, LibreOffice, gnumeric and openpyxl write. SpreadsheetML is
# the default namespace, declared once on the root, and no prefix is bound to it; cell tags
# carry no prefix, r comes first, and every attribute value is plain (no > or & that could
# hide another attribute); the cell list is nothing but rows and cells whose content is
# <f>?<v>|<is><t>. Then the r values alone place every cell, exactly as python-calamine
# places them, and an unprefixed <f> is a formula. Each pattern starts with a literal, which
# the regex engine finds fast.
# possessive quantifiers (*+, ++): what they take is never given back, which no match here
# needs, and saves the regex engine a third of its time
_ATTRS = rb'(?: [^\s="\'<>/&]++="[^"<>&]*+")*+'
# a formula element, with or without its text
_F = rb"<f" + _ATTRS + rb"\s*+(?:/>|>[^<]*+</f>)"
_ANY_CELL = re.compile(rb"<c[\s/>]")
_PREFIXED_CELL = re.compile(rb":c[\s/>]")  # text such as "a:c d" also sends a sheet to expat
# attributes other than t= (cells' first t= is their type, as python-calamine reads it)
_NOT_T = rb'(?: (?!t=)[^\s="\'<>/&]++="[^"<>&]*+")*+'
# A cell in the canonical form, whitespace between elements (gnumeric indents) included.
# The fast path splits the cell list on these and requires that only row tags are left
# between them; each gives its r, its "<f" with the formula's attributes (None: no formula)
# and its type (None: no t=), every one of them a new bytes object (they cost most). The
# patterns below then read the rest from cells known to be canonical, with few groups each.
_CANON_CELL = re.compile(
    rb'<c r="([A-Z]{1,3}[1-9][0-9]{0,6})"' + _NOT_T + rb'(?: t="([^"<>&]*+)"' + _ATTRS
    + rb')?\s*+(?:/>|>\s*+'
    rb'(?:(<f' + _ATTRS + rb')\s*+(?:/>|>[^<]*+</f>)\s*+)?'
    rb'(?:(?:<v\s*+/>|<v>[^<]*+</v>)\s*+|<is>\s*+(?:<t(?: xml:space="preserve")?>[^<]*+</t>'
    rb'|<t\s*+/>)\s*+</is>\s*+)?</c>)\s*+')
_CELL_REF = re.compile(rb'<c r="(([A-Z]{1,3})([1-9][0-9]{0,6}))"')
_REF_ROW = re.compile(rb"[0-9]++")
_REF_COLUMN = re.compile(rb"[A-Z]++")
_LETTERS, _DIGIT_BYTES = bytes(range(ord("A"), ord("Z") + 1)), b"0123456789"
# in canonical cells: the formula cells' r, "<f" with its attributes, and text; the
# attributes of cells of inline text; a <v> in a cell of inline text; error values
_FORMULA_CELL = re.compile(
    rb'<c r="([A-Z]{1,3}[1-9][0-9]{0,6})"[^>]*+>\s*+(<f' + _ATTRS + rb')\s*+(?:/>|>([^<]*+)</f>)')
_INLINE_CELL = re.compile(rb'<c r="[^"]*+"([^>]*+)>\s*+<is>')
_INLINE_VALUE = re.compile(rb' t="inlineStr"[^>]*+>\s*+(?:' + _F + rb'\s*+)?<v')
_ERROR_CELL = re.compile(  # possessive attributes never give back t="e": skip it by name
    rb'<c r="([A-Z]{1,3}[1-9][0-9]{0,6})"(?: (?!t=)[^\s="\'<>/&]++="[^"<>&]*+")*+ t="e"' + _ATTRS
    + rb"\s*+>\s*+(?:" + _F + rb"\s*+)?<v>([^<]*+)</v>")
_ANY_F = re.compile(rb"<f[\s/>]")
# a formula with its text: split on it, the pieces are (before, "<f" + attributes, text, ...)
_FORMULA_TEXT = re.compile(rb"(<f" + _ATTRS + rb")\s*+>([^<]*+)</f>")
# in canonical cells: a cell of a type python-calamine does not know; the first <v>
# python-calamine cannot read as spreadsheets do (a number, text number, true/false value or
# error value in another form: references, spaces, commas ...); cells of shared text
_ODD_TYPE = re.compile(rb'<c r="([A-Z]{1,3}[1-9][0-9]{0,6})"' + _NOT_T
                       + rb' t="(?!(?:n|s|str|b|e|inlineStr|d)")([^"]*+)"')
_VALUE_START = rb'\s*+>\s*+(?:' + _F + rb'\s*+)?<v>'
_BAD_VALUE = re.compile(
    rb'<c r="([A-Z]{1,3}[1-9][0-9]{0,6})"' + _NOT_T + rb'(?:'
    rb'(?: t="n"' + _ATTRS + rb')?' + _VALUE_START
    + rb'(?!(?:[+-]?+(?:[0-9]++\.?+[0-9]*+|\.[0-9]++)(?:[eE][+-]?+[0-9]++)?+'
      rb'|[+-]?+(?i:inf|infinity|nan))?+</v>)'
    rb'| t="s"' + _ATTRS + _VALUE_START + rb'(?!(?:0|[1-9][0-9]{0,8})?+</v>)'
    rb'| t="b"' + _ATTRS + _VALUE_START + rb'(?![01]?+</v>)'
    rb'| t="e"' + _ATTRS + _VALUE_START + rb'(?!(?:#DIV/0!|#N/A|#NAME\?|#NULL!|#NUM!|#REF!'
      rb'|#VALUE!)?+</v>))([^<]*+)')
_V_TEXT = re.compile(rb"<v>([^<]*+)</v>")
_PLAIN_NUMBER = rb"(?:-?+[0-9]++(?:\.[0-9]++)?+(?:[eE][+-]?+[0-9]++)?+)?+"
_PLAIN_VALUES = re.compile(_PLAIN_NUMBER + rb"(?:<" + _PLAIN_NUMBER + rb")*+")  # "<" joins
_STRING_CELL = re.compile(rb'<c r="([A-Z]{1,3}[1-9][0-9]{0,6})"' + _NOT_T + rb' t="s"' + _ATTRS
                          + _VALUE_START + rb'([0-9]++)</v>')
_ROW_OPEN = re.compile(rb"<row" + _ATTRS + rb"\s*+/?>\s*+")
_ROW_CLOSE = re.compile(rb"</row>\s*+")
_LEADING_SPACE = re.compile(rb"\s*+")
_DIGITS = re.compile(rb"[0-9]{0,12}")
_CANON_DIMENSION = re.compile(rb'<dimension ref="([^"<>&]*)"\s*/>')
_CANON_MERGE = re.compile(rb'<mergeCell ref="([^"<>&]*)"\s*/>')
# what expat refuses and a pattern would not notice: characters XML forbids, "]]>" in text
_CONTROLS = bytes(c for c in range(32) if c not in (9, 10, 13))
_XMLNS = re.compile(rb"""xmlns(?::([A-Za-z_][\w.\-]*))?\s*=\s*(?:"([^"<&]*)"|'([^'<&]*)')""")
_ROOT = re.compile(rb"(?:\xef\xbb\xbf)?(?:<\?xml\s[^<>]*\?>)?\s*<([A-Za-z_][\w.\-:]*)[\s/>]")
_MAIN_NS_BYTES = frozenset(ns.encode() for ns in _MAIN_NS)
_ATTR = re.compile(rb'([^\s="\'<>/&]+)="([^"]*)"')
_BARE_INLINE = re.compile(rb"<t>([^<]*+)</t>")
_KNOWN_TYPES = frozenset({b"n", b"s", b"str", b"b", b"e", b"inlineStr", b"d"})
_FAST_MAX = 8 * MB  # larger sheets are not held whole: the streaming path reads them


def _plain_namespaces(buf: bytes, root: bytes) -> bool:
    """Whether unprefixed elements are SpreadsheetML and prefixed ones never are.

    True when the root element is `root`, unprefixed, and declares SpreadsheetML as the
    default namespace; no other element declares a default namespace; and no prefix is
    bound to SpreadsheetML anywhere. Every "xmlns" in the bytes must be such a declaration.
    """
    m = _ROOT.match(buf)
    if m is None or m[1] != root:
        return False
    root_end = buf.find(b">", m.end() - 1)
    declarations = defaults = 0
    for d in _XMLNS.finditer(buf):
        if buf[d.start() - 1:d.start()] not in (b" ", b"\t", b"\r", b"\n"):
            return False  # not an attribute of its own: leave it to expat
        declarations += 1
        uri = d[2] if d[2] is not None else d[3]
        if d[1] is None:
            if d.start() > root_end or uri not in _MAIN_NS_BYTES:
                return False
            defaults += 1
        elif uri in _MAIN_NS_BYTES:
            return False
    return defaults == 1 and declarations == buf.count(b"xmlns")


def _not_xml(buf: bytes) -> bool:
    """Whether bytes hold what expat refuses in any XML: forbidden characters, "]]>"."""
    # one byte is looked for first: memchr's speed, where three take a millisecond a plan
    return b"]" in buf and b"]]>" in buf \
        or b"\xef" in buf and (b"\xef\xbf\xbe" in buf or b"\xef\xbf\xbf" in buf) \
        or len(buf.translate(None, _CONTROLS)) != len(buf)


def _fast_attrs(raw: bytes) -> dict[str, str] | None:
    """The unprefixed attributes of a canonical tag (None if one is repeated)."""
    pairs = _ATTR.findall(raw)
    if len({k for k, _ in pairs}) != len(pairs):
        return None
    return {k.decode(): v.decode() for k, v in pairs if b":" not in k}


def _scan_fast(buf: bytes, limits: Limits) -> _SheetFacts | None:
    """The fast path over a whole sheet: None when it is not in the canonical form.

    C-level regular expressions instead of a Python call per element (a few milliseconds a
    plan). Every count is cross-checked, and anything unusual (prefixes, namespaces other than
    the canonical ones, comments, CDATA, an <f> that is not first in its cell, rich text, any
    element in sheetData besides rows and cells) goes to the streaming expat path instead,
    which reads it by namespace and refuses what a spreadsheet would not show. Whether the
    rest of the XML is well-formed is left to python-calamine, which reports it, except what
    it reads past: characters XML forbids, "]]>", numeric references (to characters XML may
    forbid), a repeated r= or t=. Each pass over the bytes costs about 0.2 ms a plan, so there
    are few.
    """
    if b"\x00" in buf or _not_xml(buf):
        return None  # NUL and what else expat refuses: its path says where
    opened = buf.find(b"<sheetData")
    closed = buf.rfind(b"</sheetData>")
    if opened < 0 or b"sheetData" in buf[:opened] or b"sheetData" in buf[max(closed, opened) + 12:]:
        return None
    if closed < 0:
        if not buf.startswith(b"<sheetData/>", opened):
            return None
        body, closed = b"", opened + len(b"<sheetData/>")
    else:
        if not buf.startswith(b"<sheetData>", opened):
            return None
        body = buf[opened + len(b"<sheetData>"):closed]
    # Outside sheetData, anything unusual sends the sheet to expat. Inside, the checks
    # below leave nothing but canonical cells and row tags, where these can only be text;
    # only a namespace declaration (xmlns as a cell's attribute) is looked for there too.
    outside = buf[:opened] + b"<" + buf[closed:]
    if b"<!" in outside or _PREFIXED_CELL.search(outside):
        return None  # comments, CDATA, declarations; prefixed elements
    if not _plain_namespaces(outside, b"worksheet"):
        return None
    if b"AlternateContent" in buf[:opened]:
        return None  # the general path says whether it wraps the cells

    last = body.rfind(b'<row r="')  # rows come in order: the last says if rows are too many
    if last >= 0 and int(_DIGITS.match(body, last + 8)[0] or 0) > limits.max_rows:  # type: ignore[index]
        for ref, letters, digits in _CELL_REF.findall(body):  # say which: the first too far
            if int(digits) > limits.max_rows or _column_number(letters.decode()) > \
                    limits.max_columns:
                raise _TooFar(ref.decode(), "cell")
    # outside sheetData: no cell and no <f> (python-calamine and the general path would
    # count or place them); inside, nothing but canonical cells and row tags
    if _ANY_CELL.search(buf, 0, opened) or _ANY_CELL.search(buf, closed) \
            or _ANY_F.search(buf, 0, opened) or _ANY_F.search(buf, closed):
        return None
    # A formula's text holds no "<", and every pattern below starts with one, so none can
    # match inside it: the texts are cut out once (<f ...>text</f> becomes <f .../>) and the
    # passes run over the rest, a fifth of a plan's sheet bytes. python-calamine, which never
    # reads a formula's text for a value, is given the same shorter sheet.
    stored = body
    pieces = _FORMULA_TEXT.split(body)
    cut = pieces[2::3]
    if cut:
        pieces[2::3] = [b"/>"] * len(cut)
        body = b"".join(pieces)
    if b"xmlns" in body or b"&#" in body:
        return None  # a namespace declared on a cell or row; a numeric reference in a value
    # between the canonical cells only row tags may be left: then every "<c r=" and "<f" is
    # a canonical cell's, the one place its pattern allows. What is left is joined by NULs
    # (never in the part), so that no tag is made of pieces (a cell spliced into "</row>").
    cells = _CANON_CELL.split(body)
    rest = b"\x00".join(cells[0::4])
    refs: list[bytes] = cells[1::4]
    opens = _ROW_OPEN.findall(rest)
    if _ROW_CLOSE.sub(b"", _ROW_OPEN.sub(b"", rest)).translate(None, b"\x00").strip():
        return None  # something besides rows and cells in sheetData
    if len(opens) - sum(1 for tag in opens if tag.rstrip().endswith(b"/>")) \
            != rest.count(b"</row>"):
        return None  # a row left open: expat says how the XML is broken
    # every occurrence of the words must be a canonical tag (a note that says "dimension"
    # only costs the slow path); "mergeCells" is the container, not a range
    # (inside sheetData, which holds nothing but canonical cells and rows, the words can
    # only be text)
    dimensions = _CANON_DIMENSION.findall(outside)
    if len(dimensions) != outside.count(b"dimension"):
        return None
    merges = _CANON_MERGE.findall(outside) if b"mergeCell" in outside else []
    if len(merges) != outside.count(b"mergeCell") - outside.count(b"mergeCells"):
        return None
    for ref in dimensions:
        _check_range(ref.decode("ascii", "replace"), "declared size", limits)
    facts = _SheetFacts()
    if refs:
        joined = b" ".join(refs)  # each r is letters, then digits
        if max(map(int, set(joined.translate(None, _LETTERS).split()))) > limits.max_rows \
                or max(_column_number(c.decode())
                       for c in set(joined.translate(None, _DIGIT_BYTES).split())) \
                > limits.max_columns:
            for ref in refs:  # say which cell: the first one too far
                letters, digits = _REF_COLUMN.match(ref)[0], _REF_ROW.search(ref)[0]  # type: ignore[index]
                if int(digits) > limits.max_rows or \
                        _column_number(letters.decode()) > limits.max_columns:
                    raise _TooFar(ref.decode(), "cell")
        if len(set(refs)) != len(refs):
            once: set[bytes] = set()
            for ref in refs:  # say which cell: the first one seen twice
                if ref in once:
                    raise _Unusual("duplicate-cells", ref.decode())
                once.add(ref)
    # inline text only in cells of inline text, which hold no <v> (python-calamine reads the
    # <is> of any cell, Excel the <v> of one of shared text)
    # the value of every cell's t= (its first, as python-calamine and the patterns below
    # read it): which of the exact patterns below must look
    types = Counter(cells[2::4])
    del types[None]  # cells without t=
    tags = cells[3::4]
    formula_tags = list(filter(None, tags))  # a tag is "<f..." or None
    # a repeated r= or t= (not XML): python-calamine takes the last, the pattern the first;
    # every one is counted (and one in a text, which costs only the slow path)
    if body.count(b' r="') != len(refs) + rest.count(b' r="') or body.count(b' t="') != \
            types.total() + rest.count(b' t="') + b"".join(formula_tags).count(b' t="'):
        return None
    inline = _INLINE_CELL.findall(body) if b"<is>" in body else []
    if b"<is>" in body or b"inlineStr" in types:  # an <is> after a <f> too
        if len(inline) != body.count(b"<is>") \
                or b"\x00".join(inline).count(b' t="inlineStr"') != len(inline) \
                or _INLINE_VALUE.search(body):
            return None
    if not types.keys() <= _KNOWN_TYPES:
        odd = _ODD_TYPE.search(body)
        if odd is not None:
            raise _Unusual("unexpected-markup", odd[1].decode(),
                           _type_problem(odd[2].decode("utf-8", "replace")))
        return None  # text or an attribute that looks like a type could hide one: expat reads
    used = _STRING_CELL.findall(body) if b"s" in types else []
    # the usual case, cheaply: every <v> a plain number, every text number plain, no cells
    # of true/false or error values; else the pattern that finds the first odd value
    if b"b" in types or b"e" in types or len(used) != types[b"s"] \
            or any(n[:1] == b"0" and n != b"0" for _, n in used) \
            or not _PLAIN_VALUES.fullmatch(b"<".join(_V_TEXT.findall(body))):
        bad = _BAD_VALUE.search(body)
        if bad is not None:
            raise _Unusual("unexpected-markup", bad[1].decode(),
                           f"a value {bad[2][:30].decode('utf-8', 'replace')!r} in a form "
                           "spreadsheets read differently")
    if used:
        numbers = [int(n) for _, n in used]
        top = max(range(len(numbers)), key=numbers.__getitem__)
        facts.string_index = (numbers[top], used[top][0].decode())
    if b"e" in types:
        errors = _ERROR_CELL.findall(body)
        if len(errors) != buf.count(b' t="e"') or any(b"&" in text for _, text in errors):
            return None
        facts.errors = {coord.decode(): text.decode().strip() for coord, text in errors}

    formula_refs = list(compress(refs, tags))
    if formula_refs and len(cut) != len(formula_refs):
        # some formulas are stored without text (<f t="shared" si="0"/>): every <f> and its
        # text, as stored, from the uncut bytes
        as_stored = _FORMULA_CELL.findall(stored)
        if list(map(itemgetter(0), as_stored)) != formula_refs:
            return None
        cut = list(map(itemgetter(2), as_stored))
    # here every <f> is a formula cell's and every text cut out is one's (there are as many),
    # both in the order of the bytes: the texts are the cells' in order
    special: list[tuple[str, dict[str, str]]] = []
    raw = coords = b""
    if formula_refs:
        raw = b"\x00".join(cut)
        if b"\r" in raw:
            return None  # expat normalises line ends (characters it refuses: refused above)
        if b"&" in raw and _OTHER_REFERENCE.search(raw) is not None:
            unescaped = _unescape(raw)  # numeric references: unescaped (and checked) now
            if unescaped is None:
                return None
            raw = unescaped.replace(b"&", b"&amp;").replace(b"<", b"&lt;")
        coords = b"\x00".join(formula_refs)
        if any(b' t="' in tag for tag in set(formula_tags)):
            for coord, tag in zip(formula_refs, formula_tags, strict=True):
                if b' t="' in tag:
                    attrs = _fast_attrs(tag[2:])
                    if attrs is None:
                        return None
                    special.append((coord.decode(), attrs))
    texts = FormulaTexts(coords, raw)
    if special:
        facts.formula_text, facts.formulas, facts.array_ranges = _resolve_formulas(
            dict(texts), special, limits)
    else:  # the usual case: texts stay as stored until someone reads them
        facts.formula_text = texts
        facts.formulas = set(coords.decode("ascii").split("\x00")) if coords else set()
    facts.merged = [m.decode("ascii", "replace").replace("$", "").upper() for m in merges]
    facts.no_dates = b"d" not in types
    # every text of the sheet is in a canonical <is>: python-calamine trims the ends of those
    # not marked xml:space="preserve"; bytes at 128 and above may be Unicode spaces, and a
    # reference (&#10;) may be a line break
    facts.spaces_kept = b"<t" not in outside and not any(
        t[0] <= 32 or t[0] >= 128 or t[-1] <= 32 or t[-1] >= 128 or b"&" in t
        for t in _BARE_INLINE.findall(body) if t)
    if body is not stored:
        facts.for_calamine = b"".join((buf[:opened], b"<sheetData>", body, buf[closed:]))
    return facts


def _scan_sheet_bytes(chunks: Iterator[bytes], limits: Limits) -> _SheetFacts:
    """Scan a worksheet part: the fast path when it is small and canonical, else expat's.
    A part held whole (all but the largest) is in the facts as python-calamine is given it."""
    held: list[bytes] | None = []
    size = 0
    scan: _SheetScan | None = None
    for chunk in chunks:
        if scan is not None:
            scan.feed(chunk)
            continue
        assert held is not None
        held.append(chunk)
        size += len(chunk)
        if size > _FAST_MAX:
            scan = _SheetScan(limits)
            for piece in held:
                scan.feed(piece)
            held = None
    if scan is not None:
        return scan.close()
    assert held is not None
    whole = b"".join(held)
    facts = _scan_fast(whole, limits)
    if facts is None:
        scan = _SheetScan(limits)
        scan.feed(whole)
        facts = scan.close()
    if facts.for_calamine is None:
        facts.for_calamine = whole  # held whole already: python-calamine gets it as stored
    return facts


