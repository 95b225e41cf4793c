"""CoinGecko API v3 (global market, coin markets, daily history) into raw.coingecko_* tables."""

from __future__ import annotations

from collections.abc import Iterator

from dagster import AssetSpec, MaterializeResult, multi_asset

from altflow.sources import coingecko
from altflow.warehouse import load_raw
from assets.ingest import table_results
from pipelines.resources import SourcesResource, WarehouseResource

TAGS = {"source": "coingecko"}
KINDS = {"python", "duckdb"}


@multi_asset(
    name="coingecko_raw",
    specs=[
        AssetSpec(
            ["raw", "coingecko_global"],
            group_name="ingest",
            kinds=KINDS,
            tags=TAGS,
            description="CoinGecko /global: total crypto market capitalisation and 24 h "
            "trading volume in USD, bitcoin and ether dominance, at its updated_at time.",
        ),
        AssetSpec(
            ["raw", "coingecko_markets"],
            group_name="ingest",
            kinds=KINDS,
            tags=TAGS,
            description="CoinGecko /coins/markets (vs_currency=usd, ids=bitcoin,ethereum): "
            "current price, market cap, 24 h volume and circulating supply per coin.",
        ),
        AssetSpec(
            ["raw", "coingecko_market_chart"],
            group_name="ingest",
            kinds=KINDS,
            tags=TAGS,
            description="CoinGecko /coins/{id}/market_chart?interval=daily for bitcoin and "
            "ethereum (asset ether): daily price, market cap and 24 h volume in USD, one row "
            "per coin and UTC date.",
        ),
    ],
    can_subset=False,
)
def coingecko_raw(
    warehouse: WarehouseResource, sources: SourcesResource
) -> Iterator[MaterializeResult]:
    """All three tables in one atomic write: a failure anywhere leaves each as it was."""
    tables, payloads, rows = coingecko.fetch_all(sources.source(coingecko.CoinGecko))
    load_raw(warehouse.get(), tables, payloads, rows)
    mode = payloads[0].mode if payloads else sources.mode
    yield from table_results(tables, mode=mode)
