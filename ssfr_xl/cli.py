"""The ssfr-xl command line: parse, call the library, print, exit.

Exit codes: 0 done and clean; 1 done with error-level findings, or a file/input error;
2 usage error (click's own).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import sys
from pathlib import Path

import click

from . import __version__
from .errors import SsfrError
from .progress import TerminalProgress

# Steps and progress bars on stderr when it is a terminal, nothing otherwise (ssfr_xl.progress).
progress = TerminalProgress()


def _fail(error: SsfrError) -> click.ClickException:
    from .exports import OutputPlaceError

    if isinstance(error, OutputPlaceError):
        return click.UsageError(str(error))
    exc = click.ClickException(str(error))
    exc.exit_code = error.exit_code
    return exc


def _warn(message: str) -> None:
    click.echo(message, err=True)


def _fiscal_year(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    m = re.fullmatch(r"(\d{4})-(\d{2})", value.strip())
    if m is None or (int(m.group(1)) + 1) % 100 != int(m.group(2)):
        raise click.BadParameter(f"{value!r} is not a fiscal year: write it as two "
                                 "consecutive years, e.g. 2026-27.")
    return m.group(0)


def _iso_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date: write it as YYYY-MM-DD, e.g. "
                                 "2027-03-12.") from None


def _not_blank(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise click.BadParameter("must not be empty.")
    return value.strip() if value is not None else None


class Dollars(click.ParamType):
    """A positive dollar amount: 152000000, 152,000,000 or $9,800.50."""

    name = "dollars"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            amount = float(value)
        else:
            text = str(value).strip().replace(",", "").replace("_", "").removeprefix("$")
            try:
                amount = float(text) if re.fullmatch(r"\d+(\.\d+)?", text) else math.nan
            except ValueError:
                amount = math.nan
        if not math.isfinite(amount) or amount <= 0:
            self.fail(f"{value!r} is not a positive amount of dollars (e.g. 152000000 or "
                      "$9,800).", param, ctx)
        return amount


DOLLARS = Dollars()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ssfr-xl")
def cli() -> None:
    """Need-based school funding in Excel: formula, school plans, validation, totals."""


@cli.command()
@click.argument("district_xlsx", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--sample", "sample", type=click.IntRange(1, 5000), is_flag=False, flag_value=40,
              default=None, metavar="[N]",
              help="Use the built-in synthetic sample district (N schools, default 40).")
@click.option("--roster", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A roster CSV (see templates/roster.csv).")
@click.option("--cde", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CDE's CALPADS Unduplicated Pupil Count (CUPC) workbook.")
@click.option("--district", "district_code", metavar="CODE",
              help="With --cde: the 5-digit district code (e.g. 64881 Pasadena Unified).")
@click.option("--prior", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="With --cde: last year's CUPC workbook; prior-year allocations are the "
                   "policy applied to last year's counts.")
@click.option("--policy", "policy_path",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Funding policy TOML (default: the shipped templates/policy.toml).")
@click.option("--adjustments", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Per-school adjustment lines: a CSV of school_id, component, amount, "
                   "reason (component: an adjustment component of the policy).")
@click.option("--staff", "staff_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Staff roster CSV: computes each school's hard_to_staff_teachers (see "
                   "ssfr-xl teachers) instead of the roster's.")
@click.option("--performance", "performance_csv",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV of school_id, performance_points (ssfr-xl results writes it): the "
                   "performance pool's basis instead of the roster's.")
@click.option("--fiscal-year", "fiscal_year", metavar="YYYY-YY", callback=_fiscal_year,
              help="The season's fiscal year, e.g. 2026-27 (policy: fiscal_year).")
@click.option("--budget", type=DOLLARS, default=None,
              help="Unrestricted dollars for the schools, e.g. 152000000 (policy: budget).")
@click.option("--budget-per-pupil", "budget_per_pupil", type=DOLLARS, default=None,
              help="Or: dollars per pupil x the district's enrollment (policy: "
                   "budget_per_pupil).")
@click.option("--deadline", metavar="YYYY-MM-DD", callback=_iso_date,
              help="When school plans are due, shown on every plan (policy: plan_deadline).")
@click.option("--contact", metavar="TEXT", callback=_not_blank,
              help="Who principals ask, shown on every plan: office, e-mail, phone "
                   "(policy: contact).")
@click.option("--name", "district_name", metavar="TEXT", callback=_not_blank,
              help="The district's name (default: the CDE file's, or the policy's name).")
@click.option("--force", is_flag=True, help="Replace DISTRICT_XLSX if it exists.")
@click.option("--prior-workbook", "prior_workbook",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Last year's district workbook: each school's prior-year allocation is its "
                   "unrestricted total there, and the summary compares every component.")
@click.option("--carryover", "carryover",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Last year's totals workbook (or its by_school.csv): each school's unspent "
                   "dollars in the funds the policy's [carryover] section names become an "
                   "adjustment line of this year's allocation.")
def init(district_xlsx: Path, sample: int | None, roster: Path | None, cde: Path | None,
         district_code: str | None, prior: Path | None, policy_path: Path | None,
         adjustments: Path | None, staff_csv: Path | None, performance_csv: Path | None,
         fiscal_year: str | None, budget: float | None,
         budget_per_pupil: float | None,
         deadline: str | None, contact: str | None, district_name: str | None,
         force: bool, prior_workbook: Path | None, carryover: Path | None) -> None:
    """Create the district formula workbook from a roster and a policy.

    --fiscal-year, --budget or --budget-per-pupil, --deadline, --contact and --name
    override the policy file's [district] settings. With --roster or --cde, every one still
    at the shipped sample's value (templates/policy.toml) gets a warning on stderr.

    \b
    Examples:
      ssfr-xl init district.xlsx --sample
      ssfr-xl init pasadena.xlsx --cde cupc2425-k12.xlsx --district 64881 \\
              --fiscal-year 2025-26 --budget-per-pupil 9800 --deadline 2025-03-14 \\
              --contact "Budget Office, budget@pusd.us, (626) 396-3600"
      ssfr-xl init district.xlsx --roster roster.csv --policy my-policy.toml
    """
    from .season import create_district

    sources = [s for s in (sample, roster, cde) if s is not None]
    if len(sources) != 1:
        raise click.UsageError("Give exactly one of --sample, --roster or --cde.")
    if cde is not None and not district_code:
        raise click.UsageError("--cde needs --district CODE (the 5-digit district code).")
    if (district_code or prior) and cde is None:
        raise click.UsageError("--district and --prior go with --cde.")
    if budget is not None and budget_per_pupil is not None:
        raise click.UsageError("--budget and --budget-per-pupil are two ways to give the "
                               "budget: give one.")
    if prior is not None and prior_workbook is not None:
        raise click.UsageError("--prior and --prior-workbook are two ways to give last year: "
                               "give one.")
    given = {"fiscal_year": fiscal_year, "budget": budget, "budget_per_pupil": budget_per_pupil,
             "plan_deadline": deadline, "contact": contact, "name": district_name}
    try:
        if prior_workbook is not None:  # --force must never replace last year's workbook
            from .exports import check_output_places

            check_output_places([("DISTRICT_XLSX", district_xlsx)], [], [
                ("last year's district workbook (--prior-workbook)", prior_workbook)])
        summary = create_district(
            district_xlsx, sample=sample, roster=roster, cde=cde, district_code=district_code,
            prior=prior, policy_path=policy_path, adjustments=adjustments, force=force,
            staff=staff_csv, performance=performance_csv,
            progress=progress,
            settings={k: v for k, v in given.items() if v is not None}, warn=_warn,
            prior_workbook=prior_workbook, carryover=carryover,
        )
    except SsfrError as e:
        raise _fail(e) from e
    click.echo(summary)


@cli.command("export")
@click.argument("district_xlsx", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--policy", "policy_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the workbook's policy (every weight, rate and setting as edited) "
                   "to this TOML file.")
@click.option("--roster", "roster_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the Schools sheet to this roster CSV.")
@click.option("--adjustments", "adjustments_out",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Write the Adjustments sheet to this CSV.")
@click.option("--force", is_flag=True, help="Replace files that exist.")
def export_command(district_xlsx: Path, policy_out: Path | None, roster_out: Path | None,
                   adjustments_out: Path | None, force: bool) -> None:
    """Write the district workbook's current policy, roster and adjustments as files.

    `init` from them gives the same allocations to the cent: add a school to the roster or a
    component to the policy, run init again, and every weight the budget office edited in the
    workbook is kept.

    \b
    Examples:
      ssfr-xl export district.xlsx --policy policy.toml --roster roster.csv \\
              --adjustments adjustments.csv
      ssfr-xl init district-2.xlsx --policy policy.toml --roster roster.csv \\
              --adjustments adjustments.csv
    """
    from .policy_export import export_district

    try:
        written = export_district(district_xlsx, policy=policy_out, roster=roster_out,
                                  adjustments=adjustments_out, force=force)
    except SsfrError as e:
        raise _fail(e) from e
    click.echo("\n".join(written))


@cli.command("allocate")
@click.argument("district_xlsx", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, allow_dash=True,
                                                   path_type=Path),
              help="Write school_id, school_name, component, fund, amount to this CSV and to "
                   "its .xlsx twin (ids as text); '-' writes the CSV to stdout.")
def allocate_command(district_xlsx: Path, csv_path: Path | None) -> None:
    """Recompute every allocation from the district workbook's inputs and check it.

    Reads the inputs (Policy, Schools, Funds), never the formula results. If the file holds
    values saved by Excel or LibreOffice that differ from the engine by more than a cent, the
    cells are named and the exit code is 1. With --csv FILE the allocations also go to FILE
    and to its spreadsheet twin (allocations.csv and allocations.xlsx); with --csv - the CSV
    is all that goes to stdout, and the report goes to stderr.

    \b
    Examples:
      ssfr-xl allocate district.xlsx --csv allocations.csv
      ssfr-xl allocate district.xlsx --csv - | python load.py
    """
    from .season import allocate_district

    to_stdout = csv_path is not None and str(csv_path) == "-"
    try:
        report, ok = allocate_district(
            district_xlsx, None if to_stdout else csv_path, progress=progress,
            csv_stream=sys.stdout if to_stdout else None)
    except SsfrError as e:
        raise _fail(e) from e
    click.echo(report, err=to_stdout)
    if not ok:
        sys.exit(1)


@cli.command("compare")
@click.argument("district_xlsx", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--scenario", "scenarios", multiple=True, required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="A scenario TOML file (see templates/scenario-example.toml); repeat for "
                   "several.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The comparison workbook to write (.xlsx).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the comparison as a CSV (one row per scenario, school and "
                   "component, and each school's TOTAL).")
def compare_command(district_xlsx: Path, scenarios: tuple[Path, ...], out: Path,
                    csv_path: Path | None) -> None:
    """Compare today's allocation with one or more scenarios of the formula.

    A scenario file changes only what differs from the district workbook's policy (rates,
    weights, thresholds, the budget, transition settings). The workbook shows, per school
    and component, today against each scenario in dollars, per pupil and percent; winners
    and losers (a total changed by more than $0.50); equity statistics side by side; a
    chart of the change per pupil against the share of high-need pupils.

    \b
    Examples:
      ssfr-xl compare district.xlsx --scenario el-weight.toml --out compare.xlsx
      ssfr-xl compare district.xlsx --scenario a.toml --scenario b.toml \\
              --out compare.xlsx --csv compare.csv
    """
    from .compare_book import compare_district

    try:
        _comparison, lines = compare_district(district_xlsx, list(scenarios), out, csv_path)
    except SsfrError as e:
        raise _fail(e) from e
    click.echo("\n".join(lines))


@cli.command("build")
@click.argument("district_xlsx", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the plan workbooks and manifest.csv.")
@click.option("--schools", "school_ids", multiple=True, metavar="ID",
              help="Only these schools (14-digit CDS codes); repeat or separate by commas.")
@click.option("--positions", "positions_csv",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Current positions to pre-fill: school_id, job_class, fte, fund, goal, note.")
@click.option("--force", is_flag=True, help="Replace plan files that already exist.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Processes to use (default: one per core).")
@click.option("--amend", "amend", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Write amended plans from this true-up workbook or CSV (ssfr-xl trueup): "
                   "the new allocation, the principal's lines kept (needs --returned).")
@click.option("--returned", "returned_dir",
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="With --amend: the folder of returned plans whose lines are kept.")
@click.option("--prior-workbook", "prior_workbook",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Last year's district workbook: each plan's Allocation sheet shows every "
                   "component's change from last year and its causes.")
def build_command(district_xlsx: Path, out_dir: Path, school_ids: tuple[str, ...],
                  positions_csv: Path | None, force: bool, workers: int | None,
                  amend: Path | None, returned_dir: Path | None,
                  prior_workbook: Path | None) -> None:
    """Make one plan workbook per school, plus OUT/manifest.csv.

    Allocations come from the engine reading the district workbook's inputs. With --amend
    and --returned: one amended plan per school of the true-up file, with its new allocation
    (spring + the true-up adjustment, and why), the lines of its plan of record in the
    returned folder kept, and the amendment number and reason in its metadata; validate and
    consolidate take the same --amend file.

    \b
    Examples:
      ssfr-xl build district.xlsx --out plans/
      ssfr-xl build district.xlsx --out plans/ --schools 01999996000013 --force
      ssfr-xl build district.xlsx --amend trueup.xlsx --returned returned/ --out amended/
    """
    from .season import build_plans

    ids = tuple(part.strip() for s in school_ids for part in s.split(",") if part.strip())
    if (amend is None) != (returned_dir is None):
        raise click.UsageError("--amend and --returned go together: the true-up file and "
                               "the folder of returned plans whose lines are kept.")
    if amend is not None and prior_workbook is not None:
        raise click.UsageError("--prior-workbook goes with a new build, not with --amend.")
    if amend is not None and positions_csv is not None:
        raise click.UsageError("--positions is for new plans; amended plans keep the "
                               "principal's own lines.")
    try:
        if amend is not None:
            from .amend_book import build_amended_plans

            summary = build_amended_plans(district_xlsx, amend, returned_dir, out_dir,
                                          school_ids=ids, force=force, workers=workers,
                                          progress=progress)
        else:
            summary = build_plans(district_xlsx, out_dir, school_ids=ids,
                                  positions_csv=positions_csv, force=force, workers=workers,
                                  progress=progress, prior_workbook=prior_workbook)
    except SsfrError as e:
        raise _fail(e) from e
    click.echo(summary)


@cli.command("validate")
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--district", "district_xlsx", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The district formula workbook (the allocations of record).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text",
              show_default=True, help="How to print the findings.")
@click.option("--feedback", "feedback_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write one feedback workbook per school, listing its findings.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Processes to read files with (default: one per core).")
@click.option("--amend", "amend", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The true-up workbook or CSV (ssfr-xl trueup): amended allocations are the "
                   "allocations of record.")
def validate_command(paths: tuple[Path, ...], district_xlsx: Path, fmt: str,
                     feedback_dir: Path | None, workers: int | None,
                     amend: Path | None) -> None:
    """Check returned school plans and report every problem as a finding.

    Exit code 0 when no file has an error (warnings allowed), 1 when any does.

    \b
    Examples:
      ssfr-xl validate returned/ --district district.xlsx
      ssfr-xl validate plan.xlsx --district district.xlsx --format json
    """
    from .report import validate_files

    try:
        checks, output = validate_files(paths, district_xlsx, fmt, feedback_dir,
                                        workers=workers, progress=progress, amend=amend)
    except SsfrError as e:
        raise _fail(e) from e
    click.echo(output, nl=not output.endswith("\n"))
    if any(c.errors for c in checks):
        sys.exit(1)


@cli.command("consolidate")
@click.argument("district_xlsx", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("returned_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "totals_xlsx", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="The totals workbook to write.")
@click.option("--exports", "exports_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write lines.csv and every totals table as CSV here.")
@click.option("--ledger", "ledger_path", type=click.Path(dir_okay=False, path_type=Path),
              help="SQLite season ledger: records every file in the order first seen; the "
                   "newest accepted plan counts, re-checked against the district each run.")
@click.option("--received", "received_csv",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="With --ledger: CSV of file_name, received_at (the e-mail times, ISO 8601) "
                   "that orders the versions instead of when the ledger first saw them.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Processes to read files with (default: one per core).")
@click.option("--amend", "amend", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The true-up workbook or CSV (ssfr-xl trueup): amended allocations are the "
                   "schools' allocations of record.")
def consolidate_command(district_xlsx: Path, returned_dir: Path, totals_xlsx: Path,
                        exports_dir: Path | None, ledger_path: Path | None,
                        received_csv: Path | None, workers: int | None,
                        amend: Path | None) -> None:
    """Check every returned plan and roll accepted plans into district totals.

    Returned files are never modified. Outputs never go inside RETURNED_DIR and all appear
    at the end of the run, or none does. Exit code 0 when every school is accepted; 1 when
    any file has errors or a school is rejected or missing.

    \b
    Examples:
      ssfr-xl consolidate district.xlsx returned/ --out totals.xlsx --exports exports/
      ssfr-xl consolidate district.xlsx returned/ --out totals.xlsx --ledger season.sqlite \\
              --received received.csv
    """
    from .report import consolidate_folder

    if received_csv is not None and ledger_path is None:
        raise click.UsageError("--received goes with --ledger: the arrival times order the "
                               "versions the ledger records.")
    try:
        summary, clean = consolidate_folder(district_xlsx, returned_dir, totals_xlsx,
                                            exports_dir, ledger_path, workers=workers,
                                            progress=progress, received=received_csv,
                                            amend=amend)
    except SsfrError as e:
        raise _fail(e) from e
    click.echo(summary)
    if not clean:
        sys.exit(1)


@cli.command("status")
@click.option("--ledger", "ledger_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The season ledger written by consolidate --ledger.")
def status_command(ledger_path: Path) -> None:
    """Show the season at a glance: every school of the district by name, missing ones
    included, with its status and the versions recorded (newest first). Never writes.

    \b
    Example:
      ssfr-xl status --ledger season.sqlite
    """
    from .report import ledger_status

    try:
        click.echo(ledger_status(ledger_path))
    except SsfrError as e:
        raise _fail(e) from e


@cli.command("trueup")
@click.argument("district_xlsx", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--counts", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The fall (actual) counts as a roster CSV (templates/roster.csv columns).")
@click.option("--cde", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Or: CDE's CUPC workbook of the fall census.")
@click.option("--district", "district_code", metavar="CODE",
              help="With --cde: the 5-digit district code (default: the district workbook's).")
@click.option("--policy", "policy_path",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Policy TOML whose [trueup] section gives the rules (default: the shipped "
                   "templates/policy.toml).")
@click.option("--out", "out_xlsx", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The true-up workbook to write.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the true-up table (a row per school and fund) as CSV.")
def trueup_command(district_xlsx: Path, counts: Path | None, cde: Path | None,
                   district_code: str | None, policy_path: Path | None, out_xlsx: Path,
                   csv_path: Path | None) -> None:
    """Recompute every school's allocation on the fall counts with the adopted rates, and
    give each school's adjustment per fund, with the rule applied and the reason.

    The base rate is the one adopted in spring unless the policy's [trueup] section says
    resolve_base = true; its hold_harmless, no_reduction_below and max_clawback (per fund in
    [trueup.fund.<CODE>]) turn each change into an adjustment. Schools missing from the counts
    keep their spring allocation; schools new in the counts are listed.

    \b
    Examples:
      ssfr-xl trueup district.xlsx --counts october.csv --out trueup.xlsx --csv trueup.csv
      ssfr-xl trueup pasadena.xlsx --cde cupc2425-k12.xlsx --out trueup.xlsx
    """
    from .trueup_book import trueup_district

    if (counts is None) == (cde is None):
        raise click.UsageError("Give one of --counts CSV or --cde CUPC.xlsx (the fall counts).")
    if district_code and cde is None:
        raise click.UsageError("--district goes with --cde.")
    try:
        summary = trueup_district(district_xlsx, out_xlsx, counts=counts, cde=cde,
                                  district_code=district_code, policy_path=policy_path,
                                  csv_path=csv_path, progress=progress)
    except SsfrError as e:
        raise _fail(e) from e
    click.echo(summary)


@cli.command("publish")
@click.argument("district_xlsx", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Folder for the site: created, or replaced if it holds an earlier site.")
@click.option("--totals", "totals_xlsx",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The totals workbook consolidate --out wrote: plans, positions, services.")
@click.option("--ledger", "ledger_path",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The season ledger consolidate --ledger wrote (read only): the plans with "
                   "their goals and strategies.")
@click.option("--outcomes", "outcomes_csv",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Year-end outcomes CSV (as for ssfr-xl results): each school's results "
                   "against its plan's goals (with --ledger), by goal and by need quartile.")
@click.option("--lang", "langs", default="en,es", show_default=True, metavar="CODES",
              help="Languages of the site, comma-separated (en, es).")
def publish_command(district_xlsx: Path, out_dir: Path, totals_xlsx: Path | None,
                    ledger_path: Path | None, outcomes_csv: Path | None, langs: str) -> None:
    """Write a static transparency site: the formula in plain words, every school's
    allocation with the math, and, with --ledger or --totals, the school plans, a library
    of their strategies and what central services schools bought.

    Plain files: open OUT/index.html from disk or put the folder on any static web host;
    nothing is fetched at view time.

    \b
    Examples:
      ssfr-xl publish district.xlsx --out site/
      ssfr-xl publish district.xlsx --out site/ --ledger season.sqlite --lang en,es
      ssfr-xl publish district.xlsx --out site/ --ledger season.sqlite \\
              --outcomes outcomes.csv
    """
    from .site import parse_languages, publish_site

    if totals_xlsx is not None and ledger_path is not None:
        raise click.UsageError("Give --totals or --ledger, not both.")
    try:
        codes = parse_languages(langs)
    except SsfrError as e:
        raise click.UsageError(str(e)) from e
    try:
        summary = publish_site(district_xlsx, out_dir, totals=totals_xlsx, ledger=ledger_path,
                               outcomes=outcomes_csv, langs=codes, progress=progress)
    except SsfrError as e:
        raise _fail(e) from e
    click.echo(summary)


@cli.command("teachers")
@click.argument("district_xlsx", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--staff", "staff_csv", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Staff roster CSV: school_id, job_class, fte, salary, years, credential, "
                   "out_of_field (one row per position).")
@click.option("--minority", "minority_csv",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV of school_id, minority (pupils): adds the minority-quartile sheet.")
@click.option("--out", "out_xlsx", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The teacher-equity workbook to write.")
def teachers_command(district_xlsx: Path, staff_csv: Path, minority_csv: Path | None,
                     out_xlsx: Path) -> None:
    """Who teaches where: inexperienced, out-of-field and not fully credentialed teachers and
    average actual salary by poverty (and minority) quartile, the average-versus-actual salary
    gap per school, and the hard-to-staff incentive basis.

    \b
    Example:
      ssfr-xl teachers district.xlsx --staff staff.csv --minority minority.csv \\
              --out teachers.xlsx
    """
    from .season_results import teachers_workbook

    try:
        click.echo(teachers_workbook(district_xlsx, staff_csv, out_xlsx, minority_csv))
    except SsfrError as e:
        raise _fail(e) from e


@cli.command("sample-data")
@click.argument("district_xlsx", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--staff", "staff_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a synthetic staff roster CSV, paid on SFUSD's salary schedule.")
@click.option("--minority", "minority_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write synthetic minority pupil counts (school_id, minority).")
@click.option("--outcomes", "outcomes_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write synthetic year-end outcomes (school_id, indicator, baseline, "
                   "result, students).")
@click.option("--schedule", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The SFUSD teacher salary schedule CSV (default: "
                   "$SSFR_XL_DATA/sfusd/..., else ../shared/data/sfusd/...).")
def sample_data_command(district_xlsx: Path, staff_out: Path | None, minority_out: Path | None,
                        outcomes_out: Path | None, schedule: Path | None) -> None:
    """Make demonstration files for a district's schools (deterministic): a staff roster
    whose experience is skewed junior in high-poverty schools, minority counts, outcomes.

    \b
    Example:
      ssfr-xl sample-data district.xlsx --staff staff.csv --minority minority.csv \\
              --outcomes outcomes.csv
    """
    from .season_results import write_sample_data

    if staff_out is None and minority_out is None and outcomes_out is None:
        raise click.UsageError("Give at least one of --staff, --minority or --outcomes.")
    try:
        click.echo(write_sample_data(district_xlsx, staff=staff_out, minority=minority_out,
                                     outcomes=outcomes_out, schedule=schedule))
    except SsfrError as e:
        raise _fail(e) from e


@cli.command("results")
@click.argument("district_xlsx", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--outcomes", "outcomes_csv", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Year-end outcomes CSV: school_id, indicator, prior, result, students.")
@click.option("--ledger", "ledger_path", type=click.Path(exists=True, dir_okay=False,
                                                         path_type=Path),
              help="The season ledger (read only): each school's accepted plan and its goals.")
@click.option("--staff", "staff_csv", type=click.Path(exists=True, dir_okay=False,
                                                      path_type=Path),
              help="Staff roster CSV: adds the teacher sheets (see ssfr-xl teachers).")
@click.option("--minority", "minority_csv",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="With --staff: CSV of school_id, minority (pupils).")
@click.option("--performance", "performance_csv",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Also write next year's performance points (school_id, performance_points) "
                   "for init --performance.")
@click.option("--out", "out_xlsx", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The results workbook to write.")
def results_command(district_xlsx: Path, outcomes_csv: Path, ledger_path: Path | None,
                    staff_csv: Path | None, minority_csv: Path | None,
                    performance_csv: Path | None, out_xlsx: Path) -> None:
    """Year-end results: each school's outcomes matched to its plan's goals (targets met,
    growth, dollars planned per goal), the district by goal and by need quartile, and next
    year's performance points by a documented rule (growth, capped, small n at the median).

    \b
    Example:
      ssfr-xl results district.xlsx --outcomes outcomes.csv --ledger season.sqlite \\
              --staff staff.csv --performance performance.csv --out results.xlsx
    """
    from .season_results import results_workbook

    if minority_csv is not None and staff_csv is None:
        raise click.UsageError("--minority goes with --staff (the teacher sheets).")
    try:
        click.echo(results_workbook(district_xlsx, outcomes_csv, out_xlsx, ledger=ledger_path,
                                    staff=staff_csv, minority=minority_csv,
                                    performance=performance_csv))
    except SsfrError as e:
        raise _fail(e) from e


def main() -> None:
    """Console-script entry point: never a traceback for the user (set SSFR_XL_DEBUG=1 to see
    one); an unexpected failure is one line asking to report it, exit 1."""
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass
    try:
        cli(prog_name="ssfr-xl")
    except Exception as e:
        if os.environ.get("SSFR_XL_DEBUG"):
            raise
        from .consolidate import REPORT_TO, report_internal_error
        from .exports import line_text
        from .model import Finding

        message = (f"ssfr-xl stopped on an internal error ({type(e).__name__}: "
                   f"{line_text(e)[:500]}). Nothing new was written. This is a fault in "
                   f"ssfr-xl: {REPORT_TO} (run again with SSFR_XL_DEBUG=1 to see the "
                   "details).")
        report_internal_error(Finding("", "", "", "", "error", "internal-error", message))
        click.echo(f"Error: {message}", err=True)
        sys.exit(1)
