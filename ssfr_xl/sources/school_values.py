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
import re
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

from ..errors import FileError, RosterError
from ..exports import atomic_target, csv_text
from ..model import School
from .roster import _decode, _format_number, _number, _roster_error, _sniff_delimiter

#: What a spreadsheet makes of a long digit code it took for a number: 1.99999600000E+12.
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?E\+\d+$", re.IGNORECASE)


def local_number(raw: str, delimiter: str) -> float | None:
    """A number from a cell, as _number reads it; in a file separated by semicolons (what Excel
    writes where the decimal separator is a comma) "12,5" is 12.5 and "85.000,50" is 85000.5,
    never 125 or 12500; US dollars ("$85,000.50": a point after the last comma) stay as they
    are."""
    text = raw.strip().replace("\u20ac", "")  # a euro sign, as a dollar sign is dropped
    if delimiter == ";" and "," in text and "$" not in text and \
            "." not in text[text.rindex(","):]:
        text = text.replace(".", "").replace(",", ".")
    return _number(text) if text else None


def unknown_school(raw: str, ids: Collection[str]) -> str:
    """Why `raw` is not one of the school ids, and what to type instead (for a message that
    follows "column 'school_id': "). A spreadsheet that opened the CSV may have dropped the
    leading zeros of a numeric id or shown it as 1.9E+12: say which id it was."""
    if not raw:
        return "the school ID is blank — type the school_id of the Schools sheet."
    if raw.isdigit():
        meant = [i for i in ids if i.isdigit() and i.lstrip("0") == raw.lstrip("0")]
        if len(meant) == 1:
            return (f"'{raw}' is not a school of the district; it looks like {meant[0]} with "
                    "its leading zeros dropped by a spreadsheet — format the column as Text and "
                    f"type {meant[0]} (or save the file from ssfr-xl or a text editor).")
    if _SCIENTIFIC.match(raw):
        return (f"'{raw}' is not a school ID: a spreadsheet showed a long code as a number and "
                "lost its digits — format the column as Text and type the school_id of the "
                "Schools sheet again.")
    return (f"'{raw}' is not a school of the district — use the school_id of the Schools "
            "sheet.")


def read_school_values(path: str | os.PathLike[str], column: str, schools: Sequence[School],
                       *, what: str, pupils: bool = False,
                       every_school: bool = False,
                       at_most: float | None = None) -> dict[str, float]:
    """school_id -> the value of `column` (a number, 0 or more, at most `at_most` if given;
    with `pupils`, a whole number at most the school's enrollment). With `every_school`, a
    school left out is a problem. A file with no rows is a problem too."""
    path = Path(path)
    try:
        text = _decode(path)
    except FileError as exc:
        raise FileError(str(exc).replace("the roster file", "the file")) from None
    name = path.name
    delimiter = _sniff_delimiter(text)
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    if not rows or not any(c.strip() for c in rows[0]):
        raise RosterError(f"{name} is empty — it needs the header school_id,{column} and one "
                          "row per school.")
    header = [h.strip().lstrip("\ufeff").casefold() for h in rows[0]]
    missing = [c for c in ("school_id", column) if c not in header]
    if missing:
        raise RosterError(f"{name} line 1: the column(s) {', '.join(missing)} are missing — "
                          f"the header must hold school_id,{column}.")
    for col in ("school_id", column):
        if header.count(col) > 1:
            first = [i + 1 for i, h in enumerate(header) if h == col]
            raise RosterError(f"{name} line 1, column '{col}': the column appears twice "
                              f"(columns {first[0]} and {first[1]}) — delete one of them.")
    at_id, at_value = header.index("school_id"), header.index(column)
    by_id = {s.school_id: s for s in schools}
    problems: list[str] = []
    values: dict[str, float] = {}
    listed: set[str] = set()  # schools with a row, good or bad
    for number, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        school_id = row[at_id].strip() if at_id < len(row) else ""
        raw = row[at_value].strip() if at_value < len(row) else ""
        where = f"{name} line {number}"
        school = by_id.get(school_id)
        if school is None:
            problems.append(f"{where}, column 'school_id': {unknown_school(school_id, by_id)}")
            continue
        if school_id in listed:
            problems.append(f"{where}, column 'school_id': school {school_id} is listed "
                            "twice — keep one row per school.")
            continue
        listed.add(school_id)
        value = local_number(raw, delimiter)
        if value is None or value < 0:
            problems.append(f"{where}, column '{column}': '{raw}' is not {what} — type a "
                            "number, 0 or more.")
            continue
        if at_most is not None and value > at_most:
            problems.append(f"{where}, column '{column}': {raw} is more than {at_most:g} — type "
                            f"{what}, from 0 to {at_most:g}.")
            continue
        if pupils and (value != int(value) or value > school.enrollment):
            problems.append(f"{where}, column '{column}': {raw} must be a whole number of "
                            f"pupils, at most the school's enrollment ({school.enrollment}).")
            continue
        values[school_id] = value
    if every_school:
        left = [s.school_id for s in schools if s.school_id not in listed]
        if left:
            problems.append(f"{name}: {len(left)} school(s) are missing, e.g. {left[0]} — add "
                            f"a row for every school (0 where the value is none).")
    if problems:
        raise _roster_error(name, problems)
    if not values:
        raise RosterError(f"{name} has a header but no rows — add one row per school "
                          f"(school_id,{column}).")
    return values


def write_school_values(values: dict[str, float], column: str,
                        path: str | os.PathLike[str]) -> None:
    """Write school_id,<column> rows (UTF-8 with BOM, as Excel reads it)."""
    write_rows_csv(path, ("school_id", column),
                   [(school_id, _format_number(value)) for school_id, value in values.items()])


def write_rows_csv(path: str | os.PathLike[str], header: Sequence[str],
                   rows: Iterable[Sequence[object]]) -> None:
    """A CSV of input rows ssfr-xl writes for people to review (UTF-8 with BOM, as Excel reads
    it), as every CSV export: ids a spreadsheet would change (leading zeros) quoted, text that
    looks like a formula made safe, written to a temporary file and renamed into place."""
    path = Path(path)
    with atomic_target(path) as tmp:
        try:
            tmp.write_text("\ufeff" + csv_text(header, rows), encoding="utf-8", newline="")
        except OSError as exc:
            raise FileError(f"Could not write {path}: {exc.strerror or exc}.") from exc
