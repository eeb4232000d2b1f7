"""`ssfr-xl compare`: the hand-computed 3-school district through the command line, the
workbook and the CSV it writes, and its usage and input errors."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest

from ssfr_xl.district_book import write_district
from tests.test_cli import assert_exit, run
from tests.test_scenario import three_schools, write

EL_HALF = 'name = "EL weight 0.50"\n[component.EL]\nrate = 0.5\n'
BUDGET_UP = 'name = "Budget up"\n[district]\nbudget = 902000\n'


@pytest.fixture()
def district(tmp_path: Path) -> Path:
    path = tmp_path / "district.xlsx"
    write_district(path, three_schools())
    return path


def test_compare_prints_winners_losers_and_biggest_changes(district: Path,
                                                            tmp_path: Path) -> None:
    a, b = write(tmp_path, EL_HALF, "el.toml"), write(tmp_path, BUDGET_UP, "budget.toml")
    out, out_csv = tmp_path / "compare.xlsx", tmp_path / "compare.csv"
    result = run("compare", district, "--scenario", a, "--scenario", b, "--out", out,
                 "--csv", out_csv)
    assert_exit(result, 0)
    lines = result.output.splitlines()
    assert lines[0] == ("Compared 3 schools of Three Schools: today and 2 scenarios (a school "
                        "wins or loses when its total changes by more than $0.50).")
    # EL weight 0.50 (tests/test_scenario.py): base rate 2,100 -> 2,050; School 1 +10,000
    # (10,000 / 225,750 = +4.4%), School 2 unchanged, School 3 -10,000 (-2.4%)
    assert lines[1:5] == [
        "EL weight 0.50 (el.toml): EL rate 0.25 -> 0.5",
        "  1 winner, 1 loser, 1 unchanged; base rate $2,100.00 -> $2,050.00",
        "  biggest gain: S1 School 1 +$10,000.00 (+4.4%)",
        "  biggest loss: S3 School 3 -$10,000.00 (-2.4%)",
    ]
    # budget 902,000: base rate 902,000 / 410 = 2,200; School 3 gains 200 x 100 = 20,000
    # (20,000 / 420,000 = +4.8%), the most
    assert lines[5:8] == [
        "Budget up (budget.toml): Budget 861000 -> 902000",
        "  3 winners, 0 losers, 0 unchanged; base rate $2,100.00 -> $2,200.00",
        "  biggest gain: S3 School 3 +$20,000.00 (+4.8%)",
    ]
    assert lines[-1] == f"Wrote {out} and {out_csv}"


def test_compare_workbook_holds_the_hand_computed_figures(district: Path,
                                                           tmp_path: Path) -> None:
    out = tmp_path / "compare.xlsx"
    assert_exit(run("compare", district, "--scenario", write(tmp_path, EL_HALF), "--out", out),
                0)
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["Summary", "Equity", "Schools", "Components",
                             "Winners and losers", "Chart"]
    schools = list(wb["Schools"].iter_rows(min_row=4, values_only=True))
    assert schools[0][:7] == ("School ID", "School", "Level", "Pupils", "High-need share",
                              "Today: total", "Today: per pupil")
    # School 1: 225,750 (2,257.50 per pupil) -> 235,750, +10,000, +100 per pupil, Winner
    assert schools[1][0] == "S1" and schools[1][5:7] == (225_750, 2_257.5)
    assert schools[1][7:9] == (235_750, 10_000) and schools[1][9] == 100
    assert schools[1][10] == pytest.approx(10_000 / 225_750) and schools[1][11] == "Winner"
    assert [r[11] for r in schools[1:]] == ["Winner", "Unchanged", "Loser"]
    summary = list(wb["Summary"].iter_rows(min_row=4, values_only=True))
    assert summary[2][0] == "EL weight 0.50"
    assert summary[2][4:] == (861_000, 0, 1, 1, 1, 10_000, -10_000)
    assert "more than $0.50" in wb["Summary"]["A2"].value
    listed = list(wb["Winners and losers"].iter_rows(min_row=5, values_only=True))
    assert [(r[1], r[2], r[6]) for r in listed] == [("Winner", "S1", 10_000),
                                                    ("Loser", "S3", -10_000)]
    components = list(wb["Components"].iter_rows(min_row=5, values_only=True))
    # School 1's EL: 15,750 -> 30,750 (+15,000; +150 per pupil; +95.2%)
    el = next(r for r in components if r[0] == "S1" and r[2] == "EL")
    assert el[4:10] == (15_750, 157.5, 30_750, 15_000, 150, pytest.approx(15_000 / 15_750))
    equity = list(wb["Equity"].iter_rows(min_row=4, values_only=True))
    assert equity[0][:2] == ("Scenario", "Schools with pupils")
    assert [r[:2] for r in equity[1:]] == [("Today", 3), ("EL weight 0.50", 3)]
    assert len(wb["Chart"]._charts) == 1


def test_compare_csv_is_one_long_table(district: Path, tmp_path: Path) -> None:
    out_csv = tmp_path / "compare.csv"
    assert_exit(run("compare", district, "--scenario", write(tmp_path, EL_HALF), "--out",
                    tmp_path / "c.xlsx", "--csv", out_csv), 0)
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8")))
    assert len(rows) == 3 * (1 + 2)  # each school's TOTAL and its two components
    total = rows[0]
    assert total == {"scenario": "EL weight 0.50", "school_id": "S1", "school_name": "School 1",
                     "component": "TOTAL", "fund": "all", "today": "225750.00",
                     "scenario_amount": "235750.00", "change": "10000.00",
                     "today_per_pupil": "2257.50", "scenario_per_pupil": "2357.50",
                     "change_per_pupil": "100.00", "change_percent": "4.4297",
                     "result": "Winner"}
    base = rows[1]
    # School 1's base: 100 x 2,100 = 210,000 -> 100 x 2,050 = 205,000
    assert (base["component"], base["today"], base["scenario_amount"], base["change"]) == (
        "BASE", "210000.00", "205000.00", "-5000.00")


@pytest.mark.parametrize(("args", "message"), [
    (("--out", "OUT"), "Missing option '--scenario'"),
    (("--scenario", "SCN"), "Missing option '--out'"),
    (("--scenario", "SCN", "--out", "DISTRICT"), "ssfr-xl never writes over its inputs"),
    (("--scenario", "SCN", "--out", "SCN"), "ssfr-xl never writes over its inputs"),
    (("--scenario", "SCN", "--out", "OUT", "--csv", "OUT"), "are the same place"),
])
def test_compare_usage_errors_exit_2(district: Path, tmp_path: Path, args: tuple,
                                     message: str) -> None:
    scenario = write(tmp_path, EL_HALF)
    names = {"OUT": tmp_path / "c.xlsx", "SCN": scenario, "DISTRICT": district}
    result = run("compare", district, *(names.get(a, a) for a in args))
    assert_exit(result, 2)
    assert message in result.output
    assert district.stat().st_size > 0 and scenario.read_text() == EL_HALF


def test_compare_input_errors_exit_1_naming_the_file(district: Path, tmp_path: Path) -> None:
    bad = write(tmp_path, "[component.ELL]\nrate = 0.3\n", "typo.toml")
    out = tmp_path / "c.xlsx"
    result = run("compare", district, "--scenario", bad, "--out", out)
    assert_exit(result, 1)
    assert "typo.toml: [component.ELL]: no component 'ELL' in the district workbook; its " \
           "components are: BASE, EL." in result.output
    assert not out.exists()
    result = run("compare", district, "--scenario", tmp_path / "nope.toml", "--out", out)
    assert_exit(result, 1)
    assert "Scenario file not found" in result.output
    result = run("compare", district, "--scenario", write(tmp_path, EL_HALF), "--out",
                 tmp_path / "missing" / "c.xlsx")
    assert_exit(result, 1)
    assert "the folder does not exist" in result.output
    not_a_workbook = write(tmp_path, "hello", "district.xlsx.txt")
    result = run("compare", not_a_workbook, "--scenario", write(tmp_path, EL_HALF), "--out", out)
    assert_exit(result, 1)
    assert not out.exists()


def test_two_scenarios_with_one_name_are_told_apart(district: Path, tmp_path: Path) -> None:
    a = write(tmp_path, EL_HALF, "a.toml")
    b = write(tmp_path, 'name = "EL weight 0.50"\n[component.EL]\nrate = 0.75\n', "b.toml")
    result = run("compare", district, "--scenario", a, "--scenario", b, "--out",
                 tmp_path / "c.xlsx")
    assert_exit(result, 0)
    assert "EL weight 0.50 (2) (b.toml)" in result.output


def test_the_readme_scenario_commands_work(tmp_path: Path) -> None:
    import os
    import re
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    text = (root / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Scenarios: designing the formula with school leaders"):]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block is not None
    (tmp_path / "templates").symlink_to(root / "templates")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(["bash", "-e", "-c", block.group(1)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "EL weight 0.25 (el-weight.toml): EL rate 0.19 -> 0.25" in run.stdout
    assert (tmp_path / "compare.xlsx").is_file() and (tmp_path / "compare.csv").is_file()
