"""The season ledger (SQLite, no server): every file seen, its status and findings, and the
plan lines of every version, so the newest accepted plan counts even after older or newer
files leave the folder."""

from __future__ import annotations

import datetime as _dt
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from .consolidate import Version
from .errors import FileError
from .plan import GoalEntry, PlanLine
from .validate import DistrictRecord, PlanCheck

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ran_at TEXT NOT NULL,
    fiscal_year TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
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
    goals_json TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS findings (
    sha256 TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    sheet TEXT, cell TEXT, severity TEXT, code TEXT, message TEXT
);
CREATE INDEX IF NOT EXISTS files_school ON files (school_id);
"""


class Ledger:
    """A season's record of files; use as a context manager."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.db = sqlite3.connect(self.path)
            self.db.executescript(SCHEMA)
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(files)")}
            if "goals_json" not in columns:  # a ledger from before goals were recorded
                self.db.execute("ALTER TABLE files ADD COLUMN goals_json TEXT NOT NULL "
                                "DEFAULT '[]'")
        except sqlite3.Error as e:
            raise FileError(f"Cannot open the ledger {self.path}: {e}.") from e

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.close()

    def record_run(self, checks: Sequence[PlanCheck], record: DistrictRecord) -> int:
        """Record one consolidation run: every file, its status, findings and lines."""
        year = record.inputs.district.fiscal_year
        now = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
        with self.db:
            run = self.db.execute("INSERT INTO runs (ran_at, fiscal_year) VALUES (?, ?)",
                                  (now, year)).lastrowid
            for c in checks:
                if not c.sha256:
                    continue
                lines = json.dumps([asdict(li) | {"raw": {}} for li in
                                    (c.inputs.lines if c.inputs else [])])
                goals = json.dumps([asdict(g) for g in (c.inputs.goals if c.inputs else [])])
                self.db.execute(
                    "INSERT INTO files (sha256, school_id, file_name, received_at, first_run, "
                    "last_run, status, errors, warnings, fiscal_year, lines_json, goals_json) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(sha256) DO UPDATE "
                    "SET last_run=excluded.last_run, status=excluded.status, "
                    "errors=excluded.errors, warnings=excluded.warnings, "
                    "lines_json=excluded.lines_json, goals_json=excluded.goals_json",
                    (c.sha256, c.school_id, c.file.name, c.received, run, run, c.status,
                     c.errors, c.warnings, year, lines, goals))
                self.db.executemany(
                    "INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(c.sha256, run, f.sheet, f.cell, f.severity, f.code, f.message)
                     for f in c.findings])
        return int(run)

    def accepted_versions(self, record: DistrictRecord) -> dict[str, list[Version]]:
        """school_id -> its accepted versions this fiscal year, as recorded."""
        year = record.inputs.district.fiscal_year
        rows = self.db.execute(
            "SELECT school_id, received_at, sha256, file_name, status, lines_json, goals_json "
            "FROM files WHERE fiscal_year=? AND status LIKE 'accepted%'", (year,)).fetchall()
        versions: dict[str, list[Version]] = {}
        for school_id, received, sha, name, status, lines_json, goals_json in rows:
            versions.setdefault(school_id, []).append(Version(
                received, sha, name, status,
                [PlanLine(**d) for d in json.loads(lines_json)],
                [GoalEntry(**d) for d in json.loads(goals_json)]))
        return versions

    def status_rows(self) -> list[tuple]:
        """Per file: school, name, received, status, errors, warnings (newest first)."""
        return self.db.execute(
            "SELECT school_id, file_name, received_at, status, errors, warnings, sha256, "
            "fiscal_year FROM files ORDER BY school_id, received_at DESC").fetchall()
