"""The one place that knows where things are in ssfr-xl's workbooks.

Each sheet is declared once, as fields (a labelled value per row) or tables (a header row and
typed columns). Writers, readers and validators ask these declarations for sheet names,
defined names and cell addresses; no other module spells an address.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from openpyxl.utils import get_column_letter, quote_sheetname

from . import styles
from .model import (
    COUNT_FIELDS,
    ELIGIBLE_MODES,
    GRADES,
    LEVELS,
    TRANSITION_MODES,
    Component,
    Policy,
    RosterColumn,
)

TEMPLATE_VERSION = "1.0"


def cell_address(row: int, col: int, absolute: bool = False) -> str:
    """A1 address of a 1-based (row, column); $-anchored when absolute."""
    letter = get_column_letter(col)
    return f"${letter}${row}" if absolute else f"{letter}{row}"


def sheet_ref(sheet: str, address: str) -> str:
    """A reference to a cell or range on a sheet, quoted as Excel needs ('Job Classes'!A1)."""
    return f"{quote_sheetname(sheet)}!{address}"


def defined_name_for(*parts: str) -> str:
    """A valid defined name from parts (Rate + TITLE1 -> Rate_TITLE1)."""
    text = "_".join(p.replace("-", "_").replace(" ", "_") for p in parts)
    return text


@dataclass(frozen=True)
class Validation:
    """Data validation for an input column."""

    type: str  # "list" | "whole" | "decimal" | "textLength"
    formula1: str = ""
    formula2: str | None = None
    operator: str | None = None  # "between", "greaterThanOrEqual", ...
    prompt: str = ""
    error: str = ""
    allow_blank: bool = True


@dataclass(frozen=True)
class Column:
    """A table column: header, what it holds, how it looks."""

    key: str
    header: str
    width: float = 12
    number_format: str = "General"
    input: bool = False
    validation: Validation | None = None
    help: str = ""
    name: str = ""  # defined name of the column's data range, if any
    hidden: bool = False  # a helper column the formulas use, not shown

    @property
    def style(self) -> str:
        """Named style of the column's data cells."""
        return styles.INPUT if self.input else styles.FORMULA


@dataclass(frozen=True)
class Table:
    """A table: a header row, then one row per record from first_row."""

    sheet: str
    header_row: int
    columns: tuple[Column, ...]
    rows: int  # number of data rows written
    name: str = ""  # defined name of the whole data range
    first_col: int = 1

    @property
    def first_row(self) -> int:
        """Row of the first record."""
        return self.header_row + 1

    @property
    def last_row(self) -> int:
        """Row of the last record (first_row - 1 when empty)."""
        return self.first_row + self.rows - 1

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {c.key: self.first_col + i for i, c in enumerate(self.columns)}

    def col(self, key: str) -> int:
        """1-based column number of a column key."""
        try:
            return self._positions[key]
        except KeyError:
            raise KeyError(f"{self.sheet} has no column {key!r}") from None

    def column(self, key: str) -> Column:
        """The Column declaration for a key."""
        return self.columns[self.col(key) - self.first_col]

    def letter(self, key: str) -> str:
        """Column letter of a column key."""
        return get_column_letter(self.col(key))

    def cell(self, key: str, index: int, absolute: bool = False) -> str:
        """Address of record `index` (0-based) in column `key`."""
        return cell_address(self.first_row + index, self.col(key), absolute)

    def ref(self, key: str, index: int) -> str:
        """Sheet-qualified address of a record's cell."""
        return sheet_ref(self.sheet, self.cell(key, index))

    def row_ref(self, key: str, row: int) -> str:
        """Sheet-qualified address in column `key` at worksheet row `row`."""
        return sheet_ref(self.sheet, f"{self.letter(key)}{row}")

    def range(self, key: str, absolute: bool = True) -> str:
        """Address of a column's data cells."""
        last = max(self.last_row, self.first_row)
        return (
            f"{cell_address(self.first_row, self.col(key), absolute)}:"
            f"{cell_address(last, self.col(key), absolute)}"
        )

    def full_range(self, key: str) -> str:
        """Sheet-qualified, absolute address of a column's data cells."""
        return sheet_ref(self.sheet, self.range(key))

    def span_range(self, first_key: str, last_key: str, row: int, absolute_row: bool = False
                   ) -> str:
        """Address of the cells from first_key to last_key on one worksheet row."""
        r = f"${row}" if absolute_row else str(row)
        return f"{self.letter(first_key)}{r}:{self.letter(last_key)}{r}"


@dataclass(frozen=True)
class Field:
    """A labelled single value: label in one column, value beside it, a defined name."""

    key: str
    label: str
    name: str
    number_format: str = "General"
    input: bool = True
    help: str = ""
    validation: Validation | None = None


@dataclass(frozen=True)
class FieldBlock:
    """Fields stacked one per row starting at `first_row` (label col, value col, help col)."""

    sheet: str
    first_row: int
    fields: tuple[Field, ...]
    label_col: int = 1
    value_col: int = 2
    help_col: int = 3

    def row(self, key: str) -> int:
        """Worksheet row of a field."""
        for i, f in enumerate(self.fields):
            if f.key == key:
                return self.first_row + i
        raise KeyError(key)

    def field(self, key: str) -> Field:
        """The Field declaration for a key."""
        return self.fields[self.row(key) - self.first_row]

    def cell(self, key: str, absolute: bool = False) -> str:
        """Address of a field's value cell."""
        return cell_address(self.row(key), self.value_col, absolute)

    @property
    def last_row(self) -> int:
        """Row of the last field."""
        return self.first_row + len(self.fields) - 1


# --- lists used by dropdowns -------------------------------------------------------------

YES_NO = ("Yes", "No")
RATE_UNITS = ("dollars", "weight")
COUNTINGS = ("duplicated", "unduplicated")
BASE_MODES = ("solve", "fixed")
ROUNDING = ("cent", "dollar")
DEPARTMENTS = (
    "Instructional Support",
    "Professional Development",
    "Business Services",
    "Human Resources",
    "Building and Maintenance",
)
OBJECT_GROUPS = ("Salaries", "Benefits", "Supplies", "Services", "Capital")


def _list_validation(name: str, prompt: str, error: str) -> Validation:
    # OOXML list sources carry no leading "=" (gnumeric drops a list written with one)
    return Validation("list", name, prompt=prompt, error=error)


def _whole(prompt: str, maximum: int = 100000) -> Validation:
    return Validation("whole", "0", str(maximum), "between", prompt=prompt,
                      error=f"Type a whole number from 0 to {maximum:,}.")


def _decimal(prompt: str, low: str = "0", high: str = "1000000000") -> Validation:
    return Validation("decimal", low, high, "between", prompt=prompt,
                      error=f"Type a number from {low} to {high}.")


# --- the district formula workbook -------------------------------------------------------

class DistrictSheets:
    """Sheet names of the district formula workbook, in order."""

    INSTRUCTIONS = "Instructions"
    POLICY = "Policy"
    SCHOOLS = "Schools"
    CALCULATION = "Calculation"
    ALLOCATIONS = "Allocations"
    SUMMARY = "Summary"
    ADJUSTMENTS = "Adjustments"
    FUNDS = "Funds"
    JOB_CLASSES = "Job Classes"
    SERVICES = "Services"
    OBJECTS = "Objects"
    GOALS = "Goals"
    LISTS = "Lists"
    META = "_ssfr_meta"
    SCENARIOS = "Scenarios"
    SCENARIO_POLICY = "Scenario Policy"
    SCENARIO_CALCULATION = "Scenario Calculation"
    SCENARIO_ALLOCATIONS = "Scenario Allocations"

    ORDER = (INSTRUCTIONS, POLICY, SCHOOLS, ADJUSTMENTS, CALCULATION, ALLOCATIONS, SUMMARY,
             SCENARIOS, FUNDS, JOB_CLASSES, SERVICES, OBJECTS, GOALS, LISTS, SCENARIO_POLICY,
             SCENARIO_CALCULATION, SCENARIO_ALLOCATIONS, META)

    #: The Scenarios sheet's workings: each a copy of the sheet of the same layout, every
    #: formula the same declaration with the scenario's parameters in place of today's.
    SHADOWS = {POLICY: SCENARIO_POLICY, CALCULATION: SCENARIO_CALCULATION,
               ALLOCATIONS: SCENARIO_ALLOCATIONS}


S = DistrictSheets

SETTINGS = FieldBlock(
    sheet=S.POLICY,
    first_row=4,
    fields=(
        Field("name", "District", "District_Name", help="Name shown on every workbook."),
        Field("cds_code", "CDS district code", "District_CDS", styles.TEXT,
              help="County (2) + district (5) digits."),
        Field("fiscal_year", "Fiscal year", "Fiscal_Year", styles.TEXT, help="e.g. 2026-27"),
        Field("budget", "Budget (unrestricted formula total)", "Budget", styles.MONEY,
              help="The unrestricted dollars the formula hands to schools.",
              validation=_decimal("Dollars for the formula's unrestricted funds.")),
        Field("base_rate_mode", "Base rate mode", "Base_Rate_Mode",
              help="solve: the base rate makes the unrestricted total equal the budget. "
                   "fixed: use the fixed base rate below.",
              validation=_list_validation("List_Base_Modes", "solve or fixed",
                                          "Choose solve or fixed.")),
        Field("base_rate", "Fixed base rate (per weighted pupil)", "Fixed_Base_Rate",
              styles.RATE, help="Used only when the mode is fixed.",
              validation=_decimal("Dollars per weighted pupil.")),
        Field("transition_max_loss", "Transition: maximum loss vs prior year", "Max_Loss",
              styles.SHARE,
              help="0% = nobody loses; 100% = no protection.",
              validation=_decimal("A share from 0% to 100%.", "0", "1")),
        Field("transition_mode", "Transition: paid for by", "Transition_Mode",
              help="scale_gains: a share of every gain; cap_gains: gains above the cap; "
                   "reserve: the transition reserve below (outside the budget).",
              validation=_list_validation("List_Transition_Modes",
                                          "scale_gains, cap_gains or reserve",
                                          "Choose scale_gains, cap_gains or reserve.")),
        Field("transition_gain_cap", "Transition: gains kept up to (cap_gains)",
              "Gain_Cap", styles.SHARE,
              help="cap_gains: a school keeps gains up to this share of last year.",
              validation=_decimal("A share, 0% or more.", "0", "100")),
        Field("transition_reserve", "Transition: reserve (reserve)", "Transition_Reserve",
              styles.MONEY, help="reserve: dollars set aside, outside the budget.",
              validation=_decimal("Dollars.")),
        Field("fte_step", "FTE step for school plans", "FTE_Step", "0.00",
              help="Positions are planned in steps of this size (0.1 = tenths).",
              validation=_decimal("From 0.01 to 1.", "0.01", "1")),
        Field("unspent_warning", "Warn when a plan leaves unspent more than", "Unspent_Warning",
              styles.SHARE, help="Share of a fund's allocation; validate warns above it.",
              validation=_decimal("A share from 0% to 100%.", "0", "1")),
        Field("plan_deadline", "School plans due", "Plan_Deadline", styles.TEXT,
              help="Shown on the school plan workbooks."),
        Field("contact", "Budget office contact", "Budget_Contact",
              help="Shown on the school plan workbooks."),
        Field("solved_base_rate", "Solved base rate", "Solved_Base_Rate", styles.PRECISE_RATE,
              input=False, help="(Budget - fixed unrestricted amounts) / base-weighted pupils."),
        Field("base_rate_in_use", "Base rate in use", "Base_Rate", styles.PRECISE_RATE,
              input=False, help="What every weight multiplies."),
        Field("base_units", "Base-weighted pupils (unrestricted)", "Base_Units", "#,##0.00",
              input=False, help="Sum of the Base units column below."),
        Field("fixed_total", "Fixed unrestricted amounts", "Fixed_Unrestricted", styles.MONEY,
              input=False, help="Sum of the Fixed $ column below."),
        Field("transition_protection", "Transition: shortfall below floors",
              "Transition_Protection", styles.MONEY, input=False),
        Field("transition_gains", "Transition: gains above prior year", "Transition_Gains",
              styles.MONEY, input=False),
        Field("transition_funding", "Transition: money available", "Transition_Funding",
              styles.MONEY, input=False,
              help="Gains that may be taken, or the reserve."),
        Field("transition_paid", "Transition: share of shortfall paid", "Transition_Paid",
              styles.SHARE, input=False),
        Field("transition_taken", "Transition: share of gains taken", "Transition_Taken",
              styles.SHARE, input=False),
        Field("budget_counted", "Counted against the budget", "Budget_Counted", styles.MONEY,
              input=False, help="Unrestricted amounts inside the budget (Counted = 1 below)."),
    ),
)

SPAN_COLUMNS = (
    Column("name", "Grade span", 14, styles.TEXT),
    Column("first_grade", "First grade", 10, styles.TEXT),
    Column("last_grade", "Last grade", 10, styles.TEXT),
    Column("weight", "Weight", 10, styles.WEIGHT, input=True,
           validation=_decimal("Multiplies the base rate for pupils in these grades.", "0", "10")),
    Column("pupils", "Pupils", 12, styles.COUNT),
)

COMPONENT_COLUMNS = (
    Column("code", "Code", 10, styles.TEXT),
    Column("name", "Component", 34, input=True),
    Column("kind", "Kind", 13, styles.TEXT),
    Column("fund", "Fund", 10, styles.TEXT, input=True,
           validation=_list_validation("Fund_Codes", "A fund code from the Funds sheet",
                                       "Choose a fund from the list.")),
    Column("basis", "Basis (counts)", 24, styles.TEXT),
    Column("enrollment", "Measured on", 14, styles.TEXT,
           help="The enrollment shares, thresholds and minimums are measured on."),
    Column("counting", "Counting", 13, input=True,
           validation=_list_validation("List_Counting", "duplicated or unduplicated",
                                       "Choose duplicated or unduplicated.")),
    Column("rate_unit", "Rate unit", 10, input=True,
           validation=_list_validation("List_Rate_Units", "dollars, or weight x base rate",
                                       "Choose dollars or weight.")),
    Column("rate", "Rate", 12, "#,##0.0000", input=True,
           validation=_decimal("Dollars per pupil, or a weight of the base rate.")),
    Column("threshold", "Threshold share", 10, styles.SHARE, input=True,
           validation=_decimal("A share of enrollment, 0% to 100%.", "0", "1")),
    Column("minimum", "Minimum $", 12, styles.MONEY_WHOLE, input=True,
           validation=_decimal("Dollars.")),
    Column("cap", "Cap $", 12, styles.MONEY_WHOLE, input=True,
           validation=_decimal("Dollars; 0 = no cap.")),
    Column("pool", "Pool $", 12, styles.MONEY_WHOLE, input=True,
           validation=_decimal("Dollars shared among schools.")),
    *(
        Column(f"level_{i}", level, 11, "#,##0.00", input=True,
               validation=_decimal(f"{level} schools: foundation $, small-school minimum "
                                   "enrollment or eligibility threshold share."))
        for i, level in enumerate(LEVELS)
    ),
    Column("eligible", "Conditions", 10, input=True,
           validation=_list_validation("List_Eligible", "all: every condition must hold; "
                                       "any: one is enough", "Choose all or any.")),
    Column("round_to", "Round to", 9, input=True,
           validation=_list_validation("List_Rounding", "cent or dollar: how each school's "
                                       "amount is rounded", "Choose cent or dollar.")),
    Column("in_budget", "In budget", 9, input=True,
           validation=_list_validation("List_Yes_No", "Yes: counts against the budget the "
                                       "base rate is solved to; No: on top", "Choose Yes or No.")),
    Column("rate_usd", "Rate $ in use", 12, styles.RATE),
    Column("digits", "Decimals", 8, "0"),
    Column("unrestricted", "Unrestricted (1/0)", 11, "0"),
    Column("counted", "Counted (1/0)", 9, "0"),
    Column("driver_total", "Driver total", 13, "#,##0.00"),
    Column("base_units", "Base units", 13, "#,##0.00"),
    Column("fixed", "Fixed $", 14, styles.MONEY),
    Column("total", "Total allocated", 15, styles.MONEY),
    Column("schools", "Schools funded", 9, styles.COUNT),
    Column("note", "How it works", 60, input=True),
)

#: Kinds whose amount never depends on the base rate (computed on the Calculation sheet).
FIXED_KINDS = frozenset({"foundation", "small_school", "pool", "floor", "adjustment"})

#: Parameter columns each kind uses; the others are locked and shaded on the Policy sheet.
KIND_PARAMETERS: dict[str, frozenset[str]] = {
    "base": frozenset(),
    "per_pupil": frozenset({"counting", "rate_unit", "rate"}),
    "concentration": frozenset({"counting", "rate_unit", "rate", "threshold"}),
    "categorical": frozenset({"counting", "rate_unit", "rate", "levels"}),
    "foundation": frozenset({"levels"}),
    "small_school": frozenset({"rate", "cap", "levels"}),
    "pool": frozenset({"counting", "pool"}),
    "floor": frozenset({"counting", "rate", "minimum", "levels"}),
    "transition": frozenset(),
    "adjustment": frozenset(),
}

def parameters_used(c: Component) -> frozenset[str]:
    """The Policy-sheet parameters a component uses; the others are locked and shaded."""
    uses = set(KIND_PARAMETERS[c.kind])
    if c.conditions and c.kind in ("categorical", "floor"):
        uses.discard("levels")  # the conditions are the eligibility test
    if c.bands:
        uses.discard("rate")  # each band has its rate
    return frozenset(uses)


#: The conditions a component's eligibility is tested on (Policy sheet, below components).
CONDITION_COLUMNS = (
    Column("code", "Component", 12, styles.TEXT),
    Column("measure", "Measure", 26, styles.TEXT),
    Column("operator", "Test", 6, styles.TEXT),
    Column("value", "Value", 12, "#,##0.0000", input=True,
           validation=_decimal("The value the measure is compared with.", "-1000000000")),
    Column("passing", "Schools passing", 10, styles.COUNT),
)

#: Rates by school level or grades inside one component (Policy sheet, below conditions).
BAND_COLUMNS = (
    Column("code", "Component", 12, styles.TEXT),
    Column("label", "Band", 16, styles.TEXT),
    Column("applies", "Applies to", 22, styles.TEXT),
    Column("rate", "Rate", 12, "#,##0.0000", input=True,
           validation=_decimal("Dollars per pupil, or a weight of the base rate.")),
    Column("rate_usd", "Rate $ in use", 12, styles.RATE),
    Column("pupils", "Pupils", 12, "#,##0.00"),
)

#: Per-school dollar lines (the Adjustments sheet). Rows beyond the written ones are room to
#: type more; the formulas cover every row.
ADJUSTMENT_COLUMNS = (
    Column("school_id", "School ID", 17, styles.TEXT, input=True,
           help="As on the Schools sheet"),
    Column("component", "Adjustment", 14, styles.TEXT, input=True,
           validation=_list_validation("List_Adjustments", "An adjustment component of the "
                                       "Policy sheet", "Choose an adjustment from the list.")),
    Column("amount", "Amount", 15, styles.MONEY, input=True,
           validation=_decimal("Dollars; negative to hold back.", "-1000000000")),
    Column("reason", "Reason", 60, input=True),
    Column("school_row", "School no.", 11, "0"),
    Column("component_row", "Adjustment no.", 15, "0"),
    Column("status", "Check", 40),
)
#: Empty rows the Adjustments sheet offers beyond the lines written at init.
ADJUSTMENT_ROOM = 200

ROSTER_INPUTS: tuple[Column, ...] = (
    Column("school_id", "School ID", 17, styles.TEXT, input=True,
           help="The district's site code (the CDS code when imported from CDE)",
           name="School_IDs"),
    Column("name", "School", 34, input=True),
    Column("cds_code", "CDS code", 16, styles.TEXT, input=True,
           help="14-digit CDS code, when the school ID is a site code"),
    Column("level", "Level", 11, input=True,
           validation=_list_validation("List_Levels", "Elementary, Middle, High or Span",
                                       "Choose a level from the list.")),
    Column("low_grade", "Low grade", 7, styles.TEXT, input=True),
    Column("high_grade", "High grade", 7, styles.TEXT, input=True),
    *(
        Column(f"grade_{g}", f"Grade {g}", 7, styles.COUNT, input=True,
               validation=_whole(f"Pupils enrolled in grade {g}."))
        for g in GRADES
    ),
    Column("enrollment", "Enrollment", 11, styles.COUNT),
    Column("frpm", "Free/reduced meals", 10, styles.COUNT, input=True,
           validation=_whole("Pupils eligible for free or reduced-price meals.")),
    Column("el", "English learners", 10, styles.COUNT, input=True,
           validation=_whole("English learners.")),
    Column("swd", "Students with disabilities", 11, styles.COUNT, input=True,
           validation=_whole("Students with disabilities (IEP).")),
    Column("foster", "Foster youth", 9, styles.COUNT, input=True,
           validation=_whole("Foster youth.")),
    Column("homeless", "Homeless", 9, styles.COUNT, input=True,
           validation=_whole("Pupils experiencing homelessness.")),
    Column("unduplicated", "Unduplicated pupils", 11, styles.COUNT, input=True,
           validation=_whole("Low-income, EL or foster pupils, each counted once.")),
    Column("prior_year_allocation", "Prior-year allocation", 15, styles.MONEY, input=True,
           validation=_decimal("Last year's unrestricted formula total; 0 = new school.")),
    Column("performance_points", "Performance points", 11, "#,##0.0", input=True,
           validation=_decimal("Growth points for the performance incentive.")),
    Column("hard_to_staff_teachers", "Hard-to-staff teachers", 11, "#,##0.0", input=True,
           validation=_decimal("Highly rated teachers in hard-to-staff positions.")),
    Column("grades_estimated", "Grades estimated", 10, input=True,
           validation=_list_validation("List_Yes_No", "Yes when grade counts were spread "
                                       "from a total", "Choose Yes or No.")),
)

FUND_COLUMNS = (
    Column("code", "Fund code", 11, styles.TEXT, name="Fund_Codes"),
    Column("name", "Fund", 36, input=True),
    Column("restricted", "Restricted", 11, input=True, name="Fund_Restricted",
           validation=_list_validation("List_Yes_No", "Yes for restricted money",
                                       "Choose Yes or No.")),
    Column("resource", "SACS resource", 11, styles.TEXT, input=True),
    Column("allowed_objects", "Allowed objects", 26, styles.TEXT, input=True,
           help="Object codes or ranges, e.g. 1000-3999,4300; blank = any"),
    Column("allowed_services", "Allowed services", 44, input=True,
           help="Departments or service codes; blank = any; none = none"),
)

JOB_CLASS_COLUMNS = (
    Column("code", "Job class", 11, styles.TEXT, input=True, name="Job_Codes"),
    Column("title", "Title", 36, input=True),
    Column("object_code", "Object", 9, styles.TEXT, input=True),
    Column("average_salary", "Average salary", 14, styles.MONEY, input=True,
           validation=_decimal("District average salary for 1.0 FTE.")),
    Column("benefits_rate", "Benefits rate", 10, styles.SHARE, input=True,
           validation=_decimal("Benefits as a share of salary.", "0", "2")),
    Column("average_cost", "Average cost (1.0 FTE)", 16, styles.MONEY),
)

SERVICE_COLUMNS = (
    Column("code", "Service", 14, styles.TEXT, input=True, name="Service_Codes"),
    Column("department", "Department", 24, input=True,
           validation=_list_validation("List_Departments", "A central-office department",
                                       "Choose a department.")),
    Column("name", "Description", 44, input=True),
    Column("unit", "Unit", 14, input=True),
    Column("unit_price", "Unit price", 12, styles.MONEY, input=True,
           validation=_decimal("Price of one unit.")),
    Column("object_code", "Object", 9, styles.TEXT, input=True),
)

OBJECT_COLUMNS = (
    Column("code", "Object", 9, styles.TEXT, input=True, name="Object_Codes"),
    Column("name", "Description", 48, input=True),
    Column("group", "Group", 12, input=True,
           validation=_list_validation("List_Object_Groups", "Salaries, Benefits, Supplies, "
                                       "Services or Capital", "Choose a group.")),
)

GOAL_COLUMNS = (
    Column("code", "Goal", 8, styles.TEXT, input=True, name="Goal_Codes"),
    Column("name", "District goal", 70, input=True),
)

INDICATOR_COLUMNS = (
    Column("code", "Indicator", 10, styles.TEXT, input=True, name="Indicator_Codes"),
    Column("name", "What it measures", 34, input=True),
    Column("direction", "Better is", 9, styles.TEXT, input=True,
           validation=_list_validation("List_Directions", "up: higher is better; down: "
                                       "lower is better", "Choose up or down.")),
    Column("unit", "Unit", 9, styles.TEXT, input=True),
)

#: Fixed lists for dropdowns: defined name -> values.
LISTS: dict[str, tuple[str, ...]] = {
    "List_Levels": LEVELS,
    "List_Yes_No": YES_NO,
    "List_Rate_Units": RATE_UNITS,
    "List_Counting": COUNTINGS,
    "List_Base_Modes": BASE_MODES,
    "List_Rounding": ROUNDING,
    "List_Eligible": ELIGIBLE_MODES,
    "List_Transition_Modes": TRANSITION_MODES,
    "List_Departments": DEPARTMENTS,
    "List_Object_Groups": OBJECT_GROUPS,
    "List_Directions": ("up", "down"),
}


def roster_columns(policy: Policy) -> tuple[Column, ...]:
    """The Schools sheet's columns: the built-in ones, then the policy's own."""
    return ROSTER_INPUTS + tuple(_district_column(c) for c in policy.roster_columns)


def _district_column(c: RosterColumn) -> Column:
    if c.is_flag:
        return Column(c.key, c.header, 11, input=True, help=c.help,
                      validation=_list_validation("List_Yes_No", c.help or "Yes or No",
                                                  "Choose Yes or No."))
    what = c.help or c.header
    return Column(c.key, c.header, 11, "#,##0.00" if c.fractional else styles.COUNT,
                  input=True, help=c.help,
                  validation=_decimal(what + ".") if c.fractional else _whole(what + ".", 10**7))


def band_applies(band) -> str:
    """What a rate band covers, in words: "High schools" or "grades 6-12"."""
    if band.level:
        return f"{band.level} schools"
    return f"grades {band.first_grade}-{band.last_grade}"


def basis_label(c: Component) -> str:
    """The basis as the Policy sheet shows it: frpm + el."""
    return " + ".join(c.basis)


# --- scenarios: the parameters a scenario may change, and the Scenarios sheet --------------

#: Highest value a parameter takes where it has no natural upper bound.
NO_LIMIT = 1e15


@dataclass(frozen=True)
class ScenarioParameter:
    """A number of the formula a scenario may change (see scenario.py).

    `key` is its place in a scenario file ("component.EL.rate"); `label` names it in the
    Scenarios sheet's dropdown; `target` is the Policy input cell holding today's value:
    ("setting", field key), ("span", index), ("component", index, column key),
    ("condition", component index, condition index), ("band", component index, band index),
    or ("budget_per_pupil",), which has no cell: it sets the budget.
    """

    key: str
    label: str
    low: float
    high: float
    target: tuple


#: District settings a scenario may change: key -> (label, lowest, highest).
SCENARIO_SETTINGS = {
    "budget": ("Budget", 0.0, NO_LIMIT),
    "budget_per_pupil": ("Budget per pupil (sets the budget)", 0.0, NO_LIMIT),
    "base_rate": ("Fixed base rate (when the mode is fixed)", 0.0, NO_LIMIT),
    "transition_max_loss": ("Transition: maximum loss", 0.0, 1.0),
    "transition_gain_cap": ("Transition: gains kept up to (cap_gains)", 0.0, 100.0),
    "transition_reserve": ("Transition: reserve (reserve)", 0.0, NO_LIMIT),
}
#: The parameters of a component, by Policy column (those its kind uses: KIND_PARAMETERS).
SCENARIO_COMPONENT_KEYS = ("rate", "threshold", "minimum", "cap", "pool")
#: What a component's values by school level are, by kind (otherwise a threshold share).
LEVEL_MEANING = {"foundation": ("amount", NO_LIMIT),
                 "small_school": ("minimum enrollment", NO_LIMIT)}


def scenario_parameters(policy: Policy) -> tuple[ScenarioParameter, ...]:
    """Every parameter of a policy's formula a scenario may change, in Policy-sheet order:
    the budget (or budget per pupil), the fixed base rate, the transition settings (with a
    transition component), the grade-span weights (when the base weighs spans), and per
    component the parameters its kind uses, its values by level, conditions and bands."""
    out: list[ScenarioParameter] = []
    keys = ["budget", "budget_per_pupil", "base_rate"]
    if any(c.kind == "transition" for c in policy.components):
        keys += ["transition_max_loss", "transition_gain_cap", "transition_reserve"]
    for key in keys:
        label, low, high = SCENARIO_SETTINGS[key]
        target = ("budget_per_pupil",) if key == "budget_per_pupil" else ("setting", key)
        out.append(ScenarioParameter(f"district.{key}", label, low, high, target))
    if not any(c.kind == "base" and c.basis for c in policy.components):
        out += [ScenarioParameter(f'grade_span."{span.name}".weight',
                                  f"Grade span {span.name} weight", 0.0, 10.0, ("span", i))
                for i, span in enumerate(policy.spans)]
    for i, c in enumerate(policy.components):
        uses = parameters_used(c)
        for key in SCENARIO_COMPONENT_KEYS:
            if key in uses:
                out.append(ScenarioParameter(f"component.{c.code}.{key}", f"{c.code} {key}",
                                             0.0, 1.0 if key == "threshold" else NO_LIMIT,
                                             ("component", i, key)))
        if "levels" in uses:
            what, high = LEVEL_MEANING.get(c.kind, ("threshold share", 1.0))
            out += [ScenarioParameter(f"component.{c.code}.level.{level}",
                                      f"{c.code} {level} {what}", 0.0, high,
                                      ("component", i, f"level_{j}"))
                    for j, level in enumerate(LEVELS)]
        out += [ScenarioParameter(f"component.{c.code}.condition.{k + 1}",
                                  f"{c.code} condition {k + 1} value", -NO_LIMIT, NO_LIMIT,
                                  ("condition", i, k)) for k in range(len(c.conditions))]
        out += [ScenarioParameter(f"component.{c.code}.band.{b.label}",
                                  f"{c.code} band {b.label} rate", 0.0, NO_LIMIT,
                                  ("band", i, k)) for k, b in enumerate(c.bands)]
    return tuple(out)


#: Parameters the budget officer may try at once on the Scenarios sheet.
SCENARIO_CHOICES = 5

SCENARIO_CHOICE_COLUMNS = (
    Column("parameter", "Parameter", 44, input=True,
           validation=_list_validation("List_Scenario_Parameters", "A parameter of the "
                                       "formula (the list on the right)",
                                       "Choose a parameter from the list.")),
    Column("today", "Today", 16, "#,##0.00##"),
    Column("value", "Scenario value", 16, "#,##0.00##", input=True, name="Scenario_Values",
           validation=_decimal("The value to try; blank = today's.", "-1000000000000000",
                               "1000000000000000")),
    Column("number", "No.", 8, "0", name="Scenario_Numbers"),
    Column("applied", "Applied (1/0)", 10, "0", name="Scenario_Applied"),
    Column("check", "Check", 16),
)
SCENARIO_CATALOG_COLUMNS = (
    Column("number", "No.", 6, "0"),
    Column("label", "Parameter", 44, styles.TEXT, name="List_Scenario_Parameters"),
    Column("today", "Today", 16, "#,##0.00##", name="Scenario_Today"),
    Column("low", "Lowest", 12, "General", name="Scenario_Lowest"),
    Column("high", "Highest", 12, "General", name="Scenario_Highest"),
)
SCENARIO_SCHOOL_COLUMNS = (
    Column("school_id", "School ID", 16, styles.TEXT),
    Column("name", "School", 16),
    Column("today", "Today: total, all funds", 16, styles.MONEY),
    Column("scenario", "Scenario: total, all funds", 16, styles.MONEY),
    Column("change", "Change", 16, styles.MONEY),
    Column("change_share", "Change %", 16, styles.SHARE),
    Column("today_per_pupil", "Today per pupil", 13, styles.MONEY),
    Column("scenario_per_pupil", "Scenario per pupil", 13, styles.MONEY),
    Column("change_per_pupil", "Change per pupil", 13, styles.MONEY),
    Column("result", "Result", 12),
    Column("need_share", "Need share", 10, styles.SHARE),
)
#: The first row of the Scenarios sheet's choices; the results and schools follow.
SCENARIO_CHOICES_HEADER = 5
SCENARIO_RESULTS = FieldBlock(
    sheet=DistrictSheets.SCENARIOS,
    first_row=SCENARIO_CHOICES_HEADER + SCENARIO_CHOICES + 3,
    fields=(
        Field("winners", "Winners: total up by more than $0.50", "Scenario_Winners",
              styles.COUNT, input=False),
        Field("losers", "Losers: total down by more than $0.50", "Scenario_Losers",
              styles.COUNT, input=False),
        Field("unchanged", "Unchanged (within $0.50)", "Scenario_Unchanged", styles.COUNT,
              input=False),
        Field("today_total", "Total, all funds: today", "Scenario_Today_Total", styles.MONEY,
              input=False),
        Field("scenario_total", "Total, all funds: scenario", "Scenario_Total", styles.MONEY,
              input=False),
        Field("change", "Change of the total", "Scenario_Change", styles.MONEY, input=False),
        Field("base_today", "Base rate in use: today", "Scenario_Base_Today",
              styles.PRECISE_RATE, input=False),
        Field("base_scenario", "Base rate in use: scenario", "Scenario_Base_Rate",
              styles.PRECISE_RATE, input=False),
    ),
)


@dataclass
class DistrictLayout:
    """Addresses of the district workbook for a given policy and roster size."""

    policy: Policy
    n_schools: int
    adjustment_rows: int = ADJUSTMENT_ROOM
    per_pupil_enrollment: str = "enrollment"  # the count Allocations' per-pupil column divides by
    spans: Table = field(init=False)
    components: Table = field(init=False)
    conditions: Table = field(init=False)
    bands: Table = field(init=False)
    schools: Table = field(init=False)
    adjustments: Table = field(init=False)
    calculation: Table = field(init=False)
    allocations: Table = field(init=False)
    funds: Table = field(init=False)
    job_classes: Table = field(init=False)
    services: Table = field(init=False)
    objects: Table = field(init=False)
    goals: Table = field(init=False)
    scenario_choices: Table = field(init=False)
    scenario_catalog: Table = field(init=False)
    scenario_schools: Table = field(init=False)
    indicators: Table = field(init=False)

    #: First data row of the per-school sheets (Schools, Calculation, Allocations share rows).
    SCHOOL_HEADER_ROW = 6

    def __post_init__(self) -> None:
        p = self.policy
        spans_header = SETTINGS.last_row + 3
        self.spans = Table(S.POLICY, spans_header, SPAN_COLUMNS, len(p.spans))
        comp_header = self.spans.last_row + 3
        self.components = Table(S.POLICY, comp_header, COMPONENT_COLUMNS, len(p.components))
        self.conditions = Table(S.POLICY, self.components.last_row + 3, CONDITION_COLUMNS,
                                len(self.condition_list))
        self.bands = Table(S.POLICY, self.conditions.last_row + 3, BAND_COLUMNS,
                           len(self.band_list))
        self.schools = Table(S.SCHOOLS, self.SCHOOL_HEADER_ROW, roster_columns(p),
                             self.n_schools, name="Schools_Table")
        self.adjustments = Table(S.ADJUSTMENTS, 4, ADJUSTMENT_COLUMNS, self.adjustment_rows,
                                 name="Adjustments_Table")
        self.calculation = Table(S.CALCULATION, self.SCHOOL_HEADER_ROW,
                                 self._calculation_columns(), self.n_schools)
        self.allocations = Table(S.ALLOCATIONS, self.SCHOOL_HEADER_ROW,
                                 self._allocation_columns(), self.n_schools)
        self.funds = Table(S.FUNDS, 3, FUND_COLUMNS, len(p.funds), name="Funds_Table")
        self.job_classes = Table(S.JOB_CLASSES, 3, JOB_CLASS_COLUMNS, len(p.job_classes),
                                 name="Job_Classes_Table")
        self.services = Table(S.SERVICES, 3, SERVICE_COLUMNS, len(p.services),
                              name="Services_Table")
        self.objects = Table(S.OBJECTS, 3, OBJECT_COLUMNS, len(p.objects), name="Objects_Table")
        self.goals = Table(S.GOALS, 3, GOAL_COLUMNS, len(p.goals), name="Goals_Table")
        self.scenario_choices = Table(S.SCENARIOS, SCENARIO_CHOICES_HEADER,
                                      SCENARIO_CHOICE_COLUMNS, SCENARIO_CHOICES)
        self.scenario_catalog = Table(S.SCENARIOS, SCENARIO_CHOICES_HEADER,
                                      SCENARIO_CATALOG_COLUMNS, len(scenario_parameters(p)),
                                      first_col=len(SCENARIO_SCHOOL_COLUMNS) + 3)
        self.scenario_schools = Table(S.SCENARIOS, SCENARIO_RESULTS.last_row + 3,
                                      SCENARIO_SCHOOL_COLUMNS, self.n_schools)
        from .indicators import indicator_list  # the Dashboard's and the district's own

        self.indicators = Table(S.GOALS, 3, INDICATOR_COLUMNS, len(indicator_list(p)),
                                name="Indicators_Table", first_col=len(GOAL_COLUMNS) + 2)

    @classmethod
    def of(cls, inputs) -> DistrictLayout:
        """The layout of the workbook written for these inputs (DistrictInputs)."""
        rows = inputs.adjustment_rows or len(inputs.adjustments) + ADJUSTMENT_ROOM
        return cls(inputs.policy, len(inputs.schools), rows,
                   inputs.district.per_pupil_enrollment)

    @cached_property
    def condition_list(self) -> tuple[tuple[Component, int], ...]:
        """(component, 0-based condition index) of every condition, in Policy-sheet order."""
        return tuple((c, k) for c in self.policy.components for k in range(len(c.conditions)))

    @cached_property
    def band_list(self) -> tuple[tuple[Component, int], ...]:
        """(component, 0-based band index) of every rate band, in Policy-sheet order."""
        return tuple((c, k) for c in self.policy.components for k in range(len(c.bands)))

    @cached_property
    def adjustment_components(self) -> tuple[Component, ...]:
        """The adjustment components, in the order their codes are listed for the dropdown."""
        return tuple(c for c in self.policy.components if c.kind == "adjustment")

    def condition_row(self, c: Component, k: int) -> int:
        """Worksheet row of a component's condition on the Policy sheet."""
        return self.conditions.first_row + self.condition_list.index((c, k))

    def band_row(self, c: Component, k: int) -> int:
        """Worksheet row of a component's rate band on the Policy sheet."""
        return self.bands.first_row + self.band_list.index((c, k))

    def condition_name(self, c: Component, k: int) -> str:
        """Defined name of a condition's value cell (Cond_EQM_1)."""
        return defined_name_for("Cond", c.code, str(k + 1))

    def band_name(self, c: Component, k: int, param: str = "Band") -> str:
        """Defined name of a band's rate cell (Band_ARTS_1) or its rate in use (BandUSD_...)."""
        return defined_name_for(param, c.code, str(k + 1))

    def _calculation_columns(self) -> tuple[Column, ...]:
        cols = [
            Column("school_id", "School ID", 17, styles.TEXT),
            Column("name", "School", 30),
            Column("level_index", "Level no.", 7, "0"),
            Column("enrollment", "Enrollment", 10, styles.COUNT),
            Column("need_share", "Need share (unduplicated)", 11, styles.SHARE),
        ]
        cols += [Column(f"span_{i}", f"Pupils {s.name}", 9, styles.COUNT)
                 for i, s in enumerate(self.policy.spans)]
        for c in self.policy.components:
            cols += [Column(f"cond_{c.code}_{k}", f"{c.code} test {k + 1}", 8, "0")
                     for k in range(len(c.conditions))]
            if c.conditions:
                cols.append(Column(f"pass_{c.code}", f"{c.code} eligible", 8, "0"))
            cols += [Column(f"band_{c.code}_{k}", f"{c.code} {b.label}", 10, "#,##0.00")
                     for k, b in enumerate(c.bands)]
        cols += [Column(f"driver_{c.code}", f"{c.code} driver", 11, "#,##0.00")
                 for c in self.policy.components if c.kind not in ("transition", "adjustment")]
        # Amounts that do not move with the base rate are computed here, so the base-rate
        # solve depends on this sheet only (LibreOffice's threaded calculation reports false
        # circular references when a formula column depends, through the solve, on another
        # formula column of its own sheet).
        cols += [Column(f"amount_{c.code}", f"{c.code} amount", 13, styles.MONEY)
                 for c in self.policy.components if c.kind in FIXED_KINDS]
        if any(c.kind == "transition" for c in self.policy.components):
            cols += [
                Column("formula_total", "Unrestricted before transition", 15, styles.MONEY),
                Column("prior", "Prior year", 15, styles.MONEY),
                Column("protection", "Shortfall below floor", 14, styles.MONEY),
                Column("gain", "Gain above prior year", 14, styles.MONEY),
            ]
        return tuple(cols)

    def _allocation_columns(self) -> tuple[Column, ...]:
        cols = [
            Column("school_id", "School ID", 17, styles.TEXT),
            Column("name", "School", 30),
            Column("level", "Level", 11),
            Column("enrollment", "Enrollment" if self.per_pupil_enrollment == "enrollment"
                   else f"Pupils ({self.per_pupil_enrollment})", 10, styles.COUNT),
        ]
        cols += [Column(f"amount_{c.code}", c.name, 14, styles.MONEY)
                 for c in self.policy.components]
        cols += [Column(f"fund_{f.code}", f"Total {f.code}", 15, styles.MONEY)
                 for f in self.policy.funds]
        cols += [
            Column("total", "Total, all funds", 16, styles.MONEY),
            Column("unrestricted", "Unrestricted total", 16, styles.MONEY),
            Column("per_pupil", "Per pupil (all funds)", 12, styles.MONEY),
            Column("prior", "Prior-year allocation", 15, styles.MONEY),
            Column("change", "Change vs prior (unrestricted)", 15, styles.MONEY),
            Column("change_share", "Change %", 9, styles.SHARE),
            Column("need_share", "Need share", 9, styles.SHARE),
        ]
        return tuple(cols)

    # rows above the Allocations header, used by the formulas
    @property
    def fund_row(self) -> int:
        """Allocations row holding each component's fund code."""
        return self.SCHOOL_HEADER_ROW - 3

    @property
    def unrestricted_row(self) -> int:
        """Allocations row flagging unrestricted components (and unrestricted funds)."""
        return self.SCHOOL_HEADER_ROW - 2

    @property
    def counted_row(self) -> int:
        """Allocations row flagging components counted against the budget (the transition
        rule's formula total)."""
        return self.SCHOOL_HEADER_ROW - 1

    def component_name(self, param: str, c: Component) -> str:
        """Defined name of a component's Policy cell (Rate_POV, Level_FOUND, ...)."""
        return defined_name_for(param, c.code)

    def span_weight_name(self, index: int) -> str:
        """Defined name of a grade span's weight cell."""
        return f"Span_Weight_{index + 1}"


def meta_keys() -> tuple[str, ...]:
    """Keys of the hidden metadata sheet, in order."""
    return ("template_version", "kind", "district", "fiscal_year", "n_schools", "structure",
            "created_by", "created_at")


COUNT_FIELD_HEADERS = {c.key: c.header for c in ROSTER_INPUTS if c.key in COUNT_FIELDS}


# --- the school plan workbook ------------------------------------------------------------

class SchoolSheets:
    """Sheet names of the school plan workbook, in order."""

    START = "Start Here"
    ALLOCATION = "Allocation"
    STAFFING = "Staffing"
    SERVICES = "Services"
    OTHER = "Other Spending"
    GOALS = "Goals & Strategies"
    SUMMARY = "Summary"
    LISTS = "Lists"
    META = "_ssfr_meta"

    ORDER = (START, ALLOCATION, STAFFING, SERVICES, OTHER, GOALS, SUMMARY, LISTS, META)
    #: Sheets a principal may not rename, remove or add next to.
    REQUIRED = ORDER


STAFFING_LINES = 400
OTHER_LINES = 200
EXTRA_SERVICE_LINES = 30
#: Most FTE one staffing line may hold: a job class times any number of positions (20.0
#: teachers), in the district's FTE steps; more is a typing slip.
MAX_LINE_FTE = 999.9
SCHOOL_HEADER_ROW = 6

def _row_columns(code_row: str) -> tuple[Column, ...]:
    """Hidden helper columns of a plan line: where its codes sit in the lists, and whether the
    line has a problem (1/0). The visible cost and Check columns and the totals use them."""
    return (
        Column("problems", "Problems", 20, hidden=True),
        Column(code_row, "List row", 6, "0", hidden=True),
        Column("fund_row", "Fund row", 6, "0", hidden=True),
        Column("goal_row", "Goal row", 6, "0", hidden=True),
        Column("flag", "Problem", 6, "0", hidden=True),
    )


_pick_fund = Validation("list", "Plan_Fund_Codes", prompt="Which fund pays for this line.",
                        error="Choose a fund from the list (see the Summary sheet).")
_pick_goal = Validation("list", "Plan_Goal_Codes",
                        prompt="The district goal this spending serves.",
                        error="Choose a district goal from the list.")

STAFFING_COLUMNS = (
    Column("line", "Line", 6, "0"),
    Column("job_class", "Job class", 12, styles.TEXT, input=True, name="Staffing_Job_Class",
           validation=Validation("list", "Plan_Job_Codes", prompt="Choose the position.",
                                 error="Choose a job class from the list.")),
    Column("title", "Position", 30),
    Column("fte", "FTE", 8, styles.FTE, input=True, name="Staffing_FTE",
           validation=Validation("custom", "", prompt="Full-time equivalent on this line: "
                                 "20 teachers = 20.0, a half-time aide = 0.5.",
                                 error=f"FTE must be from 0 to {MAX_LINE_FTE:g}, in the "
                                 "district's FTE steps.")),
    Column("fund", "Fund", 11, styles.TEXT, input=True, name="Staffing_Fund",
           validation=_pick_fund),
    Column("goal", "District goal", 10, styles.TEXT, input=True, name="Staffing_Goal",
           validation=_pick_goal),
    Column("note", "Note (name, focus)", 28, input=True, name="Staffing_Note"),
    Column("salary", "Salary", 13, styles.MONEY_LINE),
    Column("benefits", "Benefits", 12, styles.MONEY_LINE),
    Column("cost", "Cost", 13, styles.MONEY_LINE),
    Column("check", "Check", 30),
    *_row_columns("job_row"),
    Column("fte_counted", "FTE counted", 6, styles.FTE, hidden=True),
)

SERVICE_PLAN_COLUMNS = (
    Column("department", "Department", 24),
    Column("service", "Service", 14, styles.TEXT, input=True, name="Services_Code",
           validation=Validation("list", "Plan_Service_Codes", prompt="A service from the "
                                 "menu.", error="Choose a service code from the list.")),
    Column("name", "Description", 40),
    Column("unit", "Unit", 14),
    Column("unit_price", "Unit price", 12, styles.MONEY),
    Column("quantity", "Quantity", 10, "#,##0.00", input=True, name="Services_Quantity",
           validation=Validation("decimal", "0", "100000", "between",
                                 prompt="How many units to buy (0 or blank = none).",
                                 error="Type a quantity of 0 or more.")),
    Column("fund", "Fund", 11, styles.TEXT, input=True, name="Services_Fund",
           validation=_pick_fund),
    Column("goal", "District goal", 10, styles.TEXT, input=True, name="Services_Goal",
           validation=_pick_goal),
    Column("cost", "Cost", 13, styles.MONEY_LINE),
    Column("check", "Check", 30),
    *_row_columns("service_row"),
)

OTHER_COLUMNS = (
    Column("line", "Line", 6, "0"),
    Column("object", "Object", 9, styles.TEXT, input=True, name="Other_Object",
           validation=Validation("list", "Plan_Object_Codes", prompt="SACS object code: what "
                                 "is bought.", error="Choose an object code from the list.")),
    Column("object_name", "Object description", 30),
    Column("fund", "Fund", 11, styles.TEXT, input=True, name="Other_Fund",
           validation=_pick_fund),
    Column("goal", "District goal", 10, styles.TEXT, input=True, name="Other_Goal",
           validation=_pick_goal),
    Column("description", "What it is for", 36, input=True, name="Other_Description"),
    Column("amount", "Amount", 13, styles.MONEY, input=True, name="Other_Amount",
           validation=Validation("decimal", "0", "100000000", "between",
                                 prompt="Dollars (0 or more).", error="Type an amount of 0 "
                                 "or more dollars.")),
    Column("group", "Group", 10),
    Column("check", "Check", 30),
    *_row_columns("object_row"),
    Column("amount_counted", "Amount counted", 12, styles.MONEY, hidden=True),
)

GOAL_PLAN_COLUMNS = (
    Column("goal", "District goal", 8, styles.TEXT),
    Column("goal_name", "District goal", 36),
    Column("school_goal", "Our school goal", 36, input=True, name="Goals_School_Goal"),
    Column("strategy", "Strategy (what we will do)", 40, input=True, name="Goals_Strategy"),
    Column("measure", "Measure of success", 32, input=True, name="Goals_Measure"),
    Column("indicator", "Indicator", 11, styles.TEXT, input=True, name="Goals_Indicator",
           validation=Validation("list", "Plan_Indicator_Codes",
                                 prompt="The indicator the baseline and target are stated in "
                                        "(see the Lists sheet).",
                                 error="Choose an indicator from the list.")),
    Column("unit", "Unit", 8),
    Column("baseline", "Baseline (this year)", 11, "#,##0.0##", input=True,
           name="Goals_Baseline",
           validation=Validation("decimal", "-1000000", "1000000", "between",
                                 prompt="Where the school is now, in the indicator's unit "
                                        "(12.5 for 12.5%).",
                                 error="Type a number.")),
    Column("target", "Target (next year)", 11, "#,##0.0##", input=True, name="Goals_Target",
           validation=Validation("decimal", "-1000000", "1000000", "between",
                                 prompt="Where the school will be by the end of the year: "
                                        "above the baseline where higher is better, below it "
                                        "where lower is better.",
                                 error="Type a number.")),
    Column("planned", "Planned dollars", 15, styles.MONEY),
    Column("check", "Check", 26),
    Column("problems", "Problems", 20, hidden=True),
    Column("indicator_row", "Indicator row", 6, "0", hidden=True),
)

ALLOCATION_COLUMNS = (
    Column("code", "Component", 10, styles.TEXT),
    Column("name", "What it is", 34),
    Column("fund", "Fund", 10, styles.TEXT),
    Column("math", "How it was computed", 90),
    Column("amount", "Amount", 15, styles.MONEY),
)

PLAN_FUND_COLUMNS = (
    Column("fund", "Fund", 18, styles.TEXT),  # wide enough for the labels below the table
    Column("name", "Fund name", 34),
    Column("restricted", "Restricted", 10),
    Column("allocation", "Allocation", 15, styles.MONEY),
    Column("planned", "Planned", 15, styles.MONEY),
    Column("remaining", "Remaining", 15, styles.MONEY),
)

PLAN_LIST_NAMES = {
    "jobs": "Plan_Job_Codes",
    "funds": "Plan_Fund_Codes",
    "goals": "Plan_Goal_Codes",
    "objects": "Plan_Object_Codes",
    "services": "Plan_Service_Codes",
    "indicators": "Plan_Indicator_Codes",
}


@dataclass
class SchoolLayout:
    """Addresses of a school plan workbook for a given policy."""

    policy: Policy
    staffing: Table = field(init=False)
    services: Table = field(init=False)
    other: Table = field(init=False)
    goals: Table = field(init=False)
    allocation: Table = field(init=False)
    funds: Table = field(init=False)
    jobs: Table = field(init=False)
    service_menu: Table = field(init=False)
    objects: Table = field(init=False)
    fund_list: Table = field(init=False)
    goal_list: Table = field(init=False)
    indicator_list: Table = field(init=False)

    def __post_init__(self) -> None:
        p, h = self.policy, SCHOOL_HEADER_ROW
        ss = SchoolSheets
        self.staffing = Table(ss.STAFFING, h, STAFFING_COLUMNS, STAFFING_LINES)
        self.services = Table(ss.SERVICES, h, SERVICE_PLAN_COLUMNS,
                              len(p.services) + EXTRA_SERVICE_LINES)
        self.other = Table(ss.OTHER, h, OTHER_COLUMNS, OTHER_LINES)
        self.goals = Table(ss.GOALS, h, GOAL_PLAN_COLUMNS, len(p.goals))
        self.allocation = Table(ss.ALLOCATION, 12, ALLOCATION_COLUMNS, len(p.components))
        self.funds = Table(ss.SUMMARY, 5, PLAN_FUND_COLUMNS, len(p.funds))
        # reference lists on the Lists sheet, side by side, one empty column between; job
        # classes, services and objects carry one "may pay" column (1/0) per fund
        allow = self.allow_columns
        col = 1
        tables = []
        for columns, n in ((JOB_CLASS_COLUMNS + allow, len(p.job_classes)),
                           (SERVICE_COLUMNS + allow, len(p.services)),
                           (OBJECT_COLUMNS + allow, len(p.objects)),
                           (FUND_COLUMNS, len(p.funds)), (GOAL_COLUMNS, len(p.goals))):
            tables.append(Table(ss.LISTS, 3, columns, n, first_col=col))
            col += len(columns) + 1
        self.jobs, self.service_menu, self.objects, self.fund_list, self.goal_list = tables
        self.fte_step_col = col
        from .indicators import indicator_list  # after the FTE step: other lists stay put

        self.indicator_list = Table(ss.LISTS, 3, INDICATOR_COLUMNS, len(indicator_list(p)),
                                    first_col=col + 2)

    @property
    def allow_keys(self) -> tuple[str, ...]:
        """Column keys of the "may pay" flags, in fund order."""
        return tuple(f"allow_{i}" for i in range(len(self.policy.funds)))

    @property
    def allow_columns(self) -> tuple[Column, ...]:
        """One column per fund: 1 when that fund may pay for the row's item, else 0."""
        return tuple(Column(key, f"{f.code} may pay", 9, "0")
                     for key, f in zip(self.allow_keys, self.policy.funds, strict=True))

    @property
    def fte_step_cell(self) -> str:
        """Address of the FTE step on the Lists sheet (defined name FTE_Step)."""
        return cell_address(self.jobs.first_row, self.fte_step_col)

    @property
    def summary_total_row(self) -> int:
        """Summary row of the "All funds" totals."""
        return self.funds.last_row + 1

    @property
    def group_header_row(self) -> int:
        """Summary row of the "By object group" header; one row per group follows, then FTE."""
        return self.summary_total_row + 2

    def summary_cell(self, key: str) -> str:
        """Address on the Summary sheet of a plan total (plan_math's totals keys)."""
        if key.startswith("total_") and key != "total_fte":
            return cell_address(self.summary_total_row, self.funds.col(key[len("total_"):]))
        if key.startswith("group_"):
            return cell_address(self.group_header_row + 1
                                + OBJECT_GROUPS.index(key[len("group_"):]), 2)
        if key == "total_fte":
            return cell_address(self.group_header_row + 1 + len(OBJECT_GROUPS), 2)
        raise KeyError(key)

    @property
    def menu_rows(self) -> int:
        """Service lines pre-filled from the district menu (the rest are extra lines)."""
        return len(self.policy.services)

    @property
    def menu_services(self) -> tuple:
        """The district's services in the order of the Services sheet's menu lines."""
        return tuple(sorted(self.policy.services, key=lambda s: (s.department, s.code)))

    def allocation_total_name(self, fund_code: str) -> str:
        """Defined name of a fund's allocation cell."""
        return defined_name_for("Allocation", fund_code)

    @property
    def allocation_totals_row(self) -> int:
        """Row of the "Totals by fund" label on the Allocation sheet; funds follow it."""
        return self.allocation.last_row + 2

    def allocation_total_cell(self, fund_index: int) -> str:
        """Address of a fund's allocation total on the Allocation sheet."""
        return cell_address(self.allocation_totals_row + 1 + fund_index,
                            self.allocation.col("amount"))


#: Start Here fields (label, value) block.
START_FIELDS = FieldBlock(
    sheet=SchoolSheets.START,
    first_row=4,
    fields=(
        Field("school", "School", "Plan_School", input=False),
        Field("school_id", "School ID (CDS)", "Plan_School_ID", styles.TEXT, input=False),
        Field("district", "District", "Plan_District", input=False),
        Field("fiscal_year", "Fiscal year", "Plan_Fiscal_Year", styles.TEXT, input=False),
        Field("deadline", "Plan due", "Plan_Deadline", styles.TEXT, input=False),
        Field("contact", "Questions", "Plan_Contact", input=False),
        Field("status", "Status", "Plan_Status", input=False),
        Field("prepared_by", "Prepared by (principal)", "Plan_Prepared_By"),
        Field("council_date", "School site council approval date", "Plan_Council_Date",
              styles.TEXT),
    ),
)
