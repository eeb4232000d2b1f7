"""What the reader reports and returns: its limits, ReadProblem and its messages, the raw
workbook."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..model import Finding

MB = 2**20


@dataclass(frozen=True)
class Limits:
    """Named limits for reading one returned plan (a plan is about 50 KB)."""

    max_file_bytes: int = 25 * MB
    max_zip_entries: int = 300
    max_uncompressed_bytes: int = 150 * MB
    max_compression_ratio: float = 150.0  # per entry, for entries above ratio_floor_bytes
    ratio_floor_bytes: int = 1 * MB  # small parts compress far better; only big ones count
    max_rows: int = 5000  # per sheet: declared <dimension> and any cell reference
    max_columns: int = 250
    max_shared_strings_bytes: int = 30 * MB
    timeout_seconds: float = 30.0  # per file, in the worker (read_many)
    memory_mb: int = 1500  # address space per worker (RLIMIT_AS, read_many)


class ReadProblem(Exception):
    """A file that cannot be read; code is stable kebab-case, message speaks to the sender."""

    def __init__(self, code: str, message: str, severity: str = "error", *,
                 sheet: str = "", cell: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.severity = severity
        self.sheet = sheet
        self.cell = cell

    def __reduce__(self):
        # Exceptions pickle their args; ours are keyword-shaped, and results cross a pipe.
        return (_rebuild_problem, (self.code, self.message, self.severity, self.sheet,
                                   self.cell))

    def __repr__(self) -> str:
        return f"ReadProblem({self.code!r}, {self.message!r}, {self.severity!r})"

    def as_finding(self, file: str, school_id: str = "") -> Finding:
        """The problem as a Finding on `file`."""
        return Finding(file, school_id, self.sheet, self.cell, self.severity, self.code,
                       self.message)


def _rebuild_problem(code: str, message: str, severity: str, sheet: str,
                     cell: str) -> ReadProblem:
    return ReadProblem(code, message, severity, sheet=sheet, cell=cell)


@dataclass
class RawWorkbook:
    """What a returned workbook holds, read safely; no interpretation."""

    path: Path
    sheet_names: list[str]  # in workbook order
    hidden_sheets: set[str]  # hidden and very hidden
    values: dict[str, list[list[object]]]  # requested worksheets: rows from A1; '' for empty
    # requested worksheets: A1 coordinates of every formula cell: formula_text's keys plus
    # every cell an array formula or data table covers
    formulas: dict[str, set[str]]
    defined_names: dict[str, str]  # workbook-scoped name -> text ("'Staffing'!$D$7:$D$156")
    merged: dict[str, list[str]]  # requested worksheets: merged ranges ("A1:C1")
    warnings: list[ReadProblem]  # non-fatal: macro-enabled, external-links
    application: str  # docProps/app.xml <Application>, '' if none
    local_names: dict[str, dict[str, str]] = field(default_factory=dict)  # sheet-scoped names
    errors: dict[str, dict[str, str]] = field(default_factory=dict)  # sheet -> cell -> "#REF!"
    sha256: str = ""  # of the bytes that were read
    size: int = 0  # bytes
    # requested worksheets: cell -> formula as a spreadsheet shows it, without the "=" and
    # XML-unescaped; shared formulas expanded to each cell (relative references moved, as
    # Excel does); an array formula's or data table's text on its anchor only (a data table
    # as Excel shows it, without braces: "TABLE(A1,B1)", "TABLE(A1,)", "TABLE(,B1)")
    formula_text: dict[str, Mapping[str, str]] = field(default_factory=dict)
    # requested worksheets: anchor cell -> the range ("D7:D20") its array formula or data table
    # covers (every cell of it is in formulas)
    array_ranges: dict[str, dict[str, str]] = field(default_factory=dict)
    # workbook.xml <calcPr> attributes as written (calcMode, fullCalcOnLoad, iterate ...);
    # empty if none: the validator decides what they mean
    calc: dict[str, str] = field(default_factory=dict)


# --- messages -----------------------------------------------------------------------------

_RESAVE = "Open it in Excel, save it as Excel Workbook (.xlsx) and send that file again."


def _mb(n: float) -> str:
    return f"{n / MB:,.1f} MB" if n >= MB else f"{n / 1024:,.0f} KB"


def _damaged(detail: str) -> ReadProblem:
    return ReadProblem(
        "truncated-file",
        f"The file is incomplete or damaged ({detail}); it may have been cut off while it was "
        "sent or saved. Open it in Excel to check that your plan is all there, save it again "
        "as Excel Workbook (.xlsx) and send it again.")


def _not_xlsx(detail: str) -> ReadProblem:
    return ReadProblem(
        "not-an-xlsx-file",
        f"{detail} Send the plan workbook the district sent you, filled in and saved as Excel "
        "Workbook (.xlsx).")


def _bomb(detail: str) -> ReadProblem:
    return ReadProblem(
        "zip-bomb",
        f"The file unpacks to far more than any plan workbook ({detail}), so it was not read. "
        "It may be damaged or not a real spreadsheet. Send the plan again as a normal .xlsx "
        "file saved by Excel.")


def _unsafe(part: str) -> ReadProblem:
    return ReadProblem(
        "unsafe-xml",
        f"The file contains XML declarations (DOCTYPE/ENTITY in {part}) that Excel never "
        f"writes, so it was not read, for safety. {_RESAVE}")


