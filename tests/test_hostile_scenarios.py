"""Red team: scenario files for `ssfr-xl compare`, from a careless budget officer and a
hostile sender, and what they leave in the comparison workbook and CSV.

The district is tests/test_scenario.py's three schools (100, 100 and 200 pupils; 30, 10 and 0
English learners; EL weight 0.25 on the base; budget $861,000, base rate 861,000 / 410 =
$2,100). With the EL weight at 0.5 the base units are 400 + 0.5 x 40 = 420 and the base rate
861,000 / 420 = $2,050: School 1 gains +$10,000 (100 x -50 + 30 x 0.5 x 2,050 - 30 x 0.25 x
2,100 = -5,000 + 30,750 - 15,750), School 3 loses 200 x 50 = $10,000.
"""

from __future__ import annotations

import csv
import os
import signal
import warnings
import zipfile
from pathlib import Path

import openpyxl
import pytest

from ssfr_xl.district_book import write_district
from ssfr_xl.errors import FileError, PolicyError
from ssfr_xl.scenario import load_scenario
from tests.test_cli import assert_exit, run
from tests.test_scenario import three_schools, write

EL_HALF = "[component.EL]\nrate = 0.5\n"


@pytest.fixture()
def district(tmp_path: Path) -> Path:
    path = tmp_path / "district.xlsx"
    write_district(path, three_schools())
    return path


def compare(district: Path, tmp_path: Path, *scenarios: Path) -> tuple[Path, Path, str]:
    out, out_csv = tmp_path / "compare.xlsx", tmp_path / "compare.csv"
    args: list[object] = ["compare", district]
    for s in scenarios:
        args += ["--scenario", s]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an XlsxWriter warning is a fault here
        result = run(*args, "--out", out, "--csv", out_csv)
    assert_exit(result, 0)
    return out, out_csv, result.output


def chart_xml(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return z.read("xl/charts/chart1.xml").decode("utf-8")


# --- how the file is saved ------------------------------------------------------------------------

def test_a_file_saved_with_a_byte_order_mark_reads(tmp_path: Path) -> None:
    path = tmp_path / "notepad.toml"
    path.write_bytes(b"\xef\xbb\xbf" + f'name = "EL 0.5"\n{EL_HALF}'.encode())
    scenario = load_scenario(path, three_schools())
    assert (scenario.name, dict(scenario.values)) == ("EL 0.5", {"component.EL.rate": 0.5})


def test_a_pipe_is_refused_without_waiting_for_it(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe.toml"
    os.mkfifo(pipe)  # opening it would wait for a writer forever (it did, before the fix)

    def hung(_signum: int, _frame: object) -> None:
        raise TimeoutError("load_scenario waited on a pipe")

    before = signal.signal(signal.SIGALRM, hung)
    signal.alarm(10)
    try:
        with pytest.raises(FileError, match="pipe.toml is not a regular file"):
            load_scenario(pipe, three_schools())
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, before)


def test_a_huge_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = write(tmp_path, EL_HALF + "# padding\n" * 120_000, "huge.toml")  # 1.2 MB
    with pytest.raises(PolicyError, match=r"huge.toml is 1,200,\d+ bytes: a scenario file is "
                                          "a few lines"):
        load_scenario(path, three_schools())


@pytest.mark.parametrize(("text", "message"), [
    (f"{EL_HALF}rate = 0.6\n", "scenario.toml: not valid TOML (Cannot overwrite a value (at "
     "line 3"),
    ("[component.EL]\nrate = inf\n", "[component.EL] rate must be a number, not inf."),
    ("[component.EL]\nrate = nan\n", "[component.EL] rate must be a number, not nan."),
    ("[component.EL]\nrate = 1e300\n", "[component.EL] rate must be at most 1e+15, not "
     "1e+300."),
    ("[district]\nbudget = 99999999999999999999\n", "[district] budget must be at most "
     "1e+15, not 1e+20."),
    ("[component.EL]\nrate = -0.25\n", "[component.EL] rate cannot be negative (-0.25)"),
    ("[component.EL]\nrate = TRUE\n", "not valid TOML"),  # TOML's true is lower case
    ("[component.\"\u0415L\"]\nrate = 0.5\n", "[component.\u0415L]: no component '\u0415L' in the "
     "district workbook; its components are: BASE, EL."),  # a Cyrillic Е
])
def test_odd_values_name_the_key_and_what_to_type(tmp_path: Path, text: str,
                                                  message: str) -> None:
    with pytest.raises(PolicyError) as e:
        load_scenario(write(tmp_path, text), three_schools())
    assert message in str(e.value)


# --- the name and description ---------------------------------------------------------------------

@pytest.mark.parametrize(("name", "message"), [
    ("Bell\\u0007", "scenario.toml: name holds the character U+0007, which a workbook cannot "
     "show; delete it."),
    ("Clear\\u001b[2J", "name holds the character U+001B"),
    ("Two\\nlines", "name holds the character U+000A"),
    ("x" * 81, "scenario.toml: name is 81 characters; keep it to 80"),
])
def test_a_name_a_workbook_or_terminal_cannot_show_is_refused(tmp_path: Path, name: str,
                                                              message: str) -> None:
    with pytest.raises(PolicyError) as e:
        load_scenario(write(tmp_path, f'name = "{name}"\n{EL_HALF}'), three_schools())
    assert message in str(e.value)


def test_a_description_may_hold_lines_but_no_control_characters(tmp_path: Path) -> None:
    ok = write(tmp_path, f'name = "A"\ndescription = """Line one\nline two"""\n{EL_HALF}')
    assert load_scenario(ok, three_schools()).description == "Line one\nline two"
    bad = write(tmp_path, f'name = "A"\ndescription = "nul \\u0000"\n{EL_HALF}', "bad.toml")
    with pytest.raises(PolicyError, match=r"bad.toml: description holds the character U\+0000"):
        load_scenario(bad, three_schools())


def test_a_blank_name_takes_the_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, f'name = "   "\n{EL_HALF}', "el-half.toml")
    assert load_scenario(path, three_schools()).name == "el-half"


def test_a_scenario_called_today_is_told_apart_from_today(district: Path,
                                                          tmp_path: Path) -> None:
    out, _csv, printed = compare(district, tmp_path,
                                 write(tmp_path, f'name = "today"\n{EL_HALF}', "t.toml"))
    assert "today (1) (t.toml): EL rate 0.25 -> 0.5" in printed
    ws = openpyxl.load_workbook(out)["Summary"]
    names = [r[0] for r in ws.iter_rows(min_row=5, values_only=True) if r[0]]
    assert names == ["Today", "today (1)"]


def test_formula_text_in_a_name_stays_text_everywhere(district: Path, tmp_path: Path) -> None:
    name = '=HYPERLINK("http://evil.example","Click")'
    scenario = write(tmp_path, f"name = '{name}'\n{EL_HALF}", "evil.toml")
    out, out_csv, printed = compare(district, tmp_path, scenario)
    wb = openpyxl.load_workbook(out)
    texts = [c for ws in wb for row in ws.iter_rows() for c in row
             if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert texts and all(c.data_type == "s" for c in texts)  # no cell holds a formula
    assert wb["Schools"]["H4"].value == f"{name}: total"
    with out_csv.open(encoding="utf-8") as f:
        first = next(csv.DictReader(f))
    assert first["scenario"] == "'" + name  # CSV text cannot run when opened
    # School 1 under the scenario: +10,000 (see the module docstring)
    assert (first["school_id"], first["change"], first["result"]) == ("S1", "10000.00",
                                                                      "Winner")
    assert "<c:v>=HYPERLINK(" in chart_xml(out)  # the chart's series name: literal text


@pytest.mark.parametrize("name", ["=Nowhere!$A$1", "Up!B2 plan", "=Schools!A1"])
def test_a_name_like_a_cell_reference_is_the_series_name_not_a_reference(
        district: Path, tmp_path: Path, name: str) -> None:
    # XlsxWriter reads a series name like Sheet!A1 as a reference: a sheet that does not exist
    # made a warning and a chart Excel repairs; a real one showed another cell's text
    from ssfr_xl.compare_book import chart_name

    out, _csv, _printed = compare(district, tmp_path,
                                  write(tmp_path, f"name = '{name}'\n{EL_HALF}"))
    xml = chart_xml(out)
    assert "<c:strRef>" not in xml.split("<c:cat>")[0]  # the series' name is not a reference
    assert f"<c:v>{chart_name(name)}</c:v>" in xml
    assert chart_name(name).replace("\u200b", "") == name  # shows the same


def test_outputs_pointed_at_a_scenario_file_are_refused(district: Path,
                                                        tmp_path: Path) -> None:
    scenario = write(tmp_path, EL_HALF)
    result = run("compare", district, "--scenario", scenario, "--out", tmp_path / "c.xlsx",
                 "--csv", scenario)
    assert_exit(result, 2)
    assert "is the scenario file" in result.output and scenario.read_text() == EL_HALF
    assert not (tmp_path / "c.xlsx").exists()
