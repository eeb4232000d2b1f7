"""The district workbook's current policy and roster, written back as files `init` reads.

A budget officer edits weights, rates, thresholds and amounts in the district workbook. To add
a school or a component (which needs a new workbook), `ssfr-xl export` writes the edited policy
as TOML, the roster as CSV and the adjustments as CSV; `init` from them gives the same
allocations to the cent, and every edit carries forward.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import tomli_w

from .errors import FileError
from .model import Component, DistrictInputs

#: Settings of [district] written from the workbook, in the order policy.toml has them.
_HEADER = """\
# Exported by ssfr-xl from the district workbook {name}: the policy as the budget office left it.
# Run `ssfr-xl init --policy {policy} --roster {roster}` to rebuild the workbook with it (for
# example after adding a school to the roster or a component below).
"""


def policy_document(inputs: DistrictInputs) -> dict[str, Any]:
    """The policy as a TOML document (the same tables and keys as templates/policy.toml)."""
    d, p = inputs.district, inputs.policy
    district: dict[str, Any] = {
        "name": d.name, "cds_code": d.cds_code, "fiscal_year": d.fiscal_year,
        "budget": d.budget, "base_rate_mode": d.base_rate_mode, "base_rate": d.base_rate,
        "transition_max_loss": d.transition_max_loss, "transition_mode": d.transition_mode,
        "transition_gain_cap": d.transition_gain_cap,
        "transition_reserve": d.transition_reserve,
        "plan_deadline": d.plan_deadline, "contact": d.contact,
        "unspent_warning": d.unspent_warning, "fte_step": p.fte_step,
    }
    if d.per_pupil_enrollment != "enrollment":
        district["per_pupil_enrollment"] = d.per_pupil_enrollment
    doc: dict[str, Any] = {"district": district}
    if p.roster_columns:
        doc["roster_column"] = [
            _clean({"key": c.key, "header": c.header, "kind": c.kind,
                    "fractional": c.fractional or None, "instances": c.instances or None,
                    "help": c.help or None})
            for c in p.roster_columns]
    doc["grade_span"] = [{"name": s.name, "first_grade": s.first_grade,
                          "last_grade": s.last_grade, "weight": s.weight} for s in p.spans]
    doc["fund"] = [_clean({"code": f.code, "name": f.name, "restricted": f.restricted,
                           "resource": f.resource or None,
                           "allowed_objects": f.allowed_objects or None,
                           "allowed_services": f.allowed_services or None})
                   for f in p.funds]
    doc["component"] = [_component(c) for c in p.components]
    doc["job_class"] = [{"code": j.code, "title": j.title, "object_code": j.object_code,
                         "average_salary": j.average_salary, "benefits_rate": j.benefits_rate}
                        for j in p.job_classes]
    doc["service"] = [{"code": s.code, "department": s.department, "name": s.name,
                       "unit": s.unit, "unit_price": s.unit_price, "object_code": s.object_code}
                      for s in p.services]
    doc["object"] = [{"code": o.code, "name": o.name, "group": o.group} for o in p.objects]
    doc["goal"] = [{"code": g.code, "name": g.name} for g in p.goals]
    doc["indicator"] = [{"code": i.code, "name": i.name, "direction": i.direction,
                         "unit": i.unit} for i in p.indicators]
    return {k: v for k, v in doc.items() if v != []}


def _component(c: Component) -> dict[str, Any]:
    row: dict[str, Any] = {
        "code": c.code, "name": c.name, "kind": c.kind, "fund": c.fund,
        "basis": list(c.basis) or None,
        "counting": c.counting if c.counting != "duplicated" else None,
        "rate_unit": c.rate_unit if c.rate_unit != "dollars" else None,
        "rate": c.rate or None, "threshold": c.threshold or None,
        "minimum": c.minimum or None, "cap": c.cap or None, "pool": c.pool or None,
        "by_level": list(c.by_level) if any(c.by_level) else None,
        "enrollment": c.enrollment if c.enrollment != "enrollment" else None,
        "eligible": c.eligible if c.conditions and c.eligible != "all" else None,
        "round_to": "dollar" if c.round_digits == 0 else None,
        "in_budget": False if not c.in_budget else None,
        "note": c.note or None,
    }
    if c.conditions:
        row["condition"] = [{"measure": k.measure, "operator": k.operator, "value": k.value}
                            for k in c.conditions]
    if c.bands:
        row["band"] = [_clean({"label": b.label, "rate": b.rate, "level": b.level or None,
                               "first_grade": b.first_grade or None,
                               "last_grade": b.last_grade or None}) for b in c.bands]
    return _clean(row)


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if v is not None}


def write_policy_toml(inputs: DistrictInputs, path: str | os.PathLike[str], *,
                      source: str = "", roster: str = "roster.csv") -> None:
    """Write the policy as TOML that load_policy reads back to the same Policy."""
    path = Path(path)
    text = _HEADER.format(name=source or "(unnamed)", policy=path.name, roster=roster)
    try:
        path.write_text(text + "\n" + tomli_w.dumps(policy_document(inputs)), encoding="utf-8")
    except OSError as exc:
        raise FileError(f"Could not write {path}: {exc.strerror or exc}.") from exc


def export_district(workbook: str | os.PathLike[str], *, policy: Path | None = None,
                    roster: Path | None = None, adjustments: Path | None = None,
                    force: bool = False) -> list[str]:
    """Write the workbook's current policy, roster and adjustments; returns what was written.

    Reads the workbook's inputs (never its formula results), so what `init` builds from the
    files computes the same allocations as the workbook does now."""
    from .district_reader import read_district
    from .errors import OutputExistsError
    from .sources.adjustments import write_adjustments_csv
    from .sources.roster import write_roster_csv

    inputs = read_district(workbook)
    targets = [p for p in (policy, roster, adjustments) if p is not None]
    if not targets:
        raise FileError("Say what to export: --policy FILE.toml, --roster FILE.csv and/or "
                        "--adjustments FILE.csv.")
    for target in targets:
        if target.exists() and not force:
            raise OutputExistsError(f"{target} exists; pass --force to replace it.")
        if not target.parent.is_dir():
            raise FileError(f"The folder {target.parent} does not exist; create it first.")
    written = []
    if policy is not None:
        write_policy_toml(inputs, policy, source=Path(workbook).name,
                          roster=roster.name if roster else "roster.csv")
        written.append(f"Wrote {policy}: the policy ({len(inputs.policy.components)} "
                       "components) as the workbook has it")
    if roster is not None:
        write_roster_csv(inputs.schools, roster, inputs.policy.roster_columns)
        written.append(f"Wrote {roster}: {len(inputs.schools)} schools")
    if adjustments is not None:
        write_adjustments_csv(inputs.adjustments, adjustments)
        written.append(f"Wrote {adjustments}: {len(inputs.adjustments)} adjustment lines")
    return written
