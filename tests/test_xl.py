"""The optional Excel integration's work is plain Python, testable without Excel."""

from pathlib import Path

from ssfr_xl.season import create_district
from ssfr_xl.xl import engine_check_rows


def test_engine_check_rows_report_the_allocation(tmp_path: Path) -> None:
    district = tmp_path / "district.xlsx"
    create_district(district, sample=5)
    rows = engine_check_rows(district)
    assert rows[0] == ["Agrees with the Python engine"]
    assert any("Base rate" in row[0] for row in rows)


def test_engine_check_rows_explain_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xlsx"
    bad.write_text("not a workbook")
    rows = engine_check_rows(bad)
    assert rows[0] == ["Problem"]
    assert "bad.xlsx" in rows[1][0]
