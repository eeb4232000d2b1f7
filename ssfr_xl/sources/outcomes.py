"""Year-end outcomes as a CSV file: one row per school and indicator.

Columns (header names matched case-insensitively; extra columns are ignored):

    school_id   the roster's school_id
    indicator   an indicator code of the district (the Dashboard's or its own)
    prior       the indicator last year (the year the plan's baseline describes)
    result      the indicator this year
    students    how many students the figures are about (whole number, 0 or more)

Numbers are in the indicator's unit (12.5 for 12.5%). Every problem is collected and raised at
once, each naming the file, line and column and saying what to type.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import FileError, RosterError
from ..indicators import indicator_list
from ..line_messages import describe, suggestion
from ..model import Policy, School
from .roster import _decode, _format_number, _roster_error, _sniff_delimiter
from .school_values import local_number, unknown_school, write_rows_csv

#: The largest value an outcome may have in any unit (a workbook keeps 15 significant digits);
#: a percentage is from 0 to 100.
MAX_VALUE = 1e9
MAX_STUDENTS = 10_000_000

OUTCOME_COLUMNS = ("school_id", "indicator", "prior", "result", "students")


@dataclass(frozen=True)
class Outcome:
    """One school's indicator last year and this year."""

    school_id: str
    indicator: str
    prior: float
    result: float
    students: int


def read_outcomes_csv(path: str | os.PathLike[str], policy: Policy,
                      schools: Sequence[School]) -> tuple[Outcome, ...]:
    """Read and check an outcomes CSV against the district's indicators and schools."""
    path = Path(path)
    try:
        text = _decode(path)
    except FileError as exc:
        raise FileError(str(exc).replace("roster file", "outcomes file")) from None
    name = path.name
    delimiter = _sniff_delimiter(text)
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    if not rows or not any(c.strip() for c in rows[0]):
        raise RosterError(f"{name} is empty — it needs the header {','.join(OUTCOME_COLUMNS)} "
                          "and one row per school and indicator.")
    header = [h.strip().lstrip("\ufeff").casefold() for h in rows[0]]
    missing = [c for c in OUTCOME_COLUMNS if c not in header]
    if missing:
        raise RosterError(f"{name} line 1: the column(s) {', '.join(missing)} are missing — the "
                          f"header must hold {','.join(OUTCOME_COLUMNS)}.")
    twice = [c for c in OUTCOME_COLUMNS if header.count(c) > 1]
    if twice:
        first = [i + 1 for i, h in enumerate(header) if h == twice[0]]
        raise RosterError(f"{name} line 1, column '{twice[0]}': the column appears twice "
                          f"(columns {first[0]} and {first[1]}) — delete one of them.")
    at = {c: header.index(c) for c in OUTCOME_COLUMNS}
    ids = {s.school_id for s in schools}
    codes = [i.code for i in indicator_list(policy)]
    units = {i.code: i.unit.strip() for i in indicator_list(policy)}
    problems: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    out: list[Outcome] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        cells = {c: (row[i].strip() if i < len(row) else "") for c, i in at.items()}
        before = len(problems)

        def problem(col: str, what: str, number: int = number) -> None:
            problems.append(f"{name} line {number}, column '{col}': {what}")

        if cells["school_id"] not in ids:
            problem("school_id", unknown_school(cells["school_id"], ids))
        if cells["indicator"] not in codes:
            meant = suggestion(cells["indicator"], codes)
            problem("indicator", f"{describe(cells['indicator'])} is not an indicator of the "
                    f"district ({', '.join(codes)})"
                    + (f" — type {meant} exactly." if meant else "."))
        unit = units.get(cells["indicator"], "")
        values = {}
        for col in ("prior", "result"):
            values[col] = local_number(cells[col], delimiter)
            if values[col] is None:
                problem(col, f"'{cells[col]}' is not a number — type the indicator's value in "
                        "its unit (12.5 for 12.5%).")
            elif unit == "%" and not 0 <= values[col] <= 100:
                problem(col, f"{cells[col]} is not a percentage — type a number from 0 to 100 "
                        "(12.5 for 12.5%).")
            elif abs(values[col]) > MAX_VALUE:
                problem(col, f"{cells[col]} is too large for an indicator — type the value in "
                        f"the indicator's unit ({unit or 'as the Dashboard reports it'}).")
        students = local_number(cells["students"], delimiter)
        if students is None or students < 0 or students != int(students) or \
                students > MAX_STUDENTS:
            problem("students", f"'{cells['students']}' is not a number of students — type a "
                    "whole number, 0 or more.")
        key = (cells["school_id"], cells["indicator"])
        if key in seen:
            problem("indicator", f"school {key[0]} has {key[1]} on line {seen[key]} already — "
                    "keep one row per school and indicator.")
        if len(problems) > before:
            continue
        seen[key] = number
        out.append(Outcome(key[0], key[1], float(values["prior"]), float(values["result"]),
                           int(students)))
    if problems:
        raise _roster_error(name, problems)
    if not out:
        raise RosterError(f"{name} has a header but no outcomes — add one row per school and "
                          "indicator.")
    return tuple(out)


def write_outcomes_csv(outcomes: Iterable[Outcome], path: str | os.PathLike[str]) -> None:
    """Write an outcomes CSV (UTF-8 with BOM, as Excel reads it; ids quoted)."""
    write_rows_csv(path, OUTCOME_COLUMNS,
                   [(o.school_id, o.indicator, _format_number(o.prior), _format_number(o.result),
                     o.students) for o in outcomes])
