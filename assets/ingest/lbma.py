"""LBMA precious-metal benchmark prices (gold, silver, platinum, palladium) into raw.lbma_prices."""

from __future__ import annotations

from dagster import MaterializeResult, asset

from altflow.sources import lbma
from altflow.warehouse import load_raw
from pipelines.resources import SourcesResource, WarehouseResource


@asset(
    key=["raw", "lbma_prices"],
    group_name="ingest",
    kinds={"python", "duckdb"},
    tags={"source": "lbma"},
    description="LBMA benchmark prices from the public JSON price files "
    "(prices.lbma.org.uk/json/<file>.json: gold AM/PM, silver, platinum AM/PM, palladium "
    "AM/PM): one row per file and London business day, USD/GBP/EUR per troy ounce; holidays "
    "(null or 0) are null.",
)
def lbma_prices(
    context, warehouse: WarehouseResource, sources: SourcesResource
) -> MaterializeResult:
    frame, payloads = lbma.fetch_all(sources.source(lbma.Lbma))
    missing = lbma.missing_metals([p.dataset for p in payloads])
    if missing:
        context.log.warning(f"lbma: no price file for {', '.join(missing)} in the snapshot")
    rows = [frame.filter(frame["dataset"] == p.dataset).height for p in payloads]
    load_raw(warehouse.get(), {"raw.lbma_prices": frame}, payloads, rows)
    return MaterializeResult(
        metadata={
            "dagster/row_count": frame.height,
            "files": ", ".join(p.dataset for p in payloads),
            "mode": payloads[0].mode,
            "latest_fixing": str(frame.drop_nulls("usd")["date"].max()),
            "missing_metals": ", ".join(missing) or "none",
        }
    )
