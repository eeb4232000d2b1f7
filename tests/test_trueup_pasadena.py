"""The README's true-up demo on the real data: Pasadena Unified (CDE district 64881) with CDE's
2023-24 CUPC as the spring projection and 2024-25 as the fall actuals.

Spring plans are filled and returned, `trueup` recomputes on 2024-25, `build --amend` writes
amended plans, the principals trim those that are over, and they validate and consolidate
with the amended allocations. Skipped when ../shared/data is absent (required in CI).
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest

from tests.helpers import SHARED_DATA
from tests.test_trueup import invoke

pytestmark = [pytest.mark.shared_data]

DATA = SHARED_DATA / "cde"
SPRING, FALL = DATA / "cupc2324-k12.xlsx", DATA / "cupc2425-k12.xlsx"
DEMO = Path(__file__).resolve().parents[1] / "docs" / "trueup_demo.py"


def demo_module():
    spec = importlib.util.spec_from_file_location("trueup_demo", DEMO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    missing = [p for p in (SPRING, FALL) if not p.is_file()]
    if missing:
        pytest.skip(f"real CDE data not found: {', '.join(map(str, missing))}")
    tmp = tmp_path_factory.mktemp("pasadena-trueup")
    district = tmp / "pasadena.xlsx"
    r = invoke("init", district, "--cde", SPRING, "--district", "64881", "--fiscal-year",
               "2024-25", "--budget-per-pupil", "9800", "--deadline", "2024-03-15",
               "--contact", "Budget Office, (626) 396-3600")
    assert r.exit_code == 0, r.output
    assert invoke("build", district, "--out", tmp / "plans").exit_code == 0
    demo = demo_module()
    assert demo.fill(tmp / "plans", tmp / "returned", district) == 23
    trueup = invoke("trueup", district, "--cde", FALL, "--out", tmp / "trueup.xlsx", "--csv",
                    tmp / "trueup.csv")
    assert trueup.exit_code == 0, trueup.output
    amend = invoke("build", district, "--amend", tmp / "trueup.xlsx", "--returned",
                   tmp / "returned", "--out", tmp / "amended")
    assert amend.exit_code == 0, amend.output
    trimmed = demo.revise(tmp / "amended", tmp / "revised", district, tmp / "trueup.xlsx")
    return {"tmp": tmp, "district": district, "trueup": trueup, "amend": amend,
            "trimmed": trimmed}


def test_trueup_lists_every_school_and_reconciles(season: dict) -> None:
    out = season["trueup"].output
    with (season["tmp"] / "trueup.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 23 * 4  # 23 district-run schools x 4 funds
    schools = {r["school_id"] for r in rows}
    assert len(schools) == 23 and all(sid in out for sid in schools)
    altadena = next(r for r in rows if r["school_id"] == "19648816021505" and r["fund"] == "GEN")
    # enrollment 488 -> 527: the GEN increase is paid in full
    assert altadena["rule"] == "increase" and altadena["adjustment"] == altadena["raw_change"]
    for fund in ("GEN", "LCFF-SC", "TITLE1", "EQM"):
        mine = [r for r in rows if r["fund"] == fund]
        cents = {k: sum(round(float(r[k]) * 100) for r in mine)
                 for k in ("spring_allocation", "fall_recomputed", "withheld_by_rule",
                           "adjustment")}
        assert cents["adjustment"] == (cents["fall_recomputed"] - cents["spring_allocation"]
                                       - cents["withheld_by_rule"]), fund
    assert out.count("adjustments = fall - spring - withheld: OK") == 4
    # the Equity Multiplier is held harmless by the shipped rules: never a negative adjustment
    assert all(float(r["adjustment"]) >= 0 for r in rows if r["fund"] == "EQM")


def test_amended_plans_validate_and_consolidate(season: dict) -> None:
    tmp = season["tmp"]
    assert season["amend"].output.count("amendment 1:") == 23
    assert season["trimmed"] > 0  # reductions left some plans over: their principals trimmed
    r = invoke("validate", tmp / "amended", "--district", season["district"], "--amend",
               tmp / "trueup.xlsx", "--format", "csv")
    codes = {row["code"] for row in csv.DictReader(r.output.splitlines())}
    assert codes <= {"over-allocation", "unspent-funds", "ignored-entry"}  # nothing else
    r = invoke("validate", tmp / "revised", "--district", season["district"], "--amend",
               tmp / "trueup.xlsx")
    assert r.exit_code == 0, r.output
    r = invoke("consolidate", season["district"], tmp / "revised", "--amend",
               tmp / "trueup.xlsx", "--out", tmp / "totals.xlsx", "--exports", tmp / "exports")
    assert r.exit_code == 0, r.output
    assert "23 schools: " in r.output and "0 rejected, 0 missing" in r.output
    with (tmp / "exports" / "reconciliation.csv").open(encoding="utf-8") as f:
        rec = {row["check"]: row for row in csv.DictReader(f)}
    assert rec["School allocations: total"]["result"] == "OK"
    with (tmp / "trueup.csv").open(encoding="utf-8") as f:
        adjustments = sum(round(float(row["adjustment"]) * 100) for row in csv.DictReader(f))
    shown = rec["Fall true-up adjustments in the allocations (--amend)"]["value"]
    assert round(float(shown) * 100) == adjustments
