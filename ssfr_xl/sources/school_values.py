"""One number per school from a two-column CSV: school_id and a value.

Used for figures that come from outside the roster: each school's minority pupils (for the
teacher-equity report's minority quartiles) and next year's performance points (written by
`ssfr-xl results`, reviewed by the budget office, read by `ssfr-xl init --performance`).
Every problem is collected and raised at once, naming file, line and column.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import FileError, RosterError
from ..model import School
from .roster import _decode, _format_number, _number, _roster_error, _sniff_delimiter


def read_school_values(path: str | os.PathLike[str], column: str, schools: Sequence[School],
                       *, what: str, pupils: bool = False,
                       every_school: bool = False) -> dict[str, float]:
    """school_id -> the value of `column` (a number, 0 or more; with `pupils`, a whole number
    at most the school's enrollment). With `every_school`, a school left out is a problem."""
    path = Path(path)
    try:
        text = _decode(path)
    except FileError as exc:
        raise FileError(str(exc).replace("the roster file", "the file")) from None
    name = path.name
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text)))
    header = [h.strip().lstrip("\ufeff").casefold() for h in rows[0]] if rows else []
    missing = [c for c in ("school_id", column) if c not in header]
    if missing:
        raise RosterError(f"{name} line 1: the column(s) {', '.join(missing)} are missing — "
                          f"the header must hold school_id,{column}.")
    at_id, at_value = header.index("school_id"), header.index(column)
    by_id = {s.school_id: s for s in schools}
    problems: list[str] = []
    values: dict[str, float] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        school_id = row[at_id].strip() if at_id < len(row) else ""
        raw = row[at_value].strip() if at_value < len(row) else ""
        where = f"{name} line {number}"
        school = by_id.get(school_id)
        if school is None:
            problems.append(f"{where}, column 'school_id': '{school_id}' is not a school of "
                            "the district — use the school_id of the Schools sheet.")
            continue
        if school_id in values:
            problems.append(f"{where}, column 'school_id': school {school_id} is listed "
                            "twice — keep one row per school.")
            continue
        value = _number(raw) if raw else None
        if value is None or value < 0:
            problems.append(f"{where}, column '{column}': '{raw}' is not {what} — type a "
                            "number, 0 or more.")
            continue
        if pupils and (value != int(value) or value > school.enrollment):
            problems.append(f"{where}, column '{column}': {raw} must be a whole number of "
                            f"pupils, at most the school's enrollment ({school.enrollment}).")
            continue
        values[school_id] = value
    if every_school:
        left = [s.school_id for s in schools if s.school_id not in values]
        if left:
            problems.append(f"{name}: {len(left)} school(s) are missing, e.g. {left[0]} — add "
                            f"a row for every school (0 where the value is none).")
    if problems:
        raise _roster_error(name, problems)
    return values


def write_school_values(values: dict[str, float], column: str,
                        path: str | os.PathLike[str]) -> None:
    """Write school_id,<column> rows (UTF-8 with BOM, as Excel reads it)."""
    path = Path(path)
    try:
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(("school_id", column))
            for school_id, value in values.items():
                writer.writerow((school_id, _format_number(value)))
    except OSError as exc:
        raise FileError(f"Could not write {path}: {exc.strerror or exc}.") from exc
