"""Hostile and careless input to the carryover (init --carryover): the policy's [carryover]
section and last year's By School table. Each test is one attack; every refusal must name the
file, the line/row and column, and what to change, never a traceback, hang or wrong cent.
Fast: parsed directly (no district is built, no LibreOffice)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
import xlsxwriter
from click.testing import CliRunner

from ssfr_xl.carryover import carryover_lines, parse_carryover, read_last_year
from ssfr_xl.cells import unwritable_character
from ssfr_xl.cli import cli
from ssfr_xl.errors import FileError, PolicyError, RosterError
from ssfr_xl.policy import parse_policy, template_path

TEMPLATE = template_path("policy.toml").read_text(encoding="utf-8")
CARRY = """
[[component]]
code = "CARRY"
name = "Carryover from last year"
kind = "adjustment"
fund = "GEN"
in_budget = false
"""
HEADER = "school_id,school_name,status,fund,allocation,planned,remaining\n"


def _rules(section: str):
    data = tomllib.loads(TEMPLATE + CARRY + section)
    return parse_carryover(data, "policy.toml", parse_policy(data).policy)


def _csv(tmp_path: Path, body: str, name: str = "by_school.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def _schools(*ids: str):
    return [SimpleNamespace(school_id=i) for i in ids]


# --- the policy section -------------------------------------------------------------------

@pytest.mark.parametrize("cap, message", [
    ('"-5%"', "cap must be a share"),
    ('"NaN"', "cap must be a share"),
    ('"nan%"', "cap must be a share"),
    ("1e309", "cap must be a share"),        # TOML reads inf
    ("-50", "cap must be a share"),
    ('"150%"', "more than 100%"),
    ("true", "cap must be a share"),
    ("100.005", "whole cents"),              # a cap in fractions of a cent is a typo
])
def test_odd_caps_are_refused_by_fund(cap, message):
    with pytest.raises(PolicyError, match=message) as e:
        _rules(f'[carryover.fund.GEN]\ncomponent = "CARRY"\ncap = {cap}\n')
    assert "[carryover.fund.GEN]" in str(e.value)


@pytest.mark.parametrize("cap, share", [('"5 %"', 0.05), ('" 0%"', 0.0), ('"100%"', 1.0)])
def test_spaced_and_zero_shares_are_read(cap, share):
    (rule,) = _rules(f'[carryover.fund.GEN]\ncomponent = "CARRY"\ncap = {cap}\n')
    assert rule.cap_share == share


def test_a_fund_in_the_wrong_case_and_a_component_of_two_funds_are_refused():
    with pytest.raises(PolicyError, match="'gen' is not a fund"):
        _rules('[carryover.fund.gen]\ncomponent = "CARRY"\n')
    with pytest.raises(PolicyError, match="pays from fund 'GEN', not 'TITLE1'"):
        _rules('[carryover.fund.GEN]\ncomponent = "CARRY"\n'
               '[carryover.fund.TITLE1]\ncomponent = "CARRY"\n')
    with pytest.raises(PolicyError, match="component = 5"):
        _rules("[carryover.fund.GEN]\ncomponent = 5\n")


def test_a_dollar_cap_caps_to_the_cent():
    (rule,) = _rules('[carryover.fund.GEN]\ncomponent = "CARRY"\ncap = 1000\n')
    # unspent 5,000.00 - 1,234.56 = 3,765.44 > cap 1,000.00 -> 1,000.00
    (line,), _ = carryover_lines((rule,), [SimpleNamespace(
        school_id="A1", status="accepted", fund="GEN", allocation=5000.0, planned=1234.56,
        where="x")], _schools("A1"), "by_school.csv")
    assert line.amount == 1000.00
    assert "capped at $1,000.00" in line.reason


# --- last year's table: amounts -----------------------------------------------------------

def test_dollar_signs_thousands_and_a_bom_are_read_to_the_cent(tmp_path):
    path = tmp_path / "by_school.csv"
    path.write_bytes(("\ufeff" + HEADER.replace(",", ";") +
                      'A1;Alpha;Accepted ;GEN;$1.234,56;0;\n').encode("utf-8"))
    # semicolons (a European Excel) with a decimal comma: not dollars as written -> refused
    with pytest.raises(RosterError, match="line 2, column allocation"):
        read_last_year(path)
    path.write_bytes(("\ufeff" + HEADER.replace(",", ";") +
                      'A1;Alpha;Accepted ;GEN;"$1,234.56";"$1,000.00";$234.56\n')
                     .encode("utf-8"))
    (row,) = read_last_year(path)
    # 1,234.56 - 1,000.00 = 234.56; status "Accepted " is accepted
    assert (row.status, row.allocation, row.planned) == ("accepted", 1234.56, 1000.0)


@pytest.mark.parametrize("alloc, planned, column", [
    ("-1000", "-2000", "allocation"),   # negative: would carry a negative (hold-back) line
    ("1000", "-50", "planned"),
    ("1e20", "0", "allocation"),        # beyond what a workbook holds to the cent
    ("NaN", "0", "allocation"),
    ("inf", "0", "allocation"),
])
def test_negative_huge_and_non_numbers_are_refused_by_column(tmp_path, alloc, planned, column):
    path = _csv(tmp_path, f"A1,Alpha,accepted,GEN,{alloc},{planned},\n")
    with pytest.raises(RosterError, match=f"line 2, column {column}"):
        read_last_year(path)


def test_a_negative_allocation_never_becomes_a_negative_carryover(tmp_path):
    (rule,) = _rules('[carryover.fund.GEN]\ncomponent = "CARRY"\ncap = "5%"\n')
    rows = [SimpleNamespace(school_id="A1", status="accepted", fund="GEN", allocation=-1000.0,
                            planned=-2000.0, where="x")]
    lines, _ = carryover_lines((rule,), rows, _schools("A1"), "by_school.csv")
    assert all(line.amount >= 0 for line in lines)


# --- last year's table: ids and statuses --------------------------------------------------

def test_an_id_excel_showed_as_1_9e13_is_refused_naming_the_fix(tmp_path):
    path = _csv(tmp_path, "1.9647E+13,Alpha,accepted,GEN,1000,900,100\n")
    with pytest.raises(RosterError, match=r"line 2, column school_id: '1.9647E\+13'.*Text"):
        read_last_year(path)


def test_an_id_that_lost_its_leading_zero_still_finds_its_school(tmp_path):
    (rule,) = _rules('[carryover.fund.GEN]\ncomponent = "CARRY"\n')
    rows = read_last_year(_csv(tmp_path, "1611190130229,Alpha,accepted,GEN,1000,900,100\n"))
    lines, notes = carryover_lines((rule,), rows, _schools("01611190130229"), "by_school.csv")
    # 1,000.00 - 900.00 = 100.00 carried to the school 01611190130229
    assert [(x.school_id, x.amount) for x in lines] == [("01611190130229", 100.0)]


def test_an_unknown_status_is_refused_not_silently_dropped(tmp_path):
    path = _csv(tmp_path, 'A1,Alpha,"=HYPERLINK(""http://x"",""accepted"")",GEN,1000,900,100\n')
    with pytest.raises(RosterError, match="line 2, column status"):
        read_last_year(path)


def test_formula_text_in_a_school_name_never_reaches_the_reason(tmp_path):
    (rule,) = _rules('[carryover.fund.GEN]\ncomponent = "CARRY"\ncap = "5%"\n')
    rows = read_last_year(_csv(tmp_path, '"A1","=HYPERLINK(""http://x"")\x07",Accepted With '
                                         'Warnings,GEN,"1,000.00",900,100\n'))
    (line,), _ = carryover_lines((rule,), rows, _schools("A1"), "by_school.csv")
    # unspent 1,000.00 - 900.00 = 100.00; cap 5% of 1,000.00 = 50.00 -> 50.00
    assert line.amount == 50.00
    assert unwritable_character(line.reason) is None and not line.reason.startswith(("=", "+"))


def test_a_control_character_in_an_id_is_refused(tmp_path):
    path = _csv(tmp_path, "A\x001,Alpha,accepted,GEN,1000,900,100\n")
    with pytest.raises(RosterError, match=r"line 2.*U\+0000"):
        read_last_year(path)


def test_a_fund_twice_in_different_case_is_refused(tmp_path):
    path = _csv(tmp_path, "A1,Alpha,accepted,GEN,1000,900,100\nA1,Alpha,accepted,gen,10,9,1\n")
    with pytest.raises(RosterError, match="line 3: school A1 fund gen again"):
        read_last_year(path)


# --- last year's file itself ---------------------------------------------------------------

def test_a_workbook_without_by_school_and_a_damaged_one_are_file_errors(tmp_path):
    book = tmp_path / "totals.xlsx"
    with xlsxwriter.Workbook(book) as wb:
        wb.add_worksheet("Status")
    with pytest.raises(FileError, match="has no sheet 'By School'"):
        read_last_year(book)
    (tmp_path / "empty.xlsx").write_bytes(b"")
    with pytest.raises(FileError, match="empty.xlsx"):
        read_last_year(tmp_path / "empty.xlsx")
    (tmp_path / "bad.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(FileError, match="bad.xlsx"):
        read_last_year(tmp_path / "bad.xlsx")


def test_a_workbook_with_mangled_numbers_reads_them_as_excel_stored_them(tmp_path):
    book = tmp_path / "totals.xlsx"
    with xlsxwriter.Workbook(book) as wb:
        ws = wb.add_worksheet("By School")
        ws.write_row(0, 0, HEADER.strip().replace("_", " ").split(","))
        ws.write_row(1, 0, [19647330000000, "Alpha", "accepted", "GEN", 1000.10, 900.05, ""])
    (row,) = read_last_year(book)
    # the number 19647330000000 is the id's 14 digits; 1,000.10 - 900.05 = 100.05
    assert (row.school_id, row.allocation, row.planned) == ("19647330000000", 1000.10, 900.05)


def test_a_runaway_quote_and_an_empty_file_are_messages(tmp_path):
    path = tmp_path / "by_school.csv"
    # an unclosed quote swallows the rest of the file into one field past csv's limit
    path.write_bytes(HEADER.encode() + b'A1,"Alpha' + b"x" * 200_000 + b"\n")
    with pytest.raises(RosterError, match="by_school.csv line 2: field larger"):
        read_last_year(path)
    path.write_bytes(b"")
    with pytest.raises(RosterError, match="is empty"):
        read_last_year(path)


def test_a_directory_a_pipe_and_a_huge_file_are_refused_without_reading(tmp_path):
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(FileError, match="dir.csv is not a file"):
        read_last_year(tmp_path / "dir.csv")
    os.mkfifo(tmp_path / "pipe.csv")  # reading it would wait forever for a writer
    with pytest.raises(FileError, match="pipe.csv is not a file"):
        read_last_year(tmp_path / "pipe.csv")
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as f:
        f.truncate(200 * 1024 * 1024)  # sparse: 200 MB on paper, nothing on disk
    with pytest.raises(FileError, match="huge.csv is 200 MB"):
        read_last_year(huge)


def test_the_command_line_exits_1_with_a_message_not_a_traceback(tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(TEMPLATE + CARRY + '[carryover.fund.GEN]\ncomponent = "CARRY"\n',
                      encoding="utf-8")
    last = _csv(tmp_path, "A1,Alpha,accepted,GEN,-5,0,\n")
    run = CliRunner().invoke(cli, ["init", str(tmp_path / "d.xlsx"), "--sample", "3",
                                   "--policy", str(policy), "--carryover", str(last)])
    assert run.exit_code == 1, run.output
    assert run.exception is None or isinstance(run.exception, SystemExit)
    assert "by_school.csv" in run.output and "line 2, column allocation" in run.output
    assert not (tmp_path / "d.xlsx").exists()


def test_a_school_twice_once_without_its_leading_zeros_is_refused(tmp_path):
    (rule,) = _rules('[carryover.fund.GEN]\ncomponent = "CARRY"\n')
    rows = read_last_year(_csv(tmp_path, "0042,Alpha,accepted,GEN,1000,900,100\n"
                                         "42,Alpha,accepted,GEN,1000,900,100\n"))
    with pytest.raises(RosterError, match="line 3: school 42 is school 0042.*line 2"):
        carryover_lines((rule,), rows, _schools("0042"), "by_school.csv")


def test_a_remaining_that_is_not_dollars_is_refused(tmp_path):
    with pytest.raises(RosterError, match="line 2, column remaining: 'lots'"):
        read_last_year(_csv(tmp_path, "A1,Alpha,accepted,GEN,1000,900,lots\n"))
