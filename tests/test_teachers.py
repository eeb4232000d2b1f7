"""Teachers: the staff roster reader, the SFUSD-schedule sample generator, the equity report by
quartile (against an independent pandas computation), the salary gap and the hard-to-staff
basis that init --staff writes to the district workbook."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from ssfr_xl.cli import cli
from ssfr_xl.district_book import read_district
from ssfr_xl.errors import RosterError
from ssfr_xl.model import GRADES, School
from ssfr_xl.policy import load_policy
from ssfr_xl.sources import sample_district
from ssfr_xl.sources.staff import StaffPosition, read_staff_csv, write_staff_csv
from ssfr_xl.sources.staff_gen import read_salary_schedule, sample_minority, sample_staff
from ssfr_xl.teachers import quartiles, teacher_report
from tests.helpers import SHARED_DATA

SCHEDULE = SHARED_DATA / "sfusd" / "sfusd_uesf_teacher_salary_schedule_b6_b7_b8_2024-25.csv"
POLICY = load_policy(None).policy  # TCH average salary 92,000; TCH-SPED 95,000; PRIN 152,000


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="ssfr-xl")


def school(i: int, pupils: int, frpm: int) -> School:
    grades = dict.fromkeys(GRADES, 0)
    grades["4"] = pupils
    return School(school_id=f"S{i}", name=f"School {i}", level="Elementary", low_grade="4",
                  high_grade="4", enrollment_by_grade=grades, frpm=frpm, unduplicated=frpm)


def pos(school_id: str, salary: float, years: float, *, job: str = "TCH", fte: float = 1.0,
        credential: str = "full", out: bool = False) -> StaffPosition:
    return StaffPosition(school_id, job, fte, salary, years, credential, out)


# --- hand-computed ------------------------------------------------------------------------------

def test_quartiles_rank_by_share_with_ties_by_id() -> None:
    # 5 schools: rank r of n=5 -> floor(4r/5)+1: r=0..4 -> 1, 1, 2, 3, 4
    shares = {"E": 0.9, "A": 0.1, "C": 0.5, "B": 0.5, "D": 0.7}
    assert quartiles(shares) == {"A": 1, "B": 1, "C": 2, "D": 3, "E": 4}


def test_small_district_by_hand() -> None:
    schools = [school(1, 400, 40), school(2, 200, 100), school(3, 300, 180),
               school(4, 100, 90)]  # poverty 10%, 50%, 60%, 90% -> quartiles 1, 2, 3, 4
    staff = [
        pos("S1", 110_000, 15), pos("S1", 100_000, 10), pos("S1", 50_000, 1, fte=0.5),
        pos("S1", 150_000, 20, job="PRIN"),  # not a teacher: object 1300
        pos("S2", 80_000, 2, credential="intern"), pos("S2", 90_000, 6, out=True),
        pos("S3", 95_000, 8, job="TCH-SPED"),
        pos("S4", 75_000, 0, credential="permit"), pos("S4", 88_000, 5),
        pos("S4", 86_000, 4, out=True), pos("S4", 84_000, 3, credential="waiver"),
    ]
    r = teacher_report(schools, POLICY, staff)
    s1, s2, s3, s4 = r.schools
    assert [s.poverty_quartile for s in r.schools] == [1, 2, 3, 4]
    # S1: teacher FTE 2.5; inexperienced 0.5 (1 year) -> 20%; pay 260,000; charged
    # 2.5 x 92,000 = 230,000; gap +30,000; per pupil 30,000 / 400 = 75.00; average 104,000
    assert s1.figures.teacher_fte == 2.5
    assert s1.figures.inexperienced_share == pytest.approx(0.2)
    assert s1.figures.actual_pay == 260_000 and s1.figures.charged_at_average == 230_000
    assert s1.figures.gap == 30_000 and s1.gap_per_pupil == 75.00
    assert s1.figures.average_salary == 104_000
    # S2: 2 teachers, 1 new (2 years counts), 1 out of field, 1 intern; gap 170,000 - 184,000
    assert (s2.figures.inexperienced_share, s2.figures.out_of_field_share,
            s2.figures.not_full_share) == (0.5, 0.5, 0.5)
    assert s2.figures.gap == -14_000 and s2.gap_per_pupil == -70.00
    # S3: a SPED teacher at 95,000 charged at the SPED average 95,000: no gap
    assert s3.figures.gap == 0
    # S4 (Q4, hard to staff): 4 teachers, pay 333,000 vs 368,000 -> -35,000, -350.00/pupil;
    # qualified and experienced (full, in field, > 2 years): only the 88,000 one -> 1.0 FTE
    assert s4.figures.gap == -35_000 and s4.gap_per_pupil == -350.00
    assert s4.hard_to_staff == 1.0
    assert r.hard_to_staff_basis() == {"S1": 0.0, "S2": 0.0, "S3": 0.0, "S4": 1.0}
    # the district pools every teacher: 9.5 FTE; inexperienced 0.5 + 1 + 1 = 2.5 -> 2.5/9.5
    assert r.district.teacher_fte == 9.5
    assert r.district.inexperienced_share == pytest.approx(2.5 / 9.5)
    assert r.district.gap == 30_000 - 14_000 + 0 - 35_000


def test_minority_quartiles_pool_by_minority_share() -> None:
    schools = [school(1, 100, 10), school(2, 100, 20), school(3, 100, 30), school(4, 100, 40)]
    staff = [pos(f"S{i}", 92_000 + 1000 * i, 3 * i) for i in range(1, 5)]
    # minority share 80%, 10%, 50%, 30% -> quartiles 4, 1, 3, 2
    r = teacher_report(schools, POLICY, staff, {"S1": 80, "S2": 10, "S3": 50, "S4": 30})
    assert [s.minority_quartile for s in r.schools] == [4, 1, 3, 2]
    by_q = {q: f for q, _n, f in r.by_minority}
    assert by_q[4].actual_pay == 93_000 and by_q[1].actual_pay == 94_000
    assert by_q[1].inexperienced_share == 0.0  # S2: 6 years
    assert teacher_report(schools, POLICY, staff).by_minority == ()


# --- the sample roster, on the real schedule ------------------------------------------------

needs_schedule = pytest.mark.skipif(not SCHEDULE.is_file(),
                                    reason=f"SFUSD salary schedule not found: {SCHEDULE}")


@pytest.fixture(scope="module")
def sample() -> tuple[list[School], list[StaffPosition]]:
    if not SCHEDULE.is_file():
        pytest.skip(f"SFUSD salary schedule not found: {SCHEDULE}")
    _d, schools = sample_district(40)
    return schools, sample_staff(schools, POLICY, read_salary_schedule(SCHEDULE))


@pytest.mark.shared_data
@needs_schedule
def test_schedule_steps_and_lanes() -> None:
    s = read_salary_schedule(SCHEDULE)
    # the CSV's "Total Annual Salary effective 01/01/2025": B6 step 1 79,468, step 13 92,622;
    # B7 has 15 steps, the last 99,689; B8 step 1 85,381
    assert s.steps["B6"][0] == 79_468 and s.steps["B6"][-1] == 92_622
    assert len(s.steps["B7"]) == 15 and s.steps["B7"][-1] == 99_689
    assert s.salary("B8", 0) == 85_381
    assert s.salary("B6", 40) == 92_622  # past the last step: the last step


@pytest.mark.shared_data
def test_sample_is_deterministic_and_paid_on_the_schedule(sample) -> None:
    schools, staff = sample
    assert sample_staff(schools, POLICY, read_salary_schedule(SCHEDULE)) == staff
    schedule = read_salary_schedule(SCHEDULE)
    paid = {round(v) for lane in schedule.steps.values() for v in lane}
    teachers = [p for p in staff if p.job_class in ("TCH", "TCH-SPED")]
    assert all(round(p.salary / p.fte) in paid for p in teachers)
    assert {p.school_id for p in staff} == {s.school_id for s in schools}


@pytest.mark.shared_data
def test_sample_shows_the_hidden_subsidy(sample) -> None:
    schools, staff = sample
    r = teacher_report(schools, POLICY, staff)
    q = {k: f for k, _n, f in r.by_poverty}
    # junior, less credentialed teachers where poverty is high ...
    assert q[1].inexperienced_share < q[2].inexperienced_share < q[4].inexperienced_share
    assert q[1].not_full_share < q[4].not_full_share
    assert q[1].out_of_field_share < q[4].out_of_field_share
    assert q[1].average_salary > q[4].average_salary
    # ... so low-poverty schools are charged less than their teachers cost
    assert all(s.figures.gap > 0 for s in r.schools if s.poverty_quartile == 1)
    assert q[1].gap > 0 > q[4].gap


@pytest.mark.shared_data
def test_quartiles_match_an_independent_pandas_computation(sample) -> None:
    schools, staff = sample
    minority = sample_minority(schools)
    r = teacher_report(schools, POLICY, staff, minority)
    frame = pd.DataFrame([p.__dict__ for p in staff])
    sch = pd.DataFrame({"school_id": [s.school_id for s in schools],
                        "poverty": [s.frpm / s.enrollment for s in schools],
                        "minority": [minority[s.school_id] / s.enrollment for s in schools]})
    for measure, table in (("poverty", r.by_poverty), ("minority", r.by_minority)):
        sch = sch.sort_values([measure, "school_id"]).reset_index(drop=True)
        sch[f"{measure}_q"] = pd.qcut(sch.index, 4, labels=[1, 2, 3, 4]).astype(int)
        t = frame[frame.job_class.isin(["TCH", "TCH-SPED", "COACH"])].merge(sch, on="school_id")
        t["new"] = (t.years <= 2) * t.fte
        t["oof"] = t.out_of_field * t.fte
        t["partial"] = (~t.credential.isin(["full", "clear", "preliminary"])) * t.fte
        t["charged"] = t.fte * t.job_class.map({"TCH": 92_000, "TCH-SPED": 95_000})
        g = t.groupby(f"{measure}_q").sum(numeric_only=True)
        for q, n, f in table:
            assert n == (sch[f"{measure}_q"] == q).sum()
            assert f.teacher_fte == pytest.approx(g.fte[q])
            assert f.inexperienced_share == pytest.approx(g.new[q] / g.fte[q])
            assert f.out_of_field_share == pytest.approx(g.oof[q] / g.fte[q])
            assert f.not_full_share == pytest.approx(g.partial[q] / g.fte[q])
            assert f.average_salary == pytest.approx(g.salary[q] / g.fte[q], abs=0.005)
            assert f.gap == pytest.approx(g.salary[q] - g.charged[q], abs=0.005)


# --- the staff file, careless and hostile ---------------------------------------------------

HEADER = "school_id,job_class,fte,salary,years,credential,out_of_field\n"


def schools2() -> list[School]:
    return [school(1, 100, 10), school(2, 100, 90)]


def test_staff_csv_round_trip(tmp_path: Path) -> None:
    staff = [pos("S1", 91_234.5, 3), pos("S2", 45_000, 0, fte=0.5, credential="intern",
                                         out=True)]
    write_staff_csv(staff, tmp_path / "staff.csv")
    assert read_staff_csv(tmp_path / "staff.csv", POLICY, schools2()) == tuple(staff)


def test_staff_csv_names_every_bad_cell(tmp_path: Path) -> None:
    f = tmp_path / "staff.csv"
    f.write_text(HEADER + "S9,TCH,1,90000,3,full,N\n"
                 "S1,JANITOR,1.5,-3,ten,provisional,maybe\n"
                 "S2,TCH,1,\"92,000\",4,Clear,Y\n", encoding="utf-8")
    with pytest.raises(RosterError) as e:
        read_staff_csv(f, POLICY, schools2())
    text = str(e.value)
    assert "staff.csv has 7 problems" in text
    assert ("staff.csv line 2, column 'school_id': 'S9' is not a school of the district — use "
            "the school_id of the Schools sheet.") in text
    assert "line 3, column 'job_class': 'JANITOR' is not a job class" in text
    assert ("line 3, column 'fte': '1.5' is not an FTE — type a number above 0 and at most "
            "1.0") in text
    assert "line 3, column 'salary': '-3' is not a salary" in text
    assert "line 3, column 'years': 'ten' is not a number of years" in text
    assert "line 3, column 'credential': 'provisional' is not a credential status" in text
    assert "line 3, column 'out_of_field': 'maybe' is not Y or N" in text
    assert "line 4" not in text  # "92,000" and "Clear" are fine


@pytest.mark.parametrize(("text", "message"), [
    ("", "staff.csv is empty — it needs the header school_id,job_class,fte"),
    ("school_id,job_class,fte\nS1,TCH,1\n",
     "staff.csv line 1: the column(s) salary, years, credential, out_of_field are missing"),
    (HEADER, "staff.csv has a header but no positions"),
    ("school_id,job_class,fte,salary,years,credential,out_of_field,FTE\n",
     "staff.csv line 1, column 'fte': the column appears twice (columns 3 and 8)"),
])
def test_staff_csv_structure(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "staff.csv"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(RosterError) as e:
        read_staff_csv(f, POLICY, schools2())
    assert message in str(e.value)


def test_cli_teachers_and_init_staff(tmp_path: Path) -> None:
    district = tmp_path / "d.xlsx"
    assert run("init", district, "--sample", "4").exit_code == 0
    inputs = read_district(district)
    ids = [s.school_id for s in inputs.schools]
    # poverty ranks the 4 sample schools; the top one is the hard-to-staff school
    top = max(inputs.schools, key=lambda s: (s.frpm / s.enrollment, s.school_id)).school_id
    rows = [f"{i},TCH,1,100000,10,full,N" for i in ids] + [
        f"{top},TCH,0.5,40000,1,full,N", f"{top},TCH,1,90000,5,intern,N"]
    staff = tmp_path / "staff.csv"
    staff.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "teachers.xlsx"
    result = run("teachers", district, "--staff", staff, "--out", out)
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(out, read_only=True)
    assert book.sheetnames == ["Teachers by poverty", "Salary gap", "Teacher definitions"]
    gap = {r[0]: r for r in book["Salary gap"].iter_rows(min_row=5, values_only=True)}
    # every school: 100,000 - 92,000 = +8,000; the top one also 40,000 - 46,000 and
    # 90,000 - 92,000: 8,000 - 6,000 - 2,000 = 0
    assert gap[top][15] == 0 and all(gap[i][15] == 8000 for i in ids if i != top)
    assert gap[top][17] == 1.0  # only the 10-year, fully credentialed teacher
    # init --staff writes the basis to the Schools sheet
    d2 = tmp_path / "d2.xlsx"
    result = run("init", d2, "--sample", "4", "--staff", staff)
    assert result.exit_code == 0, result.output
    assert "Hard-to-staff teachers computed from staff.csv: 1 school, 1 teacher FTE" in \
        result.output
    hts = {s.school_id: s.hard_to_staff_teachers for s in read_district(d2).schools}
    assert hts == {i: (1.0 if i == top else 0.0) for i in ids}


def test_cli_teachers_refuses_bad_input(tmp_path: Path) -> None:
    district = tmp_path / "d.xlsx"
    assert run("init", district, "--sample", "2").exit_code == 0
    staff = tmp_path / "staff.csv"
    staff.write_text(HEADER + "nope,TCH,1,1,1,full,N\n", encoding="utf-8")
    result = run("teachers", district, "--staff", staff, "--out", tmp_path / "t.xlsx")
    assert result.exit_code == 1
    assert "staff.csv line 2, column 'school_id': 'nope' is not a school" in result.output
    assert not (tmp_path / "t.xlsx").exists()
    result = run("teachers", district, "--staff", staff, "--out", staff)
    assert result.exit_code == 2 and "staff.csv" in result.output
    result = run("init", tmp_path / "e.xlsx", "--sample", "2", "--staff", staff)
    assert result.exit_code == 1 and "'nope' is not a school" in result.output
    assert run("sample-data", district).exit_code == 2
