"""LBMA precious-metal benchmark prices (gold, silver, platinum, palladium) into raw.lbma_prices."""

from altflow.sources import lbma
from assets.ingest.factory import IngestSpec, ingest_asset

SPEC = IngestSpec(
    lbma.Lbma,
    {
        lbma.TABLE: "LBMA benchmark prices from the public JSON price files "
        "(prices.lbma.org.uk/json/<file>.json: gold AM/PM, silver, platinum AM/PM, palladium "
        "AM/PM): one row per file and London business day, USD/GBP/EUR per troy ounce; "
        "holidays (null or 0) are null.",
    },
    name="lbma_raw",
)
lbma_raw = ingest_asset(SPEC)
