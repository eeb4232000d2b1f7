"""A district's roster from CDE's CALPADS Unduplicated Pupil Count (CUPC) K-12 workbook.

CDE publishes the CUPC each year (https://www.cde.ca.gov/ds/ad/filescupc.asp) with one row per
school: total enrollment, free/reduced-price meal, foster, homeless and English-learner counts,
the unduplicated pupil count and the grades served. It has no counts by grade and none of
students with disabilities, so the roster built here is a starting point: the returned notes
say what was estimated or left at zero.

Judgement calls, made once here so every district gets the same treatment:

- District-run schools only: charter rows (flag "Yes"/"Y"/"N/A"), the pseudo-rows 0000000
  "District Office" and 0000001 "Nonpublic, Nonsectarian Schools", and rows with no pupils are
  dropped and listed in ``skipped`` with the reason.
- Grades: "P" (the school has a preschool program) is read as TK, the only pre-K grade CUPC
  counts; "Adult" and "Post Secondary" are read as 12 because CUPC counts TK-12 pupils only;
  "N/A" falls back to the grades the School Type implies (K-12 if it implies none), with a note.
- Enrollment by grade is estimated: Total Enrollment is spread evenly over the grades served,
  whole pupils, the remainder one each to the lowest grades. A school whose low grade is K gets
  no TK pupils (CUPC does not say whether it has a TK class); grades_estimated is True.
- Level: from the School Type when the type names a level and the grades agree with it
  (a 7-12 "High School" is High, a 5-8 "Middle School" is Middle), otherwise from the grades
  (a K-8 school CDE types as "Elementary" is Span; K-12, alternative, special-education and
  community day schools go by their grades).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ssfr_xl.errors import FileError, RosterError
from ssfr_xl.model import GRADES, District, School, grade_index, level_for_grades

SCHOOL_SHEET = "School-Level CALPADS UPC Data"

#: Roster field -> CUPC column header, as normalised by _norm (lower case, single spaces).
COLUMNS: dict[str, str] = {
    "county_code": "county code",
    "district_code": "district code",
    "school_code": "school code",
    "district_name": "district name",
    "school_name": "school name",
    "school_type": "school type",
    "charter": "charter school (y/n)",
    "low_grade": "low grade",
    "high_grade": "high grade",
    "enrollment": "total enrollment",
    "frpm": "free & reduced meal program",
    "foster": "foster",
    "homeless": "homeless",
    "el": "english learner (el)",
    "unduplicated": "calpads unduplicated pupil count (upc)",
}
#: Columns used when present: the roster is complete without them.
OPTIONAL_COLUMNS: dict[str, str] = {
    "academic_year": "academic year",
    "county_name": "county name",
}
_COUNT_FIELDS = ("frpm", "el", "foster", "homeless", "unduplicated")

# School Type -> level, for the types that name one (lower case).
_TYPE_LEVELS = {
    "elementary schools (public)": "Elementary",
    "elemen schools in 1 school dist. (public)": "Elementary",
    "intermediate/middle schools (public)": "Middle",
    "junior high schools (public)": "Middle",
    "high schools (public)": "High",
    "high schools in 1 school dist. (public)": "High",
    "continuation high schools": "High",
}
# Grades a level's School Type may serve and still be that level (low index >=, high index <=).
_LEVEL_BOUNDS = {
    "Elementary": (grade_index("TK"), grade_index("6")),
    "Middle": (grade_index("4"), grade_index("9")),
    "High": (grade_index("7"), grade_index("12")),
}
_TYPE_GRADES = {"Elementary": ("K", "5"), "Middle": ("6", "8"), "High": ("9", "12")}

_PSEUDO_SCHOOLS = {
    "0000000": "pseudo-row (District Office)",
    "0000001": "pseudo-row (Nonpublic, Nonsectarian Schools)",
}
# How the notes count skipped rows, by the start of their reason.
_SKIP_KINDS = {
    "charter": ("charter school", "charter schools"),
    "pseudo-row": ("pseudo-row", "pseudo-rows"),
    "no pupils": ("school with no pupils", "schools with no pupils"),
}


@dataclass(frozen=True)
class SkippedRow:
    """A CUPC row of the district left out of the roster, and why."""

    school_id: str
    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.school_id} {self.name}: {self.reason}"


@dataclass(frozen=True)
class CdeRoster:
    """A district's district-run schools from a CUPC file, with what was estimated or dropped."""

    district_name: str
    county_code: str  # 2 digits
    district_code: str  # 5 digits
    academic_year: str  # as in the file, e.g. "2024-2025"
    schools: list[School]
    notes: list[str] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)

    @property
    def cds_code(self) -> str:
        """The district's 7-digit code: county + district."""
        return self.county_code + self.district_code

    def district(self, fiscal_year: str = "", budget: float = 0.0) -> District:
        """A District for these schools; fiscal_year defaults to the data's year ("2024-25")."""
        if not fiscal_year:
            m = re.fullmatch(r"(\d{4})-\d{2}(\d{2})", self.academic_year.strip())
            fiscal_year = f"{m.group(1)}-{m.group(2)}" if m else self.academic_year
        return District(
            name=self.district_name, cds_code=self.cds_code, fiscal_year=fiscal_year, budget=budget
        )


def read_cde_cupc(path: str | os.PathLike[str], district_code: str) -> CdeRoster:
    """Read one district's district-run schools from a CDE CUPC K-12 workbook."""
    path = Path(path)
    county_wanted, code = _district_code(district_code)
    sheet_name, rows = _school_sheet(path)
    header_at, col = _header(rows, path.name, sheet_name)

    i_dist, i_county = col["district_code"], col["county_code"]
    mine: list[tuple[int, list[object]]] = []
    for n, row in enumerate(rows[header_at + 1 :], start=header_at + 2):
        if len(row) <= i_dist:
            continue
        if _code(row[i_dist], 5) == code and (
            county_wanted is None or _code(row[i_county], 2) == county_wanted
        ):
            mine.append((n, row))
    if not mine:
        raise _unknown_district(district_code, rows[header_at + 1 :], col, path.name)

    first = mine[0][1]
    result = CdeRoster(
        district_name=_text(first[col["district_name"]]),
        county_code=_code(first[i_county], 2),
        district_code=code,
        academic_year=_text(first[col["academic_year"]]) if "academic_year" in col else "",
        schools=[],
    )
    problems: list[str] = []
    for n, row in mine:
        school = _school(row, col, f"{path.name} sheet '{sheet_name}' row {n}", result, problems)
        if school is not None:
            result.schools.append(school)
    if problems:
        raise RosterError(
            f"{path.name}: {len(problems)} value{'s' if len(problems) != 1 else ''} in "
            f"{result.district_name}'s rows could not be read:\n"
            + "\n".join(f"  {p}" for p in problems)
        )
    # Name order is what a budget office scans for; the id breaks ties deterministically.
    result.schools.sort(key=lambda s: (s.name.casefold(), s.school_id))
    _add_notes(result)
    return result


# --- the workbook ----------------------------------------------------------------------------


def _school_sheet(path: Path) -> tuple[str, list[list[object]]]:
    """The school-level sheet's name and rows, found by its name or, failing that, content."""
    try:
        from python_calamine import CalamineWorkbook
    except ImportError as exc:  # a dependency, but say what to install if it is missing
        raise FileError(
            "Reading CDE workbooks needs python-calamine: pip install python-calamine."
        ) from exc
    if not path.exists():
        raise FileError(f"The CDE file {path} does not exist.")
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own types for zip, XML and format errors
        raise FileError(
            f"{path.name} could not be opened as an Excel workbook ({exc}) — download the "
            "CUPC K-12 file (.xlsx) again from CDE."
        ) from exc
    try:
        names = list(wb.sheet_names)
        # The LEA-level sheet has the same columns, so the sheet is chosen by name first.
        by_name = [n for n in names if _norm(n) == _norm(SCHOOL_SHEET)]
        by_name = by_name or [n for n in names if "school-level" in _norm(n)]
        if by_name:
            return by_name[0], _rows(wb, by_name[0], path)
        # A copy saved with only the data sheet ("Sheet1"): accept a single sheet with the
        # CUPC header that does not call itself LEA-level.
        found = []
        for n in names:
            if "lea-level" in _norm(n):
                continue
            rows = _rows(wb, n, path)
            if _find_header(rows) is not None:
                found.append((n, rows))
        if len(found) == 1:
            return found[0]
    finally:
        close = getattr(wb, "close", None)  # python-calamine >= 0.3
        if close is not None:
            close()
    raise RosterError(
        f"{path.name} is not a CDE CALPADS Unduplicated Pupil Count (CUPC) K-12 workbook: it has "
        f"no '{SCHOOL_SHEET}' sheet (sheets: {', '.join(names) or 'none'}) — download the "
        "CUPC K-12 file from https://www.cde.ca.gov/ds/ad/filescupc.asp."
    )


def _rows(wb: object, name: str, path: Path) -> list[list[object]]:
    """All cells of a sheet as Python values."""
    try:
        return wb.get_sheet_by_name(name).to_python()  # type: ignore[attr-defined]
    except Exception as exc:
        raise FileError(f"{path.name}: the sheet '{name}' could not be read ({exc}).") from exc


def _find_header(rows: list[list[object]]) -> tuple[int, dict[str, int]] | None:
    """The header row's index and field -> column index, if a row has every required column."""
    for i, row in enumerate(rows[:20]):  # a title and a few notes at most come first
        names = {_norm(v): j for j, v in reversed(list(enumerate(row)))}
        if all(h in names for h in COLUMNS.values()):
            col = {f: names[h] for f, h in COLUMNS.items()}
            col.update({f: names[h] for f, h in OPTIONAL_COLUMNS.items() if h in names})
            return i, col
    return None


def _header(rows: list[list[object]], file: str, sheet: str) -> tuple[int, dict[str, int]]:
    """The header row, or a RosterError naming the columns that are missing."""
    found = _find_header(rows)
    if found is not None:
        return found
    # Name what is missing against the row that looks most like a header.
    best = max(
        (rows[i] for i in range(min(20, len(rows)))),
        key=lambda r: sum(_norm(v) in COLUMNS.values() for v in r),
        default=[],
    )
    have = {_norm(v) for v in best}
    missing = [h for h in COLUMNS.values() if h not in have]
    raise RosterError(
        f"{file} sheet '{sheet}' is not in the CUPC layout: no header row with the columns "
        f"{', '.join(repr(m) for m in missing)} — use the CUPC K-12 file as CDE publishes it."
    )


# --- rows --------------------------------------------------------------------------------------


def _school(
    row: Sequence[object],
    col: dict[str, int],
    where: str,
    result: CdeRoster,
    problems: list[str],
) -> School | None:
    """A School from a district row, or None when the row is skipped or has a problem."""

    def cell(f: str) -> object:
        i = col[f]
        return row[i] if i < len(row) else ""

    school_code = _code(cell("school_code"), 7)
    school_id = result.county_code + result.district_code + school_code
    name = _text(cell("school_name"))
    if school_code in _PSEUDO_SCHOOLS:
        result.skipped.append(SkippedRow(school_id, name, _PSEUDO_SCHOOLS[school_code]))
        return None
    charter = _text(cell("charter")).upper()
    if charter not in ("NO", "N"):
        flag = _text(cell("charter"))
        reason = "charter school" if charter in ("YES", "Y") else f"charter flag '{flag}'"
        result.skipped.append(SkippedRow(school_id, name, reason))
        return None

    counts: dict[str, int] = {}
    for f in ("enrollment", *_COUNT_FIELDS):
        value = _whole(cell(f))
        if value is None:
            problems.append(
                f"{where}, column '{COLUMNS[f]}': {cell(f)!r} is not a whole number of pupils — "
                "correct it in the file or use the file as CDE publishes it."
            )
        else:
            counts[f] = value
    if len(counts) <= len(_COUNT_FIELDS):
        return None
    enrollment = counts.pop("enrollment")
    if enrollment == 0:
        result.skipped.append(SkippedRow(school_id, name, "no pupils enrolled"))
        return None

    school_type = _text(cell("school_type"))
    type_level = _TYPE_LEVELS.get(school_type.casefold())
    low, high, note = _grades(cell("low_grade"), cell("high_grade"), type_level)
    if note:
        result.notes.append(f"{school_id} {name}: {note}")
    level = type_level
    lo, hi = grade_index(low), grade_index(high)
    if level is None or not (_LEVEL_BOUNDS[level][0] <= lo and hi <= _LEVEL_BOUNDS[level][1]):
        level = level_for_grades(low, high)

    return School(
        school_id=school_id,
        name=name,
        level=level,
        low_grade=low,
        high_grade=high,
        enrollment_by_grade=spread_enrollment(enrollment, low, high),
        frpm=counts["frpm"],
        el=counts["el"],
        swd=0,  # CUPC has no disability counts: see the notes
        foster=counts["foster"],
        homeless=counts["homeless"],
        unduplicated=counts["unduplicated"],
        grades_estimated=True,
    )


def spread_enrollment(total: int, low: str, high: str) -> dict[str, int]:
    """Total pupils spread evenly over grades low..high, remainder to the lowest grades."""
    lo, hi = grade_index(low), grade_index(high)
    served = GRADES[lo : hi + 1]
    each, extra = divmod(total, len(served))
    by_grade = dict.fromkeys(GRADES, 0)
    for i, g in enumerate(served):
        by_grade[g] = each + (1 if i < extra else 0)
    return by_grade


def _grades(low_raw: object, high_raw: object, type_level: str | None) -> tuple[str, str, str]:
    """Low and high GRADES labels from CUPC cells, and a note when a value had to be read."""
    low, low_note = _grade(low_raw)
    high, high_note = _grade(high_raw)
    notes = [n for n in (low_note, high_note) if n]
    if low is None or high is None:
        fallback = _TYPE_GRADES.get(type_level or "", ("K", "12"))
        low = low or fallback[0]
        high = high or fallback[1]
        notes.append(f"grades served not given, taken as {low}-{high}")
    if grade_index(low) > grade_index(high):
        low, high = high, low
        notes.append(f"low and high grade were reversed, read as {low}-{high}")
    return low, high, "; ".join(notes)


def _grade(raw: object) -> tuple[str | None, str]:
    """A GRADES label from a CUPC grade cell and a note if it was reinterpreted."""
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    text = _text(raw).upper()
    if text in ("ADULT", "POST SECONDARY", "POSTSECONDARY"):
        return "12", f"grade '{_text(raw)}' read as 12 (CUPC counts TK-12 pupils only)"
    try:
        label = GRADES[grade_index(text)]
    except ValueError:
        return None, ""
    return label, ""


# --- values ------------------------------------------------------------------------------------


def _norm(value: object) -> str:
    """Header text compared loosely: lower case, line breaks and runs of spaces as one space."""
    return " ".join(str(value).split()).casefold()


def _text(value: object) -> str:
    """A cell as trimmed text; whole floats lose their ".0"."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip() if value is not None else ""


def _code(value: object, width: int) -> str:
    """A code as text with its leading zeros, also when a spreadsheet stored it as a number."""
    text = _text(value)
    return text.zfill(width) if text.isdigit() else text


def _whole(value: object) -> int | None:
    """A non-negative whole number from a cell (blank = 0), else None."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    else:
        try:
            number = float(str(value).replace(",", "").strip())
        except ValueError:
            return None
    if number < 0 or not number.is_integer():
        return None
    return int(number)


def _district_code(raw: str) -> tuple[str | None, str]:
    """(county code or None, 5-digit district code) from "64881", "1964881" or 64881."""
    text = _text(raw)
    if text.isdigit() and len(text) <= 5:
        return None, text.zfill(5)
    if text.isdigit() and len(text) == 7:
        return text[:2], text[2:]
    if text.isdigit() and len(text) == 14 and text.endswith("0000000"):
        return text[:2], text[2:7]  # a district's own CDS code
    return None, text  # not a code: _unknown_district suggests districts by name


def _unknown_district(
    raw: str, data: list[list[object]], col: dict[str, int], file: str
) -> RosterError:
    """An error for a district code not in the file, suggesting districts that are."""
    districts: dict[str, str] = {}
    for row in data:
        if len(row) > max(col["district_code"], col["district_name"], col["county_code"]):
            code = _code(row[col["district_code"]], 5)
            county = _text(row[col["county_name"]]) if "county_name" in col else ""
            name = _text(row[col["district_name"]])
            districts.setdefault(code, f"{code} {name}" + (f" ({county})" if county else ""))
    text = _text(raw)
    if text.isdigit():
        close = difflib.get_close_matches(text.zfill(5)[-5:], list(districts), n=5, cutoff=0.6)
        what = f"There is no district with code {text} in {file}"
    else:
        words = text.casefold()
        close = [c for c, label in districts.items() if words and words in label.casefold()]
        if not close:
            by_name = {label.split(" ", 1)[1].casefold(): c for c, label in districts.items()}
            close = [
                by_name[m] for m in difflib.get_close_matches(words, list(by_name), n=5, cutoff=0.6)
            ]
        what = f"'{text}' is not a district code"
    hint = (
        "; districts that may be meant: " + ", ".join(districts[c] for c in sorted(close)[:10])
        if close
        else ""
    )
    return RosterError(
        f"{what}{hint} — pass the 5-digit District Code from the file's District Code column."
    )


def _add_notes(result: CdeRoster) -> None:
    """Say what the roster lacks and what was left out, ahead of any per-school notes."""
    skipped: dict[str, int] = {}
    for s in result.skipped:
        kind = next((k for k in _SKIP_KINDS if s.reason.startswith(k)), "charter")
        skipped[kind] = skipped.get(kind, 0) + 1
    general = [
        f"{len(result.schools)} district-run schools of {result.district_name} from CDE's "
        f"CUPC {result.academic_year}.".replace(" .", "."),
        "Grade counts are estimated: CUPC gives only each school's total enrollment, spread "
        "here evenly over the grades the school serves (TK only where the low grade is P/TK); "
        "replace them with actual counts by grade where you have them.",
        "No students-with-disabilities counts in CUPC: swd is 0 for every school; add counts "
        "from CALPADS or your SELPA before giving SWD a weight.",
        "No prior-year allocations, performance points or hard-to-staff teacher counts in "
        "CUPC: they are 0; fill them in before using transition protection or incentives.",
    ]
    if skipped:
        general.append(
            "Left out: "
            + ", ".join(f"{n} {_SKIP_KINDS[k][n != 1]}" for k, n in skipped.items())
            + " (see skipped)."
        )
    result.notes[:0] = general
