"""Amended plans after the true-up: build --amend, validate --amend, consolidate --amend.

The district is test_trueup's (two schools, base $5,000, EL $1,000 in SUPP). Fall counts:
A 120 pupils, 12 EL; B 90 pupils, 20 EL; no true-up rules, so

    A: GEN 500,000 -> 600,000 (+100,000)   SUPP 10,000 -> 12,000 (+2,000)
    B: GEN 500,000 -> 450,000 (-50,000)    SUPP 20,000 (no change)
"""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest

from ssfr_xl.layout import SchoolLayout
from ssfr_xl.layout import SchoolSheets as SS
from ssfr_xl.ledger import district_fingerprint
from ssfr_xl.validate import district_record
from tests.test_trueup import district as district  # noqa: F401  (the fixture)
from tests.test_trueup import invoke, roster, rules_file

TEACHER = 117_000.0  # 1.0 FTE x 90,000 x (1 + 0.30)


def fill(path: Path, out: Path, other: list[tuple[str, str, float]]) -> None:
    """A principal's plan: one teacher (GEN), Other Spending lines, a goal, who prepared it."""
    wb = openpyxl.load_workbook(path)
    ws = wb[SS.STAFFING]
    from ssfr_xl.district_book import read_district

    policy = read_district(path.parent.parent / "district.xlsx").policy
    layout = SchoolLayout(policy)
    t = layout.staffing
    for key, value in (("job_class", "TCH"), ("fte", 1.0), ("fund", "GEN"), ("goal", "G1"),
                       ("note", "Grade 1 teacher")):
        ws[t.cell(key, 0)] = value
    t = layout.other
    ws = wb[t.sheet]
    for i, (fund, what, amount) in enumerate(other):
        for key, value in (("object", "4300"), ("fund", fund), ("goal", "G1"),
                           ("description", what), ("amount", amount)):
            ws[t.cell(key, i)] = value
    g = layout.goals
    ws = wb[g.sheet]
    for key, value in (("school_goal", "Read by grade 3"), ("strategy", "Small groups"),
                       ("measure", "Spring benchmark")):
        ws[g.cell(key, 0)] = value
    from ssfr_xl.layout import START_FIELDS

    wb[SS.START][START_FIELDS.cell("prepared_by")] = "P. Principal"
    wb.save(out)


@pytest.fixture
def season(district: Path, tmp_path: Path) -> dict[str, Path]:  # noqa: F811
    r = invoke("build", district, "--out", tmp_path / "plans")
    assert r.exit_code == 0, r.output
    returned = tmp_path / "returned"
    returned.mkdir()
    a = next((tmp_path / "plans").glob("A1_*.xlsx"))
    b = next((tmp_path / "plans").glob("B2_*.xlsx"))
    # A: 117,000 + 383,000 = 500,000 GEN; SUPP 10,000 of 10,000
    fill(a, returned / a.name, [("GEN", "Books", 383_000.0), ("SUPP", "EL books", 10_000.0)])
    # B: 117,000 + 383,000 = 500,000 GEN; SUPP 20,000 of 20,000
    fill(b, returned / b.name, [("GEN", "Books", 383_000.0), ("SUPP", "EL books", 20_000.0)])
    r = invoke("validate", returned, "--district", district)
    assert r.exit_code == 0, r.output
    (tmp_path / "fall.csv").write_text(roster(("A1", "Alder", 120, 12),
                                              ("B2", "Birch", 90, 20)), encoding="utf-8")
    r = invoke("trueup", district, "--counts", tmp_path / "fall.csv", "--policy",
               rules_file(tmp_path, ""), "--out", tmp_path / "trueup.xlsx", "--csv",
               tmp_path / "trueup.csv")
    assert r.exit_code == 0, r.output
    r = invoke("build", district, "--amend", tmp_path / "trueup.xlsx", "--returned", returned,
               "--out", tmp_path / "amended")
    assert r.exit_code == 0, r.output
    return {"district": district, "returned": returned, "amended": tmp_path / "amended",
            "trueup": tmp_path / "trueup.xlsx", "csv": tmp_path / "trueup.csv",
            "a": tmp_path / "amended" / a.name, "b": tmp_path / "amended" / b.name,
            "tmp": tmp_path}


def meta(path: Path) -> dict[str, object]:
    wb = openpyxl.load_workbook(path)
    return {r[0]: r[1] for r in wb[SS.META].iter_rows(values_only=True)}


def test_the_amended_plan_has_the_new_allocation_and_keeps_the_lines(
        season: dict[str, Path]) -> None:
    wb = openpyxl.load_workbook(season["a"])
    names = wb.defined_names
    cells = {}
    for fund in ("GEN", "SUPP"):
        sheet, ref = next(iter(names[f"Allocation_{fund}"].destinations))
        cells[fund] = wb[sheet][ref.replace("$", "")].value
    assert cells == {"GEN": 600_000.0, "SUPP": 12_000.0}  # 500,000 + 100,000; 10,000 + 2,000
    layout = SchoolLayout(district_record(season["district"]).policy)
    staff = wb[SS.STAFFING]
    assert [staff[layout.staffing.cell(k, 0)].value for k in ("job_class", "fte", "fund")] == [
        "TCH", 1.0, "GEN"]
    other = wb[SS.OTHER]
    assert other[layout.other.cell("amount", 1)].value == 10_000.0
    assert wb[SS.GOALS][layout.goals.cell("strategy", 0)].value == "Small groups"
    m = meta(season["a"])
    assert m["amendment"] == 1 and m["amended_from"] == season["a"].name
    assert "raise the GEN allocation by $100,000.00" in str(m["amendment_reason"])
    allocation = wb[SS.ALLOCATION]
    texts = [c for row in allocation.iter_rows(values_only=True) for c in row
             if isinstance(c, str)]
    assert "Spring $500,000.00 + fall true-up $100,000.00 = $600,000.00" in texts
    assert "Fall true-up: amendment 1" in texts


def test_amended_plans_validate_against_the_amendment(season: dict[str, Path]) -> None:
    # A: GEN 500,000 planned of 600,000 (100,000 left: a warning); SUPP 10,000 of 12,000
    r = invoke("validate", season["a"], "--district", season["district"], "--amend",
               season["trueup"])
    assert r.exit_code == 0, r.output
    assert "allocation-changed" not in r.output
    # without the amendment the file is not the district's record
    r = invoke("validate", season["a"], "--district", season["district"])
    assert r.exit_code == 1 and "allocation-changed" in r.output
    # B: GEN 500,000 planned of 450,000: over by 50,000, as the amended Summary shows
    r = invoke("validate", season["b"], "--district", season["district"], "--amend",
               season["csv"])
    assert r.exit_code == 1
    assert "spends $50,000.00 more than the General allocation of $450,000.00" in r.output


def test_the_season_consolidates_with_the_amended_allocations(
        season: dict[str, Path]) -> None:
    out = season["tmp"] / "totals.xlsx"
    r = invoke("consolidate", season["district"], season["amended"], "--amend",
               season["trueup"], "--out", out, "--exports", season["tmp"] / "exports")
    assert r.exit_code == 1  # B is over its amended allocation
    with (season["tmp"] / "exports" / "by_school.csv").open(encoding="utf-8") as f:
        alloc = {(row["school_id"], row["fund"]): float(row["allocation"])
                 for row in csv.DictReader(f)}
    assert alloc == {("A1", "GEN"): 600_000.0, ("A1", "SUPP"): 12_000.0,
                     ("B2", "GEN"): 450_000.0, ("B2", "SUPP"): 20_000.0}
    with (season["tmp"] / "exports" / "reconciliation.csv").open(encoding="utf-8") as f:
        rec = {row["check"]: row for row in csv.DictReader(f)}
    # adjustments: +100,000 + 2,000 - 50,000 + 0 = 52,000; spring total 1,030,000
    assert float(rec["Fall true-up adjustments in the allocations (--amend)"]["value"]) == 52_000
    total = rec["School allocations: total"]
    assert (float(total["value"]), float(total["expected"]), total["result"]) == (
        1_082_000.0, 1_082_000.0, "OK")


def test_a_second_amendment_counts_on(season: dict[str, Path]) -> None:
    r = invoke("build", season["district"], "--amend", season["csv"], "--returned",
               season["amended"], "--out", season["tmp"] / "second", "--schools", "A1")
    assert r.exit_code == 0, r.output
    second = next((season["tmp"] / "second").glob("A1_*.xlsx"))
    assert meta(second)["amendment"] == 2
    assert "amendment 2" in r.output


def test_the_record_and_the_ledger_know_the_amendment(season: dict[str, Path]) -> None:
    spring = district_record(season["district"])
    amended = district_record(season["district"], season["trueup"])
    assert spring.allocations["A1"]["GEN"] == 500_000.0
    assert amended.allocations["A1"]["GEN"] == 600_000.0
    assert amended.fingerprints["A1"] != spring.fingerprints["A1"]
    assert district_fingerprint(amended) != district_fingerprint(spring)


def test_an_edited_trueup_file_is_refused(season: dict[str, Path]) -> None:
    text = season["csv"].read_text(encoding="utf-8").replace(
        ",increase,100000.00,0.00,600000.00,", ",increase,100000.00,0.00,700000.00,")
    edited = season["tmp"] / "edited.csv"
    edited.write_text(text, encoding="utf-8")
    r = invoke("validate", season["a"], "--district", season["district"], "--amend", edited)
    assert r.exit_code == 1
    assert "edited.csv line 2, column 'amended_allocation'" in r.output
    assert "the file was edited" in r.output
    broken = season["tmp"] / "broken.csv"
    broken.write_text("school_id,fund\nA1,GEN\n", encoding="utf-8")
    r = invoke("consolidate", season["district"], season["amended"], "--amend", broken,
               "--out", season["tmp"] / "t.xlsx")
    assert r.exit_code == 1 and "the column 'school_name' is missing" in r.output
    assert not (season["tmp"] / "t.xlsx").exists()
    junk = season["tmp"] / "junk.xlsx"
    junk.write_bytes(b"not a workbook")
    r = invoke("validate", season["a"], "--district", season["district"], "--amend", junk)
    assert r.exit_code == 1 and "junk.xlsx is not a true-up workbook" in r.output
    r = invoke("validate", season["a"], "--district", season["district"], "--amend",
               season["a"])  # a plan, not a true-up
    assert r.exit_code == 1 and "has no True-up sheet" in r.output


def test_build_amend_usage(season: dict[str, Path]) -> None:
    r = invoke("build", season["district"], "--amend", season["trueup"], "--out",
               season["tmp"] / "x")
    assert r.exit_code == 2 and "--amend and --returned go together" in r.output
    r = invoke("build", season["district"], "--amend", season["trueup"], "--returned",
               season["returned"], "--out", season["returned"] / "inside")
    assert r.exit_code == 2 and "inside the folder of returned plans" in r.output
    r = invoke("build", season["district"], "--amend", season["trueup"], "--returned",
               season["returned"], "--out", season["amended"])
    assert r.exit_code == 1 and "pass --force" in r.output
