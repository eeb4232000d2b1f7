"""Fuzzing returned plans through consolidate: each mutant gets its own outcome, nothing crashes,
every file is listed, and the totals of untouched plans never change.

The mutants are tests/mutants.py's (every class of issue 13, plus random edits), and raw junk:
random bytes overwritten anywhere in the file, random edits inside one XML part. They are
checked in batches, one folder per batch, each batch holding the untouched plans of the first
UNTOUCHED schools and one mutant of each other school, so no two files in a folder claim the
same school: no mutant's outcome can hide behind `duplicate-school`, and each is asserted on
its own (Mutant.expect). At least 500 mutants when CI is set; SSFR_FUZZ_MUTANTS otherwise
(default 140).
"""

from __future__ import annotations

import io
import os
import random
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from ssfr_xl.consolidate import consolidate
from ssfr_xl.reader import read_workbook
from ssfr_xl.totals_book import season_tables
from ssfr_xl.validate import check_plan
from tests.mutants import (
    ACCEPTED,
    CLASSES,
    FLAGGED,
    REJECTED,
    SEED,
    Mutant,
    Sample,
    build_sample,
    make_mutant,
)

UNTOUCHED = 6  # schools whose plans stay valid, in every batch
MUTANTS = 500 if os.environ.get("CI") else int(os.environ.get("SSFR_FUZZ_MUTANTS", "140"))
JUNK_EVERY = 7  # every 7th slot of a batch is raw junk (bytes or XML), the rest mutants


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    """A 20-school district with a valid filled plan per school."""
    return build_sample(tmp_path_factory.mktemp("fuzz") / "sample")


# --- raw junk -----------------------------------------------------------------------------

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


def junk(sample: Sample, sid: str, index: int, folder: Path) -> Mutant:
    """Raw junk made from a school's valid plan: bytes flipped or one XML part mangled."""
    rng = random.Random(f"{SEED}-junk-{index}")
    data = sample.plans[sid].read_bytes()
    kind = rng.choice(("bytes", "xml"))
    mutant = flip_bytes(data, rng) if kind == "bytes" else mutate_xml(data, rng)
    path = folder / f"{sid}_j{index:04d}-junk-{kind}.xlsx"
    path.write_bytes(mutant)
    return Mutant(index, f"junk-{kind}", sid, path, f"{kind} junk (seed {SEED}, {index})")


# --- outcomes -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Baseline:
    """What an untouched plan is, checked alone."""

    status: str
    planned: dict[str, float]
    remaining: dict[str, float]


def baseline(sample: Sample) -> dict[str, Baseline]:
    """Every school's valid plan, checked on its own."""
    out = {}
    for sid, path in sample.plans.items():
        check = check_plan(read_workbook(path), sample.record, path)
        assert check.status.startswith("accepted"), (path.name, check.findings)
        assert check.totals is not None
        out[sid] = Baseline(check.status, dict(check.totals.planned_by_fund),
                            dict(check.totals.remaining_by_fund))
    return out


def own_outcome(mutant: Mutant, check, base: dict[str, Baseline]) -> list[str]:
    """Why a mutant's check is not what its class says it must be ([] when it is)."""
    errors = {f.code for f in check.findings if f.severity == "error"}
    codes = sorted(f"{f.severity[0]}:{f.code}" for f in check.findings)
    where = f"{mutant.path.name} [{mutant.klass}] {check.status} {codes} | {mutant.detail}"
    problems = []
    if "duplicate-school" in errors:
        problems.append(f"hides behind duplicate-school: {where}")
    expect = mutant.expect
    if expect == ACCEPTED:
        if not check.status.startswith("accepted"):
            problems.append(f"must be accepted: {where}")
        elif mutant.klass == "valid":
            b = base[mutant.school_id]
            got = (check.totals.planned_by_fund, check.totals.remaining_by_fund)
            if got != (b.planned, b.remaining):
                problems.append(f"untouched totals changed {got} != {(b.planned, b.remaining)}"
                                f": {where}")
    elif expect == REJECTED:
        if check.status != "rejected":
            problems.append(f"must be rejected: {where}")
    elif expect == FLAGGED:
        if not check.findings:
            problems.append(f"must have a finding: {where}")
    elif isinstance(expect, frozenset):
        if check.status != "rejected" or not errors & expect:
            problems.append(f"must be rejected with one of {sorted(expect)}: {where}")
    if check.school_id and check.school_id != mutant.school_id and not mutant.klass.startswith(
            "junk"):
        problems.append(f"counted for school {check.school_id}, made for {mutant.school_id}: "
                        f"{where}")
    return problems


def totals_for(result, school_ids: set[str]) -> dict:
    """By-school status, planned and allocation rows for the given schools."""
    tables = season_tables(result)
    return {(r[0], r[3]): (r[2], r[4], r[5]) for r in tables["by_school"][1]
            if r[0] in school_ids}


def test_every_mutant_has_its_own_outcome(sample: Sample, tmp_path: Path) -> None:
    schools = sample.school_ids
    untouched, victims = schools[:UNTOUCHED], schools[UNTOUCHED:]
    base = baseline(sample)

    alone = tmp_path / "baseline"
    alone.mkdir()
    for sid in untouched:
        shutil.copy2(sample.plans[sid], alone / sample.plans[sid].name)
    expected_totals = totals_for(consolidate(sample.record, alone, workers=2), set(untouched))
    assert all(v[0].startswith("accepted") for v in expected_totals.values()), expected_totals

    problems: list[str] = []
    made: list[Mutant] = []
    batch = count = junked = 0  # count: mutants from tests/mutants.py, by their index
    while len(made) < MUTANTS:
        folder = tmp_path / f"batch-{batch:03d}"
        folder.mkdir()
        for sid in untouched:
            shutil.copy2(sample.plans[sid], folder / sample.plans[sid].name)
        mutants = []
        for slot, sid in enumerate(victims):
            if len(made) + len(mutants) >= MUTANTS:
                break
            if slot % JUNK_EVERY == JUNK_EVERY - 1:
                mutants.append(junk(sample, sid, junked, folder))
                junked += 1
            else:
                mutants.append(make_mutant(sample, folder, count, schools=[sid]))
                count += 1
        assert len({m.school_id for m in mutants} | set(untouched)) == len(mutants) + UNTOUCHED
        before = {p.name: p.read_bytes() for p in folder.iterdir()}

        result = consolidate(sample.record, folder, workers=2)  # must not raise

        listed = {c.file.name for c in result.checks} | {i.path.name for i in result.ignored}
        if listed != set(before):
            problems.append(f"batch {batch}: files not listed {sorted(set(before) - listed)}, "
                            f"listed but absent {sorted(listed - set(before))}")
        if {p.name: p.read_bytes() for p in folder.iterdir()} != before:
            problems.append(f"batch {batch}: files were modified")
        got = totals_for(result, set(untouched))
        if got != expected_totals:
            problems.append(f"batch {batch}: untouched plans' totals changed: {got}")
        checks = {c.file.name: c for c in result.checks}
        for check in result.checks:
            for finding in check.findings:
                if finding.code == "internal-error":
                    problems.append(f"internal-error on {check.file.name}: {finding.message}")
                if not (finding.message and finding.code):
                    problems.append(f"finding without code or message: {finding}")
        for mutant in mutants:
            check = checks.get(mutant.path.name)
            if check is None:
                if not mutant.klass.startswith("junk"):
                    problems.append(f"{mutant.path.name} [{mutant.klass}] was not checked "
                                    f"(ignored: {[i.reason for i in result.ignored]})")
                continue
            problems += own_outcome(mutant, check, base)
        made += mutants
        batch += 1

    classes = {m.klass for m in made}
    if count >= len(CLASSES):
        missing = {c.name for c in CLASSES} - classes
        assert not missing, f"classes without a mutant: {missing}"
    assert len(made) >= MUTANTS
    assert not problems, f"{len(problems)} problem(s) in {len(made)} mutants:\n  " + \
        "\n  ".join(problems[:40])
