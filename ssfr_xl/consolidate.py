"""Budget season: check every returned file, choose each school's plan, roll up, reconcile.

Nothing is lost: returned files are only read; every expected school and every file seen
appears in the status; outputs are written to temp files and renamed into place; the same
inputs give the same numbers.

Which plan counts for a school:

- without a ledger, exactly one file may claim a school. A file claims the school its hidden
  metadata names, however far its checks got; a spreadsheet file in which no school could be
  read claims the school whose id its name starts with. Two claims on one school are a
  `duplicate-school` error on each file, naming the others.
- with a ledger, every version is recorded. "Newest" is the order in which the ledger first
  saw each file (or the e-mail times given with --received), never a file's modification
  time. The newest version that was ever accepted is the school's plan of record; each run
  re-checks it against the current district workbook, and when it no longer passes it stops
  counting (the school is rejected, with a finding) until a newer version passes.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import email.utils
import functools
import hashlib
import io
import json
import math
import os
import stat
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .errors import FileError, InputError, SsfrError
from .exports import line_text, shown
from .model import Finding
from .money import excel_round
from .plan import GoalEntry, PlanLine, goals_from_json, lines_from_json
from .progress import counting
from .validate import (
    DistrictRecord,
    PlanCheck,
    check_plan,
    sort_findings,
)

Progress = Callable[[str], None]
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".xlsb", ".csv")
MAX_FILE_BYTES = 25 * 2**20  # as reader.Limits: nothing larger is hashed or kept
REPORT_TO = "please report this to the budget office's ssfr-xl maintainer"
NO_LONGER_PASSES = "the plan no longer passes against the current district workbook"

#: Called with every internal-error finding as it is made (tests fail on any).
INTERNAL_ERROR_HOOKS: list[Callable[[Finding], None]] = []
#: When set, internal errors are also appended (one JSON line each) to this file, so a test
#: suite sees them from the `ssfr-xl` processes it starts.
INTERNAL_ERROR_LOG = "SSFR_XL_INTERNAL_ERROR_LOG"


def _quiet(_message: str) -> None:
    return None


# --- internal errors ----------------------------------------------------------------------

def report_internal_error(finding: Finding) -> None:
    """Tell the hooks (and the log named by SSFR_XL_INTERNAL_ERROR_LOG) about an internal
    error. Never raises."""
    for hook in list(INTERNAL_ERROR_HOOKS):
        try:
            hook(finding)
        except Exception:  # noqa: S110 - a hook's own failure must not hide the finding
            pass
    log = os.environ.get(INTERNAL_ERROR_LOG)
    if log:
        try:
            with open(log, "a", encoding="utf-8", errors="backslashreplace") as fh:
                fh.write(json.dumps(finding.as_dict(), ensure_ascii=True) + "\n")
        except OSError:
            pass


def internal_error_finding(path: Path | str, error: BaseException,
                           school_id: str = "") -> Finding:
    """An exception inside the checks, as an `internal-error` finding on the file."""
    name = Path(path).name if isinstance(path, Path) else str(path)
    finding = Finding(
        name, school_id, "", "", "error", "internal-error",
        f"ssfr-xl could not finish checking {shown(name)}: internal error "
        f"({type(error).__name__}: {line_text(error)[:500]}). This is a fault in ssfr-xl, "
        f"not something the school can fix; {REPORT_TO}, with the file. The file is not "
        "counted until it can be checked.")
    report_internal_error(finding)
    return finding


# --- the folder -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Ignored:
    """A folder entry that was not read, and why."""

    path: Path
    reason: str


EXPORT_HEADERS = (  # first columns of the tables ssfr-xl writes as CSV
    "school_id,school_name,status,",
    "file,sha256,school_id,status,use",
    "object,object_name,",
    "school_id,school_name,status,fund,",
    "school_id,school_name,job_class,",
    "department,service,description,",
    "goal,goal_name,planned",
    "file,school_id,sheet,cell,severity,code,message",
    "check,value,expected,result",
    "school_id,school_name,sheet,row,kind,",
    "school_id,school_name,component,fund,amount",  # allocate --csv
    "school_id,file,sha256",  # build's manifest.csv
)
SQLITE_MAGIC = b"SQLite format 3\x00"
_SQLITE_SIDE_FILES = ("-journal", "-wal", "-shm")


def _open_regular(path: Path) -> tuple[int, os.stat_result] | None:
    """A read-only descriptor of `path` if it is a regular file; never blocks (a FIFO or a
    device swapped in after the folder was listed is refused, not waited on)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        return None
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        return None
    return fd, st


def read_bounded(path: Path, limit: int = MAX_FILE_BYTES) -> bytes | None:
    """The bytes of a regular file of at most `limit` bytes; None otherwise."""
    opened = _open_regular(path)
    if opened is None:
        return None
    fd, st = opened
    with os.fdopen(fd, "rb") as fh:
        if st.st_size > limit:
            return None
        try:
            data = fh.read(limit + 1)  # it may have grown since fstat
        except OSError:
            return None
    return data if len(data) <= limit else None


def bounded_sha256(path: Path, limit: int = MAX_FILE_BYTES) -> str:
    """Hex sha256 of a regular file of at most `limit` bytes, else '' (the size limit comes
    before hashing; a pipe or device is never opened for reading)."""
    data = read_bounded(path, limit)
    return hashlib.sha256(data).hexdigest() if data is not None else ""


def _peek(path: Path, n: int) -> bytes:
    opened = _open_regular(path)
    if opened is None:
        return b""
    fd, _st = opened
    with os.fdopen(fd, "rb") as fh:
        try:
            return fh.read(n)
        except OSError:
            return b""


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _classify(entry: os.DirEntry, path: Path, known: Mapping[Path, str]) -> str | None:
    """Why a folder entry is not read, or None to read it."""
    name = entry.name
    for other, reason in known.items():
        if _same_file(path, other):
            return reason
    try:
        is_dir = entry.is_dir()
    except OSError:
        is_dir = False
    if is_dir:
        return "sub-folder: not read (put plans to consolidate directly in the folder)"
    if name.startswith("~$"):
        return "Excel lock file (the workbook is open somewhere): ignored"
    if name.startswith(".~lock.") and name.endswith("#"):
        return "LibreOffice lock file (the workbook is open somewhere): ignored"
    if name.startswith("."):
        return "hidden file: ignored"
    try:
        st = os.stat(path)
    except OSError as e:
        return f"could not be opened ({e.strerror or e}): ignored"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (a pipe, device or socket): ignored"
    lower = name.lower()
    if lower == "manifest.csv":
        return "the list of plan workbooks written by ssfr-xl build (manifest.csv): not a plan"
    if lower.endswith(_SQLITE_SIDE_FILES):
        return "working file of an SQLite database (a season ledger?): not a plan"
    head = _peek(path, 512)
    if head.startswith(SQLITE_MAGIC):
        return "an SQLite database (a season ledger of ssfr-xl?): not a plan"
    if lower.endswith(".csv"):
        first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].decode("utf-8", "replace")
        first = first.replace('"', "").strip()
        if any(first.startswith(h) for h in EXPORT_HEADERS):
            return "a table written by ssfr-xl (CSV export or manifest): not a plan"
    return None


def discover(paths: Iterable[Path], known: Mapping[Path, str] | None = None
             ) -> tuple[list[Path], list[Ignored]]:
    """Files to read from the given files and folders (not recursive), and what was skipped.

    `known` maps input files of the run (the ledger, the district workbook, the --received
    list) to why they are not plans, should they be in the folder.
    """
    known = dict(known or {})
    files: list[Path] = []
    ignored: list[Ignored] = []
    for given in paths:
        given = Path(given)
        if given.is_file():
            files.append(given)
            continue
        if not given.is_dir():
            ignored.append(Ignored(given, "not a regular file (a pipe, device or socket): "
                                          "ignored" if os.path.exists(given) else "not found"))
            continue
        try:
            with os.scandir(given) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            raise FileError(f"Cannot list the folder {line_text(given)}: {e.strerror or e}. "
                            "Check that it exists and that you may read it.") from e
        for entry in entries:
            path = given / entry.name
            reason = _classify(entry, path, known)
            if reason is None:
                files.append(path)
            else:
                ignored.append(Ignored(path, reason))
    return files, ignored


# --- checking files -------------------------------------------------------------------------

def file_problem(path: Path, code: str, message: str, severity: str = "error",
                 sheet: str = "", cell: str = "") -> PlanCheck:
    """A PlanCheck for a file that could not be read at all (hashed only within the size
    limit, never blocking on a pipe)."""
    check = PlanCheck(Path(path), bounded_sha256(Path(path)))
    check.findings.append(Finding(Path(path).name, "", sheet, cell, severity, code, message))
    return check


def _own_output(raw) -> str | None:
    """Why a readable workbook is one of ssfr-xl's own files, not a returned plan."""
    from .layout import DistrictSheets
    from .layout import SchoolSheets as SS

    names = set(raw.sheet_names)
    if SS.START in names:
        return None
    if {"Status", "Files", "Findings", "Reconciliation"} <= names:
        return "a totals workbook written by ssfr-xl consolidate: not a plan"
    if names == {"Feedback"}:
        return "a feedback workbook written by ssfr-xl validate: not a plan"
    from .totals_book import SHEETS

    if len(names) == 1 and names <= {*SHEETS, "allocations"}:  # exports.write_xlsx_table
        return "the .xlsx twin of a CSV export written by ssfr-xl: not a plan"
    if {DistrictSheets.POLICY, DistrictSheets.SCHOOLS, DistrictSheets.CALCULATION,
            DistrictSheets.ALLOCATIONS} <= names:
        return "a district formula workbook (ssfr-xl init): not a plan"
    return None


def _check_read(path: Path, raw, record: DistrictRecord) -> PlanCheck | Ignored:
    """One file's outcome from what the reader gave; never raises."""
    from .reader import ReadProblem

    try:
        if isinstance(raw, ReadProblem):
            check = file_problem(path, raw.code, raw.message, raw.severity, raw.sheet, raw.cell)
            if raw.code == "internal-error":  # the reader's own fault: never disguised
                for finding in check.findings:
                    report_internal_error(finding)
            return check
        own = _own_output(raw)
        if own is not None:
            return Ignored(path, own)
        return check_plan(raw, record, path)
    except Exception as e:  # one broken check never stops the others, and is never hidden
        sha = getattr(raw, "sha256", "") or bounded_sha256(path)
        check = PlanCheck(path, sha)
        check.findings.append(internal_error_finding(path, e))
        return check


def _slim(verdict: PlanCheck | Ignored, typed: bool) -> PlanCheck | Ignored:
    """The verdict as the season keeps it: without every computed cell (used by the checks
    only) and, unless `typed`, without each line's cells as typed (only amended plans copy
    them): a season of 10,000 plans holds 10,000 verdicts."""
    if isinstance(verdict, PlanCheck) and verdict.inputs is not None:
        verdict.inputs.evaluated = None
        if not typed:
            none: dict[str, object] = {}  # one per verdict, shared by its lines when pickled
            verdict.inputs.lines = [dataclasses.replace(li, raw=none)
                                    for li in verdict.inputs.lines]
    return verdict


def _checker(record: DistrictRecord, typed: bool = False
             ) -> Callable[[Path, object], PlanCheck | Ignored]:
    """The check each reader process runs on the file it has just read: only the verdict
    (findings, lines, goals) comes back, never the workbook's cells."""
    def check(path: Path, raw: object) -> PlanCheck | Ignored:
        return _slim(_check_read(path, raw, record), typed)
    return check


def _verdict(path: Path, got: object, record: DistrictRecord,
             typed: bool = False) -> PlanCheck | Ignored:
    """A worker's verdict, or the verdict on a file its worker could not finish."""
    if isinstance(got, PlanCheck | Ignored):
        return got
    return _slim(_check_read(path, got, record), typed)


def _known(path: Path, verdicts: Mapping[str, PlanCheck],
           outcome: dict[Path, PlanCheck | Ignored]) -> bool:
    """Whether the file's bytes have a verdict already (then it is put in `outcome`)."""
    data = read_bounded(path)
    if data is None:
        return False  # not a regular file, or too large: the reader says which
    known = verdicts.get(hashlib.sha256(data).hexdigest())
    if known is None:
        return False
    outcome[path] = dataclasses.replace(
        known, file=path,
        findings=[dataclasses.replace(f, file=path.name) for f in known.findings])
    return True


def check_files(files: Sequence[Path], record: DistrictRecord, progress: Progress = _quiet,
                workers: int | None = None,
                known_verdicts: Mapping[str, PlanCheck] | None = None, typed: bool = False,
                ) -> tuple[list[PlanCheck], list[Ignored]]:
    """Read (isolated, in worker processes) and check every file: one PlanCheck per file,
    except ssfr-xl's own outputs, which are listed as ignored.

    `known_verdicts` (sha256 -> verdict, from a ledger) are the files already checked
    against this very district: a file with those exact bytes is hashed, not read again.
    """
    from .layout import SchoolSheets
    from .reader import read_many

    outcome: dict[Path, PlanCheck | Ignored] = {}
    readable = []
    for path in files:
        if path.suffix.lower() not in WORKBOOK_SUFFIXES:
            kind = line_text(path.suffix) or "no extension"
            outcome[path] = file_problem(
                path, "not-a-workbook",
                f"{shown(path)} is not a spreadsheet ({kind}); only the school plan "
                "workbooks (.xlsx) are read.")
        else:
            readable.append(path)
    if known_verdicts:
        readable = [p for p in readable if not _known(p, known_verdicts, outcome)]
        if outcome:
            progress(f"{len(outcome):,} file(s) unchanged since the ledger checked them")
    with counting(progress, len(readable), "files", "checking files") as advance:
        for path, verdict in read_many(readable, workers=workers, sheets=SchoolSheets.ORDER,
                                       then=_checker(record, typed)):
            outcome[path] = _verdict(path, verdict, record, typed)
            advance()
    checks = [o for p in files if isinstance(o := outcome[p], PlanCheck)]
    ignored = [o for p in files if isinstance(o := outcome[p], Ignored)]
    return checks, ignored


def attribute(checks: Sequence[PlanCheck], record: DistrictRecord) -> dict[Path, str]:
    """Files in which no school could be read, by the district school their name starts with
    (`<school id>_...`, as build names them)."""
    ids = sorted(record.allocations, key=len, reverse=True)
    out: dict[Path, str] = {}
    for c in checks:
        if c.school_id:
            continue
        name = c.file.name
        for sid in ids:
            if name.startswith(sid) and not name[len(sid):len(sid) + 1].isalnum():
                out[c.file] = sid
                break
    return out


def _claims(checks: Sequence[PlanCheck], attributed: Mapping[Path, str]
            ) -> dict[str, list[PlanCheck]]:
    """school_id -> the files claiming it: by their metadata, or (spreadsheets in which no
    school could be read) by their name."""
    by_school: dict[str, list[PlanCheck]] = defaultdict(list)
    for c in checks:
        if c.school_id:
            by_school[c.school_id].append(c)
        elif c.file in attributed and c.file.suffix.lower() in WORKBOOK_SUFFIXES:
            by_school[attributed[c.file]].append(c)
    return by_school


def flag_duplicates(checks: Sequence[PlanCheck],
                    attributed: Mapping[Path, str] | None = None) -> None:
    """Two or more files claiming one school, whatever stage their checks reached: an error on
    each, naming the others."""
    attributed = attributed or {}
    for school_id, group in _claims(checks, attributed).items():
        if len(group) < 2:
            continue
        names = [shown(c.file) for c in group]
        for c in group:
            others = ", ".join(n for n in names if n != shown(c.file))
            how = " (by its file name: no school could be read inside it)" \
                if not c.school_id else ""
            c.findings.append(Finding(
                c.file.name, school_id, "", "", "error", "duplicate-school",
                f"Two or more files are plans for school {school_id}: {shown(c.file)}{how} "
                f"and {others}. Keep only the final version in the folder (or use a ledger "
                "to take the newest)."))


# --- versions and outcomes ------------------------------------------------------------------

@dataclass
class Version:
    """A file version recorded in the ledger."""

    received: float  # when it arrived: the --received time, else when the ledger first saw it
    sha256: str
    file_name: str
    status: str  # verdict of its latest check
    lines_json: str  # its lines and goals as the ledger keeps them (JSON), parsed when asked:
    goals_json: str  # a season's versions are many, and the lines of few are ever needed
    school_id: str = ""  # the school its metadata names ('' if none could be read)
    claimed_school: str = ""  # the school its name starts with, when none could be read
    first_run: int = 0
    received_override: float | None = None
    ever_accepted: bool = False
    district_fp: str = ""  # fingerprint of the district inputs of its latest check
    has_content: bool = False
    errors: int = 0
    warnings: int = 0
    checked_run: int = 0

    @property
    def lines(self) -> list[PlanLine]:
        """The plan lines recorded for this version."""
        return lines_from_json(self.lines_json)

    @property
    def goals(self) -> list[GoalEntry]:
        """The goals recorded for this version."""
        return goals_from_json(self.goals_json)

    @property
    def school(self) -> str:
        """The school this version is for (by metadata, else by name)."""
        return self.school_id or self.claimed_school

    def order(self) -> tuple[float, int]:
        """Sort key, oldest first: arrival time, then (without a --received time) the run."""
        return (self.received, 0 if self.received_override is not None else self.first_run)


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
    reason: str = ""  # why, in a sentence, when the status alone does not say


@dataclass
class SeasonResult:
    """Everything consolidate produces, before it is written."""

    record: DistrictRecord
    checks: list[PlanCheck]
    ignored: list[Ignored]
    schools: list[SchoolOutcome]
    superseded: dict[Path, str] = field(default_factory=dict)  # older accepted versions
    attributed: dict[Path, str] = field(default_factory=dict)  # school guessed from the name
    ledger_checks: list[PlanCheck] = field(default_factory=list)  # re-checked, not in folder
    received_unmatched: list[str] = field(default_factory=list)  # --received names not seen
    rechecked: int = 0  # ledger versions checked again against a changed district workbook

    @property
    def findings(self) -> list[Finding]:
        """All findings on all files (and on re-checked ledger versions), errors first."""
        return sort_findings(f for c in [*self.checks, *self.ledger_checks]
                             for f in c.findings)

    def accepted_lines(self) -> list[tuple[SchoolOutcome, PlanLine]]:
        """Plan lines of accepted schools, in school order."""
        return [(s, line) for s in self.schools if s.status.startswith("accepted")
                for line in s.lines]

    @functools.cached_property
    def _by_school(self) -> dict[str, SchoolOutcome]:
        return {s.school_id: s for s in self.schools}

    def use_of(self, check: PlanCheck) -> str:
        """What became of a file in the folder, in a few words."""
        chosen = self._by_school.get(check.school_id)
        if check.file in self.superseded:
            return "superseded by a newer accepted version"
        if chosen is not None and chosen.status.startswith("accepted"):
            if chosen.check is check:
                return "counted in the totals"
            if check.sha256 and check.sha256 == chosen.sha256:
                return f"not counted: an identical copy of {chosen.file_name}, which counts"
        if check.school_id:
            return "not counted"
        if check.file in self.attributed:
            return (f"not counted: probably school {self.attributed[check.file]} (its name "
                    "starts with that id), but no school could be read from the file")
        return "not counted: no school could be read from the file"


def _first_message(check: PlanCheck) -> str:
    errors = [f for f in sort_findings(check.findings) if f.severity == "error"]
    return errors[0].message if errors else ""


def choose_plans(record: DistrictRecord, checks: Sequence[PlanCheck],
                 history: Sequence[Version] | None = None,
                 attributed: Mapping[Path, str] | None = None,
                 fingerprint: str = "", recheck: Mapping[str, PlanCheck] | None = None,
                 ) -> tuple[list[SchoolOutcome], dict[Path, str], list[PlanCheck]]:
    """Status per district school, the superseded files, and the ledger versions whose
    findings belong in the report (see the module docstring)."""
    attributed = dict(attributed or {})
    recheck = dict(recheck or {})
    claims = _claims(checks, attributed)
    named_only: dict[str, list[PlanCheck]] = defaultdict(list)  # e.g. a PDF named by school
    for c in checks:
        if c.file in attributed and c.file.suffix.lower() not in WORKBOOK_SUFFIXES:
            named_only[attributed[c.file]].append(c)
    versions: dict[str, list[Version]] = defaultdict(list)
    for v in history or ():
        if v.school:
            versions[v.school].append(v)
    outcomes: list[SchoolOutcome] = []
    superseded: dict[Path, str] = {}
    extra: list[PlanCheck] = []
    for school in record.inputs.schools:
        sid = school.school_id
        present = claims.get(sid, [])
        if history is not None:
            outcome, older, shown_checks = _choose_with_ledger(
                sid, school.name, present, versions.get(sid, []), fingerprint, recheck,
                attributed)
            superseded.update(older)
            extra += shown_checks
        else:
            outcome = _choose_without_ledger(sid, school.name, present, attributed)
        if outcome.status == "missing" and named_only.get(sid):
            c = named_only[sid][0]
            outcome = SchoolOutcome(
                sid, school.name, "rejected", c, file_name=shown(c.file), sha256=c.sha256,
                reason=f"{shown(c.file)} (its name starts with this school's id) is not a "
                       f"plan workbook: {_first_message(c)}")
        outcomes.append(outcome)
    return outcomes, superseded, extra


def _choose_without_ledger(sid: str, name: str, present: list[PlanCheck],
                           attributed: Mapping[Path, str]) -> SchoolOutcome:
    if len(present) == 1 and present[0].status.startswith("accepted"):
        c = present[0]
        return SchoolOutcome(sid, name, c.status, c, list(c.inputs.lines if c.inputs else []),
                             list(c.inputs.goals if c.inputs else []), shown(c.file),
                             c.sha256)
    if not present:
        return SchoolOutcome(sid, name, "missing")
    best = min(present, key=lambda c: (c.errors, shown(c.file)))
    if len(present) > 1:
        reason = f"{len(present)} files claim this school: " + ", ".join(
            shown(c.file) for c in present) + "; keep only the final version"
    else:
        reason = _rejected_reason(best, attributed)
    return SchoolOutcome(sid, name, "rejected", best, file_name=shown(best.file),
                         sha256=best.sha256, reason=reason)


def _rejected_reason(check: PlanCheck, attributed: Mapping[Path, str]) -> str:
    if check.file in attributed and not check.school_id:
        return (f"probably {shown(check.file)} (its name starts with this school's id), "
                f"which could not be read: {_first_message(check)}")
    return _first_message(check)


def _no_longer_passes(check: PlanCheck, sid: str) -> None:
    first = _first_message(check)
    check.findings.append(Finding(
        check.file.name, sid, "", "", "error", "no-longer-passes",
        f"{shown(check.file)} was accepted for school {sid}, but {NO_LONGER_PASSES}"
        + (f" ({first})" if first else "") + ". It is no longer counted: ask the school to "
        "send a plan made from the current district workbook."))


def _choose_with_ledger(sid: str, name: str, present: list[PlanCheck],
                        versions: list[Version], fingerprint: str,
                        recheck: Mapping[str, PlanCheck], attributed: Mapping[Path, str]
                        ) -> tuple[SchoolOutcome, dict[Path, str], list[PlanCheck]]:
    by_sha = {c.sha256: c for c in present if c.sha256}
    of_record = [v for v in versions if v.ever_accepted]
    superseded: dict[Path, str] = {}
    extra: list[PlanCheck] = []
    if not of_record:
        if not present and not versions:
            return SchoolOutcome(sid, name, "missing"), superseded, extra
        if present:
            best = min(present, key=lambda c: (c.errors, shown(c.file)))
            return SchoolOutcome(sid, name, "rejected", best, file_name=shown(best.file),
                                 sha256=best.sha256,
                                 reason=_rejected_reason(best, attributed)), superseded, extra
        newest = max(versions, key=lambda v: (v.order(), v.sha256))
        return SchoolOutcome(sid, name, "rejected", file_name=newest.file_name,
                             sha256=newest.sha256,
                             reason=f"{newest.file_name} (in the ledger) was rejected"
                             ), superseded, extra
    top = max(v.order() for v in of_record)
    newest = sorted((v for v in of_record if v.order() == top), key=lambda v: v.sha256)
    if len(newest) > 1:  # first seen together, no --received times: never guess
        names = ", ".join(v.file_name for v in newest)
        for v in newest:
            c = by_sha.get(v.sha256)
            if c is None:
                continue
            c.findings.append(Finding(
                c.file.name, sid, "", "", "error", "duplicate-school",
                f"{names} are versions of the plan of school {sid}, first seen by the ledger "
                "in the same run, so it cannot tell which is newer. Give consolidate "
                "--received received.csv with the time each file arrived (columns file_name, "
                "received_at), or keep only the final version in the folder and start a new "
                "ledger."))
        best = by_sha.get(newest[0].sha256)
        return SchoolOutcome(sid, name, "rejected", best, file_name=names,
                             reason=f"{len(newest)} versions arrived together and the ledger "
                                    "cannot tell which is newer: give --received"
                             ), superseded, extra
    plan = newest[0]
    check = by_sha.get(plan.sha256)
    for c in present:
        if c.sha256 != plan.sha256 and c.status.startswith("accepted"):
            superseded[c.file] = plan.sha256
    later_rejected = [v for v in versions if not v.ever_accepted and v.order() > plan.order()]
    if plan.district_fp != fingerprint and check is None and plan.sha256 not in recheck:
        reason = (f"{plan.file_name} was counted, but it cannot be re-checked against the "
                  "current district workbook (the ledger holds no copy of it, as ledgers "
                  "of older ssfr-xl versions did not): put the file back in the folder")
        ghost = PlanCheck(Path(plan.file_name), plan.sha256, sid)
        ghost.findings.append(Finding(
            plan.file_name, sid, "", "", "error", "no-longer-passes",
            f"{reason}, or ask the school to send it again."))
        extra.append(ghost)
        return SchoolOutcome(sid, name, "rejected", ghost, file_name=plan.file_name,
                             sha256=plan.sha256, reason=reason), superseded, extra
    if check is None and plan.sha256 in recheck:
        check = recheck[plan.sha256]
        extra.append(check)
    status = check.status if check is not None else plan.status
    if not status.startswith("accepted"):
        if check is not None:
            _no_longer_passes(check, sid)
        return SchoolOutcome(sid, name, "rejected", check, file_name=plan.file_name,
                             sha256=plan.sha256,
                             reason=f"{NO_LONGER_PASSES} ({plan.file_name})"), superseded, extra
    if check is not None and check.inputs is not None:
        lines, goals = list(check.inputs.lines), list(check.inputs.goals)
    else:
        lines, goals = plan.lines, plan.goals
    reason = ""
    if later_rejected:
        reason = "newer version(s) rejected, not counted: " + ", ".join(
            v.file_name for v in sorted(later_rejected, key=lambda v: v.order()))
    in_folder = any(check is c for c in present)
    if not in_folder:
        reason = (reason + "; " if reason else "") + \
            f"counted from the ledger ({plan.file_name} is no longer in the folder)"
    return SchoolOutcome(sid, name, status, check if in_folder else None, lines,
                         goals, plan.file_name, plan.sha256, reason), superseded, extra


# --- a run ----------------------------------------------------------------------------------

def run_checks(paths: Iterable[Path], record: DistrictRecord, progress: Progress = _quiet,
               workers: int | None = None, flag_dupes: bool = True,
               known: Mapping[Path, str] | None = None,
               known_verdicts: Mapping[str, PlanCheck] | None = None, typed: bool = False,
               ) -> tuple[list[PlanCheck], list[Ignored]]:
    """Discover, read and check files, flagging duplicates when there is no ledger; with
    `typed`, each line keeps its cells as typed (amended plans copy them)."""
    files, ignored = discover(paths, known)
    progress(f"{len(files):,} files to check")
    checks, own = check_files(files, record, progress, workers, known_verdicts, typed)
    ignored = sorted([*ignored, *own], key=lambda i: i.path.name)
    if flag_dupes:
        flag_duplicates(checks, attribute(checks, record))
    return checks, ignored


def read_received(path: Path) -> dict[str, float]:
    """file_name -> arrival time (POSIX seconds) from a CSV of e-mail times.

    Columns file_name, received_at; times in ISO 8601 (2026-05-04T09:15:00-07:00) or as in
    an e-mail header (Mon, 04 May 2026 09:15:00 -0700); a time without a zone is local time.
    """
    path = Path(path)
    data = read_bounded(path, 50 * 2**20)
    if data is None:
        raise FileError(f"Cannot read the --received list {line_text(path)}: it is missing, "
                        "not a regular file, or larger than 50 MB.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{shown(path)} is not UTF-8 text (byte {e.start}). Save it as CSV "
                         "UTF-8 with columns file_name, received_at.") from None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        raise InputError(f"{shown(path)} is empty. It needs a header row file_name, "
                         "received_at and one row per returned file.")
    header = [h.strip().lower() for h in rows[0]]
    if "file_name" not in header or "received_at" not in header:
        raise InputError(f"{shown(path)} row 1: the header must name the columns file_name "
                         f"and received_at (it has {line_text(', '.join(rows[0]))[:200]}).")
    i_name, i_time = header.index("file_name"), header.index("received_at")
    out: dict[str, float] = {}
    where: dict[str, int] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not any(v.strip() for v in row):
            continue
        if len(row) <= max(i_name, i_time):
            raise InputError(f"{shown(path)} row {n}: it has {len(row)} column(s); give "
                             "file_name and received_at.")
        name, when = row[i_name].strip(), row[i_time].strip()
        if not name:
            raise InputError(f"{shown(path)} row {n}: file_name is empty.")
        seconds = parse_time(when)
        if seconds is None:
            raise InputError(
                f"{shown(path)} row {n}: received_at {line_text(when)[:80]!r} is not a time. "
                "Write it as 2026-05-04T09:15:00-07:00 (ISO 8601) or as the e-mail shows it "
                "(Mon, 04 May 2026 09:15:00 -0700).")
        if name in out and out[name] != seconds:
            raise InputError(f"{shown(path)} rows {where[name]} and {n}: two different times "
                             f"for {line_text(name)}. Keep one row per file.")
        out[name], where[name] = seconds, n
    return out


def parse_time(text: str) -> float | None:
    """POSIX seconds of an ISO 8601 or RFC 2822 time; None if it is neither."""
    text = text.strip()
    if not text:
        return None
    when: _dt.datetime | None
    try:
        when = _dt.datetime.fromisoformat(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.astimezone()  # local time
    try:
        return when.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


class CheckedBytes(Mapping[str, bytes]):
    """sha256 -> the bytes of a file in which a school was read, to keep in the ledger.

    The bytes are read from disk when asked, one file at a time, so a season's files are
    never all in memory; a file whose bytes are no longer exactly those that were checked is
    not there (nor is one the ledger `kept` already).
    """

    def __init__(self, checks: Sequence[PlanCheck],
                 kept: Callable[[str], bool] = lambda _sha: False) -> None:
        self._paths: dict[str, Path] = {}
        for c in checks:
            if c.sha256 and c.school_id and c.sha256 not in self._paths \
                    and not kept(c.sha256):
                self._paths[c.sha256] = c.file

    def __getitem__(self, sha: str) -> bytes:
        data = read_bounded(self._paths[sha])
        if data is None or hashlib.sha256(data).hexdigest() != sha:
            raise KeyError(sha)
        return data

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


def recheck_versions(versions: Sequence[Version], record: DistrictRecord,
                     content: Callable[[str], bytes | None], workers: int | None = None,
                     progress: Progress = _quiet) -> dict[str, PlanCheck]:
    """Check stored versions again, from the bytes the ledger kept, against `record`."""
    from .layout import SchoolSheets
    from .reader import read_many

    out: dict[str, PlanCheck] = {}
    if not versions:
        return out
    with tempfile.TemporaryDirectory(prefix="ssfr-xl-recheck-") as tmp:
        paths: dict[Path, Version] = {}
        for v in versions:
            data = content(v.sha256)
            if data is None or hashlib.sha256(data).hexdigest() != v.sha256:
                continue
            folder = Path(tmp) / v.sha256
            folder.mkdir()
            name = v.file_name if 0 < len(os.fsencode(v.file_name)) <= 200 and "/" not in \
                v.file_name and v.file_name not in (".", "..") else f"{v.sha256}.xlsx"
            path = folder / name
            path.write_bytes(data)
            paths[path] = v
        progress(f"re-checking {len(paths):,} recorded version(s) against the current "
                 "district workbook")
        with counting(progress, len(paths), "versions", "re-checking") as advance:
            for path, verdict in read_many(list(paths), workers=workers,
                                           sheets=SchoolSheets.ORDER, then=_checker(record)):
                checked = _verdict(path, verdict, record)
                if isinstance(checked, Ignored):  # cannot happen: only plans are kept
                    checked = file_problem(path, "not-a-plan", checked.reason)
                checked.file = Path(paths[path].file_name)
                out[paths[path].sha256] = checked
                advance()
    return out


def consolidate(record: DistrictRecord, returned: Path, *, ledger: Path | None = None,
                progress: Progress = _quiet, workers: int | None = None,
                received: Mapping[str, float] | None = None,
                known: Mapping[Path, str] | None = None,
                before_commit: Callable[[SeasonResult], None] | None = None,
                typed: bool = False) -> SeasonResult:
    """Check a folder of returned plans and choose the plan counted for each school; with
    `typed` (no ledger), each line keeps its cells as typed, for amended plans.

    With a ledger the run is recorded in one transaction; `before_commit` (e.g. writing the
    outputs to their staging place) runs inside it, so a failure records nothing.
    """
    known = dict(known or {})
    if ledger is None:
        if received:
            raise InputError("--received goes with --ledger: arrival times order the "
                             "versions the ledger records.")
        checks, ignored = run_checks([returned], record, progress, workers, known=known,
                                     typed=typed)
        attributed = attribute(checks, record)
        schools, superseded, _ = choose_plans(record, checks, None, attributed)
        result = SeasonResult(record, checks, ignored, schools, superseded, attributed)
        if before_commit is not None:
            before_commit(result)
        return result

    from .ledger import Ledger, district_fingerprint

    known.setdefault(Path(ledger), "the season ledger (--ledger): not a plan")
    for side in _SQLITE_SIDE_FILES:
        known.setdefault(Path(f"{ledger}{side}"), "working file of the season ledger: not a "
                                                  "plan")
    with Ledger(ledger) as book:  # opened (and checked) before any file is read
        fingerprint = district_fingerprint(record)
        verdicts = book.known_verdicts(fingerprint, record.inputs.district.fiscal_year)
        checks, ignored = run_checks([returned], record, progress, workers, flag_dupes=False,
                                     known=known, known_verdicts=verdicts)
        attributed = attribute(checks, record)
        contents = CheckedBytes(checks, book.has_content)
        with book.transaction():
            run = book.record_run(checks, record, fingerprint=fingerprint,
                                  attributed=attributed, contents=contents,
                                  received=received or {})
            unmatched = book.apply_received(record, received or {})
            history = book.versions(record)
            stale = [v for v in history if v.district_fp != fingerprint and v.has_content]
            rechecked = recheck_versions(stale, record, book.content, workers, progress)
            for sha, check in rechecked.items():
                book.update_verdict(sha, check, fingerprint, run)
            if rechecked:  # their verdicts changed: the versions are read again (the old
                stale = history = []  # ones let go first: a season's are many)
                history = book.versions(record)
            schools, superseded, extra = choose_plans(record, checks, history, attributed,
                                                      fingerprint, rechecked)
            book.record_outcomes(run, record, schools)
            result = SeasonResult(record, checks, ignored, schools, superseded, attributed,
                                  extra, sorted(unmatched), len(rechecked))
            if before_commit is not None:
                before_commit(result)
    return result


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
    """Write the totals workbook and, if asked, the CSV exports: all appear together (staged
    beside their places, renamed at the end) or none does."""
    from .exports import OutputSet

    outputs = OutputSet()
    try:
        stage_outputs(result, outputs.file(Path(totals_xlsx)),
                      outputs.folder(Path(exports)) if exports is not None else None, progress)
        outputs.publish()
    finally:
        outputs.discard()


def stage_outputs(result: SeasonResult, totals_at: Path, exports_at: Path | None,
                  progress: Progress = _quiet) -> None:
    """Write the totals workbook and the CSV exports at these (staging) places."""
    from .exports import write_csv, write_xlsx_table
    from .totals_book import season_tables, write_totals_workbook

    tables = season_tables(result)

    def write_exports() -> None:
        assert exports_at is not None
        for name, (header, rows) in tables.items():
            write_csv(exports_at / f"{name}.csv", header, rows)
            write_xlsx_table(exports_at / f"{name}.xlsx", header, rows, sheet=name)

    # the exports are written by a forked process while this one writes the totals workbook:
    # both are pure-Python XML writing, the same tables, and a second core halves the wait
    twin = _start_beside(write_exports) if exports_at is not None else None
    progress("writing the totals workbook" + (" and the CSV exports with their .xlsx twins"
                                              if exports_at is not None else ""))
    try:
        write_totals_workbook(totals_at, result, tables)
    except BaseException:
        if twin is not None:
            twin(cancel=True)
        raise
    if twin is not None:
        twin()


#: A copy forked from a larger process could double the memory a state-scale run needs (its
#: pages are shared only until Python touches them): then the exports are written here.
_FORK_AT_MOST = 1 << 30


def _resident_bytes() -> int:
    """This process's resident memory now (Linux), else 0."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _start_beside(work: Callable[[], None]) -> Callable[..., None]:
    """Run `work` in a forked process (or here, where processes are not forked); returns the
    function that waits for it and raises what it raised (or, cancel=True, stops it)."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods() or (os.cpu_count() or 1) < 2 \
            or _resident_bytes() > _FORK_AT_MOST:
        work()
        return lambda cancel=False: None
    receive, send = multiprocessing.get_context("fork").Pipe(duplex=False)

    def child() -> None:
        try:
            work()
            send.send(None)
        except BaseException as e:  # noqa: BLE001 - reported to the parent, raised there
            send.send(e if isinstance(e, OSError | SsfrError) else RuntimeError(repr(e)))

    process = multiprocessing.get_context("fork").Process(target=child, daemon=True)
    process.start()
    send.close()

    def wait(cancel: bool = False) -> None:
        if cancel:
            process.kill()
            process.join()
            return
        try:
            outcome = receive.recv()
        except EOFError:
            outcome = OSError(f"the process writing the CSV exports stopped (exit code "
                              f"{process.exitcode}); nothing was published")
        process.join()
        if outcome is not None:
            raise outcome
    return wait
