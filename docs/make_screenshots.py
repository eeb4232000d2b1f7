"""Render every sheet of the sample district workbook and of a school plan to PNG.

    python docs/make_screenshots.py            # writes docs/screenshots/*.png

Builds the 40-school sample district and the plan of its first school (with the demo plan's
positions pre-filled on Staffing), prints both to PDF through headless LibreOffice (their own
print setup: US Letter, fit to width, titles, footers) and renders the first page of each sheet
with pdftoppm. Needs LibreOffice (soffice) and poppler-utils (pdftoppm, pdftotext). The
README's workbook reference shows these images; run this after changing a workbook's layout.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import openpyxl

from ssfr_xl.district_book import read_district
from ssfr_xl.formula import allocate
from ssfr_xl.libreoffice import find_soffice
from ssfr_xl.school_book import Position, plan_specs, write_school_plan
from ssfr_xl.season import create_district
from ssfr_xl.sources.demo import demo_plan

OUT = Path(__file__).resolve().parent / "screenshots"
DPI = 70


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


def first_pages(workbook: Path, pdf: Path) -> dict[str, int]:
    """Sheet name -> the PDF page where it starts (found by the sheet's title in A1)."""
    wb = openpyxl.load_workbook(workbook, read_only=True)
    titles = {}
    for ws in wb.worksheets:
        if ws.sheet_state == "visible":
            first = next(ws.iter_rows(min_row=1, max_row=1, max_col=1, values_only=True), (None,))
            titles[ws.title] = str(first[0] or "").strip()
    wb.close()
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(
        ["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout).group(1))
    found: dict[str, int] = {}
    sheets = list(titles)
    next_sheet = 0
    for page in range(1, pages + 1):
        text = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), "-layout",
                               str(pdf), "-"], capture_output=True, text=True,
                              check=True).stdout.strip()
        first_line = text.splitlines()[0].strip() if text else ""
        # Sheets print in order: the next sheet starts on the first page showing its title.
        for i in range(next_sheet, len(sheets)):
            title = titles[sheets[i]]
            if title and first_line.startswith(title[:40]):
                found[sheets[i]] = page
                next_sheet = i + 1
                break
    return found


def render(workbook: Path, prefix: str, folder: Path) -> list[Path]:
    """One PNG per sheet: the first page it prints on."""
    pdf = pdf_of(workbook, folder)
    written = []
    for sheet, page in first_pages(workbook, pdf).items():
        target = OUT / f"{prefix}-{slug(sheet)}"
        subprocess.run(["pdftoppm", "-png", "-r", str(DPI), "-f", str(page), "-l", str(page),
                        "-singlefile", str(pdf), str(target)], check=True)
        written.append(target.with_suffix(".png"))
    return written


def main() -> None:
    if shutil.which("pdftoppm") is None:
        sys.exit("pdftoppm is needed: apt-get install poppler-utils")
    OUT.mkdir(exist_ok=True)
    for old in OUT.glob("*.png"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="ssfr-shots-") as tmp:
        folder = Path(tmp)
        district = folder / "sample-district.xlsx"
        create_district(district, sample=40, force=True)
        result = allocate(read_district(district))
        [spec] = plan_specs(result, school_ids=[result.schools[1].school_id])
        plan = demo_plan(spec, seed=3, fill_share=0.97)
        positions = [Position(code, fte, fund, goal, note)
                     for code, fte, fund, goal, note in plan.positions]
        [spec] = plan_specs(result, {spec.school.school_id: positions},
                            school_ids=[spec.school.school_id])
        plan_path = folder / "school-plan.xlsx"
        write_school_plan(plan_path, spec)
        shots = render(district, "district", folder) + render(plan_path, "plan", folder)
    for shot in shots:
        print(shot.relative_to(OUT.parent.parent))


if __name__ == "__main__":
    main()
