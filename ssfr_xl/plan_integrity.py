"""Is a returned plan still the workbook the district sent? Formulas, names, cells, lists.

A returned plan is trusted for the principal's inputs only, and only when everything the
workbook computes with is the template's: every formula cell holds the template's formula (by
content, however the file spells it), every defined name points where it did, no sheet-scoped
name shadows one, nothing is typed outside the plan's input cells, and the lists, FTE step and
allocation the formulas read are the district's of record. Then what Python evaluates from the
inputs is what the workbook shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl.utils.cell import coordinate_from_string

from .excel_expr import Value, XlError, as_text, is_number
from .formula_text import normalise
from .layout import SchoolLayout, Table, cell_address
from .layout import SchoolSheets as SS
from .model import Finding
from .money import format_money
from .plan import LIST_TABLES, Lists, file_lists, file_names, record_lists
from .reader import escaped_texts

#: Sheets whose every non-empty cell must be the template's or an input.
LINE_SHEETS = (SS.STAFFING, SS.SERVICES, SS.OTHER, SS.GOALS, SS.SUMMARY)


class Findings:
    """Collects findings for one file."""

    def __init__(self, file: Path, school_id: str = ""):
        self.file, self.school_id, self.items = file, school_id, []

    def add(self, severity: str, code: str, sheet: str, cell: str, message: str) -> None:
        self.items.append(Finding(self.file.name, self.school_id, sheet, cell, severity, code,
                                  message))

    def error(self, code: str, sheet: str, cell: str, message: str) -> None:
        self.add("error", code, sheet, cell, message)

    def warning(self, code: str, sheet: str, cell: str, message: str) -> None:
        self.add("warning", code, sheet, cell, message)


def _ref(text: str) -> str:
    """A defined name's target in one spelling ('Lists'!$A$4:$A$9 -> LISTS!A4:A9)."""
    return normalise("=" + text.strip().lstrip("="))


@dataclass(frozen=True)
class PlanTemplate:
    """What every plan of a district holds apart from its inputs (from the built template)."""

    formulas: dict[str, dict[str, str]]  # sheet -> address -> formula as written, no "="
    cells: dict[str, frozenset[str]]  # LINE_SHEETS: addresses the template fills
    inputs: dict[str, frozenset[str]]  # sheet -> addresses of input cells
    names: dict[str, str]  # workbook-scoped defined name -> normalised target
    # sheet -> its formulas as a file stores them (cells, texts), for FormulaTexts.spelled_as
    stored: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)

    @classmethod
    def of(cls, wb, layout: SchoolLayout) -> PlanTemplate:
        """From a plan workbook built by school_book (openpyxl, in memory)."""
        formulas: dict[str, dict[str, str]] = {}
        cells: dict[str, frozenset[str]] = {}
        for ws in wb.worksheets:
            formulas[ws.title] = {c.coordinate: c.value.removeprefix("=")
                                  for row in ws.iter_rows() for c in row if c.data_type == "f"}
            if ws.title in LINE_SHEETS:
                cells[ws.title] = frozenset(c.coordinate for row in ws.iter_rows() for c in row
                                            if c.value is not None)
        inputs: dict[str, set[str]] = {}
        for t in (layout.staffing, layout.services, layout.other, layout.goals):
            for c in t.columns:
                if c.input:
                    inputs.setdefault(t.sheet, set()).update(
                        t.cell(c.key, i) for i in range(t.rows))
        for f in ("prepared_by", "council_date"):
            from .layout import START_FIELDS

            inputs.setdefault(SS.START, set()).add(START_FIELDS.cell(f))
        names = {name: _ref(dn.attr_text) for name, dn in wb.defined_names.items()}
        stored = {sheet: escaped_texts(texts) for sheet, texts in formulas.items()}
        return cls(formulas, cells, {k: frozenset(v) for k, v in inputs.items()}, names, stored)


def _coord_key(coord: str) -> tuple[int, str]:
    letters, row = coordinate_from_string(coord)
    return row, letters.rjust(3)


def _listing(cells: list[str], limit: int = 8) -> str:
    shown = ", ".join(cells[:limit])
    return shown + (f" and {len(cells) - limit} more" if len(cells) > limit else "")


def check_names(raw, template: PlanTemplate, f: Findings) -> bool:
    """Defined names must point where the template's do; no sheet-scoped name may shadow one.

    The formulas read the lists, the FTE step and the allocation through names: a name moved
    to another cell would change every total while the formulas stay the same text.
    """
    ok = True
    given = {name.casefold(): text for name, text in raw.defined_names.items()}
    changed = []
    for name, target in template.names.items():
        text = given.get(name.casefold())
        if text is None or _ref(text) != target:
            changed.append(name)
    if changed:
        ok = False
        inputs = [n for n in changed if n.split("_")[0] in ("Staffing", "Services", "Other",
                                                           "Goals")]
        code = "rows-inserted" if inputs else "names-changed"
        f.error(code, "", "",
                f"The workbook's named areas were changed ({_listing(changed, 5)}): rows or "
                "columns were inserted or deleted, or a name was redefined, so its totals no "
                "longer add up what the district sent. Copy your entries into a fresh plan "
                "workbook and send it again.")
    wanted = {n.casefold() for n in template.names}
    for sheet, names in getattr(raw, "local_names", {}).items():
        shadows = sorted(n for n in names if n.casefold() in wanted)
        if shadows:
            ok = False
            f.error("names-changed", sheet, "",
                    f"Sheet {sheet} defines its own {_listing(shadows, 5)}, which changes what "
                    "the plan's formulas read. Use a fresh plan workbook and send it again.")
    return ok


def _same_formula(given: str, written: str) -> bool:
    """Whether a cell's formula is the one written, however a spreadsheet program re-spelled
    it (quotes, "$", case, spaces, _xlfn.); the usual case, the very same text, is cheap."""
    return given == written or normalise(given) == normalise(written)


def check_formulas(raw, template: PlanTemplate, f: Findings) -> None:
    """Every formula cell holds the template's formula; no formula anywhere else."""
    texts: Mapping[str, Mapping[str, str]] | None = getattr(raw, "formula_text", None)
    for sheet, expected in template.formulas.items():
        present = raw.formulas.get(sheet)
        if present is None:
            continue
        given = texts.get(sheet, {}) if texts is not None else None
        spelled_as = getattr(given, "spelled_as", None)
        if spelled_as is not None and present == expected.keys() and \
                spelled_as(*template.stored[sheet]):
            continue  # the usual case: the very formulas written, byte for byte
        missing = sorted((c for c in expected if c not in present), key=_coord_key)
        if missing:
            f.error("formula-overwritten", sheet, missing[0],
                    f"{len(missing)} calculated cell(s) on {sheet} were typed over or cleared "
                    f"({_listing(missing)}). Those cells must keep their formulas: copy your "
                    "entries into a fresh plan workbook, or undo the change, and send it again.")
        if given is not None:
            # a cell inside another cell's array formula has no text of its own: changed
            changed = sorted((c for c, text in expected.items()
                              if c in present and not _same_formula(given.get(c, ""), text)),
                             key=_coord_key)
            if changed:
                f.error("formula-changed", sheet, changed[0],
                        f"{len(changed)} formula(s) on {sheet} are not the plan's own "
                        f"({_listing(changed)}); they would not add up what the district "
                        "counts. Undo the change or copy your entries into a fresh plan "
                        "workbook, and send it again.")
        inputs = template.inputs.get(sheet, frozenset())
        extra = sorted((c for c in present if c not in expected), key=_coord_key)
        typed = [c for c in extra if c in inputs]
        for c in typed:
            f.error("formula-in-input", sheet, c,
                    f"{sheet}!{c} holds a formula. Type the value itself (a number, code or "
                    "text) so the district can check it.")
        added = [c for c in extra if c not in inputs]
        if added:
            f.error("formula-added", sheet, added[0],
                    f"{sheet} has formulas the plan does not have ({_listing(added)}). Delete "
                    "them (or use a fresh plan workbook) and send the plan again.")


def check_outside(raw, template: PlanTemplate, f: Findings) -> None:
    """Cells filled outside the plan's lines and labels are never counted: say so."""
    for sheet in LINE_SHEETS:
        rows = raw.values.get(sheet)
        if rows is None:
            continue
        allowed = template.cells.get(sheet, frozenset()) | template.inputs.get(sheet,
                                                                               frozenset())
        stray = []
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if value is None or value == "":
                    continue
                address = cell_address(r, c)
                if address not in allowed:
                    stray.append(address)
        if stray:
            f.error("outside-plan-area", sheet, stray[0],
                    f"{sheet} has entries outside the plan's lines ({_listing(stray)}); the "
                    "plan's totals do not count them. Move them into the yellow lines (use "
                    "another line) or clear those cells, and send the plan again.")


def _same(a: Value, b: Value) -> bool:
    if is_number(a) and is_number(b):
        return abs(a - b) <= 1e-9 * max(1.0, abs(b))
    if isinstance(a, XlError) or isinstance(b, XlError):
        return False
    return (a if a is not None else "") == (b if b is not None else "") and \
        type(a if a is not None else "") is type(b if b is not None else "")


@dataclass(frozen=True)
class ListChange:
    """A cell of the Lists sheet (or the FTE step) that is not the district's of record."""

    sheet: str
    cell: str
    what: str
    file: Value
    record: Value

    def __str__(self) -> str:
        def show(v: Value) -> str:
            if is_number(v) and self.what.endswith(("salary", "price")):
                return format_money(v)
            return "blank" if v is None else repr(as_text(v))[:40]
        return f"{self.what} ({self.sheet}!{self.cell}): file {show(self.file)}, district " \
               f"{show(self.record)}"


def list_changes(grid, layout: SchoolLayout, lists: Lists | None = None
                 ) -> tuple[list[ListChange], Lists, dict[str, Value]]:
    """Cells of the lists and the FTE step that differ from the record, with the file's lists
    and names (to evaluate the plan as the file computes it)."""
    record = record_lists(layout) if lists is None else lists
    found = file_lists(grid, layout)
    changes = []
    for table in LIST_TABLES:
        t: Table = getattr(layout, table)
        codes = record[(table, "code")]
        for (tname, key), values in found.items():
            if tname != table:
                continue
            header = t.column(key).header
            for i, (a, b) in enumerate(zip(values, record[(table, key)], strict=True)):
                if not _same(a, b):
                    code = as_text(codes[i]) if i < len(codes) else ""
                    changes.append(ListChange(t.sheet, t.cell(key, i),
                                              f"{header} of {code}".strip(), a, b))
    names = file_names(grid, layout)
    step = names["FTE_Step"]
    if not _same(step, float(layout.policy.fte_step)):
        changes.append(ListChange(layout.jobs.sheet, layout.fte_step_cell, "FTE step", step,
                                  float(layout.policy.fte_step)))
    return changes, found, names


def changed_allocations(names: Mapping[str, Value], layout: SchoolLayout,
                        allocation: Mapping[str, float]) -> list[tuple[int, str, Value, float]]:
    """Funds whose allocation cell in the file is not the district's: (index, code, file,
    record)."""
    out = []
    for i, fund in enumerate(layout.policy.funds):
        value = names[layout.allocation_total_name(fund.code)]
        given = allocation.get(fund.code, 0.0)
        if not (is_number(value) and abs(value - given) < 0.005):
            out.append((i, fund.code, value, given))
    return out


def identity_cells(grid, wanted: Iterable[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """(label, cell, shown) of Start Here identity fields that differ from `wanted` values
    given as (label, cell address, value)."""
    out = []
    rows = grid.get(SS.START, [])
    for label, address, value in wanted:
        letters, row = coordinate_from_string(address)
        from openpyxl.utils import column_index_from_string

        col = column_index_from_string(letters)
        shown = rows[row - 1][col - 1] if row - 1 < len(rows) and col - 1 < len(
            rows[row - 1]) else None
        if as_text(shown if shown != "" else None) != value:
            out.append((label, address, as_text(shown)))
    return out


__all__ = ["Findings", "ListChange", "PlanTemplate", "changed_allocations", "check_formulas",
           "check_names", "check_outside", "identity_cells", "list_changes"]
