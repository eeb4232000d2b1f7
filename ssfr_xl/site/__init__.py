"""ssfr-xl publish: a static transparency site for families, staff and the board.

    publish_site("district.xlsx", "site/", ledger="season.sqlite", langs=("en", "es"))

The site is plain files (HTML, CSS, SVG and PNG charts, CSV tables, one small script for the
library's search and filters) that open from disk or any static host; nothing is fetched at
view time. Numbers come from the engine on the district workbook's inputs (as `allocate`
computes them) and, when plans are consolidated, from the season ledger or the totals
workbook; with an outcomes file, the year-end results as `ssfr-xl results` computes them.
Modules: figures (the engine's numbers), plans (the consolidated season), i18n (the
message catalog and number formats), tables, charts, district_page, school_page,
library_page, results_view (the results), render (templates to files), output (the --out
folder), browser (headless Chromium, for PNG copies and the tests).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import InputError

__all__ = ["LANGUAGES", "parse_languages", "publish_site"]

from .i18n import LANGUAGES


def parse_languages(text: str) -> tuple[str, ...]:
    """'en,es' -> ('en', 'es'); an unknown or repeated code is an InputError naming it."""
    codes = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    unknown = [c for c in codes if c not in LANGUAGES]
    if not codes or unknown:
        raise InputError(f"--lang {text!r}: the site can be written in "
                         f"{', '.join(LANGUAGES)} (comma-separated, e.g. en,es).")
    if len(set(codes)) != len(codes):
        raise InputError(f"--lang {text!r} names a language twice.")
    return codes


def publish_site(district_xlsx: str | Path, out: str | Path, *,
                 totals: str | Path | None = None, ledger: str | Path | None = None,
                 outcomes: str | Path | None = None,
                 langs: Sequence[str] = ("en", "es"),
                 progress: Callable[[str], None] = lambda _m: None,
                 today: _dt.date | None = None) -> str:
    """Write the site into `out` (created, or replacing an earlier site); returns a summary."""
    from ..district_reader import read_district
    from ..formula import allocate
    from ..school_book import file_name
    from .figures import district_figures
    from .output import SiteFolder, check_out
    from .plans import from_ledger, from_totals
    from .render import write_site

    if totals is not None and ledger is not None:
        raise InputError("Give --totals or --ledger, not both: they are two records of the "
                         "same consolidated season.")
    district_xlsx, out = Path(district_xlsx), Path(out)
    inputs_given = [("the district workbook", district_xlsx)]
    inputs_given += [("the totals workbook", Path(totals))] if totals is not None else []
    inputs_given += [("the season ledger", Path(ledger))] if ledger is not None else []
    inputs_given += [("the outcomes file", Path(outcomes))] if outcomes is not None else []
    progress(f"reading inputs of {district_xlsx.name}")
    inputs = read_district(district_xlsx)
    check_out(out, inputs_given, {file_name(s) for s in inputs.schools})
    progress("computing allocations")
    result = allocate(inputs)
    figures = district_figures(result)
    season = None
    if ledger is not None:
        from ..validate import district_record

        progress("reading the season ledger")
        season = from_ledger(Path(ledger), district_record(district_xlsx))
    elif totals is not None:
        progress("reading the totals workbook")
        season = from_totals(Path(totals), inputs.policy)
    results = None
    if outcomes is not None:
        from .results_view import read_results

        progress("matching the outcomes to the plans' goals")
        results = read_results(inputs, Path(outcomes), Path(ledger) if ledger else None)
    site = SiteFolder(out)
    try:
        notes = write_site(site, figures, season, list(langs), today or _dt.date.today(),
                           progress, results)
        pages = sum(1 for p in site.root.rglob("*.html"))
        charts = sum(1 for p in site.root.rglob("*.svg"))
        tables = sum(1 for p in site.root.rglob("*.csv"))
        site.publish()
    finally:
        site.discard()
    plans = (f"; plans from {season.source_file} ({len(season.accepted())} accepted)"
             if season is not None else "; no consolidated plans (give --ledger or --totals)")
    if results is not None:
        from .results_view import district_counts

        n, measured, met = district_counts(results)
        plans += (f"; results from {results.outcomes_file}: {n:,} outcomes, {measured:,} plan "
                  f"goals measured, {met:,} targets met")
    lines = [f"Wrote the site to {out}: {pages:,} pages in {', '.join(langs)}, {charts:,} "
             f"charts, {tables:,} CSV tables{plans}.", f"Open {out / 'index.html'}."]
    return "\n".join(lines + [f"Note: {n}" for n in notes])
