"""Mutated filled school plans: every way a returned plan can differ from what the district sent.

    build_sample(root)                       a 20-school sample district and a valid, filled
                                             (demo) plan per school
    make_mutants(sample, out, count, seed)   `count` mutants written to `out`: [Mutant]
    CLASSES                                  every mutation class, by name

Each mutant starts from a valid filled plan (the district's workbook, filled in as a careful
principal would, which validates as accepted and shows "Balanced") and changes it in one way a
careless or hostile sender could: a code typed with a non-breaking space, a number stored as
text, a changed formula, a second <c> record for a cell in the sheet XML, a worksheet part in
UTF-16, a defined name pointing elsewhere, and so on (CLASSES lists them all; the first
len(CLASSES) mutants are one of each, in order, the rest are drawn by weight). Mutant i belongs
to school i mod 20, so any 20 consecutive mutants are 20 different schools.

Generation is deterministic: mutant i of a seed is the same file on every run (its own
random.Random(f"{seed}-{i}")), whatever the count. `python -m tests.mutants OUT [COUNT]`
writes a corpus to look at.

Two ways of editing, as files really arrive:
  - openpyxl, on the plan workbook in memory before it is saved (what a script or a program
    that rewrites the whole file does): dates, formulas, inserted rows;
  - the saved zip itself (what a hand edit or another program leaves): cell records rewritten
    in the sheet XML, defined names, calcPr, encodings, shared and array formulas.

`Mutant.expect` says what validate must conclude about that mutant by itself: ACCEPTED
(accepted, possibly with warnings), REJECTED (at least one error), FLAGGED (at least one
finding, error or warning), a set of codes (rejected, with an error of one of those codes), or
None (no expectation of its own: only the differential test's oracle, the spreadsheet engines,
decides).
"""

from __future__ import annotations

import datetime as dt
import io
import random
import re
import sys
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from ssfr_xl.layout import START_FIELDS, SchoolLayout, Table
from ssfr_xl.layout import SchoolSheets as SS
from ssfr_xl.model import Policy
from ssfr_xl.plan_math import plan_formulas
from ssfr_xl.school_book import SchoolPlanSpec, build_school_plan, file_name, plan_specs
from ssfr_xl.season import create_district
from ssfr_xl.sources.demo import DemoPlan, demo_plan, fill_plan_workbook
from ssfr_xl.validate import DistrictRecord, district_record
from ssfr_xl.xlsx import save_atomically
from tests.helpers import sheet_parts

SEED = 20261123
SCHOOLS = 20

ACCEPTED, REJECTED, FLAGGED = "accepted", "rejected", "flagged"
Expect = str | frozenset[str] | None

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"
X14_NS = "http://schemas.microsoft.com/office/spreadsheetml/2009/9/main"


# --- the sample district ------------------------------------------------------------------

@dataclass
class Sample:
    """A sample district with one valid filled plan per school."""

    root: Path
    district: Path
    record: DistrictRecord
    specs: dict[str, SchoolPlanSpec]  # school id -> spec
    demo: dict[str, DemoPlan]  # school id -> what the principal typed
    plans: dict[str, Path]  # school id -> the valid filled plan, as saved

    @property
    def policy(self) -> Policy:
        """The district's policy."""
        return self.record.policy

    @property
    def layout(self) -> SchoolLayout:
        """Where things are in the district's plans."""
        return self.record.layout

    @property
    def school_ids(self) -> list[str]:
        """School ids in district order."""
        return list(self.specs)


def build_sample(root: Path, schools: int = SCHOOLS) -> Sample:
    """Create the sample district under `root` and a valid filled plan for every school."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    district = root / "district.xlsx"
    create_district(district, sample=schools, force=True)
    record = district_record(district)
    plans_dir = root / "valid"
    plans_dir.mkdir(exist_ok=True)
    specs, demo, plans = {}, {}, {}
    for spec in plan_specs(record.result):
        sid = spec.school.school_id
        specs[sid], demo[sid] = spec, demo_plan(spec)
        plans[sid] = plans_dir / file_name(spec.school)
        save_atomically(filled_workbook(spec, demo[sid]), plans[sid])
    return Sample(root, district, record, specs, demo, plans)


def filled_workbook(spec: SchoolPlanSpec, plan: DemoPlan) -> Workbook:
    """The school's plan workbook, filled in, in memory."""
    wb = build_school_plan(spec)
    fill_plan_workbook(wb, spec.policy, plan)
    return wb


# --- mutants ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mutant:
    """One mutated plan file."""

    index: int
    klass: str  # the mutation class (CLASSES)
    school_id: str  # the school whose plan it was made from
    path: Path
    detail: str  # what was changed, cell by cell
    expect: Expect = None

    @property
    def name(self) -> str:
        """The file's stem: school id, number and class."""
        return self.path.stem


class Formula(str):
    """A formula to write into a cell (text without the leading '=')."""


class XlErr(str):
    """An error value to store in a cell (t="e")."""


class RawCell(bytes):
    """Raw XML that replaces a cell's <c> record (may hold several records, or wrappers)."""


@dataclass
class Maker:
    """What one mutation works with: the school's plan and a place to put its edits."""

    sample: Sample
    school_id: str
    rng: random.Random
    _wb: Workbook | None = None
    _ops: list[tuple[str, object, object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    # context
    @property
    def spec(self) -> SchoolPlanSpec:
        return self.sample.specs[self.school_id]

    @property
    def plan(self) -> DemoPlan:
        return self.sample.demo[self.school_id]

    @property
    def layout(self) -> SchoolLayout:
        return self.sample.layout

    @property
    def policy(self) -> Policy:
        return self.sample.policy

    def note(self, text: str) -> None:
        """Say what was changed (becomes Mutant.detail)."""
        self.notes.append(text)

    # the lines as typed
    def filled(self, table: str) -> list[int]:
        """0-based indexes of the lines the valid plan fills in a table (a demo plan may hold
        more positions or purchases than the table has lines: the workbook has only those)."""
        if table == "staffing":
            return list(range(min(len(self.plan.positions), self.layout.staffing.rows)))
        if table == "services":
            menu = self.layout.menu_services
            return [i for i, s in enumerate(menu) if s.code in self.plan.services]
        if table == "other":
            return list(range(min(len(self.plan.other), self.layout.other.rows)))
        if table == "goals":
            return [i for i, g in enumerate(self.policy.goals) if g.code in self.plan.goals]
        raise KeyError(table)

    def empty(self, table: str) -> list[int]:
        """0-based indexes of lines the valid plan leaves blank (services: the extra lines)."""
        t = self.table(table)
        if table == "services":
            return list(range(self.layout.menu_rows, t.rows))
        used = set(self.filled(table))
        return [i for i in range(t.rows) if i not in used]

    def value(self, table: str, key: str, index: int) -> object:
        """What the valid plan holds in an input cell (None when blank)."""
        if table == "staffing":
            if index >= min(len(self.plan.positions), self.layout.staffing.rows):
                return None
            code, fte, fund, goal, note = self.plan.positions[index]
            return {"job_class": code, "fte": fte, "fund": fund, "goal": goal,
                    "note": note or None}[key]
        if table == "services":
            code = self.layout.menu_services[index].code if index < self.layout.menu_rows \
                else None
            if key == "service":
                return code
            if code not in self.plan.services:
                return None
            quantity, fund, goal = self.plan.services[code]
            return {"quantity": quantity, "fund": fund, "goal": goal}[key]
        if table == "other":
            if index >= min(len(self.plan.other), self.layout.other.rows):
                return None
            obj, fund, goal, what, amount = self.plan.other[index]
            return {"object": obj, "fund": fund, "goal": goal, "description": what,
                    "amount": amount}[key]
        if table == "goals":
            goal = self.policy.goals[index].code
            if goal not in self.plan.goals:
                return None
            school_goal, strategy, measure = self.plan.goals[goal]
            indicator, baseline, target = self.plan.measures.get(goal, (None, None, None))
            return {"school_goal": school_goal, "strategy": strategy, "measure": measure,
                    "indicator": indicator, "baseline": baseline, "target": target}[key]
        raise KeyError(table)

    def table(self, name: str) -> Table:
        return getattr(self.layout, name)

    def cell(self, table: str, key: str, index: int) -> tuple[str, str]:
        """(sheet, address) of a table cell."""
        t = self.table(table)
        return t.sheet, t.cell(key, index)

    def pick(self, table: str) -> int:
        """A random filled line of a table."""
        return self.rng.choice(self.filled(table))

    # editing
    def wb(self) -> Workbook:
        """The plan workbook in memory (openpyxl), for edits made before it is saved."""
        if self._wb is None:
            self._wb = filled_workbook(self.spec, self.plan)
        return self._wb

    def set(self, sheet: str, address: str, value: object, say: bool = True) -> None:
        """Rewrite one cell record in the saved sheet XML (keeping its style).

        None empties the cell; bool, int/float and str are stored as such (a str is always
        text, even "=1/2"); Formula("...") is a formula; XlErr("#N/A") an error value;
        RawCell(b"...") replaces the whole record ({r} and {s} are filled in).
        """
        self._ops.append(("cell", (sheet, address), value))
        if say:
            self.note(f"{sheet}!{address} = {_show(value)}")

    def put(self, table: str, key: str, index: int, value: object, say: bool = True) -> None:
        """`set` on a table cell."""
        sheet, address = self.cell(table, key, index)
        if say:
            self.note(f"{sheet}!{address} ({key} of line {index + 1}) "
                      f"{_show(self.value(table, key, index))} -> {_show(value)}")
        self.set(sheet, address, value, say=False)

    def edit_part(self, part: str, edit: Callable[[bytes], bytes]) -> None:
        """Rewrite a zip part ("xl/workbook.xml", or "sheet:<name>" for a worksheet)."""
        self._ops.append(("part", part, edit))

    def write(self, dst: Path) -> None:
        """Save the mutant: the workbook (as edited in memory), then the zip-level edits."""
        if self._wb is not None:
            save_atomically(self._wb, dst)
            data = dst.read_bytes()
        else:
            data = self.sample.plans[self.school_id].read_bytes()
        if self._ops:
            data = _apply(data, self._ops)
        dst.write_bytes(data)


def _show(value: object) -> str:
    if isinstance(value, Formula):
        return f"formula ={value}"
    if isinstance(value, XlErr):
        return f"error {value}"
    if isinstance(value, RawCell):
        return f"XML {bytes(value)[:160].decode('utf-8', 'replace')}"
    return repr(value)


# --- zip and sheet XML surgery ------------------------------------------------------------

_ROW = re.compile(rb'<row r="(\d+)"[^>]*?(?:/>|>.*?</row>)', re.S)
_CELL = re.compile(rb'<c r="([A-Z]+)(\d+)"([^>]*?)(?:/>|>.*?</c>)', re.S)
_STYLE = re.compile(rb'\ss="(\d+)"')


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def _split(address: str) -> tuple[str, int]:
    m = re.fullmatch(r"([A-Z]+)(\d+)", address)
    if m is None:
        raise ValueError(f"not a cell address: {address!r}")
    return m[1], int(m[2])


def cell_record(address: str, value: object, style: bytes = b"") -> bytes:
    """The <c> record for a value (see Maker.set)."""
    r = address.encode()
    s = b' s="' + style + b'"' if style else b""
    if isinstance(value, RawCell):
        return bytes(value).replace(b"{r}", r).replace(b"{s}", s)
    if value is None:
        return b'<c r="' + r + b'"' + s + b"/>"
    if isinstance(value, Formula):
        return b'<c r="' + r + b'"' + s + b"><f>" + escape(str(value)).encode() + b"</f></c>"
    if isinstance(value, XlErr):
        return (b'<c r="' + r + b'"' + s + b' t="e"><v>' + escape(str(value)).encode()
                + b"</v></c>")
    if isinstance(value, bool):
        return b'<c r="' + r + b'"' + s + b' t="b"><v>' + (b"1" if value else b"0") + b"</v></c>"
    if isinstance(value, int | float):
        return b'<c r="' + r + b'"' + s + b' t="n"><v>' + repr(value).encode() + b"</v></c>"
    return (b'<c r="' + r + b'"' + s + b' t="inlineStr"><is><t xml:space="preserve">'
            + escape(str(value)).encode() + b"</t></is></c>")


def set_cell(xml: bytes, address: str, value: object) -> bytes:
    """Sheet XML with one cell record replaced or inserted in row and column order."""
    letters, row = _split(address)
    for rm in _ROW.finditer(xml):
        if int(rm[1]) != row:
            continue
        row_xml = rm[0]
        for cm in _CELL.finditer(row_xml):
            if cm[1].decode() == letters and int(cm[2]) == row:
                style = _STYLE.search(cm[3])
                new = cell_record(address, value, style[1] if style else b"")
                row_xml = row_xml[:cm.start()] + new + row_xml[cm.end():]
                break
        else:
            new = cell_record(address, value)
            if row_xml.endswith(b"/>"):
                row_xml = row_xml[:-2] + b">" + new + b"</row>"
            else:
                at = next((cm.start() for cm in _CELL.finditer(row_xml)
                           if _column_number(cm[1].decode()) > _column_number(letters)),
                          len(row_xml) - len(b"</row>"))
                row_xml = row_xml[:at] + new + row_xml[at:]
        return xml[:rm.start()] + row_xml + xml[rm.end():]
    new_row = b'<row r="' + str(row).encode() + b'">' + cell_record(address, value) + b"</row>"
    at = next((rm.start() for rm in _ROW.finditer(xml) if int(rm[1]) > row), None)
    if at is None:
        if b"<sheetData/>" in xml:
            return xml.replace(b"<sheetData/>", b"<sheetData>" + new_row + b"</sheetData>", 1)
        at = xml.index(b"</sheetData>")
    return xml[:at] + new_row + xml[at:]


def get_cell(xml: bytes, address: str) -> bytes | None:
    """The <c> record of a cell in sheet XML, or None."""
    letters, row = _split(address)
    for rm in _ROW.finditer(xml):
        if int(rm[1]) == row:
            for cm in _CELL.finditer(rm[0]):
                if cm[1].decode() == letters and int(cm[2]) == row:
                    return cm[0]
    return None


def _apply(data: bytes, ops: list[tuple[str, object, object]]) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    parts = sheet_parts(src)
    changed: dict[str, bytes] = {}

    def body(name: str) -> bytes:
        return changed[name] if name in changed else src.read(name)

    for kind, where, what in ops:
        if kind == "cell":
            sheet, address = where  # type: ignore[misc]
            part = parts[sheet]
            changed[part] = set_cell(body(part), address, what)
        else:
            part = str(where)
            if part.startswith("sheet:"):
                part = parts[part[len("sheet:"):]]
            changed[part] = what(body(part))  # type: ignore[operator]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, changed.get(info.filename, src.read(info.filename)),
                         compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def with_prefix(xml: bytes, prefix: bytes = b"x") -> bytes:
    """Sheet XML with the main namespace bound to a prefix (<x:c>, <x:f>) instead of the
    default namespace: the same document to any namespace-aware reader."""
    xml = xml.replace(f'xmlns="{MAIN_NS}"'.encode(), b"xmlns:" + prefix + f'="{MAIN_NS}"'.encode(),
                      1)
    return re.sub(rb"<(/?)([A-Za-z][\w.-]*)(?=[\s/>])",
                  lambda m: b"<" + m[1] + prefix + b":" + m[2], xml)


# --- code look-alikes ---------------------------------------------------------------------

CYRILLIC = {"A": "\u0410", "B": "\u0412", "C": "\u0421", "E": "\u0415", "H": "\u041d",
            "K": "\u041a", "M": "\u041c", "O": "\u041e", "P": "\u0420", "T": "\u0422",
            "X": "\u0425", "I": "\u0406", "S": "\u0405"}

#: (table, column) of every code cell, and the finding for a code not in its list.
CODE_CELLS = {
    ("staffing", "job_class"): "unknown-job-class", ("staffing", "fund"): "unknown-fund",
    ("staffing", "goal"): "unknown-goal", ("services", "fund"): "unknown-fund",
    ("services", "goal"): "unknown-goal", ("services", "service"): "unknown-service",
    ("other", "object"): "unknown-object", ("other", "fund"): "unknown-fund",
    ("other", "goal"): "unknown-goal",
}
NUMBER_CELLS = (("staffing", "fte"), ("services", "quantity"), ("other", "amount"))
UNKNOWN = frozenset(CODE_CELLS.values())


def _code_edit(m: Maker, change: Callable[[str], str | None], what: str) -> Expect:
    """Change one code cell of a filled line; the class's finding is unknown-<kind>."""
    cells = list(CODE_CELLS)
    m.rng.shuffle(cells)
    for table, key in cells:
        lines = m.filled(table)
        m.rng.shuffle(lines)
        for i in lines:
            code = m.value(table, key, i)
            if not isinstance(code, str):
                continue
            new = change(code)
            if new is not None and new != code:
                m.put(table, key, i, new)
                m.note(what)
                return frozenset({CODE_CELLS[(table, key)]})
    raise AssertionError(f"no code cell to change ({what})")


def code_leading_space(m: Maker) -> Expect:
    return _code_edit(m, lambda c: " " + c, "leading space")


def code_trailing_space(m: Maker) -> Expect:
    return _code_edit(m, lambda c: c + " ", "trailing space")


def code_nbsp(m: Maker) -> Expect:
    where = m.rng.choice(("end", "start"))
    return _code_edit(m, lambda c: c + "\u00a0" if where == "end" else "\u00a0" + c,
                      f"non-breaking space at the {where}")


def code_zero_width(m: Maker) -> Expect:
    return _code_edit(m, lambda c: c[:1] + "\u200b" + c[1:], "zero-width space after 1st char")


def code_cyrillic(m: Maker) -> Expect:
    def swap(code: str) -> str | None:
        at = [i for i, ch in enumerate(code) if ch in CYRILLIC]
        if not at:
            return None
        i = m.rng.choice(at)
        return code[:i] + CYRILLIC[code[i]] + code[i + 1:]
    return _code_edit(m, swap, "a Cyrillic look-alike letter")


def code_case(m: Maker) -> Expect:
    def other_case(code: str) -> str | None:
        low = code.lower()
        if low == code:
            return None
        return low if m.rng.random() < 0.6 else code[:1] + low[1:]
    return _code_edit(m, other_case, "another case")


def code_wildcard(m: Maker) -> Expect:
    def wild(code: str) -> str | None:
        return m.rng.choice((code[:1] + "*", "?" + code[1:], "*")) if len(code) > 1 else None
    return _code_edit(m, wild, "a MATCH wildcard")


def code_number(m: Maker) -> Expect:
    """An object code typed as the number 4300 instead of the text "4300"."""
    i = m.pick("other")
    code = m.value("other", "object", i)
    m.put("other", "object", i, int(str(code)))
    return None


# --- numbers and other types in input cells -----------------------------------------------

def _number_cell(m: Maker, tables: Iterable[tuple[str, str]] = NUMBER_CELLS
                 ) -> tuple[str, str, int]:
    choices = [(t, k) for t, k in tables if m.filled(t)]
    table, key = m.rng.choice(choices)
    return table, key, m.pick(table)


def number_as_text(m: Maker) -> Expect:
    table, key, i = _number_cell(m)
    v = m.value(table, key, i)
    text = m.rng.choice((f"{v:g}", f"{v}", f" {v:g}", f"{v:,.2f}"))
    m.put(table, key, i, text)
    return frozenset({"not-a-number"})


def text_formula_in_number(m: Maker) -> Expect:
    table, key, i = _number_cell(m)
    m.put(table, key, i, m.rng.choice(("=1/2", "=0.5", "=D7*2", "=SUM(1,2)")))
    return frozenset({"not-a-number"})


def boolean_input(m: Maker) -> Expect:
    if m.rng.random() < 0.6:
        table, key, i = _number_cell(m)
        m.put(table, key, i, m.rng.choice((True, False)))
        return frozenset({"true-false-value"})
    table, key = m.rng.choice([c for c in CODE_CELLS if m.filled(c[0])])
    i = m.pick(table)
    m.put(table, key, i, m.rng.choice((True, False)))
    return frozenset({CODE_CELLS[(table, key)]})


def date_input(m: Maker) -> Expect:
    """A date typed in a cell (openpyxl stores it as a serial number with a date format)."""
    wb = m.wb()
    when = dt.datetime(2026, m.rng.randint(1, 12), m.rng.randint(1, 28))
    if m.rng.random() < 0.7:
        table, key, i = _number_cell(m)
        expect: Expect = None
    else:
        table, key = m.rng.choice([c for c in CODE_CELLS if m.filled(c[0])])
        i = m.pick(table)
        expect = frozenset({CODE_CELLS[(table, key)]})
    sheet, address = m.cell(table, key, i)
    wb[sheet][address].value = when
    m.note(f"{sheet}!{address} = date {when:%Y-%m-%d} (openpyxl)")
    return expect


def error_input(m: Maker) -> Expect:
    cells = [*NUMBER_CELLS, *CODE_CELLS]
    table, key = m.rng.choice([c for c in cells if m.filled(c[0])])
    m.put(table, key, m.pick(table), XlErr(m.rng.choice(("#N/A", "#DIV/0!", "#VALUE!", "#REF!",
                                                         "#NAME?", "#NUM!", "#NULL!"))))
    return REJECTED


def huge_number(m: Maker) -> Expect:
    table, key, i = _number_cell(m)
    m.put(table, key, i, m.rng.choice((1e300, 1.7976931348623157e308, 1e20, 9.99e15)))
    return REJECTED


def tiny_number(m: Maker) -> Expect:
    table, key, i = _number_cell(m)
    m.put(table, key, i, m.rng.choice((1e-300, 5e-324, 1e-9, 2.2250738585072014e-308)))
    return None


def fte_off_step(m: Maker) -> Expect:
    i = m.pick("staffing")
    step = m.policy.fte_step
    m.put("staffing", "fte", i, m.rng.choice((0.33, 0.25, 0.05, 0.99, round(3 * step + step / 3,
                                                                             6))))
    return frozenset({"fte-step"})


def fte_negative(m: Maker) -> Expect:
    m.put("staffing", "fte", m.pick("staffing"), m.rng.choice((-0.5, -1.0, -0.1)))
    return frozenset({"fte-out-of-range"})


def fte_over_one(m: Maker) -> Expect:
    m.put("staffing", "fte", m.pick("staffing"), m.rng.choice((1000.0, 1000.5, 2000.0, 1e6)))
    return frozenset({"fte-out-of-range"})


def amount_fraction_cent(m: Maker) -> Expect:
    i = m.pick("other")
    v = float(m.value("other", "amount", i))
    m.put("other", "amount", i, round(v - 1, 2) + m.rng.choice((0.001, 0.005, 0.0049, 0.125)))
    return frozenset({"amount-cents"})


def line_only_fund(m: Maker) -> Expect:
    table = m.rng.choice(("staffing", "services", "other"))
    i = m.rng.choice(m.empty(table))
    m.put(table, "fund", i, m.rng.choice([f.code for f in m.policy.funds]))
    if table == "services":
        return frozenset({"missing-code", "missing-quantity"})
    return frozenset({"missing-code"})


def line_only_note(m: Maker) -> Expect:
    table = m.rng.choice(("staffing", "other"))
    key = "note" if table == "staffing" else "description"
    m.put(table, key, m.rng.choice(m.empty(table)), m.rng.choice(("TBD", "vacant", "see me")))
    return frozenset({"missing-code"})


def line_only_goal(m: Maker) -> Expect:
    table = m.rng.choice(("staffing", "services", "other"))
    m.put(table, "goal", m.rng.choice(m.empty(table)),
          m.rng.choice([g.code for g in m.policy.goals]))
    if table == "services":
        return frozenset({"missing-code", "missing-quantity"})
    return frozenset({"missing-code"})


# --- formulas -----------------------------------------------------------------------------

def _template(m: Maker, sheet: str, address: str) -> str:
    return plan_formulas(m.policy).sheet(sheet)[address]


def _cost_cell(m: Maker) -> tuple[str, str]:
    if m.rng.random() < 0.7 or not m.filled("services"):
        return m.cell("staffing", "cost", m.pick("staffing"))
    return m.cell("services", "cost", m.pick("services"))


def formula_changed(m: Maker) -> Expect:
    """A cost formula edited in the workbook (openpyxl), e.g. multiplied by 0.5."""
    sheet, address = _cost_cell(m)
    old = _template(m, sheet, address)
    new = m.rng.choice((f"={old[1:]}*0.5", f"=ROUND({old[1:]}*0.5,2)", "=0",
                        old.replace(",2)", ",0)", 1)))
    m.wb()[sheet][address].value = new
    m.note(f"{sheet}!{address}: {old} -> {new} (openpyxl)")
    return frozenset({"formula-changed"})


def formula_changed_total(m: Maker) -> Expect:
    """A Summary total, a Check cell or the Status formula replaced by a friendlier one."""
    choice = m.rng.choice(("planned", "status", "check"))
    if choice == "planned":
        t = m.layout.funds
        sheet, address = t.sheet, t.cell("planned", 0)
        new = "=0"
    elif choice == "status":
        sheet, address = SS.START, START_FIELDS.cell("status")
        new = '=IF(TRUE,"Balanced","")'
    else:
        sheet, address = m.cell("staffing", "check", m.pick("staffing"))
        new = '="OK"'
    m.wb()[sheet][address].value = new
    m.note(f"{sheet}!{address}: {_template(m, sheet, address)[:60]}... -> {new} (openpyxl)")
    return frozenset({"formula-changed"})


def formula_in_input(m: Maker) -> Expect:
    table, key = m.rng.choice([("staffing", "fte"), ("other", "amount"), ("staffing", "fund"),
                               ("services", "quantity")])
    if not m.filled(table):
        table, key = "staffing", "fte"
    i = m.pick(table)
    v = m.value(table, key, i)
    new = {"fte": "=1/2", "amount": f"={v}", "quantity": f"={v}*2",
           "fund": f'="{v}"'}[key]
    sheet, address = m.cell(table, key, i)
    m.wb()[sheet][address].value = new
    m.note(f"{sheet}!{address} = {new} (openpyxl formula in an input cell)")
    return frozenset({"formula-in-input"})


def formula_cleared(m: Maker) -> Expect:
    sheet, address = _cost_cell(m) if m.rng.random() < 0.7 else (
        m.layout.funds.sheet, m.layout.funds.cell("remaining", 0))
    m.wb()[sheet][address].value = None
    m.note(f"{sheet}!{address} cleared (openpyxl)")
    return frozenset({"formula-overwritten"})


def value_over_formula(m: Maker) -> Expect:
    choice = m.rng.choice(("cost", "planned", "status"))
    if choice == "cost":
        sheet, address = _cost_cell(m)
        value: object = 0
    elif choice == "planned":
        sheet, address = m.layout.funds.sheet, m.layout.funds.cell("planned", 0)
        value = 0.0
    else:
        sheet, address = SS.START, START_FIELDS.cell("status")
        value = "Balanced"
    m.wb()[sheet][address].value = value
    m.note(f"{sheet}!{address} = {value!r} typed over its formula (openpyxl)")
    return frozenset({"formula-overwritten"})


def _staffing_rows(m: Maker) -> tuple[int, int]:
    t = m.layout.staffing
    return t.first_row, t.last_row


def shared_formula(m: Maker) -> Expect:
    """The cost column stored as one shared formula (as Excel saves a filled-down column),
    with the same text as the template's or with a changed one."""
    t = m.layout.staffing
    first, last = _staffing_rows(m)
    col = t.letter("cost")
    master = _template(m, t.sheet, f"{col}{first}")[1:]
    changed = m.rng.random() < 0.6
    if changed:
        master = m.rng.choice((f"{master}*0.5", master.replace("(1+", "(0+", 1)))

    def edit(xml: bytes) -> bytes:
        for row in range(first, last + 1):
            address = f"{col}{row}"
            if row == first:
                raw = (f'<c r="{{r}}"{{s}}><f t="shared" ref="{col}{first}:{col}{last}" si="0">'
                       f"{escape(master)}</f></c>")
            else:
                raw = '<c r="{r}"{s}><f t="shared" si="0"/></c>'
            xml = set_cell(xml, address, RawCell(raw.encode()))
        return xml

    m.edit_part(f"sheet:{t.sheet}", edit)
    m.note(f"{t.sheet}!{col}{first}:{col}{last} as a shared formula "
           f"{'CHANGED to ' if changed else 'with the template text '}{master[:70]}")
    return frozenset({"formula-changed"}) if changed else None


def array_formula(m: Maker) -> Expect:
    """An array formula whose range covers input cells (FTE), anchored at the FTE cell, at a
    formula cell or at a plain cell of the line; the covered cells keep their old values."""
    t = m.layout.staffing
    first = t.first_row + m.rng.randrange(0, 5)
    last = first + m.rng.randint(1, 12)
    anchor_key = m.rng.choice(("fte", "title", "line"))
    anchor = f"{t.letter(anchor_key)}{first}"
    ref = f"{anchor}:{t.letter('fte')}{last}"
    value = m.rng.choice(("0.5", "0", "1"))
    raw = f'<c r="{{r}}"{{s}}><f t="array" ref="{ref}">{value}</f><v>{value}</v></c>'
    m.set(t.sheet, anchor, RawCell(raw.encode()), say=False)
    m.note(f"{t.sheet}!{anchor}: array formula {{={value}}} over {ref}")
    return REJECTED


def prefixed_formulas(m: Maker) -> Expect:
    """A worksheet written with the main namespace on a prefix (x:c, x:f), as it is, with a
    changed cost formula, or with a formula in an input cell."""
    t = m.layout.staffing
    what = m.rng.choice(("same", "changed", "input"))
    i = m.pick("staffing")
    expect: Expect = None
    if what == "changed":
        address = t.cell("cost", i)
        old = _template(m, t.sheet, address)[1:]
        m.set(t.sheet, address, Formula(f"{old}*0.5"), say=False)
        m.note(f"{t.sheet}!{address}: cost formula *0.5")
        expect = frozenset({"formula-changed"})
    elif what == "input":
        address = t.cell("fte", i)
        m.set(t.sheet, address, Formula("1/2"), say=False)
        m.note(f"{t.sheet}!{address}: formula =1/2 in the FTE cell")
        expect = frozenset({"formula-in-input"})
    sheet = m.rng.choice((t.sheet, t.sheet, m.layout.other.sheet)) if what == "same" else t.sheet
    prefix = m.rng.choice((b"x", b"main", b"s"))
    m.edit_part(f"sheet:{sheet}", lambda xml: with_prefix(xml, prefix))
    m.note(f"{sheet}: elements with the namespace prefix {prefix.decode()}:")
    return expect


def alternate_content(m: Maker) -> Expect:
    """mc:AlternateContent around cells: Excel shows the Choice, older readers the Fallback."""
    t = m.layout.staffing
    what = m.rng.choice(("fte", "cost", "new line"))
    wrap = (f'<mc:AlternateContent xmlns:mc="{MC_NS}"><mc:Choice xmlns:x14="{X14_NS}" '
            'Requires="x14">{choice}</mc:Choice><mc:Fallback>{fallback}</mc:Fallback>'
            "</mc:AlternateContent>")
    if what == "new line":
        # a new line whose FTE only Excel sees (inside mc:Choice, no Fallback)
        i = m.rng.choice(m.empty("staffing")[:20])
        job = m.rng.choice([j.code for j in m.policy.job_classes])
        m.put("staffing", "job_class", i, job, say=False)
        m.put("staffing", "fund", i, m.policy.funds[0].code, say=False)
        m.put("staffing", "goal", i, m.policy.goals[0].code, say=False)
        choice = '<c r="{r}"{s} t="n"><v>1</v></c>'
        raw = wrap.replace("{choice}", choice).replace("<mc:Fallback>{fallback}</mc:Fallback>",
                                                       "")
        m.set(t.sheet, t.cell("fte", i), RawCell(raw.encode()), say=False)
        m.note(f"{t.sheet} line {i + 1}: a new {job} line whose FTE 1 is only inside mc:Choice")
        return FLAGGED
    i = m.pick("staffing")
    key = "fte" if what == "fte" else "cost"
    address = t.cell(key, i)
    if key == "fte":
        old = m.value("staffing", "fte", i)
        choice = '<c r="{r}"{s} t="n"><v>0.5</v></c>'
        fallback = f'<c r="{{r}}"{{s}} t="n"><v>{old!r}</v></c>'
    else:
        formula = escape(_template(m, t.sheet, address)[1:])
        choice = '<c r="{r}"{s} t="n"><v>0</v></c>'
        fallback = f'<c r="{{r}}"{{s}}><f>{formula}</f></c>'
    raw = wrap.replace("{choice}", choice).replace("{fallback}", fallback)
    m.set(t.sheet, address, RawCell(raw.encode()), say=False)
    m.note(f"{t.sheet}!{address}: mc:AlternateContent, Choice and Fallback differ")
    return FLAGGED


def duplicate_cell(m: Maker) -> Expect:
    """A second <c> record for an input cell with another value."""
    table, key = m.rng.choice((("staffing", "fte"), ("staffing", "fund"), ("other", "amount"),
                               ("other", "fund")))
    i = m.pick(table)
    sheet, address = m.cell(table, key, i)
    old = m.value(table, key, i)
    if key == "fte":
        other: object = 0.5 if old != 0.5 else 1.0
    elif key == "amount":
        other = round(float(old) / 2, 2)
    else:
        other = next(f.code for f in m.policy.funds if f.code != old)
    first, second = (old, other) if m.rng.random() < 0.5 else (other, old)
    raw = cell_record("{r}", first).replace(b'r="{r}"', b'r="{r}"{s}') + \
        cell_record("{r}", second).replace(b'r="{r}"', b'r="{r}"{s}')
    m.set(sheet, address, RawCell(raw), say=False)
    m.note(f"{sheet}!{address}: two records, {first!r} then {second!r}")
    return FLAGGED


def utf16_part(m: Maker) -> Expect:
    """A worksheet part re-encoded as UTF-16 (with or without a byte order mark), sometimes
    after a value changed in it, so the reader must decode it to see the change."""
    sheet = m.rng.choice((SS.STAFFING, SS.OTHER, SS.SUMMARY))
    if sheet == SS.STAFFING and m.rng.random() < 0.5:
        i = m.pick("staffing")
        m.put("staffing", "fte", i, 0.5 if m.value("staffing", "fte", i) != 0.5 else 1.0)
    elif sheet == SS.OTHER and m.rng.random() < 0.5:
        i = m.pick("other")
        m.put("other", "amount", i, round(float(m.value("other", "amount", i)) * 3, 2))
    codec = m.rng.choice(("utf-16", "utf-16-le", "utf-16-be"))

    def encode(xml: bytes) -> bytes:
        text = xml.decode("utf-8")
        text = re.sub(r"^<\?xml[^>]*\?>", "", text)
        name = {"utf-16": "UTF-16", "utf-16-le": "UTF-16LE", "utf-16-be": "UTF-16BE"}[codec]
        return f'<?xml version="1.0" encoding="{name}"?>{text}'.encode(codec)

    m.edit_part(f"sheet:{sheet}", encode)
    m.note(f"{sheet}: the worksheet part re-encoded as {codec}")
    return None


def full_precision(m: Maker) -> Expect:
    m.edit_part("xl/workbook.xml", lambda xml: re.sub(
        rb"<calcPr\b", b'<calcPr fullPrecision="0"', xml, count=1))
    m.note('workbook.xml: <calcPr fullPrecision="0"> (precision as displayed)')
    return frozenset({"precision-as-displayed"})


# --- lists, allocation, identity, names ---------------------------------------------------

def _used_job_rows(m: Maker) -> list[int]:
    codes = [j.code for j in m.policy.job_classes]
    return sorted({codes.index(m.plan.positions[i][0]) for i in m.filled("staffing")})


def salary_edited(m: Maker) -> Expect:
    row = m.rng.choice(_used_job_rows(m))
    job = m.policy.job_classes[row]
    key = m.rng.choice(("average_salary", "average_salary", "benefits_rate"))
    old = getattr(job, key)
    new = round(old * m.rng.choice((0.8, 0.9, 1.1)), 2 if key == "average_salary" else 4)
    sheet, address = m.layout.jobs.sheet, m.layout.jobs.cell(key, row)
    m.set(sheet, address, new, say=False)
    m.note(f"{sheet}!{address}: {key} of {job.code} {old!r} -> {new!r}")
    return frozenset({"prices-changed"})


def price_edited(m: Maker) -> Expect:
    services = list(m.policy.services)
    used = [i for i, s in enumerate(services) if s.code in m.plan.services]
    row = m.rng.choice(used or range(len(services)))
    s = services[row]
    new = round(s.unit_price * m.rng.choice((0.5, 0.75, 1.25)), 2)
    sheet, address = m.layout.service_menu.sheet, m.layout.service_menu.cell("unit_price", row)
    m.set(sheet, address, new, say=False)
    m.note(f"{sheet}!{address}: unit price of {s.code} {s.unit_price!r} -> {new!r}"
           f"{'' if used else ' (not used by this plan)'}")
    return frozenset({"prices-changed"}) if used else FLAGGED


def list_flag_edited(m: Maker) -> Expect:
    """A "may pay" flag or the FTE step changed on the Lists sheet."""
    if m.rng.random() < 0.3:
        sheet, address = m.layout.jobs.sheet, m.layout.fte_step_cell
        m.set(sheet, address, m.rng.choice((0.25, 0.05, 0.5)), say=False)
        m.note(f"{sheet}!{address}: FTE step changed")
        return FLAGGED
    row = m.rng.choice(_used_job_rows(m))
    fund = m.rng.randrange(len(m.policy.funds))
    t = m.layout.jobs
    key = m.layout.allow_keys[fund]
    allowed = m.policy.funds[fund].may_pay_object(m.policy.job_classes[row].object_code)
    m.set(t.sheet, t.cell(key, row), 0 if allowed else 1, say=False)
    m.note(f"{t.sheet}!{t.cell(key, row)}: {m.policy.funds[fund].code} may pay "
           f"{m.policy.job_classes[row].code}: {int(allowed)} -> {int(not allowed)}")
    return FLAGGED


def allocation_edited(m: Maker) -> Expect:
    i = m.rng.randrange(len(m.policy.funds))
    code = m.policy.funds[i].code
    old = m.spec.fund_allocation(code)
    if m.rng.random() < 0.7:
        new = round(old + m.rng.choice((1_000_000.0, 50_000.0, -old / 2, 0.01)), 2)
        address = m.layout.allocation_total_cell(i)
        m.set(SS.ALLOCATION, address, new, say=False)
        m.note(f"{SS.ALLOCATION}!{address}: {code} allocation {old!r} -> {new!r}")
        return frozenset({"allocation-changed"})
    # a component's amount: shown to the principal but read by no formula
    t = m.layout.allocation
    row = m.rng.randrange(t.rows)
    m.set(t.sheet, t.cell("amount", row), 123456.78, say=False)
    m.note(f"{t.sheet}!{t.cell('amount', row)}: component amount -> 123456.78 (read by no "
           "formula)")
    return None


def school_id_edited(m: Maker) -> Expect:
    others = [s for s in m.sample.school_ids if s != m.school_id]
    what = m.rng.choice(("other school", "other school", "typo", "name"))
    if what == "name":
        address, value = START_FIELDS.cell("school"), "Another School"
    else:
        address = START_FIELDS.cell("school_id")
        value = m.rng.choice(others) if what == "other school" else \
            m.school_id[:-1] + str((int(m.school_id[-1]) + 1) % 10)
    m.set(SS.START, address, value, say=False)
    m.note(f"{SS.START}!{address} = {value!r} ({what})")
    return frozenset({"identity-mismatch"})


def name_redefined(m: Maker) -> Expect:
    layout = m.layout
    fund = m.rng.randrange(len(m.policy.funds))
    name = layout.allocation_total_name(m.policy.funds[fund].code)
    choice = m.rng.choice(("allocation", "allocation", "fte_step", "list"))
    if choice == "allocation":
        target = f"'{SS.ALLOCATION}'!${layout.allocation.letter('amount')}$" \
                 f"{layout.allocation.first_row}"
    elif choice == "fte_step":
        name, target = "FTE_Step", f"'{SS.LISTS}'!$E${layout.jobs.first_row}"
    else:
        name, target = "Plan_Fund_Codes", f"'{SS.LISTS}'!$A${layout.jobs.first_row}:$A$" \
                                          f"{layout.jobs.last_row}"

    def edit(xml: bytes) -> bytes:
        pattern = rb'(<definedName name="' + name.encode() + rb'">)[^<]*(</definedName>)'
        new, n = re.subn(pattern, lambda mm: mm[1] + escape(target).encode() + mm[2], xml)
        assert n == 1, name
        return new

    m.edit_part("xl/workbook.xml", edit)
    m.note(f"defined name {name} -> {target}")
    return frozenset({"names-changed"})


def name_shadowed(m: Maker) -> Expect:
    """A sheet-scoped name with a workbook name's name, on the sheet whose formulas use it."""
    layout = m.layout
    if m.rng.random() < 0.6:
        name = layout.allocation_total_name(m.policy.funds[0].code)
        sheet = SS.SUMMARY
        target = f"'{SS.ALLOCATION}'!${layout.allocation.letter('amount')}$" \
                 f"{layout.allocation.first_row}"
    else:
        name, sheet = "FTE_Step", SS.STAFFING
        target = f"'{SS.LISTS}'!$E${layout.jobs.first_row}"
    index = list(SS.ORDER).index(sheet)
    entry = (f'<definedName name="{name}" localSheetId="{index}">{escape(target)}'
             "</definedName>").encode()
    m.edit_part("xl/workbook.xml", lambda xml: xml.replace(b"</definedNames>",
                                                           entry + b"</definedNames>", 1))
    m.note(f"sheet-scoped {name} on {sheet} -> {target}")
    return frozenset({"names-changed"})


def outside_plan_area(m: Maker) -> Expect:
    where = m.rng.choice(("staffing row", "staffing row", "other row", "right", "summary"))
    t = m.layout.staffing
    if where == "staffing row":
        row = t.last_row + m.rng.randint(1, 8)
        job = m.rng.choice([j.code for j in m.policy.job_classes])
        for key, value in (("job_class", job), ("fte", 1.0), ("fund", m.policy.funds[0].code),
                           ("goal", m.policy.goals[0].code)):
            m.set(t.sheet, f"{t.letter(key)}{row}", value, say=False)
        m.note(f"{t.sheet} row {row}: a {job} line below the plan's lines")
    elif where == "other row":
        o = m.layout.other
        row = o.last_row + m.rng.randint(1, 10)
        for key, value in (("object", "4300"), ("fund", m.policy.funds[0].code),
                           ("goal", m.policy.goals[0].code), ("amount", 5000.0)):
            m.set(o.sheet, f"{o.letter(key)}{row}", value, say=False)
        m.note(f"{o.sheet} row {row}: a line below the plan's lines")
    elif where == "right":
        column = get_column_letter(t.first_col + len(t.columns) + m.rng.randint(0, 3))
        m.set(t.sheet, f"{column}{t.first_row + m.rng.randrange(10)}", 99.0)
    else:
        m.set(SS.SUMMARY, f"H{m.layout.summary_total_row + 10}", 12345.0)
    return frozenset({"outside-plan-area"})


def rows_inserted(m: Maker) -> Expect:
    """Rows inserted inside a line table by a script (openpyxl moves the cells, not the
    formulas, names or validations)."""
    table = m.rng.choice(("staffing", "staffing", "other"))
    t = m.table(table)
    at = t.first_row + m.rng.randint(1, 10)
    n = m.rng.randint(1, 3)
    m.wb()[t.sheet].insert_rows(at, n)
    m.note(f"{t.sheet}: {n} row(s) inserted at row {at} (openpyxl)")
    return REJECTED


# --- random edits -------------------------------------------------------------------------

def _random_value(m: Maker, key: str) -> object:
    p = m.policy
    codes = {
        "job_class": [j.code for j in p.job_classes], "fund": [f.code for f in p.funds],
        "goal": [g.code for g in p.goals], "object": [o.code for o in p.objects],
        "service": [s.code for s in p.services],
    }
    r = m.rng.random()
    if key in codes:
        if r < 0.6:
            return m.rng.choice(codes[key])
        if r < 0.8:
            return m.rng.choice(m.rng.choice(list(codes.values())))
        return m.rng.choice(("", " ", None, "n/a", "GEN ", 0, 1.0, True, "=GEN"))
    if key in ("fte", "quantity", "amount"):
        if r < 0.5:
            return m.rng.choice((0.0, 0.1, 0.5, 1.0, 0.2, 2.0, 3.0, 5.0))
        if r < 0.75:
            return round(m.rng.uniform(-100, 100000), m.rng.choice((0, 1, 2, 3)))
        return m.rng.choice((None, "", "1", "0.5", "abc", "1,5", "=1/2", True, -0.0, 1e-12,
                             123456789.123))
    return m.rng.choice((None, "", "Plan text", "=1/2", "\u202e", "学校", " ", "0"))


def random_values(m: Maker) -> Expect:
    """1-6 input cells set to random values (valid codes, other codes, numbers, text, blank)."""
    for _ in range(m.rng.randint(1, 6)):
        table = m.rng.choice(("staffing", "staffing", "services", "other", "other", "goals"))
        t = m.table(table)
        key = m.rng.choice([c.key for c in t.columns if c.input])
        lines = m.filled(table) if m.rng.random() < 0.75 and m.filled(table) else \
            list(range(t.rows))
        m.put(table, key, m.rng.choice(lines), _random_value(m, key))
    return None


def random_codes(m: Maker) -> Expect:
    """Valid codes swapped for other valid codes (a line moved to another fund, goal, job)."""
    p = m.policy
    pools = {"job_class": [j.code for j in p.job_classes], "fund": [f.code for f in p.funds],
             "goal": [g.code for g in p.goals], "object": [o.code for o in p.objects]}
    for _ in range(m.rng.randint(1, 4)):
        table = m.rng.choice(("staffing", "staffing", "services", "other"))
        if not m.filled(table):
            continue
        keys = [k for t, k in CODE_CELLS if t == table and k in pools]
        key = m.rng.choice(keys)
        m.put(table, key, m.pick(table), m.rng.choice(pools[key]))
    if not m.notes:
        m.put("staffing", "fund", m.pick("staffing"), p.funds[-1].code)
    return None


def random_deletions(m: Maker) -> Expect:
    """Lines cleared (every input) or single cells emptied."""
    for _ in range(m.rng.randint(1, 8)):
        table = m.rng.choice(("staffing", "staffing", "services", "other", "goals"))
        if not m.filled(table):
            continue
        i = m.pick(table)
        t = m.table(table)
        keys = [c.key for c in t.columns if c.input and not (table == "services"
                                                                and c.key == "service")]
        if m.rng.random() < 0.5:
            for key in keys:
                m.put(table, key, i, None, say=False)
            m.note(f"{t.sheet} line {i + 1} cleared")
        else:
            m.put(table, m.rng.choice(keys), i, None)
    if not m.notes:
        m.put("staffing", "fte", m.pick("staffing"), None)
    return None


_NUMBER = re.compile(r"(?<![A-Z$])\b\d+(\.\d+)?\b")


def random_formulas(m: Maker) -> Expect:
    """A random formula cell's text perturbed (a number, an operator, a function, a row)."""
    formulas = plan_formulas(m.policy).cells
    sheets = [s for s in formulas if formulas[s]]
    sheet = m.rng.choice(sheets)
    address = m.rng.choice(sorted(formulas[sheet]))
    old = formulas[sheet][address]
    how = m.rng.choice(("number", "operator", "function", "row", "drop"))
    new = old
    if how == "number" and _NUMBER.search(old[1:]):
        spots = list(_NUMBER.finditer(old))
        spot = m.rng.choice(spots)
        new = old[:spot.start()] + str(m.rng.choice((0, 1, 2, 3, 999))) + old[spot.end():]
    elif how == "operator" and any(op in old for op in "+-*"):
        ops = [i for i, ch in enumerate(old) if ch in "+-*"]
        i = m.rng.choice(ops)
        new = old[:i] + m.rng.choice("+-*/") + old[i + 1:]
    elif how == "function" and "ROUND(" in old:
        new = old.replace("ROUND(", "TRUNC(", 1)
    elif how == "row":
        refs = list(re.finditer(r"(?<![$A-Z])([A-Z]{1,2})(\d+)\b", old))
        if refs:
            ref = m.rng.choice(refs)
            new = old[:ref.start(2)] + str(int(ref[2]) + 1) + old[ref.end(2):]
    if new == old:
        new = f"={old[1:]}+0"
    m.wb()[sheet][address].value = new
    m.note(f"{sheet}!{address}: {old[:80]} -> {new[:80]} (openpyxl)")
    return None


def random_xml(m: Maker) -> Expect:
    """An input cell's record rewritten in the sheet XML with an odd but valid spelling."""
    table, key = m.rng.choice([*NUMBER_CELLS, ("staffing", "fund"), ("other", "object"),
                               ("staffing", "job_class")])
    if not m.filled(table):
        table, key = "staffing", "fte"
    i = m.pick(table)
    v = m.value(table, key, i)
    if key in ("fte", "quantity", "amount"):
        raws = [f'<c r="{{r}}"{{s}}><v>{v!r}</v></c>',  # no t: a number
                f'<c r="{{r}}"{{s}} t="n"><v>{float(v):.17e}</v></c>',
                f'<c r="{{r}}"{{s}} t="n"><v> {v!r} </v></c>',
                f'<c r="{{r}}"{{s}} t="str"><v>{v!r}</v></c>',  # formula-string type
                '<c r="{r}"{s} t="d"><v>2026-03-01T00:00:00</v></c>',
                f'<c r="{{r}}"{{s}} t="inlineStr"><is><t>{v!r}</t></is></c>',
                f'<c r="{{r}}"{{s}} t="n"><v>{v!r}</v><is><t>7</t></is></c>']
    else:
        code = str(v)
        raws = [f'<c r="{{r}}"{{s}} t="inlineStr"><is><r><t>{code[:1]}</t></r><r><t>'
                f"{code[1:]}</t></r></is></c>",  # rich text: the same code
                f'<c r="{{r}}"{{s}} t="str"><v>{code}</v></c>',
                f'<c r="{{r}}"{{s}} t="inlineStr"><is><t>{code}</t><rPh><t>X</t></rPh></is></c>',
                f'<c r="{{r}}"{{s}} t="inlineStr"><is><t xml:space="preserve"> {code}</t>'
                "</is></c>",
                f'<c r="{{r}}"{{s}} t="inlineStr"><is><t>{code}&#10;</t></is></c>']
    raw = m.rng.choice(raws)
    sheet, address = m.cell(table, key, i)
    m.set(sheet, address, RawCell(raw.encode()), say=False)
    m.note(f"{sheet}!{address}: {raw}")
    return None


# --- valid and harmless -------------------------------------------------------------------

def valid(m: Maker) -> Expect:
    m.note("the valid plan, untouched")
    return ACCEPTED


def benign_edits(m: Maker) -> Expect:
    """Changes a careful principal makes: a smaller FTE, a note, a line removed, Start Here."""
    what = m.rng.choice(("fte", "note", "delete", "start"))
    if what == "fte":
        i = m.rng.choice([i for i in m.filled("staffing") if m.value("staffing", "fte", i) == 1])
        m.put("staffing", "fte", i, 0.5)
    elif what == "note":
        i = m.pick("staffing")
        m.put("staffing", "note", i, m.rng.choice(("=1/2 time, shared", "Ms. Ñandú 学校",
                                                   "+1 (555) 0100", "@home")))
    elif what == "delete":
        i = m.pick("other")
        for key in ("object", "fund", "goal", "description", "amount"):
            m.put("other", key, i, None, say=False)
        m.note(f"{m.layout.other.sheet} line {i + 1} cleared")
    else:
        m.set(SS.START, START_FIELDS.cell("prepared_by"), "Dr. Ada Principal")
        m.set(SS.START, START_FIELDS.cell("council_date"), "2026-03-01")
    return ACCEPTED


def openpyxl_resave(m: Maker) -> Expect:
    """The valid plan opened and saved again by openpyxl (strings become shared strings)."""
    import openpyxl

    source = m.sample.plans[m.school_id]
    m._wb = openpyxl.load_workbook(source)
    m.note("valid plan loaded and saved by openpyxl")
    return ACCEPTED


@dataclass(frozen=True)
class MutationClass:
    """A class of mutation, how often it is drawn after the first round, and its maker."""

    name: str
    make: Callable[[Maker], Expect]
    weight: float = 1.0


CLASSES: tuple[MutationClass, ...] = (
    MutationClass("valid", valid, 3),
    MutationClass("benign-edits", benign_edits, 2),
    MutationClass("openpyxl-resave", openpyxl_resave, 0.5),
    MutationClass("code-leading-space", code_leading_space),
    MutationClass("code-trailing-space", code_trailing_space),
    MutationClass("code-nbsp", code_nbsp),
    MutationClass("code-zero-width", code_zero_width),
    MutationClass("code-cyrillic", code_cyrillic),
    MutationClass("code-case", code_case),
    MutationClass("code-wildcard", code_wildcard),
    MutationClass("code-number", code_number, 0.5),
    MutationClass("number-as-text", number_as_text),
    MutationClass("text-formula-in-number", text_formula_in_number),
    MutationClass("boolean-input", boolean_input),
    MutationClass("date-input", date_input),
    MutationClass("error-input", error_input),
    MutationClass("huge-number", huge_number),
    MutationClass("tiny-number", tiny_number),
    MutationClass("fte-off-step", fte_off_step),
    MutationClass("fte-negative", fte_negative),
    MutationClass("fte-over-one", fte_over_one),
    MutationClass("amount-fraction-cent", amount_fraction_cent),
    MutationClass("line-only-fund", line_only_fund),
    MutationClass("line-only-note", line_only_note),
    MutationClass("line-only-goal", line_only_goal, 0.5),
    MutationClass("formula-changed", formula_changed),
    MutationClass("formula-changed-total", formula_changed_total),
    MutationClass("formula-in-input", formula_in_input),
    MutationClass("formula-cleared", formula_cleared),
    MutationClass("value-over-formula", value_over_formula),
    MutationClass("shared-formula", shared_formula),
    MutationClass("array-formula", array_formula),
    MutationClass("prefixed-formulas", prefixed_formulas),
    MutationClass("alternate-content", alternate_content),
    MutationClass("duplicate-cell", duplicate_cell),
    MutationClass("utf16-part", utf16_part),
    MutationClass("full-precision", full_precision, 0.5),
    MutationClass("salary-edited", salary_edited),
    MutationClass("price-edited", price_edited),
    MutationClass("list-flag-edited", list_flag_edited),
    MutationClass("allocation-edited", allocation_edited),
    MutationClass("school-id-edited", school_id_edited),
    MutationClass("name-redefined", name_redefined),
    MutationClass("name-shadowed", name_shadowed),
    MutationClass("outside-plan-area", outside_plan_area),
    MutationClass("rows-inserted", rows_inserted),
    MutationClass("random-values", random_values, 6),
    MutationClass("random-codes", random_codes, 4),
    MutationClass("random-deletions", random_deletions, 3),
    MutationClass("random-formulas", random_formulas, 2),
    MutationClass("random-xml", random_xml, 3),
)
BY_NAME = {c.name: c for c in CLASSES}


def class_of(index: int, seed: int = SEED) -> MutationClass:
    """The class of mutant `index`: one of each first, then drawn by weight."""
    if index < len(CLASSES):
        return CLASSES[index]
    rng = random.Random(f"{seed}-class-{index}")
    return rng.choices(CLASSES, weights=[c.weight for c in CLASSES])[0]


def make_mutant(sample: Sample, out: Path, index: int, seed: int = SEED,
                klass: MutationClass | None = None, schools: Sequence[str] | None = None
                ) -> Mutant:
    """Write mutant `index` into `out`, made from the plan of school `index` mod the number
    of schools (of `schools`, default every school of the sample)."""
    klass = klass or class_of(index, seed)
    schools = list(schools or sample.school_ids)
    sid = schools[index % len(schools)]
    rng = random.Random(f"{seed}-{index}")
    maker = Maker(sample, sid, rng)
    expect = klass.make(maker)
    path = Path(out) / f"{sid}_{index:04d}-{klass.name}.xlsx"
    maker.write(path)
    return Mutant(index, klass.name, sid, path, "; ".join(maker.notes), expect)


def make_mutants(sample: Sample, out: Path, count: int, seed: int = SEED, start: int = 0,
                 schools: Sequence[str] | None = None) -> list[Mutant]:
    """Mutants start .. start + count - 1, written into `out` (see make_mutant)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return [make_mutant(sample, out, i, seed, schools=schools)
            for i in range(start, start + count)]


def by_class(mutants: Iterable[Mutant]) -> Mapping[str, list[Mutant]]:
    """Mutants grouped by class, in CLASSES order."""
    groups: dict[str, list[Mutant]] = {c.name: [] for c in CLASSES}
    for mutant in mutants:
        groups[mutant.klass].append(mutant)
    return groups


def main(argv: list[str]) -> None:
    """python -m tests.mutants OUT [COUNT [SEED]]: write a corpus and list it."""
    out = Path(argv[0])
    count = int(argv[1]) if len(argv) > 1 else len(CLASSES)
    seed = int(argv[2]) if len(argv) > 2 else SEED
    sample = build_sample(out / "sample")
    for mutant in make_mutants(sample, out / "mutants", count, seed):
        print(f"{mutant.path.name}\t{mutant.expect}\t{mutant.detail}")


if __name__ == "__main__":
    main(sys.argv[1:])
