"""ssfr-xl: need-based school funding (Strategic School Funding for Results) in Excel.

The library behind the `ssfr-xl` command: the allocation engine, the district formula
workbook, the school plan workbooks, and the checks and roll-ups of returned plans.
"""

__version__ = "0.1.0"

from .compare import Comparison, compare  # noqa: E402
from .consolidate import SeasonResult, consolidate  # noqa: E402
from .district_book import check_cached_values, read_district, write_district  # noqa: E402
from .errors import (  # noqa: E402
    FileError,
    InputError,
    OutputExistsError,
    PolicyError,
    RosterError,
    SsfrError,
    WorkbookError,
)
from .formula import AllocationResult, allocate  # noqa: E402
from .model import (  # noqa: E402
    Component,
    District,
    DistrictInputs,
    Finding,
    Fund,
    Goal,
    GradeSpan,
    JobClass,
    ObjectCode,
    Policy,
    School,
    Service,
)
from .money import excel_round  # noqa: E402
from .plan import PlanInputs, PlanTotals, plan_totals, read_plan_inputs  # noqa: E402
from .policy import load_policy, parse_policy  # noqa: E402
from .scenario import Scenario, load_scenario  # noqa: E402
from .school_book import build_school_plan, plan_specs, write_school_plan  # noqa: E402
from .validate import DistrictRecord, PlanCheck, check_plan, district_record  # noqa: E402

__all__ = [
    "AllocationResult",
    "Comparison",
    "Component",
    "District",
    "DistrictInputs",
    "DistrictRecord",
    "FileError",
    "Finding",
    "Fund",
    "Goal",
    "GradeSpan",
    "InputError",
    "JobClass",
    "ObjectCode",
    "OutputExistsError",
    "PlanCheck",
    "PlanInputs",
    "PlanTotals",
    "Policy",
    "PolicyError",
    "RosterError",
    "Scenario",
    "School",
    "SeasonResult",
    "Service",
    "SsfrError",
    "WorkbookError",
    "__version__",
    "allocate",
    "build_school_plan",
    "check_cached_values",
    "check_plan",
    "compare",
    "consolidate",
    "district_record",
    "excel_round",
    "load_policy",
    "load_scenario",
    "parse_policy",
    "plan_specs",
    "plan_totals",
    "read_district",
    "read_plan_inputs",
    "write_district",
    "write_school_plan",
]
