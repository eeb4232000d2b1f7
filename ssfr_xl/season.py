"""The season's steps as library calls: what each command does, minus the printing."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from .district_book import check_cached_values, read_district, write_district
from .equity import equity_lines
from .equity import per_pupil as equity_per_pupil
from .errors import FileError, OutputExistsError, PolicyError, RosterError
from .exports import (
    OutputPlaceError,
    OutputSet,
    amount,
    check_output_places,
    csv_text,
    line_text,
    require_folder,
    same_place,
    twin_path,
    write_csv,
    write_xlsx_table,
)
from .formula import AllocationResult, allocate
from .model import DistrictInputs, School
from .money import format_money
from .policy import PolicyFile, load_policy

Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    return None


def create_district(
    out: Path,
    *,
    sample: int | None = None,
    roster: Path | None = None,
    cde: Path | None = None,
    district_code: str | None = None,
    prior: Path | None = None,
    policy_path: Path | None = None,
    adjustments: Path | None = None,
    force: bool = False,
    progress: Progress = _quiet,
    settings: Mapping[str, Any] | None = None,
    warn: Progress = _quiet,
    prior_workbook: Path | None = None,
    staff: Path | None = None,
    performance: Path | None = None,
    carryover: Path | None = None,
) -> str:
    """Build the district workbook from one roster source; returns a summary to print.

    `staff` (a staff roster CSV) sets each school's hard_to_staff_teachers, `performance` (a
    CSV of school_id, performance_points) its performance points, instead of the roster's.

    `settings` overrides the policy file's [district] settings (fiscal_year, budget or
    budget_per_pupil, plan_deadline, contact, name). For a real roster (not the sample),
    `warn` hears one line for every setting still at the shipped sample's value.
    """
    from .sources import read_cde_cupc, read_roster_csv, sample_district

    out = Path(out)
    if out.exists() and not force:
        raise OutputExistsError(f"{out} exists; pass --force to replace it.")
    if out.suffix.lower() != ".xlsx":
        raise FileError(f"{out}: the district workbook must be an .xlsx file.")
    require_folder(out)
    overrides = dict(settings or {})
    policy_file = with_settings(load_policy(policy_path), overrides)
    notes: list[str] = []
    if sample is not None:
        progress(f"sample district with {sample} schools")
        sample_info, schools = sample_district(sample)
        name, cds = sample_info.name, sample_info.cds_code
    elif roster is not None:
        progress(f"reading roster {roster.name}")
        schools = read_roster_csv(roster, policy_file.policy.roster_columns)
        if not schools:
            raise RosterError(f"{roster.name}: the roster has no schools.")
        first = schools[0].cds_code or schools[0].school_id
        name = str(policy_file.settings.get("name", ""))
        cds = str(policy_file.settings.get("cds_code", "")) or (
            first[:7] if len(first) == 14 and first.isdigit() else "")
    else:
        assert cde is not None and district_code is not None
        progress(f"reading {cde.name} for district {district_code}")
        found = read_cde_cupc(cde, district_code)
        schools, notes = list(found.schools), list(found.notes)
        name, cds = found.district_name, found.county_code + found.district_code
        if prior is not None:
            progress(f"prior-year allocations from {prior.name}")
            schools, prior_note = _with_prior_year(schools, prior, district_code, policy_file,
                                                   name, cds)
            notes = [n for n in notes if "prior-year" not in n.lower()] + [prior_note]
    schools = [with_columns(s, policy_file.policy) for s in schools]
    last = None
    if prior_workbook is not None:
        from .prior_year import read_prior_workbook

        progress(f"last year's allocation from {Path(prior_workbook).name}")
        last = read_prior_workbook(prior_workbook)
        totals = {s.school_id: last.school_total(j, restricted=False)
                  for j, s in enumerate(last.schools)}
        schools = [replace(s, prior_year_allocation=totals[s.school_id])
                   if s.school_id in totals else s for s in schools]
        found = sum(1 for s in schools if s.school_id in totals)
        notes = [n for n in notes if "prior-year" not in n.lower()] + [
            f"Prior-year allocations: each school's unrestricted total in "
            f"{Path(prior_workbook).name} ({found} of {len(schools)} schools found there; the "
            "rest count as new)."]
    if staff is not None or performance is not None:
        from .season_results import incentive_bases

        progress("incentive bases from " + ", ".join(p.name for p in (staff, performance) if p))
        schools, basis_notes = incentive_bases(schools, policy_file.policy, staff, performance)
        notes += basis_notes
    if overrides.get("name"):
        name = str(overrides["name"])
    district = policy_file.district(name, cds, schools)
    adjustment_lines = ()
    if adjustments is not None:
        from .sources.adjustments import read_adjustments_csv

        progress(f"reading adjustments {adjustments.name}")
        adjustment_lines = read_adjustments_csv(adjustments, policy_file.policy, schools)
    if carryover is not None:
        from .carryover import carryover_lines, load_carryover, read_last_year

        rules = load_carryover(policy_path, policy_file.policy)
        if not rules:
            which = Path(policy_path).name if policy_path else "the shipped policy"
            raise PolicyError(
                f"--carryover: {which} has no [carryover] section, so no fund carries unspent "
                "dollars. Add one "
                "([carryover.fund.GEN] with component = an adjustment component of that fund, "
                "and a cap; see the README's Carryover section).")
        progress(f"last year's unspent dollars from {Path(carryover).name}")
        carried, carry_notes = carryover_lines(rules, read_last_year(carryover), schools,
                                               Path(carryover).name)
        adjustment_lines = (*adjustment_lines, *carried)
        notes += carry_notes
    inputs = DistrictInputs(district, policy_file.policy, tuple(schools), adjustment_lines)
    progress("computing allocations")
    result = allocate(inputs)
    write_district(out, inputs, progress=progress)
    if sample is None:
        for line in sample_settings_left(policy_file.settings, name_from_data=cde is not None,
                                         given=set(overrides)):
            warn(line)
    lines = [f"Wrote {out}", *summary_lines(result), *[f"Note: {n}" for n in notes]]
    if last is not None:
        from .prior_year import comparison_lines

        lines += comparison_lines(result, last, Path(prior_workbook).name)  # type: ignore[arg-type]
    return "\n".join(lines)


def with_columns(school: School, policy) -> School:
    """A school with every roster column the policy declares (0 / No where a source, such
    as CDE's file or the sample, has no such column)."""
    missing = {c.key: 0.0 for c in policy.roster_columns if c.key not in school.extra}
    return replace(school, extra={**school.extra, **missing}) if missing else school


def with_settings(policy_file: PolicyFile, overrides: Mapping[str, Any]) -> PolicyFile:
    """The policy with some [district] settings replaced (budget and budget_per_pupil are
    alternatives: giving one drops the other)."""
    if not overrides:
        return policy_file
    merged = dict(policy_file.settings)
    for given, other in (("budget", "budget_per_pupil"), ("budget_per_pupil", "budget")):
        if given in overrides:
            merged.pop(other, None)
    merged.update(overrides)
    return replace(policy_file, settings=merged)


# [district] setting -> (what it is, the init option that sets it)
SAMPLE_SETTINGS = {
    "name": ("the district name", "--name"),
    "fiscal_year": ("the fiscal year", "--fiscal-year"),
    "plan_deadline": ("the plan deadline", "--deadline"),
    "contact": ("the budget contact on every school plan", "--contact"),
}


def sample_settings_left(settings: Mapping[str, Any], name_from_data: bool = False,
                         given: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """A warning for every [district] setting still at the value of the shipped
    templates/policy.toml (the sample district's), saying which option or policy key sets it.
    Left out: the name when it comes from the data (a CDE file), and the settings `given`
    explicitly (on the command line), whatever their value."""
    shipped = load_policy().settings
    out = []
    for key, (what, option) in SAMPLE_SETTINGS.items():
        if (key == "name" and name_from_data) or key in given:
            continue
        if key in shipped and settings.get(key) == shipped[key]:
            out.append(f"Warning: {what} is the sample's ({shipped[key]}): set {option}, or "
                       f"{key} in the policy file's [district] section.")
    budget_key = "budget" if "budget" in settings else "budget_per_pupil"
    if budget_key in shipped and settings.get(budget_key) == shipped[budget_key] \
            and not given & {"budget", "budget_per_pupil"}:
        value = format_money(float(shipped[budget_key])).removesuffix(".00")
        shown_budget = f"{value} per pupil" if budget_key == "budget_per_pupil" else value
        out.append(f"Warning: the budget is the sample's ({shown_budget}): set --budget or "
                   "--budget-per-pupil, or budget or budget_per_pupil in the policy file's "
                   "[district] section.")
    return out


def _with_prior_year(schools: list[School], prior: Path, district_code: str, policy_file,
                     name: str, cds: str) -> tuple[list[School], str]:
    """Schools with prior_year_allocation = the policy run on last year's counts."""
    from .sources import read_cde_cupc

    last_year = read_cde_cupc(prior, district_code)
    district = policy_file.district(name, cds, last_year.schools)
    result = allocate(DistrictInputs(district, policy_file.policy, tuple(last_year.schools)))
    totals = {
        s.school_id: result.school_total(i, restricted=False)
        for i, s in enumerate(result.schools)
    }
    matched = [replace(s, prior_year_allocation=totals.get(s.school_id, 0.0)) for s in schools]
    n = sum(1 for s in schools if s.school_id in totals)
    return matched, (f"Prior-year allocations: the policy applied to {prior.name} "
                     f"({n} of {len(schools)} schools found there; the rest count as new).")


def budget_line(result: AllocationResult) -> str:
    """The budget check in words: rounding when the base is solved, money left unallocated
    when it is fixed, nothing to check when a fixed base rate has no budget."""
    d = result.inputs.district
    counted = format_money(result.budget_total)
    if d.base_rate_mode == "fixed" and d.budget == 0:
        return (f"  Budget: none set (fixed base rate); {counted} of unrestricted amounts "
                "count against a budget")
    gap = ("rounding difference " if d.base_rate_mode == "solve"
           else "unallocated against the budget ") + format_money(result.rounding_difference)
    return f"  Budget (unrestricted): {format_money(d.budget)}; counted against it {counted}; {gap}"


def summary_lines(result: AllocationResult) -> list[str]:
    """Human summary of an allocation: totals by fund, per pupil, the budget check."""
    d = result.inputs.district
    schools = result.schools
    pupils = sum(s.count(d.per_pupil_enrollment) for s in schools)
    lines = [
        f"{d.name}{f' ({d.cds_code})' if d.cds_code else ''}, fiscal year {d.fiscal_year}",
        f"  {len(schools):,} schools, {pupils:,.0f} pupils",
        f"  Base rate: {format_money(result.base_rate)} per weighted pupil "
        f"({'solved for the budget' if d.base_rate_mode == 'solve' else 'fixed'})",
        budget_line(result),
        "  Totals by fund:",
    ]
    for f in result.inputs.policy.funds:
        kind = "restricted" if f.restricted else "unrestricted"
        lines.append(f"    {f.code:<10} {format_money(result.fund_totals()[f.code]):>18}  "
                     f"{f.name} ({kind})")
    if schools:
        per_pupil, _need = equity_per_pupil(result)  # the Summary sheet's figures, rounded
        if per_pupil:
            lines.append(
                f"  Per pupil, all funds: lowest {format_money(min(per_pupil))}, median "
                f"{format_money(float(np.median(per_pupil)))}, highest "
                f"{format_money(max(per_pupil))}"
            )
    lines += equity_lines(result)
    if result.transition_protection:
        t = result.transition
        source = {"reserve": "the reserve", "cap_gains": "gains above the cap"}.get(
            t.mode, "gains")
        lines.append(
            f"  Transition: {format_money(t.protection_total)} shortfall below floors,"
            f" paid from {format_money(t.funding)} of {source} ({t.paid:.1%} of each shortfall)"
        )
    lines += [f"  Note: {n}" for n in result.notes]
    return lines


def allocate_district(path: Path, csv_path: Path | None = None,
                      progress: Progress = _quiet, *,
                      csv_stream: TextIO | None = None) -> tuple[str, bool]:
    """Recompute a district workbook and check it; returns (report, ok).

    With csv_path the allocation table is written there and as its .xlsx twin (both appear
    together); with csv_stream it is written to that stream (e.g. standard output) instead.
    ok is False when a formula of the workbook is not the one ssfr-xl wrote (changed,
    deleted, typed over, or a formula where an input belongs), when a value saved in the file
    differs from the engine, or when either check could not be completed.
    """
    from .district_check import SHOWN, check_formulas

    if csv_path is not None:
        check_output_places([("--csv", Path(csv_path))], [],
                            [("the district workbook", Path(path))])
        if same_place(twin_path(csv_path), Path(path)):
            raise OutputPlaceError(
                f"--csv {line_text(csv_path)}: its spreadsheet twin "
                f"{line_text(twin_path(csv_path))} would replace the district workbook. Give "
                "the CSV another name.")
        require_folder(csv_path, "--csv")
    progress(f"reading inputs of {Path(path).name}")
    inputs = read_district(path)
    progress("computing allocations")
    result = allocate(inputs)
    lines = summary_lines(result)
    rows = len(result.schools) * len(result.components)
    if csv_path is not None:
        write_allocation_csv(result, csv_path)
        lines.append(f"Wrote {csv_path} and {twin_path(csv_path)} ({rows:,} rows)")
    if csv_stream is not None:
        csv_stream.write(csv_text(*allocation_table(result)))
        csv_stream.flush()
        lines.append(f"Wrote the allocation CSV to standard output ({rows:,} rows)")

    progress("checking the workbook's formulas")
    formulas = check_formulas(path, inputs)
    head = (f"Formulas: compared {formulas.compared:,} of {formulas.expected:,} formula cells: "
            f"{formulas.changed:,} changed")
    others = len(formulas.findings) - formulas.changed
    if others:
        head += f", {others:,} other finding{'s' if others != 1 else ''}"
    if formulas.ok:
        lines.append(head + ". The workbook holds the formulas ssfr-xl wrote.")
    else:
        if formulas.findings:
            lines.append(head + ". The workbook no longer computes what ssfr-xl wrote, so the "
                         "numbers it shows cannot be trusted. Put each formula back (Undo, or "
                         "copy it from the row above) or rebuild the workbook with ssfr-xl "
                         "init:")
        else:
            lines.append(head + ".")
        lines += [f"  {finding}" for finding in formulas.findings[:SHOWN]]
        if len(formulas.findings) > SHOWN:
            lines.append(f"  ... and {len(formulas.findings) - SHOWN:,} more")
        lines += [f"  Not checked: {error}" for error in formulas.errors]
    lines += [f"  Note: {note}" for note in formulas.notes]

    progress("comparing with the values saved in the file")
    check = check_cached_values(path, result)
    if check.error:
        lines.append(f"Saved values: could not be compared ({check.error}).")
    elif not check.has_cached_values:
        lines.append(f"Saved values: none; the file holds no calculated values yet (never "
                     f"opened in Excel or LibreOffice): nothing to compare for the "
                     f"{check.cells_expected:,} cells.")
    elif check.ok:
        lines.append(f"Saved values: {check.agreeing:,} of {check.cells_expected:,} cells agree "
                     f"with the engine to the cent ({check.cells_checked:,} cells).")
    else:
        text = (f"Saved values: {check.agreeing:,} of {check.cells_expected:,} cells agree "
                "with the engine to the cent")
        if check.mismatches:
            text += (f"; {len(check.mismatches):,} differ by more than a cent (a formula may "
                     "have been overwritten or broken; recalculate in Excel with Ctrl+Alt+F9 "
                     "or rebuild with ssfr-xl init)")
        if check.unsaved:
            text += (f"; {check.unsaved:,} {'holds' if check.unsaved == 1 else 'hold'} no "
                     "saved value")
        lines.append(text + ":" if check.mismatches else text + ".")
        lines += [f"  {m}" for m in check.mismatches[:SHOWN]]
        if len(check.mismatches) > SHOWN:
            lines.append(f"  ... and {len(check.mismatches) - SHOWN:,} more")
    return "\n".join(lines), formulas.ok and check.ok


ALLOCATION_COLUMNS = ["school_id", "school_name", "component", "fund", "amount"]


def allocation_table(result: AllocationResult) -> tuple[list[str], list[list[object]]]:
    """The allocation as (header, rows): one row per school and component, amounts to the
    cent."""
    return ALLOCATION_COLUMNS, [
        [r.school_id, r.school_name, r.component, r.fund, amount(r.amount)]
        for r in result.table().itertuples(index=False)
    ]


def write_allocation_csv(result: AllocationResult, path: Path) -> None:
    """school_id, school_name, component, fund, amount (two decimals) as CSV at `path` and as
    its .xlsx twin (ids as text); both appear together, or neither does."""
    header, rows = allocation_table(result)
    outputs = OutputSet()
    try:
        write_csv(outputs.file(Path(path)), header, rows)
        write_xlsx_table(outputs.file(twin_path(path)), header, rows, sheet="allocations")
        outputs.publish()
    finally:
        outputs.discard()


def build_plans(
    district_xlsx: Path,
    out_dir: Path,
    *,
    school_ids: tuple[str, ...] = (),
    positions_csv: Path | None = None,
    force: bool = False,
    workers: int | None = None,
    progress: Progress = _quiet,
    prior_workbook: Path | None = None,
) -> str:
    """Write one plan workbook per school and DIR/manifest.csv; returns a summary. With
    `prior_workbook` (last year's district workbook) each plan's Allocation sheet also shows
    every component's change from last year and its causes."""
    from .layout import TEMPLATE_VERSION
    from .school_book import file_name, plan_specs
    from .sources.positions import read_positions_csv

    progress(f"reading inputs of {Path(district_xlsx).name}")
    inputs = read_district(district_xlsx)
    result = allocate(inputs)
    known = {s.school_id for s in inputs.schools}
    unknown = [s for s in school_ids if s not in known]
    if unknown:
        raise RosterError(f"Not schools of this district: {', '.join(unknown)}.")
    positions = read_positions_csv(positions_csv, inputs.policy) if positions_csv else {}
    stray = sorted(set(positions) - known)
    if stray:
        raise RosterError(f"{Path(positions_csv).name}: positions for unknown school(s) "
                          f"{', '.join(stray[:5])}.")
    specs = plan_specs(result, positions, school_ids or None)
    if prior_workbook is not None:
        from .prior_year import compare_years, read_prior_workbook

        progress(f"last year's allocation from {Path(prior_workbook).name}")
        last = read_prior_workbook(prior_workbook)
        changes = compare_years(result, last)
        source = f"{Path(prior_workbook).name}, {last.inputs.district.fiscal_year}"
        specs = [replace(s, prior_changes=changes[s.school.school_id], prior_source=source)
                 for s in specs]
    out_dir = Path(out_dir)
    require_folder(out_dir, "--out", creates=True)  # the plans folder is made, not its parents
    try:
        out_dir.mkdir(exist_ok=True)
    except OSError as e:
        raise FileError(f"Cannot create {out_dir}: {e.strerror or e}.") from e
    names = [file_name(s.school) for s in specs]
    stray_names = [n for n in names if Path(n).name != n or n.startswith(".") or "\\" in n]
    if stray_names:  # never write outside the output folder, whatever a school id holds
        raise RosterError(f"Cannot name a plan file {line_text(stray_names[0])} inside "
                          f"{line_text(out_dir)}: check the school ids.")
    targets = [out_dir / n for n in names]
    existing = [t.name for t in targets if t.exists()]
    if existing and not force:
        raise OutputExistsError(
            f"{len(existing)} plan file(s) already exist in {out_dir} (e.g. {existing[0]}); "
            "pass --force to replace them.")
    hashes = _write_plans(list(zip(targets, specs, strict=True)), workers, progress)
    manifest = out_dir / "manifest.csv"
    funds = [f.code for f in inputs.policy.funds]
    rows = [
        [s.school.school_id, t.name, h, *[f"{s.fund_allocation(c):.2f}" for c in funds],
         TEMPLATE_VERSION, s.built_at]
        for t, s, h in zip(targets, specs, hashes, strict=True)
    ]
    write_csv(manifest, ["school_id", "file", "sha256", *[f"allocation_{c}" for c in funds],
                          "template_version", "built_at"], rows)
    return (f"Wrote {len(specs):,} school plan workbooks and {manifest} "
            f"({inputs.district.name}, {inputs.district.fiscal_year}).")


def _build_one(job: tuple[Path, object]) -> str:
    import hashlib

    from .school_book import write_school_plan

    target, spec = job
    write_school_plan(target, spec)  # type: ignore[arg-type]
    return hashlib.sha256(target.read_bytes()).hexdigest()


def _write_plans(jobs: list, workers: int | None, progress: Progress) -> list[str]:
    """Write plan workbooks, on every core when there are many."""
    from concurrent.futures import ProcessPoolExecutor

    from .progress import counting

    workers = workers or os.cpu_count() or 1
    hashes = []
    with counting(progress, len(jobs), "plans", "writing plans") as advance:
        if workers == 1 or len(jobs) < 8:
            for job in jobs:
                hashes.append(_build_one(job))
                advance()
            return hashes
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for h in pool.map(_build_one, jobs, chunksize=1 if len(jobs) < 200 else 4):
                hashes.append(h)
                advance()
    return hashes
