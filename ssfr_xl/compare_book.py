"""The comparison workbook and CSV of `ssfr-xl compare` (numbers from compare.py).

Sheets: Summary (what each scenario changes, winners and losers, district totals), Equity
(the statistics side by side), Schools (each school's total today and under each scenario:
change in dollars, per pupil and percent, winner or loser), Components (the same per school
and component), Winners and losers (the list), Chart (change per pupil against the share of
high-need pupils, one series per scenario). The CSV holds the Schools and Components figures
as one long table.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import replace
from pathlib import Path

from . import styles
from .compare import WIN_LOSS_MARGIN, Comparison, Run, change_share
from .equity import EquityStats
from .exports import amount, write_csv, xlsx_value
from .money import excel_round, money_sum
from .table_book import Column, TableSheet, table_workbook, write_table_sheet

MONEY = Column("", styles.MONEY)
SHARE = Column("", styles.SHARE)
COUNT = Column("", styles.COUNT)
TEXT = Column("")

MARGIN_NOTE = (f"A school is a winner (loser) when its total, all funds, changes by more than "
               f"${WIN_LOSS_MARGIN:.2f} up (down); smaller changes are rounding, shown as "
               "Unchanged.")

#: Series colours of the chart, one per scenario (cycled).
COLOURS = ("#1F6FB2", "#C0504D", "#4F8A3C", "#8064A2", "#E08A1E", "#2C9AA0")


def _col(label: str, like: Column) -> Column:
    return Column(label, like.number_format, like.whole_format)


def _pp(value: float, pupils: float) -> float | None:
    return excel_round(value / pupils) if pupils > 0 else None


def _changes(run: Run, today: Run) -> str:
    assert run.scenario is not None
    return "; ".join(f"{p.label}: {p.today:g} -> {v:g}"
                     for p, v in run.scenario.changes(today.inputs)) or "nothing"


def summary_table(c: Comparison) -> TableSheet:
    """One row per scenario (today first)."""
    today = c.today
    columns = [_col("Scenario", TEXT), _col("File", TEXT), _col("Changes", TEXT),
               _col("Base rate in use", Column("", styles.PRECISE_RATE)),
               _col("Total, all funds", MONEY), _col("Change", MONEY),
               _col("Winners", COUNT), _col("Losers", COUNT), _col("Unchanged", COUNT),
               _col("Biggest gain", MONEY), _col("Biggest loss", MONEY)]
    total = money_sum(today.totals)
    rows: list[list[object]] = [["Today", "", "the district workbook's policy",
                                 today.result.base_rate, total, None, None, None, None, None,
                                 None]]
    for k, run in enumerate(c.runs):
        assert run.scenario is not None
        winners, losers = c.winners(k), c.losers(k)
        scn_total = money_sum(run.totals)
        rows.append([run.name, run.scenario.source, _changes(run, today), run.result.base_rate,
                     scn_total, excel_round(scn_total - total), len(winners), len(losers),
                     len(c.schools) - len(winners) - len(losers),
                     winners[0].change if winners else None,
                     losers[0].change if losers else None])
    return TableSheet("Summary", columns, rows, title="Scenarios compared with today",
                      subtitle=MARGIN_NOTE)


EQUITY_ROWS = (
    ("Schools with pupils", "schools", COUNT),
    ("Per pupil: coefficient of variation", "cv", Column("", "0.000")),
    ("McLoone index (below the median)", "mcloone", Column("", "0.000")),
    ("Verstegen index (above the median)", "verstegen", Column("", "0.000")),
    ("Federal range ratio (P95 - P5) / P5", "range_ratio", Column("", "0.000")),
    ("Per pupil more from 0% to 100% high-need pupils (slope)", "need_slope", MONEY),
    ("Correlation of per pupil with need share", "need_correlation", Column("", "0.00")),
)


def equity_table(c: Comparison) -> TableSheet:
    """The equity statistics of today and each scenario, side by side (a row each)."""
    columns = [_col("Scenario", TEXT), *(_col(label, fmt) for label, _key, fmt in EQUITY_ROWS)]
    rows = []
    for r in (c.today, *c.runs):
        stats: EquityStats | None = r.equity
        row: list[object] = [r.name]
        for _label, key, _fmt in EQUITY_ROWS:
            value = None if stats is None else getattr(stats, key)
            row.append("n/a" if value is None else value)
        rows.append(row)
    return TableSheet("Equity", columns, rows, title="Equity statistics, today and under "
                      "each scenario", subtitle="Per-pupil funding, all funds, over schools "
                      "with pupils (as the district workbook's Summary sheet computes them).")


def schools_table(c: Comparison) -> TableSheet:
    """Per school: today's total and each scenario's change."""
    today = c.today
    columns = [_col("School ID", TEXT), _col("School", TEXT), _col("Level", TEXT),
               _col("Pupils", COUNT), _col("High-need share", SHARE),
               _col("Today: total", MONEY), _col("Today: per pupil", MONEY)]
    for run in c.runs:
        columns += [_col(f"{run.name}: total", MONEY), _col(f"{run.name}: change", MONEY),
                    _col(f"{run.name}: change per pupil", MONEY),
                    _col(f"{run.name}: change %", SHARE), _col(f"{run.name}: result", TEXT)]
    field = today.inputs.district.per_pupil_enrollment
    per_run = [c.school_changes(k) for k in range(len(c.runs))]
    rows = []
    for i, s in enumerate(c.schools):
        row: list[object] = [s.school_id, s.name, s.level, s.count(field),
                             s.unduplicated / s.enrollment if s.enrollment else 0.0,
                             today.totals[i], today.per_pupil[i]]
        for changes in per_run:
            ch = changes[i]
            row += [ch.scenario, ch.change, ch.change_per_pupil, ch.change_share, ch.verdict]
        rows.append(row)
    return TableSheet("Schools", columns, rows, title="Each school's total, all funds",
                      subtitle=MARGIN_NOTE)


def components_table(c: Comparison) -> TableSheet:
    """Per school and component: today's amount and each scenario's."""
    columns = [_col("School ID", TEXT), _col("School", TEXT), _col("Component", TEXT),
               _col("Fund", TEXT), _col("Today", MONEY), _col("Today per pupil", MONEY)]
    for run in c.runs:
        columns += [_col(f"{run.name}", MONEY), _col(f"{run.name}: change", MONEY),
                    _col(f"{run.name}: change per pupil", MONEY),
                    _col(f"{run.name}: change %", SHARE)]
    rows = [component_row(c, i, j) for i, j in c.component_rows()]
    return TableSheet("Components", columns, [r[:6] + sum((x[:4] for x in r[6]), [])
                                              for r in rows],
                      title="Each school's amount by component")


def component_row(c: Comparison, i: int, j: int) -> list:
    """[id, name, component, fund, today, today per pupil, [per scenario: amount, change,
    change per pupil, change share]] of one school x component."""
    today = c.today
    s = c.schools[i]
    comp = today.result.components[j].component
    pupils = s.count(today.inputs.district.per_pupil_enrollment)
    t = today.amount(j, i)
    scenarios = []
    for run in c.runs:
        v = run.amount(j, i)
        pp_t, pp_v = _pp(t, pupils), _pp(v, pupils)
        scenarios.append([v, excel_round(v - t),
                          None if pp_t is None or pp_v is None else excel_round(pp_v - pp_t),
                          change_share(t, v)])
    return [s.school_id, s.name, comp.code, comp.fund, t, _pp(t, pupils), scenarios]


def winners_losers_table(c: Comparison) -> TableSheet:
    """Every winner and loser of every scenario, largest change first."""
    columns = [_col("Scenario", TEXT), _col("Result", TEXT), _col("School ID", TEXT),
               _col("School", TEXT), _col("Today", MONEY), _col("Scenario total", MONEY),
               _col("Change", MONEY), _col("Change per pupil", MONEY), _col("Change %", SHARE)]
    rows = []
    for k, run in enumerate(c.runs):
        for group in (c.winners(k), c.losers(k)):
            rows += [[run.name, ch.verdict, ch.school.school_id, ch.school.name, ch.today,
                      ch.scenario, ch.change, ch.change_per_pupil, ch.change_share]
                     for ch in group]
    return TableSheet("Winners and losers", columns, rows,
                      title="Winners and losers, by scenario", subtitle=MARGIN_NOTE)


def write_compare_book(path: Path, c: Comparison,
                       created: _dt.datetime | None = None) -> None:
    """Write compare.xlsx (atomically)."""
    district = c.today.inputs.district.name
    schools = schools_table(c)
    with table_workbook(path, created) as book:
        for table in (summary_table(c), equity_table(c), schools):
            write_table_sheet(book, table, district)
        for table in (components_table(c), winners_losers_table(c)):
            write_table_sheet(book, table, district)
        ws = book.add_worksheet("Chart")
        from .xlsxw import put

        put(ws, 1, 1, "Change per pupil against the share of high-need pupils",
            book.fmt(styles.TITLE))
        put(ws, 2, 1, "Each point is a school; a need-based change rises to the right. "
            + MARGIN_NOTE, book.fmt(styles.NOTE))
        if c.schools and c.runs:
            ws.insert_chart("A4", _chart(book, c, schools))
        ws.set_landscape()
        ws.fit_to_pages(1, 1)


#: What XlsxWriter takes for a reference to a cell in a series name (chart._process_names).
_LOOKS_LIKE_REFERENCE = re.compile(r"^=?[^!]+!\$?[A-Z]+\$?\d+")


def chart_name(name: str) -> str:
    """A series name XlsxWriter writes as the text it is: a name that looks like a reference
    to a cell (=Sheet!A1, "Up!B2") would be written as one, so a zero-width space follows each
    "!" there (it shows the same)."""
    text = str(xlsx_value(name))[:255]
    if _LOOKS_LIKE_REFERENCE.match(text):
        text = text.replace("!", "!\u200b")
    return text


def _chart(book, c: Comparison, schools: TableSheet):
    chart = book.add_chart({"type": "scatter"})
    first = schools.header_row  # 0-based row of the first school
    last = first + len(c.schools) - 1
    x_col = 4  # High-need share
    for k, run in enumerate(c.runs):
        y_col = 7 + 5 * k + 2  # that scenario's change per pupil
        colour = COLOURS[k % len(COLOURS)]
        chart.add_series({
            "name": chart_name(run.name),
            "categories": ["Schools", first, x_col, last, x_col],
            "values": ["Schools", first, y_col, last, y_col],
            "marker": {"type": "circle", "size": 6, "fill": {"color": colour},
                       "border": {"color": colour}},
        })
    chart.set_title({"name": "Change per pupil vs share of high-need pupils",
                     "name_font": {"size": 12, "bold": True}})
    chart.set_x_axis({"name": "Unduplicated (high-need) share of enrollment",
                      "num_format": "0%", "label_position": "low"})
    chart.set_y_axis({"name": "Change per pupil (scenario - today)", "num_format": '"$"#,##0',
                      "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}}})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 760, "height": 420})
    return chart


CSV_HEADER = ("scenario", "school_id", "school_name", "component", "fund", "today",
              "scenario_amount", "change", "today_per_pupil", "scenario_per_pupil",
              "change_per_pupil", "change_percent", "result")


def csv_rows(c: Comparison) -> list[list[object]]:
    """The comparison as one long table: per scenario, each school's total (component TOTAL,
    fund all, with its result) then each of its components."""
    rows: list[list[object]] = []
    field = c.today.inputs.district.per_pupil_enrollment

    def pct(share: float | None) -> object:
        return None if share is None else round(share * 100, 4)

    def money(v: float | None) -> object:
        return None if v is None else amount(v)

    for k, run in enumerate(c.runs):
        for i, ch in enumerate(c.school_changes(k)):
            s = ch.school
            rows.append([run.name, s.school_id, s.name, "TOTAL", "all", amount(ch.today),
                         amount(ch.scenario), amount(ch.change), money(ch.today_per_pupil),
                         money(ch.scenario_per_pupil), money(ch.change_per_pupil),
                         pct(ch.change_share), ch.verdict])
            pupils = s.count(field)
            for j, r in enumerate(c.today.result.components):
                t, v = c.today.amount(j, i), run.amount(j, i)
                pp_t, pp_v = _pp(t, pupils), _pp(v, pupils)
                rows.append([run.name, s.school_id, s.name, r.component.code,
                             r.component.fund, amount(t), amount(v), amount(v - t),
                             money(pp_t), money(pp_v),
                             None if pp_t is None or pp_v is None else amount(pp_v - pp_t),
                             pct(change_share(t, v)), ""])
    return rows


def write_compare_csv(path: Path, c: Comparison) -> None:
    """Write compare.csv (atomically)."""
    write_csv(path, CSV_HEADER, csv_rows(c))


def compare_district(district: Path, scenarios: list[Path], out: Path,
                     csv_path: Path | None = None) -> tuple[Comparison, list[str]]:
    """`ssfr-xl compare`: read the district workbook and the scenario files, compare, write
    the workbook (and the CSV); returns the comparison and the summary lines."""
    from .compare import compare, summary_lines
    from .district_reader import read_district
    from .exports import check_output_places, require_folder
    from .scenario import TODAY, load_scenario

    inputs_files = [("the district workbook", Path(district)),
                    *(("the scenario file", Path(s)) for s in scenarios)]
    check_output_places([("--out", Path(out)), ("--csv", csv_path)], [], inputs_files)
    require_folder(Path(out), "--out")
    if csv_path is not None:
        require_folder(Path(csv_path), "--csv")
    inputs = read_district(district)
    loaded = [load_scenario(s, inputs) for s in scenarios]
    names = [s.name for s in loaded]
    for i, name in enumerate(names):
        # two files with one name, or a scenario called Today: told apart by their place
        if name in names[:i] or name.casefold() == TODAY.casefold():
            loaded[i] = replace(loaded[i], name=f"{name} ({i + 1})")
    comparison = compare(inputs, loaded)
    write_compare_book(Path(out), comparison)
    lines = summary_lines(comparison)
    written = [str(out)]
    if csv_path is not None:
        write_compare_csv(Path(csv_path), comparison)
        written.append(str(csv_path))
    lines.append("Wrote " + " and ".join(written))
    return comparison, lines
