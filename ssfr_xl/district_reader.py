"""Read the district formula workbook's inputs, and compare the values a spreadsheet saved
with the engine's."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from . import styles
from .district_formulas import APPENDED_ROWS
from .formula import AllocationResult
from .layout import (
    COMPONENT_COLUMNS,
    FUND_COLUMNS,
    GOAL_COLUMNS,
    INDICATOR_COLUMNS,
    JOB_CLASS_COLUMNS,
    OBJECT_COLUMNS,
    SERVICE_COLUMNS,
    SETTINGS,
    DistrictLayout,
    cell_address,
    roster_columns,
)
from .layout import DistrictSheets as S
from .model import (
    GRADES,
    LEVELS,
    Condition,
    DistrictInputs,
    Indicator,
    RateBand,
    RosterColumn,
)

#: How the Policy sheet heads the component columns a message names.
COMPONENT_LABELS = {c.key: c.header for c in COMPONENT_COLUMNS}

#: School IDs: the district's own site codes or CDS codes.
SCHOOL_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,19}$")

# --- reading -----------------------------------------------------------------------------

class _Grid:
    """Cell values of some sheets of a workbook, read once, addressed like the workbook."""

    def __init__(self, path: Path, sheets: tuple[str, ...]):
        from openpyxl import load_workbook

        from .errors import FileError, WorkbookError

        try:
            wb = load_workbook(path, read_only=True, data_only=False)
        except FileNotFoundError as e:
            raise FileError(f"{path}: file not found.") from e
        except Exception as e:  # openpyxl raises many kinds for a file that is not xlsx
            raise WorkbookError(
                f"{path.name}: not an Excel workbook ssfr-xl can read ({e}).") from e
        self.path = path
        self.names: dict[str, tuple[str, str]] = {}
        for name, dn in wb.defined_names.items():
            dests = list(dn.destinations)
            if len(dests) == 1:
                self.names[name] = (dests[0][0], dests[0][1].replace("$", ""))
        missing = [s for s in sheets if s not in wb.sheetnames]
        if missing:
            wb.close()
            raise WorkbookError(
                f"{path.name}: sheet {missing[0]!r} is missing; this is not an ssfr-xl district "
                "workbook, or a sheet was renamed (rename it back)."
            )
        self.cells: dict[str, dict[tuple[int, int], object]] = {}
        for sheet in sheets:
            ws = wb[sheet]
            ws.reset_dimensions()
            grid: dict[tuple[int, int], object] = {}
            for r, row in enumerate(ws.iter_rows(values_only=True), start=1):
                for c, value in enumerate(row, start=1):
                    if value is not None:
                        grid[(r, c)] = value
            self.cells[sheet] = grid
        wb.close()

    def value(self, sheet: str, row: int, col: int) -> object:
        """The stored value (formula text for formulas) of a cell."""
        return self.cells[sheet].get((row, col))

    def named(self, name: str) -> tuple[str, int, int]:
        """(sheet, row, col) of the first cell a defined name points at."""
        from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

        from .errors import WorkbookError

        if name not in self.names:
            raise WorkbookError(f"{self.path.name}: the defined name {name} is missing; "
                                "the workbook's structure was changed. Rebuild it with "
                                "`ssfr-xl init`.")
        sheet, ref = self.names[name]
        letters, row = coordinate_from_string(ref.split(":")[0])
        return sheet, row, column_index_from_string(letters)

    def named_range_rows(self, name: str) -> tuple[str, int, int, int]:
        """(sheet, first row, last row, first col) of a defined range."""
        from openpyxl.utils.cell import range_boundaries

        sheet, ref = self.names[name]
        min_col, min_row, _max_col, max_row = range_boundaries(ref)
        return sheet, min_row, max_row, min_col


def read_district(path: str | Path) -> DistrictInputs:
    """Read the district workbook's inputs (never its formula results)."""
    from .cells import CellValueError, to_number, to_text, to_whole
    from .errors import WorkbookError
    from .model import (
        Component,
        District,
        Fund,
        Goal,
        GradeSpan,
        JobClass,
        ObjectCode,
        Policy,
        School,
        Service,
    )
    from .policy import check_policy

    path = Path(path)
    grid = _Grid(path, (S.POLICY, S.SCHOOLS, S.ADJUSTMENTS, S.FUNDS, S.JOB_CLASSES,
                        S.SERVICES, S.OBJECTS, S.GOALS, S.META))
    meta = {to_text(grid.value(S.META, r, 1)): grid.value(S.META, r, 2) for r in range(1, 20)}
    if meta.get("kind") != "district" or "structure" not in meta:
        raise WorkbookError(f"{path.name}: not an ssfr-xl district workbook (no metadata).")
    try:
        structure = json.loads(str(meta["structure"]))
        expected = int(to_number(meta.get("n_schools")))
        structure["spans"], structure["components"], structure["funds"]  # noqa: B018
    except (ValueError, KeyError, TypeError, CellValueError) as e:
        raise WorkbookError(f"{path.name}: the hidden sheet {S.META} was changed, so the "
                            "workbook's structure is unknown. Rebuild it with ssfr-xl init "
                            "(your inputs can be re-entered from this file).") from e
    problems: list[str] = []

    def where(sheet: str, row: int, col: int) -> str:
        return f"{sheet}!{cell_address(row, col)}"

    def read(sheet: str, row: int, col: int, convert, label: str):
        value = grid.value(sheet, row, col)
        try:
            return convert(value)
        except CellValueError as e:
            problems.append(f"{where(sheet, row, col)} ({label}) {e}.")
            return convert(None) if convert is not to_text else ""

    def named(name: str, convert, label: str):
        sheet, row, col = grid.named(name)
        return read(sheet, row, col, convert, label)

    def exact(sheet: str, row: int, col: int, label: str) -> None:
        """A word the formulas compare (fixed, weight, Yes, a code) must be typed without a
        space at either end: the spreadsheet sees "fixed " as another word."""
        value = grid.value(sheet, row, col)
        if isinstance(value, str) and value != value.strip():
            problems.append(f"{where(sheet, row, col)} ({label}): {value!r} has a space at "
                            "either end, so the workbook's formulas do not read it as "
                            f"{value.strip()!r}; delete the space.")

    settings = {f.key: named(f.name, to_number if f.number_format in (
        styles.MONEY, styles.RATE, styles.SHARE, "0.00") else to_text, f.label)
        for f in SETTINGS.fields if f.input}
    for f in SETTINGS.fields:
        if f.input and f.validation is not None and f.validation.type == "list":
            exact(*grid.named(f.name), f.label)

    spans = []
    for i, (name, first, last) in enumerate(structure["spans"]):
        weight = named(f"Span_Weight_{i + 1}", to_number, f"weight of grade span {name}")
        spans.append(GradeSpan(name, first, last, weight))

    def table_rows(table_name: str, keys: tuple[str, ...]) -> list[dict]:
        if table_name not in grid.names:  # an empty list has no range to name
            return []
        sheet, first, last, col0 = grid.named_range_rows(table_name)
        rows, r = [], first
        while r <= last or grid.value(sheet, r, col0) not in (None, ""):
            if r > last + APPENDED_ROWS:
                break
            if grid.value(sheet, r, col0) in (None, ""):
                r += 1
                continue
            rows.append({"_row": r, **{k: grid.value(sheet, r, col0 + j)
                                       for j, k in enumerate(keys)}})
            r += 1
        return rows

    def keys(columns) -> tuple[str, ...]:
        return tuple(c.key for c in columns)

    def num(sheet, row, keylist, key, label):
        return read(sheet, row, 1 + keylist.index(key), to_number, label)

    fund_keys = keys(FUND_COLUMNS)
    funds = []
    for rec in table_rows("Funds_Table", fund_keys):
        exact(S.FUNDS, rec["_row"], 1, "fund code")
        exact(S.FUNDS, rec["_row"], 3, "restricted")
        restricted = to_text(rec["restricted"]).lower()
        if restricted not in ("yes", "no"):
            problems.append(f"{where(S.FUNDS, rec['_row'], 3)} (restricted) must be Yes or No.")
        funds.append(Fund(to_text(rec["code"]), to_text(rec["name"]), restricted == "yes",
                          to_text(rec["resource"]), to_text(rec["allowed_objects"]),
                          to_text(rec["allowed_services"])))
    if [f.code for f in funds][: len(structure["funds"])] != structure["funds"]:
        problems.append(f"{S.FUNDS}: fund codes were changed or reordered; the allocation "
                        "formulas refer to them. Put them back or rebuild with ssfr-xl init.")

    roster_cols = tuple(RosterColumn(key, header, kind, bool(fractional), bool(instances), help_)
                        for key, header, kind, fractional, instances, help_
                        in structure.get("roster_columns", []))
    rules = structure.get("rules", {})
    components = []
    comp_cols = {c.key: i for i, c in enumerate(COMPONENT_COLUMNS)}
    for code, kind, basis in structure["components"]:
        rule = rules.get(code, {})
        base = Component(code=code, name=code, kind=kind, fund="", basis=tuple(basis))
        sheet, row, _ = grid.named(f"Rate_{code.replace('-', '_')}")

        def cell(key: str, row: int = row, sheet: str = sheet) -> object:
            return grid.value(sheet, row, 1 + comp_cols[key])

        label = f"component {code}"
        for key in ("fund", "counting", "rate_unit", "eligible", "round_to", "in_budget"):
            exact(sheet, row, 1 + comp_cols[key], f"{label} {COMPONENT_LABELS[key]}")
        if to_text(cell("kind")) != kind or to_text(cell("code")) != code:
            problems.append(f"{where(sheet, row, 1 + comp_cols['kind'])}: the code or kind of "
                            f"component {code} was changed; that changes the formulas. Edit "
                            "policy.toml and run ssfr-xl init instead.")

        def number(key: str, row: int = row, label: str = label, sheet: str = sheet) -> float:
            return read(sheet, row, 1 + comp_cols[key], to_number, f"{label} {key}")

        components.append(Component(
            code=code,
            name=to_text(cell("name")) or code,
            kind=kind,
            fund=to_text(cell("fund")),
            basis=base.basis,
            counting=to_text(cell("counting")) or "duplicated",
            rate_unit=to_text(cell("rate_unit")) or "dollars",
            rate=number("rate"),
            threshold=number("threshold"),
            minimum=number("minimum"),
            cap=number("cap"),
            pool=number("pool"),
            by_level=tuple(number(f"level_{j}") for j in range(len(LEVELS))),  # type: ignore
            note=to_text(cell("note")),
            enrollment=rule.get("enrollment", "enrollment"),
            conditions=tuple(
                Condition(measure, operator, named(f"Cond_{code.replace('-', '_')}_{k + 1}",
                                                   to_number, f"condition {k + 1} of {code}"))
                for k, (measure, operator) in enumerate(rule.get("conditions", []))),
            eligible=to_text(cell("eligible")) or "all",
            bands=tuple(
                RateBand(label, named(f"Band_{code.replace('-', '_')}_{k + 1}", to_number,
                                      f"rate of band {label} of {code}"), level, first, last)
                for k, (label, level, first, last) in enumerate(rule.get("bands", []))),
            round_digits=_rounding(to_text(cell("round_to")), problems,
                                   where(sheet, row, 1 + comp_cols["round_to"])),
            in_budget=_yes_no(cell("in_budget"), problems,
                              where(sheet, row, 1 + comp_cols["in_budget"]), default=True),
        ))

    jc_keys = keys(JOB_CLASS_COLUMNS)
    job_classes = [
        JobClass(to_text(r["code"]), to_text(r["title"]), to_text(r["object_code"]),
                 num(S.JOB_CLASSES, r["_row"], jc_keys, "average_salary", "average salary"),
                 num(S.JOB_CLASSES, r["_row"], jc_keys, "benefits_rate", "benefits rate"))
        for r in table_rows("Job_Classes_Table", jc_keys)
    ]
    sv_keys = keys(SERVICE_COLUMNS)
    services = [
        Service(to_text(r["code"]), to_text(r["department"]), to_text(r["name"]),
                to_text(r["unit"]),
                num(S.SERVICES, r["_row"], sv_keys, "unit_price", "unit price"),
                to_text(r["object_code"]) or "5710")
        for r in table_rows("Services_Table", sv_keys)
    ]
    objects = [ObjectCode(to_text(r["code"]), to_text(r["name"]), to_text(r["group"]))
               for r in table_rows("Objects_Table", keys(OBJECT_COLUMNS))]
    goals = [Goal(to_text(r["code"]), to_text(r["name"]))
             for r in table_rows("Goals_Table", keys(GOAL_COLUMNS))]

    indicators = _read_indicators(table_rows("Indicators_Table", keys(INDICATOR_COLUMNS)),
                                  problems)
    policy = Policy(spans=tuple(spans), funds=tuple(funds), components=tuple(components),
                    job_classes=tuple(job_classes), services=tuple(services),
                    objects=tuple(objects), goals=tuple(goals),
                    fte_step=float(settings.get("fte_step") or 0.1), roster_columns=roster_cols,
                    indicators=indicators)
    problems += check_policy(policy, settings, f"{path.name} Policy sheet")

    # schools
    sheet, first, last, col0 = grid.named_range_rows("Schools_Table")
    roster_keys = keys(roster_columns(policy))
    col = {k: col0 + i for i, k in enumerate(roster_keys)}
    if last - first + 1 != expected:
        problems.append(f"{S.SCHOOLS}: the roster has {last - first + 1} rows but the formulas "
                        f"cover {expected}; rows were inserted or deleted. Rebuild with init.")
    if grid.value(sheet, last + 1, col["school_id"]) not in (None, ""):
        problems.append(f"{where(sheet, last + 1, col['school_id'])}: a school was added below "
                        "the roster. The formulas only cover the schools ssfr-xl wrote; add it "
                        "to the roster CSV and run ssfr-xl init again.")
    schools = []
    seen: dict[str, int] = {}
    for r in range(first, last + 1):
        v = lambda key, r=r: grid.value(sheet, r, col[key])  # noqa: E731

        def whole(key: str, r: int = r) -> int:
            return read(sheet, r, col[key], to_whole, key.replace("_", " "))

        school_id = to_text(v("school_id"))
        exact(sheet, r, col["school_id"], "school ID")
        exact(sheet, r, col["level"], "level")
        id_problem = school_id_problem(school_id)
        if id_problem:
            problems.append(f"{where(sheet, r, col['school_id'])}: {id_problem}")
        cds_code = to_text(v("cds_code"))
        if cds_code and not (len(cds_code) == 14 and cds_code.isdigit()):
            problems.append(f"{where(sheet, r, col['cds_code'])}: CDS code {cds_code!r} must be "
                            "14 digits, or blank.")
        extra: dict[str, float] = {}
        for rc in roster_cols:
            if rc.is_flag:
                extra[rc.key] = 1.0 if _yes_no(v(rc.key), problems, where(sheet, r, col[rc.key]),
                                               default=False) else 0.0
            elif rc.fractional:
                extra[rc.key] = read(sheet, r, col[rc.key], to_number, rc.header)
            else:
                extra[rc.key] = float(read(sheet, r, col[rc.key], to_whole, rc.header))
        if school_id.casefold() in seen:
            problems.append(f"{where(sheet, r, col['school_id'])}: school ID {school_id} is "
                            f"also on row {seen[school_id.casefold()]} (spreadsheets do not "
                            "tell upper from lower case); give each school its own ID.")
        seen[school_id.casefold()] = r
        level = to_text(v("level"))
        if level not in LEVELS:
            problems.append(f"{where(sheet, r, col['level'])}: level {level!r} must be one of "
                            f"{', '.join(LEVELS)}.")
            level = LEVELS[0]
        grades = {g: whole(f"grade_{g}") for g in GRADES}
        school = School(
            school_id=school_id, name=to_text(v("name")), level=level,
            low_grade=to_text(v("low_grade")), high_grade=to_text(v("high_grade")),
            enrollment_by_grade=grades,
            frpm=whole("frpm"), el=whole("el"), swd=whole("swd"), foster=whole("foster"),
            homeless=whole("homeless"), unduplicated=whole("unduplicated"),
            prior_year_allocation=read(sheet, r, col["prior_year_allocation"], to_number,
                                       "prior-year allocation"),
            performance_points=read(sheet, r, col["performance_points"], to_number,
                                    "performance points"),
            hard_to_staff_teachers=read(sheet, r, col["hard_to_staff_teachers"], to_number,
                                        "hard-to-staff teachers"),
            grades_estimated=to_text(v("grades_estimated")).lower() in ("yes", "y", "true"),
            cds_code=cds_code, extra=extra,
        )
        for key in ("frpm", "el", "swd", "foster", "homeless", "unduplicated"):
            if getattr(school, key) > school.enrollment:
                problems.append(f"{where(sheet, r, col[key])}: {getattr(school, key)} is more "
                                f"than the school's enrollment of {school.enrollment}.")
        for key in ("prior_year_allocation", "performance_points", "hard_to_staff_teachers"):
            if getattr(school, key) < 0:
                problems.append(f"{where(sheet, r, col[key])}: cannot be negative.")
        problems += [f"{where(sheet, r, col[key])}: {text}"
                     for key, text in extra_count_problems(school, roster_cols)]
        schools.append(school)

    adjustments = _read_adjustments(grid, structure, policy, schools, problems)
    if problems:
        shown = problems[:40]
        more = f"\n  ... and {len(problems) - 40} more" if len(problems) > 40 else ""
        raise WorkbookError(f"{path.name} has problems to fix:\n  - " + "\n  - ".join(shown)
                            + more)
    district = District(
        name=str(settings["name"]), cds_code=str(settings["cds_code"]),
        fiscal_year=str(settings["fiscal_year"]), budget=float(settings["budget"]),
        base_rate_mode=str(settings["base_rate_mode"]), base_rate=float(settings["base_rate"]),
        transition_max_loss=float(settings["transition_max_loss"]),
        transition_mode=str(settings["transition_mode"]),
        transition_gain_cap=float(settings["transition_gain_cap"]),
        transition_reserve=float(settings["transition_reserve"]),
        plan_deadline=str(settings["plan_deadline"]), contact=str(settings["contact"]),
        unspent_warning=float(settings["unspent_warning"]),
        per_pupil_enrollment=str(structure.get("per_pupil_enrollment", "enrollment")),
    )
    return DistrictInputs(district, policy, tuple(schools), adjustments,
                          adjustment_rows=int(structure.get("adjustment_rows", 0)))


def _read_indicators(rows: list[dict], problems: list[str]):
    """The district's own indicators from the Indicators table (a workbook without the table,
    written before it existed, has the Dashboard's only)."""
    from .indicators import DIRECTIONS, district_indicators

    listed = []
    for r in rows:
        direction = _plain(r.get("direction")).lower()
        if direction not in DIRECTIONS:
            problems.append(f"{S.GOALS}!{cell_address(r['_row'], len(GOAL_COLUMNS) + 4)}: "
                            f"'Better is' must be up or down, not {r.get('direction')!r}.")
            continue
        listed.append(Indicator(_plain(r["code"]), _plain(r.get("name")), direction,
                                _plain(r.get("unit"))))
    return district_indicators(tuple(listed))


def _plain(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def school_id_problem(school_id: str) -> str:
    """Why a school ID cannot be used ("" when it can): the district's site code, or the
    14-digit CDS code; letters, digits, - and _, at most 20 characters."""
    if not school_id:
        return "the school ID is blank; type the school's site code or CDS code."
    if not SCHOOL_ID_PATTERN.match(school_id):
        return (f"school ID {school_id!r} must be letters, digits, - or _ (at most 20), "
                "such as the district's site code or the 14-digit CDS code.")
    return ""


def extra_count_problems(school, columns) -> list[tuple[str, str]]:
    """(column key, problem) for a school's district columns: no negative counts, and no
    pupil count above enrollment unless the column counts instances."""
    out = []
    for rc in columns:
        value = school.extra.get(rc.key, 0.0)
        if rc.is_flag:
            continue
        if value < 0:
            out.append((rc.key, f"{rc.header} cannot be negative."))
        elif rc.within_enrollment and value > school.enrollment:
            out.append((rc.key, f"{value:g} {rc.header} is more than the school's enrollment "
                                f"of {school.enrollment}; declare the column with "
                                "instances = true if it counts each instance of a need."))
    return out


def _rounding(text: str, problems: list[str], at: str) -> int:
    if text == "dollar":
        return 0
    if text in ("cent", ""):
        return 2
    problems.append(f"{at}: Round to must be cent or dollar, not {text!r}.")
    return 2


def _yes_no(value: object, problems: list[str], at: str, default: bool) -> bool:
    """A Yes/No cell read as a spreadsheet compares it: exactly yes or no in any case."""

    if value is None or value == "":
        return default
    text = value if isinstance(value, str) else None
    if text is not None and text != text.strip():
        problems.append(f"{at}: {value!r} has a space at either end, so the workbook's "
                        f"formulas do not read it as {text.strip()!r}; delete the space.")
        return default
    if text is not None and text.casefold() == "yes":
        return True
    if text is not None and text.casefold() == "no":
        return False
    problems.append(f"{at}: must be Yes or No, not {value!r}.")
    return default


def _read_adjustments(grid, structure, policy, schools, problems: list[str]):
    """The Adjustments sheet's lines, matched to schools and adjustment components the way
    its MATCH formulas match them (any case; * and ? as wildcards), each problem named."""
    from .cells import CellValueError, to_number, to_text
    from .excel_expr import XlError, cell_value, match_exact
    from .model import Adjustment

    layout = DistrictLayout(policy, len(schools), int(structure.get("adjustment_rows", 0)))
    t = layout.adjustments
    ids = [cell_value(grid.value(S.SCHOOLS, layout.schools.first_row + i,
                                 layout.schools.col("school_id"))) for i in range(len(schools))]
    codes = [c.code for c in layout.adjustment_components]
    lines = []
    for i in range(t.rows):
        r = t.first_row + i
        raw = {k: grid.value(S.ADJUSTMENTS, r, t.col(k))
               for k in ("school_id", "component", "amount", "reason")}
        if all(raw[k] in (None, "") for k in ("school_id", "component", "amount")):
            continue
        at = lambda key, r=r: f"{S.ADJUSTMENTS}!{t.letter(key)}{r}"  # noqa: E731
        if raw["school_id"] in (None, ""):
            problems.append(f"{at('school_id')}: type the school ID of this line.")
            continue
        wild = [k for k in ("school_id", "component") if isinstance(raw[k], str)
                and any(ch in raw[k] for ch in "*?~")]
        if wild:
            problems.append(f"{at(wild[0])}: {raw[wild[0]]!r} holds * ? or ~, which spreadsheets "
                            "read as patterns matching other schools; type the exact code.")
            continue
        if isinstance(raw["school_id"], int | float) and not isinstance(raw["school_id"], bool):
            problems.append(f"{at('school_id')}: {to_text(raw['school_id'])} was typed as a "
                            "number, but the Schools sheet holds IDs as text: type it with an "
                            "apostrophe first ('" + to_text(raw["school_id"]) + ").")
            continue
        school = match_exact(cell_value(raw["school_id"]), ids) \
            if raw["school_id"] not in (None, "") else XlError("#N/A")
        if isinstance(school, XlError):
            problems.append(f"{at('school_id')}: school ID {raw['school_id']!r} is not on the "
                            "Schools sheet; type it exactly as the Schools sheet has it.")
            continue
        component = match_exact(cell_value(raw["component"]), codes) \
            if raw["component"] not in (None, "") else XlError("#N/A")
        if isinstance(component, XlError):
            problems.append(f"{at('component')}: choose an adjustment from the list "
                            f"({', '.join(codes) or 'the policy has none'}).")
            continue
        try:
            amount = to_number(raw["amount"])
        except CellValueError as e:
            problems.append(f"{at('amount')} (amount) {e}.")
            continue
        if not to_text(raw["reason"]):
            problems.append(f"{at('reason')}: say why the school gets this line (its plan "
                            "shows the reason).")
            continue
        lines.append(Adjustment(schools[int(school) - 1].school_id, codes[int(component) - 1],
                                amount, to_text(raw["reason"])))
    below = t.last_row + 1
    for r in range(below, below + 50):
        if any(grid.value(S.ADJUSTMENTS, r, t.col(k)) not in (None, "")
               for k in ("school_id", "component", "amount", "reason")):
            problems.append(f"{S.ADJUSTMENTS}!{t.letter('school_id')}{r}: a line was typed "
                            f"below the table (rows {t.first_row}-{t.last_row}), where no "
                            "formula counts it; move it into an empty row of the table.")
            break
    return tuple(lines)


@dataclass
class CachedCheck:
    """How the values a spreadsheet program saved compare with the engine."""

    cells_checked: int  # amount and fund cells that hold a saved value
    mismatches: list[str]  # "Allocations!E7 (BASE, school 0199...): file 1,234.00, engine 1,235.00"
    cells_expected: int = 0  # amount and fund cells the workbook has (schools x columns)
    error: str = ""  # why the saved values could not be compared; "" when they were

    @property
    def has_cached_values(self) -> bool:
        """False when the file was never recalculated (written by openpyxl, never opened)."""
        return self.cells_checked > 0

    @property
    def agreeing(self) -> int:
        """Cells whose saved value equals the engine's to the cent."""
        return self.cells_checked - len(self.mismatches)

    @property
    def unsaved(self) -> int:
        """Cells without a saved value (all of them in a file never recalculated)."""
        return self.cells_expected - self.cells_checked

    @property
    def ok(self) -> bool:
        """Nothing to object to: every saved value agrees, and either every cell has one or
        none has (a file never recalculated); an error while comparing is never ok."""
        return (not self.error and not self.mismatches
                and (self.cells_checked in (0, self.cells_expected)))


def check_cached_values(path: str | Path, result: AllocationResult,
                        tolerance: float = 0.01) -> CachedCheck:
    """Compare the Allocations values saved in the file with the engine's, cell by cell.

    Never raises: a file or sheet that cannot be read is reported in `error`.
    """
    keys = [(f"amount_{r.component.code}", r.component.code) for r in result.components]
    keys += [(f"fund_{f.code}", f"total_{f.code}") for f in result.inputs.policy.funds]
    expected = len(result.schools) * len(keys)
    try:
        return _check_cached_values(Path(path), result, keys, expected, tolerance)
    except Exception as e:  # never a silent "agree": the reason is the finding
        return CachedCheck(0, [], expected, f"{type(e).__name__}: {e}")


def _check_cached_values(path: Path, result: AllocationResult, keys: list[tuple[str, str]],
                         expected: int, tolerance: float) -> CachedCheck:
    from openpyxl import load_workbook

    layout = DistrictLayout.of(result.inputs)
    t = layout.allocations
    # openpyxl, not calamine: calamine reads an error value (#VALUE!) as an empty cell, and an
    # error saved in the file must be reported, not skipped.
    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        if S.ALLOCATIONS not in wb.sheetnames:
            return CachedCheck(0, [], expected, f"the sheet {S.ALLOCATIONS} is missing")
        ws = wb[S.ALLOCATIONS]
        ws.reset_dimensions()
        rows = [list(r) for r in ws.iter_rows(max_row=t.last_row, values_only=True)]
    finally:
        wb.close()
    wide = result.by_school()
    engine_columns = {column: wide[column].to_numpy(dtype=float) for _key, column in keys}
    checked, mismatches = 0, []
    for i, school in enumerate(result.schools):
        r = t.first_row + i
        row = rows[r - 1] if r - 1 < len(rows) else []
        for key, column in keys:
            c = t.col(key)
            cached = row[c - 1] if c - 1 < len(row) else None
            if cached is None or cached == "":
                continue
            checked += 1
            engine = float(engine_columns[column][i])
            if isinstance(cached, bool) or not isinstance(cached, int | float) \
                    or abs(cached - engine) > tolerance:
                mismatches.append(
                    f"{S.ALLOCATIONS}!{cell_address(r, c)} ({column.removeprefix('total_')}, "
                    f"{school.school_id} {school.name}): file has {cached!r}, "
                    f"engine computes {engine:,.2f}"
                )
    return CachedCheck(checked, mismatches, expected)

