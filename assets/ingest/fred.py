"""FRED series (CPI, CBBTCUSD, Z.1 pension series) and the FRED series registry."""

from altflow.sources import fred
from assets.ingest.factory import IngestSpec, ingest_asset

SPEC = IngestSpec(
    fred.Fred,
    {
        fred.OBSERVATIONS_TABLE: "Every FRED series in altflow's registry (CPI, Coinbase "
        "bitcoin, Federal Reserve Z.1 pension series), as published by FRED's keyless "
        "fredgraph.csv endpoint: one row per series and observation date, value in the "
        "series' own units.",
        fred.REGISTRY_TABLE: "altflow's FRED series registry (altflow.sources.fred.SERIES): "
        "series id, Z.1 code, altflow series and measure, units, frequency, USD factor and "
        "sign rule. The Z.1 staging model joins it, so what is fetched and what is mapped "
        "are one list.",
    },
    name="fred_raw",
)
fred_raw = ingest_asset(SPEC)
