"""ICI quarterly retirement-market figures into raw.ici_retirement_assets."""

from altflow.sources import ici
from assets.ingest.factory import IngestSpec, ingest_asset

SPEC = IngestSpec(
    ici.Ici,
    {
        ici.RAW_TABLE: "ICI 'Quarterly Retirement Market Data': US total retirement assets by "
        "type (IRAs, DC plans, private/state and local/federal DB, annuities) and DC plan "
        "assets by type (401(k), 403(b), 457, TSP, other private DC), long form in US dollars, "
        "one row per figure and release (every vintage kept) with its release date, as-of date "
        "and the URL it was read from. Live: the latest release workbook ret_YY_qN_data.xls; "
        "snapshot: figures stated in ICI's release texts and public copies of its workbook.",
    },
    name="ici_raw",
)
ici_retirement_assets = ingest_asset(SPEC)
