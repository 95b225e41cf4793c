"""ICI quarterly retirement-market figures into raw.ici_retirement_assets."""

from __future__ import annotations

from dagster import MaterializeResult, asset

from altflow.sources import ici
from altflow.warehouse import load_raw
from pipelines.resources import SourcesResource, WarehouseResource


@asset(
    key=["raw", "ici_retirement_assets"],
    group_name="ingest",
    kinds={"python", "duckdb"},
    tags={"source": "ici"},
    description="ICI 'Quarterly Retirement Market Data': US total retirement assets by type "
    "(IRAs, DC plans, private/state and local/federal DB, annuities) and DC plan assets by "
    "type (401(k), 403(b), 457, TSP, other private DC), long form in US dollars, one row per "
    "figure and release (every vintage kept) with its release date, as-of date and the URL "
    "it was read from. Live: the latest release workbook ret_YY_qN_data.xls; snapshot: "
    "figures stated in ICI's release texts and public copies of its workbook.",
)
def ici_retirement_assets(
    warehouse: WarehouseResource, sources: SourcesResource
) -> MaterializeResult:
    batch = sources.source(ici.Ici).batch()
    frame = batch.table(ici.RAW_TABLE)
    load_raw(warehouse.get(), {ici.RAW_TABLE: frame}, batch.payloads, batch.rows)
    return MaterializeResult(
        metadata={"dagster/row_count": frame.height, "mode": batch.mode, **batch.metadata}
    )
