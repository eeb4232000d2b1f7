"""A budget season of returned plans, built the way they arrive, with what each must produce.

    season = make_season(tmp_path)          # the sample district, 40 schools, ~40 files
    season.files["<name>.xlsx"]             # ExpectedFile: school inside, status, findings
    season.schools["<school id>"]           # expected status in Status (no ledger)
    season.accepted_paths()                 # the files whose lines must be in the totals

Plans are made in memory (plan_specs + build_school_plan), filled with demo_plan +
fill_plan_workbook (a different seed and fill share per school), then broken one way each:

    over-budget    one more teacher (1.0 FTE, GEN) than GEN can pay for    -> rejected
    formula        a Staffing cost formula typed over with a number        -> rejected
    wrong-name     school A's plan saved under school B's file name        -> A accepted with
                   (file-name-mismatch); B sends nothing                      warnings, B missing
    resubmitted    two versions of one school, the newer received later    -> rejected (no ledger)
    missing        no file at all                                          -> missing
    text-fte       "full time" typed in an FTE cell                        -> rejected
    unknown-fund   a line charged to fund "GENERAL"                        -> rejected
    restricted     Title I paying for equipment (object 6400)              -> rejected
    formula-text   descriptions and notes beginning with = + - @ (text)    -> accepted
    libreoffice    typed and saved in LibreOffice Calc (type_into_many)    -> accepted

Every other school's plan is balanced; plans that leave more than the district's share of a
fund unplanned carry the unspent-funds warning, computed here independently. The folder also
holds a lock file, a hidden file and a sub-folder, which are listed as ignored.

Expected money findings come from this module's own arithmetic (Excel's ROUND, half away from
zero), not from ssfr_xl.plan.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.workbook import Workbook

from ssfr_xl.layout import START_FIELDS, SchoolLayout
from ssfr_xl.layout import SchoolSheets as SS
from ssfr_xl.model import Policy
from ssfr_xl.school_book import SchoolPlanSpec, build_school_plan, file_name, plan_specs
from ssfr_xl.season import create_district
from ssfr_xl.sources.demo import DemoPlan, demo_plan, fill_plan_workbook
from ssfr_xl.validate import DistrictRecord, district_record

#: When the season's files "arrived": every file gets a distinct, fixed modification time.
RECEIVED = _dt.datetime(2026, 5, 4, 9, 0, tzinfo=_dt.UTC).timestamp()

#: Text a principal may type that a spreadsheet would run if it began a CSV cell.
FORMULA_TEXT = ('=HYPERLINK("http://example.com/x","Click for the budget")', "@SUM(1)",
                "+1 extra reading period", "-5 days of subs")

Edit = Callable[[Workbook, SchoolLayout], None]


def cents(value: float) -> Decimal:
    """A value rounded to the cent as Excel's ROUND does (15 significant digits first)."""
    return Decimal(f"{value:.15g}").quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass
class ExpectedFile:
    """What one returned file holds and what checking it must say."""

    name: str
    school_id: str  # the school inside the workbook
    role: str
    status: str  # accepted | accepted with warnings | rejected
    findings: set[tuple[str, str, str]] = field(default_factory=set)  # (code, sheet, cell)
    plan: DemoPlan | None = None


@dataclass
class Season:
    """A district, a folder of returned plans and the expected outcome of consolidating it."""

    root: Path
    district: Path
    returned: Path
    record: DistrictRecord
    specs: dict[str, SchoolPlanSpec]
    files: dict[str, ExpectedFile]
    schools: dict[str, str]  # school_id -> expected status without a ledger
    roles: dict[str, str]  # role -> school id (wrong-name: school inside; name-owner: B)
    ignored: list[str]  # folder entries listed as ignored

    @property
    def policy(self) -> Policy:
        """The district's policy."""
        return self.record.policy

    def path(self, name: str) -> Path:
        """A returned file by name."""
        return self.returned / name

    def accepted_paths(self) -> list[Path]:
        """Files whose plans count in the totals (no ledger)."""
        return [self.path(f.name) for f in self.files.values()
                if f.status.startswith("accepted")]

    def files_of(self, role: str) -> list[ExpectedFile]:
        """Expected files of a role."""
        return [f for f in self.files.values() if f.role == role]


# --- the command line ---------------------------------------------------------------------

def ssfr(*args: object, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run `python -m ssfr_xl ARGS` as a user does, in its own process (stdout, stderr apart)."""
    return subprocess.run([sys.executable, "-m", "ssfr_xl", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONFAULTHANDLER": ""})


def assert_exit(done: subprocess.CompletedProcess[str], code: int) -> None:
    """The exit code is `code` and the user saw no traceback."""
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    assert done.returncode == code, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"


# --- plans ---------------------------------------------------------------------------------

def plan_costs(plan: DemoPlan, policy: Policy, skip_positions: frozenset[int] = frozenset()
               ) -> list[tuple[str, Decimal]]:
    """(fund, cost) of every line of a demo plan, as the plan workbook computes it."""
    jobs = {j.code: j for j in policy.job_classes}
    prices = {s.code: s.unit_price for s in policy.services}
    out = []
    for i, (code, fte, fund, _goal, _note) in enumerate(plan.positions):
        if i not in skip_positions and code in jobs:
            j = jobs[code]
            out.append((fund, cents(fte * j.average_salary * (1 + j.benefits_rate))))
    for code, (quantity, fund, _goal) in plan.services.items():
        out.append((fund, cents(quantity * prices[code])))
    out += [(fund, cents(amount)) for _obj, fund, _goal, _what, amount in plan.other]
    return out


def money_findings(spec: SchoolPlanSpec, costs: list[tuple[str, Decimal]], share: float
                   ) -> set[tuple[str, str, str]]:
    """over-allocation / unspent-funds findings a plan's fund totals call for."""
    layout = SchoolLayout(spec.policy)
    found = set()
    for i, fund in enumerate(spec.policy.funds):
        planned = sum((c for f, c in costs if f.casefold() == fund.code.casefold()), Decimal(0))
        given = cents(spec.fund_allocation(fund.code))
        left = given - planned
        cell = layout.funds.cell("remaining", i)
        if left < 0:
            found.add(("over-allocation", SS.SUMMARY, cell))
        elif given > 0 and left > Decimal(f"{share * float(given):.15g}") + Decimal("0.005"):
            found.add(("unspent-funds", SS.SUMMARY, cell))
    return found


def filled_workbook(spec: SchoolPlanSpec, plan: DemoPlan, edit: Edit | None = None
                    ) -> Workbook:
    """A plan workbook with the demo plan typed in, then `edit` applied."""
    wb = build_school_plan(spec)
    fill_plan_workbook(wb, spec.policy, plan)
    if edit is not None:
        edit(wb, SchoolLayout(spec.policy))
    return wb


def write_plan(spec: SchoolPlanSpec, path: Path, plan: DemoPlan, edit: Edit | None = None,
               received: float | None = None) -> Path:
    """Save a filled plan to `path`, with a given modification time."""
    filled_workbook(spec, plan, edit).save(path)
    if received is not None:
        os.utime(path, (received, received))
    return path


def varied_plan(spec: SchoolPlanSpec, seed: int) -> DemoPlan:
    """A demo plan whose fill share varies with the seed (96.5% to 99.5% of each fund)."""
    return demo_plan(spec, seed=seed, fill_share=0.965 + (seed % 7) * 0.005)


def set_text(wb: Workbook, sheet: str, coord: str, text: str) -> None:
    """Put text in a cell as text, even when it begins with '=' (never a formula)."""
    cell = wb[sheet][coord]
    cell.value = text
    cell.data_type = "s"


def plan_edits(spec: SchoolPlanSpec, plan: DemoPlan) -> dict[tuple[str, str], object]:
    """The (sheet, cell) -> value a person types to enter a demo plan (for LibreOffice)."""
    layout = SchoolLayout(spec.policy)
    edits: dict[tuple[str, str], object] = {}
    t = layout.staffing
    for i, (code, fte, fund, goal, note) in enumerate(plan.positions[: t.rows]):
        for key, value in (("job_class", code), ("fte", fte), ("fund", fund), ("goal", goal),
                           ("note", note or None)):
            if value is not None:
                edits[(t.sheet, t.cell(key, i))] = value
    t = layout.services
    menu = sorted(spec.policy.services, key=lambda s: (s.department, s.code))
    for i, service in enumerate(menu):
        if service.code in plan.services:
            quantity, fund, goal = plan.services[service.code]
            edits[(t.sheet, t.cell("quantity", i))] = quantity
            edits[(t.sheet, t.cell("fund", i))] = fund
            edits[(t.sheet, t.cell("goal", i))] = goal
    t = layout.other
    for i, (obj, fund, goal, what, amount) in enumerate(plan.other[: t.rows]):
        for key, value in (("object", obj), ("fund", fund), ("goal", goal),
                           ("description", what), ("amount", amount)):
            edits[(t.sheet, t.cell(key, i))] = value
    t = layout.goals
    for i, g in enumerate(spec.policy.goals):
        if g.code in plan.goals:
            for key, value in zip(("school_goal", "strategy", "measure"), plan.goals[g.code],
                                  strict=True):
                edits[(t.sheet, t.cell(key, i))] = value
        if g.code in plan.goals and g.code in plan.measures:
            for key, value in zip(("indicator", "baseline", "target"), plan.measures[g.code],
                                  strict=True):
                edits[(t.sheet, t.cell(key, i))] = value
    return edits


# --- the season ----------------------------------------------------------------------------

def _status(findings: set[tuple[str, str, str]], errors: set[str]) -> str:
    if any(code in errors for code, _s, _c in findings):
        return "rejected"
    return "accepted with warnings" if findings else "accepted"


ERROR_CODES = frozenset({
    "over-allocation", "formula-overwritten", "not-a-number", "unknown-fund", "duplicate-school",
    "restricted-object", "restricted-service", "unknown-school", "formula-in-input",
})


def make_season(tmp_path: Path, libreoffice: bool = True) -> Season:
    """Build the sample district and a folder of returned plans; see the module docstring."""
    root = Path(tmp_path)
    district = root / "district.xlsx"
    create_district(district, sample=40)
    record = district_record(district)
    specs = {s.school.school_id: s for s in plan_specs(record.result)}
    ids = list(specs)
    share = record.inputs.district.unspent_warning
    policy = record.policy
    returned = root / "returned"
    returned.mkdir()
    files: dict[str, ExpectedFile] = {}
    plans = {sid: varied_plan(specs[sid], seed=i) for i, sid in enumerate(ids)}

    def title1_supplies(sid: str) -> int | None:
        return next((i for i, o in enumerate(plans[sid].other)
                     if o[1] == "TITLE1" and o[0] == "4300"), None)

    # roles: the restricted-fund case needs a Title I supplies line to turn into equipment
    roles: dict[str, str] = {}
    roles["restricted"] = next(sid for sid in ids if title1_supplies(sid) is not None)
    free = [sid for sid in ids if sid != roles["restricted"]]
    for role in ("over-budget", "formula", "wrong-name", "name-owner", "resubmitted", "missing",
                 "text-fte", "unknown-fund"):
        roles[role] = free.pop(0)
    # plans that must come out plainly accepted: no fund left more than the share unplanned
    clean = [sid for sid in free if not money_findings(
        specs[sid], plan_costs(plans[sid], policy), share)]
    roles["formula-text"] = clean.pop(0)
    if libreoffice:
        roles["libreoffice"] = clean.pop(0)
    received = iter(RECEIVED + 60 * i for i in range(1000))

    def add(sid: str, role: str, plan: DemoPlan, edit: Edit | None = None,
            extra: set[tuple[str, str, str]] = frozenset(),
            skip_positions: frozenset[int] = frozenset(), name: str | None = None,
            when: float | None = None) -> ExpectedFile:
        spec = specs[sid]
        name = name or file_name(spec.school)
        write_plan(spec, returned / name, plan, edit, when or next(received))
        findings = money_findings(spec, plan_costs(plan, policy, skip_positions), share)
        findings |= set(extra)
        expected = ExpectedFile(name, sid, role, _status(findings, ERROR_CODES), findings, plan)
        files[name] = expected
        return expected

    layout = SchoolLayout(policy)
    special = set(roles.values())
    for sid in ids:
        if sid not in special:
            add(sid, "balanced", plans[sid])

    # one more teacher than the general fund can pay for
    sid = roles["over-budget"]
    plan = replace(plans[sid], positions=[*plans[sid].positions,
                                          ("TCH", 1.0, "GEN", "G1", "One teacher too many")])
    add(sid, "over-budget", plan)

    # a cost formula typed over with its value (the first line's cost)
    sid = roles["formula"]
    cost_cell = layout.staffing.cell("cost", 0)

    def overwrite(wb: Workbook, lay: SchoolLayout) -> None:
        wb[lay.staffing.sheet][cost_cell] = 202160.0

    add(sid, "formula", plans[sid], overwrite,
        extra={("formula-overwritten", SS.STAFFING, cost_cell)})

    # school A's plan, saved under school B's file name; B sends nothing
    a, b = roles["wrong-name"], roles["name-owner"]
    add(a, "wrong-name", plans[a], name=file_name(specs[b].school),
        extra={("file-name-mismatch", SS.START, START_FIELDS.cell("school_id"))})

    # two versions of one school: the second, sent later, has another plan
    sid = roles["resubmitted"]
    first = add(sid, "resubmitted", plans[sid], extra={("duplicate-school", "", "")})
    newer = varied_plan(specs[sid], seed=101)
    add(sid, "resubmitted", newer, name=first.name.replace(".xlsx", "_v2.xlsx"),
        when=RECEIVED + 86400, extra={("duplicate-school", "", "")})

    # text in an FTE cell: the line costs nothing, and the cell is named
    sid = roles["text-fte"]
    fte_line = len(plans[sid].positions) - 1
    fte_cell = layout.staffing.cell("fte", fte_line)

    def text_fte(wb: Workbook, lay: SchoolLayout) -> None:
        wb[lay.staffing.sheet][fte_cell] = "full time"

    add(sid, "text-fte", plans[sid], text_fte, skip_positions=frozenset({fte_line}),
        extra={("not-a-number", SS.STAFFING, fte_cell)})

    # a fund that does not exist, on the first Other Spending line
    sid = roles["unknown-fund"]
    plan = plans[sid]
    other = list(plan.other)
    obj, _fund, goal, what, amount = other[0]
    other[0] = (obj, "GENERAL", goal, what, amount)
    add(sid, "unknown-fund", replace(plan, other=other),
        extra={("unknown-fund", SS.OTHER, layout.other.cell("fund", 0))})

    # Title I buying equipment: the supplies line becomes object 6400, same amount
    sid = roles["restricted"]
    i = title1_supplies(sid)
    assert i is not None
    other = list(plans[sid].other)
    other[i] = ("6400", *other[i][1:])
    add(sid, "restricted", replace(plans[sid], other=other),
        extra={("restricted-object", SS.OTHER, layout.other.cell("fund", i))})

    # descriptions and notes that a spreadsheet would run as formulas, typed as text
    sid = roles["formula-text"]
    n_other = len(plans[sid].other)

    def formula_text(wb: Workbook, lay: SchoolLayout) -> None:
        for k, text in enumerate(FORMULA_TEXT):
            set_text(wb, lay.other.sheet, lay.other.cell("description", k % n_other), text)
            set_text(wb, lay.staffing.sheet, lay.staffing.cell("note", k), text)

    add(sid, "formula-text", plans[sid], formula_text)

    if libreoffice:
        _add_libreoffice_plan(roles["libreoffice"], specs, plans, returned, files, share,
                              next(received))

    # what else lands in a shared folder
    (returned / f"~${file_name(specs[ids[0]].school)}").write_bytes(b"\x0bprincipal" + bytes(150))
    (returned / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(64))
    old = returned / "old versions"
    old.mkdir()
    draft = next(f.name for f in files.values() if f.role == "balanced")
    shutil.copy2(returned / draft, old / "plan-draft.xlsx")
    ignored = sorted(p.name for p in returned.iterdir() if p.name.startswith(("~$", "."))
                     or p.is_dir())

    schools = {}
    for sid in ids:
        mine = [f for f in files.values() if f.school_id == sid]
        if not mine:
            schools[sid] = "missing"
        elif len(mine) > 1:
            schools[sid] = "rejected"
        else:
            schools[sid] = mine[0].status
    return Season(root, district, returned, record, specs, files, schools, roles, ignored)


def _add_libreoffice_plan(sid: str, specs: dict[str, SchoolPlanSpec],
                          plans: dict[str, DemoPlan], returned: Path,
                          files: dict[str, ExpectedFile], share: float, when: float) -> None:
    """A blank plan typed into in LibreOffice Calc and saved there, as a principal would."""
    from ssfr_xl.libreoffice import type_into_many

    spec, plan = specs[sid], plans[sid]
    blank = returned.parent / "blank" / file_name(spec.school)
    blank.parent.mkdir(exist_ok=True)
    build_school_plan(spec).save(blank)
    target = returned / file_name(spec.school)
    type_into_many([(blank, plan_edits(spec, plan), target)])
    os.utime(target, (when, when))
    findings = money_findings(spec, plan_costs(plan, spec.policy), share)
    files[target.name] = ExpectedFile(target.name, sid, "libreoffice",
                                      _status(findings, ERROR_CODES), findings, plan)


def read_inputs(path: Path, policy: Policy) -> dict[str, list[dict[str, object]]]:
    """The input cells of a plan, read with openpyxl (values only), by table.

    Independent of ssfr_xl.plan: rows are kept when anything is typed in them.
    """
    layout = SchoolLayout(policy)
    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        out: dict[str, list[dict[str, object]]] = {}
        for name, t in (("staffing", layout.staffing), ("services", layout.services),
                        ("other", layout.other), ("goals", layout.goals)):
            ws = wb[t.sheet]
            ws.reset_dimensions()
            keys = [c.key for c in t.columns]
            rows = []
            for values in ws.iter_rows(min_row=t.first_row, max_row=t.last_row,
                                       min_col=t.first_col, max_col=t.first_col + len(keys) - 1,
                                       values_only=True):
                record = dict(zip(keys, values, strict=False))
                rows.append(record)
            out[name] = rows
        return out
    finally:
        wb.close()
