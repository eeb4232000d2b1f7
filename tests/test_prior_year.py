"""Last year by component: init --prior-workbook and build --prior-workbook, by hand.

Last year is test_trueup's district (base $5,000.00: 1,000,000 / 200 pupils; EL $1,000 in
SUPP). This year A has 120 pupils (12 EL) and B 90 (20 EL), same policy and budget, so the
base is solved again: 1,000,000 / 210 = $4,761.904761...

    A BASE: last 500,000.00, now 120 x 4,761.904761... = 571,428.57, change +71,428.57
            enrollment (120 - 100) x 5,000 = +100,000.00
            rate 120 x (4,761.904761... - 5,000) = -28,571.43;  other 0
    A EL:   10,000 -> 12,000: need (12 - 10) x 1,000 = +2,000.00
"""

from __future__ import annotations

from pathlib import Path

import openpyxl

from ssfr_xl.district_book import read_district
from ssfr_xl.layout import SchoolSheets as SS
from tests.test_trueup import district as district  # noqa: F401  (the fixture)
from tests.test_trueup import invoke, roster


def this_year(last: Path, tmp_path: Path) -> tuple[Path, str]:
    (tmp_path / "roster2.csv").write_text(roster(("A1", "Alder", 120, 12),
                                                 ("B2", "Birch", 90, 20)), encoding="utf-8")
    out = tmp_path / "year2.xlsx"
    r = invoke("init", out, "--roster", tmp_path / "roster2.csv", "--policy",
               tmp_path / "policy.toml", "--prior-workbook", last)
    assert r.exit_code == 0, r.output
    return out, r.output


def test_init_takes_last_years_allocations_and_compares(district: Path,  # noqa: F811
                                                        tmp_path: Path) -> None:
    out, printed = this_year(district, tmp_path)
    prior = {s.school_id: s.prior_year_allocation for s in read_district(out).schools}
    assert prior == {"A1": 500_000.0, "B2": 500_000.0}  # last year's GEN totals
    assert "Against last year (district.xlsx, 2026-27): 2 of 2 schools found there" in printed
    # BASE: 1,000,000 both years; count A +100,000, B -50,000 = +50,000; rate A -28,571.43,
    # B 90 x -238.095238... = -21,428.57: -50,000.00
    assert ("BASE $1,000,000.00 -> $1,000,000.00 count +$50,000.00, rate -$50,000.00, "
            "other $0.00") in " ".join(printed.split())
    assert "Prior-year allocations: each school's unrestricted total in district.xlsx" in printed


def test_the_plan_shows_each_components_change_and_its_causes(district: Path,  # noqa: F811
                                                              tmp_path: Path) -> None:
    out, _ = this_year(district, tmp_path)
    r = invoke("build", out, "--out", tmp_path / "plans", "--prior-workbook", district)
    assert r.exit_code == 0, r.output
    plan = next((tmp_path / "plans").glob("A1_*.xlsx"))
    ws = openpyxl.load_workbook(plan)[SS.ALLOCATION]
    rows = [row for row in ws.iter_rows(values_only=True) if any(v is not None for v in row)]
    start = next(i for i, row in enumerate(rows) if str(row[0]).startswith("Change from last"))
    block = {row[0]: row for row in rows[start + 3:]}
    assert block["BASE"][1] == 500_000.0 and block["BASE"][4] == 71_428.57
    assert block["BASE"][3] == ("enrollment +$100,000.00 (100.00 -> 120.00 weighted pupils at "
                                "last year's $5,000.00); rate -$28,571.43 ($5,000.00 -> "
                                "$4,761.90)")
    assert block["EL"][4] == 2000.0
    assert block["EL"][3] == "need +$2,000.00 (10.00 -> 12.00 pupils at last year's $1,000.00)"
    # all components: last 510,000; change 71,428.57 + 2,000 = 73,428.57
    assert block["All components"][1] == 510_000.0 and block["All components"][4] == 73_428.57
    # shown, not computed with: the plan checks as one built without it
    r_with = invoke("validate", plan, "--district", out, "--format", "csv")
    r = invoke("build", out, "--out", tmp_path / "plain")
    plain = next((tmp_path / "plain").glob("A1_*.xlsx"))
    r_without = invoke("validate", plain, "--district", out, "--format", "csv")
    codes = [line.split(",")[5] for line in r_with.output.splitlines()[1:]]
    assert codes == [line.split(",")[5] for line in r_without.output.splitlines()[1:]]
    assert "allocation-changed" not in r_with.output


def test_prior_options_usage(district: Path, tmp_path: Path) -> None:  # noqa: F811
    r = invoke("init", tmp_path / "x.xlsx", "--cde", district, "--district", "64881",
               "--prior", district, "--prior-workbook", district)
    assert r.exit_code == 2 and "--prior and --prior-workbook" in r.output
    r = invoke("init", tmp_path / "x.xlsx", "--sample", "3", "--prior-workbook",
               tmp_path / "policy.toml")
    assert r.exit_code == 1 and "Traceback" not in r.output
