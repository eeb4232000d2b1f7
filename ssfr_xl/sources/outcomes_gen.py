"""Synthetic year-end outcomes for a district's schools, shaped like Dashboard data.

Levels follow need as they do in California (with u the unduplicated share: ELA distance from
standard about 30 - 80u points, math 20 - 90u, chronic absenteeism 8 + 25u %, suspensions
1 + 5u %, graduation 95 - 20u %, EL progress 40-55 %), each +/- noise; this year's change is
drawn independently of need, so growth is not a proxy for level. Students: grades 3-8 and 11
for ELA and math, every pupil for absenteeism and suspensions, English learners for EL
progress (small at low-EL schools: the small-n rule has cases), grade 12 for graduation (high
schools only). Deterministic for a seed; only Random.random() is used.
"""

from __future__ import annotations

import random

from ..model import DistrictInputs, School
from ..money import excel_round
from .outcomes import Outcome
from .sample import _uniform

_TESTED = ("3", "4", "5", "6", "7", "8", "11")


def _pupils(school: School, grades: tuple[str, ...]) -> int:
    return sum(school.enrollment_by_grade.get(g, 0) for g in grades)


def sample_outcomes(inputs: DistrictInputs, seed: int = 2029) -> list[Outcome]:
    """Outcomes of every school with pupils (see the module's description)."""
    rng = random.Random(seed)
    out: list[Outcome] = []
    for s in inputs.schools:
        if s.enrollment == 0:
            continue
        u = s.unduplicated / s.enrollment

        def add(code: str, prior: float, change: float, students: int, low: float = -1e9,
                high: float = 1e9, s: School = s) -> None:
            before = excel_round(min(high, max(low, prior)), 1)
            after = excel_round(min(high, max(low, before + change)), 1)
            out.append(Outcome(s.school_id, code, before, after, students))

        tested = _pupils(s, _TESTED)
        add("CHRONIC", 8 + 25 * u + _uniform(rng, -4, 4), _uniform(rng, -5, 2.5), s.enrollment,
            0, 100)
        add("SUSP", 1 + 5 * u + _uniform(rng, -1, 1), _uniform(rng, -1.5, 0.8), s.enrollment,
            0, 100)
        if tested:
            add("ELA", 30 - 80 * u + _uniform(rng, -10, 10), _uniform(rng, -8, 14), tested)
            add("MATH", 20 - 90 * u + _uniform(rng, -10, 10), _uniform(rng, -8, 14), tested)
        if s.el:
            add("ELPI", _uniform(rng, 40, 55), _uniform(rng, -5, 8), s.el, 0, 100)
        if s.level == "High":
            add("GRAD", 95 - 20 * u + _uniform(rng, -3, 3), _uniform(rng, -2, 4),
                s.enrollment_by_grade.get("12", 0), 0, 100)
    return out
