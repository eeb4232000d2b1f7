"""The true-up's outputs and their reading back: the true-up workbook, its CSV, and the
amendments `build --amend`, `validate --amend` and `consolidate --amend` take from either.

The workbook (values, not formulas: rerun ssfr-xl trueup to refresh) has four sheets:
Summary (per fund: spring, fall, raw change, withheld by rules, adjustments, amended, and the
check that adjustments = fall - spring - withheld), True-up (one row per school and fund, the
rule and the reason), Counts (each school's spring and fall enrollment and need, matched,
missing or new) and Rules (the rules applied, the base rate, the notes). The CSV is the True-up
sheet's table with machine headers; both are read back the same way.
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

from . import styles
from .amendment import Amendment, FundChange
from .errors import FileError, InputError
from .exports import (
    OutputSet,
    amount,
    cell_text,
    check_output_places,
    line_text,
    require_folder,
    write_csv,
)
from .model import DistrictInputs
from .money import excel_round, format_money
from .table_book import Column, TableSheet, write_table_book
from .trueup import RULES, TrueupResult, fund_amounts

#: The True-up table: (CSV header, workbook label); amounts are money.
TRUEUP_COLUMNS: tuple[tuple[str, str], ...] = (
    ("school_id", "School ID"),
    ("school_name", "School"),
    ("fund", "Fund"),
    ("spring_allocation", "Spring allocation"),
    ("fall_recomputed", "Fall recomputed"),
    ("raw_change", "Raw change"),
    ("rule", "Rule applied"),
    ("adjustment", "Adjustment"),
    ("withheld_by_rule", "Withheld by rule"),
    ("amended_allocation", "Amended allocation"),
    ("reason", "Reason"),
)
MONEY_KEYS = frozenset({"spring_allocation", "fall_recomputed", "raw_change", "adjustment",
                        "withheld_by_rule", "amended_allocation"})
SHEET = "True-up"
MAX_PROBLEMS = 20
#: A true-up file larger than this is not one ssfr-xl wrote (1,000 schools x 5 funds: ~2 MB).
MAX_FILE_BYTES = 50 * 1024 * 1024
#: A reason longer than this is cut where it is shown (the true-up writes one sentence).
MAX_REASON = 1000
#: What each rule says about a row's raw change (fall - spring) and adjustment.
RULE_NUMBERS = {
    "increase": "the raw change is above 0 and paid in full (adjustment = raw change)",
    "no change": "the raw change and the adjustment are 0",
    "reduction": "the raw change is below 0 and taken back in full (adjustment = raw change)",
    "clawback capped": "the raw change is below 0 and the adjustment between it and 0",
    "below threshold": "the raw change is below 0 and the adjustment 0",
    "hold harmless": "the raw change is below 0 and the adjustment 0",
    "no fall count": "the raw change and the adjustment are 0",
}


def trueup_rows(result: TrueupResult) -> list[list[object]]:
    """The True-up table's rows: one per school and fund, amounts to the cent."""
    return [[r.school_id, r.school_name, c.fund, amount(c.spring), amount(c.fall),
             amount(c.change), c.rule, amount(c.adjustment), amount(c.withheld),
             amount(c.amended), c.reason]
            for r in result.rows for c in (r.change,)]


def _column(key: str, label: str) -> Column:
    if key in MONEY_KEYS:
        return Column(label, styles.MONEY)
    if key == "reason":
        return Column(label, max_width=70)
    return Column(label, max_width=40)


def trueup_sheets(result: TrueupResult) -> list[TableSheet]:
    """The workbook's sheets, in order."""
    d = result.district
    names = {f.code: f.name for f in result.policy.funds}
    totals = result.fund_totals()
    summary_rows: list[list[object]] = [
        [t.fund, names[t.fund], t.spring, t.fall, t.change, t.withheld, t.adjustment,
         t.amended, "OK" if t.reconciles else "DIFFERENT"] for t in totals]
    everything = [excel_round(math.fsum(getattr(t, k) for t in totals))
                  for k in ("spring", "fall", "change", "withheld", "adjustment", "amended")]
    all_ok = abs(excel_round(everything[1] - everything[0] - everything[3])
                 - everything[4]) < 0.005
    summary_rows.append(["All funds", "", *everything, "OK" if all_ok else "DIFFERENT"])
    summary = TableSheet(
        "Summary",
        [Column("Fund"), Column("Fund name", max_width=40),
         *(Column(label, styles.MONEY) for label in (
             "Spring allocation", "Fall recomputed", "Raw change (fall - spring)",
             "Withheld by rules", "Adjustments", "Amended allocation")),
         Column("Adjustments = fall - spring - withheld")],
        summary_rows, title=f"{d.name}: fall true-up {d.fiscal_year}",
        subtitle=(f"Counts from {result.source}; base rate {format_money(result.fall.base_rate)}"
                  f" ({'solved again' if result.rules.resolve_base else 'adopted in spring'})."
                  " Values, not formulas: rerun ssfr-xl trueup to refresh."))
    table = TableSheet(SHEET, [_column(k, label) for k, label in TRUEUP_COLUMNS],
                       trueup_rows(result))
    counts = TableSheet(
        "Counts",
        [Column("School ID", max_width=40), Column("School", max_width=40),
         Column("Status", max_width=40), *(Column(label, styles.COUNT) for label in (
             "Spring enrollment", "Fall enrollment", "Change", "Spring unduplicated",
             "Fall unduplicated", "Change "))],
        [[c.school_id, c.name, c.status, _n(c.spring_enrollment), _n(c.fall_enrollment),
          _diff(c.fall_enrollment, c.spring_enrollment), _n(c.spring_unduplicated),
          _n(c.fall_unduplicated), _diff(c.fall_unduplicated, c.spring_unduplicated)]
         for c in result.counts])
    rules = [["Base rate", f"{format_money(result.fall.base_rate)} per weighted pupil: "
              + ("solved again for the budget on the fall counts" if result.rules.resolve_base
                 else "the rate adopted in spring (resolve_base = false)")]]
    rules += [[f"Fund {f.code}", result.rules.rule(f.code).describe()]
              for f in result.policy.funds]
    rules += [["Note", n] for n in result.notes]
    rules_sheet = TableSheet("Rules", [Column("Setting"), Column("Value", max_width=90)], rules)
    return [summary, table, counts, rules_sheet]


def _n(value: int | None) -> object:
    return "" if value is None else value


def _diff(after: int | None, before: int | None) -> object:
    return "" if after is None or before is None else after - before


def write_trueup(result: TrueupResult, out: Path, csv_path: Path | None,
                 inputs: Sequence[tuple[str, Path | None]]) -> None:
    """The workbook (and CSV), both written together or neither; never over an input."""
    out = Path(out)
    if out.suffix.lower() != ".xlsx":
        raise FileError(f"--out {line_text(out)}: the true-up workbook must be an .xlsx file.")
    check_output_places([("--out", out), ("--csv", csv_path)], [], list(inputs))
    require_folder(out, "--out")
    if csv_path is not None:
        require_folder(Path(csv_path), "--csv")
    outputs = OutputSet(protected=[p for _w, p in inputs if p is not None])
    try:
        write_table_book(outputs.file(out), trueup_sheets(result), result.district.name)
        if csv_path is not None:
            write_csv(outputs.file(Path(csv_path)), [k for k, _ in TRUEUP_COLUMNS],
                      trueup_rows(result))
        outputs.publish()
    finally:
        outputs.discard()


# --- reading a true-up back ------------------------------------------------------------------

def _csv_records(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_bytes().decode("cp1252", errors="replace")
    except OSError as e:
        raise FileError(f"Cannot read {line_text(path)}: {e.strerror or e}.") from e
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    header: list[str] = []
    for row in reader:
        if not header:
            header = [h.strip() for h in row]
            continue
        if any(cell.strip() for cell in row):
            rows.append((reader.line_num, row))
    return header, rows


def _xlsx_records(path: Path) -> tuple[list[str], list[tuple[int, list[object]]],
                                      dict[str, tuple[int, float | None]]]:
    """The True-up sheet's header and rows, and the Summary sheet's adjustments per fund
    (fund -> (row, amount)); a damaged workbook is a FileError naming the file."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    damaged = (OSError, EOFError, SyntaxError, zipfile.BadZipFile, zlib.error, KeyError,
               ValueError, TypeError, IndexError, InvalidFileException)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except damaged as e:
        raise FileError(f"{line_text(path)} is not a true-up workbook ssfr-xl can read "
                        f"({type(e).__name__}): give the .xlsx or .csv ssfr-xl trueup wrote.") \
            from e
    try:
        if SHEET not in wb.sheetnames:
            raise InputError(f"{line_text(path.name)} has no {SHEET} sheet: give the workbook "
                             "ssfr-xl trueup wrote (or its --csv).")
        labels = {label: key for key, label in TRUEUP_COLUMNS}
        header, rows = _sheet_table(wb[SHEET], lambda cells: bool(cells)
                                    and cells[0] in labels)
        header = [labels.get(h, h) for h in header]
        summary: dict[str, tuple[int, float | None]] = {}
        if "Summary" in wb.sheetnames:
            top, lines = _sheet_table(wb["Summary"], lambda cells: bool(cells)
                                      and cells[0] == "Fund")
            if "Adjustments" in top:
                at = top.index("Adjustments")
                for r, cells in lines:
                    value = cells[at] if at < len(cells) else None
                    number = (float(value) if isinstance(value, int | float)
                              and not isinstance(value, bool) else None)
                    summary[str(cells[0])] = (r, number)
        return header, rows, summary
    except damaged as e:
        raise FileError(f"{line_text(path)} is damaged ({type(e).__name__}: "
                        f"{line_text(e)[:200]}): give the .xlsx or .csv ssfr-xl trueup wrote, "
                        "or run ssfr-xl trueup again.") from e
    finally:
        wb.close()


def _sheet_table(ws, is_header) -> tuple[list[str], list[tuple[int, list[object]]]]:
    """A sheet's header (the first row `is_header` accepts, within the first 10) and the
    non-blank rows below it, with their 1-based row numbers."""
    ws.reset_dimensions()
    header: list[str] = []
    rows: list[tuple[int, list[object]]] = []
    for r, values in enumerate(ws.iter_rows(values_only=True), start=1):
        cells = list(values)
        if not header:
            if is_header(cells):
                header = [str(v) if v is not None else "" for v in cells]
            elif r > 10:
                break
            continue
        if any(v not in (None, "") for v in cells):
            rows.append((r, cells))
    return header, rows


def _row_problems(school: str, fund: str, rule: str, n: dict[str, float]
                  ) -> list[tuple[str, str]]:
    """(column, what is wrong) of a row whose numbers do not reconcile with each other or
    with its rule: a row ssfr-xl trueup wrote has none."""
    again = "the file was edited. Run ssfr-xl trueup again"
    spring, fall, raw = n["spring_allocation"], n["fall_recomputed"], n["raw_change"]
    adj, withheld, amended = n["adjustment"], n["withheld_by_rule"], n["amended_allocation"]

    def differs(a: float, b: float) -> bool:
        return abs(excel_round(a) - excel_round(b)) >= 0.005

    if differs(spring + adj, amended):
        return [("amended_allocation",
                 f"{school} {fund}: spring {format_money(spring)} + adjustment "
                 f"{format_money(adj)} is not the amended allocation {format_money(amended)}: "
                 f"{again} (change the [trueup] rules in the policy to change an "
                 "adjustment).")]
    if differs(fall - spring, raw):
        return [("raw_change",
                 f"{school} {fund}: fall recomputed {format_money(fall)} - spring "
                 f"{format_money(spring)} = {format_money(excel_round(fall - spring))}, not the "
                 f"raw change {format_money(raw)}: {again}.")]
    if differs(raw - adj, withheld):
        return [("withheld_by_rule",
                 f"{school} {fund}: raw change {format_money(raw)} - adjustment "
                 f"{format_money(adj)} = {format_money(excel_round(raw - adj))}, not the "
                 f"{format_money(withheld)} withheld by rule: {again}.")]
    if rule not in RULES:
        return [("rule", f"{school} {fund}: {rule!r} is not a rule of the true-up (it writes "
                 f"{', '.join(RULES)}): {again}.")]
    raw, adj = excel_round(raw), excel_round(adj)
    fits = {"increase": raw > 0 and adj == raw,
            "no change": raw == 0 and adj == 0,
            "reduction": raw < 0 and adj == raw,
            "clawback capped": raw < 0 and raw < adj <= 0,
            "below threshold": raw < 0 and adj == 0,
            "hold harmless": raw < 0 and adj == 0,
            "no fall count": raw == 0 and adj == 0}[rule]
    if not fits:
        return [("adjustment", f"{school} {fund}: the rule {rule!r} means "
                 f"{RULE_NUMBERS[rule]}, but the raw change is {format_money(raw)} and the "
                 f"adjustment {format_money(adj)}: {again}.")]
    return []


def read_amendments(path: Path, inputs: DistrictInputs) -> dict[str, Amendment]:
    """Each school's amendment from a true-up workbook or CSV, checked against the district
    workbook: its schools and funds, and its spring allocations (a true-up made from another
    version of the district workbook is refused). Schools the file leaves out get none."""
    from .formula import allocate

    path = Path(path)
    if not path.exists():
        raise FileError(f"True-up file not found: {line_text(path)}.")
    if not path.is_file():
        raise FileError(f"{line_text(path)} is not a regular file: give the true-up .xlsx or "
                        ".csv ssfr-xl trueup wrote.")
    try:
        size = path.stat().st_size
    except OSError as e:
        raise FileError(f"Cannot read {line_text(path)}: {e.strerror or e}.") from e
    if size > MAX_FILE_BYTES:
        raise FileError(f"{line_text(path)} is {size:,} bytes, more than a true-up file "
                        f"ssfr-xl writes (at most {MAX_FILE_BYTES:,}): give the .xlsx or .csv "
                        "ssfr-xl trueup wrote.")
    xlsx = path.suffix.lower() == ".xlsx"
    summary: dict[str, tuple[int, float | None]] = {}
    if xlsx:
        header, records, summary = _xlsx_records(path)
    else:
        header, records = _csv_records(path)
    where = "row" if xlsx else "line"
    name = path.name
    keys = [k for k, _ in TRUEUP_COLUMNS]
    missing = [k for k in keys if k not in header]
    if missing:
        raise InputError(f"{name}: the column {missing[0]!r} is missing"
                         f"{' from the ' + SHEET + ' sheet' if xlsx else ''}; give the file "
                         "ssfr-xl trueup wrote, with its columns as they are "
                         f"({', '.join(keys)}).")
    at = {k: header.index(k) for k in keys}
    result = allocate(inputs)
    spring = {s.school_id: fund_amounts(result, i) for i, s in enumerate(inputs.schools)}
    funds = [f.code for f in inputs.policy.funds]
    problems: list[str] = []
    changes: dict[str, dict[str, FundChange]] = {}

    def cell(row: list, key: str) -> object:
        i = at[key]
        value = row[i] if i < len(row) else None
        return value.strip() if isinstance(value, str) else value

    for line, row in records:
        def problem(key: str, text: str, line: int = line) -> None:
            problems.append(f"{name} {where} {line}, column {key!r}: {text}")

        school = "" if cell(row, "school_id") is None else str(cell(row, "school_id"))
        fund = "" if cell(row, "fund") is None else str(cell(row, "fund"))
        if school not in spring:
            problem("school_id", f"{school!r} is not a school of {inputs.district.name}: the "
                    "true-up was made for another district workbook, or the id was changed. "
                    "Run ssfr-xl trueup again on this district workbook.")
            continue
        if fund not in funds:
            problem("fund", f"{fund!r} is not a fund of this district ({', '.join(funds)}).")
            continue
        numbers: dict[str, float] = {}
        for key in MONEY_KEYS:
            value = cell(row, key)
            try:
                number = float(value) if not isinstance(value, bool) and value not in (
                    None, "") else math.nan
            except (TypeError, ValueError):
                number = math.nan
            if not math.isfinite(number):
                problem(key, f"{value!r} is not an amount; the true-up writes every amount as "
                        "a number. Run ssfr-xl trueup again rather than editing the file.")
            numbers[key] = number
        if len(numbers) != len(MONEY_KEYS) or any(not math.isfinite(v)
                                                   for v in numbers.values()):
            continue
        record = spring[school][fund]
        if abs(numbers["spring_allocation"] - record) >= 0.005:
            problem("spring_allocation",
                    f"{school} {fund}: the file's spring allocation "
                    f"{format_money(numbers['spring_allocation'])} is not the district "
                    f"workbook's {format_money(record)}: the district workbook changed after "
                    "the true-up. Run ssfr-xl trueup again.")
            continue
        rule = str(cell(row, "rule") or "")
        found = _row_problems(school, fund, rule, numbers)
        for key, text in found:
            problem(key, text)
        if found:
            continue
        if fund in changes.get(school, {}):
            problem("fund", f"{school} {fund} appears twice; each school and fund once.")
            continue
        reason = cell_text(str(cell(row, "reason") or ""))
        if len(reason) > MAX_REASON:
            reason = reason[:MAX_REASON] + " ... (cut)"
        changes.setdefault(school, {})[fund] = FundChange(
            fund, record, excel_round(numbers["fall_recomputed"]), rule,
            excel_round(numbers["adjustment"]), reason)
    for school, by_fund in changes.items():
        lacking = [f for f in funds if f not in by_fund]
        if lacking and not problems:  # a row refused above is not a row left out
            problems.append(f"{name}: {school} has no row for fund {', '.join(lacking)}; the "
                            "true-up writes one row per school and fund. Run ssfr-xl trueup "
                            "again rather than deleting rows.")
    if not problems and summary:
        for f in funds:
            r, stated = summary.get(f, (0, None))
            rows_total = excel_round(math.fsum(by_fund[f].adjustment
                                               for by_fund in changes.values() if f in by_fund))
            if stated is None or abs(stated - rows_total) >= 0.005:
                problems.append(
                    f"{name} Summary sheet{f', row {r}' if r else ''}, column 'Adjustments': "
                    f"the {f} adjustments are "
                    f"{'missing' if stated is None else format_money(stated)}, but the {SHEET} "
                    f"sheet's rows add up to {format_money(rows_total)}: the file was edited. "
                    "Run ssfr-xl trueup again.")
    if not records:
        problems.append(f"{name}: no rows below the header; give the file ssfr-xl trueup "
                        "wrote.")
    if problems:
        shown = problems[:MAX_PROBLEMS]
        more = len(problems) - len(shown)
        raise InputError(f"The true-up file {name} has problems:\n  - " + "\n  - ".join(shown)
                         + (f"\n  ... and {more} more" if more else ""))
    return {school: Amendment(0, name, tuple(by_fund[f] for f in funds if f in by_fund))
            for school, by_fund in changes.items()}


def trueup_district(district_xlsx: Path, out: Path, *, counts: Path | None = None,
                    cde: Path | None = None, district_code: str | None = None,
                    policy_path: Path | None = None, csv_path: Path | None = None,
                    progress=lambda _m: None) -> str:
    """Run the fall true-up of a district workbook and write its outputs; returns the summary
    to print (each school's adjustment, the totals by fund, the notes)."""
    from .district_book import read_district
    from .trueup import load_trueup_rules, read_fall_counts, run_trueup, summary_lines

    district_xlsx = Path(district_xlsx)
    inputs_given = [("the district workbook", district_xlsx), ("the counts file", counts),
                    ("the CDE file", cde), ("the policy file", policy_path)]
    # refuse a bad output place before any work
    check_output_places([("--out", Path(out)), ("--csv", csv_path)], [], inputs_given)
    progress(f"reading inputs of {district_xlsx.name}")
    inputs = read_district(district_xlsx)
    rules = load_trueup_rules(policy_path, [f.code for f in inputs.policy.funds])
    code = district_code or inputs.district.cds_code[2:7]
    progress(f"reading the fall counts {(counts or cde).name}")  # type: ignore[union-attr]
    fall = read_fall_counts(inputs.policy, counts=counts, cde=cde, district_code=code)
    progress("recomputing allocations on the fall counts")
    result = run_trueup(inputs, fall, rules)
    write_trueup(result, Path(out), csv_path, inputs_given)
    wrote = f"Wrote {line_text(out)}" + (f" and {line_text(csv_path)}" if csv_path else "")
    return "\n".join([wrote, *summary_lines(result)])


__all__ = ["SHEET", "TRUEUP_COLUMNS", "read_amendments", "trueup_district", "trueup_rows",
           "trueup_sheets", "write_trueup"]
