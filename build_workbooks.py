"""Build the sample district's workbooks into ./build: the district formula workbook, one plan
workbook per school, and the allocation CSV. Run: python build_workbooks.py"""

from pathlib import Path

from ssfr_xl.season import allocate_district, build_plans, create_district

out = Path("build")
out.mkdir(exist_ok=True)  # ssfr-xl writes only into folders that exist
district = out / "sample-district.xlsx"
print(create_district(district, sample=40, force=True))
print(allocate_district(district, out / "allocations.csv")[0].splitlines()[-2])
print(build_plans(district, out / "plans", force=True))
