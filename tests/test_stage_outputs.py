"""The exports are written by a forked process beside the totals workbook: the same files as
written in one process, and a failure on either side publishes nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ssfr_xl import exports, totals_book
from ssfr_xl.report import consolidate_folder
from ssfr_xl.school_book import file_name, plan_specs
from ssfr_xl.season import create_district
from ssfr_xl.validate import district_record
from tests.season import varied_plan, write_plan


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("stage")
    district = root / "district.xlsx"
    create_district(district, sample=4, force=True)
    returned = root / "returned"
    returned.mkdir()
    for i, spec in enumerate(plan_specs(district_record(district).result)):
        write_plan(spec, returned / file_name(spec.school), varied_plan(spec, i))
    return district, returned


def _run(season: tuple[Path, Path], out: Path) -> None:
    district, returned = season
    out.mkdir(exist_ok=True)
    consolidate_folder(district, returned, out / "totals.xlsx", out / "exports", workers=1)


def test_forked_exports_are_the_files_one_process_writes(season, tmp_path, monkeypatch):
    _run(season, tmp_path / "forked")
    monkeypatch.setattr("multiprocessing.get_all_start_methods", lambda: ["spawn"])
    _run(season, tmp_path / "here")
    forked = sorted(p.name for p in (tmp_path / "forked" / "exports").iterdir())
    assert forked == sorted(p.name for p in (tmp_path / "here" / "exports").iterdir())
    assert len(forked) == 2 * len(totals_book.SHEETS)
    for name in forked:
        if name.endswith(".csv"):  # the .xlsx twins carry their creation time
            assert (tmp_path / "forked" / "exports" / name).read_bytes() == \
                (tmp_path / "here" / "exports" / name).read_bytes(), name


@pytest.mark.parametrize("side", ["exports", "totals"])
def test_a_failure_on_either_side_publishes_nothing(season, tmp_path, monkeypatch, side):
    def fail(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    if side == "exports":
        monkeypatch.setattr(exports, "write_xlsx_table", fail)
    else:
        monkeypatch.setattr(totals_book, "write_totals_workbook", fail)
    with pytest.raises(OSError, match="No space left"):
        _run(season, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []  # no totals, no exports, no staging


def test_the_exports_process_is_another_process(tmp_path):
    import os

    from ssfr_xl.consolidate import _start_beside

    mark = tmp_path / "pid"
    wait = _start_beside(lambda: mark.write_text(str(os.getpid())))
    wait()
    assert int(mark.read_text()) != os.getpid()  # this machine forks, and has two cores
    boom = _start_beside(lambda: (_ for _ in ()).throw(ValueError("odd")))
    with pytest.raises(RuntimeError, match="odd"):
        boom()


def test_a_large_process_writes_its_exports_itself(tmp_path, monkeypatch):
    import os

    monkeypatch.setattr(sys.modules["ssfr_xl.consolidate"], "_FORK_AT_MOST", 0)
    mark = tmp_path / "pid"
    wait = sys.modules["ssfr_xl.consolidate"]._start_beside(
        lambda: mark.write_text(str(os.getpid())))
    wait()
    assert int(mark.read_text()) == os.getpid()  # over the limit: written here, not forked
