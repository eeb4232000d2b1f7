"""Time the district workbook at scale: Los Angeles Unified from CDE's real CUPC file.

    python benchmarks/bench_district.py                 # LAUSD (64733) from ../shared/data
    python benchmarks/bench_district.py --district 64881
    python benchmarks/bench_district.py --sample 1000   # synthetic district, no data needed

Without the data folder it falls back to a 1,000-school sample district and says so. Each
step is timed once (the engine --repeat times, best shown); LibreOffice is one soffice run,
start-up included. Prints a table of figures; writes nothing outside a temporary folder unless
--keep DIR is given.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ssfr_xl.district_book import check_cached_values, read_district, write_district
from ssfr_xl.formula import allocate
from ssfr_xl.libreoffice import missing_tool_reason, recalculate
from ssfr_xl.season import create_district
from ssfr_xl.sources import read_cde_cupc

T = TypeVar("T")

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cde"
CURRENT, PRIOR = DATA / "cupc2425-k12.xlsx", DATA / "cupc2324-k12.xlsx"
_ERROR_CELL = re.compile(rb'<c\s[^>]*\bt="e"')


def timed(fn: Callable[[], T], repeat: int = 1) -> tuple[T, float]:
    """Run fn `repeat` times; return its (last) result and the best time in seconds."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best  # type: ignore[return-value]


def stored_error_count(path: Path) -> int:
    """Cells the spreadsheet program saved as error values (#VALUE!, #DIV/0!, ...)."""
    with zipfile.ZipFile(path) as z:
        return sum(len(_ERROR_CELL.findall(z.read(n))) for n in z.namelist()
                   if n.startswith("xl/worksheets/") and n.endswith(".xml"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--district", default="64733", help="CDE district code (default LAUSD)")
    parser.add_argument("--sample", type=int, metavar="N",
                        help="use the synthetic sample district with N schools instead")
    parser.add_argument("--repeat", type=int, default=3, help="engine runs (best is shown)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep the workbooks here")
    args = parser.parse_args(argv)

    use_cde = args.sample is None and CURRENT.is_file() and PRIOR.is_file()
    sample = args.sample or 1000
    rows: list[tuple[str, float | None, str]] = []
    tmp = tempfile.TemporaryDirectory(prefix="ssfr-bench-")
    work = args.keep or Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    out = work / "district.xlsx"

    if use_cde:
        source = f"CDE CUPC 2024-25, district {args.district} (prior year from 2023-24)"
        found, t = timed(lambda: read_cde_cupc(CURRENT, args.district))
        rows.append(("CDE read: cupc2425, one district", t, f"{len(found.schools):,} schools"))
        _, t = timed(lambda: read_cde_cupc(PRIOR, args.district))
        rows.append(("CDE read: cupc2324 (prior year)", t, ""))
        _, t = timed(lambda: create_district(out, cde=CURRENT, district_code=args.district,
                                             prior=PRIOR, force=True))
        rows.append(("ssfr-xl init --cde --prior (end to end)", t,
                     "2 CDE reads, 2 engine runs, write"))
    else:
        why = "--sample given" if args.sample else f"data folder absent ({DATA})"
        source = f"synthetic sample district, {sample:,} schools ({why})"
        _, t = timed(lambda: create_district(out, sample=sample, force=True))
        rows.append(("ssfr-xl init --sample (end to end)", t, "generate, engine, write"))

    inputs, t = timed(lambda: read_district(out))
    rows.append(("read_district (file written by openpyxl)", t, ""))
    result, t = timed(lambda: allocate(inputs), args.repeat)
    n_components = len(inputs.policy.components)
    rows.append(("engine: allocate", t, f"best of {args.repeat}; "
                 f"{len(inputs.schools):,} schools x {n_components} components"))
    _, t = timed(lambda: write_district(work / "rewritten.xlsx", inputs))
    rows.append(("write_district", t, f"{out.stat().st_size / 1e6:.1f} MB"))

    recalculated = None
    reason = missing_tool_reason(uno=False)
    if reason is None:
        [recalculated], t = timed(lambda: recalculate([out], work / "recalculated"))
        errors = stored_error_count(recalculated)
        rows.append(("LibreOffice recalculation (one soffice run)", t,
                     f"{errors:,} error values saved" if errors else "no error values"))
    else:
        rows.append(("LibreOffice recalculation", None, f"skipped: {reason}"))

    if recalculated is not None:
        start = time.perf_counter()
        back, t1 = timed(lambda: read_district(recalculated))
        again, t2 = timed(lambda: allocate(back))
        check, t3 = timed(lambda: check_cached_values(recalculated, again))
        total = time.perf_counter() - start
        rows.append(("read_district (recalculated file)", t1, ""))
        rows.append(("engine: allocate", t2, ""))
        cells = len(back.schools) * (len(back.policy.components) + len(back.policy.funds))
        rows.append(("check_cached_values", t3, f"{check.cells_checked:,} of {cells:,} cells "
                     f"compared, {len(check.mismatches):,} differ"))
        rows.append(("= ssfr-xl allocate's work", total, "read + engine + cached check"))

    print(f"District workbook benchmark: {source}")
    print(f"  {inputs.district.name}: {len(inputs.schools):,} schools, "
          f"{sum(s.enrollment for s in inputs.schools):,} pupils; budget "
          f"{inputs.district.budget:,.2f}; rounding difference {result.rounding_difference:,.2f}")
    width = max(len(r[0]) for r in rows)
    print(f"\n  {'step':<{width}}  {'seconds':>8}  notes")
    print(f"  {'-' * width}  {'-' * 8}  {'-' * 30}")
    for label, seconds, note in rows:
        shown = f"{seconds:8.3f}" if seconds is not None else f"{'-':>8}"
        print(f"  {label:<{width}}  {shown}  {note}")
    if args.keep:
        print(f"\nWorkbooks kept in {work}")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
