"""Carryover: what a school left unspent in last year's accepted plan, carried into this year.

A policy choice made fund by fund, in the policy's [carryover] section:

    [carryover.fund.GEN]
    component = "CARRY"   # an adjustment component of the policy whose fund is GEN
    cap = "5%"            # at most 5% of last year's allocation in the fund (or dollars:
                          # cap = 50000; no cap when left out)

`init --carryover LAST_YEAR` reads last year's consolidate output (the totals workbook's By
School sheet, or by_school.csv from --exports) and gives each school an adjustment line of that
component: its unspent amount in the fund, allocation minus planned (recomputed here, to the
cent; a stated "remaining" that differs means the file was edited, and is refused), capped by
the policy. So the carryover is its own line on the district's Adjustments sheet and in the
school's allocation, with the reason written out. Only plans that were accepted count; an
overspent fund carries nothing (the district covers it, or recovers it by an adjustment of its
own); a school that is not on this year's roster carries nothing, and every such case is
counted in the notes.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cells import unwritable_character
from .errors import FileError, PolicyError, RosterError
from .model import Adjustment, Policy, School
from .money import excel_round, format_money

#: The statuses of an accepted plan in consolidate's By School table.
ACCEPTED = ("accepted", "accepted with warnings")
#: Every status consolidate writes (report.STATUSES); anything else was typed by hand.
STATUSES = (*ACCEPTED, "rejected", "missing")
#: Dollars past this are not held to the cent by a workbook (15 significant digits).
_MOST = 1e13
#: A By School table of a whole state is a few MB; past this the file is not one.
_MAX_BYTES = 64 * 1024 * 1024
_SCIENTIFIC = re.compile(r"[0-9](?:\.[0-9]+)?E[+-]?[0-9]+", re.IGNORECASE)
COLUMNS = ("school_id", "status", "fund", "allocation", "planned")
_SHARE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*")
_SHEET = "By School"


@dataclass(frozen=True)
class FundCarryover:
    """One fund's carryover rule: the adjustment component that carries it, and its cap."""

    fund: str
    component: str
    cap_share: float | None = None  # of last year's allocation in the fund
    cap_dollars: float | None = None

    def cap(self, allocation: float) -> float:
        """The most a school may carry, given last year's allocation in the fund."""
        caps = [math.inf]
        if self.cap_share is not None:
            caps.append(excel_round(allocation * self.cap_share))
        if self.cap_dollars is not None:
            caps.append(self.cap_dollars)
        return min(caps)

    def describe(self) -> str:
        if self.cap_share is not None:
            return f"at most {self.cap_share * 100:g}% of last year's allocation"
        if self.cap_dollars is not None:
            return f"at most {format_money(self.cap_dollars)}"
        return "no cap"


def parse_carryover(data: Mapping[str, Any], where: str, policy: Policy
                    ) -> tuple[FundCarryover, ...]:
    """The [carryover] section of parsed policy TOML (none when it has no section)."""
    section = data.get("carryover", {})
    if not isinstance(section, Mapping) or any(k != "fund" for k in section):
        raise PolicyError(f"{where}: [carryover] holds one [carryover.fund.<CODE>] table per "
                          "fund that carries unspent dollars (component = \"...\", cap = "
                          "\"5%\").")
    tables = section.get("fund", {})
    if not isinstance(tables, Mapping) or not all(isinstance(t, Mapping)
                                                  for t in tables.values()):
        raise PolicyError(f"{where}: [carryover.fund.<CODE>] must be tables, one per fund.")
    funds = {f.code for f in policy.funds}
    adjustment = {c.code: c for c in policy.components if c.kind == "adjustment"}
    rules = []
    for code, table in tables.items():
        at = f"{where} [carryover.fund.{code}]"
        if code not in funds:
            raise PolicyError(f"{at}: {code!r} is not a fund of the policy "
                              f"({', '.join(sorted(funds))}).")
        extra = [k for k in table if k not in ("component", "cap")]
        if extra:
            raise PolicyError(f"{at}: no setting {extra[0]!r}; the settings are component "
                              "and cap.")
        component = table.get("component")
        if not isinstance(component, str) or component not in adjustment:
            raise PolicyError(f"{at}: component = {component!r} is not an adjustment "
                              "component of the policy; add one ([[component]] with kind = "
                              f"\"adjustment\", fund = \"{code}\") and name it here.")
        if adjustment[component].fund != code:
            raise PolicyError(f"{at}: component {component!r} pays from fund "
                              f"{adjustment[component].fund!r}, not {code!r}: the carryover "
                              "of a fund stays in that fund.")
        cap = table.get("cap")
        share = dollars = None
        if isinstance(cap, str) and (m := _SHARE.fullmatch(cap)):
            share = float(m.group(1)) / 100
            if share > 1:
                raise PolicyError(f"{at}: cap = {cap!r} is more than 100%.")
        elif isinstance(cap, int | float) and not isinstance(cap, bool) \
                and math.isfinite(cap) and cap >= 0:
            dollars = float(cap)
            if excel_round(dollars) != dollars:
                raise PolicyError(f"{at}: cap = {cap!r} is not whole cents; give dollars "
                                  "and cents (50000 or 50000.25).")
        elif cap is not None:
            raise PolicyError(f"{at}: cap must be a share of last year's allocation (\"5%\", "
                              f"in quotes) or dollars (50000), not {cap!r}.")
        rules.append(FundCarryover(code, component, share, dollars))
    return tuple(rules)


@dataclass(frozen=True)
class LastYearRow:
    school_id: str
    status: str
    fund: str
    allocation: float
    planned: float | None
    where: str  # "by_school.csv line 7" / "totals.xlsx, sheet By School, row 7"


def _rows_of(path: Path) -> list[tuple[str, list[str]]]:
    """(where, cells) for the header and every row of the By School table."""
    if not path.exists():
        raise FileError(f"{path} does not exist: give last year's totals workbook or its "
                        "by_school.csv.")
    if not path.is_file():  # a folder, or a pipe that would wait forever for a writer
        raise FileError(f"{path.name} is not a file: give last year's totals workbook "
                        "(.xlsx) or its by_school.csv.")
    size = path.stat().st_size
    if size > _MAX_BYTES:
        raise FileError(f"{path.name} is {size // (1024 * 1024)} MB, far more than a By School "
                        "table: give last year's totals workbook or its by_school.csv.")
    if path.suffix.lower() == ".csv":
        from .sources.roster import _decode, _sniff_delimiter

        text = _decode(path)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
        rows: list[list[str]] = []
        try:
            rows.extend(reader)
        except csv.Error as e:
            raise RosterError(f"{path.name} line {reader.line_num}: {e}; save the table "
                              "again as CSV from consolidate's output.") from None
        return [(f"{path.name} line {i}", r) for i, r in enumerate(rows, start=1)]
    if path.suffix.lower() != ".xlsx":
        raise FileError(f"{path.name}: give last year's totals workbook (.xlsx, from "
                        "ssfr-xl consolidate) or its by_school.csv (consolidate --exports).")
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
        if _SHEET not in book.sheet_names:
            raise FileError(f"{path.name} has no sheet {_SHEET!r}: give last year's totals "
                            "workbook (ssfr-xl consolidate --out) or its by_school.csv.")
        values = book.get_sheet_by_name(_SHEET).to_python()
    except FileError:
        raise
    except Exception as e:  # python-calamine raises its own errors for damaged files
        raise FileError(f"{path.name} could not be read as a workbook ({e}); give last "
                        "year's totals workbook or its by_school.csv.") from None

    def text(v: object) -> str:
        if isinstance(v, float) and v.is_integer():
            return str(int(v)) if abs(v) < 1e15 else repr(v)
        return "" if v is None else str(v)
    return [(f"{path.name}, sheet {_SHEET}, row {i}", [text(v) for v in r])
            for i, r in enumerate(values, start=1)]


def read_last_year(path: str | Path) -> list[LastYearRow]:
    """Last year's By School table (school, status, fund, allocation, planned), checked."""
    from .sources.roster import _number

    path = Path(path)
    rows = _rows_of(path)
    if not rows:
        raise RosterError(f"{path.name} is empty: it needs the By School table "
                          f"({', '.join(COLUMNS)}, remaining).")
    header = [h.strip().lstrip("\ufeff").casefold().replace(" ", "_") for h in rows[0][1]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise RosterError(f"{rows[0][0]}: the column(s) {', '.join(missing)} are missing; "
                          "give last year's By School table as consolidate wrote it.")
    at = {c: header.index(c) for c in (*COLUMNS, "remaining") if c in header}
    problems: list[str] = []
    out: list[LastYearRow] = []
    seen: dict[tuple[str, str], str] = {}
    for where, row in rows[1:]:
        cells = {c: (row[i].strip() if i < len(row) else "") for c, i in at.items()}
        if not any(cells.values()):
            continue
        bad = next(((c, u) for c in ("school_id", "status", "fund")
                    if (u := unwritable_character(cells[c]))), None)
        if bad:
            problems.append(f"{where}, column {bad[0]}: holds the character {bad[1]}, which a "
                            "workbook cannot hold; use consolidate's own output.")
            continue
        if _SCIENTIFIC.fullmatch(cells["school_id"]):
            problems.append(f"{where}, column school_id: {cells['school_id']!r} is a school "
                            "ID a spreadsheet showed as a number; format the column as Text "
                            "and type the code again (or use consolidate's own output).")
            continue
        allocation = _number(cells["allocation"])
        planned = _number(cells["planned"]) if cells["planned"] else None
        if allocation is None:
            problems.append(f"{where}, column allocation: {cells['allocation']!r} is not "
                            "dollars.")
            continue
        if cells["planned"] and planned is None:
            problems.append(f"{where}, column planned: {cells['planned']!r} is not dollars.")
            continue
        odd = next(((c, v) for c, v in (("allocation", allocation), ("planned", planned))
                    if v is not None and not 0 <= v < _MOST), None)
        if odd:
            problems.append(f"{where}, column {odd[0]}: {cells[odd[0]]!r} is "
                            f"{'negative' if odd[1] < 0 else 'more than a workbook holds'}; "
                            "an allocation or plan is dollars from $0 up, as consolidate "
                            "wrote it.")
            continue
        status = " ".join(cells["status"].split()).casefold()
        if status not in STATUSES:
            problems.append(f"{where}, column status: {cells['status'][:40]!r} is not a "
                            f"status consolidate writes ({', '.join(STATUSES)}); use its own "
                            "output.")
            continue
        if status in ACCEPTED and planned is None:
            problems.append(f"{where}: an accepted plan with nothing in planned; give the "
                            "table as consolidate wrote it.")
            continue
        stated = _number(cells.get("remaining", "")) if cells.get("remaining") else None
        if cells.get("remaining") and stated is None:
            problems.append(f"{where}, column remaining: {cells['remaining']!r} is not "
                            "dollars.")
            continue
        if planned is not None and stated is not None \
                and abs(stated - excel_round(allocation - planned)) > 0.005:
            problems.append(f"{where}: remaining {format_money(stated)} is not allocation "
                            f"{format_money(allocation)} minus planned "
                            f"{format_money(planned)}; the file was changed after consolidate "
                            "wrote it: use consolidate's own output.")
            continue
        key = (cells["school_id"], cells["fund"].casefold())
        if key in seen:
            problems.append(f"{where}: school {key[0]} fund {cells['fund']} again (first at "
                            f"{seen[key]}); each school and fund once.")
            continue
        seen[key] = where
        out.append(LastYearRow(cells["school_id"], status, cells["fund"], allocation, planned,
                               where))
    if problems:
        raise RosterError(f"{path.name} has {len(problems)} problem(s):\n"
                          + "\n".join(f"  {p}" for p in problems[:50]))
    return out


def carryover_lines(rules: Sequence[FundCarryover], rows: Sequence[LastYearRow],
                    schools: Sequence[School], source: str
                    ) -> tuple[tuple[Adjustment, ...], list[str]]:
    """The adjustment lines carrying each school's unspent dollars, and notes for init."""
    ids = {s.school_id for s in schools}
    # An id a spreadsheet stored as a number lost its leading zeros: find it when unique.
    unpadded: dict[str, list[str]] = {}
    for i in ids:
        if i.isdigit():
            unpadded.setdefault(i.lstrip("0"), []).append(i)

    def school_of(raw: str) -> str | None:
        if raw in ids:
            return raw
        found = unpadded.get(raw.lstrip("0"), []) if raw.isdigit() else []
        return found[0] if len(found) == 1 else None
    lines: list[Adjustment] = []
    notes: list[str] = []
    first: dict[tuple[str, str], str] = {}
    for rule in rules:
        carried = capped = overspent = not_accepted = gone = 0
        total = 0.0
        for r in rows:
            if r.fund.casefold() != rule.fund.casefold():
                continue
            if r.status not in ACCEPTED or r.planned is None:
                not_accepted += 1
                continue
            unspent = excel_round(r.allocation - r.planned)
            if unspent <= 0:
                overspent += unspent < 0
                continue
            school_id = school_of(r.school_id)
            if school_id is None:
                gone += 1
                continue
            if (school_id, rule.fund) in first:
                raise RosterError(f"{r.where}: school {r.school_id} is school {school_id}, "
                                  f"whose {rule.fund} is already at "
                                  f"{first[school_id, rule.fund]}; each school and fund once.")
            first[school_id, rule.fund] = r.where
            amount = max(0.0, min(unspent, rule.cap(r.allocation)))
            capped += amount < unspent
            reason = (f"Carryover: {format_money(unspent)} of {rule.fund} left unspent in last "
                      f"year's accepted plan ({format_money(r.allocation)} allocated, "
                      f"{format_money(r.planned)} planned)")
            if amount < unspent:
                reason += f"; capped at {format_money(amount)} ({rule.describe()})"
            lines.append(Adjustment(school_id, rule.component, amount, reason))
            carried += 1
            total += amount
        notes.append(
            f"Carryover of {rule.fund} from {source} ({rule.describe()}, as line "
            f"{rule.component}): {carried} school(s), {format_money(excel_round(total))}"
            f"{f'; {capped} capped' if capped else ''}; nothing carried for {not_accepted} "
            f"school(s) without an accepted plan, {overspent} overspent"
            f"{f', {gone} not on this roster' if gone else ''}.")
    return tuple(lines), notes


def load_carryover(policy_path: Path | None, policy: Policy) -> tuple[FundCarryover, ...]:
    """The [carryover] section of the policy file (the shipped one has none)."""
    import tomllib

    if policy_path is None:
        return ()
    data = tomllib.loads(Path(policy_path).read_text(encoding="utf-8"))
    return parse_carryover(data, Path(policy_path).name, policy)


__all__ = ["FundCarryover", "LastYearRow", "carryover_lines", "load_carryover",
           "parse_carryover", "read_last_year"]
