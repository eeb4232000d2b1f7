"""Budget season: check every returned file, choose each school's plan, roll up, reconcile.

Nothing is lost: returned files are only read; every expected school and every file seen
appears in the status; outputs are written to temp files and renamed into place; the same
inputs give the same numbers.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .exports import check_writable, write_csv
from .model import Finding
from .money import excel_round
from .plan import GoalEntry, PlanLine
from .validate import (
    DistrictRecord,
    PlanCheck,
    check_file_problem,
    check_plan,
    sort_findings,
)

Progress = Callable[[str], None]
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".xlsb", ".csv")


def _quiet(_message: str) -> None:
    return None


@dataclass(frozen=True)
class Ignored:
    """A folder entry that was not read, and why."""

    path: Path
    reason: str


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[Ignored]]:
    """Files to read from the given files and folders (not recursive), and what was skipped."""
    files: list[Path] = []
    ignored: list[Ignored] = []
    for given in paths:
        given = Path(given)
        if given.is_file():
            files.append(given)
            continue
        if not given.is_dir():
            ignored.append(Ignored(given, "not found"))
            continue
        for entry in sorted(given.iterdir(), key=lambda p: p.name):
            name = entry.name
            if entry.is_dir():
                ignored.append(Ignored(entry, "sub-folder: not read (put plans to consolidate "
                                              "directly in the folder)"))
            elif name.startswith("~$"):
                ignored.append(Ignored(entry, "Excel lock file (the workbook is open "
                                              "somewhere): ignored"))
            elif name.startswith("."):
                ignored.append(Ignored(entry, "hidden file: ignored"))
            elif entry.is_file():
                files.append(entry)
            else:
                ignored.append(Ignored(entry, "not a regular file: ignored"))
    return files, ignored


def check_files(files: Sequence[Path], record: DistrictRecord, progress: Progress = _quiet,
                workers: int | None = None) -> list[PlanCheck]:
    """Read (isolated, in worker processes) and check every file; one PlanCheck per file."""
    from .layout import SchoolSheets
    from .reader import ReadProblem, read_many

    checks: dict[Path, PlanCheck] = {}
    readable = []
    for path in files:
        if path.suffix.lower() not in WORKBOOK_SUFFIXES:
            checks[path] = check_file_problem(
                path, "not-a-workbook",
                f"{path.name} is not a spreadsheet ({path.suffix or 'no extension'}); only the "
                "school plan workbooks (.xlsx) are read.")
        else:
            readable.append(path)
    done = 0
    for path, raw in read_many(readable, workers=workers, sheets=SchoolSheets.ORDER):
        try:
            if isinstance(raw, ReadProblem):
                checks[path] = check_file_problem(path, raw.code, raw.message, raw.severity)
            else:
                checks[path] = check_plan(raw, record, path)
        except Exception as e:  # one broken file never stops the others
            checks[path] = check_file_problem(
                path, "unreadable", f"{path.name} could not be checked ({type(e).__name__}: "
                f"{e}). Send the plan again, saved as an Excel Workbook (.xlsx).")
        done += 1
        if done % 50 == 0 or done == len(readable):
            progress(f"checked {done:,}/{len(readable):,} files")
    return [checks[p] for p in files]


def flag_duplicates(checks: Sequence[PlanCheck]) -> None:
    """Two or more readable files for one school: an error on each, naming the others."""
    by_school: dict[str, list[PlanCheck]] = defaultdict(list)
    for c in checks:
        if c.school_id and c.inputs is not None:
            by_school[c.school_id].append(c)
    for school_id, group in by_school.items():
        if len(group) < 2:
            continue
        names = [c.file.name for c in group]
        for c in group:
            others = ", ".join(n for n in names if n != c.file.name)
            c.findings.append(Finding(
                c.file.name, school_id, "", "", "error", "duplicate-school",
                f"Two or more files are plans for school {school_id}: {c.file.name} and "
                f"{others}. Keep only the final version in the folder (or use a ledger to "
                "take the newest)."))


@dataclass(frozen=True)
class Version:
    """A school plan version recorded in the ledger."""

    received: float
    sha256: str
    file_name: str
    status: str
    lines: list[PlanLine]
    goals: list[GoalEntry]


@dataclass
class SchoolOutcome:
    """A school's status this season and the plan counted for it."""

    school_id: str
    name: str
    status: str  # accepted | accepted with warnings | rejected | missing
    check: PlanCheck | None = None  # the chosen (or best) file, when it is in the folder
    lines: list[PlanLine] = field(default_factory=list)
    goals: list[GoalEntry] = field(default_factory=list)
    file_name: str = ""
    sha256: str = ""


@dataclass
class SeasonResult:
    """Everything consolidate produces, before it is written."""

    record: DistrictRecord
    checks: list[PlanCheck]
    ignored: list[Ignored]
    schools: list[SchoolOutcome]
    superseded: dict[Path, str] = field(default_factory=dict)  # older accepted versions

    @property
    def findings(self) -> list[Finding]:
        """All findings on all files, errors first."""
        return sort_findings(f for c in self.checks for f in c.findings)

    def accepted_lines(self) -> list[tuple[SchoolOutcome, PlanLine]]:
        """Plan lines of accepted schools, in school order."""
        return [(s, line) for s in self.schools if s.status.startswith("accepted")
                for line in s.lines]


def choose_plans(record: DistrictRecord, checks: Sequence[PlanCheck],
                 history: dict[str, list[Version]] | None = None
                 ) -> tuple[list[SchoolOutcome], dict[Path, str]]:
    """Status per district school: the newest accepted plan counts (the ledger's, if given)."""
    by_school: dict[str, list[PlanCheck]] = defaultdict(list)
    for c in checks:
        if c.school_id in record.allocations:
            by_school[c.school_id].append(c)
    outcomes, superseded = [], {}
    for school in record.inputs.schools:
        sid = school.school_id
        present = by_school.get(sid, [])
        accepted = [c for c in present if c.status.startswith("accepted")]
        if history is not None and history.get(sid):
            newest = max(history[sid], key=lambda v: (v.received, v.sha256))
            for c in present:
                if c.sha256 != newest.sha256 and c.status.startswith("accepted"):
                    superseded[c.file] = newest.sha256
            chosen = next((c for c in present if c.sha256 == newest.sha256), None)
            outcomes.append(SchoolOutcome(
                sid, school.name, chosen.status if chosen else newest.status, chosen,
                newest.lines, newest.goals, newest.file_name, newest.sha256))
        elif accepted and len(present) == 1:
            c = accepted[0]
            outcomes.append(SchoolOutcome(
                sid, school.name, c.status, c, list(c.inputs.lines if c.inputs else []),
                list(c.inputs.goals if c.inputs else []), c.file.name, c.sha256))
        elif present:
            best = min(present, key=lambda c: (c.errors, -c.received))
            outcomes.append(SchoolOutcome(sid, school.name, "rejected", best,
                                          file_name=best.file.name, sha256=best.sha256))
        else:
            outcomes.append(SchoolOutcome(sid, school.name, "missing"))
    return outcomes, superseded


def run_checks(paths: Iterable[Path], record: DistrictRecord, progress: Progress = _quiet,
               workers: int | None = None, flag_dupes: bool = True
               ) -> tuple[list[PlanCheck], list[Ignored]]:
    """Discover, read and check files, flagging duplicates when there is no ledger."""
    files, ignored = discover(paths)
    progress(f"{len(files):,} files to check")
    checks = check_files(files, record, progress, workers)
    if flag_dupes:
        flag_duplicates(checks)
    return checks, ignored


def consolidate(record: DistrictRecord, returned: Path, *, ledger: Path | None = None,
                progress: Progress = _quiet, workers: int | None = None) -> SeasonResult:
    """Check a folder of returned plans and choose the plan counted for each school."""
    checks, ignored = run_checks([returned], record, progress, workers,
                                 flag_dupes=ledger is None)
    history = None
    if ledger is not None:
        from .ledger import Ledger

        with Ledger(ledger) as book:
            book.record_run(checks, record)
            history = book.accepted_versions(record)
    schools, superseded = choose_plans(record, checks, history)
    return SeasonResult(record, checks, ignored, schools, superseded)


# --- roll-ups ----------------------------------------------------------------------------

def object_of(line: PlanLine, record: DistrictRecord) -> list[tuple[str, float]]:
    """SACS object codes and amounts of a line (positions split salary and benefits 3000)."""
    policy = record.policy
    if line.kind == "position":
        job = next((j for j in policy.job_classes if j.code.casefold() == line.code.casefold()),
                   None)
        salary_object = job.object_code if job else "1000"
        return [(salary_object, line.salary), ("3000", excel_round(line.amount - line.salary))]
    if line.kind == "service":
        service = next((s for s in policy.services if s.code.casefold() == line.code.casefold()),
                       None)
        return [(service.object_code if service else "5710", line.amount)]
    return [(line.code, line.amount)]


def money(values: Iterable[float]) -> float:
    """Exact sum of amounts rounded to the cent."""
    return excel_round(math.fsum(values))


def write_outputs(result: SeasonResult, totals_xlsx: Path, exports: Path | None,
                  progress: Progress = _quiet) -> None:
    """Write the totals workbook and, if asked, the CSV exports (all atomically)."""
    from .totals_book import season_tables, write_totals_workbook

    check_writable(Path(totals_xlsx).parent if str(Path(totals_xlsx).parent) else Path("."))
    if exports is not None:
        check_writable(exports)
    tables = season_tables(result)
    progress("writing the totals workbook")
    write_totals_workbook(totals_xlsx, result, tables)
    if exports is not None:
        progress("writing CSV exports")
        for name, (header, rows) in tables.items():
            write_csv(Path(exports) / f"{name}.csv", header, rows)
