"""Per-school adjustment lines as a CSV file: school_id, component, amount, reason.

One row per named dollar line (a hold-harmless or baseline-staffing supplement, a state
adjustment, "other"); amounts may be negative. `component` is the code of one of the policy's
adjustment components, which says the fund and whether the line counts in the budget. Every
problem is collected and raised at once, each naming the file, line and column.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from ssfr_xl.cells import unwritable_character
from ssfr_xl.errors import FileError, RosterError
from ssfr_xl.model import Adjustment, Policy, School
from ssfr_xl.sources.roster import _decode, _number, _sniff_delimiter

COLUMNS = ("school_id", "component", "amount", "reason")


def read_adjustments_csv(path: str | os.PathLike[str], policy: Policy,
                         schools: Sequence[School]) -> tuple[Adjustment, ...]:
    """Read and check an adjustments CSV against the policy and the roster."""
    path = Path(path)
    text = _decode(path)
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text)))
    name = path.name
    if not rows:
        raise RosterError(f"{name} is empty — it needs the header {','.join(COLUMNS)}.")
    header = [h.strip().lstrip("\ufeff").casefold() for h in rows[0]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise RosterError(f"{name} line 1: the column(s) {', '.join(missing)} are missing — "
                          f"the header must be {','.join(COLUMNS)}.")
    at = {c: header.index(c) for c in COLUMNS}
    ids = {s.school_id for s in schools}
    codes = [c.code for c in policy.components if c.kind == "adjustment"]
    problems: list[str] = []
    lines: list[Adjustment] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = {c: (row[i].strip() if i < len(row) else "") for c, i in at.items()}

        def problem(col: str, text: str, number: int = number) -> None:
            problems.append(f"{name} line {number}, column '{col}': {text}")

        if cells["school_id"] not in ids:
            problem("school_id", f"'{cells['school_id']}' is not a school of the roster — use "
                    "the roster's school_id.")
        if cells["component"] not in codes:
            problem("component", f"'{cells['component']}' is not an adjustment component of "
                    f"the policy ({', '.join(codes) or 'add a component with kind = '}"
                    f"{'' if codes else chr(34) + 'adjustment' + chr(34)}).")
        amount = _number(cells["amount"]) if cells["amount"] else None
        if amount is None:
            problem("amount", f"'{cells['amount']}' is not a number of dollars (negative to "
                    "hold back).")
        bad = next((unwritable_character(v) for v in cells.values() if unwritable_character(v)),
                   None)
        if bad:
            problem("reason", f"holds the character {bad}, which a workbook cannot hold — "
                    "delete it.")
        if not cells["reason"]:
            problem("reason", "say why the school gets this line (it is shown on its plan).")
        if problems and problems[-1].startswith(f"{name} line {number},"):
            continue
        lines.append(Adjustment(cells["school_id"], cells["component"], float(amount or 0),
                                cells["reason"]))
    if problems:
        raise RosterError(f"{name} has {len(problems)} problem(s):\n"
                          + "\n".join(f"  {p}" for p in problems))
    return tuple(lines)


def write_adjustments_csv(lines: Iterable[Adjustment], path: str | os.PathLike[str]) -> None:
    """Write adjustment lines as a CSV (UTF-8 with BOM, as Excel reads it)."""
    path = Path(path)
    try:
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            for a in lines:
                writer.writerow([a.school_id, a.component, repr(a.amount), a.reason])
    except OSError as exc:
        raise FileError(f"Could not write {path}: {exc.strerror or exc}.") from exc
