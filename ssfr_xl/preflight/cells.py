"""What a worksheet holds, as both sheet scans report it: references and ranges, the facts
of a sheet, formula texts, values python-calamine reads whole, formulas resolved."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from .problems import _RESAVE, Limits, ReadProblem

# --- pre-flight: sheet XML ----------------------------------------------------------------

_REF = re.compile(r"([A-Z]{1,3})([1-9][0-9]{0,6})")
_LOOSE_REF = re.compile(r"\$?([A-Za-z]+)\$?([0-9]+)")
_COLUMNS: dict[str, int] = {}


def _column_number(letters: str) -> int:
    """Column number of upper-case letters (cached: the cache holds only valid letters)."""
    n = _COLUMNS.get(letters)
    if n is None:
        n = 0
        for ch in letters:
            n = n * 26 + ord(ch) - 64
        if len(letters) <= 3 and letters.isalpha() and letters.isascii() and letters.isupper():
            _COLUMNS[letters] = n
    return n


def _column_letters(n: int) -> str:
    letters = ""
    while n > 0:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


class _TooFar(Exception):
    """A cell beyond the limits (raised inside a scan, turned into a ReadProblem)."""

    def __init__(self, cell: str, what: str):
        super().__init__(cell)
        self.cell, self.what = cell, what


def _loose_ref(ref: str) -> tuple[int, int]:
    """(column, row) of a reference written loosely ($A$1, a1); refuses what is not one."""
    m = _LOOSE_REF.fullmatch(ref.strip())
    if m is None:
        raise _TooFar(ref[:20], "unreadable reference")
    letters, digits = m[1].upper(), m[2]
    # absurd lengths are far beyond any limit; don't do arithmetic on them
    col = _column_number(letters) if len(letters) <= 4 else 10**9
    row = int(digits) if len(digits) <= 9 else 10**12
    if row < 1 or col < 1:
        raise _TooFar(ref[:20], "unreadable reference")
    return col, row


def _check_range(ref: str, what: str, limits: Limits) -> None:
    """Refuse a range (A1:K156) reaching beyond the limits."""
    for corner in ref.split(":")[:2]:
        m = _REF.fullmatch(corner)
        col, row = (_column_number(m[1]), int(m[2])) if m else _loose_ref(corner)
        if row > limits.max_rows or col > limits.max_columns:
            raise _TooFar(f"{_column_letters(min(col, 10**6))}{row}", what)


@dataclass
class _SheetFacts:
    """What a worksheet part says besides its values."""

    formulas: set[str] = field(default_factory=set)  # formula_text keys + array-covered cells
    formula_text: Mapping[str, str] = field(default_factory=dict)
    array_ranges: dict[str, str] = field(default_factory=dict)  # anchor -> "D7:D20"
    merged: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    # the highest shared-string number a cell of the sheet uses, and that cell
    string_index: tuple[int, str] = (-1, "")
    # hints for read_workbook, not facts of the sheet (the paths may differ in them)
    no_dates: bool = field(default=False, compare=False)  # no cell of type d (False: unknown)
    spaces_kept: bool = field(default=False, compare=False)  # no text trimmed (False: unknown)
    # the part as python-calamine is given it (formula texts cut out, or as stored), when the
    # scan held it whole; None for a part too large to hold, which was streamed
    for_calamine: bytes | None = field(default=None, compare=False, repr=False)


class FormulaTexts(Mapping[str, str]):
    """A sheet's formula texts as the fast path found them: XML-unescaped on first use.

    The usual returned plan holds exactly the template's formulas; `spelled_as` tells so by
    comparing the bytes as stored with the template's, without unescaping or splitting
    thousands of cells. Read as a mapping (cell -> text) it is the same as a dict.
    Only made when every "&" in the texts starts one of XML's five named references, so
    unescaping cannot fail.
    """

    __slots__ = ("_coords", "_raw", "_texts")

    def __init__(self, coords: bytes, raw: bytes):
        self._coords, self._raw = coords, raw  # "\x00"-joined, in the order of the sheet
        self._texts: dict[str, str] | None = None

    def spelled_as(self, coords: bytes, escaped: bytes) -> bool:
        """Whether the cells, in this order, hold these texts (joined by NUL, with &, < and >
        written as &amp;, &lt; and &gt;; quotes may be written either way in the file)."""
        if self._coords != coords:
            return False
        if self._raw == escaped:
            return True
        if b"&quot;" not in self._raw and b"&apos;" not in self._raw:
            return False
        return self._raw.replace(b"&quot;", b'"').replace(b"&apos;", b"'") == escaped

    def _all(self) -> dict[str, str]:
        if self._texts is None:
            text = _unescape(self._raw) if b"&" in self._raw else self._raw
            assert text is not None  # only made when unescaping cannot fail
            coords = self._coords.decode("ascii").split("\x00") if self._coords else []
            texts = text.decode("utf-8").split("\x00") if self._coords else []
            self._texts = dict(zip(coords, texts, strict=True))
        return self._texts

    def __getitem__(self, cell: str) -> str:
        return self._all()[cell]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __reduce__(self):
        return (FormulaTexts, (self._coords, self._raw))

    def __repr__(self) -> str:
        return f"FormulaTexts({self._all()!r})"


def escaped_texts(texts: Mapping[str, str]) -> tuple[bytes, bytes]:
    """(cells, texts) as FormulaTexts.spelled_as takes them, for formulas as written."""
    coords = "\x00".join(texts).encode("ascii")
    raw = "\x00".join(texts.values()).replace("&", "&amp;").replace("<", "&lt;") \
        .replace(">", "&gt;").encode("utf-8")
    return coords, raw


#: Cell types python-calamine reads (t="d" is refused in read_workbook, naming the sheet).
_CELL_TYPES = frozenset({"n", "s", "str", "b", "e", "inlineStr", "d"})
#: A number as python-calamine (Rust's f64 parser) reads it; anything else it cannot read.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                     r"|[+-]?(?i:inf|infinity|nan)")
_STRING_INDEX = re.compile(r"0|[1-9][0-9]{0,8}")
_CALAMINE_ERRORS = ("#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!")
_CANONICAL_REF = re.compile(r"[A-Z]+[1-9][0-9]*")


def _value_problem(kind: str | None, value: str) -> str | None:
    """Why python-calamine cannot read a cell's <v> the way spreadsheets do; None if it can."""
    if not value or kind in ("str", "d", "inlineStr"):
        return None
    if kind is None or kind == "n":
        ok, what = _NUMBER.fullmatch(value), "number"
    elif kind == "s":
        ok, what = _STRING_INDEX.fullmatch(value), "text number"
    elif kind == "b":
        ok, what = value in ("0", "1"), "true/false value (0 or 1)"
    else:
        ok, what = value in _CALAMINE_ERRORS, "known error value"
    return None if ok else f"a value {value[:30]!r} that is not a plain {what}"


def _type_problem(kind: str) -> str:
    return f"a cell of a type Excel does not know (t={kind[:20]!r})"


class _Unusual(Exception):
    """Content a spreadsheet would not show as it would be read (turned into a ReadProblem).

    code: duplicate-cells, alternate-content, unexpected-markup, or damaged.
    """

    def __init__(self, code: str, cell: str = "", detail: str = "", index: int = -1):
        super().__init__(code, cell, detail)
        self.code, self.cell, self.detail = code, cell, detail
        self.index = index  # the shared string's number, for problems in sharedStrings.xml


def _unusual_problem(sheet: str, e: _Unusual) -> ReadProblem:
    """A problem a scan found in a sheet, in words for the sender."""
    at = f" at cell {e.cell}" if e.cell else ""
    if e.code == "duplicate-cells":
        message = (
            f"Sheet {sheet} holds cell {e.cell} twice (two records for one cell), which Excel "
            "never writes: which of them a spreadsheet shows is uncertain, so the file was not "
            f"read. Open it in Excel, check cell {e.cell}, save it as Excel Workbook (.xlsx) "
            "and send it again.")
    elif e.code == "alternate-content":
        message = (
            f"Sheet {sheet} holds cells{' near ' + e.cell if e.cell else ''} in alternative "
            "versions for different spreadsheet programs (mc:AlternateContent), so what one "
            "program shows can differ from what would be counted; the file was not read. "
            f"{_RESAVE}")
    elif e.code == "unexpected-markup":
        message = (
            f"Sheet {sheet} stores {'cell ' + e.cell if e.cell else 'its cells'} in a form Excel "
            f"does not read ({e.detail}), so what a spreadsheet shows there could differ from "
            f"what would be counted; the file was not read. {_RESAVE}")
    else:
        return ReadProblem(
            "not-an-xlsx-file",
            f"The file is damaged: sheet {sheet}{at}: {e.detail}. Open it in Excel to check "
            "that your plan is all there, save it as Excel Workbook (.xlsx) and send it again.",
            sheet=sheet, cell=e.cell)
    return ReadProblem(e.code, message, sheet=sheet, cell=e.cell)


_ENTITY = re.compile(rb"&(?:(amp|lt|gt|quot|apos)|#([0-9]{1,7})|#x([0-9A-Fa-f]{1,6}));")
_OTHER_REFERENCE = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos);)")
_NAMED_ENTITIES = {b"amp": b"&", b"lt": b"<", b"gt": b">", b"quot": b'"', b"apos": b"'"}


def _xml_char(n: int) -> bool:
    return n in (9, 10, 13) or 0x20 <= n <= 0xD7FF or 0xE000 <= n <= 0xFFFD \
        or 0x10000 <= n <= 0x10FFFF


def _unescape(text: bytes) -> bytes | None:
    """XML character content with its references replaced; None where expat would refuse."""
    if _OTHER_REFERENCE.search(text) is None:  # the usual case (&amp; &quot;): no callbacks
        for name in (b"lt", b"gt", b"quot", b"apos", b"amp"):  # &amp; last: &amp;lt; is &lt;
            if b"&" + name + b";" in text:
                text = text.replace(b"&" + name + b";", _NAMED_ENTITIES[name])
        return text
    if text.count(b"&") != len(_ENTITY.findall(text)):
        return None  # an entity XML does not define (expat refuses it)
    bad = False

    def one(m: re.Match[bytes]) -> bytes:
        nonlocal bad
        if m[1]:
            return _NAMED_ENTITIES[m[1]]
        n = int(m[2]) if m[2] else int(m[3], 16)
        if not _xml_char(n):
            bad = True
            return b""
        return chr(n).encode("utf-8")

    out = _ENTITY.sub(one, text)
    return None if bad else out


# --- formulas -------------------------------------------------------------------------------

_RANGE = re.compile(r"([A-Z]{1,3})([1-9][0-9]{0,6})(?::([A-Z]{1,3})([1-9][0-9]{0,6}))?")


def _box(ref: str | None) -> tuple[int, int, int, int] | None:
    """(first column, first row, last column, last row) of "A1" or "A1:B2"; None if neither."""
    m = _RANGE.fullmatch(ref or "")
    if m is None:
        return None
    c1, r1 = _column_number(m[1]), int(m[2])
    c2, r2 = (_column_number(m[3]), int(m[4])) if m[3] else (c1, r1)
    return (c1, r1, c2, r2) if c1 <= c2 and r1 <= r2 else None


def _inside(coord: str, box: tuple[int, int, int, int]) -> bool:
    m = _REF.fullmatch(coord)
    if m is None:
        return False
    col, row = _column_number(m[1]), int(m[2])
    return box[0] <= col <= box[2] and box[1] <= row <= box[3]


def _on(value: str | None) -> bool:
    return value in ("1", "true")


def _table_text(attrs: dict[str, str]) -> str:
    """What Excel shows for a data table's cells: {=TABLE(row input, column input)}."""
    r1 = "#REF!" if _on(attrs.get("del1")) else attrs.get("r1", "")
    r2 = "#REF!" if _on(attrs.get("del2")) else attrs.get("r2", "")
    if _on(attrs.get("dt2D")):
        return f"TABLE({r1},{r2})"
    return f"TABLE({r1},)" if _on(attrs.get("dtr")) else f"TABLE(,{r1})"


def _resolve_formulas(texts: dict[str, str], special: list[tuple[str, dict[str, str]]],
                      limits: Limits) -> tuple[dict[str, str], set[str], dict[str, str]]:
    """Every formula cell's text, with shared formulas expanded as Excel expands them.

    `texts` holds each <f>'s own text by cell; `special` the attributes of those with a t=
    (shared, array, dataTable). Returns (formula_text, formula cells including every cell an
    array formula or data table covers, anchor -> range of those).
    """
    masters: dict[str, tuple[str, tuple[int, int, int, int], str]] = {}
    followers: list[tuple[str, str]] = []
    ranges: dict[str, str] = {}
    for coord, attrs in special:
        kind = attrs.get("t", "normal")
        ref = attrs.get("ref")
        if kind == "normal":
            continue
        if kind == "shared":
            si = attrs.get("si", "")
            if not (si.isascii() and si.isdigit() and len(si) <= 9):
                raise _Unusual("damaged", coord, "a shared formula has no valid number (si)")
            si = str(int(si))  # a number: "07" is 7
            if ref is None:
                followers.append((coord, si))
                continue
            box = _box(ref)
            if box is None:
                raise _Unusual("damaged", coord, f"shared formula {si} has a range ({ref!r}) "
                               "that is not a range of cells")
            if not _inside(coord, box):
                raise _Unusual("damaged", coord, f"shared formula {si} lies outside its own "
                               f"range {ref}")
            if si in masters:
                raise _Unusual("damaged", coord, f"shared formula {si} is defined twice")
            if not texts[coord].strip():
                raise _Unusual("damaged", coord, f"shared formula {si} has no formula")
            masters[si] = (coord, box, ref)
        elif kind in ("array", "dataTable"):
            what = "an array formula" if kind == "array" else "a data table"
            box = _box(ref)
            if box is None:
                raise _Unusual("damaged", coord, f"{what} has a range ({ref!r}) that is not a "
                               "range of cells")
            assert ref is not None
            _check_range(ref, "declared size", limits)
            if not _inside(coord, box):
                raise _Unusual("damaged", coord, f"{what} lies outside its own range {ref}")
            ranges[coord] = ref
            if kind == "dataTable" and not texts[coord]:
                texts[coord] = _table_text(attrs)
        else:
            raise _Unusual("damaged", coord, f"a formula of a kind Excel does not know "
                           f"({kind!r})")
    if followers:
        from openpyxl.formula.translate import Translator  # only files with shared formulas

        translators: dict[str, Translator] = {}
        for coord, si in followers:
            if si not in masters:
                raise _Unusual("damaged", coord, f"the cell uses shared formula {si}, which "
                               "the sheet never defines")
            origin, box, ref = masters[si]
            if not _inside(coord, box):
                raise _Unusual("damaged", coord, f"the cell uses shared formula {si}, whose "
                               f"range {ref} does not include it")
            try:
                if si not in translators:
                    translators[si] = Translator("=" + texts[origin], origin=origin)
                text = translators[si].translate_formula(coord)[1:]
            except Exception:  # the tokenizer's and translator's errors: a broken formula
                raise _Unusual("damaged", coord, f"shared formula {si} cannot be applied to "
                               "this cell") from None
            own = texts[coord]
            if own and own != text:
                raise _Unusual("damaged", coord, f"the cell has its own formula and shared "
                               f"formula {si} at once")
            texts[coord] = text
    covered = set(texts)
    if ranges:
        in_arrays: set[str] = set()
        for anchor, ref in ranges.items():
            c1, r1, c2, r2 = _box(ref)  # type: ignore[misc]
            letters = [_column_letters(c) for c in range(c1, c2 + 1)]
            for row in range(r1, r2 + 1):
                for col in letters:
                    cell = f"{col}{row}"
                    if cell in in_arrays:
                        raise _Unusual("damaged", cell, "two array formulas or data tables "
                                       "cover the cell")
                    if cell != anchor and cell in texts:
                        raise _Unusual("damaged", cell, "the cell has a formula of its own "
                                       f"inside the range {ref} of the formula in {anchor}")
                    in_arrays.add(cell)
        covered |= in_arrays
    return texts, covered, ranges


