"""What validate, consolidate and status print and write: findings as text, JSON, CSV, and
feedback workbooks for principals."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from openpyxl import Workbook

from . import styles
from .consolidate import consolidate, run_checks, write_outputs
from .exports import check_writable, csv_text
from .model import Finding
from .validate import PlanCheck, district_record, sort_findings
from .xlsx import save_atomically, title

Progress = Callable[[str], None]
FINDING_FIELDS = ["file", "school_id", "sheet", "cell", "severity", "code", "message"]


def _quiet(_message: str) -> None:
    return None


def findings_text(checks: Sequence[PlanCheck], names: dict[str, str]) -> str:
    """Findings grouped by file, errors first, then a one-line count."""
    out = []
    for c in checks:
        school = f" ({c.school_id} {names.get(c.school_id, '')})".rstrip() if c.school_id \
            else ""
        counts = f"{c.errors} error(s), {c.warnings} warning(s)" if c.findings else "no findings"
        out.append(f"{c.file.name}{school}: {c.status}, {counts}")
        for f in sort_findings(c.findings):
            where = f"{f.sheet}!{f.cell}" if f.cell else (f.sheet or "file")
            out.append(f"  {f.severity:<7} {where:<24} {f.code:<22} {f.message}")
    statuses = [c.status for c in checks]
    out.append(
        f"{len(checks)} file(s): {statuses.count('accepted')} accepted, "
        f"{statuses.count('accepted with warnings')} accepted with warnings, "
        f"{statuses.count('rejected')} rejected.")
    return "\n".join(out) + "\n"


def findings_json(checks: Sequence[PlanCheck]) -> str:
    """Every file with its status and findings, as JSON."""
    return json.dumps([
        {"file": c.file.name, "school_id": c.school_id, "sha256": c.sha256, "status": c.status,
         "findings": [f.as_dict() for f in sort_findings(c.findings)]}
        for c in checks
    ], indent=2, ensure_ascii=False) + "\n"


def findings_csv(checks: Sequence[PlanCheck]) -> str:
    """One CSV row per finding (formula-safe text)."""
    rows = [[f.as_dict()[k] for k in FINDING_FIELDS]
            for c in checks for f in sort_findings(c.findings)]
    return csv_text(FINDING_FIELDS, rows)


def write_feedback(directory: Path, check: PlanCheck, school_name: str) -> Path:
    """A small workbook for the principal listing what to fix, cell by cell."""
    wb = Workbook()
    styles.register(wb)
    ws = wb.active
    ws.title = "Feedback"
    title(ws, f"Feedback on your plan: {school_name or check.file.name}",
          f"File {check.file.name}, checked {_dt.date.today().isoformat()}: {check.status}. "
          "Fix each error below in your plan workbook and send it again.")
    headers = ["Severity", "Sheet", "Cell", "What to do", "Code"]
    widths = [10, 20, 8, 100, 22]
    for j, (h, w) in enumerate(zip(headers, widths, strict=True), start=1):
        ws.cell(row=4, column=j, value=h).style = styles.HEADER
        ws.column_dimensions[chr(64 + j)].width = w
    for i, f in enumerate(sort_findings(check.findings), start=5):
        for j, v in enumerate((f.severity, f.sheet, f.cell, f.message, f.code), start=1):
            cell = ws.cell(row=i, column=j, value=v)
            if isinstance(v, str) and v.startswith("="):
                cell.data_type = "s"
    if not check.findings:
        ws.cell(row=5, column=4, value="No problems found. Thank you!")
    ws.freeze_panes = "A5"
    name = f"{check.school_id or Path(check.file.name).stem}_feedback.xlsx"
    target = Path(directory) / name
    save_atomically(wb, target)
    return target


def validate_files(paths: Sequence[Path], district_xlsx: Path, fmt: str = "text",
                   feedback_dir: Path | None = None, workers: int | None = None,
                   progress: Progress = _quiet) -> tuple[list[PlanCheck], str]:
    """Check files and folders; returns the checks and the report in the chosen format."""
    if feedback_dir is not None:
        check_writable(feedback_dir)
    progress(f"reading the district workbook {Path(district_xlsx).name}")
    record = district_record(district_xlsx)
    checks, ignored = run_checks(paths, record, progress, workers)
    for item in ignored:
        checks.append(_ignored_check(item.path, item.reason))
    if feedback_dir is not None:
        for c in checks:
            if c.school_id or c.findings:
                write_feedback(feedback_dir, c, record.names.get(c.school_id, ""))
    if fmt == "json":
        return checks, findings_json(checks)
    if fmt == "csv":
        return checks, findings_csv(checks)
    return checks, findings_text(checks, record.names)


def _ignored_check(path: Path, reason: str) -> PlanCheck:
    check = PlanCheck(path, "")
    check.findings.append(Finding(path.name, "", "", "", "warning", "ignored-entry",
                                  f"{path.name}: {reason}."))
    return check


def consolidate_folder(district_xlsx: Path, returned_dir: Path, totals_xlsx: Path,
                       exports_dir: Path | None = None, ledger: Path | None = None,
                       workers: int | None = None, progress: Progress = _quiet
                       ) -> tuple[str, bool]:
    """Run consolidate and write its outputs; returns (summary, clean)."""
    check_writable(Path(totals_xlsx).parent if str(Path(totals_xlsx).parent) else Path("."))
    if exports_dir is not None:
        check_writable(exports_dir)
    progress(f"reading the district workbook {Path(district_xlsx).name}")
    record = district_record(district_xlsx)
    result = consolidate(record, returned_dir, ledger=ledger, progress=progress,
                         workers=workers)
    write_outputs(result, totals_xlsx, exports_dir, progress)
    counts: dict[str, int] = {}
    for s in result.schools:
        counts[s.status] = counts.get(s.status, 0) + 1
    planned = sum(line.amount for _s, line in result.accepted_lines())
    errors = sum(c.errors for c in result.checks)
    lines = [
        f"Wrote {totals_xlsx}" + (f" and CSV exports in {exports_dir}" if exports_dir else ""),
        f"{len(result.schools)} schools: " + ", ".join(
            f"{counts.get(k, 0)} {k}" for k in ("accepted", "accepted with warnings",
                                                "rejected", "missing")),
        f"{len(result.checks)} file(s) read, {len(result.ignored)} entries ignored, "
        f"{errors} error finding(s); accepted plans total ${planned:,.2f}.",
    ]
    rejected = [c for c in result.checks if c.errors]
    for c in rejected[:20]:
        first = sort_findings(c.findings)[0]
        lines.append(f"  rejected {c.file.name}: {first.message}")
    if len(rejected) > 20:
        lines.append(f"  ... and {len(rejected) - 20} more rejected file(s): see the Findings "
                     "sheet")
    clean = errors == 0 and counts.get("missing", 0) == 0 and counts.get("rejected", 0) == 0
    return "\n".join(lines), clean


def ledger_status(ledger_path: Path) -> str:
    """The season at a glance from the ledger."""
    from .ledger import Ledger

    with Ledger(ledger_path) as book:
        rows = book.status_rows()
    if not rows:
        return "The ledger has no files yet."
    out = [f"{'school':<15} {'status':<24} {'errors':>6} {'warn':>5}  received             file"]
    seen = set()
    for school_id, name, received, status, errors, warnings, _sha, _year in rows:
        marker = "" if school_id not in seen else "  (older)"
        seen.add(school_id)
        when = _dt.datetime.fromtimestamp(received).strftime("%Y-%m-%d %H:%M")
        out.append(f"{school_id or '?':<15} {status:<24} {errors:>6} {warnings:>5}  {when}  "
                   f"{name}{marker}")
    out.append(f"{len(seen)} school(s), {len(rows)} file version(s) recorded.")
    return "\n".join(out)


__all__ = ["findings_text", "findings_json", "findings_csv", "validate_files",
           "consolidate_folder", "ledger_status", "write_feedback"]
