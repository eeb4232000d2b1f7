"""One truth per number, proved on hostile plans: validate against two spreadsheet engines.

Hundreds of mutated filled plans (tests/mutants.py: every class issue 13 lists, plus random
edits of values, codes, formulas and XML) are recalculated headless in LibreOffice (all of them,
in a few large batches, two soffice processes at a time, so each batch is validated while the
next runs) and gnumeric (the first SSFR_DIFF_GNUMERIC, which include one mutant of every
class). For every file:

  - validate rejects it with at least one error finding, OR its per-fund planned and remaining
    money equal both engines' recalculated Summary cells to the cent, both engines' Start Here
    Status says "Balanced", and so the verdict (accepted) is the workbook's own;
  - when both engines show "Balanced" and every Check cell is "" or "OK", any error validate
    still reports is one of the rules "checked when you submit" (SUBMIT_CODES, below);
  - when no finding says the file computes with other formulas, names, lists or allocation
    (COMPUTES_DIFFERENTLY), Python's Status text (check_plan's totals.status) is LibreOffice's
    and gnumeric's, character for character.

Then the same for the files as LibreOffice and gnumeric saved them after recalculating (their
cached values are what the engine showed): each is rejected, or agrees with its own cached
Summary and Status; and every plan validate accepted stays accepted with the same totals.

A failing mutant is copied to SSFR_DIFF_FAILURES (default /tmp/diff-failures) with a one-line
explanation beside it. `pytest -s tests/test_plan_differential.py` prints mutants per class and
their verdicts. Sizes: SSFR_DIFF_MUTANTS (default 300), SSFR_DIFF_GNUMERIC (default 80).
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ssfr_xl import gnumeric
from ssfr_xl.errors import FileError
from ssfr_xl.layout import START_FIELDS, SchoolLayout
from ssfr_xl.layout import SchoolSheets as SS
from ssfr_xl.libreoffice import recalculate
from ssfr_xl.reader import ReadProblem, read_workbook
from ssfr_xl.validate import DistrictRecord, check_plan
from tests.helpers import CENT_TOLERANCE, read_book, require_ssconvert
from tests.mutants import CLASSES, Mutant, Sample, build_sample, make_mutants

pytestmark = pytest.mark.libreoffice

MUTANTS = int(os.environ.get("SSFR_DIFF_MUTANTS", "300"))
GNUMERIC = int(os.environ.get("SSFR_DIFF_GNUMERIC", "80"))
FAILURES = Path(os.environ.get("SSFR_DIFF_FAILURES", "/tmp/diff-failures"))

#: Error codes for what no formula can show live: the rules Start Here lists as "checked when
#: you submit" (school_book.CHECKED_ON_SUBMIT). A plan whose every Check cell is "" or "OK" and
#: whose Status is "Balanced" in both engines may be rejected for these, and only these.
SUBMIT_CODES = frozenset({
    # identity: the file the district sent, for this school, this year
    "not-a-plan", "unknown-school", "wrong-district", "wrong-fiscal-year",
    "unsupported-template", "identity-mismatch", "duplicate-school",
    # integrity: sheets, names, formulas, cells outside the plan, settings
    "sheet-missing", "xlwings-config-sheet", "merged-cells", "names-changed", "rows-inserted",
    "formula-changed", "formula-overwritten", "formula-added", "formula-in-input",
    "outside-plan-area", "precision-as-displayed",
    # a TRUE/FALSE in a number cell: Excel's Check flags it, LibreOffice counts it as 1 or 0
    "true-false-value",
    # lists, prices and allocation of record
    "prices-changed", "allocation-changed",
    # the reader: what a file is and how its XML is spelled
    "empty-file", "file-too-large", "unreadable", "old-excel-format", "password-protected",
    "not-an-xlsx-file", "opendocument-file", "truncated-file", "zip-bomb", "unsafe-xml",
    "too-many-cells", "too-many-strings", "read-timeout", "read-crashed", "read-out-of-memory",
    "alternate-content", "duplicate-cells", "unexpected-markup", "unsupported-encoding",
    "not-a-workbook",
})

#: Findings that say the file computes with something other than the district's template
#: (other formulas, names, lists, allocation, precision): its own Status may differ from the
#: one Python computes with the template's formulas on the inputs, by design.
COMPUTES_DIFFERENTLY = frozenset({
    "formula-changed", "formula-overwritten", "formula-added", "formula-in-input",
    "names-changed", "rows-inserted", "prices-changed", "allocation-changed",
    "precision-as-displayed",
    # LibreOffice reads TRUE in a number-formatted cell as 1: its Status is not Excel's
    "true-false-value",
})

MISSING = "<missing>"


# --- what validate says, what an engine shows ---------------------------------------------

@dataclass
class Verdict:
    """check_plan's outcome on one file."""

    status: str  # accepted | accepted with warnings | rejected
    errors: set[str] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)  # every finding's code
    findings: list = field(default_factory=list)
    planned: dict[str, float] | None = None
    remaining: dict[str, float] | None = None
    python_status: str | None = None
    exception: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status.startswith("accepted")

    def describe(self) -> str:
        shown = ", ".join(f"{f.severity[0]}:{f.code}@{f.sheet}!{f.cell}" for f in self.findings)
        return f"{self.status} [{shown}]"


def verdict(path: Path, record: DistrictRecord) -> Verdict:
    """Read and check one file as validate does (a ReadProblem is a rejection)."""
    try:
        raw = read_workbook(path)
    except ReadProblem as p:
        status = "rejected" if p.severity == "error" else "accepted with warnings"
        return Verdict(status, {p.code} if p.severity == "error" else set(), {p.code},
                       [p.as_finding(path.name)])
    except Exception as e:  # noqa: BLE001 - an exception is itself the failure to report
        return Verdict("rejected", exception=f"read_workbook raised {type(e).__name__}: {e}")
    try:
        check = check_plan(raw, record, path)
    except Exception as e:  # noqa: BLE001
        return Verdict("rejected", exception=f"check_plan raised {type(e).__name__}: {e}")
    v = Verdict(check.status, {f.code for f in check.findings if f.severity == "error"},
                {f.code for f in check.findings}, list(check.findings))
    if check.totals is not None:
        v.planned = dict(check.totals.planned_by_fund)
        v.remaining = dict(check.totals.remaining_by_fund)
        v.python_status = check.totals.status
    return v


@dataclass
class Shown:
    """What a recalculated workbook shows: Summary per fund, Status, Check cells."""

    planned: dict[str, object]
    remaining: dict[str, object]
    status: object
    problems: list[str]  # Check cells that are neither "" nor "OK", as "Sheet!A1: text"

    @property
    def balanced(self) -> bool:
        return self.status == "Balanced"


def shown(path: Path, layout: SchoolLayout) -> Shown:
    """Read the values an engine computed (and saved) in a workbook."""
    book = read_book(path)

    def at(sheet: str, address: str) -> object:
        if sheet not in book:
            return MISSING
        v = book.value(sheet, address)
        return None if v == "" else v

    funds = layout.funds
    codes = [f.code for f in layout.policy.funds]
    problems = []
    for t in (layout.staffing, layout.services, layout.other, layout.goals):
        for i in range(t.rows):
            v = at(t.sheet, t.cell("check", i))
            if v not in (None, "OK"):
                problems.append(f"{t.sheet}!{t.cell('check', i)}: {v!r}")
    return Shown({c: at(funds.sheet, funds.cell("planned", i)) for i, c in enumerate(codes)},
                 {c: at(funds.sheet, funds.cell("remaining", i)) for i, c in enumerate(codes)},
                 at(SS.START, START_FIELDS.cell("status")), problems)


def same_money(python: float, engine: object) -> bool:
    """Python's amount equals the engine's cell to the cent."""
    return (isinstance(engine, int | float) and not isinstance(engine, bool)
            and math.isfinite(engine) and abs(python - engine) <= CENT_TOLERANCE)


def money_differences(v: Verdict, s: Shown) -> list[str]:
    """Funds whose planned or remaining money differs (Python vs the engine)."""
    out = []
    assert v.planned is not None and v.remaining is not None
    for key, mine, theirs in (("planned", v.planned, s.planned),
                              ("remaining", v.remaining, s.remaining)):
        for code, amount in mine.items():
            if not same_money(amount, theirs.get(code)):
                out.append(f"{key} {code}: Python {amount!r}, engine {theirs.get(code)!r}")
    return out


# --- the corpus, recalculated -------------------------------------------------------------

@dataclass
class Run:
    """Every mutant, what validate says of it, and what each engine showed and saved."""

    sample: Sample
    mutants: list[Mutant]
    verdicts: dict[int, Verdict]
    libreoffice: dict[int, Path | None]  # mutant index -> LibreOffice's saved file
    gnumeric: dict[int, Path | None]  # the subset gnumeric recalculated
    lo_shown: dict[int, Shown | str]  # str: why the engine showed nothing
    gn_shown: dict[int, Shown | str]
    lo_saved: dict[int, Verdict]  # validate on LibreOffice's saved file
    gn_saved: dict[int, Verdict]
    gnumeric_reason: str | None  # why gnumeric did not run
    seconds: dict[str, float]

    def mutant(self, index: int) -> Mutant:
        return self.mutants[index]


def _recalc_libreoffice(paths: Sequence[Path], out: Path) -> dict[Path, Path | None]:
    """LibreOffice outputs by input; a batch that fails is split until the culprit is alone."""
    try:
        return dict(zip(paths, recalculate(list(paths), out, timeout=120 + 10 * len(paths)),
                        strict=True))
    except FileError:
        if len(paths) == 1:
            return {paths[0]: None}
        half = len(paths) // 2
        return {**_recalc_libreoffice(paths[:half], out),
                **_recalc_libreoffice(paths[half:], out)}


def _timed(seconds: dict[str, float], key: str, fn: Callable[[], object]) -> object:
    start = time.monotonic()
    try:
        return fn()
    finally:
        seconds[key] = time.monotonic() - start


#: LibreOffice batches per soffice process running side by side: a few batches, so the files
#: of a finished batch are validated while the next one runs.
LIBREOFFICE_BATCHES = 2


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, soffice: str) -> Run:
    root = tmp_path_factory.mktemp("differential")
    seconds: dict[str, float] = {}
    began = time.monotonic()
    sample = build_sample(root / "sample")
    seconds["sample"] = time.monotonic() - began
    mutants = _timed(seconds, "mutants", lambda: make_mutants(sample, root / "mutants", MUTANTS))
    assert isinstance(mutants, list)
    reason = gnumeric.missing_tool_reason()
    subset = [] if reason else mutants[:GNUMERIC]
    record, layout = sample.record, sample.layout
    # two soffice processes at a time (one per core), each doing LIBREOFFICE_BATCHES batches
    workers = 2 if (os.cpu_count() or 1) >= 2 else 1
    n_batches = workers * LIBREOFFICE_BATCHES
    batches = [mutants[i::n_batches] for i in range(n_batches)]

    def libreoffice(batch: list[Mutant]) -> tuple[list[Mutant], dict[Path, Path | None]]:
        return batch, _recalc_libreoffice([m.path for m in batch], root / "libreoffice")

    def gnumeric_pass() -> list[tuple[Path | None, str]]:
        return _timed(seconds, "gnumeric (1 process at a time)", lambda:
                      gnumeric.recalculate_each([m.path for m in subset], root / "gnumeric",
                                                workers=1))

    libre: dict[int, Path | None] = {}
    lo_shown: dict[int, Shown | str] = {}
    lo_saved: dict[int, Verdict] = {}
    with ThreadPoolExecutor(max_workers=workers) as lo_pool, \
            ThreadPoolExecutor(max_workers=1) as gn_pool:
        lo_start = time.monotonic()
        lo_jobs = [lo_pool.submit(libreoffice, batch) for batch in batches if batch]
        gn_job = gn_pool.submit(gnumeric_pass) if subset else None
        # the engines run in their own processes; validate the originals meanwhile, then
        # each batch LibreOffice has finished
        verdicts = _timed(seconds, "validate originals",
                          lambda: {m.index: verdict(m.path, record) for m in mutants})
        for job in as_completed(lo_jobs):
            batch, outputs = job.result()
            for m in batch:
                out = libre[m.index] = outputs.get(m.path)
                lo_shown[m.index] = shown(out, layout) if out else "LibreOffice failed"
                if out is not None:
                    lo_saved[m.index] = verdict(out, record)
        seconds["libreoffice (all batches)"] = time.monotonic() - lo_start
        gn_results = gn_job.result() if gn_job is not None else []
    start = time.monotonic()
    gnu: dict[int, Path | None] = {}
    gn_shown: dict[int, Shown | str] = {}
    gn_saved: dict[int, Verdict] = {}
    for m, (out, why) in zip(subset, gn_results, strict=True):
        gnu[m.index] = out
        gn_shown[m.index] = shown(out, layout) if out else (why or "gnumeric failed")
        if out is not None:
            gn_saved[m.index] = verdict(out, record)
    seconds["validate gnumeric's files"] = time.monotonic() - start
    seconds["total"] = time.monotonic() - began
    for stale in FAILURES.glob("differential-*"):
        stale.unlink()
    return Run(sample, mutants, verdicts, libre, gnu, lo_shown, gn_shown, lo_saved, gn_saved,
               reason, seconds)


# --- failures -----------------------------------------------------------------------------

def report(failures: list[tuple[Mutant, Path | None, str]], what: str) -> None:
    """Write each failing file to FAILURES with a one-line explanation; fail naming them."""
    if not failures:
        return
    FAILURES.mkdir(parents=True, exist_ok=True)
    lines = []
    for mutant, path, why in failures:
        stem = f"differential-{what}-{mutant.name}"
        if path is not None and path.is_file():
            shutil.copyfile(path, FAILURES / f"{stem}.xlsx")
        line = f"{mutant.path.name} [{mutant.klass}] {why} | mutation: {mutant.detail}"
        (FAILURES / f"{stem}.txt").write_text(line + "\n", encoding="utf-8")
        lines.append(line)
    shown_lines = "\n  ".join(lines[:25])
    more = f"\n  ... and {len(lines) - 25} more" if len(lines) > 25 else ""
    pytest.fail(f"{len(failures)} mutant(s) {what} (copied to {FAILURES}):\n  {shown_lines}"
                f"{more}", pytrace=False)


def engines(run: Run, index: int) -> list[tuple[str, Shown | str]]:
    """(engine name, what it showed) for one mutant: LibreOffice, and gnumeric if it ran."""
    out: list[tuple[str, Shown | str]] = [("LibreOffice", run.lo_shown[index])]
    if index in run.gn_shown:
        out.append(("gnumeric", run.gn_shown[index]))
    return out


def agreement_failures(mutant: Mutant, v: Verdict, views: Iterable[tuple[str, Shown | str]]
                       ) -> list[str]:
    """Why a file breaks "rejected with a finding, or totals and verdict as the engines'"."""
    if v.exception:
        return [v.exception]
    if not v.accepted:
        return [] if v.errors else [f"rejected without an error finding: {v.describe()}"]
    if v.planned is None:
        return [f"accepted without totals: {v.describe()}"]
    problems = []
    for name, s in views:
        if isinstance(s, str):
            problems.append(f"accepted ({v.describe()}) but {name} could not open it: {s}")
            continue
        differences = money_differences(v, s)
        if differences:
            problems.append(f"accepted ({v.describe()}) but {name} differs: "
                            + "; ".join(differences))
        if not s.balanced:
            problems.append(f"accepted ({v.describe()}) but {name}'s Status is {s.status!r}"
                            + (f" (Check: {'; '.join(s.problems[:3])})" if s.problems else ""))
    return problems


# --- the tests ----------------------------------------------------------------------------

def test_mutants_cover_every_class(run: Run) -> None:
    made = Counter(m.klass for m in run.mutants)
    assert set(made) == {c.name for c in CLASSES}, "every class has mutants"
    assert len(run.mutants) >= min(MUTANTS, len(CLASSES))
    valid = [m for m in run.mutants if m.klass == "valid"]
    assert valid and all(run.verdicts[m.index].accepted for m in valid), \
        [run.verdicts[m.index].describe() for m in valid]


def test_rejected_or_same_totals_and_verdict_as_both_engines(run: Run) -> None:
    failures = []
    for m in run.mutants:
        for why in agreement_failures(m, run.verdicts[m.index], engines(run, m.index)):
            failures.append((m, m.path, why))
    report(failures, "disagree-with-engines")


def test_balanced_with_every_check_ok_is_rejected_only_for_submit_rules(run: Run) -> None:
    failures = []
    for m in run.mutants:
        v = run.verdicts[m.index]
        views = engines(run, m.index)
        if v.exception or v.accepted:
            continue
        if not all(isinstance(s, Shown) and s.balanced and not s.problems for _n, s in views):
            continue
        live = sorted(v.errors - SUBMIT_CODES)
        if live:
            names = " and ".join(n for n, _s in views)
            verb = "show" if len(views) > 1 else "shows"
            failures.append((m, m.path, f"{names} {verb} Balanced with every Check OK, but "
                             f"validate rejects it for live rules {live}: {v.describe()}"))
    report(failures, "rejected-though-balanced")


def test_python_status_is_the_engines_status(run: Run) -> None:
    failures = []
    compared = 0
    for m in run.mutants:
        v = run.verdicts[m.index]
        if v.python_status is None or v.codes & COMPUTES_DIFFERENTLY:
            continue
        compared += 1
        for name, s in engines(run, m.index):
            theirs = s.status if isinstance(s, Shown) else f"<{name} failed: {s}>"
            if str(theirs) != v.python_status:
                failures.append((m, m.path, f"Status: Python {v.python_status!r}, {name} "
                                 f"{theirs!r} ({v.describe()})"))
    assert compared >= len(run.mutants) // 3, f"only {compared} mutants compared"
    report(failures, "status-differs")


def _saved_failures(run: Run, saved: dict[int, Verdict], files: dict[int, Path | None],
                    values: dict[int, Shown | str], name: str
                    ) -> list[tuple[Mutant, Path | None, str]]:
    failures = []
    for index, v in sorted(saved.items()):
        m = run.mutant(index)
        path = files[index]
        assert path is not None
        # the engine saved what it showed: its cached values are its recalculated ones
        for why in agreement_failures(m, v, [(f"{name}'s saved values", values[index])]):
            failures.append((m, path, f"saved by {name}: {why}"))
        before = run.verdicts[index]
        if before.accepted and not before.exception:
            if not v.accepted:
                failures.append((m, path, f"accepted as sent ({before.describe()}) but rejected "
                                 f"once saved by {name}: {v.describe()}"))
            elif (v.planned, v.remaining) != (before.planned, before.remaining):
                failures.append((m, path, f"totals changed once saved by {name}: planned "
                                 f"{before.planned} -> {v.planned}, remaining "
                                 f"{before.remaining} -> {v.remaining}"))
    return failures


def test_files_saved_by_libreoffice_check_the_same(run: Run) -> None:
    assert run.lo_saved, "LibreOffice saved no file"
    report(_saved_failures(run, run.lo_saved, run.libreoffice, run.lo_shown, "LibreOffice"),
           "saved-by-libreoffice")


@pytest.fixture(scope="session")
def ssconvert() -> str:
    """Path of ssconvert; errors on CI (CI is set) and skips elsewhere when it cannot run."""
    return require_ssconvert()


def test_gnumeric_recalculated_every_class(run: Run, ssconvert: str) -> None:
    assert run.gnumeric, run.gnumeric_reason
    if GNUMERIC >= len(CLASSES):
        assert {run.mutant(i).klass for i in run.gnumeric} == {c.name for c in CLASSES}


def test_files_saved_by_gnumeric_check_the_same(run: Run, ssconvert: str) -> None:
    assert run.gn_saved, "gnumeric saved no file"
    report(_saved_failures(run, run.gn_saved, run.gnumeric, run.gn_shown, "gnumeric"),
           "saved-by-gnumeric")


def test_gnumeric_names_a_file_it_cannot_convert(tmp_path: Path, ssconvert: str) -> None:
    missing = tmp_path / "nothing.xlsx"
    with pytest.raises(FileError, match="no such file"):
        gnumeric.recalculate([missing], tmp_path / "out")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    (out, why), = gnumeric.recalculate_each([broken], tmp_path / "out")
    assert out is None and "broken.xlsx" in why
    with pytest.raises(FileError, match="1 of 1"):
        gnumeric.recalculate([broken], tmp_path / "out")


def test_summary(run: Run) -> None:
    """Mutants per class and verdicts (shown with -s); never fails."""
    rows = []
    for c in CLASSES:
        ms = [m for m in run.mutants if m.klass == c.name]
        verdicts = Counter(run.verdicts[m.index].status for m in ms)
        lo = Counter("Balanced" if isinstance(run.lo_shown[m.index], Shown)
                     and run.lo_shown[m.index].balanced else "other" for m in ms)
        gn = sum(1 for m in ms if m.index in run.gn_shown)
        codes = Counter(code for m in ms for code in run.verdicts[m.index].errors)
        rows.append((c.name, len(ms), verdicts["accepted"], verdicts["accepted with warnings"],
                     verdicts["rejected"], lo["Balanced"], gn,
                     ", ".join(f"{k}:{n}" for k, n in codes.most_common(4))))
    out = sys.stdout
    out.write(f"\n{len(run.mutants)} mutants, {len(run.gnumeric)} also in gnumeric"
              f"{' (' + run.gnumeric_reason + ')' if run.gnumeric_reason else ''}\n")
    out.write(f"{'class':26}{'n':>4}{'acc':>5}{'acc-w':>6}{'rej':>5}{'LO-bal':>7}{'gn':>4}"
              "  most frequent errors\n")
    for name, n, a, aw, r, bal, gn, codes in rows:
        out.write(f"{name:26}{n:4}{a:5}{aw:6}{r:5}{bal:7}{gn:4}  {codes}\n")
    out.write("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in run.seconds.items()) + "\n")
