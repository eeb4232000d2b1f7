"""Where rosters come from: a roster CSV, CDE's CUPC file, or the synthetic sample district."""

from ssfr_xl.sources.cde import read_cde_cupc
from ssfr_xl.sources.roster import read_roster_csv, write_roster_csv
from ssfr_xl.sources.sample import sample_district

__all__ = ["read_cde_cupc", "read_roster_csv", "sample_district", "write_roster_csv"]
