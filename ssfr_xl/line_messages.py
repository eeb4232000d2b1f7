"""Words for the problems of plan lines: what validate tells the principal, per rule code.

The rules themselves (what counts as a problem) are declared in plan_math and show live in
the workbook's Check column; this module only says them in full, naming the cell, what it
holds and what to change, and suggests the code the principal probably meant.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from .excel_expr import XlError, as_text, is_number
from .indicators import indicator_list
from .layout import MAX_LINE_FTE
from .model import Policy
from .plan import LineProblem

#: Letters from other scripts that look like Latin capitals or small letters.
_LOOKALIKES = str.maketrans({
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S", "а": "a", "е": "e", "о": "o", "р": "p",
    "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "ο": "o",
})


def loose(text: str) -> str:
    """A code as a person would read it: no spaces or invisible characters, any case,
    look-alike letters of other scripts as Latin ones."""
    text = unicodedata.normalize("NFKC", text).translate(_LOOKALIKES)
    kept = (ch for ch in text if not ch.isspace() and unicodedata.category(ch) not in
            ("Cf", "Cc", "Zs", "Zl", "Zp"))
    return "".join(kept).casefold()


def suggestion(value: str, codes: Iterable[str]) -> str:
    """The listed code `value` probably means (same letters read loosely), or ''."""
    target = loose(value)
    found = [c for c in codes if loose(c) == target]
    return found[0] if len(found) == 1 else ""


def describe(value: object) -> str:
    """What a cell holds, shown to a person: invisible characters made visible."""
    text = as_text(value) if not isinstance(value, str) else value
    shown = []
    for ch in text:
        if ch == " ":
            shown.append(" ")
        elif ch.isspace() or unicodedata.category(ch) in ("Cf", "Cc", "Zs", "Co", "Cn"):
            shown.append(f"<U+{ord(ch):04X}>")
        elif ord(ch) > 127 and unicodedata.category(ch).startswith("L") and \
                ch.translate(_LOOKALIKES) != ch:
            shown.append(f"{ch}<U+{ord(ch):04X}>")
        else:
            shown.append(ch)
    out = "".join(shown)
    if text != text.strip(" "):
        out = f"{out!r} (with spaces at the start or end)"
    else:
        out = repr(out)
    return out[:120]


def _lists(policy: Policy) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {
        "unknown-job-class": ("job classes", tuple(j.code for j in policy.job_classes)),
        "unknown-service": ("services on the menu", tuple(s.code for s in policy.services)),
        "unknown-object": ("object codes", tuple(o.code for o in policy.objects)),
        "unknown-fund": ("funds", tuple(f.code for f in policy.funds)),
        "unknown-goal": ("goals", tuple(g.code for g in policy.goals)),
        "unknown-indicator": ("indicators", tuple(i.code for i in indicator_list(policy))),
    }


_MISSING_CODE = {
    "position": "choose a job class for this line (or clear the line)",
    "service": "choose a service from the list for this quantity",
    "other": "choose the object code (what is bought) for this line",
}


def line_message(p: LineProblem, policy: Policy) -> str:
    """The finding's message for one line problem."""
    kind = p.kind
    where = f"{p.sheet}!{p.cell}"
    code = p.rule.code
    value = p.values.get(p.rule.column)
    if isinstance(value, XlError):
        return (f"{where} holds the error value {value}. Type the value itself (or clear the "
                "cell).")
    if code == "missing-code":
        return f"{where}: {_MISSING_CODE[kind]}."
    if code in _lists(policy):
        what, codes = _lists(policy)[code]
        text = as_text(value)
        near = suggestion(text, codes)
        hint = (f" Did you mean {near!r}? Choose it from the list; the district only counts "
                "codes typed exactly as listed." if near else " Choose one from the list.")
        return f"{where}: {describe(text)} is not one of the district's {what}.{hint}"
    if code == "not-a-number" and isinstance(value, bool):
        return (f"{where} holds {'TRUE' if value else 'FALSE'}, a yes/no value, not a number "
                "(Excel does not count it; LibreOffice counts it as 1 or 0). Type the number "
                "itself.")
    if code == "not-a-number":
        return (f"{where} holds the text {describe(value)}, which the workbook's totals leave "
                "out; type it again as a number.")
    line_fte = p.values.get("fte")
    fte = float(line_fte) if is_number(line_fte) else 0.0
    simple = {
        "missing-fte": f"{where}: type the FTE of this line (20 teachers = 20.0).",
        "fte-out-of-range": f"{where}: FTE {fte:g} must be from 0 to {MAX_LINE_FTE:g} on one "
                            "line.",
        "fte-step": f"{where}: FTE {fte:g} is not a multiple of the district's step of "
                    f"{policy.fte_step:g}. Round it to a step.",
        "missing-fund": f"{where}: choose the fund that pays for this line.",
        "missing-goal": f"{where}: choose the district goal this line serves.",
        "missing-quantity": f"{where}: type how many units to buy (or clear the fund and goal "
                            "of this line).",
        "missing-amount": f"{where}: type the amount for this line (or clear the line).",
        "negative-amount": f"{where}: an amount cannot be negative; lower another line "
                           "instead.",
        "amount-cents": f"{where}: {as_text(value)} has fractions of a cent; type the amount "
                        "in dollars and cents.",
        "too-large": f"{where}: {as_text(value)} is larger than one line may hold; check for a "
                     "typing slip.",
        "incomplete-goal": f"{where}: this goal needs both a strategy and a measure of "
                           "success.",
        "missing-indicator": f"{where}: choose the indicator (from the list) that the "
                             "baseline and target of this goal are stated in.",
        "missing-baseline": f"{where}: type this year's baseline of the indicator (a number "
                            "in its unit).",
        "missing-target": f"{where}: type next year's target of the indicator (a number in "
                          "its unit).",
    }
    if code in simple:
        return simple[code]
    if code == "target-direction":
        ind = next((i for i in indicator_list(policy)
                    if i.code == as_text(p.values.get("indicator"))), None)
        down = ind is not None and ind.direction == "down"
        return (f"{where}: the target {as_text(value)} is not "
                f"{'below' if down else 'above'} the baseline "
                f"{as_text(p.values.get('baseline'))}: for "
                f"{ind.name if ind else 'this indicator'} {'lower' if down else 'higher'} is "
                f"better. Type a target {'below' if down else 'above'} the baseline.")
    fund = as_text(p.values.get("fund"))
    name = next((f.name for f in policy.funds if f.code == fund), fund)
    if code == "restricted-object":
        return (f"{where}: {name} may not pay for this line ({_item(p, policy, kind)}). "
                "Choose another fund.")
    if code == "restricted-service":
        return (f"{where}: {name} may not buy {_item(p, policy, kind)}. Choose another fund.")
    return f"{where}: {p.rule.says if isinstance(p.rule.says, str) else code}."


def _item(p: LineProblem, policy: Policy, kind: str) -> str:
    if kind == "position":
        code = as_text(p.values.get("job_class"))
        job = next((j for j in policy.job_classes if j.code == code), None)
        return f"{job.title}, object {job.object_code}" if job else code
    if kind == "service":
        code = as_text(p.values.get("service"))
        s = next((s for s in policy.services if s.code == code), None)
        return f"{s.name} ({s.department})" if s else code
    code = as_text(p.values.get("object"))
    o = next((o for o in policy.objects if o.code == code), None)
    return f"object {code} {o.name}" if o else code


__all__ = ["describe", "line_message", "loose", "suggestion"]
