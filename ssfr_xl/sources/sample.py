"""A synthetic California district for demonstrations, templates and tests.

Every number is made up, but shaped like a real unified district's roster: the usual mix of
levels, realistic enrollments by grade, need from low to very high, and prior-year allocations
that did not follow need (so a new formula has winners and losers to show).
"""

from __future__ import annotations

import random

from ssfr_xl.model import GRADES, LEVELS, District, School, grade_index

SAMPLE_DISTRICT_NAME = "Sample Unified School District"
SAMPLE_CDS_CODE = "0199999"  # county 01 + district 99999: no real district has this code
SAMPLE_FISCAL_YEAR = "2026-27"

# Share of schools by level (in LEVELS order): a typical unified district.
_LEVEL_SHARES = (0.60, 0.20, 0.15, 0.05)
# Usual enrollment range by level, and the range of the one deliberately small school.
_ENROLLMENT = {
    "Elementary": (250, 700),
    "Middle": (500, 1100),
    "High": (800, 2200),
    "Span": (350, 850),
}
_SMALL = {"Elementary": (120, 195), "High": (180, 390)}
# Relative size of each grade's cohort: TK classes are smaller than K, and high schools lose
# pupils between grade 9 and grade 12.
_COHORT = {"TK": 0.65, "9": 1.06, "10": 1.0, "11": 0.96, "12": 0.92}

_NAMESAKES = (
    "Cesar Chavez",
    "Dolores Huerta",
    "Lincoln",
    "Washington",
    "Jefferson",
    "Roosevelt",
    "Mountain View",
    "Sierra Vista",
    "Valley View",
    "Oak Grove",
    "Sequoia",
    "Redwood",
    "Madrone",
    "Manzanita",
    "Golden Poppy",
    "Rosa Parks",
    "Martin Luther King Jr.",
    "Thurgood Marshall",
    "Sally Ride",
    "John Muir",
    "Luther Burbank",
    "Juan Cabrillo",
    "Junípero Serra",
    "Pío Pico",
    "Fred Korematsu",
    "Ygnacio Valley",
    "Harriet Tubman",
    "Frederick Douglass",
    "Amelia Earhart",
    "Jackie Robinson",
    "Ellen Ochoa",
    "Mae Jemison",
    "Sojourner Truth",
    "George Washington Carver",
    "Benjamin Franklin",
    "Susan B. Anthony",
    "Eleanor Roosevelt",
    "Hillcrest",
    "Lakeside",
    "Riverside",
    "Bayview",
    "Sunset",
    "Pacific",
    "Del Mar",
    "Vista del Mar",
    "El Camino",
    "Los Robles",
    "Las Palmas",
    "Arroyo Seco",
    "Buena Vista",
    "Monte Vista",
    "Eastside",
    "Westside",
    "Northridge",
    "Fairview",
    "Highland",
    "Meadowbrook",
    "Cedar Ridge",
    "Willow Glen",
    "Maple Grove",
    "Cherry Valley",
    "Orchard",
    "Grant",
    "Garfield",
    "McKinley",
    "Kennedy",
    "Jordan",
    "Hamilton",
    "Yosemite",
)
_SUFFIX = {"Elementary": "Elementary", "Middle": "Middle", "High": "High", "Span": "Academy"}
# Always the district's first elementary school, so even a small sample has a non-ASCII name.
_FIRST_ELEMENTARY = "Escuela Bilingüe Mariposa"


def sample_district(n_schools: int = 40, seed: int = 2026) -> tuple[District, list[School]]:
    """A deterministic synthetic district (fictional CDS code 0199999) and its schools."""
    if not 1 <= n_schools <= 2000:
        raise ValueError(f"n_schools must be from 1 to 2000, not {n_schools}")
    rng = random.Random(seed)
    district = District(
        name=SAMPLE_DISTRICT_NAME,
        cds_code=SAMPLE_CDS_CODE,
        fiscal_year=SAMPLE_FISCAL_YEAR,
        budget=0.0,  # the policy sets the budget
    )
    counts = _level_counts(n_schools)
    levels = [lv for lv, k in zip(LEVELS, counts, strict=True) for _ in range(k)]
    # Need is stratified so that even a handful of schools runs from low to very high need.
    strata = list(range(n_schools))
    _shuffle(rng, strata)
    names = _names(rng, counts)

    schools: list[School] = []
    seen: dict[str, int] = {}
    for i, level in enumerate(levels):
        nth = seen[level] = seen.get(level, 0) + 1
        small = level in _SMALL and nth == counts[LEVELS.index(level)] and nth >= 2
        need = (strata[i] + rng.random()) / n_schools  # 0..1, uniform over the district
        schools.append(
            _school(
                rng,
                school_id=f"{SAMPLE_CDS_CODE}{6000000 + 13 * (i + 1):07d}",
                name=names[i],
                level=level,
                need=need,
                small=small,
            )
        )
    return district, schools


def _level_counts(n: int) -> list[int]:
    """Schools per level: the shares of n, rounded by largest remainder (ties to LEVELS order)."""
    quotas = [n * share for share in _LEVEL_SHARES]
    counts = [int(q) for q in quotas]
    by_remainder = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    return counts


def _names(rng: random.Random, counts: list[int]) -> list[str]:
    """Unique school names, in the order of the levels' schools."""
    used: set[str] = set()
    result: list[str] = []
    for level, k in zip(LEVELS, counts, strict=True):
        pool = list(_NAMESAKES)
        _shuffle(rng, pool)
        candidates = [f"{p} {_SUFFIX[level]}" for p in pool]
        if level == "Elementary":
            candidates.insert(0, _FIRST_ELEMENTARY)
        street = 0
        for _ in range(k):
            while candidates and candidates[0] in used:
                candidates.pop(0)
            if candidates:
                name = candidates.pop(0)
            else:  # past the namesakes, number streets as Los Angeles does ("49th Street")
                street += 1
                name = f"{_ordinal(street)} Street {_SUFFIX[level]}"
            used.add(name)
            result.append(name)
    return result


def _school(
    rng: random.Random, *, school_id: str, name: str, level: str, need: float, small: bool
) -> School:
    """One school with counts consistent with its size and need (0 = least, 1 = most)."""
    if level == "Elementary":
        low, high = ("TK" if rng.random() < 0.8 else "K"), "5"
    elif level == "Middle":
        low, high = "6", "8"
    elif level == "High":
        low, high = "9", "12"
    else:
        low, high = ("TK" if rng.random() < 0.5 else "K"), "8"
    lo, hi = _SMALL[level] if small else _ENROLLMENT[level]
    enrollment = _randint(rng, lo, hi)
    served = GRADES[grade_index(low) : grade_index(high) + 1]
    weights = [_COHORT.get(g, 1.0) * _uniform(rng, 0.9, 1.1) for g in served]
    by_grade = dict.fromkeys(GRADES, 0)
    by_grade.update(zip(served, _apportion(enrollment, weights), strict=True))

    # Unduplicated share 10%..95%; every other need count is tied to it the way CUPC data are:
    # FRPM and EL pupils are mostly inside the unduplicated count.
    share = 0.10 + 0.85 * need
    unduplicated = round(enrollment * share)
    frpm = round(unduplicated * _uniform(rng, 0.82, 0.97))
    el = round(enrollment * min(0.45, max(0.02, (0.02 + 0.43 * need) * _uniform(rng, 0.7, 1.1))))
    swd = round(enrollment * _uniform(rng, 0.08, 0.16))
    foster = round(enrollment * _uniform(rng, 0.0, 0.01) * need)
    homeless = round(enrollment * _uniform(rng, 0.0, 0.06) * (0.3 + 0.7 * need))
    unduplicated = min(enrollment, max(unduplicated, frpm, el, foster, homeless))

    # Prior-year dollars followed staffing, not need: mostly $6,000-$9,000 per pupil with a
    # tilt towards need, but about one low-need school in four was funded generously; small
    # schools cost more per pupil.
    if need < 0.4 and rng.random() < 0.25:
        per_pupil = _uniform(rng, 8200, 9000)
    else:
        per_pupil = 6200 + 1800 * need + _uniform(rng, -500, 500)
    if small:
        per_pupil += 400
    per_pupil = min(9000.0, max(6000.0, per_pupil))
    prior = float(round(per_pupil * enrollment))

    points = 0.0 if rng.random() < 0.15 else float(_randint(rng, 5, 100))
    teachers = 0.0 if need < 0.35 else float(min(12, round(12 * (need - 0.2) * rng.random() * 1.3)))

    return School(
        school_id=school_id,
        name=name,
        level=level,
        low_grade=low,
        high_grade=high,
        enrollment_by_grade=by_grade,
        frpm=frpm,
        el=el,
        swd=swd,
        foster=foster,
        homeless=homeless,
        unduplicated=unduplicated,
        prior_year_allocation=prior,
        performance_points=points,
        hard_to_staff_teachers=teachers,
        grades_estimated=False,
    )


def _apportion(total: int, weights: list[float]) -> list[int]:
    """Whole numbers in proportion to weights summing exactly to total (largest remainder)."""
    scale = total / sum(weights)
    quotas = [w * scale for w in weights]
    parts = [int(q) for q in quotas]
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - parts[i]), i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


# Only Random.random() is used: its sequence for a seed is the Mersenne Twister's and has not
# changed across Python versions, unlike helpers such as randrange or gauss have at times.
def _uniform(rng: random.Random, a: float, b: float) -> float:
    """A float from a to b."""
    return a + (b - a) * rng.random()


def _randint(rng: random.Random, a: int, b: int) -> int:
    """An integer from a to b inclusive."""
    return a + int(rng.random() * (b - a + 1))


def _shuffle(rng: random.Random, items: list) -> None:
    """Fisher-Yates shuffle in place."""
    for i in range(len(items) - 1, 0, -1):
        j = int(rng.random() * (i + 1))
        items[i], items[j] = items[j], items[i]


def _ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 21st..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
