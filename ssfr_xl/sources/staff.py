"""The district's staff roster as a CSV file: one row per position.

Columns (header names matched case-insensitively; extra columns such as a name or an employee
number are allowed and ignored):

    school_id     the roster's school_id
    job_class     a job class code of the policy (TCH, TCH-SPED, PRIN, ...)
    fte           full-time equivalent of the position, above 0 and at most 1.0
    salary        the annual salary actually paid for the position, at its FTE (dollars)
    years         years of teaching experience (verifiable years of service), 0 or more
    credential    full (clear or preliminary credential), or intern, permit, waiver, none
    out_of_field  Y when the teacher teaches outside the subject of the credential, else N

Every problem is collected and raised at once, each naming the file, line and column and
saying what to type instead.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..cells import unwritable_character
from ..errors import FileError, RosterError
from ..line_messages import describe, suggestion
from ..model import Policy, School
from ..money import excel_round
from .roster import _FALSE, _TRUE, _decode, _roster_error, _sniff_delimiter
from .school_values import local_number, unknown_school, write_rows_csv

STAFF_COLUMNS = ("school_id", "job_class", "fte", "salary", "years", "credential",
                 "out_of_field")
#: Credential statuses that count as fully credentialed, and those that do not.
FULL_CREDENTIALS = frozenset({"full", "clear", "preliminary"})
PARTIAL_CREDENTIALS = frozenset({"intern", "permit", "waiver", "none"})
MAX_YEARS = 60.0
#: The most a position may pay a year: more is a typo (cents typed as dollars, a total).
MAX_SALARY = 1_000_000.0


@dataclass(frozen=True)
class StaffPosition:
    """One position of the staff roster."""

    school_id: str
    job_class: str
    fte: float
    salary: float  # actual annual pay for the position at its FTE
    years: float  # years of experience
    credential: str  # lower case, one of FULL_CREDENTIALS or PARTIAL_CREDENTIALS
    out_of_field: bool

    @property
    def fully_credentialed(self) -> bool:
        """True for a clear or preliminary credential."""
        return self.credential in FULL_CREDENTIALS


def read_staff_csv(path: str | os.PathLike[str], policy: Policy,
                   schools: Sequence[School]) -> tuple[StaffPosition, ...]:
    """Read and check a staff CSV against the policy's job classes and the roster's schools."""
    path = Path(path)
    try:
        text = _decode(path)
    except FileError as exc:  # _decode speaks of a roster file
        raise FileError(str(exc).replace("roster file", "staff file")) from None
    name = path.name
    delimiter = _sniff_delimiter(text)
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    if not rows or not any(c.strip() for c in rows[0]):
        raise RosterError(f"{name} is empty — it needs the header {','.join(STAFF_COLUMNS)} "
                          "and one row per position.")
    problems: list[str] = []
    at: dict[str, int] = {}
    for i, raw in enumerate(rows[0]):
        key = raw.strip().lstrip("\ufeff").casefold()
        if key in STAFF_COLUMNS:
            if key in at:
                problems.append(f"{name} line 1, column '{key}': the column appears twice "
                                f"(columns {at[key] + 1} and {i + 1}) — delete one of them.")
            at.setdefault(key, i)
    missing = [c for c in STAFF_COLUMNS if c not in at]
    if missing:
        problems.append(f"{name} line 1: the column(s) {', '.join(missing)} are missing — the "
                        f"header must hold {','.join(STAFF_COLUMNS)}.")
    if problems:
        raise _roster_error(name, problems)
    ids = {s.school_id for s in schools}
    jobs = {j.code for j in policy.job_classes}
    positions: list[StaffPosition] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = {c: (row[i].strip() if i < len(row) else "") for c, i in at.items()}
        before = len(problems)

        def problem(col: str, what: str, number: int = number) -> None:
            problems.append(f"{name} line {number}, column '{col}': {what}")

        bad = next(((c, unwritable_character(v)) for c, v in cells.items()
                    if unwritable_character(v)), None)
        if bad:
            problem(bad[0], f"holds the character {bad[1]}, which a workbook cannot hold — "
                    "delete it.")
        if cells["school_id"] not in ids:
            problem("school_id", unknown_school(cells["school_id"], ids))
        if cells["job_class"] not in jobs:
            meant = suggestion(cells["job_class"], jobs)
            problem("job_class", f"{describe(cells['job_class'])} is not a job class of the "
                    f"district ({', '.join(sorted(jobs))})"
                    + (f" — type {meant} exactly." if meant else "."))
        fte = local_number(cells["fte"], delimiter)
        if fte is None or not 0 < fte <= 1:
            problem("fte", f"'{cells['fte']}' is not an FTE — type a number above 0 and at "
                    "most 1.0 (one row per position).")
        salary = local_number(cells["salary"], delimiter)
        if salary is None or salary <= 0:
            problem("salary", f"'{cells['salary']}' is not a salary — type the annual dollars "
                    "paid for the position (e.g. 84500).")
        elif salary > MAX_SALARY:
            problem("salary", f"{cells['salary']} is more than ${MAX_SALARY:,.0f} a year for one "
                    "position — type the annual dollars paid for the position (e.g. 84500).")
        elif salary != excel_round(salary):
            problem("salary", f"{cells['salary']} has fractions of a cent — type dollars and "
                    "cents (e.g. 84500.25).")
        years = local_number(cells["years"], delimiter)
        if years is None or not 0 <= years <= MAX_YEARS:
            problem("years", f"'{cells['years']}' is not a number of years — type the years "
                    f"of experience, from 0 to {MAX_YEARS:g}.")
        credential = cells["credential"].casefold()
        if credential not in FULL_CREDENTIALS | PARTIAL_CREDENTIALS:
            problem("credential", f"'{cells['credential']}' is not a credential status — type "
                    "full (clear or preliminary), intern, permit, waiver or none.")
        flag = cells["out_of_field"].casefold()
        if flag not in _TRUE | _FALSE:
            problem("out_of_field", f"'{cells['out_of_field']}' is not Y or N — type Y if the "
                    "teacher teaches outside the credential's subject, else N.")
        if len(problems) > before:
            continue
        positions.append(StaffPosition(cells["school_id"], cells["job_class"], float(fte),
                                       float(salary), float(years), credential,
                                       flag in _TRUE))
    if problems:
        raise _roster_error(name, problems)
    if not positions:
        raise RosterError(f"{name} has a header but no positions — add one row per position.")
    return tuple(positions)


def write_staff_csv(positions: Iterable[StaffPosition], path: str | os.PathLike[str]) -> None:
    """Write a staff roster CSV (UTF-8 with BOM, as Excel reads it; ids quoted)."""
    write_rows_csv(path, STAFF_COLUMNS,
                   [(p.school_id, p.job_class, f"{p.fte:g}", f"{p.salary:.2f}", f"{p.years:g}",
                     p.credential, "Y" if p.out_of_field else "N") for p in positions])
