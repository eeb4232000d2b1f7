"""Load and check a funding policy (templates/policy.toml format)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .cells import unwritable_character
from .errors import FileError, PolicyError
from .model import (
    COMPONENT_KINDS,
    CONDITION_OPERATORS,
    COUNT_FIELDS,
    ELIGIBLE_MODES,
    GRADES,
    LEVELS,
    LINEAR_KINDS,
    TRANSITION_MODES,
    Component,
    Condition,
    District,
    Fund,
    Goal,
    GradeSpan,
    Indicator,
    JobClass,
    ObjectCode,
    Policy,
    RateBand,
    RosterColumn,
    School,
    Service,
    grade_index,
)
from .money import excel_round

CODE_PATTERN = re.compile(r"^[A-Z][A-Z0-9_-]{0,15}$")
#: Roster column keys: lowercase identifiers (they are CSV headers and workbook labels).
COLUMN_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
#: Rounding of each school's amount: to the cent or to the whole dollar.
ROUNDINGS = {"cent": 2, "dollar": 0}
#: Fund codes may be SACS resource numbers ("3010"): letters or digits, - and _.
FUND_CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,15}$")


@dataclass(frozen=True)
class PolicyFile:
    """A policy as read from TOML: district settings plus the Policy."""

    settings: Mapping[str, Any]
    policy: Policy

    def district(self, name: str, cds_code: str, schools: Iterable[School]) -> District:
        """The District for a roster, with the budget resolved (per pupil x enrollment)."""
        s = self.settings
        if "budget" in s:
            budget = float(s["budget"])
        elif "budget_per_pupil" not in s:
            budget = 0.0  # a fixed base rate needs no budget
        else:
            enrollment = sum(school.enrollment for school in schools)
            budget = excel_round(float(s.get("budget_per_pupil", 0)) * enrollment, 0)
        return District(
            name=name or s.get("name", ""),
            cds_code=cds_code,
            fiscal_year=str(s.get("fiscal_year", "")),
            budget=budget,
            base_rate_mode=s.get("base_rate_mode", "solve"),
            base_rate=float(s.get("base_rate", 0)),
            transition_max_loss=float(s.get("transition_max_loss", 0)),
            transition_mode=str(s.get("transition_mode", "scale_gains")),
            transition_reserve=float(s.get("transition_reserve", 0)),
            transition_gain_cap=float(s.get("transition_gain_cap", 0)),
            plan_deadline=str(s.get("plan_deadline", "")),
            contact=str(s.get("contact", "")),
            unspent_warning=float(s.get("unspent_warning", 0.05)),
            per_pupil_enrollment=str(s.get("per_pupil_enrollment", "enrollment")),
        )


def template_path(name: str) -> Path:
    """Path of a file shipped in templates/ (package data when installed, the repo otherwise)."""
    packaged = resources.files("ssfr_xl").joinpath("templates").joinpath(name)
    if packaged.is_file():
        return Path(str(packaged))
    repo = Path(__file__).resolve().parent.parent / "templates" / name
    if repo.is_file():
        return repo
    raise FileError(f"The template {name} is missing from this installation of ssfr-xl.")


def load_policy(path: str | Path | None = None) -> PolicyFile:
    """Read a policy TOML file (the shipped default when path is None) and check it."""
    source = Path(path) if path else template_path("policy.toml")
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise FileError(f"Policy file not found: {source}") from e
    except tomllib.TOMLDecodeError as e:
        raise PolicyError(f"{source.name}: not valid TOML ({e}).") from e
    except (OSError, UnicodeDecodeError) as e:
        raise FileError(f"Cannot read the policy file {source}: {e}") from e
    return parse_policy(data, source.name)


def _rows(data: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    rows = data.get(key, [])
    if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
        raise PolicyError(f"{where}: [[{key}]] must be a list of tables.")
    return rows


def _num(row: Mapping[str, Any], key: str, where: str, default: float = 0.0) -> float:
    value = row.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyError(f"{where}: '{key}' must be a number, not {value!r}.")
    return float(value)


def _text(row: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = row.get(key, default)
    if value is None:
        raise PolicyError(f"{where}: '{key}' is missing.")
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise PolicyError(f"{where}: '{key}' must be text, not {value!r}.")
    bad = unwritable_character(str(value))
    if bad:
        raise PolicyError(f"{where}: '{key}' holds the character {bad}, which a workbook "
                          "cannot hold; delete it (it often comes from text pasted from a PDF).")
    return str(value)


def _entries(data: Mapping[str, Any], key: str, where: str, build, problems: list[str]) -> tuple:
    """Build one object per [[key]] table, turning each malformed entry into a problem."""
    try:
        rows = _rows(data, key, where)
    except PolicyError as e:
        problems.append(str(e))
        return ()
    built = []
    for i, row in enumerate(rows, start=1):
        at = f"{where} [[{key}]] #{i}" + (f" ({row['code']})" if "code" in row else "")
        try:
            built.append(build(row, at))
        except PolicyError as e:
            problems.append(str(e))
    return tuple(built)


def _span(r: Mapping[str, Any], at: str) -> GradeSpan:
    return GradeSpan(_text(r, "name", at), _text(r, "first_grade", at),
                     _text(r, "last_grade", at), _num(r, "weight", at, 1.0))


def _fund(r: Mapping[str, Any], at: str) -> Fund:
    code = _text(r, "code", at)
    restricted = r.get("restricted", False)
    if not isinstance(restricted, bool):
        raise PolicyError(f"{at}: 'restricted' must be true or false.")
    return Fund(code, _text(r, "name", at, code), restricted, _text(r, "resource", at, ""),
                _text(r, "allowed_objects", at, ""), _text(r, "allowed_services", at, ""))


def _component(r: Mapping[str, Any], at: str) -> Component:
    basis = r.get("basis", [])
    if isinstance(basis, str):
        basis = [basis]
    if not isinstance(basis, list) or not all(isinstance(b, str) for b in basis):
        raise PolicyError(f"{at}: basis must be a list of count column names.")
    by_level = r.get("by_level", [0] * len(LEVELS))
    if (not isinstance(by_level, list) or len(by_level) != len(LEVELS)
            or not all(isinstance(v, int | float) and not isinstance(v, bool)
                       for v in by_level)):
        raise PolicyError(f"{at}: by_level needs {len(LEVELS)} numbers "
                          f"({', '.join(LEVELS)}).")
    code = _text(r, "code", at)
    rounding = _text(r, "round_to", at, "cent")
    if rounding not in ROUNDINGS:
        raise PolicyError(f"{at}: round_to must be 'cent' or 'dollar', not {rounding!r}.")
    in_budget = r.get("in_budget", True)
    if not isinstance(in_budget, bool):
        raise PolicyError(f"{at}: in_budget must be true or false.")
    return Component(
        code=code, name=_text(r, "name", at, code), kind=_text(r, "kind", at),
        fund=_text(r, "fund", at), basis=tuple(basis),
        counting=_text(r, "counting", at, "duplicated"),
        rate_unit=_text(r, "rate_unit", at, "dollars"),
        rate=_num(r, "rate", at), threshold=_num(r, "threshold", at),
        minimum=_num(r, "minimum", at), cap=_num(r, "cap", at), pool=_num(r, "pool", at),
        by_level=tuple(float(v) for v in by_level),  # type: ignore[arg-type]
        note=_text(r, "note", at, ""),
        enrollment=_text(r, "enrollment", at, "enrollment"),
        conditions=tuple(_condition(c, f"{at} condition #{i}")
                         for i, c in enumerate(_sub_tables(r, "condition", at), start=1)),
        eligible=_text(r, "eligible", at, "all"),
        bands=tuple(_band(b, f"{at} band #{i}")
                    for i, b in enumerate(_sub_tables(r, "band", at), start=1)),
        round_digits=ROUNDINGS[rounding],
        in_budget=in_budget,
    )


def _sub_tables(r: Mapping[str, Any], key: str, at: str) -> list[Mapping[str, Any]]:
    rows = r.get(key, [])
    if not isinstance(rows, list) or not all(isinstance(x, Mapping) for x in rows):
        raise PolicyError(f"{at}: [[component.{key}]] must be a list of tables.")
    return rows


def _condition(r: Mapping[str, Any], at: str) -> Condition:
    return Condition(_text(r, "measure", at), _text(r, "operator", at, ">"),
                     _num(r, "value", at))


def _band(r: Mapping[str, Any], at: str) -> RateBand:
    level = _text(r, "level", at, "")
    first, last = _text(r, "first_grade", at, ""), _text(r, "last_grade", at, "")
    label = _text(r, "label", at, level or (f"{first}-{last}" if first else ""))
    return RateBand(label, _num(r, "rate", at), level, first, last)


def _roster_column(r: Mapping[str, Any], at: str) -> RosterColumn:
    key = _text(r, "key", at)
    flags = {}
    for name in ("fractional", "instances"):
        value = r.get(name, False)
        if not isinstance(value, bool):
            raise PolicyError(f"{at}: '{name}' must be true or false.")
        flags[name] = value
    return RosterColumn(key, _text(r, "header", at, key.replace("_", " ").capitalize()),
                        _text(r, "kind", at, "count"), flags["fractional"],
                        flags["instances"], _text(r, "help", at, ""))


def _job_class(r: Mapping[str, Any], at: str) -> JobClass:
    code = _text(r, "code", at)
    return JobClass(code, _text(r, "title", at, code), _text(r, "object_code", at, ""),
                    _num(r, "average_salary", at), _num(r, "benefits_rate", at))


def _service(r: Mapping[str, Any], at: str) -> Service:
    code = _text(r, "code", at)
    return Service(code, _text(r, "department", at, ""), _text(r, "name", at, code),
                   _text(r, "unit", at, ""), _num(r, "unit_price", at),
                   _text(r, "object_code", at, "5710"))


def _object(r: Mapping[str, Any], at: str) -> ObjectCode:
    return ObjectCode(_text(r, "code", at), _text(r, "name", at, ""), _text(r, "group", at))


def _goal(r: Mapping[str, Any], at: str) -> Goal:
    return Goal(_text(r, "code", at), _text(r, "name", at, ""))


def _indicator(r: Mapping[str, Any], at: str) -> Indicator:
    from .indicators import DIRECTIONS

    direction = _text(r, "direction", at, "up").strip().lower()
    if direction not in DIRECTIONS:
        raise PolicyError(f"{at}: direction must be \"up\" (higher is better) or \"down\" "
                          f"(lower is better), not {r.get('direction')!r}.")
    return Indicator(_text(r, "code", at), _text(r, "name", at, ""), direction,
                     _text(r, "unit", at, "%"))


def _indicators(own: tuple[Indicator, ...]) -> tuple[Indicator, ...]:
    # in the order the district workbook lists them (Dashboard codes first), so a policy
    # read back from the workbook is the same policy
    from .indicators import DASHBOARD_INDICATORS, district_indicators

    order = {i.code: k for k, i in enumerate(DASHBOARD_INDICATORS)}
    return district_indicators(tuple(sorted(own, key=lambda i: order.get(i.code,
                                                                          len(order)))))


NUMERIC_SETTINGS = ("budget", "budget_per_pupil", "base_rate", "transition_max_loss",
                    "transition_reserve", "transition_gain_cap", "fte_step", "unspent_warning")


def parse_policy(data: Mapping[str, Any], where: str = "policy") -> PolicyFile:
    """Build a checked PolicyFile from parsed TOML data; every problem is listed at once."""
    problems: list[str] = []
    district = data.get("district", {})
    if not isinstance(district, Mapping):
        problems.append(f"{where}: [district] must be a table of settings.")
        district = {}
    settings = dict(district)
    for key, value in list(settings.items()):
        bad = unwritable_character(value) if isinstance(value, str) else None
        if bad:
            problems.append(f"{where}: [district] {key} holds the character {bad}, which a "
                            "workbook cannot hold; delete it.")
            settings.pop(key)
    for key in NUMERIC_SETTINGS:
        value = settings.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            problems.append(f"{where}: [district] {key} must be a number, not {value!r}.")
            settings.pop(key)
    roster_columns = _entries(data, "roster_column", where, _roster_column, problems)
    spans = _entries(data, "grade_span", where, _span, problems)
    funds = _entries(data, "fund", where, _fund, problems)
    components = list(_entries(data, "component", where, _component, problems))
    # Transition protection is computed on the other components' total, so it comes last
    # (the workbook's formulas rely on that order to stay free of circular references).
    components.sort(key=lambda c: c.kind == "transition")
    policy = Policy(
        spans=spans,
        funds=funds,
        components=tuple(components),
        job_classes=_entries(data, "job_class", where, _job_class, problems),
        services=_entries(data, "service", where, _service, problems),
        objects=_entries(data, "object", where, _object, problems),
        goals=_entries(data, "goal", where, _goal, problems),
        fte_step=float(settings.get("fte_step", 0.1)),
        roster_columns=roster_columns,
        indicators=_indicators(_entries(data, "indicator", where, _indicator, problems)),
    )
    if not problems:
        problems += check_policy(policy, settings, where)
    if problems:
        raise PolicyError("The policy has problems:\n  - " + "\n  - ".join(problems))
    return PolicyFile(settings=settings, policy=policy)


def check_policy(policy: Policy, settings: Mapping[str, Any], where: str) -> list[str]:
    """Problems that would make the formula meaningless, each saying what to change."""
    problems: list[str] = []
    mode = settings.get("base_rate_mode", "solve")
    if mode not in ("solve", "fixed"):
        problems.append(f"{where}: base_rate_mode must be 'solve' or 'fixed', not {mode!r}.")
    if mode != "fixed" and "budget" not in settings and "budget_per_pupil" not in settings:
        problems.append(f"{where}: [district] needs 'budget' or 'budget_per_pupil' to solve "
                        "the base rate for (or set base_rate_mode = \"fixed\" and base_rate).")
    tmode = settings.get("transition_mode", "scale_gains")
    if tmode not in TRANSITION_MODES:
        problems.append(f"{where}: transition_mode must be one of {', '.join(TRANSITION_MODES)}, "
                        f"not {tmode!r}.")
    cap = settings.get("transition_gain_cap", 0)
    if isinstance(cap, int | float) and cap < 0:
        problems.append(f"{where}: transition_gain_cap cannot be negative.")
    if isinstance(settings.get("transition_reserve", 0), int | float) and \
            settings.get("transition_reserve", 0) < 0:
        problems.append(f"{where}: transition_reserve cannot be negative.")
    problems += roster_column_problems(policy, where)
    per_pupil = settings.get("per_pupil_enrollment", "enrollment")
    if per_pupil not in policy.count_fields():
        problems.append(f"{where}: per_pupil_enrollment {per_pupil!r} is not a count column.")
    loss = settings.get("transition_max_loss", 0)
    if not isinstance(loss, int | float) or not 0 <= loss <= 1:
        problems.append(f"{where}: transition_max_loss must be a share from 0 (hold harmless) "
                        "to 1 (no protection).")
    if not policy.spans:
        problems.append(f"{where}: at least one [[grade_span]] is needed.")
    covered: list[str] = []
    for span in policy.spans:
        try:
            covered += span.grades
        except ValueError:
            problems.append(f"{where}: grade span {span.name} has an unknown grade.")
    if sorted(covered, key=GRADES.index) != list(GRADES) or len(covered) != len(set(covered)):
        problems.append(
            f"{where}: grade spans must cover TK..12 exactly once (they cover {covered})."
        )
    fund_codes = [f.code for f in policy.funds]
    if len(set(fund_codes)) != len(fund_codes):
        problems.append(f"{where}: fund codes must be unique.")
    for f in policy.funds:
        if not FUND_CODE_PATTERN.match(f.code):
            problems.append(f"{where}: fund code {f.code!r} must be letters, digits, spaces, "
                            "- or _ (at most 16): it names workbook cells.")
    fund_names: dict[str, list[str]] = {}
    for f in policy.funds:
        fund_names.setdefault(f.code.replace("-", "_").replace(" ", "_"), []).append(f.code)
    for clash in fund_names.values():
        if len(set(clash)) > 1:
            problems.append(f"{where}: fund codes {' and '.join(clash)} name the same "
                            "workbook cells (-, _ and space are the same there); rename one.")
    if not any(not f.restricted for f in policy.funds):
        problems.append(f"{where}: at least one unrestricted fund is needed for the budget.")
    for span in policy.spans:
        if span.weight < 0:
            problems.append(f"{where}: grade span {span.name} has a negative weight.")
    span_names = {s.name for s in policy.spans}
    by_name: dict[str, list[str]] = {}
    for c in policy.components:
        by_name.setdefault(c.code.replace("-", "_"), []).append(c.code)
    for clash in by_name.values():
        if len(set(clash)) > 1:
            problems.append(f"{where}: component codes {' and '.join(clash)} name the same "
                            "workbook cells (- and _ are the same there); rename one.")
    codes = [c.code for c in policy.components]
    if len(set(codes)) != len(codes):
        problems.append(f"{where}: component codes must be unique.")
    count_fields = policy.count_fields()
    kinds = [c.kind for c in policy.components]
    for single in ("base", "transition"):
        if kinds.count(single) > 1:
            problems.append(f"{where}: only one '{single}' component is allowed.")
    for c in policy.components:
        at = f"{where} component {c.code}"
        if not CODE_PATTERN.match(c.code):
            problems.append(f"{at}: code must be capital letters, digits, - or _ (max 16).")
        if c.kind not in COMPONENT_KINDS:
            problems.append(f"{at}: kind {c.kind!r} is not one of {', '.join(COMPONENT_KINDS)}.")
        if c.fund not in fund_codes:
            problems.append(f"{at}: fund {c.fund!r} is not a declared [[fund]].")
        if c.rate_unit not in ("dollars", "weight"):
            problems.append(f"{at}: rate_unit must be 'dollars' or 'weight'.")
        if c.counting not in ("duplicated", "unduplicated"):
            problems.append(f"{at}: counting must be 'duplicated' or 'unduplicated'.")
        if c.rate_unit == "weight" and c.kind not in LINEAR_KINDS - {"base"}:
            problems.append(f"{at}: only per_pupil, concentration and categorical rates can be "
                            "a weight of the base; give dollars.")
        needs_basis = c.kind in ("per_pupil", "concentration", "categorical", "pool", "floor")
        if needs_basis and not c.basis:
            problems.append(f"{at}: a {c.kind} component needs a basis (count columns).")
        for b in c.basis:
            if b.startswith("span:"):
                if b[5:] not in span_names:
                    problems.append(f"{at}: basis {b!r} names no grade span.")
            elif b not in count_fields:
                problems.append(f"{at}: basis {b!r} is not one of {', '.join(count_fields)} "
                                "(declare a district column with [[roster_column]]).")
        for name in ("rate", "threshold", "minimum", "cap", "pool"):
            if getattr(c, name) < 0:
                problems.append(f"{at}: {name} cannot be negative.")
        if any(v < 0 for v in c.by_level):
            problems.append(f"{at}: by_level values cannot be negative.")
        problems += _component_rule_problems(policy, c, at)
        if c.kind == "transition":
            fund = next((f for f in policy.funds if f.code == c.fund), None)
            if fund is not None and fund.restricted:
                problems.append(f"{at}: transition protection must be paid from an "
                                "unrestricted fund.")
    for jc in policy.job_classes:
        if jc.average_salary < 0 or not 0 <= jc.benefits_rate < 2:
            problems.append(f"{where} job class {jc.code}: salary and benefits rate look wrong.")
    for s in policy.services:
        if s.unit_price < 0:
            problems.append(f"{where} service {s.code}: unit price cannot be negative.")
    step = settings.get("fte_step", 0.1)
    if not isinstance(step, int | float) or not 0 < step <= 1:
        problems.append(f"{where}: fte_step must be a number above 0 and at most 1.")
    problems += list_code_problems(policy, where)
    return problems


def _component_rule_problems(policy: Policy, c: Component, at: str) -> list[str]:
    """Problems with a component's enrollment, conditions, bands and rounding."""
    problems = []
    counts = policy.count_fields()
    if c.enrollment not in counts:
        problems.append(f"{at}: enrollment {c.enrollment!r} is not a count column.")
    if c.eligible not in ELIGIBLE_MODES:
        problems.append(f"{at}: eligible must be 'all' or 'any', not {c.eligible!r}.")
    if c.conditions and c.kind in ("transition", "adjustment", "pool"):
        article = "an" if c.kind[0] in "aeiou" else "a"
        problems.append(f"{at}: {article} {c.kind} component cannot have eligibility "
                        "conditions.")
    for k, cond in enumerate(c.conditions, start=1):
        where_ = f"{at} condition #{k}"
        if cond.operator not in CONDITION_OPERATORS:
            problems.append(f"{where_}: operator must be one of "
                            f"{' '.join(CONDITION_OPERATORS)}, not {cond.operator!r}.")
        problem = measure_problem(policy, cond.measure)
        if problem:
            problems.append(f"{where_}: {problem}")
    if c.bands:
        if c.kind != "per_pupil":
            problems.append(f"{at}: rates by level or grades (bands) are for per_pupil "
                            "components.")
        kinds = {"level" if b.level else "grades" for b in c.bands}
        if len(kinds) > 1:
            problems.append(f"{at}: bands are either all by level or all by grades.")
        for k, b in enumerate(c.bands, start=1):
            where_ = f"{at} band #{k}"
            if b.rate < 0:
                problems.append(f"{where_}: rate cannot be negative.")
            if b.level and b.level not in LEVELS:
                problems.append(f"{where_}: level {b.level!r} is not one of {', '.join(LEVELS)}.")
            elif not b.level:
                try:
                    if grade_index(b.first_grade) > grade_index(b.last_grade):
                        problems.append(f"{where_}: first_grade comes after last_grade.")
                except ValueError:
                    problems.append(f"{where_}: give a level, or first_grade and last_grade "
                                    "(TK, K, 1..12).")
        if "grades" in kinds and list(c.basis) not in ([], ["enrollment"]):
            problems.append(f"{at}: bands by grades count enrolled pupils; the basis must be "
                            "enrollment.")
        if "level" in kinds and len({b.level for b in c.bands}) != len(c.bands):
            problems.append(f"{at}: each level may have one band.")
        if any(b.level and b.first_grade for b in c.bands):
            problems.append(f"{at}: a band is by level or by grades, not both.")
        if "grades" in kinds:
            try:
                spans = sorted((grade_index(b.first_grade), grade_index(b.last_grade), b.label)
                               for b in c.bands)
            except ValueError:
                spans = []
            for (_, last, one), (first, _, two) in zip(spans, spans[1:], strict=False):
                if first <= last:
                    problems.append(f"{at}: bands {one} and {two} share grades, which would "
                                    "be paid twice; make them meet without overlapping.")
    if c.round_digits not in (0, 2):
        problems.append(f"{at}: round_to must be cent or dollar.")
    return problems


def measure_problem(policy: Policy, measure: str) -> str:
    """Why a condition's measure is not one ssfr-xl can compute ("" when it is fine)."""
    counts = policy.count_fields()
    kind, _, arg = measure.partition(":")
    if not arg:
        return "" if measure in counts else (
            f"measure {measure!r} is not a count column ({', '.join(counts)}).")
    if kind == "share":
        return "" if arg in counts else f"share:{arg} names no count column."
    if kind == "flag":
        col = policy.roster_column(arg)
        return "" if col is not None and col.is_flag else (
            f"flag:{arg} names no yes/no [[roster_column]] (kind = \"flag\").")
    if kind == "level":
        return "" if arg in LEVELS else f"level:{arg} is not one of {', '.join(LEVELS)}."
    if kind == "grades":
        first, _, last = arg.partition("-")
        try:
            if grade_index(first) > grade_index(last):
                return f"grades:{arg}: the first grade comes after the last."
        except ValueError:
            return f"grades:{arg} must be <first>-<last>, e.g. grades:9-12."
        return ""
    return (f"measure {measure!r}: use a count column, share:<column>, flag:<column>, "
            "grades:<first>-<last> or level:<Level>.")


def roster_column_problems(policy: Policy, where: str) -> list[str]:
    """Declared roster columns must have distinct, valid keys that clash with nothing."""
    problems = []
    reserved = set(COUNT_FIELDS) | {"school_id", "school_name", "level", "low_grade",
                                    "high_grade", "cds_code", "prior_year_allocation",
                                    "grades_estimated", *GRADES}
    seen: set[str] = set()
    for col in policy.roster_columns:
        at = f"{where} [[roster_column]] {col.key}"
        if not COLUMN_KEY_PATTERN.match(col.key):
            problems.append(f"{at}: key must be lowercase letters, digits or _ (at most 32), "
                            "starting with a letter.")
        if col.key in reserved:
            problems.append(f"{at}: {col.key} is a built-in roster column; choose another key.")
        if col.key in seen:
            problems.append(f"{at}: declared twice.")
        seen.add(col.key)
        if col.kind not in ("count", "enrollment", "flag"):
            problems.append(f"{at}: kind must be 'count', 'enrollment' or 'flag', not "
                            f"{col.kind!r}.")
        if col.is_flag and (col.fractional or col.instances):
            problems.append(f"{at}: a flag is Yes or No; fractional and instances are for counts.")
    return problems


#: Characters a list code may not hold: spreadsheet MATCH reads them as wildcards.
_WILDCARDS = set("*?~")


def list_code_problems(policy: Policy, where: str) -> list[str]:
    """Codes principals type or choose in plans must be findable exactly and only one way:
    unique regardless of case, no spaces at either end, no invisible characters, and no
    wildcard characters (* ? ~), which spreadsheet lookups treat as patterns."""
    from .indicators import indicator_code_problems, indicator_list

    problems = []
    lists = (("fund", [f.code for f in policy.funds]),
             ("job class", [j.code for j in policy.job_classes]),
             ("service", [s.code for s in policy.services]),
             ("object", [o.code for o in policy.objects]),
             ("goal", [g.code for g in policy.goals]),
             ("indicator", [i.code for i in indicator_list(policy)]))
    for what, codes in lists:
        seen: dict[str, str] = {}
        for code in codes:
            if not code or code != code.strip() or any(
                    not ch.isprintable() or ch in _WILDCARDS for ch in code):
                problems.append(f"{where}: {what} code {code!r} must not be empty, start or end "
                                "with a space, or hold * ? ~ or invisible characters.")
            key = code.casefold()
            if key in seen and seen[key] != code:
                problems.append(f"{where}: {what} codes {seen[key]!r} and {code!r} differ only "
                                "in case; school plans could not tell them apart. Rename one.")
            elif key in seen:
                problems.append(f"{where}: {what} code {code!r} is listed twice.")
            seen.setdefault(key, code)
    return problems + indicator_code_problems(policy, where)
