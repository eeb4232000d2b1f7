"""Red team: the fall true-up, the true-up file given to --amend, amended plans and last
year's workbook, attacked by a careless budget officer and a hostile sender.

The district is tests/test_trueup.py's (base $5,000 per pupil, EL $1,000 per EL pupil in
SUPP). Spring: A1 100 pupils, 10 EL; B2 100 pupils, 20 EL. The fall counts of these tests:
A1 110 pupils, 12 EL; B2 95 pupils, 20 EL; the spring base rate stays $5,000, so

    A1 GEN 500,000 -> 110 x 5,000 = 550,000 (+50,000)   SUPP 10,000 -> 12,000 (+2,000)
    B2 GEN 500,000 ->  95 x 5,000 = 475,000 (-25,000)   SUPP 20,000 -> 20,000 (no change)

With no [trueup] rules every change is taken in full: adjustments GEN +25,000, SUPP +2,000.
"""

from __future__ import annotations

import csv
import os
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest

from ssfr_xl.district_book import read_district
from ssfr_xl.errors import FileError, InputError
from ssfr_xl.layout import SchoolSheets as SS
from ssfr_xl.trueup_book import read_amendments
from tests.test_trueup import district as district  # noqa: F401  (the fixture)
from tests.test_trueup import invoke, roster, rules_file

SPRING_A1_GEN = "A1,Alder,GEN,500000.00,550000.00,50000.00,increase,50000.00,0.00,550000.00,"
SPRING_B2_GEN = "B2,Birch,GEN,500000.00,475000.00,-25000.00,reduction,-25000.00,0.00,475000.00,"


@pytest.fixture
def trueup(district: Path, tmp_path: Path) -> dict[str, Path]:  # noqa: F811
    """The true-up workbook and CSV of the fall counts above (no rules)."""
    (tmp_path / "fall.csv").write_text(roster(("A1", "Alder", 110, 12),
                                              ("B2", "Birch", 95, 20)), encoding="utf-8")
    r = invoke("trueup", district, "--counts", tmp_path / "fall.csv", "--policy",
               tmp_path / "policy.toml", "--out", tmp_path / "trueup.xlsx", "--csv",
               tmp_path / "trueup.csv")
    assert r.exit_code == 0, r.output
    return {"district": district, "xlsx": tmp_path / "trueup.xlsx",
            "csv": tmp_path / "trueup.csv", "tmp": tmp_path}


def edited(t: dict[str, Path], old: str, new: str, name: str = "edited.csv") -> Path:
    text = t["csv"].read_text(encoding="utf-8")
    assert old in text
    path = t["tmp"] / name
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def refused(t: dict[str, Path], path: Path) -> str:
    with pytest.raises(InputError) as e:
        read_amendments(path, read_district(t["district"]))
    return str(e.value)


# --- the file ssfr-xl wrote reads back --------------------------------------------------------

def test_the_unedited_files_read_back_with_the_hand_computed_adjustments(
        trueup: dict[str, Path]) -> None:
    inputs = read_district(trueup["district"])
    for path in (trueup["csv"], trueup["xlsx"]):
        got = {s: {c.fund: (c.rule, c.adjustment) for c in a.changes}
               for s, a in read_amendments(path, inputs).items()}
        assert got == {"A1": {"GEN": ("increase", 50_000.0), "SUPP": ("increase", 2_000.0)},
                       "B2": {"GEN": ("reduction", -25_000.0), "SUPP": ("no change", 0.0)}}


def test_a_capped_clawback_reads_back(district: Path, tmp_path: Path) -> None:  # noqa: F811
    # max_clawback 10,000: B2's GEN drop of 25,000 is capped: adjustment -10,000, withheld
    # -25,000 - (-10,000) = -15,000; the checks accept what the rules wrote
    (tmp_path / "fall.csv").write_text(roster(("A1", "Alder", 110, 12),
                                              ("B2", "Birch", 95, 20)), encoding="utf-8")
    r = invoke("trueup", district, "--counts", tmp_path / "fall.csv", "--policy",
               rules_file(tmp_path, "[trueup]\nmax_clawback = 10000\n"), "--out",
               tmp_path / "t.xlsx", "--csv", tmp_path / "t.csv")
    assert r.exit_code == 0, r.output
    for path in (tmp_path / "t.csv", tmp_path / "t.xlsx"):
        b2 = {c.fund: c for c in read_amendments(path, read_district(district))["B2"].changes}
        assert (b2["GEN"].rule, b2["GEN"].adjustment, b2["GEN"].withheld) == (
            "clawback capped", -10_000.0, -15_000.0)


# --- a true-up file edited by hand --------------------------------------------------------------

def test_an_adjustment_raised_with_its_amended_allocation_is_refused(
        trueup: dict[str, Path]) -> None:
    # adjustment 50,000 -> 150,000 and amended 550,000 -> 650,000 (spring + adjustment still
    # adds up), but raw change 50,000 - adjustment 150,000 = -100,000 is not the 0 withheld
    path = edited(trueup, SPRING_A1_GEN, "A1,Alder,GEN,500000.00,550000.00,50000.00,increase,"
                  "150000.00,0.00,650000.00,")
    message = refused(trueup, path)
    assert ("edited.csv line 2, column 'withheld_by_rule': A1 GEN: raw change $50,000.00 - "
            "adjustment $150,000.00 = -$100,000.00, not the $0.00 withheld by rule: the file "
            "was edited. Run ssfr-xl trueup again.") in message
    assert "no row for fund" not in message  # the refused row is not also "left out"


def test_a_fall_amount_that_is_not_spring_plus_the_raw_change_is_refused(
        trueup: dict[str, Path]) -> None:
    # fall 550,000 -> 650,000: 650,000 - 500,000 = 150,000, not the raw change 50,000
    path = edited(trueup, SPRING_A1_GEN, "A1,Alder,GEN,500000.00,650000.00,50000.00,increase,"
                  "50000.00,0.00,550000.00,")
    assert ("line 2, column 'raw_change': A1 GEN: fall recomputed $650,000.00 - spring "
            "$500,000.00 = $150,000.00, not the raw change $50,000.00") in refused(trueup, path)


def test_a_rule_that_does_not_fit_the_numbers_is_refused(trueup: dict[str, Path]) -> None:
    # "hold harmless" takes nothing back, but the row still takes the whole -25,000
    path = edited(trueup, SPRING_B2_GEN, SPRING_B2_GEN.replace("reduction", "hold harmless"))
    assert ("line 4, column 'adjustment': B2 GEN: the rule 'hold harmless' means the raw "
            "change is below 0 and the adjustment 0, but the raw change is -$25,000.00 and the "
            "adjustment -$25,000.00") in refused(trueup, path)


def test_a_formula_typed_as_the_rule_is_refused(trueup: dict[str, Path]) -> None:
    path = edited(trueup, SPRING_A1_GEN, SPRING_A1_GEN.replace("increase", "=1+1"))
    assert ("line 2, column 'rule': A1 GEN: '=1+1' is not a rule of the true-up (it writes "
            "increase, no change, reduction") in refused(trueup, path)


def test_a_deleted_row_is_refused_not_taken_as_no_adjustment(trueup: dict[str, Path]) -> None:
    lines = trueup["csv"].read_text(encoding="utf-8").splitlines(keepends=True)
    path = trueup["tmp"] / "short.csv"
    path.write_text("".join(ln for ln in lines if not ln.startswith("A1,Alder,SUPP")),
                    encoding="utf-8")
    # without the check A1's SUPP would silently keep 10,000 instead of 12,000
    assert ("short.csv: A1 has no row for fund SUPP; the true-up writes one row per school "
            "and fund.") in refused(trueup, path)


def test_a_school_twice_and_a_school_of_another_district_are_refused(
        trueup: dict[str, Path]) -> None:
    text = trueup["csv"].read_text(encoding="utf-8")
    twice = trueup["tmp"] / "twice.csv"
    twice.write_text(text + text.splitlines()[-1] + "\n", encoding="utf-8")
    assert "twice.csv line 6, column 'fund': B2 SUPP appears twice" in refused(trueup, twice)
    stranger = edited(trueup, SPRING_B2_GEN, SPRING_B2_GEN.replace("B2,", "Z9,", 1))
    assert ("line 4, column 'school_id': 'Z9' is not a school of Hand Unified"
            in refused(trueup, stranger))
    # a Cyrillic В that looks like B is another id
    lookalike = edited(trueup, SPRING_B2_GEN, SPRING_B2_GEN.replace("B2,", "\u04122,", 1))
    assert "'\u04122' is not a school of Hand Unified" in refused(trueup, lookalike)


def test_rows_edited_in_the_workbook_disagree_with_its_summary(trueup: dict[str, Path]) -> None:
    # every number of A1's GEN row raised by 100,000 consistently (fall 650,000, raw 150,000,
    # adjustment 150,000, amended 650,000): the row reconciles, but the Summary's GEN
    # adjustments stay 50,000 - 25,000 = 25,000 against rows adding up to 125,000
    wb = openpyxl.load_workbook(trueup["xlsx"])
    ws = wb["True-up"]
    row = next(r for r in ws.iter_rows() if r[0].value == "A1" and r[2].value == "GEN")
    for cell, value in zip((row[4], row[5], row[7], row[9]), (650_000, 150_000, 150_000,
                                                              650_000), strict=True):
        cell.value = value
    path = trueup["tmp"] / "edited.xlsx"
    wb.save(path)
    assert ("edited.xlsx Summary sheet, row 5, column 'Adjustments': the GEN adjustments are "
            "$25,000.00, but the True-up sheet's rows add up to $125,000.00: the file was "
            "edited.") in refused(trueup, path)


def test_a_damaged_trueup_workbook_is_a_file_error_not_an_internal_error(
        trueup: dict[str, Path]) -> None:
    damaged = trueup["tmp"] / "damaged.xlsx"
    with zipfile.ZipFile(trueup["xlsx"]) as src, zipfile.ZipFile(damaged, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet2.xml":  # the True-up sheet, cut short
                data = data[: len(data) // 2]
            dst.writestr(item, data)
    with pytest.raises(FileError, match="damaged.xlsx"):
        read_amendments(damaged, read_district(trueup["district"]))
    r = invoke("validate", trueup["tmp"], "--district", trueup["district"], "--amend", damaged)
    assert r.exit_code == 1 and "damaged.xlsx" in r.output and "internal" not in r.output


def test_a_pipe_or_an_oversized_file_is_refused_before_it_is_read(
        trueup: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = read_district(trueup["district"])
    pipe = trueup["tmp"] / "pipe.csv"
    os.mkfifo(pipe)  # opening it for reading would wait for a writer forever
    with pytest.raises(FileError, match="pipe.csv is not a regular file"):
        read_amendments(pipe, inputs)
    import ssfr_xl.trueup_book as book

    monkeypatch.setattr(book, "MAX_FILE_BYTES", 100)  # the real limit is 50 MB
    size = trueup["csv"].stat().st_size
    with pytest.raises(FileError, match=rf"trueup.csv is {size:,} bytes, more than a true-up "
                                        r"file ssfr-xl writes \(at most 100\)"):
        read_amendments(trueup["csv"], inputs)


# --- amended plans -----------------------------------------------------------------------------

@pytest.fixture
def plans(trueup: dict[str, Path]) -> dict[str, Path]:
    """Blank spring plans (returned as they were built) beside the true-up."""
    r = invoke("build", trueup["district"], "--out", trueup["tmp"] / "returned")
    assert r.exit_code == 0, r.output
    (trueup["tmp"] / "returned" / "manifest.csv").unlink()
    return {**trueup, "returned": trueup["tmp"] / "returned"}


def test_build_amend_never_writes_over_the_trueup_file_in_its_out_folder(
        plans: dict[str, Path]) -> None:
    out = plans["tmp"] / "amended"
    out.mkdir()
    inside = out / "manifest.csv"  # the true-up CSV saved where the manifest goes
    shutil.copy(plans["csv"], inside)
    before = inside.read_bytes()
    r = invoke("build", plans["district"], "--amend", inside, "--returned", plans["returned"],
               "--out", out, "--force")
    assert r.exit_code == 2
    assert "is the true-up file (--amend)" in r.output and "never writes over its inputs" in \
        r.output
    assert inside.read_bytes() == before and sorted(p.name for p in out.iterdir()) == [
        "manifest.csv"]


def test_a_hostile_reason_reaches_the_amended_plan_only_as_visible_text(
        plans: dict[str, Path]) -> None:
    hostile = '"=HYPERLINK(""http://x"",""Click"") \x07 raised"'
    text = plans["csv"].read_text(encoding="utf-8").splitlines()
    text[1] = SPRING_A1_GEN + hostile + "x" * 3000
    path = plans["tmp"] / "reason.csv"
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    out = plans["tmp"] / "amended"
    r = invoke("build", plans["district"], "--amend", path, "--returned", plans["returned"],
               "--out", out)
    assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(next(out.glob("A1_*.xlsx")))
    cells = [c for row in wb["Allocation"].iter_rows() for c in row
             if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert len(cells) == 1 and cells[0].data_type == "s"  # text, never a formula
    assert "\\x07" in cells[0].value and "\x07" not in cells[0].value  # shown, not kept
    assert len(cells[0].value) == 1000 + len(" ... (cut)")
    meta = {r[0]: r[1] for r in wb[SS.META].iter_rows(values_only=True)}
    assert "\x07" not in str(meta["amendment_reason"])


def test_spring_plans_and_a_changed_allocation_are_caught_after_the_amendment(
        plans: dict[str, Path]) -> None:
    # a spring plan of A1 (GEN 500,000) returned after the amendment (GEN 550,000)
    r = invoke("validate", plans["returned"], "--district", plans["district"], "--amend",
               plans["csv"])
    assert r.exit_code == 1
    assert ("not the district's allocation of record (GEN: file $500,000.00, district "
            "$550,000.00; SUPP: file $10,000.00, district $12,000.00)") in r.output
    # an amended plan whose principal typed a bigger allocation over the formula
    out = plans["tmp"] / "amended"
    assert invoke("build", plans["district"], "--amend", plans["csv"], "--returned",
                  plans["returned"], "--out", out).exit_code == 0
    plan = next(out.glob("A1_*.xlsx"))
    wb = openpyxl.load_workbook(plan)
    wb["Allocation"]["E17"] = 950_000
    tampered = plans["tmp"] / "tampered"
    tampered.mkdir()
    wb.save(tampered / plan.name)
    r = invoke("validate", tampered, "--district", plans["district"], "--amend", plans["csv"])
    assert r.exit_code == 1 and "Allocation!E17" in r.output
    assert "GEN: file $950,000.00, district $550,000.00" in r.output


# --- the fall counts and the [trueup] rules -----------------------------------------------------

def test_an_id_in_other_case_is_the_same_school(district: Path, tmp_path: Path) -> None:  # noqa: F811
    # "a1" for A1: matched (a roster counts them as one id), so A1 gets its +50,000 and
    # +2,000 instead of keeping its spring allocation as "missing"
    (tmp_path / "fall.csv").write_text(roster(("a1", "Alder", 110, 12),
                                              ("B2", "Birch", 95, 20)), encoding="utf-8")
    r = invoke("trueup", district, "--counts", tmp_path / "fall.csv", "--policy",
               tmp_path / "policy.toml", "--out", tmp_path / "t.xlsx", "--csv",
               tmp_path / "t.csv")
    assert r.exit_code == 0, r.output
    assert "fall.csv spells A1 as a1: taken as the same school." in r.output
    with (tmp_path / "t.csv").open(encoding="utf-8") as f:
        rows = {(x["school_id"], x["fund"]): x["adjustment"] for x in csv.DictReader(f)}
    assert rows[("A1", "GEN")] == "50000.00" and rows[("A1", "SUPP")] == "2000.00"


def test_an_impossible_count_is_refused(district: Path, tmp_path: Path) -> None:  # noqa: F811
    # 999,999,999,999 pupils x $5,000 would be $5 quadrillion: past what money is exact to
    (tmp_path / "fall.csv").write_text(roster(("A1", "Alder", 999_999_999_999, 12),
                                              ("B2", "Birch", 95, 20)), encoding="utf-8")
    r = invoke("trueup", district, "--counts", tmp_path / "fall.csv", "--policy",
               tmp_path / "policy.toml", "--out", tmp_path / "t.xlsx")
    assert r.exit_code == 1
    assert ("fall.csv: school A1 (Alder) has 999,999,999,999 pupils in the fall counts; no "
            "school has more than 100,000.") in r.output
    assert not (tmp_path / "t.xlsx").exists()


def test_a_policy_saved_with_a_byte_order_mark_gives_its_rules(district: Path,  # noqa: F811
                                                                tmp_path: Path) -> None:
    policy = rules_file(tmp_path, "[trueup]\nhold_harmless = true\n")
    policy.write_bytes(b"\xef\xbb\xbf" + policy.read_bytes())  # as Notepad saves UTF-8
    (tmp_path / "fall.csv").write_text(roster(("A1", "Alder", 110, 12),
                                              ("B2", "Birch", 95, 20)), encoding="utf-8")
    r = invoke("trueup", district, "--counts", tmp_path / "fall.csv", "--policy", policy,
               "--out", tmp_path / "t.xlsx", "--csv", tmp_path / "t.csv")
    assert r.exit_code == 0, r.output
    with (tmp_path / "t.csv").open(encoding="utf-8") as f:
        b2 = next(x for x in csv.DictReader(f) if (x["school_id"], x["fund"]) == ("B2", "GEN"))
    assert (b2["rule"], b2["adjustment"]) == ("hold harmless", "0.00")  # -25,000 held


# --- last year's district workbook --------------------------------------------------------------

def test_init_never_replaces_last_years_workbook(district: Path, tmp_path: Path) -> None:  # noqa: F811
    before = district.read_bytes()
    r = invoke("init", district, "--roster", tmp_path / "spring.csv", "--policy",
               tmp_path / "policy.toml", "--prior-workbook", district, "--force")
    assert r.exit_code == 2
    assert "is last year's district workbook (--prior-workbook)" in r.output
    assert district.read_bytes() == before


def test_a_prior_workbook_that_is_not_a_district_workbook_says_so(
        trueup: dict[str, Path]) -> None:
    tmp = trueup["tmp"]
    for prior, says in ((trueup["xlsx"], "sheet 'Policy' is missing"),
                        (trueup["csv"], "not an Excel workbook")):
        r = invoke("init", tmp / "year2.xlsx", "--roster", tmp / "fall.csv", "--policy",
                   tmp / "policy.toml", "--prior-workbook", prior)
        assert r.exit_code == 1
        assert "Last year's district workbook (--prior-workbook): " in r.output and says in \
            r.output
        assert not (tmp / "year2.xlsx").exists()


def test_a_prior_workbook_of_the_same_year_is_warned(district: Path, tmp_path: Path) -> None:  # noqa: F811
    copy = tmp_path / "copy.xlsx"
    shutil.copy(district, copy)
    r = invoke("init", tmp_path / "year2.xlsx", "--roster", tmp_path / "spring.csv",
               "--policy", tmp_path / "policy.toml", "--prior-workbook", copy)
    assert r.exit_code == 0, r.output
    assert ("Warning: copy.xlsx is for fiscal year 2026-27, the same as this workbook: is it "
            "last year's district workbook?") in r.output
