"""Turning cell contents into typed values, with a message naming the cell when that fails."""

from __future__ import annotations

import ast
import math
import operator
from typing import Any

_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


class CellValueError(ValueError):
    """A cell holds something that is not the expected kind of value."""


def arithmetic_formula(text: str) -> float | None:
    """Value of a formula made only of numbers and + - * / ( ), e.g. '=1200*1.05'; else None.

    Budget officers often type small sums into input cells. Anything beyond plain arithmetic
    (references, functions) is not evaluated: the caller reports the cell instead.
    """
    expr = text.lstrip("=").strip().replace("^", "**")
    if not expr or len(expr) > 200:
        return None
    expr = expr.replace("%", "/100")
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        return None

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.operand))
        raise ValueError

    try:
        value = ev(tree)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def to_number(value: Any, *, blank: float | None = 0.0) -> float:
    """A number from a cell value: a number, or a formula of plain arithmetic ('=1200*1.05').

    Text is refused even when it looks like a number ('500'): the workbook's SUM and SUMIF
    leave such a cell out, so counting it in Python would make the two disagree.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        if blank is None:
            raise CellValueError("is empty; type a number")
        return blank
    if isinstance(value, bool):
        raise CellValueError(f"holds {value!r}; type a number")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise CellValueError("is not a finite number")
        return float(value)
    text = str(value).strip()
    if text.startswith("="):
        result = arithmetic_formula(text)
        if result is None:
            raise CellValueError(f"holds the formula {text!r}; type the number instead")
        return result
    cleaned = text.replace(",", "").replace("$", "").replace(" ", "").rstrip("%")
    try:
        float(cleaned)
    except ValueError:
        raise CellValueError(f"holds the text {text!r}; type a number") from None
    raise CellValueError(f"holds {text!r} as text, which the workbook's totals leave out; "
                         "type it again as a number")


def to_whole(value: Any) -> int:
    """A non-negative whole number (pupil counts)."""
    number = to_number(value)
    if number < 0:
        raise CellValueError(f"holds {number:g}; a count cannot be negative")
    if abs(number - round(number)) > 1e-9:
        raise CellValueError(f"holds {number:g}; type a whole number of pupils")
    return int(round(number))


def to_text(value: Any) -> str:
    """Text from a cell value (numbers that are whole print without .0)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def unwritable_character(text: str) -> str | None:
    """The first character a workbook cannot hold (a control character other than tab and
    line breaks, U+FFFE, U+FFFF or a lone surrogate), shown as U+XXXX, or None."""
    for ch in text:
        code = ord(ch)
        if (code < 0x20 and ch not in "\t\n\r") or code in (0xFFFE, 0xFFFF) \
                or 0xD800 <= code <= 0xDFFF:
            return f"U+{code:04X}"
    return None
