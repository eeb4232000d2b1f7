"""Trust at budget season, the folder and the outputs (issue 13, items 6, 7, 8 and 11):

- every claim on a school counts, whatever stage its checks reached; a plan saved as .ods is
  "rejected" for its school, never "missing"; ssfr-xl's own files are ignored, with a reason;
- file names with any bytes and cells with control characters reach every output safely;
  feedback workbooks named from what a file says stay inside the feedback folder;
- a pipe or device swapped in after the folder was listed never hangs the run, and size
  limits come before hashing;
- outputs never go inside the returned folder or over an input (usage error, exit 2), and
  appear together at the end or not at all.

Each case goes through the command line (a subprocess, as a user runs it, or click's runner
where a fault must be injected) and checks the exit code, that no traceback appears, that
every entry is listed, and that the returned files are byte- and mtime-identical afterwards.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from ssfr_xl.cli import cli
from ssfr_xl.errors import FileError
from ssfr_xl.layout import SchoolLayout
from ssfr_xl.layout import SchoolSheets as SS
from ssfr_xl.school_book import SchoolPlanSpec, file_name, plan_specs
from ssfr_xl.season import create_district
from ssfr_xl.validate import DistrictRecord, district_record
from tests.corpus import _ods, _read, rewrite_zip
from tests.season import varied_plan, write_plan

CONSOLIDATE = sys.modules["ssfr_xl.consolidate"]
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Setup:
    root: Path
    district: Path
    record: DistrictRecord
    specs: list[SchoolPlanSpec]
    plans: list[Path]  # a valid filled plan per school, to copy

    def sid(self, i: int) -> str:
        return self.specs[i].school.school_id


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    root = tmp_path_factory.mktemp("trust")
    district = root / "district.xlsx"
    create_district(district, sample=6)
    record = district_record(district)
    specs = plan_specs(record.result)
    (root / "plans").mkdir()
    plans = [write_plan(spec, root / "plans" / file_name(spec.school), varied_plan(spec, i))
             for i, spec in enumerate(specs)]
    return Setup(root, district, record, specs, plans)


def run(*args: object, timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
    """`python -m ssfr_xl ARGS` in its own process; output kept as bytes (it must be UTF-8)."""
    done = subprocess.run([sys.executable, "-m", "ssfr_xl", *map(os.fsencode, map(str, args))],
                          capture_output=True, timeout=timeout, cwd=ROOT)
    for stream in (done.stdout, done.stderr):
        stream.decode("utf-8")  # strict: no stray bytes reach the terminal
        assert b"Traceback" not in stream, done.stderr.decode("utf-8", "replace")
    return done


def text(done: subprocess.CompletedProcess[bytes]) -> tuple[str, str]:
    return done.stdout.decode(), done.stderr.decode()


def snapshot(folder: Path) -> dict[bytes, tuple[str, int]]:
    """sha256 (regular files) and mtime of every entry, by its name as bytes."""
    out = {}
    for name in sorted(os.listdir(os.fsencode(folder))):
        p = os.path.join(os.fsencode(folder), name)
        st = os.lstat(p)
        if os.path.isfile(p) and not os.path.islink(p):
            with open(p, "rb") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()
        else:
            digest = "other"
        out[name] = (digest, st.st_mtime_ns)
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def assert_clean_bytes(data: bytes, where: str) -> None:
    """Valid UTF-8, no control characters but tab and line breaks, no bidi overrides."""
    decoded = data.decode("utf-8")
    assert not CONTROL.search(data), (where, CONTROL.search(data))
    assert "\u202e" not in decoded, where


# --- item 7: names with any bytes -------------------------------------------------------------

def test_file_names_with_any_bytes_are_listed_read_and_printed_safely(
        setup: Setup, tmp_path: Path) -> None:
    folder = tmp_path / "returned"
    folder.mkdir()
    bfolder = os.fsencode(folder)
    long_name = f"{setup.sid(1)}_" + "x" * (255 - len(setup.sid(1)) - 1 - 5) + ".xlsx"
    assert len(long_name.encode()) == 255
    entries = {
        b"\xff\xfe-not-utf8.xlsx": setup.plans[0].read_bytes(),  # a valid plan
        long_name.encode(): setup.plans[1].read_bytes(),  # a valid plan, 255-byte name
        b"latin1-\xe9t\xe9.xlsx": setup.plans[2].read_bytes(),  # a valid plan
        b"tab\tand\nnewline.xlsx": b"garbage",
        b"\x1b[31mred\x07.xlsx": b"PK\x03\x04 damaged",
        "\u202eslx.exe".encode(): b"MZ",
        b"ctrl\x01\x7f.txt": b"notes",
    }
    for name, data in entries.items():
        with open(os.path.join(bfolder, name), "wb") as fh:
            fh.write(data)
    before = snapshot(folder)
    out = tmp_path / "out"
    out.mkdir()  # outputs go only into folders that exist
    done = run("consolidate", setup.district, folder, "--out", out / "totals.xlsx",
               "--exports", out / "exports")
    assert done.returncode == 1, done.stderr  # schools 3.. are missing; junk is rejected
    assert_clean_bytes(done.stdout, "stdout")
    assert_clean_bytes(done.stderr, "stderr")
    assert snapshot(folder) == before

    shown = {
        b"\xff\xfe-not-utf8.xlsx": "\\xff\\xfe-not-utf8.xlsx",
        long_name.encode(): long_name,
        b"latin1-\xe9t\xe9.xlsx": "latin1-\\xe9t\\xe9.xlsx",
        b"tab\tand\nnewline.xlsx": "tab\\x09and\\x0anewline.xlsx",
        b"\x1b[31mred\x07.xlsx": "\\x1b[31mred\\x07.xlsx",
        "\u202eslx.exe".encode(): "\\u202eslx.exe",
        b"ctrl\x01\x7f.txt": "ctrl\\x01\\x7f.txt",
    }
    for p in (out / "exports").glob("*.csv"):
        assert_clean_bytes(p.read_bytes(), p.name)
    files = {r["file"]: r for r in read_csv(out / "exports" / "files.csv")}
    assert set(files) == set(shown.values()), "every entry is listed, under a safe name"
    for i, name in enumerate((b"\xff\xfe-not-utf8.xlsx", long_name.encode(),
                              b"latin1-\xe9t\xe9.xlsx")):
        row = files[shown[name]]
        assert row["use"] == "counted in the totals", row
        assert row["school_id"] == setup.sid(i)
    for name in (b"tab\tand\nnewline.xlsx", b"\x1b[31mred\x07.xlsx", "\u202eslx.exe".encode()):
        assert files[shown[name]]["status"] == "rejected"
    sources = {r["source_file"] for r in read_csv(out / "exports" / "lines.csv")}
    assert sources == {shown[n] for n in list(shown)[:3]}
    wb = openpyxl.load_workbook(out / "totals.xlsx", read_only=True)
    listed = {row[0] for row in wb["Files"].iter_rows(min_row=2, values_only=True)}
    assert listed == set(shown.values())
    stdout, _ = text(done)
    assert "\\x1b[31mred\\x07.xlsx" in stdout

    for fmt in ("text", "json", "csv"):
        done = run("validate", folder, "--district", setup.district, "--format", fmt)
        assert done.returncode == 1
        assert_clean_bytes(done.stdout, fmt)
        if fmt == "json":
            reported = {f["file"] for f in json.loads(done.stdout)}
            assert set(shown.values()) <= reported
        if fmt == "csv":
            rows = list(csv.DictReader(io.StringIO(done.stdout.decode())))
            assert {r["file"] for r in rows} >= {shown[n] for n in list(shown)[3:]}
    assert snapshot(folder) == before


# --- item 7: control characters in cells --------------------------------------------------

CELL_TEXTS = {  # what the XML holds -> what each output shows
    b"bell_x0007_ esc_x001B_[31mred nul_x0000_": "bell\\x07 esc\\x1b[31mred nul\\x00",
    b"c1 \xc2\x85 and \xe2\x80\xae override": "c1 \\x85 and \u202e override",
}


def _plan_with_cell_texts(setup: Setup, target: Path, texts: dict[bytes, str] = CELL_TEXTS
                          ) -> Path:
    layout = SchoolLayout(setup.record.policy)
    wb = openpyxl.load_workbook(setup.plans[0])
    ws = wb[layout.other.sheet]
    for i in range(len(texts)):
        ws[layout.other.cell("description", i)] = f"PLACEHOLDER{i}"
    tmp = target.with_suffix(".tmp.xlsx")
    wb.save(tmp)
    part = next(n for n in __import__("zipfile").ZipFile(tmp).namelist()
                if b"PLACEHOLDER0" in _read(tmp, n))
    xml = _read(tmp, part)
    for i, raw in enumerate(texts):
        xml = xml.replace(f"PLACEHOLDER{i}".encode(), raw)
    rewrite_zip(tmp, target, {part: xml})
    tmp.unlink()
    return target


def test_control_characters_in_cells_are_written_safely_to_every_output(
        setup: Setup, tmp_path: Path) -> None:
    folder = tmp_path / "returned"
    folder.mkdir()
    plan = _plan_with_cell_texts(setup, folder / file_name(setup.specs[0].school))
    before = snapshot(folder)
    out = tmp_path / "out"
    out.mkdir()  # outputs go only into folders that exist
    done = run("consolidate", setup.district, folder, "--out", out / "totals.xlsx",
               "--exports", out / "exports")
    assert done.returncode == 1  # the other schools are missing
    for p in (out / "exports").glob("*.csv"):
        assert_clean_bytes(p.read_bytes().replace("\u202e".encode(), b""), p.name)
    lines = read_csv(out / "exports" / "lines.csv")
    descriptions = {r["description"] for r in lines if r["source_file"] == plan.name}
    assert set(CELL_TEXTS.values()) <= descriptions
    wb = openpyxl.load_workbook(out / "totals.xlsx")
    cells = {c.value for row in wb["Lines"].iter_rows() for c in row}
    assert set(CELL_TEXTS.values()) <= cells
    assert next(r for r in read_csv(out / "exports" / "status.csv")
                if r["school_id"] == setup.sid(0))["status"].startswith("accepted")

    fb = tmp_path / "feedback"
    for fmt in ("text", "json", "csv"):
        done = run("validate", folder, "--district", setup.district, "--format", fmt,
                   "--feedback", fb)
        assert done.returncode == 0, done.stderr
        assert not CONTROL.search(done.stdout)
        if fmt == "json":
            json.loads(done.stdout)
    assert [p.name for p in fb.iterdir()] == [f"{setup.sid(0)}_feedback.xlsx"]
    openpyxl.load_workbook(fb / f"{setup.sid(0)}_feedback.xlsx")
    assert snapshot(folder) == before


def test_a_reference_to_a_character_xml_forbids_rejects_the_plan(setup: Setup,
                                                                  tmp_path: Path) -> None:
    """&#x1; in a cell's text is not XML: gnumeric stops reading the sheet there (the lines
    after it vanish) and expat refuses it, so the plan is rejected as damaged, naming the
    sheet, on every path of the reader (before, the fast path read "raw\x01ctrl" and on)."""
    folder = tmp_path / "returned"
    folder.mkdir()
    plan = _plan_with_cell_texts(setup, folder / file_name(setup.specs[0].school),
                                 {b"raw&#x1;ctrl": ""})
    done = run("validate", plan, "--district", setup.district, "--format", "json")
    assert done.returncode == 1
    (checked,) = json.loads(done.stdout)
    found = [f for f in checked["findings"] if f["severity"] == "error"]
    other = SchoolLayout(setup.record.policy).other.sheet
    assert checked["status"] == "rejected"
    assert [(other in f["message"], "damaged" in f["message"]) for f in found] == [(True, True)]


# --- item 7: feedback names come from the file: sanitised and confined ----------------------

def _with_meta_school(src: Path, dst: Path, school_id: str) -> Path:
    wb = openpyxl.load_workbook(src)
    ws = wb[SS.META]
    for row in ws.iter_rows():
        if row[0].value == "school_id":
            row[1].value = school_id
    wb.save(dst)
    return dst


HOSTILE_IDS = ["../../etc/x", "CON", "nul.txt", "9" * 300, "a\\b/c:d*e", "..", " ", "Com1"]


def test_feedback_workbooks_are_named_safely_inside_the_feedback_folder(
        setup: Setup, tmp_path: Path) -> None:
    folder = tmp_path / "deep" / "returned"
    folder.mkdir(parents=True)
    for i, sid in enumerate(HOSTILE_IDS):
        _with_meta_school(setup.plans[0], folder / f"plan{i}.xlsx", sid)
    _with_meta_school(setup.plans[0], folder / "plan-again.xlsx", "CON")  # same id twice
    before_tree = {p for p in tmp_path.rglob("*")}
    before = snapshot(folder)
    fb = tmp_path / "deep" / "feedback"
    done = run("validate", folder, "--district", setup.district, "--feedback", fb)
    assert done.returncode == 1
    assert snapshot(folder) == before
    made = {p for p in tmp_path.rglob("*")} - before_tree
    assert made == {fb, *fb.iterdir()}, "nothing is written outside the feedback folder"
    names = sorted(p.name for p in fb.iterdir())
    assert len(names) == len(HOSTILE_IDS) + 1, names
    for name in names:
        assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,80}", name), name
        assert name.split(".")[0].split("_")[0].upper() not in {"CON", "NUL", "COM1"}, name
        openpyxl.load_workbook(fb / name)
    assert "_CON_feedback.xlsx" in names and "_CON_feedback-2.xlsx" in names


# --- item 7: pipes, devices, sizes --------------------------------------------------------

@pytest.fixture
def alarm() -> object:
    """Fail instead of hanging."""
    def hung(*_args: object) -> None:
        raise TimeoutError("the run hung on a pipe or device")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def test_a_pipe_or_device_swapped_in_after_listing_never_hangs(
        setup: Setup, tmp_path: Path, alarm: object) -> None:
    folder = tmp_path / "returned"
    folder.mkdir()
    plan = shutil.copy2(setup.plans[0], folder / file_name(setup.specs[0].school))
    swapped = [folder / "plan.xlsx", folder / "notes.txt"]
    for p in swapped:
        p.write_bytes(b"listed as a regular file")
    files, ignored = CONSOLIDATE.discover([folder])
    assert set(files) == {Path(plan), *swapped} and not ignored
    for p in swapped:  # ... then swapped for pipes
        p.unlink()
        os.mkfifo(p)
    (folder / "zero.xlsx").symlink_to("/dev/zero")
    (folder / "zero.txt").symlink_to("/dev/zero")
    files += [folder / "zero.xlsx", folder / "zero.txt"]
    started = time.monotonic()
    checks, own = CONSOLIDATE.check_files(files, setup.record, workers=1)
    assert time.monotonic() - started < 60
    assert not own and len(checks) == len(files)
    by_name = {c.file.name: c for c in checks}
    assert by_name[plan.name].status.startswith("accepted")
    for name in ("plan.xlsx", "notes.txt", "zero.xlsx", "zero.txt"):
        assert by_name[name].status == "rejected" and by_name[name].sha256 == ""
    # listed now, they are ignored as what they are; the run through the CLI ends promptly
    files, ignored = CONSOLIDATE.discover([folder])
    assert files == [Path(plan)]
    assert {i.path.name for i in ignored} == {"plan.xlsx", "notes.txt", "zero.xlsx",
                                               "zero.txt"}
    assert all("not a regular file" in i.reason for i in ignored)
    done = run("consolidate", setup.district, folder, "--out", tmp_path / "t.xlsx",
               "--exports", tmp_path / "e", timeout=120)
    assert done.returncode == 1
    listed = {r["file"]: r["status"] for r in read_csv(tmp_path / "e" / "files.csv")}
    assert listed == {plan.name: "accepted", "plan.xlsx": "ignored", "notes.txt": "ignored",
                      "zero.xlsx": "ignored", "zero.txt": "ignored"} or \
        listed[plan.name] == "accepted with warnings"


def test_size_limits_come_before_hashing(setup: Setup, tmp_path: Path, alarm: object,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    real = hashlib.sha256

    def no_huge_hashing(data: bytes = b"", **kwargs: object):
        if len(data) > 2**30:
            raise AssertionError("a whole file was hashed")
        return real(data, **kwargs)

    monkeypatch.setattr(hashlib, "sha256", no_huge_hashing)
    folder = tmp_path / "returned"
    folder.mkdir()
    big = [folder / "huge.xlsx", folder / "huge.txt", folder / "huge.ods"]
    for p in big:
        with open(p, "wb") as fh:
            fh.truncate(3 * 2**30)  # 3 GB, sparse: hashing it would take many seconds
    started = time.monotonic()
    checks, _ = CONSOLIDATE.check_files(big, setup.record, workers=1)
    assert time.monotonic() - started < 30
    assert [c.sha256 for c in checks] == ["", "", ""]
    codes = {c.file.name: {f.code for f in c.findings} for c in checks}
    assert codes["huge.xlsx"] == {"file-too-large"} and codes["huge.ods"] == {"file-too-large"}
    assert codes["huge.txt"] == {"not-a-workbook"}


# --- item 8: outputs never touch inputs ----------------------------------------------------

@pytest.fixture
def season_dir(setup: Setup, tmp_path: Path) -> Path:
    folder = tmp_path / "returned"
    folder.mkdir()
    for p in setup.plans[:2]:
        shutil.copy2(p, folder / p.name)
    (folder / "sub").mkdir()
    return folder


PLACES = {  # name -> (command args given the folder and district, the two paths named)
    "out in the folder": lambda f, d: (["consolidate", d, f, "--out", f / "totals.xlsx"],
                                       (f / "totals.xlsx", f)),
    "out in a sub-folder": lambda f, d: (["consolidate", d, f, "--out", f / "sub" / "t.xlsx"],
                                         (f / "sub" / "t.xlsx", f)),
    "out is a returned file": lambda f, d: (
        ["consolidate", d, f, "--out", next(f.glob("*.xlsx"))], (next(f.glob("*.xlsx")), f)),
    "out is the district": lambda f, d: (["consolidate", d, f, "--out", d], (d, d)),
    "exports is the folder": lambda f, d: (
        ["consolidate", d, f, "--out", f.parent / "t.xlsx", "--exports", f], (f, f)),
    "exports in the folder": lambda f, d: (
        ["consolidate", d, f, "--out", f.parent / "t.xlsx", "--exports", f / "exports"],
        (f / "exports", f)),
    "out through a link": lambda f, d: (
        ["consolidate", d, f, "--out", f.parent / "link" / "t.xlsx"],
        (f.parent / "link" / "t.xlsx", f)),
    "out is the ledger": lambda f, d: (
        ["consolidate", d, f, "--out", f.parent / "season.sqlite", "--ledger",
         f.parent / "season.sqlite"], (f.parent / "season.sqlite", f.parent / "season.sqlite")),
    "out is exports": lambda f, d: (
        ["consolidate", d, f, "--out", f.parent / "x", "--exports", f.parent / "x"],
        (f.parent / "x", f.parent / "x")),
    "out is one of the exports": lambda f, d: (
        ["consolidate", d, f, "--out", f.parent / "x" / "lines.csv", "--exports",
         f.parent / "x"], (f.parent / "x" / "lines.csv", f.parent / "x")),
    "ledger in the folder": lambda f, d: (
        ["consolidate", d, f, "--out", f.parent / "t.xlsx", "--ledger", f / "season.sqlite"],
        (f / "season.sqlite", f)),
    "feedback in the folder": lambda f, d: (
        ["validate", f, "--district", d, "--feedback", f / "fb"], (f / "fb", f)),
    "feedback is a returned file": lambda f, d: (
        ["validate", next(f.glob("*.xlsx")), "--district", d, "--feedback",
         next(f.glob("*.xlsx"))], (next(f.glob("*.xlsx")), next(f.glob("*.xlsx")))),
    "feedback is the district": lambda f, d: (
        ["validate", f, "--district", d, "--feedback", d], (d, d)),
}


@pytest.mark.parametrize("case", sorted(PLACES))
def test_an_output_that_would_touch_an_input_is_a_usage_error(
        setup: Setup, season_dir: Path, case: str) -> None:
    (season_dir.parent / "link").symlink_to(season_dir)
    args, (output, other) = PLACES[case](season_dir, setup.district)
    before = snapshot(season_dir)
    district_before = snapshot(setup.district.parent)
    done = run(*args)
    stdout, stderr = text(done)
    assert done.returncode == 2, stderr
    assert stdout == ""
    assert str(output) in stderr and str(other) in stderr, stderr
    assert snapshot(season_dir) == before
    assert snapshot(setup.district.parent) == district_before
    assert not (season_dir.parent / "season.sqlite").exists()


def test_the_totals_workbook_may_sit_beside_its_exports(setup: Setup, season_dir: Path,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "season"
    out.mkdir()
    done = run("consolidate", setup.district, season_dir, "--out", out / "totals.xlsx",
               "--exports", out)
    assert done.returncode == 1  # schools are missing
    assert {"totals.xlsx", "lines.csv", "status.csv"} <= {p.name for p in out.iterdir()}
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def _outputs(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file()}


def test_outputs_appear_together_or_not_at_all(setup: Setup, season_dir: Path,
                                               tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()  # outputs go only into folders that exist
    args = ["consolidate", setup.district, season_dir, "--out", out / "totals.xlsx",
            "--exports", out / "exports"]
    assert run(*args).returncode == 1
    first = _outputs(out)
    assert "totals.xlsx" in first and "exports/lines.csv" in first
    # a new plan arrives; this time one output cannot be put in place at the very end
    shutil.copy2(setup.plans[2], season_dir / setup.plans[2].name)
    (out / "exports" / "status.csv").unlink()
    (out / "exports" / "status.csv").mkdir()
    done = run(*args)
    _, stderr = text(done)
    assert done.returncode == 1 and stderr.startswith("Error: ")
    assert len(stderr.strip().splitlines()) == 1, stderr
    after = _outputs(out)
    del first["exports/status.csv"]
    assert after == first, "the run's outputs were all withdrawn; the old ones stayed"
    assert not [p for p in out.rglob("*") if p.name.startswith(".")], "no staging left"


def test_a_failure_half_way_leaves_nothing_new(setup: Setup, season_dir: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import ssfr_xl.exports

    out = tmp_path / "out"
    out.mkdir()  # outputs go only into folders that exist
    args = ["consolidate", str(setup.district), str(season_dir), "--out",
            str(out / "totals.xlsx"), "--exports", str(out / "exports")]
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    fresh_args = ["consolidate", str(setup.district), str(season_dir), "--out",
                  str(fresh / "totals.xlsx"), "--exports", str(fresh / "exports")]
    assert CliRunner().invoke(cli, args).exit_code == 1
    first = _outputs(out)
    real, calls = ssfr_xl.exports.write_csv, []

    def disk_full_after_three(path: Path, header, rows) -> None:
        calls.append(path)
        if len(calls) > 3:
            raise FileError(f"Cannot write {path}: No space left on device.")
        real(path, header, rows)

    monkeypatch.setattr(ssfr_xl.exports, "write_csv", disk_full_after_three)
    shutil.copy2(setup.plans[3], season_dir / setup.plans[3].name)
    for given in (args, fresh_args):
        calls.clear()
        result = CliRunner().invoke(cli, given)
        assert result.exit_code == 1 and "No space left on device" in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert _outputs(out) == first
    assert list(fresh.iterdir()) == [], "a failed run makes no new folder or file"
    assert not [p for p in tmp_path.rglob(".*")]


# --- item 11: folder hygiene, claims at any stage --------------------------------------------

def test_lock_files_manifests_and_own_outputs_are_ignored_and_ods_is_rejected(
        setup: Setup, tmp_path: Path) -> None:
    made = tmp_path / "made"  # a previous season's outputs, dropped in the folder by mistake
    made.mkdir()  # outputs go only into folders that exist
    prev = tmp_path / "prev"
    prev.mkdir()
    shutil.copy2(setup.plans[5], prev / setup.plans[5].name)
    assert run("consolidate", setup.district, prev, "--out", made / "totals.xlsx",
               "--exports", made / "exports", "--ledger", made / "season.sqlite"
               ).returncode == 1
    assert run("validate", prev, "--district", setup.district, "--feedback", made / "fb"
               ).returncode in (0, 1)
    assert run("build", setup.district, "--out", made / "build", "--schools", setup.sid(5)
               ).returncode == 0

    folder = tmp_path / "returned"
    folder.mkdir()
    sid = setup.sid
    shutil.copy2(setup.plans[0], folder / setup.plans[0].name)  # school 0: accepted
    early = openpyxl.load_workbook(setup.plans[1])  # school 1: a valid plan and a copy that
    early[SS.OTHER].title = "Misc"  # fails early (a sheet renamed): both claim the school
    early.save(folder / "second-try.xlsx")
    shutil.copy2(setup.plans[1], folder / setup.plans[1].name)
    _ods(folder / f"{sid(2)}_plan.ods")  # school 2: only an .ods
    _ods(folder / "our-plan.ods")  # no id in the name
    (folder / f"{sid(3)}_plan.pdf").write_bytes(b"%PDF-1.4 a printout")  # school 3: a PDF
    ignored = {
        f"~${setup.plans[0].name}": b"lock",
        f".~lock.{setup.plans[0].name}#": b"lock",
        "manifest.csv": (made / "build" / "manifest.csv").read_bytes(),
        "totals-copy.xlsx": (made / "totals.xlsx").read_bytes(),
        "lines.csv": (made / "exports" / "lines.csv").read_bytes(),
        "status.csv": (made / "exports" / "status.csv").read_bytes(),
        f"{sid(5)}_feedback.xlsx": next((made / "fb").iterdir()).read_bytes(),
        "old-season.sqlite": (made / "season.sqlite").read_bytes(),
        "old-season.sqlite-journal": b"",
    }
    for name, data in ignored.items():
        (folder / name).write_bytes(data)
    before = snapshot(folder)
    out = tmp_path / "out"
    out.mkdir()  # outputs go only into folders that exist
    done = run("consolidate", setup.district, folder, "--out", out / "totals.xlsx",
               "--exports", out / "exports")
    assert done.returncode == 1
    assert snapshot(folder) == before
    files = {r["file"]: r for r in read_csv(out / "exports" / "files.csv")}
    assert set(files) == {os.fsdecode(n) for n in before}, "every entry is listed"
    for name in ignored:
        assert files[name]["status"] == "ignored", files[name]
    reasons = {name: files[name]["use"] for name in ignored}
    assert "Excel lock file" in reasons[f"~${setup.plans[0].name}"]
    assert "LibreOffice lock file" in reasons[f".~lock.{setup.plans[0].name}#"]
    assert "manifest.csv" in reasons["manifest.csv"]
    assert "totals workbook" in reasons["totals-copy.xlsx"]
    assert "ssfr-xl" in reasons["lines.csv"] and "ssfr-xl" in reasons["status.csv"]
    assert "feedback workbook" in reasons[f"{sid(5)}_feedback.xlsx"]
    assert "SQLite" in reasons["old-season.sqlite"]

    status = {r["school_id"]: r for r in read_csv(out / "exports" / "status.csv")}
    assert status[sid(0)]["status"].startswith("accepted")
    assert status[sid(1)]["status"] == "rejected"  # two claims, whatever stage
    dupes = {r["file"] for r in read_csv(out / "exports" / "findings.csv")
             if r["code"] == "duplicate-school"}
    assert dupes == {"second-try.xlsx", setup.plans[1].name}
    ods = status[sid(2)]
    assert ods["status"] == "rejected" and ods["file"] == f"{sid(2)}_plan.ods"
    assert f"{sid(2)}_plan.ods" in ods["reason"]
    findings = read_csv(out / "exports" / "findings.csv")
    message = next(r["message"] for r in findings if r["file"] == f"{sid(2)}_plan.ods")
    assert "Save As" in message and ".xlsx" in message
    assert files[f"{sid(2)}_plan.ods"]["use"].startswith(f"not counted: probably school "
                                                         f"{sid(2)}")
    assert files["our-plan.ods"]["status"] == "rejected"
    assert files["our-plan.ods"]["use"] == "not counted: no school could be read from the file"
    assert status[sid(3)]["status"] == "rejected" and "pdf" in status[sid(3)]["reason"]
    assert status[sid(4)]["status"] == "missing"
    stdout, _ = text(done)
    assert "1 file(s) could not be matched to a school" in stdout


# --- internal errors are never disguised ---------------------------------------------------

def test_an_exception_inside_the_checks_is_an_internal_error_finding(
        setup: Setup, season_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        internal_errors) -> None:
    real = CONSOLIDATE.check_plan
    victim = setup.plans[1].name

    def broken(raw, record, path=None):
        if Path(path).name == victim:
            raise KeyError("Staffing_FTE")
        return real(raw, record, path)

    monkeypatch.setattr(CONSOLIDATE, "check_plan", broken)
    out = tmp_path / "out"
    out.mkdir()  # outputs go only into folders that exist
    result = CliRunner().invoke(cli, ["consolidate", str(setup.district), str(season_dir),
                                      "--out", str(out / "t.xlsx"), "--exports",
                                      str(out / "e")])
    assert result.exit_code == 1, result.output
    findings = read_csv(out / "e" / "findings.csv")
    mine = [r for r in findings if r["file"] == victim]
    assert [r["code"] for r in mine] == ["internal-error"]
    assert "KeyError: 'Staffing_FTE'" in mine[0]["message"]
    assert "please report this to the budget office's ssfr-xl maintainer" in mine[0]["message"]
    assert not [r for r in findings if r["code"] == "unreadable"]
    files = {r["file"]: r for r in read_csv(out / "e" / "files.csv")}
    assert files[setup.plans[0].name]["use"] == "counted in the totals"  # the others go on
    result = CliRunner().invoke(cli, ["validate", str(season_dir), "--district",
                                      str(setup.district), "--format", "json"])
    assert result.exit_code == 1
    reported = {f["file"]: [x["code"] for x in f["findings"]]
                for f in json.loads(result.output)}
    assert reported[victim] == ["internal-error"]
    taken = internal_errors.take()
    assert [e["code"] for e in taken] == ["internal-error", "internal-error"]


def test_an_unexpected_failure_of_a_command_is_one_line(
        setup: Setup, season_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], internal_errors) -> None:
    import ssfr_xl.report
    from ssfr_xl.cli import main

    def crash(*_args: object, **_kwargs: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(ssfr_xl.report, "consolidate_folder", crash)
    monkeypatch.setattr(sys, "argv", ["ssfr-xl", "consolidate", str(setup.district),
                                      str(season_dir), "--out", str(tmp_path / "t.xlsx")])
    monkeypatch.delenv("SSFR_XL_DEBUG", raising=False)
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ssfr-xl stopped on an internal error (ZeroDivisionError")
    assert len(err.strip().splitlines()) == 1
    assert [e["code"] for e in internal_errors.take()] == ["internal-error"]


def test_internal_errors_in_a_subprocess_reach_the_suite(internal_errors) -> None:
    code = ("from pathlib import Path; from ssfr_xl.consolidate import internal_error_finding "
            "as f; f(Path('x.xlsx'), RuntimeError('boom'))")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    taken = internal_errors.take()
    assert len(taken) == 1 and "RuntimeError: boom" in taken[0]["message"]


def test_any_test_fails_on_an_internal_error_it_does_not_take(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(test_inner="""
        from pathlib import Path
        from ssfr_xl.consolidate import internal_error_finding

        def test_disguised():
            internal_error_finding(Path("x.xlsx"), RuntimeError("boom"))

        def test_taken(internal_errors):
            internal_error_finding(Path("y.xlsx"), RuntimeError("expected"))
            assert len(internal_errors.take()) == 1

        def test_clean():
            pass
    """)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*1 internal error(s) were reported during this test*",
                                 "*RuntimeError: boom*"])
