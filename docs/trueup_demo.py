"""Stand-ins for the principals in the README's true-up demo (Pasadena, CDE 2023-24 -> 2024-25).

    python docs/trueup_demo.py fill PLANS_DIR RETURNED_DIR --district D.xlsx
        every principal fills in the plan the district sent (ssfr_xl.sources.demo's plans)
    python docs/trueup_demo.py revise AMENDED_DIR REVISED_DIR --district D.xlsx --amend T.xlsx
        every principal whose amended allocation no longer covers the plan trims it: Other
        Spending first, then whole lines (positions, services), newest first, in the funds
        that are over, until each fund is within its amended allocation

Plans are read and written as a principal's copy of Excel would: the district's files are
never changed; the outputs go to the second folder.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ssfr_xl.consolidate import run_checks  # noqa: E402
from ssfr_xl.layout import SchoolLayout  # noqa: E402
from ssfr_xl.money import excel_round  # noqa: E402
from ssfr_xl.school_book import file_name, plan_specs  # noqa: E402
from ssfr_xl.sources.demo import demo_plan, fill_plan_workbook  # noqa: E402
from ssfr_xl.validate import district_record  # noqa: E402


def fill(plans: Path, out: Path, district: Path) -> int:
    """Fill every school's plan in `plans` into `out`; returns how many."""
    record = district_record(district)
    out.mkdir(exist_ok=True)
    n = 0
    for spec in plan_specs(record.result):
        source = plans / file_name(spec.school)
        wb = openpyxl.load_workbook(source)
        fill_plan_workbook(wb, spec.policy, demo_plan(spec))
        wb.save(out / source.name)
        n += 1
    return n


def revise(amended: Path, out: Path, district: Path, amend: Path) -> int:
    """Trim every amended plan that spends more than its amended allocation; returns how many
    were trimmed (the others are copied as they are)."""
    record = district_record(district, amend)
    layout = SchoolLayout(record.policy)
    tables = {t.sheet: t for t in (layout.staffing, layout.services, layout.other)}
    out.mkdir(exist_ok=True)
    checks, _ignored = run_checks([amended], record, typed=True)  # the lines as typed: cleared
    trimmed = 0
    for check in checks:
        if check.totals is None or check.inputs is None:
            continue
        over = {f: -left for f, left in check.totals.remaining_by_fund.items() if left < 0}
        if not over:
            shutil.copyfile(check.file, out / check.file.name)
            continue
        wb = openpyxl.load_workbook(check.file)
        order = sorted(check.inputs.lines, key=lambda li: (li.kind != "other", -li.row))
        for line in order:
            need = over.get(line.fund, 0.0)
            if need <= 0.005 or line.amount <= 0:
                continue
            t = tables[line.sheet]
            ws = wb[t.sheet]
            index = line.row - t.first_row
            if line.kind == "other" and line.amount > need:
                ws[t.cell("amount", index)] = excel_round(line.amount - need)
                over[line.fund] = 0.0
                continue
            for key in line.raw:  # the whole line goes
                column = t.column(key)
                if column.input and not (key == "service" and index < layout.menu_rows):
                    ws[t.cell(key, index)] = None
            over[line.fund] = excel_round(need - line.amount)
        wb.save(out / check.file.name)
        trimmed += 1
    return trimmed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    f = sub.add_parser("fill")
    f.add_argument("plans", type=Path)
    f.add_argument("out", type=Path)
    f.add_argument("--district", type=Path, required=True)
    r = sub.add_parser("revise")
    r.add_argument("amended", type=Path)
    r.add_argument("out", type=Path)
    r.add_argument("--district", type=Path, required=True)
    r.add_argument("--amend", type=Path, required=True)
    args = parser.parse_args()
    if args.step == "fill":
        print(f"{fill(args.plans, args.out, args.district)} plans filled in {args.out}")
    else:
        n = revise(args.amended, args.out, args.district, args.amend)
        print(f"{n} plans trimmed to their amended allocation in {args.out}")


if __name__ == "__main__":
    main()
