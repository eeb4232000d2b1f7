"""A small consolidated season for the publish tests: the sample district (8 schools), a plan
returned by all but one school, consolidated with a ledger and into a totals workbook.

One school's strategy texts are hostile (markup and script) and one holds a word no other
plan uses (SEARCH_WORD), so the library's search can be tested by it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ssfr_xl.report import consolidate_folder
from ssfr_xl.school_book import build_school_plan, file_name, plan_specs
from ssfr_xl.season import create_district
from ssfr_xl.sources.demo import demo_plan, fill_plan_workbook
from ssfr_xl.validate import district_record

SEARCH_WORD = "Zumbelwick"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"'
SCHOOLS = 8


@dataclass
class PublishSeason:
    """Where the season's files are."""

    root: Path
    district: Path
    returned: Path
    ledger: Path
    totals: Path
    hostile_school: str
    search_school: str
    missing_school: str


def make_publish_season(root: Path) -> PublishSeason:
    """Build, fill, return and consolidate the plans of a small sample district."""
    root = Path(root)
    district = root / "district.xlsx"
    create_district(district, sample=SCHOOLS)
    record = district_record(district)
    specs = plan_specs(record.result)
    returned = root / "returned"
    returned.mkdir()
    hostile, search, missing = (specs[0].school.school_id, specs[1].school.school_id,
                                specs[-1].school.school_id)
    for i, spec in enumerate(specs[:-1]):
        plan = demo_plan(spec, seed=i)
        goals = dict(plan.goals)
        code = next(iter(goals))
        if i == 0:
            goals[code] = (HOSTILE, "Strategy " + HOSTILE, "Measure " + HOSTILE)
        elif i == 1:
            school_goal, strategy, measure = goals[code]
            goals[code] = (school_goal, f"{strategy}, with the {SEARCH_WORD} reading method",
                           measure)
        plan = replace(plan, goals=goals)
        wb = build_school_plan(spec)
        fill_plan_workbook(wb, spec.policy, plan)
        wb.save(returned / file_name(spec.school))
    out = root / "out"
    out.mkdir()
    ledger, totals = out / "season.sqlite", out / "totals.xlsx"
    consolidate_folder(district, returned, totals, None, ledger, workers=1)
    return PublishSeason(root, district, returned, ledger, totals, hostile, search, missing)


_BUILT: dict[str, PublishSeason] = {}


def shared_publish_season() -> PublishSeason:
    """One season per test process, built on first use in a temporary folder (removed at
    exit), for the test modules that only read it."""
    if "season" not in _BUILT:
        import atexit
        import shutil
        import tempfile

        root = Path(tempfile.mkdtemp(prefix="ssfr-xl-publish-season-"))
        atexit.register(shutil.rmtree, root, True)
        _BUILT["season"] = make_publish_season(root)
    return _BUILT["season"]
