"""A normalised text dump of a workbook, for golden-file comparison.

    dump_workbook(path) -> str     sheets, cells, names, validations, protection, as text
    python -m tests.dump FILE      print the dump of a workbook
    python -m tests.dump --update  rewrite tests/golden/school_plan.txt from the current code

Raw .xlsx bytes differ on every save (openpyxl rewrites docProps), so golden files compare what a
user meets instead: each sheet's state, protection, panes and print setup; its data validations,
conditional formats and merged cells; every cell that has a value or a named style, as
`sheet!A1 | value-or-formula | style name | number format | locked`; and the defined names.
Ordering is stable (workbook sheet order, then rows, then columns; sections sorted), and
values that change from run to run (built_at and created_at on the metadata sheet) are
replaced by a placeholder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import sys
from dataclasses import replace
from pathlib import Path

import openpyxl
from openpyxl.worksheet.worksheet import Worksheet

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
SCHOOL_PLAN_GOLDEN = GOLDEN_DIR / "school_plan.txt"
GOLDEN_SCHOOL_ID = "01999996000013"
GOLDEN_BUILT_AT = "2026-01-15T09:00:00+00:00"
UPDATE_ENV = "SSFR_UPDATE_GOLDEN"
UPDATE_HINT = f"python -m tests.dump --update  (or {UPDATE_ENV}=1 python -m pytest ...)"

#: Metadata keys whose values change from run to run.
VOLATILE_META_KEYS = frozenset({"built_at", "created_at"})
META_SHEET = "_ssfr_meta"


def _text(value: object) -> str:
    """One-line, unambiguous text of a cell value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    text = str(value)
    return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


_PROTECTION_FLAGS = ("selectLockedCells", "selectUnlockedCells", "formatCells", "formatColumns",
                     "formatRows", "insertColumns", "insertRows", "insertHyperlinks",
                     "deleteColumns", "deleteRows", "sort", "autoFilter", "pivotTables",
                     "objects", "scenarios")


def _flag(value: object) -> str:
    return "yes" if value else "no"


def _sheet_header(ws: Worksheet) -> list[str]:
    p = ws.protection
    # In OOXML a protection flag that is set forbids that action on a protected sheet.
    forbidden = [k for k in _PROTECTION_FLAGS if getattr(p, k)]
    protection = (f"sheet={_flag(p.sheet)} password={_flag(p.password)} "
                  f"forbids: {', '.join(forbidden) or '-'}")
    setup = ws.page_setup
    fit = ws.sheet_properties.pageSetUpPr
    lines = [
        f"state: {ws.sheet_state}",
        f"protection: {protection}",
        f"freeze panes: {ws.freeze_panes or '-'}",
        f"print: orientation={setup.orientation or '-'} fitToPage="
        f"{_flag(fit is not None and fit.fitToPage)} fitToWidth={setup.fitToWidth} "
        f"fitToHeight={setup.fitToHeight} titles={ws.print_title_rows or '-'}",
    ]
    merged = sorted(str(r) for r in ws.merged_cells.ranges)
    lines.append(f"merged: {', '.join(merged) or '-'}")
    return lines


def _validations(ws: Worksheet) -> list[str]:
    rows = []
    for dv in ws.data_validations.dataValidation:
        rows.append(f"  {dv.sqref} | {dv.type} | {dv.operator or '-'} | {dv.formula1 or '-'} | "
                    f"{dv.formula2 or '-'} | blank={_flag(dv.allow_blank)} | "
                    f"error={_text(dv.error) or '-'} | prompt={_text(dv.prompt) or '-'}")
    return sorted(rows)


def _conditional_formats(ws: Worksheet) -> list[str]:
    rows = []
    for cf in ws.conditional_formatting:
        for rule in cf.rules:
            formula = ";".join(rule.formula or [])
            rows.append(f"  {cf.sqref} | {rule.type} | {rule.operator or '-'} | {formula}")
    return sorted(rows)


def _cells(ws: Worksheet) -> list[str]:
    meta = ws.title == META_SHEET
    rows = []
    for row in ws.iter_rows():
        for cell in row:
            if cell.value is None and cell.style in ("Normal", None):
                continue
            value = cell.value
            if meta and cell.column == 2 and ws.cell(cell.row, 1).value in VOLATILE_META_KEYS:
                value = f"<{ws.cell(cell.row, 1).value}>"
            locked = "locked" if cell.protection.locked else "unlocked"
            rows.append(f"{ws.title}!{cell.coordinate} | {_text(value)} | {cell.style} | "
                        f"{cell.number_format} | {locked}")
    return rows


def dump_workbook(path: Path) -> str:
    """The normalised dump of a workbook (see the module docstring)."""
    wb = openpyxl.load_workbook(path)
    out = [f"# workbook: {len(wb.sheetnames)} sheets",
           *[f"sheet {i + 1}: {name}" for i, name in enumerate(wb.sheetnames)],
           f"active: {wb.active.title if wb.active is not None else '-'}",
           f"named styles: {', '.join(sorted(str(s) for s in wb.named_styles))}",
           "", "# defined names"]
    for name in sorted(wb.defined_names):
        dn = wb.defined_names[name]
        out.append(f"{name} = {dn.attr_text}" + (" (hidden)" if dn.hidden else ""))
    for ws in wb.worksheets:
        local = getattr(ws, "defined_names", {})
        out += ["", f"# sheet {ws.title}", *_sheet_header(ws)]
        out += [f"local name {n} = {local[n].attr_text}" for n in sorted(local)]
        out += ["validations:", *(_validations(ws) or ["  -"])]
        out += ["conditional formats:", *(_conditional_formats(ws) or ["  -"])]
        out += ["cells:", *_cells(ws)]
    return "\n".join(out) + "\n"


def write_golden_plan(path: Path) -> Path:
    """Write the golden school's plan: sample_district(40), default policy, fixed built_at."""
    from ssfr_xl.formula import allocate
    from ssfr_xl.model import DistrictInputs
    from ssfr_xl.policy import load_policy
    from ssfr_xl.school_book import plan_specs, write_school_plan
    from ssfr_xl.sources import sample_district

    policy_file = load_policy()
    info, schools = sample_district(40)
    district = policy_file.district(info.name, info.cds_code, schools)
    result = allocate(DistrictInputs(district, policy_file.policy, tuple(schools)))
    (spec,) = plan_specs(result, school_ids=[GOLDEN_SCHOOL_ID])
    write_school_plan(path, replace(spec, built_at=GOLDEN_BUILT_AT))
    return path


def unified_diff(expected: str, actual: str, name: str = SCHOOL_PLAN_GOLDEN.name,
                 limit: int = 80) -> str:
    """A unified diff of two dumps, cut to `limit` lines."""
    lines = list(difflib.unified_diff(expected.splitlines(), actual.splitlines(),
                                      f"golden/{name}", "current", lineterm="", n=1))
    more = f"\n... {len(lines) - limit} more diff lines" if len(lines) > limit else ""
    return "\n".join(lines[:limit]) + more


def main(argv: list[str] | None = None) -> int:
    """Print a workbook's dump, or --update the school plan golden file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workbook", nargs="?", type=Path, help="a workbook to dump")
    parser.add_argument("--update", action="store_true",
                        help="rewrite tests/golden/school_plan.txt from the current code")
    args = parser.parse_args(argv)
    if args.update:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            text = dump_workbook(write_golden_plan(Path(tmp) / "plan.xlsx"))
        GOLDEN_DIR.mkdir(exist_ok=True)
        old = SCHOOL_PLAN_GOLDEN.read_text(encoding="utf-8") if SCHOOL_PLAN_GOLDEN.exists() else ""
        SCHOOL_PLAN_GOLDEN.write_text(text, encoding="utf-8")
        changed = "unchanged" if old == text else "updated"
        print(f"{SCHOOL_PLAN_GOLDEN}: {changed} ({len(text.splitlines()):,} lines)")
        return 0
    if args.workbook is None:
        parser.error("give a workbook to dump, or --update")
    sys.stdout.write(dump_workbook(args.workbook))
    return 0


if __name__ == "__main__":
    sys.exit(main())
