"""Fuzzing returned plans: mutated files never crash consolidate, every file is listed, and the
totals of the untouched plans never change."""

from __future__ import annotations

import io
import random
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest

from ssfr_xl.consolidate import consolidate
from ssfr_xl.layout import SchoolLayout
from ssfr_xl.school_book import build_school_plan, file_name, plan_specs
from ssfr_xl.season import create_district
from ssfr_xl.sources.demo import demo_plan, fill_plan_workbook
from ssfr_xl.totals_book import season_tables
from ssfr_xl.validate import district_record
from ssfr_xl.xlsx import save_atomically

UNTOUCHED = 6  # schools whose plans stay valid
MUTANTS_PER_KIND = 12


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Path]]:
    """A district, its valid filled plans, and which of them stay untouched."""
    root = tmp_path_factory.mktemp("fuzz")
    district = root / "district.xlsx"
    create_district(district, sample=20)
    record = district_record(district)
    plans = root / "plans"
    plans.mkdir()
    paths = []
    for spec in plan_specs(record.result):
        wb = build_school_plan(spec)
        fill_plan_workbook(wb, spec.policy, demo_plan(spec))
        target = plans / file_name(spec.school)
        save_atomically(wb, target)
        paths.append(target)
    return district, plans, paths


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    """Overwrite a few random bytes anywhere in the file."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        buf[rng.randrange(len(buf))] = rng.randrange(256)
    return bytes(buf)


def mutate_xml(data: bytes, rng: random.Random) -> bytes:
    """Re-zip the workbook with random edits inside one XML part."""
    source = zipfile.ZipFile(io.BytesIO(data))
    names = [n for n in source.namelist() if n.endswith(".xml") or n.endswith(".rels")]
    victim = rng.choice(names)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            body = source.read(name)
            if name == victim and body:
                text = bytearray(body)
                for _ in range(rng.randint(1, 5)):
                    i = rng.randrange(len(text))
                    action = rng.random()
                    if action < 0.4:
                        text[i] = rng.choice(b"<>&\"'=/0123456789abcXYZ ")
                    elif action < 0.7:
                        del text[i:i + rng.randint(1, 40)]
                    else:
                        text[i:i] = rng.choice([b"<x>", b"&amp;", b"</c>", b'r="XFD1048576"',
                                                b"<!DOCTYPE x>", b"\x00", "é".encode()])
                body = bytes(text)
            target.writestr(name, body)
    return out.getvalue()


CELL_VALUES = ["abc", "", " ", -1, 1e308, -1e308, 10**20, 0.1 + 0.2, "=1/0", "=SUM(A1:A9)",
               "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3", "学校", "\u202e", True, "1,5", "1e999"]


def mutate_cells(path: Path, target: Path, rng: random.Random) -> None:
    """Type random junk into random input cells, as a careless person might."""
    wb = openpyxl.load_workbook(path)
    layout = SchoolLayout_for(wb)
    for _ in range(rng.randint(1, 10)):
        t = rng.choice([layout.staffing, layout.services, layout.other, layout.goals])
        column = rng.choice([c for c in t.columns if c.input])
        cell = wb[t.sheet][t.cell(column.key, rng.randrange(t.rows))]
        cell.value = rng.choice(CELL_VALUES)
    wb.save(target)


def SchoolLayout_for(wb: openpyxl.Workbook) -> SchoolLayout:  # noqa: N802
    """The layout of a plan workbook (the sample policy's)."""
    from ssfr_xl.policy import load_policy

    return SchoolLayout(load_policy().policy)


def totals_for(result, school_ids: set[str]) -> dict:
    """By-school planned and allocation rows for the given schools."""
    tables = season_tables(result)
    return {(r[0], r[3]): (r[2], r[4], r[5]) for r in tables["by_school"][1]
            if r[0] in school_ids}


def test_mutated_plans_never_cost_other_schools(season, tmp_path: Path) -> None:
    district, _plans, paths = season
    record = district_record(district)
    untouched, victims = paths[:UNTOUCHED], paths[UNTOUCHED:]
    untouched_ids = {p.name.split("_", 1)[0] for p in untouched}

    baseline_dir = tmp_path / "baseline"
    baseline_dir.mkdir()
    for p in untouched:
        shutil.copy2(p, baseline_dir / p.name)
    baseline = totals_for(consolidate(record, baseline_dir, workers=2), untouched_ids)
    assert all(v[0].startswith("accepted") for v in baseline.values()), baseline

    folder = tmp_path / "returned"
    folder.mkdir()
    for p in untouched:
        shutil.copy2(p, folder / p.name)
    rng = random.Random(20261123)
    made = []
    for i in range(MUTANTS_PER_KIND):
        src = rng.choice(victims)
        data = src.read_bytes()
        for kind, mutant in (("bytes", flip_bytes(data, rng)), ("xml", mutate_xml(data, rng))):
            target = folder / f"{src.stem}-{kind}-{i}.xlsx"
            target.write_bytes(mutant)
            made.append(target)
        target = folder / f"{src.stem}-cells-{i}.xlsx"
        mutate_cells(src, target, rng)
        made.append(target)

    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    result = consolidate(record, folder, workers=2)  # must not raise

    listed = {c.file.name for c in result.checks} | {i.path.name for i in result.ignored}
    assert listed == set(before), "every file appears in the status"
    assert totals_for(result, untouched_ids) == baseline, "untouched plans' totals unchanged"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before, "files unmodified"
    for check in result.checks:
        for finding in check.findings:
            assert finding.message and finding.code, finding
