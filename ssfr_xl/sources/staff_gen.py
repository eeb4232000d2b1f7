"""A synthetic staff roster for the sample district, paid on a real salary schedule.

Salaries come from San Francisco USD's 2024-25 teacher salary schedule (UESF, pay groups B6,
B7 and B8: the BA, BA+30 and BA+60 lanes, one row per step), read from the shared data
folder (``SSFR_XL_DATA`` or ``../shared/data``): a teacher on step s of lane L earns the
schedule's "Total Annual Salary effective 01/01/2025" of that row, times the position's FTE.
The step is the years of experience plus one, up to the lane's last step.

What the research reports (AIR's study of San Francisco and Oakland; Ed Trust-West) is built
in: teachers in high-poverty schools are more often new (0-2 years), less often fully
credentialed and more often out of field, so their actual pay is below the district average
the school is charged, and the opposite holds for low-poverty schools. With poverty p (FRPM
pupils over enrollment) a teacher is new with probability 0.04 + 0.40 p; an experienced one
has 3 + 22 x u^(0.5 + 3 p) years (u uniform on 0..1: most senior in low-poverty schools);
not fully credentialed with probability 0.01 + 0.10 p (0.35 for a new teacher in a
high-poverty school); out of field with probability 0.02 + 0.10 p. Deterministic for a seed.

Each school also has a principal, a clerk, special education teachers (one per 14 pupils
with disabilities) and classroom teachers (one per 24 pupils in elementary grades, one per 28
otherwise); positions other than teachers are paid the district average +/- 8%.
"""

from __future__ import annotations

import csv
import io
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import FileError, RosterError
from ..model import Policy, School
from ..money import excel_round
from .roster import _decode, _number
from .sample import _randint, _uniform
from .staff import StaffPosition

SCHEDULE_FILE = "sfusd_uesf_teacher_salary_schedule_b6_b7_b8_2024-25.csv"
SALARY_COLUMN = "Total Annual Salary effective 01/01/2025"
LANES = ("B6", "B7", "B8")  # BA, BA+30, BA+60
TEACHER_CODE = "TCH"
SPED_CODE = "TCH-SPED"


@dataclass(frozen=True)
class SalarySchedule:
    """Annual salary by lane and step (1-based), as the schedule prints it."""

    steps: dict[str, tuple[float, ...]]  # lane -> salary of step 1, 2, ...

    def salary(self, lane: str, years: float) -> float:
        """The salary of a teacher with these years of experience on this lane."""
        row = self.steps[lane]
        return row[min(int(years), len(row) - 1)]


def default_schedule_path() -> Path:
    """The SFUSD schedule in the shared data folder: SSFR_XL_DATA, else ../shared/data beside
    the folder the command runs in, else beside the ssfr-xl checkout."""
    base = os.environ.get("SSFR_XL_DATA")
    if base:
        return Path(base) / "sfusd" / SCHEDULE_FILE
    places = [Path.cwd().parent, Path(__file__).resolve().parents[3]]
    found = [p / "shared" / "data" / "sfusd" / SCHEDULE_FILE for p in places]
    return next((f for f in found if f.is_file()), found[0])


def read_salary_schedule(path: str | os.PathLike[str] | None = None) -> SalarySchedule:
    """Read the SFUSD teacher salary schedule CSV (pay scale group, step, total salary)."""
    path = Path(path) if path is not None else default_schedule_path()
    if not path.exists():
        raise FileError(f"The salary schedule {path} does not exist — pass --schedule with "
                        f"the path of {SCHEDULE_FILE} (in the shared data folder, sfusd/).")
    text = _decode(path)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    needed = ("Pay Scale Group", "Pay Scale Area (Verifiable Years of Service)", SALARY_COLUMN)
    missing = [c for c in needed if c not in (reader.fieldnames or [])]
    if missing:
        raise RosterError(f"{path.name} line 1: the column(s) {', '.join(missing)} are "
                          "missing — is this the SFUSD teacher salary schedule?")
    found: dict[str, dict[int, float]] = {}
    for line, row in enumerate(reader, start=2):
        step = _number(row[needed[1]] or "")
        salary = _number(row[SALARY_COLUMN] or "")
        if step is None or salary is None or step < 1 or step != int(step) or salary <= 0:
            raise RosterError(f"{path.name} line {line}: the step or the salary is not a "
                              "positive number.")
        found.setdefault(row[needed[0]].strip(), {})[int(step)] = salary
    steps = {}
    for lane in LANES:
        by_step = found.get(lane, {})
        if not by_step or sorted(by_step) != list(range(1, len(by_step) + 1)):
            raise RosterError(f"{path.name}: lane {lane} needs steps 1, 2, 3 ... without gaps.")
        steps[lane] = tuple(by_step[s] for s in sorted(by_step))
    return SalarySchedule(steps)


def poverty_share(school: School) -> float:
    """FRPM pupils over enrollment (0 for a school without pupils)."""
    return school.frpm / school.enrollment if school.enrollment else 0.0


def sample_staff(schools: Sequence[School], policy: Policy, schedule: SalarySchedule,
                 seed: int = 2027) -> list[StaffPosition]:
    """A deterministic staff roster for these schools (see the module's description)."""
    jobs = {j.code: j for j in policy.job_classes}
    for code in (TEACHER_CODE, SPED_CODE, "PRIN", "CLERK"):
        if code not in jobs:
            raise RosterError(f"The policy has no job class {code}: the sample staff roster "
                              "uses the shipped policy's job classes.")
    rng = random.Random(seed)
    out: list[StaffPosition] = []
    for school in schools:
        p = poverty_share(school)
        for code in ("PRIN", "CLERK"):
            pay = excel_round(jobs[code].average_salary * _uniform(rng, 0.92, 1.08), 2)
            out.append(StaffPosition(school.school_id, code, 1.0, pay,
                                     float(_randint(rng, 2, 25)), "full", False))
        elementary = sum(n for g, n in school.enrollment_by_grade.items()
                         if g in ("TK", "K", "1", "2", "3", "4", "5"))
        secondary = school.enrollment - elementary
        classroom = max(1, int(elementary / 24 + secondary / 28 + 0.5)) if school.enrollment else 0
        sped = int(school.swd / 14 + 0.5)
        for code, count in ((TEACHER_CODE, classroom), (SPED_CODE, sped)):
            for _ in range(count):
                out.append(_teacher(rng, school.school_id, code, p, schedule))
    return out


def _teacher(rng: random.Random, school_id: str, code: str, p: float,
             schedule: SalarySchedule) -> StaffPosition:
    new = rng.random() < 0.04 + 0.40 * p
    years = float(_randint(rng, 0, 2)) if new else float(3 + int(22 * rng.random()
                                                                   ** (0.5 + 3 * p)))
    # lanes: new teachers mostly BA; units accumulate with years
    lane_draw = rng.random() + min(years, 20) / 25
    lane = "B6" if lane_draw < 0.6 else ("B7" if lane_draw < 1.1 else "B8")
    partial = rng.random() < ((0.05 + 0.30 * p) if new else (0.01 + 0.10 * p))
    credential = ("intern" if rng.random() < 0.5 else "permit") if partial else "full"
    out_of_field = rng.random() < 0.02 + 0.10 * p
    fte = 0.5 if rng.random() < 0.04 else 1.0
    salary = excel_round(schedule.salary(lane, years) * fte, 2)
    return StaffPosition(school_id, code, fte, salary, years, credential, out_of_field)


def sample_minority(schools: Sequence[School], seed: int = 2028) -> dict[str, float]:
    """school_id -> minority pupils: about 25% of enrollment plus 70% of the poverty share,
    +/- 10 points, within 0..100% (poverty and minority go together, as in most districts)."""
    rng = random.Random(seed)
    out = {}
    for s in schools:
        share = min(1.0, max(0.0, 0.25 + 0.70 * poverty_share(s) + _uniform(rng, -0.1, 0.1)))
        out[s.school_id] = float(int(share * s.enrollment + 0.5))
    return out
