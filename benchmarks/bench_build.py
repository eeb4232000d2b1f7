"""Time `ssfr-xl build` at district scale: every Los Angeles Unified school plan workbook.

    python benchmarks/bench_build.py                  # LAUSD (64733) from ../shared/data
    python benchmarks/bench_build.py --district 64881 # another CDE district
    python benchmarks/bench_build.py --sample 1000    # synthetic district, no data needed

Without the data folder it falls back to a 1,000-school sample district and says so. The
district workbook is made once (timed, not part of the target); then build_plans writes every
plan workbook (XlsxWriter) and the manifest with all cores, and again with one worker for
comparison. The baseline, in the same run: openpyxl writing the same cells (every value and
formula, with its named style and number format, of the first plan) for --baseline plans on
all cores; the ratio compares time per plan. Prints wall time, plans per second and megabytes
written; the target is 1,000 plans in 20 s wall on all cores (a district with fewer schools is
also shown at 1,000 plans' pace). Writes nothing outside a temporary folder unless --keep DIR.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from ssfr_xl.season import build_plans, create_district

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cde"
CURRENT = DATA / "cupc2425-k12.xlsx"
TARGET_SECONDS = 20.0
TARGET_PLANS = 1000


def written(folder: Path) -> tuple[int, float]:
    """Plan workbooks in a folder and the megabytes of everything there."""
    files = list(folder.iterdir())
    plans = sum(1 for f in files if f.suffix == ".xlsx")
    return plans, sum(f.stat().st_size for f in files) / 1e6


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_build(district: Path, out: Path, workers: int) -> tuple[float, float, str, int, float]:
    """Wall and CPU seconds of build_plans with `workers`, what other programs used, plans
    written and MB written."""
    cpu, busy, start = cpu_seconds(), busy_seconds(), time.perf_counter()
    build_plans(district, out, workers=workers, force=True)
    seconds = time.perf_counter() - start
    cpu = cpu_seconds() - cpu
    after = busy_seconds()
    others = "n/a" if busy is None or after is None else \
        f"{max(0.0, (after - busy - cpu) / seconds):.1f} core(s)"
    plans, mb = written(out)
    return seconds, cpu, others, plans, mb


def plan_cells(plan: Path) -> list[tuple[str, list[tuple[int, int, object, str, str]]]]:
    """Every cell of a plan with a value, formula or style: (row, col, value, style, format)."""
    import openpyxl

    wb = openpyxl.load_workbook(plan)
    return [(ws.title, [(c.row, c.column, c.value, c.style, c.number_format)
                        for row in ws.iter_rows() for c in row
                        if c.value is not None or c.style != "Normal"])
            for ws in wb.worksheets]


def openpyxl_write(job: tuple[Path, list]) -> None:
    """The baseline: openpyxl writes the same cells, styles and number formats."""
    from openpyxl import Workbook

    from ssfr_xl import styles

    target, sheets = job
    wb = Workbook()
    styles.register(wb)
    wb.remove(wb.active)
    for name, cells in sheets:
        ws = wb.create_sheet(name)
        for row, col, value, style, number_format in cells:
            cell = ws.cell(row=row, column=col, value=value)
            cell.style = style
            cell.number_format = number_format
    wb.save(target)


def time_baseline(plan: Path, out: Path, n: int, workers: int) -> float:
    """Wall seconds for openpyxl to write n plans like `plan` with `workers` processes."""
    from concurrent.futures import ProcessPoolExecutor

    sheets = plan_cells(plan)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(out / f"{i:04d}.xlsx", sheets) for i in range(n)]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(openpyxl_write, jobs, chunksize=4))
    return time.perf_counter() - start


def busy_seconds() -> float | None:
    """CPU seconds the whole machine has been busy (Linux /proc/stat), or None."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    ticks = [int(v) for v in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--district", default="64733", help="CDE district code (default LAUSD)")
    parser.add_argument("--sample", type=int, metavar="N",
                        help="use the synthetic sample district with N schools instead")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes for the main run (default: one per core)")
    parser.add_argument("--no-serial", action="store_true",
                        help="skip the one-worker comparison run")
    parser.add_argument("--baseline", type=int, default=100, metavar="N",
                        help="plans the openpyxl baseline writes (default 100; 0 = skip)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep the workbooks here")
    args = parser.parse_args(argv)

    use_cde = args.sample is None and CURRENT.is_file()
    tmp = tempfile.TemporaryDirectory(prefix="ssfr-bench-build-")
    work = args.keep or Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    district = work / "district.xlsx"
    if use_cde:
        source = f"CDE CUPC 2024-25, district {args.district}"
        source_args: dict[str, object] = {"cde": CURRENT, "district_code": args.district}
    else:
        n = args.sample or 1000
        source = f"synthetic sample district, {n:,} schools"
        if args.sample is None:
            source += f" (CDE data not found at {CURRENT}: fell back to the sample)"
        source_args = {"sample": n}
    print(f"Source: {source}")
    print(f"Cores: {os.cpu_count()}; Python {sys.version.split()[0]}")

    start = time.perf_counter()
    create_district(district, force=True, **source_args)  # type: ignore[arg-type]
    init_seconds = time.perf_counter() - start

    runs = [(f"build_plans, {args.workers} worker(s)", args.workers, work / "plans")]
    if not args.no_serial and args.workers != 1:
        runs.append(("build_plans, 1 worker", 1, work / "plans-serial"))
    rows = [("init (district workbook, not in the target)", init_seconds, "")]
    main_seconds = None
    main_plans = 0
    for label, workers, out in runs:
        seconds, cpu, others, plans, mb = time_build(district, out, workers)
        if main_seconds is None:
            main_seconds, main_plans = seconds, plans
        per_plan = 1000 / max(plans, 1)
        rows.append((label, seconds, f"{plans:,} plans, {plans / seconds:,.1f} plans/s, "
                                     f"{mb:,.1f} MB written ({mb * per_plan:,.0f} kB/plan); "
                                     f"CPU {cpu:,.1f} s ({cpu * per_plan:,.0f} ms/plan); "
                                     f"other programs used {others}"))

    assert main_seconds is not None
    ratio = ""
    if args.baseline > 0:
        first = sorted((work / "plans").glob("*.xlsx"))[0]
        base = time_baseline(first, work / "baseline", args.baseline, args.workers)
        base_per_plan, per_plan = base / args.baseline, main_seconds / max(main_plans, 1)
        rows.append((f"openpyxl baseline, {args.workers} worker(s)", base,
                     f"{args.baseline:,} plans, the same cells; {base_per_plan * 1000:,.0f} ms/"
                     f"plan wall, {base_per_plan * main_plans:,.1f} s for {main_plans:,}"))
        ratio = (f"XlsxWriter build vs openpyxl baseline: {base_per_plan / per_plan:,.1f}x "
                 f"faster per plan ({per_plan * 1000:,.1f} vs {base_per_plan * 1000:,.1f} ms "
                 "wall per plan).")

    width = max(len(r[0]) for r in rows)
    print()
    for label, seconds, note in rows:
        print(f"{label:<{width}}  {seconds:8.2f} s  {note}")
    if ratio:
        print(f"\n{ratio}")
    pace = main_seconds / max(main_plans, 1) * TARGET_PLANS
    verdict = "within" if pace <= TARGET_SECONDS else "OVER"
    print(f"\nTarget: {TARGET_PLANS:,} plans in <= {TARGET_SECONDS:.0f} s wall with all cores: "
          f"{main_plans:,} plans in {main_seconds:.1f} s = {pace:.1f} s per {TARGET_PLANS:,}, "
          f"{verdict} target.")
    print("CPU ms/plan does not depend on other programs; wall time does (see 'other "
          "programs used': on a shared machine the workers get fewer cores than asked for).")
    if args.keep is None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
