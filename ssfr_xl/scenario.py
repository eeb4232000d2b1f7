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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import FileError, PolicyError
from .layout import parameters_used
from .model import LEVELS, Component, DistrictInputs
from .money import excel_round

#: Highest value the sheet accepts where a parameter has no natural upper bound.
NO_LIMIT = 1e15

#: A component's scenario keys by the Policy parameter they change (layout.KIND_PARAMETERS).
COMPONENT_KEYS = ("rate", "threshold", "minimum", "cap", "pool")

#: District settings a scenario may change: key -> (label, lowest, highest, what it needs).
DISTRICT_KEYS = {
    "budget": ("Budget", 0.0, NO_LIMIT),
    "budget_per_pupil": ("Budget per pupil", 0.0, NO_LIMIT),
    "base_rate": ("Fixed base rate", 0.0, NO_LIMIT),
    "transition_max_loss": ("Transition: maximum loss", 0.0, 1.0),
    "transition_gain_cap": ("Transition: gains kept up to", 0.0, 100.0),
    "transition_reserve": ("Transition: reserve", 0.0, NO_LIMIT),
}


#: What a component's amounts by school level are, by kind (the others: a threshold share).
LEVEL_MEANING = {"foundation": ("amount", NO_LIMIT),
                 "small_school": ("minimum enrollment", NO_LIMIT)}


@dataclass(frozen=True)
class Parameter:
    """One number of the formula a scenario may change.

    `key` is its place in a scenario file ("component.EL.rate"); `label` is how the Scenarios
    sheet's dropdown names it; `target` says which Policy-sheet input cell holds today's value:
    ("setting", field key), ("span", index), ("component", index, column key),
    ("condition", component index, condition index) or ("band", component index, band index);
    ("budget_per_pupil",) has no cell (it sets the budget).
    """

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


def parameters(inputs: DistrictInputs) -> tuple[Parameter, ...]:
    """Every parameter of this district's formula a scenario may change, in Policy order.

    Only parameters that change something are offered: a fixed base rate when the base rate
    is fixed, transition settings when the policy has a transition component and its mode
    uses them, and for each component the parameters its kind uses (layout.KIND_PARAMETERS).
    """
    p, d = inputs.policy, inputs.district
    out: list[Parameter] = []
    pupils = sum(s.enrollment for s in inputs.schools)

    def setting(key: str, today: float) -> None:
        label, low, high = DISTRICT_KEYS[key]
        target = ("budget_per_pupil",) if key == "budget_per_pupil" else ("setting", key)
        out.append(Parameter(f"district.{key}", label, today, low, high, target))

    setting("budget", d.budget)
    if pupils > 0:
        setting("budget_per_pupil", d.budget / pupils)
    if d.base_rate_mode == "fixed":
        setting("base_rate", d.base_rate)
    if any(c.kind == "transition" for c in p.components):
        setting("transition_max_loss", d.transition_max_loss)
        if d.transition_mode == "cap_gains":
            setting("transition_gain_cap", d.transition_gain_cap)
        if d.transition_mode == "reserve":
            setting("transition_reserve", d.transition_reserve)
    if not any(c.kind == "base" and c.basis for c in p.components):
        for i, span in enumerate(p.spans):
            out.append(Parameter(f'grade_span."{span.name}".weight',
                                 f"Grade span {span.name} weight", span.weight, 0.0, 10.0,
                                 ("span", i)))
    for i, c in enumerate(p.components):
        uses = parameters_used(c)
        for key in COMPONENT_KEYS:
            if key in uses:
                high = 1.0 if key == "threshold" else NO_LIMIT
                out.append(Parameter(f"component.{c.code}.{key}", f"{c.code} {key}",
                                     getattr(c, key), 0.0, high, ("component", i, key)))
        if "levels" in uses:
            what, high = LEVEL_MEANING.get(c.kind, ("threshold share", 1.0))
            for j, level in enumerate(LEVELS):
                out.append(Parameter(f"component.{c.code}.level.{level}",
                                     f"{c.code} {level} {what}", c.by_level[j], 0.0, high,
                                     ("component", i, f"level_{j}")))
        for k, cond in enumerate(c.conditions):
            out.append(Parameter(f"component.{c.code}.condition.{k + 1}",
                                 f"{c.code} condition {k + 1} value", cond.value,
                                 -NO_LIMIT, NO_LIMIT, ("condition", i, k)))
        for k, band in enumerate(c.bands):
            out.append(Parameter(f"component.{c.code}.band.{band.label}",
                                 f"{c.code} band {band.label} rate", band.rate, 0.0, NO_LIMIT,
                                 ("band", i, k)))
    return tuple(out)


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
            settings[target[1]] = value
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
    if "budget" in values:  # the budget itself wins over a budget per pupil
        settings["budget"] = float(values["budget"])
    keys = {"budget": "budget", "base_rate": "base_rate",
            "transition_max_loss": "transition_max_loss",
            "transition_gain_cap": "transition_gain_cap",
            "transition_reserve": "transition_reserve"}
    district = replace(district, **{keys[k]: v for k, v in settings.items()})
    policy = replace(policy, components=tuple(comps), spans=tuple(spans))
    return replace(inputs, policy=policy, district=district)


def _set_component(c: Component, column: str, value: float) -> Component:
    if column.startswith("level_"):
        levels = list(c.by_level)
        levels[int(column.removeprefix("level_"))] = value
        return replace(c, by_level=tuple(levels))  # type: ignore[arg-type]
    return replace(c, **{column: value})


# --- scenario files -------------------------------------------------------------------------

def load_scenario(path: str | Path, inputs: DistrictInputs) -> Scenario:
    """Read a scenario TOML file and check it against the district's formula."""
    source = Path(path)
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise FileError(f"Scenario file not found: {source}") from e
    except IsADirectoryError as e:
        raise FileError(f"{source} is a folder; give a scenario .toml file.") from e
    except tomllib.TOMLDecodeError as e:
        raise PolicyError(f"{source.name}: not valid TOML ({e}). Fix the line it names; "
                          "see templates/scenario-example.toml.") from e
    except UnicodeDecodeError as e:
        raise PolicyError(f"{source.name}: not a text file in UTF-8 ({e}); save it as "
                          "UTF-8 text.") from e
    except OSError as e:
        raise FileError(f"Cannot read the scenario file {source}: {e}") from e
    return parse_scenario(data, inputs, source.name, default_name=source.stem)


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
    name = data.get("name") or default_name or where
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
    offered = [k.removeprefix("district.") for k in by_key if k.startswith("district.")]
    for key, value in table.items():
        param = by_key.get(f"district.{key}")
        if param is not None:
            number("district", key, value, param)
        elif key in DISTRICT_KEYS:
            problems.append(f"{where}: [district] {key} changes nothing in this district "
                            f"({_why_not(key, inputs)}); it can change: {', '.join(offered)}.")
        else:
            problems.append(f"{where}: [district] {key!r} is not a setting a scenario "
                            f"changes; it can change: {', '.join(offered)}.")


def _why_not(key: str, inputs: DistrictInputs) -> str:
    d = inputs.district
    if key == "base_rate":
        return "the base rate is solved from the budget, not fixed"
    if key == "budget_per_pupil":
        return "the district has no pupils"
    if not any(c.kind == "transition" for c in inputs.policy.components):
        return "the policy has no transition component"
    return f"the transition mode is {d.transition_mode}"


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


def scenario_from_choices(inputs: DistrictInputs, choices: Iterable[tuple[str, object]],
                          name: str = "Scenarios sheet") -> Scenario:
    """The scenario a budget officer typed on the Scenarios sheet: (parameter label, value)
    rows, read as the sheet reads them (a blank or non-number value, an unknown label, a
    value out of range or a parameter chosen a second time is not applied)."""
    by_label = {p.label: p for p in parameters(inputs)}
    values: dict[str, float] = {}
    for label, value in choices:
        p = by_label.get(label)
        if p is None or p.key in values or isinstance(value, bool) \
                or not isinstance(value, int | float) or not p.low <= value <= p.high:
            continue
        values[p.key] = float(value)
    return Scenario(name, values, "Scenarios sheet")
