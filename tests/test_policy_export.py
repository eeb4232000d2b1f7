"""`export` writes the district workbook's current policy, roster and adjustments so that
`init` from them gives the same allocations to the cent, and every edit carries forward."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from ssfr_xl.district_book import read_district, write_district
from ssfr_xl.errors import OutputExistsError
from ssfr_xl.formula import allocate
from ssfr_xl.model import Component, DistrictInputs
from ssfr_xl.policy import load_policy
from ssfr_xl.policy_export import export_district
from ssfr_xl.season import create_district
from ssfr_xl.sources import read_roster_csv
from ssfr_xl.sources.adjustments import read_adjustments_csv
from tests.strategies import random_inputs_seeded
from tests.test_district_book import sample_inputs


def rebuilt(tmp_path: Path, workbook: Path) -> DistrictInputs:
    """Export the workbook, then read the files back as `init` does."""
    files = {k: tmp_path / name for k, name in
             (("policy", "policy.toml"), ("roster", "roster.csv"),
              ("adjustments", "adjustments.csv"))}
    export_district(workbook, **files)
    policy = load_policy(files["policy"])
    schools = read_roster_csv(files["roster"], policy.policy.roster_columns)
    lines = read_adjustments_csv(files["adjustments"], policy.policy, schools)
    district = policy.district(policy.settings["name"], policy.settings["cds_code"], schools)
    return DistrictInputs(district, policy.policy, tuple(schools), lines)


def same_allocations(a: DistrictInputs, b: DistrictInputs) -> None:
    pd.testing.assert_frame_equal(allocate(a).table(), allocate(b).table(), check_exact=True)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_export_then_init_gives_the_same_allocations(tmp_path: Path, seed: int) -> None:
    inputs = random_inputs_seeded(seed, 9)
    write_district(tmp_path / "d.xlsx", inputs)
    back = rebuilt(tmp_path, tmp_path / "d.xlsx")
    workbook = read_district(tmp_path / "d.xlsx")
    assert back.policy == workbook.policy  # parameters a component does not use read as 0
    assert back.schools == inputs.schools
    assert back.adjustments == inputs.adjustments
    assert back.district == inputs.district
    same_allocations(back, inputs)


def test_edits_in_the_workbook_carry_forward(tmp_path: Path) -> None:
    inputs = sample_inputs(12)
    path = tmp_path / "d.xlsx"
    write_district(path, inputs)
    wb = openpyxl.load_workbook(path)
    policy = wb["Policy"]
    for name, value in (("Rate_POV", 0.2), ("Span_Weight_4", 1.31), ("Max_Loss", 0.05),
                        ("Transition_Mode", "cap_gains"), ("Gain_Cap", 0.04)):
        sheet, ref = next(iter(wb.defined_names[name].destinations))
        wb[sheet][ref.replace("$", "")] = value
    sheet, ref = next(iter(wb.defined_names["Round_FOUND"].destinations))
    policy[ref.replace("$", "")] = "dollar"
    wb["Adjustments"]["A5"] = inputs.schools[3].school_id
    wb["Adjustments"]["B5"] = "ADJ"
    wb["Adjustments"]["C5"] = -1234.5
    wb["Adjustments"]["D5"] = "Baseline staffing held back"
    wb.save(path)
    edited = read_district(path)
    assert edited.policy != inputs.policy  # the edits are read
    back = rebuilt(tmp_path, path)
    assert back.policy == edited.policy and back.adjustments == edited.adjustments
    same_allocations(back, edited)
    # Adding a component keeps every edited weight: the exported policy is the new base.
    text = (tmp_path / "policy.toml").read_text(encoding="utf-8")
    assert "rate = 0.2\n" in text and 'transition_mode = "cap_gains"' in text
    added = replace(back.policy, components=(
        *back.policy.components[:-1],
        Component("ARTS", "Arts", "per_pupil", "GEN", ("enrollment",), rate=10.0),
        back.policy.components[-1]))
    pov = next(c for c in added.components if c.code == "POV")
    assert pov.rate == 0.2


def test_init_from_the_exported_files_rebuilds_the_workbook(tmp_path: Path) -> None:
    path = tmp_path / "d.xlsx"
    write_district(path, sample_inputs(6))
    export_district(path, policy=tmp_path / "p.toml", roster=tmp_path / "r.csv",
                    adjustments=tmp_path / "a.csv")
    create_district(tmp_path / "again.xlsx", roster=tmp_path / "r.csv",
                    policy_path=tmp_path / "p.toml", adjustments=tmp_path / "a.csv")
    same_allocations(read_district(tmp_path / "again.xlsx"), read_district(path))


def test_export_never_overwrites_without_force(tmp_path: Path) -> None:
    path = tmp_path / "d.xlsx"
    write_district(path, sample_inputs(3))
    (tmp_path / "p.toml").write_text("keep me", encoding="utf-8")
    with pytest.raises(OutputExistsError):
        export_district(path, policy=tmp_path / "p.toml")
    assert (tmp_path / "p.toml").read_text(encoding="utf-8") == "keep me"
    export_district(path, policy=tmp_path / "p.toml", force=True)
    assert load_policy(tmp_path / "p.toml").policy == read_district(path).policy


def test_the_command_line_round_trip(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from ssfr_xl.cli import cli

    run = CliRunner().invoke
    first = tmp_path / "d.xlsx"
    assert run(cli, ["init", str(first), "--sample", "5"]).exit_code == 0
    school = read_district(first).schools[2].school_id
    (tmp_path / "adj.csv").write_text(
        f"school_id,component,amount,reason\n{school},ADJ,2500.5,Baseline staffing supplement\n",
        encoding="utf-8")
    again = tmp_path / "again.xlsx"
    out = run(cli, ["init", str(again), "--sample", "5", "--adjustments",
                    str(tmp_path / "adj.csv")])
    assert out.exit_code == 0, out.output
    [line] = read_district(again).adjustments
    assert (line.school_id, line.component, line.amount) == (school, "ADJ", 2500.5)
    files = [tmp_path / n for n in ("p.toml", "r.csv", "a.csv")]
    out = run(cli, ["export", str(again), "--policy", str(files[0]), "--roster", str(files[1]),
                    "--adjustments", str(files[2])])
    assert out.exit_code == 0, out.output
    assert "1 adjustment lines" in out.output
    third = tmp_path / "third.xlsx"
    out = run(cli, ["init", str(third), "--policy", str(files[0]), "--roster", str(files[1]),
                    "--adjustments", str(files[2])])
    assert out.exit_code == 0, out.output
    same_allocations(read_district(third), read_district(again))


def test_a_bad_adjustments_file_names_line_and_column(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from ssfr_xl.cli import cli

    (tmp_path / "adj.csv").write_text(
        "school_id,component,amount,reason\nNOPE,ADJ,12,Other\n"
        "01999996000013,BASE,x,\n", encoding="utf-8")
    out = CliRunner().invoke(cli, ["init", str(tmp_path / "d.xlsx"), "--sample", "5",
                                   "--adjustments", str(tmp_path / "adj.csv")])
    assert out.exit_code == 1
    assert "adj.csv line 2, column 'school_id': 'NOPE' is not a school of the roster" in out.output
    assert "adj.csv line 3, column 'component': 'BASE' is not an adjustment component" in out.output
    assert "adj.csv line 3, column 'amount'" in out.output
    assert "adj.csv line 3, column 'reason'" in out.output
    assert not (tmp_path / "d.xlsx").exists()
