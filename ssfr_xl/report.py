"""What validate, consolidate and status print and write: findings as text, JSON, CSV, and
feedback workbooks for principals.

Every text that reaches an output passes through ssfr_xl.exports' cleaning (file names may
hold any bytes, cells any control characters); every file written appears with the others at
the end of the run or not at all (exports.OutputSet).
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from .consolidate import consolidate, read_received, run_checks, stage_outputs
from .exports import (
    OutputPlaceError,
    OutputSet,
    cell_text,
    check_output_places,
    csv_text,
    line_text,
    require_folder,
    same_place,
    shown,
)
from .model import Finding
from .table_book import Column, TableSheet, write_table_book
from .totals_book import SHEETS
from .validate import PlanCheck, district_record, sort_findings

Progress = Callable[[str], None]
FINDING_FIELDS = ["file", "school_id", "sheet", "cell", "severity", "code", "message"]
STATUSES = ("accepted", "accepted with warnings", "rejected", "missing")


def _quiet(_message: str) -> None:
    return None


def findings_text(checks: Sequence[PlanCheck], names: dict[str, str]) -> str:
    """Findings grouped by file, errors first, then a one-line count."""
    out = []
    for c in checks:
        school = f" ({c.school_id} {names.get(c.school_id, '')})".rstrip() if c.school_id \
            else ""
        counts = f"{c.errors} error(s), {c.warnings} warning(s)" if c.findings else "no findings"
        out.append(line_text(f"{shown(c.file)}{school}: {c.status}, {counts}"))
        for f in sort_findings(c.findings):
            where = f"{f.sheet}!{f.cell}" if f.cell else (f.sheet or "file")
            out.append(line_text(f"  {f.severity:<7} {where:<24} {f.code:<22} {f.message}"))
    statuses = [c.status for c in checks]
    out.append(
        f"{len(checks)} file(s): {statuses.count('accepted')} accepted, "
        f"{statuses.count('accepted with warnings')} accepted with warnings, "
        f"{statuses.count('rejected')} rejected.")
    return "\n".join(out) + "\n"


def _finding_dict(f: Finding) -> dict[str, str]:
    d = {k: cell_text(v) for k, v in f.as_dict().items()}
    d["file"] = shown(f.file)
    return d


def findings_json(checks: Sequence[PlanCheck]) -> str:
    """Every file with its status and findings, as JSON."""
    return json.dumps([
        {"file": shown(c.file), "school_id": cell_text(c.school_id), "sha256": c.sha256,
         "status": c.status, "findings": [_finding_dict(f) for f in sort_findings(c.findings)]}
        for c in checks
    ], indent=2, ensure_ascii=False) + "\n"


def findings_csv(checks: Sequence[PlanCheck]) -> str:
    """One CSV row per finding (formula-safe text)."""
    rows = [[_finding_dict(f)[k] for k in FINDING_FIELDS]
            for c in checks for f in sort_findings(c.findings)]
    return csv_text(FINDING_FIELDS, rows)


# --- feedback workbooks -------------------------------------------------------------------

_RESERVED = {"CON", "PRN", "AUX", "NUL", "CLOCK$", *(f"COM{i}" for i in range(10)),
             *(f"LPT{i}" for i in range(10))}


def feedback_name(check: PlanCheck, taken: set[str] | None = None) -> str:
    """A safe, unique file name for a file's feedback workbook.

    It is made from the school id read from the file (or the file's name), which the sender
    controls: only ASCII letters, digits, '-', '_' and '.' are kept, at most 60 of them, never
    a name Windows reserves (CON, NUL, COM1...), never a path; `taken` (lower-case names
    already used) gets the name added.
    """
    base = check.school_id or Path(check.file.name).stem
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._-")[:60].strip("._-") or "plan"
    if safe.split(".")[0].upper() in _RESERVED:
        safe = "_" + safe
    name, n = f"{safe}_feedback.xlsx", 2
    taken = taken if taken is not None else set()
    while name.lower() in taken:
        name, n = f"{safe}_feedback-{n}.xlsx", n + 1
    taken.add(name.lower())
    assert Path(name).name == name and "/" not in name and "\\" not in name
    return name


def write_feedback(directory: Path, check: PlanCheck, school_name: str,
                   name: str | None = None, district: str = "") -> Path:
    """A small workbook for the principal listing what to fix, cell by cell; written in
    `directory` only, under a safe name (`feedback_name`)."""
    school = school_name or shown(check.file)
    columns = [Column("Severity"), Column("Sheet", max_width=24), Column("Cell"),
               Column("What to do", max_width=80), Column("Code", max_width=30)]
    rows = [[f.severity, f.sheet, f.cell, f.message, f.code]
            for f in sort_findings(check.findings)]
    if not rows:
        rows = [[None, None, None, "No problems found. Thank you!", None]]
    sheet = TableSheet(
        "Feedback", columns, rows, title=f"Feedback on your plan: {school}",
        subtitle=f"File {shown(check.file)}, checked {_dt.date.today().isoformat()}: "
                 f"{check.status}. Fix each error below in your plan workbook and send it "
                 "again.",
        about=school)
    target = Path(directory) / (name or feedback_name(check))
    write_table_book(target, [sheet], district)
    return target


# --- validate -----------------------------------------------------------------------------

def validate_files(paths: Sequence[Path], district_xlsx: Path, fmt: str = "text",
                   feedback_dir: Path | None = None, workers: int | None = None,
                   progress: Progress = _quiet, amend: Path | None = None
                   ) -> tuple[list[PlanCheck], str]:
    """Check files and folders; returns the checks and the report in the chosen format.

    Feedback workbooks all appear in `feedback_dir` at the end, or none does. With `amend` (a
    true-up file) the amended allocations are the allocations of record.
    """
    paths = [Path(p) for p in paths]
    district_xlsx = Path(district_xlsx)
    check_output_places(
        [("--feedback", feedback_dir)],
        [("the folder of returned plans", p) for p in paths if p.is_dir()],
        [("the returned file", p) for p in paths if not p.is_dir()]
        + [("the district workbook", district_xlsx), ("the true-up file (--amend)", amend)])
    if feedback_dir is not None:
        require_folder(feedback_dir, "--feedback", creates=True)
    outputs = OutputSet(protected=[district_xlsx, *(p for p in paths if not p.is_dir())])
    try:
        staged = outputs.folder(feedback_dir) if feedback_dir is not None else None
        progress(f"reading the district workbook {shown(district_xlsx)}")
        record = district_record(district_xlsx, amend)
        checks, ignored = run_checks(paths, record, progress, workers,
                                     known={district_xlsx: "the district workbook given with "
                                                           "--district: not a plan"})
        for item in ignored:
            checks.append(_ignored_check(item.path, item.reason))
        if staged is not None:
            taken = {p.name.lower() for p in paths if not p.is_dir()}
            for c in checks:
                if c.school_id or c.findings:
                    write_feedback(staged, c, record.names.get(c.school_id, ""),
                                   feedback_name(c, taken), record.inputs.district.name)
            outputs.publish()
    finally:
        outputs.discard()
    if fmt == "json":
        return checks, findings_json(checks)
    if fmt == "csv":
        return checks, findings_csv(checks)
    return checks, findings_text(checks, record.names)


def _ignored_check(path: Path, reason: str) -> PlanCheck:
    check = PlanCheck(path, "")
    check.findings.append(Finding(path.name, "", "", "", "warning", "ignored-entry",
                                  f"{shown(path)}: {reason}."))
    return check


# --- consolidate --------------------------------------------------------------------------

def consolidate_folder(district_xlsx: Path, returned_dir: Path, totals_xlsx: Path,
                       exports_dir: Path | None = None, ledger: Path | None = None,
                       workers: int | None = None, progress: Progress = _quiet,
                       received: Path | None = None, amend: Path | None = None
                       ) -> tuple[str, bool]:
    """Run consolidate and write its outputs; returns (summary, clean). With `amend` (a
    true-up file) the amended allocations are the schools' allocations of record.

    Outputs never go inside the returned folder or over an input (OutputPlaceError, a usage
    error); they all appear at the end of the run, or none does and older ones stay.
    """
    district_xlsx, returned_dir = Path(district_xlsx), Path(returned_dir)
    if ledger is not None:  # the ledger is written every run: never among the returned plans
        check_output_places([("--ledger", Path(ledger))],
                            [("the folder of returned plans", returned_dir)], [])
    check_output_places(
        [("--out", Path(totals_xlsx)), ("--exports", exports_dir)],
        [("the folder of returned plans", returned_dir)],
        [("the district workbook", district_xlsx), ("the ledger", ledger),
         ("the --received list", received), ("the true-up file (--amend)", amend)])
    if exports_dir is not None and Path(totals_xlsx).name.lower() in {
            f"{name}.{kind}" for name in SHEETS for kind in ("csv", "xlsx")}:
        if same_place(Path(totals_xlsx).parent, Path(exports_dir)):
            raise OutputPlaceError(
                f"--out {line_text(totals_xlsx)} is one of the files --exports writes in "
                f"{line_text(exports_dir)}. Give the totals workbook another name.")
    require_folder(Path(totals_xlsx), "--out")
    if exports_dir is not None:
        require_folder(Path(exports_dir), "--exports", creates=True)
    inputs = [p for p in (district_xlsx, ledger, received, amend) if p is not None]
    outputs = OutputSet(protected=inputs)
    try:
        # the staging places first: an output that cannot be written fails before any work
        totals_at = outputs.file(Path(totals_xlsx))
        exports_at = outputs.folder(Path(exports_dir)) if exports_dir is not None else None
        received_at = read_received(received) if received is not None else None
        progress(f"reading the district workbook {shown(district_xlsx)}")
        record = district_record(district_xlsx, amend)
        known = {district_xlsx: "the district workbook given to consolidate: not a plan"}
        if amend is not None:
            known[Path(amend)] = "the true-up file given with --amend: not a plan"
        if received is not None:
            known[Path(received)] = "the --received list of arrival times: not a plan"
        result = consolidate(
            record, returned_dir, ledger=ledger, progress=progress, workers=workers,
            received=received_at, known=known,
            before_commit=lambda r: stage_outputs(r, totals_at, exports_at, progress))
        outputs.publish()
    finally:
        outputs.discard()
    return _summary(result, totals_xlsx, exports_dir, received)


def _summary(result, totals_xlsx: Path, exports_dir: Path | None,
             received: Path | None) -> tuple[str, bool]:
    counts: dict[str, int] = {}
    for s in result.schools:
        counts[s.status] = counts.get(s.status, 0) + 1
    planned = sum(line.amount for _s, line in result.accepted_lines())
    everything = [*result.checks, *result.ledger_checks]
    errors = sum(c.errors for c in everything)
    lines = [
        line_text(f"Wrote {totals_xlsx}"
                  + (f" and CSV exports in {exports_dir}" if exports_dir else "")),
        f"{len(result.schools)} schools: " + ", ".join(
            f"{counts.get(k, 0)} {k}" for k in STATUSES),
        f"{len(result.checks)} file(s) read, {len(result.ignored)} entries ignored, "
        f"{errors} error finding(s); accepted plans total ${planned:,.2f}.",
    ]
    rejected = [c for c in everything if c.errors]
    for c in rejected[:20]:
        first = next(f for f in sort_findings(c.findings) if f.severity == "error")
        lines.append(line_text(f"  rejected {shown(c.file)}: {first.message}"))
    if len(rejected) > 20:
        lines.append(f"  ... and {len(rejected) - 20} more rejected file(s): see the Findings "
                     "sheet")
    unattributed = [c for c in result.checks if not c.school_id
                    and c.file not in result.attributed]
    if unattributed:
        lines.append(f"{len(unattributed)} file(s) could not be matched to a school (no "
                     "school could be read from them): see the Files sheet.")
    if result.rechecked:
        lines.append(f"The district workbook changed since the last run: "
                     f"{result.rechecked} recorded version(s) were checked again against it.")
    if result.received_unmatched:
        lines.append(line_text(
            f"{shown(received) if received else '--received'}: "
            f"{len(result.received_unmatched)} file name(s) match no file seen: "
            + ", ".join(result.received_unmatched[:5])
            + (" ..." if len(result.received_unmatched) > 5 else "")))
    clean = errors == 0 and counts.get("missing", 0) == 0 and counts.get("rejected", 0) == 0
    return "\n".join(lines), clean


# --- status -------------------------------------------------------------------------------

def ledger_status(ledger_path: Path) -> str:
    """The season at a glance from the ledger: every school of the district by name, missing
    ones included, with the versions recorded for it (newest first). Never writes."""
    from .ledger import Ledger

    with Ledger(ledger_path, readonly=True) as book:
        year = book.latest_year()
        if year is None:
            return "The ledger has no runs yet: run ssfr-xl consolidate with --ledger."
        versions = book.versions(year=year)
        schools = book.schools(year)
        outcomes = book.outcomes(year)
        last = book.last_run()
    by_school: dict[str, list] = {}
    for v in versions:
        by_school.setdefault(v.school, []).append(v)
    out = []
    if last is not None:
        out.append(f"Season {year}: last consolidated {_when_iso(last[1])} (run {last[0]}).")
    if not schools:  # a ledger from an older ssfr-xl that has not been run since
        schools = [(sid, "") for sid in sorted(s for s in by_school if s)]
        out.append("(The ledger does not list the district's schools yet: run ssfr-xl "
                   "consolidate with this ledger to list every school, missing ones too.)")
    counts = dict.fromkeys(STATUSES, 0)
    width = max([len(n) for _sid, n in schools] + [10])
    width = min(width, 40)
    for sid, name in schools:
        mine = sorted(by_school.get(sid, []), key=lambda v: (v.order(), v.sha256),
                      reverse=True)
        status, reason, file_name, sha = outcomes.get(sid, ("", "", "", ""))
        if not status:
            status = mine[0].status if mine else "missing"
        counts[status] = counts.get(status, 0) + 1
        text = status + (f": {reason}" if reason else "")
        out.append(line_text(f"{sid:<15} {name[:width]:<{width}}  {text}"))
        for v in mine:
            marker = "  (counted)" if v.sha256 == sha and status.startswith("accepted") \
                else ""
            out.append(line_text(
                f"    {_when(v.received)}  {v.status:<24} {v.errors:>3} error(s) "
                f"{v.warnings:>3} warning(s)  {v.file_name}{marker}"))
    listed = {sid for sid, _ in schools}
    others = [v for v in versions if v.school not in listed]
    if others:
        out.append("Files with no school of the district:")
        for v in sorted(others, key=lambda v: (v.order(), v.sha256), reverse=True):
            who = f"school {v.school}" if v.school else "no school could be read"
            out.append(line_text(f"    {_when(v.received)}  {v.status:<24} {v.file_name} "
                                 f"({who})"))
    out.append(f"{len(schools)} school(s): " + ", ".join(
        f"{counts.get(k, 0)} {k}" for k in STATUSES)
        + f"; {len(versions)} file version(s) recorded.")
    return "\n".join(out)


def _when(seconds: float) -> str:
    try:
        return _dt.datetime.fromtimestamp(seconds, _dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, OSError, ValueError):
        return "????-??-?? ??:??"


def _when_iso(text: str) -> str:
    try:
        return _when(_dt.datetime.fromisoformat(text).timestamp())
    except (TypeError, ValueError):
        return line_text(text)


__all__ = ["findings_text", "findings_json", "findings_csv", "validate_files",
           "consolidate_folder", "ledger_status", "write_feedback", "feedback_name"]
