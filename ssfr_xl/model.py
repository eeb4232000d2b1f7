"""Plain data for a district's season: who the schools are and what the policy says.

No openpyxl, no pandas here: these dataclasses are what the importers produce, what the
workbooks are written from and read back into, and what the allocation engine consumes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

#: Grades in the order a roster lists them (TK = transitional kindergarten).
GRADES: tuple[str, ...] = ("TK", "K", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12")

#: School levels; level-dependent policy values (foundation, small-school minimum,
#: eligibility thresholds) are given once per level in this order.
LEVELS: tuple[str, ...] = ("Elementary", "Middle", "High", "Span")

#: Count columns of the roster a component may use as its basis.
COUNT_FIELDS: tuple[str, ...] = (
    "enrollment",
    "frpm",
    "el",
    "swd",
    "foster",
    "homeless",
    "unduplicated",
    "performance_points",
    "hard_to_staff_teachers",
)

#: Whole-number built-in counts that are pupils (each at most the school's enrollment).
PUPIL_FIELDS: tuple[str, ...] = ("frpm", "el", "swd", "foster", "homeless", "unduplicated")

ComponentKind = Literal[
    "base",  # span-weighted enrollment x base rate (the rate the budget-neutral solve finds)
    "per_pupil",  # pupils counted on a basis x rate
    "concentration",  # pupils above a threshold share of enrollment x rate
    "foundation",  # a fixed amount per school, by level
    "small_school",  # rate x (minimum enrollment - enrollment), capped
    "categorical",  # rate x pupils, only where the basis share exceeds a threshold (Title I)
    "pool",  # a fixed pot shared in proportion to a basis (incentives)
    "floor",  # greater of rate x pupils and a minimum, for eligible schools
    "transition",  # limits each school's loss vs prior year, paid for by scaling gains
    "adjustment",  # per-school dollar lines typed on the Adjustments sheet, each with a reason
]
COMPONENT_KINDS: tuple[str, ...] = ComponentKind.__args__  # type: ignore[attr-defined]

#: Kinds whose amount is rate x driver, so a rate given as a weight of the base is linear in it.
LINEAR_KINDS: frozenset[str] = frozenset({"base", "per_pupil", "concentration", "categorical"})

RateUnit = Literal["dollars", "weight"]
#: How a component's eligibility conditions combine.
ELIGIBLE_MODES: tuple[str, ...] = ("all", "any")
#: Comparison operators a condition may use.
CONDITION_OPERATORS: tuple[str, ...] = (">", ">=", "<", "<=", "=", "<>")
#: Transition rules: how protection against losses is paid for.
TRANSITION_MODES: tuple[str, ...] = ("scale_gains", "reserve", "cap_gains")
Counting = Literal["duplicated", "unduplicated"]


def grade_index(grade: str) -> int:
    """Position of a grade label (TK, K, 1..12) in GRADES; raises ValueError if unknown."""
    label = str(grade).strip().upper()
    if label in ("P", "PK", "PS"):  # preschool rows in CDE files: treat as TK for spans
        label = "TK"
    if label.isdigit():
        label = str(int(label))
    return GRADES.index(label)


def level_for_grades(low: str, high: str) -> str:
    """The school level implied by the grades it serves."""
    lo, hi = grade_index(low), grade_index(high)
    if hi <= grade_index("6"):
        return "Elementary"
    if lo >= grade_index("6") and hi <= grade_index("8"):
        return "Middle"
    if lo >= grade_index("9"):
        return "High"
    return "Span"


@dataclass(frozen=True)
class District:
    """The district and the season's settings."""

    name: str
    cds_code: str  # 7 digits: county (2) + district (5)
    fiscal_year: str  # e.g. "2026-27"
    budget: float  # unrestricted formula total the base rate is solved to
    base_rate_mode: Literal["solve", "fixed"] = "solve"
    base_rate: float = 0.0  # used when base_rate_mode is "fixed"
    transition_max_loss: float = 0.0  # share of prior-year allocation a school may lose; 0 = off
    transition_mode: str = "scale_gains"  # one of TRANSITION_MODES
    transition_reserve: float = 0.0  # dollars set aside for protection (mode "reserve")
    transition_gain_cap: float = 0.0  # share of prior year a gain may reach (mode "cap_gains")
    plan_deadline: str = ""
    contact: str = ""
    unspent_warning: float = 0.05  # warn when a plan leaves more than this share of a fund
    per_pupil_enrollment: str = "enrollment"  # the count per-pupil figures divide by


@dataclass(frozen=True)
class School:
    """One school of the roster: identity, grades, counts and prior-year allocation."""

    school_id: str  # the district's own site code (a 14-digit CDS code when imported from CDE)
    name: str
    level: str  # one of LEVELS
    low_grade: str
    high_grade: str
    enrollment_by_grade: dict[str, int]  # grade -> pupils, for every grade in GRADES
    frpm: int = 0
    el: int = 0
    swd: int = 0
    foster: int = 0
    homeless: int = 0
    unduplicated: int = 0
    prior_year_allocation: float = 0.0  # unrestricted formula total last year; 0 = none
    performance_points: float = 0.0
    hard_to_staff_teachers: float = 0.0
    grades_estimated: bool = False  # True when grade counts were spread from a total
    cds_code: str = ""  # 14-digit CDS code when the school_id is a district site code
    extra: Mapping[str, float] = field(default_factory=dict)  # the policy's roster columns

    @property
    def enrollment(self) -> int:
        """Total enrollment, the sum over grades."""
        return sum(self.enrollment_by_grade.get(g, 0) for g in GRADES)

    def count(self, field_name: str) -> float:
        """Value of a count column by name (see COUNT_FIELDS)."""
        if field_name == "enrollment":
            return self.enrollment
        if field_name in COUNT_FIELDS:
            return getattr(self, field_name)
        if field_name in self.extra:
            return float(self.extra[field_name])
        raise KeyError(field_name)


@dataclass(frozen=True)
class RosterColumn:
    """A count or yes/no flag of the district's own, declared in the policy: a roster CSV
    column and a Schools sheet column (newcomers, long-term EL, TK program, ...)."""

    key: str  # lowercase identifier: the CSV header and what components name
    header: str  # shown on the Schools sheet
    kind: str = "count"  # "count" of pupils, "enrollment" (another count of all pupils:
    # census, prior-year cumulative), or "flag" (Yes/No, counted as 1/0)
    fractional: bool = False  # a count may hold decimals (FTE-weighted, rates)
    instances: bool = False  # a count may exceed enrollment (each instance of a need)
    help: str = ""

    @property
    def is_flag(self) -> bool:
        """True for a Yes/No column."""
        return self.kind == "flag"

    @property
    def within_enrollment(self) -> bool:
        """True when each school's value may not exceed its (projected) enrollment."""
        return self.kind == "count" and not self.instances and not self.fractional


@dataclass(frozen=True)
class Condition:
    """One test a school must pass for a component to apply (see Component.conditions).

    measure: a count column ("el", "nonstability_rate", a roster column), "share:<column>"
    (that column over the component's enrollment), "flag:<column>" (1 for Yes, 0 for No),
    "grades:<first>-<last>" (pupils enrolled in those grades) or "level:<Level>" (1 when the
    school is at that level)."""

    measure: str
    operator: str  # one of CONDITION_OPERATORS
    value: float


@dataclass(frozen=True)
class RateBand:
    """A rate that applies to part of a component's pupils: a school level ("High") or a
    range of grades ("6"-"12"). A banded component's amount adds rate x pupils per band."""

    label: str
    rate: float
    level: str = ""  # one of LEVELS: the band applies to schools of this level
    first_grade: str = ""  # or: the band counts pupils in these grades
    last_grade: str = ""

    @property
    def grades(self) -> tuple[str, ...]:
        """The grades a grade band counts (empty for a level band)."""
        if not self.first_grade:
            return ()
        return GRADES[grade_index(self.first_grade) : grade_index(self.last_grade) + 1]


@dataclass(frozen=True)
class GradeSpan:
    """A named range of grades with its base weight (LCFF: TK-3, 4-6, 7-8, 9-12)."""

    name: str
    first_grade: str
    last_grade: str
    weight: float

    @property
    def grades(self) -> tuple[str, ...]:
        """The grades inside the span."""
        return GRADES[grade_index(self.first_grade) : grade_index(self.last_grade) + 1]


@dataclass(frozen=True)
class Fund:
    """A source of money; restricted funds may buy only allowed objects and services."""

    code: str
    name: str
    restricted: bool
    resource: str = ""  # SACS resource code
    allowed_objects: str = ""  # e.g. "1000-3999,4300,5800"; blank = any
    allowed_services: str = ""  # department names or service codes; blank = any

    def may_pay_object(self, object_code: str) -> bool:
        """Whether this fund may pay for an object code (unrestricted funds pay for any)."""
        rule = self.allowed_objects.strip()
        if not self.restricted or not rule:
            return True
        try:
            code = int(object_code)
        except ValueError:
            return False
        for part in rule.split(","):
            part = part.strip()
            try:
                if "-" in part:
                    low, high = part.split("-", 1)
                    if int(low) <= code <= int(high):
                        return True
                elif part and int(part) == code:
                    return True
            except ValueError:
                continue
        return False

    def may_buy_service(self, department: str, code: str) -> bool:
        """Whether this fund may buy a central-office service (by department or code)."""
        rule = self.allowed_services.strip()
        if not self.restricted or not rule:
            return True
        allowed = {p.strip().casefold() for p in rule.split(",")}
        if "none" in allowed:
            return False
        return department.casefold() in allowed or code.casefold() in allowed


@dataclass(frozen=True)
class Component:
    """One line of the funding formula: a Policy row and an Allocations column."""

    code: str
    name: str
    kind: str  # one of COMPONENT_KINDS
    fund: str
    basis: tuple[str, ...] = ()  # count fields or "span:<name>"; summed when duplicated
    counting: str = "duplicated"  # or "unduplicated": min(unduplicated, sum of basis)
    rate_unit: str = "dollars"  # or "weight": rate x base rate
    rate: float = 0.0
    threshold: float = 0.0  # share of enrollment (concentration; default for categorical/floor)
    minimum: float = 0.0  # floor amount (floor)
    cap: float = 0.0  # maximum amount (small_school); 0 = no cap
    pool: float = 0.0  # dollars shared (pool)
    by_level: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # in LEVELS order
    note: str = ""
    enrollment: str = "enrollment"  # the count shares, thresholds and minimums are measured on
    conditions: tuple[Condition, ...] = ()  # eligibility tests (see Condition)
    eligible: str = "all"  # conditions combine: "all" must hold, or "any" one
    bands: tuple[RateBand, ...] = ()  # rates by level or grades instead of one rate
    round_digits: int = 2  # each school's amount rounded to the cent (2) or whole dollar (0)
    in_budget: bool = True  # unrestricted amounts count against the budget the base solves to


@dataclass(frozen=True)
class JobClass:
    """A position a school can buy, charged at the district average cost."""

    code: str
    title: str
    object_code: str
    average_salary: float
    benefits_rate: float

    @property
    def average_cost(self) -> float:
        """Salary plus benefits for 1.0 FTE."""
        return self.average_salary * (1 + self.benefits_rate)


@dataclass(frozen=True)
class Service:
    """A central-office service on the menu schools buy from."""

    code: str
    department: str
    name: str
    unit: str
    unit_price: float
    object_code: str = "5710"


@dataclass(frozen=True)
class ObjectCode:
    """A SACS object code schools may plan against."""

    code: str
    name: str
    group: str  # Salaries, Benefits, Supplies, Services, Capital


@dataclass(frozen=True)
class Goal:
    """A district (LCAP) goal plans are aligned to."""

    code: str
    name: str


@dataclass(frozen=True)
class Indicator:
    """A measure a school goal's baseline and target are stated in (California School
    Dashboard style: chronic absenteeism, suspension rate, ... or the district's own)."""

    code: str
    name: str
    direction: str = "up"  # "up": higher is better; "down": lower is better
    unit: str = "%"  # shown beside the numbers: "%", "points", ...


@dataclass(frozen=True)
class Policy:
    """Everything the formula and the plan menus need besides the roster."""

    spans: tuple[GradeSpan, ...]
    funds: tuple[Fund, ...]
    components: tuple[Component, ...]
    job_classes: tuple[JobClass, ...] = ()
    services: tuple[Service, ...] = ()
    objects: tuple[ObjectCode, ...] = ()
    goals: tuple[Goal, ...] = ()
    fte_step: float = 0.1
    roster_columns: tuple[RosterColumn, ...] = ()
    #: The district's own indicators ([[indicator]]), besides the Dashboard's (see
    #: ssfr_xl.indicators.indicator_list); one with a Dashboard code replaces it.
    indicators: tuple[Indicator, ...] = ()

    def roster_column(self, key: str) -> RosterColumn | None:
        """The declared roster column with this key, if any."""
        return next((c for c in self.roster_columns if c.key == key), None)

    def count_fields(self) -> tuple[str, ...]:
        """Every count a component may use: the built-in ones and the declared columns."""
        return COUNT_FIELDS + tuple(c.key for c in self.roster_columns)

    def fund(self, code: str) -> Fund:
        """The fund with this code."""
        for f in self.funds:
            if f.code == code:
                return f
        raise KeyError(code)


@dataclass(frozen=True)
class Adjustment:
    """A named dollar line for one school, typed on the Adjustments sheet: a hold-harmless
    or baseline-staffing supplement, a state adjustment, "other". Positive or negative."""

    school_id: str
    component: str  # code of an "adjustment" component (which gives the fund)
    amount: float
    reason: str


@dataclass(frozen=True)
class DistrictInputs:
    """All inputs of the formula: what the district workbook holds."""

    district: District
    policy: Policy
    schools: tuple[School, ...]
    adjustments: tuple[Adjustment, ...] = ()
    #: Rows of the Adjustments sheet of the workbook these inputs were read from (0: a new
    #: workbook gets its lines plus room to type more). Not an input of the formula.
    adjustment_rows: int = field(default=0, compare=False)


Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Finding:
    """A problem with a file, addressed to the person who can fix it."""

    file: str
    school_id: str
    sheet: str
    cell: str
    severity: str  # "error" | "warning"
    code: str  # stable kebab-case
    message: str

    def as_dict(self) -> dict[str, str]:
        """The finding as a flat mapping (JSON, CSV)."""
        return {
            "file": self.file,
            "school_id": self.school_id,
            "sheet": self.sheet,
            "cell": self.cell,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
        }


@dataclass
class Allocation:
    """The engine's result: a tidy table plus the figures that explain it."""

    table: object  # pandas DataFrame: school_id, school_name, component, fund, amount
    base_rate: float
    budget: float
    unrestricted_total: float
    rounding_difference: float
    notes: list[str] = field(default_factory=list)
