"""FRED series (CPI, Z.1 pension series) into raw.fred_observations."""

from __future__ import annotations

from dagster import MaterializeResult, asset

from altflow.sources import fred
from altflow.warehouse import load_raw
from pipelines.resources import SourcesResource, WarehouseResource


@asset(
    key=["raw", "fred_observations"],
    group_name="ingest",
    kinds={"python", "duckdb"},
    tags={"source": "fred"},
    description="Every FRED series in altflow's registry (CPI, Federal Reserve Z.1 pension "
    "series), as published by FRED's keyless fredgraph.csv endpoint: one row per series "
    "and observation date, value in the series' own units.",
)
def fred_observations(
    warehouse: WarehouseResource, sources: SourcesResource
) -> MaterializeResult:
    frame, payloads = fred.fetch_all(sources.source(fred.Fred), list(fred.SERIES))
    rows = [frame.filter(frame["series_id"] == p.dataset).height for p in payloads]
    load_raw(warehouse.get(), {"raw.fred_observations": frame}, payloads, rows)
    return MaterializeResult(
        metadata={
            "dagster/row_count": frame.height,
            "series": ", ".join(p.dataset for p in payloads),
            "mode": payloads[0].mode,
            "latest_observation": str(frame["date"].max()),
        }
    )
