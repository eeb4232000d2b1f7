"""The season ledger: every version recorded, the newest accepted plan counts, nothing lost.

Each test builds a small folder of returned plans for a few schools of the sample district,
runs `ssfr-xl consolidate --ledger` (one process per run, as the budget office would) and reads
the outputs and the ledger's SQLite tables directly.
"""

from __future__ import annotations

import csv
import hashlib
import sqlite3
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import pytest

from ssfr_xl.school_book import SchoolPlanSpec, file_name, plan_specs
from ssfr_xl.season import create_district
from ssfr_xl.sources.demo import DemoPlan
from ssfr_xl.validate import DistrictRecord, district_record
from tests.season import RECEIVED, assert_exit, plan_costs, ssfr, varied_plan, write_plan

DAY = 86400.0


@dataclass
class Setup:
    district: Path
    record: DistrictRecord
    specs: list[SchoolPlanSpec]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    root = tmp_path_factory.mktemp("ledger")
    district = root / "district.xlsx"
    create_district(district, sample=40)
    record = district_record(district)
    return Setup(district, record, plan_specs(record.result))


def planned(plan: DemoPlan, spec: SchoolPlanSpec) -> dict[str, Decimal]:
    """Planned dollars per fund, computed here from what was typed."""
    out = {f.code: Decimal(0) for f in spec.policy.funds}
    for fund, cost in plan_costs(plan, spec.policy):
        out[fund] += cost
    return out


def over_budget(plan: DemoPlan) -> DemoPlan:
    extra = [("TCH", 1.0, "GEN", "G1", "too many")] * 3
    return replace(plan, positions=[*plan.positions, *extra])


class Season:
    """A folder of returned plans, consolidated with a ledger, run after run."""

    def __init__(self, setup: Setup, root: Path):
        self.setup, self.root = setup, root
        self.returned = root / "returned"
        self.returned.mkdir()
        self.ledger = root / "season.sqlite"
        self.runs = 0

    def send(self, index: int, plan: DemoPlan, name: str, day: float) -> Path:
        """School `index` returns `plan` as file `name`, received on `day`."""
        spec = self.setup.specs[index]
        return write_plan(spec, self.returned / name, plan, received=RECEIVED + day * DAY)

    def consolidate(self, ledger: bool = True) -> dict[str, list[dict[str, str]]]:
        """Run consolidate; return the CSV exports by table name."""
        self.runs += 1
        exports = self.root / f"exports{self.runs}"
        args = ["consolidate", self.setup.district, self.returned, "--out",
                self.root / f"totals{self.runs}.xlsx", "--exports", exports]
        done = ssfr(*args, *(["--ledger", self.ledger] if ledger else []))
        assert_exit(done, 1)  # most of the district's schools are missing
        tables = {}
        for p in exports.glob("*.csv"):
            with open(p, newline="", encoding="utf-8") as fh:
                tables[p.stem] = list(csv.DictReader(fh))
        return tables

    def recorded(self) -> dict[str, tuple[str, str, str]]:
        """sha256 -> (school_id, file name, status) of every file in the ledger."""
        db = sqlite3.connect(self.ledger)
        try:
            rows = db.execute("SELECT sha256, school_id, file_name, status FROM files").fetchall()
        finally:
            db.close()
        return {sha: (sid, name, status) for sha, sid, name, status in rows}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def by_school(tables: dict, school_id: str) -> dict[str, Decimal | str]:
    return {r["fund"]: (Decimal(r["planned"]) if r["planned"] else "")
            for r in tables["by_school"] if r["school_id"] == school_id}


def status_of(tables: dict, school_id: str) -> dict[str, str]:
    return next(r for r in tables["status"] if r["school_id"] == school_id)


def use_of(tables: dict, name: str) -> str:
    return next(r["use"] for r in tables["files"] if r["file"] == name)


@pytest.fixture
def season(setup: Setup, tmp_path: Path) -> Season:
    return Season(setup, tmp_path)


def test_first_run_records_every_file(season: Season) -> None:
    specs = season.setup.specs
    files = [season.send(i, varied_plan(specs[i], i), file_name(specs[i].school), i)
             for i in range(3)]
    files.append(season.send(3, over_budget(varied_plan(specs[3], 3)),
                             file_name(specs[3].school), 3))
    (season.returned / "notes.txt").write_text("not a plan")
    files.append(season.returned / "notes.txt")
    tables = season.consolidate()
    recorded = season.recorded()
    assert set(recorded) == {sha(p) for p in files}
    for p in files[:3]:
        assert recorded[sha(p)][1:] == (p.name, "accepted")
    assert recorded[sha(files[3])] == (specs[3].school.school_id, files[3].name, "rejected")
    assert recorded[sha(files[4])][1:] == ("notes.txt", "rejected")
    for i in range(3):
        sid = specs[i].school.school_id
        assert status_of(tables, sid)["status"] == "accepted"
        assert by_school(tables, sid) == planned(varied_plan(specs[i], i), specs[i])


def test_resubmission_replaces_the_older_version_and_both_stay_recorded(
        season: Season) -> None:
    spec = season.setup.specs[5]
    sid = spec.school.school_id
    first, second = varied_plan(spec, 1), varied_plan(spec, 2)
    assert planned(first, spec) != planned(second, spec)
    v1 = season.send(5, first, file_name(spec.school), 0)
    tables = season.consolidate()
    assert by_school(tables, sid) == planned(first, spec)

    v2 = season.send(5, second, file_name(spec.school).replace(".xlsx", "_v2.xlsx"), 1)
    tables = season.consolidate()
    assert by_school(tables, sid) == planned(second, spec)
    assert status_of(tables, sid)["file"] == v2.name
    assert use_of(tables, v1.name) == "superseded by a newer accepted version"
    assert use_of(tables, v2.name) == "counted in the totals"
    assert not [r for r in tables["findings"] if r["code"] == "duplicate-school"]
    recorded = season.recorded()
    assert recorded[sha(v1)] == (sid, v1.name, "accepted")
    assert recorded[sha(v2)] == (sid, v2.name, "accepted")
    lines = [r for r in tables["lines"] if r["school_id"] == sid]
    assert {r["source_file"] for r in lines} == {v2.name}


def test_both_versions_in_the_folder_on_the_first_run(season: Season) -> None:
    spec = season.setup.specs[6]
    sid = spec.school.school_id
    newer = varied_plan(spec, 8)
    season.send(6, newer, "second.xlsx", 2)  # names do not decide, the received time does
    season.send(6, varied_plan(spec, 7), "first.xlsx", 1)
    tables = season.consolidate()
    assert by_school(tables, sid) == planned(newer, spec)
    assert status_of(tables, sid)["file"] == "second.xlsx"


def test_a_rejected_newer_version_leaves_the_older_accepted_one_counted(
        season: Season) -> None:
    spec = season.setup.specs[7]
    sid = spec.school.school_id
    good = varied_plan(spec, 1)
    v1 = season.send(7, good, file_name(spec.school), 0)
    season.consolidate()
    v2 = season.send(7, over_budget(varied_plan(spec, 2)),
                     file_name(spec.school).replace(".xlsx", "_v2.xlsx"), 1)
    tables = season.consolidate()
    assert by_school(tables, sid) == planned(good, spec)
    assert status_of(tables, sid)["status"].startswith("accepted")
    assert use_of(tables, v1.name) == "counted in the totals"
    assert use_of(tables, v2.name) == "not counted"
    assert any(r["file"] == v2.name and r["code"] == "over-allocation"
               for r in tables["findings"])
    recorded = season.recorded()
    assert recorded[sha(v1)][2] == "accepted" and recorded[sha(v2)][2] == "rejected"


def test_removed_newest_version_still_counts_from_the_ledger(season: Season) -> None:
    specs = season.setup.specs
    spec = specs[8]
    sid = spec.school.school_id
    newest = varied_plan(spec, 4)
    season.send(8, varied_plan(spec, 3), file_name(spec.school), 0)
    v2 = season.send(8, newest, file_name(spec.school).replace(".xlsx", "_v2.xlsx"), 1)
    only = season.send(9, varied_plan(specs[9], 9), file_name(specs[9].school), 0)
    before = season.consolidate()
    v2.unlink()
    only.unlink()  # a school whose only file left the folder
    after = season.consolidate()
    assert by_school(after, sid) == planned(newest, spec)
    other = specs[9].school.school_id
    assert status_of(after, other)["status"] == "accepted"
    assert by_school(after, other) == planned(varied_plan(specs[9], 9), specs[9])
    for table in ("district_totals", "positions", "services_demand"):
        assert after[table] == before[table], table
    planned_by_goal = [(r["goal"], r["planned"]) for r in after["goals"]]
    assert planned_by_goal == [(r["goal"], r["planned"]) for r in before["goals"]]
    recon = {r["check"]: r for r in after["reconciliation"]}
    for check in ("Accepted plan lines: total", "By School planned (accepted schools)",
                  "School allocations: total"):
        assert recon[check]["result"] == "OK", check


def test_goal_strategies_of_ledger_versions_still_count(season: Season) -> None:
    """The Goals table counts the strategies of every counted plan, also of a plan counted
    from the ledger after its file left the folder."""
    specs = season.setup.specs
    paths = [season.send(i, varied_plan(specs[i], i), file_name(specs[i].school), 0)
             for i in (12, 13)]
    before = season.consolidate()
    counts = {r["goal"]: int(r["schools_with_a_strategy"]) for r in before["goals"]}
    assert sum(counts.values()) >= 4  # each demo plan has a strategy for 2 goals or more
    paths[1].unlink()
    after = season.consolidate()
    assert {r["goal"]: int(r["schools_with_a_strategy"]) for r in after["goals"]} == counts


def test_status_names_the_ledger_version_that_counts(season: Season) -> None:
    """A school counted from the ledger after its file left the folder still shows which file
    (and which sha256) its numbers come from."""
    spec = season.setup.specs[10]
    sid = spec.school.school_id
    path = season.send(10, varied_plan(spec, 1), file_name(spec.school), 0)
    digest = sha(path)
    season.consolidate()
    path.unlink()
    tables = season.consolidate()
    row = status_of(tables, sid)
    assert row["status"] == "accepted"
    assert (row["file"], row["sha256"]) == (path.name, digest)
    assert {r["source_file"] for r in tables["lines"] if r["school_id"] == sid} == {path.name}


def test_without_a_ledger_two_files_for_one_school_is_an_error_naming_both(
        season: Season) -> None:
    spec = season.setup.specs[11]
    sid = spec.school.school_id
    a = season.send(11, varied_plan(spec, 1), file_name(spec.school), 0)
    b = season.send(11, varied_plan(spec, 2), "resent.xlsx", 1)
    tables = season.consolidate(ledger=False)
    dupes = [r for r in tables["findings"] if r["code"] == "duplicate-school"]
    assert {r["file"] for r in dupes} == {a.name, b.name}
    for r in dupes:
        assert r["severity"] == "error" and r["school_id"] == sid
        assert a.name in r["message"] and b.name in r["message"]
    assert status_of(tables, sid)["status"] == "rejected"
    assert set(by_school(tables, sid).values()) == {""}
    assert not season.ledger.exists()


def test_status_command_shows_each_school(season: Season) -> None:
    specs = season.setup.specs
    season.send(0, varied_plan(specs[0], 0), file_name(specs[0].school), 0)
    season.send(0, varied_plan(specs[0], 1), "again.xlsx", 1)
    season.send(1, over_budget(varied_plan(specs[1], 1)), file_name(specs[1].school), 0)
    season.consolidate()
    done = ssfr("status", "--ledger", season.ledger)
    assert_exit(done, 0)
    lines = done.stdout.splitlines()
    for i in (0, 1):
        assert any(line.startswith(specs[i].school.school_id) for line in lines), i
    school0 = [line for line in lines if line.startswith(specs[0].school.school_id)]
    assert len(school0) == 2
    assert school0[0].rstrip().endswith("again.xlsx")  # newest first
    assert school0[1].rstrip().endswith("(older)")
    assert "rejected" in next(line for line in lines if line.startswith(
        specs[1].school.school_id))
    assert lines[-1] == "2 school(s), 3 file version(s) recorded."


def test_status_command_usage(tmp_path: Path) -> None:
    assert_exit(ssfr("status"), 2)
    assert_exit(ssfr("status", "--ledger", tmp_path / "none.sqlite"), 2)
