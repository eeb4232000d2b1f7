"""Check that a district workbook still holds the formulas ssfr-xl wrote.

`ssfr-xl allocate` computes every allocation in Python from the workbook's inputs. The
workbook shows its own numbers, computed by its formulas; the two agree only while the
formulas are the ones the writer put there. Saved values alone cannot show that: a formula
edited in Excel keeps its old saved value until the file is recalculated, a blanked cell has
no value to compare, and a value typed over a formula may look right today. So the check
here is by content:

- every computed cell must hold the formula the writer produces for it (`computed_cells` in
  district_book.py, the same code that writes the workbook), compared after normalising what
  spreadsheet programs re-spell on saving: `$` anchors, sheet-name quotes, whitespace outside
  string literals, function-name case and the `_xlfn.` prefix, newer names of the same
  function (`STDEV.P` for `STDEVP`, gnumeric), and numbers spelled with more digits
  (`0.949999999999999999989` for 0.95, gnumeric);
- a computed cell holding a value, or nothing, where a formula belongs is a finding; so is a
  changed constant of the arithmetic (the 0 flag of a component);
- no other cell may hold a formula, except plain arithmetic such as `=1200*1.05` in an input
  cell (read_district evaluates that); array and data-table formulas are never expected;
- the defined names the formulas use must point where the writer pointed them;
- an error while checking is a finding too, never silence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .cells import arithmetic_formula
from .district_formulas import (
    APPENDED_ROWS,
    COMPONENT_NAMED_CELLS,
    computed_cells,
    rule_names,
    summary_descriptions,
)
from .indicators import indicator_list
from .layout import (
    LISTS,
    SCENARIO_RESULTS,
    SETTINGS,
    DistrictLayout,
    Table,
    cell_address,
)
from .layout import DistrictSheets as S
from .model import LEVELS, DistrictInputs

#: Findings shown in full by `ssfr-xl allocate`; the rest are counted.
SHOWN = 25

# --- normalising formula text ------------------------------------------------------------------

#: Functions a spreadsheet program may save under another name with the same meaning.
FUNCTION_ALIASES = {
    "STDEV.P": "STDEVP",
    "STDEV.S": "STDEV",
    "VAR.P": "VARP",
    "VAR.S": "VAR",
    "PERCENTILE.INC": "PERCENTILE",
    "QUARTILE.INC": "QUARTILE",
    "RANK.EQ": "RANK",
    "MODE.SNGL": "MODE",
    "COVARIANCE.P": "COVAR",
}
_LITERAL = re.compile(r'"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'')
_BARE_SHEET = re.compile(r"(?<![\w.'\"])([^\W\d][\w.]*)!")
_PREFIX = re.compile(r"_XL(?:FN|WS)\.")
_FUNCTION = re.compile(r"(?<![\w.])([A-Z][A-Z0-9]*(?:\.[A-Z0-9]+)+)(?=\()")
_NUMBER = re.compile(r"(?<![\w.:!])(?:\d+\.?\d*|\.\d+)(?:E[+-]?\d+)?(?![\w.(:!])")
_SPACE = re.compile(r"\s+")
_ONE_CELL_RANGE = re.compile(r"(?<![\w.])([A-Z]{1,3}(?:\d+|\x01)):\1(?![\w.])")
_KEPT_SPACE = re.compile(r"(?<=[\w)'\".]) (?=[\w('\".])")


def normalise_formula(text: str) -> str:
    """A formula's text with the differences that do not change its meaning removed.

    Two formulas normalise alike when Excel, LibreOffice and gnumeric evaluate them alike in
    the same cell: references compare without `$` and without regard to case or quoting of
    sheet names; string literals compare exactly.
    """
    text = text.strip()
    if text.startswith("="):
        text = text[1:]
    parts, pos = [], 0
    for m in _LITERAL.finditer(text):
        parts.append(_normalise_code(text[pos:m.start()]))
        literal = m.group(0)
        # a quoted sheet name: case and quotes do not matter; a string literal is exact
        parts.append(literal.upper() if literal.startswith("'") else literal)
        pos = m.end()
    parts.append(_normalise_code(text[pos:]))
    joined = "".join(parts)
    # whitespace matters only between two operands (the intersection operator)
    joined = _KEPT_SPACE.sub("\x00", joined)
    return joined.replace(" ", "").replace("\x00", " ")


def _normalise_code(code: str) -> str:
    code = code.replace("$", "").upper()
    code = _BARE_SHEET.sub(lambda m: f"'{m.group(1)}'!", code)
    code = _PREFIX.sub("", code)
    code = _FUNCTION.sub(lambda m: FUNCTION_ALIASES.get(m.group(1), m.group(1)), code)
    code = _NUMBER.sub(_number, code)
    code = _ONE_CELL_RANGE.sub(r"\1", code)  # P11:P11 is P11 (gnumeric writes it so)
    code = _LOGICAL_CALL.sub(r"\1", code)  # LibreOffice writes FALSE() for FALSE
    return _SPACE.sub(" ", code)


_LOGICAL_CALL = re.compile(r"\b(TRUE|FALSE)\(\s*\)")


def _number(m: re.Match[str]) -> str:
    try:
        return repr(float(m.group(0)))
    except (ValueError, OverflowError):
        return m.group(0)


def same_formula(expected: str, found: str) -> bool:
    """True when two formula texts have the same meaning (see normalise_formula)."""
    return expected == found or normalise_formula(expected) == normalise_formula(found)


_ROW_MARK = "\x01"  # never part of a formula's text


class _Comparer:
    """same_formula for thousands of rows of the same formulas, fast.

    A formula's own row number is replaced by a mark before normalising (J7 -> J\x01 on
    row 7), so every row of a column normalises once. The mark replaces only a row number
    that follows a column letter or `$`, both sides alike, and can be put back: two formulas
    whose marked forms normalise alike are the same formula up to normalisation.
    """

    def __init__(self) -> None:
        self._cache: dict[str, str] = {}
        self._patterns: dict[int, re.Pattern[str]] = {}

    def same(self, expected: str, found: str, row: int) -> bool:
        if expected == found:
            return True
        pattern = self._patterns.get(row)
        if pattern is None:
            pattern = self._patterns[row] = re.compile(rf"(?<=[A-Za-z$]){row}(?!\d)")
        return self._normal(pattern.sub(_ROW_MARK, expected)) == self._normal(
            pattern.sub(_ROW_MARK, found))

    def _normal(self, text: str) -> str:
        normal = self._cache.get(text)
        if normal is None:
            if len(self._cache) > 100_000:
                self._cache.clear()
            normal = self._cache[text] = normalise_formula(text)
        return normal


def shorten(text: str, limit: int = 90) -> str:
    """A long formula cut in the middle, so a report line stays readable."""
    if len(text) <= limit:
        return text
    keep = (limit - 3) // 2
    return f"{text[:keep]}...{text[-keep:]}"


# --- results -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class FormulaFinding:
    """One cell (or defined name) that does not hold what the writer put there."""

    where: str  # "Allocations!E7", or "defined name Base_Rate"
    what: str  # "BASE amount, 01999996000013 Lincoln Elementary"
    problem: str  # "formula changed", "formula replaced by a value", ...
    expected: str = ""
    found: str = ""

    def __str__(self) -> str:
        about = f" ({self.what})" if self.what else ""
        detail = ""
        if self.expected or self.found:
            detail = f": expected {shorten(self.expected)}, found {shorten(self.found)}"
        return f"{self.where}{about}: {self.problem}{detail}"


@dataclass
class FormulaCheck:
    """How the formulas saved in a district workbook compare with the writer's."""

    expected: int = 0  # formula and computed cells the writer puts in the workbook
    compared: int = 0  # of those, how many were read from the file and compared
    changed: int = 0  # compared cells that do not hold the writer's content
    findings: list[FormulaFinding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # what could not be checked, and why
    notes: list[str] = field(default_factory=list)  # what was not expected, and why

    @property
    def ok(self) -> bool:
        """Every expected cell compared, none changed, nothing else wrong."""
        return not self.findings and not self.errors and self.compared == self.expected


# --- what the workbook should hold -------------------------------------------------------------

@dataclass(frozen=True)
class _Expected:
    cells: dict[tuple[str, int, int], object]  # (sheet, row, col) -> "=formula" or number
    optional: dict[tuple[str, int, int], object]  # appended list rows: checked when present
    names: dict[str, tuple[str, str]]  # defined name -> (sheet, "A1:B2") without $
    inputs: list[tuple[str, int, int, int, int]]  # (sheet, min_row, max_row, min_col, max_col)


def _list_tables(layout: DistrictLayout) -> tuple[Table, ...]:
    return (layout.funds, layout.job_classes, layout.services, layout.objects, layout.goals,
            layout.indicators)


def expected_names(layout: DistrictLayout) -> dict[str, tuple[str, str]]:
    """Defined names the writer creates: name -> (sheet, address without $)."""
    names: dict[str, tuple[str, str]] = {}
    for col, (name, values) in enumerate(LISTS.items(), start=1):
        names[name] = (S.LISTS, f"{cell_address(4, col)}:{cell_address(3 + len(values), col)}")
    for f in SETTINGS.fields:
        names[f.name] = (SETTINGS.sheet, SETTINGS.cell(f.key))
    tables = (layout.spans, layout.components, layout.schools, layout.adjustments,
              *_list_tables(layout))
    for t in tables:
        if not t.rows:
            continue
        for c in t.columns:
            if c.name:
                names[c.name] = (t.sheet, t.range(c.key, absolute=False))
        if t.name:
            first, last = t.columns[0].key, t.columns[-1].key
            names[t.name] = (t.sheet, f"{t.letter(first)}{t.first_row}:"
                                      f"{t.letter(last)}{t.last_row}")
    spans, comps = layout.spans, layout.components
    for i in range(len(layout.policy.spans)):
        names[layout.span_weight_name(i)] = (S.POLICY, spans.cell("weight", i))
    for i, c in enumerate(layout.policy.components):
        for param, key in COMPONENT_NAMED_CELLS:
            names[layout.component_name(param, c)] = (S.POLICY, comps.cell(key, i))
        first, last = comps.cell("level_0", i), comps.cell(f"level_{len(LEVELS) - 1}", i)
        names[layout.component_name("Level", c)] = (S.POLICY, f"{first}:{last}")
    names.update(rule_names(layout))
    for t in (layout.scenario_choices, layout.scenario_catalog):
        if t.rows:
            names.update({c.name: (t.sheet, t.range(c.key, absolute=False))
                          for c in t.columns if c.name})
    names.update({f.name: (SCENARIO_RESULTS.sheet, SCENARIO_RESULTS.cell(f.key))
                  for f in SCENARIO_RESULTS.fields})
    return names


def input_areas(layout: DistrictLayout) -> list[tuple[str, int, int, int, int]]:
    """(sheet, min_row, max_row, min_col, max_col) of every input area, lists with the rows
    a budget officer may append below them."""
    areas = [(SETTINGS.sheet, SETTINGS.row(f.key), SETTINGS.row(f.key), SETTINGS.value_col,
              SETTINGS.value_col) for f in SETTINGS.fields if f.input]
    appendable = {id(t) for t in _list_tables(layout)}
    for t in (layout.spans, layout.components, layout.conditions, layout.bands, layout.schools,
              layout.adjustments, layout.scenario_choices, *_list_tables(layout)):
        last = t.last_row + (APPENDED_ROWS if id(t) in appendable else 0)
        for c in t.columns:
            if c.input:
                col = t.col(c.key)
                areas.append((t.sheet, t.first_row, last, col, col))
    return areas


def _expected(computed: list[tuple[str, int, int, object]], layout: DistrictLayout,
              file_names: dict[str, tuple[str, str]]) -> _Expected:
    cells = {(sheet, row, col): value for sheet, row, col, value in computed}
    optional: dict[tuple[str, int, int], object] = {}
    # Rows appended below a list are read as part of it (read_district); the formulas of such
    # rows are welcome but not required. The file's own name for the list says where it ends.
    for t in _list_tables(layout):
        file_last = _last_row(file_names.get(t.name))
        if file_last is None or file_last >= t.last_row:
            continue
        for key in list(cells):
            if key[0] == t.sheet and file_last < key[1] <= t.last_row:
                optional[key] = cells.pop(key)
    return _Expected(cells, optional, expected_names(layout), input_areas(layout))


def _last_row(dest: tuple[str, str] | None) -> int | None:
    if dest is None:
        return None
    m = re.search(r"(\d+)$", dest[1])
    return int(m.group(1)) if m else None


# --- reading the file --------------------------------------------------------------------------

@dataclass
class _SheetContent:
    formulas: dict[tuple[int, int], object]  # "=..." text, or ArrayFormula / DataTableFormula
    values: dict[tuple[int, int], object]  # every other non-empty cell
    local_names: dict[str, tuple[str, str]] = field(default_factory=dict)


def _read_file(path: Path, sheets: Iterable[str]
               ) -> tuple[dict[str, _SheetContent], dict[str, tuple[str, str]], dict[str, str]]:
    """Formulas and values of the workbook's sheets (as written, no saved results), its
    defined names, and the sheets that could not be read, with why."""
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=False)
    try:
        names = _names(wb.defined_names)
        content, unreadable = {}, {}
        for sheet in sheets:
            if sheet not in wb.sheetnames:
                continue
            ws = wb[sheet]
            try:
                content[sheet] = _read_sheet(ws)
            except Exception as e:  # a damaged sheet part: the check cannot see its cells
                unreadable[sheet] = f"{type(e).__name__}: {e}"
                continue
            # a name defined for one sheet only wins over the workbook's on that sheet
            local = getattr(ws, "defined_names", None) or {}
            content[sheet].local_names = _names(local)
        return content, names, unreadable
    finally:
        wb.close()


def _names(defined) -> dict[str, tuple[str, str]]:
    """Name -> (sheet, address without $), or ("", text) for a name that is no reference."""
    names = {}
    for name, dn in defined.items():
        try:
            dests = list(dn.destinations)
        except Exception:  # a name that is not a reference (a constant, a formula)
            dests = []
        names[name] = ((dests[0][0], dests[0][1].replace("$", ""))
                       if len(dests) == 1 else ("", str(dn.attr_text)))
    return names


def _read_sheet(ws) -> _SheetContent:
    ws.reset_dimensions()
    formulas: dict[tuple[int, int], object] = {}
    values: dict[tuple[int, int], object] = {}
    for row in ws.iter_rows():
        for cell in row:
            value = cell.value
            if value is None:
                continue
            if cell.data_type == "f":
                formulas[(cell.row, cell.column)] = value
            else:
                values[(cell.row, cell.column)] = value
    return _SheetContent(formulas, values)


# --- comparing ---------------------------------------------------------------------------------

def check_formulas(path: str | Path, inputs: DistrictInputs) -> FormulaCheck:
    """Compare every formula of the district workbook at `path` with what the writer puts
    there for these inputs (as read_district read them from the same file).

    Never raises: a failure while checking is reported in `errors`, and cells that could not
    be compared are missing from `compared`.
    """
    check = FormulaCheck()
    try:
        _check(Path(path), inputs, check)
    except Exception as e:  # anything unforeseen is a finding, never a silent pass
        check.errors.append(f"the formula check failed ({type(e).__name__}: {e})")
    return check


def _check(path: Path, inputs: DistrictInputs, check: FormulaCheck) -> None:
    layout = DistrictLayout.of(inputs)
    # count what is expected before reading, so an unreadable file still says how many
    cells = list(computed_cells(inputs, layout))
    check.expected = len(cells)
    try:
        content, file_names, unreadable = _read_file(path, S.ORDER)
    except Exception as e:
        check.errors.append(f"the file's formulas could not be read ({type(e).__name__}: {e})")
        return
    expected = _expected(cells, layout, file_names)
    scenario_sheets = (S.SCENARIOS, *S.SHADOWS.values())
    if not any(s in content or s in unreadable for s in scenario_sheets):
        # a workbook made before ssfr-xl wrote a Scenarios sheet: today's formulas are all
        # there is to check (the Scenarios sheet never changes an allocation)
        for table in (expected.cells, expected.optional):
            for key in [k for k in table if k[0] in scenario_sheets]:
                del table[key]
        for name in [n for n, (sheet, _ref) in expected.names.items()
                     if sheet in scenario_sheets]:
            del expected.names[name]
        check.notes.append("the workbook has no Scenarios sheet (it was made by an earlier "
                           "ssfr-xl); run ssfr-xl export and init again to add one")
    check.expected = len(expected.cells)
    describe = _Describer(layout, inputs)
    comparer = _Comparer()
    findings = check.findings

    missing_sheets: dict[str, int] = {}
    for key, want in expected.cells.items():
        sheet, row, col = key
        sheet_content = content.get(sheet)
        if sheet_content is None:
            missing_sheets[sheet] = missing_sheets.get(sheet, 0) + 1
            continue
        check.compared += 1
        problem = _compare(want, sheet_content, row, col, comparer)
        if problem is not None:
            check.changed += 1
            findings.append(_finding(sheet, row, col, describe, want, *problem))
    for sheet, count in missing_sheets.items():
        why = (f"could not be read ({unreadable[sheet]})" if sheet in unreadable
               else "is missing")
        check.errors.append(f"sheet {sheet} {why}, so its {count:,} formula cells were not "
                            "compared")
    check.errors += [f"sheet {sheet} could not be read ({why})"
                     for sheet, why in unreadable.items() if sheet not in missing_sheets]

    for key, want in expected.optional.items():
        sheet, row, col = key
        sheet_content = content.get(sheet)
        if sheet_content is None or (row, col) not in sheet_content.formulas:
            continue
        problem = _compare(want, sheet_content, row, col, comparer)
        if problem is not None:
            findings.append(_finding(sheet, row, col, describe, want, *problem))

    # formulas where the writer put none
    areas: dict[str, list[tuple[int, int, int, int]]] = {}
    for sheet, r0, r1, c0, c1 in expected.inputs:
        areas.setdefault(sheet, []).append((r0, r1, c0, c1))
    for sheet, sheet_content in content.items():
        for (row, col), formula in sheet_content.formulas.items():
            key = (sheet, row, col)
            if key in expected.cells or key in expected.optional:
                continue
            is_input = any(r0 <= row <= r1 and c0 <= col <= c1
                           for r0, r1, c0, c1 in areas.get(sheet, ()))
            text = _formula_text(formula)
            if is_input and isinstance(formula, str) and arithmetic_formula(text) is not None:
                continue  # plain arithmetic typed into an input: read_district evaluates it
            where = f"{sheet}!{cell_address(row, col)}"
            if is_input:
                problem = "a formula in an input cell (type the value instead)"
            else:
                problem = "a formula where the workbook has none"
            findings.append(FormulaFinding(where, describe(sheet, row, col), problem,
                                           "no formula", text))

    by_upper = {name.upper(): dest for name, dest in file_names.items()}  # names ignore case
    for name, (sheet, ref) in expected.names.items():
        found = file_names.get(name) or by_upper.get(name.upper())
        if found is None:
            findings.append(FormulaFinding(f"defined name {name}", "", "missing",
                                           f"{sheet}!{ref}", "no such name"))
            continue
        if found[0] == sheet and _same_ref(ref, found[1], appendable=_is_list_name(
                name, layout)):
            continue
        shown = f"{found[0]}!{found[1]}" if found[0] else found[1]
        findings.append(FormulaFinding(f"defined name {name}", "", "points elsewhere",
                                       f"{sheet}!{ref}", shown))
    wanted = {name.upper(): (name, dest) for name, dest in expected.names.items()}
    for on_sheet, sheet_content in content.items():
        for name, found in sheet_content.local_names.items():
            if name.upper() not in wanted:
                continue
            name, (sheet, ref) = wanted[name.upper()]
            shown = f"{found[0]}!{found[1]}" if found[0] else found[1]
            findings.append(FormulaFinding(
                f"defined name {name}", f"defined again for sheet {on_sheet} only",
                f"overrides the workbook's name in every formula of {on_sheet}",
                f"{sheet}!{ref}", shown))


def _formula_text(formula: object) -> str:
    text = getattr(formula, "text", None)  # ArrayFormula
    if isinstance(text, str):
        ref = getattr(formula, "ref", "")
        return f"{{{text}}} (array formula over {ref})"
    if isinstance(formula, str):
        return formula
    return f"{type(formula).__name__} {getattr(formula, 'ref', '')}".strip()  # data table


def _compare(want: object, content: _SheetContent, row: int, col: int, comparer: _Comparer
             ) -> tuple[str, str] | None:
    """(problem, found) when the cell does not hold `want`, else None."""
    formula = content.formulas.get((row, col))
    value = content.values.get((row, col))
    if isinstance(want, str):  # a formula
        if formula is None:
            if value is None or (isinstance(value, str) and not value.strip()):
                return "formula deleted (the cell is empty)", "an empty cell"
            return "formula replaced by a value", f"the value {value!r}"
        if not isinstance(formula, str):
            return "entered as an array or table formula", _formula_text(formula)
        if formula.strip() in ("", "="):
            return "formula emptied", repr(formula)
        if not comparer.same(want, formula, row):
            return "formula changed", formula
        return None
    # a number the writer puts in a computed cell
    if formula is not None:
        return "a formula where the workbook has a fixed value", _formula_text(formula)
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isclose(float(value), float(want), rel_tol=0, abs_tol=1e-12):  # type: ignore[arg-type]
        return "value changed", "an empty cell" if value is None else f"the value {value!r}"
    return None


def _finding(sheet: str, row: int, col: int, describe: _Describer, want: object,
             problem: str, found: str) -> FormulaFinding:
    expected = want if isinstance(want, str) else f"the value {want!r}"
    return FormulaFinding(f"{sheet}!{cell_address(row, col)}", describe(sheet, row, col),
                          problem, expected, found)


def _same_ref(expected: str, found: str, appendable: bool) -> bool:
    a, b = (_ONE_CELL_RANGE.sub(r"\1", ref.replace("$", "").upper())
            for ref in (expected, found))
    if a == b:
        return True
    if not appendable:
        return False
    # a list's range may end lower in the file than the rows read_district found
    start_a, _, end_a = a.partition(":")
    start_b, _, end_b = b.partition(":")
    letters = lambda ref: re.sub(r"\d", "", ref)  # noqa: E731
    return start_a == start_b and letters(end_a) == letters(end_b)


def _is_list_name(name: str, layout: DistrictLayout) -> bool:
    for t in _list_tables(layout):
        if name == t.name or any(c.name == name for c in t.columns):
            return True
    return False


class _Describer:
    """What a cell of the district workbook is, in words: 'BASE amount, 0199... Lincoln'."""

    def __init__(self, layout: DistrictLayout, inputs: DistrictInputs):
        self.layout, self.inputs = layout, inputs
        p = inputs.policy
        # a name read from a formula typed over it says nothing: the ID alone then
        school = [s.school_id if s.name.startswith("=") else f"{s.school_id} {s.name}"
                  for s in inputs.schools]
        self.tables: dict[str, list[tuple[Table, list[str]]]] = {}
        for t, labels in (
            (layout.schools, school), (layout.calculation, school),
            (layout.allocations, school),
            (layout.spans, [f"grade span {s.name}" for s in p.spans]),
            (layout.components, [f"component {c.code}" for c in p.components]),
            (layout.conditions, [f"condition {k + 1} of {c.code}"
                                 for c, k in layout.condition_list]),
            (layout.bands, [f"band {c.bands[k].label} of {c.code}" for c, k in layout.band_list]),
            (layout.adjustments, [f"adjustment line {i + 1}"
                                  for i in range(layout.adjustments.rows)]),
            (layout.job_classes, [f"job class {j.code}" for j in p.job_classes]),
            (layout.funds, [f"fund {f.code}" for f in p.funds]),
            (layout.services, [f"service {s.code}" for s in p.services]),
            (layout.objects, [f"object {o.code}" for o in p.objects]),
            (layout.goals, [f"goal {g.code}" for g in p.goals]),
            (layout.indicators, [f"indicator {i.code}" for i in indicator_list(p)]),
        ):
            self.tables.setdefault(t.sheet, []).append((t, labels))
        self.fields = {(SETTINGS.row(f.key), SETTINGS.value_col): f.label
                       for f in SETTINGS.fields}
        self.summary: dict[tuple[int, int], str] | None = None

    def __call__(self, sheet: str, row: int, col: int) -> str:
        if sheet == S.POLICY and (row, col) in self.fields:
            return self.fields[(row, col)]
        for t, labels in self.tables.get(sheet, ()):
            if t.first_row <= row <= t.last_row and t.first_col <= col < t.first_col + len(
                    t.columns):
                column = t.columns[col - t.first_col]
                header = column.header
                if sheet == S.ALLOCATIONS and column.key.startswith("amount_"):
                    header = f"{column.key.removeprefix('amount_')} amount"
                return f"{header}, {labels[row - t.first_row]}"
        marks = {self.layout.fund_row: "fund", self.layout.unrestricted_row: "unrestricted flag",
                 self.layout.counted_row: "in-budget flag"}
        if sheet == S.ALLOCATIONS and row in marks:
            t = self.layout.allocations
            if t.first_col <= col < t.first_col + len(t.columns):
                header = t.columns[col - t.first_col].header
                return f"{marks[row]} of {header}"
        if sheet == S.SUMMARY:
            if self.summary is None:
                self.summary = summary_descriptions(self.layout)
            return self.summary.get((row, col), "")
        return ""
