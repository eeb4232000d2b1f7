"""The season at state scale: 10,000 plans through `consolidate --ledger`, against 1,000.

    python benchmarks/bench_scale.py                   # 10,000 schools (synthetic)
    python benchmarks/bench_scale.py --keep /tmp/s10k  # keep the plans; --reuse them later

California has about 10,600 schools. A synthetic district of --schools schools (default
10,000: copies of the sample district, 2,000 schools each, each its own seed, ids and names)
returns one filled, balanced plan per school (written in parallel: setup, not timed in
the target). Then, each in a fresh process, `consolidate --ledger` (a fresh ledger, the files'
e-mail times from --received, CSV exports) of the first --small plans (default 1,000: the
other schools count as missing) and of every plan. For each run it prints the wall time, the
peak memory (RSS) of the consolidating process and of its largest child (a reader worker, or
the process forked to write the CSV exports, which shares the parent's pages), and how both grow;
targets: peak memory < 1 GB, and time within 10% of linear (10,000 plans take at most 1.1x
ten times the 1,000).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import openpyxl
from bench_season import RECEIVED, write_received

from ssfr_xl.layout import SchoolLayout
from ssfr_xl.school_book import SchoolPlanSpec, file_name, plan_specs
from ssfr_xl.season import build_plans, create_district
from ssfr_xl.sources.demo import demo_plan, fill_plan_workbook
from ssfr_xl.sources.roster import write_roster_csv
from ssfr_xl.sources.sample import sample_district
from ssfr_xl.validate import district_record

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.corpus import (  # noqa: E402
    _CELL,
    _STYLE,
    cell_xml,
    rewrite_zip,
    set_cells,
    sheet_part,
)

#: Runs in a fresh interpreter, so that peak memory is this run's alone.
_CHILD = """
import json, resource, sys, time
from pathlib import Path
from ssfr_xl.report import consolidate_folder
district, folder, out, received, workers = sys.argv[1:6]
out = Path(out)
start = time.perf_counter()
summary, clean = consolidate_folder(Path(district), Path(folder), out / "totals.xlsx",
                                    out / "exports", out / "season.sqlite",
                                    workers=int(workers), received=Path(received))
wall = time.perf_counter() - start
print(json.dumps({"wall": wall, "summary": summary.splitlines()[1],
                  "parent_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "worker_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def consolidate_run(district: Path, folder: Path, out: Path, workers: int) -> dict:
    """consolidate --ledger of `folder` in a fresh process: wall time and peak memories."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    received = write_received(sorted(folder.iterdir()), out.parent / f"{out.name}-received.csv")
    done = subprocess.run([sys.executable, "-c", _CHILD, str(district), str(folder), str(out),
                           str(received), str(workers)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


class _TypedCells:
    """Stands in for the workbook demo's fill_plan_workbook types into: records the cells."""

    def __init__(self, menu: dict[tuple[str, str], object]) -> None:
        self.menu, self.cells = menu, {}

    def __getitem__(self, sheet: str) -> _TypedSheet:
        return _TypedSheet(self, sheet)


class _TypedSheet:
    def __init__(self, book: _TypedCells, sheet: str) -> None:
        self.book, self.sheet = book, sheet

    def __setitem__(self, coord: str, value: object) -> None:
        self.book.cells.setdefault(self.sheet, {})[coord] = value

    def __getitem__(self, coord: str) -> SimpleNamespace:  # the service menu's codes
        return SimpleNamespace(value=self.book.menu.get((self.sheet, coord)))


def _type_into(xml: bytes, cells: dict[str, object]) -> bytes:
    """Sheet XML with the cells typed in: one pass over the cells the plan already has (its
    input cells are written, empty and styled), tests/corpus.py's set_cells for the rest."""
    todo = dict(cells)

    def one(m: re.Match[bytes]) -> bytes:
        coord = (m[1] + m[2]).decode()
        if coord not in todo:
            return m[0]
        style = _STYLE.search(m[3])
        return cell_xml(coord, todo.pop(coord), style[1] if style else b"")
    xml = _CELL.sub(one, xml)
    return set_cells(xml, todo) if todo else xml


def _fill(job: tuple[SchoolPlanSpec, int, Path, dict, float]) -> int:
    """A principal's entries typed into the plan the district sent (its sheet XML edited, as
    tests/corpus.py does), the plan received at `received`; returns the file's size."""
    spec, seed, path, menu, received = job
    typed = _TypedCells(menu)
    fill_plan_workbook(typed, spec.policy, demo_plan(spec, seed=seed, fill_share=0.97))
    with zipfile.ZipFile(path) as z:
        parts = {sheet_part(path, sheet): cells for sheet, cells in typed.cells.items()}
        replace = {part: _type_into(z.read(part), cells) for part, cells in parts.items()}
    edited = path.with_suffix(".tmp")
    rewrite_zip(path, edited, replace=replace)
    os.replace(edited, path)
    os.utime(path, (received, received))
    return path.stat().st_size


def fill_plans(district: Path, returned: Path, workers: int) -> None:
    """Every school's plan: written by build (its fast writer), then filled in."""
    build_plans(district, returned, workers=workers, force=True)
    (returned / "manifest.csv").unlink()
    specs = plan_specs(district_record(district).result)
    first = returned / file_name(specs[0].school)
    services = SchoolLayout(specs[0].policy).services
    sheet = openpyxl.load_workbook(first, read_only=True)[services.sheet]
    menu = {(services.sheet, services.cell("service", i)):
            sheet[services.cell("service", i)].value
            for i in range(SchoolLayout(specs[0].policy).menu_rows)}
    jobs = [(spec, i, returned / file_name(spec.school), menu, RECEIVED + i)
            for i, spec in enumerate(specs)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_fill, jobs, chunksize=32))


def state_roster(n: int, path: Path) -> Path:
    """A roster of n synthetic schools: copies of the sample district (at most 2,000 schools
    each, a different seed each), with their own ids and names."""
    schools = []
    for copy in range((n + 1999) // 2000):
        _, some = sample_district(min(2000, n - 2000 * copy), seed=2026 + copy)
        schools += [replace(s, school_id=f"{s.school_id[:7]}{copy}{i:06d}",
                            name=f"{s.name} ({copy + 1}-{i + 1})") for i, s in enumerate(some)]
    write_roster_csv(schools, path)
    return path


def subset(paths: list[Path], folder: Path) -> Path:
    """A folder holding the first of the plans (hard links where the disk allows)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for p in paths:
        try:
            os.link(p, folder / p.name)
        except OSError:
            shutil.copy2(p, folder / p.name)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=10_000, help="default 10,000")
    parser.add_argument("--small", type=int, default=1_000,
                        help="plans in the smaller run (default 1,000)")
    parser.add_argument("--as-sent", action="store_true",
                        help="the plans as the district sends them, not filled in")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes for reading (default: every core)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="work in DIR and keep the plans and outputs")
    parser.add_argument("--reuse", action="store_true",
                        help="with --keep: reuse the district and plans already in DIR")
    args = parser.parse_args(argv)
    workers = args.workers or len(os.sched_getaffinity(0))

    with tempfile.TemporaryDirectory(prefix="ssfr-scale-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        district, returned = root / "district.xlsx", root / "returned"
        reuse = args.reuse and district.is_file() and returned.is_dir() and \
            len(list(returned.iterdir())) == args.schools
        start = time.perf_counter()
        if not reuse:
            create_district(district, roster=state_roster(args.schools, root / "roster.csv"),
                            force=True)
        init_s = time.perf_counter() - start
        start = time.perf_counter()
        if not reuse:
            shutil.rmtree(returned, ignore_errors=True)
            returned.mkdir()
            if args.as_sent:
                build_plans(district, returned, workers=workers, force=True)
                (returned / "manifest.csv").unlink()
            else:
                fill_plans(district, returned, workers)
        gen_s = time.perf_counter() - start
        paths = sorted(returned.iterdir())
        size = sum(p.stat().st_size for p in paths)
        kind = "as sent (not filled in)" if args.as_sent else "filled in"
        print(f"ssfr-xl scale benchmark: a synthetic district of {args.schools:,} "
              f"schools, one plan each, {kind} ({size / len(paths) / 1024:,.0f} KB); "
              f"{workers} worker process(es)")
        print(f"setup (not timed in the target): district workbook {init_s:.1f} s, plans "
              f"{gen_s:.1f} s{' (reused)' if reuse else ''}")
        print()
        small = subset(paths[:args.small], root / f"returned-{args.small}")
        runs = [(args.small, consolidate_run(district, small, root / "out-small", workers)),
                (len(paths), consolidate_run(district, returned, root / "out-all", workers))]
        print(f"{'consolidate --ledger':<24} {'seconds':>8} {'ms/plan':>8} "
              f"{'parent MB':>10} {'child MB':>10}  summary")
        for n, r in runs:
            print(f"{n:>8,} plans{'':<12} {r['wall']:8.1f} {r['wall'] / n * 1000:8.1f} "
                  f"{r['parent_kb'] / 1024:10.0f} {r['worker_kb'] / 1024:10.0f}  "
                  f"{r['summary']}")
        (n1, a), (n2, b) = runs
        linear = b["wall"] / (a["wall"] * n2 / n1)
        peak = max(b["parent_kb"], b["worker_kb"]) / 1024
        print()
        print(f"time: {n2:,} plans take {linear:.2f}x {n2 // n1} times the {n1:,} (target "
              f"<= 1.10x: {'met' if linear <= 1.10 else 'MISSED'})")
        print(f"memory: parent {a['parent_kb'] / 1024:.0f} -> {b['parent_kb'] / 1024:.0f} MB "
              f"(x{b['parent_kb'] / a['parent_kb']:.2f}), largest child (a reader, or the exports "
              f"writer forked from the parent) "
              f"{a['worker_kb'] / 1024:.0f} -> {b['worker_kb'] / 1024:.0f} MB "
              f"(x{b['worker_kb'] / a['worker_kb']:.2f}); peak {peak:.0f} MB (target < 1,024 "
              f"MB: {'met' if peak < 1024 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
