"""Scenarios: what-if changes to the formula, as an overlay on the policy of record.

A scenario changes only what differs from the district workbook's policy: rates and weights,
thresholds, minimums, caps, pools, the amounts by school level, condition values, band rates,
grade-span weights, the budget (or the budget per pupil) and the transition settings. Every
number a scenario may change is a `Parameter` of the formula; the same list feeds the
scenario TOML file (`parse_scenario`), the dropdown of the district workbook's Scenarios sheet
(district_book.py) and the overlay both of them apply (`apply`). The engine (formula.py) then
runs unchanged on the overlaid inputs.

A scenario file (see templates/scenario-example.toml):

    name = "EL weight 0.25"
    [district]
    transition_max_loss = 0.02
    [component.EL]
    rate = 0.25
    [component.FOUND.level]
    Elementary = 250000
    [component.EQM.condition]
    1 = 0.30
    [component.ARTS.band]
    High = 150
    [grade_span."TK-3"]
    weight = 1.12
"""

from __future__ import annotations

import math
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import FileError, PolicyError
from .layout import SCENARIO_SETTINGS, scenario_parameters
from .model import LEVELS, Component, DistrictInputs
from .money import excel_round


@dataclass(frozen=True)
class Parameter:
    """A parameter of the formula (layout.ScenarioParameter) with today's value."""

    key: str
    label: str
    today: float
    low: float
    high: float
    target: tuple

    @property
    def share(self) -> bool:
        """True for a share (0 to 1), which a file gives as 0.02 for 2%."""
        return self.high == 1.0


def today_value(inputs: DistrictInputs, target: tuple) -> float:
    """Today's value of a parameter's Policy cell."""
    p, d = inputs.policy, inputs.district
    if target[0] == "setting":
        return float(getattr(d, target[1]))
    if target[0] == "budget_per_pupil":
        pupils = sum(s.enrollment for s in inputs.schools)
        return d.budget / pupils if pupils > 0 else 0.0
    if target[0] == "span":
        return p.spans[target[1]].weight
    c = p.components[target[1]]
    if target[0] == "condition":
        return c.conditions[target[2]].value
    if target[0] == "band":
        return c.bands[target[2]].rate
    column = target[2]
    if column.startswith("level_"):
        return c.by_level[int(column.removeprefix("level_"))]
    return float(getattr(c, column))


def parameters(inputs: DistrictInputs) -> tuple[Parameter, ...]:
    """Every parameter of this district's formula a scenario may change, with today's
    value, in Policy-sheet order (layout.scenario_parameters)."""
    return tuple(Parameter(q.key, q.label, today_value(inputs, q.target), q.low, q.high,
                           q.target) for q in scenario_parameters(inputs.policy))


@dataclass(frozen=True)
class Scenario:
    """A named set of parameter values (parameter key -> value)."""

    name: str
    values: Mapping[str, float]
    source: str = ""  # the file it was read from, or "Scenarios sheet"
    description: str = ""

    def changes(self, inputs: DistrictInputs) -> list[tuple[Parameter, float]]:
        """(parameter, new value) of every value that differs from today's, in Policy order."""
        return [(p, self.values[p.key]) for p in parameters(inputs)
                if p.key in self.values and self.values[p.key] != p.today]

    def apply(self, inputs: DistrictInputs) -> DistrictInputs:
        """The district's inputs with this scenario's values in place of today's."""
        return apply(inputs, self.values)


def apply(inputs: DistrictInputs, values: Mapping[str, float]) -> DistrictInputs:
    """Overlay parameter values (key -> value) on a district's inputs."""
    by_key = {p.key: p for p in parameters(inputs)}
    unknown = sorted(set(values) - set(by_key))
    if unknown:
        raise PolicyError(f"Not a parameter of this district's formula: {', '.join(unknown)}.")
    policy, district = inputs.policy, inputs.district
    comps = list(policy.components)
    spans = list(policy.spans)
    settings: dict[str, float] = {}
    for key, value in values.items():
        target = by_key[key].target
        value = float(value)
        if target[0] == "setting":
            settings[target[1]] = value  # the budget replaces one a budget per pupil set
        elif target[0] == "budget_per_pupil":
            pupils = sum(s.enrollment for s in inputs.schools)
            settings.setdefault("budget", excel_round(value * pupils, 0))
        elif target[0] == "span":
            spans[target[1]] = replace(spans[target[1]], weight=value)
        elif target[0] == "component":
            comps[target[1]] = _set_component(comps[target[1]], target[2], value)
        elif target[0] == "condition":
            c = comps[target[1]]
            conds = list(c.conditions)
            conds[target[2]] = replace(conds[target[2]], value=value)
            comps[target[1]] = replace(c, conditions=tuple(conds))
        else:  # band
            c = comps[target[1]]
            bands = list(c.bands)
            bands[target[2]] = replace(bands[target[2]], rate=value)
            comps[target[1]] = replace(c, bands=tuple(bands))
    # settings are District fields of the same name; the budget itself wins over a budget
    # per pupil (setdefault above), as on the Scenarios sheet
    district = replace(district, **settings)
    policy = replace(policy, components=tuple(comps), spans=tuple(spans))
    return replace(inputs, policy=policy, district=district)


def _set_component(c: Component, column: str, value: float) -> Component:
    if column.startswith("level_"):
        levels = list(c.by_level)
        levels[int(column.removeprefix("level_"))] = value
        return replace(c, by_level=tuple(levels))  # type: ignore[arg-type]
    return replace(c, **{column: value})


# --- scenario files -------------------------------------------------------------------------

#: A scenario file is a few lines; anything larger is not one.
MAX_SCENARIO_BYTES = 1024 * 1024
#: A scenario's name heads columns and names a chart series: keep it short.
MAX_NAME = 80
#: The name the comparison gives today's allocation (a scenario may not take it).
TODAY = "Today"


def load_scenario(path: str | Path, inputs: DistrictInputs) -> Scenario:
    """Read a scenario TOML file and check it against the district's formula."""
    from .exports import line_text

    source = Path(path)
    shown = line_text(source)
    try:
        if source.is_dir():
            raise FileError(f"{shown} is a folder; give a scenario .toml file.")
        if source.exists() and not source.is_file():
            raise FileError(f"{shown} is not a regular file (a pipe or a device); give a "
                            "scenario .toml file.")
        size = source.stat().st_size
        if size > MAX_SCENARIO_BYTES:
            raise PolicyError(f"{line_text(source.name)} is {size:,} bytes: a scenario file is "
                              "a few lines of TOML (see templates/scenario-example.toml).")
        # utf-8-sig: Notepad and Excel save UTF-8 with a byte-order mark
        data = tomllib.loads(source.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError as e:
        raise FileError(f"Scenario file not found: {shown}") from e
    except IsADirectoryError as e:
        raise FileError(f"{shown} is a folder; give a scenario .toml file.") from e
    except tomllib.TOMLDecodeError as e:
        raise PolicyError(f"{line_text(source.name)}: not valid TOML ({e}). Fix the line it "
                          "names; see templates/scenario-example.toml.") from e
    except UnicodeDecodeError as e:
        raise PolicyError(f"{line_text(source.name)}: not a text file in UTF-8 ({e}); save it "
                          "as UTF-8 text.") from e
    except OSError as e:
        raise FileError(f"Cannot read the scenario file {shown}: {e.strerror or e}") from e
    return parse_scenario(data, inputs, line_text(source.name),
                          default_name=line_text(source.stem))


def _text_problem(where: str, key: str, text: str) -> str:
    """What is wrong with a scenario's name or description ("" when nothing)."""
    allowed = "\n\t" if key == "description" else ""
    bad = next((ch for ch in text if ch not in allowed and (
        unicodedata.category(ch) in ("Cc", "Cs") or ch in "\u2028\u2029")), None)
    if bad is not None:
        return (f"{where}: {key} holds the character U+{ord(bad):04X}, which a workbook cannot "
                "show; delete it.")
    if key == "name" and len(text.strip()) > MAX_NAME:
        return (f"{where}: name is {len(text.strip()):,} characters; keep it to {MAX_NAME} (it "
                "heads the comparison's columns). Put the rest in description.")
    return ""


def parse_scenario(data: Mapping[str, object], inputs: DistrictInputs, where: str,
                   default_name: str = "") -> Scenario:
    """A checked Scenario from parsed TOML; every problem is listed at once."""
    problems: list[str] = []
    by_key = {p.key: p for p in parameters(inputs)}
    values: dict[str, float] = {}

    def number(section: str, key: str, value: object, param: Parameter) -> None:
        at = f"{where}: [{section}] {key}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            hint = f"type {param.today:g}, without quotes" if not isinstance(value, str) else (
                f"type {value.strip()} without quotes" if _is_number(value)
                else f"type a number such as {param.today:g}")
            problems.append(f"{at} must be a number ({hint}), not {value!r}.")
            return
        value = float(value)
        if not math.isfinite(value):
            problems.append(f"{at} must be a number, not {value}.")
        elif value < param.low:
            problems.append(f"{at} cannot be negative ({value:g}); today it is "
                            f"{param.today:g}.")
        elif value > param.high:
            share = " (a share: 0.02 is 2%)" if param.share else ""
            problems.append(f"{at} must be at most {param.high:g}{share}, not {value:g}.")
        else:
            values[param.key] = value

    for top, content in data.items():
        if top in ("name", "description"):
            if not isinstance(content, str):
                problems.append(f"{where}: {top} must be text in quotes, not {content!r}.")
            elif why := _text_problem(where, top, content):
                problems.append(why)
            continue
        if top == "district":
            _district_section(content, where, by_key, inputs, number, problems)
        elif top == "grade_span":
            _span_section(content, where, by_key, inputs, number, problems)
        elif top == "component":
            _component_section(content, where, by_key, inputs, number, problems)
        else:
            problems.append(f"{where}: unknown key {top!r}; a scenario has name, description, "
                            "[district], [grade_span.NAME] and [component.CODE].")
    if "district.budget" in values and "district.budget_per_pupil" in values:
        problems.append(f"{where}: [district] gives both budget and budget_per_pupil; keep one.")
    if problems:
        raise PolicyError("The scenario has problems:\n  - " + "\n  - ".join(problems))
    name = str(data.get("name") or "").strip() or default_name or where
    return Scenario(str(name), values, where, str(data.get("description", "")))


def _is_number(text: str) -> bool:
    try:
        float(text.strip().replace(",", ""))
    except ValueError:
        return False
    return True


def _table(content: object, section: str, where: str, problems: list[str]) -> Mapping | None:
    if not isinstance(content, Mapping):
        problems.append(f"{where}: [{section}] must be a table (a [{section}] heading with "
                        f"key = value lines), not {content!r}.")
        return None
    return content


def _district_section(content, where, by_key, inputs, number, problems) -> None:
    table = _table(content, "district", where, problems)
    if table is None:
        return
    offered = [k.removeprefix("district.") for k in by_key
               if k.startswith("district.") and not _why_not(k.removeprefix("district."), inputs)]
    for key, value in table.items():
        param = by_key.get(f"district.{key}")
        if param is not None and not _why_not(key, inputs):
            number("district", key, value, param)
        elif key in SCENARIO_SETTINGS:
            problems.append(f"{where}: [district] {key} changes nothing in this district "
                            f"({_why_not(key, inputs)}); it can change: {', '.join(offered)}.")
        else:
            problems.append(f"{where}: [district] {key!r} is not a setting a scenario "
                            f"changes; it can change: {', '.join(offered)}.")


def _why_not(key: str, inputs: DistrictInputs) -> str:
    """Why a district setting changes nothing in this district ("" when it does)."""
    d = inputs.district
    if key == "base_rate" and d.base_rate_mode != "fixed":
        return "the base rate is solved from the budget, not fixed"
    if key == "budget_per_pupil" and not any(s.enrollment for s in inputs.schools):
        return "the district has no pupils"
    if key.startswith("transition_") and not any(c.kind == "transition"
                                                 for c in inputs.policy.components):
        return "the policy has no transition component"
    if key == "transition_gain_cap" and d.transition_mode != "cap_gains":
        return f"the transition mode is {d.transition_mode}, not cap_gains"
    if key == "transition_reserve" and d.transition_mode != "reserve":
        return f"the transition mode is {d.transition_mode}, not reserve"
    return ""


def _span_section(content, where, by_key, inputs, number, problems) -> None:
    table = _table(content, "grade_span", where, problems)
    if table is None:
        return
    names = [s.name for s in inputs.policy.spans]
    for name, row in table.items():
        section = f'grade_span."{name}"'
        if name not in names:
            problems.append(f"{where}: [{section}]: no grade span {name!r} in the district "
                            f"workbook; its grade spans are: {', '.join(names)}.")
            continue
        row = _table(row, section, where, problems)
        if row is None:
            continue
        param = by_key.get(f'grade_span."{name}".weight')
        for key, value in row.items():
            if key != "weight":
                problems.append(f"{where}: [{section}] {key!r}: a grade span has only a weight.")
            elif param is None:
                problems.append(f"{where}: [{section}] weight changes nothing: the base "
                                "component counts its own basis, not weighted grade spans.")
            else:
                number(section, key, value, param)


def _component_section(content, where, by_key, inputs, number, problems) -> None:
    table = _table(content, "component", where, problems)
    if table is None:
        return
    comps = {c.code: c for c in inputs.policy.components}
    for code, row in table.items():
        section = f"component.{code}"
        c = comps.get(code)
        if c is None:
            problems.append(f"{where}: [{section}]: no component {code!r} in the district "
                            f"workbook; its components are: {', '.join(comps)}.")
            continue
        row = _table(row, section, where, problems)
        if row is None:
            continue
        prefix = f"component.{code}."
        mine = [k.removeprefix(prefix) for k in by_key if k.startswith(prefix)]
        simple = [k for k in mine if "." not in k]
        offered = simple + (["by_level", "level"] if any(k.startswith("level.") for k in mine)
                            else []) + (["condition"] if c.conditions else []) + (
            ["band"] if c.bands else [])
        uses = f"it can change: {', '.join(offered)}" if offered else "it has no parameters"
        for key, value in row.items():
            if key in simple:
                number(section, key, value, by_key[prefix + key])
            elif key == "by_level" and "level" in offered:
                if not isinstance(value, list) or len(value) != len(LEVELS):
                    problems.append(f"{where}: [{section}] by_level needs {len(LEVELS)} numbers "
                                    f"({', '.join(LEVELS)}), not {value!r}.")
                    continue
                for level, v in zip(LEVELS, value, strict=True):
                    number(section, f"by_level ({level})", v, by_key[f"{prefix}level.{level}"])
            elif key in ("level", "condition", "band") and key in offered:
                _named_values(row[key], key, section, prefix, where, by_key, c, number,
                              problems)
            else:
                problems.append(f"{where}: [{section}] {key!r}: {code} ({c.kind}) has no such "
                                f"parameter; {uses}.")


def _named_values(content, key, section, prefix, where, by_key, c, number, problems) -> None:
    sub = f"{section}.{key}"
    table = _table(content, sub, where, problems)
    if table is None:
        return
    names = {"level": list(LEVELS), "condition": [str(k + 1) for k in range(len(c.conditions))],
             "band": [b.label for b in c.bands]}[key]
    for name, value in table.items():
        if name not in names:
            problems.append(f"{where}: [{sub}] {name!r}: {c.code} has no {key} {name!r}; "
                            f"its {key}s are: {', '.join(names)}.")
            continue
        number(sub, name, value, by_key[f"{prefix}{key}.{name}"])


@dataclass(frozen=True)
class Choice:
    """One row of the Scenarios sheet's choices, as its formulas read it."""

    number: int  # the parameter's place in the list (1-based), 0 when none or unknown
    today: float | str  # today's value, "" without a parameter
    applied: int  # 1 when the value takes the place of today's
    check: str  # what the Check column says


#: The Check column's words (district_book's Scenarios sheet formulas say the same).
CHECK_CHOOSE = "Choose a parameter from the list"
CHECK_TWICE = "Chosen above: this row is not used"
CHECK_BLANK = "Type the scenario value (blank: today's value)"
CHECK_NUMBER = "Type a number"
CHECK_LOW = "Too low: see Lowest in the list"
CHECK_HIGH = "Too high: see Highest in the list"
CHECK_APPLIED = "Applied"


def read_choices(inputs: DistrictInputs, choices: Iterable[tuple[object, object]]
                 ) -> list[Choice]:
    """The Scenarios sheet's reading of (parameter label, value) rows: a value takes the
    place of today's when the label is one of the list, the value a number within the
    parameter's bounds, and the parameter not chosen in a row above."""
    params = parameters(inputs)
    numbers = {p.label: i + 1 for i, p in enumerate(params)}
    out: list[Choice] = []
    seen: set[int] = set()
    for label, value in choices:
        if label is None or label == "":
            out.append(Choice(0, "", 0, ""))
            continue
        number = numbers.get(str(label), 0) if isinstance(label, str) else 0
        if number == 0:
            out.append(Choice(0, "", 0, CHECK_CHOOSE))
            continue
        p = params[number - 1]
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if number in seen:
            check = CHECK_TWICE
        elif value is None or value == "":
            check = CHECK_BLANK
        elif not is_number:
            check = CHECK_NUMBER
        elif value < p.low:
            check = CHECK_LOW
        elif value > p.high:
            check = CHECK_HIGH
        else:
            check = CHECK_APPLIED
        applied = 1 if (is_number and number not in seen and p.low <= value <= p.high) else 0
        seen.add(number)
        out.append(Choice(number, p.today, applied, check))
    return out


def scenario_from_choices(inputs: DistrictInputs, choices: Iterable[tuple[object, object]],
                          name: str = "Scenarios sheet") -> Scenario:
    """The scenario a budget officer typed on the Scenarios sheet (see read_choices)."""
    choices = list(choices)
    params = parameters(inputs)
    values = {params[c.number - 1].key: float(v)  # type: ignore[arg-type]
              for c, (_label, v) in zip(read_choices(inputs, choices), choices, strict=True)
              if c.applied}
    return Scenario(name, values, "Scenarios sheet")
