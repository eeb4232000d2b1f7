"""Expressions that render an Excel formula and evaluate in Python with the same semantics.

A computed cell is declared once as a tree of these nodes. `xl(ctx)` renders the formula text
for one worksheet row (the writer puts it in the cell); `compile()` gives a Python function of
an environment that computes the value the spreadsheet shows, following Excel's rules for the
few functions used (the portable subset of DESIGN.md):

- blank cells are "" against text, 0 against numbers, FALSE against booleans;
- text never turns into a number: ISNUMBER("5") is FALSE and the formulas guard arithmetic
  with ISNUMBER, so a number stored as text is never counted;
- comparisons of text ignore case; EXACT does not; MATCH(..., 0) ignores case and honours the
  wildcards * ? ~ (Excel and LibreOffice do, for .xlsx files);
- number to text (the & operator) prints up to 15 significant digits;
- errors (#N/A, #VALUE!, #REF!, #DIV/0!) propagate until IFERROR, ISNA or ISNUMBER stops them;
- ROUND rounds half away from zero after reducing to 15 significant digits (money.py).

Values in Python: None (blank), str, float, bool, XlError.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .money import excel_round


class XlError(str):
    """A spreadsheet error value (#N/A, #VALUE!, ...)."""


NA = XlError("#N/A")
VALUE = XlError("#VALUE!")
REF = XlError("#REF!")
DIV0 = XlError("#DIV/0!")
NUM = XlError("#NUM!")

Value = Any  # None | str | float | bool | XlError
Env = Any  # an object the nodes read (see Line / Aggregate envs in plan_math)
Fn = Callable[[Env], Value]

_EPOCH = _dt.datetime(1899, 12, 30)
_LEAP_BUG = _dt.datetime(1900, 3, 1)  # serial days before it count the fictitious 1900-02-29


def cell_value(raw: object) -> Value:
    """A value read from a file (python-calamine) as the spreadsheet holds it.

    Dates and times are numbers to a spreadsheet (serial days since 1899-12-30); python-calamine
    turns numbers formatted as dates into datetime objects, so they are turned back.
    """
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool | str):
        return raw
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, _dt.datetime):
        delta = raw - _EPOCH
        days = delta.days - (1 if raw < _LEAP_BUG else 0)
        return days + delta.seconds / 86400 + delta.microseconds / 86400e6
    if isinstance(raw, _dt.date):
        return float((raw - _EPOCH.date()).days - (1 if raw < _LEAP_BUG.date() else 0))
    if isinstance(raw, _dt.time):
        return (raw.hour * 3600 + raw.minute * 60 + raw.second + raw.microsecond / 1e6) / 86400
    if isinstance(raw, _dt.timedelta):
        return raw.total_seconds() / 86400
    return str(raw)


def is_number(v: Value) -> bool:
    """ISNUMBER."""
    return isinstance(v, float | int) and not isinstance(v, bool)


def is_blank(v: Value) -> bool:
    """True for an empty cell (or an empty string, which compares equal to "")."""
    return v is None or v == ""


def number_text(x: float) -> str:
    """A number as Excel's General format turns it into text (x & "")."""
    x = float(x)
    if x == 0:
        return "0"
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    text = f"{x:.15g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else "+"
        text = f"{mantissa.upper()}E{sign}{exponent.lstrip('+-').zfill(2)}"
    return text


def as_text(v: Value) -> str:
    """The & operator's view of a value."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float | int):
        return number_text(float(v))
    return str(v)


def _as_number(v: Value) -> Value:
    """Arithmetic's view of a value: blank is 0, TRUE is 1; text is #VALUE! (never guessed)."""
    if v is None:
        return 0.0
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, float | int):
        return float(v)
    if isinstance(v, XlError):
        return v
    return VALUE


def _truth(v: Value) -> Value:
    """IF's view of a condition."""
    if v is None:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, float | int):
        return v != 0
    if isinstance(v, XlError):
        return v
    return VALUE


def _rank(v: Value) -> int:
    return 0 if isinstance(v, float | int) and not isinstance(v, bool) else (
        1 if isinstance(v, str) else 2)


def compare(a: Value, b: Value) -> Value:
    """-1, 0 or 1 as Excel orders two values (numbers < text < booleans); errors propagate."""
    for v in (a, b):
        if isinstance(v, XlError):
            return v
    if a is None and b is None:
        return 0
    if a is None:
        a = "" if isinstance(b, str) else (False if isinstance(b, bool) else 0.0)
    if b is None:
        b = "" if isinstance(a, str) else (False if isinstance(a, bool) else 0.0)
    ra, rb = _rank(a), _rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra == 1:
        a, b = a.lower(), b.lower()
    return (a > b) - (a < b)


_OPS: dict[str, Callable[[Value, Value], Value]] = {}


def _arith(op: Callable[[float, float], float]) -> Callable[[Value, Value], Value]:
    def run(a: Value, b: Value) -> Value:
        x, y = _as_number(a), _as_number(b)
        if isinstance(x, XlError):
            return x
        if isinstance(y, XlError):
            return y
        try:
            r = op(x, y)
        except ZeroDivisionError:
            return DIV0
        return r if math.isfinite(r) else NUM
    return run


def _cmp(test: Callable[[int], bool]) -> Callable[[Value, Value], Value]:
    def run(a: Value, b: Value) -> Value:
        c = compare(a, b)
        return c if isinstance(c, XlError) else test(c)
    return run


def _concat(a: Value, b: Value) -> Value:
    for v in (a, b):
        if isinstance(v, XlError):
            return v
    return as_text(a) + as_text(b)


_OPS.update({
    "+": _arith(lambda x, y: x + y),
    "-": _arith(lambda x, y: x - y),
    "*": _arith(lambda x, y: x * y),
    "/": _arith(lambda x, y: x / y),
    "&": _concat,
    "=": _cmp(lambda c: c == 0),
    "<>": _cmp(lambda c: c != 0),
    "<": _cmp(lambda c: c < 0),
    ">": _cmp(lambda c: c > 0),
    "<=": _cmp(lambda c: c <= 0),
    ">=": _cmp(lambda c: c >= 0),
})


@lru_cache(maxsize=4096)
def _wildcard(pattern: str) -> re.Pattern[str] | None:
    """MATCH's wildcards (* any, ? one, ~ escapes) as a regex; None when there are none."""
    if not any(ch in pattern for ch in "*?~"):
        return None
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "~" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def match_exact(value: Value, items: Sequence[Value]) -> Value:
    """MATCH(value, items, 0): 1-based position, or #N/A."""
    if isinstance(value, XlError):
        return value
    if value is None:
        return NA
    if isinstance(value, str):
        rx = _wildcard(value)
        low = value.lower()
        for i, item in enumerate(items):
            if isinstance(item, str) and (rx.fullmatch(item) if rx else item.lower() == low):
                return float(i + 1)
        return NA
    for i, item in enumerate(items):
        if item is not None and not isinstance(item, str) and compare(value, item) == 0:
            return float(i + 1)
    return NA


def excel_trim(text: str) -> str:
    """TRIM: spaces (only U+0020) removed at both ends and runs of them made single."""
    return re.sub(" +", " ", text.strip(" "))


def fixed(x: float, decimals: int = 2) -> str:
    """FIXED(x, decimals): rounded, with thousands separators; like the spreadsheets, at most
    15 significant digits, the rest shown as zeros."""
    from decimal import Decimal

    value = Decimal(f"{excel_round(x, decimals):.15g}")
    return f"{value:,.{decimals}f}"


# --- nodes ---------------------------------------------------------------------------------

class Expr:
    """A node of a declared formula."""

    def xl(self, ctx: Any) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def compile(self) -> Fn:  # pragma: no cover - abstract
        raise NotImplementedError

    # operators build trees: Cell("fte") * Lookup(...)
    def _op(self, op: str, other: object, swap: bool = False) -> Expr:
        o = lift(other)
        left, right = (o, self) if swap else (self, o)
        if op == "&" and isinstance(left, Text) and isinstance(right, Text):
            return Text(left.value + right.value)
        return BinOp(op, left, right)

    def __add__(self, o: object) -> Expr:
        return self._op("+", o)

    def __radd__(self, o: object) -> Expr:
        return self._op("+", o, True)

    def __sub__(self, o: object) -> Expr:
        return self._op("-", o)

    def __rsub__(self, o: object) -> Expr:
        return self._op("-", o, True)

    def __mul__(self, o: object) -> Expr:
        return self._op("*", o)

    def __rmul__(self, o: object) -> Expr:
        return self._op("*", o, True)

    def __truediv__(self, o: object) -> Expr:
        return self._op("/", o)

    def __neg__(self) -> Expr:
        return BinOp("-", Num(0), self)

    def cat(self, o: object) -> Expr:
        """Text concatenation (&)."""
        return self._op("&", o)

    def eq(self, o: object) -> Expr:
        """= (Excel's comparison: text ignores case, blank is "" or 0)."""
        return self._op("=", o)

    def ne(self, o: object) -> Expr:
        """<>."""
        return self._op("<>", o)

    def lt(self, o: object) -> Expr:
        """<."""
        return self._op("<", o)

    def gt(self, o: object) -> Expr:
        """>."""
        return self._op(">", o)


def lift(v: object) -> Expr:
    """A Python constant as a node."""
    if isinstance(v, Expr):
        return v
    if isinstance(v, bool):
        return Bool(v)
    if isinstance(v, int | float):
        return Num(float(v))
    if isinstance(v, str):
        return Text(v)
    raise TypeError(f"cannot use {v!r} in a formula")


@dataclass(frozen=True, eq=False)
class Num(Expr):
    """A number literal."""

    value: float

    def xl(self, ctx: Any) -> str:
        return number_text(self.value) if self.value >= 0 else f"({number_text(self.value)})"

    def compile(self) -> Fn:
        v = self.value
        return lambda env: v


@dataclass(frozen=True, eq=False)
class Text(Expr):
    """A text literal."""

    value: str

    def xl(self, ctx: Any) -> str:
        return '"' + self.value.replace('"', '""') + '"'

    def compile(self) -> Fn:
        v = self.value
        return lambda env: v


@dataclass(frozen=True, eq=False)
class Bool(Expr):
    """TRUE or FALSE."""

    value: bool

    def xl(self, ctx: Any) -> str:
        return "TRUE" if self.value else "FALSE"

    def compile(self) -> Fn:
        v = self.value
        return lambda env: v


#: Excel's operator precedence (higher binds tighter); operators of one level go left to right.
_PRECEDENCE = {"=": 1, "<>": 1, "<": 1, ">": 1, "<=": 1, ">=": 1, "&": 2, "+": 3, "-": 3,
               "*": 4, "/": 4}


@dataclass(frozen=True, eq=False)
class BinOp(Expr):
    """An infix operator."""

    op: str
    left: Expr
    right: Expr

    def xl(self, ctx: Any) -> str:
        mine = _PRECEDENCE[self.op]
        left, right = self.left.xl(ctx), self.right.xl(ctx)
        if isinstance(self.left, BinOp) and _PRECEDENCE[self.left.op] < mine:
            left = f"({left})"
        if isinstance(self.right, BinOp) and (
                _PRECEDENCE[self.right.op] < mine or
                (_PRECEDENCE[self.right.op] == mine and self.op not in ("+", "*", "&"))):
            right = f"({right})"
        return f"{left}{self.op}{right}"

    def compile(self) -> Fn:
        a, b, run = self.left.compile(), self.right.compile(), _OPS[self.op]
        return lambda env: run(a(env), b(env))


@dataclass(frozen=True, eq=False)
class Cell(Expr):
    """A cell of the current line: an input or another computed column (by column key)."""

    key: str

    def xl(self, ctx: Any) -> str:
        return ctx.cell(self.key)

    def compile(self) -> Fn:
        key = self.key
        return lambda env: env.get(key)


@dataclass(frozen=True, eq=False)
class Name(Expr):
    """A defined name holding one value (FTE_Step, Allocation_GEN)."""

    name: str

    def xl(self, ctx: Any) -> str:
        return self.name

    def compile(self) -> Fn:
        name = self.name
        return lambda env: env.name(name)


@dataclass(frozen=True, eq=False)
class Range(Expr):
    """A column of a reference list (evaluates to the list of its values)."""

    table: str
    key: str

    def xl(self, ctx: Any) -> str:
        return ctx.range(self.table, self.key)

    def compile(self) -> Fn:
        table, key = self.table, self.key
        return lambda env: env.column(table, key)


@dataclass(frozen=True, eq=False)
class Block(Expr):
    """Several adjacent columns of a reference list (INDEX with row and column)."""

    table: str
    keys: tuple[str, ...]

    def xl(self, ctx: Any) -> str:
        return ctx.block(self.table, self.keys)

    def compile(self) -> Fn:
        table, keys = self.table, self.keys
        return lambda env: [env.column(table, k) for k in keys]


def _fn_if(args: list[Fn]) -> Fn:
    cond, yes = args[0], args[1]
    no = args[2] if len(args) > 2 else (lambda env: False)

    def run(env: Env) -> Value:
        t = _truth(cond(env))
        if isinstance(t, XlError):
            return t
        return yes(env) if t else no(env)
    return run


def _logical(all_: bool) -> Callable[[list[Fn]], Fn]:
    def make(args: list[Fn]) -> Fn:
        def run(env: Env) -> Value:
            values = [_truth(a(env)) for a in args]
            for v in values:
                if isinstance(v, XlError):
                    return v
            return all(values) if all_ else any(values)
        return run
    return make


def _unary(f: Callable[[Value], Value]) -> Callable[[list[Fn]], Fn]:
    def make(args: list[Fn]) -> Fn:
        a = args[0]
        return lambda env: f(a(env))
    return make


def _not(v: Value) -> Value:
    t = _truth(v)
    return t if isinstance(t, XlError) else not t


def _iferror(args: list[Fn]) -> Fn:
    a, b = args

    def run(env: Env) -> Value:
        v = a(env)
        return b(env) if isinstance(v, XlError) else v
    return run


def _round(args: list[Fn]) -> Fn:
    a, d = args

    def run(env: Env) -> Value:
        x, n = _as_number(a(env)), _as_number(d(env))
        if isinstance(x, XlError):
            return x
        if isinstance(n, XlError):
            return n
        return excel_round(x, int(n))
    return run


def _abs(v: Value) -> Value:
    x = _as_number(v)
    return x if isinstance(x, XlError) else abs(x)


def _exact(args: list[Fn]) -> Fn:
    a, b = args

    def run(env: Env) -> Value:
        x, y = a(env), b(env)
        for v in (x, y):
            if isinstance(v, XlError):
                return v
        return as_text(x) == as_text(y)
    return run


def _trim(v: Value) -> Value:
    return v if isinstance(v, XlError) else excel_trim(as_text(v))


def _len(v: Value) -> Value:
    return v if isinstance(v, XlError) else float(len(as_text(v)))


def _mid(args: list[Fn]) -> Fn:
    s, start, n = args

    def run(env: Env) -> Value:
        text, a, b = s(env), _as_number(start(env)), _as_number(n(env))
        for v in (text, a, b):
            if isinstance(v, XlError):
                return v
        if a < 1 or b < 0:
            return VALUE
        t = as_text(text)
        first = int(a) - 1
        return t[first:first + int(b)]
    return run


def _fixed(args: list[Fn]) -> Fn:
    a, d = args

    def run(env: Env) -> Value:
        x, n = _as_number(a(env)), _as_number(d(env))
        if isinstance(x, XlError):
            return x
        if isinstance(n, XlError):
            return n
        return fixed(x, int(n))
    return run


def _match(args: list[Fn]) -> Fn:
    v, items, _kind = args
    return lambda env: match_exact(v(env), items(env))


def _index(args: list[Fn]) -> Fn:
    data, r, c = args

    def run(env: Env) -> Value:
        rows, col = _as_number(r(env)), _as_number(c(env))
        if isinstance(rows, XlError):
            return rows
        if isinstance(col, XlError):
            return col
        block = data(env)
        columns = block if block and isinstance(block[0], list) else [block]
        i, j = int(rows), int(col)
        if not (1 <= j <= len(columns)) or not (1 <= i <= len(columns[j - 1])):
            return REF
        value = columns[j - 1][i - 1]
        return 0.0 if value is None else value  # INDEX of an empty cell shows 0
    return run


_FUNCTIONS: dict[str, Callable[[list[Fn]], Fn]] = {
    "IF": _fn_if,
    "AND": _logical(True),
    "OR": _logical(False),
    "NOT": _unary(_not),
    "ISNUMBER": _unary(is_number),
    "ISNA": _unary(lambda v: isinstance(v, XlError) and v == NA),
    "ISLOGICAL": _unary(lambda v: isinstance(v, bool)),
    "IFERROR": _iferror,
    "ROUND": _round,
    "ABS": _unary(_abs),
    "EXACT": _exact,
    "TRIM": _unary(_trim),
    "LEN": _unary(_len),
    "MID": _mid,
    "FIXED": _fixed,
    "MATCH": _match,
    "INDEX": _index,
}


@dataclass(frozen=True, eq=False)
class Call(Expr):
    """A spreadsheet function of the portable subset."""

    name: str
    args: tuple[Expr, ...]

    def xl(self, ctx: Any) -> str:
        return f"{self.name}({','.join(a.xl(ctx) for a in self.args)})"

    def compile(self) -> Fn:
        return _FUNCTIONS[self.name]([a.compile() for a in self.args])


def fn(name: str, *args: object) -> Call:
    """Call(name, args), lifting constants."""
    if name not in _FUNCTIONS:
        raise KeyError(f"{name} is not in the portable subset")
    return Call(name, tuple(lift(a) for a in args))


def IF(cond: object, yes: object, no: object) -> Call:  # noqa: N802
    """IF(cond, yes, no)."""
    return fn("IF", cond, yes, no)


def AND(*args: object) -> Call:  # noqa: N802
    """AND(...)."""
    return fn("AND", *args)


def OR(*args: object) -> Call:  # noqa: N802
    """OR(...)."""
    return fn("OR", *args)


def NOT(a: object) -> Call:  # noqa: N802
    """NOT(a)."""
    return fn("NOT", a)


def ISNUMBER(a: object) -> Call:  # noqa: N802
    """ISNUMBER(a)."""
    return fn("ISNUMBER", a)


def IS_NUMBER(a: object) -> Expr:  # noqa: N802
    """A number, and not TRUE/FALSE: ISNUMBER(TRUE) is FALSE in Excel but TRUE in LibreOffice
    and gnumeric, which store booleans as numbers; ISLOGICAL tells them apart everywhere."""
    return AND(ISNUMBER(a), NOT(fn("ISLOGICAL", a)))


def ROUND(a: object, digits: int = 2) -> Call:  # noqa: N802
    """ROUND(a, digits)."""
    return fn("ROUND", a, digits)


# --- aggregates over the lines of a table ----------------------------------------------------

def _sum_numbers(values: Iterable[Value]) -> Value:
    """What SUM and SUMIF add: numbers only (not text, not TRUE/FALSE); an error is the
    result."""
    total = 0.0
    for value in values:
        if isinstance(value, XlError):
            return value
        if is_number(value):
            total += value
    return total


@dataclass(frozen=True, eq=False)
class SumIf(Expr):
    """SUMIF(table's criteria column, criterion, table's sum column)."""

    table: str
    criteria_key: str
    criterion: Expr
    sum_key: str

    def xl(self, ctx: Any) -> str:
        return (f"SUMIF({ctx.lines(self.table, self.criteria_key)},{self.criterion.xl(ctx)},"
                f"{ctx.lines(self.table, self.sum_key)})")

    def compile(self) -> Fn:
        table, ck, sk, crit = self.table, self.criteria_key, self.sum_key, self.criterion.compile()

        def run(env: Env) -> Value:
            c = crit(env)
            if isinstance(c, XlError):
                return c
            # Plan lines repeat a few criteria values (most lines are empty): each distinct
            # value is compared once. Keyed by type too: 0.0, 0 and FALSE are equal keys in
            # Python but not equal values in a spreadsheet.
            seen: dict[tuple[type, Value], bool] = {}

            def matches(v: Value) -> bool:
                key = (v.__class__, v)
                hit = seen.get(key)
                if hit is None:
                    hit = seen[key] = compare(v, c) == 0
                return hit
            return _sum_numbers(line.get(sk) for line in env.lines(table)
                                if matches(line.get(ck)))
        return run


@dataclass(frozen=True, eq=False)
class Sum(Expr):
    """SUM(table's column): numbers only; an error in the column is the result."""

    table: str
    key: str

    def xl(self, ctx: Any) -> str:
        return f"SUM({ctx.lines(self.table, self.key)})"

    def compile(self) -> Fn:
        table, key = self.table, self.key

        def run(env: Env) -> Value:
            return _sum_numbers(line.get(key) for line in env.lines(table))
        return run


@dataclass(frozen=True, eq=False)
class CountIf(Expr):
    """COUNTIF(table's column, text): cells equal to the text (ignoring case)."""

    table: str
    key: str
    text: str

    def xl(self, ctx: Any) -> str:
        return f'COUNTIF({ctx.lines(self.table, self.key)},"{self.text}")'

    def compile(self) -> Fn:
        table, key, low = self.table, self.key, self.text.lower()
        return lambda env: float(sum(
            1 for line in env.lines(table)
            if isinstance(line.get(key), str) and not isinstance(line.get(key), XlError)
            and line.get(key).lower() == low))


def render(expr: Expr, ctx: Any) -> str:
    """The cell formula: "=" + the expression."""
    return "=" + expr.xl(ctx)


class MapEnv:
    """An environment over a mapping of cell values (tests, simple uses)."""

    def __init__(self, cells: Mapping[str, Value], names: Mapping[str, Value] | None = None,
                 columns: Mapping[tuple[str, str], list[Value]] | None = None):
        self.cells, self.names, self.columns = cells, names or {}, columns or {}

    def get(self, key: str) -> Value:
        return self.cells.get(key)

    def name(self, name: str) -> Value:
        return self.names.get(name, REF)

    def column(self, table: str, key: str) -> list[Value]:
        return self.columns.get((table, key), [])
