"""A shared folder from the wild: the whole hostile corpus, plan-level mistakes and valid plans.

`ssfr-xl consolidate` must answer for every file with a message to its sender, exit 1 with
findings (never a traceback), stay within time, and count the valid plans exactly as a run on
the valid plans alone does.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest

from ssfr_xl.exports import shown
from ssfr_xl.layout import SchoolLayout
from ssfr_xl.policy import load_policy
from ssfr_xl.school_book import build_school_plan, file_name, plan_specs
from ssfr_xl.season import create_district
from ssfr_xl.sources.demo import demo_plan, fill_plan_workbook
from ssfr_xl.validate import district_record
from ssfr_xl.xlsx import save_atomically
from tests.corpus import make_corpus

LAYOUT = SchoolLayout(load_policy().policy)
VALID = 5  # schools 1..5 stay valid (school 0 is the corpus's own plan)


def consolidate_cli(district: Path, folder: Path, out: Path) -> subprocess.CompletedProcess:
    """Run the command as a user does."""
    out.mkdir(exist_ok=True)  # outputs go only into folders that exist
    return subprocess.run(
        [sys.executable, "-m", "ssfr_xl", "consolidate", str(district), str(folder),
         "--out", str(out / "totals.xlsx"), "--exports", str(out / "exports")],
        capture_output=True, text=True, timeout=600)


def rows(path: Path) -> list[dict[str, str]]:
    """A CSV export as dictionaries."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def widen_names(src: Path, dst: Path, prefix: str) -> None:
    """As Excel does when a row is inserted inside an input area: the names grow by a row."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/workbook.xml":
                text = data.decode()
                text = re.sub(
                    rf'(<definedName name="{prefix}[^"]*"[^>]*>[^<]*:\$[A-Z]+\$)(\d+)',
                    lambda m: m.group(1) + str(int(m.group(2)) + 1), text)
                data = text.encode()
            zout.writestr(item, data)


@pytest.fixture(scope="module")
def wild(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The district, a folder of valid plans only, and the wild folder (valid + everything)."""
    root = tmp_path_factory.mktemp("wild")
    district = root / "district.xlsx"
    create_district(district, sample=40)
    record = district_record(district)
    specs = plan_specs(record.result)
    filled = {}
    for spec in specs[: VALID + 12]:
        wb = build_school_plan(spec)
        fill_plan_workbook(wb, spec.policy, demo_plan(spec))
        target = root / "filled" / file_name(spec.school)
        target.parent.mkdir(exist_ok=True)
        save_atomically(wb, target)
        filled[spec.school.school_id] = target
    ids = list(filled)
    valid_dir, wild_dir = root / "valid", root / "wild"
    valid_dir.mkdir()
    expected = make_corpus(wild_dir)  # file-level shapes, built on school 0's plan
    for sid in ids[1: VALID + 1]:
        shutil.copy2(filled[sid], valid_dir / filled[sid].name)
        shutil.copy2(filled[sid], wild_dir / filled[sid].name)

    shapes = iter(ids[VALID + 1:])

    def edited(name: str, edit) -> str:
        sid = next(shapes)
        wb = openpyxl.load_workbook(filled[sid])
        edit(wb)
        wb.save(wild_dir / name)
        return sid

    plan_level = {
        "merged.xlsx": ("merged-cells", edited("merged.xlsx", lambda wb: wb[
            LAYOUT.staffing.sheet].merge_cells(
                f"{LAYOUT.staffing.cell('note', 0)}:{LAYOUT.staffing.cell('note', 1)}"))),
        "formula-in-fte.xlsx": ("formula-in-input", edited(
            "formula-in-fte.xlsx", lambda wb: wb[LAYOUT.staffing.sheet].__setitem__(
                LAYOUT.staffing.cell("fte", 0), "=0.5*2"))),
        "xlwings.xlsx": ("xlwings-config-sheet", edited(
            "xlwings.xlsx", lambda wb: wb.create_sheet("xlwings.conf"))),
        "renamed-sheet.xlsx": ("sheet-missing", edited(
            "renamed-sheet.xlsx", lambda wb: setattr(wb[LAYOUT.other.sheet], "title", "Misc"))),
    }
    sid = next(shapes)
    widen_names(filled[sid], wild_dir / "rows-inserted.xlsx", "Staffing_")
    plan_level["rows-inserted.xlsx"] = ("rows-inserted", sid)
    # a school's file renamed with another school's id, and two files for one school
    sid = next(shapes)
    other = next(shapes)
    shutil.copy2(filled[sid], wild_dir / f"{other}_renamed.xlsx")
    plan_level[f"{other}_renamed.xlsx"] = ("file-name-mismatch", sid)
    sid = next(shapes)
    shutil.copy2(filled[sid], wild_dir / f"{sid}_v1.xlsx")
    shutil.copy2(filled[sid], wild_dir / f"{sid}_v2-final.xlsx")
    plan_level[f"{sid}_v1.xlsx"] = ("duplicate-school", sid)
    plan_level[f"{sid}_v2-final.xlsx"] = ("duplicate-school", sid)
    # text that looks like a formula, and non-Latin text, in a valid plan: accepted
    sid = next(shapes)
    wb = openpyxl.load_workbook(filled[sid])
    ws = wb[LAYOUT.other.sheet]
    for i, text in enumerate(["=HYPERLINK(\"http://x\")", "+1+1", "-cmd", "@SUM(1)",
                              "学校の図書 — Bücher für die Schule"]):
        cell = ws[LAYOUT.other.cell("description", i)]
        cell.value = text
        cell.data_type = "s"
    wb.save(wild_dir / "formula-looking-text.xlsx")
    plan_level["formula-looking-text.xlsx"] = (None, sid)
    # folder clutter
    (wild_dir / "~$open-plan.xlsx").write_bytes(b"lock")
    (wild_dir / ".~lock.open-plan.xlsx#").write_bytes(b"lock")
    (wild_dir / ".DS_Store").write_bytes(b"\0\0")
    (wild_dir / "old versions").mkdir()
    shutil.copy2(filled[ids[1]], wild_dir / "old versions" / "copy.xlsx")
    (wild_dir / "manifest.csv").write_text("school_id,file,sha256\n")
    os.mkfifo(wild_dir / "pipe.xlsx")
    # names with any bytes, and a plan saved as .ods for a school that sent nothing else
    bdir = os.fsencode(wild_dir)
    for name in (b"\xff\xfe-not-utf8.xlsx", b"ctrl\x01\x1b[31m.xlsx",
                 ("\u202e" + "x" * 200 + ".xlsx").encode()):
        with open(os.path.join(bdir, name), "wb") as fh:
            fh.write(b"PK\x03\x04 not really")
    ods_school = specs[30].school.school_id
    shutil.copy2(wild_dir / "spreadsheet.ods", wild_dir / f"{ods_school}_plan.ods")
    return {"district": district, "valid": valid_dir, "wild": wild_dir, "root": root,
            "corpus": expected, "plan_level": plan_level, "valid_ids": ids[1: VALID + 1],
            "ods_school": ods_school}


def test_every_wild_file_is_answered_and_valid_totals_are_untouched(wild: dict) -> None:
    root = wild["root"]
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in wild["wild"].rglob("*")
              if p.is_file()}
    started = time.monotonic()
    run = consolidate_cli(wild["district"], wild["wild"], root / "out-wild")
    elapsed = time.monotonic() - started
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert elapsed < 120, f"took {elapsed:.0f} s"

    files = {r["file"]: r for r in rows(root / "out-wild" / "exports" / "files.csv")}
    on_disk = {shown(p.name) for p in wild["wild"].iterdir()}
    assert set(files) == on_disk, "every entry of the folder is listed"
    assert "\\xff\\xfe-not-utf8.xlsx" in files and "ctrl\\x01\\x1b[31m.xlsx" in files
    assert files["pipe.xlsx"]["status"] == "ignored"
    status = {r["school_id"]: r for r in rows(root / "out-wild" / "exports" / "status.csv")}
    assert status[wild["ods_school"]]["status"] == "rejected", "an .ods is never missing"
    findings = rows(root / "out-wild" / "exports" / "findings.csv")
    by_file: dict[str, set[str]] = {}
    for f in findings:
        by_file.setdefault(f["file"], set()).add(f["code"])
        assert len(f["message"]) > 30, f
    for name, code in wild["corpus"].items():
        if code is not None:
            assert code in by_file.get(name, set()), (name, code, by_file.get(name))
    for name, (code, _sid) in wild["plan_level"].items():
        if code is None:
            assert files[name]["use"] == "counted in the totals", files[name]
        else:
            assert code in by_file.get(name, set()), (name, code, by_file.get(name))
    for name in ("~$open-plan.xlsx", ".~lock.open-plan.xlsx#", ".DS_Store", "old versions",
                 "manifest.csv"):
        assert files[name]["status"] == "ignored"

    valid = consolidate_cli(wild["district"], wild["valid"], root / "out-valid")
    assert valid.returncode == 1  # the other schools are missing
    wanted = set(wild["valid_ids"])

    def planned(out: str) -> list[dict[str, str]]:
        return [r for r in rows(root / out / "exports" / "by_school.csv")
                if r["school_id"] in wanted]

    assert planned("out-wild") == planned("out-valid")
    assert all(r["status"].startswith("accepted") for r in planned("out-valid"))
    lines = rows(root / "out-wild" / "exports" / "lines.csv")
    descriptions = {r["description"] for r in lines}
    assert "'=HYPERLINK(\"http://x\")" in descriptions and "'@SUM(1)" in descriptions
    assert "学校の図書 — Bücher für die Schule" in descriptions
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in wild["wild"].rglob("*")
             if p.is_file()}
    assert after == before, "returned files are never modified"
    assert not re.search(r"[\x00-\x08\x0b-\x1f\u202e]", run.stdout), "printed safely"


def test_an_output_that_cannot_be_written_is_one_clear_line(wild: dict) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "ssfr_xl", "consolidate", str(wild["district"]),
         str(wild["valid"]), "--out", "/proc/not-writable/totals.xlsx"],
        capture_output=True, text=True, timeout=300)
    assert run.returncode == 1
    assert run.stderr.startswith("Error: Cannot write in /proc/not-writable")
    assert "Traceback" not in run.stderr
