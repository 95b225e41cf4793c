"""Curated market facts (size, liquidity, private markets) and the asset registry."""

from altflow.sources import reference
from assets.ingest.factory import IngestSpec, ingest_asset

SPEC = IngestSpec(
    reference.Reference,
    {
        reference.FACTS_TABLE: "Curated reference facts (snapshot/reference/market_facts.csv): "
        "above-ground stocks, holdings and average daily trading volume of the metals, "
        "private-market AUM, dry powder, fundraising and deal volume, each with unit, as-of "
        "date, source, URL and source quality; explicit NULLs carry a note. No live API "
        "exists: the curated file is read in both modes.",
        reference.ASSETS_TABLE: "altflow's asset registry (contract asset ids): asset class, "
        "pricing (market or appraisal) and trading days per year used to annualise "
        "volatility.",
    },
    name="reference_raw",
)
reference_raw = ingest_asset(SPEC)
