"""The consolidated school plans, from the season ledger or the totals workbook.

Both sources give the same `SeasonTables`: the tables of `ssfr_xl.totals_book.season_tables`
(status, district totals by object and fund, by school, positions, central services demand,
goals, lines), plus each accepted plan's goals and strategies.

- `--ledger season.sqlite`: read (never written) with `ssfr_xl.ledger.Ledger`; the plan counted
  for each school is the one the latest consolidate run recorded, its lines and goals as that
  run read them; the tables are computed by `season_tables`, as `consolidate` computes them.
- `--totals totals.xlsx`: the workbook `consolidate --out` wrote, read by its sheet names and
  header names (python-calamine). It carries no strategy texts, so the library then lists each
  school's dollars by goal and what its lines buy, without the strategy words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import FileError, InputError
from ..exports import line_text
from ..model import Policy
from ..totals_book import SHEETS, Tables
from ..validate import DistrictRecord


@dataclass(frozen=True)
class Strategy:
    """One school goal of an accepted plan, aligned to a district goal."""

    school_id: str
    goal: str
    school_goal: str
    strategy: str
    measure: str


@dataclass
class SeasonTables:
    """The consolidated season, as the totals workbook's tables."""

    source: str  # "ledger" or "totals"
    source_file: str
    tables: Tables
    strategies: list[Strategy] = field(default_factory=list)
    has_strategy_texts: bool = True

    def rows(self, name: str) -> list[dict[str, object]]:
        """A table's rows as mappings by header."""
        header, rows = self.tables[name]
        return [dict(zip(header, row, strict=False)) for row in rows]

    def status(self) -> dict[str, str]:
        """school_id -> accepted | accepted with warnings | rejected | missing."""
        return {str(r["school_id"]): str(r["status"]) for r in self.rows("status")}

    def accepted(self) -> set[str]:
        """Ids of the schools whose plan counts."""
        return {sid for sid, status in self.status().items() if status.startswith("accepted")}


# --- the ledger ------------------------------------------------------------------------------

def from_ledger(path: Path, record: DistrictRecord) -> SeasonTables:
    """The season as the ledger's latest run recorded it, for the district's fiscal year."""
    from ..consolidate import SchoolOutcome, SeasonResult
    from ..ledger import Ledger
    from ..totals_book import season_tables

    year = record.inputs.district.fiscal_year
    with Ledger(path, readonly=True) as book:
        outcomes = book.outcomes(year)
        versions = {v.sha256: v for v in book.versions(year=year)}
        latest = book.latest_year()
    if not outcomes:
        seasons = f" (its latest run is for {latest})" if latest and latest != year else ""
        raise InputError(
            f"The ledger {line_text(path)} has no consolidated season for fiscal year {year}"
            f"{seasons}, the district workbook's year. Run ssfr-xl consolidate with "
            "--ledger on this district workbook first, or give the ledger of this season.")
    schools = []
    for s in record.inputs.schools:
        status, reason, file_name, sha = outcomes.get(s.school_id, ("missing", "", "", ""))
        v = versions.get(sha)
        accepted = status.startswith("accepted") and v is not None
        schools.append(SchoolOutcome(s.school_id, s.name, status,
                                     None, list(v.lines) if accepted else [],
                                     list(v.goals) if accepted else [], file_name, sha, reason))
    result = SeasonResult(record, [], [], schools)
    strategies = [Strategy(s.school_id, e.goal, e.school_goal, e.strategy, e.measure)
                  for s in schools if s.status.startswith("accepted") for e in s.goals
                  if e.school_goal or e.strategy or e.measure]
    return SeasonTables("ledger", line_text(path), season_tables(result), strategies)


# --- the totals workbook -----------------------------------------------------------------------

#: The tables the site reads from a totals workbook, and the headers each must have.
NEEDED = {
    "status": ("school_id", "school_name", "status"),
    "district_totals": ("object", "object_name", "total"),
    "by_school": ("school_id", "fund", "allocation", "planned", "remaining"),
    "positions": ("school_id", "job_class", "title", "fte", "cost"),
    "services_demand": ("department", "service", "school_id", "quantity", "revenue"),
    "goals": ("goal", "goal_name", "planned"),
    "lines": ("school_id", "kind", "code", "fund", "goal", "fte", "quantity", "amount",
              "description"),
}


def _key(header: object) -> str:
    return str(header if header is not None else "").strip().casefold().replace(" ", "_")


def from_totals(path: Path, policy: Policy) -> SeasonTables:
    """The season as a totals workbook holds it; every sheet found by name and every column
    by its header, whatever order the columns are in."""
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as e:  # calamine raises its own errors for files it cannot read
        raise FileError(f"Cannot read the totals workbook {line_text(path)}: {e}. Give the "
                        "workbook ssfr-xl consolidate --out wrote.") from e
    funds = [f.code for f in policy.funds]
    tables: Tables = {}
    for name, needed in NEEDED.items():
        title = SHEETS[name]
        if title not in book.sheet_names:
            raise FileError(f"The totals workbook {line_text(path)} has no sheet {title!r}. "
                            "Give the workbook ssfr-xl consolidate --out wrote, or run "
                            "consolidate again.")
        grid = book.get_sheet_by_name(title).to_python(skip_empty_area=False)
        wanted = needed + (tuple(funds) if name == "district_totals" else ())
        tables[name] = _table(grid, wanted, path, title)
    return SeasonTables("totals", line_text(path), tables, _strategies_from_lines(tables),
                        has_strategy_texts=False)


def _table(grid: Sequence[Sequence[object]], wanted: Sequence[str], path: Path,
           title: str) -> tuple[list[str], list[list[object]]]:
    for r, row in enumerate(grid[:10]):
        keys = [_key(v) for v in row]
        if all(_key(w) in keys for w in wanted):
            cols = [keys.index(_key(w)) for w in wanted]
            rows = [[_value(line[c]) if c < len(line) else "" for c in cols]
                    for line in grid[r + 1:] if any(v not in ("", None) for v in line)]
            return list(wanted), rows
    missing = ", ".join(w.replace("_", " ") for w in wanted)
    raise FileError(f"The totals workbook {line_text(path)}, sheet {title!r}: no header row "
                    f"with the columns {missing}. Give the workbook ssfr-xl consolidate --out "
                    "wrote, or run consolidate again.")


def _value(v: object) -> object:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return v
    return "" if v is None else v


def _strategies_from_lines(tables: Tables) -> list[Strategy]:
    """Without strategy texts: one entry per school and goal its accepted lines pay for."""
    header, rows = tables["lines"]
    i_sid, i_goal = header.index("school_id"), header.index("goal")
    seen: dict[tuple[str, str], None] = {}
    for row in rows:
        seen.setdefault((str(row[i_sid]), str(row[i_goal]).upper()), None)
    return [Strategy(sid, goal, "", "", "") for sid, goal in seen]
