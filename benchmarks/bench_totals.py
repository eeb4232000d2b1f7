"""Time and measure writing the district totals workbook at the scale of 10,000 plans.

    python benchmarks/bench_totals.py                 # 10,000 schools' worth of rows
    python benchmarks/bench_totals.py --schools 2000  # smaller
    python benchmarks/bench_totals.py --keep DIR      # keep the workbook (and the season)

Setup (not timed): a sample district of --seed-schools schools, one filled plan each,
consolidated; then every table of the season (`season_tables`) is repeated until it holds the
rows of --schools schools (school ids made unique), which is what `consolidate` will hand the
writer when issue 9 brings 10,000 plans. Timed: `write_totals_workbook` alone, best of
--repeat. Memory: the peak of Python allocations made while writing (tracemalloc, a separate
run, since tracing slows the writer), and the process's peak resident size after the timed runs.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from ssfr_xl.consolidate import consolidate
from ssfr_xl.school_book import plan_specs
from ssfr_xl.season import create_district
from ssfr_xl.totals_book import season_tables, write_totals_workbook
from ssfr_xl.validate import district_record

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_season import make_plans  # noqa: E402

SCHOOL_ID_COLUMN = "school_id"


def scaled(tables: dict, factor: int) -> dict:
    """Each table's rows repeated `factor` times, school ids suffixed so each copy is its own
    school (the reconciliation and district totals stay as they are: one row per check or
    object code whatever the number of schools)."""
    out = {}
    for name, (header, rows) in tables.items():
        if name in ("district_totals", "reconciliation", "goals"):
            out[name] = (header, rows)
            continue
        col = header.index(SCHOOL_ID_COLUMN) if SCHOOL_ID_COLUMN in header else None
        big = []
        for k in range(factor):
            for r in rows:
                r = list(r)
                if col is not None and r[col]:
                    r[col] = f"{r[col]}-{k:05d}"
                big.append(r)
        out[name] = (header, big)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=10_000)
    parser.add_argument("--seed-schools", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--keep", type=Path, metavar="DIR")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ssfr-bench-totals-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        district = root / "district.xlsx"
        returned = root / "returned"
        if not (district.is_file() and returned.is_dir()):
            create_district(district, sample=args.seed_schools, force=True)
            returned.mkdir(exist_ok=True)
            specs = plan_specs(district_record(district).result)
            make_plans(specs, len(specs), returned, 2)
        record = district_record(district)
        result = consolidate(record, returned, workers=2)
        factor = max(1, args.schools // len(result.schools))
        tables = scaled(season_tables(result), factor)
        rows = sum(len(r) for _h, r in tables.values())
        cells = sum(len(r) * len(h) for h, r in tables.values())
        target = root / "totals.xlsx"
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            write_totals_workbook(target, result, tables)
            best = min(best, time.perf_counter() - start)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        tracemalloc.start()
        write_totals_workbook(target, result, tables)
        _now, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"totals workbook: {len(result.schools) * factor:,} schools' rows, {rows:,} rows, "
              f"{cells:,} cells, {target.stat().st_size / 2**20:.1f} MiB")
        print(f"write time (best of {args.repeat}): {best:.2f} s")
        print(f"peak Python memory while writing (tracemalloc): {peak / 2**20:,.0f} MiB")
        print(f"process peak resident size: {rss:,.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
