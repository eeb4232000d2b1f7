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

    def consolidate(self, ledger: bool = True, received: Path | None = None,
                    district: Path | None = None) -> dict[str, list[dict[str, str]]]:
        """Run consolidate; return the CSV exports by table name."""
        self.runs += 1
        exports = self.root / f"exports{self.runs}"
        args = ["consolidate", district or self.setup.district, self.returned, "--out",
                self.root / f"totals{self.runs}.xlsx", "--exports", exports]
        done = ssfr(*args, *(["--ledger", self.ledger] if ledger else []),
                    *(["--received", received] if received else []))
        assert_exit(done, 1)  # most of the district's schools are missing
        self.stdout = done.stdout
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


def received_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    """A --received list: file_name, received_at."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file_name", "received_at"])
        w.writerows(rows)
    return path


def test_both_versions_first_seen_together_need_their_received_times(season: Season) -> None:
    """Two versions the ledger first sees in the same run: it cannot tell which is newer, so
    it never guesses (names and modification times do not decide): both are duplicate-school
    errors until --received gives the e-mail times."""
    spec = season.setup.specs[6]
    sid = spec.school.school_id
    newer, older = varied_plan(spec, 8), varied_plan(spec, 7)
    season.send(6, newer, "second.xlsx", 1)  # modified before "first.xlsx"...
    season.send(6, older, "first.xlsx", 2)
    tables = season.consolidate()
    dupes = {r["file"] for r in tables["findings"] if r["code"] == "duplicate-school"}
    assert dupes == {"first.xlsx", "second.xlsx"}
    row = status_of(tables, sid)
    assert row["status"] == "rejected" and "--received" in row["reason"]
    assert set(by_school(tables, sid).values()) == {""}
    # ... but the e-mails say second.xlsx arrived last
    times = received_csv(season.root / "received.csv",
                         [("first.xlsx", "2026-05-04T09:00:00-07:00"),
                          ("second.xlsx", "Mon, 04 May 2026 17:30:00 -0700")])
    tables = season.consolidate(received=times)
    assert by_school(tables, sid) == planned(newer, spec)
    assert status_of(tables, sid)["file"] == "second.xlsx"
    assert use_of(tables, "first.xlsx") == "superseded by a newer accepted version"
    # the times are kept: later runs without --received keep the order
    tables = season.consolidate()
    assert by_school(tables, sid) == planned(newer, spec)


def test_newest_is_the_order_first_seen_never_the_modification_time(season: Season) -> None:
    spec = season.setup.specs[4]
    sid = spec.school.school_id
    first, second = varied_plan(spec, 3), varied_plan(spec, 4)
    season.send(4, first, "plan.xlsx", 30)  # modified "later" ...
    season.consolidate()
    season.send(4, second, "plan-resent.xlsx", 0)  # ... than the file that came after it
    tables = season.consolidate()
    assert by_school(tables, sid) == planned(second, spec)
    assert use_of(tables, "plan.xlsx") == "superseded by a newer accepted version"
    # a received time can still reorder them
    times = received_csv(season.root / "received.csv",
                         [("plan.xlsx", "2026-05-06T10:00:00Z"),
                          ("plan-resent.xlsx", "2026-05-05T10:00:00Z")])
    tables = season.consolidate(received=times)
    assert by_school(tables, sid) == planned(first, spec)
    db = sqlite3.connect(season.ledger)
    try:
        seen = dict(db.execute("SELECT file_name, first_seen_seq FROM files"))
    finally:
        db.close()
    assert seen["plan.xlsx"] < seen["plan-resent.xlsx"]


@pytest.mark.parametrize(("rows", "message"), [
    ([("a.xlsx", "yesterday")], "row 2: received_at 'yesterday' is not a time"),
    ([("a.xlsx", "2026-05-04T09:00:00Z"), ("", "2026-05-04T09:00:00Z")],
     "row 3: file_name is empty"),
    ([("a.xlsx", "2026-05-04T09:00:00Z"), ("a.xlsx", "2026-05-05T09:00:00Z")],
     "rows 2 and 3: two different times for a.xlsx"),
])
def test_a_bad_received_row_is_one_error_naming_the_row(season: Season, rows, message) -> None:
    spec = season.setup.specs[0]
    season.send(0, varied_plan(spec, 0), file_name(spec.school), 0)
    times = received_csv(season.root / "received.csv", rows)
    out = season.root / "out"
    out.mkdir(exist_ok=True)  # outputs go only into folders that exist
    done = ssfr("consolidate", season.setup.district, season.returned, "--out",
                out / "totals.xlsx", "--ledger", season.ledger, "--received", times)
    assert_exit(done, 1)
    assert done.stderr.startswith("Error: received.csv " + message), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not any(out.iterdir()) and not season.ledger.exists()


def test_received_needs_a_ledger_and_a_header(season: Season) -> None:
    times = received_csv(season.root / "received.csv", [])
    done = ssfr("consolidate", season.setup.district, season.returned, "--out",
                season.root / "t.xlsx", "--received", times)
    assert_exit(done, 2)
    assert "--received goes with --ledger" in done.stderr
    (season.root / "bad.csv").write_text("name,when\na.xlsx,2026-05-04\n")
    done = ssfr("consolidate", season.setup.district, season.returned, "--out",
                season.root / "t.xlsx", "--ledger", season.ledger, "--received",
                season.root / "bad.csv")
    assert_exit(done, 1)
    assert "row 1: the header must name the columns file_name and received_at" in done.stderr


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
    season.consolidate()
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


def test_status_command_lists_every_school_by_name(season: Season) -> None:
    specs = season.setup.specs
    season.send(0, varied_plan(specs[0], 0), file_name(specs[0].school), 0)
    season.consolidate()
    season.send(0, varied_plan(specs[0], 1), "again.xlsx", 1)
    season.send(1, over_budget(varied_plan(specs[1], 1)), file_name(specs[1].school), 0)
    (season.returned / "notes.xlsx").write_bytes(b"not a workbook")
    season.consolidate()
    before = season.ledger.read_bytes()
    done = ssfr("status", "--ledger", season.ledger)
    assert_exit(done, 0)
    assert season.ledger.read_bytes() == before, "status never writes"
    lines = done.stdout.splitlines()
    heads = [line for line in lines if not line.startswith(" ")]
    for spec in specs:  # every school of the district, by name, missing ones included
        sid = spec.school.school_id
        row = next(line for line in heads if line.startswith(sid))
        assert spec.school.name[:30] in row
    school0 = lines.index(next(line for line in heads if line.startswith(
        specs[0].school.school_id)))
    assert "accepted" in lines[school0]
    assert lines[school0 + 1].startswith("    ") and lines[school0 + 1].endswith(
        "again.xlsx  (counted)")  # newest first
    assert lines[school0 + 2].rstrip().endswith(file_name(specs[0].school))
    school1 = next(line for line in heads if line.startswith(specs[1].school.school_id))
    assert "rejected" in school1
    missing = next(line for line in heads if line.startswith(specs[2].school.school_id))
    assert missing.rstrip().endswith("missing")
    assert any("notes.xlsx" in line and "no school could be read" in line for line in lines)
    n = len(specs)
    assert lines[-1] == (f"{n} school(s): 1 accepted, 0 accepted with warnings, 1 rejected, "
                         f"{n - 2} missing; 4 file version(s) recorded.") or lines[-1] == (
        f"{n} school(s): 0 accepted, 1 accepted with warnings, 1 rejected, "
        f"{n - 2} missing; 4 file version(s) recorded.")


def test_status_command_usage(tmp_path: Path) -> None:
    assert_exit(ssfr("status"), 2)
    assert_exit(ssfr("status", "--ledger", tmp_path / "none.sqlite"), 2)


# --- every counted version is re-checked against the current district workbook -------------

def cut_budget(src: Path, dst: Path, factor: float) -> Path:
    """The district workbook with its unrestricted budget multiplied by `factor`."""
    import openpyxl

    wb = openpyxl.load_workbook(src)
    for sheet, coord in wb.defined_names["Budget"].destinations:
        wb[sheet][coord].value = wb[sheet][coord].value * factor
    wb.save(dst)
    return dst


def test_a_counted_plan_that_no_longer_passes_stops_counting(season: Season) -> None:
    specs = season.setup.specs
    kept = season.send(14, varied_plan(specs[14], 1), file_name(specs[14].school), 0)
    gone = season.send(15, varied_plan(specs[15], 2), file_name(specs[15].school), 0)
    before = season.consolidate()
    ids = [specs[i].school.school_id for i in (14, 15)]
    assert all(status_of(before, sid)["status"].startswith("accepted") for sid in ids)
    gone.unlink()  # counted from the ledger's copy from now on

    cut = cut_budget(season.setup.district, season.root / "district-cut.xlsx", 0.8)
    after = season.consolidate(district=cut)
    for sid, name in zip(ids, (kept.name, gone.name), strict=True):
        row = status_of(after, sid)
        assert row["status"] == "rejected", row
        assert "no longer passes against the current district workbook" in row["reason"]
        assert set(by_school(after, sid).values()) == {""}
        codes = {r["code"] for r in after["findings"] if r["file"] == name}
        assert {"no-longer-passes", "over-allocation"} <= codes, (name, codes)
    assert "rejected " + gone.name in season.stdout
    done = ssfr("status", "--ledger", season.ledger)
    assert_exit(done, 0)
    for sid in ids:
        line = next(li for li in done.stdout.splitlines() if li.startswith(sid))
        assert "rejected: the plan no longer passes against the current district workbook" \
            in line

    again = season.consolidate()  # the district as it was: both count again
    for sid in ids:
        assert by_school(again, sid) == by_school(before, sid)
        assert status_of(again, sid)["status"] == status_of(before, sid)["status"]


LEGACY_SCHEMA = """
CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, ran_at TEXT NOT NULL,
                   fiscal_year TEXT NOT NULL);
CREATE TABLE files (sha256 TEXT PRIMARY KEY, school_id TEXT NOT NULL, file_name TEXT NOT NULL,
    received_at REAL NOT NULL, first_run INTEGER NOT NULL, last_run INTEGER NOT NULL,
    status TEXT NOT NULL, errors INTEGER NOT NULL, warnings INTEGER NOT NULL,
    fiscal_year TEXT NOT NULL, lines_json TEXT NOT NULL);
CREATE TABLE findings (sha256 TEXT NOT NULL, run_id INTEGER NOT NULL,
    sheet TEXT, cell TEXT, severity TEXT, code TEXT, message TEXT);
CREATE INDEX files_school ON files (school_id);
"""


def test_a_ledger_of_an_earlier_version_is_migrated(season: Season) -> None:
    specs = season.setup.specs
    year = season.setup.record.inputs.district.fiscal_year
    present = season.send(16, varied_plan(specs[16], 1), file_name(specs[16].school), 0)
    db = sqlite3.connect(season.ledger)
    db.executescript(LEGACY_SCHEMA)
    db.execute("INSERT INTO runs (ran_at, fiscal_year) VALUES ('2026-05-01T09:00:00+00:00', ?)",
               (year,))
    rows = [(sha(present), specs[16].school.school_id, present.name),
            ("0" * 64, specs[17].school.school_id, "left-the-folder.xlsx")]
    for digest, sid, name in rows:  # recorded, accepted, by the earlier version
        db.execute("INSERT INTO files VALUES (?, ?, ?, 0, 1, 1, 'accepted', 0, 0, ?, '[]')",
                   (digest, sid, name, year))
    db.commit()
    db.close()
    tables = season.consolidate()
    db = sqlite3.connect(season.ledger)
    try:
        columns = {r[1] for r in db.execute("PRAGMA table_info(files)")}
        version = db.execute("PRAGMA user_version").fetchone()[0]
        kept = db.execute("SELECT COUNT(*) FROM contents").fetchone()[0]
    finally:
        db.close()
    assert {"first_seen_seq", "first_seen_at", "district_fp", "ever_accepted"} <= columns
    assert version == 2 and kept == 1
    # the file in the folder is checked again; the one that left cannot be, so it stops
    assert status_of(tables, specs[16].school.school_id)["status"].startswith("accepted")
    assert by_school(tables, specs[16].school.school_id) == planned(varied_plan(specs[16], 1),
                                                                   specs[16])
    row = status_of(tables, specs[17].school.school_id)
    assert row["status"] == "rejected" and "cannot be re-checked" in row["reason"]
    assert_exit(ssfr("status", "--ledger", season.ledger), 0)


# --- a ledger that is not one is refused, never altered ----------------------------------

def _hostile_ledger(kind: str, path: Path) -> tuple[bytes, int]:
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "corrupted":
        path.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 40)
    elif kind == "text":
        path.write_text("school_id,status\n01,accepted\n")
    elif kind in ("foreign", "foreign-files", "read-only", "locked"):
        db = sqlite3.connect(path)
        if kind == "foreign":
            db.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
            db.execute("INSERT INTO customers VALUES (1, 'Ada')")
        elif kind == "foreign-files":  # a table named like ours, from another program
            db.execute("CREATE TABLE files (path TEXT, size INTEGER)")
        else:
            db.executescript(LEGACY_SCHEMA)
        db.commit()
        db.close()
        if kind == "read-only":
            path.chmod(0o444)
    return (path.read_bytes(), path.stat().st_mtime_ns)


def _lock(path: Path) -> sqlite3.Connection:
    """Another program holding the ledger (nothing in this process may open the file while
    it holds the lock: closing any descriptor of it would release the lock)."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    return holder


@pytest.mark.parametrize(("kind", "message"), [
    ("empty", "is empty (0 bytes)"),
    ("corrupted", "is damaged or not an SQLite database"),
    ("text", "is not an SQLite database"),
    ("foreign", "is an SQLite database of another program"),
    ("foreign-files", "is an SQLite database of another program"),
    ("read-only", "is read-only"),
    ("locked", "is in use by another program"),
])
def test_a_ledger_that_cannot_be_used_is_one_error_and_stays_as_it_was(
        season: Season, kind: str, message: str) -> None:
    spec = season.setup.specs[0]
    season.send(0, varied_plan(spec, 0), file_name(spec.school), 0)
    before = _hostile_ledger(kind, season.ledger)
    holder = _lock(season.ledger) if kind == "locked" else None
    out = season.root / "out"
    out.mkdir(exist_ok=True)  # outputs go only into folders that exist
    try:
        done = ssfr("consolidate", season.setup.district, season.returned, "--out",
                    out / "totals.xlsx", "--exports", out / "exports",
                    "--ledger", season.ledger)
        assert_exit(done, 1)
        assert done.stderr.startswith("Error: "), done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert message in done.stderr and str(season.ledger) in done.stderr
        assert not any(out.iterdir()), "nothing is written when the ledger cannot be used"
        if kind not in ("locked", "read-only"):
            status = ssfr("status", "--ledger", season.ledger)
            assert_exit(status, 1)
            assert status.stderr.startswith("Error: ")
            assert len(status.stderr.strip().splitlines()) == 1
    finally:
        if holder is not None:
            holder.close()
    assert (season.ledger.read_bytes(), season.ledger.stat().st_mtime_ns) == before


def test_a_ledger_copied_into_the_returned_folder_is_listed_as_ignored(season: Season) -> None:
    """The ledger itself may not live among the returned plans (a usage error, see
    test_trust_folder); a copy someone dropped there is listed as ignored, never read."""
    import shutil

    spec = season.setup.specs[2]
    season.send(2, varied_plan(spec, 0), file_name(spec.school), 0)
    season.consolidate()
    shutil.copy2(season.ledger, season.returned / "season.sqlite")
    tables = season.consolidate()
    row = next(r for r in tables["files"] if r["file"] == "season.sqlite")
    assert row["status"] == "ignored" and "ledger" in row["use"]
    assert status_of(tables, spec.school.school_id)["status"].startswith("accepted")


def test_an_ods_plan_is_rejected_for_its_school_never_missing(season: Season) -> None:
    from tests.corpus import _ods

    spec = season.setup.specs[3]
    sid = spec.school.school_id
    _ods(season.returned / f"{sid}_plan.ods")
    tables = season.consolidate()
    row = status_of(tables, sid)
    assert row["status"] == "rejected" and row["file"] == f"{sid}_plan.ods"
    assert row["reason"].startswith(f"probably {sid}_plan.ods")
    assert "Save As" in row["reason"]
    (season.returned / f"{sid}_plan.ods").unlink()  # still recorded for the school
    assert status_of(season.consolidate(), sid)["status"] == "rejected"
    done = ssfr("status", "--ledger", season.ledger)
    line = next(li for li in done.stdout.splitlines() if li.startswith(sid))
    assert "rejected" in line and spec.school.name[:20] in line


def test_a_ledger_in_a_missing_folder_is_one_error(season: Season) -> None:
    done = ssfr("consolidate", season.setup.district, season.returned, "--out",
                season.root / "t.xlsx", "--ledger", season.root / "no" / "season.sqlite")
    assert_exit(done, 1)
    assert done.stderr.startswith("Error: Cannot create the ledger")
    assert not (season.root / "t.xlsx").exists()


def _reads_logged(monkeypatch: pytest.MonkeyPatch, log: Path) -> None:
    """Every workbook the reader processes open is appended to `log` (they are forked from
    this process, so they run the patched reader)."""
    import ssfr_xl.reader as reader

    original = reader.read_workbook

    def logged(path, *args, **kwargs):
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(Path(path).name + "\n")
        return original(path, *args, **kwargs)

    monkeypatch.setattr(reader, "read_workbook", logged)


def _read(log: Path) -> list[str]:
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


def test_a_rerun_knows_unchanged_files_by_their_hash_and_reads_only_the_new_ones(
        season: Season, monkeypatch: pytest.MonkeyPatch) -> None:
    from ssfr_xl.report import consolidate_folder

    specs = season.setup.specs
    first = [season.send(i, varied_plan(specs[i], i), file_name(specs[i].school), i)
             for i in range(3)]
    rejected = season.send(3, over_budget(varied_plan(specs[3], 3)),
                           file_name(specs[3].school), 3)
    log = season.root / "reads.log"
    _reads_logged(monkeypatch, log)

    def run(n: int, district: Path | None = None) -> dict[str, list[dict[str, str]]]:
        exports = season.root / f"in-process{n}"
        consolidate_folder(district or season.setup.district, season.returned,
                           season.root / f"in-process{n}.xlsx", exports, ledger=season.ledger)
        tables = {}
        for p in exports.glob("*.csv"):
            with open(p, newline="", encoding="utf-8") as fh:
                tables[p.stem] = list(csv.DictReader(fh))
        return tables

    before = run(1)
    assert sorted(_read(log)) == sorted(p.name for p in [*first, rejected])
    log.unlink()
    again = run(2)
    assert _read(log) == []  # nothing changed: every verdict known by its hash
    for table in ("status", "files", "by_school", "findings", "lines", "district_totals"):
        assert again[table] == before[table], table
    assert any(r["file"] == rejected.name and r["code"] == "over-allocation"
               for r in again["findings"])

    renamed = season.returned / ("copy of " + first[0].name)
    first[0].rename(renamed)  # same bytes, another name: known, and named as it is now
    newer = season.send(4, varied_plan(specs[4], 4), file_name(specs[4].school), 5)
    third = run(3)
    assert _read(log) == [newer.name]
    assert {r["file"] for r in third["files"]} >= {renamed.name, newer.name}
    assert {r["file"] for r in third["findings"]} <= {r["file"] for r in third["files"]}
    log.unlink()

    cut = cut_budget(season.setup.district, season.root / "district-cut.xlsx", 0.8)
    run(4, cut)  # another district: every file is checked again
    assert sorted(_read(log)) == sorted(p.name for p in season.returned.iterdir())


def test_arrival_times_are_looked_up_by_name_in_every_ledger(tmp_path: Path) -> None:
    """--received sets each version's arrival time by file name: an index makes that one
    look-up per name (a scan per name made 10,000 plans take 80 s). A ledger made before the
    index gains it when opened to write; a read-only opening changes nothing."""
    from ssfr_xl.ledger import Ledger

    path = tmp_path / "season.sqlite"
    Ledger(path).close()

    def indexes() -> set[str]:
        with sqlite3.connect(path) as db:
            return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}

    assert "files_name" in indexes()
    with sqlite3.connect(path) as db:
        db.execute("DROP INDEX files_name")
        plan = db.execute("EXPLAIN QUERY PLAN UPDATE files SET received_override=1 "
                          "WHERE fiscal_year='2026-27' AND file_name='x.xlsx'").fetchall()
    assert "files_name" not in str(plan)
    Ledger(path, readonly=True).close()
    assert "files_name" not in indexes()
    Ledger(path).close()
    assert "files_name" in indexes()
    with sqlite3.connect(path) as db:
        plan = db.execute("EXPLAIN QUERY PLAN UPDATE files SET received_override=1 "
                          "WHERE fiscal_year='2026-27' AND file_name='x.xlsx'").fetchall()
    assert "files_name" in str(plan)
