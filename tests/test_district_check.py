"""`ssfr-xl allocate` checks the district workbook's formulas by content, not only its saved
values: an edited formula whose old value was kept, a blanked amount, a value typed over a
formula, a formula in an input cell or a file that cannot be compared is a finding, never
"agree". A workbook merely saved by LibreOffice or gnumeric passes.

The expected content is the writer's own (`computed_cells`); the first tests prove it is
exactly what `write_district` puts in the file, so the check cannot drift from the writer.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest
from openpyxl.worksheet.formula import ArrayFormula

from ssfr_xl import district_check
from ssfr_xl.district_book import check_cached_values, read_district, write_district
from ssfr_xl.district_check import (
    SHOWN,
    check_formulas,
    expected_names,
    input_areas,
    normalise_formula,
    same_formula,
)
from ssfr_xl.district_formulas import computed_cells
from ssfr_xl.formula import allocate
from ssfr_xl.layout import DistrictLayout, cell_address
from ssfr_xl.layout import DistrictSheets as S
from ssfr_xl.model import DistrictInputs, JobClass
from ssfr_xl.season import allocate_district
from tests.helpers import read_book, require_ssconvert, sheet_parts
from tests.oracle import assert_district_matches_engine
from tests.test_district_book import RANDOM_CASES, random_case, sample_inputs

N_SCHOOLS = 8


def _layout(inputs: DistrictInputs) -> DistrictLayout:
    return DistrictLayout.of(inputs)


def _cases() -> dict[str, DistrictInputs]:
    cases = {"sample": sample_inputs(N_SCHOOLS)}
    cases.update({f"{name}-{seed}": random_case(name, seed) for name, seed in RANDOM_CASES})
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every case's workbook as ssfr-xl writes it (openpyxl, no saved values)."""
    tmp = tmp_path_factory.mktemp("written")
    paths = {}
    for key, inputs in CASES.items():
        paths[key] = tmp / f"{key}.xlsx"
        write_district(paths[key], inputs)
    return paths


@pytest.fixture(scope="module")
def libreoffice(soffice: str, written: dict[str, Path],
                tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every case opened, recalculated and saved by LibreOffice (one soffice run)."""
    from ssfr_xl.libreoffice import recalculate

    out = recalculate(list(written.values()), tmp_path_factory.mktemp("libreoffice"))
    return dict(zip(written, out, strict=True))


@pytest.fixture(scope="module")
def gnumeric(written: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
             ) -> dict[str, Path]:
    """Every case recalculated and saved by gnumeric's ssconvert; errors on CI (CI is set)
    and skips elsewhere when ssconvert cannot run."""
    from ssfr_xl import gnumeric as gnumeric_

    require_ssconvert()
    out = gnumeric_.recalculate(list(written.values()), tmp_path_factory.mktemp("gnumeric"))
    return dict(zip(written, out, strict=True))


# --- the expected content is the writer's -----------------------------------------------------


@pytest.mark.parametrize("key", list(CASES))
def test_computed_cells_are_exactly_what_the_writer_writes(
        written: dict[str, Path], key: str) -> None:
    inputs = CASES[key]
    layout = _layout(inputs)
    expected = {(s, r, c): v for s, r, c, v in computed_cells(inputs, layout)}
    wb = openpyxl.load_workbook(written[key])
    areas = input_areas(layout)
    formulas, numbers = {}, {}
    for ws in wb.worksheets:
        if ws.title == S.META:  # identity and structure of the workbook, not arithmetic
            continue
        for row in ws.iter_rows():
            for cell in row:
                where = (ws.title, cell.row, cell.column)
                if cell.data_type == "f":
                    formulas[where] = cell.value
                elif isinstance(cell.value, int | float) and not any(
                        s == ws.title and r0 <= cell.row <= r1 and c0 <= cell.column <= c1
                        for s, r0, r1, c0, c1 in areas):
                    numbers[where] = cell.value
    expected_formulas = {k: v for k, v in expected.items() if isinstance(v, str)}
    assert formulas == expected_formulas
    # every number the writer put in a computed cell is listed; the rest are labels' numbers
    # (none) or inputs
    assert {k: v for k, v in expected.items() if not isinstance(v, str)} == numbers


@pytest.mark.parametrize("key", ["sample", *list(CASES)[1:3]])
def test_expected_names_are_the_names_the_writer_defines(
        written: dict[str, Path], key: str) -> None:
    wb = openpyxl.load_workbook(written[key])
    found = {name: next(iter(dn.destinations)) for name, dn in wb.defined_names.items()}
    found = {name: (sheet, ref.replace("$", "")) for name, (sheet, ref) in found.items()}
    assert found == expected_names(_layout(CASES[key]))


def test_input_areas_are_the_unlocked_cells(written: dict[str, Path]) -> None:
    inputs = CASES["sample"]
    layout = _layout(inputs)
    wb = openpyxl.load_workbook(written["sample"])
    areas = input_areas(layout)

    def inside(sheet: str, row: int, col: int) -> bool:
        return any(s == sheet and r0 <= row <= r1 and c0 <= col <= c1
                   for s, r0, r1, c0, c1 in areas)

    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if not cell.protection.locked:
                    assert inside(ws.title, cell.row, cell.column), f"{ws.title}!{cell.coordinate}"
    for sheet, r0, r1, c0, c1 in areas:
        for r in range(r0, min(r1, wb[sheet].max_row) + 1):
            for c in range(c0, c1 + 1):
                cell = wb[sheet].cell(r, c)
                if cell.value is not None:
                    assert cell.data_type != "f", f"{sheet}!{cell.coordinate}"


# --- files that must pass ----------------------------------------------------------------------


@pytest.mark.parametrize("key", list(CASES))
def test_a_workbook_as_written_passes(written: dict[str, Path], key: str) -> None:
    check = check_formulas(written[key], read_district(written[key]))
    assert check.ok, [str(f) for f in check.findings] + check.errors
    inputs = CASES[key]
    assert check.compared == check.expected > len(inputs.schools) * len(inputs.policy.funds)


@pytest.mark.libreoffice
@pytest.mark.parametrize("key", list(CASES))
def test_a_workbook_saved_by_libreoffice_passes(libreoffice: dict[str, Path], key: str) -> None:
    path = libreoffice[key]
    inputs = read_district(path)
    check = check_formulas(path, inputs)
    assert check.ok, [str(f) for f in check.findings[:10]] + check.errors
    report, ok = allocate_district(path)
    assert ok, report
    assert f"Formulas: compared {check.expected:,} of {check.expected:,} formula cells: " \
           "0 changed." in report
    cells = len(inputs.schools) * (len(inputs.policy.components) + len(inputs.policy.funds))
    assert f"Saved values: {cells:,} of {cells:,} cells agree" in report


@pytest.mark.parametrize("key", list(CASES))
def test_a_workbook_saved_by_gnumeric_keeps_its_formulas(gnumeric: dict[str, Path],
                                                         key: str) -> None:
    # gnumeric re-spells STDEVP as _xlfn.STDEV.P, PERCENTILE as _xlfn.PERCENTILE.INC and 0.95
    # as 0.949999999999999999989; none of that changes a formula's meaning.
    path = gnumeric[key]
    check = check_formulas(path, read_district(path))
    assert check.ok, [str(f) for f in check.findings[:10]] + check.errors


@pytest.mark.parametrize("key", list(CASES))
def test_values_saved_by_gnumeric_agree_with_the_engine(gnumeric: dict[str, Path],
                                                        key: str) -> None:
    # A second, independent engine: every computed cell gnumeric shows (amounts, fund totals,
    # per pupil, change against the prior year, Calculation, Policy and Summary figures)
    # equals the engine's, on the sample and on random policies using every construct, with
    # no error value; and `allocate` agrees with the values gnumeric saved.
    path = gnumeric[key]
    assert_district_matches_engine(read_book(path), CASES[key])
    check = check_cached_values(path, allocate(read_district(path)))
    assert check.ok and check.has_cached_values, check.mismatches[:5] or check.error


@pytest.mark.libreoffice
def test_an_undefined_slope_is_n_a_in_both_engines(soffice: str, tmp_path: Path) -> None:
    """gnumeric's SLOPE answers 0, not #DIV/0!, when the need share does not vary: the
    Summary tests the spread first (DEVSQ), so both engines show n/a, as the engine does."""
    from ssfr_xl import gnumeric as gnumeric_
    from ssfr_xl.libreoffice import recalculate

    require_ssconvert()
    inputs = sample_inputs(4)
    inputs = replace(inputs, schools=tuple(replace(s, unduplicated=s.enrollment)
                                           for s in inputs.schools))  # every share is 100%
    write_district(tmp_path / "same-need.xlsx", inputs)
    [lo] = recalculate([tmp_path / "same-need.xlsx"], tmp_path / "libreoffice")
    [gn] = gnumeric_.recalculate([tmp_path / "same-need.xlsx"], tmp_path / "gnumeric")
    assert_district_matches_engine(read_book(lo), inputs)
    assert_district_matches_engine(read_book(gn), inputs)


@pytest.mark.libreoffice
@pytest.mark.parametrize("key", list(CASES))
def test_values_saved_by_libreoffice_agree_with_the_engine(libreoffice: dict[str, Path],
                                                           key: str) -> None:
    # The same cases in the first engine, so both engines are held to the same oracle.
    assert_district_matches_engine(read_book(libreoffice[key]), CASES[key])


# --- hand-made changes -------------------------------------------------------------------------


def _rewrite_sheet(src: Path, out: Path, sheet: str, edit: Callable[[str], str]) -> Path:
    """Copy a workbook with one sheet's XML changed by `edit`."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        part = sheet_parts(zin)[sheet]
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == part:
                changed = edit(data.decode("utf-8"))
                assert changed != data.decode("utf-8"), f"nothing changed in {sheet}"
                data = changed.encode("utf-8")
            zout.writestr(item, data)
    return out


def _cell_xml(address: str) -> re.Pattern[str]:
    return re.compile(rf'<c r="{address}"(?P<attrs>[^>]*?)(?:/>|>(?P<body>.*?)</c>)', re.DOTALL)


def _replace_cell(src: Path, out: Path, sheet: str, address: str,
                  make: Callable[[re.Match[str]], str]) -> Path:
    def edit(xml: str) -> str:
        new, n = _cell_xml(address).subn(make, xml, count=1)
        assert n == 1, f"{sheet}!{address} not found"
        return new
    return _rewrite_sheet(src, out, sheet, edit)


def _style(m: re.Match[str]) -> str:
    found = re.search(r'\ss="\d+"', m.group("attrs"))
    return found.group(0) if found else ""


def _saved_value(m: re.Match[str]) -> str:
    return re.search(r"<v>([^<]*)</v>", m.group("body")).group(1)


@pytest.fixture(scope="module")
def saved(libreoffice: dict[str, Path]) -> Path:
    """The sample district after LibreOffice saved it: formulas and their values."""
    return libreoffice["sample"]


def _amount(inputs: DistrictInputs, code: str, school: int) -> str:
    return _layout(inputs).allocations.cell(f"amount_{code}", school)


@pytest.mark.libreoffice
def test_an_edited_formula_whose_old_value_was_kept_is_found(saved: Path,
                                                               tmp_path: Path) -> None:
    # Excel in manual calculation mode (or a tool that does not recalculate) saves the edited
    # formula with the old value: the saved values still agree, the formula does not.
    inputs = CASES["sample"]
    address = _amount(inputs, "BASE", 1)

    def edit(m: re.Match[str]) -> str:
        return m.group(0).replace("*Base_Rate,Digits_BASE)", "*Base_Rate*1.1,Digits_BASE)")
    edited = _replace_cell(saved, tmp_path / "edited.xlsx", S.ALLOCATIONS, address, edit)
    report, ok = allocate_district(edited)
    assert not ok
    expected = sum(1 for _ in computed_cells(inputs))
    assert f"Formulas: compared {expected:,} of {expected:,} formula cells: 1 changed." in report
    school = inputs.schools[1]
    assert (f"{S.ALLOCATIONS}!{address} (BASE amount, {school.school_id} {school.name}): "
            "formula changed: expected =ROUND(") in report
    assert "*Base_Rate*1.1,Digits_BASE)" in report
    cells = N_SCHOOLS * (len(inputs.policy.components) + len(inputs.policy.funds))
    assert f"Saved values: {cells:,} of {cells:,} cells agree" in report  # the values look fine


@pytest.mark.libreoffice
def test_a_blanked_amount_cell_is_found(saved: Path, tmp_path: Path) -> None:
    inputs = CASES["sample"]
    address = _amount(inputs, "POV", 2)
    edited = _replace_cell(saved, tmp_path / "blank.xlsx", S.ALLOCATIONS, address,
                           lambda m: f'<c r="{address}"{_style(m)}/>')
    report, ok = allocate_district(edited)
    assert not ok
    assert "1 changed" in report
    assert f"{S.ALLOCATIONS}!{address} (POV amount" in report
    assert "formula deleted (the cell is empty)" in report
    assert "1 holds no saved value" in report


@pytest.mark.libreoffice
def test_a_value_typed_over_a_formula_is_found_even_when_it_is_right(
        saved: Path, tmp_path: Path) -> None:
    # The number typed is the one the formula showed: the saved values agree, but the cell
    # will not follow the next change of a rate.
    inputs = CASES["sample"]
    address = _amount(inputs, "EL", 0)
    typed = {}

    def make(m: re.Match[str]) -> str:
        typed["value"] = _saved_value(m)
        return f'<c r="{address}"{_style(m)} t="n"><v>{typed["value"]}</v></c>'
    edited = _replace_cell(saved, tmp_path / "typed.xlsx", S.ALLOCATIONS, address, make)
    report, ok = allocate_district(edited)
    assert not ok
    assert f"{S.ALLOCATIONS}!{address} (EL amount" in report
    assert "formula replaced by a value: expected =ROUND(" in report
    shown = re.search(rf"{S.ALLOCATIONS}!{address} .*found the value (\S+)", report).group(1)
    assert float(shown) == float(typed["value"])
    cells = N_SCHOOLS * (len(inputs.policy.components) + len(inputs.policy.funds))
    assert f"Saved values: {cells:,} of {cells:,} cells agree" in report


def test_a_value_typed_over_a_formula_with_openpyxl_is_found(written: dict[str, Path],
                                                              tmp_path: Path) -> None:
    inputs = CASES["sample"]
    address = _layout(inputs).allocations.cell("total", 3)
    wb = openpyxl.load_workbook(written["sample"])
    wb[S.ALLOCATIONS][address] = 99999.99
    wb.save(tmp_path / "typed.xlsx")
    check = check_formulas(tmp_path / "typed.xlsx", inputs)
    assert not check.ok and check.changed == 1
    [finding] = check.findings
    assert finding.where == f"{S.ALLOCATIONS}!{address}"
    assert finding.what.startswith("Total, all funds, ")
    assert finding.found == "the value 99999.99"


def test_a_formula_in_an_input_cell_is_found(written: dict[str, Path], tmp_path: Path) -> None:
    inputs = CASES["sample"]
    t = _layout(inputs).schools
    wb = openpyxl.load_workbook(written["sample"])
    wb[S.SCHOOLS][t.cell("name", 0)] = "=Allocations!E6"  # read as the name "=Allocations!E6"
    wb[S.SCHOOLS][t.cell("low_grade", 1)] = '="K"'
    wb.save(tmp_path / "input.xlsx")
    check = check_formulas(tmp_path / "input.xlsx", read_district(tmp_path / "input.xlsx"))
    assert not check.ok and check.changed == 0
    found = {f.where: f for f in check.findings}
    assert set(found) == {f"{S.SCHOOLS}!{t.cell('name', 0)}",
                          f"{S.SCHOOLS}!{t.cell('low_grade', 1)}"}
    finding = found[f"{S.SCHOOLS}!{t.cell('name', 0)}"]
    assert finding.problem == "a formula in an input cell (type the value instead)"
    assert finding.found == "=Allocations!E6"
    # the name is the formula now, so the school is named by its ID
    assert finding.what == f"School, {inputs.schools[0].school_id}"


def test_plain_arithmetic_in_an_input_cell_is_allowed(written: dict[str, Path],
                                                      tmp_path: Path) -> None:
    inputs = CASES["sample"]
    layout = _layout(inputs)
    wb = openpyxl.load_workbook(written["sample"])
    wb[S.SCHOOLS][layout.schools.cell("prior_year_allocation", 0)] = "=1000000*2"
    wb[S.POLICY][layout.components.cell("rate", 1)] = "=0.2+0.05"
    wb.save(tmp_path / "sums.xlsx")
    back = read_district(tmp_path / "sums.xlsx")
    assert back.schools[0].prior_year_allocation == 2_000_000
    check = check_formulas(tmp_path / "sums.xlsx", back)
    assert check.ok, [str(f) for f in check.findings]


def test_a_formula_where_the_workbook_has_none_is_found(written: dict[str, Path],
                                                        tmp_path: Path) -> None:
    inputs = CASES["sample"]
    wb = openpyxl.load_workbook(written["sample"])
    wb[S.SUMMARY]["H60"] = "=1+1"  # not an input: even plain arithmetic does not belong
    wb.save(tmp_path / "extra.xlsx")
    check = check_formulas(tmp_path / "extra.xlsx", inputs)
    [finding] = check.findings
    assert (finding.where, finding.problem) == (f"{S.SUMMARY}!H60",
                                                "a formula where the workbook has none")


def test_a_changed_constant_of_the_arithmetic_is_found(written: dict[str, Path],
                                                       tmp_path: Path) -> None:
    # The transition component's 0 flag keeps it out of the formula total it protects.
    inputs = CASES["sample"]
    layout = _layout(inputs)
    trans = next(c for c in inputs.policy.components if c.kind == "transition")
    address = cell_address(layout.counted_row,
                           layout.allocations.col(f"amount_{trans.code}"))
    wb = openpyxl.load_workbook(written["sample"])
    wb[S.ALLOCATIONS][address] = 1
    wb.save(tmp_path / "flag.xlsx")
    check = check_formulas(tmp_path / "flag.xlsx", inputs)
    [finding] = check.findings
    assert finding.where == f"{S.ALLOCATIONS}!{address}"
    assert (finding.problem, finding.expected, finding.found) == (
        "value changed", "the value 0", "the value 1")
    assert finding.what.startswith("in-budget flag of ")


def test_a_redirected_defined_name_is_found(written: dict[str, Path], tmp_path: Path) -> None:
    # Every formula text is intact, but Base_Rate now means another cell.
    inputs = CASES["sample"]
    wb = openpyxl.load_workbook(written["sample"])
    wb.defined_names["Base_Rate"].attr_text = "Policy!$B$40"
    wb.save(tmp_path / "name.xlsx")
    check = check_formulas(tmp_path / "name.xlsx", inputs)
    [finding] = check.findings
    assert finding.where == "defined name Base_Rate"
    assert finding.found == "Policy!B40"


def test_a_sheet_level_name_that_overrides_a_workbook_name_is_found(
        written: dict[str, Path], tmp_path: Path) -> None:
    from openpyxl.workbook.defined_name import DefinedName

    inputs = CASES["sample"]
    wb = openpyxl.load_workbook(written["sample"])
    ws = wb[S.ALLOCATIONS]
    ws.defined_names["base_rate"] = DefinedName("base_rate", attr_text="Policy!$B$40")
    ws.defined_names["My_Notes"] = DefinedName("My_Notes", attr_text="Policy!$B$41")  # harmless
    wb.save(tmp_path / "local.xlsx")
    check = check_formulas(tmp_path / "local.xlsx", inputs)
    [finding] = check.findings
    assert finding.where == "defined name Base_Rate"
    assert finding.problem == f"overrides the workbook's name in every formula of {S.ALLOCATIONS}"
    assert finding.found == "Policy!B40"


def test_an_array_formula_is_found(written: dict[str, Path], tmp_path: Path) -> None:
    inputs = CASES["sample"]
    address = _amount(inputs, "BASE", 0)
    wb = openpyxl.load_workbook(written["sample"])
    ws = wb[S.ALLOCATIONS]
    ws[address] = ArrayFormula(address, ws[address].value)  # same text, entered as an array
    wb[S.SUMMARY]["H61"] = ArrayFormula("H61:H62", "=Schools!A6:A7")
    wb.save(tmp_path / "array.xlsx")
    check = check_formulas(tmp_path / "array.xlsx", inputs)
    found = {f.where: f for f in check.findings}
    assert set(found) == {f"{S.ALLOCATIONS}!{address}", f"{S.SUMMARY}!H61"}
    assert found[f"{S.ALLOCATIONS}!{address}"].problem == "entered as an array or table formula"
    assert "array formula over H61:H62" in found[f"{S.SUMMARY}!H61"].found


def _as_shared(xml: str, column: str, first: int, last: int,
               master_edit: Callable[[str], str] = lambda f: f) -> str:
    """Spell a column's formulas as Excel does after a fill-down: one shared formula."""
    for row in range(first, last + 1):
        cell = _cell_xml(f"{column}{row}")

        def make(m: re.Match[str], row: int = row) -> str:
            formula = re.search(r"<f[^>]*>(.*?)</f>", m.group("body")).group(1)
            if row == first:
                f = f'<f t="shared" ref="{column}{first}:{column}{last}" si="0">' \
                    f"{master_edit(formula)}</f>"
            else:
                f = '<f t="shared" si="0"/>'
            return re.sub(r"<f[^>]*>.*?</f>", f, m.group(0))
        xml = cell.sub(make, xml, count=1)
    return xml


@pytest.mark.libreoffice
def test_shared_formulas_are_read_as_excel_reads_them(saved: Path, tmp_path: Path) -> None:
    inputs = CASES["sample"]
    t = _layout(inputs).allocations
    column = t.letter("amount_BASE")
    args = (column, t.first_row, t.last_row)
    shared = _rewrite_sheet(saved, tmp_path / "shared.xlsx", S.ALLOCATIONS,
                            lambda xml: _as_shared(xml, *args))
    check = check_formulas(shared, inputs)
    assert check.ok, [str(f) for f in check.findings]

    # the master edited: every row that follows it computes the edited formula
    edited = _rewrite_sheet(saved, tmp_path / "shared-edited.xlsx", S.ALLOCATIONS,
                            lambda xml: _as_shared(xml, *args,
                                                   lambda f: f.replace("*Base_Rate", "*1.1")))
    check = check_formulas(edited, inputs)
    assert check.changed == N_SCHOOLS
    assert {f.where for f in check.findings} == {
        f"{S.ALLOCATIONS}!{column}{r}" for r in range(t.first_row, t.last_row + 1)}


def test_a_list_row_appended_by_hand_is_welcome(written: dict[str, Path],
                                                tmp_path: Path) -> None:
    # read_district reads rows typed below a list; they carry no average-cost formula.
    inputs = CASES["sample"]
    t = _layout(inputs).job_classes
    wb = openpyxl.load_workbook(written["sample"])
    ws = wb[S.JOB_CLASSES]
    row = t.last_row + 1
    for key, value in (("code", "TUTOR"), ("title", "Tutor"), ("object_code", "2100"),
                       ("average_salary", 41000), ("benefits_rate", 0.3)):
        ws.cell(row, t.col(key), value)
    wb.save(tmp_path / "appended.xlsx")
    back = read_district(tmp_path / "appended.xlsx")
    assert back.policy.job_classes[-1] == JobClass("TUTOR", "Tutor", "2100", 41000, 0.3)
    check = check_formulas(tmp_path / "appended.xlsx", back)
    assert check.ok, [str(f) for f in check.findings]

    ws.cell(row, t.col("average_cost"), "=D4*2")  # a formula there must be the right one
    wb.save(tmp_path / "appended-wrong.xlsx")
    check = check_formulas(tmp_path / "appended-wrong.xlsx", back)
    [finding] = check.findings
    assert finding.where == f"{S.JOB_CLASSES}!{t.letter('average_cost')}{row}"
    assert finding.problem == "formula changed"


def test_a_missing_sheet_is_not_compared_and_says_so(written: dict[str, Path],
                                                     tmp_path: Path) -> None:
    inputs = CASES["sample"]
    wb = openpyxl.load_workbook(written["sample"])
    del wb[S.SUMMARY]
    wb.save(tmp_path / "no-summary.xlsx")
    check = check_formulas(tmp_path / "no-summary.xlsx", inputs)
    assert not check.ok
    n_summary = sum(1 for s, *_ in computed_cells(inputs) if s == S.SUMMARY)
    assert check.compared == check.expected - n_summary
    assert f"sheet {S.SUMMARY} is missing, so its {n_summary:,} formula cells were not " \
           "compared" in check.errors
    report, ok = allocate_district(tmp_path / "no-summary.xlsx")
    assert not ok
    assert f"Formulas: compared {check.compared:,} of {check.expected:,} formula cells" in report
    assert f"Not checked: sheet {S.SUMMARY} is missing" in report


def test_a_sheet_that_cannot_be_read_is_a_finding(written: dict[str, Path],
                                                  tmp_path: Path) -> None:
    # read_district reads only the input sheets, so a damaged Allocations part gets this far;
    # both checks must say they could not compare it, never "agree".
    broken = _rewrite_sheet(written["sample"], tmp_path / "broken.xlsx", S.ALLOCATIONS,
                            lambda xml: xml[: len(xml) // 2])
    read_district(broken)
    report, ok = allocate_district(broken)
    assert not ok
    assert f"Not checked: sheet {S.ALLOCATIONS} could not be read" in report
    assert "Saved values: could not be compared" in report
    assert "agree" not in report.split("Formulas:")[1]


def test_an_error_while_comparing_is_a_finding(written: dict[str, Path],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(district_check, "_compare", broken)
    path = written["sample"]
    check = check_formulas(path, read_district(path))
    assert not check.ok
    assert check.errors == ["the formula check failed (RuntimeError: simulated failure)"]
    report, ok = allocate_district(path)
    assert not ok
    assert "Not checked: the formula check failed (RuntimeError: simulated failure)" in report


def test_an_unreadable_file_is_a_finding(tmp_path: Path) -> None:
    path = tmp_path / "gone.xlsx"
    path.write_bytes(b"not a zip")
    inputs = CASES["sample"]
    check = check_formulas(path, inputs)
    assert not check.ok and check.compared == 0 and check.expected > 0
    assert check.errors[0].startswith("the file's formulas could not be read")
    cached = check_cached_values(path, allocate(inputs))
    assert not cached.ok and cached.error


def test_many_findings_are_counted_beyond_those_shown(written: dict[str, Path],
                                                      tmp_path: Path) -> None:
    inputs = CASES["sample"]
    t = _layout(inputs).allocations
    wb = openpyxl.load_workbook(written["sample"])
    ws = wb[S.ALLOCATIONS]
    keys = [c.key for c in t.columns if c.key.startswith("amount_")]
    edited = 0
    for r in range(t.first_row, t.last_row + 1):
        for key in keys:
            ws.cell(r, t.col(key)).value = None
            edited += 1
    wb.save(tmp_path / "cleared.xlsx")
    report, ok = allocate_district(tmp_path / "cleared.xlsx")
    assert not ok
    assert f"{edited:,} changed" in report
    shown = [line for line in report.splitlines() if line.startswith(f"  {S.ALLOCATIONS}!")]
    assert len(shown) == SHOWN
    assert f"  ... and {edited - SHOWN:,} more" in report


def test_a_clean_report_reads_well(written: dict[str, Path]) -> None:
    inputs = CASES["sample"]
    report, ok = allocate_district(written["sample"])
    assert ok
    expected = sum(1 for _ in computed_cells(inputs))
    lines = report.splitlines()
    assert lines[-2] == (f"Formulas: compared {expected:,} of {expected:,} formula cells: "
                         "0 changed. The workbook holds the formulas ssfr-xl wrote.")
    assert lines[-1].startswith("Saved values: none; the file holds no calculated values yet")


# --- normalising --------------------------------------------------------------------------------


@pytest.mark.parametrize(("written_", "saved_"), [
    ("=ROUND('Calculation'!J6*Base_Rate,2)", "=ROUND(Calculation!J6*Base_Rate,2)"),
    ("=SUM('Job Classes'!$D$4:$D$9)", "=SUM('JOB CLASSES'!D4:D9)"),
    ("=IF(A1>0, B1, 0)", "=if( a1 > 0 ,b1,0 )"),
    ("=IFERROR(STDEVP(X6:X11)/AVERAGE(X6:X11),0)",
     "=IFERROR(_xlfn.STDEV.P(X6:X11)/AVERAGE(X6:X11),0)"),
    ("=PERCENTILE(X6:X11,0.95)", "=_xlfn.PERCENTILE.INC(X6:X11,0.949999999999999999989)"),
    ("=ROUND(A1,2)", "=ROUND(A1,2.0)"),
    ("=ROUND(SUM(P11:P11),2)", "=ROUND(SUM(P11),2)"),  # gnumeric drops one-cell ranges
    ('=SUMIF($E$4:$Q$4,"GEN",E6:Q6)', '=SUMIF(E4:Q4, "GEN", E6:Q6)'),
])
def test_spellings_with_the_same_meaning_normalise_alike(written_: str, saved_: str) -> None:
    assert same_formula(written_, saved_)
    assert normalise_formula(written_) == normalise_formula(saved_)


@pytest.mark.parametrize(("written_", "saved_"), [
    ('=SUMIF(E4:Q4,"GEN",E6:Q6)', '=SUMIF(E4:Q4,"gen",E6:Q6)'),  # text criteria are exact
    ('=IF(A1="fixed",1,0)', '=IF(A1="fixed ",1,0)'),  # a space inside a string literal
    ("=ROUND(A1,2)", "=ROUND(A1,3)"),
    ("=ROUND(A1*B1,2)", "=ROUND(A1*B2,2)"),
    ("=ROUND(Calculation!J6,2)", "=ROUND(Allocations!J6,2)"),
    ("=SUM(A1:B2)", "=SUM(A1:B2 A1:B2)"),  # the intersection operator is a space
    ("=MIN(A1,B1)", "=MAX(A1,B1)"),
    ("=STDEVP(A1:A9)", "=STDEV(A1:A9)"),
])
def test_spellings_with_another_meaning_differ(written_: str, saved_: str) -> None:
    assert not same_formula(written_, saved_)


def test_row_marks_do_not_hide_a_changed_row() -> None:
    comparer = district_check._Comparer()
    assert comparer.same("=ROUND('Calculation'!J7*Base_Rate,2)",
                         "=ROUND(Calculation!J7*Base_Rate,2)", 7)
    assert not comparer.same("=ROUND('Calculation'!J7*Base_Rate,2)",
                             "=ROUND(Calculation!J8*Base_Rate,2)", 7)
    assert not comparer.same("=Schools!A7", "=Schools!A17", 7)
    assert not comparer.same("=Schools!A7", "=Schools!A77", 7)
    assert comparer.same("=Schools!$A$17", "=Schools!A17", 17)


def test_inputs_edited_in_the_workbook_need_no_new_formulas(written: dict[str, Path],
                                                           tmp_path: Path) -> None:
    # Changing rates, counts and names changes no formula: the check compares against the
    # formulas written for the inputs the file now holds.
    inputs = CASES["sample"]
    layout = _layout(inputs)
    wb = openpyxl.load_workbook(written["sample"])
    wb[S.SCHOOLS][layout.schools.cell("name", 2)] = "Renamed Academy"
    wb[S.POLICY][layout.components.cell("rate", 2)] = 123.45
    wb.save(tmp_path / "inputs.xlsx")
    back = read_district(tmp_path / "inputs.xlsx")
    assert back.schools[2].name == "Renamed Academy"
    assert back != inputs
    check = check_formulas(tmp_path / "inputs.xlsx", back)
    assert check.ok, [str(f) for f in check.findings]


def test_a_policy_without_plan_menus_passes(tmp_path: Path) -> None:
    # no job classes, services, objects or goals: those lists have no rows and no names
    inputs = sample_inputs(3)
    policy = replace(inputs.policy, job_classes=(), services=(), objects=(), goals=())
    inputs = replace(inputs, policy=policy)
    write_district(tmp_path / "d.xlsx", inputs)
    check = check_formulas(tmp_path / "d.xlsx", read_district(tmp_path / "d.xlsx"))
    assert check.ok, [str(f) for f in check.findings] + check.errors


def test_libreoffice_logical_calls_read_as_the_constants() -> None:
    # LibreOffice saves FALSE as FALSE(): the same formula, not a changed one.
    assert same_formula('=IF(VLOOKUP(Fund_GEN,Funds_Table,3,FALSE)="No",1,0)',
                        '=IF(VLOOKUP(Fund_GEN,Funds_Table,3,FALSE())="No",1,0)')
    assert not same_formula("=VLOOKUP(A1,B1:C2,2,FALSE)", "=VLOOKUP(A1,B1:C2,2,TRUE())")
