"""Who teaches where: the equitable-distribution analysis, the average-versus-actual salary
gap and the hard-to-staff incentive basis, from a staff roster (sources/staff.py).

Definitions (each is what the README's "Teachers" section documents):

- A **teacher** is a position whose job class has a 1100 object code (certificated teachers'
  salaries in California's SACS accounts): classroom, special education, teachers on special
  assignment. Every share is of teacher FTE, so two half-time teachers weigh one full-time.
- **Inexperienced**: at most INEXPERIENCED_YEARS (2) years of experience, i.e. in the first,
  second or third year of teaching — California's ESSA State Plan's "inexperienced teacher"
  (fewer than two complete years) counted with the year under way.
- **Not fully credentialed**: an intern credential, a permit, a waiver or none.
- **Out of field**: flagged in the staff file (teaching outside the credential's subject).
- **Average actual salary**: teachers' pay over their FTE (dollars per 1.0 FTE).
- **Poverty quartile**: schools with pupils ranked by FRPM pupils over enrollment (ties by
  school_id), the first quarter of the ranking is Q1 (lowest poverty), the last Q4: school of
  rank r (0-based) of n is in quartile floor(4 r / n) + 1. The **minority quartile** ranks
  minority pupils over enrollment the same way. A quartile's figures pool its schools'
  teachers (ESSA asks at which rates pupils are taught by such teachers).
- **Salary gap** of a school: its teachers' actual pay minus what the school is charged for
  them at the district average salary (FTE x the job class's average salary on the Job
  Classes sheet; salary only, benefits are charged at one rate either way). Positive: the
  school's teachers cost more than it pays for them — the hidden subsidy low-poverty schools
  with senior teachers receive. Per pupil: the gap over enrollment, to the cent.
- **Hard-to-staff basis** (the roster's hard_to_staff_teachers, which the HTS incentive pool
  is shared by): in each school of the highest poverty quartile (Q4, the hard-to-staff
  schools), the FTE of teachers who are fully credentialed, teach in field and have more than
  INEXPERIENCED_YEARS years of experience; 0 in every other school. The pool rewards keeping
  experienced, qualified teachers where they are hardest to keep. A district of fewer than 4
  schools has no Q4: there its highest-poverty school is the hard-to-staff school.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .model import Policy, School
from .money import excel_round
from .sources.staff import StaffPosition

INEXPERIENCED_YEARS = 2.0
TEACHER_OBJECT = "1100"
HARD_TO_STAFF_QUARTILE = 4


@dataclass(frozen=True)
class TeacherFigures:
    """Pooled teacher figures of a school or a group of schools."""

    teacher_fte: float
    inexperienced_fte: float
    out_of_field_fte: float
    not_full_fte: float
    actual_pay: float  # dollars, to the cent
    charged_at_average: float  # dollars, to the cent

    def share(self, part: float) -> float | None:
        """part over teacher FTE (None without teachers)."""
        return part / self.teacher_fte if self.teacher_fte else None

    @property
    def inexperienced_share(self) -> float | None:
        """Share of teacher FTE with at most INEXPERIENCED_YEARS of experience."""
        return self.share(self.inexperienced_fte)

    @property
    def out_of_field_share(self) -> float | None:
        """Share of teacher FTE teaching out of field."""
        return self.share(self.out_of_field_fte)

    @property
    def not_full_share(self) -> float | None:
        """Share of teacher FTE not fully credentialed."""
        return self.share(self.not_full_fte)

    @property
    def average_salary(self) -> float | None:
        """Actual pay per 1.0 teacher FTE, to the cent."""
        return excel_round(self.actual_pay / self.teacher_fte) if self.teacher_fte else None

    @property
    def gap(self) -> float:
        """Actual pay minus the charge at the district average salary."""
        return excel_round(self.actual_pay - self.charged_at_average)


@dataclass(frozen=True)
class SchoolTeachers:
    """One school's teachers and where it ranks."""

    school: School
    figures: TeacherFigures
    poverty_share: float
    poverty_quartile: int
    minority_share: float | None
    minority_quartile: int | None
    hard_to_staff: float

    @property
    def gap_per_pupil(self) -> float | None:
        """The salary gap over enrollment, to the cent."""
        pupils = self.school.enrollment
        return excel_round(self.figures.gap / pupils) if pupils else None


@dataclass(frozen=True)
class TeacherReport:
    """Every school's teacher figures, and the quartile tables."""

    schools: tuple[SchoolTeachers, ...]
    by_poverty: tuple[tuple[int, int, TeacherFigures], ...]  # (quartile, schools, figures)
    by_minority: tuple[tuple[int, int, TeacherFigures], ...]  # empty without minority counts
    district: TeacherFigures

    def hard_to_staff_basis(self) -> dict[str, float]:
        """school_id -> hard_to_staff_teachers for the district workbook."""
        return {s.school.school_id: s.hard_to_staff for s in self.schools}


def teacher_job_classes(policy: Policy) -> dict[str, float]:
    """Job class code -> average salary, for the job classes that are teachers."""
    return {j.code: j.average_salary for j in policy.job_classes
            if j.object_code.strip() == TEACHER_OBJECT}


def quartiles(shares: Mapping[str, float]) -> dict[str, int]:
    """school_id -> quartile 1..4 of its share (1 = lowest), ranked with ties by school_id."""
    ranked = sorted(shares, key=lambda k: (shares[k], k))
    n = len(ranked)
    return {k: 4 * r // n + 1 for r, k in enumerate(ranked)}


def _figures(positions: Sequence[StaffPosition], averages: Mapping[str, float]
             ) -> TeacherFigures:
    teachers = [p for p in positions if p.job_class in averages]
    return TeacherFigures(
        teacher_fte=math.fsum(p.fte for p in teachers),
        inexperienced_fte=math.fsum(p.fte for p in teachers if p.years <= INEXPERIENCED_YEARS),
        out_of_field_fte=math.fsum(p.fte for p in teachers if p.out_of_field),
        not_full_fte=math.fsum(p.fte for p in teachers if not p.fully_credentialed),
        actual_pay=excel_round(math.fsum(p.salary for p in teachers)),
        charged_at_average=excel_round(math.fsum(p.fte * averages[p.job_class]
                                                 for p in teachers)),
    )


def pooled(parts: Sequence[TeacherFigures]) -> TeacherFigures:
    return TeacherFigures(*(excel_round(math.fsum(getattr(f, k) for f in parts), 6)
                            if k.endswith("fte") else
                            excel_round(math.fsum(getattr(f, k) for f in parts))
                            for k in TeacherFigures.__dataclass_fields__))


def _qualified_experienced_fte(positions: Sequence[StaffPosition],
                               averages: Mapping[str, float]) -> float:
    return excel_round(math.fsum(
        p.fte for p in positions if p.job_class in averages and p.fully_credentialed
        and not p.out_of_field and p.years > INEXPERIENCED_YEARS), 2)


def teacher_report(schools: Sequence[School], policy: Policy,
                   positions: Sequence[StaffPosition],
                   minority: Mapping[str, float] | None = None) -> TeacherReport:
    """The teacher figures of every school with pupils. `minority`: school_id -> minority
    pupils (schools left out are not ranked by minority)."""
    averages = teacher_job_classes(policy)
    by_school: dict[str, list[StaffPosition]] = {}
    for p in positions:
        by_school.setdefault(p.school_id, []).append(p)
    ranked = [s for s in schools if s.enrollment > 0]
    poverty = {s.school_id: s.frpm / s.enrollment for s in ranked}
    pq = quartiles(poverty)
    # the hard-to-staff schools: Q4; with fewer than 4 schools no rank reaches Q4 (3 schools
    # are Q1, Q2, Q3), so the highest quartile there is, else the pool would go to nobody
    top = min(HARD_TO_STAFF_QUARTILE, max(pq.values(), default=HARD_TO_STAFF_QUARTILE))
    shares = ({s.school_id: minority[s.school_id] / s.enrollment for s in ranked
               if s.school_id in minority} if minority else {})
    mq = quartiles(shares) if shares else {}
    rows = []
    for s in ranked:
        mine = by_school.get(s.school_id, [])
        hts = (_qualified_experienced_fte(mine, averages)
               if pq[s.school_id] == top else 0.0)
        rows.append(SchoolTeachers(s, _figures(mine, averages), poverty[s.school_id],
                                   pq[s.school_id], shares.get(s.school_id),
                                   mq.get(s.school_id), hts))

    def table(key: str) -> tuple[tuple[int, int, TeacherFigures], ...]:
        out = []
        for q in (1, 2, 3, 4):
            members = [r.figures for r in rows if getattr(r, key) == q]
            if members:
                out.append((q, len(members), pooled(members)))
        return tuple(out)

    return TeacherReport(tuple(rows), table("poverty_quartile"),
                         table("minority_quartile") if mq else (),
                         pooled([r.figures for r in rows]))
