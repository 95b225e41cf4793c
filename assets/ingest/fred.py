"""FRED series (CPI, Z.1 pension series) into raw.fred_observations."""


from dagster import AssetExecutionContext, MaterializeResult, asset

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
    context: AssetExecutionContext, warehouse: WarehouseResource, sources: SourcesResource
) -> MaterializeResult:
    source = sources.source(fred.Fred)
    wanted, missing = source.split_available(list(fred.SERIES))
    if missing:
        context.log.warning(f"fred: not in the embedded snapshot, skipped: {', '.join(missing)}")
    frame, payloads = fred.fetch_all(source, wanted)
    rows = [frame.filter(frame["series_id"] == p.dataset).height for p in payloads]
    load_raw(warehouse.get(), {"raw.fred_observations": frame}, payloads, rows)
    return MaterializeResult(
        metadata={
            "dagster/row_count": frame.height,
            "series": ", ".join(p.dataset for p in payloads),
            "mode": payloads[0].mode,
            "missing_from_snapshot": ", ".join(missing) or "none",
            "latest_observation": str(frame["date"].max()),
        }
    )
