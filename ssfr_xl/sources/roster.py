"""The school roster as a CSV file: one row per school, the columns of ROSTER_COLUMNS.

The roster is what a budget office keeps in Excel, so the reader is forgiving about how Excel
saves a CSV (UTF-8 with or without a byte-order mark, Windows-1252/Latin-1, "12.0" for 12,
thousands separators, semicolons in some locales) and strict about the contents. It checks
every row, collects every problem and raises one RosterError that lists them all, each naming
the file, line and column, what is wrong and what to do, so the file can be fixed in one pass.

Required columns: school_id, school_name, low_grade, high_grade, the grade columns TK..12 and
the subgroup counts (frpm, el, swd, foster, homeless, unduplicated); a missing one would
silently zero pupils or a need weight. Optional columns, when absent or blank: level (derived
from the grades served), prior_year_allocation, performance_points, hard_to_staff_teachers
(0) and grades_estimated (N).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ssfr_xl.cells import unwritable_character
from ssfr_xl.errors import FileError, RosterError
from ssfr_xl.model import GRADES, LEVELS, RosterColumn, School, grade_index, level_for_grades

#: The roster's columns, in the order write_roster_csv writes them.
ROSTER_COLUMNS: tuple[str, ...] = (
    "school_id",
    "school_name",
    "cds_code",
    "level",
    "low_grade",
    "high_grade",
    *GRADES,
    "frpm",
    "el",
    "swd",
    "foster",
    "homeless",
    "unduplicated",
    "prior_year_allocation",
    "performance_points",
    "hard_to_staff_teachers",
    "grades_estimated",
)

#: Subgroup count columns, each with the words a message uses for one pupil and for several.
SUBGROUP_NOUNS: dict[str, tuple[str, str]] = {
    "frpm": (
        "pupil eligible for free or reduced-price meals",
        "pupils eligible for free or reduced-price meals",
    ),
    "el": ("English learner", "English learners"),
    "swd": ("student with disabilities", "students with disabilities"),
    "foster": ("foster youth", "foster youth"),
    "homeless": ("homeless pupil", "homeless pupils"),
    "unduplicated": ("unduplicated pupil", "unduplicated pupils"),
}

_OPTIONAL_COLUMNS = frozenset(
    {
        "level",
        "cds_code",
        "prior_year_allocation",
        "performance_points",
        "hard_to_staff_teachers",
        "grades_estimated",
    }
)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c for c in ROSTER_COLUMNS if c not in _OPTIONAL_COLUMNS)
_IDENTITY = frozenset({"school_id", "school_name", "low_grade", "high_grade"})

_Problem = Callable[[str, str], None]  # records "column, what is wrong — what to do"

#: A school ID: the district's site code or the CDS code.
SCHOOL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,19}$")
_TRUE = frozenset({"y", "yes", "true", "1"})
_FALSE = frozenset({"n", "no", "false", "0", ""})
# Excel writes a number formatted with separators as displayed text, e.g. "1,234" or "$1,234.50".
_THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+(\.\d*)?$")


def read_roster_csv(path: str | os.PathLike[str],
                    columns: Sequence[RosterColumn] = ()) -> list[School]:
    """Read and check a roster CSV; raise one RosterError listing every problem found.

    `columns` are the policy's own roster columns ([[roster_column]]): each is required."""
    path = Path(path)
    text = _decode(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
    name = path.name
    problems: list[str] = []

    try:
        header = next(reader)
    except StopIteration:
        raise RosterError(
            f"{name} is empty — it needs a header row with the columns "
            f"{', '.join(ROSTER_COLUMNS)} and one row per school "
            "(start from templates/roster.csv)."
        ) from None
    position = _header_positions(header, name, problems, columns)
    if problems:
        # Without the columns, every row would repeat the same complaint: stop at the header.
        raise _roster_error(name, problems)

    schools: list[School] = []
    first_line: dict[str, int] = {}
    next_line = 2  # the header was line 1
    for row in reader:
        line, next_line = next_line, reader.line_num + 1  # a quoted field may span lines
        if not any(cell.strip() for cell in row):
            continue  # Excel leaves rows of empty cells below the data
        cells = {col: (row[i].strip() if i < len(row) else "") for col, i in position.items()}
        school_id = cells["school_id"]
        # Checked on the raw id so a repeated school is reported even when its row has errors;
        # ignoring case, as spreadsheet lookups do.
        if school_id.casefold() in first_line:
            problems.append(
                f"{name} line {line}, column 'school_id': {school_id} is also on line "
                f"{first_line[school_id.casefold()]} — each school must appear once (upper and "
                "lower case count as the same); remove or correct one of the rows."
            )
        elif school_id:
            first_line[school_id.casefold()] = line
        school = _parse_row(cells, name, line, problems, columns)
        if school is not None:
            schools.append(school)

    if not schools and not problems:
        problems.append(
            f"{name} line 2: there are no schools below the header — add one row per school."
        )
    if problems:
        raise _roster_error(name, problems)
    return schools


def write_roster_csv(schools: Iterable[School], path: str | os.PathLike[str],
                     columns: Sequence[RosterColumn] = ()) -> None:
    """Write schools as a roster CSV (UTF-8 with BOM, so Excel shows non-Latin names), with
    the policy's own columns after the built-in ones."""
    path = Path(path)
    try:
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)  # "\r\n" line ends, as Excel writes them
            writer.writerow([*ROSTER_COLUMNS, *(c.key for c in columns)])
            for s in schools:
                writer.writerow(
                    [
                        s.school_id,
                        s.name,
                        s.cds_code,
                        s.level,
                        s.low_grade,
                        s.high_grade,
                        *(_format_number(s.enrollment_by_grade.get(g, 0)) for g in GRADES),
                        *(_format_number(getattr(s, col)) for col in SUBGROUP_NOUNS),
                        _format_number(s.prior_year_allocation),
                        _format_number(s.performance_points),
                        _format_number(s.hard_to_staff_teachers),
                        "Y" if s.grades_estimated else "N",
                        *(("Y" if s.extra.get(c.key) else "N") if c.is_flag
                          else _format_number(s.extra.get(c.key, 0)) for c in columns),
                    ]
                )
    except OSError as exc:
        raise FileError(f"Could not write the roster {path}: {exc.strerror or exc}.") from exc


# --- reading helpers -------------------------------------------------------------------------


def _decode(path: Path) -> str:
    """The file's text: UTF-8 (with or without BOM), else Windows-1252, else Latin-1."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileError(f"The roster file {path} does not exist.") from None
    except OSError as exc:
        raise FileError(f"Could not read the roster file {path}: {exc.strerror or exc}.") from exc
    if data.startswith(b"\xef\xbb\xbf"):  # Excel's "CSV UTF-8"
        try:
            return data[3:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RosterError(
                f"{path.name} is marked as UTF-8 but byte {exc.start + 4} is not UTF-8 — save it "
                "again from Excel as 'CSV UTF-8 (Comma delimited)'."
            ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Excel's plain "CSV (Comma delimited)" on Windows is Windows-1252, a superset of Latin-1
    # except for five unused bytes; Latin-1 decodes anything, so it is the last resort.
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _sniff_delimiter(text: str) -> str:
    """Comma, unless the header line is plainly separated by semicolons or tabs."""
    first = text.splitlines()[0] if text else ""
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > counts[","] else ","


def _header_positions(header: list[str], name: str, problems: list[str],
                      columns: Sequence[RosterColumn] = ()) -> dict[str, int]:
    """Column name -> index, matching names case-insensitively; records missing columns."""
    wanted = {c.casefold(): c for c in (*ROSTER_COLUMNS, *(c.key for c in columns))}
    position: dict[str, int] = {}
    for i, raw in enumerate(header):
        key = raw.strip().lstrip("\ufeff").casefold()
        col = wanted.get(key)
        if col is None:
            continue  # extra columns (notes, a principal's name) are allowed and ignored
        if col in position:
            problems.append(
                f"{name} line 1, column '{col}': the column appears twice (columns "
                f"{position[col] + 1} and {i + 1}) — delete one of them."
            )
            continue
        position[col] = i
    for col in (*REQUIRED_COLUMNS, *(c.key for c in columns)):
        if col not in position:
            problems.append(
                f"{name} line 1, column '{col}': the required column is missing — add a "
                f"column headed '{col}'"
                + (" (0 where there are no pupils)." if col not in _IDENTITY else ".")
            )
    return position


def _parse_row(cells: dict[str, str], name: str, line: int, problems: list[str],
               columns: Sequence[RosterColumn] = ()) -> School | None:
    """One School from a row's cells, or None after recording the row's problems."""
    start = len(problems)

    def problem(col: str, text: str) -> None:
        problems.append(f"{name} line {line}, column '{col}': {text}")

    school_id = cells["school_id"]
    if not school_id:
        problem("school_id", "the school ID is blank — enter the school's site code or its "
                "14-digit CDS code.")
    elif school_id.isdigit() and 8 < len(school_id) != 14 or not SCHOOL_ID.match(school_id):
        problem(
            "school_id",
            f"'{school_id}' is neither the district's site code (letters, digits, - or _, at "
            "most 8 digits when all digits) nor a 14-digit CDS code (county 2 + district 5 + "
            "school 7 digits); if a spreadsheet dropped leading zeros or showed it as "
            "1.9E+13, format the column as Text and type the code again.",
        )
    cds_code = cells.get("cds_code", "")
    if cds_code and not (len(cds_code) == 14 and cds_code.isdigit()):
        problem("cds_code", f"'{cds_code}' is not a 14-digit CDS code — correct it or leave "
                "it blank.")
    school_name = cells["school_name"]
    if not school_name:
        problem("school_name", "the school's name is blank — enter it.")
    for col, text in cells.items():
        bad = unwritable_character(text)
        if bad:
            problem(col, f"holds the character {bad}, which a workbook cannot hold — delete "
                    "it (it often comes from text pasted from a PDF or another system).")

    low = _grade(cells["low_grade"], "low_grade", problem)
    high = _grade(cells["high_grade"], "high_grade", problem)
    if low is not None and high is not None and grade_index(low) > grade_index(high):
        problem(
            "high_grade",
            f"the high grade {high} is below the low grade {low} — swap them or correct one.",
        )
        high = None

    level = cells.get("level", "")
    if level:
        canonical = {lv.casefold(): lv for lv in LEVELS}.get(level.casefold())
        if canonical is None:
            problem(
                "level",
                f"'{level}' is not a level — use one of {', '.join(LEVELS)}, or leave it blank "
                "to derive it from the grades served.",
            )
        level = canonical or ""

    by_grade: dict[str, int] = {}
    before = len(problems)
    for g in GRADES:
        by_grade[g] = _count(cells[g], g, problem) or 0
    # A subgroup can only be compared with an enrollment whose every grade cell was readable.
    grades_readable = len(problems) == before
    if low is not None and high is not None:
        lo, hi = grade_index(low), grade_index(high)
        for i, g in enumerate(GRADES):
            n = by_grade[g]
            if n and not lo <= i <= hi:
                problem(
                    g,
                    f"{n} {'pupil' if n == 1 else 'pupils'} in grade {g}, outside the grades the "
                    f"school serves ({low}-{high}) — move them to a grade from {low} to {high}, "
                    "or correct low_grade/high_grade.",
                )
    enrollment = sum(by_grade.values())
    if enrollment == 0 and grades_readable:
        problem(
            low or "TK",
            "the grade columns add up to 0 pupils — enter the school's enrollment by grade, or "
            "remove the row if the school is closed.",
        )

    subgroups: dict[str, int] = {}
    for col, (one, many) in SUBGROUP_NOUNS.items():
        value = _count(cells[col], col, problem)
        subgroups[col] = value or 0
        if value is not None and grades_readable and value > enrollment:
            problem(
                col,
                f"{value} {one if value == 1 else many} is more than the school's enrollment "
                f"of {enrollment} — correct the count.",
            )

    prior = _amount(cells.get("prior_year_allocation", ""), "prior_year_allocation", problem)
    points = _amount(cells.get("performance_points", ""), "performance_points", problem)
    teachers = _amount(cells.get("hard_to_staff_teachers", ""), "hard_to_staff_teachers", problem)
    estimated = _flag(cells.get("grades_estimated", ""), "grades_estimated", problem)
    extra: dict[str, float] = {}
    for c in columns:
        raw = cells.get(c.key, "")
        if c.is_flag:
            extra[c.key] = 1.0 if _flag(raw, c.key, problem, c.header) else 0.0
            continue
        value = (_amount(raw, c.key, problem) if c.fractional
                 else _count(raw, c.key, problem))
        extra[c.key] = float(value or 0)
        if value is not None and c.within_enrollment and grades_readable and value > enrollment:
            problem(c.key, f"{value:g} {c.header} is more than the school's enrollment of "
                    f"{enrollment} — correct the count, or declare the column with "
                    "instances = true in the policy if it counts each instance of a need.")

    if len(problems) > start or low is None or high is None:
        return None
    return School(
        school_id=school_id,
        name=school_name,
        level=level or level_for_grades(low, high),
        low_grade=low,
        high_grade=high,
        enrollment_by_grade=by_grade,
        **subgroups,
        prior_year_allocation=prior or 0.0,
        performance_points=points or 0.0,
        hard_to_staff_teachers=teachers or 0.0,
        grades_estimated=bool(estimated),
        cds_code=cds_code,
        extra=extra,
    )


def _grade(raw: str, col: str, problem: _Problem) -> str | None:
    """The GRADES label for a cell ("k", "05", "9.0", "P" all work), or None."""
    text = raw.strip()
    if re.fullmatch(r"\d+\.0*", text):  # Excel turned 9 into 9.0
        text = text.split(".")[0]
    if not text:
        problem(col, "the grade is blank — enter TK, K or a grade from 1 to 12.")
        return None
    try:
        return GRADES[grade_index(text)]
    except ValueError:
        problem(col, f"'{raw}' is not a grade — enter TK, K or a grade from 1 to 12.")
        return None


def _number(raw: str) -> float | None:
    """A number from a cell as Excel may save it ("1,234", "$5.00", "12.0"), or None."""
    text = raw.strip().replace("$", "").replace(" ", "")
    if _THOUSANDS.match(text.lstrip("-")):
        text = text.replace(",", "")
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and value not in (float("inf"), float("-inf")) else None


def _count(raw: str, col: str, problem: _Problem) -> int | None:
    """A non-negative whole number of pupils (blank = 0), or None after a problem."""
    if not raw.strip():
        return 0
    value = _number(raw)
    if value is None:
        problem(col, f"'{raw}' is not a number — enter a whole number of pupils (0 if none).")
    elif value < 0:
        problem(col, f"{raw} is negative — enter a whole number of pupils, 0 or more.")
    elif value != int(value):
        problem(col, f"{raw} is not a whole number — enter a whole number of pupils.")
    else:
        return int(value)
    return None


def _amount(raw: str, col: str, problem: _Problem) -> float | None:
    """A non-negative number (blank = 0), decimals allowed, or None after a problem."""
    if not raw.strip():
        return 0.0
    value = _number(raw)
    if value is None:
        problem(col, f"'{raw}' is not a number — enter a number, 0 or more (0 if none).")
    elif value < 0:
        problem(col, f"{raw} is negative — enter a number, 0 or more.")
    else:
        return value
    return None


def _flag(raw: str, col: str, problem: _Problem,
          what: str = "the grade counts are estimated") -> bool | None:
    """Y/N, yes/no, true/false, 1/0 or blank (= no), or None after a problem."""
    text = raw.strip().casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    problem(col, f"'{raw}' is not Y or N — enter Y if {what}, else N.")
    return None


def _roster_error(name: str, problems: list[str]) -> RosterError:
    """One RosterError listing every problem; the list is kept on the exception too."""
    if len(problems) == 1:
        message = problems[0]
    else:
        message = f"{name} has {len(problems)} problems:\n" + "\n".join(f"  {p}" for p in problems)
    err = RosterError(message)
    err.problems = list(problems)  # type: ignore[attr-defined]  # for callers listing them
    return err


def _format_number(value: float) -> str:
    """A number as Excel would show it: 12 not 12.0, full precision otherwise."""
    number = float(value)
    if number.is_integer():
        return str(int(number))
    return repr(number)  # shortest text that reads back to the same float
