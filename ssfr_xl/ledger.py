"""The season ledger (SQLite, no server): every file seen, in the order first seen, its bytes,
its verdict and findings, the plan lines of every version, and each school's outcome, so the
newest accepted plan counts even after older or newer files leave the folder, and every
counted plan can be re-checked when the district workbook changes.

A ledger is only ever a ledger: a file that is empty, damaged, not SQLite, or an SQLite
database of another program is refused with one message and never altered.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import sqlite3
import stat
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from . import __version__
from .consolidate import SQLITE_MAGIC, SchoolOutcome, Version
from .errors import FileError
from .exports import cell_text, line_text, shown
from .layout import TEMPLATE_VERSION
from .model import Finding
from .plan import PlanInputs, goals_from_json, goals_to_json, lines_from_json, lines_to_json
from .validate import DistrictRecord, PlanCheck

APPLICATION_ID = 0x53534652  # "SSFR", in the SQLite header of every ledger
SCHEMA_VERSION = 2
LOCK_TIMEOUT = 5.0  # seconds to wait for another program holding the ledger

TABLES = {
    "runs": """CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ran_at TEXT NOT NULL,
        fiscal_year TEXT NOT NULL,
        district_fp TEXT NOT NULL DEFAULT '')""",
    "files": """CREATE TABLE files (
        sha256 TEXT PRIMARY KEY,
        school_id TEXT NOT NULL,
        file_name TEXT NOT NULL,
        received_at REAL NOT NULL,
        first_run INTEGER NOT NULL,
        last_run INTEGER NOT NULL,
        status TEXT NOT NULL,
        errors INTEGER NOT NULL,
        warnings INTEGER NOT NULL,
        fiscal_year TEXT NOT NULL,
        lines_json TEXT NOT NULL,
        goals_json TEXT NOT NULL DEFAULT '[]',
        first_seen_seq INTEGER NOT NULL DEFAULT 0,
        first_seen_at TEXT NOT NULL DEFAULT '',
        received_override REAL,
        claimed_school TEXT NOT NULL DEFAULT '',
        ever_accepted INTEGER NOT NULL DEFAULT 0,
        district_fp TEXT NOT NULL DEFAULT '',
        checked_run INTEGER NOT NULL DEFAULT 0)""",
    "findings": """CREATE TABLE findings (
        sha256 TEXT NOT NULL,
        run_id INTEGER NOT NULL,
        sheet TEXT, cell TEXT, severity TEXT, code TEXT, message TEXT)""",
    "contents": """CREATE TABLE contents (
        sha256 TEXT PRIMARY KEY,
        data BLOB NOT NULL)""",
    "schools": """CREATE TABLE schools (
        school_id TEXT NOT NULL,
        fiscal_year TEXT NOT NULL,
        name TEXT NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (school_id, fiscal_year))""",
    "outcomes": """CREATE TABLE outcomes (
        school_id TEXT NOT NULL,
        fiscal_year TEXT NOT NULL,
        run_id INTEGER NOT NULL,
        status TEXT NOT NULL,
        reason TEXT NOT NULL,
        file_name TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        PRIMARY KEY (school_id, fiscal_year))""",
}
INDEXES = ("CREATE INDEX IF NOT EXISTS files_school ON files (school_id)",
           "CREATE INDEX IF NOT EXISTS findings_file ON findings (sha256, run_id)",
           # --received sets arrival times by file name: one look-up per name, not a scan
           "CREATE INDEX IF NOT EXISTS files_name ON files (fiscal_year, file_name)")
LEGACY = {"runs", "files", "findings"}  # the tables of a ledger before schema version 2
REQUIRED_COLUMNS = {
    "runs": {"id", "ran_at", "fiscal_year"},
    "files": {"sha256", "school_id", "file_name", "received_at", "first_run", "last_run",
              "status", "errors", "warnings", "fiscal_year", "lines_json"},
    "findings": {"sha256", "run_id", "sheet", "cell", "severity", "code", "message"},
}
_NEW_FILE_COLUMNS = {  # added by the migration to schema version 2
    "goals_json": "TEXT NOT NULL DEFAULT '[]'",
    "first_seen_seq": "INTEGER NOT NULL DEFAULT 0",
    "first_seen_at": "TEXT NOT NULL DEFAULT ''",
    "received_override": "REAL",
    "claimed_school": "TEXT NOT NULL DEFAULT ''",
    "ever_accepted": "INTEGER NOT NULL DEFAULT 0",
    "district_fp": "TEXT NOT NULL DEFAULT ''",
    "checked_run": "INTEGER NOT NULL DEFAULT 0",
}


#: Findings that say the environment, not the file, decided a verdict: never reused.
UNSETTLED_CODES = frozenset({"internal-error", "read-timeout", "read-crashed",
                             "read-out-of-memory"})


def district_fingerprint(record: DistrictRecord) -> str:
    """What a verdict depends on besides the file: every district input (policy, lists,
    roster), the true-up amendments given, the plan template version and the version of the
    checks."""
    facts: dict[str, object] = {"inputs": asdict(record.inputs), "template": TEMPLATE_VERSION,
                                "ssfr_xl": __version__}
    if record.amendments:  # consolidate --amend: the amended allocations are of record too
        facts["amendments"] = {k: a.payload for k, a in sorted(record.amendments.items())}
    payload = json.dumps(facts, sort_keys=True, default=repr)
    return hashlib.sha256(payload.encode("utf-8", "backslashreplace")).hexdigest()


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def _epoch(iso: str) -> float:
    try:
        return _dt.datetime.fromisoformat(iso).timestamp()
    except (TypeError, ValueError):
        return 0.0


def _text(value: object) -> str:
    """Text SQLite can store (file names may hold bytes that are not UTF-8)."""
    return cell_text(str(value))


def _uri(path: Path, mode: str) -> str:
    absolute = os.fsencode(os.path.abspath(os.fspath(path)))
    return f"file:{urllib.parse.quote(absolute)}?mode={mode}"


class Ledger:
    """A season's record of files; use as a context manager.

    Opening checks the file: a new path becomes a new ledger; a ledger of an earlier version
    is migrated; anything else (empty, damaged, not SQLite, another program's database,
    read-only, locked) is a FileError with one sentence, and the file is left as it was.
    With `readonly` nothing is ever written (status).
    """

    def __init__(self, path: str | Path, *, readonly: bool = False,
                 timeout: float = LOCK_TIMEOUT):
        self.path = Path(path)
        self.readonly = readonly
        self.name = line_text(self.path)
        self.db: sqlite3.Connection | None = None
        self._in_transaction = False
        try:
            self._open(timeout)
        except BaseException:
            self.close()
            raise

    # -- opening ----------------------------------------------------------------------------

    def _error(self, e: sqlite3.Error, doing: str) -> FileError:
        name = getattr(e, "sqlite_errorname", "")
        if name in ("SQLITE_BUSY", "SQLITE_LOCKED") or "locked" in str(e):
            return FileError(
                f"The ledger {self.name} is in use by another program (it is locked). Wait "
                "for the other ssfr-xl run to finish, or close the program that has it "
                "open, then run again.")
        if name.startswith("SQLITE_READONLY") or "readonly" in str(e):
            return FileError(f"The ledger {self.name} is read-only, so this run cannot be "
                             "recorded. Give a ledger you may write to.")
        if name in ("SQLITE_NOTADB", "SQLITE_CORRUPT") or "not a database" in str(e) \
                or "malformed" in str(e):
            return FileError(f"The ledger {self.name} is damaged or not an SQLite "
                             f"database ({e}). Give the right ledger file, or a new file "
                             "name to start a new ledger.")
        return FileError(f"Cannot {doing} the ledger {self.name}: {e}.")

    def _open(self, timeout: float) -> None:
        path = self.path
        exists = os.path.lexists(path)
        if exists:
            try:
                st = os.stat(path)
            except OSError as e:
                raise FileError(f"Cannot open the ledger {self.name}: "
                                f"{e.strerror or e}.") from None
            if not stat.S_ISREG(st.st_mode):
                raise FileError(f"The ledger {self.name} is not a file. Give the ledger "
                                "file (e.g. season.sqlite).")
            if st.st_size == 0:
                raise FileError(f"The ledger {self.name} is empty (0 bytes), so it is not "
                                "a season ledger. Give the right ledger file, or delete the "
                                "empty file to start a new ledger.")
            try:
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | os.O_CLOEXEC)
                try:
                    head = os.read(fd, len(SQLITE_MAGIC))
                finally:
                    os.close(fd)
            except OSError as e:
                raise FileError(f"Cannot read the ledger {self.name}: "
                                f"{e.strerror or e}.") from None
            if head != SQLITE_MAGIC:
                raise FileError(f"The ledger {self.name} is not an SQLite database (not a "
                                "season ledger). Give the right ledger file, or a new file "
                                "name to start a new ledger.")
            if not self.readonly and not st.st_mode & 0o222:
                raise FileError(f"The ledger {self.name} is read-only (its permissions "
                                "forbid writing), so this run cannot be recorded. Make it "
                                "writable or give another ledger.")
        elif self.readonly:
            raise FileError(f"There is no ledger {self.name}.")
        elif not os.path.isdir(os.path.dirname(os.path.abspath(os.fspath(path)))):
            raise FileError(f"Cannot create the ledger {self.name}: its folder does not "
                            "exist. Create the folder or give another place.")
        try:
            self.db = sqlite3.connect(_uri(path, "ro" if self.readonly else "rwc"),
                                      uri=True, timeout=timeout, isolation_level=None)
            tables, app_id, version = self._describe()
        except sqlite3.Error as e:
            raise self._error(e, "open") from None
        kind = self._kind(tables, app_id)
        if kind == "foreign":
            raise FileError(
                f"{self.name} is an SQLite database of another program (tables: "
                f"{line_text(', '.join(sorted(tables)))[:200]}), not a season ledger; it was "
                "not changed. Give the season ledger, or a new file name to start one.")
        if self.readonly:
            if kind == "new":
                raise FileError(f"{self.name} is an empty SQLite database, not a season "
                                "ledger yet: run ssfr-xl consolidate with --ledger first.")
            self.schema = version if kind == "ledger" else 0
            return
        if kind == "ledger" and version > SCHEMA_VERSION:
            raise FileError(f"The ledger {self.name} was written by a newer ssfr-xl (schema "
                            f"{version}); update ssfr-xl to use it.")
        try:
            with self.transaction():  # the first write: read-only and locked ledgers end here
                if kind == "new":
                    self._create()
                elif kind == "legacy" or version < SCHEMA_VERSION:
                    self._migrate(tables)
                else:  # indexes added since it was made (they change no reading of it)
                    for sql in INDEXES:
                        self.db.execute(sql)
        except sqlite3.Error as e:
            raise self._error(e, "prepare") from None
        self.schema = SCHEMA_VERSION

    def _describe(self) -> tuple[dict[str, set[str]], int, int]:
        assert self.db is not None
        names = [r[0] for r in self.db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        tables = {n: {r[1] for r in self.db.execute(f'PRAGMA table_info("{n}")')}
                  for n in names}
        app_id = self.db.execute("PRAGMA application_id").fetchone()[0]
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        return tables, app_id, version

    @staticmethod
    def _kind(tables: Mapping[str, set[str]], app_id: int) -> str:
        if app_id not in (0, APPLICATION_ID):
            return "foreign"
        if not tables:
            return "new" if app_id == 0 else "ledger"
        if not set(tables) <= set(TABLES) or not LEGACY <= set(tables):
            return "foreign"
        for name, needed in REQUIRED_COLUMNS.items():
            if not needed <= tables[name]:
                return "foreign"
        return "ledger" if app_id == APPLICATION_ID else "legacy"

    def _create(self) -> None:
        assert self.db is not None
        for sql in TABLES.values():
            self.db.execute(sql)
        for sql in INDEXES:
            self.db.execute(sql)
        self.db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _migrate(self, tables: Mapping[str, set[str]]) -> None:
        """A ledger of an earlier ssfr-xl: add what it lacks. Its versions keep their runs;
        their order is the run that first saw them (their recorded times were the files'
        modification times, which never decide). They hold no copy of the file, so a counted
        one is re-checked only when its file is in the folder again."""
        assert self.db is not None
        for name, sql in TABLES.items():
            if name not in tables:
                self.db.execute(sql)
        run_columns = tables.get("runs", set())
        if "district_fp" not in run_columns:
            self.db.execute("ALTER TABLE runs ADD COLUMN district_fp TEXT NOT NULL DEFAULT ''")
        columns = tables.get("files", set())
        for column, kind in _NEW_FILE_COLUMNS.items():
            if column not in columns:
                self.db.execute(f"ALTER TABLE files ADD COLUMN {column} {kind}")
        if "first_seen_seq" not in columns:
            self.db.execute(
                "UPDATE files SET "
                "first_seen_seq = (SELECT COUNT(*) FROM files AS f WHERE f.first_run < "
                "files.first_run OR (f.first_run = files.first_run AND f.sha256 <= "
                "files.sha256)), "
                "first_seen_at = COALESCE((SELECT ran_at FROM runs WHERE runs.id = "
                "files.first_run), ''), "
                "ever_accepted = (status LIKE 'accepted%'), "
                "checked_run = last_run")
            self.db.execute("UPDATE files SET received_at = COALESCE((SELECT julianday(ran_at) "
                            "FROM runs WHERE runs.id = files.first_run), 2440587.5) * 86400.0 "
                            "- 210866760000.0")
        for sql in INDEXES:
            self.db.execute(sql)
        self.db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- use --------------------------------------------------------------------------------

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (an open transaction is rolled back)."""
        if self.db is not None:
            try:
                self.db.close()
            except sqlite3.Error:
                pass
            self.db = None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT); rolled back on any failure."""
        assert self.db is not None
        if self._in_transaction:
            yield
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise self._error(e, "write to") from None
        self._in_transaction = True
        try:
            yield
            self.db.execute("COMMIT")
        except sqlite3.Error as e:
            self._rollback()
            raise self._error(e, "write to") from None
        except BaseException:
            self._rollback()
            raise
        finally:
            self._in_transaction = False

    def _rollback(self) -> None:
        try:
            assert self.db is not None
            self.db.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def _run(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Cursor:
        assert self.db is not None
        try:
            return self.db.execute(sql, params)
        except sqlite3.Error as e:
            raise self._error(e, "use") from None

    # -- recording --------------------------------------------------------------------------

    def record_run(self, checks: Sequence[PlanCheck], record: DistrictRecord, *,
                   fingerprint: str | None = None, attributed: Mapping[Path, str] | None = None,
                   contents: Mapping[str, bytes] | None = None,
                   received: Mapping[str, float] | None = None) -> int:
        """Record one consolidation run: every file (first sight: its place in the season),
        its verdict against this district, findings, lines and bytes."""
        fingerprint = fingerprint or district_fingerprint(record)
        attributed, contents, received = attributed or {}, contents or {}, received or {}
        year = record.inputs.district.fiscal_year
        now = _now()
        with self.transaction():
            run = self._run("INSERT INTO runs (ran_at, fiscal_year, district_fp) VALUES "
                            "(?, ?, ?)", (now.isoformat(), year, fingerprint)).lastrowid
            seq = self._run("SELECT COALESCE(MAX(first_seen_seq), 0) FROM files"
                            ).fetchone()[0]
            for c in checks:
                if not c.sha256:
                    continue
                name = shown(c.file)
                override = received.get(c.file.name, received.get(name))
                known = self._run("SELECT ever_accepted FROM files WHERE sha256=?",
                                  (c.sha256,)).fetchone()
                lines = lines_to_json(c.inputs.lines if c.inputs else [])
                goals = goals_to_json(c.inputs.goals if c.inputs else [])
                accepted = int(c.status.startswith("accepted"))
                claimed = attributed.get(c.file, "") if not c.school_id else ""
                if known is None:
                    seq += 1
                    self._run(
                        "INSERT INTO files (sha256, school_id, file_name, received_at, "
                        "first_run, last_run, status, errors, warnings, fiscal_year, "
                        "lines_json, goals_json, first_seen_seq, first_seen_at, "
                        "received_override, claimed_school, ever_accepted, district_fp, "
                        "checked_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                        "?, ?, ?)",
                        (c.sha256, _text(c.school_id), name, now.timestamp(), run, run,
                         c.status, c.errors, c.warnings, year, lines, goals, seq,
                         now.isoformat(), override, claimed, accepted, fingerprint, run))
                else:
                    self._run(
                        "UPDATE files SET last_run=?, status=?, errors=?, warnings=?, "
                        "lines_json=?, goals_json=?, claimed_school=?, "
                        "ever_accepted=MAX(ever_accepted, ?), district_fp=?, checked_run=?, "
                        "received_override=COALESCE(?, received_override) WHERE sha256=?",
                        (run, c.status, c.errors, c.warnings, lines, goals, claimed, accepted,
                         fingerprint, run, override, c.sha256))
                data = contents.get(c.sha256)  # read now: one file's bytes at a time
                if data is not None:
                    self._run("INSERT OR IGNORE INTO contents (sha256, data) VALUES (?, ?)",
                              (c.sha256, data))
                self._findings(c, int(run))
        return int(run)

    def _findings(self, c: PlanCheck, run: int) -> None:
        assert self.db is not None
        try:
            self.db.executemany(
                "INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(c.sha256, run, _text(f.sheet), _text(f.cell), f.severity, f.code,
                  _text(f.message)) for f in c.findings])
        except sqlite3.Error as e:
            raise self._error(e, "write to") from None

    def apply_received(self, record: DistrictRecord, received: Mapping[str, float]) -> set[str]:
        """Arrival times from --received for versions recorded under those names; returns
        the names that match no recorded version."""
        year = record.inputs.district.fiscal_year
        unmatched = set()
        with self.transaction():
            for name, when in received.items():
                cur = self._run("UPDATE files SET received_override=? WHERE fiscal_year=? "
                                "AND file_name=?", (when, year, _text(name)))
                if cur.rowcount == 0:
                    unmatched.add(name)
        return unmatched

    def update_verdict(self, sha: str, check: PlanCheck, fingerprint: str, run: int) -> None:
        """A version checked again (against the current district) from its stored bytes."""
        lines = lines_to_json(check.inputs.lines if check.inputs else [])
        goals = goals_to_json(check.inputs.goals if check.inputs else [])
        with self.transaction():
            self._run(
                "UPDATE files SET status=?, errors=?, warnings=?, lines_json=?, goals_json=?, "
                "ever_accepted=MAX(ever_accepted, ?), district_fp=?, checked_run=? "
                "WHERE sha256=?",
                (check.status, check.errors, check.warnings, lines, goals,
                 int(check.status.startswith("accepted")), fingerprint, run, sha))
            self._findings(dataclasses.replace(check, sha256=sha), run)

    def record_outcomes(self, run: int, record: DistrictRecord,
                        outcomes: Sequence[SchoolOutcome]) -> None:
        """The district's schools and each one's outcome of this run (for status)."""
        year = record.inputs.district.fiscal_year
        with self.transaction():
            self._run("DELETE FROM schools WHERE fiscal_year=?", (year,))
            self._run("DELETE FROM outcomes WHERE fiscal_year=?", (year,))
            for i, school in enumerate(record.inputs.schools):
                self._run("INSERT INTO schools VALUES (?, ?, ?, ?)",
                          (_text(school.school_id), year, _text(school.name), i))
            for o in outcomes:
                self._run("INSERT INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?)",
                          (_text(o.school_id), year, run, o.status, _text(o.reason),
                           _text(o.file_name), o.sha256))

    # -- reading ----------------------------------------------------------------------------

    def versions(self, record: DistrictRecord | None = None,
                 year: str | None = None) -> list[Version]:
        """Every version recorded for the fiscal year (the district's, or `year`)."""
        if record is not None:
            year = record.inputs.district.fiscal_year
        if self.schema < SCHEMA_VERSION:
            return self._legacy_versions(year)
        rows = self._run(
            "SELECT f.sha256, f.school_id, f.file_name, f.status, f.lines_json, f.goals_json, "
            "f.first_run, f.first_seen_at, f.received_override, f.ever_accepted, "
            "f.district_fp, c.sha256 IS NOT NULL, f.claimed_school, f.errors, f.warnings, "
            "f.checked_run FROM files AS f LEFT JOIN contents AS c ON c.sha256 = f.sha256 "
            "WHERE (? IS NULL OR f.fiscal_year = ?) ORDER BY f.first_seen_seq, f.sha256",
            (year, year)).fetchall()
        out = []
        for (sha, sid, name, status, lines, goals, first_run, seen_at, override, ever, fp,
             has_content, claimed, errors, warnings, checked) in rows:
            out.append(Version(
                override if override is not None else _epoch(seen_at), sha, name, status,
                lines or "[]", goals or "[]", sid, claimed, first_run, override, bool(ever),
                fp, bool(has_content), errors, warnings, checked))
        return out

    def _legacy_versions(self, year: str | None) -> list[Version]:
        rows = self._run(
            "SELECT f.sha256, f.school_id, f.file_name, f.status, f.lines_json, f.first_run, "
            "COALESCE(r.ran_at, ''), f.errors, f.warnings FROM files AS f LEFT JOIN runs AS r "
            "ON r.id = f.first_run WHERE (? IS NULL OR f.fiscal_year = ?) "
            "ORDER BY f.first_run, f.sha256", (year, year)).fetchall()
        return [Version(_epoch(seen), sha, name, status, lines or "[]", "[]", sid,
                        first_run=first_run, ever_accepted=status.startswith("accepted"),
                        errors=errors, warnings=warnings)
                for sha, sid, name, status, lines, first_run, seen, errors, warnings in rows]

    def known_verdicts(self, fingerprint: str, year: str) -> dict[str, PlanCheck]:
        """sha256 -> the verdict recorded for that exact file against this very district and
        ssfr-xl (`fingerprint`): what checking it again would give, without reading it.

        Only versions in which a school was read, checked whole: a verdict the environment
        may have decided (a timeout, a worker out of memory, an internal error) is never
        reused, so those files are read again.
        """
        if self.schema < SCHEMA_VERSION:
            return {}
        rows = self._run(
            "SELECT sha256, school_id, lines_json, goals_json, checked_run FROM files "
            "WHERE district_fp = ? AND fiscal_year = ? AND school_id <> ''",
            (fingerprint, year)).fetchall()
        findings: dict[str, list[tuple]] = {}
        for sha, *finding in self._run(
                "SELECT fi.sha256, fi.sheet, fi.cell, fi.severity, fi.code, fi.message "
                "FROM findings AS fi JOIN files AS f ON f.sha256 = fi.sha256 "
                "AND fi.run_id = f.checked_run WHERE f.district_fp = ? AND f.fiscal_year = ? "
                "ORDER BY fi.rowid", (fingerprint, year)):
            findings.setdefault(sha, []).append(tuple(finding))
        out = {}
        for sha, school, lines, goals, _run in rows:
            found = findings.get(sha, [])
            if any(code in UNSETTLED_CODES for _s, _c, _sev, code, _m in found):
                continue
            check = PlanCheck(Path(), sha, school)
            check.findings = [Finding("", school, sheet or "", cell or "", severity, code,
                                      message or "")
                              for sheet, cell, severity, code, message in found]
            check.inputs = PlanInputs(lines_from_json(lines), goals_from_json(goals))
            out[sha] = check
        return out

    def has_content(self, sha: str) -> bool:
        """Whether the ledger keeps the bytes of this version."""
        if self.schema < SCHEMA_VERSION:
            return False
        return self._run("SELECT 1 FROM contents WHERE sha256=?", (sha,)).fetchone() is not None

    def content(self, sha: str) -> bytes | None:
        """The bytes of a recorded version, if the ledger kept them."""
        if self.schema < SCHEMA_VERSION:
            return None
        row = self._run("SELECT data FROM contents WHERE sha256=?", (sha,)).fetchone()
        return bytes(row[0]) if row else None

    def accepted_versions(self, record: DistrictRecord) -> dict[str, list[Version]]:
        """school_id -> its versions whose latest verdict is accepted."""
        out: dict[str, list[Version]] = {}
        for v in self.versions(record):
            if v.status.startswith("accepted"):
                out.setdefault(v.school_id, []).append(v)
        return out

    def latest_year(self) -> str | None:
        """The fiscal year of the latest run."""
        row = self._run("SELECT fiscal_year FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def last_run(self) -> tuple[int, str] | None:
        """(id, ran_at) of the latest run."""
        row = self._run("SELECT id, ran_at FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        return (row[0], row[1]) if row else None

    def schools(self, year: str) -> list[tuple[str, str]]:
        """(school_id, name) of the district's schools, as of the latest run."""
        if self.schema < SCHEMA_VERSION:
            return []
        return [(r[0], r[1]) for r in self._run(
            "SELECT school_id, name FROM schools WHERE fiscal_year=? ORDER BY position",
            (year,))]

    def outcomes(self, year: str) -> dict[str, tuple[str, str, str, str]]:
        """school_id -> (status, reason, file_name, sha256) of the latest run."""
        if self.schema < SCHEMA_VERSION:
            return {}
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in self._run(
            "SELECT school_id, status, reason, file_name, sha256 FROM outcomes WHERE "
            "fiscal_year=?", (year,))}

    def status_rows(self) -> list[tuple]:
        """Per file: school, name, received, status, errors, warnings, sha256, year (by
        school, newest first)."""
        rows = [(v.school, v.file_name, v.received, v.status, v.errors, v.warnings, v.sha256,
                 v.order()) for v in self.versions()]
        rows.sort(key=lambda r: (r[0], tuple(-x for x in r[7])))
        return [r[:7] for r in rows]
