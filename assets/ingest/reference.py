"""Curated market facts (size, liquidity, private markets) and the asset registry."""

from __future__ import annotations

from collections.abc import Iterator

from dagster import AssetSpec, MaterializeResult, multi_asset

from altflow.sources import reference
from altflow.warehouse import load_raw
from assets.ingest import table_results
from pipelines.resources import SourcesResource, WarehouseResource

TAGS = {"source": "reference"}
KINDS = {"python", "duckdb"}


@multi_asset(
    name="reference_raw",
    specs=[
        AssetSpec(
            ["raw", "reference_facts"],
            group_name="ingest",
            kinds=KINDS,
            tags=TAGS,
            description="Curated reference facts (snapshot/reference/market_facts.csv): "
            "above-ground stocks, holdings and average daily trading volume of the metals, "
            "private-market AUM, dry powder, fundraising and deal volume, each with unit, "
            "as-of date, source and URL; explicit NULLs carry a note. No live API exists: "
            "the curated file is read in both modes.",
        ),
        AssetSpec(
            ["raw", "reference_assets"],
            group_name="ingest",
            kinds=KINDS,
            tags=TAGS,
            description="altflow's asset registry (contract asset ids): asset class, pricing "
            "(market or appraisal) and trading days per year used to annualise volatility.",
        ),
    ],
    can_subset=False,
)
def reference_raw(
    warehouse: WarehouseResource, sources: SourcesResource
) -> Iterator[MaterializeResult]:
    tables, payloads, rows = reference.fetch_all(sources.source(reference.Reference))
    load_raw(warehouse.get(), tables, payloads, rows)
    yield from table_results(tables, mode="snapshot (curated file)")
