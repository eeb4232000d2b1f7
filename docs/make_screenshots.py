"""Render every sheet of the sample district workbook, of a school plan, of the district
totals workbook and of a feedback workbook to PNG.

    python docs/make_screenshots.py            # writes docs/screenshots/*.png

Builds the 40-school sample district and the plan of its first school (with the demo plan's
positions pre-filled on Staffing); then a small season: twelve schools return filled plans
(one spends more than its allocation, two send nothing) and are consolidated, and the
over-spent school gets its feedback workbook. Each workbook is printed to PDF through headless
LibreOffice (its own print setup: US Letter, fit to width, titles, footers) and the first page
of each sheet is rendered with pdftoppm. Needs LibreOffice (soffice) and poppler-utils
(pdftoppm, pdftotext). The README's workbook reference shows these images; run this after
changing a workbook's layout.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import openpyxl

from ssfr_xl.consolidate import consolidate
from ssfr_xl.district_book import read_district, write_district
from ssfr_xl.formula import allocate
from ssfr_xl.libreoffice import find_soffice
from ssfr_xl.report import write_feedback
from ssfr_xl.school_book import (
    Position,
    build_school_plan,
    file_name,
    plan_specs,
    write_school_plan,
)
from ssfr_xl.season import create_district
from ssfr_xl.sources.demo import demo_plan, fill_plan_workbook
from ssfr_xl.totals_book import season_tables, write_totals_workbook
from ssfr_xl.validate import district_record

OUT = Path(__file__).resolve().parent / "screenshots"
DPI = 70
PREFIXES = ("district-", "plan-", "totals-", "feedback")  # the images this script makes
#: What the district's Scenarios sheet shows: a higher EL weight, concentration from 50%.
SCENARIO = [("EL rate", 0.25), ("CONC threshold", 0.5)]


def slug(text: str) -> str:
    """A file-name part from a sheet name: 'Goals & Strategies' -> goals-strategies."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def pdf_of(workbook: Path, folder: Path) -> Path:
    """The workbook printed to PDF by LibreOffice, with its own print setup."""
    soffice = find_soffice()
    if soffice is None:
        sys.exit("LibreOffice (soffice) is needed: apt-get install libreoffice-calc")
    profile = (folder / "profile").as_uri()
    subprocess.run([soffice, f"-env:UserInstallation={profile}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(folder), str(workbook)],
                   check=True, capture_output=True, timeout=600)
    return folder / (workbook.stem + ".pdf")


def page_texts(pdf: Path) -> list[str]:
    """The text of each page of a PDF (pdftotext, layout kept)."""
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(
        ["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout).group(1))
    return [subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), "-layout",
                            str(pdf), "-"], capture_output=True, text=True,
                           check=True).stdout.strip() for page in range(1, pages + 1)]


def first_pages(workbook: Path, pdf: Path, by_footer: bool = False) -> dict[str, int]:
    """Sheet name -> the PDF page where it starts: the first page showing the sheet's title
    (A1) first or, by_footer (table sheets, whose footer names the sheet), the first page
    whose footer reads "<sheet>   Page N of M"."""
    wb = openpyxl.load_workbook(workbook, read_only=True)
    titles = {}
    for ws in wb.worksheets:
        if ws.sheet_state == "visible":
            first = next(ws.iter_rows(min_row=1, max_row=1, max_col=1, values_only=True), (None,))
            titles[ws.title] = str(first[0] or "").strip()
    wb.close()
    found: dict[str, int] = {}
    sheets = list(titles)
    next_sheet = 0
    for page, text in enumerate(page_texts(pdf), start=1):
        lines = text.splitlines() or [""]
        # Sheets print in order: the next sheet is the first one this page starts.
        for i in range(next_sheet, len(sheets)):
            title = titles[sheets[i]]
            if by_footer:
                starts = re.search(rf"(^|\s\s){re.escape(sheets[i])}\s\s+Page \d+ of ",
                                   lines[-1])
            else:
                starts = title and lines[0].strip().startswith(title[:40])
            if starts:
                found[sheets[i]] = page
                next_sheet = i + 1
                break
    return found


def render(workbook: Path, prefix: str, folder: Path, by_footer: bool = False) -> list[Path]:
    """One PNG per sheet: the first page it prints on."""
    pdf = pdf_of(workbook, folder)
    written = []
    for sheet, page in first_pages(workbook, pdf, by_footer).items():
        target = OUT / (prefix if slug(sheet) == prefix else f"{prefix}-{slug(sheet)}")
        subprocess.run(["pdftoppm", "-png", "-r", str(DPI), "-f", str(page), "-l", str(page),
                        "-singlefile", str(pdf), str(target)], check=True)
        written.append(target.with_suffix(".png"))
    return written


def season_workbooks(folder: Path) -> tuple[Path, Path]:
    """A small season's totals workbook and one feedback workbook: twelve schools, ten plans
    returned (one spending more than its allocation)."""
    district = folder / "season-district.xlsx"
    create_district(district, sample=12, force=True)
    record = district_record(district)
    returned = folder / "returned"
    returned.mkdir()
    over = None
    for i, spec in enumerate(plan_specs(record.result)[:10]):
        share = 1.08 if i == 3 else 0.97
        wb = build_school_plan(spec)
        fill_plan_workbook(wb, spec.policy, demo_plan(spec, seed=i, fill_share=share))
        wb.save(returned / file_name(spec.school))
        if i == 3:
            over = returned / file_name(spec.school)
    result = consolidate(record, returned, workers=1)
    totals = folder / "totals.xlsx"
    write_totals_workbook(totals, result, season_tables(result))
    check = next(c for c in result.checks if c.file == over)
    feedback = write_feedback(folder, check, record.names.get(check.school_id, ""),
                              district=record.inputs.district.name)
    return totals, feedback


def main() -> None:
    if shutil.which("pdftoppm") is None:
        sys.exit("pdftoppm is needed: apt-get install poppler-utils")
    OUT.mkdir(exist_ok=True)
    for old in OUT.glob("*.png"):
        if old.name.startswith(PREFIXES):  # the site's screenshots are another script's
            old.unlink()
    with tempfile.TemporaryDirectory(prefix="ssfr-shots-") as tmp:
        folder = Path(tmp)
        district = folder / "sample-district.xlsx"
        create_district(district, sample=40, force=True)
        # the Scenarios sheet with a scenario typed in, as a budget officer would
        write_district(district, read_district(district), scenario_choices=SCENARIO)
        result = allocate(read_district(district))
        [spec] = plan_specs(result, school_ids=[result.schools[1].school_id])
        plan = demo_plan(spec, seed=3, fill_share=0.97)
        positions = [Position(code, fte, fund, goal, note)
                     for code, fte, fund, goal, note in plan.positions]
        [spec] = plan_specs(result, {spec.school.school_id: positions},
                            school_ids=[spec.school.school_id])
        plan_path = folder / "school-plan.xlsx"
        write_school_plan(plan_path, spec)
        totals, feedback = season_workbooks(folder)
        shots = render(district, "district", folder) + render(plan_path, "plan", folder) + \
            render(totals, "totals", folder, by_footer=True) + \
            render(feedback, "feedback", folder, by_footer=True)
    for shot in shots:
        print(shot.relative_to(OUT.parent.parent))


if __name__ == "__main__":
    main()
