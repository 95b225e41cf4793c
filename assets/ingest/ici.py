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
    "type (401(k), 403(b), 457, TSP, other private DC), long form in US dollars, each figure "
    "with its release, as-of date and the URL it was read from. Live: the latest release "
    "workbook ret_YY_qN_data.xls; snapshot: figures stated in ICI's release texts.",
)
def ici_retirement_assets(
    warehouse: WarehouseResource, sources: SourcesResource
) -> MaterializeResult:
    frame, payloads = ici.fetch_all(sources.source(ici.Ici))
    if len(payloads) == 1:
        rows = [frame.height]
    else:  # snapshot: one payload per file; government_db has its own file
        gov = frame.filter(frame["series"] == "government_db").height
        rows = [frame.height - gov if p.dataset == ici.DATASET else gov for p in payloads]
    load_raw(warehouse.get(), {"raw.ici_retirement_assets": frame}, payloads, rows)
    return MaterializeResult(
        metadata={
            "dagster/row_count": frame.height,
            "mode": payloads[0].mode,
            "releases": ", ".join(sorted(set(frame["release"]), key=ici.release_sort_key)[-3:]),
            "latest_period_end": str(frame["period_end"].max()),
        }
    )
