"""Current positions per school (CSV), pre-filled on the plan's Staffing sheet."""

from __future__ import annotations

import csv
from pathlib import Path

from ..errors import FileError, RosterError
from ..layout import MAX_LINE_FTE, STAFFING_LINES
from ..model import Policy
from ..school_book import Position

POSITION_COLUMNS = ("school_id", "job_class", "fte", "fund", "goal", "note")


def read_positions_csv(path: str | Path, policy: Policy) -> dict[str, list[Position]]:
    """school_id -> positions, checked against the district's job classes, funds and goals."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_text(encoding="cp1252", errors="replace")
    except OSError as e:
        raise FileError(f"Cannot read {path}: {e.strerror or e}.") from e
    reader = csv.DictReader(text.splitlines())
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in ("school_id", "job_class", "fte") if c not in header]
    if missing:
        raise RosterError(f"{path.name}: missing column(s) {', '.join(missing)}; the columns "
                          f"are {', '.join(POSITION_COLUMNS)}.")
    jobs = {j.code for j in policy.job_classes}
    funds = {f.code for f in policy.funds}
    goals = {g.code for g in policy.goals}
    result: dict[str, list[Position]] = {}
    problems = []
    for line, raw in enumerate(reader, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        where = f"{path.name} line {line}"
        try:
            fte = float(row.get("fte", ""))
        except ValueError:
            problems.append(f"{where}, column 'fte' holds the text {row.get('fte')!r}; "
                            "type a number.")
            continue
        if not 0 < fte <= MAX_LINE_FTE:
            problems.append(f"{where}, column 'fte': {fte:g} must be above 0 and at most "
                            f"{MAX_LINE_FTE:g} on one line.")
        if row["job_class"] not in jobs:
            problems.append(f"{where}, column 'job_class': {row['job_class']!r} is not a job "
                            "class of the district.")
        if row.get("fund") and row["fund"] not in funds:
            problems.append(f"{where}, column 'fund': {row['fund']!r} is not a district fund.")
        if row.get("goal") and row["goal"] not in goals:
            problems.append(f"{where}, column 'goal': {row['goal']!r} is not a district goal.")
        result.setdefault(row["school_id"], []).append(
            Position(row["job_class"], fte, row.get("fund", ""), row.get("goal", ""),
                     row.get("note", "")))
    for school_id, lines in result.items():
        if len(lines) > STAFFING_LINES:
            problems.append(f"{path.name}: school {school_id} has {len(lines)} positions but a "
                            f"plan's Staffing sheet holds {STAFFING_LINES} lines; put several "
                            "FTE of one job class on one line (e.g. 20.0 teachers).")
    if problems:
        raise RosterError(f"{path.name} has problems to fix:\n  - " + "\n  - ".join(problems))
    return result
