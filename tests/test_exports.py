"""CSV exports and their .xlsx twins: ids stay text, numbers stay numbers, text stays safe.

The CSV is for programs: values are written as they are (no `="..."`, no tab or apostrophe
glued to an id), so Python's csv module and pandas read exactly the ids and amounts. Text that a
spreadsheet would turn into another number (a 14-digit CDS code, a leading zero, an exponent)
is quoted, so LibreOffice's "Format quoted field as text" import keeps it; the .xlsx twin is
what a person opens: ids are text cells there, whatever the spreadsheet.
"""

from __future__ import annotations

import csv
import io
import subprocess
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssfr_xl.exports import (
    amount,
    changed_by_spreadsheets,
    csv_text,
    twin_path,
    write_xlsx_table,
)

CDS = "01999996000013"


# --- which text a spreadsheet would change ------------------------------------------------------


@pytest.mark.parametrize("text", [CDS, "0790", "007", "-0790", "123456789012", "1E5", "2.5e-3",
                                  "1234567890.123456789", "0012.50"])
def test_text_a_spreadsheet_would_turn_into_another_number(text: str) -> None:
    assert changed_by_spreadsheets(text)


@pytest.mark.parametrize("text", ["1000", "0", "0.5", "-252718.40", "12345678901", "GEN",
                                  "LCFF-SC", "2026-27", "", "0x10", "1 000", "E5", "01 Jan"])
def test_text_a_spreadsheet_keeps(text: str) -> None:
    assert not changed_by_spreadsheets(text)


# --- the CSV ------------------------------------------------------------------------------------


def test_ids_are_quoted_numbers_are_not() -> None:
    text = csv_text(["school_id", "school_name", "amount", "count"],
                    [[CDS, "Alpha Elementary", amount(1234.5), 3],
                     ["0790", "Beta, K-8", amount(-0.004), 2.5]])
    assert text.splitlines() == [
        "school_id,school_name,amount,count",
        f'"{CDS}",Alpha Elementary,1234.50,3',
        '"0790","Beta, K-8",0.00,2.5',
    ]


def test_python_and_pandas_read_the_values_as_they_are() -> None:
    import pandas as pd

    text = csv_text(["school_id", "amount", "note"],
                    [[CDS, amount(1234.5), "=HYPERLINK(x)"], ["01612596001754", amount(-7), ""]])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["school_id"] for r in rows] == [CDS, "01612596001754"]
    assert [r["amount"] for r in rows] == ["1234.50", "-7.00"]
    frame = pd.read_csv(io.StringIO(text), dtype={"school_id": str})
    assert list(frame["school_id"]) == [CDS, "01612596001754"]
    assert list(frame["amount"]) == [1234.5, -7.0]
    assert "=" not in text.split("\n", 1)[1].replace("'=HYPERLINK", ""), "no =\"...\" wrapping"


# without "\r": the csv module leaves a lone carriage return unquoted when lines end in "\n",
# which a reader can take for a line end; ssfr-xl quotes it (see the read-back test below)
_plain_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"),
                      max_size=12).filter(lambda s: not changed_by_spreadsheets(s))


@given(st.lists(st.lists(st.one_of(_plain_text, st.integers(), st.floats(allow_nan=False)),
                         min_size=2, max_size=4), max_size=4))
def test_other_values_are_written_as_the_csv_module_writes_them(rows) -> None:
    from ssfr_xl.exports import safe_text

    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\n")
    writer.writerow(["a", "b"])
    for row in rows:
        writer.writerow([safe_text(v) for v in row])
    assert csv_text(["a", "b"], rows) == expected.getvalue()


@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
                min_size=1, max_size=5))
def test_every_text_reads_back_as_written(values: list[str]) -> None:
    from ssfr_xl.exports import safe_text

    text = csv_text(["v"] * len(values), [values])
    back = next(iter(csv.reader(io.StringIO(text[text.index("\n") + 1:], newline=""))))
    assert back == [safe_text(v) for v in values]


def test_amount_is_two_decimals_and_never_minus_zero() -> None:
    assert str(amount(1234.5)) == "1234.50"
    assert str(amount(-0.001)) == "0.00"
    assert str(amount(2.675)) == "2.68"  # Excel's ROUND, not binary rounding
    assert amount(-12.345) == Decimal("-12.35")


# --- the .xlsx twin -------------------------------------------------------------------------------


def test_twin_path() -> None:
    assert twin_path(Path("out/allocations.csv")) == Path("out/allocations.xlsx")
    assert twin_path(Path("out/ALLOC.CSV")) == Path("out/ALLOC.xlsx")
    assert twin_path(Path("out/allocations.txt")) == Path("out/allocations.txt.xlsx")
    assert twin_path(Path("allocations")) == Path("allocations.xlsx")


def test_the_twin_keeps_ids_as_text_and_numbers_as_numbers(tmp_path: Path) -> None:
    target = tmp_path / "allocations.xlsx"
    header = ["school_id", "school_name", "component", "amount", "count", "note"]
    rows = [[CDS, "Alpha Elementary", "BASE", amount(1234.5), 3, "=1+2"],
            ["0790", "A much longer school name than the header", "POV", amount(-5), 2.5,
             "+cmd|' /C calc'!A0"]]
    write_xlsx_table(target, header, rows)
    wb = openpyxl.load_workbook(target)
    ws = wb.active
    assert ws.title == "allocations"
    assert [c.value for c in ws[1]] == header
    assert all(c.font.b for c in ws[1]), "header bold"
    assert ws.freeze_panes == "A2"
    assert [(c.value, c.data_type) for c in ws[2]] == [
        (CDS, "s"), ("Alpha Elementary", "s"), ("BASE", "s"), (1234.5, "n"), (3, "n"),
        ("=1+2", "s")]
    assert ws["A3"].value == "0790" and ws["A3"].data_type == "s"
    assert ws["F3"].value == "+cmd|' /C calc'!A0" and ws["F3"].data_type == "s"
    assert ws["D2"].number_format == "#,##0.00"
    widths = {k: d.width for k, d in ws.column_dimensions.items()}
    assert widths["A"] >= len(CDS) and widths["B"] > widths["C"]
    assert widths["B"] <= 60


def test_the_twin_holds_any_text_a_cell_can(tmp_path: Path) -> None:
    target = tmp_path / "t.xlsx"
    write_xlsx_table(target, ["v"], [["bell\x07 and \ud800"], ["x" * 40_000]])
    ws = openpyxl.load_workbook(target).active
    assert ws["A2"].value == "bell\\x07 and \\ud800"
    assert len(ws["A3"].value) <= 32767


def test_a_sheet_title_is_made_valid(tmp_path: Path) -> None:
    target = tmp_path / "a[b]c*d?e:f.xlsx"
    write_xlsx_table(target, ["v"], [[1]])
    assert openpyxl.load_workbook(target).active.title == "a_b_c_d_e_f"


# --- opened in a real spreadsheet -------------------------------------------------------------


def _libreoffice_opens(soffice: str, csv_files: list[Path], out_dir: Path,
                       quoted_as_text: bool) -> dict[str, list[list[object]]]:
    """Each CSV as LibreOffice's import reads it (UTF-8, comma, quote), saved as .xlsx and read
    back with openpyxl: {file stem: rows of values}."""
    from ssfr_xl.libreoffice import _SOFFICE_FLAGS, _profile

    options = f"44,34,76,1,,1033,{'true' if quoted_as_text else 'false'}"
    with _profile() as profile:
        done = subprocess.run([soffice, *_SOFFICE_FLAGS, profile, f"--infilter=CSV:{options}",
                               "--convert-to", "xlsx", "--outdir", str(out_dir),
                               *map(str, csv_files)], capture_output=True, text=True,
                              timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    read = {}
    for f in csv_files:
        ws = openpyxl.load_workbook(out_dir / f"{f.stem}.xlsx").active
        read[f.stem] = [[c.value for c in row] for row in ws.iter_rows()]
    return read


@pytest.mark.libreoffice
def test_libreoffice_keeps_the_ids_of_an_export_as_text(soffice: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from ssfr_xl.cli import cli

    district = tmp_path / "district.xlsx"
    runner = CliRunner()
    assert runner.invoke(cli, ["init", str(district), "--sample", "3"]).exit_code == 0
    ours = tmp_path / "allocations.csv"
    assert runner.invoke(cli, ["allocate", str(district), "--csv", str(ours)]).exit_code == 0
    with ours.open(newline="", encoding="utf-8") as fh:
        expected = list(csv.reader(fh))
    ids = [r[0] for r in expected[1:]]
    assert all(len(i) == 14 and i.startswith("0") for i in ids)
    plain = tmp_path / "plain.csv"  # the same table as a CSV writer without the rule writes it
    with plain.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(expected)

    read = _libreoffice_opens(soffice, [ours, plain], tmp_path / "lo", quoted_as_text=True)

    assert [r[0] for r in read["allocations"][1:]] == ids, "ids stay text, leading zero kept"
    amounts = [r[4] for r in read["allocations"][1:]]
    assert all(isinstance(a, int | float) for a in amounts), "amounts stay numbers"
    assert amounts == pytest.approx([float(r[4]) for r in expected[1:]])
    assert [r[1] for r in read["allocations"][1:]] == [r[1] for r in expected[1:]]
    # the control: without the quotes LibreOffice makes the ids numbers and loses the zero
    assert all(isinstance(r[0], int | float) for r in read["plain"][1:])


@pytest.mark.libreoffice
def test_libreoffice_reads_the_twin_with_ids_as_text(soffice: str, tmp_path: Path) -> None:
    target = tmp_path / "t.xlsx"
    write_xlsx_table(target, ["school_id", "amount"], [[CDS, amount(10)]])
    from ssfr_xl.libreoffice import recalculate

    (back,) = recalculate([target], tmp_path / "lo")
    ws = openpyxl.load_workbook(back).active
    assert (ws["A2"].value, ws["A2"].data_type) == (CDS, "s")
    assert ws["B2"].value == 10


# --- outputs only into folders that exist ---------------------------------------------------------


def test_no_writer_creates_a_missing_folder(tmp_path: Path) -> None:
    from ssfr_xl.exports import (
        MissingFolderError,
        OutputSet,
        atomic_target,
        check_writable,
        write_csv,
    )

    missing = tmp_path / "no" / "such"
    with pytest.raises(MissingFolderError,
                       match=r"Cannot write in .*no/such: the folder does not exist"):
        write_csv(missing / "a.csv", ["a"], [[1]])
    with pytest.raises(MissingFolderError):
        with atomic_target(missing / "a.xlsx"):
            pass
    with pytest.raises(MissingFolderError):
        write_xlsx_table(missing / "a.xlsx", ["a"], [[1]])
    with pytest.raises(MissingFolderError):
        check_writable(missing)
    outputs = OutputSet()
    with pytest.raises(MissingFolderError):
        outputs.file(missing / "totals.xlsx")
    with pytest.raises(MissingFolderError):
        outputs.folder(missing / "exports")  # the folder itself may be new, not its parent
    outputs.discard()
    assert list(tmp_path.iterdir()) == []


def test_an_output_folder_may_be_new(tmp_path: Path) -> None:
    from ssfr_xl.exports import OutputSet

    outputs = OutputSet()
    staged = outputs.folder(tmp_path / "exports")
    (staged / "a.csv").write_text("a\n")
    outputs.publish()
    assert [p.name for p in tmp_path.iterdir()] == ["exports"]
    assert (tmp_path / "exports" / "a.csv").read_text() == "a\n"


def test_the_same_table_gives_the_same_bytes(tmp_path: Path) -> None:
    import time
    import zipfile

    rows = [[CDS, "Alpha", amount(1.5)]]
    write_xlsx_table(tmp_path / "a.xlsx", ["school_id", "name", "amount"], rows)
    time.sleep(1.1)  # openpyxl stamps the time of saving; the twin must not
    write_xlsx_table(tmp_path / "b.xlsx", ["school_id", "name", "amount"], rows, sheet="a")
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.xlsx") as z:
        assert z.testzip() is None
        assert b"2000-01-01T00:00:00Z" in z.read("docProps/core.xml")
    assert openpyxl.load_workbook(tmp_path / "a.xlsx").active["A2"].value == CDS
