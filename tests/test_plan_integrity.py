"""A returned plan is checked for being the workbook the district sent: formulas by content,
defined names, cells outside the plan, identity, the lists (prices) and allocation of record,
calculation settings. Each kind of edit gets its own finding, naming the sheet and cell."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from ssfr_xl.layout import START_FIELDS, SchoolLayout
from ssfr_xl.layout import SchoolSheets as SS
from ssfr_xl.reader import read_workbook
from ssfr_xl.school_book import build_school_plan, plan_specs
from ssfr_xl.season import create_district
from ssfr_xl.sources.demo import demo_plan, fill_plan_workbook
from ssfr_xl.validate import PlanCheck, check_plan, district_record
from ssfr_xl.xlsx import save_atomically


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("integrity")
    district = root / "district.xlsx"
    create_district(district, sample=6)
    record = district_record(district)
    spec = plan_specs(record.result)[0]
    return root, record, spec, SchoolLayout(spec.policy)


def _plan(season, tmp_path: Path, edit: Callable[[openpyxl.Workbook], None] | None = None,
          name: str = "plan.xlsx") -> Path:
    _root, _record, spec, _layout = season
    wb = build_school_plan(spec)
    fill_plan_workbook(wb, spec.policy, demo_plan(spec))
    if edit is not None:
        edit(wb)
    path = tmp_path / name
    save_atomically(wb, path)
    return path


def _check(season, path: Path) -> PlanCheck:
    return check_plan(read_workbook(path), season[1])


def _codes(check: PlanCheck) -> set[tuple[str, str, str, str]]:
    return {(f.severity, f.code, f.sheet, f.cell) for f in check.findings}


def _rezip(path: Path, part: str, change: Callable[[str], str]) -> None:
    with zipfile.ZipFile(path) as z:
        items = [(i, z.read(i.filename)) for i in z.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in items:
            if info.filename == part:
                data = change(data.decode("utf-8")).encode("utf-8")
            z.writestr(info, data)
    path.write_bytes(buf.getvalue())


def test_the_clean_plan_is_accepted(season, tmp_path: Path) -> None:
    check = _check(season, _plan(season, tmp_path))
    assert check.errors == 0, check.findings
    assert check.totals.status == "Balanced"


def test_a_changed_cost_formula_is_formula_changed(season, tmp_path: Path) -> None:
    layout = season[3]
    t = layout.staffing
    cell = t.cell("cost", 0)

    def edit(wb):
        wb[t.sheet][cell] = wb[t.sheet][cell].value.replace(",2)", "*0.5,2)")

    check = _check(season, _plan(season, tmp_path, edit))
    assert ("error", "formula-changed", t.sheet, cell) in _codes(check)
    assert check.status == "rejected"


def test_a_formula_added_outside_the_inputs(season, tmp_path: Path) -> None:
    def edit(wb):
        wb[SS.SUMMARY]["J40"] = "=1+1"

    check = _check(season, _plan(season, tmp_path, edit))
    assert ("error", "formula-added", SS.SUMMARY, "J40") in _codes(check)


def test_a_value_outside_the_plan_lines_is_never_counted_silently(season,
                                                                   tmp_path: Path) -> None:
    layout = season[3]
    t = layout.staffing
    below = f"{t.letter('job_class')}{t.last_row + 4}"

    def edit(wb):
        wb[t.sheet][below] = "TCH"
        wb[t.sheet][f"{t.letter('fte')}{t.last_row + 4}"] = 1

    check = _check(season, _plan(season, tmp_path, edit))
    assert ("error", "outside-plan-area", t.sheet, below) in _codes(check)


def test_start_here_naming_another_school_is_an_identity_error(season, tmp_path: Path) -> None:
    record = season[1]
    other = next(s for s in record.names if s != season[2].school.school_id)

    def edit(wb):
        wb[SS.START][START_FIELDS.cell("school_id")] = other

    check = _check(season, _plan(season, tmp_path, edit))
    assert ("error", "identity-mismatch", SS.START, START_FIELDS.cell("school_id")) in \
        _codes(check)


def test_a_salary_edited_on_the_lists_is_prices_changed_with_the_effect(season,
                                                                        tmp_path: Path) -> None:
    layout, spec = season[3], season[2]
    plan = demo_plan(spec)
    used = plan.positions[0][0]
    i = next(k for k, j in enumerate(spec.policy.job_classes) if j.code == used)
    cell = layout.jobs.cell("average_salary", i)

    def edit(wb):
        wb[SS.LISTS][cell] = spec.policy.job_classes[i].average_salary + 1000

    check = _check(season, _plan(season, tmp_path, edit))
    assert ("error", "prices-changed", SS.LISTS, cell) in _codes(check)
    message = next(f.message for f in check.findings if f.code == "prices-changed")
    assert "differ from the district's by" in message and "$" in message


def test_a_price_no_line_uses_is_only_a_warning(season, tmp_path: Path) -> None:
    layout, spec = season[3], season[2]
    used = {p[0] for p in demo_plan(spec).positions}
    i = next(k for k, j in enumerate(spec.policy.job_classes) if j.code not in used)
    cell = layout.jobs.cell("average_salary", i)

    def edit(wb):
        wb[SS.LISTS][cell] = 1.0

    check = _check(season, _plan(season, tmp_path, edit))
    assert ("warning", "prices-changed", SS.LISTS, cell) in _codes(check)
    assert check.errors == 0


def test_an_allocation_typed_over_is_an_error(season, tmp_path: Path) -> None:
    layout = season[3]
    cell = layout.allocation_total_cell(0)

    def edit(wb):
        wb[SS.ALLOCATION][cell] = 99_999_999

    check = _check(season, _plan(season, tmp_path, edit))
    assert ("error", "allocation-changed", SS.ALLOCATION, cell) in _codes(check)


def test_a_redefined_name_is_names_changed(season, tmp_path: Path) -> None:
    path = _plan(season, tmp_path)
    _rezip(path, "xl/workbook.xml", lambda x: re.sub(
        r'(<definedName name="Allocation_GEN">)[^<]*', r"\1'Allocation'!$E$1", x))
    check = _check(season, path)
    assert "names-changed" in {f.code for f in check.findings}
    assert check.status == "rejected"


def test_a_sheet_name_shadowing_a_workbook_name_is_names_changed(season,
                                                                 tmp_path: Path) -> None:
    path = _plan(season, tmp_path)
    _rezip(path, "xl/workbook.xml", lambda x: x.replace(
        "</definedNames>",
        '<definedName name="FTE_Step" localSheetId="2">\'Staffing\'!$A$1</definedName>'
        "</definedNames>"))
    check = _check(season, path)
    assert "names-changed" in {f.code for f in check.findings}


def test_precision_as_displayed_is_an_error(season, tmp_path: Path) -> None:
    path = _plan(season, tmp_path)

    def calc(x: str) -> str:
        if "<calcPr" in x:
            return re.sub(r"<calcPr", '<calcPr fullPrecision="0"', x, count=1)
        return x.replace("</workbook>", '<calcPr fullPrecision="0"/></workbook>')

    _rezip(path, "xl/workbook.xml", calc)
    check = check_plan(read_workbook(path), season[1])
    assert "precision-as-displayed" in {f.code for f in check.findings}


def test_the_fingerprint_covers_every_list_a_plan_uses(season) -> None:
    import dataclasses

    spec = season[2]
    job = spec.policy.job_classes[0]
    policy = dataclasses.replace(spec.policy, job_classes=(
        dataclasses.replace(job, average_salary=job.average_salary + 1),
        *spec.policy.job_classes[1:]))
    assert dataclasses.replace(spec, policy=policy).fingerprint != spec.fingerprint
    step = dataclasses.replace(spec.policy, fte_step=0.05)
    assert dataclasses.replace(spec, policy=step).fingerprint != spec.fingerprint


def test_prices_changed_is_not_also_called_an_older_fingerprint(season, tmp_path: Path) -> None:
    layout, spec = season[3], season[2]
    used = demo_plan(spec).positions[0][0]
    i = next(k for k, j in enumerate(spec.policy.job_classes) if j.code == used)

    def edit(wb):
        wb[SS.LISTS][layout.jobs.cell("average_salary", i)] = 1.0

    check = _check(season, _plan(season, tmp_path, edit))
    assert "prices-changed" in {f.code for f in check.findings}
    assert "allocation-changed" not in {f.code for f in check.findings}
