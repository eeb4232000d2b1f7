"""Amended plans after the fall true-up (`ssfr-xl build --amend`).

For every school the true-up file names, an amended plan workbook: the new allocation (spring +
the true-up adjustment per fund, with the rule and the reason on the Allocation sheet), the
principal's lines kept from the school's plan of record in the returned folder, and a note in
the metadata (amendment number, reason, where the lines came from).

Which returned plan: the one `consolidate` would count (the newest accepted version), checked
against the spring district record; when a school has no accepted plan, the lines of its best
readable one are still kept (and the summary says so); a school without any returned plan gets
a blank amended plan. The amendment number is one more than the source plan's (1 after a
spring plan). Returned files are only read, never changed.

The plan is written as `build` writes it (XlsxWriter), then the principal's entries are typed
into its input cells with openpyxl, as a principal would; the spreadsheet recalculates every
total on opening (openpyxl keeps the formulas, not the Summary chart).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl

from .errors import FileError, OutputExistsError, RosterError
from .exports import atomic_target, check_output_places, line_text, require_folder, write_csv
from .layout import START_FIELDS, TEMPLATE_VERSION, SchoolLayout
from .layout import SchoolSheets as SS
from .plan import PlanInputs
from .school_book import SchoolPlanSpec, file_name, school_plan_bytes

Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    return None


def _source_facts(path: Path) -> tuple[int, dict[str, object]]:
    """The source plan's amendment number (0 for a spring plan) and its Start Here inputs."""
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, InvalidFileException):
        return 0, {}
    try:
        number = 0
        if SS.META in wb.sheetnames:
            for row in wb[SS.META].iter_rows(max_row=40, max_col=2, values_only=True):
                if row and row[0] == "amendment" and isinstance(row[1], int | float):
                    number = int(row[1])
        start: dict[str, object] = {}
        if SS.START in wb.sheetnames:
            ws = wb[SS.START]
            for key in ("prepared_by", "council_date"):
                start[key] = ws[START_FIELDS.cell(key)].value
        return number, start
    except (KeyError, ValueError, TypeError):
        return 0, {}
    finally:
        wb.close()


def _typed(value: object) -> object:
    """A cell as the principal typed it, in a form a workbook cell holds."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # an error value (#N/A) typed into a cell: kept as its text


def fill_from(wb, layout: SchoolLayout, inputs: PlanInputs, start: dict[str, object]) -> int:
    """Type a returned plan's entries into a fresh plan's input cells; returns lines copied."""
    tables = {t.sheet: t for t in (layout.staffing, layout.services, layout.other)}
    copied = 0
    for line in inputs.lines:
        t = tables[line.sheet]
        index = line.row - t.first_row
        ws = wb[t.sheet]
        for key, value in line.raw.items():
            column = t.column(key)
            if not column.input and not (key == "service" and index >= layout.menu_rows):
                continue  # a menu line's service code is the template's
            ws[t.cell(key, index)] = _typed(value)
        copied += 1
    g = layout.goals
    ws = wb[g.sheet]
    for entry in inputs.goals:
        index = entry.row - g.first_row
        for key in ("school_goal", "strategy", "measure"):
            value = getattr(entry, key)
            if value:
                ws[g.cell(key, index)] = value
    ws = wb[SS.START]
    for key, value in start.items():
        if value not in (None, ""):
            ws[START_FIELDS.cell(key)] = _typed(value)
    wb.calculation.fullCalcOnLoad = True
    return copied


def amended_plan_bytes(spec: SchoolPlanSpec, inputs: PlanInputs | None,
                       start: dict[str, object]) -> tuple[bytes, int]:
    """The amended plan's bytes and the number of lines kept."""
    data = school_plan_bytes(spec)
    if inputs is None and not start:
        return data, 0
    wb = openpyxl.load_workbook(io.BytesIO(data))
    copied = fill_from(wb, SchoolLayout(spec.policy), inputs or PlanInputs([], []), start)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), copied


def build_amended_plans(district_xlsx: Path, trueup: Path, returned: Path, out_dir: Path, *,
                        school_ids: tuple[str, ...] = (), force: bool = False,
                        workers: int | None = None, progress: Progress = _quiet) -> str:
    """Write an amended plan per school of the true-up file, and OUT/manifest.csv."""
    from .consolidate import consolidate
    from .school_book import plan_specs
    from .trueup_book import read_amendments
    from .validate import district_record

    district_xlsx, trueup, returned, out_dir = map(Path, (district_xlsx, trueup, returned,
                                                          out_dir))
    check_output_places([("--out", out_dir)], [("the folder of returned plans", returned)],
                        [("the district workbook", district_xlsx),
                         ("the true-up file (--amend)", trueup)])
    progress(f"reading the district workbook {district_xlsx.name}")
    record = district_record(district_xlsx)
    amendments = read_amendments(trueup, record.inputs)
    known_ids = {s.school_id for s in record.inputs.schools}
    unknown = [s for s in school_ids if s not in known_ids]
    if unknown:
        raise RosterError(f"Not schools of this district: {', '.join(unknown)}.")
    wanted = [s for s in record.inputs.schools if s.school_id in amendments
              and (not school_ids or s.school_id in school_ids)]
    specs = {s.school.school_id: s for s in plan_specs(record.result,
                                                       school_ids=[w.school_id for w in wanted])}
    require_folder(out_dir, "--out", creates=True)
    targets = {s.school_id: out_dir / file_name(s) for s in wanted}
    # never over an input: the true-up file or the district workbook may sit in --out
    check_output_places([("--out", t) for t in (*targets.values(), out_dir / "manifest.csv")],
                        [], [("the district workbook", district_xlsx),
                             ("the true-up file (--amend)", trueup)])
    existing = [t.name for t in targets.values() if t.exists()]
    if existing and not force:
        raise OutputExistsError(f"{len(existing)} plan file(s) already exist in "
                                f"{line_text(out_dir)} (e.g. {existing[0]}); pass --force to "
                                "replace them.")
    progress(f"reading the returned plans in {returned.name}")
    season = consolidate(record, returned, workers=workers, progress=progress,
                         known={district_xlsx: "the district workbook: not a plan",
                                trueup: "the true-up file: not a plan"}, typed=True)
    outcomes = {o.school_id: o for o in season.schools}
    try:
        out_dir.mkdir(exist_ok=True)
    except OSError as e:
        raise FileError(f"Cannot create {line_text(out_dir)}: {e.strerror or e}.") from e
    funds = [f.code for f in record.policy.funds]
    rows, lines = [], []
    for school in wanted:
        outcome = outcomes.get(school.school_id)
        check = outcome.check if outcome is not None else None
        number, start, kept_from = 0, {}, ""
        inputs = check.inputs if check is not None else None
        if check is not None and inputs is not None:
            number, start = _source_facts(check.file)
            kept_from = check.file.name
        amendment = dataclasses.replace(amendments[school.school_id], number=number + 1,
                                        kept_from=kept_from)
        spec = dataclasses.replace(specs[school.school_id], amendment=amendment)
        data, copied = amended_plan_bytes(spec, inputs, start)
        target = targets[school.school_id]
        with atomic_target(target) as tmp:
            tmp.write_bytes(data)
        status = outcome.status if outcome is not None else "missing"
        source = (f"{copied} line(s) kept from {kept_from} ({check.status})"  # type: ignore[union-attr]
                  if kept_from else "no returned plan: a blank amended plan")
        rows.append([school.school_id, target.name, hashlib.sha256(data).hexdigest(),
                     *[f"{spec.fund_allocation(c):.2f}" for c in funds], amendment.number,
                     kept_from, status, TEMPLATE_VERSION, spec.built_at])
        lines.append(f"  {school.school_id:<16} {school.name[:36]:<36} amendment "
                     f"{amendment.number}: {source}")
    write_csv(out_dir / "manifest.csv",
              ["school_id", "file", "sha256", *[f"allocation_{c}" for c in funds],
               "amendment", "lines_kept_from", "status_before", "template_version",
               "built_at"], rows)
    left_out = [s for s in record.inputs.schools if s.school_id not in amendments
                and (not school_ids or s.school_id in school_ids)]
    tail = ([f"  {len(left_out)} school(s) not in {trueup.name}: no amended plan "
             f"({', '.join(s.school_id for s in left_out[:5])}"
             f"{' ...' if len(left_out) > 5 else ''})"] if left_out else [])
    return "\n".join([f"Wrote {len(rows):,} amended plan workbooks and "
                      f"{line_text(out_dir / 'manifest.csv')} ({record.inputs.district.name}, "
                      f"{record.inputs.district.fiscal_year}, true-up {trueup.name}):",
                      *lines, *tail])


__all__ = ["amended_plan_bytes", "build_amended_plans", "fill_from"]
