"""Load and check a funding policy (templates/policy.toml format)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import FileError, PolicyError
from .model import (
    COMPONENT_KINDS,
    COUNT_FIELDS,
    GRADES,
    LEVELS,
    LINEAR_KINDS,
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
from .money import excel_round

CODE_PATTERN = re.compile(r"^[A-Z][A-Z0-9_-]{0,15}$")


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
            plan_deadline=str(s.get("plan_deadline", "")),
            contact=str(s.get("contact", "")),
            unspent_warning=float(s.get("unspent_warning", 0.05)),
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


def parse_policy(data: Mapping[str, Any], where: str = "policy") -> PolicyFile:
    """Build a checked PolicyFile from parsed TOML data."""
    settings = dict(data.get("district", {}))
    problems: list[str] = []

    spans = tuple(
        GradeSpan(
            name=str(r["name"]),
            first_grade=str(r["first_grade"]),
            last_grade=str(r["last_grade"]),
            weight=_num(r, "weight", f"{where} grade span {r.get('name')}", 1.0),
        )
        for r in _rows(data, "grade_span", where)
    )
    funds = tuple(
        Fund(
            code=str(r["code"]),
            name=str(r.get("name", r["code"])),
            restricted=bool(r.get("restricted", False)),
            resource=str(r.get("resource", "")),
            allowed_objects=str(r.get("allowed_objects", "")),
            allowed_services=str(r.get("allowed_services", "")),
        )
        for r in _rows(data, "fund", where)
    )
    components = []
    for r in _rows(data, "component", where):
        at = f"{where} component {r.get('code', '?')}"
        basis = r.get("basis", [])
        if isinstance(basis, str):
            basis = [basis]
        by_level = r.get("by_level", [0, 0, 0, 0])
        if not isinstance(by_level, list) or len(by_level) != len(LEVELS):
            problems.append(f"{at}: by_level needs {len(LEVELS)} numbers ({', '.join(LEVELS)}).")
            by_level = [0] * len(LEVELS)
        components.append(
            Component(
                code=str(r.get("code", "")),
                name=str(r.get("name", r.get("code", ""))),
                kind=str(r.get("kind", "")),
                fund=str(r.get("fund", "")),
                basis=tuple(str(b) for b in basis),
                counting=str(r.get("counting", "duplicated")),
                rate_unit=str(r.get("rate_unit", "dollars")),
                rate=_num(r, "rate", at),
                threshold=_num(r, "threshold", at),
                minimum=_num(r, "minimum", at),
                cap=_num(r, "cap", at),
                pool=_num(r, "pool", at),
                by_level=tuple(float(v) for v in by_level),  # type: ignore[arg-type]
                note=str(r.get("note", "")),
            )
        )
    # Transition protection is computed on the other components' total, so it comes last
    # (the workbook's formulas rely on that order to stay free of circular references).
    components.sort(key=lambda c: c.kind == "transition")
    policy = Policy(
        spans=spans,
        funds=funds,
        components=tuple(components),
        job_classes=tuple(
            JobClass(
                code=str(r["code"]),
                title=str(r.get("title", r["code"])),
                object_code=str(r.get("object_code", "")),
                average_salary=_num(r, "average_salary", f"{where} job class {r['code']}"),
                benefits_rate=_num(r, "benefits_rate", f"{where} job class {r['code']}"),
            )
            for r in _rows(data, "job_class", where)
        ),
        services=tuple(
            Service(
                code=str(r["code"]),
                department=str(r.get("department", "")),
                name=str(r.get("name", r["code"])),
                unit=str(r.get("unit", "")),
                unit_price=_num(r, "unit_price", f"{where} service {r['code']}"),
                object_code=str(r.get("object_code", "5710")),
            )
            for r in _rows(data, "service", where)
        ),
        objects=tuple(
            ObjectCode(code=str(r["code"]), name=str(r.get("name", "")), group=str(r["group"]))
            for r in _rows(data, "object", where)
        ),
        goals=tuple(
            Goal(code=str(r["code"]), name=str(r.get("name", "")))
            for r in _rows(data, "goal", where)
        ),
        fte_step=float(settings.get("fte_step", 0.1)),
    )
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
    if "budget" not in settings and "budget_per_pupil" not in settings:
        problems.append(f"{where}: [district] needs 'budget' or 'budget_per_pupil'.")
    loss = settings.get("transition_max_loss", 0)
    if not isinstance(loss, int | float) or not 0 <= loss <= 1:
        problems.append(f"{where}: transition_max_loss must be a share from 0 (hold harmless) to 1 (no protection).")
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
    if not any(not f.restricted for f in policy.funds):
        problems.append(f"{where}: at least one unrestricted fund is needed for the budget.")
    span_names = {s.name for s in policy.spans}
    codes = [c.code for c in policy.components]
    if len(set(codes)) != len(codes):
        problems.append(f"{where}: component codes must be unique.")
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
            elif b not in COUNT_FIELDS:
                problems.append(f"{at}: basis {b!r} is not one of {', '.join(COUNT_FIELDS)}.")
        for name in ("rate", "threshold", "minimum", "cap", "pool"):
            if getattr(c, name) < 0:
                problems.append(f"{at}: {name} cannot be negative.")
        if any(v < 0 for v in c.by_level):
            problems.append(f"{at}: by_level values cannot be negative.")
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
    return problems
