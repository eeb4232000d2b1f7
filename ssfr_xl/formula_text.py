"""Formula text in one canonical spelling, so a formula can be compared with the template's.

Excel, LibreOffice and gnumeric spell the same formula differently when they save a file:
quotes around sheet names that need none ('Lists'!A1 vs Lists!A1), the case of function names,
`_xlfn.` prefixes, spaces, number literals (1E-06 vs 0.000001) and $ anchors. None of that
changes what the formula computes; anything else (a reference, an operator, a literal, a
parenthesis) does, and stays.
"""

from __future__ import annotations

from functools import lru_cache

from openpyxl.formula.tokenizer import Token, Tokenizer

_LOGICALS = ("TRUE(", "FALSE(")


def _number(text: str) -> str:
    try:
        x = float(text)
    except ValueError:
        return text
    return repr(x)


def _range(text: str) -> str:
    sheet, bang, ref = text.rpartition("!")
    if bang:
        if sheet.startswith("'") and sheet.endswith("'"):
            sheet = sheet[1:-1].replace("''", "'")
        return f"{sheet.upper()}!{ref.replace('$', '').upper()}"
    return text.replace("$", "").upper()


@lru_cache(maxsize=65536)
def normalise(formula: str) -> str:
    """A canonical spelling of a formula (with or without its leading "=")."""
    text = formula.strip()
    if not text.startswith("="):
        text = "=" + text
    try:
        tokens = Tokenizer(text).items
    except Exception:  # not a formula openpyxl can read: compare it as it is
        return " ".join(text.split())
    out: list[str] = []
    tokens = [t for t in tokens if t.type != Token.WSPACE]
    for t in tokens:
        if t.type == Token.FUNC and t.subtype == Token.CLOSE and out and out[-1] in _LOGICALS:
            out[-1] = out[-1][:-1]  # LibreOffice writes TRUE() and FALSE() for TRUE, FALSE
            continue
        value = t.value
        if t.type == Token.FUNC and t.subtype == Token.OPEN:
            name = value[:-1].upper()
            for prefix in ("_XLFN._XLWS.", "_XLFN.", "_XLWS."):
                name = name.removeprefix(prefix)
            value = name + "("
        elif t.type == Token.OPERAND and t.subtype == Token.NUMBER:
            value = _number(value)
        elif t.type == Token.OPERAND and t.subtype == Token.RANGE:
            value = _range(value)
        elif t.type == Token.OPERAND and t.subtype == Token.LOGICAL:
            value = value.upper()
        out.append(value)
    return "".join(out)


__all__ = ["normalise"]
