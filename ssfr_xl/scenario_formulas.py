"""The district workbook's Scenarios sheet and its workings, declared once.

The budget officer chooses up to five parameters on the Scenarios sheet and types a value for
each. Three working sheets compute the scenario: Scenario Policy, Scenario Calculation and
Scenario Allocations, each laid out as the Policy, Calculation and Allocations sheet. They
hold no formula of their own: every computed cell is the formula district_formulas declares
for the same cell, with its references rebound to the working sheets (`rebind`), and every
Policy input the formulas read is a cell that shows today's value, or the scenario's where
the Scenarios sheet applies one. So the scenario is computed by the very declarations that
compute today, and scenario.apply + formula.allocate is its engine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping

from .compare import WIN_LOSS_MARGIN
from .layout import (
    SCENARIO_CHOICES,
    SCENARIO_RESULTS,
    SETTINGS,
    DistrictLayout,
    cell_address,
    scenario_parameters,
    sheet_ref,
)
from .layout import DistrictSheets as S
from .model import LEVELS, DistrictInputs
from .scenario import (
    CHECK_APPLIED,
    CHECK_BLANK,
    CHECK_CHOOSE,
    CHECK_HIGH,
    CHECK_LOW,
    CHECK_NUMBER,
    CHECK_TWICE,
)

#: Settings the allocation formulas read (the other settings are for school plans).
FORMULA_SETTINGS = ("budget", "base_rate_mode", "base_rate", "transition_max_loss",
                    "transition_mode", "transition_gain_cap", "transition_reserve")
#: Policy component columns the formulas read.
FORMULA_COMPONENT_COLUMNS = ("fund", "counting", "rate_unit", "rate", "threshold", "minimum",
                             "cap", "pool", *(f"level_{j}" for j in range(len(LEVELS))),
                             "eligible", "round_to", "in_budget")

Cell = tuple[int, int]


def policy_inputs(layout: DistrictLayout, inputs: DistrictInputs,
                  records: Mapping[str, object]) -> dict[Cell, tuple[object, tuple | None]]:
    """(row, column) -> (value, scenario target) of every Policy input the allocation
    formulas read, as the Policy sheet holds it for these inputs; the target is the
    ScenarioParameter target when a scenario may change the cell, else None.

    `records` holds the Policy writers' records for these inputs (settings, spans,
    components, conditions, bands: see district_formulas.policy_records)."""
    out: dict[Cell, tuple[object, tuple | None]] = {}
    settings = records["settings"]
    for key in FORMULA_SETTINGS:
        out[(SETTINGS.row(key), SETTINGS.value_col)] = (settings[key], ("setting", key))
    spans, comps = layout.spans, layout.components
    for i, r in enumerate(records["spans"]):
        out[(spans.first_row + i, spans.col("weight"))] = (r["weight"], ("span", i))
    for i, r in enumerate(records["components"]):
        for key in FORMULA_COMPONENT_COLUMNS:
            if r.get(key) is not None:
                out[(comps.first_row + i, comps.col(key))] = (r[key], ("component", i, key))
    codes = [c.code for c in layout.policy.components]
    for (c, k), r in zip(layout.condition_list, records["conditions"], strict=True):
        out[(layout.condition_row(c, k), layout.conditions.col("value"))] = (
            r["value"], ("condition", codes.index(c.code), k))
    for (c, k), r in zip(layout.band_list, records["bands"], strict=True):
        out[(layout.band_row(c, k), layout.bands.col("rate"))] = (
            r["rate"], ("band", codes.index(c.code), k))
    return out


# --- rebinding a declaration to the working sheets ---------------------------------------------

_SHEET_QUALIFIER = re.compile(r"(?<![A-Za-z0-9_.'])('?)(Policy|Calculation|Allocations)\1!")
_NAME = re.compile(r"(?<![A-Za-z0-9_.!$'])([A-Za-z_][A-Za-z0-9_.]*)(?![A-Za-z0-9_.(!$])")


class Rebinder:
    """Turns a formula of the Policy, Calculation or Allocations sheet into the same formula
    on the working sheets: sheet-qualified references and defined names of those sheets go
    to the working sheets' cells; everything else (Schools, Lists, Funds ...) is kept."""

    def __init__(self, names: Mapping[str, tuple[str, str]]):
        self.sheets = {s: sheet_ref(w, "")[:-1] for s, w in S.SHADOWS.items()}
        self.names = {}
        for name, (sheet, address) in names.items():
            if sheet in S.SHADOWS:
                absolute = ":".join(_absolute(a) for a in address.split(":"))
                self.names[name] = sheet_ref(S.SHADOWS[sheet], absolute)

    def __call__(self, formula: str) -> str:
        parts = formula.split('"')
        for i in range(0, len(parts), 2):  # outside string literals ("" escapes twice)
            text = _SHEET_QUALIFIER.sub(lambda m: self.sheets[m.group(2)] + "!", parts[i])
            parts[i] = _NAME.sub(lambda m: self.names.get(m.group(1), m.group(1)), text)
        return '"'.join(parts)


def _absolute(address: str) -> str:
    m = re.fullmatch(r"\$?([A-Z]+)\$?(\d+)", address)
    return f"${m.group(1)}${m.group(2)}" if m else address


# --- the cells ---------------------------------------------------------------------------------

def scenario_cells(layout: DistrictLayout, inputs: DistrictInputs,
                   originals: Iterable[tuple[str, int, int, object]],
                   names: Mapping[str, tuple[str, str]],
                   records: Mapping[str, object]) -> Iterator[tuple[str, int, int, object]]:
    """(sheet, row, column, content) of every computed cell of the Scenarios sheet and its
    working sheets.

    originals: the computed cells of the workbook (district_formulas.computed_cells without
    these); names: the defined names the writer creates (name -> (sheet, address)); records:
    the Policy writers' records (policy_inputs)."""
    rebind = Rebinder(names)
    for sheet, row, col, content in originals:
        if sheet in S.SHADOWS:
            value = rebind(content) if isinstance(content, str) else content
            yield S.SHADOWS[sheet], row, col, value
    numbers = {q.target: i + 1 for i, q in enumerate(scenario_parameters(layout.policy))}
    for (row, col), (_value, target) in policy_inputs(layout, inputs, records).items():
        today = sheet_ref(S.POLICY, cell_address(row, col, absolute=True))
        yield S.SCENARIO_POLICY, row, col, _input_formula(layout, today, target, numbers)
    yield from _choice_cells(layout)
    yield from _catalog_cells(layout)
    yield from _result_cells(layout)
    yield from _school_cells(layout)


def _applied(number: int) -> str:
    return f"SUMIFS(Scenario_Applied,Scenario_Numbers,{number})>0"


def _value(number: int) -> str:
    return f"SUMIFS(Scenario_Values,Scenario_Numbers,{number},Scenario_Applied,1)"


def _input_formula(layout: DistrictLayout, today: str, target: tuple | None,
                   numbers: Mapping[tuple, int]) -> str:
    """A working Policy input: the scenario's value where one is applied, else today's."""
    number = numbers.get(target) if target is not None else None
    if number is None:
        return f"={today}"
    if target == ("setting", "budget"):
        per_pupil = numbers[("budget_per_pupil",)]
        pupils = f"SUM({layout.schools.full_range('enrollment')})"
        return (f"=IF({_applied(number)},{_value(number)},IF({_applied(per_pupil)},"
                f"ROUND({_value(per_pupil)}*{pupils},0),{today}))")
    return f"=IF({_applied(number)},{_value(number)},{today})"


def catalog_today(layout: DistrictLayout, target: tuple) -> str:
    """The formula of a parameter's today value (the list beside the choices)."""
    if target[0] == "setting":
        return f"={SETTINGS.field(target[1]).name}"
    if target[0] == "budget_per_pupil":
        pupils = f"SUM({layout.schools.full_range('enrollment')})"
        return f"=IF({pupils}>0,Budget/{pupils},0)"
    if target[0] == "span":
        return f"={layout.span_weight_name(target[1])}"
    c = layout.policy.components[target[1]]
    if target[0] == "condition":
        return f"={layout.condition_name(c, target[2])}"
    if target[0] == "band":
        return f"={layout.band_name(c, target[2])}"
    comps = layout.components
    return "=" + sheet_ref(S.POLICY, comps.cell(target[2], target[1], absolute=True))


def catalog_records(layout: DistrictLayout) -> list[dict[str, object]]:
    """Rows of the list of parameters: number, label, today (formula), lowest, highest."""
    return [{"number": i + 1, "label": q.label, "today": catalog_today(layout, q.target),
             "low": q.low, "high": q.high}
            for i, q in enumerate(scenario_parameters(layout.policy))]


def _catalog_cells(layout: DistrictLayout) -> Iterator[tuple[str, int, int, object]]:
    t = layout.scenario_catalog
    for i, record in enumerate(catalog_records(layout)):
        for key in ("number", "today", "low", "high"):  # the bounds are the checks' constants
            yield t.sheet, t.first_row + i, t.col(key), record[key]


def choice_records(layout: DistrictLayout) -> list[dict[str, object]]:
    """The formulas of the choices rows (parameter and value are the officer's inputs)."""
    t, cat = layout.scenario_choices, layout.scenario_catalog
    lows, highs = cat.full_range("low"), cat.full_range("high")
    records = []
    for i in range(SCENARIO_CHOICES):
        r = t.first_row + i
        a, c, d = (f"{t.letter(k)}{r}" for k in ("parameter", "value", "number"))
        twice = (f"COUNTIF({t.letter('number')}${t.first_row}:{t.letter('number')}{r - 1},{d})>0"
                 if i else "FALSE")
        low, high = f"INDEX({lows},{d},1)", f"INDEX({highs},{d},1)"
        # a number, not TRUE/FALSE (gnumeric stores booleans as numbers)
        number = f"AND(ISNUMBER({c}),NOT(ISLOGICAL({c})))"
        records.append({
            "number": f'=IF({a}="",0,IFERROR(MATCH({a},List_Scenario_Parameters,0),0))',
            "today": f'=IF({d}=0,"",INDEX(Scenario_Today,{d},1))',
            "applied": (f"=IF({d}=0,0,IF({twice},0,IF({number},"
                        f"IF(AND({c}>={low},{c}<={high}),1,0),0)))"),
            "check": (f'=IF({a}="","",IF({d}=0,"{CHECK_CHOOSE}",IF({twice},"{CHECK_TWICE}",'
                      f'IF({c}="","{CHECK_BLANK}",IF(NOT({number}),"{CHECK_NUMBER}",'
                      f'IF({c}<{low},"{CHECK_LOW}",IF({c}>{high},"{CHECK_HIGH}",'
                      f'"{CHECK_APPLIED}")))))))'),
        })
    return records


def _choice_cells(layout: DistrictLayout) -> Iterator[tuple[str, int, int, object]]:
    t = layout.scenario_choices
    for i, record in enumerate(choice_records(layout)):
        for key in ("today", "number", "applied", "check"):
            yield t.sheet, t.first_row + i, t.col(key), record[key]


def result_values(layout: DistrictLayout) -> dict[str, str]:
    """The formulas of the results block (winners, losers, totals, base rates)."""
    t = layout.scenario_schools
    result, field = t.full_range("result"), SCENARIO_RESULTS.cell
    base = sheet_ref(S.SCENARIO_POLICY, SETTINGS.cell("base_rate_in_use", absolute=True))
    return {
        "winners": f'=COUNTIF({result},"Winner")',
        "losers": f'=COUNTIF({result},"Loser")',
        "unchanged": f'=COUNTIF({result},"Unchanged")',
        "today_total": f"=ROUND(SUM({t.full_range('today')}),2)",
        "scenario_total": f"=ROUND(SUM({t.full_range('scenario')}),2)",
        "change": f"=ROUND({field('scenario_total')}-{field('today_total')},2)",
        "base_today": "=Base_Rate",
        "base_scenario": f"={base}",
    }


def _result_cells(layout: DistrictLayout) -> Iterator[tuple[str, int, int, object]]:
    b = SCENARIO_RESULTS
    for key, formula in result_values(layout).items():
        yield b.sheet, b.row(key), b.value_col, formula


def school_rows(layout: DistrictLayout) -> Iterator[tuple[int, dict[str, str]]]:
    """(row, formulas by column key) of the Scenarios sheet's schools."""
    t, alloc = layout.scenario_schools, layout.allocations
    for i in range(layout.n_schools):
        r, a = t.first_row + i, alloc.first_row + i
        L = lambda key, r=r: f"{t.letter(key)}{r}"  # noqa: E731,N806
        today = lambda key, a=a: f"={alloc.row_ref(key, a)}"  # noqa: E731
        scn = lambda key, a=a: "=" + sheet_ref(S.SCENARIO_ALLOCATIONS,  # noqa: E731
                                               f"{alloc.letter(key)}{a}")
        yield r, {
            "school_id": today("school_id"), "name": today("name"),
            "today": today("total"), "scenario": scn("total"),
            "change": f"=ROUND({L('scenario')}-{L('today')},2)",
            "change_share": f'=IF({L("today")}<>0,({L("scenario")}-{L("today")})/{L("today")},"")',
            "today_per_pupil": today("per_pupil"), "scenario_per_pupil": scn("per_pupil"),
            "change_per_pupil": (f"=IF(AND(ISNUMBER({L('today_per_pupil')}),"
                                 f"ISNUMBER({L('scenario_per_pupil')})),"
                                 f"ROUND({L('scenario_per_pupil')}-{L('today_per_pupil')},2),\"\")"),
            "result": (f'=IF({L("change")}>{WIN_LOSS_MARGIN},"Winner",'
                       f'IF({L("change")}<-{WIN_LOSS_MARGIN},"Loser","Unchanged"))'),
            "need_share": today("need_share"),
        }


def _school_cells(layout: DistrictLayout) -> Iterator[tuple[str, int, int, object]]:
    t = layout.scenario_schools
    for r, values in school_rows(layout):
        for key, formula in values.items():
            yield t.sheet, r, t.col(key), formula
